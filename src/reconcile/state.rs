//! Which kernel controllers are ours, kept across restarts in
//! `/run/stacd/state.json`.
//!
//! nvme-stas keeps its "last known config" as a Python pickle (docs/design.md
//! §4.12); D2 replaces it with JSON (written by nanoserde, read
//! through src/json.rs) in the same runtime
//! directory, written atomically and without following links
//! ([`crate::base::files::write_atomic`]) so a crash or a full disk never leaves a
//! half-written file. A file that cannot be decoded (not UTF-8, not JSON,
//! larger than [`MAX_BYTES`], not a regular file), or was written by
//! another schema version, is set aside (renamed `state.json.bad`) with a
//! warning and not trusted: nothing is disconnected because of it, and the
//! next scan adopts what is wanted. Entries are checked like any input: an
//! invalid identity or a device name that is not `nvmeN` is skipped.

use crate::base::files::RecordError;
use crate::base::json::{self, Fields, JsonError};
use crate::model::identity::{IdFields, Identity};
use nanoserde::SerJson;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The largest state file read (100,000 controllers take about 35 MB).
pub const MAX_BYTES: u64 = 64 << 20;

/// Bumped on any incompatible change of [`StateFile`].
pub const VERSION: u32 = 1;
pub const FILE: &str = "state.json";
/// The same record for the discovery controllers our discovery connected
/// (the daemon's engine keeps it, src/reconcile/engine/discovery.rs): kept
/// apart from [`FILE`], so that I/O rules (adoption, the audit, the
/// disconnect scope) never apply to them.
pub const DISCOVERY_FILE: &str = "discovery.json";

/// One controller we own.
#[derive(Debug, Clone, Default, PartialEq, Eq, SerJson)]
pub struct OwnedEntry {
    pub transport: String,
    pub traddr: String,
    pub trsvcid: String,
    pub subsysnqn: String,
    #[nserde(rename = "host-traddr")]
    pub host_traddr: String,
    #[nserde(rename = "host-iface")]
    pub host_iface: String,
    #[nserde(rename = "host-nqn")]
    pub host_nqn: String,
    /// `nvmeN` when last seen.
    pub device: String,
    #[nserde(default)]
    pub cntlid: u32,
    /// Where it came from: `config`, `stafd`, `nbft`, `cmdline`, ...
    #[nserde(default)]
    pub origin: String,
    /// A boot path: never disconnected by policy (docs/design.md D18).
    #[nserde(default)]
    pub boot: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, SerJson)]
pub struct StateFile {
    pub version: u32,
    pub controllers: Vec<OwnedEntry>,
}

/// What we know of a controller we own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owned {
    pub device: String,
    pub cntlid: u16,
    pub origin: String,
    pub boot: bool,
}

pub type OwnedMap = BTreeMap<Identity, Owned>;

impl OwnedEntry {
    fn identity(&self) -> Option<Identity> {
        Identity::new(&IdFields {
            transport: &self.transport,
            traddr: &self.traddr,
            trsvcid: &self.trsvcid,
            subsysnqn: &self.subsysnqn,
            host_traddr: &self.host_traddr,
            host_iface: &self.host_iface,
            host_nqn: &self.host_nqn,
        })
        .ok()
    }
}

/// Encode the map (sorted by identity, so the file is stable).
pub fn encode(owned: &OwnedMap) -> String {
    let controllers = owned
        .iter()
        .map(|(id, o)| OwnedEntry {
            transport: id.transport.as_str().into(),
            traddr: id.traddr.as_str().into(),
            trsvcid: id.trsvcid.as_str().into(),
            subsysnqn: id.subsysnqn.as_str().into(),
            host_traddr: id.host_traddr.as_str().into(),
            host_iface: id.host_iface.as_str().into(),
            host_nqn: id.host_nqn.as_str().into(),
            device: o.device.clone(),
            cntlid: o.cntlid.into(),
            origin: o.origin.clone(),
            boot: o.boot,
        })
        .collect();
    StateFile {
        version: VERSION,
        controllers,
    }
    .serialize_json()
}

/// [`decode`] of a file's bytes: white space only is an empty map; bytes
/// that are not UTF-8 are an error (the file is set aside).
pub fn decode_bytes(bytes: &[u8]) -> Result<(OwnedMap, usize), RecordError> {
    match std::str::from_utf8(bytes) {
        Ok(t) if t.trim().is_empty() => Ok((OwnedMap::new(), 0)),
        Ok(t) => decode(t),
        Err(_) => Err(RecordError::NotUtf8),
    }
}

/// Decode a state file; entries that no longer form a valid identity are
/// skipped (counted in the second value).
pub fn decode(text: &str) -> Result<(OwnedMap, usize), RecordError> {
    let f = read(&json::parse(text)?)?;
    if f.version != VERSION {
        return Err(RecordError::Version {
            found: f.version,
            ours: VERSION,
            verb: "writes",
        });
    }
    let mut out = OwnedMap::new();
    let mut skipped = 0;
    for e in f.controllers {
        // The device name becomes a path under /sys/class/nvme.
        let device_ok = crate::kernel::sysfs::instance_of(&e.device).is_some();
        match e.identity().filter(|_| device_ok) {
            Some(id) => {
                out.insert(
                    id,
                    Owned {
                        device: e.device,
                        cntlid: u16::try_from(e.cntlid).unwrap_or(0),
                        origin: e.origin,
                        boot: e.boot,
                    },
                );
            }
            None => skipped += 1,
        }
    }
    Ok((out, skipped))
}

/// The file's document as [`StateFile`] (src/json.rs says why not with
/// nanoserde): the members [`encode`] writes, those marked `default` there
/// optional.
fn read(doc: &json::Json) -> Result<StateFile, JsonError> {
    let f = Fields::of(doc, "the document")?;
    let version = f.u32("version")?;
    let mut controllers = Vec::new();
    for c in f.array("controllers")? {
        let c = Fields::of(c, "a controller")?;
        controllers.push(OwnedEntry {
            transport: c.text("transport")?,
            traddr: c.text("traddr")?,
            trsvcid: c.text("trsvcid")?,
            subsysnqn: c.text("subsysnqn")?,
            host_traddr: c.text("host-traddr")?,
            host_iface: c.text("host-iface")?,
            host_nqn: c.text("host-nqn")?,
            device: c.text("device")?,
            cntlid: c.u32_or_zero("cntlid")?,
            origin: c.text_or_empty("origin")?,
            boot: c.opt_bool("boot")?.unwrap_or(false),
        });
    }
    Ok(StateFile {
        version,
        controllers,
    })
}

/// The state file of a run directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    /// [`FILE`] or [`DISCOVERY_FILE`].
    file: &'static str,
    /// `--dry-run`: read the file, never write, rename or set it aside.
    read_only: bool,
}

impl Store {
    pub fn new(dir: &Path) -> Store {
        Store {
            dir: dir.to_path_buf(),
            file: FILE,
            read_only: false,
        }
    }

    /// The record of the discovery controllers we connected.
    pub fn discovery(dir: &Path) -> Store {
        Store {
            file: DISCOVERY_FILE,
            ..Store::new(dir)
        }
    }

    /// A store that only reads (`--dry-run` writes nothing: an undecodable
    /// file is reported and left where it is).
    pub fn read_only(dir: &Path) -> Store {
        Store {
            read_only: true,
            ..Store::new(dir)
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(self.file)
    }

    /// Read the file. Missing or empty → empty map. Undecodable (also: not
    /// UTF-8, too large, not a regular file) → the file is renamed
    /// `state.json.bad` (left alone by a [`Store::read_only`]), a warning is
    /// logged, empty map. Other read errors
    /// (permissions) → a warning, empty map, the file left alone.
    pub fn load(&self) -> OwnedMap {
        use crate::base::files::ReadError;
        let path = self.path();
        let decoded = match crate::base::files::read_bounded(&path, MAX_BYTES, false) {
            Ok(None) => return OwnedMap::new(),
            Ok(Some(f)) => decode_bytes(&f.bytes),
            Err(ReadError::Io(e)) => {
                log::warn!("cannot read {}: {e}; starting without it", path.display());
                return OwnedMap::new();
            }
            Err(e) => Err(RecordError::File(e)),
        };
        match decoded {
            Ok((map, skipped)) => {
                if skipped > 0 {
                    log::warn!("{}: {skipped} invalid entries ignored", path.display());
                }
                map
            }
            Err(e) => {
                let bad = self.dir.join(format!("{}.bad", self.file));
                let moved = !self.read_only && std::fs::rename(&path, &bad).is_ok();
                log::warn!(
                    "{} cannot be used ({e}); {}not trusted, controllers will be adopted again from the kernel",
                    path.display(),
                    if moved { format!("set aside as {}, ", bad.display()) } else { String::new() }
                );
                OwnedMap::new()
            }
        }
    }

    /// Write atomically ([`crate::base::files::write_atomic`]): a new temporary
    /// file in the same directory (never an existing name, never through a
    /// link), fsync, rename over the old one, fsync the directory.
    pub fn save(&self, owned: &OwnedMap) -> std::io::Result<()> {
        if self.read_only {
            return Ok(());
        }
        let mut text = encode(owned);
        text.push('\n');
        crate::base::files::write_atomic(&self.dir, self.file, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(a: &str) -> Identity {
        Identity::new(&IdFields {
            transport: "tcp",
            traddr: a,
            subsysnqn: "nqn.x",
            host_nqn: "nqn.h",
            ..Default::default()
        })
        .unwrap()
    }

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("stacd-state-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn round_trip_and_atomic_save() {
        let d = tmpdir("rt");
        let s = Store::new(&d);
        assert!(s.load().is_empty());
        let mut m = OwnedMap::new();
        m.insert(
            id("1.1.1.1"),
            Owned {
                device: "nvme0".into(),
                cntlid: 5,
                origin: "config".into(),
                boot: false,
            },
        );
        m.insert(
            id("::1"),
            Owned {
                device: "nvme1".into(),
                cntlid: 6,
                origin: "nbft".into(),
                boot: true,
            },
        );
        s.save(&m).unwrap();
        assert_eq!(s.load(), m);
        let names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from(FILE)],
            "no temporary file left"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn garbage_is_set_aside_not_trusted() {
        let d = tmpdir("bad");
        std::fs::create_dir_all(&d).unwrap();
        let s = Store::new(&d);
        for junk in [
            "{not json",
            "\u{0}\u{1}binary",
            "{\"version\":99,\"controllers\":[]}",
            "[]",
            // nanoserde 0.2.1's reader panicked on the first and never
            // returned on the second (src/json.rs): a damaged file must not
            // stop stacd.
            "{\"version\":1,\"x\": }",
            "{\"version\":1,\"controllers\":[{\"x\":[1",
            "{\"version\":1,\"controllers\":[{\"transport\":{\"a\":[]}}]}",
        ] {
            std::fs::write(s.path(), junk).unwrap();
            assert!(s.load().is_empty(), "{junk:?}");
            assert!(d.join("state.json.bad").exists());
            assert!(!s.path().exists());
        }
        std::fs::write(s.path(), "").unwrap();
        assert!(s.load().is_empty());
        std::fs::remove_dir_all(&d).unwrap();
    }

    // Issue 12 cases 4 and 7: what is not a state file is set aside, never
    // overwritten blindly, never waited on; the write never follows a link.
    #[test]
    fn odd_files_are_set_aside_and_links_never_followed() {
        let d = tmpdir("odd");
        std::fs::create_dir_all(&d).unwrap();
        let s = Store::new(&d);
        let bad = d.join("state.json.bad");
        let fifo = |p: &Path| {
            let m = rustix::fs::Mode::from_raw_mode(0o600);
            rustix::fs::mknodat(rustix::fs::CWD, p, rustix::fs::FileType::Fifo, m, 0).unwrap()
        };
        let huge = vec![b' '; MAX_BYTES as usize + 1];
        for (what, make) in [
            (
                "not UTF-8",
                &(|p: &Path| std::fs::write(p, b"{\xff\xfe}").unwrap()) as &dyn Fn(&Path),
            ),
            ("a FIFO", &fifo),
            ("too large", &|p: &Path| std::fs::write(p, &huge).unwrap()),
            ("a link", &|p: &Path| {
                std::os::unix::fs::symlink("/etc/hostname", p).unwrap()
            }),
        ] {
            let _ = std::fs::remove_file(&bad);
            make(&s.path());
            assert!(s.load().is_empty(), "{what}");
            assert!(std::fs::symlink_metadata(&bad).is_ok(), "{what}: set aside");
            assert!(std::fs::symlink_metadata(s.path()).is_err(), "{what}");
        }
        // A link planted at the temporary name: the save writes its own file.
        let target = d.join("target");
        std::fs::write(&target, "precious").unwrap();
        let tmp = d.join(format!(".{FILE}.{}.0", std::process::id()));
        std::os::unix::fs::symlink(&target, &tmp).unwrap();
        let mut m = OwnedMap::new();
        let o = Owned {
            device: "nvme3".into(),
            cntlid: 1,
            origin: "config".into(),
            boot: false,
        };
        m.insert(id("1.1.1.1"), o);
        s.save(&m).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
        assert_eq!(s.load(), m);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn entries_with_a_bad_device_are_skipped() {
        let t = r#"{"version":1,"controllers":[
            {"transport":"tcp","traddr":"1.1.1.1","trsvcid":"4420","subsysnqn":"nqn.x","host-traddr":"","host-iface":"","host-nqn":"nqn.h","device":"../../../etc"},
            {"transport":"tcp","traddr":"1.1.1.2","trsvcid":"4420","subsysnqn":"nqn.x,hostnqn=nqn.evil","host-traddr":"","host-iface":"","host-nqn":"nqn.h","device":"nvme1"}]}"#;
        let (m, skipped) = decode(t).unwrap();
        assert_eq!((m.len(), skipped), (0, 2));
    }

    #[test]
    fn invalid_entries_are_skipped() {
        let t = r#"{"version":1,"controllers":[
            {"transport":"tcp","traddr":"1.1.1.1","trsvcid":"4420","subsysnqn":"nqn.x","host-traddr":"","host-iface":"","host-nqn":"nqn.h","device":"nvme0"},
            {"transport":"bogus","traddr":"1.1.1.1","trsvcid":"4420","subsysnqn":"nqn.x","host-traddr":"","host-iface":"","host-nqn":"nqn.h","device":"nvme1"}]}"#;
        let (m, skipped) = decode(t).unwrap();
        assert_eq!((m.len(), skipped), (1, 1));
        assert_eq!(m[&id("1.1.1.1")].device, "nvme0");
    }
}
