//! The engine's discovery controllers (docs/design.md §A3): which
//! targets need one, the ones we connected (the daemon's
//! `discovery.json`), and applying their part of the plan
//! ([`crate::reconcile::plan::plan_discovery`]). Their connects and retry
//! timers are the engine's own (src/reconcile/engine.rs); reading their
//! pages is the source's (src/sources/discovery/mod.rs).

use super::{Engine, Runtime};
use crate::desired::Wanted;
use crate::model::identity::Identity;
use crate::reconcile::plan::Action;
use crate::reconcile::state::{OwnedMap, Store};
use std::collections::BTreeMap;
use std::time::Instant;

/// Keep-alive of the discovery controllers the daemon holds (stafd's
/// default `kato`).
const PERSISTENT_KATO: i64 = 30;

/// The discovery controllers: which targets need one, those we connected,
/// their attempts, and the device each target reads from.
#[derive(Debug, Default)]
pub(super) struct Dcs {
    pub(super) wanted: Vec<Wanted>,
    pub(super) owned: OwnedMap,
    /// The daemon's `discovery.json`; `None` (`--once`): kept in memory.
    pub(super) store: Option<Store>,
    pub(super) unsaved: bool,
    pub(super) rt: BTreeMap<Identity, Runtime>,
}

impl Dcs {
    pub(super) fn wanted_of(&self, id: &Identity) -> Option<&Wanted> {
        self.wanted.iter().find(|w| &w.id == id)
    }
}

impl Engine {
    /// Hold the discovery controllers it connects (the daemon): keep-alive
    /// 30 s (stafd's default) unless the target sets one, and a record in
    /// `store`, so that after a restart the one found is still ours (same
    /// name and cntlid, or still serving the target) and is deleted when
    /// its target goes. Without this (`--once`) they are deleted as soon as
    /// no page needs reading, and recorded nowhere.
    pub fn follow_discovery(&mut self, store: Store) {
        self.dcs.owned = store.load();
        self.dcs.store = Some(store);
        self.dirty = true;
    }

    /// The discovery targets that need a discovery controller now (a
    /// `--once` target only while its page is to be read). The others'
    /// controllers that we connected are deleted at the next step.
    pub fn set_discovery(&mut self, wanted: Vec<Wanted>) {
        let persistent = self.dcs.store.is_some();
        let wanted: Vec<Wanted> = wanted
            .into_iter()
            .map(|mut w| {
                if persistent && w.params.conn.kato.is_none() {
                    w.params.conn.kato = Some(PERSISTENT_KATO);
                }
                w
            })
            .collect();
        if wanted == self.dcs.wanted {
            return;
        }
        // A handful of targets: no index.
        self.dcs.rt.retain(|id, r| {
            let keep = wanted.iter().any(|w| &w.id == id);
            if !keep {
                r.device = None;
            }
            keep || r.flight.is_some()
        });
        self.dcs.wanted = wanted;
        self.dirty = true;
    }

    /// The device discovery target `id` reads its page from, as of the
    /// last step.
    pub fn dc_device(&self, id: &Identity) -> Option<&str> {
        self.dcs.rt.get(id)?.device.as_deref()
    }

    /// Why discovery target `id` has no discovery controller: the last
    /// connect's error; `None` while none failed.
    pub fn dc_error(&self, id: &Identity) -> Option<String> {
        let r = self.dcs.rt.get(id)?;
        r.device.is_none().then(|| r.last_error.clone()).flatten()
    }

    /// Delete the discovery controllers we connected and still hold, as of
    /// the last scan (the end of `--once`: a page that was not read in time
    /// leaves no controller of ours behind): the plan's own rule for those
    /// no target needs, applied without an I/O step.
    pub fn drop_discovery(&mut self, now: Instant) {
        self.dcs.wanted.clear();
        let plan = self.plan_from_scan(now);
        self.apply_dcs(&plan.discovery, now);
    }

    /// Discovery controllers being connected.
    pub fn dc_in_flight(&self) -> usize {
        self.dcs.rt.values().filter(|r| r.flight.is_some()).count()
    }

    /// Write `discovery.json` (the daemon only); a failure is said, and
    /// the next change tries again.
    pub(super) fn save_dcs(&mut self) {
        self.dcs.unsaved = false;
        let Some(store) = &self.dcs.store else { return };
        if let Err(e) = store.save(&self.dcs.owned) {
            log::warn!("cannot write {}: {e}", store.path().display());
        }
    }

    /// Apply the discovery controllers' part of the plan.
    pub(super) fn apply_dcs(&mut self, actions: &[Action], now: Instant) {
        for a in actions {
            match a {
                Action::Keep { id, device } | Action::Use { id, device } => {
                    let r = self.dcs.rt.entry(id.clone()).or_default();
                    r.next_try = None;
                    r.last_error = None;
                    if r.device.as_ref() != Some(device) {
                        r.device = Some(device.clone());
                    }
                }
                // Neither kept nor used: no device to read from until one is.
                Action::Connect { id } | Action::Wait { id, .. } => {
                    if let Some(r) = self.dcs.rt.get_mut(id) {
                        r.device = None;
                    }
                    if matches!(a, Action::Connect { .. }) {
                        self.start_connect(id, now, None, true);
                    }
                }
                Action::Disconnect { id, device } => {
                    // The daemon's target went; `--once` read its page.
                    let level = match self.dcs.store {
                        Some(_) => log::Level::Info,
                        None => log::Level::Debug,
                    };
                    log::log!(level, "{id} | {device} - no longer followed; disconnecting");
                    if let Err(e) = self.kernel.delete(device) {
                        log::warn!("{id} | {device} - failed to disconnect: {e}");
                    }
                    self.dcs.unsaved |= self.dcs.owned.remove(id).is_some();
                    self.dcs.rt.remove(id);
                }
                Action::Release { id, .. } => {
                    self.dcs.unsaved |= self.dcs.owned.remove(id).is_some();
                }
                // Not in this part of the plan (plan.rs `plan_discovery`).
                Action::Lost { .. } | Action::Adopt { .. } | Action::Audit { .. } => {}
            }
        }
    }
}
