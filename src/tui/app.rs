//! The TUI's state ([`App`]), its messages ([`Msg`]) and the pure [`update`] (the Elm architecture):
//! keys and engine events become `Msg`s; `update` changes the `App` and may ask the loop for a
//! [`Cmd`] (an engine command, or quitting). Nothing here touches the terminal or the engine.

use crate::analysis::Analysis;
use crate::engine::{EngineCommand, ReplayControl, replay};
use crate::event::{Event, Stamped};
use crate::model::Model;

use super::theme::Theme;

/// The focusable panes, in focus order (their number keys are 1..6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pane {
    /// Signaling messages.
    Signaling,
    /// ICE servers and candidates.
    Candidates,
    /// Candidate pairs.
    Pairs,
    /// Tracks and bitrate.
    Tracks,
    /// Restart log.
    Restarts,
    /// Errors and warnings.
    Events,
    /// The diagnosis: verdicts, most severe first, the selected one expanded to its evidence.
    Findings,
}

impl Pane {
    /// Every pane, in focus order.
    pub const ALL: [Pane; 7] = [
        Pane::Signaling,
        Pane::Candidates,
        Pane::Pairs,
        Pane::Tracks,
        Pane::Restarts,
        Pane::Events,
        Pane::Findings,
    ];

    /// Position in [`Pane::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The pane's title.
    pub fn title(self) -> &'static str {
        match self {
            Pane::Signaling => "Signaling",
            Pane::Candidates => "ICE candidates",
            Pane::Pairs => "Candidate pairs",
            Pane::Tracks => "Tracks / bitrate",
            Pane::Restarts => "Restarts",
            Pane::Events => "Events / errors",
            Pane::Findings => "Findings",
        }
    }

    /// A short title for the tab bar.
    pub fn short(self) -> &'static str {
        match self {
            Pane::Signaling => "Signaling",
            Pane::Candidates => "ICE",
            Pane::Pairs => "Pairs",
            Pane::Tracks => "Tracks",
            Pane::Restarts => "Restarts",
            Pane::Events => "Errors",
            Pane::Findings => "Findings",
        }
    }

    fn next(self) -> Pane {
        Pane::ALL[(self.index() + 1) % Pane::ALL.len()]
    }

    fn prev(self) -> Pane {
        Pane::ALL[(self.index() + Pane::ALL.len() - 1) % Pane::ALL.len()]
    }
}

/// What a detail view shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetailTarget {
    /// A signaling-log entry, by absolute index in the model's message ring.
    Message(u64),
    /// An error/warning, by absolute index in the model's log ring.
    Log(u64),
    /// A restart, by absolute index in the model's restart ring: the attempt that ended and its
    /// checklist as it was.
    Restart(u64),
    /// A candidate pair of the current attempt, by its row in the pairs pane (selected pair first).
    Pair(u64),
}

/// What is drawn over the panes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    /// Nothing.
    None,
    /// The key help.
    Help,
    /// A detail view, scrolled by `scroll` lines.
    Detail {
        /// What it shows.
        target: DetailTarget,
        /// First line shown.
        scroll: usize,
    },
}

/// Selection / scroll of one pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PaneState {
    /// For list panes, the selected item (absolute ring index, or row index); `None` follows the
    /// newest. For text panes (candidates, tracks), the first line shown.
    pub selected: Option<u64>,
}

/// Everything the TUI knows.
#[derive(Debug, Clone)]
pub struct App {
    /// The live analysis (model and findings): every engine event is applied to it, frozen or not.
    pub analysis: Analysis,
    /// While frozen, the analysis the view shows (a snapshot taken when `f` was pressed).
    pub frozen: Option<Analysis>,
    /// The focused pane.
    pub focus: Pane,
    /// Whether the focused pane fills the screen.
    pub zoom: bool,
    /// The overlay.
    pub overlay: Overlay,
    /// Per pane selection, indexed by [`Pane::index`].
    pub panes: [PaneState; 7],
    /// Styles.
    pub theme: Theme,
    /// Session time "now" (advanced by ticks, so durations grow between events).
    pub now_ms: f64,
    /// A transient note in the status bar (e.g. "restart requested").
    pub note: Option<String>,
    /// Quit requested; the loop drains the engine until `ended`.
    pub quitting: bool,
    /// The engine's event stream ended.
    pub engine_closed: bool,
    /// Playing a recording (`rtcscope replay`): whether paused, and the speed.
    pub replay: Option<ReplayState>,
}

/// Where a replay stands, as the status bar shows it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplayState {
    /// Paused.
    pub paused: bool,
    /// Speed (1.0 = as recorded).
    pub speed: f64,
}

impl ReplayState {
    /// The status-bar note: `replay 2× · paused`.
    pub fn note(&self) -> String {
        let speed = if self.speed >= 1.0 {
            format!("{}×", self.speed)
        } else {
            format!("1/{}×", (1.0 / self.speed).round())
        };
        format!(
            "replay {speed}{} (p pause, . step, + / - speed)",
            if self.paused { " · paused" } else { "" }
        )
    }
}

/// Inputs of [`update`].
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    /// An engine event.
    Engine(Box<Stamped>),
    /// The engine's stream ended.
    EngineClosed,
    /// Time passed; `now_ms` is the session time now.
    Tick {
        /// Session time now, in ms.
        now_ms: f64,
    },
    /// Focus the next pane (Tab).
    FocusNext,
    /// Focus the previous pane (Shift-Tab).
    FocusPrev,
    /// Focus a pane (number keys).
    Focus(Pane),
    /// Select/scroll up one.
    Up,
    /// Select/scroll down one.
    Down,
    /// Up a page.
    PageUp,
    /// Down a page.
    PageDown,
    /// To the first item.
    Home,
    /// To the newest item (and follow).
    End,
    /// Open the detail of the selection.
    Enter,
    /// Close the overlay, or leave zoom.
    Back,
    /// Force a restart.
    Restart,
    /// Restart ICE within the attempt (WHEP).
    IceRestart,
    /// Freeze / unfreeze the view.
    ToggleFreeze,
    /// Show / hide the help.
    ToggleHelp,
    /// Zoom / unzoom the focused pane.
    ToggleZoom,
    /// Quit.
    Quit,
    /// Control a replay (ignored in a live session).
    Replay(ReplayControl),
}

/// What [`update`] asks the loop to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    /// Send a command to the engine.
    Engine(EngineCommand),
    /// Leave now (a second quit while draining).
    Exit,
}

const PAGE: u64 = 10;

impl App {
    /// A fresh app.
    pub fn new(theme: Theme) -> Self {
        App {
            analysis: Analysis::new(),
            frozen: None,
            focus: Pane::Signaling,
            zoom: false,
            overlay: Overlay::None,
            panes: [PaneState::default(); 7],
            theme,
            now_ms: 0.0,
            note: None,
            quitting: false,
            engine_closed: false,
            replay: None,
        }
    }

    /// An app whose model has applied `events` (for tests and snapshots).
    pub fn with_events(theme: Theme, events: &[Stamped]) -> Self {
        let mut app = App::new(theme);
        for e in events {
            update(&mut app, Msg::Engine(Box::new(e.clone())));
        }
        app
    }

    /// The analysis the view shows: the frozen snapshot, or the live one.
    pub fn view_analysis(&self) -> &Analysis {
        self.frozen.as_ref().unwrap_or(&self.analysis)
    }

    /// The model the view shows: the frozen snapshot, or the live model.
    pub fn view_model(&self) -> &Model {
        self.view_analysis().model()
    }

    /// Session time the view treats as now.
    pub fn view_now_ms(&self) -> f64 {
        let m = self.view_model();
        if self.frozen.is_some() {
            return m.now_ms();
        }
        match m.ended() {
            Some(e) => e.t_ms,
            None => self.now_ms.max(m.now_ms()),
        }
    }

    /// The state of a pane.
    pub fn pane(&self, p: Pane) -> PaneState {
        self.panes[p.index()]
    }

    /// Whether the view is frozen.
    pub fn is_frozen(&self) -> bool {
        self.frozen.is_some()
    }

    /// The number of items of a list pane, and the absolute index of its first one.
    fn items(&self, p: Pane) -> (u64, u64) {
        let m = self.view_model();
        match p {
            Pane::Signaling => (m.messages().first_index(), m.messages().len() as u64),
            Pane::Events => (m.log().first_index(), m.log().len() as u64),
            Pane::Restarts => (m.restarts().first_index(), m.restarts().len() as u64),
            Pane::Pairs => (0, m.attempt().pairs.len() as u64),
            Pane::Findings => (0, self.view_analysis().findings().len() as u64),
            // Text panes: scroll by lines, bounded by the view.
            Pane::Candidates | Pane::Tracks => (0, u64::MAX),
        }
    }

    fn is_list(p: Pane) -> bool {
        !matches!(p, Pane::Candidates | Pane::Tracks)
    }

    fn move_selection(&mut self, delta: i64) {
        let p = self.focus;
        let (first, len) = self.items(p);
        let st = &mut self.panes[p.index()];
        if !Self::is_list(p) {
            let cur = st.selected.unwrap_or(0) as i64;
            st.selected = Some((cur + delta).clamp(0, 10_000) as u64);
            return;
        }
        if len == 0 {
            st.selected = None;
            return;
        }
        let last = first + len - 1;
        let cur = st.selected.unwrap_or(last).clamp(first, last) as i64;
        let next = cur + delta;
        st.selected = if next > last as i64 {
            None
        } else {
            Some(next.max(first as i64) as u64)
        };
    }

    fn selected_or_last(&self, p: Pane) -> Option<u64> {
        let (first, len) = self.items(p);
        if len == 0 {
            return None;
        }
        let last = first + len - 1;
        Some(self.pane(p).selected.unwrap_or(last).clamp(first, last))
    }
}

/// Apply one message; returns what the loop must do, if anything. Pure: no I/O.
pub fn update(app: &mut App, msg: Msg) -> Option<Cmd> {
    // Overlays take navigation keys first.
    if let Overlay::Detail { target, scroll } = app.overlay {
        let step = |d: i64| {
            let s = (scroll as i64 + d).max(0) as usize;
            Overlay::Detail { target, scroll: s }
        };
        match msg {
            Msg::Up => {
                app.overlay = step(-1);
                return None;
            }
            Msg::Down => {
                app.overlay = step(1);
                return None;
            }
            Msg::PageUp => {
                app.overlay = step(-(PAGE as i64) * 2);
                return None;
            }
            Msg::PageDown => {
                app.overlay = step(PAGE as i64 * 2);
                return None;
            }
            Msg::Home => {
                app.overlay = Overlay::Detail { target, scroll: 0 };
                return None;
            }
            Msg::Back | Msg::Enter => {
                app.overlay = Overlay::None;
                return None;
            }
            _ => {}
        }
    }
    if app.overlay == Overlay::Help && matches!(msg, Msg::Back | Msg::Enter) {
        app.overlay = Overlay::None;
        return None;
    }
    match msg {
        Msg::Engine(ev) => {
            let is_end = matches!(ev.event, Event::Ended { .. });
            let attempt = app.analysis.model().attempt_number();
            app.analysis.apply(&ev);
            if app.analysis.model().attempt_number() != attempt && !app.quitting {
                // "restart requested" is answered by the new attempt.
                app.note = None;
            }
            app.now_ms = app.now_ms.max(app.analysis.model().now_ms());
            if is_end && app.quitting {
                return Some(Cmd::Exit);
            }
        }
        Msg::EngineClosed => {
            app.engine_closed = true;
            return Some(Cmd::Exit);
        }
        Msg::Tick { now_ms } => {
            if now_ms.is_finite() {
                app.now_ms = app.now_ms.max(now_ms);
            }
        }
        Msg::FocusNext => app.focus = app.focus.next(),
        Msg::FocusPrev => app.focus = app.focus.prev(),
        Msg::Focus(p) => app.focus = p,
        Msg::Up => app.move_selection(-1),
        Msg::Down => app.move_selection(1),
        Msg::PageUp => app.move_selection(-(PAGE as i64)),
        Msg::PageDown => app.move_selection(PAGE as i64),
        Msg::Home => {
            let (first, len) = app.items(app.focus);
            app.panes[app.focus.index()].selected = if App::is_list(app.focus) && len == 0 {
                None
            } else {
                Some(first)
            };
        }
        Msg::End => {
            app.panes[app.focus.index()].selected = None;
        }
        Msg::Enter => {
            let target = match app.focus {
                Pane::Signaling => app
                    .selected_or_last(Pane::Signaling)
                    .map(DetailTarget::Message),
                Pane::Events => app.selected_or_last(Pane::Events).map(DetailTarget::Log),
                Pane::Restarts => app
                    .selected_or_last(Pane::Restarts)
                    .map(DetailTarget::Restart),
                Pane::Pairs => {
                    let n = app.view_model().attempt().pairs.len() as u64;
                    let i = app.panes[Pane::Pairs.index()].selected.unwrap_or(0);
                    (n > 0).then(|| DetailTarget::Pair(i.min(n - 1)))
                }
                _ => None,
            };
            match target {
                Some(target) => {
                    // Pin the selection so the detail matches what was selected.
                    let p = app.focus.index();
                    let (DetailTarget::Message(i)
                    | DetailTarget::Log(i)
                    | DetailTarget::Restart(i)
                    | DetailTarget::Pair(i)) = target;
                    app.panes[p].selected = Some(i);
                    app.overlay = Overlay::Detail { target, scroll: 0 };
                }
                None => app.zoom = !app.zoom,
            }
        }
        Msg::Back => {
            if app.zoom {
                app.zoom = false;
            } else {
                app.panes[app.focus.index()].selected = None;
            }
        }
        Msg::Restart => {
            if !app.quitting {
                app.note = Some("restart requested".into());
                return Some(Cmd::Engine(EngineCommand::Restart));
            }
        }
        Msg::IceRestart => {
            if !app.quitting {
                app.note = Some("ICE restart requested".into());
                return Some(Cmd::Engine(EngineCommand::IceRestart));
            }
        }
        Msg::ToggleFreeze => {
            app.frozen = match app.frozen.take() {
                Some(_) => None,
                None => Some(app.analysis.clone()),
            };
        }
        Msg::ToggleHelp => {
            app.overlay = if app.overlay == Overlay::Help {
                Overlay::None
            } else {
                Overlay::Help
            };
        }
        Msg::ToggleZoom => app.zoom = !app.zoom,
        Msg::Replay(c) => {
            let r = app.replay.as_mut()?;
            let cmd = match c {
                ReplayControl::TogglePause => {
                    r.paused = !r.paused;
                    c
                }
                // Playing, a step first pauses (the next `.` steps).
                ReplayControl::Step if !r.paused => {
                    r.paused = true;
                    ReplayControl::TogglePause
                }
                ReplayControl::Step => c,
                ReplayControl::Faster => {
                    r.speed = (r.speed * 2.0).min(replay::MAX_SPEED);
                    c
                }
                ReplayControl::Slower => {
                    r.speed = (r.speed / 2.0).max(replay::MIN_SPEED);
                    c
                }
            };
            app.note = Some(r.note());
            return Some(Cmd::Engine(EngineCommand::Replay(cmd)));
        }
        Msg::Quit => {
            if app.quitting || app.engine_closed || app.analysis.model().ended().is_some() {
                return Some(Cmd::Exit);
            }
            app.quitting = true;
            app.note = Some("stopping…".into());
            return Some(Cmd::Engine(EngineCommand::Stop));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_events as testing;

    fn app() -> App {
        App::with_events(Theme::new(true), &testing::happy_session(5))
    }

    #[test]
    fn focus_cycles_and_numbers() {
        let mut a = app();
        assert_eq!(a.focus, Pane::Signaling);
        update(&mut a, Msg::FocusPrev);
        assert_eq!(a.focus, Pane::Findings);
        update(&mut a, Msg::FocusNext);
        update(&mut a, Msg::FocusNext);
        assert_eq!(a.focus, Pane::Candidates);
        update(&mut a, Msg::Focus(Pane::Restarts));
        assert_eq!(a.focus, Pane::Restarts);
    }

    #[test]
    fn selection_follows_then_pins_then_follows() {
        let mut a = app();
        let n = a.analysis.model().messages().len() as u64;
        assert_eq!(a.pane(Pane::Signaling).selected, None);
        update(&mut a, Msg::Up);
        assert_eq!(a.pane(Pane::Signaling).selected, Some(n - 2));
        update(&mut a, Msg::Down);
        assert_eq!(a.pane(Pane::Signaling).selected, Some(n - 1));
        update(&mut a, Msg::Down);
        assert_eq!(a.pane(Pane::Signaling).selected, None);
        update(&mut a, Msg::Home);
        assert_eq!(a.pane(Pane::Signaling).selected, Some(0));
        update(&mut a, Msg::PageUp);
        assert_eq!(a.pane(Pane::Signaling).selected, Some(0));
    }

    #[test]
    fn enter_opens_detail_esc_closes() {
        let mut a = app();
        update(&mut a, Msg::Home);
        update(&mut a, Msg::Down);
        update(&mut a, Msg::Enter);
        assert!(matches!(
            a.overlay,
            Overlay::Detail {
                target: DetailTarget::Message(1),
                scroll: 0
            }
        ));
        update(&mut a, Msg::Down);
        assert!(matches!(a.overlay, Overlay::Detail { scroll: 1, .. }));
        update(&mut a, Msg::Back);
        assert_eq!(a.overlay, Overlay::None);
    }

    #[test]
    fn restart_and_quit_commands() {
        let mut a = app();
        assert_eq!(
            update(&mut a, Msg::Restart),
            Some(Cmd::Engine(EngineCommand::Restart))
        );
        assert_eq!(
            update(&mut a, Msg::Quit),
            Some(Cmd::Engine(EngineCommand::Stop))
        );
        assert!(a.quitting);
        // Draining: the ended event lets the loop exit.
        let mut events = testing::happy_session(5);
        testing::end_session(&mut events, crate::event::EndReason::Interrupted);
        let ended = events.pop().map(Box::new).expect("ended");
        assert_eq!(update(&mut a, Msg::Engine(ended)), Some(Cmd::Exit));
    }

    #[test]
    fn freeze_keeps_view_while_model_advances() {
        let events = testing::happy_session(8);
        let mut a = App::with_events(Theme::new(true), &events[..events.len() - 6]);
        update(&mut a, Msg::ToggleFreeze);
        let frozen_seq = a.view_model().last_seq();
        for e in &events[events.len() - 6..] {
            update(&mut a, Msg::Engine(Box::new(e.clone())));
        }
        assert_eq!(a.view_model().last_seq(), frozen_seq);
        assert_eq!(a.analysis.model().last_seq(), events.last().map(|e| e.seq));
        update(&mut a, Msg::ToggleFreeze);
        assert_eq!(a.view_model().last_seq(), events.last().map(|e| e.seq));
    }

    #[test]
    fn help_and_zoom_toggle() {
        let mut a = app();
        update(&mut a, Msg::ToggleHelp);
        assert_eq!(a.overlay, Overlay::Help);
        update(&mut a, Msg::Back);
        assert_eq!(a.overlay, Overlay::None);
        update(&mut a, Msg::ToggleZoom);
        assert!(a.zoom);
        update(&mut a, Msg::Back);
        assert!(!a.zoom);
    }
}
