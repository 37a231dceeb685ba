//! The one seam of the `dbus` feature in the core: [`Edge`] is
//! [`crate::dbus::Bus`] when the feature is on and a no-op with the same
//! methods when it is off (the initramfs build, docs/design.md §7), so the
//! loop ([`crate::app::daemon`]) and the command line carry no
//! `cfg(feature = "dbus")` of their own.

#[cfg(feature = "dbus")]
pub use crate::dbus::Bus as Edge;
#[cfg(not(feature = "dbus"))]
pub use off::Bus as Edge;

/// The `features:` part of `stacd --version`.
pub const FEATURES: &str = if cfg!(feature = "dbus") {
    " dbus"
} else {
    " (no dbus)"
};

/// `--idl`: the introspection XML of org.nvmexpress.stac (§6.3); `None`
/// when D-Bus is not built in.
pub fn idl() -> Option<String> {
    #[cfg(feature = "dbus")]
    return Some(crate::dbus::service::idl());
    #[cfg(not(feature = "dbus"))]
    None
}

/// `stacctl` (a link to this binary, docs/design.md §7).
pub fn stacctl(args: &[String]) -> u8 {
    #[cfg(feature = "dbus")]
    return crate::dbus::ctl::main(args);
    #[cfg(not(feature = "dbus"))]
    {
        let _ = args;
        crate::say_err!(
            "stacctl: D-Bus is not built into this binary (built without the dbus feature)"
        );
        crate::app::exit::RUNTIME
    }
}

#[cfg(not(feature = "dbus"))]
mod off {
    use crate::app::bus::{BusEvent, StateView};
    use crate::base::root::Root;
    use rustix::fd::{BorrowedFd, OwnedFd};
    use std::sync::Arc;

    /// No bus: nothing to watch, nothing to publish, never an event.
    #[derive(Debug)]
    pub struct Bus;

    impl Bus {
        pub fn new(_: &Root, _: Arc<OwnedFd>) -> Bus {
            Bus
        }
        pub fn start(&mut self, _: &StateView) -> Result<Vec<BusEvent>, std::convert::Infallible> {
            Ok(Vec::new())
        }
        pub fn watch_fd(&self) -> Option<BorrowedFd<'_>> {
            None
        }
        pub fn on_watch(&mut self) {}
        pub fn drain(&mut self, _: &StateView) -> Vec<BusEvent> {
            Vec::new()
        }
        pub fn on_reload(&mut self, _: &StateView) -> Vec<BusEvent> {
            Vec::new()
        }
        pub fn publish(&mut self, _: &StateView) {}
    }
}
