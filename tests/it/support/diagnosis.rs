//! Scenario harness for the diagnosis tests: the real binary against the built-in sender (with its
//! deliberate faults), a WebSocket proxy that tampers with what the server says, a WHEP front for the
//! built-in sender, small misbehaving WHEP servers, coturn, and a silent UDP port. Every socket is on
//! 127.0.0.1.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rtcscope::event::Stamped;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio_tungstenite::tungstenite::Message;

pub use super::common::{coturn_available, dump, free_port};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_rtcscope");

/// Where recorded fixtures live.
pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diagnosis")
}

/// Read a recorded fixture (one event per line).
pub fn load_fixture(name: &str) -> Vec<Stamped> {
    let path = fixture_dir().join(format!("{name}.ndjson"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{}: bad line ({e}): {l}", path.display()))
        })
        .collect()
}

/// What a run of the binary produced.
#[derive(Debug)]
pub struct Run {
    /// The process exit code.
    pub code: Option<i32>,
    /// Raw stdout.
    pub stdout: String,
    /// Raw stderr.
    pub stderr: String,
}

impl Run {
    /// The NDJSON events on stdout (lines that do not parse are skipped).
    pub fn events(&self) -> Vec<Stamped> {
        self.stdout
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// Run the binary with `args` to completion (off the async runtime).
pub async fn run_bin(args: Vec<String>) -> Run {
    tokio::task::spawn_blocking(move || {
        let out = Command::new(BIN)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("run the binary");
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .expect("join")
}

/// Run the viewer headless with `args` and return its events and exit code.
pub async fn view(args: &[&str]) -> (Vec<Stamped>, Option<i32>) {
    let mut argv: Vec<String> = vec!["--headless".into()];
    // ICE on loopback only (see `common::viewer`).
    if !args.contains(&"--bind") {
        argv.extend(["--bind".into(), "127.0.0.1:0".into()]);
    }
    argv.extend(args.iter().map(|s| (*s).to_owned()));
    let run = run_bin(argv).await;
    (run.events(), run.code)
}

/// Write `events` as fixture `name` when `RTCSCOPE_RECORD` is set (the recorders' switch).
pub fn record(name: &str, events: &[Stamped]) {
    if std::env::var_os("RTCSCOPE_RECORD").is_none() {
        return;
    }
    let dir = fixture_dir();
    std::fs::create_dir_all(&dir).expect("fixture dir");
    let mut text = String::new();
    for e in events {
        text.push_str(&serde_json::to_string(e).expect("serialise"));
        text.push('\n');
    }
    std::fs::write(dir.join(format!("{name}.ndjson")), text).expect("write fixture");
    eprintln!("recorded {name}: {} events", events.len());
}

/// A UDP port on 127.0.0.1 that receives everything and answers nothing (a port not forwarded).
pub struct SilentUdp {
    /// Its address.
    pub addr: SocketAddr,
    /// Datagrams received so far.
    pub received: Arc<Mutex<u64>>,
    task: tokio::task::JoinHandle<()>,
}

impl SilentUdp {
    /// Bind it.
    pub async fn start() -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind udp");
        let addr = sock.local_addr().expect("addr");
        let received = Arc::new(Mutex::new(0u64));
        let r = received.clone();
        let task = tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            while sock.recv_from(&mut buf).await.is_ok() {
                if let Ok(mut n) = r.lock() {
                    *n += 1;
                }
            }
        });
        Self {
            addr,
            received,
            task,
        }
    }
}

impl Drop for SilentUdp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What [`WsProxy`] does to the server → viewer direction.
#[derive(Debug, Clone)]
pub enum Tamper {
    /// After the answer, send this extra candidate line (e.g. one pointing at a [`SilentUdp`]).
    InjectCandidate(String),
    /// Replace the DTLS fingerprint of the answer with another valid-looking one.
    WrongFingerprint,
    /// Hold the answer back this long.
    DelayAnswer(Duration),
    /// Swallow the answer and everything after it (the server "never answers"; the socket stays open).
    DropAnswer,
    /// Replace the ICE-server list with text that is not JSON.
    GarbageFirst,
}

/// A WebSocket proxy in front of a real `ws://` server, tampering with the server's messages.
pub struct WsProxy {
    /// Where the viewer connects.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl WsProxy {
    /// Start it.
    pub async fn start(upstream: String, tamper: Tamper) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (upstream, tamper) = (upstream.clone(), tamper.clone());
                tokio::spawn(async move {
                    let Ok(down) = tokio_tungstenite::accept_async(tcp).await else {
                        return;
                    };
                    let Ok((up, _)) = tokio_tungstenite::connect_async(upstream.as_str()).await
                    else {
                        return;
                    };
                    let (mut down_tx, mut down_rx) = down.split();
                    let (mut up_tx, mut up_rx) = up.split();
                    let v2s = async {
                        while let Some(Ok(m)) = down_rx.next().await {
                            if up_tx.send(m).await.is_err() {
                                break;
                            }
                        }
                    };
                    let s2v = async {
                        let mut first = true;
                        while let Some(Ok(m)) = up_rx.next().await {
                            let text = match &m {
                                Message::Text(t) => t.to_string(),
                                _ => String::new(),
                            };
                            let is_answer = text.contains("\"answer\"");
                            let mut out = vec![m];
                            if first && matches!(tamper, Tamper::GarbageFirst) {
                                out[0] = Message::text("{this is not json");
                            }
                            first = false;
                            if is_answer && matches!(tamper, Tamper::DropAnswer) {
                                std::future::pending::<()>().await;
                            }
                            if is_answer {
                                match &tamper {
                                    Tamper::InjectCandidate(line) => {
                                        out.push(Message::text(format!(
                                            "{{\"candidate\":{},\"sdpMid\":\"0\",\"sdpMLineIndex\":0,\"usernameFragment\":null}}",
                                            serde_json::Value::String(line.clone())
                                        )));
                                    }
                                    Tamper::WrongFingerprint => {
                                        out[0] = Message::text(wrong_fingerprint(&text));
                                    }
                                    Tamper::DelayAnswer(d) => tokio::time::sleep(*d).await,
                                    Tamper::DropAnswer | Tamper::GarbageFirst => {}
                                }
                            }
                            for m in out {
                                if down_tx.send(m).await.is_err() {
                                    return;
                                }
                            }
                        }
                    };
                    tokio::select! {
                        _ = v2s => {}
                        _ = s2v => {}
                    }
                });
            }
        });
        Self { addr, task }
    }

    /// The URL a viewer dials.
    pub fn url(&self) -> String {
        format!("ws://{}/cam/ws", self.addr)
    }
}

impl Drop for WsProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The answer message with every `a=fingerprint:sha-256` value replaced by a different one.
fn wrong_fingerprint(message: &str) -> String {
    let Ok(mut v) = serde_json::from_str::<serde_json::Value>(message) else {
        return message.to_owned();
    };
    let Some(sdp) = v.get("sdp").and_then(|s| s.as_str()).map(str::to_owned) else {
        return message.to_owned();
    };
    let fake = (0..32)
        .map(|i| format!("{:02X}", (i * 7 + 3) % 256))
        .collect::<Vec<_>>()
        .join(":");
    let sdp = sdp
        .split("\r\n")
        .map(|l| {
            if l.starts_with("a=fingerprint:sha-256 ") {
                format!("a=fingerprint:sha-256 {fake}")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n");
    v["sdp"] = serde_json::Value::String(sdp);
    v.to_string()
}

/// A parsed HTTP request.
#[derive(Debug, Clone)]
pub struct Request {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: String,
}

/// An HTTP response to send.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: String,
}

/// A response with `headers` and `body`.
pub fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
    Response {
        status,
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        body: body.to_owned(),
    }
}

async fn read_request(tcp: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = tcp.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = tcp.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(Request {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&buf[head_end..]).into_owned(),
    })
}

async fn write_response(tcp: &mut TcpStream, r: &Response) {
    let mut out = format!("HTTP/1.1 {} X\r\n", r.status);
    for (n, v) in &r.headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
        r.body.len(),
        r.body
    ));
    let _ = tcp.write_all(out.as_bytes()).await;
    let _ = tcp.shutdown().await;
}

type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// A one-request-per-connection HTTP server answering with a fixed handler.
pub struct HttpServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    task: tokio::task::JoinHandle<()>,
}

impl HttpServer {
    /// Start it.
    pub async fn start(handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let handler: Handler = Arc::new(handler);
        let task = tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                let handler = handler.clone();
                tokio::spawn(async move {
                    if let Some(req) = read_request(&mut tcp).await {
                        let r = handler(&req);
                        write_response(&mut tcp, &r).await;
                    }
                });
            }
        });
        Self { base, task }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type WsUp = futures_util::stream::SplitSink<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>,
    Message,
>;

/// A WHEP endpoint (`/cam/whep`) in front of the built-in sender's WebSocket protocol: the POSTed offer
/// goes to the sender, its answer and trickled candidates come back in the 201 (optionally after a
/// delay, like a server waiting for its STUN gathering), trickle PATCHes are forwarded, DELETE closes.
pub struct WhepBridge {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    task: tokio::task::JoinHandle<()>,
}

impl WhepBridge {
    /// Start it in front of `upstream` (a `ws://` URL of `serve`), holding each 201 back `delay`.
    pub async fn start(upstream: String, delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let sessions: Arc<tokio::sync::Mutex<HashMap<String, WsUp>>> = Arc::default();
        let next = Arc::new(Mutex::new(0u32));
        let task = tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                let (upstream, sessions, next) = (upstream.clone(), sessions.clone(), next.clone());
                tokio::spawn(async move {
                    let Some(req) = read_request(&mut tcp).await else {
                        return;
                    };
                    let r = match (req.method.as_str(), req.path.as_str()) {
                        ("OPTIONS", _) => response(204, &[], ""),
                        ("POST", "/cam/whep") => {
                            let id = {
                                let mut n = next.lock().expect("lock");
                                *n += 1;
                                format!("s{n}")
                            };
                            match bridge_offer(&upstream, &req.body).await {
                                Some((answer, up)) => {
                                    tokio::time::sleep(delay).await;
                                    sessions.lock().await.insert(id.clone(), up);
                                    let location = format!("/cam/whep/{id}");
                                    response(
                                        201,
                                        &[
                                            ("Content-Type", "application/sdp"),
                                            ("Location", location.as_str()),
                                            ("ETag", "\"e1\""),
                                        ],
                                        &answer,
                                    )
                                }
                                None => response(500, &[], "upstream failed"),
                            }
                        }
                        ("PATCH", p) => {
                            let id = p.rsplit('/').next().unwrap_or("").to_owned();
                            if let Some(up) = sessions.lock().await.get_mut(&id) {
                                for line in req.body.lines().map(str::trim) {
                                    if let Some(c) = line.strip_prefix("a=")
                                        && c.starts_with("candidate:")
                                    {
                                        let msg = format!(
                                            "{{\"candidate\":{},\"sdpMid\":\"0\",\"sdpMLineIndex\":0,\"usernameFragment\":null}}",
                                            serde_json::Value::String(c.to_owned())
                                        );
                                        let _ = up.send(Message::text(msg)).await;
                                    }
                                }
                            }
                            response(204, &[("ETag", "\"e1\"")], "")
                        }
                        ("DELETE", p) => {
                            let id = p.rsplit('/').next().unwrap_or("").to_owned();
                            if let Some(mut up) = sessions.lock().await.remove(&id) {
                                let _ = up.close().await;
                            }
                            response(200, &[], "")
                        }
                        _ => response(404, &[], "not found"),
                    };
                    write_response(&mut tcp, &r).await;
                });
            }
        });
        Self { base, task }
    }

    /// The WHEP URL.
    pub fn url(&self) -> String {
        format!("{}/cam/whep", self.base)
    }
}

impl Drop for WhepBridge {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Send `offer` to the sender over its WebSocket; return the answer SDP with the sender's trickled
/// candidates written into it, and the socket (kept open for the session).
async fn bridge_offer(upstream: &str, offer: &str) -> Option<(String, WsUp)> {
    let (ws, _) = tokio_tungstenite::connect_async(upstream).await.ok()?;
    let (mut tx, mut rx) = ws.split();
    // The ICE-server list comes first.
    let _ = rx.next().await?;
    let msg = serde_json::json!({"type": "offer", "sdp": offer}).to_string();
    tx.send(Message::text(msg)).await.ok()?;
    let mut answer: Option<String> = None;
    let mut candidates = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let wait = if answer.is_some() && !candidates.is_empty() {
            Duration::from_millis(300)
        } else {
            deadline.saturating_duration_since(tokio::time::Instant::now())
        };
        match tokio::time::timeout(wait, rx.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: serde_json::Value = serde_json::from_str(&t).ok()?;
                if let Some(sdp) = v.get("sdp").and_then(|s| s.as_str()) {
                    answer = Some(sdp.to_owned());
                } else if let Some(c) = v.get("candidate").and_then(|c| c.as_str()) {
                    candidates.push(c.to_owned());
                }
            }
            Ok(Some(Ok(_))) => {}
            _ => break,
        }
    }
    let mut sdp = answer?;
    if !sdp.ends_with("\r\n") {
        sdp.push_str("\r\n");
    }
    for c in candidates {
        sdp.push_str(&format!("a={c}\r\n"));
    }
    // Keep reading (and dropping) what the sender says so its socket stays healthy.
    tokio::spawn(async move { while let Some(Ok(_)) = rx.next().await {} });
    Some((sdp, tx))
}

/// A syntactically valid answer to `offer` from nobody (ICE will not connect), with each m-line
/// passed through `edit_mline` (e.g. to reject it with port 0).
pub fn fake_answer(offer: &str, edit_mline: impl Fn(&str) -> String) -> String {
    offer
        .replace("a=recvonly", "a=sendonly")
        .replace("a=setup:actpass", "a=setup:active")
        .lines()
        .map(|l| {
            if l.starts_with("a=ice-ufrag:") {
                "a=ice-ufrag:srv1".to_owned()
            } else if l.starts_with("a=ice-pwd:") {
                "a=ice-pwd:serverpassword0123456789".to_owned()
            } else if l.starts_with("m=") {
                edit_mline(l)
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
        + "\r\n"
}

/// Start the built-in sender with an optional fault and handshake deadline.
pub async fn serve_with(
    fault: Option<rtcscope::serve::Fault>,
    deadline: Duration,
) -> rtcscope::serve::ServeHandle {
    let opts = sender_options();
    rtcscope::serve::start_with(
        "127.0.0.1:0".parse().expect("addr"),
        opts,
        rtcscope::serve::ServeTuning {
            handshake_deadline: deadline,
            fault,
        },
    )
    .await
    .expect("serve starts")
}

/// Default sender options.
pub fn sender_options() -> rtcscope::serve::ServeOptions {
    super::common::sender_options(&[])
}
