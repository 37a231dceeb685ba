//! Connect parameters and the option string written to `/dev/nvme-fabrics`.
//!
//! The string's tokens, their order and inclusion rules are libnvme's
//! (`src/nvme/fabrics.c`, `build_options`), restated in docs/design.md §4.6;
//! the kernel parses them in `drivers/nvme/host/fabrics.c`
//! (`nvmf_parse_options`, token table `opt_tokens`). A token the running
//! kernel does not list in its option table (the first read of
//! `/dev/nvme-fabrics`, kernel >= 5.17) is left out, with a warning, rather
//! than failing every connect with EINVAL.
//!
//! The string is built only from checked values: the identity's
//! [`crate::model::identity::Value`]s, a [`HostId`], [`Secret`]s and numbers in
//! the kernel's range ([`range`]), each checked where it entered the
//! program; `fuzz/fuzz_targets/optstring.rs` checks the result.

use crate::model::identity::{HostId, Identity, Transport};
use crate::model::secret::{Secret, REDACTED};
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// Connection parameters of `[Global]` and their per-controller overrides
/// (docs/design.md §2.3, §2.4): what stacd.conf sets, before
/// [`ConnectParams`] resolves it for one connect. `None` means "not set":
/// nothing is sent and the kernel decides (except ctrl_loss_tmo, see
/// [`DEFAULT_CTRL_LOSS_TMO`]). Here rather than in `config` so that the
/// lowest types depend on nothing above them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnParams {
    pub hdr_digest: Option<bool>,
    pub data_digest: Option<bool>,
    pub kato: Option<i64>,
    pub nr_io_queues: Option<i64>,
    pub nr_write_queues: Option<i64>,
    pub nr_poll_queues: Option<i64>,
    /// Accepted range 16..=1024 (§2.3).
    pub queue_size: Option<i64>,
    pub reconnect_delay: Option<i64>,
    /// -1 means "reconnect forever".
    pub ctrl_loss_tmo: Option<i64>,
    pub disable_sqflow: Option<bool>,
}

impl ConnParams {
    /// Each field of `self`, or of `fallback` where `self` has none.
    pub fn or(&self, fallback: &ConnParams) -> ConnParams {
        ConnParams {
            hdr_digest: self.hdr_digest.or(fallback.hdr_digest),
            data_digest: self.data_digest.or(fallback.data_digest),
            kato: self.kato.or(fallback.kato),
            nr_io_queues: self.nr_io_queues.or(fallback.nr_io_queues),
            nr_write_queues: self.nr_write_queues.or(fallback.nr_write_queues),
            nr_poll_queues: self.nr_poll_queues.or(fallback.nr_poll_queues),
            queue_size: self.queue_size.or(fallback.queue_size),
            reconnect_delay: self.reconnect_delay.or(fallback.reconnect_delay),
            ctrl_loss_tmo: self.ctrl_loss_tmo.or(fallback.ctrl_loss_tmo),
            disable_sqflow: self.disable_sqflow.or(fallback.disable_sqflow),
        }
    }
}

/// `ctrl_loss_tmo` libnvme sends when none is configured
/// (`NVMF_DEF_CTRL_LOSS_TMO`, libnvme `src/nvme/fabrics.h`); nvme-stas parity.
pub const DEFAULT_CTRL_LOSS_TMO: i64 = 600;

/// The values the kernel accepts for a numeric connect option, by its
/// stacd.conf name: `match_int` reads an `int`, and `nvmf_parse_options`
/// (kernel `drivers/nvme/host/fabrics.c`) refuses a queue count or a
/// reconnect delay below 1 and a negative keep-alive; `queue_size` is
/// `NVMF_MIN_QUEUE_SIZE`..`NVMF_MAX_QUEUE_SIZE`; a `ctrl_loss_tmo` below
/// -1 is never sent (libnvme `add_int_or_minus_one_argument`). `None`: not
/// a numeric option.
pub fn range(key: &str) -> Option<(i64, i64)> {
    const INT_MAX: i64 = i32::MAX as i64;
    Some(match key {
        "kato" => (0, INT_MAX),
        "ctrl-loss-tmo" => (-1, INT_MAX),
        "queue-size" => (16, 1024),
        "reconnect-delay" | "nr-io-queues" | "nr-write-queues" | "nr-poll-queues" => (1, INT_MAX),
        _ => return None,
    })
}

/// `v` if it is in `key`'s [`range`]; the error says what is.
pub fn in_range(key: &str, v: i64) -> Result<i64, String> {
    match range(key) {
        Some((lo, hi)) if (lo..=hi).contains(&v) => Ok(v),
        Some((lo, hi)) => Err(format!("expected an integer from {lo} to {hi}")),
        None => Err("not a numeric option".into()),
    }
}

/// Everything a connect needs beyond the identity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectParams {
    /// Per-controller overrides already merged over `[Global]`.
    pub conn: ConnParams,
    /// Host ID sent with the identity's host NQN; `None` lets the kernel use
    /// its default.
    pub hostid: Option<HostId>,
    pub dhchap_secret: Option<Secret>,
    pub dhchap_ctrl_secret: Option<Secret>,
    /// NVMe/TCP TLS (docs/configuration.md, "TLS"); `None`: clear text.
    pub tls: Option<Tls>,
}

/// What stacd.conf asks for a TLS controller: the kernel options `tls`,
/// `keyring=` and `tls_key=` (kernel `drivers/nvme/host/fabrics.c`,
/// `opt_tokens`; tcp only, `drivers/nvme/host/tcp.c` `allowed_opts`).
/// No key material: stacd uses PSKs already in the kernel's keyring
/// (inserted by `nvme check-tls-key --insert` or /etc/nvme/tls-keys); with
/// neither field set the kernel picks the PSK by identity from `.nvme`
/// (`drivers/nvme/common/keyring.c`, `nvme_tls_psk_default`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    /// `keyring=`: the keyring to search instead of `.nvme`.
    pub keyring: Option<Keyring>,
    /// `tls_key=`: the serial of the PSK to use.
    pub tls_key: Option<u32>,
}

/// A keyring by serial, or by name, resolved at each connect through
/// /proc/keys ([`keyring_serial`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keyring {
    Serial(u32),
    Name(String),
}

/// A key or keyring serial as stacd.conf writes it: decimal, or hex after
/// `0x` (as /proc/keys and keyctl print it). The kernel reads it with
/// `match_int` and refuses 0 and negatives (fabrics.c), so 1..=i32::MAX.
pub fn serial(s: &str) -> Result<u32, &'static str> {
    const WANT: &str =
        "expected a key serial: a decimal number, or hex after 0x, from 1 to 2147483647";
    let n = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) if !h.is_empty() && h.len() <= 8 => u32::from_str_radix(h, 16),
        Some(_) => return Err(WANT),
        None if !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse::<u32>()
        }
        None => return Err(WANT),
    };
    match n {
        Ok(n) if (1..=i32::MAX as u32).contains(&n) => Ok(n),
        _ => Err(WANT),
    }
}

/// `keyring=` of stacd.conf: a serial ([`serial`]) or a keyring's name
/// (`.nvme`), of letters, digits and `._-:` only so that it can never add
/// options of its own.
pub fn keyring(s: &str) -> Result<Keyring, &'static str> {
    if s.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
        return serial(s).map(Keyring::Serial);
    }
    let ok = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'));
    if ok {
        Ok(Keyring::Name(s.to_string()))
    } else {
        Err("expected a keyring name (such as .nvme) or serial")
    }
}

/// The serial of the keyring named `name` in /proc/keys' text (proc(5),
/// "/proc/keys": the serial in hex, flags, usage, timeout, permissions,
/// uid, gid, type, then `description: summary`). rustix has no keyctl(2)
/// wrapper and the design card adds no crate, so the name is looked up
/// here; /proc/keys lists the keys the reader may view, and root may view
/// `.nvme` (drivers/nvme/common/keyring.c creates it with KEY_USR_VIEW).
pub fn find_keyring(proc_keys: &str, name: &str) -> Option<u32> {
    proc_keys.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        let id = u32::from_str_radix(f.next()?, 16).ok()?;
        let kind = f.nth(6)?;
        let desc = f.next()?;
        let desc = desc.strip_suffix(':').unwrap_or(desc);
        (kind == "keyring" && desc == name && id > 0 && id <= i32::MAX as u32).then_some(id)
    })
}

/// The serial `k` names now: a name is looked up in /proc/keys at each
/// connect (the keyring may be made after stacd starts: nvme-keyring is
/// loaded with nvme-tcp).
pub fn keyring_serial(k: &Keyring) -> Result<u32, String> {
    match k {
        Keyring::Serial(n) => Ok(*n),
        Keyring::Name(n) => {
            let text = std::fs::read_to_string("/proc/keys")
                .map_err(|e| format!("cannot read /proc/keys to find the keyring {n}: {e}"))?;
            find_keyring(&text, n).ok_or_else(|| {
                format!("no keyring {n} in /proc/keys (is the nvme-keyring module loaded?)")
            })
        }
    }
}

/// The option names the running kernel accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelOptions {
    names: BTreeSet<String>,
}

/// Options every fabrics kernel since 4.x accepts; assumed when the kernel
/// cannot list its options (before 5.17 the read returns EINVAL), as libnvme
/// does.
const LEGACY_OPTIONS: &[&str] = &[
    "transport",
    "traddr",
    "trsvcid",
    "nqn",
    "queue_size",
    "nr_io_queues",
    "reconnect_delay",
    "ctrl_loss_tmo",
    "keep_alive_tmo",
    "hostnqn",
    "host_traddr",
    "hostid",
    "duplicate_connect",
    "disable_sqflow",
    "hdr_digest",
    "data_digest",
    "nr_write_queues",
    "nr_poll_queues",
    "tos",
];

impl KernelOptions {
    /// Parse the kernel's option table, e.g.
    /// `instance=-1,cntlid=-1,transport=%s,traddr=%s,...,host_iface=%s,discovery`.
    pub fn parse(line: &str) -> KernelOptions {
        let names = line
            .trim()
            .split(',')
            .map(|t| t.split('=').next().unwrap_or("").trim())
            .filter(|n| !n.is_empty())
            .map(String::from)
            .collect();
        KernelOptions { names }
    }

    /// The set assumed when the kernel cannot tell.
    pub fn legacy() -> KernelOptions {
        KernelOptions {
            names: LEGACY_OPTIONS.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Every option (for tests and the fake kernel).
    pub fn all() -> KernelOptions {
        let mut k = KernelOptions::legacy();
        for n in [
            "host_iface",
            "discovery",
            "dhchap_secret",
            "dhchap_ctrl_secret",
            "fast_io_fail_tmo",
            "keyring",
            "tls_key",
            "tls",
        ] {
            k.names.insert(n.to_string());
        }
        k
    }

    pub fn supports(&self, name: &str) -> bool {
        self.names.contains(name)
    }
}

/// An option string ready for the kernel, and what was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionString {
    text: String,
    /// Same string with secret values (and any value that looks like key
    /// material) replaced by `<redacted>`.
    shown: String,
    /// Tokens the kernel does not support, left out.
    pub omitted: Vec<&'static str>,
    /// Why this string must not be written at all: the kernel lacks an
    /// option that keeps the connection authenticated or encrypted
    /// (dhchap_*, tls, keyring, tls_key). Connecting without it would
    /// connect unauthenticated or in clear text (docs/configuration.md,
    /// "Keys" and "TLS").
    pub refused: Option<String>,
}

impl OptionString {
    /// The bytes for the kernel. Contains secrets: never log this.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// Loggable form.
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

struct Builder<'a> {
    kernel: &'a KernelOptions,
    out: OptionString,
}

impl Builder<'_> {
    /// Refuse the whole string (the first reason is kept).
    fn refuse(&mut self, why: String) {
        self.out.refused.get_or_insert(why);
    }

    /// An option the connection's security depends on: without kernel
    /// support, refuse rather than leave it out.
    fn must(&mut self, name: &'static str, value: Option<&str>, secret: bool, what: &str) {
        if !self.kernel.supports(name) {
            self.refuse(format!(
                "the kernel does not support the connect option {name} (not in /dev/nvme-fabrics' \
                 option list): not connecting without {what}"
            ));
        }
        self.push(name, value, secret);
    }

    fn push(&mut self, name: &'static str, value: Option<&str>, secret: bool) {
        if !self.kernel.supports(name) {
            self.out.omitted.push(name);
            return;
        }
        // A value that looks like key material is hidden wherever it is
        // (secret.rs): a host NQN spelled like a key must not show one.
        let secret = secret || value.is_some_and(crate::model::secret::looks_like_key);
        for (s, hide) in [(&mut self.out.text, false), (&mut self.out.shown, secret)] {
            if !s.is_empty() {
                s.push(',');
            }
            s.push_str(name);
            if let Some(v) = value {
                let _ = write!(s, "={}", if hide { REDACTED } else { v });
            }
        }
    }

    fn num(&mut self, name: &'static str, v: Option<i64>, min: i64) {
        if let Some(v) = v.filter(|&v| v >= min) {
            self.push(name, Some(&v.to_string()), false);
        }
    }
}

/// Build the connect string for an I/O controller (§4.6). `ctrl_loss_tmo`
/// falls back to `default_ctrl_loss_tmo` (600 for configured controllers,
/// -1 for boot connections).
pub fn option_string(
    id: &Identity,
    p: &ConnectParams,
    kernel: &KernelOptions,
    default_ctrl_loss_tmo: i64,
) -> OptionString {
    let mut b = Builder {
        kernel,
        out: OptionString {
            text: String::new(),
            shown: String::new(),
            omitted: Vec::new(),
            refused: None,
        },
    };
    let set = |s: &str| !s.is_empty() && s != "none";
    b.push("nqn", Some(&id.subsysnqn), false);
    b.push("transport", Some(id.transport.as_str()), false);
    if set(&id.traddr) {
        b.push("traddr", Some(&id.traddr), false);
    }
    if set(&id.host_traddr) {
        b.push("host_traddr", Some(&id.host_traddr), false);
    }
    if set(&id.host_iface) {
        b.push("host_iface", Some(&id.host_iface), false);
    }
    if set(&id.trsvcid) {
        b.push("trsvcid", Some(&id.trsvcid), false);
    }
    b.push("hostnqn", Some(&id.host_nqn), false);
    if let Some(h) = p.hostid {
        b.push("hostid", Some(&h.to_string()), false);
    }
    const KEY: &str = "its DH-HMAC-CHAP key";
    if let Some(s) = &p.dhchap_secret {
        b.must("dhchap_secret", Some(s.expose()), true, KEY);
    }
    if let Some(s) = &p.dhchap_ctrl_secret {
        b.must("dhchap_ctrl_secret", Some(s.expose()), true, KEY);
    }
    if let Some(t) = &p.tls {
        const TLS: &str = "TLS (never in clear text)";
        if id.transport != Transport::Tcp {
            b.refuse(format!(
                "TLS is for transport tcp only, not {}: not connecting",
                id.transport.as_str()
            ));
        }
        b.must("tls", None, false, TLS);
        if let Some(k) = &t.keyring {
            match keyring_serial(k) {
                // libnvme writes serials in hex (src/nvme/fabrics.c); the
                // kernel's match_int reads base 0.
                Ok(n) => b.must("keyring", Some(&format!("0x{n:08x}")), false, TLS),
                Err(why) => b.refuse(format!("{why}: not connecting without TLS")),
            }
        }
        if let Some(n) = t.tls_key {
            b.must("tls_key", Some(&format!("0x{n:08x}")), false, TLS);
        }
    }
    let c = &p.conn;
    b.num("nr_io_queues", c.nr_io_queues, 1);
    b.num("nr_write_queues", c.nr_write_queues, 1);
    b.num("nr_poll_queues", c.nr_poll_queues, 1);
    b.num("queue_size", c.queue_size, 1);
    b.num("keep_alive_tmo", c.kato, 1);
    b.num("reconnect_delay", c.reconnect_delay, 1);
    if id.transport != Transport::Loop {
        b.num(
            "ctrl_loss_tmo",
            Some(c.ctrl_loss_tmo.unwrap_or(default_ctrl_loss_tmo)),
            -1,
        );
    }
    if c.disable_sqflow == Some(true) {
        b.push("disable_sqflow", None, false);
    }
    if id.transport == Transport::Tcp {
        if c.hdr_digest == Some(true) {
            b.push("hdr_digest", None, false);
        }
        if c.data_digest == Some(true) {
            b.push("data_digest", None, false);
        }
    }
    b.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::identity::IdFields;

    const HOST: &str = "nqn.2014-08.org.nvmexpress:uuid:01234567-0123-0123-0123-0123456789ab";

    fn tcp(iface: &str) -> Identity {
        Identity::new(&IdFields {
            transport: "tcp",
            traddr: "192.168.1.20",
            trsvcid: "4420",
            subsysnqn: "nqn.2014-08.org.example:sub1",
            host_iface: iface,
            host_nqn: HOST,
            ..Default::default()
        })
        .unwrap()
    }

    fn params() -> ConnectParams {
        ConnectParams {
            hostid: HostId::parse("01234567-89ab-cdef-0123-456789abcdef"),
            ..Default::default()
        }
    }

    // docs/design.md §10.14 item 12.
    #[test]
    fn defaults_send_ctrl_loss_tmo_600() {
        let s = option_string(
            &tcp("eth1"),
            &params(),
            &KernelOptions::all(),
            DEFAULT_CTRL_LOSS_TMO,
        );
        assert_eq!(
            s.expose(),
            format!(
                "nqn=nqn.2014-08.org.example:sub1,transport=tcp,traddr=192.168.1.20,host_iface=eth1,\
                 trsvcid=4420,hostnqn={HOST},hostid=01234567-89ab-cdef-0123-456789abcdef,ctrl_loss_tmo=600"
            )
        );
        assert!(s.omitted.is_empty());
    }

    #[test]
    fn numbers_digests_and_limits() {
        let mut p = params();
        p.conn = ConnParams {
            kato: Some(0),
            reconnect_delay: Some(-5),
            ctrl_loss_tmo: Some(-1),
            nr_io_queues: Some(8),
            queue_size: Some(128),
            hdr_digest: Some(true),
            data_digest: Some(true),
            disable_sqflow: Some(true),
            ..Default::default()
        };
        let s = option_string(&tcp(""), &p, &KernelOptions::all(), DEFAULT_CTRL_LOSS_TMO);
        let t = s.expose();
        assert!(!t.contains("keep_alive_tmo"), "{t}");
        assert!(!t.contains("reconnect_delay"), "{t}");
        assert!(!t.contains("host_iface"), "{t}");
        assert!(t.ends_with(
            ",nr_io_queues=8,queue_size=128,ctrl_loss_tmo=-1,disable_sqflow,hdr_digest,data_digest"
        ), "{t}");
        // ctrl_loss_tmo below -1 is not sent at all.
        p.conn.ctrl_loss_tmo = Some(-2);
        let s = option_string(&tcp(""), &p, &KernelOptions::all(), DEFAULT_CTRL_LOSS_TMO);
        assert!(!s.expose().contains("ctrl_loss_tmo"));
    }

    #[test]
    fn digests_only_for_tcp_and_no_loss_tmo_for_loop() {
        let mut p = params();
        p.conn.hdr_digest = Some(true);
        let rdma = Identity::new(&IdFields {
            transport: "rdma",
            traddr: "10.0.0.1",
            subsysnqn: "nqn.x",
            host_nqn: HOST,
            ..Default::default()
        })
        .unwrap();
        assert!(!option_string(&rdma, &p, &KernelOptions::all(), 600)
            .expose()
            .contains("digest"));
        let lp = Identity::new(&IdFields {
            transport: "loop",
            subsysnqn: "nqn.x",
            host_nqn: HOST,
            ..Default::default()
        })
        .unwrap();
        let s = option_string(&lp, &p, &KernelOptions::all(), 600);
        assert_eq!(s.expose(), format!("nqn=nqn.x,transport=loop,hostnqn={HOST},hostid=01234567-89ab-cdef-0123-456789abcdef"));
    }

    #[test]
    fn unsupported_options_are_left_out_and_secrets_hidden() {
        let mut p = params();
        p.dhchap_secret =
            Secret::new("DHHC-1:01:UyBHnXNxOCzBKM8G0nFtwEtpcL6+FPVeWyp/fETpXmKH82Nf:").ok();
        p.dhchap_ctrl_secret =
            Secret::new("DHHC-1:01:Ni9+t4Rt3XB6HQvx3HM3nO27JUv4h4CaZcmj46vnVOtboi/n:").ok();
        let k = KernelOptions::parse(
            "instance=-1,cntlid=-1,transport=%s,traddr=%s,trsvcid=%s,nqn=%s,hostnqn=%s,hostid=%pU,ctrl_loss_tmo=%d,dhchap_secret=%s\n",
        );
        let s = option_string(&tcp("eth0"), &p, &k, 600);
        assert_eq!(s.omitted, vec!["host_iface", "dhchap_ctrl_secret"]);
        assert!(s
            .expose()
            .contains("dhchap_secret=DHHC-1:01:UyBHnXNxOCzBKM8G0nFtwEtpcL6+FPVeWyp/fETpXmKH82Nf:"));
        assert!(!s.shown().contains("s3cr3t"));
        assert!(s.shown().contains("dhchap_secret=<redacted>"));
        assert!(!KernelOptions::legacy().supports("host_iface"));
    }

    // Issue 16: a kernel without an option that keeps the connection
    // authenticated or encrypted gets no string at all.
    #[test]
    fn security_options_refuse_rather_than_drop() {
        let k = KernelOptions::parse(
            "instance=-1,cntlid=-1,transport=%s,traddr=%s,trsvcid=%s,nqn=%s,hostnqn=%s,hostid=%pU,ctrl_loss_tmo=%d\n",
        );
        let mut p = params();
        assert_eq!(option_string(&tcp(""), &p, &k, 600).refused, None);
        p.dhchap_secret =
            Secret::new("DHHC-1:01:UyBHnXNxOCzBKM8G0nFtwEtpcL6+FPVeWyp/fETpXmKH82Nf:").ok();
        let r = option_string(&tcp(""), &p, &k, 600).refused.unwrap();
        assert!(
            r.contains("dhchap_secret") && r.contains("DH-HMAC-CHAP") && !r.contains("s3cr3t"),
            "{r}"
        );
        let mut p = params();
        p.tls = Some(Tls::default());
        let r = option_string(&tcp(""), &p, &k, 600).refused.unwrap();
        assert!(r.contains("option tls ") && r.contains("clear text"), "{r}");
        // A kernel with tls but no keyring option.
        let k2 = KernelOptions::parse("transport=%s,traddr=%s,nqn=%s,hostnqn=%s,tls\n");
        p.tls = Some(Tls {
            keyring: Some(Keyring::Serial(5)),
            tls_key: None,
        });
        let r = option_string(&tcp(""), &p, &k2, 600).refused.unwrap();
        assert!(r.contains("option keyring "), "{r}");
    }

    #[test]
    fn tls_options_in_hex_for_tcp_only() {
        let mut p = params();
        p.tls = Some(Tls {
            keyring: Some(Keyring::Serial(0x2f2e_1d0c)),
            tls_key: Some(77),
        });
        let s = option_string(&tcp(""), &p, &KernelOptions::all(), 600);
        assert_eq!(s.refused, None);
        assert!(
            s.expose().contains(",hostid=01234567-89ab-cdef-0123-456789abcdef,tls,keyring=0x2f2e1d0c,tls_key=0x0000004d,"),
            "{}",
            s.expose()
        );
        assert_eq!(s.expose(), s.shown());
        let rdma = Identity::new(&IdFields {
            transport: "rdma",
            traddr: "10.0.0.1",
            subsysnqn: "nqn.x",
            host_nqn: HOST,
            ..Default::default()
        })
        .unwrap();
        let r = option_string(&rdma, &p, &KernelOptions::all(), 600).refused;
        assert!(r.is_some_and(|r| r.contains("tcp only")));
        // A name not in /proc/keys refuses (no such keyring anywhere).
        p.tls = Some(Tls {
            keyring: Some(Keyring::Name("stacd-test-no-such-keyring".into())),
            tls_key: None,
        });
        let r = option_string(&tcp(""), &p, &KernelOptions::all(), 600).refused;
        assert!(r.is_some_and(|r| r.contains("stacd-test-no-such-keyring")));
    }

    #[test]
    fn serials_and_keyring_names() {
        assert_eq!(serial("123"), Ok(123));
        assert_eq!(serial("0x1A"), Ok(26));
        assert_eq!(serial("2147483647"), Ok(i32::MAX as u32));
        for bad in [
            "",
            "0",
            "0x",
            "0x80000000",
            "2147483648",
            "-1",
            "+5",
            "1,tls",
            "12a",
            "0x1g",
        ] {
            assert!(serial(bad).is_err(), "{bad}");
        }
        assert_eq!(keyring(".nvme"), Ok(Keyring::Name(".nvme".into())));
        assert_eq!(keyring("0x10"), Ok(Keyring::Serial(16)));
        for bad in ["", ".nvme,tls_key=1", "a b", "x\n", &"a".repeat(65)] {
            assert!(keyring(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn keyrings_found_by_name_in_proc_keys() {
        let text = "\
0b6e7a2c I--Q---     1 perm 3f010000     0     0 keyring   _ses: 1
1f4b3a21 I------     1 perm 1f0f0000     0     0 keyring   .nvme: 1
2a8d7c11 I--Q---     1 perm 3b010000     0     0 psk       NVMe0R01 nqn.h nqn.s: 32
30000001 I------     1 perm 1f0f0000     0     0 user      .nvme: 3
";
        assert_eq!(find_keyring(text, ".nvme"), Some(0x1f4b_3a21));
        assert_eq!(find_keyring(text, "_ses"), Some(0x0b6e_7a2c));
        assert_eq!(find_keyring(text, "NVMe0R01"), None);
        assert_eq!(find_keyring(text, ".nvm"), None);
        assert_eq!(find_keyring("", ".nvme"), None);
    }
}
