//! The kernel's fabrics control device and controller deletion: the ONLY
//! code that changes the kernel's set of controllers.
//!
//! `/dev/nvme-fabrics` (kernel `drivers/nvme/host/fabrics.c`,
//! `nvmf_dev_write`/`nvmf_dev_show`): a process opens it, writes one option
//! string, and reads `instance=N,cntlid=M\n` back on the same descriptor; a
//! read without a write returns the table of supported options (kernel >=
//! 5.17). One connect per open descriptor. The write blocks for the whole
//! connect, so callers run it on a worker thread. Deleting a controller is
//! writing `1` to `/sys/class/nvme/nvmeN/delete_controller`.
//!
//! [`Fabrics::get_log_page`] sends Get Log Page to a controller's
//! character device (`/dev/nvmeN`, see [`super::admin`]): the one read
//! stacd does beyond sysfs, for discovery controllers.
//!
//! A regular file cannot play the device (it answers on the descriptor it
//! was written to), so the boundary is a trait; the test double that
//! records each string and creates the sysfs directory a real kernel would
//! is `super::fake::Recorder` (feature `test-support`).

use super::admin::{self, AdminError};
use crate::base::root::{rel, Root};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use std::fmt;

/// The kernel's reply to a successful connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    pub instance: u32,
    pub cntlid: u16,
}

impl Reply {
    /// `nvmeN`.
    pub fn device(&self) -> String {
        format!("nvme{}", self.instance)
    }
}

/// Parse `instance=N,cntlid=M` (trailing newline allowed, extra tokens
/// ignored). `None` when `instance` is missing or negative.
pub fn parse_reply(s: &str) -> Option<Reply> {
    let mut instance = None;
    let mut cntlid = 0u16;
    for tok in s.trim().split(',') {
        match tok.split_once('=') {
            Some(("instance", v)) => instance = v.trim().parse::<u32>().ok(),
            Some(("cntlid", v)) => cntlid = v.trim().parse().unwrap_or(0),
            _ => {}
        }
    }
    Some(Reply {
        instance: instance?,
        cntlid,
    })
}

/// Why a connect failed: the kernel's errno, or a reply we could not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectError {
    /// Opening the device failed (module not loaded, permissions).
    Open(Errno),
    /// The kernel refused the write.
    Kernel(Errno),
    /// The write succeeded but the reply was not `instance=N,...`.
    BadReply(String),
}

impl ConnectError {
    /// An identical controller already exists (kernel `nvmf_create_ctrl`
    /// duplicate check, `-EALREADY`): adopt it, it is not a failure.
    pub fn is_already(&self) -> bool {
        matches!(self, ConnectError::Kernel(e) if *e == Errno::ALREADY)
    }
}

/// A sentence for an errno of the connect path; the names follow the
/// kernel's return sites in `drivers/nvme/host/{fabrics,tcp,rdma,fc}.c`.
pub fn explain(e: Errno) -> String {
    let what = match e {
        Errno::ALREADY => "already connected (the kernel has an identical controller)",
        Errno::CONNREFUSED => "connection refused (nothing listens at that address and port)",
        Errno::TIMEDOUT => "timed out",
        Errno::HOSTUNREACH => "no route to host",
        Errno::NETUNREACH => "network unreachable",
        Errno::ADDRNOTAVAIL => {
            "address not available (host-traddr or host-iface has no such address)"
        }
        Errno::ADDRINUSE => "address in use",
        Errno::INVAL => "invalid argument: the kernel rejected an option (see the kernel log)",
        Errno::NODEV => "no such device: the transport's kernel module is not loaded",
        Errno::NOENT => "no such file or directory: is the nvme-fabrics module loaded?",
        Errno::OPNOTSUPP => "operation not supported by this kernel or transport",
        Errno::IO => "I/O error: the target refused the connect (host not allowed, wrong NQN?)",
        Errno::NOKEY => {
            "required key not available: the target requires DH-HMAC-CHAP and no dhchap-secret \
             or host key is configured for it"
        }
        // EKEYREJECTED comes from three places in 6.12: the target's
        // FAILURE1 (our host key), our check of the controller's reply
        // (dhchap-ctrl-secret), and a key whose CRC is wrong, found before
        // any I/O (drivers/nvme/host/auth.c, drivers/nvme/common/auth.c;
        // docs/auth-tls.md 1.3).
        Errno::KEYREJECTED => {
            "DH-HMAC-CHAP authentication failed: the target rejected the host key (dhchap-secret), \
             or the controller's answer did not match dhchap-ctrl-secret, or a key's CRC is wrong"
        }
        Errno::ACCESS | Errno::PERM => "permission denied",
        Errno::NOMEM => "out of memory (or option string too long)",
        Errno::INTR => "interrupted",
        Errno::CONNRESET => "connection reset by the target",
        Errno::PROTONOSUPPORT | Errno::AFNOSUPPORT => "address family not supported",
        _ => "",
    };
    let errno = e.raw_os_error();
    let name = std::io::Error::from_raw_os_error(errno);
    if what.is_empty() {
        format!("{name} (errno {errno})")
    } else {
        format!("{what} (errno {errno})")
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Open(e) => write!(f, "cannot open /dev/nvme-fabrics: {}", explain(*e)),
            ConnectError::Kernel(e) => f.write_str(&explain(*e)),
            ConnectError::BadReply(r) => write!(f, "unexpected reply from the kernel: {r:?}"),
        }
    }
}

impl std::error::Error for ConnectError {}

/// What stacd asks of the kernel. Implementations must be callable from
/// worker threads.
pub trait Fabrics: Send + Sync {
    /// The supported-options line (a read without a write).
    fn options(&self) -> Result<String, Errno>;
    /// Write `opts`, read the reply. Blocks for the whole connect.
    fn connect(&self, opts: &str) -> Result<Reply, ConnectError>;
    /// Delete controller `name` (`nvmeN`).
    fn delete(&self, name: &str) -> std::io::Result<()>;
    /// Get Log Page `lid` on controller `device` (`nvmeN`): fill `buf` from
    /// byte `offset`; `rae` keeps the asynchronous event pending.
    fn get_log_page(
        &self,
        device: &str,
        lid: u8,
        offset: u64,
        buf: &mut [u8],
        rae: bool,
    ) -> Result<(), AdminError> {
        let _ = (device, lid, offset, buf, rae);
        Err(AdminError::Os(Errno::OPNOTSUPP))
    }
}

/// The real device under a [`Root`].
#[derive(Debug, Clone)]
pub struct DevFabrics {
    root: Root,
}

impl DevFabrics {
    pub fn new(root: &Root) -> DevFabrics {
        DevFabrics { root: root.clone() }
    }

    fn open(&self) -> Result<rustix::fd::OwnedFd, Errno> {
        rustix::fs::open(
            self.root.path(rel::FABRICS),
            OFlags::RDWR | OFlags::CLOEXEC,
            Mode::empty(),
        )
    }
}

fn read_reply(fd: &rustix::fd::OwnedFd) -> Result<String, Errno> {
    // Replies are short (the option table is under 1 KiB on 6.x kernels);
    // read until EOF or a full buffer.
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    while len < buf.len() {
        match rustix::io::read(fd, &mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => {
                len += n;
                if buf[..len].contains(&b'\n') {
                    break;
                }
            }
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(String::from_utf8_lossy(&buf[..len]).into_owned())
}

impl Fabrics for DevFabrics {
    fn options(&self) -> Result<String, Errno> {
        let fd = self.open()?;
        read_reply(&fd)
    }

    fn connect(&self, opts: &str) -> Result<Reply, ConnectError> {
        let fd = self.open().map_err(ConnectError::Open)?;
        // The kernel takes the whole string in one write (nvmf_dev_write
        // copies `count` bytes with memdup_user_nul); a short write would be
        // a kernel bug, reported as a bad reply.
        let n = loop {
            match rustix::io::write(&fd, opts.as_bytes()) {
                Err(Errno::INTR) => continue,
                r => break r.map_err(ConnectError::Kernel)?,
            }
        };
        if n != opts.len() {
            return Err(ConnectError::BadReply(format!(
                "short write: {n} of {} bytes",
                opts.len()
            )));
        }
        let reply = read_reply(&fd).map_err(ConnectError::Kernel)?;
        parse_reply(&reply).ok_or(ConnectError::BadReply(reply))
    }

    fn delete(&self, name: &str) -> std::io::Result<()> {
        std::fs::write(self.root.nvme_ctrl(name).join("delete_controller"), b"1")
    }

    fn get_log_page(
        &self,
        device: &str,
        lid: u8,
        offset: u64,
        buf: &mut [u8],
        rae: bool,
    ) -> Result<(), AdminError> {
        if crate::kernel::sysfs::instance_of(device).is_none() {
            return Err(AdminError::Os(Errno::INVAL));
        }
        let path = self.root.path(rel::DEV).join(device);
        // devtmpfs creates the node shortly after the controller appears
        // (kernel `drivers/base/devtmpfs.c`, a kernel thread): give it a
        // second before calling the device missing.
        let mut tries = 0;
        let fd = loop {
            match rustix::fs::open(&path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
                Err(Errno::NOENT) if tries < 20 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(Errno::INTR) => {}
                r => break r.map_err(AdminError::Os)?,
            }
        };
        admin::get_log_page(rustix::fd::AsFd::as_fd(&fd), lid, offset, buf, rae)
    }
}

/// The option table of a 6.x kernel with every feature (nvmf_dev_show on
/// a fresh descriptor), used by the doubles.
pub const FULL_OPTIONS: &str = "instance=-1,cntlid=-1,transport=%s,traddr=%s,trsvcid=%s,nqn=%s,\
    queue_size=%d,nr_io_queues=%d,reconnect_delay=%d,ctrl_loss_tmo=%d,keep_alive_tmo=%d,\
    hostnqn=%s,host_traddr=%s,host_iface=%s,hostid=%s,duplicate_connect,disable_sqflow,\
    hdr_digest,data_digest,nr_write_queues=%d,nr_poll_queues=%d,tos=%d,fast_io_fail_tmo=%d,\
    discovery,dhchap_secret=%s,dhchap_ctrl_secret=%s,keyring=%d,tls_key=%d,tls\n";

/// A kernel that refuses everything: for `--dry-run`, which must not touch
/// the device (it is never asked to connect, by construction).
#[derive(Debug, Clone, Copy)]
pub struct Inert;

impl Fabrics for Inert {
    fn options(&self) -> Result<String, Errno> {
        Ok(FULL_OPTIONS.to_string())
    }
    fn connect(&self, _opts: &str) -> Result<Reply, ConnectError> {
        Err(ConnectError::Kernel(Errno::PERM))
    }
    fn delete(&self, _name: &str) -> std::io::Result<()> {
        Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies() {
        assert_eq!(
            parse_reply("instance=2,cntlid=3\n"),
            Some(Reply {
                instance: 2,
                cntlid: 3
            })
        );
        assert_eq!(
            parse_reply("instance=12"),
            Some(Reply {
                instance: 12,
                cntlid: 0
            })
        );
        assert_eq!(parse_reply("instance=-1,cntlid=-1,transport=%s"), None);
        assert_eq!(parse_reply(""), None);
        assert_eq!(parse_reply("garbage"), None);
        assert_eq!(
            Reply {
                instance: 7,
                cntlid: 1
            }
            .device(),
            "nvme7"
        );
    }

    #[test]
    fn errors_read_well() {
        assert!(ConnectError::Kernel(Errno::ALREADY).is_already());
        assert!(!ConnectError::Kernel(Errno::INVAL).is_already());
        let m = ConnectError::Kernel(Errno::CONNREFUSED).to_string();
        assert!(m.starts_with("connection refused"), "{m}");
        assert!(m.contains("errno 111"), "{m}");
        assert!(explain(Errno::from_raw_os_error(200)).contains("errno 200"));
    }
}
