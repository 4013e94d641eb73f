//! Table tests of the WebSocket reader client, without sockets: frames in, outputs checked in order.

use super::*;
use crate::signaling::PeerFailure;

const URL: &str = "ws://h.example:8889/cam/ws";
const OFFER: &str =
    "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=ice-ufrag:locU\r\na=ice-pwd:p\r\n";
const ANSWER: &str = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\n";
const ICE: &str = r#"[{"urls":["stun:stun.example:3478"]}]"#;

fn cand(port: u16) -> String {
    format!(
        r#"{{"candidate":"candidate:1 1 udp 2130706431 10.0.0.1 {port} typ host","sdpMid":"0","sdpMLineIndex":0}}"#
    )
}

fn answer_msg() -> String {
    crate::proto::ws::answer_message(ANSWER)
}

fn drain(c: &mut WsClient) -> Vec<Output> {
    std::iter::from_fn(|| c.poll_output()).collect()
}

fn text(c: &mut WsClient, t: &str) -> Vec<Output> {
    c.handle(Input::WsFrame(WsFrame::Text(t.to_owned())));
    drain(c)
}

fn sessions(out: &[Output]) -> Vec<session::Input> {
    out.iter()
        .filter_map(|o| match o {
            Output::Session(i) => Some(i.clone()),
            _ => None,
        })
        .collect()
}

fn peers(out: &[Output]) -> Vec<PeerRequest> {
    out.iter()
        .filter_map(|o| match o {
            Output::Peer(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

fn sends(out: &[Output]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Output::WsSend(t) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

fn protocol_error(out: &[Output]) -> Option<String> {
    match &sessions(out)[..] {
        [session::Input::ProtocolError(e)] => Some(e.clone()),
        _ => None,
    }
}

/// Connected, ICE servers received, the offer sent: awaiting the answer.
fn to_offer_sent(c: &mut WsClient) {
    c.handle(Input::Start);
    let out = drain(c);
    assert_eq!(
        out,
        vec![Output::WsConnect(url::Url::parse(URL).expect("url"))]
    );
    c.handle(Input::WsOpened {
        http_status: 101,
        elapsed_ms: 2.0,
    });
    let out = drain(c);
    assert!(matches!(
        &out[..],
        [
            Output::Event(Event::SignalingConnected {
                http_status: 101,
                ..
            }),
            Output::Session(session::Input::SignalingOpened)
        ]
    ));
    let out = text(c, ICE);
    assert_eq!(sessions(&out), vec![session::Input::IceServersReceived]);
    match &peers(&out)[..] {
        [PeerRequest::CreateOffer { ice_servers }] => {
            assert_eq!(ice_servers[0].urls, vec!["stun:stun.example:3478"]);
        }
        other => panic!("{other:?}"),
    }
    c.handle(Input::Peer(PeerResult::Offer(Ok(OFFER.into()))));
    let out = drain(c);
    let sent = sends(&out);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].contains("\"offer\""), "{}", sent[0]);
    // OfferSent only once the frame is out.
    assert!(sessions(&out).is_empty());
    c.handle(Input::WsSent(Ok(())));
    let out = drain(c);
    assert!(matches!(
        &out[..],
        [
            Output::Event(Event::MessageSent {
                kind: MessageKind::Offer,
                ..
            }),
            Output::Session(session::Input::OfferSent)
        ]
    ));
}

fn client() -> WsClient {
    WsClient::new(url::Url::parse(URL).expect("url"))
}

#[test]
fn ice_servers_then_offer_then_answer() {
    let mut c = client();
    to_offer_sent(&mut c);
    let out = text(&mut c, &answer_msg());
    assert_eq!(
        peers(&out),
        vec![PeerRequest::ApplyAnswer { sdp: ANSWER.into() }]
    );
    assert!(matches!(
        &out[0],
        Output::Event(Event::MessageReceived {
            kind: MessageKind::Answer,
            ..
        })
    ));
    c.handle(Input::Peer(PeerResult::AnswerApplied(Ok(()))));
    assert_eq!(
        sessions(&drain(&mut c)),
        vec![session::Input::AnswerApplied]
    );
}

#[test]
fn answer_refused_by_the_stack_is_a_protocol_error() {
    let mut c = client();
    to_offer_sent(&mut c);
    let _ = text(&mut c, &answer_msg());
    c.handle(Input::Peer(PeerResult::AnswerApplied(Err(
        "no fingerprint".into(),
    ))));
    let out = drain(&mut c);
    assert_eq!(protocol_error(&out).as_deref(), Some("no fingerprint"));
    assert!(
        matches!(&out[0], Output::Event(Event::Error { source: ErrorSource::Protocol, offending: Some(o), .. }) if o.contains("v=0"))
    );
}

#[test]
fn remote_candidates_before_the_answer_wait_for_it() {
    let mut c = client();
    to_offer_sent(&mut c);
    let out = text(&mut c, &cand(1000));
    // Shown at once, given to the stack only after the answer.
    assert!(peers(&out).is_empty());
    assert!(out.iter().any(|o| matches!(o, Output::Event(Event::RemoteCandidate { candidate: Some(c), error: None, .. }) if c.port == 1000)));
    let _ = text(&mut c, &cand(2000));
    let _ = text(&mut c, &answer_msg());
    c.handle(Input::Peer(PeerResult::AnswerApplied(Ok(()))));
    let out = drain(&mut c);
    assert_eq!(sessions(&out), vec![session::Input::AnswerApplied]);
    let added: Vec<String> = peers(&out)
        .into_iter()
        .map(|p| match p {
            PeerRequest::AddRemoteCandidate(rc) => rc.line,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(added.len(), 2);
    assert!(added[0].ends_with("1000 typ host") && added[1].ends_with("2000 typ host"));
    // One refused by the stack: a peer error event, no restart.
    c.handle(Input::Peer(PeerResult::CandidateAdded(Ok(()))));
    c.handle(Input::Peer(PeerResult::CandidateAdded(Err(
        "unreachable".into()
    ))));
    let out = drain(&mut c);
    assert!(
        matches!(&out[..], [Output::Event(Event::Error { source: ErrorSource::Peer, message, .. })] if message == "unreachable")
    );
}

#[test]
fn remote_candidates_after_the_answer_go_to_the_stack_then_are_shown() {
    let mut c = client();
    to_offer_sent(&mut c);
    let _ = text(&mut c, &answer_msg());
    c.handle(Input::Peer(PeerResult::AnswerApplied(Ok(()))));
    let _ = drain(&mut c);
    let out = text(&mut c, &cand(3000));
    match &peers(&out)[..] {
        [PeerRequest::AddRemoteCandidate(rc)] => {
            assert_eq!(rc.sdp_mid.as_deref(), Some("0"));
            assert_eq!(rc.sdp_mline_index, Some(0));
            assert!(rc.typ.is_some());
        }
        other => panic!("{other:?}"),
    }
    assert!(
        !out.iter()
            .any(|o| matches!(o, Output::Event(Event::RemoteCandidate { .. })))
    );
    c.handle(Input::Peer(PeerResult::CandidateAdded(Err("bad".into()))));
    let out = drain(&mut c);
    assert!(matches!(
        &out[..],
        [
            Output::Event(Event::RemoteCandidate { error: Some(e), .. }),
            Output::Event(Event::Error { source: ErrorSource::Protocol, .. })
        ] if e == "bad"
    ));
    // After connecting too.
    c.handle(Input::PeerConnected);
    let out = text(&mut c, &cand(4000));
    assert_eq!(peers(&out).len(), 1);
}

#[test]
fn malformed_and_empty_candidates() {
    let mut c = client();
    to_offer_sent(&mut c);
    // Does not parse: reported, no restart.
    let out = text(
        &mut c,
        r#"{"candidate":"candidate:nonsense","sdpMid":"0","sdpMLineIndex":0}"#,
    );
    assert!(sessions(&out).is_empty());
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Event(Event::RemoteCandidate {
            candidate: None,
            error: Some(_),
            ..
        })
    )));
    // Empty: end of candidates, ignored.
    let out = text(&mut c, r#"{"candidate":"","sdpMid":"0","sdpMLineIndex":0}"#);
    assert_eq!(out.len(), 1, "only the message_received event: {out:?}");
}

#[test]
fn malformed_json_is_a_protocol_error() {
    // (message, in which state) → a protocol error
    let table = ["{not json", "42", r#"{"type":"bye"}"#, ""];
    for t in table {
        let mut c = client();
        to_offer_sent(&mut c);
        let out = text(&mut c, t);
        let err = protocol_error(&out).unwrap_or_else(|| panic!("{t:?}: {out:?}"));
        assert!(err.starts_with("bad message from the server"), "{err}");
        assert!(matches!(
            &out[0],
            Output::Event(Event::MessageReceived { .. })
        ));
    }
}

#[test]
fn messages_out_of_order_are_protocol_errors() {
    // (messages before the offending one, the offending one, what the error says)
    let offer = crate::proto::ws::offer_message(OFFER);
    let table: Vec<(&str, String, &str)> = vec![
        (
            "opened",
            answer_msg(),
            "unexpected an answer before the ICE servers",
        ),
        (
            "opened",
            cand(1),
            "unexpected a candidate before the ICE servers",
        ),
        (
            "offer sent",
            ICE.into(),
            "unexpected an ICE-server list after the offer",
        ),
        (
            "offer sent",
            offer.clone(),
            "unexpected an offer after the offer",
        ),
        (
            "answered",
            answer_msg(),
            "unexpected an answer after the answer",
        ),
    ];
    for (state, msg, expected) in table {
        let mut c = client();
        match state {
            "opened" => {
                c.handle(Input::Start);
                c.handle(Input::WsOpened {
                    http_status: 101,
                    elapsed_ms: 1.0,
                });
            }
            "offer sent" => to_offer_sent(&mut c),
            _ => {
                to_offer_sent(&mut c);
                let _ = text(&mut c, &answer_msg());
                c.handle(Input::Peer(PeerResult::AnswerApplied(Ok(()))));
            }
        }
        let _ = drain(&mut c);
        let out = text(&mut c, &msg);
        let err = protocol_error(&out).unwrap_or_else(|| panic!("{state}: {out:?}"));
        assert!(err.starts_with(expected), "{state}: {err}");
    }
}

#[test]
fn binary_frame_is_a_protocol_error() {
    let mut c = client();
    to_offer_sent(&mut c);
    c.handle(Input::WsFrame(WsFrame::Binary(12)));
    let out = drain(&mut c);
    assert!(matches!(
        &out[0],
        Output::Event(Event::MessageReceived {
            kind: MessageKind::Invalid,
            size: 12,
            ..
        })
    ));
    assert!(protocol_error(&out).is_some_and(|e| e.contains("binary frame")));
}

#[test]
fn close_by_the_server_and_by_us() {
    // The server closes: signaling_closed with the phase, then SocketClosed.
    let mut c = client();
    to_offer_sent(&mut c);
    c.handle(Input::WsFrame(WsFrame::Closed {
        code: Some(1001),
        reason: Some("bye".into()),
        error: None,
    }));
    let out = drain(&mut c);
    assert_eq!(
        out,
        vec![
            Output::Event(Event::SignalingClosed {
                phase: Phase::AwaitingAnswer,
                code: Some(1001),
                reason: Some("bye".into()),
                local: false
            }),
            Output::Session(session::Input::SocketClosed)
        ]
    );
    // Ended by a transport error: a warning first.
    let mut c = client();
    to_offer_sent(&mut c);
    c.handle(Input::WsFrame(WsFrame::Closed {
        code: None,
        reason: None,
        error: Some("reset".into()),
    }));
    let out = drain(&mut c);
    assert!(
        matches!(&out[0], Output::Event(Event::Warning { message, .. }) if message.contains("reset"))
    );
    // A socket already closed is not closed again, and nothing is sent on it.
    c.handle(Input::LocalCandidate(
        "candidate:1 1 udp 1 1.2.3.4 5 typ host".into(),
    ));
    c.handle(Input::Close {
        phase: Phase::Closed,
    });
    assert!(drain(&mut c).is_empty());
    // We close: a close frame, then signaling_closed (local, 1000) with the session's phase.
    let mut c = client();
    to_offer_sent(&mut c);
    c.handle(Input::PeerConnected);
    c.handle(Input::Close {
        phase: Phase::Connected,
    });
    assert_eq!(
        drain(&mut c),
        vec![
            Output::WsClose,
            Output::Event(Event::SignalingClosed {
                phase: Phase::Connected,
                code: Some(1000),
                reason: None,
                local: true
            })
        ]
    );
}

#[test]
fn connect_failure_reports_status_and_body() {
    let mut c = client();
    c.handle(Input::Start);
    let _ = drain(&mut c);
    c.handle(Input::WsConnectFailed {
        error: "server answered HTTP 404".into(),
        http_status: Some(404),
        body: Some("x".repeat(2000)),
    });
    let out = drain(&mut c);
    match &out[..] {
        [
            Output::Event(Event::SignalingFailed {
                http_status: Some(404),
                body: Some(b),
                ..
            }),
            Output::Session(session::Input::SignalingFailed {
                http_status: Some(404),
                ..
            }),
        ] => assert_eq!(b.len(), OFFENDING_LIMIT),
        other => panic!("{other:?}"),
    }
}

#[test]
fn local_candidates_carry_the_offer_mid_and_ufrag() {
    let mut c = client();
    to_offer_sent(&mut c);
    c.handle(Input::LocalCandidate(
        "candidate:1 1 udp 1 1.2.3.4 5 typ host".into(),
    ));
    let out = drain(&mut c);
    let sent = sends(&out);
    assert_eq!(sent.len(), 1);
    let v: serde_json::Value = serde_json::from_str(&sent[0]).expect("json");
    assert_eq!(v["sdpMid"], "0");
    assert_eq!(v["usernameFragment"], "locU");
    c.handle(Input::WsSent(Err("write timed out".into())));
    let out = drain(&mut c);
    assert!(
        matches!(&out[..], [Output::Event(Event::Warning { message, .. })] if message.contains("could not send Candidate"))
    );
}

#[test]
fn no_ice_restart_in_this_protocol() {
    let mut c = client();
    to_offer_sent(&mut c);
    c.handle(Input::IceRestart { reason: "x".into() });
    let out = drain(&mut c);
    assert!(
        matches!(&out[..], [Output::Event(Event::Warning { message, .. })] if message.contains("no way to renegotiate ICE"))
    );
}

#[test]
fn offer_failure_is_a_peer_error() {
    let mut c = client();
    c.handle(Input::Start);
    c.handle(Input::WsOpened {
        http_status: 101,
        elapsed_ms: 1.0,
    });
    let _ = drain(&mut c);
    let _ = text(&mut c, ICE);
    c.handle(Input::Peer(PeerResult::Offer(Err(PeerFailure::Build(
        "bind failed".into(),
    )))));
    let out = drain(&mut c);
    assert!(sends(&out).is_empty());
    assert_eq!(
        sessions(&out),
        vec![session::Input::PeerError("bind failed".into())]
    );
}

#[test]
fn mid_and_ufrag_from_offer() {
    let sdp = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=ice-ufrag:abcd\r\na=mid:0\r\n";
    assert_eq!(
        mid_and_ufrag(sdp),
        (Some("0".to_owned()), Some("abcd".to_owned()))
    );
    assert_eq!(mid_and_ufrag(""), (None, None));
}

#[test]
fn a_flood_of_remote_candidates_is_cut_at_the_limit_with_one_warning() {
    let mut c = client();
    to_offer_sent(&mut c);
    let mut shown = 0;
    let mut warnings = Vec::new();
    for i in 0..(crate::signaling::MAX_REMOTE_CANDIDATES + 500) {
        let port = 1000 + (i % 60_000) as u16;
        for o in text(&mut c, &cand(port)) {
            match o {
                Output::Event(Event::RemoteCandidate { .. }) => shown += 1,
                Output::Event(Event::Warning { message, .. }) => warnings.push(message),
                _ => {}
            }
        }
    }
    assert_eq!(shown, crate::signaling::MAX_REMOTE_CANDIDATES);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("the rest are dropped"), "{warnings:?}");
    // Only the admitted ones wait for the answer.
    let _ = text(&mut c, &answer_msg());
    c.handle(Input::Peer(PeerResult::AnswerApplied(Ok(()))));
    assert_eq!(
        peers(&drain(&mut c)).len(),
        crate::signaling::MAX_REMOTE_CANDIDATES
    );
}

#[test]
fn an_overlong_candidate_line_is_dropped_with_a_warning() {
    let mut c = client();
    to_offer_sent(&mut c);
    let long = format!(
        r#"{{"candidate":"candidate:1 1 udp 2130706431 10.0.0.1 9 typ host {}","sdpMid":"0"}}"#,
        "x".repeat(crate::signaling::MAX_CANDIDATE_LINE)
    );
    let out = text(&mut c, &long);
    assert!(
        out.iter().any(|o| matches!(o, Output::Event(Event::Warning { message, .. }) if message.contains("byte limit"))),
        "{out:?}"
    );
    assert!(
        !out.iter()
            .any(|o| matches!(o, Output::Event(Event::RemoteCandidate { .. })))
    );
}
