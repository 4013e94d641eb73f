//! The layering rules, checked on the source tree so a violation fails CI:
//! - webrtc-rs (`webrtc::`, `rtc::`) is called only from `src/webrtc_adapter/`;
//! - the engine and the pure layers never import the terminal crates;
//! - the pure layers (session, proto, model, event) never read the clock or open sockets.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let p = entry.expect("entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// A line with the contents of its `"…"` string literals removed (escapes honoured; good enough for
/// this check, which only looks for paths).
fn strip_strings(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_str = false;
    let mut esc = false;
    for ch in line.chars() {
        match (in_str, ch) {
            (true, '\\') if !esc => esc = true,
            (true, '"') if !esc => {
                in_str = false;
                out.push('"');
            }
            (true, _) => esc = false,
            (false, '"') => {
                in_str = true;
                out.push('"');
            }
            (false, c) => out.push(c),
        }
    }
    out
}

#[test]
fn string_literals_are_ignored_but_paths_are_not() {
    assert_eq!(
        strip_strings(r#"let a = "webrtc::x"; use webrtc::y;"#),
        r#"let a = ""; use webrtc::y;"#
    );
    assert_eq!(strip_strings(r#""a\"b" rtc::c"#), r#""" rtc::c"#);
}

fn sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&root)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&p).expect("read");
            // Ignore comments and string literals: the rules are about code.
            let code = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .map(strip_strings)
                .collect::<Vec<_>>()
                .join("\n");
            (rel, code)
        })
        .collect()
}

fn violations(
    files: &[(String, String)],
    applies: impl Fn(&str) -> bool,
    needles: &[&str],
) -> Vec<String> {
    let mut out = Vec::new();
    for (path, code) in files {
        if !applies(path) {
            continue;
        }
        for n in needles {
            if code.contains(n) {
                out.push(format!("{path}: {n}"));
            }
        }
    }
    out
}

#[test]
fn webrtc_rs_is_only_called_from_the_adapter() {
    let files = sources();
    let v = violations(
        &files,
        |p| !p.starts_with("webrtc_adapter/"),
        &["webrtc::", "rtc::", "use webrtc", "use rtc"],
    );
    assert!(
        v.is_empty(),
        "webrtc-rs used outside src/webrtc_adapter/: {v:?}"
    );
}

#[test]
fn the_engine_and_pure_layers_never_touch_the_terminal() {
    let files = sources();
    let v = violations(
        &files,
        |p| {
            [
                "engine/",
                "proto/",
                "model/",
                "webrtc_adapter/",
                "serve/",
                "report/",
            ]
            .iter()
            .any(|d| p.starts_with(d))
                || ["session.rs", "event.rs", "config.rs", "sanitize.rs"].contains(&p)
        },
        &["ratatui", "crossterm"],
    );
    assert!(v.is_empty(), "terminal crates outside the TUI: {v:?}");
}

#[test]
fn pure_layers_have_no_clock_and_no_sockets() {
    let files = sources();
    let v = violations(
        &files,
        |p| {
            ["proto/", "model/"].iter().any(|d| p.starts_with(d))
                || ["session.rs", "event.rs", "config.rs"].contains(&p)
        },
        &[
            "Instant::now",
            "SystemTime::now",
            "tokio::net",
            "std::net::TcpStream",
            "std::net::UdpSocket",
            "tokio::time",
        ],
    );
    assert!(v.is_empty(), "clock or socket in a pure layer: {v:?}");
}

#[test]
fn signaling_clients_are_sans_io_and_nothing_below_the_engine_imports_it() {
    let files = sources();
    // The signaling clients: no sockets, no runtime, no clock, no WebRTC stack, no engine.
    let v = violations(
        &files,
        |p| p.starts_with("signaling/"),
        &[
            "crate::engine",
            "crate::webrtc_adapter",
            "tokio",
            "reqwest",
            "tungstenite",
            "std::net",
            "Instant::now",
            "SystemTime::now",
        ],
    );
    assert!(v.is_empty(), "I/O in a signaling client: {v:?}");
    // Back-edges: the layers the engine drives never import it.
    let v = violations(
        &files,
        |p| {
            ["signaling/", "proto/", "webrtc_adapter/"]
                .iter()
                .any(|d| p.starts_with(d))
                || p == "session.rs"
        },
        &["crate::engine", "use super::super::engine"],
    );
    assert!(v.is_empty(), "imports the engine from below it: {v:?}");
}
