//! A small DHCPv4 client for the NBFT's host fabric interfaces whose
//! configuration came from DHCP (the HFI's DHCP Override flag): the
//! initramfs asks again, as the firmware did, and configures what it gets
//! (docs/boot-integration.md, "Network from the NBFT").
//!
//! Only what booting needs: DISCOVER, OFFER, REQUEST, ACK (RFC 2131 §3.1)
//! with the options for the address, its subnet mask, the router, the
//! lease time and the server identifier (RFC 2132 §3.3, 3.5, 9.2, 9.7).
//! The lease is configured without a lifetime and never renewed, as
//! klibc's `ipconfig` does in initramfs-tools images: the interface must
//! stay configured across switch_root, and the real root's network
//! manager owns it from then on.
//!
//! The client runs inside the caller's poll loop: [`Client::fd`] to poll,
//! [`Client::step`] when its time has come ([`Client::next_wake`]) or the
//! socket is readable. No thread, no blocking call.
//!
//! The socket is a UDP socket on port 68 bound to the interface
//! (SO_BINDTODEVICE, socket(7)), so the broadcast leaves through it while
//! it has no address yet; the BROADCAST flag asks the server to broadcast
//! its answers, which a socket without an address can receive
//! (RFC 2131 §4.1).

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::net::{self, AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

const OP_REQUEST: u8 = 1;
const OP_REPLY: u8 = 2;
const HTYPE_ETHER: u8 = 1;
const FLAG_BROADCAST: u16 = 0x8000;
const MAGIC: [u8; 4] = [99, 130, 83, 99];
/// op .. file: the fixed part before the magic cookie (RFC 2131 Figure 1).
const FIXED: usize = 236;

// RFC 2132 option codes.
const OPT_PAD: u8 = 0;
const OPT_SUBNET_MASK: u8 = 1;
const OPT_ROUTER: u8 = 3;
const OPT_REQUESTED_IP: u8 = 50;
const OPT_LEASE_TIME: u8 = 51;
const OPT_MSG_TYPE: u8 = 53;
const OPT_SERVER_ID: u8 = 54;
const OPT_PARAMS: u8 = 55;
const OPT_CLIENT_ID: u8 = 61;
const OPT_END: u8 = 255;

/// DHCP message types (option 53).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgType {
    Discover = 1,
    Offer = 2,
    Request = 3,
    Ack = 5,
    Nak = 6,
}

/// What the server granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub addr: Ipv4Addr,
    /// From the subnet mask (option 1); without one, the class default
    /// is not guessed: 32.
    pub prefix: u8,
    pub router: Option<Ipv4Addr>,
    pub server: Ipv4Addr,
    pub lease_secs: Option<u32>,
}

/// One server reply, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub kind: MsgType,
    pub xid: u32,
    pub yiaddr: Ipv4Addr,
    pub mask: Option<Ipv4Addr>,
    pub router: Option<Ipv4Addr>,
    pub server: Option<Ipv4Addr>,
    pub lease_secs: Option<u32>,
}

/// A client message: DISCOVER, or REQUEST for `offered` from `server`.
pub fn build(kind: MsgType, xid: u32, mac: [u8; 6], secs: u16, offer: Option<&Reply>) -> Vec<u8> {
    let mut b = vec![0u8; FIXED];
    b[0] = OP_REQUEST;
    b[1] = HTYPE_ETHER;
    b[2] = 6;
    b[4..8].copy_from_slice(&xid.to_be_bytes());
    b[8..10].copy_from_slice(&secs.to_be_bytes());
    b[10..12].copy_from_slice(&FLAG_BROADCAST.to_be_bytes());
    b[28..34].copy_from_slice(&mac);
    b.extend_from_slice(&MAGIC);
    b.extend_from_slice(&[OPT_MSG_TYPE, 1, kind as u8]);
    let mut cid = vec![HTYPE_ETHER];
    cid.extend_from_slice(&mac);
    b.extend_from_slice(&[OPT_CLIENT_ID, cid.len() as u8]);
    b.extend_from_slice(&cid);
    if let Some(o) = offer {
        b.extend_from_slice(&[OPT_REQUESTED_IP, 4]);
        b.extend_from_slice(&o.yiaddr.octets());
        if let Some(s) = o.server {
            b.extend_from_slice(&[OPT_SERVER_ID, 4]);
            b.extend_from_slice(&s.octets());
        }
    }
    b.extend_from_slice(&[
        OPT_PARAMS,
        4,
        OPT_SUBNET_MASK,
        OPT_ROUTER,
        OPT_LEASE_TIME,
        OPT_SERVER_ID,
    ]);
    b.push(OPT_END);
    // BOOTP's minimum message size, which some relays and servers expect
    // (RFC 1542 §2.1: 300 bytes).
    b.resize(b.len().max(300), 0);
    b
}

fn ip_at(b: &[u8], at: usize) -> Option<Ipv4Addr> {
    let o: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(Ipv4Addr::from(o))
}

/// Decode a server reply to `xid` for `mac`; anything else (another
/// client's answer, a malformed packet) is `None`.
pub fn parse(b: &[u8], xid: u32, mac: [u8; 6]) -> Option<Reply> {
    if b.len() < FIXED + 4 || b[0] != OP_REPLY || b[1] != HTYPE_ETHER || b[2] != 6 {
        return None;
    }
    if u32::from_be_bytes(b[4..8].try_into().ok()?) != xid || b[28..34] != mac {
        return None;
    }
    if b[FIXED..FIXED + 4] != MAGIC {
        return None;
    }
    let mut r = Reply {
        kind: MsgType::Nak,
        xid,
        yiaddr: ip_at(b, 16)?,
        mask: None,
        router: None,
        server: None,
        lease_secs: None,
    };
    let mut kind = None;
    let mut o = &b[FIXED + 4..];
    while let Some((&code, rest)) = o.split_first() {
        match code {
            OPT_PAD => {
                o = rest;
                continue;
            }
            OPT_END => break,
            _ => {}
        }
        let (&len, rest) = rest.split_first()?;
        let val = rest.get(..usize::from(len))?;
        o = &rest[usize::from(len)..];
        match code {
            OPT_MSG_TYPE if len == 1 => {
                kind = match val[0] {
                    2 => Some(MsgType::Offer),
                    5 => Some(MsgType::Ack),
                    6 => Some(MsgType::Nak),
                    _ => None,
                }
            }
            OPT_SUBNET_MASK if len == 4 => r.mask = ip_at(val, 0),
            // The first router is the preferred one (RFC 2132 §3.5).
            OPT_ROUTER if len >= 4 => r.router = ip_at(val, 0),
            OPT_SERVER_ID if len == 4 => r.server = ip_at(val, 0),
            OPT_LEASE_TIME if len == 4 => {
                r.lease_secs = val.try_into().ok().map(u32::from_be_bytes)
            }
            _ => {}
        }
    }
    r.kind = kind?;
    Some(r)
}

/// The prefix length of a contiguous subnet mask; `None` for a mask with
/// holes.
pub fn mask_prefix(m: Ipv4Addr) -> Option<u8> {
    let v = u32::from(m);
    let n = v.leading_ones();
    (v.checked_shl(n).unwrap_or(0) == 0).then_some(n as u8)
}

/// Where a client is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Selecting,
    Requesting(Reply),
    Bound(Lease),
}

/// One interface's client.
#[derive(Debug)]
pub struct Client {
    pub ifname: String,
    mac: [u8; 6],
    xid: u32,
    started: Instant,
    state: State,
    sock: Option<OwnedFd>,
    next_send: Instant,
    sends: u32,
    /// Why the socket could not be opened or a send failed (for reports).
    pub last_error: Option<String>,
}

/// Delay before the next retransmission: 1, 2, 4, then 4 s (RFC 2131
/// §4.1 asks for exponential backoff; a boot is short, so it is capped low).
fn backoff(sends: u32) -> Duration {
    Duration::from_secs(1 << sends.min(2))
}

impl Client {
    /// A client for `ifname` with MAC `mac`; `xid` should differ between
    /// clients and runs (the caller mixes the time and the MAC in).
    pub fn new(ifname: &str, mac: [u8; 6], xid: u32, now: Instant) -> Client {
        Client {
            ifname: ifname.to_string(),
            mac,
            xid,
            started: now,
            state: State::Selecting,
            sock: None,
            next_send: now,
            sends: 0,
            last_error: None,
        }
    }

    pub fn lease(&self) -> Option<Lease> {
        match self.state {
            State::Bound(l) => Some(l),
            _ => None,
        }
    }

    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.sock.as_ref().map(|s| s.as_fd())
    }

    pub fn next_wake(&self) -> Option<Instant> {
        match self.state {
            State::Bound(_) => None,
            _ => Some(self.next_send),
        }
    }

    /// What it is doing, for reports.
    pub fn describe(&self) -> String {
        match &self.state {
            State::Selecting => format!("DHCP: no offer yet ({} DISCOVER sent)", self.sends),
            State::Requesting(o) => format!("DHCP: requesting {} ({} sent)", o.yiaddr, self.sends),
            State::Bound(l) => format!("DHCP: {}/{} from {}", l.addr, l.prefix, l.server),
        }
    }

    /// Read replies (the socket is readable) and send what is due. Returns
    /// the lease when the client became bound in this step.
    pub fn step(&mut self, now: Instant) -> Option<Lease> {
        if matches!(self.state, State::Bound(_)) {
            return None;
        }
        if self.sock.is_none() {
            match open(&self.ifname) {
                Ok(s) => self.sock = Some(s),
                Err(e) => {
                    self.last_error =
                        Some(format!("cannot open a DHCP socket on {}: {e}", self.ifname));
                    self.next_send = now + Duration::from_secs(1);
                    return None;
                }
            }
        }
        let mut buf = [0u8; 1500];
        while let Some(Ok((n, _))) = self
            .sock
            .as_ref()
            .map(|s| net::recv(s, &mut buf[..], RecvFlags::DONTWAIT))
        {
            let Some(r) = parse(&buf[..n.min(buf.len())], self.xid, self.mac) else {
                continue;
            };
            match (&self.state, r.kind) {
                (State::Selecting, MsgType::Offer) => {
                    log::info!(
                        "{}: DHCP offer of {} from {}",
                        self.ifname,
                        r.yiaddr,
                        r.server.map_or("?".into(), |s| s.to_string())
                    );
                    self.state = State::Requesting(r);
                    self.sends = 0;
                    self.next_send = now;
                }
                (State::Requesting(o), MsgType::Ack) if r.yiaddr == o.yiaddr => {
                    let prefix = r.mask.and_then(mask_prefix).unwrap_or(32);
                    let lease = Lease {
                        addr: r.yiaddr,
                        prefix,
                        router: r.router.filter(|g| !g.is_unspecified()),
                        server: r.server.or(o.server).unwrap_or(Ipv4Addr::UNSPECIFIED),
                        lease_secs: r.lease_secs,
                    };
                    self.state = State::Bound(lease);
                    self.sock = None;
                    return Some(lease);
                }
                (State::Requesting(_), MsgType::Nak) => {
                    log::warn!(
                        "{}: DHCP server refused the request (NAK); starting over",
                        self.ifname
                    );
                    self.state = State::Selecting;
                    self.xid = self.xid.wrapping_add(1);
                    self.sends = 0;
                    self.next_send = now;
                }
                _ => {}
            }
        }
        if now >= self.next_send {
            if let State::Requesting(_) = &self.state {
                if self.sends >= 3 {
                    // No ACK for the offer: ask anew.
                    self.state = State::Selecting;
                    self.sends = 0;
                }
            }
            let secs = u16::try_from((now - self.started).as_secs()).unwrap_or(u16::MAX);
            let msg = match &self.state {
                State::Requesting(o) => build(MsgType::Request, self.xid, self.mac, secs, Some(o)),
                _ => build(MsgType::Discover, self.xid, self.mac, secs, None),
            };
            let to = SocketAddrV4::new(Ipv4Addr::BROADCAST, 67);
            if let Some(s) = &self.sock {
                match net::sendto(s, &msg, SendFlags::DONTWAIT, &to) {
                    Ok(_) => self.last_error = None,
                    // ENETDOWN and friends while the link is still coming.
                    Err(e) => self.last_error = Some(format!("DHCP send on {}: {e}", self.ifname)),
                }
            }
            self.next_send = now + backoff(self.sends);
            self.sends += 1;
        }
        None
    }
}

/// SO_BINDTODEVICE: rustix has no call for it; setsockopt(2) with the
/// interface name (socket(7): the name, at most IFNAMSIZ bytes).
#[allow(unsafe_code)]
fn bind_to_device(fd: &OwnedFd, ifname: &str) -> std::io::Result<()> {
    use rustix::fd::AsRawFd;
    let name = ifname.as_bytes();
    if name.len() >= 16 || name.contains(&0) {
        return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
    }
    // SAFETY: the pointer and length describe `name`, a live byte slice
    // for the whole call; the kernel copies at most `len` bytes from it
    // (net/core/sock.c, sock_setbindtodevice) and keeps no reference.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            name.as_ptr().cast(),
            name.len() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn open(ifname: &str) -> std::io::Result<OwnedFd> {
    let fd = net::socket_with(
        AddressFamily::INET,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?;
    net::sockopt::set_socket_reuseaddr(&fd, true)?;
    net::sockopt::set_socket_broadcast(&fd, true)?;
    bind_to_device(&fd, ifname)?;
    net::bind(&fd, &SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68))?;
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x52, 0x54, 0, 0xbb, 0, 1];

    /// A server reply as udhcpd would send it.
    fn reply(kind: u8, xid: u32, yi: [u8; 4], opts: &[(u8, &[u8])]) -> Vec<u8> {
        let mut b = vec![0u8; FIXED];
        b[0] = OP_REPLY;
        b[1] = 1;
        b[2] = 6;
        b[4..8].copy_from_slice(&xid.to_be_bytes());
        b[16..20].copy_from_slice(&yi);
        b[28..34].copy_from_slice(&MAC);
        b.extend_from_slice(&MAGIC);
        b.extend_from_slice(&[OPT_MSG_TYPE, 1, kind]);
        b.push(OPT_PAD);
        for (c, v) in opts {
            b.push(*c);
            b.push(v.len() as u8);
            b.extend_from_slice(v);
        }
        b.push(OPT_END);
        b
    }

    #[test]
    fn discover_and_request_layout() {
        let d = build(MsgType::Discover, 0x1234_5678, MAC, 3, None);
        assert_eq!(d.len(), 300);
        assert_eq!(&d[..4], &[1, 1, 6, 0]);
        assert_eq!(&d[4..8], &[0x12, 0x34, 0x56, 0x78]);
        assert_eq!(&d[8..10], &[0, 3]);
        assert_eq!(&d[10..12], &[0x80, 0], "broadcast flag");
        assert_eq!(&d[28..34], &MAC);
        assert_eq!(&d[FIXED..FIXED + 4], &MAGIC);
        assert_eq!(&d[FIXED + 4..FIXED + 7], &[53, 1, 1]);
        let offer = parse(
            &reply(2, 7, [192, 168, 50, 10], &[(54, &[192, 168, 50, 1])]),
            7,
            MAC,
        )
        .expect("offer");
        let r = build(MsgType::Request, 7, MAC, 0, Some(&offer));
        let opts = &r[FIXED + 4..];
        let has = |seq: &[u8]| opts.windows(seq.len()).any(|w| w == seq);
        assert!(has(&[53, 1, 3]));
        assert!(has(&[50, 4, 192, 168, 50, 10]));
        assert!(has(&[54, 4, 192, 168, 50, 1]));
    }

    #[test]
    fn replies_decode_and_foreign_ones_are_ignored() {
        let b = reply(
            5,
            9,
            [10, 0, 0, 5],
            &[
                (1, &[255, 255, 255, 0]),
                (3, &[10, 0, 0, 1, 10, 0, 0, 2]),
                (51, &[0, 0, 0x0e, 0x10]),
                (54, &[10, 0, 0, 1]),
                (12, b"hostname"),
            ],
        );
        let r = parse(&b, 9, MAC).expect("ack");
        assert_eq!(r.kind, MsgType::Ack);
        assert_eq!(r.yiaddr, Ipv4Addr::new(10, 0, 0, 5));
        assert_eq!(r.mask.and_then(mask_prefix), Some(24));
        assert_eq!(r.router, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(r.lease_secs, Some(3600));
        assert_eq!(parse(&b, 10, MAC), None, "another transaction");
        assert_eq!(parse(&b, 9, [1; 6]), None, "another client");
        let mut bad = b.clone();
        bad[FIXED] = 0;
        assert_eq!(parse(&bad, 9, MAC), None, "no magic cookie");
        // Without a message type, or truncated anywhere: nothing, no panic.
        assert_eq!(parse(&reply(99, 9, [1, 2, 3, 4], &[]), 9, MAC), None);
        for n in 0..b.len() {
            let _ = parse(&b[..n], 9, MAC);
        }
        let mut over = b[..FIXED + 4].to_vec();
        over.extend_from_slice(&[53, 200, 5]);
        assert_eq!(parse(&over, 9, MAC), None, "option length past the end");
    }

    #[test]
    fn masks() {
        assert_eq!(mask_prefix(Ipv4Addr::new(255, 255, 255, 0)), Some(24));
        assert_eq!(mask_prefix(Ipv4Addr::new(255, 255, 255, 255)), Some(32));
        assert_eq!(mask_prefix(Ipv4Addr::new(0, 0, 0, 0)), Some(0));
        assert_eq!(mask_prefix(Ipv4Addr::new(255, 0, 255, 0)), None);
        assert_eq!(backoff(0), Duration::from_secs(1));
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(9), Duration::from_secs(4));
    }
}
