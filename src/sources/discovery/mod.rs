//! Built-in discovery: stacd follows discovery controllers itself (those of
//! the kernel command line, the NBFT and `[Standalone] discovery-controller=`),
//! for boot and for appliances without stafd.
//!
//! This source reads pages; the engine holds the controllers. Each turn it
//! tells the engine which targets need a discovery controller
//! ([`Engine::set_discovery`]), and the engine's plan finds a live one to
//! use, keeps the one we connected, or connects one, and deletes ours when
//! it is no longer needed ([`crate::reconcile::plan::plan_discovery`],
//! docs/design.md §A3). Once the engine has a device for a target
//! ([`Engine::dc_device`]), its discovery log page is read
//! ([`crate::sources::discovery::logpage::read`]) and the `subtype == nvme`
//! entries become wanted I/O controllers ([`to_wanted`]: the entry's
//! transport, traddr, trsvcid, subnqn with the discovery controller's
//! host-traddr, host-iface and host NQN, as stacd does with stafd's pages,
//! docs/design.md §3.3). The caller merges them through
//! `daemon::Inputs::discovered`, where exclusions and ip-family apply.
//!
//! Reads run on worker threads (an admin command can wait on the target);
//! results come back over a channel and a byte on the waker. The daemon
//! needs every target's controller all the time (persistent, kato 30 s as
//! stafd) and reads the page again on a "discovery log page changed" event
//! (`NVME_AEN=0x70f002`) or `NVME_EVENT=rediscover` (kernel
//! `drivers/nvme/host/core.c`, `nvme_aen_uevent`, `nvme_start_ctrl`);
//! bursts coalesce into one read. `--once` needs a target's controller
//! only while its page is to be read, so the one it connected is deleted
//! once the page is read. A target whose read fails keeps its last
//! entries (never disconnect because a source is silent) and is retried
//! after 3 s, then every 60 s.

pub mod logpage;

use crate::desired::{Origin, Wanted};
use crate::kernel::admin::AdminError;
use crate::kernel::fabrics::Fabrics;
use crate::kernel::uevent::Event;
use crate::model::identity::{IdFields, Identity};
use crate::model::params::ConnectParams;
use crate::reconcile::engine::{Engine, Retry};
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

#[derive(Debug)]
struct Done {
    id: Identity,
    gen: u64,
    device: String,
    result: Result<LogPage, DiscoveryError>,
}

#[derive(Debug)]
struct Dc {
    target: DcTarget,
    /// The device its last read used (set when a read starts).
    device: Option<String>,
    wanted: Vec<Wanted>,
    /// Reads asked for (start, events) and reads done: a read is due while
    /// they differ.
    want_gen: u64,
    done_gen: u64,
    in_flight: bool,
    next_try: Option<Instant>,
    attempts: u32,
    last_error: Option<String>,
    /// The engine's last connect error for it.
    connect_error: Option<String>,
    /// At least one read or connect finished (successfully or not).
    tried: bool,
    read_ok: bool,
}

impl Dc {
    fn new(target: DcTarget) -> Dc {
        Dc {
            target,
            device: None,
            wanted: Vec::new(),
            want_gen: 1,
            done_gen: 0,
            in_flight: false,
            next_try: None,
            attempts: 0,
            last_error: None,
            connect_error: None,
            tried: false,
            read_ok: false,
        }
    }

    /// A read is to be made now.
    fn due(&self, now: Instant) -> bool {
        !self.in_flight && self.want_gen != self.done_gen && self.next_try.is_none_or(|t| t <= now)
    }

    /// What the engine connects for it: the target's identity and
    /// parameters (not a boot path itself: its I/O controllers are).
    fn to_engine(&self) -> Wanted {
        Wanted {
            id: self.target.id.clone(),
            params: self.target.params.clone(),
            origin: self.target.origin.clone(),
            boot: false,
            extras: Vec::new(),
            ncc: false,
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

/// The discovery targets stacd follows, and their pages.
pub struct Discoverer {
    kernel: Arc<dyn Fabrics>,
    persistent: bool,
    pub retry: Retry,
    dcs: Vec<Dc>,
    tx: Sender<Done>,
    rx: Receiver<Done>,
    waker: Option<Arc<OwnedFd>>,
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
    /// `persistent`: every target needs its discovery controller all the
    /// time (the daemon; its engine must [`Engine::follow_discovery`]).
    pub fn new(kernel: Arc<dyn Fabrics>, persistent: bool, retry: Retry) -> Discoverer {
        let (tx, rx) = mpsc::channel();
        Discoverer {
            kernel,
            persistent,
            retry,
            dcs: Vec::new(),
            tx,
            rx,
            waker: None,
        }
    }

    pub fn set_waker(&mut self, fd: Arc<OwnedFd>) {
        self.waker = Some(fd);
    }

    pub fn is_empty(&self) -> bool {
        self.dcs.is_empty()
    }

    /// Every target needs its discovery controller all the time.
    pub fn persistent(&self) -> bool {
        self.persistent
    }

    /// Follow `targets` (first of an identity wins). Known targets keep
    /// their state; a dropped target's entries go (and the engine deletes
    /// its discovery controller if we connected it, at its next step).
    /// Returns true when the wanted set changed.
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
        }
        changed
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
                last_error: d.last_error.clone().or_else(|| d.connect_error.clone()),
                ok: d.read_ok,
            })
            .collect()
    }

    /// Reads in flight.
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

    /// A uevent of `ev.name`: a page change or a rediscover on one of our
    /// discovery controllers asks for a read; its removal for a read from
    /// the one the engine connects or finds next. True when something was
    /// scheduled.
    pub fn on_event(&mut self, ev: &Event) -> bool {
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
            }
            ("remove", _, _) => {
                log::info!(
                    "{} | {} - discovery controller removed; reconnecting",
                    d.target.id,
                    ev.name
                );
                d.device = None;
            }
            _ => return false,
        }
        d.want_gen += 1;
        d.next_try = None;
        true
    }

    /// Read every page again now (SIGHUP).
    pub fn revive(&mut self) {
        for d in &mut self.dcs {
            d.want_gen += 1;
            d.next_try = None;
        }
    }

    /// The earliest moment a read is due on its own (a retry).
    pub fn next_wake(&self) -> Option<Instant> {
        self.dcs
            .iter()
            .filter(|d| !d.in_flight && d.want_gen != d.done_gen)
            .filter_map(|d| d.next_try)
            .min()
    }

    /// Links came up on the interfaces in `up`: the targets there whose
    /// read failed are read now rather than at their retry time (their
    /// connects are the engine's, [`Engine::links_changed`]).
    pub fn links_changed(&mut self, up: &[String]) {
        for d in &mut self.dcs {
            let iface = d.target.id.host_iface.as_str();
            if !d.in_flight && (iface.is_empty() || up.iter().any(|u| u == iface)) {
                d.next_try = None;
            }
        }
    }

    /// Handle finished reads and the engine's connect errors, and tell the
    /// engine which targets need a discovery controller now. True when the
    /// wanted set changed.
    pub fn step(&mut self, now: Instant, engine: &mut Engine) -> bool {
        let mut changed = false;
        let done: Vec<Done> = self.rx.try_iter().collect();
        for d in done {
            changed |= self.finish(d, now);
        }
        for d in &mut self.dcs {
            d.connect_error = engine.dc_error(&d.target.id);
            d.tried |= d.connect_error.is_some();
        }
        let persistent = self.persistent;
        let need = self
            .dcs
            .iter()
            .filter(|d| persistent || d.in_flight || d.due(now))
            .map(Dc::to_engine)
            .collect();
        engine.set_discovery(need);
        changed
    }

    /// After the engine's step: start the due reads of targets the engine
    /// has a device for.
    pub fn start_reads(&mut self, now: Instant, engine: &Engine) {
        for i in 0..self.dcs.len() {
            if !self.dcs[i].due(now) {
                continue;
            }
            if let Some(dev) = engine.dc_device(&self.dcs[i].target.id) {
                let dev = dev.to_string();
                self.start(i, dev);
            }
        }
    }

    fn finish(&mut self, done: Done, now: Instant) -> bool {
        let (first, later) = (self.retry.first, self.retry.later);
        let Some(d) = self.dcs.iter_mut().find(|d| d.target.id == done.id) else {
            // Dropped meanwhile.
            return false;
        };
        d.in_flight = false;
        d.tried = true;
        match done.result {
            Ok(page) => {
                let mut notes = Vec::new();
                let wanted = to_wanted(&d.target, &page, &mut notes);
                for n in notes {
                    log::warn!("{n}");
                }
                log::info!(
                    "{} | {} - discovery log page read: {} entries, {} I/O controllers (generation {})",
                    d.target.id,
                    done.device,
                    page.entries.len(),
                    wanted.len(),
                    page.genctr
                );
                d.done_gen = done.gen;
                d.attempts = 0;
                d.last_error = None;
                d.next_try = None;
                d.read_ok = true;
                let changed = d.wanted != wanted;
                d.wanted = wanted;
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

    fn start(&mut self, i: usize, device: String) {
        let d = &mut self.dcs[i];
        d.in_flight = true;
        d.device = Some(device.clone());
        let gen = d.want_gen;
        let id = d.target.id.clone();
        let (kernel, tx, waker) = (self.kernel.clone(), self.tx.clone(), self.waker.clone());
        let spawned = crate::kernel::worker::spawn("discover", move || {
            let result = logpage::read(&mut |off, buf, rae| {
                kernel.get_log_page(&device, LID_DISCOVERY, off, buf, rae)
            })
            .map_err(|err| DiscoveryError::Page {
                device: device.clone(),
                err,
            });
            let _ = tx.send(Done {
                id,
                gen,
                device,
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
/// caller's log line; a failed connect is the engine's to say).
#[derive(Debug)]
pub enum DiscoveryError {
    /// Get Log Page on `device` failed or gave no consistent page.
    Page {
        device: String,
        err: logpage::LogError<AdminError>,
    },
}

impl std::fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DiscoveryError::Page { device, err } => write!(f, "{device}: {err}"),
        }
    }
}

impl std::error::Error for DiscoveryError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::identity::DISCOVERY_NQN;
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
}
