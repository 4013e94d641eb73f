//! The built-in sender's UDP sockets, with what they could not send counted.
//!
//! A sender that drops datagrams in its own socket would make a perfect network look lossy, so
//! `rtcscope serve` must not be the bottleneck, and must say so when it is. webrtc-rs hands every
//! UDP socket it binds to its `Runtime` to wrap; [`CountingRuntime`] is webrtc-rs's tokio runtime with
//! a hook ([`super::udp_runtime`]) that wraps each UDP socket in one that counts, per sender:
//! - **send errors**: `poll_send` failed (`ENOBUFS`, `EPERM`, …). webrtc-rs's driver logs the error and
//!   moves on, so those datagrams are lost in this host.
//! - **send-buffer waits**: `poll_send` was not ready because the socket's send buffer was full (the
//!   kernel's `EAGAIN`, counted by it as `SndbufErrors`). Tokio waits for room and sends then, so
//!   nothing is lost, but the sender is being held back.

use std::fmt;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use webrtc::runtime::{AsyncUdpSocket, RecvMeta, Runtime, TokioRuntime, Transmit};

use super::udp_runtime::{HookedRuntime, UdpHook};

/// What the sender's sockets could not send, shared by every socket of every connection.
#[derive(Debug, Default)]
pub struct SendCounters {
    errors: AtomicU64,
    datagrams_lost: AtomicU64,
    waits: AtomicU64,
}

/// A reading of [`SendCounters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendDrops {
    /// Datagrams a failed send took with it (lost in this host).
    pub datagrams_lost: u64,
    /// Send calls that failed.
    pub errors: u64,
    /// Times a socket's send buffer was full and the sender waited for room (nothing lost).
    pub waits: u64,
}

impl SendCounters {
    /// The counts so far.
    pub fn read(&self) -> SendDrops {
        SendDrops {
            datagrams_lost: self.datagrams_lost.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            waits: self.waits.load(Ordering::Relaxed),
        }
    }
}

/// The number of datagrams `transmit` carries (more than one with UDP GSO).
fn datagrams(transmit: &Transmit<'_>) -> u64 {
    match transmit.segment_size {
        Some(seg) if seg > 0 => transmit.contents.len().div_ceil(seg).max(1) as u64,
        _ => 1,
    }
}

/// A UDP socket that counts its failed and held-back sends.
struct CountingSocket {
    inner: Arc<dyn AsyncUdpSocket>,
    counters: Arc<SendCounters>,
    /// A send succeeded: from then on tokio knows the socket is writable, and a pending send means
    /// the kernel said `EAGAIN` (before it, pending only means readiness was not known yet).
    sent_once: AtomicBool,
}

impl fmt::Debug for CountingSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountingSocket")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl AsyncUdpSocket for CountingSocket {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn poll_send(&self, cx: &mut Context<'_>, transmit: &Transmit<'_>) -> Poll<io::Result<usize>> {
        let r = self.inner.poll_send(cx, transmit);
        match &r {
            Poll::Pending => {
                if self.sent_once.load(Ordering::Relaxed) {
                    self.counters.waits.fetch_add(1, Ordering::Relaxed);
                }
            }
            Poll::Ready(Err(_)) => {
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .datagrams_lost
                    .fetch_add(datagrams(transmit), Ordering::Relaxed);
            }
            Poll::Ready(Ok(_)) => self.sent_once.store(true, Ordering::Relaxed),
        }
        r
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_recv(cx, bufs, meta)
    }

    fn max_gso_segments(&self) -> usize {
        self.inner.max_gso_segments()
    }

    fn max_gro_segments(&self) -> usize {
        self.inner.max_gro_segments()
    }
}

/// The hook that wraps each UDP socket in one that counts into the shared counters.
#[derive(Debug)]
pub struct CountSends(Arc<SendCounters>);

/// webrtc-rs's tokio runtime, with every UDP socket's failed and held-back sends counted.
pub type CountingRuntime = HookedRuntime<CountSends>;

/// A runtime counting into `counters`.
pub fn counting_runtime(counters: Arc<SendCounters>) -> CountingRuntime {
    HookedRuntime::new(CountSends(counters))
}

impl UdpHook for CountSends {
    fn wrap(
        &self,
        socket: std::net::UdpSocket,
        tokio: &TokioRuntime,
    ) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        let inner = tokio.wrap_udp_socket(socket)?;
        Ok(Arc::new(CountingSocket {
            inner,
            counters: Arc::clone(&self.0),
            sent_once: AtomicBool::new(false),
        }))
    }

    fn name(&self) -> &'static str {
        "tokio (send drops counted)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transmit(contents: &[u8], segment_size: Option<usize>) -> Transmit<'_> {
        Transmit {
            destination: SocketAddr::from(([127, 0, 0, 1], 9)),
            ecn: None,
            contents,
            segment_size,
            src_ip: None,
        }
    }

    #[test]
    fn a_gso_send_counts_each_datagram() {
        assert_eq!(datagrams(&transmit(&[0; 1200], None)), 1);
        assert_eq!(datagrams(&transmit(&[0; 3000], Some(1200))), 3);
        assert_eq!(datagrams(&transmit(&[0; 2400], Some(1200))), 2);
        assert_eq!(datagrams(&transmit(&[], Some(1200))), 1);
        assert_eq!(datagrams(&transmit(&[0; 10], Some(0))), 1);
    }

    #[tokio::test]
    async fn a_failed_send_is_counted_as_lost_and_a_good_one_is_not() {
        let counters = Arc::new(SendCounters::default());
        let rt = counting_runtime(Arc::clone(&counters));
        let sock = rt
            .wrap_udp_socket(std::net::UdpSocket::bind("127.0.0.1:0").expect("bind"))
            .expect("wrap");
        let sink = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let to = sink.local_addr().expect("addr");
        sock.send_to(b"hello", to).await.expect("send");
        assert_eq!(counters.read(), SendDrops::default());
        // An IPv6 destination from an IPv4 socket: the kernel refuses the send.
        let v6: SocketAddr = "[::1]:9".parse().expect("v6");
        assert!(sock.send_to(b"x", v6).await.is_err());
        let r = counters.read();
        assert_eq!((r.errors, r.datagrams_lost), (1, 1));
    }
}
