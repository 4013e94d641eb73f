//! What the integration tests share: the built-in sender and event helpers ([`common`]), the recorded
//! and live diagnosis cases ([`diagnosis`]) and the parsers' input mutator ([`mutate`]) and the event builders
//! ([`events`], also compiled into the library's unit tests).

pub mod common;
pub mod diagnosis;
pub mod events;
pub mod mutate;
