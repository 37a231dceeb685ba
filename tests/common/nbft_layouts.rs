//! The NBFTs of the two-VM boot tests (ci/netboot/, docs in its README):
//! the test topology's fixed MACs and addresses, one table per case.
//! `examples/nbft-gen.rs` writes them; tests/nbft.rs checks the committed
//! copies in tests/fixtures/nbft/generated/ and their dumps.
#![allow(dead_code)]

use super::nbft_gen::{
    DiscSpec, HfiSpec, Spec, SsnsSpec, HFI_DHCP_OVERRIDE, HFI_GLOBAL_ROUTE, HFI_VALID,
    SSNS_UNAVAILABLE, SSNS_VALID,
};

/// The initiator's NICs (ci/netboot/run gives QEMU these MACs).
pub const INI_MAC0: [u8; 6] = [0x52, 0x54, 0x00, 0x1e, 0x00, 0x01];
pub const INI_MAC1: [u8; 6] = [0x52, 0x54, 0x00, 0x1e, 0x00, 0x02];
/// A MAC no NIC of the topology has.
pub const NO_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x1e, 0x00, 0x99];
pub const ROOT_NQN: &str = "nqn.2024-01.io.testbed:root";
pub const HOST_NQN: &str = "nqn.2014-08.org.nvmexpress:uuid:5eed0000-0000-4000-8000-00000000b007";
pub const HOST_ID: [u8; 16] = [
    0x5e, 0xed, 0, 0, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0xb0, 0x07,
];
pub const DISCOVERY_NQN: &str = "nqn.2014-08.org.nvmexpress.discovery";

/// The names of the tables, as files `NBFT-netboot-NAME`.
pub const NAMES: &[&str] = &["v4", "mpath", "dhcp-disc", "fail"];

fn spec() -> Spec {
    Spec::new(HOST_NQN, HOST_ID)
}

/// The table called `name`.
pub fn layout(name: &str) -> Option<Spec> {
    let mut s = spec();
    match name {
        // One static IPv4 HFI, one SSNS.
        "v4" => {
            let mut h = HfiSpec::fixed(1, INI_MAC0, "192.168.50.2", 24, "192.168.50.1");
            h.flags = HFI_VALID | HFI_GLOBAL_ROUTE;
            h.route_metric = 100;
            s.hfis.push(h);
            s.ssns
                .push(SsnsSpec::at(1, "192.168.50.1", "4420", ROOT_NQN, 1));
        }
        // Two HFIs, listed in reverse order: HFI 2 is a VLAN (100) with a
        // static IPv6 address on the second NIC, HFI 1 static IPv4 on the
        // first; one SSNS on each, the same subsystem (multipath).
        "mpath" => {
            let mut h2 = HfiSpec::fixed(2, INI_MAC1, "fd00:51::2", 64, "::");
            h2.vlan = 100;
            s.hfis.push(h2);
            let mut h1 = HfiSpec::fixed(1, INI_MAC0, "192.168.50.2", 24, "0.0.0.0");
            h1.flags = HFI_VALID | HFI_GLOBAL_ROUTE;
            s.hfis.push(h1);
            s.ssns
                .push(SsnsSpec::at(1, "192.168.50.1", "4420", ROOT_NQN, 1));
            s.ssns
                .push(SsnsSpec::at(2, "fd00:51::1", "4420", ROOT_NQN, 2));
        }
        // The firmware got its address by DHCP and found the root through
        // a discovery controller: the SSNS names that controller (the
        // discovery NQN, its discovery descriptor).
        "dhcp-disc" => {
            let mut h = HfiSpec::fixed(1, INI_MAC0, "192.168.50.100", 24, "192.168.50.1");
            h.flags = HFI_VALID | HFI_GLOBAL_ROUTE | HFI_DHCP_OVERRIDE;
            h.ip_origin = 3;
            h.dhcp_server = Some("192.168.50.1".parse().expect("address literal"));
            s.hfis.push(h);
            s.discovery.push(DiscSpec {
                index: 1,
                hfi: 1,
                security: 0,
                uri: "nvme+tcp://192.168.50.1:8009/".into(),
                nqn: Some(DISCOVERY_NQN.into()),
            });
            let mut x = SsnsSpec::at(1, "192.168.50.1", "8009", DISCOVERY_NQN, 1);
            x.discovery = 1;
            s.ssns.push(x);
        }
        // Nothing can be reached: SSNS 1 at an address nobody has (the
        // firmware marked it unavailable), SSNS 2 through an HFI whose MAC
        // no NIC has.
        "fail" => {
            s.hfis
                .push(HfiSpec::fixed(1, INI_MAC0, "192.168.50.2", 24, "0.0.0.0"));
            s.hfis
                .push(HfiSpec::fixed(2, NO_MAC, "192.168.51.2", 24, "0.0.0.0"));
            let mut x = SsnsSpec::at(1, "192.168.50.99", "4420", ROOT_NQN, 1);
            x.flags = SSNS_VALID | SSNS_UNAVAILABLE;
            s.ssns.push(x);
            s.ssns
                .push(SsnsSpec::at(2, "192.168.51.1", "4420", ROOT_NQN, 2));
        }
        _ => return None,
    }
    Some(s)
}
