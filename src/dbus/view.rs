//! What the D-Bus methods answer, as pure functions of a [`View`]: the
//! string maps of `list_controllers`, the JSON of `process_info` and
//! `controller_info` (docs/design.md §6.2), with the original's key names,
//! key order and value spellings (`True`/`False`/`None`, timer texts,
//! Python dict literals). No zbus here: the replies are tested as data.
//!
//! Secrets never appear: DH-HMAC-CHAP keys are `<redacted>` (docs/design.md D14),
//! where the original showed them to any local user (§6.2, §6.4).

use crate::base::json::{self, Json};
use crate::model::identity::{IdFields, Identity};
use crate::model::secret::REDACTED;
use crate::reconcile::engine::CtrlSnapshot;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// One controller as the replies show it.
#[derive(Debug, Clone)]
pub struct CtrlView {
    pub snap: CtrlSnapshot,
    /// Keys of its `controller=` line beyond the identity, rendered as text
    /// (overrides, unknown keys; secrets as `<redacted>`).
    pub extras: Vec<(String, String)>,
    /// The discovery log page entry stafd published for it.
    pub dlpe: Option<Vec<(String, Json)>>,
    /// sysfs `model`, `serial`, `dctype` of its device (empty when unknown).
    pub model: String,
    pub serial: String,
    pub dctype: String,
}

/// Everything the handlers answer from; built by the loop after each step.
#[derive(Debug, Clone, Default)]
pub struct View {
    pub ctrls: Vec<CtrlView>,
    pub hostnqn: String,
    pub hostid: String,
    /// A host DH-HMAC-CHAP key is configured (shown as `<redacted>`).
    pub hostkey: bool,
    pub symname: Option<String>,
    pub state_file: String,
    /// The kernel lists `discovery` (TP8013) and `host_iface` options.
    pub tp8013: bool,
    pub host_iface: bool,
    /// `ignore-iface`: controller_info erases host_iface too (§6.2).
    pub ignore_iface: bool,
    /// The slow retry delay (the interval an idle retry timer shows).
    pub retry_later: Duration,
}

/// Python's `True`/`False`.
pub fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// Python's `repr()` of a str: single quotes unless the text has a single
/// quote and no double quote; backslash escapes for the quote, backslash
/// and control characters.
pub fn py_str(s: &str) -> String {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut o = String::with_capacity(s.len() + 2);
    o.push(q);
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if c == q => {
                o.push('\\');
                o.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(o, "\\x{:02x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push(q);
    o
}

/// Python's `repr()` of what `json.loads` makes of a JSON value: strings
/// quoted, numbers as written, `True`/`False`/`None`, lists, dicts.
pub fn py_repr(v: &Json) -> String {
    match v {
        Json::Null => "None".into(),
        Json::Bool(b) => py_bool(*b).into(),
        Json::Num(n) => n.clone(),
        Json::Str(s) => py_str(s),
        Json::Arr(a) => {
            let items: Vec<String> = a.iter().map(py_repr).collect();
            format!("[{}]", items.join(", "))
        }
        Json::Obj(m) => py_dict(m),
    }
}

/// A Python dict literal: `{'k': 'v', 'n': 1, ...}`, in the given order.
pub fn py_dict(pairs: &[(String, Json)]) -> String {
    let body: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}: {}", py_str(k), py_repr(v)))
        .collect();
    format!("{{{}}}", body.join(", "))
}

/// Seconds as Python prints a float: at least one decimal (`60.0`, `1.5`).
fn py_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.1}")
    } else {
        let t = format!("{s:.4}");
        t.trim_end_matches('0').to_string()
    }
}

/// The original's timer text (§6.2): `60.0s [off]` when idle,
/// `3.0s [2.1234s]` while running, `[0s]` when due.
pub fn timer_text(interval: Duration, due: Option<Instant>, now: Instant) -> String {
    match due {
        None => format!("{}s [off]", py_secs(interval)),
        Some(t) if t <= now => format!("{}s [0s]", py_secs(interval)),
        Some(t) => format!("{}s [{:.4}s]", py_secs(interval), (t - now).as_secs_f64()),
    }
}

impl CtrlView {
    fn device(&self) -> &str {
        self.snap.status.device.as_deref().unwrap_or("nvme?")
    }

    /// A connect is under way or a retry is scheduled: the original has a
    /// connect operation object then.
    fn operating(&self) -> bool {
        self.snap.status.connecting
            || (self.snap.retry.is_some() && self.snap.status.device.is_none())
    }

    /// `list_controllers(false)`: the identity's as-map with the extras
    /// before `host-nqn`, then `device` (§6.2).
    fn basic(&self) -> Vec<(String, String)> {
        let pairs = self.snap.wanted.id.as_pairs();
        let mut m: Vec<(String, String)> = pairs[..6]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        // The keys so far (a map like the tokenizer's: one instance of the
        // code): many extras stay linear.
        let mut have: std::collections::HashMap<String, usize> =
            m.iter().map(|(k, _)| (k.clone(), 0)).collect();
        for (k, v) in &self.extras {
            if k != "host-nqn" && k != "device" && have.insert(k.clone(), 0).is_none() {
                m.push((
                    k.clone(),
                    crate::model::secret::shown_value(k, v).to_string(),
                ));
            }
        }
        m.push(("host-nqn".into(), pairs[6].1.to_string()));
        m.push(("device".into(), self.device().to_string()));
        m
    }

    fn retry_text(&self, v: &View, now: Instant) -> String {
        match self.snap.retry {
            Some((due, interval)) => timer_text(interval, Some(due), now),
            None => timer_text(v.retry_later, None, now),
        }
    }

    /// The original's rendering of its connect operation object.
    fn operation_text(&self) -> Option<String> {
        if !self.operating() {
            return None;
        }
        let s = &self.snap.status;
        let mut t = format!(
            "{{'fail count': {}, 'completed': {}, 'alive': True",
            s.attempts,
            py_bool(!s.connecting)
        );
        if let Some(e) = s.last_error.as_deref().filter(|_| !s.connecting) {
            let _ = write!(t, ", 'error': {}", py_str(e));
        }
        t.push('}');
        Some(t)
    }

    /// The runtime keys shared by the detailed list and controller_info.
    fn runtime(&self, v: &View, now: Instant) -> Vec<(String, String)> {
        let mut m = vec![
            (
                "connect attempts".to_string(),
                self.snap.status.attempts.to_string(),
            ),
            ("retry connect timer".to_string(), self.retry_text(v, now)),
        ];
        if let Some(op) = self.operation_text() {
            m.push(("connect operation".into(), op));
        }
        m
    }

    /// `list_controllers(true)` (§6.2).
    fn detailed(&self, v: &View, now: Instant) -> Vec<(String, String)> {
        let mut m = self.basic();
        m.extend(self.runtime(v, now));
        let k = self.snap.kernel.as_ref();
        let kv = |f: fn(&crate::kernel::sysfs::KernelCtrl) -> String| k.map(f).unwrap_or_default();
        m.push(("hostid".into(), kv(|k| k.hostid.clone())));
        m.push(("hostnqn".into(), kv(|k| k.hostnqn.clone())));
        m.push(("model".into(), self.model.clone()));
        m.push(("serial".into(), self.serial.clone()));
        m.push(("dctype".into(), self.dctype.clone()));
        m.push((
            "cntrltype".into(),
            kv(|k| k.cntrltype.clone().unwrap_or_default()),
        ));
        let connected = if self.snap.status.device.is_some() {
            "True"
        } else if self.operating() {
            "False"
        } else {
            "None"
        };
        m.push(("connected".into(), connected.into()));
        m.push((
            "dlpe".into(),
            self.dlpe
                .as_ref()
                .map_or_else(|| "None".to_string(), |d| py_dict(d)),
        ));
        m.push((
            "dlpe.eflags.ncc".into(),
            py_bool(self.snap.wanted.ncc).into(),
        ));
        m
    }
}

/// `list_controllers(detailed)`: one map per controller, desired-set order.
pub fn list_controllers(v: &View, detailed: bool, now: Instant) -> Vec<BTreeMap<String, String>> {
    v.ctrls
        .iter()
        .map(|c| {
            let pairs = if detailed {
                c.detailed(v, now)
            } else {
                c.basic()
            };
            pairs.into_iter().collect()
        })
        .collect()
}

/// The seven arguments of `controller_info`, in their D-Bus order.
#[derive(Debug, Clone, Copy)]
pub struct Lookup<'a> {
    pub transport: &'a str,
    pub traddr: &'a str,
    pub trsvcid: &'a str,
    pub subsysnqn: &'a str,
    pub host_traddr: &'a str,
    pub host_iface: &'a str,
    pub host_nqn: &'a str,
}

/// `controller_info(...)`: the controller's map as a JSON object, `{}` when
/// there is no such controller (or the arguments cannot name one). The
/// arguments become an identity by the usual rules (§6.2): an empty
/// trsvcid takes the transport's default port, host_iface is erased under
/// `ignore-iface`, host_nqn is taken as given.
pub fn controller_info(v: &View, a: &Lookup<'_>, now: Instant) -> String {
    let id = Identity::new(&IdFields {
        transport: a.transport,
        traddr: a.traddr,
        trsvcid: a.trsvcid,
        subsysnqn: a.subsysnqn,
        host_traddr: a.host_traddr,
        host_iface: if v.ignore_iface { "" } else { a.host_iface },
        host_nqn: a.host_nqn,
    });
    let Some(c) = id
        .ok()
        .and_then(|id| v.ctrls.iter().find(|c| c.snap.wanted.id == id))
    else {
        return "{}".into();
    };
    let mut m = c.basic();
    m.extend(c.runtime(v, now));
    json::to_string(&Json::Obj(
        m.into_iter().map(|(k, x)| (k, Json::Str(x))).collect(),
    ))
}

/// `process_info()` (§6.2), keys in the original's order. We have no
/// disposal parking (a disconnect waits in the planner instead), so the
/// terminator's timer is always off and lists no controller.
pub fn process_info(
    v: &View,
    tron: bool,
    soak: (Duration, Option<Instant>),
    now: Instant,
) -> String {
    let s = |x: &str| Json::Str(x.to_string());
    let obj = vec![
        ("tron".into(), Json::Bool(tron)),
        ("log-level".into(), s(if tron { "DEBUG" } else { "INFO" })),
        ("hostnqn".into(), s(&v.hostnqn)),
        ("hostid".into(), s(&v.hostid)),
        (
            "hostkey".into(),
            if v.hostkey { s(REDACTED) } else { Json::Null },
        ),
        ("symname".into(), v.symname.as_deref().map_or(Json::Null, s)),
        ("last known config file".into(), s(&v.state_file)),
        (
            "config soak timer".into(),
            s(&timer_text(soak.0, soak.1, now)),
        ),
        ("kernel support.TP8013".into(), s(py_bool(v.tp8013))),
        ("kernel support.host_iface".into(), s(py_bool(v.host_iface))),
        (
            "terminator.audit timer".into(),
            s(&timer_text(Duration::from_secs(30), None, now)),
        ),
    ];
    json::to_string(&Json::Obj(obj))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::{Origin, Wanted};
    use crate::kernel::sysfs::KernelCtrl;
    use crate::reconcile::engine::Status;

    const HOST: &str = "nqn.2014-08.org.nvmexpress:uuid:01234567-0123-0123-0123-0123456789ab";

    fn ctrl(traddr: &str, device: Option<&str>) -> CtrlView {
        let id = Identity::new(&IdFields {
            transport: "tcp",
            traddr,
            trsvcid: "4420",
            subsysnqn: "nqn.x",
            host_nqn: HOST,
            ..Default::default()
        })
        .unwrap();
        CtrlView {
            snap: CtrlSnapshot {
                wanted: Wanted {
                    id: id.clone(),
                    params: Default::default(),
                    origin: Origin::Stafd,
                    boot: false,
                    extras: vec![],
                    ncc: true,
                },
                status: Status {
                    id,
                    origin: "stafd".into(),
                    device: device.map(String::from),
                    cntlid: None,
                    state: None,
                    how: None,
                    attempts: 0,
                    last_error: None,
                    connecting: false,
                },
                kernel: device.map(|d| KernelCtrl {
                    name: d.into(),
                    hostnqn: HOST.into(),
                    hostid: "hid".into(),
                    cntrltype: Some("io".into()),
                    ..Default::default()
                }),
                retry: None,
            },
            extras: vec![
                ("kato".into(), "71".into()),
                ("dhchap-secret".into(), REDACTED.into()),
            ],
            dlpe: Some(vec![
                ("trtype".into(), Json::Str("tcp".into())),
                ("eflags".into(), Json::Str("4".into())),
            ]),
            model: "Linux".into(),
            serial: "abc".into(),
            dctype: "none".into(),
        }
    }

    fn view() -> View {
        View {
            ctrls: vec![ctrl("10.0.0.1", Some("nvme3")), ctrl("10.0.0.2", None)],
            hostnqn: HOST.into(),
            hostid: "hid".into(),
            hostkey: true,
            retry_later: Duration::from_secs(60),
            ..Default::default()
        }
    }

    #[test]
    fn timer_texts() {
        let now = Instant::now();
        let s = Duration::from_secs;
        assert_eq!(timer_text(s(60), None, now), "60.0s [off]");
        assert_eq!(
            timer_text(Duration::from_millis(1500), None, now),
            "1.5s [off]"
        );
        assert_eq!(
            timer_text(s(3), Some(now + Duration::from_millis(2100)), now),
            "3.0s [2.1000s]"
        );
        assert_eq!(timer_text(s(3), Some(now), now), "3.0s [0s]");
    }

    #[test]
    fn python_literals() {
        assert_eq!(py_str("a'b"), "\"a'b\"");
        assert_eq!(py_str("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(py_str("x\\y\n\u{1}"), "'x\\\\y\\n\\x01'");
        // As stafd 2.4.1 sends an entry (every value a string), and as
        // another sender might (numbers, null, a nested dict).
        let e = json::parse(r#"{"trtype": "tcp", "eflags": "4"}"#).unwrap();
        let Json::Obj(e) = e else { panic!() };
        assert_eq!(py_dict(&e), "{'trtype': 'tcp', 'eflags': '4'}");
        let e = json::parse(
            r#"{"portid": 1, "x": null, "ok": true, "tsas": {"sectype": "none"}, "l": [1, "a"]}"#,
        )
        .unwrap();
        let Json::Obj(e) = e else { panic!() };
        assert_eq!(
            py_dict(&e),
            "{'portid': 1, 'x': None, 'ok': True, 'tsas': {'sectype': 'none'}, 'l': [1, 'a']}"
        );
    }

    // Issue 12 case 6: list_controllers(true) returned a secret under a
    // misspelled key in clear to any local user.
    #[test]
    fn extras_that_look_secret_are_never_shown() {
        let mut v = view();
        v.ctrls[0].extras = vec![
            (
                "dhchap_secret".into(),
                "DHHC-1:00:QK9HhYIk2Ii5KphoKc8ofDErT890kyeysw+BD34lZH/2dUMT:".into(),
            ),
            ("DHCHAP-SECRET".into(), "S2".into()),
            (
                "zone".into(),
                "DHHC-1:00:j62rZXSp+SkD2UcZ892hyDusSUENZYhxkSq6SXW0Za7dEdmX:".into(),
            ),
            ("rack".into(), "7".into()),
        ];
        for detailed in [false, true] {
            let l = list_controllers(&v, detailed, Instant::now());
            let all = format!("{:?}", l[0]);
            assert!(
                !all.contains("S1") && !all.contains("S2") && !all.contains("S3"),
                "{all}"
            );
            assert_eq!(
                (l[0]["dhchap_secret"].as_str(), l[0]["rack"].as_str()),
                (REDACTED, "7")
            );
        }
    }

    #[test]
    fn list_maps_have_the_original_keys() {
        let v = view();
        let now = Instant::now();
        let l = list_controllers(&v, false, now);
        let keys: Vec<&str> = l[0].keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "device",
                "dhchap-secret",
                "host-iface",
                "host-nqn",
                "host-traddr",
                "kato",
                "subsysnqn",
                "traddr",
                "transport",
                "trsvcid"
            ]
        );
        assert_eq!(l[0]["device"], "nvme3");
        assert_eq!(l[1]["device"], "nvme?");
        assert_eq!(l[0]["dhchap-secret"], REDACTED);
        let d = list_controllers(&v, true, now);
        for k in [
            "connect attempts",
            "retry connect timer",
            "hostid",
            "hostnqn",
            "model",
            "serial",
            "dctype",
            "cntrltype",
            "connected",
            "dlpe",
            "dlpe.eflags.ncc",
        ] {
            assert!(d[0].contains_key(k), "{k}");
        }
        assert_eq!(d[0]["connected"], "True");
        assert_eq!(d[1]["connected"], "None");
        assert_eq!(d[0]["retry connect timer"], "60.0s [off]");
        assert_eq!(d[0]["dlpe"], "{'trtype': 'tcp', 'eflags': '4'}");
        assert_eq!(d[0]["dlpe.eflags.ncc"], "True");
        assert_eq!(d[0]["cntrltype"], "io");
        assert!(!d[0].contains_key("connect operation"));
    }

    #[test]
    fn retrying_controller_shows_its_operation() {
        let mut v = view();
        let now = Instant::now();
        let c = &mut v.ctrls[1];
        c.snap.status.attempts = 2;
        c.snap.status.last_error = Some("connection refused".into());
        c.snap.retry = Some((now + Duration::from_secs(50), Duration::from_secs(60)));
        let d = list_controllers(&v, true, now);
        assert_eq!(d[1]["connected"], "False");
        assert_eq!(
            d[1]["connect operation"],
            "{'fail count': 2, 'completed': True, 'alive': True, 'error': 'connection refused'}"
        );
        assert_eq!(d[1]["retry connect timer"], "60.0s [50.0000s]");
    }

    #[test]
    fn controller_info_lookup() {
        let v = view();
        let now = Instant::now();
        let a = Lookup {
            transport: "tcp",
            traddr: "10.0.0.1",
            trsvcid: "",
            subsysnqn: "nqn.x",
            host_traddr: "",
            host_iface: "",
            host_nqn: HOST,
        };
        let j = json::parse(&controller_info(&v, &a, now)).unwrap();
        assert_eq!(j.get("device").and_then(Json::as_str), Some("nvme3"));
        assert_eq!(j.get("connect attempts").and_then(Json::as_str), Some("0"));
        let Json::Obj(m) = &j else { panic!() };
        assert_eq!(m[0].0, "traddr");
        assert_eq!(m.last().unwrap().0, "retry connect timer");
        // Unknown, empty host NQN, nonsense: {}.
        for bad in [
            Lookup {
                traddr: "10.9.9.9",
                ..a
            },
            Lookup { host_nqn: "", ..a },
            Lookup {
                transport: "pcie",
                ..a
            },
            Lookup { traddr: "1,2", ..a },
        ] {
            assert_eq!(controller_info(&v, &bad, now), "{}");
        }
    }

    #[test]
    fn process_info_keys_in_order_and_no_secret() {
        let v = view();
        let now = Instant::now();
        let t = process_info(&v, true, (Duration::from_millis(1500), None), now);
        let Json::Obj(m) = json::parse(&t).unwrap() else {
            panic!()
        };
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
        assert!(
            t.starts_with("{\"tron\": true, \"log-level\": \"DEBUG\", "),
            "{t}"
        );
        assert!(t.contains("\"hostkey\": \"<redacted>\""));
        assert!(t.contains("\"symname\": null"));
        assert!(t.contains("\"config soak timer\": \"1.5s [off]\""));
    }
}
