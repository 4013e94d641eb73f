//! The built-in WebRTC sender (`rtcscope serve`).
