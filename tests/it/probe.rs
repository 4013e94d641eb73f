//! The ICE-server probe against real servers on 127.0.0.1: coturn (UDP, TCP, and TLS with a
//! self-signed certificate generated here), and ports where nothing listens. Nothing is sent to any
//! other address. Without `turnserver` the coturn tests are skipped locally and fail in CI.

use crate::support::common;

use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rtcscope::event::{Event, IceServerSource, Stamped};
use rtcscope::probe::{
    ProbeKind, ProbeOptions, ProbeOutcome, ProbeResult, ProbeTransport, probe_all, probe_server,
};
use rtcscope::proto::ice_server::{IceServerSpec, parse_cli_ice_server};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Whether coturn can be used; panics in CI when it is missing (the convention of engine_loopback.rs).
fn coturn_or_skip() -> bool {
    if common::coturn_available() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "coturn (turnserver) is required in CI: .ci/run installs it"
    );
    eprintln!("SKIPPED: turnserver not installed (apt-get install coturn)");
    false
}

fn spec(url: &str) -> IceServerSpec {
    parse_cli_ice_server(url, None, None).expect("valid ICE server URL")
}

async fn probe_one(url: &str, opts: &ProbeOptions) -> ProbeResult {
    let mut r = probe_server(&spec(url), opts).await;
    assert_eq!(r.len(), 1, "{r:#?}");
    let r = r.remove(0);
    eprintln!("{}", r.summary());
    r
}

fn assert_relay_ok(r: &ProbeResult, transport: ProbeTransport) {
    assert_eq!(r.outcome, ProbeOutcome::Ok, "{}\n{r:#?}", r.summary());
    assert_eq!(r.transport, transport);
    assert_eq!(r.kind, ProbeKind::TurnAllocate);
    let relay = r.relayed_address.expect("relayed address");
    assert_eq!(relay.ip(), LOCALHOST, "{r:#?}");
    assert!(relay.port() > 0);
    assert!(r.lifetime_s.is_some_and(|l| l > 0), "{r:#?}");
    assert_eq!(r.released, Some(true), "the allocation was freed: {r:#?}");
    assert!(
        r.rtt_ms.is_some_and(|v| (0.0..1000.0).contains(&v)),
        "{r:#?}"
    );
    // The server saw our own socket.
    assert_eq!(r.mapped_address, r.local_address, "{r:#?}");
    assert_eq!(r.username.as_deref(), Some("t***"));
    assert!(
        r.summary().contains(&format!("relay {relay}")),
        "{}",
        r.summary()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stun_binding_reports_our_own_address() {
    if !coturn_or_skip() {
        return;
    }
    let turn = common::Coturn::start().await;
    let r = probe_one(
        &format!("stun:127.0.0.1:{}", turn.port),
        &ProbeOptions::default(),
    )
    .await;
    assert_eq!(r.outcome, ProbeOutcome::Ok, "{r:#?}");
    assert_eq!(r.kind, ProbeKind::StunBinding);
    assert_eq!(r.transport, ProbeTransport::Udp);
    let mapped = r.mapped_address.expect("mapped address");
    let local = r.local_address.expect("local address");
    assert_eq!(mapped.ip(), LOCALHOST);
    assert_eq!(mapped, local, "mapped 127.0.0.1:<our port>");
    // One request (a retransmission only if coturn is slow to warm up: its first answer can take
    // ~100 ms right after start).
    assert!((1..=3).contains(&r.attempts), "{r:#?}");
    assert!(r.rtt_ms.is_some_and(|v| v < 1000.0));
    assert_eq!(r.server_address, Some((LOCALHOST, turn.port).into()));
    let s = r.summary();
    assert!(
        s.starts_with(&format!(
            "STUN udp 127.0.0.1:{}: mapped {mapped} in ",
            turn.port
        )),
        "{s}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turn_allocate_over_udp_and_tcp_with_the_right_credentials() {
    if !coturn_or_skip() {
        return;
    }
    let turn = common::Coturn::start().await;
    let opts = ProbeOptions::default();
    let udp = probe_one(&format!("turn:test:secret@127.0.0.1:{}", turn.port), &opts).await;
    assert_relay_ok(&udp, ProbeTransport::Udp);
    assert!(udp.connect_ms.is_none());
    let tcp = probe_one(
        &format!("turn:test:secret@127.0.0.1:{}?transport=tcp", turn.port),
        &opts,
    )
    .await;
    assert_relay_ok(&tcp, ProbeTransport::Tcp);
    assert!(tcp.connect_ms.is_some());
    // The viewer uses TURN over TCP now (through its bridge): no "cannot use" note.
    assert!(!tcp.summary().contains("cannot use"), "{}", tcp.summary());
    // Separate credentials, as --ice-username/--ice-credential give them; and both transports
    // from one URL with all_transports.
    let spec = parse_cli_ice_server(
        &format!("turn:127.0.0.1:{}", turn.port),
        Some("test"),
        Some("secret"),
    )
    .unwrap();
    let both = probe_server(
        &spec,
        &ProbeOptions {
            all_transports: true,
            ..opts
        },
    )
    .await;
    assert_eq!(both.len(), 2);
    assert_relay_ok(&both[0], ProbeTransport::Udp);
    assert_relay_ok(&both[1], ProbeTransport::Tcp);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_a_401_with_its_reason() {
    if !coturn_or_skip() {
        return;
    }
    let turn = common::Coturn::start().await;
    for url in [
        format!("turn:test:wrong@127.0.0.1:{}", turn.port),
        format!("turn:test:wrong@127.0.0.1:{}?transport=tcp", turn.port),
        format!("turn:nobody:secret@127.0.0.1:{}", turn.port),
    ] {
        let r = probe_one(&url, &ProbeOptions::default()).await;
        match &r.outcome {
            ProbeOutcome::StunError {
                code: 401,
                reason,
                authenticated: true,
            } => assert!(!reason.is_empty(), "{r:#?}"),
            o => panic!("{url}: want 401, got {o:?}"),
        }
        assert!(r.relayed_address.is_none());
        assert_eq!(r.released, None);
        // Two requests: the anonymous one (401 with the nonce) and the authenticated one.
        assert_eq!(r.attempts, 2, "{r:#?}");
        let s = r.summary();
        assert!(s.contains("authentication failed (401 "), "{s}");
        assert!(s.contains("check username/credential"), "{s}");
        assert!(!s.contains("wrong"), "the password never shows: {s}");
        let json = serde_json::to_string(&r).unwrap();
        assert!(
            !json.contains("wrong") && !json.contains("secret"),
            "{json}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_turn_rest_username_is_flagged() {
    if !coturn_or_skip() {
        return;
    }
    let turn = common::Coturn::start().await;
    // Expired in September 2020.
    let r = probe_one(
        &format!("turn:1600000000%3Atest:secret@127.0.0.1:{}", turn.port),
        &ProbeOptions::default(),
    )
    .await;
    assert!(
        matches!(r.outcome, ProbeOutcome::StunError { code: 401, .. }),
        "{r:#?}"
    );
    let rest = r.turn_rest.as_ref().expect("TURN-REST username decoded");
    assert_eq!(rest.expiry_unix, 1_600_000_000);
    assert!(rest.expired && rest.seconds_left < 0, "{rest:?}");
    assert!(!rest.clock_skew_suspected, "{rest:?}");
    assert_eq!(r.username.as_deref(), Some("1600000000:t***"));
    assert!(
        r.summary().contains("TURN-REST username expired"),
        "{}",
        r.summary()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_is_a_bounded_timeout_over_udp_and_refused_over_tcp() {
    let port = common::free_port();
    let opts = ProbeOptions::default();
    let t0 = Instant::now();
    let results = probe_all(
        &[
            spec(&format!("stun:127.0.0.1:{port}")),
            spec(&format!("turn:u:p@127.0.0.1:{port}?transport=tcp")),
        ],
        &opts,
    )
    .await;
    let took = t0.elapsed();
    for r in &results {
        eprintln!("{}", r.summary());
    }
    assert!(took < Duration::from_secs(5), "took {took:?}");
    match &results[0].outcome {
        ProbeOutcome::Timeout {
            tries, waited_ms, ..
        } => {
            assert!((3..=4).contains(tries), "{tries}");
            assert!(*waited_ms >= 2900.0 && *waited_ms < 4500.0, "{waited_ms}");
        }
        o => panic!("want a timeout, got {o:?}"),
    }
    assert_eq!(results[0].attempts, 3);
    assert!(
        results[0].summary().contains("no response after 3 tries"),
        "{}",
        results[0].summary()
    );
    match &results[1].outcome {
        ProbeOutcome::ConnectError { error } => assert!(error.contains("refused"), "{error}"),
        o => panic!("want connection refused, got {o:?}"),
    }
    assert!(results[1].summary().contains("connection refused"));
    assert_eq!(results[1].attempts, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shorter_timeout_bounds_the_retransmissions() {
    let port = common::free_port();
    let opts = ProbeOptions {
        timeout: Duration::from_millis(700),
        ..ProbeOptions::default()
    };
    let t0 = Instant::now();
    let r = probe_one(&format!("turn:u:p@127.0.0.1:{port}"), &opts).await;
    assert!(t0.elapsed() < Duration::from_millis(1500));
    assert!(
        matches!(r.outcome, ProbeOutcome::Timeout { tries: 2, .. }),
        "sends at 0 and 500 ms: {r:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_urls_and_unresolvable_hosts_are_results_not_panics() {
    let s = IceServerSpec {
        urls: vec![
            "http://127.0.0.1:1".into(),
            "turns:127.0.0.1:1?transport=udp".into(),
            "stun:no-such-host.invalid:3478".into(),
        ],
        username: None,
        credential: None,
        source: IceServerSource::Signaling,
    };
    let r = probe_server(
        &s,
        &ProbeOptions {
            timeout: Duration::from_secs(2),
            ..ProbeOptions::default()
        },
    )
    .await;
    assert_eq!(r.len(), 3);
    assert!(
        matches!(r[0].outcome, ProbeOutcome::InvalidUrl { .. }),
        "{r:#?}"
    );
    assert!(
        matches!(r[1].outcome, ProbeOutcome::InvalidUrl { .. }),
        "{r:#?}"
    );
    assert!(
        matches!(r[2].outcome, ProbeOutcome::DnsError { .. }),
        "{r:#?}"
    );
    for x in &r {
        assert!(!x.is_ok());
        eprintln!("{}", x.summary());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turn_allocate_over_tls_with_a_self_signed_certificate() {
    if !coturn_or_skip() {
        return;
    }
    // coturn with TLS on a second port, with a self-signed certificate made by the test.
    let turn = common::Coturn::start_tls().await;
    let tls_port = turn.tls_port.expect("TLS port");
    let url = format!("turns:test:secret@127.0.0.1:{tls_port}");
    let insecure = ProbeOptions {
        insecure: true,
        ..ProbeOptions::default()
    };
    let r = probe_one(&url, &insecure).await;
    assert_relay_ok(&r, ProbeTransport::Tls);
    assert!(r.tls_ms.is_some(), "{r:#?}");
    // STUN over TLS on the same port.
    let r = probe_one(&format!("stuns:127.0.0.1:{tls_port}"), &insecure).await;
    assert_eq!(r.outcome, ProbeOutcome::Ok, "{r:#?}");
    assert_eq!(r.transport, ProbeTransport::Tls);
    assert_eq!(r.mapped_address, r.local_address, "{r:#?}");
    // Verification is on by default: the self-signed certificate is refused, and said so.
    let r = probe_one(&url, &ProbeOptions::default()).await;
    match &r.outcome {
        ProbeOutcome::TlsError { error } => assert!(error.contains("certificate"), "{error}"),
        o => panic!("want a TLS error, got {o:?}"),
    }
    assert!(r.summary().contains("--insecure"), "{}", r.summary());
    // Wrong password over TLS: the same 401.
    let r = probe_one(&format!("turns:test:nope@127.0.0.1:{tls_port}"), &insecure).await;
    assert!(
        matches!(r.outcome, ProbeOutcome::StunError { code: 401, .. }),
        "{r:#?}"
    );
    // A port that accepts TCP but never speaks TLS: a TLS error, within the timeout.
    let silent = tokio::net::TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let t0 = Instant::now();
    let r = probe_one(
        &format!("turns:test:secret@127.0.0.1:{silent_port}"),
        &ProbeOptions {
            timeout: Duration::from_secs(1),
            ..insecure
        },
    )
    .await;
    assert!(t0.elapsed() < Duration::from_secs(3));
    match &r.outcome {
        ProbeOutcome::TlsError { error } => assert!(error.contains("no TLS handshake"), "{error}"),
        o => panic!("want a TLS timeout, got {o:?}"),
    }
    hold.abort();
}

#[test]
fn probe_results_travel_in_the_event_stream() {
    let r: ProbeResult = serde_json::from_value(serde_json::json!({
        "url": "turn:127.0.0.1:3478",
        "transport": "udp",
        "kind": "turn_allocate",
        "host": "127.0.0.1",
        "port": 3478,
        "outcome": {"status": "stun_error", "code": 401, "reason": "Unauthorized", "authenticated": true},
        "attempts": 2,
        "elapsed_ms": 1.5
    }))
    .unwrap();
    let ev = Stamped {
        seq: 3,
        t_ms: 10.0,
        attempt: 1,
        event: Event::ProbeResult { result: r },
    };
    assert_eq!(ev.event.name(), "probe_result");
    let text = serde_json::to_string(&ev).unwrap();
    assert!(text.contains(r#""type":"probe_result""#), "{text}");
    assert!(text.contains(r#""status":"stun_error""#), "{text}");
    let back: Stamped = serde_json::from_str(&text).unwrap();
    assert_eq!(back, ev);
}

fn rtcscope(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rtcscope"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run rtcscope");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_command_prints_lines_or_json_and_sets_the_exit_code() {
    if !coturn_or_skip() {
        return;
    }
    let turn = common::Coturn::start().await;
    let stun = format!("stun:127.0.0.1:{}", turn.port);
    let good = format!("turn:127.0.0.1:{}?transport=tcp", turn.port);
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        rtcscope(&[
            "probe",
            &stun,
            &good,
            "--ice-username",
            "test",
            "--ice-credential",
            "secret",
        ])
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{out}\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("STUN udp 127.0.0.1:"), "{out}");
    assert!(lines[1].starts_with("TURN tcp 127.0.0.1:"), "{out}");

    let bad = format!("turn:test:wrong@127.0.0.1:{}", turn.port);
    let (code, out, err) =
        tokio::task::spawn_blocking(move || rtcscope(&["probe", "--json", &bad]))
            .await
            .unwrap();
    assert_eq!(code, 7, "{out}\n{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("a JSON array");
    assert_eq!(v[0]["outcome"]["status"], "stun_error");
    assert_eq!(v[0]["outcome"]["code"], 401);
    assert!(
        v[0]["summary"]
            .as_str()
            .is_some_and(|s| s.contains("authentication failed")),
        "{v}"
    );
    assert!(!out.contains("wrong"), "{out}");
}

#[test]
fn the_probe_command_rejects_bad_urls_as_usage_errors() {
    let (code, _, err) = rtcscope(&["probe", "http://127.0.0.1:1"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unsupported scheme"), "{err}");
    let (code, _, err) = rtcscope(&["probe", "turn:127.0.0.1:1"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--ice-username"), "{err}");
    let (code, _, _) = rtcscope(&["probe"]);
    assert_eq!(code, 2);
    let (code, _, err) = rtcscope(&["probe", "--timeout", "0s", "stun:127.0.0.1:1"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--timeout"), "{err}");
}
