//! Whole-screen snapshots (ratatui `TestBackend` + insta) at 80x24 and 160x48, from models built
//! from event fixtures: a connected session, a restart with a relay pair and an error, the detail
//! view of an answer SDP, the help overlay, zoom and freeze.

use crate::support::events as testing;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rtcscope::tui::app::{App, Msg, Pane, update};
use rtcscope::tui::theme::Theme;
use rtcscope::tui::view;

fn screen(app: &App, w: u16, h: u16) -> TestBackend {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    t.draw(|f| view::view(app, f)).expect("draw");
    t.backend().clone()
}

fn happy() -> App {
    App::with_events(Theme::new(true), &testing::happy_session(30))
}

fn restart() -> App {
    App::with_events(Theme::new(true), &testing::restart_relay_error_session(20))
}

fn with(mut app: App, msgs: &[Msg]) -> App {
    for m in msgs {
        update(&mut app, m.clone());
    }
    app
}

#[test]
fn happy_80x24() {
    insta::assert_snapshot!(screen(&happy(), 80, 24));
}

#[test]
fn happy_160x48() {
    insta::assert_snapshot!(screen(&happy(), 160, 48));
}

#[test]
fn happy_tracks_80x24() {
    let app = with(happy(), &[Msg::Focus(Pane::Tracks)]);
    insta::assert_snapshot!(screen(&app, 80, 24));
}

#[test]
fn restart_relay_error_160x48() {
    insta::assert_snapshot!(screen(&restart(), 160, 48));
}

#[test]
fn restart_relay_error_pairs_80x24() {
    let app = with(restart(), &[Msg::Focus(Pane::Pairs)]);
    insta::assert_snapshot!(screen(&app, 80, 24));
}

#[test]
fn restart_relay_error_candidates_80x24() {
    let app = with(restart(), &[Msg::Focus(Pane::Candidates)]);
    insta::assert_snapshot!(screen(&app, 80, 24));
}

#[test]
fn restart_relay_error_restarts_80x24() {
    let app = with(restart(), &[Msg::Focus(Pane::Restarts)]);
    insta::assert_snapshot!(screen(&app, 80, 24));
}

#[test]
fn restart_relay_error_errors_80x24() {
    let app = with(restart(), &[Msg::Focus(Pane::Events)]);
    insta::assert_snapshot!(screen(&app, 80, 24));
}

/// Select the answer of the current attempt in the signaling pane and open its detail.
fn answer_detail(app: App) -> App {
    let answer_abs = app
        .analysis
        .model()
        .messages()
        .iter()
        .enumerate()
        .rev()
        .find(|(_, e)| e.kind.label() == "answer")
        .map(|(i, _)| app.analysis.model().messages().first_index() + i as u64)
        .expect("answer");
    let newest = app.analysis.model().messages().first_index()
        + app.analysis.model().messages().len() as u64
        - 1;
    let mut app = with(app, &[Msg::Focus(Pane::Signaling)]);
    for _ in answer_abs..=newest {
        update(&mut app, Msg::Up);
    }
    update(&mut app, Msg::Down);
    with(app, &[Msg::Enter])
}

#[test]
fn answer_detail_80x24() {
    insta::assert_snapshot!(screen(&answer_detail(restart()), 80, 24));
}

#[test]
fn answer_detail_160x48() {
    insta::assert_snapshot!(screen(&answer_detail(restart()), 160, 48));
}

#[test]
fn help_80x24() {
    let app = with(happy(), &[Msg::ToggleHelp]);
    insta::assert_snapshot!(screen(&app, 80, 24));
}

#[test]
fn zoomed_pairs_160x48_frozen() {
    let app = with(
        restart(),
        &[Msg::Focus(Pane::Pairs), Msg::ToggleZoom, Msg::ToggleFreeze],
    );
    insta::assert_snapshot!(screen(&app, 160, 48));
}
