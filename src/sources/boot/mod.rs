//! Boot inputs: what the kernel command line and the firmware's NBFT ask
//! for, as wanted I/O controllers, discovery controllers to follow, and the
//! host identity they carry.
//!
//! Both sources can be turned off: stacd.conf `[Standalone] nbft=` and
//! `kernel-cmdline=`, or `--no-nbft` / `--no-cmdline`; the command line
//! itself can turn the NBFT off (`rd.nvmf.nonbft`) or everything
//! (`rd.nonvmf`, `rd.stacd=0`).
//!
//! Host identity (docs/design.md D4, one precedence for connect and match): kernel
//! command line (`rd.nvmf.hostnqn`/`hostid`) > NBFT host descriptor >
//! sys.conf > /etc/nvme; see [`BootInputs::early_hosts`] and
//! [`crate::sources::config::host::resolve_host`]. With `rd.nvmf.hostnqn` no
//! /etc/nvme file is needed. NBFT paths are connected with the table's own
//! host NQN (the one the firmware used, which the target allows) unless
//! the command line names one; nvme-cli 2.x does the same. Unlike nvme-stas,
//! the NQN is used whether or not the table marks it "configured".
//!
//! NBFT → wanted (docs/design.md §B2.1, §B2.2): every valid SSNS on every HFI listed
//! for it (primary first): transport, traddr, trsvcid, subsystem NQN, the
//! digests the table requires, host-iface = the interface with the HFI's
//! MAC when it exists. Like nvme-cli, SSNS that name the discovery NQN are
//! skipped, with a note. Discovery descriptors become discovery
//! controllers (URI `nvme+tcp://host:port/`, port 8009 when none).
//!
//! A security profile (an SSNS's or a discovery descriptor's) says what
//! the target asks for, never a key: the table holds at most a key path
//! for the firmware (docs/auth-tls.md section 6). nvme-cli and libnvme
//! ignore the profile. We honour it where the host can
//! (`nbft_security`): in-band authentication with the host's own
//! DH-HMAC-CHAP key (sys.conf `[Host] key=`, `/etc/nvme/hostkey`), and
//! skip with a note naming what is missing when the profile requires
//! authentication and the host has no key, or requires a secure channel
//! (TLS needs tlshd and a PSK in the keyring, which a boot from the NBFT
//! alone cannot have).
//!
//! Every boot connection is a boot path (`Wanted::boot`): `ctrl_loss_tmo`
//! -1 unless `rd.stacd.ctrl_loss_tmo` says otherwise, never disconnected.
//!
//! The folder holds everything of the boot: the command line ([`cmdline`]),
//! the NBFT ([`nbft`]), the hand-off to the real root ([`handoff`]), the
//! initramfs hooks' questions ([`hooks`]) and the boot network ([`net`],
//! [`dhcp`]; the rtnetlink requests are in `kernel::netcfg`).

pub mod cmdline;
pub mod dhcp;
pub mod handoff;
pub mod hooks;
pub mod nbft;
pub mod net;

use crate::base::root::{rel, Root};
use crate::desired::{self, hostid_for, Desired, Origin, Wanted};
use crate::kernel::netif::IfAddrs;
use crate::model::identity::{
    HostId, IdFields, Identity, Transport, DISCOVERY_NQN, DISCOVERY_PORT,
};
use crate::model::params::ConnectParams;
use crate::sources::config::host::{EarlyHost, HostIdentity, HostSource};
use crate::sources::config::{ConnParams, ControllerEntry, StacdConf};
use cmdline::{Cmdline, Target};
use nbft::Nbft;
use nbft::Requirement;
use std::path::PathBuf;

/// Which sources are on (config switch and command-line option together).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sources {
    pub nbft: bool,
    pub cmdline: bool,
    pub discovery: bool,
}

impl Sources {
    /// The switches of `conf`, minus the `--no-*` options given.
    pub fn new(conf: &StacdConf, no_nbft: bool, no_cmdline: bool, no_discovery: bool) -> Sources {
        Sources {
            nbft: conf.standalone.nbft && !no_nbft,
            cmdline: conf.standalone.kernel_cmdline && !no_cmdline,
            discovery: conf.standalone.discovery && !no_discovery,
        }
    }
}

/// A discovery controller to connect and read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DcTarget {
    /// subsysnqn is the discovery controller's NQN (the well-known one
    /// unless configured otherwise).
    pub id: Identity,
    pub params: ConnectParams,
    /// Connect parameters of the I/O controllers it lists.
    pub io: ConnParams,
    pub origin: Origin,
    /// The I/O controllers it lists are boot paths.
    pub boot: bool,
}

/// The boot inputs as read at start.
#[derive(Debug, Clone, Default)]
pub struct BootInputs {
    pub sources: Option<Sources>,
    pub cmdline: Cmdline,
    /// Decoded tables, in file name order (only when the NBFT is used).
    pub nbfts: Vec<(PathBuf, Nbft)>,
    /// Things worth a warning (malformed parameters, faulty tables).
    pub warnings: Vec<String>,
    /// Things worth an info line (which tables were found).
    pub infos: Vec<String>,
}

/// `16 bytes` → `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`; all zeros → none.
pub fn uuid_text(b: &[u8; 16]) -> Option<String> {
    if b.iter().all(|&x| x == 0) {
        return None;
    }
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// `nvme+tcp://192.168.1.1:8009/`, `nvme+tcp://[fe80::1]:4420/`,
/// `nvme+tcp://host/` → (transport, address, port). The port defaults to
/// the transport's discovery port (8009 for tcp, none for others).
pub fn parse_uri(uri: &str) -> Option<(Transport, String, String)> {
    let (scheme, rest) = uri.split_once("://")?;
    let transport = Transport::parse(scheme.strip_prefix("nvme+")?)?;
    let authority = rest.split('/').next().unwrap_or("");
    let (host, port) = if let Some(r) = authority.strip_prefix('[') {
        let (h, after) = r.split_once(']')?;
        (h, after.strip_prefix(':').unwrap_or(""))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, p),
            None => (authority, ""),
        }
    };
    if host.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let port = match (port, transport) {
        ("", Transport::Tcp) => DISCOVERY_PORT.to_string(),
        ("", _) => String::new(),
        (p, _) => p.to_string(),
    };
    Some((transport, host.to_ascii_lowercase(), port))
}

impl BootInputs {
    /// Read the command line and the NBFT tables under `root`, as far as
    /// `sources` allow. Never fails: problems become warnings.
    pub fn load(root: &Root, sources: Sources) -> BootInputs {
        let cmdline = sources.cmdline.then(|| cmdline::load(root));
        Self::from_inputs(sources, cmdline, || {
            nbft::read_all(&root.path(rel::ACPI_TABLES))
        })
    }

    /// [`BootInputs::load`] from what was read: the parsed command line
    /// (when it is a source) and the tables, read only if they are used.
    pub fn from_inputs(
        sources: Sources,
        cmdline: Option<Cmdline>,
        tables: impl FnOnce() -> Vec<(PathBuf, Result<Nbft, nbft::NbftError>)>,
    ) -> BootInputs {
        let mut b = BootInputs {
            sources: Some(sources),
            ..Default::default()
        };
        if let Some(c) = cmdline.filter(|_| sources.cmdline) {
            b.cmdline = c;
            b.warnings.extend(
                b.cmdline
                    .warnings
                    .iter()
                    .map(|w| format!("kernel command line: {w}")),
            );
            if b.cmdline.fc_auto {
                b.warnings.push(
                    "kernel command line: rd.nvmf.discover=fc,auto: FC auto-discovery is not done by stacd; ignored"
                        .into(),
                );
            }
        }
        if sources.nbft && (!sources.cmdline || b.cmdline.nbft_allowed()) {
            let tables = tables();
            if !tables.is_empty() {
                let names: Vec<String> = tables
                    .iter()
                    .map(|(p, _)| p.display().to_string())
                    .collect();
                b.infos
                    .push(format!("NBFT location(s): {}", names.join(", ")));
            }
            for (p, t) in tables {
                match t {
                    Ok(t) => {
                        for e in &t.problems {
                            b.warnings.push(format!("{}: {e}", p.display()));
                        }
                        b.nbfts.push((p, t));
                    }
                    Err(e) => b
                        .warnings
                        .push(format!("{}: {e}; table ignored", p.display())),
                }
            }
        }
        b
    }

    /// The command line's part is in effect.
    fn cmdline_on(&self) -> bool {
        self.sources.is_some_and(|s| s.cmdline) && self.cmdline.active()
    }

    fn discovery_on(&self) -> bool {
        self.sources.is_some_and(|s| s.discovery)
    }

    /// Host identity from the boot inputs, in precedence order: the
    /// command line, then the first table with a host descriptor.
    pub fn early_hosts(&self) -> Vec<EarlyHost> {
        let mut out = Vec::new();
        if self.cmdline_on() && (self.cmdline.hostnqn.is_some() || self.cmdline.hostid.is_some()) {
            out.push(EarlyHost {
                nqn: self.cmdline.hostnqn.clone(),
                id: self.cmdline.hostid.clone(),
                source: HostSource::Cmdline,
            });
        }
        if let Some(h) = self.nbfts.iter().find_map(|(_, t)| t.host.as_ref()) {
            out.push(EarlyHost {
                nqn: Some(h.nqn.clone()),
                id: uuid_text(&h.id),
                source: HostSource::Nbft,
            });
        }
        out
    }

    /// Interface names matter (an NBFT HFI's MAC).
    pub fn needs_net(&self) -> bool {
        self.nbfts.iter().any(|(_, t)| !t.hfis.is_empty())
    }

    /// Connect parameters of boot connections: `rd.stacd.*` over
    /// `[Global]`, but `ctrl_loss_tmo` only from the command line (the boot
    /// default, -1, applies otherwise).
    fn boot_conn(&self, conf: &StacdConf) -> ConnParams {
        let cmd = if self.cmdline_on() {
            self.cmdline.stacd.params.clone()
        } else {
            ConnParams::default()
        };
        let mut p = cmd.or(&conf.params);
        p.ctrl_loss_tmo = cmd.ctrl_loss_tmo;
        p
    }

    /// The host NQN and ID for a path of table `t`: the command line's if
    /// it names one, else the table's.
    fn nbft_host(&self, host: &HostIdentity, t: &Nbft) -> (String, Option<HostId>) {
        match (&t.host, host.source) {
            (Some(h), s) if s != HostSource::Cmdline => {
                let id = if h.nqn == host.nqn.as_str() {
                    host.id.or_else(|| HostId::from_bytes(&h.id))
                } else {
                    HostId::from_bytes(&h.id)
                };
                (h.nqn.clone(), id)
            }
            // an NQN without an ID: desired::hostid_for says why not none
            _ => (host.nqn.to_string(), hostid_for(host, host.nqn.as_str())),
        }
    }

    /// The interface of HFI `hfi` of `t`: found by MAC and VLAN (the NIC,
    /// or the VLAN device on it), never by name. Empty when
    /// `ignore-iface` is set or nothing matches.
    fn iface(conf: &StacdConf, t: &Nbft, hfi: Option<u8>, net: &IfAddrs) -> String {
        if conf.ignore_iface {
            return String::new();
        }
        hfi.and_then(|i| t.hfi(i))
            .and_then(|h| net.by_mac_vlan(h.mac, h.vlan))
            .map(|i| i.name.clone())
            .unwrap_or_default()
    }

    /// "NBFT HFI 1", with the table's name when there are several.
    fn hfi_name(&self, path: &std::path::Path, index: u8) -> String {
        if self.nbfts.len() > 1 {
            format!("{} HFI {index}", path.display())
        } else {
            format!("NBFT HFI {index}")
        }
    }

    /// What every HFI of the tables asks of the network (address, prefix,
    /// gateway, VLAN, DHCP), for `--boot-net`; problems go to `notes`.
    pub fn hfi_nets(&self, notes: &mut Vec<String>) -> Vec<crate::kernel::netcfg::HfiNet> {
        let mut out: Vec<crate::kernel::netcfg::HfiNet> = Vec::new();
        for (path, t) in &self.nbfts {
            for h in &t.hfis {
                let what = self.hfi_name(path, h.index);
                match crate::kernel::netcfg::HfiNet::from_hfi(h, &what, notes) {
                    // Two tables may describe one interface.
                    Ok(n)
                        if out
                            .iter()
                            .any(|o| o.mac == n.mac && o.vlan == n.vlan && o.mode == n.mode) => {}
                    Ok(n) => out.push(n),
                    Err(e) => notes.push(format!("{e}; not configured")),
                }
            }
        }
        out
    }

    /// NBFT paths that cannot be tried: their HFI's MAC (and VLAN) names no
    /// interface here.
    pub fn missing_paths(&self, conf: &StacdConf, net: &IfAddrs) -> Vec<MissingPath> {
        let mut out = Vec::new();
        if conf.ignore_iface {
            return out;
        }
        for (path, t) in &self.nbfts {
            for s in &t.subsystems {
                // A path the profile makes us skip (secure channel) is
                // not missing an interface: it is not wanted at all.
                let tls = s
                    .security
                    .and_then(|i| t.security_by_index(i))
                    .is_some_and(|p| p.secure_channel() == Requirement::Required);
                if s.subsys_nqn == DISCOVERY_NQN || tls {
                    continue;
                }
                for &i in &s.hfis {
                    let Some(h) = t.hfi(i) else { continue };
                    if h.mac == [0; 6] || net.by_mac_vlan(h.mac, h.vlan).is_some() {
                        continue;
                    }
                    let vlan = if h.vlan != 0 {
                        format!(" on VLAN {}", h.vlan)
                    } else {
                        String::new()
                    };
                    out.push(MissingPath {
                        id: format!(
                            "({}, {}, {}, {})",
                            s.transport(),
                            s.traddr,
                            s.trsvcid,
                            s.subsys_nqn
                        ),
                        why: format!(
                            "no network interface has the MAC {}{vlan} of {} [NBFT SSNS {}; {}]",
                            crate::kernel::netcfg::mac_text(&h.mac),
                            self.hfi_name(path, i),
                            s.index,
                            firmware_status(s),
                        ),
                        subsysnqn: s.subsys_nqn.clone(),
                    });
                }
            }
        }
        out
    }

    /// Where an NBFT path comes from, for reports: "NBFT SSNS 1 via HFI 1
    /// (MAC ..., eth0); firmware: namespace available".
    pub fn describe(&self, id: &Identity, net: &IfAddrs) -> Option<String> {
        for (path, t) in &self.nbfts {
            for s in &t.subsystems {
                if s.subsys_nqn != id.subsysnqn.as_str()
                    || s.trsvcid != id.trsvcid.as_str()
                    || !crate::kernel::netif::ip_eq(&s.traddr.to_string(), &id.traddr)
                {
                    continue;
                }
                for &i in &s.hfis {
                    let Some(h) = t.hfi(i) else { continue };
                    let dev = net
                        .by_mac_vlan(h.mac, h.vlan)
                        .map(|d| d.name.as_str())
                        .unwrap_or("");
                    if dev != id.host_iface.as_str() && !id.host_iface.is_empty() {
                        continue;
                    }
                    let vlan = if h.vlan != 0 {
                        format!(", VLAN {}", h.vlan)
                    } else {
                        String::new()
                    };
                    let dev = if dev.is_empty() {
                        "no interface".to_string()
                    } else {
                        dev.to_string()
                    };
                    return Some(format!(
                        "NBFT SSNS {} via {} (MAC {}{vlan}, {dev}); {}",
                        s.index,
                        self.hfi_name(path, i),
                        crate::kernel::netcfg::mac_text(&h.mac),
                        firmware_status(s)
                    ));
                }
            }
        }
        None
    }

    /// The I/O controllers of the command line (`rd.nvmf.connect`,
    /// `rd.stacd.controller`) and the NBFT, as boot paths, in that order.
    /// Problems go to `notes`.
    pub fn wanted(
        &self,
        conf: &StacdConf,
        host: &HostIdentity,
        net: &IfAddrs,
        notes: &mut Vec<String>,
    ) -> Vec<Wanted> {
        self.wanted_with(conf, host, net, &desired::system_resolver, notes)
    }

    /// [`BootInputs::wanted`] with host names of `rd.stacd.controller`
    /// resolved by `resolve` (a fuzz target must not ask DNS).
    pub fn wanted_with(
        &self,
        conf: &StacdConf,
        host: &HostIdentity,
        net: &IfAddrs,
        resolve: desired::Resolver<'_>,
        notes: &mut Vec<String>,
    ) -> Vec<Wanted> {
        let mut out = Vec::new();
        let conn = self.boot_conn(conf);
        if self.cmdline_on() {
            for t in &self.cmdline.connect {
                match target_identity(t, &t.subsysnqn, host) {
                    Ok(id) => out.push(boot_wanted(id, &conn, host, Origin::Cmdline)),
                    Err(e) => notes.push(format!("kernel command line: {}: {e}; ignored", t.arg)),
                }
            }
            // rd.stacd.controller: the stacd.conf rules (host names, extras,
            // overrides), through the same code as controller= lines.
            let mut c = conf.clone();
            c.controllers = self.cmdline.stacd.controllers.clone();
            c.params = conn.clone();
            c.excludes.clear();
            let mut d = Desired::default();
            desired::from_config(&c, host, resolve, &mut d);
            for n in d.notes {
                notes.push(format!("kernel command line: rd.stacd.controller: {n}"));
            }
            for mut w in d.wanted {
                w.origin = Origin::Cmdline;
                w.boot = true;
                if self
                    .cmdline
                    .stacd
                    .controllers
                    .iter()
                    .all(|e| e.overrides.ctrl_loss_tmo.is_none())
                {
                    w.params.conn.ctrl_loss_tmo = conn.ctrl_loss_tmo;
                }
                out.push(w);
            }
        }
        for (path, t) in &self.nbfts {
            let (nqn, hostid) = self.nbft_host(host, t);
            for s in &t.subsystems {
                let what = format!("{} SSNS {}", path.display(), s.index);
                if s.subsys_nqn == DISCOVERY_NQN {
                    notes.push(format!("{what}: names the discovery NQN; skipped (its discovery descriptor is followed)"));
                    continue;
                }
                let key = match nbft_security(t, s.security, host) {
                    Ok(key) => key,
                    Err(why) => {
                        notes.push(format!("{what}: {why}; skipped"));
                        continue;
                    }
                };
                for &hfi in &s.hfis {
                    let traddr = s.traddr.to_string();
                    let host_iface = Self::iface(conf, t, Some(hfi), net);
                    // The table names the interface to use: without one
                    // that has its MAC there is no path (missing_paths). An
                    // HFI without a MAC (all zero) names none.
                    let named = t.hfi(hfi).is_some_and(|h| h.mac != [0; 6]);
                    if host_iface.is_empty() && named && !conf.ignore_iface {
                        continue;
                    }
                    let id = Identity::new(&IdFields {
                        transport: s.transport(),
                        traddr: &traddr,
                        trsvcid: &s.trsvcid,
                        subsysnqn: &s.subsys_nqn,
                        host_iface: &host_iface,
                        host_nqn: &nqn,
                        ..Default::default()
                    });
                    match id {
                        Ok(id) => {
                            let mut c = conn.clone();
                            if s.pdu_header_digest_required {
                                c.hdr_digest = Some(true);
                            }
                            if s.data_digest_required {
                                c.data_digest = Some(true);
                            }
                            out.push(Wanted {
                                id,
                                params: ConnectParams {
                                    conn: c,
                                    hostid,
                                    dhchap_secret: key.clone(),
                                    ..Default::default()
                                },
                                origin: Origin::Nbft,
                                boot: true,
                                extras: Vec::new(),
                                ncc: false,
                            });
                        }
                        Err(e) => notes.push(format!("{what} HFI {hfi}: {e}; skipped")),
                    }
                }
            }
        }
        out
    }

    /// The discovery controllers of the command line (`rd.nvmf.discover`)
    /// and the NBFT, whose entries are boot paths.
    pub fn discovery_targets(
        &self,
        conf: &StacdConf,
        host: &HostIdentity,
        net: &IfAddrs,
        notes: &mut Vec<String>,
    ) -> Vec<DcTarget> {
        let mut out = Vec::new();
        if !self.discovery_on() {
            return out;
        }
        let conn = self.boot_conn(conf);
        if self.cmdline_on() {
            for t in &self.cmdline.discover {
                match target_identity(t, DISCOVERY_NQN, host) {
                    Ok(id) => out.push(DcTarget {
                        params: dc_params(&conn, host, &id),
                        io: conn.clone(),
                        id,
                        origin: Origin::Cmdline,
                        boot: true,
                    }),
                    Err(e) => notes.push(format!("kernel command line: {}: {e}; ignored", t.arg)),
                }
            }
        }
        for (path, t) in &self.nbfts {
            let (nqn, _) = self.nbft_host(host, t);
            for d in &t.discovery {
                let what = format!("{} discovery descriptor {}", path.display(), d.index);
                let key = match nbft_security(t, d.security, host) {
                    Ok(key) => key,
                    Err(why) => {
                        notes.push(format!("{what}: {why}; skipped"));
                        continue;
                    }
                };
                let Some((transport, traddr, trsvcid)) = parse_uri(&d.uri) else {
                    notes.push(format!("{what}: cannot read URI {:?}; skipped", d.uri));
                    continue;
                };
                let host_iface = Self::iface(conf, t, d.hfi, net);
                let id = Identity::new(&IdFields {
                    transport: transport.as_str(),
                    traddr: &traddr,
                    trsvcid: &trsvcid,
                    subsysnqn: d.nqn.as_deref().unwrap_or(DISCOVERY_NQN),
                    host_iface: &host_iface,
                    host_nqn: &nqn,
                    ..Default::default()
                });
                match id {
                    Ok(id) => out.push(DcTarget {
                        params: ConnectParams {
                            dhchap_secret: key.clone(),
                            ..dc_params(&conn, host, &id)
                        },
                        io: conn.clone(),
                        id,
                        origin: Origin::Nbft,
                        boot: true,
                    }),
                    Err(e) => notes.push(format!("{what}: {e}; skipped")),
                }
            }
        }
        out
    }
}

/// An NBFT path that cannot be tried ([`BootInputs::missing_paths`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingPath {
    /// `(tcp, ADDR, PORT, NQN)`, as identities print.
    pub id: String,
    pub why: String,
    pub subsysnqn: String,
}

/// How a boot path whose descriptor names security profile `index` is
/// connected: `Ok` with the DH-HMAC-CHAP key to present (the host's, when
/// it has one: the kernel authenticates only when the target asks for it,
/// drivers/nvme/host/fabrics.c `nvmf_connect_admin_queue`, so a key is
/// harmless where the profile does not require it), or `Err` with why the
/// path is skipped. No profile: no key, as before (nvme-cli's
/// `connect-all --nbft` passes none either).
fn nbft_security(
    t: &Nbft,
    index: Option<u8>,
    host: &HostIdentity,
) -> Result<Option<crate::model::secret::Secret>, String> {
    let Some(p) = index.and_then(|i| t.security_by_index(i)) else {
        return Ok(None);
    };
    if p.secure_channel() == Requirement::Required {
        return Err(format!(
            "security profile {} requires a secure channel (NVMe/TCP TLS), which a boot from the NBFT cannot set up (the table holds no PSK, and TLS needs tlshd)",
            p.index
        ));
    }
    match (p.in_band_auth(), &host.key) {
        (Requirement::Required, None) => Err(format!(
            "security profile {} requires in-band authentication (DH-HMAC-CHAP) and the host has no key (sys.conf [Host] key=, /etc/nvme/hostkey)",
            p.index
        )),
        (Requirement::NotSupported, _) => Ok(None),
        (_, key) => Ok(key.clone()),
    }
}

/// What the firmware said about an SSNS (NBFT 1.0: the Unavailable
/// Namespace flags and the Discovered Namespace flag, Figure 16).
fn firmware_status(s: &nbft::SubsystemNs) -> String {
    let mut v = if s.unavailable {
        "firmware: namespace unavailable".to_string()
    } else {
        "firmware: namespace available".to_string()
    };
    if s.discovered {
        v.push_str(", found through discovery");
    }
    if s.controller_id != 0 {
        v.push_str(&format!(", cntlid {}", s.controller_id));
    }
    v
}

fn target_identity(
    t: &Target,
    subsysnqn: &str,
    host: &HostIdentity,
) -> Result<Identity, crate::model::identity::IdError> {
    Identity::new(&IdFields {
        transport: t.transport.as_str(),
        traddr: &t.traddr,
        trsvcid: &t.trsvcid,
        subsysnqn,
        host_traddr: &t.host_traddr,
        host_nqn: &host.nqn,
        ..Default::default()
    })
}

fn boot_wanted(id: Identity, conn: &ConnParams, host: &HostIdentity, origin: Origin) -> Wanted {
    Wanted {
        params: ConnectParams {
            conn: conn.clone(),
            hostid: hostid_for(host, &id.host_nqn),
            dhchap_secret: None,
            dhchap_ctrl_secret: None,
            tls: None,
        },
        id,
        origin,
        boot: true,
        extras: Vec::new(),
        ncc: false,
    }
}

/// Parameters of a discovery controller connection: only what a
/// discovery controller takes (no I/O queues, no digests).
fn dc_params(conn: &ConnParams, host: &HostIdentity, id: &Identity) -> ConnectParams {
    ConnectParams {
        conn: ConnParams {
            reconnect_delay: conn.reconnect_delay,
            ctrl_loss_tmo: conn.ctrl_loss_tmo,
            ..Default::default()
        },
        hostid: hostid_for(host, &id.host_nqn),
        dhchap_secret: None,
        dhchap_ctrl_secret: None,
        tls: None,
    }
}

/// The `[Standalone] discovery-controller=` entries of stacd.conf (not boot
/// paths): tcp without trsvcid is at 8009, without subsysnqn the
/// well-known discovery NQN.
pub fn config_discovery_targets(
    conf: &StacdConf,
    host: &HostIdentity,
    notes: &mut Vec<String>,
) -> Vec<DcTarget> {
    let mut out = Vec::new();
    if !conf.standalone.discovery {
        return out;
    }
    for e in &conf.standalone.discovery_controllers {
        match config_dc(conf, host, e) {
            Ok(t) => out.push(t),
            Err(why) => notes.push(format!(
                "{}:{}: discovery-controller ignored: {why}",
                conf.path.display(),
                e.line
            )),
        }
    }
    out
}

fn config_dc(
    conf: &StacdConf,
    host: &HostIdentity,
    e: &ControllerEntry,
) -> Result<DcTarget, String> {
    let transport = if e.transport.is_empty() {
        "tcp"
    } else {
        e.transport.as_str()
    };
    let trsvcid = match (e.trsvcid.as_str(), transport) {
        ("", "tcp") => DISCOVERY_PORT,
        (s, _) => s,
    };
    let subsysnqn = if e.subsysnqn.is_empty() {
        DISCOVERY_NQN
    } else {
        e.subsysnqn.as_str()
    };
    let host_nqn = e.host_nqn.as_deref().unwrap_or(&host.nqn);
    let id = Identity::new(&IdFields {
        transport,
        traddr: &e.traddr,
        trsvcid,
        subsysnqn,
        host_traddr: &e.host_traddr,
        host_iface: if conf.ignore_iface { "" } else { &e.host_iface },
        host_nqn,
    })
    .map_err(|e| e.to_string())?;
    if id.transport.is_ip() && desired::parse_ip(&id.traddr).is_none() {
        return Err(format!("{} is not an IP address", id.traddr));
    }
    let conn = e.overrides.or(&ConnParams::default());
    Ok(DcTarget {
        params: ConnectParams {
            conn: ConnParams {
                reconnect_delay: conn.reconnect_delay,
                ctrl_loss_tmo: conn.ctrl_loss_tmo,
                kato: conn.kato,
                ..Default::default()
            },
            hostid: hostid_for(host, &id.host_nqn),
            dhchap_secret: e.dhchap_secret.clone().or_else(|| host.key.clone()),
            dhchap_ctrl_secret: e.dhchap_ctrl_secret.clone(),
            tls: e.tls.clone(),
        },
        io: conf.params.clone(),
        id,
        origin: Origin::Config { line: e.line },
        boot: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::netif::IfInfo;
    use crate::sources::config::tests::TempDir;
    use std::path::Path;

    const HOSTNQN: &str = "nqn.2014-08.org.nvmexpress:uuid:7f0f6c1e-2b7e-4e3a-9c43-5a6d1b2c3d4e";
    const MPATH: &str = "NBFT-Dell.PowerEdge.R660-fw1.5.5-mpath+discovery";

    fn host(source: HostSource, nqn: &str) -> HostIdentity {
        HostIdentity {
            nqn: crate::model::identity::Value::new("nqn", nqn).unwrap(),
            id: HostId::parse("7f0f6c1e-2b7e-4e3a-9c43-5a6d1b2c3d4e"),
            key: None,
            symname: None,
            source,
        }
    }

    fn root_with(tag: &str, cmdline: &str, tables: &[&str]) -> TempDir {
        let d = TempDir::new(tag);
        d.write(rel::CMDLINE, cmdline.as_bytes());
        for (i, t) in tables.iter().enumerate() {
            let bytes = std::fs::read(format!("tests/fixtures/nbft/tables/{t}")).unwrap();
            let name = if i == 0 {
                "NBFT".to_string()
            } else {
                format!("NBFT{i}")
            };
            d.write(&format!("{}/{name}", rel::ACPI_TABLES), &bytes);
        }
        d
    }

    const ALL: Sources = Sources {
        nbft: true,
        cmdline: true,
        discovery: true,
    };

    #[test]
    fn uris() {
        let t = Transport::Tcp;
        assert_eq!(
            parse_uri("nvme+tcp://100.71.103.50:8009/"),
            Some((t, "100.71.103.50".into(), "8009".into()))
        );
        assert_eq!(
            parse_uri("nvme+tcp://[4321:BBBB::1]:4420/"),
            Some((t, "4321:bbbb::1".into(), "4420".into()))
        );
        assert_eq!(
            parse_uri("nvme+tcp://10.0.0.1/"),
            Some((t, "10.0.0.1".into(), "8009".into()))
        );
        assert_eq!(
            parse_uri("nvme+tcp://10.0.0.1"),
            Some((t, "10.0.0.1".into(), "8009".into()))
        );
        assert_eq!(
            parse_uri("nvme+tcp://[fe80::1]/"),
            Some((t, "fe80::1".into(), "8009".into()))
        );
        for bad in [
            "",
            "nvme://1.1.1.1/",
            "http://x/",
            "nvme+xyz://1.1.1.1/",
            "nvme+tcp:///",
            "nvme+tcp://1.1.1.1:x/",
            "nvme+tcp://[::1/",
            "nvme+tcp",
        ] {
            assert_eq!(parse_uri(bad), None, "{bad}");
        }
    }

    #[test]
    fn uuid_of_host_id() {
        let mut b = [0u8; 16];
        assert_eq!(uuid_text(&b), None);
        b[0] = 0x11;
        b[15] = 0xab;
        assert_eq!(
            uuid_text(&b).unwrap(),
            "11000000-0000-0000-0000-0000000000ab"
        );
    }

    #[test]
    fn nbft_paths_become_boot_controllers() {
        let d = root_with("boot-nbft", "quiet", &[MPATH]);
        let b = BootInputs::load(&Root::new(&d.0), ALL);
        assert_eq!(b.nbfts.len(), 1);
        assert!(
            b.infos[0].starts_with("NBFT location(s): "),
            "{:?}",
            b.infos
        );
        let early = b.early_hosts();
        assert_eq!(early.len(), 1);
        assert_eq!(early[0].source, HostSource::Nbft);
        let t = &b.nbfts[0].1;
        let nbft_nqn = t.host.as_ref().unwrap().nqn.clone();
        let h = host(HostSource::Nbft, &nbft_nqn);
        let conf = StacdConf::defaults(Path::new("/c"));
        // The first HFI's MAC names an interface: host-iface is set.
        let mac = t.hfis[0].mac;
        let net = IfAddrs::from_ifaces(vec![IfInfo {
            name: "nbft0".into(),
            index: 2,
            mac: Some(mac),
            ..Default::default()
        }]);
        let mut notes = Vec::new();
        let w = b.wanted(&conf, &h, &net, &mut notes);
        let paths: usize = t
            .subsystems
            .iter()
            .filter(|s| s.security.is_none() && s.subsys_nqn != DISCOVERY_NQN)
            .map(|s| s.hfis.len())
            .sum();
        assert!(paths > 0);
        // Paths on HFIs whose MAC names no interface are not wanted but
        // reported, each naming the MAC and the HFI.
        let missing = b.missing_paths(&conf, &net);
        assert_eq!(w.len() + missing.len(), paths, "{notes:?}");
        assert!(!missing.is_empty());
        let other = t.hfis[1].mac;
        assert!(
            missing.iter().all(|m| m.id.starts_with("(tcp, ")
                && m.why.contains(&format!(
                    "no network interface has the MAC {}",
                    crate::kernel::netcfg::mac_text(&other)
                ))
                && m.why.contains("firmware: namespace")),
            "{missing:?}"
        );
        // With both interfaces there, every path is wanted.
        let mut both = net.clone();
        both.ifaces.push(IfInfo {
            name: "nbft1".into(),
            index: 3,
            mac: Some(other),
            ..Default::default()
        });
        assert_eq!(b.wanted(&conf, &h, &both, &mut notes).len(), paths);
        assert!(b.missing_paths(&conf, &both).is_empty());
        // ignore-iface: every path, none missing.
        let mut ign = conf.clone();
        ign.ignore_iface = true;
        assert_eq!(b.wanted(&ign, &h, &net, &mut notes).len(), paths);
        assert!(b.missing_paths(&ign, &net).is_empty());
        let d = b.describe(&w[0].id, &net).expect("an NBFT path");
        assert!(
            d.starts_with("NBFT SSNS ") && d.contains(", nbft0); firmware: namespace "),
            "{d}"
        );
        for x in &w {
            assert!(x.boot);
            assert_eq!(x.origin, Origin::Nbft);
            assert_eq!(x.default_ctrl_loss_tmo(), -1);
            assert_eq!(x.params.conn.ctrl_loss_tmo, None);
            assert_eq!(x.id.host_nqn.as_str(), nbft_nqn);
            assert_eq!(x.id.transport, Transport::Tcp);
        }
        let with_iface = w
            .iter()
            .filter(|x| x.id.host_iface.as_str() == "nbft0")
            .count();
        let on_hfi0 = t
            .subsystems
            .iter()
            .filter(|s| s.hfis.contains(&t.hfis[0].index))
            .count();
        assert_eq!(with_iface, on_hfi0);
        // Discovery descriptors become discovery controllers.
        let dcs = b.discovery_targets(&conf, &h, &net, &mut notes);
        assert_eq!(dcs.len(), t.discovery.len());
        assert!(dcs.iter().all(|d| d.boot && d.origin == Origin::Nbft));
        assert_eq!(
            dcs[0].id.subsysnqn.as_str(),
            t.discovery[0].nqn.as_deref().unwrap_or(DISCOVERY_NQN)
        );
    }

    #[test]
    fn switches_and_cmdline_precedence() {
        let d = root_with(
            "boot-switch",
            "rd.nvmf.hostnqn=nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee \
             rd.nvmf.connect=tcp,127.0.0.1,nqn.sub1 rd.nvmf.discover=tcp,127.0.0.1,,8009 \
             rd.stacd.ctrl_loss_tmo=30 rd.stacd.kato=5 rd.nvmf.bogus",
            &[MPATH],
        );
        let root = Root::new(&d.0);
        let b = BootInputs::load(&root, ALL);
        assert_eq!(b.warnings.len(), 1, "{:?}", b.warnings);
        let early = b.early_hosts();
        assert_eq!(
            early.iter().map(|e| e.source).collect::<Vec<_>>(),
            [HostSource::Cmdline, HostSource::Nbft]
        );
        let cmd_nqn = "nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
        let h = host(HostSource::Cmdline, cmd_nqn);
        let conf = StacdConf::defaults(Path::new("/c"));
        let mut notes = Vec::new();
        let w = b.wanted(&conf, &h, &IfAddrs::default(), &mut notes);
        // The command line's NQN wins for every path, NBFT ones included.
        assert!(w.iter().all(|x| x.id.host_nqn.as_str() == cmd_nqn));
        assert_eq!(w[0].origin, Origin::Cmdline);
        assert_eq!(w[0].id.to_string(), "(tcp, 127.0.0.1, 4420, nqn.sub1)");
        assert!(w
            .iter()
            .all(|x| x.params.conn.ctrl_loss_tmo == Some(30) && x.params.conn.kato == Some(5)));
        let dcs = b.discovery_targets(&conf, &h, &IfAddrs::default(), &mut notes);
        assert_eq!(
            dcs[0].id.to_string(),
            format!("(tcp, 127.0.0.1, 8009, {DISCOVERY_NQN})")
        );
        assert_eq!(dcs[0].origin, Origin::Cmdline);

        // rd.nvmf.nonbft: the tables are not read.
        std::fs::write(
            d.0.join(rel::CMDLINE),
            "rd.nvmf.nonbft rd.nvmf.connect=tcp,1.1.1.1,nqn.x",
        )
        .unwrap();
        let b = BootInputs::load(&root, ALL);
        assert!(b.nbfts.is_empty());
        assert_eq!(
            b.wanted(&conf, &h, &IfAddrs::default(), &mut notes).len(),
            1
        );
        // rd.nonvmf: nothing at all.
        std::fs::write(
            d.0.join(rel::CMDLINE),
            "rd.nonvmf rd.nvmf.connect=tcp,1.1.1.1,nqn.x",
        )
        .unwrap();
        let b = BootInputs::load(&root, ALL);
        assert!(b.nbfts.is_empty() && b.early_hosts().is_empty());
        assert!(b
            .wanted(&conf, &h, &IfAddrs::default(), &mut notes)
            .is_empty());
        // Sources off by config/options.
        std::fs::write(
            d.0.join(rel::CMDLINE),
            "rd.nvmf.connect=tcp,1.1.1.1,nqn.x rd.nvmf.discover=tcp,1.1.1.1",
        )
        .unwrap();
        let off = Sources {
            nbft: false,
            cmdline: false,
            discovery: true,
        };
        let b = BootInputs::load(&root, off);
        assert!(
            b.nbfts.is_empty()
                && b.wanted(&conf, &h, &IfAddrs::default(), &mut notes)
                    .is_empty()
        );
        let no_disc = Sources {
            discovery: false,
            ..ALL
        };
        let b = BootInputs::load(&root, no_disc);
        let w = b.wanted(&conf, &h, &IfAddrs::default(), &mut notes);
        assert_eq!(w.iter().filter(|x| x.origin == Origin::Cmdline).count(), 1);
        assert!(b
            .discovery_targets(&conf, &h, &IfAddrs::default(), &mut notes)
            .is_empty());
        let mut c = StacdConf::defaults(Path::new("/c"));
        c.standalone.nbft = false;
        assert_eq!(
            Sources::new(&c, false, true, false),
            Sources {
                nbft: false,
                cmdline: false,
                discovery: true
            }
        );
    }

    #[test]
    fn stacd_controller_and_config_dcs() {
        let d = root_with(
            "boot-ctl",
            "rd.stacd.controller=transport=tcp,traddr=10.0.0.5,nqn=nqn.x,hdr-digest=true",
            &[],
        );
        let b = BootInputs::load(&Root::new(&d.0), ALL);
        let h = host(HostSource::EtcNvme, HOSTNQN);
        let conf = StacdConf::defaults(Path::new("/c"));
        let mut notes = Vec::new();
        let w = b.wanted(&conf, &h, &IfAddrs::default(), &mut notes);
        assert_eq!(w.len(), 1, "{notes:?}");
        assert!(w[0].boot && w[0].origin == Origin::Cmdline);
        assert_eq!(w[0].params.conn.hdr_digest, Some(true));
        assert_eq!(w[0].default_ctrl_loss_tmo(), -1);
        assert_eq!(w[0].params.conn.ctrl_loss_tmo, None);

        let (c, _) = crate::sources::config::parse_stacd_conf(
            "[Standalone]\ndiscovery-controller=traddr=10.0.0.9\n\
             discovery-controller=transport=tcp;traddr=10.0.0.9;trsvcid=4420;nqn=nqn.unique;host-iface=eth0\n\
             discovery-controller=transport=tcp;traddr=dc.example\n",
            Path::new("/s.conf"),
        )
        .unwrap();
        let dcs = config_discovery_targets(&c, &h, &mut notes);
        assert_eq!(dcs.len(), 2);
        assert_eq!(
            dcs[0].id.to_string(),
            format!("(tcp, 10.0.0.9, 8009, {DISCOVERY_NQN})")
        );
        assert_eq!(
            dcs[1].id.to_string(),
            "(tcp, 10.0.0.9, 4420, nqn.unique, eth0)"
        );
        assert!(!dcs[0].boot);
        assert_eq!(dcs[0].origin, Origin::Config { line: 2 });
        assert!(
            notes.iter().any(|n| n.contains(
                "/s.conf:4: discovery-controller ignored: dc.example is not an IP address"
            )),
            "{notes:?}"
        );
    }

    #[test]
    fn bad_tables_are_warned_and_skipped() {
        let d = TempDir::new("boot-bad");
        let bytes = std::fs::read("tests/fixtures/nbft/tables_bad/NBFT-random-noise").unwrap();
        d.write(&format!("{}/NBFT", rel::ACPI_TABLES), &bytes);
        let b = BootInputs::load(&Root::new(&d.0), ALL);
        assert!(b.nbfts.is_empty());
        assert_eq!(b.warnings.len(), 1);
        assert!(b.warnings[0].contains("table ignored"), "{:?}", b.warnings);
    }
}
