//! The HTTP side of the signaling port: read a request head, route it, and either answer it (404, the
//! tiny page, 426) or hand the connection to the WebSocket handshake with the head replayed.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// Largest request head accepted.
const MAX_HEAD: usize = 16 * 1024;

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// `GET`, …
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// Whether it asks for a WebSocket upgrade.
    pub upgrade: bool,
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The WebSocket of path `.0` (`/cam/ws` → `cam`).
    WebSocket(String),
    /// A plain GET of `/<path>/`: the tiny page.
    Page(String),
    /// Any response without a body to route further.
    Status(u16, &'static str),
}

/// Route a request as the legacy MediaMTX server did (without its stream lookup: every path exists).
pub fn route(head: &RequestHead) -> Route {
    let ws_path = head.path.strip_suffix("/ws").filter(|p| !p.is_empty());
    if head.method != "GET" {
        return Route::Status(405, "Method Not Allowed");
    }
    match (ws_path, head.upgrade) {
        (Some(p), true) => Route::WebSocket(p.trim_start_matches('/').to_owned()),
        (Some(_), false) => Route::Status(426, "Upgrade Required"),
        (None, true) => Route::Status(404, "Not Found"),
        (None, false) => match head.path.strip_suffix('/') {
            Some(p) if !p.trim_start_matches('/').is_empty() => {
                Route::Page(p.trim_start_matches('/').to_owned())
            }
            _ => Route::Status(404, "Not Found"),
        },
    }
}

/// Parse a request head (everything up to the blank line).
pub fn parse_head(head: &[u8]) -> Option<RequestHead> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split_ascii_whitespace();
    let method = first.next()?.to_owned();
    let target = first.next()?;
    let version = first.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    // Absolute-form targets are allowed by HTTP/1.1; keep the path only.
    let target = match target.find("://") {
        Some(i) => {
            let rest = &target[i + 3..];
            rest.find('/').map_or("/", |j| &rest[j..])
        }
        None => target,
    };
    let path = target.split(['?', '#']).next().unwrap_or("/").to_owned();
    let mut upgrade = false;
    for line in lines {
        if let Some((name, value)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("upgrade")
            && value.to_ascii_lowercase().contains("websocket")
        {
            upgrade = true;
        }
    }
    Some(RequestHead {
        method,
        path,
        upgrade,
    })
}

/// Read from `tcp` until the end of the request head. Returns the head and every byte read.
pub async fn read_head(tcp: &mut TcpStream) -> io::Result<(Option<RequestHead>, Vec<u8>)> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = tcp.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before the request head",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = find_head_end(&buf) {
            let head = parse_head(&buf[..end]);
            return Ok((head, buf));
        }
        if buf.len() > MAX_HEAD {
            return Ok((None, buf));
        }
    }
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n")
}

/// Write a complete response and close the write side.
pub async fn respond(
    tcp: &mut TcpStream,
    status: u16,
    reason: &str,
    content_type: &str,
    body: &str,
) {
    let text = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    if let Err(e) = tcp.write_all(text.as_bytes()).await {
        tracing::debug!("serve: writing HTTP {status}: {e}");
    }
    let _ = tcp.shutdown().await;
}

/// The tiny page served at `/<path>/`.
pub fn page(path: &str) -> String {
    let path = html_escape(path);
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>rtcscope serve: {path}</title></head>\n\
         <body><p>This is <b>rtcscope serve</b>, a test WebRTC sender speaking the legacy MediaMTX \
         WebSocket protocol.</p>\n<p>Watch it with <code>rtcscope http://HOST/{path}/</code>, or open the \
         WebSocket <code>/{path}/ws</code> with your own viewer.</p></body></html>\n"
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

/// A TCP stream that first replays bytes already read (the request head) to the WebSocket handshake.
pub struct PrefixedStream {
    prefix: Vec<u8>,
    pos: usize,
    inner: TcpStream,
}

impl PrefixedStream {
    /// Replay `prefix`, then read from `inner`.
    pub fn new(prefix: Vec<u8>, inner: TcpStream) -> Self {
        PrefixedStream {
            prefix,
            pos: 0,
            inner,
        }
    }
}

impl AsyncRead for PrefixedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.pos < self.prefix.len() {
            let n = (self.prefix.len() - self.pos).min(buf.remaining());
            let start = self.pos;
            buf.put_slice(&self.prefix[start..start + n]);
            self.pos += n;
            if self.pos == self.prefix.len() {
                self.prefix = Vec::new();
                self.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for PrefixedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(method: &str, path: &str, upgrade: bool) -> RequestHead {
        RequestHead {
            method: method.into(),
            path: path.into(),
            upgrade,
        }
    }

    #[test]
    fn parses_a_websocket_request() {
        let raw = b"GET /cam/ws?x=1 HTTP/1.1\r\nHost: a\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\r\n";
        let end = find_head_end(raw).unwrap();
        let h = parse_head(&raw[..end]).unwrap();
        assert_eq!(h, head("GET", "/cam/ws", true));
        assert!(parse_head(b"garbage").is_none());
    }

    #[test]
    fn routes_like_mediamtx() {
        assert_eq!(
            route(&head("GET", "/cam/ws", true)),
            Route::WebSocket("cam".into())
        );
        assert_eq!(
            route(&head("GET", "/a/b/ws", true)),
            Route::WebSocket("a/b".into())
        );
        assert_eq!(
            route(&head("GET", "/cam/other", true)),
            Route::Status(404, "Not Found")
        );
        assert_eq!(
            route(&head("GET", "/ws", true)),
            Route::Status(404, "Not Found")
        );
        assert_eq!(
            route(&head("GET", "/cam/ws", false)),
            Route::Status(426, "Upgrade Required")
        );
        assert_eq!(
            route(&head("GET", "/cam/", false)),
            Route::Page("cam".into())
        );
        assert_eq!(
            route(&head("GET", "/", false)),
            Route::Status(404, "Not Found")
        );
        assert_eq!(
            route(&head("POST", "/cam/ws", true)),
            Route::Status(405, "Method Not Allowed")
        );
        assert!(page("<x>").contains("&lt;x&gt;"));
    }
}
