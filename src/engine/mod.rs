//! The engine: the only code that touches sockets, webrtc-rs (via [`crate::webrtc_adapter`]) and the clock.
//!
//! [`Engine::spawn`] starts one owning tokio task, a thin driver between the adapters and the sans-IO
//! state machines: the [`crate::session`] restart policy and the protocol's [`crate::signaling`] client.
//! It moves WebSocket frames, HTTP exchanges, timers and peer-connection events to them, carries out
//! what they ask (send, request, apply to the peer connection), and emits the events. It returns an
//! [`EngineHandle`]: a receiver of [`Stamped`] events (bounded; the engine waits rather than drop) and a
//! command sender.
//!
//! - [`attempt`]: what one attempt owns (channels, sockets, peer connection);
//! - [`peer`]: building the peer connection and carrying out the clients' peer requests;
//! - [`http`] and [`ws_client`]: the HTTP and WebSocket adapters;
//! - [`stats`]: stats polling; [`stack_log`]: the stack's logged warnings; [`detect`]: protocol detection.

mod attempt;
mod detect;
pub mod event_channel;
mod http;
mod peer;
pub mod replay;
pub mod stack_log;
mod stats;
pub mod ws_client;

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;

pub use event_channel::{EventReceiver, EventSender};

use crate::event::{ErrorSource, Event, Phase, Protocol, Stamped};
use crate::proto::ice_server::{self, IceServerSpec};
use crate::session::{Action, Input, Policy, Session};
use crate::signaling::{self, Client, ClientConfig, HttpRequest, Output, WsFrame};
use crate::webrtc_adapter::IceTimeouts;
use crate::webrtc_adapter::viewer::{PeerEvent, ViewerConfig};
use attempt::{Attempt, ConnectResult, HttpDone};
use ws_client::{ConnectOptions, Incoming};

pub use crate::signaling::{EVENT_TEXT_LIMIT, OFFENDING_LIMIT};

/// Commands a consumer (TUI, signal handler) can send to a running engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineCommand {
    /// Abandon the current attempt and start a new one now (restart cause `manual`).
    Restart,
    /// End the session cleanly (socket closed, peer connection closed), then emit `ended`.
    Stop,
    /// Restart ICE within the current attempt (WHEP: a PATCH with new credentials).
    IceRestart,
    /// Control a replay (`rtcscope replay`); a live session ignores it.
    Replay(ReplayControl),
}

/// What the user can do to a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayControl {
    /// Pause, or resume.
    TogglePause,
    /// Deliver the next event now (while paused).
    Step,
    /// Twice as fast (up to 64×).
    Faster,
    /// Half as fast (down to 1/8×).
    Slower,
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
    pub events: EventReceiver,
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
    /// CA certificates trusted besides the Mozilla roots (DER, from `--ca-file`): signaling, WHEP
    /// and TURN over TLS.
    pub ca_roots: Vec<Vec<u8>>,
    /// UDP receive buffer asked for each socket, in bytes.
    pub recv_buffer: usize,
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
    /// How often stats are polled while ICE is new, checking or disconnected, to catch the checklist's
    /// transitions (a pair fails after about 1.6 s of checks); at most `stats_interval` otherwise.
    pub checklist_interval: Duration,
    /// Probe every ICE server the session uses (STUN binding, TURN allocate, also over TCP/TLS) alongside
    /// the negotiation, once per server per session, as `probe_result` events.
    pub probe: bool,
    /// Report the WebRTC stack's logged warnings as `warning` events (only when this process runs a
    /// single viewer: the log does not say which peer connection a record is about).
    pub stack_warnings: bool,
    /// Emit events with secrets as received (`--show-secrets`); by default every event goes through
    /// [`crate::secrets::redact_event`] before it leaves the engine.
    pub show_secrets: bool,
}

/// The engine. See the module docs.
#[derive(Debug)]
pub struct Engine;

impl Engine {
    /// Start a session. Must be called inside a tokio runtime.
    pub fn spawn(config: EngineConfig) -> EngineHandle {
        // rustls needs one process-wide crypto provider; webrtc-rs uses ring too.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (events_tx, events) = event_channel::channel();
        let (commands, commands_rx) = mpsc::channel(16);
        let driver = Driver::new(config, events_tx);
        tokio::spawn(driver.run(commands_rx));
        EngineHandle { events, commands }
    }
}

struct Driver {
    cfg: EngineConfig,
    /// The protocol in use (resolved from [`SignalingTarget::Detect`] at the start).
    protocol: Protocol,
    /// The URL signaled to (WebSocket URL or WHEP endpoint).
    url: url::Url,
    /// The protocol's sans-IO client.
    client: Box<dyn Client>,
    http_client: Result<http::HttpClient, String>,
    /// How this session's peer connections are built (set at the first build).
    viewer_config: Option<ViewerConfig>,
    /// An informational line to emit right after `session_started` (protocol detection).
    pending_info: Option<String>,
    /// ICE servers already probed in this session (by URL and username).
    probed: std::collections::HashSet<String>,
    /// Probe results from background tasks.
    probe_tx: mpsc::UnboundedSender<crate::probe::ProbeResult>,
    probe_rx: Option<mpsc::UnboundedReceiver<crate::probe::ProbeResult>>,
    tx: EventSender,
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
    Http(HttpDone),
    Stack(String),
    Probe(Box<crate::probe::ProbeResult>),
    Connected(Option<ConnectResult>),
    Frame(Incoming),
    Peer(PeerEvent),
    Timer,
    Stats,
}

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

impl Driver {
    fn new(cfg: EngineConfig, tx: EventSender) -> Self {
        let session = Session::new(cfg.policy);
        let (probe_tx, probe_rx) = mpsc::unbounded_channel();
        let (protocol, url) = match &cfg.target {
            SignalingTarget::Ws(u) => (Protocol::Ws, u.clone()),
            SignalingTarget::Whep(u) | SignalingTarget::Detect { whep: u, .. } => {
                (Protocol::Whep, u.clone())
            }
        };
        let client = signaling::client_for(protocol, client_config(&cfg, &url));
        Self {
            protocol,
            url,
            client,
            http_client: http::HttpClient::new(cfg.insecure, &cfg.ca_roots),
            viewer_config: None,
            pending_info: None,
            probed: std::collections::HashSet::new(),
            probe_tx,
            probe_rx: Some(probe_rx),
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
        let event = if self.cfg.show_secrets {
            event
        } else {
            crate::secrets::redact_event(&event)
        };
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

    async fn input(&mut self, input: Input) {
        let now = self.now();
        self.session.handle(input, now);
        // Boxed: an action (end of attempt) feeds the signaling client, which can feed the session.
        Box::pin(self.run_actions()).await;
    }

    /// Feed the signaling client, then carry out everything it asks.
    async fn signal(&mut self, input: signaling::Input) {
        self.client.handle(input);
        self.drive_signaling().await;
    }

    /// Drain the signaling client's outputs (the single-mutation invariant: until `None`).
    async fn drive_signaling(&mut self) {
        while let Some(output) = self.client.poll_output() {
            match output {
                Output::Event(e) => self.emit(e).await,
                Output::Session(i) => self.input(i).await,
                Output::WsConnect(url) => self.ws_connect(url),
                Output::WsSend(text) => {
                    let result = self.ws_send(text).await;
                    self.client.handle(signaling::Input::WsSent(result));
                }
                Output::WsClose => {
                    if let Some(ws) = self.attempt.as_mut().and_then(|a| a.ws.take()) {
                        ws.close().await;
                    }
                }
                Output::Http(request) => self.http(request).await,
                Output::Peer(request) => {
                    let result = self.peer_request(request).await;
                    self.client.handle(signaling::Input::Peer(result));
                }
            }
        }
    }

    async fn run(mut self, mut commands: mpsc::Receiver<EngineCommand>) {
        let wall = SystemTime::now();
        if let SignalingTarget::Detect { whep, ws } = self.cfg.target.clone() {
            let (protocol, url, why) = self.detect(&whep, &ws).await;
            self.protocol = protocol;
            self.url = url;
            self.pending_info = Some(why);
            self.client = signaling::client_for(self.protocol, client_config(&self.cfg, &self.url));
        }
        self.emit(Event::SessionStarted {
            target: ice_server::mask_url(self.url.as_str()),
            protocol: self.client.protocol(),
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
        let mut stats_tick = tokio::time::interval(
            self.cfg
                .checklist_interval
                .min(self.cfg.stats_interval)
                .max(Duration::from_millis(10)),
        );
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
            let mut no_http: Option<mpsc::UnboundedReceiver<HttpDone>> = None;
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
                Wake::Frame(frame) => self.on_frame(frame).await,
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

    async fn command(&mut self, cmd: Option<EngineCommand>, open: &mut bool) {
        match cmd {
            Some(EngineCommand::Restart) => self.input(Input::ManualRestart).await,
            Some(EngineCommand::Stop) => self.input(Input::Stop).await,
            Some(EngineCommand::IceRestart) => self.input(Input::ManualIceRestart).await,
            Some(EngineCommand::Replay(_)) => {}
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
                Action::IceRestart { reason } => {
                    self.signal(signaling::Input::IceRestart { reason }).await
                }
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
        self.attempt = Some(Attempt::new());
        self.signal(signaling::Input::Start).await;
    }

    async fn end_attempt(&mut self, phase: Phase) {
        // The client closes what is open (WebSocket close, WHEP DELETE) while the attempt still exists.
        self.signal(signaling::Input::Close { phase }).await;
        let Some(mut a) = self.attempt.take() else {
            return;
        };
        for t in a.tasks.drain(..) {
            t.abort();
        }
        for (t, keys) in a.probes.drain(..) {
            if !t.is_finished() {
                t.abort();
                for k in keys {
                    self.probed.remove(&k);
                }
            }
        }
        if let Some(t) = a.connect_task.take() {
            t.abort();
        }
        if let Some(ws) = a.ws.take() {
            ws.close().await;
        }
        if let Some(peer) = a.peer.take() {
            // Bounded: a wedged stack must not stall the restart loop.
            let _ = tokio::time::timeout(Duration::from_secs(3), peer.close()).await;
        }
    }

    /// Open the WebSocket in the background; the result comes back as [`Wake::Connected`].
    fn ws_connect(&mut self, url: url::Url) {
        let Some(attempt) = self.attempt.as_mut() else {
            return;
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let opts = ConnectOptions {
            headers: self.cfg.headers.clone(),
            insecure: self.cfg.insecure,
            ca_roots: self.cfg.ca_roots.clone(),
        };
        attempt.connect_task = Some(tokio::spawn(async move {
            let _ = tx.send(ws_client::connect(&url, &opts).await);
        }));
        attempt.connect_rx = Some(rx);
    }

    async fn on_connected(&mut self, res: Option<ConnectResult>) {
        let Some(a) = self.attempt.as_mut() else {
            return;
        };
        a.connect_rx = None;
        a.connect_task = None;
        match res {
            Some(Ok((ws, http_status, elapsed_ms, rx))) => {
                a.ws = Some(ws);
                a.ws_rx = Some(rx);
                self.signal(signaling::Input::WsOpened {
                    http_status,
                    elapsed_ms,
                })
                .await;
            }
            Some(Err(e)) => {
                self.signal(signaling::Input::WsConnectFailed {
                    error: e.message,
                    http_status: e.http_status,
                    body: e.body,
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

    async fn on_frame(&mut self, frame: Incoming) {
        if matches!(frame, WsFrame::Closed { .. })
            && let Some(a) = self.attempt.as_mut()
        {
            a.ws = None;
            a.ws_rx = None;
        }
        self.signal(signaling::Input::WsFrame(frame)).await;
    }

    /// Send a text frame; on failure the socket is as good as closed.
    async fn ws_send(&mut self, text: String) -> Result<(), String> {
        match self.attempt.as_mut().and_then(|a| a.ws.as_mut()) {
            Some(ws) => ws.send(text).await,
            None => Err("the signaling connection is not open".into()),
        }
    }

    /// Send an HTTP request: in the background (the answer comes back as [`Wake::Http`]), or right
    /// away within its time limit when the client must have the answer before going on.
    async fn http(&mut self, request: HttpRequest) {
        let id = request.id;
        let client = match &self.http_client {
            Ok(c) => c.clone(),
            Err(e) => {
                let error = e.clone();
                self.client.handle(signaling::Input::HttpFailed {
                    id,
                    error,
                    elapsed_ms: 0.0,
                });
                return;
            }
        };
        let fut = client.send(&request);
        let started = Instant::now();
        if let Some(limit) = request.wait_at_most {
            let result = match tokio::time::timeout(limit, fut).await {
                Ok(r) => r,
                Err(_) => Err(format!(
                    "no answer within {}",
                    humantime::format_duration(limit)
                )),
            };
            let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
            self.client.handle(http_input(HttpDone {
                id,
                result,
                elapsed_ms,
            }));
            return;
        }
        let Some(a) = self.attempt.as_mut() else {
            return;
        };
        let tx = a.http_tx.clone();
        a.tasks.push(tokio::spawn(async move {
            let result = fut.await;
            let _ = tx.send(HttpDone {
                id,
                result,
                elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
            });
        }));
    }

    async fn on_http(&mut self, done: HttpDone) {
        self.signal(http_input(done)).await;
    }
}

/// Where and as whom the signaling client signals.
fn client_config(cfg: &EngineConfig, url: &url::Url) -> ClientConfig {
    ClientConfig {
        url: url.clone(),
        authorization: http::authorization(url, cfg.bearer.as_deref()),
        headers: cfg.headers.clone(),
    }
}

/// A finished request as the signaling client's input.
fn http_input(done: HttpDone) -> signaling::Input {
    match done.result {
        Ok(response) => signaling::Input::HttpResponse {
            id: done.id,
            response,
            elapsed_ms: done.elapsed_ms,
        },
        Err(error) => signaling::Input::HttpFailed {
            id: done.id,
            error,
            elapsed_ms: done.elapsed_ms,
        },
    }
}
