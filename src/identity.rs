//! The identity of an I/O controller: what makes two controllers "the same".
//!
//! Seven fields, as nvme-stas's transport identifier (stacd-spec.md §3.1):
//! transport, traddr, trsvcid, subsysnqn, host-traddr, host-iface, host-nqn.
//! Connect parameters (kato, queues, secrets...) live beside it in
//! [`crate::params`], never in it. Kernel limits are enforced here, at parse
//! time, with bounded strings, so nothing longer than the kernel accepts can
//! reach `/dev/nvme-fabrics`.

use std::fmt;

/// `NVMF_NQN_SIZE` (kernel `include/linux/nvme.h`): an NQN is at most 223
/// bytes (the 256-byte field keeps room for the terminator and padding).
pub const NQN_MAX: usize = 223;
/// `NVMF_TRADDR_SIZE` (kernel `include/linux/nvme.h`).
pub const TRADDR_MAX: usize = 256;
/// `NVMF_TRSVCID_SIZE` (kernel `include/linux/nvme.h`).
pub const TRSVCID_MAX: usize = 32;
/// `IFNAMSIZ` - 1 (kernel `include/uapi/linux/if.h`).
pub const IFACE_MAX: usize = 15;

pub type Nqn = heapless::String<NQN_MAX>;
pub type Traddr = heapless::String<TRADDR_MAX>;
pub type Trsvcid = heapless::String<TRSVCID_MAX>;
pub type Iface = heapless::String<IFACE_MAX>;

/// The well-known discovery subsystem NQN (NVMe Base Specification, 4.7).
pub const DISCOVERY_NQN: &str = "nqn.2014-08.org.nvmexpress.discovery";
/// IANA port of NVMe/TCP and NVMe/RDMA I/O controllers.
pub const IO_PORT: &str = "4420";
/// IANA port of NVMe/TCP discovery controllers.
pub const DISCOVERY_PORT: &str = "8009";

/// Fabrics transports stacd connects. PCIe controllers are never ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Transport {
    Tcp,
    Rdma,
    Fc,
    Loop,
}

impl Transport {
    /// Parse the exact, lower-case spelling used by the kernel
    /// (`NVME_TRTYPE`, `transport=`) and by nvme-stas (case-sensitive, §2.4).
    pub fn parse(s: &str) -> Option<Transport> {
        match s {
            "tcp" => Some(Transport::Tcp),
            "rdma" => Some(Transport::Rdma),
            "fc" => Some(Transport::Fc),
            "loop" => Some(Transport::Loop),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Rdma => "rdma",
            Transport::Fc => "fc",
            Transport::Loop => "loop",
        }
    }

    /// tcp and rdma address their controllers by IP address and port.
    pub fn is_ip(self) -> bool {
        matches!(self, Transport::Tcp | Transport::Rdma)
    }

    /// The port used when an I/O controller entry gives none. nvme-stas uses
    /// 8009 for tcp (§2.4, a documented bug, §11.1 #4); we use the IANA
    /// I/O port 4420 (DESIGN.md decisions). fc and loop have no port.
    pub fn default_io_port(self) -> &'static str {
        if self.is_ip() {
            IO_PORT
        } else {
            ""
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a set of fields cannot be an identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdError {
    /// A required field is missing or empty.
    Missing(&'static str),
    /// A field is longer than the kernel accepts.
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    /// A transport stacd does not know.
    Transport(String),
    /// A character the kernel option parser would split on.
    BadChar { field: &'static str, ch: char },
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdError::Missing(k) => write!(f, "{k} is missing"),
            IdError::TooLong { field, len, max } => {
                write!(
                    f,
                    "{field} is {len} bytes long, the kernel accepts at most {max}"
                )
            }
            IdError::Transport(t) => {
                write!(
                    f,
                    "invalid transport \"{t}\" (expected tcp, rdma, fc or loop)"
                )
            }
            IdError::BadChar { field, ch } => {
                write!(
                    f,
                    "{field} contains {ch:?}, which cannot be passed to the kernel"
                )
            }
        }
    }
}

impl std::error::Error for IdError {}

/// Copy `s` into a bounded string, naming `field` when it does not fit or
/// carries a character that would break the kernel's comma-separated option
/// string (kernel `drivers/nvme/host/fabrics.c`, `nvmf_parse_options`, splits
/// on `,` and `\n`).
pub fn bounded<const N: usize>(
    field: &'static str,
    s: &str,
) -> Result<heapless::String<N>, IdError> {
    if let Some(ch) = s.chars().find(|c| matches!(c, ',' | '\n' | '\0')) {
        return Err(IdError::BadChar { field, ch });
    }
    heapless::String::try_from(s).map_err(|_| IdError::TooLong {
        field,
        len: s.len(),
        max: N,
    })
}

/// The seven fields that identify an I/O controller (§3.1). Equality is
/// exact on every field; the semantic comparison with a kernel device (IPv6
/// spellings, src_addr...) is [`crate::matching`]'s job.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Identity {
    pub transport: Transport,
    pub traddr: Traddr,
    pub trsvcid: Trsvcid,
    pub subsysnqn: Nqn,
    pub host_traddr: Traddr,
    pub host_iface: Iface,
    pub host_nqn: Nqn,
}

/// The fields of an identity as text, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdFields<'a> {
    pub transport: &'a str,
    pub traddr: &'a str,
    pub trsvcid: &'a str,
    pub subsysnqn: &'a str,
    pub host_traddr: &'a str,
    pub host_iface: &'a str,
    pub host_nqn: &'a str,
}

impl Identity {
    /// Build an I/O controller identity. An empty trsvcid takes the
    /// transport's default port; fc and loop never carry one (§3.1). traddr
    /// is required except for loop; subsysnqn and host-nqn are required.
    pub fn new(f: &IdFields<'_>) -> Result<Identity, IdError> {
        let transport =
            Transport::parse(f.transport).ok_or_else(|| IdError::Transport(f.transport.into()))?;
        if f.traddr.is_empty() && transport != Transport::Loop {
            return Err(IdError::Missing("traddr"));
        }
        if f.subsysnqn.is_empty() {
            return Err(IdError::Missing("subsysnqn"));
        }
        if f.host_nqn.is_empty() {
            return Err(IdError::Missing("host-nqn"));
        }
        let trsvcid = match transport {
            Transport::Fc | Transport::Loop => "",
            _ if f.trsvcid.is_empty() => transport.default_io_port(),
            _ => f.trsvcid,
        };
        Ok(Identity {
            transport,
            traddr: bounded("traddr", f.traddr)?,
            trsvcid: bounded("trsvcid", trsvcid)?,
            subsysnqn: bounded("subsysnqn", f.subsysnqn)?,
            host_traddr: bounded("host-traddr", f.host_traddr)?,
            host_iface: bounded("host-iface", f.host_iface)?,
            host_nqn: bounded("host-nqn", f.host_nqn)?,
        })
    }

    /// The identity as nvme-stas's ordered "as-map" (§3.1), the keys used in
    /// D-Bus replies, exclusion patterns and the state file.
    pub fn as_pairs(&self) -> [(&'static str, &str); 7] {
        [
            ("traddr", &self.traddr),
            ("trsvcid", &self.trsvcid),
            ("transport", self.transport.as_str()),
            ("subsysnqn", &self.subsysnqn),
            ("host-iface", &self.host_iface),
            ("host-traddr", &self.host_traddr),
            ("host-nqn", &self.host_nqn),
        ]
    }
}

/// nvme-stas's display form (§3.1): `(transport, traddr, trsvcid[, subsysnqn]
/// [, host-iface][, host-traddr])`. host-nqn is never shown; used in every
/// log message about a controller so logs compare line by line.
impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {}, {}", self.transport, self.traddr, self.trsvcid)?;
        for v in [&self.subsysnqn[..], &self.host_iface, &self.host_traddr] {
            if !v.is_empty() {
                write!(f, ", {v}")?;
            }
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "nqn.2014-08.org.nvmexpress:uuid:01234567-0123-0123-0123-0123456789ab";

    fn id(t: &str, a: &str, s: &str, n: &str) -> Result<Identity, IdError> {
        Identity::new(&IdFields {
            transport: t,
            traddr: a,
            trsvcid: s,
            subsysnqn: n,
            host_nqn: HOST,
            ..Default::default()
        })
    }

    // stacd-spec.md §10.2 (the original's test-transport_id.py) and §3.1.
    #[test]
    fn fields_read_back_and_display() {
        let t = Identity::new(&IdFields {
            transport: "tcp",
            traddr: "10.10.10.10",
            trsvcid: "8009",
            subsysnqn: "nqn.1988-11.com.dell:SFSS:2:20220208134025e8",
            host_traddr: "1.2.3.4",
            host_iface: "wlp0s20f3",
            host_nqn: "nqn.1988-11.com.dell:12345",
        })
        .unwrap();
        assert_eq!(
            t.to_string(),
            "(tcp, 10.10.10.10, 8009, nqn.1988-11.com.dell:SFSS:2:20220208134025e8, wlp0s20f3, 1.2.3.4)"
        );
        let pairs = t.as_pairs();
        assert_eq!(pairs.len(), 7);
        assert_eq!(pairs[6], ("host-nqn", "nqn.1988-11.com.dell:12345"));
        assert_eq!(t, t.clone());
    }

    #[test]
    fn default_ports_and_display_forms() {
        // DESIGN.md: tcp I/O controllers default to 4420, not 8009.
        assert_eq!(
            id("tcp", "1.1.1.1", "", "x").unwrap().to_string(),
            "(tcp, 1.1.1.1, 4420, x)"
        );
        assert_eq!(
            id("rdma", "1.1.1.1", "", "x").unwrap().to_string(),
            "(rdma, 1.1.1.1, 4420, x)"
        );
        // fc/loop: trsvcid emptied even when given; its slot stays.
        assert_eq!(
            id("fc", "nn-0x1:pn-0x2", "99", "x").unwrap().to_string(),
            "(fc, nn-0x1:pn-0x2, , x)"
        );
        assert_eq!(
            id("loop", "", "", "x").unwrap().to_string(),
            "(loop, , , x)"
        );
    }

    #[test]
    fn equality_is_literal() {
        assert_ne!(
            id("tcp", "FE80::1", "", "x").unwrap(),
            id("tcp", "fe80::1", "", "x").unwrap()
        );
        assert_ne!(
            id("tcp", "1.1.1.1", "", "x").unwrap(),
            id("tcp", "1.1.1.2", "", "x").unwrap()
        );
    }

    #[test]
    fn kernel_limits_and_required_fields() {
        let long = format!("nqn.{}", "a".repeat(220));
        assert_eq!(
            id("tcp", "1.1.1.1", "", &long),
            Err(IdError::TooLong {
                field: "subsysnqn",
                len: 224,
                max: 223
            })
        );
        assert!(id("tcp", "1.1.1.1", "", &long[..223]).is_ok());
        assert_eq!(id("tcp", "", "", "x"), Err(IdError::Missing("traddr")));
        assert_eq!(
            id("tcp", "1.1.1.1", "", ""),
            Err(IdError::Missing("subsysnqn"))
        );
        assert_eq!(
            id("TCP", "1.1.1.1", "", "x"),
            Err(IdError::Transport("TCP".into()))
        );
        assert_eq!(
            id("tcp", "1.1.1.1,nr_io_queues=1", "", "x"),
            Err(IdError::BadChar {
                field: "traddr",
                ch: ','
            })
        );
    }
}
