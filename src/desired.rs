//! The desired set: every I/O controller the inputs ask for, as an identity
//! with its connect parameters and its origin.
//!
//! Rules (docs/design.md §3.5 steps 1–8, with the decisions of part D): the
//! identity's host NQN is the one used to connect and to match; exclusion
//! patterns are applied to the configured form and again after host names
//! were resolved; tcp/rdma addresses must be IP addresses of an enabled
//! family; the first occurrence of an identity wins (a `controller=` line
//! shadows the same controller from another source). Everything dropped is
//! reported with the reason and, for configured entries, the file and line.

use crate::model::identity::{HostId, IdFields, Identity};
use crate::model::params::{ConnectParams, DEFAULT_CTRL_LOSS_TMO};
use crate::sources::config::host::HostIdentity;
use crate::sources::config::{ControllerEntry, IpFamily, StacdConf};
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where a wanted controller comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A `controller=` line of stacd.conf.
    Config { line: usize },
    /// A discovery log page entry published by stafd.
    Stafd,
    /// The firmware's NBFT.
    Nbft,
    /// The kernel command line (`rd.nvmf.*`, `rd.stacd.*`).
    Cmdline,
    /// Our own discovery of a configured discovery controller.
    Discovery,
    /// Restored from the boot hand-off record.
    Boot,
}

impl Origin {
    pub fn as_str(&self) -> &'static str {
        match self {
            Origin::Config { .. } => "config",
            Origin::Stafd => "stafd",
            Origin::Nbft => "nbft",
            Origin::Cmdline => "cmdline",
            Origin::Discovery => "discovery",
            Origin::Boot => "boot",
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Config { line } => write!(f, "config line {line}"),
            o => f.write_str(o.as_str()),
        }
    }
}

/// One controller the inputs ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub id: Identity,
    pub params: ConnectParams,
    pub origin: Origin,
    /// A boot path: never disconnected by policy, ctrl_loss_tmo -1 default.
    pub boot: bool,
    /// Keys of the entry stacd does not interpret (shown on D-Bus).
    pub extras: Vec<(String, String)>,
    /// The discovery log page entry has NCC ("not connected to CDC",
    /// EFLAGS bit 2) set: connect-attempts-on-ncc limits retries (§4.7).
    pub ncc: bool,
}

impl Wanted {
    /// `ctrl_loss_tmo` sent when none is configured: forever for boot paths
    /// (docs/design.md D18), libnvme's 600 s otherwise.
    pub fn default_ctrl_loss_tmo(&self) -> i64 {
        if self.boot {
            -1
        } else {
            DEFAULT_CTRL_LOSS_TMO
        }
    }
}

/// Resolves a host name to addresses (the system resolver in production).
pub type Resolver<'a> = &'a dyn Fn(&str) -> std::io::Result<Vec<IpAddr>>;

/// The system resolver (musl's: /etc/hosts, /etc/resolv.conf).
pub fn system_resolver(name: &str) -> std::io::Result<Vec<IpAddr>> {
    use std::net::ToSocketAddrs;
    Ok((name, 0).to_socket_addrs()?.map(|a| a.ip()).collect())
}

/// A failed lookup is tried again this long after it failed, the next time
/// the desired set is computed.
const NAME_RETRY: Duration = Duration::from_secs(60);

enum NameState {
    Pending,
    Done(Result<Vec<IpAddr>, String>, Instant),
}

/// Host names of `controller=` lines resolved off the daemon's loop: the
/// system resolver can wait many seconds for a DNS server that does not
/// answer (musl: 5 s per try, resolv.conf(5)), and the loop must not stop
/// connecting everything else meanwhile, as nvme-stas does not (it
/// resolves asynchronously). A name seen for the first time is resolved on
/// a worker thread; until it answers, its entry waits ("still resolving")
/// and `done` wakes the loop, which computes the desired set again with
/// the answer. Answers are kept until [`Names::forget`] (a reload); a
/// failure is retried after `NAME_RETRY` (60 s).
#[derive(Clone, Default)]
pub struct Names {
    cache: Arc<Mutex<HashMap<String, NameState>>>,
}

impl fmt::Debug for Names {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Names")
    }
}

impl Names {
    /// The cached answer for `name`, or `WouldBlock` while a worker
    /// resolves it (started here when needed); `done` runs on the worker
    /// once the answer is in the cache.
    pub fn lookup(&self, name: &str, done: &Waker) -> std::io::Result<Vec<IpAddr>> {
        let mut c = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        match c.get(name) {
            Some(NameState::Pending) => return Err(still_resolving()),
            Some(NameState::Done(Ok(a), _)) => return Ok(a.clone()),
            Some(NameState::Done(Err(e), at)) if at.elapsed() < NAME_RETRY => {
                return Err(std::io::Error::other(e.clone()))
            }
            _ => {}
        }
        c.insert(name.to_string(), NameState::Pending);
        drop(c);
        let cache = self.cache.clone();
        let owned = name.to_string();
        let done = done.clone();
        let spawned = crate::kernel::worker::spawn("resolve", move || {
            let r = system_resolver(&owned).map_err(|e| e.to_string());
            cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(owned, NameState::Done(r, Instant::now()));
            done();
        });
        if let Err(e) = spawned {
            // No thread: resolve here rather than never.
            self.cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(name);
            log::debug!("cannot start a resolver thread ({e}); resolving {name} in the loop");
            return system_resolver(name);
        }
        Err(still_resolving())
    }

    /// Drop every answer: the next lookups resolve again (after a reload).
    pub fn forget(&self) {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, s| matches!(s, NameState::Pending));
    }
}

/// What a resolver thread calls when its answer is in the cache.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

fn still_resolving() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::WouldBlock, "still resolving")
}

/// An IP literal, with an optional IPv6 zone (`fe80::1%eth0`) dropped.
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let s = s.split_once('%').map_or(s, |(a, _)| a);
    s.parse().ok()
}

/// The host ID to send with `host_nqn`: the host's own ID with its own NQN;
/// for another NQN, or for its own when the host has no ID, the UUID the
/// NQN carries (`...:uuid:<uuid>`, as nvme-cli derives it), else none (the
/// kernel then fills in its default host's ID). Kernels that keep host NQN
/// and ID one-to-one (kernel `fabrics.c`, `nvmf_host_add`: "same hostid but
/// different hostnqn", EINVAL; Debian 13's 6.12, not Debian 12's 6.1)
/// refuse both the host's ID with a foreign NQN and the default host's ID
/// with our NQN.
pub fn hostid_for(host: &HostIdentity, host_nqn: &str) -> Option<HostId> {
    if host_nqn == host.nqn.as_str() && host.id.is_some() {
        return host.id;
    }
    HostId::parse(host_nqn.rsplit_once(":uuid:")?.1)
}

fn family_ok(ip: &IpAddr, fam: IpFamily) -> bool {
    match ip {
        IpAddr::V4(_) => fam.allows_v4(),
        // An IPv4-mapped IPv6 literal counts as IPv6 here (§3.5 step 7).
        IpAddr::V6(_) => fam.allows_v6(),
    }
}

/// The exclusion patterns of one configuration, each filed under its
/// rarest `key=value` pair (a pattern matches only a candidate that has
/// every one of its pairs): a candidate is checked against the patterns
/// filed under its own pairs only, so many controllers and many patterns
/// stay near linear. Identical patterns are filed once (the first).
#[derive(Debug, Default)]
struct Excludes {
    /// How many patterns of the configuration this was built from.
    built: Option<usize>,
    /// The last pattern filed under each `key=value` pair; `next[i]` is
    /// the one filed before pattern `i` under the same pair.
    head: HashMap<String, usize>,
    next: Vec<usize>,
}

/// The end of a chain of [`Excludes::next`].
const NONE: usize = usize::MAX;

/// A pair as one text: keys never contain `=` (the tokenizer splits on
/// the first one), so this is unambiguous.
fn pair_text(k: &str, v: &str) -> String {
    format!("{k}={v}")
}

impl Excludes {
    fn build(&mut self, conf: &StacdConf) {
        if self.built == Some(conf.excludes.len()) {
            return;
        }
        let mut freq: HashMap<String, usize> = HashMap::new();
        for p in &conf.excludes {
            for (k, v) in &p.keys {
                *freq.entry(pair_text(k, v)).or_default() += 1;
            }
        }
        let mut once: HashMap<String, usize> = HashMap::new();
        self.head.clear();
        self.next = vec![NONE; conf.excludes.len()];
        for (i, p) in conf.excludes.iter().enumerate() {
            let pairs: Vec<String> = p.keys.iter().map(|(k, v)| pair_text(k, v)).collect();
            if once.insert(pairs.join(";"), i).is_some() {
                continue;
            }
            let rarest = pairs.into_iter().min_by_key(|t| freq.get(t).copied());
            if let Some(prev) = rarest.and_then(|t| self.head.insert(t, i)) {
                self.next[i] = prev;
            }
        }
        self.built = Some(conf.excludes.len());
    }

    /// The line of the first pattern of `conf` that excludes `id`.
    fn first(
        &mut self,
        conf: &StacdConf,
        id: &Identity,
        extras: &[(String, String)],
    ) -> Option<usize> {
        if conf.excludes.is_empty() {
            return None;
        }
        self.build(conf);
        let mut cand: Vec<(&str, &str)> = id.as_pairs().to_vec();
        cand.extend(extras.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let mut best = NONE;
        for (k, v) in &cand {
            let mut i = self.head.get(&pair_text(k, v)).copied().unwrap_or(NONE);
            while i != NONE {
                if i < best && conf.excludes[i].matches(&cand) {
                    best = i;
                }
                i = self.next[i];
            }
        }
        conf.excludes.get(best).map(|p| p.line)
    }
}

/// Builds the desired set in order, dropping duplicates (first wins).
#[derive(Debug, Default)]
pub struct Desired {
    pub wanted: Vec<Wanted>,
    seen: HashMap<Identity, usize>,
    excludes: Excludes,
    /// Why entries were dropped, one sentence each.
    pub notes: Vec<String>,
    /// Entries the user excluded on purpose (`exclude=`).
    pub excluded: Vec<String>,
    /// Entries whose host name is still being resolved ([`Names`]).
    pub waiting: Vec<String>,
}

impl Desired {
    /// Add `w` unless excluded, of a disabled family, or a duplicate.
    pub fn push(&mut self, conf: &StacdConf, w: Wanted) {
        if let Some(line) = self.excludes.first(conf, &w.id, &w.extras) {
            self.excluded.push(format!(
                "{} ({}) excluded by exclude= at {}:{line}",
                w.id,
                w.origin,
                conf.path.display()
            ));
            return;
        }
        if w.id.transport.is_ip() {
            match parse_ip(&w.id.traddr) {
                None => {
                    self.notes
                        .push(format!("{} ({}): IP address is not valid", w.id, w.origin));
                    return;
                }
                Some(ip) if !family_ok(&ip, conf.ip_family) => {
                    self.notes.push(format!(
                        "{} ({}) ignored: its address family is disabled by ip-family in {}",
                        w.id,
                        w.origin,
                        conf.path.display()
                    ));
                    return;
                }
                Some(_) => {}
            }
        }
        match self.seen.get(&w.id) {
            None => {
                self.seen.insert(w.id.clone(), self.wanted.len());
                self.wanted.push(w);
            }
            // The first occurrence wins, but a boot path stays a boot path
            // (never disconnected by policy) whichever source named it first.
            Some(&i) if w.boot => self.wanted[i].boot = true,
            Some(_) => {}
        }
    }
}

enum Dropped {
    Excluded(String),
    Invalid(String),
    Waiting(String),
}

/// A configured entry as a wanted controller, host names resolved.
fn from_entry(
    conf: &StacdConf,
    host: &HostIdentity,
    e: &ControllerEntry,
    resolve: Resolver<'_>,
    excludes: &mut Excludes,
) -> Result<Wanted, Dropped> {
    let invalid = |m: String| Dropped::Invalid(m);
    let host_nqn = e.host_nqn.as_deref().unwrap_or(&host.nqn);
    let fields = IdFields {
        transport: &e.transport,
        traddr: &e.traddr,
        trsvcid: &e.trsvcid,
        subsysnqn: &e.subsysnqn,
        host_traddr: &e.host_traddr,
        // ignore-iface erases host-iface from every identity (§3.1).
        host_iface: if conf.ignore_iface { "" } else { &e.host_iface },
        host_nqn,
    };
    let id = Identity::new(&fields).map_err(|err| invalid(err.to_string()))?;
    // First exclusion pass: the configured form (a host name may be
    // excluded by name, §2.5).
    if let Some(line) = excludes.first(conf, &id, &e.extras) {
        return Err(Dropped::Excluded(format!(
            "{id} (config line {}) excluded by exclude= at {}:{line}",
            e.line,
            conf.path.display()
        )));
    }
    let id = if id.transport.is_ip() && parse_ip(&id.traddr).is_none() {
        let addrs = resolve(&id.traddr).map_err(|err| {
            if err.kind() == std::io::ErrorKind::WouldBlock {
                Dropped::Waiting(format!(
                    "{}:{}: resolving {}; the controller is connected once it answers",
                    conf.path.display(),
                    e.line,
                    id.traddr
                ))
            } else {
                invalid(format!("cannot resolve {}: {err}", id.traddr))
            }
        })?;
        // The first IPv4 result if IPv4 is enabled, else the first IPv6
        // result (§3.5 step 3).
        let pick = addrs
            .iter()
            .find(|a| a.is_ipv4() && conf.ip_family.allows_v4())
            .or_else(|| {
                addrs
                    .iter()
                    .find(|a| a.is_ipv6() && conf.ip_family.allows_v6())
            })
            .ok_or_else(|| invalid(format!("{} has no address of an enabled family", id.traddr)))?;
        let text = pick.to_string();
        Identity::new(&IdFields {
            traddr: &text,
            ..fields
        })
        .map_err(|err| invalid(err.to_string()))?
    } else {
        id
    };
    Ok(Wanted {
        params: ConnectParams {
            conn: e.overrides.or(&conf.params),
            hostid: hostid_for(host, &id.host_nqn),
            // docs/design.md D7: the per-controller key first, the host key as default.
            dhchap_secret: e.dhchap_secret.clone().or_else(|| host.key.clone()),
            dhchap_ctrl_secret: e.dhchap_ctrl_secret.clone(),
            tls: e.tls.clone(),
        },
        id,
        origin: Origin::Config { line: e.line },
        boot: false,
        extras: e.extras.clone(),
        ncc: false,
    })
}

/// Controllers a silent source asked for in an earlier run: the entries of
/// the ownership record with `origin`, with `[Global]` parameters. A source
/// that has not answered yet (stafd, our discovery, after a restart) keeps
/// them wanted until it does, so a restart never disconnects them
/// (docs/design.md D3: never disconnect because a source is silent).
pub fn from_owned(
    owned: &crate::reconcile::state::OwnedMap,
    origin: Origin,
    conf: &StacdConf,
    host: &HostIdentity,
) -> Vec<Wanted> {
    owned
        .iter()
        .filter(|(_, o)| o.origin == origin.as_str())
        .map(|(id, _)| Wanted {
            params: ConnectParams {
                conn: conf.params.clone(),
                hostid: hostid_for(host, &id.host_nqn),
                dhchap_secret: host.key.clone(),
                dhchap_ctrl_secret: None,
                tls: None,
            },
            id: id.clone(),
            origin: origin.clone(),
            boot: false,
            extras: Vec::new(),
            ncc: false,
        })
        .collect()
}

/// The wanted controllers of stacd.conf.
pub fn from_config(
    conf: &StacdConf,
    host: &HostIdentity,
    resolve: Resolver<'_>,
    out: &mut Desired,
) {
    for e in &conf.controllers {
        match from_entry(conf, host, e, resolve, &mut out.excludes) {
            Ok(w) => out.push(conf, w),
            Err(Dropped::Excluded(m)) => out.excluded.push(m),
            Err(Dropped::Waiting(m)) => out.waiting.push(m),
            Err(Dropped::Invalid(why)) => out.notes.push(format!(
                "{}:{}: controller ignored: {why}",
                conf.path.display(),
                e.line
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::secret::Secret;
    use crate::sources::config::host::HostSource;
    use crate::sources::config::Pattern;
    use std::path::Path;

    const NQN: &str = "nqn.2014-08.org.nvmexpress:uuid:01234567-0123-0123-0123-0123456789ab";

    fn host() -> HostIdentity {
        HostIdentity {
            nqn: crate::model::identity::Value::new("nqn", NQN).unwrap(),
            id: HostId::parse("01234567-89ab-cdef-0123-456789abcdef"),
            key: Secret::new("DHHC-1:00:C3XYGmiTHxAgTrLt5prkU/1zb+fFR3zs15M0B6ccdyfrvjWZ:").ok(),
            symname: None,
            source: HostSource::EtcNvme,
        }
    }

    fn entry(line: usize, t: &str, a: &str, nqn: &str) -> ControllerEntry {
        ControllerEntry {
            line,
            transport: t.into(),
            traddr: a.into(),
            subsysnqn: nqn.into(),
            ..Default::default()
        }
    }

    fn no_dns(name: &str) -> std::io::Result<Vec<IpAddr>> {
        match name {
            "array.example" => Ok(vec![
                "2001:db8::5".parse().unwrap(),
                "10.0.0.5".parse().unwrap(),
            ]),
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "unknown host",
            )),
        }
    }

    fn build(conf: &StacdConf) -> Desired {
        let mut d = Desired::default();
        from_config(conf, &host(), &no_dns, &mut d);
        d
    }

    #[test]
    fn entries_become_identities_with_params() {
        let mut conf = StacdConf::defaults(Path::new("/etc/stas/stacd.conf"));
        conf.params.kato = Some(30);
        let mut e = entry(5, "tcp", "1.1.1.1", "x");
        e.overrides.kato = Some(71);
        e.dhchap_secret =
            Secret::new("DHHC-1:01:ZLA/Z8QA8Z6eZUpx65KvHfYwWEyWbnYTOkJEcgK0WYN8ps8D:").ok();
        conf.controllers = vec![
            e,
            entry(6, "tcp", "2.2.2.2", "y"),
            entry(7, "tcp", "1.1.1.1", "x"),
        ];
        let d = build(&conf);
        assert_eq!(d.wanted.len(), 2, "duplicate dropped: {:?}", d.notes);
        let w = &d.wanted[0];
        assert_eq!(w.id.to_string(), "(tcp, 1.1.1.1, 4420, x)");
        assert_eq!(w.id.host_nqn.as_str(), NQN);
        assert_eq!(w.params.conn.kato, Some(71));
        assert_eq!(
            w.params.dhchap_secret.as_ref().unwrap().expose(),
            "DHHC-1:01:ZLA/Z8QA8Z6eZUpx65KvHfYwWEyWbnYTOkJEcgK0WYN8ps8D:"
        );
        assert_eq!(w.origin, Origin::Config { line: 5 });
        let w = &d.wanted[1];
        assert_eq!(w.params.conn.kato, Some(30));
        assert_eq!(
            w.params.dhchap_secret.as_ref().unwrap().expose(),
            "DHHC-1:00:C3XYGmiTHxAgTrLt5prkU/1zb+fFR3zs15M0B6ccdyfrvjWZ:"
        );
        assert_eq!(
            w.params.hostid.map(|h| h.to_string()).as_deref(),
            Some("01234567-89ab-cdef-0123-456789abcdef")
        );
    }

    // Issue 12 cases 5 and 7 (one path in several spellings is one
    // controller; a trsvcid that is no port is warned about and skipped):
    // tests/plan-cases/06-address-spellings-one-controller.

    /// The index gives what a scan of every pattern gives.
    #[test]
    #[rustfmt::skip]
    fn exclusion_index_matches_a_scan() {
        let mut conf = StacdConf::defaults(Path::new("/c"));
        let p = |line, keys: &[(&str, &str)]| Pattern {
            line,
            keys: keys.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        };
        conf.excludes = vec![
            p(1, &[("transport", "tcp"), ("subsysnqn", "a")]),
            p(2, &[("transport", "tcp")]),
            p(3, &[("traddr", "1.1.1.1"), ("transport", "tcp")]),
            p(4, &[("transport", "tcp"), ("subsysnqn", "a")]),
            p(5, &[("zone", "red")]),
            p(6, &[("transport", "rdma"), ("subsysnqn", "b"), ("zone", "red")]),
        ];
        let mut ex = Excludes::default();
        for (t, a, n, extras) in [("tcp", "1.1.1.1", "a", vec![]), ("tcp", "2.2.2.2", "b", vec![]),
                                  ("rdma", "1.1.1.1", "b", vec![("zone".to_string(), "red".to_string())]),
                                  ("rdma", "1.1.1.1", "c", vec![])] {
            let id = Identity::new(&IdFields { transport: t, traddr: a, subsysnqn: n, host_nqn: NQN, ..Default::default() }).unwrap();
            let mut cand: Vec<(&str, &str)> = id.as_pairs().to_vec();
            cand.extend(extras.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let scan = conf.excludes.iter().find(|p| p.matches(&cand)).map(|p| p.line);
            assert_eq!(ex.first(&conf, &id, &extras), scan, "{id} {extras:?}");
        }
    }

    #[test]
    fn exclusion_family_and_names() {
        let mut conf = StacdConf::defaults(Path::new("/c"));
        conf.ip_family = IpFamily::V4;
        conf.excludes = vec![Pattern {
            line: 9,
            keys: vec![("traddr".into(), "3.3.3.3".into())],
        }];
        conf.controllers = vec![
            entry(1, "tcp", "3.3.3.3", "x"),
            entry(2, "tcp", "::1", "x"),
            entry(3, "tcp", "array.example", "x"),
            entry(4, "tcp", "nowhere.example", "x"),
            entry(5, "fc", "nn-0x1:pn-0x2", "x"),
            entry(6, "bogus", "1.1.1.1", "x"),
            entry(7, "tcp", "", "x"),
        ];
        let d = build(&conf);
        let ids: Vec<String> = d.wanted.iter().map(|w| w.id.to_string()).collect();
        assert_eq!(
            ids,
            ["(tcp, 10.0.0.5, 4420, x)", "(fc, nn-0x1:pn-0x2, , x)"]
        );
        let notes = format!("{}\n{}", d.notes.join("\n"), d.excluded.join("\n"));
        for want in [
            "/c:9",
            "ip-family",
            "cannot resolve nowhere.example",
            "/c:6:",
            "invalid transport",
            "/c:7:",
            "traddr is missing",
        ] {
            assert!(notes.contains(want), "{want} not in {notes}");
        }
    }

    #[test]
    fn a_duplicate_boot_path_keeps_the_first_entry_and_its_boot_flag() {
        let conf = StacdConf::defaults(Path::new("/c"));
        let mut d = Desired::default();
        from_config(
            &StacdConf {
                controllers: vec![entry(3, "tcp", "1.1.1.1", "x")],
                ..conf.clone()
            },
            &host(),
            &no_dns,
            &mut d,
        );
        let mut boot = d.wanted[0].clone();
        boot.origin = Origin::Nbft;
        boot.boot = true;
        d.push(&conf, boot);
        assert_eq!(d.wanted.len(), 1);
        assert_eq!(d.wanted[0].origin, Origin::Config { line: 3 });
        assert!(d.wanted[0].boot);
    }

    #[test]
    fn ignore_iface_and_foreign_host_nqn() {
        let mut conf = StacdConf::defaults(Path::new("/c"));
        conf.ignore_iface = true;
        let mut e = entry(1, "tcp", "1.1.1.1", "x");
        e.host_iface = "eth0".into();
        e.host_nqn =
            Some("nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee".into());
        conf.controllers = vec![e];
        let d = build(&conf);
        assert_eq!(d.wanted[0].id.host_iface.as_str(), "");
        assert_eq!(
            d.wanted[0].params.hostid.map(|h| h.to_string()).as_deref(),
            Some("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
        );
        assert_eq!(hostid_for(&host(), "nqn.other"), None);
    }

    #[test]
    fn a_name_being_resolved_waits_and_does_not_block() {
        let mut conf = StacdConf::defaults(Path::new("/c"));
        conf.controllers = vec![
            entry(1, "tcp", "array.example", "x"),
            entry(2, "tcp", "1.1.1.1", "y"),
        ];
        let pending = |_: &str| -> std::io::Result<Vec<IpAddr>> { Err(still_resolving()) };
        let mut d = Desired::default();
        from_config(&conf, &host(), &pending, &mut d);
        let ids: Vec<String> = d.wanted.iter().map(|w| w.id.to_string()).collect();
        assert_eq!(
            ids,
            ["(tcp, 1.1.1.1, 4420, y)"],
            "the other entry is not held up"
        );
        assert!(d.notes.is_empty(), "{:?}", d.notes);
        assert_eq!(d.waiting.len(), 1);
        assert!(
            d.waiting[0].starts_with("/c:1: resolving array.example"),
            "{:?}",
            d.waiting
        );
    }

    #[test]
    fn names_are_resolved_on_a_worker_and_cached() {
        let names = Names::default();
        let (tx, rx) = std::sync::mpsc::channel();
        let tx = Mutex::new(tx);
        let done: Waker = Arc::new(move || {
            let _ = tx.lock().unwrap().send(());
        });
        // localhost comes from /etc/hosts: no DNS server involved.
        let first = names.lookup("localhost", &done);
        assert_eq!(first.unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the worker reports");
        let a = names.lookup("localhost", &done).expect("cached answer");
        assert!(a.iter().any(|a| a.is_loopback()), "{a:?}");
        assert!(rx.try_recv().is_err(), "a cached answer starts no worker");
        names.forget();
        let again = names.lookup("localhost", &done);
        assert_eq!(again.unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
        rx.recv_timeout(Duration::from_secs(10))
            .expect("resolved again after forget");
    }

    #[test]
    fn own_nqn_without_id_sends_the_uuid_it_carries() {
        let mut h = host();
        let own = "nqn.2014-08.org.nvmexpress:uuid:01234567-0123-0123-0123-0123456789ab";
        h.nqn = crate::model::identity::Value::new("nqn", own).unwrap();
        h.id = None;
        let text = |id: Option<HostId>| id.map(|i| i.to_string());
        assert_eq!(
            text(hostid_for(&h, own)).as_deref(),
            Some("01234567-0123-0123-0123-0123456789ab")
        );
        h.id = HostId::parse("11111111-2222-3333-4444-555555555555");
        assert_eq!(
            text(hostid_for(&h, own)).as_deref(),
            Some("11111111-2222-3333-4444-555555555555")
        );
        h.nqn = crate::model::identity::Value::new("nqn", "nqn.2014-08.com.example:host1").unwrap();
        h.id = None;
        assert_eq!(hostid_for(&h, "nqn.2014-08.com.example:host1"), None);
    }
}
