//! TURN over TCP and TLS for a stack that speaks TURN over UDP only (webrtc-rs 0.21.1 skips every
//! `?transport=tcp` and `turns:` URL; upstream webrtc#848).
//!
//! A [`TurnBridge`] is a UDP socket on loopback that the stack is given as a plain `turn:` server. Each
//! datagram the stack sends it goes to the real server over one TCP or TLS connection, framed as
//! RFC 8656 §12.5 says ([`framing`]); each message the server sends back returns to the stack as a
//! datagram. The bridge never reads or changes a message: authentication (MESSAGE-INTEGRITY), the
//! allocation, permissions, channels and the data all stay between the stack and the server, and the
//! relayed address is the server's. One connection per stack socket, because a TURN allocation belongs
//! to its 5-tuple: closing the connection frees the allocation on the server (RFC 8656 §3.1).
//!
//! Lifetime: one bridge per TURN URL per peer connection, built and dropped with it; dropping the bridge
//! aborts its task and every connection task (a `JoinSet`), so nothing outlives the attempt. A failed
//! connection is reported once as [`PeerEvent::TurnTransportFailed`] and is not retried: a new TCP
//! connection would be a new 5-tuple without the allocation, so recovery is a new attempt.
//!
//! The rest of the program never sees the loopback address: the viewer maps the bridge's URL back to the
//! real one on relay candidates. Log lines name the client socket and the URL (which carries no
//! credential), never message contents.

pub mod framing;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rtc::ice::url::{ProtoType, SchemeType, Url};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

use super::viewer::PeerEvent;
use crate::event::{RelayProtocol, TurnTransportStage};

/// Time allowed to open the TCP connection, and again for the TLS handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Datagrams queued per connection while it opens or is slow; more are dropped, as UDP would.
const QUEUE: usize = 256;
/// Stack sockets served at most (the stack has one per local address).
const MAX_CLIENTS: usize = 16;

/// A TURN URL the bridge carries: where the real server is and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BridgeTarget {
    /// The URL as configured, without credentials (shown in events).
    pub url: String,
    /// Server host name or address (also the TLS server name).
    pub host: String,
    /// Server port.
    pub port: u16,
    /// `Tcp` or `Tls`.
    pub protocol: RelayProtocol,
}

/// The relay protocol of a TURN URL (`None` for STUN URLs and for what cannot be parsed).
pub(crate) fn relay_protocol_of(url: &str) -> Option<RelayProtocol> {
    let u = Url::parse_url(url).ok()?;
    match (u.scheme, u.proto) {
        (SchemeType::Turn, ProtoType::Udp) => Some(RelayProtocol::Udp),
        (SchemeType::Turn, ProtoType::Tcp) => Some(RelayProtocol::Tcp),
        (SchemeType::Turns, ProtoType::Tcp) => Some(RelayProtocol::Tls),
        _ => None,
    }
}

/// The bridge target of `url` if it is TURN over TCP or TLS; `None` for anything the stack does itself
/// (TURN over UDP, STUN) or that a bridge cannot carry (`turns:` over UDP would be DTLS).
pub(crate) fn target_of(url: &str) -> Option<BridgeTarget> {
    let protocol = relay_protocol_of(url).filter(|p| *p != RelayProtocol::Udp)?;
    let u = Url::parse_url(url).ok()?;
    Some(BridgeTarget {
        // Shown in events and logs: never with a credential, even if the URL carried one.
        url: crate::proto::ice_server::mask_url(url),
        host: u.host,
        port: u.port,
        protocol,
    })
}

/// `text` (a line the stack logged) with each bridge's loopback URL and address replaced by the real
/// TURN URL it carries, so that no event names the bridge. `bridges`: (bridge address, real URL).
pub(crate) fn unbridge(text: &str, bridges: &[(SocketAddr, String)]) -> String {
    let mut out = text.to_owned();
    for (addr, url) in bridges {
        let host = match addr.ip() {
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) => ip.to_string(),
        };
        let hostport = format!("{host}:{}", addr.port());
        for stack_url in [
            format!("turn:{hostport}?transport=udp"),
            format!("turn:{hostport}"),
        ] {
            out = replace_whole(&out, &stack_url, url);
        }
        out = replace_whole(
            &out,
            &hostport,
            &format!("{url} (through the local TURN bridge)"),
        );
    }
    out
}

/// `text` with every `needle` that is not part of a longer address or number replaced by `with`.
fn replace_whole(text: &str, needle: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(needle) {
        let before = if i == 0 {
            out.chars().last()
        } else {
            rest[..i].chars().last()
        };
        let after = rest[i + needle.len()..].chars().next();
        let glued = before.is_some_and(|c| c.is_ascii_digit() || c == '.')
            || after.is_some_and(|c| c.is_ascii_digit());
        out.push_str(&rest[..i]);
        out.push_str(if glued { needle } else { with });
        rest = &rest[i + needle.len()..];
    }
    out.push_str(rest);
    out
}

/// One running bridge: a loopback UDP socket and the task that serves it. Dropping it stops everything.
#[derive(Debug)]
pub(crate) struct TurnBridge {
    local: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for TurnBridge {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TurnBridge {
    /// Bind a UDP socket on `loopback` and serve `target`. `tls` is required for a TLS target.
    pub(crate) async fn start(
        target: BridgeTarget,
        loopback: IpAddr,
        tls: Option<Arc<rustls::ClientConfig>>,
        events: mpsc::UnboundedSender<PeerEvent>,
    ) -> std::io::Result<Self> {
        let udp = Arc::new(UdpSocket::bind((loopback, 0)).await?);
        let local = udp.local_addr()?;
        tracing::debug!(bridge = %local, url = %target.url, "TURN bridge started");
        let task = tokio::spawn(serve(udp, Arc::new(target), tls, events));
        Ok(Self { local, task })
    }

    /// The URL the stack is given instead of the real one.
    pub(crate) fn stack_url(&self) -> String {
        let host = match self.local.ip() {
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) => ip.to_string(),
        };
        format!("turn:{host}:{}?transport=udp", self.local.port())
    }

    /// The bridge's socket address (how the stack's relay URL names it).
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

/// Receive the stack's datagrams and hand each to the connection of its socket, opening it on the first.
async fn serve(
    udp: Arc<UdpSocket>,
    target: Arc<BridgeTarget>,
    tls: Option<Arc<rustls::ClientConfig>>,
    events: mpsc::UnboundedSender<PeerEvent>,
) {
    let mut conns: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>> = HashMap::new();
    let mut tasks = JoinSet::new();
    let mut buf = vec![0u8; framing::MAX_FRAME];
    loop {
        let (n, from) = match udp.recv_from(&mut buf).await {
            Ok(r) => r,
            // An ICMP error for an earlier send (the stack's socket closed): nothing to do here.
            Err(e) => {
                tracing::debug!(url = %target.url, "TURN bridge receive: {e}");
                continue;
            }
        };
        while tasks.try_join_next().is_some() {}
        if !conns.contains_key(&from) {
            if conns.len() >= MAX_CLIENTS {
                continue;
            }
            let (tx, rx) = mpsc::channel(QUEUE);
            conns.insert(from, tx);
            tasks.spawn(connection(
                udp.clone(),
                from,
                rx,
                target.clone(),
                tls.clone(),
                events.clone(),
            ));
        }
        if let Some(tx) = conns.get(&from) {
            // Full: dropped as a congested UDP path would. Closed: the connection failed and was
            // reported; the stack's retransmissions go nowhere until the attempt ends.
            let _ = tx.try_send(buf[..n].to_vec());
        }
    }
}

/// A byte stream to the server: TCP or TLS over TCP.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Open the connection to the server: resolve, connect, and the TLS handshake for a TLS target.
async fn open(
    target: &BridgeTarget,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<Box<dyn Stream>, (TurnTransportStage, String)> {
    let connect = |e: String| (TurnTransportStage::Connect, e);
    let tcp = match tokio::time::timeout(
        CONNECT_TIMEOUT,
        TcpStream::connect((target.host.as_str(), target.port)),
    )
    .await
    {
        Err(_) => {
            return Err(connect(format!(
                "no answer to the TCP connection within {} s (filtered?)",
                CONNECT_TIMEOUT.as_secs()
            )));
        }
        Ok(Err(e)) => return Err(connect(format!("TCP connection failed: {e}"))),
        Ok(Ok(s)) => s,
    };
    let _ = tcp.set_nodelay(true);
    if target.protocol != RelayProtocol::Tls {
        return Ok(Box::new(tcp));
    }
    let tls_err = |e: String| (TurnTransportStage::Tls, e);
    let config = tls.ok_or_else(|| tls_err("no TLS configuration".into()))?;
    let name = rustls::pki_types::ServerName::try_from(target.host.clone()).map_err(|e| {
        tls_err(format!(
            "{:?} cannot be a TLS server name: {e}",
            target.host
        ))
    })?;
    let connector = tokio_rustls::TlsConnector::from(config);
    match tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, tcp)).await {
        Err(_) => Err(tls_err(format!(
            "no TLS handshake within {} s (is it a TLS port?)",
            CONNECT_TIMEOUT.as_secs()
        ))),
        Ok(Err(e)) => Err(tls_err(crate::tls::describe_error(&e))),
        Ok(Ok(s)) => Ok(Box::new(s)),
    }
}

/// Carry one stack socket's traffic over one connection until either side ends it.
async fn connection(
    udp: Arc<UdpSocket>,
    client: SocketAddr,
    mut from_stack: mpsc::Receiver<Vec<u8>>,
    target: Arc<BridgeTarget>,
    tls: Option<Arc<rustls::ClientConfig>>,
    events: mpsc::UnboundedSender<PeerEvent>,
) {
    let report = |stage: TurnTransportStage, error: String| {
        tracing::debug!(client = %client, url = %target.url, ?stage, "TURN bridge: {error}");
        let _ = events.send(PeerEvent::TurnTransportFailed {
            url: target.url.clone(),
            relay_protocol: target.protocol,
            stage,
            error,
        });
    };
    let stream = match open(&target, tls).await {
        Ok(s) => s,
        Err((stage, error)) => return report(stage, error),
    };
    tracing::debug!(client = %client, url = %target.url, "TURN bridge connected");
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut deframer = framing::Deframer::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            d = from_stack.recv() => {
                let Some(d) = d else { return };
                match framing::to_stream(&d) {
                    Ok(bytes) => {
                        if let Err(e) = wr.write_all(&bytes).await {
                            return report(TurnTransportStage::Dropped, format!("send failed: {e}"));
                        }
                    }
                    Err(e) => tracing::debug!(client = %client, "TURN bridge: not sent: {e}"),
                }
            }
            r = rd.read(&mut chunk) => {
                let n = match r {
                    Ok(0) => return report(
                        TurnTransportStage::Dropped,
                        "the server closed the connection".into(),
                    ),
                    Ok(n) => n,
                    Err(e) => return report(
                        TurnTransportStage::Dropped,
                        format!("receive failed: {}", crate::tls::describe_error(&e)),
                    ),
                };
                match deframer.feed(&chunk[..n]) {
                    Ok(msgs) => {
                        for m in msgs {
                            if let Err(e) = udp.send_to(&m, client).await {
                                tracing::debug!(client = %client, "TURN bridge: to the stack: {e}");
                            }
                        }
                    }
                    Err(e) => return report(
                        TurnTransportStage::Dropped,
                        format!("the server sent something that is not TURN: {e}"),
                    ),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_urls_are_bridged() {
        type Case = (&'static str, Option<(RelayProtocol, &'static str, u16)>);
        let cases: Vec<Case> = vec![
            ("turn:h:3478", None),
            ("turn:h:3478?transport=udp", None),
            (
                "turn:h:3478?transport=tcp",
                Some((RelayProtocol::Tcp, "h", 3478)),
            ),
            ("turns:h:443", Some((RelayProtocol::Tls, "h", 443))),
            (
                "turns:h:443?transport=tcp",
                Some((RelayProtocol::Tls, "h", 443)),
            ),
            ("turns:h", Some((RelayProtocol::Tls, "h", 5349))),
            ("turns:h:443?transport=udp", None),
            ("stun:h:3478", None),
            ("stuns:h:443", None),
            ("nonsense", None),
        ];
        for (url, want) in cases {
            let got = target_of(url).map(|t| (t.protocol, t.host, t.port));
            let want = want.map(|(p, h, port)| (p, h.to_owned(), port));
            assert_eq!(got, want, "{url}");
        }
        assert_eq!(relay_protocol_of("turn:h:1"), Some(RelayProtocol::Udp));
    }

    #[test]
    fn stack_lines_name_the_real_server() {
        let bridges = vec![
            (
                "127.0.0.1:40001".parse().unwrap(),
                "turns:turn.example.com:443".to_owned(),
            ),
            (
                "[::1]:40002".parse().unwrap(),
                "turn:turn.example.com:3478?transport=tcp".to_owned(),
            ),
        ];
        let cases = [
            (
                "TURN allocation failed via turn:127.0.0.1:40001?transport=udp: 401",
                "TURN allocation failed via turns:turn.example.com:443: 401",
            ),
            (
                "no response from 127.0.0.1:40001",
                "no response from turns:turn.example.com:443 (through the local TURN bridge)",
            ),
            (
                "from [::1]:40002 via turn:[::1]:40002?transport=udp",
                "from turn:turn.example.com:3478?transport=tcp (through the local TURN bridge) via \
                 turn:turn.example.com:3478?transport=tcp",
            ),
            // Another port, or no bridge at all: unchanged.
            (
                "no response from 127.0.0.1:400015",
                "no response from 127.0.0.1:400015",
            ),
            ("from 2127.0.0.1:40001", "from 2127.0.0.1:40001"),
            ("ICE failed", "ICE failed"),
        ];
        for (line, want) in cases {
            assert_eq!(unbridge(line, &bridges), want, "{line}");
        }
    }
}
