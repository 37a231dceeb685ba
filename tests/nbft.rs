//! NBFT decoder against libnvme's reference decodings of real firmware
//! tables (tests/fixtures/nbft, see its README for where they come from).

use stacd::sources::boot::nbft::{self, NbftError, PrimaryAdmin, NID_TYPE_NGUID};
use std::collections::BTreeSet;
use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nbft")
}

fn names(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .expect("fixture directory")
        .map(|e| {
            e.expect("directory entry")
                .file_name()
                .into_string()
                .expect("UTF-8 name")
        })
        .collect()
}

/// Each table's dump equals libnvme's `nbft-dump` output byte for byte,
/// and nothing in a real table is left out.
#[test]
fn every_table_dumps_exactly_as_libnvme() {
    let decoded = nbft::read_all(&fixtures().join("tables"));
    assert!(!decoded.is_empty());
    for (path, result) in decoded {
        let name = path.file_name().expect("file name").to_string_lossy();
        let table = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(table.problems.is_empty(), "{name}: {:?}", table.problems);
        let expected =
            fs::read_to_string(fixtures().join("diffs").join(&*name)).expect("reference dump");
        let dump = table.dump();
        for (n, (got, want)) in dump.lines().zip(expected.lines()).enumerate() {
            assert_eq!(got, want, "{name}: line {}", n + 1);
        }
        assert_eq!(dump, expected, "{name}: whole dump");
    }
}

#[test]
fn every_table_has_a_reference_dump() {
    let tables = names(&fixtures().join("tables"));
    let diffs = names(&fixtures().join("diffs"));
    assert!(!tables.is_empty());
    assert_eq!(tables, diffs);
}

/// An older draft revision (1.32 in its header) and random bytes.
#[test]
fn bad_tables_are_rejected_with_an_error() {
    let decoded = nbft::read_all(&fixtures().join("tables_bad"));
    assert_eq!(decoded.len(), names(&fixtures().join("tables_bad")).len());
    for (path, result) in &decoded {
        let err = result.as_ref().err();
        assert!(err.is_some(), "{} decoded", path.display());
    }
    let by_name = |n: &str| {
        decoded
            .iter()
            .find(|(p, _)| p.ends_with(n))
            .and_then(|(_, r)| r.as_ref().err().cloned())
            .expect(n)
    };
    assert_eq!(
        by_name("NBFT-bad-oldspec"),
        NbftError::Revision {
            major: 1,
            minor: 32
        }
    );
    assert!(matches!(
        by_name("NBFT-random-noise"),
        NbftError::Signature { .. }
    ));
}

/// The typed values of the R760 table, as nvme-stas's test fixture
/// describes it (docs/design.md §10.9).
#[test]
fn r760_typed_fields() {
    let bytes = fs::read(fixtures().join("tables/NBFT-Dell.PowerEdge.R760")).expect("table");
    let t = nbft::parse(&bytes).expect("decodes");
    assert_eq!(t.header.length, 1017);
    assert_eq!(t.header.oem_id, "DELL");
    assert_eq!(t.header.oem_table_id, "PE_SC3");
    assert_eq!(t.header.creator_revision, 0x0100_0013);
    assert_eq!((t.header.heap_offset, t.header.heap_length), (0x1e0, 0x219));
    assert_eq!(
        t.header.driver_signature_text(),
        "Fv(696F2624-E036-4DD2-9A6B-E9BB8A613675)/FvFile(EB487413-0480-4C92-9F17-D19482D325D5)"
    );
    assert_eq!(t.header.driver_signature.len(), 85 + 12, "path and filler");

    let host = t.host.as_ref().expect("host");
    assert_eq!(host.nqn, "nqn.1988-11.com.dell:PowerEdge.R760.1234567");
    assert!(host.host_id_configured && host.host_nqn_configured);
    assert_eq!(host.primary, PrimaryAdmin::NotIndicated);
    assert_eq!(&host.id[..4], b"DELL");

    let v4 = |a, b, c, d| IpAddr::V4(Ipv4Addr::new(a, b, c, d));
    let [hfi] = &t.hfis[..] else {
        panic!("one HFI: {:?}", t.hfis)
    };
    assert_eq!(hfi.index, 1);
    assert_eq!(hfi.transport(), "tcp");
    assert_eq!(hfi.pci_sbdf, 0x4000);
    assert_eq!(hfi.mac, [0xb0, 0x26, 0x28, 0xe8, 0x7c, 0x0e]);
    assert_eq!(hfi.vlan, 0);
    assert_eq!(hfi.ip_origin, 82);
    assert_eq!(hfi.ip, v4(100, 71, 245, 232));
    assert_eq!(hfi.subnet_mask_prefix, 24);
    assert_eq!(hfi.gateway, v4(100, 71, 245, 254));
    assert_eq!(hfi.route_metric, 500);
    assert_eq!(hfi.primary_dns, v4(100, 64, 0, 5));
    assert_eq!(hfi.secondary_dns, v4(100, 64, 0, 6));
    assert_eq!(hfi.dhcp_server, Some(v4(100, 71, 245, 254)));
    assert_eq!(hfi.host_name, None);
    assert!(hfi.global_route && hfi.dhcp_override);

    let [disc] = &t.discovery[..] else {
        panic!("one discovery descriptor: {:?}", t.discovery)
    };
    assert_eq!(disc.hfi, Some(1));
    assert_eq!(disc.security, None);
    assert_eq!(disc.uri, "nvme+tcp://100.71.103.50:8009/");
    assert_eq!(
        disc.nqn.as_deref(),
        Some("nqn.2014-08.org.nvmexpress.discovery")
    );

    assert_eq!(t.subsystems.len(), 2);
    for (s, (addr, cntlid)) in t
        .subsystems
        .iter()
        .zip([(v4(100, 71, 103, 48), 5), (v4(100, 71, 103, 49), 4166)])
    {
        assert_eq!(s.traddr, addr);
        assert_eq!(s.controller_id, cntlid);
        assert_eq!(s.trsvcid, "4420");
        assert_eq!(s.nsid, 148);
        assert_eq!(s.nid_type, NID_TYPE_NGUID);
        assert_eq!(
            s.nid,
            [
                0xc8, 0x24, 0x04, 0xed, 0x9c, 0x15, 0xf5, 0x3b, 0x8c, 0xcf, 0x09, 0x68, 0x00, 0x2e,
                0x0f, 0xca
            ]
        );
        assert_eq!(
            s.subsys_nqn,
            "nqn.1988-11.com.dell:powerstore:00:2a64abf1c5b81F6C4549"
        );
        // The secondary list repeats HFI 1.
        assert_eq!(s.hfis, vec![1]);
        assert_eq!(s.discovery, Some(1));
        assert_eq!(s.asqsz, 0, "admin ASQSZ flag is clear");
        assert!(s.discovered && !s.unavailable);
        assert!(!s.pdu_header_digest_required && !s.data_digest_required);
        assert_eq!(t.hfi(s.hfis[0]).map(|h| h.mac), Some(hfi.mac));
    }
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("stacd-nbft-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn read_all_takes_nbft_files_by_name_order() {
    let dir = TempDir::new("read-all");
    let good = fs::read(fixtures().join("tables/NBFT-empty")).expect("table");
    fs::write(dir.0.join("NBFT2"), &good).expect("write");
    fs::write(dir.0.join("NBFT"), &good).expect("write");
    fs::write(dir.0.join("NBFT1"), b"").expect("write");
    fs::write(dir.0.join("DSDT"), &good).expect("write");
    fs::write(dir.0.join("xNBFT"), &good).expect("write");

    let got = nbft::read_all(&dir.0);
    let listed: Vec<_> = got
        .iter()
        .map(|(p, _)| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    assert_eq!(listed, ["NBFT", "NBFT1", "NBFT2"]);
    assert!(got[0].1.is_ok());
    assert_eq!(
        got[1].1,
        Err(NbftError::TooShort {
            length: 0,
            need: 128
        })
    );
    assert!(got[2].1.is_ok());
}

#[test]
fn read_all_of_a_missing_directory_is_empty() {
    let dir = TempDir::new("missing");
    assert!(nbft::read_all(&dir.0.join("no-such-dir")).is_empty());
    assert!(nbft::read_all(&dir.0).is_empty());
}

mod common;
use common::nbft_gen::{self, Spec};
use common::nbft_layouts;

/// The writer against libnvme's decoder: every real table, decoded by us
/// and written again, decodes to libnvme's reference dump of the original
/// (all but the first line, the size, which differs: the writer packs the
/// heap).
#[test]
fn writer_reproduces_every_real_table() {
    let mut n = 0;
    for (path, result) in nbft::read_all(&fixtures().join("tables")) {
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let t = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        if t.host.is_none() {
            continue; // NBFT-empty: nothing to write
        }
        let bytes = nbft_gen::write(&Spec::from_nbft(&t));
        let again = nbft::parse(&bytes).unwrap_or_else(|e| panic!("{name} rewritten: {e}"));
        assert!(again.problems.is_empty(), "{name}: {:?}", again.problems);
        let want =
            fs::read_to_string(fixtures().join("diffs").join(&name)).expect("reference dump");
        let got = again.dump();
        let body = |s: &str| s.lines().skip(1).map(str::to_string).collect::<Vec<_>>();
        assert_eq!(body(&got), body(&want), "{name}");
        assert_eq!(
            got.lines().next(),
            Some(format!("raw_nbft_size={}", bytes.len()).as_str())
        );
        n += 1;
    }
    assert!(n >= 10, "{n} tables");
}

/// The two-VM tests' tables: the committed files are what the writer makes
/// of tests/common/nbft_layouts.rs, and decode to the committed dumps (the
/// reference decoder's format). Regenerate with
/// `STACD_REGEN=1 cargo test --test nbft generated`.
#[test]
fn generated_netboot_tables_are_current() {
    let dir = fixtures().join("generated");
    for name in nbft_layouts::NAMES {
        let spec = nbft_layouts::layout(name).expect("layout");
        let bytes = nbft_gen::write(&spec);
        let t = nbft::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(t.problems.is_empty(), "{name}: {:?}", t.problems);
        let file = dir.join(format!("NBFT-netboot-{name}"));
        let dump = dir.join(format!("NBFT-netboot-{name}.dump"));
        if std::env::var_os("STACD_REGEN").is_some() {
            fs::write(&file, &bytes).expect("write");
            fs::write(&dump, t.dump()).expect("write");
        }
        assert_eq!(
            fs::read(&file).expect("table"),
            bytes,
            "{} is stale",
            file.display()
        );
        assert_eq!(
            fs::read_to_string(&dump).expect("dump"),
            t.dump(),
            "{} is stale",
            dump.display()
        );
    }
}

/// What the tables say, field by field, as the boot tests rely on it.
#[test]
fn netboot_tables_decode_as_the_topology_needs() {
    let get = |n: &str| nbft::parse(&nbft_gen::write(&nbft_layouts::layout(n).expect(n))).expect(n);
    let t = get("mpath");
    assert_eq!(
        t.host.as_ref().map(|h| h.nqn.as_str()),
        Some(nbft_layouts::HOST_NQN)
    );
    // HFIs in table order (2 first); SSNS name them by index.
    assert_eq!(t.hfis.iter().map(|h| h.index).collect::<Vec<_>>(), [2, 1]);
    let h2 = t.hfi(2).expect("HFI 2");
    assert_eq!(
        (h2.vlan, h2.ip.to_string(), h2.subnet_mask_prefix),
        (100, "fd00:51::2".into(), 64)
    );
    assert_eq!(h2.mac, nbft_layouts::INI_MAC1);
    assert_eq!(t.subsystems[1].hfis, [2]);
    assert_eq!(t.subsystems[1].traddr.to_string(), "fd00:51::1");
    let t = get("dhcp-disc");
    assert!(t.hfis[0].dhcp_override);
    assert_eq!(
        t.hfis[0].dhcp_server.map(|s| s.to_string()).as_deref(),
        Some("192.168.50.1")
    );
    assert_eq!(t.discovery[0].uri, "nvme+tcp://192.168.50.1:8009/");
    assert_eq!(t.subsystems[0].discovery, Some(1));
    assert_eq!(t.subsystems[0].subsys_nqn, nbft_layouts::DISCOVERY_NQN);
    let t = get("fail");
    assert!(t.subsystems[0].unavailable && !t.subsystems[1].unavailable);
    assert_eq!(t.hfi(2).map(|h| h.mac), Some(nbft_layouts::NO_MAC));
    let t = get("v4");
    assert_eq!(
        (t.hfis[0].gateway.to_string(), t.hfis[0].route_metric),
        ("192.168.50.1".into(), 100)
    );
    assert!(t.hfis[0].global_route);
}

/// Broken variants of a written table: each is refused or loses the broken
/// part with a problem naming it, never a panic.
#[test]
fn broken_written_tables_are_reported() {
    let spec = nbft_layouts::layout("mpath").expect("layout");
    let good = nbft_gen::write(&spec);
    let mut bad = good.clone();
    bad[9] = bad[9].wrapping_add(1);
    assert!(matches!(nbft::parse(&bad), Err(NbftError::Checksum { .. })));
    // An SSNS naming an HFI the table does not have: that SSNS is left out.
    let mut s = spec.clone();
    s.ssns[1].primary_hfi = 7;
    let t = nbft::parse(&nbft_gen::write(&s)).expect("decodes");
    assert_eq!(t.subsystems.len(), 1);
    assert!(
        t.problems
            .iter()
            .any(|p| p.to_string().contains("primary HFI index 7 matches no HFI")),
        "{:?}",
        t.problems
    );
    // A secondary HFI that does not exist: noted, the SSNS kept.
    let mut s = spec.clone();
    s.ssns[0].secondary_hfis = vec![9];
    let t = nbft::parse(&nbft_gen::write(&s)).expect("decodes");
    assert_eq!(t.subsystems[0].hfis, [1]);
    assert_eq!(t.problems.len(), 1);
    // Every truncation: an error, never a panic.
    for n in 0..good.len() {
        assert!(nbft::parse(&good[..n]).is_err() || n >= good.len());
    }
}
