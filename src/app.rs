//! The application: `run` dispatches to the viewer (TUI or headless), `serve` or `demo`.

/// How a run ended, mapped to the process exit code by `main`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Media flowed (exit 0).
    MediaFlowed,
    /// Nothing to report (serve ended) (exit 0).
    Done,
    /// Signaling never reached the answer (exit 3).
    SignalingFailed,
    /// Answer received, never connected (exit 4).
    IceFailed,
    /// Connected but no media (exit 5).
    NoMedia,
}

/// Run the application for parsed arguments.
pub async fn run(_cli: crate::cli::Cli) -> anyhow::Result<Outcome> {
    Ok(Outcome::Done)
}
