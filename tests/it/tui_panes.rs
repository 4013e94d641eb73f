//! Each pane rendered into a `Buffer` from a model built from events, asserting on content: the
//! selected pair's addresses, loss %, escaped escape sequences, skipped ICE servers, the answer's
//! accepted/rejected m-lines; plus NO_COLOR and hostile-input checks over whole screens.

use crate::support::events as testing;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use rtcscope::event::{Direction, Event, MessageKind};
use rtcscope::tui::app::{App, DetailTarget, Msg, Overlay, Pane, update};
use rtcscope::tui::theme::Theme;
use rtcscope::tui::view;
use testing::Script;

fn text(buf: &Buffer) -> String {
    let area = buf.area;
    let mut s = String::new();
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            s.push_str(buf[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

fn pane(app: &App, p: Pane, w: u16, h: u16) -> (Buffer, String) {
    let area = Rect::new(0, 0, w, h);
    let mut buf = Buffer::empty(area);
    view::render_pane(app, p, area, &mut buf);
    let t = text(&buf);
    (buf, t)
}

fn screen(app: &App, w: u16, h: u16) -> (Buffer, String) {
    let area = Rect::new(0, 0, w, h);
    let mut buf = Buffer::empty(area);
    view::render(app, area, &mut buf);
    let t = text(&buf);
    (buf, t)
}

fn restart_app(no_color: bool) -> App {
    App::with_events(
        Theme::new(no_color),
        &testing::restart_relay_error_session(20),
    )
}

fn assert_no_controls(s: &str) {
    assert!(
        !s.chars()
            .any(|c| c != '\n' && rtcscope::sanitize::needs_escape(c)),
        "raw control character reached the buffer:\n{s}"
    );
}

#[test]
fn signaling_pane_lists_messages_with_direction_and_sdp_preview() {
    let app = App::with_events(Theme::new(true), &testing::happy_session(5));
    let (_, t) = pane(&app, Pane::Signaling, 100, 14);
    assert!(t.contains("1 Signaling · 7"), "{t}");
    assert!(t.contains("→  offer"), "{t}");
    assert!(t.contains("←  answer"), "{t}");
    assert!(t.contains("←  ice-servers"), "{t}");
    assert!(t.contains("SDP video recvonly VP8,H264"), "{t}");
    assert!(t.contains("audio REJECTED"), "{t}");
    assert!(t.contains("udp 2130706431 127.0.0.1 50123 typ host"), "{t}");
}

#[test]
fn candidates_pane_shows_servers_skipped_and_decoded_priority() {
    let app = restart_app(true);
    let (_, t) = pane(&app, Pane::Candidates, 150, 20);
    assert!(t.contains("ICE servers (1 + 1 skipped), policy all"), "{t}");
    assert!(t.contains("✓ turn:127.0.0.1:3478?transport=udp"), "{t}");
    assert!(t.contains("cred ***"), "{t}");
    assert!(t.contains("produced 1 relay"), "{t}");
    assert!(
        t.contains("✗ SKIPPED turns:turn.example.com:5349?transport=tcp"),
        "{t}"
    );
    assert!(
        t.contains("TURN over TCP/TLS is not supported by webrtc-rs 0.21"),
        "{t}"
    );
    assert!(
        t.contains("Local (2): host 1 · srflx 0 · prflx 0 · relay 1"),
        "{t}"
    );
    assert!(t.contains("relay udp 127.0.0.1:49152"), "{t}");
    assert!(t.contains("prio 0/65535/1"), "{t}");
    assert!(t.contains("prio 126/65535/1"), "{t}");
    assert!(t.contains("raddr 127.0.0.1:50200"), "{t}");
    assert!(t.contains("via turn:127.0.0.1:3478?transport=udp"), "{t}");
    assert!(t.contains("Remote (1): host 1"), "{t}");
    // Attempt 1's candidates are not mixed in.
    assert!(!t.contains("50123"), "{t}");
}

#[test]
fn pairs_pane_puts_selected_relay_pair_first_with_rtt() {
    let app = restart_app(false);
    let (buf, t) = pane(&app, Pane::Pairs, 120, 12);
    assert!(
        t.contains("★ SELECTED relay 127.0.0.1:49152 ⇄ host 127.0.0.1:48990 udp"),
        "{t}"
    );
    assert!(t.contains("RTT 350us (avg 410us)"), "{t}");
    assert!(t.contains("selected for 20s"), "{t}");
    let lines: Vec<&str> = t.lines().collect();
    let first_row = lines
        .iter()
        .position(|l| l.contains("★ relay"))
        .expect("selected row");
    let failed_row = lines
        .iter()
        .position(|l| l.contains("✗ failed"))
        .expect("failed row");
    assert!(
        first_row < failed_row,
        "selected pair must come first:\n{t}"
    );
    assert!(lines[first_row].contains("✓ succeeded"));
    assert!(lines[first_row].contains("yes"));
    // Highlighted by more than colour: bold.
    let y = first_row as u16;
    let cell = &buf[(3, y)];
    assert!(cell.modifier.contains(Modifier::BOLD), "{cell:?}");
}

#[test]
fn tracks_pane_shows_bitrate_loss_jitter_and_chart() {
    let app = restart_app(true);
    let (_, t) = pane(&app, Pane::Tracks, 100, 12);
    assert!(t.contains("video video/VP8"), "{t}");
    assert!(t.contains("Mbit/s"), "{t}");
    assert!(t.contains("lost 5 (0.11%)"), "{t}");
    assert!(t.contains("jitter 1ms 900us"), "{t}");
    assert!(t.contains("NACK 5 PLI 1 FIR 0"), "{t}");
    assert!(t.contains("peak"), "{t}");
    assert!(t.contains('█'), "no chart:\n{t}");
}

#[test]
fn restarts_pane_shows_cause_lived_and_reconnect() {
    let app = restart_app(true);
    let (_, t) = pane(&app, Pane::Restarts, 110, 6);
    assert!(
        t.contains("socket closed after the answer, before connecting"),
        "{t}"
    );
    assert!(t.contains(" no "), "{t}");
    assert!(t.contains("2s 100ms"), "{t}");
}

#[test]
fn errors_pane_escapes_terminal_sequences() {
    let app = restart_app(true);
    let (_, t) = pane(&app, Pane::Events, 100, 8);
    assert!(t.contains("✗ ERROR protocol"), "{t}");
    assert!(t.contains("⚠ WARN"), "{t}");
    assert!(
        t.contains(r#"{"type":"\x1b[2J\x1b]0;pwned\x07bogus\u{9b}31m"}"#),
        "{t}"
    );
    assert_no_controls(&t);
}

#[test]
fn status_bar_shows_attempt_timeline_and_states() {
    let app = restart_app(true);
    let (_, t) = screen(&app, 200, 60);
    assert!(t.contains("attempt 2"), "{t}");
    assert!(t.contains("restarts 1"), "{t}");
    assert!(t.contains("✓ media +"), "{t}");
    assert!(t.contains("PC ✓ connected"), "{t}");
    assert!(t.contains("ws ✓ open"), "{t}");
}

#[test]
fn timeline_shows_where_an_attempt_stopped() {
    let mut events = testing::restart_relay_error_session(1);
    // Cut right after attempt 1's socket closed.
    let cut = events
        .iter()
        .position(|e| matches!(e.event, Event::SignalingClosed { .. }))
        .expect("close");
    events.truncate(cut + 1);
    let app = App::with_events(Theme::new(true), &events);
    let (_, t) = screen(&app, 200, 60);
    assert!(t.contains("✓ answer +27ms › ✓ local cand"), "{t}");
    assert!(t.contains("✗ ICE › · DTLS › · media"), "{t}");
    assert!(t.contains("ws ✗ closed (1006)"), "{t}");
    let (_, t) = screen(&app, 80, 24);
    assert!(t.contains("✓answer 27ms"), "{t}");
    assert!(t.contains("✗ ICE · DTLS · media"), "{t}");
}

#[test]
fn answer_detail_compares_with_offer() {
    let app = restart_app(true);
    let i = app
        .analysis
        .model()
        .messages()
        .iter()
        .rposition(|e| e.kind.label() == "answer")
        .expect("answer") as u64
        + app.analysis.model().messages().first_index();
    let mut app = app;
    app.overlay = Overlay::Detail {
        target: DetailTarget::Message(i),
        scroll: 0,
    };
    let (_, t) = screen(&app, 160, 60);
    assert!(t.contains("← received answer · attempt 2"), "{t}");
    assert!(t.contains("vs offer:   ACCEPTED"), "{t}");
    assert!(t.contains("REJECTED (port 0)"), "{t}");
    assert!(t.contains("setup       active"), "{t}");
    assert!(t.contains("fingerprint sha-256 C3:39:F6"), "{t}");
    // Scrolling reaches the raw SDP.
    for _ in 0..40 {
        update(&mut app, Msg::PageDown);
    }
    let (_, t) = screen(&app, 160, 60);
    assert!(t.contains("a=rtpmap:96 opus/48000/2"), "{t}");
}

#[test]
fn hostile_strings_never_reach_the_terminal_raw() {
    let evil = "\u{1b}[2J\u{1b}]52;c;cHduZWQ=\u{7}\u{9b}6n\u{202e}evil\r\nline2";
    let mut s = Script::new();
    s.at(0.0, {
        let mut e = testing::session_started();
        if let Event::SessionStarted { target, .. } = &mut e {
            *target = format!("ws://x/{evil}");
        }
        e
    });
    s.attempt(1.0, 1);
    s.at(
        2.0,
        testing::message(Direction::In, MessageKind::Invalid, evil),
    );
    s.at(
        3.0,
        Event::SignalingClosed {
            phase: rtcscope::event::Phase::AwaitingAnswer,
            code: Some(4000),
            reason: Some(evil.into()),
            local: false,
        },
    );
    s.at(
        4.0,
        Event::Error {
            source: rtcscope::event::ErrorSource::Signaling,
            message: evil.into(),
            offending: Some(evil.into()),
        },
    );
    let mut app = App::with_events(Theme::new(true), s.events());
    for (w, h) in [(80, 24), (160, 48)] {
        for p in Pane::ALL {
            update(&mut app, Msg::Focus(p));
            let (_, t) = screen(&app, w, h);
            assert_no_controls(&t);
        }
    }
    update(&mut app, Msg::Focus(Pane::Signaling));
    update(&mut app, Msg::Home);
    update(&mut app, Msg::Enter);
    let (_, t) = screen(&app, 80, 24);
    assert_no_controls(&t);
    assert!(t.contains(r"\x1b[2J"), "{t}");
}

#[test]
fn no_color_theme_uses_no_colour_and_colour_theme_does() {
    let plain = restart_app(true);
    let (buf, _) = screen(&plain, 160, 48);
    for c in buf.content() {
        assert_eq!(c.fg, Color::Reset, "{c:?}");
        assert_eq!(c.bg, Color::Reset, "{c:?}");
    }
    let coloured = restart_app(false);
    let (buf, _) = screen(&coloured, 160, 48);
    assert!(buf.content().iter().any(|c| c.fg == Color::Green));
}

#[test]
fn every_size_renders_without_panic() {
    let mut app = restart_app(false);
    for p in [Pane::Signaling, Pane::Tracks, Pane::Events] {
        update(&mut app, Msg::Focus(p));
        for (w, h) in [
            (1, 1),
            (10, 3),
            (20, 6),
            (40, 10),
            (79, 23),
            (80, 24),
            (119, 31),
            (120, 32),
            (200, 60),
            (300, 100),
        ] {
            let _ = screen(&app, w, h);
        }
    }
    update(&mut app, Msg::ToggleHelp);
    let _ = screen(&app, 20, 6);
    let _ = screen(&app, 30, 8);
}

#[test]
fn pairs_pane_shows_a_selection_change_within_the_attempt() {
    let mut s = Script::new();
    s.at(0.0, testing::session_started());
    s.attempt(1.0, 1);
    let (l, r) = testing::loopback_hosts();
    let relay = testing::candidate(rtcscope::event::CandidateType::Relay, "10.0.0.9", 40000, 5);
    s.at(
        2.0,
        Event::SelectedPair {
            pair: testing::pair("A", &l, &r, "succeeded"),
            changes: 1,
        },
    );
    s.at(
        900.0,
        Event::SelectedPair {
            pair: testing::pair("B", &relay, &r, "succeeded"),
            changes: 2,
        },
    );
    let app = App::with_events(Theme::new(true), s.events());
    let (_, t) = pane(&app, Pane::Pairs, 120, 10);
    assert!(t.contains("★ SELECTED relay 10.0.0.9:40000"), "{t}");
    assert!(t.contains("changes 2"), "{t}");
    assert!(
        t.contains(
            "pair changed at 900ms (attempt 1): now relay 10.0.0.9:40000 ⇄ host 127.0.0.1:48979"
        ),
        "{t}"
    );
}

#[test]
fn failed_signaling_marks_the_first_step() {
    let mut s = Script::new();
    s.at(0.0, testing::session_started());
    s.attempt(1.0, 1);
    s.at(
        2.0,
        Event::SignalingConnecting {
            url: testing::TARGET.into(),
        },
    );
    s.at(
        5.0,
        Event::SignalingFailed {
            error: "connection refused".into(),
            http_status: None,
            body: None,
        },
    );
    let app = App::with_events(Theme::new(true), s.events());
    let (_, t) = screen(&app, 80, 24);
    assert!(t.contains("✗ ws · ice-srv"), "{t}");
    assert!(t.contains("ws ✗failed"), "{t}");
    assert!(t.contains("failed: connection refused"), "{t}");
}

#[test]
fn bitrate_chart_covers_minutes_of_history() {
    let app = App::with_events(Theme::new(true), &testing::happy_session(400));
    let (_, t) = pane(&app, Pane::Tracks, 80, 12);
    assert!(t.contains("(1 column = 6 s)"), "{t}");
    assert!(t.contains("bitrate, last 7m 48s"), "{t}");
}

#[tokio::test]
async fn candidates_pane_shows_probe_results() {
    // A probe result as the engine emits it (an unusable URL: no network needed).
    let spec = rtcscope::proto::ice_server::IceServerSpec {
        urls: vec!["turns:[::1".into()],
        username: Some("u".into()),
        credential: Some("p".into()),
        source: rtcscope::event::IceServerSource::CommandLine,
    };
    let results =
        rtcscope::probe::probe_server(&spec, &rtcscope::probe::ProbeOptions::default()).await;
    assert_eq!(results.len(), 1);
    let mut events = testing::happy_session(5);
    let last = events.last().cloned().expect("events");
    events.insert(
        events.len() - 1,
        rtcscope::event::Stamped {
            seq: last.seq,
            t_ms: last.t_ms,
            attempt: last.attempt,
            event: Event::ProbeResult {
                result: results[0].clone(),
            },
        },
    );
    let app = App::with_events(Theme::new(true), &events);
    let (_, t) = pane(&app, Pane::Candidates, 160, 30);
    assert!(t.contains("Probe (our own STUN/TURN requests"), "{t}");
    assert!(t.contains("✗ "), "{t}");
    assert!(t.contains(&results[0].summary()[..20]), "{t}");
}

#[test]
fn findings_pane_lists_verdicts_most_severe_first_with_the_selected_one_expanded() {
    let mut app = restart_app(true);
    let (_, t) = pane(&app, Pane::Findings, 120, 20);
    assert!(t.contains("7 Findings"), "{t}");
    assert!(t.contains("✗ ERROR"), "{t}");
    assert!(
        t.contains("fix:"),
        "the first (most severe) finding is expanded:\n{t}"
    );
    assert_no_controls(&t);
    // Severities never increase down the list.
    let order: Vec<usize> = ["✗ ", "⚠ ", "ℹ ", "✓ "]
        .iter()
        .filter_map(|m| t.find(m))
        .collect();
    assert!(order.windows(2).all(|w| w[0] <= w[1]), "{t}");
    // Selecting the next one moves the expansion.
    update(&mut app, Msg::Focus(Pane::Findings));
    update(&mut app, Msg::Down);
    let (_, t2) = pane(&app, Pane::Findings, 120, 20);
    assert_ne!(t, t2);
    // A healthy session says so.
    let happy = App::with_events(Theme::new(true), &testing::happy_session(5));
    let (_, t) = pane(&happy, Pane::Findings, 120, 12);
    assert!(t.contains("✓ OK"), "{t}");
}

/// A failed attempt keeps its checklist in the restart log: Enter on the restart shows the pairs as
/// they were, with their failed state, checks sent and responses; Enter on a pair shows it in full.
#[test]
fn restart_and_pair_details_show_the_checklist() {
    use rtcscope::event::{CandidateType, RestartCause};
    let mut s = Script::new();
    s.at(0.0, testing::session_started());
    s.attempt(0.1, 1);
    let l = testing::candidate(CandidateType::Host, "192.168.1.5", 50000, 2130706431);
    let r = testing::candidate(CandidateType::Host, "10.0.0.7", 8189, 2130706431);
    let mut p = testing::pair("p1", &l, &r, "in-progress");
    p.requests_sent = 3;
    s.at(100.0, Event::PairAdded { pair: p.clone() });
    p.requests_sent = 8;
    p.state = "failed".into();
    s.at(
        1700.0,
        Event::PairStateChanged {
            id: "p1".into(),
            from: "in-progress".into(),
            to: "failed".into(),
        },
    );
    s.at(1700.0, Event::CandidatePairs { pairs: vec![p] });
    s.at(
        5000.0,
        Event::Restart {
            cause: RestartCause::IceFailed,
            ended_attempt: 1,
            lived_ms: 4900.0,
            had_connected: false,
            pause_ms: 1000.0,
        },
    );
    s.attempt(6000.0, 2);
    let mut app = App::with_events(Theme::new(true), &s.build());
    let i = app.analysis.model().restarts().first_index();
    app.overlay = Overlay::Detail {
        target: DetailTarget::Restart(i),
        scroll: 0,
    };
    let (_, t) = screen(&app, 160, 40);
    assert!(t.contains("attempt 1 ended after 4s 900ms"), "{t}");
    assert!(
        t.contains("checklist: 1 pair, 8 checks sent, 0 responses; every pair failed"),
        "{t}"
    );
    assert!(t.contains("host 192.168.1.5:50000"), "{t}");
    assert!(t.contains("failed"), "{t}");
    // The new attempt has no pair yet; a pair detail of attempt 1 is gone with it.
    app.overlay = Overlay::Detail {
        target: DetailTarget::Pair(0),
        scroll: 0,
    };
    let (_, t) = screen(&app, 160, 40);
    assert!(t.contains("no longer in the checklist"), "{t}");
}

/// A relay over TURN/TLS (recorded against coturn): the candidates and pairs panes show the relay
/// protocol (webrtc-internals' relayProtocol) and the real TURN URL, never the adapter's bridge.
#[test]
fn relay_protocol_in_the_candidates_and_pairs_panes() {
    let events = crate::support::diagnosis::load_fixture("turn-tls-healthy");
    let app = App::with_events(Theme::new(true), &events);
    let (_, t) = pane(&app, Pane::Candidates, 200, 20);
    assert!(t.contains("relayProtocol tls"), "{t}");
    assert!(t.contains("via turns:127.0.0.1:"), "{t}");
    assert!(
        t.contains("produced 1 relay"),
        "the server's line counts its relay: {t}"
    );
    assert!(!t.contains("SKIPPED"), "{t}");
    let (_, t) = pane(&app, Pane::Pairs, 140, 12);
    assert!(t.contains("★ SELECTED relay/tls 127.0.0.1:"), "{t}");
    // The turns: failure without --insecure is in the errors log, with the certificate named.
    let events = crate::support::diagnosis::load_fixture("turn-tls-untrusted");
    let app = App::with_events(Theme::new(true), &events);
    let (_, t) = pane(&app, Pane::Events, 250, 10);
    assert!(t.contains("turn"), "{t}");
    assert!(t.contains("TURN over TLS to turns:127.0.0.1:"), "{t}");
    assert!(t.contains("unknown CA"), "{t}");
    let (_, t) = pane(&app, Pane::Findings, 250, 20);
    assert!(t.contains("certificate was rejected"), "{t}");
}

/// This host's own receive-buffer drops are named in the Tracks pane (recorded: a 4 KiB buffer at
/// 50 Mbit/s).
#[test]
fn the_tracks_pane_names_this_hosts_own_drops() {
    let events = crate::support::diagnosis::load_fixture("host-receive-drops");
    let app = App::with_events(Theme::new(true), &events);
    let (_, t) = pane(&app, Pane::Tracks, 160, 10);
    assert!(t.contains("dropped by this host"), "{t}");
}
