//! What is shipped beside the binary, checked against the code: the
//! configuration files (etc/stas/), the man pages (man/) and the systemd
//! unit (etc/systemd/). A key, an option or a default that changes in the
//! code without its documentation fails here.

use stacd::base::root::{rel, Root};
use stacd::sources::config::host::{self, SYS_CONF_KEYS};
use stacd::sources::config::{
    parse_stacd_conf, StacdConf, CONTROLLERS, CONTROLLER_KEYS, KEYS, SECTIONS,
};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The binary under test: `$STACD_TEST_BIN` (ci/test sets it to the static
/// release build; relative to the source tree), else the one cargo built
/// for the tests. Absolute, since a link elsewhere points to it.
fn bin() -> PathBuf {
    let p = std::env::var_os("STACD_TEST_BIN")
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_stacd")), PathBuf::from);
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("stacd-shipped-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("scratch dir");
        Scratch(p)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------
// Configuration files: "# key: ..." blocks with Type/Range/Default lines,
// then "#key=value" for a default (the layout the files' headers explain).

#[derive(Debug, Default)]
struct KeyDoc {
    section: String,
    key: String,
    ty: String,
    range: Option<String>,
    default: String,
    /// The value of the `#key=value` line, and that line's number (1-based).
    default_line: Option<(String, usize)>,
}

/// `key` when `line` is `#key=value` (no space after `#`).
fn default_line(line: &str) -> Option<(&str, &str)> {
    let (k, v) = line.strip_prefix('#')?.split_once('=')?;
    let name = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    (!k.is_empty() && k.chars().all(name)).then_some((k, v))
}

fn key_docs(text: &str) -> Vec<KeyDoc> {
    let mut out: Vec<KeyDoc> = Vec::new();
    let mut section = String::new();
    let mut open = false;
    for (i, line) in text.lines().enumerate() {
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.to_string();
            open = false;
            continue;
        }
        if line.trim().is_empty() {
            open = false;
            continue;
        }
        let head = line.strip_prefix("# ").and_then(|l| l.split_once(": "));
        if let Some((k, _)) = head
            .filter(|(k, _)| !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        {
            out.push(KeyDoc {
                section: section.clone(),
                key: k.to_string(),
                ..Default::default()
            });
            open = true;
            continue;
        }
        let Some(d) = out.last_mut().filter(|_| open) else {
            continue;
        };
        let field = |name: &str| {
            line.strip_prefix('#')
                .map(str::trim_start)
                .and_then(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_string())
        };
        if let Some(v) = field("Type:") {
            d.ty = v;
        } else if let Some(v) = field("Range:") {
            d.range = Some(v);
        } else if let Some(v) = field("Default:") {
            d.default = v;
        } else if let Some((k, v)) = default_line(line) {
            assert_eq!(k, d.key, "line {}: default of another key", i + 1);
            d.default_line = Some((v.to_string(), i + 1));
        }
    }
    out
}

/// The file with every `#key=value` default line uncommented.
fn uncommented(text: &str) -> String {
    let lines = text.lines().map(|l| match default_line(l) {
        Some(_) => &l[1..],
        None => l,
    });
    lines.collect::<Vec<_>>().join("\n")
}

fn parse_conf(text: &str) -> (StacdConf, Vec<String>) {
    let (c, w) = parse_stacd_conf(text, Path::new("stacd.conf")).expect("parses");
    (c, w.iter().map(ToString::to_string).collect())
}

fn is_repeatable(d: &KeyDoc) -> bool {
    d.ty.contains("repeatable")
}

#[test]
fn stacd_conf_documents_every_key_and_only_those() {
    let docs = key_docs(&read("etc/stas/stacd.conf"));
    let documented: BTreeSet<(String, String)> = docs
        .iter()
        .map(|d| (d.section.clone(), d.key.clone()))
        .collect();
    let known: BTreeSet<(String, String)> = KEYS
        .iter()
        .map(|(s, k)| (s.to_string(), k.to_string()))
        .collect();
    assert_eq!(documented, known);
    assert_eq!(documented.len(), docs.len(), "a key is documented twice");
    for d in &docs {
        assert!(!d.ty.is_empty(), "{}: no Type:", d.key);
        assert!(!d.default.is_empty(), "{}: no Default:", d.key);
        assert_eq!(d.range.is_none(), is_repeatable(d), "{}: Range:", d.key);
        match &d.default_line {
            Some((v, _)) => assert_eq!(
                d.default.split_whitespace().next(),
                Some(v.as_str()),
                "{}: Default: and the #{}= line disagree",
                d.key,
                d.key
            ),
            None => assert!(
                d.default.starts_with("unset") || d.default.starts_with("none"),
                "{}: a default other than unset/none needs a #{}= line",
                d.key,
                d.key
            ),
        }
    }
    // The sections appear in the file in SECTIONS' order.
    let order: Vec<&str> = docs.iter().map(|d| d.section.as_str()).collect();
    let mut seen: Vec<&str> = order.clone();
    seen.dedup();
    assert_eq!(seen, SECTIONS);
}

#[test]
fn stacd_conf_defaults_are_the_codes() {
    let text = read("etc/stas/stacd.conf");
    let defaults = StacdConf::defaults(Path::new("stacd.conf"));
    // As shipped: everything commented out, no warning.
    assert_eq!(parse_conf(&text), (defaults.clone(), vec![]));
    // Every default uncommented: still no warning, still the defaults.
    let on = uncommented(&text);
    assert_ne!(on, text);
    assert_eq!(parse_conf(&on), (defaults.clone(), vec![]));
    // "unset" is what the code has: the key's field is None by default.
    let params = format!("{:?}", defaults.params);
    for d in key_docs(&text)
        .iter()
        .filter(|d| d.default.starts_with("unset"))
    {
        let field = format!("{}: None", d.key.replace('-', "_"));
        assert!(params.contains(&field), "{}: not unset in {params}", d.key);
    }
}

#[test]
fn a_controller_line_appended_to_the_shipped_file_is_used() {
    // What nvme-stas users do (`echo controller=... >> stacd.conf`): the
    // file must end in [Controllers].
    let mut text = read("etc/stas/stacd.conf");
    text.push_str("controller = transport=tcp;traddr=192.0.2.10;nqn=nqn.2014-08.com.example:s1\n");
    let (c, w) = parse_conf(&text);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.controllers.len(), 1);
}

/// Values a documented Range says are valid, and values just outside it.
fn range_samples(range: &str) -> (Vec<String>, Vec<String>) {
    if let Some(list) = range.strip_prefix('[').and_then(|r| r.split_once(']')) {
        let items: Vec<String> = list.0.split(", ").map(String::from).collect();
        let mut good = items.clone();
        let mut bad = vec!["bogus".to_string()];
        if list.1.contains("joined by") {
            good.push(items.join("+"));
            bad.push("loop".into());
        }
        return (good, bad);
    }
    if let Some((lo, hi)) = range.split_once("..") {
        let (lo, hi): (i64, i64) = (lo.parse().expect("lo"), hi.parse().expect("hi"));
        let s = |v: i64| v.to_string();
        return (vec![s(lo), s(hi)], vec![s(lo - 1), s(hi + 1)]);
    }
    assert_eq!(range, "integer", "unknown Range form");
    (
        vec!["-1".into(), "0".into(), "7".into()],
        vec!["seven".into(), "0x10".into()],
    )
}

#[test]
fn stacd_conf_ranges_are_what_the_parser_accepts() {
    for d in key_docs(&read("etc/stas/stacd.conf")) {
        let Some(range) = &d.range else { continue };
        let (good, bad) = range_samples(range);
        for v in good {
            let (_, w) = parse_conf(&format!("[{}]\n{}={v}\n", d.section, d.key));
            assert!(w.is_empty(), "{} = {v:?}: {w:?}", d.key);
        }
        for v in bad {
            let (_, w) = parse_conf(&format!("[{}]\n{}={v}\n", d.section, d.key));
            assert_eq!(w.len(), 1, "{} = {v:?} should be refused: {w:?}", d.key);
        }
    }
}

#[test]
fn stacd_conf_names_every_controller_key() {
    let text = read("etc/stas/stacd.conf");
    let doc = key_docs(&text);
    assert!(doc
        .iter()
        .any(|d| d.section == CONTROLLERS && d.key == "controller" && is_repeatable(d)));
    // The controller block: from its heading to the next blank line.
    let start = text.find("\n# controller:").expect("controller block");
    let block = &text[start..];
    let block = &block[..block.find("\n\n").unwrap_or(block.len())];
    let words: BTreeSet<&str> = block
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .collect();
    for k in CONTROLLER_KEYS {
        assert!(words.contains(k), "controller key {k} is not described");
    }
    // Its examples parse without warnings.
    for ex in block.lines().filter_map(|l| {
        l.trim_start_matches('#')
            .trim()
            .strip_prefix("controller = ")
    }) {
        let (c, w) = parse_conf(&format!("[Controllers]\ncontroller = {ex}\n"));
        assert!(w.is_empty() && c.controllers.len() == 1, "{ex}: {w:?}");
        assert!(c.controllers[0].extras.is_empty(), "{ex}");
    }
}

#[test]
fn sys_conf_doc_documents_every_key_and_its_defaults_hold() {
    let text = read("etc/stas/sys.conf.doc");
    let docs = key_docs(&text);
    let documented: BTreeSet<&str> = docs.iter().map(|d| d.key.as_str()).collect();
    assert_eq!(documented, SYS_CONF_KEYS.iter().copied().collect());
    assert!(docs
        .iter()
        .all(|d| d.section == "Host" && !d.default.is_empty()));
    // A root with nvme-cli's files; the same identity with no sys.conf, with
    // the shipped file and with its defaults uncommented.
    let s = Scratch::new("sysconf");
    s.write(
        rel::HOSTNQN,
        "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000001\n",
    );
    s.write(rel::HOSTID, "00000000-0000-4000-8000-000000000001\n");
    s.write(
        rel::HOSTKEY,
        "DHHC-1:00:zb3HJGLMxWeeTKWVzOHKPuqMkPVXYQf7FhEf62vyAT7ERCvv:\n",
    );
    let root = Root::new(&s.0);
    // A key readable by others is warned about (ssh's rule): not here.
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o600);
    std::fs::set_permissions(root.path(rel::HOSTKEY), mode).expect("chmod");
    let sys = root.path(rel::SYS_CONF);
    let (plain, w) = host::load_host(&root, &sys).expect("identity");
    assert!(w.is_empty(), "{w:?}");
    for content in [text.clone(), uncommented(&text)] {
        s.write(rel::SYS_CONF, &content);
        let (h, w) = host::load_host(&root, &sys).expect("identity");
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            (&h.nqn, &h.id, &h.key, &h.symname),
            (&plain.nqn, &plain.id, &plain.key, &plain.symname)
        );
    }
    assert_ne!(uncommented(&text), text);
}

// ---------------------------------------------------------------------
// Man pages.

/// Roff source to plain text: escapes and font changes removed.
fn deroff(s: &str) -> String {
    let mut t = s.to_string();
    for (from, to) in [
        ("\\fB", ""),
        ("\\fI", ""),
        ("\\fR", ""),
        ("\\fP", ""),
        ("\\-", "-"),
        ("\\(em", "-"),
        ("\\(aq", "'"),
        ("\\(bu", "*"),
        ("\\&", ""),
        ("\"", ""),
    ] {
        t = t.replace(from, to);
    }
    // Font macros: `.BR a b` → `a b`.
    if let Some(rest) = t.strip_prefix('.') {
        if let Some((m, args)) = rest.split_once(' ') {
            if ["B", "I", "BR", "BI", "IR", "RB", "IB", "RI"].contains(&m) {
                return args.to_string();
            }
        }
    }
    t
}

/// The source lines of section `name` (`.SH name` up to the next `.SH`).
fn section<'a>(page: &'a str, name: &str) -> Vec<&'a str> {
    let mut lines = page
        .lines()
        .skip_while(|l| l.strip_prefix(".SH ").map(|h| h.trim_matches('"')) != Some(name));
    assert!(lines.next().is_some(), "no section {name}");
    lines.take_while(|l| !l.starts_with(".SH ")).collect()
}

/// The tag lines (the line after each `.TP`/`.TQ`) of `lines`, de-roffed;
/// `nested` chooses the tags inside `.RS`/`.RE` (true) or outside (false).
fn tags(lines: &[&str], nested: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut next = false;
    for l in lines {
        match *l {
            ".RS" => depth += 1,
            ".RE" => depth -= 1,
            ".TP" | ".TQ" => next = true,
            _ if next => {
                if (depth > 0) == nested {
                    out.push(deroff(l));
                }
                next = false;
            }
            _ => {}
        }
    }
    out
}

/// Option names (`-x`, `--long-name`) in `text`.
fn options(text: &str) -> BTreeSet<String> {
    text.split(|c: char| c.is_whitespace() || matches!(c, ',' | '[' | ']' | '|' | '(' | ')'))
        .filter(|w| w.starts_with('-') && w.len() > 1)
        .filter(|w| {
            w.trim_start_matches('-')
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '-')
        })
        .filter(|w| {
            w.trim_start_matches('-')
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase())
        })
        .map(String::from)
        .collect()
}

fn run(cmd: &Path, args: &[&str]) -> String {
    let o = Command::new(cmd).args(args).output().expect("run");
    assert_eq!(o.status.code(), Some(0), "{cmd:?} {args:?}");
    String::from_utf8(o.stdout).expect("utf-8")
}

/// The options in the "Options:"/"options:" part of a --help text.
fn help_options(help: &str) -> BTreeSet<String> {
    let body = help
        .split_once("Options:\n")
        .or_else(|| help.split_once("options:\n"))
        .expect("an options part")
        .1;
    body.lines()
        .filter(|l| l.trim_start().starts_with('-'))
        .flat_map(|l| options(l.trim_start().split("  ").next().unwrap_or("")))
        .collect()
}

#[test]
fn stacd_8_options_are_what_the_binary_accepts() {
    let page = read("man/stacd.8");
    let help = help_options(&run(&bin(), &["--help"]));
    assert!(
        help.contains("--conf-file") && help.contains("--once"),
        "{help:?}"
    );
    let documented: BTreeSet<String> = tags(&section(&page, "OPTIONS"), false)
        .iter()
        .flat_map(|t| options(t))
        .collect();
    // The binary takes what --help lists, and the spellings normalise()
    // rewrites into those (-h).
    let accepted = |o: &String| {
        let n = stacd::app::cli::normalise(std::slice::from_ref(o));
        n.first().is_some_and(|f| help.contains(f))
    };
    for o in &documented {
        assert!(
            accepted(o),
            "stacd(8) documents {o}, the binary does not take it"
        );
    }
    for o in &help {
        assert!(documented.contains(o), "{o} is not documented in stacd(8)");
    }
    let synopsis: String = section(&page, "SYNOPSIS")
        .iter()
        .map(|l| deroff(l) + " ")
        .collect();
    for o in options(&synopsis) {
        assert!(accepted(&o), "SYNOPSIS: {o}");
    }
}

#[test]
fn stacd_8_exit_codes_and_kernel_parameters() {
    use stacd::app::exit::*;
    let page = read("man/stacd.8");
    let codes: Vec<String> = tags(&section(&page, "EXIT STATUS"), false);
    let want: Vec<String> = [OK, RUNTIME, USAGE, SOME_MISSING, NONE_LIVE]
        .iter()
        .map(u8::to_string)
        .collect();
    assert_eq!(codes, want);
    let params = tags(&section(&page, "KERNEL COMMAND LINE"), false);
    assert!(params.len() > 10, "{params:?}");
    for p in params {
        let name = p.split(['=', ' ']).next().unwrap_or_default();
        assert!(name.starts_with("rd."), "{p}");
        let c = stacd::sources::boot::cmdline::parse(&format!("{name}=1"));
        assert!(
            c.warnings.iter().all(|w| !w.contains("unknown")),
            "{name}: {:?}",
            c.warnings
        );
    }
    // A name the parser does not know is reported, so the check above bites.
    let c = stacd::sources::boot::cmdline::parse("rd.stacd.bogus=1");
    assert!(c.warnings.iter().any(|w| w.contains("unknown")));
}

#[cfg(feature = "dbus")]
#[test]
fn stacctl_1_commands_and_options_are_what_the_binary_accepts() {
    let page = read("man/stacctl.1");
    let s = Scratch::new("stacctl");
    let link = s.0.join("stacctl");
    std::os::unix::fs::symlink(bin(), &link).expect("link");
    let help = run(&link, &["--help"]);
    let cmds: BTreeSet<String> = help
        .split_once('{')
        .and_then(|(_, r)| r.split_once('}'))
        .expect("{commands}")
        .0
        .split(',')
        .map(String::from)
        .collect();
    let documented: BTreeSet<String> = tags(&section(&page, "COMMANDS"), false)
        .into_iter()
        .collect();
    assert_eq!(documented, cmds);
    let opts: BTreeSet<String> = tags(&section(&page, "OPTIONS"), false)
        .iter()
        .flat_map(|t| options(t))
        .collect();
    assert_eq!(opts, help_options(&help));
    let ls: BTreeSet<String> = tags(&section(&page, "COMMANDS"), true)
        .iter()
        .flat_map(|t| options(t))
        .collect();
    let mut ls_help = help_options(&run(&link, &["ls", "--help"]));
    ls_help.retain(|o| o != "-h" && o != "--help");
    assert_eq!(ls, ls_help);
}

#[test]
fn stacd_conf_5_documents_every_key() {
    let page = read("man/stacd.conf.5");
    let first_word = |t: &String| t.split_whitespace().next().unwrap_or_default().to_string();
    for s in SECTIONS {
        let documented: BTreeSet<String> = tags(&section(&page, &format!("[{s}]")), false)
            .iter()
            .map(first_word)
            .collect();
        let known: BTreeSet<String> = KEYS
            .iter()
            .filter(|(ks, _)| ks == s)
            .map(|(_, k)| k.to_string())
            .collect();
        assert_eq!(documented, known, "[{s}]");
    }
    let ctrl: BTreeSet<String> = tags(&section(&page, "[Controllers]"), true)
        .iter()
        .flat_map(|t| {
            t.split(", ")
                .map(|k| k.trim().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        ctrl,
        CONTROLLER_KEYS.iter().map(|k| k.to_string()).collect()
    );
    let sys: BTreeSet<String> = tags(&section(&page, "sys.conf: [Host]"), false)
        .iter()
        .map(first_word)
        .collect();
    assert_eq!(sys, SYS_CONF_KEYS.iter().map(|k| k.to_string()).collect());
    // Its example parses without a warning.
    let ex: String = section(&page, "EXAMPLE")
        .iter()
        .filter(|l| !l.starts_with(".E"))
        .map(|l| deroff(l) + "\n")
        .collect();
    let (c, w) = parse_conf(&ex);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!((c.controllers.len(), c.excludes.len()), (2, 1));
    assert_eq!(c.params.kato, Some(30));
}

#[test]
fn man_pages_are_clean_roff() {
    for page in ["man/stacd.8", "man/stacd.conf.5", "man/stacctl.1"] {
        let o = Command::new("groff")
            .args(["-man", "-ww", "-z"])
            .arg(repo(page))
            .output()
            .expect("groff (Debian: groff-base) is needed to check the man pages");
        assert!(o.status.success(), "{page}");
        assert_eq!(String::from_utf8_lossy(&o.stderr), "", "{page}");
    }
}

// ---------------------------------------------------------------------
// The systemd unit: the contract docs/install.md explains.

fn unit() -> Vec<(String, String)> {
    read("etc/systemd/stacd.service")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn values(u: &[(String, String)], key: &str) -> Vec<String> {
    u.iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .collect()
}

#[test]
fn unit_keeps_its_contract() {
    let u = unit();
    let one = |k: &str| {
        let v = values(&u, k);
        assert_eq!(v.len(), 1, "{k}: {v:?}");
        v[0].clone()
    };
    // src/app/daemon.rs sends READY=1, RELOADING=1 and STOPPING=1; SIGHUP reloads.
    assert_eq!(one("Type"), "notify");
    assert_eq!(one("ExecReload"), "/bin/kill -HUP $MAINPID");
    // The path the Makefile rewrites, and syslog as nvme-stas's unit has it.
    assert_eq!(one("ExecStart"), "/usr/sbin/stacd --syslog");
    // Stopping must never disconnect: no ExecStop.
    assert!(values(&u, "ExecStop").is_empty() && values(&u, "ExecStopPost").is_empty());
    // The state directory is the code's, and survives stop and restart.
    assert_eq!(format!("run/{}", one("RuntimeDirectory")), rel::RUN_DIR);
    assert_eq!(one("RuntimeDirectoryPreserve"), "yes");
    // Ordered before remote file systems (stopped after they are unmounted),
    // and never waiting for network-online.
    assert!(values(&u, "Before")
        .iter()
        .any(|v| v.split(' ').any(|x| x == "remote-fs-pre.target")));
    assert!(u.iter().all(|(_, v)| !v.contains("network-online")));
    // What the daemon needs stays reachable.
    assert!(values(&u, "DeviceAllow")
        .iter()
        .any(|v| v.starts_with("/dev/nvme-fabrics rw")));
    assert!(values(&u, "DeviceAllow")
        .iter()
        .any(|v| v.starts_with("char-nvme rw")));
    for k in [
        "ProtectKernelTunables",
        "PrivateDevices",
        "PrivateNetwork",
        "IPAddressDeny",
        "ProcSubset",
    ] {
        assert!(values(&u, k).is_empty(), "{k} would break stacd");
    }
    let families = one("RestrictAddressFamilies");
    for f in ["AF_UNIX", "AF_NETLINK"] {
        assert!(families.split(' ').any(|x| x == f), "{f}");
    }
}
