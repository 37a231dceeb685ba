//! The engine: scans, plans and applies, and tracks each identity's
//! connect attempts. Shared by the daemon and `--once`.
//!
//! Connects run on worker threads (the `/dev/nvme-fabrics` write blocks for
//! the whole connect) and report back over a channel; the daemon's poll loop
//! is woken by a byte on its wake pipe. One connect per identity at a time
//! (single flight); a connect that outlives its deadline is reported as
//! overdue but cannot be cancelled — its result is still used when it comes.
//! When several connects start together, each TCP target is probed first
//! so that a silent address does not hold up live ones in the kernel
//! ([`crate::kernel::probe`]).
//! Retry timing (docs/design.md §4.7): after the first failure of a series
//! the fast retry (3 s), after later ones 60 s, each with ±10 % jitter so a
//! fleet of hosts does not hammer a target in step; after a managed
//! controller vanishes, the fast retry (§4.8). An identity whose discovery
//! log page entry has NCC set stops after `connect-attempts-on-ncc`
//! failures until NCC clears or a reload (§4.7).
//!
//! Kernel events only mark the controllers they name stale: a burst of
//! them (a target coming back with many controllers, a `nvme
//! disconnect-all`) is collapsed into one step [`DEBOUNCE`] after the first
//! event of the burst, which reads again only the directories the events
//! named. A finished connect reads its one new device. The whole of
//! `/sys/class/nvme` is read at start, after a reload or a policy change,
//! when a retry is due, when events were lost, and when `--once` polls: a
//! scan costs a dozen file reads per controller (2.4 ms each under TCG,
//! docs/benchmarks.md), so with many controllers it must not follow every
//! event. Nothing here runs on a timer unless a retry or a connect deadline
//! is pending.
//!
//! Built-in discovery's discovery controllers are planned from the same
//! scan ([`plan::plan_discovery`]) and applied here too: connected on the
//! same workers with the same deadline and retry timing, deleted when no
//! longer needed, recorded in `discovery.json` by the daemon
//! ([`Engine::follow_discovery`]). Reading their pages stays with the
//! source (src/sources/discovery/mod.rs), which says which targets need
//! one ([`Engine::set_discovery`]) and reads from [`Engine::dc_device`].

use crate::base::root::Root;
use crate::desired::Wanted;
use crate::kernel::fabrics::{ConnectError, Fabrics, Reply};
use crate::kernel::netif::IfAddrs;
use crate::kernel::sysfs::{self, KernelCtrl};
use crate::model::identity::{Identity, Transport};
use crate::model::params::{self, KernelOptions};
use crate::reconcile::plan::{self, Action, Busy, DcInput, Keeping, Plan, PlanInput};
use crate::reconcile::state::{Owned, OwnedMap, Store};
use crate::sources::config::{DisconnectScope, Pattern};
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod discovery;
use discovery::Dcs;

/// Retry delays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// After the first failure of a series, and after a controller vanished.
    pub first: Duration,
    /// After the second and later failures.
    pub later: Duration,
    /// How long a connect may take before it is reported as overdue.
    pub deadline: Duration,
}

impl Retry {
    /// nvme-stas's schedule (§4.7): 3 s, then 60 s.
    pub const DAEMON: Retry = Retry {
        first: Duration::from_secs(3),
        later: Duration::from_secs(60),
        deadline: Duration::from_secs(30),
    };
    /// `--once` has a bounded budget: retry at a bounded, faster rate.
    pub const ONCE: Retry = Retry {
        first: Duration::from_secs(1),
        later: Duration::from_secs(3),
        deadline: Duration::from_secs(10),
    };
}

/// The longest wait any input can ask for (`--timeout`, `rd.stacd.budget`,
/// `rd.stacd.grace`, `rd.stacd.timeout`): a year. Longer values are capped
/// here with a warning where they are read, so no deadline computed from
/// input can overflow (std's `Instant + Duration` panics on overflow).
pub const MAX_WAIT: Duration = Duration::from_secs(365 * 86_400);

/// `t + d` with `d` capped at [`MAX_WAIT`]: never a panic, whatever `d`.
pub fn later(t: Instant, d: Duration) -> Instant {
    t.checked_add(d.min(MAX_WAIT)).unwrap_or(t)
}

/// How long after the first kernel event of a burst the rescan happens:
/// every event of the burst is covered by that one scan, and a removal is
/// still seen well inside the fast retry.
pub const DEBOUNCE: Duration = Duration::from_millis(100);

/// How a controller became ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    Connected(Duration),
    Adopted,
}

#[derive(Debug, Clone, Copy)]
struct Flight {
    started: Instant,
    deadline: Instant,
    overdue: bool,
}

/// Per-identity bookkeeping.
#[derive(Debug, Clone, Default)]
struct Runtime {
    attempts: u32,
    next_try: Option<Instant>,
    flight: Option<Flight>,
    last_error: Option<String>,
    how: Option<How>,
    /// NCC set and connect-attempts-on-ncc failures made: no more retries
    /// until NCC clears or a reload (§4.7).
    gave_up: bool,
    /// The device it had when it was found lost: a controller is lost as
    /// soon as a scan shows it `deleting`, which can be before its
    /// "remove" event is read; that event is still ours to log (§4.8).
    lost_device: Option<String>,
    /// A discovery target's: the device its page is read from.
    device: Option<String>,
}

#[derive(Debug)]
struct Done {
    id: Identity,
    /// A discovery controller's connect.
    dc: bool,
    result: Result<Reply, ConnectError>,
    took: Duration,
}

/// What one wanted controller looks like now.
#[derive(Debug, Clone)]
pub struct Status {
    pub id: Identity,
    pub origin: String,
    pub device: Option<String>,
    pub cntlid: Option<u16>,
    /// The kernel's `state` attribute of the device.
    pub state: Option<String>,
    pub how: Option<How>,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub connecting: bool,
}

impl Status {
    pub fn is_live(&self) -> bool {
        self.state.as_deref() == Some("live")
    }
}

/// A wanted controller with its runtime state (see [`Engine::snapshot`]).
#[derive(Debug, Clone)]
pub struct CtrlSnapshot {
    pub wanted: Wanted,
    pub status: Status,
    /// Its kernel device as of the last scan.
    pub kernel: Option<KernelCtrl>,
    /// When the next attempt is due, and the nominal delay that was set.
    pub retry: Option<(Instant, Duration)>,
}

/// Interface addresses matter only for tcp identities with a host-iface or
/// host-traddr (§4.4).
fn needs_ifaces(wanted: &[Wanted]) -> bool {
    wanted.iter().any(|w| {
        w.id.transport == Transport::Tcp
            && !(w.id.host_iface.is_empty() && w.id.host_traddr.is_empty())
    })
}

/// A small xorshift for retry jitter (no randomness crate on the design card, docs/design.md §C0).
fn jitter(seed: &mut u64, d: Duration) -> Duration {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    // ±10 %.
    let permille = 900 + (*seed % 201);
    d * permille as u32 / 1000
}

/// A delay in seconds with one decimal (`2.5`), for log lines. Computed
/// from whole milliseconds: `{:.1}` on a float links the float formatter
/// (~15 KB of the binary) for nothing else.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Secs1(pub Duration);

impl std::fmt::Display for Secs1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tenths = (self.0.subsec_millis() + 50) / 100;
        let secs = self.0.as_secs() + u64::from(tenths / 10);
        write!(f, "{secs}.{}", tenths % 10)
    }
}

pub struct Engine {
    root: Root,
    kernel: Arc<dyn Fabrics>,
    store: Store,
    kopts: KernelOptions,
    warned_omitted: BTreeSet<&'static str>,
    pub net: IfAddrs,
    pub retry: Retry,
    scope: DisconnectScope,
    trtypes: Vec<Transport>,
    /// `connect-attempts-on-ncc`; 0 or less: retry forever (§4.7).
    ncc_attempts: i64,
    /// Probe a TCP target for at most this long before its connect when
    /// others start with it ([`crate::kernel::probe`]); `None`: never.
    probe: Option<Duration>,
    /// The audit waits until every source of wanted controllers answered.
    audit_held: bool,
    /// stacd.conf's refused `controller=` lines ([`Engine::set_held`]).
    held: Vec<Pattern>,
    /// Hold connects whose host-iface has no link (the caller watches
    /// rtnetlink and calls [`Engine::links_changed`]).
    link_gate: bool,
    /// A kernel event arrived: rescan at this moment (debounce).
    soon: Option<Instant>,
    /// The state file was checked against the first scan.
    pruned: bool,
    scans: u64,
    rereads: u64,
    wanted: Vec<Wanted>,
    /// Index of `wanted` by identity: adopting, connecting and finishing
    /// look an identity up once each, so the engine stays linear in the
    /// number of controllers (docs/benchmarks.md, scale).
    wanted_at: HashMap<Identity, usize>,
    owned: OwnedMap,
    rt: BTreeMap<Identity, Runtime>,
    scan: Vec<KernelCtrl>,
    tx: Sender<Done>,
    rx: Receiver<Done>,
    pending: Vec<Done>,
    waker: Option<Arc<OwnedFd>>,
    /// The next step reads the whole of `/sys/class/nvme` again.
    dirty: bool,
    /// The next step reads these controllers' directories again (kernel
    /// events, finished connects): a partial rescan.
    stale: BTreeSet<String>,
    /// An event that named no controller: the step at `soon` reads
    /// everything.
    dirty_soon: bool,
    seed: u64,
    save_error: Option<String>,
    /// `owned` changed since the last save.
    unsaved: bool,
    dcs: Dcs,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("wanted", &self.wanted.len())
            .field("owned", &self.owned.len())
            .finish()
    }
}

/// Read the kernel's option table (§2.7): EINVAL (kernels before 5.17
/// cannot list them) → the legacy set; other errors → legacy, warned.
pub fn kernel_options(kernel: &dyn Fabrics) -> KernelOptions {
    match kernel.options() {
        Ok(line) if line.contains("nqn") => KernelOptions::parse(&line),
        Ok(line) => {
            log::warn!("unexpected option table from /dev/nvme-fabrics ({line:?}); assuming an old kernel's options");
            KernelOptions::legacy()
        }
        Err(Errno::INVAL) => KernelOptions::legacy(),
        Err(e) => {
            log::warn!(
                "Cannot determine which NVMe options the kernel supports: {}",
                crate::kernel::fabrics::explain(e)
            );
            KernelOptions::legacy()
        }
    }
}

impl Engine {
    /// An engine with the ownership record of `store` and the option table
    /// of `kernel`.
    pub fn new(root: &Root, kernel: Arc<dyn Fabrics>, store: Store, retry: Retry) -> Engine {
        let kopts = kernel_options(&*kernel);
        if !kopts.supports("host_iface") {
            log::warn!("Kernel does not appear to support all the options needed to run this program (host_iface). Consider updating to a later kernel version.");
        }
        let owned = store.load();
        let (tx, rx) = mpsc::channel();
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id()) << 32
            | 1;
        Engine {
            root: root.clone(),
            kernel,
            store,
            kopts,
            warned_omitted: BTreeSet::new(),
            net: IfAddrs::default(),
            retry,
            scope: DisconnectScope::default(),
            trtypes: vec![Transport::Tcp],
            ncc_attempts: 0,
            probe: None,
            audit_held: false,
            held: Vec::new(),
            link_gate: false,
            soon: None,
            pruned: false,
            scans: 0,
            rereads: 0,
            wanted: Vec::new(),
            wanted_at: HashMap::new(),
            owned,
            rt: BTreeMap::new(),
            scan: Vec::new(),
            tx,
            rx,
            pending: Vec::new(),
            waker: None,
            dirty: true,
            stale: BTreeSet::new(),
            dirty_soon: false,
            seed,
            save_error: None,
            unsaved: false,
            dcs: Dcs::default(),
        }
    }

    /// Write a byte to `fd` whenever a connect finishes.
    pub fn set_waker(&mut self, fd: Arc<OwnedFd>) {
        self.waker = Some(fd);
    }

    pub fn set_policy(&mut self, scope: DisconnectScope, trtypes: &[Transport]) {
        let audit = DisconnectScope::AllConnectionsMatchingDisconnectTrtypes;
        if (scope == audit) != (self.scope == audit) || (scope == audit && trtypes != self.trtypes)
        {
            if scope == audit {
                let list: Vec<&str> = trtypes.iter().map(|t| t.as_str()).collect();
                log::info!(
                    "disconnect-scope={}: I/O controllers over {} that nothing wants will be disconnected",
                    audit.as_str(),
                    list.join("+")
                );
            } else if self.scope == audit {
                log::info!("disconnect-scope={}: the audit is off", scope.as_str());
            }
        }
        self.scope = scope;
        self.trtypes = trtypes.to_vec();
        self.dirty = true;
    }

    /// Probe TCP targets before connecting them when several connects
    /// start together ([`crate::kernel::probe`]): for the real kernel.
    pub fn set_probe(&mut self, wait: Option<Duration>) {
        self.probe = wait;
    }

    /// `connect-attempts-on-ncc` (§4.7): after this many failed attempts of
    /// an identity whose discovery log page entry has NCC set, stop
    /// retrying. 0 or less: no limit.
    pub fn set_ncc_attempts(&mut self, n: i64) {
        self.ncc_attempts = n;
    }

    /// Hold the audit (§3.6) while a source of wanted controllers has not
    /// answered yet — stafd at start-up, say — so that its controllers are
    /// not taken for unwanted ones (docs/design.md D3: never disconnect because a
    /// source is silent; the original's §11.1 #1).
    pub fn hold_audit(&mut self, hold: bool) {
        if self.audit_held != hold {
            self.audit_held = hold;
            self.dirty = true;
        }
    }

    /// The identity patterns of stacd.conf's refused `controller=` lines:
    /// a connection one names is never disconnected for the refusal (a
    /// mistyped key on reload must not drop a live path).
    pub fn set_held(&mut self, held: Vec<Pattern>) {
        if self.held != held {
            self.held = held;
            self.dirty = true;
        }
    }

    /// Replace the desired set; it applies at the next step. Runtime state
    /// of identities that stay wanted is kept (retry timers, attempts).
    /// An identity whose NCC bit cleared and that is not connected starts
    /// a new series: attempt counter 0 and an attempt now (§4.7).
    pub fn set_wanted(&mut self, wanted: Vec<Wanted>) {
        for w in wanted.iter().filter(|w| !w.ncc) {
            let cleared = self.wanted_of(&w.id).is_some_and(|o| o.ncc);
            if cleared && !self.owned.contains_key(&w.id) {
                if let Some(r) = self.rt.get_mut(&w.id) {
                    log::info!("{} NCC cleared; connecting again", w.id);
                    r.attempts = 0;
                    r.gave_up = false;
                    r.next_try = None;
                }
            }
        }
        for w in &wanted {
            self.rekey(w);
        }
        let keep: BTreeSet<&Identity> = wanted.iter().map(|w| &w.id).collect();
        for (id, o) in &self.owned {
            if o.boot && !keep.contains(id) && self.wanted_at.contains_key(id) {
                log::info!(
                    "{id} | {} - no longer wanted; left up: boot path (never disconnected)",
                    o.device
                );
            }
        }
        self.rt
            .retain(|id, r| keep.contains(id) || r.flight.is_some());
        self.wanted_at = wanted
            .iter()
            .enumerate()
            .map(|(i, w)| (w.id.clone(), i))
            .collect();
        self.wanted = wanted;
        self.dirty = true;
    }

    /// A DH-HMAC-CHAP key of a controller we own changed in the desired
    /// set (a reload): the new key goes to the controller's sysfs attribute,
    /// and the kernel re-authenticates the live association with it and
    /// keeps it for its reconnects (drivers/nvme/host/sysfs.c,
    /// `nvme_ctrl_dhchap_secret_store`; docs/auth-tls.md 1.5). The kernel
    /// refuses (EINVAL) a key for a controller created without one, and
    /// cannot drop a key: both are said, and apply once the controller is
    /// connected anew. Nothing is disconnected here.
    fn rekey(&self, w: &Wanted) {
        let (Some(old), Some(o)) = (self.wanted_of(&w.id), self.owned.get(&w.id)) else {
            return;
        };
        let pairs = [
            (
                "dhchap-secret",
                "dhchap_secret",
                &w.params.dhchap_secret,
                &old.params.dhchap_secret,
            ),
            (
                "dhchap-ctrl-secret",
                "dhchap_ctrl_secret",
                &w.params.dhchap_ctrl_secret,
                &old.params.dhchap_ctrl_secret,
            ),
        ];
        for (key, attr, new, was) in pairs {
            if new == was {
                continue;
            }
            let (id, dev) = (&w.id, &o.device);
            let Some(k) = new else {
                log::warn!(
                    "{id} | {dev} - {key} removed from the configuration: the kernel cannot drop the \
                     key of a controller; it applies when the controller is connected anew"
                );
                continue;
            };
            let path = self.root.nvme_ctrl(dev).join(attr);
            match std::fs::write(&path, k.expose()) {
                Ok(()) => log::info!(
                    "{id} | {dev} - {key} changed: the new key is written to the kernel, which \
                     re-authenticates the controller (see the kernel log)"
                ),
                Err(e) if e.raw_os_error() == Some(Errno::INVAL.raw_os_error()) => log::warn!(
                    "{id} | {dev} - {key} changed, but the controller was connected without \
                     {key} and the kernel cannot add one to it ({}: invalid argument); the key \
                     applies when the controller is connected anew",
                    path.display()
                ),
                Err(e) => log::warn!(
                    "{id} | {dev} - {key} changed, but writing it to {} failed: {e}; the \
                     controller keeps its old key",
                    path.display()
                ),
            }
        }
    }

    /// Every controller that is not connected gets an attempt now, even if
    /// its retry timer runs (§4.11 step 6: a reload revives controllers
    /// that gave up or wait for the slow retry).
    /// The attempt counter is kept (§4.11): an NCC identity that gave up
    /// gets one more attempt, then gives up again if it fails.
    pub fn revive(&mut self) {
        for r in self.rt.values_mut().chain(self.dcs.rt.values_mut()) {
            r.next_try = None;
            r.gave_up = false;
        }
        self.dirty = true;
    }

    pub fn wanted(&self) -> &[Wanted] {
        &self.wanted
    }

    pub fn owned(&self) -> &OwnedMap {
        &self.owned
    }

    /// Something outside changed (a uevent): rescan at the next step.
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// A kernel event about controller `name` (`nvmeN`; `None` for any
    /// other name) arrived at `now`: read it again (any other name: read
    /// everything again)
    /// [`DEBOUNCE`] after the first event of a burst (later events of the
    /// burst do not push the rescan back, so a steady stream still gets a
    /// rescan every [`DEBOUNCE`]).
    pub fn kernel_event(&mut self, now: Instant, name: Option<&str>) {
        match name {
            Some(n) => {
                self.stale.insert(n.to_string());
            }
            None => self.dirty_soon = true,
        }
        if self.soon.is_none() {
            self.soon = Some(now + DEBOUNCE);
        }
    }

    /// How many times the whole of `/sys/class/nvme` was scanned.
    pub fn scans(&self) -> u64 {
        self.scans
    }

    /// How many single controller directories were read again (partial
    /// rescans).
    pub fn rereads(&self) -> u64 {
        self.rereads
    }

    /// The identity `device` belongs to: ours now, or ours until it was
    /// found lost (and not connected again since).
    pub fn owner_of(&self, device: &str) -> Option<&Identity> {
        self.owned
            .iter()
            .find(|(_, o)| o.device == device)
            .map(|(id, _)| id)
            .or_else(|| {
                self.rt
                    .iter()
                    .find(|(_, r)| r.lost_device.as_deref() == Some(device))
                    .map(|(id, _)| id)
            })
    }

    /// Hold the connects of identities whose host-iface has no link
    /// (missing, down, no carrier) until it has one: an attempt could only
    /// time out, and the kernel serialises connects (a timing-out one holds
    /// up the others, ci/boot/README.md). For callers that watch rtnetlink
    /// and call [`Engine::links_changed`].
    pub fn set_link_gate(&mut self, on: bool) {
        self.link_gate = on;
        self.dirty = true;
    }

    /// Why `id` is held for its link, if it is.
    pub fn link_held(&self, id: &Identity) -> Option<String> {
        if !self.link_gate || id.transport != Transport::Tcp || id.host_iface.is_empty() {
            return None;
        }
        self.net.not_ready(&id.host_iface, &id.traddr)
    }

    /// Links or addresses changed: read the interface table at the next
    /// step, and give every identity that is not connected and whose
    /// host-iface is in `up` (or that has no host-iface: its route may have
    /// just appeared) an attempt now rather than at its retry time. The
    /// attempt counter is kept.
    pub fn links_changed(&mut self, up: &[String]) {
        self.dirty = true;
        if up.is_empty() {
            return;
        }
        let dcs = self
            .dcs
            .rt
            .iter_mut()
            .map(|(id, r)| (id, r, &self.dcs.owned));
        let ios = self.rt.iter_mut().map(|(id, r)| (id, r, &self.owned));
        for (id, r, owned) in ios.chain(dcs) {
            if owned.contains_key(id) || r.flight.is_some() {
                continue;
            }
            let hit = if id.host_iface.is_empty() {
                id.transport == Transport::Tcp
            } else {
                up.iter().any(|n| n == id.host_iface.as_str())
            };
            if hit && r.next_try.is_some() {
                log::debug!("{id} link or address change: trying now");
                r.next_try = None;
            }
        }
    }

    fn busy(&self, id: &Identity, now: Instant) -> Busy {
        Engine::busy_in(&self.rt, self.link_held(id), id, now)
    }

    fn busy_in(
        rt: &BTreeMap<Identity, Runtime>,
        link_held: Option<String>,
        id: &Identity,
        now: Instant,
    ) -> Busy {
        match rt.get(id) {
            Some(r) if r.flight.is_some() => Busy::InFlight,
            _ if link_held.is_some() => Busy::NoLink,
            Some(r) if r.gave_up => Busy::GaveUp,
            Some(Runtime {
                next_try: Some(t), ..
            }) if *t > now => Busy::Until(*t),
            _ => Busy::Idle,
        }
    }

    /// Scan the kernel and plan, without changing the kernel.
    pub fn plan(&mut self, now: Instant) -> Plan {
        self.dirty = true;
        self.rescan();
        self.plan_from_scan(now)
    }

    fn plan_from_scan(&self, now: Instant) -> Plan {
        let busy = |id: &Identity| self.busy(id, now);
        let dc_busy = |id: &Identity| Engine::busy_in(&self.dcs.rt, self.link_held(id), id, now);
        let inp = PlanInput {
            wanted: &self.wanted,
            scan: &self.scan,
            owned: &self.owned,
            busy: &busy,
            scope: self.scope,
            trtypes: &self.trtypes,
            net: &self.net,
            held: &self.held,
            audit: !self.audit_held,
        };
        let mut p = plan::plan(&inp);
        p.discovery = plan::plan_discovery(
            &inp,
            &DcInput {
                wanted: &self.dcs.wanted,
                owned: &self.dcs.owned,
                busy: &dc_busy,
                known: &|id| self.dc_device(id),
            },
        );
        p
    }

    /// Read the interface table (when an identity needs it) and the
    /// kernel's controllers: all of them when `dirty`, else those in
    /// `stale`; the first time, check the state file against them.
    fn rescan(&mut self) {
        self.soon = None;
        let ifaces = needs_ifaces(&self.wanted) || needs_ifaces(&self.dcs.wanted);
        if ifaces && (self.dirty || !self.link_gate) {
            match IfAddrs::load() {
                Ok(n) => self.net = n,
                Err(e) => log::debug!("cannot read the interface table: {e}"),
            }
        }
        if !(self.dirty || self.dirty_soon || !self.pruned) {
            let class = self.root.path(crate::base::root::rel::CLASS_NVME);
            for name in std::mem::take(&mut self.stale) {
                self.reread(&class, &name);
            }
            return;
        }
        self.dirty = false;
        self.dirty_soon = false;
        self.stale.clear();
        self.scans += 1;
        match sysfs::scan(&self.root) {
            Ok(s) => self.scan = s,
            Err(e) => {
                log::error!(
                    "cannot read {}: {e}",
                    self.root.path(crate::base::root::rel::CLASS_NVME).display()
                );
                return;
            }
        }
        if !self.pruned {
            self.pruned = true;
            self.prune_gone();
        }
    }

    /// Where controller `name` is (or would be) in the scan, which is in
    /// instance order.
    fn scan_pos(&self, name: &str) -> Result<usize, usize> {
        match sysfs::instance_of(name) {
            Some(n) => self.scan.binary_search_by_key(&n, |c| c.instance),
            None => Err(self.scan.len()),
        }
    }

    /// The scanned controller `name`.
    fn scanned(&self, name: &str) -> Option<&KernelCtrl> {
        self.scan_pos(name).ok().map(|i| &self.scan[i])
    }

    /// Read one controller's directory again: replaced, added, or (gone)
    /// removed from the scan.
    fn reread(&mut self, class: &std::path::Path, name: &str) {
        if sysfs::instance_of(name).is_none() {
            return;
        }
        self.rereads += 1;
        let now = sysfs::read_ctrl(&class.join(name), name);
        match (self.scan_pos(name), now) {
            (Ok(i), Some(c)) => self.scan[i] = c,
            (Ok(i), None) => {
                self.scan.remove(i);
            }
            (Err(i), Some(c)) => self.scan.insert(i, c),
            (Err(_), None) => {}
        }
    }

    /// Restart safety (§4.12): an entry of the state file whose controller
    /// is gone (deleted while we were not running) or is now another
    /// controller is forgotten, never disconnected; if it is still wanted
    /// it is connected like any new one — not treated as a removal.
    fn prune_gone(&mut self) {
        let gone: Vec<Identity> = self
            .owned
            .iter()
            .filter(|(id, o)| {
                !self
                    .scanned(&o.device)
                    .is_some_and(|d| plan::still_ours(id, o, d, &self.net))
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            if let Some(o) = self.owned.remove(&id) {
                log::info!(
                    "{id} | {} - recorded in {} but no longer in the kernel; forgotten",
                    o.device,
                    self.store.path().display()
                );
                self.unsaved = true;
            }
        }
    }

    /// Handle finished connects, then, if anything changed or a timer is
    /// due, scan, plan and apply.
    pub fn step(&mut self, now: Instant) {
        self.drain(now);
        for r in self.rt.values_mut().chain(self.dcs.rt.values_mut()) {
            if let Some(f) = r.flight.as_mut() {
                if !f.overdue && f.deadline <= now {
                    f.overdue = true;
                    r.last_error = Some(format!(
                        "no answer from the kernel after {} s (connect still in progress)",
                        (now - f.started).as_secs()
                    ));
                }
            }
        }
        // A due retry reads everything: without kernel events (`--once`)
        // that is how a controller someone else connected meanwhile is
        // adopted rather than connected twice.
        if self
            .rt
            .values()
            .chain(self.dcs.rt.values())
            .any(|r| r.next_try.is_some_and(|t| t <= now))
        {
            self.dirty = true;
        }
        // Stale controllers from kernel events wait for the debounce; those
        // of finished connects (no event pending) are read now.
        let work = match self.soon {
            Some(t) => t <= now,
            None => !self.stale.is_empty(),
        };
        if !(self.dirty || work) {
            return;
        }
        self.rescan();
        let plan = self.plan_from_scan(now);
        self.apply(&plan, now);
        self.apply_dcs(&plan.discovery, now);
        if self.unsaved {
            self.save();
        }
        if self.dcs.unsaved {
            self.save_dcs();
        }
    }

    /// The earliest moment `step` has work to do on its own.
    pub fn next_wake(&self) -> Option<Instant> {
        self.rt
            .values()
            .chain(self.dcs.rt.values())
            .flat_map(|r| {
                let d = r.flight.filter(|f| !f.overdue).map(|f| f.deadline);
                [r.next_try, d]
            })
            .flatten()
            .chain(self.soon)
            .min()
    }

    /// Block until a connect finishes or `until` (for `--once`, which has no
    /// poll loop). Returns true if one finished.
    pub fn wait(&mut self, until: Instant) -> bool {
        let left = until.saturating_duration_since(Instant::now());
        match self.rx.recv_timeout(left) {
            Ok(d) => {
                self.pending.push(d);
                true
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => false,
        }
    }

    pub fn in_flight(&self) -> usize {
        self.rt.values().filter(|r| r.flight.is_some()).count()
    }

    fn save(&mut self) {
        match self.store.save(&self.owned) {
            Ok(()) => {
                self.save_error = None;
                self.unsaved = false;
            }
            Err(e) => {
                let msg = e.to_string();
                if self.save_error.as_deref() != Some(&msg) {
                    log::error!("Unable to save {}: {msg}", self.store.path().display());
                }
                self.save_error = Some(msg);
            }
        }
    }

    fn wanted_of(&self, id: &Identity) -> Option<&Wanted> {
        self.wanted_at.get(id).map(|&i| &self.wanted[i])
    }

    fn own(&mut self, id: &Identity, device: String, cntlid: u16) {
        if let Some(r) = self.rt.get_mut(id) {
            r.lost_device = None;
        }
        let (origin, boot) = match self.wanted_of(id) {
            Some(w) => (w.origin.as_str().to_string(), w.boot),
            None => ("unknown".to_string(), false),
        };
        self.owned.insert(
            id.clone(),
            Owned {
                device,
                cntlid,
                origin,
                boot,
            },
        );
        self.unsaved = true;
    }

    fn disown(&mut self, id: &Identity) {
        if self.owned.remove(id).is_some() {
            self.unsaved = true;
        }
    }

    fn apply(&mut self, plan: &Plan, now: Instant) {
        // Connects that start while others start or run may queue in the
        // kernel behind a silent address: those are probed first.
        let starting = plan
            .actions
            .iter()
            .filter(|a| matches!(a, Action::Connect { .. }))
            .count();
        let probe = self.probe.filter(|_| starting + self.in_flight() > 1);
        // One probe per portal (address, port, source address) per batch.
        let mut gates: HashMap<(&str, &str, &str), Arc<crate::kernel::probe::Gate>> =
            HashMap::new();
        for a in &plan.actions {
            match a {
                Action::Adopt { id, device, cntlid } => {
                    log::info!("{id} | {device} - Connection established! (adopted)");
                    self.own(id, device.clone(), *cntlid);
                    let r = self.rt.entry(id.clone()).or_default();
                    r.attempts = 0;
                    r.next_try = None;
                    r.last_error = None;
                    r.how = Some(How::Adopted);
                }
                Action::Connect { id } => {
                    let gate = probe.map(|wait| {
                        let key = (
                            id.traddr.as_str(),
                            id.trsvcid.as_str(),
                            id.host_traddr.as_str(),
                        );
                        (gates.entry(key).or_default().clone(), wait)
                    });
                    self.start_connect(id, now, gate, false)
                }
                Action::Lost { id, device } => {
                    let delay = jitter(&mut self.seed, self.retry.first);
                    log::info!(
                        "{id} | {device} - controller removed from the kernel; reconnecting in {} s",
                        Secs1(delay)
                    );
                    self.disown(id);
                    let r = self.rt.entry(id.clone()).or_default();
                    r.attempts = 0;
                    r.gave_up = false;
                    r.how = None;
                    r.next_try = Some(now + delay);
                    r.lost_device = Some(device.clone());
                }
                Action::Disconnect { id, device } => {
                    log::info!("{id} | {device} - Disconnect initiated");
                    if let Err(e) = self.kernel.delete(device) {
                        log::error!("{id} | {device} - failed to disconnect: {e}");
                    }
                    self.disown(id);
                    self.rt.remove(id);
                }
                Action::Audit { id, device } => {
                    log::info!(
                        "{id} | {device} - not wanted (disconnect-scope={}): Disconnect initiated",
                        self.scope.as_str()
                    );
                    if let Err(e) = self.kernel.delete(device) {
                        log::error!("{id} | {device} - failed to disconnect: {e}");
                    }
                }
                Action::Release { id, device, why } => {
                    match why {
                        Keeping::Gone => log::debug!(
                            "{id} | {device} - no longer wanted and already gone; forgotten"
                        ),
                        _ => log::info!("{id} | {device} - no longer wanted; {}", why.reason()),
                    }
                    self.disown(id);
                    self.rt.remove(id);
                }
                Action::Keep { id, device } => {
                    // Ours from the state file of an earlier run: announce
                    // it once, as nvme-stas does when it restores its last
                    // known config and adopts the device (§4.12).
                    let r = self.rt.entry(id.clone()).or_default();
                    if r.how.is_none() {
                        r.how = Some(How::Adopted);
                        log::info!("{id} | {device} - Connection established! (adopted)");
                    }
                }
                // Discovery controllers only (`apply_dcs`).
                Action::Wait { .. } | Action::Use { .. } => {}
            }
        }
    }

    fn start_connect(
        &mut self,
        id: &Identity,
        now: Instant,
        probe: Option<(Arc<crate::kernel::probe::Gate>, Duration)>,
        dc: bool,
    ) {
        let w = if dc {
            self.dcs.wanted_of(id)
        } else {
            self.wanted_of(id)
        };
        let Some(w) = w else { return };
        let opts = params::option_string(&w.id, &w.params, &self.kopts, w.default_ctrl_loss_tmo());
        if let Some(why) = &opts.refused {
            // Never written: the kernel would connect unauthenticated or in
            // clear text (params.rs, OptionString::refused). Nothing changes
            // that before a reload (the option list and keyrings are the
            // kernel's), so no retries until then.
            let what = if dc {
                "discovery failed:"
            } else {
                "Failed to connect to controller."
            };
            let r = self.rt_of(dc).entry(id.clone()).or_default();
            if r.last_error.as_deref() != Some(why.as_str()) {
                log::error!("{id} {what} {why} (no more attempts until a reload)");
            }
            r.attempts += 1;
            r.gave_up = true;
            r.next_try = None;
            r.last_error = Some(why.clone());
            return;
        }
        for o in &opts.omitted {
            if self.warned_omitted.insert(o) {
                log::warn!("the kernel does not support the connect option {o}; connecting without it ({id})");
            }
        }
        log::debug!("{id} Connecting with {}", opts.shown());
        let deadline = later(now, self.retry.deadline);
        let (kernel, tx, waker, id2) = (
            self.kernel.clone(),
            self.tx.clone(),
            self.waker.clone(),
            id.clone(),
        );
        let spawned = crate::kernel::worker::spawn("connect", move || {
            if let Some((gate, wait)) = probe {
                use crate::kernel::probe::Probe;
                if gate.pass(&id2, wait) == Probe::Silent {
                    log::info!(
                        "{id2} no answer to a TCP probe in {} s; connecting after the others",
                        Secs1(wait)
                    );
                }
            }
            let t0 = Instant::now();
            let result = kernel.connect(opts.expose());
            let _ = tx.send(Done {
                id: id2,
                dc,
                result,
                took: t0.elapsed(),
            });
            if let Some(w) = waker {
                let _ = rustix::io::write(&*w, b"c");
            }
        });
        let later = self.retry.later;
        let r = self.rt_of(dc).entry(id.clone()).or_default();
        match spawned {
            Ok(_) => {
                r.flight = Some(Flight {
                    started: now,
                    deadline,
                    overdue: false,
                });
                r.next_try = None;
            }
            Err(e) => {
                r.last_error = Some(format!("cannot start a connect thread: {e}"));
                r.next_try = Some(now + later);
            }
        }
    }

    /// The attempts of I/O controllers, or (`dc`) of discovery controllers.
    fn rt_of(&mut self, dc: bool) -> &mut BTreeMap<Identity, Runtime> {
        if dc {
            &mut self.dcs.rt
        } else {
            &mut self.rt
        }
    }

    fn drain(&mut self, now: Instant) {
        let mut done: Vec<Done> = std::mem::take(&mut self.pending);
        done.extend(self.rx.try_iter());
        for d in done {
            self.finish(d, now);
        }
    }

    /// A connect finished. A discovery controller's (`d.dc`) is handled
    /// alike: ours (and recorded) if it connected, even if no longer needed
    /// (the next plan deletes it then), retried after a failure; only its
    /// words differ, and NCC does not apply.
    fn finish(&mut self, d: Done, now: Instant) {
        let w = if d.dc {
            self.dcs.wanted_of(&d.id)
        } else {
            self.wanted_of(&d.id)
        };
        let wanted = w.is_some();
        let keyed = w.is_some_and(|w| {
            w.params.dhchap_secret.is_some() || w.params.dhchap_ctrl_secret.is_some()
        });
        let tls = w.is_some_and(|w| w.params.tls.is_some());
        let ncc_limit = match w {
            Some(w) if w.ncc && self.ncc_attempts > 0 => {
                Some(u32::try_from(self.ncc_attempts).unwrap_or(u32::MAX))
            }
            _ => None,
        };
        let failed = if d.dc {
            "discovery failed:"
        } else {
            "Failed to connect to controller."
        };
        let rt = if d.dc { &mut self.dcs.rt } else { &mut self.rt };
        let r = rt.entry(d.id.clone()).or_default();
        r.flight = None;
        match d.result {
            Ok(reply) => {
                let device = reply.device();
                if d.dc {
                    log::info!(
                        "{} | {device} - discovery controller connected in {} ms",
                        d.id,
                        d.took.as_millis()
                    );
                    r.device = wanted.then(|| device.clone());
                } else {
                    log::info!("{} | {device} - Connection established!", d.id);
                }
                r.attempts = 0;
                r.next_try = None;
                r.last_error = None;
                r.how = Some(How::Connected(d.took));
                // Ours even if no longer wanted: the next plan disconnects
                // it by policy (a disconnect never overtakes a connect, §4.9).
                // The next step reads the new device's directory, not all.
                self.stale.insert(device.clone());
                if d.dc {
                    let o = Owned {
                        device,
                        cntlid: reply.cntlid,
                        origin: "discovery".into(),
                        boot: false,
                    };
                    self.dcs.owned.insert(d.id, o);
                    self.dcs.unsaved = true;
                } else {
                    self.own(&d.id, device, reply.cntlid);
                }
            }
            Err(e) if e.is_already() => {
                // An identical controller exists: the next scan adopts it.
                // If none matches (our rules disagree with the kernel's),
                // this counts as a failure so we do not spin.
                log::debug!(
                    "{} kernel reports an identical controller already exists; adopting it",
                    d.id
                );
                self.dirty = true;
                r.attempts += 1;
                r.last_error = Some(e.to_string());
                r.next_try = Some(now + self.retry.first);
            }
            Err(e) if wanted && ncc_limit.is_some_and(|n| r.attempts + 1 >= n) => {
                // §4.7 "should retry": with NCC set, attempts < N.
                r.attempts += 1;
                r.gave_up = true;
                r.next_try = None;
                let msg = describe(&e, keyed, tls);
                log::error!(
                    "{} Failed to connect to controller. {msg} (attempt {}); NCC is set: no more attempts (connect-attempts-on-ncc={}) until it clears or a reload",
                    d.id,
                    r.attempts,
                    ncc_limit.unwrap_or(0)
                );
                r.last_error = Some(msg);
            }
            Err(e) if wanted => {
                r.attempts += 1;
                let base = if r.attempts == 1 {
                    self.retry.first
                } else {
                    self.retry.later
                };
                let delay = jitter(&mut self.seed, base);
                r.next_try = Some(now + delay);
                let msg = if d.dc {
                    format!("cannot connect: {e}")
                } else {
                    describe(&e, keyed, tls)
                };
                let changed = r.last_error.as_deref() != Some(msg.as_str());
                if r.attempts <= 2 || changed {
                    log::error!(
                        "{} {failed} {msg} (attempt {}, next in {} s)",
                        d.id,
                        r.attempts,
                        Secs1(delay)
                    );
                } else {
                    log::debug!("{} {failed} {msg} (attempt {})", d.id, r.attempts);
                }
                r.last_error = Some(msg);
            }
            Err(e) => {
                self.dirty = true;
                log::debug!(
                    "{} connect finished after it stopped being wanted: {e}",
                    d.id
                );
                rt.remove(&d.id);
            }
        }
    }

    /// One line of status per wanted controller, from the last scan.
    pub fn status(&self) -> Vec<Status> {
        self.wanted.iter().map(|w| self.status_of(w).0).collect()
    }

    fn status_of(&self, w: &Wanted) -> (Status, Option<&KernelCtrl>) {
        let r = self.rt.get(&w.id);
        let o = self.owned.get(&w.id);
        let dev = o.and_then(|o| self.scanned(&o.device));
        let s = Status {
            id: w.id.clone(),
            origin: w.origin.to_string(),
            device: o.map(|o| o.device.clone()),
            cntlid: o.map(|o| o.cntlid),
            state: dev.map(|d| d.state.clone()),
            how: r.and_then(|r| r.how),
            attempts: r.map_or(0, |r| r.attempts),
            last_error: match (
                o.is_none().then(|| self.link_held(&w.id)).flatten(),
                r.and_then(|r| r.last_error.clone()),
            ) {
                (Some(held), Some(e)) => Some(format!("{held}; last attempt: {e}")),
                (held, e) => held.or(e),
            },
            connecting: r.is_some_and(|r| r.flight.is_some()),
        };
        (s, dev)
    }

    /// Every wanted controller with its runtime state, in desired-set
    /// order: what the D-Bus replies show (docs/design.md §6.2). A copy, so
    /// the loop can publish it to other threads.
    pub fn snapshot(&self) -> Vec<CtrlSnapshot> {
        self.wanted
            .iter()
            .map(|w| {
                let (status, dev) = self.status_of(w);
                let retry = self.rt.get(&w.id).and_then(|r| {
                    // The nominal delay `finish`/`apply` chose (before jitter).
                    let base = if r.attempts <= 1 {
                        self.retry.first
                    } else {
                        self.retry.later
                    };
                    r.next_try.map(|t| (t, base))
                });
                CtrlSnapshot {
                    wanted: w.clone(),
                    status,
                    kernel: dev.cloned(),
                    retry,
                }
            })
            .collect()
    }

    /// The option table the running kernel reported (§2.7).
    pub fn kernel_options(&self) -> &KernelOptions {
        &self.kopts
    }

    /// The ownership record's file (`/run/stacd/state.json`).
    pub fn state_path(&self) -> std::path::PathBuf {
        self.store.path()
    }

    /// Rescan everything at the next step (for callers without kernel
    /// events that look for outside changes).
    pub fn refresh(&mut self) {
        self.dirty = true;
    }

    /// At the next step, read again the controllers we own that were not
    /// live at the last look (for callers without kernel events that wait
    /// on the kernel, e.g. a controller it is still reconnecting).
    pub fn refresh_unsettled(&mut self) {
        let names: Vec<String> = self
            .owned
            .values()
            .filter(|o| !self.scanned(&o.device).is_some_and(KernelCtrl::is_live))
            .map(|o| o.device.clone())
            .collect();
        self.stale.extend(names);
    }
}

/// The words for a failed connect. With DH-HMAC-CHAP keys an EIO is most
/// often the authentication broken off: nvmet drops the association after
/// FAILURE1/FAILURE2 before it answers (drivers/nvme/target/fabrics-cmd-auth.c),
/// and the host then reports its own path error, "failed to receive
/// success1, nvme status 880" (0x370), as EIO (docs/auth-tls.md 1.3).
///
/// With TLS, three errnos have a TLS meaning first (drivers/nvme/host/tcp.c,
/// net/handshake/netlink.c; ktls-utils' tlshd; docs/auth-tls.md 1.3): ESRCH,
/// no handshake daemon listens; EACCES or EIO, the handshake failed; ENOKEY,
/// no PSK in the keyring for this host and subsystem.
fn describe(e: &ConnectError, keyed: bool, tls: bool) -> String {
    if tls {
        let why = match e {
            ConnectError::Kernel(x) if *x == Errno::SRCH => Some(
                "TLS: no handshake daemon answered the kernel (is tlshd of ktls-utils running?)",
            ),
            ConnectError::Kernel(x) if *x == Errno::ACCESS => Some(
                "TLS: the handshake failed (tlshd: the target does not know this PSK identity, \
                 or the PSKs differ; see tlshd's log)",
            ),
            ConnectError::Kernel(x) if *x == Errno::NOKEY => Some(
                "TLS: no PSK for this host and subsystem in the keyring (insert one with nvme \
                 check-tls-key --insert, or through /etc/nvme/tls-keys) or tls-key names no key",
            ),
            // ktls-utils 1.0's tlshd ends a handshake whose PSK the target
            // does not share without an alert the kernel can map: the host
            // logs "TLS handshake complete, error -5" and fails with EIO.
            ConnectError::Kernel(x) if *x == Errno::IO => Some(
                "TLS: the handshake failed or the target refused the connect (most often a PSK \
                 the target does not share; the kernel logs \"TLS handshake complete, error -5\")",
            ),
            ConnectError::Kernel(x) if *x == Errno::KEYREVOKED => {
                Some("TLS: the PSK named by tls-key was revoked")
            }
            ConnectError::Kernel(x) if *x == Errno::TIMEDOUT => Some(
                "timed out (with TLS also a handshake tlshd did not finish within the kernel's \
                 tls_handshake_timeout)",
            ),
            _ => None,
        };
        if let (Some(why), ConnectError::Kernel(x)) = (why, e) {
            return format!("{why} (errno {})", x.raw_os_error());
        }
    }
    if keyed && matches!(e, ConnectError::Kernel(x) if *x == Errno::IO) {
        return format!(
            "{e}; with DH-HMAC-CHAP keys this is also how the kernel reports an authentication \
             the target broke off (a wrong dhchap-secret or dhchap-ctrl-secret, see the kernel log)"
        );
    }
    e.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_print_with_one_decimal() {
        for (ms, want) in [
            (0, "0.0"),
            (49, "0.0"),
            (50, "0.1"),
            (2_700, "2.7"),
            (3_040, "3.0"),
            (59_960, "60.0"),
            (66_049, "66.0"),
        ] {
            assert_eq!(Secs1(Duration::from_millis(ms)).to_string(), want, "{ms}");
        }
    }

    #[test]
    fn tls_errnos_are_named_only_for_tls_controllers() {
        let k = |e| ConnectError::Kernel(e);
        let srch = describe(&k(Errno::SRCH), false, true);
        assert!(
            srch.contains("tlshd") && srch.ends_with("(errno 3)"),
            "{srch}"
        );
        let acces = describe(&k(Errno::ACCESS), false, true);
        assert!(
            acces.contains("handshake failed") && acces.ends_with("(errno 13)"),
            "{acces}"
        );
        let eio = describe(&k(Errno::IO), false, true);
        assert!(eio.contains("PSK the target does not share"), "{eio}");
        let nokey = describe(&k(Errno::NOKEY), false, true);
        assert!(
            nokey.contains("no PSK") && nokey.ends_with("(errno 126)"),
            "{nokey}"
        );
        // Without TLS the same errnos keep their plain words.
        assert!(describe(&k(Errno::NOKEY), false, false).contains("DH-HMAC-CHAP"));
        assert_eq!(
            describe(&k(Errno::ACCESS), false, false),
            "permission denied (errno 13)"
        );
        // Errnos without a TLS meaning are unchanged for TLS controllers.
        assert_eq!(
            describe(&k(Errno::CONNREFUSED), false, true),
            describe(&k(Errno::CONNREFUSED), false, false)
        );
    }

    // Issue 12 case 3: `Instant + Duration` panics on overflow.
    #[test]
    fn deadlines_from_input_never_overflow() {
        let now = Instant::now();
        for d in [
            Duration::MAX,
            Duration::from_secs(u64::MAX),
            Duration::from_secs(i64::MAX as u64),
        ] {
            assert_eq!(later(now, d), now + MAX_WAIT);
        }
        assert_eq!(
            later(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
    }
}
