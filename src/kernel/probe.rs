//! A TCP probe before an NVMe/TCP connect, so that a silent address does
//! not hold up the connects of live ones.
//!
//! The kernel connects one controller at a time: `nvmf_dev_write` holds the
//! global `nvmf_dev_mutex` around the whole of `nvmf_create_ctrl`
//! (`drivers/nvme/host/fabrics.c`). An address that drops packets holds it
//! for the whole TCP connect timeout, ~3 s (`nvme_tcp_alloc_queue` sets
//! `TCP_SYNCNT` to 1, `drivers/nvme/host/tcp.c`), and every connect queued
//! behind it waits (docs/benchmarks.md §2: +3 s for each live controller).
//! So, when several connects start together, each worker first opens a
//! plain TCP connection to the target's address and port (bound to
//! host-traddr when one is set) and drops it: a live target answers within
//! one round trip and its connect goes ahead; one that has not answered
//! after [`PROBE_WAIT`] is written to the kernel then anyway, after the
//! others. The probe only orders; it never decides whether to connect.
//! Connects to the same address and port (many subsystems behind one
//! portal) share one probe ([`Gate`]): one TCP connection per portal, not
//! one per controller, which also keeps the probes' cost off a batch of
//! live connects (docs/benchmarks.md).
//!
//! host-iface is not applied to the probe (rustix has no SO_BINDTODEVICE):
//! its route may differ from the kernel's, which at worst delays that
//! connect by [`PROBE_WAIT`]. The target sees one extra TCP connection that
//! closes before its ICReq (nvmet releases such a queue without a message).

use crate::model::identity::{Identity, Transport};
use rustix::event::{poll, PollFd, PollFlags};
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketFlags, SocketType};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long a probe waits for an answer: Linux's initial retransmission
/// timeout (`TCP_TIMEOUT_INIT`, 1 s, `include/net/tcp.h`). A target that
/// lost no packet has answered by then.
pub const PROBE_WAIT: Duration = Duration::from_secs(1);

/// What a probe saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// The target accepted the TCP connection.
    Answered,
    /// The target (or a router) refused it: the kernel's connect will fail
    /// fast, it holds nobody up.
    Refused,
    /// No answer within the wait.
    Silent,
    /// Not probed: not TCP, an address that is not an IP literal, or a
    /// local error (no route, no such source address...).
    Skipped,
}

/// One probe shared by the connects of one batch to the same portal: the
/// first to arrive probes, the others wait for its answer.
#[derive(Debug, Default)]
pub struct Gate {
    state: Mutex<GateState>,
    done: Condvar,
}

#[derive(Debug, Default)]
enum GateState {
    #[default]
    Idle,
    Probing,
    Done(Probe),
}

impl Gate {
    /// The portal's probe result, probing it (for at most `wait`) if no
    /// one has yet.
    pub fn pass(&self, id: &Identity, wait: Duration) -> Probe {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match *st {
            GateState::Done(p) => return p,
            GateState::Idle => {
                *st = GateState::Probing;
                drop(st);
                let p = tcp(id, wait);
                let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                *st = GateState::Done(p);
                self.done.notify_all();
                return p;
            }
            GateState::Probing => {}
        }
        // Someone else probes; its probe ends within `wait` (a margin for
        // the scheduler, then go ahead as if it were silent).
        let deadline = Instant::now() + wait + Duration::from_millis(100);
        loop {
            if let GateState::Done(p) = *st {
                return p;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Probe::Silent;
            }
            st = self
                .done
                .wait_timeout(st, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// Probe `id`'s target for at most `wait`.
pub fn tcp(id: &Identity, wait: Duration) -> Probe {
    if id.transport != Transport::Tcp {
        return Probe::Skipped;
    }
    let (Ok(ip), Ok(port)) = (
        id.traddr.as_str().parse::<IpAddr>(),
        id.trsvcid.as_str().parse::<u16>(),
    ) else {
        return Probe::Skipped;
    };
    let family = match ip {
        IpAddr::V4(_) => AddressFamily::INET,
        IpAddr::V6(_) => AddressFamily::INET6,
    };
    let Ok(fd) = rustix::net::socket_with(
        family,
        SocketType::STREAM,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    ) else {
        return Probe::Skipped;
    };
    if !id.host_traddr.is_empty() {
        match id.host_traddr.as_str().parse::<IpAddr>() {
            Ok(src) if src.is_ipv4() == ip.is_ipv4() => {
                if rustix::net::bind(&fd, &SocketAddr::new(src, 0)).is_err() {
                    return Probe::Skipped;
                }
            }
            _ => return Probe::Skipped,
        }
    }
    match rustix::net::connect(&fd, &SocketAddr::new(ip, port)) {
        Ok(()) => return Probe::Answered,
        Err(Errno::INPROGRESS) => {}
        Err(Errno::CONNREFUSED) => return Probe::Refused,
        Err(_) => return Probe::Skipped,
    }
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Probe::Silent;
        }
        let ts = rustix::time::Timespec {
            tv_sec: left.as_secs() as _,
            tv_nsec: left.subsec_nanos() as _,
        };
        let mut fds = [PollFd::new(&fd, PollFlags::OUT)];
        match poll(&mut fds, Some(&ts)) {
            Ok(0) => return Probe::Silent,
            Ok(_) => break,
            Err(Errno::INTR) => continue,
            Err(_) => return Probe::Skipped,
        }
    }
    match rustix::net::sockopt::socket_error(&fd) {
        Ok(Ok(())) => Probe::Answered,
        Ok(Err(Errno::CONNREFUSED)) => Probe::Refused,
        _ => Probe::Skipped,
    }
    // Dropping the descriptor closes the connection (FIN).
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::identity::IdFields;

    fn id(traddr: &str, port: u16, transport: &str) -> Identity {
        let port = port.to_string();
        Identity::new(&IdFields {
            transport,
            traddr,
            trsvcid: &port,
            subsysnqn: "nqn.2024-01.io.test:probe",
            host_nqn: "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000001",
            ..Default::default()
        })
        .expect("identity")
    }

    // Loopback answers at once: a listening port is Answered, a closed one
    // Refused; other transports and host names are not probed.
    #[test]
    fn loopback_answers_or_refuses() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
        let port = l.local_addr().expect("addr").port();
        assert_eq!(
            tcp(&id("127.0.0.1", port, "tcp"), PROBE_WAIT),
            Probe::Answered
        );
        drop(l);
        assert_eq!(
            tcp(&id("127.0.0.1", port, "tcp"), PROBE_WAIT),
            Probe::Refused
        );
        assert_eq!(
            tcp(&id("127.0.0.1", port, "rdma"), PROBE_WAIT),
            Probe::Skipped
        );
    }

    // Connects to one portal share one probe: one TCP connection reaches
    // the target, and every caller gets its answer.
    #[test]
    fn one_probe_per_portal() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
        l.set_nonblocking(true).expect("nonblocking");
        let port = l.local_addr().expect("addr").port();
        let gate = std::sync::Arc::new(Gate::default());
        let got: Vec<Probe> = (0..8)
            .map(|_| {
                let (g, i) = (gate.clone(), id("127.0.0.1", port, "tcp"));
                std::thread::spawn(move || g.pass(&i, PROBE_WAIT))
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().expect("join"))
            .collect();
        assert!(got.iter().all(|p| *p == Probe::Answered), "{got:?}");
        let mut accepted = 0;
        while l.accept().is_ok() {
            accepted += 1;
        }
        assert_eq!(accepted, 1, "one TCP connection for eight connects");
    }
}
