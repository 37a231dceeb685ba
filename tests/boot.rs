//! Boot inputs end to end against a fake root and the recording fabrics
//! double: the kernel command line and an NBFT under the root seam, built-in
//! discovery with canned log pages, `--once` and its hand-off record, the
//! daemon adopting what `--once` left, and the built binary's
//! `--dump-nbft` (what `--dry-run` shows of them: tests/plan-cases).

mod common;

use common::{FakeRoot, HOSTNQN};
use stacd::app::daemon::{Control, Daemon, Inputs};
use stacd::base::root::rel;
use stacd::kernel::fabrics::Fabrics;
use stacd::kernel::fake::Recorder;
use stacd::kernel::netif::IfAddrs;
use stacd::kernel::uevent::Event;
use stacd::model::identity::DISCOVERY_NQN;
use stacd::reconcile::engine::{Engine, Retry};
use stacd::reconcile::state::Store;
use stacd::sources::boot::handoff;
use stacd::sources::boot::{self, BootInputs, Sources};
use stacd::sources::config::{self, host};
use stacd::sources::discovery::logpage::{
    build, tcp_entry, SUBTYPE_CURRENT_DISCOVERY, SUBTYPE_NVME, SUBTYPE_REFERRAL,
};
use stacd::sources::discovery::Discoverer;
use std::process::Command;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const SUB1: &str = "nqn.2024-01.io.testbed:sub1";
const SUB2: &str = "nqn.2024-01.io.testbed:sub2";
const SUB3: &str = "nqn.2024-01.io.testbed:sub3";
const BOOTNQN: &str = "nqn.2014-08.org.nvmexpress:uuid:b0070000-0000-4000-8000-000000000001";
const DC_ADDR: &str = "traddr=127.0.0.1,trsvcid=8009";
/// stacd.conf following one discovery controller at 127.0.0.1 (port 8009).
const DC_CONF: &str = "[Standalone]\ndiscovery-controller = transport=tcp;traddr=127.0.0.1\n";

const FAST: Retry = Retry {
    first: Duration::from_millis(100),
    later: Duration::from_millis(300),
    deadline: Duration::from_secs(5),
};

fn page(genctr: u64, subs: &[&str]) -> Vec<u8> {
    let mut e = vec![tcp_entry(
        SUBTYPE_CURRENT_DISCOVERY,
        "127.0.0.1",
        "8009",
        DISCOVERY_NQN,
    )];
    e.extend(
        subs.iter()
            .map(|s| tcp_entry(SUBTYPE_NVME, "127.0.0.1", "4420", s)),
    );
    e.push(tcp_entry(
        SUBTYPE_REFERRAL,
        "10.9.9.9",
        "8009",
        DISCOVERY_NQN,
    ));
    build(genctr, &e)
}

/// What `stacd --once` does (cli.rs), with the recording kernel.
fn once(fr: &FakeRoot, k: &Arc<Recorder>, budget: Duration) -> (u8, String) {
    let root = fr.root();
    let (conf, _) = config::load_stacd_conf(&fr.conf_path()).expect("config");
    let sources = Sources::new(&conf, false, false, false);
    let bi = BootInputs::load(&root, sources);
    assert!(bi.warnings.is_empty(), "{:?}", bi.warnings);
    let (host, _) = host::resolve_host(&root, &root.path(rel::SYS_CONF), &bi.early_hosts())
        .expect("host identity");
    let mut notes = Vec::new();
    // An interface for each HFI of the tables (found by MAC, as on a host
    // whose NICs the firmware described).
    let net = IfAddrs::from_ifaces(
        bi.nbfts
            .iter()
            .flat_map(|(_, t)| t.hfis.iter())
            .enumerate()
            .map(|(i, h)| stacd::kernel::netif::IfInfo {
                name: format!("nbft{i}"),
                index: 10 + i as u32,
                mac: Some(h.mac),
                ..Default::default()
            })
            .collect(),
    );
    let boot_wanted = bi.wanted(&conf, &host, &net, &mut notes);
    let mut dcs = bi.discovery_targets(&conf, &host, &net, &mut notes);
    dcs.extend(boot::config_discovery_targets(&conf, &host, &mut notes));
    assert!(notes.is_empty(), "{notes:?}");
    let kd: Arc<dyn Fabrics> = k.clone();
    let mut e = Engine::new(&root, kd.clone(), Store::new(&root.run_dir()), FAST);
    e.set_policy(config::DisconnectScope::NoDisconnect, &[]);
    let inputs = Inputs {
        boot: boot_wanted,
        ..Default::default()
    };
    e.set_wanted(inputs.desired(&conf, &host));
    let mut disc = Discoverer::new(kd, false, FAST);
    disc.set_targets(dcs);
    let merge = |discovered| {
        let i = Inputs {
            boot: inputs.boot.clone(),
            discovered,
            stafd: Vec::new(),
        };
        Some(i.desired(&conf, &host))
    };
    let mut out = Vec::new();
    let code = stacd::app::once::run_boot(
        &mut e,
        (!disc.is_empty()).then_some(&mut disc),
        &merge,
        budget,
        stacd::app::once::Policy::default(),
        &mut out,
    );
    let rec = handoff::record(e.wanted(), &e.status());
    handoff::save(&root.run_dir(), &rec).expect("boot.json");
    (code, String::from_utf8(out).expect("utf-8"))
}

fn no_etc_nvme(fr: &FakeRoot) {
    std::fs::remove_file(fr.path("etc/nvme/hostnqn")).expect("rm hostnqn");
    std::fs::remove_file(fr.path("etc/nvme/hostid")).expect("rm hostid");
}

/// A daemon on `fr` with the kernel double `k` and built-in discovery
/// (persistent), as `stacd` builds it from stacd.conf.
fn daemon_with_discovery(fr: &FakeRoot, k: &Arc<Recorder>) -> Daemon {
    let root = fr.root();
    let (conf, _) = config::load_stacd_conf(&fr.conf_path()).expect("stacd.conf");
    let (host, _) = host::load_host(&root, &root.path(rel::SYS_CONF)).expect("host");
    let kd: Arc<dyn Fabrics> = k.clone();
    let e = Engine::new(&root, kd.clone(), Store::new(&root.run_dir()), FAST);
    let mut d = Daemon::new(root.clone(), fr.conf_path(), host, conf, false, e).expect("daemon");
    d.set_discovery(Discoverer::new(kd, true, FAST), Vec::new());
    d
}

/// [`daemon_with_discovery`], run on a thread: its control, and the thread,
/// which gives back the exit code and the daemon.
fn start_daemon(fr: &FakeRoot, k: &Arc<Recorder>) -> (Control, JoinHandle<(u8, Daemon)>) {
    let mut d = daemon_with_discovery(fr, k);
    let ctl = d.control();
    (ctl, std::thread::spawn(move || (d.run(), d)))
}

/// Wait up to 5 s for `f`; fail naming `what` and the controllers.
fn wait_for(fr: &FakeRoot, what: &str, f: &dyn Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(Instant::now() < end, "{what}: {:?}", fr.ctrls());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The discovery controllers in the fake sysfs.
fn discovery_ctrls(fr: &FakeRoot) -> Vec<String> {
    fr.ctrls()
        .into_iter()
        .filter(|c| fr.attr(c, "subsysnqn") == DISCOVERY_NQN)
        .collect()
}

#[test]
fn cmdline_discover_and_connect_without_etc_nvme() {
    let fr = FakeRoot::new("boot-cmdline");
    no_etc_nvme(&fr);
    std::fs::create_dir_all(fr.path("proc")).unwrap();
    std::fs::write(
        fr.path(rel::CMDLINE),
        format!(
            "BOOT_IMAGE=/vmlinuz rd.nvmf.hostnqn={BOOTNQN} rd.nvmf.discover=tcp,127.0.0.1,,8009 \
             rd.nvmf.connect=tcp,127.0.0.1,{SUB3} quiet\n"
        ),
    )
    .unwrap();
    let k = Arc::new(Recorder::new(&fr.root()));
    k.set_log_page(DC_ADDR, page(4, &[SUB1, SUB2]));
    let (code, out) = once(&fr, &k, Duration::from_secs(5));
    assert_eq!(code, stacd::app::exit::OK, "{out}");
    let sent = k.connects();
    // The discovery controller, then the direct connect and the two
    // discovered subsystems, all with the command line's host NQN.
    assert_eq!(sent.len(), 4, "{sent:#?}");
    assert!(
        sent.iter()
            .all(|s| s.contains(&format!("hostnqn={BOOTNQN}"))),
        "{sent:#?}"
    );
    assert!(sent.iter().all(|s| !s.contains(HOSTNQN)));
    let dc: Vec<&String> = sent.iter().filter(|s| s.contains(DISCOVERY_NQN)).collect();
    assert_eq!(dc.len(), 1, "{sent:#?}");
    assert!(dc[0].contains("traddr=127.0.0.1,trsvcid=8009"), "{}", dc[0]);
    for sub in [SUB1, SUB2, SUB3] {
        let s = sent
            .iter()
            .find(|s| s.contains(&format!("nqn={sub},")))
            .expect(sub);
        assert!(s.ends_with("ctrl_loss_tmo=-1"), "boot path: {s}");
    }
    assert!(k.log_reads() >= 3, "header, entries, header");
    // --once deletes the discovery controller it connected.
    assert_eq!(k.deletes().len(), 1);
    assert_eq!(fr.ctrls().len(), 3);
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(out.lines().all(|l| l.starts_with("live nvme")), "{out}");
    let rec = handoff::load(&fr.root().run_dir()).expect("boot.json");
    assert_eq!(rec.connections.len(), 3);
    let mut sources: Vec<&str> = rec.connections.iter().map(|c| c.source.as_str()).collect();
    sources.sort();
    assert_eq!(sources, ["cmdline", "discovery", "discovery"]);
    assert!(rec
        .connections
        .iter()
        .all(|c| c.result == "live" && c.host_nqn == BOOTNQN));
}

#[test]
fn nbft_under_the_root_connects_with_ctrl_loss_tmo_forever() {
    let fr = FakeRoot::new("boot-nbft");
    let table = std::fs::read("tests/fixtures/nbft/tables/NBFT-static-ipv4").unwrap();
    let t = boot::nbft::parse(&table).unwrap();
    std::fs::create_dir_all(fr.path(rel::ACPI_TABLES)).unwrap();
    std::fs::write(fr.path(rel::ACPI_TABLES).join("NBFT"), &table).unwrap();
    let k = Arc::new(Recorder::new(&fr.root()));
    let (code, out) = once(&fr, &k, Duration::from_secs(5));
    assert_eq!(code, stacd::app::exit::OK, "{out}");
    let nqn = &t.host.as_ref().unwrap().nqn;
    let sent = k.connects();
    assert_eq!(sent.len(), t.subsystems.len(), "{sent:#?}");
    for (s, ssns) in sent.iter().zip(&t.subsystems) {
        assert!(
            s.starts_with(&format!(
                "nqn={},transport=tcp,traddr={},",
                ssns.subsys_nqn, ssns.traddr
            )),
            "{s}"
        );
        assert!(
            s.contains(&format!("hostnqn={nqn}")),
            "the table's host NQN: {s}"
        );
        assert!(s.ends_with("ctrl_loss_tmo=-1"), "{s}");
    }
    for c in fr.ctrls() {
        assert_eq!(fr.attr(&c, "ctrl_loss_tmo"), "-1");
    }
    let rec = handoff::load(&fr.root().run_dir()).unwrap();
    assert!(rec
        .connections
        .iter()
        .all(|c| c.source == "nbft" && c.options.starts_with("ctrl_loss_tmo=-1")));
}

#[test]
fn handoff_then_daemon_adopts_without_connecting() {
    let fr = FakeRoot::new("boot-handoff");
    std::fs::create_dir_all(fr.path("proc")).unwrap();
    std::fs::write(
        fr.path(rel::CMDLINE),
        format!("rd.nvmf.connect=tcp,127.0.0.1,{SUB1} rd.nvmf.connect=tcp,127.0.0.1,{SUB2},8009"),
    )
    .unwrap();
    let k = Arc::new(Recorder::new(&fr.root()));
    let (code, out) = once(&fr, &k, Duration::from_secs(5));
    assert_eq!(code, stacd::app::exit::OK, "{out}");
    assert_eq!(k.connects().len(), 2);
    // The real root: the command line is no longer read (--no-cmdline),
    // only boot.json says what the boot paths are.
    let root = fr.root();
    let (conf, _) = config::load_stacd_conf(&fr.conf_path()).unwrap();
    let (host, _) = host::load_host(&root, &root.path(rel::SYS_CONF)).unwrap();
    let rec = handoff::load(&root.run_dir()).unwrap();
    let (boot, skipped) = handoff::to_wanted(&rec);
    assert_eq!((boot.len(), skipped), (2, 0));
    let k2 = Arc::new(Recorder::new(&root));
    let kd: Arc<dyn Fabrics> = k2.clone();
    let e = Engine::new(&root, kd.clone(), Store::new(&root.run_dir()), FAST);
    let mut d = Daemon::new(root.clone(), fr.conf_path(), host, conf, false, e).unwrap();
    d.inputs.boot = boot;
    d.refresh_wanted();
    d.set_discovery(Discoverer::new(kd, true, FAST), Vec::new());
    let ctl = d.control();
    let t = std::thread::spawn(move || {
        let code = d.run();
        (code, d)
    });
    std::thread::sleep(Duration::from_millis(400));
    // A reload with a config that disconnects what it does not want.
    fr.write_conf(
        "[I/O controller connection management]\ndisconnect-scope=only-stas-connections\n",
    );
    ctl.request_reload();
    std::thread::sleep(Duration::from_millis(300));
    ctl.request_stop();
    let (code, d) = t.join().unwrap();
    assert_eq!(code, 0);
    assert!(
        k2.connects().is_empty(),
        "adopted, not connected: {:?}",
        k2.connects()
    );
    assert!(k2.deletes().is_empty(), "boot paths are never disconnected");
    assert_eq!(fr.ctrls().len(), 2);
    let owned = d.engine.owned();
    assert_eq!(owned.len(), 2);
    assert!(owned.values().all(|o| o.boot), "{owned:?}");
    // The ownership record marks them as boot paths too.
    let st = Store::new(&root.run_dir()).load();
    assert!(st.values().all(|o| o.boot));
}

#[test]
fn daemon_follows_a_configured_discovery_controller() {
    let fr = FakeRoot::new("boot-dc");
    fr.write_conf(DC_CONF);
    let root = fr.root();
    let k = Arc::new(Recorder::new(&root));
    k.set_log_page(DC_ADDR, page(1, &[SUB1]));
    let (ctl, t) = start_daemon(&fr, &k);
    let wait_for = |n: usize| {
        let end = Instant::now() + Duration::from_secs(5);
        while fr.ctrls().len() != n {
            assert!(Instant::now() < end, "waiting for {n}: {:?}", fr.ctrls());
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    // The discovery controller (kept: persistent) and sub1.
    wait_for(2);
    let dc = k.connects()[0].clone();
    assert!(
        dc.contains(DISCOVERY_NQN) && dc.contains("keep_alive_tmo=30"),
        "{dc}"
    );
    // The page gains sub2; a reload (SIGHUP) reads it again.
    k.set_log_page(DC_ADDR, page(2, &[SUB1, SUB2]));
    ctl.request_reload();
    wait_for(3);
    ctl.request_stop();
    let (code, d) = t.join().unwrap();
    assert_eq!(code, 0);
    assert_eq!(k.connects().len(), 3, "{:?}", k.connects());
    assert!(k.deletes().is_empty());
    let ids: Vec<String> = d.engine.wanted().iter().map(|w| w.id.to_string()).collect();
    assert_eq!(
        ids,
        [
            format!("(tcp, 127.0.0.1, 4420, {SUB1})"),
            format!("(tcp, 127.0.0.1, 4420, {SUB2})")
        ]
    );
    assert!(d.engine.wanted().iter().all(|w| !w.boot));
}

#[test]
fn discovery_change_event_rereads_the_page() {
    let fr = FakeRoot::new("boot-aen");
    let root = fr.root();
    let k = Arc::new(Recorder::new(&root));
    k.set_log_page(DC_ADDR, page(1, &[SUB1]));
    let (conf, _) = config::parse_stacd_conf(
        "[Standalone]\ndiscovery-controller = transport=tcp;traddr=127.0.0.1\n",
        &fr.conf_path(),
    )
    .unwrap();
    let (host, _) = host::load_host(&root, &root.path(rel::SYS_CONF)).unwrap();
    let dcs = boot::config_discovery_targets(&conf, &host, &mut Vec::new());
    let kd: Arc<dyn Fabrics> = k.clone();
    // The engine holds the discovery controller, discovery reads from it.
    let mut e = Engine::new(&root, kd.clone(), Store::new(&root.run_dir()), FAST);
    e.follow_discovery(Store::discovery(&root.run_dir()));
    let mut disc = Discoverer::new(kd, true, FAST);
    disc.set_targets(dcs);
    let settle = |disc: &mut Discoverer, e: &mut Engine| {
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            let now = Instant::now();
            let changed = disc.step(now, e);
            e.step(now);
            disc.start_reads(now, e);
            if changed {
                return;
            }
            assert!(Instant::now() < end, "no change: {:?}", disc.status());
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    settle(&mut disc, &mut e);
    assert_eq!(disc.wanted().len(), 1);
    let dev = disc.status()[0].device.clone().expect("held");
    let reads = k.log_reads();
    k.set_log_page(DC_ADDR, page(2, &[SUB1, SUB2]));
    let ev = |action: &str, key: &str, val: &str, name: &str| Event {
        action: action.into(),
        name: name.into(),
        props: vec![(key.into(), val.into())],
    };
    // Events of other devices, and other events, change nothing.
    assert!(!disc.on_event(&ev("change", "NVME_AEN", "0x70f002", "nvme99")));
    assert!(!disc.on_event(&ev("change", "NVME_EVENT", "connected", &dev)));
    assert!(disc.on_event(&ev("change", "NVME_AEN", "0x70f002", &dev)));
    // A burst coalesces into reads of the page, not one per event.
    assert!(disc.on_event(&ev("change", "NVME_EVENT", "rediscover", &dev)));
    settle(&mut disc, &mut e);
    assert_eq!(disc.wanted().len(), 2);
    assert!(k.log_reads() > reads);
    assert_eq!(k.connects().len(), 1, "the discovery controller is reused");
}

fn bin(fr: &FakeRoot, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_stacd"))
        .args(args)
        .env("STACD_ROOT", &fr.dir)
        .env_remove("RUNTIME_DIRECTORY")
        .env_remove("NOTIFY_SOCKET")
        .output()
        .expect("run stacd")
}

#[test]
fn binary_dump_nbft() {
    let fr = FakeRoot::new("boot-bin");
    let o = bin(&fr, &["--dump-nbft"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no NBFT table"));
    let name = "NBFT-Dell.PowerEdge.R760";
    let table = std::fs::read(format!("tests/fixtures/nbft/tables/{name}")).unwrap();
    std::fs::create_dir_all(fr.path(rel::ACPI_TABLES)).unwrap();
    std::fs::write(fr.path(rel::ACPI_TABLES).join("NBFT"), &table).unwrap();
    let o = bin(&fr, &["--dump-nbft"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8(o.stdout).unwrap();
    let want = std::fs::read_to_string(format!("tests/fixtures/nbft/diffs/{name}")).unwrap();
    let (head, body) = out.split_once('\n').unwrap();
    assert!(head.starts_with("# ") && head.ends_with("/NBFT"), "{head}");
    assert_eq!(body, want);
    // A rejected table: exit 1, the reason on stderr.
    let bad = std::fs::read("tests/fixtures/nbft/tables_bad/NBFT-random-noise").unwrap();
    std::fs::write(fr.path(rel::ACPI_TABLES).join("NBFT1"), &bad).unwrap();
    let o = bin(&fr, &["--dump-nbft"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("NBFT1: NBFT: "));
    std::fs::remove_file(fr.path(rel::ACPI_TABLES).join("NBFT1")).unwrap();

    // What --dry-run shows of the NBFT's boot paths and the command
    // line's, and each source turned off: tests/plan-cases/38-47.
}

/// The table of the VM test (tests/vm/nbft-boot.sh): the test bed's host
/// NQN, HFI 1 at 127.0.0.1, sub1 and sub2 on 127.0.0.1:4420. Regenerate
/// with `STACD_REGEN=1 cargo test --test boot generated_nbft`.
#[test]
fn generated_nbft_fixture_is_current_and_decodes() {
    use common::nbft_gen::{table, Target};
    let lo = "127.0.0.1".parse().unwrap();
    let t = table(
        "nqn.2014-08.org.nvmexpress:uuid:b0070000-0000-4000-8000-0000000000f7",
        [
            0xb0, 0x07, 0, 0, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0, 0xf7,
        ],
        // No MAC: on loopback, the paths are tied to no interface.
        [0; 6],
        lo,
        &[
            Target {
                traddr: lo,
                trsvcid: "4420",
                nqn: SUB1,
            },
            Target {
                traddr: lo,
                trsvcid: "4420",
                nqn: SUB2,
            },
        ],
    );
    let path = "tests/fixtures/nbft/generated/NBFT-testbed-127.0.0.1";
    if std::env::var_os("STACD_REGEN").is_some() {
        std::fs::write(path, &t).unwrap();
    }
    assert_eq!(std::fs::read(path).unwrap(), t, "{path} is stale");
    let n = boot::nbft::parse(&t).expect("decodes");
    assert!(n.problems.is_empty(), "{:?}", n.problems);
    let h = n.host.as_ref().unwrap();
    assert!(h.nqn.ends_with("0000000000f7") && h.host_nqn_configured);
    assert_eq!(
        boot::uuid_text(&h.id).unwrap(),
        "b0070000-0000-4000-8000-0000000000f7"
    );
    assert_eq!(n.hfis.len(), 1);
    assert_eq!(n.hfis[0].ip.to_string(), "127.0.0.1");
    let subs: Vec<(String, &str, &str)> = n
        .subsystems
        .iter()
        .map(|s| {
            (
                s.traddr.to_string(),
                s.trsvcid.as_str(),
                s.subsys_nqn.as_str(),
            )
        })
        .collect();
    assert_eq!(
        subs,
        [
            ("127.0.0.1".to_string(), "4420", SUB1),
            ("127.0.0.1".to_string(), "4420", SUB2)
        ]
    );
    assert!(n.subsystems.iter().all(|s| s.hfis == [1]));
}

/// The copy of the generated table embedded in tests/vm/j-boot-nbft.sh
/// (base64 between `<<'NBFT'` and `NBFT`) is the fixture.
#[test]
fn vm_case_embeds_the_generated_nbft() {
    assert_eq!(
        common::embedded_nbft("tests/vm/j-boot-nbft.sh"),
        std::fs::read("tests/fixtures/nbft/generated/NBFT-testbed-127.0.0.1").unwrap()
    );
}

#[test]
fn once_reports_an_unreadable_discovery_controller() {
    let fr = FakeRoot::new("boot-dc-fail");
    std::fs::create_dir_all(fr.path("proc")).unwrap();
    std::fs::write(
        fr.path(rel::CMDLINE),
        "rd.nvmf.discover=tcp,127.0.0.1,,8009",
    )
    .unwrap();
    // No page for that address: the controller answers with an error status.
    let k = Arc::new(Recorder::new(&fr.root()));
    let (code, out) = once(&fr, &k, Duration::from_millis(700));
    assert_eq!(code, stacd::app::exit::NONE_LIVE, "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.starts_with(&format!(
            "failed - (tcp, 127.0.0.1, 8009, {DISCOVERY_NQN}) discovery: nvme"
        )),
        "{out}"
    );
    assert!(out.contains("NVMe status 0x2"), "{out}");
    // Retried within the budget, and each connected controller deleted.
    assert!(k.connects().len() >= 2, "{:?}", k.connects());
    assert_eq!(k.deletes().len(), k.connects().len());
    assert!(fr.ctrls().is_empty());
}

#[test]
fn audit_waits_for_discovery_to_answer() {
    // disconnect-scope=all-connections...: a controller only discovery will
    // ask for must not be audited away while the discovery controller has
    // not answered yet (docs/design.md D3: never disconnect because a source is
    // silent).
    let fr = FakeRoot::new("boot-audit");
    fr.write_conf(
        "[I/O controller connection management]\n\
         disconnect-scope = all-connections-matching-disconnect-trtypes\n\
         [Standalone]\ndiscovery-controller = transport=tcp;traddr=127.0.0.1\n",
    );
    let root = fr.root();
    let k = Arc::new(Recorder::new(&root));
    // SUB1 was connected before stacd started (the initramfs, nvme-cli).
    k.make_ctrl(&format!(
        "nqn={SUB1},transport=tcp,traddr=127.0.0.1,trsvcid=4420,hostnqn={}",
        HOSTNQN
    ))
    .unwrap();
    // The discovery controller refuses for now.
    k.fail_when(DISCOVERY_NQN, rustix::io::Errno::CONNREFUSED);
    let (ctl, t) = start_daemon(&fr, &k);
    std::thread::sleep(Duration::from_millis(600));
    assert!(
        k.deletes().is_empty(),
        "audited while discovery was silent: {:?}",
        k.deletes()
    );
    // Discovery answers with SUB1: it is adopted, still nothing deleted.
    k.set_log_page(DC_ADDR, page(1, &[SUB1]));
    k.heal();
    let end = Instant::now() + Duration::from_secs(5);
    while !fr.path("run/stacd/state.json").exists()
        || !std::fs::read_to_string(fr.path("run/stacd/state.json"))
            .unwrap()
            .contains(SUB1)
    {
        assert!(Instant::now() < end, "SUB1 never adopted");
        std::thread::sleep(Duration::from_millis(20));
    }
    ctl.request_stop();
    let (code, _) = t.join().unwrap();
    assert_eq!(code, 0);
    assert!(k.deletes().is_empty(), "{:?}", k.deletes());
    assert!(
        k.connects()
            .iter()
            .all(|c| !c.contains(&format!("nqn={SUB1},"))),
        "SUB1 adopted, not connected again"
    );
}

#[test]
fn restart_keeps_discovered_controllers_until_discovery_answers() {
    // Found by our discovery in a first run; after a restart the discovery
    // controller is silent for a while: nothing may be disconnected.
    let fr = FakeRoot::new("boot-restart-dc");
    fr.write_conf(DC_CONF);
    let root = fr.root();
    let k = Arc::new(Recorder::new(&root));
    k.set_log_page(DC_ADDR, page(1, &[SUB1]));
    let (ctl, t) = start_daemon(&fr, &k);
    let end = Instant::now() + Duration::from_secs(5);
    while fr.ctrls().len() < 2 {
        assert!(Instant::now() < end, "first run: {:?}", fr.ctrls());
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    ctl.request_stop();
    t.join().unwrap();
    // Second run: the discovery controller we held is gone and refuses.
    let dc = discovery_ctrls(&fr).into_iter().next().unwrap();
    std::fs::remove_dir_all(fr.path("sys/class/nvme").join(&dc)).unwrap();
    let k2 = Arc::new(Recorder::new(&root));
    k2.fail_when(DISCOVERY_NQN, rustix::io::Errno::CONNREFUSED);
    let (ctl, t) = start_daemon(&fr, &k2);
    std::thread::sleep(Duration::from_millis(600));
    assert!(
        k2.deletes().is_empty(),
        "disconnected while discovery was silent: {:?}",
        k2.deletes()
    );
    // Discovery answers without SUB1: now it goes.
    k2.set_log_page(DC_ADDR, page(2, &[]));
    k2.heal();
    let end = Instant::now() + Duration::from_secs(5);
    while k2.deletes().is_empty() {
        assert!(
            Instant::now() < end,
            "SUB1 never released after discovery answered"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    ctl.request_stop();
    t.join().unwrap();
    assert!(!k2
        .connects()
        .iter()
        .any(|c| c.contains(&format!("nqn={SUB1},"))));
}

#[test]
fn a_discovery_controller_connected_before_a_restart_goes_with_its_target() {
    // Connected by our discovery, then stacd restarts and finds it live:
    // it is still ours (discovery.json), so removing the target from
    // stacd.conf deletes it, as it does without the restart. Before the
    // record, the restarted daemon took it for someone else's and left it
    // connected, keep-alives and all, until the host rebooted.
    let fr = FakeRoot::new("boot-dc-restart-removed");
    fr.write_conf(DC_CONF);
    let root = fr.root();
    let wait = |what: &str, f: &dyn Fn() -> bool| wait_for(&fr, what, f);
    let dcs = || discovery_ctrls(&fr);
    let k = Arc::new(Recorder::new(&root));
    k.set_log_page(DC_ADDR, page(1, &[SUB1]));
    let (ctl, t) = start_daemon(&fr, &k);
    wait("first run", &|| fr.ctrls().len() == 2);
    let record = root.run_dir().join("discovery.json");
    wait("discovery.json", &|| record.exists());
    ctl.request_stop();
    t.join().unwrap();
    let dc = dcs();
    assert_eq!(dc.len(), 1, "{:?}", fr.ctrls());
    // Second run: the same controller is found, not connected again.
    let k2 = Arc::new(Recorder::new(&root));
    k2.set_log_page(DC_ADDR, page(1, &[SUB1]));
    let (ctl, t) = start_daemon(&fr, &k2);
    wait("page read again", &|| k2.log_reads() >= 2);
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !k2.connects().iter().any(|c| c.contains(DISCOVERY_NQN)),
        "{:?}",
        k2.connects()
    );
    fr.write_conf("[Global]\n");
    ctl.request_reload();
    wait("discovery controller deleted", &|| dcs().is_empty());
    ctl.request_stop();
    t.join().unwrap();
    assert!(k2.deletes().contains(&dc[0]), "{:?}", k2.deletes());
    let text = std::fs::read_to_string(&record).unwrap();
    assert!(!text.contains("127.0.0.1"), "record not cleared: {text}");
}

#[test]
fn a_discovery_controller_someone_else_connected_stays_when_our_target_goes() {
    // Found live at the first start, with no record of ours: stafd's or an
    // administrator's. Dropping our target must not delete it.
    let fr = FakeRoot::new("boot-dc-foreign");
    fr.write_conf(DC_CONF);
    let root = fr.root();
    let k0 = Recorder::new(&root);
    k0.set_log_page(DC_ADDR, page(1, &[SUB1]));
    k0.connect(&format!(
        "nqn={DISCOVERY_NQN},transport=tcp,traddr=127.0.0.1,trsvcid=8009,hostnqn={HOSTNQN}"
    ))
    .expect("a discovery controller of someone else");
    let k = Arc::new(Recorder::new(&root));
    k.set_log_page(DC_ADDR, page(1, &[SUB1]));
    let (ctl, t) = start_daemon(&fr, &k);
    let end = Instant::now() + Duration::from_secs(5);
    while k.log_reads() < 2 || fr.ctrls().len() < 2 {
        assert!(Instant::now() < end, "{:?}", fr.ctrls());
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!k.connects().iter().any(|c| c.contains(DISCOVERY_NQN)));
    fr.write_conf("[Global]\n");
    ctl.request_reload();
    std::thread::sleep(Duration::from_millis(500));
    ctl.request_stop();
    t.join().unwrap();
    let left = discovery_ctrls(&fr);
    assert_eq!(
        left.len(),
        1,
        "someone else's discovery controller deleted: {:?}",
        k.deletes()
    );
}

#[test]
fn a_vanished_discovery_controller_is_replaced_and_never_read_from_again() {
    // The kernel dropped our discovery controller (its ctrl_loss_tmo ran
    // out, say). At the next look the plan connects another one, and the
    // page is read from that one: no read is tried on the gone device.
    let fr = FakeRoot::new("boot-dc-vanished");
    fr.write_conf(DC_CONF);
    let root = fr.root();
    let wait = |what: &str, f: &dyn Fn() -> bool| wait_for(&fr, what, f);
    let k = Arc::new(Recorder::new(&root));
    k.set_log_page(DC_ADDR, page(1, &[SUB1]));
    let (ctl, t) = start_daemon(&fr, &k);
    wait("first run", &|| fr.ctrls().len() == 2);
    let old = discovery_ctrls(&fr).into_iter().next().unwrap();
    std::fs::remove_dir_all(fr.path("sys/class/nvme").join(&old)).unwrap();
    let tries = k.log_devices().len();
    ctl.request_reload();
    wait("a new discovery controller, read", &|| {
        let new = discovery_ctrls(&fr);
        new.len() == 1 && new[0] != old && k.log_devices()[tries..].iter().any(|d| *d == new[0])
    });
    // Past a retry of a failed read (FAST: 100 ms), were there one.
    std::thread::sleep(Duration::from_millis(300));
    ctl.request_stop();
    t.join().unwrap();
    let later = k.log_devices()[tries..].to_vec();
    assert!(!later.contains(&old), "read from the gone {old}: {later:?}");
}
