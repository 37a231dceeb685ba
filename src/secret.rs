//! A DH-HMAC-CHAP key (or any other credential) that never prints itself.
//!
//! DESIGN.md: secrets are never shown on D-Bus or in logs; every rendering is
//! `<redacted>`. Only [`Secret::expose`] gives the text, and the one caller
//! that needs it builds the string written to `/dev/nvme-fabrics`.

use std::fmt;

/// What every rendering of a secret shows.
pub const REDACTED: &str = "<redacted>";

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The key itself, for the kernel's option string only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_itself() {
        let s = Secret::new("DHHC-1:00:abc=:");
        assert_eq!(
            format!("{s} {s:?} {:?}", Some(&s)),
            "<redacted> <redacted> Some(<redacted>)"
        );
        assert_eq!(s.expose(), "DHHC-1:00:abc=:");
    }
}
