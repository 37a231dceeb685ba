//! Everything that talks to the NVMe host driver: `/dev/nvme-fabrics`
//! (connect, supported options), `/sys/class/nvme` (scan, delete), and admin
//! commands on a controller's `/dev/nvmeN` (the discovery log page).

pub mod admin;
pub mod fabrics;
pub mod probe;
pub mod sysfs;
pub mod worker;
