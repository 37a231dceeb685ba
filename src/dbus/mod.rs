//! Everything D-Bus, in one module tree (the only code that uses zbus, so a
//! later move to another zbus version touches this folder only): the
//! `org.nvmexpress.stac` service ([`service`]), stafd as a source of
//! controllers ([`stafd`]), `stacctl` ([`ctl`]), and the glue to the
//! daemon's loop below.
//!
//! The loop stays the one thread of control of ours (docs/design.md §A2 rule 6):
//! zbus's executor thread runs the handlers, which read a [`view::View`]
//! the loop publishes after each step ([`Bus::publish`]); stafd's signal
//! threads and worker, the thread that waits for the bus to close, the
//! thread that waits for the bus to appear and a written `tron` all report
//! [`Event`]s through [`Post`], which wakes the loop. The loop hands this
//! module a read-only [`StateView`] and applies the [`BusEvent`]s it gets
//! back ([`crate::app::bus`]): nothing here holds the daemon's state.
//!
//! Bus availability (issue 3, item 6): no system bus at start (initramfs)
//! is not an error. stacd runs without it and watches, with inotify(7) in
//! its own poll loop, the nearest existing directory on the way to the bus
//! socket: nothing wakes until that directory changes (an idle stacd
//! without a bus does not wake at all), and each change that makes the
//! socket appear starts one attach attempt on a worker thread. A bus that
//! goes away is noticed (the connection closes) and watched for the same
//! way. Where the address names no socket path (or inotify is unavailable)
//! a thread retries with a back-off from 1 s doubling to a cap of 60 s.
//! Neither ever stops stacd or drops a connection.

pub mod client;
pub mod ctl;
pub mod service;
pub mod stafd;
pub mod view;

use crate::app::bus::{BusEvent, StateView};
use crate::base::root::{rel, Root};
use crate::desired::{Origin, Wanted};
use crate::kernel::sysfs;
use crate::model::identity::Identity;
use crate::model::secret::REDACTED;
use crate::sources::config::ControllerEntry;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::inotify;
use stafd::{DcPages, Dlpe};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use view::{CtrlView, View};

/// Longest wait between two looks for the bus.
pub const BACKOFF_CAP: Duration = Duration::from_secs(60);
/// Method calls we make (stafd's `get_all_log_pages`) give up after this.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // panic = "abort": a mutex is never poisoned, but do not unwrap.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// State the handlers read, written by the loop (and `tron` by a handler).
#[derive(Debug)]
pub struct Shared {
    view: Mutex<Arc<View>>,
    tron: AtomicBool,
    cli_tron: AtomicBool,
    /// stafd's soak timer: interval, and when it fires.
    soak: Mutex<(Duration, Option<Instant>)>,
}

impl Default for Shared {
    fn default() -> Shared {
        Shared {
            view: Mutex::new(Arc::new(View::default())),
            tron: AtomicBool::new(false),
            cli_tron: AtomicBool::new(false),
            soak: Mutex::new((stafd::SOAK, None)),
        }
    }
}

impl Shared {
    pub fn view(&self) -> Arc<View> {
        lock(&self.view).clone()
    }

    /// The effective trace flag.
    pub fn tron(&self) -> bool {
        self.tron.load(Ordering::SeqCst)
    }

    /// `--tron` keeps trace on whatever is written (docs/design.md D15).
    pub fn set_tron(&self, v: bool) {
        self.tron
            .store(self.cli_tron.load(Ordering::SeqCst) || v, Ordering::SeqCst);
    }

    pub fn soak(&self) -> (Duration, Option<Instant>) {
        *lock(&self.soak)
    }

    fn set_soak(&self, interval: Duration, due: Option<Instant>) {
        *lock(&self.soak) = (interval, due);
    }
}

/// What D-Bus threads report to the loop.
#[derive(Debug)]
pub enum Event {
    /// The bus answered and we own `org.nvmexpress.stac`.
    Attached(zbus::blocking::Connection),
    /// The bus connection closed.
    Lost,
    /// stafd got or lost its name.
    StafdOwner(bool),
    /// A `get_all_log_pages` answer, with warnings about skipped parts.
    Pages(Result<(Vec<DcPages>, Vec<String>), stafd::StafdError>),
    /// An attach attempt started by the socket watch failed.
    AttachFailed(String),
    /// A handler set `tron`.
    Tron(bool),
}

/// How D-Bus threads reach the loop: queue an [`Event`] and write a byte
/// to the loop's wake pipe; never waits for the loop.
#[derive(Debug, Clone)]
pub struct Post {
    tx: Sender<Event>,
    wake: Arc<OwnedFd>,
}

impl Post {
    pub fn send(&self, ev: Event) {
        if self.tx.send(ev).is_ok() {
            let _ = rustix::io::write(&*self.wake, b"w");
        }
    }
}

/// Where the system bus is: `DBUS_SYSTEM_BUS_ADDRESS`, else its well-known
/// socket. Under a test root (`STACD_ROOT`) always the socket under that
/// root, so a test never reaches the host's bus. `path` is the socket to
/// look for, when known.
#[derive(Debug, Clone)]
struct Address {
    addr: String,
    path: Option<PathBuf>,
}

impl Address {
    fn system(root: &Root) -> Address {
        match std::env::var("DBUS_SYSTEM_BUS_ADDRESS") {
            Ok(a) if !a.is_empty() && root.is_system() => {
                let path = a
                    .strip_prefix("unix:path=")
                    .filter(|p| !p.contains([',', ';']))
                    .map(PathBuf::from);
                Address { addr: a, path }
            }
            _ => {
                let p = root.path(rel::DBUS_SYSTEM_SOCKET);
                Address {
                    addr: format!("unix:path={}", p.display()),
                    path: Some(p),
                }
            }
        }
    }

    fn present(&self) -> bool {
        self.path.as_ref().is_none_or(|p| p.exists())
    }
}

/// Why an attach failed; at start, a refusal ends the daemon (§1).
#[derive(Debug)]
pub struct AttachError {
    /// The bus answered but will not give us the name: another stacd owns
    /// it, or the policy does not allow us.
    refused: bool,
    msg: String,
}

impl std::fmt::Display for AttachError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

/// Connect, publish the object, then take the name (the original's order,
/// §6.1); the name is not queued for: someone else holding it is an error.
fn attach(
    a: &Address,
    shared: &Arc<Shared>,
    post: &Post,
) -> Result<zbus::blocking::Connection, AttachError> {
    use zbus::fdo::{RequestNameFlags, RequestNameReply};
    let other = |e: zbus::Error| AttachError {
        refused: false,
        msg: format!("cannot connect to the D-Bus system bus at {}: {e}", a.addr),
    };
    let conn = zbus::blocking::connection::Builder::address(a.addr.as_str())
        .and_then(|b| {
            b.method_timeout(CALL_TIMEOUT)
                .serve_at(
                    service::PATH,
                    service::Stac {
                        shared: shared.clone(),
                    },
                )?
                .serve_at(
                    service::PATH,
                    service::Debug {
                        shared: shared.clone(),
                        post: Some(post.clone()),
                    },
                )?
                .build()
        })
        .map_err(other)?;
    let refused = |why: String| AttachError {
        refused: true,
        msg: format!("cannot own the D-Bus name {}: {why}", service::NAME),
    };
    match conn.request_name_with_flags(service::NAME, RequestNameFlags::DoNotQueue.into()) {
        Ok(RequestNameReply::PrimaryOwner | RequestNameReply::AlreadyOwner) => Ok(conn),
        Ok(_) | Err(zbus::Error::NameTaken) => Err(refused(
            "another process owns it (is stacd already running?)".into(),
        )),
        Err(zbus::Error::MethodError(name, msg, _)) => Err(refused(format!(
            "{name}{}",
            msg.map(|m| format!(": {m}")).unwrap_or_default()
        ))),
        Err(e) => Err(other(e)),
    }
}

/// An inotify watch on the nearest existing directory on the way to the
/// bus socket.
#[derive(Debug)]
struct Watch {
    fd: OwnedFd,
    wd: Option<i32>,
    dir: PathBuf,
}

/// The nearest existing directory on the way to `sock`.
fn nearest_dir(sock: &Path) -> Option<PathBuf> {
    sock.ancestors()
        .skip(1)
        .find(|d| d.is_dir())
        .map(Path::to_path_buf)
}

impl Watch {
    fn new() -> Option<Watch> {
        let fd = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)
            .map_err(|e| log::warn!("inotify: {e}; looking for the D-Bus socket periodically"))
            .ok()?;
        Some(Watch {
            fd,
            wd: None,
            dir: PathBuf::new(),
        })
    }

    /// Watch the nearest existing directory of `sock` for entries created
    /// or moved in (the socket, or the next directory down) and for its own
    /// removal. Drains pending events first.
    fn arm(&mut self, sock: &Path) {
        let mut buf = [0u8; 1024];
        while matches!(rustix::io::read(&self.fd, &mut buf), Ok(n) if n > 0) {}
        let Some(dir) = nearest_dir(sock) else { return };
        if self.wd.is_some() && dir == self.dir {
            return;
        }
        if let Some(wd) = self.wd.take() {
            let _ = inotify::remove_watch(&self.fd, wd);
        }
        use inotify::WatchFlags as W;
        match inotify::add_watch(
            &self.fd,
            &dir,
            W::CREATE | W::MOVED_TO | W::DELETE_SELF | W::MOVE_SELF | W::ONLYDIR,
        ) {
            Ok(wd) => {
                log::debug!("watching {} for the D-Bus socket", dir.display());
                self.wd = Some(wd);
                self.dir = dir;
            }
            Err(e) => log::warn!("cannot watch {}: {e}", dir.display()),
        }
    }
}

/// The loop's side of D-Bus: the connection, stafd's last answer, caches.
#[derive(Debug)]
pub struct Bus {
    shared: Arc<Shared>,
    post: Post,
    events: Receiver<Event>,
    address: Address,
    conn: Option<zbus::blocking::Connection>,
    /// The socket watch (when the address names a socket path).
    watch: Option<Watch>,
    /// An attach attempt started by the watch is under way.
    attaching: bool,
    /// The last attach failure, logged once.
    attach_error: Option<String>,
    /// stafd's last good answer; `None` until it answered once.
    pages: Option<Vec<DcPages>>,
    /// Parts of that answer were malformed.
    pages_malformed: bool,
    /// How many controllers a malformed answer did not list (logged once).
    kept_said: usize,
    dlpes: BTreeMap<Identity, Dlpe>,
    /// Warnings about stafd's pages already logged (logged once).
    warned: BTreeSet<String>,
    /// The error stafd's last fetch gave, logged once.
    failing: Option<stafd::StafdError>,
    /// sysfs model, serial, dctype per device and cntlid.
    devinfo: BTreeMap<(String, Option<u16>), [String; 3]>,
    /// stafd's controllers as last handed to the loop ([`BusEvent::Stafd`]).
    stafd: Vec<Wanted>,
}

impl Bus {
    /// The loop's side of D-Bus; threads wake the loop through `wake`.
    pub fn new(root: &Root, wake: Arc<OwnedFd>) -> Bus {
        let (tx, events) = mpsc::channel();
        Bus {
            shared: Arc::new(Shared::default()),
            post: Post { tx, wake },
            events,
            address: Address::system(root),
            conn: None,
            watch: None,
            attaching: false,
            attach_error: None,
            pages: None,
            pages_malformed: false,
            kept_said: 0,
            dlpes: BTreeMap::new(),
            warned: BTreeSet::new(),
            failing: None,
            devinfo: BTreeMap::new(),
            stafd: Vec::new(),
        }
    }

    /// On the bus now.
    pub fn attached(&self) -> bool {
        self.conn.is_some()
    }

    /// The descriptor the loop polls while waiting for the bus.
    pub fn watch_fd(&self) -> Option<BorrowedFd<'_>> {
        match (&self.conn, &self.watch) {
            (None, Some(w)) => Some(w.fd.as_fd()),
            _ => None,
        }
    }
}

/// One attach attempt on a worker thread (the socket just appeared: a few
/// quick tries while the bus daemon starts listening).
fn spawn_attach_once(a: Address, shared: Arc<Shared>, post: Post) {
    let spawned = crate::kernel::worker::spawn("dbus-attach", move || {
        let mut last = String::new();
        for _ in 0..5 {
            match attach(&a, &shared, &post) {
                Ok(conn) => {
                    post.send(Event::Attached(conn));
                    return;
                }
                Err(e) if e.refused => {
                    last = e.msg;
                    break;
                }
                Err(e) => last = e.msg,
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        post.send(Event::AttachFailed(last));
    });
    if let Err(e) = spawned {
        log::error!("cannot start a thread to attach to the D-Bus system bus: {e}");
    }
}

/// Wait for the bus on a thread of its own, with the capped back-off.
fn spawn_attacher(a: Address, shared: Arc<Shared>, post: Post) {
    // Worker threads block the handled signals (src/kernel/worker.rs);
    // zbus's own threads, started from here, inherit that mask.
    let spawned = crate::kernel::worker::spawn("dbus-attach", move || {
        let mut wait = Duration::from_secs(1);
        let mut said: Option<String> = None;
        loop {
            std::thread::sleep(wait);
            wait = (wait * 2).min(BACKOFF_CAP);
            if !a.present() {
                continue;
            }
            match attach(&a, &shared, &post) {
                Ok(conn) => {
                    post.send(Event::Attached(conn));
                    return;
                }
                Err(e) => {
                    if said.as_deref() != Some(&e.msg) {
                        if e.refused {
                            log::error!("{}; trying again", e.msg);
                        } else {
                            log::debug!("{}", e.msg);
                        }
                        said = Some(e.msg);
                    }
                }
            }
        }
    });
    if let Err(e) = spawned {
        log::error!(
            "cannot start a thread to wait for the D-Bus system bus: {e}; running without D-Bus"
        );
    }
}

impl Bus {
    /// Wait for the bus: arm the socket watch (or, without one, the
    /// back-off thread) and try at once if the socket is there.
    fn wait_for_bus(&mut self) {
        let spawn_attacher =
            |b: &Bus| spawn_attacher(b.address.clone(), b.shared.clone(), b.post.clone());
        let Some(sock) = self.address.path.clone() else {
            spawn_attacher(self);
            return;
        };
        if self.watch.is_none() {
            self.watch = Watch::new();
        }
        match self.watch.as_mut() {
            Some(w) => w.arm(&sock),
            None => {
                spawn_attacher(self);
                return;
            }
        }
        if sock.exists() && !self.attaching {
            self.attaching = true;
            spawn_attach_once(self.address.clone(), self.shared.clone(), self.post.clone());
        }
    }

    /// The watched directory changed.
    pub fn on_watch(&mut self) {
        if self.conn.is_none() {
            self.wait_for_bus();
        }
    }

    /// The bus is ours: follow stafd and notice when the bus goes away.
    fn install(&mut self, conn: zbus::blocking::Connection) {
        log::info!(
            "on the D-Bus system bus as {} ({})",
            service::NAME,
            self.address.addr
        );
        stafd::follow(&conn, self.shared.clone(), self.post.clone());
        let (c, post) = (conn.clone(), self.post.clone());
        let spawned = crate::kernel::worker::spawn("dbus-watch", move || {
            c.closed();
            post.send(Event::Lost);
        });
        if let Err(e) = spawned {
            log::warn!("cannot watch the D-Bus connection: {e}; a bus restart will go unnoticed");
        }
        self.conn = Some(conn);
    }

    /// At start: seed stafd's controllers from the ownership record, then
    /// attach to the bus if it is there, else wait for it. `Err` when the
    /// bus refuses us the name (another stacd runs, or the policy forbids
    /// it): the original exits 1 then (§1).
    pub fn start(&mut self, v: &StateView) -> Result<Vec<BusEvent>, AttachError> {
        let mut evs = Vec::new();
        let seeded = stafd::from_owned(v.engine.owned(), v.conf, v.host);
        if !seeded.is_empty() {
            log::info!(
                "keeping the {} controllers stafd listed before until it answers",
                seeded.len()
            );
            self.stafd = seeded.clone();
            evs.push(BusEvent::Stafd(seeded));
        }
        self.shared.cli_tron.store(v.cli_tron, Ordering::SeqCst);
        self.shared.set_tron(v.conf.tron);
        let a = self.address.clone();
        if !a.present() {
            log::info!(
                "no D-Bus system bus yet ({}); running without it until it appears",
                a.addr
            );
            self.wait_for_bus();
            return Ok(evs);
        }
        match attach(&a, &self.shared, &self.post) {
            // The loop publishes once it has applied the seeded list.
            Ok(conn) => self.install(conn),
            Err(e) if e.refused => return Err(e),
            Err(e) => {
                log::warn!("{}; running without D-Bus until it answers", e.msg);
                self.attach_error = Some(e.msg);
                // A socket left by a dead bus: wait until it is made again.
                self.attaching = true;
                self.wait_for_bus();
                self.attaching = false;
            }
        }
        Ok(evs)
    }

    /// Apply what the D-Bus threads reported since the last call; what the
    /// loop must do about it comes back.
    pub fn drain(&mut self, v: &StateView) -> Vec<BusEvent> {
        let mut evs = Vec::new();
        while let Ok(ev) = self.events.try_recv() {
            self.handle(ev, v, &mut evs);
        }
        evs
    }

    fn handle(&mut self, ev: Event, v: &StateView, evs: &mut Vec<BusEvent>) {
        match ev {
            Event::Attached(conn) => {
                self.attaching = false;
                self.attach_error = None;
                self.install(conn);
                self.publish(v);
            }
            Event::AttachFailed(msg) => {
                self.attaching = false;
                if self.attach_error.as_deref() != Some(&msg) {
                    log::warn!("{msg}; waiting for the bus to be started again");
                }
                self.attach_error = Some(msg);
            }
            Event::Lost => {
                self.conn = None;
                log::warn!("the D-Bus system bus went away; running without it until it returns");
                self.wait_for_bus();
            }
            Event::Tron(on) => evs.push(BusEvent::Tron(on)),
            Event::StafdOwner(true) => log::info!("stafd is on the bus"),
            Event::StafdOwner(false) => log::warn!(
                "stafd left the bus; keeping the {} controllers it listed",
                self.stafd.len()
            ),
            Event::Pages(Ok((pages, warnings))) => {
                if self.failing.take().is_some() {
                    log::info!("stafd answers again");
                }
                for w in &warnings {
                    if !self.warned.contains(w) {
                        log::warn!("{w}");
                    }
                }
                self.pages_malformed = !warnings.is_empty();
                self.warned = warnings.into_iter().collect();
                self.pages = Some(pages);
                evs.extend(self.rederive(v));
            }
            Event::Pages(Err(msg)) => {
                if self.failing.as_ref() != Some(&msg) {
                    log::warn!(
                        "cannot read the discovery log pages from stafd: {msg}; keeping the {} controllers it listed",
                        self.stafd.len()
                    );
                }
                self.failing = Some(msg);
            }
        }
    }

    /// stafd's controllers from its last answer under the current
    /// configuration (ignore-iface, [Global] parameters, host identity). An
    /// answer with malformed parts may add controllers but removes none: we
    /// cannot tell which controller a broken entry was about.
    fn rederive(&mut self, v: &StateView) -> Option<BusEvent> {
        let pages = self.pages.as_ref()?;
        let mut new = stafd::to_wanted(pages, v.conf, v.host);
        for w in &new.warnings {
            if self.warned.insert(w.clone()) {
                log::warn!("{w}");
            }
        }
        if self.pages_malformed || new.malformed {
            let mut kept = 0;
            for w in &self.stafd {
                if !new.wanted.iter().any(|n| n.id == w.id) {
                    new.wanted.push(w.clone());
                    if let Some(e) = self.dlpes.get(&w.id) {
                        new.dlpes.insert(w.id.clone(), e.clone());
                    }
                    kept += 1;
                }
            }
            if kept > 0 && kept != self.kept_said {
                log::warn!("stafd's answer has malformed entries; keeping {kept} controllers it listed before and no longer lists");
            }
            self.kept_said = kept;
        } else {
            self.kept_said = 0;
        }
        log::debug!("stafd lists {} I/O controllers", new.wanted.len());
        self.stafd = new.wanted;
        self.dlpes = new.dlpes;
        Some(BusEvent::Stafd(self.stafd.clone()))
    }

    /// After SIGHUP: the file's `tron` replaces one written over D-Bus
    /// (§4.11), and stafd's entries are mapped again under the new
    /// configuration.
    pub fn on_reload(&mut self, v: &StateView) -> Vec<BusEvent> {
        self.shared.set_tron(v.conf.tron);
        self.rederive(v).into_iter().collect()
    }
}

/// The keys of a `controller=` line beyond the identity, as the original
/// shows them (§6.2): unknown keys, overrides (`True`/`False`, decimal),
/// secrets as `<redacted>`.
pub fn conf_extras(e: &ControllerEntry) -> Vec<(String, String)> {
    let mut v = e.extras.clone();
    let o = &e.overrides;
    let b = |x: Option<bool>| x.map(|b| view::py_bool(b).to_string());
    let n = |x: Option<i64>| x.map(|n| n.to_string());
    for (k, x) in [
        ("hdr-digest", b(o.hdr_digest)),
        ("data-digest", b(o.data_digest)),
        ("nr-io-queues", n(o.nr_io_queues)),
        ("nr-write-queues", n(o.nr_write_queues)),
        ("nr-poll-queues", n(o.nr_poll_queues)),
        ("queue-size", n(o.queue_size)),
        ("kato", n(o.kato)),
        ("reconnect-delay", n(o.reconnect_delay)),
        ("ctrl-loss-tmo", n(o.ctrl_loss_tmo)),
        ("disable-sqflow", b(o.disable_sqflow)),
    ] {
        if let Some(x) = x {
            v.push((k.to_string(), x));
        }
    }
    for (k, s) in [
        ("dhchap-secret", &e.dhchap_secret),
        ("dhchap-ctrl-secret", &e.dhchap_ctrl_secret),
    ] {
        if s.is_some() {
            v.push((k.to_string(), REDACTED.to_string()));
        }
    }
    v
}

impl Bus {
    /// Publish what the handlers answer from. Called after every step; does
    /// nothing off the bus.
    pub fn publish(&mut self, v: &StateView) {
        if self.conn.is_none() {
            return;
        }
        let snaps = v.engine.snapshot();
        // Entries are in file order, so by line: a binary search per
        // controller, not a scan of the file.
        let entries = &v.conf.controllers;
        let mut seen = BTreeSet::new();
        let mut ctrls = Vec::with_capacity(snaps.len());
        for snap in snaps {
            let extras = match snap.wanted.origin {
                Origin::Config { line } => entries
                    .binary_search_by_key(&line, |e| e.line)
                    .map_or_else(|_| snap.wanted.extras.clone(), |i| conf_extras(&entries[i])),
                _ => snap.wanted.extras.clone(),
            };
            let dlpe = match snap.wanted.origin {
                Origin::Stafd => self.dlpes.get(&snap.wanted.id).cloned(),
                _ => None,
            };
            let [model, serial, dctype] = match &snap.status.device {
                Some(dev) => {
                    let key = (dev.clone(), snap.status.cntlid);
                    seen.insert(key.clone());
                    let root = v.root;
                    self.devinfo
                        .entry(key)
                        .or_insert_with(|| {
                            let dir = root.nvme_ctrl(dev);
                            ["model", "serial", "dctype"]
                                .map(|a| sysfs::read_attr(&dir, a).unwrap_or_default())
                        })
                        .clone()
                }
                None => Default::default(),
            };
            ctrls.push(CtrlView {
                snap,
                extras,
                dlpe,
                model,
                serial,
                dctype,
            });
        }
        self.devinfo.retain(|k, _| seen.contains(k));
        let kopts = v.engine.kernel_options();
        let v = View {
            ctrls,
            hostnqn: v.host.nqn.to_string(),
            hostid: v.host.id.map(|h| h.to_string()).unwrap_or_default(),
            hostkey: v.host.key.is_some(),
            symname: v.host.symname.clone(),
            state_file: v.engine.state_path().display().to_string(),
            tp8013: kopts.supports("discovery"),
            host_iface: kopts.supports("host_iface"),
            ignore_iface: v.conf.ignore_iface,
            retry_later: v.engine.retry.later,
        };
        *lock(&self.shared.view) = Arc::new(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::secret::Secret;

    #[test]
    fn config_extras_redact_secrets() {
        let mut e = ControllerEntry {
            extras: vec![("zone".into(), "blue".into())],
            dhchap_ctrl_secret: Secret::new(
                "DHHC-1:00:o6Nwod3W/IHmeE8jkGKZ7VxshGPHpmvxmWWNiLto4ZYK2bNF:",
            )
            .ok(),
            ..Default::default()
        };
        e.overrides.kato = Some(71);
        e.overrides.hdr_digest = Some(true);
        let x = conf_extras(&e);
        assert_eq!(
            x,
            [
                ("zone".to_string(), "blue".to_string()),
                ("hdr-digest".into(), "True".into()),
                ("kato".into(), "71".into()),
                ("dhchap-ctrl-secret".into(), REDACTED.into()),
            ]
        );
    }

    #[test]
    fn tron_written_over_dbus_cannot_undo_the_command_line() {
        let s = Shared::default();
        s.set_tron(true);
        assert!(s.tron());
        s.set_tron(false);
        assert!(!s.tron());
        s.cli_tron.store(true, Ordering::SeqCst);
        s.set_tron(false);
        assert!(s.tron());
    }
}
