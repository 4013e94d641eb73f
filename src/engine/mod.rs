//! The engine: the only code that touches sockets, webrtc-rs (via [`crate::webrtc_adapter`]) and the clock.
//!
//! [`Engine::spawn`] starts one owning tokio task that drives the [`crate::session`] state machine,
//! the signaling connection and the peer connection, and returns an [`EngineHandle`]: a receiver of
//! [`Stamped`] events (bounded; the engine waits rather than drop) and a command sender.

use tokio::sync::mpsc;

use crate::event::Stamped;

/// Commands a consumer (TUI, signal handler) can send to a running engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineCommand {
    /// Abandon the current attempt and start a new one now (restart cause `manual`).
    Restart,
    /// End the session cleanly (socket closed, peer connection closed), then emit `ended`.
    Stop,
}

/// The consumer's side of a running engine.
#[derive(Debug)]
pub struct EngineHandle {
    /// Events, in order. The stream ends after [`crate::event::Event::Ended`].
    pub events: mpsc::Receiver<Stamped>,
    /// Commands to the engine.
    pub commands: mpsc::Sender<EngineCommand>,
}
