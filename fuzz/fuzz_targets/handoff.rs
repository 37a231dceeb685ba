//! /run/stacd/boot.json: any text decodes or is refused (src/base/json.rs
//! guards nanoserde), a decoded record encodes and decodes to itself, and
//! its entries become wanted boot paths.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stacd::model::params::{option_string, KernelOptions};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(r) = stacd::sources::boot::handoff::decode(text) {
        let again = stacd::sources::boot::handoff::encode(&r);
        assert_eq!(
            stacd::sources::boot::handoff::decode(&again).as_ref(),
            Ok(&r),
            "{again}"
        );
        let (wanted, _) = stacd::sources::boot::handoff::to_wanted(&r);
        let k = KernelOptions::all();
        for w in &wanted {
            let _ = option_string(&w.id, &w.params, &k, w.default_ctrl_loss_tmo());
        }
    }
});
