//! The HTTP adapter: sends a [`signaling::HttpRequest`] with reqwest and reads the response into a
//! [`signaling::HttpResponse`]. TLS as configured, no automatic redirects (the WHEP client follows them
//! itself, so each one is shown), a time limit per request, a bounded body.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::signaling::{HttpRequest, HttpResponse};

/// Largest response body read (the rest is discarded; an SDP answer is a few kB).
pub const MAX_BODY: usize = 1 << 20;
/// Time limit of one request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// The HTTP client of a session.
#[derive(Debug, Clone)]
pub(super) struct HttpClient {
    client: reqwest::Client,
}

/// The `Authorization` value for HTTP requests: the bearer token, else the URL's userinfo as Basic.
pub(super) fn authorization(url: &url::Url, bearer: Option<&str>) -> Option<String> {
    match bearer {
        Some(token) => Some(format!("Bearer {token}")),
        None if !url.username().is_empty() => {
            let user = super::ws_client::percent_decode(url.username());
            let pass = super::ws_client::percent_decode(url.password().unwrap_or(""));
            Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
            ))
        }
        None => None,
    }
}

impl HttpClient {
    pub(super) fn new(insecure: bool, ca_roots: &[Vec<u8>]) -> Result<Self, String> {
        let mut builder = reqwest::Client::builder();
        for der in ca_roots {
            let cert =
                reqwest::Certificate::from_der(der).map_err(|e| format!("--ca-file: {e}"))?;
            builder = builder.add_root_certificate(cert);
        }
        let client = builder
            .redirect(reqwest::redirect::Policy::none())
            .danger_accept_invalid_certs(insecure)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("rtcscope/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Self { client })
    }

    /// The future of the response to `req` (userinfo is not dialed: it is in the headers if wanted).
    pub(super) fn send(
        &self,
        req: &HttpRequest,
    ) -> impl std::future::Future<Output = Result<HttpResponse, String>> + Send + 'static {
        let mut dial = req.url.clone();
        let _ = dial.set_username("");
        let _ = dial.set_password(None);
        let mut headers = HeaderMap::new();
        for (name, value) in &req.headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.append(n, v);
            }
        }
        let method =
            reqwest::Method::from_bytes(req.method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut builder = self.client.request(method, dial).headers(headers);
        if let Some(b) = &req.body {
            builder = builder.body(b.clone());
        }
        async move {
            let mut resp = builder.send().await.map_err(describe_reqwest)?;
            let status = resp.status();
            let headers: Vec<(String, String)> = resp
                .headers()
                .iter()
                .filter_map(|(n, v)| {
                    v.to_str()
                        .ok()
                        .map(|v| (n.as_str().to_owned(), v.to_owned()))
                })
                .collect();
            let mut bytes: Vec<u8> = Vec::new();
            let mut size = 0usize;
            loop {
                match resp.chunk().await {
                    Ok(Some(chunk)) => {
                        size += chunk.len();
                        let room = MAX_BODY.saturating_sub(bytes.len());
                        bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    }
                    Ok(None) => break,
                    Err(e) => return Err(format!("reading the body: {}", describe_reqwest(e))),
                }
            }
            Ok(HttpResponse {
                status: status.as_u16(),
                reason: status.canonical_reason().unwrap_or("").to_owned(),
                headers,
                body: String::from_utf8_lossy(&bytes).into_owned(),
                size,
                unix_secs: SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0),
            })
        }
    }
}

fn describe_reqwest(e: reqwest::Error) -> String {
    use std::error::Error as _;
    let mut msg = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    super::ws_client::with_tls_hint(msg)
}
