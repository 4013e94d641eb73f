//! The protocol layer against real transcripts from four WebRTC stacks
//! (`tests/fixtures/signaling`, see its README): every WebSocket frame parses to the expected
//! kind in the expected order, every candidate parses, and the writers round-trip.

use std::fs;
use std::path::{Path, PathBuf};

use rtcscope::event::{CandidateType, MessageKind};
use rtcscope::proto::candidate::{decode_priority, format_candidate, parse_candidate};
use rtcscope::proto::ice_server::{parse_cli_ice_server, unsupported_reason};
use rtcscope::proto::ws::{
    SignalMessage, answer_message, candidate_message, ice_servers_message, kind_of, offer_message,
    parse_message, strip_candidates,
};
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/signaling");

/// The fixture files whose name contains `marker`, sorted; fails clearly when the folder is missing.
fn fixture_files(marker: &str) -> Vec<PathBuf> {
    let dir = Path::new(FIXTURES);
    let entries = fs::read_dir(dir).unwrap_or_else(|e| {
        panic!(
            "signaling fixtures not found at {} ({e}); they are part of the repository (tests/fixtures/signaling)",
            dir.display()
        )
    });
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable fixture directory entry").path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".jsonl") && name.contains(marker)
        })
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no *{marker}*.jsonl fixtures in {}",
        dir.display()
    );
    files
}

/// One JSON record per non-empty line.
fn records(path: &Path) -> Vec<Value> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{} line {}: {e}", path.display(), i + 1))
        })
        .collect()
}

fn name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Whether the JSON text is compact (as the Node.js front end and the aiortc viewer write it),
/// rather than Python's `", "` / `": "` separators.
fn is_compact(text: &str) -> bool {
    serde_json::from_str::<Value>(text)
        .and_then(|v| serde_json::to_string(&v))
        .is_ok_and(|compact| compact == text)
}

/// Parse a candidate line and check that formatting it reads back the same; when the original has
/// only the tokens the formatter writes, the formatted text equals it (up to transport case).
fn check_candidate(line: &str, ctx: &str) -> rtcscope::event::Candidate {
    let c = parse_candidate(line).unwrap_or_else(|e| panic!("{ctx}: {line:?}: {e}"));
    let formatted = format_candidate(&c);
    assert_eq!(
        parse_candidate(&formatted).as_ref(),
        Ok(&c),
        "{ctx}: {formatted}"
    );
    let original = line.trim().trim_start_matches("a=");
    let dropped = ["generation", "ufrag", "network-id", "network-cost"];
    if !original.split(' ').any(|t| dropped.contains(&t)) {
        assert_eq!(
            formatted.to_ascii_lowercase(),
            original.to_ascii_lowercase(),
            "{ctx}"
        );
    }
    // The component in the priority agrees with the component field.
    assert_eq!(
        u16::from(decode_priority(c.priority).component),
        c.component,
        "{ctx}: {line}"
    );
    if c.typ == CandidateType::Relay {
        assert!(
            c.related_address.is_some() && c.related_port.is_some(),
            "{ctx}: {line}"
        );
    }
    if c.protocol == "tcp" {
        assert!(c.tcp_type.is_some(), "{ctx}: {line}");
    }
    c
}

#[test]
fn websocket_transcripts_parse_in_protocol_order() {
    let mut frames_seen = 0;
    let mut candidates_seen = 0;
    for path in fixture_files("-ws") {
        let file = name(&path);
        let recs = records(&path);
        assert!(recs.len() >= 4, "{file}: only {} frames", recs.len());
        let mut kinds = Vec::new();
        let mut answer_at = None;
        let mut ufrag_of_answer = None;
        for (i, rec) in recs.iter().enumerate() {
            let ctx = format!("{file} frame {i}");
            let dir = rec["dir"]
                .as_str()
                .unwrap_or_else(|| panic!("{ctx}: no dir"));
            let text = rec["text"]
                .as_str()
                .unwrap_or_else(|| panic!("{ctx}: no text"));
            let msg = parse_message(text).unwrap_or_else(|e| panic!("{ctx}: {e}: {text:.120}"));
            let kind = kind_of(&msg);
            kinds.push((dir.to_owned(), kind));
            frames_seen += 1;
            match &msg {
                SignalMessage::IceServers(entries) => {
                    assert_eq!(
                        parse_message(&ice_servers_message(entries)).as_ref(),
                        Ok(&msg),
                        "{ctx}"
                    );
                    if is_compact(text) {
                        assert_eq!(ice_servers_message(entries), text, "{ctx}");
                    }
                    // Every URL the fixtures' servers send is usable by webrtc-rs and parses as a
                    // command-line URL with the entry's credentials.
                    for e in entries {
                        for url in &e.urls {
                            assert_eq!(unsupported_reason(url), None, "{ctx}: {url}");
                            let spec = parse_cli_ice_server(
                                url,
                                e.username.as_deref(),
                                e.credential.as_deref(),
                            )
                            .unwrap_or_else(|err| panic!("{ctx}: {url}: {err}"));
                            assert_eq!(spec.urls, vec![url.clone()], "{ctx}");
                        }
                    }
                }
                SignalMessage::Offer { sdp } => {
                    assert!(sdp.starts_with("v=0\r\n"), "{ctx}");
                    if is_compact(text) {
                        assert_eq!(offer_message(sdp), text, "{ctx}");
                    }
                    assert_eq!(
                        parse_message(&offer_message(sdp)).as_ref(),
                        Ok(&msg),
                        "{ctx}"
                    );
                }
                SignalMessage::Answer { sdp } => {
                    answer_at = Some(i);
                    if is_compact(text) {
                        assert_eq!(answer_message(sdp), text, "{ctx}");
                    }
                    assert_eq!(
                        parse_message(&answer_message(sdp)).as_ref(),
                        Ok(&msg),
                        "{ctx}"
                    );
                    // The WebSocket front end stripped the candidates, as the legacy server did.
                    assert_eq!(strip_candidates(sdp), *sdp, "{ctx}");
                    ufrag_of_answer = sdp
                        .lines()
                        .find_map(|l| l.strip_prefix("a=ice-ufrag:"))
                        .map(str::to_owned);
                }
                SignalMessage::Candidate(cm) => {
                    candidates_seen += 1;
                    let c = check_candidate(&cm.candidate, &ctx);
                    assert_eq!(cm.sdp_mid.as_deref(), Some("0"), "{ctx}");
                    assert_eq!(cm.sdp_mline_index, Some(0), "{ctx}");
                    // A ufrag inside the candidate line agrees with usernameFragment and, for the
                    // sender's candidates, with the answer's a=ice-ufrag.
                    let tokens: Vec<&str> = cm.candidate.split(' ').collect();
                    if let Some(pos) = tokens.iter().position(|t| *t == "ufrag") {
                        let ufrag = tokens.get(pos + 1).copied();
                        assert_eq!(cm.username_fragment.as_deref(), ufrag, "{ctx}");
                        if dir == "in" {
                            assert_eq!(ufrag_of_answer.as_deref(), ufrag, "{ctx}");
                        }
                    }
                    assert_eq!(
                        parse_message(&candidate_message(cm)).as_ref(),
                        Ok(&msg),
                        "{ctx}"
                    );
                    let has_all_keys = text.contains("\"usernameFragment\"");
                    if is_compact(text) && has_all_keys {
                        assert_eq!(candidate_message(cm), text, "{ctx}");
                    }
                    if c.typ == CandidateType::Host {
                        assert!(c.related_address.is_none(), "{ctx}");
                    }
                }
            }
        }
        // Order: ICE servers (in), offer (out), the viewer's candidates (out), exactly one answer
        // (in), then the sender's candidates (in). No other kinds, no end-of-candidates.
        assert_eq!(
            kinds[0],
            ("in".to_owned(), MessageKind::IceServers),
            "{file}"
        );
        assert_eq!(kinds[1], ("out".to_owned(), MessageKind::Offer), "{file}");
        let answer_at = answer_at.unwrap_or_else(|| panic!("{file}: no answer"));
        for (i, (dir, kind)) in kinds.iter().enumerate().skip(2) {
            if i == answer_at {
                assert_eq!((dir.as_str(), *kind), ("in", MessageKind::Answer), "{file}");
                continue;
            }
            assert_eq!(*kind, MessageKind::Candidate, "{file} frame {i}");
            if dir == "in" {
                assert!(
                    i > answer_at,
                    "{file} frame {i}: sender candidate before the answer"
                );
            }
        }
        assert!(
            kinds
                .iter()
                .any(|(d, k)| d == "in" && *k == MessageKind::Candidate),
            "{file}: the sender trickled no candidate"
        );
        assert!(
            kinds
                .iter()
                .any(|(d, k)| d == "out" && *k == MessageKind::Candidate),
            "{file}: the viewer trickled no candidate"
        );
    }
    assert!(frames_seen >= 60, "{frames_seen} frames");
    assert!(candidates_seen >= 40, "{candidates_seen} candidates");
}

#[test]
fn whep_transcripts_candidates_parse() {
    for path in fixture_files("-whep") {
        let file = name(&path);
        let mut in_answer = 0;
        let mut in_patch = 0;
        for (i, rec) in records(&path).iter().enumerate() {
            let method = rec["method"].as_str().unwrap_or("?");
            for (which, body) in [
                ("request", &rec["request_body"]),
                ("response", &rec["response_body"]),
            ] {
                let Some(body) = body.as_str() else { continue };
                let ctx = format!("{file} #{i} {method} {which}");
                let lines: Vec<&str> = body
                    .split("\r\n")
                    .filter(|l| l.starts_with("a=candidate:"))
                    .collect();
                for line in &lines {
                    check_candidate(line, &ctx);
                }
                match (method, which) {
                    ("POST", "response") => in_answer += lines.len(),
                    ("PATCH", "request") => in_patch += lines.len(),
                    _ => {}
                }
                // Stripping removes exactly the candidate and end-of-candidates lines.
                let stripped = strip_candidates(body);
                let eoc = body
                    .split("\r\n")
                    .filter(|l| *l == "a=end-of-candidates")
                    .count();
                assert!(!stripped.contains("a=candidate:"), "{ctx}");
                assert!(!stripped.contains("a=end-of-candidates"), "{ctx}");
                assert_eq!(
                    stripped.len(),
                    body.len()
                        - lines.iter().map(|l| l.len() + 2).sum::<usize>()
                        - eoc * "a=end-of-candidates\r\n".len(),
                    "{ctx}"
                );
            }
        }
        assert!(in_answer > 0, "{file}: no candidates in the WHEP answer");
        assert!(in_patch > 0, "{file}: no candidates in the PATCH");
    }
}

/// The README's quirks, pinned so a fixture change is noticed.
#[test]
fn stack_quirks_are_as_documented() {
    let mut all = Vec::new();
    for path in fixture_files("-ws")
        .into_iter()
        .chain(fixture_files("-whep"))
    {
        let file = name(&path);
        for rec in records(&path) {
            for key in ["text", "request_body", "response_body"] {
                let Some(text) = rec[key].as_str() else {
                    continue;
                };
                // Candidate lines inside JSON frames or SDP bodies.
                let text = match parse_message(text) {
                    Ok(SignalMessage::Candidate(cm)) => cm.candidate,
                    Ok(SignalMessage::Offer { sdp } | SignalMessage::Answer { sdp }) => sdp,
                    _ => text.to_owned(),
                };
                for line in text.split("\r\n") {
                    if line.starts_with("candidate:") || line.starts_with("a=candidate:") {
                        let c = parse_candidate(line).expect("checked elsewhere");
                        all.push((file.clone(), line.to_owned(), c));
                    }
                }
            }
        }
    }
    let stack = |f: &str| f.split('-').next().unwrap_or("").to_owned();
    // GStreamer writes UDP/TCP in upper case; stored lower case.
    assert!(
        all.iter()
            .any(|(f, l, c)| stack(f) == "gst" && l.contains(" UDP ") && c.protocol == "udp")
    );
    assert!(all.iter().any(|(f, l, c)| stack(f) == "gst"
        && l.contains(" TCP ")
        && c.protocol == "tcp"
        && c.port == 9
        && c.tcp_type.as_deref() == Some("active")));
    // aiortc host priority survives as a full u32.
    assert!(all.iter().any(|(_, _, c)| c.priority == 2_130_706_431));
    // libwebrtc: bare IPv6 and relay-only raddr 0.0.0.0 rport 0 kept as given.
    assert!(all.iter().any(|(_, _, c)| c.address == "::1"));
    assert!(
        all.iter()
            .any(|(_, _, c)| c.related_address.as_deref() == Some("0.0.0.0")
                && c.related_port == Some(0))
    );
    // Only the documented addresses appear.
    for (f, l, c) in &all {
        assert!(
            ["127.0.0.1", "::1", "10.99.0.1"].contains(&c.address.as_str()),
            "{f}: {l}"
        );
    }
    // Never key on foundation: libwebrtc's two relay candidates share one.
    assert!(
        all.iter()
            .any(|(f, _, c)| stack(f) == "libwebrtc" && c.typ == CandidateType::Relay)
    );
}
