//! Replays a recording of the real engine (`rtcscope demo --headless --duration 5s`) through
//! `Model::apply` and the view.

use rtcscope::event::{CandidateType, EndReason, Stamped};
use rtcscope::model::{Milestone, Model};
use rtcscope::tui::app::App;
use rtcscope::tui::theme::Theme;

fn load(name: &str) -> Vec<Stamped> {
    let path = format!(
        "{}/tests/fixtures/events/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("fixture");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("event"))
        .collect()
}

#[test]
fn demo_recording_replays_into_a_connected_model() {
    let events = load("demo-5s.ndjson");
    let m = Model::from_events(&events);
    assert_eq!(m.attempt_number(), 1);
    assert!(m.ever_connected());
    assert!(m.media_received());
    assert_eq!(m.stale_ignored(), 0);
    let a = m.attempt();
    for ms in [
        Milestone::SignalingConnected,
        Milestone::IceServers,
        Milestone::Offer,
        Milestone::Answer,
        Milestone::FirstLocalCandidate,
        Milestone::FirstRemoteCandidate,
        Milestone::IceChecking,
        Milestone::IceConnected,
        Milestone::DtlsConnected,
        Milestone::FirstMedia,
    ] {
        assert!(a.timeline.get(ms).is_some(), "{ms:?}");
    }
    let sel = a.selected.as_ref().expect("selected pair");
    assert_eq!(sel.pair.state, "succeeded");
    assert!(sel.pair.local.is_some() && sel.pair.remote.is_some());
    // The first selected_pair lacked the (prflx) remote end; the change record was completed.
    assert!(
        m.pair_changes()
            .last()
            .is_some_and(|c| c.local.is_some() && c.remote.is_some())
    );
    assert_eq!(a.local_counts()[0], 1);
    assert!(a.remote_candidates.iter().all(|c| {
        c.candidate
            .as_ref()
            .is_some_and(|c| c.typ == CandidateType::Host)
    }));
    // track_added has no mid, stats do: one track, not two.
    assert_eq!(m.tracks().len(), 1);
    let tr = &m.tracks()[0];
    assert!(tr.history.len() >= 2);
    assert!(tr.stats.as_ref().is_some_and(|s| s.bitrate_bps > 100_000.0));
    assert!(a.offer_sdp.is_some() && a.answer_sdp.is_some());
    assert_eq!(
        m.ended().map(|e| e.reason.clone()),
        Some(EndReason::Duration)
    );

    let app = App::with_events(Theme::new(true), &events);
    for (w, h) in [(80, 24), (160, 48)] {
        let area = ratatui::layout::Rect::new(0, 0, w, h);
        let mut buf = ratatui::buffer::Buffer::empty(area);
        rtcscope::tui::view::render(&app, area, &mut buf);
    }
}
