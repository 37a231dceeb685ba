//! The discovery log page parser on arbitrary bytes, whole and through the
//! read procedure (header, 4 KiB pieces, header again), which must end.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = stacd::sources::discovery::logpage::parse(data);
    let mut get = |off: u64, buf: &mut [u8], _rae: bool| -> Result<(), ()> {
        buf.fill(0);
        let start = usize::try_from(off).unwrap_or(usize::MAX).min(data.len());
        let end = start.saturating_add(buf.len()).min(data.len());
        buf[..end - start].copy_from_slice(&data[start..end]);
        Ok(())
    };
    if let Ok(p) = stacd::sources::discovery::logpage::read(&mut get) {
        for e in &p.entries {
            let _ = (e.transport(), e.subtype_name(), e.ncc());
        }
    }
});
