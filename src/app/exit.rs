//! Exit codes, in one place (documented in stacd(8) and the README).
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (`--once`: every wanted controller is live) |
//! | 1 | cannot run: not root, no /dev/nvme-fabrics, I/O failure |
//! | 2 | bad usage or configuration (argv, a broken stacd.conf, no valid host NQN) |
//! | 3 | `--once`: some wanted controllers are not live |
//! | 4 | `--once`: none of the wanted controllers is live |

use std::fmt;

pub const OK: u8 = 0;
pub const RUNTIME: u8 = 1;
pub const USAGE: u8 = 2;
pub const SOME_MISSING: u8 = 3;
pub const NONE_LIVE: u8 = 4;

/// An error that ends the program, with its exit code.
#[derive(Debug)]
pub enum Fatal {
    /// Bad command line or configuration (exit 2).
    Usage(String),
    /// The program cannot do its job here (exit 1).
    Runtime(String),
}

impl Fatal {
    pub fn code(&self) -> u8 {
        match self {
            Fatal::Usage(_) => USAGE,
            Fatal::Runtime(_) => RUNTIME,
        }
    }
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fatal::Usage(m) | Fatal::Runtime(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Fatal {}
