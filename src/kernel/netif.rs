//! The host's network interfaces and their addresses, read with rtnetlink
//! (docs/design.md §5.4): per interface its name, index, MAC, link flags,
//! VLAN (parent and ID) and its IPv4 and IPv6 addresses in kernel order (the
//! first one is the primary source address). Used to match a tcp
//! controller's host-iface/host-traddr against the kernel's `src_addr`
//! (§4.4), to find an NBFT HFI by MAC, and to know whether an interface has
//! its link. [`Watch`] is the rtnetlink multicast subscription that tells
//! the poll loops when links or addresses change (docs/boot-integration.md).
//!
//! The wire format is built and parsed by hand from the kernel's uapi
//! headers (`linux/netlink.h`, `linux/rtnetlink.h`, `linux/if_link.h`,
//! `linux/if_addr.h`); every length in a reply is checked before use, so a
//! malformed reply is an error or a skipped attribute, never a panic.

use rustix::fd::OwnedFd;
use rustix::net::{self, netlink, AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

// linux/netlink.h
pub(crate) const NLMSG_HDRLEN: usize = 16;
pub(crate) const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300; // NLM_F_ROOT | NLM_F_MATCH
const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;
// linux/rtnetlink.h
pub(crate) const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
pub(crate) const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
// sizeof(struct ifinfomsg), sizeof(struct ifaddrmsg)
const IFINFOMSG_LEN: usize = 16;
const IFADDRMSG_LEN: usize = 8;
// linux/if_link.h, linux/if_addr.h
const IFLA_ADDRESS: u16 = 1;
pub(crate) const IFLA_IFNAME: u16 = 3;
pub(crate) const IFLA_LINK: u16 = 5;
pub(crate) const IFLA_LINKINFO: u16 = 18;
pub(crate) const IFLA_INFO_KIND: u16 = 1;
pub(crate) const IFLA_INFO_DATA: u16 = 2;
// linux/if_link.h, enum IFLA_VLAN_*
pub(crate) const IFLA_VLAN_ID: u16 = 1;
// linux/if.h, net_device_flags
pub const IFF_UP: u32 = 0x1;
pub const IFF_LOWER_UP: u32 = 0x1_0000;
// linux/rtnetlink.h, the legacy multicast group bits of sockaddr_nl.nl_groups
const RTMGRP_LINK: u32 = 0x1;
const RTMGRP_IPV4_IFADDR: u32 = 0x10;
const RTMGRP_IPV6_IFADDR: u32 = 0x100;
const RTM_DELLINK: u16 = 17;
const RTM_DELADDR: u16 = 21;
pub(crate) const IFA_ADDRESS: u16 = 1;
pub(crate) const IFA_LOCAL: u16 = 2;
// linux/socket.h
pub(crate) const AF_INET: u8 = 2;
pub(crate) const AF_INET6: u8 = 10;
// linux/if_arp.h: the link types whose IFLA_ADDRESS is a MAC (§5.4).
const ARPHRD_ETHER: u16 = 1;
const ARPHRD_LOOPBACK: u16 = 772;

/// One network interface.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IfInfo {
    pub name: String,
    pub index: u32,
    /// Ethernet and loopback links only.
    pub mac: Option<[u8; 6]>,
    /// In kernel order: the first is the primary address.
    pub v4: Vec<Ipv4Addr>,
    pub v6: Vec<Ipv6Addr>,
    /// `ifi_flags` (`IFF_*`, linux/if.h).
    pub flags: u32,
    /// IFLA_LINK: the lower device's index (a VLAN's parent), 0 if none.
    pub parent: u32,
    /// A VLAN device (link kind `vlan`): its VLAN ID.
    pub vlan: Option<u16>,
}

impl IfInfo {
    /// Administratively up and with a carrier (IFF_UP and IFF_LOWER_UP,
    /// the bit `ip link` shows as LOWER_UP; a VLAN device follows its
    /// parent's carrier): packets can leave through it.
    pub fn has_link(&self) -> bool {
        self.flags & (IFF_UP | IFF_LOWER_UP) == IFF_UP | IFF_LOWER_UP
    }
}

/// A snapshot of the host's interfaces, in kernel (index) order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IfAddrs {
    pub ifaces: Vec<IfInfo>,
}

impl IfAddrs {
    /// Read the interfaces (`RTM_GETLINK` dump) and their addresses
    /// (`RTM_GETADDR` dump) from the kernel. Needs no privilege.
    pub fn load() -> io::Result<IfAddrs> {
        let mut ifaces = dump(RTM_GETLINK, &[0; IFINFOMSG_LEN], parse_link_msgs)?;
        let addrs = dump(RTM_GETADDR, &[0; IFADDRMSG_LEN], parse_addr_msgs)?;
        add_addrs(&mut ifaces, addrs);
        Ok(IfAddrs { ifaces })
    }

    pub fn from_ifaces(v: Vec<IfInfo>) -> IfAddrs {
        IfAddrs { ifaces: v }
    }

    /// The first interface holding `ip`; an IPv4 address and its IPv4-mapped
    /// IPv6 form are the same address (§5.4).
    pub fn iface_of(&self, ip: IpAddr) -> Option<&str> {
        let ip = ip.to_canonical();
        self.ifaces
            .iter()
            .find(|i| {
                let v4 = i.v4.iter().map(|a| IpAddr::V4(*a));
                let v6 = i.v6.iter().map(|a| IpAddr::V6(*a).to_canonical());
                v4.chain(v6).any(|a| a == ip)
            })
            .map(|i| i.name.as_str())
    }

    /// The first (primary) address of the family on `iface`.
    pub fn primary(&self, iface: &str, v6: bool) -> Option<IpAddr> {
        let i = self.ifaces.iter().find(|i| i.name == iface)?;
        if v6 {
            i.v6.first().map(|a| IpAddr::V6(*a))
        } else {
            i.v4.first().map(|a| IpAddr::V4(*a))
        }
    }

    /// The interface with this MAC. An all-zero MAC (loopback, or an unset
    /// NBFT field) names no interface. VLAN devices share their parent's
    /// MAC and are not what this finds: the physical interface (no parent
    /// link, no VLAN) is preferred, then the first one.
    pub fn by_mac(&self, mac: [u8; 6]) -> Option<&str> {
        self.nic_by_mac(mac).map(|i| i.name.as_str())
    }

    /// [`IfAddrs::by_mac`], the whole entry.
    pub fn nic_by_mac(&self, mac: [u8; 6]) -> Option<&IfInfo> {
        if mac == [0; 6] {
            return None;
        }
        let mut same = self.ifaces.iter().filter(|i| i.mac == Some(mac));
        let first = same.clone().next();
        same.find(|i| i.vlan.is_none() && i.parent == 0).or(first)
    }

    /// The interface that reaches VLAN `vlan` (0: none) through the NIC
    /// with this MAC: the NIC itself, or a VLAN device on it with that ID.
    pub fn by_mac_vlan(&self, mac: [u8; 6], vlan: u16) -> Option<&IfInfo> {
        let nic = self.nic_by_mac(mac)?;
        if vlan == 0 {
            return Some(nic);
        }
        self.ifaces
            .iter()
            .find(|i| i.parent == nic.index && i.vlan == Some(vlan))
    }

    /// The interface named `name`.
    pub fn by_name(&self, name: &str) -> Option<&IfInfo> {
        self.ifaces.iter().find(|i| i.name == name)
    }

    /// Why a connect through `iface` to `target` cannot work yet: the
    /// interface is missing, down, without a carrier, or has no address
    /// that can reach it (of its family; for an IPv6 target beyond the
    /// link, one that is not link-local): a DHCP lease or a static address
    /// still to come. `None`: it can.
    pub fn not_ready(&self, iface: &str, target: &str) -> Option<String> {
        let target = parse_ip(target, true);
        let v6 = target.is_some_and(|a| a.is_ipv6());
        let beyond_link = match target {
            Some(IpAddr::V6(a)) => !a.is_unicast_link_local(),
            _ => true,
        };
        let Some(i) = self.by_name(iface) else {
            return Some(format!("waiting for interface {iface} (it does not exist)"));
        };
        if !i.has_link() {
            let why = if i.flags & IFF_UP == 0 {
                "down"
            } else {
                "no carrier"
            };
            return Some(format!("waiting for a link on {iface} ({why})"));
        }
        let has = if v6 {
            i.v6.iter()
                .any(|a| !beyond_link || !a.is_unicast_link_local())
        } else {
            !i.v4.is_empty()
        };
        if !has {
            let fam = if v6 { "IPv6" } else { "IPv4" };
            return Some(format!("waiting for an {fam} address on {iface}"));
        }
        None
    }
}

/// Parse an IP address as nvme-stas does (§5.4): surrounding white space is
/// ignored, an IPv6 zone suffix `%ifname` is accepted and dropped, and with
/// `map_v4` an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) becomes IPv4.
/// std's parser already rejects IPv4 octets with leading zeros, as the
/// original's does.
pub fn parse_ip(s: &str, map_v4: bool) -> Option<IpAddr> {
    let s = s.trim();
    let ip = match s.split_once('%') {
        Some((addr, zone)) if !zone.is_empty() && !zone.contains('%') => {
            IpAddr::V6(addr.parse().ok()?)
        }
        Some(_) => return None,
        None => s.parse().ok()?,
    };
    Some(if map_v4 { ip.to_canonical() } else { ip })
}

/// Both strings are IP addresses and the same one (IPv4-mapped IPv6 equals
/// IPv4; textual IPv6 variants are equal).
pub fn ip_eq(a: &str, b: &str) -> bool {
    matches!((parse_ip(a, true), parse_ip(b, true)), (Some(x), Some(y)) if x == y)
}

/// The rtnetlink multicast subscription (links, IPv4 and IPv6 addresses):
/// a non-blocking socket for a poll loop. The kernel sends a message on
/// every link change (up, down, carrier, rename, new or removed device) and
/// address change (rtnetlink(7)); [`Watch::read`] only says whether
/// something changed, the caller reads the table again ([`IfAddrs::load`]):
/// two dumps, cheaper than tracking every message, and right even after an
/// overrun.
#[derive(Debug)]
pub struct Watch {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl Watch {
    pub fn open() -> io::Result<Watch> {
        let fd = net::socket_with(
            AddressFamily::NETLINK,
            SocketType::RAW,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            None, // NETLINK_ROUTE
        )?;
        let groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
        net::bind(&fd, &netlink::SocketAddrNetlink::new(0, groups))?;
        Ok(Watch {
            fd,
            buf: vec![0; 32 * 1024],
        })
    }

    pub fn fd(&self) -> rustix::fd::BorrowedFd<'_> {
        use rustix::fd::AsFd;
        self.fd.as_fd()
    }

    /// Drain the socket; true when a link or address message arrived (or
    /// messages were lost: ENOBUFS).
    pub fn read(&mut self) -> bool {
        let mut changed = false;
        loop {
            match net::recv(&self.fd, &mut self.buf[..], RecvFlags::empty()) {
                Ok((n, _)) => {
                    let _ = walk(&self.buf[..n.min(self.buf.len())], |ty, _| {
                        changed |=
                            matches!(ty, RTM_NEWLINK | RTM_DELLINK | RTM_NEWADDR | RTM_DELADDR);
                    });
                }
                Err(rustix::io::Errno::INTR) => continue,
                Err(rustix::io::Errno::NOBUFS) => changed = true,
                Err(_) => return changed,
            }
        }
    }
}

/// One address from an `RTM_NEWADDR` message: interface index and address.
pub type IfAddr = (u32, IpAddr);

/// Attach addresses to their interfaces, keeping the dump's order; an
/// address of an interface that vanished between the two dumps is dropped.
fn add_addrs(ifaces: &mut [IfInfo], addrs: Vec<IfAddr>) {
    for (index, ip) in addrs {
        if let Some(i) = ifaces.iter_mut().find(|i| i.index == index) {
            match ip {
                IpAddr::V4(a) => i.v4.push(a),
                IpAddr::V6(a) => i.v6.push(a),
            }
        }
    }
}

/// A dump request: `nlmsghdr` then the family header `body` (all zero:
/// AF_UNSPEC, every interface).
fn request(ty: u16, seq: u32, body: &[u8]) -> Vec<u8> {
    nlmsg(ty, NLM_F_REQUEST | NLM_F_DUMP, seq, body)
}

/// A netlink message: the header (`struct nlmsghdr`, linux/netlink.h) and
/// the family's `body`. Shared with [`crate::kernel::netcfg`]'s requests.
pub(crate) fn nlmsg(ty: u16, flags: u16, seq: u32, body: &[u8]) -> Vec<u8> {
    let len = (NLMSG_HDRLEN + body.len()) as u32;
    let mut v = Vec::with_capacity(len as usize);
    v.extend_from_slice(&len.to_ne_bytes());
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(&flags.to_ne_bytes());
    v.extend_from_slice(&seq.to_ne_bytes());
    v.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: the kernel fills it
    v.extend_from_slice(body);
    v
}

/// One route attribute (`struct rtattr`, linux/rtnetlink.h: length, type,
/// data, padded to 4 bytes).
pub(crate) fn rta(ty: u16, data: &[u8]) -> Vec<u8> {
    let mut v = ((4 + data.len()) as u16).to_ne_bytes().to_vec();
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(data);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v
}

/// Open a fresh rtnetlink socket and send `msg` to the kernel; the reply
/// is read from the socket returned. Shared with [`crate::kernel::netcfg`].
pub(crate) fn send_request(msg: &[u8]) -> io::Result<OwnedFd> {
    let fd = net::socket_with(
        AddressFamily::NETLINK,
        SocketType::RAW,
        SocketFlags::CLOEXEC,
        None, // NETLINK_ROUTE is protocol 0
    )?;
    // The kernel always answers; the timeout only bounds the damage should
    // it not.
    net::sockopt::set_socket_timeout(
        &fd,
        net::sockopt::Timeout::Recv,
        Some(Duration::from_secs(5)),
    )?;
    let kernel = netlink::SocketAddrNetlink::new(0, 0);
    net::sendto(&fd, msg, SendFlags::empty(), &kernel)?;
    Ok(fd)
}

type Parser<T> = fn(&[u8]) -> io::Result<(Vec<T>, bool)>;

/// Send one dump request on a fresh socket and collect the parsed replies
/// until NLMSG_DONE. A fresh, unbound socket receives only the replies to
/// this request, so sequence numbers need no checking.
fn dump<T>(ty: u16, body: &[u8], parse: Parser<T>) -> io::Result<Vec<T>> {
    let fd = send_request(&request(ty, 1, body))?;
    // Dump datagrams are at most 32 KiB (kernel net/netlink/af_netlink.c,
    // netlink_dump); MSG_TRUNC reports a larger one instead of cutting it.
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::new();
    loop {
        let (n, full) = net::recv(&fd, &mut buf[..], RecvFlags::TRUNC)?;
        if full > n {
            return Err(bad("netlink reply larger than the receive buffer"));
        }
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let (items, done) = parse(&buf[..n])?;
        out.extend(items);
        if done {
            return Ok(out);
        }
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

pub(crate) fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Walk the netlink messages of one datagram, calling `each(type, payload)`
/// for data messages. Returns true when the dump is complete (NLMSG_DONE, or
/// an NLMSG_ERROR acknowledgement with code 0); an error code becomes the
/// errno it carries. NLM_F_DUMP_INTR (addresses changed during the dump) is
/// not acted on: the result is still a usable snapshot, and every scan
/// reads afresh.
pub(crate) fn walk(mut b: &[u8], mut each: impl FnMut(u16, &[u8])) -> io::Result<bool> {
    while !b.is_empty() {
        let (Some(len), Some(ty)) = (u32_at(b, 0), u16_at(b, 4)) else {
            return Err(bad("truncated netlink header"));
        };
        let len = len as usize;
        if len < NLMSG_HDRLEN || len > b.len() {
            return Err(bad("netlink message length out of bounds"));
        }
        let payload = &b[NLMSG_HDRLEN..len];
        match ty {
            // Both carry an `int` error code (DONE: when the dump failed,
            // kernel af_netlink.c netlink_dump_done); negative = -errno.
            NLMSG_ERROR | NLMSG_DONE => {
                let code = u32_at(payload, 0).map_or(0, |c| c as i32);
                if code < 0 {
                    return Err(io::Error::from_raw_os_error(code.saturating_neg()));
                }
                if ty == NLMSG_ERROR && payload.len() < 4 {
                    return Err(bad("truncated netlink error"));
                }
                return Ok(true);
            }
            NLMSG_OVERRUN => return Err(bad("netlink overrun")),
            NLMSG_NOOP => {}
            _ => each(ty, payload),
        }
        // NLMSG_ALIGN(len); the last message may lack its padding.
        b = b.get(len.next_multiple_of(4)..).unwrap_or_default();
    }
    Ok(false)
}

/// The route attributes (`struct rtattr`, RTA_ALIGN) after a family header:
/// (type, data). Stops at the first malformed one.
pub(crate) fn attrs(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = u16_at(b, 0)? as usize;
        let ty = u16_at(b, 2)?;
        let data = b.get(4..len)?;
        b = b.get(len.next_multiple_of(4)..).unwrap_or_default();
        // NLA_TYPE_MASK: the top two bits are flags (linux/netlink.h).
        Some((ty & 0x3fff, data))
    })
}

/// Parse one datagram of an `RTM_GETLINK` dump: the interfaces, and whether
/// the dump is complete. A link without a name is skipped.
pub fn parse_link_msgs(b: &[u8]) -> io::Result<(Vec<IfInfo>, bool)> {
    let mut out = Vec::new();
    let done = walk(b, |ty, p| {
        // struct ifinfomsg: family u8, pad u8, type u16, index i32, flags, change.
        let (RTM_NEWLINK, Some(kind), Some(index)) = (ty, u16_at(p, 2), u32_at(p, 4)) else {
            return;
        };
        let mut info = IfInfo {
            index,
            flags: u32_at(p, 8).unwrap_or(0),
            ..Default::default()
        };
        for (t, d) in attrs(p.get(IFINFOMSG_LEN..).unwrap_or_default()) {
            match t {
                IFLA_IFNAME => {
                    let name = d.split(|&c| c == 0).next().unwrap_or_default();
                    info.name = String::from_utf8_lossy(name).into_owned();
                }
                IFLA_ADDRESS if matches!(kind, ARPHRD_ETHER | ARPHRD_LOOPBACK) => {
                    info.mac = d.try_into().ok();
                }
                IFLA_LINK => info.parent = u32_at(d, 0).unwrap_or(0),
                IFLA_LINKINFO => info.vlan = vlan_of(d),
                _ => {}
            }
        }
        if !info.name.is_empty() {
            out.push(info);
        }
    })?;
    Ok((out, done))
}

/// The VLAN ID in an IFLA_LINKINFO attribute, when its kind is `vlan`
/// (nested IFLA_INFO_KIND, IFLA_INFO_DATA → IFLA_VLAN_ID, linux/if_link.h).
fn vlan_of(linkinfo: &[u8]) -> Option<u16> {
    let mut is_vlan = false;
    let mut id = None;
    for (t, d) in attrs(linkinfo) {
        match t {
            IFLA_INFO_KIND => is_vlan = d.split(|&c| c == 0).next() == Some(b"vlan"),
            IFLA_INFO_DATA => {
                id = attrs(d)
                    .find(|(t, _)| *t == IFLA_VLAN_ID)
                    .and_then(|(_, v)| u16_at(v, 0));
            }
            _ => {}
        }
    }
    id.filter(|_| is_vlan)
}

/// Parse one datagram of an `RTM_GETADDR` dump: (interface index, address)
/// pairs in kernel order, and whether the dump is complete. The local
/// address is IFA_LOCAL when present: on a point-to-point link IFA_ADDRESS
/// is the peer (linux/if_addr.h); IPv6 usually sends only IFA_ADDRESS.
pub fn parse_addr_msgs(b: &[u8]) -> io::Result<(Vec<IfAddr>, bool)> {
    let mut out = Vec::new();
    let done = walk(b, |ty, p| {
        // struct ifaddrmsg: family u8, prefixlen u8, flags u8, scope u8, index u32.
        let (RTM_NEWADDR, Some(&family), Some(index)) = (ty, p.first(), u32_at(p, 4)) else {
            return;
        };
        let (mut local, mut address) = (None, None);
        for (t, d) in attrs(p.get(IFADDRMSG_LEN..).unwrap_or_default()) {
            let ip = match family {
                AF_INET => <[u8; 4]>::try_from(d).ok().map(IpAddr::from),
                AF_INET6 => <[u8; 16]>::try_from(d).ok().map(IpAddr::from),
                _ => None,
            };
            match t {
                IFA_LOCAL => local = local.or(ip),
                IFA_ADDRESS => address = address.or(ip),
                _ => {}
            }
        }
        if let Some(ip) = local.or(address) {
            out.push((index, ip));
        }
    })?;
    Ok((out, done))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nlmsg(ty: u16, flags: u16, body: &[u8]) -> Vec<u8> {
        let mut v = request(ty, 1, body);
        v[6..8].copy_from_slice(&flags.to_ne_bytes());
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    fn link(index: u32, kind: u16, name: &str, mac: &[u8]) -> Vec<u8> {
        let mut body = vec![0, 0];
        body.extend_from_slice(&kind.to_ne_bytes());
        body.extend_from_slice(&index.to_ne_bytes());
        body.extend_from_slice(&[0; 8]);
        body.extend(rta(IFLA_ADDRESS, mac));
        body.extend(rta(IFLA_IFNAME, format!("{name}\0").as_bytes()));
        nlmsg(RTM_NEWLINK, 2, &body)
    }

    fn addr(index: u32, family: u8, attrs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut body = vec![family, 24, 0, 0];
        body.extend_from_slice(&index.to_ne_bytes());
        for (t, d) in attrs {
            body.extend(rta(*t, d));
        }
        nlmsg(RTM_NEWADDR, 2, &body)
    }

    fn done(code: i32) -> Vec<u8> {
        nlmsg(NLMSG_DONE, 2, &code.to_ne_bytes())
    }

    const MAC: [u8; 6] = [0x52, 0x54, 0, 0x12, 0x34, 0x56];

    #[test]
    fn request_layout() {
        let r = request(RTM_GETADDR, 7, &[0; IFADDRMSG_LEN]);
        assert_eq!(r.len(), 24);
        assert_eq!(u32_at(&r, 0), Some(24));
        assert_eq!(u16_at(&r, 4), Some(22));
        assert_eq!(u16_at(&r, 6), Some(0x301));
        assert_eq!(u32_at(&r, 8), Some(7));
    }

    #[test]
    fn links_parse_until_done() {
        let mut b = link(1, ARPHRD_LOOPBACK, "lo", &[0; 6]);
        b.extend(link(2, ARPHRD_ETHER, "eth0", &MAC));
        b.extend(link(3, 65534, "tun0", &[])); // ARPHRD_NONE: no MAC
        let (v, fin) = parse_link_msgs(&b).expect("well-formed dump");
        assert!(!fin);
        assert_eq!(v.len(), 3);
        assert_eq!(
            (v[0].name.as_str(), v[0].index, v[0].mac),
            ("lo", 1, Some([0; 6]))
        );
        assert_eq!(
            (v[1].name.as_str(), v[1].index, v[1].mac),
            ("eth0", 2, Some(MAC))
        );
        assert_eq!((v[2].name.as_str(), v[2].mac), ("tun0", None));
        b.extend(done(0));
        assert!(parse_link_msgs(&b).expect("well-formed dump").1);
        assert_eq!(
            parse_link_msgs(&done(0)).expect("well-formed dump"),
            (vec![], true)
        );
    }

    /// A VLAN device: flags, IFLA_LINK and the nested link info.
    #[test]
    fn links_carry_flags_parent_and_vlan() {
        let mut body = vec![0, 0];
        body.extend_from_slice(&ARPHRD_ETHER.to_ne_bytes());
        body.extend_from_slice(&7u32.to_ne_bytes());
        body.extend_from_slice(&(IFF_UP | IFF_LOWER_UP | 0x1000).to_ne_bytes());
        body.extend_from_slice(&[0; 4]);
        body.extend(rta(IFLA_ADDRESS, &MAC));
        body.extend(rta(IFLA_IFNAME, b"eth0.100\0"));
        body.extend(rta(IFLA_LINK, &2u32.to_ne_bytes()));
        let mut data = rta(IFLA_VLAN_ID, &100u16.to_ne_bytes());
        data = rta(IFLA_INFO_DATA | 0x8000, &data);
        let mut info = rta(IFLA_INFO_KIND, b"vlan\0");
        info.extend(data);
        body.extend(rta(IFLA_LINKINFO | 0x8000, &info));
        let mut b = nlmsg(RTM_NEWLINK, 2, &body);
        b.extend(link(2, ARPHRD_ETHER, "eth0", &MAC));
        let (v, _) = parse_link_msgs(&b).expect("well-formed dump");
        assert_eq!(v[0].name, "eth0.100");
        assert_eq!((v[0].parent, v[0].vlan), (2, Some(100)));
        assert!(v[0].has_link());
        assert!(!v[1].has_link(), "no flags: down");
        let n = IfAddrs::from_ifaces(v);
        assert_eq!(n.by_mac(MAC), Some("eth0"), "the NIC, not its VLAN");
        assert_eq!(n.by_mac_vlan(MAC, 100).map(|i| i.index), Some(7));
        assert_eq!(n.by_mac_vlan(MAC, 0).map(|i| i.index), Some(2));
        assert!(n.by_mac_vlan(MAC, 101).is_none());
        // Another kind with data is no VLAN.
        let mut info = rta(IFLA_INFO_KIND, b"macvlan\0");
        info.extend(rta(IFLA_INFO_DATA, &rta(IFLA_VLAN_ID, &5u16.to_ne_bytes())));
        assert_eq!(vlan_of(&info), None);
    }

    #[test]
    fn readiness_for_a_target() {
        let up = IFF_UP | IFF_LOWER_UP;
        let ll: Ipv6Addr = "fe80::1".parse().unwrap();
        let g: Ipv6Addr = "fd00:51::2".parse().unwrap();
        let mk = |name: &str, flags, v4: Vec<Ipv4Addr>, v6: Vec<Ipv6Addr>| IfInfo {
            name: name.into(),
            flags,
            v4,
            v6,
            ..Default::default()
        };
        let n = IfAddrs::from_ifaces(vec![
            mk("down", 0, vec![], vec![]),
            mk("nocarrier", IFF_UP, vec![], vec![]),
            mk("ll", up, vec![], vec![ll]),
            mk(
                "both",
                up,
                vec!["192.168.50.2".parse().unwrap()],
                vec![ll, g],
            ),
        ]);
        let why = |i: &str, t: &str| n.not_ready(i, t).unwrap_or_default();
        assert!(why("eth9", "10.0.0.1").contains("does not exist"));
        assert!(why("down", "10.0.0.1").contains("(down)"));
        assert!(why("nocarrier", "10.0.0.1").contains("no carrier"));
        assert!(why("ll", "10.0.0.1").contains("IPv4 address"));
        assert!(
            why("ll", "fd00:51::1").contains("IPv6 address"),
            "link-local only"
        );
        assert_eq!(n.not_ready("ll", "fe80::9"), None, "a link-local target");
        assert_eq!(n.not_ready("both", "fd00:51::1"), None);
        assert_eq!(n.not_ready("both", "192.168.50.1"), None);
    }

    /// The subscription opens without privilege and reads nothing yet.
    #[test]
    fn watch_opens() {
        let mut w = Watch::open().expect("rtnetlink socket");
        let _ = w.read();
    }

    #[test]
    fn addrs_prefer_local_and_keep_order() {
        let mut b = addr(
            2,
            AF_INET,
            &[(IFA_ADDRESS, &[10, 0, 0, 1]), (IFA_LOCAL, &[10, 0, 0, 2])],
        );
        b.extend(addr(2, AF_INET, &[(IFA_ADDRESS, &[10, 0, 0, 3])]));
        let v6: Ipv6Addr = "fe80::1".parse().expect("address literal");
        b.extend(addr(2, AF_INET6, &[(IFA_ADDRESS, &v6.octets())]));
        // Wrong length for the family: ignored.
        b.extend(addr(2, AF_INET, &[(IFA_ADDRESS, &[1, 2, 3])]));
        b.extend(addr(9, AF_INET, &[(IFA_LOCAL, &[10, 9, 9, 9])]));
        b.extend(done(0));
        let (v, fin) = parse_addr_msgs(&b).expect("well-formed dump");
        assert!(fin);
        let want: Vec<IfAddr> = vec![
            (2, "10.0.0.2".parse().expect("address literal")),
            (2, "10.0.0.3".parse().expect("address literal")),
            (2, IpAddr::V6(v6)),
            (9, "10.9.9.9".parse().expect("address literal")),
        ];
        assert_eq!(v, want);
        let mut ifaces = vec![IfInfo {
            name: "eth0".into(),
            index: 2,
            ..Default::default()
        }];
        add_addrs(&mut ifaces, v);
        assert_eq!(
            ifaces[0].v4,
            [
                "10.0.0.2".parse::<Ipv4Addr>().expect("address literal"),
                "10.0.0.3".parse().expect("address literal")
            ]
        );
        assert_eq!(ifaces[0].v6, [v6]);
    }

    #[test]
    fn errors_are_reported() {
        let eperm = nlmsg(NLMSG_ERROR, 0, &(-1i32).to_ne_bytes());
        assert_eq!(
            parse_link_msgs(&eperm).err().and_then(|e| e.raw_os_error()),
            Some(1)
        );
        let ack = nlmsg(NLMSG_ERROR, 0, &0i32.to_ne_bytes());
        assert!(parse_link_msgs(&ack).expect("well-formed dump").1);
        assert_eq!(
            parse_addr_msgs(&done(-4))
                .err()
                .and_then(|e| e.raw_os_error()),
            Some(4)
        );
        assert!(parse_addr_msgs(&done(i32::MIN)).is_err());
        assert!(parse_addr_msgs(&nlmsg(NLMSG_ERROR, 0, &[])).is_err());
        assert!(parse_addr_msgs(&nlmsg(NLMSG_OVERRUN, 0, &[])).is_err());
        // A header claiming more than the datagram holds, or less than itself.
        let mut b = link(2, ARPHRD_ETHER, "eth0", &MAC);
        b[0..4].copy_from_slice(&1000u32.to_ne_bytes());
        assert!(parse_link_msgs(&b).is_err());
        b[0..4].copy_from_slice(&8u32.to_ne_bytes());
        assert!(parse_link_msgs(&b).is_err());
    }

    #[test]
    fn truncated_and_garbage_never_panic() {
        let mut b = link(1, ARPHRD_LOOPBACK, "lo", &[0; 6]);
        b.extend(addr(1, AF_INET, &[(IFA_LOCAL, &[127, 0, 0, 1])]));
        b.extend(done(0));
        for n in 0..b.len() {
            let _ = parse_link_msgs(&b[..n]);
            let _ = parse_addr_msgs(&b[..n]);
        }
        // A cut inside the first message's header or body is an error.
        assert!(parse_link_msgs(&b[..10]).is_err());
        assert!(parse_link_msgs(&b[..20]).is_err());
        // An attribute whose length overruns its message ends the attributes.
        let mut bad_attr = link(2, ARPHRD_ETHER, "eth0", &MAC);
        bad_attr[32..34].copy_from_slice(&200u16.to_ne_bytes());
        assert_eq!(
            parse_link_msgs(&bad_attr).expect("well-formed dump").0,
            vec![]
        );
        // Pseudo-random bytes (fixed LCG seed), alone and after a valid header.
        let mut x: u32 = 0x1234_5678;
        for round in 0..2000 {
            let len = round % 97;
            let mut g: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (x >> 16) as u8
                })
                .collect();
            let _ = parse_link_msgs(&g);
            let _ = parse_addr_msgs(&g);
            if g.len() >= NLMSG_HDRLEN {
                let n = g.len() as u32;
                g[0..4].copy_from_slice(&n.to_ne_bytes());
                g[4..6].copy_from_slice(&[RTM_NEWLINK, RTM_NEWADDR][round % 2].to_ne_bytes());
                let _ = parse_link_msgs(&g);
                let _ = parse_addr_msgs(&g);
            }
        }
    }

    fn fake() -> IfAddrs {
        IfAddrs::from_ifaces(vec![
            IfInfo {
                name: "lo".into(),
                index: 1,
                mac: Some([0; 6]),
                v4: vec![Ipv4Addr::LOCALHOST],
                v6: vec![Ipv6Addr::LOCALHOST],
                ..Default::default()
            },
            IfInfo {
                name: "eth0".into(),
                index: 2,
                mac: Some(MAC),
                v4: vec![
                    "192.168.1.10".parse().expect("address literal"),
                    "192.168.1.11".parse().expect("address literal"),
                ],
                v6: vec![
                    "fe80::1".parse().expect("address literal"),
                    "2001:db8::10".parse().expect("address literal"),
                ],
                ..Default::default()
            },
        ])
    }

    // docs/design.md §10.4 (the original's test-iputil.py) and §5.4.
    #[test]
    fn lookups() {
        let n = fake();
        let ip = |s: &str| parse_ip(s, false).expect("address literal");
        assert_eq!(n.iface_of(ip("192.168.1.11")), Some("eth0"));
        assert_eq!(n.iface_of(ip("::ffff:192.168.1.11")), Some("eth0"));
        assert_eq!(n.iface_of(ip("2001:DB8:0::10")), Some("eth0"));
        assert_eq!(n.iface_of(ip("::1")), Some("lo"));
        assert_eq!(n.iface_of(ip("255.255.255.255")), None);
        assert_eq!(n.primary("eth0", false), Some(ip("192.168.1.10")));
        assert_eq!(n.primary("eth0", true), Some(ip("fe80::1")));
        assert_eq!(n.primary("eth9", false), None);
        assert_eq!(n.by_mac(MAC), Some("eth0"));
        assert_eq!(n.by_mac([0; 6]), None);
        assert_eq!(n.by_mac([1; 6]), None);
        assert_eq!(IfAddrs::default().iface_of(ip("127.0.0.1")), None);
    }

    #[test]
    fn ip_parsing_and_equality() {
        let v4 = |s: &str| Some(IpAddr::V4(s.parse().expect("address literal")));
        let v6 = |s: &str| Some(IpAddr::V6(s.parse().expect("address literal")));
        let cases: &[(&str, bool, Option<IpAddr>)] = &[
            ("", true, None),
            ("not-an-ip", true, None),
            ("1.2.3.4", true, v4("1.2.3.4")),
            (" 1.2.3.4\n", false, v4("1.2.3.4")),
            ("::1", true, v6("::1")),
            ("::ffff:1.2.3.4", true, v4("1.2.3.4")),
            ("::ffff:1.2.3.4", false, v6("::ffff:102:304")),
            ("fe80::1%eth0", true, v6("fe80::1")),
            ("fe80::1%", true, None),
            ("1.2.3.4%eth0", true, None),
            ("01.2.3.4", true, None),
            ("555.555.555.555", true, None),
        ];
        for (s, map, want) in cases {
            assert_eq!(parse_ip(s, *map), *want, "{s:?} map_v4={map}");
        }
        assert!(!ip_eq("", "1.1.1.1"));
        assert!(!ip_eq("1.1.1.1", ""));
        assert!(!ip_eq("x", "x"));
        assert!(ip_eq("1.1.1.1", "1.1.1.1"));
        assert!(ip_eq("1.2.3.4", "::ffff:102:304"));
        assert!(ip_eq("FE80::AAAA:bbbb:0:1", "fe80::aaaa:BBBB:0:1"));
        assert!(!ip_eq("1.2.3.4", "1.2.3.5"));
    }

    /// A real RTM_GETLINK + RTM_GETADDR round trip with this machine's kernel.
    #[test]
    fn load_finds_loopback() {
        let n = IfAddrs::load().expect("rtnetlink dump");
        let lo = n.ifaces.iter().find(|i| i.name == "lo").expect("lo listed");
        assert!(lo.index > 0);
        assert!(lo.v4.contains(&Ipv4Addr::LOCALHOST), "{lo:?}");
        assert_eq!(n.iface_of(IpAddr::V4(Ipv4Addr::LOCALHOST)), Some("lo"));
    }
}
