//! Where log messages go: stderr by default; with `-s`, syslog over
//! `/dev/log`, or `/dev/kmsg` when there is no `/dev/log` (an initramfs),
//! or stderr when neither can be opened.
//!
//! The `syslog` crate never reconnects: after the syslog daemon restarts,
//! every later message is lost (docs/design.md §C5). This wrapper reopens
//! the socket once when a send fails and sends again. The level is DEBUG
//! when trace is on, INFO otherwise (docs/design.md §9); it can change at
//! run time (`--tron`, the config's `tron`, D-Bus).

use crate::base::root::{rel, Root};
use log::{Level, LevelFilter, Log, Metadata, Record};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;
use syslog::{Facility, LogFormat, LoggerBackend, Severity};

type SyslogConn = syslog::Logger<LoggerBackend, Rfc3164>;

enum Sink {
    Stderr,
    Syslog {
        path: PathBuf,
        conn: Option<SyslogConn>,
    },
    Kmsg(std::fs::File),
}

struct Logger {
    ident: &'static str,
    sink: Mutex<Sink>,
}

/// Messages as syslog(3) sends them (RFC 3164 §4.1): `<PRI>Mmm dd
/// hh:mm:ss IDENT[PID]: MSG`, facility daemon. The crate's `Formatter3164`
/// writes the same through the `time` crate, ~30 KB of the binary for a
/// clock reading; [`Stamp`] does it in a few lines. The time is UTC, as
/// that formatter's: local time needs the zone database, and the receivers
/// (journald, rsyslog's imuxsock) stamp messages with their reception time.
#[derive(Debug)]
struct Rfc3164 {
    ident: &'static str,
    pid: u32,
}

impl<T: std::fmt::Display> LogFormat<T> for Rfc3164 {
    fn format<W: std::io::Write>(&self, w: &mut W, sev: Severity, msg: T) -> syslog::Result<()> {
        let pri = Facility::LOG_DAEMON as u8 | sev as u8;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        let stamp = Stamp(now.map_or(0, |d| d.as_secs()));
        // One write_fmt: the crate sends each call as one datagram.
        write!(w, "<{pri}>{stamp} {}[{}]: {msg}", self.ident, self.pid)
            .map_err(syslog::Error::Write)
    }
}

/// Seconds since the epoch as RFC 3164's TIMESTAMP (UTC): `Mmm dd
/// hh:mm:ss`, the day padded with a space.
struct Stamp(u64);

impl std::fmt::Display for Stamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let (days, s) = (self.0 / 86_400, self.0 % 86_400);
        // Day of the year in a March-based year, in 400-year eras of
        // 146,097 days (the proleptic Gregorian calendar's civil-from-days).
        let z = days + 719_468;
        let doe = z % 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = MONTHS[((mp + 2) % 12) as usize];
        let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
        write!(f, "{month} {day:>2} {h:02}:{m:02}:{s:02}")
    }
}

fn formatter(ident: &'static str) -> Rfc3164 {
    Rfc3164 {
        ident,
        pid: std::process::id(),
    }
}

fn send(conn: &mut SyslogConn, level: Level, msg: &str) -> syslog::Result<()> {
    match level {
        Level::Error => conn.err(msg),
        Level::Warn => conn.warning(msg),
        Level::Info => conn.info(msg),
        Level::Debug | Level::Trace => conn.debug(msg),
    }
}

/// Priority of a level in /dev/kmsg's `<N>` prefix (syslog(3) values,
/// facility daemon = 3 << 3).
fn kmsg_prio(level: Level) -> u8 {
    (3 << 3)
        | match level {
            Level::Error => 3,
            Level::Warn => 4,
            Level::Info => 6,
            Level::Debug | Level::Trace => 7,
        }
}

/// One message, one line: control characters (a newline or escape
/// sequence from a file, the NBFT, a log page, D-Bus) are escaped, so no
/// input can forge or hide a log line, whichever message carries it.
pub fn one_line(msg: String) -> String {
    if !msg.contains(|c: char| c.is_control() && c != '\t') {
        return msg;
    }
    let mut o = String::with_capacity(msg.len() + 8);
    for c in msg.chars() {
        if c.is_control() && c != '\t' {
            o.extend(c.escape_default());
        } else {
            o.push(c);
        }
    }
    o
}

impl Log for Logger {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.level() <= log::max_level()
    }

    fn log(&self, r: &Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let msg = one_line(r.args().to_string());
        let mut sink = self.sink.lock().unwrap_or_else(|p| p.into_inner());
        match &mut *sink {
            Sink::Stderr => {
                let tag = match r.level() {
                    Level::Error => "error: ",
                    Level::Warn => "warning: ",
                    Level::Info => "",
                    Level::Debug | Level::Trace => "debug: ",
                };
                // One write per line (stderr is unbuffered: writeln! would
                // write each piece, five system calls a line, and let
                // another thread's line in between).
                let line = format!("{}: {tag}{msg}\n", self.ident);
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
            Sink::Syslog { path, conn } => {
                // Send; on failure reopen once (the syslog daemon may have
                // restarted) and send again; fall back to stderr.
                let sent = conn
                    .as_mut()
                    .is_some_and(|c| send(c, r.level(), &msg).is_ok());
                if !sent {
                    *conn = syslog::unix_custom(formatter(self.ident), &*path).ok();
                    let resent = conn
                        .as_mut()
                        .is_some_and(|c| send(c, r.level(), &msg).is_ok());
                    if !resent {
                        let line = format!("{}: {msg}\n", self.ident);
                        let _ = std::io::stderr().write_all(line.as_bytes());
                    }
                }
            }
            Sink::Kmsg(f) => {
                // One write per record: the kernel takes each write as one
                // message (kernel `printk/printk.c`, devkmsg_write).
                let line = format!(
                    "<{}>{}[{}]: {msg}\n",
                    kmsg_prio(r.level()),
                    self.ident,
                    std::process::id()
                );
                let _ = f.write_all(line.as_bytes());
            }
        }
    }

    fn flush(&self) {}
}

/// Install the logger once. `syslog`: the `-s` option.
pub fn init(root: &Root, ident: &'static str, syslog: bool, debug: bool) {
    let sink = if syslog {
        let path = root.path(rel::DEV_LOG);
        match syslog::unix_custom(formatter(ident), &path) {
            Ok(conn) => Sink::Syslog {
                path,
                conn: Some(conn),
            },
            Err(_) => match std::fs::OpenOptions::new()
                .write(true)
                .open(root.path(rel::DEV_KMSG))
            {
                Ok(f) => Sink::Kmsg(f),
                Err(_) => Sink::Stderr,
            },
        }
    } else {
        Sink::Stderr
    };
    let logger = Box::leak(Box::new(Logger {
        ident,
        sink: Mutex::new(sink),
    }));
    // A second init (tests) keeps the first logger.
    let _ = log::set_logger(logger);
    set_debug(debug);
}

/// Switch trace (DEBUG) on or off.
pub fn set_debug(on: bool) {
    log::set_max_level(if on {
        LevelFilter::Debug
    } else {
        LevelFilter::Info
    });
}

/// `DEBUG` or `INFO` (the D-Bus `log_level` property, §6.2).
pub fn level_name() -> &'static str {
    if log::max_level() >= LevelFilter::Debug {
        "DEBUG"
    } else {
        "INFO"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_message() {
        assert_eq!(one_line("a b\tc".into()), "a b\tc");
        assert_eq!(
            one_line("x\nstacd[1]: forged\r\u{1b}[2J\0".into()),
            "x\\nstacd[1]: forged\\r\\u{1b}[2J\\u{0}"
        );
    }

    #[test]
    fn kmsg_priorities() {
        assert_eq!(kmsg_prio(Level::Error), 27);
        assert_eq!(kmsg_prio(Level::Info), 30);
        assert_eq!(kmsg_prio(Level::Debug), 31);
    }

    #[test]
    fn rfc3164_time_stamps() {
        // Checked against `date -u -d @N '+%b %e %H:%M:%S'`.
        for (secs, want) in [
            (0, "Jan  1 00:00:00"),
            (1_700_000_000, "Nov 14 22:13:20"),
            (951_782_400, "Feb 29 00:00:00"),
            (1_709_251_199, "Feb 29 23:59:59"),
            (4_107_542_399, "Feb 28 23:59:59"),
        ] {
            assert_eq!(Stamp(secs).to_string(), want, "{secs}");
        }
    }

    #[test]
    fn syslog_reconnects_after_the_daemon_restarts() {
        use std::os::unix::net::UnixDatagram;
        let dir = std::env::temp_dir().join(format!("stacd-log-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("dev")).unwrap();
        let sock = dir.join("dev/log");
        let listener = UnixDatagram::bind(&sock).unwrap();
        let logger = Logger {
            ident: "stacd",
            sink: Mutex::new(Sink::Syslog {
                path: sock.clone(),
                conn: syslog::unix_custom(formatter("stacd"), &sock).ok(),
            }),
        };
        let rec = |m: &str, l: &dyn Log| {
            l.log(
                &Record::builder()
                    .level(Level::Error)
                    .args(format_args!("{m}"))
                    .build(),
            );
        };
        let mut buf = [0u8; 512];
        log::set_max_level(LevelFilter::Debug);
        rec("first", &logger);
        let n = listener.recv(&mut buf).unwrap();
        let got = String::from_utf8_lossy(&buf[..n]).into_owned();
        // <daemon.err>Mmm dd hh:mm:ss stacd[PID]: first
        let (stamp, rest) = got.strip_prefix("<27>").unwrap().split_at(15);
        assert_eq!(stamp.as_bytes()[3], b' ', "{got}");
        assert_eq!(stamp.matches(':').count(), 2, "{got}");
        assert_eq!(rest, format!(" stacd[{}]: first", std::process::id()));
        // The syslog daemon restarts: a new socket at the same path.
        drop(listener);
        std::fs::remove_file(&sock).unwrap();
        let listener = UnixDatagram::bind(&sock).unwrap();
        rec("second", &logger);
        let n = listener.recv(&mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).ends_with("second"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
