//! The recording [`Fabrics`] double for tests, outside the shipped
//! library: built only for the crate's own unit tests and with the
//! `test-support` feature, which the integration tests, the examples and
//! the benches turn on through the crate's dev-dependency on itself
//! (Cargo.toml). It answers like `/dev/nvme-fabrics` and the sysfs class
//! directory do (kernel `drivers/nvme/host/fabrics.c`, `core.c`): a
//! connect creates `/sys/class/nvme/nvmeN` under the root, a delete
//! removes it.

use super::admin::AdminError;
use super::fabrics::{ConnectError, Fabrics, Reply, FULL_OPTIONS};
use crate::base::root::{rel, Root};
use rustix::io::Errno;
use std::sync::Mutex;

/// Test double: records every option string and, on success, creates the
/// sysfs directory a real kernel would (`uevent` with NVME_* lines,
/// `address`, `subsysnqn`, `hostnqn`, `hostid`, `state`, `cntlid`,
/// `cntrltype`, `transport`), so a following scan sees the controller.
/// `fail` makes connects to a traddr:trsvcid fail with an errno.
#[derive(Debug)]
pub struct Recorder {
    root: Root,
    inner: Mutex<RecState>,
}

#[derive(Debug, Default)]
struct RecState {
    connects: Vec<String>,
    deletes: Vec<String>,
    fail: Vec<(String, Errno)>,
    next_instance: u32,
    options: Option<String>,
    /// Canned log pages: (needle in the controller's `address`, page).
    logs: Vec<(String, Vec<u8>)>,
    log_reads: usize,
    /// The device of every Get Log Page asked for, there or not.
    log_devices: Vec<String>,
}

impl Recorder {
    pub fn new(root: &Root) -> Recorder {
        Recorder {
            root: root.clone(),
            inner: Mutex::new(RecState::default()),
        }
    }

    fn st(&self) -> std::sync::MutexGuard<'_, RecState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Connects whose option string contains `needle` fail with `errno`.
    pub fn fail_when(&self, needle: &str, errno: Errno) {
        self.st().fail.push((needle.to_string(), errno));
    }

    /// Forget earlier `fail_when` rules.
    pub fn heal(&self) {
        self.st().fail.clear();
    }

    /// Answer `options()` with this line (default: every option).
    pub fn set_options(&self, line: &str) {
        self.st().options = Some(line.to_string());
    }

    /// Every option string written so far (secrets included: test only).
    pub fn connects(&self) -> Vec<String> {
        self.st().connects.clone()
    }

    pub fn deletes(&self) -> Vec<String> {
        self.st().deletes.clone()
    }

    /// The device of every log page read asked for, in order (also those
    /// that failed because the device is gone).
    pub fn log_devices(&self) -> Vec<String> {
        self.st().log_devices.clone()
    }

    /// Serve `page` as the discovery log page of controllers whose
    /// `address` attribute contains `needle` (e.g.
    /// `traddr=127.0.0.1,trsvcid=8009`); replaces an earlier page.
    pub fn set_log_page(&self, needle: &str, page: Vec<u8>) {
        let mut st = self.st();
        st.logs.retain(|(n, _)| n != needle);
        st.logs.push((needle.to_string(), page));
    }

    /// Get Log Page commands answered so far.
    pub fn log_reads(&self) -> usize {
        self.st().log_reads
    }

    /// Create a controller directory as the kernel would for `opts`
    /// (also used by tests to fake controllers made by someone else).
    pub fn make_ctrl(&self, opts: &str) -> std::io::Result<Reply> {
        let mut st = self.st();
        let class = self.root.path(rel::CLASS_NVME);
        while class.join(format!("nvme{}", st.next_instance)).exists() {
            st.next_instance += 1;
        }
        let instance = st.next_instance;
        st.next_instance += 1;
        drop(st);
        let kv = |k: &str| {
            opts.split(',')
                .find_map(|t| t.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
                .unwrap_or("")
                .to_string()
        };
        let dir = class.join(format!("nvme{instance}"));
        std::fs::create_dir_all(&dir)?;
        let none = |v: String| if v.is_empty() { "none".to_string() } else { v };
        let uevent = format!(
            "MAJOR=240\nMINOR={instance}\nDEVNAME=nvme{instance}\nNVME_TRTYPE={}\nNVME_TRADDR={}\nNVME_TRSVCID={}\nNVME_HOST_TRADDR={}\nNVME_HOST_IFACE={}\n",
            kv("transport"),
            none(kv("traddr")),
            none(kv("trsvcid")),
            none(kv("host_traddr")),
            none(kv("host_iface")),
        );
        let mut address = format!("traddr={}", kv("traddr"));
        for k in ["trsvcid", "host_traddr", "host_iface"] {
            let v = kv(k);
            if !v.is_empty() {
                address.push_str(&format!(",{k}={v}"));
            }
        }
        let cntlid = (instance + 1) as u16;
        // The kernel's discovery controllers (fabrics.c: the well-known
        // NQN, or the `discovery` option for a unique discovery NQN).
        let discovery = kv("nqn") == crate::model::identity::DISCOVERY_NQN
            || opts.split(',').any(|t| t == "discovery");
        let cntrltype = if discovery { "discovery" } else { "io" };
        let loss = match kv("ctrl_loss_tmo") {
            v if v.is_empty() => "600".to_string(),
            v => v,
        };
        for (name, val) in [
            ("uevent", uevent),
            ("address", address + "\n"),
            ("subsysnqn", kv("nqn") + "\n"),
            ("hostnqn", kv("hostnqn") + "\n"),
            ("hostid", kv("hostid") + "\n"),
            ("transport", kv("transport") + "\n"),
            ("state", "live\n".to_string()),
            ("cntlid", format!("{cntlid}\n")),
            ("cntrltype", format!("{cntrltype}\n")),
            ("ctrl_loss_tmo", format!("{loss}\n")),
            ("delete_controller", String::new()),
        ] {
            std::fs::write(dir.join(name), val)?;
        }
        Ok(Reply { instance, cntlid })
    }
}

impl Fabrics for Recorder {
    fn options(&self) -> Result<String, Errno> {
        Ok(self
            .st()
            .options
            .clone()
            .unwrap_or_else(|| FULL_OPTIONS.to_string()))
    }

    fn connect(&self, opts: &str) -> Result<Reply, ConnectError> {
        let failure = {
            let mut st = self.st();
            st.connects.push(opts.to_string());
            st.fail
                .iter()
                .find(|(n, _)| opts.contains(n.as_str()))
                .map(|f| f.1)
        };
        if let Some(e) = failure {
            return Err(ConnectError::Kernel(e));
        }
        self.make_ctrl(opts)
            .map_err(|e| ConnectError::Kernel(Errno::from_io_error(&e).unwrap_or(Errno::IO)))
    }

    fn delete(&self, name: &str) -> std::io::Result<()> {
        self.st().deletes.push(name.to_string());
        std::fs::remove_dir_all(self.root.nvme_ctrl(name))
    }

    fn get_log_page(
        &self,
        device: &str,
        _lid: u8,
        offset: u64,
        buf: &mut [u8],
        _rae: bool,
    ) -> Result<(), AdminError> {
        self.st().log_devices.push(device.to_string());
        let address = crate::kernel::sysfs::read_attr(&self.root.nvme_ctrl(device), "address")
            .ok_or(AdminError::Os(Errno::NODEV))?;
        let mut st = self.st();
        st.log_reads += 1;
        let page = st
            .logs
            .iter()
            .find(|(n, _)| address.contains(n.as_str()))
            .map(|(_, p)| p.clone())
            .ok_or(AdminError::Status(0x2))?;
        buf.fill(0);
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(page.len());
        let end = start.saturating_add(buf.len()).min(page.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..end - start), page.get(start..end)) {
            dst.copy_from_slice(src);
        }
        Ok(())
    }
}
