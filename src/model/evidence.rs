//! What the diagnosis needs of an attempt beyond what the panes show: failures, notes and per-track
//! progress, folded by [`Model::apply`](super::Model::apply) into the [`Attempt`] with bounded memory
//! (capped lists, texts cut to [`TEXT_KEPT`] characters).

use crate::event::{ErrorSource, Event, MessageKind, Phase, RestartCause, StateKind, TrackStats};

use super::Attempt;
use super::sdp;

/// Messages (warnings, errors, HTTP failures) kept per kind and attempt.
pub const NOTES_KEPT: usize = 8;
/// Longest text kept from an event (bodies, errors, warnings), in characters.
pub const TEXT_KEPT: usize = 300;
/// Longest SDP parsed (the engine already truncates; this bounds the work per event).
const SDP_KEPT: usize = 64 * 1024;

/// `s` cut to [`TEXT_KEPT`] characters (an ellipsis marks a cut).
pub fn cut(s: &str) -> String {
    let mut out: String = s.chars().take(TEXT_KEPT).collect();
    if s.chars().nth(TEXT_KEPT).is_some() {
        out.push('…');
    }
    out
}

/// Push onto a capped list (later items beyond the cap are dropped: the first ones explain most).
fn push_capped<T>(v: &mut Vec<T>, item: T, cap: usize) {
    if v.len() < cap {
        v.push(item);
    }
}

/// A failed HTTP exchange (WHEP) or WebSocket upgrade.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpFailure {
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
pub struct PostAnswer {
    /// Status.
    pub status: u16,
    /// Time from request to complete response.
    pub elapsed_ms: f64,
    /// Session time of the response.
    pub t_ms: f64,
}

/// How the signaling socket closed.
#[derive(Debug, Clone, PartialEq)]
pub struct Closed {
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

/// One received track's latest statistics and progress within one attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptTrack {
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
pub struct AttemptEnd {
    /// Session time of the restart event.
    pub t_ms: f64,
    /// Why.
    pub cause: RestartCause,
    /// How long it lived.
    pub lived_ms: f64,
}

impl Attempt {
    /// Fold the evidence the diagnosis needs from one event of this attempt (the panes' state is
    /// folded by `apply_to_attempt`).
    pub(super) fn observe_evidence(&mut self, t: f64, ev: &Event) {
        match ev {
            Event::SignalingConnecting { .. } => {
                self.signaling_connecting_ms.get_or_insert(t);
            }
            Event::SignalingConnected { elapsed_ms, .. } => {
                self.signaling_connected_in_ms.get_or_insert(*elapsed_ms);
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
            Event::MessageSent { kind, text, .. } => self.on_message(*kind, text, true),
            Event::MessageReceived { kind, text, .. } => {
                if matches!(kind, MessageKind::Invalid | MessageKind::Unknown) {
                    self.bad_messages = self.bad_messages.saturating_add(1);
                }
                self.on_message(*kind, text, false)
            }
            Event::HttpRequest {
                kind,
                body: Some(b),
                ..
            } => self.on_message(*kind, b, true),
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
            Event::StateChanged { kind, state } => self.on_state(t, *kind, state),
            Event::TrackAdded { .. } => self.tracks_added = self.tracks_added.saturating_add(1),
            Event::TrackStats { stats } => self.on_track_stats(t, stats),
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
            _ => {}
        }
    }

    /// The attempt ended (a `restart` naming it).
    pub(super) fn end_with(&mut self, t: f64, cause: &RestartCause, lived_ms: f64) {
        if let RestartCause::ProtocolError { error, .. } = cause {
            push_capped(&mut self.protocol_errors, cut(error), NOTES_KEPT);
        }
        self.end = Some(AttemptEnd {
            t_ms: t,
            cause: cause.clone(),
            lived_ms,
        });
    }

    fn on_message(&mut self, kind: MessageKind, text: &str, outgoing: bool) {
        match kind {
            MessageKind::Offer => {
                if let Some(s) = sdp_text(text) {
                    self.offer_summary = Some(sdp::parse(&s));
                }
            }
            MessageKind::Answer => {
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
                self.on_message(kind, body, false);
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
            StateKind::IceConnection => match s.as_str() {
                "failed" => self.ice_failed_ms = Some(t),
                "disconnected" => self.ice_disconnects = self.ice_disconnects.saturating_add(1),
                _ => {}
            },
            StateKind::Dtls => {
                if self.dtls_states.last() != Some(&s) {
                    push_capped(&mut self.dtls_states, cut(&s), NOTES_KEPT);
                }
                if s == "failed" {
                    self.dtls_failed_ms.get_or_insert(t);
                }
            }
            StateKind::PeerConnection => {
                if s == "failed" {
                    self.pc_failed_ms.get_or_insert(t);
                }
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
        let known = super::find_track(
            self.tracks.iter().map(|tr| {
                (
                    tr.stats.mid.as_str(),
                    tr.stats.kind.as_str(),
                    Some(tr.stats.ssrc),
                )
            }),
            &stats.mid,
            &stats.kind,
            Some(stats.ssrc),
        );
        if let Some(tr) = known.and_then(|i| self.tracks.get_mut(i)) {
            if stats.packets_received > tr.stats.packets_received {
                tr.progress_ms = Some(t);
            }
            tr.max_bps = tr.max_bps.max(bps);
            tr.stats = stats.clone();
            tr.last_ms = t;
        } else if self.tracks.len() < super::TRACK_CAP {
            self.tracks.push(AttemptTrack {
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

/// A grouping key for a restart cause: the variant and, where it has one, the phase or HTTP status.
pub fn cause_key(cause: &RestartCause) -> String {
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
