//! Shared helpers for the engine's integration tests: real sockets on 127.0.0.1 only.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use rtcscope::cli::Cli;
use rtcscope::engine::{Engine, EngineHandle};
use rtcscope::event::{Event, Stamped};
use rtcscope::serve::ServeOptions;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

/// Parse viewer arguments exactly as the binary does and start an engine.
pub fn viewer(args: &[&str]) -> EngineHandle {
    let mut argv = vec!["rtcscope", "--headless"];
    // Tests in the root namespace keep ICE on loopback: by default the viewer gathers on every
    // interface, and only loopback may receive the tests' traffic. The default bind is tested in a
    // namespace the NAT lab creates (tests/natlab/gather.rs).
    if !args.contains(&"--bind") {
        argv.extend_from_slice(&["--bind", "127.0.0.1:0"]);
    }
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).expect("valid arguments");
    let url = cli.view.url.clone().expect("url");
    let cfg = rtcscope::config::engine_config(&url, &cli.view.viewer).expect("valid config");
    Engine::spawn(cfg)
}

/// Default sender options (VP8, 2 Mbit/s, 30 fps) with overrides from `serve` arguments.
pub fn sender_options(args: &[&str]) -> ServeOptions {
    let mut argv = vec!["rtcscope", "serve"];
    argv.extend_from_slice(args);
    match Cli::try_parse_from(argv)
        .expect("valid serve arguments")
        .command
    {
        Some(rtcscope::cli::Command::Serve(a)) => a.sender.into(),
        _ => unreachable!(),
    }
}

/// Collect every event until `ended`, failing the test if it takes longer than `limit`.
pub async fn collect(handle: EngineHandle, limit: Duration) -> Vec<Stamped> {
    tokio::time::timeout(limit, rtcscope::app::collect(handle))
        .await
        .expect("the session ended within the time limit")
}

/// Events of one type name.
pub fn of<'a>(events: &'a [Stamped], name: &str) -> Vec<&'a Stamped> {
    events.iter().filter(|e| e.event.name() == name).collect()
}

/// Print a compact transcript (shown when a test fails).
pub fn dump(events: &[Stamped]) -> String {
    events
        .iter()
        .map(|e| {
            let j = serde_json::to_string(e).unwrap_or_default();
            // Cut on a character boundary (summaries may hold non-ASCII text).
            j.char_indices()
                .nth(220)
                .map_or(j.clone(), |(i, _)| j[..i].to_owned())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a fault-injecting proxy does to the server → viewer direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Relay everything.
    None,
    /// Relay up to and including the answer, then drop the TCP connection without a close frame.
    CloseAfterAnswer,
    /// Replace the ICE-server list with invalid JSON.
    GarbageFirst,
    /// Drop the answer and everything after it (the server "never answers").
    NeverAnswer,
    /// Send a malformed candidate and an escape-sequence-laden one before relaying the real ones.
    BadCandidates,
    /// Replace the answer with a 2 MiB message.
    HugeAnswer,
}

/// A WebSocket proxy in front of a real server that misbehaves on the first `faulty` connections.
pub struct FaultProxy {
    /// Where the viewer connects.
    pub addr: SocketAddr,
    /// Connections accepted so far.
    pub connections: Arc<AtomicU32>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Start a proxy to `upstream` (a ws:// URL).
    pub async fn start(upstream: String, fault: Fault, faulty: u32) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let connections = Arc::new(AtomicU32::new(0));
        let counter = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let fault = if n < faulty { fault } else { Fault::None };
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(down) = tokio_tungstenite::accept_async(tcp).await else {
                        return;
                    };
                    let Ok((up, _)) = tokio_tungstenite::connect_async(upstream.as_str()).await
                    else {
                        return;
                    };
                    relay(down, up, fault).await;
                });
            }
        });
        Self {
            addr,
            connections,
            task,
        }
    }

    /// The URL a viewer dials.
    pub fn url(&self) -> String {
        format!("ws://{}/cam/ws", self.addr)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay<D, U>(down: D, up: U, fault: Fault)
where
    D: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
        + futures_util::Sink<Message>
        + Unpin,
    U: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
        + futures_util::Sink<Message>
        + Unpin,
{
    let (mut down_tx, mut down_rx) = down.split();
    let (mut up_tx, mut up_rx) = up.split();
    let viewer_to_server = async {
        while let Some(Ok(m)) = down_rx.next().await {
            if up_tx.send(m).await.is_err() {
                break;
            }
        }
    };
    let server_to_viewer = async {
        let mut first = true;
        while let Some(Ok(m)) = up_rx.next().await {
            let text = match &m {
                Message::Text(t) => t.to_string(),
                _ => String::new(),
            };
            let is_answer = text.contains("\"answer\"");
            match fault {
                Fault::GarbageFirst if first => {
                    let _ = down_tx
                        .send(Message::text("{this is not json \u{1b}[31m"))
                        .await;
                    first = false;
                    continue;
                }
                Fault::NeverAnswer if is_answer => {
                    // Swallow the answer and everything after, keep the socket open.
                    std::future::pending::<()>().await;
                }
                Fault::HugeAnswer if is_answer => {
                    let big = format!(
                        "{{\"type\":\"answer\",\"sdp\":\"{}\"}}",
                        "a".repeat(2 << 20)
                    );
                    let _ = down_tx.send(Message::text(big)).await;
                    std::future::pending::<()>().await;
                }
                Fault::BadCandidates if is_answer => {
                    if down_tx.send(m).await.is_err() {
                        break;
                    }
                    let bad = [
                        r#"{"candidate":"candidate:1 1 udp notanumber 127.0.0.1 9 typ host","sdpMid":"","sdpMLineIndex":0,"usernameFragment":null}"#,
                        "{\"candidate\":\"candidate:1 1 udp 1 127.0.0.1 9 typ \\u001b]0;pwned\\u0007\",\"sdpMid\":\"0\",\"sdpMLineIndex\":0}",
                    ];
                    for b in bad {
                        let _ = down_tx.send(Message::text(b)).await;
                    }
                    first = false;
                    continue;
                }
                _ => {}
            }
            first = false;
            if down_tx.send(m).await.is_err() {
                break;
            }
            if fault == Fault::CloseAfterAnswer && is_answer {
                // Drop both halves: the TCP connection ends without a close frame.
                return;
            }
        }
    };
    tokio::select! {
        _ = viewer_to_server => {}
        _ = server_to_viewer => {}
    }
}

/// Whether a TURN server binary (coturn) is installed.
pub fn coturn_available() -> bool {
    std::process::Command::new("turnserver")
        .arg("--help")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok()
}

/// A coturn process on 127.0.0.1 with long-term credentials `test:secret`, killed on drop.
pub struct Coturn {
    /// UDP/TCP listening port.
    pub port: u16,
    /// TLS listening port ([`Coturn::start_tls`] only), with a self-signed certificate for
    /// `localhost` and `127.0.0.1` made by the test.
    pub tls_port: Option<u16>,
    /// coturn's log file.
    pub log: std::path::PathBuf,
    child: std::process::Child,
    _dir: TempDir,
}

/// A temporary directory removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    /// Create a unique directory under the system temp dir.
    pub fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "rtcscope-{tag}-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&p).expect("temp dir");
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    h.finish()
}

/// A free UDP+TCP port on 127.0.0.1 (best effort: bind, read, release).
pub fn free_port() -> u16 {
    loop {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        let port = udp.local_addr().expect("addr").port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

impl Coturn {
    /// Start coturn (UDP and TCP on one port, no TLS); panics with a clear message if it does not come up.
    pub async fn start() -> Self {
        Self::spawn(false).await
    }

    /// Start coturn with a TLS listener too, on its own port, with a self-signed certificate made here.
    pub async fn start_tls() -> Self {
        Self::spawn(true).await
    }

    async fn spawn(tls: bool) -> Self {
        let dir = TempDir::new("coturn");
        let port = free_port();
        let min = 40000 + (rand_suffix() % 20000) as u16;
        let log = dir.0.join("turn.log");
        let mut args: Vec<String> = vec![
            "-n".into(),
            "--listening-ip=127.0.0.1".into(),
            "--relay-ip=127.0.0.1".into(),
            format!("--listening-port={port}"),
            format!("--min-port={min}"),
            format!("--max-port={}", min + 100),
            "--lt-cred-mech".into(),
            "--user=test:secret".into(),
            "--realm=test".into(),
            "--allow-loopback-peers".into(),
            "--no-dtls".into(),
            "--no-cli".into(),
            "--log-file=stdout".into(),
            "--simple-log".into(),
            format!("--pidfile={}", dir.0.join("turn.pid").display()),
            format!("--userdb={}", dir.0.join("turndb").display()),
        ];
        let tls_port = if tls {
            let cert = rcgen::generate_simple_self_signed(vec![
                "localhost".to_owned(),
                "127.0.0.1".to_owned(),
            ])
            .expect("self-signed certificate");
            let cert_path = dir.0.join("cert.pem");
            let key_path = dir.0.join("key.pem");
            std::fs::write(&cert_path, cert.cert.pem()).expect("write cert");
            std::fs::write(&key_path, cert.signing_key.serialize_pem()).expect("write key");
            let tls_port = free_port();
            args.push(format!("--tls-listening-port={tls_port}"));
            args.push(format!("--cert={}", cert_path.display()));
            args.push(format!("--pkey={}", key_path.display()));
            Some(tls_port)
        } else {
            args.push("--no-tls".into());
            None
        };
        let child = std::process::Command::new("turnserver")
            .args(&args)
            .stdout(
                std::fs::File::create(&log)
                    .map(std::process::Stdio::from)
                    .unwrap_or_else(|_| std::process::Stdio::null()),
            )
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn turnserver");
        // Ready when its log says so and, with TLS, when the TLS port accepts (poll, do not sleep blindly).
        for _ in 0..100 {
            let logged = std::fs::read_to_string(&log)
                .map(|l| l.contains("Total General servers") || l.contains("General servers"))
                .unwrap_or(false);
            let tls_up = match tls_port {
                None => true,
                Some(p) => tokio::net::TcpStream::connect(("127.0.0.1", p))
                    .await
                    .is_ok(),
            };
            if logged && tls_up {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            port,
            tls_port,
            log,
            child,
            _dir: dir,
        }
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last `track_stats` event's statistics, if any.
pub fn last_track_stats(events: &[Stamped]) -> Option<rtcscope::event::TrackStats> {
    events.iter().rev().find_map(|e| match &e.event {
        Event::TrackStats { stats } => Some(stats.clone()),
        _ => None,
    })
}

/// A child process killed (and reaped) on drop.
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Wait until something listens on 127.0.0.1:`port` (at most 20 s).
pub fn wait_listening(port: u16) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing listens on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The real binary's `rtcscope serve` on a free loopback port with `extra` options, listening;
/// returns it and its WebSocket URL for stream `cam`.
pub fn serve_binary(extra: &[&str]) -> (Killed, String) {
    let port = free_port();
    let serve = serve_on(port, extra);
    (serve, format!("ws://127.0.0.1:{port}/cam/ws"))
}

/// `rtcscope serve` (the binary) on 127.0.0.1:`port`, listening when this returns.
pub fn serve_on(port: u16, extra: &[&str]) -> Killed {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_rtcscope"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn rtcscope serve");
    let serve = Killed(child);
    wait_listening(port);
    serve
}
