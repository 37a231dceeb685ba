//! Everything that talks to the NVMe host driver: `/dev/nvme-fabrics`
//! (connect, supported options), `/sys/class/nvme` (scan, delete), and admin
//! commands on a controller's `/dev/nvmeN` (the discovery log page), and
//! the rest of what stacd asks the kernel: uevents ([`uevent`]), interfaces
//! and addresses over rtnetlink ([`netif`], and configuring them:
//! [`netcfg`]), the TCP probe ([`probe`]) and threads with signals blocked
//! ([`worker`]).

pub mod admin;
pub mod fabrics;
#[cfg(any(test, feature = "test-support"))]
pub mod fake;
pub mod netcfg;
pub mod netif;
pub mod probe;
pub mod sysfs;
pub mod uevent;
pub mod worker;
