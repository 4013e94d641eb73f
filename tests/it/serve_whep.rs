//! `rtcscope serve` as a WHEP server, over real sockets on 127.0.0.1: OPTIONS, POST, trickle and
//! ICE-restart PATCHes, DELETE and the error cases with a plain HTTP client (reqwest), and media end to
//! end with a minimal recvonly webrtc-rs viewer built here.
//!
//! Nothing here sends to any address other than 127.0.0.1: serve binds its ICE sockets on the listen IP,
//! the test viewer binds 127.0.0.1:0, mDNS is disabled on both, and the ICE servers configured in the
//! OPTIONS test are never contacted (no offer is made there).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, ETAG, IF_MATCH, LOCATION};
use rtcscope::cli::VideoCodec;
use rtcscope::proto::whep::{parse_link_headers, parse_sdpfrag, trickle_frag, write_sdpfrag};
use rtcscope::serve::ServeOptions;
use rtcscope::serve::{self, ServeHandle, ServedRequest};
use tokio::sync::mpsc;
use tokio::time::timeout;

const STEP: Duration = Duration::from_secs(5);
const SDP: &str = "application/sdp";
const FRAG: &str = "application/trickle-ice-sdpfrag";

fn opts() -> ServeOptions {
    ServeOptions {
        codec: VideoCodec::Vp8,
        bitrate: 500_000,
        fps: 30,
        keyframe_interval: Duration::from_millis(500),
        ice_servers: vec![],
        bind: vec![],
        no_rtx: false,
        pacing: Default::default(),
        limits: Default::default(),
    }
}

async fn start(o: ServeOptions) -> ServeHandle {
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    timeout(STEP, serve::start(listen, o))
        .await
        .expect("start timed out")
        .expect("start")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap()
}

/// The value of header `name`, as text.
fn header(r: &reqwest::Response, name: impl reqwest::header::AsHeaderName) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The value of the first `a=<name>:` line of an SDP.
fn attr<'a>(sdp: &'a str, name: &str) -> Option<&'a str> {
    let prefix = format!("a={name}:");
    sdp.lines()
        .find_map(|l| l.trim_end().strip_prefix(prefix.as_str()))
}

/// Whether the server saw `method path` answered with `status`.
fn saw(requests: &[ServedRequest], method: &str, path: &str, status: u16) -> bool {
    requests
        .iter()
        .any(|r| r.method == method && r.path == path && r.status == Some(status))
}

/// Wait until `cond` holds, polling every 20 ms, failing after `within`.
async fn wait_until(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(t.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------------------------------
// A minimal recvonly viewer (webrtc-rs directly).

mod viewer {
    use super::*;
    use rtc::interceptor::Registry;
    use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
    use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
    use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
    use webrtc::peer_connection::{
        MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
        RTCIceCandidateInit, RTCIceGatheringState, RTCPeerConnectionIceEvent,
        RTCPeerConnectionState, RTCSessionDescription, SettingEngineBuilder,
        register_default_interceptors,
    };

    #[derive(Debug)]
    pub enum Ev {
        Candidate(String),
        GatheringComplete,
        State(RTCPeerConnectionState),
    }

    struct Handler {
        tx: mpsc::UnboundedSender<Ev>,
        packets: Arc<AtomicU64>,
    }

    #[async_trait::async_trait]
    impl PeerConnectionEventHandler for Handler {
        async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
            if let Ok(init) = event.candidate.to_json() {
                let _ = self.tx.send(Ev::Candidate(init.candidate));
            }
        }
        async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
            if state == RTCIceGatheringState::Complete {
                let _ = self.tx.send(Ev::GatheringComplete);
            }
        }
        async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
            let _ = self.tx.send(Ev::State(state));
        }
        async fn on_track(&self, track: Arc<dyn TrackRemote>) {
            let packets = Arc::clone(&self.packets);
            tokio::spawn(async move {
                while let Some(ev) = track.poll().await {
                    if let TrackRemoteEvent::OnRtpPacket(_) = ev {
                        packets.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    }

    pub struct Viewer {
        pub pc: Arc<dyn PeerConnection>,
        pub events: mpsc::UnboundedReceiver<Ev>,
        pub packets: Arc<AtomicU64>,
    }

    impl Viewer {
        pub async fn new() -> Viewer {
            let mut me = MediaEngine::default();
            me.register_default_codecs().unwrap();
            let registry = register_default_interceptors(Registry::new(), &mut me).unwrap();
            let se = SettingEngineBuilder::new()
                .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
                .with_discard_local_candidates_during_ice_restart(true)
                .build();
            let (tx, events) = mpsc::unbounded_channel();
            let packets = Arc::new(AtomicU64::new(0));
            let pc = PeerConnectionBuilder::new()
                .with_media_engine(me)
                .with_interceptor_registry(registry)
                .with_setting_engine(se)
                .with_handler(Arc::new(Handler {
                    tx,
                    packets: Arc::clone(&packets),
                }))
                .with_udp_addrs(vec!["127.0.0.1:0".to_owned()])
                .build()
                .await
                .unwrap();
            let pc: Arc<dyn PeerConnection> = Arc::new(pc);
            pc.add_transceiver_from_kind(
                RtpCodecKind::Video,
                Some(RTCRtpTransceiverInit {
                    direction: RTCRtpTransceiverDirection::Recvonly,
                    streams: vec![],
                    send_encodings: vec![],
                }),
            )
            .await
            .unwrap();
            Viewer {
                pc,
                events,
                packets,
            }
        }

        /// Create and apply an offer; its SDP (no candidates yet: they trickle).
        pub async fn offer(&self) -> String {
            let offer = self.pc.create_offer(None).await.unwrap();
            let sdp = offer.sdp.clone();
            self.pc.set_local_description(offer).await.unwrap();
            sdp
        }

        /// Start an ICE restart: new credentials, a new offer applied locally; its SDP.
        pub async fn restart_offer(&self) -> String {
            self.pc.restart_ice().await.unwrap();
            self.offer().await
        }

        pub async fn apply_answer(&self, sdp: &str) {
            self.pc
                .set_remote_description(RTCSessionDescription::answer(sdp.to_owned()).unwrap())
                .await
                .unwrap();
        }

        pub async fn add_candidate(&self, candidate: &str, ufrag: &str) {
            self.pc
                .add_ice_candidate(RTCIceCandidateInit {
                    candidate: candidate.to_owned(),
                    sdp_mid: Some("0".into()),
                    sdp_mline_index: Some(0),
                    username_fragment: Some(ufrag.to_owned()),
                    url: None,
                })
                .await
                .unwrap();
        }

        /// Wait for `state`, collecting the local candidates seen meanwhile (and whether gathering
        /// completed).
        pub async fn wait_for(
            &mut self,
            state: RTCPeerConnectionState,
            within: Duration,
        ) -> (Vec<String>, bool) {
            let mut cands = vec![];
            let mut complete = false;
            let deadline = tokio::time::Instant::now() + within;
            loop {
                tokio::select! {
                    e = self.events.recv() => match e {
                        Some(Ev::Candidate(c)) => cands.push(c),
                        Some(Ev::GatheringComplete) => complete = true,
                        Some(Ev::State(s)) if s == state => return (cands, complete),
                        Some(Ev::State(RTCPeerConnectionState::Failed)) => panic!("viewer PC failed"),
                        Some(Ev::State(_)) => {}
                        None => panic!("viewer events ended"),
                    },
                    _ = tokio::time::sleep_until(deadline) => panic!("no {state} within {within:?}"),
                }
            }
        }

        /// Local candidates until gathering completes.
        pub async fn gather(&mut self, within: Duration) -> Vec<String> {
            let mut cands = vec![];
            let deadline = tokio::time::Instant::now() + within;
            loop {
                tokio::select! {
                    e = self.events.recv() => match e {
                        Some(Ev::Candidate(c)) => cands.push(c),
                        Some(Ev::GatheringComplete) => return cands,
                        Some(_) => {}
                        None => panic!("viewer events ended"),
                    },
                    _ = tokio::time::sleep_until(deadline) => return cands,
                }
            }
        }
    }
}

use viewer::Viewer;
use webrtc::peer_connection::RTCPeerConnectionState;

/// The session a successful POST created.
struct Session {
    /// Absolute URL of the resource.
    resource: String,
    /// Its path.
    path: String,
    etag: String,
    answer: String,
}

/// POST `offer` to serve's endpoint for `cam`; assert the 201 and what it carries.
async fn post(http: &reqwest::Client, h: &ServeHandle, offer: &str) -> Session {
    let r = http
        .post(h.whep_url("cam"))
        .header(CONTENT_TYPE, SDP)
        .body(offer.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(header(&r, CONTENT_TYPE).as_deref(), Some(SDP));
    assert_eq!(header(&r, "accept-patch").as_deref(), Some(FRAG));
    let location = header(&r, LOCATION).expect("Location");
    assert!(
        location.starts_with("/cam/whep/") && location.len() > "/cam/whep/".len() + 16,
        "relative Location with a long random id: {location}"
    );
    let etag = header(&r, ETAG).expect("ETag");
    let answer = r.text().await.unwrap();
    let ufrag = attr(&answer, "ice-ufrag").expect("ufrag in the answer");
    assert_eq!(etag, format!("\"{ufrag}\""), "strong ETag of the ICE ufrag");
    Session {
        resource: format!("http://{}{location}", h.local_addr()),
        path: location,
        etag,
        answer,
    }
}

/// PATCH an sdpfrag to the resource.
async fn patch(
    http: &reqwest::Client,
    resource: &str,
    if_match: &str,
    body: String,
) -> reqwest::Response {
    http.patch(resource)
        .header(CONTENT_TYPE, FRAG)
        .header(IF_MATCH, if_match)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Trickle the viewer's candidates of `offer` (and end-of-candidates) with one PATCH; expect 204.
async fn trickle(http: &reqwest::Client, s: &Session, offer: &str, cands: &[String]) {
    let frag = write_sdpfrag(&trickle_frag(offer, cands, true).unwrap());
    let r = patch(http, &s.resource, &s.etag, frag).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT, "{:?}", r.text().await);
}

/// POST, apply the full answer, trickle, and wait for the viewer to connect.
async fn connect(http: &reqwest::Client, h: &ServeHandle, v: &mut Viewer) -> (Session, String) {
    let offer = v.offer().await;
    let s = post(http, h, &offer).await;
    v.apply_answer(&s.answer).await;
    let cands = v.gather(Duration::from_secs(3)).await;
    assert!(!cands.is_empty(), "the viewer gathered candidates");
    trickle(http, &s, &offer, &cands).await;
    v.wait_for(RTCPeerConnectionState::Connected, Duration::from_secs(10))
        .await;
    (s, offer)
}

#[tokio::test]
async fn options_advertises_post_and_the_ice_servers_as_links() {
    let mut o = opts();
    o.ice_servers = vec![
        "stun:127.0.0.1:3478".into(),
        "turn:al\"ice:s3cret@127.0.0.1:3479?transport=udp".into(),
    ];
    let h = start(o).await;
    let http = client();
    let r = http
        .request(reqwest::Method::OPTIONS, h.whep_url("cam"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&r, "accept-post").as_deref(), Some(SDP));
    let methods = header(&r, "access-control-allow-methods").unwrap();
    assert!(
        methods.contains("PATCH") && methods.contains("DELETE"),
        "{methods}"
    );
    let links: Vec<String> = r
        .headers()
        .get_all("link")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(links.len(), 2, "one Link per ICE server: {links:?}");
    let parsed = parse_link_headers(&links.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(parsed.errors.is_empty(), "{parsed:?}");
    assert_eq!(parsed.ice_servers[0].url, "stun:127.0.0.1:3478");
    assert_eq!(parsed.ice_servers[0].username, None);
    let turn = &parsed.ice_servers[1];
    assert_eq!(turn.url, "turn:127.0.0.1:3479?transport=udp");
    assert_eq!(turn.username.as_deref(), Some("al\"ice"));
    assert_eq!(turn.credential.as_deref(), Some("s3cret"));
    assert_eq!(turn.credential_type.as_deref(), Some("password"));
    // A CORS preflight gets no ICE servers (RFC 9725 §4.6).
    let r = http
        .request(reqwest::Method::OPTIONS, h.whep_url("cam"))
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(r.headers().get("link").is_none());
    assert!(saw(&h.requests(), "OPTIONS", "/cam/whep", 204));
    timeout(STEP, h.shutdown()).await.unwrap();
}

#[tokio::test]
async fn post_trickle_media_delete() {
    let mut o = opts();
    o.ice_servers = vec!["stun:127.0.0.1:3478".into()];
    let h = start(o).await;
    let http = client();
    let mut v = Viewer::new().await;
    let offer = v.offer().await;
    let s = post(&http, &h, &offer).await;
    // The full answer: candidates on the listen IP and end-of-candidates, RTX negotiated.
    let cands: Vec<&str> = s
        .answer
        .lines()
        .filter(|l| l.starts_with("a=candidate:"))
        .collect();
    assert!(!cands.is_empty(), "candidates in the answer: {}", s.answer);
    for c in &cands {
        assert!(c.contains(" 127.0.0.1 "), "{c}");
    }
    assert!(s.answer.contains("a=end-of-candidates"), "{}", s.answer);
    assert!(
        s.answer.to_lowercase().contains("rtx/90000"),
        "{}",
        s.answer
    );
    v.apply_answer(&s.answer).await;
    let mine = v.gather(Duration::from_secs(3)).await;
    trickle(&http, &s, &offer, &mine).await;
    v.wait_for(RTCPeerConnectionState::Connected, Duration::from_secs(10))
        .await;
    wait_until("media", Duration::from_secs(5), || {
        v.packets.load(Ordering::Relaxed) > 50
    })
    .await;
    let sent = h.sent();
    assert_eq!((sent.connections, sent.connected, sent.active), (1, 1, 1));

    // DELETE closes the session's peer connection; the resource is gone afterwards.
    let r = http.delete(&s.resource).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    wait_until("session closed", STEP, || h.sent().active == 0).await;
    let r = http.delete(&s.resource).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = patch(&http, &s.resource, "*", "a=end-of-candidates\r\n".into()).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(body["status"], "error", "{body}");

    let seen = h.requests();
    assert!(saw(&seen, "POST", "/cam/whep", 201), "{seen:?}");
    assert!(saw(&seen, "PATCH", &s.path, 204), "{seen:?}");
    assert!(saw(&seen, "DELETE", &s.path, 200), "{seen:?}");
    assert!(saw(&seen, "DELETE", &s.path, 404), "{seen:?}");
    v.pc.close().await.unwrap();
    timeout(STEP, h.shutdown()).await.unwrap();
}

#[tokio::test]
async fn ice_restart_over_patch_keeps_media_flowing() {
    let h = start(opts()).await;
    let http = client();
    let mut v = Viewer::new().await;
    let (s, _) = connect(&http, &h, &mut v).await;
    let old_ufrag = attr(&s.answer, "ice-ufrag").unwrap().to_owned();
    wait_until("media", Duration::from_secs(5), || {
        v.packets.load(Ordering::Relaxed) > 20
    })
    .await;

    // The viewer restarts: new credentials in a PATCH with If-Match: "*".
    let offer = v.restart_offer().await;
    let frag = write_sdpfrag(&trickle_frag(&offer, &[], false).unwrap());
    let t = Instant::now();
    let r = patch(&http, &s.resource, "\"*\"", frag).await;
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
    eprintln!("ICE-restart PATCH answered in {:?}", t.elapsed());
    assert_eq!(header(&r, CONTENT_TYPE).as_deref(), Some(FRAG));
    let etag = header(&r, ETAG).expect("a new ETag");
    assert_ne!(etag, s.etag);
    let body = r.text().await.unwrap();
    let frag = parse_sdpfrag(&body).unwrap();
    let (ufrag, pwd) = (frag.ufrag().unwrap(), frag.pwd().unwrap());
    assert_ne!(
        ufrag, old_ufrag,
        "the server's ICE credentials changed: {body}"
    );
    assert_eq!(etag, format!("\"{ufrag}\""));
    assert!(frag.end_of_candidates(), "{body}");
    let server_cands: Vec<String> = frag.candidates().map(|(_, c)| c.to_owned()).collect();
    assert!(!server_cands.is_empty(), "new server candidates: {body}");
    // The server discarded its candidates and gathered on new sockets.
    let port = |c: &str| c.split(' ').nth(5).map(str::to_owned);
    let old_ports: Vec<_> = s
        .answer
        .lines()
        .filter_map(|l| l.strip_prefix("a="))
        .filter(|l| l.starts_with("candidate:"))
        .filter_map(port)
        .collect();
    for c in &server_cands {
        assert!(
            !old_ports.contains(&port(c).unwrap()),
            "{c} vs {old_ports:?}"
        );
    }
    eprintln!("restart sdpfrag:\n{body}");

    // Apply the server's new credentials (the old answer, rewritten) and candidates; trickle ours.
    let mut answer = String::new();
    for l in s.answer.lines().map(str::trim_end) {
        if l.starts_with("a=candidate:") || l == "a=end-of-candidates" {
            continue;
        } else if l.starts_with("a=ice-ufrag:") {
            answer.push_str(&format!("a=ice-ufrag:{ufrag}\r\n"));
        } else if l.starts_with("a=ice-pwd:") {
            answer.push_str(&format!("a=ice-pwd:{pwd}\r\n"));
        } else {
            answer.push_str(l);
            answer.push_str("\r\n");
        }
    }
    v.apply_answer(&answer).await;
    for c in &server_cands {
        v.add_candidate(c, ufrag).await;
    }
    let mine = v.gather(Duration::from_secs(3)).await;
    let new = Session {
        resource: s.resource.clone(),
        path: s.path.clone(),
        etag: etag.clone(),
        answer,
    };
    trickle(&http, &new, &offer, &mine).await;
    // The old ETag no longer matches.
    let r = patch(
        &http,
        &s.resource,
        &s.etag,
        "a=end-of-candidates\r\n".into(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);

    // Media keeps flowing over the restarted ICE session.
    let before = v.packets.load(Ordering::Relaxed);
    wait_until("media after the restart", Duration::from_secs(8), || {
        v.packets.load(Ordering::Relaxed) > before + 60
    })
    .await;
    assert_eq!(h.sent().active, 1, "one session throughout");
    let seen = h.requests();
    assert!(saw(&seen, "PATCH", &s.path, 200), "{seen:?}");
    assert!(saw(&seen, "PATCH", &s.path, 412), "{seen:?}");
    v.pc.close().await.unwrap();
    let r = http.delete(&s.resource).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    timeout(STEP, h.shutdown()).await.unwrap();
}

#[tokio::test]
async fn errors_are_mediamtx_json_with_the_right_status() {
    let h = start(opts()).await;
    let http = client();
    let url = h.whep_url("cam");
    for method in [reqwest::Method::GET, reqwest::Method::PUT] {
        let r = http.request(method.clone(), &url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(header(&r, "allow").as_deref(), Some("OPTIONS, POST"));
    }
    let r = http
        .post(&url)
        .header(CONTENT_TYPE, "text/plain")
        .body("v=0\r\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        header(&r, CONTENT_TYPE).as_deref(),
        Some("application/json")
    );
    let body: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(body["status"], "error");
    assert!(
        body["error"].as_str().unwrap().contains("application/sdp"),
        "{body}"
    );
    let r = http
        .post(&url)
        .header(CONTENT_TYPE, "application/sdp")
        .body("<html>not sdp</html>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = http
        .post(&url)
        .header(CONTENT_TYPE, "application/sdp")
        .body("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=ice-ufrag:abcd\r\nm=video 9 garbage\r\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{:?}", r.text().await);
    let unknown = format!("http://{}/cam/whep/nosuchsession", h.local_addr());
    let r = patch(&http, &unknown, "*", "a=end-of-candidates\r\n".into()).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = http.delete(&unknown).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // On a live session: wrong content type, a body that is not an sdpfrag, a method it has not.
    let v = Viewer::new().await;
    let s = post(&http, &h, &v.offer().await).await;
    let r = http
        .patch(&s.resource)
        .header(CONTENT_TYPE, SDP)
        .body("v=0\r\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = patch(&http, &s.resource, &s.etag, "{\"candidate\":1}".into()).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = http.get(&s.resource).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    // The session lives on another path only.
    let elsewhere = s.resource.replace("/cam/", "/other/");
    let r = http.delete(&elsewhere).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let seen = h.requests();
    for (m, p, st) in [
        ("GET", "/cam/whep", 405),
        ("PUT", "/cam/whep", 405),
        ("POST", "/cam/whep", 415),
        ("POST", "/cam/whep", 400),
        ("PATCH", "/cam/whep/nosuchsession", 404),
        ("DELETE", "/cam/whep/nosuchsession", 404),
        ("PATCH", s.path.as_str(), 415),
        ("PATCH", s.path.as_str(), 400),
        ("GET", s.path.as_str(), 405),
    ] {
        assert!(saw(&seen, m, p, st), "{m} {p} {st}: {seen:?}");
    }
    v.pc.close().await.unwrap();
    timeout(STEP, h.shutdown()).await.unwrap();
}

#[tokio::test]
async fn an_unconnected_session_closes_at_the_handshake_deadline() {
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let tuning = serve::ServeTuning {
        handshake_deadline: Duration::from_secs(2),
        fault: None,
    };
    let h = timeout(STEP, serve::start_with(listen, opts(), tuning))
        .await
        .unwrap()
        .unwrap();
    let http = client();
    // A viewer that POSTs and goes away.
    let v = Viewer::new().await;
    let s = post(&http, &h, &v.offer().await).await;
    v.pc.close().await.unwrap();
    assert_eq!(h.sent().active, 1);
    let t = Instant::now();
    wait_until("deadline", STEP, || h.sent().active == 0).await;
    assert!(
        t.elapsed() < Duration::from_millis(2500),
        "{:?}",
        t.elapsed()
    );
    let r = http.delete(&s.resource).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(h.sent().connected, 0);
    timeout(STEP, h.shutdown()).await.unwrap();
}

#[tokio::test]
async fn the_websocket_and_whep_share_the_port_and_shutdown_ends_live_sessions() {
    let h = start(opts()).await;
    let http = client();
    let mut v = Viewer::new().await;
    let _ = connect(&http, &h, &mut v).await;
    // The legacy WebSocket still answers on the same port.
    let (mut ws, resp) = timeout(STEP, tokio_tungstenite::connect_async(h.ws_url("cam")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 101);
    use futures_util::StreamExt;
    match timeout(STEP, ws.next()).await.unwrap() {
        Some(Ok(m)) => assert_eq!(m.into_text().unwrap().as_str(), "[]"),
        other => panic!("{other:?}"),
    }
    assert!(saw(&h.requests(), "GET", "/cam/ws", 101));
    let t = Instant::now();
    timeout(STEP, h.shutdown()).await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    v.pc.close().await.unwrap();
}

#[tokio::test]
async fn fault_no_whep_answers_404_like_an_old_mediamtx() {
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let tuning = serve::ServeTuning {
        fault: Some(serve::Fault::NoWhep),
        ..Default::default()
    };
    let h = timeout(STEP, serve::start_with(listen, opts(), tuning))
        .await
        .unwrap()
        .unwrap();
    let http = client();
    let r = http
        .request(reqwest::Method::OPTIONS, h.whep_url("cam"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = http
        .post(h.whep_url("cam"))
        .header(CONTENT_TYPE, SDP)
        .body("v=0\r\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // The WebSocket is still there.
    let (_ws, resp) = timeout(STEP, tokio_tungstenite::connect_async(h.ws_url("cam")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 101);
    timeout(STEP, h.shutdown()).await.unwrap();
}

#[tokio::test]
async fn fault_close_after_offer_drops_the_post_without_a_response() {
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let tuning = serve::ServeTuning {
        fault: Some(serve::Fault::CloseAfterOffer),
        ..Default::default()
    };
    let h = timeout(STEP, serve::start_with(listen, opts(), tuning))
        .await
        .unwrap()
        .unwrap();
    let v = Viewer::new().await;
    let r = client()
        .post(h.whep_url("cam"))
        .header(CONTENT_TYPE, SDP)
        .body(v.offer().await)
        .send()
        .await;
    assert!(r.is_err(), "no response: {r:?}");
    let seen = h.requests();
    assert!(
        seen.iter()
            .any(|r| r.method == "POST" && r.path == "/cam/whep" && r.status.is_none()),
        "{seen:?}"
    );
    assert_eq!(h.sent().connections, 0);
    v.pc.close().await.unwrap();
    timeout(STEP, h.shutdown()).await.unwrap();
}

// ---------------------------------------------------------------------------------------------------
// rtcscope's own WHEP viewer (the engine) against serve: media, an ICE restart asked for mid-stream, and
// the DELETE on exit.

use crate::support::common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_viewer_gets_media_restarts_ice_and_deletes_on_exit() {
    use rtcscope::engine::EngineCommand;
    use rtcscope::event::Event;
    let h = start(opts()).await;
    let mut engine = common::viewer(&["--duration", "20s", &h.whep_url("cam")]);
    let mut events = Vec::new();
    let mut restarted = false;
    let mut stats_after_restart = 0u64;
    let mut first_stats_packets = None;
    let run = async {
        while let Some(e) = engine.events.recv().await {
            match &e.event {
                Event::FirstMedia { .. } if !restarted => {
                    restarted = true;
                    let _ = engine.commands.send(EngineCommand::IceRestart).await;
                }
                Event::TrackStats { stats } if restarted && stats.kind == "video" => {
                    let p = *first_stats_packets.get_or_insert(stats.packets_received);
                    if stats.packets_received > p {
                        stats_after_restart += 1;
                    }
                    if stats_after_restart >= 3 {
                        let _ = engine.commands.send(EngineCommand::Stop).await;
                    }
                }
                _ => {}
            }
            let ended = matches!(e.event, Event::Ended { .. });
            events.push(e);
            if ended {
                break;
            }
        }
    };
    timeout(Duration::from_secs(30), run)
        .await
        .unwrap_or_else(|_| panic!("engine did not end:\n{}", common::dump(&events)));
    let t = common::dump(&events);
    assert!(
        events
            .iter()
            .any(|e| matches!(e.event, Event::IceRestart { .. })),
        "{t}"
    );
    assert!(stats_after_restart >= 3, "media kept flowing: {t}");
    assert!(
        !events
            .iter()
            .any(|e| matches!(e.event, Event::Restart { .. })),
        "no full restart: {t}"
    );
    let seen = h.requests();
    let resource = seen
        .iter()
        .find(|r| r.method == "PATCH")
        .map(|r| r.path.clone())
        .unwrap_or_else(|| panic!("no PATCH: {seen:?}\n{t}"));
    assert!(saw(&seen, "POST", "/cam/whep", 201), "{seen:?}");
    assert!(saw(&seen, "PATCH", &resource, 200), "ICE restart: {seen:?}");
    assert!(
        saw(&seen, "DELETE", &resource, 200),
        "DELETE on exit: {seen:?}"
    );
    wait_until("session closed", STEP, || h.sent().active == 0).await;
    timeout(STEP, h.shutdown()).await.unwrap();
}
