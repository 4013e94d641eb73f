//! The built-in WebRTC sender (`rtcscope serve`).
//!
//! It speaks, as the server, both protocols a MediaMTX viewer meets:
//! - the legacy MediaMTX (v0.21–v0.22) WebSocket reader protocol on `ws://HOST:PORT/<path>/ws`: it sends
//!   the ICE-server list, answers the viewer's offer and trickles its candidates;
//! - WHEP (MediaMTX v0.23 and later, draft-ietf-wish-whep) on `http://HOST:PORT/<path>/whep`: a full
//!   answer with its candidates, trickle and ICE-restart PATCHes, DELETE (see the `whep` module).
//!
//! Once a peer connection is `connected` it streams a synthetic video track (VP8 or H.264) at the
//! configured bitrate and frame rate. It is the test peer of the project's tests and a user feature: run
//! `serve` on one host and the viewer on another to test a network path end to end.
//!
//! HTTP is served by hyper (HTTP/1.1); the WebSocket runs on hyper's upgraded connection.
//! [`start`] runs it in the background and returns a [`ServeHandle`]; [`run`] is the `serve` command.

pub mod http;
mod media;
pub mod pacing;
pub mod synth;
mod whep;
mod ws;

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinSet;

use crate::proto::ice_server::{self, IceServerSpec};
use crate::proto::ws::{IceServerEntry, ice_servers_message};
use crate::webrtc_adapter::IceServerConfig;
use crate::webrtc_adapter::send_counting::SendDrops;
use crate::webrtc_adapter::sender::SenderConfig;
use crate::webrtc_adapter::sender::VideoCodec;
pub use pacing::Pacing;

/// Time from the ICE-server list being sent to the peer connection reaching `connected` (as MediaMTX).
pub const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);

/// Knobs beyond the command-line options, for tests and demos: see [`start_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeTuning {
    /// Time from the ICE-server list being sent to `connected` before the socket is closed.
    /// Default: [`HANDSHAKE_DEADLINE`] (10 s, as MediaMTX).
    pub handshake_deadline: Duration,
    /// Misbehave on purpose, to exercise a viewer's diagnosis. Default: none.
    pub fault: Option<Fault>,
}

impl Default for ServeTuning {
    fn default() -> Self {
        ServeTuning {
            handshake_deadline: HANDSHAKE_DEADLINE,
            fault: None,
        }
    }
}

/// A deliberate failure, applied to every connection. Each one reproduces a field failure at a known
/// phase; closes are TCP closes without a close frame, as MediaMTX's errors were.
///
/// On WHEP: `CloseAfterIceServers` and `CloseAfterOffer` drop the POST's connection without a response;
/// `NoIce` answers without candidates and ignores trickled ones; `NoMedia` and `StopMediaAfter` act as on
/// the WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Close right after sending the ICE-server list (the viewer sees the socket close before its offer
    /// is answered).
    CloseAfterIceServers,
    /// Read the offer, then close without answering ("after the offer, before the answer").
    CloseAfterOffer,
    /// Answer, but neither trickle candidates nor use the viewer's (candidates in the offer are ignored
    /// too): ICE never connects and the handshake deadline closes the socket.
    NoIce,
    /// Connect, but never send media (the socket stays open).
    NoMedia,
    /// Connect and send media for this long, then stop sending (the socket stays open).
    StopMediaAfter(Duration),
    /// Have no WHEP endpoint (404 on `/<path>/whep`), as MediaMTX before v0.23: a viewer given the page
    /// URL must fall back to the WebSocket protocol.
    NoWhep,
}

/// The signaling protocol of a connection or session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalingKind {
    /// The legacy MediaMTX WebSocket protocol (`/<path>/ws`).
    WebSocket,
    /// WHEP (`/<path>/whep`).
    Whep,
}

/// The request log: the most recent requests, at most [`MAX_RECORDED_REQUESTS`] of them and
/// [`MAX_RECORDED_REQUEST_BYTES`] of text (paths are cut to [`MAX_RECORDED_PATH`] bytes).
#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    entries: std::collections::VecDeque<ServedRequest>,
    bytes: usize,
}

impl RequestLog {
    /// Record one request, forgetting the oldest to stay within both bounds.
    pub(crate) fn push(&mut self, method: &str, path: &str, status: Option<u16>) {
        let (method, _) = crate::sanitize::truncate_bytes(method, 16);
        let (path, _) = crate::sanitize::truncate_bytes(path, MAX_RECORDED_PATH);
        let size = method.len() + path.len();
        while !self.entries.is_empty()
            && (self.entries.len() >= MAX_RECORDED_REQUESTS
                || self.bytes + size > MAX_RECORDED_REQUEST_BYTES)
        {
            if let Some(old) = self.entries.pop_front() {
                self.bytes -= old.method.len() + old.path.len();
            }
        }
        self.bytes += size;
        self.entries.push_back(ServedRequest {
            method,
            path,
            status,
        });
    }

    /// The recorded requests, oldest first.
    pub(crate) fn to_vec(&self) -> Vec<ServedRequest> {
        self.entries.iter().cloned().collect()
    }

    /// Text bytes held.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

/// Bytes of request text (methods and paths) the request log keeps at most.
pub const MAX_RECORDED_REQUEST_BYTES: usize = 1 << 20;
/// A recorded path is cut to this many bytes.
pub const MAX_RECORDED_PATH: usize = 256;

/// One HTTP request the server received, for tests and logs (see [`ServeHandle::requests`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedRequest {
    /// The method (`GET`, `POST`, `PATCH`, …).
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The response status (101 for a WebSocket upgrade); `None` when the connection was dropped
    /// without a response (a deliberate [`Fault`]).
    pub status: Option<u16>,
}

/// How many requests [`ServeHandle::requests`] keeps (the oldest are dropped first).
pub const MAX_RECORDED_REQUESTS: usize = 10_000;

/// How long [`ServeHandle::shutdown`] waits for connections to close before dropping them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// What was sent, totalled over all connections so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SentStats {
    /// WebSocket connections accepted plus WHEP sessions created.
    pub connections: u64,
    /// Connections whose peer connection reached `connected`.
    pub connected: u64,
    /// Video frames written whole.
    pub frames: u64,
    /// Key frames among them.
    pub keyframes: u64,
    /// Bytes of encoded video written (frame payload, before RTP packetization), counted as packets leave.
    pub payload_bytes: u64,
    /// RTP packets sent, from the stack's outbound-rtp stats (polled about once a second while connected,
    /// and once more when a connection ends; retransmissions excluded).
    pub rtp_packets: u64,
    /// Connections open right now.
    pub active: u64,
    /// RTP packets handed to the stack (retransmissions excluded), counted as they are written.
    pub packets_written: u64,
    /// What the sender's own sockets could not send: datagrams lost in this host by failed sends,
    /// and the times a full send buffer held the sender back (nothing lost).
    pub send_drops: SendDrops,
}

/// Something that happened on a connection, for a human log (`rtcscope serve` prints one line each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServeNotice {
    /// A viewer opened the WebSocket, or POSTed a WHEP offer.
    Opened {
        /// Connection (or WHEP session) number, from 1.
        id: u64,
        /// The viewer's address.
        peer: SocketAddr,
        /// The stream path requested (`cam` for `/cam/ws` or `/cam/whep`).
        path: String,
        /// The protocol.
        kind: SignalingKind,
    },
    /// The peer connection reached `connected`; media flows.
    Connected {
        /// Connection number.
        id: u64,
        /// Time since the WebSocket opened.
        after: Duration,
    },
    /// The connection ended.
    Closed {
        /// Connection number.
        id: u64,
        /// Why, in words.
        reason: String,
        /// Frames sent on it.
        frames: u64,
        /// Payload bytes sent on it.
        payload_bytes: u64,
        /// How long it lived.
        lived: Duration,
    },
}

impl fmt::Display for ServeNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeNotice::Opened {
                id,
                peer,
                path,
                kind: SignalingKind::WebSocket,
            } => write!(f, "[{id}] {peer} opened /{path}/ws"),
            ServeNotice::Opened {
                id,
                peer,
                path,
                kind: SignalingKind::Whep,
            } => write!(f, "[{id}] {peer} posted a WHEP offer to /{path}/whep"),
            ServeNotice::Connected { id, after } => write!(
                f,
                "[{id}] connected after {} ms, sending video",
                after.as_millis()
            ),
            ServeNotice::Closed {
                id,
                reason,
                frames,
                payload_bytes,
                lived,
            } => {
                let secs = lived.as_secs_f64();
                let rate = if secs > 0.0 {
                    format!(
                        ", {}",
                        format_bitrate((*payload_bytes as f64 * 8.0 / secs) as u64)
                    )
                } else {
                    String::new()
                };
                write!(
                    f,
                    "[{id}] closed after {secs:.1} s: {reason} ({frames} frames, {payload_bytes} bytes{rate})"
                )
            }
        }
    }
}

#[derive(Default)]
struct Totals {
    connections: AtomicU64,
    connected: AtomicU64,
    frames: AtomicU64,
    keyframes: AtomicU64,
    payload_bytes: AtomicU64,
    rtp_packets: AtomicU64,
    packets_written: AtomicU64,
    active: AtomicU64,
}

/// What the built-in sender sends and announces: the `serve`/`demo` command-line options, parsed
/// (the command line converts its own type into this one, so this layer knows nothing of clap).
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Video codec of the synthetic track.
    pub codec: VideoCodec,
    /// Target video bitrate, bits per second.
    pub bitrate: u64,
    /// Frames per second of the synthetic track.
    pub fps: u32,
    /// Interval between key frames.
    pub keyframe_interval: Duration,
    /// ICE servers the sender uses and announces to viewers, as written (`turn:user:pass@host:port`).
    pub ice_servers: Vec<String>,
    /// Local addresses for the sender's ICE host candidates; empty: the listen address's IP, port 0.
    pub bind: Vec<SocketAddr>,
    /// Do not negotiate RTX: retransmissions go on the media SSRC.
    pub no_rtx: bool,
    /// How a frame's packets leave: paced (the default, as real senders) or in one burst.
    pub pacing: Pacing,
    /// What one client may cost the server: safe on a public port by default.
    pub limits: ServeLimits,
}

/// Bounds on what clients may make `serve` hold, so that it can face a public port: each has a
/// flag, and defaults that a real viewer never reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeLimits {
    /// Open TCP connections at once; beyond it a connection gets `503` and is closed.
    pub max_connections: usize,
    /// Live sessions (WebSocket connections past the upgrade, WHEP sessions) at once; beyond it a
    /// WHEP offer gets `503` with `Retry-After`, a WebSocket is closed with code 1013 (try again).
    pub max_sessions: usize,
    /// Time to read a request's head (slowloris).
    pub header_timeout: Duration,
    /// Time to read a request's body once its head is in.
    pub body_timeout: Duration,
    /// Remote candidates per session; more are ignored (logged once).
    pub max_candidates: usize,
    /// ICE restarts (WHEP `PATCH` with new credentials) per session; more get `429`.
    pub max_ice_restarts: u32,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            max_connections: 256,
            max_sessions: 64,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_candidates: 200,
            max_ice_restarts: 20,
        }
    }
}

/// A task to run alongside the connections (a WHEP session), drained at shutdown like them.
type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

struct Shared {
    opts: ServeOptions,
    tuning: ServeTuning,
    sender: SenderConfig,
    ice_json: String,
    /// `Link` header values of the ICE servers, for WHEP.
    links: Vec<String>,
    totals: Totals,
    notices: broadcast::Sender<ServeNotice>,
    next_id: AtomicU64,
    /// The most recent requests, bounded in count and bytes.
    requests: std::sync::Mutex<RequestLog>,
    /// One permit per open TCP connection.
    connections: Arc<tokio::sync::Semaphore>,
    /// One permit per live session.
    sessions: Arc<tokio::sync::Semaphore>,
    /// Live WHEP sessions by resource id.
    whep: whep::Sessions,
    /// Spawns a task into the accept loop's set.
    spawn: mpsc::UnboundedSender<Task>,
    /// Becomes `true` when the server stops.
    stop: watch::Receiver<bool>,
}

/// A running sender. Dropping it stops it too (without waiting); prefer [`ServeHandle::shutdown`].
pub struct ServeHandle {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ServeHandle {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The WebSocket URL of stream `path`: `ws://127.0.0.1:PORT/cam/ws` for `cam`. An unspecified listen
    /// address (`0.0.0.0`, `::`) is written as the loopback address.
    pub fn ws_url(&self, path: &str) -> String {
        let mut addr = self.local_addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            });
        }
        let path = path.trim_matches('/');
        if path.is_empty() {
            format!("ws://{addr}/stream/ws")
        } else {
            format!("ws://{addr}/{path}/ws")
        }
    }

    /// The WHEP endpoint of stream `path`: `http://127.0.0.1:PORT/cam/whep` for `cam` (an unspecified
    /// listen address is written as the loopback address).
    pub fn whep_url(&self, path: &str) -> String {
        let ws = self.ws_url(path);
        let rest = ws.strip_prefix("ws://").unwrap_or(&ws);
        let rest = rest.strip_suffix("/ws").unwrap_or(rest);
        format!("http://{rest}/whep")
    }

    /// The HTTP requests received so far, in order (WebSocket upgrades included, with status 101): the
    /// most recent [`MAX_RECORDED_REQUESTS`].
    pub fn requests(&self) -> Vec<ServedRequest> {
        self.shared
            .requests
            .lock()
            .map(|r| r.to_vec())
            .unwrap_or_default()
    }

    /// Totals over all connections so far.
    pub fn sent(&self) -> SentStats {
        let t = &self.shared.totals;
        SentStats {
            connections: t.connections.load(Ordering::Relaxed),
            connected: t.connected.load(Ordering::Relaxed),
            frames: t.frames.load(Ordering::Relaxed),
            keyframes: t.keyframes.load(Ordering::Relaxed),
            payload_bytes: t.payload_bytes.load(Ordering::Relaxed),
            rtp_packets: t.rtp_packets.load(Ordering::Relaxed),
            active: t.active.load(Ordering::Relaxed),
            packets_written: t.packets_written.load(Ordering::Relaxed),
            send_drops: self.shared.sender.send_counters.read(),
        }
    }

    /// Receive a [`ServeNotice`] for every connection event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<ServeNotice> {
        self.shared.notices.subscribe()
    }

    /// Stop listening, close every connection (a close frame, then the peer connection) and wait for them.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take()
            && let Err(e) = task.await
        {
            tracing::warn!("serve: accept loop ended abnormally: {e}");
        }
    }
}

impl Drop for ServeHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Parse the `--serve-ice-server` URLs (the viewer's `--ice-server` forms, credentials in the URL).
fn parse_ice_servers(opts: &ServeOptions) -> anyhow::Result<Vec<IceServerSpec>> {
    opts.ice_servers
        .iter()
        .map(|u| {
            ice_server::parse_cli_ice_server(u, None, None)
                .map_err(|e| anyhow::anyhow!("--serve-ice-server {}: {e}", ice_server::mask_url(u)))
        })
        .collect()
}

/// The sender configuration derived from the options and the listen address. URLs webrtc-rs cannot use
/// (TURN over TCP/TLS, `stuns:`) are left out of the sender's own peer connection with a warning; they
/// are still announced to viewers.
fn sender_config(
    listen: SocketAddr,
    opts: &ServeOptions,
    ice_servers: &[IceServerSpec],
) -> SenderConfig {
    let mut usable = Vec::new();
    for spec in ice_servers {
        let mut urls = Vec::new();
        for u in &spec.urls {
            match ice_server::sender_unsupported_reason(u) {
                Some(reason) => {
                    tracing::warn!("serve: ICE server {u} not used by the sender: {reason}")
                }
                None => urls.push(u.clone()),
            }
        }
        if !urls.is_empty() {
            usable.push(IceServerConfig {
                urls,
                username: spec.username.clone(),
                credential: spec.credential.clone(),
            });
        }
    }
    let bind = if opts.bind.is_empty() {
        vec![SocketAddr::new(listen.ip(), 0)]
    } else {
        opts.bind.clone()
    };
    SenderConfig {
        codec: opts.codec,
        ice_servers: usable,
        bind,
        rtx: !opts.no_rtx,
        send_counters: Arc::default(),
    }
}

/// The ICE-server list as viewers get it (the first WebSocket message).
fn ice_entries(ice_servers: &[IceServerSpec]) -> Vec<IceServerEntry> {
    ice_servers
        .iter()
        .map(|s| IceServerEntry {
            urls: s.urls.clone(),
            username: s.username.clone(),
            credential: s.credential.clone(),
        })
        .collect()
}

/// Start the sender on `listen` (port 0 picks one; see [`ServeHandle::local_addr`]).
pub async fn start(listen: SocketAddr, opts: ServeOptions) -> anyhow::Result<ServeHandle> {
    start_with(listen, opts, ServeTuning::default()).await
}

/// [`start`] with a handshake deadline of your choice and, optionally, a deliberate [`Fault`].
pub async fn start_with(
    listen: SocketAddr,
    opts: ServeOptions,
    tuning: ServeTuning,
) -> anyhow::Result<ServeHandle> {
    if opts.fps == 0 || opts.fps > 240 {
        anyhow::bail!("--fps must be between 1 and 240, got {}", opts.fps);
    }
    if opts.keyframe_interval.is_zero() {
        anyhow::bail!("--keyframe-interval must be positive");
    }
    let opts_limits = opts.limits.clone();
    if opts_limits.max_connections == 0 || opts_limits.max_sessions == 0 {
        anyhow::bail!("--max-connections and --max-sessions must be at least 1");
    }
    let ice_servers = parse_ice_servers(&opts)?;
    let sender = sender_config(listen, &opts, &ice_servers);
    // Fail now, not on every connection, when a bind address is not local (binding sends nothing).
    for addr in sender.bind.iter().filter(|a| !a.ip().is_unspecified()) {
        std::net::UdpSocket::bind(SocketAddr::new(addr.ip(), 0)).map_err(|e| {
            anyhow::anyhow!("--serve-bind {addr}: not a usable local address ({e})")
        })?;
    }
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let local_addr = listener.local_addr()?;
    let ice_json = ice_servers_message(&ice_entries(&ice_servers));
    let links = whep::link_headers(&ice_servers);
    let (notices, _) = broadcast::channel(256);
    let (stop, stop_rx) = watch::channel(false);
    let (spawn, spawned) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        opts,
        tuning,
        sender,
        ice_json,
        links,
        totals: Totals::default(),
        notices,
        next_id: AtomicU64::new(1),
        requests: std::sync::Mutex::default(),
        connections: Arc::new(tokio::sync::Semaphore::new(opts_limits.max_connections)),
        sessions: Arc::new(tokio::sync::Semaphore::new(opts_limits.max_sessions)),
        whep: whep::Sessions::default(),
        spawn,
        stop: stop_rx.clone(),
    });
    let task = tokio::spawn(accept_loop(listener, Arc::clone(&shared), spawned, stop_rx));
    tracing::info!(
        %local_addr,
        codec = ?shared.opts.codec,
        bitrate = shared.opts.bitrate,
        fps = shared.opts.fps,
        fault = ?shared.tuning.fault,
        "serve: listening"
    );
    Ok(ServeHandle {
        local_addr,
        shared,
        stop,
        task: Some(task),
    })
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut spawned: mpsc::UnboundedReceiver<Task>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            r = listener.accept() => match r {
                Ok((tcp, peer)) => {
                    let _ = tcp.set_nodelay(true);
                    match Arc::clone(&shared.connections).try_acquire_owned() {
                        Ok(permit) => {
                            let conn = http::serve_connection(Arc::clone(&shared), tcp, peer, stop.clone());
                            tasks.spawn(async move {
                                conn.await;
                                drop(permit);
                            });
                        }
                        Err(_) => {
                            tracing::warn!(%peer, "serve: connection refused: {} connections open (--max-connections)", shared.opts.limits.max_connections);
                            tasks.spawn(http::refuse_busy(tcp));
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!("serve: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(task) = spawned.recv() => {
                tasks.spawn(task);
            }
            Some(r) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(e) = r && e.is_panic() {
                    tracing::error!("serve: a connection task panicked: {e}");
                }
            }
        }
    }
    drop(listener);
    // A POST still in flight gets a 503: its session is never started.
    drop(spawned);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("serve: connections still open after {SHUTDOWN_GRACE:?}; dropping them");
        tasks.shutdown().await;
    }
    tracing::info!("serve: stopped");
}

/// `2 Mbit/s`, `500 kbit/s`, `1.5 Mbit/s`.
pub fn format_bitrate(bps: u64) -> String {
    let trim = |v: f64| {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    };
    if bps >= 1_000_000 {
        format!("{} Mbit/s", trim(bps as f64 / 1e6))
    } else if bps >= 1_000 {
        format!("{} kbit/s", trim(bps as f64 / 1e3))
    } else {
        format!("{bps} bit/s")
    }
}

/// The banner `rtcscope serve` prints at start (it starts with `serving on`, which scripts wait for).
pub fn banner(local_addr: SocketAddr, opts: &ServeOptions) -> String {
    format!(
        "serving on {local_addr}: WHEP at http://{local_addr}/<any-path>/whep, WebSocket at \
         ws://{local_addr}/<any-path>/ws ({}, {}, {} fps{}{}); Ctrl-C to stop",
        opts.codec.name(),
        format_bitrate(opts.bitrate),
        opts.fps,
        if opts.no_rtx { ", no RTX" } else { "" },
        match opts.pacing {
            Pacing::Paced => "",
            Pacing::Burst => ", each frame in one burst",
        }
    )
}

/// `rtcscope serve`: start, print the banner to stderr, run until ctrl-c (tokio::signal) or SIGTERM, shut down.
pub async fn run(listen: SocketAddr, opts: ServeOptions) -> anyhow::Result<()> {
    let handle = start(listen, opts.clone()).await?;
    let mut notices = handle.subscribe();
    eprintln!("{}", banner(handle.local_addr(), &opts));
    let terminate = terminate_signal();
    tokio::pin!(terminate);
    loop {
        tokio::select! {
            r = tokio::signal::ctrl_c() => {
                if let Err(e) = r {
                    tracing::warn!("serve: cannot listen for Ctrl-C: {e}");
                }
                break;
            }
            _ = &mut terminate => break,
            n = notices.recv() => match n {
                // Notices carry remote text (paths, close reasons): escaped before the terminal.
                Ok(n) => eprintln!("{}", crate::sanitize::sanitize(&n.to_string())),
                Err(broadcast::error::RecvError::Lagged(k)) => eprintln!("({k} connection events not shown)"),
                Err(broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    let sent = handle.sent();
    handle.shutdown().await;
    eprintln!("{}", stopped_line(&sent));
    Ok(())
}

/// The last line of `rtcscope serve`: what was sent, and what the sender's own sockets could not send.
pub fn stopped_line(sent: &SentStats) -> String {
    let d = sent.send_drops;
    let sockets = if d.datagrams_lost > 0 {
        format!(
            "; this host dropped {} datagrams in the sender's sockets ({} failed sends): the sender, not the network, lost them",
            d.datagrams_lost, d.errors
        )
    } else if d.waits > 0 {
        format!(
            "; nothing dropped by the sender's sockets (a full send buffer held it back {} times)",
            d.waits
        )
    } else {
        "; nothing dropped by the sender's sockets".to_owned()
    };
    format!(
        "stopped: {} connections ({} connected), {} frames, {} RTP packets, {} bytes sent{sockets}",
        sent.connections, sent.connected, sent.frames, sent.packets_written, sent.payload_bytes
    )
}

#[cfg(unix)]
async fn terminate_signal() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(e) => {
            tracing::warn!("serve: cannot listen for SIGTERM: {e}");
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(not(unix))]
async fn terminate_signal() {
    std::future::pending::<()>().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_line_says_whether_the_sender_itself_dropped() {
        let mut sent = SentStats {
            connections: 2,
            connected: 1,
            frames: 300,
            keyframes: 5,
            payload_bytes: 1_000_000,
            rtp_packets: 900,
            active: 0,
            packets_written: 901,
            send_drops: SendDrops::default(),
        };
        assert_eq!(
            stopped_line(&sent),
            "stopped: 2 connections (1 connected), 300 frames, 901 RTP packets, 1000000 bytes sent; \
             nothing dropped by the sender's sockets"
        );
        sent.send_drops.waits = 7;
        assert!(stopped_line(&sent).ends_with("(a full send buffer held it back 7 times)"));
        sent.send_drops = SendDrops {
            datagrams_lost: 12,
            errors: 3,
            waits: 7,
        };
        assert!(
            stopped_line(&sent).ends_with(
                "this host dropped 12 datagrams in the sender's sockets (3 failed sends): the sender, not the network, lost them"
            ),
            "{}",
            stopped_line(&sent)
        );
    }

    #[test]
    fn bitrates_read_well() {
        assert_eq!(format_bitrate(2_000_000), "2 Mbit/s");
        assert_eq!(format_bitrate(1_500_000), "1.5 Mbit/s");
        assert_eq!(format_bitrate(500_000), "500 kbit/s");
    }

    #[test]
    fn bind_defaults_to_the_listen_ip() {
        let opts = ServeOptions {
            codec: VideoCodec::Vp8,
            bitrate: 2_000_000,
            fps: 30,
            keyframe_interval: Duration::from_secs(2),
            ice_servers: vec!["turn:u:p@127.0.0.1:3478".into()],
            bind: vec![],
            no_rtx: false,
            pacing: Default::default(),
            limits: Default::default(),
        };
        let ice = parse_ice_servers(&opts).unwrap();
        let cfg = sender_config("127.0.0.1:8889".parse().unwrap(), &opts, &ice);
        assert_eq!(cfg.bind, vec!["127.0.0.1:0".parse::<SocketAddr>().unwrap()]);
        assert_eq!(cfg.ice_servers[0].username.as_deref(), Some("u"));
        assert_eq!(cfg.ice_servers[0].urls, ["turn:127.0.0.1:3478"]);
        let cfg = sender_config("0.0.0.0:8889".parse().unwrap(), &opts, &ice);
        assert_eq!(cfg.bind, vec!["0.0.0.0:0".parse::<SocketAddr>().unwrap()]);
        assert_eq!(
            ice_servers_message(&ice_entries(&ice)),
            r#"[{"urls":["turn:127.0.0.1:3478"],"username":"u","credential":"p"}]"#
        );
        assert_eq!(
            banner("127.0.0.1:8889".parse().unwrap(), &opts),
            "serving on 127.0.0.1:8889: WHEP at http://127.0.0.1:8889/<any-path>/whep, WebSocket at \
             ws://127.0.0.1:8889/<any-path>/ws (VP8, 2 Mbit/s, 30 fps); Ctrl-C to stop"
        );
        let bursty = ServeOptions {
            pacing: Pacing::Burst,
            ..opts
        };
        assert!(
            banner("127.0.0.1:8889".parse().unwrap(), &bursty)
                .contains("(VP8, 2 Mbit/s, 30 fps, each frame in one burst)")
        );
    }

    #[test]
    fn ice_servers_the_sender_cannot_use_are_announced_but_not_used() {
        let opts = ServeOptions {
            codec: VideoCodec::Vp8,
            bitrate: 2_000_000,
            fps: 30,
            keyframe_interval: Duration::from_secs(2),
            ice_servers: vec![
                "stun:127.0.0.1".into(),
                "turns:u:p@127.0.0.1:5349".into(),
                "turn:u:p@127.0.0.1:3478?transport=tcp".into(),
            ],
            bind: vec![],
            no_rtx: false,
            pacing: Default::default(),
            limits: Default::default(),
        };
        let ice = parse_ice_servers(&opts).unwrap();
        let cfg = sender_config("127.0.0.1:8889".parse().unwrap(), &opts, &ice);
        assert_eq!(cfg.ice_servers.len(), 1);
        assert_eq!(cfg.ice_servers[0].urls, ["stun:127.0.0.1:3478"]);
        assert_eq!(ice_entries(&ice).len(), 3);
        let bad = ServeOptions {
            ice_servers: vec!["turn:127.0.0.1:3478".into()],
            ..opts
        };
        let err = parse_ice_servers(&bad).unwrap_err().to_string();
        assert!(err.contains("--serve-ice-server"), "{err}");
    }

    #[test]
    fn the_request_log_is_bounded_in_count_and_bytes() {
        let mut log = RequestLog::default();
        let long = "p".repeat(10_000);
        for _ in 0..(MAX_RECORDED_REQUEST_BYTES / MAX_RECORDED_PATH) * 3 {
            log.push("POST", &long, Some(404));
        }
        assert!(log.bytes() <= MAX_RECORDED_REQUEST_BYTES, "{}", log.bytes());
        let all = log.to_vec();
        assert!(all.len() < MAX_RECORDED_REQUESTS);
        assert!(all.iter().all(|r| r.path.len() <= MAX_RECORDED_PATH + 4));
        let mut log = RequestLog::default();
        for i in 0..MAX_RECORDED_REQUESTS + 5 {
            log.push("GET", &format!("/{i}"), None);
        }
        let all = log.to_vec();
        assert_eq!(all.len(), MAX_RECORDED_REQUESTS);
        assert_eq!(all[0].path, "/5");
    }
}
