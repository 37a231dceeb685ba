//! The edges a user starts: the command line ([`cli`]: argv, setup, the
//! one-shot modes), the daemon ([`daemon`]) and `--once` ([`once`]), both
//! on one loop core ([`run_loop`]), and the exit codes, in one place
//! ([`exit`]).

pub mod bus;
pub mod cli;
pub mod daemon;
pub mod edge;
pub mod exit;
pub mod once;
pub mod run_loop;
