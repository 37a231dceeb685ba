//! Does a kernel controller serve a wanted identity? nvme-stas's adoption
//! rules (docs/design.md §4.4), as a pure function over an identity, a
//! [`crate::kernel::sysfs::KernelCtrl`] and the interface table.
//!
//! Identities compare literally ([`Identity`]'s `Eq`); this module is the
//! one place where a wanted controller is compared semantically (IP
//! spellings, the kernel's `src_addr`, interface addresses) with what the
//! kernel reports.

use crate::kernel::netif::{parse_ip, IfAddrs};
use crate::kernel::sysfs::KernelCtrl;
use crate::model::identity::{Identity, Transport, DISCOVERY_NQN};

/// Does the kernel controller `dev` serve `want` (§4.4, rules 1–7)?
pub fn matches(want: &Identity, dev: &KernelCtrl, net: &IfAddrs) -> bool {
    // Rule 1. fc/loop identities carry an empty trsvcid, as do the kernel's
    // fc/loop controllers (NVME_TRSVCID=none).
    if dev.transport != want.transport.as_str() || dev.trsvcid != want.trsvcid.as_str() {
        return false;
    }
    // docs/design.md D4 (host NQN): the identity's host NQN is the one we connect
    // with, so it is compared with the kernel's `hostnqn` attribute. A kernel
    // without that attribute (empty) cannot tell us: it matches any.
    if !dev.hostnqn.is_empty() && dev.hostnqn != want.host_nqn.as_str() {
        return false;
    }
    // Rule 2: the well-known discovery NQN is a wildcard (TP8013).
    if want.subsysnqn != DISCOVERY_NQN && dev.subsysnqn != want.subsysnqn.as_str() {
        return false;
    }
    // Rule 3.
    if !addr_eq(want.transport.is_ip(), &want.traddr, &dev.traddr) {
        return false;
    }
    match want.transport {
        Transport::Tcp => tcp_host_matches(want, dev, net),
        // Rule 5: always applied, so two empty values are equal.
        Transport::Fc => want.host_traddr.eq_ignore_ascii_case(&dev.host_traddr),
        // Rule 6.
        Transport::Rdma => {
            want.host_traddr.is_empty() || addr_eq(true, &want.host_traddr, &dev.host_traddr)
        }
        Transport::Loop => true,
    }
}

/// The first device in `devs` (scan order) that matches `want`, is an I/O
/// controller (`dev.is_io()`), is not dying (`dev.is_dying()`), and whose
/// name is not in `taken`.
pub fn find<'a>(
    want: &Identity,
    devs: &'a [KernelCtrl],
    taken: &dyn Fn(&str) -> bool,
    net: &IfAddrs,
) -> Option<&'a KernelCtrl> {
    devs.iter()
        .find(|d| d.is_io() && !d.is_dying() && !taken(&d.name) && matches(want, d, net))
}

/// Address equality: as IP addresses (IPv4-mapped equivalence, any IPv6
/// spelling) when `ip`, else case-insensitive text.
///
/// Deliberate tightening: the original treats two unparsable IP addresses
/// as equal whatever they say (both become `None`); here two unparsable
/// values are equal only if their text is, case-insensitively, so
/// `garbage-a` never adopts a device whose address is `garbage-b`.
fn addr_eq(ip: bool, a: &str, b: &str) -> bool {
    if !ip {
        return a.eq_ignore_ascii_case(b);
    }
    match (parse_ip(a, true), parse_ip(b, true)) {
        (Some(x), Some(y)) => x == y,
        (None, None) => a.eq_ignore_ascii_case(b),
        _ => false,
    }
}

/// Rule 4: tcp host-traddr / host-iface, checked only when the identity
/// names either.
fn tcp_host_matches(want: &Identity, dev: &KernelCtrl, net: &IfAddrs) -> bool {
    if want.host_traddr.is_empty() && want.host_iface.is_empty() {
        return true;
    }
    // An identity's host-traddr that is not an IP can equal no address.
    let want_ht = parse_ip(&want.host_traddr, true);
    if let Some(src) = parse_ip(&dev.src_addr, true) {
        // Kernel >= 6.1 with a live admin queue: src_addr is the connection's
        // real source address, and its owner the real interface.
        let ht_ok = want.host_traddr.is_empty() || want_ht == Some(src);
        let if_ok =
            want.host_iface.is_empty() || net.iface_of(src) == Some(want.host_iface.as_str());
        return ht_ok && if_ok;
    }
    // Legacy kernel (no src_addr): decide from what was given at connect
    // time, optimistically when the device says too little.
    let dev_ht = parse_ip(&dev.host_traddr, true);
    let optimistic = || {
        log::debug!(
            "{want} vs {}: not enough information; assuming a match, which could be wrong",
            dev.name
        );
        true
    };
    if !want.host_traddr.is_empty() {
        let ok = match (dev_ht, want_ht) {
            (Some(d), w) => w == Some(d),
            (None, _) if dev.host_iface.is_empty() => optimistic(),
            (None, None) => false,
            // The device's interface is known: its primary address of that
            // family is taken as the source; no address of that family on it
            // (or no such interface) cannot disprove the match.
            (None, Some(w)) => net
                .primary(&dev.host_iface, w.is_ipv6())
                .is_none_or(|p| p.to_canonical() == w),
        };
        if !ok {
            return false;
        }
    }
    if !want.host_iface.is_empty() {
        let ok = if !dev.host_iface.is_empty() {
            dev.host_iface == want.host_iface.as_str()
        } else if let Some(d) = dev_ht {
            net.iface_of(d) == Some(want.host_iface.as_str())
        } else {
            optimistic()
        };
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::netif::IfInfo;
    use crate::model::identity::bounded;

    const HOST: &str = "nqn.2014-08.org.nvmexpress:uuid:01234567-0123-0123-0123-0123456789ab";

    /// eth0: two IPv4 and two IPv6 addresses; eth1: one IPv4 address, no
    /// IPv6. Fixed, so results do not depend on this machine.
    fn net() -> IfAddrs {
        let v4 = |s: &str| s.parse().expect("address literal");
        let v6 = |s: &str| s.parse().expect("address literal");
        IfAddrs::from_ifaces(vec![
            IfInfo {
                name: "eth0".into(),
                index: 2,
                mac: None,
                v4: vec![v4("192.168.1.10"), v4("192.168.1.11")],
                v6: vec![v6("fe80::1"), v6("2001:db8::10")],
                ..Default::default()
            },
            IfInfo {
                name: "eth1".into(),
                index: 3,
                mac: None,
                v4: vec![v4("10.0.0.5")],
                v6: vec![],
                ..Default::default()
            },
        ])
    }

    /// Every (interface, address) pair of `net()` in one family.
    fn sources(v6: bool) -> Vec<(String, String)> {
        let mut v = Vec::new();
        for i in net().ifaces {
            let (n, a4, a6) = (i.name, i.v4, i.v6);
            if v6 {
                v.extend(a6.iter().map(|a| (n.clone(), a.to_string())));
            } else {
                v.extend(a4.iter().map(|a| (n.clone(), a.to_string())));
            }
        }
        v
    }

    fn s<const N: usize>(v: &str) -> crate::model::identity::Value<N> {
        bounded("test", v).expect("within kernel limits")
    }

    /// A tcp identity as §10.5 builds it: trsvcid 8009, subsysnqn `hello`.
    fn want(traddr: &str, host_traddr: &str, host_iface: &str) -> Identity {
        Identity::from_parts(crate::model::identity::IdParts {
            transport: Transport::Tcp,
            traddr: s(traddr),
            trsvcid: s("8009"),
            subsysnqn: s("hello"),
            host_traddr: s(host_traddr),
            host_iface: s(host_iface),
            host_nqn: s(HOST),
        })
    }

    /// Device D of §10.5 (`src` empty: Dl, a legacy kernel).
    fn dev(traddr: &str, host_traddr: &str, host_iface: &str, src: &str) -> KernelCtrl {
        KernelCtrl {
            name: "nvme0".into(),
            transport: "tcp".into(),
            traddr: traddr.into(),
            trsvcid: "8009".into(),
            subsysnqn: "hello".into(),
            hostnqn: HOST.into(),
            host_traddr: host_traddr.into(),
            host_iface: host_iface.into(),
            src_addr: src.into(),
            cntrltype: Some("io".into()),
            state: "live".into(),
            ..Default::default()
        }
    }

    // docs/design.md §10.5, table #1–#12, for every interface I and address S.
    #[test]
    fn table_against_d_and_dl() {
        for (v6, t, t_rev) in [
            (false, "1.2.3.4", "4.3.2.1"),
            (
                true,
                "FE80::aaaa:BBBB:cccc:dddd",
                "fe80::DDDD:cccc:bbbb:AAAA",
            ),
        ] {
            for (i, src) in sources(v6) {
                let i = i.as_str();
                let d = dev(t, &src, i, &src);
                let dl = dev(t, &src, i, "");
                let mut blah = d.clone();
                blah.transport = "blah".into();
                let mut rdma = want(t, &src, i);
                rdma.edit().transport = Transport::Rdma;
                let mut port = want(t, &src, i);
                port.edit().trsvcid = s("8010");
                let mut bob = want(t, &src, i);
                bob.edit().subsysnqn = s("bob");
                let cases: [(u32, Identity, bool); 12] = [
                    (1, want(t, &src, i), true),
                    (2, rdma, false),
                    (3, want(t_rev, &src, i), false),
                    (4, port, false),
                    (5, want(t, "255.255.255.255", i), false),
                    (6, want(t, &src, "blah"), false),
                    (7, bob, false),
                    (8, want(t, "", i), true),
                    (9, want(t, &src, ""), true),
                    (10, want(t, "", ""), true),
                    (11, want(t, &src, i), true),
                    (12, want(t, "", i), true),
                ];
                for (n, w, m) in cases {
                    assert_eq!(matches(&w, &d, &net()), m, "#{n} {i} {src} vs D");
                    assert_eq!(matches(&w, &dl, &net()), m, "#{n} {i} {src} vs Dl");
                }
                // #2 from the device side: a transport we do not know.
                assert!(!matches(&want(t, &src, i), &blah, &net()));
            }
        }
    }

    // §10.5 legacy cases A–G (device src_addr always empty).
    #[test]
    fn legacy_heuristics() {
        for (v6, t, other, other2) in [
            (false, "1.2.3.4", "1.1.1.1", "1.1.1.1"),
            (true, "FE80::aaaa:BBBB:cccc:dddd", "AAAA::FFFF", "AAA::BBBB"),
        ] {
            for (i, src) in sources(v6) {
                let i = i.as_str();
                let net = net();
                let none_none = dev(t, "", "", "");
                let none_i = dev(t, "", i, "");
                let s_none = dev(t, &src, "", "");
                let first = net.primary(i, v6).map(|a| a.to_string());
                let cases = [
                    ("A.1", want(t, other, ""), &none_none, true),
                    ("A.2", want(t, "", ""), &none_i, true),
                    ("B", want(t, other, ""), &s_none, false),
                    ("C", want(t, "", "blah"), &s_none, false),
                    ("D", want(t, "", i), &s_none, true),
                    ("E", want(t, other2, "blah"), &none_i, false),
                    ("F", want(t, other2, ""), &none_i, false),
                    // G: the interface's primary address of the family.
                    (
                        "G",
                        want(t, first.as_deref().unwrap_or(""), ""),
                        &none_i,
                        true,
                    ),
                ];
                for (n, w, d, m) in cases {
                    assert_eq!(matches(&w, d, &net), m, "{n} v6={v6} {i} {src}");
                }
            }
        }
        // G with a non-primary address of the interface: no.
        let d = dev("1.2.3.4", "", "eth0", "");
        assert!(!matches(&want("1.2.3.4", "192.168.1.11", ""), &d, &net()));
        assert!(matches(
            &want("1.2.3.4", "::ffff:192.168.1.10", ""),
            &d,
            &net()
        ));
        assert!(!matches(&want("1.2.3.4", "2001:db8::10", ""), &d, &net()));
        // eth1 has no IPv6 address and eth9 does not exist: optimistic.
        let d1 = dev("1.2.3.4", "", "eth1", "");
        assert!(matches(&want("1.2.3.4", "2001:db8::99", ""), &d1, &net()));
        let d9 = dev("1.2.3.4", "", "eth9", "");
        assert!(matches(&want("1.2.3.4", "10.0.0.5", ""), &d9, &net()));
        // An unparsable identity host-traddr equals no address.
        assert!(!matches(&want("1.2.3.4", "bogus", ""), &d1, &net()));
        assert!(!matches(
            &want("1.2.3.4", "bogus", ""),
            &dev("1.2.3.4", "10.0.0.5", "", ""),
            &net()
        ));
        // A device host-traddr owned by no interface cannot be host-iface eth0.
        let far = dev("1.2.3.4", "172.16.0.1", "", "");
        assert!(!matches(&want("1.2.3.4", "", "eth0"), &far, &net()));
    }

    #[test]
    fn src_addr_decides_on_new_kernels() {
        // Connected without host-traddr/host-iface; the kernel picked eth1.
        let d = dev("1.2.3.4", "", "", "10.0.0.5");
        assert!(matches(&want("1.2.3.4", "10.0.0.5", "eth1"), &d, &net()));
        assert!(matches(&want("1.2.3.4", "::ffff:10.0.0.5", ""), &d, &net()));
        assert!(!matches(&want("1.2.3.4", "", "eth0"), &d, &net()));
        assert!(!matches(&want("1.2.3.4", "192.168.1.10", ""), &d, &net()));
        // src_addr owned by no interface (address since removed).
        let gone = dev("1.2.3.4", "", "", "172.16.0.1");
        assert!(!matches(&want("1.2.3.4", "", "eth0"), &gone, &net()));
    }

    #[test]
    fn fc_rdma_loop() {
        let fc_dev = KernelCtrl {
            transport: "fc".into(),
            traddr: "ABC".into(),
            subsysnqn: "hello".into(),
            host_traddr: "AAA::BBBB".into(),
            ..Default::default()
        };
        let mut fc = want("abc", "AAA::BBBB", "");
        fc.edit().transport = Transport::Fc;
        fc.edit().trsvcid = s("");
        assert!(matches(&fc, &fc_dev, &net()));
        fc.edit().host_traddr = s("aaa::bbbb");
        assert!(matches(&fc, &fc_dev, &net()));
        fc.edit().host_traddr = s("BBBB::AAA");
        assert!(!matches(&fc, &fc_dev, &net()));
        fc.edit().host_traddr = s("");
        assert!(!matches(&fc, &fc_dev, &net()));

        let rdma_dev = KernelCtrl {
            transport: "rdma".into(),
            traddr: "2.3.4.5".into(),
            trsvcid: "4444".into(),
            subsysnqn: "hello".into(),
            host_traddr: "5.4.3.2".into(),
            ..Default::default()
        };
        let mut rdma = want("2.3.4.5", "5.4.3.2", "");
        rdma.edit().transport = Transport::Rdma;
        rdma.edit().trsvcid = s("4444");
        assert!(matches(&rdma, &rdma_dev, &net()));
        rdma.edit().host_traddr = s("5.5.6.6");
        assert!(!matches(&rdma, &rdma_dev, &net()));
        rdma.edit().host_traddr = s("");
        assert!(matches(&rdma, &rdma_dev, &net()));

        let loop_dev = KernelCtrl {
            transport: "loop".into(),
            subsysnqn: "hello".into(),
            host_traddr: "whatever".into(),
            ..Default::default()
        };
        let mut lp = want("", "", "");
        lp.edit().transport = Transport::Loop;
        lp.edit().trsvcid = s("");
        assert!(matches(&lp, &loop_dev, &net()));
        lp.edit().trsvcid = s("4420");
        assert!(!matches(&lp, &loop_dev, &net()));
    }

    #[test]
    fn addresses_nqns_and_spellings() {
        let d = dev("FE80::AAAA:bbbb:0:1", "", "", "");
        assert!(matches(&want("fe80::aaaa:BBBB:0:1", "", ""), &d, &net()));
        assert!(matches(
            &want("fe80:0:0:0:aaaa:bbbb:0:0001", "", ""),
            &d,
            &net()
        ));
        assert!(matches(
            &want("1.2.3.4", "", ""),
            &dev("::ffff:1.2.3.4", "", "", ""),
            &net()
        ));
        // Unparsable on both sides: equal only as text (a tightening, see addr_eq).
        assert!(matches(
            &want("Host-A", "", ""),
            &dev("host-a", "", "", ""),
            &net()
        ));
        assert!(!matches(
            &want("host-a", "", ""),
            &dev("host-b", "", "", ""),
            &net()
        ));
        assert!(!matches(
            &want("1.2.3.4", "", ""),
            &dev("host-a", "", "", ""),
            &net()
        ));

        // Host NQN: exact, unless the kernel shows none.
        let mut other = dev("1.2.3.4", "", "", "");
        other.hostnqn = "nqn.2014-08.org.nvmexpress:uuid:other".into();
        assert!(!matches(&want("1.2.3.4", "", ""), &other, &net()));
        other.hostnqn.clear();
        assert!(matches(&want("1.2.3.4", "", ""), &other, &net()));

        // The discovery NQN in the identity matches any subsystem NQN.
        let mut disc = want("1.2.3.4", "", "");
        disc.edit().subsysnqn = s(DISCOVERY_NQN);
        assert!(matches(&disc, &dev("1.2.3.4", "", "", ""), &net()));
        let mut d2 = dev("1.2.3.4", "", "", "");
        d2.subsysnqn = DISCOVERY_NQN.into();
        assert!(!matches(&want("1.2.3.4", "", ""), &d2, &net()));
    }

    // §10.5 device classification, as `find` relies on it.
    #[test]
    fn classification() {
        let mut d = KernelCtrl {
            has_namespaces: true,
            ..Default::default()
        };
        assert!(d.is_io());
        d.has_namespaces = false;
        assert!(!d.is_io());
        d.cntrltype = Some("io".into());
        assert!(d.is_io());
        d.cntrltype = Some("discovery".into());
        d.has_namespaces = true;
        assert!(!d.is_io());
    }

    #[test]
    fn find_skips_taken_dying_and_non_io() {
        let w = want("1.2.3.4", "", "");
        let mk = |name: &str, state: &str, ty: &str| {
            let mut d = dev("1.2.3.4", "", "", "");
            d.name = name.into();
            d.state = state.into();
            d.cntrltype = Some(ty.into());
            d
        };
        let devs = [
            mk("nvme0", "live", "discovery"),
            mk("nvme1", "deleting (no IO)", "io"),
            mk("nvme2", "dead", "io"),
            mk("nvme3", "live", "io"),
            mk("nvme4", "connecting", "io"),
        ];
        let none = |_: &str| false;
        assert_eq!(
            find(&w, &devs, &none, &net()).map(|d| d.name.as_str()),
            Some("nvme3")
        );
        let taken = |n: &str| n == "nvme3";
        assert_eq!(
            find(&w, &devs, &taken, &net()).map(|d| d.name.as_str()),
            Some("nvme4")
        );
        let all = |_: &str| true;
        assert_eq!(find(&w, &devs, &all, &net()), None);
        assert_eq!(find(&want("4.3.2.1", "", ""), &devs, &none, &net()), None);
    }
}
