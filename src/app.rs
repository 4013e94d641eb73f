//! The application: [`run`] dispatches to the viewer (TUI or headless), `serve` or `demo`.

use std::io::IsTerminal;

use anyhow::Context;
use tokio::sync::mpsc;

use crate::cli::{Cli, Command, ViewerOptions};
use crate::engine::{Engine, EngineCommand, EngineHandle};
use crate::event::{Event, MessageKind, Stamped, StateKind};

/// How a run ended; `main` maps it to the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Media flowed (exit 0).
    MediaFlowed,
    /// A command with nothing to judge ended normally (`serve`) (exit 0).
    Done,
    /// Signaling never reached the answer (exit 3).
    SignalingFailed,
    /// Answer received, never connected (exit 4).
    IceFailed,
    /// Connected but no media arrived (exit 5).
    NoMedia,
    /// `probe`: at least one ICE server failed (exit 6).
    ProbeFailed,
}

impl Outcome {
    /// The process exit code.
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::MediaFlowed | Outcome::Done => 0,
            Outcome::SignalingFailed => 3,
            Outcome::IceFailed => 4,
            Outcome::NoMedia => 5,
            Outcome::ProbeFailed => 6,
        }
    }
}

/// How far a session got, folded from its events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// An answer was received.
    pub answered: bool,
    /// The peer connection reached `connected`.
    pub connected: bool,
    /// RTP arrived.
    pub media: bool,
}

impl Progress {
    /// Account for one event.
    pub fn observe(&mut self, ev: &Event) {
        match ev {
            Event::MessageReceived {
                kind: MessageKind::Answer,
                ..
            } => self.answered = true,
            Event::StateChanged {
                kind: StateKind::PeerConnection,
                state,
            } if state == "connected" => self.connected = true,
            Event::FirstMedia { .. } => self.media = true,
            _ => {}
        }
    }

    /// The outcome this progress means.
    pub fn outcome(self) -> Outcome {
        if self.media {
            Outcome::MediaFlowed
        } else if self.connected {
            Outcome::NoMedia
        } else if self.answered {
            Outcome::IceFailed
        } else {
            Outcome::SignalingFailed
        }
    }
}

/// Run the application for parsed arguments.
pub async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Some(Command::Serve(args)) => {
            crate::serve::run(args).await?;
            Ok(Outcome::Done)
        }
        Some(Command::Probe(args)) => crate::probe::run(args).await,
        Some(Command::Demo(args)) => {
            let listen = "127.0.0.1:0".parse().context("demo listen address")?;
            let server = crate::serve::start(listen, args.sender.clone())
                .await
                .context("starting the built-in sender")?;
            let url = server.ws_url("demo");
            // The sender runs in this process too: its stack warnings would be mixed with the viewer's.
            let result = view(&url, &args.viewer, false).await;
            server.shutdown().await;
            result
        }
        None => {
            let url = cli.view.url.context("a URL is required (see --help)")?;
            view(&url, &cli.view.viewer, true).await
        }
    }
}

/// Run the viewer against `url`: the TUI on a terminal, NDJSON otherwise.
/// `stack_warnings`: report the WebRTC stack's logged warnings (only when this process runs nothing else).
pub async fn view(
    url: &str,
    opts: &ViewerOptions,
    stack_warnings: bool,
) -> anyhow::Result<Outcome> {
    let mut cfg = crate::config::engine_config(url, opts)?;
    cfg.stack_warnings = stack_warnings;
    let handle = Engine::spawn(cfg);
    let headless = opts.headless || !std::io::stdout().is_terminal();
    if headless {
        run_headless(handle).await
    } else {
        let (handle, progress) = tap_progress(handle);
        crate::tui::run(
            handle,
            crate::tui::TuiOptions {
                no_color: opts.no_color,
                tick: std::time::Duration::from_millis(250),
            },
        )
        .await?;
        let p = progress.lock().map(|p| *p).unwrap_or_default();
        Ok(p.outcome())
    }
}

/// Interpose on an engine's event stream to fold the session's [`Progress`] on the way through.
fn tap_progress(
    mut handle: EngineHandle,
) -> (EngineHandle, std::sync::Arc<std::sync::Mutex<Progress>>) {
    let progress = std::sync::Arc::new(std::sync::Mutex::new(Progress::default()));
    let (tx, rx) = mpsc::channel(4096);
    let p = progress.clone();
    tokio::spawn(async move {
        while let Some(ev) = handle.events.recv().await {
            if let Ok(mut p) = p.lock() {
                p.observe(&ev.event);
            }
            if tx.send(ev).await.is_err() {
                break;
            }
        }
    });
    (
        EngineHandle {
            events: rx,
            commands: handle.commands,
        },
        progress,
    )
}

/// Forward Ctrl-C and SIGTERM to the engine as `Stop` (a second Ctrl-C is left to the default handler).
fn spawn_signal_forwarder(commands: mpsc::Sender<EngineCommand>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        #[cfg(unix)]
        let sigterm = async {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let sigterm = std::future::pending::<()>();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = sigterm => {}
        }
        let _ = commands.send(EngineCommand::Stop).await;
    })
}

/// Headless: every event as NDJSON on stdout until the stream ends.
pub async fn run_headless(mut handle: EngineHandle) -> anyhow::Result<Outcome> {
    let signals = spawn_signal_forwarder(handle.commands.clone());
    let mut progress = Progress::default();
    let mut stdout = std::io::stdout().lock();
    let mut stopping = false;
    while let Some(ev) = handle.events.recv().await {
        progress.observe(&ev.event);
        if crate::report::ndjson::write_event(&mut stdout, &ev).is_err() && !stopping {
            // stdout closed (e.g. `| head`): stop cleanly, keep draining.
            stopping = true;
            let _ = handle.commands.send(EngineCommand::Stop).await;
        }
    }
    signals.abort();
    Ok(progress.outcome())
}

/// Collect a whole session's events (for tests and reports): runs until the engine ends.
pub async fn collect(mut handle: EngineHandle) -> Vec<Stamped> {
    let mut out = Vec::new();
    while let Some(ev) = handle.events.recv().await {
        out.push(ev);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_follows_the_furthest_progress() {
        let table = [
            (Progress::default(), 3),
            (
                Progress {
                    answered: true,
                    ..Default::default()
                },
                4,
            ),
            (
                Progress {
                    answered: true,
                    connected: true,
                    media: false,
                },
                5,
            ),
            (
                Progress {
                    answered: true,
                    connected: true,
                    media: true,
                },
                0,
            ),
        ];
        for (p, code) in table {
            assert_eq!(p.outcome().exit_code(), code, "{p:?}");
        }
    }
}
