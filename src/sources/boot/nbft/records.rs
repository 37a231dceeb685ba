//! The NBFT as typed, owned values: the header, host, HFI, SSNS, security
//! and discovery records, and the structure IDs, sizes and flag bits of
//! the NVM Express Boot Specification 1.0 (Figures 5-24) that decoding
//! and the dump use.

use super::errors::NbftError;
use std::net::IpAddr;

/// ACPI table signature (Boot Spec Figure 8).
pub const SIGNATURE: [u8; 4] = *b"NBFT";

/// HFI and SSNS transport type NVMe/TCP (Figure 7), the only one defined.
pub const TRTYPE_TCP: u8 = 3;

// Sizes of the revision 1.0 structures (Figures 8-24).
pub(super) const HEADER_SIZE: usize = 64;
pub(super) const CONTROL_SIZE: usize = 64;
pub(super) const HOST_SIZE: usize = 32;
pub(super) const HFI_SIZE: usize = 32;
/// The TCP transport info descriptor is 128 bytes; what we read ends with
/// the Host Name heap object reference at 104..110.
pub(super) const HFI_TCP_NEEDED: usize = 110;
pub(super) const SSNS_SIZE: usize = 128;
pub(super) const SSNS_EXT_SIZE: usize = 18;
pub(super) const SECURITY_SIZE: usize = 64;
pub(super) const DISCOVERY_SIZE: usize = 32;
/// IP addresses are 16 bytes, IPv4 stored IPv4-mapped (::ffff:a.b.c.d).
pub(super) const IP_SIZE: usize = 16;

// Structure IDs (Figure 5).
pub(super) const ID_CONTROL: u8 = 1;
pub(super) const ID_HOST: u8 = 2;
pub(super) const ID_HFI: u8 = 3;
pub(super) const ID_SSNS: u8 = 4;
pub(super) const ID_SECURITY: u8 = 5;
pub(super) const ID_DISCOVERY: u8 = 6;
pub(super) const ID_HFI_TRINFO: u8 = 7;
pub(super) const ID_SSNS_EXT_INFO: u8 = 9;

/// Bit 0 of every descriptor's flags: Descriptor Valid.
pub(super) const VALID: u8 = 1 << 0;

/// Host descriptor flags (Figure 9).
pub const HOST_VALID: u8 = 1 << 0;
pub const HOST_HOSTID_CONFIGURED: u8 = 1 << 1;
pub const HOST_HOSTNQN_CONFIGURED: u8 = 1 << 2;
pub const HOST_PRIMARY_ADMIN_MASK: u8 = 0x18;
pub(super) const HOST_PRIMARY_ADMIN_SHIFT: u8 = 3;

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
pub(super) const SSNS_EXT_INFO_VALID: u32 = 1 << 0;
pub(super) const SSNS_EXT_INFO_ADMIN_ASQSZ: u32 = 1 << 1;

/// Namespace identifier types (NVMe base spec, Namespace Identification
/// Descriptor NIDT), as stored in [`SubsystemNs::nid_type`].
pub const NID_TYPE_NONE: u8 = 0;
pub const NID_TYPE_EUI64: u8 = 1;
pub const NID_TYPE_NGUID: u8 = 2;
pub const NID_TYPE_UUID: u8 = 3;

/// One decoded NBFT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nbft {
    /// Size of the bytes given to [`parse`](crate::sources::boot::nbft::parse::parse) (libnvme's `raw_nbft_size`).
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

/// What a security profile says of one feature: a two-bit field of its
/// flags (Figure 22; docs/auth-tls.md section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    NotSupported,
    NotRequired,
    /// Also the reserved value 3: a field we cannot read is taken as the
    /// strictest, so that a path is skipped rather than connected with
    /// less than the firmware asked for.
    Required,
}

impl Security {
    fn field(&self, shift: u16) -> Requirement {
        match (self.flags >> shift) & 3 {
            0 => Requirement::NotSupported,
            1 => Requirement::NotRequired,
            _ => Requirement::Required,
        }
    }

    /// In-band authentication (DH-HMAC-CHAP), flags bits 2:1.
    pub fn in_band_auth(&self) -> Requirement {
        self.field(1)
    }

    /// Secure channel negotiation (NVMe/TCP TLS), flags bits 6:5.
    pub fn secure_channel(&self) -> Requirement {
        self.field(5)
    }
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

pub(super) fn transport_name(trtype: u8) -> &'static str {
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
}
