//! Scale benchmark (issue 7, part 4): how the reconcile cost grows with the
//! number of wanted controllers, against a fake root (no kernel).
//!
//! For each N it builds a temporary root with a host identity, a stacd.conf
//! with N `controller=` lines and N controller directories in the fake
//! `/sys/class/nvme`, made by the test double
//! [`stacd::kernel::fake::Recorder::make_ctrl`] (the attribute files a
//! real kernel has). Then, several rounds each, it times:
//!
//! - `desired`: parse stacd.conf and build the desired set;
//! - `adopt`: a fresh engine's first `step` — scan, plan, adopt all N and
//!   write the state file (the daemon's start after `stacd --once`);
//! - `scan`: `sysfs::scan` alone (reading N directories of files);
//! - `plan`: the pure planner alone, from that scan;
//! - `Engine::plan`: scan + plan, as `--dry-run` does;
//! - `step, full rescan`: a step with nothing to change that reads every
//!   controller (scan + plan + apply), as the daemon does after a reload,
//!   when uevents were lost, and when a retry is due;
//! - `step, one uevent`: the step after a kernel event naming one
//!   controller (read that directory, plan, apply), the daemon's reconcile
//!   on every uevent burst;
//! - `status`: `Engine::status()`, which `--once` calls on every wake-up.
//!
//! Run: `cargo run --release --example scale [-- [--rounds R] N...]`
//! (default N = 1000 10000, R = 5). The fake sysfs is an ordinary directory
//! tree, so `scan` measures the file system of `$TMPDIR`, not sysfs.

use stacd::app::daemon;
use stacd::base::root::{rel, Root};
use stacd::kernel::fabrics::Fabrics;
use stacd::kernel::fake::Recorder;
use stacd::kernel::netif::IfAddrs;
use stacd::kernel::sysfs;
use stacd::reconcile::engine::{Engine, Retry};
use stacd::reconcile::plan::{self, Busy, PlanInput};
use stacd::reconcile::state::Store;
use stacd::sources::config::{self, host, DisconnectScope};
use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const HOSTNQN: &str = "nqn.2014-08.org.nvmexpress:uuid:5ca1ab1e-0000-4000-8000-00000000be4c";
const HOSTID: &str = "5ca1ab1e-0000-4000-8000-00000000be4c";

type Res<T> = Result<T, Box<dyn Error>>;

/// Address, port and subsystem of controller `i`: 100 subsystems per
/// target address, two ports, so buckets and addresses both vary.
fn ctrl(i: usize) -> (String, u16, String) {
    let a = i / 100;
    let traddr = format!("10.{}.{}.{}", a / 65536 % 256, a / 256 % 256, a % 256 + 1);
    let port = if i % 2 == 0 { 4420 } else { 8009 };
    (traddr, port, format!("nqn.2024-01.io.scale:sub{i}"))
}

/// A temporary root, removed on drop.
struct Tree {
    dir: PathBuf,
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn build_tree(n: usize) -> Res<(Tree, Root)> {
    let dir = std::env::temp_dir().join(format!("stacd-scale-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let tree = Tree { dir: dir.clone() };
    let root = Root::new(&dir);
    for d in ["etc/nvme", "etc/stas", rel::CLASS_NVME, rel::RUN_DIR, "dev"] {
        std::fs::create_dir_all(dir.join(d))?;
    }
    std::fs::write(root.path(rel::HOSTNQN), format!("{HOSTNQN}\n"))?;
    std::fs::write(root.path(rel::HOSTID), format!("{HOSTID}\n"))?;
    let mut conf = String::from("[Controllers]\n");
    let rec = Recorder::new(&root);
    for i in 0..n {
        let (traddr, port, nqn) = ctrl(i);
        conf.push_str(&format!(
            "controller = transport=tcp;traddr={traddr};trsvcid={port};nqn={nqn}\n"
        ));
        rec.make_ctrl(&format!(
            "nqn={nqn},transport=tcp,traddr={traddr},trsvcid={port},hostnqn={HOSTNQN},hostid={HOSTID}"
        ))?;
    }
    std::fs::write(root.path(rel::STACD_CONF), conf)?;
    Ok((tree, root))
}

/// Median, minimum and maximum of `v` (sorted in place).
fn stats(v: &mut [Duration]) -> (Duration, Duration, Duration) {
    v.sort();
    match (v.first(), v.get(v.len() / 2), v.last()) {
        (Some(lo), Some(mid), Some(hi)) => (*mid, *lo, *hi),
        _ => Default::default(),
    }
}

/// Milliseconds with two significant decimals for small values.
fn ms(d: Duration) -> String {
    let v = d.as_secs_f64() * 1000.0;
    match v {
        v if v < 10.0 => format!("{v:.2}"),
        v if v < 100.0 => format!("{v:.1}"),
        v => format!("{v:.0}"),
    }
}

const NAMES: [&str; 8] = [
    "desired (parse stacd.conf)",
    "adopt (first step)",
    "scan",
    "plan (pure)",
    "Engine::plan (scan+plan)",
    "step, full rescan",
    "step, one uevent",
    "status()",
];

/// Median, minimum, maximum of each measurement of one N.
type Figures = [(Duration, Duration, Duration); NAMES.len()];

fn bench(n: usize, rounds: usize) -> Res<Figures> {
    let t = Instant::now();
    let (_tree, root) = build_tree(n)?;
    eprintln!(
        "scale: N = {n}: fake root built in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let kernel: Arc<dyn Fabrics> = Arc::new(Recorder::new(&root));
    let mut times: [Vec<Duration>; NAMES.len()] = Default::default();
    for _ in 0..rounds {
        // desired: stacd.conf → wanted set
        let t = Instant::now();
        let (conf, _) = config::load_stacd_conf(&root.path(rel::STACD_CONF))?;
        let (hostid, _) = host::load_host(&root, &root.path(rel::SYS_CONF))?;
        let wanted = daemon::desired(&conf, &hostid);
        times[0].push(t.elapsed());
        if wanted.len() != n {
            return Err(format!("desired set has {} entries, not {n}", wanted.len()).into());
        }

        // adopt: a fresh engine, no state file, first step
        let _ = std::fs::remove_file(Store::new(&root.run_dir()).path());
        let mut e = Engine::new(
            &root,
            kernel.clone(),
            Store::new(&root.run_dir()),
            Retry::DAEMON,
        );
        e.set_policy(conf.disconnect_scope, &conf.disconnect_trtypes);
        e.set_wanted(wanted);
        let t = Instant::now();
        e.step(Instant::now());
        times[1].push(t.elapsed());
        if e.owned().len() != n {
            return Err(format!("adopted {} of {n} controllers", e.owned().len()).into());
        }

        // scan and the pure planner, separately
        let t = Instant::now();
        let scan = sysfs::scan(&root)?;
        times[2].push(t.elapsed());
        let busy = |_: &stacd::model::identity::Identity| Busy::Idle;
        let net = IfAddrs::default();
        let t = Instant::now();
        let p = plan::plan(&PlanInput {
            wanted: e.wanted(),
            scan: &scan,
            owned: e.owned(),
            busy: &busy,
            scope: DisconnectScope::default(),
            trtypes: &[],
            net: &net,
            held: &[],
            audit: true,
        });
        times[3].push(t.elapsed());
        if !p.is_noop() || p.actions.len() != n {
            return Err(format!("pure plan is not {n} keeps").into());
        }

        // Engine::plan: scan + plan
        let t = Instant::now();
        let p = e.plan(Instant::now());
        times[4].push(t.elapsed());
        if !p.is_noop() {
            return Err("Engine::plan after adoption is not a no-op".into());
        }

        // step with nothing to change, everything read again (a reload)
        let scans = e.scans();
        e.mark_dirty();
        let t = Instant::now();
        e.step(Instant::now());
        times[5].push(t.elapsed());
        if e.scans() != scans + 1 {
            return Err("a step after mark_dirty did not scan".into());
        }

        // the step after a kernel event about one controller (debounced)
        let rereads = e.rereads();
        let now = Instant::now();
        e.kernel_event(now, Some(&format!("nvme{}", n / 2)));
        let at = now + stacd::reconcile::engine::DEBOUNCE;
        let t = Instant::now();
        e.step(at);
        times[6].push(t.elapsed());
        if e.scans() != scans + 1 || e.rereads() != rereads + 1 {
            return Err("the step after one uevent did not read one directory".into());
        }

        let t = Instant::now();
        let st = e.status();
        times[7].push(t.elapsed());
        if st.iter().filter(|s| s.is_live()).count() != n {
            return Err("not every controller reads as live".into());
        }
    }
    let mut out: Figures = Default::default();
    for (o, v) in out.iter_mut().zip(times.iter_mut()) {
        *o = stats(v);
    }
    Ok(out)
}

fn main() -> Res<()> {
    let mut rounds = 5usize;
    let mut ns = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--rounds" {
            rounds = args.next().ok_or("--rounds needs a value")?.parse()?;
        } else {
            ns.push(a.parse::<usize>()?);
        }
    }
    if ns.is_empty() {
        ns = vec![1000, 10000];
    }
    if rounds == 0 {
        return Err("--rounds must be at least 1".into());
    }
    // No logger is installed; this also skips formatting the messages.
    log::set_max_level(log::LevelFilter::Off);
    let mut figs = Vec::new();
    for &n in &ns {
        figs.push((n, bench(n, rounds)?));
    }
    println!(
        "scale: a fake root in {} (no kernel), {rounds} rounds; ms: median (min-max), then per controller",
        std::env::temp_dir().display()
    );
    print!("{:<28}", "");
    for n in &ns {
        print!(" {:<34}", format!("N = {n}"));
    }
    if let (Some(a), Some(b)) = (ns.first(), ns.last()) {
        if ns.len() >= 2 {
            print!(" time x for N x{}", b / a.max(&1));
        }
    }
    println!();
    for (i, name) in NAMES.iter().enumerate() {
        print!("{name:<28}");
        for (n, f) in &figs {
            let (med, lo, hi) = f[i];
            let per = med.as_secs_f64() * 1e6 / (*n).max(1) as f64;
            print!(
                " {:<24}{:>10}",
                format!("{} ({}-{})", ms(med), ms(lo), ms(hi)),
                format!("{per:.1} us")
            );
        }
        if let (Some((_, a)), Some((_, b))) = (figs.first(), figs.last()) {
            if figs.len() >= 2 && a[i].0 > Duration::ZERO {
                print!(" {:.1}", b[i].0.as_secs_f64() / a[i].0.as_secs_f64());
            }
        }
        println!();
    }
    // Issue 7's goal: reconciling 10,000 wanted controllers takes < 50 ms.
    // The daemon's reconcile is the step after a uevent; a full rescan
    // (reload, lost events) is shown next to it.
    if let Some((n, f)) = figs.iter().find(|(n, _)| *n == 10_000) {
        let verdict = |d: Duration| {
            if d < Duration::from_millis(50) {
                "met"
            } else {
                "NOT met"
            }
        };
        println!(
            "goal < 50 ms at N = {n}: reconcile after a uevent {} ms: {}; step with a full rescan {} ms: {} (scan {} ms, pure plan {} ms)",
            ms(f[6].0),
            verdict(f[6].0),
            ms(f[5].0),
            verdict(f[5].0),
            ms(f[2].0),
            ms(f[3].0)
        );
    }
    Ok(())
}
