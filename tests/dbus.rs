//! stacd on D-Bus, against a private `dbus-daemon` started by each test
//! (never the host's bus) with the system bus's default policy and our
//! policy file (etc/dbus-1/system.d/org.nvmexpress.stac.conf). Outside
//! clients are `busctl` and `dbus-send`, as a user would call them; stafd is
//! a stand-in owning org.nvmexpress.staf on the same bus that answers
//! get_all_log_pages and emits the real signals. stacd runs in-process on a
//! fake root with the recording kernel double, so connects and disconnects
//! are visible. Python's strict XML parser reads the introspection XML.
//! Needs the `dbus-daemon`, `dbus-bin` (dbus-send), `systemd` (busctl),
//! `util-linux` (setpriv) and `python3` packages.
#![cfg(feature = "dbus")]
// The helpers below are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::{ctrl_line, FakeRoot, HOSTNQN};
use stacd::app::daemon::{Control, Daemon};
use stacd::base::json::{self, Json};
use stacd::base::root::rel;
use stacd::kernel::fabrics::Fabrics;
use stacd::kernel::fake::Recorder;
use stacd::reconcile::engine::{Engine, Retry};
use stacd::reconcile::state::Store;
use stacd::sources::config::{self, host};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const SUB1: &str = "nqn.2024-01.io.testbed:sub1";
const SUB2: &str = "nqn.2024-01.io.testbed:sub2";
const SUB3: &str = "nqn.2024-01.io.testbed:sub3";
const NAME: &str = "org.nvmexpress.stac";
const PATH: &str = "/org/nvmexpress/stac";
const DEBUG: &str = "org.nvmexpress.stac.debug";
const NOBODY: &str = "65534";

const FAST: Retry = Retry {
    first: Duration::from_millis(100),
    later: Duration::from_millis(300),
    deadline: Duration::from_secs(5),
};

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A private system-like bus listening on the fake root's socket.
struct Bus {
    child: Child,
    addr: String,
    sock: PathBuf,
    conf: PathBuf,
}

impl Bus {
    fn start(fr: &FakeRoot) -> Bus {
        let sock = fr.path(rel::DBUS_SYSTEM_SOCKET);
        std::fs::create_dir_all(sock.parent().unwrap()).unwrap();
        let conf = fr.path("bus.conf");
        let policy = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/etc/dbus-1/system.d/org.nvmexpress.stac.conf"
        );
        // Not root (a developer's machine): the caller plays root's part.
        let me = if is_root() {
            String::new()
        } else {
            format!(
                r#"<policy user="{}"><allow own="{NAME}"/><allow send_destination="{NAME}"/></policy>"#,
                rustix::process::geteuid().as_raw()
            )
        };
        // The default policy of Debian's system.conf, a permissive policy
        // for the stafd stand-in, then our file.
        std::fs::write(
            &conf,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={sock}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
  <policy context="default">
    <allow own="org.nvmexpress.staf"/>
    <allow send_destination="org.nvmexpress.staf"/>
  </policy>
  {me}
  <include>{policy}</include>
</busconfig>
"#,
                sock = sock.display()
            ),
        )
        .unwrap();
        let _ = std::fs::remove_file(&sock);
        let child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .arg("--nofork")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (Debian package dbus-daemon) must be installed");
        let b = Bus {
            child,
            addr: format!("unix:path={}", sock.display()),
            sock,
            conf,
        };
        wait_for("the private bus", 5, || b.sock.exists());
        b
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.sock);
    }

    fn restart(&mut self) {
        self.stop();
        let child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", self.conf.display()))
            .arg("--nofork")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = child;
        wait_for("the private bus again", 5, || self.sock.exists());
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        self.stop();
    }
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// stacd in-process on the fake root, running its loop on a thread.
struct Stacd {
    control: Control,
    handle: Option<JoinHandle<u8>>,
}

impl Stacd {
    fn start(fr: &FakeRoot, kernel: &Arc<Recorder>) -> Stacd {
        let root = fr.root();
        let (conf, _) = config::load_stacd_conf(&fr.conf_path()).expect("config");
        let (host, _) = host::load_host(&root, &root.path(rel::SYS_CONF)).expect("host");
        let k: Arc<dyn Fabrics> = kernel.clone();
        let engine = Engine::new(&root, k, Store::new(&root.run_dir()), FAST);
        let mut d = Daemon::new(root, fr.conf_path(), host, conf, false, engine).expect("daemon");
        let control = d.control();
        let handle = std::thread::spawn(move || d.run());
        Stacd {
            control,
            handle: Some(handle),
        }
    }

    fn stop(&mut self) -> u8 {
        self.control.request_stop();
        self.handle
            .take()
            .map_or(0, |h| h.join().expect("stacd thread"))
    }
}

impl Drop for Stacd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(mut c: Command) -> Output {
    c.output().expect("run client")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `busctl --address=... ARGS`, as `uid` when given (setpriv).
fn busctl_as(uid: Option<&str>, bus: &Bus, args: &[&str]) -> Output {
    let mut c = match uid {
        Some(u) => {
            let mut c = Command::new("setpriv");
            c.args([
                &format!("--reuid={u}"),
                &format!("--regid={u}"),
                "--clear-groups",
                "busctl",
            ]);
            c
        }
        None => Command::new("busctl"),
    };
    c.arg(format!("--address={}", bus.addr)).args(args);
    run(c)
}

fn busctl(bus: &Bus, args: &[&str]) -> Output {
    busctl_as(None, bus, args)
}

/// A method call's reply as busctl's JSON `data` array.
fn call(bus: &Bus, iface: &str, method: &str, sig_args: &[&str]) -> Vec<Json> {
    let mut a = vec!["--json=short", "call", NAME, PATH, iface, method];
    a.extend_from_slice(sig_args);
    let o = busctl(bus, &a);
    assert!(o.status.success(), "{method}: {}", text(&o.stderr));
    let v = json::parse(text(&o.stdout).trim()).expect("busctl JSON");
    match v.get("data") {
        Some(Json::Arr(a)) => a.clone(),
        _ => panic!("no data in {v:?}"),
    }
}

fn list(bus: &Bus, detailed: bool) -> Vec<Json> {
    let d = call(bus, NAME, "list_controllers", &["b", &detailed.to_string()]);
    match d.first() {
        Some(Json::Arr(l)) => l.clone(),
        o => panic!("list_controllers: {o:?}"),
    }
}

fn s<'a>(v: &'a Json, k: &str) -> &'a str {
    v.get(k)
        .and_then(Json::as_str)
        .unwrap_or_else(|| panic!("{k} missing in {v:?}"))
}

/// stafd's JSON for DLPEs (traddr, trsvcid, subnqn, subtype).
fn pages(entries: &[(&str, &str, &str, &str)]) -> String {
    let e: Vec<String> = entries
        .iter()
        .map(|(a, p, n, t)| {
            format!(
                r#"{{"trtype": "tcp", "adrfam": "ipv4", "traddr": "{a}", "trsvcid": "{p}", "subnqn": "{n}", "subtype": "{t}", "treq": "not specified", "portid": "1", "cntlid": "65535", "asqsz": "32", "eflags": "0"}}"#
            )
        })
        .collect();
    format!(
        r#"[{{"discovery-controller": {{"transport": "tcp", "traddr": "127.0.0.1", "trsvcid": "8009", "subsysnqn": "nqn.2014-08.org.nvmexpress.discovery", "host-traddr": "", "host-iface": "", "host-nqn": "{HOSTNQN}", "origin": null}}, "log-pages": [{}]}}]"#,
        e.join(", ")
    )
}

/// The stafd stand-in: owns org.nvmexpress.staf, answers
/// get_all_log_pages with whatever the test put in `pages`.
struct FakeStafd {
    pages: Arc<Mutex<String>>,
    calls: Arc<Mutex<u32>>,
}

#[zbus::interface(name = "org.nvmexpress.staf")]
impl FakeStafd {
    #[zbus(name = "get_all_log_pages")]
    fn get_all_log_pages(&self, detailed: bool) -> String {
        assert!(detailed, "stacd asks for the detailed pages");
        *self.calls.lock().unwrap() += 1;
        self.pages.lock().unwrap().clone()
    }
}

struct Stafd {
    conn: Option<zbus::blocking::Connection>,
    pages: Arc<Mutex<String>>,
    calls: Arc<Mutex<u32>>,
}

impl Stafd {
    fn start(bus: &Bus, text: String) -> Stafd {
        let pages = Arc::new(Mutex::new(text));
        let calls = Arc::new(Mutex::new(0));
        let conn = zbus::blocking::connection::Builder::address(bus.addr.as_str())
            .unwrap()
            .serve_at(
                "/org/nvmexpress/staf",
                FakeStafd {
                    pages: pages.clone(),
                    calls: calls.clone(),
                },
            )
            .unwrap()
            .name("org.nvmexpress.staf")
            .unwrap()
            .build()
            .expect("stafd stand-in on the bus");
        Stafd {
            conn: Some(conn),
            pages,
            calls,
        }
    }

    fn set(&self, text: String) {
        *self.pages.lock().unwrap() = text;
    }

    fn calls(&self) -> u32 {
        *self.calls.lock().unwrap()
    }

    /// `log_pages_changed` with stafd's eight string arguments.
    fn changed(&self) {
        let c = self.conn.as_ref().unwrap();
        c.emit_signal(
            None::<&str>,
            "/org/nvmexpress/staf",
            "org.nvmexpress.staf",
            "log_pages_changed",
            &(
                "tcp",
                "127.0.0.1",
                "8009",
                "nqn.2014-08.org.nvmexpress.discovery",
                "",
                "",
                HOSTNQN,
                "nvme9",
            ),
        )
        .unwrap();
    }

    fn dc_removed(&self) {
        let c = self.conn.as_ref().unwrap();
        c.emit_signal(
            None::<&str>,
            "/org/nvmexpress/staf",
            "org.nvmexpress.staf",
            "dc_removed",
            &(),
        )
        .unwrap();
    }

    /// stafd dies: its connection closes, the name goes away.
    fn kill(&mut self) {
        if let Some(c) = self.conn.take() {
            let _ = c.close();
        }
    }
}

fn stacctl(bus: &Bus, uid: Option<&str>, args: &[&str]) -> Output {
    let dir = std::env::temp_dir().join(format!("stacd-ctl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("stacctl");
    if !link.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_stacd"), &link).unwrap();
    }
    let mut c = match uid {
        Some(u) => {
            let mut c = Command::new("setpriv");
            c.args([
                &format!("--reuid={u}"),
                &format!("--regid={u}"),
                "--clear-groups",
            ])
            .arg(&link);
            c
        }
        None => Command::new(&link),
    };
    c.args(args).env("DBUS_SYSTEM_BUS_ADDRESS", &bus.addr);
    run(c)
}

/// Every method and property, as busctl and dbus-send see them, checked
/// against docs/design.md §6; bad input; stacctl.
#[test]
fn service_answers_like_the_original() {
    let fr = FakeRoot::new("dbus-svc");
    std::fs::write(
        fr.path("etc/nvme/hostkey"),
        "DHHC-1:00:JU6Mv3HGFPLhiO00kYIaLegm/aWohqf887sIm00nOfq6UBFN:\n",
    )
    .unwrap();
    fr.write_conf(&format!(
        "[Controllers]\n{}controller = transport=tcp;traddr=127.0.0.2;trsvcid=4420;nqn={SUB2};kato=71;hdr-digest=true;dhchap-ctrl-secret=DHHC-1:00:OSegEdauCRtQ0zXn3/WGLhVMzCoDG2vJXOwdUcw2rhGDe+sc:;zone=blue\n",
        ctrl_line(4420, SUB1)
    ));
    let bus = Bus::start(&fr);
    let k = Arc::new(Recorder::new(&fr.root()));
    k.fail_when("127.0.0.2", rustix::io::Errno::CONNREFUSED);
    let _d = Stacd::start(&fr, &k);
    wait_for("stacd on the bus", 5, || {
        busctl(&bus, &["status", NAME]).status.success()
    });
    wait_for("the first controller", 5, || {
        list(&bus, false).iter().any(|c| s(c, "device") == "nvme0")
    });

    // Introspection: member names and signatures (§6.2, §6.3).
    let o = busctl(&bus, &["introspect", NAME, PATH]);
    let intro = text(&o.stdout);
    for (member, sig, result) in [
        (".list_controllers", "b", "aa{ss}"),
        (".controller_info", "sssssss", "s"),
        (".process_info", "-", "s"),
        (".log_level", "s", ""),
        (".tron", "b", ""),
    ] {
        let line = intro
            .lines()
            .find(|l| l.starts_with(&format!("{member} ")))
            .unwrap_or_else(|| panic!("{member} not in\n{intro}"));
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f[2], sig, "{line}");
        if !result.is_empty() {
            assert_eq!(f[3], result, "{line}");
        }
    }
    assert!(intro
        .lines()
        .any(|l| l.starts_with(".tron ") && l.contains("writable")));
    assert!(!intro
        .lines()
        .any(|l| l.starts_with(".log_level ") && l.contains("writable")));

    // list_controllers(false): the as-map keys, extras, device (§6.2).
    let l = list(&bus, false);
    assert_eq!(l.len(), 2);
    let Json::Obj(m) = &l[0] else { panic!() };
    let mut keys: Vec<&str> = m.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "device",
            "host-iface",
            "host-nqn",
            "host-traddr",
            "subsysnqn",
            "traddr",
            "transport",
            "trsvcid"
        ]
    );
    assert_eq!(s(&l[0], "host-nqn"), HOSTNQN);
    assert_eq!(s(&l[1], "device"), "nvme?");
    assert_eq!(s(&l[1], "kato"), "71");
    assert_eq!(s(&l[1], "hdr-digest"), "True");
    assert_eq!(s(&l[1], "zone"), "blue");
    assert_eq!(s(&l[1], "dhchap-ctrl-secret"), "<redacted>");

    // list_controllers(true).
    let l = list(&bus, true);
    assert_eq!(s(&l[0], "connected"), "True");
    assert_eq!(s(&l[0], "hostnqn"), HOSTNQN);
    assert_eq!(s(&l[0], "dlpe"), "None");
    assert_eq!(s(&l[0], "dlpe.eflags.ncc"), "False");
    assert_eq!(s(&l[0], "retry connect timer"), "0.3s [off]");
    assert_eq!(s(&l[1], "connected"), "False");
    assert!(
        s(&l[1], "connect operation").starts_with("{'fail count': "),
        "{l:?}"
    );
    for k in [
        "connect attempts",
        "model",
        "serial",
        "dctype",
        "cntrltype",
        "hostid",
    ] {
        s(&l[0], k);
    }

    // process_info, as dbus-send prints it.
    let o = run({
        let mut c = Command::new("dbus-send");
        c.args([
            &format!("--bus={}", bus.addr),
            "--print-reply=literal",
            &format!("--dest={NAME}"),
            PATH,
            &format!("{DEBUG}.process_info"),
        ]);
        c
    });
    assert!(o.status.success(), "{}", text(&o.stderr));
    let pi = json::parse(text(&o.stdout).trim()).expect("process_info is JSON");
    let Json::Obj(m) = &pi else { panic!() };
    let keys: Vec<&str> = m.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "tron",
            "log-level",
            "hostnqn",
            "hostid",
            "hostkey",
            "symname",
            "last known config file",
            "config soak timer",
            "kernel support.TP8013",
            "kernel support.host_iface",
            "terminator.audit timer"
        ]
    );
    assert_eq!(pi.get("tron"), Some(&Json::Bool(false)));
    assert_eq!(s(&pi, "hostkey"), "<redacted>");
    assert_eq!(s(&pi, "kernel support.host_iface"), "True");

    // controller_info: known, unknown (§6.2).
    let ci = |args: &[&str]| {
        let mut a = vec!["sssssss"];
        a.extend_from_slice(args);
        let d = call(&bus, DEBUG, "controller_info", &a);
        json::parse(d[0].as_str().unwrap()).unwrap()
    };
    let c = ci(&["tcp", "127.0.0.1", "4420", SUB1, "", "", HOSTNQN]);
    assert_eq!(s(&c, "device"), "nvme0");
    assert_eq!(s(&c, "connect attempts"), "0");
    let c = ci(&["tcp", "127.0.0.2", "", SUB2, "", "", HOSTNQN]);
    assert_eq!(s(&c, "dhchap-ctrl-secret"), "<redacted>");
    for unknown in [
        &["tcp", "127.0.0.9", "4420", SUB1, "", "", HOSTNQN][..],
        &["tcp", "127.0.0.1", "4420", SUB1, "", "", ""],
        &["bogus", "", "", "", "", "", ""],
    ] {
        assert_eq!(ci(unknown), Json::Obj(vec![]), "{unknown:?}");
    }

    // Properties.
    let prop = |p: &str| {
        let o = busctl(
            &bus,
            &["--json=short", "get-property", NAME, PATH, DEBUG, p],
        );
        assert!(o.status.success(), "{}", text(&o.stderr));
        json::parse(text(&o.stdout).trim())
            .unwrap()
            .get("data")
            .cloned()
            .unwrap()
    };
    assert_eq!(prop("tron"), Json::Bool(false));
    assert_eq!(prop("log_level"), Json::Str("INFO".into()));
    let o = busctl(
        &bus,
        &["set-property", NAME, PATH, DEBUG, "tron", "b", "true"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(prop("tron"), Json::Bool(true));
    assert_eq!(prop("log_level"), Json::Str("DEBUG".into()));
    // log_level is read-only.
    let o = busctl(
        &bus,
        &["set-property", NAME, PATH, DEBUG, "log_level", "s", "INFO"],
    );
    assert!(!o.status.success());

    // Bad input: clear errors, and the service keeps answering.
    for (method, iface, args) in [
        ("controller_info", DEBUG, &["i", "5"][..]),
        ("controller_info", DEBUG, &["ss", "tcp", "x"]),
        ("list_controllers", NAME, &["s", "yes"]),
        ("ListControllers", NAME, &["b", "true"]),
        ("no_such_method", DEBUG, &[]),
    ] {
        let mut a = vec!["call", NAME, PATH, iface, method];
        a.extend_from_slice(args);
        let o = busctl(&bus, &a);
        assert!(!o.status.success(), "{method} {args:?} accepted");
        let err = text(&o.stderr).to_lowercase();
        assert!(
            err.contains("invalid") || err.contains("unknown") || err.contains("signature"),
            "{method}: {err}"
        );
    }
    let o = busctl(
        &bus,
        &["set-property", NAME, PATH, DEBUG, "tron", "s", "yes"],
    );
    assert!(!o.status.success());
    assert_eq!(list(&bus, false).len(), 2, "still answering");

    // stacctl, the same binary by another name.
    let o = stacctl(&bus, None, &["ls"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let ls = json::parse(&text(&o.stdout)).expect("stacctl ls prints JSON");
    let Json::Arr(ls) = ls else { panic!() };
    assert_eq!(s(&ls[0], "device"), "nvme0");
    let o = stacctl(&bus, None, &["ls", "--detailed"]);
    assert!(text(&o.stdout).contains("\"retry connect timer\""));
    let o = stacctl(&bus, None, &["status"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let st = json::parse(&text(&o.stdout)).unwrap();
    assert_eq!(st.get("tron"), Some(&Json::Bool(true)));
    let Some(Json::Arr(cs)) = st.get("controllers") else {
        panic!("{st:?}")
    };
    assert_eq!(cs.len(), 2);
    assert_eq!(s(&cs[0], "connect attempts"), "0");
    let o = stacctl(&bus, None, &["troff"]);
    assert_eq!(text(&o.stdout), "tron = False\n");
    assert_eq!(prop("tron"), Json::Bool(false));
    let o = stacctl(&bus, None, &["tron"]);
    assert_eq!(text(&o.stdout), "tron = True\n");
    assert!(!text(&stacctl(&bus, None, &["status"]).stdout).contains("secret:"));
}

/// The policy: anyone may read, only root may set `tron` (§6.4 with our
/// redaction); the caller is switched to nobody with setpriv.
#[test]
fn non_root_callers_may_read_but_not_set() {
    assert!(
        is_root(),
        "this test switches to another user with setpriv: run it as root (CI does)"
    );
    let fr = FakeRoot::new("dbus-policy");
    fr.write_conf(&format!("[Controllers]\n{}", ctrl_line(4420, SUB1)));
    // nobody must reach the socket under the temporary root.
    let mut p = fr.dir.clone();
    loop {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(&p) {
            let mode = m.permissions().mode();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode | 0o755)).unwrap();
        }
        if p.as_os_str() == std::env::temp_dir().as_os_str() || !p.pop() {
            break;
        }
    }
    let bus = Bus::start(&fr);
    let k = Arc::new(Recorder::new(&fr.root()));
    let _d = Stacd::start(&fr, &k);
    wait_for("stacd on the bus", 5, || {
        busctl(&bus, &["status", NAME]).status.success()
    });
    let n = Some(NOBODY);
    let o = busctl_as(
        n,
        &bus,
        &["call", NAME, PATH, NAME, "list_controllers", "b", "true"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = busctl_as(n, &bus, &["call", NAME, PATH, DEBUG, "process_info"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = busctl_as(n, &bus, &["get-property", NAME, PATH, DEBUG, "tron"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = busctl_as(n, &bus, &["introspect", NAME, PATH]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = busctl_as(
        n,
        &bus,
        &["set-property", NAME, PATH, DEBUG, "tron", "b", "true"],
    );
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("ccess denied"),
        "{}",
        text(&o.stderr)
    );
    // stacctl as nobody: ls works, tron is refused with the original's message.
    let o = stacctl(&bus, n, &["ls"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = stacctl(&bus, n, &["tron"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr)
        .starts_with("Unable to communicate with stacd over D-Bus. Is stacd running?"));
    let o = busctl(&bus, &["get-property", NAME, PATH, DEBUG, "tron"]);
    assert_eq!(text(&o.stdout).trim(), "b false");
    // Nobody may not own the name either.
    let o = busctl_as(
        n,
        &bus,
        &[
            "call",
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "RequestName",
            "su",
            NAME,
            "4",
        ],
    );
    assert!(!o.status.success());
}

/// stafd as a source: entries appear → connected; one disappears →
/// disconnected (only-stas-connections); stafd killed, restarted, answering
/// garbage, absent at stacd's restart → nothing dropped.
#[test]
fn stafd_entries_are_connected_and_kept_while_stafd_is_away() {
    let fr = FakeRoot::new("dbus-stafd");
    fr.write_conf("[Controllers]\nexclude = traddr=127.0.0.3\n");
    let bus = Bus::start(&fr);
    let mut staf = Stafd::start(
        &bus,
        pages(&[
            ("127.0.0.1", "4420", SUB1, "nvme"),
            ("127.0.0.2", "4420", SUB2, "nvme"),
            ("127.0.0.3", "4420", SUB3, "nvme"),
            (
                "127.0.0.1",
                "8009",
                "nqn.2014-08.org.nvmexpress.discovery",
                "referral",
            ),
        ]),
    );
    let k = Arc::new(Recorder::new(&fr.root()));
    let mut d = Stacd::start(&fr, &k);
    wait_for("two connects", 8, || k.connects().len() == 2);
    let c = k.connects().join("\n");
    assert!(
        c.contains(&format!(
            "nqn={SUB1},transport=tcp,traddr=127.0.0.1,trsvcid=4420"
        )),
        "{c}"
    );
    assert!(c.contains("traddr=127.0.0.2"), "{c}");
    assert!(
        !c.contains("127.0.0.3") && !c.contains("8009"),
        "excluded and referral: {c}"
    );
    wait_for("both listed with a device", 5, || {
        list(&bus, false)
            .iter()
            .filter(|c| s(c, "device") != "nvme?")
            .count()
            == 2
    });
    let l = list(&bus, true);
    assert!(s(&l[0], "dlpe").contains("'subtype': 'nvme'"), "{l:?}");
    assert_eq!(s(&l[0], "connected"), "True");
    let before_changes = staf.calls();

    // An entry disappears: its controller is disconnected.
    staf.set(pages(&[("127.0.0.1", "4420", SUB1, "nvme")]));
    staf.changed();
    wait_for("one disconnect", 8, || k.deletes().len() == 1);
    assert!(staf.calls() > before_changes);
    // The view is published right after the step that disconnected.
    wait_for("the list without it", 2, || list(&bus, false).len() == 1);

    // dc_removed also triggers a fetch.
    let n = staf.calls();
    staf.dc_removed();
    wait_for("a fetch after dc_removed", 8, || staf.calls() > n);

    // stafd dies: nothing is dropped.
    staf.kill();
    std::thread::sleep(Duration::from_secs(2));
    // It comes back answering garbage: still nothing dropped.
    let staf = Stafd::start(&bus, "this is not JSON".into());
    staf.changed();
    wait_for("a fetch of garbage", 8, || staf.calls() > 0);
    std::thread::sleep(Duration::from_millis(500));
    staf.set(r#"[{"discovery-controller": {}, "log-pages": [{"traddr": 5}]}]"#.into());
    staf.changed();
    wait_for("a fetch of malformed entries", 8, || staf.calls() > 1);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(k.deletes().len(), 1, "garbage from stafd dropped nothing");
    let p = call(&bus, DEBUG, "process_info", &[]);
    assert!(p[0].as_str().is_some());
    // ...then sane again, with the same entry: no new connect, no disconnect.
    staf.set(pages(&[("127.0.0.1", "4420", SUB1, "nvme")]));
    staf.changed();
    wait_for("a fetch after restart", 8, || staf.calls() > 2);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(k.connects().len(), 2);
    assert_eq!(k.deletes().len(), 1);
    let l = list(&bus, false);
    assert_eq!(l.len(), 1);
    assert_eq!(s(&l[0], "traddr"), "127.0.0.1");

    // stacd restarts while stafd is away: the controller stays.
    drop(staf);
    assert_eq!(d.stop(), 0);
    drop(d);
    let d = Stacd::start(&fr, &k);
    wait_for("stacd on the bus", 5, || {
        busctl(&bus, &["status", NAME]).status.success()
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        k.deletes().len(),
        1,
        "nothing disconnected while stafd is away"
    );
    assert_eq!(k.connects().len(), 2, "adopted, not reconnected");
    let l = list(&bus, false);
    assert_eq!(l.len(), 1);
    assert_ne!(s(&l[0], "device"), "nvme?");
    drop(d);
}

/// No bus at start is not an error; stacd attaches when it appears, and
/// again after the bus restarts, without dropping anything.
#[test]
fn bus_appears_later_and_comes_back() {
    let fr = FakeRoot::new("dbus-late");
    fr.write_conf(&format!("[Controllers]\n{}", ctrl_line(4420, SUB1)));
    let k = Arc::new(Recorder::new(&fr.root()));
    let _d = Stacd::start(&fr, &k);
    wait_for("the connect", 5, || k.connects().len() == 1);
    std::thread::sleep(Duration::from_millis(300));
    let mut bus = Bus::start(&fr);
    wait_for("stacd on the late bus", 12, || {
        busctl(&bus, &["status", NAME]).status.success()
    });
    assert_eq!(list(&bus, false).len(), 1);
    bus.restart();
    wait_for("stacd on the restarted bus", 12, || {
        busctl(&bus, &["status", NAME]).status.success()
    });
    assert_eq!(s(&list(&bus, false)[0], "device"), "nvme0");
    assert_eq!(k.connects().len(), 1);
    assert!(k.deletes().is_empty());
}

/// A second stacd cannot take the name: it exits 1 (§1) and the first
/// keeps answering.
#[test]
fn second_instance_is_refused_the_name() {
    let fr = FakeRoot::new("dbus-two");
    fr.write_conf("");
    let bus = Bus::start(&fr);
    let k = Arc::new(Recorder::new(&fr.root()));
    let _first = Stacd::start(&fr, &k);
    wait_for("stacd on the bus", 5, || {
        busctl(&bus, &["status", NAME]).status.success()
    });
    let mut second = Stacd::start(&fr, &k);
    let h = second.handle.take().unwrap();
    assert_eq!(h.join().unwrap(), 1);
    assert!(list(&bus, false).is_empty());
}

/// The introspection document, as a strict parser reads it: Python's
/// `xml.etree` (expat), which nvme-stas's stacctl uses through dasbus,
/// rejects a document that busctl and gdbus accept (a `--` inside a
/// comment, XML 1.0 §2.5). Prints one line per interface, member and
/// argument, in name order (arguments in theirs), so two documents can be compared.
fn strict_xml_outline(what: &str, xml: &str) -> String {
    const OUTLINE: &str = r#"
import sys, xml.etree.ElementTree as ET
try:
    root = ET.fromstring(sys.stdin.read())
except ET.ParseError as e:
    sys.exit("not well-formed XML: %s" % e)
if root.tag != "node":
    sys.exit("root element is %r, not node" % root.tag)
for i in sorted(root.findall("interface"), key=lambda i: i.get("name")):
    print("interface", i.get("name"))
    for m in sorted(i, key=lambda m: (m.tag, m.get("name") or "")):
        if m.tag == "annotation":
            continue
        f = [m.tag, m.get("name"), m.get("type"), m.get("access")]
        print("  " + " ".join(x for x in f if x))
        for a in m.findall("arg"):
            f = [a.get("direction"), a.get("name"), a.get("type")]
            print("    " + " ".join(x for x in f if x))
"#;
    use std::io::Write as _;
    let mut c = Command::new("python3")
        .args(["-c", OUTLINE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (Debian package python3) must be installed");
    c.stdin.take().unwrap().write_all(xml.as_bytes()).unwrap();
    let o = c.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "{what}: Python's XML parser rejects it: {}\n{xml}",
        text(&o.stderr)
    );
    text(&o.stdout)
}

/// Only the org.nvmexpress.stac interfaces of an outline.
fn own_interfaces(outline: &str) -> String {
    let mut keep = false;
    let mut out = String::new();
    for l in outline.lines() {
        if let Some(name) = l.strip_prefix("interface ") {
            keep = name.starts_with(NAME);
        }
        if keep {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// `stacd --idl FILE` and the live `Introspect` reply both parse with the
/// strict parser, describe the same two interfaces, and are those of
/// docs/design.md §6.3.
#[test]
fn introspection_xml_is_well_formed_for_strict_parsers() {
    let fr = FakeRoot::new("dbus-xml");
    let idl = fr.path("stacd.idl");
    let o = Command::new(env!("CARGO_BIN_EXE_stacd"))
        .arg("--idl")
        .arg(&idl)
        .output()
        .unwrap();
    assert!(o.status.success(), "--idl: {}", text(&o.stderr));
    let file = strict_xml_outline("stacd --idl", &std::fs::read_to_string(&idl).unwrap());

    fr.write_conf("[Controllers]\n");
    let bus = Bus::start(&fr);
    let k = Arc::new(Recorder::new(&fr.root()));
    let _d = Stacd::start(&fr, &k);
    wait_for("stacd on the bus", 5, || {
        busctl(&bus, &["status", NAME]).status.success()
    });
    let d = call(
        &bus,
        "org.freedesktop.DBus.Introspectable",
        "Introspect",
        &[],
    );
    let live = strict_xml_outline("the Introspect reply", d[0].as_str().unwrap());
    assert!(
        live.contains("interface org.freedesktop.DBus.Properties\n"),
        "{live}"
    );

    let want = "\
interface org.nvmexpress.stac
  method list_controllers
    in detailed b
    out controller_list aa{ss}
interface org.nvmexpress.stac.debug
  method controller_info
    in transport s
    in traddr s
    in trsvcid s
    in subsysnqn s
    in host_traddr s
    in host_iface s
    in host_nqn s
    out info_json s
  method process_info
    out info_json s
  property log_level s read
  property tron b readwrite
";
    assert_eq!(file, want, "--idl");
    assert_eq!(own_interfaces(&live), want, "Introspect");
}

/// The names of this process's threads (proc(5): /proc/self/task/TID/comm).
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim_end().to_string())
        .collect()
}

/// On the bus and idle, nothing of ours wakes up on a timer. zbus runs a
/// few calls of its unix socket (the peer's credentials, a close) on the
/// `blocking` crate's thread pool; blocking 1.7.0 never ends an idle pool
/// thread, which then wakes every 500 ms for as long as the daemon runs
/// (ci/bench part 5 counted 120 wake-ups in 60 s, all on `blocking-1`), so
/// Cargo.lock keeps blocking at 1.6, which ends a pool thread after 500 ms
/// without work. The pool is the whole process's: other tests' clients use
/// it too, hence the generous wait (while they run their threads may come
/// back; an idle pool must empty once they are done).
#[test]
fn no_pool_thread_is_left_waking_when_idle() {
    let fr = FakeRoot::new("dbus-idle");
    fr.write_conf(&format!("[Controllers]\n{}", ctrl_line(4420, SUB1)));
    let bus = Bus::start(&fr);
    let k = Arc::new(Recorder::new(&fr.root()));
    let _d = Stacd::start(&fr, &k);
    wait_for("stacd on the bus", 5, || {
        busctl(&bus, &["status", NAME]).status.success()
    });
    assert_eq!(list(&bus, false).len(), 1);
    wait_for("no blocking-N pool thread left", 60, || {
        !thread_names().iter().any(|n| n.starts_with("blocking-"))
    });
}
