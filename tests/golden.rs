//! Golden plan cases: every directory under tests/plan-cases/ is a root
//! tree (`etc/`, `sys/`, `proc/`, `run/`) that `stacd --dry-run` is run
//! against (STACD_ROOT, src/root.rs), and the files next to it say what it
//! must print. tests/plan-cases/README.md says how to add and regenerate a
//! case (`STACD_BLESS=1`).
//!
//! Each case runs in a copy of its tree (a garbage state file is set aside
//! by renaming it, src/state.rs), and the copy is compared with the tree
//! afterwards: `--dry-run` changes nothing unless `expected-touched.txt`
//! lists the change.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Files of a case that are not part of its root tree.
const META: &[&str] = &[
    "README",
    "args",
    "expected-plan.txt",
    "expected-stderr.txt",
    "expected-exit",
    "expected-touched.txt",
];

/// What the temporary root's path is replaced with in the output.
const ROOT_MARK: &str = "$ROOT";

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plan-cases")
}

/// Every file under `dir` (relative path → bytes; symlinks as their target).
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p
                .strip_prefix(base)
                .expect("under base")
                .to_string_lossy()
                .into_owned();
            let ft = e.file_type().expect("file type");
            if ft.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                walk(base, &p, out);
            } else if ft.is_symlink() {
                let t = std::fs::read_link(&p).expect("readlink");
                out.insert(rel, format!("-> {}", t.display()).into_bytes());
            } else {
                out.insert(rel, std::fs::read(&p).expect("read"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Copy a case's root tree (everything but [`META`]) to `to`.
fn copy_tree(from: &Path, to: &Path, top: bool) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read case").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if top && META.contains(&name.as_str()) {
            continue;
        }
        let (src, dst) = (e.path(), to.join(&name));
        let ft = e.file_type().expect("file type");
        if ft.is_dir() {
            copy_tree(&src, &dst, false);
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).expect("readlink"), &dst)
                .expect("symlink");
        } else {
            std::fs::copy(&src, &dst).expect("copy");
        }
    }
}

/// Lines added (`+ path`), removed (`- path`) or changed (`~ path`)
/// between two snapshots.
fn touched(before: &BTreeMap<String, Vec<u8>>, after: &BTreeMap<String, Vec<u8>>) -> String {
    let mut out = String::new();
    for (k, v) in before {
        match after.get(k) {
            None => out.push_str(&format!("- {k}\n")),
            Some(w) if w != v => out.push_str(&format!("~ {k}\n")),
            _ => {}
        }
    }
    for k in after.keys().filter(|k| !before.contains_key(*k)) {
        out.push_str(&format!("+ {k}\n"));
    }
    out
}

/// A line diff (longest common subsequence; cases are a few lines long):
/// ` ` same, `-` expected only, `+` got only.
fn diff(want: &str, got: &str) -> String {
    let a: Vec<&str> = want.lines().collect();
    let b: Vec<&str> = got.lines().collect();
    let mut l = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            l[i][j] = if a[i] == b[j] {
                l[i + 1][j + 1] + 1
            } else {
                l[i + 1][j].max(l[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push_str(&format!("   {}\n", a[i]));
            (i, j) = (i + 1, j + 1);
        } else if j < b.len() && (i == a.len() || l[i][j + 1] >= l[i + 1][j]) {
            out.push_str(&format!("  +{}\n", b[j]));
            j += 1;
        } else {
            out.push_str(&format!("  -{}\n", a[i]));
            i += 1;
        }
    }
    if want.ends_with('\n') != got.ends_with('\n') && !(want.is_empty() || got.is_empty()) {
        out.push_str("  (the final newline differs)\n");
    }
    out
}

struct Got {
    stdout: String,
    stderr: String,
    exit: String,
    touched: String,
}

fn run_case(case: &Path, n: usize) -> Got {
    let tmp = std::env::temp_dir().join(format!("stacd-golden-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    copy_tree(case, &tmp, true);
    let before = snapshot(&tmp);
    let mut argv = vec!["--dry-run".to_string()];
    if let Ok(a) = std::fs::read_to_string(case.join("args")) {
        // One argument per line: no quoting rules to get wrong.
        argv.extend(a.lines().filter(|l| !l.is_empty()).map(str::to_string));
    }
    let o = Command::new(env!("CARGO_BIN_EXE_stacd"))
        .args(&argv)
        .env("STACD_ROOT", &tmp)
        .env_remove("RUNTIME_DIRECTORY")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("DBUS_SYSTEM_BUS_ADDRESS")
        .output()
        .expect("run stacd");
    let after = snapshot(&tmp);
    let _ = std::fs::remove_dir_all(&tmp);
    let mark =
        |b: &[u8]| String::from_utf8_lossy(b).replace(tmp.to_string_lossy().as_ref(), ROOT_MARK);
    Got {
        stdout: mark(&o.stdout),
        stderr: mark(&o.stderr),
        exit: match o.status.code() {
            Some(c) => format!("{c}\n"),
            None => format!("{:?}\n", o.status),
        },
        touched: touched(&before, &after),
    }
}

/// Expected file `name` of `case`; a missing optional file is empty.
fn expected(case: &Path, name: &str) -> String {
    std::fs::read_to_string(case.join(name)).unwrap_or_default()
}

/// Write `text` as `name`, or remove the file when `text` is empty and
/// the file is optional.
fn bless(case: &Path, name: &str, text: &str, optional: bool) {
    let p = case.join(name);
    if optional && text.is_empty() {
        let _ = std::fs::remove_file(p);
    } else {
        std::fs::write(p, text).expect("bless");
    }
}

#[test]
fn plan_cases() {
    let t0 = std::time::Instant::now();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("tests/plan-cases")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 20, "only {} plan cases found", cases.len());
    let blessing = std::env::var_os("STACD_BLESS").is_some_and(|v| !v.is_empty());
    let mut failed = Vec::new();
    let mut report = String::new();
    for (n, case) in cases.iter().enumerate() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            case.join("expected-exit").exists() || blessing,
            "{name}: no expected-exit (run with STACD_BLESS=1 to write it)"
        );
        let got = run_case(case, n);
        let files = [
            ("expected-plan.txt", &got.stdout, false),
            ("expected-stderr.txt", &got.stderr, true),
            ("expected-exit", &got.exit, false),
            ("expected-touched.txt", &got.touched, true),
        ];
        if blessing {
            for (f, text, optional) in files {
                bless(case, f, text, optional);
            }
            continue;
        }
        let mut bad = String::new();
        for (f, text, _) in files {
            let want = expected(case, f);
            if want != *text {
                bad.push_str(&format!(" {f} (- expected, + got):\n{}", diff(&want, text)));
            }
        }
        if !bad.is_empty() {
            failed.push(name.clone());
            report.push_str(&format!("--- {name}:{bad}"));
        }
    }
    eprintln!(
        "{} plan cases in {:?}{}",
        cases.len(),
        t0.elapsed(),
        if blessing { " (blessed)" } else { "" }
    );
    assert!(
        failed.is_empty(),
        "{} of {} plan cases differ: {}\n{report}\nIf the new output is right, regenerate with STACD_BLESS=1 cargo test --test golden (see tests/plan-cases/README.md).",
        failed.len(),
        cases.len(),
        failed.join(", ")
    );
}

#[test]
fn the_diff_shows_what_differs() {
    assert_eq!(diff("a\nb\nc\n", "a\nc\nd\n"), "   a\n  -b\n   c\n  +d\n");
    assert_eq!(diff("", "x\n"), "  +x\n");
    let mut before = BTreeMap::new();
    before.insert("a".to_string(), b"1".to_vec());
    before.insert("b".to_string(), b"1".to_vec());
    let mut after = before.clone();
    after.remove("a");
    after.insert("b".to_string(), b"2".to_vec());
    after.insert("c".to_string(), Vec::new());
    assert_eq!(touched(&before, &after), "- a\n~ b\n+ c\n");
}
