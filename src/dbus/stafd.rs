//! stafd as a source of I/O controllers (stacd-spec.md §3.3).
//!
//! stafd (`org.nvmexpress.staf`, `/org/nvmexpress/staf`) publishes the
//! discovery log pages it read from discovery controllers. We call
//! `get_all_log_pages(true)` and turn every entry whose subtype is `nvme`
//! into a wanted controller pinned to the discovery controller's host
//! address, interface and host NQN. `log_pages_changed` and `dc_removed`
//! signals, and stafd appearing on the bus, schedule a new fetch after a
//! quiet period (the original's config soak: 1.5 s, 10 s once after stafd
//! vanished, so a restarted stafd can re-read its controllers).
//!
//! Threads: one per signal subscription (zbus's blocking iterators have no
//! pollable descriptor) feeding one worker that owns the soak timer and
//! makes the D-Bus call — never the daemon's loop, never a handler. The
//! worker posts results to the loop through its wake pipe.
//!
//! stafd absent, restarting or answering garbage: nothing is posted but an
//! error; the loop keeps the last good list (DESIGN.md: never disconnect
//! because a source is silent).
//!
//! The reply's parsing and what it asks for live in [`crate::stafd`].

use super::{Event, Shared};
use crate::daemon::{Command, Control};
pub use crate::stafd::{from_owned, parse_pages, to_wanted, DcPages, Derived, Dlpe};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const NAME: &str = "org.nvmexpress.staf";
pub const PATH: &str = "/org/nvmexpress/staf";

/// Quiet period before a fetch (`CONF_STABILITY_SOAK_TIME_SEC`, §0).
pub const SOAK: Duration = Duration::from_millis(1500);
/// Quiet period after stafd came back (`CONF_STABILITY_LONG_SOAK_TIME_SEC`).
pub const LONG_SOAK: Duration = Duration::from_secs(10);

/// stafd's interface, as a client sees it. Every member is named: zbus
/// would look for `LogPagesChanged` otherwise and never see a signal.
#[zbus::proxy(
    interface = "org.nvmexpress.staf",
    default_service = "org.nvmexpress.staf",
    default_path = "/org/nvmexpress/staf",
    gen_async = false
)]
trait Staf {
    #[zbus(name = "get_all_log_pages")]
    fn get_all_log_pages(&self, detailed: bool) -> zbus::Result<String>;

    #[allow(clippy::too_many_arguments)]
    #[zbus(signal, name = "log_pages_changed")]
    fn log_pages_changed(
        &self,
        transport: &str,
        traddr: &str,
        trsvcid: &str,
        subsysnqn: &str,
        host_traddr: &str,
        host_iface: &str,
        host_nqn: &str,
        device: &str,
    ) -> zbus::Result<()>;

    #[zbus(signal, name = "dc_removed")]
    fn dc_removed(&self) -> zbus::Result<()>;
}

/// What the subscription threads tell the worker.
#[derive(Debug)]
enum Trigger {
    /// stafd got (`true`) or lost (`false`) its name.
    Owner(bool),
    /// `log_pages_changed` or `dc_removed`.
    Changed,
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) {
    if let Err(e) = crate::kernel::worker::spawn(name, f) {
        log::error!("cannot start thread {name}: {e}; stafd changes may go unnoticed");
    }
}

/// Start following stafd on `conn`: the subscription threads and the
/// worker. They end when the connection closes.
pub fn follow(conn: &zbus::blocking::Connection, shared: Arc<Shared>, control: Control) {
    let proxy = match StafProxy::builder(conn)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
    {
        Ok(p) => p,
        Err(e) => {
            log::error!("Failed to connect to staf: {e}");
            return;
        }
    };
    let (tx, rx) = mpsc::channel::<Trigger>();
    // Subscribe before asking whether stafd is there, so an appearance in
    // between is not missed.
    let subscribed = (|| -> zbus::Result<()> {
        let owner = proxy.inner().receive_owner_changed()?;
        let pages = proxy.receive_log_pages_changed()?;
        let removed = proxy.receive_dc_removed()?;
        let t = tx.clone();
        spawn("stafd-owner", move || {
            for o in owner {
                if t.send(Trigger::Owner(o.is_some())).is_err() {
                    break;
                }
            }
        });
        let t = tx.clone();
        spawn("stafd-pages", move || {
            for s in pages {
                if let Ok(a) = s.args() {
                    log::debug!(
                        "stafd: log pages of ({}, {}, {}, {}) retrieved ({})",
                        a.transport,
                        a.traddr,
                        a.trsvcid,
                        a.subsysnqn,
                        a.device
                    );
                }
                if t.send(Trigger::Changed).is_err() {
                    break;
                }
            }
        });
        let t = tx.clone();
        spawn("stafd-dc", move || {
            for _ in removed {
                if t.send(Trigger::Changed).is_err() {
                    break;
                }
            }
        });
        Ok(())
    })();
    if let Err(e) = subscribed {
        log::error!("Failed to connect to staf: {e}");
        return;
    }
    let present = zbus::blocking::fdo::DBusProxy::new(conn)
        .ok()
        .and_then(|d| d.name_has_owner(NAME.try_into().ok()?).ok())
        .unwrap_or(false);
    if present {
        let _ = tx.send(Trigger::Owner(true));
    }
    drop(tx);
    spawn("stafd", move || worker(proxy, rx, shared, control));
}

/// The soak timer and the fetch.
fn worker(
    proxy: StafProxy<'static>,
    rx: mpsc::Receiver<Trigger>,
    shared: Arc<Shared>,
    control: Control,
) {
    let mut next_appear = SOAK;
    let mut due: Option<Instant> = None;
    loop {
        shared.set_soak(if due.is_some() { SOAK } else { next_appear }, due);
        let got = match due {
            Some(t) => rx.recv_timeout(t.saturating_duration_since(Instant::now())),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match got {
            Ok(Trigger::Owner(true)) => {
                log::debug!("Connected to staf");
                // The owner change and stafd's signals reach us on separate
                // subscription threads, so a log_pages_changed of the new
                // stafd can arrive first (the bus sends it after the owner
                // change): never push an earlier fetch later.
                let t = Instant::now() + next_appear;
                due = Some(due.map_or(t, |d| d.min(t)));
                next_appear = SOAK;
                control.post(Command::Dbus(Event::StafdOwner(true)));
            }
            Ok(Trigger::Owner(false)) => {
                due = None;
                next_appear = LONG_SOAK;
                control.post(Command::Dbus(Event::StafdOwner(false)));
            }
            Ok(Trigger::Changed) => {
                // A restarted stafd announcing fresh pages ends the long soak.
                let t = Instant::now() + SOAK;
                due = Some(due.map_or(t, |d| d.min(t)));
            }
            Err(RecvTimeoutError::Timeout) => {
                due = None;
                shared.set_soak(SOAK, None);
                let reply = proxy
                    .get_all_log_pages(true)
                    .map_err(|e| format!("get_all_log_pages failed: {e}"))
                    .and_then(|t| parse_pages(&t));
                control.post(Command::Dbus(Event::Pages(reply)));
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    shared.set_soak(SOAK, None);
}
