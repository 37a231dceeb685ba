//! The edges a user starts: the command line ([`cli`]: argv, setup, the
//! one-shot modes), the daemon's poll loop ([`daemon`]), `--once`
//! ([`once`]) and the exit codes, in one place ([`exit`]).

pub mod bus;
pub mod cli;
pub mod daemon;
pub mod edge;
pub mod exit;
pub mod once;
pub mod run_loop;
