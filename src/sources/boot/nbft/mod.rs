//! NVMe Boot Firmware Table (ACPI signature `NBFT`) decoding.
//!
//! Owns: turning the bytes of one `/sys/firmware/acpi/tables/NBFT*` file
//! into typed, owned values ([`parse`]), reading every such file of a
//! directory ([`read_all`]), and a text dump in the exact format of libnvme's
//! test tool `test/nbft/nbft-dump.c` ([`Nbft::dump`]), so that our decoding
//! can be compared line by line with libnvme's reference decodings
//! (`tests/fixtures/nbft/diffs/`).
//!
//! Layout: NVM Express Boot Specification 1.0, Figures 5-24 (header,
//! control, host, HFI, HFI transport info for TCP, SSNS, SSNS extended info,
//! security profile and discovery descriptors); offsets, sizes and flag bits
//! cross-checked against libnvme `src/nvme/nbft.h`. Integers are
//! little-endian. Strings and lists live in the table's heap and are found
//! through "heap object references" (a 32-bit offset from the start of the
//! table and a 16-bit length; length 0 means "absent").
//!
//! What is checked, and what a failed check costs, follows libnvme's
//! `src/nvme/nbft.c` (`parse_raw_nbft` and the `read_*` helpers), so a table
//! yields the same content here as in nvme-cli and dracut:
//!
//! * table-level faults reject the whole table with an [`NbftError`]: too
//!   short, signature, length field, checksum, revision other than 1.0, heap
//!   outside the table, control descriptor with the wrong structure ID, a
//!   host descriptor that is out of bounds, not valid, of the wrong structure
//!   ID or without a host NQN, and a descriptor list that does not fit in the
//!   table;
//! * a faulty HFI, security, discovery or SSNS descriptor is left out, as
//!   libnvme leaves it out, and the reason is kept in [`Nbft::problems`] for
//!   the caller to log; a cross reference that names no descriptor
//!   (e.g. an SSNS's discovery index) is dropped the same way and recorded
//!   there too — every index left in the decoded values names a descriptor
//!   that is present;
//! * descriptors whose Valid flag is clear are "reserved" per the spec and are
//!   skipped without a problem;
//! * a table whose control descriptor is not valid decodes to no host and no
//!   descriptors (libnvme returns success with nothing in it).
//!
//! Deliberate differences from libnvme; none changes the decoding of any
//! fixture table (tests/nbft.rs checks every one against libnvme's dump):
//!
//! * every read is bounds-checked: libnvme reads the fixed-size transport
//!   info, extended info and 16-byte transport address at heap offsets
//!   without checking that the heap object is that long, and reads the byte
//!   after a string object; we require the object to hold what we read, and
//!   the terminating NUL of a string to be inside the table;
//! * a descriptor list is stepped through by the descriptor length the
//!   control descriptor gives (HFIL, SSNSL, SECL, DISCL — the spec's
//!   meaning of those fields), which must be at least the 1.0 size; libnvme
//!   steps by its compiled structure size. Every known table has lengths
//!   equal to the 1.0 sizes;
//! * the checksum covers the table's `Length` bytes (ACPI 6.5 §5.2.6);
//!   libnvme sums the whole file, which is the same bytes for sysfs files;
//! * an SSNS without a Secondary HFI Associations object is kept (the spec
//!   makes it optional; libnvme drops the SSNS), and a discovery descriptor
//!   without an NQN is kept with `nqn: None` (the spec says to use the
//!   well-known discovery NQN; libnvme drops the descriptor);
//! * strings must be UTF-8 (NQNs are UTF-8 per the NVMe base specification);
//! * a zero byte in the secondary HFI list names no HFI and is ignored
//!   (libnvme counts it in `num_hfis`); the dump lists every associated HFI
//!   (libnvme's dump stops at the first duplicate or unknown secondary HFI
//!   it skipped, because that leaves a hole in its NULL-terminated list).

use std::fmt::{self, Write as _};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

/// ACPI table signature (Boot Spec Figure 8).
pub const SIGNATURE: [u8; 4] = *b"NBFT";

/// HFI and SSNS transport type NVMe/TCP (Figure 7), the only one defined.
pub const TRTYPE_TCP: u8 = 3;

// Sizes of the revision 1.0 structures (Figures 8-24).
const HEADER_SIZE: usize = 64;
const CONTROL_SIZE: usize = 64;
const HOST_SIZE: usize = 32;
const HFI_SIZE: usize = 32;
/// The TCP transport info descriptor is 128 bytes; what we read ends with
/// the Host Name heap object reference at 104..110.
const HFI_TCP_NEEDED: usize = 110;
const SSNS_SIZE: usize = 128;
const SSNS_EXT_SIZE: usize = 18;
const SECURITY_SIZE: usize = 64;
const DISCOVERY_SIZE: usize = 32;
/// IP addresses are 16 bytes, IPv4 stored IPv4-mapped (::ffff:a.b.c.d).
const IP_SIZE: usize = 16;

// Structure IDs (Figure 5).
const ID_CONTROL: u8 = 1;
const ID_HOST: u8 = 2;
const ID_HFI: u8 = 3;
const ID_SSNS: u8 = 4;
const ID_SECURITY: u8 = 5;
const ID_DISCOVERY: u8 = 6;
const ID_HFI_TRINFO: u8 = 7;
const ID_SSNS_EXT_INFO: u8 = 9;

/// Bit 0 of every descriptor's flags: Descriptor Valid.
const VALID: u8 = 1 << 0;

/// Host descriptor flags (Figure 9).
pub const HOST_VALID: u8 = 1 << 0;
pub const HOST_HOSTID_CONFIGURED: u8 = 1 << 1;
pub const HOST_HOSTNQN_CONFIGURED: u8 = 1 << 2;
pub const HOST_PRIMARY_ADMIN_MASK: u8 = 0x18;
const HOST_PRIMARY_ADMIN_SHIFT: u8 = 3;

/// HFI transport info (TCP) flags (Figure 13).
pub const HFI_TCP_VALID: u8 = 1 << 0;
pub const HFI_TCP_GLOBAL_ROUTE: u8 = 1 << 1;
pub const HFI_TCP_DHCP_OVERRIDE: u8 = 1 << 2;

/// SSNS flags (Figure 16).
pub const SSNS_VALID: u16 = 1 << 0;
pub const SSNS_NON_BOOTABLE_ENTRY: u16 = 1 << 1;
pub const SSNS_USE_SECURITY_FIELD: u16 = 1 << 2;
pub const SSNS_DHCP_ROOT_PATH_OVERRIDE: u16 = 1 << 3;
pub const SSNS_EXTENDED_INFO_IN_USE: u16 = 1 << 4;
pub const SSNS_SEPARATE_DISCOVERY_CTRL: u16 = 1 << 5;
pub const SSNS_DISCOVERED_NAMESPACE: u16 = 1 << 6;
pub const SSNS_UNAVAIL_NAMESPACE_MASK: u16 = 0x0180;
/// Value under the mask: unavailable when the pre-OS driver tried.
pub const SSNS_UNAVAIL_NAMESPACE_UNAVAIL: u16 = 0x0100;

/// SSNS transport-specific flags (Figure 17).
pub const SSNS_TRFLAG_VALID: u16 = 1 << 0;
pub const SSNS_PDU_HEADER_DIGEST: u16 = 1 << 1;
pub const SSNS_DATA_DIGEST: u16 = 1 << 2;

/// SSNS extended info flags (Figure 19).
const SSNS_EXT_INFO_VALID: u32 = 1 << 0;
const SSNS_EXT_INFO_ADMIN_ASQSZ: u32 = 1 << 1;

/// Namespace identifier types (NVMe base spec, Namespace Identification
/// Descriptor NIDT), as stored in [`SubsystemNs::nid_type`].
pub const NID_TYPE_NONE: u8 = 0;
pub const NID_TYPE_EUI64: u8 = 1;
pub const NID_TYPE_NGUID: u8 = 2;
pub const NID_TYPE_UUID: u8 = 3;

/// One decoded NBFT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nbft {
    /// Size of the bytes given to [`parse`] (libnvme's `raw_nbft_size`).
    pub raw_size: usize,
    pub header: Header,
    /// `None` when the control descriptor's Valid flag is clear: the table
    /// then carries no boot configuration at all.
    pub host: Option<Host>,
    pub hfis: Vec<Hfi>,
    pub security: Vec<Security>,
    pub discovery: Vec<Discovery>,
    pub subsystems: Vec<SubsystemNs>,
    /// Descriptors or cross references left out because they were faulty,
    /// in table order; empty for a clean table.
    pub problems: Vec<NbftError>,
}

/// The ACPI header (Figure 8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Length of the table in bytes, from the header.
    pub length: u32,
    pub major_revision: u8,
    pub minor_revision: u8,
    pub checksum: u8,
    /// OEM ID and OEM table ID, trailing spaces and NULs removed.
    pub oem_id: String,
    pub oem_table_id: String,
    pub oem_revision: u32,
    pub creator_id: u32,
    pub creator_revision: u32,
    pub heap_offset: u32,
    pub heap_length: u32,
    /// Driver Signature heap object, raw (empty when absent). Not text by
    /// contract: Dell firmware stores an 85-character UEFI device path of
    /// the pre-OS driver followed by non-text filler bytes inside the
    /// object; see [`Header::driver_signature_text`].
    pub driver_signature: Vec<u8>,
}

impl Header {
    /// The leading printable-ASCII part of the driver signature (the
    /// device path on the firmware we know).
    pub fn driver_signature_text(&self) -> &str {
        let end = self
            .driver_signature
            .iter()
            .position(|b| !b.is_ascii_graphic() && *b != b' ')
            .unwrap_or(self.driver_signature.len());
        // ASCII graphic bytes and spaces are UTF-8.
        std::str::from_utf8(self.driver_signature.get(..end).unwrap_or_default())
            .unwrap_or_default()
    }
}

/// Primary Administrative Host Descriptor hint (Figure 9, flags bits 4:3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrimaryAdmin {
    NotIndicated = 0,
    Unselected = 1,
    Selected = 2,
    Reserved = 3,
}

/// The host descriptor (Figure 9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// Host NQN (required by the spec when the platform supports NVMe boot).
    pub nqn: String,
    /// Host ID, raw bytes as stored.
    pub id: [u8; 16],
    /// The Host ID was set by an administrator (not a driver default).
    pub host_id_configured: bool,
    /// The Host NQN was set by an administrator (not a driver default).
    pub host_nqn_configured: bool,
    pub primary: PrimaryAdmin,
    /// Raw flags byte (see `HOST_*`).
    pub flags: u8,
}

/// A host fabric interface: the HFI descriptor (Figure 11) with its TCP
/// transport info descriptor (Figure 13). libnvme keeps only TCP HFIs, the
/// only transport the spec defines, so the TCP fields are inline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hfi {
    /// HFI Descriptor Index, the number SSNS and discovery descriptors use.
    pub index: u8,
    /// Transport type, always [`TRTYPE_TCP`].
    pub trtype: u8,
    /// PCI Express routing ID (segment/bus/device/function) of the NIC.
    pub pci_sbdf: u32,
    pub mac: [u8; 6],
    /// VLAN ID, 0 for none.
    pub vlan: u16,
    /// Source of the L3 configuration (Windows `NL_PREFIX_ORIGIN` values).
    pub ip_origin: u8,
    /// IPv4 addresses (stored IPv4-mapped) are `IpAddr::V4`.
    pub ip: IpAddr,
    pub subnet_mask_prefix: u8,
    /// Unspecified address when there is no gateway.
    pub gateway: IpAddr,
    pub route_metric: u16,
    pub primary_dns: IpAddr,
    pub secondary_dns: IpAddr,
    /// Only when the DHCP Override flag is set (the field is reserved
    /// otherwise).
    pub dhcp_server: Option<IpAddr>,
    pub host_name: Option<String>,
    /// Global Route flag: the pre-OS used this HFI as the default route.
    pub global_route: bool,
    /// DHCP Override flag: the configuration came from DHCP.
    pub dhcp_override: bool,
    /// Raw transport info flags (see `HFI_TCP_*`).
    pub flags: u8,
}

/// A security profile descriptor (Figure 21).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Security {
    pub index: u8,
    /// Raw flags (Figure 22).
    pub flags: u16,
    pub secret_type: u8,
    pub sec_chan_alg: Vec<u8>,
    pub auth_proto: Vec<u8>,
    pub cipher_suite: Vec<u8>,
    pub dh_grp: Vec<u8>,
    pub sec_hash_func: Vec<u8>,
    /// Secret keypath URI.
    pub sec_keypath: Option<String>,
}

/// A discovery descriptor (Figure 24).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    pub index: u8,
    /// Index of the [`Hfi`] it was reached through, if that HFI is present.
    pub hfi: Option<u8>,
    /// Index of its [`Security`] profile, if present.
    pub security: Option<u8>,
    /// Discovery controller URI, e.g. `nvme+tcp://192.168.1.1:8009/`.
    pub uri: String,
    /// Discovery controller NQN; `None` means the well-known discovery NQN.
    pub nqn: Option<String>,
}

/// A subsystem namespace descriptor (Figure 15) with its extended info
/// (Figure 19).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubsystemNs {
    pub index: u16,
    /// Index of the primary [`Discovery`] descriptor, if present.
    pub discovery: Option<u8>,
    /// Index of the [`Security`] profile, if present.
    pub security: Option<u8>,
    /// HFI indexes: the primary first, then the secondary associations,
    /// without duplicates; each names an [`Hfi`] of the table.
    pub hfis: Vec<u8>,
    /// Transport type, always [`TRTYPE_TCP`].
    pub trtype: u8,
    pub traddr: IpAddr,
    pub trsvcid: String,
    pub subsys_port_id: u16,
    /// 0 when not given: then [`Self::nid`] identifies the namespace.
    pub nsid: u32,
    /// `NID_TYPE_*`.
    pub nid_type: u8,
    pub nid: [u8; 16],
    pub subsys_nqn: String,
    pub pdu_header_digest_required: bool,
    pub data_digest_required: bool,
    /// From the extended info; 0 when absent.
    pub controller_id: u16,
    /// Admin submission queue size, only when administratively set; 0
    /// otherwise (as libnvme).
    pub asqsz: u16,
    pub dhcp_root_path: Option<String>,
    /// Acquired through discovery (Discovered Namespace flag).
    pub discovered: bool,
    /// The pre-OS driver found it unavailable.
    pub unavailable: bool,
    /// Raw SSNS flags and transport flags (see `SSNS_*`).
    pub flags: u16,
    pub trflags: u16,
}

impl Hfi {
    /// Transport name as libnvme and the kernel spell it.
    pub fn transport(&self) -> &'static str {
        transport_name(self.trtype)
    }
}

impl SubsystemNs {
    pub fn transport(&self) -> &'static str {
        transport_name(self.trtype)
    }
}

fn transport_name(trtype: u8) -> &'static str {
    if trtype == TRTYPE_TCP {
        "tcp"
    } else {
        "invalid"
    }
}

impl Nbft {
    /// The HFI with descriptor index `index`.
    pub fn hfi(&self, index: u8) -> Option<&Hfi> {
        self.hfis.iter().find(|h| h.index == index)
    }

    /// The discovery descriptor with index `index`.
    pub fn discovery_by_index(&self, index: u8) -> Option<&Discovery> {
        self.discovery.iter().find(|d| d.index == index)
    }

    /// The security profile with index `index`.
    pub fn security_by_index(&self, index: u8) -> Option<&Security> {
        self.security.iter().find(|s| s.index == index)
    }

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
struct Hex<'a>(&'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:x}"))
    }
}

/// A C string that may be NULL, as glibc's printf renders it.
struct OrNull<'a>(&'a Option<String>);

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
struct NtopIp(IpAddr);

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

/// Which structure an [`NbftError`] is about. Numbers are positions in the
/// table's descriptor lists, counted from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Desc {
    Header,
    Control,
    Host,
    HfiList,
    SsnsList,
    SecurityList,
    DiscoveryList,
    Hfi(usize),
    HfiTransportInfo(usize),
    Ssns(usize),
    SsnsExtendedInfo(usize),
    Security(usize),
    Discovery(usize),
}

impl fmt::Display for Desc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Desc::Header => f.write_str("header"),
            Desc::Control => f.write_str("control descriptor"),
            Desc::Host => f.write_str("host descriptor"),
            Desc::HfiList => f.write_str("HFI descriptor list"),
            Desc::SsnsList => f.write_str("SSNS descriptor list"),
            Desc::SecurityList => f.write_str("security descriptor list"),
            Desc::DiscoveryList => f.write_str("discovery descriptor list"),
            Desc::Hfi(n) => write!(f, "HFI descriptor {n}"),
            Desc::HfiTransportInfo(n) => write!(f, "transport info of HFI descriptor {n}"),
            Desc::Ssns(n) => write!(f, "SSNS descriptor {n}"),
            Desc::SsnsExtendedInfo(n) => write!(f, "extended info of SSNS descriptor {n}"),
            Desc::Security(n) => write!(f, "security descriptor {n}"),
            Desc::Discovery(n) => write!(f, "discovery descriptor {n}"),
        }
    }
}

/// What is wrong with one structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A descriptor or list extends past the table.
    PastEnd {
        what: &'static str,
        offset: u64,
        length: u64,
        end: u64,
    },
    /// A heap object reference extends past the table.
    HeapPastEnd {
        field: &'static str,
        offset: u32,
        length: u16,
        end: u64,
    },
    /// A heap object reference points outside the heap.
    OutsideHeap {
        field: &'static str,
        offset: u32,
        length: u16,
        heap_start: u64,
        heap_end: u64,
    },
    /// A required heap object reference is empty.
    Missing {
        field: &'static str,
    },
    /// A heap object or descriptor is shorter than what it must hold.
    TooSmall {
        what: &'static str,
        length: u64,
        need: u64,
    },
    NotTerminated {
        field: &'static str,
    },
    NotUtf8 {
        field: &'static str,
    },
    StructureId {
        found: u8,
        expected: u8,
    },
    Version {
        found: u8,
    },
    Transport {
        found: u8,
    },
    NotValid,
    /// A descriptor index that names no descriptor of the table.
    UnknownIndex {
        what: &'static str,
        index: u16,
        list: &'static str,
    },
    /// A sub-descriptor names another parent than the one pointing to it.
    IndexMismatch {
        found: u16,
        expected: u16,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::PastEnd {
                what,
                offset,
                length,
                end,
            } => write!(
                f,
                "{what} past the end of the table ({offset:#x} + {length} > {end:#x})"
            ),
            Problem::HeapPastEnd {
                field,
                offset,
                length,
                end,
            } => write!(
                f,
                "{field}: heap reference past the end of the table ({offset:#x} + {length} > {end:#x})"
            ),
            Problem::OutsideHeap {
                field,
                offset,
                length,
                heap_start,
                heap_end,
            } => write!(
                f,
                "{field}: heap reference outside the heap ({offset:#x} + {length} not within {heap_start:#x}..{heap_end:#x})"
            ),
            Problem::Missing { field } => write!(f, "{field}: missing (empty heap reference)"),
            Problem::TooSmall { what, length, need } => {
                write!(f, "{what} is {length} bytes, {need} needed")
            }
            Problem::NotTerminated { field } => {
                write!(f, "{field}: string is not NUL-terminated")
            }
            Problem::NotUtf8 { field } => write!(f, "{field}: string is not valid UTF-8"),
            Problem::StructureId { found, expected } => {
                write!(f, "structure ID {found}, expected {expected}")
            }
            Problem::Version { found } => write!(f, "unsupported version {found} (1 expected)"),
            Problem::Transport { found } => {
                write!(f, "unsupported transport type {found} (only 3, TCP)")
            }
            Problem::NotValid => f.write_str("Descriptor Valid flag is clear"),
            Problem::UnknownIndex { what, index, list } => {
                write!(f, "{what} index {index} matches no {list} descriptor")
            }
            Problem::IndexMismatch { found, expected } => {
                write!(f, "names index {found}, expected {expected}")
            }
        }
    }
}

/// Why a table (or one of its descriptors, see [`Nbft::problems`]) was not
/// decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NbftError {
    /// The file could not be read ([`read_all`]).
    Io {
        kind: io::ErrorKind,
        message: String,
    },
    /// Fewer bytes than the header and control descriptor.
    TooShort {
        length: usize,
        need: usize,
    },
    Signature {
        found: [u8; 4],
    },
    /// The header's Length exceeds the bytes read.
    LengthExceedsData {
        length: u32,
        read: usize,
    },
    /// The header's Length is less than header plus control descriptor.
    LengthTooSmall {
        length: u32,
        need: usize,
    },
    /// The table's bytes do not sum to 0 (mod 256).
    Checksum {
        sum: u8,
        length: u32,
    },
    /// libnvme accepts revision 1.0 only.
    Revision {
        major: u8,
        minor: u8,
    },
    /// The heap lies (partly) outside the table.
    HeapOutsideTable {
        offset: u32,
        length: u32,
        end: u32,
    },
    /// One structure of the table is faulty.
    Descriptor {
        desc: Desc,
        offset: u64,
        problem: Problem,
    },
}

impl fmt::Display for NbftError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NbftError::Io { message, .. } => write!(f, "NBFT: cannot read the table: {message}"),
            NbftError::TooShort { length, need } => write!(
                f,
                "NBFT: table is {length} bytes, shorter than the {need} bytes of its header and control descriptor"
            ),
            NbftError::Signature { found } => write!(
                f,
                "NBFT: signature \"{}\" at offset 0x0 is not \"NBFT\"",
                found.escape_ascii()
            ),
            NbftError::LengthExceedsData { length, read } => write!(
                f,
                "NBFT: header length {length} at offset 0x4 exceeds the {read} bytes of the table"
            ),
            NbftError::LengthTooSmall { length, need } => write!(
                f,
                "NBFT: header length {length} at offset 0x4 is shorter than the {need} bytes of header and control descriptor"
            ),
            NbftError::Checksum { sum, length } => write!(
                f,
                "NBFT: checksum mismatch: the {length} bytes of the table sum to {sum:#04x}, not 0 (mod 256)"
            ),
            NbftError::Revision { major, minor } => write!(
                f,
                "NBFT: unsupported revision {major}.{minor} (offsets 0x8 and 0x32; only 1.0 is known)"
            ),
            NbftError::HeapOutsideTable { offset, length, end } => write!(
                f,
                "NBFT: heap (header offset 0x24) extends past the end of the table ({offset:#x} + {length} > {end:#x})"
            ),
            NbftError::Descriptor {
                desc,
                offset,
                problem,
            } => write!(f, "NBFT: {desc} at offset {offset:#x}: {problem}"),
        }
    }
}

impl std::error::Error for NbftError {}

impl From<io::Error> for NbftError {
    fn from(e: io::Error) -> Self {
        NbftError::Io {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

/// Little-endian reads from a slice whose length was checked beforehand.
/// A read outside the slice yields zeros instead of panicking; the length
/// checks make that unreachable, this keeps decoding panic-free by
/// construction.
#[derive(Clone, Copy)]
struct Le<'a>(&'a [u8]);

impl Le<'_> {
    fn u8(self, at: usize) -> u8 {
        self.0.get(at).copied().unwrap_or(0)
    }

    fn u16(self, at: usize) -> u16 {
        u16::from_le_bytes(self.array(at))
    }

    fn u32(self, at: usize) -> u32 {
        u32::from_le_bytes(self.array(at))
    }

    fn array<const N: usize>(self, at: usize) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some(src) = at.checked_add(N).and_then(|end| self.0.get(at..end)) {
            out.copy_from_slice(src);
        }
        out
    }

    /// A heap object reference: 32-bit offset, 16-bit length.
    fn heap_ref(self, at: usize) -> HeapRef {
        HeapRef {
            offset: self.u32(at),
            length: self.u16(at.saturating_add(4)),
        }
    }

    fn ip(self, at: usize) -> IpAddr {
        decode_ip(self.array(at))
    }
}

/// IPv4-mapped addresses become IPv4 (libnvme `format_ip_addr`).
fn decode_ip(bytes: [u8; IP_SIZE]) -> IpAddr {
    let v6 = Ipv6Addr::from(bytes);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

#[derive(Debug, Clone, Copy)]
struct HeapRef {
    offset: u32,
    length: u16,
}

/// The table (exactly `Length` bytes) and its heap bounds.
struct Table<'a> {
    bytes: &'a [u8],
    heap_start: u64,
    heap_end: u64,
}

impl<'a> Table<'a> {
    fn end(&self) -> u64 {
        self.bytes.len() as u64
    }

    fn slice(&self, offset: u64, length: u64) -> Option<&'a [u8]> {
        let start = usize::try_from(offset).ok()?;
        let end = usize::try_from(offset.checked_add(length)?).ok()?;
        self.bytes.get(start..end)
    }

    /// `size` bytes of a descriptor at `offset`.
    fn descriptor(&self, offset: u64, size: usize) -> Result<Le<'a>, Problem> {
        self.slice(offset, size as u64)
            .map(Le)
            .ok_or(Problem::PastEnd {
                what: "descriptor",
                offset,
                length: size as u64,
                end: self.end(),
            })
    }

    /// The bytes of a heap object; `None` when the reference is empty.
    fn heap_object(&self, r: HeapRef, field: &'static str) -> Result<Option<&'a [u8]>, Problem> {
        if r.length == 0 {
            return Ok(None);
        }
        let start = u64::from(r.offset);
        let end = start + u64::from(r.length);
        if end > self.end() {
            return Err(Problem::HeapPastEnd {
                field,
                offset: r.offset,
                length: r.length,
                end: self.end(),
            });
        }
        if start < self.heap_start || end > self.heap_end {
            return Err(Problem::OutsideHeap {
                field,
                offset: r.offset,
                length: r.length,
                heap_start: self.heap_start,
                heap_end: self.heap_end,
            });
        }
        Ok(self.slice(start, u64::from(r.length)))
    }

    /// A heap object that must hold at least `need` bytes (a fixed-size
    /// structure or address).
    fn heap_struct(
        &self,
        r: HeapRef,
        field: &'static str,
        need: usize,
    ) -> Result<Option<Le<'a>>, Problem> {
        match self.heap_object(r, field)? {
            None => Ok(None),
            Some(b) if b.len() < need => Err(Problem::TooSmall {
                what: field,
                length: b.len() as u64,
                need: need as u64,
            }),
            Some(b) => Ok(Some(Le(b))),
        }
    }

    /// A string heap object. The firmware we know stores the length without
    /// the terminating NUL, which follows the object; a NUL inside the
    /// object ends the string early. libnvme (`__get_heap_obj`) accepts
    /// both and rejects a string with no NUL in the object or right after
    /// it; so do we, with that byte required to be inside the table.
    fn heap_string(&self, r: HeapRef, field: &'static str) -> Result<Option<String>, Problem> {
        let Some(bytes) = self.heap_object(r, field)? else {
            return Ok(None);
        };
        let text = match bytes.iter().position(|&b| b == 0) {
            Some(nul) => bytes.get(..nul).unwrap_or_default(),
            None => {
                let after = u64::from(r.offset) + u64::from(r.length);
                if self.slice(after, 1) != Some(&[0u8][..]) {
                    return Err(Problem::NotTerminated { field });
                }
                bytes
            }
        };
        std::str::from_utf8(text)
            .map(|s| Some(s.to_owned()))
            .map_err(|_| Problem::NotUtf8 { field })
    }

    /// A descriptor list from the control descriptor's (offset, length,
    /// count) triple at `at`: the offset and bytes of each descriptor.
    fn list(
        &self,
        control: Le<'_>,
        at: usize,
        desc: Desc,
        size: usize,
    ) -> Result<Vec<(u64, Le<'a>)>, NbftError> {
        let offset = u64::from(control.u32(at));
        let stride = usize::from(control.u16(at + 4));
        let count = usize::from(control.u8(at + 7));
        if count == 0 {
            return Ok(Vec::new());
        }
        let err = |problem| NbftError::Descriptor {
            desc,
            offset,
            problem,
        };
        if stride < size {
            return Err(err(Problem::TooSmall {
                what: "descriptor length",
                length: stride as u64,
                need: size as u64,
            }));
        }
        let total = (stride * count) as u64;
        if offset + total > self.end() {
            return Err(err(Problem::PastEnd {
                what: "descriptor list",
                offset,
                length: total,
                end: self.end(),
            }));
        }
        (0..count)
            .map(|i| {
                let at = offset + (i * stride) as u64;
                self.descriptor(at, stride)
                    .map(|d| (at, d))
                    .map_err(|problem| NbftError::Descriptor {
                        desc,
                        offset: at,
                        problem,
                    })
            })
            .collect()
    }
}

/// Decodes one NBFT. Never panics; see the module documentation for what
/// is checked and what a failed check costs.
pub fn parse(bytes: &[u8]) -> Result<Nbft, NbftError> {
    let raw = Le(bytes);
    // The signature first, so that something else entirely says so.
    if bytes.len() < SIGNATURE.len() || raw.array::<4>(0) != SIGNATURE {
        if bytes.len() < SIGNATURE.len() {
            return Err(NbftError::TooShort {
                length: bytes.len(),
                need: HEADER_SIZE + CONTROL_SIZE,
            });
        }
        return Err(NbftError::Signature {
            found: raw.array(0),
        });
    }
    // libnvme: "table is too short" below header + control descriptor.
    if bytes.len() < HEADER_SIZE + CONTROL_SIZE {
        return Err(NbftError::TooShort {
            length: bytes.len(),
            need: HEADER_SIZE + CONTROL_SIZE,
        });
    }
    let length = raw.u32(4);
    let table_bytes = usize::try_from(length)
        .ok()
        .and_then(|l| bytes.get(..l))
        .ok_or(NbftError::LengthExceedsData {
            length,
            read: bytes.len(),
        })?;
    if table_bytes.len() < HEADER_SIZE + CONTROL_SIZE {
        return Err(NbftError::LengthTooSmall {
            length,
            need: HEADER_SIZE + CONTROL_SIZE,
        });
    }
    let sum = table_bytes.iter().fold(0u8, |a, b| a.wrapping_add(*b));
    if sum != 0 {
        return Err(NbftError::Checksum { sum, length });
    }
    let h = Le(table_bytes);
    let (major, minor) = (h.u8(8), h.u8(50));
    if (major, minor) != (1, 0) {
        return Err(NbftError::Revision { major, minor });
    }
    let heap_offset = h.u32(36);
    let heap_length = h.u32(40);
    let heap_end = u64::from(heap_offset) + u64::from(heap_length);
    if heap_end > u64::from(length) {
        return Err(NbftError::HeapOutsideTable {
            offset: heap_offset,
            length: heap_length,
            end: length,
        });
    }
    let t = Table {
        bytes: table_bytes,
        heap_start: u64::from(heap_offset),
        heap_end,
    };
    let mut problems = Vec::new();

    // libnvme does not read the driver signature; a faulty reference is
    // only noted.
    let driver_signature = match t.heap_object(h.heap_ref(44), "driver signature") {
        Ok(b) => b.unwrap_or_default().to_vec(),
        Err(problem) => {
            problems.push(NbftError::Descriptor {
                desc: Desc::Header,
                offset: 0,
                problem,
            });
            Vec::new()
        }
    };
    let header = Header {
        length,
        major_revision: major,
        minor_revision: minor,
        checksum: h.u8(9),
        oem_id: ascii_field(&h.array::<6>(10)),
        oem_table_id: ascii_field(&h.array::<8>(16)),
        oem_revision: h.u32(24),
        creator_id: h.u32(28),
        creator_revision: h.u32(32),
        heap_offset,
        heap_length,
        driver_signature,
    };
    let mut nbft = Nbft {
        raw_size: bytes.len(),
        header,
        host: None,
        hfis: Vec::new(),
        security: Vec::new(),
        discovery: Vec::new(),
        subsystems: Vec::new(),
        problems,
    };

    let control_offset = HEADER_SIZE as u64;
    let control = t
        .descriptor(control_offset, CONTROL_SIZE)
        .map_err(|problem| NbftError::Descriptor {
            desc: Desc::Control,
            offset: control_offset,
            problem,
        })?;
    // libnvme returns an empty, successful decoding for a control
    // descriptor that is not valid.
    if control.u8(6) & VALID == 0 {
        return Ok(nbft);
    }
    if control.u8(0) != ID_CONTROL {
        return Err(NbftError::Descriptor {
            desc: Desc::Control,
            offset: control_offset,
            problem: Problem::StructureId {
                found: control.u8(0),
                expected: ID_CONTROL,
            },
        });
    }

    nbft.host = Some(read_host(&t, control)?);

    let hfi_list = t.list(control, 16, Desc::HfiList, HFI_SIZE)?;
    let ssns_list = t.list(control, 24, Desc::SsnsList, SSNS_SIZE)?;
    let sec_list = t.list(control, 32, Desc::SecurityList, SECURITY_SIZE)?;
    let disc_list = t.list(control, 40, Desc::DiscoveryList, DISCOVERY_SIZE)?;

    // libnvme's order: HFIs, security, discovery (refers to both), SSNS
    // (refers to all three).
    for (n, (offset, d)) in hfi_list.into_iter().enumerate() {
        match read_hfi(&t, n, offset, d, &mut nbft.problems) {
            Ok(Some(hfi)) => nbft.hfis.push(hfi),
            Ok(None) => {}
            Err(e) => nbft.problems.push(e),
        }
    }
    for (n, (offset, d)) in sec_list.into_iter().enumerate() {
        match read_security(&t, n, offset, d) {
            Ok(Some(sec)) => nbft.security.push(sec),
            Ok(None) => {}
            Err(e) => nbft.problems.push(e),
        }
    }
    for (n, (offset, d)) in disc_list.into_iter().enumerate() {
        match read_discovery(&t, &nbft, n, offset, d) {
            Ok(Some((disc, mut found))) => {
                nbft.problems.append(&mut found);
                nbft.discovery.push(disc);
            }
            Ok(None) => {}
            Err(e) => nbft.problems.push(e),
        }
    }
    for (n, (offset, d)) in ssns_list.into_iter().enumerate() {
        match read_ssns(&t, &nbft, n, offset, d) {
            Ok(Some((ssns, mut found))) => {
                nbft.problems.append(&mut found);
                nbft.subsystems.push(ssns);
            }
            Ok(None) => {}
            Err(e) => nbft.problems.push(e),
        }
    }
    Ok(nbft)
}

/// A fixed-width ACPI text field: trailing spaces and NULs are padding.
fn ascii_field(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .trim_end_matches([' ', '\0'])
        .to_owned()
}

fn read_host(t: &Table<'_>, control: Le<'_>) -> Result<Host, NbftError> {
    // The Host Descriptor location is an (offset, length) pair at 8; like
    // libnvme we read the fixed 1.0 descriptor at that offset.
    let offset = u64::from(control.u32(8));
    let err = |problem| NbftError::Descriptor {
        desc: Desc::Host,
        offset,
        problem,
    };
    let d = t.descriptor(offset, HOST_SIZE).map_err(err)?;
    let flags = d.u8(1);
    if flags & HOST_VALID == 0 {
        return Err(err(Problem::NotValid));
    }
    if d.u8(0) != ID_HOST {
        return Err(err(Problem::StructureId {
            found: d.u8(0),
            expected: ID_HOST,
        }));
    }
    let nqn = t
        .heap_string(d.heap_ref(18), "host NQN")
        .map_err(err)?
        .ok_or_else(|| err(Problem::Missing { field: "host NQN" }))?;
    let primary = match (flags & HOST_PRIMARY_ADMIN_MASK) >> HOST_PRIMARY_ADMIN_SHIFT {
        0 => PrimaryAdmin::NotIndicated,
        1 => PrimaryAdmin::Unselected,
        2 => PrimaryAdmin::Selected,
        _ => PrimaryAdmin::Reserved,
    };
    Ok(Host {
        nqn,
        id: d.array(2),
        host_id_configured: flags & HOST_HOSTID_CONFIGURED != 0,
        host_nqn_configured: flags & HOST_HOSTNQN_CONFIGURED != 0,
        primary,
        flags,
    })
}

/// One HFI; `Ok(None)` for a descriptor marked not valid. Problems that do
/// not drop the HFI go to `problems`.
fn read_hfi(
    t: &Table<'_>,
    n: usize,
    offset: u64,
    d: Le<'_>,
    problems: &mut Vec<NbftError>,
) -> Result<Option<Hfi>, NbftError> {
    let err = |problem| NbftError::Descriptor {
        desc: Desc::Hfi(n),
        offset,
        problem,
    };
    if d.u8(2) & VALID == 0 {
        return Ok(None);
    }
    if d.u8(0) != ID_HFI {
        return Err(err(Problem::StructureId {
            found: d.u8(0),
            expected: ID_HFI,
        }));
    }
    let index = d.u8(1);
    let trtype = d.u8(3);
    if trtype != TRTYPE_TCP {
        return Err(err(Problem::Transport { found: trtype }));
    }
    let trinfo_ref = d.heap_ref(16);
    let ti = t
        .heap_struct(trinfo_ref, "transport info", HFI_TCP_NEEDED)
        .map_err(err)?
        .ok_or_else(|| {
            err(Problem::Missing {
                field: "transport info",
            })
        })?;
    let ti_err = |problem| NbftError::Descriptor {
        desc: Desc::HfiTransportInfo(n),
        offset: u64::from(trinfo_ref.offset),
        problem,
    };
    let flags = ti.u8(6);
    if flags & HFI_TCP_VALID == 0 {
        return Err(ti_err(Problem::NotValid));
    }
    if ti.u8(0) != ID_HFI_TRINFO {
        return Err(ti_err(Problem::StructureId {
            found: ti.u8(0),
            expected: ID_HFI_TRINFO,
        }));
    }
    if ti.u8(1) != 1 {
        return Err(ti_err(Problem::Version { found: ti.u8(1) }));
    }
    // libnvme only logs a mismatched back reference and keeps the HFI.
    let back = ti.u16(4);
    if back != u16::from(index) {
        problems.push(ti_err(Problem::IndexMismatch {
            found: back,
            expected: u16::from(index),
        }));
    }
    let dhcp_override = flags & HFI_TCP_DHCP_OVERRIDE != 0;
    // libnvme ignores a faulty host name; we note it.
    let host_name = t
        .heap_string(ti.heap_ref(104), "host name")
        .unwrap_or_else(|problem| {
            problems.push(ti_err(problem));
            None
        });
    Ok(Some(Hfi {
        index,
        trtype,
        pci_sbdf: ti.u32(7),
        mac: ti.array(11),
        vlan: ti.u16(17),
        ip_origin: ti.u8(19),
        ip: ti.ip(20),
        subnet_mask_prefix: ti.u8(36),
        gateway: ti.ip(37),
        route_metric: ti.u16(54),
        primary_dns: ti.ip(56),
        secondary_dns: ti.ip(72),
        dhcp_server: dhcp_override.then(|| ti.ip(88)),
        host_name,
        global_route: flags & HFI_TCP_GLOBAL_ROUTE != 0,
        dhcp_override,
        flags,
    }))
}

fn read_security(
    t: &Table<'_>,
    n: usize,
    offset: u64,
    d: Le<'_>,
) -> Result<Option<Security>, NbftError> {
    let err = |problem| NbftError::Descriptor {
        desc: Desc::Security(n),
        offset,
        problem,
    };
    let flags = d.u16(2);
    if flags & u16::from(VALID) == 0 {
        return Ok(None);
    }
    if d.u8(0) != ID_SECURITY {
        return Err(err(Problem::StructureId {
            found: d.u8(0),
            expected: ID_SECURITY,
        }));
    }
    let list = |at: usize, field: &'static str| -> Result<Vec<u8>, NbftError> {
        t.heap_object(d.heap_ref(at), field)
            .map(|b| b.unwrap_or_default().to_vec())
            .map_err(err)
    };
    Ok(Some(Security {
        index: d.u8(1),
        flags,
        secret_type: d.u8(4),
        sec_chan_alg: list(6, "secure channel algorithms")?,
        auth_proto: list(12, "authentication protocols")?,
        cipher_suite: list(18, "cipher suites")?,
        dh_grp: list(24, "DH groups")?,
        sec_hash_func: list(30, "secure hash functions")?,
        sec_keypath: t
            .heap_string(d.heap_ref(36), "secret keypath")
            .map_err(err)?,
    }))
}

/// A reference by descriptor index, dropped with a problem when it names
/// nothing. libnvme looks a discovery descriptor's HFI and security index
/// up even when 0 and reports only non-zero misses; an SSNS's discovery
/// and security indexes are looked up only when non-zero.
fn link(
    found: bool,
    index: u8,
    what: &'static str,
    list: &'static str,
    problem: impl FnOnce(Problem) -> NbftError,
    problems: &mut Vec<NbftError>,
) -> Option<u8> {
    if found {
        return Some(index);
    }
    if index != 0 {
        problems.push(problem(Problem::UnknownIndex {
            what,
            index: u16::from(index),
            list,
        }));
    }
    None
}

type WithProblems<T> = Option<(T, Vec<NbftError>)>;

fn read_discovery(
    t: &Table<'_>,
    nbft: &Nbft,
    n: usize,
    offset: u64,
    d: Le<'_>,
) -> Result<WithProblems<Discovery>, NbftError> {
    let err = |problem| NbftError::Descriptor {
        desc: Desc::Discovery(n),
        offset,
        problem,
    };
    if d.u8(1) & VALID == 0 {
        return Ok(None);
    }
    if d.u8(0) != ID_DISCOVERY {
        return Err(err(Problem::StructureId {
            found: d.u8(0),
            expected: ID_DISCOVERY,
        }));
    }
    let uri = t
        .heap_string(d.heap_ref(6), "discovery controller URI")
        .map_err(err)?
        .ok_or_else(|| {
            err(Problem::Missing {
                field: "discovery controller URI",
            })
        })?;
    let nqn = t
        .heap_string(d.heap_ref(12), "discovery controller NQN")
        .map_err(err)?;
    let mut problems = Vec::new();
    let (hfi_index, sec_index) = (d.u8(3), d.u8(4));
    let hfi = link(
        nbft.hfi(hfi_index).is_some(),
        hfi_index,
        "HFI",
        "HFI",
        err,
        &mut problems,
    );
    let security = link(
        nbft.security_by_index(sec_index).is_some(),
        sec_index,
        "security profile",
        "security",
        err,
        &mut problems,
    );
    Ok(Some((
        Discovery {
            index: d.u8(2),
            hfi,
            security,
            uri,
            nqn,
        },
        problems,
    )))
}

fn read_ssns(
    t: &Table<'_>,
    nbft: &Nbft,
    n: usize,
    offset: u64,
    d: Le<'_>,
) -> Result<WithProblems<SubsystemNs>, NbftError> {
    let err = |problem| NbftError::Descriptor {
        desc: Desc::Ssns(n),
        offset,
        problem,
    };
    let flags = d.u16(3);
    if flags & SSNS_VALID == 0 {
        return Ok(None);
    }
    if d.u8(0) != ID_SSNS {
        return Err(err(Problem::StructureId {
            found: d.u8(0),
            expected: ID_SSNS,
        }));
    }
    let trtype = d.u8(5);
    if trtype != TRTYPE_TCP {
        return Err(err(Problem::Transport { found: trtype }));
    }
    let index = d.u16(1);
    let trflags = d.u16(6);
    let mut problems = Vec::new();

    let disc_index = d.u8(8);
    let discovery = if disc_index == 0 {
        None
    } else {
        link(
            nbft.discovery_by_index(disc_index).is_some(),
            disc_index,
            "primary discovery controller",
            "discovery",
            err,
            &mut problems,
        )
    };
    let required = |at: usize, field: &'static str| -> Result<&[u8], NbftError> {
        t.heap_object(d.heap_ref(at), field)
            .map_err(err)?
            .ok_or_else(|| err(Problem::Missing { field }))
    };
    // For IP transports the address is a 16-byte IP address.
    let traddr_bytes = required(10, "transport address")?;
    if traddr_bytes.len() < IP_SIZE {
        return Err(err(Problem::TooSmall {
            what: "transport address",
            length: traddr_bytes.len() as u64,
            need: IP_SIZE as u64,
        }));
    }
    let traddr = decode_ip(Le(traddr_bytes).array(0));
    let trsvcid = t
        .heap_string(d.heap_ref(16), "transport service ID")
        .map_err(err)?
        .ok_or_else(|| {
            err(Problem::Missing {
                field: "transport service ID",
            })
        })?;
    let sec_index = d.u8(45);
    let security = if sec_index == 0 {
        None
    } else {
        link(
            nbft.security_by_index(sec_index).is_some(),
            sec_index,
            "security profile",
            "security",
            err,
            &mut problems,
        )
    };
    let secondary = t
        .heap_object(d.heap_ref(48), "secondary HFI associations")
        .map_err(err)?
        .unwrap_or_default();
    let primary = d.u8(46);
    if nbft.hfi(primary).is_none() {
        return Err(err(Problem::UnknownIndex {
            what: "primary HFI",
            index: u16::from(primary),
            list: "HFI",
        }));
    }
    let mut hfis = vec![primary];
    for &s in secondary {
        if s == 0 || hfis.contains(&s) {
            continue;
        }
        if nbft.hfi(s).is_some() {
            hfis.push(s);
        } else {
            problems.push(err(Problem::UnknownIndex {
                what: "secondary HFI",
                index: u16::from(s),
                list: "HFI",
            }));
        }
    }
    let subsys_nqn = t
        .heap_string(d.heap_ref(54), "subsystem NQN")
        .map_err(err)?
        .ok_or_else(|| {
            err(Problem::Missing {
                field: "subsystem NQN",
            })
        })?;

    let mut ssns = SubsystemNs {
        index,
        discovery,
        security,
        hfis,
        trtype,
        traddr,
        trsvcid,
        subsys_port_id: d.u16(22),
        nsid: d.u32(24),
        nid_type: d.u8(28),
        nid: d.array(29),
        subsys_nqn,
        pdu_header_digest_required: trflags & SSNS_PDU_HEADER_DIGEST != 0,
        data_digest_required: trflags & SSNS_DATA_DIGEST != 0,
        controller_id: 0,
        asqsz: 0,
        dhcp_root_path: None,
        discovered: flags & SSNS_DISCOVERED_NAMESPACE != 0,
        // libnvme tests the "unavailable" value's bit, not the whole field.
        unavailable: flags & SSNS_UNAVAIL_NAMESPACE_UNAVAIL != 0,
        flags,
        trflags,
    };
    // A faulty extended info descriptor is ignored by libnvme; the SSNS
    // stays, without controller ID, ASQSZ or root path.
    if flags & SSNS_EXTENDED_INFO_IN_USE != 0 {
        let r = d.heap_ref(60);
        if let Err(problem) = read_ssns_ext_info(t, r, &mut ssns) {
            problems.push(NbftError::Descriptor {
                desc: Desc::SsnsExtendedInfo(n),
                offset: u64::from(r.offset),
                problem,
            });
        }
    }
    Ok(Some((ssns, problems)))
}

fn read_ssns_ext_info(t: &Table<'_>, r: HeapRef, ssns: &mut SubsystemNs) -> Result<(), Problem> {
    let Some(e) = t.heap_struct(r, "extended info", SSNS_EXT_SIZE)? else {
        return Ok(());
    };
    if e.u8(0) != ID_SSNS_EXT_INFO {
        return Err(Problem::StructureId {
            found: e.u8(0),
            expected: ID_SSNS_EXT_INFO,
        });
    }
    if e.u8(1) != 1 {
        return Err(Problem::Version { found: e.u8(1) });
    }
    if e.u16(2) != ssns.index {
        return Err(Problem::IndexMismatch {
            found: e.u16(2),
            expected: ssns.index,
        });
    }
    let flags = e.u32(4);
    if flags & SSNS_EXT_INFO_VALID == 0 {
        return Err(Problem::NotValid);
    }
    let dhcp_root_path = t.heap_string(e.heap_ref(12), "DHCP root path")?;
    if flags & SSNS_EXT_INFO_ADMIN_ASQSZ != 0 {
        ssns.asqsz = e.u16(10);
    }
    ssns.controller_id = e.u16(8);
    ssns.dhcp_root_path = dhcp_root_path;
    Ok(())
}

/// Every file whose name starts with `NBFT` in `dir` (firmware exposes
/// `NBFT`, `NBFT1`, ... in `/sys/firmware/acpi/tables`; the caller passes
/// `root.path(rel::ACPI_TABLES)`), sorted by name, each decoded. A missing
/// or unreadable directory yields nothing.
pub fn read_all(dir: &Path) -> Vec<(PathBuf, Result<Nbft, NbftError>)> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            if e.kind() != io::ErrorKind::NotFound {
                log::warn!("cannot list {}: {e}", dir.display());
            }
            return Vec::new();
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().as_encoded_bytes().starts_with(b"NBFT"))
        .map(|e| e.path())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            // A regular file of at most 16 MiB (an ACPI table's length
            // is 32 bits, real NBFTs are a few KiB).
            let decoded = match crate::base::files::read_bounded(&p, 16 << 20, true) {
                Ok(Some(f)) => parse(&f.bytes),
                Ok(None) => Err(NbftError::from(io::Error::from(io::ErrorKind::NotFound))),
                Err(e) => Err(NbftError::from(io::Error::other(e.to_string()))),
            };
            (p, decoded)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const R760: &[u8] =
        include_bytes!("../../../../tests/fixtures/nbft/tables/NBFT-Dell.PowerEdge.R760");
    const MPATH: &[u8] = include_bytes!(
        "../../../../tests/fixtures/nbft/tables/NBFT-Dell.PowerEdge.R660-fw1.5.5-mpath+discovery"
    );

    // R760 layout (see tests/fixtures/nbft): control 0x40, host 0x80, HFI
    // 0xa0 (transport info in the heap at 0x26e), SSNS 0xc0 and 0x140,
    // discovery 0x1c0, heap 0x1e0..0x3f9.
    const END: usize = 0x3f9;

    fn sum(t: &[u8]) -> u8 {
        t.iter().fold(0u8, |a, b| a.wrapping_add(*b))
    }

    fn fix_checksum(t: &mut [u8]) {
        let len = (Le(t).u32(4) as usize).min(t.len());
        if len > 9 {
            t[9] = 0;
            t[9] = 0u8.wrapping_sub(sum(&t[..len]));
        }
    }

    fn put16(t: &mut [u8], at: usize, v: u16) {
        t[at..at + 2].copy_from_slice(&v.to_le_bytes());
    }

    fn put32(t: &mut [u8], at: usize, v: u32) {
        t[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    /// R760 with `edit` applied and the checksum made right again.
    fn r760_with(edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut t = R760.to_vec();
        edit(&mut t);
        fix_checksum(&mut t);
        t
    }

    fn desc_err(desc: Desc, offset: u64, problem: Problem) -> NbftError {
        NbftError::Descriptor {
            desc,
            offset,
            problem,
        }
    }

    #[test]
    fn fixtures_are_consistent() {
        assert_eq!(R760.len(), END);
        assert_eq!(sum(R760), 0);
        assert!(parse(R760).expect("R760").problems.is_empty());
    }

    #[test]
    fn every_truncation_is_an_error() {
        for table in [R760, MPATH] {
            for n in 0..table.len() {
                let got = parse(&table[..n]);
                let expected_kind = if n < HEADER_SIZE + CONTROL_SIZE {
                    matches!(got, Err(NbftError::TooShort { length, need: 128 }) if length == n)
                } else {
                    matches!(got, Err(NbftError::LengthExceedsData { read, .. }) if read == n)
                };
                assert!(expected_kind, "prefix of {n} bytes: {got:?}");
            }
        }
    }

    #[test]
    fn checksum_is_checked() {
        let mut t = R760.to_vec();
        t[9] = t[9].wrapping_add(1);
        let e = parse(&t).expect_err("corrupted checksum");
        assert_eq!(
            e,
            NbftError::Checksum {
                sum: 1,
                length: 1017
            }
        );
        assert_eq!(
            e.to_string(),
            "NBFT: checksum mismatch: the 1017 bytes of the table sum to 0x01, not 0 (mod 256)"
        );
        let mut t = R760.to_vec();
        t[0x300] ^= 0x10;
        assert!(matches!(parse(&t), Err(NbftError::Checksum { .. })));
    }

    /// Bytes after the header's Length are not the table (ACPI checksum
    /// covers Length bytes).
    #[test]
    fn bytes_after_the_table_are_ignored() {
        let mut t = R760.to_vec();
        t.extend_from_slice(&[0xaa; 7]);
        let n = parse(&t).expect("decodes");
        assert_eq!(n.raw_size, END + 7);
        assert_eq!(n.header.length as usize, END);
        assert_eq!(n.subsystems.len(), 2);
    }

    #[test]
    fn table_level_faults_reject_the_table() {
        type Edit = fn(&mut Vec<u8>);
        let cases: &[(&str, Edit, NbftError)] = &[
            (
                "signature",
                |t| t[3] = b'X',
                NbftError::Signature { found: *b"NBFX" },
            ),
            (
                "major revision",
                |t| t[8] = 2,
                NbftError::Revision { major: 2, minor: 0 },
            ),
            (
                "minor revision",
                |t| t[50] = 1,
                NbftError::Revision { major: 1, minor: 1 },
            ),
            (
                "length past the data",
                |t| put32(t, 4, 1018),
                NbftError::LengthExceedsData {
                    length: 1018,
                    read: END,
                },
            ),
            (
                "length below header and control",
                |t| put32(t, 4, 100),
                NbftError::LengthTooSmall {
                    length: 100,
                    need: 128,
                },
            ),
            (
                "heap past the end",
                |t| put32(t, 40, 0x21a),
                NbftError::HeapOutsideTable {
                    offset: 0x1e0,
                    length: 0x21a,
                    end: 1017,
                },
            ),
            (
                "control structure ID",
                |t| t[0x40] = 9,
                desc_err(
                    Desc::Control,
                    0x40,
                    Problem::StructureId {
                        found: 9,
                        expected: 1,
                    },
                ),
            ),
            (
                "host descriptor past the end",
                |t| put32(t, 0x48, 0x3f0),
                desc_err(
                    Desc::Host,
                    0x3f0,
                    Problem::PastEnd {
                        what: "descriptor",
                        offset: 0x3f0,
                        length: 32,
                        end: 0x3f9,
                    },
                ),
            ),
            (
                "host not valid",
                |t| t[0x81] &= !HOST_VALID,
                desc_err(Desc::Host, 0x80, Problem::NotValid),
            ),
            (
                "host structure ID",
                |t| t[0x80] = 3,
                desc_err(
                    Desc::Host,
                    0x80,
                    Problem::StructureId {
                        found: 3,
                        expected: 2,
                    },
                ),
            ),
            (
                "host NQN absent",
                |t| put16(t, 0x92 + 4, 0),
                desc_err(Desc::Host, 0x80, Problem::Missing { field: "host NQN" }),
            ),
            (
                "host NQN past the end",
                |t| put32(t, 0x92, 0x3f0),
                desc_err(
                    Desc::Host,
                    0x80,
                    Problem::HeapPastEnd {
                        field: "host NQN",
                        offset: 0x3f0,
                        length: 43,
                        end: 0x3f9,
                    },
                ),
            ),
            (
                "host NQN before the heap",
                |t| put32(t, 0x92, 0x100),
                desc_err(
                    Desc::Host,
                    0x80,
                    Problem::OutsideHeap {
                        field: "host NQN",
                        offset: 0x100,
                        length: 43,
                        heap_start: 0x1e0,
                        heap_end: 0x3f9,
                    },
                ),
            ),
            (
                "SSNS list past the end",
                |t| t[0x40 + 31] = 200,
                desc_err(
                    Desc::SsnsList,
                    0xc0,
                    Problem::PastEnd {
                        what: "descriptor list",
                        offset: 0xc0,
                        length: 200 * 128,
                        end: 0x3f9,
                    },
                ),
            ),
            (
                "HFI length below 1.0 size",
                |t| put16(t, 0x40 + 20, 16),
                desc_err(
                    Desc::HfiList,
                    0xa0,
                    Problem::TooSmall {
                        what: "descriptor length",
                        length: 16,
                        need: 32,
                    },
                ),
            ),
        ];
        for (name, edit, expected) in cases {
            let t = r760_with(*edit);
            assert_eq!(parse(&t).as_ref().err(), Some(expected), "{name}");
        }
    }

    #[test]
    fn error_text_names_the_place() {
        let t = r760_with(|t| put32(t, 0x92, 0x3f0));
        assert_eq!(
            parse(&t).expect_err("host NQN past the end").to_string(),
            "NBFT: host descriptor at offset 0x80: host NQN: heap reference past the end of the table (0x3f0 + 43 > 0x3f9)"
        );
    }

    #[test]
    fn control_not_valid_means_no_content() {
        let t = r760_with(|t| t[0x46] &= !VALID);
        let n = parse(&t).expect("decodes");
        assert_eq!(n.host, None);
        assert!(n.hfis.is_empty() && n.subsystems.is_empty() && n.discovery.is_empty());
        assert_eq!(n.dump(), "raw_nbft_size=1017\n");
    }

    #[test]
    fn hfi_index_out_of_range() {
        // SSNS 0 names primary HFI 9: libnvme drops that SSNS.
        let n = parse(&r760_with(|t| t[0xc0 + 46] = 9)).expect("decodes");
        assert_eq!(n.subsystems.len(), 1);
        assert_eq!(n.subsystems[0].index, 2);
        assert_eq!(
            n.problems,
            [desc_err(
                Desc::Ssns(0),
                0xc0,
                Problem::UnknownIndex {
                    what: "primary HFI",
                    index: 9,
                    list: "HFI"
                }
            )]
        );
        assert_eq!(
            n.problems[0].to_string(),
            "NBFT: SSNS descriptor 0 at offset 0xc0: primary HFI index 9 matches no HFI descriptor"
        );

        // A discovery descriptor naming HFI 7 stays, without the link.
        let n = parse(&r760_with(|t| t[0x1c0 + 3] = 7)).expect("decodes");
        assert_eq!(n.discovery.len(), 1);
        assert_eq!(n.discovery[0].hfi, None);
        assert_eq!(n.problems.len(), 1);

        // An SSNS naming discovery descriptor 5 stays, without the link.
        let n = parse(&r760_with(|t| t[0xc0 + 8] = 5)).expect("decodes");
        assert_eq!(n.subsystems.len(), 2);
        assert_eq!(n.subsystems[0].discovery, None);
        assert_eq!(n.subsystems[1].discovery, Some(1));
        assert_eq!(n.problems.len(), 1);

        // A secondary HFI 4 (the secondary list of SSNS 0 is at 0x305).
        let n = parse(&r760_with(|t| t[0x305] = 4)).expect("decodes");
        assert_eq!(n.subsystems[0].hfis, [1]);
        assert!(matches!(
            n.problems[..],
            [NbftError::Descriptor {
                desc: Desc::Ssns(0),
                problem: Problem::UnknownIndex { index: 4, .. },
                ..
            }]
        ));
    }

    #[test]
    fn heap_offset_past_the_end() {
        // The HFI's transport info moved past the end: the HFI goes, and
        // with it both SSNS (their primary HFI) and the discovery link.
        let n = parse(&r760_with(|t| put32(t, 0xa0 + 16, 0x3f0))).expect("decodes");
        assert!(n.hfis.is_empty() && n.subsystems.is_empty());
        assert_eq!(n.discovery.len(), 1);
        assert_eq!(n.discovery[0].hfi, None);
        assert_eq!(n.problems.len(), 4);
        assert_eq!(
            n.problems[0].to_string(),
            "NBFT: HFI descriptor 0 at offset 0xa0: transport info: heap reference past the end of the table (0x3f0 + 128 > 0x3f9)"
        );

        // The subsystem NQN of SSNS 1 past the end.
        let n = parse(&r760_with(|t| put32(t, 0x140 + 54, 0x3f8))).expect("decodes");
        assert_eq!(n.subsystems.len(), 1);
        assert!(matches!(
            n.problems[..],
            [NbftError::Descriptor {
                desc: Desc::Ssns(1),
                offset: 0x140,
                problem: Problem::HeapPastEnd {
                    field: "subsystem NQN",
                    ..
                },
            }]
        ));

        // Transport info too short for what we read.
        let n = parse(&r760_with(|t| put16(t, 0xa0 + 20, 100))).expect("decodes");
        assert!(n.hfis.is_empty());
        assert!(matches!(
            n.problems[0],
            NbftError::Descriptor {
                problem: Problem::TooSmall {
                    length: 100,
                    need: 110,
                    ..
                },
                ..
            }
        ));
    }

    #[test]
    fn faulty_extended_info_keeps_the_ssns() {
        // Wrong SSNS index in SSNS 0's extended info (heap 0x33f).
        let n = parse(&r760_with(|t| put16(t, 0x33f + 2, 2))).expect("decodes");
        assert_eq!(n.subsystems.len(), 2);
        assert_eq!(n.subsystems[0].controller_id, 0);
        assert_eq!(n.subsystems[1].controller_id, 4166);
        assert_eq!(
            n.problems,
            [desc_err(
                Desc::SsnsExtendedInfo(0),
                0x33f,
                Problem::IndexMismatch {
                    found: 2,
                    expected: 1
                }
            )]
        );
    }

    #[test]
    fn descriptors_not_valid_are_skipped_silently() {
        let n = parse(&r760_with(|t| t[0x1c0 + 1] = 0)).expect("decodes");
        assert!(n.discovery.is_empty());
        assert_eq!(n.subsystems[0].discovery, None);
        // The SSNS's discovery index now names nothing: that is noted.
        assert_eq!(n.problems.len(), 2);
        let n = parse(&r760_with(|t| put16(t, 0x140 + 3, 0))).expect("decodes");
        assert_eq!(n.subsystems.len(), 1);
        assert!(n.problems.is_empty());
    }

    /// SSNS flag and transport flag bits, and the extended info's
    /// administrative ASQSZ flag (SSNS 0: flags at 0xc3, transport flags at
    /// 0xc6, extended info in the heap at 0x33f, its ASQSZ field holds 32).
    #[test]
    fn ssns_flags() {
        // discovered, unavailable, header digest, data digest, ASQSZ
        type Decoded = (bool, bool, bool, bool, u16);
        let cases: &[(u16, u16, u32, Decoded)] = &[
            // flags, trflags, ext flags: discovered, unavailable, hdgst, ddgst, asqsz
            (0x51, 0, 1, (true, false, false, false, 0)),
            (0x11, 0, 1, (false, false, false, false, 0)),
            (
                0x51 | SSNS_UNAVAIL_NAMESPACE_UNAVAIL,
                0,
                1,
                (true, true, false, false, 0),
            ),
            // 0x80 under the mask is "available".
            (0x51 | 0x80, 0, 1, (true, false, false, false, 0)),
            (0x51, 0x07, 1, (true, false, true, true, 0)),
            (
                0x51,
                SSNS_PDU_HEADER_DIGEST,
                1,
                (true, false, true, false, 0),
            ),
            (0x51, 0, 3, (true, false, false, false, 32)),
        ];
        for &(flags, trflags, ext, expected) in cases {
            let t = r760_with(|t| {
                put16(t, 0xc0 + 3, flags);
                put16(t, 0xc0 + 6, trflags);
                put32(t, 0x33f + 4, ext);
            });
            let n = parse(&t).expect("decodes");
            let s = &n.subsystems[0];
            let got = (
                s.discovered,
                s.unavailable,
                s.pdu_header_digest_required,
                s.data_digest_required,
                s.asqsz,
            );
            assert_eq!(
                got, expected,
                "flags {flags:#x} trflags {trflags:#x} ext {ext:#x}"
            );
            assert_eq!(s.controller_id, 5);
        }
    }

    fn table_of(heap: &[u8], table_len: usize) -> (Vec<u8>, usize) {
        let start = table_len - heap.len();
        let mut b = vec![0u8; table_len];
        b[start..].copy_from_slice(heap);
        (b, start)
    }

    #[test]
    fn heap_strings() {
        type Case = (&'static [u8], u16, Result<Option<&'static str>, Problem>);
        let cases: &[Case] = &[
            (b"abc\0", 3, Ok(Some("abc"))),
            (b"abc\0", 4, Ok(Some("abc"))),
            (b"ab\0cd", 5, Ok(Some("ab"))),
            (b"\0", 1, Ok(Some(""))),
            (b"abc", 0, Ok(None)),
            (b"abcx", 3, Err(Problem::NotTerminated { field: "f" })),
            // No byte after the object inside the table.
            (b"abc", 3, Err(Problem::NotTerminated { field: "f" })),
            (b"\xff\xfe\0", 2, Err(Problem::NotUtf8 { field: "f" })),
        ];
        for (heap, length, expected) in cases {
            let (b, start) = table_of(heap, 64);
            let t = Table {
                bytes: &b,
                heap_start: start as u64,
                heap_end: 64,
            };
            let r = HeapRef {
                offset: start as u32,
                length: *length,
            };
            let got = t.heap_string(r, "f");
            let expected = expected.clone().map(|o| o.map(str::to_owned));
            assert_eq!(got, expected, "{heap:?} length {length}");
        }
    }

    #[test]
    fn heap_objects_are_bounded_by_table_and_heap() {
        let b = [0u8; 64];
        let t = Table {
            bytes: &b,
            heap_start: 32,
            heap_end: 48,
        };
        let r = |offset, length| HeapRef { offset, length };
        assert_eq!(t.heap_object(r(32, 16), "f"), Ok(Some(&b[32..48])));
        assert_eq!(t.heap_object(r(0, 0), "f"), Ok(None));
        assert!(matches!(
            t.heap_object(r(31, 2), "f"),
            Err(Problem::OutsideHeap { .. })
        ));
        assert!(matches!(
            t.heap_object(r(47, 2), "f"),
            Err(Problem::OutsideHeap { .. })
        ));
        assert!(matches!(
            t.heap_object(r(60, 5), "f"),
            Err(Problem::HeapPastEnd { .. })
        ));
        assert!(matches!(
            t.heap_object(r(u32::MAX, u16::MAX), "f"),
            Err(Problem::HeapPastEnd { .. })
        ));
    }

    /// Addresses as glibc's inet_ntop prints them (libnvme's output).
    #[test]
    fn ip_text_matches_glibc_inet_ntop() {
        let v6 = |w: [u16; 8]| {
            let mut b = [0u8; 16];
            for (i, x) in w.iter().enumerate() {
                b[2 * i..2 * i + 2].copy_from_slice(&x.to_be_bytes());
            }
            b
        };
        let cases: &[([u8; 16], &str)] = &[
            ([0; 16], "::"),
            (v6([0, 0, 0, 0, 0, 0, 0, 1]), "::1"),
            (v6([0x4321, 0, 0, 0, 0, 0, 0xbbbb, 2]), "4321::bbbb:2"),
            (v6([0x4321, 0xbbbb, 0, 0, 0, 0, 0, 1]), "4321:bbbb::1"),
            (v6([0xfe80, 0, 0, 0, 0, 0, 0, 0]), "fe80::"),
            (v6([1, 0, 0, 1, 0, 0, 0, 0]), "1:0:0:1::"),
            (v6([1, 0, 0, 2, 0, 0, 3, 4]), "1::2:0:0:3:4"),
            (v6([1, 0, 2, 0, 3, 0, 4, 0]), "1:0:2:0:3:0:4:0"),
            (v6([0xABCD, 0, 0, 0, 0, 0, 0, 0x00ef]), "abcd::ef"),
            // IPv4-compatible: glibc ends in dotted quad.
            (v6([0, 0, 0, 0, 0, 0, 0x0102, 0x0304]), "::1.2.3.4"),
            // IPv4-mapped: libnvme prints plain IPv4.
            (v6([0, 0, 0, 0, 0, 0xffff, 0xac12, 0xf001]), "172.18.240.1"),
            (v6([0, 0, 0, 0, 0, 0xffff, 0, 0]), "0.0.0.0"),
        ];
        for (bytes, text) in cases {
            assert_eq!(NtopIp(decode_ip(*bytes)).to_string(), *text, "{bytes:?}");
        }
    }

    #[test]
    fn hex_is_unpadded() {
        assert_eq!(Hex(&[0x00, 0x0f, 0x10, 0xff]).to_string(), "0f10ff");
    }

    /// Every index left in a decoding names a present descriptor.
    fn assert_links_resolve(n: &Nbft) {
        for s in &n.subsystems {
            assert!(!s.hfis.is_empty());
            assert!(s.hfis.iter().all(|&i| n.hfi(i).is_some()), "{s:?}");
            assert!(s
                .discovery
                .is_none_or(|i| n.discovery_by_index(i).is_some()));
            assert!(s.security.is_none_or(|i| n.security_by_index(i).is_some()));
        }
        for d in &n.discovery {
            assert!(d.hfi.is_none_or(|i| n.hfi(i).is_some()));
            assert!(d.security.is_none_or(|i| n.security_by_index(i).is_some()));
        }
    }

    fn exercise(t: &[u8]) {
        if let Ok(n) = parse(t) {
            assert_links_resolve(&n);
            let _ = n.dump();
            for p in &n.problems {
                let _ = p.to_string();
            }
        }
    }

    /// Fixed-seed xorshift64 (Marsaglia 2003).
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Every byte of two real tables changed in turn, the checksum made
    /// right so decoding gets past it; decoding must never panic.
    #[test]
    fn single_byte_changes_never_panic() {
        for base in [R760, MPATH] {
            for i in 0..base.len() {
                let b = base[i];
                for v in [b ^ 0xff, b ^ 0x01, b ^ 0x80, b.wrapping_add(1), 0, 0xff] {
                    let mut t = base.to_vec();
                    t[i] = v;
                    exercise(&t);
                    if i != 9 {
                        fix_checksum(&mut t);
                        exercise(&t);
                    }
                }
            }
        }
    }

    #[test]
    fn random_mutations_never_panic() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for round in 0..5000 {
            let base = if round % 2 == 0 { R760 } else { MPATH };
            let mut t = base.to_vec();
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(t.len());
                t[at] = rng.next() as u8;
            }
            match rng.below(8) {
                0 => t.truncate(rng.below(base.len())),
                1 => t.extend((0..rng.below(64)).map(|_| rng.next() as u8)),
                _ => {}
            }
            if rng.below(4) != 0 {
                fix_checksum(&mut t);
            }
            exercise(&t);
        }
        // Pure noise with a plausible header.
        for _ in 0..500 {
            let len = 128 + rng.below(1024);
            let mut t: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            t[..4].copy_from_slice(&SIGNATURE);
            put32(&mut t, 4, len as u32);
            t[8] = 1;
            t[50] = 0;
            fix_checksum(&mut t);
            exercise(&t);
        }
    }
}
