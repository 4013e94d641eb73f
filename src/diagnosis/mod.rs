//! Diagnosis: plain-language verdicts over the event stream.
//!
//! The rules are pure functions of the [`Model`]: it folds every event (including the evidence the
//! rules need: failures, notes, per-track progress, all capped), and [`evaluate`] reads it. There is
//! no I/O and no clock: time is the events' `t_ms`, and wall-clock time comes from
//! `session_started.unix_ms`. [`crate::analysis::Analysis`] holds the model and caches the findings.
//!
//! Each rule is a small function in [`rules`](self) (split by topic, each declared once) with a stable id (see [`RULES`]), a severity, a
//! one-line title, the evidence it saw (which candidates, states and timings) and, where there is one,
//! a suggested fix. Rules look at the current attempt and the one before it (the last complete picture
//! when the session ends just after a restart); a finding of the earlier attempt is capped at
//! [`Severity::Warning`] when the current attempt recovered. Rules stay silent on a healthy session,
//! which gets a single [`Severity::Ok`] verdict (`healthy`) instead.

pub mod net;
mod rules;

use serde::Serialize;

use crate::model::Model;

/// How bad a finding is. Ordered: `Critical` is the most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// All is well (the `healthy` verdict).
    Ok,
    /// Worth knowing; nothing to fix.
    Info,
    /// Something is wrong or fragile, but media can still flow.
    Warning,
    /// This stops the session from working.
    Error,
    /// Nothing can work as configured (e.g. the server cannot be reached at all).
    Critical,
}

impl Severity {
    /// A short upper-case label for text output (`OK`, `INFO`, `WARN`, `ERROR`, `CRITICAL`).
    pub fn label(self) -> &'static str {
        match self {
            Severity::Ok => "OK",
            Severity::Info => "INFO",
            Severity::Warning => "WARN",
            Severity::Error => "ERROR",
            Severity::Critical => "CRITICAL",
        }
    }

    /// The serialised name (`ok`, `info`, `warning`, `error`, `critical`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }
}

/// One verdict: what was found, how bad it is, the evidence, and what to do about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Stable identifier of the rule (e.g. `server-private-addresses`); see [`RULES`].
    pub id: &'static str,
    /// How bad it is.
    pub severity: Severity,
    /// One line, in plain words. Unsanitised (it may quote server text): sanitise before display.
    pub title: String,
    /// What was seen: candidates, states, timings, with concrete values. Unsanitised.
    pub evidence: Vec<String>,
    /// What to do about it, when there is something to do.
    pub fix: Option<String>,
}

/// Every rule: its id and what makes it fire. The ids are stable (reports and scripts key on them).
pub static RULES: std::sync::LazyLock<Vec<(&'static str, &'static str)>> =
    std::sync::LazyLock::new(|| rules::all().map(|r| (r.id, r.summary)).collect());

/// The verdicts on a model, most severe first (rule order among equals). A healthy session gets
/// exactly one, `healthy` ([`Severity::Ok`]); an empty stream gets none. Pure and a function of the
/// model only (its current attempt and the one before); [`crate::analysis::Analysis`] caches it.
pub fn evaluate(model: &Model) -> Vec<Finding> {
    rules::evaluate(model)
}

#[cfg(test)]
mod tests;
