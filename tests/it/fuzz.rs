//! Every parser fuzzed with proptest on the stable toolchain: inputs generated from scratch and
//! mutated from the real transcripts in `tests/fixtures/signaling/` (insertions of the characters
//! parsers care about, deletions, duplications, truncations). A panic anywhere is a failure, and
//! proptest shrinks it to a small input.
//!
//! The suite runs a short pass (`RTCSCOPE_FUZZ_CASES`, default 1,000 inputs per target). The long
//! run reported in the README is the same tests in release with a larger count:
//!
//! ```text
//! RTCSCOPE_FUZZ_CASES=10000000 cargo test --release --test it fuzz:: -- --test-threads 1 --nocapture
//! ```
//!
//! Each target prints how many inputs it ran and how long it took.

use std::sync::OnceLock;
use std::time::Instant;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use rtcscope::signaling::{
    self, Client, ClientConfig, HttpResponse, Input, Output, PeerRequest, PeerResult, WsFrame,
};

/// Inputs per target.
fn cases() -> u32 {
    std::env::var("RTCSCOPE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}

/// Run `check` on `cases()` inputs from `strategy`; a panic or an `Err` fails with the shrunk input.
fn fuzz<S: Strategy>(name: &str, strategy: S, check: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let n = cases();
    let mut runner = TestRunner::new(Config {
        cases: n,
        failure_persistence: None,
        max_shrink_iters: 4_096,
        ..Config::default()
    });
    let start = Instant::now();
    if let Err(e) = runner.run(&strategy, check) {
        panic!("fuzz {name}: {e}");
    }
    eprintln!(
        "fuzz {name}: {n} inputs, 0 crashes, {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

/// The seed corpus: texts from the real transcripts of four independent stacks.
struct Corpus {
    ws_messages: Vec<String>,
    sdps: Vec<String>,
    candidates: Vec<String>,
    header_values: Vec<String>,
    bodies: Vec<String>,
}

fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/signaling");
        let mut c = Corpus {
            ws_messages: Vec::new(),
            sdps: Vec::new(),
            candidates: Vec::new(),
            header_values: Vec::new(),
            bodies: Vec::new(),
        };
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .expect("fixtures")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("jsonl"))
            .collect();
        entries.sort();
        for path in entries {
            let text = std::fs::read_to_string(&path).expect("fixture");
            for line in text.lines() {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                    continue;
                };
                if let Some(t) = v.get("text").and_then(|t| t.as_str()) {
                    c.ws_messages.push(t.to_owned());
                    if let Ok(m) = serde_json::from_str::<serde_json::Value>(t) {
                        if let Some(sdp) = m.get("sdp").and_then(|s| s.as_str()) {
                            c.sdps.push(sdp.to_owned());
                        }
                        if let Some(cand) = m.get("candidate").and_then(|s| s.as_str()) {
                            c.candidates.push(cand.to_owned());
                        }
                    }
                }
                for key in ["request_body", "response_body"] {
                    if let Some(b) = v.get(key).and_then(|b| b.as_str()) {
                        c.bodies.push(b.to_owned());
                    }
                }
                if let Some(h) = v.get("response_headers").and_then(|h| h.as_object()) {
                    for val in h.values().filter_map(|x| x.as_str()) {
                        c.header_values.push(val.to_owned());
                    }
                }
            }
        }
        for sdp in c.sdps.clone() {
            for l in sdp.lines() {
                if let Some(cand) = l.strip_prefix("a=").filter(|l| l.starts_with("candidate:")) {
                    c.candidates.push(cand.to_owned());
                }
            }
        }
        c.header_values.extend(
            [
                r#"<turn:127.0.0.1:3478?transport=udp>; rel="ice-server"; username="u"; credential="p"; credential-type="password""#,
                r#"<stun:stun.example.net>; rel=ice-server"#,
                "\"abc\"",
                "W/\"x\"",
                "*",
                "120",
                "Wed, 21 Oct 2015 07:28:00 GMT",
                "/whep/res/1",
                "application/sdp; charset=utf-8",
            ]
            .map(String::from),
        );
        assert!(
            c.ws_messages.len() > 20 && c.sdps.len() > 10 && c.candidates.len() > 10,
            "the transcripts give a corpus"
        );
        c
    })
}

/// Characters parsers care about, and some they should not.
const INTERESTING: &[char] = &[
    ' ', '\t', '\r', '\n', '\0', ':', ';', '=', ',', '"', '\'', '\\', '/', '<', '>', '{', '}', '[',
    ']', '%', '+', '&', '?', '@', '#', '-', '.', '0', '9', 'a', 'z', '\u{1b}', '\u{7f}', '\u{85}',
    '\u{202e}', '\u{200b}', '\u{feff}', 'é', '€', '𝄞',
];

/// One edit of a mutation.
#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, char),
    Delete(usize, usize),
    Replace(usize, char),
    Duplicate(usize, usize),
    Truncate(usize),
    Splice(usize, String),
}

fn edit() -> impl Strategy<Value = Edit> {
    let ch = prop_oneof![
        3 => proptest::sample::select(INTERESTING),
        1 => any::<char>(),
    ];
    prop_oneof![
        (any::<usize>(), ch.clone()).prop_map(|(p, c)| Edit::Insert(p, c)),
        (any::<usize>(), 1usize..16).prop_map(|(p, n)| Edit::Delete(p, n)),
        (any::<usize>(), ch).prop_map(|(p, c)| Edit::Replace(p, c)),
        (any::<usize>(), 1usize..64).prop_map(|(p, n)| Edit::Duplicate(p, n)),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), ".{0,12}").prop_map(|(p, s)| Edit::Splice(p, s)),
    ]
}

fn apply(seed: &str, edits: &[Edit]) -> String {
    let mut v: Vec<char> = seed.chars().collect();
    for e in edits {
        let at = |p: usize, len: usize| if len == 0 { 0 } else { p % (len + 1) };
        match e {
            Edit::Insert(p, c) => {
                let i = at(*p, v.len());
                v.insert(i, *c);
            }
            Edit::Delete(p, n) if !v.is_empty() => {
                let i = p % v.len();
                let end = (i + n).min(v.len());
                v.drain(i..end);
            }
            Edit::Replace(p, c) if !v.is_empty() => {
                let i = p % v.len();
                v[i] = *c;
            }
            Edit::Duplicate(p, n) if !v.is_empty() => {
                let i = p % v.len();
                let end = (i + n).min(v.len());
                let piece: Vec<char> = v[i..end].to_vec();
                v.splice(end..end, piece);
            }
            Edit::Truncate(p) => {
                let i = at(*p, v.len());
                v.truncate(i);
            }
            Edit::Splice(p, s) => {
                let i = at(*p, v.len());
                v.splice(i..i, s.chars());
            }
            _ => {}
        }
    }
    v.into_iter().collect()
}

/// Seeds from `pool`, mutated; or text from scratch.
fn text_from(pool: &'static [String]) -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (proptest::sample::select(pool), proptest::collection::vec(edit(), 0..8))
            .prop_map(|(seed, edits)| apply(&seed, &edits)),
        1 => ".{0,200}",
        1 => any::<String>(),
    ]
}

#[test]
fn ws_messages() {
    let c = corpus();
    fuzz("ws-messages", text_from(&c.ws_messages), |text| {
        let _ = rtcscope::proto::ws::parse_message(&text);
        let _ = rtcscope::model::sdp::sdp_from_message(&text);
        Ok(())
    });
}

#[test]
fn candidate_lines() {
    let c = corpus();
    fuzz("candidate-lines", text_from(&c.candidates), |line| {
        if let Ok(cand) = rtcscope::proto::candidate::parse_candidate(&line) {
            // What parses writes back to a line that parses to the same candidate.
            let again = rtcscope::proto::candidate::format_candidate(&cand);
            let back = rtcscope::proto::candidate::parse_candidate(&again);
            prop_assert!(back.is_ok(), "{again:?} does not parse again");
            let _ = rtcscope::proto::candidate::decode_priority(cand.priority);
        }
        Ok(())
    });
}

#[test]
fn ice_server_urls_and_lists() {
    static SEEDS: OnceLock<Vec<String>> = OnceLock::new();
    let seeds = SEEDS.get_or_init(|| {
        let mut v: Vec<String> = [
            "stun:stun.example.net:3478",
            "turn:u:p@127.0.0.1:3478?transport=udp",
            "turns:turn.example.com:443?transport=tcp",
            "turn:[::1]:3478",
            "stun:[2001:db8::1]",
        ]
        .map(String::from)
        .to_vec();
        v.extend(
            corpus()
                .ws_messages
                .iter()
                .filter(|m| m.starts_with('['))
                .cloned(),
        );
        v
    });
    fuzz("ice-servers", text_from(seeds), |s| {
        let _ = rtcscope::proto::ice_server::parse_cli_ice_server(&s, Some("u"), Some("p"));
        let _ = rtcscope::proto::ice_server::parse_cli_ice_server(&s, None, None);
        let _ = rtcscope::proto::ice_server::unsupported_reason(&s);
        let masked = rtcscope::proto::ice_server::mask_url(&s);
        let _ = rtcscope::probe::target::targets(&s, true);
        let _ = rtcscope::proto::ws::parse_message(&s);
        let _ = rtcscope::proto::ice_server::turn_rest_expiry(&s);
        prop_assert!(masked.len() <= s.len() + 64);
        Ok(())
    });
}

#[test]
fn sdp_summariser() {
    let c = corpus();
    fuzz(
        "sdp",
        (text_from(&c.sdps), text_from(&c.sdps)),
        |(offer, answer)| {
            let o = rtcscope::model::sdp::parse(&offer);
            let a = rtcscope::model::sdp::parse(&answer);
            let _ = rtcscope::model::sdp::compare(&o, &a);
            let _ = rtcscope::model::sdp::describe(&a, Some(&o));
            let _ = rtcscope::proto::ws::strip_candidates(&answer);
            let _ = rtcscope::proto::whep::with_ice_credentials(
                &answer,
                "uf",
                "pwdpwdpwdpwdpwdpwdpwdpwd",
            );
            Ok(())
        },
    );
}

#[test]
fn sdpfrags() {
    let c = corpus();
    let frags: &'static [String] = Box::leak(
        c.bodies
            .iter()
            .filter(|b| b.starts_with("a=") || b.contains("ice-ufrag"))
            .cloned()
            .chain(c.sdps.iter().cloned())
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    );
    fuzz("sdpfrag", text_from(frags), |body| {
        if let Ok(f) = rtcscope::proto::whep::parse_sdpfrag(&body) {
            let written = rtcscope::proto::whep::write_sdpfrag(&f);
            prop_assert!(
                rtcscope::proto::whep::parse_sdpfrag(&written).is_ok(),
                "{written:?} does not parse again"
            );
        }
        let cands: Vec<String> = corpus().candidates.iter().take(3).cloned().collect();
        let _ = rtcscope::proto::whep::trickle_frag(&body, &cands, true);
        Ok(())
    });
}

#[test]
fn whep_headers() {
    let c = corpus();
    let base = url::Url::parse("https://h.example:8443/cam/whep").expect("url");
    fuzz(
        "whep-headers",
        (text_from(&c.header_values), text_from(&c.bodies)),
        |(value, body)| {
            let _ = rtcscope::proto::whep::parse_link_headers(&[value.as_str(), value.as_str()]);
            let _ = rtcscope::proto::whep::http::parse_etag(&value);
            let _ = rtcscope::proto::whep::http::parse_retry_after(&value, 1_700_000_000);
            let _ = rtcscope::proto::whep::http::resolve_location(&base, &value);
            let _ = rtcscope::proto::whep::http::media_type(&value);
            let _ = rtcscope::proto::whep::http::describe_error_body(Some(&value), &body);
            let _ = rtcscope::proto::whep::http::describe_error_body(None, &body);
            for ex in [
                rtcscope::proto::whep::Exchange::Options,
                rtcscope::proto::whep::Exchange::Post,
                rtcscope::proto::whep::Exchange::Patch { ice_restart: true },
                rtcscope::proto::whep::Exchange::Delete,
            ] {
                let headers = [
                    ("content-type", value.as_str()),
                    ("etag", value.as_str()),
                    ("link", value.as_str()),
                    ("location", value.as_str()),
                ];
                let _ = rtcscope::proto::whep::response_deviations(ex, 201, &headers, &body);
            }
            Ok(())
        },
    );
}

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=ice-ufrag:locU\r\na=ice-pwd:localpasswordlocalpassword\r\na=recvonly\r\n";

/// What the server does next, in a fuzzed exchange.
#[derive(Debug, Clone)]
struct ServerMove {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    /// The peer connection refuses what it is asked (the answer, a candidate, an offer).
    peer_fails: bool,
    /// A WebSocket frame instead (for the WebSocket client).
    frame: Option<String>,
}

fn server_move() -> impl Strategy<Value = ServerMove> {
    let c = corpus();
    let status = prop_oneof![
        proptest::sample::select(
            &[
                200u16, 201, 204, 307, 308, 400, 401, 404, 406, 409, 412, 415, 429, 500, 503
            ][..]
        ),
        any::<u16>(),
    ];
    let header = (
        proptest::sample::select(
            &[
                "content-type",
                "location",
                "etag",
                "link",
                "retry-after",
                "www-authenticate",
                "x",
            ][..],
        ),
        text_from(&c.header_values),
    )
        .prop_map(|(n, v)| (n.to_owned(), v));
    (
        status,
        proptest::collection::vec(header, 0..5),
        text_from(&c.bodies),
        proptest::bool::weighted(0.1),
        proptest::option::weighted(0.8, text_from(&c.ws_messages)),
    )
        .prop_map(|(status, headers, body, peer_fails, frame)| ServerMove {
            status,
            headers,
            body,
            peer_fails,
            frame,
        })
}

/// Drive `client` through one attempt against the fuzzed server: answer every request it makes
/// from `moves`, and its peer requests as a peer connection would. Returns the outputs seen.
fn drive(client: &mut dyn Client, moves: &[ServerMove]) -> usize {
    let mut moves = moves.iter();
    let mut outputs = 0usize;
    client.handle(Input::Start);
    for _ in 0..200 {
        let Some(out) = client.poll_output() else {
            // Nothing to do: the server speaks on its own (a WebSocket frame), or it ends.
            match moves.next() {
                Some(m) => match &m.frame {
                    Some(f) => client.handle(Input::WsFrame(WsFrame::Text(f.clone()))),
                    None => client.handle(Input::WsFrame(WsFrame::Closed {
                        code: Some(1000),
                        reason: Some(m.body.clone()),
                        error: None,
                    })),
                },
                None => break,
            }
            continue;
        };
        outputs += 1;
        let fail = moves.clone().next().is_some_and(|m| m.peer_fails);
        match out {
            Output::Http(req) => {
                let Some(m) = moves.next() else { break };
                client.handle(Input::HttpResponse {
                    id: req.id,
                    response: HttpResponse {
                        status: m.status,
                        reason: String::new(),
                        headers: m.headers.clone(),
                        body: m.body.clone(),
                        size: m.body.len(),
                        unix_secs: 1_700_000_000,
                    },
                    elapsed_ms: 1.0,
                });
            }
            Output::WsConnect(_) => client.handle(Input::WsOpened {
                http_status: 101,
                elapsed_ms: 1.0,
            }),
            Output::WsSend(_) => client.handle(Input::WsSent(Ok(()))),
            Output::Peer(p) => {
                let r = match p {
                    PeerRequest::CreateOffer { .. } => PeerResult::Offer(if fail {
                        Err(signaling::PeerFailure::Sdp("refused".into()))
                    } else {
                        Ok(OFFER.into())
                    }),
                    PeerRequest::ApplyAnswer { .. } => PeerResult::AnswerApplied(if fail {
                        Err("bad answer".into())
                    } else {
                        Ok(())
                    }),
                    PeerRequest::AddRemoteCandidate(_) => PeerResult::CandidateAdded(if fail {
                        Err("bad candidate".into())
                    } else {
                        Ok(())
                    }),
                    PeerRequest::LocalDescription => {
                        PeerResult::LocalDescription(Some(OFFER.into()))
                    }
                    PeerRequest::RestartIceOffer => PeerResult::IceRestartOffer(Ok(OFFER.into())),
                    PeerRequest::AnswerOffer { .. } => PeerResult::CounterAnswer(Ok(OFFER.into())),
                };
                client.handle(Input::Peer(r));
                if !fail {
                    client.handle(Input::LocalCandidate(
                        "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host".into(),
                    ));
                }
            }
            Output::Event(_) | Output::Session(_) | Output::WsClose => {}
        }
    }
    client.handle(Input::Close {
        phase: rtcscope::event::Phase::Negotiating,
    });
    while client.poll_output().is_some() {
        outputs += 1;
    }
    outputs
}

#[test]
fn whep_client_against_any_server() {
    fuzz(
        "whep-client",
        proptest::collection::vec(server_move(), 1..12),
        |moves| {
            let mut client = rtcscope::signaling::WhepClient::new(ClientConfig {
                url: url::Url::parse("http://127.0.0.1:8889/cam/whep").expect("url"),
                authorization: Some("Bearer t".into()),
                headers: vec![],
            });
            client.handle(Input::IceRestart {
                reason: "fuzz".into(),
            });
            drive(&mut client, &moves);
            Ok(())
        },
    );
}

#[test]
fn ws_client_against_any_server() {
    fuzz(
        "ws-client",
        proptest::collection::vec(server_move(), 1..12),
        |moves| {
            let mut client = rtcscope::signaling::WsClient::new(
                url::Url::parse("ws://127.0.0.1:8889/cam/ws").expect("url"),
            );
            drive(&mut client, &moves);
            Ok(())
        },
    );
}

/// A Binding success response with XOR-MAPPED-ADDRESS 127.0.0.1:5000 for `tid`.
fn binding_success(tid: &[u8; 12]) -> Vec<u8> {
    let mut m = vec![0x01, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42];
    m.extend_from_slice(tid);
    // XOR-MAPPED-ADDRESS: type 0x0020, length 8, family IPv4, port and address XORed.
    m.extend_from_slice(&[0x00, 0x20, 0x00, 0x08, 0x00, 0x01]);
    m.extend_from_slice(&(5000u16 ^ 0x2112).to_be_bytes());
    let ip = u32::from_be_bytes([127, 0, 0, 1]) ^ 0x2112_a442;
    m.extend_from_slice(&ip.to_be_bytes());
    m
}

#[test]
fn stun_and_turn_responses() {
    use rtcscope::webrtc_adapter::stun_turn::{self, StunMethod};
    let tid = [7u8; 12];
    let seed = binding_success(&tid);
    // The seed parses: the mutations start from a valid response.
    assert!(stun_turn::parse_binding_response(&seed, &tid).is_ok());
    let bytes = prop_oneof![
        3 => (Just(seed), proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..4), 0..8))
            .prop_map(|(mut b, edits)| {
                for (p, byte, kind) in edits {
                    let i = p % (b.len() + 1);
                    match kind {
                        0 if i < b.len() => b[i] = byte,
                        1 => b.insert(i, byte),
                        2 if i < b.len() => { b.remove(i); }
                        _ => b.truncate(i),
                    }
                }
                b
            }),
        1 => proptest::collection::vec(any::<u8>(), 0..600),
    ];
    fuzz("stun-turn", bytes, |b| {
        let _ = stun_turn::framed_len(&b);
        for method in [
            StunMethod::Binding,
            StunMethod::Allocate,
            StunMethod::Refresh,
        ] {
            let _ = stun_turn::parse_response(&b, &tid, method, None);
            let _ = stun_turn::parse_response(&b, &tid, method, Some(b"key"));
        }
        Ok(())
    });
}

#[test]
fn output_safety_of_remote_text() {
    let c = corpus();
    fuzz("output-safety", text_from(&c.ws_messages), |text| {
        // The TUI: nothing that drives a terminal survives sanitising.
        let shown = rtcscope::sanitize::sanitize(&text);
        prop_assert!(
            !shown.chars().any(rtcscope::sanitize::needs_escape),
            "{shown:?}"
        );
        // NDJSON: the network's text comes back intact, and no control or bidi character is raw.
        let ev = rtcscope::event::Event::Info {
            source: rtcscope::event::ErrorSource::Protocol,
            message: text.clone(),
        };
        let mut out = Vec::new();
        rtcscope::sanitize::json::to_writer(&mut out, &ev).expect("serialise");
        let line = String::from_utf8(out).expect("utf-8");
        prop_assert!(
            !line.chars().any(rtcscope::sanitize::needs_escape),
            "{line:?}"
        );
        let back: rtcscope::event::Event = serde_json::from_str(&line).expect("parse back");
        prop_assert_eq!(back, ev);
        // Masking never panics, and masking twice changes nothing more.
        let once = rtcscope::secrets::mask_text(&text);
        prop_assert_eq!(rtcscope::secrets::mask_text(&once), once);
        Ok(())
    });
}

/// A raw HTTP/1.1 request: method line, headers, body; mutated as text.
fn http_request() -> impl Strategy<Value = String> {
    static SEEDS: OnceLock<Vec<String>> = OnceLock::new();
    let seeds = SEEDS.get_or_init(|| {
        let offer = corpus()
            .bodies
            .iter()
            .find(|b| b.starts_with("v=0"))
            .cloned()
            .unwrap_or_else(|| OFFER.to_owned());
        let frag = "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\nm=video 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\n";
        vec![
            "OPTIONS /cam/whep HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_owned(),
            format!(
                "POST /cam/whep HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{offer}",
                offer.len()
            ),
            format!(
                "PATCH /cam/whep/0123 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/trickle-ice-sdpfrag\r\nIf-Match: *\r\nContent-Length: {}\r\n\r\n{frag}",
                frag.len()
            ),
            "DELETE /cam/whep/0123 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_owned(),
            "GET /cam/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n".to_owned(),
            "GET /cam/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_owned(),
        ]
    });
    text_from(seeds)
}

/// serve's HTTP and WebSocket handling, through the real server on loopback: mutated requests on
/// raw TCP, and mutated signaling messages on real WebSockets. After each input the server must
/// still answer a well-formed request. (Fewer inputs than the pure targets: each is a connection.)
#[test]
fn serve_request_handling_through_the_real_server() {
    use futures_util::{SinkExt, StreamExt};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let opts = rtcscope::serve::ServeOptions {
        codec: rtcscope::webrtc_adapter::sender::VideoCodec::Vp8,
        bitrate: 300_000,
        fps: 10,
        keyframe_interval: std::time::Duration::from_secs(1),
        ice_servers: vec![],
        bind: vec![],
        no_rtx: false,
        pacing: Default::default(),
        limits: rtcscope::serve::ServeLimits {
            header_timeout: std::time::Duration::from_millis(300),
            body_timeout: std::time::Duration::from_millis(300),
            ..Default::default()
        },
    };
    let handle = rt
        .block_on(rtcscope::serve::start(
            "127.0.0.1:0".parse().expect("addr"),
            opts,
        ))
        .expect("serve");
    let addr = handle.local_addr();
    let ws_url = handle.ws_url("cam");
    let step = std::time::Duration::from_secs(3);
    let alive = |rt: &tokio::runtime::Runtime| {
        rt.block_on(async {
            let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
            s.write_all(b"OPTIONS /cam/whep HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await
                .expect("write");
            let mut buf = Vec::new();
            let _ = tokio::time::timeout(step, s.read_to_end(&mut buf)).await;
            String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 ")
        })
    };
    let n = (cases() / 10).max(20);
    let mut runner = TestRunner::new(Config {
        cases: n,
        failure_persistence: None,
        max_shrink_iters: 64,
        ..Config::default()
    });
    let start = Instant::now();
    let c = corpus();
    let strategy = (
        http_request(),
        proptest::collection::vec(text_from(&c.ws_messages), 0..4),
    );
    let result = runner.run(&strategy, |(request, messages)| {
        rt.block_on(async {
            if let Ok(mut s) = tokio::net::TcpStream::connect(addr).await {
                let _ = s.write_all(request.as_bytes()).await;
                let mut buf = vec![0u8; 4096];
                let _ =
                    tokio::time::timeout(std::time::Duration::from_millis(50), s.read(&mut buf))
                        .await;
            }
            if !messages.is_empty()
                && let Ok(Ok((mut ws, _))) =
                    tokio::time::timeout(step, tokio_tungstenite::connect_async(&ws_url)).await
            {
                let _ = ws.next().await; // the ICE-server list
                for m in messages {
                    if ws
                        .send(tokio_tungstenite::tungstenite::Message::text(m))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
                let _ = tokio::time::timeout(std::time::Duration::from_millis(50), ws.next()).await;
            }
        });
        prop_assert!(alive(&rt), "serve stopped answering");
        Ok(())
    });
    if let Err(e) = result {
        panic!("fuzz serve: {e}");
    }
    eprintln!(
        "fuzz serve: {n} inputs, 0 crashes, {:.1} s",
        start.elapsed().as_secs_f64()
    );
    rt.block_on(handle.shutdown());
}
