//! The `nbft-dump` text of a decoded table: libnvme's test tool
//! `test/nbft/nbft-dump.c`, field for field, so that our decoding can be
//! compared line by line with its reference dumps.

use super::records::*;
use std::fmt::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr};

impl Nbft {
    /// The table in libnvme's `nbft-dump` format: one `field=value` line per
    /// field, the fields and order of `test/nbft/nbft-dump.c`, hex fields
    /// printed byte by byte with `%x` (no zero padding), booleans as 0/1,
    /// absent strings as `(null)` (glibc's rendering of a NULL `%s`).
    /// Without a valid control descriptor only `raw_nbft_size` is printed
    /// (libnvme's tool would dereference its missing host ID).
    pub fn dump(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = self.write_dump(&mut out);
        out
    }

    fn write_dump(&self, o: &mut String) -> fmt::Result {
        writeln!(o, "raw_nbft_size={}", self.raw_size)?;
        let Some(host) = &self.host else {
            return Ok(());
        };
        writeln!(o, "host.id={}", Hex(&host.id))?;
        writeln!(o, "host.nqn={}", host.nqn)?;
        writeln!(
            o,
            "host.host_id_configured={}",
            u8::from(host.host_id_configured)
        )?;
        writeln!(
            o,
            "host.host_nqn_configured={}",
            u8::from(host.host_nqn_configured)
        )?;
        writeln!(o, "host.primary={}", host.primary as u8)?;

        for (i, h) in self.hfis.iter().enumerate() {
            let p = format!("hfi_list[{i}]->");
            writeln!(o, "{p}index={}", h.index)?;
            writeln!(o, "{p}transport={}", h.transport())?;
            writeln!(o, "{p}tcp_info.pci_sbdf={}", h.pci_sbdf)?;
            writeln!(o, "{p}tcp_info.mac_addr={}", Hex(&h.mac))?;
            writeln!(o, "{p}tcp_info.vlan={}", h.vlan)?;
            writeln!(o, "{p}tcp_info.ip_origin={}", h.ip_origin)?;
            writeln!(o, "{p}tcp_info.ipaddr={}", NtopIp(h.ip))?;
            writeln!(o, "{p}tcp_info.subnet_mask_prefix={}", h.subnet_mask_prefix)?;
            writeln!(o, "{p}tcp_info.gateway_ipaddr={}", NtopIp(h.gateway))?;
            writeln!(o, "{p}tcp_info.route_metric={}", h.route_metric)?;
            writeln!(
                o,
                "{p}tcp_info.primary_dns_ipaddr={}",
                NtopIp(h.primary_dns)
            )?;
            writeln!(
                o,
                "{p}tcp_info.secondary_dns_ipaddr={}",
                NtopIp(h.secondary_dns)
            )?;
            // libnvme leaves the text empty when DHCP Override is clear.
            match h.dhcp_server {
                Some(ip) => writeln!(o, "{p}tcp_info.dhcp_server_ipaddr={}", NtopIp(ip))?,
                None => writeln!(o, "{p}tcp_info.dhcp_server_ipaddr=")?,
            }
            writeln!(o, "{p}tcp_info.host_name={}", OrNull(&h.host_name))?;
            writeln!(
                o,
                "{p}tcp_info.this_hfi_is_default_route={}",
                u8::from(h.global_route)
            )?;
            writeln!(o, "{p}tcp_info.dhcp_override={}", u8::from(h.dhcp_override))?;
        }

        for (i, s) in self.security.iter().enumerate() {
            let p = format!("security_list[{i}]->");
            writeln!(o, "{p}index={}", s.index)?;
            writeln!(o, "{p}flags={}", s.flags)?;
            writeln!(o, "{p}secret_type={}", s.secret_type)?;
            writeln!(o, "{p}sec_chan_alg_len={}", s.sec_chan_alg.len())?;
            writeln!(o, "{p}auth_proto_len={}", s.auth_proto.len())?;
            writeln!(o, "{p}cipher_suite_len={}", s.cipher_suite.len())?;
            writeln!(o, "{p}dh_grp_len={}", s.dh_grp.len())?;
            writeln!(o, "{p}sec_hash_func_len={}", s.sec_hash_func.len())?;
            writeln!(o, "{p}sec_keypath={}", OrNull(&s.sec_keypath))?;
        }

        for (i, d) in self.discovery.iter().enumerate() {
            let p = format!("discovery_list[{i}]->");
            writeln!(o, "{p}index={}", d.index)?;
            if let Some(sec) = d.security {
                writeln!(o, "{p}security->index={sec}")?;
            }
            if let Some(hfi) = d.hfi {
                writeln!(o, "{p}hfi->index={hfi}")?;
            }
            writeln!(o, "{p}uri={}", d.uri)?;
            writeln!(o, "{p}nqn={}", OrNull(&d.nqn))?;
        }

        for (i, s) in self.subsystems.iter().enumerate() {
            let p = format!("subsystem_ns_list[{i}]->");
            writeln!(o, "{p}index={}", s.index)?;
            if let Some(disc) = s.discovery {
                writeln!(o, "{p}discovery->index={disc}")?;
            }
            if let Some(sec) = s.security {
                writeln!(o, "{p}security->index={sec}")?;
            }
            writeln!(o, "{p}num_hfis={}", s.hfis.len())?;
            for (j, hfi) in s.hfis.iter().enumerate() {
                writeln!(o, "{p}hfis[{j}]->index={hfi}")?;
            }
            writeln!(o, "{p}transport={}", s.transport())?;
            writeln!(o, "{p}traddr={}", NtopIp(s.traddr))?;
            writeln!(o, "{p}trsvcid={}", s.trsvcid)?;
            writeln!(o, "{p}subsys_port_id={}", s.subsys_port_id)?;
            writeln!(o, "{p}nsid={}", s.nsid)?;
            writeln!(o, "{p}nid_type={}", s.nid_type)?;
            writeln!(o, "{p}nid={}", Hex(&s.nid))?;
            writeln!(o, "{p}subsys_nqn={}", s.subsys_nqn)?;
            writeln!(
                o,
                "{p}pdu_header_digest_required={}",
                u8::from(s.pdu_header_digest_required)
            )?;
            writeln!(
                o,
                "{p}data_digest_required={}",
                u8::from(s.data_digest_required)
            )?;
            writeln!(o, "{p}controller_id={}", s.controller_id)?;
            writeln!(o, "{p}asqsz={}", s.asqsz)?;
            writeln!(o, "{p}dhcp_root_path_string={}", OrNull(&s.dhcp_root_path))?;
            writeln!(o, "{p}discovered={}", u8::from(s.discovered))?;
            writeln!(o, "{p}unavailable={}", u8::from(s.unavailable))?;
        }
        Ok(())
    }
}

/// Bytes as `nbft-dump.c` prints them: each with `%x`, no padding.
pub(super) struct Hex<'a>(pub(super) &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:x}"))
    }
}

/// A C string that may be NULL, as glibc's printf renders it.
pub(super) struct OrNull<'a>(&'a Option<String>);

impl fmt::Display for OrNull<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_deref().unwrap_or("(null)"))
    }
}

/// An address as glibc's `inet_ntop` writes it (libnvme formats with it):
/// IPv6 per RFC 5952 (lower-case hex, the first longest run of two or more
/// zero groups shortened to `::`) except that, like glibc's `inet_ntop6`, an
/// address whose first 96 bits are zero and whose longest zero run is
/// exactly those six groups ends in dotted IPv4 (`::1.2.3.4`). We format it
/// ourselves rather than through `Ipv6Addr`'s `Display`, which does not do
/// that. IPv4-mapped addresses never get here: they decode to
/// `IpAddr::V4`, as libnvme prints them.
pub(super) struct NtopIp(pub(super) IpAddr);

impl fmt::Display for NtopIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v6 = match self.0 {
            IpAddr::V4(v4) => return write!(f, "{v4}"),
            IpAddr::V6(v6) => v6,
        };
        let words = v6.segments();
        // Longest run of zero words; the first one wins a tie.
        let (mut best_start, mut best_len) = (0usize, 0usize);
        let mut run_start = 0usize;
        let mut run_len = 0usize;
        for (i, w) in words.iter().enumerate() {
            if *w == 0 {
                if run_len == 0 {
                    run_start = i;
                }
                run_len += 1;
                if run_len > best_len {
                    (best_start, best_len) = (run_start, run_len);
                }
            } else {
                run_len = 0;
            }
        }
        let compress = best_len >= 2;
        let mut i = 0;
        while i < words.len() {
            if compress && i == best_start {
                f.write_str(":")?;
                i += best_len;
                if i == words.len() {
                    f.write_str(":")?;
                }
                continue;
            }
            if i != 0 {
                f.write_str(":")?;
            }
            let embedded_v4 = compress
                && best_start == 0
                && (best_len == 6 || (best_len == 5 && words[5] == 0xffff));
            if i == 6 && embedded_v4 {
                let o = v6.octets();
                return write!(f, "{}", Ipv4Addr::new(o[12], o[13], o[14], o[15]));
            }
            write!(f, "{:x}", words[i])?;
            i += 1;
        }
        Ok(())
    }
}
