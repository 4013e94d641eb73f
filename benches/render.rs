//! TUI render time at scale, as a ratio against a reference measured in the same run:
//! `cargo bench --bench render`.
//!
//! The reference is one frame of a real recorded session (the NAT lab's failing checklist, a few
//! dozen events). The subject is the same session with a long history appended: 10,000 signaling
//! messages, 1,000 remote candidates, 200 candidate pairs and 10 restarts. Both are drawn through
//! the real `view` into ratatui's `TestBackend` at 160x48 and at 80x24, on every pane, and so is the
//! session with a tenth of that history (which already fills every pane). The ratios full ÷ recording
//! and full ÷ tenth show whether a frame's cost depends on history length (1.0: it does not); the
//! absolute time per frame is printed too (target: under 2 ms in release).
//!
//! Memory: an hour at 100 events a second (360,000 events: signaling messages, remote candidates,
//! pair changes and track statistics, as a long session has) applied at full speed to the TUI's
//! state (model, diagnosis, app). Reported: this process's RSS growth over the last 90 % of the
//! events, against the growth over the first 10 % in the same run (bounded history: the later
//! growth is near zero).

use std::time::Instant;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rtcscope::event::Stamped;
use rtcscope::tui::app::{App, Pane};
use rtcscope::tui::theme::Theme;

const REC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/diagnosis/natlab-failed-checklist.ndjson"
);

fn recorded() -> Vec<serde_json::Value> {
    std::fs::read_to_string(REC)
        .expect("recording")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("event"))
        .collect()
}

fn first_of<'a>(events: &'a [serde_json::Value], ty: &str) -> &'a serde_json::Value {
    events
        .iter()
        .find(|e| e["type"] == ty)
        .unwrap_or_else(|| panic!("no {ty} in the recording"))
}

/// The recording, its `ended` held back, with a long history appended in the last attempt: 10,000
/// messages, 1,000 candidates, 200 pairs and 10 restarts, each divided by `div`.
fn with_history(base: &[serde_json::Value], div: u32) -> Vec<Stamped> {
    let (ended, body) = base.split_last().expect("events");
    let mut out: Vec<serde_json::Value> = body.to_vec();
    let attempt = body
        .last()
        .map_or(1, |e| e["attempt"].as_u64().unwrap_or(1));
    let mut t = body
        .last()
        .map_or(0.0, |e| e["t_ms"].as_f64().unwrap_or(0.0));
    let msg = first_of(base, "message_received").clone();
    let cand = first_of(base, "remote_candidate").clone();
    let pair = first_of(base, "pair_added").clone();
    let restart = first_of(base, "restart").clone();
    let mut push = |mut e: serde_json::Value, out: &mut Vec<serde_json::Value>| {
        t += 1.0;
        e["t_ms"] = t.into();
        e["attempt"] = attempt.into();
        out.push(e);
    };
    for _ in 0..10 / div {
        push(restart.clone(), &mut out);
    }
    for i in 0..10_000u32 / div {
        let mut m = msg.clone();
        m["size"] = (100 + i % 50).into();
        push(m, &mut out);
    }
    for i in 0..1_000u32 / div {
        let mut c = cand.clone();
        c["candidate"]["port"] = (10_000 + i).into();
        push(c, &mut out);
    }
    for i in 0..200u32 / div {
        let mut p = pair.clone();
        p["pair"]["id"] = format!("pair-{i}").into();
        p["pair"]["local"]["port"] = (20_000 + i).into();
        push(p, &mut out);
    }
    push(ended.clone(), &mut out);
    out.into_iter()
        .enumerate()
        .map(|(i, mut e)| {
            e["seq"] = (i as u64).into();
            serde_json::from_value(e).expect("event")
        })
        .collect()
}

/// Mean time of one frame (each pane focused in turn), in microseconds.
fn frame_us(app: &mut App, w: u16, h: u16, frames: u32) -> f64 {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    let start = Instant::now();
    for i in 0..frames {
        app.focus = Pane::ALL[i as usize % Pane::ALL.len()];
        term.draw(|f| rtcscope::tui::view::view(app, f))
            .expect("draw");
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(frames)
}

/// This process's resident memory, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn memory(base: &[serde_json::Value]) {
    const TOTAL: usize = 360_000;
    let kinds = [
        first_of(base, "message_received").clone(),
        first_of(base, "remote_candidate").clone(),
        first_of(base, "pair_added").clone(),
        first_of(base, "candidate_pairs").clone(),
    ];
    let stats: serde_json::Value = serde_json::json!({
        "type": "track_stats",
        "stats": {"ssrc": 1, "kind": "video", "codec": "video/VP8", "clock_rate": 90000, "mid": "0",
                  "bytes_received": 0, "header_bytes_received": 0, "packets_received": 0,
                  "bitrate_bps": 2.0e6, "packets_lost": 0, "jitter_ms": 1.0, "nack_count": 0,
                  "pli_count": 0, "fir_count": 0, "keyframes": 0}
    });
    let mut app = App::with_events(Theme::new(false), &[]);
    let make = |i: usize| -> Stamped {
        let mut e = match i % 5 {
            4 => {
                let mut s = stats.clone();
                s["stats"]["packets_received"] = (i as u64).into();
                s["stats"]["bytes_received"] = (i as u64 * 1200).into();
                s
            }
            k => kinds[k].clone(),
        };
        if e["type"] == "remote_candidate" {
            e["candidate"]["port"] = ((i % 60_000) as u64 + 1024).into();
        }
        if e["type"] == "pair_added" {
            e["pair"]["id"] = format!("p{}", i % 5000).into();
        }
        e["seq"] = (i as u64 + base.len() as u64).into();
        e["t_ms"] = (10.0 * i as f64).into();
        e["attempt"] = 1.into();
        serde_json::from_value(e).expect("event")
    };
    for e in base.iter().take(base.len().saturating_sub(1)) {
        let ev: Stamped = serde_json::from_value(e.clone()).expect("event");
        rtcscope::tui::app::update(&mut app, rtcscope::tui::app::Msg::Engine(Box::new(ev)));
    }
    let start = rss_kib();
    let mut at_tenth = start;
    let t = Instant::now();
    for i in 0..TOTAL {
        rtcscope::tui::app::update(&mut app, rtcscope::tui::app::Msg::Engine(Box::new(make(i))));
        if i == TOTAL / 10 {
            // The diagnosis runs on demand: as a frame would.
            let _ = app.analysis.findings().len();
            at_tenth = rss_kib();
        }
    }
    let _ = app.analysis.findings().len();
    let end = rss_kib();
    let first = at_tenth.saturating_sub(start);
    let rest = end.saturating_sub(at_tenth);
    println!(
        "memory: {TOTAL} events in {:.1} s; RSS +{first} KiB over the first 10 %, +{rest} KiB over the other 90 % (target < 5 MB); ratio {:.2}",
        t.elapsed().as_secs_f64(),
        if first > 0 {
            rest as f64 / first as f64
        } else {
            0.0
        }
    );
}

fn main() {
    let base = recorded();
    memory(&base);
    let small: Vec<Stamped> = base
        .iter()
        .map(|e| serde_json::from_value(e.clone()).expect("event"))
        .collect();
    let big = with_history(&base, 1);
    let tenth = with_history(&base, 10);
    let mut small_app = App::with_events(Theme::new(false), &small);
    let mut tenth_app = App::with_events(Theme::new(false), &tenth);
    let mut big_app = App::with_events(Theme::new(false), &big);
    let m = big_app.analysis.model();
    println!(
        "history: {} events ({} messages kept, {} restarts kept); a tenth of it: {} events; the recording alone: {} events",
        big.len(),
        m.messages().len(),
        m.restarts().len(),
        tenth.len(),
        small.len()
    );
    let frames = 300;
    println!("size     recording   1/10 history   full history   full ÷ recording   full ÷ 1/10");
    for (w, h) in [(160u16, 48u16), (80, 24)] {
        // Warm up, then alternate to share the machine's noise.
        for app in [&mut small_app, &mut tenth_app, &mut big_app] {
            let _ = frame_us(app, w, h, 20);
        }
        let (mut r, mut t, mut b) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..5 {
            r.push(frame_us(&mut small_app, w, h, frames));
            t.push(frame_us(&mut tenth_app, w, h, frames));
            b.push(frame_us(&mut big_app, w, h, frames));
        }
        for v in [&mut r, &mut t, &mut b] {
            v.sort_by(f64::total_cmp);
        }
        let (r, t, b) = (r[2], t[2], b[2]);
        println!(
            "{w}x{h}   {r:>8.0} µs   {t:>9.0} µs   {b:>9.0} µs   {:>16.2}   {:>11.2}",
            b / r,
            b / t
        );
    }
}
