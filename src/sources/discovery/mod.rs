//! Built-in discovery: stacd follows discovery controllers itself (those of
//! the kernel command line, the NBFT and `[Standalone] discovery-controller=`),
//! for boot and for appliances without stafd.
//!
//! For each target: find a live discovery controller for it in
//! `/sys/class/nvme` (adopted, never duplicated) or connect one through
//! [`Fabrics`], read its discovery log page ([`crate::sources::discovery::logpage::read`]) and
//! turn the `subtype == nvme` entries into wanted I/O controllers
//! ([`to_wanted`]: the entry's transport, traddr, trsvcid, subnqn with the
//! discovery controller's host-traddr, host-iface and host NQN, as stacd does
//! with stafd's pages, docs/design.md §3.3). The caller merges them through
//! `daemon::Inputs::discovered`, where exclusions and ip-family apply.
//!
//! Connects and reads run on worker threads (a connect blocks in the
//! kernel); results come back over a channel and a byte on the waker. The
//! daemon keeps its discovery controllers (persistent, kato 30 s as stafd)
//! and reads the page again on a "discovery log page changed" event
//! (`NVME_AEN=0x70f002`) or `NVME_EVENT=rediscover` (kernel
//! `drivers/nvme/host/core.c`, `nvme_aen_uevent`, `nvme_start_ctrl`);
//! bursts coalesce into one read. The daemon records the discovery
//! controllers it connected in `discovery.json` (the format of
//! [`crate::reconcile::state`]): after a restart the one a target finds is
//! still ours if its name and cntlid are the recorded ones, and is deleted
//! when the target goes, as it would be without the restart; one found
//! without a record is someone else's (stafd's) and never deleted.
//! `--once` deletes the discovery
//! controllers it connected itself once their page is read. A target
//! whose read fails keeps its last entries (never disconnect because a
//! source is silent) and is retried after 3 s, then every 60 s.

pub mod logpage;

use crate::base::root::Root;
use crate::desired::{Origin, Wanted};
use crate::kernel::admin::AdminError;
use crate::kernel::fabrics::{ConnectError, Fabrics};
use crate::kernel::netif::IfAddrs;
use crate::kernel::sysfs::{self, KernelCtrl};
use crate::kernel::uevent::Event;
use crate::model::identity::{IdFields, Identity, DISCOVERY_NQN};
use crate::model::params::{self, ConnectParams, KernelOptions};
use crate::reconcile::engine::Retry;
use crate::reconcile::state::{Owned, OwnedMap, Store};
use crate::sources::boot::DcTarget;
use logpage::{LogPage, LID_DISCOVERY};
use rustix::fd::OwnedFd;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::Instant;

/// The AEN of a discovery log page change (Asynchronous Event Type 2h
/// "notice", information 0xF0 "discovery log page change", log page 0x70),
/// as the kernel formats it in `NVME_AEN=%#08x`.
pub const AEN_DISCOVERY_CHANGE: &str = "0x70f002";

/// Keep-alive of the discovery controllers the daemon holds (stafd's
/// default `kato`).
pub const PERSISTENT_KATO: i64 = 30;

/// The I/O controllers a page lists, as wanted by `t`. Entries of another
/// subtype (referrals, the discovery controller itself) are not
/// connected; entries without a usable address are noted and skipped.
pub fn to_wanted(t: &DcTarget, page: &LogPage, notes: &mut Vec<String>) -> Vec<Wanted> {
    let mut out = Vec::new();
    for e in &page.entries {
        if !e.is_nvme() {
            continue;
        }
        let Some(transport) = e.transport() else {
            notes.push(format!(
                "{} lists {} with transport type {}; skipped",
                t.id, e.subnqn, e.trtype
            ));
            continue;
        };
        // stafd drops these (docs/design.md §3.3): no address to connect to.
        if matches!(e.traddr.as_str(), "" | "0.0.0.0" | "::") && transport != "loop" {
            notes.push(format!(
                "{} lists {} without an address; skipped",
                t.id, e.subnqn
            ));
            continue;
        }
        let id = Identity::new(&IdFields {
            transport,
            traddr: &e.traddr,
            trsvcid: &e.trsvcid,
            subsysnqn: &e.subnqn,
            host_traddr: &t.id.host_traddr,
            host_iface: &t.id.host_iface,
            host_nqn: &t.id.host_nqn,
        });
        match id {
            Ok(id) => out.push(Wanted {
                id,
                params: ConnectParams {
                    conn: t.io.clone(),
                    hostid: t.params.hostid,
                    dhchap_secret: None,
                    dhchap_ctrl_secret: None,
                    tls: None,
                },
                origin: Origin::Discovery,
                boot: t.boot,
                extras: Vec::new(),
                ncc: e.ncc(),
            }),
            Err(err) => notes.push(format!(
                "{} lists an entry that cannot be used: {err}",
                t.id
            )),
        }
    }
    out
}

/// A kernel discovery controller (`cntrltype`, or before 5.18 the
/// well-known NQN).
fn is_discovery(c: &KernelCtrl) -> bool {
    match &c.cntrltype {
        Some(t) => t == "discovery",
        None => c.subsysnqn == DISCOVERY_NQN,
    }
}

/// A live discovery controller in `scan` serving `id`: `known` first.
pub fn find_dc<'a>(
    id: &Identity,
    scan: &'a [KernelCtrl],
    known: Option<&str>,
    net: &IfAddrs,
) -> Option<&'a KernelCtrl> {
    let usable = |c: &&KernelCtrl| is_discovery(c) && !c.is_dying();
    scan.iter()
        .filter(usable)
        .find(|c| Some(c.name.as_str()) == known && crate::reconcile::matching::matches(id, c, net))
        .or_else(|| {
            scan.iter()
                .filter(usable)
                .find(|c| crate::reconcile::matching::matches(id, c, net))
        })
}

#[derive(Debug)]
struct Done {
    id: Identity,
    gen: u64,
    /// (device, its cntlid, connected by us, page).
    result: Result<(String, u16, bool, LogPage), DiscoveryError>,
}

#[derive(Debug)]
struct Dc {
    target: DcTarget,
    device: Option<String>,
    /// We connected `device` (deleted when the target goes away, and at
    /// once by `--once`).
    ours: bool,
    wanted: Vec<Wanted>,
    /// Reads asked for (start, events) and reads done: a read is due while
    /// they differ.
    want_gen: u64,
    done_gen: u64,
    in_flight: bool,
    next_try: Option<Instant>,
    attempts: u32,
    last_error: Option<String>,
    /// At least one job finished (successfully or not).
    tried: bool,
    read_ok: bool,
}

impl Dc {
    fn new(target: DcTarget) -> Dc {
        Dc {
            target,
            device: None,
            ours: false,
            wanted: Vec::new(),
            want_gen: 1,
            done_gen: 0,
            in_flight: false,
            next_try: None,
            attempts: 0,
            last_error: None,
            tried: false,
            read_ok: false,
        }
    }
}

/// What one discovery controller looks like now (logs, `--once`).
#[derive(Debug, Clone)]
pub struct DcStatus {
    pub id: Identity,
    pub device: Option<String>,
    pub entries: usize,
    pub last_error: Option<String>,
    pub ok: bool,
}

/// The discovery controllers stacd follows.
pub struct Discoverer {
    root: Root,
    kernel: Arc<dyn Fabrics>,
    kopts: KernelOptions,
    persistent: bool,
    pub retry: Retry,
    dcs: Vec<Dc>,
    tx: Sender<Done>,
    rx: Receiver<Done>,
    waker: Option<Arc<OwnedFd>>,
    /// The interface table, when the caller watches links: a discovery
    /// controller whose host-iface is not ready ([`IfAddrs::not_ready`])
    /// waits for it.
    net: Option<IfAddrs>,
    /// The discovery controllers we connected and hold (persistent only),
    /// as recorded in `discovery.json`: after a restart, the one a target
    /// finds is known as ours again, and is deleted when the target goes.
    owned: OwnedMap,
    store: Option<Store>,
}

impl std::fmt::Debug for Discoverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discoverer")
            .field("dcs", &self.dcs.len())
            .field("persistent", &self.persistent)
            .finish()
    }
}

impl Discoverer {
    /// `persistent`: keep the discovery controllers connected (daemon).
    pub fn new(
        root: &Root,
        kernel: Arc<dyn Fabrics>,
        persistent: bool,
        retry: Retry,
    ) -> Discoverer {
        let kopts = crate::reconcile::engine::kernel_options(&*kernel);
        Discoverer::with_options(root, kernel, kopts, persistent, retry)
    }

    /// [`Discoverer::new`] with the kernel's option table already read
    /// (by the engine): read once, and its warnings logged once.
    pub fn with_options(
        root: &Root,
        kernel: Arc<dyn Fabrics>,
        kopts: KernelOptions,
        persistent: bool,
        retry: Retry,
    ) -> Discoverer {
        let (tx, rx) = mpsc::channel();
        let store = persistent.then(|| Store::discovery(&root.run_dir()));
        Discoverer {
            owned: store.as_ref().map(Store::load).unwrap_or_default(),
            store,
            root: root.clone(),
            kernel,
            kopts,
            persistent,
            retry,
            dcs: Vec::new(),
            tx,
            rx,
            waker: None,
            net: None,
        }
    }

    pub fn set_waker(&mut self, fd: Arc<OwnedFd>) {
        self.waker = Some(fd);
    }

    pub fn is_empty(&self) -> bool {
        self.dcs.is_empty()
    }

    /// Follow `targets` (first of an identity wins). Known targets keep
    /// their state; a dropped target's entries go, and its discovery
    /// controller is deleted if we connected it. Returns true when the
    /// wanted set changed.
    pub fn set_targets(&mut self, targets: Vec<DcTarget>) -> bool {
        let mut old = std::mem::take(&mut self.dcs);
        let mut changed = false;
        for t in targets {
            if self.dcs.iter().any(|d| d.target.id == t.id) {
                continue;
            }
            match old.iter().position(|d| d.target.id == t.id) {
                Some(i) => {
                    let mut d = old.swap_remove(i);
                    if d.target != t {
                        d.target = t;
                        d.want_gen += 1;
                        d.next_try = None;
                    }
                    self.dcs.push(d);
                }
                None => {
                    log::debug!("{} following discovery controller ({})", t.id, t.origin);
                    self.dcs.push(Dc::new(t));
                }
            }
        }
        for d in old {
            changed |= !d.wanted.is_empty();
            if let (true, Some(dev)) = (d.ours, &d.device) {
                log::info!(
                    "{} | {dev} - no longer followed; disconnecting",
                    d.target.id
                );
                if let Err(e) = self.kernel.delete(dev) {
                    log::warn!("{} | {dev} - failed to disconnect: {e}", d.target.id);
                }
                self.record(&d.target.id, None);
            }
        }
        changed
    }

    /// Record (`Some`: device, cntlid) or forget a discovery controller we
    /// hold; the file is written when the record changed.
    fn record(&mut self, id: &Identity, held: Option<(&str, u16)>) {
        let Some(store) = &self.store else { return };
        let new = held.map(|(device, cntlid)| Owned {
            device: device.to_string(),
            cntlid,
            origin: "discovery".into(),
            boot: false,
        });
        if self.owned.get(id) == new.as_ref() {
            return;
        }
        match new {
            Some(o) => self.owned.insert(id.clone(), o),
            None => self.owned.remove(id),
        };
        if let Err(e) = store.save(&self.owned) {
            log::warn!("cannot write {}: {e}", store.path().display());
        }
    }

    /// Every wanted I/O controller of every page, in target order.
    pub fn wanted(&self) -> Vec<Wanted> {
        self.dcs
            .iter()
            .flat_map(|d| d.wanted.iter().cloned())
            .collect()
    }

    pub fn status(&self) -> Vec<DcStatus> {
        self.dcs
            .iter()
            .map(|d| DcStatus {
                id: d.target.id.clone(),
                device: d.device.clone(),
                entries: d.wanted.len(),
                last_error: d.last_error.clone(),
                ok: d.read_ok,
            })
            .collect()
    }

    pub fn in_flight(&self) -> usize {
        self.dcs.iter().filter(|d| d.in_flight).count()
    }

    /// Every target finished at least one attempt.
    pub fn tried(&self) -> bool {
        self.dcs.iter().all(|d| d.tried)
    }

    /// Every target's page was read.
    pub fn all_read(&self) -> bool {
        self.dcs.iter().all(|d| d.read_ok)
    }

    pub fn failed(&self) -> usize {
        self.dcs.iter().filter(|d| !d.read_ok).count()
    }

    /// A uevent of `ev.name`: a page change or a rediscover on one of our
    /// discovery controllers asks for a read; its removal for a reconnect.
    /// True when something was scheduled.
    pub fn on_event(&mut self, ev: &Event, now: Instant) -> bool {
        let first = self.retry.first;
        let Some(d) = self
            .dcs
            .iter_mut()
            .find(|d| d.device.as_deref() == Some(ev.name.as_str()))
        else {
            return false;
        };
        match (ev.action.as_str(), ev.get("NVME_AEN"), ev.get("NVME_EVENT")) {
            ("change", Some(AEN_DISCOVERY_CHANGE), _) | ("change", _, Some("rediscover")) => {
                log::info!(
                    "{} | {} - discovery log page changed; reading it again",
                    d.target.id,
                    ev.name
                );
                d.want_gen += 1;
                d.next_try = None;
                true
            }
            ("remove", _, _) => {
                log::info!(
                    "{} | {} - discovery controller removed; reconnecting",
                    d.target.id,
                    ev.name
                );
                d.device = None;
                d.ours = false;
                d.want_gen += 1;
                d.next_try = Some(now + first);
                let id = d.target.id.clone();
                self.record(&id, None);
                true
            }
            _ => false,
        }
    }

    /// Read every page again now (SIGHUP).
    pub fn revive(&mut self) {
        for d in &mut self.dcs {
            d.want_gen += 1;
            d.next_try = None;
        }
    }

    /// The earliest moment `step` has work of its own.
    pub fn next_wake(&self) -> Option<Instant> {
        self.dcs
            .iter()
            .filter(|d| !d.in_flight && d.want_gen != d.done_gen)
            .filter_map(|d| d.next_try)
            .min()
    }

    /// Hold discovery controllers whose host-iface is not ready in `net`
    /// (see [`crate::reconcile::engine::Engine::set_link_gate`]); those on the
    /// interfaces in `up` are tried now rather than at their retry time.
    pub fn set_net(&mut self, net: IfAddrs, up: &[String]) {
        for d in &mut self.dcs {
            let iface = d.target.id.host_iface.as_str();
            if !d.in_flight && (iface.is_empty() || up.iter().any(|u| u == iface)) {
                d.next_try = None;
            }
        }
        self.net = Some(net);
    }

    fn held(&self, id: &Identity) -> bool {
        let (Some(net), false) = (&self.net, id.host_iface.is_empty()) else {
            return false;
        };
        net.not_ready(&id.host_iface, &id.traddr).is_some()
    }

    /// Handle finished jobs and start due ones. True when the wanted set
    /// changed.
    pub fn step(&mut self, now: Instant) -> bool {
        let mut changed = false;
        let done: Vec<Done> = self.rx.try_iter().collect();
        for d in done {
            changed |= self.finish(d, now);
        }
        for i in 0..self.dcs.len() {
            let d = &self.dcs[i];
            let due = d.want_gen != d.done_gen && d.next_try.is_none_or(|t| t <= now);
            if !d.in_flight && due && !self.held(&d.target.id) {
                self.start(i);
            }
        }
        changed
    }

    /// Block until a job finishes or `until`.
    pub fn wait(&mut self, until: Instant) -> bool {
        let left = until.saturating_duration_since(Instant::now());
        match self.rx.recv_timeout(left) {
            Ok(d) => {
                // Put it back for step to handle.
                let _ = self.tx.send(d);
                true
            }
            Err(_) => false,
        }
    }

    fn finish(&mut self, done: Done, now: Instant) -> bool {
        let (first, later) = (self.retry.first, self.retry.later);
        let Some(d) = self.dcs.iter_mut().find(|d| d.target.id == done.id) else {
            // Dropped meanwhile: forget a controller we connected for it.
            if let Ok((dev, _, true, _)) = &done.result {
                if self.persistent {
                    let _ = self.kernel.delete(dev);
                }
            }
            return false;
        };
        d.in_flight = false;
        d.tried = true;
        match done.result {
            Ok((device, cntlid, ours, page)) => {
                let mut notes = Vec::new();
                let wanted = to_wanted(&d.target, &page, &mut notes);
                for n in notes {
                    log::warn!("{n}");
                }
                log::info!(
                    "{} | {device} - discovery log page read: {} entries, {} I/O controllers (generation {})",
                    d.target.id,
                    page.entries.len(),
                    wanted.len(),
                    page.genctr
                );
                // Found rather than connected: ours all the same if it is
                // the one we recorded (same name and cntlid) before a restart.
                let recorded = self
                    .owned
                    .get(&d.target.id)
                    .is_some_and(|o| o.device == device && o.cntlid == cntlid);
                d.ours = (ours || recorded) && self.persistent;
                let held = d.ours.then_some((device.as_str(), cntlid));
                d.done_gen = done.gen;
                d.attempts = 0;
                d.last_error = None;
                d.next_try = None;
                d.read_ok = true;
                let changed = d.wanted != wanted;
                d.wanted = wanted;
                let id = d.target.id.clone();
                d.device = self.persistent.then(|| device.clone());
                self.record(&id, held);
                changed
            }
            Err(e) => {
                let e = e.to_string();
                d.attempts += 1;
                let delay = if d.attempts == 1 { first } else { later };
                d.next_try = Some(now + delay);
                if d.attempts <= 2 || d.last_error.as_deref() != Some(e.as_str()) {
                    log::error!(
                        "{} discovery failed: {e} (attempt {}, next in {} s)",
                        d.target.id,
                        d.attempts,
                        crate::reconcile::engine::Secs1(delay)
                    );
                }
                d.last_error = Some(e);
                false
            }
        }
    }

    fn start(&mut self, i: usize) {
        let persistent = self.persistent;
        let d = &mut self.dcs[i];
        d.in_flight = true;
        let gen = d.want_gen;
        let target = d.target.clone();
        let known = d.device.clone();
        let (root, kernel, kopts, tx, waker) = (
            self.root.clone(),
            self.kernel.clone(),
            self.kopts.clone(),
            self.tx.clone(),
            self.waker.clone(),
        );
        let spawned = crate::kernel::worker::spawn("discover", move || {
            let result = job(
                &root,
                &*kernel,
                &kopts,
                &target,
                known.as_deref(),
                persistent,
            );
            let _ = tx.send(Done {
                id: target.id,
                gen,
                result,
            });
            if let Some(w) = waker {
                let _ = rustix::io::write(&*w, b"d");
            }
        });
        if let Err(e) = spawned {
            let d = &mut self.dcs[i];
            d.in_flight = false;
            d.last_error = Some(format!("cannot start a discovery thread: {e}"));
            d.next_try = Some(Instant::now() + self.retry.later);
        }
    }
}

/// Why one discovery did not read a page (the target is named by the
/// caller's log line).
#[derive(Debug)]
pub enum DiscoveryError {
    /// `/sys/class/nvme` could not be read.
    Scan(std::io::Error),
    /// The kernel refused the discovery controller's connect.
    Connect(ConnectError),
    /// Not connected at all: the kernel lacks an option the controller
    /// needs (a key, TLS; model/params.rs `refused`), said in full.
    Refused(String),
    /// Get Log Page on `device` failed or gave no consistent page.
    Page {
        device: String,
        err: logpage::LogError<AdminError>,
    },
}

impl std::fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DiscoveryError::Scan(e) => write!(f, "cannot read the kernel's controllers: {e}"),
            DiscoveryError::Connect(e) => write!(f, "cannot connect: {e}"),
            DiscoveryError::Refused(why) => f.write_str(why),
            DiscoveryError::Page { device, err } => write!(f, "{device}: {err}"),
        }
    }
}

impl std::error::Error for DiscoveryError {}

/// One discovery: find or connect the controller, read its page; a
/// controller connected here is deleted again unless `persistent`.
fn job(
    root: &Root,
    kernel: &dyn Fabrics,
    kopts: &KernelOptions,
    t: &DcTarget,
    known: Option<&str>,
    persistent: bool,
) -> Result<(String, u16, bool, LogPage), DiscoveryError> {
    let net = if t.id.host_iface.is_empty() && t.id.host_traddr.is_empty() {
        IfAddrs::default()
    } else {
        IfAddrs::load().unwrap_or_default()
    };
    let scan = sysfs::scan(root).map_err(DiscoveryError::Scan)?;
    let (device, cntlid, ours) = match find_dc(&t.id, &scan, known, &net) {
        Some(c) => (c.name.clone(), c.cntlid.unwrap_or(0), false),
        None => {
            let mut p = t.params.clone();
            if persistent && p.conn.kato.is_none() {
                p.conn.kato = Some(PERSISTENT_KATO);
            }
            let opts = params::option_string(&t.id, &p, kopts, params::DEFAULT_CTRL_LOSS_TMO);
            if let Some(why) = opts.refused {
                return Err(DiscoveryError::Refused(why));
            }
            log::debug!(
                "{} Connecting discovery controller with {}",
                t.id,
                opts.shown()
            );
            let t0 = Instant::now();
            let reply = kernel
                .connect(opts.expose())
                .map_err(DiscoveryError::Connect)?;
            log::info!(
                "{} | {} - discovery controller connected in {} ms",
                t.id,
                reply.device(),
                t0.elapsed().as_millis()
            );
            (reply.device(), reply.cntlid, true)
        }
    };
    let page = logpage::read(&mut |off, buf, rae| {
        kernel.get_log_page(&device, LID_DISCOVERY, off, buf, rae)
    });
    if ours && !persistent {
        if let Err(e) = kernel.delete(&device) {
            log::warn!("{} | {device} - failed to disconnect: {e}", t.id);
        }
    }
    match page {
        Ok(p) => Ok((device, cntlid, ours, p)),
        Err(err) => Err(DiscoveryError::Page { device, err }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::config::ConnParams;
    use crate::sources::discovery::logpage::{
        build, tcp_entry, SUBTYPE_CURRENT_DISCOVERY, SUBTYPE_NVME, SUBTYPE_REFERRAL,
    };

    const HOST: &str = "nqn.2014-08.org.nvmexpress:uuid:0000";

    fn target(boot: bool) -> DcTarget {
        DcTarget {
            id: Identity::new(&IdFields {
                transport: "tcp",
                traddr: "127.0.0.1",
                trsvcid: "8009",
                subsysnqn: DISCOVERY_NQN,
                host_iface: "eth0",
                host_nqn: HOST,
                ..Default::default()
            })
            .unwrap(),
            params: ConnectParams {
                hostid: crate::model::identity::HostId::parse(
                    "11111111-2222-3333-4444-555555555555",
                ),
                ..Default::default()
            },
            io: ConnParams {
                kato: Some(9),
                ..Default::default()
            },
            origin: Origin::Cmdline,
            boot,
        }
    }

    #[test]
    fn entries_to_wanted() {
        let mut odd = tcp_entry(SUBTYPE_NVME, "10.0.0.3", "4420", "nqn.c");
        odd.trtype = 99;
        let mut ncc = tcp_entry(SUBTYPE_NVME, "10.0.0.4", "4420", "nqn.d");
        ncc.eflags = 4;
        let page = logpage::parse(&build(
            3,
            &[
                tcp_entry(
                    SUBTYPE_CURRENT_DISCOVERY,
                    "127.0.0.1",
                    "8009",
                    DISCOVERY_NQN,
                ),
                tcp_entry(SUBTYPE_NVME, "127.0.0.1", "4420", "nqn.a"),
                tcp_entry(SUBTYPE_REFERRAL, "10.0.0.9", "8009", DISCOVERY_NQN),
                tcp_entry(SUBTYPE_NVME, "0.0.0.0", "4420", "nqn.b"),
                odd,
                ncc,
                tcp_entry(SUBTYPE_NVME, "10.0.0.5", "4420", "nqn,bad"),
            ],
        ))
        .unwrap();
        let mut notes = Vec::new();
        let w = to_wanted(&target(true), &page, &mut notes);
        let ids: Vec<String> = w.iter().map(|w| w.id.to_string()).collect();
        assert_eq!(
            ids,
            [
                "(tcp, 127.0.0.1, 4420, nqn.a, eth0)",
                "(tcp, 10.0.0.4, 4420, nqn.d, eth0)"
            ]
        );
        assert!(w.iter().all(|w| w.boot && w.origin == Origin::Discovery));
        assert!(w.iter().all(
            |w| w.id.host_nqn.as_str() == HOST && w.params.hostid == target(true).params.hostid
        ));
        assert_eq!(w[0].params.conn.kato, Some(9));
        assert_eq!((w[0].ncc, w[1].ncc), (false, true));
        assert_eq!(notes.len(), 3, "{notes:?}");
        assert!(!to_wanted(&target(false), &page, &mut notes)[0].boot);
    }

    #[test]
    fn finds_discovery_controllers_only() {
        let mk = |n: u32, ty: Option<&str>, nqn: &str, state: &str| KernelCtrl {
            name: format!("nvme{n}"),
            instance: n,
            transport: "tcp".into(),
            traddr: "127.0.0.1".into(),
            trsvcid: "8009".into(),
            host_iface: "eth0".into(),
            subsysnqn: nqn.into(),
            hostnqn: HOST.into(),
            state: state.into(),
            cntrltype: ty.map(String::from),
            ..Default::default()
        };
        let t = target(false);
        let net = IfAddrs::default();
        let scan = vec![
            mk(0, Some("io"), "nqn.x", "live"),
            mk(1, Some("discovery"), DISCOVERY_NQN, "deleting"),
            mk(2, None, DISCOVERY_NQN, "live"),
            mk(3, Some("discovery"), "nqn.unique.dc", "live"),
        ];
        assert_eq!(
            find_dc(&t.id, &scan, None, &net).map(|c| c.name.as_str()),
            Some("nvme2")
        );
        // The well-known NQN matches a unique discovery NQN too (TP8013).
        assert_eq!(
            find_dc(&t.id, &scan, Some("nvme3"), &net).map(|c| c.name.as_str()),
            Some("nvme3")
        );
        assert!(find_dc(&t.id, &scan[..2], None, &net).is_none());
    }
}
