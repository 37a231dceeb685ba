//! `stacd --once`: connect everything wanted in parallel, wait until each
//! controller is live or the budget is spent, print one line per
//! controller, exit with a code that says how it went (see [`crate::exit`]).
//!
//! For boot scripts: bounded in time, never disconnects anything, records
//! what it connected in the state file so the daemon adopts it later.

use crate::engine::{Engine, How, Status};
use crate::exit;
use std::io::Write;
use std::time::{Duration, Instant};

/// How often to look at the kernel while a controller is present but not
/// yet live (the kernel is reconnecting it): short, the command is brief.
const SETTLE_POLL: Duration = Duration::from_millis(100);

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
    let deadline = Instant::now() + budget;
    loop {
        let now = Instant::now();
        engine.step(now);
        let st = engine.status();
        let all_live = st.iter().all(Status::is_live);
        if all_live || now >= deadline {
            break;
        }
        // Wake on a finished connect, a due retry, or (while something sits
        // in the kernel without being live) a short settle poll.
        let waiting_kernel = st.iter().any(|s| s.device.is_some() && !s.is_live());
        let mut until = engine.next_wake().unwrap_or(deadline).min(deadline);
        if waiting_kernel || engine.in_flight() == 0 {
            until = until.min(now + SETTLE_POLL);
        }
        if !engine.wait(until) {
            engine.refresh();
        }
    }
    let st = engine.status();
    for s in &st {
        let _ = writeln!(out, "{}", line(s));
    }
    let live = st.iter().filter(|s| s.is_live()).count();
    match (live, st.len()) {
        (l, n) if l == n => exit::OK,
        (0, _) => exit::NONE_LIVE,
        _ => exit::SOME_MISSING,
    }
}
