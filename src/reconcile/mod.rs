//! From the desired set to the kernel: does a kernel controller serve an
//! identity ([`matching`]), the pure planner ([`plan`]), the engine that
//! scans, plans, applies and retries ([`engine`]) and which controllers are
//! ours ([`state`]).

pub mod engine;
pub mod matching;
pub mod plan;
pub mod state;
