//! The loopback part of the fault matrix, against the real binary: servers that misbehave at the
//! transport level (a slow drip, a TLS handshake that stalls, a WebSocket that never speaks, a name
//! that does not resolve), and floods (100k remote candidates, then a million more messages). Each
//! asserts that the restart log says what happened, that nothing panicked, that nothing but NDJSON
//! reached stdout, and, for the floods, that memory stays bounded and Stop still ends the session
//! within a second. The NAT-lab part (outage, loss, rebinding, WHEP in the lab) is in
//! `tests/natlab/faults.rs`.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};

use crate::support::common::{Killed, TempDir};
use std::time::{Duration, Instant};

use rtcscope::event::{Event, Phase, RestartCause, Stamped};

const BIN: &str = env!("CARGO_BIN_EXE_rtcscope");

/// Run the headless viewer to its end; returns (events, stderr, exit code).
fn run(args: &[&str]) -> (Vec<Stamped>, String, Option<i32>) {
    run_with(Command::new(BIN).args(["--bind", "127.0.0.1:0"]).args(args))
}

fn run_with(cmd: &mut Command) -> (Vec<Stamped>, String, Option<i32>) {
    let out = cmd.stdin(Stdio::null()).output().expect("run viewer");
    let stdout = String::from_utf8(out.stdout).expect("stdout is UTF-8");
    let events = stdout
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not an event line ({e}): {l:?}"))
        })
        .collect();
    (
        events,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

fn restarts(events: &[Stamped]) -> Vec<(RestartCause, bool)> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Event::Restart {
                cause,
                had_connected,
                ..
            } => Some((cause.clone(), *had_connected)),
            _ => None,
        })
        .collect()
}

/// What every fault run must satisfy: no panic, an `ended` event last, never connected.
fn clean_failure(what: &str, events: &[Stamped], stderr: &str, code: Option<i32>) {
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert_ne!(code, Some(101), "{what}: a panic exit");
    assert!(
        matches!(
            events.last().map(|e| &e.event),
            Some(Event::Ended {
                ever_connected: false,
                ..
            })
        ),
        "{what}: {:?}",
        events.last()
    );
}

/// A TCP server on loopback that runs `each` on every connection (in its own thread).
fn tcp_server(each: fn(std::net::TcpStream)) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(s) = s else { break };
            std::thread::spawn(move || each(s));
        }
    });
    port
}

#[test]
fn a_slow_drip_signaling_server_is_a_handshake_timeout_not_a_hang() {
    // Reads the request, then sends its answer one byte every 300 ms, forever.
    let port = tcp_server(|mut s| {
        let mut buf = [0u8; 2048];
        let _ = s.read(&mut buf);
        for b in b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            .iter()
            .cycle()
        {
            if s.write_all(&[*b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    let url = format!("ws://127.0.0.1:{port}/cam/ws");
    let started = Instant::now();
    let (events, stderr, code) = run(&[
        "--headless",
        "--handshake-timeout",
        "2s",
        "--max-restarts",
        "1",
        "--restart-pause",
        "200ms",
        &url,
    ]);
    clean_failure("slow drip", &events, &stderr, code);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "bounded in time"
    );
    let r = restarts(&events);
    assert!(!r.is_empty(), "{r:?}");
    for (cause, had_connected) in &r {
        assert!(!had_connected);
        assert!(
            matches!(
                cause,
                RestartCause::HandshakeTimeout {
                    phase: Phase::Connecting
                } | RestartCause::SignalingFailed { .. }
            ),
            "each attempt ends while connecting: {cause:?}"
        );
    }
}

/// A TLS handshake that never completes: the attempt ends on the handshake timeout while still
/// connecting (the restart log says so), never reaching the WebSocket.
#[test]
fn a_tls_handshake_that_stalls_ends_in_a_handshake_timeout_while_connecting() {
    // Accepts TCP, reads the ClientHello, never answers.
    let port = tcp_server(|mut s| {
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        std::thread::sleep(Duration::from_secs(30));
    });
    let url = format!("wss://127.0.0.1:{port}/cam/ws");
    let (events, stderr, code) = run(&[
        "--headless",
        "--handshake-timeout",
        "2s",
        "--max-restarts",
        "0",
        &url,
    ]);
    clean_failure("TLS stall", &events, &stderr, code);
    assert_eq!(
        restarts(&events),
        vec![(
            RestartCause::HandshakeTimeout {
                phase: Phase::Connecting
            },
            false
        )],
        "{events:#?}"
    );
    assert!(
        events
            .iter()
            .all(|e| !matches!(e.event, Event::SignalingConnected { .. })),
        "never connected"
    );
}

#[tokio::test]
async fn a_websocket_that_never_sends_its_first_message_times_out_awaiting_ice_servers() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                // A real WebSocket, silent.
                if let Ok(ws) = tokio_tungstenite::accept_async(tcp).await {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    drop(ws);
                }
            });
        }
    });
    let url = format!("ws://127.0.0.1:{port}/cam/ws");
    let (events, stderr, code) = tokio::task::spawn_blocking(move || {
        run(&[
            "--headless",
            "--handshake-timeout",
            "2s",
            "--max-restarts",
            "1",
            "--restart-pause",
            "200ms",
            &url,
        ])
    })
    .await
    .expect("viewer");
    clean_failure("silent WebSocket", &events, &stderr, code);
    let r = restarts(&events);
    assert_eq!(r.len(), 2, "{r:?}");
    for (cause, _) in &r {
        assert_eq!(
            cause,
            &RestartCause::HandshakeTimeout {
                phase: Phase::AwaitingIceServers
            }
        );
    }
}

#[test]
fn a_name_that_does_not_resolve_is_a_signaling_failure_naming_it() {
    // In a network namespace of its own (no route anywhere), so that no DNS query leaves this host.
    let probe = Command::new("unshare")
        .args(["-n", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !probe.map(|s| s.success()).unwrap_or(false) {
        eprintln!("SKIPPED: unshare -n is not available (not root?)");
        return;
    }
    let (events, stderr, code) = run_with(Command::new("unshare").args([
        "-n",
        BIN,
        "--headless",
        "--max-restarts",
        "0",
        "--handshake-timeout",
        "3s",
        "ws://no-such-host.invalid:8889/cam/ws",
    ]));
    clean_failure("DNS", &events, &stderr, code);
    assert_eq!(code, Some(3), "exit 3: signaling never succeeded");
    let failed = events.iter().find_map(|e| match &e.event {
        Event::SignalingFailed { error, .. } => Some(error.clone()),
        _ => None,
    });
    let error = failed.expect("a signaling_failed event");
    assert!(
        error.contains("no-such-host.invalid")
            || error.to_ascii_lowercase().contains("resolve")
            || error.to_ascii_lowercase().contains("lookup")
            || error.to_ascii_lowercase().contains("name"),
        "the error names the DNS failure: {error}"
    );
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Server-to-client WebSocket text frames (unmasked) of `msg`, `n` times.
fn frames(msg: &str, n: usize) -> Vec<u8> {
    let mut one = vec![0x81u8];
    let len = msg.len();
    if len < 126 {
        one.push(len as u8);
    } else {
        one.push(126);
        one.extend_from_slice(&(len as u16).to_be_bytes());
    }
    one.extend_from_slice(msg.as_bytes());
    one.repeat(n)
}

/// A WebSocket server on loopback that sends an empty ICE-server list, waits for the offer, then
/// floods `total` candidate messages as fast as the viewer reads them. Tells when the flood starts
/// and how many it sent.
async fn flood_server(
    total: usize,
) -> (
    u16,
    tokio::sync::oneshot::Receiver<()>,
    tokio::sync::oneshot::Receiver<usize>,
) {
    use futures_util::{SinkExt, StreamExt};
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (flood_started_tx, flood_started) = tokio::sync::oneshot::channel::<()>();
    let (flood_done_tx, flood_done) = tokio::sync::oneshot::channel::<usize>();
    tokio::spawn(async move {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
            return;
        };
        let _ = ws
            .send(tokio_tungstenite::tungstenite::Message::text("[]"))
            .await;
        // Wait for the offer, then flood with raw frames on the same socket.
        let _ = ws.next().await;
        let mut tcp = ws.into_inner();
        let _ = flood_started_tx.send(());
        let mut sent = 0usize;
        let batch = 10_000;
        let mut i = 0usize;
        while sent < total {
            let msg = format!(
                r#"{{"candidate":"candidate:{i} 1 udp 2130706431 10.{}.{}.{} 9 typ host","sdpMid":"0","sdpMLineIndex":0}}"#,
                (i >> 16) & 255,
                (i >> 8) & 255,
                i & 255
            );
            i += 1;
            if tcp.write_all(&frames(&msg, batch)).await.is_err() {
                break;
            }
            sent += batch;
        }
        let _ = flood_done_tx.send(sent);
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    (port, flood_started, flood_done)
}

#[tokio::test]
async fn a_second_interrupt_ends_a_wedged_run_at_once_with_130() {
    // The run wedges on its own stdout: a pipe nobody reads, filled by the flood's events.
    let (port, flood_started, _done) = flood_server(50_000).await;
    let url = format!("ws://127.0.0.1:{port}/cam/ws");
    let child = Command::new(BIN)
        .args([
            "--headless",
            "--bind",
            "127.0.0.1:0",
            "--no-probe",
            "--handshake-timeout",
            "120s",
            &url,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn viewer");
    let pid = child.id() as i32;
    let mut child = Killed(child);
    tokio::time::timeout(Duration::from_secs(20), flood_started)
        .await
        .expect("offer in time")
        .expect("flood");
    tokio::time::sleep(Duration::from_secs(2)).await;
    // SAFETY: kill on the pid of our own child process.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        child.0.try_wait().expect("wait").is_none(),
        "the run is wedged: the first interrupt cannot end it"
    );
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.0.try_wait().expect("wait") {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "the second interrupt did not end it"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(status.code(), Some(130));
    let mut stderr = String::new();
    if let Some(mut e) = child.0.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    assert!(stderr.contains("interrupted again"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn a_flood_of_candidates_and_messages_keeps_memory_bounded_and_stop_prompt() {
    const CANDIDATES: usize = 100_000;
    const MESSAGES: usize = 1_000_000;
    let (port, flood_started, flood_done) = flood_server(CANDIDATES + MESSAGES).await;

    let dir = TempDir::new("flood");
    let events_path = dir.0.join("events.ndjson");
    let url = format!("ws://127.0.0.1:{port}/cam/ws");
    let child = Command::new(BIN)
        .args([
            "--headless",
            "--bind",
            "127.0.0.1:0",
            "--no-probe",
            "--handshake-timeout",
            "120s",
            "--events",
        ])
        .arg(&events_path)
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn viewer");
    let pid = child.id();
    let mut child = Killed(child);
    tokio::time::timeout(Duration::from_secs(20), flood_started)
        .await
        .expect("the viewer offered in time")
        .expect("flood");
    let before = rss_kib(pid).expect("rss");
    // Sample memory while the flood lasts.
    let mut peak = before;
    let mut flood_done = flood_done;
    let sent = loop {
        tokio::select! {
            r = &mut flood_done => break r.expect("flood result"),
            _ = tokio::time::sleep(Duration::from_millis(100)) => {
                if let Some(r) = rss_kib(pid) {
                    peak = peak.max(r);
                }
            }
        }
    };
    assert!(sent >= CANDIDATES + MESSAGES, "the flood was sent: {sent}");
    // Stop while the viewer may still be reading the backlog: it must end within a second.
    // SAFETY: kill on the pid of our own child process.
    unsafe {
        libc::kill(pid as i32, libc::SIGTERM);
    }
    let stop = Instant::now();
    let status = loop {
        if let Some(s) = child.0.try_wait().expect("wait") {
            break s;
        }
        assert!(
            stop.elapsed() < Duration::from_secs(1),
            "Stop did not end the session within a second"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.0.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(status.code().is_some(), "exited, not killed: {status:?}");
    let growth = peak.saturating_sub(before);
    eprintln!(
        "flood: {sent} messages; RSS {before} KiB before, peak {peak} KiB (+{growth} KiB); stopped in {:?}",
        stop.elapsed()
    );
    assert!(
        growth < 64 * 1024,
        "RSS grew by {growth} KiB during the flood"
    );
    let text = std::fs::read_to_string(&events_path).expect("events");
    let shown = text.matches("\"type\":\"remote_candidate\"").count();
    assert!(
        shown <= rtcscope::signaling::MAX_REMOTE_CANDIDATES,
        "{shown} remote candidates shown"
    );
    assert!(
        text.contains("the rest are dropped"),
        "the limit is reported"
    );
}
