//! The candidate-pair checklist as a stream of changes: successive stats polls in, events out.
//!
//! The engine polls the ICE checklist several times a second while ICE is checking and hands each poll
//! to a [`Tracker`], which compares it with what it saw before and says what changed:
//! - [`Event::PairAdded`] for a pair seen for the first time,
//! - [`Event::PairStateChanged`] for a state transition (`waiting` → `in-progress` → `succeeded`/`failed`),
//! - [`Event::PairNominated`] when a pair's nominated flag is set,
//! - [`Event::PairsSuperseded`] when pairs turn out to belong to an earlier ICE generation (after an ICE
//!   restart their local candidate's ufrag is no longer the current one),
//! - [`Event::CandidatePairs`], the whole checklist with its counters (STUN requests and responses, RTT,
//!   bytes): after a poll that had a transition, else at most once per summary interval and only when a
//!   counter moved. Counters never get one event per change.
//!
//! Pure: time is an input, no clock, no socket.

use std::collections::HashMap;
use std::time::Duration;

use crate::event::{CandidatePair, Event};

/// Pairs tracked per attempt; pairs beyond are ignored (a checklist this long is a broken peer).
pub const TRACKED_PAIRS: usize = 256;

/// One pair as polled, with the ufrag of its local candidate (empty if unknown).
#[derive(Debug, Clone, PartialEq)]
pub struct PolledPair {
    /// The pair as the stats show it (its `stale` flag is ignored: the tracker sets it).
    pub pair: CandidatePair,
    /// Username fragment of the pair's local candidate, which names its ICE generation.
    pub local_ufrag: String,
}

/// What the tracker remembers of a pair.
#[derive(Debug, Clone, PartialEq)]
struct Known {
    state: String,
    nominated: bool,
    stale: bool,
}

/// Turns successive polls of one attempt's checklist into events (see the module doc).
#[derive(Debug, Clone)]
pub struct Tracker {
    summary_interval: Duration,
    known: HashMap<String, Known>,
    /// The checklist as last reported in a summary.
    last_summary: Vec<CandidatePair>,
    last_summary_at: Option<Duration>,
}

impl Tracker {
    /// A tracker that reports counters at most once per `summary_interval`.
    pub fn new(summary_interval: Duration) -> Self {
        Self {
            summary_interval,
            known: HashMap::new(),
            last_summary: Vec::new(),
            last_summary_at: None,
        }
    }

    /// One poll: the pairs as the stack reports them and the current local ufrag (empty if unknown), at
    /// `now`. Returns the events, in order: additions, transitions, nominations, superseded pairs,
    /// then the summary if one is due.
    pub fn poll(&mut self, pairs: &[PolledPair], current_ufrag: &str, now: Duration) -> Vec<Event> {
        let mut out = Vec::new();
        let mut superseded = Vec::new();
        let mut checklist = Vec::with_capacity(pairs.len().min(TRACKED_PAIRS));
        for polled in pairs {
            let mut pair = polled.pair.clone();
            pair.stale = !current_ufrag.is_empty()
                && !polled.local_ufrag.is_empty()
                && polled.local_ufrag != current_ufrag;
            match self.known.get_mut(&pair.id) {
                None => {
                    if self.known.len() >= TRACKED_PAIRS {
                        continue;
                    }
                    self.known.insert(
                        pair.id.clone(),
                        Known {
                            state: pair.state.clone(),
                            nominated: pair.nominated,
                            stale: pair.stale,
                        },
                    );
                    out.push(Event::PairAdded { pair: pair.clone() });
                }
                Some(k) => {
                    if k.state != pair.state {
                        out.push(Event::PairStateChanged {
                            id: pair.id.clone(),
                            from: std::mem::replace(&mut k.state, pair.state.clone()),
                            to: pair.state.clone(),
                        });
                    }
                    if pair.nominated && !k.nominated {
                        out.push(Event::PairNominated {
                            id: pair.id.clone(),
                        });
                    }
                    k.nominated = pair.nominated;
                    if pair.stale && !k.stale {
                        superseded.push(pair.id.clone());
                    }
                    k.stale = pair.stale;
                }
            }
            checklist.push(pair);
        }
        if !superseded.is_empty() {
            out.push(Event::PairsSuperseded { ids: superseded });
        }
        let transitions = !out.is_empty();
        let due = self
            .last_summary_at
            .is_none_or(|t| now.saturating_sub(t) >= self.summary_interval);
        if !checklist.is_empty() && checklist != self.last_summary && (transitions || due) {
            self.last_summary_at = Some(now);
            self.last_summary = checklist.clone();
            out.push(Event::CandidatePairs { pairs: checklist });
        }
        out
    }
}

#[cfg(test)]
mod tests;
