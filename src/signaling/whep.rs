//! WHEP as a sans-IO client: OPTIONS, POST the offer, trickle with PATCH, ICE restart with PATCH,
//! DELETE; every exchange recorded as `http_request` / `http_response` events.
//!
//! One attempt: `OPTIONS <endpoint>` (ICE servers in `Link` headers; any HTTP answer means the server
//! is reachable, 401/403 end the attempt), build the peer connection, `POST` the offer. The POST may
//! answer `201` (the answer, `Location`, `ETag`), `307`/`308` (POST again there, at most
//! [`MAX_REDIRECTS`] times), `406` (a counter-offer: answer it with a new peer connection and `PATCH`
//! the answer), `409`/`503` with `Retry-After` (restart after that pause), or an error. Local
//! candidates are trickled in batches (one PATCH in flight, `If-Match` with the ETag) until the server
//! says it does not take them (405/501/422). An ICE restart is a PATCH with `If-Match: "*"`; if it
//! fails the session falls back to a full restart. The session resource is deleted when the attempt
//! ends.
//!
//! The pure pieces (Link, sdpfrag, Location, ETag, Retry-After, error bodies, deviations) are
//! [`crate::proto::whep`]'s.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use super::{
    Client, ClientConfig, EVENT_TEXT_LIMIT, HttpRequest, HttpResponse, Input, OFFENDING_LIMIT,
    Output, PeerFailure, PeerRequest, PeerResult, remote_candidate,
};
use crate::event::{ErrorSource, Event, Header, IceServerSource, MessageKind, Protocol};
use crate::proto::ice_server::{self, IceServerSpec};
use crate::proto::whep;
use crate::sanitize::truncate_bytes;
use crate::session;

/// Redirects followed for one POST.
pub const MAX_REDIRECTS: u32 = 5;
/// How long the DELETE at the end of an attempt may take.
pub const DELETE_TIMEOUT: Duration = Duration::from_secs(2);

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
enum Purpose {
    /// `OPTIONS` before the offer (ICE servers).
    Options,
    /// `POST` of the offer (redirects counted).
    Offer { redirects: u32 },
    /// `PATCH` of trickled candidates.
    Trickle,
    /// `PATCH` of new ICE credentials.
    IceRestart,
    /// `PATCH` of our answer to a 406 counter-offer.
    CounterAnswer,
    /// `DELETE` of the session resource.
    Delete,
}

/// A request in flight.
#[derive(Debug, Clone)]
struct InFlight {
    method: &'static str,
    url: url::Url,
    purpose: Purpose,
}

/// What an answer from the peer connection is for, in the order the requests went out.
#[derive(Debug, Clone)]
enum PeerWait {
    /// The first offer (then POST it).
    Offer,
    /// The offer again, to POST it to where a redirect pointed.
    Redirect { next: url::Url, redirects: u32 },
    /// The local description, to build a trickle body with these candidates.
    Trickle {
        resource: url::Url,
        etag: Option<String>,
        pending: Vec<String>,
        end: bool,
    },
    /// The answer of a 201 was being applied.
    Created { body: String },
    /// The answer to a 406 counter-offer, to PATCH to `resource`.
    CounterAnswer {
        resource: url::Url,
        etag: Option<String>,
        body: String,
    },
    /// The ICE-restart offer, to PATCH to `resource`.
    RestartOffer { resource: url::Url },
    /// The answer with the server's new credentials was being applied.
    RestartAnswer {
        answer: String,
        etag: Option<String>,
        candidates: Vec<String>,
        ufrag: String,
    },
    /// A candidate of the server's ICE-restart answer was being added; `last` then trickle.
    RestartCandidate {
        raw: String,
        parsed: Result<crate::event::Candidate, String>,
        last: bool,
    },
}

/// WHEP state of one attempt.
#[derive(Debug, Default)]
struct AttemptState {
    /// Remote candidates of the attempt, against the limits.
    budget: super::CandidateBudget,
    /// The endpoint POSTed to (after redirects).
    endpoint: Option<url::Url>,
    /// The session resource (`Location`).
    resource: Option<url::Url>,
    /// The last ETag received, as `If-Match` wants it.
    etag: Option<String>,
    /// True once the server said it does not do trickle (405/501/422).
    no_trickle: bool,
    /// Local candidates not yet sent.
    pending: Vec<String>,
    /// Gathering finished; end-of-candidates not yet sent.
    end_pending: bool,
    /// A PATCH is in flight (one at a time, in order).
    patch_in_flight: bool,
    /// The answer is applied.
    answered: bool,
    /// The answer SDP applied (rewritten on ICE restart).
    answer_sdp: Option<String>,
    /// ICE servers from the OPTIONS response.
    options_ice: Vec<String>,
    /// A peer connection exists.
    has_peer: bool,
    /// The DELETE was sent.
    deleted: bool,
    in_flight: HashMap<u32, InFlight>,
    waits: VecDeque<PeerWait>,
}

/// The WHEP client. See the module docs.
#[derive(Debug)]
pub struct WhepClient {
    config: ClientConfig,
    /// Request ids, unique in the session.
    http_seq: u32,
    /// ICE servers a server sent only with its 201, used from the next attempt on.
    late_ice_servers: Vec<IceServerSpec>,
    /// Draft deviations already reported (each once per session).
    deviations_seen: HashSet<&'static str>,
    /// Whether the "credentials withheld from another origin" note was given (once per session).
    credentials_withheld_said: bool,
    a: AttemptState,
    out: VecDeque<Output>,
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

fn media_type(resp: &HttpResponse) -> String {
    resp.header("content-type")
        .map(whep::media_type)
        .unwrap_or_default()
}

/// An HTTP header name: a token (RFC 9110 §5.6.2).
fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// An HTTP header value: no control characters but tab.
fn valid_header_value(value: &str) -> bool {
    value.bytes().all(|b| (b >= 32 && b != 127) || b == b'\t')
}

/// `what answered HTTP <status> <reason>: <error body>` with the authentication challenge, if any.
fn http_error_text(what: &str, resp: &HttpResponse) -> String {
    let body = whep::describe_error_body(resp.header("content-type"), &resp.body);
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

/// The headers of a request to `target` (content type, `If-Match`, authorization, the configured
/// extra headers; invalid ones left out), the same as shown in events (credentials masked), and
/// whether credentials were withheld because `target` is not the origin they were given for.
///
/// Credentials (the `Authorization` value and every configured header that carries a secret:
/// `Authorization`, `Cookie`, API keys and tokens) go only to the origin of `config.url`: same
/// scheme, host and port, as browsers and curl do on redirects. A `307` or a `Location` naming
/// another origin, an `https` to `http` downgrade included, gets none.
pub fn request_headers(
    config: &ClientConfig,
    target: &url::Url,
    content_type: Option<&str>,
    if_match: Option<&str>,
) -> (Vec<(String, String)>, Vec<Header>, bool) {
    let same_origin = same_origin(&config.url, target);
    let mut withheld = false;
    let mut headers = Vec::new();
    let mut shown: Vec<Header> = Vec::new();
    let mut add = |name: &str, value: &str, show: String| {
        if valid_header_name(name) && valid_header_value(value) {
            headers.push((name.to_owned(), value.to_owned()));
            shown.push((name.to_owned(), show));
        }
    };
    if let Some(ct) = content_type {
        add("Content-Type", ct, ct.to_owned());
    }
    if let Some(m) = if_match {
        add("If-Match", m, m.to_owned());
    }
    if let Some(a) = &config.authorization {
        if same_origin {
            add(
                "Authorization",
                a,
                crate::secrets::mask_header_value("authorization", a),
            );
        } else {
            withheld = true;
        }
    }
    for (n, v) in &config.headers {
        if crate::secrets::is_secret_header(n) {
            if same_origin {
                add(n, v, crate::secrets::mask_header_value(n, v));
            } else {
                withheld = true;
            }
        } else {
            add(n, v, v.clone());
        }
    }
    (headers, shown, withheld)
}

/// Same scheme, host and port (the default port of the scheme when none is given).
pub fn same_origin(a: &url::Url, b: &url::Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

impl WhepClient {
    /// A client for the WHEP endpoint `config.url`.
    pub fn new(config: ClientConfig) -> Self {
        Self {
            config,
            http_seq: 0,
            late_ice_servers: Vec::new(),
            deviations_seen: HashSet::new(),
            credentials_withheld_said: false,
            a: AttemptState::default(),
            out: VecDeque::new(),
        }
    }

    fn emit(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }

    fn session(&mut self, i: session::Input) {
        self.out.push_back(Output::Session(i));
    }

    fn info(&mut self, message: String) {
        self.emit(Event::Info {
            source: ErrorSource::Protocol,
            message,
        });
    }

    fn warning(&mut self, source: ErrorSource, message: String) {
        self.emit(Event::Warning { source, message });
    }

    fn protocol_error(&mut self, message: String, offending: Option<&str>) {
        self.emit(Event::Error {
            source: ErrorSource::Protocol,
            message: message.clone(),
            offending: offending.map(|o| truncate_bytes(o, OFFENDING_LIMIT).0),
        });
        self.session(session::Input::ProtocolError(message));
    }

    fn signaling_failed(&mut self, error: String, http_status: Option<u16>) {
        self.session(session::Input::SignalingFailed { error, http_status });
    }

    fn peer(&mut self, request: PeerRequest, wait: PeerWait) {
        self.a.waits.push_back(wait);
        self.out.push_back(Output::Peer(request));
    }

    /// Record and send a request; its answer comes back as [`Input::HttpResponse`].
    #[expect(
        clippy::too_many_arguments,
        reason = "one call per WHEP request kind, all fields needed"
    )]
    fn http(
        &mut self,
        method: &'static str,
        url: url::Url,
        purpose: Purpose,
        content_type: Option<&str>,
        if_match: Option<&str>,
        body: Option<String>,
        kind: MessageKind,
    ) {
        self.http_seq += 1;
        let id = self.http_seq;
        let (headers, shown, withheld) =
            request_headers(&self.config, &url, content_type, if_match);
        if withheld && !self.credentials_withheld_said {
            self.credentials_withheld_said = true;
            self.info(format!(
                "credentials withheld from {}: it is not the origin they were given for ({})",
                origin_of(&url),
                origin_of(&self.config.url)
            ));
        }
        self.emit(Event::HttpRequest {
            id,
            method: method.to_owned(),
            url: ice_server::mask_url(url.as_str()),
            headers: shown,
            kind,
            body: body.clone(),
        });
        let wait_at_most = (purpose == Purpose::Delete).then_some(DELETE_TIMEOUT);
        self.a.in_flight.insert(
            id,
            InFlight {
                method,
                url: url.clone(),
                purpose,
            },
        );
        self.out.push_back(Output::Http(HttpRequest {
            id,
            method,
            url,
            headers,
            body,
            wait_at_most,
        }));
    }

    fn on_http_failed(&mut self, id: u32, error: String, elapsed_ms: f64) {
        let Some(req) = self.a.in_flight.remove(&id) else {
            return;
        };
        self.emit(Event::HttpFailed {
            id,
            method: req.method.to_owned(),
            error: error.clone(),
            elapsed_ms,
        });
        match req.purpose {
            Purpose::Options | Purpose::Offer { .. } | Purpose::CounterAnswer => {
                self.signaling_failed(format!("{} {}: {error}", req.method, req.url), None);
            }
            Purpose::Trickle => {
                self.a.patch_in_flight = false;
                self.warning(
                    ErrorSource::Signaling,
                    format!("trickle PATCH failed: {error}"),
                );
            }
            Purpose::IceRestart => self.session(session::Input::IceRestartFailed(error)),
            Purpose::Delete => {}
        }
    }

    fn on_http_response(&mut self, id: u32, resp: HttpResponse, elapsed_ms: f64) {
        let Some(req) = self.a.in_flight.remove(&id) else {
            return;
        };
        if req.purpose == Purpose::Delete {
            let (body, truncated) = truncate_bytes(&resp.body, EVENT_TEXT_LIMIT);
            self.emit(Event::HttpResponse {
                id,
                method: req.method.to_owned(),
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
            });
            self.report_deviations(whep::Exchange::Delete, &resp);
            return;
        }
        let fallback = match req.purpose {
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
            body_kind(&media_type(&resp), &resp.body, fallback)
        };
        let headers: Vec<Header> = SHOWN_RESPONSE_HEADERS
            .iter()
            .flat_map(|n| {
                resp.all(n).into_iter().map(move |v| {
                    let v = if *n == "link" {
                        mask_link_credential(v)
                    } else {
                        v.to_owned()
                    };
                    ((*n).to_owned(), v)
                })
            })
            .collect();
        let (body, truncated) = truncate_bytes(&resp.body, EVENT_TEXT_LIMIT);
        self.emit(Event::HttpResponse {
            id,
            method: req.method.to_owned(),
            status: resp.status,
            reason: resp.reason.clone(),
            headers,
            kind,
            size: resp.size,
            body,
            truncated: truncated || resp.size > resp.body.len(),
            elapsed_ms,
        });
        let exchange = match req.purpose {
            Purpose::Options => whep::Exchange::Options,
            Purpose::Offer { .. } => whep::Exchange::Post,
            Purpose::Trickle | Purpose::CounterAnswer => {
                whep::Exchange::Patch { ice_restart: false }
            }
            Purpose::IceRestart => whep::Exchange::Patch { ice_restart: true },
            Purpose::Delete => whep::Exchange::Delete,
        };
        self.report_deviations(exchange, &resp);
        match req.purpose {
            Purpose::Options => self.on_options(resp, elapsed_ms),
            Purpose::Offer { redirects } => self.on_post(req.url, resp, redirects),
            Purpose::Trickle => self.on_trickle_done(resp),
            Purpose::IceRestart => self.on_ice_restart_done(resp),
            Purpose::CounterAnswer => {
                if (200..300).contains(&resp.status) {
                    self.answered();
                } else {
                    let error = http_error_text("PATCH (answer to the counter-offer)", &resp);
                    self.signaling_failed(error, Some(resp.status));
                }
            }
            Purpose::Delete => {}
        }
    }

    /// Where the server's response departs from the WHEP draft: information, each kind once a session.
    fn report_deviations(&mut self, exchange: whep::Exchange, resp: &HttpResponse) {
        let refs: Vec<(&str, &str)> = resp
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        for d in whep::response_deviations(exchange, resp.status, &refs, &resp.body) {
            if self.deviations_seen.insert(d.key) {
                self.info(d.text);
            }
        }
    }

    fn on_options(&mut self, resp: HttpResponse, elapsed_ms: f64) {
        // Any HTTP answer means the server is reachable.
        self.emit(Event::SignalingConnected {
            http_status: resp.status,
            elapsed_ms,
        });
        if resp.status == 401 || resp.status == 403 {
            let error = http_error_text("OPTIONS", &resp);
            self.signaling_failed(error, Some(resp.status));
            return;
        }
        let mut servers = Vec::new();
        if (200..300).contains(&resp.status) {
            let parsed = whep::parse_link_headers(&resp.all("link"));
            for e in &parsed.errors {
                self.warning(ErrorSource::Protocol, format!("Link header: {e}"));
            }
            for l in parsed.ice_servers {
                self.a.options_ice.push(l.url.clone());
                servers.push(IceServerSpec {
                    urls: vec![l.url],
                    username: l.username,
                    credential: l.credential,
                    source: IceServerSource::Signaling,
                });
            }
        } else {
            self.info(format!(
                "OPTIONS answered HTTP {} (optional in WHEP): going on without its ICE servers",
                resp.status
            ));
        }
        // Servers from an earlier 201 that OPTIONS did not list (draft-conformant servers send them
        // only there): use them from this attempt on.
        for s in &self.late_ice_servers {
            if !servers.iter().any(|x| x.urls == s.urls) {
                servers.push(s.clone());
            }
        }
        self.session(session::Input::SignalingOpened);
        self.session(session::Input::IceServersReceived);
        self.peer(
            PeerRequest::CreateOffer {
                ice_servers: servers,
            },
            PeerWait::Offer,
        );
    }

    fn on_post(&mut self, url: url::Url, resp: HttpResponse, redirects: u32) {
        match resp.status {
            201 | 200 => self.on_created(url, resp),
            307 | 308 => {
                let target = resp
                    .header("location")
                    .ok_or_else(|| format!("HTTP {} without a Location", resp.status))
                    .and_then(|l| whep::resolve_location(&url, l));
                match target {
                    Ok(next) if redirects < MAX_REDIRECTS => {
                        self.info(format!(
                            "POST redirected ({}) to {}",
                            resp.status,
                            ice_server::mask_url(next.as_str())
                        ));
                        if self.a.has_peer {
                            self.peer(
                                PeerRequest::LocalDescription,
                                PeerWait::Redirect {
                                    next,
                                    redirects: redirects + 1,
                                },
                            );
                        }
                    }
                    Ok(_) => {
                        self.protocol_error(format!("more than {MAX_REDIRECTS} redirects"), None)
                    }
                    Err(e) => self.protocol_error(format!("redirect: {e}"), None),
                }
            }
            301..=303 => {
                // Not followed: a 301/302/303 turns the POST into a GET (reported as a deviation too).
                let error = format!(
                    "{} (WHEP redirects are 307; this one is not followed)",
                    http_error_text("POST", &resp)
                );
                self.signaling_failed(error, Some(resp.status));
            }
            406 => self.on_counter_offer(url, resp),
            409 | 503 => {
                let after = resp
                    .header("retry-after")
                    .and_then(|v| whep::parse_retry_after(v, resp.unix_secs));
                let error = http_error_text("POST", &resp);
                match after {
                    Some(secs) => self.session(session::Input::RetryLater {
                        http_status: resp.status,
                        after: Duration::from_secs(secs),
                        error,
                    }),
                    None => self.signaling_failed(error, Some(resp.status)),
                }
            }
            _ => {
                let error = http_error_text("POST", &resp);
                self.emit(Event::Error {
                    source: ErrorSource::Signaling,
                    message: error.clone(),
                    offending: None,
                });
                self.signaling_failed(error, Some(resp.status));
            }
        }
    }

    fn on_created(&mut self, url: url::Url, resp: HttpResponse) {
        let mt = media_type(&resp);
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
                    whep::describe_error_body(resp.header("content-type"), &resp.body)
                );
                self.protocol_error(text, Some(&resp.body));
                return;
            }
        }
        // Location (its absence is reported as a deviation with the response).
        let resource = match resp.header("location") {
            Some(l) => match whep::resolve_location(&url, l) {
                Ok(u) => Some(u),
                Err(e) => {
                    self.warning(
                        ErrorSource::Protocol,
                        format!("Location {l:?}: {e}; no trickle, ICE restart or DELETE"),
                    );
                    None
                }
            },
            None => None,
        };
        // Deviations (no ETag, `ETag: *`, …) were reported with the response.
        let etag = resp
            .header("etag")
            .and_then(|e| whep::if_match_for_trickle(&whep::parse_etag(e)));
        // ICE servers only on the 201: too late for this attempt's gathering; used from the next one.
        let parsed = whep::parse_link_headers(&resp.all("link"));
        let options_had = !self.a.options_ice.is_empty();
        if let Some(d) =
            whep::ice_servers_only_on_options(options_had, !parsed.ice_servers.is_empty())
            && self.deviations_seen.insert(d.key)
        {
            self.info(d.text);
        }
        let late: Vec<IceServerSpec> = parsed
            .ice_servers
            .into_iter()
            .filter(|l| !self.a.options_ice.contains(&l.url))
            .map(|l| IceServerSpec {
                urls: vec![l.url],
                username: l.username,
                credential: l.credential,
                source: IceServerSource::Signaling,
            })
            .collect();
        if !late.is_empty() {
            let urls: Vec<String> = late.iter().flat_map(|s| s.urls.clone()).collect();
            self.info(format!(
                "ICE servers came only with the 201 ({}): they are used from the next attempt",
                urls.join(", ")
            ));
            for s in late {
                if !self.late_ice_servers.iter().any(|x| x.urls == s.urls) {
                    self.late_ice_servers.push(s);
                }
            }
        }
        self.a.resource = resource;
        self.a.etag = etag;
        if !self.a.has_peer {
            return;
        }
        let body = self.within_budget(&resp.body);
        self.peer(
            PeerRequest::ApplyAnswer { sdp: body.clone() },
            PeerWait::Created { body },
        );
    }

    /// `sdp` without the candidate lines over the attempt's limits (each limit reported once).
    fn within_budget(&mut self, sdp: &str) -> String {
        let mut out = String::with_capacity(sdp.len());
        for line in sdp.split_inclusive('\n') {
            if let Some(c) = line.trim().strip_prefix("a=")
                && c.starts_with("candidate:")
            {
                match self.a.budget.admit(c) {
                    super::CandidateAdmission::Take => {}
                    super::CandidateAdmission::DropWithWarning(w) => {
                        self.warning(ErrorSource::Protocol, w);
                        continue;
                    }
                    super::CandidateAdmission::Drop => continue,
                }
            }
            out.push_str(line);
        }
        out
    }

    /// The 201's answer is applied: show its candidates (WHEP servers do not trickle), go on.
    fn on_answer_applied(&mut self, body: String) {
        for line in body.lines().map(str::trim) {
            if let Some(c) = line.strip_prefix("a=")
                && c.starts_with("candidate:")
            {
                let (candidate, error) = match crate::proto::candidate::parse_candidate(c) {
                    Ok(c) => (Some(c), None),
                    Err(e) => (None, Some(format!("candidate does not parse: {e}"))),
                };
                self.emit(Event::RemoteCandidate {
                    candidate,
                    raw: truncate_bytes(c, OFFENDING_LIMIT).0,
                    sdp_mid: None,
                    sdp_mline_index: None,
                    error,
                });
            }
        }
        self.a.answer_sdp = Some(body);
        self.answered();
    }

    fn answered(&mut self) {
        self.a.answered = true;
        self.session(session::Input::AnswerApplied);
        self.flush();
    }

    fn on_counter_offer(&mut self, url: url::Url, resp: HttpResponse) {
        let resource = resp
            .header("location")
            .and_then(|l| whep::resolve_location(&url, l).ok());
        let Some(resource) = resource else {
            self.protocol_error("406 counter-offer without a usable Location".into(), None);
            return;
        };
        self.info(
            "406: the server sent a counter-offer; answering it with a new peer connection".into(),
        );
        let etag = resp.header("etag").map(str::to_owned);
        self.peer(
            PeerRequest::AnswerOffer {
                sdp: resp.body.clone(),
            },
            PeerWait::CounterAnswer {
                resource,
                etag,
                body: resp.body,
            },
        );
    }

    /// Send what is pending in one PATCH, when the answer is in and no other PATCH is in flight.
    fn flush(&mut self) {
        let a = &mut self.a;
        if !a.answered || a.no_trickle || a.patch_in_flight || !a.has_peer {
            return;
        }
        let Some(resource) = a.resource.clone() else {
            return;
        };
        if a.pending.is_empty() && !a.end_pending {
            return;
        }
        let pending = std::mem::take(&mut a.pending);
        let end = std::mem::take(&mut a.end_pending);
        a.patch_in_flight = true;
        let etag = a.etag.clone();
        self.peer(
            PeerRequest::LocalDescription,
            PeerWait::Trickle {
                resource,
                etag,
                pending,
                end,
            },
        );
    }

    fn on_trickle_done(&mut self, resp: HttpResponse) {
        self.a.patch_in_flight = false;
        match resp.status {
            200..=299 => {}
            405 | 501 | 422 => {
                self.a.no_trickle = true;
                self.a.pending.clear();
                self.info(format!(
                    "the server does not take trickled candidates (PATCH → HTTP {}): carrying on with what the offer held; ICE can still succeed through our checks",
                    resp.status
                ));
                return;
            }
            412 | 428 => self.warning(
                ErrorSource::Protocol,
                format!(
                    "trickle PATCH refused: HTTP {} (ETag / If-Match mismatch)",
                    resp.status
                ),
            ),
            _ => {
                let text = http_error_text("trickle PATCH", &resp);
                self.warning(ErrorSource::Protocol, text);
            }
        }
        self.flush();
    }

    /// Restart ICE: new credentials in a PATCH with `If-Match: "*"`.
    fn ice_restart(&mut self, reason: String) {
        if !self.a.has_peer {
            return;
        }
        let Some(resource) = self.a.resource.clone() else {
            self.warning(
                ErrorSource::Protocol,
                "ICE restart impossible: the server gave no session resource (Location)".into(),
            );
            self.session(session::Input::IceRestartFailed(
                "no session resource".into(),
            ));
            return;
        };
        self.emit(Event::IceRestart { reason });
        self.peer(
            PeerRequest::RestartIceOffer,
            PeerWait::RestartOffer { resource },
        );
    }

    fn on_ice_restart_done(&mut self, resp: HttpResponse) {
        self.a.patch_in_flight = false;
        let fail = |s: &mut Self, e: String| s.session(session::Input::IceRestartFailed(e));
        if resp.status != 200 {
            let text = http_error_text("ICE-restart PATCH", &resp);
            return fail(self, text);
        }
        let frag = match whep::parse_sdpfrag(&resp.body) {
            Ok(f) => f,
            Err(e) => return fail(self, format!("the 200 body: {e}")),
        };
        let (Some(ufrag), Some(pwd)) = (frag.ufrag(), frag.pwd()) else {
            return fail(self, "the 200 body has no ice-ufrag/ice-pwd".into());
        };
        let Some(answer) = self.a.answer_sdp.clone() else {
            return fail(self, "no earlier answer to update".into());
        };
        let answer = whep::with_ice_credentials(&answer, ufrag, pwd);
        let mut candidates: Vec<String> = Vec::new();
        for (_, c) in frag.candidates() {
            match self.a.budget.admit(c) {
                super::CandidateAdmission::Take => candidates.push(c.to_owned()),
                super::CandidateAdmission::DropWithWarning(w) => {
                    self.warning(ErrorSource::Protocol, w)
                }
                super::CandidateAdmission::Drop => {}
            }
        }
        let ufrag = ufrag.to_owned();
        let etag = resp
            .header("etag")
            .and_then(|e| whep::if_match_for_trickle(&whep::parse_etag(e)));
        if !self.a.has_peer {
            return;
        }
        self.peer(
            PeerRequest::ApplyAnswer {
                sdp: answer.clone(),
            },
            PeerWait::RestartAnswer {
                answer,
                etag,
                candidates,
                ufrag,
            },
        );
    }

    fn on_peer(&mut self, result: PeerResult) {
        let Some(wait) = self.a.waits.pop_front() else {
            return;
        };
        match (wait, result) {
            (PeerWait::Offer, PeerResult::Offer(Ok(offer))) => {
                self.a.has_peer = true;
                let Some(endpoint) = self.a.endpoint.clone() else {
                    return;
                };
                self.http(
                    "POST",
                    endpoint,
                    Purpose::Offer { redirects: 0 },
                    Some(whep::SDP_MEDIA_TYPE),
                    None,
                    Some(offer),
                    MessageKind::Offer,
                );
                self.session(session::Input::OfferSent);
            }
            (PeerWait::Offer, PeerResult::Offer(Err(e))) => self.peer_failed(e.to_string()),
            (PeerWait::Redirect { next, redirects }, PeerResult::LocalDescription(Some(offer))) => {
                self.a.endpoint = Some(next.clone());
                self.http(
                    "POST",
                    next,
                    Purpose::Offer { redirects },
                    Some(whep::SDP_MEDIA_TYPE),
                    None,
                    Some(offer),
                    MessageKind::Offer,
                );
            }
            (
                PeerWait::Trickle {
                    resource,
                    etag,
                    pending,
                    end,
                },
                PeerResult::LocalDescription(local),
            ) => {
                let Some(local) = local else {
                    self.a.patch_in_flight = false;
                    return;
                };
                match whep::trickle_frag(&local, &pending, end) {
                    Ok(f) => self.http(
                        "PATCH",
                        resource,
                        Purpose::Trickle,
                        Some(whep::SDPFRAG_MEDIA_TYPE),
                        etag.as_deref(),
                        Some(whep::write_sdpfrag(&f)),
                        MessageKind::Sdpfrag,
                    ),
                    Err(e) => {
                        self.warning(
                            ErrorSource::Peer,
                            format!("cannot build the trickle body: {e}"),
                        );
                        self.a.patch_in_flight = false;
                    }
                }
            }
            (PeerWait::Created { body }, PeerResult::AnswerApplied(Ok(()))) => {
                self.on_answer_applied(body)
            }
            (PeerWait::Created { body }, PeerResult::AnswerApplied(Err(e))) => {
                self.protocol_error(e, Some(&body))
            }
            (
                PeerWait::CounterAnswer {
                    resource,
                    etag,
                    body,
                },
                PeerResult::CounterAnswer(r),
            ) => match r {
                Ok(answer) => {
                    self.a.has_peer = true;
                    self.a.resource = Some(resource.clone());
                    self.a.etag = etag;
                    self.a.answer_sdp = None;
                    self.http(
                        "PATCH",
                        resource,
                        Purpose::CounterAnswer,
                        Some(whep::SDP_MEDIA_TYPE),
                        None,
                        Some(answer),
                        MessageKind::Answer,
                    );
                }
                Err(PeerFailure::Build(e)) => {
                    self.a.has_peer = false;
                    self.peer_failed(e);
                }
                Err(PeerFailure::Sdp(e)) => {
                    self.protocol_error(format!("counter-offer: {e}"), Some(&body))
                }
            },
            (PeerWait::RestartOffer { resource }, PeerResult::IceRestartOffer(r)) => {
                let frag = r.and_then(|offer| whep::trickle_frag(&offer, &[], false));
                match frag {
                    Ok(f) => {
                        // Candidates of the old generation are useless now; new ones follow the 200.
                        self.a.pending.clear();
                        self.a.end_pending = false;
                        self.a.answered = false;
                        self.a.patch_in_flight = true;
                        self.http(
                            "PATCH",
                            resource,
                            Purpose::IceRestart,
                            Some(whep::SDPFRAG_MEDIA_TYPE),
                            Some(whep::ICE_RESTART_IF_MATCH),
                            Some(whep::write_sdpfrag(&f)),
                            MessageKind::Sdpfrag,
                        );
                    }
                    Err(e) => self.session(session::Input::IceRestartFailed(e)),
                }
            }
            (
                PeerWait::RestartAnswer {
                    answer,
                    etag,
                    candidates,
                    ufrag,
                },
                PeerResult::AnswerApplied(r),
            ) => {
                if let Err(e) = r {
                    self.session(session::Input::IceRestartFailed(e));
                    return;
                }
                self.a.answer_sdp = Some(answer);
                if etag.is_some() {
                    self.a.etag = etag;
                }
                self.a.answered = true;
                if candidates.is_empty() {
                    self.flush();
                }
                let n = candidates.len();
                for (i, c) in candidates.into_iter().enumerate() {
                    let parsed = crate::proto::candidate::parse_candidate(&c);
                    let mut request = remote_candidate(
                        &c,
                        parsed.as_ref().ok(),
                        None,
                        Some(0),
                        Some(ufrag.clone()),
                    );
                    request.line = c.clone();
                    self.peer(
                        PeerRequest::AddRemoteCandidate(request),
                        PeerWait::RestartCandidate {
                            raw: c,
                            parsed: parsed.map_err(|e| format!("candidate does not parse: {e}")),
                            last: i + 1 == n,
                        },
                    );
                }
            }
            (PeerWait::RestartCandidate { raw, parsed, last }, PeerResult::CandidateAdded(r)) => {
                let (candidate, error) = match parsed {
                    Ok(p) => (Some(p), r.err()),
                    Err(e) => (None, Some(e)),
                };
                self.emit(Event::RemoteCandidate {
                    candidate,
                    raw: truncate_bytes(&raw, OFFENDING_LIMIT).0,
                    sdp_mid: None,
                    sdp_mline_index: None,
                    error,
                });
                if last {
                    self.flush();
                }
            }
            // An answer that does not match the request: the driver broke the contract; drop it.
            _ => {}
        }
    }

    /// The peer connection could not be built or could not offer: the attempt ends.
    fn peer_failed(&mut self, e: String) {
        self.emit(Event::Error {
            source: ErrorSource::Peer,
            message: e.clone(),
            offending: None,
        });
        self.session(session::Input::PeerError(e));
    }

    /// DELETE the session resource (on exit and before a full restart), once.
    fn delete(&mut self) {
        if self.a.deleted {
            return;
        }
        self.a.deleted = true;
        let Some(resource) = self.a.resource.clone() else {
            return;
        };
        self.http(
            "DELETE",
            resource,
            Purpose::Delete,
            None,
            None,
            None,
            MessageKind::Empty,
        );
    }
}

impl Client for WhepClient {
    fn protocol(&self) -> Protocol {
        Protocol::Whep
    }

    fn handle(&mut self, input: Input) {
        match input {
            Input::Start => {
                let endpoint = self.config.url.clone();
                self.a = AttemptState {
                    endpoint: Some(endpoint.clone()),
                    ..AttemptState::default()
                };
                self.http(
                    "OPTIONS",
                    endpoint,
                    Purpose::Options,
                    None,
                    None,
                    None,
                    MessageKind::Empty,
                );
            }
            Input::Close { .. } => {
                // Requests of the ending attempt are void; its events still go out.
                self.out.retain(|o| matches!(o, Output::Event(_)));
                self.a.waits.clear();
                self.a.in_flight.clear();
                self.delete();
            }
            Input::HttpResponse {
                id,
                response,
                elapsed_ms,
            } => self.on_http_response(id, response, elapsed_ms),
            Input::HttpFailed {
                id,
                error,
                elapsed_ms,
            } => self.on_http_failed(id, error, elapsed_ms),
            Input::Peer(result) => self.on_peer(result),
            Input::LocalCandidate(line) => {
                self.a.pending.push(line);
                self.flush();
            }
            Input::GatheringComplete => {
                self.a.end_pending = true;
                self.flush();
            }
            Input::IceRestart { reason } => self.ice_restart(reason),
            // Not this protocol's.
            Input::PeerConnected
            | Input::WsOpened { .. }
            | Input::WsConnectFailed { .. }
            | Input::WsFrame(_)
            | Input::WsSent(_) => {}
        }
    }

    fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }
}

/// `scheme://host:port` of a URL, for messages (never its userinfo, path or query).
fn origin_of(u: &url::Url) -> String {
    match (u.host_str(), u.port_or_known_default()) {
        (Some(h), Some(p)) => format!("{}://{h}:{p}", u.scheme()),
        (Some(h), None) => format!("{}://{h}", u.scheme()),
        _ => u.scheme().to_owned(),
    }
}

/// Hide the credential in a Link header value shown in events (attribute names in any case, as
/// the Link parser reads them).
fn mask_link_credential(v: &str) -> String {
    crate::secrets::mask_text(v)
}

#[cfg(test)]
mod tests;
