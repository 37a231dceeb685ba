//! /run/stacd/state.json: any text decodes or is refused (src/base/json.rs
//! guards nanoserde, which panics or loops on malformed JSON), and what
//! decodes encodes and decodes again to the same map.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok((owned, _)) = stacd::reconcile::state::decode(text) {
        let again = stacd::reconcile::state::encode(&owned);
        let back = stacd::reconcile::state::decode(&again);
        assert_eq!(
            back.as_ref().map(|(m, n)| (m, *n)),
            Ok((&owned, 0)),
            "{again}"
        );
    }
});
