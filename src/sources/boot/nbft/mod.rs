//! NVMe Boot Firmware Table (ACPI signature `NBFT`) decoding.
//!
//! Owns: turning the bytes of one `/sys/firmware/acpi/tables/NBFT*` file
//! into typed, owned values ([`parse`]), reading every such file of a
//! directory ([`read_all`]), and a text dump in the exact format of libnvme's
//! test tool `test/nbft/nbft-dump.c` ([`Nbft::dump`]), so that our decoding
//! can be compared line by line with libnvme's reference decodings
//! (`tests/fixtures/nbft/diffs/`).
//!
//! Layout: NVM Express Boot Specification 1.0, Figures 5-24 (header,
//! control, host, HFI, HFI transport info for TCP, SSNS, SSNS extended info,
//! security profile and discovery descriptors); offsets, sizes and flag bits
//! cross-checked against libnvme `src/nvme/nbft.h`. Integers are
//! little-endian. Strings and lists live in the table's heap and are found
//! through "heap object references" (a 32-bit offset from the start of the
//! table and a 16-bit length; length 0 means "absent").
//!
//! What is checked, and what a failed check costs, follows libnvme's
//! `src/nvme/nbft.c` (`parse_raw_nbft` and the `read_*` helpers), so a table
//! yields the same content here as in nvme-cli and dracut:
//!
//! * table-level faults reject the whole table with an [`NbftError`]: too
//!   short, signature, length field, checksum, revision other than 1.0, heap
//!   outside the table, control descriptor with the wrong structure ID, a
//!   host descriptor that is out of bounds, not valid, of the wrong structure
//!   ID or without a host NQN, and a descriptor list that does not fit in the
//!   table;
//! * a faulty HFI, security, discovery or SSNS descriptor is left out, as
//!   libnvme leaves it out, and the reason is kept in [`Nbft::problems`] for
//!   the caller to log; a cross reference that names no descriptor
//!   (e.g. an SSNS's discovery index) is dropped the same way and recorded
//!   there too — every index left in the decoded values names a descriptor
//!   that is present;
//! * descriptors whose Valid flag is clear are "reserved" per the spec and are
//!   skipped without a problem;
//! * a table whose control descriptor is not valid decodes to no host and no
//!   descriptors (libnvme returns success with nothing in it).
//!
//! Deliberate differences from libnvme; none changes the decoding of any
//! fixture table (tests/nbft.rs checks every one against libnvme's dump):
//!
//! * every read is bounds-checked: libnvme reads the fixed-size transport
//!   info, extended info and 16-byte transport address at heap offsets
//!   without checking that the heap object is that long, and reads the byte
//!   after a string object; we require the object to hold what we read, and
//!   the terminating NUL of a string to be inside the table;
//! * a descriptor list is stepped through by the descriptor length the
//!   control descriptor gives (HFIL, SSNSL, SECL, DISCL — the spec's
//!   meaning of those fields), which must be at least the 1.0 size; libnvme
//!   steps by its compiled structure size. Every known table has lengths
//!   equal to the 1.0 sizes;
//! * the checksum covers the table's `Length` bytes (ACPI 6.5 §5.2.6);
//!   libnvme sums the whole file, which is the same bytes for sysfs files;
//! * an SSNS without a Secondary HFI Associations object is kept (the spec
//!   makes it optional; libnvme drops the SSNS), and a discovery descriptor
//!   without an NQN is kept with `nqn: None` (the spec says to use the
//!   well-known discovery NQN; libnvme drops the descriptor);
//! * strings must be UTF-8 (NQNs are UTF-8 per the NVMe base specification);
//! * a zero byte in the secondary HFI list names no HFI and is ignored
//!   (libnvme counts it in `num_hfis`); the dump lists every associated HFI
//!   (libnvme's dump stops at the first duplicate or unknown secondary HFI
//!   it skipped, because that leaves a hole in its NULL-terminated list).

mod dump;
mod errors;
mod parse;
mod records;

pub use errors::*;
pub use parse::*;
pub use records::*;

#[cfg(test)]
mod tests {
    use super::dump::{Hex, NtopIp};
    use super::parse::*;
    use super::*;

    const R760: &[u8] =
        include_bytes!("../../../../tests/fixtures/nbft/tables/NBFT-Dell.PowerEdge.R760");
    const MPATH: &[u8] = include_bytes!(
        "../../../../tests/fixtures/nbft/tables/NBFT-Dell.PowerEdge.R660-fw1.5.5-mpath+discovery"
    );

    // R760 layout (see tests/fixtures/nbft): control 0x40, host 0x80, HFI
    // 0xa0 (transport info in the heap at 0x26e), SSNS 0xc0 and 0x140,
    // discovery 0x1c0, heap 0x1e0..0x3f9.
    const END: usize = 0x3f9;

    fn sum(t: &[u8]) -> u8 {
        t.iter().fold(0u8, |a, b| a.wrapping_add(*b))
    }

    fn fix_checksum(t: &mut [u8]) {
        let len = (Le(t).u32(4) as usize).min(t.len());
        if len > 9 {
            t[9] = 0;
            t[9] = 0u8.wrapping_sub(sum(&t[..len]));
        }
    }

    fn put16(t: &mut [u8], at: usize, v: u16) {
        t[at..at + 2].copy_from_slice(&v.to_le_bytes());
    }

    fn put32(t: &mut [u8], at: usize, v: u32) {
        t[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    /// R760 with `edit` applied and the checksum made right again.
    fn r760_with(edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut t = R760.to_vec();
        edit(&mut t);
        fix_checksum(&mut t);
        t
    }

    fn desc_err(desc: Desc, offset: u64, problem: Problem) -> NbftError {
        NbftError::Descriptor {
            desc,
            offset,
            problem,
        }
    }

    #[test]
    fn fixtures_are_consistent() {
        assert_eq!(R760.len(), END);
        assert_eq!(sum(R760), 0);
        assert!(parse(R760).expect("R760").problems.is_empty());
    }

    #[test]
    fn every_truncation_is_an_error() {
        for table in [R760, MPATH] {
            for n in 0..table.len() {
                let got = parse(&table[..n]);
                let expected_kind = if n < HEADER_SIZE + CONTROL_SIZE {
                    matches!(got, Err(NbftError::TooShort { length, need: 128 }) if length == n)
                } else {
                    matches!(got, Err(NbftError::LengthExceedsData { read, .. }) if read == n)
                };
                assert!(expected_kind, "prefix of {n} bytes: {got:?}");
            }
        }
    }

    #[test]
    fn checksum_is_checked() {
        let mut t = R760.to_vec();
        t[9] = t[9].wrapping_add(1);
        let e = parse(&t).expect_err("corrupted checksum");
        assert_eq!(
            e,
            NbftError::Checksum {
                sum: 1,
                length: 1017
            }
        );
        assert_eq!(
            e.to_string(),
            "NBFT: checksum mismatch: the 1017 bytes of the table sum to 0x01, not 0 (mod 256)"
        );
        let mut t = R760.to_vec();
        t[0x300] ^= 0x10;
        assert!(matches!(parse(&t), Err(NbftError::Checksum { .. })));
    }

    /// Bytes after the header's Length are not the table (ACPI checksum
    /// covers Length bytes).
    #[test]
    fn bytes_after_the_table_are_ignored() {
        let mut t = R760.to_vec();
        t.extend_from_slice(&[0xaa; 7]);
        let n = parse(&t).expect("decodes");
        assert_eq!(n.raw_size, END + 7);
        assert_eq!(n.header.length as usize, END);
        assert_eq!(n.subsystems.len(), 2);
    }

    #[test]
    fn table_level_faults_reject_the_table() {
        type Edit = fn(&mut Vec<u8>);
        let cases: &[(&str, Edit, NbftError)] = &[
            (
                "signature",
                |t| t[3] = b'X',
                NbftError::Signature { found: *b"NBFX" },
            ),
            (
                "major revision",
                |t| t[8] = 2,
                NbftError::Revision { major: 2, minor: 0 },
            ),
            (
                "minor revision",
                |t| t[50] = 1,
                NbftError::Revision { major: 1, minor: 1 },
            ),
            (
                "length past the data",
                |t| put32(t, 4, 1018),
                NbftError::LengthExceedsData {
                    length: 1018,
                    read: END,
                },
            ),
            (
                "length below header and control",
                |t| put32(t, 4, 100),
                NbftError::LengthTooSmall {
                    length: 100,
                    need: 128,
                },
            ),
            (
                "heap past the end",
                |t| put32(t, 40, 0x21a),
                NbftError::HeapOutsideTable {
                    offset: 0x1e0,
                    length: 0x21a,
                    end: 1017,
                },
            ),
            (
                "control structure ID",
                |t| t[0x40] = 9,
                desc_err(
                    Desc::Control,
                    0x40,
                    Problem::StructureId {
                        found: 9,
                        expected: 1,
                    },
                ),
            ),
            (
                "host descriptor past the end",
                |t| put32(t, 0x48, 0x3f0),
                desc_err(
                    Desc::Host,
                    0x3f0,
                    Problem::PastEnd {
                        what: "descriptor",
                        offset: 0x3f0,
                        length: 32,
                        end: 0x3f9,
                    },
                ),
            ),
            (
                "host not valid",
                |t| t[0x81] &= !HOST_VALID,
                desc_err(Desc::Host, 0x80, Problem::NotValid),
            ),
            (
                "host structure ID",
                |t| t[0x80] = 3,
                desc_err(
                    Desc::Host,
                    0x80,
                    Problem::StructureId {
                        found: 3,
                        expected: 2,
                    },
                ),
            ),
            (
                "host NQN absent",
                |t| put16(t, 0x92 + 4, 0),
                desc_err(Desc::Host, 0x80, Problem::Missing { field: "host NQN" }),
            ),
            (
                "host NQN past the end",
                |t| put32(t, 0x92, 0x3f0),
                desc_err(
                    Desc::Host,
                    0x80,
                    Problem::HeapPastEnd {
                        field: "host NQN",
                        offset: 0x3f0,
                        length: 43,
                        end: 0x3f9,
                    },
                ),
            ),
            (
                "host NQN before the heap",
                |t| put32(t, 0x92, 0x100),
                desc_err(
                    Desc::Host,
                    0x80,
                    Problem::OutsideHeap {
                        field: "host NQN",
                        offset: 0x100,
                        length: 43,
                        heap_start: 0x1e0,
                        heap_end: 0x3f9,
                    },
                ),
            ),
            (
                "SSNS list past the end",
                |t| t[0x40 + 31] = 200,
                desc_err(
                    Desc::SsnsList,
                    0xc0,
                    Problem::PastEnd {
                        what: "descriptor list",
                        offset: 0xc0,
                        length: 200 * 128,
                        end: 0x3f9,
                    },
                ),
            ),
            (
                "HFI length below 1.0 size",
                |t| put16(t, 0x40 + 20, 16),
                desc_err(
                    Desc::HfiList,
                    0xa0,
                    Problem::TooSmall {
                        what: "descriptor length",
                        length: 16,
                        need: 32,
                    },
                ),
            ),
        ];
        for (name, edit, expected) in cases {
            let t = r760_with(*edit);
            assert_eq!(parse(&t).as_ref().err(), Some(expected), "{name}");
        }
    }

    #[test]
    fn error_text_names_the_place() {
        let t = r760_with(|t| put32(t, 0x92, 0x3f0));
        assert_eq!(
            parse(&t).expect_err("host NQN past the end").to_string(),
            "NBFT: host descriptor at offset 0x80: host NQN: heap reference past the end of the table (0x3f0 + 43 > 0x3f9)"
        );
    }

    #[test]
    fn control_not_valid_means_no_content() {
        let t = r760_with(|t| t[0x46] &= !VALID);
        let n = parse(&t).expect("decodes");
        assert_eq!(n.host, None);
        assert!(n.hfis.is_empty() && n.subsystems.is_empty() && n.discovery.is_empty());
        assert_eq!(n.dump(), "raw_nbft_size=1017\n");
    }

    #[test]
    fn hfi_index_out_of_range() {
        // SSNS 0 names primary HFI 9: libnvme drops that SSNS.
        let n = parse(&r760_with(|t| t[0xc0 + 46] = 9)).expect("decodes");
        assert_eq!(n.subsystems.len(), 1);
        assert_eq!(n.subsystems[0].index, 2);
        assert_eq!(
            n.problems,
            [desc_err(
                Desc::Ssns(0),
                0xc0,
                Problem::UnknownIndex {
                    what: "primary HFI",
                    index: 9,
                    list: "HFI"
                }
            )]
        );
        assert_eq!(
            n.problems[0].to_string(),
            "NBFT: SSNS descriptor 0 at offset 0xc0: primary HFI index 9 matches no HFI descriptor"
        );

        // A discovery descriptor naming HFI 7 stays, without the link.
        let n = parse(&r760_with(|t| t[0x1c0 + 3] = 7)).expect("decodes");
        assert_eq!(n.discovery.len(), 1);
        assert_eq!(n.discovery[0].hfi, None);
        assert_eq!(n.problems.len(), 1);

        // An SSNS naming discovery descriptor 5 stays, without the link.
        let n = parse(&r760_with(|t| t[0xc0 + 8] = 5)).expect("decodes");
        assert_eq!(n.subsystems.len(), 2);
        assert_eq!(n.subsystems[0].discovery, None);
        assert_eq!(n.subsystems[1].discovery, Some(1));
        assert_eq!(n.problems.len(), 1);

        // A secondary HFI 4 (the secondary list of SSNS 0 is at 0x305).
        let n = parse(&r760_with(|t| t[0x305] = 4)).expect("decodes");
        assert_eq!(n.subsystems[0].hfis, [1]);
        assert!(matches!(
            n.problems[..],
            [NbftError::Descriptor {
                desc: Desc::Ssns(0),
                problem: Problem::UnknownIndex { index: 4, .. },
                ..
            }]
        ));
    }

    #[test]
    fn heap_offset_past_the_end() {
        // The HFI's transport info moved past the end: the HFI goes, and
        // with it both SSNS (their primary HFI) and the discovery link.
        let n = parse(&r760_with(|t| put32(t, 0xa0 + 16, 0x3f0))).expect("decodes");
        assert!(n.hfis.is_empty() && n.subsystems.is_empty());
        assert_eq!(n.discovery.len(), 1);
        assert_eq!(n.discovery[0].hfi, None);
        assert_eq!(n.problems.len(), 4);
        assert_eq!(
            n.problems[0].to_string(),
            "NBFT: HFI descriptor 0 at offset 0xa0: transport info: heap reference past the end of the table (0x3f0 + 128 > 0x3f9)"
        );

        // The subsystem NQN of SSNS 1 past the end.
        let n = parse(&r760_with(|t| put32(t, 0x140 + 54, 0x3f8))).expect("decodes");
        assert_eq!(n.subsystems.len(), 1);
        assert!(matches!(
            n.problems[..],
            [NbftError::Descriptor {
                desc: Desc::Ssns(1),
                offset: 0x140,
                problem: Problem::HeapPastEnd {
                    field: "subsystem NQN",
                    ..
                },
            }]
        ));

        // Transport info too short for what we read.
        let n = parse(&r760_with(|t| put16(t, 0xa0 + 20, 100))).expect("decodes");
        assert!(n.hfis.is_empty());
        assert!(matches!(
            n.problems[0],
            NbftError::Descriptor {
                problem: Problem::TooSmall {
                    length: 100,
                    need: 110,
                    ..
                },
                ..
            }
        ));
    }

    #[test]
    fn faulty_extended_info_keeps_the_ssns() {
        // Wrong SSNS index in SSNS 0's extended info (heap 0x33f).
        let n = parse(&r760_with(|t| put16(t, 0x33f + 2, 2))).expect("decodes");
        assert_eq!(n.subsystems.len(), 2);
        assert_eq!(n.subsystems[0].controller_id, 0);
        assert_eq!(n.subsystems[1].controller_id, 4166);
        assert_eq!(
            n.problems,
            [desc_err(
                Desc::SsnsExtendedInfo(0),
                0x33f,
                Problem::IndexMismatch {
                    found: 2,
                    expected: 1
                }
            )]
        );
    }

    #[test]
    fn descriptors_not_valid_are_skipped_silently() {
        let n = parse(&r760_with(|t| t[0x1c0 + 1] = 0)).expect("decodes");
        assert!(n.discovery.is_empty());
        assert_eq!(n.subsystems[0].discovery, None);
        // The SSNS's discovery index now names nothing: that is noted.
        assert_eq!(n.problems.len(), 2);
        let n = parse(&r760_with(|t| put16(t, 0x140 + 3, 0))).expect("decodes");
        assert_eq!(n.subsystems.len(), 1);
        assert!(n.problems.is_empty());
    }

    /// SSNS flag and transport flag bits, and the extended info's
    /// administrative ASQSZ flag (SSNS 0: flags at 0xc3, transport flags at
    /// 0xc6, extended info in the heap at 0x33f, its ASQSZ field holds 32).
    #[test]
    fn ssns_flags() {
        // discovered, unavailable, header digest, data digest, ASQSZ
        type Decoded = (bool, bool, bool, bool, u16);
        let cases: &[(u16, u16, u32, Decoded)] = &[
            // flags, trflags, ext flags: discovered, unavailable, hdgst, ddgst, asqsz
            (0x51, 0, 1, (true, false, false, false, 0)),
            (0x11, 0, 1, (false, false, false, false, 0)),
            (
                0x51 | SSNS_UNAVAIL_NAMESPACE_UNAVAIL,
                0,
                1,
                (true, true, false, false, 0),
            ),
            // 0x80 under the mask is "available".
            (0x51 | 0x80, 0, 1, (true, false, false, false, 0)),
            (0x51, 0x07, 1, (true, false, true, true, 0)),
            (
                0x51,
                SSNS_PDU_HEADER_DIGEST,
                1,
                (true, false, true, false, 0),
            ),
            (0x51, 0, 3, (true, false, false, false, 32)),
        ];
        for &(flags, trflags, ext, expected) in cases {
            let t = r760_with(|t| {
                put16(t, 0xc0 + 3, flags);
                put16(t, 0xc0 + 6, trflags);
                put32(t, 0x33f + 4, ext);
            });
            let n = parse(&t).expect("decodes");
            let s = &n.subsystems[0];
            let got = (
                s.discovered,
                s.unavailable,
                s.pdu_header_digest_required,
                s.data_digest_required,
                s.asqsz,
            );
            assert_eq!(
                got, expected,
                "flags {flags:#x} trflags {trflags:#x} ext {ext:#x}"
            );
            assert_eq!(s.controller_id, 5);
        }
    }

    fn table_of(heap: &[u8], table_len: usize) -> (Vec<u8>, usize) {
        let start = table_len - heap.len();
        let mut b = vec![0u8; table_len];
        b[start..].copy_from_slice(heap);
        (b, start)
    }

    #[test]
    fn heap_strings() {
        type Case = (&'static [u8], u16, Result<Option<&'static str>, Problem>);
        let cases: &[Case] = &[
            (b"abc\0", 3, Ok(Some("abc"))),
            (b"abc\0", 4, Ok(Some("abc"))),
            (b"ab\0cd", 5, Ok(Some("ab"))),
            (b"\0", 1, Ok(Some(""))),
            (b"abc", 0, Ok(None)),
            (b"abcx", 3, Err(Problem::NotTerminated { field: "f" })),
            // No byte after the object inside the table.
            (b"abc", 3, Err(Problem::NotTerminated { field: "f" })),
            (b"\xff\xfe\0", 2, Err(Problem::NotUtf8 { field: "f" })),
        ];
        for (heap, length, expected) in cases {
            let (b, start) = table_of(heap, 64);
            let t = Table {
                bytes: &b,
                heap_start: start as u64,
                heap_end: 64,
            };
            let r = HeapRef {
                offset: start as u32,
                length: *length,
            };
            let got = t.heap_string(r, "f");
            let expected = expected.clone().map(|o| o.map(str::to_owned));
            assert_eq!(got, expected, "{heap:?} length {length}");
        }
    }

    #[test]
    fn heap_objects_are_bounded_by_table_and_heap() {
        let b = [0u8; 64];
        let t = Table {
            bytes: &b,
            heap_start: 32,
            heap_end: 48,
        };
        let r = |offset, length| HeapRef { offset, length };
        assert_eq!(t.heap_object(r(32, 16), "f"), Ok(Some(&b[32..48])));
        assert_eq!(t.heap_object(r(0, 0), "f"), Ok(None));
        assert!(matches!(
            t.heap_object(r(31, 2), "f"),
            Err(Problem::OutsideHeap { .. })
        ));
        assert!(matches!(
            t.heap_object(r(47, 2), "f"),
            Err(Problem::OutsideHeap { .. })
        ));
        assert!(matches!(
            t.heap_object(r(60, 5), "f"),
            Err(Problem::HeapPastEnd { .. })
        ));
        assert!(matches!(
            t.heap_object(r(u32::MAX, u16::MAX), "f"),
            Err(Problem::HeapPastEnd { .. })
        ));
    }

    /// Addresses as glibc's inet_ntop prints them (libnvme's output).
    #[test]
    fn ip_text_matches_glibc_inet_ntop() {
        let v6 = |w: [u16; 8]| {
            let mut b = [0u8; 16];
            for (i, x) in w.iter().enumerate() {
                b[2 * i..2 * i + 2].copy_from_slice(&x.to_be_bytes());
            }
            b
        };
        let cases: &[([u8; 16], &str)] = &[
            ([0; 16], "::"),
            (v6([0, 0, 0, 0, 0, 0, 0, 1]), "::1"),
            (v6([0x4321, 0, 0, 0, 0, 0, 0xbbbb, 2]), "4321::bbbb:2"),
            (v6([0x4321, 0xbbbb, 0, 0, 0, 0, 0, 1]), "4321:bbbb::1"),
            (v6([0xfe80, 0, 0, 0, 0, 0, 0, 0]), "fe80::"),
            (v6([1, 0, 0, 1, 0, 0, 0, 0]), "1:0:0:1::"),
            (v6([1, 0, 0, 2, 0, 0, 3, 4]), "1::2:0:0:3:4"),
            (v6([1, 0, 2, 0, 3, 0, 4, 0]), "1:0:2:0:3:0:4:0"),
            (v6([0xABCD, 0, 0, 0, 0, 0, 0, 0x00ef]), "abcd::ef"),
            // IPv4-compatible: glibc ends in dotted quad.
            (v6([0, 0, 0, 0, 0, 0, 0x0102, 0x0304]), "::1.2.3.4"),
            // IPv4-mapped: libnvme prints plain IPv4.
            (v6([0, 0, 0, 0, 0, 0xffff, 0xac12, 0xf001]), "172.18.240.1"),
            (v6([0, 0, 0, 0, 0, 0xffff, 0, 0]), "0.0.0.0"),
        ];
        for (bytes, text) in cases {
            assert_eq!(NtopIp(decode_ip(*bytes)).to_string(), *text, "{bytes:?}");
        }
    }

    #[test]
    fn hex_is_unpadded() {
        assert_eq!(Hex(&[0x00, 0x0f, 0x10, 0xff]).to_string(), "0f10ff");
    }

    /// Every index left in a decoding names a present descriptor.
    fn assert_links_resolve(n: &Nbft) {
        for s in &n.subsystems {
            assert!(!s.hfis.is_empty());
            assert!(s.hfis.iter().all(|&i| n.hfi(i).is_some()), "{s:?}");
            assert!(s
                .discovery
                .is_none_or(|i| n.discovery_by_index(i).is_some()));
            assert!(s.security.is_none_or(|i| n.security_by_index(i).is_some()));
        }
        for d in &n.discovery {
            assert!(d.hfi.is_none_or(|i| n.hfi(i).is_some()));
            assert!(d.security.is_none_or(|i| n.security_by_index(i).is_some()));
        }
    }

    fn exercise(t: &[u8]) {
        if let Ok(n) = parse(t) {
            assert_links_resolve(&n);
            let _ = n.dump();
            for p in &n.problems {
                let _ = p.to_string();
            }
        }
    }

    /// Fixed-seed xorshift64 (Marsaglia 2003).
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Every byte of two real tables changed in turn, the checksum made
    /// right so decoding gets past it; decoding must never panic.
    #[test]
    fn single_byte_changes_never_panic() {
        for base in [R760, MPATH] {
            for i in 0..base.len() {
                let b = base[i];
                for v in [b ^ 0xff, b ^ 0x01, b ^ 0x80, b.wrapping_add(1), 0, 0xff] {
                    let mut t = base.to_vec();
                    t[i] = v;
                    exercise(&t);
                    if i != 9 {
                        fix_checksum(&mut t);
                        exercise(&t);
                    }
                }
            }
        }
    }

    #[test]
    fn random_mutations_never_panic() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for round in 0..5000 {
            let base = if round % 2 == 0 { R760 } else { MPATH };
            let mut t = base.to_vec();
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(t.len());
                t[at] = rng.next() as u8;
            }
            match rng.below(8) {
                0 => t.truncate(rng.below(base.len())),
                1 => t.extend((0..rng.below(64)).map(|_| rng.next() as u8)),
                _ => {}
            }
            if rng.below(4) != 0 {
                fix_checksum(&mut t);
            }
            exercise(&t);
        }
        // Pure noise with a plausible header.
        for _ in 0..500 {
            let len = 128 + rng.below(1024);
            let mut t: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            t[..4].copy_from_slice(&SIGNATURE);
            put32(&mut t, 4, len as u32);
            t[8] = 1;
            t[50] = 0;
            fix_checksum(&mut t);
            exercise(&t);
        }
    }
}
