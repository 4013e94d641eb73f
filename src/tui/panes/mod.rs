//! One module per pane; each renders from a [`super::view::Ctx`] into a buffer area, with no side effects.

pub mod candidates;
pub mod detail;
pub mod events;
pub mod findings;
pub mod pairs;
pub mod restarts;
pub mod signaling;
pub mod status;
pub mod tracks;
