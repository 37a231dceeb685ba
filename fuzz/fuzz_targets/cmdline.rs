//! The kernel command line parser on arbitrary text: never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let c = stacd::sources::boot::cmdline::parse(&text);
    let _ = (c.active(), c.nbft_allowed());
});
