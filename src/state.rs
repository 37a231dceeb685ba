//! Which kernel controllers are ours, kept across restarts in
//! `/run/stacd/state.json`.
//!
//! nvme-stas keeps its "last known config" as a Python pickle (stacd-spec.md
//! §4.12); DESIGN.md replaces it with JSON (written by nanoserde, read
//! through src/json.rs) in the same runtime
//! directory, written atomically (temporary file, fsync, rename) so a crash
//! or a full disk never leaves a half-written file. A file that cannot be
//! decoded, or was written by another schema version, is set aside (renamed
//! `state.json.bad`) with a warning and not trusted: nothing is disconnected
//! because of it, and the next scan adopts what is wanted.

use crate::identity::{IdFields, Identity};
use crate::json::{self, Fields};
use nanoserde::SerJson;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Bumped on any incompatible change of [`StateFile`].
pub const VERSION: u32 = 1;
pub const FILE: &str = "state.json";

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
    /// A boot path: never disconnected by policy (DESIGN.md).
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

/// Decode a state file; entries that no longer form a valid identity are
/// skipped (counted in the second value).
pub fn decode(text: &str) -> Result<(OwnedMap, usize), String> {
    let f = read(&json::parse(text)?)?;
    if f.version != VERSION {
        return Err(format!(
            "schema version {} (this stacd writes {VERSION})",
            f.version
        ));
    }
    let mut out = OwnedMap::new();
    let mut skipped = 0;
    for e in f.controllers {
        match e.identity() {
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
fn read(doc: &json::Json) -> Result<StateFile, String> {
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
}

impl Store {
    pub fn new(dir: &Path) -> Store {
        Store {
            dir: dir.to_path_buf(),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    /// Read the file. Missing or empty → empty map. Undecodable → the file
    /// is renamed `state.json.bad`, a warning is logged, empty map.
    pub fn load(&self) -> OwnedMap {
        let path = self.path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return OwnedMap::new(),
            Err(e) => {
                log::warn!("cannot read {}: {e}; starting without it", path.display());
                return OwnedMap::new();
            }
        };
        if text.trim().is_empty() {
            return OwnedMap::new();
        }
        match decode(&text) {
            Ok((map, skipped)) => {
                if skipped > 0 {
                    log::warn!("{}: {skipped} invalid entries ignored", path.display());
                }
                map
            }
            Err(e) => {
                let bad = self.dir.join(format!("{FILE}.bad"));
                let moved = std::fs::rename(&path, &bad).is_ok();
                log::warn!(
                    "{} cannot be used ({e}); {}not trusted, controllers will be adopted again from the kernel",
                    path.display(),
                    if moved { format!("set aside as {}, ", bad.display()) } else { String::new() }
                );
                OwnedMap::new()
            }
        }
    }

    /// Write atomically: a temporary file in the same directory, fsync,
    /// rename over the old one, fsync the directory.
    pub fn save(&self, owned: &OwnedMap) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let tmp = self.dir.join(format!(".{FILE}.{}", std::process::id()));
        let res = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(encode(owned).as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            std::fs::rename(&tmp, self.path())?;
            std::fs::File::open(&self.dir)?.sync_all()
        })();
        if res.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        res
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
