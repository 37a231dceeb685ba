//! Worker threads that block in the kernel for a connect or an admin
//! command.
//!
//! A signal delivered to a thread blocked in a connect aborts the connect
//! inside the kernel (the TCP transport's socket connect waits
//! interruptibly: `kernel_connect` returns -ERESTARTSYS, seen in the VM as
//! "failed to connect socket: -512"), and with SA_RESTART the write to
//! /dev/nvme-fabrics then starts the whole connect again. The signals stacd
//! handles (SIGHUP, SIGTERM, SIGINT) are therefore blocked in these threads,
//! so the kernel delivers them to the main thread, which polls for them.
//! rustix exposes rt_sigprocmask only through an undocumented experimental
//! module; libc's pthread_sigmask(3) is the supported way.

use std::io;
use std::thread::JoinHandle;

/// Block SIGHUP, SIGTERM and SIGINT in the calling thread.
#[allow(unsafe_code)]
fn block_handled_signals() -> io::Result<()> {
    // SAFETY: `set` is a properly initialised sigset_t (sigemptyset before
    // any use) living on this stack frame for the whole call; the old mask
    // is not requested (null). pthread_sigmask only changes this thread's
    // mask, and none of these signals is reserved by the C library.
    let rc = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGHUP, libc::SIGTERM, libc::SIGINT] {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut())
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

/// Spawn a named worker with a small stack (connect and discovery jobs
/// need little: the discovery page is on the heap) and the handled signals
/// blocked.
pub fn spawn<F: FnOnce() + Send + 'static>(name: &str, f: F) -> io::Result<JoinHandle<()>> {
    spawn_boxed(name, Box::new(f))
}

/// [`spawn`] for one closure type: std's thread start is built once, not
/// once per caller (7 of them: 4.8 KB of code in the full binary,
/// ci/size-budget).
fn spawn_boxed(name: &str, f: Box<dyn FnOnce() + Send>) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.into())
        .stack_size(256 * 1024)
        .spawn(move || {
            if let Err(e) = block_handled_signals() {
                log::debug!("cannot block signals in a worker thread: {e}");
            }
            f()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_have_the_handled_signals_blocked() {
        let h = spawn("t", || {
            let status = std::fs::read_to_string("/proc/thread-self/status").unwrap_or_default();
            let blk = status
                .lines()
                .find_map(|l| l.strip_prefix("SigBlk:"))
                .map(|v| u64::from_str_radix(v.trim(), 16).unwrap_or(0))
                .unwrap_or(0);
            // Bits are signal number - 1: SIGHUP=1, SIGINT=2, SIGTERM=15.
            for sig in [1, 2, 15] {
                assert!(
                    blk & (1 << (sig - 1)) != 0,
                    "signal {sig} not blocked: {blk:x}"
                );
            }
        })
        .unwrap();
        h.join().unwrap();
    }
}
