//! Gathering like a browser (#10), in a network namespace this test creates: `lo` plus one interface
//! `d0` (dummy, or one end of a veth pair where the kernel has no dummy module) with 10.77.0.1/24 and
//! fd77::1/64, nothing linked to the host.
//! - A sender on the same host that advertises only its non-loopback address and does not pair it with
//!   loopback (as libnice-based senders, GStreamer webrtcbin, Janus or a containerised MediaMTX do): the
//!   default viewer connects, the old loopback-only bind does not.
//! - `serve --listen [::1]:…` offers only ::1: the default viewer connects over IPv6 loopback; a viewer
//!   restricted to `--bind 127.0.0.1:0` cannot pair, and the verdict says the address families differ.
//!
//! Needs root and `ip netns`, like the lab; otherwise each test prints `SKIPPED` and passes (unless
//! `RTCSCOPE_REQUIRE_NETLAB=1`).

use crate::netlab::{self, BIN};

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rtcscope::analysis::Analysis;
use rtcscope::event::{Event, Stamped};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// The dummy interface's addresses.
const D0_V4: &str = "10.77.0.1";
const D0_V6: &str = "fd77::1";

/// One namespace with `lo` and `d0`; deleted (its processes killed) on drop.
struct Host {
    ns: String,
    children: Vec<Child>,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Host {
    fn build() -> Host {
        let ns = format!(
            "rl-{}-g{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        ip(&["netns", "add", &ns]);
        let h = Host {
            ns,
            children: Vec::new(),
        };
        ip(&["-n", &h.ns, "link", "set", "lo", "up"]);
        // A dummy interface if the kernel has the module, else one end of a veth pair (both ends
        // stay in the namespace).
        let dummy = Command::new("ip")
            .args(["-n", &h.ns, "link", "add", "d0", "type", "dummy"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !dummy {
            ip(&[
                "-n", &h.ns, "link", "add", "d0", "type", "veth", "peer", "name", "d1",
            ]);
            ip(&["-n", &h.ns, "link", "set", "d1", "up"]);
        }
        ip(&["-n", &h.ns, "addr", "add", "10.77.0.1/24", "dev", "d0"]);
        ip(&[
            "-n",
            &h.ns,
            "addr",
            "add",
            "fd77::1/64",
            "dev",
            "d0",
            "nodad",
        ]);
        ip(&["-n", &h.ns, "link", "set", "d0", "up"]);
        h
    }

    fn command(&self) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns, BIN])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(Stdio::null());
        c
    }

    /// `rtcscope serve` with `args`; waits until `listen` accepts TCP.
    fn serve(&mut self, listen: &str, args: &[&str]) {
        let child = self
            .command()
            .args(["serve", "--listen", listen])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn serve");
        self.children.push(child);
        let port = listen.rsplit(':').next().expect("port");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let out = Command::new("ip")
                .args(["netns", "exec", &self.ns, "ss", "-Hltn"])
                .arg(format!("sport = :{port}"))
                .output()
                .expect("ss");
            if !String::from_utf8_lossy(&out.stdout).trim().is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "serve is not listening");
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// The headless viewer with `args`: its events and exit code.
    fn view(&self, args: &[&str]) -> (Vec<Stamped>, Option<i32>) {
        let mut child = self
            .command()
            .arg("--headless")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn viewer");
        let stdout = child.stdout.take().expect("stdout");
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| serde_json::from_str::<Stamped>(&l).ok())
                .collect::<Vec<_>>()
        });
        let deadline = Instant::now() + Duration::from_secs(40);
        let code = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the viewer did not end in time");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        (reader.join().expect("reader"), code)
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.ns])
            .stderr(Stdio::null())
            .status();
    }
}

fn local_addresses(ev: &[Stamped]) -> Vec<(String, String)> {
    ev.iter()
        .filter_map(|e| match &e.event {
            Event::LocalAddresses { addresses } => Some(addresses.clone()),
            _ => None,
        })
        .flatten()
        .map(|l| (l.interface, l.address))
        .collect()
}

fn first_media_kind(ev: &[Stamped]) -> Option<String> {
    ev.iter().find_map(|e| match &e.event {
        Event::FirstMedia { kind, .. } => Some(kind.clone()),
        _ => None,
    })
}

/// A sender on this host that advertises only 10.77.0.1 (no loopback candidate) and, like a libnice
/// sender, never pairs it with loopback (emulated: UDP between 127.0.0.1 and 10.77.0.1 is dropped in
/// the namespace; a webrtc-rs sender would answer a check from 127.0.0.1, Linux routes it). The viewer
/// restricted to 127.0.0.1, the old default, fails; the default viewer, pointed at 127.0.0.1, gathers on
/// every interface plus loopback, pairs 10.77.0.1 with 10.77.0.1 and gets media.
#[test]
fn a_sender_advertising_only_a_non_loopback_address_connects() {
    let Some(_serial) = netlab::ready("gather: non-loopback sender", &[]) else {
        return;
    };
    let mut h = Host::build();
    for (src, dst) in [("127.0.0.1", D0_V4), (D0_V4, "127.0.0.1")] {
        let out = Command::new("ip")
            .args([
                "netns", "exec", &h.ns, "iptables", "-A", "OUTPUT", "-p", "udp",
            ])
            .args(["-s", src, "-d", dst, "-j", "DROP"])
            .output()
            .expect("iptables");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    h.serve(
        "127.0.0.1:8889",
        &["--serve-bind", &format!("{D0_V4}:0"), "--bitrate", "500k"],
    );
    let (ev, code) = h.view(&["--duration", "4s", "ws://127.0.0.1:8889/cam/ws"]);
    let addrs = local_addresses(&ev);
    println!("gathering on: {addrs:?}");
    for want in [
        ("d0", D0_V4),
        ("d0", D0_V6),
        ("lo", "127.0.0.1"),
        ("lo", "::1"),
    ] {
        assert!(
            addrs.iter().any(|(i, a)| i == want.0 && a == want.1),
            "{want:?} in {addrs:?}"
        );
    }
    let remotes: Vec<String> = ev
        .iter()
        .filter_map(|e| match &e.event {
            Event::RemoteCandidate {
                candidate: Some(c), ..
            } => Some(c.address.clone()),
            _ => None,
        })
        .collect();
    assert!(
        !remotes.is_empty() && remotes.iter().all(|a| a == D0_V4),
        "the sender offers only {D0_V4}: {remotes:?}"
    );
    assert_eq!(first_media_kind(&ev).as_deref(), Some("video"));
    assert_eq!(code, Some(0), "connected, media flowed");

    // The old default, loopback only: no pair can work.
    let (ev, code) = h.view(&[
        "--bind",
        "127.0.0.1:0",
        "--duration",
        "20s",
        "--max-restarts",
        "0",
        "--ice-timeouts",
        "2s,5s,1s",
        "--handshake-timeout",
        "8s",
        "ws://127.0.0.1:8889/cam/ws",
    ]);
    assert!(first_media_kind(&ev).is_none(), "no media over loopback");
    assert_eq!(code, Some(4), "answer received, never connected");
}

/// `serve --listen [::1]:9702` offers only ::1. The default viewer connects over IPv6 loopback; one
/// restricted to 127.0.0.1 has no pair, and the verdict names the mismatch of address families.
#[test]
fn ipv6_loopback_connects_by_default_and_a_v4_only_bind_says_why_not() {
    let Some(_serial) = netlab::ready("gather: IPv6 loopback", &[]) else {
        return;
    };
    let mut h = Host::build();
    h.serve("[::1]:9702", &["--bitrate", "500k"]);
    let url = "ws://[::1]:9702/cam/ws";
    let (ev, code) = h.view(&["--duration", "4s", url]);
    assert_eq!(first_media_kind(&ev).as_deref(), Some("video"));
    assert_eq!(code, Some(0), "connected over ::1");

    let (ev, code) = h.view(&[
        "--bind",
        "127.0.0.1:0",
        "--duration",
        "20s",
        "--max-restarts",
        "0",
        "--ice-timeouts",
        "2s,5s,1s",
        "--handshake-timeout",
        "8s",
        url,
    ]);
    let findings = Analysis::from_events(&ev).findings().to_vec();
    for f in &findings {
        println!("  [{}] {}: {}", f.severity.label(), f.id, f.title);
    }
    let f = findings
        .iter()
        .find(|f| f.id == "candidates-cannot-pair")
        .unwrap_or_else(|| panic!("candidates-cannot-pair did not fire: {findings:#?}"));
    assert!(f.title.contains("address families do not match"), "{f:?}");
    assert!(
        !findings.iter().any(|f| f.id == "ice-failed"),
        "not a generic ice-failed: {findings:#?}"
    );
    assert_eq!(code, Some(4), "answer received, never connected");
}
