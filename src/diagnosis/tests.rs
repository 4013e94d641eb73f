//! Unit tests of the rules on synthetic event streams: each rule fires on the smallest stream that
//! shows its condition and stays silent just short of it. (Recorded streams are in tests/diagnosis.rs.)

use super::*;
use crate::analysis::Analysis;
use crate::event::{
    Candidate, CandidatePair, CandidateType, EndReason, ErrorSource, Event, IceServerInfo,
    IceServerSource, MessageKind, PairEnd, Phase, Protocol, RestartCause, SkippedIceServer,
    Stamped, StateKind, TrackStats,
};

/// 2026-01-01T00:00:00Z.
const UNIX_MS: u64 = 1_767_225_600_000;

struct S {
    events: Vec<Stamped>,
    t: f64,
    attempt: u32,
}

impl S {
    fn new() -> Self {
        let mut s = S {
            events: Vec::new(),
            t: 0.0,
            attempt: 0,
        };
        s.push(Event::SessionStarted {
            target: "ws://127.0.0.1:8889/cam/ws".into(),
            protocol: Protocol::Ws,
            wall_clock: "2026-01-01T00:00:00.000Z".into(),
            unix_ms: UNIX_MS,
            version: "0".into(),
            schema_version: 1,
        });
        s
    }

    fn at(&mut self, t: f64) -> &mut Self {
        self.t = t;
        self
    }

    fn push(&mut self, event: Event) -> &mut Self {
        self.events.push(Stamped {
            seq: self.events.len() as u64,
            t_ms: self.t,
            attempt: self.attempt,
            event,
        });
        self
    }

    fn attempt(&mut self) -> &mut Self {
        self.attempt += 1;
        let n = self.attempt;
        self.push(Event::AttemptStarted { attempt: n })
            .push(Event::SignalingConnecting {
                url: "ws://127.0.0.1:8889/cam/ws".into(),
            })
    }

    fn connected(&mut self) -> &mut Self {
        self.push(Event::SignalingConnected {
            http_status: 101,
            elapsed_ms: 1.0,
        })
    }

    fn servers(&mut self, urls: &[&str], username: Option<&str>, policy: &str) -> &mut Self {
        let servers = if urls.is_empty() {
            vec![]
        } else {
            vec![IceServerInfo {
                urls: urls.iter().map(|u| (*u).to_owned()).collect(),
                username: username.map(str::to_owned),
                has_credential: username.is_some(),
                source: IceServerSource::CommandLine,
            }]
        };
        self.push(Event::IceServers {
            servers,
            skipped: vec![],
            policy: policy.into(),
        })
    }

    fn offer(&mut self) -> &mut Self {
        self.push(Event::MessageSent {
            kind: MessageKind::Offer,
            size: 10,
            text: serde_json::json!({"type": "offer", "sdp": OFFER}).to_string(),
        })
    }

    fn answer_sdp(&mut self, sdp: &str) -> &mut Self {
        self.push(Event::MessageReceived {
            kind: MessageKind::Answer,
            size: 10,
            text: serde_json::json!({"type": "answer", "sdp": sdp}).to_string(),
            truncated: false,
        })
    }

    fn answer(&mut self) -> &mut Self {
        self.answer_sdp(ANSWER)
    }

    fn local(&mut self, c: Candidate) -> &mut Self {
        self.push(Event::LocalCandidate { candidate: c })
    }

    fn remote(&mut self, c: Candidate) -> &mut Self {
        self.push(Event::RemoteCandidate {
            raw: String::new(),
            candidate: Some(c),
            sdp_mid: None,
            sdp_mline_index: None,
            error: None,
        })
    }

    fn gathered(&mut self) -> &mut Self {
        self.push(Event::LocalGatheringComplete)
    }

    fn state(&mut self, kind: StateKind, state: &str) -> &mut Self {
        self.push(Event::StateChanged {
            kind,
            state: state.into(),
        })
    }

    fn stack(&mut self, message: &str) -> &mut Self {
        self.push(Event::Warning {
            source: ErrorSource::Stack,
            message: message.into(),
        })
    }

    fn restart(&mut self, cause: RestartCause, lived: f64, had_connected: bool) -> &mut Self {
        let n = self.attempt;
        self.push(Event::Restart {
            cause,
            ended_attempt: n,
            lived_ms: lived,
            had_connected,
            pause_ms: 2000.0,
        })
    }

    fn end(&mut self) -> &mut Self {
        let n = self.attempt;
        self.push(Event::Ended {
            reason: EndReason::Duration,
            attempts: n,
            ever_connected: false,
            media_received: false,
        })
    }

    fn stats(&mut self, packets: u64, lost: i64, keyframes: u64, bps: f64) -> &mut Self {
        self.push(Event::TrackStats {
            stats: TrackStats {
                ssrc: 7,
                kind: "video".into(),
                codec: Some("video/VP8".into()),
                clock_rate: Some(90000),
                mid: "0".into(),
                bytes_received: packets * 1000,
                header_bytes_received: packets * 12,
                packets_received: packets,
                bitrate_bps: bps,
                packets_lost: lost,
                jitter_ms: Some(1.0),
                nack_count: 0,
                pli_count: 2,
                fir_count: 0,
                keyframes,
            },
        })
    }

    /// A connected session up to first media (at 300 ms), loopback host candidates.
    fn healthy_start(&mut self) -> &mut Self {
        self.at(1.0).attempt().connected().servers(&[], None, "all");
        self.at(5.0)
            .offer()
            .local(host("127.0.0.1", 5000))
            .gathered();
        self.at(15.0)
            .answer()
            .state(StateKind::IceConnection, "checking")
            .remote(host("127.0.0.1", 6000));
        self.at(20.0).state(StateKind::IceConnection, "connected");
        self.at(220.0)
            .state(StateKind::PeerConnection, "connected")
            .state(StateKind::Dtls, "connected")
            .push(Event::SelectedPair {
                pair: pair("127.0.0.1", "127.0.0.1", 3, 3),
                changes: 1,
            });
        self.at(300.0).push(Event::FirstMedia {
            kind: "video".into(),
            ssrc: 7,
            payload_type: 96,
        })
    }

    fn diag(&self) -> Analysis {
        Analysis::from_events(&self.events)
    }

    fn ids(&self) -> Vec<&'static str> {
        self.diag()
            .findings()
            .to_vec()
            .iter()
            .map(|f| f.id)
            .collect()
    }

    fn get(&self, id: &str) -> Finding {
        let all = self.diag().findings().to_vec();
        all.iter()
            .find(|f| f.id == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} did not fire: {all:#?}"))
    }
}

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96 98\r\na=mid:0\r\na=recvonly\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:98 H264/90000\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:1\r\na=recvonly\r\na=rtpmap:111 opus/48000/2\r\n";
const ANSWER: &str = "v=0\r\no=- 2 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=sendonly\r\na=rtpmap:96 VP8/90000\r\nm=audio 0 UDP/TLS/RTP/SAVPF 111\r\na=mid:1\r\na=inactive\r\na=rtpmap:111 opus/48000/2\r\n";

fn cand(typ: CandidateType, address: &str, port: u16) -> Candidate {
    Candidate {
        typ,
        protocol: "udp".into(),
        address: address.into(),
        port,
        priority: 1,
        foundation: "1".into(),
        component: 1,
        related_address: None,
        related_port: None,
        tcp_type: None,
        url: None,
        relay_protocol: None,
    }
}

fn host(address: &str, port: u16) -> Candidate {
    cand(CandidateType::Host, address, port)
}

fn srflx(address: &str, port: u16, base: &str, base_port: u16) -> Candidate {
    Candidate {
        related_address: Some(base.into()),
        related_port: Some(base_port),
        ..cand(CandidateType::Srflx, address, port)
    }
}

fn pair(local: &str, remote: &str, requests: u64, responses: u64) -> CandidatePair {
    CandidatePair {
        id: "p1".into(),
        local: Some(PairEnd {
            typ: CandidateType::Host,
            protocol: "udp".into(),
            address: local.into(),
            port: 5000,
            relay_protocol: None,
        }),
        remote: Some(PairEnd {
            typ: CandidateType::Host,
            protocol: "udp".into(),
            address: remote.into(),
            port: 6000,
            relay_protocol: None,
        }),
        state: if responses > 0 {
            "succeeded".into()
        } else {
            "in-progress".into()
        },
        nominated: responses > 0,
        current_rtt_ms: (responses > 0).then_some(0.4),
        total_rtt_ms: 0.4 * responses as f64,
        requests_sent: requests,
        requests_received: requests,
        responses_received: responses,
        responses_sent: requests,
        bytes_sent: 100,
        bytes_received: 100_000,
        stale: false,
    }
}

/// Negotiation up to checking, with the given candidates; no ICE connection.
fn checking(local: Vec<Candidate>, remote: Vec<Candidate>, servers: &[&str]) -> S {
    let mut s = S::new();
    s.at(1.0)
        .attempt()
        .connected()
        .servers(servers, None, "all");
    s.at(5.0).offer();
    for c in local {
        s.local(c);
    }
    s.gathered();
    s.at(15.0)
        .answer()
        .state(StateKind::IceConnection, "checking");
    for c in remote {
        s.remote(c);
    }
    s
}

#[test]
fn an_empty_stream_has_no_finding() {
    assert!(Analysis::new().findings().is_empty());
    assert!(S::new().diag().findings().to_vec().is_empty());
}

#[test]
fn healthy_is_the_only_verdict_of_a_healthy_session() {
    let mut s = S::new();
    s.healthy_start();
    for i in 1..=5 {
        s.at(300.0 + 1000.0 * i as f64)
            .stats(100 * i, 0, 1 + i / 2, 1_900_000.0);
    }
    s.at(6000.0).end();
    let f = s.diag().findings().to_vec();
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].id, "healthy");
    assert_eq!(f[0].severity, Severity::Ok);
    assert!(f[0].title.contains("host/udp → host/udp"), "{}", f[0].title);
    assert!(f[0].title.contains("RTT 0.4 ms"), "{}", f[0].title);
    assert!(f[0].title.contains("1.90 Mbit/s"), "{}", f[0].title);
    assert!(f[0].title.contains("0.0 % loss"), "{}", f[0].title);
    // While it runs, too.
    let mut live = S::new();
    live.healthy_start().at(1300.0).stats(100, 0, 1, 1e6);
    assert_eq!(live.ids(), vec!["healthy"]);
}

#[test]
fn signaling_unreachable_is_critical() {
    let mut s = S::new();
    s.at(1.0).attempt().push(Event::SignalingFailed {
        error: "could not connect: Connection refused (os error 111)".into(),
        http_status: None,
        body: None,
    });
    let f = s.get("signaling-unreachable");
    assert_eq!(f.severity, Severity::Critical);
    assert!(f.fix.as_deref().unwrap_or("").contains("Nothing listens"));
}

fn http_fail(status: u16, headers: Vec<(String, String)>, body: &str) -> S {
    let mut s = S::new();
    s.at(1.0).attempt().connected().servers(&[], None, "all");
    s.at(3.0).push(Event::HttpRequest {
        id: 2,
        method: "POST".into(),
        url: "http://127.0.0.1/cam/whep".into(),
        headers: vec![],
        kind: MessageKind::Offer,
        body: Some(OFFER.into()),
    });
    s.at(4.0).push(Event::HttpResponse {
        id: 2,
        method: "POST".into(),
        status,
        reason: "X".into(),
        headers,
        kind: MessageKind::ErrorBody,
        size: body.len(),
        body: body.into(),
        truncated: false,
        elapsed_ms: 1.0,
    });
    s
}

#[test]
fn http_statuses_map_to_causes() {
    let f = http_fail(
        404,
        vec![],
        r#"{"error":"no stream is available on path 'cam'"}"#,
    )
    .get("http-not-found");
    assert!(f.title.contains("no stream"), "{}", f.title);
    let f = http_fail(
        401,
        vec![(
            "www-authenticate".into(),
            r#"Basic realm="mediamtx""#.into(),
        )],
        "",
    )
    .get("http-unauthorized");
    assert!(f.title.contains("realm \"mediamtx\""), "{}", f.title);
    http_fail(405, vec![("allow".into(), "GET".into())], "").get("http-method-not-allowed");
    http_fail(500, vec![], "boom").get("http-error");
    let s = http_fail(
        400,
        vec![],
        "the stream doesn't contain any supported codec",
    );
    assert_eq!(s.ids(), vec!["codec-mismatch"]);
    // A trickle PATCH refused is a capability note, not a failure.
    let mut s = S::new();
    s.at(1.0).attempt().push(Event::HttpResponse {
        id: 3,
        method: "PATCH".into(),
        status: 405,
        reason: "Method Not Allowed".into(),
        headers: vec![],
        kind: MessageKind::Empty,
        size: 0,
        body: String::new(),
        truncated: false,
        elapsed_ms: 1.0,
    });
    assert!(s.ids().is_empty(), "{:?}", s.ids());
    // The WebSocket upgrade refused with 404.
    let mut s = S::new();
    s.at(1.0).attempt().push(Event::SignalingFailed {
        error: "server answered HTTP 404 Not Found instead of upgrading to WebSocket".into(),
        http_status: Some(404),
        body: Some("404 not found".into()),
    });
    assert_eq!(s.ids(), vec!["http-not-found"]);
}

#[test]
fn server_busy_is_a_warning() {
    let mut s = S::new();
    s.at(1.0).attempt().restart(
        RestartCause::ServerBusy {
            http_status: 503,
            retry_after_ms: 1000.0,
            error: "overloaded".into(),
        },
        5.0,
        false,
    );
    assert_eq!(s.get("server-busy").severity, Severity::Warning);
}

#[test]
fn socket_closed_names_the_phase_and_the_missing_close_frame() {
    let mut s = S::new();
    s.at(1.0).attempt().connected().servers(&[], None, "all");
    s.at(5.0).offer();
    s.at(6.0).push(Event::SignalingClosed {
        phase: Phase::AwaitingAnswer,
        code: None,
        reason: None,
        local: false,
    });
    s.restart(
        RestartCause::SocketClosed {
            phase: Phase::AwaitingAnswer,
        },
        5.0,
        false,
    );
    let f = s.get("socket-closed");
    assert_eq!(f.severity, Severity::Error);
    assert!(f.title.contains("after the offer, before the answer"));
    assert!(f.evidence[0].contains("without a close frame"), "{f:?}");
    // Our own close is not a finding.
    let mut s = S::new();
    s.healthy_start().at(5000.0).push(Event::SignalingClosed {
        phase: Phase::Closed,
        code: Some(1000),
        reason: None,
        local: true,
    });
    assert!(!s.ids().contains(&"socket-closed"));
}

#[test]
fn no_answer_on_a_handshake_timeout_before_the_answer() {
    let mut s = S::new();
    s.at(1.0).attempt().connected().servers(&[], None, "all");
    s.at(5.0).offer();
    s.at(10_005.0).restart(
        RestartCause::HandshakeTimeout {
            phase: Phase::AwaitingAnswer,
        },
        10_004.0,
        false,
    );
    assert!(s.ids().contains(&"no-answer"), "{:?}", s.ids());
}

#[test]
fn protocol_errors_are_quoted() {
    let mut s = S::new();
    s.at(1.0).attempt().restart(
        RestartCause::ProtocolError {
            phase: Phase::AwaitingIceServers,
            error: "not JSON: expected value".into(),
        },
        2.0,
        false,
    );
    assert!(s.get("protocol-error").title.contains("not JSON"));
}

#[test]
fn codec_mismatch_on_rejected_video_but_not_on_a_rejected_audio_only() {
    // ANSWER rejects audio (port 0, inactive) and keeps video: normal for a stream without audio.
    let mut s = S::new();
    s.healthy_start();
    assert!(!s.ids().contains(&"codec-mismatch"));
    let rejected = ANSWER.replace("m=video 9", "m=video 0");
    let mut s = S::new();
    s.at(1.0).attempt().connected().servers(&[], None, "all");
    s.at(5.0).offer().at(6.0).answer_sdp(&rejected);
    let f = s.get("codec-mismatch");
    assert!(f.title.contains("every media section"), "{}", f.title);
    assert!(f.evidence[0].contains("rejected (port 0)"), "{f:?}");
    // Video inactive, audio accepted.
    let inactive = ANSWER
        .replace("a=sendonly", "a=TMP")
        .replace("a=inactive", "a=sendonly")
        .replace("a=TMP", "a=inactive")
        .replace("m=audio 0", "m=audio 9");
    let mut s = S::new();
    s.at(1.0).attempt().offer().at(6.0).answer_sdp(&inactive);
    assert!(s.get("codec-mismatch").title.contains("video"));
}

#[test]
fn no_remote_candidates_after_the_grace() {
    let mut s = checking(vec![host("127.0.0.1", 5000)], vec![], &[]);
    s.at(2000.0).stack("nothing");
    assert!(!s.ids().contains(&"no-remote-candidates"), "too early");
    s.at(6000.0).stack("nothing");
    assert!(s.ids().contains(&"no-remote-candidates"));
}

#[test]
fn private_server_addresses_unreachable_from_here() {
    let mut s = checking(
        vec![host("10.0.0.5", 5000)],
        vec![host("172.17.0.2", 8189), host("192.168.7.3", 8189)],
        &[],
    );
    s.at(11_000.0).state(StateKind::PeerConnection, "failed");
    let f = s.get("server-private-addresses");
    assert!(f.title.contains("container"), "{}", f.title);
    assert!(f.evidence.iter().any(|e| e.contains("172.17.0.2")), "{f:?}");
    // The specific rule explains it: no generic ICE finding, no no-stun-response.
    let ids = s.ids();
    assert!(
        !ids.contains(&"no-stun-response") && !ids.contains(&"ice-failed"),
        "{ids:?}"
    );
    // Same LAN: reachable, so silent (and 127.0.0.1 to 127.0.0.1 too).
    let mut s = checking(
        vec![host("192.168.7.9", 5000)],
        vec![host("192.168.7.3", 8189)],
        &[],
    );
    s.at(11_000.0).state(StateKind::PeerConnection, "failed");
    assert!(!s.ids().contains(&"server-private-addresses"));
    let mut s = checking(
        vec![host("127.0.0.1", 5000)],
        vec![host("127.0.0.1", 8189)],
        &[],
    );
    s.at(11_000.0).state(StateKind::PeerConnection, "failed");
    assert!(!s.ids().contains(&"server-private-addresses"));
    // A public candidate among them: silent.
    let mut s = checking(
        vec![host("10.0.0.5", 5000)],
        vec![host("172.17.0.2", 8189), host("203.0.113.9", 8189)],
        &[],
    );
    s.at(11_000.0).state(StateKind::PeerConnection, "failed");
    assert!(!s.ids().contains(&"server-private-addresses"));
}

#[test]
fn no_stun_response_with_and_without_pair_counters() {
    let mut s = checking(
        vec![host("127.0.0.1", 5000)],
        vec![host("127.0.0.1", 8189)],
        &[],
    );
    s.at(3000.0).stack("x");
    assert!(!s.ids().contains(&"no-stun-response"), "not settled yet");
    s.at(11_000.0).state(StateKind::PeerConnection, "failed");
    let f = s.get("no-stun-response");
    assert!(f.title.contains("udp/127.0.0.1:8189"), "{}", f.title);
    // With counters: requests but no responses.
    let mut s = checking(
        vec![host("198.51.100.2", 5000)],
        vec![host("203.0.113.9", 8189)],
        &[],
    );
    s.push(Event::CandidatePairs {
        pairs: vec![pair("198.51.100.2", "203.0.113.9", 12, 0)],
    });
    s.at(11_000.0).state(StateKind::PeerConnection, "failed");
    let f = s.get("no-stun-response");
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("1 pair, 12 checks sent, 0 responses")),
        "{f:?}"
    );
    // A response on a pair: not this rule.
    let mut s = checking(
        vec![host("198.51.100.2", 5000)],
        vec![host("203.0.113.9", 8189)],
        &[],
    );
    s.push(Event::CandidatePairs {
        pairs: vec![pair("198.51.100.2", "203.0.113.9", 12, 1)],
    });
    s.at(11_000.0).state(StateKind::PeerConnection, "failed");
    let ids = s.ids();
    assert!(!ids.contains(&"no-stun-response"), "{ids:?}");
    assert!(
        ids.contains(&"ice-failed"),
        "the fallback explains it: {ids:?}"
    );
}

#[test]
fn udp_blocked_when_no_server_answers() {
    let mut s = checking(
        vec![host("192.168.1.5", 5000)],
        vec![host("203.0.113.9", 8189)],
        &["stun:stun.example.org:3478"],
    );
    s.at(11_000.0).state(StateKind::PeerConnection, "failed");
    assert_eq!(s.get("udp-blocked").severity, Severity::Error);
    // A srflx came back: UDP works.
    let mut s = checking(
        vec![
            host("192.168.1.5", 5000),
            srflx("198.51.100.7", 5000, "192.168.1.5", 5000),
        ],
        vec![host("203.0.113.9", 8189)],
        &["stun:stun.example.org:3478"],
    );
    s.at(11_000.0).state(StateKind::PeerConnection, "failed");
    assert!(!s.ids().contains(&"udp-blocked"));
    // Connected anyway (direct): a warning.
    let mut s = S::new();
    s.at(1.0)
        .attempt()
        .connected()
        .servers(&["stun:127.0.0.1:1"], None, "all");
    s.at(5.0).offer().local(host("127.0.0.1", 5000)).gathered();
    s.at(15.0).answer().remote(host("127.0.0.1", 6000));
    s.at(20.0).state(StateKind::PeerConnection, "connected");
    assert_eq!(s.get("udp-blocked").severity, Severity::Warning);
}

#[test]
fn no_ice_servers_behind_nat() {
    let mut s = checking(
        vec![host("192.168.10.2", 5000)],
        vec![host("192.168.20.2", 8189)],
        &[],
    );
    s.at(11_000.0).state(StateKind::PeerConnection, "failed");
    let f = s.get("no-ice-servers-nat");
    assert!(f.evidence.iter().any(|e| e.contains("192.168.10.2")));
    // Loopback is no NAT.
    let mut s = checking(
        vec![host("127.0.0.1", 5000)],
        vec![host("127.0.0.1", 8189)],
        &[],
    );
    s.at(11_000.0).state(StateKind::PeerConnection, "failed");
    assert!(!s.ids().contains(&"no-ice-servers-nat"));
}

#[test]
fn turn_auth_failure_versus_unreachable() {
    let mut s = checking(
        vec![host("127.0.0.1", 5000)],
        vec![host("127.0.0.1", 8189)],
        &["turn:127.0.0.1:3478"],
    );
    s.stack("ERROR turn_relayer: TURN allocation failed from 127.0.0.1:1 to 127.0.0.1:3478: Allocate error response (error 401: Unauthorized)");
    s.at(6000.0).stack("x");
    let ids = s.ids();
    assert!(ids.contains(&"turn-auth-failed"), "{ids:?}");
    assert!(!ids.contains(&"turn-unreachable"), "{ids:?}");
    assert!(
        !ids.contains(&"udp-blocked"),
        "a 401 proves UDP works: {ids:?}"
    );
    let mut s = checking(
        vec![host("127.0.0.1", 5000)],
        vec![host("127.0.0.1", 8189)],
        &["turn:127.0.0.1:3478"],
    );
    s.at(6000.0).end();
    let ids = s.ids();
    assert!(ids.contains(&"turn-unreachable"), "{ids:?}");
    assert!(!ids.contains(&"turn-auth-failed"), "{ids:?}");
    // A relay came: silent.
    let mut relay = cand(CandidateType::Relay, "127.0.0.1", 40000);
    relay.url = Some("turn:127.0.0.1:3478".into());
    let mut s = checking(
        vec![host("127.0.0.1", 5000), relay],
        vec![host("127.0.0.1", 8189)],
        &["turn:127.0.0.1:3478"],
    );
    s.at(6000.0).end();
    let ids = s.ids();
    assert!(!ids.iter().any(|i| i.starts_with("turn")), "{ids:?}");
}

#[test]
fn turn_rest_expiry_and_skew() {
    let now_s = UNIX_MS / 1000;
    let expired = format!("{}:a***", now_s - 7200);
    let mut s = S::new();
    s.at(1.0)
        .attempt()
        .servers(&["turn:127.0.0.1:3478"], Some(&expired), "relay");
    let f = s.get("turn-rest-expired");
    assert!(f.title.contains("2h ago"), "{}", f.title);
    let ahead = format!("{}:a***", now_s + 90 * 86_400);
    let mut s = S::new();
    s.at(1.0)
        .attempt()
        .servers(&["turn:127.0.0.1:3478"], Some(&ahead), "all");
    assert!(s.get("turn-rest-clock-skew").title.contains("90 days"));
    let fine = format!("{}:a***", now_s + 3600);
    let mut s = S::new();
    s.at(1.0)
        .attempt()
        .servers(&["turn:127.0.0.1:3478"], Some(&fine), "all");
    assert!(s.ids().is_empty(), "{:?}", s.ids());
    // Expired by our clock, yet the server gave a relay: the clocks disagree.
    let mut relay = cand(CandidateType::Relay, "127.0.0.1", 40000);
    relay.url = Some("turn:127.0.0.1:3478".into());
    let mut s = S::new();
    s.at(1.0)
        .attempt()
        .servers(&["turn:127.0.0.1:3478"], Some(&expired), "relay");
    s.local(relay);
    let ids = s.ids();
    assert!(
        ids.contains(&"turn-rest-clock-skew") && !ids.contains(&"turn-rest-expired"),
        "{ids:?}"
    );
}

#[test]
fn turn_over_tcp_skipped() {
    let mut s = S::new();
    s.at(1.0).attempt().push(Event::IceServers {
        servers: vec![IceServerInfo {
            urls: vec!["turns:turn.example.org:443".into()],
            username: Some("u***".into()),
            has_credential: true,
            source: IceServerSource::Signaling,
        }],
        skipped: vec![SkippedIceServer {
            url: "turns:turn.example.org:443".into(),
            reason: "TURN over TLS is not supported".into(),
        }],
        policy: "all".into(),
    });
    s.at(6000.0).end();
    let ids = s.ids();
    assert!(ids.contains(&"turn-tcp-tls-skipped"), "{ids:?}");
    assert!(
        !ids.contains(&"turn-unreachable"),
        "a skipped URL was never tried: {ids:?}"
    );
}

/// A TURN-over-TLS session whose connection to the server failed at `stage` with `error`.
fn turn_tls_failed(stage: crate::event::TurnTransportStage, error: &str) -> S {
    let mut s = S::new();
    s.at(1.0)
        .attempt()
        .servers(&["turns:turn.example.org:443"], Some("u"), "relay");
    s.at(40.0).push(Event::TurnTransportFailed {
        url: "turns:turn.example.org:443".into(),
        relay_protocol: crate::event::RelayProtocol::Tls,
        stage,
        error: error.into(),
    });
    s
}

#[test]
fn turn_transport_failures_are_named() {
    use crate::event::TurnTransportStage as Stage;
    let cases = [
        (
            Stage::Tls,
            "certificate rejected: the server's certificate is signed by an unknown CA",
            "certificate was rejected",
            "--insecure",
        ),
        (
            Stage::Connect,
            "TCP connection failed: Connection refused",
            "TLS connection to the TURN server failed",
            "TCP to it is allowed",
        ),
        (
            Stage::Dropped,
            "the server closed the connection",
            "dropped mid-session",
            "restarts",
        ),
    ];
    for (stage, error, title, fix) in cases {
        let mut s = turn_tls_failed(stage, error);
        s.at(6000.0).end();
        let f = s.get("turn-transport-failed");
        assert_eq!(f.severity, Severity::Error, "{f:#?}");
        assert!(f.title.contains(title), "{f:#?}");
        assert!(f.title.contains("turns:turn.example.org:443"), "{f:#?}");
        assert!(f.fix.as_deref().unwrap_or("").contains(fix), "{f:#?}");
        assert!(f.evidence.iter().any(|e| e.contains(error)), "{f:#?}");
        assert!(
            !s.ids().contains(&"turn-tcp-tls-skipped"),
            "nothing was skipped"
        );
    }
}

#[test]
fn turns_that_allocates_in_the_probe_but_fails_in_the_session_is_a_finding() {
    use crate::event::TurnTransportStage as Stage;
    let mut s = turn_tls_failed(Stage::Connect, "no answer to the TCP connection within 5 s");
    let probe: crate::event::probe::ProbeResult = serde_json::from_value(serde_json::json!({
        "url": "turns:turn.example.org:443",
        "transport": "tls",
        "kind": "turn_allocate",
        "host": "turn.example.org",
        "port": 443,
        "outcome": {"status": "ok"},
        "attempts": 1,
        "elapsed_ms": 30.0,
    }))
    .expect("a probe result");
    s.at(50.0).push(Event::ProbeResult { result: probe });
    s.at(6000.0).end();
    let f = s.get("turn-transport-failed");
    assert!(
        f.title
            .contains("allocates in the probe but failed in the session"),
        "{f:#?}"
    );
    assert!(f.evidence.iter().any(|e| e.starts_with("probe:")), "{f:#?}");
}

#[test]
fn symmetric_nat_and_cgnat() {
    let mut s = checking(
        vec![
            host("192.168.1.5", 5000),
            srflx("198.51.100.7", 61000, "192.168.1.5", 5000),
            srflx("198.51.100.7", 61017, "192.168.1.5", 5000),
        ],
        vec![host("203.0.113.9", 8189)],
        &["stun:a.example:3478", "stun:b.example:3478"],
    );
    s.at(20.0).state(StateKind::IceConnection, "connected");
    let f = s.get("symmetric-nat");
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.evidence[0].contains("61000") && f.evidence[0].contains("61017"),
        "{f:?}"
    );
    let mut s = checking(
        vec![
            host("100.72.1.5", 5000),
            srflx("198.51.100.7", 5000, "100.72.1.5", 5000),
        ],
        vec![host("203.0.113.9", 8189)],
        &["stun:a.example:3478"],
    );
    s.at(11_000.0).state(StateKind::PeerConnection, "failed");
    assert!(s.ids().contains(&"cgnat"));
    assert!(!s.ids().contains(&"symmetric-nat"), "one mapping only");
}

#[test]
fn dtls_failed_after_ice_connected() {
    let mut s = checking(
        vec![host("127.0.0.1", 5000)],
        vec![host("127.0.0.1", 6000)],
        &[],
    );
    s.at(20.0).state(StateKind::IceConnection, "connected");
    s.at(1000.0).state(StateKind::Dtls, "connecting");
    assert!(!s.ids().contains(&"dtls-failed"), "not yet");
    s.at(30_000.0).state(StateKind::PeerConnection, "failed");
    let f = s.get("dtls-failed");
    assert!(f.evidence[1].contains("connecting"), "{f:?}");
    assert!(!s.ids().contains(&"ice-failed"));
}

#[test]
fn no_media_media_stalled_no_keyframes_and_loss() {
    let mut s = S::new();
    s.healthy_start();
    // Connected but no first media: remove it.
    s.events
        .retain(|e| !matches!(e.event, Event::FirstMedia { .. }));
    s.at(3000.0).stack("x");
    assert!(!s.ids().contains(&"no-media"), "grace");
    s.at(6000.0).stack("x");
    assert!(s.ids().contains(&"no-media"));

    let mut s = S::new();
    s.healthy_start();
    s.at(1300.0).stats(100, 0, 1, 1e6);
    s.at(2300.0).stats(200, 0, 1, 1e6);
    for t in [3300.0, 4300.0, 5300.0] {
        s.at(t).stats(200, 0, 1, 0.0);
    }
    let ids = s.ids();
    assert!(
        ids.contains(&"media-stalled") && !ids.contains(&"healthy"),
        "{ids:?}"
    );

    let mut s = S::new();
    s.healthy_start();
    for i in 1..=3 {
        s.at(300.0 + 1000.0 * i as f64).stats(100 * i, 0, 0, 1e6);
    }
    assert_eq!(s.ids(), vec!["healthy"], "too early to say");
    s.at(4300.0).stats(400, 0, 0, 1e6);
    let f = s.get("no-keyframes");
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.evidence[0].contains("PLI sent 2"), "{f:?}");
    s.at(10_300.0).stats(1000, 0, 0, 1e6);
    assert_eq!(s.get("no-keyframes").severity, Severity::Error);

    let mut s = S::new();
    s.healthy_start();
    s.at(1300.0).stats(900, 100, 1, 1e6);
    let f = s.get("packet-loss");
    assert!(
        f.title.starts_with("The network lost 10.0 %"),
        "{}",
        f.title
    );
    assert!(
        s.ids().contains(&"healthy"),
        "loss is a warning, media flows"
    );
}

#[test]
fn slow_setup_names_the_slow_phase() {
    let mut s = S::new();
    s.at(1.0).attempt().connected().servers(&[], None, "all");
    s.at(5.0).offer().local(host("127.0.0.1", 5000));
    s.at(5105.0).answer().remote(host("127.0.0.1", 6000));
    s.at(5110.0).state(StateKind::IceConnection, "connected");
    s.at(5300.0).state(StateKind::PeerConnection, "connected");
    s.at(5310.0).push(Event::FirstMedia {
        kind: "video".into(),
        ssrc: 1,
        payload_type: 96,
    });
    let f = s.get("slow-setup");
    assert!(f.title.contains("STUN gathering"), "{}", f.title);
    assert!(f.evidence[0].contains("answer 5s 100ms"), "{f:?}");
    // A normal setup is not slow.
    let mut s = S::new();
    s.healthy_start();
    assert!(!s.ids().contains(&"slow-setup"));
}

#[test]
fn restart_loop_counts_attempts_with_the_common_cause() {
    let mut s = S::new();
    for i in 0..4 {
        s.at(1.0 + 2000.0 * i as f64).attempt().connected();
        s.at(5.0 + 2000.0 * i as f64).restart(
            RestartCause::SocketClosed {
                phase: Phase::AwaitingAnswer,
            },
            4.0,
            false,
        );
    }
    let f = s.get("restart-loop");
    assert_eq!(f.severity, Severity::Error);
    assert!(f.title.contains("4 attempts"), "{}", f.title);
    assert!(
        f.title.contains("socket closed after the offer"),
        "{}",
        f.title
    );
    // Two are not a loop.
    let mut s = S::new();
    for i in 0..2 {
        s.at(1.0 + 2000.0 * i as f64).attempt().connected();
        s.restart(RestartCause::IceFailed, 4.0, false);
    }
    assert!(!s.ids().contains(&"restart-loop"));
}

#[test]
fn an_earlier_failure_is_a_warning_once_a_later_attempt_recovered() {
    let mut s = S::new();
    s.at(1.0).attempt().connected().servers(&[], None, "all");
    s.at(5.0).offer();
    s.at(6.0).push(Event::SignalingClosed {
        phase: Phase::AwaitingAnswer,
        code: None,
        reason: None,
        local: false,
    });
    s.restart(
        RestartCause::SocketClosed {
            phase: Phase::AwaitingAnswer,
        },
        5.0,
        false,
    );
    assert_eq!(s.get("socket-closed").severity, Severity::Error);
    let base = s.events.len();
    let mut healthy = S::new();
    healthy.attempt = 1;
    healthy.healthy_start();
    for e in healthy.events.into_iter().skip(1) {
        let t = e.t_ms + 2000.0;
        s.at(t);
        s.attempt = e.attempt;
        s.push(e.event);
    }
    assert!(s.events.len() > base);
    let f = s.diag().findings().to_vec();
    let closed = f.iter().find(|f| f.id == "socket-closed").expect("kept");
    assert_eq!(closed.severity, Severity::Warning, "{f:#?}");
    assert!(f.iter().any(|f| f.id == "healthy"), "{f:#?}");
}

#[test]
fn stale_events_of_an_old_attempt_do_not_touch_the_current_one() {
    let mut s = S::new();
    s.healthy_start();
    s.at(2000.0).attempt();
    // A late callback of attempt 1.
    s.events.push(Stamped {
        seq: 999,
        t_ms: 2001.0,
        attempt: 1,
        event: Event::StateChanged {
            kind: StateKind::PeerConnection,
            state: "connected".into(),
        },
    });
    let d = s.diag();
    assert!(!d.model().attempt().connected());
}

#[test]
fn every_rule_is_catalogued_once() {
    let mut ids: Vec<&str> = RULES.iter().map(|(id, _)| *id).collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "duplicate ids");
    assert!(RULES.iter().all(|(_, d)| !d.is_empty()));
}

#[test]
fn memory_stays_bounded_over_a_long_session() {
    let mut s = S::new();
    s.healthy_start();
    let mut d = s.diag();
    for i in 0..20_000u64 {
        let t = 400.0 + i as f64 * 1000.0;
        d.apply(&Stamped {
            seq: 100 + i,
            t_ms: t,
            attempt: 1,
            event: Event::LocalCandidate {
                candidate: host("127.0.0.1", (i % 60000) as u16),
            },
        });
        d.apply(&Stamped {
            seq: 100 + i,
            t_ms: t,
            attempt: 1,
            event: Event::Restart {
                cause: RestartCause::IceDisconnected,
                ended_attempt: 0,
                lived_ms: 1.0,
                had_connected: true,
                pause_ms: 0.0,
            },
        });
    }
    let m = d.model();
    assert!(m.attempt().local_candidates.len() <= crate::model::CANDIDATE_CAP);
    assert!(m.restarts().len() <= crate::model::RESTART_CAP);
    assert_eq!(m.attempt().local_total(), 20_001);
    assert_eq!(m.restarts().total(), 20_000);
    let _ = d.findings();
}

#[test]
fn rule_declarations_are_consistent() {
    let all: Vec<&rules::Rule> = rules::all().collect();
    assert_eq!(all.len(), RULES.len());
    for r in &all {
        if let Some(broad) = r.suppressed_by {
            assert!(all.iter().any(|b| b.id == broad), "{}: {broad}", r.id);
        }
    }
    let mut orders: Vec<u8> = all
        .iter()
        .filter_map(|r| match r.check {
            rules::Check::Attempt { order, .. } => Some(order),
            _ => None,
        })
        .collect();
    let n = orders.len();
    orders.sort_unstable();
    orders.dedup();
    assert_eq!(orders.len(), n, "each attempt rule has its own place");
}

#[test]
fn candidates_that_cannot_pair_are_named_with_their_families() {
    // IPv4 here, IPv6 only on the server (the `[::1]` case): not a generic ice-failed.
    let mut s = checking(vec![host("127.0.0.1", 5000)], vec![host("::1", 8189)], &[]);
    s.at(11_000.0).state(StateKind::PeerConnection, "failed");
    let f = s.get("candidates-cannot-pair");
    assert!(f.title.contains("address families do not match"), "{f:?}");
    assert!(f.title.contains("here IPv4, the server IPv6"), "{f:?}");
    let ids = s.ids();
    assert!(!ids.contains(&"ice-failed"), "{ids:?}");
    assert!(!ids.contains(&"server-private-addresses"), "{ids:?}");
    // UDP here, TCP only there.
    let mut tcp = host("198.51.100.7", 8189);
    tcp.protocol = "tcp".into();
    let mut s = checking(vec![host("198.51.100.2", 5000)], vec![tcp], &[]);
    s.at(11_000.0).state(StateKind::PeerConnection, "failed");
    let f = s.get("candidates-cannot-pair");
    assert!(f.title.contains("no common transport"), "{f:?}");
    // A family in common: silent, even with others that do not match.
    let mut s = checking(
        vec![host("127.0.0.1", 5000), host("::1", 5001)],
        vec![host("::1", 8189)],
        &[],
    );
    s.at(11_000.0).state(StateKind::PeerConnection, "failed");
    assert!(!s.ids().contains(&"candidates-cannot-pair"));
    // Still checking within the grace period: not yet.
    let mut s = checking(vec![host("127.0.0.1", 5000)], vec![host("::1", 8189)], &[]);
    s.at(1_000.0).stack("x");
    assert!(!s.ids().contains(&"candidates-cannot-pair"));
}
