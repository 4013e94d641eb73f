//! The real binary: exit codes, automatic headless mode, usage errors, and a sender killed mid-stream.

use crate::support::common::{self, Killed, free_port};

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rtcscope::event::{EndReason, Event, RestartCause, Stamped};

const BIN: &str = env!("CARGO_BIN_EXE_rtcscope");

/// Spawn the viewer with stdout piped and a thread that parses its NDJSON lines.
fn viewer(args: &[&str]) -> (Killed, mpsc::Receiver<Stamped>) {
    let mut child = Command::new(BIN)
        // ICE on loopback only (see `common::viewer`).
        .args(["--bind", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn viewer");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let ev: Stamped = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not an event line ({e}): {line}"));
            if tx.send(ev).is_err() {
                break;
            }
        }
    });
    (Killed(child), rx)
}

fn wait_for(rx: &mpsc::Receiver<Stamped>, what: &str, pred: impl Fn(&Stamped) -> bool) -> Stamped {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(ev) if pred(&ev) => return ev,
            Ok(_) => {}
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

#[test]
fn sender_killed_mid_stream_restarts_and_reconnects_when_it_returns() {
    let port = free_port();
    let server = common::serve_on(port, &[]);
    let url = format!("ws://127.0.0.1:{port}/cam/ws");
    let (mut viewer, rx) = viewer(&[
        "--headless",
        "--duration",
        "40s",
        "--restart-pause",
        "500ms",
        "--ice-timeouts",
        "1s,2s,500ms",
        &url,
    ]);
    wait_for(&rx, "first media", |e| {
        matches!(e.event, Event::FirstMedia { .. })
    });
    drop(server); // SIGKILL: no close frame, no DTLS close
    let restart = wait_for(&rx, "a restart", |e| {
        matches!(e.event, Event::Restart { .. })
    });
    let Event::Restart {
        cause,
        had_connected,
        ..
    } = &restart.event
    else {
        unreachable!()
    };
    assert!(*had_connected);
    assert!(
        matches!(
            cause,
            RestartCause::SocketClosed { .. }
                | RestartCause::IceDisconnected
                | RestartCause::IceFailed
        ),
        "{cause:?}"
    );
    // While the server is down, attempts fail to connect; then it comes back.
    wait_for(&rx, "a failed connect", |e| {
        matches!(e.event, Event::SignalingFailed { .. })
    });
    let _server = common::serve_on(port, &[]);
    let media = wait_for(&rx, "media again", |e| {
        matches!(e.event, Event::FirstMedia { .. })
    });
    assert!(media.attempt >= 2);
    // SIGTERM ends the session cleanly: `ended` is written, media flowed → exit 0.
    let _ = Command::new("kill")
        .args(["-TERM", &viewer.0.id().to_string()])
        .status();
    let ended = wait_for(&rx, "ended", |e| matches!(e.event, Event::Ended { .. }));
    assert!(matches!(
        ended.event,
        Event::Ended {
            reason: EndReason::Interrupted,
            ever_connected: true,
            media_received: true,
            ..
        }
    ));
    let status = viewer.0.wait().expect("exit status");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn unreachable_server_exits_3_with_ndjson_on_a_pipe() {
    let port = free_port(); // nothing listens there
    // No --headless: stdout is a pipe, so headless mode is automatic.
    let out = Command::new(BIN)
        .args([
            "--max-restarts",
            "1",
            "--restart-pause",
            "100ms",
            &format!("ws://127.0.0.1:{port}/cam/ws"),
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3), "signaling failed → exit 3");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let events: Vec<Stamped> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is an event"))
        .collect();
    assert!(matches!(events[0].event, Event::SessionStarted { .. }));
    assert!(events.iter().any(|e| matches!(&e.event,
        Event::SignalingFailed { error, .. } if error.contains("could not connect"))));
    assert!(matches!(
        events.last().map(|e| &e.event),
        Some(Event::Ended {
            reason: EndReason::MaxRestarts { .. },
            ..
        })
    ));
}

#[test]
fn usage_errors_exit_2_with_a_message() {
    for args in [
        vec!["--duration", "soon", "ws://127.0.0.1:1/x/ws"],
        vec!["ftp://127.0.0.1/x"],
        vec!["--header", "no colon", "ws://127.0.0.1:1/x/ws"],
        vec!["--ice-server", "turns", "ws://127.0.0.1:1/x/ws"],
        vec![],
    ] {
        let out = Command::new(BIN).args(&args).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.trim().is_empty(), "{args:?}: a message on stderr");
        assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
    }
}

#[test]
fn help_documents_exit_codes_and_examples() {
    let out = Command::new(BIN).arg("--help").output().expect("run");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "EXIT CODES",
        "demo",
        "serve",
        "--restart-pause",
        "NDJSON",
        "--ice-server",
        "--report",
        "DTLS failed",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}");
    }
}

#[test]
fn demo_runs_headless_and_exits_0_when_media_flowed() {
    let out = Command::new(BIN)
        .args([
            "demo",
            "--headless",
            "--bind",
            "127.0.0.1:0",
            "--duration",
            "3s",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.lines().any(|l| l.contains(r#""type":"first_media""#)));
}

/// A TURN server refusing our credentials is only in webrtc-rs's log: it must reach the event stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turn_auth_failure_from_the_stack_log_becomes_a_warning_event() {
    if !common::coturn_available() {
        assert!(std::env::var_os("CI").is_none(), "coturn is required in CI");
        eprintln!("SKIPPED: turnserver not installed");
        return;
    }
    let turn = common::Coturn::start().await;
    let port = free_port();
    let _server = common::serve_on(port, &[]);
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args([
                "--headless",
                "--bind",
                "127.0.0.1:0",
                "--duration",
                "3s",
                "--ice-transport-policy",
                "relay",
                "--ice-server",
                &format!("turn:test:wrong@127.0.0.1:{}", turn.port),
                &format!("ws://127.0.0.1:{port}/cam/ws"),
            ])
            .output()
            .expect("run")
    })
    .await
    .expect("join");
    let text = String::from_utf8_lossy(&out.stdout);
    let warning = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Stamped>(l).ok())
        .find_map(|e| match e.event {
            Event::Warning {
                source: rtcscope::event::ErrorSource::Stack,
                message,
            } if message.contains("TURN allocation failed") => Some(message),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no stack warning in:\n{text}"));
    assert!(warning.contains("401"), "{warning}");
    assert!(!text.contains("wrong\""), "the credential is not shown");
    // Relay only and no relay candidate: never connected, answer received → exit 4.
    assert_eq!(out.status.code(), Some(4));
}
