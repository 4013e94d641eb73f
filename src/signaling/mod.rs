//! Sans-IO signaling clients: one state machine per protocol, no sockets, no clock, no WebRTC stack.
//!
//! A client is driven like str0m's `Rtc` or quinn-proto's `Connection`: feed it an [`Input`] with
//! [`Client::handle`], then drain [`Client::poll_output`] until it returns `None` ("single-mutation
//! invariant"). Inputs are the user's operations (start, stop, ICE restart), what the wire brought
//! (WebSocket frames, HTTP responses) and what the peer connection answered (the offer, a local
//! candidate). Outputs say what to do: send this WebSocket text, send this HTTP request, ask the peer
//! connection for something, emit this [`Event`], feed this input to the [`crate::session`] policy.
//!
//! Requests that expect an answer ([`Output::WsSend`], [`Output::Http`], [`Output::Peer`]) come back
//! as inputs ([`Input::WsSent`], [`Input::HttpResponse`] / [`Input::HttpFailed`], [`Input::Peer`]);
//! peer requests and sends are answered in the order they were output.
//!
//! Time: the clients have no timers of their own (restart pauses, Retry-After included, are the
//! session's); the one wall-clock need, an HTTP-date `Retry-After`, comes in with the response
//! ([`HttpResponse::unix_secs`]).
//!
//! - [`ws`]: the legacy WebSocket reader protocol ([`ws::WsClient`]);
//! - [`whep`]: WHEP over HTTP ([`whep::WhepClient`]).
//!
//! Adding a protocol: one file here implementing [`Client`], and one line where the engine picks it.

pub mod whep;
pub mod ws;

use std::time::Duration;

use crate::event::{CandidateType, Event, Phase, Protocol};
use crate::proto::ice_server::IceServerSpec;
use crate::session;

pub use whep::WhepClient;
pub use ws::WsClient;

/// Received text kept in events is truncated to this many bytes (the size field keeps the real size).
pub const EVENT_TEXT_LIMIT: usize = 64 * 1024;
/// Offending input quoted in error events is truncated to this many bytes.
pub const OFFENDING_LIMIT: usize = 512;

/// Remote candidates taken per attempt. A real server sends tens; past this the rest are dropped
/// (one warning says how many), so a hostile server cannot make the stack's linear-scan dedup
/// quadratic or hold the session's memory.
pub const MAX_REMOTE_CANDIDATES: usize = 1_000;

/// Longest candidate line taken, in bytes (a real one is under 200).
pub const MAX_CANDIDATE_LINE: usize = 1_024;

/// What to do with one more remote candidate of the attempt: count it against
/// [`MAX_REMOTE_CANDIDATES`] and [`MAX_CANDIDATE_LINE`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CandidateBudget {
    /// Candidates taken.
    pub taken: usize,
    /// Candidates dropped over the count limit.
    pub dropped: usize,
}

/// The verdict on one remote candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CandidateAdmission {
    /// Take it.
    Take,
    /// Drop it, and say this (the first time the count limit is passed, or a line too long).
    DropWithWarning(String),
    /// Drop it silently (the limit was already reported).
    Drop,
}

impl CandidateBudget {
    /// Admit one candidate line, or not.
    pub fn admit(&mut self, line: &str) -> CandidateAdmission {
        if line.len() > MAX_CANDIDATE_LINE {
            return CandidateAdmission::DropWithWarning(format!(
                "remote candidate of {} bytes dropped (over the {MAX_CANDIDATE_LINE}-byte limit)",
                line.len()
            ));
        }
        if self.taken >= MAX_REMOTE_CANDIDATES {
            self.dropped += 1;
            return if self.dropped == 1 {
                CandidateAdmission::DropWithWarning(format!(
                    "more than {MAX_REMOTE_CANDIDATES} remote candidates in this attempt: the rest are dropped"
                ))
            } else {
                CandidateAdmission::Drop
            };
        }
        self.taken += 1;
        CandidateAdmission::Take
    }
}

/// A signaling client: one per session, for every attempt of it.
pub trait Client: Send {
    /// The protocol this client speaks.
    fn protocol(&self) -> Protocol;
    /// Feed an input. Drain [`Client::poll_output`] afterwards.
    fn handle(&mut self, input: Input);
    /// The next thing to do, `None` when there is nothing left until the next input.
    #[must_use]
    fn poll_output(&mut self) -> Option<Output>;
}

/// What a client is told.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A new attempt begins: forget the previous one's state and start signaling.
    Start,
    /// The attempt ends (restart or stop); `phase` is where the session stood. Close what is open.
    Close {
        /// The phase the attempt reached.
        phase: Phase,
    },
    /// The WebSocket opened (answer to [`Output::WsConnect`]).
    WsOpened {
        /// HTTP status of the upgrade response.
        http_status: u16,
        /// Time the connection took.
        elapsed_ms: f64,
    },
    /// The WebSocket could not be opened (answer to [`Output::WsConnect`]).
    WsConnectFailed {
        /// The error, in words.
        error: String,
        /// HTTP status of the upgrade response, if the server answered with one.
        http_status: Option<u16>,
        /// Response body, if any.
        body: Option<String>,
    },
    /// A frame arrived on the WebSocket (or it ended).
    WsFrame(WsFrame),
    /// The outcome of an [`Output::WsSend`], in order.
    WsSent(Result<(), String>),
    /// An HTTP response to the [`Output::Http`] request `id`.
    HttpResponse {
        /// The request's id.
        id: u32,
        /// The response.
        response: HttpResponse,
        /// Time from sending the request to the end of the body.
        elapsed_ms: f64,
    },
    /// The [`Output::Http`] request `id` got no response.
    HttpFailed {
        /// The request's id.
        id: u32,
        /// Why, in words.
        error: String,
        /// Time until it failed.
        elapsed_ms: f64,
    },
    /// The answer to an [`Output::Peer`] request, in order.
    Peer(PeerResult),
    /// The peer connection gathered a local candidate (its candidate attribute).
    LocalCandidate(String),
    /// The peer connection finished gathering.
    GatheringComplete,
    /// The peer connection reached `connected` (the session's phase is `connected` from now on).
    PeerConnected,
    /// The session asked for an ICE restart within the attempt.
    IceRestart {
        /// Why, in words.
        reason: String,
    },
}

/// What a client asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Emit this event (stamped with the current attempt).
    Event(Event),
    /// Feed this input to the session (progress, or why the attempt must end).
    Session(session::Input),
    /// Open a WebSocket to this URL; answer with [`Input::WsOpened`] or [`Input::WsConnectFailed`].
    WsConnect(url::Url),
    /// Send this text frame; answer with [`Input::WsSent`].
    WsSend(String),
    /// Close the WebSocket (normal closure).
    WsClose,
    /// Send this HTTP request; answer with [`Input::HttpResponse`] or [`Input::HttpFailed`].
    Http(HttpRequest),
    /// Ask the peer connection; answer with [`Input::Peer`].
    Peer(PeerRequest),
}

/// A frame from the WebSocket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsFrame {
    /// A text frame.
    Text(String),
    /// A binary frame of this many bytes (not part of the protocol).
    Binary(usize),
    /// The connection ended: close frame (code, reason) or none.
    Closed {
        /// Close code, if a close frame came.
        code: Option<u16>,
        /// Close reason.
        reason: Option<String>,
        /// A transport error, if that is how it ended.
        error: Option<String>,
    },
}

/// An HTTP request to send as is (no automatic redirects: the client follows them itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Names the request in the answer.
    pub id: u32,
    /// `OPTIONS`, `POST`, `PATCH`, `DELETE`.
    pub method: &'static str,
    /// Where to (may carry userinfo: the driver dials without it).
    pub url: url::Url,
    /// Headers, in order (valid names and values only).
    pub headers: Vec<(String, String)>,
    /// Body, if any.
    pub body: Option<String>,
    /// `Some`: answer before anything else, giving up after this long (the attempt is ending).
    pub wait_at_most: Option<Duration>,
}

/// An HTTP response, read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Canonical reason phrase.
    pub reason: String,
    /// Headers (lowercase names, text values only), in order.
    pub headers: Vec<(String, String)>,
    /// Body as text (lossy UTF-8), possibly cut at the driver's limit.
    pub body: String,
    /// Real body size in bytes.
    pub size: usize,
    /// Wall-clock time of arrival, seconds since the Unix epoch (for an HTTP-date `Retry-After`).
    pub unix_secs: u64,
}

impl HttpResponse {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (lowercase).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Something only the peer connection can do.
#[derive(Debug, Clone, PartialEq)]
pub enum PeerRequest {
    /// Build the peer connection with these ICE servers from signaling (the driver adds the configured
    /// ones) and create the offer; answer with [`PeerResult::Offer`].
    CreateOffer {
        /// ICE servers the server gave.
        ice_servers: Vec<IceServerSpec>,
    },
    /// Apply the remote answer; answer with [`PeerResult::AnswerApplied`].
    ApplyAnswer {
        /// The answer SDP.
        sdp: String,
    },
    /// Add a remote candidate; answer with [`PeerResult::CandidateAdded`].
    AddRemoteCandidate(RemoteCandidate),
    /// The current local description; answer with [`PeerResult::LocalDescription`].
    LocalDescription,
    /// Create an offer with new ICE credentials; answer with [`PeerResult::IceRestartOffer`].
    RestartIceOffer,
    /// Replace the peer connection by a new one that answers this offer (a WHEP 406 counter-offer);
    /// answer with [`PeerResult::CounterAnswer`].
    AnswerOffer {
        /// The server's offer.
        sdp: String,
    },
}

/// A remote candidate to give the peer connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCandidate {
    /// The candidate attribute (without `a=`).
    pub line: String,
    /// Address, port and type, when the candidate parsed.
    pub typ: Option<(String, u16, CandidateType)>,
    /// Media id.
    pub sdp_mid: Option<String>,
    /// Media line index.
    pub sdp_mline_index: Option<u16>,
    /// ICE ufrag.
    pub username_fragment: Option<String>,
}

/// The peer connection's answer to a [`PeerRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerResult {
    /// The offer SDP, or why there is none.
    Offer(Result<String, PeerFailure>),
    /// The remote answer was applied, or why not.
    AnswerApplied(Result<(), String>),
    /// The remote candidate was added, or why not.
    CandidateAdded(Result<(), String>),
    /// The current local description (none without a peer connection).
    LocalDescription(Option<String>),
    /// The ICE-restart offer, or why there is none.
    IceRestartOffer(Result<String, String>),
    /// The answer to the counter-offer, or why there is none.
    CounterAnswer(Result<String, PeerFailure>),
}

/// Why the peer connection could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerFailure {
    /// Building the peer connection failed.
    #[error("{0}")]
    Build(String),
    /// The peer connection was built but refused the description.
    #[error("{0}")]
    Sdp(String),
}

/// Where and as whom a client signals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// The WebSocket URL or the WHEP endpoint.
    pub url: url::Url,
    /// `Authorization` header value for HTTP requests (`Bearer …` or `Basic …`), if any.
    pub authorization: Option<String>,
    /// Extra headers for HTTP requests (the WebSocket upgrade gets them from the driver).
    pub headers: Vec<(String, String)>,
}

/// The client for `protocol`: the one place a protocol is chosen.
pub fn client_for(protocol: Protocol, config: ClientConfig) -> Box<dyn Client> {
    match protocol {
        Protocol::Ws => Box::new(WsClient::new(config.url)),
        Protocol::Whep => Box::new(WhepClient::new(config)),
    }
}

/// Parse a remote candidate attribute into what the peer connection wants to know of it.
pub(crate) fn remote_candidate(
    line: &str,
    parsed: Option<&crate::event::Candidate>,
    sdp_mid: Option<String>,
    sdp_mline_index: Option<u16>,
    username_fragment: Option<String>,
) -> RemoteCandidate {
    let line = line.trim();
    RemoteCandidate {
        line: line.strip_prefix("a=").unwrap_or(line).to_owned(),
        typ: parsed.map(|p| (p.address.clone(), p.port, p.typ)),
        sdp_mid,
        sdp_mline_index,
        username_fragment,
    }
}
