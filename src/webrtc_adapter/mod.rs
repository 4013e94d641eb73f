//! The one module that calls webrtc-rs (`webrtc` and `rtc`, both pinned to `=0.21.1`). Every other module
//! goes through it, so an API change of the young crate touches only this folder.
//!
//! Known gaps of 0.21.1 handled here (the README's "webrtc-rs 0.21.1: known gaps" section lists them all):
//! - candidate priority in stats is a `u16`: priorities are taken from the candidate *events* and looked up
//!   by address and port;
//! - no DTLS-state, selected-pair-change or ICE-error events: the viewer polls stats;
//! - jitter in inbound-rtp stats is in RTP clock units: converted with the codec clock rate;
//! - no new local candidates after an ICE restart unless local candidates are discarded: that setting is on;
//! - a NACK/RTX storm under loss when RTX is negotiated: the viewer caps NACKs per packet (see [`viewer`]);
//! - TURN over TCP and TLS is skipped by the stack: a local bridge per such URL carries it (`turn_bridge`),
//!   and relay candidates get their real URL and relay protocol back (the stack leaves it unspecified).

/// ICE check pacing, as RFC 8445 (Ta = 50 ms) and browsers: a check round every 50 ms while checking
/// instead of webrtc-rs's 200 ms. The controlling side nominates on the round after a pair succeeded, so
/// this is also what DTLS waits for after ICE (the controlled side starts DTLS once nominated).
pub const ICE_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_millis(50);
/// Checks per pair before it fails without a response: with [`ICE_CHECK_INTERVAL`] a pair fails after
/// 32 × 50 ms = 1.6 s, as with webrtc-rs's defaults (8 × 200 ms).
pub const ICE_MAX_BINDING_REQUESTS: u16 = 31;

pub mod interfaces;
pub mod keyframe;
pub mod recv_buffer;
pub mod send_counting;
pub mod sender;
pub mod stun_turn;
pub mod udp_runtime;
pub mod viewer;

mod codecs;
mod convert;
mod turn_bridge;

/// An error from the WebRTC stack, as text (the stack's own error types stay inside this module).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdapterError {
    /// Building the peer connection failed (bad ICE server URL, relay policy without TURN, socket bind…).
    #[error("could not build the peer connection: {0}")]
    Build(String),
    /// Creating or applying a session description failed.
    #[error("{0}")]
    Sdp(String),
    /// A remote ICE candidate was rejected by the stack.
    #[error("candidate rejected: {0}")]
    Candidate(String),
}

/// An ICE server handed to a peer connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceServerConfig {
    /// Its URLs.
    pub urls: Vec<String>,
    /// TURN username.
    pub username: Option<String>,
    /// TURN credential.
    pub credential: Option<String>,
}

/// ICE timers (webrtc-rs defaults: 5 s, 25 s, 2 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IceTimeouts {
    /// Time without a STUN response before `disconnected`.
    pub disconnected: std::time::Duration,
    /// Further time before `failed`.
    pub failed: std::time::Duration,
    /// Keep-alive (consent) interval.
    pub keepalive: std::time::Duration,
}
