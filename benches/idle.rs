//! The TUI when nothing happens: `cargo bench --bench idle`.
//!
//! The real binary runs its TUI in a tmux pane (a real terminal) against a WebSocket server on
//! loopback that accepts and then says nothing: no event arrives, only the TUI's own clock ticks.
//! Reported: the viewer's CPU over 10 s (utime + stime from /proc), as a share of one core, and the
//! same for `tmux` itself (the terminal it draws on) in the same run, as the reference.

use std::io::Read;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rtcscope");

fn cpu_ticks(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn pid_of(pattern: &str) -> Option<u32> {
    let out = Command::new("pgrep")
        .args(["-n", "-f", pattern])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn main() {
    if Command::new("tmux").arg("-V").output().is_err() {
        println!("idle: tmux is not installed; skipped");
        return;
    }
    // A WebSocket server that upgrades and stays silent.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            let mut s = s;
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]);
            let key = req
                .lines()
                .find_map(|l| {
                    l.strip_prefix("Sec-WebSocket-Key: ")
                        .or_else(|| l.strip_prefix("sec-websocket-key: "))
                })
                .unwrap_or("")
                .trim()
                .to_owned();
            let accept =
                tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
            let _ = std::io::Write::write_all(
                &mut s,
                format!(
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
                )
                .as_bytes(),
            );
            held.push(s);
        }
    });
    let sock = format!("rtcscope-idle-{}", std::process::id());
    let marker = format!("ws://127.0.0.1:{port}/idle/ws");
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .arg("-L")
            .arg(&sock)
            .args(args)
            .output()
            .expect("tmux")
    };
    tmux(&[
        "new-session",
        "-d",
        "-x",
        "160",
        "-y",
        "48",
        &format!("'{BIN}' --bind 127.0.0.1:0 --no-probe --handshake-timeout 1h '{marker}'"),
    ]);
    std::thread::sleep(Duration::from_secs(3));
    let viewer = pid_of(&marker).expect("the viewer runs");
    let server = pid_of(&format!("tmux -L {sock}")).expect("tmux runs");
    let hz = 100.0; // USER_HZ on Linux
    let (v0, s0, t0) = (
        cpu_ticks(viewer).unwrap_or(0),
        cpu_ticks(server).unwrap_or(0),
        Instant::now(),
    );
    std::thread::sleep(Duration::from_secs(10));
    let (v1, s1, secs) = (
        cpu_ticks(viewer).unwrap_or(0),
        cpu_ticks(server).unwrap_or(0),
        t0.elapsed().as_secs_f64(),
    );
    tmux(&["kill-server"]);
    let v = (v1 - v0) as f64 / hz / secs * 100.0;
    let s = (s1 - s0) as f64 / hz / secs * 100.0;
    println!(
        "idle over {secs:.0} s: rtcscope TUI {v:.2} % of a core (target < 0.5 %); tmux (its terminal) {s:.2} %; ratio {}",
        if s > 0.0 {
            format!("{:.2}", v / s)
        } else {
            "n/a (tmux used no measurable CPU)".into()
        }
    );
}
