//! `make install` into a scratch DESTDIR, checked file by file: every path,
//! mode and content, the stacctl link (and that it runs as stacctl), the
//! unit naming the installed binary, a stacd.conf that is never
//! overwritten, the dracut and initramfs-tools directories installed
//! whatever they hold, `make uninstall`, and `systemd-analyze verify` of
//! the installed unit. Needs `make` and `systemd-analyze` (.ci/run
//! installs them).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The binary under test: `$STACD_TEST_BIN` (ci/test sets it to the static
/// release build; relative to the source tree), else the one cargo built
/// for the tests. Absolute, since make runs in other directories.
fn bin() -> String {
    let p = std::env::var_os("STACD_TEST_BIN")
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_stacd")), PathBuf::from);
    repo().join(p).display().to_string()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("stacd-install-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("scratch dir");
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `make -C src TARGET DESTDIR=dest ARGS...`, installing the test binary.
fn make(src: &Path, target: &str, dest: &Path, args: &[&str]) {
    let o = Command::new("make")
        .arg("-s")
        .arg("-C")
        .arg(src)
        .arg(target)
        .arg(format!("DESTDIR={}", dest.display()))
        .arg(format!("STACD_BIN={}", bin()))
        .args(args)
        .output()
        .expect("make (Debian: make) is needed for the install test");
    assert!(
        o.status.success(),
        "make {target}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[derive(Debug, PartialEq, Eq)]
enum Entry {
    /// Mode and content.
    File(u32, Vec<u8>),
    Link(PathBuf),
}

/// Every file and link under `dir`, by path relative to it.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Entry> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Entry>) {
        for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
            let p = e.path();
            let rel = p.strip_prefix(base).expect("under base").to_path_buf();
            let m = std::fs::symlink_metadata(&p).expect("metadata");
            if m.file_type().is_symlink() {
                out.insert(rel, Entry::Link(std::fs::read_link(&p).expect("link")));
            } else if m.is_dir() {
                walk(base, &p, out);
            } else {
                let data = std::fs::read(&p).expect("read");
                out.insert(rel, Entry::File(m.permissions().mode() & 0o777, data));
            }
        }
    }
    let mut out = BTreeMap::new();
    if dir.is_dir() {
        walk(dir, dir, &mut out);
    }
    out
}

/// The source file as installed: 755 if executable in the tree, else 644.
fn as_installed(p: &Path) -> Entry {
    let m = std::fs::metadata(p).expect("source file");
    let mode = if m.permissions().mode() & 0o111 != 0 {
        0o755
    } else {
        0o644
    };
    Entry::File(mode, std::fs::read(p).expect("read source"))
}

fn file_644(p: &Path) -> Entry {
    Entry::File(0o644, std::fs::read(p).expect("read source"))
}

/// What `make install PREFIX=prefix` must put under DESTDIR, from the
/// source tree at `src`: nothing more, nothing less.
fn expected(src: &Path, prefix: &str) -> BTreeMap<PathBuf, Entry> {
    let p = prefix.trim_start_matches('/');
    let mut want = BTreeMap::new();
    let mut put = |path: String, e: Entry| assert!(want.insert(PathBuf::from(path), e).is_none());
    put(
        format!("{p}/sbin/stacd"),
        Entry::File(0o755, std::fs::read(bin()).expect("bin")),
    );
    put(
        format!("{p}/bin/stacctl"),
        Entry::Link("../sbin/stacd".into()),
    );
    put(
        "etc/stas/stacd.conf".into(),
        file_644(&src.join("etc/stas/stacd.conf")),
    );
    put(
        "etc/stas/sys.conf.doc".into(),
        file_644(&src.join("etc/stas/sys.conf.doc")),
    );
    put(
        "usr/share/dbus-1/system.d/org.nvmexpress.stac.conf".into(),
        file_644(&src.join("etc/dbus-1/system.d/org.nvmexpress.stac.conf")),
    );
    let unit = std::fs::read_to_string(src.join("etc/systemd/stacd.service")).expect("unit");
    let unit = unit.replace(
        "ExecStart=/usr/sbin/stacd",
        &format!("ExecStart={prefix}/sbin/stacd"),
    );
    put(
        format!("{p}/lib/systemd/system/stacd.service"),
        Entry::File(0o644, unit.into_bytes()),
    );
    for f in ls(&src.join("man")) {
        let name = f.file_name().expect("name").to_string_lossy().into_owned();
        let sect = name.rsplit('.').next().expect("section");
        put(format!("{p}/share/man/man{sect}/{name}"), file_644(&f));
    }
    put(
        format!("{p}/share/doc/stacd/README.md"),
        file_644(&src.join("README.md")),
    );
    for f in ls(&src.join("docs")) {
        let name = f.file_name().expect("name").to_string_lossy().into_owned();
        put(format!("{p}/share/doc/stacd/docs/{name}"), file_644(&f));
    }
    for f in ls(&src.join("dracut/dracut.conf.d")) {
        let name = f.file_name().expect("name").to_string_lossy().into_owned();
        put(
            format!("{p}/share/doc/stacd/examples/dracut.conf.d/{name}"),
            file_644(&f),
        );
    }
    // dracut/NNname/ are modules; initramfs/*/ are initramfs-tools trees.
    for d in ls(&src.join("dracut")).into_iter().filter(|d| d.is_dir()) {
        let name = d.file_name().expect("name").to_string_lossy().into_owned();
        if !name.as_bytes().first().is_some_and(u8::is_ascii_digit) {
            continue;
        }
        for (rel, _) in tree(&d) {
            let to = format!("usr/lib/dracut/modules.d/{name}/{}", rel.display());
            put(to, as_installed(&d.join(&rel)));
        }
    }
    for (rel, _) in tree(&src.join("initramfs")) {
        if rel.components().count() > 1 {
            let to = format!("usr/share/initramfs-tools/{}", rel.display());
            put(to, as_installed(&src.join("initramfs").join(&rel)));
        }
    }
    want
}

/// The entries of a directory, sorted; none if it does not exist.
fn ls(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(r) => r.flatten().map(|e| e.path()).collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

fn assert_tree(dest: &Path, want: &BTreeMap<PathBuf, Entry>) {
    let got = tree(dest);
    let names = |m: &BTreeMap<PathBuf, Entry>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&got), names(want), "installed paths");
    for (path, e) in want {
        let g = &got[path];
        let short = |e: &Entry| match e {
            Entry::File(m, d) => format!("file {m:o}, {} bytes", d.len()),
            Entry::Link(t) => format!("link to {}", t.display()),
        };
        assert!(
            g == e,
            "{}: got {}, want {}",
            path.display(),
            short(g),
            short(e)
        );
    }
}

/// The link runs as stacctl: the binary dispatches on its name.
fn assert_stacctl_runs(dest: &Path, prefix: &str) {
    let link = dest
        .join(prefix.trim_start_matches('/'))
        .join("bin/stacctl");
    let o = Command::new(&link)
        .arg("--version")
        .output()
        .expect("run stacctl");
    let out = String::from_utf8_lossy(&o.stdout);
    if cfg!(feature = "dbus") {
        assert_eq!(out.trim(), format!("stacctl {}", env!("CARGO_PKG_VERSION")));
    } else {
        assert!(String::from_utf8_lossy(&o.stderr).starts_with("stacctl: D-Bus is not built"));
    }
}

#[test]
fn install_puts_everything_in_place() {
    let dest = Scratch::new("tree");
    make(&repo(), "install", &dest.0, &[]);
    assert_tree(&dest.0, &expected(&repo(), "/usr"));
    assert_stacctl_runs(&dest.0, "/usr");
    // A second install changes nothing (and leaves no stacd.conf.new).
    make(&repo(), "install", &dest.0, &[]);
    assert_tree(&dest.0, &expected(&repo(), "/usr"));
}

#[test]
fn an_edited_stacd_conf_is_never_overwritten() {
    let dest = Scratch::new("noreplace");
    make(&repo(), "install-conf", &dest.0, &[]);
    let conf = dest.0.join("etc/stas/stacd.conf");
    let new = dest.0.join("etc/stas/stacd.conf.new");
    let shipped = std::fs::read(repo().join("etc/stas/stacd.conf")).expect("shipped");
    assert_eq!(std::fs::read(&conf).expect("installed"), shipped);
    assert!(!new.exists());
    let mine = "[Global]\nkato=30\n";
    std::fs::write(&conf, mine).expect("edit");
    make(&repo(), "install-conf", &dest.0, &[]);
    assert_eq!(std::fs::read_to_string(&conf).expect("kept"), mine);
    assert_eq!(std::fs::read(&new).expect("stacd.conf.new"), shipped);
    // Back to the shipped text: nothing to set aside any more.
    std::fs::remove_file(&new).expect("rm");
    std::fs::write(&conf, &shipped).expect("restore");
    make(&repo(), "install-conf", &dest.0, &[]);
    assert!(!new.exists());
}

/// A copy of the files `make install` reads, plus a dracut module and
/// initramfs-tools files of made-up content: the Makefile must install
/// what those directories hold, whatever it is.
fn source_copy(dir: &Path) {
    let src = repo();
    let cp = |rel: &str| {
        for (p, e) in tree(&src.join(rel)) {
            let to = dir.join(rel).join(&p);
            std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
            std::fs::copy(src.join(rel).join(&p), &to).expect("copy");
            assert!(matches!(e, Entry::File(..)), "{rel}/{}", p.display());
        }
    };
    for d in ["etc", "man", "docs"] {
        cp(d);
    }
    for f in ["Makefile", "README.md"] {
        std::fs::copy(src.join(f), dir.join(f)).expect("copy");
    }
    let _ = std::fs::remove_dir_all(dir.join("dracut"));
    let _ = std::fs::remove_dir_all(dir.join("initramfs"));
    let files: &[(&str, u32)] = &[
        ("dracut/README.md", 0o644),
        ("dracut/50stacd/module-setup.sh", 0o755),
        ("dracut/50stacd/stacd-cmdline.sh", 0o755),
        ("dracut/50stacd/README.md", 0o644),
        ("dracut/50stacd/sub/data.conf", 0o600),
        ("dracut/dracut.conf.d/50-stacd.conf", 0o644),
        ("initramfs/README.md", 0o644),
        ("initramfs/hooks/stacd", 0o755),
        ("initramfs/scripts/local-top/stacd", 0o755),
        ("initramfs/scripts/local-block/stacd", 0o700),
    ];
    for (rel, mode) in files {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, format!("#!/bin/sh\n# {rel}\n")).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode)).expect("chmod");
    }
}

#[test]
fn prefix_boot_modules_and_uninstall() {
    let src = Scratch::new("src");
    source_copy(&src.0);
    let dest = Scratch::new("prefix");
    make(&src.0, "install", &dest.0, &["PREFIX=/usr/local"]);
    let want = expected(&src.0, "/usr/local");
    // The made-up module files are there, modes normalised.
    let module = PathBuf::from("usr/lib/dracut/modules.d/50stacd");
    assert!(matches!(
        want.get(&module.join("module-setup.sh")),
        Some(Entry::File(0o755, _))
    ));
    assert!(matches!(
        want.get(&module.join("sub/data.conf")),
        Some(Entry::File(0o644, _))
    ));
    let hook = PathBuf::from("usr/share/initramfs-tools/scripts/local-block/stacd");
    assert!(matches!(want.get(&hook), Some(Entry::File(0o755, _))));
    assert_tree(&dest.0, &want);
    assert_stacctl_runs(&dest.0, "/usr/local");
    // uninstall removes everything but the administrator's stacd.conf.
    make(&src.0, "uninstall", &dest.0, &["PREFIX=/usr/local"]);
    let left: Vec<PathBuf> = tree(&dest.0).into_keys().collect();
    assert_eq!(left, [PathBuf::from("etc/stas/stacd.conf")]);
}

#[test]
fn installed_unit_passes_systemd_analyze_verify() {
    let dest = Scratch::new("verify");
    make(&repo(), "install", &dest.0, &[]);
    // systemd-analyze checks that ExecStart's binary exists and that the
    // Documentation= man pages resolve: point both at DESTDIR. Everything
    // else (modprobe@.service, the targets, /bin/kill) is the host's.
    let unit = std::fs::read_to_string(dest.0.join("usr/lib/systemd/system/stacd.service"))
        .expect("installed unit");
    let sbin = dest.0.join("usr/sbin/stacd");
    let unit = unit.replace("=/usr/sbin/stacd", &format!("={}", sbin.display()));
    let dir = Scratch::new("verify-unit");
    std::fs::write(dir.0.join("stacd.service"), unit).expect("unit copy");
    let o = Command::new("systemd-analyze")
        .arg("verify")
        .arg(dir.0.join("stacd.service"))
        .env("MANPATH", dest.0.join("usr/share/man"))
        .env("SYSTEMD_LOG_LEVEL", "notice")
        .output()
        .expect("systemd-analyze (Debian: systemd) is needed to verify the unit");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && err.trim().is_empty(), "{err}");
    // The check bites: a unit whose binary is missing fails.
    std::fs::remove_file(&sbin).expect("rm");
    let o = Command::new("systemd-analyze")
        .arg("verify")
        .arg(dir.0.join("stacd.service"))
        .env("MANPATH", dest.0.join("usr/share/man"))
        .output()
        .expect("systemd-analyze");
    assert!(!o.status.success());
}
