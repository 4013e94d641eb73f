//! Media over TURN/TCP and TURN/TLS (webrtc-rs 0.21.1 skips those URLs; the adapter's loopback bridge
//! carries them): coturn on 127.0.0.1 with TCP and TLS listeners (a self-signed certificate made here),
//! the built-in sender, and the viewer with the relay-only policy and ONLY the TCP or TLS URL, so the
//! media can only flow through that connection. Nothing leaves 127.0.0.1.

use crate::support::common::{self, collect, dump, of, sender_options, viewer};

use std::time::Duration;

use rtcscope::event::{CandidateType, Event, RelayProtocol, Stamped, TurnTransportStage};

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

/// The local candidates of a run.
fn local_candidates(events: &[Stamped]) -> Vec<rtcscope::event::Candidate> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Event::LocalCandidate { candidate } => Some(candidate.clone()),
            _ => None,
        })
        .collect()
}

/// No event carries the TURN credential (`secret`) in clear, every event serialised in full. The
/// server's raw ice-servers message in the signaling log (`message_received`) is left out: a masking
/// layer of its own covers it, outside this feature.
fn assert_no_credential(events: &[Stamped]) {
    for e in events {
        if e.event.name() == "message_received" {
            continue;
        }
        let line = serde_json::to_string(e).expect("serialise");
        assert!(!line.contains("secret"), "a credential in clear: {line}");
    }
}

/// The relay session through `ice` only: relay candidates over `want`, the selected pair relayed over
/// it, media flowing, no URL skipped, the real URL shown (never the bridge's), no credential in clear.
fn assert_media_over(events: &[Stamped], ice_shown: &str, want: RelayProtocol) {
    let t = dump(events);
    let Some(Event::IceServers { skipped, .. }) =
        of(events, "ice_servers").first().map(|e| &e.event)
    else {
        panic!("no ice_servers event\n{t}")
    };
    assert!(skipped.is_empty(), "nothing skipped: {skipped:?}");
    let relays = local_candidates(events);
    assert!(!relays.is_empty(), "relay candidates\n{t}");
    for c in &relays {
        assert_eq!(c.typ, CandidateType::Relay, "relay policy: {c:?}");
        assert_eq!(c.relay_protocol, Some(want), "{c:?}");
        assert_eq!(c.url.as_deref(), Some(ice_shown), "the real URL: {c:?}");
    }
    let Some(Event::SelectedPair { pair, .. }) =
        of(events, "selected_pair").last().map(|e| &e.event)
    else {
        panic!("no selected pair\n{t}")
    };
    let local = pair.local.as_ref().expect("local end");
    assert_eq!(local.typ, CandidateType::Relay, "{t}");
    assert_eq!(local.relay_protocol, Some(want), "{t}");
    assert!(
        of(events, "first_media").iter().any(|e| e.attempt == 1),
        "media in the first attempt\n{t}"
    );
    assert!(
        common::last_track_stats(events).is_some_and(|s| s.packets_received > 100),
        "media keeps flowing\n{t}"
    );
    assert!(of(events, "turn_transport_failed").is_empty(), "{t}");
    // Credentials never in clear; the loopback bridge never shown. (The server's raw ice-servers
    // message in the signaling log is masked by a layer of its own, outside this feature.)
    assert_no_credential(events);
    assert!(!t.contains("transport=udp"), "a bridge URL leaked\n{t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_only_over_turn_tcp_carries_the_media() {
    if !coturn_or_skip() {
        return;
    }
    let turn = common::Coturn::start().await;
    let server = rtcscope::serve::start("127.0.0.1:0".parse().unwrap(), sender_options(&[]))
        .await
        .unwrap();
    let ice = format!("turn:test:secret@127.0.0.1:{}?transport=tcp", turn.port);
    let events = collect(
        viewer(&[
            "--duration",
            "6s",
            "--ice-transport-policy",
            "relay",
            "--ice-server",
            &ice,
            &server.ws_url("cam"),
        ]),
        Duration::from_secs(40),
    )
    .await;
    server.shutdown().await;
    assert_media_over(
        &events,
        &format!("turn:127.0.0.1:{}?transport=tcp", turn.port),
        RelayProtocol::Tcp,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turns_is_verified_and_works_with_insecure_over_whep() {
    if !coturn_or_skip() {
        return;
    }
    let turn = common::Coturn::start_tls().await;
    let tls_port = turn.tls_port.expect("TLS port");
    let server = rtcscope::serve::start("127.0.0.1:0".parse().unwrap(), sender_options(&[]))
        .await
        .unwrap();
    let ice = format!("turns:test:secret@127.0.0.1:{tls_port}?transport=tcp");
    let shown = format!("turns:127.0.0.1:{tls_port}?transport=tcp");

    // Verification on (the default): the self-signed certificate is refused, and said so.
    let events = collect(
        viewer(&[
            "--duration",
            "5s",
            "--max-restarts",
            "0",
            "--no-probe",
            "--ice-transport-policy",
            "relay",
            "--ice-server",
            &ice,
            &server.whep_url("cam"),
        ]),
        Duration::from_secs(40),
    )
    .await;
    let t = dump(&events);
    let failures: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::TurnTransportFailed {
                url,
                relay_protocol,
                stage,
                error,
            } => Some((url.clone(), *relay_protocol, *stage, error.clone())),
            _ => None,
        })
        .collect();
    assert!(!failures.is_empty(), "{t}");
    let (url, proto, stage, error) = &failures[0];
    assert_eq!(url, &shown);
    assert_eq!(*proto, RelayProtocol::Tls);
    assert_eq!(*stage, TurnTransportStage::Tls);
    assert!(error.contains("unknown CA"), "{error}");
    assert!(local_candidates(&events).is_empty(), "{t}");
    assert!(of(&events, "first_media").is_empty(), "{t}");
    assert_no_credential(&events);

    // --insecure: the media flows over TURN/TLS.
    let events = collect(
        viewer(&[
            "--duration",
            "6s",
            "--insecure",
            "--ice-transport-policy",
            "relay",
            "--ice-server",
            &ice,
            &server.whep_url("cam"),
        ]),
        Duration::from_secs(40),
    )
    .await;
    server.shutdown().await;
    assert_media_over(&events, &shown, RelayProtocol::Tls);
}

/// A TCP forwarder to `upstream` on 127.0.0.1 whose open connections can be cut (a proxy or firewall
/// that drops an idle or long connection); new connections are still accepted after a cut.
struct CuttableProxy {
    port: u16,
    conns: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl CuttableProxy {
    async fn start(upstream: u16) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let conns = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let list = conns.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut down, _)) = listener.accept().await {
                let task = tokio::spawn(async move {
                    if let Ok(mut up) =
                        tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                    }
                });
                list.lock().unwrap().push(task);
            }
        });
        Self {
            port,
            conns,
            accept,
        }
    }

    /// Close every open connection (both sides); returns how many there were.
    fn cut(&self) -> usize {
        let mut conns = self.conns.lock().unwrap();
        let n = conns.iter().filter(|t| !t.is_finished()).count();
        for t in conns.drain(..) {
            t.abort();
        }
        n
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// The TCP connection to the TURN server drops mid-session: the viewer says so (`turn_transport_failed`,
/// stage `dropped`), restarts, and the media flows again over a new connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_turn_tcp_connection_is_reported_and_the_session_restarts() {
    if !coturn_or_skip() {
        return;
    }
    let turn = common::Coturn::start().await;
    let proxy = CuttableProxy::start(turn.port).await;
    let server = rtcscope::serve::start("127.0.0.1:0".parse().unwrap(), sender_options(&[]))
        .await
        .unwrap();
    let ice = format!("turn:test:secret@127.0.0.1:{}?transport=tcp", proxy.port);
    let shown = format!("turn:127.0.0.1:{}?transport=tcp", proxy.port);
    let handle = viewer(&[
        "--duration",
        "14s",
        "--no-probe",
        "--restart-pause",
        "500ms",
        "--ice-transport-policy",
        "relay",
        "--ice-server",
        &ice,
        &server.ws_url("cam"),
    ]);
    let run = tokio::spawn(collect(handle, Duration::from_secs(60)));
    tokio::time::sleep(Duration::from_secs(5)).await;
    let cut = proxy.cut();
    let events = run.await.expect("the collector");
    server.shutdown().await;
    let t = dump(&events);
    assert!(cut > 0, "the viewer had a TCP connection open\n{t}");
    assert!(
        of(&events, "first_media").iter().any(|e| e.attempt == 1),
        "media before the cut\n{t}"
    );
    let dropped = events.iter().find(|e| {
        matches!(&e.event, Event::TurnTransportFailed { url, stage: TurnTransportStage::Dropped, relay_protocol: RelayProtocol::Tcp, .. } if *url == shown)
    });
    let dropped = dropped.unwrap_or_else(|| panic!("no dropped connection reported\n{t}"));
    assert_eq!(dropped.attempt, 1, "{t}");
    let restart = events
        .iter()
        .find_map(|e| match &e.event {
            Event::Restart { cause, .. } => Some(cause.describe()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no restart\n{t}"));
    assert!(restart.contains("dropped"), "{restart}");
    assert!(
        of(&events, "first_media").iter().any(|e| e.attempt >= 2),
        "media again after the restart\n{t}"
    );
    assert_no_credential(&events);
}

/// Milliseconds from the attempt's start to an event of `name` in attempt 1.
fn ms_to(events: &[Stamped], name: &str) -> Option<f64> {
    let start = of(events, "attempt_started").first().map(|e| e.t_ms)?;
    of(events, name)
        .iter()
        .find(|e| e.attempt == 1)
        .map(|e| e.t_ms - start)
}

/// Not a test but a measurement (speeds are not asserted): time to the first relay candidate, to the
/// connection and to first media with TURN over UDP, TCP and TLS, relay-only, against one coturn and
/// one sender on loopback, in one run. `cargo test --test it turn_tcp::measure -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by hand"]
async fn measure_time_to_first_media_over_udp_tcp_and_tls_relays() {
    if !coturn_or_skip() {
        return;
    }
    let turn = common::Coturn::start_tls().await;
    let tls_port = turn.tls_port.expect("TLS port");
    let server = rtcscope::serve::start("127.0.0.1:0".parse().unwrap(), sender_options(&[]))
        .await
        .unwrap();
    let runs = [
        ("udp", format!("turn:test:secret@127.0.0.1:{}", turn.port)),
        (
            "tcp",
            format!("turn:test:secret@127.0.0.1:{}?transport=tcp", turn.port),
        ),
        ("tls", format!("turns:test:secret@127.0.0.1:{tls_port}")),
    ];
    let rounds: usize = std::env::var("RTCSCOPE_MEASURE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    println!(
        "relay  round  relay candidate  ICE connected  first media   (ms from the attempt's start)"
    );
    for round in 1..=rounds {
        for (name, ice) in &runs {
            let events = collect(
                viewer(&[
                    "--duration",
                    "5s",
                    "--no-probe",
                    "--insecure",
                    "--ice-transport-policy",
                    "relay",
                    "--ice-server",
                    ice,
                    &server.ws_url("cam"),
                ]),
                Duration::from_secs(40),
            )
            .await;
            let connected = events.iter().find_map(|e| match &e.event {
                Event::StateChanged { kind, state }
                    if e.attempt == 1
                        && *kind == rtcscope::event::StateKind::IceConnection
                        && state == "connected" =>
                {
                    Some(e.t_ms)
                }
                _ => None,
            });
            let start = of(&events, "attempt_started")
                .first()
                .map_or(0.0, |e| e.t_ms);
            let show = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.0}"));
            println!(
                "{name:<5}  {round:>5}  {:>15}  {:>13}  {:>11}",
                show(ms_to(&events, "local_candidate")),
                show(connected.map(|c| c - start)),
                show(ms_to(&events, "first_media")),
            );
        }
    }
    server.shutdown().await;
}

/// The server gives the TURN URL (the WebSocket protocol's ice-servers message, WHEP's `Link`
/// headers), not the command line: TURN over TCP and TLS are used the same way. (The built-in sender
/// itself does not use them: it announces them.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_given_turn_tcp_and_tls_urls_carry_the_media_on_both_protocols() {
    if !coturn_or_skip() {
        return;
    }
    let turn = common::Coturn::start_tls().await;
    let tls_port = turn.tls_port.expect("TLS port");
    let tcp = format!("turn:test:secret@127.0.0.1:{}?transport=tcp", turn.port);
    let tls = format!("turns:test:secret@127.0.0.1:{tls_port}?transport=tcp");
    for (ice, shown, want, whep) in [
        (
            &tcp,
            format!("turn:127.0.0.1:{}?transport=tcp", turn.port),
            RelayProtocol::Tcp,
            true,
        ),
        (
            &tls,
            format!("turns:127.0.0.1:{tls_port}?transport=tcp"),
            RelayProtocol::Tls,
            false,
        ),
    ] {
        let server = rtcscope::serve::start(
            "127.0.0.1:0".parse().unwrap(),
            sender_options(&["--serve-ice-server", ice]),
        )
        .await
        .unwrap();
        let url = if whep {
            server.whep_url("cam")
        } else {
            server.ws_url("cam")
        };
        let events = collect(
            viewer(&[
                "--duration",
                "6s",
                "--insecure",
                "--ice-transport-policy",
                "relay",
                &url,
            ]),
            Duration::from_secs(40),
        )
        .await;
        server.shutdown().await;
        let t = dump(&events);
        let Some(Event::IceServers { servers, .. }) =
            of(&events, "ice_servers").first().map(|e| &e.event)
        else {
            panic!("no ice_servers event\n{t}")
        };
        assert!(
            servers
                .iter()
                .all(|s| s.source == rtcscope::event::IceServerSource::Signaling),
            "from the server: {servers:?}"
        );
        assert_media_over(&events, &shown, want);
    }
}
