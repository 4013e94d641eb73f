//! The HTTP side of the signaling port (hyper 1, HTTP/1.1): routing, the tiny page, the WebSocket
//! upgrade handed to the `ws` module, and the WHEP endpoint and session resources handed to
//! the `whep` module. Every request is recorded (see [`super::ServeHandle::requests`]).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::upgrade::OnUpgrade;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::{Fault, Shared, whep, ws};

/// Time allowed for a request head (and for an idle keep-alive connection's next one).
/// Time a connection is given to finish its response when the server stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// A response of this server.
pub(super) type Resp = Response<Full<Bytes>>;

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The WebSocket of stream `.0` (`GET /cam/ws` with an upgrade → `cam`).
    WebSocket(String),
    /// A plain GET of `/<path>/`: the tiny page.
    Page(String),
    /// The WHEP endpoint of stream `.0` (`/cam/whep` → `cam`), any method.
    WhepEndpoint(String),
    /// A WHEP session resource (`/cam/whep/<id>`), any method.
    WhepResource {
        /// The stream path (`cam`).
        path: String,
        /// The session id (the last segment).
        id: String,
    },
    /// No route: answer with this status alone (404, 405, 426).
    Status(u16),
}

/// Route a request as MediaMTX does (without its stream lookup: every path exists).
///
/// - `/<path>/ws`: the legacy WebSocket (a GET with `Upgrade: websocket`; 426 without the upgrade,
///   405 for another method);
/// - `/<path>/whep` and `/<path>/whep/<id>`: WHEP (the method is checked by the WHEP handlers);
/// - `GET /<path>/`: the page (405 for another method);
/// - anything else, and an upgrade request elsewhere: 404.
pub fn route(method: &str, path: &str, upgrade: bool) -> Route {
    let stream = |p: &str| p.trim_start_matches('/').to_owned();
    if let Some(p) = path.strip_suffix("/ws").filter(|p| !stream(p).is_empty()) {
        return match (method, upgrade) {
            ("GET", true) => Route::WebSocket(stream(p)),
            ("GET", false) => Route::Status(426),
            _ => Route::Status(405),
        };
    }
    if upgrade {
        return Route::Status(404);
    }
    if let Some(p) = path.strip_suffix("/whep").filter(|p| !stream(p).is_empty()) {
        return Route::WhepEndpoint(stream(p));
    }
    if let Some((p, id)) = path.rsplit_once("/whep/")
        && !stream(p).is_empty()
        && !id.is_empty()
        && !id.contains('/')
    {
        return Route::WhepResource {
            path: stream(p),
            id: id.to_owned(),
        };
    }
    match path.strip_suffix('/') {
        Some(p) if !stream(p).is_empty() => {
            if method == "GET" || method == "HEAD" {
                Route::Page(stream(p))
            } else {
                Route::Status(405)
            }
        }
        _ => Route::Status(404),
    }
}

/// The tiny page served at `/<path>/`.
pub fn page(path: &str) -> String {
    let path = html_escape(path);
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>rtcscope serve: {path}</title></head>\n\
         <body><p>This is <b>rtcscope serve</b>, a test WebRTC sender speaking the legacy MediaMTX \
         WebSocket protocol and WHEP.</p>\n<p>Watch it with <code>rtcscope http://HOST/{path}/whep</code> \
         or <code>rtcscope ws://HOST/{path}/ws</code>, or use your own viewer on the WHEP endpoint \
         <code>/{path}/whep</code> or the WebSocket <code>/{path}/ws</code>.</p></body></html>\n"
    )
}

fn html_escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '&' => "&amp;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

/// Whether the request asks for a WebSocket upgrade.
fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::UPGRADE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("websocket"))
}

/// A response with a body and a content type.
pub(super) fn response(status: u16, content_type: &str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

/// A response without a body.
pub(super) fn empty(status: u16) -> Resp {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r
}

/// Add a header (values that cannot be header values are skipped, with a log line).
pub(super) fn add_header(r: &mut Resp, name: header::HeaderName, value: &str) {
    match HeaderValue::from_str(value) {
        Ok(v) => {
            r.headers_mut().append(name, v);
        }
        Err(_) => tracing::warn!("serve: {name} value {value:?} is not a valid header value"),
    }
}

/// A plain-text response that closes the connection afterwards (the legacy routes: the old server
/// answered one request per connection).
fn legacy_text(status: u16, body: String) -> Resp {
    let mut r = response(status, "text/plain; charset=utf-8", body);
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

/// The body of a request, at most `limit` bytes. `Err` is the response to send instead (413 or 400).
pub(super) async fn read_body(body: Incoming, limit: usize) -> Result<Bytes, Resp> {
    match Limited::new(body, limit).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(whep::json_error(
            413,
            &format!("request body over the {limit}-byte limit"),
        )),
        Err(e) => Err(whep::json_error(
            400,
            &format!("could not read the request body: {e}"),
        )),
    }
}

/// Answer a connection beyond `--max-connections` with `503` and close it, without reading its
/// request (a bounded write, a bounded wait).
pub(super) async fn refuse_busy(mut tcp: TcpStream) {
    use tokio::io::AsyncWriteExt;
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        let body = "too many connections, retry later\n";
        let head = format!(
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = tcp.write_all(head.as_bytes()).await;
        let _ = tcp.shutdown().await;
    })
    .await;
}

/// The error a handler returns to drop the connection without any response (a deliberate fault).
#[derive(Debug)]
pub(super) struct DropConnection(pub(super) String);

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DropConnection {}

/// A WebSocket upgrade accepted by the service, for the connection task to run once hyper hands the
/// connection over.
type UpgradeSlot = Arc<Mutex<Option<(OnUpgrade, String)>>>;

/// Serve one TCP connection: HTTP/1.1 requests until it closes, or until it is upgraded to the legacy
/// WebSocket protocol, which then runs on it until it ends.
pub(super) async fn serve_connection(
    shared: Arc<Shared>,
    tcp: TcpStream,
    peer: SocketAddr,
    mut stop: watch::Receiver<bool>,
) {
    let slot: UpgradeSlot = Arc::default();
    let svc = {
        let shared = Arc::clone(&shared);
        let slot = Arc::clone(&slot);
        service_fn(move |req| handle(Arc::clone(&shared), peer, req, Arc::clone(&slot)))
    };
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(shared.opts.limits.header_timeout);
    let conn = builder
        .serve_connection(TokioIo::new(tcp), svc)
        .with_upgrades();
    tokio::pin!(conn);
    let served = tokio::select! {
        r = conn.as_mut() => r,
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn.as_mut()).await;
            return;
        }
    };
    if let Err(e) = served {
        tracing::debug!(%peer, "serve: HTTP connection: {e}");
    }
    let upgrade = slot.lock().ok().and_then(|mut s| s.take());
    if let Some((on_upgrade, path)) = upgrade {
        match on_upgrade.await {
            Ok(upgraded) => ws::run(shared, upgraded, peer, path, stop).await,
            Err(e) => tracing::info!(%peer, "serve: WebSocket upgrade failed: {e}"),
        }
    }
}

/// Route and answer one request; record it.
async fn handle(
    shared: Arc<Shared>,
    peer: SocketAddr,
    mut req: Request<Incoming>,
    slot: UpgradeSlot,
) -> Result<Resp, DropConnection> {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let upgrade = is_upgrade(req.headers());
    tracing::debug!(%peer, %method, %path, upgrade, "serve: request");
    let route = match route(&method, &path, upgrade) {
        Route::WhepEndpoint(_) | Route::WhepResource { .. }
            if shared.tuning.fault == Some(Fault::NoWhep) =>
        {
            Route::Status(404)
        }
        r => r,
    };
    let result = match route {
        Route::WebSocket(p) => Ok(websocket_upgrade(&mut req, p, &slot)),
        Route::Page(p) => {
            let mut r = response(200, "text/html; charset=utf-8", page(&p));
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            Ok(r)
        }
        Route::WhepEndpoint(p) => whep::endpoint(&shared, peer, p, req).await,
        Route::WhepResource { path: p, id } => Ok(whep::resource(&shared, p, id, req).await),
        Route::Status(code) => Ok(status_response(code, &method, &path)),
    };
    let status = result.as_ref().ok().map(|r| r.status().as_u16());
    if let Ok(mut log) = shared.requests.lock() {
        log.push(&method, &path, status);
    }
    result
}

/// 404, 405 or 426 with a plain-text explanation.
fn status_response(code: u16, method: &str, path: &str) -> Resp {
    let body = match code {
        404 => format!(
            "404 not found: {path} (the WHEP endpoint is at /<path>/whep, the WebSocket at /<path>/ws)\n"
        ),
        426 => {
            "this is a WebSocket endpoint: connect with rtcscope or a WebSocket client\n".to_owned()
        }
        405 => format!("405 method not allowed: {method} {path}\n"),
        _ => format!("{code}\n"),
    };
    let mut r = legacy_text(code, body);
    match code {
        405 if path.ends_with("/ws") => add_header(&mut r, header::ALLOW, "GET"),
        405 => add_header(&mut r, header::ALLOW, "GET, HEAD"),
        426 => {
            add_header(&mut r, header::UPGRADE, "websocket");
            add_header(&mut r, header::CONNECTION, "Upgrade");
        }
        _ => {}
    }
    r
}

/// Accept a WebSocket upgrade (RFC 6455 §4.2.2) and leave the connection for [`ws::run`]; MediaMTX sent
/// `Access-Control-Allow-Origin: *` (its default `webrtcAllowOrigin`) on it.
fn websocket_upgrade(req: &mut Request<Incoming>, path: String, slot: &UpgradeSlot) -> Resp {
    if req.headers().get(header::SEC_WEBSOCKET_VERSION) != Some(&HeaderValue::from_static("13")) {
        let mut r = legacy_text(
            426,
            "unsupported WebSocket version (13 expected)\n".to_owned(),
        );
        add_header(&mut r, header::SEC_WEBSOCKET_VERSION, "13");
        return r;
    }
    let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY) else {
        return legacy_text(400, "no Sec-WebSocket-Key\n".to_owned());
    };
    let accept = derive_accept_key(key.as_bytes());
    let on_upgrade = hyper::upgrade::on(req);
    if let Ok(mut s) = slot.lock() {
        *s = Some((on_upgrade, path));
    }
    let mut r = empty(101);
    add_header(&mut r, header::UPGRADE, "websocket");
    add_header(&mut r, header::CONNECTION, "Upgrade");
    add_header(&mut r, header::SEC_WEBSOCKET_ACCEPT, &accept);
    add_header(&mut r, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_like_mediamtx() {
        let cases: Vec<(&str, &str, bool, Route)> = vec![
            ("GET", "/cam/ws", true, Route::WebSocket("cam".into())),
            ("GET", "/a/b/ws", true, Route::WebSocket("a/b".into())),
            ("GET", "/cam/other", true, Route::Status(404)),
            ("GET", "/ws", true, Route::Status(404)),
            ("GET", "/cam/ws", false, Route::Status(426)),
            ("POST", "/cam/ws", true, Route::Status(405)),
            ("GET", "/cam/", false, Route::Page("cam".into())),
            ("POST", "/cam/", false, Route::Status(405)),
            ("GET", "/", false, Route::Status(404)),
            ("GET", "/favicon.ico", false, Route::Status(404)),
            (
                "POST",
                "/cam/whep",
                false,
                Route::WhepEndpoint("cam".into()),
            ),
            ("GET", "/a/b/whep", false, Route::WhepEndpoint("a/b".into())),
            ("POST", "/whep", false, Route::Status(404)),
            (
                "PATCH",
                "/cam/whep/abc",
                false,
                Route::WhepResource {
                    path: "cam".into(),
                    id: "abc".into(),
                },
            ),
            (
                "DELETE",
                "/a/whep/b/whep/c",
                false,
                Route::WhepResource {
                    path: "a/whep/b".into(),
                    id: "c".into(),
                },
            ),
            ("PATCH", "/cam/whep/", false, Route::Status(405)),
            ("PATCH", "/cam/whep/a/b", false, Route::Status(404)),
            ("GET", "/cam/whep", true, Route::Status(404)),
        ];
        for (method, path, upgrade, want) in cases {
            assert_eq!(
                route(method, path, upgrade),
                want,
                "{method} {path} {upgrade}"
            );
        }
    }

    #[test]
    fn the_page_escapes_the_path() {
        assert!(page("<x>").contains("&lt;x&gt;"));
        assert!(page("cam").contains("/cam/whep"));
    }
}
