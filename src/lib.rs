//! rtcscope: a terminal UI for WebRTC connection diagnostics.
//!
//! The crate is laid out as trippy and oha are:
//! - [`engine`] is the only code that touches sockets, webrtc-rs (through [`webrtc_adapter`]) or the clock.
//!   It emits one ordered, timestamped stream of [`event::Stamped`] events.
//! - [`session`] is the sans-IO negotiation/restart state machine the engine drives.
//! - [`signaling`] holds one sans-IO signaling client per protocol (WebSocket reader, WHEP) the engine drives.
//! - [`proto`] holds the pure parsers and writers of the signaling protocols; [`checklist`] turns
//!   successive polls of the ICE checklist into events (sans-IO).
//! - [`analysis`] is the one pure fold of the stream (`Analysis::apply`): it holds the [`model`] (the
//!   reducer, `Model::apply`), and gives the [`diagnosis`] (rules read the model) and the [`Outcome`]
//!   (the exit code). [`tui`], headless mode and [`report`] all read it.
//! - [`serve`] is the built-in sender used by `rtcscope serve`, `rtcscope demo` and the tests.
//!
//! `main.rs` is a thin shell over [`run`].

pub mod analysis;
pub mod app;
pub mod checklist;
pub mod cli;
pub mod config;
pub mod diagnosis;
pub mod engine;
pub mod event;
pub mod exporter;
pub mod format;
pub mod logging;
pub mod model;
pub mod probe;
pub mod proto;
pub mod recording;
pub mod report;
pub mod sanitize;
pub mod secrets;
pub mod serve;
pub mod session;
pub mod settings;
pub mod signaling;
pub mod tls;
pub mod tui;
pub mod webrtc_adapter;

pub use analysis::Outcome;
pub use app::run;

// The unit tests share the integration tests' event builders (one file, never in the release build);
// the file names the crate `rtcscope`, as the integration tests do.
#[cfg(test)]
extern crate self as rtcscope;
#[cfg(test)]
#[path = "../tests/it/support/events.rs"]
pub(crate) mod test_events;
