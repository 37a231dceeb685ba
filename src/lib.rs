//! stacd: the NVMe-over-Fabrics I/O controller connector of nvme-stas, as one
//! small static binary. See DESIGN notes in docs/ and the module docs below;
//! data flows one way: inputs → desired set → kernel scan → plan → apply.

pub mod boot;
pub mod cli;
pub mod cmdline;
pub mod config;
pub mod daemon;
#[cfg(feature = "dbus")]
pub mod dbus;
pub mod desired;
pub mod discovery;
pub mod engine;
pub mod exit;
pub mod handoff;
pub mod identity;
pub mod json;
pub mod kernel;
pub mod logging;
pub mod logpage;
pub mod matching;
pub mod nbft;
pub mod netif;
pub mod notify;
pub mod once;
pub mod params;
pub mod plan;
pub mod root;
pub mod secret;
pub mod stafd;
pub mod state;
pub mod uevent;
