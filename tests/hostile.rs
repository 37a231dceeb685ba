//! Issue 12's cases, end to end through the real loaders and the recording
//! fabrics double (or the built binary), as an attacker with write access
//! to one input file (or a careless administrator) would try them. Each
//! test failed on 846fde6; they use only interfaces that commit had, so
//! this file runs against it unchanged.

mod common;

use common::{FakeRoot, HOSTID, HOSTNQN};
use stacd::app::daemon;
use stacd::base::root::rel;
use stacd::kernel::fabrics::Fabrics;
use stacd::kernel::fake::Recorder;
use stacd::reconcile::engine::{Engine, Retry};
use stacd::reconcile::state::Store;
use stacd::sources::config::{self, host};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SUB: &str = "nqn.2024-01.io.testbed:sub1";

/// A key of the kernel's form (DHHC-1, no hash, base64 of 36 bytes).
const KEY: &str = "DHHC-1:00:TqK6pgiTQZtMBKuLDIbyEZHfTfupGOEdBJvzYWkiwpLrhomS:";

const FAST: Retry = Retry {
    first: Duration::from_millis(100),
    later: Duration::from_millis(300),
    deadline: Duration::from_secs(5),
};

/// The option strings the engine writes for `fr`'s configuration, after
/// one round of connects (and the warnings of the loaders).
fn connects(fr: &FakeRoot, boot: Vec<stacd::desired::Wanted>) -> Vec<String> {
    let root = fr.root();
    let (conf, _) = config::load_stacd_conf(&fr.conf_path()).expect("config");
    let (host, _) = host::load_host(&root, &root.path(rel::SYS_CONF)).expect("host");
    let k = Arc::new(Recorder::new(&root));
    let kd: Arc<dyn Fabrics> = k.clone();
    let mut e = Engine::new(&root, kd, Store::new(&root.run_dir()), FAST);
    let inputs = daemon::Inputs {
        boot,
        ..Default::default()
    };
    e.set_wanted(inputs.desired(&conf, &host));
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        e.step(Instant::now());
        if e.in_flight() == 0 && e.status().iter().all(|s| s.attempts > 0 || s.is_live()) {
            break;
        }
        e.wait(Instant::now() + Duration::from_millis(20));
    }
    k.connects()
}

/// The kernel's own split of an option string (fabrics.c,
/// nvmf_parse_options: strsep on ",\n"), as (name, value) pairs.
fn kernel_tokens(s: &str) -> Vec<(String, String)> {
    s.split([',', '\n'])
        .filter(|t| !t.is_empty())
        .map(|t| match t.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (t.to_string(), String::new()),
        })
        .collect()
}

/// No option twice, no NUL, no `evil` NQN, and hostnqn is the host's.
fn assert_intact(strings: &[String]) {
    for s in strings {
        assert!(!s.contains('\0'), "NUL in {s:?}");
        assert!(!s.contains("evil"), "injected: {s:?}");
        let t = kernel_tokens(s);
        let mut names: Vec<&str> = t.iter().map(|(k, _)| k.as_str()).collect();
        names.sort();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n, "an option twice: {s:?}");
        assert!(
            t.iter().any(|(k, v)| k == "hostnqn" && v == HOSTNQN),
            "{s:?}"
        );
        assert!(!t.iter().any(|(k, _)| k == "duplicate_connect"), "{s:?}");
    }
}

fn ctrl(extra: &str) -> String {
    format!("[Controllers]\ncontroller = transport=tcp;traddr=127.0.0.1;trsvcid=4420;nqn={SUB}{extra}\n")
}

// Case 1: a `,` in a DH-HMAC-CHAP key, from each of the three places.
const EVIL_KEY: &str = "DHHC-1:00:S,hostnqn=nqn.evil:x,duplicate_connect";

#[test]
fn case1_controller_keys_cannot_add_options() {
    for key in ["dhchap-secret", "dhchap-ctrl-secret"] {
        let fr = FakeRoot::new("h1a");
        fr.write_conf(&ctrl(&format!(";{key}={EVIL_KEY}")));
        assert_intact(&connects(&fr, vec![]));
    }
    // A key of the kernel's form still goes through, once.
    let fr = FakeRoot::new("h1e");
    fr.write_conf(&ctrl(&format!(";dhchap-secret={KEY}")));
    let c = connects(&fr, vec![]);
    assert_intact(&c);
    assert_eq!(c[0].matches("dhchap_secret=").count(), 1, "{c:?}");
    assert!(c[0].contains(KEY));
}

#[test]
fn case1_sys_conf_key_cannot_add_options() {
    let fr = FakeRoot::new("h1c");
    fr.write_conf(&ctrl(""));
    std::fs::write(fr.path(rel::SYS_CONF), format!("[Host]\nkey={EVIL_KEY}\n")).unwrap();
    let c = connects(&fr, vec![]);
    assert_eq!(c.len(), 1);
    assert_intact(&c);
}

#[test]
fn case1_hostkey_file_cannot_add_options() {
    let fr = FakeRoot::new("h1d");
    fr.write_conf(&ctrl(""));
    std::fs::write(fr.path(rel::HOSTKEY), format!("{EVIL_KEY}\n")).unwrap();
    let c = connects(&fr, vec![]);
    assert_eq!(c.len(), 1);
    assert_intact(&c);
}

// Case 2: a host ID from boot.json or /etc/nvme/hostid.
#[test]
fn case2_boot_json_hostid_cannot_add_options() {
    let fr = FakeRoot::new("h2a");
    fr.write_conf("");
    let rec = format!(
        r#"{{"version":1,"connections":[{{"source":"nbft","transport":"tcp","traddr":"127.0.0.1","trsvcid":"4420","subsysnqn":"{SUB}","host-traddr":"","host-iface":"","host-nqn":"{HOSTNQN}","hostid":"{HOSTID},hostnqn=nqn.evil,duplicate_connect\nnr_io_queues=1","options":"","ctrl-loss-tmo":null,"reconnect-delay":null,"kato":null,"nr-io-queues":null,"queue-size":null,"hdr-digest":null,"data-digest":null,"result":"live"}}]}}"#
    );
    std::fs::write(fr.path("run/stacd/boot.json"), rec).unwrap();
    let boot = stacd::sources::boot::handoff::load(&fr.root().run_dir())
        .map(|r| stacd::sources::boot::handoff::to_wanted(&r).0)
        .unwrap_or_default();
    assert_intact(&connects(&fr, boot));
}

#[test]
fn case2_nul_in_hostid_file_is_refused() {
    let fr = FakeRoot::new("h2b");
    fr.write_conf(&ctrl(""));
    // The first word of the file, NUL and all: the kernel would cut the
    // option string there and drop every option after it.
    std::fs::write(fr.path(rel::HOSTID), format!("{HOSTID}\0junk\n")).unwrap();
    let c = connects(&fr, vec![]);
    assert_eq!(c.len(), 1);
    assert_intact(&c);
}

/// The built binary against `fr`, with /dev/nvme-fabrics a character
/// device that takes any write (/dev/null): it cannot connect, but every
/// code path up to the write runs.
fn run_stacd(fr: &FakeRoot, args: &[&str]) -> std::process::Output {
    let dev = fr.path(rel::FABRICS);
    if !dev.exists() {
        std::os::unix::fs::symlink("/dev/null", &dev).expect("link the fabrics device");
    }
    Command::new(env!("CARGO_BIN_EXE_stacd"))
        .args(args)
        .env("STACD_ROOT", &fr.dir)
        .env_remove("RUNTIME_DIRECTORY")
        .env_remove("NOTIFY_SOCKET")
        .output()
        .expect("run stacd")
}

fn assert_no_panic(o: &std::process::Output, what: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains("panicked") && !err.contains("overflow"),
        "{what}: {err}"
    );
    assert!(
        matches!(o.status.code(), Some(0 | 3 | 4)),
        "{what}: {:?} {err}",
        o.status
    );
}

// Case 3: huge durations aborted stacd.
fn with_cmdline(tag: &str, cmdline: &str) -> FakeRoot {
    let fr = FakeRoot::new(tag);
    fr.write_conf("");
    std::fs::create_dir_all(fr.path("proc")).expect("mkdir proc");
    std::fs::write(fr.path(rel::CMDLINE), cmdline).expect("write cmdline");
    fr
}

#[test]
fn case3_huge_timeout_does_not_panic() {
    let fr = with_cmdline("h3a", "");
    let o = run_stacd(&fr, &["--once", "--timeout", "9223372036854775807"]);
    assert_no_panic(&o, "--timeout");
}

#[test]
fn case3_huge_budget_does_not_panic() {
    let fr = with_cmdline("h3b", "rd.stacd.budget=18446744073709551615");
    let o = run_stacd(&fr, &["--once"]);
    assert_no_panic(&o, "rd.stacd.budget");
}

#[test]
fn case3_huge_grace_does_not_panic() {
    // The grace period counts from the first live controller: one that is
    // already there (adopted), with wait=root.
    let fr = with_cmdline(
        "h3c",
        &format!(
            "rd.stacd.wait=root rd.stacd.grace=18446744073709551615 rd.stacd.budget=3 \
             rd.nvmf.connect=tcp,127.0.0.1,{SUB}-2"
        ),
    );
    fr.write_conf(&ctrl(""));
    let k = Recorder::new(&fr.root());
    k.make_ctrl(&format!(
        "nqn={SUB},transport=tcp,traddr=127.0.0.1,trsvcid=4420,hostnqn={HOSTNQN}"
    ))
    .unwrap();
    let o = run_stacd(&fr, &["--once"]);
    assert_no_panic(&o, "rd.stacd.grace");
    assert!(
        fr.path("run/stacd/boot.json").exists(),
        "the hand-off record is written"
    );
}

// Case 4: the temporary state files followed a planted link.
#[test]
fn case4_state_writes_do_not_follow_links() {
    let fr = FakeRoot::new("h4");
    let run = fr.root().run_dir();
    let target = fr.path("precious");
    std::fs::write(&target, "precious").unwrap();
    let pid = std::process::id();
    for name in ["state.json", "boot.json"] {
        // The old name, and the first names the new code tries.
        for t in [format!(".{name}.{pid}"), format!(".{name}.{pid}.0")] {
            let _ = std::fs::remove_file(run.join(&t));
            std::os::unix::fs::symlink(&target, run.join(t)).unwrap();
        }
    }
    let _ = Store::new(&run).save(&Default::default());
    let _ =
        stacd::sources::boot::handoff::save(&run, &stacd::sources::boot::handoff::record(&[], &[]));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
    assert!(run.join("state.json").is_file() && run.join("boot.json").is_file());
}

// Case 5: one IPv6 path in three spellings was three controllers.
#[test]
fn case5_one_path_is_one_controller() {
    let fr = FakeRoot::new("h5");
    let line = |a: &str| format!("controller = transport=tcp;traddr={a};trsvcid=4420;nqn={SUB}\n");
    fr.write_conf(&format!(
        "[Controllers]\n{}{}{}",
        line("2001:0db8:0000::0001"),
        line("2001:db8::1"),
        line("2001:DB8::1")
    ));
    let c = connects(&fr, vec![]);
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(c[0].contains(",traddr=2001:db8::1,"), "{c:?}");
}

// Case 6: secrets under a misspelled key were kept silently and shown.
#[test]
fn case6_misspelled_secrets_are_warned_and_hidden() {
    let fr = FakeRoot::new("h6");
    fr.write_conf(&ctrl(";dhchap_secret=DHHC-1:00:QK9HhYIk2Ii5KphoKc8ofDErT890kyeysw+BD34lZH/2dUMT:;DHCHAP-SECRET=S2"));
    let (c, w) = config::load_stacd_conf(&fr.conf_path()).expect("config");
    let w: Vec<String> = w.iter().map(ToString::to_string).collect();
    let file = fr.conf_path().display().to_string();
    for key in ["dhchap_secret", "DHCHAP-SECRET"] {
        assert!(
            w.iter()
                .any(|m| m.starts_with(&format!("{file}:2:")) && m.contains(key)),
            "{key}: {w:?}"
        );
    }
    assert!(
        w.iter().all(|m| !m.contains("S1") && !m.contains("S2")),
        "{w:?}"
    );
    let extras = format!("{:?}", c.controllers[0].extras);
    assert!(!extras.contains("S1") && !extras.contains("S2"), "{extras}");
    #[cfg(feature = "dbus")]
    {
        let shown = format!("{:?}", stacd::dbus::conf_extras(&c.controllers[0]));
        assert!(!shown.contains("S1") && !shown.contains("S2"), "{shown}");
    }
}

// Case 7: state files that are not what they claim; unchecked numbers.
#[test]
fn case7_non_utf8_state_is_set_aside() {
    let fr = FakeRoot::new("h7a");
    let run = fr.root().run_dir();
    std::fs::write(run.join("state.json"), b"{\"version\":1,\xff}").unwrap();
    let _ = Store::new(&run).load();
    assert!(
        run.join("state.json.bad").exists(),
        "non-UTF-8 is set aside"
    );
}

#[test]
fn case7_fifo_state_does_not_hang() {
    let fr = FakeRoot::new("h7b");
    let run = fr.root().run_dir();
    let state = run.join("state.json");
    assert!(Command::new("mkfifo")
        .arg(&state)
        .status()
        .unwrap()
        .success());
    let (tx, rx) = std::sync::mpsc::channel();
    let r = run.clone();
    std::thread::spawn(move || {
        let _ = Store::new(&r).load();
        let _ = tx.send(());
    });
    let done = rx.recv_timeout(Duration::from_secs(5)).is_ok();
    if !done {
        // Free the stuck reader before failing.
        let _ = std::fs::OpenOptions::new().write(true).open(&state);
    }
    assert!(done, "a FIFO as state.json hangs");
}

#[test]
fn case7_oversized_state_is_set_aside() {
    let fr = FakeRoot::new("h7c");
    let run = fr.root().run_dir();
    // Valid JSON, then 65 MiB of white space: read whole before.
    let mut text = br#"{"version":1,"controllers":[]}"#.to_vec();
    text.resize(65 << 20, b' ');
    std::fs::write(run.join("state.json"), text).unwrap();
    let _ = Store::new(&run).load();
    assert!(
        run.join("state.json.bad").exists(),
        "an oversized file is set aside"
    );
}

#[test]
fn case7_bad_ports_and_kato_are_warned() {
    // trsvcid=abc / -1: warned, not taken; kato=-5: warned, not dropped silently.
    let fr = FakeRoot::new("h7d");
    fr.write_conf(&format!(
        "[Global]\nkato=-5\n[Controllers]\n\
         controller = transport=tcp;traddr=127.0.0.1;trsvcid=abc;nqn={SUB}\n\
         controller = transport=tcp;traddr=127.0.0.1;trsvcid=-1;nqn={SUB}\n"
    ));
    let (conf, w) = config::load_stacd_conf(&fr.conf_path()).expect("config");
    assert!(
        w.iter().any(|w| w.line == 2 && w.key.contains("kato")),
        "{w:?}"
    );
    let root = fr.root();
    let (host, _) = host::load_host(&root, &root.path(rel::SYS_CONF)).expect("host");
    let mut d = stacd::desired::Desired::default();
    stacd::desired::from_config(&conf, &host, &stacd::desired::system_resolver, &mut d);
    assert!(d.wanted.is_empty(), "{:?}", d.wanted);
    assert_eq!(d.notes.len(), 2, "{:?}", d.notes);
}

#[test]
fn case7_bad_ports_only_are_warned() {
    let fr = FakeRoot::new("h7e");
    fr.write_conf(&format!(
        "[Controllers]\ncontroller = transport=tcp;traddr=127.0.0.1;trsvcid=abc;nqn={SUB}\n"
    ));
    let (conf, _) = config::load_stacd_conf(&fr.conf_path()).expect("config");
    let root = fr.root();
    let (host, _) = host::load_host(&root, &root.path(rel::SYS_CONF)).expect("host");
    let mut d = stacd::desired::Desired::default();
    stacd::desired::from_config(&conf, &host, &stacd::desired::system_resolver, &mut d);
    assert_eq!((d.wanted.len(), d.notes.len()), (0, 1), "{:?}", d.notes);
}

// Case 7: parsing was quadratic. Not a speed test: the bound is twenty
// times what the linear parse takes in a debug build; the quadratic one
// took minutes there.
fn parse_within_20_s(text: &str) {
    let t = Instant::now();
    config::parse_stacd_conf(text, std::path::Path::new("stacd.conf")).expect("parses");
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
}

#[test]
fn case7_many_sections_parse_in_linear_time() {
    parse_within_20_s(
        &(0..100_000)
            .map(|i| format!("[S{i}]\n"))
            .collect::<String>(),
    );
}

#[test]
fn case7_many_keys_parse_in_linear_time() {
    let keys: String = (0..100_000).map(|i| format!("k{i}=v;")).collect();
    parse_within_20_s(&format!("[Controllers]\ncontroller=transport=tcp;{keys}\n"));
}
