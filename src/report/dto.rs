//! The report as data: plain serialisable types, separate from the engine's and the model's (as trippy
//! keeps its report DTOs), so the JSON report can stay stable while the internals change. Its JSON
//! form is described by `schema/report.schema.json`; bump [`REPORT_SCHEMA_VERSION`] on any
//! incompatible change.

use serde::{Deserialize, Serialize};

/// Version of the JSON report schema (`schema/report.schema.json`).
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// A whole session's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`REPORT_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `rtcscope <version>` of the program that wrote the report.
    pub generator: String,
    /// What was tested and how the session went.
    pub session: SessionDto,
    /// The exit code and what it means.
    pub outcome: OutcomeDto,
    /// The verdicts, most severe first.
    pub findings: Vec<FindingDto>,
    /// The attempt shown in detail (the latest, or the one before it when the latest had barely begun).
    pub attempt: Option<AttemptDto>,
    /// Received tracks (across attempts; latest statistics).
    pub tracks: Vec<TrackDto>,
    /// Restarts.
    pub restarts: RestartsDto,
    /// Errors and warnings seen.
    pub log: LogDto,
}

/// The session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionDto {
    /// Target URL (credentials masked).
    pub target: Option<String>,
    /// `ws` or `whep`.
    pub protocol: Option<String>,
    /// Wall-clock start, RFC 3339.
    pub started_at: Option<String>,
    /// Unix time of the start in milliseconds.
    pub unix_ms: Option<u64>,
    /// Session length in milliseconds (time of the last event).
    pub duration_ms: f64,
    /// Events seen.
    pub events: u64,
    /// Attempts made.
    pub attempts: u32,
    /// Why it ended (`duration`, `interrupted`, `max_restarts`, `fatal`), if it has.
    pub end_reason: Option<String>,
    /// Whether any attempt connected.
    pub ever_connected: bool,
    /// Whether any media arrived.
    pub media_received: bool,
}

/// The outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeDto {
    /// Process exit code.
    pub exit_code: i32,
    /// `media_flowed`, `signaling_failed`, `ice_failed`, `dtls_failed`, `no_media`.
    pub result: String,
    /// The same in words.
    pub description: String,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingDto {
    /// Stable rule id.
    pub id: String,
    /// `critical`, `error`, `warning`, `info` or `ok`.
    pub severity: String,
    /// One line.
    pub title: String,
    /// What was seen.
    pub evidence: Vec<String>,
    /// What to do, if anything.
    pub fix: Option<String>,
}

/// The attempt shown in detail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptDto {
    /// Attempt number.
    pub number: u32,
    /// Session time it started, in milliseconds.
    pub started_ms: f64,
    /// The phase timeline, in order, for the phases reached.
    pub phases: Vec<PhaseDto>,
    /// The latest state of each state machine.
    pub states: StatesDto,
    /// The ICE servers, when known.
    pub ice_servers: Option<IceServersDto>,
    /// Local candidates.
    pub local_candidates: CandidatesDto,
    /// Remote candidates.
    pub remote_candidates: CandidatesDto,
    /// The selected pair, if any.
    pub selected_pair: Option<PairDto>,
    /// DTLS/SRTP details, once up.
    pub transport: Option<TransportDto>,
    /// The local addresses host candidates were gathered on, with their interfaces.
    pub local_addresses: Vec<LocalAddressDto>,
    /// The whole candidate-pair checklist (selected pair first, pairs of an earlier ICE generation
    /// last).
    pub checklist: Vec<ChecklistPairDto>,
    /// The viewer's UDP receive buffers and what this host dropped in them, once the peer
    /// connection is built.
    pub receive_path: Option<ReceivePathDto>,
}

/// The viewer's UDP receive buffers and this host's own drops (not network loss).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceivePathDto {
    /// UDP sockets bound.
    pub sockets: u32,
    /// Receive buffer asked for each, in bytes.
    pub wanted_bytes: u64,
    /// The smallest buffer granted, in bytes (as `SO_RCVBUF` reads it).
    pub granted_bytes: u64,
    /// `net.core.rmem_max`, where known.
    pub rmem_max: Option<u64>,
    /// Datagrams this host dropped in those buffers (the kernel's per-socket counter).
    pub host_drops: u64,
}

/// One phase of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseDto {
    /// `signaling`, `ice-servers`, `offer`, `answer`, `local cand`, `remote cand`, `checking`, `ICE`,
    /// `DTLS`, `media`.
    pub name: String,
    /// Session time, in milliseconds.
    pub t_ms: f64,
    /// Time since the attempt started, in milliseconds.
    pub since_start_ms: f64,
}

/// The latest state of each state machine (W3C names), when known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatesDto {
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

/// The ICE servers of the attempt (credentials masked by the engine).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IceServersDto {
    /// `all` or `relay`.
    pub policy: String,
    /// Servers in use.
    pub servers: Vec<IceServerDto>,
    /// URLs skipped, with the reason.
    pub skipped: Vec<SkippedDto>,
}

/// One ICE server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IceServerDto {
    /// Its URLs.
    pub urls: Vec<String>,
    /// Masked username.
    pub username: Option<String>,
    /// `signaling` or `command_line`.
    pub source: String,
}

/// A skipped ICE server URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedDto {
    /// The URL.
    pub url: String,
    /// Why.
    pub reason: String,
}

/// Candidates of one side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidatesDto {
    /// Counts by type.
    pub counts: TypeCountsDto,
    /// The candidates (the first ones, up to the model's cap).
    pub list: Vec<CandidateDto>,
    /// Remote candidates that did not parse or were rejected (0 for local).
    pub rejected: u64,
}

/// Counts by candidate type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeCountsDto {
    /// Host.
    pub host: u64,
    /// Server reflexive.
    pub srflx: u64,
    /// Peer reflexive.
    pub prflx: u64,
    /// Relay.
    pub relay: u64,
}

/// One candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateDto {
    /// `host`, `srflx`, `prflx`, `relay`.
    #[serde(rename = "type")]
    pub typ: String,
    /// `udp` or `tcp`.
    pub protocol: String,
    /// Address.
    pub address: String,
    /// Port.
    pub port: u16,
    /// Full priority.
    pub priority: u32,
    /// Related address and port, for srflx/prflx/relay.
    pub related: Option<String>,
    /// The STUN/TURN URL that produced it, when known.
    pub url: Option<String>,
    /// For a local relay candidate: how it reaches its TURN server (`udp`, `tcp`, `tls`).
    pub relay_protocol: Option<String>,
    /// Session time it was gathered or arrived, in milliseconds.
    pub t_ms: f64,
}

/// A candidate pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairDto {
    /// Local end, `type protocol address:port`.
    pub local: Option<String>,
    /// Remote end.
    pub remote: Option<String>,
    /// Local candidate type.
    pub local_type: Option<String>,
    /// Remote candidate type.
    pub remote_type: Option<String>,
    /// For a local relay end: how it reaches its TURN server (`udp`, `tcp`, `tls`).
    pub local_relay_protocol: Option<String>,
    /// Pair state.
    pub state: String,
    /// Nominated.
    pub nominated: bool,
    /// Latest RTT in milliseconds.
    pub current_rtt_ms: Option<f64>,
    /// Average RTT in milliseconds.
    pub avg_rtt_ms: Option<f64>,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Session time it became selected.
    pub since_ms: f64,
    /// Selection changes in the attempt.
    pub changes: u32,
}

/// One local address host candidates were gathered on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalAddressDto {
    /// Interface name (empty when unknown).
    pub interface: String,
    /// IP address.
    pub address: String,
    /// A virtual adapter (container bridge, veth, tunnel, hypervisor network).
    pub virtual_adapter: bool,
}

/// One pair of a checklist, with the columns of chrome://webrtc-internals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChecklistPairDto {
    /// Stats id of the pair.
    pub id: String,
    /// Local end, `type protocol address:port`.
    pub local: Option<String>,
    /// Remote end.
    pub remote: Option<String>,
    /// `waiting`, `in-progress`, `succeeded`, `failed`, …
    pub state: String,
    /// Nominated.
    pub nominated: bool,
    /// Whether it is the selected pair.
    pub selected: bool,
    /// Whether it belongs to an earlier ICE generation (before an ICE restart).
    pub stale: bool,
    /// STUN binding requests sent.
    pub requests_sent: u64,
    /// STUN binding requests received.
    pub requests_received: u64,
    /// STUN responses sent.
    pub responses_sent: u64,
    /// STUN responses received.
    pub responses_received: u64,
    /// Latest RTT in milliseconds.
    pub current_rtt_ms: Option<f64>,
    /// Average RTT in milliseconds.
    pub avg_rtt_ms: Option<f64>,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Session time of its last state change, in milliseconds.
    pub state_since_ms: f64,
}

/// DTLS/SRTP details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransportDto {
    /// DTLS role.
    pub dtls_role: String,
    /// TLS version.
    pub tls_version: String,
    /// DTLS cipher suite.
    pub dtls_cipher: String,
    /// SRTP protection profile.
    pub srtp_cipher: String,
}

/// One received track.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackDto {
    /// `video` or `audio`.
    pub kind: String,
    /// Media section id.
    pub mid: String,
    /// Codec MIME type.
    pub codec: Option<String>,
    /// SSRC.
    pub ssrc: Option<u32>,
    /// The attempt that last reported on it.
    pub attempt: u32,
    /// Latest bitrate in bit/s.
    pub bitrate_bps: f64,
    /// Average bitrate over the samples kept, in bit/s.
    pub avg_bitrate_bps: Option<f64>,
    /// Packets received.
    pub packets_received: u64,
    /// Packets lost (cumulative; may be negative with duplicates).
    pub packets_lost: i64,
    /// Loss in percent.
    pub loss_pct: Option<f64>,
    /// Jitter in milliseconds.
    pub jitter_ms: Option<f64>,
    /// Payload bytes received.
    pub bytes_received: u64,
    /// Key frames seen.
    pub keyframes: u64,
    /// NACKs sent.
    pub nack_count: u32,
    /// PLIs sent.
    pub pli_count: u32,
    /// FIRs sent.
    pub fir_count: u32,
}

/// Restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestartsDto {
    /// Restarts in the whole session.
    pub total: u64,
    /// The latest ones (up to the model's cap).
    pub list: Vec<RestartDto>,
}

/// One restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestartDto {
    /// Session time.
    pub t_ms: f64,
    /// The attempt that ended.
    pub attempt: u32,
    /// The cause's tag (`socket_closed`, `ice_failed`, …).
    pub cause: String,
    /// The cause in words.
    pub description: String,
    /// How long the attempt lived, in milliseconds.
    pub lived_ms: f64,
    /// Whether it had connected.
    pub had_connected: bool,
    /// Time from this restart to the next `connected`, once that happened.
    pub reconnect_ms: Option<f64>,
    /// The checklist of the attempt that ended, as it was.
    pub checklist: Vec<ChecklistPairDto>,
}

/// Errors and warnings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogDto {
    /// Errors seen.
    pub errors: u64,
    /// Warnings seen.
    pub warnings: u64,
}
