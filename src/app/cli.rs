//! The command line of stacd(8), and `main`.
//!
//! argh alone rejects `-h`, `--conf-file=FILE`, `-fFILE` and combined
//! switches (`-sv`), and exits 1 on errors where argparse (the original)
//! exits 2 (docs/design.md §C4). [`normalise`] rewrites argv first so every
//! spelling of the man page works, and errors exit 2 with a one-line reason.

use crate::app::daemon::{Daemon, Inputs};
use crate::app::edge;
use crate::app::exit::{self, Fatal};
use crate::base::root::{rel, Root};
use crate::kernel::fabrics::{DevFabrics, Fabrics, Inert};
use crate::kernel::netif::IfAddrs;
use crate::reconcile::engine::{Engine, Retry};
use crate::reconcile::state::Store;
use crate::sources::boot::{self, BootInputs, DcTarget, Sources};
use crate::sources::config::host::{self, HostIdentity};
use crate::sources::config::{self, StacdConf};
use crate::sources::discovery::Discoverer;
use crate::{
    app::once, base::logging, sources::boot::cmdline, sources::boot::handoff, sources::boot::nbft,
};
use argh::FromArgs;
use rustix::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::VERSION;

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
    /// do not use the NBFT (as `[Standalone] nbft=false`)
    #[argh(switch)]
    pub no_nbft: bool,
    /// do not use the kernel command line's rd.nvmf.*/rd.stacd.*
    #[argh(switch)]
    pub no_cmdline: bool,
    /// do not follow discovery controllers
    #[argh(switch)]
    pub no_discovery: bool,
    /// with --once: connect this I/O controller
    /// ('transport=tcp;traddr=...;nqn=...', the syntax of stacd.conf's
    /// controller=; repeatable); with --controller or --discover only the
    /// controllers given are connected
    #[argh(option, arg_name = "SPEC")]
    pub controller: Vec<String>,
    /// with --once: read this discovery controller's log page and connect
    /// what it lists (the syntax of discovery-controller=; repeatable)
    #[argh(option, arg_name = "SPEC")]
    pub discover: Vec<String>,
    /// with --once: configure the network interfaces the NBFT describes
    /// (addresses, VLANs, DHCP) before connecting; for initramfs hooks
    #[argh(switch)]
    pub boot_net: bool,
    /// print what this boot needs, as shell assignments for initramfs
    /// hooks (STACD_ACTIVE, STACD_TARGETS, STACD_NEED_NET, ...), then exit
    #[argh(switch)]
    pub boot_plan: bool,
    /// print the kernel command line that boots from the NVMe-oF
    /// controllers under block device MAJ:MIN (repeatable), then exit
    #[argh(option, arg_name = "MAJ:MIN")]
    pub boot_cmdline: Vec<String>,
}

/// Short options that take a value; the other short letters are switches.
const SHORT_WITH_VALUE: &[char] = &['f'];
const SHORT_SWITCHES: &[char] = &['s', 'v', 'h'];
const LONG_WITH_VALUE: &[&str] = &[
    "--conf-file",
    "--idl",
    "--timeout",
    "--controller",
    "--discover",
    "--boot-cmdline",
];

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

/// Why [`parse`] gave no arguments to run with; [`main`] maps it to an
/// exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Early {
    /// `--help` was printed.
    Help,
    /// A usage error was printed.
    Usage,
}

/// Parse argv; `Err` after printing the help or a usage error.
pub fn parse(prog: &str, args: &[String]) -> Result<Args, Early> {
    let norm = normalise(args);
    let refs: Vec<&str> = norm.iter().map(String::as_str).collect();
    match Args::from_args(&[prog], &refs) {
        Ok(a) => {
            if a.timeout.is_some() && !a.once {
                crate::say_err!("{prog}: --timeout only applies to --once");
                return Err(Early::Usage);
            }
            if a.once && a.dry_run {
                crate::say_err!("{prog}: --once and --dry-run exclude each other");
                return Err(Early::Usage);
            }
            let given = !a.controller.is_empty() || !a.discover.is_empty();
            if (given || a.boot_net) && !(a.once || a.dry_run) {
                let o = if given {
                    "--controller and --discover"
                } else {
                    "--boot-net"
                };
                crate::say_err!("{prog}: {o} only apply to --once (or --dry-run)");
                return Err(Early::Usage);
            }
            Ok(a)
        }
        Err(early) => match early.status {
            Ok(()) => {
                crate::say_raw!("{}", wrap80(&early.output));
                Err(Early::Help)
            }
            Err(()) => {
                let first = early.output.lines().next().unwrap_or("invalid arguments");
                crate::say_err!("{prog}: {first}\nTry '{prog} --help' for more information.");
                Err(Early::Usage)
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
fn write_idl(file: &str) -> Result<u8, Fatal> {
    let Some(xml) = edge::idl() else {
        return Err(Fatal::Runtime(format!(
            "--idl {file}: D-Bus is not built into this stacd (built without the dbus feature); nothing written"
        )));
    };
    std::fs::write(file, xml)
        .map_err(|e| Fatal::Runtime(format!("--idl: cannot write {file}: {e}")))?;
    Ok(exit::OK)
}

fn run(prog: &str, a: Args) -> Result<u8, Fatal> {
    if a.version {
        crate::say!("stacd {VERSION}");
        crate::say!("nvme-stas 3.0 compatible; features:{}", edge::FEATURES);
        return Ok(exit::OK);
    }
    if let Some(f) = &a.idl {
        return write_idl(f);
    }
    let root = Root::from_env();
    if a.dump_nbft {
        return Ok(dump_nbft(&root));
    }
    if !a.boot_cmdline.is_empty() {
        return boot::hooks::print_cmdline(&root, &a.boot_cmdline);
    }
    logging::init(&root, "stacd", a.syslog, a.tron);
    if a.boot_plan {
        return boot_plan(&root, &a);
    }
    if !a.dry_run {
        preflight(&root)?;
    }
    let s = Setup::load(root, &a)?;
    if a.dry_run {
        Ok(dry_run(s))
    } else if a.once {
        Ok(run_once(s, &a))
    } else {
        run_daemon(prog, s, &a)
    }
}

/// What every mode starts from: the configuration, the boot inputs and
/// the host identity they decide.
struct Setup {
    root: Root,
    conf_path: PathBuf,
    conf: StacdConf,
    host: HostIdentity,
    sources: Sources,
    boot: BootInputs,
    /// Boot paths (kernel command line, NBFT).
    inputs: Inputs,
    /// Discovery controllers of the boot inputs.
    boot_dcs: Vec<DcTarget>,
    /// The interface table, when the NBFT names interfaces.
    net: IfAddrs,
}

impl Setup {
    fn load(root: Root, a: &Args) -> Result<Setup, Fatal> {
        let conf_path = a
            .conf_file
            .as_ref()
            .map_or_else(|| root.path(rel::STACD_CONF), PathBuf::from);
        let (mut conf, warnings) =
            config::load_stacd_conf(&conf_path).map_err(|e| Fatal::Usage(e.to_string()))?;
        for w in &warnings {
            log::warn!("{w}");
        }
        logging::set_debug(a.tron || conf.tron);
        // --controller/--discover: only what is given, validated as
        // stacd.conf's entries are; the command line and the NBFT are not
        // sources then.
        let given = !a.controller.is_empty() || !a.discover.is_empty();
        if given {
            given_controllers(&mut conf, a)?;
        }
        // Boot inputs first: they come first in the host identity's
        // precedence (command line > NBFT > sys.conf > /etc/nvme).
        let sources = Sources::new(
            &conf,
            a.no_nbft || given,
            a.no_cmdline || given,
            a.no_discovery,
        );
        let boot = BootInputs::load(&root, sources);
        for w in &boot.warnings {
            log::warn!("{w}");
        }
        for i in &boot.infos {
            log::info!("{i}");
        }
        if boot.cmdline.stacd.debug && sources.cmdline {
            logging::set_debug(true);
        }
        let (host, hw) = host::resolve_host(&root, &root.path(rel::SYS_CONF), &boot.early_hosts())
            .map_err(|e| Fatal::Usage(e.to_string()))?;
        for w in &hw {
            log::warn!("{w}");
        }
        let net = if boot.needs_net() {
            IfAddrs::load().unwrap_or_else(|e| {
                log::warn!("cannot read the interface table ({e}); NBFT paths get no host-iface");
                IfAddrs::default()
            })
        } else {
            IfAddrs::default()
        };
        let mut notes = Vec::new();
        let inputs = Inputs {
            boot: boot.wanted(&conf, &host, &net, &mut notes),
            ..Default::default()
        };
        let boot_dcs = boot.discovery_targets(&conf, &host, &net, &mut notes);
        for n in &notes {
            log::warn!("{n}");
        }
        if given {
            // Entries that name no valid controller are usage errors here,
            // not warnings: a script asked for exactly these.
            let mut d = crate::desired::Desired::default();
            crate::desired::from_config(&conf, &host, &crate::desired::system_resolver, &mut d);
            let mut bad = d.notes;
            boot::config_discovery_targets(&conf, &host, &mut bad);
            if let Some(b) = bad.first() {
                return Err(Fatal::Usage(b.clone()));
            }
        }
        Ok(Setup {
            root,
            conf_path,
            conf,
            host,
            sources,
            boot,
            inputs,
            boot_dcs,
            net,
        })
    }

    fn store(&self) -> Store {
        Store::new(&self.root.run_dir())
    }

    /// The boot inputs' discovery controllers and stacd.conf's.
    fn all_dcs(&self) -> Vec<DcTarget> {
        let mut dcs = self.boot_dcs.clone();
        dcs.extend(boot::config_discovery_targets(
            &self.conf,
            &self.host,
            &mut Vec::new(),
        ));
        dcs
    }
}

/// `--boot-plan`: the boot inputs and stacd.conf only (no host identity
/// is needed to answer, so a generic image without one still gets its
/// answer).
fn boot_plan(root: &Root, a: &Args) -> Result<u8, Fatal> {
    let path = a
        .conf_file
        .as_ref()
        .map_or_else(|| root.path(rel::STACD_CONF), PathBuf::from);
    let (conf, warnings) =
        config::load_stacd_conf(&path).map_err(|e| Fatal::Usage(e.to_string()))?;
    for w in &warnings {
        log::warn!("{w}");
    }
    let sources = Sources::new(&conf, a.no_nbft, a.no_cmdline, a.no_discovery);
    let boot = BootInputs::load(root, sources);
    for w in &boot.warnings {
        log::warn!("{w}");
    }
    crate::say_raw!("{}", boot::hooks::plan(&boot, &conf).shell());
    Ok(exit::OK)
}

/// `--controller`/`--discover` replace stacd.conf's controllers and
/// discovery controllers; a value that stacd.conf would warn about and
/// skip is a usage error (exit 2).
fn given_controllers(conf: &mut StacdConf, a: &Args) -> Result<(), Fatal> {
    let origin = std::path::Path::new("command line");
    let parse = |opt: &str, list: &[String]| -> Result<Vec<config::ControllerEntry>, Fatal> {
        let mut out = Vec::new();
        for (i, v) in list.iter().enumerate() {
            let (e, warns) = config::parse_controller_value(v, origin);
            if let Some(w) = warns.first() {
                return Err(Fatal::Usage(format!("{opt} {v:?}: {}", w.msg)));
            }
            let Some(mut e) = e else {
                return Err(Fatal::Usage(format!("{opt} {v:?}: not a controller")));
            };
            // tcp and rdma take a port number (the kernel parses it as
            // a u16: drivers/nvme/host/tcp.c hands it to inet_pton_with_scope,
            // net/core/utils.c);
            // anything else would be refused by the kernel at every retry
            let ip = matches!(e.transport.as_str(), "" | "tcp" | "rdma");
            if ip && !e.trsvcid.is_empty() && !matches!(e.trsvcid.parse::<u16>(), Ok(1..)) {
                return Err(Fatal::Usage(format!(
                    "{opt} {v:?}: trsvcid {:?} is not a port (1-65535)",
                    e.trsvcid
                )));
            }
            e.line = i + 1;
            out.push(e);
        }
        Ok(out)
    };
    conf.controllers = parse("--controller", &a.controller)?;
    conf.standalone.discovery_controllers = parse("--discover", &a.discover)?;
    conf.standalone.discovery = true;
    conf.path = origin.to_path_buf();
    Ok(())
}

/// `--dry-run`: the plan, and the discovery controllers that would be read.
fn dry_run(s: Setup) -> u8 {
    // Writes nothing: not even a bad state file is set aside.
    let store = Store::read_only(&s.root.run_dir());
    let mut engine = Engine::new(&s.root, Arc::new(Inert), store, Retry::DAEMON);
    engine.set_policy(s.conf.disconnect_scope, &s.conf.disconnect_trtypes);
    engine.set_held(s.conf.refused.clone());
    engine.set_wanted(s.inputs.desired(&s.conf, &s.host));
    let plan = engine.plan(Instant::now());
    for act in &plan.actions {
        crate::say!("{act}");
    }
    let dcs = s.all_dcs();
    for d in &dcs {
        crate::say!("discover {} ({})", d.id, d.origin);
    }
    let missing = s.boot.missing_paths(&s.conf, &s.net);
    for m in &missing {
        crate::say!("missing {} {}", m.id, m.why);
    }
    if plan.actions.is_empty() && dcs.is_empty() && missing.is_empty() {
        crate::say!("nothing wanted, nothing owned");
    }
    exit::OK
}

/// `--once`: connect, wait within the budget, report, write the hand-off
/// record when boot paths were involved.
fn run_once(s: Setup, a: &Args) -> u8 {
    let kernel: Arc<dyn Fabrics> = Arc::new(DevFabrics::new(&s.root));
    let mut engine = Engine::new(&s.root, kernel.clone(), s.store(), Retry::ONCE);
    engine.set_probe(Some(crate::kernel::probe::PROBE_WAIT));
    // rd.stacd.* apply only when the command line is a source.
    let boot_args = Some(&s.boot.cmdline.stacd).filter(|_| s.sources.cmdline);
    let max = crate::reconcile::engine::MAX_WAIT;
    if a.timeout.is_some_and(|t| t > max.as_secs()) {
        log::warn!(
            "--timeout: more than {} s (a year); capped to that",
            max.as_secs()
        );
    }
    let budget = a
        .timeout
        .map(|t| Duration::from_secs(t).min(max))
        .or(boot_args.and_then(|b| b.budget))
        .unwrap_or(Duration::from_secs(DEFAULT_TIMEOUT));
    let per_attempt = boot_args
        .and_then(|b| b.timeout)
        .unwrap_or(engine.retry.deadline);
    engine.retry.deadline = per_attempt.min(budget);
    // --once never disconnects: it only adds what is wanted.
    engine.set_policy(config::DisconnectScope::NoDisconnect, &[]);
    engine.set_wanted(s.inputs.desired(&s.conf, &s.host));
    let mut disc = Discoverer::new(kernel, false, engine.retry);
    disc.set_targets(s.all_dcs());
    let policy = once::Policy {
        wait: boot_args.and_then(|b| b.wait).unwrap_or(cmdline::Wait::All),
        grace: boot_args
            .and_then(|b| b.grace)
            .unwrap_or(once::Policy::default().grace),
    };
    // The network side: the NBFT's interfaces to bring up (--boot-net),
    // and the link watch whenever a path is tied to an interface.
    let mut notes = Vec::new();
    let hfis = if a.boot_net && (!s.sources.cmdline || s.boot.cmdline.stacd.nbft_net) {
        s.boot.hfi_nets(&mut notes)
    } else {
        Vec::new()
    };
    for n in &notes {
        log::warn!("{n}");
    }
    let tied = s.boot.needs_net() || engine.wanted().iter().any(|w| !w.id.host_iface.is_empty());
    let net = (a.boot_net || tied).then(|| boot::net::NetBoot::new(&s.root, hfis));
    if net.is_some() {
        engine.set_link_gate(true);
    }
    let (stop, stop_fd) = once_signals();
    let mut side = BootSide {
        s: &s,
        net,
        stop,
        stop_fd,
        boot: s.inputs.boot.clone(),
        discovered: Vec::new(),
        missing: s.boot.missing_paths(&s.conf, &s.net),
        // What Setup logged already.
        said: {
            let mut n = Vec::new();
            s.boot.wanted(&s.conf, &s.host, &s.net, &mut n);
            s.boot.discovery_targets(&s.conf, &s.host, &s.net, &mut n);
            n
        },
    };
    let code = once::run_side(
        &mut engine,
        (!disc.is_empty()).then_some(&mut disc),
        &mut side,
        budget,
        policy,
        &mut std::io::stdout(),
    );
    if let Some(n) = &side.net {
        for l in n.report() {
            log::info!("{l}");
        }
    }
    // The hand-off record for the daemon on the real root.
    if engine.wanted().iter().any(|w| w.boot) {
        let rec = handoff::record(engine.wanted(), &engine.status());
        let run = s.root.run_dir();
        if let Err(e) = handoff::save(&run, &rec) {
            log::error!("cannot write {}: {e}", handoff::path(&run).display());
        }
    }
    code
}

/// SIGTERM and SIGINT end `--once` early with its report (a boot script
/// that gives up on it still learns what was live); without a handler
/// they would end it silently. The flag is registered before the pipe
/// write, so it is set when the poll wakes (signal-hook's pipe module).
fn once_signals() -> (Arc<AtomicBool>, Option<OwnedFd>) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let stop = Arc::new(AtomicBool::new(false));
    let pipe = rustix::pipe::pipe_with(
        rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
    );
    let registered = pipe.ok().and_then(|(r, w)| {
        for sig in [SIGTERM, SIGINT] {
            signal_hook::flag::register(sig, stop.clone()).ok()?;
            signal_hook::low_level::pipe::register(sig, rustix::io::dup(&w).ok()?).ok()?;
        }
        Some(r)
    });
    if registered.is_none() {
        log::warn!("cannot handle SIGTERM: a stopped --once prints no report");
    }
    (stop, registered)
}

/// `--once`'s [`once::Side`]: the network (interfaces from the NBFT, the
/// link watch), and the wanted set, which follows the interface table (an
/// NBFT path's host-iface is the interface with its HFI's MAC, when there
/// is one).
struct BootSide<'a> {
    s: &'a Setup,
    net: Option<boot::net::NetBoot>,
    /// Set by SIGTERM/SIGINT; `stop_fd` wakes the poll.
    stop: Arc<AtomicBool>,
    stop_fd: Option<OwnedFd>,
    boot: Vec<crate::desired::Wanted>,
    discovered: Vec<crate::desired::Wanted>,
    missing: Vec<boot::MissingPath>,
    /// Notes already logged (the wanted set is recomputed on every change).
    said: Vec<String>,
}

impl once::Side for BootSide<'_> {
    fn fds(&self) -> Vec<rustix::fd::BorrowedFd<'_>> {
        let mut fds = self.net.as_ref().map(|n| n.fds()).unwrap_or_default();
        fds.extend(self.stop_fd.as_ref().map(|f| f.as_fd()));
        fds
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn next_wake(&self) -> Option<Instant> {
        self.net.as_ref().and_then(|n| n.next_wake())
    }

    fn step(
        &mut self,
        now: Instant,
        engine: &mut Engine,
        disc: Option<&mut Discoverer>,
        discovered: Option<Vec<crate::desired::Wanted>>,
    ) {
        let s = self.s;
        let mut changed = false;
        if let Some(d) = discovered {
            self.discovered = d;
            changed = true;
        }
        if let Some(n) = self.net.as_mut() {
            let c = n.step(now);
            if c.table {
                engine.links_changed(&c.up);
                let ifs = n.ifaddrs();
                let mut notes = Vec::new();
                let boot = s.boot.wanted(&s.conf, &s.host, ifs, &mut notes);
                self.missing = s.boot.missing_paths(&s.conf, ifs);
                if let Some(d) = disc {
                    let mut dcs = s.boot.discovery_targets(&s.conf, &s.host, ifs, &mut notes);
                    dcs.extend(boot::config_discovery_targets(
                        &s.conf,
                        &s.host,
                        &mut Vec::new(),
                    ));
                    d.set_targets(dcs);
                    d.links_changed(&c.up);
                }
                for n in notes {
                    if !self.said.contains(&n) {
                        log::warn!("{n}");
                        self.said.push(n);
                    }
                }
                if boot != self.boot {
                    self.boot = boot;
                    changed = true;
                }
            }
        }
        if changed {
            let i = Inputs {
                boot: self.boot.clone(),
                discovered: self.discovered.clone(),
                stafd: Vec::new(),
            };
            engine.set_wanted(i.desired(&s.conf, &s.host));
        }
    }

    fn settled(&self) -> bool {
        self.net.as_ref().is_none_or(|n| n.settled())
    }

    fn missing(&self) -> Vec<boot::MissingPath> {
        self.missing.clone()
    }

    fn describe(&self, id: &crate::model::identity::Identity) -> Option<String> {
        let ifs = self
            .net
            .as_ref()
            .map(|n| n.ifaddrs().clone())
            .unwrap_or_default();
        let mut d = self.s.boot.describe(id, &ifs)?;
        if let Some(h) = self.net.as_ref().and_then(|n| n.hfi_on(&id.host_iface)) {
            d.push_str(&format!("; network: {}", h.describe()));
        }
        Some(d)
    }
}

/// The daemon: boot paths from the boot inputs and the hand-off record,
/// our discovery, then the loop.
fn run_daemon(prog: &str, s: Setup, a: &Args) -> Result<u8, Fatal> {
    let kernel: Arc<dyn Fabrics> = Arc::new(DevFabrics::new(&s.root));
    let run = s.root.run_dir();
    let mut engine = Engine::new(&s.root, kernel.clone(), s.store(), Retry::DAEMON);
    engine.set_probe(Some(crate::kernel::probe::PROBE_WAIT));
    let mut d = Daemon::new(s.root.clone(), s.conf_path, s.host, s.conf, a.tron, engine)
        .map_err(|e| Fatal::Runtime(format!("{prog}: cannot set up the event loop: {e}")))?;
    let mut boot = s.inputs.boot;
    let mut handed = Vec::new();
    if let Some(rec) = handoff::load(&run) {
        let (w, skipped) = handoff::to_wanted(&rec);
        let path = handoff::path(&run);
        if skipped > 0 {
            log::warn!("{}: {skipped} invalid entries ignored", path.display());
        }
        log::info!(
            "{}: {} boot connections handed over",
            path.display(),
            w.len()
        );
        boot.extend(w.iter().cloned());
        handed = w;
    }
    d.inputs.boot = boot;
    d.refresh_wanted();
    d.set_discovery(Discoverer::new(kernel, true, Retry::DAEMON), s.boot_dcs);
    // From here the boot paths follow the interface table (rtnetlink).
    d.set_boot(s.boot, handed, true);
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
        crate::say_err!("no NBFT table in {}", dir.display());
        return exit::OK;
    }
    let mut code = exit::OK;
    for (p, t) in tables {
        match t {
            Ok(t) => {
                crate::say!("# {}", p.display());
                crate::say_raw!("{}", t.dump());
                for e in &t.problems {
                    crate::say_err!("{}: {e}", p.display());
                }
            }
            Err(e) => {
                crate::say_err!("{}: {e}", p.display());
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
        return edge::stacctl(argv.get(1..).unwrap_or(&[])).into();
    }
    let prog = "stacd";
    let args = match parse(prog, argv.get(1..).unwrap_or(&[])) {
        Ok(a) => a,
        Err(Early::Help) => return exit::OK.into(),
        Err(Early::Usage) => return exit::USAGE.into(),
    };
    match run(prog, args) {
        Ok(code) => code.into(),
        Err(e) => {
            crate::say_err!("{prog}: {e}");
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
        assert_eq!(p(&["--bogus"]), Err(Early::Usage));
        assert_eq!(p(&["stray"]), Err(Early::Usage));
        assert_eq!(p(&["--timeout", "3"]), Err(Early::Usage));
        assert_eq!(p(&["--once", "--dry-run"]), Err(Early::Usage));
        assert_eq!(p(&["--once", "--timeout", "x"]), Err(Early::Usage));
    }
}
