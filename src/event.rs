//! The engine's event stream: the one contract every consumer (TUI, NDJSON writer, report) reads.
//!
//! Every fact the engine observes becomes one [`Stamped`] event: a sequence number, the time since the
//! session started, the attempt (restart generation) it belongs to, and an [`Event`]. The stream is
//! ordered and serialisable (one JSON object per line in headless mode); it always starts with
//! [`Event::SessionStarted`] and ends with [`Event::Ended`].
//!
//! Field names are part of the contract: rename nothing without bumping [`SCHEMA_VERSION`].

use serde::{Deserialize, Serialize};

pub mod probe;

/// Version of the event schema. Bumped on any incompatible change to the serialised form.
pub const SCHEMA_VERSION: u32 = 1;

/// One event with its place in the stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stamped {
    /// Position in the stream, from 0, without gaps.
    pub seq: u64,
    /// Milliseconds since the session started (monotonic clock), with microsecond precision.
    pub t_ms: f64,
    /// The attempt (restart generation) this event belongs to; 0 before the first attempt.
    pub attempt: u32,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

/// Which signaling protocol a session speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// The legacy MediaMTX / rtsp-simple-server WebSocket reader protocol.
    Ws,
    /// WHEP (draft-ietf-wish-whep): offer/answer over HTTP, trickle and ICE restart with PATCH.
    Whep,
}

/// Where a negotiation attempt stood when something happened (most importantly: when the socket closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Opening the signaling connection (TCP, TLS, HTTP upgrade).
    Connecting,
    /// Connected; waiting for the server's ICE-server list (always its first message).
    AwaitingIceServers,
    /// ICE servers received; building the peer connection and the offer.
    CreatingOffer,
    /// Offer sent; waiting for the answer.
    AwaitingAnswer,
    /// Answer applied; candidates trickling, ICE/DTLS not yet connected.
    Negotiating,
    /// The peer connection reached `connected`.
    Connected,
    /// The attempt is over (closing or closed).
    Closed,
}

impl Phase {
    /// A short human phrase for the phase, as in "socket closed *after the offer*".
    pub fn describe(self) -> &'static str {
        match self {
            Phase::Connecting => "while connecting",
            Phase::AwaitingIceServers => "before the ICE servers",
            Phase::CreatingOffer => "while creating the offer",
            Phase::AwaitingAnswer => "after the offer, before the answer",
            Phase::Negotiating => "after the answer, before connecting",
            Phase::Connected => "after connecting",
            Phase::Closed => "after the attempt ended",
        }
    }
}

/// Direction of a signaling message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Client (this viewer) to server.
    Out,
    /// Server to client.
    In,
}

/// What a signaling message was, once parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// The ICE-server list (a JSON array).
    IceServers,
    /// An SDP offer.
    Offer,
    /// An SDP answer.
    Answer,
    /// A trickled ICE candidate.
    Candidate,
    /// Valid JSON of a shape the protocol does not have.
    Unknown,
    /// Not valid JSON, not text, or over the size limit.
    Invalid,
    /// A trickle-ice-sdpfrag body (WHEP trickle or ICE restart).
    Sdpfrag,
    /// No body (WHEP OPTIONS, DELETE, 204 responses).
    Empty,
    /// An HTTP error body (text, JSON or problem+json).
    ErrorBody,
}

/// An HTTP header as shown in events: name and value (credentials masked).
pub type Header = (String, String);

/// An ICE candidate type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateType {
    /// An address of a local interface.
    Host,
    /// Server reflexive: the address a STUN server saw (the NAT's public side).
    Srflx,
    /// Peer reflexive: an address learned from a connectivity check.
    Prflx,
    /// A relayed address allocated on a TURN server.
    Relay,
}

impl CandidateType {
    /// The SDP token (`host`, `srflx`, `prflx`, `relay`).
    pub fn as_str(self) -> &'static str {
        match self {
            CandidateType::Host => "host",
            CandidateType::Srflx => "srflx",
            CandidateType::Prflx => "prflx",
            CandidateType::Relay => "relay",
        }
    }
}

/// How a relay candidate reaches its TURN server (webrtc-internals' `relayProtocol`): the transport of
/// the TURN URL that allocated it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelayProtocol {
    /// `turn:…` or `turn:…?transport=udp`.
    Udp,
    /// `turn:…?transport=tcp`.
    Tcp,
    /// `turns:…` (TLS over TCP).
    Tls,
}

impl RelayProtocol {
    /// `udp`, `tcp` or `tls`.
    pub fn as_str(self) -> &'static str {
        match self {
            RelayProtocol::Udp => "udp",
            RelayProtocol::Tcp => "tcp",
            RelayProtocol::Tls => "tls",
        }
    }
}

/// Where the connection to a TURN server over TCP or TLS failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnTransportStage {
    /// Resolving the name or opening the TCP connection.
    Connect,
    /// The TLS handshake (certificate checks included).
    Tls,
    /// The connection was up and then closed or broke.
    Dropped,
}

/// An ICE candidate, local or remote, with every field the SDP carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// Candidate type.
    pub typ: CandidateType,
    /// Transport protocol, lower case (`udp`, `tcp`).
    pub protocol: String,
    /// Address (IP or hostname such as an mDNS `.local` name).
    pub address: String,
    /// Port.
    pub port: u16,
    /// Priority as the full 32-bit value (type preference << 24 | local preference << 8 | 256 - component).
    pub priority: u32,
    /// Foundation (opaque; stacks differ, never key on it).
    pub foundation: String,
    /// Component id (1 = RTP).
    pub component: u16,
    /// Related (base) address for srflx/prflx/relay candidates.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub related_address: Option<String>,
    /// Related port.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub related_port: Option<u16>,
    /// TCP candidate type (`active`, `passive`, `so`) for TCP candidates.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tcp_type: Option<String>,
    /// The STUN/TURN server URL that produced the candidate, where known (webrtc-rs gives it for relay only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub url: Option<String>,
    /// For a local relay candidate: how it reaches its TURN server (udp, tcp, tls).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub relay_protocol: Option<RelayProtocol>,
}

/// One local address the viewer gathers host candidates on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalAddress {
    /// Interface name (`eth0`, `lo`); empty when the address is on no listed interface (a bare wildcard).
    pub interface: String,
    /// The IP address.
    pub address: String,
    /// A virtual adapter (container bridge, veth, VPN or overlay tunnel, hypervisor network), by its name.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub virtual_adapter: bool,
}

/// Where an ICE server entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IceServerSource {
    /// Sent by the signaling server.
    Signaling,
    /// Given on the command line (`--ice-server`).
    CommandLine,
}

/// One ICE server as used by the peer connection (credentials masked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IceServerInfo {
    /// URLs of the entry, as given.
    pub urls: Vec<String>,
    /// Username, masked except for a TURN-REST expiry prefix.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub username: Option<String>,
    /// Whether a credential was given (it is never shown).
    pub has_credential: bool,
    /// Where it came from.
    pub source: IceServerSource,
}

/// An ICE server URL the peer connection cannot use, with the reason; shown, never silently dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedIceServer {
    /// The URL.
    pub url: String,
    /// Why it is skipped (e.g. TURN over TCP/TLS is not supported by webrtc-rs 0.21).
    pub reason: String,
}

/// Which state machine changed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateKind {
    /// The WebRTC signaling state (`have-local-offer`, `stable`, …).
    Signaling,
    /// ICE gathering (`new`, `gathering`, `complete`).
    IceGathering,
    /// ICE connection (`checking`, `connected`, `disconnected`, `failed`, …).
    IceConnection,
    /// DTLS transport (`new`, `connecting`, `connected`, `failed`, `closed`); polled.
    Dtls,
    /// The peer connection as a whole.
    PeerConnection,
}

/// One candidate pair of the ICE checklist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidatePair {
    /// Stats id of the pair (stable within an attempt).
    pub id: String,
    /// Local candidate, when known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub local: Option<PairEnd>,
    /// Remote candidate, when known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub remote: Option<PairEnd>,
    /// Pair state (`waiting`, `in-progress`, `succeeded`, `failed`, `frozen`).
    pub state: String,
    /// Whether the pair is nominated.
    pub nominated: bool,
    /// Latest round-trip time in milliseconds, if measured.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub current_rtt_ms: Option<f64>,
    /// Sum of all RTT samples in milliseconds.
    pub total_rtt_ms: f64,
    /// STUN requests sent on the pair.
    pub requests_sent: u64,
    /// STUN requests received on the pair.
    pub requests_received: u64,
    /// STUN responses received on the pair.
    pub responses_received: u64,
    /// STUN responses sent on the pair.
    pub responses_sent: u64,
    /// Bytes sent over the pair.
    pub bytes_sent: u64,
    /// Bytes received over the pair.
    pub bytes_received: u64,
    /// The pair belongs to an earlier ICE generation: after an ICE restart its local candidate's ufrag
    /// is no longer the current one (the stack keeps its last counters).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub stale: bool,
}

/// One side of a candidate pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairEnd {
    /// Candidate type.
    pub typ: CandidateType,
    /// Transport protocol.
    pub protocol: String,
    /// Address.
    pub address: String,
    /// Port.
    pub port: u16,
    /// For a local relay end: how it reaches its TURN server (udp, tcp, tls).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub relay_protocol: Option<RelayProtocol>,
}

/// Per-track receive statistics, sampled about once a second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackStats {
    /// Synchronisation source of the stream.
    pub ssrc: u32,
    /// `video` or `audio`.
    pub kind: String,
    /// Negotiated codec MIME type (e.g. `video/VP8`), if known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub codec: Option<String>,
    /// Codec clock rate in Hz, if known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub clock_rate: Option<u32>,
    /// Media section id.
    pub mid: String,
    /// Payload bytes received so far.
    pub bytes_received: u64,
    /// RTP header bytes received so far.
    pub header_bytes_received: u64,
    /// RTP packets received so far.
    pub packets_received: u64,
    /// Bitrate over the last interval, payload + headers, in bits per second.
    pub bitrate_bps: f64,
    /// Cumulative packets lost (as the RTCP receiver report computes it; may be negative with duplicates).
    pub packets_lost: i64,
    /// Interarrival jitter in milliseconds (converted from RTP clock units with the codec clock rate).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub jitter_ms: Option<f64>,
    /// NACKs sent.
    pub nack_count: u32,
    /// PLIs sent.
    pub pli_count: u32,
    /// FIRs sent.
    pub fir_count: u32,
    /// Key frames seen in the received RTP (counted by the engine from payload headers).
    pub keyframes: u64,
}

/// Why an attempt ended and the session started over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cause", rename_all = "snake_case")]
pub enum RestartCause {
    /// The signaling socket closed; `phase` is where the attempt stood (the main clue).
    SocketClosed {
        /// Phase when the socket closed.
        phase: Phase,
    },
    /// The signaling connection could not be opened (DNS, TCP, TLS, or an HTTP status on upgrade).
    SignalingFailed {
        /// The error in words.
        error: String,
        /// HTTP status of the upgrade response, if one came.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        http_status: Option<u16>,
    },
    /// ICE connection state went `disconnected`.
    IceDisconnected,
    /// ICE connection state went `failed`.
    IceFailed,
    /// The peer connection went `failed` (e.g. DTLS failure).
    PeerConnectionFailed,
    /// No connection within the handshake timeout.
    HandshakeTimeout {
        /// Phase reached when the timer fired.
        phase: Phase,
    },
    /// The server sent something the protocol does not allow (bad JSON, wrong kind, unparsable SDP, too big).
    ProtocolError {
        /// Phase at the time.
        phase: Phase,
        /// What was wrong.
        error: String,
    },
    /// The local peer connection could not be built or driven.
    PeerError {
        /// The error in words.
        error: String,
    },
    /// The user asked for a restart.
    Manual,
    /// The server asked to come back later (HTTP 409/503 with `Retry-After`); the pause is what it asked.
    ServerBusy {
        /// HTTP status.
        http_status: u16,
        /// The wait it asked for, in milliseconds (capped).
        retry_after_ms: f64,
        /// Its error text.
        error: String,
    },
    /// An ICE restart (after ICE `failed`) could not be carried out or did not recover.
    IceRestartFailed {
        /// Why.
        error: String,
    },
}

impl RestartCause {
    /// One line for humans.
    pub fn describe(&self) -> String {
        match self {
            RestartCause::SocketClosed { phase } => format!("socket closed {}", phase.describe()),
            RestartCause::SignalingFailed { error, http_status } => match http_status {
                Some(s) => format!("signaling failed: HTTP {s}: {error}"),
                None => format!("signaling failed: {error}"),
            },
            RestartCause::IceDisconnected => "ICE disconnected".into(),
            RestartCause::IceFailed => "ICE failed".into(),
            RestartCause::PeerConnectionFailed => "peer connection failed".into(),
            RestartCause::HandshakeTimeout { phase } => {
                format!("handshake timeout {}", phase.describe())
            }
            RestartCause::ProtocolError { phase, error } => {
                format!("protocol error {}: {error}", phase.describe())
            }
            RestartCause::PeerError { error } => format!("peer connection error: {error}"),
            RestartCause::Manual => "manual restart".into(),
            RestartCause::ServerBusy {
                http_status,
                retry_after_ms,
                error,
            } => format!(
                "server busy (HTTP {http_status}), retry after {}: {error}",
                humantime::format_duration(std::time::Duration::from_millis(
                    *retry_after_ms as u64
                ))
            ),
            RestartCause::IceRestartFailed { error } => format!("ICE restart failed: {error}"),
        }
    }
}

/// Where an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorSource {
    /// The signaling transport (socket, TLS, HTTP).
    Signaling,
    /// The content of a signaling message.
    Protocol,
    /// The local WebRTC stack.
    Peer,
    /// A log message of the WebRTC stack surfaced as a warning (e.g. TURN errors).
    Stack,
    /// The configuration given.
    Config,
    /// The connection to a TURN server over TCP or TLS.
    Turn,
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum EndReason {
    /// `--duration` elapsed.
    Duration,
    /// Ctrl-C / SIGTERM / quit key.
    Interrupted,
    /// `--max-restarts` reached.
    MaxRestarts {
        /// Restarts performed.
        restarts: u32,
    },
    /// An error that restarting cannot fix (bad configuration).
    Fatal {
        /// The error in words.
        error: String,
    },
}

/// Everything the engine can report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The first event: what is being tested, and the wall-clock anchor for `t_ms`.
    SessionStarted {
        /// Target URL (credentials masked).
        target: String,
        /// Signaling protocol.
        protocol: Protocol,
        /// Wall-clock time at `t_ms = 0`, RFC 3339 UTC.
        wall_clock: String,
        /// Unix time in milliseconds at `t_ms = 0`.
        unix_ms: u64,
        /// rtcscope version.
        version: String,
        /// Event schema version.
        schema_version: u32,
    },
    /// A new attempt begins (the first, or after a restart).
    AttemptStarted {
        /// Attempt number, from 1 (the same as the stamp's `attempt`; serialised as `number`).
        #[serde(rename = "number")]
        attempt: u32,
    },
    /// Opening the signaling connection.
    SignalingConnecting {
        /// The URL dialled (credentials masked).
        url: String,
    },
    /// The signaling connection is open.
    SignalingConnected {
        /// HTTP status of the upgrade (101).
        http_status: u16,
        /// Time from connect to open, in milliseconds.
        elapsed_ms: f64,
    },
    /// The signaling connection could not be opened.
    SignalingFailed {
        /// The error in words.
        error: String,
        /// HTTP status, when the server answered the upgrade with one.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        http_status: Option<u16>,
        /// Response body (truncated, sanitise before display), when there was one.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        body: Option<String>,
    },
    /// The signaling connection closed.
    SignalingClosed {
        /// Where the attempt stood (the main diagnostic clue).
        phase: Phase,
        /// WebSocket close code, if a close frame came (none means the TCP connection just ended: 1006).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        code: Option<u16>,
        /// Close reason text, if any.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        reason: Option<String>,
        /// True when this side closed it.
        local: bool,
    },
    /// A signaling message was sent.
    MessageSent {
        /// Parsed kind.
        kind: MessageKind,
        /// Size in bytes.
        size: usize,
        /// The raw text (as sent).
        text: String,
    },
    /// A signaling message was received.
    MessageReceived {
        /// Parsed kind.
        kind: MessageKind,
        /// Size in bytes (before any truncation of `text`).
        size: usize,
        /// The raw text (truncated if over the display limit; sanitise before display).
        text: String,
        /// True when `text` was truncated.
        #[serde(skip_serializing_if = "std::ops::Not::not", default)]
        truncated: bool,
    },
    /// The ICE servers the peer connection uses, and those it cannot use.
    IceServers {
        /// Servers in use.
        servers: Vec<IceServerInfo>,
        /// URLs skipped because this WebRTC stack cannot use them.
        skipped: Vec<SkippedIceServer>,
        /// `all` or `relay`.
        policy: String,
    },
    /// The local addresses host candidates are gathered on (the bind addresses, wildcards expanded to the
    /// machine's interfaces), once per peer connection.
    LocalAddresses {
        /// The addresses, in bind order.
        addresses: Vec<LocalAddress>,
    },
    /// The TCP or TLS connection to a TURN server failed or dropped (TURN over UDP has no connection).
    /// The relay candidates of that server are gone with it.
    TurnTransportFailed {
        /// The TURN URL as configured, without credentials (`turns:turn.example.com:443`).
        url: String,
        /// `tcp` or `tls`.
        relay_protocol: RelayProtocol,
        /// Where it failed.
        stage: TurnTransportStage,
        /// The error in words (a certificate problem is named: expired, wrong name, unknown CA).
        error: String,
    },
    /// The viewer's UDP sockets and the receive buffer each got (once per peer connection): a
    /// buffer too small for a burst loses datagrams in this host, not in the network.
    ReceiveBuffers {
        /// UDP sockets bound.
        sockets: u32,
        /// Bytes asked for each.
        wanted_bytes: u64,
        /// The smallest buffer granted (as `SO_RCVBUF` reads it).
        granted_bytes: u64,
        /// `net.core.rmem_max`, the cap without privileges, where known.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        rmem_max: Option<u64>,
    },
    /// Datagrams this host dropped in its own receive buffers so far (the kernel's per-socket
    /// counter), when it grows: counted by the stack as lost, but not lost by the network.
    HostDrops {
        /// Cumulative drops on the attempt's sockets.
        drops: u64,
    },
    /// A local candidate was gathered.
    LocalCandidate {
        /// The candidate.
        candidate: Candidate,
    },
    /// ICE gathering finished (webrtc-rs signals it; no end-of-candidates is sent on the wire).
    LocalGatheringComplete,
    /// A remote candidate arrived, parsed from the signaling text.
    RemoteCandidate {
        /// The parsed candidate; `None` when it did not parse (see `error`).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        candidate: Option<Candidate>,
        /// The candidate line as received.
        raw: String,
        /// `sdpMid` as received.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        sdp_mid: Option<String>,
        /// `sdpMLineIndex` as received.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        sdp_mline_index: Option<u16>,
        /// Why it was rejected (by our parser or by the WebRTC stack), if it was.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        error: Option<String>,
    },
    /// A state machine changed state.
    StateChanged {
        /// Which one.
        kind: StateKind,
        /// The new state, as the W3C names it (`connected`, `have-local-offer`, …).
        state: String,
    },
    /// The whole candidate-pair checklist with its counters: after a poll that saw a transition
    /// (`pair_added`, `pair_state_changed`, …), else at most once a second while a counter moves.
    CandidatePairs {
        /// All pairs of the current attempt (those of an earlier ICE generation marked `stale`).
        pairs: Vec<CandidatePair>,
    },
    /// A candidate pair appeared in the checklist (first seen in a stats poll).
    PairAdded {
        /// The pair, as first seen.
        pair: CandidatePair,
    },
    /// A candidate pair changed state (`waiting`, `in-progress`, `succeeded`, `failed`).
    PairStateChanged {
        /// Stats id of the pair.
        id: String,
        /// The state before.
        from: String,
        /// The state now.
        to: String,
    },
    /// A candidate pair was nominated.
    PairNominated {
        /// Stats id of the pair.
        id: String,
    },
    /// Pairs that belong to an earlier ICE generation (after an ICE restart), from now on `stale`.
    PairsSuperseded {
        /// Stats ids of the pairs.
        ids: Vec<String>,
    },
    /// The selected candidate pair changed.
    SelectedPair {
        /// The pair now carrying media.
        pair: CandidatePair,
        /// How many times the selection changed in this attempt.
        changes: u32,
    },
    /// A remote track arrived.
    TrackAdded {
        /// `video` or `audio`.
        kind: String,
        /// Track id from the SDP.
        track_id: String,
        /// Media section id.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        mid: Option<String>,
        /// First SSRC seen, if known.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        ssrc: Option<u32>,
    },
    /// First RTP packet of the attempt.
    FirstMedia {
        /// `video` or `audio`.
        kind: String,
        /// Its SSRC.
        ssrc: u32,
        /// Payload type.
        payload_type: u8,
    },
    /// Receive statistics of one track, about once a second.
    TrackStats {
        /// The statistics.
        stats: TrackStats,
    },
    /// DTLS/SRTP details once the transport is up (from polling; webrtc-rs has no event).
    Transport {
        /// DTLS role (`client`/`server`).
        dtls_role: String,
        /// TLS version name.
        tls_version: String,
        /// DTLS cipher suite.
        dtls_cipher: String,
        /// SRTP protection profile.
        srtp_cipher: String,
    },
    /// The attempt ended and a new one is scheduled after the restart pause.
    Restart {
        /// Why.
        #[serde(flatten)]
        cause: RestartCause,
        /// The attempt that ended.
        ended_attempt: u32,
        /// How long that attempt lived, in milliseconds.
        lived_ms: f64,
        /// Whether it had reached `connected`.
        had_connected: bool,
        /// Pause before the next attempt, in milliseconds.
        pause_ms: f64,
    },
    /// Something went wrong (the session goes on, restarting as the protocol says).
    Error {
        /// Where it came from.
        source: ErrorSource,
        /// What went wrong.
        message: String,
        /// The offending input, truncated, when there was one (sanitise before display).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        offending: Option<String>,
    },
    /// A WHEP HTTP request was sent.
    HttpRequest {
        /// Request number in the session, pairing it with its response.
        id: u32,
        /// `OPTIONS`, `POST`, `PATCH` or `DELETE`.
        method: String,
        /// Absolute URL (credentials masked).
        url: String,
        /// Relevant headers (Content-Type, If-Match, Authorization masked, extra headers).
        headers: Vec<Header>,
        /// What the body is.
        kind: MessageKind,
        /// The body, if any.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        body: Option<String>,
    },
    /// The response to a WHEP HTTP request.
    HttpResponse {
        /// The request's number.
        id: u32,
        /// The request's method.
        method: String,
        /// HTTP status code.
        status: u16,
        /// Reason phrase.
        reason: String,
        /// Relevant headers (Location, ETag, Link, Content-Type, Retry-After, WWW-Authenticate, Accept-Patch…).
        headers: Vec<Header>,
        /// What the body is.
        kind: MessageKind,
        /// Size of the body in bytes.
        size: usize,
        /// The body (truncated if over the display limit; sanitise before display).
        body: String,
        /// True when `body` was truncated.
        #[serde(skip_serializing_if = "std::ops::Not::not", default)]
        truncated: bool,
        /// Time from sending the request to the complete response, in milliseconds.
        elapsed_ms: f64,
    },
    /// A WHEP HTTP request got no response (connection refused, timeout, TLS…).
    HttpFailed {
        /// The request's number.
        id: u32,
        /// The request's method.
        method: String,
        /// What went wrong.
        error: String,
        /// Time until the failure, in milliseconds.
        elapsed_ms: f64,
    },
    /// An ICE restart began within the attempt (WHEP: new credentials sent with PATCH).
    IceRestart {
        /// Why (`ICE failed`, `asked for`).
        reason: String,
    },
    /// Information: a deviation from the WHEP draft, a protocol detected, a capability missing. Not an error.
    Info {
        /// Where it came from.
        source: ErrorSource,
        /// What.
        message: String,
    },
    /// Something worth knowing that is not an error (an unusual but accepted input, a stack limitation).
    Warning {
        /// Where it came from.
        source: ErrorSource,
        /// The warning.
        message: String,
    },
    /// The result of probing one ICE-server URL over one transport on its own (STUN binding or TURN
    /// allocate; see [`probe`]), independently of the peer connection.
    ProbeResult {
        /// What the probe found (URL masked, outcome, RTT, mapped/relayed address, TURN-REST expiry).
        result: probe::ProbeResult,
    },
    /// The last event.
    Ended {
        /// Why the session ended.
        #[serde(flatten)]
        reason: EndReason,
        /// Attempts made.
        attempts: u32,
        /// Whether any attempt reached `connected`.
        ever_connected: bool,
        /// Whether any media arrived.
        media_received: bool,
    },
}

impl Event {
    /// The `type` tag as serialised, for filtering and display.
    pub fn name(&self) -> &'static str {
        match self {
            Event::SessionStarted { .. } => "session_started",
            Event::AttemptStarted { .. } => "attempt_started",
            Event::SignalingConnecting { .. } => "signaling_connecting",
            Event::SignalingConnected { .. } => "signaling_connected",
            Event::SignalingFailed { .. } => "signaling_failed",
            Event::SignalingClosed { .. } => "signaling_closed",
            Event::MessageSent { .. } => "message_sent",
            Event::MessageReceived { .. } => "message_received",
            Event::IceServers { .. } => "ice_servers",
            Event::LocalAddresses { .. } => "local_addresses",
            Event::ReceiveBuffers { .. } => "receive_buffers",
            Event::HostDrops { .. } => "host_drops",
            Event::LocalCandidate { .. } => "local_candidate",
            Event::LocalGatheringComplete => "local_gathering_complete",
            Event::RemoteCandidate { .. } => "remote_candidate",
            Event::StateChanged { .. } => "state_changed",
            Event::CandidatePairs { .. } => "candidate_pairs",
            Event::PairAdded { .. } => "pair_added",
            Event::PairStateChanged { .. } => "pair_state_changed",
            Event::PairNominated { .. } => "pair_nominated",
            Event::PairsSuperseded { .. } => "pairs_superseded",
            Event::SelectedPair { .. } => "selected_pair",
            Event::TrackAdded { .. } => "track_added",
            Event::FirstMedia { .. } => "first_media",
            Event::TrackStats { .. } => "track_stats",
            Event::Transport { .. } => "transport",
            Event::Restart { .. } => "restart",
            Event::Error { .. } => "error",
            Event::TurnTransportFailed { .. } => "turn_transport_failed",
            Event::Warning { .. } => "warning",
            Event::HttpRequest { .. } => "http_request",
            Event::HttpResponse { .. } => "http_response",
            Event::HttpFailed { .. } => "http_failed",
            Event::IceRestart { .. } => "ice_restart",
            Event::Info { .. } => "info",
            Event::ProbeResult { .. } => "probe_result",
            Event::Ended { .. } => "ended",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamped_round_trips_through_json_with_flat_type_tag() {
        let ev = Stamped {
            seq: 7,
            t_ms: 12.5,
            attempt: 2,
            event: Event::Restart {
                cause: RestartCause::SocketClosed {
                    phase: Phase::AwaitingAnswer,
                },
                ended_attempt: 1,
                lived_ms: 300.0,
                had_connected: false,
                pause_ms: 2000.0,
            },
        };
        let text = serde_json::to_string(&ev).unwrap();
        assert!(text.contains(r#""type":"restart""#), "{text}");
        assert!(text.contains(r#""cause":"socket_closed""#), "{text}");
        assert!(text.contains(r#""phase":"awaiting_answer""#), "{text}");
        let back: Stamped = serde_json::from_str(&text).unwrap();
        assert_eq!(back, ev);
    }

    #[test]
    fn name_matches_serialised_tag() {
        let events = vec![
            Event::LocalGatheringComplete,
            Event::AttemptStarted { attempt: 1 },
            Event::Ended {
                reason: EndReason::Duration,
                attempts: 1,
                ever_connected: true,
                media_received: true,
            },
        ];
        for e in events {
            let v = serde_json::to_value(&e).unwrap();
            assert_eq!(v["type"], e.name());
            // Flattened into a stamp, no field may collide with seq/t_ms/attempt.
            let st = Stamped {
                seq: 1,
                t_ms: 2.0,
                attempt: 3,
                event: e.clone(),
            };
            let back: Stamped = serde_json::from_str(&serde_json::to_string(&st).unwrap()).unwrap();
            assert_eq!(back, st);
        }
    }
}
