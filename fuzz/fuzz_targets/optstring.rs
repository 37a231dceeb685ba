//! The integrity of the string written to `/dev/nvme-fabrics` (issue 12):
//! arbitrary stacd.conf, sys.conf, /etc/nvme/hostkey, hostid and hostnqn,
//! boot.json and state.json, kernel command line, NBFT, stafd log pages
//! and discovery log page bytes go through the loaders the program uses,
//! and every connect the result asks for (configured, boot, handed-over,
//! restored, stafd and discovery controllers, and the discovery
//! controllers themselves) has an option string that holds exactly the
//! options its structures intend: each value as the structure has it,
//! none containing `,`, `\n` or NUL, no option twice, no option the
//! kernel does not know; and a loggable form that shows no secret.
//!
//! No file system: each loader's pure part runs on the text (the parsers
//! behind `load_stacd_conf`, `cmdline::load`, `handoff::load`,
//! `Store::load`, `nbft::read_all`), and the host identity is resolved by
//! the real `resolve_host` code reading its files from memory
//! ([`resolve_host_with`]); host names resolve without DNS.
//!
//! The input is the ten texts separated by `\n\x1e` (a NUL must be able
//! to appear inside one), in the order above (boot.json and state.json
//! are one text: each decodes only as its own schema); a missing or empty
//! text is a missing file (the host NQN then falls back to a fixed valid
//! one).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stacd::base::files::{Contents, ReadError};
use stacd::base::root::{rel, Root};
use stacd::desired::{from_config, from_owned, Desired, Origin, Wanted};
use stacd::kernel::fabrics::FULL_OPTIONS;
use stacd::kernel::netif::IfAddrs;
use stacd::model::identity::{Identity, Transport};
use stacd::model::params::{keyring_serial, option_string, ConnectParams, KernelOptions};
use stacd::model::secret::{looks_like_key, REDACTED};
use stacd::sources::boot::{config_discovery_targets, BootInputs, DcTarget, Sources};
use stacd::sources::config::host::{resolve_host_with, HostIdentity};
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const SEP: &[u8] = b"\n\x1e";
const PARTS: usize = 10;
const HOSTNQN: &str = "nqn.2014-08.org.nvmexpress:uuid:7f0f6c1e-2b7e-4e3a-9c43-5a6d1b2c3d4e\n";

/// A root no file is ever read from or written to.
fn root() -> &'static Root {
    static ROOT: OnceLock<Root> = OnceLock::new();
    ROOT.get_or_init(|| Root::new("/nonexistent/stacd-fuzz-root"))
}

/// No name service in a fuzz run: a name with a digit has one address of
/// each family, others none.
fn resolve(name: &str) -> std::io::Result<Vec<IpAddr>> {
    if name.bytes().any(|b| b.is_ascii_digit()) {
        Ok(vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ])
    } else {
        Err(std::io::Error::other("no such host"))
    }
}

/// What the kernel's parser makes of `s` (fabrics.c, nvmf_parse_options:
/// strsep on ",\n", empty tokens skipped, `name=value`).
fn kernel_tokens(s: &str) -> Vec<(String, Option<String>)> {
    s.split([',', '\n'])
        .filter(|t| !t.is_empty())
        .map(|t| match t.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (t.to_string(), None),
        })
        .collect()
}

/// The options a connect of `id` with `p` is meant to carry, from the
/// structures alone (stacd-spec.md §4.6; every option is supported here).
fn intended(id: &Identity, p: &ConnectParams, loss: i64) -> Vec<(String, Option<String>)> {
    let mut v: Vec<(&str, Option<String>)> = Vec::new();
    let set = |s: &str| !s.is_empty() && s != "none";
    v.push(("nqn", Some(id.subsysnqn.to_string())));
    v.push(("transport", Some(id.transport.as_str().into())));
    for (k, x) in [
        ("traddr", id.traddr.as_str()),
        ("host_traddr", &id.host_traddr),
        ("trsvcid", &id.trsvcid),
    ] {
        if set(x) {
            v.push((k, Some(x.to_string())));
        }
    }
    if set(&id.host_iface) {
        v.push(("host_iface", Some(id.host_iface.to_string())));
    }
    v.push(("hostnqn", Some(id.host_nqn.to_string())));
    if let Some(h) = p.hostid {
        v.push(("hostid", Some(h.to_string())));
    }
    if let Some(s) = &p.dhchap_secret {
        v.push(("dhchap_secret", Some(s.expose().into())));
    }
    if let Some(s) = &p.dhchap_ctrl_secret {
        v.push(("dhchap_ctrl_secret", Some(s.expose().into())));
    }
    if let Some(t) = &p.tls {
        v.push(("tls", None));
        // A name is looked up in /proc/keys at connect time (unit-tested
        // in params.rs); where it is not found the string is refused.
        if let Some(n) = t.keyring.as_ref().and_then(|k| keyring_serial(k).ok()) {
            v.push(("keyring", Some(format!("0x{n:08x}"))));
        }
        if let Some(n) = t.tls_key {
            v.push(("tls_key", Some(format!("0x{n:08x}"))));
        }
    }
    let c = &p.conn;
    for (k, x, min) in [
        ("nr_io_queues", c.nr_io_queues, 1),
        ("nr_write_queues", c.nr_write_queues, 1),
        ("nr_poll_queues", c.nr_poll_queues, 1),
        ("queue_size", c.queue_size, 1),
        ("keep_alive_tmo", c.kato, 1),
        ("reconnect_delay", c.reconnect_delay, 1),
    ] {
        if let Some(x) = x.filter(|&x| x >= min) {
            v.push((k, Some(x.to_string())));
        }
    }
    if id.transport != Transport::Loop {
        let l = c.ctrl_loss_tmo.unwrap_or(loss);
        if l >= -1 {
            v.push(("ctrl_loss_tmo", Some(l.to_string())));
        }
    }
    if c.disable_sqflow == Some(true) {
        v.push(("disable_sqflow", None));
    }
    if id.transport == Transport::Tcp {
        for (k, on) in [("hdr_digest", c.hdr_digest), ("data_digest", c.data_digest)] {
            if on == Some(true) {
                v.push((k, None));
            }
        }
    }
    v.into_iter().map(|(k, x)| (k.to_string(), x)).collect()
}

/// Every option of the kernel's table, as a kernel and as names.
fn kernel() -> &'static (KernelOptions, BTreeSet<String>) {
    static K: OnceLock<(KernelOptions, BTreeSet<String>)> = OnceLock::new();
    K.get_or_init(|| {
        let names = kernel_tokens(FULL_OPTIONS).into_iter().map(|(k, _)| k);
        (KernelOptions::all(), names.collect())
    })
}

fn check(id: &Identity, p: &ConnectParams, loss: i64, what: &str) {
    let (kernel, known) = kernel();
    let s = option_string(id, p, kernel, loss);
    // TLS is refused off tcp, and a keyring name may not resolve here;
    // every other string is complete (the kernel here lists every option).
    let named = p
        .tls
        .as_ref()
        .is_some_and(|t| matches!(t.keyring, Some(stacd::model::params::Keyring::Name(_))));
    if let Some(why) = &s.refused {
        assert!(
            p.tls.is_some() && (id.transport != Transport::Tcp || named),
            "{what}: refused: {why}"
        );
        return;
    }
    assert!(
        p.tls.is_none() || id.transport == Transport::Tcp,
        "{what}: TLS off tcp"
    );
    let text = s.expose();
    assert!(!text.contains(['\n', '\0']), "{what}: {text:?}");
    let got = kernel_tokens(text);
    let want = intended(id, p, loss);
    for (k, v) in &want {
        let v = v.as_deref().unwrap_or("");
        assert!(!v.contains([',', '\n', '\0']), "{what}: {k}={v:?}");
    }
    let mut names: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
    names.sort();
    let n = names.len();
    names.dedup();
    assert_eq!(n, names.len(), "{what}: an option twice in {text:?}");
    for (k, _) in &got {
        assert!(
            known.contains(k),
            "{what}: unknown option {k:?} in {text:?}"
        );
    }
    let (mut got, mut want) = (got, want);
    got.sort();
    want.sort();
    assert_eq!(got, want, "{what}: {text:?}");
    // The loggable form: the same options in the same order, the value of
    // each key and of anything that looks like key material <redacted>;
    // and no key's text anywhere in it.
    let shown = s.shown();
    let mut expect = kernel_tokens(text);
    for (k, v) in expect.iter_mut() {
        if k.starts_with("dhchap_") || v.as_deref().is_some_and(looks_like_key) {
            *v = Some(REDACTED.to_string());
        }
    }
    assert_eq!(kernel_tokens(shown), expect, "{what}: the loggable form");
    for sec in [&p.dhchap_secret, &p.dhchap_ctrl_secret]
        .into_iter()
        .flatten()
    {
        assert!(!shown.contains(sec.expose()), "{what}: a key shown");
    }
}

fn check_wanted(w: &Wanted) {
    check(
        &w.id,
        &w.params,
        w.default_ctrl_loss_tmo(),
        &format!("{} ({})", w.id, w.origin),
    );
}

fn check_dc(d: &DcTarget) {
    check(
        &d.id,
        &d.params,
        stacd::model::params::DEFAULT_CTRL_LOSS_TMO,
        &format!("dc {}", d.id),
    );
}

/// The files `resolve_host` may read, from memory, as
/// [`stacd::base::files::read_bounded`] returns them (mode 0600; more than the
/// limit is an error). Any other path does not exist.
fn reader<'a>(
    files: &'a [(PathBuf, &'a [u8])],
) -> impl Fn(&Path, u64) -> Result<Option<Contents>, ReadError> + 'a {
    move |path: &Path, limit: u64| {
        let Some((_, b)) = files.iter().find(|(p, b)| p == path && !b.is_empty()) else {
            return Ok(None);
        };
        if b.len() as u64 > limit {
            return Err(ReadError::TooLarge(limit));
        }
        Ok(Some(Contents {
            bytes: b.to_vec(),
            mode: 0o600,
        }))
    }
}

fuzz_target!(|data: &[u8]| {
    let mut parts: Vec<&[u8]> = Vec::new();
    let mut rest = data;
    while parts.len() < PARTS - 1 {
        match rest.windows(SEP.len()).position(|w| w == SEP) {
            Some(i) => {
                parts.push(&rest[..i]);
                rest = &rest[i + SEP.len()..];
            }
            None => break,
        }
    }
    parts.push(rest);
    parts.resize(PARTS, &[]);
    let [conf, sys, key, hostid, nqn, boot, cmdline, nbft, stafd, page] = parts[..] else {
        return;
    };
    let r = root();
    let conf_path = r.path(rel::STACD_CONF);

    // load_stacd_conf: no file is the defaults, text that is not UTF-8
    // is an error (stacd does not start).
    let conf = if conf.is_empty() {
        stacd::sources::config::StacdConf::defaults(&conf_path)
    } else {
        let Ok(text) = std::str::from_utf8(conf) else {
            return;
        };
        match stacd::sources::config::parse_stacd_conf(text, &conf_path) {
            Ok((c, _)) => c,
            Err(_) => return,
        }
    };
    // cmdline::load: the text, lossily decoded, split and parsed.
    let cmd = stacd::sources::boot::cmdline::parse(&String::from_utf8_lossy(cmdline));
    let sources = Sources::new(&conf, false, false, false);
    let table_path = r.path(rel::ACPI_TABLES).join("NBFT");
    let inputs = BootInputs::from_inputs(sources, Some(cmd), || {
        if nbft.is_empty() {
            Vec::new()
        } else {
            vec![(table_path, stacd::sources::boot::nbft::parse(nbft))]
        }
    });
    let nqn = if nqn.is_empty() {
        HOSTNQN.as_bytes()
    } else {
        nqn
    };
    let files = [
        (r.path(rel::SYS_CONF), sys),
        (r.path(rel::HOSTKEY), key),
        (r.path(rel::HOSTID), hostid),
        (r.path(rel::HOSTNQN), nqn),
    ];
    let read = reader(&files);
    let Ok((host, _)) = resolve_host_with(&read, r, &r.path(rel::SYS_CONF), &inputs.early_hosts())
    else {
        return;
    };
    let host: HostIdentity = host;
    let net = IfAddrs::default();
    let mut notes = Vec::new();
    let mut d = Desired::default();
    from_config(&conf, &host, &resolve, &mut d);
    for w in inputs.wanted_with(&conf, &host, &net, &resolve, &mut notes) {
        d.push(&conf, w);
    }
    if let Ok(rec) = stacd::sources::boot::handoff::decode_bytes(boot) {
        for w in stacd::sources::boot::handoff::to_wanted(&rec).0 {
            d.push(&conf, w);
        }
    }
    if let Ok((owned, _)) = stacd::reconcile::state::decode_bytes(boot) {
        for o in [Origin::Stafd, Origin::Discovery] {
            for w in from_owned(&owned, o, &conf, &host) {
                d.push(&conf, w);
            }
        }
    }
    if let Some((pages, _)) = std::str::from_utf8(stafd)
        .ok()
        .and_then(|t| stacd::sources::stafd::parse_pages(t).ok())
    {
        for w in stacd::sources::stafd::to_wanted(&pages, &conf, &host).wanted {
            d.push(&conf, w);
        }
    }
    for w in &d.wanted {
        check_wanted(w);
    }
    let mut dcs = inputs.discovery_targets(&conf, &host, &net, &mut notes);
    dcs.extend(config_discovery_targets(&conf, &host, &mut notes));
    let page = stacd::sources::discovery::logpage::parse(page).ok();
    for t in &dcs {
        check_dc(t);
        // What a discovery controller lists (the network's text).
        for w in page
            .iter()
            .flat_map(|p| stacd::sources::discovery::to_wanted(t, p, &mut notes))
        {
            check_wanted(&w);
        }
    }
});
