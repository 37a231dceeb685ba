//! Does a kernel controller serve a wanted identity? nvme-stas's adoption
//! rules (stacd-spec.md §4.4), as a pure function over an identity, a
//! [`crate::kernel::sysfs::KernelCtrl`] and the interface table.
