//! stafd as a source of I/O controllers (docs/design.md §3.3).
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
//! error; the loop keeps the last good list (docs/design.md D3: never disconnect
//! because a source is silent).
//!
//! The reply's parsing and what it asks for live in [`crate::sources::stafd`].

use super::{client, Event, Post, Shared};
pub use crate::sources::stafd::{
    from_owned, parse_pages, to_wanted, DcPages, Derived, Dlpe, StafdError,
};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use zbus::blocking::MessageIterator;

pub const NAME: &str = "org.nvmexpress.staf";
pub const PATH: &str = "/org/nvmexpress/staf";

/// Quiet period before a fetch (`CONF_STABILITY_SOAK_TIME_SEC`, §0).
pub const SOAK: Duration = Duration::from_millis(1500);
/// Quiet period after stafd came back (`CONF_STABILITY_LONG_SOAK_TIME_SEC`).
pub const LONG_SOAK: Duration = Duration::from_secs(10);

/// stafd's signals: `log_pages_changed` (the pages of one discovery
/// controller changed; eight strings, the last the device) and
/// `dc_removed`. The bus resolves the well-known sender to its owner.
const SIGNALS: &str = "type='signal',sender='org.nvmexpress.staf',\
    interface='org.nvmexpress.staf',path='/org/nvmexpress/staf'";
/// stafd getting or losing its name.
const OWNER: &str = "type='signal',sender='org.freedesktop.DBus',\
    interface='org.freedesktop.DBus',member='NameOwnerChanged',\
    arg0='org.nvmexpress.staf'";
const BUS: &str = "org.freedesktop.DBus";
const BUS_PATH: &str = "/org/freedesktop/DBus";

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
/// worker. They end when the connection closes. The calls and signals go
/// through [`super::client`] and bare match rules, not a generated proxy
/// (one code path instead of one per signature: ~20 KB of the binary).
pub fn follow(conn: &zbus::blocking::Connection, shared: Arc<Shared>, post: Post) {
    let (tx, rx) = mpsc::channel::<Trigger>();
    // Subscribe before asking whether stafd is there, so an appearance in
    // between is not missed.
    let subscribed = (|| -> zbus::Result<()> {
        let owner = MessageIterator::for_match_rule(OWNER, conn, None)?;
        let signals = MessageIterator::for_match_rule(SIGNALS, conn, None)?;
        let t = tx.clone();
        spawn("stafd-owner", move || {
            for m in owner.flatten() {
                // NameOwnerChanged(name, old owner, new owner): an empty
                // new owner is a name lost.
                let args = message_args(&m);
                let owned = args.get(2).is_some_and(|n| !n.is_empty());
                if t.send(Trigger::Owner(owned)).is_err() {
                    break;
                }
            }
        });
        let t = tx.clone();
        spawn("stafd-signals", move || {
            for m in signals.flatten() {
                let h = m.header();
                let member = h.member().map(|m| m.as_str());
                if member == Some("log_pages_changed") {
                    let a = message_args(&m);
                    let a = |i: usize| a.get(i).map_or("", String::as_str);
                    log::debug!(
                        "stafd: log pages of ({}, {}, {}, {}) retrieved ({})",
                        a(0),
                        a(1),
                        a(2),
                        a(3),
                        a(7)
                    );
                } else if member != Some("dc_removed") {
                    continue;
                }
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
    let has_owner = client::call(conn, BUS, BUS_PATH, BUS, "NameHasOwner", vec![NAME.into()]);
    let present = has_owner.is_ok_and(|r| {
        let owned = client::args(&r).first().and_then(|v| client::boolean(v));
        owned == Some(true)
    });
    if present {
        let _ = tx.send(Trigger::Owner(true));
    }
    drop(tx);
    let conn = conn.clone();
    spawn("stafd", move || worker(conn, rx, shared, post));
}

/// A signal's string arguments (others as empty strings).
fn message_args(m: &zbus::Message) -> Vec<String> {
    let body = m.body();
    let args = client::args(&body);
    args.iter()
        .map(|v| client::text(v).unwrap_or_default())
        .collect()
}

/// stafd's `get_all_log_pages(true)`, parsed.
fn fetch(conn: &zbus::blocking::Connection) -> Result<(Vec<DcPages>, Vec<String>), StafdError> {
    let args = vec![true.into()];
    let r = client::call(conn, NAME, PATH, NAME, "get_all_log_pages", args)
        .map_err(|e| StafdError::Call(e.to_string()))?;
    let text = client::args(&r).first().and_then(|v| client::text(v));
    parse_pages(&text.ok_or(StafdError::NotString)?)
}

/// The soak timer and the fetch.
fn worker(
    conn: zbus::blocking::Connection,
    rx: mpsc::Receiver<Trigger>,
    shared: Arc<Shared>,
    post: Post,
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
                post.send(Event::StafdOwner(true));
            }
            Ok(Trigger::Owner(false)) => {
                due = None;
                next_appear = LONG_SOAK;
                post.send(Event::StafdOwner(false));
            }
            Ok(Trigger::Changed) => {
                // A restarted stafd announcing fresh pages ends the long soak.
                let t = Instant::now() + SOAK;
                due = Some(due.map_or(t, |d| d.min(t)));
            }
            Err(RecvTimeoutError::Timeout) => {
                due = None;
                shared.set_soak(SOAK, None);
                post.send(Event::Pages(fetch(&conn)));
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    shared.set_soak(SOAK, None);
}
