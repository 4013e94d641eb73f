//! WebRTC-stack warnings as events. webrtc-rs reports some failures only in its log (a TURN allocation
//! refused, a STUN server that does not resolve, a socket that cannot be bound): a `tracing` layer picks
//! the WARN/ERROR records of the `webrtc*`/`rtc*` targets and hands them to the engines that subscribed.
//!
//! The log is process-wide and does not say which peer connection a record is about, so only a process
//! with a single viewer should subscribe (the plain viewer does; `demo`, which also runs a sender, does not).

use std::sync::{Mutex, OnceLock};

use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::layer::Context;

fn sinks() -> &'static Mutex<Vec<mpsc::UnboundedSender<String>>> {
    static SINKS: OnceLock<Mutex<Vec<mpsc::UnboundedSender<String>>>> = OnceLock::new();
    SINKS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Receive the stack's warnings from now on (nothing arrives unless [`StackLogLayer`] is installed).
pub fn subscribe() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    if let Ok(mut s) = sinks().lock() {
        s.push(tx);
    }
    rx
}

/// True for a log target of the WebRTC stack.
pub fn is_stack_target(target: &str) -> bool {
    ["webrtc", "rtc"].iter().any(|p| {
        target == *p
            || target.starts_with(&format!("{p}::"))
            || target.starts_with(&format!("{p}_"))
    })
}

/// Messages of the stack that report a real failure (the rest of what it logs at WARN is mostly
/// harmless races, such as a connectivity check arriving before the remote credentials).
const SIGNIFICANT: &[&str] = &[
    "TURN allocation failed",
    "TURN permission request failed",
    "TURN transaction timed out",
    "Failed to resolve STUN server",
    "Failed to bind",
    "Skipping unsupported",
    "Skipping malformed",
    "Skipping UDP bind",
    "Skipping TCP bind",
    "Network is unreachable",
    "Failed to rebind",
    "failed to build relay candidate",
    "Failed to gather",
];

/// True when a stack log line reports a real failure (shown as a warning rather than information).
pub fn is_significant(line: &str) -> bool {
    SIGNIFICANT.iter().any(|p| line.contains(p))
}

/// The `tracing` layer forwarding WARN and ERROR records of the WebRTC stack to subscribers.
#[derive(Debug, Default, Clone, Copy)]
pub struct StackLogLayer;

struct MessageVisitor(String);

impl Visit for MessageVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = value.to_owned();
        }
    }
}

impl<S: Subscriber> tracing_subscriber::Layer<S> for StackLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        if *meta.level() > Level::WARN || !is_stack_target(meta.target()) {
            return;
        }
        let mut v = MessageVisitor(String::new());
        event.record(&mut v);
        if v.0.is_empty() {
            return;
        }
        let module = meta.target().rsplit("::").next().unwrap_or(meta.target());
        let line = format!("{} {module}: {}", meta.level(), v.0);
        if let Ok(mut s) = sinks().lock() {
            s.retain(|tx| tx.send(line.clone()).is_ok());
        }
    }
}

/// How long "no candidate pairs" may last before it is worth a warning.
const NO_PAIRS_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

impl super::Driver {
    /// A warning logged by the WebRTC stack: reported once per attempt per distinct text (a dead network
    /// makes it log the same line for every packet).
    pub(super) async fn on_stack_log(&mut self, line: String) {
        let now = self.now();
        let Some(a) = self.attempt.as_mut() else {
            return;
        };
        // The stack names a TURN bridge where the user configured a TURN/TCP or TLS URL: show that URL.
        let line = match a.peer.as_ref() {
            Some(p) => p.unbridge(&line),
            None => line,
        };
        // At the start of checking the agent logs this once or twice before the remote candidates are
        // in: only a condition that lasts is worth a warning (e.g. every candidate was unusable).
        if line.contains("pingAllCandidates called with no candidate pairs") {
            let first = *a.no_pairs_since.get_or_insert(now);
            if now.saturating_sub(first) < NO_PAIRS_GRACE || a.no_pairs_reported {
                return;
            }
            a.no_pairs_reported = true;
            let message = format!(
                "ICE has had no candidate pair to check for {}: no usable local/remote candidate combination ({line})",
                humantime::format_duration(std::time::Duration::from_secs(
                    now.saturating_sub(first).as_secs()
                ))
            );
            self.emit(crate::event::Event::Warning {
                source: crate::event::ErrorSource::Stack,
                message,
            })
            .await;
            return;
        }
        let key = line
            .chars()
            .filter(|c| !c.is_ascii_digit())
            .collect::<String>();
        let n = a.stack_seen.entry(key).or_insert(0);
        *n += 1;
        if *n > 1 {
            return;
        }
        // webrtc-rs also logs harmless races at WARN (a check that arrives before the remote
        // credentials): only known failure messages are warnings, the rest is information.
        let event = if is_significant(&line) {
            crate::event::Event::Warning {
                source: crate::event::ErrorSource::Stack,
                message: line,
            }
        } else {
            crate::event::Event::Info {
                source: crate::event::ErrorSource::Stack,
                message: line,
            }
        };
        self.emit(event).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_targets() {
        assert!(is_stack_target(
            "webrtc::peer_connection::transport::turn_relayer"
        ));
        assert!(is_stack_target("rtc_ice::agent"));
        assert!(is_stack_target("rtc"));
        assert!(!is_stack_target("rtcscope::engine"));
        assert!(!is_stack_target("tokio"));
    }

    #[test]
    fn significance() {
        assert!(is_significant(
            "ERROR turn_relayer: TURN allocation failed from 127.0.0.1:1 to 127.0.0.1:2: Allocate error response (error 401: Unauthorized)"
        ));
        assert!(!is_significant(
            "WARN handler: IceHandler.handle_read got error: password is empty"
        ));
    }
}
