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
        if !ok {
            return Err(NOT_A_KEY);
        }
        key_material(&b[3..b.len() - 1])?;
        no_core_dumps();
        Ok(Secret(s.into()))
    }

    /// The key itself, for the kernel's option string only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The checks the kernel makes of a key's base64 text before it sends
/// anything (drivers/nvme/common/auth.c, `nvme_auth_extract_key`; seen on
/// 6.12: "Invalid key len 18", "key crc mismatch"): it decodes to a key of
/// 32, 48 or 64 bytes followed by the key's CRC-32, little-endian. A key
/// failing them is refused here, where the file and line can be named,
/// instead of at every connect as EINVAL or EKEYREJECTED, which reads like
/// a target refusing a key (docs/auth-tls.md 1.3, 3.1).
fn key_material(text: &[u8]) -> Result<(), &'static str> {
    let bytes =
        base64(text).ok_or("not a DH-HMAC-CHAP key: its text after DHHC-1:NN: is not base64")?;
    if !matches!(bytes.len(), 36 | 52 | 68) {
        return Err(
            "not a DH-HMAC-CHAP key: it decodes to a length the kernel refuses \
                    (a key of 32, 48 or 64 bytes and its CRC-32; cut or pasted twice?)",
        );
    }
    let (key, crc) = bytes.split_at(bytes.len() - 4);
    if crc32(key).to_le_bytes() != crc {
        return Err(
            "not a DH-HMAC-CHAP key: its CRC-32 does not match its bytes \
                    (a mistyped key; nvme check-dhchap-key tells)",
        );
    }
    Ok(())
}

/// RFC 4648 base64 with its `=` padding at the end only; `None` for any
/// other character or a padding in the middle.
fn base64(text: &[u8]) -> Option<Vec<u8>> {
    let body = text
        .strip_suffix(b"==")
        .or_else(|| text.strip_suffix(b"="))
        .unwrap_or(text);
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for &c in body {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// CRC-32 (IEEE 802.3, reflected, as zlib's crc32 and the kernel's
/// `~crc32(~0, ...)` compute it).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
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

    // 32 bytes and their CRC-32, as nvme gen-dhchap-key writes a key
    const KEY: &str = "DHHC-1:00:H0D8ktokFpR1CXnubPWC8tXX0o4YM13gWrxU0FYOD1PSgP0x:";

    #[test]
    fn a_key_read_makes_the_process_undumpable() {
        use rustix::process::{dumpable_behavior, DumpableBehavior};
        Secret::new(KEY).unwrap();
        assert_eq!(dumpable_behavior().unwrap(), DumpableBehavior::NotDumpable);
    }

    #[test]
    fn never_prints_itself() {
        let s = Secret::new(KEY).unwrap();
        assert_eq!(
            format!("{s} {s:?} {:?}", Some(&s)),
            "<redacted> <redacted> Some(<redacted>)"
        );
        assert_eq!(s.expose(), KEY);
    }

    // Issue 12 case 1: a `,` in a key would add options of its own.
    #[test]
    fn only_keys_of_the_kernel_form() {
        for ok in [
            KEY,
            "DHHC-1:03:Umd2iCLuYk1I/OFexcp5y9YCy39MIVelFlVpkfIu+Me173sY0f9BxZNw77CFhlHUSpNsEbexRMSP4E3zxqPo2mGvxl0=:",
            "DHHC-1:02:rMKNsr63tCuqHLAkPUAcy04/zkTXsCh5pSeZqt/1QVItiCJZiy+mZPnVFWwAySSAwQchQQ==:",
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

    // What the kernel would refuse at every connect (drivers/nvme/common/
    // auth.c: "key crc mismatch", "Invalid key len"), refused at load with
    // what is wrong.
    #[test]
    fn a_mistyped_or_cut_key_is_refused_with_its_fault() {
        let cases = [
            // one bit of the key changed, the CRC left as it was
            (
                "DHHC-1:00:SfsQsV89RKCdyC0CsGWB4MDGlHjJ/Sz4+Qk2WQGaFofbLHRA:",
                "CRC-32",
            ),
            // a 16-byte key with a right CRC: a length the kernel refuses
            ("DHHC-1:00:279UNC8AaEna5+6f87Ah4F0pdYQ=:", "length"),
            // the key cut short
            (&KEY[..KEY.len() - 5], "expected DHHC-1"),
            (&format!("{}:", &KEY[..KEY.len() - 5]), "length"),
            // a key pasted twice
            (
                &format!("{}{}", &KEY[..KEY.len() - 1], &KEY[10..]),
                "length",
            ),
            // padding in the middle
            (
                "DHHC-1:00:H0D8=tokFpR1CXnubPWC8tXX0o4YM13gWrxU0FYOD1PSgP0x:",
                "base64",
            ),
            // one character of the base64 changed
            (
                "DHHC-1:00:H0D8ktokFpR1CXnubPWC8tXX0o4YM13gWrxU0FYOD1PSgP0y:",
                "CRC-32",
            ),
        ];
        for (bad, why) in cases {
            let e = Secret::new(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
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
