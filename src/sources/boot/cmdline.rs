//! The kernel command line (`/proc/cmdline`): which boot connections it asks
//! for. A pure parser ([`parse`]) over the text, and a loader ([`load`]).
//!
//! Accepted (docs/design.md §B1.3, §B6.3):
//! * dracut's nvmf module (`95nvmf`, `74nvmf`), same spelling and meaning:
//!   `rd.nonvmf`, `rd.nvmf.nonbft`, `rd.nvmf.nostatic` (booleans as dracut's
//!   `getargbool`: present, or any value but `0`/`no`/`off`),
//!   `rd.nvmf.hostnqn=`, `rd.nvmf.hostid=` (the last one wins, as `getarg`),
//!   `rd.nvmf.discover=<trtype>,<traddr>[,<host_traddr>[,<trsvcid>]]`
//!   (repeatable; 2, 3 or 4 fields split the way `set -- $1` with `IFS=,`
//!   splits them — empty fields allowed, one trailing comma dropped;
//!   trsvcid defaults to 4420, not 8009, as in dracut; tcp, rdma or fc, fc
//!   needs a host_traddr) and `rd.nvmf.discover=fc,auto`, which wins over
//!   every other `rd.nvmf.discover` (dracut deletes what it collected and
//!   stops); the deprecated `nvmf.hostnqn=`, `nvmf.hostid=`, `nvmf.discover=`
//!   aliases, with a warning;
//! * make-initrd's direct connect
//!   `rd.nvmf.connect=<trtype>,<traddr>,<subnqn>[,<trsvcid>[,<host_traddr>]]`;
//! * ours, `rd.stacd.*`: `rd.stacd=0` (off), `ctrl_loss_tmo` (seconds or
//!   -1, default -1 for boot connections), `reconnect_delay`, `kato`,
//!   `timeout` (seconds per connect attempt), `budget` (seconds for a whole
//!   `--once` run), `grace`, `wait=root|all|none`, `controller=<key=value;...>`
//!   (the keys of a stacd.conf `controller=` line; `,` works as well as `;`,
//!   which GRUB scripts need quoted; secrets are refused: a command line is
//!   world-readable), `debug`, `nbft.net=0` (`--boot-net` leaves the NBFT's
//!   interfaces alone). `ifname` and `paths` are accepted without effect;
//! * `ip=` is only noted ([`Cmdline::ip`]): the image's network module
//!   acts on it.
//!
//! Everything malformed is skipped with a warning naming the parameter; the
//! parser never fails. Tokens follow the kernel's own splitting
//! (`lib/cmdline.c`, `next_arg`): white space separates parameters except
//! inside double quotes, the quotes are removed, and everything after a
//! lone `--` belongs to init.

use crate::base::root::{rel, Root};
use crate::model::identity::{Transport, IO_PORT};
use crate::sources::config::{self, ConnParams, ControllerEntry};
use std::path::Path;
use std::time::Duration;

/// What `rd.stacd.wait` asks `stacd --once` to wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// One full round of attempts; then, if something is still missing,
    /// `grace` more seconds once the first controller is live.
    Root,
    /// Every controller live (or the budget spent).
    All,
    /// One full round of attempts, whatever their result.
    None,
}

/// A target from `rd.nvmf.discover` (a discovery controller) or
/// `rd.nvmf.connect` (an I/O controller, `subsysnqn` set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub transport: Transport,
    pub traddr: String,
    /// Empty for fc.
    pub trsvcid: String,
    /// Empty for `rd.nvmf.discover` (the well-known discovery NQN).
    pub subsysnqn: String,
    pub host_traddr: String,
    /// The parameter as written, for messages.
    pub arg: String,
}

/// `rd.stacd.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StacdArgs {
    /// `rd.stacd=0` turns every boot source off.
    pub enabled: bool,
    /// ctrl_loss_tmo, reconnect_delay, kato for boot connections.
    pub params: ConnParams,
    pub timeout: Option<Duration>,
    pub budget: Option<Duration>,
    pub grace: Option<Duration>,
    pub wait: Option<Wait>,
    pub controllers: Vec<ControllerEntry>,
    pub debug: bool,
    /// `rd.stacd.nbft.net=0`: `stacd --boot-net` leaves the NBFT's
    /// interfaces alone (another tool configures them).
    pub nbft_net: bool,
}

impl Default for StacdArgs {
    fn default() -> Self {
        StacdArgs {
            enabled: true,
            params: ConnParams::default(),
            timeout: None,
            budget: None,
            grace: None,
            wait: None,
            controllers: Vec::new(),
            debug: false,
            nbft_net: true,
        }
    }
}

/// Everything the command line says about NVMe-oF boot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cmdline {
    pub nonvmf: bool,
    pub nonbft: bool,
    pub nostatic: bool,
    pub hostnqn: Option<String>,
    pub hostid: Option<String>,
    /// Discovery controllers (`rd.nvmf.discover`), empty after `fc,auto`.
    pub discover: Vec<Target>,
    /// `rd.nvmf.discover=fc,auto`.
    pub fc_auto: bool,
    /// I/O controllers (`rd.nvmf.connect`).
    pub connect: Vec<Target>,
    /// The `ip=` parameters as written (dracut.cmdline(7), the kernel's
    /// nfsroot.txt): the image's network module configures those
    /// interfaces, stacd does not.
    pub ip: Vec<String>,
    pub stacd: StacdArgs,
    /// One sentence per malformed or deprecated parameter.
    pub warnings: Vec<String>,
}

impl Cmdline {
    /// The command line asks for NVMe-oF boot handling at all (neither
    /// `rd.nonvmf` nor `rd.stacd=0`).
    pub fn active(&self) -> bool {
        !self.nonvmf && self.stacd.enabled
    }

    /// The NBFT may be used (dracut: `rd.nvmf.nonbft` ignores it).
    pub fn nbft_allowed(&self) -> bool {
        self.active() && !self.nonbft
    }
}

/// Split the command line as the kernel does (`lib/cmdline.c`,
/// `next_arg`): white space outside double quotes separates, quotes are
/// dropped; a lone `--` ends the kernel's parameters.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    if cur == "--" {
                        return out;
                    }
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any && cur != "--" {
        out.push(cur);
    }
    out
}

/// `set -- $1` with `IFS=,` (POSIX field splitting with a non-white-space
/// separator): empty fields count, except one empty field at the very end.
fn shell_fields(v: &str) -> Vec<&str> {
    if v.is_empty() {
        return Vec::new();
    }
    let v = v.strip_suffix(',').unwrap_or(v);
    v.split(',').collect()
}

/// dracut's `getargbool`: a bare key is true, `0`, `no`, `off` are false.
fn boolean(v: Option<&str>) -> bool {
    !matches!(v, Some("0" | "no" | "off" | "false"))
}

/// An IPv6 literal may be written in brackets (`[fe80::1]`).
fn unbracket(s: &str) -> &str {
    s.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s)
}

fn transport(arg: &str, t: &str, warnings: &mut Vec<String>) -> Option<Transport> {
    match Transport::parse(t) {
        Some(t @ (Transport::Tcp | Transport::Rdma | Transport::Fc)) => Some(t),
        _ => {
            warnings.push(format!(
                "{arg}: unsupported transport {t:?} (tcp, rdma or fc); ignored"
            ));
            None
        }
    }
}

/// Fill the default port and check what dracut checks; `None` (with a
/// warning) when the target cannot be used.
fn finish(mut t: Target, warnings: &mut Vec<String>) -> Option<Target> {
    if t.traddr.is_empty() || t.traddr == "none" {
        warnings.push(format!("{}: traddr is mandatory; ignored", t.arg));
        return None;
    }
    if t.host_traddr == "none" {
        t.host_traddr.clear();
    }
    match t.transport {
        Transport::Fc => {
            if t.host_traddr.is_empty() {
                warnings.push(format!(
                    "{}: host_traddr is mandatory for fc; ignored",
                    t.arg
                ));
                return None;
            }
            t.trsvcid.clear();
        }
        _ if t.trsvcid.is_empty() => t.trsvcid = IO_PORT.to_string(),
        _ => {}
    }
    t.traddr = unbracket(&t.traddr).to_string();
    t.host_traddr = unbracket(&t.host_traddr).to_string();
    Some(t)
}

/// `rd.nvmf.discover=` value; `Err(())` for `fc,auto`.
fn discover(arg: &str, v: &str, warnings: &mut Vec<String>) -> Result<Option<Target>, ()> {
    let f = shell_fields(v);
    if !(2..=4).contains(&f.len()) {
        warnings.push(format!(
            "{arg}: expected <transport>,<traddr>[,<host_traddr>[,<trsvcid>]]; ignored"
        ));
        return Ok(None);
    }
    if f[0] == "fc" && f[1] == "auto" {
        return Err(());
    }
    let Some(tr) = transport(arg, f[0], warnings) else {
        return Ok(None);
    };
    let t = Target {
        transport: tr,
        traddr: f[1].to_string(),
        trsvcid: f.get(3).copied().unwrap_or("").to_string(),
        subsysnqn: String::new(),
        host_traddr: f.get(2).copied().unwrap_or("").to_string(),
        arg: arg.to_string(),
    };
    Ok(finish(t, warnings))
}

/// `rd.nvmf.connect=` value.
fn connect(arg: &str, v: &str, warnings: &mut Vec<String>) -> Option<Target> {
    let f = shell_fields(v);
    if !(3..=5).contains(&f.len()) {
        warnings.push(format!(
            "{arg}: expected <transport>,<traddr>,<subnqn>[,<trsvcid>[,<host_traddr>]]; ignored"
        ));
        return None;
    }
    let tr = transport(arg, f[0], warnings)?;
    if f[2].is_empty() {
        warnings.push(format!("{arg}: subnqn is mandatory; ignored"));
        return None;
    }
    let t = Target {
        transport: tr,
        traddr: f[1].to_string(),
        trsvcid: f.get(3).copied().unwrap_or("").to_string(),
        subsysnqn: f[2].to_string(),
        host_traddr: f.get(4).copied().unwrap_or("").to_string(),
        arg: arg.to_string(),
    };
    finish(t, warnings)
}

/// A number of seconds, at least `min`; more than
/// [`crate::reconcile::engine::MAX_WAIT`] (however many digits) is capped to it, with
/// a warning.
fn seconds(arg: &str, v: Option<&str>, min: u64, warnings: &mut Vec<String>) -> Option<Duration> {
    let max = crate::reconcile::engine::MAX_WAIT;
    let digits = v.filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()));
    match digits.map(|v| v.parse::<u64>().unwrap_or(u64::MAX)) {
        Some(s) if s > max.as_secs() => {
            warnings.push(format!(
                "{arg}: more than {} s (a year); capped to that",
                max.as_secs()
            ));
            Some(max)
        }
        Some(s) if s >= min => Some(Duration::from_secs(s)),
        _ => {
            let want = if min > 0 { " > 0" } else { "" };
            warnings.push(format!(
                "{arg}: expected a number of seconds{want}; ignored"
            ));
            None
        }
    }
}

/// A connect option's number in the kernel's range ([`crate::model::params::range`]
/// of the stacd.conf key `key`).
fn integer(arg: &str, v: Option<&str>, key: &str, warnings: &mut Vec<String>) -> Option<i64> {
    let n = v.and_then(|v| v.parse::<i64>().ok());
    match n.map(|n| crate::model::params::in_range(key, n)) {
        Some(Ok(n)) => Some(n),
        Some(Err(want)) => {
            warnings.push(format!("{arg}: {want}; ignored"));
            None
        }
        None => {
            let want = crate::model::params::in_range(key, i64::MIN)
                .err()
                .unwrap_or_default();
            warnings.push(format!("{arg}: {want}; ignored"));
            None
        }
    }
}

/// One `rd.stacd.*` parameter (`key` without the prefix).
fn stacd(out: &mut Cmdline, arg: &str, key: &str, v: Option<&str>) {
    let w = &mut out.warnings;
    let s = &mut out.stacd;
    match key {
        "ctrl_loss_tmo" => {
            s.params.ctrl_loss_tmo = integer(arg, v, "ctrl-loss-tmo", w).or(s.params.ctrl_loss_tmo)
        }
        "reconnect_delay" => {
            s.params.reconnect_delay =
                integer(arg, v, "reconnect-delay", w).or(s.params.reconnect_delay)
        }
        "kato" => s.params.kato = integer(arg, v, "kato", w).or(s.params.kato),
        "timeout" => s.timeout = seconds(arg, v, 1, w).or(s.timeout),
        "budget" => s.budget = seconds(arg, v, 1, w).or(s.budget),
        // 0 is a valid grace period.
        "grace" => s.grace = seconds(arg, v, 0, w).or(s.grace),
        "wait" => match v {
            Some("root") => s.wait = Some(Wait::Root),
            Some("all") => s.wait = Some(Wait::All),
            Some("none") => s.wait = Some(Wait::None),
            _ => w.push(format!("{arg}: expected root, all or none; ignored")),
        },
        "debug" => s.debug = boolean(v),
        "controller" => {
            let text = v.unwrap_or("").replace(',', ";");
            let secret = text.split(';').any(|t| {
                let (k, v) = t.split_once('=').unwrap_or((t, ""));
                crate::model::secret::shown_value(k, v) != v
                    || crate::model::secret::looks_like_key(k)
            });
            if secret {
                w.push(format!(
                    "{}: secrets do not belong on the kernel command line (it is world-readable); ignored",
                    crate::model::secret::REDACTED
                ));
                return;
            }
            let (entry, warns) =
                config::parse_controller_value(&text, Path::new("kernel command line"));
            w.extend(warns.iter().map(|x| format!("{arg}: {}", x.msg)));
            s.controllers.extend(entry);
        }
        "nbft.net" => s.nbft_net = boolean(v),
        // The dracut module's own switches (docs/design.md §B6.3).
        "ifname" | "paths" => {}
        _ => w.push(format!("{arg}: unknown rd.stacd parameter; ignored")),
    }
}

/// Parse the text of `/proc/cmdline`.
pub fn parse(text: &str) -> Cmdline {
    parse_tokens(tokens(text))
}

/// Parse parameters already split by [`tokens`], in order (the last one
/// wins where only one value counts).
pub fn parse_tokens(args: Vec<String>) -> Cmdline {
    let mut out = Cmdline::default();
    let mut fc_auto_seen = false;
    for raw in args {
        let (key, value) = match raw.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (raw.as_str(), None),
        };
        // Messages name the parameter as written, its value hidden when
        // it is (or is filed as) a secret: the log is read more widely.
        let arg = crate::model::secret::shown_param(&raw);
        // dracut: `getarg rd.nvmf.hostnqn -d nvmf.hostnqn=`: deprecated aliases.
        let key = match key {
            "nvmf.hostnqn" | "nvmf.hostid" | "nvmf.discover" => {
                out.warnings
                    .push(format!("{arg}: deprecated, use rd.{key}= (accepted)"));
                match key {
                    "nvmf.hostnqn" => "rd.nvmf.hostnqn",
                    "nvmf.hostid" => "rd.nvmf.hostid",
                    _ => "rd.nvmf.discover",
                }
            }
            k => k,
        };
        let text_value = || value.map(str::trim).filter(|v| !v.is_empty());
        match key {
            "rd.nonvmf" => out.nonvmf = boolean(value),
            "rd.nvmf.nonbft" => out.nonbft = boolean(value),
            "rd.nvmf.nostatic" => out.nostatic = boolean(value),
            "rd.nvmf.hostnqn" => match text_value() {
                Some(v) => out.hostnqn = Some(v.to_string()),
                None => out.warnings.push(format!("{arg}: empty; ignored")),
            },
            "rd.nvmf.hostid" => match text_value() {
                Some(v) => out.hostid = Some(v.to_string()),
                None => out.warnings.push(format!("{arg}: empty; ignored")),
            },
            "rd.nvmf.discover" if !fc_auto_seen => {
                match discover(&arg, value.unwrap_or(""), &mut out.warnings) {
                    Ok(t) => out.discover.extend(t),
                    Err(()) => {
                        fc_auto_seen = true;
                        out.fc_auto = true;
                        out.discover.clear();
                    }
                }
            }
            "rd.nvmf.discover" => {
                out.warnings
                    .push(format!("{arg}: ignored after rd.nvmf.discover=fc,auto"));
            }
            "rd.nvmf.connect" => {
                let t = connect(&arg, value.unwrap_or(""), &mut out.warnings);
                out.connect.extend(t);
            }
            "rd.stacd" => out.stacd.enabled = boolean(value),
            "ip" => out.ip.push(arg.clone()),
            k => {
                if let Some(sub) = k.strip_prefix("rd.stacd.") {
                    stacd(&mut out, &arg, sub, value);
                } else if let Some(sub) = k.strip_prefix("rd.nvmf.") {
                    out.warnings
                        .push(format!("{arg}: unknown rd.nvmf parameter {sub:?}; ignored"));
                }
            }
        }
    }
    out
}

/// Read and parse the command line under `root` the way dracut's
/// `getcmdline` (modules.d/99base/dracut-lib.sh) puts it together: the
/// files `/etc/cmdline.d/*.conf` in name order, then `/etc/cmdline`, then
/// `/proc/cmdline`. An image bakes parameters into the first two (dracut's
/// host-only `rd.nvmf.connect=`, the dracut module's `rd.stacd.wait=root`);
/// the kernel's own command line comes last and so wins where the last
/// value counts. Each source is split on its own, so a stray quote or `--`
/// in a file cannot swallow the kernel's parameters. A missing source is
/// skipped; an unreadable one gives a warning (a container may hide
/// `/proc/cmdline`).
pub fn load(root: &Root) -> Cmdline {
    let mut args = Vec::new();
    let mut warnings = Vec::new();
    let mut files: Vec<std::path::PathBuf> = match std::fs::read_dir(root.path(rel::CMDLINE_D)) {
        Ok(dir) => dir
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "conf"))
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort_unstable();
    files.push(root.path(rel::ETC_CMDLINE));
    files.push(root.path(rel::CMDLINE));
    for path in files {
        // Regular files of at most 1 MiB (/proc/cmdline is 4 KiB at most).
        match crate::base::files::read_bounded(&path, 1 << 20, true) {
            Ok(Some(f)) => args.extend(tokens(&String::from_utf8_lossy(&f.bytes))),
            Ok(None) => {}
            Err(e) => warnings.push(format!("cannot read {}: {e}", path.display())),
        }
    }
    let mut c = parse_tokens(args);
    warnings.append(&mut c.warnings);
    c.warnings = warnings;
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tgt(t: Transport, a: &str, s: &str, n: &str, h: &str, arg: &str) -> Target {
        Target {
            transport: t,
            traddr: a.into(),
            trsvcid: s.into(),
            subsysnqn: n.into(),
            host_traddr: h.into(),
            arg: arg.into(),
        }
    }

    #[test]
    fn kernel_tokenizer() {
        assert_eq!(
            tokens("BOOT_IMAGE=/vmlinuz  root=UUID=x quiet\n"),
            ["BOOT_IMAGE=/vmlinuz", "root=UUID=x", "quiet"]
        );
        assert_eq!(tokens(r#"a="b c" "d=e f" g"#), ["a=b c", "d=e f", "g"]);
        assert_eq!(tokens("a -- rd.nvmf.hostnqn=x"), ["a"]);
        assert_eq!(tokens(""), Vec::<String>::new());
        assert_eq!(tokens("  \t\n"), Vec::<String>::new());
        assert_eq!(tokens(r#"x="""#), ["x="]);
        // An unterminated quote runs to the end, as in the kernel.
        assert_eq!(tokens(r#"a="b c"#), ["a=b c"]);
    }

    #[test]
    fn shell_field_splitting() {
        assert_eq!(shell_fields("tcp,1.2.3.4"), ["tcp", "1.2.3.4"]);
        assert_eq!(
            shell_fields("tcp,1.2.3.4,,4420"),
            ["tcp", "1.2.3.4", "", "4420"]
        );
        assert_eq!(shell_fields("tcp,1.2.3.4,"), ["tcp", "1.2.3.4"]);
        assert_eq!(shell_fields("tcp,1.2.3.4,,"), ["tcp", "1.2.3.4", ""]);
        assert_eq!(shell_fields(",x"), ["", "x"]);
        assert_eq!(shell_fields(""), Vec::<&str>::new());
    }

    // docs/design.md §B1.3 / 95nvmf's own examples, each field count, empty fields.
    #[test]
    fn discover_forms() {
        use Transport::*;
        let cases: &[(&str, Option<Target>)] = &[
            ("rd.nvmf.discover=tcp,192.168.1.3", Some(tgt(Tcp, "192.168.1.3", "4420", "", "", "rd.nvmf.discover=tcp,192.168.1.3"))),
            ("rd.nvmf.discover=tcp,192.168.1.3,,4420", Some(tgt(Tcp, "192.168.1.3", "4420", "", "", "rd.nvmf.discover=tcp,192.168.1.3,,4420"))),
            ("rd.nvmf.discover=tcp,127.0.0.1,,8009", Some(tgt(Tcp, "127.0.0.1", "8009", "", "", "rd.nvmf.discover=tcp,127.0.0.1,,8009"))),
            ("rd.nvmf.discover=rdma,192.168.1.3,10.0.0.1", Some(tgt(Rdma, "192.168.1.3", "4420", "", "10.0.0.1", "rd.nvmf.discover=rdma,192.168.1.3,10.0.0.1"))),
            ("rd.nvmf.discover=tcp,192.168.1.3,none,8009", Some(tgt(Tcp, "192.168.1.3", "8009", "", "", "rd.nvmf.discover=tcp,192.168.1.3,none,8009"))),
            ("rd.nvmf.discover=tcp,[fe80::1],,8009", Some(tgt(Tcp, "fe80::1", "8009", "", "", "rd.nvmf.discover=tcp,[fe80::1],,8009"))),
            ("rd.nvmf.discover=fc,nn-0x200400a098d85236:pn-0x201400a098d85236,nn-0x200000109b7db455:pn-0x100000109b7db455",
             Some(tgt(Fc, "nn-0x200400a098d85236:pn-0x201400a098d85236", "", "", "nn-0x200000109b7db455:pn-0x100000109b7db455",
                      "rd.nvmf.discover=fc,nn-0x200400a098d85236:pn-0x201400a098d85236,nn-0x200000109b7db455:pn-0x100000109b7db455"))),
            ("nvmf.discover=tcp,10.1.1.1", Some(tgt(Tcp, "10.1.1.1", "4420", "", "", "nvmf.discover=tcp,10.1.1.1"))),
            // Malformed.
            ("rd.nvmf.discover=tcp", None),
            ("rd.nvmf.discover=", None),
            ("rd.nvmf.discover", None),
            ("rd.nvmf.discover=tcp,1.2.3.4,,4420,extra", None),
            ("rd.nvmf.discover=tcp,,,4420", None),
            ("rd.nvmf.discover=fc,nn-0x1:pn-0x2", None),
            ("rd.nvmf.discover=loop,x", None),
            ("rd.nvmf.discover=TCP,1.2.3.4", None),
        ];
        for (line, want) in cases {
            let c = parse(line);
            assert_eq!(c.discover.first(), want.as_ref(), "{line}");
            assert_eq!(c.discover.len(), usize::from(want.is_some()), "{line}");
            let warned = !c.warnings.is_empty();
            let deprecated = line.starts_with("nvmf.");
            assert_eq!(
                warned,
                want.is_none() || deprecated,
                "{line}: {:?}",
                c.warnings
            );
        }
    }

    #[test]
    fn fc_auto_wins_and_stops() {
        let c = parse(
            "rd.nvmf.discover=tcp,1.1.1.1 rd.nvmf.discover=fc,auto rd.nvmf.discover=tcp,2.2.2.2",
        );
        assert!(c.fc_auto);
        assert!(c.discover.is_empty());
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    }

    #[test]
    fn connect_forms() {
        use Transport::*;
        let n = "nqn.2024-01.io.testbed:sub1";
        let cases: Vec<(String, Option<Target>)> = vec![
            (
                format!("rd.nvmf.connect=tcp,127.0.0.1,{n}"),
                Some(tgt(Tcp, "127.0.0.1", "4420", n, "", "")),
            ),
            (
                format!("rd.nvmf.connect=tcp,127.0.0.1,{n},8009"),
                Some(tgt(Tcp, "127.0.0.1", "8009", n, "", "")),
            ),
            (
                format!("rd.nvmf.connect=tcp,127.0.0.1,{n},,10.0.0.2"),
                Some(tgt(Tcp, "127.0.0.1", "4420", n, "10.0.0.2", "")),
            ),
            (
                format!("rd.nvmf.connect=rdma,10.0.0.1,{n},4421,10.0.0.2"),
                Some(tgt(Rdma, "10.0.0.1", "4421", n, "10.0.0.2", "")),
            ),
            (
                format!("rd.nvmf.connect=fc,nn-0x1:pn-0x2,{n},,nn-0x3:pn-0x4"),
                Some(tgt(Fc, "nn-0x1:pn-0x2", "", n, "nn-0x3:pn-0x4", "")),
            ),
            ("rd.nvmf.connect=tcp,127.0.0.1".to_string(), None),
            ("rd.nvmf.connect=tcp,127.0.0.1,,4420".to_string(), None),
            (format!("rd.nvmf.connect=tcp,,{n}"), None),
            (format!("rd.nvmf.connect=fc,nn-0x1:pn-0x2,{n}"), None),
            (format!("rd.nvmf.connect=xyz,1.1.1.1,{n}"), None),
            (
                format!("rd.nvmf.connect=tcp,1.1.1.1,{n},4420,1.1.1.2,extra"),
                None,
            ),
        ];
        for (line, want) in cases {
            let c = parse(&line);
            let want = want.map(|mut t| {
                t.arg = line.clone();
                t
            });
            assert_eq!(c.connect.first(), want.as_ref(), "{line}");
            assert_eq!(
                c.warnings.is_empty(),
                want.is_some(),
                "{line}: {:?}",
                c.warnings
            );
        }
    }

    #[test]
    fn switches_host_identity_and_aliases() {
        let c = parse("quiet rd.nonvmf");
        assert!(c.nonvmf && !c.active() && !c.nbft_allowed());
        let c = parse("rd.nonvmf=0 rd.nvmf.nonbft rd.nvmf.nostatic=1");
        assert!(!c.nonvmf && c.nonbft && c.nostatic && c.active() && !c.nbft_allowed());
        let c = parse("rd.nvmf.nonbft=no");
        assert!(c.nbft_allowed());
        let c = parse("rd.stacd=0");
        assert!(!c.active());
        let c = parse(
            "rd.nvmf.hostnqn=nqn.a rd.nvmf.hostnqn=nqn.b nvmf.hostid=1234 rd.nvmf.hostid= rd.nvmf.bogus=1",
        );
        assert_eq!(c.hostnqn.as_deref(), Some("nqn.b"), "the last one wins");
        assert_eq!(c.hostid.as_deref(), Some("1234"));
        let w = c.warnings.join("\n");
        for want in [
            "nvmf.hostid=1234: deprecated",
            "rd.nvmf.hostid=: empty",
            "unknown rd.nvmf parameter \"bogus\"",
        ] {
            assert!(w.contains(want), "{want} not in {w}");
        }
    }

    #[test]
    fn stacd_options() {
        let c = parse(
            "rd.stacd.ctrl_loss_tmo=-1 rd.stacd.timeout=7 rd.stacd.budget=20 rd.stacd.grace=0 \
             rd.stacd.wait=all rd.stacd.kato=15 rd.stacd.reconnect_delay=2 rd.stacd.debug \
             rd.stacd.nbft.net=0 rd.stacd.ifname=keep",
        );
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let s = &c.stacd;
        assert_eq!(s.params.ctrl_loss_tmo, Some(-1));
        assert_eq!(s.params.kato, Some(15));
        assert_eq!(s.params.reconnect_delay, Some(2));
        assert_eq!(s.timeout, Some(Duration::from_secs(7)));
        assert_eq!(s.budget, Some(Duration::from_secs(20)));
        assert_eq!(s.grace, Some(Duration::ZERO));
        assert_eq!(s.wait, Some(Wait::All));
        assert!(s.debug && s.enabled);
        let c = parse(
            "rd.stacd.ctrl_loss_tmo=-2 rd.stacd.timeout=0 rd.stacd.timeout=x rd.stacd.wait=some \
             rd.stacd.grace=-1 rd.stacd.bogus=1 rd.stacd.ctrl_loss_tmo=600 rd.stacd.ctrl_loss_tmo=abc",
        );
        assert_eq!(c.warnings.len(), 7, "{:?}", c.warnings);
        assert_eq!(
            c.stacd.params.ctrl_loss_tmo,
            Some(600),
            "a bad later value keeps the good one"
        );
        assert_eq!(
            (c.stacd.timeout, c.stacd.wait, c.stacd.grace),
            (None, None, None)
        );
    }

    // Issue 12 case 3: huge durations are capped, never an overflow.
    // Secrets echoed in warnings are hidden whatever their spelling.
    #[test]
    fn durations_capped_and_secrets_hidden() {
        let c = parse(
            "rd.stacd.budget=18446744073709551615 rd.stacd.grace=99999999999999999999999 \
             rd.stacd.timeout=31536000 rd.stacd.dhchap_key=DHHC-1:00:QK9HhYIk2Ii5KphoKc8ofDErT890kyeysw+BD34lZH/2dUMT: rd.nvmf.hostkey=S2 \
             rd.stacd.controller=transport=tcp,traddr=1.1.1.1,nqn=nqn.x,Dhchap_Secret=S3",
        );
        let year = crate::reconcile::engine::MAX_WAIT;
        assert_eq!((c.stacd.budget, c.stacd.grace), (Some(year), Some(year)));
        assert_eq!(c.stacd.timeout, Some(year));
        assert!(c.stacd.controllers.is_empty());
        let w = c.warnings.join("\n");
        assert_eq!(c.warnings.len(), 5, "{w}");
        assert!(w.contains("capped"), "{w}");
        assert!(
            !w.contains("S1") && !w.contains("S2") && !w.contains("S3"),
            "{w}"
        );
    }

    #[test]
    fn stacd_controller() {
        let c = parse(
            "rd.stacd.controller=transport=tcp,traddr=10.0.0.5,trsvcid=4420,nqn=nqn.x,hdr-digest=true,host-iface=eth1 \
             \"rd.stacd.controller=transport=tcp;traddr=10.0.0.6;nqn=nqn.y\" \
             rd.stacd.controller=transport=tcp,traddr=1.1.1.1,nqn=nqn.z,dhchap-secret=DHHC-1:00:o6Nwod3W/IHmeE8jkGKZ7VxshGPHpmvxmWWNiLto4ZYK2bNF: \
             rd.stacd.controller=",
        );
        assert_eq!(c.stacd.controllers.len(), 2);
        let e = &c.stacd.controllers[0];
        assert_eq!(
            (
                e.traddr.as_str(),
                e.subsysnqn.as_str(),
                e.host_iface.as_str()
            ),
            ("10.0.0.5", "nqn.x", "eth1")
        );
        assert_eq!(e.overrides.hdr_digest, Some(true));
        assert_eq!(c.stacd.controllers[1].subsysnqn, "nqn.y");
        let w = c.warnings.join("\n");
        assert_eq!(c.warnings.len(), 2, "{w}");
        assert!(w.contains("secrets do not belong"), "{w}");
        assert!(!w.contains("abc"), "{w}");
    }

    #[test]
    fn never_panics_on_odd_input() {
        for s in [
            "=",
            "==",
            "rd.nvmf.connect==,,",
            "rd.stacd.=",
            "\"",
            "rd.nvmf.discover=,,,,",
            "rd.stacd.wait",
            "\u{0}\u{feff}rd.nonvmf",
        ] {
            let _ = parse(s);
        }
    }

    /// dracut's order: /etc/cmdline.d/*.conf by name, /etc/cmdline,
    /// /proc/cmdline; the kernel's wins, lists keep every source's entries,
    /// and one source's stray quote or `--` stays inside it.
    #[test]
    fn load_reads_what_an_image_baked_in_first() {
        use crate::sources::config::tests::TempDir;
        let d = TempDir::new("cmdline-d");
        d.write(
            &format!("{}/50-b.conf", rel::CMDLINE_D),
            b"rd.nvmf.connect=tcp,10.0.0.2,nqn.b\n",
        );
        d.write(
            &format!("{}/10-a.conf", rel::CMDLINE_D),
            b"rd.stacd.wait=root rd.stacd.grace=2\nrd.nvmf.connect=tcp,10.0.0.1,nqn.a",
        );
        d.write(&format!("{}/90-c.txt", rel::CMDLINE_D), b"rd.stacd=0");
        d.write(
            &format!("{}/95-d.conf", rel::CMDLINE_D),
            b"rd.stacd.timeout=3 \"open --",
        );
        d.write(rel::ETC_CMDLINE, b"rd.stacd.budget=7");
        d.write(
            rel::CMDLINE,
            b"quiet rd.stacd.wait=none rd.nvmf.connect=tcp,10.0.0.3,nqn.c\n",
        );
        let c = load(&Root::new(&d.0));
        assert!(c.active(), "a file without .conf is not read");
        assert_eq!(c.stacd.wait, Some(Wait::None), "the kernel's value wins");
        assert_eq!(c.stacd.grace, Some(Duration::from_secs(2)));
        assert_eq!(c.stacd.budget, Some(Duration::from_secs(7)));
        assert_eq!(c.stacd.timeout, Some(Duration::from_secs(3)));
        let addrs: Vec<&str> = c.connect.iter().map(|t| t.traddr.as_str()).collect();
        assert_eq!(
            addrs,
            ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
            "files by name, then the kernel's"
        );
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);

        // Without any file: only the kernel's command line, as before.
        let e = TempDir::new("cmdline-none");
        e.write(rel::CMDLINE, b"rd.stacd.wait=all");
        assert_eq!(load(&Root::new(&e.0)).stacd.wait, Some(Wait::All));
        // Nothing at all: empty, no warning.
        let n = TempDir::new("cmdline-nothing");
        let c = load(&Root::new(&n.0));
        assert!(c.connect.is_empty() && c.warnings.is_empty() && c.active());
    }
}
