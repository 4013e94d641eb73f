//! Logging setup: `tracing` to a file (never to the terminal the TUI draws on), the `log` records of
//! webrtc-rs bridged into it, and the stack's warnings forwarded to the engine as events.

use std::path::Path;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::engine::stack_log::StackLogLayer;

/// Install the process-wide subscriber: a file log when `file` is given (filter `level`, EnvFilter
/// syntax), and always the stack-warning layer. Call once, early in `main`.
pub fn init(file: Option<&Path>, level: &str) -> anyhow::Result<()> {
    let file_layer = match file {
        Some(path) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| anyhow::anyhow!("--log-file {}: {e}", path.display()))?;
            let filter = EnvFilter::try_new(level)
                .map_err(|e| anyhow::anyhow!("--log-level {level}: {e}"))?;
            Some(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(std::sync::Mutex::new(f))
                    .with_filter(filter),
            )
        }
        None => None,
    };
    tracing_subscriber::registry()
        .with(file_layer)
        .with(StackLogLayer.with_filter(LevelFilter::WARN))
        .try_init()
        .map_err(|e| anyhow::anyhow!("logging: {e}"))
}
