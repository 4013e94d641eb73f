//! The pure reducer over the event stream (`Model::apply`), shared by the TUI and the headless reporter.
//!
//! [`Model`] holds everything the panes show, built only from [`Stamped`] events:
//! - session-wide history: signaling log, restarts, errors/warnings, selected-pair changes, tracks
//!   with their bitrate history (all bounded rings that keep a total count);
//! - the [`Attempt`] in progress: phase timeline, states, ICE servers, candidates, the checklist and
//!   the selected pair.
//!
//! Events stamped with an attempt older than the current one are recorded in the session logs but
//! never touch the current attempt's state (a late callback of a torn-down peer connection must not
//! make the new attempt look connected). Memory is bounded whatever the session length.

pub mod evidence;
pub mod ring;
pub mod sdp;

use crate::event::{
    Candidate, CandidatePair, CandidateType, Direction, EndReason, ErrorSource, Event,
    IceServerInfo, LocalAddress, MessageKind, PairEnd, Phase, Protocol, RelayProtocol,
    RestartCause, SkippedIceServer, Stamped, StateKind, TrackStats, TurnTransportStage,
};

pub use evidence::{AttemptEnd, AttemptTrack, Closed, HttpFailure, PostAnswer, cause_key, cut};
pub use ring::Ring;

/// Signaling log entries kept (the total count is kept beyond).
pub const MESSAGE_CAP: usize = 2000;
/// Errors and warnings kept.
pub const LOG_CAP: usize = 1000;
/// Restarts kept.
pub const RESTART_CAP: usize = 1000;
/// Local (and, separately, remote) candidates kept per attempt.
pub const CANDIDATE_CAP: usize = 256;
/// Candidate pairs kept per attempt.
pub const PAIR_CAP: usize = 256;
/// Candidate pairs kept with each restart entry (the checklist of the attempt that ended).
pub const RESTART_CHECKLIST_CAP: usize = 64;
/// Bitrate samples kept per track (15 minutes at 1 Hz).
pub const BITRATE_HISTORY_CAP: usize = 900;
/// RTT samples kept for the selected pair.
pub const RTT_HISTORY_CAP: usize = 300;
/// Selected-pair changes kept.
pub const PAIR_CHANGE_CAP: usize = 200;
/// Tracks kept (one per media section; more is a malicious or broken peer).
pub const TRACK_CAP: usize = 16;
/// ICE servers (and, separately, skipped ones) kept per attempt.
pub const ICE_SERVER_CAP: usize = 32;
/// Local (gathering) addresses kept per attempt.
pub const LOCAL_ADDRESS_CAP: usize = 64;

/// A step of an attempt's negotiation, in the order it normally happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Milestone {
    /// The signaling connection opened.
    SignalingConnected,
    /// The ICE-server list arrived.
    IceServers,
    /// The offer was sent.
    Offer,
    /// The answer arrived.
    Answer,
    /// The first local candidate was gathered.
    FirstLocalCandidate,
    /// The first remote candidate arrived.
    FirstRemoteCandidate,
    /// ICE started checking.
    IceChecking,
    /// ICE connected.
    IceConnected,
    /// DTLS connected.
    DtlsConnected,
    /// The first RTP packet arrived.
    FirstMedia,
}

impl Milestone {
    /// Every milestone, in timeline order.
    pub const ALL: [Milestone; 10] = [
        Milestone::SignalingConnected,
        Milestone::IceServers,
        Milestone::Offer,
        Milestone::Answer,
        Milestone::FirstLocalCandidate,
        Milestone::FirstRemoteCandidate,
        Milestone::IceChecking,
        Milestone::IceConnected,
        Milestone::DtlsConnected,
        Milestone::FirstMedia,
    ];

    /// A short label for the timeline.
    pub fn label(self) -> &'static str {
        match self {
            Milestone::SignalingConnected => "signaling",
            Milestone::IceServers => "ice-servers",
            Milestone::Offer => "offer",
            Milestone::Answer => "answer",
            Milestone::FirstLocalCandidate => "local cand",
            Milestone::FirstRemoteCandidate => "remote cand",
            Milestone::IceChecking => "checking",
            Milestone::IceConnected => "ICE",
            Milestone::DtlsConnected => "DTLS",
            Milestone::FirstMedia => "media",
        }
    }

    fn idx(self) -> usize {
        self as usize
    }
}

/// When each milestone of an attempt was reached (session `t_ms`), the first time only.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    times: [Option<f64>; 10],
}

impl Timeline {
    /// When `m` was reached.
    pub fn get(&self, m: Milestone) -> Option<f64> {
        self.times[m.idx()]
    }

    fn reach(&mut self, m: Milestone, t_ms: f64) {
        self.times[m.idx()].get_or_insert(t_ms);
    }

    /// The last milestone reached, in timeline order.
    pub fn latest(&self) -> Option<Milestone> {
        Milestone::ALL
            .iter()
            .rev()
            .copied()
            .find(|m| self.get(*m).is_some())
    }
}

/// What is being tested (from `session_started`).
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Target URL (credentials masked by the engine).
    pub target: String,
    /// Signaling protocol.
    pub protocol: Protocol,
    /// Wall-clock time at `t_ms = 0` (RFC 3339).
    pub wall_clock: String,
    /// Unix time in ms at `t_ms = 0`.
    pub unix_ms: u64,
    /// rtcscope version of the engine.
    pub version: String,
}

/// What a signaling-log entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    /// Opening the connection.
    Connecting,
    /// The connection opened.
    Open,
    /// The connection could not be opened.
    Failed,
    /// The connection closed.
    Close,
    /// A message.
    Message(MessageKind),
}

impl SignalKind {
    /// A short label (`ice-servers`, `offer`, `answer`, `candidate`, `error`, `close`, …).
    pub fn label(self) -> &'static str {
        match self {
            SignalKind::Connecting => "connect",
            SignalKind::Open => "open",
            SignalKind::Failed => "error",
            SignalKind::Close => "close",
            SignalKind::Message(k) => match k {
                MessageKind::IceServers => "ice-servers",
                MessageKind::Offer => "offer",
                MessageKind::Answer => "answer",
                MessageKind::Candidate => "candidate",
                MessageKind::Unknown => "unknown",
                MessageKind::Invalid => "invalid",
                MessageKind::Sdpfrag => "sdpfrag",
                MessageKind::Empty => "http",
                MessageKind::ErrorBody => "error",
            },
        }
    }
}

/// One line of the signaling log: a message sent or received, or a connection event.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalEntry {
    /// Stream position of the event.
    pub seq: u64,
    /// Session time.
    pub t_ms: f64,
    /// Attempt it belongs to.
    pub attempt: u32,
    /// Direction for messages; `None` for connection events.
    pub dir: Option<Direction>,
    /// What it is.
    pub kind: SignalKind,
    /// Size in bytes (messages), 0 otherwise.
    pub size: usize,
    /// The raw text (messages) or a description (connection events). Unsanitised.
    pub text: String,
    /// Whether the engine truncated `text`.
    pub truncated: bool,
}

/// State of the signaling connection of an attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum SignalingStatus {
    /// Dialling `url`.
    Connecting {
        /// URL dialled.
        url: String,
    },
    /// Open.
    Connected {
        /// HTTP status of the upgrade.
        http_status: u16,
        /// Time to open.
        elapsed_ms: f64,
    },
    /// Could not open.
    Failed {
        /// The error.
        error: String,
        /// HTTP status, if any.
        http_status: Option<u16>,
    },
    /// Closed.
    Closed {
        /// Phase when it closed.
        phase: Phase,
        /// WebSocket close code.
        code: Option<u16>,
        /// Close reason.
        reason: Option<String>,
        /// Whether this side closed it.
        local: bool,
    },
}

/// The current value of each state machine (W3C names).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct States {
    /// Signaling state.
    pub signaling: Option<String>,
    /// ICE gathering state.
    pub ice_gathering: Option<String>,
    /// ICE connection state.
    pub ice_connection: Option<String>,
    /// DTLS transport state.
    pub dtls: Option<String>,
    /// Peer connection state.
    pub peer_connection: Option<String>,
}

impl States {
    /// The state of one machine.
    pub fn get(&self, kind: StateKind) -> Option<&str> {
        match kind {
            StateKind::Signaling => self.signaling.as_deref(),
            StateKind::IceGathering => self.ice_gathering.as_deref(),
            StateKind::IceConnection => self.ice_connection.as_deref(),
            StateKind::Dtls => self.dtls.as_deref(),
            StateKind::PeerConnection => self.peer_connection.as_deref(),
        }
    }

    fn set(&mut self, kind: StateKind, state: &str) {
        let slot = match kind {
            StateKind::Signaling => &mut self.signaling,
            StateKind::IceGathering => &mut self.ice_gathering,
            StateKind::IceConnection => &mut self.ice_connection,
            StateKind::Dtls => &mut self.dtls,
            StateKind::PeerConnection => &mut self.peer_connection,
        };
        *slot = Some(state.to_string());
    }
}

/// The ICE servers of an attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct IceServers {
    /// In use (credentials masked by the engine).
    pub servers: Vec<IceServerInfo>,
    /// Skipped, with the reason.
    pub skipped: Vec<SkippedIceServer>,
    /// `all` or `relay`.
    pub policy: String,
}

/// A local candidate and when it was gathered.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalCandidate {
    /// The candidate.
    pub candidate: Candidate,
    /// Session time it was gathered.
    pub t_ms: f64,
}

/// A remote candidate as received.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteCandidate {
    /// Parsed, when it parsed.
    pub candidate: Option<Candidate>,
    /// The line as received (unsanitised).
    pub raw: String,
    /// `sdpMid`.
    pub sdp_mid: Option<String>,
    /// Why it was rejected, if it was.
    pub error: Option<String>,
    /// Session time it arrived.
    pub t_ms: f64,
}

/// The selected candidate pair of the current attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectedPair {
    /// The pair, kept up to date from the checklist.
    pub pair: CandidatePair,
    /// Session time it became selected.
    pub since_ms: f64,
    /// Selection changes in this attempt (from the engine).
    pub changes: u32,
    /// RTT samples `(t_ms, rtt_ms)`.
    pub rtt: Ring<(f64, f64)>,
}

impl SelectedPair {
    /// Latest RTT in ms.
    pub fn current_rtt_ms(&self) -> Option<f64> {
        self.pair
            .current_rtt_ms
            .or_else(|| self.rtt.last().map(|s| s.1))
    }

    /// Average RTT in ms (total RTT over responses received, as the W3C stats define it).
    pub fn avg_rtt_ms(&self) -> Option<f64> {
        avg_rtt_ms(&self.pair).or_else(|| {
            (!self.rtt.is_empty())
                .then(|| self.rtt.iter().map(|s| s.1).sum::<f64>() / self.rtt.len() as f64)
        })
    }
}

/// One row of an attempt's checklist: the pair and when its state last changed.
#[derive(Debug, Clone, PartialEq)]
pub struct PairRow {
    /// The pair, latest: state and nomination from the transition events, counters from the summaries.
    pub pair: CandidatePair,
    /// Session time of its last state change (or of when it was first seen).
    pub state_since_ms: f64,
}

/// Totals over the checklist of the current ICE generation (pairs marked `stale` left out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChecklistTally {
    /// Pairs.
    pub pairs: usize,
    /// Pairs in state `failed`.
    pub failed: usize,
    /// Pairs in state `succeeded`.
    pub succeeded: usize,
    /// Pairs still `waiting` or `in-progress`.
    pub pending: usize,
    /// STUN checks (binding requests) sent over all pairs.
    pub requests_sent: u64,
    /// STUN binding requests received over all pairs.
    pub requests_received: u64,
    /// STUN responses received over all pairs.
    pub responses_received: u64,
    /// Pairs of an earlier ICE generation, left out of the above.
    pub stale: usize,
}

impl ChecklistTally {
    /// The tally of `rows`.
    pub fn of(rows: &[PairRow]) -> Self {
        let mut t = ChecklistTally::default();
        for r in rows {
            let p = &r.pair;
            if p.stale {
                t.stale += 1;
                continue;
            }
            t.pairs += 1;
            match p.state.as_str() {
                "failed" => t.failed += 1,
                "succeeded" => t.succeeded += 1,
                _ => t.pending += 1,
            }
            t.requests_sent += p.requests_sent;
            t.requests_received += p.requests_received;
            t.responses_received += p.responses_received;
        }
        t
    }

    /// In words: "12 pairs, 96 checks sent, 0 responses; every pair failed".
    pub fn describe(&self) -> String {
        let plural =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut s = format!(
            "{}, {} sent, {}",
            plural(self.pairs as u64, "pair", "pairs"),
            plural(self.requests_sent, "check", "checks"),
            plural(self.responses_received, "response", "responses"),
        );
        if self.pairs > 0 && self.failed == self.pairs {
            s.push_str("; every pair failed");
        } else if self.pairs > 0 {
            s.push_str(&format!(
                "; {} succeeded, {} failed, {} pending",
                self.succeeded, self.failed, self.pending
            ));
        }
        s
    }
}

/// Average RTT of a pair in ms, when it has responses.
pub fn avg_rtt_ms(p: &CandidatePair) -> Option<f64> {
    (p.responses_received > 0 && p.total_rtt_ms > 0.0)
        .then(|| p.total_rtt_ms / p.responses_received as f64)
}

/// A change of the selected pair.
#[derive(Debug, Clone, PartialEq)]
pub struct PairChange {
    /// Session time.
    pub t_ms: f64,
    /// Attempt.
    pub attempt: u32,
    /// The engine's change count in the attempt.
    pub changes: u32,
    /// Stats id of the new pair.
    pub pair_id: String,
    /// Local end.
    pub local: Option<PairEnd>,
    /// Remote end.
    pub remote: Option<PairEnd>,
}

/// The first RTP packet of an attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct FirstMedia {
    /// Session time.
    pub t_ms: f64,
    /// `video` / `audio`.
    pub kind: String,
    /// SSRC.
    pub ssrc: u32,
    /// Payload type.
    pub payload_type: u8,
}

/// DTLS/SRTP details.
#[derive(Debug, Clone, PartialEq)]
pub struct Transport {
    /// DTLS role.
    pub dtls_role: String,
    /// TLS version.
    pub tls_version: String,
    /// DTLS cipher.
    pub dtls_cipher: String,
    /// SRTP profile.
    pub srtp_cipher: String,
}

/// Everything about one attempt (restart generation).
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// Attempt number (0 before the first).
    pub number: u32,
    /// Session time it started.
    pub started_ms: f64,
    /// Phase timeline.
    pub timeline: Timeline,
    /// Current states.
    pub states: States,
    /// Signaling connection state.
    pub signaling: Option<SignalingStatus>,
    /// ICE servers.
    pub ice_servers: Option<IceServers>,
    /// The local addresses host candidates are gathered on (bounded by [`LOCAL_ADDRESS_CAP`]).
    pub local_addresses: Vec<LocalAddress>,
    /// Local candidates (bounded; see `local_total`).
    pub local_candidates: Ring<LocalCandidate>,
    /// Remote candidates (bounded).
    pub remote_candidates: Ring<RemoteCandidate>,
    /// When local gathering completed.
    pub gathering_complete_ms: Option<f64>,
    /// The latest checklist (bounded by [`PAIR_CAP`]), in the order the stack lists it.
    pub pairs: Vec<PairRow>,
    /// The selected pair.
    pub selected: Option<SelectedPair>,
    /// First media.
    pub first_media: Option<FirstMedia>,
    /// DTLS/SRTP details.
    pub transport: Option<Transport>,
    /// SDP of the offer sent.
    pub offer_sdp: Option<String>,
    /// SDP of the answer received.
    pub answer_sdp: Option<String>,
    /// When the peer connection reached `connected` (first time).
    pub connected_ms: Option<f64>,
    /// ICE restarts within the attempt (WHEP).
    pub ice_restarts: u32,
    /// When the last ICE restart began.
    pub last_ice_restart_ms: Option<f64>,
    /// Local candidates gathered, by type (host, srflx, prflx, relay), beyond the kept ones too.
    pub local_type_counts: [u32; 4],
    /// Remote candidates accepted, by type (host, srflx, prflx, relay), beyond the kept ones too.
    pub remote_type_counts: [u32; 4],
    /// Remote candidates that did not parse or that the stack rejected.
    pub remote_rejected: u32,

    // The evidence the diagnosis needs (folded in `evidence.rs`).
    /// How it ended (a restart naming it), once it has.
    pub end: Option<AttemptEnd>,
    /// When the signaling connection began opening.
    pub signaling_connecting_ms: Option<f64>,
    /// How long the signaling connection took to open.
    pub signaling_connected_in_ms: Option<f64>,
    /// Signaling failures (error, HTTP status, body), capped.
    pub signaling_failed: Vec<(String, Option<u16>, Option<String>)>,
    /// The close of the signaling socket.
    pub closed: Option<Closed>,
    /// HTTP failures (status ≥ 400 on the POST/OPTIONS of the offer, or a WebSocket upgrade), capped.
    pub http_failures: Vec<HttpFailure>,
    /// HTTP requests that got no response (method, error), capped.
    pub http_unanswered: Vec<(String, String)>,
    /// The POST that carried the offer, as answered.
    pub post: Option<PostAnswer>,
    /// The offer, summarised, until the answer (then dropped).
    pub offer_summary: Option<sdp::SdpSummary>,
    /// The answer's candidate lines count (WHEP answers carry them in the SDP).
    pub answer_candidates: usize,
    /// Per offered m-line, what the answer did (set when the answer arrives).
    pub sections: Vec<sdp::SectionOutcome>,
    /// When ICE failed (latest).
    pub ice_failed_ms: Option<f64>,
    /// ICE `disconnected` transitions.
    pub ice_disconnects: u32,
    /// DTLS states seen, in order, without repeats (capped).
    pub dtls_states: Vec<String>,
    /// When DTLS failed.
    pub dtls_failed_ms: Option<f64>,
    /// When the peer connection failed.
    pub pc_failed_ms: Option<f64>,
    /// Tracks announced by the stack.
    pub tracks_added: u32,
    /// Received tracks' statistics and progress in this attempt (capped).
    pub tracks: Vec<AttemptTrack>,
    /// Stack warnings about TURN (capped, cut).
    pub turn_warnings: Vec<String>,
    /// TCP/TLS connections to TURN servers that failed or dropped in this attempt (capped).
    pub turn_transport_failures: Vec<TurnTransportFailure>,
    /// Stack warnings that ICE had no candidate pair to check.
    pub no_pairs_warning: bool,
    /// Other stack messages about DTLS (capped, cut).
    pub dtls_notes: Vec<String>,
    /// Protocol errors: what was wrong (capped, cut).
    pub protocol_errors: Vec<String>,
    /// Signaling messages of a kind the protocol does not have, or invalid.
    pub bad_messages: u32,
    /// The viewer's receive buffers: (sockets, wanted, smallest granted, `rmem_max`), once known.
    pub receive_buffers: Option<(u32, u64, u64, Option<u64>)>,
    /// Datagrams this host dropped in its own receive buffers (cumulative).
    pub host_drops: u64,
}

/// A TCP or TLS connection to a TURN server that failed or dropped (`turn_transport_failed`).
#[derive(Debug, Clone, PartialEq)]
pub struct TurnTransportFailure {
    /// Session time.
    pub t_ms: f64,
    /// The TURN URL (no credentials).
    pub url: String,
    /// `tcp` or `tls`.
    pub relay_protocol: RelayProtocol,
    /// Where it failed.
    pub stage: TurnTransportStage,
    /// The error in words (cut).
    pub error: String,
}

impl TurnTransportFailure {
    /// One line: `TURN over TLS to turns:h:443: TLS handshake failed: certificate rejected: …`.
    pub fn describe(&self) -> String {
        let what = match self.stage {
            TurnTransportStage::Connect => "connection failed",
            TurnTransportStage::Tls => "TLS handshake failed",
            TurnTransportStage::Dropped => "connection dropped",
        };
        format!(
            "TURN over {} to {}: {what}: {}",
            self.relay_protocol.as_str().to_ascii_uppercase(),
            self.url,
            self.error
        )
    }
}

impl Attempt {
    /// Totals over the checklist of the current ICE generation.
    pub fn checklist_tally(&self) -> ChecklistTally {
        ChecklistTally::of(&self.pairs)
    }

    fn new(number: u32, started_ms: f64) -> Self {
        Attempt {
            number,
            started_ms,
            timeline: Timeline::default(),
            states: States::default(),
            signaling: None,
            ice_servers: None,
            local_candidates: Ring::new(CANDIDATE_CAP),
            remote_candidates: Ring::new(CANDIDATE_CAP),
            gathering_complete_ms: None,
            pairs: Vec::new(),
            selected: None,
            first_media: None,
            local_addresses: Vec::new(),
            transport: None,
            offer_sdp: None,
            answer_sdp: None,
            connected_ms: None,
            ice_restarts: 0,
            last_ice_restart_ms: None,
            local_type_counts: [0; 4],
            remote_type_counts: [0; 4],
            remote_rejected: 0,
            end: None,
            signaling_connecting_ms: None,
            signaling_connected_in_ms: None,
            signaling_failed: Vec::new(),
            closed: None,
            http_failures: Vec::new(),
            http_unanswered: Vec::new(),
            post: None,
            offer_summary: None,
            answer_candidates: 0,
            sections: Vec::new(),
            ice_failed_ms: None,
            ice_disconnects: 0,
            dtls_states: Vec::new(),
            dtls_failed_ms: None,
            pc_failed_ms: None,
            tracks_added: 0,
            tracks: Vec::new(),
            turn_warnings: Vec::new(),
            turn_transport_failures: Vec::new(),
            no_pairs_warning: false,
            dtls_notes: Vec::new(),
            protocol_errors: Vec::new(),
            bad_messages: 0,
            receive_buffers: None,
            host_drops: 0,
        }
    }

    /// Local candidates that the ICE server URL `url` produced (matching the candidate's `url`).
    pub fn produced_by<'a>(&'a self, url: &'a str) -> impl Iterator<Item = &'a LocalCandidate> {
        self.local_candidates
            .iter()
            .filter(move |c| c.candidate.url.as_deref().is_some_and(|u| same_url(u, url)))
    }

    /// Time of the offer, the reference for candidate gathering times.
    pub fn offer_ms(&self) -> Option<f64> {
        self.timeline.get(Milestone::Offer)
    }

    /// Local candidate counts by type (host, srflx, prflx, relay), all gathered.
    pub fn local_counts(&self) -> [usize; 4] {
        self.local_type_counts.map(|n| n as usize)
    }

    /// Remote candidate counts by type (host, srflx, prflx, relay), accepted ones only.
    pub fn remote_counts(&self) -> [usize; 4] {
        self.remote_type_counts.map(|n| n as usize)
    }

    /// Local candidates of a type, all gathered.
    pub fn local_count(&self, t: CandidateType) -> u32 {
        self.local_type_counts[type_index(t)]
    }

    /// Local candidates in total.
    pub fn local_total(&self) -> u32 {
        self.local_type_counts.iter().sum()
    }

    /// Remote candidates in total (accepted or not), in trickle and in the answer.
    pub fn remote_total(&self) -> u32 {
        self.remote_type_counts.iter().sum::<u32>() + self.remote_rejected
    }

    /// The local candidates kept.
    pub fn local(&self) -> impl Iterator<Item = &Candidate> + Clone {
        self.local_candidates.iter().map(|c| &c.candidate)
    }

    /// The remote candidates kept that parsed and were accepted.
    pub fn remote(&self) -> impl Iterator<Item = &Candidate> + Clone {
        self.remote_candidates
            .iter()
            .filter(|c| c.error.is_none())
            .filter_map(|c| c.candidate.as_ref())
    }

    /// Whether anything happened in it yet.
    pub fn is_empty(&self) -> bool {
        self.signaling_connecting_ms.is_none()
            && self.signaling_failed.is_empty()
            && self.end.is_none()
            && self.offer_ms().is_none()
    }

    /// When the signaling connection opened, and how long that took.
    pub fn signaling_connected(&self) -> Option<(f64, f64)> {
        Some((
            self.timeline.get(Milestone::SignalingConnected)?,
            self.signaling_connected_in_ms.unwrap_or(0.0),
        ))
    }

    /// When the ICE-server list arrived (WebSocket) or the servers were known (WHEP).
    pub fn ice_servers_ms(&self) -> Option<f64> {
        self.timeline.get(Milestone::IceServers)
    }

    /// When the answer came (a WHEP 406 counter-offer counts: the server answered with its own offer).
    pub fn answer_ms(&self) -> Option<f64> {
        self.timeline.get(Milestone::Answer)
    }

    /// When the first local candidate was gathered.
    pub fn first_local_ms(&self) -> Option<f64> {
        self.timeline.get(Milestone::FirstLocalCandidate)
    }

    /// When ICE started checking.
    pub fn ice_checking_ms(&self) -> Option<f64> {
        self.timeline.get(Milestone::IceChecking)
    }

    /// When ICE first connected (`connected` or `completed`).
    pub fn ice_connected_ms(&self) -> Option<f64> {
        self.timeline.get(Milestone::IceConnected)
    }

    /// When DTLS connected.
    pub fn dtls_connected_ms(&self) -> Option<f64> {
        self.timeline.get(Milestone::DtlsConnected)
    }

    /// The ICE servers in use.
    pub fn servers(&self) -> &[IceServerInfo] {
        self.ice_servers.as_ref().map_or(&[], |s| &s.servers)
    }

    /// The ICE servers this stack cannot use.
    pub fn skipped(&self) -> &[SkippedIceServer] {
        self.ice_servers.as_ref().map_or(&[], |s| &s.skipped)
    }

    /// `all` or `relay`; empty until known.
    pub fn policy(&self) -> &str {
        self.ice_servers.as_ref().map_or("", |s| &s.policy)
    }

    /// Whether an `ice_servers` event came at all.
    pub fn ice_servers_known(&self) -> bool {
        self.ice_servers.is_some()
    }

    /// The selected candidate pair, latest.
    pub fn selected_pair(&self) -> Option<&CandidatePair> {
        self.selected.as_ref().map(|s| &s.pair)
    }

    /// Whether the answer arrived.
    pub fn answered(&self) -> bool {
        self.answer_ms().is_some()
    }

    /// Whether ICE connected (the peer connection connecting implies it).
    pub fn ice_connected(&self) -> bool {
        self.ice_connected_ms().is_some() || self.connected()
    }

    /// Whether the peer connection (DTLS included) connected: the one definition of "connected".
    pub fn connected(&self) -> bool {
        self.connected_ms.is_some()
    }

    /// Whether media arrived: the first RTP packet, or statistics counting received packets. The one
    /// definition of "media received".
    pub fn media(&self) -> bool {
        self.first_media.is_some() || self.tracks.iter().any(|t| t.stats.packets_received > 0)
    }
}

/// Index of a candidate type in the count arrays (host, srflx, prflx, relay).
pub fn type_index(t: CandidateType) -> usize {
    match t {
        CandidateType::Host => 0,
        CandidateType::Srflx => 1,
        CandidateType::Prflx => 2,
        CandidateType::Relay => 3,
    }
}

/// Track identity, the one definition: among `known` tracks (mid, kind, SSRC), the index of the one a
/// report of (`mid`, `kind`, `ssrc`) is about: the same media section; else the same SSRC; else a track
/// of the same kind whose mid one side does not know (`track_added` may come without a mid, stats always
/// have one).
pub fn find_track<'a>(
    known: impl Iterator<Item = (&'a str, &'a str, Option<u32>)> + Clone,
    mid: &str,
    kind: &str,
    ssrc: Option<u32>,
) -> Option<usize> {
    known
        .clone()
        .position(|(m, _, _)| !mid.is_empty() && m == mid)
        .or_else(|| ssrc.and_then(|s| known.clone().position(|(_, _, x)| x == Some(s))))
        .or_else(|| {
            known
                .clone()
                .position(|(m, k, _)| k == kind && (m.is_empty() || mid.is_empty()))
        })
}

/// Whether two ICE server URLs name the same server (ignoring a `?transport=` query and case).
pub fn same_url(a: &str, b: &str) -> bool {
    let base = |s: &str| s.split('?').next().unwrap_or(s).to_ascii_lowercase();
    a.eq_ignore_ascii_case(b) || base(a) == base(b)
}

/// A received track (one per media section, kept across attempts so its bitrate history spans restarts).
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    /// `video` / `audio`.
    pub kind: String,
    /// Media section id.
    pub mid: String,
    /// Track id from the SDP.
    pub track_id: Option<String>,
    /// SSRC.
    pub ssrc: Option<u32>,
    /// The attempt that last reported on it.
    pub attempt: u32,
    /// The latest statistics.
    pub stats: Option<TrackStats>,
    /// Session time of `stats`.
    pub stats_ms: Option<f64>,
    /// Bitrate samples `(t_ms, bps)`, bounded.
    pub history: Ring<(f64, f64)>,
}

impl Track {
    /// Packet loss in percent of packets expected, when stats exist (negative loss counts as 0).
    pub fn loss_pct(&self) -> Option<f64> {
        let s = self.stats.as_ref()?;
        let lost = s.packets_lost.max(0) as f64;
        let expected = s.packets_received as f64 + lost;
        Some(if expected > 0.0 {
            lost * 100.0 / expected
        } else {
            0.0
        })
    }
}

/// One restart.
#[derive(Debug, Clone, PartialEq)]
pub struct RestartEntry {
    /// Session time of the restart.
    pub t_ms: f64,
    /// The attempt that ended.
    pub ended_attempt: u32,
    /// Why.
    pub cause: RestartCause,
    /// `cause.describe()`.
    pub cause_text: String,
    /// How long the attempt lived.
    pub lived_ms: f64,
    /// Whether it had connected.
    pub had_connected: bool,
    /// Pause before the next attempt.
    pub pause_ms: f64,
    /// Time from this restart to the next `connected`, once that happened.
    pub reconnect_ms: Option<f64>,
    /// The checklist of the attempt that ended, as it was (first [`RESTART_CHECKLIST_CAP`] pairs).
    pub checklist: Vec<PairRow>,
    /// Stats id of its selected pair, if it had one.
    pub selected_pair_id: Option<String>,
}

/// Severity of a log entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// An error.
    Error,
    /// A warning.
    Warning,
    /// Information (a protocol detail, an ICE restart).
    Info,
}

/// An error or a warning.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// Stream position.
    pub seq: u64,
    /// Session time.
    pub t_ms: f64,
    /// Attempt.
    pub attempt: u32,
    /// Severity.
    pub level: Level,
    /// Source.
    pub source: ErrorSource,
    /// Message (unsanitised).
    pub message: String,
    /// Offending input (unsanitised).
    pub offending: Option<String>,
}

/// How the session ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Ended {
    /// Session time.
    pub t_ms: f64,
    /// Why.
    pub reason: EndReason,
    /// Attempts made.
    pub attempts: u32,
    /// Whether any attempt connected.
    pub ever_connected: bool,
    /// Whether media arrived.
    pub media_received: bool,
}

/// The reducer's state: everything the panes and the report show.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    session: Option<Session>,
    attempt: Attempt,
    /// The attempt before the current one (the last complete picture after a restart).
    previous: Option<Box<Attempt>>,
    /// The first time each milestone was reached in any attempt.
    ever: Timeline,
    messages: Ring<SignalEntry>,
    log: Ring<LogEntry>,
    errors: u64,
    warnings: u64,
    restarts: Ring<RestartEntry>,
    pair_changes: Ring<PairChange>,
    tracks: Vec<Track>,
    ended: Option<Ended>,
    events_applied: u64,
    stale_ignored: u64,
    last_seq: Option<u64>,
    last_t_ms: f64,
    ever_connected: bool,
    media_received: bool,
    /// ICE-server probe results, the latest per URL, transport and kind.
    probes: Vec<crate::event::probe::ProbeResult>,
}

/// Probe results kept (one per server URL and transport).
pub const PROBE_CAP: usize = 64;

impl Default for Model {
    fn default() -> Self {
        Self::new()
    }
}

impl Model {
    /// ICE-server probe results (session-wide: each server is probed once).
    pub fn probes(&self) -> &[crate::event::probe::ProbeResult] {
        &self.probes
    }

    /// An empty model (before `session_started`).
    pub fn new() -> Self {
        Model {
            session: None,
            attempt: Attempt::new(0, 0.0),
            previous: None,
            ever: Timeline::default(),
            messages: Ring::new(MESSAGE_CAP),
            log: Ring::new(LOG_CAP),
            errors: 0,
            warnings: 0,
            restarts: Ring::new(RESTART_CAP),
            pair_changes: Ring::new(PAIR_CHANGE_CAP),
            tracks: Vec::new(),
            ended: None,
            probes: Vec::new(),
            events_applied: 0,
            stale_ignored: 0,
            last_seq: None,
            last_t_ms: 0.0,
            ever_connected: false,
            media_received: false,
        }
    }

    /// A model built from a sequence of events.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Stamped>) -> Self {
        let mut m = Model::new();
        for e in events {
            m.apply(e);
        }
        m
    }

    /// What is being tested, once known.
    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// The current attempt.
    pub fn attempt(&self) -> &Attempt {
        &self.attempt
    }

    /// The attempt before the current one, once there was one (attempt 0, before the first, is not
    /// kept).
    pub fn previous_attempt(&self) -> Option<&Attempt> {
        self.previous.as_deref()
    }

    /// Whether any attempt reached `m` (an event of an older attempt does not count).
    pub fn ever_reached(&self, m: Milestone) -> bool {
        self.ever.get(m).is_some()
    }

    /// The current attempt number (0 before the first).
    pub fn attempt_number(&self) -> u32 {
        self.attempt.number
    }

    /// The signaling log (last [`MESSAGE_CAP`]; `total()` counts all).
    pub fn messages(&self) -> &Ring<SignalEntry> {
        &self.messages
    }

    /// Errors and warnings (last [`LOG_CAP`]).
    pub fn log(&self) -> &Ring<LogEntry> {
        &self.log
    }

    /// Errors seen in total.
    pub fn error_count(&self) -> u64 {
        self.errors
    }

    /// Warnings seen in total.
    pub fn warning_count(&self) -> u64 {
        self.warnings
    }

    /// Restarts (last [`RESTART_CAP`]; `total()` counts all).
    pub fn restarts(&self) -> &Ring<RestartEntry> {
        &self.restarts
    }

    /// Selected-pair changes over the session.
    pub fn pair_changes(&self) -> &Ring<PairChange> {
        &self.pair_changes
    }

    /// Received tracks.
    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    /// How the session ended, once it has.
    pub fn ended(&self) -> Option<&Ended> {
        self.ended.as_ref()
    }

    /// Session time of the latest event.
    pub fn now_ms(&self) -> f64 {
        self.last_t_ms
    }

    /// Events applied.
    pub fn events_applied(&self) -> u64 {
        self.events_applied
    }

    /// Events of an older attempt that were kept out of the current attempt's state.
    pub fn stale_ignored(&self) -> u64 {
        self.stale_ignored
    }

    /// Sequence number of the latest event.
    pub fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }

    /// Whether any attempt reached `connected`.
    pub fn ever_connected(&self) -> bool {
        self.ever_connected
    }

    /// Whether any media arrived.
    pub fn media_received(&self) -> bool {
        self.media_received
    }

    /// The SDP offer of `attempt`, from the current attempt or the signaling log.
    pub fn offer_sdp_for(&self, attempt: u32) -> Option<String> {
        if attempt == self.attempt.number
            && let Some(o) = &self.attempt.offer_sdp
        {
            return Some(o.clone());
        }
        self.messages
            .iter()
            .rev()
            .find(|m| {
                m.attempt == attempt
                    && m.kind == SignalKind::Message(MessageKind::Offer)
                    && m.dir == Some(Direction::Out)
            })
            .and_then(|m| sdp::sdp_from_message(&m.text))
    }

    /// Apply one event. Never panics, whatever the event.
    pub fn apply(&mut self, ev: &Stamped) {
        self.events_applied += 1;
        self.last_seq = Some(ev.seq);
        if ev.t_ms.is_finite() && ev.t_ms > self.last_t_ms {
            self.last_t_ms = ev.t_ms;
        }
        let t = ev.t_ms;

        // Session-wide events: never attempt-scoped.
        match &ev.event {
            Event::SessionStarted {
                target,
                protocol,
                wall_clock,
                unix_ms,
                version,
                ..
            } => {
                self.session = Some(Session {
                    target: target.clone(),
                    protocol: *protocol,
                    wall_clock: wall_clock.clone(),
                    unix_ms: *unix_ms,
                    version: version.clone(),
                });
                return;
            }
            Event::AttemptStarted { attempt } => {
                let n = (*attempt).max(ev.attempt);
                if n > self.attempt.number {
                    self.start_attempt(n, t);
                } else {
                    self.stale_ignored += 1;
                }
                return;
            }
            Event::Restart {
                cause,
                ended_attempt,
                lived_ms,
                had_connected,
                pause_ms,
            } => {
                let ended = if *ended_attempt == self.attempt.number {
                    Some(&self.attempt)
                } else {
                    self.previous
                        .as_deref()
                        .filter(|p| p.number == *ended_attempt)
                };
                let checklist = ended.map_or_else(Vec::new, |a| {
                    a.pairs
                        .iter()
                        .take(RESTART_CHECKLIST_CAP)
                        .cloned()
                        .collect()
                });
                let selected_pair_id =
                    ended.and_then(|a| a.selected.as_ref().map(|s| s.pair.id.clone()));
                self.restarts.push(RestartEntry {
                    checklist,
                    selected_pair_id,
                    t_ms: t,
                    ended_attempt: *ended_attempt,
                    cause: cause.clone(),
                    cause_text: cause.describe(),
                    lived_ms: *lived_ms,
                    had_connected: *had_connected,
                    pause_ms: *pause_ms,
                    reconnect_ms: None,
                });
                let lived = if lived_ms.is_finite() { *lived_ms } else { 0.0 };
                if *ended_attempt == self.attempt.number {
                    self.attempt.end_with(t, cause, lived);
                } else if let Some(p) = self
                    .previous
                    .as_mut()
                    .filter(|p| p.number == *ended_attempt)
                {
                    p.end_with(t, cause, lived);
                }
                return;
            }
            Event::Error {
                source,
                message,
                offending,
            } => {
                self.errors += 1;
                self.log.push(LogEntry {
                    seq: ev.seq,
                    t_ms: t,
                    attempt: ev.attempt,
                    level: Level::Error,
                    source: *source,
                    message: message.clone(),
                    offending: offending.clone(),
                });
                self.attempt_evidence(ev);
                return;
            }
            Event::Warning { source, message } => {
                self.warnings += 1;
                self.log.push(LogEntry {
                    seq: ev.seq,
                    t_ms: t,
                    attempt: ev.attempt,
                    level: Level::Warning,
                    source: *source,
                    message: message.clone(),
                    offending: None,
                });
                self.attempt_evidence(ev);
                return;
            }
            Event::Info { source, message } => {
                self.log.push(LogEntry {
                    seq: ev.seq,
                    t_ms: t,
                    attempt: ev.attempt,
                    level: Level::Info,
                    source: *source,
                    message: message.clone(),
                    offending: None,
                });
                self.attempt_evidence(ev);
                return;
            }
            Event::Ended {
                reason,
                attempts,
                ever_connected,
                media_received,
            } => {
                self.ever_connected |= *ever_connected;
                self.media_received |= *media_received;
                self.ended = Some(Ended {
                    t_ms: t,
                    reason: reason.clone(),
                    attempts: *attempts,
                    ever_connected: *ever_connected,
                    media_received: *media_received,
                });
                return;
            }
            Event::TurnTransportFailed {
                url,
                relay_protocol,
                stage,
                error,
            } => {
                let f = TurnTransportFailure {
                    t_ms: t,
                    url: cut(url),
                    relay_protocol: *relay_protocol,
                    stage: *stage,
                    error: cut(error),
                };
                self.errors += 1;
                self.log.push(LogEntry {
                    seq: ev.seq,
                    t_ms: t,
                    attempt: ev.attempt,
                    level: Level::Error,
                    source: ErrorSource::Turn,
                    message: f.describe(),
                    offending: None,
                });
                if ev.attempt == self.attempt.number
                    && self.attempt.turn_transport_failures.len() < evidence::NOTES_KEPT
                {
                    self.attempt.turn_transport_failures.push(f);
                }
                return;
            }
            Event::ProbeResult { result } => {
                let same = |p: &crate::event::probe::ProbeResult| {
                    p.url == result.url && p.transport == result.transport && p.kind == result.kind
                };
                if let Some(i) = self.probes.iter().position(same) {
                    self.probes[i] = result.clone();
                } else if self.probes.len() < PROBE_CAP {
                    self.probes.push(result.clone());
                }
                return;
            }
            _ => {}
        }

        // The signaling log is session-wide history: record whatever the attempt.
        self.log_signaling(ev);
        if let Event::IceRestart { reason } = &ev.event {
            self.log.push(LogEntry {
                seq: ev.seq,
                t_ms: t,
                attempt: ev.attempt,
                level: Level::Info,
                source: ErrorSource::Peer,
                message: format!("ICE restart: {reason}"),
                offending: None,
            });
        }

        if ev.attempt < self.attempt.number {
            self.stale_ignored += 1;
            return;
        }
        if ev.attempt > self.attempt.number {
            // The attempt started without an `attempt_started` (tolerated).
            self.start_attempt(ev.attempt, t);
        }
        self.apply_to_attempt(ev);
        self.attempt.observe_evidence(t, &ev.event);
        for m in Milestone::ALL {
            if let Some(at) = self.attempt.timeline.get(m) {
                self.ever.reach(m, at);
            }
        }
    }

    /// The diagnosis evidence of a session-wide event (an error, warning or note) that concerns the
    /// current attempt; an older attempt's is left out, as for every attempt-scoped event.
    fn attempt_evidence(&mut self, ev: &Stamped) {
        if ev.attempt == self.attempt.number {
            self.attempt.observe_evidence(ev.t_ms, &ev.event);
        }
    }

    /// Start attempt `n` at `t`, keeping the one that ends as the previous attempt.
    fn start_attempt(&mut self, n: u32, t: f64) {
        let done = std::mem::replace(&mut self.attempt, Attempt::new(n, t));
        if done.number > 0 {
            self.previous = Some(Box::new(done));
        }
    }

    fn log_signaling(&mut self, ev: &Stamped) {
        let (dir, kind, size, text, truncated) = match &ev.event {
            Event::SignalingConnecting { url } => (
                None,
                SignalKind::Connecting,
                0,
                format!("connecting to {url}"),
                false,
            ),
            Event::SignalingConnected {
                http_status,
                elapsed_ms,
            } => (
                None,
                SignalKind::Open,
                0,
                format!("open (HTTP {http_status}) in {elapsed_ms:.0} ms"),
                false,
            ),
            Event::SignalingFailed {
                error,
                http_status,
                body,
            } => {
                let mut s = match http_status {
                    Some(h) => format!("failed: HTTP {h}: {error}"),
                    None => format!("failed: {error}"),
                };
                if let Some(b) = body {
                    s.push_str("\nbody: ");
                    s.push_str(b);
                }
                (None, SignalKind::Failed, 0, s, false)
            }
            Event::SignalingClosed {
                phase,
                code,
                reason,
                local,
            } => {
                let mut s = format!(
                    "closed by {} {}",
                    if *local { "us" } else { "server" },
                    phase.describe()
                );
                match code {
                    Some(c) => s.push_str(&format!(", code {c}")),
                    None => s.push_str(", no close frame (1006)"),
                }
                if let Some(r) = reason.as_deref().filter(|r| !r.is_empty()) {
                    s.push_str(&format!(", reason {r:?}"));
                }
                (None, SignalKind::Close, 0, s, false)
            }
            Event::MessageSent { kind, size, text } => (
                Some(Direction::Out),
                SignalKind::Message(*kind),
                *size,
                text.clone(),
                false,
            ),
            Event::MessageReceived {
                kind,
                size,
                text,
                truncated,
            } => (
                Some(Direction::In),
                SignalKind::Message(*kind),
                *size,
                text.clone(),
                *truncated,
            ),
            Event::HttpRequest {
                method,
                url,
                headers,
                kind,
                body,
                ..
            } => {
                let mut s = format!("{method} {url}");
                for (n, v) in headers {
                    s.push_str(&format!("\n{n}: {v}"));
                }
                if let Some(b) = body {
                    s.push_str("\n\n");
                    s.push_str(b);
                }
                let size = body.as_ref().map_or(0, String::len);
                (
                    Some(Direction::Out),
                    SignalKind::Message(*kind),
                    size,
                    s,
                    false,
                )
            }
            Event::HttpResponse {
                method,
                status,
                reason,
                headers,
                kind,
                size,
                body,
                truncated,
                elapsed_ms,
                ..
            } => {
                let mut s = format!("{status} {reason} ({method}, {elapsed_ms:.0} ms)");
                for (n, v) in headers {
                    s.push_str(&format!("\n{n}: {v}"));
                }
                if !body.is_empty() {
                    s.push_str("\n\n");
                    s.push_str(body);
                }
                (
                    Some(Direction::In),
                    SignalKind::Message(*kind),
                    *size,
                    s,
                    *truncated,
                )
            }
            Event::HttpFailed {
                method,
                error,
                elapsed_ms,
                ..
            } => (
                None,
                SignalKind::Failed,
                0,
                format!("{method} failed after {elapsed_ms:.0} ms: {error}"),
                false,
            ),
            _ => return,
        };
        self.messages.push(SignalEntry {
            seq: ev.seq,
            t_ms: ev.t_ms,
            attempt: ev.attempt,
            dir,
            kind,
            size,
            text,
            truncated,
        });
    }

    fn mark_connected(&mut self, t: f64) {
        if self.attempt.connected_ms.is_some() {
            return;
        }
        self.attempt.connected_ms = Some(t);
        self.ever_connected = true;
        let current = self.attempt.number;
        for r in self.restarts.iter_mut_rev() {
            if r.reconnect_ms.is_some() {
                break;
            }
            if r.ended_attempt < current {
                r.reconnect_ms = Some((t - r.t_ms).max(0.0));
            }
        }
    }

    fn track_mut(&mut self, mid: &str, kind: &str, ssrc: Option<u32>) -> Option<&mut Track> {
        // The same media section; else the same SSRC; else a track of the same kind whose mid one
        // side does not know (`track_added` may come without a mid, stats always have one).
        let pos = find_track(
            self.tracks
                .iter()
                .map(|tr| (tr.mid.as_str(), tr.kind.as_str(), tr.ssrc)),
            mid,
            kind,
            ssrc,
        );
        if let Some(i) = pos
            && self.tracks[i].mid.is_empty()
        {
            self.tracks[i].mid = mid.to_string();
        }
        let i = match pos {
            Some(i) => i,
            None => {
                if self.tracks.len() >= TRACK_CAP {
                    return None;
                }
                self.tracks.push(Track {
                    kind: kind.to_string(),
                    mid: mid.to_string(),
                    track_id: None,
                    ssrc,
                    attempt: self.attempt.number,
                    stats: None,
                    stats_ms: None,
                    history: Ring::new(BITRATE_HISTORY_CAP),
                });
                self.tracks.len() - 1
            }
        };
        self.tracks.get_mut(i)
    }

    fn apply_to_attempt(&mut self, ev: &Stamped) {
        let t = ev.t_ms;
        let attempt_no = self.attempt.number;
        let a = &mut self.attempt;
        match &ev.event {
            Event::SignalingConnecting { url } => {
                a.signaling = Some(SignalingStatus::Connecting { url: url.clone() });
            }
            Event::SignalingConnected {
                http_status,
                elapsed_ms,
            } => {
                a.signaling = Some(SignalingStatus::Connected {
                    http_status: *http_status,
                    elapsed_ms: *elapsed_ms,
                });
                a.timeline.reach(Milestone::SignalingConnected, t);
            }
            Event::SignalingFailed {
                error, http_status, ..
            } => {
                a.signaling = Some(SignalingStatus::Failed {
                    error: error.clone(),
                    http_status: *http_status,
                });
            }
            Event::SignalingClosed {
                phase,
                code,
                reason,
                local,
            } => {
                a.signaling = Some(SignalingStatus::Closed {
                    phase: *phase,
                    code: *code,
                    reason: reason.clone(),
                    local: *local,
                });
            }
            Event::MessageSent {
                kind: MessageKind::Offer,
                text,
                ..
            } => {
                a.timeline.reach(Milestone::Offer, t);
                if a.offer_sdp.is_none() {
                    a.offer_sdp = sdp::sdp_from_message(text);
                }
            }
            Event::MessageReceived { kind, text, .. } => match kind {
                MessageKind::IceServers => a.timeline.reach(Milestone::IceServers, t),
                MessageKind::Answer => {
                    a.timeline.reach(Milestone::Answer, t);
                    if a.answer_sdp.is_none() {
                        a.answer_sdp = sdp::sdp_from_message(text);
                    }
                }
                _ => {}
            },
            Event::IceServers {
                servers,
                skipped,
                policy,
            } => {
                a.timeline.reach(Milestone::IceServers, t);
                a.ice_servers = Some(IceServers {
                    servers: servers.iter().take(ICE_SERVER_CAP).cloned().collect(),
                    skipped: skipped.iter().take(ICE_SERVER_CAP).cloned().collect(),
                    policy: cut(policy),
                });
            }
            Event::LocalAddresses { addresses } => {
                a.local_addresses = addresses
                    .iter()
                    .take(LOCAL_ADDRESS_CAP)
                    .map(|l| LocalAddress {
                        interface: cut(&l.interface),
                        address: cut(&l.address),
                        virtual_adapter: l.virtual_adapter,
                    })
                    .collect();
            }
            Event::LocalCandidate { candidate } => {
                a.timeline.reach(Milestone::FirstLocalCandidate, t);
                let i = type_index(candidate.typ);
                a.local_type_counts[i] = a.local_type_counts[i].saturating_add(1);
                a.local_candidates.push(LocalCandidate {
                    candidate: candidate.clone(),
                    t_ms: t,
                });
            }
            Event::LocalGatheringComplete => {
                a.gathering_complete_ms.get_or_insert(t);
            }
            Event::RemoteCandidate {
                candidate,
                raw,
                sdp_mid,
                error,
                ..
            } => {
                a.timeline.reach(Milestone::FirstRemoteCandidate, t);
                match (candidate, error) {
                    (Some(c), None) => {
                        let i = type_index(c.typ);
                        a.remote_type_counts[i] = a.remote_type_counts[i].saturating_add(1);
                    }
                    _ => a.remote_rejected = a.remote_rejected.saturating_add(1),
                }
                a.remote_candidates.push(RemoteCandidate {
                    candidate: candidate.clone(),
                    raw: raw.clone(),
                    sdp_mid: sdp_mid.clone(),
                    error: error.clone(),
                    t_ms: t,
                });
            }
            Event::StateChanged { kind, state } => {
                a.states.set(*kind, state);
                match (kind, state.as_str()) {
                    (StateKind::IceConnection, "checking") => {
                        a.timeline.reach(Milestone::IceChecking, t)
                    }
                    (StateKind::IceConnection, "connected" | "completed") => {
                        a.timeline.reach(Milestone::IceChecking, t);
                        a.timeline.reach(Milestone::IceConnected, t);
                    }
                    (StateKind::Dtls, "connected") => a.timeline.reach(Milestone::DtlsConnected, t),
                    (StateKind::PeerConnection, "connected") => self.mark_connected(t),
                    _ => {}
                }
            }
            Event::CandidatePairs { pairs } => {
                // An empty checklist (a torn-down agent) does not erase the last one.
                if !pairs.is_empty() {
                    let mut rows: Vec<PairRow> = Vec::with_capacity(pairs.len().min(PAIR_CAP));
                    for p in pairs.iter().take(PAIR_CAP) {
                        let since = a
                            .pairs
                            .iter()
                            .find(|r| r.pair.id == p.id)
                            .filter(|r| r.pair.state == p.state)
                            .map_or(t, |r| r.state_since_ms);
                        rows.push(PairRow {
                            pair: p.clone(),
                            state_since_ms: since,
                        });
                    }
                    a.pairs = rows;
                }
                if let Some(sel) = a.selected.as_mut()
                    && let Some(p) = pairs.iter().find(|p| p.id == sel.pair.id)
                {
                    let new_sample = p.current_rtt_ms.is_some()
                        && (p.responses_received != sel.pair.responses_received
                            || p.current_rtt_ms != sel.pair.current_rtt_ms);
                    if new_sample && let Some(rtt) = p.current_rtt_ms {
                        sel.rtt.push((t, rtt));
                    }
                    sel.pair = p.clone();
                }
            }
            Event::PairAdded { pair }
                if a.pairs.len() < PAIR_CAP && !a.pairs.iter().any(|r| r.pair.id == pair.id) =>
            {
                a.pairs.push(PairRow {
                    pair: pair.clone(),
                    state_since_ms: t,
                });
            }
            Event::PairStateChanged { id, to, .. } => {
                if let Some(r) = a.pairs.iter_mut().find(|r| &r.pair.id == id) {
                    r.pair.state = to.clone();
                    r.state_since_ms = t;
                }
            }
            Event::PairNominated { id } => {
                if let Some(r) = a.pairs.iter_mut().find(|r| &r.pair.id == id) {
                    r.pair.nominated = true;
                }
            }
            Event::PairsSuperseded { ids } => {
                for r in a.pairs.iter_mut().filter(|r| ids.contains(&r.pair.id)) {
                    r.pair.stale = true;
                }
            }
            Event::SelectedPair { pair, changes } => {
                let same = a.selected.as_ref().is_some_and(|s| s.pair.id == pair.id);
                if same {
                    if let Some(sel) = a.selected.as_mut() {
                        sel.pair = pair.clone();
                        sel.changes = *changes;
                    }
                    // The first report of a selection may lack an end (a prflx remote learned later).
                    if let Some(c) = self.pair_changes.last_mut()
                        && c.pair_id == pair.id
                        && c.attempt == attempt_no
                    {
                        c.local = c.local.take().or_else(|| pair.local.clone());
                        c.remote = c.remote.take().or_else(|| pair.remote.clone());
                    }
                } else {
                    let mut rtt = Ring::new(RTT_HISTORY_CAP);
                    if let Some(r) = pair.current_rtt_ms {
                        rtt.push((t, r));
                    }
                    a.selected = Some(SelectedPair {
                        pair: pair.clone(),
                        since_ms: t,
                        changes: *changes,
                        rtt,
                    });
                    self.pair_changes.push(PairChange {
                        t_ms: t,
                        attempt: attempt_no,
                        changes: *changes,
                        pair_id: pair.id.clone(),
                        local: pair.local.clone(),
                        remote: pair.remote.clone(),
                    });
                }
            }
            Event::TrackAdded {
                kind,
                track_id,
                mid,
                ssrc,
            } => {
                let mid = mid.clone().unwrap_or_default();
                if let Some(tr) = self.track_mut(&mid, kind, *ssrc) {
                    tr.kind = kind.clone();
                    tr.track_id = Some(track_id.clone());
                    if ssrc.is_some() {
                        tr.ssrc = *ssrc;
                    }
                    tr.attempt = attempt_no;
                }
            }
            Event::FirstMedia {
                kind,
                ssrc,
                payload_type,
            } => {
                a.timeline.reach(Milestone::FirstMedia, t);
                a.first_media.get_or_insert(FirstMedia {
                    t_ms: t,
                    kind: kind.clone(),
                    ssrc: *ssrc,
                    payload_type: *payload_type,
                });
                self.media_received = true;
            }
            Event::TrackStats { stats } => {
                if stats.packets_received > 0 {
                    self.media_received = true;
                }
                if let Some(tr) = self.track_mut(&stats.mid, &stats.kind, Some(stats.ssrc)) {
                    tr.ssrc = Some(stats.ssrc);
                    tr.attempt = attempt_no;
                    let bps = if stats.bitrate_bps.is_finite() {
                        stats.bitrate_bps.max(0.0)
                    } else {
                        0.0
                    };
                    tr.history.push((t, bps));
                    tr.stats = Some(stats.clone());
                    tr.stats_ms = Some(t);
                }
            }
            Event::ReceiveBuffers {
                sockets,
                wanted_bytes,
                granted_bytes,
                rmem_max,
            } => {
                a.receive_buffers = Some((*sockets, *wanted_bytes, *granted_bytes, *rmem_max));
            }
            Event::HostDrops { drops } => {
                a.host_drops = a.host_drops.max(*drops);
            }
            Event::Transport {
                dtls_role,
                tls_version,
                dtls_cipher,
                srtp_cipher,
            } => {
                a.transport = Some(Transport {
                    dtls_role: dtls_role.clone(),
                    tls_version: tls_version.clone(),
                    dtls_cipher: dtls_cipher.clone(),
                    srtp_cipher: srtp_cipher.clone(),
                });
            }
            Event::HttpRequest {
                kind: MessageKind::Offer,
                body,
                ..
            } => {
                a.timeline.reach(Milestone::Offer, t);
                if a.offer_sdp.is_none() {
                    a.offer_sdp = body.clone();
                }
            }
            Event::HttpResponse {
                kind: MessageKind::Answer,
                status: 200..=299,
                body,
                ..
            } => {
                a.timeline.reach(Milestone::Answer, t);
                if a.answer_sdp.is_none() {
                    a.answer_sdp = Some(body.clone());
                }
            }
            // A counter-offer: the server answered the offer with its own (ours goes out in a PATCH).
            Event::HttpResponse {
                kind: MessageKind::Offer,
                status: 406,
                ..
            } => a.timeline.reach(Milestone::Answer, t),
            Event::IceRestart { .. } => {
                a.ice_restarts += 1;
                a.last_ice_restart_ms = Some(t);
            }
            // Session-wide events are handled in `apply`; others do not concern the attempt.
            _ => {}
        }
    }
}

/// Decoded ICE candidate priority (RFC 8445 §5.1.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Priority {
    /// Type preference (126 host, 110 prflx, 100 srflx, 0 relay in the RFC's recommendation).
    pub type_pref: u32,
    /// Local preference (0..65535).
    pub local_pref: u32,
    /// Component id.
    pub component: u32,
}

/// Split a candidate priority into its parts.
pub fn decode_priority(p: u32) -> Priority {
    Priority {
        type_pref: p >> 24,
        local_pref: (p >> 8) & 0xffff,
        component: 256 - (p & 0xff),
    }
}

#[cfg(test)]
mod tests;
