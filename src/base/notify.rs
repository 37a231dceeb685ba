//! Readiness notifications to systemd (sd_notify(3)) without libsystemd:
//! one datagram to the socket named by `$NOTIFY_SOCKET` (a path, or an
//! abstract name when it starts with `@`). Nothing happens when the variable
//! is unset (not started by systemd, or an initramfs without it).

use rustix::net::{self, AddressFamily, SendFlags, SocketAddrUnix, SocketType};

/// Send `state` (e.g. `READY=1`); errors are logged at debug level only —
/// a missing notification must never stop the daemon.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let path = path.to_string_lossy().into_owned();
    let res = (|| {
        let addr = match path.strip_prefix('@') {
            Some(name) => SocketAddrUnix::new_abstract_name(name.as_bytes())?,
            None => SocketAddrUnix::new(path.as_str())?,
        };
        let fd = net::socket(AddressFamily::UNIX, SocketType::DGRAM, None)?;
        net::sendto(&fd, state.as_bytes(), SendFlags::NOSIGNAL, &addr)
    })();
    if let Err(e) = res {
        log::debug!("sd_notify {state:?} to {path}: {e}");
    }
}

/// `RELOADING=1` with the monotonic timestamp systemd's `Type=notify-reload`
/// requires (systemd.service(5), "MONOTONIC_USEC").
pub fn reloading() {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    let usec = t.tv_sec as u64 * 1_000_000 + t.tv_nsec as u64 / 1000;
    notify(&format!("RELOADING=1\nMONOTONIC_USEC={usec}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_one_datagram() {
        use std::os::unix::net::UnixDatagram;
        let p = std::env::temp_dir().join(format!("stacd-notify-{}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        let l = UnixDatagram::bind(&p).unwrap();
        // Only this test touches NOTIFY_SOCKET.
        std::env::set_var("NOTIFY_SOCKET", &p);
        notify("READY=1");
        reloading();
        std::env::remove_var("NOTIFY_SOCKET");
        let mut b = [0u8; 128];
        let n = l.recv(&mut b).unwrap();
        assert_eq!(&b[..n], b"READY=1");
        let n = l.recv(&mut b).unwrap();
        assert!(String::from_utf8_lossy(&b[..n]).starts_with("RELOADING=1\nMONOTONIC_USEC="));
        std::fs::remove_file(&p).unwrap();
    }
}
