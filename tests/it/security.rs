//! Security defects, each reproduced against the real binary: secrets in the output, credentials
//! following a redirect to another origin, remote text reaching serve's terminal raw.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::support::common::{Killed, TempDir, free_port};

const BIN: &str = env!("CARGO_BIN_EXE_rtcscope");

/// `rtcscope serve` on loopback with extra arguments; stderr piped (the banner is awaited on it).
fn serve(port: u16, extra: &[&str]) -> (Killed, BufReader<std::process::ChildStderr>) {
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["serve", "--listen", &listen];
    args.extend_from_slice(extra);
    let mut child = Command::new(BIN)
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    err.read_line(&mut line).expect("banner");
    assert!(line.starts_with("serving on"), "{line}");
    (Killed(child), err)
}

/// Run the viewer to its end, gathering on loopback only; returns (stdout, stderr).
fn run_viewer(args: &[&str]) -> (String, String) {
    let out = Command::new(BIN)
        .args(["--bind", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run viewer");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn server_given_turn_credentials_and_url_passwords_appear_nowhere() {
    let port = free_port();
    let turn_port = free_port(); // nothing listens: the probe fails, the credential is still in the text
    let ice = format!("turn:u:s3cret@127.0.0.1:{turn_port}?transport=udp");
    let (_serve, _err) = serve(port, &["--serve-ice-server", &ice]);
    let dir = TempDir::new("security");
    let events = dir.0.join("events.ndjson");
    let log = dir.0.join("trace.log");
    let (events_s, log_s) = (
        events.to_string_lossy().into_owned(),
        log.to_string_lossy().into_owned(),
    );

    // The WebSocket protocol, NDJSON on stdout, the events file and a trace-level log.
    let url = format!("ws://viewer:pa55word@127.0.0.1:{port}/cam/ws");
    let (stdout, stderr) = run_viewer(&[
        "--headless",
        "--duration",
        "3s",
        "--events",
        &events_s,
        "--log-file",
        &log_s,
        "--log-level",
        "trace",
        "--ice-server",
        "turn:me:cl1secret@127.0.0.1:9?transport=udp",
        &url,
    ]);
    let recorded = std::fs::read_to_string(&events).expect("events file");
    let logged = std::fs::read_to_string(&log).expect("log file");
    // The credential did travel: the ICE-server list was received and the log is not empty.
    assert!(stdout.contains("\"ice_servers\""), "{stdout}");
    assert!(!logged.is_empty());
    for (name, text) in [
        ("stdout", &stdout),
        ("stderr", &stderr),
        ("events", &recorded),
        ("log", &logged),
    ] {
        for secret in ["s3cret", "pa55word", "cl1secret"] {
            assert!(
                !text.contains(secret),
                "{secret} in clear in {name}:\n{text}"
            );
        }
    }
    assert!(stdout.contains("***"), "masked values are marked: {stdout}");

    // WHEP with a URL password to a closed port: the restart cause names the URL; the report too.
    let closed = free_port();
    let whep = format!("http://viewer:wh3ppass@127.0.0.1:{closed}/cam/whep");
    for report in ["text", "json"] {
        let (stdout, stderr) = run_viewer(&[
            "--duration",
            "2s",
            "--report",
            report,
            "--max-restarts",
            "1",
            &whep,
        ]);
        assert!(!stdout.is_empty());
        for text in [&stdout, &stderr] {
            assert!(!text.contains("wh3ppass"), "{report}: {text}");
        }
    }

    // Asked for explicitly, the raw text is there.
    let (stdout, _) = run_viewer(&["--headless", "--duration", "2s", "--show-secrets", &url]);
    assert!(
        stdout.contains("s3cret"),
        "--show-secrets shows the credential"
    );
}

/// A one-connection-at-a-time HTTP/1.1 responder on loopback that records each request head.
fn http_responder(response: String) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&heads);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 65536 {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            if let Ok(mut h) = seen.lock() {
                h.push(String::from_utf8_lossy(&buf).into_owned());
            }
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (port, heads)
}

#[test]
fn a_bearer_token_does_not_follow_a_redirect_to_another_port() {
    let (other, other_heads) = http_responder(
        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
    );
    let (origin, origin_heads) = http_responder(format!(
        "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:{other}/cam/whep\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    ));
    let url = format!("http://127.0.0.1:{origin}/cam/whep");
    let (stdout, _) = run_viewer(&[
        "--headless",
        "--duration",
        "2s",
        "--max-restarts",
        "0",
        "--bearer",
        "tok123",
        "-H",
        "X-Api-Key: k3y",
        "-H",
        "X-Trace: 7",
        &url,
    ]);
    let origin_heads = origin_heads.lock().expect("lock").clone();
    let other_heads = other_heads.lock().expect("lock").clone();
    assert!(!origin_heads.is_empty() && !other_heads.is_empty());
    // The origin got the credentials; the other port got the harmless header only.
    assert!(
        origin_heads[0].contains("Bearer tok123"),
        "{origin_heads:?}"
    );
    for head in &other_heads {
        let lower = head.to_ascii_lowercase();
        assert!(!lower.contains("authorization"), "{head}");
        assert!(!head.contains("tok123") && !head.contains("k3y"), "{head}");
        assert!(lower.contains("x-trace: 7"), "{head}");
    }
    assert!(
        stdout.contains("credentials withheld from http://127.0.0.1:"),
        "an info event says so: {stdout}"
    );
}

#[tokio::test]
async fn a_close_reason_with_escape_sequences_reaches_serves_terminal_escaped() {
    let port = free_port();
    let (serve, err) = serve(port, &[]);
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/cam/ws"))
        .await
        .expect("connect");
    ws.send(Message::Close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "\u{1b}]0;X\u{7}\u{202e}gnp.exe".into(),
    })))
    .await
    .expect("close");
    drop(ws);
    // Read serve's stderr until the connection's close line.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut err = err;
        let mut all = String::new();
        let mut line = String::new();
        while err.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            all.push_str(&line);
            let done = line.contains("closed");
            line.clear();
            if done {
                break;
            }
        }
        let _ = tx.send(all);
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        if let Ok(t) = rx.try_recv() {
            break t;
        }
        assert!(Instant::now() < deadline, "serve printed no close line");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    drop(serve);
    assert!(text.contains("closed"), "{text}");
    assert!(
        text.contains("]0;X"),
        "the reason is shown, escaped: {text:?}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "raw ESC on serve's stderr: {text:?}"
    );
    assert!(!text.contains('\u{7}'), "raw BEL: {text:?}");
    assert!(!text.contains('\u{202e}'), "raw bidi override: {text:?}");
}

/// Read what the server sends until it closes or `limit` passes.
fn read_until_close(stream: &mut std::net::TcpStream, limit: Duration) -> (String, bool) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    while Instant::now() < deadline {
        match stream.read(&mut chunk) {
            Ok(0) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), true),
        }
    }
    (String::from_utf8_lossy(&got).into_owned(), false)
}

#[test]
fn serve_caps_connections_and_drops_slow_clients() {
    let port = free_port();
    let (_serve, _err) = serve(
        port,
        &[
            "--max-connections",
            "2",
            "--header-timeout",
            "1s",
            "--body-timeout",
            "1s",
        ],
    );
    let connect = || std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    // Two clients that never finish their request head hold both connection slots.
    let mut slow1 = connect();
    slow1
        .write_all(b"GET /cam/ws HTTP/1.1\r\nHost: x\r\n")
        .expect("write");
    let mut slow2 = connect();
    slow2
        .write_all(b"POST /cam/whep HTTP/1.1\r\n")
        .expect("write");
    std::thread::sleep(Duration::from_millis(200));
    // A third is refused at once with 503.
    let mut third = connect();
    let (text, closed) = read_until_close(&mut third, Duration::from_secs(3));
    assert!(closed && text.starts_with("HTTP/1.1 503"), "{text:?}");
    assert!(text.contains("Retry-After"), "{text}");
    // The slow ones are cut off by the header timeout.
    for s in [&mut slow1, &mut slow2] {
        let (_, closed) = read_until_close(s, Duration::from_secs(5));
        assert!(
            closed,
            "a client that never finished its head is disconnected"
        );
    }
    // A body that drips gets 408 within the body timeout.
    std::thread::sleep(Duration::from_millis(200));
    let mut drip = connect();
    drip.write_all(
        b"POST /cam/whep HTTP/1.1\r\nHost: x\r\nContent-Type: application/sdp\r\nContent-Length: 1000\r\n\r\nv=0\r\n",
    )
    .expect("write");
    let (text, _) = read_until_close(&mut drip, Duration::from_secs(5));
    assert!(text.starts_with("HTTP/1.1 408"), "{text:?}");
    assert!(text.contains("--body-timeout"), "{text}");
}

#[tokio::test]
async fn serve_caps_sessions_and_refuses_huge_websocket_messages_in_the_websocket_layer() {
    use futures_util::StreamExt;
    let port = free_port();
    let (_serve, _err) = serve(port, &["--max-sessions", "1"]);
    let url = format!("ws://127.0.0.1:{port}/cam/ws");
    let (mut first, _) = tokio_tungstenite::connect_async(&url)
        .await
        .expect("connect");
    // The first session gets its ICE-server list.
    let msg = tokio::time::timeout(Duration::from_secs(5), first.next())
        .await
        .expect("ice servers in time");
    assert!(matches!(msg, Some(Ok(Message::Text(_)))), "{msg:?}");
    // A second is closed with 1013 (try again later) while the first lives.
    let (mut second, _) = tokio_tungstenite::connect_async(&url)
        .await
        .expect("connect");
    let msg = tokio::time::timeout(Duration::from_secs(5), second.next())
        .await
        .expect("close in time");
    match msg {
        Some(Ok(Message::Close(Some(f)))) => {
            assert_eq!(u16::from(f.code), 1013, "{f:?}");
            assert!(f.reason.contains("too many sessions"), "{f:?}");
        }
        other => panic!("expected a 1013 close, got {other:?}"),
    }
    // A 4 MiB message on the first is refused by the WebSocket layer: the socket ends.
    let big = "x".repeat(4 << 20);
    let _ = first.send(Message::text(big)).await;
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match first.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return true,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert_eq!(ended, Ok(true), "the oversized message ended the session");
    // The slot is free again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (mut third, _) = tokio_tungstenite::connect_async(&url)
        .await
        .expect("connect");
    let msg = tokio::time::timeout(Duration::from_secs(5), third.next())
        .await
        .expect("ice servers in time");
    assert!(matches!(msg, Some(Ok(Message::Text(_)))), "{msg:?}");
}

#[test]
fn no_recorded_session_in_the_repository_holds_a_secret_in_clear() {
    let dir = crate::support::diagnosis::fixture_dir();
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("fixture dir") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("ndjson") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let ev: rtcscope::event::Stamped = serde_json::from_str(line).expect("event line");
            assert_eq!(
                rtcscope::secrets::redact_event(&ev.event),
                ev.event,
                "{} holds a secret in clear: {line}",
                path.display()
            );
        }
        checked += 1;
    }
    assert!(checked > 20, "only {checked} recordings found");
}
