//! Where log messages go: stderr by default; with `-s`, syslog over
//! `/dev/log`, or `/dev/kmsg` when there is no `/dev/log` (an initramfs),
//! or stderr when neither can be opened.
//!
//! The `syslog` crate never reconnects: after the syslog daemon restarts,
//! every later message is lost (../spec/crates.md §5). This wrapper reopens
//! the socket once when a send fails and sends again. The level is DEBUG
//! when trace is on, INFO otherwise (stacd-spec.md §9); it can change at
//! run time (`--tron`, the config's `tron`, D-Bus).

use crate::root::{rel, Root};
use log::{Level, LevelFilter, Log, Metadata, Record};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;
use syslog::{Facility, Formatter3164, LoggerBackend};

type SyslogConn = syslog::Logger<LoggerBackend, Formatter3164>;

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

fn formatter(ident: &str) -> Formatter3164 {
    Formatter3164 {
        facility: Facility::LOG_DAEMON,
        hostname: None,
        process: ident.into(),
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

impl Log for Logger {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.level() <= log::max_level()
    }

    fn log(&self, r: &Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let msg = r.args().to_string();
        let mut sink = self.sink.lock().unwrap_or_else(|p| p.into_inner());
        match &mut *sink {
            Sink::Stderr => {
                let tag = match r.level() {
                    Level::Error => "error: ",
                    Level::Warn => "warning: ",
                    Level::Info => "",
                    Level::Debug | Level::Trace => "debug: ",
                };
                let _ = writeln!(std::io::stderr().lock(), "{}: {tag}{msg}", self.ident);
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
                        let _ = writeln!(std::io::stderr().lock(), "{}: {msg}", self.ident);
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
    fn kmsg_priorities() {
        assert_eq!(kmsg_prio(Level::Error), 27);
        assert_eq!(kmsg_prio(Level::Info), 30);
        assert_eq!(kmsg_prio(Level::Debug), 31);
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
        assert!(
            String::from_utf8_lossy(&buf[..n]).contains("stacd["),
            "tagged"
        );
        assert!(String::from_utf8_lossy(&buf[..n]).ends_with("first"));
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
