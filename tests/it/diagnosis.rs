//! The diagnosis rules on recorded event streams (`tests/fixtures/diagnosis/`, see the README there):
//! every rule fires on a recording that exhibits it, healthy recordings get only `healthy` (and at most
//! warnings), the rule engine survives mutated streams, and it stays pure.

use crate::support::diagnosis as diagnosis_support;

use diagnosis_support::{fixture_dir, load_fixture};
use rtcscope::analysis::Analysis;
use rtcscope::diagnosis::{Finding, RULES, Severity};
use rtcscope::event::{Event, Stamped};

fn findings(name: &str) -> Vec<Finding> {
    Analysis::from_events(&load_fixture(name))
        .findings()
        .to_vec()
}

fn ids(f: &[Finding]) -> Vec<&'static str> {
    f.iter().map(|f| f.id).collect()
}

/// (fixture, rules that must fire, rules that must stay silent).
const EXPECTED: &[(&str, &[&str], &[&str])] = &[
    // Healthy sessions: the verdict is `healthy`, nothing is an error.
    ("healthy-ws", &["healthy"], &[]),
    ("healthy-whep", &["healthy"], &[]),
    ("stun-coturn", &["healthy"], &[]),
    ("natlab-scenario-1", &["healthy"], &[]),
    ("natlab-scenario-2", &["healthy"], &[]),
    ("natlab-scenario-2-symmetric", &["healthy"], &[]),
    (
        "turn-relay-healthy",
        &["healthy"],
        &["turn-auth-failed", "turn-unreachable"],
    ),
    ("natlab-scenario-3", &["healthy"], &["symmetric-nat"]),
    ("natlab-scenario-4", &["healthy"], &["udp-blocked"]),
    (
        "natlab-udp-blocked-turn-tls",
        &["healthy"],
        &[
            "udp-blocked",
            "turn-transport-failed",
            "turn-tcp-tls-skipped",
        ],
    ),
    // Signaling.
    ("ws-unreachable", &["signaling-unreachable"], &["healthy"]),
    ("ws-404", &["http-not-found"], &["socket-closed"]),
    ("whep-404", &["http-not-found"], &["http-error"]),
    ("whep-401", &["http-unauthorized"], &["http-error"]),
    ("whep-405", &["http-method-not-allowed"], &["http-error"]),
    ("whep-500", &["http-error"], &[]),
    ("whep-503-busy", &["server-busy"], &["http-error"]),
    (
        "ws-close-after-offer",
        &["socket-closed", "restart-loop"],
        &[],
    ),
    ("ws-close-after-ice-servers", &["socket-closed"], &[]),
    ("ws-no-answer", &["no-answer"], &["socket-closed"]),
    ("ws-protocol-error", &["protocol-error"], &[]),
    ("whep-codec-rejected", &["codec-mismatch"], &["healthy"]),
    // ICE.
    (
        "no-remote-candidates",
        &["no-remote-candidates"],
        &["ice-failed", "no-stun-response"],
    ),
    (
        "no-stun-response",
        &["no-stun-response"],
        &["server-private-addresses", "ice-failed"],
    ),
    (
        "natlab-server-udp-filtered",
        &["no-stun-response"],
        &["server-private-addresses"],
    ),
    (
        "natlab-scenario-8",
        &["server-private-addresses"],
        &["no-stun-response", "ice-failed"],
    ),
    (
        "natlab-scenario-5",
        &["server-private-addresses", "no-ice-servers-nat"],
        &[],
    ),
    (
        "natlab-udp-blocked",
        &["udp-blocked"],
        &["turn-unreachable", "no-stun-response"],
    ),
    ("stun-unreachable", &["udp-blocked", "healthy"], &[]),
    (
        "ice-no-pair",
        &["candidates-cannot-pair"],
        &["ice-failed", "no-stun-response", "server-private-addresses"],
    ),
    (
        "edited-ice-failed",
        &["ice-failed"],
        &["candidates-cannot-pair", "no-stun-response"],
    ),
    ("natlab-symmetric-nat", &["symmetric-nat", "healthy"], &[]),
    ("edited-cgnat", &["cgnat", "healthy"], &[]),
    // ICE servers.
    (
        "turn-wrong-password",
        &["turn-auth-failed"],
        &["turn-unreachable", "udp-blocked"],
    ),
    (
        "turn-wrong-password-all",
        &["turn-auth-failed", "healthy"],
        &["udp-blocked"],
    ),
    (
        "turn-unreachable",
        &["turn-unreachable"],
        &["turn-auth-failed"],
    ),
    (
        "turn-rest-expired",
        &["turn-rest-expired", "turn-auth-failed"],
        &[],
    ),
    (
        "turn-rest-far-future",
        &["turn-rest-clock-skew"],
        &["turn-rest-expired"],
    ),
    (
        "turn-tcp-skipped",
        &["turn-tcp-tls-skipped", "healthy"],
        &["turn-unreachable"],
    ),
    (
        "turn-dtls-skipped",
        &["turn-tcp-tls-skipped", "healthy"],
        &["turn-unreachable", "turn-transport-failed"],
    ),
    (
        "turn-tls-healthy",
        &["healthy"],
        &[
            "turn-transport-failed",
            "turn-tcp-tls-skipped",
            "turn-unreachable",
        ],
    ),
    (
        "turn-tcp-wrong-password",
        &["turn-auth-failed"],
        &["turn-transport-failed", "turn-unreachable"],
    ),
    (
        "turn-tls-untrusted",
        &["turn-transport-failed"],
        &["healthy", "turn-tcp-tls-skipped"],
    ),
    (
        "stun-one-dead",
        &["ice-server-probe-failed", "healthy"],
        &["udp-blocked"],
    ),
    // DTLS and media.
    ("dtls-failed", &["dtls-failed"], &["ice-failed", "no-media"]),
    ("no-media", &["no-media"], &["healthy", "dtls-failed"]),
    (
        "media-stopped",
        &["media-stalled"],
        &["healthy", "no-media"],
    ),
    ("edited-no-keyframes", &["no-keyframes"], &["healthy"]),
    ("natlab-scenario-7", &["packet-loss", "healthy"], &[]),
    // The NAT lab's scenario 8 with the whole checklist: every pair failed, checks unanswered.
    (
        "natlab-failed-checklist",
        &["server-private-addresses"],
        &["healthy"],
    ),
    // This host's own drops are not the network's loss (a 4 KiB receive buffer at 50 Mbit/s).
    (
        "host-receive-drops",
        &["host-receive-drops", "healthy"],
        &["packet-loss"],
    ),
    // Timing and restarts.
    ("slow-whep-201", &["slow-setup", "healthy"], &[]),
    ("slow-ws-answer", &["slow-setup", "healthy"], &[]),
    ("natlab-scenario-6", &["restart-loop", "healthy"], &[]),
];

#[test]
fn each_fixture_gets_its_verdicts() {
    let mut failures = Vec::new();
    for (name, fire, silent) in EXPECTED {
        let f = findings(name);
        let got = ids(&f);
        for id in *fire {
            if !got.contains(id) {
                failures.push(format!("{name}: {id} did not fire (got {got:?})"));
            }
        }
        for id in *silent {
            if got.contains(id) {
                failures.push(format!("{name}: {id} fired but should not (got {got:?})"));
            }
        }
        // Most severe first.
        for w in f.windows(2) {
            assert!(w[0].severity >= w[1].severity, "{name}: order {got:?}");
        }
        // A verdict has words and evidence.
        for x in &f {
            assert!(
                !x.title.is_empty() && !x.evidence.is_empty(),
                "{name}: {x:?}"
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn healthy_sessions_have_nothing_worse_than_a_warning() {
    for (name, fire, _) in EXPECTED {
        if fire.contains(&"healthy") {
            let f = findings(name);
            assert!(
                f.iter().all(|x| x.severity <= Severity::Warning),
                "{name}: {f:#?}"
            );
            assert_eq!(f.iter().filter(|x| x.id == "healthy").count(), 1);
        }
    }
    // And the plainest ones get nothing but the verdict.
    for name in [
        "healthy-ws",
        "healthy-whep",
        "stun-coturn",
        "natlab-scenario-1",
    ] {
        assert_eq!(ids(&findings(name)), vec!["healthy"], "{name}");
    }
}

#[test]
fn every_rule_is_proven_by_a_fixture() {
    for (id, _) in RULES.iter() {
        assert!(
            EXPECTED.iter().any(|(_, fire, _)| fire.contains(id)),
            "no fixture shows rule {id}"
        );
    }
    // And every fixture on disk is in the table.
    for entry in std::fs::read_dir(fixture_dir()).expect("fixture dir") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if let Some(stem) = name.strip_suffix(".ndjson") {
            assert!(
                EXPECTED.iter().any(|(n, _, _)| *n == stem),
                "fixture {stem} is not checked"
            );
        }
    }
}

#[test]
fn verdicts_quote_concrete_evidence() {
    let f = findings("natlab-scenario-8");
    let p = f
        .iter()
        .find(|x| x.id == "server-private-addresses")
        .expect("fires");
    assert!(
        p.evidence.iter().any(|e| e.contains("192.168.20.2")),
        "the server's private candidate: {p:#?}"
    );
    assert!(
        p.evidence.iter().any(|e| e.contains("192.168.10.2")),
        "{p:#?}"
    );
    let f = findings("slow-whep-201");
    let s = f.iter().find(|x| x.id == "slow-setup").expect("fires");
    assert!(s.title.contains("STUN gathering"), "{}", s.title);
    let f = findings("whep-401");
    assert!(f[0].title.contains("realm \"mediamtx\""), "{}", f[0].title);
    let f = findings("turn-wrong-password");
    let t = f
        .iter()
        .find(|x| x.id == "turn-auth-failed")
        .expect("fires");
    assert!(t.evidence.iter().any(|e| e.contains("401")), "{t:#?}");
    let f = findings("natlab-symmetric-nat");
    let s = f.iter().find(|x| x.id == "symmetric-nat").expect("fires");
    assert!(s.evidence[0].contains("192.168.10.2"), "{s:#?}");
    let f = findings("ws-close-after-offer");
    let r = f.iter().find(|x| x.id == "restart-loop").expect("fires");
    assert!(r.title.contains("5 attempts"), "{}", r.title);
}

#[test]
fn verdicts_do_not_change_when_replayed_event_by_event() {
    // The TUI asks for findings as the stream goes: the final answer is the batch answer.
    for (name, _, _) in EXPECTED.iter().take(12) {
        let events = load_fixture(name);
        let mut d = Analysis::new();
        for e in &events {
            d.apply(e);
            let _ = d.findings();
        }
        assert_eq!(d.findings(), findings(name), "{name}");
    }
}

/// A small deterministic generator (no dependency on a seedable RNG API).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

fn mutate(ev: &mut Stamped, r: &mut Lcg) {
    match r.below(10) {
        0 => ev.t_ms = [f64::NAN, f64::INFINITY, -1.0, 1e300, 0.0][r.below(5) as usize],
        1 => ev.attempt = r.below(5) as u32,
        2 => {
            // Mangle the strings inside through JSON.
            let mut v = serde_json::to_value(&*ev).unwrap_or_default();
            mangle(&mut v, r);
            if let Ok(e) = serde_json::from_value::<Stamped>(v) {
                *ev = e;
            }
        }
        3 => {
            if let Event::TrackStats { stats } = &mut ev.event {
                stats.packets_lost = i64::MIN;
                stats.bitrate_bps = f64::NAN;
                stats.packets_received = u64::MAX;
            }
        }
        _ => {}
    }
}

fn mangle(v: &mut serde_json::Value, r: &mut Lcg) {
    match v {
        serde_json::Value::String(s) => {
            *s = match r.below(6) {
                0 => String::new(),
                1 => "\u{1b}[2J\u{0}é🙂".repeat(3),
                2 => "x".repeat(100_000),
                3 => "m=video 0 RTP 96\r\na=inactive\r\n".into(),
                4 => "1600000000:a***".into(),
                _ => s.chars().rev().collect(),
            }
        }
        serde_json::Value::Number(_) if r.below(3) == 0 => {
            *v = serde_json::json!(u32::MAX);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| mangle(x, r)),
        serde_json::Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                if k != "type" {
                    mangle(x, r);
                }
            }
        }
        _ => {}
    }
}

#[test]
fn the_observer_survives_mutated_streams() {
    let mut r = Lcg(0x5eed);
    for (name, _, _) in EXPECTED {
        let events = load_fixture(name);
        for round in 0..6 {
            let mut evs = events.clone();
            for e in evs.iter_mut() {
                mutate(e, &mut r);
            }
            // Drop, duplicate and reorder some.
            if round % 2 == 1 && evs.len() > 4 {
                let i = r.below(evs.len() as u64) as usize;
                evs.remove(i);
                let j = r.below(evs.len() as u64) as usize;
                let dup = evs[j].clone();
                evs.insert(r.below(evs.len() as u64) as usize, dup);
                let last = evs.len() - 1;
                evs.swap(0, last);
            }
            let d = Analysis::from_events(&evs);
            let f = d.findings();
            for x in f {
                assert!(!x.id.is_empty());
                assert!(x.title.len() < 20_000, "{name}: bounded title");
            }
            let _ = rtcscope::report::build(&d);
        }
    }
}

#[test]
fn the_rule_engine_is_pure() {
    // The rules (every topic file), the fold that runs them, and the formatting they use.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![root.join("analysis.rs"), root.join("format.rs")];
    let mut dirs = vec![root.join("diagnosis")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/diagnosis") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    for path in files {
        let code = std::fs::read_to_string(&path).expect("read");
        let code: String = code
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for needle in [
            "Instant::now",
            "SystemTime::now",
            "tokio::",
            "std::net::TcpStream",
            "std::net::UdpSocket",
            "std::fs",
            "ratatui",
            "crossterm",
        ] {
            assert!(
                !code.contains(needle),
                "{}: {needle} in the pure rule engine",
                path.display()
            );
        }
    }
}
