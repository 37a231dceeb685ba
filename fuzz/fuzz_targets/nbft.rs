//! The NBFT decoder on arbitrary bytes: never panics; a decoded table
//! also dumps, and its discovery URIs parse, without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = stacd::sources::boot::nbft::parse(data) {
        let _ = t.dump();
        for d in &t.discovery {
            let _ = stacd::sources::boot::parse_uri(&d.uri);
        }
        if let Some(h) = &t.host {
            let _ = stacd::sources::boot::uuid_text(&h.id);
        }
    }
});
