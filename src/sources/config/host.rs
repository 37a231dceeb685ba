//! The host's identity: NQN, ID, DH-HMAC-CHAP key, symbolic name.
//!
//! Sources (docs/design.md §2.6): `[Host]` of /etc/stas/sys.conf (`nqn`, `id`,
//! `key`, `symname`; a value `file://PATH` means "first word of the first line
//! of PATH"), falling back to /etc/nvme/hostnqn, hostid, hostkey. The boot
//! inputs (kernel command line, NBFT) come first when present: the one
//! precedence is command line > NBFT > sys.conf > /etc/nvme (docs/design.md D4).
//! Read once at start; the NQN is validated (starts with `nqn.`, at most 223
//! bytes) and a missing or invalid NQN is a fatal error. The ID must be a
//! UUID and the key a DH-HMAC-CHAP key (the only forms the kernel takes);
//! anything else is ignored with a warning, and the next source is tried.
//! A file a key came from that group or others may read is warned about,
//! as ssh does for its keys. Files are read as [`crate::base::files`] reads them:
//! regular files only, bounded.

use super::ini::{self, Ini};
use super::Warning;
use crate::base::files::Reader;
use crate::base::root::{rel, Root};
use crate::model::identity::{HostId, Nqn};
use crate::model::secret::Secret;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where the host NQN came from (shown by `process_info` and in errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostSource {
    Cmdline,
    Nbft,
    SysConf,
    EtcNvme,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostIdentity {
    pub nqn: Nqn,
    pub id: Option<HostId>,
    pub key: Option<Secret>,
    pub symname: Option<String>,
    pub source: HostSource,
}

/// Why the host identity cannot be established (fatal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostError {
    /// No NQN anywhere; `tried` lists what was looked at and why it failed.
    NoNqn { tried: Vec<String> },
    /// An NQN was found at `from` but is not valid.
    BadNqn { from: String, msg: String },
    /// sys.conf exists but cannot be read or is structurally broken.
    SysConf(String),
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::NoNqn { tried } => {
                write!(f, "no host NQN found (tried: {})", tried.join("; "))
            }
            HostError::BadNqn { from, msg } => write!(f, "invalid host NQN in {from}: {msg}"),
            HostError::SysConf(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for HostError {}

/// The keys of sys.conf's `[Host]` section (§2.6); any other is unknown.
/// The shipped etc/stas/sys.conf.doc documents each (tests/shipped.rs).
pub const SYS_CONF_KEYS: &[&str] = &["nqn", "id", "key", "symname"];

/// A host NQN/ID handed over by the boot inputs (kernel command line, NBFT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlyHost {
    pub nqn: Option<String>,
    pub id: Option<String>,
    pub source: HostSource,
}

/// Validate a host NQN (§2.6): starts with `nqn.`, at most 223 bytes, and
/// nothing the kernel's option parser would split on.
pub fn validate_nqn(s: &str) -> Result<Nqn, String> {
    if !s.starts_with("nqn.") {
        return Err(format!("{s:?} does not start with \"nqn.\""));
    }
    crate::model::identity::bounded("host NQN", s).map_err(|e| e.to_string())
}

/// Read sys.conf at `sys_conf` (missing is fine) and the /etc/nvme files under
/// `root`.
pub fn load_host(root: &Root, sys_conf: &Path) -> Result<(HostIdentity, Vec<Warning>), HostError> {
    resolve_host(root, sys_conf, &[])
}

/// Why a source gave no value: quietly (only listed if no NQN is found at
/// all) or as a warning (something the user configured did not work).
#[derive(Debug)]
enum Miss {
    Quiet(String),
    Warn(Warning),
}

/// A value found: where it came from (for messages), the file it was read
/// from and that file's permission bits (0 for the boot inputs).
#[derive(Debug, Clone)]
struct Found {
    value: String,
    from: String,
    file: PathBuf,
    mode: u32,
}

/// A value, or why there is none.
type Lookup = Result<Found, Miss>;

/// The value of `l`, pushing its warning if it has none.
fn take(l: Lookup, warnings: &mut Vec<Warning>) -> Option<Found> {
    match l {
        Ok(v) => Some(v),
        Err(Miss::Warn(w)) => {
            warnings.push(w);
            None
        }
        Err(Miss::Quiet(_)) => None,
    }
}

/// The first whitespace-delimited token of the first line of `path` (§2.6),
/// and the file's permission bits. The file must be a regular one of at
/// most 4 KiB (a `file://` could name a device or a FIFO). `Ok(None)`:
/// empty.
fn first_token(read: Reader<'_>, path: &Path) -> std::io::Result<Option<(String, u32)>> {
    let f = match read(path, 4096) {
        Ok(Some(f)) => f,
        Ok(None) => return Err(std::io::Error::from_raw_os_error(2)),
        Err(crate::base::files::ReadError::Io(e)) => return Err(e),
        Err(e) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                e.to_string(),
            ))
        }
    };
    let first = f.bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let bad = |_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text");
    let text = std::str::from_utf8(first).map_err(bad)?;
    Ok(text
        .split_whitespace()
        .next()
        .map(|t| (t.to_string(), f.mode)))
}

/// An OS error without Rust's " (os error N)" suffix.
fn os_msg(e: &std::io::Error) -> String {
    let s = e.to_string();
    s.find(" (os error")
        .map_or(s.clone(), |i| s[..i].to_string())
}

fn warning(file: &Path, line: usize, key: &str, msg: String) -> Warning {
    let (file, key) = (file.to_path_buf(), key.to_string());
    Warning {
        file,
        line,
        key,
        msg,
    }
}

/// `[Host] key` of sys.conf (last occurrence wins): a verbatim value or
/// `file://PATH`, PATH resolved under `root`. `mode`: sys.conf's.
fn sys_value(
    read: Reader<'_>,
    (root, sys_conf, mode): (&Root, &Path, u32),
    ini: &Ini,
    key: &str,
) -> Lookup {
    let name = format!("[Host] {key}");
    let entries = ini.entries.iter().rev();
    let Some(e) = entries
        .filter(|e| e.section == "Host")
        .find(|e| e.key == key)
    else {
        return Err(Miss::Quiet(format!("{}: no {name}", sys_conf.display())));
    };
    let warn = |msg: String| Err(Miss::Warn(warning(sys_conf, e.line, &name, msg)));
    match e.value.as_deref() {
        None => warn("no value; ignored".into()),
        Some("") => warn("empty value; ignored".into()),
        Some(v) => match v.strip_prefix("file://").map(|p| root.path(p)) {
            None => Ok(Found {
                value: v.to_string(),
                from: format!("{}:{}", sys_conf.display(), e.line),
                file: sys_conf.to_path_buf(),
                mode,
            }),
            Some(path) => match first_token(read, &path) {
                Ok(Some((value, mode))) => Ok(Found {
                    value,
                    from: path.display().to_string(),
                    file: path,
                    mode,
                }),
                Ok(None) => warn(format!("{} is empty; ignored", path.display())),
                Err(err) => warn(format!(
                    "cannot read {}: {}; ignored",
                    path.display(),
                    os_msg(&err)
                )),
            },
        },
    }
}

/// One of the /etc/nvme files; a missing or empty one is quietly absent.
fn etc_value(read: Reader<'_>, path: &Path, what: &str) -> Lookup {
    let d = path.display();
    match first_token(read, path) {
        Ok(Some((value, mode))) => Ok(Found {
            value,
            from: d.to_string(),
            file: path.to_path_buf(),
            mode,
        }),
        Ok(None) => Err(Miss::Quiet(format!("{d}: empty"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(Miss::Quiet(format!("{d}: {}", os_msg(&e))))
        }
        Err(e) => {
            let msg = format!("cannot read: {}; ignored", os_msg(&e));
            Err(Miss::Warn(warning(path, 0, what, msg)))
        }
    }
}

/// The host identity with the one precedence of docs/design.md D4: `early` in the
/// order given (command line, then NBFT), then sys.conf, then /etc/nvme.
/// The NQN is the first one found (an invalid one is an error, never
/// skipped); the ID comes from the NQN's source or, if it has none, from the
/// sources after it. The key comes from sys.conf, else /etc/nvme/hostkey.
pub fn resolve_host(
    root: &Root,
    sys_conf: &Path,
    early: &[EarlyHost],
) -> Result<(HostIdentity, Vec<Warning>), HostError> {
    resolve_host_with(&crate::base::files::read_file, root, sys_conf, early)
}

/// [`resolve_host`] reading its files through `read` (the fuzz target
/// gives it the files' texts from memory).
pub fn resolve_host_with(
    read: Reader<'_>,
    root: &Root,
    sys_conf: &Path,
    early: &[EarlyHost],
) -> Result<(HostIdentity, Vec<Warning>), HostError> {
    let sys_err = |e: super::ConfigError| HostError::SysConf(e.to_string());
    let (ini, sys_mode) = match super::read_text_with(read, sys_conf).map_err(sys_err)? {
        Some((t, mode)) => (ini::parse(&t, sys_conf).map_err(sys_err)?, mode),
        None => (Ini::default(), 0),
    };
    let mut sink = super::Sink {
        file: sys_conf,
        out: Vec::new(),
    };
    sink.unknown_sections(&ini, &["Host"]);
    for e in ini.entries.iter().filter(|e| e.section == "Host") {
        if !SYS_CONF_KEYS.contains(&e.key.as_str()) {
            sink.unknown_key(e);
        }
    }
    let mut warnings = sink.out;

    // (source, file named in warnings about its ID, NQN, ID)
    let mut sources: Vec<(HostSource, PathBuf, Lookup, Lookup)> = Vec::new();
    for h in early {
        let (name, file) = match h.source {
            HostSource::Nbft => ("NBFT", root.path(rel::ACPI_TABLES)),
            _ => ("kernel command line", root.path(rel::CMDLINE)),
        };
        let get = |v: &Option<String>, what: &str| match v.as_deref().map(str::trim) {
            Some(v) if !v.is_empty() => Ok(Found {
                value: v.to_string(),
                from: name.to_string(),
                file: file.clone(),
                mode: 0,
            }),
            _ => Err(Miss::Quiet(format!("{name}: no host {what}"))),
        };
        let (nqn, id) = (get(&h.nqn, "NQN"), get(&h.id, "ID"));
        sources.push((h.source, file, nqn, id));
    }
    let sys = |k| sys_value(read, (root, sys_conf, sys_mode), &ini, k);
    let id_file = root.path(rel::HOSTID);
    let etc = (
        etc_value(read, &root.path(rel::HOSTNQN), "host NQN"),
        etc_value(read, &id_file, "host ID"),
    );
    sources.push((
        HostSource::SysConf,
        sys_conf.to_path_buf(),
        sys("nqn"),
        sys("id"),
    ));
    sources.push((HostSource::EtcNvme, id_file, etc.0, etc.1));

    let mut found = sources.iter().enumerate();
    let found = found.find_map(|(i, s)| Some((i, s.0, s.2.as_ref().ok()?.clone())));
    let Some((
        k,
        source,
        Found {
            value: nqn,
            from: nqn_from,
            ..
        },
    )) = found
    else {
        let why = |m: &Miss| match m {
            Miss::Quiet(s) => s.clone(),
            Miss::Warn(w) => w.to_string(),
        };
        let tried = sources
            .iter()
            .filter_map(|s| s.2.as_ref().err().map(why))
            .collect();
        return Err(HostError::NoNqn { tried });
    };
    let nqn = validate_nqn(&nqn).map_err(|msg| HostError::BadNqn {
        from: nqn_from.clone(),
        msg,
    })?;

    let mut id = None;
    for (i, (_, file, nqn_l, id_l)) in sources.into_iter().enumerate() {
        if i < k {
            take(nqn_l, &mut warnings);
            if take(id_l, &mut warnings).is_some() {
                let msg = format!("ignored: the host NQN comes from {nqn_from}, a later source");
                warnings.push(warning(&file, 0, "host ID", msg));
            }
            continue;
        }
        if id.is_some() {
            continue;
        }
        let Some(f) = take(id_l, &mut warnings) else {
            continue;
        };
        // The kernel parses `hostid=` with uuid_parse (fabrics.c): anything
        // else (a `,`, a NUL, a second word) would fail every connect or
        // add options of its own; the next source is tried.
        match HostId::parse(&f.value) {
            Some(h) => id = Some(h),
            None => {
                let v = crate::model::identity::quoted(&f.value);
                let msg = format!("{v} from {} is not a UUID; ignored", f.from);
                warnings.push(warning(&file, 0, "host ID", msg));
            }
        }
    }

    // The key: sys.conf's, else /etc/nvme/hostkey; one that is not a
    // DH-HMAC-CHAP key is ignored (the kernel takes no other form).
    let mut key = None;
    for l in [
        sys("key"),
        etc_value(read, &root.path(rel::HOSTKEY), "host key"),
    ] {
        let Some(f) = take(l, &mut warnings) else {
            continue;
        };
        match Secret::new(&f.value) {
            Ok(k) => {
                if let Some(msg) = crate::base::files::key_file_warning(f.mode) {
                    warnings.push(warning(&f.file, 0, "permissions", msg));
                }
                key = Some(k);
                break;
            }
            Err(why) => {
                let msg = format!("the key from {} is {why}; ignored", f.from);
                warnings.push(warning(&f.file, 0, "host key", msg));
            }
        }
    }
    let symname = take(sys("symname"), &mut warnings).map(|f| f.value);
    let host = HostIdentity {
        nqn,
        id,
        key,
        symname,
        source,
    };
    Ok((host, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::config::tests::TempDir;
    use HostSource::*;

    const NQN: &str = "nqn.2014-08.org.nvmexpress:uuid:9aae2691-b275-4b64-8bfe-5da429a2bab9";
    const ID: &str = "56529e15-0f3e-4ede-87e2-63932a4adb99";
    const KEY: &str = "DHHC-1:03:RZ3pYipvu3jgn0JVERUyZFOefhf0c/rlphhz2SmTlZt9JiFtG3a5Yn8+4poro+3N2HJru1lKNvSovfkUcBXuvt7obec=:";
    const SYS: &str = rel::SYS_CONF;

    /// Resolve with `files` (relative path, content, mode 0600) under a
    /// fresh root; warnings are returned as text with the root removed.
    fn run(
        name: &str,
        files: &[(&str, &str)],
        early: &[EarlyHost],
    ) -> Result<(HostIdentity, Vec<String>), HostError> {
        let dir = TempDir::new(name);
        for (p, text) in files {
            let p = dir.write(p, text.as_bytes());
            let mode = std::os::unix::fs::PermissionsExt::from_mode(0o600);
            std::fs::set_permissions(p, mode).expect("chmod");
        }
        let root = Root::new(&dir.0);
        let (h, w) = resolve_host(&root, &root.path(SYS), early)?;
        let base = dir.0.to_string_lossy();
        Ok((
            h,
            w.iter()
                .map(|w| w.to_string().replace(&*base, ""))
                .collect(),
        ))
    }

    fn early(source: HostSource, nqn: Option<&str>, id: Option<&str>) -> EarlyHost {
        EarlyHost {
            nqn: nqn.map(Into::into),
            id: id.map(Into::into),
            source,
        }
    }

    #[test]
    #[rustfmt::skip]
    fn validate_nqn_rules() {
        let long = format!("nqn.{}", "a".repeat(220));
        let cases = [(NQN, true), ("nqn.x", true), (&long[..223], true), (&long, false), ("qnq.x", false),
                     ("", false), ("nqn.a,b", false)];
        for (s, ok) in cases {
            assert_eq!(validate_nqn(s).is_ok(), ok, "{s:?}");
        }
    }

    // §10.1 S1.
    #[test]
    fn s1_all_in_sys_conf() {
        let sys = format!("[Host]\nnqn={NQN}\nid={ID}\nkey={KEY}\nsymname=Bart-Simpson\n");
        let (h, w) = run("host-s1", &[(SYS, &sys)], &[]).expect("resolves");
        assert_eq!(
            (&h.nqn[..], h.id.map(|h| h.to_string()).as_deref(), h.source),
            (NQN, Some(ID), SysConf)
        );
        assert_eq!(h.key.as_ref().map(Secret::expose), Some(KEY));
        assert_eq!((h.symname.as_deref(), w.len()), (Some("Bart-Simpson"), 0));
    }

    // §10.1 S2. Differs: an empty value falls through to /etc/nvme/hostnqn
    // (one precedence, docs/design.md D4); with none there it is fatal (the original
    // crashes later), and the error lists what was tried.
    #[test]
    fn s2_empty_nqn_file() {
        let files = [(SYS, "[Host]\nnqn=file:///dev/null\n"), ("dev/null", "")];
        let e = run("host-s2", &files, &[]).err();
        let Some(HostError::NoNqn { tried }) = e else {
            panic!("{e:?}")
        };
        assert!(
            tried[0].contains("/etc/stas/sys.conf:2: [Host] nqn: /"),
            "{tried:?}"
        );
        assert!(
            tried[0].ends_with("/dev/null is empty; ignored"),
            "{tried:?}"
        );
        assert!(
            tried[1].ends_with("/etc/nvme/hostnqn: No such file or directory"),
            "{tried:?}"
        );
        let files = [files[0], files[1], (rel::HOSTNQN, NQN)];
        let (h, w) = run("host-s2b", &files, &[]).expect("resolves");
        assert_eq!(
            (&h.nqn[..], h.source, h.symname, w.len()),
            (NQN, EtcNvme, None, 1)
        );
    }

    // §10.1 S3 (the original still reads the ID; we stop at the NQN).
    #[test]
    fn s3_bad_prefix() {
        let sys = format!("[Host]\nnqn=qnq.2014-08.org.nvmexpress:uuid:x\nid={ID}\n");
        let e = run("host-s3", &[(SYS, &sys)], &[]).err();
        let Some(HostError::BadNqn { from, msg }) = e else {
            panic!("{e:?}")
        };
        assert!(
            from.ends_with("/etc/stas/sys.conf:2") && msg.contains("\"nqn.\""),
            "{from} {msg}"
        );
    }

    // §10.1 S4. Differs: the ID is optional (docs/design.md D5), so a missing ID file
    // is a warning, not fatal; an NQN must be found elsewhere to see them.
    #[test]
    fn s4_missing_files() {
        let f = "file:///some/non/existing/file/!@#";
        let sys = format!("[Host]\nnqn={f}\nid={f}\nsymname={f}\n");
        let e = run("host-s4", &[(SYS, &sys)], &[]).err();
        assert!(
            matches!(e, Some(HostError::NoNqn { ref tried }) if tried.len() == 2),
            "{e:?}"
        );
        let (h, w) = run("host-s4b", &[(SYS, &sys), (rel::HOSTNQN, NQN)], &[]).expect("resolves");
        assert_eq!((h.id, h.symname), (None, None));
        let want = ["nqn", "id", "symname"].iter().zip(2..).map(|(k, l)| {
            format!("/etc/stas/sys.conf:{l}: [Host] {k}: cannot read /some/non/existing/file/!@#: No such file or directory; ignored")
        });
        assert_eq!(w, want.collect::<Vec<_>>());
    }

    // §10.1 S5, and the /etc/nvme fallbacks (first token of the first line).
    #[test]
    fn s5_no_sys_conf() {
        let nqn = format!("  {NQN} junk\nsecond\n");
        let files = [
            (rel::HOSTNQN, &*nqn),
            (rel::HOSTID, &*format!("{ID}\n")),
            (rel::HOSTKEY, KEY),
        ];
        let (h, w) = run("host-s5", &files, &[]).expect("resolves");
        assert_eq!(
            (
                &h.nqn[..],
                h.id.map(|h| h.to_string()).as_deref(),
                h.source,
                h.symname
            ),
            (NQN, Some(ID), EtcNvme, None)
        );
        assert_eq!(
            (h.key.as_ref().map(Secret::expose), w.len()),
            (Some(KEY), 0)
        );
        let e = run("host-s5b", &[], &[]).err();
        let Some(HostError::NoNqn { tried }) = e else {
            panic!("{e:?}")
        };
        assert!(
            tried.len() == 2 && tried[0].ends_with("sys.conf: no [Host] nqn"),
            "{tried:?}"
        );
    }

    // §10.1 S6.
    #[test]
    fn s6_too_long() {
        let sys = format!("[Host]\nnqn=nqn.{}\n", "a".repeat(220));
        let e = run("host-s6", &[(SYS, &sys)], &[]).err();
        let Some(HostError::BadNqn { msg, .. }) = e else {
            panic!("{e:?}")
        };
        assert!(msg.contains("224 bytes"), "{msg}");
    }

    #[test]
    #[rustfmt::skip]
    fn precedence_of_sources() {
        let sys = format!("[Host]\nnqn=nqn.sys\nid={ID}\n");
        let files = [(SYS, &*sys), (rel::HOSTNQN, "nqn.etc"), (rel::HOSTID, "etc-id")];
        let nbft_id = "11111111-2222-3333-4444-555555555555";
        // Early entries, then the expected NQN, source, ID and number of warnings.
        type Case<'a> = (&'a [EarlyHost], &'a str, HostSource, Option<&'a str>, usize);
        let cases: &[Case] = &[
            (&[], "nqn.sys", SysConf, Some(ID), 0),
            (&[early(Cmdline, Some("nqn.cmd"), None), early(Nbft, Some("nqn.nbft"), Some(nbft_id))], "nqn.cmd", Cmdline, Some(nbft_id), 0),
            // The command line's lone ID is not paired with a later NQN (warned).
            (&[early(Cmdline, Some(" "), Some("x")), early(Nbft, Some("nqn.nbft"), None)], "nqn.nbft", Nbft, Some(ID), 1),
            (&[early(Nbft, None, None)], "nqn.sys", SysConf, Some(ID), 0),
        ];
        for (i, (e, nqn, src, id, nw)) in cases.iter().enumerate() {
            let (h, w) = run(&format!("host-prec{i}"), &files, e).expect("resolves");
            assert_eq!((&h.nqn[..], h.source, h.id.map(|h| h.to_string()).as_deref(), w.len()), (*nqn, *src, *id, *nw), "case {i}: {w:?}");
        }
        let e = run("host-prec-bad", &files, &[early(Cmdline, Some("host1"), Some(ID))]).err();
        assert!(matches!(e, Some(HostError::BadNqn { ref from, .. }) if from == "kernel command line"), "{e:?}");
    }

    #[test]
    #[rustfmt::skip]
    fn id_checks_and_other_warnings() {
        let sys = "[Host]\nnqn=nqn.x\nid = a b\nkey=file:///k\ncolour=red\n[Other]\n";
        let files = [(SYS, sys), (rel::HOSTID, "not-a-uuid"), ("k", ""), (rel::HOSTKEY, KEY)];
        let (h, w) = run("host-id", &files, &[]).expect("resolves");
        assert_eq!((h.id, h.key.as_ref().map(Secret::expose)), (None, Some(KEY)));
        assert_eq!(w, [
            "/etc/stas/sys.conf:6: [Other]: unknown section; ignored",
            "/etc/stas/sys.conf:5: [Host] colour: unknown key; ignored",
            "/etc/stas/sys.conf: host ID: \"a b\" from /etc/stas/sys.conf:3 is not a UUID; ignored",
            "/etc/nvme/hostid: host ID: \"not-a-uuid\" from /etc/nvme/hostid is not a UUID; ignored",
            "/etc/stas/sys.conf:4: [Host] key: /k is empty; ignored",
        ]);
    }

    // Issue 12 cases 1 and 2: a `,` in a key, a NUL or a `,` in an ID would
    // reach the connect string; a key others may read is warned about.
    #[test]
    #[rustfmt::skip]
    fn keys_and_ids_of_the_kernel_form_only() {
        let evil = "DHHC-1:00:S,hostnqn=nqn.evil:x,duplicate_connect";
        let sys = format!("[Host]\nnqn={NQN}\nid={ID}\0junk\nkey={evil}\n");
        let files = [(SYS, &*sys), (rel::HOSTID, &*format!("{ID},hostnqn=nqn.evil\n")), (rel::HOSTKEY, "DHHC-1:00:x,y:\n")];
        let (h, w) = run("host-evil", &files, &[]).expect("resolves");
        assert_eq!((h.id, h.key), (None, None), "{w:?}");
        assert_eq!(w.len(), 4, "{w:?}");
        assert!(w[2..].iter().all(|m| !m.contains("evil") && !m.contains("x,y")), "{w:?}");
        assert!(w[0].contains("is not a UUID; ignored") && w[0].contains("\\0junk"), "{w:?}");
        assert!(w[2].ends_with("/etc/stas/sys.conf: host key: the key from /etc/stas/sys.conf:4 is not a DH-HMAC-CHAP key (expected DHHC-1:<00-03>:<base64>:, as nvme gen-dhchap-key writes); ignored"), "{w:?}");
        // The kernel command line and the NBFT are checked the same way.
        let (h, w) = run("host-evil2", &[(SYS, &format!("[Host]\nnqn={NQN}\n"))], &[early(Cmdline, None, Some(&format!("{ID},x")))]).expect("resolves");
        assert_eq!((h.id, w.len()), (None, 1), "{w:?}");
        // ssh's rule: a key file group or others may read is warned about.
        let dir = TempDir::new("host-mode");
        dir.write(rel::HOSTNQN, NQN.as_bytes());
        let key = dir.write(rel::HOSTKEY, KEY.as_bytes());
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644)).expect("chmod");
        let root = Root::new(&dir.0);
        let (h, w) = resolve_host(&root, &root.path(SYS), &[]).expect("resolves");
        assert!(h.key.is_some());
        let w: Vec<String> = w.iter().map(ToString::to_string).collect();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].ends_with("/etc/nvme/hostkey: permissions: 0644 let group or others read the DH-HMAC-CHAP key in it; chmod 600 it"), "{w:?}");
    }

    #[test]
    fn sys_conf_errors_and_secrets() {
        let dir = TempDir::new("host-err");
        let root = Root::new(&dir.0);
        assert!(matches!(
            load_host(&root, &dir.0),
            Err(HostError::SysConf(_))
        ));
        let p = dir.write(SYS, b"nqn=nqn.x\n");
        let e = load_host(&root, &p);
        assert!(
            matches!(e, Err(HostError::SysConf(ref m)) if m.contains(":1:")),
            "{e:?}"
        );
        // Secrets stay out of every message, even when something is wrong.
        let sys = format!("[Host]\nnqn=nqn.x\nkey={KEY}\nkey\n");
        let files = [
            (SYS, &*sys),
            (
                rel::HOSTKEY,
                "DHHC-1:00:26gRZK7wMudgXgiBreq7h5KL8+ooYJAxCGj3M2yVnWyPL4PH:",
            ),
        ];
        let (h, w) = run("host-secret", &files, &[]).expect("resolves");
        assert_eq!(
            h.key.as_ref().map(Secret::expose),
            Some("DHHC-1:00:26gRZK7wMudgXgiBreq7h5KL8+ooYJAxCGj3M2yVnWyPL4PH:")
        );
        assert!(
            w.len() == 1 && !w[0].contains("SECRET") && !w[0].contains(KEY),
            "{w:?}"
        );
        assert!(!format!("{h:?}").contains("SECRET"));
    }
}
