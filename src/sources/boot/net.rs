//! The network side of a boot run and of the daemon: the rtnetlink watch
//! (links and addresses, [`crate::kernel::netif::Watch`]) and, with `--boot-net`,
//! the bring-up of the NBFT's host fabric interfaces ([`crate::kernel::netcfg`],
//! [`crate::sources::boot::dhcp`]). Driven from the caller's poll loop: [`NetBoot::fds`],
//! [`NetBoot::next_wake`], [`NetBoot::step`]. No thread.
//!
//! Bring-up of one HFI, repeated on every change until done (each step is
//! idempotent, so a second `stacd --once` of the same boot finds the work
//! done): find the NIC by MAC (never by name); set it up; for a VLAN, find
//! or create the VLAN device on it (`NIC.VID`) and set it up; then the
//! static address (and the default route through the gateway, with the
//! HFI's route metric), or DHCP once the link has a carrier. An HFI whose
//! MAC names no interface waits (a NIC driver may load late) and says so.
//!
//! A NIC is left alone until udev has seen it (when udevd runs): udev may
//! rename it (`eth0` → `enp0s1`), which the kernel refuses once it is up
//! (net/core/dev.c, dev_change_name: EBUSY), and the real root's network
//! configuration expects the name udev gives. "Seen": udev's database has
//! the device (`/run/udev/data/n<ifindex>`), or it was renamed, or
//! [`UDEV_WAIT`] has passed since it appeared (udev may keep no record).

use crate::kernel::netcfg::{self, HfiNet, Mode};
use crate::kernel::netif::{IfAddrs, IfInfo, Watch};
use crate::sources::boot::dhcp;
use rustix::fd::BorrowedFd;
use std::net::IpAddr;
use std::time::Instant;

/// How long a NIC waits for udev at most ([`NetBoot`]).
pub const UDEV_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// linux/netdevice.h: the kernel named the device (`eth0`), no one else.
const NET_NAME_ENUM: u8 = 1;

#[derive(Debug)]
struct Bring {
    net: HfiNet,
    /// The interface configured (the NIC or its VLAN device).
    dev: Option<String>,
    done: bool,
    vlan_asked: bool,
    waiting_udev: bool,
    /// The last state said in the log, so each is said once.
    said: String,
    error: Option<String>,
    dhcp: Option<dhcp::Client>,
}

/// What a step saw.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// The interface table changed (read again).
    pub table: bool,
    /// Interfaces that gained a link or an address.
    pub up: Vec<String>,
}

#[derive(Debug)]
pub struct NetBoot {
    watch: Option<Watch>,
    ifs: IfAddrs,
    brings: Vec<Bring>,
    first: bool,
    /// `/run/udev` and `/sys/class/net` under the root.
    udev: std::path::PathBuf,
    class_net: std::path::PathBuf,
    /// When each NIC (by index) was first seen.
    seen: std::collections::HashMap<u32, Instant>,
}

/// Interfaces of `new` that have a link now and had none in `old`, or that
/// have an address they did not have.
fn gained(old: &IfAddrs, new: &IfAddrs) -> Vec<String> {
    new.ifaces
        .iter()
        .filter(|n| n.has_link())
        .filter(|n| match old.ifaces.iter().find(|o| o.index == n.index) {
            None => true,
            Some(o) => {
                !o.has_link()
                    || n.v4.iter().any(|a| !o.v4.contains(a))
                    || n.v6.iter().any(|a| !o.v6.contains(a))
            }
        })
        .map(|n| n.name.clone())
        .collect()
}

impl NetBoot {
    /// The watch (unless it cannot be opened: then changes are seen only
    /// when something else wakes the loop), and the HFIs to bring up.
    pub fn new(root: &crate::base::root::Root, configure: Vec<HfiNet>) -> NetBoot {
        let watch = match Watch::open() {
            Ok(w) => Some(w),
            Err(e) => {
                log::warn!(
                    "cannot watch network links (rtnetlink: {e}); link changes are seen late"
                );
                None
            }
        };
        for n in &configure {
            log::info!("network from the NBFT: {}", n.describe());
        }
        NetBoot {
            watch,
            ifs: IfAddrs::load().unwrap_or_default(),
            brings: configure
                .into_iter()
                .map(|net| Bring {
                    net,
                    dev: None,
                    done: false,
                    vlan_asked: false,
                    waiting_udev: false,
                    said: String::new(),
                    error: None,
                    dhcp: None,
                })
                .collect(),
            first: true,
            udev: root.path("run/udev"),
            class_net: root.path("sys/class/net"),
            seen: std::collections::HashMap::new(),
        }
    }

    /// udev is done with `nic`, or is not running (module documentation).
    fn udev_done(&mut self, nic: &IfInfo, now: Instant) -> bool {
        if !self.udev.join("control").exists() {
            return true;
        }
        let first = *self.seen.entry(nic.index).or_insert(now);
        if self.udev.join(format!("data/n{}", nic.index)).exists() || now >= first + UDEV_WAIT {
            return true;
        }
        let assign =
            std::fs::read_to_string(self.class_net.join(&nic.name).join("name_assign_type"));
        matches!(assign.map(|t| t.trim().parse::<u8>()), Ok(Ok(t)) if t != NET_NAME_ENUM)
    }

    /// The interface table as last read.
    pub fn ifaddrs(&self) -> &IfAddrs {
        &self.ifs
    }

    pub fn fds(&self) -> Vec<BorrowedFd<'_>> {
        let mut v: Vec<BorrowedFd<'_>> = self.watch.iter().map(Watch::fd).collect();
        v.extend(self.brings.iter().filter_map(|b| b.dhcp.as_ref()?.fd()));
        v
    }

    pub fn next_wake(&self) -> Option<Instant> {
        let dhcp = self
            .brings
            .iter()
            .filter_map(|b| b.dhcp.as_ref().filter(|_| !b.done)?.next_wake());
        // A NIC waiting for udev: look again soon (no event says "udev is
        // done").
        let udev = self
            .brings
            .iter()
            .filter(|b| !b.done && b.waiting_udev)
            .filter_map(|b| self.ifs.nic_by_mac(b.net.mac))
            .filter_map(|n| self.seen.get(&n.index))
            .map(|t| (*t + UDEV_WAIT).min(Instant::now() + std::time::Duration::from_millis(200)));
        dhcp.chain(udev).min()
    }

    /// Every HFI is configured (or failed for good), or waits for a NIC
    /// that is not there: a run may end without leaving an interface half
    /// done (created but without its address) for the real root, where
    /// nothing would finish it.
    pub fn settled(&self) -> bool {
        self.brings
            .iter()
            .all(|b| b.done || self.ifs.nic_by_mac(b.net.mac).is_none())
    }

    /// Read the watch, the table when it changed, bring HFIs up, step DHCP.
    pub fn step(&mut self, now: Instant) -> Changes {
        let mut table = std::mem::take(&mut self.first);
        if let Some(w) = self.watch.as_mut() {
            table |= w.read();
        }
        let mut up = Vec::new();
        if table {
            match IfAddrs::load() {
                Ok(n) => {
                    up = gained(&self.ifs, &n);
                    for u in &up {
                        let had = self.ifs.by_name(u).is_some_and(IfInfo::has_link);
                        if had {
                            log::debug!("{u}: new address");
                        } else {
                            // The moment the tests measure from (ci/netboot).
                            log::info!("{u}: link up");
                        }
                    }
                    self.ifs = n;
                }
                Err(e) => log::warn!("cannot read the interface table: {e}"),
            }
        }
        for i in 0..self.brings.len() {
            if !self.brings[i].done {
                self.bring(i, now);
            }
        }
        Changes { table, up }
    }

    fn say(b: &mut Bring, what: String, warn: bool) {
        if b.said != what {
            if warn {
                log::warn!("{}: {what}", b.net.what);
            } else {
                log::info!("{}: {what}", b.net.what);
            }
            b.said = what;
        }
    }

    fn fail(b: &mut Bring, what: String) {
        Self::say(b, what.clone(), true);
        b.error = Some(what);
        b.done = true;
    }

    fn bring(&mut self, i: usize, now: Instant) {
        let mac = netcfg::mac_text(&self.brings[i].net.mac);
        let Some(nic) = self.ifs.nic_by_mac(self.brings[i].net.mac).cloned() else {
            let b = &mut self.brings[i];
            b.error = Some(format!("no network interface has the MAC {mac}"));
            Self::say(
                b,
                format!("waiting: no network interface has the MAC {mac}"),
                true,
            );
            return;
        };
        let ready = self.udev_done(&nic, now);
        let ifs = &self.ifs;
        let b = &mut self.brings[i];
        b.error = None;
        b.waiting_udev = !ready;
        if !ready {
            Self::say(
                b,
                format!("{}: waiting for udev to name it", nic.name),
                false,
            );
            return;
        }
        if nic.flags & crate::kernel::netif::IFF_UP == 0 {
            if let Err(e) = netcfg::set_up(nic.index) {
                return Self::fail(b, format!("cannot set {} up: {e}", nic.name));
            }
        }
        let dev: IfInfo = if b.net.vlan == 0 {
            nic
        } else {
            match ifs.by_mac_vlan(b.net.mac, b.net.vlan) {
                Some(d) => d.clone(),
                None if !b.vlan_asked => {
                    let name = netcfg::vlan_name(&nic.name, b.net.vlan);
                    b.vlan_asked = true;
                    match netcfg::add_vlan(nic.index, &name, b.net.vlan) {
                        Ok(()) => Self::say(
                            b,
                            format!("{name}: VLAN {} on {} created", b.net.vlan, nic.name),
                            false,
                        ),
                        Err(e) => {
                            return Self::fail(
                                b,
                                format!(
                                    "cannot create VLAN {} on {} ({name}): {e}",
                                    b.net.vlan, nic.name
                                ),
                            )
                        }
                    }
                    // The new device shows in the table at the next change.
                    return;
                }
                None => return,
            }
        };
        if dev.flags & crate::kernel::netif::IFF_UP == 0 {
            if let Err(e) = netcfg::set_up(dev.index) {
                return Self::fail(b, format!("cannot set {} up: {e}", dev.name));
            }
        }
        b.dev = Some(dev.name.clone());
        match b.net.mode.clone() {
            Mode::Static {
                addr,
                prefix,
                gateway,
                onlink,
            } => {
                let has = match addr {
                    IpAddr::V4(a) => dev.v4.contains(&a),
                    IpAddr::V6(a) => dev.v6.contains(&a),
                };
                if !has {
                    if let Err(e) = netcfg::add_addr(dev.index, addr, prefix) {
                        return Self::fail(
                            b,
                            format!("cannot add {addr}/{prefix} to {}: {e}", dev.name),
                        );
                    }
                }
                if let Some(g) = gateway {
                    if let Err(e) = netcfg::add_default_route(dev.index, g, b.net.metric, onlink) {
                        return Self::fail(
                            b,
                            format!("cannot add the default route via {g} on {}: {e}", dev.name),
                        );
                    }
                }
                let via = gateway.map_or(String::new(), |g| format!(" via {g}"));
                b.done = true;
                Self::say(
                    b,
                    format!("{}: {addr}/{prefix}{via} configured", dev.name),
                    false,
                );
            }
            Mode::LinkOnly { why } => {
                b.done = true;
                Self::say(b, format!("{} up ({why})", dev.name), false);
            }
            Mode::Dhcp4 => {
                if !dev.has_link() {
                    Self::say(
                        b,
                        format!("{}: waiting for a link before DHCP", dev.name),
                        false,
                    );
                    return;
                }
                let client = b.dhcp.get_or_insert_with(|| {
                    let t = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.subsec_nanos());
                    let m = &b.net.mac;
                    let xid = t ^ u32::from_be_bytes([m[2], m[3], m[4], m[5]]);
                    dhcp::Client::new(&dev.name, b.net.mac, xid, now)
                });
                if let Some(l) = client.step(now) {
                    let addr = IpAddr::V4(l.addr);
                    if let Err(e) = netcfg::add_addr(dev.index, addr, l.prefix) {
                        return Self::fail(
                            b,
                            format!("cannot add {addr}/{} to {}: {e}", l.prefix, dev.name),
                        );
                    }
                    if let Some(g) = l.router {
                        let onlink = u32::from(g) >> (32 - u32::from(l.prefix.max(1)))
                            != u32::from(l.addr) >> (32 - u32::from(l.prefix.max(1)));
                        if let Err(e) = netcfg::add_default_route(
                            dev.index,
                            IpAddr::V4(g),
                            b.net.metric,
                            onlink,
                        ) {
                            return Self::fail(
                                b,
                                format!(
                                    "cannot add the default route via {g} on {}: {e}",
                                    dev.name
                                ),
                            );
                        }
                    }
                    let via = l.router.map_or(String::new(), |g| format!(" via {g}"));
                    b.done = true;
                    Self::say(
                        b,
                        format!(
                            "{}: {}/{}{via} configured (DHCP from {})",
                            dev.name, l.addr, l.prefix, l.server
                        ),
                        false,
                    );
                } else if let Some(e) = client.last_error.clone() {
                    Self::say(b, e, true);
                }
            }
        }
    }

    /// One line per HFI: what was done, or why not.
    pub fn report(&self) -> Vec<String> {
        self.brings
            .iter()
            .map(|b| {
                let state = match (&b.error, b.done, &b.dev) {
                    (Some(e), _, _) => format!("not configured: {e}"),
                    (None, true, Some(d)) => format!("configured on {d}"),
                    (None, _, Some(d)) => match &b.dhcp {
                        Some(c) => format!("{d}: {}", c.describe()),
                        None => format!("{d}: waiting for a link"),
                    },
                    (None, _, None) => "not configured yet".to_string(),
                };
                format!("{}; {state}", b.net.describe())
            })
            .collect()
    }

    /// For an interface name: the HFI configured on it, for reports.
    pub fn hfi_on(&self, dev: &str) -> Option<&HfiNet> {
        self.brings
            .iter()
            .find(|b| b.dev.as_deref() == Some(dev))
            .map(|b| &b.net)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface(index: u32, name: &str, flags: u32, v4: &[&str]) -> IfInfo {
        IfInfo {
            name: name.into(),
            index,
            flags,
            v4: v4.iter().map(|a| a.parse().unwrap()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn gained_links_and_addresses() {
        let up = crate::kernel::netif::IFF_UP | crate::kernel::netif::IFF_LOWER_UP;
        let old = IfAddrs::from_ifaces(vec![
            iface(1, "lo", up, &["127.0.0.1"]),
            iface(2, "eth0", crate::kernel::netif::IFF_UP, &[]),
            iface(3, "eth1", up, &[]),
        ]);
        let new = IfAddrs::from_ifaces(vec![
            iface(1, "lo", up, &["127.0.0.1"]),
            iface(2, "eth0", up, &[]),
            iface(3, "eth1", up, &["10.0.0.2"]),
            iface(4, "eth1.100", up, &[]),
            iface(5, "eth2", 0, &["10.9.9.9"]),
        ]);
        assert_eq!(gained(&old, &new), ["eth0", "eth1", "eth1.100"]);
        assert!(gained(&new, &new).is_empty());
    }
}
