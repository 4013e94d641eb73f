//! Pure parsers and writers for the signaling protocols: no I/O, no clock.
//!
//! - [`candidate`]: ICE candidate attributes (parse, format, priority decoding).
//! - [`ws`]: the legacy MediaMTX / rtsp-simple-server WebSocket reader protocol.
//! - [`ice_server`]: STUN/TURN server URLs, what webrtc-rs can use, and masking for display.

pub mod candidate;
pub mod ice_server;
pub mod ws;
