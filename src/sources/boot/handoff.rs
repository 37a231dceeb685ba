//! The boot hand-off record `/run/stacd/boot.json`: what `stacd --once`
//! connected (or tried to) for boot, for the daemon on the real root
//! (docs/design.md §B2.6). `/run` survives switch_root (§B2.3).
//!
//! One entry per boot connection: where it came from (`source`: nbft,
//! cmdline, discovery), its full identity including the host NQN and ID,
//! the connect options that matter for a reconnect (never a secret), and
//! the result: `live` with device and cntlid, or `failed` with the last
//! error and the number of attempts. Schema-versioned and written
//! atomically (temporary file, fsync, rename), like [`crate::reconcile::state`]; a file
//! that cannot be decoded is ignored with a warning.
//!
//! The daemon turns every entry back into a wanted boot path
//! ([`to_wanted`], origin `boot`): controllers present in the kernel are
//! adopted without a connect, never disconnected (policy, stop, shutdown),
//! and missing ones are connected again with the recorded options.

use crate::base::files::RecordError;
use crate::base::json::{self, Fields, JsonError};
use crate::desired::{Origin, Wanted};
use crate::model::identity::{HostId, IdFields, Identity};
use crate::model::params::ConnectParams;
use crate::reconcile::engine::Status;
use crate::sources::config::ConnParams;
use nanoserde::SerJson;
use std::path::{Path, PathBuf};

/// Bumped on any incompatible change of [`BootRecord`].
pub const VERSION: u32 = 1;
pub const FILE: &str = "boot.json";

/// One boot connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, SerJson)]
pub struct BootConn {
    /// `nbft`, `cmdline`, `discovery`.
    pub source: String,
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
    #[nserde(default)]
    pub hostid: String,
    /// The options sent besides the identity, kernel spelling, for people
    /// (secrets are never part of a boot connection).
    #[nserde(default)]
    pub options: String,
    #[nserde(rename = "ctrl-loss-tmo")]
    pub ctrl_loss_tmo: Option<i64>,
    #[nserde(rename = "reconnect-delay")]
    pub reconnect_delay: Option<i64>,
    pub kato: Option<i64>,
    #[nserde(rename = "nr-io-queues")]
    pub nr_io_queues: Option<i64>,
    #[nserde(rename = "queue-size")]
    pub queue_size: Option<i64>,
    #[nserde(rename = "hdr-digest")]
    pub hdr_digest: Option<bool>,
    #[nserde(rename = "data-digest")]
    pub data_digest: Option<bool>,
    /// `live` or `failed`.
    pub result: String,
    #[nserde(default)]
    pub device: String,
    #[nserde(default)]
    pub cntlid: u32,
    #[nserde(default)]
    pub error: String,
    #[nserde(default)]
    pub attempts: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, SerJson)]
pub struct BootRecord {
    pub version: u32,
    /// `stacd <version>`.
    #[nserde(default)]
    pub writer: String,
    pub connections: Vec<BootConn>,
}

/// The options of `p` that a reconnect needs, as the kernel spells them.
fn options_text(w: &Wanted) -> String {
    let c = &w.params.conn;
    let mut v = Vec::new();
    let mut num = |k: &str, x: Option<i64>| {
        if let Some(x) = x {
            v.push(format!("{k}={x}"));
        }
    };
    num(
        "ctrl_loss_tmo",
        Some(c.ctrl_loss_tmo.unwrap_or(w.default_ctrl_loss_tmo())),
    );
    num("reconnect_delay", c.reconnect_delay);
    num("keep_alive_tmo", c.kato);
    num("nr_io_queues", c.nr_io_queues);
    num("queue_size", c.queue_size);
    if c.hdr_digest == Some(true) {
        v.push("hdr_digest".into());
    }
    if c.data_digest == Some(true) {
        v.push("data_digest".into());
    }
    v.join(",")
}

/// The record of the boot paths in `wanted`, with their results.
pub fn record(wanted: &[Wanted], status: &[Status]) -> BootRecord {
    let connections = wanted
        .iter()
        .filter(|w| w.boot)
        .map(|w| {
            let s = status.iter().find(|s| s.id == w.id);
            let live = s.is_some_and(|s| s.is_live());
            let id = &w.id;
            let c = &w.params.conn;
            BootConn {
                source: w.origin.as_str().to_string(),
                transport: id.transport.as_str().into(),
                traddr: id.traddr.to_string(),
                trsvcid: id.trsvcid.to_string(),
                subsysnqn: id.subsysnqn.to_string(),
                host_traddr: id.host_traddr.to_string(),
                host_iface: id.host_iface.to_string(),
                host_nqn: id.host_nqn.to_string(),
                hostid: w.params.hostid.map(|h| h.to_string()).unwrap_or_default(),
                options: options_text(w),
                ctrl_loss_tmo: c.ctrl_loss_tmo,
                reconnect_delay: c.reconnect_delay,
                kato: c.kato,
                nr_io_queues: c.nr_io_queues,
                queue_size: c.queue_size,
                hdr_digest: c.hdr_digest,
                data_digest: c.data_digest,
                result: if live { "live" } else { "failed" }.into(),
                device: s.and_then(|s| s.device.clone()).unwrap_or_default(),
                cntlid: s.and_then(|s| s.cntlid).map_or(0, u32::from),
                error: match s {
                    Some(s) if !live => s.last_error.clone().unwrap_or_else(|| match &s.state {
                        Some(st) => format!("not live (kernel state {st})"),
                        None => "not connected".into(),
                    }),
                    _ => String::new(),
                },
                attempts: s.map_or(0, |s| s.attempts),
            }
        })
        .collect();
    BootRecord {
        version: VERSION,
        writer: format!("stacd {}", env!("CARGO_PKG_VERSION")),
        connections,
    }
}

/// Every entry as a wanted boot path. The record is read back from a
/// file, so it is checked like any other input: an entry that does not
/// form a valid identity, whose host ID is not a UUID or whose numbers are
/// out of the kernel's range is skipped (counted in the second value).
pub fn to_wanted(r: &BootRecord) -> (Vec<Wanted>, usize) {
    let mut out = Vec::new();
    let mut skipped = 0;
    for c in &r.connections {
        match entry(c) {
            Some(w) => out.push(w),
            None => skipped += 1,
        }
    }
    (out, skipped)
}

fn entry(c: &BootConn) -> Option<Wanted> {
    let id = Identity::new(&IdFields {
        transport: &c.transport,
        traddr: &c.traddr,
        trsvcid: &c.trsvcid,
        subsysnqn: &c.subsysnqn,
        host_traddr: &c.host_traddr,
        host_iface: &c.host_iface,
        host_nqn: &c.host_nqn,
    })
    .ok()?;
    let hostid = match c.hostid.as_str() {
        "" => None,
        h => Some(HostId::parse(h)?),
    };
    let num = |key: &str, v: Option<i64>| match v {
        Some(n) => crate::model::params::in_range(key, n).ok().map(Some),
        None => Some(None),
    };
    Some(Wanted {
        id,
        params: ConnectParams {
            conn: ConnParams {
                ctrl_loss_tmo: num("ctrl-loss-tmo", c.ctrl_loss_tmo)?,
                reconnect_delay: num("reconnect-delay", c.reconnect_delay)?,
                kato: num("kato", c.kato)?,
                nr_io_queues: num("nr-io-queues", c.nr_io_queues)?,
                queue_size: num("queue-size", c.queue_size)?,
                hdr_digest: c.hdr_digest,
                data_digest: c.data_digest,
                ..Default::default()
            },
            hostid,
            dhchap_secret: None,
            dhchap_ctrl_secret: None,
            tls: None,
        },
        origin: Origin::Boot,
        boot: true,
        extras: Vec::new(),
        ncc: false,
    })
}

pub fn encode(r: &BootRecord) -> String {
    r.serialize_json()
}

/// [`decode`] of a file's bytes, which must be UTF-8.
pub fn decode_bytes(bytes: &[u8]) -> Result<BootRecord, RecordError> {
    decode(std::str::from_utf8(bytes).map_err(|_| RecordError::NotUtf8)?)
}

pub fn decode(text: &str) -> Result<BootRecord, RecordError> {
    let r = read(&json::parse(text)?)?;
    if r.version != VERSION {
        return Err(RecordError::Version {
            found: r.version,
            ours: VERSION,
            verb: "reads",
        });
    }
    Ok(r)
}

/// The document as [`BootRecord`] (src/json.rs says why not with
/// nanoserde): the members [`encode`] writes, those marked `default` and
/// the `Option`s optional.
fn read(doc: &json::Json) -> Result<BootRecord, JsonError> {
    let f = Fields::of(doc, "the document")?;
    let mut connections = Vec::new();
    for c in f.array("connections")? {
        let c = Fields::of(c, "a connection")?;
        connections.push(BootConn {
            source: c.text("source")?,
            transport: c.text("transport")?,
            traddr: c.text("traddr")?,
            trsvcid: c.text("trsvcid")?,
            subsysnqn: c.text("subsysnqn")?,
            host_traddr: c.text("host-traddr")?,
            host_iface: c.text("host-iface")?,
            host_nqn: c.text("host-nqn")?,
            hostid: c.text_or_empty("hostid")?,
            options: c.text_or_empty("options")?,
            ctrl_loss_tmo: c.opt_i64("ctrl-loss-tmo")?,
            reconnect_delay: c.opt_i64("reconnect-delay")?,
            kato: c.opt_i64("kato")?,
            nr_io_queues: c.opt_i64("nr-io-queues")?,
            queue_size: c.opt_i64("queue-size")?,
            hdr_digest: c.opt_bool("hdr-digest")?,
            data_digest: c.opt_bool("data-digest")?,
            result: c.text("result")?,
            device: c.text_or_empty("device")?,
            cntlid: c.u32_or_zero("cntlid")?,
            error: c.text_or_empty("error")?,
            attempts: c.u32_or_zero("attempts")?,
        });
    }
    Ok(BootRecord {
        version: f.u32("version")?,
        writer: f.text_or_empty("writer")?,
        connections,
    })
}

pub fn path(run_dir: &Path) -> PathBuf {
    run_dir.join(FILE)
}

/// The largest hand-off record read (a boot has a few dozen paths).
pub const MAX_BYTES: u64 = 16 << 20;

/// Write atomically into `run_dir`, never through a link
/// ([`crate::base::files::write_atomic`]).
pub fn save(run_dir: &Path, r: &BootRecord) -> std::io::Result<()> {
    let mut text = encode(r);
    text.push('\n');
    crate::base::files::write_atomic(run_dir, FILE, text.as_bytes())
}

/// Read the record of `run_dir`: none → `None`; undecodable (also: not
/// UTF-8, larger than [`MAX_BYTES`], not a regular file, a link) → `None`
/// with a warning (nothing is disconnected because of it).
pub fn load(run_dir: &Path) -> Option<BootRecord> {
    let p = path(run_dir);
    let decoded = match crate::base::files::read_bounded(&p, MAX_BYTES, false) {
        Ok(Some(f)) => decode_bytes(&f.bytes),
        Ok(None) => return None,
        Err(e) => Err(RecordError::File(e)),
    };
    match decoded {
        Ok(r) => Some(r),
        Err(e) => {
            log::warn!(
                "{} cannot be used ({e}); boot connections not handed over",
                p.display()
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::engine::How;
    use crate::sources::config::tests::TempDir;

    fn w(a: &str, origin: Origin, boot: bool) -> Wanted {
        Wanted {
            id: Identity::new(&IdFields {
                transport: "tcp",
                traddr: a,
                subsysnqn: "nqn.x",
                host_iface: "eth0",
                host_nqn: "nqn.h",
                ..Default::default()
            })
            .unwrap(),
            params: ConnectParams {
                conn: ConnParams {
                    kato: Some(7),
                    hdr_digest: Some(true),
                    ..Default::default()
                },
                hostid: HostId::parse("11111111-2222-3333-4444-555555555555"),
                dhchap_secret: crate::model::secret::Secret::new(
                    "DHHC-1:00:x/dTRyaGzRZUf3NMPFcHBAcXmzTxcu/zb6aYIaHey4GTQBwr:",
                )
                .ok(),
                dhchap_ctrl_secret: None,
                tls: None,
            },
            origin,
            boot,
            extras: vec![],
            ncc: false,
        }
    }

    fn st(id: &Identity, dev: Option<&str>, state: Option<&str>, err: Option<&str>) -> Status {
        Status {
            id: id.clone(),
            origin: String::new(),
            device: dev.map(String::from),
            cntlid: dev.map(|_| 5),
            state: state.map(String::from),
            how: dev.map(|_| How::Adopted),
            attempts: u32::from(err.is_some()) * 3,
            last_error: err.map(String::from),
            connecting: false,
        }
    }

    #[test]
    fn record_round_trip_and_back_to_wanted() {
        let wanted = vec![
            w("10.0.0.1", Origin::Nbft, true),
            w("10.0.0.2", Origin::Cmdline, true),
            w("10.0.0.3", Origin::Config { line: 1 }, false),
        ];
        let status = vec![
            st(&wanted[0].id, Some("nvme0"), Some("live"), None),
            st(
                &wanted[1].id,
                None,
                None,
                Some("connection refused (errno 111)"),
            ),
        ];
        let r = record(&wanted, &status);
        assert_eq!(r.connections.len(), 2, "only boot paths");
        let c = &r.connections[0];
        assert_eq!(
            (
                c.source.as_str(),
                c.result.as_str(),
                c.device.as_str(),
                c.cntlid
            ),
            ("nbft", "live", "nvme0", 5)
        );
        assert_eq!(c.options, "ctrl_loss_tmo=-1,keep_alive_tmo=7,hdr_digest");
        let f = &r.connections[1];
        assert_eq!(
            (f.result.as_str(), f.error.as_str(), f.attempts),
            ("failed", "connection refused (errno 111)", 3)
        );
        let text = encode(&r);
        assert!(
            !text.contains("s3cr3t") && !text.contains("dhchap"),
            "{text}"
        );
        assert!(text.contains("\"host-nqn\":\"nqn.h\""), "{text}");
        let back = decode(&text).unwrap();
        assert_eq!(back, r);
        let (ws, skipped) = to_wanted(&back);
        assert_eq!(skipped, 0);
        assert_eq!(ws.len(), 2);
        assert!(ws.iter().all(|x| x.boot && x.origin == Origin::Boot));
        assert_eq!(ws[0].id, wanted[0].id);
        assert_eq!(ws[0].params.conn.kato, Some(7));
        assert_eq!(ws[0].params.conn.hdr_digest, Some(true));
        assert_eq!(ws[0].params.dhchap_secret, None);
        assert_eq!(ws[0].default_ctrl_loss_tmo(), -1);
        assert_eq!(
            ws[0].params.hostid.map(|h| h.to_string()).as_deref(),
            Some("11111111-2222-3333-4444-555555555555")
        );
    }

    // Issue 12 case 2: a host ID read back from boot.json reached the
    // connect string (`,hostnqn=...,duplicate_connect\nnr_io_queues=1`).
    #[test]
    fn entries_read_back_are_checked() {
        let r = record(&[w("10.0.0.1", Origin::Nbft, true)], &[]);
        let mut bad = r.clone();
        bad.connections[0].hostid =
            "11111111-2222-3333-4444-555555555555,hostnqn=nqn.evil,duplicate_connect\nnr_io_queues=1".into();
        let mut kato = r.clone();
        kato.connections[0].kato = Some(-5);
        let mut nqn = r.clone();
        nqn.connections[0].subsysnqn = "nqn.x\nforged".into();
        for b in [bad, kato, nqn] {
            let (ws, skipped) = to_wanted(&decode(&encode(&b)).unwrap());
            assert_eq!((ws.len(), skipped), (0, 1));
        }
        assert_eq!(to_wanted(&r).0.len(), 1);
    }

    #[test]
    fn files() {
        let d = TempDir::new("handoff");
        assert_eq!(load(&d.0), None);
        let r = record(&[w("10.0.0.1", Origin::Nbft, true)], &[]);
        save(&d.0, &r).unwrap();
        assert_eq!(load(&d.0), Some(r.clone()));
        assert_eq!(r.connections[0].result, "failed");
        let names: Vec<_> = std::fs::read_dir(&d.0)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from(FILE)]);
        // The last two made nanoserde 0.2.1's reader panic or loop
        // (src/json.rs).
        for junk in [
            "{",
            "{\"version\":2,\"connections\":[]}",
            "[]",
            "{\"version\":1,\"x\": }",
            "{\"version\":1,\"connections\":[{\"x\":[1",
        ] {
            std::fs::write(path(&d.0), junk).unwrap();
            assert_eq!(load(&d.0), None, "{junk}");
        }
        let bad = r#"{"version":1,"connections":[{"source":"nbft","transport":"bogus","traddr":"x","trsvcid":"","subsysnqn":"n","host-traddr":"","host-iface":"","host-nqn":"h","ctrl-loss-tmo":null,"reconnect-delay":null,"kato":null,"nr-io-queues":null,"queue-size":null,"hdr-digest":null,"data-digest":null,"result":"live"}]}"#;
        let (ws, skipped) = to_wanted(&decode(bad).unwrap());
        assert_eq!((ws.len(), skipped), (0, 1));
    }
}
