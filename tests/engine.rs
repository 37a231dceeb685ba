//! The engine, `--once` and the daemon loop against a fake root and the
//! recording fabrics double: connects, adoption, restarts, retries,
//! removals, policy, reload and stop.

mod common;

use common::{ctrl_line, FakeRoot, HOSTID, HOSTNQN};
use rustix::io::Errno;
use stacd::app::daemon::{self, Daemon};
use stacd::base::root::rel;
use stacd::kernel::fabrics::Fabrics;
use stacd::kernel::fake::Recorder;
use stacd::reconcile::engine::{Engine, Retry};
use stacd::reconcile::state::Store;
use stacd::sources::config::{self, host};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SUB1: &str = "nqn.2024-01.io.testbed:sub1";
const SUB2: &str = "nqn.2024-01.io.testbed:sub2";

/// Quick retries so tests do not sleep for seconds.
const FAST: Retry = Retry {
    first: Duration::from_millis(100),
    later: Duration::from_millis(300),
    deadline: Duration::from_secs(5),
};

fn three() -> String {
    format!(
        "[Controllers]\n{}{}{}",
        ctrl_line(4420, SUB1),
        ctrl_line(8009, SUB1),
        ctrl_line(4420, SUB2)
    )
}

fn engine(fr: &FakeRoot, kernel: &Arc<Recorder>) -> Engine {
    let root = fr.root();
    let (conf, _) = config::load_stacd_conf(&fr.conf_path()).expect("config");
    let (host, _) = host::load_host(&root, &root.path(rel::SYS_CONF)).expect("host");
    let k: Arc<dyn Fabrics> = kernel.clone();
    let mut e = Engine::new(&root, k, Store::new(&root.run_dir()), FAST);
    e.set_policy(conf.disconnect_scope, &conf.disconnect_trtypes);
    e.set_wanted(daemon::desired(&conf, &host));
    e
}

/// Step until `done` holds or 5 s pass.
fn settle(e: &mut Engine, done: impl Fn(&Engine) -> bool) {
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        e.step(Instant::now());
        if done(e) {
            return;
        }
        assert!(Instant::now() < end, "did not settle: {:?}", e.status());
        e.wait(Instant::now() + Duration::from_millis(20));
    }
}

fn all_live(e: &Engine) -> bool {
    e.status().iter().all(|s| s.is_live())
}

#[test]
fn connects_everything_then_plans_nothing() {
    let fr = FakeRoot::new("connect");
    fr.write_conf(&three());
    let k = Arc::new(Recorder::new(&fr.root()));
    let mut e = engine(&fr, &k);
    settle(&mut e, all_live);
    assert_eq!(fr.ctrls(), ["nvme0", "nvme1", "nvme2"]);
    let mut sent = k.connects();
    sent.sort();
    assert_eq!(
        sent[0],
        format!("nqn={SUB1},transport=tcp,traddr=127.0.0.1,trsvcid=4420,hostnqn={HOSTNQN},hostid={HOSTID},ctrl_loss_tmo=600")
    );
    assert_eq!(sent.len(), 3);
    // Applying a plan then planning again from a fresh scan: no changes.
    assert!(e.plan(Instant::now()).is_noop());
    assert_eq!(e.owned().len(), 3);
    assert!(fr.path("run/stacd/state.json").exists());
}

#[test]
fn restart_adopts_without_connecting() {
    let fr = FakeRoot::new("restart");
    fr.write_conf(&three());
    let k = Arc::new(Recorder::new(&fr.root()));
    let mut e = engine(&fr, &k);
    settle(&mut e, all_live);
    let before: Vec<_> = fr
        .ctrls()
        .iter()
        .map(|c| (c.clone(), fr.attr(c, "cntlid")))
        .collect();
    drop(e);
    let k2 = Arc::new(Recorder::new(&fr.root()));
    let mut e2 = engine(&fr, &k2);
    settle(&mut e2, all_live);
    assert!(k2.connects().is_empty(), "a restart connects nothing");
    assert!(k2.deletes().is_empty());
    let after: Vec<_> = fr
        .ctrls()
        .iter()
        .map(|c| (c.clone(), fr.attr(c, "cntlid")))
        .collect();
    assert_eq!(before, after);
    // Even without the state file (lost /run), existing controllers are adopted.
    std::fs::remove_file(fr.path("run/stacd/state.json")).unwrap();
    let k3 = Arc::new(Recorder::new(&fr.root()));
    let mut e3 = engine(&fr, &k3);
    settle(&mut e3, all_live);
    assert!(k3.connects().is_empty());
    assert_eq!(e3.owned().len(), 3);
}

#[test]
fn foreign_controller_is_adopted_and_unwanted_foreign_left_alone() {
    let fr = FakeRoot::new("foreign");
    fr.write_conf(&format!("[Controllers]\n{}", ctrl_line(4420, SUB1)));
    let k = Arc::new(Recorder::new(&fr.root()));
    // Made by someone else (nvme-cli): one wanted, one not.
    k.make_ctrl(&format!(
        "nqn={SUB1},transport=tcp,traddr=127.0.0.1,trsvcid=4420,hostnqn={HOSTNQN}"
    ))
    .unwrap();
    k.make_ctrl(&format!(
        "nqn={SUB2},transport=tcp,traddr=127.0.0.1,trsvcid=4420,hostnqn={HOSTNQN}"
    ))
    .unwrap();
    let mut e = engine(&fr, &k);
    settle(&mut e, all_live);
    assert!(k.connects().is_empty());
    assert_eq!(e.owned().len(), 1);
    // Emptying the config disconnects what became ours, never the other one.
    fr.write_conf("[Controllers]\n");
    e.set_wanted(vec![]);
    e.step(Instant::now());
    assert_eq!(k.deletes(), ["nvme0"]);
    assert_eq!(fr.ctrls(), ["nvme1"]);
}

#[test]
fn failures_retry_with_the_fast_then_slow_delay() {
    let fr = FakeRoot::new("retry");
    fr.write_conf(&format!(
        "[Controllers]\n{}{}",
        ctrl_line(4420, SUB1),
        ctrl_line(4421, SUB1)
    ));
    let k = Arc::new(Recorder::new(&fr.root()));
    k.fail_when("trsvcid=4421", Errno::CONNREFUSED);
    let mut e = engine(&fr, &k);
    let t0 = Instant::now();
    settle(&mut e, |e| e.status().iter().any(|s| s.attempts >= 3));
    let el = t0.elapsed();
    // 1st failure → ~100 ms, 2nd → ~300 ms: the third attempt after ≥ 90+270 ms.
    assert!(el >= Duration::from_millis(350), "{el:?}");
    let st = e.status();
    assert!(st[0].is_live());
    assert!(st[1]
        .last_error
        .as_deref()
        .unwrap()
        .contains("connection refused"));
    let attempts_4421 = k.connects().iter().filter(|c| c.contains("4421")).count();
    assert_eq!(attempts_4421 as u32, st[1].attempts);
    // The target comes back: connected at the next retry.
    k.heal();
    settle(&mut e, all_live);
}

#[test]
fn removed_controller_is_reconnected_and_already_is_adopted() {
    let fr = FakeRoot::new("removed");
    fr.write_conf(&format!("[Controllers]\n{}", ctrl_line(4420, SUB1)));
    let k = Arc::new(Recorder::new(&fr.root()));
    let mut e = engine(&fr, &k);
    settle(&mut e, all_live);
    // Someone deletes it: reconnected after the fast retry, not at once.
    k.delete("nvme0").unwrap();
    e.mark_dirty();
    e.step(Instant::now());
    assert_eq!(k.connects().len(), 1, "no immediate reconnect");
    settle(&mut e, all_live);
    assert_eq!(k.connects().len(), 2);
    // EALREADY (an identical controller appeared meanwhile) → adopted.
    let fr2 = FakeRoot::new("already");
    fr2.write_conf(&format!("[Controllers]\n{}", ctrl_line(4420, SUB2)));
    let k2 = Arc::new(Recorder::new(&fr2.root()));
    k2.fail_when(SUB2, Errno::ALREADY);
    let mut e2 = engine(&fr2, &k2);
    e2.step(Instant::now());
    k2.make_ctrl(&format!(
        "nqn={SUB2},transport=tcp,traddr=127.0.0.1,trsvcid=4420,hostnqn={HOSTNQN}"
    ))
    .unwrap();
    settle(&mut e2, all_live);
    assert_eq!(e2.owned().len(), 1);
}

#[test]
fn disconnect_scope_no_disconnect_keeps_connections() {
    let fr = FakeRoot::new("scope");
    fr.write_conf(&three());
    let k = Arc::new(Recorder::new(&fr.root()));
    let mut e = engine(&fr, &k);
    settle(&mut e, all_live);
    fr.write_conf(
        "[I/O controller connection management]\ndisconnect-scope = no-disconnect\n[Controllers]\n",
    );
    let (conf, _) = config::load_stacd_conf(&fr.conf_path()).unwrap();
    e.set_policy(conf.disconnect_scope, &conf.disconnect_trtypes);
    e.set_wanted(vec![]);
    e.step(Instant::now());
    assert!(k.deletes().is_empty());
    assert_eq!(fr.ctrls().len(), 3);
    assert!(e.owned().is_empty(), "released, not ours any more");
}

#[test]
fn once_reports_each_controller_and_exit_codes() {
    let fr = FakeRoot::new("once");
    fr.write_conf(&format!(
        "[Controllers]\n{}{}",
        ctrl_line(4420, SUB1),
        ctrl_line(4421, SUB2)
    ));
    let k = Arc::new(Recorder::new(&fr.root()));
    k.fail_when("trsvcid=4421", Errno::CONNREFUSED);
    let mut e = engine(&fr, &k);
    let mut out = Vec::new();
    let code = stacd::app::once::run(&mut e, Duration::from_millis(700), &mut out);
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, stacd::app::exit::SOME_MISSING, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(
        lines[0],
        format!("live nvme0 (tcp, 127.0.0.1, 4420, {SUB1}) connected cntlid=1"),
        "{out}"
    );
    assert!(
        lines[1].starts_with(&format!(
            "failed - (tcp, 127.0.0.1, 4421, {SUB2}) connection refused"
        )),
        "{out}"
    );
    // None live → 4; all live → 0.
    let fr = FakeRoot::new("once-none");
    fr.write_conf(&format!("[Controllers]\n{}", ctrl_line(4421, SUB1)));
    let k = Arc::new(Recorder::new(&fr.root()));
    k.fail_when("4421", Errno::CONNREFUSED);
    let code = stacd::app::once::run(
        &mut engine(&fr, &k),
        Duration::from_millis(200),
        &mut Vec::new(),
    );
    assert_eq!(code, stacd::app::exit::NONE_LIVE);
    k.heal();
    let code = stacd::app::once::run(
        &mut engine(&fr, &k),
        Duration::from_secs(2),
        &mut Vec::new(),
    );
    assert_eq!(code, stacd::app::exit::OK);
}

#[test]
fn daemon_reload_and_stop() {
    let fr = FakeRoot::new("daemon");
    fr.write_conf(&format!("[Controllers]\n{}", ctrl_line(4420, SUB1)));
    let root = fr.root();
    let k = Arc::new(Recorder::new(&root));
    let (conf, _) = config::load_stacd_conf(&fr.conf_path()).unwrap();
    let (host, _) = host::load_host(&root, &root.path(rel::SYS_CONF)).unwrap();
    let kd: Arc<dyn Fabrics> = k.clone();
    let e = Engine::new(&root, kd, Store::new(&root.run_dir()), FAST);
    let mut d = Daemon::new(root, fr.conf_path(), host, conf, false, e).unwrap();
    let ctl = d.control();
    let t = std::thread::spawn(move || {
        let code = d.run();
        (code, d)
    });
    let wait_for = |n: usize| {
        let end = Instant::now() + Duration::from_secs(5);
        while fr.ctrls().len() != n {
            assert!(
                Instant::now() < end,
                "waiting for {n} controllers: {:?}",
                fr.ctrls()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait_for(1);
    // Add a controller and reload: it connects, the first is untouched.
    fr.write_conf(&format!(
        "[Controllers]\n{}{}",
        ctrl_line(4420, SUB1),
        ctrl_line(4420, SUB2)
    ));
    ctl.request_reload();
    wait_for(2);
    // A broken file: nothing changes.
    fr.write_conf(&format!("kato=5\n[Controllers]\n{}", ctrl_line(4420, SUB1)));
    ctl.request_reload();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(fr.ctrls().len(), 2);
    assert!(k.deletes().is_empty());
    ctl.request_stop();
    let (code, d) = t.join().unwrap();
    assert_eq!(code, 0);
    assert_eq!(k.connects().len(), 2, "one connect each, no reconnects");
    assert!(k.deletes().is_empty(), "stop leaves every connection up");
    assert_eq!(fr.ctrls().len(), 2);
    assert_eq!(d.engine.owned().len(), 2);
}

// Issue 12 case 8: stacd.conf deleted, then SIGHUP, meant "all defaults"
// and disconnected every controller stacd owned. A file that is gone on
// reload keeps the running configuration; when it comes back, it is read.
#[test]
fn daemon_reload_without_the_file_keeps_the_running_configuration() {
    let fr = FakeRoot::new("reload-gone");
    fr.write_conf(&format!("[Controllers]\n{}", ctrl_line(4420, SUB1)));
    let root = fr.root();
    let k = Arc::new(Recorder::new(&root));
    let (conf, _) = config::load_stacd_conf(&fr.conf_path()).unwrap();
    let (host, _) = host::load_host(&root, &root.path(rel::SYS_CONF)).unwrap();
    let kd: Arc<dyn Fabrics> = k.clone();
    let e = Engine::new(&root, kd, Store::new(&root.run_dir()), FAST);
    let mut d = Daemon::new(root, fr.conf_path(), host, conf, false, e).unwrap();
    let ctl = d.control();
    let t = std::thread::spawn(move || {
        let code = d.run();
        (code, d)
    });
    let wait_for = |n: usize| {
        let end = Instant::now() + Duration::from_secs(5);
        while fr.ctrls().len() != n {
            assert!(Instant::now() < end, "waiting for {n}: {:?}", fr.ctrls());
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait_for(1);
    std::fs::remove_file(fr.conf_path()).unwrap();
    ctl.request_reload();
    std::thread::sleep(Duration::from_millis(300));
    assert!(k.deletes().is_empty(), "nothing disconnected");
    assert_eq!(fr.ctrls().len(), 1);
    // The file back, with one more controller: a normal reload.
    fr.write_conf(&format!(
        "[Controllers]\n{}{}",
        ctrl_line(4420, SUB1),
        ctrl_line(4420, SUB2)
    ));
    ctl.request_reload();
    wait_for(2);
    ctl.request_stop();
    let (_, d) = t.join().unwrap();
    assert!(k.deletes().is_empty());
    assert_eq!(d.engine.wanted().len(), 2);
}

#[test]
fn restart_announces_restored_controllers_once() {
    // Announcing adoption needs a logger; check the effect instead: a
    // restored controller is reported as adopted by --once.
    let fr = FakeRoot::new("announce");
    fr.write_conf(&format!("[Controllers]\n{}", ctrl_line(4420, SUB1)));
    let k = Arc::new(Recorder::new(&fr.root()));
    let mut e = engine(&fr, &k);
    settle(&mut e, all_live);
    drop(e);
    let mut out = Vec::new();
    let code = stacd::app::once::run(&mut engine(&fr, &k), Duration::from_secs(2), &mut out);
    assert_eq!(code, stacd::app::exit::OK);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!("live nvme0 (tcp, 127.0.0.1, 4420, {SUB1}) adopted cntlid=1\n")
    );
    assert_eq!(k.connects().len(), 1);
}

/// The engine's desired set with every entry marked as a discovery log page
/// entry with NCC `ncc` (no DLPE source exists yet on this branch: the
/// engine is driven directly).
fn as_dlpes(e: &Engine, ncc: bool) -> Vec<stacd::desired::Wanted> {
    e.wanted()
        .iter()
        .cloned()
        .map(|mut w| {
            w.origin = stacd::desired::Origin::Stafd;
            w.ncc = ncc;
            w
        })
        .collect()
}

fn attempts_to(k: &Recorder, port: &str) -> usize {
    k.connects()
        .iter()
        .filter(|c| c.contains(&format!("trsvcid={port}")))
        .count()
}

// docs/design.md §4.7, §10.14 item 11: NCC with connect-attempts-on-ncc=2
// stops after attempt 2; a reload gives one more attempt (the counter is
// kept); NCC clearing resets the counter and attempts at once.
#[test]
fn ncc_limits_attempts_until_cleared_or_reload() {
    let fr = FakeRoot::new("ncc");
    fr.write_conf(&format!("[Controllers]\n{}", ctrl_line(4421, SUB1)));
    let k = Arc::new(Recorder::new(&fr.root()));
    k.fail_when("trsvcid=4421", Errno::CONNREFUSED);
    let mut e = engine(&fr, &k);
    e.set_ncc_attempts(2);
    let w = as_dlpes(&e, true);
    e.set_wanted(w);
    settle(&mut e, |e| {
        e.status()[0].attempts >= 2 && e.in_flight() == 0
    });
    // Well past the slow retry (300 ms here): nothing more, and nothing
    // left to wake up for.
    for _ in 0..10 {
        e.step(Instant::now());
        e.wait(Instant::now() + Duration::from_millis(50));
    }
    e.step(Instant::now());
    assert_eq!(attempts_to(&k, "4421"), 2, "exactly 2 attempts");
    assert_eq!(e.next_wake(), None, "no timer while given up");
    let st = &e.status()[0];
    assert_eq!(st.attempts, 2);
    assert!(st.last_error.as_deref().unwrap().contains("refused"));

    // A reload: one more attempt, then it gives up again.
    e.revive();
    settle(&mut e, |e| {
        e.status()[0].attempts >= 3 && e.in_flight() == 0
    });
    std::thread::sleep(Duration::from_millis(500));
    e.step(Instant::now());
    assert_eq!(attempts_to(&k, "4421"), 3);
    assert_eq!(e.next_wake(), None);

    // NCC cleared: counter reset, an attempt now, then ordinary retries.
    let w = as_dlpes(&e, false);
    e.set_wanted(w);
    e.step(Instant::now());
    assert_eq!(e.in_flight(), 1, "an attempt right away");
    settle(&mut e, |_| attempts_to(&k, "4421") >= 6);
    assert!(e.next_wake().is_some(), "retrying again");
    // The target comes back: connected.
    k.heal();
    settle(&mut e, all_live);

    // Without a limit (0) an NCC entry retries like any other.
    let fr = FakeRoot::new("ncc0");
    fr.write_conf(&format!("[Controllers]\n{}", ctrl_line(4421, SUB1)));
    let k = Arc::new(Recorder::new(&fr.root()));
    k.fail_when("trsvcid=4421", Errno::CONNREFUSED);
    let mut e = engine(&fr, &k);
    e.set_ncc_attempts(0);
    let w = as_dlpes(&e, true);
    e.set_wanted(w);
    settle(&mut e, |_| attempts_to(&k, "4421") >= 4);
}

// No periodic polling: many kernel events in a burst make one step, which
// reads again only the controllers they named; with nothing pending there
// is no timer.
#[test]
fn event_bursts_make_one_rescan() {
    let fr = FakeRoot::new("debounce");
    fr.write_conf(&three());
    let k = Arc::new(Recorder::new(&fr.root()));
    let mut e = engine(&fr, &k);
    settle(&mut e, all_live);
    e.step(Instant::now());
    assert_eq!(e.next_wake(), None, "idle: nothing to wake up for");
    let before = e.scans();
    let t0 = Instant::now();
    for i in 0..200u64 {
        let t = t0 + Duration::from_micros(i * 400);
        let name = format!("nvme{}", i % 3);
        e.kernel_event(t, Some(&name));
        e.step(t);
    }
    let rereads = e.rereads();
    assert_eq!(e.scans(), before, "no rescan inside the burst window");
    assert_eq!(e.next_wake(), Some(t0 + stacd::reconcile::engine::DEBOUNCE));
    e.step(t0 + stacd::reconcile::engine::DEBOUNCE);
    assert_eq!(e.scans(), before, "named controllers only: no full scan");
    assert_eq!(e.rereads(), rereads + 3, "each named controller read once");
    assert_eq!(e.next_wake(), None);
    e.step(t0 + stacd::reconcile::engine::DEBOUNCE * 3);
    assert_eq!((e.scans(), e.rereads()), (before, rereads + 3));
    // An event that names no controller: one full scan for the burst.
    let t2 = t0 + stacd::reconcile::engine::DEBOUNCE * 4;
    e.kernel_event(t2, None);
    e.kernel_event(t2, Some("nvme0"));
    e.step(t2 + stacd::reconcile::engine::DEBOUNCE);
    assert_eq!(e.scans(), before + 1, "one rescan for the burst");
    // A removal announced by an event is acted on after the debounce.
    k.delete("nvme1").unwrap();
    let t1 = Instant::now();
    e.kernel_event(t1, Some("nvme1"));
    e.step(t1);
    assert!(
        e.owned().values().any(|o| o.device == "nvme1"),
        "not yet rescanned"
    );
    e.step(t1 + stacd::reconcile::engine::DEBOUNCE);
    assert!(
        e.owned().values().all(|o| o.device != "nvme1"),
        "seen as lost"
    );
    settle(&mut e, all_live);
    assert_eq!(k.connects().len(), 4, "reconnected once");
}

// A controller that appears with an event (someone else connected it) is
// read from its directory alone and adopted; one that vanishes without an
// event the engine was told of stays in the scan until a full rescan.
#[test]
fn events_read_only_the_named_controller() {
    let fr = FakeRoot::new("partial");
    fr.write_conf(&three());
    let k = Arc::new(Recorder::new(&fr.root()));
    let mut e = engine(&fr, &k);
    settle(&mut e, all_live);
    let (scans, rereads) = (e.scans(), e.rereads());
    // The kernel loses nvme2; the event names it.
    k.delete("nvme2").unwrap();
    let t = Instant::now();
    e.kernel_event(t, Some("nvme2"));
    e.step(t + stacd::reconcile::engine::DEBOUNCE);
    assert!(
        e.owned().values().all(|o| o.device != "nvme2"),
        "seen as lost"
    );
    assert_eq!(e.scans(), scans);
    assert_eq!(e.rereads(), rereads + 1);
    // Reconnected after the fast retry (a due retry reads everything),
    // then one more read: the new device's directory.
    settle(&mut e, all_live);
    assert_eq!(k.connects().len(), 4);
    assert!(e.status().iter().all(|s| s.is_live()));
}

fn audit_conf(extra: &str) -> String {
    format!(
        "[I/O controller connection management]\ndisconnect-scope = all-connections-matching-disconnect-trtypes\n{extra}[Controllers]\n{}",
        ctrl_line(4420, SUB1)
    )
}

// §3.6: the audit disconnects foreign I/O controllers of the listed
// transports that nothing wants; never PCIe, never a wanted one; it follows
// the scope across reloads and waits while held.
#[test]
fn audit_disconnects_unwanted_controllers_of_listed_transports() {
    let fr = FakeRoot::new("audit");
    fr.write_conf(&audit_conf(""));
    let k = Arc::new(Recorder::new(&fr.root()));
    let foreign = |nqn: &str, port: u16, tr: &str| {
        k.make_ctrl(&format!(
            "nqn={nqn},transport={tr},traddr=127.0.0.1,trsvcid={port},hostnqn={HOSTNQN}"
        ))
        .unwrap()
        .device()
    };
    let wanted_by_hand = foreign(SUB1, 4420, "tcp");
    let unwanted = foreign(SUB2, 4420, "tcp");
    let rdma = foreign(SUB2, 4420, "rdma");
    let pcie = foreign("nqn.2014.08.org.nvmexpress:uuid:pcie", 0, "pcie");
    let mut e = engine(&fr, &k);
    e.hold_audit(true);
    settle(&mut e, all_live);
    assert!(k.deletes().is_empty(), "held: nothing disconnected");
    e.hold_audit(false);
    e.step(Instant::now());
    assert_eq!(k.deletes(), std::slice::from_ref(&unwanted));
    assert!(k.connects().is_empty(), "the wanted one was adopted");
    assert_eq!(
        e.owner_of(&wanted_by_hand),
        e.wanted().first().map(|w| &w.id)
    );
    assert_eq!(fr.ctrls().len(), 3);
    // rdma listed as well: it goes too; PCIe never.
    fr.write_conf(&audit_conf("disconnect-trtypes = tcp+rdma\n"));
    let (conf, _) = config::load_stacd_conf(&fr.conf_path()).unwrap();
    e.set_policy(conf.disconnect_scope, &conf.disconnect_trtypes);
    e.step(Instant::now());
    assert_eq!(k.deletes(), [unwanted.clone(), rdma.clone()]);
    // Out of audit mode: a new foreign controller stays.
    e.set_policy(config::DisconnectScope::OnlyStasConnections, &[]);
    let later = foreign(SUB2, 8009, "tcp");
    e.mark_dirty();
    e.step(Instant::now());
    assert_eq!(k.deletes().len(), 2);
    // Back in (a reload into the scope): audited at once.
    e.set_policy(conf.disconnect_scope, &conf.disconnect_trtypes);
    e.step(Instant::now());
    assert_eq!(k.deletes(), [unwanted, rdma, later]);
    assert_eq!(fr.ctrls(), [wanted_by_hand, pcie]);
}

// Restart safety (§4.12): entries of the state file whose controller is
// gone are forgotten and, if wanted, connected at once (not after the fast
// retry of a removal); a device name now used by someone else's controller
// is never disconnected.
#[test]
fn restart_prunes_gone_entries_and_never_disconnects_others() {
    let fr = FakeRoot::new("prune");
    fr.write_conf(&three());
    let k = Arc::new(Recorder::new(&fr.root()));
    let mut e = engine(&fr, &k);
    settle(&mut e, all_live);
    let name_of = |port: u16, nqn: &str| {
        fr.ctrls()
            .into_iter()
            .find(|c| {
                fr.attr(c, "subsysnqn") == nqn
                    && fr.attr(c, "address").contains(&format!("trsvcid={port}"))
            })
            .unwrap()
    };
    let (lost, reused) = (name_of(8009, SUB1), name_of(4420, SUB2));
    drop(e);
    // While stacd is down: `lost` deleted; `reused` deleted and its name
    // taken by a controller someone else made for SUB2 at port 9999.
    k.delete(&lost).unwrap();
    k.delete(&reused).unwrap();
    let k2 = Arc::new(Recorder::new(&fr.root()));
    let r = k2
        .make_ctrl(&format!(
            "nqn={SUB2},transport=tcp,traddr=127.0.0.1,trsvcid=9999,hostnqn={HOSTNQN}"
        ))
        .unwrap();
    if r.device() != reused {
        std::fs::rename(
            fr.path(&format!("sys/class/nvme/{}", r.device())),
            fr.path(&format!("sys/class/nvme/{reused}")),
        )
        .unwrap();
    }
    // Only the first two controllers are still wanted.
    fr.write_conf(&format!(
        "[Controllers]\n{}{}",
        ctrl_line(4420, SUB1),
        ctrl_line(8009, SUB1)
    ));
    let mut e2 = engine(&fr, &k2);
    e2.step(Instant::now());
    assert_eq!(
        e2.in_flight(),
        1,
        "the gone wanted one is connected at once"
    );
    settle(&mut e2, all_live);
    assert!(
        k2.deletes().is_empty(),
        "someone else's {reused} is left alone"
    );
    assert!(fr.ctrls().contains(&reused));
    assert_eq!(e2.owned().len(), 2);
    assert!(e2.owner_of(&reused).is_none());
    let state = std::fs::read_to_string(fr.path("run/stacd/state.json")).unwrap();
    assert!(!state.contains(SUB2), "pruned from the state file: {state}");
}

// A garbage or foreign-version state file is set aside, not trusted, not
// fatal: the controllers are adopted again, nothing is connected or
// disconnected, and a good file is written.
#[test]
fn garbage_state_file_is_set_aside_end_to_end() {
    for junk in [
        "{\"version\":1,\"controllers\":[{\"transport\":",
        "\u{0}\u{ff}\u{fe}",
        "{\"version\":7,\"controllers\":[]}",
        "{\"version\":1,\"controllers\":[{\"transport\":\"tcp\",\"traddr\":[1,2]}]}",
    ] {
        let fr = FakeRoot::new("garbage");
        fr.write_conf(&three());
        let k = Arc::new(Recorder::new(&fr.root()));
        let mut e = engine(&fr, &k);
        settle(&mut e, all_live);
        drop(e);
        std::fs::write(fr.path("run/stacd/state.json"), junk).unwrap();
        let k2 = Arc::new(Recorder::new(&fr.root()));
        let mut e2 = engine(&fr, &k2);
        settle(&mut e2, all_live);
        assert!(k2.connects().is_empty(), "{junk:?}");
        assert!(k2.deletes().is_empty(), "{junk:?}");
        assert_eq!(e2.owned().len(), 3);
        assert_eq!(
            std::fs::read_to_string(fr.path("run/stacd/state.json.bad")).unwrap(),
            junk
        );
        let good = std::fs::read_to_string(fr.path("run/stacd/state.json")).unwrap();
        let (m, skipped) = stacd::reconcile::state::decode(&good).unwrap();
        assert_eq!((m.len(), skipped), (3, 0));
    }
}

// Boot connections are never disconnected by policy, even under the audit.
#[test]
fn boot_connections_are_never_disconnected() {
    let fr = FakeRoot::new("boot");
    fr.write_conf(&audit_conf(""));
    let k = Arc::new(Recorder::new(&fr.root()));
    let mut e = engine(&fr, &k);
    let mut w = e.wanted().to_vec();
    w[0].boot = true;
    w[0].origin = stacd::desired::Origin::Nbft;
    e.set_wanted(w);
    settle(&mut e, all_live);
    assert!(k.connects()[0].contains("ctrl_loss_tmo=-1"));
    e.set_wanted(vec![]);
    e.step(Instant::now());
    e.mark_dirty();
    e.step(Instant::now());
    assert!(k.deletes().is_empty());
    assert_eq!(fr.ctrls(), ["nvme0"]);
}

// Reload toggling ignore-iface re-spells the identity (§4.11 step 5): the
// new spelling adopts the existing controller, nothing is reconnected or
// disconnected (the original bounces the connection).
#[test]
fn ignore_iface_toggle_keeps_the_connection() {
    let fr = FakeRoot::new("ignore-iface");
    let line = format!(
        "controller = transport=tcp;traddr=127.0.0.1;trsvcid=4420;nqn={SUB1};host-iface=lo\n"
    );
    fr.write_conf(&format!("[Controllers]\n{line}"));
    let k = Arc::new(Recorder::new(&fr.root()));
    let mut e = engine(&fr, &k);
    settle(&mut e, all_live);
    assert!(k.connects()[0].contains("host_iface=lo"));
    let before = e.owned().keys().next().unwrap().clone();
    fr.write_conf(&format!(
        "[Global]\nignore-iface = true\n[Controllers]\n{line}"
    ));
    let root = fr.root();
    let (conf, _) = config::load_stacd_conf(&fr.conf_path()).unwrap();
    let (host, _) = host::load_host(&root, &root.path(rel::SYS_CONF)).unwrap();
    e.set_wanted(daemon::desired(&conf, &host));
    e.step(Instant::now());
    settle(&mut e, all_live);
    assert_eq!(k.connects().len(), 1, "no new connect");
    assert!(k.deletes().is_empty(), "no disconnect");
    let after = e.owned().keys().next().unwrap().clone();
    assert_eq!(
        (before.host_iface.as_str(), after.host_iface.as_str()),
        ("lo", "")
    );
    assert_eq!(e.owner_of("nvme0"), Some(&after));
}

// A controller is lost as soon as a scan shows it `deleting`, which can
// come before its "remove" event is read: the event still names its
// owner (for the §4.8 log line) until the identity is connected again.
#[test]
fn a_dying_controller_keeps_its_owner_for_its_remove_event() {
    let fr = FakeRoot::new("dying");
    fr.write_conf(&three());
    let k = Arc::new(Recorder::new(&fr.root()));
    let mut e = engine(&fr, &k);
    settle(&mut e, all_live);
    let id = e.owner_of("nvme1").expect("ours").clone();
    std::fs::write(fr.path("sys/class/nvme/nvme1/state"), "deleting\n").unwrap();
    let t = Instant::now();
    e.kernel_event(t, Some("nvme1"));
    e.step(t + stacd::reconcile::engine::DEBOUNCE);
    assert!(!e.owned().contains_key(&id), "lost: no longer owned");
    assert_eq!(e.owner_of("nvme1"), Some(&id), "still named for its events");
    k.delete("nvme1").unwrap();
    settle(&mut e, all_live);
    let now_at = &e.owned()[&id].device;
    assert_eq!(e.owner_of(now_at), Some(&id));
    if now_at != "nvme1" {
        assert_eq!(e.owner_of("nvme1"), None, "forgotten once connected again");
    }
}

// Issue 16: a kernel whose option list lacks an option a controller's
// security needs (dhchap_secret, tls) never gets that controller's connect
// write: connecting without it would be unauthenticated or in clear text.
#[test]
fn missing_security_options_refuse_the_controller() {
    let fr = FakeRoot::new("refuse");
    fr.write_conf(&format!(
        "[Controllers]\n\
         controller=transport=tcp;traddr=127.0.0.1;trsvcid=4420;nqn={SUB1};dhchap-secret=DHHC-1:00:hG0Y9jGeP3mwOwe/iLZ4jMf/2QvxzzwaguBDNaWQ4pbjrxqp:\n\
         controller=transport=tcp;traddr=127.0.0.1;trsvcid=4421;nqn={SUB1};tls=true\n\
         {}",
        ctrl_line(4422, SUB2)
    ));
    let k = Arc::new(Recorder::new(&fr.root()));
    k.set_options(
        "instance=-1,cntlid=-1,transport=%s,traddr=%s,trsvcid=%s,nqn=%s,hostnqn=%s,host_iface=%s,hostid=%s,ctrl_loss_tmo=%d\n",
    );
    let mut e = engine(&fr, &k);
    settle(&mut e, |e| {
        e.status()[2].is_live() && e.status()[..2].iter().all(|s| s.attempts >= 1)
    });
    // Later steps make no attempt either (no retries until a reload).
    for _ in 0..10 {
        e.step(Instant::now());
        e.wait(Instant::now() + Duration::from_millis(20));
    }
    let sent = k.connects();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].contains(SUB2) && !sent[0].contains("dhchap") && !sent[0].contains("tls"));
    let st = e.status();
    for (s, opt) in [(&st[0], "dhchap_secret"), (&st[1], "tls")] {
        let err = s.last_error.as_deref().unwrap_or("");
        assert!(err.contains(&format!("connect option {opt} ")), "{err}");
        assert!(!s.is_live() && s.attempts == 1, "{s:?}");
        assert!(!err.contains("c2VjcmV0"), "{err}");
    }
}

// Issue 16: a DH-HMAC-CHAP key changed on reload goes to the live
// controller's sysfs attribute (the kernel re-authenticates with it,
// drivers/nvme/host/sysfs.c); nothing is disconnected or connected again,
// and an unchanged key is not written.
#[test]
fn a_changed_key_on_reload_is_written_to_the_live_controller() {
    const K1: &str =
        "DHHC-1:00:dVo5FavliFADLIf+p7pg00WeLaZRi+z695kVqVfjxyx8QEq78BY90COLN54f58WHrZv1tA==:";
    const K2: &str =
        "DHHC-1:00:js976Uqvq2nNI2cokvkCfLOWbe51inCACLdhmRCQ9OmagvEYjVroI3zfc2JBP7Jcgyr3jw==:";
    const C2: &str = "DHHC-1:01:czMjPvYPO9QSh+4e3MFVQfLz0SuR0yfNHm7GjKZDStGHdY8d:";
    let fr = FakeRoot::new("rekey");
    let line = |extra: &str| {
        format!(
            "[Controllers]\ncontroller = transport=tcp;traddr=127.0.0.1;trsvcid=4420;nqn={SUB1}{extra}\n"
        )
    };
    fr.write_conf(&line(&format!(";dhchap-secret={K1}")));
    let k = Arc::new(Recorder::new(&fr.root()));
    let mut e = engine(&fr, &k);
    settle(&mut e, all_live);
    assert_eq!(k.connects().len(), 1);
    let reload = |e: &mut Engine, text: &str| {
        fr.write_conf(text);
        let root = fr.root();
        let (conf, _) = config::load_stacd_conf(&fr.conf_path()).expect("config");
        let (host, _) = host::load_host(&root, &root.path(rel::SYS_CONF)).expect("host");
        e.set_wanted(daemon::desired(&conf, &host));
        settle(e, all_live);
    };
    reload(
        &mut e,
        &line(&format!(";dhchap-secret={K2};dhchap-ctrl-secret={C2}")),
    );
    assert_eq!(fr.attr("nvme0", "dhchap_secret"), K2);
    assert_eq!(fr.attr("nvme0", "dhchap_ctrl_secret"), C2);
    // The same keys again: nothing written (the marker stays).
    std::fs::write(fr.path("sys/class/nvme/nvme0/dhchap_secret"), "marker").unwrap();
    reload(
        &mut e,
        &line(&format!(";dhchap-secret={K2};dhchap-ctrl-secret={C2}")),
    );
    assert_eq!(fr.attr("nvme0", "dhchap_secret"), "marker");
    assert_eq!(k.connects().len(), 1, "no new connect");
    assert!(k.deletes().is_empty(), "nothing disconnected");
    assert_eq!(e.owned().len(), 1);
}

/// A mistyped key (or TLS setting) in a `controller=` line refuses the
/// line; the live connection it names must not be disconnected for that,
/// on a reload or at a restart, under either disconnect scope, and the
/// fixed line takes it back without a new connect.
#[test]
fn a_refused_line_never_disconnects_what_it_names() {
    const K1: &str =
        "DHHC-1:00:dVo5FavliFADLIf+p7pg00WeLaZRi+z695kVqVfjxyx8QEq78BY90COLN54f58WHrZv1tA==:";
    for scope in ["", "[I/O controller connection management]\ndisconnect-scope = all-connections-matching-disconnect-trtypes\n"] {
        let fr = FakeRoot::new("refused-line");
        let line = |extra: &str| {
            format!(
                "{scope}[Controllers]\ncontroller = transport=tcp;traddr=127.0.0.1;trsvcid=4420;nqn={SUB1}{extra}\n"
            )
        };
        fr.write_conf(&line(&format!(";dhchap-secret={K1}")));
        let k = Arc::new(Recorder::new(&fr.root()));
        let mut e = engine(&fr, &k);
        settle(&mut e, all_live);
        assert_eq!(k.connects().len(), 1);
        let load = |e: &mut Engine, text: &str| {
            fr.write_conf(text);
            let root = fr.root();
            let (conf, w) = config::load_stacd_conf(&fr.conf_path()).expect("config");
            let (host, _) = host::load_host(&root, &root.path(rel::SYS_CONF)).expect("host");
            e.set_policy(conf.disconnect_scope, &conf.disconnect_trtypes);
            e.set_held(conf.refused.clone());
            e.set_wanted(daemon::desired(&conf, &host));
            settle(e, |_| true);
            w
        };
        // a comma in the key, a key of another form, a contradictory TLS line
        for bad in [
            ";dhchap-secret=DHHC-1:00:MTEx,MTEx:",
            ";dhchap-ctrl-secret=NVMeTLSkey-1:01:abc:",
            ";tls=false;keyring=.nvme",
        ] {
            let w = load(&mut e, &line(bad));
            assert_eq!(w.len(), 1, "{bad}: one warning: {w:?}");
            assert!(k.deletes().is_empty(), "{scope}{bad}: nothing disconnected");
            // a restart with the line still refused: nothing either
            let mut e2 = engine(&fr, &k);
            e2.set_held(config::load_stacd_conf(&fr.conf_path()).unwrap().0.refused);
            settle(&mut e2, |_| true);
            assert!(k.deletes().is_empty(), "{scope}{bad}: restart: nothing disconnected");
        }
        // fixed: the line manages its controller again, no new connect
        load(&mut e, &line(&format!(";dhchap-secret={K1}")));
        settle(&mut e, all_live);
        assert_eq!(k.connects().len(), 1, "{scope}: no new connect");
        assert!(k.deletes().is_empty());
        // and a line removed for good still disconnects as before
        load(&mut e, "[Controllers]\n");
        assert_eq!(k.deletes(), ["nvme0"], "{scope}: removed: disconnected");
    }
}
