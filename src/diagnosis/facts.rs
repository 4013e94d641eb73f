//! What the rules need to know, folded from the events with bounded memory: counts, first/last times,
//! the latest checklist, and small capped lists. One [`AttemptFacts`] per attempt (the current one and
//! the one before), and the session-wide [`RestartFact`] ring.

use crate::event::{
    Candidate, CandidatePair, CandidateType, ErrorSource, Event, IceServerInfo, MessageKind, Phase,
    RestartCause, SkippedIceServer, StateKind, TrackStats,
};
use crate::model::sdp::{self, SdpSummary, SectionOutcome};

/// Local (and, separately, remote) candidates kept per attempt.
pub(crate) const CANDIDATES_KEPT: usize = 64;
/// Candidate pairs kept from the latest checklist.
pub(crate) const PAIRS_KEPT: usize = 64;
/// Tracks followed per attempt.
pub(crate) const TRACKS_KEPT: usize = 8;
/// Messages (warnings, errors, HTTP failures) kept per kind and attempt.
pub(crate) const NOTES_KEPT: usize = 8;
/// ICE servers kept per attempt.
pub(crate) const SERVERS_KEPT: usize = 16;
/// Longest text kept from an event (bodies, errors, warnings), in characters.
pub(crate) const TEXT_KEPT: usize = 300;
/// Longest SDP parsed (the engine already truncates; this bounds the work per event).
const SDP_KEPT: usize = 64 * 1024;

/// `s` cut to [`TEXT_KEPT`] characters (an ellipsis marks a cut).
pub(crate) fn cut(s: &str) -> String {
    let mut out: String = s.chars().take(TEXT_KEPT).collect();
    if s.chars().nth(TEXT_KEPT).is_some() {
        out.push('…');
    }
    out
}

/// Push onto a capped list (later items beyond the cap are dropped: the first ones explain most).
pub(crate) fn push_capped<T>(v: &mut Vec<T>, item: T, cap: usize) {
    if v.len() < cap {
        v.push(item);
    }
}

/// A failed HTTP exchange (WHEP) or WebSocket upgrade.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HttpFailure {
    /// Method (`POST`, `OPTIONS`, `GET` for a WebSocket upgrade).
    pub method: String,
    /// URL, when known.
    pub url: Option<String>,
    /// Status code.
    pub status: u16,
    /// Reason phrase, when known.
    pub reason: String,
    /// `WWW-Authenticate`, when sent.
    pub www_authenticate: Option<String>,
    /// Body (cut).
    pub body: String,
    /// `Allow`, when sent.
    pub allow: Option<String>,
    /// Session time.
    pub t_ms: f64,
}

/// The WHEP POST of the offer as answered.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PostAnswer {
    /// Status.
    pub status: u16,
    /// Time from request to complete response.
    pub elapsed_ms: f64,
    /// Session time of the response.
    pub t_ms: f64,
}

/// How the signaling socket closed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Closed {
    /// Session time.
    pub t_ms: f64,
    /// Phase.
    pub phase: Phase,
    /// Close code (none: no close frame).
    pub code: Option<u16>,
    /// Close reason.
    pub reason: Option<String>,
    /// Whether this side closed it.
    pub local: bool,
}

/// One received track's latest statistics and progress.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TrackFacts {
    /// Latest statistics.
    pub stats: TrackStats,
    /// Session time of the first statistics.
    pub first_ms: f64,
    /// Session time of the latest statistics.
    pub last_ms: f64,
    /// Session time when `packets_received` last grew (or of the first statistics with packets).
    pub progress_ms: Option<f64>,
    /// Highest bitrate seen.
    pub max_bps: f64,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AttemptEnd {
    /// Session time of the restart event.
    pub t_ms: f64,
    /// Why.
    pub cause: RestartCause,
    /// How long it lived.
    pub lived_ms: f64,
}

/// Everything the rules know about one attempt.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct AttemptFacts {
    /// Attempt number (0 before the first).
    pub number: u32,
    /// Session time it started.
    pub started_ms: f64,
    /// How it ended, once it has (a restart, or the session's end).
    pub end: Option<AttemptEnd>,

    /// When the signaling connection began opening.
    pub signaling_connecting_ms: Option<f64>,
    /// When it opened, and how long that took.
    pub signaling_connected: Option<(f64, f64)>,
    /// Signaling failures (error, HTTP status, body).
    pub signaling_failed: Vec<(String, Option<u16>, Option<String>)>,
    /// The close of the signaling socket.
    pub closed: Option<Closed>,
    /// HTTP failures (status ≥ 400 on POST/OPTIONS/PATCH of the offer, or a WebSocket upgrade).
    pub http_failures: Vec<HttpFailure>,
    /// HTTP requests that got no response (method, error).
    pub http_unanswered: Vec<(String, String)>,
    /// The POST that carried the offer, as answered.
    pub post: Option<PostAnswer>,

    /// When the ICE-server list arrived (WebSocket) or the servers were known (WHEP).
    pub ice_servers_ms: Option<f64>,
    /// The ICE servers in use (capped).
    pub servers: Vec<IceServerInfo>,
    /// Those this stack cannot use (capped).
    pub skipped: Vec<SkippedIceServer>,
    /// `all` or `relay`; empty until known.
    pub policy: String,
    /// Whether an `ice_servers` event came at all.
    pub ice_servers_known: bool,

    /// When the offer went out.
    pub offer_ms: Option<f64>,
    /// When the answer came.
    pub answer_ms: Option<f64>,
    /// The offer, summarised, until the answer (then dropped).
    pub offer_summary: Option<SdpSummary>,
    /// The answer's candidate lines count (WHEP answers carry them in the SDP).
    pub answer_candidates: usize,
    /// Per offered m-line, what the answer did (set when the answer arrives).
    pub sections: Vec<SectionOutcome>,

    /// Local candidates (capped) and counts by type (host, srflx, prflx, relay).
    pub local: Vec<Candidate>,
    /// Local candidate counts by type.
    pub local_counts: [u32; 4],
    /// When the first local candidate was gathered.
    pub first_local_ms: Option<f64>,
    /// When gathering completed.
    pub gathering_complete_ms: Option<f64>,
    /// Remote candidates that parsed (capped) and counts by type.
    pub remote: Vec<Candidate>,
    /// Remote candidate counts by type.
    pub remote_counts: [u32; 4],
    /// Remote candidates that did not parse or the stack rejected.
    pub remote_rejected: u32,

    /// The latest non-empty checklist (capped).
    pub pairs: Vec<CandidatePair>,
    /// The selected pair, latest.
    pub selected: Option<CandidatePair>,
    /// Selected-pair changes.
    pub selected_changes: u32,

    /// When ICE started checking.
    pub ice_checking_ms: Option<f64>,
    /// When ICE first connected (`connected` or `completed`).
    pub ice_connected_ms: Option<f64>,
    /// When ICE failed (latest).
    pub ice_failed_ms: Option<f64>,
    /// ICE `disconnected` transitions.
    pub ice_disconnects: u32,
    /// The latest ICE connection state.
    pub ice_state: Option<String>,
    /// DTLS states seen, in order, without repeats (capped).
    pub dtls_states: Vec<String>,
    /// When DTLS connected.
    pub dtls_connected_ms: Option<f64>,
    /// When DTLS failed.
    pub dtls_failed_ms: Option<f64>,
    /// When the peer connection connected.
    pub pc_connected_ms: Option<f64>,
    /// When the peer connection failed.
    pub pc_failed_ms: Option<f64>,
    /// The latest peer-connection state.
    pub pc_state: Option<String>,
    /// DTLS/SRTP details (role, version, cipher, SRTP profile).
    pub transport: Option<(String, String, String, String)>,

    /// Tracks announced by the stack.
    pub tracks_added: u32,
    /// When the first RTP packet came, and its kind.
    pub first_media: Option<(f64, String)>,
    /// Received tracks (capped).
    pub tracks: Vec<TrackFacts>,

    /// Stack warnings about TURN (capped, cut).
    pub turn_warnings: Vec<String>,
    /// Stack warnings that ICE had no candidate pair to check.
    pub no_pairs_warning: bool,
    /// Other stack messages about DTLS (capped, cut).
    pub dtls_notes: Vec<String>,
    /// Protocol errors: what was wrong (capped, cut).
    pub protocol_errors: Vec<String>,
    /// Signaling messages of a kind the protocol does not have, or invalid.
    pub bad_messages: u32,
    /// ICE restarts within the attempt (WHEP).
    pub ice_restarts: u32,
}

impl AttemptFacts {
    /// A fresh attempt.
    pub fn new(number: u32, started_ms: f64) -> Self {
        AttemptFacts {
            number,
            started_ms,
            ..Default::default()
        }
    }

    /// Whether anything happened in it yet.
    pub fn is_empty(&self) -> bool {
        self.signaling_connecting_ms.is_none()
            && self.signaling_failed.is_empty()
            && self.end.is_none()
            && self.offer_ms.is_none()
    }

    /// Whether the answer arrived.
    pub fn answered(&self) -> bool {
        self.answer_ms.is_some()
    }

    /// Whether ICE connected.
    pub fn ice_connected(&self) -> bool {
        self.ice_connected_ms.is_some() || self.pc_connected_ms.is_some()
    }

    /// Whether the peer connection (DTLS included) connected.
    pub fn connected(&self) -> bool {
        self.pc_connected_ms.is_some()
    }

    /// Whether RTP arrived.
    pub fn media(&self) -> bool {
        self.first_media.is_some()
    }

    /// Local candidates of a type.
    pub fn local_count(&self, t: CandidateType) -> u32 {
        self.local_counts[type_index(t)]
    }

    /// Remote candidates in total (parsed or not), in trickle and in the answer.
    pub fn remote_total(&self) -> u32 {
        self.remote_counts.iter().sum::<u32>() + self.remote_rejected
    }

    /// Local candidates in total.
    pub fn local_total(&self) -> u32 {
        self.local_counts.iter().sum()
    }

    /// Apply one event of this attempt.
    pub fn observe(&mut self, t: f64, ev: &Event) {
        match ev {
            Event::SignalingConnecting { .. } => {
                self.signaling_connecting_ms.get_or_insert(t);
            }
            Event::SignalingConnected { elapsed_ms, .. } => {
                self.signaling_connected.get_or_insert((t, *elapsed_ms));
            }
            Event::SignalingFailed {
                error,
                http_status,
                body,
            } => {
                push_capped(
                    &mut self.signaling_failed,
                    (cut(error), *http_status, body.as_deref().map(cut)),
                    NOTES_KEPT,
                );
                // The WebSocket upgrade refused with a status (WHEP failures come as `http_response`).
                if let Some(status) = http_status
                    && *status >= 400
                {
                    push_capped(
                        &mut self.http_failures,
                        HttpFailure {
                            method: "GET".into(),
                            url: None,
                            status: *status,
                            reason: String::new(),
                            www_authenticate: None,
                            body: body.as_deref().map(cut).unwrap_or_default(),
                            allow: None,
                            t_ms: t,
                        },
                        NOTES_KEPT,
                    );
                }
            }
            Event::SignalingClosed {
                phase,
                code,
                reason,
                local,
            } => {
                self.closed = Some(Closed {
                    t_ms: t,
                    phase: *phase,
                    code: *code,
                    reason: reason.as_deref().map(cut),
                    local: *local,
                });
            }
            Event::MessageSent { kind, text, .. } => self.on_message(t, *kind, text, true),
            Event::MessageReceived { kind, text, .. } => {
                if matches!(kind, MessageKind::Invalid | MessageKind::Unknown) {
                    self.bad_messages = self.bad_messages.saturating_add(1);
                }
                if *kind == MessageKind::IceServers {
                    self.ice_servers_ms.get_or_insert(t);
                }
                self.on_message(t, *kind, text, false)
            }
            Event::HttpRequest {
                kind,
                body: Some(b),
                ..
            } => self.on_message(t, *kind, b, true),
            Event::HttpResponse {
                method,
                status,
                reason,
                headers,
                kind,
                body,
                elapsed_ms,
                ..
            } => self.on_http_response(
                t,
                method,
                *status,
                reason,
                headers,
                *kind,
                body,
                *elapsed_ms,
            ),
            Event::HttpFailed { method, error, .. } => push_capped(
                &mut self.http_unanswered,
                (cut(method), cut(error)),
                NOTES_KEPT,
            ),
            Event::IceServers {
                servers,
                skipped,
                policy,
            } => {
                self.ice_servers_known = true;
                self.ice_servers_ms.get_or_insert(t);
                self.servers = servers.iter().take(SERVERS_KEPT).cloned().collect();
                self.skipped = skipped.iter().take(SERVERS_KEPT).cloned().collect();
                self.policy = cut(policy);
            }
            Event::LocalCandidate { candidate } => {
                self.first_local_ms.get_or_insert(t);
                let i = type_index(candidate.typ);
                self.local_counts[i] = self.local_counts[i].saturating_add(1);
                push_capped(&mut self.local, candidate.clone(), CANDIDATES_KEPT);
            }
            Event::LocalGatheringComplete => {
                self.gathering_complete_ms.get_or_insert(t);
            }
            Event::RemoteCandidate {
                candidate, error, ..
            } => match (candidate, error) {
                (Some(c), None) => {
                    let i = type_index(c.typ);
                    self.remote_counts[i] = self.remote_counts[i].saturating_add(1);
                    push_capped(&mut self.remote, c.clone(), CANDIDATES_KEPT);
                }
                _ => self.remote_rejected = self.remote_rejected.saturating_add(1),
            },
            Event::StateChanged { kind, state } => self.on_state(t, *kind, state),
            Event::CandidatePairs { pairs } => {
                if !pairs.is_empty() {
                    self.pairs = pairs.iter().take(PAIRS_KEPT).cloned().collect();
                }
                // Keep the selected pair's counters current.
                if let Some(sel) = &mut self.selected
                    && let Some(p) = pairs.iter().find(|p| p.id == sel.id)
                {
                    *sel = p.clone();
                }
            }
            Event::SelectedPair { pair, changes } => {
                self.selected = Some(pair.clone());
                self.selected_changes = *changes;
            }
            Event::TrackAdded { .. } => self.tracks_added = self.tracks_added.saturating_add(1),
            Event::FirstMedia { kind, .. } if self.first_media.is_none() => {
                self.first_media = Some((t, cut(kind)));
            }
            Event::TrackStats { stats } => self.on_track_stats(t, stats),
            Event::Transport {
                dtls_role,
                tls_version,
                dtls_cipher,
                srtp_cipher,
            } => {
                self.transport = Some((
                    cut(dtls_role),
                    cut(tls_version),
                    cut(dtls_cipher),
                    cut(srtp_cipher),
                ));
            }
            Event::Warning { source, message } | Event::Info { source, message }
                if *source == ErrorSource::Stack =>
            {
                self.on_stack_message(message);
            }
            Event::Error {
                source, message, ..
            } => {
                if *source == ErrorSource::Protocol {
                    push_capped(&mut self.protocol_errors, cut(message), NOTES_KEPT);
                } else if *source == ErrorSource::Stack {
                    self.on_stack_message(message);
                }
            }
            Event::IceRestart { .. } => self.ice_restarts = self.ice_restarts.saturating_add(1),
            Event::Restart {
                cause, lived_ms, ..
            } => {
                if let RestartCause::ProtocolError { error, .. } = cause {
                    push_capped(&mut self.protocol_errors, cut(error), NOTES_KEPT);
                }
                self.end = Some(AttemptEnd {
                    t_ms: t,
                    cause: cause.clone(),
                    lived_ms: *lived_ms,
                });
            }
            _ => {}
        }
    }

    fn on_message(&mut self, t: f64, kind: MessageKind, text: &str, outgoing: bool) {
        match kind {
            MessageKind::Offer => {
                if outgoing {
                    self.offer_ms.get_or_insert(t);
                }
                if let Some(s) = sdp_text(text) {
                    self.offer_summary = Some(sdp::parse(&s));
                }
            }
            MessageKind::Answer => {
                if !outgoing {
                    self.answer_ms.get_or_insert(t);
                }
                if let Some(s) = sdp_text(text) {
                    let answer = sdp::parse(&s);
                    if !outgoing {
                        self.answer_candidates =
                            answer.media.iter().map(|m| m.candidates.len()).sum();
                    }
                    if let Some(offer) = self.offer_summary.take() {
                        self.sections = sdp::compare(&offer, &answer);
                    }
                }
            }
            _ => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_http_response(
        &mut self,
        t: f64,
        method: &str,
        status: u16,
        reason: &str,
        headers: &[(String, String)],
        kind: MessageKind,
        body: &str,
        elapsed_ms: f64,
    ) {
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| cut(v))
        };
        if method.eq_ignore_ascii_case("POST") {
            self.post = Some(PostAnswer {
                status,
                elapsed_ms,
                t_ms: t,
            });
        }
        if matches!(kind, MessageKind::Answer | MessageKind::Offer) && (200..300).contains(&status)
            || status == 406
        {
            // 201 with the answer; 406 with a counter-offer (our answer goes out in a PATCH).
            if kind == MessageKind::Answer {
                self.on_message(t, kind, body, false);
            } else if kind == MessageKind::Offer {
                self.offer_summary = sdp_text(body).map(|s| sdp::parse(&s));
            }
        }
        // Trickle PATCHes refused (405/501/422) are noted by the engine as a capability, not failures.
        let counts = method.eq_ignore_ascii_case("POST") || method.eq_ignore_ascii_case("OPTIONS");
        if status >= 400 && counts && !(method.eq_ignore_ascii_case("OPTIONS") && status == 405) {
            push_capped(
                &mut self.http_failures,
                HttpFailure {
                    method: cut(method),
                    url: None,
                    status,
                    reason: cut(reason),
                    www_authenticate: header("www-authenticate"),
                    body: cut(body),
                    allow: header("allow"),
                    t_ms: t,
                },
                NOTES_KEPT,
            );
        }
    }

    fn on_state(&mut self, t: f64, kind: StateKind, state: &str) {
        let s = state.to_ascii_lowercase();
        match kind {
            StateKind::IceConnection => {
                match s.as_str() {
                    "checking" => {
                        self.ice_checking_ms.get_or_insert(t);
                    }
                    "connected" | "completed" => {
                        self.ice_connected_ms.get_or_insert(t);
                    }
                    "failed" => self.ice_failed_ms = Some(t),
                    "disconnected" => self.ice_disconnects = self.ice_disconnects.saturating_add(1),
                    _ => {}
                }
                self.ice_state = Some(cut(&s));
            }
            StateKind::Dtls => {
                if self.dtls_states.last() != Some(&s) {
                    push_capped(&mut self.dtls_states, cut(&s), NOTES_KEPT);
                }
                match s.as_str() {
                    "connected" => {
                        self.dtls_connected_ms.get_or_insert(t);
                    }
                    "failed" => {
                        self.dtls_failed_ms.get_or_insert(t);
                    }
                    _ => {}
                }
            }
            StateKind::PeerConnection => {
                match s.as_str() {
                    "connected" => {
                        self.pc_connected_ms.get_or_insert(t);
                    }
                    "failed" => {
                        self.pc_failed_ms.get_or_insert(t);
                    }
                    _ => {}
                }
                self.pc_state = Some(cut(&s));
            }
            StateKind::Signaling | StateKind::IceGathering => {}
        }
    }

    fn on_track_stats(&mut self, t: f64, stats: &TrackStats) {
        let bps = if stats.bitrate_bps.is_finite() {
            stats.bitrate_bps
        } else {
            0.0
        };
        if let Some(tr) = self
            .tracks
            .iter_mut()
            .find(|tr| tr.stats.ssrc == stats.ssrc)
        {
            if stats.packets_received > tr.stats.packets_received {
                tr.progress_ms = Some(t);
            }
            tr.max_bps = tr.max_bps.max(bps);
            tr.stats = stats.clone();
            tr.last_ms = t;
        } else if self.tracks.len() < TRACKS_KEPT {
            self.tracks.push(TrackFacts {
                stats: stats.clone(),
                first_ms: t,
                last_ms: t,
                progress_ms: (stats.packets_received > 0).then_some(t),
                max_bps: bps,
            });
        }
    }

    fn on_stack_message(&mut self, message: &str) {
        let lower = message.to_ascii_lowercase();
        if lower.contains("turn") || lower.contains("allocat") {
            push_capped(&mut self.turn_warnings, cut(message), NOTES_KEPT);
        } else if lower.contains("no candidate pair") {
            self.no_pairs_warning = true;
        } else if lower.contains("dtls") || lower.contains("fingerprint") {
            push_capped(&mut self.dtls_notes, cut(message), NOTES_KEPT);
        }
    }
}

/// The SDP in a message or body, bounded.
fn sdp_text(text: &str) -> Option<String> {
    let s = sdp::sdp_from_message(text)?;
    Some(if s.len() > SDP_KEPT {
        let mut end = SDP_KEPT;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s[..end].to_owned()
    } else {
        s
    })
}

/// Index of a candidate type in the count arrays (host, srflx, prflx, relay).
pub(crate) fn type_index(t: CandidateType) -> usize {
    match t {
        CandidateType::Host => 0,
        CandidateType::Srflx => 1,
        CandidateType::Prflx => 2,
        CandidateType::Relay => 3,
    }
}

/// One restart, for the restart-loop rule.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RestartFact {
    /// Session time.
    pub t_ms: f64,
    /// The attempt that ended.
    pub ended_attempt: u32,
    /// A stable key of the cause (its kind and phase), for grouping.
    pub key: String,
    /// The cause in words.
    pub text: String,
    /// How long the attempt lived.
    pub lived_ms: f64,
    /// Whether it had connected.
    pub had_connected: bool,
}

/// A grouping key for a restart cause: the variant and, where it has one, the phase or HTTP status.
pub(crate) fn cause_key(cause: &RestartCause) -> String {
    match cause {
        RestartCause::SocketClosed { phase } => format!("socket closed {}", phase.describe()),
        RestartCause::SignalingFailed { http_status, .. } => match http_status {
            Some(s) => format!("signaling failed: HTTP {s}"),
            None => "signaling failed (no connection)".into(),
        },
        RestartCause::HandshakeTimeout { phase } => {
            format!("handshake timeout {}", phase.describe())
        }
        RestartCause::ProtocolError { phase, .. } => format!("protocol error {}", phase.describe()),
        RestartCause::PeerError { .. } => "peer connection error".into(),
        RestartCause::ServerBusy { http_status, .. } => format!("server busy (HTTP {http_status})"),
        RestartCause::IceRestartFailed { .. } => "ICE restart failed".into(),
        other => other.describe(),
    }
}
