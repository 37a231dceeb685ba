//! The plan: what to do so the kernel holds what is wanted. A pure function
//! of the desired set, a scan of `/sys/class/nvme`, the controllers we own
//! and which identities are busy (connect in flight or retry timer running).
//!
//! Rules, in order (docs/design.md §3.5 steps 8–10, §4.3, §4.4, §4.10 with
//! the decisions of part D):
//! 1. a controller we own, still wanted (or a boot path), whose device is
//!    still there (same name, cntlid, subsystem and address, or still
//!    matching) is kept — it claims its device first;
//! 2. a wanted identity with no kept device adopts the first matching,
//!    unclaimed, not dying I/O controller (never a duplicate connection;
//!    a controller the kernel is reconnecting is left to the kernel);
//! 3. otherwise it waits while busy; if we owned it and its device vanished
//!    it is "lost" (the engine retries after the fast-retry delay, §4.8);
//!    else it is connected;
//! 4. a controller we own that is no longer wanted: if a wanted identity
//!    adopted its device in step 2 (the same controller under a new
//!    spelling, e.g. after `ignore-iface` changed), ownership moves and
//!    nothing is disconnected — the original bounces the connection here
//!    (§4.11 step 5); else it is disconnected only if the disconnect scope
//!    says so, otherwise released and the connection stays; so is one that
//!    a refused stacd.conf line still names (a bad key on reload never
//!    drops a path; the audit skips those too). A boot path is
//!    neither: it stays ours (so the audit never takes it) for as long as
//!    it exists (D18);
//! 5. audit (`disconnect-scope = all-connections-matching-disconnect-trtypes`,
//!    §3.6): every other settled kernel I/O controller of a listed fabrics
//!    transport that no wanted identity matches is disconnected. PCIe is
//!    never a listed transport (historic bug #180).
//!
//! Discovery controllers (the targets built-in discovery follows) are
//! planned beside them from the same scan, by [`plan_discovery`], into
//! [`Plan::discovery`], with rules of their own (docs/design.md §A3):
//! 1. one we connected (our record), still there and still the same, is
//!    kept;
//! 2. else a live discovery controller that serves the target is used, and
//!    stays someone else's (stafd's, an administrator's): never recorded,
//!    never deleted;
//! 3. else it waits while busy, or is connected (a record of ours whose
//!    device vanished or is another controller now is dropped first: the
//!    kernel gave up on it, nothing is left to delete);
//! 4. one we connected that is no longer needed (its target went; in
//!    `--once`, its page is read) is deleted, whatever the disconnect
//!    scope: it is ours, and nothing but our reads uses it.
//!
//! Applying a plan and planning again from a fresh scan gives a plan with
//! no changes ([`Plan::is_noop`]).

use crate::desired::Wanted;
use crate::kernel::netif::IfAddrs;
use crate::kernel::sysfs::KernelCtrl;
use crate::model::identity::{IdFields, Identity, Transport, DISCOVERY_NQN};
use crate::reconcile::state::{Owned, OwnedMap};
use crate::sources::config::{DisconnectScope, Pattern};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::Instant;

/// Whether an identity has work under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    Idle,
    /// A connect is running on a worker thread.
    InFlight,
    /// A retry is scheduled.
    Until(Instant),
    /// Stopped retrying: NCC is set and connect-attempts-on-ncc were made
    /// (§4.7). Waits for NCC to clear or a reload; still adopts a device
    /// that appears by other means.
    GaveUp,
    /// Its host-iface has no link (missing, down or without carrier): a
    /// connect could only time out. Waits for the link (rtnetlink), still
    /// adopts a device that appears by other means.
    NoLink,
}

/// Why an owned controller is released rather than disconnected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keeping {
    /// Its device is gone: nothing to disconnect.
    Gone,
    /// disconnect-scope = no-disconnect.
    NoDisconnect,
    /// Its transport is not in disconnect-trtypes.
    Trtype,
    /// A wanted identity adopted its device: the connection stays and
    /// changes hands.
    TakenOver,
    /// The stacd.conf line of this line number that names it was refused
    /// (a bad key, say): a refusal never disconnects; the line, once
    /// fixed, adopts the device again.
    Refused(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Ours and present: nothing to do.
    Keep { id: Identity, device: String },
    /// Take an existing kernel controller as ours.
    Adopt {
        id: Identity,
        device: String,
        cntlid: u16,
    },
    /// Connect now.
    Connect { id: Identity },
    /// Busy: in flight (`until` = None) or waiting for a retry.
    Wait {
        id: Identity,
        until: Option<Instant>,
    },
    /// Ours, wanted, but its device vanished: retry after the fast retry.
    Lost { id: Identity, device: String },
    /// Ours, no longer wanted: delete the controller.
    Disconnect { id: Identity, device: String },
    /// Not ours and not wanted, and the audit scope covers its transport:
    /// delete it (§3.6; `id` is read from the device).
    Audit { id: Identity, device: String },
    /// A live discovery controller that is not ours serves a discovery
    /// target: read from it, never delete it.
    Use { id: Identity, device: String },
    /// Ours, no longer wanted, kept connected: stop owning it.
    Release {
        id: Identity,
        device: String,
        why: Keeping,
    },
}

impl Action {
    /// Changes something (the kernel or what we own).
    pub fn is_change(&self) -> bool {
        !matches!(
            self,
            Action::Keep { .. } | Action::Wait { .. } | Action::Use { .. }
        )
    }
}

/// One line of `--dry-run`: the verb, the identity, then what it concerns.
impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Keep { id, device } => write!(f, "keep {id} {device}"),
            Action::Adopt { id, device, cntlid } => {
                write!(f, "adopt {id} {device} cntlid={cntlid}")
            }
            Action::Connect { id } => write!(f, "connect {id}"),
            Action::Wait { id, .. } => write!(f, "wait {id}"),
            Action::Use { id, device } => write!(f, "use {id} {device} (not ours)"),
            Action::Lost { id, device } => write!(f, "reconnect {id} {device} (device gone)"),
            Action::Disconnect { id, device } => {
                write!(f, "disconnect {id} {device} (ours, no longer wanted)")
            }
            Action::Audit { id, device } => write!(
                f,
                "disconnect {id} {device} (not wanted: disconnect-scope=all-connections-matching-disconnect-trtypes)"
            ),
            Action::Release { id, device, why } => {
                write!(
                    f,
                    "release {id} {device} (no longer wanted, {})",
                    why.reason()
                )
            }
        }
    }
}

impl Keeping {
    /// Why the connection stays.
    pub fn reason(self) -> String {
        match self {
            Keeping::Gone => "already gone".into(),
            Keeping::NoDisconnect => "left up: disconnect-scope=no-disconnect".into(),
            Keeping::Trtype => "left up: transport not in disconnect-trtypes".into(),
            Keeping::TakenOver => "left up: adopted by a wanted identity".into(),
            Keeping::Refused(line) => format!(
                "left up: its controller= line (stacd.conf line {line}) is refused; fixed, it manages it again"
            ),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The I/O controllers ([`plan`]).
    pub actions: Vec<Action>,
    /// The discovery controllers ([`plan_discovery`]).
    pub discovery: Vec<Action>,
}

impl Plan {
    /// Nothing to change.
    pub fn is_noop(&self) -> bool {
        self.changes().next().is_none()
    }

    pub fn changes(&self) -> impl Iterator<Item = &Action> {
        self.actions
            .iter()
            .chain(&self.discovery)
            .filter(|a| a.is_change())
    }
}

/// Everything the planner looks at.
pub struct PlanInput<'a> {
    pub wanted: &'a [Wanted],
    pub scan: &'a [KernelCtrl],
    pub owned: &'a OwnedMap,
    pub busy: &'a dyn Fn(&Identity) -> Busy,
    pub scope: DisconnectScope,
    pub trtypes: &'a [Transport],
    pub net: &'a IfAddrs,
    /// stacd.conf's refused `controller=` lines: what they name is never
    /// disconnected, by rule 4 or by the audit.
    pub held: &'a [Pattern],
    /// Whether the audit may run now. The engine holds it while a source of
    /// wanted controllers has not answered yet (docs/design.md D3: never disconnect
    /// because a source is silent).
    pub audit: bool,
}

impl fmt::Debug for PlanInput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlanInput")
            .field("wanted", &self.wanted.len())
            .field("scan", &self.scan.len())
            .field("owned", &self.owned.len())
            .finish()
    }
}

/// Compute the plan. Cost: linear in wanted + scan + owned (candidate
/// devices are bucketed by transport, port and subsystem NQN).
pub fn plan(inp: &PlanInput<'_>) -> Plan {
    let by_name: HashMap<&str, &KernelCtrl> =
        inp.scan.iter().map(|c| (c.name.as_str(), c)).collect();
    let mut buckets: HashMap<(&str, &str, &str), Vec<&KernelCtrl>> = HashMap::new();
    for c in inp.scan.iter().filter(|c| c.is_io() && !c.is_dying()) {
        buckets
            .entry((
                c.transport.as_str(),
                c.trsvcid.as_str(),
                c.subsysnqn.as_str(),
            ))
            .or_default()
            .push(c);
    }
    let mut taken: HashSet<&str> = HashSet::new();
    let mut kept: HashMap<&Identity, &KernelCtrl> = HashMap::new();

    let wanted_ids: HashSet<&Identity> = inp.wanted.iter().map(|w| &w.id).collect();
    // 1. Our controllers keep their own devices; those no longer wanted
    // (boot paths aside) leave theirs open to adoption in step 2.
    for (id, o) in inp.owned {
        if let Some(dev) = by_name.get(o.device.as_str()) {
            if still_ours(id, o, dev, inp.net) {
                if o.boot || wanted_ids.contains(id) {
                    taken.insert(dev.name.as_str());
                }
                kept.insert(id, dev);
            }
        }
    }

    let mut actions = Vec::with_capacity(inp.wanted.len());
    // 2.–3. Every wanted identity.
    for w in inp.wanted {
        let id = &w.id;
        if let Some(dev) = kept.get(id) {
            actions.push(Action::Keep {
                id: id.clone(),
                device: dev.name.clone(),
            });
            continue;
        }
        // A connect in flight owns the outcome: its device shows in sysfs
        // before the write to /dev/nvme-fabrics returns, and must not be
        // "adopted" from under it.
        if (inp.busy)(id) == Busy::InFlight {
            actions.push(Action::Wait {
                id: id.clone(),
                until: None,
            });
            continue;
        }
        let candidates: &[&KernelCtrl] = if id.subsysnqn.as_str() == DISCOVERY_NQN {
            &[]
        } else {
            buckets
                .get(&(
                    id.transport.as_str(),
                    id.trsvcid.as_str(),
                    id.subsysnqn.as_str(),
                ))
                .map_or(&[], Vec::as_slice)
        };
        let found = candidates.iter().find(|c| {
            !taken.contains(c.name.as_str()) && crate::reconcile::matching::matches(id, c, inp.net)
        });
        if let Some(dev) = found {
            taken.insert(dev.name.as_str());
            actions.push(Action::Adopt {
                id: id.clone(),
                device: dev.name.clone(),
                cntlid: dev.cntlid.unwrap_or(0),
            });
            continue;
        }
        match (inp.busy)(id) {
            Busy::InFlight => actions.push(Action::Wait {
                id: id.clone(),
                until: None,
            }),
            Busy::Until(t) => actions.push(Action::Wait {
                id: id.clone(),
                until: Some(t),
            }),
            Busy::GaveUp | Busy::NoLink => actions.push(Action::Wait {
                id: id.clone(),
                until: None,
            }),
            Busy::Idle => match inp.owned.get(id) {
                Some(o) => actions.push(Action::Lost {
                    id: id.clone(),
                    device: o.device.clone(),
                }),
                None => actions.push(Action::Connect { id: id.clone() }),
            },
        }
    }

    // 4. Ours, no longer wanted.
    for (id, o) in inp.owned {
        if wanted_ids.contains(id) {
            continue;
        }
        let Some(dev) = kept.get(id) else {
            actions.push(Action::Release {
                id: id.clone(),
                device: o.device.clone(),
                why: Keeping::Gone,
            });
            continue;
        };
        let device = dev.name.clone();
        if o.boot {
            actions.push(Action::Keep {
                id: id.clone(),
                device,
            });
            continue;
        }
        if !taken.insert(dev.name.as_str()) {
            actions.push(Action::Release {
                id: id.clone(),
                device,
                why: Keeping::TakenOver,
            });
            continue;
        }
        if let Some(line) = held_by(inp.held, &id.as_pairs()) {
            actions.push(Action::Release {
                id: id.clone(),
                device,
                why: Keeping::Refused(line),
            });
            continue;
        }
        let keep = match inp.scope {
            DisconnectScope::NoDisconnect => Some(Keeping::NoDisconnect),
            DisconnectScope::AllConnectionsMatchingDisconnectTrtypes
                if !inp.trtypes.contains(&id.transport) =>
            {
                Some(Keeping::Trtype)
            }
            _ => None,
        };
        actions.push(match keep {
            Some(why) => Action::Release {
                id: id.clone(),
                device,
                why,
            },
            None => Action::Disconnect {
                id: id.clone(),
                device,
            },
        });
    }

    // 5. The audit.
    if inp.audit && inp.scope == DisconnectScope::AllConnectionsMatchingDisconnectTrtypes {
        audit(inp, &taken, &mut actions);
    }
    Plan {
        actions,
        discovery: Vec::new(),
    }
}

/// What the discovery rules look at besides the scan and the interface
/// table of [`PlanInput`].
pub struct DcInput<'a> {
    /// The targets that need a discovery controller now.
    pub wanted: &'a [Wanted],
    /// The discovery controllers we connected (`discovery.json`).
    pub owned: &'a OwnedMap,
    pub busy: &'a dyn Fn(&Identity) -> Busy,
    /// The device a target last read from: preferred when several serve it.
    pub known: &'a dyn Fn(&Identity) -> Option<&'a str>,
}

impl fmt::Debug for DcInput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DcInput")
            .field("wanted", &self.wanted.len())
            .field("owned", &self.owned.len())
            .finish()
    }
}

/// The discovery controllers' part of the plan (the rules in this file's
/// first lines). Targets and discovery controllers are a handful: plain
/// searches, no index.
pub fn plan_discovery(inp: &PlanInput<'_>, dc: &DcInput<'_>) -> Vec<Action> {
    let kept = |id: &Identity| {
        let o = dc.owned.get(id)?;
        inp.scan
            .iter()
            .find(|c| c.name == o.device)
            .filter(|dev| is_discovery(dev) && still_ours(id, o, dev, inp.net))
    };
    let mut actions = Vec::new();
    for id in dc.wanted.iter().map(|w| &w.id) {
        if let Some(dev) = kept(id) {
            actions.push(Action::Keep {
                id: id.clone(),
                device: dev.name.clone(),
            });
            continue;
        }
        if let Some(o) = dc.owned.get(id) {
            actions.push(Action::Release {
                id: id.clone(),
                device: o.device.clone(),
                why: Keeping::Gone,
            });
        }
        let busy = (dc.busy)(id);
        let known = (dc.known)(id);
        let found = match busy {
            // Its own connect's device must not be "used" from under it.
            Busy::InFlight => None,
            _ => find_dc(id, inp.scan, known, inp.net),
        };
        actions.push(match (found, busy) {
            (Some(c), _) => Action::Use {
                id: id.clone(),
                device: c.name.clone(),
            },
            (None, Busy::Until(t)) => Action::Wait {
                id: id.clone(),
                until: Some(t),
            },
            (None, Busy::InFlight | Busy::GaveUp | Busy::NoLink) => Action::Wait {
                id: id.clone(),
                until: None,
            },
            (None, Busy::Idle) => Action::Connect { id: id.clone() },
        });
    }
    for (id, o) in dc.owned {
        if dc.wanted.iter().any(|w| &w.id == id) {
            continue;
        }
        actions.push(match kept(id) {
            Some(dev) => Action::Disconnect {
                id: id.clone(),
                device: dev.name.clone(),
            },
            None => Action::Release {
                id: id.clone(),
                device: o.device.clone(),
                why: Keeping::Gone,
            },
        });
    }
    actions
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

/// Is the device `dev`, named in our record `o`, still the controller we
/// own as `id`: not dying, and the same one (name, cntlid, subsystem and
/// target address — nvmet numbers controllers from 1 in every subsystem,
/// so a reused name with an equal cntlid proves nothing on its own) or one
/// that still serves the identity (§4.4).
pub fn still_ours(id: &Identity, o: &Owned, dev: &KernelCtrl, net: &IfAddrs) -> bool {
    let same = dev.cntlid == Some(o.cntlid)
        && dev.subsysnqn == id.subsysnqn.as_str()
        && dev.transport == id.transport.as_str()
        && dev.trsvcid == id.trsvcid.as_str()
        && dev.traddr.eq_ignore_ascii_case(&id.traddr);
    !dev.is_dying() && (same || crate::reconcile::matching::matches(id, dev, net))
}

/// The identity a kernel controller describes (§3.6: transport, traddr,
/// trsvcid, host-traddr, host-iface, subsysnqn, host-nqn from `hostnqn`);
/// `None` when the device's attributes do not form one (half-populated or
/// vanished while it was read).
pub fn identity_of(dev: &KernelCtrl) -> Option<Identity> {
    Identity::new(&IdFields {
        transport: &dev.transport,
        traddr: &dev.traddr,
        trsvcid: &dev.trsvcid,
        subsysnqn: &dev.subsysnqn,
        host_traddr: &dev.host_traddr,
        host_iface: &dev.host_iface,
        host_nqn: &dev.hostnqn,
    })
    .ok()
}

/// The line of the first refused stacd.conf line whose identity keys
/// `pairs` has.
fn held_by(held: &[Pattern], pairs: &[(&str, &str)]) -> Option<usize> {
    held.iter().find(|p| p.matches(pairs)).map(|p| p.line)
}

/// Rule 5 (§3.6). Deliberate differences from the original (docs/design.md D23), both to never
/// disconnect something that is, or is about to be, wanted:
/// - a device that any wanted identity matches (adoption rules, §4.4) is
///   left alone even if another device serves that identity — the original
///   compares identities literally and bounces a connection whose sysfs
///   spelling differs from the configured one (§3.6 "Subtlety", §11.1 #15);
/// - only settled devices are audited: the kernel announces a controller
///   (`add` uevent) before its attributes are filled and while its first
///   connect runs, so a device in state `new`, without a cntlid, or on the
///   address of a connect of ours in flight, waits for the next event
///   (`change` NVME_EVENT=connected follows, kernel `nvme_start_ctrl`).
fn audit(inp: &PlanInput<'_>, taken: &HashSet<&str>, actions: &mut Vec<Action>) {
    let in_flight: Vec<&Identity> = inp
        .wanted
        .iter()
        .map(|w| &w.id)
        .filter(|id| (inp.busy)(id) == Busy::InFlight)
        .collect();
    for dev in inp.scan {
        let listed = Transport::parse(&dev.transport).is_some_and(|t| inp.trtypes.contains(&t));
        if !listed
            || !dev.is_io()
            || dev.is_dying()
            || dev.state == "new"
            || dev.cntlid.is_none()
            || taken.contains(dev.name.as_str())
        {
            continue;
        }
        if in_flight.iter().any(|id| {
            id.transport.as_str() == dev.transport
                && id.trsvcid.as_str() == dev.trsvcid
                && id.traddr.eq_ignore_ascii_case(&dev.traddr)
        }) {
            continue;
        }
        if inp
            .wanted
            .iter()
            .any(|w| crate::reconcile::matching::matches(&w.id, dev, inp.net))
        {
            continue;
        }
        let pairs = [
            ("transport", dev.transport.as_str()),
            ("traddr", dev.traddr.as_str()),
            ("trsvcid", dev.trsvcid.as_str()),
            ("subsysnqn", dev.subsysnqn.as_str()),
            ("host-traddr", dev.host_traddr.as_str()),
            ("host-iface", dev.host_iface.as_str()),
            ("host-nqn", dev.hostnqn.as_str()),
        ];
        if held_by(inp.held, &pairs).is_some() {
            continue;
        }
        if let Some(id) = identity_of(dev) {
            actions.push(Action::Audit {
                id,
                device: dev.name.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::Origin;
    use crate::model::identity::IdFields;
    use crate::model::params::ConnectParams;

    const HOST: &str = "nqn.2014-08.org.nvmexpress:uuid:0000";

    fn id(a: &str, nqn: &str) -> Identity {
        Identity::new(&IdFields {
            transport: "tcp",
            traddr: a,
            trsvcid: "4420",
            subsysnqn: nqn,
            host_nqn: HOST,
            ..Default::default()
        })
        .unwrap()
    }

    fn want(i: &Identity) -> Wanted {
        Wanted {
            id: i.clone(),
            params: ConnectParams::default(),
            origin: Origin::Config { line: 1 },
            boot: false,
            extras: vec![],
            ncc: false,
        }
    }

    fn dev(n: u32, a: &str, nqn: &str, state: &str) -> KernelCtrl {
        KernelCtrl {
            name: format!("nvme{n}"),
            instance: n,
            transport: "tcp".into(),
            traddr: a.into(),
            trsvcid: "4420".into(),
            subsysnqn: nqn.into(),
            hostnqn: HOST.into(),
            state: state.into(),
            cntlid: Some(n as u16 + 10),
            cntrltype: Some("io".into()),
            ..Default::default()
        }
    }

    fn owned(dev: &str, cntlid: u16) -> Owned {
        Owned {
            device: dev.into(),
            cntlid,
            origin: "config".into(),
            boot: false,
        }
    }

    fn run(
        wanted: &[Wanted],
        scan: &[KernelCtrl],
        o: &OwnedMap,
        scope: DisconnectScope,
    ) -> Vec<String> {
        let idle = |_: &Identity| Busy::Idle;
        let p = plan(&PlanInput {
            wanted,
            scan,
            owned: o,
            busy: &idle,
            scope,
            trtypes: &[Transport::Tcp],
            net: &IfAddrs::default(),
            held: &[],
            audit: true,
        });
        p.actions
            .iter()
            .map(|a| {
                // "verb device": the device follows the identity's ")".
                let t = a.to_string();
                let verb = t.split_whitespace().next().unwrap_or("").to_string();
                let dev = t
                    .rsplit_once(") ")
                    .map_or("-", |(_, r)| r.split_whitespace().next().unwrap_or("-"));
                format!("{verb} {dev}")
            })
            .collect()
    }

    #[test]
    fn in_flight_connect_is_not_adopted_from_under_itself() {
        let a = id("10.0.0.1", "nqn.a");
        let scan = [dev(0, "10.0.0.1", "nqn.a", "live")];
        let busy = |_: &Identity| Busy::InFlight;
        let p = plan(&PlanInput {
            wanted: &[want(&a)],
            scan: &scan,
            owned: &OwnedMap::new(),
            busy: &busy,
            scope: DisconnectScope::default(),
            trtypes: &[],
            net: &IfAddrs::default(),
            held: &[],
            audit: true,
        });
        assert_eq!(p.actions, [Action::Wait { id: a, until: None }]);
    }

    #[test]
    fn lost_and_busy() {
        let a = id("10.0.0.1", "nqn.a");
        let mut o = OwnedMap::new();
        o.insert(a.clone(), owned("nvme4", 14));
        assert_eq!(
            run(&[want(&a)], &[], &o, DisconnectScope::default()),
            ["reconnect nvme4"]
        );
        // Device name reused by another subsystem: not ours any more.
        let scan = [dev(4, "10.0.0.9", "nqn.z", "live")];
        assert_eq!(
            run(&[want(&a)], &scan, &o, DisconnectScope::default()),
            ["reconnect nvme4"]
        );
        // Reused by the same subsystem on another port, with the same
        // cntlid (nvmet counts from 1 per subsystem): not ours either.
        let mut other_port = dev(4, "10.0.0.1", "nqn.a", "live");
        other_port.trsvcid = "4421".into();
        assert_eq!(other_port.cntlid, Some(14));
        assert_eq!(
            run(&[want(&a)], &[other_port], &o, DisconnectScope::default()),
            ["reconnect nvme4"]
        );
        let t = Instant::now();
        let busy = move |_: &Identity| Busy::Until(t);
        let p = plan(&PlanInput {
            wanted: &[want(&a)],
            scan: &[],
            owned: &OwnedMap::new(),
            busy: &busy,
            scope: DisconnectScope::default(),
            trtypes: &[],
            net: &IfAddrs::default(),
            held: &[],
            audit: true,
        });
        assert_eq!(
            p.actions,
            [Action::Wait {
                id: a,
                until: Some(t)
            }]
        );
        assert!(p.is_noop());
    }

    // The disconnect decision per scope × transport is in
    // tests/plan-cases/11-17 (a dry run shows each). A dry run cannot show
    // this one, as a restart forgets a state file entry whose device is
    // gone before it plans: a vanished boot path is released.
    #[test]
    fn a_vanished_boot_path_is_released() {
        let a = id("10.0.0.1", "nqn.a");
        let mut o = OwnedMap::new();
        o.insert(
            a,
            Owned {
                boot: true,
                ..owned("nvme0", 10)
            },
        );
        assert_eq!(
            run(&[], &[], &o, DisconnectScope::OnlyStasConnections),
            ["release nvme0"]
        );
    }

    fn audit_plan(
        wanted: &[Wanted],
        scan: &[KernelCtrl],
        o: &OwnedMap,
        scope: DisconnectScope,
        trtypes: &[Transport],
        audit: bool,
        busy: &dyn Fn(&Identity) -> Busy,
    ) -> Vec<String> {
        plan(&PlanInput {
            wanted,
            scan,
            owned: o,
            busy,
            scope,
            trtypes,
            net: &IfAddrs::default(),
            held: &[],
            audit,
        })
        .changes()
        .map(|a| {
            let t = a.to_string();
            let verb = t.split_whitespace().next().unwrap_or("").to_string();
            let dev = t
                .rsplit_once(") ")
                .map_or("-", |(_, r)| r.split_whitespace().next().unwrap_or("-"));
            format!("{verb} {dev}")
        })
        .collect()
    }

    // §3.6: which kernel controllers the audit disconnects.
    #[test]
    fn audit_takes_only_settled_unwanted_listed_io_controllers() {
        let a = id("10.0.0.1", "nqn.a");
        let c = id("10.0.0.3", "nqn.c");
        let boot = id("10.0.0.9", "nqn.boot");
        let mut rdma = dev(2, "10.0.0.2", "nqn.r", "live");
        rdma.transport = "rdma".into();
        let mut pcie = dev(3, "", "nqn.p", "live");
        pcie.transport = "pcie".into();
        let mut disc = dev(4, "10.0.0.4", "nqn.d", "live");
        disc.cntrltype = Some("discovery".into());
        let mut no_cntlid = dev(6, "10.0.0.6", "nqn.f", "connecting");
        no_cntlid.cntlid = None;
        // Half-populated while our connect to 10.0.0.3 is in flight.
        let mut ours_in_flight = dev(10, "10.0.0.3", "", "connecting");
        ours_in_flight.subsysnqn.clear();
        let scan = [
            dev(0, "10.0.0.1", "nqn.a", "live"),
            dev(1, "10.0.0.2", "nqn.b", "live"),
            rdma,
            pcie,
            disc,
            dev(5, "10.0.0.5", "nqn.e", "new"),
            no_cntlid,
            dev(7, "10.0.0.7", "nqn.g", "deleting"),
            // A second device serving a: left alone (never a bounce).
            dev(8, "10.0.0.1", "nqn.a", "live"),
            dev(9, "10.0.0.9", "nqn.boot", "live"),
            ours_in_flight,
            dev(11, "10.0.0.11", "nqn.k", "resetting"),
        ];
        let mut o = OwnedMap::new();
        o.insert(
            boot,
            Owned {
                boot: true,
                ..owned("nvme9", 19)
            },
        );
        let busy = |i: &Identity| {
            if i.traddr.as_str() == "10.0.0.3" {
                Busy::InFlight
            } else {
                Busy::Idle
            }
        };
        let audit = DisconnectScope::AllConnectionsMatchingDisconnectTrtypes;
        let w = [want(&a), want(&c)];
        assert_eq!(
            audit_plan(&w, &scan, &o, audit, &[Transport::Tcp], true, &busy),
            ["adopt nvme0", "disconnect nvme1", "disconnect nvme11"]
        );
        // rdma listed too: it goes as well; pcie never.
        let both = [Transport::Tcp, Transport::Rdma];
        assert_eq!(
            audit_plan(&w, &scan, &o, audit, &both, true, &busy)[1..],
            ["disconnect nvme1", "disconnect nvme2", "disconnect nvme11"]
        );
        // Held (a source has not answered yet), or another scope: nothing.
        for (scope, on) in [
            (audit, false),
            (DisconnectScope::OnlyStasConnections, true),
            (DisconnectScope::NoDisconnect, true),
        ] {
            assert_eq!(
                audit_plan(&w, &scan, &o, scope, &both, on, &busy),
                ["adopt nvme0"],
                "{scope:?} audit={on}"
            );
        }
        // The audited identity is read from the device.
        let p = plan(&PlanInput {
            wanted: &[],
            scan: &scan[1..2],
            owned: &OwnedMap::new(),
            busy: &busy,
            scope: audit,
            trtypes: &[Transport::Tcp],
            net: &IfAddrs::default(),
            held: &[],
            audit: true,
        });
        assert_eq!(
            p.actions,
            [Action::Audit {
                id: id("10.0.0.2", "nqn.b"),
                device: "nvme1".into()
            }]
        );
    }

    #[test]
    fn gave_up_waits_but_still_adopts() {
        let a = id("10.0.0.1", "nqn.a");
        let gave_up = |_: &Identity| Busy::GaveUp;
        let scope = DisconnectScope::default();
        let none = OwnedMap::new();
        assert!(audit_plan(&[want(&a)], &[], &none, scope, &[], false, &gave_up).is_empty());
        let scan = [dev(0, "10.0.0.1", "nqn.a", "live")];
        assert_eq!(
            audit_plan(&[want(&a)], &scan, &none, scope, &[], false, &gave_up),
            ["adopt nvme0"]
        );
    }

    /// A discovery identity at 127.0.0.1:8009 on eth0.
    fn dc_id() -> Identity {
        Identity::new(&IdFields {
            transport: "tcp",
            traddr: "127.0.0.1",
            trsvcid: "8009",
            subsysnqn: DISCOVERY_NQN,
            host_iface: "eth0",
            host_nqn: HOST,
            ..Default::default()
        })
        .unwrap()
    }

    fn dc_dev(n: u32, ty: Option<&str>, nqn: &str, state: &str) -> KernelCtrl {
        KernelCtrl {
            name: format!("nvme{n}"),
            instance: n,
            transport: "tcp".into(),
            traddr: "127.0.0.1".into(),
            trsvcid: "8009".into(),
            host_iface: "eth0".into(),
            subsysnqn: nqn.into(),
            hostnqn: HOST.into(),
            state: state.into(),
            cntlid: Some(n as u16 + 1),
            cntrltype: ty.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn finds_discovery_controllers_only() {
        let t = dc_id();
        let net = IfAddrs::default();
        let scan = vec![
            dc_dev(0, Some("io"), "nqn.x", "live"),
            dc_dev(1, Some("discovery"), DISCOVERY_NQN, "deleting"),
            dc_dev(2, None, DISCOVERY_NQN, "live"),
            dc_dev(3, Some("discovery"), "nqn.unique.dc", "live"),
        ];
        assert_eq!(
            find_dc(&t, &scan, None, &net).map(|c| c.name.as_str()),
            Some("nvme2")
        );
        // The well-known NQN matches a unique discovery NQN too (TP8013).
        assert_eq!(
            find_dc(&t, &scan, Some("nvme3"), &net).map(|c| c.name.as_str()),
            Some("nvme3")
        );
        assert!(find_dc(&t, &scan[..2], None, &net).is_none());
    }

    /// The discovery part of a plan: `wanted` targets, `o` ours.
    fn run_dc(
        wanted: &[Wanted],
        scan: &[KernelCtrl],
        o: &OwnedMap,
        busy: &dyn Fn(&Identity) -> Busy,
    ) -> Vec<String> {
        let idle = |_: &Identity| Busy::Idle;
        let inp = PlanInput {
            wanted: &[],
            scan,
            owned: &OwnedMap::new(),
            busy: &idle,
            scope: DisconnectScope::NoDisconnect,
            trtypes: &[Transport::Tcp],
            net: &IfAddrs::default(),
            held: &[],
            audit: true,
        };
        let dc = DcInput {
            wanted,
            owned: o,
            busy,
            known: &|_| None,
        };
        plan_discovery(&inp, &dc)
            .iter()
            .map(|a| a.to_string().replace(&dc_id().to_string(), "DC"))
            .collect()
    }

    #[test]
    fn discovery_controllers_kept_used_connected_and_deleted() {
        let t = dc_id();
        let w = [want(&t)];
        let idle = |_: &Identity| Busy::Idle;
        let none = OwnedMap::new();
        let ours: OwnedMap = [(t.clone(), owned("nvme2", 3))].into_iter().collect();
        let live = [dc_dev(2, Some("discovery"), DISCOVERY_NQN, "live")];
        // Ours and there: kept. Someone else's: used, never ours.
        assert_eq!(run_dc(&w, &live, &ours, &idle), ["keep DC nvme2"]);
        assert_eq!(run_dc(&w, &live, &none, &idle), ["use DC nvme2 (not ours)"]);
        // An I/O controller at the address is no discovery controller.
        let io = [dc_dev(2, Some("io"), DISCOVERY_NQN, "live")];
        assert_eq!(run_dc(&w, &io, &none, &idle), ["connect DC"]);
        // Ours vanished: the record goes, another is connected; while its
        // connect runs nothing is used from under it.
        assert_eq!(
            run_dc(&w, &[], &ours, &idle),
            [
                "release DC nvme2 (no longer wanted, already gone)",
                "connect DC"
            ]
        );
        let flying = |_: &Identity| Busy::InFlight;
        assert_eq!(run_dc(&w, &live, &none, &flying), ["wait DC"]);
        // No longer needed: ours deleted whatever the disconnect scope
        // (NoDisconnect here), someone else's left alone, a gone one
        // forgotten.
        assert_eq!(
            run_dc(&[], &live, &ours, &idle),
            ["disconnect DC nvme2 (ours, no longer wanted)"]
        );
        assert!(run_dc(&[], &live, &none, &idle).is_empty());
        assert_eq!(
            run_dc(&[], &[], &ours, &idle),
            ["release DC nvme2 (no longer wanted, already gone)"]
        );
        // Ours, but dying: not kept; someone else's live one is used.
        let dying = [
            dc_dev(2, Some("discovery"), DISCOVERY_NQN, "deleting"),
            dc_dev(4, Some("discovery"), DISCOVERY_NQN, "live"),
        ];
        assert_eq!(
            run_dc(&w, &dying, &ours, &idle),
            [
                "release DC nvme2 (no longer wanted, already gone)",
                "use DC nvme4 (not ours)"
            ]
        );
    }
}
