//! Builders of realistic event streams for tests, examples and snapshots (until recorded streams
//! of the real engine exist, and alongside them).
//!
//! [`happy_session`] is a viewer against `rtcscope serve` on 127.0.0.1: no ICE servers, one host
//! candidate each side, a succeeded and selected pair, a VP8 track at about 2 Mbit/s.
//! [`restart_relay_error_session`] has a first attempt whose socket closes after the answer, a
//! second one over a TURN relay (with a skipped TURN/TCP server), a stale event of the first
//! attempt, and an error whose offending text holds terminal escape sequences.
//!
//! Test-only: included with `#[path]` by the integration tests, by the library's unit tests
//! (`crate::test_events`, where `rtcscope` names the crate itself) and by nothing in the release build.
#![allow(dead_code)]

use serde_json::json;

use rtcscope::event::{
    Candidate, CandidatePair, CandidateType, Direction, EndReason, ErrorSource, Event,
    IceServerInfo, IceServerSource, MessageKind, PairEnd, Phase, Protocol, RestartCause,
    SkippedIceServer, Stamped, StateKind, TrackStats,
};

/// Builds a `Vec<Stamped>` with consecutive `seq` numbers.
#[derive(Debug, Default, Clone)]
pub struct Script {
    events: Vec<Stamped>,
    attempt: u32,
}

impl Script {
    /// An empty script.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append `event` at session time `t_ms`, stamped with the current attempt.
    pub fn at(&mut self, t_ms: f64, event: Event) -> &mut Self {
        let attempt = self.attempt;
        self.at_attempt(t_ms, attempt, event)
    }

    /// Append `event` stamped with an explicit attempt (e.g. a stale one).
    pub fn at_attempt(&mut self, t_ms: f64, attempt: u32, event: Event) -> &mut Self {
        self.events.push(Stamped {
            seq: self.events.len() as u64,
            t_ms,
            attempt,
            event,
        });
        self
    }

    /// Start attempt `n` at `t_ms` (emits `attempt_started`).
    pub fn attempt(&mut self, t_ms: f64, n: u32) -> &mut Self {
        self.attempt = n;
        self.at(t_ms, Event::AttemptStarted { attempt: n })
    }

    /// The events so far.
    pub fn events(&self) -> &[Stamped] {
        &self.events
    }

    /// Take the events.
    pub fn build(self) -> Vec<Stamped> {
        self.events
    }
}

/// The target of the fixtures.
pub const TARGET: &str = "ws://127.0.0.1:8889/cam/ws";

/// `session_started` for [`TARGET`].
pub fn session_started() -> Event {
    Event::SessionStarted {
        target: TARGET.into(),
        protocol: Protocol::Ws,
        wall_clock: "2026-01-01T12:00:00Z".into(),
        unix_ms: 1_767_268_800_000,
        version: "0.1.0".into(),
        schema_version: rtcscope::event::SCHEMA_VERSION,
    }
}

/// A candidate.
pub fn candidate(typ: CandidateType, address: &str, port: u16, priority: u32) -> Candidate {
    Candidate {
        typ,
        protocol: "udp".into(),
        address: address.into(),
        port,
        priority,
        foundation: format!("{}", 1000 + port as u32 % 997),
        component: 1,
        related_address: None,
        related_port: None,
        tcp_type: None,
        url: None,
        relay_protocol: None,
    }
}

/// The `candidate:` line of a candidate.
pub fn candidate_line(c: &Candidate) -> String {
    let mut s = format!(
        "candidate:{} {} {} {} {} {} typ {}",
        c.foundation,
        c.component,
        c.protocol,
        c.priority,
        c.address,
        c.port,
        c.typ.as_str()
    );
    if let (Some(a), Some(p)) = (&c.related_address, c.related_port) {
        s.push_str(&format!(" raddr {a} rport {p}"));
    }
    s
}

fn end(c: &Candidate) -> PairEnd {
    PairEnd {
        typ: c.typ,
        protocol: c.protocol.clone(),
        address: c.address.clone(),
        port: c.port,
        relay_protocol: c.relay_protocol,
    }
}

/// A candidate pair between two candidates.
pub fn pair(id: &str, local: &Candidate, remote: &Candidate, state: &str) -> CandidatePair {
    CandidatePair {
        id: id.into(),
        local: Some(end(local)),
        remote: Some(end(remote)),
        state: state.into(),
        nominated: false,
        current_rtt_ms: None,
        total_rtt_ms: 0.0,
        requests_sent: 1,
        requests_received: 0,
        responses_received: 0,
        responses_sent: 0,
        bytes_sent: 0,
        bytes_received: 0,
        stale: false,
    }
}

/// Signaling messages and ICE up to the answer and the remote candidates, for one attempt whose
/// local candidates are `locals` and remote ones `remotes`, starting at `t0`. Returns the time reached.
fn negotiate(
    s: &mut Script,
    t0: f64,
    ice: (Vec<IceServerInfo>, Vec<SkippedIceServer>, &str),
    locals: &[Candidate],
    remotes: &[Candidate],
) -> f64 {
    s.at(t0 + 0.2, Event::SignalingConnecting { url: TARGET.into() });
    s.at(
        t0 + 3.1,
        Event::SignalingConnected {
            http_status: 101,
            elapsed_ms: 2.9,
        },
    );
    let ice_text = serde_json::to_string(
        &ice.0
            .iter()
            .map(|i| json!({"urls": i.urls, "username": i.username, "credential": "***"}))
            .collect::<Vec<_>>(),
    )
    .unwrap_or_else(|_| "[]".into());
    s.at(
        t0 + 4.0,
        Event::MessageReceived {
            kind: MessageKind::IceServers,
            size: ice_text.len(),
            text: ice_text,
            truncated: false,
        },
    );
    s.at(
        t0 + 4.2,
        Event::IceServers {
            servers: ice.0,
            skipped: ice.1,
            policy: ice.2.into(),
        },
    );
    s.at(t0 + 5.0, state(StateKind::Signaling, "have-local-offer"));
    s.at(t0 + 5.1, state(StateKind::IceGathering, "gathering"));
    let offer = json!({"type": "offer", "sdp": OFFER_SDP}).to_string();
    s.at(
        t0 + 7.0,
        Event::MessageSent {
            kind: MessageKind::Offer,
            size: offer.len(),
            text: offer,
        },
    );
    let mut t = t0 + 7.5;
    for c in locals {
        s.at(
            t,
            Event::LocalCandidate {
                candidate: c.clone(),
            },
        );
        let text =
            json!({"candidate": candidate_line(c), "sdpMid": "0", "sdpMLineIndex": 0}).to_string();
        s.at(
            t + 0.1,
            Event::MessageSent {
                kind: MessageKind::Candidate,
                size: text.len(),
                text,
            },
        );
        t += 11.3;
    }
    s.at(t, Event::LocalGatheringComplete);
    s.at(t, state(StateKind::IceGathering, "complete"));
    let answer = json!({"type": "answer", "sdp": ANSWER_SDP}).to_string();
    t += 8.0;
    s.at(
        t,
        Event::MessageReceived {
            kind: MessageKind::Answer,
            size: answer.len(),
            text: answer,
            truncated: false,
        },
    );
    s.at(t + 0.5, state(StateKind::Signaling, "stable"));
    t += 1.0;
    for c in remotes {
        let line = candidate_line(c);
        let text = json!({"candidate": line, "sdpMid": "0", "sdpMLineIndex": 0}).to_string();
        s.at(
            t,
            Event::MessageReceived {
                kind: MessageKind::Candidate,
                size: text.len(),
                text,
                truncated: false,
            },
        );
        s.at(
            t + 0.1,
            Event::RemoteCandidate {
                candidate: Some(c.clone()),
                raw: line,
                sdp_mid: Some("0".into()),
                sdp_mline_index: Some(0),
                error: None,
            },
        );
        t += 0.5;
    }
    t
}

/// `state_changed`.
pub fn state(kind: StateKind, state: &str) -> Event {
    Event::StateChanged {
        kind,
        state: state.into(),
    }
}

/// Connect over `pairs` (the last one is selected), then `seconds` of 1 Hz track statistics at about
/// `bps`, with RTT updates. Returns the time reached.
fn connect_and_stream(
    s: &mut Script,
    t0: f64,
    mut pairs: Vec<CandidatePair>,
    seconds: u32,
    bps: f64,
) -> f64 {
    s.at(t0, state(StateKind::IceConnection, "checking"));
    s.at(t0 + 0.1, state(StateKind::PeerConnection, "connecting"));
    for p in &mut pairs {
        p.state = "in-progress".into();
    }
    s.at(
        t0 + 1.0,
        Event::CandidatePairs {
            pairs: pairs.clone(),
        },
    );
    let n = pairs.len();
    for (i, p) in pairs.iter_mut().enumerate() {
        p.requests_sent = 3;
        if i + 1 == n {
            p.state = "succeeded".into();
            p.nominated = true;
            p.current_rtt_ms = Some(0.42);
            p.total_rtt_ms = 0.42;
            p.responses_received = 1;
            p.requests_received = 1;
            p.responses_sent = 1;
        } else {
            p.state = "failed".into();
        }
    }
    s.at(t0 + 4.0, state(StateKind::IceConnection, "connected"));
    let selected = pairs[n - 1].clone();
    s.at(
        t0 + 4.1,
        Event::SelectedPair {
            pair: selected,
            changes: 1,
        },
    );
    s.at(
        t0 + 4.2,
        Event::CandidatePairs {
            pairs: pairs.clone(),
        },
    );
    s.at(t0 + 5.0, state(StateKind::Dtls, "connecting"));
    s.at(t0 + 18.0, state(StateKind::Dtls, "connected"));
    s.at(t0 + 18.1, state(StateKind::PeerConnection, "connected"));
    s.at(
        t0 + 18.2,
        Event::Transport {
            dtls_role: "client".into(),
            tls_version: "DTLS 1.2".into(),
            dtls_cipher: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256".into(),
            srtp_cipher: "SRTP_AEAD_AES_128_GCM".into(),
        },
    );
    s.at(
        t0 + 20.0,
        Event::TrackAdded {
            kind: "video".into(),
            track_id: "video-rtcscope".into(),
            mid: Some("0".into()),
            ssrc: Some(1_726_244_224),
        },
    );
    s.at(
        t0 + 22.0,
        Event::FirstMedia {
            kind: "video".into(),
            ssrc: 1_726_244_224,
            payload_type: 97,
        },
    );
    let mut bytes = 0u64;
    let mut packets = 0u64;
    let mut t = t0 + 22.0;
    for i in 1..=seconds {
        t = t0 + 22.0 + f64::from(i) * 1000.0;
        // A gentle, deterministic wobble around the target.
        let wobble = [0.0, 0.04, -0.03, 0.06, -0.05, 0.02, -0.01, 0.05][(i % 8) as usize];
        let rate = bps * (1.0 + wobble);
        let pkts = (rate / 8.0 / 1100.0).round() as u64;
        bytes += (rate / 8.0) as u64;
        packets += pkts;
        let p = &mut pairs[n - 1];
        p.responses_received += 1;
        p.requests_sent += 1;
        let rtt = 0.35 + f64::from(i % 5) * 0.03;
        p.current_rtt_ms = Some(rtt);
        p.total_rtt_ms += rtt;
        p.bytes_received = bytes + packets * 12;
        p.bytes_sent = 64 * u64::from(i);
        s.at(
            t - 1.0,
            Event::CandidatePairs {
                pairs: pairs.clone(),
            },
        );
        s.at(
            t,
            Event::TrackStats {
                stats: TrackStats {
                    ssrc: 1_726_244_224,
                    kind: "video".into(),
                    codec: Some("video/VP8".into()),
                    clock_rate: Some(90_000),
                    mid: "0".into(),
                    bytes_received: bytes,
                    header_bytes_received: packets * 12,
                    packets_received: packets,
                    bitrate_bps: rate,
                    packets_lost: i64::from(i / 4),
                    jitter_ms: Some(1.5 + f64::from(i % 3) * 0.2),
                    nack_count: i / 4,
                    pli_count: u32::from(i > 2),
                    fir_count: 0,
                    keyframes: u64::from(i / 2 + 1),
                },
            },
        );
    }
    t
}

/// Host candidates on 127.0.0.1 (local, remote).
pub fn loopback_hosts() -> (Candidate, Candidate) {
    (
        candidate(CandidateType::Host, "127.0.0.1", 50_123, 2_130_706_431),
        candidate(CandidateType::Host, "127.0.0.1", 48_979, 2_130_706_431),
    )
}

/// A viewer against `serve` on 127.0.0.1: connected, a VP8 track at ~2 Mbit/s for `seconds` seconds.
pub fn happy_session(seconds: u32) -> Vec<Stamped> {
    let mut s = Script::new();
    s.at(0.0, session_started());
    s.attempt(0.1, 1);
    let (l, r) = loopback_hosts();
    let t = negotiate(
        &mut s,
        0.1,
        (Vec::new(), Vec::new(), "all"),
        std::slice::from_ref(&l),
        std::slice::from_ref(&r),
    );
    connect_and_stream(
        &mut s,
        t + 1.0,
        vec![pair("CP1", &l, &r, "waiting")],
        seconds,
        2_000_000.0,
    );
    s.build()
}

/// The TURN server of [`restart_relay_error_session`].
pub const TURN_URL: &str = "turn:127.0.0.1:3478?transport=udp";

/// The offending text of the error in [`restart_relay_error_session`]: terminal escape sequences.
pub const HOSTILE_TEXT: &str = "{\"type\":\"\u{1b}[2J\u{1b}]0;pwned\u{7}bogus\u{9b}31m\"}";

/// Attempt 1: socket closed after the answer; restart; attempt 2: connected over a TURN relay with a
/// skipped TURN/TCP server, a stale event of attempt 1, an error with escape sequences and a
/// warning; `seconds` seconds of media.
pub fn restart_relay_error_session(seconds: u32) -> Vec<Stamped> {
    let mut s = Script::new();
    s.at(0.0, session_started());
    s.attempt(0.1, 1);
    let (l, r) = loopback_hosts();
    let t = negotiate(
        &mut s,
        0.1,
        (Vec::new(), Vec::new(), "all"),
        std::slice::from_ref(&l),
        std::slice::from_ref(&r),
    );
    s.at(t + 2.0, state(StateKind::IceConnection, "checking"));
    s.at(
        t + 250.0,
        Event::SignalingClosed {
            phase: Phase::Negotiating,
            code: None,
            reason: None,
            local: false,
        },
    );
    s.at(
        t + 251.0,
        Event::Restart {
            cause: RestartCause::SocketClosed {
                phase: Phase::Negotiating,
            },
            ended_attempt: 1,
            lived_ms: t + 251.0 - 0.1,
            had_connected: false,
            pause_ms: 2000.0,
        },
    );
    let t2 = t + 2251.0;
    s.attempt(t2, 2);
    // A late callback of attempt 1's peer connection: must not make attempt 2 look connected.
    s.at_attempt(t2 + 1.0, 1, state(StateKind::PeerConnection, "connected"));
    let servers = vec![IceServerInfo {
        urls: vec![TURN_URL.into()],
        username: Some("1767272400:***".into()),
        has_credential: true,
        source: IceServerSource::Signaling,
    }];
    let skipped = vec![SkippedIceServer {
        url: "turns:turn.example.com:5349?transport=tcp".into(),
        reason: "TURN over TCP/TLS is not supported by webrtc-rs 0.21".into(),
    }];
    let mut relay = candidate(CandidateType::Relay, "127.0.0.1", 49_152, 16_777_215);
    relay.related_address = Some("127.0.0.1".into());
    relay.related_port = Some(50_200);
    relay.url = Some(TURN_URL.into());
    let (l2, r2) = (
        candidate(CandidateType::Host, "127.0.0.1", 50_200, 2_130_706_431),
        candidate(CandidateType::Host, "127.0.0.1", 48_990, 2_130_706_431),
    );
    let t = negotiate(
        &mut s,
        t2,
        (servers, skipped, "all"),
        &[l2.clone(), relay.clone()],
        std::slice::from_ref(&r2),
    );
    s.at(
        t + 0.5,
        Event::Warning {
            source: ErrorSource::Stack,
            message: "turn: CreatePermission 127.0.0.1:48990 took 3 retransmissions".into(),
        },
    );
    s.at(
        t + 0.7,
        Event::Error {
            source: ErrorSource::Protocol,
            message: "unexpected message from the server (ignored)".into(),
            offending: Some(HOSTILE_TEXT.into()),
        },
    );
    connect_and_stream(
        &mut s,
        t + 1.0,
        vec![
            pair("CP7", &l2, &r2, "waiting"),
            pair("CP9", &relay, &r2, "waiting"),
        ],
        seconds,
        1_900_000.0,
    );
    s.build()
}

/// Append `ended` (after the last event).
pub fn end_session(events: &mut Vec<Stamped>, reason: EndReason) {
    let last = events.last().map(|e| (e.seq + 1, e.t_ms + 1.0, e.attempt));
    let (seq, t_ms, attempt) = last.unwrap_or((0, 0.0, 0));
    events.push(Stamped {
        seq,
        t_ms,
        attempt,
        event: Event::Ended {
            reason,
            attempts: attempt,
            ever_connected: true,
            media_received: true,
        },
    });
}

/// A message event as the engine would emit it.
pub fn message(dir: Direction, kind: MessageKind, text: &str) -> Event {
    match dir {
        Direction::Out => Event::MessageSent {
            kind,
            size: text.len(),
            text: text.into(),
        },
        Direction::In => Event::MessageReceived {
            kind,
            size: text.len(),
            text: text.into(),
            truncated: false,
        },
    }
}

/// The offer (recvonly video + audio) from the `werift-vp8-ws-av` signaling transcript.
pub const OFFER_SDP: &str = "\
v=0\r\n\
o=- 4004502414 4004502414 IN IP4 0.0.0.0\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0 1\r\n\
a=msid-semantic:WMS *\r\n\
m=video 42967 UDP/TLS/RTP/SAVPF 97 98 99 100 101 102\r\n\
c=IN IP4 127.0.0.1\r\n\
a=recvonly\r\n\
a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
a=extmap:3 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n\
a=mid:0\r\n\
a=msid:ddcb724e-1f44-44ad-b11d-ce5fb805c2b0 57643e76-fd6f-4197-99ed-3e16a2e0cf74\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=rtcp-mux\r\n\
a=ssrc-group:FID 1338541053 887559287\r\n\
a=ssrc:1338541053 cname:b8d0a068-da97-4ab2-a895-db982f60916b\r\n\
a=ssrc:887559287 cname:b8d0a068-da97-4ab2-a895-db982f60916b\r\n\
a=rtpmap:97 VP8/90000\r\n\
a=rtcp-fb:97 nack\r\n\
a=rtcp-fb:97 nack pli\r\n\
a=rtcp-fb:97 goog-remb\r\n\
a=rtpmap:98 rtx/90000\r\n\
a=fmtp:98 apt=97\r\n\
a=rtpmap:99 H264/90000\r\n\
a=rtcp-fb:99 nack\r\n\
a=rtcp-fb:99 nack pli\r\n\
a=rtcp-fb:99 goog-remb\r\n\
a=fmtp:99 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n\
a=rtpmap:100 rtx/90000\r\n\
a=fmtp:100 apt=99\r\n\
a=rtpmap:101 H264/90000\r\n\
a=rtcp-fb:101 nack\r\n\
a=rtcp-fb:101 nack pli\r\n\
a=rtcp-fb:101 goog-remb\r\n\
a=fmtp:101 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n\
a=rtpmap:102 rtx/90000\r\n\
a=fmtp:102 apt=101\r\n\
a=ice-ufrag:GjR1\r\n\
a=ice-pwd:dIbb6OvjcDi4nX3gxMmT3P\r\n\
a=fingerprint:sha-256 F2:0C:4A:0F:24:8F:A4:BE:60:DF:FA:A6:3B:78:18:42:B3:AF:34:F2:CF:6F:7B:C3:BE:06:8D:FA:51:54:E2:AC\r\n\
a=fingerprint:sha-384 68:25:FD:7D:4C:4B:F5:01:99:1A:B4:A4:FB:42:0C:9C:8E:4D:86:DF:31:32:BA:8D:A5:84:AB:7A:99:55:62:1A:BA:73:2C:6E:81:43:DE:96:3D:4A:66:64:1D:34:B7:95\r\n\
a=fingerprint:sha-512 BB:56:C1:A6:29:C0:B2:98:CB:E7:93:EF:2F:56:1B:8F:08:E5:95:59:AB:2C:7F:68:F9:A2:5D:AF:A7:94:4C:3F:0A:5C:8B:84:95:01:FA:01:F1:6B:91:5B:1F:98:AE:12:5E:1B:98:60:F7:4B:CA:AB:D4:05:87:FC:AA:4A:EB:24\r\n\
a=setup:actpass\r\n\
m=audio 42967 UDP/TLS/RTP/SAVPF 96 9 0 8\r\n\
c=IN IP4 127.0.0.1\r\n\
a=recvonly\r\n\
a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
a=mid:1\r\n\
a=msid:ddcb724e-1f44-44ad-b11d-ce5fb805c2b0 ac76e5bb-3f1b-40d5-99ac-26db10dc9f04\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=rtcp-mux\r\n\
a=ssrc:922400548 cname:b8d0a068-da97-4ab2-a895-db982f60916b\r\n\
a=rtpmap:96 opus/48000/2\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=ice-ufrag:GjR1\r\n\
a=ice-pwd:dIbb6OvjcDi4nX3gxMmT3P\r\n\
a=fingerprint:sha-256 F2:0C:4A:0F:24:8F:A4:BE:60:DF:FA:A6:3B:78:18:42:B3:AF:34:F2:CF:6F:7B:C3:BE:06:8D:FA:51:54:E2:AC\r\n\
a=fingerprint:sha-384 68:25:FD:7D:4C:4B:F5:01:99:1A:B4:A4:FB:42:0C:9C:8E:4D:86:DF:31:32:BA:8D:A5:84:AB:7A:99:55:62:1A:BA:73:2C:6E:81:43:DE:96:3D:4A:66:64:1D:34:B7:95\r\n\
a=fingerprint:sha-512 BB:56:C1:A6:29:C0:B2:98:CB:E7:93:EF:2F:56:1B:8F:08:E5:95:59:AB:2C:7F:68:F9:A2:5D:AF:A7:94:4C:3F:0A:5C:8B:84:95:01:FA:01:F1:6B:91:5B:1F:98:AE:12:5E:1B:98:60:F7:4B:CA:AB:D4:05:87:FC:AA:4A:EB:24\r\n\
a=setup:actpass\r\n\
";

/// The answer (video accepted, audio rejected) from the `werift-vp8-ws-av` signaling transcript.
pub const ANSWER_SDP: &str = "\
v=0\r\n\
o=- 88280537 0 IN IP4 0.0.0.0\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0\r\n\
a=extmap-allow-mixed\r\n\
a=msid-semantic:WMS *\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 97\r\n\
c=IN IP4 0.0.0.0\r\n\
a=ice-ufrag:62e8\r\n\
a=ice-pwd:62d7b3d8985b91f92aae8c\r\n\
a=ice-options:trickle\r\n\
a=fingerprint:sha-256 C3:39:F6:58:0C:EE:65:1B:27:23:7A:EF:F6:E8:CC:30:64:D1:83:8A:7F:DF:99:5D:5E:20:A0:61:17:01:59:10\r\n\
a=setup:active\r\n\
a=sendonly\r\n\
a=mid:0\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=rtcp-mux\r\n\
a=ssrc:1726244224 cname:c0b0fb21-29e7-42eb-9a11-b4142678fca7\r\n\
a=rtpmap:97 VP8/90000\r\n\
a=rtcp-fb:97 nack\r\n\
a=rtcp-fb:97 nack pli\r\n\
a=rtcp-fb:97 goog-remb\r\n\
m=audio 0 UDP/TLS/RTP/SAVPF 96\r\n\
c=IN IP4 0.0.0.0\r\n\
a=ice-ufrag:62e8\r\n\
a=ice-pwd:62d7b3d8985b91f92aae8c\r\n\
a=fingerprint:sha-256 C3:39:F6:58:0C:EE:65:1B:27:23:7A:EF:F6:E8:CC:30:64:D1:83:8A:7F:DF:99:5D:5E:20:A0:61:17:01:59:10\r\n\
a=setup:active\r\n\
a=inactive\r\n\
a=mid:1\r\n\
a=rtpmap:96 opus/48000/2\r\n\
";
