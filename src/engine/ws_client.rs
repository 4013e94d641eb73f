//! The WebSocket signaling client: connect (TCP, TLS, HTTP upgrade with headers and Basic auth), then
//! frames in and out.

use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

/// Frames larger than this are refused by the socket layer itself (the protocol limit, checked by the
/// engine with a specific message, is lower).
pub const SOCKET_MAX_MESSAGE: usize = 16 << 20;

/// Why the connection could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConnectError {
    /// In words.
    pub message: String,
    /// HTTP status of the upgrade response, if the server answered with one.
    pub http_status: Option<u16>,
    /// Response body (truncated), if any.
    pub body: Option<String>,
}

/// What the reader task reports: the signaling clients' frame type.
pub use crate::signaling::WsFrame as Incoming;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// An open signaling connection: a writer here, a reader task feeding a channel.
pub struct WsConnection {
    sink: futures_util::stream::SplitSink<Ws, Message>,
    reader: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for WsConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsConnection").finish_non_exhaustive()
    }
}

/// How to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Accept any certificate.
    pub insecure: bool,
    /// CA certificates trusted besides the Mozilla roots (DER).
    pub ca_roots: Vec<Vec<u8>>,
}

/// Connect to `url` (userinfo becomes HTTP Basic). Returns the connection, the HTTP status, the time taken,
/// and the channel on which the reader task reports frames.
pub async fn connect(
    url: &url::Url,
    opts: &ConnectOptions,
) -> Result<(WsConnection, u16, f64, mpsc::Receiver<Incoming>), ConnectError> {
    let started = Instant::now();
    let mut dial = url.clone();
    let auth = (!url.username().is_empty()).then(|| {
        let user = percent_decode(url.username());
        let pass = percent_decode(url.password().unwrap_or(""));
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    });
    let _ = dial.set_username("");
    let _ = dial.set_password(None);
    let mut request = dial
        .as_str()
        .into_client_request()
        .map_err(|e| ConnectError {
            message: format!("bad request: {e}"),
            http_status: None,
            body: None,
        })?;
    if let Some(auth) = auth
        && let Ok(v) = HeaderValue::from_str(&format!("Basic {auth}"))
    {
        request.headers_mut().insert("authorization", v);
    }
    for (name, value) in &opts.headers {
        let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) else {
            return Err(ConnectError {
                message: format!("invalid header `{name}`"),
                http_status: None,
                body: None,
            });
        };
        request.headers_mut().append(n, v);
    }
    let connector = if url.scheme() == "wss" {
        let config =
            crate::tls::client_config_with(opts.insecure, &opts.ca_roots).map_err(|e| {
                ConnectError {
                    message: e,
                    http_status: None,
                    body: None,
                }
            })?;
        Some(Connector::Rustls(Arc::new(config)))
    } else {
        None
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(SOCKET_MAX_MESSAGE))
        .max_frame_size(Some(SOCKET_MAX_MESSAGE));
    let (ws, response) =
        tokio_tungstenite::connect_async_tls_with_config(request, Some(config), true, connector)
            .await
            .map_err(connect_error)?;
    let status = response.status().as_u16();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (sink, mut stream) = ws.split();
    let (tx, rx) = mpsc::channel(256);
    let reader = tokio::spawn(async move {
        loop {
            let incoming = match stream.next().await {
                Some(Ok(Message::Text(t))) => Incoming::Text(t.to_string()),
                Some(Ok(Message::Binary(b))) => Incoming::Binary(b.len()),
                Some(Ok(Message::Close(frame))) => Incoming::Closed {
                    code: frame.as_ref().map(|f| u16::from(f.code)),
                    reason: frame
                        .as_ref()
                        .map(|f| f.reason.to_string())
                        .filter(|r| !r.is_empty()),
                    error: None,
                },
                Some(Ok(_)) => continue, // ping/pong: answered by tungstenite
                Some(Err(e)) => Incoming::Closed {
                    code: None,
                    reason: None,
                    error: Some(describe_ws_error(&e)),
                },
                None => Incoming::Closed {
                    code: None,
                    reason: None,
                    error: None,
                },
            };
            let closed = matches!(incoming, Incoming::Closed { .. });
            if tx.send(incoming).await.is_err() || closed {
                break;
            }
        }
    });
    Ok((WsConnection { sink, reader }, status, elapsed_ms, rx))
}

impl WsConnection {
    /// Send a text frame (bounded in time: a server that stops reading must not stall the engine).
    pub async fn send(&mut self, text: String) -> Result<(), String> {
        match tokio::time::timeout(
            std::time::Duration::from_secs(2),
            self.sink.send(Message::text(text)),
        )
        .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(describe_ws_error(&e)),
            Err(_) => Err("write timed out after 2s".into()),
        }
    }

    /// Close: a close frame (best effort, bounded), then drop the socket.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(std::time::Duration::from_millis(500), async {
            let _ = self.sink.send(Message::Close(None)).await;
            let _ = self.sink.close().await;
        })
        .await;
        self.reader.abort();
    }
}

/// Percent-decode URL userinfo (RFC 3986 §3.2.1: percent-encoded, not a form; `+` stays `+`, `&`
/// is an ordinary character). Invalid UTF-8 after decoding is replaced, not dropped.
pub(crate) fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

fn describe_ws_error(e: &tungstenite::Error) -> String {
    match e {
        tungstenite::Error::Capacity(c) => format!("message too large: {c}"),
        tungstenite::Error::Protocol(p) => format!("WebSocket protocol error: {p}"),
        tungstenite::Error::Io(io) => format!("connection error: {io}"),
        other => other.to_string(),
    }
}

fn connect_error(e: tungstenite::Error) -> ConnectError {
    match e {
        tungstenite::Error::Http(resp) => {
            let status = resp.status();
            let body = resp
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(&b[..b.len().min(4096)]).into_owned())
                .filter(|b| !b.trim().is_empty());
            let mut message = format!(
                "server answered HTTP {} {} instead of upgrading to WebSocket",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            );
            if let Some(realm) = resp
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
            {
                message.push_str(&format!(" (WWW-Authenticate: {realm})"));
            }
            ConnectError {
                message,
                http_status: Some(status.as_u16()),
                body,
            }
        }
        tungstenite::Error::Io(io) => ConnectError {
            message: with_tls_hint(format!("could not connect: {io}")),
            http_status: None,
            body: None,
        },
        tungstenite::Error::Tls(t) => ConnectError {
            message: format!(
                "TLS failed: {t} (use --insecure to accept a self-signed certificate)"
            ),
            http_status: None,
            body: None,
        },
        tungstenite::Error::Url(u) => ConnectError {
            message: format!("bad URL: {u}"),
            http_status: None,
            body: None,
        },
        other => ConnectError {
            message: other.to_string(),
            http_status: None,
            body: None,
        },
    }
}

/// Add what to do when a TLS certificate was refused.
pub(crate) fn with_tls_hint(message: String) -> String {
    if message.contains("certificate") {
        format!("{message} (TLS: use --insecure to accept a self-signed certificate)")
    } else {
        message
    }
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn userinfo_is_percent_decoded_not_form_decoded() {
        assert_eq!(percent_decode("a+b"), "a+b");
        assert_eq!(percent_decode("p&q=r"), "p&q=r");
        assert_eq!(percent_decode("p%40ss%3Aw%20d"), "p@ss:w d");
        assert_eq!(percent_decode("%E2%9C%93"), "\u{2713}");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
