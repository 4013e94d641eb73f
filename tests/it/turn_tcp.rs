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
    // Credentials never in clear; the loopback bridge never shown.
    assert!(!t.contains("secret"), "{t}");
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
    assert!(!t.contains("secret"), "{t}");

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
