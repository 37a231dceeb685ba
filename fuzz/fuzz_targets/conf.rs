//! stacd.conf text: the ini reader, every option's value parser, and what
//! the daemon derives from the result (wanted controllers, exclusions,
//! connect option strings) — never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stacd::desired::{from_config, Desired, Wanted};
use stacd::model::params::{option_string, KernelOptions};
use stacd::sources::config::host::{HostIdentity, HostSource};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

fn host() -> HostIdentity {
    HostIdentity {
        nqn: stacd::sources::config::host::validate_nqn("nqn.2014-08.org.nvmexpress:uuid:fuzz")
            .unwrap_or_default(),
        id: stacd::model::identity::HostId::parse("01234567-89ab-cdef-0123-456789abcdef"),
        key: None,
        symname: None,
        source: HostSource::EtcNvme,
    }
}

/// No name service in a fuzz run: a name with a digit has one address of
/// each family, others none.
fn resolve(name: &str) -> std::io::Result<Vec<IpAddr>> {
    if name.bytes().any(|b| b.is_ascii_digit()) {
        Ok(vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ])
    } else {
        Err(std::io::Error::other("no such host"))
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("stacd.conf");
    let Ok((conf, warnings)) = stacd::sources::config::parse_stacd_conf(text, path) else {
        return;
    };
    for w in &warnings {
        let _ = w.to_string();
    }
    let h = host();
    let mut d = Desired::default();
    from_config(&conf, &h, &resolve, &mut d);
    let kernel = KernelOptions::all();
    for w in &d.wanted {
        let w: &Wanted = w;
        let s = option_string(&w.id, &w.params, &kernel, w.default_ctrl_loss_tmo());
        let _ = (s.shown(), w.id.to_string());
    }
});
