//! NVMe admin commands through the controller's character device: the
//! `NVME_IOCTL_ADMIN_CMD` ioctl, and the one Get Log Page command stacd
//! sends. The only `unsafe` code of the crate lives here, in `submit`
//! and the [`Ioctl`] implementation it needs; everything else is safe.
//!
//! Kernel interface: `include/uapi/linux/nvme_ioctl.h` —
//! `#define NVME_IOCTL_ADMIN_CMD _IOWR('N', 0x41, struct nvme_admin_cmd)`,
//! `nvme_admin_cmd` being `struct nvme_passthru_cmd` (72 bytes, laid out
//! below). The ioctl returns a negative errno when the kernel could not run
//! the command, a positive NVMe status when the controller completed it
//! with an error, and 0 on success (`drivers/nvme/host/ioctl.c`,
//! `nvme_user_cmd`).

use rustix::fd::BorrowedFd;
use rustix::io::Errno;
use rustix::ioctl::{Ioctl, IoctlOutput, Opcode};
use std::ffi::c_void;
use std::fmt;

/// Admin opcode Get Log Page (NVMe Base Specification, Figure "Opcodes for
/// Admin Commands").
const OPC_GET_LOG_PAGE: u8 = 0x02;

/// `struct nvme_passthru_cmd`, field for field (all `__u8`/`__u16`/`__u32`/
/// `__u64`, naturally aligned, no padding: 72 bytes).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct PassthruCmd {
    opcode: u8,
    flags: u8,
    rsvd1: u16,
    nsid: u32,
    cdw2: u32,
    cdw3: u32,
    metadata: u64,
    addr: u64,
    metadata_len: u32,
    data_len: u32,
    cdw10: u32,
    cdw11: u32,
    cdw12: u32,
    cdw13: u32,
    cdw14: u32,
    cdw15: u32,
    timeout_ms: u32,
    result: u32,
}

const _: () = assert!(size_of::<PassthruCmd>() == 72);

/// Why an admin command failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminError {
    /// The kernel could not send it (or the device is gone).
    Os(Errno),
    /// The controller completed it with this status (Status Code Type and
    /// Status Code, as the ioctl returns them).
    Status(u32),
    /// A buffer larger than one command can carry.
    TooLong(usize),
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminError::Os(e) => write!(f, "{}", std::io::Error::from(*e)),
            AdminError::Status(s) => write!(f, "the controller answered NVMe status {s:#x}"),
            AdminError::TooLong(n) => write!(f, "{n} bytes is too long for one command"),
        }
    }
}

impl std::error::Error for AdminError {}

/// The ioctl request: the command, by mutable reference (the kernel writes
/// `result` back), with the ioctl's return value as output.
struct AdminCmd<'a>(&'a mut PassthruCmd);

// SAFETY: the opcode is `_IOWR('N', 0x41, struct nvme_passthru_cmd)`
// (uapi nvme_ioctl.h), `as_ptr` points at a live `PassthruCmd` with that
// struct's C layout, the kernel reads and writes only those 72 bytes of it
// (IS_MUTATING), and the output is just the ioctl's return value.
#[allow(unsafe_code)]
unsafe impl Ioctl for AdminCmd<'_> {
    type Output = IoctlOutput;
    const IS_MUTATING: bool = true;

    fn opcode(&self) -> Opcode {
        rustix::ioctl::opcode::read_write::<PassthruCmd>(b'N', 0x41)
    }

    fn as_ptr(&mut self) -> *mut c_void {
        (self.0 as *mut PassthruCmd).cast()
    }

    unsafe fn output_from_ptr(out: IoctlOutput, _: *mut c_void) -> rustix::io::Result<IoctlOutput> {
        Ok(out)
    }
}

/// Submit `cmd` with `buf` as its data buffer (controller to host).
#[allow(unsafe_code)]
fn submit(fd: BorrowedFd<'_>, cmd: &mut PassthruCmd, buf: &mut [u8]) -> Result<(), AdminError> {
    cmd.data_len = u32::try_from(buf.len()).map_err(|_| AdminError::TooLong(buf.len()))?;
    cmd.addr = buf.as_mut_ptr() as u64;
    // SAFETY: `cmd` has the layout of `struct nvme_passthru_cmd` (asserted
    // 72 bytes above); `addr`/`data_len` describe `buf`, which is borrowed
    // mutably for the whole call, so the kernel may write up to `data_len`
    // bytes there and nothing else aliases it; metadata is 0/0 (none).
    let r = unsafe { rustix::ioctl::ioctl(fd, AdminCmd(cmd)) };
    match r {
        Ok(0) => Ok(()),
        Ok(status) => Err(AdminError::Status(status as u32)),
        Err(e) => Err(AdminError::Os(e)),
    }
}

/// Get Log Page: `buf.len()` bytes (a multiple of 4) of log `lid` from byte
/// `offset` (a multiple of 4). CDW10: LID in bits 7:0, RAE in bit 15, the
/// 0-based dword count's low 16 bits in 31:16; CDW11: its high 16 bits;
/// CDW12/13: the offset (NVMe Base Specification, Get Log Page command).
/// NSID 0, as libnvme sends for the discovery log.
pub fn get_log_page(
    fd: BorrowedFd<'_>,
    lid: u8,
    offset: u64,
    buf: &mut [u8],
    rae: bool,
) -> Result<(), AdminError> {
    if buf.is_empty() || buf.len() % 4 != 0 || offset % 4 != 0 {
        return Err(AdminError::Os(Errno::INVAL));
    }
    let numd = u32::try_from(buf.len() / 4 - 1).map_err(|_| AdminError::TooLong(buf.len()))?;
    let mut cmd = PassthruCmd {
        opcode: OPC_GET_LOG_PAGE,
        cdw10: u32::from(lid) | (u32::from(rae) << 15) | ((numd & 0xffff) << 16),
        cdw11: numd >> 16,
        cdw12: offset as u32,
        cdw13: (offset >> 32) as u32,
        ..Default::default()
    };
    submit(fd, &mut cmd, buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_number_is_the_kernels() {
        // _IOWR('N', 0x41, 72 bytes) = dir 3 << 30 | 72 << 16 | 'N' << 8 | 0x41.
        let op = rustix::ioctl::opcode::read_write::<PassthruCmd>(b'N', 0x41);
        assert_eq!(op as u64, 0xC048_4E41);
    }

    #[test]
    fn bad_buffers_never_reach_the_kernel() {
        let f = std::fs::File::open("/dev/null").expect("/dev/null");
        let fd = std::os::fd::AsFd::as_fd(&f);
        assert_eq!(
            get_log_page(fd, 0x70, 0, &mut [], true),
            Err(AdminError::Os(Errno::INVAL))
        );
        assert_eq!(
            get_log_page(fd, 0x70, 2, &mut [0; 4], true),
            Err(AdminError::Os(Errno::INVAL))
        );
        // /dev/null does not know the ioctl: the kernel says so.
        assert!(matches!(
            get_log_page(fd, 0x70, 0, &mut [0; 1024], true),
            Err(AdminError::Os(Errno::NOTTY | Errno::INVAL))
        ));
    }
}
