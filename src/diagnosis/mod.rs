//! Diagnosis: plain-language verdicts over the event stream.
//!
//! [`Diagnosis`] is a pure rule engine. Feed it every [`Stamped`] event with [`Diagnosis::observe`]
//! (cheap: it folds each event into counts, first/last times and small capped lists, so memory stays
//! bounded over an hours-long session), and ask for [`Diagnosis::findings`] whenever a verdict is
//! wanted (the TUI on each redraw, the report at the end). There is no I/O and no clock: time is the
//! events' `t_ms`, and wall-clock time comes from `session_started.unix_ms`.
//!
//! Each rule is a small function in [`rules`](self) with a stable id (see [`RULES`]), a severity, a
//! one-line title, the evidence it saw (which candidates, states and timings) and, where there is one,
//! a suggested fix. Rules look at the current attempt and the one before it (the last complete picture
//! when the session ends just after a restart); a finding of the earlier attempt is capped at
//! [`Severity::Warning`] when the current attempt recovered. Rules stay silent on a healthy session,
//! which gets a single [`Severity::Ok`] verdict (`healthy`) instead.

mod facts;
pub mod net;
mod rules;

use std::collections::VecDeque;

use serde::Serialize;

use crate::event::{EndReason, Event, Protocol, Stamped};
use facts::{AttemptFacts, RestartFact, cause_key, cut};

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
pub const RULES: &[(&str, &str)] = rules::CATALOGUE;

/// Restarts kept for the restart-loop rule.
const RESTARTS_KEPT: usize = 256;
/// ICE-server probe results kept (the latest per URL, transport and kind).
const PROBES_KEPT: usize = 32;

/// What is known about the session as a whole.
#[derive(Debug, Clone, PartialEq)]
struct SessionFacts {
    target: String,
    protocol: Protocol,
    unix_ms: u64,
}

/// How the session ended.
#[derive(Debug, Clone, PartialEq)]
struct EndedFacts {
    t_ms: f64,
    reason: EndReason,
}

/// The rule engine's state: fold events in with [`observe`](Self::observe), read verdicts with
/// [`findings`](Self::findings). Cloning is cheap enough to snapshot (bounded lists only).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Diagnosis {
    session: Option<SessionFacts>,
    now_ms: f64,
    current: AttemptFacts,
    previous: Option<AttemptFacts>,
    restarts: VecDeque<RestartFact>,
    restart_total: u64,
    probes: Vec<crate::probe::ProbeResult>,
    ended: Option<EndedFacts>,
    events: u64,
}

impl Diagnosis {
    /// An empty diagnosis (before `session_started`).
    pub fn new() -> Self {
        Self::default()
    }

    /// A diagnosis of a whole recorded stream.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Stamped>) -> Self {
        let mut d = Self::new();
        for e in events {
            d.observe(e);
        }
        d
    }

    /// Events observed.
    pub fn events_observed(&self) -> u64 {
        self.events
    }

    /// Fold one event in. Never panics, whatever the event (odd times, unknown attempts, huge text).
    pub fn observe(&mut self, ev: &Stamped) {
        self.events = self.events.saturating_add(1);
        let t = if ev.t_ms.is_finite() {
            ev.t_ms
        } else {
            self.now_ms
        };
        if t > self.now_ms {
            self.now_ms = t;
        }
        match &ev.event {
            Event::SessionStarted {
                target,
                protocol,
                unix_ms,
                ..
            } => {
                self.session = Some(SessionFacts {
                    target: cut(target),
                    protocol: *protocol,
                    unix_ms: *unix_ms,
                });
            }
            Event::AttemptStarted { attempt } => {
                let n = (*attempt).max(ev.attempt);
                if n > self.current.number {
                    let done = std::mem::replace(&mut self.current, AttemptFacts::new(n, t));
                    if done.number > 0 {
                        self.previous = Some(done);
                    }
                }
            }
            Event::Restart {
                cause,
                ended_attempt,
                lived_ms,
                had_connected,
                ..
            } => {
                self.restart_total = self.restart_total.saturating_add(1);
                if self.restarts.len() >= RESTARTS_KEPT {
                    self.restarts.pop_front();
                }
                self.restarts.push_back(RestartFact {
                    t_ms: t,
                    ended_attempt: *ended_attempt,
                    key: cause_key(cause),
                    text: cut(&cause.describe()),
                    lived_ms: if lived_ms.is_finite() { *lived_ms } else { 0.0 },
                    had_connected: *had_connected,
                });
                if *ended_attempt == self.current.number {
                    self.current.observe(t, &ev.event);
                } else if let Some(p) = self
                    .previous
                    .as_mut()
                    .filter(|p| p.number == *ended_attempt)
                {
                    p.observe(t, &ev.event);
                }
            }
            Event::ProbeResult { result } => {
                // Probes run once per server per session, whatever the attempt: session-wide.
                let same = |p: &crate::probe::ProbeResult| {
                    p.url == result.url && p.transport == result.transport && p.kind == result.kind
                };
                if let Some(p) = self.probes.iter_mut().find(|p| same(p)) {
                    *p = result.clone();
                } else if self.probes.len() < PROBES_KEPT {
                    self.probes.push(result.clone());
                }
            }
            Event::Ended { reason, .. } => {
                self.ended = Some(EndedFacts {
                    t_ms: t,
                    reason: reason.clone(),
                });
            }
            other => {
                // Events of an older attempt (a late callback of a torn-down peer connection) must not
                // touch the current attempt.
                if ev.attempt == self.current.number
                    || (ev.attempt > self.current.number && self.current.number == 0)
                {
                    if self.current.number == 0 && ev.attempt > 0 {
                        self.current.number = ev.attempt;
                        self.current.started_ms = t;
                    }
                    self.current.observe(t, other);
                }
            }
        }
    }

    /// The verdicts, most severe first (rule order among equals). A healthy session gets exactly one,
    /// `healthy` ([`Severity::Ok`]); an empty stream gets none.
    pub fn findings(&self) -> Vec<Finding> {
        rules::evaluate(self)
    }

    /// The most severe finding, if any (the report's first line).
    pub fn verdict(&self) -> Option<Finding> {
        self.findings().into_iter().next()
    }
}

#[cfg(test)]
mod tests;
