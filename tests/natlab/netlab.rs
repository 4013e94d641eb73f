//! The NAT lab: real network namespaces, the kernel's own NAT (conntrack MASQUERADE), coturn, and the
//! real `rtcscope` binary on both sides (`serve` in the server namespace, the headless viewer in the
//! viewer namespace, each started with `ip netns exec`).
//!
//! ```text
//! viewer eth0 192.168.10.2 ── lan 192.168.10.1 [r1 NAT] wan 198.51.100.2 ── to-r1 198.51.100.1 [pub]
//!   (viewer public: viewer eth0 198.51.100.2 ── to-v 198.51.100.1 [pub])
//! [pub] lo += 203.0.113.10/32: coturn (STUN/TURN on :3478)
//! [pub] to-s 198.51.101.1 ── eth0 198.51.101.2 [server]                            (server public)
//!   or  to-r2 198.51.101.1 ── wan 198.51.101.2 [r2 NAT] lan 192.168.20.1 ── eth0 192.168.20.2 [server]
//!       (r2 forwards TCP 8889, the signaling port, to the server, as a MediaMTX behind NAT needs)
//! [pub] to-sink 192.0.2.1/30 ── eth0 192.0.2.2 [sink]: pub's default route, where private
//!       addresses vanish as on the internet (without it coturn stops relaying; see natlab.md)
//! ```
//!
//! Isolation: every address is from the documentation or private ranges above, and no namespace has a
//! link to the host's namespace, so no packet can reach the host network. Namespaces are named
//! `rl-<pid>-<n>-<role>`, so parallel runs never collide. [`Lab`]'s `Drop` (which also runs while a failed
//! test unwinds) stops the delay stage, kills every process in each namespace by pid, then deletes the
//! namespaces. Every process gets its settings on its command line; the environment is cleared.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, Write as _};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rtcscope::event::{
    Candidate, CandidatePair, CandidateType, Event, RestartCause, Stamped, StateKind, TrackStats,
};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_rtcscope");

/// The viewer's address on its LAN, behind r1.
pub const VIEWER_LAN: &str = "192.168.10.2";
/// The viewer's public address: r1's WAN address, or the viewer's own when it is public.
pub const VIEWER_PUBLIC: &str = "198.51.100.2";
/// The server's public address: its own, or r2's WAN address when it is behind NAT.
pub const SERVER_PUBLIC: &str = "198.51.101.2";
/// The server's address on its LAN, behind r2.
pub const SERVER_LAN: &str = "192.168.20.2";
/// coturn's address, on pub's `lo`.
pub const TURN_IP: &str = "203.0.113.10";
/// The STUN URL of the lab's coturn.
pub const STUN_URL: &str = "stun:203.0.113.10:3478";
/// The TURN URL of the lab's coturn, with its credentials.
pub const TURN_URL: &str = "turn:test:secret@203.0.113.10:3478";
/// The TURN-over-TLS port of the lab's coturn (a self-signed certificate for [`TURN_IP`], made by the
/// lab).
pub const TURNS_PORT: u16 = 5349;
/// The TURN-over-TLS URL of the lab's coturn, with its credentials (the viewer needs `--insecure`).
pub const TURNS_URL: &str = "turns:test:secret@203.0.113.10:5349?transport=tcp";
/// The signaling port `serve` listens on (forwarded by r2 when the server is behind NAT).
pub const SIGNALING_PORT: u16 = 8889;

/// Set to `1` to make a lab that cannot run fail instead of printing `SKIPPED`.
pub const REQUIRE_ENV: &str = "RTCSCOPE_REQUIRE_NETLAB";
/// Set to `1` to keep each lab's logs and NDJSON (they are always kept when a test fails).
pub const KEEP_ENV: &str = "RTCSCOPE_NETLAB_KEEP";
/// Set to a number of seconds to get the command that watches a scenario in the TUI (see [`Lab::viewer`]).
pub const WATCH_ENV: &str = "RTCSCOPE_NETLAB_WATCH";

const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How a NAT maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nat {
    /// Linux MASQUERADE: the source port is kept, so the mapping does not depend on the destination
    /// (endpoint-independent mapping); inbound filtering is by address and port (conntrack).
    EndpointIndependent,
    /// `MASQUERADE --random-fully`: a new random port for every destination (address-and-port-dependent
    /// mapping, a "symmetric" NAT).
    Symmetric,
}

/// Where a peer sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Directly on the public network.
    Public,
    /// On a private LAN behind a NAT router.
    Behind(Nat),
}

/// What to build.
#[derive(Debug, Clone, Copy)]
pub struct Topology {
    /// The viewer's place.
    pub viewer: Side,
    /// The server's place.
    pub server: Side,
    /// Run coturn (STUN and TURN) on 203.0.113.10.
    pub coturn: bool,
}

/// What a scenario needs beyond the namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// `turnserver` (coturn).
    Coturn,
    /// Random loss with iptables `-m statistic`.
    Loss,
    /// A userspace delay stage on NFQUEUE.
    Delay,
}

struct Caps {
    base: Result<(), String>,
    coturn: Result<(), String>,
    loss: Result<(), String>,
    delay: Result<(), String>,
}

static CAPS: OnceLock<Caps> = OnceLock::new();
static SERIAL: Mutex<()> = Mutex::new(());
static NEXT_LAB: AtomicU32 = AtomicU32::new(0);

/// Checks that the lab can run `scenario` and takes the lab lock (scenarios run one at a time: they
/// measure timing and bitrate on a 2-core machine). `None` means skip: a `SKIPPED: <reason>` line has been
/// printed. With `RTCSCOPE_REQUIRE_NETLAB=1` a missing capability fails the test instead.
pub fn ready(scenario: &str, needs: &[Need]) -> Option<MutexGuard<'static, ()>> {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let caps = CAPS.get_or_init(probe);
    let mut missing = Vec::new();
    if let Err(e) = &caps.base {
        missing.push(e.clone());
    } else {
        for need in needs {
            let r = match need {
                Need::Coturn => &caps.coturn,
                Need::Loss => &caps.loss,
                Need::Delay => &caps.delay,
            };
            if let Err(e) = r {
                missing.push(e.clone());
            }
        }
    }
    if missing.is_empty() {
        return Some(guard);
    }
    let reason = missing.join("; ");
    if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
        panic!("{scenario}: the NAT lab cannot run ({reason}) and {REQUIRE_ENV}=1 requires it");
    }
    // Straight to stderr, past the test harness's capture: a skip must be visible in a plain run.
    let _ = writeln!(std::io::stderr(), "SKIPPED: {scenario}: {reason}");
    None
}

/// What this machine can do, found by trying it in a throwaway namespace.
fn probe() -> Caps {
    let not_probed = || Err::<(), String>("not probed".into());
    let no = |e: String| Caps {
        base: Err(e),
        coturn: not_probed(),
        loss: not_probed(),
        delay: not_probed(),
    };
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return no("not root (network namespaces need root)".into());
    }
    for tool in ["ip", "iptables", "sysctl"] {
        if !on_path(tool) {
            return no(format!("`{tool}` is not installed"));
        }
    }
    remove_stale_labs();
    let ns = format!("rl-{}-probe", std::process::id());
    if let Err(e) = sh(&format!("ip netns add {ns}")) {
        return no(format!("`ip netns` is unavailable: {e}"));
    }
    let ipt = |spec: &str| sh(&format!("ip netns exec {ns} iptables {spec}"));
    let base = ipt("-t nat -A POSTROUTING -o lo -j MASQUERADE --random-fully")
        .and_then(|_| ipt("-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"))
        .map_err(|e| format!("iptables NAT/conntrack is unavailable in a namespace: {e}"));
    let loss =
        ipt("-t mangle -A POSTROUTING -o lo -m statistic --mode random --probability 0.1 -j DROP")
            .map_err(|e| format!("iptables `-m statistic` is unavailable (no random loss): {e}"));
    let delay = ipt("-t mangle -A POSTROUTING -o lo -j NFQUEUE --queue-num 0 --queue-bypass")
        .map_err(|e| format!("iptables NFQUEUE is unavailable (no delay stage): {e}"))
        .and_then(|_| {
            DelayStage::start(&ns, 0, Duration::ZERO, Duration::from_secs(2))
                .map(|stage| drop(stage.stop()))
                .map_err(|e| format!("cannot bind an NFQUEUE in a namespace: {e}"))
        });
    let _ = sh(&format!("ip netns del {ns}"));
    let coturn = if on_path("turnserver") {
        Ok(())
    } else {
        Err("`turnserver` (coturn) is not installed".into())
    };
    Caps {
        base,
        coturn,
        loss,
        delay,
    }
}

pub fn on_path(tool: &str) -> bool {
    PATH.split(':').any(|d| Path::new(d).join(tool).is_file())
}

/// Namespaces left by a lab whose test process died without unwinding (SIGKILL): `rl-<pid>-…` with that
/// pid gone. Their processes are killed and the namespaces deleted.
fn remove_stale_labs() {
    for line in output("ip netns list").lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        let Some(pid) = name
            .strip_prefix("rl-")
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        stop_all_in(&[name.to_owned()]);
        let _ = sh(&format!("ip netns del {name}"));
    }
}

/// Run a command given as one whitespace-separated string (no shell: arguments never contain spaces),
/// with a cleared environment. The error carries stderr.
fn sh(cmd: &str) -> Result<(), String> {
    let args: Vec<&str> = cmd.split_whitespace().collect();
    let out = Command::new(args[0])
        .args(&args[1..])
        .env_clear()
        .env("PATH", PATH)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("`{cmd}`: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{cmd}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The stdout of a command given as for [`sh`] (empty on failure).
fn output(cmd: &str) -> String {
    let args: Vec<&str> = cmd.split_whitespace().collect();
    Command::new(args[0])
        .args(&args[1..])
        .env_clear()
        .env("PATH", PATH)
        .stdin(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Pids of the processes in namespace `ns` (never this test process).
fn pids_in(ns: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    output(&format!("ip netns pids {ns}"))
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .filter(|p| *p != me)
        .collect()
}

fn signal_all_in(namespaces: &[String], sig: i32) {
    for ns in namespaces {
        for pid in pids_in(ns) {
            // SAFETY: kill with a pid read from `ip netns pids` of a namespace this lab created.
            unsafe {
                libc::kill(pid, sig);
            }
        }
    }
}

/// SIGTERM every process in the namespaces (a TUI viewer started by hand restores the terminal),
/// then SIGKILL whatever is still there after 1 s, and wait (bounded) until they are gone.
fn stop_all_in(namespaces: &[String]) {
    let busy = || namespaces.iter().any(|ns| !pids_in(ns).is_empty());
    signal_all_in(namespaces, libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(1);
    while busy() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    signal_all_in(namespaces, libc::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(5);
    while busy() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One lab: its namespaces, its processes, its delay stage, and a scratch directory for logs.
pub struct Lab {
    /// `rl-<pid>-<n>`.
    pub id: String,
    /// Scratch directory: serve's and the viewers' logs and NDJSON, coturn's log. Kept when the test
    /// fails or with `RTCSCOPE_NETLAB_KEEP=1`.
    pub dir: PathBuf,
    topo: Topology,
    namespaces: Vec<String>,
    children: Vec<Child>,
    stages: Vec<DelayStage>,
    started: Instant,
    viewers: u32,
}

impl Lab {
    /// Build the topology (and start coturn if asked). Panics with the failing command on error; the
    /// namespaces made so far are removed by `Drop`.
    pub fn build(topo: Topology) -> Lab {
        let n = NEXT_LAB.fetch_add(1, Ordering::Relaxed);
        let id = format!("rl-{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(format!("rtcscope-natlab-{id}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("lab scratch directory");
        let mut lab = Lab {
            id,
            dir,
            topo,
            namespaces: Vec::new(),
            children: Vec::new(),
            stages: Vec::new(),
            started: Instant::now(),
            viewers: 0,
        };
        lab.wire();
        if topo.coturn {
            lab.start_coturn();
        }
        println!(
            "lab {}: {topo:?} built in {} ms",
            lab.id,
            lab.started.elapsed().as_millis()
        );
        lab
    }

    /// The full namespace name of a role (`v`, `r1`, `pub`, `r2`, `s`, `sink`).
    pub fn ns(&self, role: &str) -> String {
        format!("{}-{role}", self.id)
    }

    /// The signaling URL the viewer dials: the server's public address.
    pub fn url(&self) -> String {
        format!("ws://{SERVER_PUBLIC}:{SIGNALING_PORT}/cam/ws")
    }

    /// The server's WHEP endpoint, as the viewer reaches it.
    pub fn whep_url(&self) -> String {
        format!("http://{SERVER_PUBLIC}:{SIGNALING_PORT}/cam/whep")
    }

    /// Run `ip -n <role's namespace> ARGS`.
    fn ip(&self, role: &str, args: &str) {
        must(sh(&format!("ip -n {} {args}", self.ns(role))));
    }

    /// Run iptables in a role's namespace: `iptables SPEC`.
    pub fn iptables(&self, role: &str, spec: &str) {
        must(sh(&format!(
            "ip netns exec {} iptables {spec}",
            self.ns(role)
        )));
    }

    fn add_ns(&mut self, role: &str) {
        let ns = self.ns(role);
        must(sh(&format!("ip netns add {ns}")));
        self.namespaces.push(ns);
        self.ip(role, "link set lo up");
    }

    /// A veth pair `role_a:if_a addr_a ── role_b:if_b addr_b`, created directly in the two namespaces
    /// (interface names are per namespace, so they repeat across labs without clashing).
    fn veth(&self, (ra, ia, aa): (&str, &str, &str), (rb, ib, ab): (&str, &str, &str)) {
        must(sh(&format!(
            "ip link add {ia} netns {} type veth peer name {ib} netns {}",
            self.ns(ra),
            self.ns(rb)
        )));
        for (role, ifname, addr) in [(ra, ia, aa), (rb, ib, ab)] {
            self.ip(role, &format!("addr add {addr} dev {ifname}"));
            self.ip(role, &format!("link set {ifname} up"));
        }
    }

    fn default_route(&self, role: &str, via: &str) {
        self.ip(role, &format!("route replace default via {via}"));
    }

    fn forwarding(&self, role: &str) {
        must(sh(&format!(
            "ip netns exec {} sysctl -qw net.ipv4.ip_forward=1",
            self.ns(role)
        )));
    }

    fn wire(&mut self) {
        let topo = self.topo;
        for role in ["pub", "sink", "v", "s"] {
            self.add_ns(role);
        }
        if matches!(topo.viewer, Side::Behind(_)) {
            self.add_ns("r1");
        }
        if matches!(topo.server, Side::Behind(_)) {
            self.add_ns("r2");
        }
        // The public internet: the TURN address on its lo, and the sink as its default route.
        self.ip("pub", &format!("addr add {TURN_IP}/32 dev lo"));
        self.forwarding("pub");
        self.veth(
            ("pub", "to-sink", "192.0.2.1/30"),
            ("sink", "eth0", "192.0.2.2/30"),
        );
        self.default_route("pub", "192.0.2.2");
        // Rules without a target only count: what vanishes into the sink.
        self.iptables("pub", "-A FORWARD -o to-sink -p udp");
        self.iptables("pub", "-A OUTPUT -o to-sink -p udp");

        match topo.viewer {
            Side::Public => {
                self.veth(
                    ("v", "eth0", "198.51.100.2/24"),
                    ("pub", "to-v", "198.51.100.1/24"),
                );
                self.default_route("v", "198.51.100.1");
            }
            Side::Behind(nat) => {
                self.veth(
                    ("v", "eth0", "192.168.10.2/24"),
                    ("r1", "lan", "192.168.10.1/24"),
                );
                self.default_route("v", "192.168.10.1");
                self.veth(
                    ("r1", "wan", "198.51.100.2/24"),
                    ("pub", "to-r1", "198.51.100.1/24"),
                );
                self.default_route("r1", "198.51.100.1");
                self.nat("r1", nat, None);
            }
        }
        match topo.server {
            Side::Public => {
                self.veth(
                    ("s", "eth0", "198.51.101.2/24"),
                    ("pub", "to-s", "198.51.101.1/24"),
                );
                self.default_route("s", "198.51.101.1");
            }
            Side::Behind(nat) => {
                self.veth(
                    ("s", "eth0", "192.168.20.2/24"),
                    ("r2", "lan", "192.168.20.1/24"),
                );
                self.default_route("s", "192.168.20.1");
                self.veth(
                    ("r2", "wan", "198.51.101.2/24"),
                    ("pub", "to-r2", "198.51.101.1/24"),
                );
                self.default_route("r2", "198.51.101.1");
                self.nat("r2", nat, Some(SERVER_LAN));
            }
        }
        // Isolation check: nothing but loopback and the lab's own veths in any namespace.
        for ns in &self.namespaces {
            for l in output(&format!("ip -n {ns} -o link show")).lines() {
                let name = l.split(':').nth(1).unwrap_or_default().trim();
                let name = name.split('@').next().unwrap_or_default();
                assert!(
                    matches!(
                        name,
                        "lo" | "eth0"
                            | "lan"
                            | "wan"
                            | "to-r1"
                            | "to-r2"
                            | "to-v"
                            | "to-s"
                            | "to-sink"
                    ),
                    "unexpected link {name} in {ns}"
                );
            }
        }
    }

    /// NAT on a router: masquerade out of `wan`; let in only replies (and, on the server's router, the
    /// forwarded signaling port). Unsolicited packets are dropped silently, as home routers do.
    fn nat(&self, role: &str, nat: Nat, forward_signaling_to: Option<&str>) {
        self.forwarding(role);
        let ipt = |spec: &str| self.iptables(role, spec);
        ipt("-A FORWARD -i wan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT");
        if let Some(to) = forward_signaling_to {
            ipt(&format!(
                "-t nat -A PREROUTING -i wan -p tcp --dport {SIGNALING_PORT} -j DNAT --to-destination {to}:{SIGNALING_PORT}"
            ));
            ipt("-A FORWARD -i wan -m conntrack --ctstate DNAT -j ACCEPT");
        }
        ipt("-A FORWARD -i wan -j DROP");
        ipt("-A INPUT -i wan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT");
        ipt("-A INPUT -i wan -j DROP");
        ipt(match nat {
            Nat::EndpointIndependent => "-t nat -A POSTROUTING -o wan -j MASQUERADE",
            Nat::Symmetric => "-t nat -A POSTROUTING -o wan -j MASQUERADE --random-fully",
        });
    }

    /// Scenario 4's firewall on r1: the viewer's LAN may send UDP only to the TURN server's port.
    pub fn block_viewer_udp_except_turn(&self) {
        self.iptables(
            "r1",
            &format!("-I FORWARD 1 -i lan -p udp -d {TURN_IP} --dport 3478 -j ACCEPT"),
        );
        self.iptables("r1", "-I FORWARD 2 -i lan -p udp -j DROP");
    }

    /// Packets counted so far by the rules of `table`/`chain` in a role's namespace whose spec, as
    /// `iptables -S -v` prints it (`-A FORWARD -i lan -p udp -c PKTS BYTES -j DROP`), starts with
    /// `-A <chain> <rule>`.
    pub fn counter(&self, role: &str, table: &str, chain: &str, rule: &str) -> u64 {
        let text = output(&format!(
            "ip netns exec {} iptables -t {table} -S {chain} -v",
            self.ns(role)
        ));
        let prefix = format!("-A {chain} {rule}");
        text.lines()
            .filter(|l| l.starts_with(&prefix))
            .filter_map(|l| {
                let mut words = l.split_whitespace().skip_while(|w| *w != "-c");
                words.nth(1)?.parse::<u64>().ok()
            })
            .sum()
    }

    /// Packets dropped by scenario 4's firewall (UDP from the viewer's LAN, not to the TURN server).
    pub fn dropped_udp(&self) -> u64 {
        self.counter("r1", "filter", "FORWARD", "-i lan -p udp -c")
    }

    /// UDP packets that ended in the sink: sent to a private address that does not route on the public
    /// side (forwarded by pub, or sent by coturn relaying for a TURN client).
    pub fn sunk_udp(&self) -> u64 {
        self.counter("pub", "filter", "FORWARD", "-o to-sink -p udp")
            + self.counter("pub", "filter", "OUTPUT", "-o to-sink -p udp")
    }

    /// Unsolicited packets the NAT routers dropped (to the router itself or forwarded from `wan`):
    /// direct checks that no mapping let through.
    pub fn nat_dropped(&self) -> u64 {
        let mut n = 0;
        for role in ["r1", "r2"] {
            if self.namespaces.contains(&self.ns(role)) {
                n += self.counter(role, "filter", "INPUT", "-i wan -c")
                    + self.counter(role, "filter", "FORWARD", "-i wan -c");
            }
        }
        n
    }

    /// Random loss on the sender → viewer direction (r1's `lan` egress) with iptables `statistic`.
    pub fn add_loss(&self, probability: f64) {
        self.iptables(
            "r1",
            &format!(
                "-t mangle -A POSTROUTING -o lan -m statistic --mode random --probability {probability} -j DROP"
            ),
        );
    }

    /// Packets dropped so far by [`Lab::add_loss`]'s rule.
    pub fn lost_on_wire(&self) -> u64 {
        self.counter("r1", "mangle", "POSTROUTING", "-o lan -m statistic")
    }

    /// A fixed delay on the sender → viewer direction: r1's `lan` egress goes through NFQUEUE 0 (after
    /// the loss rule), and a thread of this test process, inside r1's namespace, holds each packet for
    /// `delay` before accepting it. The stage stops by itself after `max_run` (traffic then passes
    /// undelayed: `--queue-bypass`).
    pub fn add_delay(&mut self, delay: Duration, max_run: Duration) {
        let stage = DelayStage::start(&self.ns("r1"), 0, delay, max_run).expect("delay stage");
        self.stages.push(stage);
        self.iptables(
            "r1",
            "-t mangle -A POSTROUTING -o lan -j NFQUEUE --queue-num 0 --queue-bypass",
        );
    }

    /// Stop the delay stages and return what they did.
    pub fn stop_delay(&mut self) -> Vec<DelayReport> {
        self.stages.drain(..).map(DelayStage::stop).collect()
    }

    /// Take a link down (`ip link set DEV down` in the role's namespace).
    pub fn link_down(&self, role: &str, dev: &str) {
        self.ip(role, &format!("link set {dev} down"));
    }

    /// Bring a link back up.
    pub fn link_up(&self, role: &str, dev: &str) {
        self.ip(role, &format!("link set {dev} up"));
    }

    /// `ip netns exec <role's namespace> PROGRAM` with a cleared environment.
    fn command(&self, role: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns(role), program])
            .env_clear()
            .env("PATH", PATH)
            .stdin(Stdio::null());
        c
    }

    fn log_file(&self, name: &str) -> (PathBuf, Stdio) {
        let p = self.dir.join(name);
        let f = File::create(&p).expect("log file");
        (p, Stdio::from(f))
    }

    fn start_coturn(&mut self) {
        let (log, out) = self.log_file("coturn.log");
        // TLS on TURNS_PORT with a certificate made here (the viewer trusts it with --insecure).
        let cert = rcgen::generate_simple_self_signed(vec![TURN_IP.to_owned()])
            .expect("self-signed certificate");
        let cert_path = self.dir.join("turn-cert.pem");
        let key_path = self.dir.join("turn-key.pem");
        std::fs::write(&cert_path, cert.cert.pem()).expect("write the certificate");
        std::fs::write(&key_path, cert.signing_key.serialize_pem()).expect("write the key");
        let child = self
            .command("pub", "turnserver")
            .args([
                "-n",
                &format!("--listening-ip={TURN_IP}"),
                &format!("--relay-ip={TURN_IP}"),
                "--listening-port=3478",
                "--min-port=49152",
                "--max-port=49252",
                "--lt-cred-mech",
                "--user=test:secret",
                "--realm=test",
                &format!("--tls-listening-port={TURNS_PORT}"),
                &format!("--cert={}", cert_path.display()),
                &format!("--pkey={}", key_path.display()),
                "--no-dtls",
                "--no-cli",
                "--log-file=stdout",
                "--simple-log",
                &format!("--pidfile={}", self.dir.join("turn.pid").display()),
                &format!("--userdb={}", self.dir.join("turndb").display()),
            ])
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn turnserver");
        self.children.push(child);
        wait_for_text(
            &log,
            "Total General servers",
            Duration::from_secs(10),
            "coturn",
        );
    }

    /// Start `rtcscope serve` in the server namespace, listening on every address, port 8889, with
    /// `extra` options; waits until its socket listens (seen with `ss`, whatever the banner says).
    pub fn serve(&mut self, extra: &[&str]) {
        let (log, err) = self.log_file("serve.stderr");
        let listen = format!("0.0.0.0:{SIGNALING_PORT}");
        let mut child = self
            .command("s", BIN)
            .args(["serve", "--listen", &listen, "--log-file"])
            .arg(self.dir.join("serve.log"))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .expect("spawn rtcscope serve");
        let listening = format!(
            "ip netns exec {} ss -Hltn sport = :{SIGNALING_PORT}",
            self.ns("s")
        );
        let deadline = Instant::now() + Duration::from_secs(15);
        while output(&listening).trim().is_empty() {
            let exited = child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                self.children.push(child);
                panic!("rtcscope serve is not listening ({exited:?}); its output:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        self.children.push(child);
    }

    /// What the last viewer started printed on stderr so far (nothing, in headless mode, but a panic).
    pub fn viewer_stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join(format!("viewer-{}.stderr", self.viewers)))
            .unwrap_or_default()
    }

    /// Run `PROGRAM ARGS` in a role's namespace (e.g. `conntrack -F` in a router).
    pub fn exec(&self, role: &str, cmd: &str) -> Result<(), String> {
        sh(&format!("ip netns exec {} {cmd}", self.ns(role)))
    }

    /// What `serve` printed on stderr so far (one line per connection event).
    pub fn serve_output(&self) -> String {
        std::fs::read_to_string(self.dir.join("serve.stderr")).unwrap_or_default()
    }

    /// Start the headless viewer in the viewer namespace against [`Lab::url`], with `args`.
    ///
    /// With `RTCSCOPE_NETLAB_WATCH=<seconds>`, first print the command that runs the TUI viewer with
    /// the same options in this lab, and wait that long so it can be started in another terminal; the
    /// scenario then goes on as usual (its faults hit both viewers) and the lab stops it at the end.
    pub fn viewer(&mut self, args: &[&str]) -> Viewer {
        let url = self.url();
        self.viewer_at(&url, args)
    }

    /// [`Lab::viewer`] against `url` (the WHEP endpoint, say).
    pub fn viewer_at(&mut self, url: &str, args: &[&str]) -> Viewer {
        if let Some(secs) = std::env::var(WATCH_ENV)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            // The same options without `--duration`: the lab stops it (SIGTERM) when the scenario ends.
            let mut shown = Vec::new();
            let mut it = args.iter();
            while let Some(a) = it.next() {
                if *a == "--duration" {
                    it.next();
                } else {
                    shown.push(*a);
                }
            }
            let _ = writeln!(
                std::io::stderr(),
                "watch: sudo ip netns exec {} {BIN} {} {}   (the scenario starts in {secs} s)",
                self.ns("v"),
                shown.join(" "),
                url
            );
            std::thread::sleep(Duration::from_secs(secs));
        }
        self.viewers += 1;
        let n = self.viewers;
        let (_, err) = self.log_file(&format!("viewer-{n}.stderr"));
        let mut child = self
            .command("v", BIN)
            .args(["--headless", "--log-file"])
            .arg(self.dir.join(format!("viewer-{n}.log")))
            .args(args)
            .arg(url)
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .expect("spawn the rtcscope viewer");
        let stdout = child.stdout.take().expect("viewer stdout");
        let (tx, rx) = mpsc::channel();
        // The raw stream is kept as viewer-N.ndjson next to the logs.
        let mut copy = File::create(self.dir.join(format!("viewer-{n}.ndjson"))).ok();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(f) = copy.as_mut() {
                    let _ = writeln!(f, "{line}");
                }
                let ev = serde_json::from_str::<Stamped>(&line)
                    .map_err(|e| format!("not an event line ({e}): {line}"));
                if tx.send(ev).is_err() {
                    break;
                }
            }
        });
        Viewer {
            child,
            rx,
            events: Vec::new(),
            exit: None,
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for stage in self.stages.drain(..) {
            stage.stop();
        }
        stop_all_in(&self.namespaces);
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in self.namespaces.iter().rev() {
            if let Err(e) = sh(&format!("ip netns del {ns}")) {
                eprintln!("lab {}: {e}", self.id);
            }
        }
        let keep = std::env::var(KEEP_ENV).is_ok_and(|v| v == "1");
        if std::thread::panicking() || keep {
            eprintln!(
                "lab {}: logs kept in {} (serve.*, viewer-N.ndjson/.log/.stderr, coturn.log)",
                self.id,
                self.dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn must(r: Result<(), String>) {
    if let Err(e) = r {
        panic!("lab setup: {e}");
    }
}

fn wait_for_text(path: &Path, needle: &str, limit: Duration, what: &str) {
    let deadline = Instant::now() + limit;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(needle) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not start within {limit:?}; its output:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The headless viewer process and the events it printed.
pub struct Viewer {
    child: Child,
    rx: mpsc::Receiver<Result<Stamped, String>>,
    /// Every event received so far, in order.
    pub events: Vec<Stamped>,
    exit: Option<Option<i32>>,
}

impl Viewer {
    fn push(&mut self, r: Result<Stamped, String>) -> Stamped {
        match r {
            Ok(ev) => {
                self.events.push(ev.clone());
                ev
            }
            Err(e) => panic!("{e}\n{}", dump(&self.events)),
        }
    }

    /// Wait for the first event (from now on) matching `pred`.
    pub fn wait_for(
        &mut self,
        what: &str,
        limit: Duration,
        pred: impl Fn(&Stamped) -> bool,
    ) -> Stamped {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(r) => {
                    let ev = self.push(r);
                    if pred(&ev) {
                        return ev;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!(
                        "timed out after {limit:?} waiting for {what}; events so far:\n{}",
                        dump(&self.events)
                    )
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!(
                        "the viewer exited before {what}; events:\n{}",
                        dump(&self.events)
                    )
                }
            }
        }
    }

    /// Ask the viewer to stop (SIGTERM: it closes the session cleanly and writes `ended`). `ip netns exec`
    /// execs the binary, so the child's pid is the viewer's.
    pub fn terminate(&self) {
        // SAFETY: kill on the pid of our own child process.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
    }

    /// Read every event until the viewer exits (it must, within `limit`), and return its exit code.
    pub fn finish(&mut self, limit: Duration) -> Option<i32> {
        if let Some(code) = self.exit {
            return code;
        }
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(r) => {
                    self.push(r);
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                    "the viewer did not exit within {limit:?}; events:\n{}",
                    dump(&self.events)
                ),
            }
        }
        let status = self.child.wait().expect("viewer exit status");
        let code = status.code();
        self.exit = Some(code);
        code
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        if self.exit.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What the delay stage did.
#[derive(Debug, Clone, Default)]
pub struct DelayReport {
    /// Packets delayed.
    pub packets: u64,
    /// The most packets held at once.
    pub max_held: usize,
    /// The largest lateness past the due time, in milliseconds.
    pub max_late_ms: f64,
    /// An error that ended the stage early, if any.
    pub error: Option<String>,
}

/// A userspace NFQUEUE stage that holds every packet of one queue for a fixed delay (no netem here).
pub struct DelayStage {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<DelayReport>,
}

impl DelayStage {
    /// Start the stage in its own thread, which enters namespace `ns` (`setns` applies to the calling
    /// thread only) and binds NFQUEUE `queue` there. Returns once it is bound, or with the error.
    pub fn start(
        ns: &str,
        queue: u16,
        delay: Duration,
        max_run: Duration,
    ) -> Result<DelayStage, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let path = format!("/run/netns/{ns}");
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name(format!("delay-{ns}"))
            .spawn(move || {
                let setup = || -> std::io::Result<nfq::Queue> {
                    let f = File::open(&path)?;
                    // SAFETY: setns on a namespace file we opened; it changes this thread only.
                    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    let mut q = nfq::Queue::open()?;
                    q.bind(queue)?;
                    q.set_copy_range(queue, 0)?; // metadata only: verdicts need no payload
                    q.set_queue_max_len(queue, 4096)?;
                    q.set_fail_open(queue, true)?;
                    q.set_nonblocking(true);
                    Ok(q)
                };
                let mut q = match setup() {
                    Ok(q) => {
                        let _ = ready_tx.send(Ok(()));
                        q
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return DelayReport {
                            error: Some(e.to_string()),
                            ..DelayReport::default()
                        };
                    }
                };
                run_delay(&mut q, queue, delay, Instant::now() + max_run, &flag).unwrap_or_else(
                    |(mut r, e)| {
                        r.error = Some(e.to_string());
                        r
                    },
                )
            })
            .map_err(|e| e.to_string())?;
        match ready_rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(())) => Ok(DelayStage { stop, handle }),
            Ok(Err(e)) => {
                let _ = handle.join();
                Err(e)
            }
            Err(_) => {
                stop.store(true, Ordering::Relaxed);
                Err("the delay stage did not start".into())
            }
        }
    }

    /// Stop it (every held packet is accepted first) and return its report.
    pub fn stop(self) -> DelayReport {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or_else(|_| DelayReport {
            error: Some("the delay stage panicked".into()),
            ..DelayReport::default()
        })
    }
}

fn run_delay(
    q: &mut nfq::Queue,
    queue: u16,
    delay: Duration,
    deadline: Instant,
    stop: &AtomicBool,
) -> Result<DelayReport, (DelayReport, std::io::Error)> {
    let mut report = DelayReport::default();
    let mut held: VecDeque<(Instant, nfq::Message)> = VecDeque::new();
    loop {
        let stopping = stop.load(Ordering::Relaxed) || Instant::now() >= deadline;
        loop {
            match q.recv() {
                Ok(m) => held.push_back((Instant::now() + delay, m)),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err((report, e)),
            }
        }
        report.max_held = report.max_held.max(held.len());
        let now = Instant::now();
        while let Some((due, _)) = held.front() {
            if !stopping && *due > now {
                break;
            }
            let late = now.saturating_duration_since(*due).as_secs_f64() * 1000.0;
            if !stopping {
                report.max_late_ms = report.max_late_ms.max(late);
            }
            let Some((_, mut m)) = held.pop_front() else {
                break;
            };
            m.set_verdict(nfq::Verdict::Accept);
            if let Err(e) = q.verdict(m) {
                return Err((report, e));
            }
            report.packets += 1;
        }
        if stopping {
            let _ = q.unbind(queue);
            return Ok(report);
        }
        let next = held
            .front()
            .map(|(due, _)| due.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_millis(1));
        std::thread::sleep(next.min(Duration::from_micros(500)));
    }
}

// ---------------------------------------------------------------------------------------------------
// Reading the event stream.

/// A compact transcript, for failure messages.
pub fn dump(events: &[Stamped]) -> String {
    events
        .iter()
        .filter(|e| {
            !matches!(
                e.event,
                Event::MessageSent { .. } | Event::MessageReceived { .. }
            )
        })
        .map(|e| {
            let mut j = serde_json::to_string(e).unwrap_or_default();
            if j.len() > 400 {
                let mut cut = 400;
                while !j.is_char_boundary(cut) {
                    cut -= 1;
                }
                j.truncate(cut);
            }
            j
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Local candidates, optionally of one attempt.
pub fn local_candidates(events: &[Stamped]) -> Vec<(u32, Candidate)> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Event::LocalCandidate { candidate } => Some((e.attempt, candidate.clone())),
            _ => None,
        })
        .collect()
}

/// Remote candidates that parsed.
pub fn remote_candidates(events: &[Stamped]) -> Vec<(u32, Candidate)> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Event::RemoteCandidate {
                candidate: Some(c), ..
            } => Some((e.attempt, c.clone())),
            _ => None,
        })
        .collect()
}

/// Every `selected_pair` event: (attempt, t_ms, pair).
pub fn selected_pairs(events: &[Stamped]) -> Vec<(u32, f64, CandidatePair)> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Event::SelectedPair { pair, .. } => Some((e.attempt, e.t_ms, pair.clone())),
            _ => None,
        })
        .collect()
}

/// Every pair that appeared in a `candidate_pairs` event, last state per (attempt, id).
pub fn all_pairs(events: &[Stamped]) -> Vec<(u32, CandidatePair)> {
    let mut out: Vec<(u32, CandidatePair)> = Vec::new();
    for e in events {
        if let Event::CandidatePairs { pairs } = &e.event {
            for p in pairs {
                match out
                    .iter_mut()
                    .find(|(a, q)| *a == e.attempt && q.id == p.id)
                {
                    Some(slot) => slot.1 = p.clone(),
                    None => out.push((e.attempt, p.clone())),
                }
            }
        }
    }
    out
}

/// Every restart: (t_ms, ended attempt, cause, had_connected).
pub fn restarts(events: &[Stamped]) -> Vec<(f64, u32, RestartCause, bool)> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Event::Restart {
                cause,
                ended_attempt,
                had_connected,
                ..
            } => Some((e.t_ms, *ended_attempt, cause.clone(), *had_connected)),
            _ => None,
        })
        .collect()
}

/// `state_changed` events of one kind: (attempt, t_ms, state).
pub fn states(events: &[Stamped], kind: StateKind) -> Vec<(u32, f64, String)> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Event::StateChanged { kind: k, state } if *k == kind => {
                Some((e.attempt, e.t_ms, state.clone()))
            }
            _ => None,
        })
        .collect()
}

/// `first_media` events: (attempt, t_ms).
pub fn first_media(events: &[Stamped]) -> Vec<(u32, f64)> {
    events
        .iter()
        .filter(|e| matches!(e.event, Event::FirstMedia { .. }))
        .map(|e| (e.attempt, e.t_ms))
        .collect()
}

/// `track_stats` events: (attempt, t_ms, stats).
pub fn track_stats(events: &[Stamped]) -> Vec<(u32, f64, TrackStats)> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Event::TrackStats { stats } => Some((e.attempt, e.t_ms, stats.clone())),
            _ => None,
        })
        .collect()
}

/// Session time at which each attempt started.
pub fn attempt_start(events: &[Stamped], attempt: u32) -> Option<f64> {
    events
        .iter()
        .find(|e| matches!(e.event, Event::AttemptStarted { attempt: a } if a == attempt))
        .map(|e| e.t_ms)
}

/// Time from the start of each attempt that connected to its peer connection `connected`.
pub fn connect_times(events: &[Stamped]) -> Vec<(u32, f64)> {
    states(events, StateKind::PeerConnection)
        .into_iter()
        .filter(|(_, _, s)| s == "connected")
        .filter_map(|(a, t, _)| Some((a, t - attempt_start(events, a)?)))
        .collect()
}

fn cand(c: &Candidate) -> String {
    let mut s = format!("{} {}:{}", c.typ.as_str(), c.address, c.port);
    if let (Some(a), Some(p)) = (&c.related_address, c.related_port) {
        let _ = write!(s, " (rel {a}:{p})");
    }
    s
}

fn end(p: &Option<rtcscope::event::PairEnd>) -> String {
    p.as_ref()
        .map(|e| format!("{} {}:{}", e.typ.as_str(), e.address, e.port))
        .unwrap_or_else(|| "?".into())
}

/// One pair as `local → remote`.
pub fn pair_text(p: &CandidatePair) -> String {
    format!("{} → {}", end(&p.local), end(&p.remote))
}

/// A human summary of what the viewer observed: candidates, pairs, timings, restarts, the end.
pub fn summary(events: &[Stamped]) -> String {
    let mut s = String::new();
    let attempts = events.iter().map(|e| e.attempt).max().unwrap_or(0);
    for a in 1..=attempts {
        let of = |v: Vec<(u32, Candidate)>| {
            v.into_iter()
                .filter(|(x, _)| *x == a)
                .map(|(_, c)| cand(&c))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            s,
            "  attempt {a} (t={:.0} ms)",
            attempt_start(events, a).unwrap_or(f64::NAN)
        );
        let _ = writeln!(s, "    local:  {}", of(local_candidates(events)));
        let _ = writeln!(s, "    remote: {}", of(remote_candidates(events)));
        for (_, t, p) in selected_pairs(events).into_iter().filter(|x| x.0 == a) {
            let _ = writeln!(
                s,
                "    selected at {t:.0} ms: {} (rtt {:?} ms)",
                pair_text(&p),
                p.current_rtt_ms
            );
        }
        let pairs = all_pairs(events);
        let mut by_state: Vec<String> = pairs
            .iter()
            .filter(|(x, _)| *x == a)
            .map(|(_, p)| {
                format!(
                    "{} [{}{}, req {} resp {}]",
                    pair_text(p),
                    p.state,
                    if p.nominated { ", nominated" } else { "" },
                    p.requests_sent,
                    p.responses_received
                )
            })
            .collect();
        by_state.sort();
        for p in by_state {
            let _ = writeln!(s, "    pair {p}");
        }
        for (x, t) in connect_times(events) {
            if x == a {
                let _ = writeln!(s, "    connected {t:.0} ms after the attempt started");
            }
        }
        for (x, t) in first_media(events) {
            if x == a {
                let _ = writeln!(s, "    first media at {t:.0} ms");
            }
        }
        let ice: Vec<String> = states(events, StateKind::IceConnection)
            .into_iter()
            .filter(|(x, _, _)| *x == a)
            .map(|(_, t, st)| format!("{st}@{t:.0}"))
            .collect();
        let _ = writeln!(s, "    ice: {}", ice.join(" → "));
    }
    for (t, a, cause, had) in restarts(events) {
        let _ = writeln!(
            s,
            "  restart at {t:.0} ms: attempt {a} ended ({}), had_connected={had}",
            cause.describe()
        );
    }
    if let Some(e) = events.last()
        && let Event::Ended { .. } = &e.event
    {
        let _ = writeln!(
            s,
            "  ended at {:.0} ms: {}",
            e.t_ms,
            serde_json::to_string(&e.event).unwrap_or_default()
        );
    }
    s
}

/// Whether the server's answer negotiated RTX (`a=rtpmap:<pt> rtx/90000`).
pub fn answer_has_rtx(events: &[Stamped]) -> bool {
    events.iter().any(|e| {
        matches!(&e.event, Event::MessageReceived { kind: rtcscope::event::MessageKind::Answer, text, .. }
            if text.contains("rtx/90000"))
    })
}

/// The candidate types among a list.
pub fn types(c: &[(u32, Candidate)]) -> Vec<CandidateType> {
    let mut t: Vec<CandidateType> = c.iter().map(|(_, c)| c.typ).collect();
    t.sort();
    t.dedup();
    t
}
