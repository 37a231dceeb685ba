//! A DH-HMAC-CHAP key (or any other credential) that never prints itself,
//! and the rules that keep anything secret out of logs and replies.
//!
//! docs/design.md D14: secrets are never shown on D-Bus or in logs; every rendering is
//! `<redacted>`. Only [`Secret::expose`] gives the text, and the one caller
//! that needs it builds the string written to `/dev/nvme-fabrics`. A key is
//! checked where it is read ([`Secret::new`]): the kernel takes nothing but
//! the `DHHC-1:<hash>:<base64>:` form (kernel `drivers/nvme/common/auth.c`,
//! `nvme_auth_extract_key`), so nothing else — a `,` above all, which would
//! add options of its own to the connect string — is ever sent.
//!
//! [`names_secret`] and [`looks_like_key`] decide what else is hidden: a
//! value under any key whose name says secret, key, password, PSK or token,
//! in any spelling (`dhchap_secret`, `DHCHAP-SECRET`, `hostkey`), and any
//! value that looks like key material, wherever it appears.

use std::fmt;

/// What every rendering of a secret shows.
pub const REDACTED: &str = "<redacted>";

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Box<str>);

/// Why a text is not a DH-HMAC-CHAP key.
pub const NOT_A_KEY: &str =
    "not a DH-HMAC-CHAP key (expected DHHC-1:<00-03>:<base64>:, as nvme gen-dhchap-key writes)";

impl Secret {
    /// A DH-HMAC-CHAP key: `DHHC-1:`, a two-digit hash identifier 00 to 03
    /// (none, SHA-256, -384, -512), `:`, base64 text, `:` (NVMe Base
    /// Specification, "DH-HMAC-CHAP secret representation"), at most 256
    /// bytes (a 64-byte key and its CRC are 92 base64 characters). The
    /// error never contains the text.
    pub fn new(s: &str) -> Result<Secret, &'static str> {
        let body = s.strip_prefix("DHHC-1:").ok_or(NOT_A_KEY)?;
        let b = body.as_bytes();
        let b64 = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=');
        let ok = b.len() > 4
            && s.len() <= 256
            && b[0] == b'0'
            && (b'0'..=b'3').contains(&b[1])
            && b[2] == b':'
            && b[b.len() - 1] == b':'
            && b[3..b.len() - 1].iter().all(b64);
        if ok {
            no_core_dumps();
            Ok(Secret(s.into()))
        } else {
            Err(NOT_A_KEY)
        }
    }

    /// The key itself, for the kernel's option string only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// From the first key read on, the process is not dumpable: no core file
/// and no ptrace or /proc/PID/mem reads by other users can show the key
/// (prctl(2), PR_SET_DUMPABLE; docs/configuration.md, "Keys"). It stays so
/// until exit: a key once read may be anywhere in memory.
fn no_core_dumps() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use rustix::process::{set_dumpable_behavior, DumpableBehavior};
        if let Err(e) = set_dumpable_behavior(DumpableBehavior::NotDumpable) {
            log::warn!("cannot turn off core dumps while DH-HMAC-CHAP keys are held (prctl PR_SET_DUMPABLE): {e}");
        }
    });
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

/// A key name that says its value is secret, in any spelling: case,
/// `-`/`_`/`.` and other separators do not count (`dhchap_secret`,
/// `DHCHAP-SECRET`, `hostkey`, `tls.psk`, `password`).
pub fn names_secret(key: &str) -> bool {
    let k: String = key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    [
        "secret",
        "key",
        "passw",
        "psk",
        "token",
        "dhchap",
        "credential",
    ]
    .iter()
    .any(|w| k.contains(w))
}

/// Text that looks like key material whatever it is filed under: a
/// DH-HMAC-CHAP key or TLS PSK interchange form (`DHHC-1:`,
/// `NVMeTLSkey-1:`), in any case.
pub fn looks_like_key(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    l.contains("dhhc-") || l.contains("nvmetlskey-")
}

/// `value` as it may be shown under `key`: `<redacted>` when either says
/// it is secret.
pub fn shown_value<'a>(key: &str, value: &'a str) -> &'a str {
    if names_secret(key) || looks_like_key(value) {
        REDACTED
    } else {
        value
    }
}

/// A `key=value` parameter (kernel command line) as it may be shown.
pub fn shown_param(arg: &str) -> String {
    match arg.split_once('=') {
        Some((k, v)) if shown_value(k, v) == REDACTED => format!("{k}={REDACTED}"),
        _ if looks_like_key(arg) => REDACTED.to_string(),
        _ => arg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_read_makes_the_process_undumpable() {
        use rustix::process::{dumpable_behavior, DumpableBehavior};
        Secret::new("DHHC-1:00:abc=:").unwrap();
        assert_eq!(dumpable_behavior().unwrap(), DumpableBehavior::NotDumpable);
    }

    #[test]
    fn never_prints_itself() {
        let s = Secret::new("DHHC-1:00:abc=:").unwrap();
        assert_eq!(
            format!("{s} {s:?} {:?}", Some(&s)),
            "<redacted> <redacted> Some(<redacted>)"
        );
        assert_eq!(s.expose(), "DHHC-1:00:abc=:");
    }

    // Issue 12 case 1: a `,` in a key would add options of its own.
    #[test]
    fn only_keys_of_the_kernel_form() {
        for ok in [
            "DHHC-1:00:abc=:",
            "DHHC-1:03:qwertyuioplkjhgfdsazxcvbnm0123456789QWERTYUIOPLKJHGFDSAZXCVBNM0101+/==:",
        ] {
            assert!(Secret::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "super-secret",
            "DHHC-1:00:S,hostnqn=nqn.evil:x,duplicate_connect",
            "DHHC-1:00:abc:\n",
            "DHHC-1:00:abc",
            "DHHC-1:04:abc:",
            "DHHC-1:0:abc:",
            "DHHC-1:00::",
            "DHHC-1:00:a b:",
            "DHHC-1:00:a\0b:",
            "dhhc-1:00:abc:",
            &format!("DHHC-1:00:{}:", "A".repeat(300)),
        ] {
            let e = Secret::new(bad).unwrap_err();
            assert!(!e.contains("evil"), "{e}");
        }
    }

    // Issue 12 case 6: secrets under misspelled keys.
    #[test]
    fn what_counts_as_secret() {
        for k in [
            "dhchap-secret",
            "dhchap_secret",
            "DHCHAP-SECRET",
            "Dhchap.Ctrl.Secret",
            "hostkey",
            "tls_key",
            "password",
            "psk",
            "auth-token",
            "dhchap",
        ] {
            assert!(names_secret(k), "{k}");
        }
        for k in ["traddr", "kato", "zone", "host-iface", "nqn"] {
            assert!(!names_secret(k), "{k}");
        }
        assert_eq!(shown_value("zone", "blue"), "blue");
        assert_eq!(shown_value("zone", "dhhc-1:00:x:"), REDACTED);
        assert_eq!(shown_value("DHCHAP_SECRET", "x"), REDACTED);
        assert_eq!(
            shown_param("rd.stacd.dhchap_key=DHHC-1:00:x:"),
            "rd.stacd.dhchap_key=<redacted>"
        );
        assert_eq!(shown_param("rd.nvmf.x=1"), "rd.nvmf.x=1");
        assert_eq!(shown_param("DHHC-1:00:x:"), REDACTED);
    }
}
