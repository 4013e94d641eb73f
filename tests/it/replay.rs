//! Record and replay (#14): a recording re-diagnosed gives the live run's report; newer recordings
//! are refused by name; a redacted recording keeps its diagnosis and loses its addresses and
//! secrets; the TUI plays a recording with pause, step and speed; completions and the man page.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::Duration;

use rtcscope::event::{Event, Stamped};

const BIN: &str = env!("CARGO_BIN_EXE_rtcscope");

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rtcscope-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    dir.join(name)
}

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/diagnosis")
        .join(name)
}

fn run(args: &[&str]) -> (String, String, Option<i32>) {
    let out = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

#[test]
fn a_replayed_recording_gives_the_live_runs_report_and_exit_code() {
    let events = temp("live.ndjson");
    let events_s = events.to_string_lossy().into_owned();
    let (live, _, live_code) = run(&[
        "demo",
        "--bind",
        "127.0.0.1:0",
        "--duration",
        "3s",
        "--report",
        "json",
        "--events",
        &events_s,
    ]);
    let (replayed, stderr, code) = run(&["replay", "--report", "json", &events_s]);
    assert_eq!(code, live_code, "{stderr}");
    let live: serde_json::Value = serde_json::from_str(&live).expect("live report");
    let replayed: serde_json::Value = serde_json::from_str(&replayed).expect("replayed report");
    assert!(
        live["verdicts"].as_array().is_some_and(|v| !v.is_empty())
            || live.get("findings").is_some()
    );
    assert_eq!(live, replayed);
    // Not a terminal and no --report: the text report.
    let (text, _, _) = run(&["replay", &events_s]);
    assert!(text.contains("VERDICT"), "{text}");
}

#[test]
fn a_recording_from_a_newer_schema_is_refused_by_name_and_garbage_by_line() {
    let newer = temp("newer.ndjson");
    std::fs::write(
        &newer,
        r#"{"seq":0,"t_ms":0,"attempt":0,"type":"session_started","target":"x","protocol":"ws","wall_clock":"","unix_ms":0,"version":"9","schema_version":99}"#,
    )
    .expect("write");
    let (_, stderr, code) = run(&["replay", "--report", "text", &newer.to_string_lossy()]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("schema 99") && stderr.contains("upgrade rtcscope"),
        "{stderr}"
    );
    let garbage = temp("garbage.ndjson");
    std::fs::write(&garbage, "{\"seq\":0}\nnot json\n").expect("write");
    let (_, stderr, code) = run(&["replay", &garbage.to_string_lossy()]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("line 1"), "{stderr}");
    let (_, stderr, code) = run(&["replay", "/nonexistent/rec.ndjson"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("cannot read the recording"), "{stderr}");
}

fn addresses(events: &[Stamped]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for e in events {
        let c = match &e.event {
            Event::LocalCandidate { candidate, .. } => Some(candidate),
            Event::RemoteCandidate {
                candidate: Some(c), ..
            } => Some(c),
            _ => None,
        };
        if let Some(c) = c
            && !c.address.starts_with("127.")
            && c.address != "::1"
        {
            out.insert(c.address.clone());
        }
    }
    out
}

fn finding_ids(report: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(report).expect("report");
    let mut ids: Vec<String> = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

#[test]
fn a_redacted_recording_keeps_its_diagnosis_and_loses_addresses_and_secrets() {
    for name in [
        "natlab-scenario-2.ndjson",
        "natlab-scenario-8.ndjson",
        "natlab-symmetric-nat.ndjson",
        "natlab-udp-blocked.ndjson",
    ] {
        let src = fixture(name);
        let text = std::fs::read_to_string(&src).expect("fixture");
        let original: Vec<Stamped> = rtcscope::recording::parse(&text).expect("parse");
        let out = temp(&format!("redacted-{name}"));
        let (_, stderr, code) = run(&[
            "redact",
            &src.to_string_lossy(),
            "-o",
            &out.to_string_lossy(),
        ]);
        assert_eq!(code, Some(0), "{stderr}");
        let redacted_text = std::fs::read_to_string(&out).expect("redacted");
        let redacted = rtcscope::recording::parse(&redacted_text).expect("parse redacted");
        assert_eq!(redacted.len(), original.len());
        let before = addresses(&original);
        assert!(!before.is_empty(), "{name} has addresses");
        for a in &before {
            assert!(
                !redacted_text.contains(&format!("\"{a}\""))
                    && !redacted_text.contains(&format!(" {a} ")),
                "{name}: {a} is still there"
            );
        }
        // Consistent: as many distinct addresses after as before.
        assert_eq!(addresses(&redacted).len(), before.len(), "{name}");
        let (r1, _, _) = run(&["replay", "--report", "json", &src.to_string_lossy()]);
        let (r2, _, _) = run(&["replay", "--report", "json", &out.to_string_lossy()]);
        assert_eq!(finding_ids(&r1), finding_ids(&r2), "{name}: same verdicts");
    }
}

#[test]
fn completions_and_the_man_page_are_generated() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let (out, stderr, code) = run(&["completions", shell]);
        assert_eq!(code, Some(0), "{shell}: {stderr}");
        assert!(
            out.contains("replay") && out.contains("--ice-server"),
            "{shell}"
        );
    }
    let (man, _, code) = run(&["man"]);
    assert_eq!(code, Some(0));
    assert!(
        man.contains(".TH rtcscope 1") && man.contains("replay"),
        "{man}"
    );
    let (_, stderr, code) = run(&["completions", "tcsh"]);
    assert_eq!(code, Some(2), "{stderr}");
}

#[test]
fn the_tui_plays_a_recording_with_pause_step_and_speed() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("tmux is not installed: PTY test skipped");
        return;
    }
    let rec = fixture("healthy-ws.ndjson");
    let id = format!("rtcscope-replay-{}", std::process::id());
    let tmux = |args: &[&str]| {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&id)
            .args(args)
            .output()
            .expect("tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let screen = || tmux(&["capture-pane", "-p", "-t", "rt"]);
    let wait = |pred: &dyn Fn(&str) -> bool| {
        let start = std::time::Instant::now();
        loop {
            let s = screen();
            if pred(&s) || start.elapsed() > Duration::from_secs(20) {
                return s;
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    };
    tmux(&[
        "new-session",
        "-d",
        "-s",
        "rt",
        "-x",
        "100",
        "-y",
        "30",
        &format!("'{BIN}' replay --paused '{}'; sleep 30", rec.display()),
    ]);
    let s = wait(&|s| s.contains("paused"));
    assert!(s.contains("replay 1× · paused"), "{s}");
    // Paused at the start: nothing has been applied yet.
    assert!(!s.contains("✓ succeeded"), "{s}");
    // Steps deliver events one at a time; resuming at 64× plays the rest.
    for _ in 0..3 {
        tmux(&["send-keys", "-t", "rt", "."]);
    }
    for _ in 0..6 {
        tmux(&["send-keys", "-t", "rt", "+"]);
    }
    let s = wait(&|s| s.contains("64×"));
    assert!(s.contains("replay 64× · paused"), "{s}");
    tmux(&["send-keys", "-t", "rt", "p"]);
    let s = wait(&|s| s.contains("replay 64× (p"));
    assert!(!s.contains("· paused"), "{s}");
    tmux(&["send-keys", "-t", "rt", "q"]);
    std::thread::sleep(Duration::from_millis(500));
    let _ = tmux(&["kill-server"]);
}
