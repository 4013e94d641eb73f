//! The one module that calls webrtc-rs (`webrtc` and `rtc` 0.21.1). Every other module goes through it,
//! so an API change of the young crate touches only this folder.

pub mod sender;
