//! Property-ish robustness of the protocol layer: thousands of deterministic byte-wise mutations of
//! real fixture frames and candidate lines (plus hand-written seeds) go through every parser. None
//! may panic, and whatever parses must survive a write/read round trip.

use crate::support::mutate;
use mutate::{Rng, mutate};

use std::fs;
use std::path::Path;

use rtcscope::proto::candidate::{format_candidate, parse_candidate};
use rtcscope::proto::ice_server::{
    mask_url, mask_username, parse_cli_ice_server, turn_rest_expiry, unsupported_reason,
};
use rtcscope::proto::ws::{
    SignalMessage, candidate_message, ice_servers_message, parse_message, signaling_url,
    strip_candidates,
};
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/signaling");

/// WebSocket frame texts and candidate lines from the fixtures, plus hand-written seeds.
fn seeds() -> (Vec<String>, Vec<String>) {
    let mut frames: Vec<String> = [
        "[]",
        r#"[{"urls":"stun:h:1","username":null,"credentialType":"password"}]"#,
        r#"{"candidate":"candidate:1 1 udp 1 ::1 9 typ host","sdpMid":"","sdpMLineIndex":0,"usernameFragment":null}"#,
        r#"{"type":"answer","sdp":"v=0\r\na=candidate:1 1 udp 1 1.2.3.4 5 typ host\r\n"}"#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut lines: Vec<String> = [
        "candidate:1 1 udp 2130706431 4b0b2c2e-1111-2222-3333-444444444444.local 5000 typ host",
        "a=candidate:9 2 TCP 1 fe80::1%eth0 0 typ srflx rport 1 raddr 10.0.0.1 tcptype so x y",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let dir = Path::new(FIXTURES);
    let entries = fs::read_dir(dir).unwrap_or_else(|e| {
        panic!(
            "signaling fixtures not found at {} ({e}); they are part of the repository (tests/fixtures/signaling)",
            dir.display()
        )
    });
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    paths.sort();
    for path in paths
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
    {
        let text = fs::read_to_string(path).unwrap_or_default();
        for line in text.lines() {
            let Ok(rec) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            for key in ["text", "request_body", "response_body"] {
                if let Some(t) = rec[key].as_str() {
                    if key == "text" {
                        frames.push(t.to_owned());
                    }
                    let body = match serde_json::from_str::<Value>(t) {
                        Ok(v) => v["candidate"]
                            .as_str()
                            .or(v["sdp"].as_str())
                            .unwrap_or("")
                            .to_owned(),
                        Err(_) => t.to_owned(),
                    };
                    lines.extend(
                        body.split("\r\n")
                            .filter(|l| l.contains("candidate:"))
                            .map(str::to_owned),
                    );
                }
            }
        }
    }
    assert!(frames.len() > 50 && lines.len() > 50, "fixtures too small");
    (frames, lines)
}

/// Interesting fragments to splice in.
const TOKENS: &[&str] = &[
    "\"",
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "null",
    "true",
    "-1",
    "1e999",
    "65536",
    "4294967296",
    "\\u0000",
    "\\ud800",
    "é",
    "€",
    "\u{0}",
    " ",
    "\r\n",
    "typ",
    "raddr",
    "rport",
    "tcptype",
    "candidate:",
    "a=",
    "\"type\"",
    "\"sdp\"",
    "\"urls\"",
    "\"candidate\"",
    "relay",
    "::",
    "%",
    "@",
    "?transport=tcp",
    "//",
];

fn exercise_message(text: &str) {
    match parse_message(text) {
        Ok(msg) => match &msg {
            SignalMessage::Candidate(c) => {
                assert_eq!(parse_message(&candidate_message(c)).as_ref(), Ok(&msg));
                if let Ok(cand) = parse_candidate(&c.candidate) {
                    assert_eq!(parse_candidate(&format_candidate(&cand)), Ok(cand));
                }
            }
            SignalMessage::IceServers(entries) => {
                assert_eq!(
                    parse_message(&ice_servers_message(entries)).as_ref(),
                    Ok(&msg)
                );
                for e in entries {
                    for u in &e.urls {
                        let _ = unsupported_reason(u);
                        let _ =
                            parse_cli_ice_server(u, e.username.as_deref(), e.credential.as_deref());
                    }
                }
            }
            SignalMessage::Offer { sdp } | SignalMessage::Answer { sdp } => {
                let stripped = strip_candidates(sdp);
                assert!(stripped.len() <= sdp.len());
                assert_eq!(strip_candidates(&stripped), stripped);
            }
        },
        Err(e) => {
            assert!(!e.message.is_empty());
            assert!(e.message.len() < 1000, "{}", e.message);
        }
    }
}

fn exercise_candidate(line: &str) {
    match parse_candidate(line) {
        Ok(c) => {
            let formatted = format_candidate(&c);
            assert_eq!(parse_candidate(&formatted).as_ref(), Ok(&c), "{line:?}");
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.is_empty() && msg.len() < 300, "{msg}");
        }
    }
}

fn exercise_strings(s: &str) {
    let _ = signaling_url(s);
    let _ = parse_cli_ice_server(s, Some("u"), Some("p"));
    let _ = unsupported_reason(s);
    let _ = mask_url(s);
    let _ = mask_username(s);
    let _ = turn_rest_expiry(s);
}

#[test]
fn mutated_frames_never_panic() {
    let (frames, _) = seeds();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..4000 {
        let seed = &frames[rng.below(frames.len())];
        let other = &frames[rng.below(frames.len())];
        exercise_message(&mutate(&mut rng, seed, other, TOKENS));
    }
}

#[test]
fn mutated_candidates_never_panic() {
    let (_, lines) = seeds();
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    let mut parsed = 0;
    for _ in 0..6000 {
        let seed = &lines[rng.below(lines.len())];
        let other = &lines[rng.below(lines.len())];
        let m = mutate(&mut rng, seed, other, TOKENS);
        if parse_candidate(&m).is_ok() {
            parsed += 1;
        }
        exercise_candidate(&m);
    }
    // The mutations are mild enough that some still parse (the round trip above is exercised).
    assert!(parsed > 100, "only {parsed} mutated candidates parsed");
}

#[test]
fn mutated_urls_never_panic() {
    let seeds = [
        "turn:user:p%40ss@127.0.0.1:3478?transport=udp",
        "turn:user:pass:10.0.0.1:3478",
        "stun:[::1]:3478",
        "turns:u:p@turn.example.com:443?transport=tcp",
        "http://u:secret@host:8889/cam/?token=x#f",
        "wss://[2001:db8::1]:8889/cam/ws",
        "1700000000:alice",
    ];
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    for _ in 0..4000 {
        let seed = seeds[rng.below(seeds.len())];
        let other = seeds[rng.below(seeds.len())];
        exercise_strings(&mutate(&mut rng, seed, other, TOKENS));
    }
}

#[test]
fn pathological_inputs() {
    let huge_ws = " ".repeat(2 << 20);
    let deep_arrays = "[".repeat(100_000);
    let deep_objects = r#"{"a":"#.repeat(50_000);
    let long_candidate = format!(
        "candidate:{} 1 udp 1 1.2.3.4 5 typ host",
        "f".repeat(1 << 20)
    );
    for s in [
        huge_ws.as_str(),
        deep_arrays.as_str(),
        deep_objects.as_str(),
        long_candidate.as_str(),
        "\u{feff}[]",
        "\0",
        "[\"\\ud800\"]",
    ] {
        exercise_message(s);
        exercise_candidate(s);
        exercise_strings(s);
    }
}
