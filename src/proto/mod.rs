//! Pure parsers and writers for the signaling protocols: no I/O, no clock.
//!
//! - [`candidate`]: ICE candidate attributes (parse, format, priority decoding).
//! - [`ws`]: the legacy MediaMTX / rtsp-simple-server WebSocket reader protocol.
//! - [`ice_server`]: STUN/TURN server URLs, what webrtc-rs can use, and masking for display.
//! - [`whep`]: WHEP/WHIP over HTTP: Link ICE servers, trickle-ice-sdpfrag, Location, ETag,
//!   Retry-After, error bodies, deviations from the draft.

pub mod candidate;
pub mod ice_server;
pub mod whep;
pub mod ws;
