//! Table tests of the poll diff: each case is a sequence of polls (time, current ufrag, pairs) and the
//! events each poll must produce, written compactly.

use std::time::Duration;

use super::{PolledPair, Tracker};
use crate::event::{CandidatePair, Event};

/// A pair `id` in `state`, with `sent` requests and `resp` responses received, local ufrag `ufrag`.
fn p(id: &str, state: &str, nominated: bool, sent: u64, resp: u64, ufrag: &str) -> PolledPair {
    PolledPair {
        pair: CandidatePair {
            id: id.to_owned(),
            local: None,
            remote: None,
            state: state.to_owned(),
            nominated,
            current_rtt_ms: (resp > 0).then_some(1.5),
            total_rtt_ms: resp as f64 * 1.5,
            requests_sent: sent,
            requests_received: 0,
            responses_received: resp,
            responses_sent: 0,
            bytes_sent: 0,
            bytes_received: 0,
            stale: false,
        },
        local_ufrag: ufrag.to_owned(),
    }
}

/// An event, compactly: `added:ID`, `state:ID:FROM>TO`, `nominated:ID`, `superseded:ID,ID`,
/// `summary:ID=STATE/SENT/RESP[/stale],…`.
fn short(e: &Event) -> String {
    match e {
        Event::PairAdded { pair } => format!("added:{}", pair.id),
        Event::PairStateChanged { id, from, to } => format!("state:{id}:{from}>{to}"),
        Event::PairNominated { id } => format!("nominated:{id}"),
        Event::PairsSuperseded { ids } => format!("superseded:{}", ids.join(",")),
        Event::CandidatePairs { pairs } => format!(
            "summary:{}",
            pairs
                .iter()
                .map(|p| format!(
                    "{}={}/{}/{}{}",
                    p.id,
                    p.state,
                    p.requests_sent,
                    p.responses_received,
                    if p.stale { "/stale" } else { "" }
                ))
                .collect::<Vec<_>>()
                .join(",")
        ),
        other => format!("unexpected:{}", other.name()),
    }
}

/// One poll of a case: at `ms`, with the current ufrag, these pairs; expect these events.
struct Step {
    ms: u64,
    ufrag: &'static str,
    pairs: Vec<PolledPair>,
    want: &'static [&'static str],
}

fn run(name: &str, steps: Vec<Step>) {
    let mut t = Tracker::new(Duration::from_secs(1));
    for (i, s) in steps.into_iter().enumerate() {
        let got: Vec<String> = t
            .poll(&s.pairs, s.ufrag, Duration::from_millis(s.ms))
            .iter()
            .map(short)
            .collect();
        assert_eq!(got, s.want, "case {name}, poll {i} at {} ms", s.ms);
    }
}

#[test]
fn poll_diff_table() {
    let cases: Vec<(&str, Vec<Step>)> = vec![
        (
            "empty polls say nothing",
            vec![
                Step {
                    ms: 0,
                    ufrag: "",
                    pairs: vec![],
                    want: &[],
                },
                Step {
                    ms: 2000,
                    ufrag: "",
                    pairs: vec![],
                    want: &[],
                },
            ],
        ),
        (
            "pairs added, then nothing while nothing changes",
            vec![
                Step {
                    ms: 0,
                    ufrag: "",
                    pairs: vec![
                        p("a", "waiting", false, 0, 0, ""),
                        p("b", "waiting", false, 0, 0, ""),
                    ],
                    want: &["added:a", "added:b", "summary:a=waiting/0/0,b=waiting/0/0"],
                },
                Step {
                    ms: 250,
                    ufrag: "",
                    pairs: vec![
                        p("a", "waiting", false, 0, 0, ""),
                        p("b", "waiting", false, 0, 0, ""),
                    ],
                    want: &[],
                },
                Step {
                    ms: 5000,
                    ufrag: "",
                    pairs: vec![
                        p("a", "waiting", false, 0, 0, ""),
                        p("b", "waiting", false, 0, 0, ""),
                    ],
                    want: &[],
                },
            ],
        ),
        (
            "a failing pair: in-progress then failed, counters summarised with the transition",
            vec![
                Step {
                    ms: 0,
                    ufrag: "",
                    pairs: vec![p("a", "waiting", false, 0, 0, "")],
                    want: &["added:a", "summary:a=waiting/0/0"],
                },
                Step {
                    ms: 250,
                    ufrag: "",
                    pairs: vec![p("a", "in-progress", false, 1, 0, "")],
                    want: &["state:a:waiting>in-progress", "summary:a=in-progress/1/0"],
                },
                Step {
                    ms: 1900,
                    ufrag: "",
                    pairs: vec![p("a", "failed", false, 7, 0, "")],
                    want: &["state:a:in-progress>failed", "summary:a=failed/7/0"],
                },
            ],
        ),
        (
            "counters alone: at most one summary per interval",
            vec![
                Step {
                    ms: 0,
                    ufrag: "",
                    pairs: vec![p("a", "in-progress", false, 1, 0, "")],
                    want: &["added:a", "summary:a=in-progress/1/0"],
                },
                Step {
                    ms: 250,
                    ufrag: "",
                    pairs: vec![p("a", "in-progress", false, 2, 0, "")],
                    want: &[],
                },
                Step {
                    ms: 500,
                    ufrag: "",
                    pairs: vec![p("a", "in-progress", false, 3, 0, "")],
                    want: &[],
                },
                Step {
                    ms: 1000,
                    ufrag: "",
                    pairs: vec![p("a", "in-progress", false, 5, 0, "")],
                    want: &["summary:a=in-progress/5/0"],
                },
                Step {
                    ms: 1250,
                    ufrag: "",
                    pairs: vec![p("a", "in-progress", false, 6, 0, "")],
                    want: &[],
                },
            ],
        ),
        (
            "succeeded and nominated in one poll",
            vec![
                Step {
                    ms: 0,
                    ufrag: "",
                    pairs: vec![p("a", "in-progress", false, 1, 0, "")],
                    want: &["added:a", "summary:a=in-progress/1/0"],
                },
                Step {
                    ms: 200,
                    ufrag: "",
                    pairs: vec![p("a", "succeeded", true, 2, 2, "")],
                    want: &[
                        "state:a:in-progress>succeeded",
                        "nominated:a",
                        "summary:a=succeeded/2/2",
                    ],
                },
                Step {
                    ms: 400,
                    ufrag: "",
                    pairs: vec![p("a", "succeeded", true, 2, 2, "")],
                    want: &[],
                },
            ],
        ),
        (
            "a pair added already nominated gets no separate nomination",
            vec![Step {
                ms: 0,
                ufrag: "",
                pairs: vec![p("a", "succeeded", true, 1, 1, "")],
                want: &["added:a", "summary:a=succeeded/1/1"],
            }],
        ),
        (
            "ICE restart: the old generation is superseded once, the new pairs added",
            vec![
                Step {
                    ms: 0,
                    ufrag: "",
                    pairs: vec![p("a", "succeeded", true, 3, 3, "u1")],
                    want: &["added:a", "summary:a=succeeded/3/3"],
                },
                Step {
                    ms: 3000,
                    ufrag: "u2",
                    pairs: vec![
                        p("a", "succeeded", true, 3, 3, "u1"),
                        p("b", "in-progress", false, 1, 0, "u2"),
                    ],
                    want: &[
                        "added:b",
                        "superseded:a",
                        "summary:a=succeeded/3/3/stale,b=in-progress/1/0",
                    ],
                },
                Step {
                    ms: 3250,
                    ufrag: "u2",
                    pairs: vec![
                        p("a", "succeeded", true, 3, 3, "u1"),
                        p("b", "succeeded", true, 2, 2, "u2"),
                    ],
                    want: &[
                        "state:b:in-progress>succeeded",
                        "nominated:b",
                        "summary:a=succeeded/3/3/stale,b=succeeded/2/2",
                    ],
                },
            ],
        ),
        (
            "unknown ufrags never make a pair stale",
            vec![Step {
                ms: 0,
                ufrag: "u2",
                pairs: vec![p("a", "waiting", false, 0, 0, "")],
                want: &["added:a", "summary:a=waiting/0/0"],
            }],
        ),
    ];
    for (name, steps) in cases {
        run(name, steps);
    }
}

#[test]
fn the_tracked_pairs_are_bounded() {
    let mut t = Tracker::new(Duration::from_secs(1));
    let pairs: Vec<PolledPair> = (0..super::TRACKED_PAIRS + 10)
        .map(|i| p(&format!("p{i}"), "waiting", false, 0, 0, ""))
        .collect();
    let events = t.poll(&pairs, "", Duration::ZERO);
    let added = events
        .iter()
        .filter(|e| matches!(e, Event::PairAdded { .. }))
        .count();
    assert_eq!(added, super::TRACKED_PAIRS);
    let Some(Event::CandidatePairs { pairs }) = events.last() else {
        panic!("no summary: {events:?}");
    };
    assert_eq!(pairs.len(), super::TRACKED_PAIRS);
}
