//! Where wanted controllers come from, each turned into data the desired
//! set merges: stacd.conf and the host identity ([`config`]), the boot
//! (kernel command line, NBFT, hand-off, and the boot network: [`boot`]),
//! stafd's log pages ([`stafd`]; following stafd on the bus is in
//! `dbus::stafd`, the only code that uses zbus) and our own discovery
//! controllers ([`discovery`]).

pub mod boot;
pub mod config;
pub mod discovery;
pub mod stafd;
