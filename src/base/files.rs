//! Reading files that come from outside and writing our own state files,
//! safely: the two ways stacd touches files other programs can change.
//!
//! Reads ([`read_bounded`]) never block and never read without end: the
//! file is opened non-blocking (a FIFO planted as a state file would
//! otherwise stop start-up), anything but a regular file is refused with a
//! message that says what it is, and at most a limit is read — more is an
//! error the caller treats like a damaged file. State files are opened
//! without following a symbolic link.
//!
//! Writes ([`write_atomic`]) create a new temporary file with
//! `O_CREAT|O_EXCL|O_NOFOLLOW` (open(2): fails on any existing name, a
//! planted link included, so nothing but our own new file is written),
//! fsync it, rename it over the old one, and fsync the directory, so a
//! crash or a full disk never leaves a half-written file and no link can
//! redirect the write.

use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;
use std::io::{Read, Write};
use std::path::Path;

/// Why a file could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// Not a regular file: what it is instead.
    NotRegular(&'static str),
    /// Bigger than the limit (bytes).
    TooLarge(u64),
    Io(std::io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::NotRegular(what) => write!(f, "not a regular file (a {what}); refused"),
            ReadError::TooLarge(n) => write!(f, "larger than {} KiB; refused", n / 1024),
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ReadError {}

/// The same error: an I/O error by its kind and errno (`std::io::Error` has
/// no equality of its own).
impl PartialEq for ReadError {
    fn eq(&self, other: &ReadError) -> bool {
        match (self, other) {
            (ReadError::NotRegular(a), ReadError::NotRegular(b)) => a == b,
            (ReadError::TooLarge(a), ReadError::TooLarge(b)) => a == b,
            (ReadError::Io(a), ReadError::Io(b)) => {
                a.kind() == b.kind() && a.raw_os_error() == b.raw_os_error()
            }
            _ => false,
        }
    }
}

/// Why one of our own record files (state.json, boot.json) cannot be
/// used; the caller names the file.
#[derive(Debug, PartialEq)]
pub enum RecordError {
    /// It could not be read as a bounded regular file.
    File(ReadError),
    NotUtf8,
    /// Not JSON, or not the document we write.
    Json(crate::base::json::JsonError),
    /// Written by a stacd with another schema: the version found, ours,
    /// and whether we write or only read that file.
    Version {
        found: u32,
        ours: u32,
        verb: &'static str,
    },
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordError::File(e) => write!(f, "{e}"),
            RecordError::NotUtf8 => f.write_str("not UTF-8 text"),
            RecordError::Json(e) => write!(f, "{e}"),
            RecordError::Version { found, ours, verb } => {
                write!(f, "schema version {found} (this stacd {verb} {ours})")
            }
        }
    }
}

impl std::error::Error for RecordError {}

impl From<crate::base::json::JsonError> for RecordError {
    fn from(e: crate::base::json::JsonError) -> RecordError {
        RecordError::Json(e)
    }
}

/// What a file type is called in messages.
fn kind(t: FileType) -> &'static str {
    match t {
        FileType::Directory => "directory",
        FileType::Fifo => "FIFO",
        FileType::Socket => "socket",
        FileType::CharacterDevice => "character device",
        FileType::BlockDevice => "block device",
        FileType::Symlink => "symbolic link",
        _ => "special file",
    }
}

/// A file read by [`read_bounded`].
#[derive(Debug)]
pub struct Contents {
    pub bytes: Vec<u8>,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
}

/// Read `path` if it is a regular file of at most `limit` bytes.
/// `Ok(None)`: it does not exist. `follow`: whether a symbolic link is
/// followed (configuration files may be links; state files may not). The
/// size is not taken from `stat` (procfs files say 0): at most `limit + 1`
/// bytes are read.
pub fn read_bounded(path: &Path, limit: u64, follow: bool) -> Result<Option<Contents>, ReadError> {
    let mut flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
    if !follow {
        flags |= OFlags::NOFOLLOW;
    }
    let fd = match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(None),
        // O_NOFOLLOW on a link (open(2)); a device or socket may also
        // refuse the open itself.
        Err(Errno::LOOP) if !follow => return Err(ReadError::NotRegular("symbolic link")),
        Err(Errno::NXIO) => return Err(ReadError::NotRegular("socket or device")),
        Err(e) => return Err(ReadError::Io(e.into())),
    };
    let st = rustix::fs::fstat(&fd).map_err(|e| ReadError::Io(e.into()))?;
    let t = FileType::from_raw_mode(st.st_mode);
    if t != FileType::RegularFile {
        return Err(ReadError::NotRegular(kind(t)));
    }
    let mut bytes = Vec::new();
    std::fs::File::from(fd)
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge(limit));
    }
    Ok(Some(Contents {
        bytes,
        mode: st.st_mode & 0o7777,
    }))
}

/// How a loader reads the files it is given: [`read_bounded`] following
/// links ([`read_file`]) in the program; a map of texts in a fuzz target,
/// so the loader's own code runs on the fuzzer's input without a file
/// system in between (docs/design.md §A2 rule 1).
pub type Reader<'a> = &'a dyn Fn(&Path, u64) -> Result<Option<Contents>, ReadError>;

/// [`read_bounded`] of a file that may be a link (configuration files).
pub fn read_file(path: &Path, limit: u64) -> Result<Option<Contents>, ReadError> {
    read_bounded(path, limit, true)
}

/// Why a file holding a key should not be read by others (ssh's rule for
/// private keys: no permission for group or others), or `None`.
pub fn key_file_warning(mode: u32) -> Option<String> {
    (mode & 0o077 != 0).then(|| {
        format!("{mode:04o} let group or others read the DH-HMAC-CHAP key in it; chmod 600 it")
    })
}

/// Write `bytes` as `dir/name` atomically (see the module's notes). The
/// temporary file is `.NAME.PID.N` in `dir`; an existing one is never
/// opened, the next `N` is tried.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let pid = std::process::id();
    for n in 0..16 {
        let tmp = dir.join(format!(".{name}.{pid}.{n}"));
        let fd = match rustix::fs::open(&tmp, flags, Mode::from_raw_mode(0o644)) {
            Ok(fd) => fd,
            Err(Errno::EXIST) => continue,
            Err(e) => return Err(e.into()),
        };
        let res = (|| {
            let mut f = std::fs::File::from(fd);
            f.write_all(bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, dir.join(name))?;
            let d = rustix::fs::open(
                dir,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            rustix::fs::fsync(&d)?;
            Ok(())
        })();
        if res.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        return res;
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        format!(
            "{}: 16 temporary names .{name}.{pid}.N are taken",
            dir.display()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::config::tests::TempDir;

    // Issue 12 case 4: a planted link at the temporary name is not followed.
    #[test]
    fn writes_never_follow_a_planted_link() {
        let d = TempDir::new("files-link");
        let target = d.write("target", b"precious");
        for n in 0..3 {
            let tmp = d.0.join(format!(".state.json.{}.{n}", std::process::id()));
            std::os::unix::fs::symlink(&target, tmp).unwrap();
        }
        write_atomic(&d.0, "state.json", b"new").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
        assert_eq!(std::fs::read(d.0.join("state.json")).unwrap(), b"new");
        // A link as the file itself is replaced, its target untouched.
        std::fs::remove_file(d.0.join("state.json")).unwrap();
        std::os::unix::fs::symlink(&target, d.0.join("state.json")).unwrap();
        write_atomic(&d.0, "state.json", b"newer").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
        assert_eq!(std::fs::read(d.0.join("state.json")).unwrap(), b"newer");
    }

    // Issue 12 case 7: a FIFO does not hang, a huge file is not read.
    #[test]
    fn reads_are_bounded_and_regular_only() {
        let d = TempDir::new("files-read");
        let p = d.write("f", b"12345");
        let r = read_bounded(&p, 5, false).unwrap().unwrap();
        assert_eq!(r.bytes, b"12345");
        assert!(matches!(
            read_bounded(&p, 4, false),
            Err(ReadError::TooLarge(4))
        ));
        assert!(read_bounded(&d.0.join("none"), 4, false).unwrap().is_none());
        let fifo = d.0.join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let e = read_bounded(&fifo, 10, true).unwrap_err();
        assert_eq!(e.to_string(), "not a regular file (a FIFO); refused");
        assert!(matches!(
            read_bounded(&d.0, 10, true),
            Err(ReadError::NotRegular("directory"))
        ));
        let link = d.0.join("link");
        std::os::unix::fs::symlink(&p, &link).unwrap();
        assert!(matches!(
            read_bounded(&link, 10, false),
            Err(ReadError::NotRegular(_))
        ));
        assert!(read_bounded(&link, 10, true).unwrap().is_some());
        assert!(key_file_warning(0o600).is_none());
        let w = key_file_warning(0o644).unwrap();
        assert!(w.contains("0644") && w.contains("chmod 600"), "{w}");
    }
}
