//! Network configuration from the NBFT's host fabric interfaces (HFIs),
//! done by stacd itself over rtnetlink: what each HFI asks for
//! ([`HfiNet::from_hfi`], a pure function), and the kernel requests that
//! do it ([`set_up`], [`add_vlan`], [`add_addr`], [`add_default_route`]).
//! Why stacd and not the image's network tool: docs/boot-integration.md,
//! "Network from the NBFT".
//!
//! Requests are built by hand from the kernel's uapi headers
//! (`linux/rtnetlink.h`, `linux/if_link.h`, `linux/if_addr.h`), each sent
//! on a fresh socket with NLM_F_ACK; the answer is the kernel's error code
//! (rtnetlink(7)). Addresses are added without a lifetime (permanent), so
//! they stay across switch_root.

use crate::sources::boot::nbft::Hfi;
// The netlink and rtnetlink numbers both modules use are netif's.
use crate::kernel::netif::{nlmsg, rta};
use crate::kernel::netif::{
    AF_INET, AF_INET6, IFA_ADDRESS, IFA_LOCAL, IFLA_IFNAME, IFLA_INFO_DATA, IFLA_INFO_KIND,
    IFLA_LINK, IFLA_LINKINFO, IFLA_VLAN_ID, NLM_F_REQUEST, RTM_NEWADDR, RTM_NEWLINK,
};
use rustix::net::{self, RecvFlags};
use std::io;
use std::net::IpAddr;

// linux/netlink.h
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_REPLACE: u16 = 0x100;
// linux/rtnetlink.h
const RTM_NEWROUTE: u16 = 24;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_BOOT: u8 = 3;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RTN_UNICAST: u8 = 1;
const RTNH_F_ONLINK: u32 = 4;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
// linux/if_link.h
const NLA_F_NESTED: u16 = 0x8000;
// linux/if_addr.h
const IFA_BROADCAST: u16 = 4;
const IFA_FLAGS: u16 = 8;
const IFA_F_NODAD: u32 = 0x02;
// linux/socket.h
/// IFNAMSIZ - 1 (linux/if.h).
const IFNAME_MAX: usize = 15;

/// A request message: header, family header `body`, attributes; the
/// kernel acknowledges it (NLM_F_ACK) with its error code.
fn message(ty: u16, flags: u16, body: &[u8]) -> Vec<u8> {
    nlmsg(ty, NLM_F_REQUEST | NLM_F_ACK | flags, 1, body)
}

/// Send one request and read the kernel's acknowledgement: its error code.
fn transact(msg: &[u8]) -> io::Result<()> {
    let fd = crate::kernel::netif::send_request(msg)?;
    let mut buf = vec![0u8; 8192];
    let (n, _) = net::recv(&fd, &mut buf[..], RecvFlags::empty())?;
    // walk() turns a negative NLMSG_ERROR code into that errno; an
    // acknowledgement (code 0) ends the walk.
    crate::kernel::netif::walk(&buf[..n.min(buf.len())], |_, _| {})?;
    Ok(())
}

/// struct ifinfomsg: family, pad, type, index, flags, change.
fn ifinfo(index: u32, flags: u32, change: u32) -> Vec<u8> {
    let mut b = vec![0u8, 0, 0, 0];
    b.extend_from_slice(&index.to_ne_bytes());
    b.extend_from_slice(&flags.to_ne_bytes());
    b.extend_from_slice(&change.to_ne_bytes());
    b
}

/// `ip link set INDEX up`.
pub fn set_up(index: u32) -> io::Result<()> {
    let up = crate::kernel::netif::IFF_UP;
    transact(&message(RTM_NEWLINK, 0, &ifinfo(index, up, up)))
}

/// The name of the VLAN device for VLAN `vid` on `parent`: `parent.vid`
/// as vconfig and dracut name it, or, when that is longer than an
/// interface name may be, `vlanVID`.
pub fn vlan_name(parent: &str, vid: u16) -> String {
    let n = format!("{parent}.{vid}");
    if n.len() <= IFNAME_MAX {
        n
    } else {
        format!("vlan{vid}")
    }
}

/// `ip link add link PARENT name NAME type vlan id VID up`. The kernel
/// loads 8021q itself for the "vlan" kind (rtnl-link-vlan alias,
/// net/core/rtnetlink.c), when modprobe and the module are in the image.
pub fn add_vlan(parent: u32, name: &str, vid: u16) -> io::Result<()> {
    let up = crate::kernel::netif::IFF_UP;
    let mut body = ifinfo(0, up, up);
    let mut n = name.as_bytes().to_vec();
    n.push(0);
    body.extend(rta(IFLA_IFNAME, &n));
    body.extend(rta(IFLA_LINK, &parent.to_ne_bytes()));
    let mut info = rta(IFLA_INFO_KIND, b"vlan\0");
    info.extend(rta(
        IFLA_INFO_DATA | NLA_F_NESTED,
        &rta(IFLA_VLAN_ID, &vid.to_ne_bytes()),
    ));
    body.extend(rta(IFLA_LINKINFO | NLA_F_NESTED, &info));
    transact(&message(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &body))
}

fn octets(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// The message [`add_addr`] sends (for tests).
fn addr_msg(index: u32, ip: IpAddr, prefix: u8) -> Vec<u8> {
    let family = if ip.is_ipv4() { AF_INET } else { AF_INET6 };
    // struct ifaddrmsg: family, prefixlen, flags, scope, index.
    let mut body = vec![family, prefix, 0, RT_SCOPE_UNIVERSE];
    body.extend_from_slice(&index.to_ne_bytes());
    body.extend(rta(IFA_LOCAL, &octets(ip)));
    body.extend(rta(IFA_ADDRESS, &octets(ip)));
    match ip {
        IpAddr::V4(a) if prefix < 31 => {
            let host = u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
            let brd = std::net::Ipv4Addr::from(u32::from(a) | host);
            body.extend(rta(IFA_BROADCAST, &brd.octets()));
        }
        // The firmware used this address already: no duplicate address
        // detection, so it can be used at once (a tentative address cannot
        // be a source; net/ipv6/addrconf.c).
        IpAddr::V6(_) => body.extend(rta(IFA_FLAGS, &IFA_F_NODAD.to_ne_bytes())),
        IpAddr::V4(_) => {}
    }
    message(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, &body)
}

/// `ip addr replace IP/PREFIX dev INDEX` (IPv4 with its broadcast address,
/// IPv6 with `nodad`), without a lifetime.
pub fn add_addr(index: u32, ip: IpAddr, prefix: u8) -> io::Result<()> {
    transact(&addr_msg(index, ip, prefix))
}

/// The message [`add_default_route`] sends (for tests).
fn route_msg(index: u32, gw: IpAddr, metric: u32, onlink: bool) -> Vec<u8> {
    let family = if gw.is_ipv4() { AF_INET } else { AF_INET6 };
    // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope,
    // type, flags (u32).
    let mut body = vec![
        family,
        0,
        0,
        0,
        RT_TABLE_MAIN,
        RTPROT_BOOT,
        RT_SCOPE_UNIVERSE,
        RTN_UNICAST,
    ];
    body.extend_from_slice(&(if onlink { RTNH_F_ONLINK } else { 0 }).to_ne_bytes());
    body.extend(rta(RTA_GATEWAY, &octets(gw)));
    body.extend(rta(RTA_OIF, &index.to_ne_bytes()));
    if metric != 0 {
        body.extend(rta(RTA_PRIORITY, &metric.to_ne_bytes()));
    }
    message(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &body)
}

/// `ip route add default via GW dev INDEX [metric M] [onlink]`; a route
/// that exists already (EEXIST) is fine.
pub fn add_default_route(index: u32, gw: IpAddr, metric: u32, onlink: bool) -> io::Result<()> {
    match transact(&route_msg(index, gw, metric, onlink)) {
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
        r => r,
    }
}

/// How an HFI's address is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// The address, prefix and gateway of the table.
    Static {
        addr: IpAddr,
        prefix: u8,
        gateway: Option<IpAddr>,
        /// The gateway is outside the prefix: the route says `onlink`.
        onlink: bool,
    },
    /// Ask a DHCPv4 server, as the firmware did.
    Dhcp4,
    /// Bring the link up only; the address comes from elsewhere (IPv6
    /// autoconfiguration by the kernel), or there is none to configure.
    LinkOnly { why: String },
}

/// What one HFI asks of the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HfiNet {
    /// "NBFT HFI 1" (with the table when there are several).
    pub what: String,
    pub index: u8,
    pub mac: [u8; 6],
    /// 0: none.
    pub vlan: u16,
    pub mode: Mode,
    /// The HFI's route metric, for its default route.
    pub metric: u32,
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn mac_text(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Whether `a` and `b` share the first `prefix` bits.
fn same_prefix(a: IpAddr, b: IpAddr, prefix: u8) -> bool {
    let (x, y) = match (a, b) {
        (IpAddr::V4(x), IpAddr::V4(y)) => (
            u128::from(u32::from(x)) << 96,
            u128::from(u32::from(y)) << 96,
        ),
        (IpAddr::V6(x), IpAddr::V6(y)) => (u128::from(x), u128::from(y)),
        _ => return false,
    };
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    x & mask == y & mask
}

impl HfiNet {
    /// What HFI `h` asks for; warnings (firmware quirks worked around) go
    /// to `notes`. `Err`: the HFI cannot be configured (the reason names
    /// the field).
    ///
    /// * DHCP Override set: DHCP (IPv4; an IPv6 HFI gets its link up and
    ///   the kernel's autoconfiguration, DHCPv6 is not done);
    /// * else an address: static, with the prefix and, when set, a default
    ///   route through the gateway with the HFI's route metric. A prefix of
    ///   0 is a firmware quirk seen for IPv6 (NetworkManager's NBFT reader
    ///   notes it): 64 for IPv6, 32 for IPv4, with a warning. A prefix
    ///   above 32/128 is refused. A gateway outside the prefix gets an
    ///   `onlink` route; a gateway equal to the address is ignored;
    /// * no address and no DHCP: the link is brought up only.
    pub fn from_hfi(h: &Hfi, what: &str, notes: &mut Vec<String>) -> Result<HfiNet, String> {
        let v6 = match (h.ip, h.dhcp_server) {
            (IpAddr::V6(a), _) if !a.is_unspecified() => true,
            (_, Some(IpAddr::V6(_))) => true,
            _ => false,
        };
        if h.vlan > 4094 {
            return Err(format!(
                "{what}: VLAN ID {} is out of range (1-4094)",
                h.vlan
            ));
        }
        let mode = if h.dhcp_override && !v6 {
            Mode::Dhcp4
        } else if h.dhcp_override {
            notes.push(format!(
                "{what}: DHCPv6 is not done by stacd; the link is brought up and the kernel's IPv6 autoconfiguration gives the address"
            ));
            Mode::LinkOnly {
                why: "DHCPv6 (not done; IPv6 autoconfiguration)".into(),
            }
        } else if h.ip.is_unspecified() {
            Mode::LinkOnly {
                why: "no address in the table".into(),
            }
        } else {
            let max = if h.ip.is_ipv4() { 32 } else { 128 };
            let mut prefix = h.subnet_mask_prefix;
            if prefix > max {
                return Err(format!(
                    "{what}: prefix length {prefix} is out of range for {} (0-{max})",
                    h.ip
                ));
            }
            if prefix == 0 {
                prefix = if h.ip.is_ipv4() { 32 } else { 64 };
                notes.push(format!(
                    "{what}: prefix length 0 for {} (a firmware quirk); using /{prefix}",
                    h.ip
                ));
            }
            let mut gateway = Some(h.gateway).filter(|g| !g.is_unspecified());
            if gateway.is_some_and(|g| g.is_ipv4() != h.ip.is_ipv4()) {
                notes.push(format!(
                    "{what}: gateway {} is not of the address's family; ignored",
                    h.gateway
                ));
                gateway = None;
            }
            if gateway == Some(h.ip) {
                notes.push(format!(
                    "{what}: gateway {} is the HFI's own address; ignored",
                    h.ip
                ));
                gateway = None;
            }
            let onlink = gateway.is_some_and(|g| !same_prefix(g, h.ip, prefix));
            if onlink {
                notes.push(format!(
                    "{what}: gateway {} is outside {}/{prefix}; routed on-link",
                    h.gateway, h.ip
                ));
            }
            Mode::Static {
                addr: h.ip,
                prefix,
                gateway,
                onlink,
            }
        };
        Ok(HfiNet {
            what: what.to_string(),
            index: h.index,
            mac: h.mac,
            vlan: h.vlan,
            mode,
            metric: u32::from(h.route_metric),
        })
    }

    /// One line: "NBFT HFI 1 (MAC aa:..., VLAN 100): 192.168.1.2/24 via
    /// 192.168.1.1" and so on.
    pub fn describe(&self) -> String {
        let vlan = if self.vlan != 0 {
            format!(", VLAN {}", self.vlan)
        } else {
            String::new()
        };
        let how = match &self.mode {
            Mode::Static {
                addr,
                prefix,
                gateway,
                ..
            } => match gateway {
                Some(g) => format!("{addr}/{prefix} via {g}"),
                None => format!("{addr}/{prefix}"),
            },
            Mode::Dhcp4 => "DHCP".to_string(),
            Mode::LinkOnly { why } => format!("link only ({why})"),
        };
        format!("{} (MAC {}{vlan}): {how}", self.what, mac_text(&self.mac))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn hfi(ip: &str, prefix: u8, gw: &str) -> Hfi {
        Hfi {
            index: 1,
            trtype: 3,
            pci_sbdf: 0,
            mac: [0x52, 0x54, 0, 0xaa, 0, 1],
            vlan: 0,
            ip_origin: 1,
            ip: ip.parse().unwrap(),
            subnet_mask_prefix: prefix,
            gateway: gw.parse().unwrap(),
            route_metric: 0,
            primary_dns: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            secondary_dns: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            dhcp_server: None,
            host_name: None,
            global_route: false,
            dhcp_override: false,
            flags: 1,
        }
    }

    fn plan(h: &Hfi) -> (Result<HfiNet, String>, Vec<String>) {
        let mut n = Vec::new();
        (HfiNet::from_hfi(h, "NBFT HFI 1", &mut n), n)
    }

    #[test]
    fn static_prefix_and_gateway_edge_cases() {
        let (r, n) = plan(&hfi("192.168.50.2", 24, "192.168.50.254"));
        let r = r.unwrap();
        assert!(n.is_empty());
        assert_eq!(
            r.mode,
            Mode::Static {
                addr: "192.168.50.2".parse().unwrap(),
                prefix: 24,
                gateway: Some("192.168.50.254".parse().unwrap()),
                onlink: false
            }
        );
        assert_eq!(
            r.describe(),
            "NBFT HFI 1 (MAC 52:54:00:aa:00:01): 192.168.50.2/24 via 192.168.50.254"
        );
        // No gateway (0.0.0.0), gateway outside, gateway = own address.
        let (r, _) = plan(&hfi("192.168.50.2", 24, "0.0.0.0"));
        assert!(matches!(
            r.unwrap().mode,
            Mode::Static { gateway: None, .. }
        ));
        let (r, n) = plan(&hfi("192.168.50.2", 24, "10.0.0.1"));
        assert!(matches!(r.unwrap().mode, Mode::Static { onlink: true, .. }));
        assert!(n[0].contains("outside"), "{n:?}");
        let (r, n) = plan(&hfi("192.168.50.2", 24, "192.168.50.2"));
        assert!(matches!(
            r.unwrap().mode,
            Mode::Static { gateway: None, .. }
        ));
        assert_eq!(n.len(), 1);
        // Prefix 0: 32 / 64; out of range: refused.
        let (r, n) = plan(&hfi("192.168.50.2", 0, "0.0.0.0"));
        assert!(matches!(r.unwrap().mode, Mode::Static { prefix: 32, .. }));
        assert!(n[0].contains("prefix length 0"));
        let (r, _) = plan(&hfi("fd00:51::2", 0, "::"));
        assert!(matches!(r.unwrap().mode, Mode::Static { prefix: 64, .. }));
        let (r, _) = plan(&hfi("192.168.50.2", 33, "0.0.0.0"));
        assert!(r.unwrap_err().contains("prefix length 33 is out of range"));
        let (r, _) = plan(&hfi("fd00:51::2", 129, "::"));
        assert!(r.is_err());
        // /32 with a gateway: on-link.
        let (r, _) = plan(&hfi("192.168.50.2", 32, "192.168.50.1"));
        assert!(matches!(r.unwrap().mode, Mode::Static { onlink: true, .. }));
        // IPv6 with an IPv4 gateway field (mapped zero is v4 here): ignored.
        let (r, n) = plan(&hfi("fd00:51::2", 64, "10.0.0.1"));
        assert!(matches!(
            r.unwrap().mode,
            Mode::Static { gateway: None, .. }
        ));
        assert!(n[0].contains("family"));
        let (r, _) = plan(&hfi("fd00:51::2", 64, "fd00:51::1"));
        assert!(matches!(
            r.unwrap().mode,
            Mode::Static { onlink: false, .. }
        ));
    }

    #[test]
    fn dhcp_link_only_and_vlan() {
        let mut h = hfi("192.168.50.9", 24, "0.0.0.0");
        h.dhcp_override = true;
        h.dhcp_server = Some("192.168.50.1".parse().unwrap());
        assert_eq!(plan(&h).0.unwrap().mode, Mode::Dhcp4);
        h.dhcp_server = Some("fd00::1".parse().unwrap());
        let (r, n) = plan(&h);
        assert!(matches!(r.unwrap().mode, Mode::LinkOnly { .. }));
        assert!(n[0].contains("DHCPv6"));
        let h = hfi("0.0.0.0", 0, "0.0.0.0");
        assert!(matches!(plan(&h).0.unwrap().mode, Mode::LinkOnly { .. }));
        let mut h = hfi("192.168.60.2", 24, "0.0.0.0");
        h.vlan = 100;
        let r = plan(&h).0.unwrap();
        assert_eq!(r.vlan, 100);
        assert!(r.describe().contains(", VLAN 100)"));
        h.vlan = 4095;
        assert!(plan(&h).0.is_err());
        assert_eq!(vlan_name("eth0", 100), "eth0.100");
        assert_eq!(vlan_name("enp0s20f0u1u2", 4000), "vlan4000");
    }

    #[test]
    fn messages() {
        let m = addr_msg(3, "192.168.50.2".parse().unwrap(), 24);
        assert_eq!(crate::kernel::netif::u16_at(&m, 4), Some(RTM_NEWADDR));
        assert_eq!(&m[16..20], &[AF_INET, 24, 0, 0]);
        assert_eq!(crate::kernel::netif::u32_at(&m, 20), Some(3));
        let attrs: Vec<(u16, Vec<u8>)> = crate::kernel::netif::attrs(&m[24..])
            .map(|(t, d)| (t, d.to_vec()))
            .collect();
        assert_eq!(attrs[0], (IFA_LOCAL, vec![192, 168, 50, 2]));
        assert_eq!(attrs[2], (IFA_BROADCAST, vec![192, 168, 50, 255]));
        let v6: Ipv6Addr = "fd00:51::2".parse().unwrap();
        let m = addr_msg(4, IpAddr::V6(v6), 64);
        let flags = crate::kernel::netif::attrs(&m[24..]).find(|(t, _)| *t == IFA_FLAGS);
        assert_eq!(
            flags.map(|(_, d)| d.to_vec()),
            Some(IFA_F_NODAD.to_ne_bytes().to_vec())
        );
        let r = route_msg(3, "192.168.50.1".parse().unwrap(), 500, true);
        assert_eq!(crate::kernel::netif::u16_at(&r, 4), Some(RTM_NEWROUTE));
        assert_eq!(crate::kernel::netif::u32_at(&r, 24), Some(RTNH_F_ONLINK));
        let kinds: Vec<u16> = crate::kernel::netif::attrs(&r[28..])
            .map(|(t, _)| t)
            .collect();
        assert_eq!(kinds, [RTA_GATEWAY, RTA_OIF, RTA_PRIORITY]);
        assert!(same_prefix(
            "10.1.2.3".parse().unwrap(),
            "10.1.9.9".parse().unwrap(),
            16
        ));
        assert!(!same_prefix(
            "10.1.2.3".parse().unwrap(),
            "10.2.9.9".parse().unwrap(),
            16
        ));
        assert!(same_prefix(
            "10.1.2.3".parse().unwrap(),
            "99.2.9.9".parse().unwrap(),
            0
        ));
    }

    /// Without CAP_NET_ADMIN (or on a name that does not exist) the kernel
    /// answers with an error, which arrives as one.
    #[test]
    fn errors_come_back() {
        if rustix::process::geteuid().is_root() {
            assert!(add_vlan(999_999, "nonexistent.1", 1).is_err());
        } else {
            assert!(set_up(1).is_err());
        }
    }
}
