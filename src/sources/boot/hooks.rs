//! What the initramfs hooks ask the binary, so that they parse nothing
//! themselves (docs/boot-integration.md, "The hooks are glue"):
//!
//! * [`plan`] (`stacd --boot-plan`): does this boot have NVMe-oF targets,
//!   does the image's network module have to bring interfaces up, does
//!   `stacd --boot-net` configure the NBFT's interfaces, and which ones;
//!   printed as shell assignments ([`BootPlan::shell`]) for `eval`;
//! * [`print_cmdline`] (`stacd --boot-cmdline MAJ:MIN`): the kernel command
//!   line that boots from the NVMe-oF controllers under a block device, for
//!   host-only images (dracut's `cmdline()`).

use crate::app::exit::{self, Fatal};
use crate::base::root::{rel, Root};
use crate::model::identity::Transport;
use crate::sources::boot::BootInputs;
use crate::sources::config::StacdConf;
use std::net::IpAddr;

/// The answers, see [`BootPlan::shell`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootPlan {
    pub active: bool,
    /// Boot targets named by the command line, the NBFT and the image's
    /// stacd.conf (each `rd.nvmf.*`/`rd.stacd.controller`, NBFT path,
    /// discovery descriptor or configured controller counts once).
    pub targets: usize,
    /// The image's network module must bring interfaces up (`rd.neednet=1`
    /// in dracut, `configure_networking` in initramfs-tools).
    pub need_net: bool,
    /// `stacd --boot-net` has NBFT interfaces to configure.
    pub nbft_net: bool,
    /// The MACs of those interfaces.
    pub macs: Vec<String>,
    /// One sentence on the decision, for the hook's log line.
    pub why: String,
}

/// A connect to `traddr` over `transport` needs a configured network
/// interface: fc does not, nor does loopback.
fn needs_net(transport: Transport, traddr: &str) -> bool {
    if matches!(transport, Transport::Fc | Transport::Loop) {
        return false;
    }
    match traddr.trim_matches(['[', ']']).parse::<IpAddr>() {
        Ok(ip) => !ip.is_loopback(),
        Err(_) => traddr != "localhost",
    }
}

/// The plan of a boot from `b` (the command line and the NBFT as loaded)
/// and `conf` (a stacd.conf copied into the image).
pub fn plan(b: &BootInputs, conf: &StacdConf) -> BootPlan {
    let c = &b.cmdline;
    let cmd_on = b.sources.is_some_and(|s| s.cmdline) && c.active();
    let active = !b.sources.is_some_and(|s| s.cmdline) || c.active();
    let mut p = BootPlan {
        active,
        ..Default::default()
    };
    if !active {
        p.why = if c.nonvmf {
            "rd.nonvmf".into()
        } else {
            "rd.stacd=0".into()
        };
        return p;
    }
    let mut net_targets = 0;
    let mut count = |t: Transport, a: &str, p: &mut BootPlan| {
        p.targets += 1;
        if needs_net(t, a) {
            net_targets += 1;
        }
    };
    if cmd_on {
        for t in c.connect.iter().chain(&c.discover) {
            count(t.transport, &t.traddr, &mut p);
        }
        for e in &c.stacd.controllers {
            let t = Transport::parse(&e.transport).unwrap_or(Transport::Tcp);
            count(t, &e.traddr, &mut p);
        }
    }
    for e in conf
        .controllers
        .iter()
        .chain(&conf.standalone.discovery_controllers)
    {
        let t = Transport::parse(&e.transport).unwrap_or(Transport::Tcp);
        count(t, &e.traddr, &mut p);
    }
    for (_, t) in &b.nbfts {
        p.targets += t.subsystems.iter().map(|s| s.hfis.len()).sum::<usize>();
        p.targets += t.discovery.len();
    }
    let nbft_allowed = !cmd_on || c.stacd.nbft_net;
    let mut notes = Vec::new();
    let hfis = b.hfi_nets(&mut notes);
    p.nbft_net = nbft_allowed && !hfis.is_empty();
    p.macs = hfis
        .iter()
        .map(|h| crate::kernel::netcfg::mac_text(&h.mac))
        .collect();
    p.macs.dedup();
    // The image's network module is asked only for targets of the command
    // line or stacd.conf that need a network, and then only if ip= says how
    // or no NBFT does: with an NBFT and no ip=, dracut would run DHCP on
    // every interface and block its loop (docs/boot-integration.md).
    let ip = cmd_on && !c.ip.is_empty();
    p.need_net = net_targets > 0 && (ip || !p.nbft_net);
    p.why = match (p.need_net, p.nbft_net) {
        (true, true) => "the command line's targets need the network (ip=); stacd configures the NBFT's interfaces".into(),
        (true, false) => "targets need the network".into(),
        (false, true) => "stacd configures the NBFT's interfaces itself".into(),
        (false, false) if p.targets > 0 => "no target needs a network interface".into(),
        (false, false) => "no NVMe-oF boot target".into(),
    };
    p
}

/// Shell-quote `v` in single quotes.
fn q(v: &str) -> String {
    format!("'{}'", v.replace('\'', r"'\''"))
}

impl BootPlan {
    /// `KEY=VALUE` lines for `eval` in a POSIX shell:
    ///
    /// ```text
    /// STACD_ACTIVE=1       # 0: rd.nonvmf or rd.stacd=0
    /// STACD_TARGETS=2      # boot targets named
    /// STACD_NEED_NET=0     # the image's network module must bring interfaces up
    /// STACD_NBFT_NET=1     # stacd --boot-net configures the NBFT's interfaces
    /// STACD_HFI_MACS='52:54:00:aa:00:01'
    /// STACD_WHY='...'
    /// ```
    pub fn shell(&self) -> String {
        format!(
            "STACD_ACTIVE={}\nSTACD_TARGETS={}\nSTACD_NEED_NET={}\nSTACD_NBFT_NET={}\nSTACD_HFI_MACS={}\nSTACD_WHY={}\n",
            u8::from(self.active),
            self.targets,
            u8::from(self.need_net),
            u8::from(self.nbft_net),
            q(&self.macs.join(" ")),
            q(&self.why)
        )
    }
}

/// Read one sysfs attribute, trimmed.
fn attr(dir: &std::path::Path, name: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(name))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// `rd.nvmf.connect=` for every fabrics controller (tcp, rdma, fc) under
/// block device `majmin`: a namespace's `device` is its controller, or
/// with native multipath its subsystem, which lists one `nvmeN` per path
/// (drivers/nvme/host/multipath.c); a partition's is one level up.
pub fn connect_args(root: &Root, majmin: &str) -> Vec<String> {
    let base = root.path(&format!("sys/dev/block/{majmin}"));
    let mut dirs = Vec::new();
    for d in [base.join("device"), base.join("../device")] {
        dirs.push(d.clone());
        if let Ok(rd) = std::fs::read_dir(&d) {
            let mut more: Vec<_> = rd
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                        n.starts_with("nvme")
                            && n[4..].bytes().all(|b| b.is_ascii_digit())
                            && n.len() > 4
                    })
                })
                .collect();
            more.sort_unstable();
            dirs.extend(more);
        }
    }
    let mut out = Vec::new();
    for d in dirs {
        let (Some(t), Some(a), Some(nqn)) = (
            attr(&d, "transport"),
            attr(&d, "address"),
            attr(&d, "subsysnqn"),
        ) else {
            continue;
        };
        if !matches!(t.as_str(), "tcp" | "rdma" | "fc") {
            continue;
        }
        // "traddr=A,trsvcid=S,host_traddr=H,src_addr=..." (drivers/nvme/host/fabrics.c, nvmf_get_address)
        let get = |k: &str| {
            a.split(',')
                .find_map(|kv| kv.strip_prefix(k).and_then(|v| v.strip_prefix('=')))
                .unwrap_or("")
                .to_string()
        };
        let (traddr, svc, host) = (get("traddr"), get("trsvcid"), get("host_traddr"));
        if traddr.is_empty() {
            continue;
        }
        let host = if host.is_empty() {
            String::new()
        } else {
            format!(",{host}")
        };
        let arg = format!("rd.nvmf.connect={t},{traddr},{nqn},{svc}{host}");
        if !out.contains(&arg) {
            out.push(arg);
        }
    }
    out
}

/// `--boot-cmdline MAJ:MIN...`: the host identity (`/etc/nvme/hostnqn`,
/// `hostid`) and [`connect_args`] of each device, on one line. Exit 1 when
/// no device sits on a fabrics controller.
pub fn print_cmdline(root: &Root, devs: &[String]) -> Result<u8, Fatal> {
    let mut args = Vec::new();
    for (k, f) in [
        ("rd.nvmf.hostnqn", rel::HOSTNQN),
        ("rd.nvmf.hostid", rel::HOSTID),
    ] {
        if let Some(v) = std::fs::read_to_string(root.path(f))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty() && !s.contains(char::is_whitespace))
        {
            args.push(format!("{k}={v}"));
        }
    }
    let mut any = false;
    for d in devs {
        if !d.split_once(':').is_some_and(|(a, b)| {
            !a.is_empty() && !b.is_empty() && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit())
        }) {
            return Err(Fatal::Usage(format!(
                "--boot-cmdline {d:?}: expected MAJOR:MINOR"
            )));
        }
        for a in connect_args(root, d) {
            any = true;
            if !args.contains(&a) {
                args.push(a);
            }
        }
    }
    crate::say!("{}", args.join(" "));
    Ok(if any { exit::OK } else { exit::RUNTIME })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::boot::Sources;
    use crate::sources::config::tests::TempDir;
    use std::path::Path;

    fn plan_of(cmdline: &str, nbft: Option<&str>) -> BootPlan {
        let d = TempDir::new("bootplan");
        d.write(rel::CMDLINE, cmdline.as_bytes());
        if let Some(t) = nbft {
            let b = std::fs::read(format!("tests/fixtures/nbft/tables/{t}")).unwrap();
            d.write(&format!("{}/NBFT", rel::ACPI_TABLES), &b);
        }
        let all = Sources {
            nbft: true,
            cmdline: true,
            discovery: true,
        };
        let b = BootInputs::load(&Root::new(&d.0), all);
        let conf = StacdConf::defaults(Path::new("/c"));
        plan(&b, &conf)
    }

    #[test]
    fn who_brings_the_network_up() {
        let p = plan_of("quiet", None);
        assert!(p.active && p.targets == 0 && !p.need_net && !p.nbft_net);
        assert!(!plan_of("rd.nonvmf rd.nvmf.connect=tcp,10.0.0.1,nqn.x", None).active);
        assert!(!plan_of("rd.stacd=0", None).active);
        // Every spelling the binary's parser knows, one place (dracut's
        // getargbool: 0, no, off are false).
        assert!(plan_of("rd.nonvmf=0 rd.stacd=1", None).active);
        assert!(plan_of("rd.nonvmf=no", None).active);
        assert!(!plan_of("rd.stacd=off", None).active);
        let p = plan_of("rd.nvmf.connect=tcp,127.0.0.1,nqn.x", None);
        assert_eq!((p.targets, p.need_net), (1, false), "loopback");
        let p = plan_of(
            "rd.nvmf.connect=tcp,[::1],nqn.x rd.nvmf.discover=fc,nn-1:pn-2,nn-3:pn-4",
            None,
        );
        assert_eq!((p.targets, p.need_net), (2, false), "loopback and fc");
        let p = plan_of(
            "ip=192.168.50.2::192.168.50.1:24::eth0:off rd.nvmf.connect=tcp,192.168.50.1,nqn.x",
            None,
        );
        assert!(p.need_net && !p.nbft_net);
        // No ip= and no NBFT: the network module's default (DHCP).
        assert!(plan_of("rd.nvmf.connect=tcp,192.168.50.1,nqn.x", None).need_net);
        // The NBFT alone: stacd, not the network module.
        let p = plan_of("quiet", Some("NBFT-static-ipv4"));
        assert!(p.nbft_net && !p.need_net && p.targets > 0, "{p:?}");
        assert_eq!(p.macs.len(), 1);
        // NBFT and a command-line target without ip=: still stacd alone.
        let p = plan_of(
            "rd.nvmf.connect=tcp,10.9.9.9,nqn.x",
            Some("NBFT-static-ipv4"),
        );
        assert!(p.nbft_net && !p.need_net);
        let p = plan_of(
            "ip=dhcp rd.nvmf.connect=tcp,10.9.9.9,nqn.x",
            Some("NBFT-static-ipv4"),
        );
        assert!(p.nbft_net && p.need_net);
        // rd.stacd.nbft.net=0 and rd.nvmf.nonbft: no NBFT network.
        let p = plan_of("rd.stacd.nbft.net=0", Some("NBFT-static-ipv4"));
        assert!(!p.nbft_net);
        assert_eq!(
            plan_of("rd.nvmf.nonbft", Some("NBFT-static-ipv4")).targets,
            0
        );
        let sh = plan_of("quiet", Some("NBFT-static-ipv4")).shell();
        assert!(
            sh.contains("\nSTACD_NBFT_NET=1\n") && sh.starts_with("STACD_ACTIVE=1\n"),
            "{sh}"
        );
        assert_eq!(q("it's"), r"'it'\''s'");
    }

    #[test]
    fn cmdline_of_a_multipath_namespace() {
        let d = TempDir::new("bootcmd");
        let sys = |p: &str| format!("sys/devices/virtual/nvme-subsystem/nvme-subsys0/{p}");
        for (c, addr) in [
            (
                "nvme0",
                "traddr=192.168.50.1,trsvcid=4420,src_addr=192.168.50.2",
            ),
            (
                "nvme1",
                "traddr=fd00:51::1,trsvcid=4420,host_traddr=fd00:51::2",
            ),
        ] {
            d.write(&sys(&format!("{c}/transport")), b"tcp\n");
            d.write(
                &sys(&format!("{c}/address")),
                format!("{addr}\n").as_bytes(),
            );
            d.write(
                &sys(&format!("{c}/subsysnqn")),
                b"nqn.2024-01.io.testbed:root\n",
            );
        }
        std::fs::create_dir_all(d.0.join(sys("nvme0n1"))).unwrap();
        std::fs::create_dir_all(d.0.join("sys/dev/block")).unwrap();
        std::os::unix::fs::symlink(d.0.join(sys("nvme0n1")), d.0.join("sys/dev/block/259:0"))
            .unwrap();
        std::os::unix::fs::symlink(d.0.join(sys("")), d.0.join(sys("nvme0n1/device"))).unwrap();
        let a = connect_args(&Root::new(&d.0), "259:0");
        assert_eq!(
            a,
            [
                "rd.nvmf.connect=tcp,192.168.50.1,nqn.2024-01.io.testbed:root,4420",
                "rd.nvmf.connect=tcp,fd00:51::1,nqn.2024-01.io.testbed:root,4420,fd00:51::2"
            ]
        );
        assert!(connect_args(&Root::new(&d.0), "8:0").is_empty());
    }
}
