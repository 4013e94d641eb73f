//! The application: [`run`] dispatches to the viewer (TUI or headless), `serve` or `demo`.

use std::io::IsTerminal;

use anyhow::Context;
use tokio::sync::mpsc;

use crate::cli::{Cli, Command, ReportFormat, ViewerOptions};
use crate::engine::{Engine, EngineCommand, EngineHandle};
use crate::event::{Event, MessageKind, Stamped, StateKind};
use crate::report::{self, ReportBuilder};

mod probe_command;

/// How a run ended; `main` maps it to the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Media flowed (exit 0).
    MediaFlowed,
    /// A command with nothing to judge ended normally (`serve`) (exit 0).
    Done,
    /// Signaling never reached the answer (exit 3).
    SignalingFailed,
    /// Answer received, ICE never connected (exit 4).
    IceFailed,
    /// ICE connected, but DTLS (and so the peer connection) never did (exit 5).
    DtlsFailed,
    /// Connected but no media arrived (exit 6).
    NoMedia,
    /// `probe`: at least one ICE server failed (exit 7).
    ProbeFailed,
}

impl Outcome {
    /// The process exit code.
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::MediaFlowed | Outcome::Done => 0,
            Outcome::SignalingFailed => 3,
            Outcome::IceFailed => 4,
            Outcome::DtlsFailed => 5,
            Outcome::NoMedia => 6,
            Outcome::ProbeFailed => 7,
        }
    }
}

/// How far a session got, folded from its events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// An answer was received (WebSocket message, or a WHEP 2xx with the answer / 406 counter-offer).
    pub answered: bool,
    /// ICE reached `connected` (or `completed`).
    pub ice_connected: bool,
    /// The peer connection reached `connected` (DTLS included).
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
            Event::HttpResponse {
                kind: MessageKind::Answer,
                status: 200..=299,
                ..
            }
            | Event::HttpResponse {
                kind: MessageKind::Offer,
                status: 406,
                ..
            } => self.answered = true,
            Event::StateChanged {
                kind: StateKind::IceConnection,
                state,
            } if state == "connected" || state == "completed" => self.ice_connected = true,
            Event::StateChanged {
                kind: StateKind::PeerConnection,
                state,
            } if state == "connected" => {
                self.connected = true;
                self.ice_connected = true;
            }
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
        } else if self.ice_connected {
            Outcome::DtlsFailed
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
            crate::serve::run(args.listen, args.sender.into()).await?;
            Ok(Outcome::Done)
        }
        Some(Command::Probe(args)) => probe_command::run(args).await,
        Some(Command::Demo(args)) => {
            let listen = "127.0.0.1:0".parse().context("demo listen address")?;
            let server = crate::serve::start(listen, args.sender.clone().into())
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

/// Run the viewer against `url`: the TUI on a terminal, NDJSON otherwise; with `--report`, the report
/// at the end (and no NDJSON on stdout); with `--events FILE`, every event to that file too.
/// `stack_warnings`: report the WebRTC stack's logged warnings (only when this process runs nothing else).
pub async fn view(
    url: &str,
    opts: &ViewerOptions,
    stack_warnings: bool,
) -> anyhow::Result<Outcome> {
    let mut cfg = crate::config::engine_config(url, opts)?;
    cfg.stack_warnings = stack_warnings;
    let events_file = match &opts.events {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("--events {}: cannot create the file", path.display()))?,
        )),
        None => None,
    };
    let handle = Engine::spawn(cfg);
    let headless = opts.headless || !std::io::stdout().is_terminal();
    if headless {
        run_headless_with(
            handle,
            HeadlessOutput {
                ndjson_stdout: opts.report.is_none(),
                events_file,
                report: opts.report,
            },
        )
        .await
    } else {
        let (handle, tap) = tap_events(handle, events_file);
        crate::tui::run(
            handle,
            crate::tui::TuiOptions {
                no_color: opts.no_color,
                tick: std::time::Duration::from_millis(250),
            },
        )
        .await?;
        let (outcome, report) = match tap.lock() {
            Ok(b) => (
                b.outcome(),
                opts.report.map(|f| report::render(&b.build(), f)),
            ),
            Err(_) => (Progress::default().outcome(), None),
        };
        if let Some(text) = report {
            print_report(&text);
        }
        Ok(outcome)
    }
}

/// Print a rendered report on stdout (a closed stdout is not an error worth more than the exit code).
fn print_report(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Interpose on an engine's event stream: fold every event into a [`ReportBuilder`] (progress,
/// diagnosis, report) and write it to the `--events` file, on the way through to the TUI.
fn tap_events(
    mut handle: EngineHandle,
    mut events_file: Option<std::io::BufWriter<std::fs::File>>,
) -> (
    EngineHandle,
    std::sync::Arc<std::sync::Mutex<ReportBuilder>>,
) {
    let builder = std::sync::Arc::new(std::sync::Mutex::new(ReportBuilder::new()));
    let (tx, rx) = mpsc::channel(4096);
    let b = builder.clone();
    tokio::spawn(async move {
        while let Some(ev) = handle.events.recv().await {
            if let Ok(mut b) = b.lock() {
                b.observe(&ev);
            }
            if let Some(f) = events_file.as_mut()
                && report::ndjson::write_event(f, &ev).is_err()
            {
                events_file = None;
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
        builder,
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

/// Where headless mode writes.
#[derive(Debug, Default)]
pub struct HeadlessOutput {
    /// Every event as NDJSON on stdout (off when a report is printed instead).
    pub ndjson_stdout: bool,
    /// Every event as NDJSON to this file (`--events`).
    pub events_file: Option<std::io::BufWriter<std::fs::File>>,
    /// The report to print on stdout when the stream ends (`--report`).
    pub report: Option<ReportFormat>,
}

/// Headless: every event as NDJSON on stdout until the stream ends.
pub async fn run_headless(handle: EngineHandle) -> anyhow::Result<Outcome> {
    run_headless_with(
        handle,
        HeadlessOutput {
            ndjson_stdout: true,
            ..Default::default()
        },
    )
    .await
}

/// Headless with the outputs of `out`: NDJSON on stdout and/or to a file while the session runs, and
/// the report at the end (the engine always ends with `ended`, also on Ctrl-C and SIGTERM).
pub async fn run_headless_with(
    mut handle: EngineHandle,
    mut out: HeadlessOutput,
) -> anyhow::Result<Outcome> {
    let signals = spawn_signal_forwarder(handle.commands.clone());
    let mut builder = ReportBuilder::new();
    let mut stopping = false;
    while let Some(ev) = handle.events.recv().await {
        builder.observe(&ev);
        if out.ndjson_stdout
            && report::ndjson::write_event(&mut std::io::stdout().lock(), &ev).is_err()
            && !stopping
        {
            // stdout closed (e.g. `| head`): stop cleanly, keep draining.
            stopping = true;
            let _ = handle.commands.send(EngineCommand::Stop).await;
        }
        if let Some(f) = out.events_file.as_mut()
            && report::ndjson::write_event(f, &ev).is_err()
        {
            eprintln!("rtcscope: --events: cannot write the file; events are no longer saved");
            out.events_file = None;
        }
    }
    signals.abort();
    if let Some(format) = out.report {
        print_report(&report::render(&builder.build(), format));
    }
    Ok(builder.outcome())
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
        let p = |answered, ice_connected, connected, media| Progress {
            answered,
            ice_connected,
            connected,
            media,
        };
        let table = [
            (Progress::default(), 3),
            (p(true, false, false, false), 4),
            (p(true, true, false, false), 5),
            (p(true, true, true, false), 6),
            (p(true, true, true, true), 0),
        ];
        for (p, code) in table {
            assert_eq!(p.outcome().exit_code(), code, "{p:?}");
        }
        assert_eq!(Outcome::ProbeFailed.exit_code(), 7);
    }

    #[test]
    fn progress_from_events() {
        let mut p = Progress::default();
        p.observe(&Event::HttpResponse {
            id: 2,
            method: "POST".into(),
            status: 201,
            reason: "Created".into(),
            headers: vec![],
            kind: MessageKind::Answer,
            size: 3,
            body: "v=0".into(),
            truncated: false,
            elapsed_ms: 1.0,
        });
        assert_eq!(p.outcome(), Outcome::IceFailed, "a WHEP 201 is the answer");
        p.observe(&Event::StateChanged {
            kind: StateKind::IceConnection,
            state: "connected".into(),
        });
        assert_eq!(p.outcome(), Outcome::DtlsFailed);
        p.observe(&Event::StateChanged {
            kind: StateKind::PeerConnection,
            state: "connected".into(),
        });
        assert_eq!(p.outcome(), Outcome::NoMedia);
    }
}
