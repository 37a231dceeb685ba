//! The JSON reader of outside text (src/base/json.rs): never a panic, and a
//! parsed value writes out (compact and pretty) as text that parses back
//! to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stacd::base::json;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(v) = json::parse(text) {
        let compact = json::to_string(&v);
        assert_eq!(json::parse(&compact).as_ref(), Ok(&v), "{compact}");
        let pretty = json::to_pretty_sorted(&v);
        assert!(json::parse(&pretty).is_ok(), "{pretty}");
    }
});
