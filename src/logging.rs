//! Logging setup: `tracing` to a file (never to the terminal the TUI draws on), the `log` records of
//! webrtc-rs bridged into it, and the stack's warnings forwarded to the engine as events.

use std::path::Path;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::engine::stack_log::StackLogLayer;

/// A log writer that masks secrets (`crate::secrets::mask_text`) in every record before it reaches
/// the file: at trace level the HTTP and WebSocket libraries log request headers, and a log file is
/// pasted into tickets as readily as the event stream. The fmt layer writes one whole record per
/// call, so a secret never straddles two writes.
struct Masked<W>(W);

impl<W: std::io::Write> std::io::Write for Masked<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0
            .write_all(crate::secrets::mask_text(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

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
                    .with_writer(std::sync::Mutex::new(Masked(f)))
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

#[cfg(test)]
mod tests {
    use std::io::Write;

    #[test]
    fn the_log_file_never_receives_a_credential() {
        let mut w = super::Masked(Vec::new());
        w.write_all(b"TRACE request headers: {\"authorization\": \"Bearer tok\", \"cookie\": \"sid=1\"}\nAuthorization: Basic dXNlcjpwYXNz\n")
            .expect("write");
        let out = String::from_utf8(w.0).expect("utf8");
        assert!(!out.contains("tok\""), "{out}");
        assert!(!out.contains("sid=1"), "{out}");
        assert!(!out.contains("dXNlcjpwYXNz"), "{out}");
        assert!(out.contains("Authorization: Basic ***"), "{out}");
    }
}
