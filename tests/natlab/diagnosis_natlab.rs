//! Diagnosis rules on real NAT traversal failures, in the NAT lab's network namespaces (the lab's
//! harness, `netlab/mod.rs`, used as is): a symmetric NAT seen by two STUN servers, a network that drops
//! all outbound UDP, and a public server whose UDP port is filtered. Each asserts that its rule fires on
//! what the real binary emitted; with `RTCSCOPE_RECORD=1` the events are saved as fixtures
//! (`tests/fixtures/diagnosis/natlab-*.ndjson`). Needs root and `ip netns`, like the lab; otherwise each
//! test prints `SKIPPED` and passes (unless `RTCSCOPE_REQUIRE_NETLAB=1`).

use crate::netlab;

use std::process::Stdio;
use std::time::Duration;

use netlab::{
    Lab, Nat, Need, STUN_URL, Side, TURN_IP, TURN_URL, TURNS_PORT, TURNS_URL, Topology, ready,
    summary,
};
use rtcscope::analysis::Analysis;
use rtcscope::diagnosis::{Finding, Severity};
use rtcscope::event::Stamped;

/// Save the events as fixture `name` when `RTCSCOPE_RECORD` is set.
fn record(name: &str, events: &[Stamped]) {
    if std::env::var_os("RTCSCOPE_RECORD").is_none() {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diagnosis");
    let _ = std::fs::create_dir_all(&dir);
    let text: String = events
        .iter()
        .map(|e| serde_json::to_string(e).expect("serialise") + "\n")
        .collect();
    std::fs::write(dir.join(format!("{name}.ndjson")), text).expect("write fixture");
}

/// The findings, printed (the test output shows what the tool would say).
fn diagnose(events: &[Stamped]) -> Vec<Finding> {
    let f = Analysis::from_events(events).findings().to_vec();
    for x in &f {
        println!("  [{}] {}: {}", x.severity.label(), x.id, x.title);
        for e in &x.evidence {
            println!("      - {e}");
        }
    }
    f
}

fn find<'a>(f: &'a [Finding], id: &str, events: &[Stamped]) -> &'a Finding {
    f.iter()
        .find(|x| x.id == id)
        .unwrap_or_else(|| panic!("{id} did not fire: {f:#?}\n{}", summary(events)))
}

const ICE_TIMEOUTS: &str = "2s,5s,1s";

/// A symmetric NAT (`MASQUERADE --random-fully`) in front of the viewer, and two STUN servers (the
/// lab's coturn on 3478 and a second, STUN-only coturn on 3479): each sees another mapped port for the
/// same local socket.
#[test]
fn symmetric_nat_is_seen_by_two_stun_servers() {
    let Some(_serial) = ready("diagnosis: symmetric NAT", &[Need::Coturn]) else {
        return;
    };
    let mut lab = Lab::build(Topology {
        viewer: Side::Behind(Nat::Symmetric),
        server: Side::Public,
        coturn: true,
    });
    // A second STUN server in the public namespace (the lab's Drop kills it with the namespace).
    let dir = lab.dir.clone();
    let mut stun2_server = std::process::Command::new("ip")
        .args(["netns", "exec", &lab.ns("pub"), "turnserver"])
        .args([
            "-n",
            &format!("--listening-ip={TURN_IP}"),
            "--listening-port=3479",
            "--stun-only",
            "--no-tls",
            "--no-dtls",
            "--no-cli",
            "--log-file=stdout",
            "--simple-log",
            &format!("--pidfile={}", dir.join("stun2.pid").display()),
            &format!("--userdb={}", dir.join("stun2db").display()),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the second STUN server");
    std::thread::sleep(Duration::from_millis(500));
    lab.serve(&["--bitrate", "1M"]);
    let stun2 = format!("stun:{TURN_IP}:3479");
    let mut v = lab.viewer(&[
        "--duration",
        "6s",
        "--ice-timeouts",
        ICE_TIMEOUTS,
        "--ice-server",
        STUN_URL,
        "--ice-server",
        &stun2,
    ]);
    let code = v.finish(Duration::from_secs(30));
    let _ = stun2_server.kill();
    let _ = stun2_server.wait();
    println!("{}", summary(&v.events));
    record("natlab-symmetric-nat", &v.events);
    let f = diagnose(&v.events);
    let s = find(&f, "symmetric-nat", &v.events);
    assert_eq!(
        s.severity,
        Severity::Warning,
        "the server is public: it connects"
    );
    assert_eq!(code, Some(0));
}

/// The viewer's router drops every UDP packet from its LAN: no STUN, no TURN over UDP, no media.
#[test]
fn outbound_udp_blocked() {
    let Some(_serial) = ready("diagnosis: UDP blocked", &[Need::Coturn]) else {
        return;
    };
    let mut lab = Lab::build(Topology {
        viewer: Side::Behind(Nat::EndpointIndependent),
        server: Side::Public,
        coturn: true,
    });
    lab.iptables("r1", "-I FORWARD 1 -i lan -p udp -j DROP");
    lab.serve(&["--bitrate", "1M"]);
    let mut v = lab.viewer(&[
        "--duration",
        "30s",
        "--max-restarts",
        "0",
        "--handshake-timeout",
        "12s",
        "--ice-timeouts",
        ICE_TIMEOUTS,
        "--ice-server",
        STUN_URL,
        "--ice-server",
        TURN_URL,
    ]);
    let code = v.finish(Duration::from_secs(40));
    println!("{}", summary(&v.events));
    record("natlab-udp-blocked", &v.events);
    let f = diagnose(&v.events);
    let u = find(&f, "udp-blocked", &v.events);
    assert_eq!(u.severity, Severity::Error);
    assert!(
        u.evidence.iter().any(|e| e.starts_with("probe: TURN udp")),
        "the probe's timeout is part of the evidence: {u:#?}"
    );
    // Its consequences are not listed again.
    assert!(
        !f.iter()
            .any(|x| x.id == "turn-unreachable" || x.id == "no-stun-response"),
        "{f:#?}"
    );
    assert!(
        u.fix
            .as_deref()
            .is_some_and(|x| x.contains("TURN over TCP/TLS")),
        "the fix suggests TURN over TCP/TLS: {u:#?}"
    );
    assert_eq!(code, Some(4), "answer received, ICE never connected");
}

/// The enterprise firewall: the viewer's network drops all outbound UDP and lets TCP to the TURN server
/// through only on its TLS port. With the server's `turns:` URL the media flows over TURN/TLS (the
/// adapter's bridge carries it; webrtc-rs alone skips `turns:`).
#[test]
fn outbound_udp_blocked_media_flows_over_turn_tls() {
    let Some(_serial) = ready("diagnosis: UDP blocked, TURN over TLS", &[Need::Coturn]) else {
        return;
    };
    let mut lab = Lab::build(Topology {
        viewer: Side::Behind(Nat::EndpointIndependent),
        server: Side::Public,
        coturn: true,
    });
    lab.iptables("r1", "-I FORWARD 1 -i lan -p udp -j DROP");
    lab.iptables(
        "r1",
        &format!("-I FORWARD 2 -i lan -p tcp -d {TURN_IP} ! --dport {TURNS_PORT} -j DROP"),
    );
    lab.serve(&["--bitrate", "1M"]);
    let mut v = lab.viewer(&[
        "--duration",
        "15s",
        "--max-restarts",
        "0",
        "--handshake-timeout",
        "12s",
        "--ice-timeouts",
        ICE_TIMEOUTS,
        "--insecure",
        "--ice-server",
        TURNS_URL,
    ]);
    let code = v.finish(Duration::from_secs(40));
    println!("{}", summary(&v.events));
    record("natlab-udp-blocked-turn-tls", &v.events);
    let f = diagnose(&v.events);
    let t = summary(&v.events);
    let selected = v.events.iter().rev().find_map(|e| match &e.event {
        rtcscope::event::Event::SelectedPair { pair, .. } => Some(pair.clone()),
        _ => None,
    });
    let local = selected
        .and_then(|p| p.local)
        .unwrap_or_else(|| panic!("no selected pair\n{t}"));
    assert_eq!(local.typ, rtcscope::event::CandidateType::Relay, "{t}");
    assert_eq!(
        local.relay_protocol,
        Some(rtcscope::event::RelayProtocol::Tls),
        "{t}"
    );
    assert!(
        v.events
            .iter()
            .any(|e| e.event.name() == "first_media" && e.attempt == 1),
        "media over TURN/TLS\n{t}"
    );
    assert!(
        !f.iter().any(|x| x.severity == Severity::Error),
        "nothing is an error: {f:#?}"
    );
    assert!(
        lab.dropped_udp() > 0,
        "the firewall dropped the viewer's UDP"
    );
    assert_eq!(code, Some(0), "{t}");
}

/// A public server whose UDP port is filtered (only the signaling port passes): the viewer's checks to
/// it go unanswered.
#[test]
fn server_udp_port_filtered() {
    let Some(_serial) = ready("diagnosis: server UDP filtered", &[]) else {
        return;
    };
    let mut lab = Lab::build(Topology {
        viewer: Side::Public,
        server: Side::Public,
        coturn: false,
    });
    lab.iptables("pub", "-I FORWARD 1 -o to-s -p udp -j DROP");
    lab.serve(&["--bitrate", "1M"]);
    let mut v = lab.viewer(&[
        "--duration",
        "30s",
        "--max-restarts",
        "0",
        "--handshake-timeout",
        "12s",
        "--ice-timeouts",
        ICE_TIMEOUTS,
    ]);
    let code = v.finish(Duration::from_secs(40));
    println!("{}", summary(&v.events));
    record("natlab-server-udp-filtered", &v.events);
    let f = diagnose(&v.events);
    let n = find(&f, "no-stun-response", &v.events);
    assert_eq!(n.severity, Severity::Error);
    // The evidence is the real checklist: checks sent, no response, every pair failed.
    assert!(
        n.evidence.iter().any(|e| e.starts_with("checklist: ")
            && e.contains("checks sent, 0 responses")
            && e.ends_with("every pair failed")),
        "{n:#?}"
    );
    assert!(
        !f.iter().any(|x| x.id == "server-private-addresses"),
        "the server's address is public: {f:#?}"
    );
    assert_eq!(code, Some(4));
}
