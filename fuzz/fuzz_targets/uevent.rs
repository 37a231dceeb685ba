//! A kernel uevent datagram (`ACTION@DEVPATH\0KEY=VALUE\0...`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(e) = stacd::kernel::uevent::parse(data) {
        assert_eq!(e.get("SUBSYSTEM"), Some("nvme"));
        let _ = (e.is_controller(), e.get("NVME_EVENT"), e.get("NVME_AEN"));
    }
});
