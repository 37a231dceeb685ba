//! Does a kernel controller serve a wanted identity? nvme-stas's adoption
//! rules (stacd-spec.md §4.4), as a pure function over an identity, a
//! [`crate::kernel::sysfs::KernelCtrl`] and the interface table.

use crate::identity::Identity;
use crate::kernel::sysfs::KernelCtrl;
use crate::netif::IfAddrs;

/// Interim: exact transport/port/NQNs and IP-equal traddr.
pub fn matches(want: &Identity, dev: &KernelCtrl, _net: &IfAddrs) -> bool {
    let ip = |s: &str| crate::desired::parse_ip(s);
    want.transport.as_str() == dev.transport
        && want.trsvcid.as_str() == dev.trsvcid
        && want.subsysnqn.as_str() == dev.subsysnqn
        && (dev.hostnqn.is_empty() || want.host_nqn.as_str() == dev.hostnqn)
        && match (ip(&want.traddr), ip(&dev.traddr)) {
            (Some(a), Some(b)) => a == b,
            _ => want.traddr.eq_ignore_ascii_case(&dev.traddr),
        }
}
