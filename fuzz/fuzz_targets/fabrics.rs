//! The /dev/nvme-fabrics connect reply and its supported-options table,
//! and a connect option string built for that table.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stacd::kernel::fabrics::parse_reply;
use stacd::model::identity::{IdFields, Identity};
use stacd::model::params::{option_string, ConnectParams, KernelOptions};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(r) = parse_reply(&text) {
        assert_eq!(
            parse_reply(&format!("instance={},cntlid={}\n", r.instance, r.cntlid)),
            Some(r)
        );
        let _ = r.device();
    }
    let k = KernelOptions::parse(&text);
    let id = Identity::new(&IdFields {
        transport: "tcp",
        traddr: "192.168.1.1",
        trsvcid: "4420",
        subsysnqn: "nqn.2014-08.org.nvmexpress:subsys",
        host_traddr: "192.168.1.2",
        host_iface: "eth0",
        host_nqn: "nqn.2014-08.org.nvmexpress:uuid:host",
    });
    if let Ok(id) = id {
        let s = option_string(&id, &ConnectParams::default(), &k, 600);
        // What the kernel does not list is left out, never sent.
        for tok in s.expose().split(',').filter(|t| !t.is_empty()) {
            let name = tok.split('=').next().unwrap_or_default();
            assert!(k.supports(name), "{tok:?} sent, not in {text:?}");
        }
    }
});
