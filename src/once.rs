//! `stacd --once`: connect everything wanted in parallel, wait until each
//! controller is live or the budget is spent, print one line per
//! controller, exit with a code that says how it went (see [`crate::exit`]).
//!
//! For boot scripts: bounded in time, never disconnects anything, records
//! what it connected in the state file so the daemon adopts it later.
//!
//! With discovery controllers to follow ([`run_boot`]), their pages are
//! read in parallel with the connects of what is already known, and what
//! they list joins the wanted set as it arrives. `rd.stacd.wait` chooses
//! when to stop ([`Policy`]): `all` (default) when everything is live,
//! `none` after one round of attempts, `root` after one round once a
//! controller has been live for the grace period; the budget ends it in
//! any case.

use crate::cmdline::Wait;
use crate::desired::Wanted;
use crate::discovery::Discoverer;
use crate::engine::{later, Engine, How, Status};
use crate::exit;
use std::io::Write;
use std::time::{Duration, Instant};

/// When `--once` is done (before its budget runs out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub wait: Wait,
    /// `Wait::Root`: how long after the first live controller.
    pub grace: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            wait: Wait::All,
            grace: Duration::from_secs(5),
        }
    }
}

/// How often to look at the kernel while a controller is present but not
/// yet live (the kernel is reconnecting it): short, the command is brief.
/// Only those controllers' directories are read.
const SETTLE_POLL: Duration = Duration::from_millis(100);

/// How often to look at the whole of `/sys/class/nvme` while no connect
/// runs and nothing else is awaited (retries pending, say): something
/// outside (udev autoconnect, an administrator) may have connected a
/// wanted controller, which is then adopted. `--once` has no kernel
/// events to tell it; a scan costs a dozen reads per controller.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// One output line (stable format, parsed by scripts):
/// `live nvmeN <id> connected|adopted cntlid=N` or `failed - <id> <reason>`.
pub fn line(s: &Status) -> String {
    match (&s.device, s.is_live()) {
        (Some(dev), true) => {
            let how = match s.how {
                Some(How::Connected(_)) => "connected",
                Some(How::Adopted) | None => "adopted",
            };
            format!("live {dev} {} {how} cntlid={}", s.id, s.cntlid.unwrap_or(0))
        }
        (Some(dev), false) => format!(
            "failed {dev} {} not live (kernel state {})",
            s.id,
            s.state.as_deref().unwrap_or("unknown: the device vanished")
        ),
        (None, _) => {
            let why = match (&s.last_error, s.connecting) {
                (Some(e), _) => e.clone(),
                (None, true) => "connect still in progress".to_string(),
                (None, false) => "not attempted".to_string(),
            };
            let tries = if s.attempts > 1 {
                format!(" ({} attempts)", s.attempts)
            } else {
                String::new()
            };
            format!("failed - {} {why}{tries}", s.id)
        }
    }
}

/// Run to completion within `budget`; print to `out`; return the exit code.
pub fn run(engine: &mut Engine, budget: Duration, out: &mut dyn Write) -> u8 {
    run_boot(engine, None, &|_| None, budget, Policy::default(), out)
}

/// [`run`] with discovery: `merge(discovered)` gives the whole wanted set
/// when the discovered controllers changed (`None`: keep the engine's).
pub fn run_boot(
    engine: &mut Engine,
    mut disc: Option<&mut Discoverer>,
    merge: &dyn Fn(Vec<Wanted>) -> Option<Vec<Wanted>>,
    budget: Duration,
    policy: Policy,
    out: &mut dyn Write,
) -> u8 {
    let deadline = later(Instant::now(), budget);
    let mut first_live: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if let Some(d) = disc.as_deref_mut() {
            if d.step(now) {
                if let Some(w) = merge(d.wanted()) {
                    engine.set_wanted(w);
                }
            }
        }
        engine.step(now);
        let st = engine.status();
        let all_live = st.iter().all(Status::is_live);
        if first_live.is_none() && st.iter().any(Status::is_live) {
            first_live = Some(now);
        }
        let (disc_read, disc_tried, disc_busy) = disc.as_deref().map_or((true, true, false), |d| {
            (d.all_read(), d.tried(), d.in_flight() > 0)
        });
        let round_done = disc_tried
            && st
                .iter()
                .all(|s| s.is_live() || s.attempts > 0 || (s.device.is_some() && !s.connecting));
        let done = match policy.wait {
            Wait::All => all_live && disc_read,
            Wait::None => round_done,
            Wait::Root => {
                (all_live && disc_read)
                    || (round_done && first_live.is_some_and(|t| now >= later(t, policy.grace)))
            }
        };
        if done || now >= deadline {
            break;
        }
        // Wake on a finished connect, a due retry, or (while something sits
        // in the kernel without being live, or discovery runs) a short poll.
        let waiting_kernel = st.iter().any(|s| s.device.is_some() && !s.is_live());
        let mut until = engine.next_wake().unwrap_or(deadline).min(deadline);
        if let Some(t) = disc.as_deref().and_then(Discoverer::next_wake) {
            until = until.min(t);
        }
        if let Some(t) = first_live.filter(|_| policy.wait == Wait::Root) {
            until = until.min(later(t, policy.grace).max(now));
        }
        if waiting_kernel || disc_busy {
            until = until.min(now + SETTLE_POLL);
        } else if engine.in_flight() == 0 {
            until = until.min(now + IDLE_POLL);
        }
        if !engine.wait(until) {
            if waiting_kernel {
                engine.refresh_unsettled();
            } else if !disc_busy {
                engine.refresh();
            }
        }
    }
    let st = engine.status();
    for s in &st {
        let _ = writeln!(out, "{}", line(s));
    }
    let mut failed_dcs = 0;
    if let Some(d) = disc.as_deref() {
        for s in d.status().iter().filter(|s| !s.ok) {
            failed_dcs += 1;
            let why = s.last_error.as_deref().unwrap_or("not read in time");
            let _ = writeln!(out, "failed - {} discovery: {why}", s.id);
        }
    }
    let live = st.iter().filter(|s| s.is_live()).count();
    match (live, st.len() + failed_dcs) {
        (l, n) if l == n => exit::OK,
        (0, _) => exit::NONE_LIVE,
        _ => exit::SOME_MISSING,
    }
}
