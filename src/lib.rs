//! stacd: the NVMe-over-Fabrics I/O controller connector of nvme-stas, as one
//! small static binary. See docs/design.md and the module docs below;
//! data flows one way: inputs → desired set → kernel scan → plan → apply.

/// `println!` that never panics: Rust ignores SIGPIPE, so `println!` on a
/// closed stdout (`stacd --version | head -n 0`, a reader that went away)
/// would panic, and with panic=abort end the program with SIGABRT. Output
/// to a reader that left is simply dropped.
#[macro_export]
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// `print!` that never panics (see [`say!`]).
#[macro_export]
macro_rules! say_raw {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($t)*);
    }};
}

/// `eprintln!` that never panics on a closed stderr.
#[macro_export]
macro_rules! say_err {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

/// The version `stacd --version` and `stacctl --version` print; here, at
/// the root, so that `stacctl` (dbus::ctl) does not reach into the command
/// line it is called from.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub mod app;
pub mod base;
#[cfg(feature = "dbus")]
pub mod dbus;
pub mod desired;
pub mod kernel;
pub mod model;
pub mod reconcile;
pub mod sources;
