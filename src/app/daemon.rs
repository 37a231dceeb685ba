//! The daemon: one thread of control on the loop core
//! ([`crate::app::run_loop`]), polling the wake pipe (signals and finished
//! connects write to it), the kernel uevent socket, the link watch and,
//! while it waits for the bus, the bus socket, with the timeout set to the
//! next deadline — nothing wakes up when nothing changes (docs/design.md
//! §A2 rule 6).
//!
//! Signals (docs/design.md §4.11, §4.14, D13, D17): SIGHUP reloads
//! stacd.conf — a broken file keeps the running configuration, and so does
//! a missing one (an editor's rename or a package upgrade far more often
//! than an intent to drop every controller; docs/migrating.md); SIGTERM and
//! SIGINT end the daemon leaving every connection up. signal-hook sets a
//! flag and writes a byte to the wake pipe; the loop reads the flags.
//!
//! Built-in discovery ([`Daemon::set_discovery`]) runs beside the engine:
//! its results arrive on the same wake pipe, a discovery log change event
//! on a discovery controller it holds schedules a re-read, and what it finds
//! goes to [`Inputs::discovered`].
//!
//! D-Bus is at the edge ([`Edge`], a no-op without the `dbus` feature): the
//! loop hands it a [`StateView`] and applies the [`BusEvent`]s it returns.
//! Every source change only marks the desired set stale; it is built once,
//! right before the engine steps ([`Daemon::refresh_wanted`]).

use crate::app::bus::{BusEvent, StateView};
use crate::app::edge::Edge;
use crate::app::exit;
use crate::app::run_loop::{self, Mode};
use crate::base::root::Root;
use crate::desired::{self, Desired, Origin, Wanted};
use crate::kernel::uevent::{self, Uevents};
use crate::reconcile::engine::Engine;
use crate::sources::boot::{self, DcTarget};
use crate::sources::config::host::HostIdentity;
use crate::sources::config::{self, StacdConf};
use crate::sources::discovery::Discoverer;
use crate::{base::logging, base::notify};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Requests to the loop from outside (signals, tests, the resolver). Each
/// is a flag and a byte on the wake pipe: none carries data (D-Bus has its
/// own queue, [`Edge`]), so no channel is needed here.
#[derive(Debug, Clone)]
pub struct Control {
    stop: Arc<AtomicBool>,
    reload: Arc<AtomicBool>,
    /// A host name of stacd.conf was resolved ([`desired::Names`]).
    resolved: Arc<AtomicBool>,
    wake: Arc<OwnedFd>,
}

impl Control {
    fn poke(&self) {
        let _ = rustix::io::write(&*self.wake, b"w");
    }

    /// A name was resolved: the desired set is built again. Never waits
    /// for the loop.
    fn post_resolved(&self) {
        self.resolved.store(true, Ordering::SeqCst);
        self.poke();
    }

    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.poke();
    }

    pub fn request_reload(&self) {
        self.reload.store(true, Ordering::SeqCst);
        self.poke();
    }

    /// SIGTERM/SIGINT → stop, SIGHUP → reload. The flag is registered
    /// before the pipe write so the flag is set when the loop wakes.
    pub fn install_signals(&self) -> std::io::Result<()> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        for (sig, flag) in [
            (SIGTERM, &self.stop),
            (SIGINT, &self.stop),
            (SIGHUP, &self.reload),
        ] {
            signal_hook::flag::register(sig, flag.clone())?;
            let fd = rustix::io::dup(&*self.wake)?;
            signal_hook::low_level::pipe::register(sig, fd)?;
        }
        Ok(())
    }
}

/// The state as D-Bus reads it ([`StateView`]), borrowing the fields only,
/// so that `self.bus` can be borrowed mutably beside it.
macro_rules! view {
    ($d:expr) => {
        StateView {
            root: &$d.root,
            conf: &$d.conf,
            host: &$d.host,
            engine: &$d.engine,
            cli_tron: $d.cli_tron,
        }
    };
}

/// The running configuration and what derives from it.
pub struct Daemon {
    pub root: Root,
    pub conf_path: PathBuf,
    pub host: HostIdentity,
    pub conf: StacdConf,
    /// `--tron` given: stays on across reloads (docs/design.md D15).
    pub cli_tron: bool,
    pub engine: Engine,
    pub inputs: Inputs,
    /// Host names of stacd.conf, resolved off the loop.
    names: desired::Names,
    control: Control,
    wake_r: OwnedFd,
    uevents: Option<Uevents>,
    discovery: Option<Discoverer>,
    /// Discovery controllers of the boot inputs (fixed for the run); the
    /// configured ones are re-read on reload.
    boot_dcs: Vec<DcTarget>,
    /// Controllers our discovery found before a restart, kept wanted until
    /// every discovery controller answered once.
    held_discovered: Vec<Wanted>,
    /// The link watch ([`Daemon::set_boot`]).
    net: Option<boot::net::NetBoot>,
    /// The boot inputs and the hand-off record's paths: the boot paths are
    /// computed again from them when the interfaces change (an NBFT path's
    /// host-iface is the interface with its HFI's MAC).
    boot_src: Option<(boot::BootInputs, Vec<Wanted>)>,
    /// A source changed since the engine's desired set was built.
    wanted_stale: bool,
    /// D-Bus, or nothing (the feature's one seam).
    bus: Edge,
    /// READY=1 was sent (after the first turn).
    ready: bool,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("conf", &self.conf_path)
            .finish()
    }
}

/// The daemon's resolver: `names`' cached answers, a lookup on a worker
/// that tells the loop ([`Control::post_resolved`]) when it is done.
fn resolver(
    names: &desired::Names,
    control: &Control,
) -> impl Fn(&str) -> std::io::Result<Vec<std::net::IpAddr>> {
    let names = names.clone();
    let c = control.clone();
    let done: desired::Waker = Arc::new(move || c.post_resolved());
    move |name| names.lookup(name, &done)
}

/// The desired set of a configuration; dropped entries are logged.
pub fn desired(conf: &StacdConf, host: &HostIdentity) -> Vec<Wanted> {
    Inputs::default().desired(conf, host)
}

/// Every source of wanted controllers besides stacd.conf, as last known.
/// Each source keeps its own list; a silent source keeps its last answer
/// (docs/design.md D3: never disconnect because a source is silent).
#[derive(Debug, Default)]
pub struct Inputs {
    /// Boot paths: kernel command line, NBFT, the hand-off record.
    pub boot: Vec<Wanted>,
    /// I/O controllers found by our own discovery.
    pub discovered: Vec<Wanted>,
    /// Discovery log page entries published by stafd.
    pub stafd: Vec<Wanted>,
}

impl Inputs {
    /// Merge the sources: stacd.conf first (its `controller=` lines shadow
    /// the same controller from elsewhere, §3.5 step 8), then boot paths,
    /// our discovery, stafd; exclusions and ip-family apply to all. Host
    /// names are resolved with the system resolver, waiting for it (the
    /// one-shot commands); the daemon uses [`Inputs::desired_with`].
    pub fn desired(&self, conf: &StacdConf, host: &HostIdentity) -> Vec<Wanted> {
        self.desired_with(conf, host, &desired::system_resolver)
    }

    /// [`Inputs::desired`] with the given resolver.
    pub fn desired_with(
        &self,
        conf: &StacdConf,
        host: &HostIdentity,
        resolve: desired::Resolver<'_>,
    ) -> Vec<Wanted> {
        let mut d = Desired::default();
        desired::from_config(conf, host, resolve, &mut d);
        for w in self.boot.iter().chain(&self.discovered).chain(&self.stafd) {
            d.push(conf, w.clone());
        }
        for n in &d.notes {
            log::warn!("{n}");
        }
        for n in &d.excluded {
            log::info!("{n}");
        }
        for n in &d.waiting {
            log::debug!("{n}");
        }
        d.wanted
    }
}

impl Daemon {
    pub fn new(
        root: Root,
        conf_path: PathBuf,
        host: HostIdentity,
        conf: StacdConf,
        cli_tron: bool,
        mut engine: Engine,
    ) -> std::io::Result<Daemon> {
        let (wake_r, wake_w) = rustix::pipe::pipe_with(
            rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
        )?;
        let wake = Arc::new(wake_w);
        engine.set_waker(wake.clone());
        engine.set_policy(conf.disconnect_scope, &conf.disconnect_trtypes);
        engine.set_held(conf.refused.clone());
        engine.set_ncc_attempts(conf.connect_attempts_on_ncc);
        let inputs = Inputs::default();
        let control = Control {
            stop: Arc::new(AtomicBool::new(false)),
            reload: Arc::new(AtomicBool::new(false)),
            wake,
            resolved: Arc::new(AtomicBool::new(false)),
        };
        let names = desired::Names::default();
        let uevents = match Uevents::open() {
            Ok(u) => Some(u),
            Err(e) => {
                log::warn!("cannot listen to kernel uevents ({e}); controller removals are noticed only at the next retry or reload");
                None
            }
        };
        Ok(Daemon {
            bus: Edge::new(&root, control.wake.clone()),
            root,
            conf_path,
            host,
            conf,
            cli_tron,
            engine,
            inputs,
            names,
            control,
            wake_r,
            uevents,
            discovery: None,
            boot_dcs: Vec::new(),
            held_discovered: Vec::new(),
            net: None,
            boot_src: None,
            wanted_stale: true,
            ready: false,
        })
    }

    /// Follow discovery controllers: `boot_dcs` and stacd.conf's
    /// `[Standalone] discovery-controller=` entries.
    pub fn set_discovery(&mut self, mut disc: Discoverer, boot_dcs: Vec<DcTarget>) {
        disc.set_waker(self.control.wake.clone());
        if disc.persistent() {
            let store = crate::reconcile::state::Store::discovery(&self.root.run_dir());
            self.engine.follow_discovery(store);
        }
        self.boot_dcs = boot_dcs;
        self.discovery = Some(disc);
        // What our discovery found before a restart stays wanted until the
        // discovery controllers answer again (docs/design.md D3: never disconnect
        // because a source is silent).
        self.held_discovered = desired::from_owned(
            self.engine.owned(),
            Origin::Discovery,
            &self.conf,
            &self.host,
        );
        self.update_dc_targets();
        self.sync_discovered();
    }

    /// The desired set's discovered part: what the discovery controllers
    /// answered, plus, until every one has answered once, what they had
    /// found before a restart.
    fn sync_discovered(&mut self) {
        let Some(disc) = self.discovery.as_ref() else {
            return;
        };
        let mut found = disc.wanted();
        if disc.all_read() {
            self.held_discovered.clear();
        } else {
            found.extend(self.held_discovered.iter().cloned());
        }
        self.inputs.discovered = found;
        self.refresh_wanted();
    }

    fn update_dc_targets(&mut self) {
        let Some(disc) = self.discovery.as_mut() else {
            return;
        };
        let mut notes = Vec::new();
        let mut targets = self.boot_dcs.clone();
        targets.extend(boot::config_discovery_targets(
            &self.conf, &self.host, &mut notes,
        ));
        for n in notes {
            log::warn!("{n}");
        }
        if disc.set_targets(targets) {
            self.sync_discovered();
        }
        self.hold_audit_for_discovery();
    }

    /// Until every discovery controller we follow has answered once, its
    /// I/O controllers are unknown: the audit must not take them for
    /// unwanted ones (docs/design.md D3: never disconnect because a source is
    /// silent).
    fn hold_audit_for_discovery(&mut self) {
        let waiting = self.discovery.as_ref().is_some_and(|d| !d.all_read());
        self.engine.hold_audit(waiting);
    }

    /// The boot paths come from `boot` (the command line and the NBFT) and
    /// `handed` (the hand-off record); with `watch`, rtnetlink tells the
    /// loop when links and addresses change: a path whose interface
    /// appears or gets its link is tried then, not at its next retry, and
    /// paths tied to an interface without a link wait for it
    /// ([`Engine::set_link_gate`]).
    pub fn set_boot(&mut self, boot: boot::BootInputs, handed: Vec<Wanted>, watch: bool) {
        self.boot_src = Some((boot, handed));
        if watch {
            self.net = Some(boot::net::NetBoot::new(&self.root, Vec::new()));
            self.engine.set_link_gate(true);
        }
        self.boot_paths();
    }

    /// The boot paths and the boot inputs' discovery controllers, from the
    /// interface table as last read.
    fn boot_paths(&mut self) {
        let Some((b, handed)) = &self.boot_src else {
            return;
        };
        let ifs = match &self.net {
            Some(n) => n.ifaddrs().clone(),
            None => crate::kernel::netif::IfAddrs::load().unwrap_or_default(),
        };
        let mut notes = Vec::new();
        let mut paths = b.wanted(&self.conf, &self.host, &ifs, &mut notes);
        paths.extend(handed.iter().cloned());
        let dcs = b.discovery_targets(&self.conf, &self.host, &ifs, &mut notes);
        for m in b.missing_paths(&self.conf, &ifs) {
            notes.push(format!("{} not connected: {}", m.id, m.why));
        }
        for n in notes {
            log::warn!("{n}");
        }
        self.inputs.boot = paths;
        self.refresh_wanted();
        if dcs != self.boot_dcs {
            self.boot_dcs = dcs;
            self.update_dc_targets();
        }
    }

    fn handle_net(&mut self, now: Instant) {
        let Some(n) = self.net.as_mut() else { return };
        let c = n.step(now);
        if c.table {
            for u in &c.up {
                log::info!("{u}: link up or new address; trying its controllers now");
            }
            self.engine.links_changed(&c.up);
            if let Some(d) = self.discovery.as_mut() {
                d.links_changed(&c.up);
            }
            self.boot_paths();
        }
    }

    pub fn control(&self) -> Control {
        self.control.clone()
    }

    /// Re-read stacd.conf. New parameters apply to new connections only;
    /// added controllers connect, removed ones follow the disconnect policy.
    /// A file that is gone keeps the running configuration (at start a
    /// missing file still means defaults).
    pub fn reload(&mut self) {
        notify::reloading();
        log::info!("reloading {}", self.conf_path.display());
        match config::load_existing(&self.conf_path) {
            Ok(None) => log::warn!(
                "reload: {} does not exist (removed, or being replaced); keeping the running configuration",
                self.conf_path.display()
            ),
            Ok(Some((conf, warnings))) => {
                for w in &warnings {
                    log::warn!("{w}");
                }
                logging::set_debug(self.cli_tron || conf.tron);
                self.engine
                    .set_policy(conf.disconnect_scope, &conf.disconnect_trtypes);
                self.engine.set_held(conf.refused.clone());
                self.engine.set_ncc_attempts(conf.connect_attempts_on_ncc);
                self.conf = conf;
                // A name may point elsewhere now: resolve again.
                self.names.forget();
                let evs = self.bus.on_reload(&view!(self));
                self.apply(evs);
                self.refresh_wanted();
                self.engine.revive();
                self.update_dc_targets();
                if let Some(d) = self.discovery.as_mut() {
                    d.revive();
                }
            }
            Err(e) => log::error!("reload failed: {e}; keeping the running configuration"),
        }
        notify::notify("READY=1");
    }

    /// A source changed: the desired set is built again, once, before the
    /// engine's next step (however many sources changed in between).
    pub fn refresh_wanted(&mut self) {
        self.wanted_stale = true;
    }

    /// Build the desired set if a source changed; its notes are logged
    /// each time it is built.
    fn sync_wanted(&mut self) {
        if std::mem::take(&mut self.wanted_stale) {
            let r = resolver(&self.names, &self.control);
            self.engine
                .set_wanted(self.inputs.desired_with(&self.conf, &self.host, &r));
        }
    }

    /// What D-Bus asked for.
    fn apply(&mut self, evs: Vec<BusEvent>) {
        for ev in evs {
            match ev {
                BusEvent::Stafd(w) => {
                    self.inputs.stafd = w;
                    self.refresh_wanted();
                }
                BusEvent::Tron(on) => logging::set_debug(self.cli_tron || on),
            }
        }
    }

    /// Kernel events only say "look again" at the controller they name:
    /// the engine reads those once per burst (debounce) and the plan
    /// decides. Events are logged for the
    /// controllers we own (§4.8).
    fn handle_uevents(&mut self) {
        let Some(u) = self.uevents.as_mut() else {
            return;
        };
        match u.read() {
            uevent::Read::Overrun => {
                log::debug!("kernel uevents were lost (receive buffer overrun); rescanning");
                self.engine.mark_dirty();
            }
            uevent::Read::Events(evs) => {
                for ev in evs {
                    if let Some(d) = self.discovery.as_mut() {
                        d.on_event(&ev);
                    }
                    if !ev.is_controller() {
                        // The nvme class holds controllers only (kernel
                        // core.c); anything else is logged and still
                        // triggers a rescan, which is harmless.
                        log::debug!(
                            "kernel uevent {:?} for {:?}: not an NVMe controller name",
                            ev.action,
                            ev.name
                        );
                    } else if let Some(id) = self.engine.owner_of(&ev.name) {
                        match (ev.action.as_str(), ev.get("NVME_AEN")) {
                            ("remove", _) => {
                                log::info!("{id} | {} - Received \"remove\" event", ev.name)
                            }
                            ("change", Some(aen)) => {
                                log::info!("{id} | {} - Received AEN: {aen}", ev.name)
                            }
                            (a, _) => log::debug!("{id} | {} - Received \"{a}\" event", ev.name),
                        }
                    }
                    let name = Some(ev.name.as_str()).filter(|_| ev.is_controller());
                    self.engine.kernel_event(Instant::now(), name);
                }
            }
        }
    }

    fn handle_commands(&mut self) {
        if self.control.resolved.swap(false, Ordering::SeqCst) {
            self.refresh_wanted();
        }
        let evs = self.bus.drain(&view!(self));
        self.apply(evs);
    }

    /// Run until asked to stop, on the loop core ([`crate::app::run_loop`],
    /// [`Mode`] below). Returns the exit code.
    pub fn run(&mut self) -> u8 {
        match self.bus.start(&view!(self)) {
            Ok(evs) => self.apply(evs),
            Err(e) => {
                log::error!("{e}");
                return exit::RUNTIME;
            }
        }
        self.sync_wanted();
        self.publish();
        self.handle_net(Instant::now());
        run_loop::run(self, None);
        notify::notify("STOPPING=1");
        // Connections are never torn down when stacd exits (§4.14): only
        // the ownership record is kept for the next start.
        log::info!("exiting; connections stay up");
        exit::OK
    }

    /// Publish the state for the D-Bus handlers (nothing off the bus).
    fn publish(&mut self) {
        self.bus.publish(&view!(self));
    }
}

/// The daemon on the loop core: signals and D-Bus before each turn, the
/// sources merged once per turn, the state published after it; the kernel
/// uevents, the link watch and the bus socket polled beside the wake pipe.
impl Mode for Daemon {
    fn engine(&mut self) -> &mut Engine {
        &mut self.engine
    }

    fn parts(&mut self) -> (&mut Engine, Option<&mut Discoverer>) {
        (&mut self.engine, self.discovery.as_mut())
    }

    fn pipe(&self) -> BorrowedFd<'_> {
        self.wake_r.as_fd()
    }

    /// The uevent socket, the link watch, the bus socket (while waiting
    /// for the bus), each when there is one, in that order.
    fn fds(&self) -> Vec<BorrowedFd<'_>> {
        let mut fds: Vec<BorrowedFd<'_>> = self.uevents.iter().map(|u| u.fd()).collect();
        fds.extend(self.net.as_ref().and_then(|n| n.fds().first().copied()));
        fds.extend(self.bus.watch_fd());
        fds
    }

    fn before(&mut self, _: Instant) -> bool {
        if self.control.stop.swap(false, Ordering::SeqCst) {
            return false;
        }
        if self.control.reload.swap(false, Ordering::SeqCst) {
            self.reload();
        }
        self.handle_commands();
        true
    }

    /// Discovery's pages (or the last silent target answering, which
    /// releases the held controllers even when the pages did not change),
    /// then the desired set, built once whatever changed.
    fn merge(&mut self, _: Instant, found: bool) {
        if let Some(disc) = self.discovery.as_ref() {
            let released = !self.held_discovered.is_empty() && disc.all_read();
            if found || released {
                self.sync_discovered();
            }
            self.hold_audit_for_discovery();
        }
        self.sync_wanted();
    }

    fn after(&mut self, _: Instant) -> bool {
        self.publish();
        if !std::mem::replace(&mut self.ready, true) {
            notify::notify("READY=1");
        }
        false
    }

    /// A stop or reload that came during the turn: the next turn starts
    /// at once.
    fn next_wake(&mut self, now: Instant) -> Option<Instant> {
        let c = &self.control;
        (c.stop.load(Ordering::SeqCst) || c.reload.load(Ordering::SeqCst)).then_some(now)
    }

    fn woke(&mut self, ready: &[bool], _: bool) {
        let mut ready = ready.iter().copied();
        let mut next = |present: bool| present && ready.next().unwrap_or(false);
        let ev = next(self.uevents.is_some());
        let net_ev = next(self.net.as_ref().is_some_and(|n| !n.fds().is_empty()));
        let bus_ev = next(self.bus.watch_fd().is_some());
        if ev {
            self.handle_uevents();
        }
        if net_ev {
            self.handle_net(Instant::now());
        }
        if bus_ev {
            self.bus.on_watch();
        }
    }
}
