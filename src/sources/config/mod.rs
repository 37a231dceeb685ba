//! stacd.conf: what the user asked for, as typed values.
//!
//! Syntax and semantics are nvme-stas's (docs/design.md §2.1–§2.5) with the
//! decisions of docs/design.md (part D): a bad value or a valueless key is a warning naming
//! file, line and key, and the default is used; ` #` after white space starts
//! a comment; a token is split on its first `=` only; an empty `exclude=` is
//! ignored with a warning. A missing file means defaults. Only a file that
//! cannot be read at all, or whose structure is broken (a key before any
//! section, a line starting with `=`), is an error: at start-up it stops the
//! program, on reload the running configuration stays.
//!
//! Parsing is a pure function of the text ([`parse_stacd_conf`]); the loader
//! ([`load_stacd_conf`]) only reads the file.

pub mod host;
pub mod ini;

use crate::model::identity::Transport;
pub use crate::model::params::ConnParams;
use std::fmt;
use std::path::{Path, PathBuf};

/// A problem in a configuration file that did not stop it from being used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub file: PathBuf,
    /// 1-based line number; 0 when the problem concerns the whole file.
    pub line: usize,
    /// `[Section] key`, or just the section name for section problems.
    pub key: String,
    pub msg: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{}:{}: {}: {}",
                self.file.display(),
                self.line,
                self.key,
                self.msg
            )
        } else {
            write!(f, "{}: {}: {}", self.file.display(), self.key, self.msg)
        }
    }
}

/// A configuration file that cannot be used at all.
#[derive(Debug)]
pub enum ConfigError {
    /// The file exists but cannot be read (permissions, a directory, I/O).
    Io { path: PathBuf, err: std::io::Error },
    /// The file's structure is broken; `line` is 1-based.
    Syntax {
        path: PathBuf,
        line: usize,
        msg: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Io { path, err } => write!(f, "cannot read {}: {err}", path.display()),
            ConfigError::Syntax { path, line, msg } => {
                write!(f, "{}:{line}: {msg}", path.display())
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// `[Global] ip-family` (§2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IpFamily {
    V4,
    V6,
    #[default]
    Both,
}

impl IpFamily {
    pub fn allows_v4(self) -> bool {
        self != IpFamily::V6
    }
    pub fn allows_v6(self) -> bool {
        self != IpFamily::V4
    }
}

/// `[I/O controller connection management] disconnect-scope` (§2.3, §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DisconnectScope {
    /// Disconnect only controllers stacd connected or adopted.
    #[default]
    OnlyStasConnections,
    /// Also audit and disconnect other controllers of `disconnect-trtypes`.
    AllConnectionsMatchingDisconnectTrtypes,
    /// Never disconnect.
    NoDisconnect,
}

impl DisconnectScope {
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectScope::OnlyStasConnections => "only-stas-connections",
            DisconnectScope::AllConnectionsMatchingDisconnectTrtypes => {
                "all-connections-matching-disconnect-trtypes"
            }
            DisconnectScope::NoDisconnect => "no-disconnect",
        }
    }
}

/// One `controller=` value (§2.4), after tokenizing. Missing fields are
/// empty strings; the identity is built (and validated) later, by
/// [`crate::desired`], which knows the host NQN and the kernel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ControllerEntry {
    /// 1-based line of the `controller=` key (or of its continuation line).
    pub line: usize,
    pub transport: String,
    pub traddr: String,
    pub trsvcid: String,
    /// `nqn=` or `subsysnqn=` (`nqn` wins when both are given).
    pub subsysnqn: String,
    pub host_traddr: String,
    pub host_iface: String,
    /// `host-nqn=`; `None` means "the host's NQN".
    pub host_nqn: Option<String>,
    pub dhchap_secret: Option<crate::model::secret::Secret>,
    pub dhchap_ctrl_secret: Option<crate::model::secret::Secret>,
    /// `tls=true`, `keyring=`, `tls-key=` (docs/configuration.md, "TLS");
    /// `None`: clear text.
    pub tls: Option<crate::model::params::Tls>,
    /// Per-controller overrides; an invalid one is dropped with a warning
    /// (so `[Global]` applies).
    pub overrides: ConnParams,
    /// Keys stacd does not interpret, in file order (shown on D-Bus, usable
    /// in `exclude=` patterns).
    pub extras: Vec<(String, String)>,
}

/// One `exclude=` value (§2.5): every key must be present in a candidate
/// with an exactly equal value. `nqn` is renamed `subsysnqn`, `host-traddr`
/// removed. Never empty (an empty pattern is dropped with a warning).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pattern {
    pub line: usize,
    pub keys: Vec<(String, String)>,
}

impl Pattern {
    /// True when every key of the pattern is in `candidate` with the same
    /// string value (literal, case-sensitive comparison, §2.5). The keys
    /// are distinct (the tokenizer keeps the last of each), so a pattern of
    /// more keys than the candidate has pairs cannot match: a long pattern
    /// costs no more than the candidate is long.
    pub fn matches(&self, candidate: &[(&str, &str)]) -> bool {
        !self.keys.is_empty()
            && self.keys.len() <= candidate.len()
            && self
                .keys
                .iter()
                .all(|(k, v)| candidate.iter().any(|(ck, cv)| ck == k && cv == v))
    }
}

/// stacd.conf, fully typed. `Default` is the configuration of a missing file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StacdConf {
    /// The file this came from (for messages).
    pub path: PathBuf,
    /// `[Global] tron`.
    pub tron: bool,
    /// `[Global]` connection parameters; hdr/data digest default to false.
    pub params: ConnParams,
    pub ignore_iface: bool,
    pub ip_family: IpFamily,
    pub disconnect_scope: DisconnectScope,
    /// Default `[Transport::Tcp]`; never empty, no duplicates.
    pub disconnect_trtypes: Vec<Transport>,
    /// 0 = never give up; 1 is raised to 2 (§2.3).
    pub connect_attempts_on_ncc: i64,
    pub controllers: Vec<ControllerEntry>,
    pub excludes: Vec<Pattern>,
    /// `controller=` lines refused for a value that would change how the
    /// controller is connected (a key that is not a key, a contradictory
    /// TLS setting), as patterns of the identity keys they gave: a
    /// connection they name is left as it is, never disconnected because
    /// of the refusal (docs/configuration.md, "A line that is refused").
    pub refused: Vec<Pattern>,
    /// `[Standalone]`: stacd's own sources (ours, not nvme-stas's).
    pub standalone: Standalone,
}

/// `[Standalone]` of stacd.conf: the sources stacd reads by itself, for
/// machines that boot from NVMe-oF and appliances without stafd. The section
/// name is ours: nvme-stas has no such section, so no key here can ever
/// mean something else to it (nvme-stas only warns about the section).
///
/// ```ini
/// [Standalone]
/// nbft = true                 # read the firmware's NBFT (default true)
/// kernel-cmdline = true       # read rd.nvmf.* / rd.stacd.* (default true)
/// discovery = true            # follow discovery controllers (default true)
/// discovery-controller = transport=tcp;traddr=192.168.1.5;trsvcid=8009
/// ```
///
/// `discovery-controller=` takes the keys of `controller=` (§2.4); a tcp
/// discovery controller without trsvcid is at 8009, without subsysnqn it is
/// the well-known discovery NQN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standalone {
    pub nbft: bool,
    pub kernel_cmdline: bool,
    pub discovery: bool,
    pub discovery_controllers: Vec<ControllerEntry>,
}

impl Default for Standalone {
    fn default() -> Self {
        Standalone {
            nbft: true,
            kernel_cmdline: true,
            discovery: true,
            discovery_controllers: Vec::new(),
        }
    }
}

impl StacdConf {
    /// The configuration of a missing file at `path`.
    pub fn defaults(path: &Path) -> StacdConf {
        StacdConf {
            path: path.to_path_buf(),
            tron: false,
            params: ConnParams {
                hdr_digest: Some(false),
                data_digest: Some(false),
                ..ConnParams::default()
            },
            ignore_iface: false,
            ip_family: IpFamily::Both,
            disconnect_scope: DisconnectScope::OnlyStasConnections,
            disconnect_trtypes: vec![Transport::Tcp],
            connect_attempts_on_ncc: 0,
            controllers: Vec::new(),
            excludes: Vec::new(),
            refused: Vec::new(),
            standalone: Standalone::default(),
        }
    }
}

pub const GLOBAL: &str = "Global";
pub const STANDALONE: &str = "Standalone";
pub const IOC: &str = "I/O controller connection management";
pub const CONTROLLERS: &str = "Controllers";

/// The sections of stacd.conf, in the order the shipped file has them:
/// `[Controllers]` last, as in nvme-stas's file, so that a `controller=`
/// line appended to the file lands in it.
pub const SECTIONS: &[&str] = &[GLOBAL, IOC, STANDALONE, CONTROLLERS];

/// Every `(section, key)` stacd.conf accepts (§2.2, and `[Standalone]`);
/// any other key is reported as unknown and ignored, so this list is the
/// whole of what the parser knows. The shipped etc/stas/stacd.conf and
/// stacd.conf(5) document each one (tests/shipped.rs checks it).
#[rustfmt::skip]
pub const KEYS: &[(&str, &str)] = &[
    (GLOBAL, "tron"), (GLOBAL, "hdr-digest"), (GLOBAL, "data-digest"), (GLOBAL, "kato"),
    (GLOBAL, "nr-io-queues"), (GLOBAL, "nr-write-queues"), (GLOBAL, "nr-poll-queues"),
    (GLOBAL, "queue-size"), (GLOBAL, "reconnect-delay"), (GLOBAL, "ctrl-loss-tmo"),
    (GLOBAL, "disable-sqflow"), (GLOBAL, "ignore-iface"), (GLOBAL, "ip-family"),
    (IOC, "disconnect-scope"), (IOC, "disconnect-trtypes"), (IOC, "connect-attempts-on-ncc"),
    (CONTROLLERS, "controller"), (CONTROLLERS, "exclude"),
    (STANDALONE, "nbft"), (STANDALONE, "kernel-cmdline"), (STANDALONE, "discovery"),
    (STANDALONE, "discovery-controller"),
];

/// The keys of a `controller=` value that mean something (§2.4): the
/// identity, the secrets and the per-controller overrides of `[Global]`.
/// Other keys are kept as extras (shown on D-Bus, usable in `exclude=`).
#[rustfmt::skip]
pub const CONTROLLER_KEYS: &[&str] = &[
    "transport", "traddr", "trsvcid", "nqn", "subsysnqn", "host-traddr", "host-iface",
    "host-nqn", "dhchap-secret", "dhchap-ctrl-secret", "tls", "keyring", "tls-key",
    "hdr-digest", "data-digest", "kato", "nr-io-queues", "nr-write-queues", "nr-poll-queues",
    "queue-size", "reconnect-delay", "ctrl-loss-tmo", "disable-sqflow",
];

/// Why a PSK is not a `tls-key=` value.
const TLS_KEY_IS_A_PSK: &str =
    "a PSK in interchange form: stacd does not insert keys; insert it with \
    nvme check-tls-key --insert or /etc/nvme/tls-keys and give its serial, or leave tls-key out so \
    that the kernel picks the PSK by identity";

/// An integer as Python's `int()` reads it (§2.3): optional sign, ASCII
/// digits, single `_` between digits; no hex, no empty string. Beyond i64 is
/// invalid (Python has no limit; no option makes sense that large).
fn int(s: &str) -> Result<i64, &'static str> {
    const WANT: &str = "expected an integer";
    let (sign, digits) = match s.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", s.strip_prefix('+').unwrap_or(s)),
    };
    let groups_ok = |g: &str| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit());
    if !digits.split('_').all(groups_ok) {
        return Err(WANT);
    }
    let clean = format!("{sign}{}", digits.replace('_', ""));
    clean.parse().map_err(|_| WANT)
}

fn boolean(s: &str) -> Result<bool, &'static str> {
    match s.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("expected true or false"),
    }
}

fn ip_family(s: &str) -> Result<IpFamily, &'static str> {
    match s {
        "ipv4" => Ok(IpFamily::V4),
        "ipv6" => Ok(IpFamily::V6),
        "ipv4+ipv6" | "ipv6+ipv4" => Ok(IpFamily::Both),
        _ => Err("expected ipv4, ipv6, ipv4+ipv6 or ipv6+ipv4"),
    }
}

fn disconnect_scope(s: &str) -> Result<DisconnectScope, &'static str> {
    use DisconnectScope::*;
    let all = [
        OnlyStasConnections,
        AllConnectionsMatchingDisconnectTrtypes,
        NoDisconnect,
    ];
    all.into_iter().find(|d| d.as_str() == s).ok_or(
        "expected only-stas-connections, all-connections-matching-disconnect-trtypes or no-disconnect",
    )
}

/// A connection parameter of `[Global]` / a `controller=` override (§2.3,
/// §2.4). Numbers are checked against the kernel's range
/// ([`crate::model::params::range`]): one it would refuse is a warning here, not an
/// EINVAL at every connect, and one it would ignore is not dropped silently.
enum Slot<'a> {
    Bool(&'a mut Option<bool>),
    Int(&'a mut Option<i64>, &'static str),
}

fn slot<'a>(p: &'a mut ConnParams, key: &str) -> Option<Slot<'a>> {
    Some(match key {
        "hdr-digest" => Slot::Bool(&mut p.hdr_digest),
        "data-digest" => Slot::Bool(&mut p.data_digest),
        "disable-sqflow" => Slot::Bool(&mut p.disable_sqflow),
        "kato" => Slot::Int(&mut p.kato, "kato"),
        "nr-io-queues" => Slot::Int(&mut p.nr_io_queues, "nr-io-queues"),
        "nr-write-queues" => Slot::Int(&mut p.nr_write_queues, "nr-write-queues"),
        "nr-poll-queues" => Slot::Int(&mut p.nr_poll_queues, "nr-poll-queues"),
        "queue-size" => Slot::Int(&mut p.queue_size, "queue-size"),
        "reconnect-delay" => Slot::Int(&mut p.reconnect_delay, "reconnect-delay"),
        "ctrl-loss-tmo" => Slot::Int(&mut p.ctrl_loss_tmo, "ctrl-loss-tmo"),
        _ => return None,
    })
}

impl Slot<'_> {
    /// Store `raw` if it is valid.
    fn set(&mut self, raw: &str) -> Result<(), String> {
        match self {
            Slot::Bool(v) => boolean(raw).map(|b| **v = Some(b)).map_err(String::from),
            Slot::Int(v, key) => {
                let n = int(raw)
                    .ok()
                    .and_then(|n| crate::model::params::in_range(key, n).ok());
                let want = crate::model::params::in_range(key, i64::MIN)
                    .err()
                    .unwrap_or_default();
                n.map(|n| **v = Some(n)).ok_or(want)
            }
        }
    }

    fn clear(&mut self) {
        match self {
            Slot::Bool(v) => **v = None,
            Slot::Int(v, _) => **v = None,
        }
    }
}

/// Keys of older nvme-stas releases, or of stafd, that people still write.
fn legacy_hint(key: &str) -> Option<&'static str> {
    match key {
        "blacklist" => Some("no longer supported (use exclude=); ignored"),
        "sticky-connections" | "udev-rule" | "persistent-connections" | "duplicate-connect" => {
            Some("no longer supported; ignored")
        }
        "pleo" | "zeroconf" | "zeroconf-connections-persistence" => {
            Some("a stafd option, not used by stacd; ignored")
        }
        _ => None,
    }
}

/// `s` quoted for a message, unless it looks like a DH-HMAC-CHAP key
/// (`DHHC-1:...`) or names a secret: a mistyped secret must not reach the log.
fn shown(s: &str) -> String {
    if s.to_ascii_lowercase().contains("secret") || crate::model::secret::looks_like_key(s) {
        crate::model::secret::REDACTED.to_string()
    } else {
        crate::model::identity::quoted(s)
    }
}

/// A key of a `controller=` value for a message: its name, unless the
/// name is key material pasted in the wrong place.
fn shown_key(k: &str) -> String {
    if crate::model::secret::looks_like_key(k) || k.contains(char::is_whitespace) {
        crate::model::secret::REDACTED.to_string()
    } else {
        crate::model::identity::quoted(k)
    }
}

/// Collects warnings about one file.
struct Sink<'a> {
    file: &'a Path,
    out: Vec<Warning>,
}

impl Sink<'_> {
    fn push(&mut self, line: usize, key: String, msg: String) {
        let file = self.file.to_path_buf();
        self.out.push(Warning {
            file,
            line,
            key,
            msg,
        });
    }

    /// A warning about entry `e`, keyed `[Section] key`.
    fn warn(&mut self, e: &ini::Entry, msg: impl Into<String>) {
        // A plain name like `dhchap-secret` is fine; a line with a key pasted
        // in (no `=`: the whole line is the "key") is not.
        let pasted = e.key.contains(|c: char| c.is_whitespace() || c == ':');
        let key = match pasted && !shown(&e.key).starts_with('"') {
            false => e.key.as_str(),
            true => crate::model::secret::REDACTED,
        };
        self.push(e.line, format!("[{}] {key}", e.section), msg.into());
    }

    /// One warning per unknown section (names are case-sensitive, §2.1).
    fn unknown_sections(&mut self, ini: &ini::Ini, known: &[&str]) {
        let unknown = ini
            .sections
            .iter()
            .filter(|(s, _)| !known.contains(&s.as_str()));
        for (s, line) in unknown {
            let msg = match known.iter().find(|k| k.eq_ignore_ascii_case(s)) {
                Some(k) => format!("unknown section (names are case-sensitive: [{k}]?); ignored"),
                None => "unknown section; ignored".to_string(),
            };
            self.push(*line, format!("[{s}]"), msg);
        }
    }

    fn unknown_key(&mut self, e: &ini::Entry) {
        let msg = match legacy_hint(&e.key) {
            Some(h) => h.to_string(),
            None if e.key.contains(':') => {
                "unknown key (only '=' separates key and value); ignored".into()
            }
            None => "unknown key; ignored".into(),
        };
        self.warn(e, msg);
    }

    /// The value of `e`, checked; `None` (and a warning naming `default`)
    /// when it is missing or invalid.
    fn value<T, E: fmt::Display>(
        &mut self,
        e: &ini::Entry,
        check: impl FnOnce(&str) -> Result<T, E>,
        default: &str,
    ) -> Option<T> {
        let r = match &e.value {
            None => Err("no value".to_string()),
            Some(v) => check(v).map_err(|why| format!("invalid value {} ({why})", shown(v))),
        };
        r.map_err(|m| self.warn(e, format!("{m}; using the default ({default})")))
            .ok()
    }

    /// The `;`-separated `key=value` tokens of a `controller=`/`exclude=`
    /// value (§2.4): split on the first `=` only (docs/design.md D12), last repeated
    /// key wins, `nqn` renamed `subsysnqn` (and preferred to it). `None`,
    /// with a warning, for a missing or empty value.
    fn tokens(&mut self, e: &ini::Entry) -> Option<Vec<(String, String)>> {
        let Some(text) = e.value.as_deref().filter(|v| !v.is_empty()) else {
            self.warn(e, "no value; ignored");
            return None;
        };
        let mut out: Vec<(String, String)> = Vec::new();
        // Where each key is in `out`: a line of many keys stays linear.
        let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for tok in text.split(';').map(str::trim).filter(|t| !t.is_empty()) {
            let Some((k, v)) = tok.split_once('=').filter(|(k, _)| !k.trim().is_empty()) else {
                self.warn(e, format!("{} is not key=value; ignored", shown(tok)));
                continue;
            };
            let (k, v) = (k.trim(), v.trim().to_string());
            match at.get(k) {
                Some(&i) => out[i].1 = v,
                None => {
                    at.insert(k.to_string(), out.len());
                    out.push((k.to_string(), v));
                }
            }
        }
        if at.contains_key("nqn") {
            out.retain(|(k, _)| k != "subsysnqn");
            for t in out.iter_mut().filter(|(k, _)| k == "nqn") {
                t.0 = "subsysnqn".into();
            }
        }
        Some(out)
    }

    fn controller(&mut self, e: &ini::Entry) -> Option<ControllerEntry> {
        self.controller_or_refused(e).ok()
    }

    /// A `controller=` entry, or `Err` with the pattern of the identity keys
    /// of one refused for its keys or TLS settings (`None`: nothing to
    /// match, or refused for something else).
    fn controller_or_refused(
        &mut self,
        e: &ini::Entry,
    ) -> Result<ControllerEntry, Option<Pattern>> {
        let tokens = self.tokens(e).ok_or(None)?;
        if tokens.is_empty() {
            self.warn(e, "no key=value pair; ignored");
            return Err(None);
        }
        let mut c = ControllerEntry {
            line: e.line,
            ..Default::default()
        };
        let mut bad_key = false;
        let (mut tls_on, mut keyring, mut tls_key) = (None, None, None);
        for (k, v) in tokens {
            let mut secret = |s: &mut Option<crate::model::secret::Secret>, v: &str| {
                if v.is_empty() {
                    return;
                }
                match crate::model::secret::Secret::new(v) {
                    Ok(k) => *s = Some(k),
                    Err(why) => {
                        // Never connect without the key that was asked for.
                        let msg = format!("{}: {why}; controller ignored", shown_key(&k));
                        self.warn(e, msg);
                        bad_key = true;
                    }
                }
            };
            match k.as_str() {
                "transport" => c.transport = v,
                "traddr" => c.traddr = v,
                "trsvcid" => c.trsvcid = v,
                "subsysnqn" => c.subsysnqn = v,
                "host-traddr" => c.host_traddr = v,
                "host-iface" => c.host_iface = v,
                "host-nqn" => c.host_nqn = Some(v).filter(|v| !v.is_empty()),
                "dhchap-secret" => secret(&mut c.dhchap_secret, &v),
                "dhchap-ctrl-secret" => secret(&mut c.dhchap_ctrl_secret, &v),
                // nvme-cli 2.13's names (`--tls`, `--keyring`, `--tls_key`,
                // spelled `--tls-key` in its man page): docs/auth-tls.md §5.2.
                // A bad value ignores the controller: one that asked for TLS
                // is never connected in clear text.
                "tls" | "keyring" | "tls-key" | "tls_key" => {
                    let r = match k.as_str() {
                        "tls" => boolean(&v).map(|b| tls_on = Some(b)),
                        "keyring" => crate::model::params::keyring(&v).map(|r| keyring = Some(r)),
                        _ if crate::model::secret::looks_like_key(&v) => Err(TLS_KEY_IS_A_PSK),
                        _ => crate::model::params::serial(&v).map(|n| tls_key = Some(n)),
                    };
                    if let Err(why) = r {
                        let msg = format!(
                            "{k}: invalid value {} ({why}); controller ignored",
                            shown(&v)
                        );
                        self.warn(e, msg);
                        bad_key = true;
                    }
                }
                _ => match slot(&mut c.overrides, &k) {
                    // docs/design.md D13: an invalid override falls back to
                    // [Global] (the original keeps the raw string or forces false).
                    Some(mut s) => {
                        if let Err(why) = s.set(&v) {
                            let msg = format!(
                                "{k}: invalid value {} ({why}); using the [Global] value",
                                shown(&v)
                            );
                            self.warn(e, msg);
                        }
                    }
                    None => {
                        // Kept (shown on D-Bus, usable in exclude=) as the
                        // original does, but never silently: a misspelled
                        // key does nothing, and a secret under one is
                        // never shown.
                        let hidden = crate::model::secret::shown_value(&k, &v) != v;
                        let msg = if hidden {
                            "unknown key, and its value looks secret: not used, never shown (the keys are dhchap-secret and dhchap-ctrl-secret)"
                        } else {
                            "unknown key: not sent to the kernel (kept for exclude= and D-Bus)"
                        };
                        self.warn(e, format!("{}: {msg}", shown_key(&k)));
                        let v = if hidden {
                            crate::model::secret::REDACTED.to_string()
                        } else {
                            v
                        };
                        c.extras.push((k, v));
                    }
                },
            }
        }
        // keyring= and tls-key= mean TLS (the kernel uses them for nothing
        // else); with tls=false they contradict it.
        let wants_tls = keyring.is_some() || tls_key.is_some();
        if tls_on == Some(false) && wants_tls {
            self.warn(
                e,
                "tls=false with keyring= or tls-key=: contradictory; controller ignored",
            );
            bad_key = true;
        } else if tls_on == Some(true) || wants_tls {
            c.tls = Some(crate::model::params::Tls { keyring, tls_key });
        }
        // The kernel allows tls, keyring and tls_key for tcp only
        // (drivers/nvme/host/tcp.c, allowed_opts); a controller that asked
        // for TLS is never connected without it.
        if c.tls.is_some() && !c.transport.is_empty() && c.transport != "tcp" {
            let msg = format!(
                "tls: TLS is for transport tcp only, not {}; controller ignored",
                shown(&c.transport)
            );
            self.warn(e, msg);
            bad_key = true;
        }
        if !bad_key {
            return Ok(c);
        }
        let keys: Vec<(String, String)> = [
            ("transport", &c.transport),
            ("traddr", &c.traddr),
            ("trsvcid", &c.trsvcid),
            ("subsysnqn", &c.subsysnqn),
            ("host-traddr", &c.host_traddr),
            ("host-iface", &c.host_iface),
        ]
        .into_iter()
        .chain(c.host_nqn.as_ref().map(|n| ("host-nqn", n)))
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
        // A line without a subsystem names no controller to keep.
        let names = keys.iter().any(|(k, _)| k == "subsysnqn");
        Err(names.then_some(Pattern { line: c.line, keys }))
    }

    fn exclude(&mut self, e: &ini::Entry) -> Option<Pattern> {
        let mut keys = self.tokens(e)?;
        // §2.5: host-traddr never takes part in exclusion.
        keys.retain(|(k, _)| k != "host-traddr");
        if keys.is_empty() {
            // docs/design.md D10: never "exclude everything" (the original's empty pattern).
            self.warn(
                e,
                "no usable key=value pair (host-traddr is not used); ignored",
            );
            return None;
        }
        Some(Pattern { line: e.line, keys })
    }
}

/// Parse the text of stacd.conf read from `path` (used in messages only).
pub fn parse_stacd_conf(text: &str, path: &Path) -> Result<(StacdConf, Vec<Warning>), ConfigError> {
    let ini = ini::parse(text, path)?;
    let mut w = Sink {
        file: path,
        out: Vec::new(),
    };
    w.unknown_sections(&ini, SECTIONS);
    let mut c = StacdConf::defaults(path);
    // Entries are applied in file order, so for single-valued options the
    // last occurrence wins, and an invalid last one restores the default (§2.1).
    for e in &ini.entries {
        let known_section = SECTIONS.contains(&e.section.as_str());
        if known_section && !KEYS.contains(&(e.section.as_str(), e.key.as_str())) {
            // A key of another section (a controller= line appended below
            // [Standalone], say): name the right one.
            match KEYS.iter().find(|(_, k)| *k == e.key) {
                Some((s, _)) => w.warn(
                    e,
                    format!("not a key of this section (it belongs in [{s}]); ignored"),
                ),
                None => w.unknown_key(e),
            }
            continue;
        }
        match (e.section.as_str(), e.key.as_str()) {
            (GLOBAL, "tron") => c.tron = w.value(e, boolean, "false").unwrap_or(false),
            (GLOBAL, "ignore-iface") => {
                c.ignore_iface = w.value(e, boolean, "false").unwrap_or(false)
            }
            (GLOBAL, "ip-family") => {
                c.ip_family = w.value(e, ip_family, "ipv4+ipv6").unwrap_or_default()
            }
            (GLOBAL, k) => match slot(&mut c.params, k) {
                Some(mut s) => {
                    let digest = k.ends_with("-digest");
                    if w.value(e, |v| s.set(v), if digest { "false" } else { "unset" })
                        .is_none()
                    {
                        s.clear();
                    }
                }
                None => w.unknown_key(e),
            },
            (IOC, "disconnect-scope") => {
                let d = DisconnectScope::default().as_str();
                c.disconnect_scope = w.value(e, disconnect_scope, d).unwrap_or_default()
            }
            (IOC, "disconnect-trtypes") => c.disconnect_trtypes = trtypes(&mut w, e),
            (IOC, "connect-attempts-on-ncc") => {
                // §2.3 (parity): 1 is raised to 2.
                let n = w.value(e, int, "0").unwrap_or(0);
                c.connect_attempts_on_ncc = if n == 1 { 2 } else { n };
            }
            (CONTROLLERS, "controller") => match w.controller_or_refused(e) {
                Ok(x) => c.controllers.push(x),
                Err(p) => c.refused.extend(p),
            },
            (CONTROLLERS, "exclude") => c.excludes.extend(w.exclude(e)),
            (STANDALONE, "nbft") => c.standalone.nbft = w.value(e, boolean, "true").unwrap_or(true),
            (STANDALONE, "kernel-cmdline") => {
                c.standalone.kernel_cmdline = w.value(e, boolean, "true").unwrap_or(true)
            }
            (STANDALONE, "discovery") => {
                c.standalone.discovery = w.value(e, boolean, "true").unwrap_or(true)
            }
            (STANDALONE, "discovery-controller") => {
                c.standalone.discovery_controllers.extend(w.controller(e))
            }
            (IOC | CONTROLLERS | STANDALONE, _) => w.unknown_key(e),
            _ => {} // unknown section, reported once above
        }
    }
    // An invalid digest stored None above; its default is false (§2.3).
    c.params.hdr_digest.get_or_insert(false);
    c.params.data_digest.get_or_insert(false);
    Ok((c, w.out))
}

/// `disconnect-trtypes` (§2.3): `+`-separated tcp/rdma/fc, duplicates
/// removed, invalid items dropped; nothing valid → `[tcp]`.
fn trtypes(w: &mut Sink<'_>, e: &ini::Entry) -> Vec<Transport> {
    const WANT: &str = "expected tcp, rdma or fc, joined by '+'";
    let v = e.value.as_deref().unwrap_or_default();
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for item in v.split('+') {
        match Transport::parse(item).filter(|t| *t != Transport::Loop) {
            Some(t) if !out.contains(&t) => out.push(t),
            Some(_) => {}
            None => bad.push(item),
        }
    }
    if out.is_empty() {
        let m = match &e.value {
            None => "no value".to_string(),
            Some(v) => format!("invalid value {v:?} ({WANT})"),
        };
        w.warn(e, format!("{m}; using the default (tcp)"));
        return vec![Transport::Tcp];
    }
    for item in bad {
        w.warn(e, format!("ignoring {item:?} ({WANT})"));
    }
    out
}

/// The largest configuration file read (stacd.conf with 100,000
/// controllers is about 10 MB).
pub const MAX_CONF_BYTES: u64 = 64 << 20;

/// The text of `path` and its permission bits; `None` when it does not
/// exist. Anything but a regular file of at most [`MAX_CONF_BYTES`] is an
/// error; invalid UTF-8 is a syntax error at the line where it starts.
pub(crate) fn read_text(path: &Path) -> Result<Option<(String, u32)>, ConfigError> {
    read_text_with(&crate::base::files::read_file, path)
}

/// [`read_text`] through `read`.
pub(crate) fn read_text_with(
    read: crate::base::files::Reader<'_>,
    path: &Path,
) -> Result<Option<(String, u32)>, ConfigError> {
    let f = match read(path, MAX_CONF_BYTES) {
        Ok(Some(f)) => f,
        Ok(None) => return Ok(None),
        Err(e) => {
            let err = match e {
                crate::base::files::ReadError::Io(e) => e,
                e => std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
            };
            return Err(ConfigError::Io {
                path: path.into(),
                err,
            });
        }
    };
    let mode = f.mode;
    String::from_utf8(f.bytes)
        .map(|t| Some((t, mode)))
        .map_err(|e| {
            let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            ConfigError::Syntax {
                path: path.to_path_buf(),
                line: good.iter().filter(|b| **b == b'\n').count() + 1,
                msg: "not valid UTF-8 text".into(),
            }
        })
}

/// One `controller=`-style value (§2.4) outside a file, e.g. from the
/// kernel command line: the entry (line 0) and the warnings about it, which
/// name `origin` as their file.
pub fn parse_controller_value(
    value: &str,
    origin: &Path,
) -> (Option<ControllerEntry>, Vec<Warning>) {
    let mut w = Sink {
        file: origin,
        out: Vec::new(),
    };
    let e = ini::Entry {
        section: CONTROLLERS.to_string(),
        key: "controller".to_string(),
        value: Some(value.trim().to_string()),
        line: 0,
    };
    let c = w.controller(&e);
    (c, w.out)
}

/// Read and parse stacd.conf; a missing file gives the defaults.
pub fn load_stacd_conf(path: &Path) -> Result<(StacdConf, Vec<Warning>), ConfigError> {
    Ok(load_existing(path)?.unwrap_or_else(|| (StacdConf::defaults(path), Vec::new())))
}

/// Read and parse stacd.conf; `None` when it does not exist (a reload
/// keeps the running configuration then, docs/migrating.md). A file that
/// holds DH-HMAC-CHAP keys and that group or others may read is warned
/// about, as ssh does for its keys.
pub fn load_existing(path: &Path) -> Result<Option<(StacdConf, Vec<Warning>)>, ConfigError> {
    let Some((text, mode)) = read_text(path)? else {
        return Ok(None);
    };
    let (c, mut w) = parse_stacd_conf(&text, path)?;
    let keyed = |e: &ControllerEntry| e.dhchap_secret.is_some() || e.dhchap_ctrl_secret.is_some();
    let has_keys =
        c.controllers.iter().any(keyed) || c.standalone.discovery_controllers.iter().any(keyed);
    if let Some(msg) = has_keys
        .then(|| crate::base::files::key_file_warning(mode))
        .flatten()
    {
        w.push(Warning {
            file: path.to_path_buf(),
            line: 0,
            key: "permissions".into(),
            msg,
        });
    }
    Ok(Some((c, w)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::identity::{IdFields, Identity};
    use crate::model::secret::{Secret, REDACTED};

    /// A scratch directory under the system temp dir, removed on drop.
    pub(crate) struct TempDir(pub PathBuf);

    impl TempDir {
        pub(crate) fn new(name: &str) -> TempDir {
            let p = std::env::temp_dir().join(format!("stacd-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).expect("create temp dir");
            TempDir(p)
        }

        pub(crate) fn write(&self, rel: &str, data: &[u8]) -> PathBuf {
            let p = self.0.join(rel);
            std::fs::create_dir_all(p.parent().expect("has parent")).expect("mkdir");
            std::fs::write(&p, data).expect("write");
            p
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const F: &str = "/etc/stas/stacd.conf";

    fn parse(text: &str) -> (StacdConf, Vec<String>) {
        let (c, w) = parse_stacd_conf(text, Path::new(F)).expect("parses");
        (c, w.iter().map(ToString::to_string).collect())
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn defaults() -> StacdConf {
        StacdConf::defaults(Path::new(F))
    }

    // §10.1 C1: same values as the original; the invalid `joe`/`bob` (an
    // ERROR there) are warnings naming the line here.
    #[test]
    #[rustfmt::skip]
    fn c1_full_file() {
        let (c, w) = parse("[Global]\ntron=true\nkato=200\nip-family=ipv6\n\n\
            [I/O controller connection management]\ndisconnect-scope = joe\n\
            disconnect-trtypes = bob\nconnect-attempts-on-ncc = 1\n\n[Controllers]\n\
            controller=transport=tcp;traddr=100.100.100.100;host-iface=enp0s8\n\
            controller=transport=tcp;traddr=100.100.100.200;host-iface=enp0s7;dhchap-ctrl-secret=DHHC-1:00:SL79bwRM9sl0612GezsBBQCFIiAWVC1lJ8NwstQldFFM3CegZlcfqHjNlclGYg34U3mjJw==:;hdr-digest=true;data-digest=true;nr-io-queues=8;nr-write-queues=6;nr-poll-queues=4;queue-size=400;kato=71;reconnect-delay=13;ctrl-loss-tmo=666;disable-sqflow=true\n\
            exclude=transport=tcp;traddr=10.10.10.10\n");
        let mut want = defaults();
        want.tron = true;
        want.params.kato = Some(200);
        want.ip_family = IpFamily::V6;
        want.connect_attempts_on_ncc = 2;
        let tcp = |line, traddr: &str, iface: &str| ControllerEntry {
            line, transport: "tcp".into(), traddr: traddr.into(), host_iface: iface.into(), ..Default::default()
        };
        want.controllers = vec![tcp(12, "100.100.100.100", "enp0s8"), ControllerEntry {
            dhchap_ctrl_secret: Secret::new("DHHC-1:00:SL79bwRM9sl0612GezsBBQCFIiAWVC1lJ8NwstQldFFM3CegZlcfqHjNlclGYg34U3mjJw==:").ok(),
            overrides: ConnParams {
                hdr_digest: Some(true), data_digest: Some(true), kato: Some(71), nr_io_queues: Some(8),
                nr_write_queues: Some(6), nr_poll_queues: Some(4), queue_size: Some(400),
                reconnect_delay: Some(13), ctrl_loss_tmo: Some(666), disable_sqflow: Some(true),
            },
            ..tcp(13, "100.100.100.200", "enp0s7")
        }];
        want.excludes = vec![Pattern { line: 14, keys: pairs(&[("transport", "tcp"), ("traddr", "10.10.10.10")]) }];
        assert_eq!(c, want);
        assert!(!c.ip_family.allows_v4() && c.ip_family.allows_v6());
        assert_eq!(w, [
            format!("{F}:7: [{IOC}] disconnect-scope: invalid value \"joe\" (expected only-stas-connections, all-connections-matching-disconnect-trtypes or no-disconnect); using the default (only-stas-connections)"),
            format!("{F}:8: [{IOC}] disconnect-trtypes: invalid value \"bob\" (expected tcp, rdma or fc, joined by '+'); using the default (tcp)"),
        ]);
    }

    // §10.1 C2 (a reload is a fresh parse of the new text).
    #[test]
    fn c2_reload() {
        let text =
            format!("[{IOC}]\ndisconnect-trtypes = tcp+rdma+fc\nconnect-attempts-on-ncc = hello\n");
        let (c, w) = parse(&text);
        assert_eq!(c.connect_attempts_on_ncc, 0);
        assert_eq!(
            c.disconnect_trtypes,
            [Transport::Tcp, Transport::Rdma, Transport::Fc]
        );
        assert_eq!(w.len(), 1);
    }

    // §10.1 C3, plus invalid spellings (case-sensitive, §2.3).
    #[test]
    #[rustfmt::skip]
    fn c3_ip_family() {
        use IpFamily::*;
        let cases = [("ipv4", V4, 0), ("ipv6", V6, 0), ("ipv4+ipv6", Both, 0), ("ipv6+ipv4", Both, 0),
                     ("IPv4", Both, 1), ("ipv4 + ipv6", Both, 1)];
        for (v, want, n) in cases {
            let (c, w) = parse(&format!("[Global]\nip-family={v}"));
            assert_eq!((c.ip_family, w.len()), (want, n), "{v}");
        }
    }

    // §10.1 C4 (code asking for an unknown option) cannot be written here:
    // options are typed fields, so such code does not compile.
    // §10.1 C5: the last occurrence wins, across continuation lines and
    // duplicate sections; an invalid last one gives the default.
    #[test]
    #[rustfmt::skip]
    fn c5_last_occurrence_wins() {
        let cases = [("[Global]\nkato=7", Some(7)), ("[Global]\n", None), ("[Global]\nkato=1\nkato=2", Some(2)),
                     ("[Global]\nkato=1\n  2\n  3", Some(3)), ("[Global]\nkato=1\n[Controllers]\n[Global]\nkato=4", Some(4)),
                     ("[Global]\nkato=1\nkato=x", None)];
        for (text, want) in cases {
            assert_eq!(parse(text).0.params.kato, want, "{text:?}");
        }
    }

    // §10.1 C6, through `exclude=` (the same tokenizer, §2.5). Differences:
    // `key=val=extra` keeps `val=extra` (docs/design.md D12: first `=` only); an empty
    // or token-less value is dropped with a warning, not an empty pattern.
    #[test]
    #[rustfmt::skip]
    fn c6_tokenizer() {
        type Keys<'a> = &'a [(&'a str, &'a str)];
        let cases: &[(&str, Option<Keys>, usize)] = &[
            ("", None, 1),
            ("noequalsign", None, 2),
            ("key=val=extra", Some(&[("key", "val=extra")]), 0),
            ("transport=tcp;noequalsign;traddr=10.10.10.10", Some(&[("transport", "tcp"), ("traddr", "10.10.10.10")]), 1),
            (" a = 1 ; ; a=2 ;b= ", Some(&[("a", "2"), ("b", "")]), 0),
            ("subsysnqn=s;nqn=n", Some(&[("subsysnqn", "n")]), 0),
            ("nqn=n;subsysnqn=s;x=1", Some(&[("subsysnqn", "n"), ("x", "1")]), 0),
            ("=x;Transport=tcp", Some(&[("Transport", "tcp")]), 1),
        ];
        for (v, want, nwarn) in cases {
            let (c, w) = parse(&format!("[Controllers]\nexclude={v}"));
            assert_eq!(c.excludes.first().map(|p| p.keys.clone()), want.map(pairs), "{v:?}");
            assert_eq!(w.len(), *nwarn, "{v:?}: {w:?}");
        }
    }

    // §10.1 C7: the original logs ERRORs; we warn with file and line.
    #[test]
    #[rustfmt::skip]
    fn c7_edge_cases() {
        let (c, w) = parse("[Global]\nqueue-size=5\nbad-option=something\n[BadSection]\nfoo=bar\n");
        assert_eq!(c, defaults());
        assert_eq!(w, [
            format!("{F}:4: [BadSection]: unknown section; ignored"),
            format!("{F}:2: [Global] queue-size: invalid value \"5\" (expected an integer from 16 to 1024); using the default (unset)"),
            format!("{F}:3: [Global] bad-option: unknown key; ignored"),
        ]);
    }

    // §10.14 items 1–3. Item 1 differs (docs/design.md D10): a pattern with no usable
    // key is dropped with a warning instead of excluding everything. Item 2:
    // our tcp default port is 4420 (docs/design.md D9), so `trsvcid=4420` matches a
    // port-less entry and 8009 does not. Item 3 differs: ` # comment` is an
    // inline comment (docs/design.md D11), so the pattern is just `transport=rdma`.
    #[test]
    #[rustfmt::skip]
    fn exclude_patterns() {
        let (c, w) = parse("[Controllers]\nexclude=\nexclude=foo\nexclude=host-traddr=1.2.3.4\nexclude");
        assert!(c.excludes.is_empty());
        assert_eq!(w.len(), 5, "{w:?}"); // `foo`: a bad token, then an empty pattern
        let (c, w) = parse("[Controllers]\nexclude=host-iface=eth0\nexclude=nqn=x;host-traddr=9.9.9.9\n\
            exclude=kato=5\nexclude=trsvcid=4420;traddr=1.1.1.1\nexclude = transport=rdma # comment\n");
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.excludes[1].keys, pairs(&[("subsysnqn", "x")]));
        let which = |transport, traddr, trsvcid, subsysnqn, host_iface| -> Vec<usize> {
            let f = IdFields { transport, traddr, trsvcid, subsysnqn, host_iface, host_nqn: "nqn.h", ..Default::default() };
            let cand = Identity::new(&f).expect("valid identity");
            (0..c.excludes.len()).filter(|&i| c.excludes[i].matches(&cand.as_pairs())).collect()
        };
        assert_eq!(which("tcp", "2.2.2.2", "", "y", "eth0"), [0]);
        assert_eq!(which("tcp", "2.2.2.2", "", "x", "eth1"), [1]);
        assert_eq!(which("tcp", "1.1.1.1", "", "y", ""), [3]);
        assert_eq!(which("tcp", "1.1.1.1", "8009", "y", ""), [0; 0]);
        assert_eq!(which("rdma", "3.3.3.3", "", "y", ""), [4]);
    }

    // §10.14 items 4–7. Item 4: port 4420 (docs/design.md D9). Item 5: fc entries are
    // kept (D8). Item 6: the secret keeps its `=` (D12). Item 7:
    // invalid overrides are unset with a warning, so [Global] applies
    // (docs/design.md D13), instead of the raw string / forced false.
    #[test]
    #[rustfmt::skip]
    fn controller_entries() {
        let (c, w) = parse("[Controllers]\ncontroller=transport=tcp;traddr=1.1.1.1;nqn=x\n\
            controller=transport=fc;traddr=nn-0x1:pn-0x2;nqn=x;host-nqn=nqn.other;zone=blue\n\
            controller=transport=tcp;traddr=1.1.1.1;nqn=x;dhchap-secret=DHHC-1:01:TAr7XaUd6Wwa4FBVXrU3DaBjlNNEkxyuSYKEbV51oBGvc40j:\n\
            controller=transport=tcp;traddr=1.1.1.1;nqn=x;kato=abc;queue-size=5;hdr-digest=yes;nr-io-queues=4\n\
            controller=\ncontroller\ncontroller=;\n");
        assert_eq!(c.controllers.len(), 4);
        let id = |e: &ControllerEntry| {
            let f = IdFields { transport: &e.transport, traddr: &e.traddr, trsvcid: &e.trsvcid,
                               subsysnqn: &e.subsysnqn, host_nqn: "nqn.h", ..Default::default() };
            Identity::new(&f).map(|i| i.to_string())
        };
        assert_eq!(id(&c.controllers[0]).as_deref(), Ok("(tcp, 1.1.1.1, 4420, x)"));
        assert_eq!(id(&c.controllers[1]).as_deref(), Ok("(fc, nn-0x1:pn-0x2, , x)"));
        assert_eq!(c.controllers[1].host_nqn.as_deref(), Some("nqn.other"));
        assert_eq!(c.controllers[1].extras, pairs(&[("zone", "blue")]));
        assert_eq!(c.controllers[2].dhchap_secret.as_ref().map(Secret::expose), Some("DHHC-1:01:TAr7XaUd6Wwa4FBVXrU3DaBjlNNEkxyuSYKEbV51oBGvc40j:"));
        assert_eq!(c.controllers[3].overrides, ConnParams { nr_io_queues: Some(4), ..Default::default() });
        assert_eq!(c.controllers[3].line, 5);
        assert_eq!(w.len(), 7, "{w:?}");
        // Issue 12: an unknown key is kept, never silently.
        assert_eq!(w[0], format!("{F}:3: [Controllers] controller: \"zone\": unknown key: not sent to the kernel (kept for exclude= and D-Bus)"));
        assert_eq!(w[1], format!("{F}:5: [Controllers] controller: kato: invalid value \"abc\" (expected an integer from 0 to 2147483647); using the [Global] value"));
        assert_eq!(w[5], format!("{F}:7: [Controllers] controller: no value; ignored"));
        assert_eq!(w[6], format!("{F}:8: [Controllers] controller: no key=value pair; ignored"));
    }

    // §10.14 items 8–9. Item 8: the original logs unknown names as ERRORs and
    // fails on a key before any section (a syntax error here too). Item 9:
    // the original crashes on a valueless `tron`; we warn and use false.
    #[test]
    #[rustfmt::skip]
    fn sections_keys_and_valueless_tron() {
        let (c, w) = parse("[Global]\nkato=1\ntron=true\n[global]\nkato=9\n[Global]\nkato: 5\nkato=3\ntron\n");
        assert_eq!((c.params.kato, c.tron), (Some(3), false));
        assert_eq!(w, [
            format!("{F}:4: [global]: unknown section (names are case-sensitive: [Global]?); ignored"),
            format!("{F}:7: [Global] kato: 5: unknown key (only '=' separates key and value); ignored"),
            format!("{F}:9: [Global] tron: no value; using the default (false)"),
        ]);
        let e = parse_stacd_conf("tron=true\n[Global]\n", Path::new(F));
        assert!(matches!(e, Err(ConfigError::Syntax { line: 1, .. })), "{e:?}");
    }

    #[test]
    #[rustfmt::skip]
    fn every_valueless_key_warns_and_keeps_the_default() {
        // "no value" (not "unknown key") also proves each key of KEYS has
        // its own handler in the parser.
        for &(s, k) in KEYS {
            let (c, w) = parse(&format!("[{s}]\n\n{k}\n"));
            assert_eq!(c, defaults(), "{k}");
            assert!(w.len() == 1 && w[0].starts_with(&format!("{F}:3: [{s}] {k}: no value")), "{w:?}");
        }
    }

    #[test]
    fn keys_outside_the_list_are_unknown() {
        for s in SECTIONS {
            let (c, w) = parse(&format!("[{s}]\nbogus-key=1\n"));
            assert_eq!(c, defaults());
            assert_eq!(w, [format!("{F}:2: [{s}] bogus-key: unknown key; ignored")]);
        }
        // A key of one section is unknown in another, and the message says
        // where it belongs.
        let (c, w) = parse(
            "[Standalone]\ncontroller=transport=tcp;traddr=1.1.1.1;nqn=x\n[Controllers]\nkato=5\n",
        );
        assert!(c.controllers.is_empty() && c.params.kato.is_none());
        assert_eq!(w, [
            format!("{F}:2: [Standalone] controller: not a key of this section (it belongs in [Controllers]); ignored"),
            format!("{F}:4: [Controllers] kato: not a key of this section (it belongs in [Global]); ignored"),
        ]);
    }

    #[test]
    fn controller_keys_are_the_ones_with_a_meaning() {
        for k in CONTROLLER_KEYS {
            let mut p = ConnParams::default();
            let v = match slot(&mut p, k) {
                Some(Slot::Bool(_)) => "true",
                Some(Slot::Int(..)) => "16",
                None if k.contains("secret") => {
                    "DHHC-1:00:hdLAnFlqXBliYGAKx0TxJdtteD6bkYJ6qKRjnMbKESQHtcN7:"
                }
                None if *k == "tls" => "true",
                None if *k == "keyring" => ".nvme",
                None if *k == "tls-key" => "5",
                None => "nqn.x",
            };
            let (c, w) = parse(&format!(
                "[Controllers]\ncontroller=transport=tcp;{k}={v}\n"
            ));
            assert!(w.is_empty(), "{k}: {w:?}");
            assert_eq!(c.controllers[0].extras, [], "{k}");
        }
        // Every [Global] connection parameter is also an override.
        for &(s, k) in KEYS {
            let is_param = s == GLOBAL && slot(&mut ConnParams::default(), k).is_some();
            assert!(!is_param || CONTROLLER_KEYS.contains(&k), "{k}");
        }
        let (c, _) = parse("[Controllers]\ncontroller=transport=tcp;zone=blue\n");
        assert_eq!(c.controllers[0].extras, pairs(&[("zone", "blue")]));
    }

    #[test]
    #[rustfmt::skip]
    fn value_types() {
        let ints = [("0", Some(0)), ("-1", Some(-1)), ("+5", Some(5)), ("007", Some(7)), ("1_000", Some(1000)),
                    ("", None), ("1__0", None), ("_1", None), ("1_", None), ("0x10", None), ("1.5", None),
                    ("- 1", None), ("99999999999999999999", None), ("-9223372036854775808", Some(i64::MIN))];
        for (s, want) in ints {
            assert_eq!(int(s).ok(), want, "{s:?}");
        }
        let bools = [("true", Some(true)), ("FALSE", Some(false)), ("True", Some(true)), ("yes", None), ("1", None), ("", None)];
        for (s, want) in bools {
            assert_eq!(boolean(s).ok(), want, "{s:?}");
        }
        for (s, want) in [("16", Some(16)), ("1024", Some(1024)), ("15", None), ("1025", None)] {
            let mut p = ConnParams::default();
            let _ = slot(&mut p, "queue-size").expect("a slot").set(s);
            assert_eq!(p.queue_size, want, "{s:?}");
        }
        let (c, _) = parse("[Global]\nhdr-digest=TRUE\ndata-digest=maybe\ndisable-sqflow=x\nctrl-loss-tmo=-1\n");
        assert_eq!((c.params.hdr_digest, c.params.data_digest), (Some(true), Some(false)));
        assert_eq!((c.params.disable_sqflow, c.params.ctrl_loss_tmo), (None, Some(-1)));
        let scope = |v: &str| parse(&format!("[{IOC}]\ndisconnect-scope={v}")).0.disconnect_scope;
        assert_eq!(scope("no-disconnect"), DisconnectScope::NoDisconnect);
        assert_eq!(scope("all-connections-matching-disconnect-trtypes"), DisconnectScope::AllConnectionsMatchingDisconnectTrtypes);
        assert_eq!(scope("No-Disconnect"), DisconnectScope::OnlyStasConnections);
        let ncc = |v: &str| parse(&format!("[{IOC}]\nconnect-attempts-on-ncc={v}")).0.connect_attempts_on_ncc;
        assert_eq!([ncc("1"), ncc("3"), ncc("-2"), ncc("")], [2, 3, -2, 0]);
    }

    #[test]
    #[rustfmt::skip]
    fn disconnect_trtypes() {
        use Transport::*;
        let cases: &[(&str, &[Transport], usize)] = &[("rdma", &[Rdma], 0), ("fc+tcp+fc", &[Fc, Tcp], 0),
            ("rdma+loop+x", &[Rdma], 2), ("tcp + rdma", &[Tcp], 1), ("", &[Tcp], 1)];
        for (v, want, n) in cases {
            let (c, w) = parse(&format!("[{IOC}]\ndisconnect-trtypes={v}"));
            assert_eq!((&c.disconnect_trtypes[..], w.len()), (*want, *n), "{v:?}: {w:?}");
        }
    }

    #[test]
    #[rustfmt::skip]
    fn legacy_keys_say_so() {
        let (_, w) = parse("[Global]\nsticky-connections=true\nzeroconf=enabled\n[Controllers]\nblacklist=transport=tcp\n");
        assert_eq!(w, [
            format!("{F}:2: [Global] sticky-connections: no longer supported; ignored"),
            format!("{F}:3: [Global] zeroconf: a stafd option, not used by stacd; ignored"),
            format!("{F}:5: [Controllers] blacklist: no longer supported (use exclude=); ignored"),
        ]);
    }

    // Issue 12 case 6: a secret under a misspelled key was kept as an
    // extra, silently, and shown in clear on D-Bus.
    #[test]
    #[rustfmt::skip]
    fn misspelled_secrets_warn_and_never_show() {
        let (c, w) = parse("[Controllers]\ncontroller=transport=tcp;traddr=1.1.1.1;nqn=x;dhchap_secret=DHHC-1:00:QK9HhYIk2Ii5KphoKc8ofDErT890kyeysw+BD34lZH/2dUMT:;DHCHAP-SECRET=S2;zone=DHHC-1:00:j62rZXSp+SkD2UcZ892hyDusSUENZYhxkSq6SXW0Za7dEdmX:;Zone=red\n");
        assert_eq!(c.controllers[0].extras, pairs(&[("dhchap_secret", REDACTED), ("DHCHAP-SECRET", REDACTED), ("zone", REDACTED), ("Zone", "red")]));
        assert_eq!(c.controllers[0].dhchap_secret, None);
        assert_eq!(w.len(), 4, "{w:?}");
        assert!(w[0].starts_with(&format!("{F}:2: [Controllers] controller: \"dhchap_secret\": unknown key, and its value looks secret")), "{w:?}");
        assert!(w[3].ends_with("\"Zone\": unknown key: not sent to the kernel (kept for exclude= and D-Bus)"), "{w:?}");
        assert!(w.iter().all(|m| !m.contains("S1") && !m.contains("S2") && !m.contains("S3")), "{w:?}");
        // A key pasted as a key name is not shown either.
        let (_, w) = parse("[Controllers]\ncontroller=transport=tcp;DHHC-1:00:hoDxSkIfEQKCmEyV0AzTuzZgAciCwVBeA8/U4Ify9tAhITm3RhQVyxy4wXfNjYmvsAVHOg==:\n");
        assert!(w.iter().all(|m| !m.contains("S4")), "{w:?}");
    }

    // Issue 12 cases 1 and 7: a key the kernel cannot take drops its
    // controller; a number the kernel would refuse or ignore is warned.
    #[test]
    #[rustfmt::skip]
    fn keys_and_numbers_of_the_kernel_form() {
        let (c, w) = parse("[Controllers]\ncontroller=transport=tcp;traddr=1.1.1.1;nqn=x;dhchap-secret=DHHC-1:00:S,hostnqn=nqn.evil:x,duplicate_connect\n");
        assert!(c.controllers.is_empty());
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].ends_with("\"dhchap-secret\": not a DH-HMAC-CHAP key (expected DHHC-1:<00-03>:<base64>:, as nvme gen-dhchap-key writes); controller ignored") && !w[0].contains("evil"), "{w:?}");
        for (k, v) in [("kato", "-5"), ("kato", "2147483648"), ("reconnect-delay", "0"), ("ctrl-loss-tmo", "-2"),
                       ("nr-io-queues", "0"), ("nr-write-queues", "-1"), ("nr-poll-queues", "99999999999"), ("queue-size", "2000")] {
            let (c, w) = parse(&format!("[Global]\n{k}={v}\n[Controllers]\ncontroller=transport=tcp;traddr=1.1.1.1;nqn=x;{k}={v}\n"));
            assert_eq!((c.params, c.controllers[0].overrides.clone()), (defaults().params, ConnParams::default()), "{k}={v}");
            assert_eq!(w.len(), 2, "{k}={v}: {w:?}");
            assert!(w[0].contains(&format!("[Global] {k}: invalid value \"{v}\" (expected an integer from ")), "{w:?}");
        }
        let (c, w) = parse("[Global]\nkato=0\nctrl-loss-tmo=-1\nreconnect-delay=2147483647\n");
        assert_eq!((c.params.kato, c.params.ctrl_loss_tmo, c.params.reconnect_delay, w.len()), (Some(0), Some(-1), Some(i32::MAX.into()), 0));
    }

    // Issue 12 case 7: 100k keys on one line took 20 s (quadratic). Not a
    // speed test: a margin of 20 over the linear parse (well under 1 s in
    // release) guards against the quadratic one coming back.
    #[test]
    fn many_keys_on_one_line_parse_in_linear_time() {
        let keys: String = (0..100_000).map(|i| format!("k{i}=v;")).collect();
        let t = std::time::Instant::now();
        let (c, w) = parse(&format!("[Controllers]\ncontroller=transport=tcp;{keys}\n"));
        assert_eq!((c.controllers[0].extras.len(), w.len()), (100_000, 100_000));
        let text: String = (0..100_000).map(|i| format!("[S{i}]\n")).collect();
        let (_, w) = parse(&text);
        assert_eq!(w.len(), 100_000);
        assert!(
            t.elapsed() < std::time::Duration::from_secs(20),
            "{:?}",
            t.elapsed()
        );
    }

    // ssh's rule for key files: stacd.conf holding a key is warned about
    // when group or others may read it.
    #[test]
    fn a_readable_file_with_keys_is_warned_about() {
        let dir = TempDir::new("conf-mode");
        let p = dir.write("stacd.conf", b"[Controllers]\ncontroller=transport=tcp;traddr=1.1.1.1;nqn=x;dhchap-secret=DHHC-1:00:hdLAnFlqXBliYGAKx0TxJdtteD6bkYJ6qKRjnMbKESQHtcN7:\n");
        let chmod = |m| {
            std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(m))
                .expect("chmod")
        };
        chmod(0o644);
        let (_, w) = load_stacd_conf(&p).expect("loads");
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].to_string().ends_with("stacd.conf: permissions: 0644 let group or others read the DH-HMAC-CHAP key in it; chmod 600 it"), "{}", w[0]);
        chmod(0o600);
        assert!(load_stacd_conf(&p).expect("loads").1.is_empty());
        // A FIFO is refused, not waited on.
        let f = dir.0.join("fifo.conf");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &f,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .expect("mkfifo");
        let e = load_stacd_conf(&f).unwrap_err().to_string();
        assert!(e.ends_with("not a regular file (a FIFO); refused"), "{e}");
    }

    #[test]
    fn secrets_never_appear_in_warnings() {
        let (c, w) = parse(
            "[Global]\ndhchap-secret = SECRET1\n[Controllers]\n\
             controller = transport=tcp;dhchap-secret DHHC-1:00:BgUuZ7N5/BTwYv38Is7qc+us8/5KTHCrC8KnupWjIZJ0tALR:;kato=x\n\
             controller = DHHC-1:00:H2NUA0XolBDugfUHx5iL8MfPvE/EaQ7/EbPUWWwAY3WNXjRj:\nexclude = Dhchap-Secret   SECRET4\n\
             controller=transport=tcp;dhchap-ctrl-secret=SECRET5;queue-size=1\n[Host]\nkey=SECRET6\n\
             [Global]\nDHHC-1:00:kErSC9BkjnaeEcXIoT3wJwHGvvcujxe07VHh2Ca6zmS13D0I:\n",
        );
        // SECRET5 is not a DH-HMAC-CHAP key: its controller is dropped.
        assert_eq!(w.len(), 11, "{w:?}");
        assert_eq!(c.controllers.len(), 1);
        let last =
            ":11: [Global] <redacted>: unknown key (only '=' separates key and value); ignored";
        assert!(w.iter().any(|m| m.ends_with(last)), "{w:?}");
        assert!(w.iter().all(|m| !m.contains("SECRET")), "{w:?}");
        assert!(
            w[1].ends_with(":2: [Global] dhchap-secret: unknown key; ignored"),
            "{w:?}"
        );
        assert!(!format!("{c:?}").contains("SECRET"));
    }

    #[test]
    fn loader() {
        use crate::base::root::{rel, Root};
        let dir = TempDir::new("conf-loader");
        let path = Root::new(&dir.0).path(rel::STACD_CONF);
        let (c, w) = load_stacd_conf(&path).expect("missing file is fine");
        assert_eq!((c, w), (StacdConf::defaults(&path), vec![]));
        dir.write(rel::STACD_CONF, b"[Global]\nkato=abc\n");
        let (c, w) = load_stacd_conf(&path).expect("loads");
        assert_eq!(
            (c.params.kato, w.len(), w[0].line, &w[0].file),
            (None, 1, 2, &path)
        );
        dir.write(rel::STACD_CONF, b"[Global]\n\nkato=\xff\n");
        let e = load_stacd_conf(&path);
        assert!(
            matches!(e, Err(ConfigError::Syntax { line: 3, .. })),
            "{e:?}"
        );
        let e = load_stacd_conf(&dir.0);
        assert!(matches!(e, Err(ConfigError::Io { .. })), "{e:?}");
    }

    #[test]
    fn standalone_section() {
        let (c, w) = parse(
            "[Standalone]\nnbft=false\nkernel-cmdline = maybe\ndiscovery=false\n\
             discovery-controller = transport=tcp;traddr=10.0.0.9\n\
             discovery-controller = traddr=10.0.0.10;trsvcid=4420;host-iface=eth1\nbogus=1\n",
        );
        assert!(!c.standalone.nbft);
        assert!(
            c.standalone.kernel_cmdline,
            "invalid value keeps the default"
        );
        assert!(!c.standalone.discovery);
        let d = &c.standalone.discovery_controllers;
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].line, d[0].traddr.as_str()), (5, "10.0.0.9"));
        assert_eq!(
            (d[1].trsvcid.as_str(), d[1].host_iface.as_str()),
            ("4420", "eth1")
        );
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].contains(":3: [Standalone] kernel-cmdline: invalid value"),
            "{w:?}"
        );
        assert!(
            w[1].contains(":7: [Standalone] bogus: unknown key"),
            "{w:?}"
        );
        assert_eq!(defaults().standalone, Standalone::default());
        assert!(defaults().standalone.nbft && defaults().standalone.kernel_cmdline);
    }

    #[test]
    fn controller_value_outside_a_file() {
        let (c, w) = parse_controller_value(
            "transport=tcp;traddr=1.2.3.4;nqn=nqn.x;kato=abc",
            Path::new("kernel command line"),
        );
        let c = c.expect("entry");
        assert_eq!(
            (c.transport.as_str(), c.subsysnqn.as_str()),
            ("tcp", "nqn.x")
        );
        assert_eq!(w.len(), 1);
        assert!(
            w[0].to_string()
                .starts_with("kernel command line: [Controllers] controller: kato"),
            "{}",
            w[0]
        );
        assert_eq!(parse_controller_value("", Path::new("x")).0, None);
    }

    // Issue 16: TLS keys of controller= (docs/configuration.md, "TLS").
    #[test]
    #[rustfmt::skip]
    fn tls_keys_and_their_errors() {
        use crate::model::params::{Keyring, Tls};
        let (c, w) = parse("[Controllers]\n\
            controller=transport=tcp;traddr=1.1.1.1;nqn=a;tls=true\n\
            controller=transport=tcp;traddr=1.1.1.1;nqn=b;keyring=.nvme;tls-key=0x1a2B\n\
            controller=transport=tcp;traddr=1.1.1.1;nqn=c;tls=TRUE;keyring=123;tls_key=77\n\
            controller=transport=tcp;traddr=1.1.1.1;nqn=d;tls=false\n\
            controller=transport=rdma;traddr=1.1.1.1;nqn=e;tls=true\n\
            controller=transport=tcp;traddr=1.1.1.1;nqn=f;tls=false;keyring=.nvme\n\
            controller=transport=tcp;traddr=1.1.1.1;nqn=g;tls-key=NVMeTLSkey-1:01:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTIz:\n\
            controller=transport=tcp;traddr=1.1.1.1;nqn=h;tls=yes\n\
            controller=transport=tcp;traddr=1.1.1.1;nqn=i;keyring=.nvme,tls_key=5\n\
            controller=transport=tcp;traddr=1.1.1.1;nqn=j;tls-key=0\n");
        let nqns: Vec<&str> = c.controllers.iter().map(|c| c.subsysnqn.as_str()).collect();
        assert_eq!(nqns, ["a", "b", "c", "d"], "{w:?}");
        assert_eq!(c.controllers[0].tls, Some(Tls::default()));
        assert_eq!(c.controllers[1].tls, Some(Tls { keyring: Some(Keyring::Name(".nvme".into())), tls_key: Some(0x1a2b) }));
        assert_eq!(c.controllers[2].tls, Some(Tls { keyring: Some(Keyring::Serial(123)), tls_key: Some(77) }));
        assert_eq!(c.controllers[3].tls, None);
        assert!(c.controllers.iter().all(|c| c.extras.is_empty()), "{c:?}");
        assert_eq!(w.len(), 6, "{w:?}");
        assert_eq!(w[0], format!("{F}:6: [Controllers] controller: tls: TLS is for transport tcp only, not \"rdma\"; controller ignored"));
        assert_eq!(w[1], format!("{F}:7: [Controllers] controller: tls=false with keyring= or tls-key=: contradictory; controller ignored"));
        assert!(w[2].starts_with(&format!("{F}:8: [Controllers] controller: tls-key: invalid value <redacted> (a PSK in interchange form: stacd does not insert keys")), "{w:?}");
        assert!(!w.iter().any(|w| w.contains("c2VjcmV0")), "{w:?}");
        assert!(w[3].starts_with(&format!("{F}:9: [Controllers] controller: tls: invalid value \"yes\" (expected true or false); controller ignored")), "{w:?}");
        assert!(w[4].starts_with(&format!("{F}:10: [Controllers] controller: keyring: invalid value")), "{w:?}");
        assert!(w[5].starts_with(&format!("{F}:11: [Controllers] controller: tls-key: invalid value \"0\" (expected a key serial")), "{w:?}");
    }
}
