//! The WHEP side of the engine: OPTIONS, POST the offer, trickle with PATCH, ICE restart with PATCH,
//! DELETE; every exchange recorded as `http_request` / `http_response` events with its elapsed time.
//!
//! Requests run in spawned tasks and report back on the attempt's channel, so the driver loop stays
//! responsive (a server that answers after 5 s must not freeze the TUI or the stop command).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::sync::mpsc;

use super::{Driver, EVENT_TEXT_LIMIT, OFFENDING_LIMIT};
use crate::event::{ErrorSource, Event, Header, IceServerSource, MessageKind};
use crate::proto::ice_server::{self, IceServerSpec};
use crate::proto::whep;
use crate::sanitize::truncate_bytes as truncate;
use crate::session::Input;
use crate::webrtc_adapter::viewer::ViewerPeer;

/// Largest response body read (the rest is discarded; an SDP answer is a few kB).
pub const MAX_BODY: usize = 1 << 20;
/// Redirects followed for one POST.
const MAX_REDIRECTS: u32 = 5;
/// Time limit of one request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Response headers worth showing.
const SHOWN_RESPONSE_HEADERS: &[&str] = &[
    "content-type",
    "location",
    "etag",
    "link",
    "retry-after",
    "www-authenticate",
    "accept-patch",
    "accept-post",
    "allow",
    "access-control-allow-methods",
    "server",
];

/// What a request was for: decides what its response does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Purpose {
    /// `OPTIONS` before the offer (ICE servers).
    Options,
    /// `POST` of the offer (redirects counted).
    Offer { redirects: u32 },
    /// `PATCH` of trickled candidates; `end` when it carried end-of-candidates.
    Trickle { end: bool },
    /// `PATCH` of new ICE credentials.
    IceRestart,
    /// `PATCH` of our answer to a 406 counter-offer.
    CounterAnswer,
}

/// A finished request.
#[derive(Debug)]
pub(super) struct HttpDone {
    id: u32,
    method: &'static str,
    url: url::Url,
    purpose: Purpose,
    result: Result<HttpOut, String>,
    elapsed_ms: f64,
}

/// A response, read.
#[derive(Debug, Clone)]
pub(super) struct HttpOut {
    status: u16,
    reason: String,
    headers: HeaderMap,
    body: String,
    size: usize,
}

impl HttpOut {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    fn media_type(&self) -> String {
        self.header("content-type")
            .map(|c| whep::media_type(&c))
            .unwrap_or_default()
    }
}

/// The HTTP client of a session: TLS as configured, no automatic redirects (each one is shown).
#[derive(Debug, Clone)]
pub(super) struct HttpClient {
    client: reqwest::Client,
    /// `Authorization` value (Bearer or Basic), if any.
    auth: Option<String>,
    extra: Vec<(String, String)>,
}

impl HttpClient {
    pub(super) fn new(
        url: &url::Url,
        insecure: bool,
        bearer: Option<&str>,
        extra: &[(String, String)],
    ) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .danger_accept_invalid_certs(insecure)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("rtcscope/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let auth = match bearer {
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
        };
        Ok(Self {
            client,
            auth,
            extra: extra.to_vec(),
        })
    }

    /// Build a request; returns the headers to show and the future of the response.
    fn request(
        &self,
        method: &'static str,
        url: &url::Url,
        content_type: Option<&str>,
        if_match: Option<&str>,
        body: Option<String>,
    ) -> (
        Vec<Header>,
        impl std::future::Future<Output = Result<HttpOut, String>> + Send + 'static,
    ) {
        let mut dial = url.clone();
        let _ = dial.set_username("");
        let _ = dial.set_password(None);
        let mut headers = HeaderMap::new();
        let mut shown: Vec<Header> = Vec::new();
        let mut add = |name: &str, value: &str, show: String| {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.append(n, v);
                shown.push((name.to_owned(), show));
            }
        };
        if let Some(ct) = content_type {
            add("Content-Type", ct, ct.to_owned());
        }
        if let Some(m) = if_match {
            add("If-Match", m, m.to_owned());
        }
        if let Some(a) = &self.auth {
            let scheme = a.split(' ').next().unwrap_or("");
            add("Authorization", a, format!("{scheme} ***"));
        }
        for (n, v) in &self.extra {
            let show =
                if n.eq_ignore_ascii_case("authorization") || n.eq_ignore_ascii_case("cookie") {
                    "***".to_owned()
                } else {
                    v.clone()
                };
            add(n, v, show);
        }
        let method_v =
            reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut req = self.client.request(method_v, dial).headers(headers);
        if let Some(b) = body {
            req = req.body(b);
        }
        let fut = async move {
            let mut resp = req.send().await.map_err(describe_reqwest)?;
            let status = resp.status();
            let headers = resp.headers().clone();
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
            Ok(HttpOut {
                status: status.as_u16(),
                reason: status.canonical_reason().unwrap_or("").to_owned(),
                headers,
                body: String::from_utf8_lossy(&bytes).into_owned(),
                size,
            })
        };
        (shown, fut)
    }
}

impl HttpClient {
    /// A request whose only interest is the status (protocol detection).
    pub(super) fn request_detached(
        &self,
        method: &'static str,
        url: &url::Url,
    ) -> (
        (),
        impl std::future::Future<Output = Result<u16, String>> + Send + 'static,
    ) {
        let (_, fut) = self.request(method, url, None, None, None);
        ((), async move { fut.await.map(|r| r.status) })
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

/// WHEP state of one attempt.
#[derive(Debug, Default)]
pub(super) struct WhepState {
    /// The endpoint POSTed to (after redirects).
    endpoint: Option<url::Url>,
    /// The session resource (`Location`).
    resource: Option<url::Url>,
    /// The last ETag received.
    etag: Option<String>,
    /// False once the server said it does not do trickle (405/501/422).
    no_trickle: bool,
    /// Local candidates not yet sent.
    pending: Vec<String>,
    /// Gathering finished; end-of-candidates not yet sent.
    end_pending: bool,
    /// A PATCH is in flight (one at a time, in order).
    patch_in_flight: bool,
    /// The 201 came and the answer is applied.
    answered: bool,
    /// The answer SDP applied (rewritten on ICE restart).
    answer_sdp: Option<String>,
    /// ICE servers from the OPTIONS response.
    options_ice: Vec<String>,
    /// The DELETE was sent.
    deleted: bool,
}

/// Kind of a request or response body.
fn body_kind(media_type: &str, body: &str, fallback: MessageKind) -> MessageKind {
    if body.is_empty() {
        MessageKind::Empty
    } else if media_type == whep::SDPFRAG_MEDIA_TYPE {
        MessageKind::Sdpfrag
    } else if media_type == whep::SDP_MEDIA_TYPE || body.starts_with("v=0") {
        fallback
    } else {
        MessageKind::ErrorBody
    }
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Driver {
    fn whep_state(&mut self) -> Option<&mut WhepState> {
        self.attempt.as_mut().and_then(|a| a.whep.as_mut())
    }

    /// Send a request in the background; its result comes back as [`HttpDone`].
    #[expect(
        clippy::too_many_arguments,
        reason = "one call per WHEP request kind, all fields needed"
    )]
    async fn http(
        &mut self,
        method: &'static str,
        url: url::Url,
        purpose: Purpose,
        content_type: Option<&str>,
        if_match: Option<&str>,
        body: Option<String>,
        kind: MessageKind,
    ) {
        let Some(client) = self.http_client.clone() else {
            return;
        };
        let Some(tx) = self.attempt.as_ref().map(|a| a.http_tx.clone()) else {
            return;
        };
        self.http_seq += 1;
        let id = self.http_seq;
        let (headers, fut) = client.request(method, &url, content_type, if_match, body.clone());
        self.emit(Event::HttpRequest {
            id,
            method: method.to_owned(),
            url: ice_server::mask_url(url.as_str()),
            headers,
            kind,
            body,
        })
        .await;
        let started = Instant::now();
        let task = tokio::spawn(async move {
            let result = fut.await;
            let _ = tx.send(HttpDone {
                id,
                method,
                url,
                purpose,
                result,
                elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
            });
        });
        if let Some(a) = self.attempt.as_mut() {
            a.tasks.push(task);
        }
    }

    /// A new WHEP attempt: OPTIONS first (ICE servers, reachability).
    pub(super) async fn whep_start(&mut self, endpoint: url::Url) {
        if let Some(a) = self.attempt.as_mut() {
            a.whep = Some(WhepState {
                endpoint: Some(endpoint.clone()),
                ..WhepState::default()
            });
        }
        self.http(
            "OPTIONS",
            endpoint,
            Purpose::Options,
            None,
            None,
            None,
            MessageKind::Empty,
        )
        .await;
    }

    /// A request finished.
    pub(super) async fn on_http(&mut self, done: HttpDone) {
        let resp = match done.result {
            Ok(r) => r,
            Err(error) => {
                self.emit(Event::HttpFailed {
                    id: done.id,
                    method: done.method.to_owned(),
                    error: error.clone(),
                    elapsed_ms: done.elapsed_ms,
                })
                .await;
                match done.purpose {
                    Purpose::Options | Purpose::Offer { .. } | Purpose::CounterAnswer => {
                        self.input(Input::SignalingFailed {
                            error: format!("{} {}: {error}", done.method, done.url),
                            http_status: None,
                        })
                        .await;
                    }
                    Purpose::Trickle { .. } => {
                        if let Some(w) = self.whep_state() {
                            w.patch_in_flight = false;
                        }
                        self.emit(Event::Warning {
                            source: ErrorSource::Signaling,
                            message: format!("trickle PATCH failed: {error}"),
                        })
                        .await;
                    }
                    Purpose::IceRestart => {
                        self.input(Input::IceRestartFailed(error)).await;
                    }
                }
                return;
            }
        };
        let mt = resp.media_type();
        let fallback = match done.purpose {
            Purpose::Offer { .. } if resp.status == 406 => MessageKind::Offer,
            Purpose::Offer { .. } => MessageKind::Answer,
            _ => MessageKind::Unknown,
        };
        let kind = if resp.status >= 400 {
            if resp.body.is_empty() {
                MessageKind::Empty
            } else {
                MessageKind::ErrorBody
            }
        } else {
            body_kind(&mt, &resp.body, fallback)
        };
        let headers: Vec<Header> = SHOWN_RESPONSE_HEADERS
            .iter()
            .flat_map(|n| resp.all(n).into_iter().map(move |v| ((*n).to_owned(), v)))
            .map(|(n, v)| {
                if n == "link" {
                    (n, mask_link_credential(&v))
                } else {
                    (n, v)
                }
            })
            .collect();
        let (body, truncated) = truncate(&resp.body, EVENT_TEXT_LIMIT);
        self.emit(Event::HttpResponse {
            id: done.id,
            method: done.method.to_owned(),
            status: resp.status,
            reason: resp.reason.clone(),
            headers,
            kind,
            size: resp.size,
            body,
            truncated: truncated || resp.size > resp.body.len(),
            elapsed_ms: done.elapsed_ms,
        })
        .await;
        let exchange = match done.purpose {
            Purpose::Options => whep::Exchange::Options,
            Purpose::Offer { .. } => whep::Exchange::Post,
            Purpose::Trickle { .. } | Purpose::CounterAnswer => {
                whep::Exchange::Patch { ice_restart: false }
            }
            Purpose::IceRestart => whep::Exchange::Patch { ice_restart: true },
        };
        self.report_deviations(exchange, &resp).await;
        match done.purpose {
            Purpose::Options => self.on_options(resp, done.elapsed_ms).await,
            Purpose::Offer { redirects } => self.on_post(done.url, resp, redirects).await,
            Purpose::Trickle { end } => self.on_trickle_done(resp, end).await,
            Purpose::IceRestart => self.on_ice_restart_done(resp).await,
            Purpose::CounterAnswer => {
                if (200..300).contains(&resp.status) {
                    self.whep_answered().await;
                } else {
                    let error = self.http_error_text("PATCH (answer to the counter-offer)", &resp);
                    self.input(Input::SignalingFailed {
                        error,
                        http_status: Some(resp.status),
                    })
                    .await;
                }
            }
        }
    }

    /// Where the server's response departs from the WHEP draft: information, each kind once a session.
    async fn report_deviations(&mut self, exchange: whep::Exchange, resp: &HttpOut) {
        let headers: Vec<(String, String)> = resp
            .headers
            .iter()
            .filter_map(|(n, v)| {
                v.to_str()
                    .ok()
                    .map(|v| (n.as_str().to_owned(), v.to_owned()))
            })
            .collect();
        let refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        for d in whep::response_deviations(exchange, resp.status, &refs, &resp.body) {
            if self.deviations_seen.insert(d.key) {
                self.emit(Event::Info {
                    source: ErrorSource::Protocol,
                    message: d.text,
                })
                .await;
            }
        }
    }

    fn http_error_text(&self, what: &str, resp: &HttpOut) -> String {
        let body = whep::describe_error_body(resp.header("content-type").as_deref(), &resp.body);
        let mut s = format!("{what} answered HTTP {} {}", resp.status, resp.reason);
        if !body.is_empty() {
            s.push_str(": ");
            s.push_str(&body);
        }
        if let Some(w) = resp.header("www-authenticate") {
            s.push_str(&format!(" (WWW-Authenticate: {w})"));
        }
        s
    }

    async fn on_options(&mut self, resp: HttpOut, elapsed_ms: f64) {
        // Any HTTP answer means the server is reachable.
        self.emit(Event::SignalingConnected {
            http_status: resp.status,
            elapsed_ms,
        })
        .await;
        if resp.status == 401 || resp.status == 403 {
            let error = self.http_error_text("OPTIONS", &resp);
            self.input(Input::SignalingFailed {
                error,
                http_status: Some(resp.status),
            })
            .await;
            return;
        }
        let mut servers = Vec::new();
        if (200..300).contains(&resp.status) {
            let links = resp.all("link");
            let refs: Vec<&str> = links.iter().map(String::as_str).collect();
            let parsed = whep::parse_link_headers(&refs);
            for e in &parsed.errors {
                self.emit(Event::Warning {
                    source: ErrorSource::Protocol,
                    message: format!("Link header: {e}"),
                })
                .await;
            }
            for l in parsed.ice_servers {
                if let Some(w) = self.whep_state() {
                    w.options_ice.push(l.url.clone());
                }
                servers.push(IceServerSpec {
                    urls: vec![l.url],
                    username: l.username,
                    credential: l.credential,
                    source: IceServerSource::Signaling,
                });
            }
        } else {
            self.emit(Event::Info {
                source: ErrorSource::Protocol,
                message: format!(
                    "OPTIONS answered HTTP {} (optional in WHEP): going on without its ICE servers",
                    resp.status
                ),
            })
            .await;
        }
        // Servers from an earlier 201 that OPTIONS did not list (draft-conformant servers send them
        // only there): use them from this attempt on.
        for s in self.late_ice_servers.clone() {
            if !servers.iter().any(|x| x.urls == s.urls) {
                servers.push(s);
            }
        }
        self.input(Input::SignalingOpened).await;
        self.input(Input::IceServersReceived).await;
        let Some(offer) = self.build_peer_and_offer(servers).await else {
            return;
        };
        let Some(endpoint) = self.whep_state().and_then(|w| w.endpoint.clone()) else {
            return;
        };
        self.post_offer(endpoint, offer, 0).await;
    }

    async fn post_offer(&mut self, endpoint: url::Url, offer: String, redirects: u32) {
        self.http(
            "POST",
            endpoint,
            Purpose::Offer { redirects },
            Some(whep::SDP_MEDIA_TYPE),
            None,
            Some(offer),
            MessageKind::Offer,
        )
        .await;
        self.input(Input::OfferSent).await;
    }

    async fn on_post(&mut self, url: url::Url, resp: HttpOut, redirects: u32) {
        match resp.status {
            201 | 200 => self.on_created(url, resp).await,
            307 | 308 => {
                let target = resp
                    .header("location")
                    .ok_or_else(|| format!("HTTP {} without a Location", resp.status))
                    .and_then(|l| whep::resolve_location(&url, &l));
                match target {
                    Ok(next) if redirects < MAX_REDIRECTS => {
                        self.emit(Event::Info {
                            source: ErrorSource::Protocol,
                            message: format!(
                                "POST redirected ({}) to {}",
                                resp.status,
                                ice_server::mask_url(next.as_str())
                            ),
                        })
                        .await;
                        let offer = match self.attempt.as_ref().and_then(|a| a.peer.clone()) {
                            Some(p) => p.local_description().await,
                            None => None,
                        };
                        if let (Some(offer), Some(w)) = (offer, self.whep_state()) {
                            w.endpoint = Some(next.clone());
                            self.http(
                                "POST",
                                next,
                                Purpose::Offer {
                                    redirects: redirects + 1,
                                },
                                Some(whep::SDP_MEDIA_TYPE),
                                None,
                                Some(offer),
                                MessageKind::Offer,
                            )
                            .await;
                        }
                    }
                    Ok(_) => {
                        self.protocol_error(format!("more than {MAX_REDIRECTS} redirects"), None)
                            .await
                    }
                    Err(e) => self.protocol_error(format!("redirect: {e}"), None).await,
                }
            }
            301..=303 => {
                // Not followed: a 301/302/303 turns the POST into a GET (reported as a deviation too).
                let error = format!(
                    "{} (WHEP redirects are 307; this one is not followed)",
                    self.http_error_text("POST", &resp)
                );
                self.input(Input::SignalingFailed {
                    error,
                    http_status: Some(resp.status),
                })
                .await;
            }
            406 => self.on_counter_offer(url, resp).await,
            409 | 503 => {
                let after = resp
                    .header("retry-after")
                    .and_then(|v| whep::parse_retry_after(&v, now_unix()));
                let error = self.http_error_text("POST", &resp);
                match after {
                    Some(secs) => {
                        self.input(Input::RetryLater {
                            http_status: resp.status,
                            after: Duration::from_secs(secs),
                            error,
                        })
                        .await
                    }
                    None => {
                        self.input(Input::SignalingFailed {
                            error,
                            http_status: Some(resp.status),
                        })
                        .await
                    }
                }
            }
            _ => {
                let error = self.http_error_text("POST", &resp);
                self.emit(Event::Error {
                    source: ErrorSource::Signaling,
                    message: error.clone(),
                    offending: None,
                })
                .await;
                self.input(Input::SignalingFailed {
                    error,
                    http_status: Some(resp.status),
                })
                .await;
            }
        }
    }

    async fn on_created(&mut self, url: url::Url, resp: HttpOut) {
        let mt = resp.media_type();
        if mt != whep::SDP_MEDIA_TYPE {
            let note = if mt.is_empty() {
                "no Content-Type".to_owned()
            } else {
                format!("Content-Type {mt}")
            };
            if !resp.body.trim_start().starts_with("v=") {
                let text = format!(
                    "the {} has {note} and its body is not SDP: {}",
                    resp.status,
                    whep::describe_error_body(resp.header("content-type").as_deref(), &resp.body)
                );
                self.protocol_error(text, Some(resp.body.clone())).await;
                return;
            }
        }
        // Location and ETag.
        let resource = match resp.header("location") {
            Some(l) => match whep::resolve_location(&url, &l) {
                Ok(u) => Some(u),
                Err(e) => {
                    self.emit(Event::Warning {
                        source: ErrorSource::Protocol,
                        message: format!("Location {l:?}: {e}; no trickle, ICE restart or DELETE"),
                    })
                    .await;
                    None
                }
            },
            // Reported as a deviation with the response.
            None => None,
        };
        // Deviations (no ETag, `ETag: *`, …) were reported with the response.
        let etag = resp
            .header("etag")
            .and_then(|e| whep::if_match_for_trickle(&whep::parse_etag(&e)));
        // ICE servers only on the 201: too late for this attempt's gathering; used from the next one.
        let links = resp.all("link");
        let refs: Vec<&str> = links.iter().map(String::as_str).collect();
        let parsed = whep::parse_link_headers(&refs);
        let options_had = self.whep_state().is_some_and(|w| !w.options_ice.is_empty());
        if let Some(d) =
            whep::ice_servers_only_on_options(options_had, !parsed.ice_servers.is_empty())
            && self.deviations_seen.insert(d.key)
        {
            self.emit(Event::Info {
                source: ErrorSource::Protocol,
                message: d.text,
            })
            .await;
        }
        let known = self
            .whep_state()
            .map(|w| w.options_ice.clone())
            .unwrap_or_default();
        let mut late = Vec::new();
        for l in parsed.ice_servers {
            if !known.contains(&l.url) {
                late.push(IceServerSpec {
                    urls: vec![l.url],
                    username: l.username,
                    credential: l.credential,
                    source: IceServerSource::Signaling,
                });
            }
        }
        if !late.is_empty() {
            let urls: Vec<String> = late.iter().flat_map(|s| s.urls.clone()).collect();
            self.emit(Event::Info {
                source: ErrorSource::Protocol,
                message: format!(
                    "ICE servers came only with the 201 ({}): they are used from the next attempt",
                    urls.join(", ")
                ),
            })
            .await;
            for s in late {
                if !self.late_ice_servers.iter().any(|x| x.urls == s.urls) {
                    self.late_ice_servers.push(s);
                }
            }
        }
        if let Some(w) = self.whep_state() {
            w.resource = resource;
            w.etag = etag;
        }
        let Some(peer) = self.attempt.as_ref().and_then(|a| a.peer.clone()) else {
            return;
        };
        if let Err(e) = peer.set_answer(&resp.body).await {
            self.protocol_error(e.to_string(), Some(resp.body.clone()))
                .await;
            return;
        }
        if let Some(w) = self.whep_state() {
            w.answer_sdp = Some(resp.body.clone());
        }
        // Candidates in the answer are the server's (WHEP servers do not trickle): show them.
        for line in resp.body.lines().map(str::trim) {
            if let Some(c) = line.strip_prefix("a=")
                && c.starts_with("candidate:")
            {
                {
                    let parsed = crate::proto::candidate::parse_candidate(c);
                    let (candidate, error) = match parsed {
                        Ok(c) => (Some(c), None),
                        Err(e) => (None, Some(format!("candidate does not parse: {e}"))),
                    };
                    self.emit(Event::RemoteCandidate {
                        candidate,
                        raw: truncate(c, OFFENDING_LIMIT).0,
                        sdp_mid: None,
                        sdp_mline_index: None,
                        error,
                    })
                    .await;
                }
            }
        }
        self.whep_answered().await;
    }

    async fn whep_answered(&mut self) {
        if let Some(w) = self.whep_state() {
            w.answered = true;
        }
        self.input(Input::AnswerApplied).await;
        self.whep_flush().await;
    }

    async fn on_counter_offer(&mut self, url: url::Url, resp: HttpOut) {
        let resource = resp
            .header("location")
            .and_then(|l| whep::resolve_location(&url, &l).ok());
        let Some(resource) = resource else {
            self.protocol_error("406 counter-offer without a usable Location".into(), None)
                .await;
            return;
        };
        self.emit(Event::Info {
            source: ErrorSource::Protocol,
            message:
                "406: the server sent a counter-offer; answering it with a new peer connection"
                    .into(),
        })
        .await;
        // Our offer is pending on the current peer: answer the counter-offer with a fresh one.
        if let Some(old) = self.attempt.as_mut().and_then(|a| a.peer.take()) {
            let _ = tokio::time::timeout(Duration::from_secs(2), old.close()).await;
        }
        let Some(peer) = self.build_peer().await else {
            return;
        };
        match peer.answer_offer(&resp.body).await {
            Ok(answer) => {
                if let Some(w) = self.whep_state() {
                    w.resource = Some(resource.clone());
                    w.etag = resp.header("etag");
                    w.answer_sdp = None;
                }
                self.http(
                    "PATCH",
                    resource,
                    Purpose::CounterAnswer,
                    Some(whep::SDP_MEDIA_TYPE),
                    None,
                    Some(answer),
                    MessageKind::Answer,
                )
                .await;
            }
            Err(e) => {
                self.protocol_error(format!("counter-offer: {e}"), Some(resp.body.clone()))
                    .await
            }
        }
    }

    /// A local candidate was gathered (or gathering ended): trickle it when possible.
    pub(super) async fn whep_local_candidate(&mut self, line: Option<String>) {
        if let Some(w) = self.whep_state() {
            match line {
                Some(l) => w.pending.push(l),
                None => w.end_pending = true,
            }
        }
        self.whep_flush().await;
    }

    async fn whep_flush(&mut self) {
        let Some(peer) = self.attempt.as_ref().and_then(|a| a.peer.clone()) else {
            return;
        };
        let (resource, etag, pending, end) = {
            let Some(w) = self.whep_state() else { return };
            if !w.answered || w.no_trickle || w.patch_in_flight {
                return;
            }
            let Some(resource) = w.resource.clone() else {
                return;
            };
            if w.pending.is_empty() && !w.end_pending {
                return;
            }
            let pending = std::mem::take(&mut w.pending);
            let end = std::mem::take(&mut w.end_pending);
            w.patch_in_flight = true;
            (resource, w.etag.clone(), pending, end)
        };
        let Some(local) = peer.local_description().await else {
            return;
        };
        let frag = match whep::trickle_frag(&local, &pending, end) {
            Ok(f) => whep::write_sdpfrag(&f),
            Err(e) => {
                self.emit(Event::Warning {
                    source: ErrorSource::Peer,
                    message: format!("cannot build the trickle body: {e}"),
                })
                .await;
                if let Some(w) = self.whep_state() {
                    w.patch_in_flight = false;
                }
                return;
            }
        };
        self.http(
            "PATCH",
            resource,
            Purpose::Trickle { end },
            Some(whep::SDPFRAG_MEDIA_TYPE),
            etag.as_deref(),
            Some(frag),
            MessageKind::Sdpfrag,
        )
        .await;
    }

    async fn on_trickle_done(&mut self, resp: HttpOut, _end: bool) {
        if let Some(w) = self.whep_state() {
            w.patch_in_flight = false;
        }
        match resp.status {
            200..=299 => {}
            405 | 501 | 422 => {
                if let Some(w) = self.whep_state() {
                    w.no_trickle = true;
                    w.pending.clear();
                }
                self.emit(Event::Info {
                    source: ErrorSource::Protocol,
                    message: format!(
                        "the server does not take trickled candidates (PATCH → HTTP {}): carrying on with what the offer held; ICE can still succeed through our checks",
                        resp.status
                    ),
                })
                .await;
                return;
            }
            412 | 428 => {
                self.emit(Event::Warning {
                    source: ErrorSource::Protocol,
                    message: format!(
                        "trickle PATCH refused: HTTP {} (ETag / If-Match mismatch)",
                        resp.status
                    ),
                })
                .await;
            }
            _ => {
                let text = self.http_error_text("trickle PATCH", &resp);
                self.emit(Event::Warning {
                    source: ErrorSource::Protocol,
                    message: text,
                })
                .await;
            }
        }
        self.whep_flush().await;
    }

    /// Restart ICE over WHEP: new credentials in a PATCH with `If-Match: "*"`.
    pub(super) async fn whep_ice_restart(&mut self, reason: String) {
        let Some(peer) = self.attempt.as_ref().and_then(|a| a.peer.clone()) else {
            return;
        };
        let Some(resource) = self.whep_state().and_then(|w| w.resource.clone()) else {
            self.emit(Event::Warning {
                source: ErrorSource::Protocol,
                message: "ICE restart impossible: the server gave no session resource (Location)"
                    .into(),
            })
            .await;
            self.input(Input::IceRestartFailed("no session resource".into()))
                .await;
            return;
        };
        self.emit(Event::IceRestart { reason }).await;
        let offer = match peer.restart_ice_offer().await {
            Ok(o) => o,
            Err(e) => {
                self.input(Input::IceRestartFailed(e.to_string())).await;
                return;
            }
        };
        let frag = match whep::trickle_frag(&offer, &[], false) {
            Ok(f) => whep::write_sdpfrag(&f),
            Err(e) => {
                self.input(Input::IceRestartFailed(e)).await;
                return;
            }
        };
        if let Some(w) = self.whep_state() {
            // Candidates of the old generation are useless now; new ones follow the 200.
            w.pending.clear();
            w.end_pending = false;
            w.answered = false;
            w.patch_in_flight = true;
        }
        self.http(
            "PATCH",
            resource,
            Purpose::IceRestart,
            Some(whep::SDPFRAG_MEDIA_TYPE),
            Some(whep::ICE_RESTART_IF_MATCH),
            Some(frag),
            MessageKind::Sdpfrag,
        )
        .await;
    }

    async fn on_ice_restart_done(&mut self, resp: HttpOut) {
        if let Some(w) = self.whep_state() {
            w.patch_in_flight = false;
        }
        if resp.status != 200 {
            let text = self.http_error_text("ICE-restart PATCH", &resp);
            self.input(Input::IceRestartFailed(text)).await;
            return;
        }
        let frag = match whep::parse_sdpfrag(&resp.body) {
            Ok(f) => f,
            Err(e) => {
                self.input(Input::IceRestartFailed(format!("the 200 body: {e}")))
                    .await;
                return;
            }
        };
        let (Some(ufrag), Some(pwd)) = (frag.ufrag(), frag.pwd()) else {
            self.input(Input::IceRestartFailed(
                "the 200 body has no ice-ufrag/ice-pwd".into(),
            ))
            .await;
            return;
        };
        let Some(answer) = self.whep_state().and_then(|w| w.answer_sdp.clone()) else {
            self.input(Input::IceRestartFailed(
                "no earlier answer to update".into(),
            ))
            .await;
            return;
        };
        let new_answer = whep::with_ice_credentials(&answer, ufrag, pwd);
        let candidates: Vec<String> = frag.candidates().map(|(_, c)| c.to_owned()).collect();
        let etag = resp
            .header("etag")
            .and_then(|e| whep::if_match_for_trickle(&whep::parse_etag(&e)));
        let Some(peer) = self.attempt.as_ref().and_then(|a| a.peer.clone()) else {
            return;
        };
        if let Err(e) = peer.set_answer(&new_answer).await {
            self.input(Input::IceRestartFailed(e.to_string())).await;
            return;
        }
        if let Some(w) = self.whep_state() {
            w.answer_sdp = Some(new_answer);
            if etag.is_some() {
                w.etag = etag;
            }
            w.answered = true;
        }
        for c in candidates {
            let parsed = crate::proto::candidate::parse_candidate(&c);
            let stack = peer
                .add_remote_candidate(
                    &c,
                    parsed
                        .as_ref()
                        .ok()
                        .map(|p| (p.address.clone(), p.port, p.typ)),
                    None,
                    Some(0),
                    Some(ufrag.to_owned()),
                )
                .await
                .err()
                .map(|e| e.to_string());
            let (candidate, error) = match parsed {
                Ok(p) => (Some(p), stack),
                Err(e) => (None, Some(format!("candidate does not parse: {e}"))),
            };
            self.emit(Event::RemoteCandidate {
                candidate,
                raw: truncate(&c, OFFENDING_LIMIT).0,
                sdp_mid: None,
                sdp_mline_index: None,
                error,
            })
            .await;
        }
        self.whep_flush().await;
    }

    /// DELETE the session resource (on exit and before a full restart), bounded in time.
    pub(super) async fn whep_delete(&mut self) {
        let Some(resource) = self.whep_state().and_then(|w| {
            if w.deleted {
                None
            } else {
                w.deleted = true;
                w.resource.clone()
            }
        }) else {
            return;
        };
        let Some(client) = self.http_client.clone() else {
            return;
        };
        self.http_seq += 1;
        let id = self.http_seq;
        let (headers, fut) = client.request("DELETE", &resource, None, None, None);
        self.emit(Event::HttpRequest {
            id,
            method: "DELETE".into(),
            url: ice_server::mask_url(resource.as_str()),
            headers,
            kind: MessageKind::Empty,
            body: None,
        })
        .await;
        let started = Instant::now();
        let result = tokio::time::timeout(Duration::from_secs(2), fut).await;
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        match result {
            Ok(Ok(resp)) => {
                let (body, truncated) = truncate(&resp.body, EVENT_TEXT_LIMIT);
                self.emit(Event::HttpResponse {
                    id,
                    method: "DELETE".into(),
                    status: resp.status,
                    reason: resp.reason.clone(),
                    headers: vec![],
                    kind: if resp.body.is_empty() {
                        MessageKind::Empty
                    } else {
                        MessageKind::Unknown
                    },
                    size: resp.size,
                    body,
                    truncated,
                    elapsed_ms,
                })
                .await;
                self.report_deviations(whep::Exchange::Delete, &resp).await;
            }
            Ok(Err(error)) => {
                self.emit(Event::HttpFailed {
                    id,
                    method: "DELETE".into(),
                    error,
                    elapsed_ms,
                })
                .await
            }
            Err(_) => {
                self.emit(Event::HttpFailed {
                    id,
                    method: "DELETE".into(),
                    error: "no answer within 2 s".into(),
                    elapsed_ms,
                })
                .await
            }
        }
    }

    async fn protocol_error(&mut self, message: String, offending: Option<String>) {
        self.error(ErrorSource::Protocol, message.clone(), offending.as_deref())
            .await;
        self.input(Input::ProtocolError(message)).await;
    }

    /// Build a peer connection for this attempt (used by the 406 path); reports errors itself.
    async fn build_peer(&mut self) -> Option<Arc<ViewerPeer>> {
        let cfg = self.viewer_config.clone()?;
        let (ptx, prx) = mpsc::unbounded_channel();
        match ViewerPeer::build(&cfg, ptx).await {
            Ok(p) => {
                let p = Arc::new(p);
                if let Some(a) = self.attempt.as_mut() {
                    a.peer = Some(p.clone());
                    a.peer_rx = Some(prx);
                }
                Some(p)
            }
            Err(e) => {
                self.error(ErrorSource::Peer, e.to_string(), None).await;
                self.input(Input::PeerError(e.to_string())).await;
                None
            }
        }
    }
}

/// Hide the credential in a Link header value shown in events.
fn mask_link_credential(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut rest = v;
    while let Some(i) = rest.find("credential=") {
        let (head, tail) = rest.split_at(i + "credential=".len());
        out.push_str(head);
        if let Some(q) = tail.strip_prefix('"') {
            // Skip the quoted value (with escapes).
            let mut end = None;
            let mut esc = false;
            for (j, ch) in q.char_indices() {
                match ch {
                    '\\' if !esc => esc = true,
                    '"' if !esc => {
                        end = Some(j);
                        break;
                    }
                    _ => esc = false,
                }
            }
            out.push_str("\"***\"");
            rest = match end {
                Some(j) => &q[j + 1..],
                None => "",
            };
        } else {
            let end = tail.find([';', ',']).unwrap_or(tail.len());
            out.push_str("***");
            rest = &tail[end..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_credentials_are_masked() {
        assert_eq!(
            mask_link_credential(
                r#"<turn:h:3478>; rel="ice-server"; username="u"; credential="s\"e;cret"; credential-type="password""#
            ),
            r#"<turn:h:3478>; rel="ice-server"; username="u"; credential="***"; credential-type="password""#
        );
        assert_eq!(
            mask_link_credential("<turn:h>; rel=ice-server; credential=abc; x=1"),
            "<turn:h>; rel=ice-server; credential=***; x=1"
        );
        assert_eq!(
            mask_link_credential("<stun:h>; rel=ice-server"),
            "<stun:h>; rel=ice-server"
        );
    }

    #[test]
    fn body_kinds() {
        assert_eq!(body_kind("", "", MessageKind::Answer), MessageKind::Empty);
        assert_eq!(
            body_kind("application/sdp", "v=0\r\n", MessageKind::Answer),
            MessageKind::Answer
        );
        assert_eq!(
            body_kind(
                "application/trickle-ice-sdpfrag",
                "a=ice-ufrag:x",
                MessageKind::Answer
            ),
            MessageKind::Sdpfrag
        );
        assert_eq!(
            body_kind("text/html", "<html>", MessageKind::Answer),
            MessageKind::ErrorBody
        );
    }
}
