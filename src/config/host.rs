//! The host's identity: NQN, ID, DH-HMAC-CHAP key, symbolic name.
//!
//! Sources (stacd-spec.md §2.6): `[Host]` of /etc/stas/sys.conf (`nqn`, `id`,
//! `key`, `symname`; a value `file://PATH` means "first word of the first line
//! of PATH"), falling back to /etc/nvme/hostnqn, hostid, hostkey. The boot
//! inputs (kernel command line, NBFT) come first when present: the one
//! precedence is command line > NBFT > sys.conf > /etc/nvme (DESIGN.md).
//! Read once at start; the NQN is validated (starts with `nqn.`, at most 223
//! bytes) and a missing or invalid NQN is a fatal error.

use super::Warning;
use crate::identity::Nqn;
use crate::root::Root;
use crate::secret::Secret;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where the host NQN came from (shown by `process_info` and in errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostSource {
    Cmdline,
    Nbft,
    SysConf,
    EtcNvme,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostIdentity {
    pub nqn: Nqn,
    pub id: Option<String>,
    pub key: Option<Secret>,
    pub symname: Option<String>,
    pub source: HostSource,
}

/// Why the host identity cannot be established (fatal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostError {
    /// No NQN anywhere; `tried` lists what was looked at and why it failed.
    NoNqn { tried: Vec<String> },
    /// An NQN was found at `from` but is not valid.
    BadNqn { from: String, msg: String },
    /// sys.conf exists but cannot be read or is structurally broken.
    SysConf(String),
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::NoNqn { tried } => {
                write!(f, "no host NQN found (tried: {})", tried.join("; "))
            }
            HostError::BadNqn { from, msg } => write!(f, "invalid host NQN in {from}: {msg}"),
            HostError::SysConf(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for HostError {}

/// Validate a host NQN (§2.6): starts with `nqn.`, at most 223 bytes.
pub fn validate_nqn(s: &str) -> Result<Nqn, String> {
    let _ = s;
    unimplemented!("config helper")
}

/// Read sys.conf at `sys_conf` (missing is fine) and the /etc/nvme files under
/// `root`.
pub fn load_host(root: &Root, sys_conf: &Path) -> Result<(HostIdentity, Vec<Warning>), HostError> {
    let _ = (root, sys_conf, PathBuf::new());
    unimplemented!("config helper")
}
