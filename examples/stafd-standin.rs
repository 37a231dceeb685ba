//! A stand-in for nvme-stas's stafd, for the real-kernel test (tests/vm):
//! owns `org.nvmexpress.staf` on the system bus, answers
//! `get_all_log_pages(b) → s` with the content of FILE (read at each
//! call), and emits `log_pages_changed` (eight strings, docs/design.md §3.3)
//! whenever FILE changes — what stafd does after reading a log page.
//!
//!     stafd-standin FILE
//!
//! Needs the dbus feature (zbus). Test tool only: polls FILE's mtime every
//! 200 ms.

use std::time::{Duration, SystemTime};

struct Staf {
    file: String,
}

#[zbus::interface(name = "org.nvmexpress.staf")]
impl Staf {
    #[zbus(name = "get_all_log_pages")]
    fn get_all_log_pages(&self, _detailed: bool) -> String {
        std::fs::read_to_string(&self.file).unwrap_or_else(|_| "[]".into())
    }
}

fn mtime(f: &str) -> Option<SystemTime> {
    std::fs::metadata(f).and_then(|m| m.modified()).ok()
}

fn main() -> std::process::ExitCode {
    let Some(file) = std::env::args().nth(1) else {
        eprintln!("usage: stafd-standin FILE");
        return 2.into();
    };
    let conn = match zbus::blocking::connection::Builder::system().and_then(|b| {
        b.serve_at("/org/nvmexpress/staf", Staf { file: file.clone() })?
            .name("org.nvmexpress.staf")?
            .build()
    }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("stafd-standin: {e}");
            return 1.into();
        }
    };
    eprintln!("stafd-standin: serving {file}");
    let mut last = mtime(&file);
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let now = mtime(&file);
        if now != last {
            last = now;
            let r = conn.emit_signal(
                None::<&str>,
                "/org/nvmexpress/staf",
                "org.nvmexpress.staf",
                "log_pages_changed",
                &(
                    "tcp",
                    "127.0.0.1",
                    "8009",
                    "nqn.2014-08.org.nvmexpress.discovery",
                    "",
                    "",
                    "",
                    "nvme0",
                ),
            );
            eprintln!("stafd-standin: log_pages_changed ({r:?})");
        }
    }
}
