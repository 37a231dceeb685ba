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
use crate::app::run_loop;
use crate::desired::Wanted;
use crate::model::identity::Identity;
use crate::reconcile::engine::{later, Engine, How, Status};
use crate::sources::boot::cmdline::Wait;
use crate::sources::discovery::Discoverer;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
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

/// [`run_boot`] with a [`Side`], on the loop core
/// ([`crate::app::run_loop`]): it polls the engine's wake pipe (finished
/// connects and discovery jobs write to it) and the side's descriptors,
/// with the timeout set to the next deadline.
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
    let pipe = match rustix::pipe::pipe_with(
        rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
    ) {
        Ok((r, w)) => {
            let w = Arc::new(w);
            engine.set_waker(w.clone());
            if let Some(d) = disc.as_deref_mut() {
                d.set_waker(w);
            }
            r
        }
        // Out of descriptors: no worker could report back either.
        Err(e) => {
            log::error!("cannot set up the event loop: {e}");
            return exit::RUNTIME;
        }
    };
    let mut run = Once {
        engine,
        disc,
        side,
        policy,
        pipe,
        started: false,
        first_live: None,
        waiting_kernel: false,
        disc_busy: false,
    };
    run_loop::run(&mut run, Some(deadline));
    let Once {
        engine, disc, side, ..
    } = run;
    // A discovery controller connected for a page that was not read in
    // time goes too: `--once` leaves none of its own behind.
    engine.drop_discovery(Instant::now());
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

/// `--once` on the loop core: the engine, discovery and the side, and
/// what the wait policy needs to remember between turns.
struct Once<'a, 'b> {
    engine: &'a mut Engine,
    disc: Option<&'a mut Discoverer>,
    side: &'b mut dyn Side,
    policy: Policy,
    pipe: OwnedFd,
    /// The side has had its first step (the network, the link gates),
    /// before anything starts.
    started: bool,
    first_live: Option<Instant>,
    /// Something sits in the kernel without being live (the last turn).
    waiting_kernel: bool,
    /// Discovery has a job in flight (the last turn).
    disc_busy: bool,
}

impl run_loop::Mode for Once<'_, '_> {
    fn engine(&mut self) -> &mut Engine {
        self.engine
    }

    fn parts(&mut self) -> (&mut Engine, Option<&mut Discoverer>) {
        (self.engine, self.disc.as_deref_mut())
    }

    fn pipe(&self) -> BorrowedFd<'_> {
        self.pipe.as_fd()
    }

    fn fds(&self) -> Vec<BorrowedFd<'_>> {
        self.side.fds()
    }

    fn before(&mut self, now: Instant) -> bool {
        if !std::mem::replace(&mut self.started, true) {
            self.side
                .step(now, self.engine, self.disc.as_deref_mut(), None);
        }
        true
    }

    fn merge(&mut self, now: Instant, found: bool) {
        let discovered = found.then(|| self.disc.as_deref().map(Discoverer::wanted));
        self.side.step(
            now,
            self.engine,
            self.disc.as_deref_mut(),
            discovered.flatten(),
        );
    }

    fn after(&mut self, now: Instant) -> bool {
        let (engine, policy) = (&*self.engine, self.policy);
        let st = engine.status();
        let missing = self.side.missing();
        let all_live = st.iter().all(Status::is_live) && missing.is_empty();
        if self.first_live.is_none() && st.iter().any(Status::is_live) {
            self.first_live = Some(now);
        }
        let (disc_read, disc_tried, disc_busy) =
            self.disc.as_deref().map_or((true, true, false), |d| {
                let busy = d.in_flight() + engine.dc_in_flight() > 0;
                (d.all_read(), d.tried(), busy)
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
                    || (round_done
                        && self
                            .first_live
                            .is_some_and(|t| now >= later(t, policy.grace)))
            }
        };
        self.waiting_kernel = st.iter().any(|s| s.device.is_some() && !s.is_live());
        self.disc_busy = disc_busy;
        (done && self.side.settled()) || self.side.stopped()
    }

    /// Wake on the side's deadline, the end of the grace period, or
    /// (while something sits in the kernel without being live, or
    /// discovery runs) a short poll.
    fn next_wake(&mut self, now: Instant) -> Option<Instant> {
        let grace = self
            .first_live
            .filter(|_| self.policy.wait == Wait::Root)
            .map(|t| later(t, self.policy.grace).max(now));
        let poll = if self.waiting_kernel || self.disc_busy {
            Some(SETTLE_POLL)
        } else if self.engine.in_flight() == 0 {
            Some(IDLE_POLL)
        } else {
            None
        };
        [self.side.next_wake(), grace, poll.map(|p| now + p)]
            .into_iter()
            .flatten()
            .min()
    }

    fn woke(&mut self, _: &[bool], woke: bool) {
        if !woke {
            if self.waiting_kernel {
                self.engine.refresh_unsettled();
            } else if !self.disc_busy {
                self.engine.refresh();
            }
        }
    }
}
