//! STUN transactions over TCP and TLS (RFC 5389 §7.2.2): connect, optional TLS handshake, then one
//! request per transaction (no retransmission on a reliable transport), responses framed by the
//! STUN header's length.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::{Exchange, Parse, TxError};
use crate::webrtc_adapter::stun_turn::{CodecError, MAX_MESSAGE_LEN, framed_len};

/// A byte stream to the server: plain TCP or TLS over TCP.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An open stream to one server and the bytes read but not yet used.
pub(crate) struct StreamChannel {
    io: Box<dyn Io>,
    buf: Vec<u8>,
}

/// Open a TCP connection within `timeout`.
pub(crate) async fn connect_tcp(
    server: SocketAddr,
    timeout: Duration,
) -> Result<TcpStream, String> {
    match tokio::time::timeout(timeout, TcpStream::connect(server)).await {
        Err(_) => Err(format!(
            "no answer to the TCP connection within {:.1} s (filtered?)",
            timeout.as_secs_f64()
        )),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(s)) => {
            let _ = s.set_nodelay(true);
            Ok(s)
        }
    }
}

/// TLS over `tcp` to `host` (SNI and certificate name; an IP literal is checked against the
/// certificate's IP addresses) within `timeout`. `insecure` accepts any certificate.
pub(crate) async fn tls_handshake(
    tcp: TcpStream,
    host: &str,
    insecure: bool,
    ca_roots: &[Vec<u8>],
    timeout: Duration,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    let config = crate::tls::client_config_with(insecure, ca_roots)?;
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| format!("{host:?} cannot be a TLS server name: {e}"))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    match tokio::time::timeout(timeout, connector.connect(name, tcp)).await {
        Err(_) => Err(format!(
            "no TLS handshake within {:.1} s (is it a TLS port?)",
            timeout.as_secs_f64()
        )),
        Ok(Err(e)) => Err(crate::tls::describe_error(&e)),
        Ok(Ok(s)) => Ok(s),
    }
}

/// The first bytes of `b` as text for an error message (escaped, at most 32 bytes).
fn preview(b: &[u8]) -> String {
    let head = &b[..b.len().min(32)];
    crate::sanitize::sanitize(&String::from_utf8_lossy(head)).into_owned()
}

impl StreamChannel {
    /// Wrap an open stream.
    pub(crate) fn new(io: impl Io + 'static) -> Self {
        Self {
            io: Box::new(io),
            buf: Vec::new(),
        }
    }

    /// Send `req` once and read framed STUN messages until `parse` accepts one, within `timeout`.
    pub(crate) async fn transact(
        &mut self,
        req: &[u8],
        parse: Parse<'_>,
        timeout: Duration,
    ) -> Result<Exchange, TxError> {
        let start = Instant::now();
        let deadline = start + timeout;
        let write = async {
            self.io.write_all(req).await?;
            self.io.flush().await
        };
        match tokio::time::timeout_at(deadline, write).await {
            Err(_) => {
                return Err(TxError::Timeout {
                    tries: 1,
                    waited: start.elapsed(),
                    icmp_unreachable: false,
                });
            }
            Ok(Err(e)) => return Err(TxError::Io(format!("send failed: {e}"))),
            Ok(Ok(())) => {}
        }
        let sent = Instant::now();
        let mut chunk = vec![0u8; 4096];
        loop {
            // Use every complete message already buffered.
            while self.buf.len() >= 20 {
                let Some(len) = framed_len(&self.buf) else {
                    return Err(TxError::Protocol(format!(
                        "the server sent something that is not STUN: \"{}\"",
                        preview(&self.buf)
                    )));
                };
                if self.buf.len() < len {
                    break;
                }
                let msg: Vec<u8> = self.buf.drain(..len).collect();
                match parse(&msg) {
                    Ok(resp) => {
                        return Ok(Exchange {
                            resp,
                            rtt: sent.elapsed(),
                            tries: 1,
                        });
                    }
                    Err(CodecError::Malformed(m)) => {
                        return Err(TxError::Protocol(format!(
                            "the server's answer is not valid: {m}"
                        )));
                    }
                    Err(_) => {}
                }
            }
            if self.buf.len() > MAX_MESSAGE_LEN {
                return Err(TxError::Protocol("message too long".into()));
            }
            match tokio::time::timeout_at(deadline, self.io.read(&mut chunk)).await {
                Err(_) => {
                    return Err(TxError::Timeout {
                        tries: 1,
                        waited: start.elapsed(),
                        icmp_unreachable: false,
                    });
                }
                Ok(Err(e)) => return Err(TxError::Io(format!("receive failed: {e}"))),
                Ok(Ok(0)) => {
                    return Err(TxError::Protocol(if self.buf.is_empty() {
                        "the server closed the connection without answering".into()
                    } else {
                        format!(
                            "the server closed the connection mid-message: \"{}\"",
                            preview(&self.buf)
                        )
                    }));
                }
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}
