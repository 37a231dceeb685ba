//! sys.conf text and the host identity resolved from it (with an early
//! host NQN/ID as the boot inputs hand it over): never a panic, and a
//! resolved NQN is always a valid one. The input is `SYS.CONF[\0NQN[\0ID]]`;
//! the files live in a scratch root of this process.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stacd::base::root::{rel, Root};
use stacd::sources::config::host::{resolve_host, validate_nqn, EarlyHost, HostSource};
use std::path::PathBuf;
use std::sync::OnceLock;

fn root() -> &'static Root {
    static ROOT: OnceLock<Root> = OnceLock::new();
    ROOT.get_or_init(|| {
        let base: PathBuf =
            std::env::temp_dir().join(format!("stacd-fuzz-sysconf-{}", std::process::id()));
        let r = Root::new(base);
        let _ = std::fs::create_dir_all(r.path("etc/stas"));
        let _ = std::fs::create_dir_all(r.path("etc/nvme"));
        // Targets for `file://` values, and the /etc/nvme fallbacks.
        let _ = std::fs::write(
            r.path("nqn"),
            "nqn.2014-08.org.nvmexpress:uuid:file extra\n",
        );
        let _ = std::fs::write(r.path("empty"), "");
        let _ = std::fs::write(
            r.path(rel::HOSTNQN),
            "nqn.2014-08.org.nvmexpress:uuid:etc\n",
        );
        let _ = std::fs::write(
            r.path(rel::HOSTID),
            "01234567-89ab-cdef-0123-456789abcdef\n",
        );
        r
    })
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == 0);
    let conf = parts.next().unwrap_or_default();
    // `file://` resolves under the root; `..` would leave it (and could
    // name a FIFO that blocks the run).
    if conf.windows(2).any(|w| w == b"..") {
        return;
    }
    let text = |b: Option<&[u8]>| b.map(|b| String::from_utf8_lossy(b).into_owned());
    let (nqn, id) = (text(parts.next()), text(parts.next()));
    let r = root();
    let sys_conf = r.path(rel::SYS_CONF);
    if std::fs::write(&sys_conf, conf).is_err() {
        return;
    }
    let early: Vec<EarlyHost> = match (&nqn, &id) {
        (None, None) => Vec::new(),
        _ => vec![EarlyHost {
            nqn,
            id,
            source: HostSource::Cmdline,
        }],
    };
    match resolve_host(r, &sys_conf, &early) {
        Ok((h, warnings)) => {
            assert!(
                validate_nqn(&h.nqn).is_ok(),
                "resolved an invalid NQN {:?}",
                h.nqn
            );
            for w in &warnings {
                let _ = w.to_string();
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
