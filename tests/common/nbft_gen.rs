//! A small NBFT generator (NVM Express Boot Specification 1.0 layout, the
//! offsets `src/nbft.rs` decodes): one host descriptor, one static IPv4
//! HFI, and one SSNS per target. Used to build the table the VM test hands
//! to stacd through its root seam (tests/fixtures/nbft/generated/).

use std::net::IpAddr;

pub struct Target<'a> {
    pub traddr: IpAddr,
    pub trsvcid: &'a str,
    pub nqn: &'a str,
}

fn ip16(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

fn put(b: &mut [u8], at: usize, v: &[u8]) {
    b[at..at + v.len()].copy_from_slice(v);
}

fn heap_ref(b: &mut [u8], at: usize, off: usize, len: usize) {
    put(b, at, &(off as u32).to_le_bytes());
    put(b, at + 4, &(len as u16).to_le_bytes());
}

/// The table: `host_nqn`/`host_id` in the host descriptor, HFI 1 with `mac`
/// and `ip`/8, one SSNS per target on HFI 1.
pub fn table(
    host_nqn: &str,
    host_id: [u8; 16],
    mac: [u8; 6],
    ip: IpAddr,
    targets: &[Target<'_>],
) -> Vec<u8> {
    const HDR: usize = 64;
    const CTRL: usize = 64;
    const HOST: usize = 32;
    const HFI: usize = 32;
    const SSNS: usize = 128;
    let host_at = HDR + CTRL;
    let hfi_at = host_at + HOST;
    let ssns_at = hfi_at + HFI;
    let heap_at = ssns_at + SSNS * targets.len();
    let mut heap: Vec<u8> = Vec::new();
    // Strings: the length excludes the NUL that follows (as firmware does).
    let string = |heap: &mut Vec<u8>, s: &[u8], nul: bool| -> (usize, usize) {
        let off = heap_at + heap.len();
        heap.extend_from_slice(s);
        if nul {
            heap.push(0);
        }
        (off, s.len())
    };
    let mut b = vec![0u8; heap_at];
    // Control descriptor.
    let c = HDR;
    b[c] = 1;
    b[c + 1] = 1; // version
    b[c + 6] = 1; // valid
    put(&mut b, c + 8, &(host_at as u32).to_le_bytes());
    put(&mut b, c + 12, &(HOST as u16).to_le_bytes());
    put(&mut b, c + 16, &(hfi_at as u32).to_le_bytes());
    put(&mut b, c + 20, &(HFI as u16).to_le_bytes());
    b[c + 23] = 1;
    put(&mut b, c + 24, &(ssns_at as u32).to_le_bytes());
    put(&mut b, c + 28, &(SSNS as u16).to_le_bytes());
    b[c + 31] = targets.len() as u8;
    // Host descriptor: valid, host ID and NQN configured.
    b[host_at] = 2;
    b[host_at + 1] = 0x07;
    put(&mut b, host_at + 2, &host_id);
    let (o, l) = string(&mut heap, host_nqn.as_bytes(), true);
    heap_ref(&mut b, host_at + 18, o, l);
    // HFI 1 and its TCP transport info (128 bytes in the heap).
    b[hfi_at] = 3;
    b[hfi_at + 1] = 1;
    b[hfi_at + 2] = 1;
    b[hfi_at + 3] = 3;
    let mut ti = vec![0u8; 128];
    ti[0] = 7;
    ti[1] = 1;
    put(&mut ti, 4, &1u16.to_le_bytes());
    ti[6] = 0x03; // valid, global route
    put(&mut ti, 11, &mac);
    ti[19] = 1; // ip origin: manual
    put(&mut ti, 20, &ip16(ip));
    ti[36] = 8;
    let (o, l) = string(&mut heap, &ti, false);
    heap_ref(&mut b, hfi_at + 16, o, l);
    for (i, t) in targets.iter().enumerate() {
        let s = ssns_at + i * SSNS;
        b[s] = 4;
        put(&mut b, s + 1, &((i + 1) as u16).to_le_bytes());
        put(&mut b, s + 3, &1u16.to_le_bytes()); // valid
        b[s + 5] = 3;
        put(&mut b, s + 6, &1u16.to_le_bytes()); // transport flags valid
        let (o, l) = string(&mut heap, &ip16(t.traddr), false);
        heap_ref(&mut b, s + 10, o, l);
        let (o, l) = string(&mut heap, t.trsvcid.as_bytes(), true);
        heap_ref(&mut b, s + 16, o, l);
        put(&mut b, s + 24, &1u32.to_le_bytes()); // nsid
        b[s + 46] = 1; // primary HFI
        let (o, l) = string(&mut heap, t.nqn.as_bytes(), true);
        heap_ref(&mut b, s + 54, o, l);
    }
    b.extend_from_slice(&heap);
    let len = b.len();
    // Header.
    put(&mut b, 0, b"NBFT");
    put(&mut b, 4, &(len as u32).to_le_bytes());
    b[8] = 1;
    put(&mut b, 10, b"STACD ");
    put(&mut b, 16, b"TESTBED ");
    put(&mut b, 36, &(heap_at as u32).to_le_bytes());
    put(&mut b, 40, &((len - heap_at) as u32).to_le_bytes());
    let sum = b.iter().fold(0u8, |a, x| a.wrapping_add(*x));
    b[9] = 0u8.wrapping_sub(sum);
    b
}
