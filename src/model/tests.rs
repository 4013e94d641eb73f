use super::*;
use crate::event::{CandidateType, EndReason, Event, MessageKind, Phase, RestartCause};
use crate::test_events::{self as testing, Script};

#[test]
fn happy_session_builds_full_timeline() {
    let m = Model::from_events(&testing::happy_session(10));
    assert_eq!(
        m.session().map(|s| s.target.as_str()),
        Some(testing::TARGET)
    );
    assert_eq!(m.attempt_number(), 1);
    for ms in Milestone::ALL {
        assert!(m.attempt().timeline.get(ms).is_some(), "{ms:?} not reached");
    }
    assert_eq!(m.attempt().timeline.latest(), Some(Milestone::FirstMedia));
    assert_eq!(
        m.attempt().states.get(StateKind::PeerConnection),
        Some("connected")
    );
    assert!(m.ever_connected());
    assert!(m.media_received());
    let sel = m.attempt().selected.as_ref().expect("selected pair");
    assert_eq!(sel.pair.state, "succeeded");
    assert!(sel.rtt.len() >= 10);
    assert!(sel.avg_rtt_ms().is_some_and(|r| r > 0.3 && r < 0.5));
    assert_eq!(m.tracks().len(), 1);
    let tr = &m.tracks()[0];
    assert_eq!(tr.history.len(), 10);
    let bps = tr.stats.as_ref().map(|s| s.bitrate_bps).unwrap_or_default();
    assert!((1_800_000.0..2_200_000.0).contains(&bps), "{bps}");
    assert!(tr.loss_pct().is_some_and(|l| l > 0.0 && l < 1.0));
    assert!(m.attempt().offer_sdp.is_some());
    assert!(m.attempt().answer_sdp.is_some());
    assert_eq!(m.attempt().local_counts(), [1, 0, 0, 0]);
    assert_eq!(m.stale_ignored(), 0);
}

#[test]
fn restart_grouping_and_time_to_reconnect() {
    let events = testing::restart_relay_error_session(5);
    let m = Model::from_events(&events);
    assert_eq!(m.attempt_number(), 2);
    assert_eq!(m.restarts().len(), 1);
    let r = &m.restarts().iter().next().cloned().expect("restart");
    assert_eq!(r.ended_attempt, 1);
    assert_eq!(
        r.cause,
        RestartCause::SocketClosed {
            phase: Phase::Negotiating
        }
    );
    assert_eq!(
        r.cause_text,
        "socket closed after the answer, before connecting"
    );
    assert!(!r.had_connected);
    let connected = m.attempt().connected_ms.expect("attempt 2 connected");
    let reconnect = r.reconnect_ms.expect("reconnect time");
    assert!((reconnect - (connected - r.t_ms)).abs() < 1e-9);
    assert!(reconnect > 2000.0, "{reconnect}");
    // Attempt 2 state only.
    assert_eq!(m.attempt().local_counts(), [1, 0, 0, 1]);
    assert_eq!(m.attempt().remote_counts(), [1, 0, 0, 0]);
    let sel = m.attempt().selected.as_ref().expect("selected");
    assert_eq!(
        sel.pair.local.as_ref().map(|e| e.typ),
        Some(CandidateType::Relay)
    );
    let produced: Vec<_> = m.attempt().produced_by(testing::TURN_URL).collect();
    assert_eq!(produced.len(), 1);
    assert_eq!(
        m.attempt().ice_servers.as_ref().map(|i| i.skipped.len()),
        Some(1)
    );
    // Messages of both attempts are in the session log.
    assert!(m.messages().iter().any(|e| e.attempt == 1));
    assert!(m.messages().iter().any(|e| e.kind == SignalKind::Close));
    assert_eq!(m.error_count(), 1);
    assert_eq!(m.warning_count(), 1);
    assert_eq!(m.pair_changes().total(), 1);
}

#[test]
fn stale_attempt_events_do_not_touch_current_attempt() {
    let mut s = Script::new();
    s.at(0.0, testing::session_started());
    s.attempt(1.0, 1);
    s.at(2.0, testing::state(StateKind::IceConnection, "checking"));
    s.attempt(10.0, 2);
    let (l, r) = testing::loopback_hosts();
    // Late events of attempt 1.
    s.at_attempt(
        11.0,
        1,
        testing::state(StateKind::PeerConnection, "connected"),
    );
    s.at_attempt(
        11.5,
        1,
        testing::state(StateKind::IceConnection, "connected"),
    );
    s.at_attempt(
        12.0,
        1,
        Event::LocalCandidate {
            candidate: l.clone(),
        },
    );
    s.at_attempt(
        12.5,
        1,
        Event::SelectedPair {
            pair: testing::pair("X", &l, &r, "succeeded"),
            changes: 1,
        },
    );
    s.at_attempt(
        13.0,
        1,
        testing::message(
            crate::event::Direction::In,
            MessageKind::Answer,
            "{\"type\":\"answer\",\"sdp\":\"v=0\"}",
        ),
    );
    // A late attempt_started for an old attempt must not reset the current one.
    s.at(14.0, testing::state(StateKind::IceConnection, "checking"));
    s.at_attempt(15.0, 1, Event::AttemptStarted { attempt: 1 });
    let m = Model::from_events(s.events());
    assert_eq!(m.attempt_number(), 2);
    let a = m.attempt();
    assert_eq!(a.started_ms, 10.0);
    assert_eq!(a.states.peer_connection, None);
    assert_eq!(a.states.ice_connection.as_deref(), Some("checking"));
    assert!(a.connected_ms.is_none());
    assert!(a.local_candidates.is_empty());
    assert!(a.selected.is_none());
    assert!(a.timeline.get(Milestone::Answer).is_none());
    assert!(a.timeline.get(Milestone::IceConnected).is_none());
    assert!(!m.ever_connected());
    assert_eq!(m.stale_ignored(), 6);
    // The stale answer is still in the signaling history, tagged with its attempt.
    assert_eq!(m.messages().last().map(|e| e.attempt), Some(1));
}

#[test]
fn event_of_a_newer_attempt_starts_it_implicitly() {
    let mut s = Script::new();
    s.attempt(0.0, 1);
    s.at_attempt(5.0, 2, testing::state(StateKind::IceConnection, "checking"));
    let m = Model::from_events(s.events());
    assert_eq!(m.attempt_number(), 2);
    assert_eq!(m.attempt().started_ms, 5.0);
}

#[test]
fn rings_are_bounded_and_keep_totals() {
    let mut s = Script::new();
    s.attempt(0.0, 1);
    let n = MESSAGE_CAP + 500;
    for i in 0..n {
        s.at(
            i as f64,
            testing::message(crate::event::Direction::In, MessageKind::Candidate, "{}"),
        );
    }
    for i in 0..(LOG_CAP + 10) {
        s.at(
            (n + i) as f64,
            Event::Warning {
                source: crate::event::ErrorSource::Stack,
                message: format!("w{i}"),
            },
        );
    }
    for i in 0..(CANDIDATE_CAP + 10) {
        let c = testing::candidate(CandidateType::Host, "10.0.0.1", i as u16, 1);
        s.at(1e6 + i as f64, Event::LocalCandidate { candidate: c });
    }
    let m = Model::from_events(s.events());
    assert_eq!(m.messages().len(), MESSAGE_CAP);
    assert_eq!(m.messages().total(), n as u64);
    assert_eq!(m.log().len(), LOG_CAP);
    assert_eq!(m.warning_count(), (LOG_CAP + 10) as u64);
    assert_eq!(m.attempt().local_candidates.len(), CANDIDATE_CAP);
    assert_eq!(
        m.attempt().local_candidates.total(),
        (CANDIDATE_CAP + 10) as u64
    );

    // Bitrate history: bounded, at least 5 minutes at 1 Hz.
    let events = testing::happy_session(BITRATE_HISTORY_CAP as u32 + 60);
    let m = Model::from_events(&events);
    let tr = &m.tracks()[0];
    assert_eq!(tr.history.len(), BITRATE_HISTORY_CAP);
    const { assert!(BITRATE_HISTORY_CAP >= 300) };
    let sel = m.attempt().selected.as_ref().expect("selected");
    assert_eq!(sel.rtt.len(), RTT_HISTORY_CAP);
}

#[test]
fn many_restarts_bounded_and_each_reconnect_measured() {
    let mut s = Script::new();
    s.at(0.0, testing::session_started());
    let mut t = 0.0;
    for n in 1..=(RESTART_CAP as u32 + 5) {
        s.attempt(t, n);
        if n % 2 == 0 {
            s.at(
                t + 50.0,
                testing::state(StateKind::PeerConnection, "connected"),
            );
        }
        s.at(
            t + 100.0,
            Event::Restart {
                cause: RestartCause::IceDisconnected,
                ended_attempt: n,
                lived_ms: 100.0,
                had_connected: n % 2 == 0,
                pause_ms: 10.0,
            },
        );
        t += 110.0;
    }
    let m = Model::from_events(s.events());
    assert_eq!(m.restarts().len(), RESTART_CAP);
    assert_eq!(m.restarts().total(), RESTART_CAP as u64 + 5);
    // Restarts ending odd attempts are followed by an even attempt that connects 60 ms later
    // (10 ms pause + 50 ms); those ending even attempts wait one more attempt: 170 ms.
    for r in m.restarts().iter().take(RESTART_CAP - 2) {
        let want = if r.ended_attempt % 2 == 1 {
            60.0
        } else {
            170.0
        };
        assert_eq!(r.reconnect_ms, Some(want), "{r:?}");
    }
    assert_eq!(m.restarts().last().and_then(|r| r.reconnect_ms), None);
}

#[test]
fn ended_is_recorded() {
    let mut events = testing::happy_session(3);
    testing::end_session(&mut events, EndReason::Duration);
    let m = Model::from_events(&events);
    let e = m.ended().expect("ended");
    assert_eq!(e.reason, EndReason::Duration);
    assert_eq!(e.attempts, 1);
}

#[test]
fn priority_decoding() {
    let p = decode_priority(2_130_706_431);
    assert_eq!((p.type_pref, p.local_pref, p.component), (126, 65535, 1));
    let p = decode_priority(16_777_215);
    assert_eq!((p.type_pref, p.local_pref, p.component), (0, 65535, 1));
    let p = decode_priority(0);
    assert_eq!(p.component, 256);
}

#[test]
fn weird_values_do_not_panic() {
    let mut s = Script::new();
    s.at(f64::NAN, testing::session_started());
    s.at_attempt(f64::INFINITY, u32::MAX, Event::LocalGatheringComplete);
    s.at_attempt(
        -1.0,
        u32::MAX,
        Event::TrackStats {
            stats: crate::event::TrackStats {
                ssrc: 0,
                kind: String::new(),
                codec: None,
                clock_rate: None,
                mid: String::new(),
                bytes_received: 0,
                header_bytes_received: 0,
                packets_received: 0,
                bitrate_bps: f64::NAN,
                packets_lost: i64::MIN,
                jitter_ms: Some(f64::NAN),
                nack_count: 0,
                pli_count: 0,
                fir_count: 0,
                keyframes: 0,
            },
        },
    );
    let m = Model::from_events(s.events());
    assert_eq!(m.tracks()[0].loss_pct(), Some(0.0));
}
