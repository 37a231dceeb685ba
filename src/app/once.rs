//! `stacd --once`: connect everything wanted in parallel, wait until each
//! controller is live or the budget is spent, print one line per
//! controller, exit with a code that says how it went (see [`crate::app::exit`]).
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

use crate::app::exit;
use crate::desired::Wanted;
use crate::model::identity::Identity;
use crate::reconcile::engine::{later, Engine, How, Status};
use crate::sources::boot::cmdline::Wait;
use crate::sources::discovery::Discoverer;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fd::{BorrowedFd, OwnedFd};
use std::io::Write;
use std::sync::Arc;
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

/// What a boot run serves besides the engine and discovery: the network
/// (NBFT interfaces configured, the rtnetlink watch) and the wanted set
/// that depends on it. [`run_boot`] uses a plain one.
pub trait Side {
    /// Descriptors to poll besides the engine's wake pipe.
    fn fds(&self) -> Vec<BorrowedFd<'_>> {
        Vec::new()
    }
    /// When [`Side::step`] has work of its own.
    fn next_wake(&self) -> Option<Instant> {
        None
    }
    /// Every turn, before the engine steps: `discovered` is the discovery's
    /// wanted set when it changed. Sets the engine's wanted set when it
    /// changed, and tells it about links ([`Engine::links_changed`]).
    fn step(
        &mut self,
        now: Instant,
        engine: &mut Engine,
        disc: Option<&mut Discoverer>,
        discovered: Option<Vec<Wanted>>,
    );
    /// Paths that are wanted but cannot be tried (an NBFT HFI whose MAC
    /// names no interface).
    fn missing(&self) -> Vec<crate::sources::boot::MissingPath> {
        Vec::new()
    }
    /// The side's own work is done (the network is configured): the run
    /// does not end before, budget permitting.
    fn settled(&self) -> bool {
        true
    }
    /// More words about a controller for the report (where an NBFT path
    /// comes from).
    fn describe(&self, _id: &Identity) -> Option<String> {
        None
    }
    /// Asked to stop (SIGTERM, SIGINT): end the run now and report what
    /// there is, as at the end of the budget.
    fn stopped(&self) -> bool {
        false
    }
}

/// A [`Side`] that only merges discovered controllers into the wanted set.
struct Merge<'a>(&'a dyn Fn(Vec<Wanted>) -> Option<Vec<Wanted>>);

impl Side for Merge<'_> {
    fn step(
        &mut self,
        _: Instant,
        engine: &mut Engine,
        _: Option<&mut Discoverer>,
        discovered: Option<Vec<Wanted>>,
    ) {
        if let Some(w) = discovered.and_then(self.0) {
            engine.set_wanted(w);
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
    disc: Option<&mut Discoverer>,
    merge: &dyn Fn(Vec<Wanted>) -> Option<Vec<Wanted>>,
    budget: Duration,
    policy: Policy,
    out: &mut dyn Write,
) -> u8 {
    run_side(engine, disc, &mut Merge(merge), budget, policy, out)
}

/// Every wanted subsystem has a live path: its namespaces are there, and
/// more paths add redundancy, not data. `missing` are the subsystems of
/// paths that cannot be tried yet.
fn every_subsystem_live(st: &[Status], missing: &[crate::sources::boot::MissingPath]) -> bool {
    let live: std::collections::HashSet<&str> = st
        .iter()
        .filter(|s| s.is_live())
        .map(|s| s.id.subsysnqn.as_str())
        .collect();
    !live.is_empty()
        && st.iter().all(|s| live.contains(s.id.subsysnqn.as_str()))
        && missing.iter().all(|m| live.contains(m.subsysnqn.as_str()))
}

/// [`run_boot`] with a [`Side`]. The loop polls the engine's wake pipe
/// (finished connects and discovery jobs write to it) and the side's
/// descriptors, with the timeout set to the next deadline.
///
/// `rd.stacd.wait=root` ends the run as soon as every wanted subsystem has
/// a live path (the root's namespace is there whichever subsystem holds
/// it; the other paths are the service's to complete, and the grace
/// period is not charged), else after one round once a path has been live
/// for the grace period. A connect still in flight when the run ends is
/// interrupted by the exit (the kernel's socket connect waits
/// interruptibly, src/kernel/worker.rs) and recorded as failed.
pub fn run_side(
    engine: &mut Engine,
    mut disc: Option<&mut Discoverer>,
    side: &mut dyn Side,
    budget: Duration,
    policy: Policy,
    out: &mut dyn Write,
) -> u8 {
    let deadline = later(Instant::now(), budget);
    let mut first_live: Option<Instant> = None;
    let pipe = rustix::pipe::pipe_with(
        rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
    )
    .ok()
    .map(|(r, w)| {
        let w = Arc::new(w);
        engine.set_waker(w.clone());
        if let Some(d) = disc.as_deref_mut() {
            d.set_waker(w);
        }
        r
    });
    // The side first (the network, the link gates), before anything starts.
    side.step(Instant::now(), engine, disc.as_deref_mut(), None);
    loop {
        let now = Instant::now();
        let mut discovered = None;
        if let Some(d) = disc.as_deref_mut() {
            if d.step(now) {
                discovered = Some(d.wanted());
            }
        }
        side.step(now, engine, disc.as_deref_mut(), discovered);
        engine.step(now);
        let st = engine.status();
        let missing = side.missing();
        let all_live = st.iter().all(Status::is_live) && missing.is_empty();
        if first_live.is_none() && st.iter().any(Status::is_live) {
            first_live = Some(now);
        }
        let (disc_read, disc_tried, disc_busy) = disc.as_deref().map_or((true, true, false), |d| {
            (d.all_read(), d.tried(), d.in_flight() > 0)
        });
        // A path held for its link has had its round: nothing to try yet.
        let round_done = disc_tried
            && st.iter().all(|s| {
                s.is_live()
                    || s.attempts > 0
                    || (s.device.is_some() && !s.connecting)
                    || (!s.connecting && engine.link_held(&s.id).is_some())
            });
        let done = match policy.wait {
            Wait::All => all_live && disc_read,
            Wait::None => round_done,
            Wait::Root => {
                (all_live && disc_read)
                    || (disc_tried && !disc_busy && every_subsystem_live(&st, &missing))
                    || (round_done && first_live.is_some_and(|t| now >= later(t, policy.grace)))
            }
        };
        if (done && side.settled()) || now >= deadline || side.stopped() {
            break;
        }
        // Wake on a finished connect, a due retry, the side's deadline or
        // descriptors, or (while something sits in the kernel without being
        // live, or discovery runs) a short poll.
        let waiting_kernel = st.iter().any(|s| s.device.is_some() && !s.is_live());
        let mut until = engine.next_wake().unwrap_or(deadline).min(deadline);
        if let Some(t) = disc.as_deref().and_then(Discoverer::next_wake) {
            until = until.min(t);
        }
        if let Some(t) = side.next_wake() {
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
        let woke = match &pipe {
            Some(r) => wait(r, side, until),
            None => engine.wait(until),
        };
        if !woke {
            if waiting_kernel {
                engine.refresh_unsettled();
            } else if !disc_busy {
                engine.refresh();
            }
        }
    }
    let st = engine.status();
    for s in &st {
        match side.describe(&s.id).filter(|_| !s.is_live()) {
            Some(d) => {
                let _ = writeln!(out, "{} [{d}]", line(s));
            }
            None => {
                let _ = writeln!(out, "{}", line(s));
            }
        }
    }
    let missing = side.missing();
    for m in &missing {
        let _ = writeln!(out, "failed - {} {}", m.id, m.why);
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
    match (live, st.len() + failed_dcs + missing.len()) {
        (l, n) if l == n => exit::OK,
        (0, _) => exit::NONE_LIVE,
        _ => exit::SOME_MISSING,
    }
}

/// Poll the wake pipe and the side's descriptors until `until`; true when
/// something woke us (the pipe is drained).
fn wait(pipe: &OwnedFd, side: &dyn Side, until: Instant) -> bool {
    let left = until.saturating_duration_since(Instant::now());
    let timeout = Timespec {
        tv_sec: left.as_secs() as _,
        // Round up so the deadline has passed when poll returns.
        tv_nsec: (left.subsec_nanos() + 999_999).min(999_999_999) as _,
    };
    let extra = side.fds();
    let mut fds = vec![PollFd::new(pipe, PollFlags::IN)];
    fds.extend(
        extra
            .iter()
            .map(|fd| PollFd::from_borrowed_fd(*fd, PollFlags::IN)),
    );
    let n = poll(&mut fds, Some(&timeout)).unwrap_or(0);
    if fds[0].revents().contains(PollFlags::IN) {
        let mut b = [0u8; 64];
        while matches!(rustix::io::read(pipe, &mut b), Ok(64)) {}
    }
    n > 0
}
