//! Reading the kernel's NVMe controllers from `/sys/class/nvme`.
//!
//! Each `nvmeN` directory carries a `uevent` file whose `NVME_*` lines are
//! what the kernel puts in its uevents (kernel `drivers/nvme/host/core.c`,
//! `nvme_class_uevent`: NVME_TRTYPE, NVME_TRADDR, NVME_TRSVCID,
//! NVME_HOST_TRADDR, NVME_HOST_IFACE, with the literal `none` when unset), and
//! attributes `subsysnqn`, `hostnqn`, `hostid`, `address`, `state`, `cntlid`,
//! `cntrltype` (>= 5.18) (docs/design.md §5.3). A controller can be deleted
//! while we read it: a vanished directory is skipped, never an error.

use crate::base::root::{rel, Root};
use std::io;
use std::path::Path;

/// One controller as the kernel describes it. Text fields are trimmed; the
/// uevent's `none` is an empty string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelCtrl {
    /// `nvmeN`.
    pub name: String,
    /// N.
    pub instance: u32,
    /// NVME_TRTYPE: tcp, rdma, fc, loop, pcie...
    pub transport: String,
    pub traddr: String,
    pub trsvcid: String,
    pub host_traddr: String,
    pub host_iface: String,
    pub subsysnqn: String,
    pub hostnqn: String,
    pub hostid: String,
    /// `src_addr=` of the `address` attribute (tcp, kernel >= 6.1, while
    /// the admin queue is live); empty otherwise.
    pub src_addr: String,
    /// `live`, `connecting`, `resetting`, `deleting`, `dead`, `new`...
    pub state: String,
    pub cntlid: Option<u16>,
    /// `io`, `discovery`, `admin`; `None` when the attribute is missing
    /// (kernels before 5.18).
    pub cntrltype: Option<String>,
    /// The controller has namespace children (`nvmeNnM`, `nvmeXcNnM`).
    /// Only looked for when `cntrltype` is missing (it is what tells an
    /// I/O controller then); `false` otherwise.
    pub has_namespaces: bool,
}

impl KernelCtrl {
    /// An I/O controller (§5.2): `cntrltype` is `io`, or, without that
    /// attribute (kernel < 5.18), the device has namespaces.
    pub fn is_io(&self) -> bool {
        match &self.cntrltype {
            Some(t) => t == "io",
            None => self.has_namespaces,
        }
    }

    /// A fabrics controller (not PCIe).
    pub fn is_fabrics(&self) -> bool {
        crate::model::identity::Transport::parse(&self.transport).is_some()
    }

    /// The kernel is going to delete it (or has): not a controller to adopt.
    pub fn is_dying(&self) -> bool {
        self.state.starts_with("deleting") || self.state == "dead"
    }

    /// Live: the admin and I/O queues are up.
    pub fn is_live(&self) -> bool {
        self.state == "live"
    }
}

/// Read an attribute as libnvme does: trimmed of trailing newline and spaces;
/// `None` when missing or unreadable.
pub fn read_attr(dir: &Path, name: &str) -> Option<String> {
    let s = std::fs::read_to_string(dir.join(name)).ok()?;
    Some(attr_text(&s))
}

/// An attribute's value: without the trailing newline, spaces and NULs
/// and the leading blanks.
fn attr_text(s: &str) -> String {
    s.trim_end_matches(['\n', ' ', '\0'])
        .trim_start()
        .to_string()
}

/// The value of `key` in a `KEY=VALUE` per line text (a `uevent` file).
fn uevent_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

/// `none` (any case) and empty both mean "not set" (§5.3).
fn unset_none(v: Option<&str>) -> String {
    match v.map(str::trim) {
        Some(v) if !v.eq_ignore_ascii_case("none") => v.to_string(),
        _ => String::new(),
    }
}

/// The `src_addr=` value of an `address` attribute (§5.3).
pub fn src_addr(address: &str) -> &str {
    match address.find("src_addr=") {
        Some(i) => {
            let rest = &address[i + "src_addr=".len()..];
            rest.split([',', '\n']).next().unwrap_or("").trim()
        }
        None => "",
    }
}

/// `nvmeN` → N; `None` for namespaces (`nvme0n1`, `nvme0c0n1`) and others.
pub fn instance_of(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("nvme")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The attributes of one sysfs directory, read through a descriptor of the
/// directory: per attribute one `openat`, one `read`, one `close`.
/// `std::fs::read_to_string` on the path adds a `statx`, an `lseek` and a
/// second `read`, and resolves the whole path (through the class symlink)
/// every time: twice the system calls, and a scan reads eight attributes
/// per controller (docs/benchmarks.md: 2.4 ms per controller under TCG).
struct AttrDir {
    fd: rustix::fd::OwnedFd,
    buf: Vec<u8>,
}

impl AttrDir {
    fn open(dir: &Path) -> Option<AttrDir> {
        use rustix::fs::{open, Mode, OFlags};
        let fd = open(
            dir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()?;
        Some(AttrDir {
            fd,
            buf: vec![0; ATTR_MAX],
        })
    }

    /// Like [`read_attr`]: trimmed; `None` when missing, unreadable or not
    /// text.
    fn get(&mut self, name: &str) -> Option<String> {
        use rustix::fs::{openat, Mode, OFlags};
        let f = openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()?;
        let n = loop {
            match rustix::io::read(&f, &mut self.buf[..]) {
                Ok(n) => break n,
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => return None,
            }
        };
        std::str::from_utf8(&self.buf[..n]).ok().map(attr_text)
    }
}

/// A sysfs attribute is at most a page, and the kernel hands it over in
/// one `read` (`fs/sysfs/file.c`, `sysfs_kf_seq_show`: the buffer is
/// PAGE_SIZE). Longer (a fake root's regular file): cut there.
const ATTR_MAX: usize = 4096;

/// Read one controller directory; `None` when it vanished meanwhile.
pub fn read_ctrl(dir: &Path, name: &str) -> Option<KernelCtrl> {
    let instance = instance_of(name)?;
    let mut d = AttrDir::open(dir)?;
    // The uevent file is the one attribute every controller has: if it is
    // gone, so is the controller.
    let uevent = d.get("uevent")?;
    let ev = |k| unset_none(uevent_value(&uevent, k));
    let mut attr = |k| unset_none(d.get(k).as_deref());
    let transport = match ev("NVME_TRTYPE") {
        t if t.is_empty() => attr("transport"),
        t => t,
    };
    let subsysnqn = attr("subsysnqn");
    let hostnqn = attr("hostnqn");
    let hostid = attr("hostid");
    let state = attr("state");
    let address = d.get("address").unwrap_or_default();
    let cntlid = d.get("cntlid").and_then(|v| v.parse().ok());
    let cntrltype = d.get("cntrltype").filter(|v| !v.is_empty());
    // Namespaces matter only to tell an I/O controller without `cntrltype`
    // (kernels before 5.18): list the directory only then.
    let has_namespaces = cntrltype.is_none()
        && std::fs::read_dir(dir)
            .map(|rd| {
                rd.flatten().any(|e| {
                    let n = e.file_name();
                    let n = n.to_string_lossy();
                    n.strip_prefix(name)
                        .is_some_and(|r| r.starts_with('n') || r.starts_with('c'))
                })
            })
            .unwrap_or(false);
    Some(KernelCtrl {
        name: name.to_string(),
        instance,
        transport,
        traddr: ev("NVME_TRADDR"),
        trsvcid: ev("NVME_TRSVCID"),
        host_traddr: ev("NVME_HOST_TRADDR"),
        host_iface: ev("NVME_HOST_IFACE"),
        subsysnqn,
        hostnqn,
        hostid,
        src_addr: src_addr(&address).to_string(),
        state,
        cntlid,
        cntrltype,
        has_namespaces,
    })
}

/// All controllers under `/sys/class/nvme`, by instance number. A missing
/// class directory (nvme-core not loaded) is an empty list.
pub fn scan(root: &Root) -> io::Result<Vec<KernelCtrl>> {
    let class = root.path(rel::CLASS_NVME);
    let rd = match std::fs::read_dir(&class) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out: Vec<KernelCtrl> = rd
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            read_ctrl(&class.join(&name), &name)
        })
        .collect();
    // nvmeN numbers are unique: no two keys are equal, so an unstable sort
    // gives the same order (and is smaller in the binary than a stable one).
    out.sort_unstable_by_key(|c| c.instance);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn src_addr_and_instances() {
        assert_eq!(
            src_addr(
                "traddr=10.10.1.100,trsvcid=4420,host_traddr=10.10.1.50,src_addr=10.10.1.50\n"
            ),
            "10.10.1.50"
        );
        assert_eq!(
            src_addr("traddr=127.0.0.1,trsvcid=4420,src_addr=127.0.0.1,x=1"),
            "127.0.0.1"
        );
        assert_eq!(src_addr("traddr=nn-0x1:pn-0x2"), "");
        assert_eq!(instance_of("nvme12"), Some(12));
        assert_eq!(instance_of("nvme0n1"), None);
        assert_eq!(instance_of("nvme0c0n1"), None);
        assert_eq!(instance_of("nvme-fabrics"), None);
        assert_eq!(instance_of("nvme"), None);
    }

    #[test]
    fn uevent_lines() {
        let t = "MAJOR=240\nNVME_TRTYPE=tcp\nNVME_TRADDR=127.0.0.1\nNVME_HOST_IFACE=none\n";
        assert_eq!(uevent_value(t, "NVME_TRTYPE"), Some("tcp"));
        assert_eq!(unset_none(uevent_value(t, "NVME_HOST_IFACE")), "");
        assert_eq!(unset_none(uevent_value(t, "NVME_TRSVCID")), "");
        assert_eq!(uevent_value(t, "NVME_TR"), None);
    }

    fn tmp(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("stacd-sysfs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    // Bad input: a controller deleted while it is read. Its attributes
    // vanish one by one; whatever is left gives empty fields, never an
    // error or a panic, and without `uevent` the controller is gone.
    #[test]
    fn attributes_vanishing_mid_read() {
        let d = tmp("vanish");
        let c = d.join("nvme3");
        std::fs::create_dir_all(&c).unwrap();
        std::fs::write(c.join("uevent"), "NVME_TRTYPE=tcp\nNVME_TRADDR=10.0.0.1\n").unwrap();
        // `state` unreadable (EISDIR stands in for ENODEV on a dying kobject).
        std::fs::create_dir_all(c.join("state")).unwrap();
        std::fs::write(c.join("cntlid"), "not-a-number\n").unwrap();
        let k = read_ctrl(&c, "nvme3").unwrap();
        assert_eq!(
            (k.transport.as_str(), k.traddr.as_str()),
            ("tcp", "10.0.0.1")
        );
        assert_eq!((k.state.as_str(), k.subsysnqn.as_str()), ("", ""));
        assert_eq!((k.cntlid, k.cntrltype.clone()), (None, None));
        assert!(!k.is_io() && !k.is_live() && !k.is_dying());
        // The uevent file gone: the controller is gone.
        std::fs::remove_file(c.join("uevent")).unwrap();
        assert_eq!(read_ctrl(&c, "nvme3"), None);
        std::fs::remove_dir_all(&d).unwrap();
    }

    // /sys/class/nvme holds symlinks into /sys/devices; a deleted
    // controller leaves a dangling one for a moment. A scan skips it.
    #[cfg(unix)]
    #[test]
    fn scan_skips_dangling_and_odd_entries() {
        let base = tmp("scan");
        let class = base.join(rel::CLASS_NVME);
        let devs = base.join("devices");
        std::fs::create_dir_all(&class).unwrap();
        std::fs::create_dir_all(devs.join("nvme1")).unwrap();
        std::fs::write(devs.join("nvme1/uevent"), "NVME_TRTYPE=tcp\n").unwrap();
        std::fs::write(devs.join("nvme1/state"), "live\n").unwrap();
        std::os::unix::fs::symlink(devs.join("nvme1"), class.join("nvme1")).unwrap();
        std::os::unix::fs::symlink(devs.join("nvme0"), class.join("nvme0")).unwrap();
        std::fs::write(class.join("nvme2"), "a file, not a directory").unwrap();
        std::fs::create_dir_all(class.join("nvme-fabrics")).unwrap();
        let got = scan(&Root::new(&base)).unwrap();
        let names: Vec<_> = got.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["nvme1"]);
        assert!(got[0].is_live());
        std::fs::remove_dir_all(&base).unwrap();
    }
}
