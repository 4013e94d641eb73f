//! The end-of-session report: text snapshots of recorded sessions, every JSON report valid against
//! `schema/report.schema.json`, and `--report`/`--events` through the real binary (stdout carries only the
//! report, the events go to the file, the exit code is the session's).

use crate::support::diagnosis as diagnosis_support;

use std::process::Command;

use diagnosis_support::{BIN, fixture_dir, free_port, load_fixture};
use rtcscope::analysis::Analysis;
use rtcscope::cli::ReportFormat;
use rtcscope::event::{Event, Stamped};
use rtcscope::report::{build, dto::Report, render};

fn schema() -> jsonschema::Validator {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/report.schema.json");
    let text = std::fs::read_to_string(&path).expect("schema/report.schema.json");
    let value: serde_json::Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::validator_for(&value).expect("a valid JSON Schema")
}

fn validate(v: &jsonschema::Validator, json: &str, what: &str) {
    let value: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{what}: {e}"));
    let errors: Vec<String> = v
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:#?}");
}

fn fixtures() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixture_dir())
        .expect("fixtures")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".ndjson").map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// The text report with the version redacted.
fn text_of(name: &str) -> String {
    let report = build(&Analysis::from_events(&load_fixture(name)));
    render(&report, ReportFormat::Text).replace(env!("CARGO_PKG_VERSION"), "[version]")
}

#[test]
fn every_recorded_session_gives_a_schema_valid_json_report() {
    let v = schema();
    for name in fixtures() {
        let report = build(&Analysis::from_events(&load_fixture(&name)));
        let json = render(&report, ReportFormat::Json);
        validate(&v, &json, &name);
        let back: Report = serde_json::from_str(&json).expect("round trip");
        assert_eq!(back, report, "{name}");
        assert_eq!(
            back.schema_version,
            rtcscope::report::dto::REPORT_SCHEMA_VERSION
        );
    }
}

#[test]
fn the_schema_rejects_what_is_not_a_report() {
    let v = schema();
    let report = build(&Analysis::from_events(&load_fixture("healthy-ws")));
    let mut value = serde_json::to_value(&report).expect("json");
    value["findings"][0]["severity"] = serde_json::json!("fatal");
    assert!(!v.is_valid(&value), "unknown severity accepted");
    let mut value = serde_json::to_value(&report).expect("json");
    value["schema_version"] = serde_json::json!(2);
    assert!(!v.is_valid(&value), "another schema version accepted");
    let mut value = serde_json::to_value(&report).expect("json");
    value.as_object_mut().expect("object").remove("outcome");
    assert!(!v.is_valid(&value), "a report without outcome accepted");
}

#[test]
fn json_report_contents() {
    let r = build(&Analysis::from_events(&load_fixture("natlab-scenario-8")));
    assert_eq!(r.outcome.exit_code, 4);
    assert_eq!(r.outcome.result, "ice_failed");
    assert_eq!(r.findings[0].id, "server-private-addresses");
    assert_eq!(r.findings[0].severity, "error");
    let a = r.attempt.as_ref().expect("an attempt");
    assert_eq!(a.remote_candidates.counts.host, 1);
    assert!(a.local_candidates.counts.srflx >= 1 && a.local_candidates.counts.relay >= 1);
    assert_eq!(r.restarts.total, 2);
    assert!(a.selected_pair.is_none());

    let r = build(&Analysis::from_events(&load_fixture("healthy-ws")));
    assert_eq!(r.outcome.exit_code, 0);
    assert_eq!(r.findings.len(), 1);
    assert_eq!(r.findings[0].id, "healthy");
    let a = r.attempt.as_ref().expect("an attempt");
    let names: Vec<&str> = a.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names.first(), Some(&"signaling"));
    assert_eq!(names.last(), Some(&"media"));
    assert!(
        a.phases.windows(2).all(|w| w[0].t_ms <= w[1].t_ms),
        "the timeline is in time order"
    );
    assert!(a.selected_pair.is_some() && a.transport.is_some());
    assert_eq!(r.tracks.len(), 1);
    assert!(r.tracks[0].keyframes >= 1 && r.tracks[0].bitrate_bps > 1e6);

    let r = build(&Analysis::from_events(&load_fixture("dtls-failed")));
    assert_eq!(
        (r.outcome.exit_code, r.outcome.result.as_str()),
        (5, "dtls_failed")
    );
    let r = build(&Analysis::from_events(&load_fixture("no-media")));
    assert_eq!(
        (r.outcome.exit_code, r.outcome.result.as_str()),
        (6, "no_media")
    );
    let r = build(&Analysis::from_events(&load_fixture("whep-401")));
    assert_eq!(
        (r.outcome.exit_code, r.outcome.result.as_str()),
        (3, "signaling_failed")
    );
    let r = build(&Analysis::from_events(&load_fixture("whep-codec-rejected")));
    assert_eq!(r.outcome.exit_code, 4, "a WHEP 201 is an answer");
}

/// A relay over TURN/TLS (recorded against coturn): the relay protocol in the report, text and JSON,
/// and the TURN URL without its credential.
#[test]
fn the_relay_protocol_is_in_the_report() {
    let r = build(&Analysis::from_events(&load_fixture("turn-tls-healthy")));
    let a = r.attempt.as_ref().expect("an attempt");
    let relays: Vec<_> = a
        .local_candidates
        .list
        .iter()
        .filter(|c| c.typ == "relay")
        .collect();
    assert!(!relays.is_empty());
    assert!(
        relays
            .iter()
            .all(|c| c.relay_protocol.as_deref() == Some("tls")),
        "{relays:#?}"
    );
    let pair = a.selected_pair.as_ref().expect("a selected pair");
    assert_eq!(pair.local_relay_protocol.as_deref(), Some("tls"));
    let text = render(&r, ReportFormat::Text);
    assert!(text.contains("relayProtocol tls"), "{text}");
    assert!(text.contains("via turns:127.0.0.1:"), "{text}");
    let json = render(&r, ReportFormat::Json);
    validate(&schema(), &json, "turn-tls-healthy");
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(
        v["attempt"]["selected_pair"]["local_relay_protocol"], "tls",
        "{json}"
    );
    for out in [&text, &json] {
        assert!(!out.contains("secret"), "{out}");
    }
    // The refused certificate is named in the report.
    let r = build(&Analysis::from_events(&load_fixture("turn-tls-untrusted")));
    let text = render(&r, ReportFormat::Text);
    assert!(text.contains("unknown CA"), "{text}");
    assert!(text.contains("--insecure"), "{text}");
}

/// This host's own drops (recorded: `serve --bitrate 50M` into a 4 KiB receive buffer) are in the
/// report apart from the tracks' loss, with the buffer granted.
#[test]
fn the_receive_path_is_in_the_report() {
    let r = build(&Analysis::from_events(&load_fixture("host-receive-drops")));
    let rp = r
        .attempt
        .as_ref()
        .and_then(|a| a.receive_path.as_ref())
        .expect("receive path");
    assert_eq!((rp.sockets, rp.wanted_bytes), (1, 4096), "{rp:?}");
    assert!(rp.host_drops > 0, "{rp:?}");
    let text = render(&r, ReportFormat::Text);
    assert!(
        text.contains(&format!(
            "this host dropped {} datagrams in them (counted by the stack as lost, not lost by the network)",
            rp.host_drops
        )),
        "{text}"
    );
    // A session without such an event has no receive path, and says nothing about it.
    let r = build(&Analysis::from_events(&load_fixture("healthy-ws")));
    assert!(r.attempt.as_ref().is_some_and(|a| a.receive_path.is_none()));
    assert!(!render(&r, ReportFormat::Text).contains("receive buffers:"));
}

#[test]
fn text_reports() {
    let settings = {
        let mut s = insta::Settings::clone_current();
        s.set_snapshot_path(fixture_dir().join("snapshots"));
        s.set_prepend_module_to_snapshot(false);
        s
    };
    settings.bind(|| {
        for name in [
            "healthy-ws",
            "natlab-scenario-8",
            "whep-401",
            "ws-close-after-offer",
        ] {
            insta::assert_snapshot!(format!("report-{name}"), text_of(name));
        }
    });
}

#[test]
fn the_text_report_starts_with_the_verdict_and_is_safe_for_a_terminal() {
    for name in fixtures() {
        let text = text_of(&name);
        assert!(
            text.starts_with("VERDICT ("),
            "{name}: {}",
            &text[..text.len().min(80)]
        );
        assert!(
            !text
                .chars()
                .any(|c| c == '\u{1b}' || (c.is_control() && c != '\n')),
            "{name}: a control character reached the text report"
        );
    }
    // Hostile strings in events are shown escaped.
    let mut events = load_fixture("ws-protocol-error");
    for e in events.iter_mut() {
        if let Event::Restart { cause, .. } = &mut e.event {
            *cause = rtcscope::event::RestartCause::ProtocolError {
                phase: rtcscope::event::Phase::AwaitingIceServers,
                error: "bad \u{1b}[2J\u{1b}]0;pwned\u{7}".into(),
            };
        }
    }
    let text = render(&build(&Analysis::from_events(&events)), ReportFormat::Text);
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(text.contains("\\x1b[2J"), "{text}");
}

#[test]
fn an_empty_or_truncated_stream_still_reports() {
    let r = build(&Analysis::new());
    assert!(r.findings.is_empty() && r.attempt.is_none());
    let text = render(&r, ReportFormat::Text);
    assert!(
        text.starts_with("VERDICT (none)") || text.starts_with("VERDICT: none"),
        "{text}"
    );
    validate(&schema(), &render(&r, ReportFormat::Json), "empty");
    // Cut a session anywhere (Ctrl-C before `ended` was seen): still a valid report.
    let events = load_fixture("healthy-ws");
    let v = schema();
    for cut in [1, 5, 12, 20] {
        let part: Vec<Stamped> = events.iter().take(cut).cloned().collect();
        validate(
            &v,
            &render(&build(&Analysis::from_events(&part)), ReportFormat::Json),
            &format!("cut at {cut}"),
        );
    }
}

#[test]
fn binary_report_text_replaces_ndjson_and_keeps_the_exit_code() {
    let out = Command::new(BIN)
        .args([
            "demo",
            "--headless",
            "--bind",
            "127.0.0.1:0",
            "--duration",
            "3s",
            "--report",
            "text",
        ])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.starts_with("VERDICT (OK): Healthy"), "{text}");
    assert!(
        !text.lines().any(|l| l.starts_with("{\"seq\"")),
        "no NDJSON with --report: {text}"
    );
    for section in [
        "FINDINGS",
        "TIMELINE",
        "CANDIDATES",
        "SELECTED PAIR",
        "TRACKS",
        "RESTARTS",
    ] {
        assert!(text.contains(section), "{section} missing: {text}");
    }
}

#[test]
fn binary_report_json_with_events_file_on_a_failed_session() {
    let dir = std::env::temp_dir().join(format!("rtcscope-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let events_path = dir.join("events.ndjson");
    let port = free_port(); // nothing listens there
    let out = Command::new(BIN)
        .args([
            "--report",
            "json",
            "--events",
            events_path.to_str().expect("utf-8 path"),
            "--max-restarts",
            "1",
            "--restart-pause",
            "100ms",
            &format!("ws://127.0.0.1:{port}/cam/ws"),
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3), "signaling failed → 3");
    let json = String::from_utf8(out.stdout).expect("utf-8");
    validate(&schema(), &json, "binary --report json");
    let r: Report = serde_json::from_str(&json).expect("report");
    assert_eq!(r.outcome.exit_code, 3);
    assert_eq!(r.findings[0].id, "signaling-unreachable");
    assert_eq!(r.findings[0].severity, "critical");
    let saved = std::fs::read_to_string(&events_path).expect("events file");
    let events: Vec<Stamped> = saved
        .lines()
        .map(|l| serde_json::from_str(l).expect("an event per line"))
        .collect();
    assert!(matches!(events[0].event, Event::SessionStarted { .. }));
    assert!(matches!(
        events.last().map(|e| &e.event),
        Some(Event::Ended { .. })
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn binary_report_on_sigterm() {
    let mut child = Command::new(BIN)
        .args([
            "demo",
            "--headless",
            "--bind",
            "127.0.0.1:0",
            "--report",
            "text",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(std::time::Duration::from_secs(3));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let mut text = String::new();
    use std::io::Read as _;
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut text)
        .expect("read");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0), "{text}");
    assert!(text.starts_with("VERDICT (OK)"), "{text}");
    assert!(text.contains("ended: interrupted"), "{text}");
}
