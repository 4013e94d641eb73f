//! The legacy WebSocket reader protocol (MediaMTX / rtsp-simple-server) as a sans-IO client.
//!
//! Order of one attempt: connect; the server sends its ICE-server list; we build the peer connection
//! and send the offer; the server sends the answer; candidates go both ways (the server's may arrive
//! before the answer: they wait for it). Anything else, or anything that does not parse, is a protocol
//! error that ends the attempt. The protocol has no ICE restart.
//!
//! Messages are parsed and written by [`crate::proto::ws`].

use std::collections::VecDeque;

use super::{
    Client, Input, OFFENDING_LIMIT, Output, PeerRequest, PeerResult, WsFrame, remote_candidate,
};
use crate::event::{ErrorSource, Event, IceServerSource, MessageKind, Phase, Protocol};
use crate::proto::ice_server::IceServerSpec;
use crate::proto::ws::{self as wsproto, CandidateMessage, SignalMessage};
use crate::sanitize::truncate_bytes;
use crate::session;

/// What an answer from the peer connection is for, in the order the requests went out.
#[derive(Debug, Clone, PartialEq)]
enum PeerWait {
    /// The offer (then send it).
    Offer,
    /// The server's answer was being applied (quoted in the error if refused).
    Answer(String),
    /// A candidate that came with or after the answer (its event follows the stack's verdict).
    Candidate(CandidateMessage, crate::event::Candidate),
    /// A candidate that waited for the answer (its event is already out).
    Buffered(CandidateMessage),
}

/// The WebSocket reader client. See the module docs.
#[derive(Debug)]
pub struct WsClient {
    url: url::Url,
    /// Where the attempt stands, as the session sees it.
    phase: Phase,
    /// The socket is open.
    open: bool,
    /// Remote candidates received before the answer was applied.
    pending_remote: Vec<CandidateMessage>,
    /// Remote candidates of the attempt, against the limits.
    budget: super::CandidateBudget,
    answer_applied: bool,
    /// mid and ufrag of our offer, for the candidate messages we send.
    local_mid: Option<String>,
    local_ufrag: Option<String>,
    /// Sends not yet confirmed: their kind and text.
    sends: VecDeque<(MessageKind, String)>,
    waits: VecDeque<PeerWait>,
    out: VecDeque<Output>,
}

impl WsClient {
    /// A client for the reader at `url` (`ws://` or `wss://`).
    pub fn new(url: url::Url) -> Self {
        Self {
            url,
            phase: Phase::Closed,
            open: false,
            pending_remote: Vec::new(),
            budget: super::CandidateBudget::default(),
            answer_applied: false,
            local_mid: None,
            local_ufrag: None,
            sends: VecDeque::new(),
            waits: VecDeque::new(),
            out: VecDeque::new(),
        }
    }

    fn emit(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }

    fn session(&mut self, i: session::Input) {
        self.out.push_back(Output::Session(i));
    }

    fn error(&mut self, source: ErrorSource, message: String, offending: Option<&str>) {
        self.emit(Event::Error {
            source,
            message,
            offending: offending.map(|o| truncate_bytes(o, OFFENDING_LIMIT).0),
        });
    }

    fn protocol_error(&mut self, message: String, offending: Option<&str>) {
        self.error(ErrorSource::Protocol, message.clone(), offending);
        self.session(session::Input::ProtocolError(message));
    }

    fn send(&mut self, kind: MessageKind, text: String) {
        if !self.open {
            return;
        }
        self.sends.push_back((kind, text.clone()));
        self.out.push_back(Output::WsSend(text));
    }

    fn peer(&mut self, request: PeerRequest, wait: PeerWait) {
        self.waits.push_back(wait);
        self.out.push_back(Output::Peer(request));
    }

    fn on_text(&mut self, text: String) {
        let size = text.len();
        let parsed = wsproto::parse_message(&text);
        let kind = match &parsed {
            Ok(m) => wsproto::kind_of(m),
            Err(e) => e.kind,
        };
        let (shown, truncated) = truncate_bytes(&text, super::EVENT_TEXT_LIMIT);
        self.emit(Event::MessageReceived {
            kind,
            size,
            text: shown,
            truncated,
        });
        let msg = match parsed {
            Ok(m) => m,
            Err(e) => {
                let message = format!("bad message from the server: {}", e.message);
                self.protocol_error(message, Some(&text));
                return;
            }
        };
        match (msg, self.phase) {
            (SignalMessage::IceServers(list), Phase::AwaitingIceServers) => {
                self.session(session::Input::IceServersReceived);
                self.phase = Phase::CreatingOffer;
                let ice_servers = list
                    .into_iter()
                    .map(|e| IceServerSpec {
                        urls: e.urls,
                        username: e.username,
                        credential: e.credential,
                        source: IceServerSource::Signaling,
                    })
                    .collect();
                self.peer(PeerRequest::CreateOffer { ice_servers }, PeerWait::Offer);
            }
            (SignalMessage::Answer { sdp }, Phase::AwaitingAnswer) => {
                self.peer(
                    PeerRequest::ApplyAnswer { sdp: sdp.clone() },
                    PeerWait::Answer(sdp),
                );
            }
            (
                SignalMessage::Candidate(c),
                Phase::AwaitingAnswer | Phase::Negotiating | Phase::Connected,
            ) => self.on_remote_candidate(c),
            (other, phase) => {
                let what = match other {
                    SignalMessage::IceServers(_) => "an ICE-server list",
                    SignalMessage::Offer { .. } => "an offer",
                    SignalMessage::Answer { .. } => "an answer",
                    SignalMessage::Candidate(_) => "a candidate",
                };
                let message = format!(
                    "unexpected {what} {}: the protocol does not allow it here",
                    phase.describe()
                );
                self.protocol_error(message, Some(&text));
            }
        }
    }

    fn on_remote_candidate(&mut self, c: CandidateMessage) {
        let line = c.candidate.trim();
        if line.is_empty() {
            // Some stacks send an empty candidate as end-of-candidates: nothing to add.
            return;
        }
        match self.budget.admit(line) {
            super::CandidateAdmission::Take => {}
            super::CandidateAdmission::DropWithWarning(w) => {
                self.emit(Event::Warning {
                    source: ErrorSource::Protocol,
                    message: w,
                });
                return;
            }
            super::CandidateAdmission::Drop => return,
        }
        match crate::proto::candidate::parse_candidate(line) {
            Ok(cand) if self.answer_applied => {
                let request = remote_candidate(
                    &c.candidate,
                    Some(&cand),
                    c.sdp_mid.clone(),
                    c.sdp_mline_index,
                    c.username_fragment.clone(),
                );
                self.peer(
                    PeerRequest::AddRemoteCandidate(request),
                    PeerWait::Candidate(c, cand),
                );
            }
            Ok(cand) => {
                self.pending_remote.push(c.clone());
                self.remote_candidate_event(&c, Some(cand), None);
            }
            // Report a malformed candidate and go on: one bad candidate is not worth a restart.
            Err(e) => self.remote_candidate_event(
                &c,
                None,
                Some(format!("candidate does not parse: {e}")),
            ),
        }
    }

    fn remote_candidate_event(
        &mut self,
        c: &CandidateMessage,
        candidate: Option<crate::event::Candidate>,
        error: Option<String>,
    ) {
        self.emit(Event::RemoteCandidate {
            candidate,
            raw: truncate_bytes(&c.candidate, OFFENDING_LIMIT).0,
            sdp_mid: c.sdp_mid.clone(),
            sdp_mline_index: c.sdp_mline_index,
            error: error.clone(),
        });
        if let Some(e) = error {
            self.error(ErrorSource::Protocol, e, Some(&c.candidate));
        }
    }

    fn on_peer(&mut self, result: PeerResult) {
        let Some(wait) = self.waits.pop_front() else {
            return;
        };
        match (wait, result) {
            (PeerWait::Offer, PeerResult::Offer(Ok(sdp))) => {
                let (mid, ufrag) = mid_and_ufrag(&sdp);
                self.local_mid = mid;
                self.local_ufrag = ufrag;
                self.send(MessageKind::Offer, wsproto::offer_message(&sdp));
            }
            (PeerWait::Offer, PeerResult::Offer(Err(e))) => {
                self.error(ErrorSource::Peer, e.to_string(), None);
                self.session(session::Input::PeerError(e.to_string()));
            }
            (PeerWait::Answer(_), PeerResult::AnswerApplied(Ok(()))) => {
                self.answer_applied = true;
                self.phase = Phase::Negotiating;
                self.session(session::Input::AnswerApplied);
                for c in std::mem::take(&mut self.pending_remote) {
                    let parsed = crate::proto::candidate::parse_candidate(c.candidate.trim()).ok();
                    let request = remote_candidate(
                        &c.candidate,
                        parsed.as_ref(),
                        c.sdp_mid.clone(),
                        c.sdp_mline_index,
                        c.username_fragment.clone(),
                    );
                    self.peer(
                        PeerRequest::AddRemoteCandidate(request),
                        PeerWait::Buffered(c),
                    );
                }
            }
            (PeerWait::Answer(sdp), PeerResult::AnswerApplied(Err(e))) => {
                self.protocol_error(e, Some(&sdp));
            }
            (PeerWait::Candidate(c, cand), PeerResult::CandidateAdded(r)) => {
                self.remote_candidate_event(&c, Some(cand), r.err());
            }
            (PeerWait::Buffered(c), PeerResult::CandidateAdded(Err(e))) => {
                self.error(ErrorSource::Peer, e, Some(&c.candidate));
            }
            (PeerWait::Buffered(_), PeerResult::CandidateAdded(Ok(()))) => {}
            // An answer that does not match the request: the driver broke the contract; drop it.
            _ => {}
        }
    }

    fn on_sent(&mut self, result: Result<(), String>) {
        let Some((kind, text)) = self.sends.pop_front() else {
            return;
        };
        match result {
            Ok(()) => {
                self.emit(Event::MessageSent {
                    kind,
                    size: text.len(),
                    text,
                });
                if kind == MessageKind::Offer {
                    self.phase = Phase::AwaitingAnswer;
                    self.session(session::Input::OfferSent);
                }
            }
            Err(e) => self.emit(Event::Warning {
                source: ErrorSource::Signaling,
                message: format!("could not send {kind:?} message: {e}"),
            }),
        }
    }

    fn on_frame(&mut self, frame: WsFrame) {
        match frame {
            WsFrame::Text(text) => self.on_text(text),
            WsFrame::Binary(len) => {
                self.emit(Event::MessageReceived {
                    kind: MessageKind::Invalid,
                    size: len,
                    text: format!("<binary frame, {len} bytes>"),
                    truncated: false,
                });
                let msg =
                    format!("binary frame of {len} bytes: the protocol uses text frames only");
                self.protocol_error(msg, None);
            }
            WsFrame::Closed {
                code,
                reason,
                error,
            } => {
                self.open = false;
                if let Some(err) = error {
                    self.emit(Event::Warning {
                        source: ErrorSource::Signaling,
                        message: format!("signaling connection ended: {err}"),
                    });
                }
                self.emit(Event::SignalingClosed {
                    phase: self.phase,
                    code,
                    reason,
                    local: false,
                });
                self.session(session::Input::SocketClosed);
            }
        }
    }
}

impl Client for WsClient {
    fn protocol(&self) -> Protocol {
        Protocol::Ws
    }

    fn handle(&mut self, input: Input) {
        match input {
            Input::Start => {
                let out = std::mem::take(&mut self.out);
                *self = Self::new(self.url.clone());
                self.out = out;
                self.phase = Phase::Connecting;
                self.out.push_back(Output::WsConnect(self.url.clone()));
            }
            Input::Close { phase } => {
                // Requests of the ending attempt are void; its events still go out.
                self.out.retain(|o| matches!(o, Output::Event(_)));
                self.waits.clear();
                self.sends.clear();
                if self.open {
                    self.open = false;
                    self.out.push_back(Output::WsClose);
                    self.emit(Event::SignalingClosed {
                        phase,
                        code: Some(1000),
                        reason: None,
                        local: true,
                    });
                }
                self.phase = Phase::Closed;
            }
            Input::WsOpened {
                http_status,
                elapsed_ms,
            } => {
                self.open = true;
                self.emit(Event::SignalingConnected {
                    http_status,
                    elapsed_ms,
                });
                self.phase = Phase::AwaitingIceServers;
                self.session(session::Input::SignalingOpened);
            }
            Input::WsConnectFailed {
                error,
                http_status,
                body,
            } => {
                self.emit(Event::SignalingFailed {
                    error: error.clone(),
                    http_status,
                    body: body.map(|b| truncate_bytes(&b, OFFENDING_LIMIT).0),
                });
                self.session(session::Input::SignalingFailed { error, http_status });
            }
            Input::WsFrame(frame) => self.on_frame(frame),
            Input::WsSent(result) => self.on_sent(result),
            Input::Peer(result) => self.on_peer(result),
            Input::LocalCandidate(line) => {
                let msg = CandidateMessage {
                    candidate: line,
                    sdp_mid: Some(self.local_mid.clone().unwrap_or_else(|| "0".into())),
                    sdp_mline_index: Some(0),
                    username_fragment: self.local_ufrag.clone(),
                };
                self.send(MessageKind::Candidate, wsproto::candidate_message(&msg));
            }
            Input::PeerConnected => {
                if matches!(self.phase, Phase::Closed | Phase::Connecting) {
                    return;
                }
                self.phase = Phase::Connected;
            }
            Input::IceRestart { .. } => self.emit(Event::Warning {
                source: ErrorSource::Signaling,
                message: "the WebSocket protocol has no way to renegotiate ICE: press r for a full restart".into(),
            }),
            // Not this protocol's.
            Input::GatheringComplete | Input::HttpResponse { .. } | Input::HttpFailed { .. } => {}
        }
    }

    fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }
}

/// First `a=mid:` and `a=ice-ufrag:` of an SDP.
fn mid_and_ufrag(sdp: &str) -> (Option<String>, Option<String>) {
    let find = |prefix: &str| {
        sdp.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(|v| v.trim().to_owned()))
    };
    (find("a=mid:"), find("a=ice-ufrag:"))
}

#[cfg(test)]
mod tests;
