//! The built binary, run as a user would: help, version, usage errors,
//! exit codes against a fake root (STACD_ROOT). What `--dry-run` prints for
//! a root tree is in the golden cases, tests/plan-cases (tests/golden.rs).

mod common;

use common::{ctrl_line, FakeRoot};
use std::process::{Command, Output};

const SUB1: &str = "nqn.2024-01.io.testbed:sub1";

fn stacd(root: Option<&FakeRoot>, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stacd"));
    c.args(args)
        .env_remove("RUNTIME_DIRECTORY")
        .env_remove("NOTIFY_SOCKET");
    match root {
        Some(r) => c.env("STACD_ROOT", &r.dir),
        None => c.env_remove("STACD_ROOT"),
    };
    c.output().expect("run stacd")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn help_fits_80_columns_and_every_spelling_works() {
    for h in ["-h", "--help"] {
        let o = stacd(None, &[h]);
        assert_eq!(o.status.code(), Some(0), "{h}");
        let out = text(&o.stdout);
        assert!(out.starts_with("Usage: stacd"), "{out}");
        for opt in [
            "--conf-file",
            "--syslog",
            "--tron",
            "--version",
            "--idl",
            "--once",
            "--timeout",
            "--dry-run",
        ] {
            assert!(out.contains(opt), "{opt} missing from help");
        }
        for l in out.lines() {
            assert!(l.chars().count() <= 80, "too wide: {l:?}");
        }
    }
}

#[test]
fn version_first_line() {
    for v in ["--version", "-v"] {
        let o = stacd(None, &[v]);
        assert_eq!(o.status.code(), Some(0));
        assert_eq!(
            text(&o.stdout).lines().next(),
            Some(format!("stacd {}", env!("CARGO_PKG_VERSION")).as_str())
        );
    }
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    for bad in [
        &["--bogus"][..],
        &["stray"],
        &["-f"],
        &["--timeout", "5"],
        &["--once", "--timeout", "soon"],
    ] {
        let o = stacd(None, bad);
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
        let err = text(&o.stderr);
        assert!(err.starts_with("stacd: "), "{err}");
        assert!(err.lines().count() <= 2, "{err}");
    }
}

#[cfg(feature = "dbus")]
#[test]
fn idl_writes_the_introspection_xml() {
    let fr = FakeRoot::new("idl");
    let f = fr.path("stac.xml");
    let o = stacd(None, &["--idl", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let x = std::fs::read_to_string(&f).unwrap();
    assert!(
        x.contains(r#"<interface name="org.nvmexpress.stac">"#),
        "{x}"
    );
    assert!(
        x.contains(r#"<interface name="org.nvmexpress.stac.debug">"#),
        "{x}"
    );
    let o = stacd(None, &["--idl", "/nonexistent/x.xml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("/nonexistent/x.xml"));
}

#[cfg(not(feature = "dbus"))]
#[test]
fn without_dbus_idl_and_stacctl_say_so() {
    let o = stacd(None, &["--idl", "/tmp/never-written.xml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("D-Bus is not built into"));
    assert!(!std::path::Path::new("/tmp/never-written.xml").exists());
    let o = stacctl(&["ls"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("D-Bus is not built into"));
}

/// The binary called as `stacctl` (a link), with the bus at `bus`.
fn stacctl(args: &[&str]) -> Output {
    let dir = std::env::temp_dir().join(format!("stacd-cli-ctl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let link = dir.join("stacctl");
    if !link.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_stacd"), &link).expect("stacctl link");
    }
    Command::new(&link)
        .args(args)
        .env("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .output()
        .expect("run stacctl")
}

#[cfg(feature = "dbus")]
#[test]
fn stacctl_usage_and_exit_codes() {
    // docs/design.md §7: no command → usage on stdout, 1; bad → stderr, 2.
    let o = stacctl(&[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stdout).starts_with("usage: stacctl"));
    let o = stacctl(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("invalid choice"));
    let o = stacctl(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    for c in ["tron", "troff", "status", "ls"] {
        assert!(text(&o.stdout).contains(c));
    }
    let o = stacctl(&["-v"]);
    assert_eq!(o.status.code(), Some(0));
    // No bus, no stacd: the original's message, exit 1.
    for cmd in [&["ls"][..], &["ls", "-d"], &["status"], &["tron"]] {
        let o = stacctl(cmd);
        assert_eq!(o.status.code(), Some(1), "{cmd:?}");
        assert!(text(&o.stderr)
            .starts_with("Unable to communicate with stacd over D-Bus. Is stacd running?\n"));
    }
}

#[test]
fn runtime_errors_exit_1() {
    let fr = FakeRoot::new("errors");
    // No /dev/nvme-fabrics in the fake root: cannot run.
    fr.write_conf("[Controllers]\n");
    let o = stacd(Some(&fr), &["--once"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("nvme-fabrics"));
    // A regular file is never written to as if it were the device.
    std::fs::write(fr.path("dev/nvme-fabrics"), "").unwrap();
    let o = stacd(Some(&fr), &["--once"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("not a character device"));
    assert_eq!(std::fs::read(fr.path("dev/nvme-fabrics")).unwrap(), b"");
    // Config and host errors (exit 2): tests/plan-cases/29-no-hostnqn,
    // 31-config-key-outside-section.
}

#[test]
fn closed_stdout_is_not_a_crash() {
    // Rust ignores SIGPIPE: println! on a closed pipe would panic and, with
    // panic=abort, end with SIGABRT (exit 134). `stacd --version | head -n 0`.
    for args in [&["--version"][..], &["--help"], &["--bogus"]] {
        let (r, w) = std::io::pipe().expect("pipe");
        drop(r);
        let o = Command::new(env!("CARGO_BIN_EXE_stacd"))
            .args(args)
            .stdout(w)
            .output()
            .expect("run stacd");
        let want = if args[0] == "--bogus" { 2 } else { 0 };
        assert_eq!(o.status.code(), Some(want), "{args:?}: {:?}", o.status);
    }
}

// The kernel's option table is read once per run, so what it says wrong
// is said once: the engine and the discovery half share it.
#[test]
fn option_table_warning_once() {
    let fr = FakeRoot::new("optwarn");
    fr.write_conf("[Controllers]\n");
    // A character device that reads empty: no option table at all.
    std::os::unix::fs::symlink("/dev/null", fr.path("dev/nvme-fabrics")).expect("link");
    let o = stacd(Some(&fr), &["--once", "--timeout", "1"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(err.matches("option table").count(), 1, "{err}");
}

// `--controller` replacing stacd.conf, and bad ports (exit 2):
// tests/plan-cases/34-37.
#[test]
fn given_controllers_need_once_or_dry_run() {
    let fr = FakeRoot::new("given");
    fr.write_conf(&format!("[Controllers]\n{}", ctrl_line(4421, SUB1)));
    let given = format!("transport=tcp;traddr=127.0.0.1;trsvcid=4420;nqn={SUB1}");
    let o = stacd(Some(&fr), &["--controller", &given]);
    assert_eq!(o.status.code(), Some(2), "--controller needs --once");
}

// --dry-run writes nothing: an undecodable state file is reported and left
// where it is (the daemon and --once set it aside as state.json.bad).
#[test]
fn dry_run_leaves_a_bad_state_file_alone() {
    let fr = FakeRoot::new("drybad");
    fr.write_conf(&format!("[Controllers]\n{}", ctrl_line(4420, SUB1)));
    let state = fr.path("run/stacd/state.json");
    std::fs::write(&state, "{not json").expect("write state");
    let o = stacd(Some(&fr), &["--dry-run"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("cannot be used"), "{err}");
    assert!(!err.contains("set aside"), "{err}");
    assert_eq!(std::fs::read_to_string(&state).unwrap(), "{not json");
    assert!(!common::exists(&fr.path("run/stacd/state.json.bad")));
    assert_eq!(
        std::fs::read_dir(fr.path("run/stacd")).unwrap().count(),
        1,
        "nothing else written"
    );
}

// SIGTERM ends --once early, and it still prints its per-controller
// report (a boot script that stops waiting learns what was live).
#[test]
fn once_reports_when_terminated() {
    let fr = FakeRoot::new("onceterm");
    fr.write_conf(&format!("[Controllers]\n{}", ctrl_line(4420, SUB1)));
    // A character device that takes every write and answers nothing: the
    // connect never succeeds, so only the budget or a signal ends the run.
    std::os::unix::fs::symlink("/dev/null", fr.path("dev/nvme-fabrics")).expect("link");
    let child = Command::new(env!("CARGO_BIN_EXE_stacd"))
        .args(["--once", "--timeout", "60"])
        .env("STACD_ROOT", &fr.dir)
        .env_remove("RUNTIME_DIRECTORY")
        .env_remove("NOTIFY_SOCKET")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn stacd");
    let t0 = std::time::Instant::now();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let o = child.wait_with_output().expect("wait");
    let out = text(&o.stdout);
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(20),
        "not ended by SIGTERM"
    );
    assert_eq!(o.status.code(), Some(4), "{out}{}", text(&o.stderr));
    assert!(
        out.starts_with(&format!("failed - (tcp, 127.0.0.1, 4420, {SUB1})")),
        "{out}"
    );
}
