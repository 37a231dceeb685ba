//! What etc/systemd/stacd.service relies on, with the built binary in a
//! fake root: `Type=notify` (READY=1 once started, RELOADING=1 with
//! MONOTONIC_USEC then READY=1 around a SIGHUP reload, STOPPING=1 on
//! SIGTERM, sd_notify(3)), `ExecReload` by SIGHUP, exit 0 on SIGTERM with
//! no ExecStop, and the state kept in `$RUNTIME_DIRECTORY`.

mod common;

use common::{FakeRoot, HOSTNQN};
use nanoserde::SerJson;
use rustix::process::{kill_process, Pid, Signal};
use stacd::reconcile::state::{OwnedEntry, StateFile};
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn signal(d: &Daemon, sig: Signal) {
    let pid = Pid::from_raw(d.0.id() as i32).expect("pid");
    kill_process(pid, sig).expect("kill");
}

/// The next notification, within 10 s.
fn next(sock: &UnixDatagram) -> String {
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut b = [0u8; 512];
    let n = sock.recv(&mut b).expect("a notification within 10 s");
    String::from_utf8_lossy(&b[..n]).into_owned()
}

#[test]
fn notify_reload_and_stop_as_systemd_sees_them() {
    let fr = FakeRoot::new("service");
    // A character device where /dev/nvme-fabrics is expected: reading it
    // gives no option table, and nothing here writes to it.
    std::os::unix::fs::symlink("/dev/null", fr.path("dev/nvme-fabrics")).expect("link");
    // $RUNTIME_DIRECTORY with an ownership record naming a controller the
    // kernel does not have: stacd must read it there, and rewrite it.
    let run = fr.path("runtime");
    std::fs::create_dir_all(&run).expect("runtime dir");
    let gone = OwnedEntry {
        transport: "tcp".into(),
        traddr: "192.0.2.7".into(),
        trsvcid: "4420".into(),
        subsysnqn: "nqn.2024-01.io.testbed:gone".into(),
        host_nqn: HOSTNQN.into(),
        device: "nvme7".into(),
        origin: "config".into(),
        ..Default::default()
    };
    let record = StateFile {
        version: stacd::reconcile::state::VERSION,
        controllers: vec![gone],
    };
    let state = run.join(stacd::reconcile::state::FILE);
    std::fs::write(&state, record.serialize_json()).expect("state.json");
    let sock_path = fr.path("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind");
    let child = Command::new(env!("CARGO_BIN_EXE_stacd"))
        .env("STACD_ROOT", &fr.dir)
        .env("NOTIFY_SOCKET", &sock_path)
        .env("RUNTIME_DIRECTORY", &run)
        .env(
            "DBUS_SYSTEM_BUS_ADDRESS",
            format!("unix:path={}", fr.path("no-bus").display()),
        )
        .args(["--no-cmdline", "--no-nbft", "--no-discovery"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start stacd");
    let mut d = Daemon(child);
    assert_eq!(next(&sock), "READY=1");

    // systemctl reload: SIGHUP; the reload is announced and completed.
    fr.write_conf("[Global]\ntron=true\n");
    let t0 = Instant::now();
    signal(&d, Signal::HUP);
    let reloading = next(&sock);
    let usec = reloading
        .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
        .and_then(|u| u.parse::<u64>().ok());
    assert!(usec.is_some_and(|u| u > 0), "{reloading:?}");
    assert_eq!(next(&sock), "READY=1");
    assert!(t0.elapsed() < Duration::from_secs(5));

    // systemctl stop: SIGTERM; STOPPING=1, exit 0.
    signal(&d, Signal::TERM);
    assert_eq!(next(&sock), "STOPPING=1");
    let out = std::mem::replace(&mut d.0, Command::new("true").spawn().expect("placeholder"))
        .wait_with_output()
        .expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("reloading"), "{err}");
    assert!(err.contains("connections stay up"), "{err}");
    // The state lives where systemd's RuntimeDirectory= says.
    let forgot = format!(
        "recorded in {} but no longer in the kernel",
        state.display()
    );
    assert!(err.contains(&forgot), "{err}");
    let now = std::fs::read_to_string(&state).expect("state.json");
    assert!(!now.contains("nvme7"), "{now}");
    assert!(!fr.path("run/stacd/state.json").exists());
}
