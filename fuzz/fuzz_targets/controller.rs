//! A `controller=` value (stacd.conf, the kernel command line) and the same
//! text as an `exclude=` pattern, applied to the controller it names
//! (a pattern made of a controller's own keys excludes it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stacd::desired::{from_config, Desired};
use stacd::sources::config::host::{validate_nqn, HostIdentity, HostSource};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

/// No name service in a fuzz run.
fn resolve(_: &str) -> std::io::Result<Vec<IpAddr>> {
    Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)])
}

fuzz_target!(|data: &[u8]| {
    let Ok(v) = std::str::from_utf8(data) else {
        return;
    };
    let (_, warnings) = stacd::sources::config::parse_controller_value(v, Path::new("cmdline"));
    for w in &warnings {
        let _ = w.to_string();
    }
    // One line each (a line break would start another key).
    if v.contains(['\n', '\r']) {
        return;
    }
    let text = format!("[Controllers]\ncontroller = {v}\nexclude = {v}\n");
    let Ok((conf, _)) = stacd::sources::config::parse_stacd_conf(&text, Path::new("stacd.conf"))
    else {
        return;
    };
    let host = HostIdentity {
        nqn: validate_nqn("nqn.2014-08.org.nvmexpress:uuid:fuzz").unwrap_or_default(),
        id: None,
        key: None,
        symname: None,
        source: HostSource::EtcNvme,
    };
    let mut d = Desired::default();
    from_config(&conf, &host, &resolve, &mut d);
    let _ = (d.notes.len(), d.excluded.len());
});
