//! The engine: the only code that touches sockets, webrtc-rs (via [`crate::webrtc_adapter`]) and the clock.
//!
//! [`Engine::spawn`] starts one owning tokio task that drives the [`crate::session`] state machine,
//! the signaling connection and the peer connection, and returns an [`EngineHandle`]: a receiver of
//! [`Stamped`] events (bounded; the engine waits rather than drop) and a command sender.
//!
//! One attempt = one WebSocket + one peer connection. Everything an attempt owns (socket reader, peer
//! events) arrives on channels owned by that attempt, so when the attempt ends its late events vanish
//! with it and can never be confused with the next attempt's.

pub mod stack_log;
pub mod whep;
pub mod ws_client;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;

use crate::event::{
    CandidatePair, ErrorSource, Event, IceServerInfo, MessageKind, Phase, Protocol,
    SkippedIceServer, Stamped, StateKind, TrackStats,
};
use crate::proto::ice_server::{self, IceServerSpec};
use crate::proto::ws::{self as wsproto, CandidateMessage, SignalMessage};
use crate::sanitize::truncate_bytes as truncate;
use crate::session::{Action, Input, Policy, Session};
use crate::webrtc_adapter::viewer::{PeerEvent, StatsSample, ViewerConfig, ViewerPeer};
use crate::webrtc_adapter::{IceServerConfig, IceTimeouts};
use ws_client::{ConnectError, ConnectOptions, Incoming, WsConnection};

/// Received text kept in events is truncated to this many bytes (the size field keeps the real size).
pub const EVENT_TEXT_LIMIT: usize = 64 * 1024;
/// How long "no candidate pairs" may last before it is worth a warning.
const NO_PAIRS_GRACE: Duration = Duration::from_secs(2);
/// Offending input quoted in error events is truncated to this many bytes.
pub const OFFENDING_LIMIT: usize = 512;

/// Commands a consumer (TUI, signal handler) can send to a running engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineCommand {
    /// Abandon the current attempt and start a new one now (restart cause `manual`).
    Restart,
    /// End the session cleanly (socket closed, peer connection closed), then emit `ended`.
    Stop,
    /// Restart ICE within the current attempt (WHEP: a PATCH with new credentials).
    IceRestart,
}

/// Where and how to signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignalingTarget {
    /// The legacy WebSocket protocol at this `ws://`/`wss://` URL.
    Ws(url::Url),
    /// WHEP at this endpoint URL.
    Whep(url::Url),
    /// A page URL: WHEP if `whep` answers an OPTIONS request, otherwise the WebSocket protocol at `ws`.
    Detect {
        /// The WHEP endpoint derived from the page.
        whep: url::Url,
        /// The WebSocket URL derived from the page.
        ws: url::Url,
    },
}

impl SignalingTarget {
    /// The URL shown as the session's target.
    pub fn display_url(&self) -> &url::Url {
        match self {
            SignalingTarget::Ws(u) | SignalingTarget::Whep(u) => u,
            SignalingTarget::Detect { whep, .. } => whep,
        }
    }
}

/// The consumer's side of a running engine.
#[derive(Debug)]
pub struct EngineHandle {
    /// Events, in order. The stream ends after [`crate::event::Event::Ended`].
    pub events: mpsc::Receiver<Stamped>,
    /// Commands to the engine.
    pub commands: mpsc::Sender<EngineCommand>,
}

/// Everything the engine needs to run a viewer session.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Where to signal (URLs may carry userinfo, sent as HTTP Basic).
    pub target: SignalingTarget,
    /// `Authorization: Bearer` token for WHEP.
    pub bearer: Option<String>,
    /// Extra HTTP headers on the upgrade request.
    pub headers: Vec<(String, String)>,
    /// Accept certificates that do not verify.
    pub insecure: bool,
    /// ICE servers given on the command line (merged after the server's).
    pub ice_servers: Vec<IceServerSpec>,
    /// Relay-only ICE transport policy.
    pub relay_only: bool,
    /// Add a recvonly audio transceiver.
    pub audio: bool,
    /// Local addresses for host candidates.
    pub bind: Vec<SocketAddr>,
    /// ICE timers (`None`: webrtc-rs defaults).
    pub ice_timeouts: Option<IceTimeouts>,
    /// Restart policy.
    pub policy: Policy,
    /// How often stats are polled.
    pub stats_interval: Duration,
    /// Probe every ICE server the session uses (STUN binding, TURN allocate, also over TCP/TLS) alongside
    /// the negotiation, once per server per session, as `probe_result` events.
    pub probe: bool,
    /// Report the WebRTC stack's logged warnings as `warning` events (only when this process runs a
    /// single viewer: the log does not say which peer connection a record is about).
    pub stack_warnings: bool,
}

/// The engine. See the module docs.
#[derive(Debug)]
pub struct Engine;

impl Engine {
    /// Start a session. Must be called inside a tokio runtime.
    pub fn spawn(config: EngineConfig) -> EngineHandle {
        // rustls needs one process-wide crypto provider; webrtc-rs uses ring too.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (events_tx, events) = mpsc::channel(4096);
        let (commands, commands_rx) = mpsc::channel(16);
        let driver = Driver::new(config, events_tx);
        tokio::spawn(driver.run(commands_rx));
        EngineHandle { events, commands }
    }
}

/// Per-track state for rates.
#[derive(Debug, Clone, Copy)]
struct TrackPrev {
    bytes: u64,
    at: Instant,
}

/// What one attempt owns.
struct Attempt {
    whep: Option<whep::WhepState>,
    http_tx: mpsc::UnboundedSender<whep::HttpDone>,
    http_rx: Option<mpsc::UnboundedReceiver<whep::HttpDone>>,
    /// Background requests of the attempt, aborted when it ends.
    tasks: Vec<tokio::task::JoinHandle<()>>,
    ws: Option<WsConnection>,
    ws_rx: Option<mpsc::Receiver<Incoming>>,
    connect_rx: Option<tokio::sync::oneshot::Receiver<ConnectResult>>,
    connect_task: Option<tokio::task::JoinHandle<()>>,
    peer: Option<Arc<ViewerPeer>>,
    peer_rx: Option<mpsc::UnboundedReceiver<PeerEvent>>,
    /// Remote candidates received before the answer was applied.
    pending_remote: Vec<CandidateMessage>,
    answer_applied: bool,
    /// mid and ufrag of our offer, for the candidate messages we send.
    local_mid: Option<String>,
    local_ufrag: Option<String>,
    last_pairs: Vec<CandidatePair>,
    selected_id: String,
    selected_complete: bool,
    dtls_state: String,
    transport_reported: bool,
    tracks: HashMap<u32, TrackPrev>,
    /// The last ICE connection state of the attempt.
    ice_state: String,
    /// Stack warnings seen in this attempt (digits removed), with their counts.
    stack_seen: HashMap<String, u32>,
    /// When the stack first said it had no candidate pair to check, and whether that was reported.
    no_pairs_since: Option<Duration>,
    no_pairs_reported: bool,
}

impl Attempt {
    fn new() -> Self {
        let (http_tx, http_rx) = mpsc::unbounded_channel();
        Self {
            whep: None,
            http_tx,
            http_rx: Some(http_rx),
            tasks: Vec::new(),
            ws: None,
            ws_rx: None,
            connect_rx: None,
            connect_task: None,
            peer: None,
            peer_rx: None,
            pending_remote: Vec::new(),
            answer_applied: false,
            local_mid: None,
            local_ufrag: None,
            last_pairs: Vec::new(),
            selected_id: String::new(),
            selected_complete: false,
            dtls_state: String::new(),
            transport_reported: false,
            tracks: HashMap::new(),
            ice_state: String::new(),
            stack_seen: HashMap::new(),
            no_pairs_since: None,
            no_pairs_reported: false,
        }
    }
}

struct Driver {
    cfg: EngineConfig,
    /// The protocol in use (resolved from [`SignalingTarget::Detect`] at the start).
    protocol: Protocol,
    /// The URL signaled to (WebSocket URL or WHEP endpoint).
    url: url::Url,
    http_client: Option<whep::HttpClient>,
    http_seq: u32,
    /// ICE servers a WHEP server sent only with its 201, used from the next attempt on.
    late_ice_servers: Vec<IceServerSpec>,
    /// How this session's peer connections are built (set at the first build).
    viewer_config: Option<ViewerConfig>,
    /// An informational line to emit right after `session_started` (protocol detection).
    pending_info: Option<String>,
    /// ICE servers already probed in this session (by URL and username).
    probed: std::collections::HashSet<String>,
    /// Probe results from background tasks.
    probe_tx: mpsc::UnboundedSender<crate::probe::ProbeResult>,
    probe_rx: Option<mpsc::UnboundedReceiver<crate::probe::ProbeResult>>,
    /// Draft deviations already reported (each once per session).
    deviations_seen: std::collections::HashSet<&'static str>,
    tx: mpsc::Sender<Stamped>,
    start: Instant,
    seq: u64,
    session: Session,
    attempt: Option<Attempt>,
    /// The attempt events are stamped with: the one the driver is carrying out (the session may
    /// already have moved on while the driver still closes the previous one).
    stamp_attempt: u32,
    /// Once the consumer is gone there is nobody to report to: stop.
    consumer_gone: bool,
}

/// What woke the driver loop.
enum Wake {
    Command(Option<EngineCommand>),
    Http(whep::HttpDone),
    Stack(String),
    Probe(Box<crate::probe::ProbeResult>),
    Connected(Option<ConnectResult>),
    Frame(Incoming),
    Peer(PeerEvent),
    Timer,
    Stats,
}

type ConnectResult = Result<(WsConnection, u16, f64, mpsc::Receiver<Incoming>), ConnectError>;

async fn recv_opt<T>(rx: &mut Option<mpsc::Receiver<T>>) -> Option<T> {
    match rx {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

async fn recv_opt_unbounded<T>(rx: &mut Option<mpsc::UnboundedReceiver<T>>) -> Option<T> {
    match rx {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

async fn oneshot_opt<T>(rx: &mut Option<tokio::sync::oneshot::Receiver<T>>) -> Option<T> {
    match rx {
        Some(r) => r.await.ok(),
        None => std::future::pending().await,
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

impl Driver {
    fn new(cfg: EngineConfig, tx: mpsc::Sender<Stamped>) -> Self {
        let session = Session::new(cfg.policy);
        let (probe_tx, probe_rx) = mpsc::unbounded_channel();
        let (protocol, url) = match &cfg.target {
            SignalingTarget::Ws(u) => (Protocol::Ws, u.clone()),
            SignalingTarget::Whep(u) | SignalingTarget::Detect { whep: u, .. } => {
                (Protocol::Whep, u.clone())
            }
        };
        let http_client =
            whep::HttpClient::new(&url, cfg.insecure, cfg.bearer.as_deref(), &cfg.headers).ok();
        Self {
            protocol,
            url,
            http_client,
            http_seq: 0,
            late_ice_servers: Vec::new(),
            viewer_config: None,
            pending_info: None,
            probed: std::collections::HashSet::new(),
            probe_tx,
            probe_rx: Some(probe_rx),
            deviations_seen: std::collections::HashSet::new(),
            cfg,
            tx,
            start: Instant::now(),
            seq: 0,
            session,
            attempt: None,
            stamp_attempt: 0,
            consumer_gone: false,
        }
    }

    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    async fn emit(&mut self, event: Event) {
        let stamped = Stamped {
            seq: self.seq,
            t_ms: (self.start.elapsed().as_micros() as f64) / 1000.0,
            attempt: self.stamp_attempt,
            event,
        };
        self.seq += 1;
        if self.tx.send(stamped).await.is_err() {
            self.consumer_gone = true;
        }
    }

    async fn error(&mut self, source: ErrorSource, message: String, offending: Option<&str>) {
        let offending = offending.map(|o| truncate(o, OFFENDING_LIMIT).0);
        self.emit(Event::Error {
            source,
            message,
            offending,
        })
        .await;
    }

    async fn input(&mut self, input: Input) {
        let now = self.now();
        self.session.handle(input, now);
        // Boxed: an action (ICE restart) can feed the session another input.
        Box::pin(self.run_actions()).await;
    }

    async fn run(mut self, mut commands: mpsc::Receiver<EngineCommand>) {
        let wall = SystemTime::now();
        if let SignalingTarget::Detect { whep, ws } = self.cfg.target.clone() {
            let (protocol, url, why) = self.detect(&whep, &ws).await;
            self.protocol = protocol;
            self.url = url;
            self.pending_info = Some(why);
        }
        self.emit(Event::SessionStarted {
            target: ice_server::mask_url(self.url.as_str()),
            protocol: self.protocol,
            wall_clock: humantime::format_rfc3339_millis(wall).to_string(),
            unix_ms: wall
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            schema_version: crate::event::SCHEMA_VERSION,
        })
        .await;
        if let Some(message) = self.pending_info.take() {
            self.emit(Event::Info {
                source: ErrorSource::Signaling,
                message,
            })
            .await;
        }
        let now = self.now();
        self.session.start(now);
        self.run_actions().await;
        let mut stack_rx = self.cfg.stack_warnings.then(stack_log::subscribe);
        let mut stats_tick = tokio::time::interval(self.cfg.stats_interval);
        stats_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut commands_open = true;

        while !self.session.is_finished() && !self.consumer_gone {
            let deadline = self
                .session
                .poll_timeout()
                .map(|d| tokio::time::Instant::from_std(self.start + d));
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            let mut no_connect: Option<tokio::sync::oneshot::Receiver<ConnectResult>> = None;
            let mut no_ws: Option<mpsc::Receiver<Incoming>> = None;
            let mut no_peer: Option<mpsc::UnboundedReceiver<PeerEvent>> = None;
            let mut no_http: Option<mpsc::UnboundedReceiver<whep::HttpDone>> = None;
            let wake = {
                let (connect_rx, ws_rx, peer_rx, http_rx) = match self.attempt.as_mut() {
                    Some(a) => (
                        &mut a.connect_rx,
                        &mut a.ws_rx,
                        &mut a.peer_rx,
                        &mut a.http_rx,
                    ),
                    None => (&mut no_connect, &mut no_ws, &mut no_peer, &mut no_http),
                };
                tokio::select! {
                    biased;
                    cmd = commands.recv(), if commands_open => Wake::Command(cmd),
                    res = oneshot_opt(connect_rx) => Wake::Connected(res),
                    Some(frame) = recv_opt(ws_rx) => Wake::Frame(frame),
                    Some(ev) = recv_opt_unbounded(peer_rx) => Wake::Peer(ev),
                    Some(done) = recv_opt_unbounded(http_rx) => Wake::Http(done),
                    Some(line) = recv_opt_unbounded(&mut stack_rx) => Wake::Stack(line),
                    Some(r) = recv_opt_unbounded(&mut self.probe_rx) => Wake::Probe(Box::new(r)),
                    _ = sleep => Wake::Timer,
                    _ = stats_tick.tick() => Wake::Stats,
                }
            };
            match wake {
                Wake::Command(cmd) => self.command(cmd, &mut commands_open).await,
                Wake::Connected(res) => self.on_connected(res).await,
                Wake::Frame(frame) => self.on_incoming(frame).await,
                Wake::Peer(ev) => self.on_peer(ev).await,
                Wake::Http(done) => self.on_http(done).await,
                Wake::Timer => {
                    let now = self.now();
                    self.session.handle_timeout(now);
                    self.run_actions().await;
                }
                Wake::Stats => self.poll_stats().await,
                Wake::Stack(line) => self.on_stack_log(line).await,
                Wake::Probe(result) => {
                    self.emit(Event::ProbeResult { result: *result }).await;
                }
            }
        }
        // The stream ends when the sender is dropped (after `ended`).
    }

    /// Pick the protocol for a page URL: WHEP when its endpoint answers OPTIONS with 2xx or an auth
    /// challenge, the WebSocket protocol otherwise.
    async fn detect(
        &mut self,
        whep_url: &url::Url,
        ws_url: &url::Url,
    ) -> (Protocol, url::Url, String) {
        let Some(client) = self.http_client.clone() else {
            return (
                Protocol::Ws,
                ws_url.clone(),
                "no HTTP client: using the WebSocket protocol".into(),
            );
        };
        let (_, fut) = client.request_detached("OPTIONS", whep_url);
        match tokio::time::timeout(Duration::from_secs(5), fut).await {
            Ok(Ok(status)) if (200..300).contains(&status) || status == 401 || status == 403 => (
                Protocol::Whep,
                whep_url.clone(),
                format!(
                    "protocol: WHEP (OPTIONS {} answered HTTP {status})",
                    ice_server::mask_url(whep_url.as_str())
                ),
            ),
            Ok(Ok(status)) => (
                Protocol::Ws,
                ws_url.clone(),
                format!(
                    "protocol: the legacy WebSocket reader (OPTIONS {} answered HTTP {status}, no WHEP endpoint; use --protocol whep to force it)",
                    ice_server::mask_url(whep_url.as_str())
                ),
            ),
            Ok(Err(e)) => (
                Protocol::Ws,
                ws_url.clone(),
                format!("protocol: the legacy WebSocket reader (WHEP probe failed: {e})"),
            ),
            Err(_) => (
                Protocol::Ws,
                ws_url.clone(),
                "protocol: the legacy WebSocket reader (WHEP probe timed out after 5 s)".into(),
            ),
        }
    }

    /// Probe, in the background, the ICE servers of this attempt not yet probed in the session: they
    /// answer what the peer connection cannot (why no relay: refused credentials or no answer; TURN over
    /// TCP/TLS, which this stack cannot use).
    fn start_probes(&mut self, specs: &[IceServerSpec]) {
        if !self.cfg.probe {
            return;
        }
        let fresh: Vec<IceServerSpec> = specs
            .iter()
            .filter(|s| {
                let key = format!("{:?}|{:?}", s.urls, s.username);
                self.probed.insert(key)
            })
            .cloned()
            .collect();
        if fresh.is_empty() {
            return;
        }
        let opts = crate::probe::ProbeOptions {
            insecure: self.cfg.insecure,
            ..crate::probe::ProbeOptions::default()
        };
        let tx = self.probe_tx.clone();
        tokio::spawn(async move {
            for spec in fresh {
                for r in crate::probe::probe_server(&spec, &opts).await {
                    if tx.send(r).is_err() {
                        return;
                    }
                }
            }
        });
    }

    /// A warning logged by the WebRTC stack: reported once per attempt per distinct text (a dead network
    /// makes it log the same line for every packet).
    async fn on_stack_log(&mut self, line: String) {
        let now = self.now();
        let Some(a) = self.attempt.as_mut() else {
            return;
        };
        // At the start of checking the agent logs this once or twice before the remote candidates are
        // in: only a condition that lasts is worth a warning (e.g. every candidate was unusable).
        if line.contains("pingAllCandidates called with no candidate pairs") {
            let first = *a.no_pairs_since.get_or_insert(now);
            if now.saturating_sub(first) < NO_PAIRS_GRACE || a.no_pairs_reported {
                return;
            }
            a.no_pairs_reported = true;
            let message = format!(
                "ICE has had no candidate pair to check for {}: no usable local/remote candidate combination ({line})",
                humantime::format_duration(Duration::from_secs(
                    now.saturating_sub(first).as_secs()
                ))
            );
            self.emit(Event::Warning {
                source: ErrorSource::Stack,
                message,
            })
            .await;
            return;
        }
        let key = line
            .chars()
            .filter(|c| !c.is_ascii_digit())
            .collect::<String>();
        let n = a.stack_seen.entry(key).or_insert(0);
        *n += 1;
        if *n > 1 {
            return;
        }
        // webrtc-rs also logs harmless races at WARN (a check that arrives before the remote
        // credentials): only known failure messages are warnings, the rest is information.
        let event = if stack_log::is_significant(&line) {
            Event::Warning {
                source: ErrorSource::Stack,
                message: line,
            }
        } else {
            Event::Info {
                source: ErrorSource::Stack,
                message: line,
            }
        };
        self.emit(event).await;
    }

    async fn command(&mut self, cmd: Option<EngineCommand>, open: &mut bool) {
        match cmd {
            Some(EngineCommand::Restart) => self.input(Input::ManualRestart).await,
            Some(EngineCommand::Stop) => self.input(Input::Stop).await,
            Some(EngineCommand::IceRestart) => self.input(Input::ManualIceRestart).await,
            None => {
                // Every command sender is gone: nobody can stop us any more but the duration.
                *open = false;
            }
        }
    }

    async fn run_actions(&mut self) {
        while let Some(action) = self.session.poll_action() {
            match action {
                Action::StartAttempt(n) => self.start_attempt(n).await,
                Action::EndAttempt { phase } => self.end_attempt(phase).await,
                Action::Emit(e) => self.emit(*e).await,
                Action::Finish => {}
                Action::IceRestart { reason } => match self.protocol {
                    Protocol::Whep => self.whep_ice_restart(reason).await,
                    Protocol::Ws => {
                        self.emit(Event::Warning {
                            source: ErrorSource::Signaling,
                            message: "the WebSocket protocol has no way to renegotiate ICE: press r for a full restart".into(),
                        })
                        .await;
                    }
                },
            }
        }
    }

    async fn start_attempt(&mut self, n: u32) {
        self.stamp_attempt = n;
        self.emit(Event::AttemptStarted { attempt: n }).await;
        self.emit(Event::SignalingConnecting {
            url: ice_server::mask_url(self.url.as_str()),
        })
        .await;
        let mut attempt = Attempt::new();
        if self.protocol == Protocol::Whep {
            self.attempt = Some(attempt);
            let url = self.url.clone();
            self.whep_start(url).await;
            return;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let url = self.url.clone();
        let opts = ConnectOptions {
            headers: self.cfg.headers.clone(),
            insecure: self.cfg.insecure,
        };
        attempt.connect_task = Some(tokio::spawn(async move {
            let _ = tx.send(ws_client::connect(&url, &opts).await);
        }));
        attempt.connect_rx = Some(rx);
        self.attempt = Some(attempt);
    }

    async fn end_attempt(&mut self, phase: Phase) {
        if self.protocol == Protocol::Whep {
            self.whep_delete().await;
        }
        let Some(mut a) = self.attempt.take() else {
            return;
        };
        for t in a.tasks.drain(..) {
            t.abort();
        }
        if let Some(t) = a.connect_task.take() {
            t.abort();
        }
        if let Some(ws) = a.ws.take() {
            ws.close().await;
            self.emit(Event::SignalingClosed {
                phase,
                code: Some(1000),
                reason: None,
                local: true,
            })
            .await;
        }
        if let Some(peer) = a.peer.take() {
            // Bounded: a wedged stack must not stall the restart loop.
            let _ = tokio::time::timeout(Duration::from_secs(3), peer.close()).await;
        }
    }

    async fn on_connected(&mut self, res: Option<ConnectResult>) {
        let Some(a) = self.attempt.as_mut() else {
            return;
        };
        a.connect_rx = None;
        a.connect_task = None;
        match res {
            Some(Ok((ws, status, elapsed_ms, rx))) => {
                a.ws = Some(ws);
                a.ws_rx = Some(rx);
                self.emit(Event::SignalingConnected {
                    http_status: status,
                    elapsed_ms,
                })
                .await;
                self.input(Input::SignalingOpened).await;
            }
            Some(Err(e)) => {
                self.emit(Event::SignalingFailed {
                    error: e.message.clone(),
                    http_status: e.http_status,
                    body: e.body.clone().map(|b| truncate(&b, OFFENDING_LIMIT).0),
                })
                .await;
                self.input(Input::SignalingFailed {
                    error: e.message,
                    http_status: e.http_status,
                })
                .await;
            }
            None => {
                self.input(Input::SignalingFailed {
                    error: "connect task ended unexpectedly".into(),
                    http_status: None,
                })
                .await;
            }
        }
    }

    async fn on_incoming(&mut self, frame: Incoming) {
        match frame {
            Incoming::Text(text) => self.on_text(text).await,
            Incoming::Binary(len) => {
                self.emit(Event::MessageReceived {
                    kind: MessageKind::Invalid,
                    size: len,
                    text: format!("<binary frame, {len} bytes>"),
                    truncated: false,
                })
                .await;
                let msg =
                    format!("binary frame of {len} bytes: the protocol uses text frames only");
                self.error(ErrorSource::Protocol, msg.clone(), None).await;
                self.input(Input::ProtocolError(msg)).await;
            }
            Incoming::Closed {
                code,
                reason,
                error,
            } => {
                let phase = self.session.phase();
                if let Some(a) = self.attempt.as_mut() {
                    a.ws = None;
                    a.ws_rx = None;
                }
                if let Some(err) = error {
                    self.emit(Event::Warning {
                        source: ErrorSource::Signaling,
                        message: format!("signaling connection ended: {err}"),
                    })
                    .await;
                }
                self.emit(Event::SignalingClosed {
                    phase,
                    code,
                    reason,
                    local: false,
                })
                .await;
                self.input(Input::SocketClosed).await;
            }
        }
    }

    async fn on_text(&mut self, text: String) {
        let size = text.len();
        let parsed = wsproto::parse_message(&text);
        let kind = match &parsed {
            Ok(m) => wsproto::kind_of(m),
            Err(e) => e.kind,
        };
        let (shown, truncated) = truncate(&text, EVENT_TEXT_LIMIT);
        self.emit(Event::MessageReceived {
            kind,
            size,
            text: shown,
            truncated,
        })
        .await;
        let phase = self.session.phase();
        let msg = match parsed {
            Ok(m) => m,
            Err(e) => {
                let message = format!("bad message from the server: {}", e.message);
                self.error(ErrorSource::Protocol, message.clone(), Some(&text))
                    .await;
                self.input(Input::ProtocolError(message)).await;
                return;
            }
        };
        match (msg, phase) {
            (SignalMessage::IceServers(list), Phase::AwaitingIceServers) => {
                self.input(Input::IceServersReceived).await;
                self.negotiate(list).await;
            }
            (SignalMessage::Answer { sdp }, Phase::AwaitingAnswer) => self.on_answer(sdp).await,
            (
                SignalMessage::Candidate(c),
                Phase::AwaitingAnswer | Phase::Negotiating | Phase::Connected,
            ) => self.on_remote_candidate(c).await,
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
                self.error(ErrorSource::Protocol, message.clone(), Some(&text))
                    .await;
                self.input(Input::ProtocolError(message)).await;
            }
        }
    }

    /// ICE servers received over the WebSocket: build the peer connection, create and send the offer.
    async fn negotiate(&mut self, list: Vec<wsproto::IceServerEntry>) {
        let specs: Vec<IceServerSpec> = list
            .into_iter()
            .map(|e| IceServerSpec {
                urls: e.urls,
                username: e.username,
                credential: e.credential,
                source: crate::event::IceServerSource::Signaling,
            })
            .collect();
        let Some(sdp) = self.build_peer_and_offer(specs).await else {
            return;
        };
        if self
            .send(MessageKind::Offer, wsproto::offer_message(&sdp))
            .await
        {
            self.input(Input::OfferSent).await;
        }
    }

    /// Merge the server's ICE servers with the command line's, report them (and the unusable ones), build
    /// the peer connection and create the offer. Errors are reported and restart the attempt (`None`).
    async fn build_peer_and_offer(&mut self, server_specs: Vec<IceServerSpec>) -> Option<String> {
        let mut specs = server_specs;
        specs.extend(self.cfg.ice_servers.iter().cloned());
        let mut skipped = Vec::new();
        let mut infos: Vec<IceServerInfo> = Vec::new();
        let mut usable = Vec::new();
        for spec in &specs {
            let mut urls = Vec::new();
            for u in &spec.urls {
                match ice_server::unsupported_reason(u) {
                    Some(reason) => skipped.push(SkippedIceServer {
                        url: ice_server::mask_url(u),
                        reason,
                    }),
                    None => urls.push(u.clone()),
                }
            }
            infos.push(ice_server::to_info(spec));
            if !urls.is_empty() {
                usable.push(IceServerConfig {
                    urls,
                    username: spec.username.clone(),
                    credential: spec.credential.clone(),
                });
            }
        }
        self.emit(Event::IceServers {
            servers: infos,
            skipped: skipped.clone(),
            policy: if self.cfg.relay_only { "relay" } else { "all" }.into(),
        })
        .await;
        for s in &skipped {
            self.emit(Event::Warning {
                source: ErrorSource::Config,
                message: format!("ICE server {} skipped: {}", s.url, s.reason),
            })
            .await;
        }
        let cfg = ViewerConfig {
            ice_servers: usable,
            relay_only: self.cfg.relay_only,
            audio: self.cfg.audio,
            bind: self.cfg.bind.clone(),
            ice_timeouts: self.cfg.ice_timeouts,
        };
        self.viewer_config = Some(cfg.clone());
        self.start_probes(&specs);
        let (ptx, prx) = mpsc::unbounded_channel();
        let peer = match ViewerPeer::build(&cfg, ptx).await {
            Ok(p) => Arc::new(p),
            Err(e) => {
                self.error(ErrorSource::Peer, e.to_string(), None).await;
                self.input(Input::PeerError(e.to_string())).await;
                return None;
            }
        };
        if let Some(a) = self.attempt.as_mut() {
            a.peer = Some(peer.clone());
            a.peer_rx = Some(prx);
        }
        let sdp = match peer.create_offer().await {
            Ok(s) => s,
            Err(e) => {
                self.error(ErrorSource::Peer, e.to_string(), None).await;
                self.input(Input::PeerError(e.to_string())).await;
                return None;
            }
        };
        let (mid, ufrag) = mid_and_ufrag(&sdp);
        if let Some(a) = self.attempt.as_mut() {
            a.local_mid = mid;
            a.local_ufrag = ufrag;
        }
        Some(sdp)
    }

    /// Send a text frame and record it; on failure the socket is as good as closed.
    async fn send(&mut self, kind: MessageKind, text: String) -> bool {
        let Some(ws) = self.attempt.as_mut().and_then(|a| a.ws.as_mut()) else {
            return false;
        };
        match ws.send(text.clone()).await {
            Ok(()) => {
                self.emit(Event::MessageSent {
                    kind,
                    size: text.len(),
                    text,
                })
                .await;
                true
            }
            Err(e) => {
                self.emit(Event::Warning {
                    source: ErrorSource::Signaling,
                    message: format!("could not send {kind:?} message: {e}"),
                })
                .await;
                false
            }
        }
    }

    async fn on_answer(&mut self, sdp: String) {
        let Some(peer) = self.attempt.as_ref().and_then(|a| a.peer.clone()) else {
            return;
        };
        if let Err(e) = peer.set_answer(&sdp).await {
            let message = e.to_string();
            self.error(ErrorSource::Protocol, message.clone(), Some(&sdp))
                .await;
            self.input(Input::ProtocolError(message)).await;
            return;
        }
        let pending = match self.attempt.as_mut() {
            Some(a) => {
                a.answer_applied = true;
                std::mem::take(&mut a.pending_remote)
            }
            None => return,
        };
        self.input(Input::AnswerApplied).await;
        for c in pending {
            self.add_remote(&peer, c).await;
        }
    }

    async fn on_remote_candidate(&mut self, c: CandidateMessage) {
        let line = c.candidate.trim();
        if line.is_empty() {
            // Some stacks send an empty candidate as end-of-candidates: nothing to add.
            return;
        }
        let parsed = crate::proto::candidate::parse_candidate(line);
        let (candidate, error) = match parsed {
            Ok(cand) => (Some(cand), None),
            Err(e) => (None, Some(format!("candidate does not parse: {e}"))),
        };
        let applied = self.attempt.as_ref().is_some_and(|a| a.answer_applied);
        let peer = self.attempt.as_ref().and_then(|a| a.peer.clone());
        // Report a malformed candidate and go on: one bad candidate is not worth a restart.
        let mut stack_error = None;
        if error.is_none() {
            if applied {
                if let Some(peer) = &peer {
                    stack_error = self.add_remote_to_stack(peer, &c, candidate.as_ref()).await;
                }
            } else if let Some(a) = self.attempt.as_mut() {
                a.pending_remote.push(c.clone());
            }
        }
        self.emit(Event::RemoteCandidate {
            candidate,
            raw: truncate(&c.candidate, OFFENDING_LIMIT).0,
            sdp_mid: c.sdp_mid.clone(),
            sdp_mline_index: c.sdp_mline_index,
            error: error.clone().or(stack_error.clone()),
        })
        .await;
        if let Some(e) = error.or(stack_error) {
            self.error(ErrorSource::Protocol, e, Some(&c.candidate))
                .await;
        }
    }

    /// Add a buffered candidate after the answer.
    async fn add_remote(&mut self, peer: &Arc<ViewerPeer>, c: CandidateMessage) {
        let parsed = crate::proto::candidate::parse_candidate(c.candidate.trim()).ok();
        if let Some(e) = self.add_remote_to_stack(peer, &c, parsed.as_ref()).await {
            self.error(ErrorSource::Peer, e, Some(&c.candidate)).await;
        }
    }

    async fn add_remote_to_stack(
        &mut self,
        peer: &Arc<ViewerPeer>,
        c: &CandidateMessage,
        parsed: Option<&crate::event::Candidate>,
    ) -> Option<String> {
        let line = c.candidate.trim();
        let line = line.strip_prefix("a=").unwrap_or(line);
        peer.add_remote_candidate(
            line,
            parsed.map(|p| (p.address.clone(), p.port, p.typ)),
            c.sdp_mid.clone(),
            c.sdp_mline_index,
            c.username_fragment.clone(),
        )
        .await
        .err()
        .map(|e| e.to_string())
    }

    async fn on_peer(&mut self, ev: PeerEvent) {
        match ev {
            PeerEvent::LocalCandidate(candidate, line) => {
                self.emit(Event::LocalCandidate { candidate }).await;
                if self.protocol == Protocol::Whep {
                    self.whep_local_candidate(Some(line)).await;
                    return;
                }
                let (mid, ufrag) = self
                    .attempt
                    .as_ref()
                    .map(|a| (a.local_mid.clone(), a.local_ufrag.clone()))
                    .unwrap_or_default();
                let msg = CandidateMessage {
                    candidate: line,
                    sdp_mid: Some(mid.unwrap_or_else(|| "0".into())),
                    sdp_mline_index: Some(0),
                    username_fragment: ufrag,
                };
                self.send(MessageKind::Candidate, wsproto::candidate_message(&msg))
                    .await;
            }
            PeerEvent::GatheringComplete => {
                self.emit(Event::LocalGatheringComplete).await;
                if self.protocol == Protocol::Whep {
                    self.whep_local_candidate(None).await;
                }
            }
            PeerEvent::State(kind, state) => {
                self.emit(Event::StateChanged {
                    kind,
                    state: state.clone(),
                })
                .await;
                match kind {
                    StateKind::IceConnection => {
                        if let Some(a) = self.attempt.as_mut() {
                            a.ice_state = state.clone();
                        }
                        self.input(Input::IceState(state)).await
                    }
                    StateKind::PeerConnection => {
                        let connected = state == "connected";
                        let ice_up = self.attempt.as_ref().is_some_and(|a| {
                            matches!(a.ice_state.as_str(), "connected" | "completed")
                        });
                        if state == "failed" && !ice_up {
                            // webrtc-rs 0.21.1 reports the peer connection `failed` just before ICE
                            // `failed` when the checks run out; restarting on the first would hide
                            // that ICE, not DTLS, is what failed.
                            self.input(Input::IceState("failed".into())).await;
                            return;
                        }
                        self.input(Input::PeerState(state)).await;
                        if connected {
                            // Show the pair and DTLS at once rather than at the next tick.
                            self.poll_stats().await;
                        }
                    }
                    _ => {}
                }
            }
            PeerEvent::Track { kind, track_id } => {
                self.emit(Event::TrackAdded {
                    kind,
                    track_id,
                    mid: None,
                    ssrc: None,
                })
                .await;
            }
            PeerEvent::FirstRtp {
                kind,
                ssrc,
                payload_type,
            } => {
                self.emit(Event::FirstMedia {
                    kind,
                    ssrc,
                    payload_type,
                })
                .await;
                self.input(Input::MediaReceived).await;
            }
        }
    }

    async fn poll_stats(&mut self) {
        let Some(peer) = self.attempt.as_ref().and_then(|a| a.peer.clone()) else {
            return;
        };
        let sample: StatsSample = peer.stats().await;
        let now = Instant::now();
        let Some(a) = self.attempt.as_mut() else {
            return;
        };
        let mut out = Vec::new();
        if !sample.pairs.is_empty() && sample.pairs != a.last_pairs {
            a.last_pairs = sample.pairs.clone();
            out.push(Event::CandidatePairs {
                pairs: sample.pairs.clone(),
            });
        }
        if let Some(t) = &sample.transport {
            if t.dtls_state != a.dtls_state && !t.dtls_state.is_empty() {
                a.dtls_state = t.dtls_state.clone();
                out.push(Event::StateChanged {
                    kind: StateKind::Dtls,
                    state: t.dtls_state.clone(),
                });
            }
            if t.dtls_state == "connected" && !a.transport_reported && !t.srtp_cipher.is_empty() {
                a.transport_reported = true;
                out.push(Event::Transport {
                    dtls_role: t.dtls_role.clone(),
                    tls_version: t.tls_version.clone(),
                    dtls_cipher: t.dtls_cipher.clone(),
                    srtp_cipher: t.srtp_cipher.clone(),
                });
            }
            // Report a new selection, and once more when both of its ends become known (a prflx remote
            // is only reachable through the receiver's transport, which appears with the first track).
            if !t.selected_pair_id.is_empty()
                && let Some(pair) = sample.pairs.iter().find(|p| p.id == t.selected_pair_id)
                && (t.selected_pair_id != a.selected_id
                    || (!a.selected_complete && pair.local.is_some() && pair.remote.is_some()))
            {
                a.selected_id = t.selected_pair_id.clone();
                a.selected_complete = pair.local.is_some() && pair.remote.is_some();
                out.push(Event::SelectedPair {
                    pair: pair.clone(),
                    changes: t.selected_pair_changes,
                });
            }
        }
        for t in &sample.tracks {
            let total = t.bytes_received + t.header_bytes_received;
            let bitrate_bps = match a.tracks.get(&t.ssrc) {
                Some(prev) => {
                    let dt = now.duration_since(prev.at).as_secs_f64();
                    if dt > 0.05 {
                        (total.saturating_sub(prev.bytes) as f64) * 8.0 / dt
                    } else {
                        continue;
                    }
                }
                None => {
                    // No rate from a single sample: remember it and report from the next poll.
                    a.tracks.insert(
                        t.ssrc,
                        TrackPrev {
                            bytes: total,
                            at: now,
                        },
                    );
                    continue;
                }
            };
            a.tracks.insert(
                t.ssrc,
                TrackPrev {
                    bytes: total,
                    at: now,
                },
            );
            if t.packets_received == 0 {
                continue;
            }
            let jitter_ms = t
                .clock_rate
                .filter(|r| *r > 0)
                .map(|r| t.jitter_rtp_units / f64::from(r) * 1000.0);
            out.push(Event::TrackStats {
                stats: TrackStats {
                    ssrc: t.ssrc,
                    kind: t.kind.clone(),
                    codec: t.codec.clone(),
                    clock_rate: t.clock_rate,
                    mid: t.mid.clone(),
                    bytes_received: t.bytes_received,
                    header_bytes_received: t.header_bytes_received,
                    packets_received: t.packets_received,
                    bitrate_bps,
                    packets_lost: t.packets_lost,
                    jitter_ms,
                    nack_count: t.nack_count,
                    pli_count: t.pli_count,
                    fir_count: t.fir_count,
                    keyframes: t.keyframes,
                },
            });
        }
        for e in out {
            self.emit(e).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mid_and_ufrag_from_offer() {
        let sdp = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=ice-ufrag:abcd\r\na=mid:0\r\n";
        assert_eq!(
            mid_and_ufrag(sdp),
            (Some("0".to_owned()), Some("abcd".to_owned()))
        );
        assert_eq!(mid_and_ufrag(""), (None, None));
    }
}
