//! stacd: the NVMe-over-Fabrics I/O controller connector of nvme-stas, as one
//! small static binary. See DESIGN notes in docs/ and the module docs below;
//! data flows one way: inputs → desired set → kernel scan → plan → apply.

pub mod config;
pub mod identity;
pub mod kernel;
pub mod matching;
pub mod nbft;
pub mod netif;
pub mod root;
pub mod secret;
pub mod desired;
pub mod params;
pub mod plan;
pub mod state;
pub mod engine;
pub mod cli;
pub mod daemon;
pub mod exit;
pub mod logging;
pub mod notify;
pub mod once;
pub mod uevent;
