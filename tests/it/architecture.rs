//! The layering rules, checked on the source tree so a violation fails CI:
//! - the module graph (which top-level module of `src/` names which) follows [`LAYERS`], a table of
//!   what each module may import, and has no cycle;
//! - webrtc-rs (`webrtc::`, `rtc::`) is called only from `src/webrtc_adapter/`;
//! - the engine and the pure layers never import the terminal crates, nor clap;
//! - the pure layers never read the clock or open sockets.
//!
//! The graph is read from the code as text: every `crate::name` path (including `use crate::{a, b}`
//! groups) outside comments and string literals is an edge from the file's top-level module to
//! `name`. `ARCHITECTURE.md` explains the layers this table encodes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What each top-level module of `src/` may import, lowest layers first. A module missing from this
/// table fails the test: a new module must be placed in the layering on purpose.
const LAYERS: &[(&str, &[&str])] = &[
    // Leaves: pure helpers.
    ("sanitize", &[]),
    ("format", &[]),
    ("tls", &[]),
    ("settings", &[]),
    // The event contract every layer above speaks, and the secret-masking layer over it.
    ("event", &["sanitize", "format"]),
    ("secrets", &["event"]),
    ("recording", &["event", "secrets", "sanitize"]),
    // Pure protocol code: parsers and writers, the restart policy, the sans-IO signaling clients.
    ("proto", &["event", "sanitize"]),
    ("session", &["event"]),
    (
        "signaling",
        &["event", "proto", "session", "sanitize", "secrets"],
    ),
    ("checklist", &["event"]),
    // The one fold of the event stream and what reads it.
    ("model", &["event", "proto", "sanitize", "format"]),
    (
        "diagnosis",
        &["event", "model", "proto", "sanitize", "format"],
    ),
    ("analysis", &["event", "model", "diagnosis"]),
    (
        "report",
        &[
            "event",
            "model",
            "diagnosis",
            "analysis",
            "sanitize",
            "format",
        ],
    ),
    // I/O: the WebRTC stack's adapter, the probe, the engine, the built-in sender.
    (
        "webrtc_adapter",
        &["event", "proto", "sanitize", "format", "tls"],
    ),
    (
        "probe",
        &["event", "proto", "sanitize", "tls", "webrtc_adapter"],
    ),
    (
        "engine",
        &[
            "event",
            "proto",
            "session",
            "signaling",
            "checklist",
            "sanitize",
            "secrets",
            "format",
            "tls",
            "webrtc_adapter",
            "probe",
        ],
    ),
    (
        "serve",
        &["event", "proto", "sanitize", "format", "webrtc_adapter"],
    ),
    // The terminal UI: reads the analysis, sends the engine its commands.
    (
        "tui",
        &[
            "event",
            "model",
            "diagnosis",
            "analysis",
            "engine",
            "sanitize",
            "format",
        ],
    ),
    // The edge: command line, configuration, logging, the application.
    ("cli", &["report", "serve", "settings", "webrtc_adapter"]),
    (
        "config",
        &["cli", "engine", "proto", "session", "tls", "webrtc_adapter"],
    ),
    ("logging", &["engine", "secrets"]),
    // The Prometheus exporter: parses a scrape as the command line, runs the engine, reports.
    (
        "exporter",
        &[
            "analysis", "cli", "config", "engine", "event", "report", "sanitize", "secrets",
            "settings",
        ],
    ),
    (
        "app",
        &[
            "analysis",
            "cli",
            "config",
            "diagnosis",
            "engine",
            "event",
            "exporter",
            "model",
            "probe",
            "proto",
            "recording",
            "report",
            "sanitize",
            "serve",
            "settings",
            "tls",
            "tui",
        ],
    ),
];

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

/// A line with the contents of its `"…"` string literals removed (escapes honoured) and any `//`
/// comment after the code cut off; good enough for this check, which only looks for paths.
fn strip_strings(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_str = false;
    let mut esc = false;
    let mut prev = '\0';
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
            (false, '/') if prev == '/' => {
                out.pop();
                break;
            }
            (false, c) => out.push(c),
        }
        prev = if in_str { '\0' } else { ch };
    }
    out
}

#[test]
fn string_literals_and_comments_are_ignored_but_paths_are_not() {
    assert_eq!(
        strip_strings(r#"let a = "webrtc::x"; use webrtc::y;"#),
        r#"let a = ""; use webrtc::y;"#
    );
    assert_eq!(strip_strings(r#""a\"b" rtc::c"#), r#""" rtc::c"#);
    assert_eq!(strip_strings(r#"f("//"); // crate::x"#), r#"f(""); "#);
}

/// Whether a file of `src/` is test-only code (a `tests.rs` module, or the test event builders the
/// unit tests share with the integration tests): it is not part of the release module graph.
fn is_test_only(rel: &str) -> bool {
    rel.ends_with("/tests.rs") || rel.contains("/tests/") || rel == "test_events.rs"
}

/// `code` without its `#[cfg(test)]` tail: by this crate's convention the unit-test module closes a
/// file, and it may reach up the layers (a diagnosis test folds events through the analysis).
fn release_part(code: &str) -> &str {
    code.find("#[cfg(test)]\nmod ").map_or(code, |i| &code[..i])
}

/// Every source file of the release library: (path relative to `src/`, its code without comments,
/// string literals and unit tests).
fn sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&root)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&p).expect("read");
            let code = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .map(strip_strings)
                .collect::<Vec<_>>()
                .join("\n");
            let code = release_part(&code).to_owned();
            (rel, code)
        })
        .filter(|(rel, _)| !is_test_only(rel))
        .collect()
}

/// The top-level module a file of `src/` belongs to (`engine/whep.rs` → `engine`); `None` for the
/// crate root and the binary.
fn module_of(rel: &str) -> Option<String> {
    let first = rel.split('/').next()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!["lib", "main"].contains(&name)).then(|| name.to_owned())
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The top-level modules `code` names through `crate::`, including `crate::{a::b, c}` groups.
fn crate_refs(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        // `crate` must start a path, not end another identifier (`mycrate::`).
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(is_ident) {
            continue;
        }
        let trimmed = rest.trim_start();
        if let Some(group) = trimmed.strip_prefix('{') {
            // Split the group's top level on commas; each item's first segment is a module.
            let mut depth = 0usize;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        item.push(c);
                    }
                    '}' if depth == 0 => break,
                    '}' => {
                        depth -= 1;
                        item.push(c);
                    }
                    ',' if depth == 0 => {
                        push_first_segment(&item, &mut out);
                        item.clear();
                    }
                    _ => item.push(c),
                }
            }
            push_first_segment(&item, &mut out);
        } else {
            push_first_segment(trimmed, &mut out);
        }
    }
    out
}

fn push_first_segment(item: &str, out: &mut BTreeSet<String>) {
    let name: String = item
        .trim_start()
        .chars()
        .take_while(|&c| is_ident(c))
        .collect();
    if !name.is_empty() && name != "self" {
        out.insert(name);
    }
}

#[test]
fn crate_paths_are_read_from_code() {
    let refs = crate_refs(
        "use crate::event::{Event, Stamped};\nuse crate::{model::Model, tui::{a, b}};\n\
         let x = crate::probe::run(); mycrate::nope();",
    );
    let want: BTreeSet<String> = ["event", "model", "probe", "tui"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(refs, want);
}

/// The module graph of the tree: module → the modules it names (itself excluded).
fn module_graph(files: &[(String, String)]) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, code) in files {
        let Some(module) = module_of(rel) else {
            continue;
        };
        let refs = crate_refs(code);
        let entry = graph.entry(module.clone()).or_default();
        entry.extend(refs.into_iter().filter(|r| *r != module));
    }
    graph
}

/// One cycle of `graph`, as the path that closes it, if there is any.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = stack.iter().position(|n| n == node).unwrap_or(0);
                let mut cycle = stack[start..].to_vec();
                cycle.push(node.to_owned());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.to_owned(), Mark::Open);
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, marks, stack) {
                return Some(c);
            }
        }
        stack.pop();
        marks.insert(node.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        let mut stack = Vec::new();
        if let Some(c) = visit(node, graph, &mut marks, &mut stack) {
            return Some(c);
        }
    }
    None
}

fn graph_of(edges: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
    edges
        .iter()
        .map(|(m, deps)| {
            (
                (*m).to_owned(),
                deps.iter().map(|d| (*d).to_owned()).collect(),
            )
        })
        .collect()
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let acyclic = graph_of(&[("a", &["b", "c"]), ("b", &["c"]), ("c", &[])]);
    assert_eq!(find_cycle(&acyclic), None);
    let cyclic = graph_of(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"])]);
    let cycle = find_cycle(&cyclic).expect("a → b → c → a");
    assert_eq!(cycle.first(), cycle.last());
    assert_eq!(cycle.len(), 4, "{cycle:?}");
    let self_loop_free = graph_of(&[("model", &["diagnosis"]), ("diagnosis", &["model"])]);
    assert!(find_cycle(&self_loop_free).is_some());
}

#[test]
fn the_layer_table_itself_has_no_cycle() {
    assert_eq!(find_cycle(&graph_of(LAYERS)), None);
}

#[test]
fn the_module_graph_has_no_cycle() {
    let graph = module_graph(&sources());
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "the module graph has a cycle: {}. Cut one edge (see ARCHITECTURE.md).",
            cycle.join(" → ")
        );
    }
}

#[test]
fn every_import_is_allowed_by_the_layer_table() {
    let graph = module_graph(&sources());
    let table = graph_of(LAYERS);
    let mut problems = Vec::new();
    for (module, deps) in &graph {
        let Some(allowed) = table.get(module) else {
            problems.push(format!(
                "`{module}` is not in LAYERS: place it in the table (tests/architecture.rs)"
            ));
            continue;
        };
        for dep in deps {
            if !allowed.contains(dep) {
                problems.push(format!(
                    "`{module}` imports `{dep}`, which LAYERS does not allow"
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "layering violations:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_layer_table_names_only_modules_that_exist() {
    let graph = module_graph(&sources());
    let stale: Vec<&str> = LAYERS
        .iter()
        .map(|(m, _)| *m)
        .filter(|m| !graph.contains_key(*m))
        .collect();
    assert!(
        stale.is_empty(),
        "LAYERS names modules src/ lacks: {stale:?}"
    );
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

fn in_modules(path: &str, modules: &[&str]) -> bool {
    module_of(path).is_some_and(|m| modules.contains(&m.as_str()))
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

/// Modules below the terminal UI and the command line.
const BELOW_THE_EDGE: &[&str] = &[
    "sanitize",
    "secrets",
    "format",
    "tls",
    "event",
    "proto",
    "session",
    "signaling",
    "checklist",
    "model",
    "diagnosis",
    "analysis",
    "report",
    "webrtc_adapter",
    "probe",
    "engine",
    "serve",
];

#[test]
fn the_engine_and_pure_layers_never_touch_the_terminal_or_clap() {
    let files = sources();
    let v = violations(
        &files,
        |p| in_modules(p, BELOW_THE_EDGE),
        &["ratatui", "crossterm", "clap::", "use clap"],
    );
    assert!(
        v.is_empty(),
        "terminal or command-line crates below the edge: {v:?}"
    );
}

#[test]
fn pure_layers_have_no_clock_and_no_sockets() {
    let files = sources();
    let v = violations(
        &files,
        |p| {
            in_modules(
                p,
                &[
                    "sanitize",
                    "secrets",
                    "format",
                    "event",
                    "proto",
                    "session",
                    "signaling",
                    "checklist",
                    "model",
                    "diagnosis",
                    "analysis",
                    "report",
                ],
            )
        },
        &[
            "Instant::now",
            "SystemTime::now",
            "tokio::net",
            "tokio::time",
            "std::net::TcpStream",
            "std::net::UdpSocket",
            "reqwest",
            "tungstenite",
            "tokio::",
            "crate::webrtc_adapter",
        ],
    );
    assert!(v.is_empty(), "clock or socket in a pure layer: {v:?}");
}
