//! What a controller's sysfs directory holds: the `address` attribute's
//! `src_addr=`, the device name, and a whole controller directory read
//! back (uevent, address, state, cntlid, ...). The input is the
//! attributes' contents separated by `\0`; the directory is a scratch one
//! of this process.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stacd::kernel::sysfs::{instance_of, read_ctrl, src_addr};
use std::path::PathBuf;
use std::sync::OnceLock;

const ATTRS: [&str; 9] = [
    "uevent",
    "address",
    "state",
    "cntlid",
    "cntrltype",
    "hostid",
    "subsysnqn",
    "hostnqn",
    "transport",
];

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir()
            .join(format!("stacd-fuzz-sysfs-{}", std::process::id()))
            .join("nvme0");
        let _ = std::fs::create_dir_all(&d);
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let a = src_addr(&text);
    assert!(!a.contains([',', '\n']), "{a:?}");
    let _ = instance_of(&text);
    let d = dir();
    let mut parts = data.split(|b| *b == 0);
    for name in ATTRS {
        let p = d.join(name);
        let _ = match parts.next() {
            Some(v) => std::fs::write(&p, v),
            None => std::fs::remove_file(&p),
        };
    }
    let c = read_ctrl(d, "nvme0");
    if let Some(c) = c {
        let _ = (c.is_io(), c.is_fabrics(), c.is_dying(), c.is_live());
    }
});
