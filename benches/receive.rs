//! The receive path against an independent reference viewer, in one run: `cargo bench --bench receive`.
//!
//! The sender is `rtcscope serve` on 127.0.0.1 at 2, 20, 50 and 100 Mbit/s, paced (the default) and
//! with `--burst`. For each, the rtcscope viewer (`rtcscope --headless`, WHEP) and the reference
//! viewer, Google's libwebrtc through node's `@roamhq/wrtc` (`benches/wrtc_viewer.js`), receive the
//! same stream for the same time, one after the other (the order alternates per case). Both are
//! measured from outside, in the same way:
//! - **lost by this host**: the kernel's per-socket `drops` counter (`/proc/net/udp{,6}`) of every
//!   UDP socket the viewer's process holds, sampled every 25 ms while it runs;
//! - **lost**: what the viewer's own stats report (`packets_lost` / `packetsLost`);
//! - **CPU per received Mbit/s**: the process's user + system time (`wait4`'s rusage), over the
//!   megabits it received (payload + RTP headers), in CPU milliseconds per Mbit.
//!
//! The sender's own sockets are checked too: `rtcscope serve` prints, when stopped, the datagrams
//! its sockets dropped. The result is the ratio rtcscope ÷ libwebrtc of CPU per Mbit, and both
//! viewers' host drops side by side; absolute numbers depend on the machine.
//!
//! The reference is installed by the bench itself (`npm install @roamhq/wrtc@0.10.0` into
//! `target/wrtc-reference`); without node or npm it is skipped. `RTCSCOPE_RECEIVE_SECONDS` (default
//! 6) sets each viewer's run, `RTCSCOPE_RECEIVE_RATES` (default `2M,20M,50M,100M`) the bitrates.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rtcscope");
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/wrtc_viewer.js");
const WRTC: &str = "@roamhq/wrtc@0.10.0";

/// One viewer's figures for one case.
#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    /// Datagrams dropped in the viewer's own socket buffers.
    host_drops: u64,
    /// Packets the viewer reports lost.
    lost: i64,
    /// Packets received.
    received: u64,
    /// Megabits received (payload + RTP headers).
    mbits: f64,
    /// CPU seconds (user + system) of the whole process.
    cpu_s: f64,
}

impl Figures {
    fn cpu_ms_per_mbit(&self) -> f64 {
        if self.mbits > 0.0 {
            self.cpu_s * 1000.0 / self.mbits
        } else {
            f64::NAN
        }
    }
}

struct Serve {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Serve {
    fn start(bitrate: &str, burst: bool) -> Serve {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let log = std::env::temp_dir().join(format!(
            "rtcscope-receive-bench-{}-{port}.log",
            std::process::id()
        ));
        let file = std::fs::File::create(&log).expect("serve log");
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--bitrate", bitrate]);
        if burst {
            cmd.arg("--burst");
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn rtcscope serve");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "serve did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Serve {
            child,
            url: format!("http://127.0.0.1:{port}/cam/whep"),
            log,
        }
    }

    /// SIGTERM, then the sender's last line (what its own sockets dropped).
    fn stop(mut self) -> String {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .rev()
            .find(|l| l.starts_with("stopped:"))
            .unwrap_or("(no stopped line)")
            .to_owned()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Inodes of the UDP sockets `pid` holds.
fn socket_inodes(pid: u32) -> Vec<u64> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let link = std::fs::read_link(e.ok()?.path()).ok()?;
        let s = link.to_str()?;
        s.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
    })
    .collect()
}

/// `(inode, drops)` of every UDP socket in `/proc/net/udp{,6}`.
fn udp_drops() -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for f in ["/proc/net/udp", "/proc/net/udp6"] {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for l in text.lines().skip(1) {
            let c: Vec<&str> = l.split_whitespace().collect();
            if let (Some(i), Some(d)) = (
                c.get(9).and_then(|v| v.parse().ok()),
                c.get(12).and_then(|v| v.parse().ok()),
            ) {
                out.push((i, d));
            }
        }
    }
    out
}

/// Run `cmd` to its end, sampling its sockets' drops; returns (stdout, host drops, CPU seconds).
fn run_measured(mut cmd: Command) -> (String, u64, f64) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn viewer");
    let pid = child.id();
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let mut max_drops: std::collections::HashMap<u64, u64> = Default::default();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut rusage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        let inodes = socket_inodes(pid);
        for (inode, drops) in udp_drops() {
            if inodes.contains(&inode) {
                let e = max_drops.entry(inode).or_default();
                *e = (*e).max(drops);
            }
        }
        let mut status = 0;
        // SAFETY: waiting for our own child, into a rusage we own.
        let r = unsafe {
            libc::wait4(
                pid as libc::pid_t,
                &raw mut status,
                libc::WNOHANG,
                &raw mut rusage,
            )
        };
        if r == pid as libc::pid_t {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    // Already reaped by wait4 (which gave its rusage); this only tells std so.
    let _ = child.wait();
    let cpu = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let out = reader.join().unwrap_or_default();
    (
        out,
        max_drops.values().sum(),
        cpu(rusage.ru_utime) + cpu(rusage.ru_stime),
    )
}

fn rtcscope_viewer(url: &str, seconds: u64) -> Figures {
    let mut cmd = Command::new(BIN);
    cmd.args(["--headless", "--no-probe", "--bind", "127.0.0.1:0"])
        .args(["--duration", &format!("{seconds}s"), url]);
    let (out, host_drops, cpu_s) = run_measured(cmd);
    let mut f = Figures {
        host_drops,
        cpu_s,
        ..Figures::default()
    };
    for line in out.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v["type"] == "track_stats" && v["stats"]["kind"] == "video" {
            let s = &v["stats"];
            f.received = s["packets_received"].as_u64().unwrap_or(0);
            f.lost = s["packets_lost"].as_i64().unwrap_or(0);
            let bytes = s["bytes_received"].as_u64().unwrap_or(0)
                + s["header_bytes_received"].as_u64().unwrap_or(0);
            f.mbits = bytes as f64 * 8.0 / 1e6;
        }
    }
    f
}

fn wrtc_viewer(url: &str, seconds: u64, node_path: &Path) -> Option<Figures> {
    let mut cmd = Command::new("node");
    cmd.env("NODE_PATH", node_path)
        .arg(SCRIPT)
        .arg(url)
        .arg(seconds.to_string());
    let (out, host_drops, cpu_s) = run_measured(cmd);
    let v: serde_json::Value = out
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())?;
    if let Some(e) = v.get("error") {
        eprintln!("  libwebrtc viewer: {e}");
        return None;
    }
    let bytes =
        v["bytesReceived"].as_u64().unwrap_or(0) + v["headerBytesReceived"].as_u64().unwrap_or(0);
    Some(Figures {
        host_drops,
        cpu_s,
        received: v["packetsReceived"].as_u64().unwrap_or(0),
        lost: v["packetsLost"].as_i64().unwrap_or(0),
        mbits: bytes as f64 * 8.0 / 1e6,
    })
}

/// The reference's `node_modules`, installed on first use; `None` without node or npm.
fn install_reference() -> Option<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("wrtc-reference");
    let modules = dir.join("node_modules");
    if !modules.join("@roamhq/wrtc").exists() {
        eprintln!(
            "installing the reference viewer: npm install {WRTC} (into {})",
            dir.display()
        );
        let _ = std::fs::create_dir_all(&dir);
        let ok = Command::new("npm")
            .args(["install", "--no-save", "--no-package-lock", "--prefix"])
            .arg(&dir)
            .arg(WRTC)
            .stdout(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            eprintln!("npm install {WRTC} failed: the reference viewer is skipped");
            return None;
        }
    }
    Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .ok()?
        .success()
        .then_some(modules)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("receive: bench");
        return;
    }
    let seconds: u64 = std::env::var("RTCSCOPE_RECEIVE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let rates =
        std::env::var("RTCSCOPE_RECEIVE_RATES").unwrap_or_else(|_| "2M,20M,50M,100M".into());
    let reference = install_reference();
    println!(
        "receive: rtcscope serve on loopback, {seconds} s per viewer; drops = datagrams lost in the viewer's own socket buffers"
    );
    println!(
        "{:>6} {:>6} | {:>9} {:>9} {:>10} {:>9} | {:>9} {:>9} {:>10} {:>9} | {:>6} | sender",
        "rate",
        "mode",
        "rs drops",
        "rs lost",
        "rs recv",
        "rs ms/Mb",
        "lw drops",
        "lw lost",
        "lw recv",
        "lw ms/Mb",
        "cpu ×"
    );
    for (i, rate) in rates.split(',').enumerate() {
        for (j, burst) in [false, true].into_iter().enumerate() {
            let serve = Serve::start(rate, burst);
            // Let the sender settle before the first viewer.
            std::thread::sleep(Duration::from_millis(200));
            let rs_first = (i + j) % 2 == 0;
            let mut rs = Figures::default();
            let mut lw = None;
            for k in 0..2 {
                if (k == 0) == rs_first {
                    rs = rtcscope_viewer(&serve.url, seconds);
                } else if let Some(m) = &reference {
                    lw = wrtc_viewer(&serve.url, seconds, m);
                }
            }
            let sender = serve.stop();
            let sender = sender
                .split_once("; ")
                .map(|(_, s)| s.to_owned())
                .unwrap_or(sender);
            let (lwd, lwl, lwr, lwc, ratio) = match lw {
                Some(l) => (
                    l.host_drops.to_string(),
                    l.lost.to_string(),
                    l.received.to_string(),
                    format!("{:.2}", l.cpu_ms_per_mbit()),
                    format!("{:.2}", rs.cpu_ms_per_mbit() / l.cpu_ms_per_mbit()),
                ),
                None => ("-".into(), "-".into(), "-".into(), "-".into(), "-".into()),
            };
            println!(
                "{:>6} {:>6} | {:>9} {:>9} {:>10} {:>9.2} | {:>9} {:>9} {:>10} {:>9} | {:>6} | {}",
                rate,
                if burst { "burst" } else { "paced" },
                rs.host_drops,
                rs.lost,
                rs.received,
                rs.cpu_ms_per_mbit(),
                lwd,
                lwl,
                lwr,
                lwc,
                ratio,
                sender
            );
        }
    }
    println!(
        "rs = rtcscope, lw = libwebrtc (@roamhq/wrtc); ms/Mb = CPU milliseconds per received megabit (whole process); cpu × = rtcscope ÷ libwebrtc"
    );
}
