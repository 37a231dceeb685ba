//! NVMe controller events, straight from the kernel: the one module that
//! knows where device events come from.
//!
//! The `udev` crate binds libudev, which cannot be linked statically, and an
//! initramfs often runs no udevd (docs/design.md §C2), so stacd listens to
//! the kernel's own uevents: a `NETLINK_KOBJECT_UEVENT` socket bound to
//! multicast group 1 (kernel `lib/kobject_uevent.c`). Each datagram is
//! `ACTION@DEVPATH\0KEY=VALUE\0...`; only the kernel (sender port 0) is
//! believed — any root process could send to the group. The NVMe class adds
//! NVME_TRTYPE, NVME_TRADDR, ... (kernel `drivers/nvme/host/core.c`,
//! `nvme_class_uevent`) and `change` events carry NVME_EVENT / NVME_AEN. When
//! the socket's buffer overflowed (ENOBUFS) events were lost: the caller
//! rescans `/sys/class/nvme`.

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::{self, netlink, AddressFamily, RecvFlags, SocketFlags, SocketType};

/// One uevent of the `nvme` subsystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `add`, `remove`, `change`, ...
    pub action: String,
    /// `nvmeN` (DEVNAME, else the last component of DEVPATH).
    pub name: String,
    /// Every KEY=VALUE of the event, in order.
    pub props: Vec<(String, String)>,
}

impl Event {
    /// The event names a controller (`nvmeN`), as every event of the nvme
    /// class should; odd names are the caller's to log.
    pub fn is_controller(&self) -> bool {
        crate::kernel::sysfs::instance_of(&self.name).is_some()
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Parse one kernel uevent datagram; `None` if it is malformed or not of
/// the `nvme` subsystem (namespaces are `block`/`nvme-subsystem` and are of
/// no interest here).
pub fn parse(buf: &[u8]) -> Option<Event> {
    let mut parts = buf.split(|&b| b == 0).filter(|p| !p.is_empty());
    let head = std::str::from_utf8(parts.next()?).ok()?;
    let (action, devpath) = head.split_once('@')?;
    let mut props = Vec::new();
    for p in parts {
        let Ok(s) = std::str::from_utf8(p) else {
            continue;
        };
        if let Some((k, v)) = s.split_once('=') {
            props.push((k.to_string(), v.to_string()));
        }
    }
    let get = |k: &str| {
        props
            .iter()
            .find(|(pk, _)| pk == k)
            .map(|(_, v)| v.as_str())
    };
    if get("SUBSYSTEM") != Some("nvme") {
        return None;
    }
    let name = get("DEVNAME")
        .map(|d| d.trim_start_matches("/dev/").to_string())
        .unwrap_or_else(|| devpath.rsplit('/').next().unwrap_or("").to_string());
    let action = get("ACTION").unwrap_or(action).to_string();
    Some(Event {
        action,
        name,
        props,
    })
}

/// The kernel uevent socket.
#[derive(Debug)]
pub struct Uevents {
    fd: OwnedFd,
    buf: Vec<u8>,
}

/// What a read of the socket gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    Events(Vec<Event>),
    /// Events were lost (receive buffer overrun): rescan everything.
    Overrun,
}

impl Uevents {
    /// Open, enlarge the receive buffer (bursts of events at boot), bind to
    /// the kernel's group.
    pub fn open() -> rustix::io::Result<Uevents> {
        let fd = net::socket_with(
            AddressFamily::NETLINK,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            Some(netlink::KOBJECT_UEVENT),
        )?;
        // SO_RCVBUFFORCE needs CAP_NET_ADMIN; without it, the plain size
        // (capped by rmem_max) is the best we can do.
        if net::sockopt::set_socket_recv_buffer_size_force(&fd, 1 << 20).is_err() {
            let _ = net::sockopt::set_socket_recv_buffer_size(&fd, 1 << 20);
        }
        net::bind(&fd, &netlink::SocketAddrNetlink::new(0, 1))?;
        Ok(Uevents {
            fd,
            buf: vec![0; 8192],
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Read every datagram waiting (non-blocking).
    pub fn read(&mut self) -> Read {
        let mut out = Vec::new();
        loop {
            match net::recvfrom(&self.fd, &mut self.buf[..], RecvFlags::empty()) {
                Ok((n, _, from)) => {
                    let from_kernel = from
                        .and_then(|a| netlink::SocketAddrNetlink::try_from(a).ok())
                        .is_some_and(|a| a.pid() == 0);
                    if !from_kernel {
                        log::debug!("uevent not sent by the kernel ignored");
                        continue;
                    }
                    if let Some(ev) = parse(&self.buf[..n.min(self.buf.len())]) {
                        out.push(ev);
                    }
                }
                Err(Errno::INTR) => continue,
                Err(Errno::NOBUFS) => return Read::Overrun,
                Err(Errno::AGAIN) => break,
                Err(e) => {
                    log::debug!("reading kernel uevents: {e}");
                    break;
                }
            }
        }
        Read::Events(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(parts: &[&str]) -> Vec<u8> {
        parts.iter().flat_map(|p| p.bytes().chain([0])).collect()
    }

    #[test]
    fn parses_nvme_events_only() {
        let e = parse(&msg(&[
            "remove@/devices/virtual/nvme-fabrics/ctl/nvme3",
            "ACTION=remove",
            "DEVPATH=/devices/virtual/nvme-fabrics/ctl/nvme3",
            "SUBSYSTEM=nvme",
            "DEVNAME=nvme3",
            "NVME_TRTYPE=tcp",
            "NVME_TRADDR=127.0.0.1",
            "NVME_HOST_IFACE=none",
        ]))
        .unwrap();
        assert_eq!((e.action.as_str(), e.name.as_str()), ("remove", "nvme3"));
        assert_eq!(e.get("NVME_TRADDR"), Some("127.0.0.1"));
        let ch = parse(&msg(&[
            "change@/devices/virtual/nvme-fabrics/ctl/nvme0",
            "SUBSYSTEM=nvme",
            "NVME_EVENT=connected",
        ]))
        .unwrap();
        assert_eq!((ch.action.as_str(), ch.name.as_str()), ("change", "nvme0"));
        assert_eq!(ch.get("NVME_EVENT"), Some("connected"));
        assert!(parse(&msg(&[
            "add@/devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1",
            "SUBSYSTEM=block"
        ]))
        .is_none());
    }

    #[test]
    fn malformed_input_never_panics() {
        for b in [
            &b""[..],
            b"\0\0",
            b"noat\0SUBSYSTEM=nvme",
            b"add@\xff\0SUBSYSTEM=nvme",
            b"@\0SUBSYSTEM=nvme\0=\0",
        ] {
            let _ = parse(b);
        }
        // udevd's re-broadcast (group 2) starts with "libudev\0": no '@'.
        assert!(parse(b"libudev\0\xfe\xed\xca\xfe").is_none());
    }

    #[test]
    fn socket_opens_for_any_user() {
        // NETLINK_KOBJECT_UEVENT lets unprivileged processes receive.
        let mut u = Uevents::open().expect("uevent socket");
        assert_eq!(u.read(), Read::Events(vec![]));
    }

    // Bad input: missing or odd properties never panic and give a defined
    // event (or none).
    #[test]
    fn odd_properties() {
        // No DEVNAME: the last DEVPATH component; ACTION property wins.
        let e = parse(&msg(&[
            "add@/devices/virtual/nvme-fabrics/ctl/nvme7",
            "SUBSYSTEM=nvme",
            "ACTION=change",
            "JUNK",
            "=nokey",
            "NVME_TRADDR=a=b",
            "NVME_TRADDR=second",
        ]))
        .unwrap();
        assert_eq!((e.action.as_str(), e.name.as_str()), ("change", "nvme7"));
        assert!(e.is_controller());
        assert_eq!(e.get("NVME_TRADDR"), Some("a=b"), "first wins, '=' kept");
        assert_eq!(e.get(""), Some("nokey"));
        assert_eq!(e.get("JUNK"), None);
        // A DEVPATH ending in '/' and no DEVNAME: an empty, non-controller name.
        let e = parse(&msg(&["remove@/devices/x/", "SUBSYSTEM=nvme"])).unwrap();
        assert_eq!(e.name, "");
        assert!(!e.is_controller());
        // A value that is not UTF-8 is dropped, the rest kept.
        let mut b = msg(&["change@/x/nvme1", "SUBSYSTEM=nvme"]);
        b.extend_from_slice(b"NVME_AEN=\xff\xfe\0DEVNAME=nvme1\0");
        let e = parse(&b).unwrap();
        assert_eq!((e.name.as_str(), e.get("NVME_AEN")), ("nvme1", None));
        // Names that are not controllers.
        for n in ["nvme1n1", "nvme-fabrics", "ctl", "nvme", "nvme01x"] {
            let e = parse(&msg(&[&format!("add@/x/{n}"), "SUBSYSTEM=nvme"])).unwrap();
            assert!(!e.is_controller(), "{n}");
        }
        // No SUBSYSTEM, or another one: not ours.
        assert!(parse(&msg(&["add@/x/nvme1", "DEVNAME=nvme1"])).is_none());
        assert!(parse(&msg(&["add@/x/nvme1", "SUBSYSTEM=nvme-subsystem"])).is_none());
        // A long event (the kernel's own limit is 2 KiB of properties).
        let long = format!("X={}", "y".repeat(7000));
        let e = parse(&msg(&["add@/x/nvme2", "SUBSYSTEM=nvme", &long])).unwrap();
        assert_eq!(e.get("X").map(str::len), Some(7000));
    }
}
