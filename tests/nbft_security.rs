//! NBFT security profiles (NBFT 1.0 Figures 21-22; docs/auth-tls.md
//! section 6) on the boot paths: a profile that asks for in-band
//! authentication gets the host's DH-HMAC-CHAP key, one that requires a
//! secure channel (TLS) is skipped with a note, and one that requires
//! authentication is skipped with a note when the host has no key. The
//! tables are written by tests/common/nbft_gen.rs and read back through the
//! root seam, as at boot.

mod common;

use common::nbft_gen::{
    write, DiscSpec, HfiSpec, SecSpec, Spec, SsnsSpec, SEC_AUTH_NOT_REQUIRED, SEC_AUTH_REQUIRED,
    SEC_CHANNEL_NOT_REQUIRED, SEC_CHANNEL_REQUIRED,
};
use common::FakeRoot;
use stacd::base::root::rel;
use stacd::kernel::netif::IfAddrs;
use stacd::model::secret::Secret;
use stacd::sources::boot::{self, BootInputs, Sources};
use stacd::sources::config::{self, host};

const NQN: &str = "nqn.2014-08.org.nvmexpress:uuid:b0070000-0000-4000-8000-0000000000f7";
const KEY: &str =
    "DHHC-1:00:/YlkjiKPf4TonQ39ZAj+sOxag82hlOyuW/p9Dm0jg1K8OKLZ0oODYYY0Vwc2Q7WH/lB68A==:";

/// SSNS 1-4 at 127.0.0.1:4420 (sub1-sub4) through an HFI without a MAC (no
/// interface needed), with profiles 1 (authentication required), 2 (secure
/// channel required), 3 (nothing supported), 4 (both supported, neither
/// required); a discovery descriptor with profile 1.
fn table() -> Vec<u8> {
    let mut s = Spec::new(
        NQN,
        [0xb0, 7, 0, 0, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0, 0xf7],
    );
    s.hfis
        .push(HfiSpec::fixed(1, [0; 6], "127.0.0.1", 8, "0.0.0.0"));
    for (i, flags) in [
        SEC_AUTH_REQUIRED,
        SEC_CHANNEL_REQUIRED | SEC_AUTH_NOT_REQUIRED,
        0,
        SEC_AUTH_NOT_REQUIRED | SEC_CHANNEL_NOT_REQUIRED,
    ]
    .into_iter()
    .enumerate()
    {
        let n = i as u8 + 1;
        let mut x = SsnsSpec::at(
            u16::from(n),
            "127.0.0.1",
            "4420",
            &format!("nqn.2024-01.io.testbed:sub{n}"),
            1,
        );
        x.security = n;
        s.ssns.push(x);
        let mut p = SecSpec::new(n, flags);
        // What a firmware would add: its hash and DH group lists and the
        // key path of its own store (never used by the host).
        p.sec_hash_func = vec![1, 2];
        p.dh_grp = vec![0, 1];
        p.keypath = Some(format!("redfish://keys/{n}"));
        s.security.push(p);
    }
    s.discovery.push(DiscSpec {
        index: 1,
        hfi: 1,
        security: 1,
        uri: "nvme+tcp://127.0.0.1:8009/".into(),
        nqn: None,
    });
    write(&s)
}

struct Seen {
    /// (subsystem NQN, DH-HMAC-CHAP key given)
    io: Vec<(String, Option<String>)>,
    dc: Vec<Option<String>>,
    notes: Vec<String>,
}

fn boot_with(sys_conf: Option<&str>) -> Seen {
    let fr = FakeRoot::new("nbft-sec");
    std::fs::create_dir_all(fr.path(rel::ACPI_TABLES)).expect("test setup");
    std::fs::write(fr.path(rel::ACPI_TABLES).join("NBFT"), table()).expect("test setup");
    if let Some(t) = sys_conf {
        std::fs::write(fr.path(rel::SYS_CONF), t).expect("test setup");
    }
    let root = fr.root();
    let (conf, _) = config::load_stacd_conf(&fr.conf_path()).expect("config");
    let bi = BootInputs::load(&root, Sources::new(&conf, false, false, false));
    assert!(bi.warnings.is_empty(), "{:?}", bi.warnings);
    assert_eq!(bi.nbfts.len(), 1);
    let (host, _) = host::resolve_host(&root, &root.path(rel::SYS_CONF), &bi.early_hosts())
        .expect("host identity");
    let net = IfAddrs::from_ifaces(Vec::new());
    let mut notes = Vec::new();
    let w = bi.wanted(&conf, &host, &net, &mut notes);
    let d = bi.discovery_targets(&conf, &host, &net, &mut notes);
    let key = |s: &Option<Secret>| s.as_ref().map(|k| k.expose().to_string());
    Seen {
        io: w
            .iter()
            .map(|w| (w.id.subsysnqn.to_string(), key(&w.params.dhchap_secret)))
            .collect(),
        dc: d.iter().map(|d| key(&d.params.dhchap_secret)).collect(),
        notes,
    }
}

#[test]
fn profiles_decode_and_write_back() {
    let t = boot::nbft::parse(&table()).expect("decodes");
    assert!(t.problems.is_empty(), "{:?}", t.problems);
    assert_eq!(t.security.len(), 4);
    let p = t.security_by_index(1).expect("test setup");
    assert_eq!(p.in_band_auth(), boot::nbft::Requirement::Required);
    assert_eq!(p.secure_channel(), boot::nbft::Requirement::NotSupported);
    assert_eq!(p.sec_hash_func, [1, 2]);
    assert_eq!(p.sec_keypath.as_deref(), Some("redfish://keys/1"));
    let p = t.security_by_index(2).expect("test setup");
    assert_eq!(p.secure_channel(), boot::nbft::Requirement::Required);
    assert_eq!(p.in_band_auth(), boot::nbft::Requirement::NotRequired);
    let p = t.security_by_index(4).expect("test setup");
    assert_eq!(p.secure_channel(), boot::nbft::Requirement::NotRequired);
    assert!(t
        .subsystems
        .iter()
        .all(|s| s.security == Some(s.index as u8)));
    assert_eq!(t.discovery[0].security, Some(1));
    // The writer's spec of the decoded table writes the same bytes.
    assert_eq!(write(&Spec::from_nbft(&t)), table());
}

#[test]
fn with_a_host_key_authentication_is_honoured_and_tls_skipped() {
    let s = boot_with(Some(&format!("[Host]\nkey={KEY}\n")));
    let sub = |n: u8| format!("nqn.2024-01.io.testbed:sub{n}");
    assert_eq!(
        s.io,
        [
            (sub(1), Some(KEY.to_string())),
            (sub(3), None),
            (sub(4), Some(KEY.to_string())),
        ],
        "{:?}",
        s.notes
    );
    assert_eq!(s.dc, [Some(KEY.to_string())]);
    assert_eq!(s.notes.len(), 1, "{:?}", s.notes);
    let n = &s.notes[0];
    assert!(n.ends_with("/NBFT SSNS 2: security profile 2 requires a secure channel (NVMe/TCP TLS), which a boot from the NBFT cannot set up (the table holds no PSK, and TLS needs tlshd); skipped"), "{n}");
    assert!(!n.contains(KEY) && !n.contains("redfish"), "{n}");
}

#[test]
fn without_a_host_key_a_path_that_requires_authentication_is_skipped() {
    let s = boot_with(None);
    let sub = |n: u8| format!("nqn.2024-01.io.testbed:sub{n}");
    assert_eq!(s.io, [(sub(3), None), (sub(4), None)], "{:?}", s.notes);
    assert!(s.dc.is_empty(), "{:?}", s.notes);
    let why = "security profile 1 requires in-band authentication (DH-HMAC-CHAP) and the host has no key (sys.conf [Host] key=, /etc/nvme/hostkey); skipped";
    let skipped: Vec<&String> = s.notes.iter().filter(|n| n.ends_with(why)).collect();
    assert_eq!(skipped.len(), 2, "{:?}", s.notes);
    assert!(
        skipped[0].ends_with(&format!("/NBFT SSNS 1: {why}")),
        "{:?}",
        skipped
    );
    assert!(
        skipped[1].ends_with(&format!("/NBFT discovery descriptor 1: {why}")),
        "{:?}",
        skipped
    );
    assert!(s
        .notes
        .iter()
        .any(|n| n.contains("SSNS 2: security profile 2 requires a secure channel")));
    assert_eq!(s.notes.len(), 3, "{:?}", s.notes);
}

/// The table of the VM case tests/vm/v-boot-nbft-auth.sh: the test bed's
/// NBFT host NQN, an HFI without a MAC at 127.0.0.1, SSNS 1 = sub1 with
/// profile 1 (DH-HMAC-CHAP required, SHA-256, ffdhe2048), SSNS 2 = sub2
/// with profile 2 (TLS required). Regenerate with `STACD_REGEN=1 cargo
/// test --test nbft_security vm_table`.
#[test]
fn vm_table_is_current_and_embedded() {
    let mut s = Spec::new(
        NQN,
        [0xb0, 7, 0, 0, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0, 0xf7],
    );
    s.hfis
        .push(HfiSpec::fixed(1, [0; 6], "127.0.0.1", 8, "0.0.0.0"));
    for (n, flags) in [(1u8, SEC_AUTH_REQUIRED), (2, SEC_CHANNEL_REQUIRED)] {
        let mut x = SsnsSpec::at(
            u16::from(n),
            "127.0.0.1",
            "4420",
            &format!("nqn.2024-01.io.testbed:sub{n}"),
            1,
        );
        x.security = n;
        s.ssns.push(x);
        let mut p = SecSpec::new(n, flags);
        p.sec_hash_func = vec![1];
        p.dh_grp = vec![1];
        s.security.push(p);
    }
    let t = write(&s);
    let path = "tests/fixtures/nbft/generated/NBFT-testbed-security";
    if std::env::var_os("STACD_REGEN").is_some() {
        std::fs::write(path, &t).expect("test setup");
    }
    assert_eq!(
        std::fs::read(path).expect("test setup"),
        t,
        "{path} is stale"
    );
    assert_eq!(common::embedded_nbft("tests/vm/v-boot-nbft-auth.sh"), t);
}
