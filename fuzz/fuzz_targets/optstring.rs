//! The integrity of the string written to `/dev/nvme-fabrics` (issue 12):
//! arbitrary stacd.conf, sys.conf, /etc/nvme/hostkey, hostid and hostnqn,
//! boot.json, state.json and kernel command line text go through the real
//! loaders (files in a scratch root of this process), and every connect
//! the result asks for (configured, boot, handed-over, restored and
//! discovery controllers) has an option string that holds exactly the
//! options its structures intend: each value as the structure has it,
//! none containing `,`, `\n` or NUL, no option twice, no option the
//! kernel does not know; and no secret in its loggable form.
//!
//! The input is the seven texts separated by `\n\x1e` (a NUL must be able
//! to appear inside one), in the order above; a missing or empty text is
//! a missing file (the host NQN then falls back to a fixed valid one).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stacd::boot::{config_discovery_targets, BootInputs, DcTarget, Sources};
use stacd::config::host::{resolve_host, HostIdentity};
use stacd::desired::{from_config, from_owned, Desired, Origin, Wanted};
use stacd::identity::{canonical_ip, Identity, Transport};
use stacd::kernel::fabrics::FULL_OPTIONS;
use stacd::netif::IfAddrs;
use stacd::params::{option_string, ConnectParams, KernelOptions};
use stacd::root::{rel, Root};
use stacd::state::Store;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::OnceLock;

const SEP: &[u8] = b"\n\x1e";
const HOSTNQN: &str = "nqn.2014-08.org.nvmexpress:uuid:7f0f6c1e-2b7e-4e3a-9c43-5a6d1b2c3d4e\n";

fn root() -> &'static Root {
    static ROOT: OnceLock<Root> = OnceLock::new();
    ROOT.get_or_init(|| {
        let base: PathBuf =
            std::env::temp_dir().join(format!("stacd-fuzz-optstring-{}", std::process::id()));
        let r = Root::new(base);
        for d in [
            "etc/stas",
            "etc/nvme",
            "run/stacd",
            "proc",
            "sys/class/nvme",
        ] {
            let _ = std::fs::create_dir_all(r.path(d));
        }
        r
    })
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

/// `rd.stacd.controller=` entries go through the system resolver in
/// [`BootInputs::wanted`]: a host name there would be a real DNS query.
fn asks_dns(cmdline: &str) -> bool {
    let tokens = stacd::cmdline::tokens(cmdline);
    let values = tokens
        .iter()
        .filter_map(|t| t.strip_prefix("rd.stacd.controller="));
    values.into_iter().any(|v| {
        let v = v.replace(',', ";");
        let (e, _) = stacd::config::parse_controller_value(&v, std::path::Path::new("x"));
        e.is_some_and(|e| {
            Transport::parse(&e.transport).is_some_and(Transport::is_ip)
                && canonical_ip(&e.traddr).is_none()
        })
    })
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
    // The loggable form: the same options, each key's value <redacted>
    // (a key's text may still appear inside another value, a host NQN
    // that looks like one, say: that value is not a secret).
    let shown = kernel_tokens(s.shown());
    let mut exposed = kernel_tokens(text);
    for (k, v) in exposed.iter_mut() {
        if k.starts_with("dhchap_") {
            *v = Some(stacd::secret::REDACTED.to_string());
        }
    }
    assert_eq!(shown, exposed, "{what}: the loggable form");
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
        stacd::params::DEFAULT_CTRL_LOSS_TMO,
        &format!("dc {}", d.id),
    );
}

fuzz_target!(|data: &[u8]| {
    let mut parts: Vec<&[u8]> = Vec::new();
    let mut rest = data;
    while parts.len() < 6 {
        match rest.windows(SEP.len()).position(|w| w == SEP) {
            Some(i) => {
                parts.push(&rest[..i]);
                rest = &rest[i + SEP.len()..];
            }
            None => break,
        }
    }
    parts.push(rest);
    parts.resize(7, &[]);
    let [conf, sys, key, hostid, nqn, boot, cmdline] = parts[..] else {
        return;
    };
    let cmd = String::from_utf8_lossy(cmdline);
    // `file://` resolves under the root; `..` would leave it.
    if sys.windows(2).any(|w| w == b"..") || asks_dns(&cmd) {
        return;
    }
    let r = root();
    // boot.json and state.json come from the same text: each decodes
    // only as its own schema.
    let files: [(&str, &[u8]); 8] = [
        (rel::STACD_CONF, conf),
        (rel::SYS_CONF, sys),
        (rel::HOSTKEY, key),
        (rel::HOSTID, hostid),
        (
            rel::HOSTNQN,
            if nqn.is_empty() {
                HOSTNQN.as_bytes()
            } else {
                nqn
            },
        ),
        ("run/stacd/boot.json", boot),
        ("run/stacd/state.json", boot),
        (rel::CMDLINE, cmdline),
    ];
    // Only what changed since the last input is written again.
    static LAST: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    last.resize(files.len(), vec![0xff]);
    for (i, (p, b)) in files.into_iter().enumerate() {
        // The state file is renamed aside when it is not one: rewrite it.
        if last[i] == b && !p.ends_with("state.json") {
            continue;
        }
        let p = r.path(p);
        let _ = std::fs::remove_file(&p);
        if !b.is_empty() && std::fs::write(&p, b).is_err() {
            last.clear();
            return;
        }
        last[i] = b.to_vec();
    }
    drop(last);
    let _ = std::fs::remove_file(r.path("run/stacd/state.json.bad"));

    let Ok((conf, _)) = stacd::config::load_stacd_conf(&r.path(rel::STACD_CONF)) else {
        return;
    };
    let sources = Sources::new(&conf, false, false, false);
    let inputs = BootInputs::load(r, sources);
    let Ok((host, _)) = resolve_host(r, &r.path(rel::SYS_CONF), &inputs.early_hosts()) else {
        return;
    };
    let host: HostIdentity = host;
    let net = IfAddrs::default();
    let mut notes = Vec::new();
    let mut d = Desired::default();
    from_config(&conf, &host, &resolve, &mut d);
    for w in inputs.wanted(&conf, &host, &net, &mut notes) {
        d.push(&conf, w);
    }
    if let Some(rec) = stacd::handoff::load(&r.run_dir()) {
        for w in stacd::handoff::to_wanted(&rec).0 {
            d.push(&conf, w);
        }
    }
    let owned = Store::new(&r.run_dir()).load();
    for o in [Origin::Stafd, Origin::Discovery] {
        for w in from_owned(&owned, o, &conf, &host) {
            d.push(&conf, w);
        }
    }
    for w in &d.wanted {
        check_wanted(w);
    }
    for t in inputs.discovery_targets(&conf, &host, &net, &mut notes) {
        check_dc(&t);
    }
    for t in config_discovery_targets(&conf, &host, &mut notes) {
        check_dc(&t);
    }
});
