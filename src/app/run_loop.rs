//! The loop core, one for both modes: the daemon ([`crate::app::daemon`])
//! runs it until it is stopped, `--once` ([`crate::app::once`]) until its
//! deadline or its wait policy says it is done (docs/design.md §A1 "One
//! poll loop", §A3).
//!
//! A turn is always the same sequence: the mode's own inputs
//! ([`Mode::before`]: signals, D-Bus), discovery's finished reads and the
//! discovery controllers it needs, every source merged into the desired
//! set ([`Mode::merge`]), one engine step (scan, plan, apply: I/O and
//! discovery controllers alike), the reads that are due on the devices the
//! engine holds, the mode's look at the result ([`Mode::after`]). Between
//! turns one `poll(2)` waits on the wake pipe (finished connects and
//! discovery jobs, signals; docs/design.md §A2 rule 6) and the mode's
//! descriptors, until the earliest deadline of the engine, discovery, the
//! mode and the run: nothing wakes up when nothing changes.

use crate::reconcile::engine::Engine;
use crate::sources::discovery::Discoverer;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fd::BorrowedFd;
use rustix::io::Errno;
use std::time::Instant;

/// What a mode adds to the core: its parts (the engine, discovery, the
/// wake pipe), its descriptors, and its hooks at fixed points of a turn.
pub trait Mode {
    fn engine(&mut self) -> &mut Engine;
    /// The engine and discovery together (discovery steps against the
    /// engine: it says which discovery controllers it needs, and reads
    /// from the devices the engine holds).
    fn parts(&mut self) -> (&mut Engine, Option<&mut Discoverer>);
    /// The wake pipe's read end.
    fn pipe(&self) -> BorrowedFd<'_>;
    /// Descriptors to poll besides the wake pipe, in an order
    /// [`Mode::woke`] knows.
    fn fds(&self) -> Vec<BorrowedFd<'_>> {
        Vec::new()
    }
    /// Start of a turn; false ends the run before anything steps.
    fn before(&mut self, _now: Instant) -> bool {
        true
    }
    /// After discovery stepped (`found`: what its pages list changed):
    /// bring the engine's desired set up to date.
    fn merge(&mut self, now: Instant, found: bool);
    /// After the engine stepped: true ends the run.
    fn after(&mut self, _now: Instant) -> bool {
        false
    }
    /// The mode's own next deadline, besides the engine's and discovery's.
    fn next_wake(&mut self, _now: Instant) -> Option<Instant> {
        None
    }
    /// After the poll: `ready[i]` for the `i`-th of [`Mode::fds`];
    /// `woke`: anything at all ended the wait before its timeout.
    fn woke(&mut self, _ready: &[bool], _woke: bool) {}
}

/// Run turns until the mode ends the run or `deadline` has passed.
/// Generic rather than `dyn`: with `dyn`, the two modes' vtables pushed
/// the read-only segment of the full binary over a page boundary (4 KiB
/// more, over ci/size-budget); the loop's two copies fit in the slack of
/// the text segment (measured: same file sizes as before the core).
pub fn run<M: Mode>(m: &mut M, deadline: Option<Instant>) {
    loop {
        let now = Instant::now();
        if !m.before(now) {
            break;
        }
        let found = match m.parts() {
            (e, Some(d)) => d.step(now, e),
            (_, None) => false,
        };
        m.merge(now, found);
        let (engine, disc) = m.parts();
        engine.step(now);
        if let Some(d) = disc {
            d.start_reads(now, engine);
        }
        if m.after(now) || deadline.is_some_and(|t| now >= t) {
            break;
        }
        let disc = m.parts().1.and_then(|d| d.next_wake());
        let until = [m.engine().next_wake(), disc, m.next_wake(now), deadline]
            .into_iter()
            .flatten()
            .min();
        let (ready, woke) = wait(&*m, until);
        m.woke(&ready, woke);
    }
}

/// Poll the wake pipe and the mode's descriptors until `until` (forever
/// when `None`); drain the pipe. Returns which of the mode's descriptors
/// are ready, and whether anything was.
fn wait<M: Mode>(m: &M, until: Option<Instant>) -> (Vec<bool>, bool) {
    let timeout = until.map(|t| {
        let d = t.saturating_duration_since(Instant::now());
        Timespec {
            tv_sec: d.as_secs().min(i32::MAX as u64) as _,
            // Round up so the deadline has passed when poll returns.
            tv_nsec: (d.subsec_nanos() + 999_999).min(999_999_999) as _,
        }
    });
    let pipe = m.pipe();
    let extra = m.fds();
    let mut fds = vec![PollFd::from_borrowed_fd(pipe, PollFlags::IN)];
    fds.extend(
        extra
            .iter()
            .map(|fd| PollFd::from_borrowed_fd(*fd, PollFlags::IN)),
    );
    let n = match poll(&mut fds, timeout.as_ref()) {
        Ok(n) => n,
        Err(Errno::INTR) => 0,
        Err(e) => {
            log::error!("poll failed: {e}");
            std::thread::sleep(std::time::Duration::from_millis(100));
            0
        }
    };
    if fds[0].revents().contains(PollFlags::IN) {
        let mut b = [0u8; 64];
        while matches!(rustix::io::read(pipe, &mut b), Ok(64)) {}
    }
    let ready = fds[1..].iter().map(|f| !f.revents().is_empty()).collect();
    (ready, n > 0)
}
