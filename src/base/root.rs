//! The one place that knows where things live on the host.
//!
//! Every path the program touches (`/etc`, `/sys`, `/dev`, `/run`, `/proc`) is
//! resolved under a [`Root`], `/` by default. Tests point the whole program at
//! a temporary directory by setting `STACD_ROOT` (the same seam
//! systemd's zram-generator uses), so no other module may spell one of these
//! literals. `RUNTIME_DIRECTORY`, which systemd sets from the unit's
//! `RuntimeDirectory=` (docs/design.md §1, §4.12), overrides the state directory.

use std::path::{Path, PathBuf};

/// Environment variable that moves the root of every path (tests only).
pub const ROOT_ENV: &str = "STACD_ROOT";

/// Relative locations under the root. Sources: docs/design.md §App.B,
/// kernel `drivers/nvme/host/fabrics.c` (misc device `nvme-fabrics`),
/// `drivers/nvme/host/core.c` (class `nvme`).
pub mod rel {
    pub const STACD_CONF: &str = "etc/stas/stacd.conf";
    pub const SYS_CONF: &str = "etc/stas/sys.conf";
    pub const HOSTNQN: &str = "etc/nvme/hostnqn";
    pub const HOSTID: &str = "etc/nvme/hostid";
    pub const HOSTKEY: &str = "etc/nvme/hostkey";
    pub const CLASS_NVME: &str = "sys/class/nvme";
    pub const FABRICS: &str = "dev/nvme-fabrics";
    /// Device nodes (`/dev/nvmeN`, the controllers' character devices).
    pub const DEV: &str = "dev";
    pub const RUN_DIR: &str = "run/stacd";
    pub const CMDLINE: &str = "proc/cmdline";
    /// Parameters an initramfs image carries (dracut's `getcmdline`).
    pub const CMDLINE_D: &str = "etc/cmdline.d";
    pub const ETC_CMDLINE: &str = "etc/cmdline";
    pub const ACPI_TABLES: &str = "sys/firmware/acpi/tables";
    pub const DEV_LOG: &str = "dev/log";
    pub const DEV_KMSG: &str = "dev/kmsg";
    /// The system bus socket (D-Bus specification, "Well-known Message Bus
    /// Instances"); `DBUS_SYSTEM_BUS_ADDRESS` overrides it.
    pub const DBUS_SYSTEM_SOCKET: &str = "run/dbus/system_bus_socket";
}

/// The directory every absolute path of the program is resolved under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    base: PathBuf,
    run_dir: Option<PathBuf>,
}

impl Root {
    /// `/`, or `$STACD_ROOT` when set and non-empty; `$RUNTIME_DIRECTORY`
    /// (first entry, systemd may list several separated by `:`) moves the
    /// state directory.
    pub fn from_env() -> Root {
        let base = std::env::var_os(ROOT_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/"));
        let run_dir = std::env::var("RUNTIME_DIRECTORY")
            .ok()
            .and_then(|v| v.split(':').next().map(PathBuf::from))
            .filter(|p| !p.as_os_str().is_empty());
        Root { base, run_dir }
    }

    /// A root at `base` (tests), with the state directory under it.
    pub fn new(base: impl Into<PathBuf>) -> Root {
        Root {
            base: base.into(),
            run_dir: None,
        }
    }

    /// True when this is the real `/` (privilege checks only make sense there).
    pub fn is_system(&self) -> bool {
        self.base == Path::new("/")
    }

    pub fn base(&self) -> &Path {
        &self.base
    }

    /// `rel` (no leading `/`, see [`rel`]) under the root.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.base.join(rel.trim_start_matches('/'))
    }

    /// Directory of our state files (`/run/stacd`).
    pub fn run_dir(&self) -> PathBuf {
        match &self.run_dir {
            Some(p) => p.clone(),
            None => self.path(rel::RUN_DIR),
        }
    }

    /// `/sys/class/nvme/<name>`.
    pub fn nvme_ctrl(&self, name: &str) -> PathBuf {
        self.path(rel::CLASS_NVME).join(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_under_the_base() {
        let r = Root::new("/tmp/x");
        assert_eq!(
            r.path(rel::STACD_CONF),
            Path::new("/tmp/x/etc/stas/stacd.conf")
        );
        assert_eq!(
            r.path("/dev/nvme-fabrics"),
            Path::new("/tmp/x/dev/nvme-fabrics")
        );
        assert_eq!(r.run_dir(), Path::new("/tmp/x/run/stacd"));
        assert_eq!(
            r.nvme_ctrl("nvme3"),
            Path::new("/tmp/x/sys/class/nvme/nvme3")
        );
        assert!(!r.is_system());
        assert!(Root::new("/").is_system());
    }
}
