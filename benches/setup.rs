//! Setup time against an independent reference viewer, in one run: `cargo bench --bench setup`.
//!
//! The senders are `rtcscope serve` (VP8, then H.264) on 127.0.0.1. Each round runs, in alternating
//! order, the rtcscope viewer (`rtcscope --headless`, NDJSON events) and aiortc (`benches/aiortc_viewer.py`,
//! from PyPI: `pip install aiortc`) against the same sender over WHEP, and takes, from the start of
//! the negotiation, the time to the peer connection's `connected` and to the first RTP packet. Reported:
//! median and worst of each, and rtcscope ÷ aiortc (≤ 1.0: rtcscope is at least as fast). Absolute
//! numbers depend on the machine; the ratio is the result.
//!
//! `RTCSCOPE_SETUP_ROUNDS` (default 15) sets the rounds per sender. Without python3 and aiortc the
//! reference is skipped and only rtcscope's times are printed.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rtcscope");
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/aiortc_viewer.py");

/// One viewer's times in one round, in milliseconds.
#[derive(Debug, Clone, Copy)]
struct Times {
    connected: f64,
    first_rtp: f64,
}

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn serve(codec: &str) -> (Serve, String) {
    let port = free_port();
    let child = Command::new(BIN)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--codec", codec, "--bitrate", "1M"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn rtcscope serve");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "serve did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    (Serve(child), format!("http://127.0.0.1:{port}/cam/whep"))
}

/// rtcscope, headless: times from its session start (before the first signaling request).
fn rtcscope(url: &str) -> Option<Times> {
    let mut child = Command::new(BIN)
        .args(["--headless", "--no-probe", "--duration", "1500ms", url])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn rtcscope");
    let Some(out) = child.stdout.take() else {
        let _ = child.kill();
        let _ = child.wait();
        return None;
    };
    let (mut connected, mut first_rtp) = (None, None);
    for line in BufReader::new(out).lines().map_while(Result::ok) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let t = v["t_ms"].as_f64();
        match v["type"].as_str() {
            Some("state_changed")
                if v["kind"] == "peer_connection" && v["state"] == "connected" =>
            {
                connected = connected.or(t);
            }
            Some("first_media") => first_rtp = first_rtp.or(t),
            _ => {}
        }
    }
    let _ = child.wait();
    Some(Times {
        connected: connected?,
        first_rtp: first_rtp?,
    })
}

/// aiortc: times from just before its offer is created.
fn aiortc(url: &str) -> Option<Times> {
    let out = Command::new("python3")
        .args([SCRIPT, url, "10"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    Some(Times {
        connected: v["connected_ms"].as_f64()?,
        first_rtp: v["first_rtp_ms"].as_f64()?,
    })
}

fn aiortc_available() -> bool {
    Command::new("python3")
        .args(["-c", "import aiortc"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        f64::NAN
    } else if s.len() % 2 == 1 {
        s[s.len() / 2]
    } else {
        (s[s.len() / 2 - 1] + s[s.len() / 2]) / 2.0
    }
}

fn worst(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NAN, f64::max)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let rounds: usize = std::env::var("RTCSCOPE_SETUP_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    let reference = aiortc_available();
    if !reference {
        println!("setup: aiortc not available (pip install aiortc): rtcscope's times only");
    }
    println!(
        "setup time over WHEP on 127.0.0.1, {rounds} rounds per sender (ms from the start of negotiation)"
    );
    println!(
        "{:<16} {:<9} {:>14} {:>14} {:>14} {:>14}  failures",
        "sender", "viewer", "connected med", "connected max", "1st RTP med", "1st RTP max"
    );
    let mut all: [Vec<Times>; 2] = [Vec::new(), Vec::new()];
    for codec in ["vp8", "h264"] {
        let (_serve, url) = serve(codec);
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        let (mut ours_failed, mut theirs_failed) = (0, 0);
        for i in 0..rounds {
            // Alternate who goes first, so warm-up and load hit both alike.
            let order = if i % 2 == 0 { [0, 1] } else { [1, 0] };
            for who in order {
                if who == 0 {
                    match rtcscope(&url) {
                        Some(t) => ours.push(t),
                        None => ours_failed += 1,
                    }
                } else if reference {
                    match aiortc(&url) {
                        Some(t) => theirs.push(t),
                        None => theirs_failed += 1,
                    }
                }
            }
        }
        let sender = format!("serve {codec}");
        for (name, v, failed) in [
            ("rtcscope", &ours, ours_failed),
            ("aiortc", &theirs, theirs_failed),
        ] {
            if name == "aiortc" && !reference {
                continue;
            }
            let c: Vec<f64> = v.iter().map(|t| t.connected).collect();
            let m: Vec<f64> = v.iter().map(|t| t.first_rtp).collect();
            println!(
                "{sender:<16} {name:<9} {:>14.1} {:>14.1} {:>14.1} {:>14.1}  {failed}",
                median(&c),
                worst(&c),
                median(&m),
                worst(&m)
            );
        }
        all[0].extend(ours);
        all[1].extend(theirs);
    }
    if reference {
        let col = |v: &[Times], f: fn(&Times) -> f64| v.iter().map(f).collect::<Vec<f64>>();
        let (o, t) = (&all[0], &all[1]);
        let ratio =
            |f: fn(&Times) -> f64, agg: fn(&[f64]) -> f64| agg(&col(o, f)) / agg(&col(t, f));
        println!("rtcscope ÷ aiortc, both senders (≤ 1.0: rtcscope at least as fast):");
        println!(
            "  connected: median {:.2}, worst {:.2}",
            ratio(|t| t.connected, median),
            ratio(|t| t.connected, worst)
        );
        println!(
            "  first RTP: median {:.2}, worst {:.2}",
            ratio(|t| t.first_rtp, median),
            ratio(|t| t.first_rtp, worst)
        );
    }
}
