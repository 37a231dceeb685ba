//! stafd's `get_all_log_pages` reply (D-Bus, JSON text) and the wanted
//! controllers derived from it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stacd::sources::config::host::{HostIdentity, HostSource};
use stacd::sources::config::StacdConf;
use stacd::sources::stafd::{parse_pages, to_wanted};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok((pages, _)) = parse_pages(text) else {
        return;
    };
    let host = HostIdentity {
        nqn: stacd::sources::config::host::validate_nqn("nqn.2014-08.org.nvmexpress:uuid:fuzz")
            .unwrap_or_default(),
        id: None,
        key: None,
        symname: None,
        source: HostSource::EtcNvme,
    };
    let d = to_wanted(&pages, &StacdConf::defaults(Path::new("stacd.conf")), &host);
    for w in &d.wanted {
        let _ = w.id.to_string();
    }
});
