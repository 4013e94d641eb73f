//! The one fold of the event stream: [`Analysis::apply`] folds every [`Stamped`] event into the
//! [`Model`], and the verdicts ([`Analysis::findings`]) and the run's [`Outcome`] (the exit code) are
//! read from that model. The TUI, headless mode, the report and `main` all read an `Analysis`.
//!
//! Pure: no I/O, no clock. The findings are computed on demand and cached until the next event, so a
//! TUI redrawing several times between events runs the rules once, and one receiving a burst of events
//! between redraws runs them at most once per redraw.

use std::cell::OnceCell;

use crate::diagnosis::{self, Finding};
use crate::event::Stamped;
use crate::model::{Milestone, Model};

/// How a run ended; `main` maps it to the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Media flowed (exit 0).
    MediaFlowed,
    /// A command with nothing to judge ended normally (`serve`) (exit 0).
    Done,
    /// Signaling never reached the answer (exit 3).
    SignalingFailed,
    /// Answer received, ICE never connected (exit 4).
    IceFailed,
    /// ICE connected, but DTLS (and so the peer connection) never did (exit 5).
    DtlsFailed,
    /// Connected but no media arrived (exit 6).
    NoMedia,
    /// `probe`: at least one ICE server failed (exit 7).
    ProbeFailed,
}

impl Outcome {
    /// The process exit code.
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::MediaFlowed | Outcome::Done => 0,
            Outcome::SignalingFailed => 3,
            Outcome::IceFailed => 4,
            Outcome::DtlsFailed => 5,
            Outcome::NoMedia => 6,
            Outcome::ProbeFailed => 7,
        }
    }

    /// The outcome of a viewer session: the furthest any attempt got, as the model defines each step.
    pub fn of(model: &Model) -> Outcome {
        if model.media_received() {
            Outcome::MediaFlowed
        } else if model.ever_connected() {
            Outcome::NoMedia
        } else if model.ever_reached(Milestone::IceConnected) {
            Outcome::DtlsFailed
        } else if model.ever_reached(Milestone::Answer) {
            Outcome::IceFailed
        } else {
            Outcome::SignalingFailed
        }
    }
}

/// The fold of a session's events: the [`Model`], with the diagnosis and the outcome read from it.
/// Memory is bounded as the model's is (the cached findings are a few dozen at most).
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    model: Model,
    /// The findings of the model as it is now; emptied by every event.
    findings: OnceCell<Vec<Finding>>,
}

impl Analysis {
    /// An empty analysis (before `session_started`).
    pub fn new() -> Self {
        Self::default()
    }

    /// The analysis of a whole recorded stream.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Stamped>) -> Self {
        let mut a = Self::new();
        for e in events {
            a.apply(e);
        }
        a
    }

    /// Fold one event in. Never panics, whatever the event.
    pub fn apply(&mut self, ev: &Stamped) {
        self.model.apply(ev);
        self.findings.take();
    }

    /// The model: everything the panes and the report show.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The verdicts, most severe first (computed once per model state). A healthy session gets exactly
    /// one, `healthy`; an empty stream gets none.
    pub fn findings(&self) -> &[Finding] {
        self.findings
            .get_or_init(|| diagnosis::evaluate(&self.model))
    }

    /// The most severe finding, if any (the report's first line).
    pub fn verdict(&self) -> Option<&Finding> {
        self.findings().first()
    }

    /// How the session ended so far (its exit code).
    pub fn outcome(&self) -> Outcome {
        Outcome::of(&self.model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, MessageKind, StateKind};

    fn stamped(seq: u64, event: Event) -> Stamped {
        Stamped {
            seq,
            t_ms: seq as f64,
            attempt: 1,
            event,
        }
    }

    #[test]
    fn exit_codes() {
        let table = [
            (Outcome::SignalingFailed, 3),
            (Outcome::IceFailed, 4),
            (Outcome::DtlsFailed, 5),
            (Outcome::NoMedia, 6),
            (Outcome::MediaFlowed, 0),
            (Outcome::Done, 0),
            (Outcome::ProbeFailed, 7),
        ];
        for (o, code) in table {
            assert_eq!(o.exit_code(), code, "{o:?}");
        }
    }

    #[test]
    fn outcome_follows_the_furthest_step() {
        let mut a = Analysis::new();
        assert_eq!(a.outcome(), Outcome::SignalingFailed);
        a.apply(&stamped(
            1,
            Event::HttpResponse {
                id: 2,
                method: "POST".into(),
                status: 201,
                reason: "Created".into(),
                headers: vec![],
                kind: MessageKind::Answer,
                size: 3,
                body: "v=0".into(),
                truncated: false,
                elapsed_ms: 1.0,
            },
        ));
        assert_eq!(a.outcome(), Outcome::IceFailed, "a WHEP 201 is the answer");
        a.apply(&stamped(
            2,
            Event::StateChanged {
                kind: StateKind::IceConnection,
                state: "connected".into(),
            },
        ));
        assert_eq!(a.outcome(), Outcome::DtlsFailed);
        a.apply(&stamped(
            3,
            Event::StateChanged {
                kind: StateKind::PeerConnection,
                state: "connected".into(),
            },
        ));
        assert_eq!(a.outcome(), Outcome::NoMedia);
        a.apply(&stamped(
            4,
            Event::FirstMedia {
                kind: "video".into(),
                ssrc: 1,
                payload_type: 96,
            },
        ));
        assert_eq!(a.outcome(), Outcome::MediaFlowed);
    }

    #[test]
    fn a_406_counter_offer_is_an_answer() {
        let mut a = Analysis::new();
        a.apply(&stamped(
            1,
            Event::HttpResponse {
                id: 2,
                method: "POST".into(),
                status: 406,
                reason: "Not Acceptable".into(),
                headers: vec![],
                kind: MessageKind::Offer,
                size: 3,
                body: "v=0".into(),
                truncated: false,
                elapsed_ms: 1.0,
            },
        ));
        assert_eq!(a.outcome(), Outcome::IceFailed);
    }

    #[test]
    fn findings_are_cached_until_the_next_event() {
        let events = crate::test_events::happy_session(3);
        let mut a = Analysis::from_events(&events);
        let first = a.findings().as_ptr();
        assert_eq!(a.findings().as_ptr(), first, "no second evaluation");
        assert_eq!(a.verdict().map(|f| f.id), Some("healthy"));
        a.apply(&events[events.len() - 1]);
        assert_eq!(a.verdict().map(|f| f.id), Some("healthy"));
    }
}
