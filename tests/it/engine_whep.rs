//! The WHEP viewer against small, deliberately misbehaving HTTP servers on 127.0.0.1: every exchange shows
//! in the event stream, and each failure becomes the right restart cause or note.

use crate::support::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{collect, dump, viewer};
use rtcscope::event::{ErrorSource, Event, MessageKind, Phase, RestartCause, Stamped};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A request as the test server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A canned response.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

fn reply(status: u16, headers: &[(&str, &str)], body: &str) -> Reply {
    Reply {
        status,
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        body: body.to_owned(),
    }
}

type Handler = Arc<dyn Fn(&Seen, &str) -> Reply + Send + Sync>;

/// A one-request-per-connection HTTP/1.1 server (enough for a test); records every request.
struct TestServer {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    async fn start(handler: impl Fn(&Seen, &str) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let handler: Handler = Arc::new(handler);
        let (s2, b2) = (seen.clone(), base.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                let (seen, handler, base) = (s2.clone(), handler.clone(), b2.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 8192];
                    // Head.
                    let head_end = loop {
                        let Ok(n) = tcp.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                    let mut lines = head.split("\r\n");
                    let first = lines.next().unwrap_or("");
                    let mut parts = first.split(' ');
                    let method = parts.next().unwrap_or("").to_owned();
                    let path = parts.next().unwrap_or("").to_owned();
                    let headers: Vec<(String, String)> = lines
                        .filter_map(|l| l.split_once(':'))
                        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                        .collect();
                    let len: usize = headers
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        let Ok(n) = tcp.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let body = String::from_utf8_lossy(&buf[head_end..]).into_owned();
                    let req = Seen {
                        method,
                        path,
                        headers,
                        body,
                    };
                    seen.lock().unwrap().push(req.clone());
                    let r = handler(&req, &base);
                    let mut out = format!("HTTP/1.1 {} X\r\n", r.status);
                    for (n, v) in &r.headers {
                        out.push_str(&format!("{n}: {v}\r\n"));
                    }
                    out.push_str(&format!(
                        "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
                        r.body.len(),
                        r.body
                    ));
                    let _ = tcp.write_all(out.as_bytes()).await;
                    let _ = tcp.shutdown().await;
                });
            }
        });
        Self { base, seen, task }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A syntactically valid answer to `offer` (no real peer behind it: ICE will not connect).
fn fake_answer(offer: &str) -> String {
    offer
        .replace("a=recvonly", "a=sendonly")
        .replace("a=setup:actpass", "a=setup:active")
        .lines()
        .map(|l| {
            if l.starts_with("a=ice-ufrag:") {
                "a=ice-ufrag:srv1".to_owned()
            } else if l.starts_with("a=ice-pwd:") {
                "a=ice-pwd:serverpassword0123456789".to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
        + "\r\n"
}

fn restarts(events: &[Stamped]) -> Vec<RestartCause> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Event::Restart { cause, .. } => Some(cause.clone()),
            _ => None,
        })
        .collect()
}

fn responses(events: &[Stamped]) -> Vec<(String, u16)> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Event::HttpResponse { method, status, .. } => Some((method.clone(), *status)),
            _ => None,
        })
        .collect()
}

fn infos(events: &[Stamped]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Event::Info { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_with_relative_location_no_etag_escaped_link_then_trickle_405_and_delete_on_exit() {
    let server = TestServer::start(|req, _| match (req.method.as_str(), req.path.as_str()) {
        ("OPTIONS", "/cam/whep") => reply(
            204,
            &[(
                "Link",
                r#"<stun:127.0.0.1:3478>; rel="ice-server", <turn:127.0.0.1:3478?transport=udp>; rel="ice-server"; username="u\"q"; credential="s3cr\\et"; credential-type="password""#,
            )],
            "",
        ),
        ("POST", "/cam/whep") => reply(
            201,
            &[
                ("Content-Type", "application/sdp"),
                ("Location", "/cam/whep/abc123"),
            ],
            &fake_answer(&req.body),
        ),
        ("PATCH", "/cam/whep/abc123") => reply(405, &[("Allow", "DELETE")], ""),
        ("DELETE", "/cam/whep/abc123") => reply(200, &[], r#"{"status":"ok"}"#),
        _ => reply(404, &[], "not found"),
    })
    .await;
    let url = format!("{}/cam/whep", server.base);
    let events = collect(
        viewer(&["--duration", "3s", "--handshake-timeout", "30s", &url]),
        Duration::from_secs(20),
    )
    .await;
    let t = dump(&events);
    let seen = server.seen();
    let methods: Vec<&str> = seen.iter().map(|s| s.method.as_str()).collect();
    assert_eq!(methods.first(), Some(&"OPTIONS"), "{t}");
    assert_eq!(methods.get(1), Some(&"POST"), "{t}");
    assert_eq!(
        methods.last(),
        Some(&"DELETE"),
        "DELETE sent on exit: {methods:?}"
    );
    let post = &seen[1];
    assert_eq!(post.header("content-type"), Some("application/sdp"));
    assert!(post.body.starts_with("v=0"));
    // The trickle PATCH went to the resolved relative Location, as an sdpfrag, without If-Match (no ETag).
    let patch = seen
        .iter()
        .find(|s| s.method == "PATCH")
        .expect("a trickle PATCH");
    assert_eq!(patch.path, "/cam/whep/abc123");
    assert_eq!(
        patch.header("content-type"),
        Some("application/trickle-ice-sdpfrag")
    );
    assert!(
        patch.body.contains("a=ice-ufrag:") && patch.body.contains("a=candidate:"),
        "{}",
        patch.body
    );
    assert!(patch.header("if-match").is_none());
    // Only one PATCH: after the 405 the viewer stops trickling.
    assert_eq!(
        seen.iter().filter(|s| s.method == "PATCH").count(),
        1,
        "{methods:?}"
    );
    let notes = infos(&events);
    assert!(
        notes.iter().any(|n| n.contains("without ETag")),
        "{notes:?}"
    );
    assert!(notes.iter().any(|n| n.contains("trickle")), "{notes:?}");
    // The Link servers (escaped quotes and backslash) were used, credentials masked in events.
    let ice = events
        .iter()
        .find_map(|e| match &e.event {
            Event::IceServers { servers, .. } => Some(servers.clone()),
            _ => None,
        })
        .expect("ice servers");
    assert_eq!(ice.len(), 2, "{ice:?}");
    assert!(ice[1].has_credential);
    let all = serde_json::to_string(&events).unwrap();
    assert!(!all.contains("s3cr"), "credential leaked into the events");
    // Every exchange is in the stream, with its timing.
    let rs = responses(&events);
    assert_eq!(rs[0], ("OPTIONS".into(), 204));
    assert_eq!(rs[1], ("POST".into(), 201));
    assert!(rs.contains(&("DELETE".into(), 200)), "{rs:?}");
    assert!(events.iter().any(|e| matches!(&e.event,
        Event::HttpResponse { kind: MessageKind::Answer, elapsed_ms, .. } if *elapsed_ms >= 0.0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_found_with_a_json_error_is_a_signaling_failure_with_the_message() {
    let server = TestServer::start(|req, _| match req.method.as_str() {
        "OPTIONS" => reply(204, &[], ""),
        _ => reply(
            404,
            &[("Content-Type", "application/json")],
            r#"{"status":"error","error":"no stream is available on path 'cam'"}"#,
        ),
    })
    .await;
    let url = format!("{}/cam/whep", server.base);
    let events = collect(
        viewer(&["--max-restarts", "1", "--restart-pause", "100ms", &url]),
        Duration::from_secs(20),
    )
    .await;
    let t = dump(&events);
    let r = restarts(&events);
    assert_eq!(r.len(), 2, "{t}");
    match &r[0] {
        RestartCause::SignalingFailed { error, http_status } => {
            assert_eq!(*http_status, Some(404));
            assert!(error.contains("no stream is available"), "{error}");
        }
        other => panic!("{other:?}\n{t}"),
    }
    assert!(events.iter().any(|e| matches!(
        &e.event,
        Event::HttpResponse {
            status: 404,
            kind: MessageKind::ErrorBody,
            ..
        }
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_shows_the_challenge_and_bearer_is_sent() {
    let server = TestServer::start(|req, _| {
        if req.header("authorization") == Some("Bearer tok3n") {
            reply(404, &[], "no stream")
        } else {
            reply(
                401,
                &[("WWW-Authenticate", r#"Basic realm="mediamtx""#)],
                "",
            )
        }
    })
    .await;
    let url = format!("{}/cam/whep", server.base);
    let events = collect(
        viewer(&["--max-restarts", "0", &url]),
        Duration::from_secs(20),
    )
    .await;
    let r = restarts(&events);
    assert!(
        matches!(&r[0], RestartCause::SignalingFailed { http_status: Some(401), error } if error.contains("realm=\"mediamtx\"")),
        "{r:?}"
    );
    let events = collect(
        viewer(&["--max-restarts", "0", "--bearer", "tok3n", &url]),
        Duration::from_secs(20),
    )
    .await;
    assert!(
        responses(&events).contains(&("POST".into(), 404)),
        "{}",
        dump(&events)
    );
    let all = serde_json::to_string(&events).unwrap();
    assert!(!all.contains("tok3n"), "token shown in the events");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_307_redirect_is_followed_and_shown() {
    let server = TestServer::start(|req, _| match (req.method.as_str(), req.path.as_str()) {
        ("OPTIONS", _) => reply(204, &[], ""),
        ("POST", "/cam/whep") => reply(307, &[("Location", "/other/whep")], ""),
        ("POST", "/other/whep") => reply(503, &[("Retry-After", "1")], "overloaded"),
        _ => reply(404, &[], ""),
    })
    .await;
    let url = format!("{}/cam/whep", server.base);
    let events = collect(
        viewer(&["--max-restarts", "1", &url]),
        Duration::from_secs(20),
    )
    .await;
    let t = dump(&events);
    let posts: Vec<String> = server
        .seen()
        .into_iter()
        .filter(|s| s.method == "POST")
        .map(|s| s.path)
        .collect();
    assert_eq!(&posts[..2], ["/cam/whep", "/other/whep"], "{t}");
    assert!(
        infos(&events)
            .iter()
            .any(|i| i.contains("redirected (307)")),
        "{t}"
    );
    // 503 + Retry-After: 1 → a restart that waits what the server asked.
    let pause = events
        .iter()
        .find_map(|e| match &e.event {
            Event::Restart {
                cause:
                    RestartCause::ServerBusy {
                        http_status: 503, ..
                    },
                pause_ms,
                ..
            } => Some(*pause_ms),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{t}"));
    assert_eq!(pause, 1000.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflict_with_retry_after_waits_and_retries() {
    let server = TestServer::start(|req, _| match req.method.as_str() {
        "OPTIONS" => reply(204, &[], ""),
        _ => reply(409, &[("Retry-After", "1")], "no publisher yet"),
    })
    .await;
    let url = format!("{}/cam/whep", server.base);
    let events = collect(
        viewer(&["--duration", "3500ms", &url]),
        Duration::from_secs(20),
    )
    .await;
    let t = dump(&events);
    let busy: Vec<_> = restarts(&events)
        .into_iter()
        .filter(|r| {
            matches!(
                r,
                RestartCause::ServerBusy {
                    http_status: 409,
                    ..
                }
            )
        })
        .collect();
    // 1 s waits (not the 2 s default) → at least 3 POSTs in 3.5 s.
    assert!(busy.len() >= 2, "{t}");
    let posts = server.seen().iter().filter(|s| s.method == "POST").count();
    assert!(posts >= 3, "{posts} POSTs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_201_whose_body_is_not_sdp_is_a_protocol_error() {
    let server = TestServer::start(|req, _| match req.method.as_str() {
        "OPTIONS" => reply(204, &[], ""),
        "POST" => reply(
            201,
            &[("Content-Type", "text/html"), ("Location", "/cam/whep/x")],
            "<html><body>\u{1b}[31mhello</body></html>",
        ),
        _ => reply(200, &[], ""),
    })
    .await;
    let url = format!("{}/cam/whep", server.base);
    let events = collect(
        viewer(&["--max-restarts", "0", &url]),
        Duration::from_secs(20),
    )
    .await;
    let r = restarts(&events);
    assert!(
        matches!(&r[0], RestartCause::ProtocolError { phase: Phase::AwaitingAnswer, error } if error.contains("not SDP")),
        "{r:?}"
    );
    assert!(events.iter().any(|e| matches!(&e.event,
        Event::Error { source: ErrorSource::Protocol, offending: Some(o), .. } if o.contains("<html>"))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_url_detects_whep_or_falls_back_to_the_websocket() {
    // A server with a WHEP endpoint: detected from the page URL.
    let server = TestServer::start(|req, _| match (req.method.as_str(), req.path.as_str()) {
        ("OPTIONS", "/cam/whep") => reply(204, &[], ""),
        _ => reply(404, &[], ""),
    })
    .await;
    let page = format!("{}/cam/", server.base);
    let events = collect(
        viewer(&["--max-restarts", "0", &page]),
        Duration::from_secs(20),
    )
    .await;
    assert!(matches!(
        &events[0].event,
        Event::SessionStarted { protocol: rtcscope::event::Protocol::Whep, target, .. } if target.ends_with("/cam/whep")
    ));
    assert!(infos(&events).iter().any(|i| i.contains("protocol: WHEP")));
    // The built-in sender speaks WHEP too: detected from its page URL, with media.
    let serve = rtcscope::serve::start("127.0.0.1:0".parse().unwrap(), common::sender_options(&[]))
        .await
        .unwrap();
    let page = format!("http://{}/cam/", serve.local_addr());
    let events = collect(
        viewer(&["--duration", "3s", &page]),
        Duration::from_secs(20),
    )
    .await;
    let t = dump(&events);
    assert!(
        matches!(
            &events[0].event,
            Event::SessionStarted {
                protocol: rtcscope::event::Protocol::Whep,
                ..
            }
        ),
        "{t}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e.event, Event::FirstMedia { .. })),
        "{t}"
    );
    // A server without WHEP (a WebSocket-only proxy in front of serve): the legacy protocol is used.
    let proxy = common::FaultProxy::start(serve.ws_url("cam"), common::Fault::None, 0).await;
    let page = format!("http://{}/cam/", proxy.addr);
    let events = collect(
        viewer(&["--duration", "3s", &page]),
        Duration::from_secs(20),
    )
    .await;
    serve.shutdown().await;
    let t = dump(&events);
    assert!(
        matches!(
            &events[0].event,
            Event::SessionStarted {
                protocol: rtcscope::event::Protocol::Ws,
                ..
            }
        ),
        "{t}"
    );
    assert!(
        infos(&events)
            .iter()
            .any(|i| i.contains("legacy WebSocket")),
        "{t}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e.event, Event::FirstMedia { .. })),
        "{t}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_406_counter_offer_is_answered_with_a_patch() {
    let server = TestServer::start(|req, _| match (req.method.as_str(), req.path.as_str()) {
        ("OPTIONS", _) => reply(204, &[], ""),
        ("POST", "/cam/whep") => {
            // The server's own offer: the viewer's, turned around (sendonly, new credentials).
            let counter = fake_answer(&req.body).replace("a=setup:active", "a=setup:actpass");
            reply(
                406,
                &[
                    (
                        "Content-Type",
                        "application/sdp; valid-until=\"Sat, 28 Nov 2026 02:00:00 GMT\"",
                    ),
                    ("Location", "/cam/whep/c1"),
                    ("ETag", "\"c1\""),
                ],
                &counter,
            )
        }
        ("PATCH", "/cam/whep/c1") => reply(204, &[], ""),
        ("DELETE", "/cam/whep/c1") => reply(200, &[], ""),
        _ => reply(404, &[], ""),
    })
    .await;
    let url = format!("{}/cam/whep", server.base);
    let events = collect(
        viewer(&["--duration", "2s", "--handshake-timeout", "30s", &url]),
        Duration::from_secs(20),
    )
    .await;
    let t = dump(&events);
    let seen = server.seen();
    let answer = seen
        .iter()
        .find(|s| s.method == "PATCH" && s.header("content-type") == Some("application/sdp"))
        .unwrap_or_else(|| panic!("no PATCH with our answer\n{t}"));
    assert!(answer.body.starts_with("v=0"));
    assert!(answer.body.contains("a=recvonly"), "{}", answer.body);
    assert!(
        infos(&events).iter().any(|i| i.contains("counter-offer")),
        "{t}"
    );
    // Trickle follows, with the ETag of the 406, and DELETE on exit.
    let trickle = seen
        .iter()
        .find(|s| {
            s.method == "PATCH"
                && s.header("content-type") == Some("application/trickle-ice-sdpfrag")
        })
        .unwrap_or_else(|| panic!("no trickle\n{t}"));
    assert_eq!(trickle.header("if-match"), Some("\"c1\""));
    assert_eq!(seen.last().map(|s| s.method.as_str()), Some("DELETE"));
    assert!(restarts(&events).is_empty(), "{t}");
}

/// WHEP end to end against the built-in sender: media flows, an ICE restart by PATCH reconnects with
/// media still flowing (no full restart), and DELETE reaches the server on exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whep_against_serve_with_an_ice_restart_keeps_media_flowing() {
    let serve = rtcscope::serve::start("127.0.0.1:0".parse().unwrap(), common::sender_options(&[]))
        .await
        .unwrap();
    let url = format!("http://{}/cam/whep", serve.local_addr());
    let mut handle = viewer(&["--duration", "8s", &url]);
    let mut events: Vec<Stamped> = Vec::new();
    let mut restart_sent_at = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, handle.events.recv()).await {
        if restart_sent_at.is_none() && matches!(ev.event, Event::TrackStats { .. }) {
            handle
                .commands
                .send(rtcscope::engine::EngineCommand::IceRestart)
                .await
                .unwrap();
            restart_sent_at = Some(ev.t_ms);
        }
        events.push(ev);
    }
    let requests = serve.requests();
    serve.shutdown().await;
    let t = dump(&events);
    assert!(
        matches!(events.last().map(|e| &e.event), Some(Event::Ended { .. })),
        "{t}"
    );
    let restart_at = restart_sent_at.unwrap_or_else(|| panic!("no media\n{t}"));
    // The restart PATCH got a 200 with the server's new credentials.
    let restart = events
        .iter()
        .position(|e| matches!(e.event, Event::IceRestart { .. }))
        .unwrap_or_else(|| panic!("{t}"));
    assert!(events[restart..].iter().any(|e| matches!(&e.event,
        Event::HttpResponse { method, status: 200, kind: MessageKind::Sdpfrag, .. } if method == "PATCH")), "{t}");
    // ICE went back to connected, no full restart, and media kept arriving afterwards.
    assert!(events[restart..].iter().any(|e| matches!(&e.event,
        Event::StateChanged { kind: rtcscope::event::StateKind::IceConnection, state } if state == "connected")), "{t}");
    assert!(restarts(&events).is_empty(), "{t}");
    // The checklist: the pairs of the first ICE generation are marked superseded, and the new
    // generation's pairs are added after the restart; the last checklist has both, the old ones stale.
    let superseded: Vec<&String> = events[restart..]
        .iter()
        .filter_map(|e| match &e.event {
            Event::PairsSuperseded { ids } => Some(ids),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(
        !superseded.is_empty(),
        "pairs_superseded after the ICE restart\n{t}"
    );
    assert!(
        events[restart..].iter().any(|e| matches!(&e.event,
            Event::PairAdded { pair } if !superseded.contains(&&pair.id))),
        "new pairs after the ICE restart\n{t}"
    );
    let last = events
        .iter()
        .rev()
        .find_map(|e| match &e.event {
            Event::CandidatePairs { pairs } => Some(pairs),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{t}"));
    assert!(
        last.iter().any(|p| p.stale) && last.iter().any(|p| !p.stale),
        "{last:?}"
    );
    let later: Vec<f64> = events
        .iter()
        .filter(|e| e.t_ms > restart_at + 2500.0)
        .filter_map(|e| match &e.event {
            Event::TrackStats { stats } => Some(stats.bitrate_bps),
            _ => None,
        })
        .collect();
    assert!(
        !later.is_empty() && later.iter().all(|b| *b > 500_000.0),
        "{later:?}\n{t}"
    );
    // The server saw the whole WHEP exchange, DELETE last.
    let methods: Vec<&str> = requests.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(methods.first(), Some(&"OPTIONS"), "{methods:?}");
    assert!(
        methods.contains(&"POST") && methods.contains(&"PATCH"),
        "{methods:?}"
    );
    assert_eq!(methods.last(), Some(&"DELETE"), "{methods:?}");
    assert_eq!(requests.last().and_then(|r| r.status), Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absolute_location_is_used_as_is_for_trickle_and_delete() {
    let server = TestServer::start(|req, base| match (req.method.as_str(), req.path.as_str()) {
        ("OPTIONS", _) => reply(204, &[], ""),
        ("POST", "/cam/whep") => reply(
            201,
            &[
                ("Content-Type", "application/sdp"),
                ("Location", &format!("{base}/sessions/abs-1")),
                ("ETag", "\"e1\""),
            ],
            &fake_answer(&req.body),
        ),
        ("PATCH", "/sessions/abs-1") => reply(204, &[], ""),
        ("DELETE", "/sessions/abs-1") => reply(200, &[], ""),
        _ => reply(404, &[], ""),
    })
    .await;
    let url = format!("{}/cam/whep", server.base);
    let events = collect(
        viewer(&["--duration", "2s", "--handshake-timeout", "30s", &url]),
        Duration::from_secs(20),
    )
    .await;
    let t = dump(&events);
    let seen = server.seen();
    let patch = seen
        .iter()
        .find(|s| s.method == "PATCH")
        .unwrap_or_else(|| panic!("{t}"));
    assert_eq!(patch.path, "/sessions/abs-1");
    assert_eq!(patch.header("if-match"), Some("\"e1\""));
    let last = seen.last().expect("requests");
    assert_eq!(
        (last.method.as_str(), last.path.as_str()),
        ("DELETE", "/sessions/abs-1")
    );
}
