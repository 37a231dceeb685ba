//! The discovery log page (log identifier 0x70): its layout, a pure,
//! bounds-checked parser, and the read procedure that honours the
//! generation counter.
//!
//! Layout (NVMe over Fabrics / NVMe Base Specification, "Discovery Log
//! Page"; the same offsets as the kernel's `struct nvmf_disc_rsp_page_hdr`
//! and `struct nvmf_disc_rsp_page_entry` in `include/linux/nvme.h` and
//! libnvme's `struct nvmf_discovery_log`/`nvmf_disc_log_entry`): a 1024-byte
//! header — GENCTR (u64 at 0), NUMREC (u64 at 8), RECFMT (u16 at 16) — then
//! NUMREC entries of 1024 bytes: TRTYPE (0), ADRFAM (1), SUBTYPE (2), TREQ (3),
//! PORTID (u16 at 4), CNTLID (u16 at 6), ASQSZ (u16 at 8), EFLAGS (u16 at
//! 10), TRSVCID (32 bytes at 32), SUBNQN (256 at 256), TRADDR (256 at 512),
//! TSAS (256 at 768). Integers are little-endian; the text fields are
//! NUL-terminated or space-padded.
//!
//! Reading ([`read`]): the header, then the entries in 4 KiB pieces (the
//! smallest transfer every controller accepts, as libnvme's
//! `NVME_LOG_PAGE_PDU_SIZE`), then the header again; if the generation
//! counter or the record count moved meanwhile the page changed under us
//! and is read again. Every read but the last sets RAE (Retain Asynchronous
//! Event, Get Log Page CDW10 bit 15); the last one clears it so the
//! controller can send the next "discovery log page changed" event.

use std::fmt;

/// Log identifier of the discovery log page.
pub const LID_DISCOVERY: u8 = 0x70;
/// Size of the header, and offset of the first entry.
pub const HEADER_LEN: usize = 1024;
/// Size of one entry.
pub const ENTRY_LEN: usize = 1024;
/// The largest piece read with one Get Log Page command.
pub const CHUNK: usize = 4096;
/// A page claiming more records than this is refused as implausible
/// (16 MiB of entries; real discovery controllers list tens).
pub const MAX_RECORDS: u64 = 16384;
/// How often the page is read again when it changes while being read.
pub const MAX_TRIES: usize = 10;

/// SUBTYPE values (`enum nvme_subsys_type`, kernel `include/linux/nvme.h`).
pub const SUBTYPE_REFERRAL: u8 = 1;
pub const SUBTYPE_NVME: u8 = 2;
pub const SUBTYPE_CURRENT_DISCOVERY: u8 = 3;

/// TRTYPE values (`NVMF_TRTYPE_*`).
pub const TRTYPE_RDMA: u8 = 1;
pub const TRTYPE_FC: u8 = 2;
pub const TRTYPE_TCP: u8 = 3;
pub const TRTYPE_LOOP: u8 = 254;

/// EFLAGS bit 2: Not Connected to CDC (docs/design.md §3.3).
pub const EFLAGS_NCC: u16 = 1 << 2;

/// The page header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub genctr: u64,
    pub numrec: u64,
    pub recfmt: u16,
}

/// One entry, text fields trimmed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    pub trtype: u8,
    pub adrfam: u8,
    pub subtype: u8,
    pub treq: u8,
    pub portid: u16,
    pub cntlid: u16,
    pub asqsz: u16,
    pub eflags: u16,
    pub trsvcid: String,
    pub subnqn: String,
    pub traddr: String,
}

impl Entry {
    /// The kernel's name of the transport, `None` for one it does not have.
    pub fn transport(&self) -> Option<&'static str> {
        match self.trtype {
            TRTYPE_RDMA => Some("rdma"),
            TRTYPE_FC => Some("fc"),
            TRTYPE_TCP => Some("tcp"),
            TRTYPE_LOOP => Some("loop"),
            _ => None,
        }
    }

    /// An I/O subsystem (the entries stacd connects, §3.3).
    pub fn is_nvme(&self) -> bool {
        self.subtype == SUBTYPE_NVME
    }

    pub fn subtype_name(&self) -> String {
        match self.subtype {
            SUBTYPE_REFERRAL => "referral".into(),
            SUBTYPE_NVME => "nvme".into(),
            SUBTYPE_CURRENT_DISCOVERY => "discovery".into(),
            n => n.to_string(),
        }
    }

    pub fn ncc(&self) -> bool {
        self.eflags & EFLAGS_NCC != 0
    }
}

/// A whole page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogPage {
    pub genctr: u64,
    pub entries: Vec<Entry>,
}

/// Why a page could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogError<E> {
    /// Fewer bytes than the header or the entries it announces.
    Short { have: usize, need: u64 },
    /// NUMREC beyond [`MAX_RECORDS`].
    TooMany { numrec: u64 },
    /// The page kept changing while it was read.
    Unstable { tries: usize },
    /// The controller or the kernel refused a read.
    Read(E),
}

impl<E: fmt::Display> fmt::Display for LogError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::Short { have, need } => write!(
                f,
                "discovery log page is {have} bytes, {need} expected from its header"
            ),
            LogError::TooMany { numrec } => write!(
                f,
                "discovery log page announces {numrec} records (at most {MAX_RECORDS} accepted)"
            ),
            LogError::Unstable { tries } => write!(
                f,
                "discovery log page changed during each of {tries} reads (generation counter)"
            ),
            LogError::Read(e) => write!(f, "Get Log Page failed: {e}"),
        }
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    let mut x = [0u8; 2];
    if let Some(s) = b.get(at..at + 2) {
        x.copy_from_slice(s);
    }
    u16::from_le_bytes(x)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        x.copy_from_slice(s);
    }
    u64::from_le_bytes(x)
}

/// A fixed-size text field: up to the first NUL, trailing spaces dropped.
fn text(b: &[u8], at: usize, len: usize) -> String {
    let f = b.get(at..at + len).unwrap_or_default();
    let end = f.iter().position(|&c| c == 0).unwrap_or(f.len());
    String::from_utf8_lossy(&f[..end])
        .trim_end_matches(' ')
        .trim_start()
        .to_string()
}

/// The header at the start of `b` (at least its first 18 bytes).
pub fn parse_header(b: &[u8]) -> Result<Header, LogError<std::convert::Infallible>> {
    if b.len() < 18 {
        return Err(LogError::Short {
            have: b.len(),
            need: HEADER_LEN as u64,
        });
    }
    Ok(Header {
        genctr: u64_at(b, 0),
        numrec: u64_at(b, 8),
        recfmt: u16_at(b, 16),
    })
}

/// One entry from its 1024 bytes (a shorter slice reads as zeros past its
/// end; callers pass whole entries).
pub fn parse_entry(b: &[u8]) -> Entry {
    let byte = |at: usize| b.get(at).copied().unwrap_or(0);
    Entry {
        trtype: byte(0),
        adrfam: byte(1),
        subtype: byte(2),
        treq: byte(3),
        portid: u16_at(b, 4),
        cntlid: u16_at(b, 6),
        asqsz: u16_at(b, 8),
        eflags: u16_at(b, 10),
        trsvcid: text(b, 32, 32),
        subnqn: text(b, 256, 256),
        traddr: text(b, 512, 256),
    }
}

/// Parse a whole page (header and every entry it announces). Bytes after
/// the last entry are ignored.
pub fn parse(b: &[u8]) -> Result<LogPage, LogError<std::convert::Infallible>> {
    let h = parse_header(b)?;
    if h.numrec > MAX_RECORDS {
        return Err(LogError::TooMany { numrec: h.numrec });
    }
    let need = HEADER_LEN as u64 + h.numrec * ENTRY_LEN as u64;
    if (b.len() as u64) < need {
        return Err(LogError::Short {
            have: b.len(),
            need,
        });
    }
    let entries = b
        .get(HEADER_LEN..)
        .unwrap_or_default()
        .chunks_exact(ENTRY_LEN)
        .take(h.numrec as usize)
        .map(parse_entry)
        .collect();
    Ok(LogPage {
        genctr: h.genctr,
        entries,
    })
}

/// One Get Log Page command: `(offset, buffer, retain asynchronous event)`.
pub type GetLog<'a, E> = dyn FnMut(u64, &mut [u8], bool) -> Result<(), E> + 'a;

/// Read the page through `get(offset, buf, rae)`, which must fill `buf`
/// with the log page's bytes from `offset` (one Get Log Page command).
/// See the module documentation for the procedure.
pub fn read<E>(get: &mut GetLog<'_, E>) -> Result<LogPage, LogError<E>> {
    let mut head = vec![0u8; HEADER_LEN];
    for _ in 0..MAX_TRIES {
        get(0, &mut head, true).map_err(LogError::Read)?;
        let h = parse_header(&head).map_err(|_| LogError::Short {
            have: head.len(),
            need: HEADER_LEN as u64,
        })?;
        if h.numrec > MAX_RECORDS {
            return Err(LogError::TooMany { numrec: h.numrec });
        }
        let total = h.numrec as usize * ENTRY_LEN;
        let mut body = vec![0u8; total];
        let mut off = 0;
        while off < total {
            let end = (off + CHUNK).min(total);
            let piece = body.get_mut(off..end).unwrap_or_default();
            get((HEADER_LEN + off) as u64, piece, true).map_err(LogError::Read)?;
            off = end;
        }
        get(0, &mut head, false).map_err(LogError::Read)?;
        let again = parse_header(&head).map_err(|_| LogError::Short {
            have: head.len(),
            need: HEADER_LEN as u64,
        })?;
        if again.genctr == h.genctr && again.numrec == h.numrec {
            return Ok(LogPage {
                genctr: h.genctr,
                entries: body.chunks_exact(ENTRY_LEN).map(parse_entry).collect(),
            });
        }
        log::debug!(
            "discovery log page changed while being read (generation {} -> {}); reading it again",
            h.genctr,
            again.genctr
        );
    }
    Err(LogError::Unstable { tries: MAX_TRIES })
}

/// Build a page (tests, fuzzing seeds, the test double).
pub fn build(genctr: u64, entries: &[Entry]) -> Vec<u8> {
    let mut b = vec![0u8; HEADER_LEN + entries.len() * ENTRY_LEN];
    b[0..8].copy_from_slice(&genctr.to_le_bytes());
    b[8..16].copy_from_slice(&(entries.len() as u64).to_le_bytes());
    for (i, e) in entries.iter().enumerate() {
        let o = HEADER_LEN + i * ENTRY_LEN;
        let put = |b: &mut Vec<u8>, at: usize, s: &str, max: usize| {
            let s = s.as_bytes();
            let n = s.len().min(max);
            b[o + at..o + at + n].copy_from_slice(&s[..n]);
        };
        b[o] = e.trtype;
        b[o + 1] = e.adrfam;
        b[o + 2] = e.subtype;
        b[o + 3] = e.treq;
        b[o + 4..o + 6].copy_from_slice(&e.portid.to_le_bytes());
        b[o + 6..o + 8].copy_from_slice(&e.cntlid.to_le_bytes());
        b[o + 8..o + 10].copy_from_slice(&e.asqsz.to_le_bytes());
        b[o + 10..o + 12].copy_from_slice(&e.eflags.to_le_bytes());
        put(&mut b, 32, &e.trsvcid, 32);
        put(&mut b, 256, &e.subnqn, 256);
        put(&mut b, 512, &e.traddr, 256);
    }
    b
}

/// A tcp entry (tests and the test double).
pub fn tcp_entry(subtype: u8, traddr: &str, trsvcid: &str, subnqn: &str) -> Entry {
    Entry {
        trtype: TRTYPE_TCP,
        adrfam: if traddr.contains(':') { 2 } else { 1 },
        subtype,
        trsvcid: trsvcid.into(),
        subnqn: subnqn.into(),
        traddr: traddr.into(),
        cntlid: 0xffff,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    const SUB1: &str = "nqn.2024-01.io.testbed:sub1";

    fn page(n: usize) -> Vec<u8> {
        let e: Vec<Entry> = (0..n)
            .map(|i| tcp_entry(SUBTYPE_NVME, "127.0.0.1", "4420", &format!("{SUB1}-{i}")))
            .collect();
        build(7, &e)
    }

    #[test]
    fn fields_at_their_offsets() {
        let mut b = page(1);
        // Space padding and a NUL terminator both end a field.
        b[HEADER_LEN + 32 + 4] = b' ';
        b[HEADER_LEN + 32 + 5] = b' ';
        b[HEADER_LEN + 10] = 4; // NCC
        b[16] = 0; // recfmt
        let p = parse(&b).unwrap();
        assert_eq!(p.genctr, 7);
        let e = &p.entries[0];
        assert_eq!(e.transport(), Some("tcp"));
        assert_eq!(
            (e.trsvcid.as_str(), e.traddr.as_str()),
            ("4420", "127.0.0.1")
        );
        assert_eq!(e.subnqn, format!("{SUB1}-0"));
        assert_eq!(e.cntlid, 0xffff);
        assert!(e.is_nvme() && e.ncc());
        assert_eq!(e.subtype_name(), "nvme");
    }

    #[test]
    fn table_of_pages() {
        let cases: Vec<(Vec<u8>, Result<usize, &str>)> = vec![
            (vec![], Err("Short")),
            (vec![0; 17], Err("Short")),
            (vec![0; 18], Err("Short")),
            (vec![0; HEADER_LEN - 1], Err("Short")),
            (vec![0; HEADER_LEN], Ok(0)),
            (page(0), Ok(0)),
            (page(3), Ok(3)),
            // Header says 3, bytes for 2.
            (
                {
                    let mut p = page(2);
                    p[8] = 3;
                    p
                },
                Err("Short"),
            ),
            // Absurd record count.
            (
                {
                    let mut p = page(0);
                    p[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
                    p
                },
                Err("TooMany"),
            ),
            (
                {
                    let mut p = page(0);
                    p[8..16].copy_from_slice(&(MAX_RECORDS + 1).to_le_bytes());
                    p
                },
                Err("TooMany"),
            ),
            // Trailing bytes are ignored.
            (
                {
                    let mut p = page(1);
                    p.extend([0xff; 100]);
                    p
                },
                Ok(1),
            ),
        ];
        for (i, (b, want)) in cases.into_iter().enumerate() {
            match (parse(&b), want) {
                (Ok(p), Ok(n)) => assert_eq!(p.entries.len(), n, "case {i}"),
                (Err(e), Err(kind)) => {
                    assert!(format!("{e:?}").starts_with(kind), "case {i}: {e:?}")
                }
                (got, want) => panic!("case {i}: {got:?} vs {want:?}"),
            }
        }
    }

    #[test]
    fn subtypes_and_odd_text() {
        let mut e = tcp_entry(
            SUBTYPE_REFERRAL,
            "10.0.0.1",
            "8009",
            "nqn.2014-08.org.nvmexpress.discovery",
        );
        assert_eq!(e.subtype_name(), "referral");
        e.subtype = 9;
        e.trtype = 77;
        assert_eq!((e.subtype_name().as_str(), e.transport()), ("9", None));
        let mut b = build(1, &[e]);
        b[HEADER_LEN + 512] = 0xff; // not UTF-8
        let p = parse(&b).unwrap();
        assert!(p.entries[0].traddr.starts_with('\u{fffd}'));
    }

    /// A fake controller serving `page`, logging (offset, length, RAE).
    fn serve<'a>(
        page: &'a [u8],
        log: &'a RefCell<Vec<(u64, usize, bool)>>,
    ) -> impl FnMut(u64, &mut [u8], bool) -> Result<(), String> + 'a {
        move |off, buf, rae| {
            log.borrow_mut().push((off, buf.len(), rae));
            buf.fill(0);
            let start = (off as usize).min(page.len());
            let end = (start + buf.len()).min(page.len());
            buf[..end - start].copy_from_slice(&page[start..end]);
            Ok(())
        }
    }

    #[test]
    fn read_in_pieces_with_rae() {
        let pg = page(9);
        let log = RefCell::new(Vec::new());
        let p = read(&mut serve(&pg, &log)).unwrap();
        assert_eq!(p.entries.len(), 9);
        assert_eq!(p.entries[8].subnqn, format!("{SUB1}-8"));
        let log = log.into_inner();
        // Header, 3 pieces (4 KiB, 4 KiB, 1 KiB) at increasing offsets, header.
        assert_eq!(
            log,
            [
                (0, 1024, true),
                (1024, 4096, true),
                (5120, 4096, true),
                (9216, 1024, true),
                (0, 1024, false)
            ]
        );
    }

    #[test]
    fn generation_change_rereads() {
        // The first round sees generation 7 with 2 entries, but the
        // closing header read says generation 8 (3 entries): read again.
        let mut changed = page(3);
        changed[0] = 8;
        let mut round = 0usize;
        let pages = [page(2), changed.clone()];
        let mut get = |off: u64, buf: &mut [u8], rae: bool| -> Result<(), String> {
            let src = if round == 0 && rae {
                &pages[0]
            } else {
                &pages[1]
            };
            if !rae {
                round += 1;
            }
            let start = (off as usize).min(src.len());
            let end = (start + buf.len()).min(src.len());
            buf.fill(0);
            buf[..end - start].copy_from_slice(&src[start..end]);
            Ok(())
        };
        let p = read(&mut get).unwrap();
        assert_eq!((p.genctr, p.entries.len()), (8, 3));
        // Never stable: gives up.
        let mut g = 0u64;
        let mut flapping = |off: u64, buf: &mut [u8], _rae: bool| -> Result<(), String> {
            buf.fill(0);
            if off == 0 {
                g += 1;
                buf[0..8].copy_from_slice(&g.to_le_bytes());
            }
            Ok(())
        };
        assert_eq!(
            read(&mut flapping),
            Err(LogError::Unstable { tries: MAX_TRIES })
        );
        // A failing read is reported as such.
        let mut failing =
            |_: u64, _: &mut [u8], _: bool| -> Result<(), String> { Err("EIO".into()) };
        let e = read(&mut failing).unwrap_err();
        assert_eq!(e.to_string(), "Get Log Page failed: EIO");
        // A header announcing too much is refused before any body read.
        let mut huge = |_: u64, buf: &mut [u8], _: bool| -> Result<(), String> {
            buf.fill(0xff);
            Ok(())
        };
        assert!(matches!(read(&mut huge), Err(LogError::TooMany { .. })));
    }
}
