//! The application: [`run`] dispatches to the viewer (TUI or headless), `serve` or `demo`.

use std::io::IsTerminal;

use anyhow::Context;
use tokio::sync::mpsc;

use crate::analysis::{Analysis, Outcome};
use crate::cli::{Cli, Command, ReportFormat, ViewerOptions};
use crate::engine::{Engine, EngineCommand, EngineHandle};
use crate::event::Stamped;
use crate::report;

mod probe_command;

/// Run the application for parsed arguments.
pub async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Some(Command::Serve(args)) => {
            let mut opts: crate::serve::ServeOptions = args.sender.into();
            opts.limits = args.limits.into();
            crate::serve::run(args.listen, opts).await?;
            Ok(Outcome::Done)
        }
        Some(Command::Probe(args)) => probe_command::run(args).await,
        Some(Command::Replay(args)) => replay(args, &cli.settings).await,
        Some(Command::Exporter(args)) => {
            let mut base_args = Vec::new();
            if args.insecure {
                base_args.push("--insecure".to_owned());
            }
            if args.no_probe {
                base_args.push("--no-probe".to_owned());
            }
            for b in &args.bind {
                base_args.push("--bind".to_owned());
                base_args.push(b.to_string());
            }
            if let Some(p) = &args.ca_file {
                base_args.push("--ca-file".to_owned());
                base_args.push(p.to_string_lossy().into_owned());
            }
            let opts = crate::exporter::ExporterOptions {
                allow: args.allow,
                allow_any: args.allow_any_target,
                max_concurrent: args.max_concurrent as usize,
                default_duration: args.probe_duration,
                base_args,
                modules: cli.settings.modules.clone(),
                ..Default::default()
            };
            crate::exporter::run(args.listen, opts).await?;
            Ok(Outcome::Done)
        }
        Some(Command::Redact(args)) => redact(&args),
        Some(Command::Completions(args)) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_complete::generate(args.shell, &mut cmd, "rtcscope", &mut buf);
            write_stdout(&buf)?;
            Ok(Outcome::Done)
        }
        Some(Command::Man) => {
            let cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut buf)
                .context("rendering the manual page")?;
            write_stdout(&buf)?;
            Ok(Outcome::Done)
        }
        Some(Command::Demo(args)) => {
            let listen = "127.0.0.1:0".parse().context("demo listen address")?;
            let server = crate::serve::start(listen, args.sender.clone().into())
                .await
                .context("starting the built-in sender")?;
            let url = server.ws_url("demo");
            // The sender runs in this process too: its stack warnings would be mixed with the viewer's.
            let result = view(&url, &args.viewer, false, &cli.settings).await;
            server.shutdown().await;
            result
        }
        None => {
            let url = cli.view.url.context("a URL is required (see --help)")?;
            view(&url, &cli.view.viewer, true, &cli.settings).await
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
    settings: &crate::settings::Settings,
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
        let handle = match events_file {
            Some(f) => tap_events(handle, f),
            None => handle,
        };
        let (theme, keys) = tui_look(opts.no_color, settings)?;
        let analysis = crate::tui::run(
            handle,
            crate::tui::TuiOptions {
                no_color: opts.no_color,
                tick: std::time::Duration::from_millis(250),
                replay: None,
                theme: Some(theme),
                keys,
            },
        )
        .await?;
        if let Some(f) = opts.report {
            print_report(&report::render(&report::build(&analysis), f));
        }
        Ok(analysis.outcome())
    }
}

/// Read a recording: the file, then its events (a newer schema refused by name).
fn read_recording(path: &std::path::Path) -> anyhow::Result<Vec<Stamped>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the recording", path.display()))?;
    crate::recording::parse(&text).with_context(|| format!("{}", path.display()))
}

/// `rtcscope replay`: the report of a recording, or the TUI playing it.
async fn replay(
    args: crate::cli::ReplayArgs,
    settings: &crate::settings::Settings,
) -> anyhow::Result<Outcome> {
    let events = read_recording(&args.file)?;
    if !(args.speed.is_finite() && args.speed > 0.0) {
        anyhow::bail!("--speed must be a positive number, got {}", args.speed);
    }
    let headless = !std::io::stdout().is_terminal();
    if args.report.is_some() || headless {
        let mut analysis = Analysis::new();
        for ev in &events {
            analysis.apply(ev);
        }
        let format = args.report.unwrap_or(ReportFormat::Text);
        print_report(&report::render(&report::build(&analysis), format));
        return Ok(analysis.outcome());
    }
    let speed = args.speed.clamp(
        crate::engine::replay::MIN_SPEED,
        crate::engine::replay::MAX_SPEED,
    );
    let (theme, keys) = tui_look(args.no_color, settings)?;
    let handle = crate::engine::replay::spawn(events, speed, args.paused);
    let analysis = crate::tui::run(
        handle,
        crate::tui::TuiOptions {
            no_color: args.no_color,
            tick: std::time::Duration::from_millis(250),
            replay: Some(crate::tui::app::ReplayState {
                paused: args.paused,
                speed,
            }),
            theme: Some(theme),
            keys,
        },
    )
    .await?;
    Ok(analysis.outcome())
}

/// `rtcscope redact`: the recording with secrets masked and addresses replaced.
fn redact(args: &crate::cli::RedactArgs) -> anyhow::Result<Outcome> {
    let events = read_recording(&args.file)?;
    let mut redactor = crate::recording::Redactor::new();
    let mut out: Box<dyn std::io::Write> = match &args.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("{}: cannot create", p.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    for ev in &events {
        match report::ndjson::write_event(&mut out, &redactor.redact(ev)) {
            Ok(()) => {}
            // `| head`: the reader has what it wanted.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(Outcome::Done),
            Err(e) => return Err(e).context("writing the redacted recording"),
        }
    }
    Ok(Outcome::Done)
}

/// Write to stdout; a reader that went away (`| head`) is not an error.
fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(e).context("writing to stdout"),
    }
}

/// The TUI's theme and key bindings, from the configuration file (a bad entry is a usage error).
fn tui_look(
    no_color: bool,
    settings: &crate::settings::Settings,
) -> anyhow::Result<(crate::tui::theme::Theme, crate::tui::keys::KeyMap)> {
    use crate::tui::theme::Theme;
    let theme = Theme::new(Theme::no_color_from_env(no_color))
        .with_colours(&settings.theme)
        .map_err(|e| crate::config::UsageError(format!("config file: {e}")))?;
    let keys = crate::tui::keys::KeyMap::new(&settings.keys)
        .map_err(|e| crate::config::UsageError(format!("config file: {e}")))?;
    Ok((theme, keys))
}

/// Print a rendered report on stdout (a closed stdout is not an error worth more than the exit code).
fn print_report(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Interpose on an engine's event stream: write every event to the `--events` file on the way
/// through to the TUI (which folds them into its [`Analysis`]).
fn tap_events(
    mut handle: EngineHandle,
    events_file: std::io::BufWriter<std::fs::File>,
) -> EngineHandle {
    let (tx, rx) = crate::engine::event_channel::channel();
    tokio::spawn(async move {
        let mut events_file = Some(events_file);
        while let Some(ev) = handle.events.recv().await {
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
    EngineHandle {
        events: rx,
        commands: handle.commands,
    }
}

/// Forward Ctrl-C and SIGTERM to the engine as `Stop`, so the session ends cleanly with its report.
/// A second Ctrl-C (or SIGTERM) while that clean stop is under way ends the process at once with
/// exit code 130, as a shell user expects of a command that is stuck.
fn spawn_signal_forwarder(commands: mpsc::Sender<EngineCommand>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        #[cfg(not(unix))]
        let mut term: Option<()> = None;
        interrupted(&mut term).await;
        let _ = commands.send(EngineCommand::Stop).await;
        // Once a handler is installed the default disposition is gone for good: honour the second
        // interruption here.
        interrupted(&mut term).await;
        // Not a word to stdout: a wedged run may be blocked on it, holding its lock.
        eprintln!("rtcscope: interrupted again; exiting without waiting for the clean stop");
        std::process::exit(130);
    })
}

/// The next Ctrl-C or SIGTERM (each call waits for a new one).
#[cfg(unix)]
async fn interrupted(term: &mut Option<tokio::signal::unix::Signal>) {
    let sigterm = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = sigterm => {}
    }
}

/// The next Ctrl-C.
#[cfg(not(unix))]
async fn interrupted(_: &mut Option<()>) {
    let _ = tokio::signal::ctrl_c().await;
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
    let mut analysis = Analysis::new();
    let mut stopping = false;
    while let Some(ev) = handle.events.recv().await {
        analysis.apply(&ev);
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
        print_report(&report::render(&report::build(&analysis), format));
    }
    Ok(analysis.outcome())
}

/// Collect a whole session's events (for tests and reports): runs until the engine ends.
pub async fn collect(mut handle: EngineHandle) -> Vec<Stamped> {
    let mut out = Vec::new();
    while let Some(ev) = handle.events.recv().await {
        out.push(ev);
    }
    out
}
