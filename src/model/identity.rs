//! The identity of an I/O controller: what makes two controllers "the same",
//! and the one validating type every value of the kernel's option string
//! passes through where it enters the program.
//!
//! Seven fields, as nvme-stas's transport identifier (docs/design.md §3.1):
//! transport, traddr, trsvcid, subsysnqn, host-traddr, host-iface, host-nqn.
//! Connect parameters (kato, queues, secrets...) live beside it in
//! [`crate::model::params`], never in it.
//!
//! [`Value`] is that type: text with nothing the kernel's option parser
//! would split on (`,`, and `\n`, kernel `drivers/nvme/host/fabrics.c`,
//! `nvmf_parse_options`), no NUL (the kernel copies the write with
//! `memdup_user_nul` and would stop there) and no other control character
//! (which would forge log lines), no longer than the kernel's field. The
//! identity's constructor also gives each field its one spelling
//! (docs/configuration.md, "What stacd validates"): IP addresses as
//! RFC 5952 text with IPv4-mapped IPv6 as IPv4, ports as plain decimal,
//! host names in lower case — the kernel compares these as strings
//! (`nvmf_ip_options_match`), so two spellings of one path would be two
//! controllers. An identity is shared, not copied (an `Arc`): the engine,
//! the plan and the D-Bus view hold the same one.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

/// `NVMF_NQN_SIZE` (kernel `include/linux/nvme.h`): an NQN is at most 223
/// bytes (the 256-byte field keeps room for the terminator and padding).
pub const NQN_MAX: usize = 223;
/// `NVMF_TRADDR_SIZE` (kernel `include/linux/nvme.h`).
pub const TRADDR_MAX: usize = 256;
/// `NVMF_TRSVCID_SIZE` (kernel `include/linux/nvme.h`).
pub const TRSVCID_MAX: usize = 32;
/// `IFNAMSIZ` - 1 (kernel `include/uapi/linux/if.h`).
pub const IFACE_MAX: usize = 15;

pub type Nqn = Value<NQN_MAX>;
pub type Traddr = Value<TRADDR_MAX>;
pub type Trsvcid = Value<TRSVCID_MAX>;
pub type Iface = Value<IFACE_MAX>;

/// Text that may be one value of the option string written to
/// `/dev/nvme-fabrics`: at most `MAX` bytes, no `,` and no control
/// character (`\n`, NUL, escape sequences...). The only constructor is
/// [`Value::new`], so a value of this type has been checked.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Value<const MAX: usize>(Box<str>);

impl<const MAX: usize> Value<MAX> {
    /// `s` checked for `field` (named in the error).
    pub fn new(field: &'static str, s: &str) -> Result<Self, IdError> {
        if let Some(ch) = s.chars().find(|&c| c == ',' || c.is_control()) {
            return Err(IdError::BadChar { field, ch });
        }
        if s.len() > MAX {
            return Err(IdError::TooLong {
                field,
                len: s.len(),
                max: MAX,
            });
        }
        Ok(Value(s.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> std::ops::Deref for Value<MAX> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> fmt::Display for Value<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const MAX: usize> fmt::Debug for Value<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl<const MAX: usize> PartialEq<str> for Value<MAX> {
    fn eq(&self, o: &str) -> bool {
        &*self.0 == o
    }
}

impl<const MAX: usize> PartialEq<&str> for Value<MAX> {
    fn eq(&self, o: &&str) -> bool {
        &*self.0 == *o
    }
}

/// A host ID (`hostid=`): the kernel parses it with `uuid_parse`
/// (kernel `fabrics.c`), so nothing but a UUID can be one. Shown in
/// lower case.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostId([u8; 16]);

impl HostId {
    /// `8-4-4-4-12` hexadecimal digits (either case), nothing else.
    pub fn parse(s: &str) -> Option<HostId> {
        let b = s.as_bytes();
        if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
            return None;
        }
        let mut out = [0u8; 16];
        let mut digits = b.iter().filter(|&&c| c != b'-');
        for o in &mut out {
            let hi = (*digits.next()? as char).to_digit(16)?;
            let lo = (*digits.next()? as char).to_digit(16)?;
            *o = (hi << 4 | lo) as u8;
        }
        Some(HostId(out))
    }

    /// The 16 bytes of an NBFT host descriptor; all zeros: none.
    pub fn from_bytes(b: &[u8; 16]) -> Option<HostId> {
        b.iter().any(|&x| x != 0).then_some(HostId(*b))
    }
}

impl fmt::Display for HostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, x) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{x:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for HostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

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
    /// I/O port 4420 (docs/design.md D9). fc and loop have no port.
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
    /// A character the kernel option parser would split on, or a control
    /// character.
    BadChar { field: &'static str, ch: char },
    /// A value of the wrong form: `field` is not `want` (`value` as given,
    /// shortened for messages).
    Invalid {
        field: &'static str,
        value: String,
        want: &'static str,
    },
}

/// `s` for a message: quoted and escaped, at most 64 characters of it.
pub fn quoted(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((i, _)) => format!("{:?}...", &s[..i]),
        None => format!("{s:?}"),
    }
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
                    "invalid transport {} (expected tcp, rdma, fc or loop)",
                    quoted(t)
                )
            }
            IdError::BadChar { field, ch } => {
                write!(
                    f,
                    "{field} contains {ch:?}, which cannot be passed to the kernel"
                )
            }
            IdError::Invalid { field, value, want } => {
                write!(f, "{field} {} is not {want}", quoted(value))
            }
        }
    }
}

impl std::error::Error for IdError {}

/// `s` as a [`Value`] for `field` (kept for the callers that named it so).
pub fn bounded<const N: usize>(field: &'static str, s: &str) -> Result<Value<N>, IdError> {
    Value::new(field, s)
}

/// The one spelling of an IP address literal: RFC 5952 text for IPv6 (lower
/// case, longest run of zeros compressed), an IPv4-mapped IPv6 address as
/// its IPv4 address — `::ffff:a.b.c.d` is IPv4 on the wire (kernel
/// `net/ipv6/tcp_ipv6.c`, `tcp_v6_connect` hands it to `tcp_v4_connect`),
/// and nvme-stas matches it as IPv4 (docs/design.md §4.4). A zone
/// (`fe80::1%eth0`) is kept for a link-local address, the only kind the
/// kernel reads it for (`net/core/utils.c`, `inet6_pton`), and dropped
/// elsewhere. `None`: not an IP address literal.
pub fn canonical_ip(s: &str) -> Option<String> {
    // `[2001:db8::1]`, as URIs and stacd.conf's examples write IPv6.
    let s = match s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        Some(inner) if inner.contains(':') => inner,
        _ => s,
    };
    let (addr, zone) = match s.split_once('%') {
        Some((a, z)) => (a, Some(z)),
        None => (s, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    match (ip.to_canonical(), zone) {
        (ip, None) => Some(ip.to_string()),
        (IpAddr::V6(v6), Some(z)) if iface_ok(z) => Some(if v6.is_unicast_link_local() {
            format!("{v6}%{z}")
        } else {
            v6.to_string()
        }),
        _ => None,
    }
}

/// An interface name the kernel could have (`dev_valid_name`, kernel
/// `net/core/dev.c`): 1 to 15 bytes, not `.` or `..`, no `/`, `:` or
/// white space.
fn iface_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= IFACE_MAX
        && s != "."
        && s != ".."
        && !s.contains(|c: char| c == '/' || c == ':' || c == '%' || c.is_whitespace())
}

/// A host name (RFC 1123 labels, `_` allowed as resolvers do), up to 253
/// bytes, in lower case.
fn host_name(s: &str) -> Option<String> {
    let ok = s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    ok.then(|| s.to_ascii_lowercase())
}

/// The seven fields that identify an I/O controller (§3.1), each in its
/// one spelling. Equality is exact on every field; the semantic comparison
/// with a kernel device (spellings of other programs, src_addr...) is
/// [`crate::reconcile::matching`]'s job. Cloning shares the fields.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Identity(Arc<IdParts>);

/// The fields of an [`Identity`], read through it (`id.traddr`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IdParts {
    pub transport: Transport,
    pub traddr: Traddr,
    pub trsvcid: Trsvcid,
    pub subsysnqn: Nqn,
    pub host_traddr: Traddr,
    pub host_iface: Iface,
    pub host_nqn: Nqn,
}

impl std::ops::Deref for Identity {
    type Target = IdParts;
    fn deref(&self) -> &IdParts {
        &self.0
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
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

/// tcp/rdma `traddr`: an IP address (canonical) or a host name to resolve
/// (lower case); fc/loop: as given.
fn address(ip: bool, field: &'static str, s: &str) -> Result<Traddr, IdError> {
    let v = Value::new(field, s)?;
    if !ip || s.is_empty() {
        return Ok(v);
    }
    let text = canonical_ip(s)
        .or_else(|| host_name(s))
        .ok_or(IdError::Invalid {
            field,
            value: s.into(),
            want: "an IP address or a host name",
        })?;
    Value::new(field, &text)
}

impl Identity {
    /// Build an I/O controller identity. An empty trsvcid takes the
    /// transport's default port; fc and loop never carry one (§3.1). traddr
    /// is required except for loop; subsysnqn and host-nqn are required.
    /// tcp and rdma take a port number and IP addresses (traddr may also
    /// be a host name, resolved later by [`crate::desired`]); host-iface
    /// must be a possible interface name; `none` (the kernel's word for
    /// unset, `NVME_HOST_TRADDR=none`) is empty.
    pub fn new(f: &IdFields<'_>) -> Result<Identity, IdError> {
        let transport =
            Transport::parse(f.transport).ok_or_else(|| IdError::Transport(f.transport.into()))?;
        let ip = transport.is_ip();
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
        // kstrtou16 with base 0 (kernel `inet_pton_with_scope`) reads
        // `0x1144` and `04420` (octal): only plain decimal is one port.
        let port_ok = !trsvcid.starts_with(['0', '+']) && trsvcid.parse::<u16>().is_ok();
        if ip && !port_ok {
            return Err(IdError::Invalid {
                field: "trsvcid",
                value: trsvcid.into(),
                want: "a port number (1-65535)",
            });
        }
        fn none(s: &str) -> &str {
            if s == "none" {
                ""
            } else {
                s
            }
        }
        let host_traddr = none(f.host_traddr);
        let host_traddr = match canonical_ip(host_traddr) {
            Some(c) if ip => Value::new("host-traddr", &c)?,
            None if ip && !host_traddr.is_empty() => {
                Value::<TRADDR_MAX>::new("host-traddr", host_traddr)?;
                return Err(IdError::Invalid {
                    field: "host-traddr",
                    value: host_traddr.into(),
                    want: "an IP address",
                });
            }
            _ => Value::new("host-traddr", host_traddr)?,
        };
        let host_iface = Value::new("host-iface", none(f.host_iface))?;
        if !host_iface.is_empty() && !iface_ok(&host_iface) {
            return Err(IdError::Invalid {
                field: "host-iface",
                value: host_iface.to_string(),
                want: "an interface name",
            });
        }
        Ok(Identity(Arc::new(IdParts {
            transport,
            traddr: address(ip, "traddr", f.traddr)?,
            trsvcid: Value::new("trsvcid", trsvcid)?,
            subsysnqn: Value::new("subsysnqn", f.subsysnqn)?,
            host_traddr,
            host_iface,
            host_nqn: Value::new("host-nqn", f.host_nqn)?,
        })))
    }

    /// An identity from its parts, unchecked across fields (each field is
    /// a [`Value`] already): tests only.
    #[cfg(test)]
    pub(crate) fn from_parts(p: IdParts) -> Identity {
        Identity(Arc::new(p))
    }

    /// The fields, to change one: tests only.
    #[cfg(test)]
    pub(crate) fn edit(&mut self) -> &mut IdParts {
        Arc::make_mut(&mut self.0)
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

    // docs/design.md §10.2 (the original's test-transport_id.py) and §3.1.
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
        // docs/design.md D9: tcp I/O controllers default to 4420, not 8009.
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

    // Issue 12 case 5: one path, several spellings, one identity; the
    // kernel compares traddr and trsvcid as strings (fabrics.c,
    // nvmf_ip_options_match), so the spelling sent must be one.
    #[test]
    #[rustfmt::skip]
    fn one_spelling_per_address_and_port() {
        let one = id("tcp", "2001:db8::1", "4420", "x").unwrap();
        for a in ["2001:0db8:0000::0001", "2001:DB8::1", "2001:db8:0:0:0:0:0:1", "2001:db8::1%eth0"] {
            assert_eq!(id("tcp", a, "4420", "x").unwrap(), one, "{a}");
        }
        assert_eq!(one.traddr.as_str(), "2001:db8::1");
        assert_eq!(id("tcp", "[2001:DB8::1]", "4420", "x").unwrap(), one);
        assert!(id("tcp", "[10.0.0.1]", "", "x").is_err());
        // IPv4-mapped IPv6 is the IPv4 address (IPv4 on the wire).
        let v4 = id("tcp", "::ffff:10.0.0.1", "", "x").unwrap();
        assert_eq!(v4.traddr.as_str(), "10.0.0.1");
        assert_eq!(v4, id("tcp", "::FFFF:a00:1", "", "x").unwrap());
        // A link-local zone is kept (the kernel reads it), spelled as given.
        assert_eq!(id("tcp", "FE80::1%eth0", "", "x").unwrap().traddr.as_str(), "fe80::1%eth0");
        assert_ne!(id("tcp", "fe80::1%eth0", "", "x").unwrap(), id("tcp", "fe80::1%eth1", "", "x").unwrap());
        // Host names in lower case; fc addresses as given.
        assert_eq!(id("tcp", "Array.Example", "", "x").unwrap().traddr.as_str(), "array.example");
        assert_eq!(id("fc", "nn-0x1:pn-0x2", "", "x").unwrap().traddr.as_str(), "nn-0x1:pn-0x2");
        let ht = Identity::new(&IdFields { host_traddr: "::FFFF:10.1.1.1", ..fields("tcp", "1.1.1.1", "x") }).unwrap();
        assert_eq!(ht.host_traddr.as_str(), "10.1.1.1");
    }

    fn fields<'a>(t: &'a str, a: &'a str, n: &'a str) -> IdFields<'a> {
        IdFields {
            transport: t,
            traddr: a,
            subsysnqn: n,
            host_nqn: HOST,
            ..Default::default()
        }
    }

    // Issue 12 case 7: a port must be a port.
    #[test]
    #[rustfmt::skip]
    fn ports_and_host_fields_are_checked() {
        for bad in ["abc", "-1", "0", "65536", "04420", "0x1144", "+4420", "44 20"] {
            let e = id("tcp", "1.1.1.1", bad, "x").unwrap_err();
            assert!(matches!(e, IdError::Invalid { field: "trsvcid", .. }), "{bad}: {e}");
            assert!(id("rdma", "1.1.1.1", bad, "x").is_err(), "{bad}");
        }
        assert_eq!(id("tcp", "1.1.1.1", "65535", "x").unwrap().trsvcid.as_str(), "65535");
        assert_eq!(id("fc", "nn-0x1:pn-0x2", "abc", "x").unwrap().trsvcid.as_str(), "");
        let with = |ht: &str, hi: &str| Identity::new(&IdFields { host_traddr: ht, host_iface: hi, ..fields("tcp", "1.1.1.1", "x") });
        for (ht, hi) in [("nohost", ""), ("1.1.1.1.1", ""), ("", "eth 0"), ("", "a/b"), ("", "a:b"), ("", ".."), ("", "averyveryverylongname")] {
            assert!(with(ht, hi).is_err(), "{ht:?} {hi:?}");
        }
        let none = with("none", "none").unwrap();
        assert_eq!((none.host_traddr.as_str(), none.host_iface.as_str()), ("", ""));
        for bad in ["1.1.1.1 x", "a..b", "-", "a,b", "1.2.3.4%eth0", "fe80::1%", "fe80::1%a b"] {
            assert!(id("tcp", bad, "", "x").is_err(), "{bad}");
        }
    }

    #[test]
    #[rustfmt::skip]
    fn values_refuse_what_would_split_or_forge() {
        for (s, ch) in [("a,b", ','), ("a\nb", '\n'), ("a\0b", '\0'), ("a\rb", '\r'), ("\u{1b}[2J", '\u{1b}'), ("a\u{85}", '\u{85}')] {
            assert_eq!(Value::<9>::new("f", s), Err(IdError::BadChar { field: "f", ch }), "{s:?}");
            assert!(id("tcp", "1.1.1.1", "", s).is_err());
        }
        assert_eq!(Value::<3>::new("f", "abcd"), Err(IdError::TooLong { field: "f", len: 4, max: 3 }));
        // `=`, spaces and non-ASCII are harmless inside a value.
        assert!(id("tcp", "1.1.1.1", "", "nqn.x:a=b c\u{e9}").is_ok());
        let e = IdError::Transport("x\ny".repeat(40)).to_string();
        assert!(!e.contains('\n') && e.len() < 200, "{e}");
    }

    #[test]
    #[rustfmt::skip]
    fn host_ids_are_uuids() {
        let h = HostId::parse("7F0F6C1E-2b7e-4e3a-9c43-5a6d1b2c3d4e").unwrap();
        assert_eq!(h.to_string(), "7f0f6c1e-2b7e-4e3a-9c43-5a6d1b2c3d4e");
        for bad in ["", "7f0f6c1e2b7e4e3a9c435a6d1b2c3d4e", "7f0f6c1e-2b7e-4e3a-9c43-5a6d1b2c3d4g",
                    "7f0f6c1e-2b7e-4e3a-9c43-5a6d1b2c3d4e,hostnqn=x", "7f0f6c1e-2b7e-4e3a-9c43-5a6d1b2c3d4\0",
                    "+f0f6c1e-2b7e-4e3a-9c43-5a6d1b2c3d4e", "7f0f6c1e-2b7e-4e3a-9c4-35a6d1b2c3d4e"] {
            assert_eq!(HostId::parse(bad), None, "{bad:?}");
        }
        assert_eq!(HostId::from_bytes(&[0; 16]), None);
        assert_eq!(HostId::from_bytes(&[0x11; 16]).unwrap().to_string(), "11111111-1111-1111-1111-111111111111");
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
