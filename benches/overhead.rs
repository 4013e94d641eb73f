//! Benchmarks, reported as ratios against a reference measured in the same run (machines are shared and
//! noisy; absolute numbers mean little). Run with `cargo bench --bench overhead`.
//!
//! 1. Reducer: replaying a recorded session through `Model::apply`, against parsing the same NDJSON lines
//!    (the work any consumer must do anyway).
//! 2. Viewer CPU: `rtcscope --headless` receiving the built-in sender's 2 Mbit/s stream on 127.0.0.1 for
//!    a fixed time, against the sender's own CPU in the same run (both from /proc, utime + stime).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rtcscope::event::Stamped;
use rtcscope::model::Model;

const BIN: &str = env!("CARGO_BIN_EXE_rtcscope");

fn recorded() -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/events/demo-5s.ndjson"
    );
    std::fs::read_to_string(path)
        .expect("recorded session")
        .lines()
        .map(str::to_owned)
        .collect()
}

fn reducer() {
    let lines = recorded();
    let events: Vec<Stamped> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("event"))
        .collect();
    let rounds = 2000;
    // Reference: parsing.
    let t = Instant::now();
    let mut n = 0usize;
    for _ in 0..rounds {
        for l in &lines {
            let e: Stamped = serde_json::from_str(l).expect("event");
            n += e.seq as usize & 1;
        }
    }
    let parse = t.elapsed();
    // Under test: the reducer, on a model that keeps growing across rounds (ring buffers at work).
    let mut model = Model::new();
    let t = Instant::now();
    for r in 0..rounds {
        for e in &events {
            let mut e = e.clone();
            e.seq += (r * events.len()) as u64;
            model.apply(&e);
        }
    }
    let apply = t.elapsed();
    let per_event = apply.as_secs_f64() / (rounds * events.len()) as f64;
    println!(
        "reducer: {} events, Model::apply {:.2} µs/event = {:.2}× the time to parse the same NDJSON line ({n})",
        rounds * events.len(),
        per_event * 1e6,
        apply.as_secs_f64() / parse.as_secs_f64()
    );
}

/// User + system CPU seconds of a process, from /proc/<pid>/stat.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0) // USER_HZ is 100 on Linux
}

fn viewer_cpu() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let mut sender = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--bitrate",
            "2M",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut viewer = Command::new(BIN)
        .args([
            "--headless",
            "--duration",
            "12s",
            &format!("ws://127.0.0.1:{port}/cam/ws"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("viewer");
    // Measure a steady 10 s window after setup.
    std::thread::sleep(Duration::from_secs(1));
    let (v0, s0) = (cpu_seconds(viewer.id()), cpu_seconds(sender.id()));
    std::thread::sleep(Duration::from_secs(10));
    let (v1, s1) = (cpu_seconds(viewer.id()), cpu_seconds(sender.id()));
    let _ = viewer.wait();
    let _ = sender.kill();
    let _ = sender.wait();
    match (v0, v1, s0, s1) {
        (Some(v0), Some(v1), Some(s0), Some(s1)) => {
            let (v, s) = (v1 - v0, s1 - s0);
            println!(
                "viewer CPU: {:.2} s per 10 s receiving 2 Mbit/s = {:.2}× the sender's {:.2} s in the same run",
                v,
                if s > 0.0 { v / s } else { f64::NAN },
                s
            );
        }
        _ => println!("viewer CPU: /proc not readable, skipped"),
    }
}

fn main() {
    reducer();
    viewer_cpu();
}
