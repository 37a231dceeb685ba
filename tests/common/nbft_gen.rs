//! An NBFT writer (NVM Express Boot Specification 1.0 layout, the offsets
//! `src/sources/boot/nbft/` decodes): a header, the control descriptor, one host
//! descriptor, HFIs with their TCP transport info, SSNS with secondary HFI
//! lists and extended info, discovery descriptors, and security profile
//! descriptors (Figure 21; their flags and lists, the key path as a string).
//!
//! Tested in tests/nbft.rs: real firmware tables, decoded and written
//! again, decode to libnvme's reference dump (tests/fixtures/nbft/diffs);
//! the tables of the two-VM boot tests (examples/nbft-gen.rs,
//! ci/netboot/) are checked against their committed dumps in the same
//! format (tests/fixtures/nbft/generated/).
#![allow(dead_code)]

use std::net::IpAddr;

/// The host descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSpec {
    pub nqn: String,
    pub id: [u8; 16],
    /// Figure 9: valid (1), host ID configured (2), host NQN configured (4),
    /// primary administrative host (bits 4:3).
    pub flags: u8,
}

/// An HFI and its TCP transport info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HfiSpec {
    pub index: u8,
    pub pci_sbdf: u32,
    pub mac: [u8; 6],
    pub vlan: u16,
    pub ip_origin: u8,
    pub ip: IpAddr,
    pub prefix: u8,
    pub gateway: IpAddr,
    pub route_metric: u16,
    pub dns1: IpAddr,
    pub dns2: IpAddr,
    /// Written only with the DHCP override flag (the field is reserved
    /// otherwise).
    pub dhcp_server: Option<IpAddr>,
    pub host_name: Option<String>,
    /// Figure 13: valid (1), global route (2), DHCP override (4).
    pub flags: u8,
}

/// SSNS extended info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtSpec {
    pub controller_id: u16,
    /// Written with the "administratively set" flag when non-zero.
    pub asqsz: u16,
    pub dhcp_root_path: Option<String>,
}

/// A subsystem namespace descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsnsSpec {
    pub index: u16,
    /// Figure 16 (valid, discovered, unavailable, ...); the extended info
    /// bit is set by the writer when `ext` is given.
    pub flags: u16,
    /// Figure 17: valid (1), header digest (2), data digest (4).
    pub trflags: u16,
    pub traddr: IpAddr,
    pub trsvcid: String,
    pub port_id: u16,
    pub nsid: u32,
    pub nid_type: u8,
    pub nid: [u8; 16],
    pub nqn: String,
    pub primary_hfi: u8,
    pub secondary_hfis: Vec<u8>,
    /// 0: none.
    pub discovery: u8,
    pub security: u8,
    pub ext: Option<ExtSpec>,
}

/// A discovery descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscSpec {
    pub index: u8,
    pub hfi: u8,
    pub security: u8,
    pub uri: String,
    pub nqn: Option<String>,
}

/// A security profile descriptor (Figure 21). `flags` as Figure 22:
/// valid (1), in-band authentication (bits 2:1: 1 not required, 2
/// required), secure channel (bits 6:5, the same values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecSpec {
    pub index: u8,
    pub flags: u16,
    pub secret_type: u8,
    pub sec_chan_alg: Vec<u8>,
    pub auth_proto: Vec<u8>,
    pub cipher_suite: Vec<u8>,
    pub dh_grp: Vec<u8>,
    pub sec_hash_func: Vec<u8>,
    pub keypath: Option<String>,
}

pub const SEC_VALID: u16 = 1;
pub const SEC_AUTH_NOT_REQUIRED: u16 = 1 << 1;
pub const SEC_AUTH_REQUIRED: u16 = 2 << 1;
pub const SEC_CHANNEL_NOT_REQUIRED: u16 = 1 << 5;
pub const SEC_CHANNEL_REQUIRED: u16 = 2 << 5;

impl SecSpec {
    /// A valid profile with `flags` (SEC_VALID added) and empty lists.
    pub fn new(index: u8, flags: u16) -> SecSpec {
        SecSpec {
            index,
            flags: flags | SEC_VALID,
            secret_type: 0,
            sec_chan_alg: Vec::new(),
            auth_proto: Vec::new(),
            cipher_suite: Vec::new(),
            dh_grp: Vec::new(),
            sec_hash_func: Vec::new(),
            keypath: None,
        }
    }
}

/// A whole table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub oem_id: [u8; 6],
    pub oem_table_id: [u8; 8],
    pub host: HostSpec,
    pub hfis: Vec<HfiSpec>,
    pub ssns: Vec<SsnsSpec>,
    pub discovery: Vec<DiscSpec>,
    pub security: Vec<SecSpec>,
}

pub const HFI_VALID: u8 = 1;
pub const HFI_GLOBAL_ROUTE: u8 = 2;
pub const HFI_DHCP_OVERRIDE: u8 = 4;
pub const SSNS_VALID: u16 = 1;
pub const SSNS_EXT_INFO: u16 = 1 << 4;
pub const SSNS_UNAVAILABLE: u16 = 0x0100;

fn ip16(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

fn unspec() -> IpAddr {
    "0.0.0.0".parse().expect("address literal")
}

impl HfiSpec {
    /// A static HFI: `ip/prefix` via `gateway` (unspecified: none).
    pub fn fixed(index: u8, mac: [u8; 6], ip: &str, prefix: u8, gateway: &str) -> HfiSpec {
        HfiSpec {
            index,
            pci_sbdf: 0,
            mac,
            vlan: 0,
            ip_origin: 1,
            ip: ip.parse().expect("address literal"),
            prefix,
            gateway: gateway.parse().expect("address literal"),
            route_metric: 0,
            dns1: unspec(),
            dns2: unspec(),
            dhcp_server: None,
            host_name: None,
            flags: HFI_VALID,
        }
    }
}

impl SsnsSpec {
    /// A valid SSNS of namespace 1 at `traddr:trsvcid` through `hfi`.
    pub fn at(index: u16, traddr: &str, trsvcid: &str, nqn: &str, hfi: u8) -> SsnsSpec {
        SsnsSpec {
            index,
            flags: SSNS_VALID,
            trflags: 1,
            traddr: traddr.parse().expect("address literal"),
            trsvcid: trsvcid.to_string(),
            port_id: 0,
            nsid: 1,
            nid_type: 0,
            nid: [0; 16],
            nqn: nqn.to_string(),
            primary_hfi: hfi,
            secondary_hfis: Vec::new(),
            discovery: 0,
            security: 0,
            ext: None,
        }
    }
}

impl Spec {
    pub fn new(host_nqn: &str, host_id: [u8; 16]) -> Spec {
        Spec {
            oem_id: *b"STACD ",
            oem_table_id: *b"TESTBED ",
            host: HostSpec {
                nqn: host_nqn.to_string(),
                id: host_id,
                flags: 0x07,
            },
            hfis: Vec::new(),
            ssns: Vec::new(),
            discovery: Vec::new(),
            security: Vec::new(),
        }
    }

    /// The spec of a decoded table (what a firmware wrote, as far as our
    /// decoder keeps it): writing it must give a table that decodes the
    /// same.
    pub fn from_nbft(t: &stacd::sources::boot::nbft::Nbft) -> Spec {
        let h = t.host.as_ref().expect("a table with a host descriptor");
        let field = |s: &str, n: usize| {
            let mut v = s.as_bytes().to_vec();
            v.resize(n, b' ');
            v
        };
        Spec {
            oem_id: field(&t.header.oem_id, 6).try_into().expect("6 bytes"),
            oem_table_id: field(&t.header.oem_table_id, 8)
                .try_into()
                .expect("8 bytes"),
            host: HostSpec {
                nqn: h.nqn.clone(),
                id: h.id,
                flags: h.flags,
            },
            hfis: t
                .hfis
                .iter()
                .map(|x| HfiSpec {
                    index: x.index,
                    pci_sbdf: x.pci_sbdf,
                    mac: x.mac,
                    vlan: x.vlan,
                    ip_origin: x.ip_origin,
                    ip: x.ip,
                    prefix: x.subnet_mask_prefix,
                    gateway: x.gateway,
                    route_metric: x.route_metric,
                    dns1: x.primary_dns,
                    dns2: x.secondary_dns,
                    dhcp_server: x.dhcp_server,
                    host_name: x.host_name.clone(),
                    flags: x.flags,
                })
                .collect(),
            ssns: t
                .subsystems
                .iter()
                .map(|s| SsnsSpec {
                    index: s.index,
                    flags: s.flags & !SSNS_EXT_INFO,
                    trflags: s.trflags,
                    traddr: s.traddr,
                    trsvcid: s.trsvcid.clone(),
                    port_id: s.subsys_port_id,
                    nsid: s.nsid,
                    nid_type: s.nid_type,
                    nid: s.nid,
                    nqn: s.subsys_nqn.clone(),
                    primary_hfi: s.hfis[0],
                    secondary_hfis: s.hfis[1..].to_vec(),
                    discovery: s.discovery.unwrap_or(0),
                    security: s.security.unwrap_or(0),
                    ext: (s.flags & SSNS_EXT_INFO != 0).then(|| ExtSpec {
                        controller_id: s.controller_id,
                        asqsz: s.asqsz,
                        dhcp_root_path: s.dhcp_root_path.clone(),
                    }),
                })
                .collect(),
            discovery: t
                .discovery
                .iter()
                .map(|d| DiscSpec {
                    index: d.index,
                    hfi: d.hfi.unwrap_or(0),
                    security: d.security.unwrap_or(0),
                    uri: d.uri.clone(),
                    nqn: d.nqn.clone(),
                })
                .collect(),
            security: t
                .security
                .iter()
                .map(|x| SecSpec {
                    index: x.index,
                    flags: x.flags,
                    secret_type: x.secret_type,
                    sec_chan_alg: x.sec_chan_alg.clone(),
                    auth_proto: x.auth_proto.clone(),
                    cipher_suite: x.cipher_suite.clone(),
                    dh_grp: x.dh_grp.clone(),
                    sec_hash_func: x.sec_hash_func.clone(),
                    keypath: x.sec_keypath.clone(),
                })
                .collect(),
        }
    }
}

fn put(b: &mut [u8], at: usize, v: &[u8]) {
    b[at..at + v.len()].copy_from_slice(v);
}

fn heap_ref(b: &mut [u8], at: usize, r: (usize, usize)) {
    put(b, at, &(r.0 as u32).to_le_bytes());
    put(b, at + 4, &(r.1 as u16).to_le_bytes());
}

const HDR: usize = 64;
const CTRL: usize = 64;
const HOST: usize = 32;
const HFI: usize = 32;
const SSNS: usize = 128;
const DISC: usize = 32;
const SEC: usize = 64;
const TRINFO: usize = 128;
const EXT: usize = 18;

/// The heap, placed at `at` in the table.
struct Heap {
    at: usize,
    bytes: Vec<u8>,
}

impl Heap {
    /// A string: the length excludes the NUL that follows, as firmware
    /// stores it.
    fn string(&mut self, s: &str) -> (usize, usize) {
        let off = self.at + self.bytes.len();
        self.bytes.extend_from_slice(s.as_bytes());
        self.bytes.push(0);
        (off, s.len())
    }

    fn blob(&mut self, b: &[u8]) -> (usize, usize) {
        let off = self.at + self.bytes.len();
        self.bytes.extend_from_slice(b);
        (off, b.len())
    }
}

/// The table's bytes, checksum included.
pub fn write(spec: &Spec) -> Vec<u8> {
    let host_at = HDR + CTRL;
    let hfi_at = host_at + HOST;
    let ssns_at = hfi_at + HFI * spec.hfis.len();
    let disc_at = ssns_at + SSNS * spec.ssns.len();
    let sec_at = disc_at + DISC * spec.discovery.len();
    let heap_at = sec_at + SEC * spec.security.len();
    let mut b = vec![0u8; heap_at];
    let mut heap = Heap {
        at: heap_at,
        bytes: Vec::new(),
    };
    // Control descriptor (Figure 10): the lists' offset, length, count.
    let c = HDR;
    b[c] = 1;
    b[c + 1] = 1;
    b[c + 6] = 1;
    put(&mut b, c + 8, &(host_at as u32).to_le_bytes());
    put(&mut b, c + 12, &(HOST as u16).to_le_bytes());
    let list = |b: &mut Vec<u8>, at: usize, off: usize, len: usize, n: usize| {
        if n > 0 {
            put(b, c + at, &(off as u32).to_le_bytes());
            put(b, c + at + 4, &(len as u16).to_le_bytes());
            b[c + at + 7] = n as u8;
        }
    };
    list(&mut b, 16, hfi_at, HFI, spec.hfis.len());
    list(&mut b, 24, ssns_at, SSNS, spec.ssns.len());
    list(&mut b, 32, sec_at, SEC, spec.security.len());
    list(&mut b, 40, disc_at, DISC, spec.discovery.len());
    // Host descriptor (Figure 9).
    b[host_at] = 2;
    b[host_at + 1] = spec.host.flags;
    put(&mut b, host_at + 2, &spec.host.id);
    let r = heap.string(&spec.host.nqn);
    heap_ref(&mut b, host_at + 18, r);
    // HFIs (Figure 11) and their TCP transport info (Figure 13).
    for (i, h) in spec.hfis.iter().enumerate() {
        let d = hfi_at + i * HFI;
        b[d] = 3;
        b[d + 1] = h.index;
        b[d + 2] = 1;
        b[d + 3] = 3;
        let host_name = h.host_name.as_ref().map(|n| heap.string(n));
        let mut ti = vec![0u8; TRINFO];
        ti[0] = 7;
        ti[1] = 1;
        ti[2] = 3;
        ti[3] = 1;
        put(&mut ti, 4, &u16::from(h.index).to_le_bytes());
        ti[6] = h.flags;
        put(&mut ti, 7, &h.pci_sbdf.to_le_bytes());
        put(&mut ti, 11, &h.mac);
        put(&mut ti, 17, &h.vlan.to_le_bytes());
        ti[19] = h.ip_origin;
        put(&mut ti, 20, &ip16(h.ip));
        ti[36] = h.prefix;
        put(&mut ti, 37, &ip16(h.gateway));
        put(&mut ti, 54, &h.route_metric.to_le_bytes());
        put(&mut ti, 56, &ip16(h.dns1));
        put(&mut ti, 72, &ip16(h.dns2));
        if let Some(s) = h.dhcp_server {
            put(&mut ti, 88, &ip16(s));
        }
        if let Some(r) = host_name {
            heap_ref(&mut ti, 104, r);
        }
        let r = heap.blob(&ti);
        heap_ref(&mut b, d + 16, r);
    }
    // SSNS (Figure 15) and extended info (Figure 19).
    for (i, s) in spec.ssns.iter().enumerate() {
        let d = ssns_at + i * SSNS;
        b[d] = 4;
        put(&mut b, d + 1, &s.index.to_le_bytes());
        let flags = s.flags | if s.ext.is_some() { SSNS_EXT_INFO } else { 0 };
        put(&mut b, d + 3, &flags.to_le_bytes());
        b[d + 5] = 3;
        put(&mut b, d + 6, &s.trflags.to_le_bytes());
        b[d + 8] = s.discovery;
        let r = heap.blob(&ip16(s.traddr));
        heap_ref(&mut b, d + 10, r);
        let r = heap.string(&s.trsvcid);
        heap_ref(&mut b, d + 16, r);
        put(&mut b, d + 22, &s.port_id.to_le_bytes());
        put(&mut b, d + 24, &s.nsid.to_le_bytes());
        b[d + 28] = s.nid_type;
        put(&mut b, d + 29, &s.nid);
        b[d + 45] = s.security;
        b[d + 46] = s.primary_hfi;
        if !s.secondary_hfis.is_empty() {
            let r = heap.blob(&s.secondary_hfis);
            heap_ref(&mut b, d + 48, r);
        }
        let r = heap.string(&s.nqn);
        heap_ref(&mut b, d + 54, r);
        if let Some(e) = &s.ext {
            let root = e.dhcp_root_path.as_ref().map(|p| heap.string(p));
            let mut x = vec![0u8; EXT];
            x[0] = 9;
            x[1] = 1;
            put(&mut x, 2, &s.index.to_le_bytes());
            let f: u32 = 1 | if e.asqsz != 0 { 2 } else { 0 };
            put(&mut x, 4, &f.to_le_bytes());
            put(&mut x, 8, &e.controller_id.to_le_bytes());
            put(&mut x, 10, &e.asqsz.to_le_bytes());
            if let Some(r) = root {
                heap_ref(&mut x, 12, r);
            }
            let r = heap.blob(&x);
            heap_ref(&mut b, d + 60, r);
        }
    }
    // Discovery descriptors (Figure 24).
    for (i, x) in spec.discovery.iter().enumerate() {
        let d = disc_at + i * DISC;
        b[d] = 6;
        b[d + 1] = 1;
        b[d + 2] = x.index;
        b[d + 3] = x.hfi;
        b[d + 4] = x.security;
        let r = heap.string(&x.uri);
        heap_ref(&mut b, d + 6, r);
        if let Some(n) = &x.nqn {
            let r = heap.string(n);
            heap_ref(&mut b, d + 12, r);
        }
    }
    // Security profile descriptors (Figure 21): lists as heap objects.
    for (i, x) in spec.security.iter().enumerate() {
        let d = sec_at + i * SEC;
        b[d] = 5;
        b[d + 1] = x.index;
        put(&mut b, d + 2, &x.flags.to_le_bytes());
        b[d + 4] = x.secret_type;
        for (at, v) in [
            (6, &x.sec_chan_alg),
            (12, &x.auth_proto),
            (18, &x.cipher_suite),
            (24, &x.dh_grp),
            (30, &x.sec_hash_func),
        ] {
            if !v.is_empty() {
                let r = heap.blob(v);
                heap_ref(&mut b, d + at, r);
            }
        }
        if let Some(k) = &x.keypath {
            let r = heap.string(k);
            heap_ref(&mut b, d + 36, r);
        }
    }
    b.extend_from_slice(&heap.bytes);
    let len = b.len();
    // Header (Figure 8), then the checksum over all of it.
    put(&mut b, 0, b"NBFT");
    put(&mut b, 4, &(len as u32).to_le_bytes());
    b[8] = 1;
    put(&mut b, 10, &spec.oem_id);
    put(&mut b, 16, &spec.oem_table_id);
    put(&mut b, 36, &(heap_at as u32).to_le_bytes());
    put(&mut b, 40, &((len - heap_at) as u32).to_le_bytes());
    let sum = b.iter().fold(0u8, |a, x| a.wrapping_add(*x));
    b[9] = 0u8.wrapping_sub(sum);
    b
}

pub struct Target<'a> {
    pub traddr: IpAddr,
    pub trsvcid: &'a str,
    pub nqn: &'a str,
}

/// The VM test's table (tests/vm/j-boot-nbft.sh): `host_nqn`/`host_id` in
/// the host descriptor, HFI 1 with `mac` and `ip`/8, one SSNS per target
/// on HFI 1.
pub fn table(
    host_nqn: &str,
    host_id: [u8; 16],
    mac: [u8; 6],
    ip: IpAddr,
    targets: &[Target<'_>],
) -> Vec<u8> {
    let mut s = Spec::new(host_nqn, host_id);
    let mut h = HfiSpec::fixed(1, mac, "0.0.0.0", 8, "0.0.0.0");
    h.ip = ip;
    h.flags = HFI_VALID | HFI_GLOBAL_ROUTE;
    s.hfis.push(h);
    for (i, t) in targets.iter().enumerate() {
        let mut x = SsnsSpec::at((i + 1) as u16, "0.0.0.0", t.trsvcid, t.nqn, 1);
        x.traddr = t.traddr;
        s.ssns.push(x);
    }
    write(&s)
}
