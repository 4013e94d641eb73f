//! The terminal UI (ratatui + crossterm), built as the Elm architecture:
//! - [`app::App`] is the state, [`app::Msg`] the inputs, [`app::update`] the pure transition (it may
//!   return a [`app::Cmd`] for the loop to carry out);
//! - [`view::view`] draws an `App` with no side effects; one module per pane under [`panes`];
//! - [`run`] is the only code here that touches the terminal or the engine.
//!
//! The loop waits (never polls) on four sources: engine events (drained in bounded bursts), terminal
//! events, a modest tick (for the clocks on screen) and SIGTERM/SIGINT. It redraws only when
//! something changed, at most once per [`MIN_FRAME`].

pub mod app;
pub mod keys;
pub mod panes;
pub mod theme;
pub mod view;

use std::time::{Duration, Instant};

use anyhow::Context as _;
use crossterm::event::{Event as TermEvent, EventStream};
use futures_util::StreamExt as _;
use ratatui::DefaultTerminal;
use tokio::sync::mpsc::error::TryRecvError;

use crate::analysis::Analysis;
use crate::engine::{EngineCommand, EngineHandle};

use app::{App, Cmd, Msg};
use theme::Theme;

/// Options of the TUI.
#[derive(Debug, Clone)]
pub struct TuiOptions {
    /// No colours (also implied by a non-empty `NO_COLOR`).
    pub no_color: bool,
    /// Redraw period when nothing happens (clocks, "selected for" durations).
    pub tick: std::time::Duration,
    /// Playing a recording: the clock is the recording's, and the replay keys work.
    pub replay: Option<app::ReplayState>,
    /// The theme (colours from the configuration file); `None`: the default.
    pub theme: Option<Theme>,
    /// Key bindings (rebound by the configuration file).
    pub keys: keys::KeyMap,
}

impl Default for TuiOptions {
    fn default() -> Self {
        TuiOptions {
            no_color: false,
            tick: Duration::from_millis(500),
            replay: None,
            theme: None,
            keys: keys::KeyMap::default(),
        }
    }
}

/// Engine events applied per burst before the screen is redrawn (bounded, so keys stay responsive).
pub const MAX_EVENTS_PER_FRAME: usize = 512;
/// Minimum time between two redraws.
pub const MIN_FRAME: Duration = Duration::from_millis(33);
/// How long to wait for `ended` after asking the engine to stop.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(3);

/// Restores the terminal when dropped (quit, error, early return); panics are covered by the
/// hook `ratatui::try_init` installs.
struct RestoreGuard;

impl Drop for RestoreGuard {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// Take over the terminal, run until the user quits or the engine stream ends, restore the terminal, return the final analysis (model, findings, outcome).
pub async fn run(handle: EngineHandle, opts: TuiOptions) -> anyhow::Result<Analysis> {
    let theme = opts
        .theme
        .unwrap_or_else(|| Theme::new(Theme::no_color_from_env(opts.no_color)));
    let mut terminal = ratatui::try_init().context("cannot take over the terminal")?;
    let guard = RestoreGuard;
    let mut app = App::new(theme);
    app.replay = opts.replay;
    app.note = opts.replay.map(|r| r.note());
    let result = run_loop(&mut terminal, handle, app, opts).await;
    drop(guard);
    result
}

/// The loop of [`run`], over any already initialised terminal.
async fn run_loop(
    terminal: &mut DefaultTerminal,
    mut handle: EngineHandle,
    mut app: App,
    opts: TuiOptions,
) -> anyhow::Result<Analysis> {
    let mut term_events = EventStream::new();
    let tick_period = opts.tick.max(Duration::from_millis(50));
    let mut tick = tokio::time::interval(tick_period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sigterm = Terminate::new()?;
    // Session time is anchored on the first engine event: t_ms of that event at that instant.
    let mut anchor: Option<(Instant, f64)> = None;
    let mut stop_deadline: Option<tokio::time::Instant> = None;
    let mut dirty = true;
    let mut last_draw: Option<Instant> = None;
    let mut engine_open = true;

    loop {
        if dirty && last_draw.is_none_or(|t| t.elapsed() >= MIN_FRAME) {
            terminal.draw(|f| view::view(&app, f))?;
            last_draw = Some(Instant::now());
            dirty = false;
        }
        let redraw_at = if dirty {
            last_draw.map(|t| tokio::time::Instant::from_std(t + MIN_FRAME))
        } else {
            None
        };
        let mut msgs: Vec<Msg> = Vec::new();

        tokio::select! {
            ev = handle.events.recv(), if engine_open => match ev {
                Some(first) => {
                    if anchor.is_none() {
                        anchor = Some((Instant::now(), first.t_ms));
                    }
                    msgs.push(Msg::Engine(Box::new(first)));
                    // Drain a bounded burst without waiting.
                    while msgs.len() < MAX_EVENTS_PER_FRAME {
                        match handle.events.try_recv() {
                            Ok(e) => msgs.push(Msg::Engine(Box::new(e))),
                            Err(TryRecvError::Empty) => break,
                            Err(TryRecvError::Disconnected) => {
                                engine_open = false;
                                msgs.push(Msg::EngineClosed);
                                break;
                            }
                        }
                    }
                }
                None => {
                    engine_open = false;
                    msgs.push(Msg::EngineClosed);
                }
            },
            te = term_events.next() => match te {
                Some(Ok(TermEvent::Key(k))) => {
                    if let Some(m) = opts.keys.to_msg(k) {
                        msgs.push(m);
                    }
                }
                Some(Ok(TermEvent::Resize(..))) => dirty = true,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e).context("reading terminal events"),
                // The terminal input is gone: stop as if the user quit.
                None => msgs.push(Msg::Quit),
            },
            // A replay's clock is its recording's: the events move it, not the wall clock.
            _ = tick.tick(), if opts.replay.is_none() => {
                let now_ms = match anchor {
                    Some((at, t0)) => t0 + at.elapsed().as_secs_f64() * 1000.0,
                    None => 0.0,
                };
                msgs.push(Msg::Tick { now_ms });
            }
            _ = sigterm.recv() => msgs.push(Msg::Quit),
            _ = tokio::signal::ctrl_c() => msgs.push(Msg::Quit),
            _ = sleep_until_opt(stop_deadline) => return Ok(app.analysis),
            _ = sleep_until_opt(redraw_at) => {}
        }

        for m in msgs {
            dirty = true;
            match app::update(&mut app, m) {
                None => {}
                Some(Cmd::Exit) => return Ok(app.analysis),
                Some(Cmd::Engine(c)) => {
                    // The engine may already be gone; then there is nothing to stop or restart.
                    let sent = send_command(&handle, c).await;
                    if c == EngineCommand::Stop {
                        if !sent || !engine_open {
                            return Ok(app.analysis);
                        }
                        stop_deadline = Some(tokio::time::Instant::now() + STOP_TIMEOUT);
                    }
                }
            }
        }
    }
}

/// Send a command without blocking the UI for long; false when the engine is gone.
async fn send_command(handle: &EngineHandle, c: EngineCommand) -> bool {
    use tokio::sync::mpsc::error::TrySendError;
    match handle.commands.try_send(c) {
        Ok(()) => true,
        Err(TrySendError::Closed(_)) => false,
        Err(TrySendError::Full(_)) => {
            tokio::time::timeout(Duration::from_secs(1), handle.commands.send(c))
                .await
                .is_ok_and(|r| r.is_ok())
        }
    }
}

/// SIGTERM, where the platform has it.
struct Terminate {
    #[cfg(unix)]
    sig: tokio::signal::unix::Signal,
}

impl Terminate {
    fn new() -> anyhow::Result<Self> {
        Ok(Terminate {
            #[cfg(unix)]
            sig: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .context("cannot listen for SIGTERM")?,
        })
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        if self.sig.recv().await.is_some() {
            return;
        }
        std::future::pending::<()>().await;
    }
}

async fn sleep_until_opt(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
