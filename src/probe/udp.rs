//! STUN transactions over UDP: retransmission with a doubling timeout (RFC 5389 §7.2.1), bounded by
//! a number of tries and a deadline.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::Instant;

use super::{Exchange, Parse, TxError};
use crate::webrtc_adapter::stun_turn::CodecError;

/// Largest datagram read (STUN over UDP stays far below it).
const RECV_BUF: usize = 4096;

/// A UDP socket connected to one server (so only its datagrams arrive, and an ICMP port
/// unreachable is reported to us).
pub(crate) struct UdpChannel {
    sock: UdpSocket,
}

/// Retransmission schedule: first timeout, most tries, overall deadline per transaction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    /// First retransmission timeout (RFC 5389: 500 ms), doubled after each try.
    pub rto: Duration,
    /// Most requests sent per transaction.
    pub max_tries: u32,
    /// Give up this long after the first send.
    pub timeout: Duration,
}

impl UdpChannel {
    /// A socket on an ephemeral port of the right family, connected to `server`.
    pub(crate) async fn open(server: SocketAddr) -> std::io::Result<Self> {
        let bind: SocketAddr = if server.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let sock = UdpSocket::bind(bind).await?;
        sock.connect(server).await?;
        Ok(Self { sock })
    }

    /// The socket's local address.
    pub(crate) fn local_addr(&self) -> Option<SocketAddr> {
        self.sock.local_addr().ok()
    }

    /// Send `req` (retransmitting per `schedule`) until `parse` accepts a datagram as the response.
    /// Datagrams that are not the response are skipped; a malformed one is remembered and reported
    /// if nothing better comes before the deadline.
    pub(crate) async fn transact(
        &self,
        req: &[u8],
        parse: Parse<'_>,
        schedule: Schedule,
    ) -> Result<Exchange, TxError> {
        let start = Instant::now();
        let deadline = start + schedule.timeout;
        let max_tries = schedule.max_tries.max(1);
        let mut rto = schedule.rto.max(Duration::from_millis(10));
        let mut tries = 0u32;
        let mut next_send = start;
        let mut last_send = start;
        let mut icmp_unreachable = false;
        let mut malformed: Option<String> = None;
        let mut buf = vec![0u8; RECV_BUF];
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(match malformed {
                    Some(m) => TxError::Protocol(format!("the server's answer is not valid: {m}")),
                    None => TxError::Timeout {
                        tries,
                        waited: now - start,
                        icmp_unreachable,
                    },
                });
            }
            if tries < max_tries && now >= next_send {
                match self.send(req).await {
                    Ok(refused) => icmp_unreachable |= refused,
                    Err(e) => return Err(TxError::Io(format!("send failed: {e}"))),
                }
                tries += 1;
                last_send = Instant::now();
                next_send = last_send + rto;
                rto = rto.saturating_mul(2);
            }
            let wake = if tries < max_tries {
                next_send.min(deadline)
            } else {
                deadline
            };
            match tokio::time::timeout_at(wake, self.sock.recv(&mut buf)).await {
                Err(_) => {}
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    icmp_unreachable = true;
                }
                Ok(Err(e)) => return Err(TxError::Io(format!("receive failed: {e}"))),
                Ok(Ok(n)) => match parse(&buf[..n]) {
                    Ok(resp) => {
                        return Ok(Exchange {
                            resp,
                            rtt: last_send.elapsed(),
                            tries,
                        });
                    }
                    Err(CodecError::Malformed(m)) => malformed = Some(m),
                    Err(_) => {}
                },
            }
        }
    }

    /// Send once; a pending ICMP error (reported on the next call of a connected socket) is noted
    /// and the send retried. Returns whether an ICMP port unreachable was seen.
    async fn send(&self, req: &[u8]) -> std::io::Result<bool> {
        match self.sock.send(req).await {
            Ok(_) => Ok(false),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                match self.sock.send(req).await {
                    Ok(_) => Ok(true),
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Ok(true),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }
}
