//! Everything that talks to the NVMe host driver: `/dev/nvme-fabrics`
//! (connect, supported options), `/sys/class/nvme` (scan, delete).

pub mod fabrics;
pub mod sysfs;
