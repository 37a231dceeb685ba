//! The command line of stacd(8), and `main`.
//!
//! argh alone rejects `-h`, `--conf-file=FILE`, `-fFILE` and combined
//! switches (`-sv`), and exits 1 on errors where argparse (the original)
//! exits 2 (../spec/crates.md §4). [`normalise`] rewrites argv first so every
//! spelling of the man page works, and errors exit 2 with a one-line reason.

use crate::boot::{self, BootInputs, Sources};
use crate::config::{self, host};
use crate::daemon::{Daemon, Inputs};
use crate::discovery::Discoverer;
use crate::engine::{Engine, Retry};
use crate::exit::{self, Fatal};
use crate::kernel::fabrics::{DevFabrics, Fabrics, Inert};
use crate::netif::IfAddrs;
use crate::root::{rel, Root};
use crate::state::Store;
use crate::{cmdline, handoff, logging, nbft, once};
use argh::FromArgs;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Default `--once` budget, seconds.
pub const DEFAULT_TIMEOUT: u64 = 30;

#[derive(FromArgs, Debug, PartialEq, Eq)]
/// STorage Appliance Connector (STAC): connects this host to its NVMe-oF I/O
/// controllers. Must be root to run this program.
pub struct Args {
    /// configuration file (default: /etc/stas/stacd.conf)
    #[argh(option, short = 'f', arg_name = "FILE")]
    pub conf_file: Option<String>,
    /// log to syslog (/dev/log, else /dev/kmsg) instead of stderr
    #[argh(switch, short = 's')]
    pub syslog: bool,
    /// trace on: log debug messages (stays on across reloads)
    #[argh(switch)]
    pub tron: bool,
    /// print the version, then exit
    #[argh(switch, short = 'v')]
    pub version: bool,
    /// write the D-Bus introspection XML to FILE, then exit
    #[argh(option, arg_name = "FILE")]
    pub idl: Option<String>,
    /// connect what is wanted, wait until live or --timeout, print one
    /// line per controller, exit (0 all live, 3 some, 4 none)
    #[argh(switch)]
    pub once: bool,
    /// seconds --once waits (default 30)
    #[argh(option, arg_name = "SECS")]
    pub timeout: Option<u64>,
    /// print what would be connected, adopted or disconnected, then exit
    #[argh(switch)]
    pub dry_run: bool,
    /// print the firmware's NBFT tables, decoded, then exit
    #[argh(switch)]
    pub dump_nbft: bool,
    /// do not use the NBFT (as [Standalone] nbft=false)
    #[argh(switch)]
    pub no_nbft: bool,
    /// do not use the kernel command line's rd.nvmf.*/rd.stacd.*
    #[argh(switch)]
    pub no_cmdline: bool,
    /// do not follow discovery controllers
    #[argh(switch)]
    pub no_discovery: bool,
}

/// Short options that take a value; the other short letters are switches.
const SHORT_WITH_VALUE: &[char] = &['f'];
const SHORT_SWITCHES: &[char] = &['s', 'v', 'h'];
const LONG_WITH_VALUE: &[&str] = &["--conf-file", "--idl", "--timeout"];

/// Rewrite argv (without the program name) into what argh accepts:
/// `-h` → `--help`, `--opt=V` → `--opt V`, `-fV`/`-f=V` → `-f V`,
/// `-sv` → `-s -v`. Everything after `--` is left alone.
pub fn normalise(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len() + 2);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--" {
            out.push(a.clone());
            out.extend(it.cloned());
            break;
        }
        if let Some((k, v)) = a
            .split_once('=')
            .filter(|(k, _)| LONG_WITH_VALUE.contains(k))
        {
            out.push(k.to_string());
            out.push(v.to_string());
            continue;
        }
        let short = a
            .strip_prefix('-')
            .filter(|r| !r.starts_with('-') && !r.is_empty());
        match short {
            Some(r) => {
                for (i, c) in r.char_indices() {
                    if SHORT_WITH_VALUE.contains(&c) {
                        out.push(format!("-{c}"));
                        let rest = &r[i + c.len_utf8()..];
                        let rest = rest.strip_prefix('=').unwrap_or(rest);
                        if !rest.is_empty() {
                            out.push(rest.to_string());
                        }
                        break;
                    } else if c == 'h' {
                        out.push("--help".into());
                    } else if SHORT_SWITCHES.contains(&c) {
                        out.push(format!("-{c}"));
                    } else {
                        // Unknown: hand the original to argh for its message.
                        out.push(a.clone());
                        break;
                    }
                }
            }
            None => out.push(a.clone()),
        }
    }
    out
}

/// Parse argv; `Err(code)` after printing help (0) or a usage error (2).
pub fn parse(prog: &str, args: &[String]) -> Result<Args, u8> {
    let norm = normalise(args);
    let refs: Vec<&str> = norm.iter().map(String::as_str).collect();
    match Args::from_args(&[prog], &refs) {
        Ok(a) => {
            if a.timeout.is_some() && !a.once {
                eprintln!("{prog}: --timeout only applies to --once");
                return Err(exit::USAGE);
            }
            if a.once && a.dry_run {
                eprintln!("{prog}: --once and --dry-run exclude each other");
                return Err(exit::USAGE);
            }
            Ok(a)
        }
        Err(early) => match early.status {
            Ok(()) => {
                print!("{}", wrap80(&early.output));
                Err(exit::OK)
            }
            Err(()) => {
                let first = early.output.lines().next().unwrap_or("invalid arguments");
                eprintln!("{prog}: {first}\nTry '{prog} --help' for more information.");
                Err(exit::USAGE)
            }
        },
    }
}

/// argh does not wrap its usage and description lines; stacd(8)'s help
/// must fit 80 columns. Long lines are broken at spaces; continuation lines
/// keep the usage line's or the option column's indentation.
pub fn wrap80(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.lines() {
        let indent = if line.starts_with("Usage: ") {
            "Usage: ".len()
        } else {
            line.len() - line.trim_start().len()
        };
        let lead = line.len() - line.trim_start().len();
        let mut cur = line[..lead].to_string();
        for word in line[lead..].split(' ') {
            if cur.len() > lead && cur.len() + 1 + word.len() > 80 {
                out.push_str(cur.trim_end());
                out.push('\n');
                cur = " ".repeat(indent);
            } else if cur.len() > lead {
                cur.push(' ');
            }
            cur.push_str(word);
        }
        out.push_str(cur.trim_end());
        out.push('\n');
    }
    out
}

fn preflight(root: &Root) -> Result<(), Fatal> {
    if root.is_system() && !rustix::process::geteuid().is_root() {
        return Err(Fatal::Runtime(
            "Permission denied. You need root privileges to run stacd.".into(),
        ));
    }
    let dev = root.path(rel::FABRICS);
    match std::fs::metadata(&dev) {
        Err(_) => Err(Fatal::Runtime(format!(
            "Fatal error: missing nvme-fabrics kernel module: {} does not exist (modprobe nvme-tcp)",
            dev.display()
        ))),
        Ok(m) if !std::os::unix::fs::FileTypeExt::is_char_device(&m.file_type()) => {
            Err(Fatal::Runtime(format!("{} is not a character device", dev.display())))
        }
        Ok(_) => Ok(()),
    }
}

/// `--idl FILE`: the introspection XML of org.nvmexpress.stac (§6.3).
#[cfg(feature = "dbus")]
fn write_idl(file: &str) -> Result<u8, Fatal> {
    std::fs::write(file, crate::dbus::service::idl())
        .map_err(|e| Fatal::Runtime(format!("--idl: cannot write {file}: {e}")))?;
    Ok(exit::OK)
}

#[cfg(not(feature = "dbus"))]
fn write_idl(file: &str) -> Result<u8, Fatal> {
    Err(Fatal::Runtime(format!(
        "--idl {file}: D-Bus is not built into this stacd (built without the dbus feature); nothing written"
    )))
}

/// `stacctl` (a link to this binary, stacd-spec.md §7).
#[cfg(feature = "dbus")]
fn stacctl(args: &[String]) -> u8 {
    crate::dbus::ctl::main(args)
}

#[cfg(not(feature = "dbus"))]
fn stacctl(_: &[String]) -> u8 {
    eprintln!("stacctl: D-Bus is not built into this binary (built without the dbus feature)");
    exit::RUNTIME
}

fn run(prog: &str, a: Args) -> Result<u8, Fatal> {
    if a.version {
        println!("stacd {VERSION}");
        println!(
            "nvme-stas 3.0 compatible; features:{}",
            if cfg!(feature = "dbus") {
                " dbus"
            } else {
                " (no dbus)"
            }
        );
        return Ok(exit::OK);
    }
    if let Some(f) = &a.idl {
        return write_idl(f);
    }
    let root = Root::from_env();
    if a.dump_nbft {
        return Ok(dump_nbft(&root));
    }
    logging::init(&root, "stacd", a.syslog, a.tron);
    if !a.dry_run {
        preflight(&root)?;
    }
    let conf_path = a
        .conf_file
        .as_ref()
        .map_or_else(|| root.path(rel::STACD_CONF), PathBuf::from);
    let (conf, warnings) =
        config::load_stacd_conf(&conf_path).map_err(|e| Fatal::Usage(e.to_string()))?;
    for w in &warnings {
        log::warn!("{w}");
    }
    logging::set_debug(a.tron || conf.tron);
    // Boot inputs first: they come first in the host identity's precedence.
    let sources = Sources::new(&conf, a.no_nbft, a.no_cmdline, a.no_discovery);
    let bi = BootInputs::load(&root, sources);
    for w in &bi.warnings {
        log::warn!("{w}");
    }
    for i in &bi.infos {
        log::info!("{i}");
    }
    if bi.cmdline.stacd.debug && sources.cmdline {
        logging::set_debug(true);
    }
    let (host, hw) = host::resolve_host(&root, &root.path(rel::SYS_CONF), &bi.early_hosts())
        .map_err(|e| Fatal::Usage(e.to_string()))?;
    for w in &hw {
        log::warn!("{w}");
    }
    let net = if bi.needs_net() {
        IfAddrs::load().unwrap_or_else(|e| {
            log::warn!("cannot read the interface table ({e}); NBFT paths get no host-iface");
            IfAddrs::default()
        })
    } else {
        IfAddrs::default()
    };
    let mut notes = Vec::new();
    let boot_wanted = bi.wanted(&conf, &host, &net, &mut notes);
    let boot_dcs = bi.discovery_targets(&conf, &host, &net, &mut notes);
    for n in &notes {
        log::warn!("{n}");
    }
    let store = Store::new(&root.run_dir());
    let inputs = Inputs {
        boot: boot_wanted,
        ..Default::default()
    };

    if a.dry_run {
        let mut engine = Engine::new(&root, Arc::new(Inert), store, Retry::DAEMON);
        engine.set_policy(conf.disconnect_scope, &conf.disconnect_trtypes);
        engine.set_wanted(inputs.desired(&conf, &host));
        let plan = engine.plan(Instant::now());
        for act in &plan.actions {
            println!("{act}");
        }
        let mut dcs = boot_dcs;
        dcs.extend(boot::config_discovery_targets(
            &conf,
            &host,
            &mut Vec::new(),
        ));
        for d in &dcs {
            println!("discover {} ({})", d.id, d.origin);
        }
        if plan.actions.is_empty() && dcs.is_empty() {
            println!("nothing wanted, nothing owned");
        }
        return Ok(exit::OK);
    }

    let kernel: Arc<dyn Fabrics> = Arc::new(DevFabrics::new(&root));
    if a.once {
        let mut engine = Engine::new(&root, kernel.clone(), store, Retry::ONCE);
        let stacd_args = &bi.cmdline.stacd;
        let budget = a
            .timeout
            .map(Duration::from_secs)
            .or(stacd_args.budget.filter(|_| sources.cmdline))
            .unwrap_or(Duration::from_secs(DEFAULT_TIMEOUT));
        let per_attempt = stacd_args
            .timeout
            .filter(|_| sources.cmdline)
            .unwrap_or(engine.retry.deadline);
        engine.retry.deadline = per_attempt.min(budget);
        // --once never disconnects: it only adds what is wanted.
        engine.set_policy(config::DisconnectScope::NoDisconnect, &[]);
        engine.set_wanted(inputs.desired(&conf, &host));
        let mut disc = Discoverer::new(&root, kernel, false, engine.retry);
        let mut dcs = boot_dcs;
        dcs.extend(boot::config_discovery_targets(
            &conf,
            &host,
            &mut Vec::new(),
        ));
        disc.set_targets(dcs);
        let merge = |discovered| {
            let i = Inputs {
                boot: inputs.boot.clone(),
                discovered,
                stafd: Vec::new(),
            };
            Some(i.desired(&conf, &host))
        };
        let policy = once::Policy {
            wait: stacd_args
                .wait
                .filter(|_| sources.cmdline)
                .unwrap_or(cmdline::Wait::All),
            grace: stacd_args
                .grace
                .filter(|_| sources.cmdline)
                .unwrap_or(once::Policy::default().grace),
        };
        let code = once::run_boot(
            &mut engine,
            (!disc.is_empty()).then_some(&mut disc),
            &merge,
            budget,
            policy,
            &mut std::io::stdout(),
        );
        // The hand-off record for the daemon on the real root.
        if engine.wanted().iter().any(|w| w.boot) {
            let rec = handoff::record(engine.wanted(), &engine.status());
            if let Err(e) = handoff::save(&root.run_dir(), &rec) {
                log::error!(
                    "cannot write {}: {e}",
                    handoff::path(&root.run_dir()).display()
                );
            }
        }
        return Ok(code);
    }

    let engine = Engine::new(&root, kernel.clone(), store, Retry::DAEMON);
    let mut d = Daemon::new(root.clone(), conf_path, host, conf, a.tron, engine)
        .map_err(|e| Fatal::Runtime(format!("{prog}: cannot set up the event loop: {e}")))?;
    // Boot paths: the boot inputs, then what --once recorded at boot.
    let mut boot = inputs.boot;
    if let Some(rec) = handoff::load(&root.run_dir()) {
        let (w, skipped) = handoff::to_wanted(&rec);
        if skipped > 0 {
            log::warn!(
                "{}: {skipped} invalid entries ignored",
                handoff::path(&root.run_dir()).display()
            );
        }
        log::info!(
            "{}: {} boot connections handed over",
            handoff::path(&root.run_dir()).display(),
            w.len()
        );
        boot.extend(w);
    }
    d.inputs.boot = boot;
    d.refresh_wanted();
    d.set_discovery(
        Discoverer::new(&root, kernel, true, Retry::DAEMON),
        boot_dcs,
    );
    d.control()
        .install_signals()
        .map_err(|e| Fatal::Runtime(format!("cannot install signal handlers: {e}")))?;
    Ok(d.run())
}

/// `--dump-nbft`: every NBFT table under the root in libnvme's
/// `nbft-dump` format, each after a `# <path>` line; problems on stderr.
/// Exit 0 when every table decoded (or there is none), 1 otherwise.
fn dump_nbft(root: &Root) -> u8 {
    let dir = root.path(rel::ACPI_TABLES);
    let tables = nbft::read_all(&dir);
    if tables.is_empty() {
        eprintln!("no NBFT table in {}", dir.display());
        return exit::OK;
    }
    let mut code = exit::OK;
    for (p, t) in tables {
        match t {
            Ok(t) => {
                println!("# {}", p.display());
                print!("{}", t.dump());
                for e in &t.problems {
                    eprintln!("{}: {e}", p.display());
                }
            }
            Err(e) => {
                eprintln!("{}: {e}", p.display());
                code = exit::RUNTIME;
            }
        }
    }
    code
}

/// Entry point: parse, run, map errors to exit codes (one place).
pub fn main() -> std::process::ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let called = argv
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str());
    if called == Some("stacctl") {
        return stacctl(argv.get(1..).unwrap_or(&[])).into();
    }
    let prog = "stacd";
    let args = match parse(prog, argv.get(1..).unwrap_or(&[])) {
        Ok(a) => a,
        Err(code) => return code.into(),
    };
    match run(prog, args) {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("{prog}: {e}");
            e.code().into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(a: &[&str]) -> Vec<String> {
        normalise(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn every_spelling_of_the_man_page() {
        assert_eq!(n(&["-h"]), ["--help"]);
        assert_eq!(n(&["--conf-file=/x"]), ["--conf-file", "/x"]);
        assert_eq!(n(&["-f/x"]), ["-f", "/x"]);
        assert_eq!(n(&["-f=/x"]), ["-f", "/x"]);
        assert_eq!(n(&["-f", "/x"]), ["-f", "/x"]);
        assert_eq!(n(&["-sv"]), ["-s", "-v"]);
        assert_eq!(n(&["-sf/x"]), ["-s", "-f", "/x"]);
        assert_eq!(
            n(&["--idl=/y", "--timeout=5"]),
            ["--idl", "/y", "--timeout", "5"]
        );
        assert_eq!(n(&["--tron", "--", "-h"]), ["--tron", "--", "-h"]);
        assert_eq!(n(&["-x"]), ["-x"]);
    }

    #[test]
    fn help_wrapping() {
        let w = wrap80(&format!(
            "Usage: stacd {}\n\n{}\n  -x   short\n",
            "[--opt] ".repeat(15),
            "word ".repeat(30)
        ));
        assert!(w.lines().all(|l| l.len() <= 80), "{w}");
        assert!(
            w.lines().nth(1).unwrap().starts_with("       [--opt]"),
            "{w}"
        );
        assert!(w.contains("\n  -x   short\n"));
        assert_eq!(w.matches("[--opt]").count(), 15);
    }

    #[test]
    fn parse_and_exit_codes() {
        let p = |a: &[&str]| {
            parse(
                "stacd",
                &a.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            )
        };
        let a = p(&["-f/etc/x.conf", "-s", "--tron"]).unwrap();
        assert_eq!(a.conf_file.as_deref(), Some("/etc/x.conf"));
        assert!(a.syslog && a.tron && !a.once);
        assert_eq!(p(&["--once", "--timeout=7"]).unwrap().timeout, Some(7));
        assert_eq!(p(&["--bogus"]), Err(exit::USAGE));
        assert_eq!(p(&["stray"]), Err(exit::USAGE));
        assert_eq!(p(&["--timeout", "3"]), Err(exit::USAGE));
        assert_eq!(p(&["--once", "--dry-run"]), Err(exit::USAGE));
        assert_eq!(p(&["--once", "--timeout", "x"]), Err(exit::USAGE));
    }
}
