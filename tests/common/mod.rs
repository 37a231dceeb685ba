//! A fake root for integration tests: a temporary directory with the
//! files stacd reads (/etc/nvme, /etc/stas, /sys/class/nvme, /run/stacd).
#![allow(dead_code)]

pub mod nbft_gen;
pub mod nbft_layouts;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const HOSTNQN: &str = "nqn.2014-08.org.nvmexpress:uuid:7f0f6c1e-2b7e-4e3a-9c43-5a6d1b2c3d4e";
pub const HOSTID: &str = "7f0f6c1e-2b7e-4e3a-9c43-5a6d1b2c3d4e";

pub struct FakeRoot {
    pub dir: PathBuf,
}

static N: AtomicUsize = AtomicUsize::new(0);

impl FakeRoot {
    /// A root with a host identity and an empty /sys/class/nvme.
    pub fn new(tag: &str) -> FakeRoot {
        let dir = std::env::temp_dir().join(format!(
            "stacd-it-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        for d in ["etc/nvme", "etc/stas", "sys/class/nvme", "run/stacd", "dev"] {
            std::fs::create_dir_all(dir.join(d)).expect("mkdir");
        }
        std::fs::write(dir.join("etc/nvme/hostnqn"), format!("{HOSTNQN}\n")).expect("hostnqn");
        std::fs::write(dir.join("etc/nvme/hostid"), format!("{HOSTID}\n")).expect("hostid");
        FakeRoot { dir }
    }

    pub fn root(&self) -> stacd::base::root::Root {
        stacd::base::root::Root::new(&self.dir)
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    pub fn conf_path(&self) -> PathBuf {
        self.path("etc/stas/stacd.conf")
    }

    pub fn write_conf(&self, text: &str) {
        std::fs::write(self.conf_path(), text).expect("write stacd.conf");
    }

    /// Names of the controllers in the fake sysfs, sorted.
    pub fn ctrls(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.path("sys/class/nvme"))
            .expect("class dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    pub fn attr(&self, ctrl: &str, name: &str) -> String {
        std::fs::read_to_string(self.path("sys/class/nvme").join(ctrl).join(name))
            .unwrap_or_default()
            .trim()
            .to_string()
    }
}

impl Drop for FakeRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A `controller=` line for the test bed's addresses.
pub fn ctrl_line(port: u16, nqn: &str) -> String {
    format!("controller = transport=tcp;traddr=127.0.0.1;trsvcid={port};nqn={nqn}\n")
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}

/// The NBFT a VM case embeds: the base64 between `<<'NBFT'` and `NBFT` in
/// the script at `path` (the cases cannot read the repo's fixtures).
pub fn embedded_nbft(path: &str) -> Vec<u8> {
    let script = std::fs::read_to_string(path).expect("VM case");
    let (_, rest) = script.split_once("<<'NBFT'\n").expect("heredoc start");
    let (b64, _) = rest.split_once("\nNBFT\n").expect("heredoc end");
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let sextets: Vec<u8> = b64.bytes().filter_map(val).collect();
    let mut bytes = Vec::new();
    for q in sextets.chunks(4) {
        let n = q.iter().fold(0u32, |a, &x| a << 6 | u32::from(x)) << (6 * (4 - q.len()));
        let out = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        bytes.extend_from_slice(&out[..q.len() * 3 / 4]);
    }
    bytes
}
