//! stafd's discovery log pages as a source of I/O controllers
//! (docs/design.md §3.3): the text of stafd's `get_all_log_pages(true)`
//! reply parsed, and every entry whose subtype is `nvme` turned into a
//! wanted controller pinned to the discovery controller's host address,
//! interface and host NQN. No D-Bus here (the follower that fetches the
//! reply is `dbus::stafd`), so the parser of this outside input
//! builds and is fuzzed without zbus (fuzz/fuzz_targets/stafd.rs).

use crate::base::json::{self, Json};
use crate::desired::{hostid_for, Origin, Wanted};
use crate::model::identity::{IdFields, Identity};
use crate::model::params::ConnectParams;
use crate::reconcile::state::OwnedMap;
use crate::sources::config::host::HostIdentity;
use crate::sources::config::StacdConf;
use std::collections::BTreeMap;

/// NCC, "not connected to CDC": EFLAGS bit 2 of a log page entry (NVMe
/// Base Specification, Discovery Log Page Entry, EFLAGS; docs/design.md §0).
const EFLAGS_NCC: u64 = 1 << 2;

/// One log page entry, in document order, each value as stafd typed it:
/// the original shows the entry as Python's `str()` of the dict it decoded
/// (docs/design.md §6.2, `dlpe`), so a number stays a number there and a
/// string (stafd 2.4.1 sends every value as one) stays a string.
pub type Dlpe = Vec<(String, Json)>;

/// The log pages of one discovery controller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DcPages {
    pub host_traddr: String,
    pub host_iface: String,
    pub host_nqn: String,
    pub entries: Vec<Dlpe>,
}

fn text_of(v: &Json) -> String {
    match v {
        Json::Null => String::new(),
        Json::Arr(_) | Json::Obj(_) => json::to_string(v),
        v => v.scalar_text().unwrap_or_default(),
    }
}

/// Why stafd's discovery log pages could not be had (the caller keeps
/// the controllers it listed last, docs/design.md D3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StafdError {
    /// The `get_all_log_pages` call failed (the bus's or stafd's error).
    Call(String),
    /// The reply's first argument is not a string.
    NotString,
    /// The reply is not JSON.
    NotJson(json::JsonError),
    /// The reply is JSON but not an array.
    NotArray,
}

impl std::fmt::Display for StafdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StafdError::Call(e) => write!(f, "get_all_log_pages failed: {e}"),
            StafdError::NotString => {
                f.write_str("get_all_log_pages failed: the reply is not a string")
            }
            StafdError::NotJson(e) => write!(f, "not JSON: {e}"),
            StafdError::NotArray => f.write_str("not a JSON array"),
        }
    }
}

impl std::error::Error for StafdError {}

/// Parse `get_all_log_pages(true)`'s reply (§3.3): `[{"discovery-controller":
/// {...}, "log-pages": [{...}, ...]}, ...]`. A reply that is not a JSON
/// array is an error (the caller keeps its last list); a malformed element
/// or entry is skipped with a warning.
pub fn parse_pages(text: &str) -> Result<(Vec<DcPages>, Vec<String>), StafdError> {
    let doc = json::parse(text).map_err(StafdError::NotJson)?;
    let Json::Arr(dcs) = doc else {
        return Err(StafdError::NotArray);
    };
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for (i, dc) in dcs.iter().enumerate() {
        let Some(Json::Obj(ctrl)) = dc.get("discovery-controller") else {
            warnings.push(format!(
                "stafd: element {i} has no \"discovery-controller\" object; skipped"
            ));
            continue;
        };
        let field = |k: &str| {
            ctrl.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| text_of(v))
                .unwrap_or_default()
        };
        let mut p = DcPages {
            host_traddr: field("host-traddr"),
            host_iface: field("host-iface"),
            host_nqn: field("host-nqn"),
            entries: Vec::new(),
        };
        match dc.get("log-pages") {
            Some(Json::Arr(es)) => {
                for (j, e) in es.iter().enumerate() {
                    match e {
                        // Shown on D-Bus: a member that is (or is filed as) a
                        // secret is kept as `<redacted>`; every other value
                        // stays as stafd typed it.
                        Json::Obj(m) => p.entries.push(
                            m.iter()
                                .map(|(k, v)| {
                                    if crate::model::secret::shown_value(k, &text_of(v))
                                        == crate::model::secret::REDACTED
                                    {
                                        (
                                            k.clone(),
                                            Json::Str(crate::model::secret::REDACTED.into()),
                                        )
                                    } else {
                                        (k.clone(), v.clone())
                                    }
                                })
                                .collect(),
                        ),
                        _ => warnings.push(format!(
                            "stafd: log page entry {j} of element {i} is not an object; skipped"
                        )),
                    }
                }
            }
            None | Some(Json::Null) => {}
            Some(_) => warnings.push(format!(
                "stafd: \"log-pages\" of element {i} is not an array; skipped"
            )),
        }
        out.push(p);
    }
    Ok((out, warnings))
}

/// The text of an entry's field: a string, or a number as written.
fn get<'a>(e: &'a Dlpe, k: &str) -> Option<&'a str> {
    e.iter().find(|(n, _)| n == k).and_then(|(_, v)| match v {
        Json::Str(t) | Json::Num(t) => Some(t.trim()),
        _ => None,
    })
}

/// The connect parameters of a controller stafd found: `[Global]`'s, the
/// host's key (docs/design.md D7: per-controller key first, host key as default —
/// a log page entry has none).
fn params(conf: &StacdConf, host: &HostIdentity, id: &Identity) -> ConnectParams {
    ConnectParams {
        conn: conf.params.clone(),
        hostid: hostid_for(host, &id.host_nqn),
        dhchap_secret: host.key.clone(),
        dhchap_ctrl_secret: None,
        tls: None,
    }
}

/// What stafd's pages ask for.
#[derive(Debug, Default)]
pub struct Derived {
    pub wanted: Vec<Wanted>,
    /// The entry remembered per identity (the last one seen).
    pub dlpes: BTreeMap<Identity, Dlpe>,
    /// Entries skipped or taken with a default, one sentence each.
    pub warnings: Vec<String>,
    /// Some entry lacked a field or carried a malformed one: we cannot tell
    /// which controller it was about, so it must not remove any.
    pub malformed: bool,
}

/// Wanted controllers from stafd's pages (§3.3 "Mapping to IOC TIDs"):
/// entries of subtype `nvme` only; identity from trtype, traddr, trsvcid,
/// subnqn and the discovery controller's host-traddr, host-iface (erased
/// under `ignore-iface`) and host-nqn (the host's when empty). A transport
/// stacd does not connect is skipped with a warning; an entry that cannot
/// name a controller is malformed. Exclusions and ip-family apply later,
/// with every other source ([`crate::app::daemon::Inputs::desired`]).
pub fn to_wanted(pages: &[DcPages], conf: &StacdConf, host: &HostIdentity) -> Derived {
    let mut wanted: Vec<Wanted> = Vec::new();
    // Where each identity is in `wanted`: many entries stay linear.
    let mut at: std::collections::HashMap<Identity, usize> = std::collections::HashMap::new();
    let mut dlpes = BTreeMap::new();
    let mut warnings = Vec::new();
    let mut malformed = false;
    for dc in pages {
        for e in &dc.entries {
            let g = |k| get(e, k).unwrap_or("");
            match get(e, "subtype") {
                Some("nvme") => {}
                Some(_) => continue,
                None => {
                    malformed = true;
                    warnings.push(format!(
                        "stafd: log page entry ({}, {}, {}) has no subtype; skipped",
                        g("trtype"),
                        g("traddr"),
                        g("subnqn")
                    ));
                    continue;
                }
            }
            let host_nqn = if dc.host_nqn.is_empty() {
                host.nqn.as_str()
            } else {
                dc.host_nqn.as_str()
            };
            let id = match Identity::new(&IdFields {
                transport: g("trtype"),
                traddr: g("traddr"),
                trsvcid: g("trsvcid"),
                subsysnqn: g("subnqn"),
                host_traddr: &dc.host_traddr,
                host_iface: if conf.ignore_iface {
                    ""
                } else {
                    &dc.host_iface
                },
                host_nqn,
            }) {
                Ok(id) => id,
                Err(err) => {
                    malformed |= !matches!(err, crate::model::identity::IdError::Transport(_));
                    warnings.push(format!(
                        "stafd: log page entry ({}, {}, {}, {}) skipped: {err}",
                        g("trtype"),
                        g("traddr"),
                        g("trsvcid"),
                        g("subnqn")
                    ));
                    continue;
                }
            };
            let ncc = match get(e, "eflags") {
                None | Some("") => false,
                Some(t) => match t.parse::<u64>() {
                    Ok(f) => f & EFLAGS_NCC != 0,
                    Err(_) => {
                        warnings.push(format!(
                            "stafd: {id}: eflags {t:?} is not a number; taken as 0"
                        ));
                        false
                    }
                },
            };
            dlpes.insert(id.clone(), e.clone());
            // A controller several discovery controllers list is one
            // controller; the last entry seen gives its NCC (§3.3).
            match at.get(&id) {
                Some(&i) => wanted[i].ncc = ncc,
                None => {
                    at.insert(id.clone(), wanted.len());
                    wanted.push(Wanted {
                        params: params(conf, host, &id),
                        id,
                        origin: Origin::Stafd,
                        boot: false,
                        extras: Vec::new(),
                        ncc,
                    });
                }
            }
        }
    }
    Derived {
        wanted,
        dlpes,
        warnings,
        malformed,
    }
}

/// The controllers stafd listed last time, as the ownership record keeps
/// them: wanted until stafd answers, so a restart of stacd, or stafd
/// starting after stacd, disconnects nothing (docs/design.md D3).
pub fn from_owned(owned: &OwnedMap, conf: &StacdConf, host: &HostIdentity) -> Vec<Wanted> {
    crate::desired::from_owned(owned, Origin::Stafd, conf, host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::config::host::HostSource;
    use std::path::Path;

    const NQN: &str = "nqn.2014-08.org.nvmexpress:uuid:01234567-0123-0123-0123-0123456789ab";

    fn host() -> HostIdentity {
        HostIdentity {
            nqn: crate::model::identity::Value::new("nqn", NQN).unwrap(),
            id: crate::model::identity::HostId::parse("01234567-0123-0123-0123-0123456789ab"),
            key: None,
            symname: None,
            source: HostSource::EtcNvme,
        }
    }

    const PAGES: &str = r#"[
      {"discovery-controller": {"transport": "tcp", "traddr": "10.0.0.9", "trsvcid": "8009",
         "subsysnqn": "nqn.2014-08.org.nvmexpress.discovery", "host-traddr": "10.0.0.1",
         "host-iface": "eth0", "host-nqn": "", "origin": null, "connected": "True"},
       "log-pages": [
         {"trtype": "tcp", "adrfam": "ipv4", "traddr": "10.0.0.5", "trsvcid": "4420",
          "subnqn": "nqn.io:a", "subtype": "nvme", "treq": "not specified",
          "tsas": "{'sectype': 'none'}", "portid": "1", "cntlid": "65535", "asqsz": "32", "eflags": "4"},
         {"trtype": "tcp", "traddr": "10.0.0.9", "trsvcid": "8009",
          "subnqn": "nqn.2014-08.org.nvmexpress.discovery", "subtype": "discovery", "eflags": "0"},
         {"trtype": "tcp", "traddr": "10.0.0.6", "trsvcid": "", "subnqn": "nqn.io:b",
          "subtype": "nvme", "eflags": 0},
         {"trtype": "tcp", "traddr": "10.0.0.7", "subnqn": "nqn.io:c"},
         {"trtype": "pcie", "traddr": "x", "subnqn": "nqn.io:d", "subtype": "nvme"},
         {"trtype": "tcp", "traddr": "10.0.0.8", "subnqn": "nqn.io:e", "subtype": "nvme", "eflags": "lots"},
         "garbage"
       ]},
      {"discovery-controller": {"host-nqn": "nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"},
       "log-pages": [{"trtype": "tcp", "traddr": "10.0.0.5", "trsvcid": "4420", "subnqn": "nqn.io:a",
                      "subtype": "nvme"}]},
      {"log-pages": []},
      {"discovery-controller": {}, "log-pages": 7}
    ]"#;

    // Issue 12: what stafd publishes is shown on D-Bus; a member filed as
    // a secret is not.
    #[test]
    fn secret_members_of_a_log_page_entry_are_hidden() {
        let (p, _) = parse_pages(
            r#"[{"discovery-controller": {}, "log-pages": [{"subtype": "nvme", "dhchap_key": "x", "tsas": "DHHC-1:00:R0Cco4buxWUfW/XxcBudgYhw3lJqlPGmjCMUedZNYLSFWCL2:"}]}]"#,
        )
        .unwrap();
        assert_eq!(
            p[0].entries[0],
            [
                ("subtype".to_string(), Json::Str("nvme".into())),
                (
                    "dhchap_key".into(),
                    Json::Str(crate::model::secret::REDACTED.into())
                ),
                (
                    "tsas".into(),
                    Json::Str(crate::model::secret::REDACTED.into())
                ),
            ]
        );
    }

    #[test]
    fn log_pages_become_wanted_controllers() {
        let (pages, warn) = parse_pages(PAGES).unwrap();
        assert_eq!(pages.len(), 3, "{warn:?}");
        assert_eq!(warn.len(), 3, "{warn:?}");
        let conf = StacdConf::defaults(Path::new("/c"));
        let Derived {
            wanted: w,
            dlpes,
            warnings: warn2,
            malformed,
        } = to_wanted(&pages, &conf, &host());
        assert!(malformed, "the entry without subtype");
        let ids: Vec<String> = w.iter().map(|w| w.id.to_string()).collect();
        assert_eq!(
            ids,
            [
                "(tcp, 10.0.0.5, 4420, nqn.io:a, eth0, 10.0.0.1)",
                "(tcp, 10.0.0.6, 4420, nqn.io:b, eth0, 10.0.0.1)",
                "(tcp, 10.0.0.8, 4420, nqn.io:e, eth0, 10.0.0.1)",
                "(tcp, 10.0.0.5, 4420, nqn.io:a)",
            ]
        );
        assert!(w.iter().all(|w| w.origin == Origin::Stafd));
        assert_eq!(w[0].id.host_nqn.as_str(), NQN);
        assert!(w[0].ncc && !w[1].ncc && !w[2].ncc);
        assert_eq!(
            w[3].id.host_nqn.as_str(),
            "nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
        );
        // A foreign host NQN gets the UUID it carries as host ID.
        assert_eq!(
            w[3].params.hostid.map(|h| h.to_string()).as_deref(),
            Some("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
        );
        assert_eq!(get(&dlpes[&w[0].id], "tsas"), Some("{'sectype': 'none'}"));
        assert_eq!(get(&dlpes[&w[1].id], "eflags"), Some("0"));
        let all = warn2.join("\n");
        for want in ["no subtype", "invalid transport \"pcie\"", "\"lots\""] {
            assert!(all.contains(want), "{want} not in {all}");
        }
    }

    #[test]
    fn ignore_iface_and_garbage() {
        let (pages, _) = parse_pages(PAGES).unwrap();
        let mut conf = StacdConf::defaults(Path::new("/c"));
        conf.ignore_iface = true;
        let w = to_wanted(&pages, &conf, &host()).wanted;
        assert!(w.iter().all(|w| w.id.host_iface.is_empty()));
        for bad in ["", "{}", "null", "[1", "{\"a\": }", "\"x\""] {
            assert!(parse_pages(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_pages("[]").unwrap(), (vec![], vec![]));
        // An unsupported transport alone is not malformed.
        let (p, _) = parse_pages(
            r#"[{"discovery-controller": {}, "log-pages": [{"trtype": "unspecified",
               "traddr": "x", "subnqn": "n", "subtype": "nvme"}]}]"#,
        )
        .unwrap();
        let d = to_wanted(&p, &conf, &host());
        assert!(d.wanted.is_empty() && !d.malformed && d.warnings.len() == 1);
    }
}
