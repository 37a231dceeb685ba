//! What can be wrong with an NBFT: the descriptor a fault is in ([`Desc`]),
//! the fault ([`Problem`]) and the error that rejects a whole table
//! ([`NbftError`]), each with a message that names the place.

use std::fmt;
use std::io;

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

/// Why a table (or one of its descriptors, see [`Nbft::problems`](crate::sources::boot::nbft::records::Nbft::problems)) was not
/// decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NbftError {
    /// The file could not be read ([`read_all`](crate::sources::boot::nbft::parse::read_all)).
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
