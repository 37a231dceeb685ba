//! Decoding the bytes of one table ([`parse`]) and of every `NBFT*` file
//! of a directory ([`read_all`]): bounds-checked little-endian reads,
//! heap object references, descriptor lists (checks as in the module
//! docs of `nbft`).

use super::errors::*;
use super::records::*;
use std::io;
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};

/// Little-endian reads from a slice whose length was checked beforehand.
/// A read outside the slice yields zeros instead of panicking; the length
/// checks make that unreachable, this keeps decoding panic-free by
/// construction.
#[derive(Clone, Copy)]
pub(super) struct Le<'a>(pub(super) &'a [u8]);

impl Le<'_> {
    pub(super) fn u8(self, at: usize) -> u8 {
        self.0.get(at).copied().unwrap_or(0)
    }

    pub(super) fn u16(self, at: usize) -> u16 {
        u16::from_le_bytes(self.array(at))
    }

    pub(super) fn u32(self, at: usize) -> u32 {
        u32::from_le_bytes(self.array(at))
    }

    pub(super) fn array<const N: usize>(self, at: usize) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some(src) = at.checked_add(N).and_then(|end| self.0.get(at..end)) {
            out.copy_from_slice(src);
        }
        out
    }

    /// A heap object reference: 32-bit offset, 16-bit length.
    pub(super) fn heap_ref(self, at: usize) -> HeapRef {
        HeapRef {
            offset: self.u32(at),
            length: self.u16(at.saturating_add(4)),
        }
    }

    pub(super) fn ip(self, at: usize) -> IpAddr {
        decode_ip(self.array(at))
    }
}

/// IPv4-mapped addresses become IPv4 (libnvme `format_ip_addr`).
pub(super) fn decode_ip(bytes: [u8; IP_SIZE]) -> IpAddr {
    let v6 = Ipv6Addr::from(bytes);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) struct HeapRef {
    pub(super) offset: u32,
    pub(super) length: u16,
}

/// The table (exactly `Length` bytes) and its heap bounds.
pub(super) struct Table<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) heap_start: u64,
    pub(super) heap_end: u64,
}

impl<'a> Table<'a> {
    pub(super) fn end(&self) -> u64 {
        self.bytes.len() as u64
    }

    pub(super) fn slice(&self, offset: u64, length: u64) -> Option<&'a [u8]> {
        let start = usize::try_from(offset).ok()?;
        let end = usize::try_from(offset.checked_add(length)?).ok()?;
        self.bytes.get(start..end)
    }

    /// `size` bytes of a descriptor at `offset`.
    pub(super) fn descriptor(&self, offset: u64, size: usize) -> Result<Le<'a>, Problem> {
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
    pub(super) fn heap_object(
        &self,
        r: HeapRef,
        field: &'static str,
    ) -> Result<Option<&'a [u8]>, Problem> {
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
    pub(super) fn heap_struct(
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
    pub(super) fn heap_string(
        &self,
        r: HeapRef,
        field: &'static str,
    ) -> Result<Option<String>, Problem> {
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
    pub(super) fn list(
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
        let err = in_desc(desc, offset);
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
    let err = in_desc(Desc::Control, control_offset);
    let control = t.descriptor(control_offset, CONTROL_SIZE).map_err(err)?;
    // libnvme returns an empty, successful decoding for a control
    // descriptor that is not valid.
    if control.u8(6) & VALID == 0 {
        return Ok(nbft);
    }
    structure_id(control, ID_CONTROL).map_err(err)?;

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

/// An error of descriptor `desc`, which starts at `offset` in the table.
fn in_desc(desc: Desc, offset: u64) -> impl Fn(Problem) -> NbftError + Copy {
    move |problem| NbftError::Descriptor {
        desc,
        offset,
        problem,
    }
}

/// Every NBFT structure starts with its Structure ID (NBFT 1.0, the first
/// byte of each descriptor); a structure with another one is not the one
/// its reference promised.
fn structure_id(d: Le<'_>, expected: u8) -> Result<(), Problem> {
    match d.u8(0) {
        found if found == expected => Ok(()),
        found => Err(Problem::StructureId { found, expected }),
    }
}

/// A fixed-width ACPI text field: trailing spaces and NULs are padding.
pub(super) fn ascii_field(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .trim_end_matches([' ', '\0'])
        .to_owned()
}

pub(super) fn read_host(t: &Table<'_>, control: Le<'_>) -> Result<Host, NbftError> {
    // The Host Descriptor location is an (offset, length) pair at 8; like
    // libnvme we read the fixed 1.0 descriptor at that offset.
    let offset = u64::from(control.u32(8));
    let err = in_desc(Desc::Host, offset);
    let d = t.descriptor(offset, HOST_SIZE).map_err(err)?;
    let flags = d.u8(1);
    if flags & HOST_VALID == 0 {
        return Err(err(Problem::NotValid));
    }
    structure_id(d, ID_HOST).map_err(err)?;
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
pub(super) fn read_hfi(
    t: &Table<'_>,
    n: usize,
    offset: u64,
    d: Le<'_>,
    problems: &mut Vec<NbftError>,
) -> Result<Option<Hfi>, NbftError> {
    let err = in_desc(Desc::Hfi(n), offset);
    if d.u8(2) & VALID == 0 {
        return Ok(None);
    }
    structure_id(d, ID_HFI).map_err(err)?;
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
    let ti_err = in_desc(Desc::HfiTransportInfo(n), u64::from(trinfo_ref.offset));
    let flags = ti.u8(6);
    if flags & HFI_TCP_VALID == 0 {
        return Err(ti_err(Problem::NotValid));
    }
    structure_id(ti, ID_HFI_TRINFO).map_err(ti_err)?;
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

pub(super) fn read_security(
    t: &Table<'_>,
    n: usize,
    offset: u64,
    d: Le<'_>,
) -> Result<Option<Security>, NbftError> {
    let err = in_desc(Desc::Security(n), offset);
    let flags = d.u16(2);
    if flags & u16::from(VALID) == 0 {
        return Ok(None);
    }
    structure_id(d, ID_SECURITY).map_err(err)?;
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
pub(super) fn link(
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

pub(super) fn read_discovery(
    t: &Table<'_>,
    nbft: &Nbft,
    n: usize,
    offset: u64,
    d: Le<'_>,
) -> Result<WithProblems<Discovery>, NbftError> {
    let err = in_desc(Desc::Discovery(n), offset);
    if d.u8(1) & VALID == 0 {
        return Ok(None);
    }
    structure_id(d, ID_DISCOVERY).map_err(err)?;
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

pub(super) fn read_ssns(
    t: &Table<'_>,
    nbft: &Nbft,
    n: usize,
    offset: u64,
    d: Le<'_>,
) -> Result<WithProblems<SubsystemNs>, NbftError> {
    let err = in_desc(Desc::Ssns(n), offset);
    let flags = d.u16(3);
    if flags & SSNS_VALID == 0 {
        return Ok(None);
    }
    structure_id(d, ID_SSNS).map_err(err)?;
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

pub(super) fn read_ssns_ext_info(
    t: &Table<'_>,
    r: HeapRef,
    ssns: &mut SubsystemNs,
) -> Result<(), Problem> {
    let Some(e) = t.heap_struct(r, "extended info", SSNS_EXT_SIZE)? else {
        return Ok(());
    };
    structure_id(e, ID_SSNS_EXT_INFO)?;
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
    paths.sort_unstable();
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
