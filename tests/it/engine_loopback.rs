//! The engine against real peers on 127.0.0.1: the built-in sender, a fault-injecting proxy in front of it,
//! coturn for relay, and the real binary killed and restarted mid-stream.

use crate::support::common;

use std::time::Duration;

use common::{Fault, FaultProxy, collect, dump, of, sender_options, viewer};
use rtcscope::event::{
    CandidateType, EndReason, Event, MessageKind, Phase, RestartCause, Stamped, StateKind,
};

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

fn first_media_attempts(events: &[Stamped]) -> Vec<u32> {
    of(events, "first_media")
        .iter()
        .map(|e| e.attempt)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_negotiation_against_serve_reaches_media_at_the_sent_bitrate() {
    let server = rtcscope::serve::start(
        "127.0.0.1:0".parse().unwrap(),
        sender_options(&["--bitrate", "2M", "--fps", "30"]),
    )
    .await
    .expect("serve starts");
    let url = server.ws_url("cam");
    let events = collect(viewer(&["--duration", "7s", &url]), Duration::from_secs(40)).await;
    let sent = server.sent();
    server.shutdown().await;
    let t = dump(&events);

    // The stream is ordered and gap-free, starts and ends as documented.
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, i as u64, "{t}");
    }
    assert!(
        matches!(events[0].event, Event::SessionStarted { .. }),
        "{t}"
    );
    assert!(matches!(
        events.last().map(|e| &e.event),
        Some(Event::Ended {
            reason: EndReason::Duration,
            ever_connected: true,
            media_received: true,
            ..
        })
    ));

    // The protocol order: ICE servers first, then our offer, then the answer.
    let kinds: Vec<(bool, MessageKind)> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::MessageReceived { kind, .. } => Some((false, *kind)),
            Event::MessageSent { kind, .. } => Some((true, *kind)),
            _ => None,
        })
        .collect();
    assert_eq!(kinds[0], (false, MessageKind::IceServers), "{t}");
    assert_eq!(kinds[1], (true, MessageKind::Offer), "{t}");
    let answer_at = kinds
        .iter()
        .position(|k| *k == (false, MessageKind::Answer))
        .expect("an answer");
    assert!(answer_at > 1);

    // Candidates flowed both ways: ours were sent, theirs parsed and accepted.
    assert!(kinds.contains(&(true, MessageKind::Candidate)), "{t}");
    let remote = of(&events, "remote_candidate");
    assert!(!remote.is_empty(), "{t}");
    for r in &remote {
        let Event::RemoteCandidate {
            candidate, error, ..
        } = &r.event
        else {
            unreachable!()
        };
        assert!(error.is_none(), "{t}");
        assert_eq!(
            candidate.as_ref().map(|c| c.address.as_str()),
            Some("127.0.0.1")
        );
    }
    let local = of(&events, "local_candidate");
    assert!(!local.is_empty());
    for l in &local {
        let Event::LocalCandidate { candidate } = &l.event else {
            unreachable!()
        };
        assert_eq!(candidate.typ, CandidateType::Host);
        assert_eq!(
            candidate.address, "127.0.0.1",
            "loopback server → loopback bind"
        );
        assert!(
            candidate.priority > u32::from(u16::MAX),
            "full u32 priority kept"
        );
    }

    // Connected, with a selected pair whose both ends are known, DTLS up, media.
    assert!(events.iter().any(|e| matches!(&e.event,
        Event::StateChanged { kind: StateKind::PeerConnection, state } if state == "connected")));
    assert!(events.iter().any(|e| matches!(&e.event,
        Event::StateChanged { kind: StateKind::Dtls, state } if state == "connected")));
    let selected = of(&events, "selected_pair");
    let Some(Event::SelectedPair { pair, .. }) = selected.last().map(|e| &e.event) else {
        panic!("no selected pair\n{t}")
    };
    assert!(pair.local.is_some() && pair.remote.is_some(), "{t}");
    assert_eq!(pair.state, "succeeded");
    assert!(pair.nominated);
    assert_eq!(first_media_attempts(&events), vec![1]);
    assert!(restarts(&events).is_empty(), "{t}");

    // Bitrate: the viewer's measured rate is within 20 % of what the sender really sent.
    let rates: Vec<f64> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::TrackStats { stats } => Some(stats.bitrate_bps),
            _ => None,
        })
        .skip(1)
        .collect();
    assert!(rates.len() >= 3, "{t}");
    let viewer_bps = rates.iter().sum::<f64>() / rates.len() as f64;
    assert!(sent.frames > 0 && sent.payload_bytes > 0, "{sent:?}");
    let sender_bps = sent.payload_bytes as f64 * 8.0 * 30.0 / sent.frames as f64;
    let ratio = viewer_bps / sender_bps;
    assert!(
        (0.8..=1.2).contains(&ratio),
        "viewer {viewer_bps:.0} bps vs sender {sender_bps:.0} bps (ratio {ratio:.2})"
    );
    let last = common::last_track_stats(&events).expect("track stats");
    assert_eq!(
        last.codec
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("video/vp8")
    );
    assert!(last.keyframes >= 2, "a key frame every 2 s: {last:?}");
    assert!(last.jitter_ms.is_some());
    eprintln!(
        "measured: viewer {viewer_bps:.0} bps, sender {sender_bps:.0} bps, connected at {:?} ms, first media at {:?} ms",
        events.iter().find(|e| matches!(&e.event, Event::StateChanged { kind: StateKind::PeerConnection, state } if state == "connected")).map(|e| e.t_ms),
        of(&events, "first_media").first().map(|e| e.t_ms)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_and_audio_offer() {
    let server = rtcscope::serve::start(
        "127.0.0.1:0".parse().unwrap(),
        sender_options(&["--codec", "h264", "--bitrate", "1M"]),
    )
    .await
    .unwrap();
    let url = server.ws_url("cam");
    let events = collect(
        viewer(&["--duration", "4s", "--audio", &url]),
        Duration::from_secs(30),
    )
    .await;
    server.shutdown().await;
    let t = dump(&events);
    let offer = events
        .iter()
        .find_map(|e| match &e.event {
            Event::MessageSent {
                kind: MessageKind::Offer,
                text,
                ..
            } => Some(text.clone()),
            _ => None,
        })
        .expect("offer");
    // Every depacketizable codec is offered, recvonly, with an audio section when asked.
    for needle in [
        "VP8/90000",
        "VP9/90000",
        "H264/90000",
        "AV1/90000",
        "opus/48000",
        "m=audio",
        "a=recvonly",
    ] {
        assert!(offer.contains(needle), "offer lacks {needle}");
    }
    let last = common::last_track_stats(&events).unwrap_or_else(|| panic!("{t}"));
    assert_eq!(
        last.codec
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("video/h264")
    );
    assert!(last.keyframes >= 1, "{last:?}");
    assert!(last.bitrate_bps > 500_000.0, "{last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_closed_after_the_answer_restarts_and_reconnects() {
    let server = rtcscope::serve::start("127.0.0.1:0".parse().unwrap(), sender_options(&[]))
        .await
        .unwrap();
    let proxy = FaultProxy::start(server.ws_url("cam"), Fault::CloseAfterAnswer, 1).await;
    let events = collect(
        viewer(&["--duration", "6s", "--restart-pause", "300ms", &proxy.url()]),
        Duration::from_secs(30),
    )
    .await;
    server.shutdown().await;
    let t = dump(&events);
    let r = restarts(&events);
    assert!(!r.is_empty(), "{t}");
    assert!(
        matches!(
            r[0].0,
            RestartCause::SocketClosed {
                phase: Phase::Negotiating | Phase::AwaitingAnswer
            }
        ),
        "{r:?}\n{t}"
    );
    assert!(!r[0].1, "had not connected");
    // The close came without a close frame: no code.
    assert!(
        events.iter().any(|e| matches!(
            &e.event,
            Event::SignalingClosed {
                code: None,
                local: false,
                ..
            }
        )),
        "{t}"
    );
    assert!(
        first_media_attempts(&events).iter().any(|a| *a >= 2),
        "reconnected with media\n{t}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_from_the_server_is_an_error_event_and_a_restart() {
    let server = rtcscope::serve::start("127.0.0.1:0".parse().unwrap(), sender_options(&[]))
        .await
        .unwrap();
    let proxy = FaultProxy::start(server.ws_url("cam"), Fault::GarbageFirst, 1).await;
    let events = collect(
        viewer(&["--duration", "5s", "--restart-pause", "300ms", &proxy.url()]),
        Duration::from_secs(30),
    )
    .await;
    server.shutdown().await;
    let t = dump(&events);
    let invalid = events.iter().find(|e| {
        matches!(
            &e.event,
            Event::MessageReceived {
                kind: MessageKind::Invalid,
                ..
            }
        )
    });
    assert!(invalid.is_some(), "{t}");
    let err = events
        .iter()
        .find_map(|e| match &e.event {
            Event::Error {
                message, offending, ..
            } => Some((message.clone(), offending.clone())),
            _ => None,
        })
        .expect("an error event");
    assert!(
        err.0.contains("not JSON") || err.0.contains("JSON"),
        "{err:?}"
    );
    assert!(err.1.unwrap_or_default().contains("this is not json"));
    let r = restarts(&events);
    assert!(
        matches!(
            &r[0].0,
            RestartCause::ProtocolError {
                phase: Phase::AwaitingIceServers,
                ..
            }
        ),
        "{r:?}"
    );
    assert!(first_media_attempts(&events).iter().any(|a| *a >= 2), "{t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_hits_the_handshake_timeout() {
    let server = rtcscope::serve::start("127.0.0.1:0".parse().unwrap(), sender_options(&[]))
        .await
        .unwrap();
    let proxy = FaultProxy::start(server.ws_url("cam"), Fault::NeverAnswer, 1).await;
    let events = collect(
        viewer(&[
            "--duration",
            "6s",
            "--handshake-timeout",
            "1500ms",
            "--restart-pause",
            "300ms",
            &proxy.url(),
        ]),
        Duration::from_secs(30),
    )
    .await;
    server.shutdown().await;
    let t = dump(&events);
    let r = restarts(&events);
    assert_eq!(
        r.first().map(|x| &x.0),
        Some(&RestartCause::HandshakeTimeout {
            phase: Phase::AwaitingAnswer
        }),
        "{t}"
    );
    let lived = events
        .iter()
        .find_map(|e| match &e.event {
            Event::Restart { lived_ms, .. } => Some(*lived_ms),
            _ => None,
        })
        .unwrap();
    assert!((1400.0..3000.0).contains(&lived), "lived {lived} ms");
    assert!(first_media_attempts(&events).iter().any(|a| *a >= 2), "{t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_candidates_are_reported_not_fatal() {
    let server = rtcscope::serve::start("127.0.0.1:0".parse().unwrap(), sender_options(&[]))
        .await
        .unwrap();
    let proxy = FaultProxy::start(server.ws_url("cam"), Fault::BadCandidates, 1).await;
    let events = collect(
        viewer(&["--duration", "4s", &proxy.url()]),
        Duration::from_secs(30),
    )
    .await;
    server.shutdown().await;
    let t = dump(&events);
    let bad: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::RemoteCandidate {
                candidate: None,
                error: Some(err),
                raw,
                ..
            } => Some((err.clone(), raw.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(bad.len(), 2, "{t}");
    assert!(bad[0].0.contains("priority"), "{bad:?}");
    // The escape sequence is kept verbatim in the event (consumers sanitise before display) …
    assert!(bad[1].1.contains('\u{1b}'));
    // … and never reaches a terminal raw through NDJSON.
    let line = serde_json::to_string(&events[0]).unwrap();
    assert!(!line.contains('\u{1b}'));
    assert!(
        restarts(&events).is_empty(),
        "a bad candidate is not worth a restart\n{t}"
    );
    assert_eq!(first_media_attempts(&events), vec![1], "{t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_is_a_protocol_error() {
    let server = rtcscope::serve::start("127.0.0.1:0".parse().unwrap(), sender_options(&[]))
        .await
        .unwrap();
    let proxy = FaultProxy::start(server.ws_url("cam"), Fault::HugeAnswer, 1).await;
    let events = collect(
        viewer(&["--duration", "3s", "--restart-pause", "300ms", &proxy.url()]),
        Duration::from_secs(30),
    )
    .await;
    server.shutdown().await;
    let t = dump(&events);
    let received = events
        .iter()
        .find_map(|e| match &e.event {
            Event::MessageReceived {
                kind: MessageKind::Invalid,
                size,
                text,
                truncated,
            } => Some((*size, text.len(), *truncated)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{t}"));
    assert!(received.0 > 2 << 20, "real size kept");
    assert!(
        received.1 <= rtcscope::engine::EVENT_TEXT_LIMIT,
        "text truncated in the event"
    );
    assert!(received.2);
    let r = restarts(&events);
    assert!(
        matches!(&r[0].0, RestartCause::ProtocolError { phase: Phase::AwaitingAnswer, error } if error.contains("limit")),
        "{r:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_path_is_a_signaling_failure_with_the_http_status() {
    let server = rtcscope::serve::start("127.0.0.1:0".parse().unwrap(), sender_options(&[]))
        .await
        .unwrap();
    let url = format!("ws://{}/cam/nothere", server.local_addr());
    let events = collect(
        viewer(&["--max-restarts", "1", "--restart-pause", "100ms", &url]),
        Duration::from_secs(20),
    )
    .await;
    server.shutdown().await;
    let t = dump(&events);
    let failed: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::SignalingFailed { http_status, .. } => Some(*http_status),
            _ => None,
        })
        .collect();
    assert_eq!(failed, vec![Some(404), Some(404)], "{t}");
    assert!(matches!(
        events.last().map(|e| &e.event),
        Some(Event::Ended {
            reason: EndReason::MaxRestarts { restarts: 1 },
            attempts: 2,
            ..
        })
    ));
}

/// Relay through a real TURN server (coturn on 127.0.0.1) with the relay-only policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_only_through_coturn_selects_a_relay_pair() {
    if !common::coturn_available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "coturn (turnserver) is required in CI: .ci/run installs it"
        );
        eprintln!("SKIPPED: turnserver not installed (apt-get install coturn)");
        return;
    }
    let turn = common::Coturn::start().await;
    let server = rtcscope::serve::start("127.0.0.1:0".parse().unwrap(), sender_options(&[]))
        .await
        .unwrap();
    let ice = format!("turn:test:secret@127.0.0.1:{}", turn.port);
    let events = collect(
        viewer(&[
            "--duration",
            "8s",
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
    let t = dump(&events);
    let relays: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::LocalCandidate { candidate } => Some(candidate.clone()),
            _ => None,
        })
        .collect();
    assert!(!relays.is_empty(), "{t}");
    assert!(
        relays.iter().all(|c| c.typ == CandidateType::Relay),
        "relay policy: {relays:?}"
    );
    assert!(
        relays[0]
            .url
            .as_deref()
            .unwrap_or("")
            .contains(&turn.port.to_string()),
        "relay candidates carry their TURN URL: {relays:?}"
    );
    // The ICE servers event masks the credential.
    let servers = of(&events, "ice_servers");
    let line = serde_json::to_string(servers[0]).unwrap();
    assert!(!line.contains("secret"), "{line}");
    let Some(Event::SelectedPair { pair, .. }) =
        of(&events, "selected_pair").last().map(|e| &e.event)
    else {
        panic!("no selected pair\n{t}")
    };
    assert_eq!(
        pair.local.as_ref().map(|l| l.typ),
        Some(CandidateType::Relay),
        "{t}"
    );
    assert!(first_media_attempts(&events).contains(&1), "{t}");
    assert!(
        common::last_track_stats(&events).is_some_and(|s| s.bitrate_bps > 1_000_000.0),
        "{t}"
    );
}
