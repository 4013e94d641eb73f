//! `rtcscope serve` over real sockets on 127.0.0.1: the legacy MediaMTX WebSocket protocol as the server,
//! and, with a minimal recvonly webrtc-rs viewer built here, media end to end.
//!
//! Nothing here sends to any address other than 127.0.0.1: serve binds its ICE sockets on the listen IP,
//! the test viewer binds 127.0.0.1:0, mDNS is disabled on both, and the ICE servers configured in the
//! protocol-only tests are never contacted (no offer is made there).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use rtcscope::cli::VideoCodec;
use rtcscope::serve::ServeOptions;
use rtcscope::serve::{self, ServeHandle};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, mpsc};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const STEP: Duration = Duration::from_secs(5);

fn opts(codec: VideoCodec, bitrate: u64) -> ServeOptions {
    ServeOptions {
        codec,
        bitrate,
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

async fn connect(url: &str) -> Ws {
    let (ws, resp) = timeout(STEP, connect_async(url))
        .await
        .expect("connect timed out")
        .expect("connect");
    assert_eq!(resp.status().as_u16(), 101);
    ws
}

async fn next_text(ws: &mut Ws) -> String {
    loop {
        match timeout(STEP, ws.next()).await.expect("message timed out") {
            Some(Ok(Message::Text(t))) => return t.as_str().to_owned(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// Wait for the connection to end; returns the close frame's code if one came.
async fn expect_closed(ws: &mut Ws, within: Duration) -> Option<CloseCode> {
    loop {
        match timeout(within, ws.next())
            .await
            .expect("socket not closed in time")
        {
            None => return None,
            Some(Err(_)) => return None, // reset without closing handshake
            Some(Ok(Message::Close(f))) => return f.map(|f| f.code),
            Some(Ok(Message::Text(t))) => {
                // Candidates may still trickle before the close.
                assert!(t.contains("candidate"), "unexpected message {t}");
            }
            Some(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn first_message_is_the_ice_server_list_with_credentials_split_out() {
    let mut o = opts(VideoCodec::Vp8, 500_000);
    o.ice_servers = vec![
        "stun:127.0.0.1:3478".into(),
        "turn:alice:s3cret@127.0.0.1:3479".into(),
    ];
    let h = start(o).await;
    let mut ws = connect(&h.ws_url("cam")).await;
    let first = next_text(&mut ws).await;
    let v: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(
        v,
        serde_json::json!([
            {"urls": ["stun:127.0.0.1:3478"]},
            {"urls": ["turn:127.0.0.1:3479"], "username": "alice", "credential": "s3cret"}
        ]),
        "{first}"
    );
    assert_eq!(h.sent().connections, 1);
    drop(ws);
    timeout(STEP, h.shutdown()).await.expect("shutdown");
}

#[tokio::test]
async fn no_ice_servers_is_an_empty_array() {
    let h = start(opts(VideoCodec::Vp8, 500_000)).await;
    let mut ws = connect(&h.ws_url("a/b")).await;
    assert_eq!(next_text(&mut ws).await, "[]");
    timeout(STEP, h.shutdown()).await.expect("shutdown");
}

#[tokio::test]
async fn garbage_or_a_non_offer_closes_without_a_close_frame() {
    let h = start(opts(VideoCodec::Vp8, 500_000)).await;
    for bad in [
        "this is not json",
        r#"{"type":"answer","sdp":"v=0\r\n"}"#,
        r#"{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host"}"#,
        r#"[1,2,3]"#,
    ] {
        let mut ws = connect(&h.ws_url("cam")).await;
        let _ = next_text(&mut ws).await;
        ws.send(Message::text(bad)).await.unwrap();
        let code = expect_closed(&mut ws, STEP).await;
        assert_eq!(
            code, None,
            "MediaMTX closes TCP without a close frame ({bad})"
        );
    }
    assert_eq!(h.sent().connections, 4);
    assert_eq!(h.sent().connected, 0);
    timeout(STEP, h.shutdown()).await.expect("shutdown");
}

#[tokio::test]
async fn other_paths_get_404_and_the_page_is_html() {
    let h = start(opts(VideoCodec::Vp8, 500_000)).await;
    let url = format!("ws://{}/cam/other", h.local_addr());
    match timeout(STEP, connect_async(&url)).await.expect("timed out") {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 404)
        }
        other => panic!("expected HTTP 404, got {other:?}"),
    }

    async fn get(addr: SocketAddr, path: &str) -> String {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut out = String::new();
        tcp.read_to_string(&mut out).await.unwrap();
        out
    }
    let page = timeout(STEP, get(h.local_addr(), "/cam/")).await.unwrap();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("text/html"), "{page}");
    assert!(page.contains("/cam/ws"), "{page}");
    let nf = timeout(STEP, get(h.local_addr(), "/favicon.ico"))
        .await
        .unwrap();
    assert!(nf.starts_with("HTTP/1.1 404"), "{nf}");
    let plain = timeout(STEP, get(h.local_addr(), "/cam/ws")).await.unwrap();
    assert!(plain.starts_with("HTTP/1.1 426"), "{plain}");
    assert_eq!(h.sent().connections, 0);
    timeout(STEP, h.shutdown()).await.expect("shutdown");
}

#[tokio::test]
async fn shutdown_sends_a_going_away_close_frame() {
    let h = start(opts(VideoCodec::Vp8, 500_000)).await;
    let mut ws = connect(&h.ws_url("cam")).await;
    let _ = next_text(&mut ws).await;
    let stopping = tokio::spawn(h.shutdown());
    let code = expect_closed(&mut ws, STEP).await;
    assert_eq!(code, Some(CloseCode::Away));
    timeout(STEP, stopping).await.unwrap().unwrap();
}

// ---------------------------------------------------------------------------------------------------
// A minimal recvonly viewer (webrtc-rs directly), for the end-to-end tests.

mod viewer {
    use super::*;
    use rtc::interceptor::Registry;
    use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
    use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
    use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
    use webrtc::peer_connection::{
        MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
        RTCIceCandidateInit, RTCPeerConnectionIceEvent, RTCPeerConnectionState,
        RTCSessionDescription, SettingEngineBuilder, StatsSelector, register_default_interceptors,
    };

    pub enum Ev {
        Candidate(String),
        State(RTCPeerConnectionState),
    }

    struct Handler {
        tx: mpsc::UnboundedSender<Ev>,
        rx_stats: Arc<Received>,
    }

    /// What arrived on the video track.
    #[derive(Default)]
    pub struct Received {
        pub packets: AtomicU64,
        pub payload_bytes: AtomicU64,
        /// (arrival, cumulative payload bytes) per packet.
        pub timeline: Mutex<Vec<(Instant, u64)>>,
        /// (arrival, RTP timestamp) per packet: the packets of one frame share a timestamp.
        pub frames: Mutex<Vec<(Instant, u32)>>,
        /// Payload types and first payload bytes of the first packets.
        pub heads: Mutex<Vec<(u8, Vec<u8>)>>,
    }

    #[async_trait::async_trait]
    impl PeerConnectionEventHandler for Handler {
        async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
            if let Ok(init) = event.candidate.to_json() {
                let _ = self.tx.send(Ev::Candidate(init.candidate));
            }
        }
        async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
            let _ = self.tx.send(Ev::State(state));
        }
        async fn on_track(&self, track: Arc<dyn TrackRemote>) {
            let rx = Arc::clone(&self.rx_stats);
            tokio::spawn(async move {
                while let Some(ev) = track.poll().await {
                    if let TrackRemoteEvent::OnRtpPacket(p) = ev {
                        let n = p.payload.len() as u64;
                        rx.packets.fetch_add(1, Ordering::Relaxed);
                        let total = rx.payload_bytes.fetch_add(n, Ordering::Relaxed) + n;
                        let now = Instant::now();
                        rx.timeline.lock().await.push((now, total));
                        rx.frames.lock().await.push((now, p.header.timestamp));
                        let mut heads = rx.heads.lock().await;
                        if heads.len() < 400 {
                            heads.push((
                                p.header.payload_type,
                                p.payload[..p.payload.len().min(16)].to_vec(),
                            ));
                        }
                    }
                }
            });
        }
    }

    pub struct Viewer {
        pub pc: Arc<dyn PeerConnection>,
        pub events: mpsc::UnboundedReceiver<Ev>,
        pub received: Arc<Received>,
    }

    impl Viewer {
        pub async fn new() -> Viewer {
            let mut me = MediaEngine::default();
            me.register_default_codecs().unwrap();
            let registry = register_default_interceptors(Registry::new(), &mut me).unwrap();
            let se = SettingEngineBuilder::new()
                .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
                .build();
            let (tx, events) = mpsc::unbounded_channel();
            let received = Arc::new(Received::default());
            let pc = PeerConnectionBuilder::new()
                .with_media_engine(me)
                .with_interceptor_registry(registry)
                .with_setting_engine(se)
                .with_handler(Arc::new(Handler {
                    tx,
                    rx_stats: Arc::clone(&received),
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
                received,
            }
        }

        pub async fn offer(&self) -> String {
            let offer = self.pc.create_offer(None).await.unwrap();
            self.pc.set_local_description(offer).await.unwrap();
            self.pc.local_description().await.unwrap().sdp
        }

        pub async fn apply_answer(&self, sdp: String) {
            self.pc
                .set_remote_description(RTCSessionDescription::answer(sdp).unwrap())
                .await
                .unwrap();
        }

        pub async fn add_candidate(&self, v: &Value) {
            let init = RTCIceCandidateInit {
                candidate: v["candidate"].as_str().unwrap().to_owned(),
                sdp_mid: v["sdpMid"].as_str().map(str::to_owned),
                sdp_mline_index: v["sdpMLineIndex"].as_u64().map(|i| i as u16),
                username_fragment: v["usernameFragment"].as_str().map(str::to_owned),
                url: None,
            };
            self.pc.add_ice_candidate(init).await.unwrap();
        }

        pub async fn inbound_bytes(&self) -> u64 {
            let report = self.pc.get_stats(Instant::now(), StatsSelector::None).await;
            report.inbound_rtp_streams().map(|s| s.bytes_received).sum()
        }
    }
}

/// Negotiate with serve over the WebSocket until the viewer's peer connection is connected. Returns the
/// answer SDP and the server candidate messages seen.
async fn negotiate(ws: &mut Ws, v: &mut viewer::Viewer) -> (String, Vec<Value>) {
    let ice = next_text(ws).await;
    assert_eq!(ice, "[]");
    let offer = v.offer().await;
    ws.send(Message::text(
        serde_json::json!({"type": "offer", "sdp": offer}).to_string(),
    ))
    .await
    .unwrap();
    let answer: Value = serde_json::from_str(&next_text(ws).await).unwrap();
    assert_eq!(answer["type"], "answer");
    let sdp = answer["sdp"].as_str().unwrap().to_owned();
    v.apply_answer(sdp.clone()).await;
    let mut server_candidates = vec![];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        tokio::select! {
            m = ws.next() => match m {
                Some(Ok(Message::Text(t))) => {
                    let c: Value = serde_json::from_str(t.as_str()).unwrap();
                    v.add_candidate(&c).await;
                    server_candidates.push(c);
                }
                Some(Ok(_)) => {}
                other => panic!("socket ended during negotiation: {other:?}"),
            },
            e = v.events.recv() => match e {
                Some(viewer::Ev::Candidate(c)) => {
                    let msg = serde_json::json!({
                        "candidate": c, "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": null
                    });
                    ws.send(Message::text(msg.to_string())).await.unwrap();
                }
                Some(viewer::Ev::State(webrtc::peer_connection::RTCPeerConnectionState::Connected)) => break,
                Some(viewer::Ev::State(webrtc::peer_connection::RTCPeerConnectionState::Failed)) => panic!("viewer PC failed"),
                Some(_) => {}
                None => panic!("viewer events ended"),
            },
            _ = tokio::time::sleep_until(deadline) => panic!("not connected within 10 s"),
        }
    }
    (sdp, server_candidates)
}

/// The median time from a frame's first packet to its last, over frames of at least 10 packets.
async fn median_frame_spread(rx: &viewer::Received) -> Duration {
    let arrivals = rx.frames.lock().await;
    let mut by_frame: std::collections::HashMap<u32, (Instant, Instant, usize)> =
        Default::default();
    for &(at, ts) in arrivals.iter() {
        let e = by_frame.entry(ts).or_insert((at, at, 0));
        e.0 = e.0.min(at);
        e.1 = e.1.max(at);
        e.2 += 1;
    }
    let mut spreads: Vec<Duration> = by_frame
        .values()
        .filter(|(_, _, n)| *n >= 10)
        .map(|(first, last, _)| *last - *first)
        .collect();
    assert!(
        spreads.len() >= 30,
        "{} frames of 10 packets or more",
        spreads.len()
    );
    spreads.sort();
    spreads[spreads.len() / 2]
}

#[tokio::test]
async fn a_frame_is_paced_over_its_interval_unless_burst() {
    // 20 Mbit/s at 30 fps: about 65 packets a frame. Paced, they leave in 1 ms slots over the first
    // 13 ms of the 33 ms interval (a sleep never ends early, so the sender spreads them over at
    // least 12 ms); with --burst they leave back to back.
    let (h, v, _) = end_to_end(opts(VideoCodec::Vp8, 20_000_000)).await;
    let paced = median_frame_spread(&v.received).await;
    let sent = h.sent();
    assert!(
        paced >= Duration::from_millis(6),
        "paced: median spread of a frame {paced:?}"
    );
    let (h2, v2, _) = end_to_end(ServeOptions {
        pacing: rtcscope::serve::Pacing::Burst,
        ..opts(VideoCodec::Vp8, 20_000_000)
    })
    .await;
    let burst = median_frame_spread(&v2.received).await;
    eprintln!(
        "median spread of a frame: paced {paced:?}, burst {burst:?}; sent {sent:?}, {:?}",
        h2.sent()
    );
    assert!(
        burst < Duration::from_millis(12),
        "burst: median spread of a frame {burst:?}"
    );
    assert!(burst < paced, "burst {burst:?} vs paced {paced:?}");
    // Every packet written reached the stack; the sender's sockets lost none on loopback.
    for s in [sent, h2.sent()] {
        assert_eq!(s.send_drops.datagrams_lost, 0, "{s:?}");
        assert!(s.packets_written >= s.frames * 60, "{s:?}");
    }
}

/// Bitrate received between `from` and `to` (relative to the first packet), from the packet timeline.
async fn received_rate(rx: &viewer::Received, from: Duration, to: Duration) -> f64 {
    let tl = rx.timeline.lock().await;
    let t0 = tl.first().expect("no packets").0;
    let bytes_at = |t: Duration| {
        tl.iter()
            .take_while(|(at, _)| at.duration_since(t0) <= t)
            .last()
            .map_or(0, |(_, b)| *b)
    };
    (bytes_at(to) - bytes_at(from)) as f64 * 8.0 / (to - from).as_secs_f64()
}

async fn end_to_end(o: ServeOptions) -> (ServeHandle, viewer::Viewer, String) {
    let h = start(o).await;
    let mut ws = connect(&h.ws_url("cam")).await;
    let mut v = viewer::Viewer::new().await;
    let (answer, cands) = timeout(Duration::from_secs(15), negotiate(&mut ws, &mut v))
        .await
        .expect("negotiation timed out");
    assert!(
        !answer.contains("a=candidate"),
        "candidates are stripped from the answer"
    );
    assert!(!answer.contains("end-of-candidates"));
    assert!(!cands.is_empty(), "server trickled candidates");
    for c in &cands {
        assert_eq!(c["sdpMid"], "", "{c}");
        assert_eq!(c["sdpMLineIndex"], 0, "{c}");
        assert!(c["usernameFragment"].is_null(), "{c}");
        let line = c["candidate"].as_str().unwrap();
        assert!(line.starts_with("candidate:"), "{line}");
        assert!(
            line.contains(" 127.0.0.1 "),
            "host candidate on the listen IP only: {line}"
        );
    }
    // Let media flow for 4 s, keeping the socket open (it is the shutdown channel).
    let flow = async {
        let until = tokio::time::Instant::now() + Duration::from_secs(4);
        loop {
            tokio::select! {
                m = ws.next() => match m {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => panic!("socket closed while streaming"),
                    _ => {}
                },
                _ = tokio::time::sleep_until(until) => break,
            }
        }
    };
    timeout(Duration::from_secs(6), flow).await.unwrap();
    assert_eq!(h.sent().connected, 1);
    assert_eq!(h.sent().active, 1);
    // Closing the socket closes the sender's PC.
    ws.close(None).await.unwrap();
    let t = Instant::now();
    while h.sent().active != 0 {
        assert!(
            t.elapsed() < STEP,
            "connection not torn down after the socket closed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (h, v, answer)
}

#[tokio::test]
async fn vp8_media_arrives_at_the_target_bitrate() {
    let target = 1_000_000;
    let (h, v, answer) = end_to_end(opts(VideoCodec::Vp8, target)).await;
    assert!(answer.contains("VP8/90000"), "{answer}");
    assert!(
        !rtx_apts(&answer).is_empty(),
        "media flows with RTX negotiated: {answer}"
    );
    let rx = &v.received;
    let rate = received_rate(rx, Duration::from_millis(500), Duration::from_millis(3500)).await;
    let sent = h.sent();
    let got = rx.payload_bytes.load(Ordering::Relaxed);
    let inbound = v.inbound_bytes().await;
    eprintln!(
        "VP8: target {target} bit/s, received {rate:.0} bit/s over 3 s; sent {sent:?}; received {got} payload bytes \
         in {} packets; viewer inbound-rtp bytesReceived {inbound}",
        rx.packets.load(Ordering::Relaxed)
    );
    assert!((rate / target as f64 - 1.0).abs() < 0.15, "rate {rate}");
    assert!(sent.frames >= 90, "{sent:?}");
    assert!(sent.keyframes >= 6, "{sent:?}");
    // RTP payload = frame bytes + a VP8 payload descriptor (webrtc-rs: 3-4 bytes with picture ID) per packet.
    let packets = rx.packets.load(Ordering::Relaxed);
    assert!(
        got <= sent.payload_bytes + 4 * packets,
        "got {got}, sent {sent:?}"
    );
    assert!(
        got as f64 >= 0.95 * sent.payload_bytes as f64,
        "got {got}, sent {sent:?}"
    );
    assert!(
        sent.rtp_packets > 0 && sent.rtp_packets + 5 >= packets,
        "{sent:?} vs {packets}"
    );
    // Key frames are well-formed: descriptor start bit, then a frame tag with bit 0 clear and the start code.
    let heads = rx.heads.lock().await;
    let key = heads
        .iter()
        .filter_map(|(_, p)| vp8_frame_start(p))
        .any(|f| f.len() >= 6 && (f[0] & 1) == 0 && f[3..6] == [0x9d, 0x01, 0x2a]);
    assert!(key, "no VP8 key frame seen");
    drop(heads);
    v.pc.close().await.unwrap();
    timeout(STEP, h.shutdown()).await.unwrap();
}

#[tokio::test]
async fn h264_media_arrives_with_idr_and_parameter_sets() {
    let target = 600_000;
    let (h, v, answer) = end_to_end(opts(VideoCodec::H264, target)).await;
    assert!(answer.contains("H264/90000"), "{answer}");
    assert!(
        !rtx_apts(&answer).is_empty(),
        "media flows with RTX negotiated: {answer}"
    );
    assert!(
        !answer.contains("VP8"),
        "only the configured codec is answered: {answer}"
    );
    let rx = &v.received;
    let rate = received_rate(rx, Duration::from_millis(500), Duration::from_millis(3500)).await;
    eprintln!(
        "H264: target {target} bit/s, received {rate:.0} bit/s; sent {:?}",
        h.sent()
    );
    assert!((rate / target as f64 - 1.0).abs() < 0.15, "rate {rate}");
    let heads = rx.heads.lock().await;
    let mut types = std::collections::BTreeSet::new();
    for (_, p) in heads.iter() {
        let t = p[0] & 0x1f;
        match t {
            24 => {
                // STAP-A: (size, NAL) pairs
                let mut i = 1;
                while i + 2 < p.len() {
                    let n = usize::from(u16::from_be_bytes([p[i], p[i + 1]]));
                    types.insert(p[i + 2] & 0x1f);
                    i += 2 + n;
                }
            }
            28 => {
                types.insert(p[1] & 0x1f);
            }
            t => {
                types.insert(t);
            }
        }
    }
    for t in [1u8, 5, 7, 8] {
        assert!(types.contains(&t), "NAL type {t} missing from {types:?}");
    }
    drop(heads);
    v.pc.close().await.unwrap();
    timeout(STEP, h.shutdown()).await.unwrap();
}

#[tokio::test]
async fn handshake_deadline_closes_the_socket() {
    let h = start(opts(VideoCodec::Vp8, 500_000)).await;
    let mut ws = connect(&h.ws_url("cam")).await;
    let _ = next_text(&mut ws).await;
    let t0 = Instant::now();
    // A real offer from a viewer that then goes away: the server answers but can never connect.
    let v = viewer::Viewer::new().await;
    let offer = v.offer().await;
    v.pc.close().await.unwrap();
    drop(v);
    ws.send(Message::text(
        serde_json::json!({"type": "offer", "sdp": offer}).to_string(),
    ))
    .await
    .unwrap();
    let answer: Value = serde_json::from_str(&next_text(&mut ws).await).unwrap();
    assert_eq!(answer["type"], "answer");
    let code = expect_closed(&mut ws, Duration::from_secs(13)).await;
    let lived = t0.elapsed();
    assert_eq!(code, None, "closed without a close frame");
    assert!(
        lived >= Duration::from_secs(9) && lived < Duration::from_secs(12),
        "closed after {lived:?}"
    );
    assert_eq!(h.sent().connected, 0);
    timeout(STEP, h.shutdown()).await.unwrap();
}

#[tokio::test]
async fn an_offer_without_the_codec_is_answered_with_a_rejected_m_line() {
    // serve sends H264; this viewer offers VP8 only.
    let h = start(opts(VideoCodec::H264, 500_000)).await;
    let mut notices = h.subscribe();
    let mut ws = connect(&h.ws_url("cam")).await;
    let _ = next_text(&mut ws).await;
    let v = viewer::Viewer::new().await;
    let offer = v.offer().await;
    let vp8_only = restrict_to_vp8(&offer);
    ws.send(Message::text(
        serde_json::json!({"type": "offer", "sdp": vp8_only}).to_string(),
    ))
    .await
    .unwrap();
    let text = match timeout(STEP, ws.next()).await.expect("answer timed out") {
        Some(Ok(Message::Text(t))) => t.as_str().to_owned(),
        other => {
            while let Ok(n) = notices.try_recv() {
                eprintln!("{n}");
            }
            panic!("expected the answer, got {other:?}");
        }
    };
    let answer: Value = serde_json::from_str(&text).unwrap();
    let sdp = answer["sdp"].as_str().unwrap();
    eprintln!("answer to a VP8-only offer:\n{sdp}");
    assert!(!sdp.contains("H264"), "{sdp}");
    assert!(
        sdp.contains("m=video 0 "),
        "the video m-line is rejected: {sdp}"
    );
    v.pc.close().await.unwrap();
    drop(ws);
    timeout(STEP, h.shutdown()).await.unwrap();
}

/// The RTX payload types of an answer's video m-line, with the payload type each repairs (`apt`).
fn rtx_apts(sdp: &str) -> Vec<(String, String)> {
    let rtx_pts: Vec<&str> = sdp
        .lines()
        .filter_map(|l| l.strip_prefix("a=rtpmap:"))
        .filter(|r| r.to_ascii_lowercase().contains(" rtx/90000"))
        .filter_map(|r| r.split_whitespace().next())
        .collect();
    rtx_pts
        .iter()
        .filter_map(|pt| {
            let prefix = format!("a=fmtp:{pt} apt=");
            sdp.lines()
                .find_map(|l| l.trim_end().strip_prefix(prefix.as_str()))
                .map(|apt| ((*pt).to_owned(), apt.to_owned()))
        })
        .collect()
}

/// The payload types of a codec in an SDP (`a=rtpmap:<pt> <name>/…`).
fn pts_of(sdp: &str, name: &str) -> Vec<String> {
    sdp.lines()
        .filter_map(|l| l.strip_prefix("a=rtpmap:"))
        .filter(|r| r.contains(&format!(" {name}/")))
        .filter_map(|r| r.split_whitespace().next().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn the_answer_negotiates_rtx_by_default_and_not_with_no_rtx() {
    for (codec, name) in [(VideoCodec::Vp8, "VP8"), (VideoCodec::H264, "H264")] {
        for no_rtx in [false, true] {
            let mut o = opts(codec, 500_000);
            o.no_rtx = no_rtx;
            let h = start(o).await;
            let mut ws = connect(&h.ws_url("cam")).await;
            let _ = next_text(&mut ws).await;
            let v = viewer::Viewer::new().await;
            send_offer(&mut ws, &v).await;
            let answer: Value = serde_json::from_str(&next_text(&mut ws).await).unwrap();
            let sdp = answer["sdp"].as_str().unwrap();
            let media_pts = pts_of(sdp, name);
            assert!(!media_pts.is_empty(), "{name} answered: {sdp}");
            let rtx = rtx_apts(sdp);
            if no_rtx {
                assert!(rtx.is_empty(), "--no-rtx: no RTX in the answer: {sdp}");
                assert!(!sdp.contains("ssrc-group:FID"), "{sdp}");
            } else {
                assert!(!rtx.is_empty(), "RTX negotiated by default: {sdp}");
                for (_, apt) in &rtx {
                    assert!(media_pts.contains(apt), "apt={apt} repairs {name}: {sdp}");
                }
                for pt in &media_pts {
                    assert!(
                        rtx.iter().any(|(_, apt)| apt == pt),
                        "every {name} payload type has its RTX: {sdp}"
                    );
                }
                assert!(
                    sdp.contains("a=ssrc-group:FID "),
                    "the RTX SSRC is announced: {sdp}"
                );
            }
            v.pc.close().await.unwrap();
            drop(ws);
            timeout(STEP, h.shutdown()).await.unwrap();
        }
    }
}

/// The start of the VP8 frame in a packet that begins one (S bit, partition 0): the RFC 7741 payload
/// descriptor skipped.
fn vp8_frame_start(p: &[u8]) -> Option<&[u8]> {
    let b0 = *p.first()?;
    if b0 & 0x10 == 0 || b0 & 0x07 != 0 {
        return None;
    }
    let mut i = 1;
    if b0 & 0x80 != 0 {
        let x = *p.get(1)?;
        i = 2;
        if x & 0x80 != 0 {
            i += if *p.get(i)? & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            i += 1;
        }
        if x & 0x30 != 0 {
            i += 1;
        }
    }
    p.get(i..)
}

/// Keep only the VP8 payload type on the video m-line (and its a= lines).
fn restrict_to_vp8(sdp: &str) -> String {
    let vp8_pt = sdp
        .lines()
        .find_map(|l| {
            l.strip_prefix("a=rtpmap:")
                .filter(|r| r.contains("VP8/90000"))
        })
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_owned();
    let mut out = String::new();
    for line in sdp.split("\r\n").filter(|l| !l.is_empty()) {
        if line.starts_with("m=video") {
            let mut parts: Vec<&str> = line.split(' ').take(3).collect();
            parts.push(&vp8_pt);
            out.push_str(&parts.join(" "));
        } else if let Some(rest) = line
            .strip_prefix("a=rtpmap:")
            .or_else(|| line.strip_prefix("a=fmtp:"))
            .or_else(|| line.strip_prefix("a=rtcp-fb:"))
        {
            if rest.split([' ', ':']).next() != Some(vp8_pt.as_str()) {
                continue;
            }
            out.push_str(line);
        } else {
            out.push_str(line);
        }
        out.push_str("\r\n");
    }
    out
}

// ---------------------------------------------------------------------------------------------------
// Deliberate faults (`serve::start_with`), each reproducing a field failure at a known phase.

async fn start_faulty(fault: serve::Fault, deadline: Duration) -> ServeHandle {
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let tuning = serve::ServeTuning {
        handshake_deadline: deadline,
        fault: Some(fault),
    };
    timeout(
        STEP,
        serve::start_with(listen, opts(VideoCodec::Vp8, 500_000), tuning),
    )
    .await
    .expect("start timed out")
    .expect("start")
}

async fn send_offer(ws: &mut Ws, v: &viewer::Viewer) {
    let offer = v.offer().await;
    ws.send(Message::text(
        serde_json::json!({"type": "offer", "sdp": offer}).to_string(),
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn fault_close_after_ice_servers() {
    let h = start_faulty(serve::Fault::CloseAfterIceServers, STEP).await;
    let mut ws = connect(&h.ws_url("cam")).await;
    assert_eq!(next_text(&mut ws).await, "[]");
    assert_eq!(expect_closed(&mut ws, Duration::from_secs(2)).await, None);
    timeout(STEP, h.shutdown()).await.unwrap();
}

#[tokio::test]
async fn fault_close_after_offer() {
    let h = start_faulty(serve::Fault::CloseAfterOffer, STEP).await;
    let mut ws = connect(&h.ws_url("cam")).await;
    let _ = next_text(&mut ws).await;
    let v = viewer::Viewer::new().await;
    send_offer(&mut ws, &v).await;
    match timeout(Duration::from_secs(2), ws.next()).await.unwrap() {
        None | Some(Err(_)) => {}
        other => panic!("expected a close without an answer, got {other:?}"),
    }
    v.pc.close().await.unwrap();
    timeout(STEP, h.shutdown()).await.unwrap();
}

#[tokio::test]
async fn fault_no_ice_never_connects_and_the_deadline_closes() {
    let h = start_faulty(serve::Fault::NoIce, Duration::from_secs(2)).await;
    let mut ws = connect(&h.ws_url("cam")).await;
    let t0 = Instant::now();
    let _ = next_text(&mut ws).await;
    let mut v = viewer::Viewer::new().await;
    send_offer(&mut ws, &v).await;
    let answer: Value = serde_json::from_str(&next_text(&mut ws).await).unwrap();
    v.apply_answer(answer["sdp"].as_str().unwrap().to_owned())
        .await;
    let closed = async {
        loop {
            tokio::select! {
                m = ws.next() => match m {
                    Some(Ok(Message::Text(t))) => panic!("no candidate may be trickled: {t}"),
                    Some(Ok(Message::Close(f))) => panic!("expected no close frame, got {f:?}"),
                    Some(Ok(_)) => {}
                    None | Some(Err(_)) => return,
                },
                e = v.events.recv() => match e {
                    Some(viewer::Ev::Candidate(c)) => {
                        let msg = serde_json::json!({"candidate": c, "sdpMid": "0", "sdpMLineIndex": 0});
                        let _ = ws.send(Message::text(msg.to_string())).await;
                    }
                    Some(viewer::Ev::State(webrtc::peer_connection::RTCPeerConnectionState::Connected)) => {
                        panic!("connected despite the fault")
                    }
                    _ => {}
                },
            }
        }
    };
    timeout(Duration::from_secs(5), closed).await.unwrap();
    let lived = t0.elapsed();
    assert!(
        lived >= Duration::from_millis(1900) && lived < Duration::from_secs(4),
        "{lived:?}"
    );
    assert_eq!(h.sent().connected, 0);
    v.pc.close().await.unwrap();
    timeout(STEP, h.shutdown()).await.unwrap();
}

#[tokio::test]
async fn fault_no_media_connects_but_sends_nothing() {
    let h = start_faulty(serve::Fault::NoMedia, STEP).await;
    let mut ws = connect(&h.ws_url("cam")).await;
    let mut v = viewer::Viewer::new().await;
    timeout(Duration::from_secs(15), negotiate(&mut ws, &mut v))
        .await
        .expect("negotiation timed out");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(v.received.packets.load(Ordering::Relaxed), 0);
    let sent = h.sent();
    assert_eq!(
        (sent.connected, sent.frames, sent.active),
        (1, 0, 1),
        "{sent:?}"
    );
    v.pc.close().await.unwrap();
    drop(ws);
    timeout(STEP, h.shutdown()).await.unwrap();
}

#[tokio::test]
async fn fault_stop_media_after_a_second() {
    let h = start_faulty(serve::Fault::StopMediaAfter(Duration::from_secs(1)), STEP).await;
    let mut ws = connect(&h.ws_url("cam")).await;
    let mut v = viewer::Viewer::new().await;
    timeout(Duration::from_secs(15), negotiate(&mut ws, &mut v))
        .await
        .expect("negotiation timed out");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let at_1500 = v.received.packets.load(Ordering::Relaxed);
    assert!(at_1500 > 0, "media flowed first");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        v.received.packets.load(Ordering::Relaxed),
        at_1500,
        "then stopped"
    );
    let frames = h.sent().frames;
    assert!(
        (25..=35).contains(&frames),
        "about 1 s of video at 30 fps: {frames}"
    );
    v.pc.close().await.unwrap();
    drop(ws);
    timeout(STEP, h.shutdown()).await.unwrap();
}

#[tokio::test]
async fn a_bind_address_that_is_not_local_fails_at_start() {
    let mut o = opts(VideoCodec::Vp8, 500_000);
    // TEST-NET-1 (RFC 5737): never assigned to a local interface; binding fails without sending anything.
    o.bind = vec!["192.0.2.1:0".parse().unwrap()];
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let err = timeout(STEP, serve::start(listen, o))
        .await
        .unwrap()
        .err()
        .expect("must fail");
    assert!(err.to_string().contains("192.0.2.1"), "{err}");
}

// ---------------------------------------------------------------------------------------------------
// Retransmission under loss: a lossy UDP relay on 127.0.0.1 between the test viewer and serve.

/// What the relay saw of serve's RTP (server → viewer), by SSRC: (payload type, sequence number) per packet.
#[derive(Default)]
struct Seen {
    rtp: std::collections::BTreeMap<u32, Vec<(u8, u16)>>,
    dropped: u64,
}

/// A relay that forwards every datagram between the viewer and serve's candidate `server`, dropping the
/// first copy of one media packet in ten from serve (never a retransmission, so repair can succeed).
async fn lossy_relay(
    server: SocketAddr,
) -> (SocketAddr, Arc<Mutex<Seen>>, tokio::task::JoinHandle<()>) {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let seen2 = Arc::clone(&seen);
    let task = tokio::spawn(async move {
        let mut viewer: Option<SocketAddr> = None;
        let mut buf = vec![0u8; 2048];
        let mut first_copies = std::collections::HashSet::new();
        let mut media_ssrc: Option<u32> = None;
        loop {
            let Ok((n, from)) = sock.recv_from(&mut buf).await else {
                return;
            };
            let pkt = &buf[..n];
            if from != server {
                viewer = Some(from);
                let _ = sock.send_to(pkt, server).await;
                continue;
            }
            let Some(to) = viewer else { continue };
            // RTP (RFC 7983: first byte 128..=191; RTCP has a second byte of 192..=223).
            if n >= 12 && (128..=191).contains(&pkt[0]) && !(192..=223).contains(&pkt[1]) {
                let pt = pkt[1] & 0x7f;
                let seq = u16::from_be_bytes([pkt[2], pkt[3]]);
                let ssrc = u32::from_be_bytes([pkt[8], pkt[9], pkt[10], pkt[11]]);
                let mut s = seen2.lock().await;
                s.rtp.entry(ssrc).or_default().push((pt, seq));
                // The media SSRC is the first one seen (retransmissions only follow losses).
                let media = *media_ssrc.get_or_insert(ssrc);
                if ssrc == media && seq.is_multiple_of(10) && first_copies.insert(seq) {
                    s.dropped += 1;
                    continue;
                }
            }
            let _ = sock.send_to(pkt, to).await;
        }
    });
    (addr, seen, task)
}

/// Negotiate through the relay: serve's candidates are rewritten to the relay's address and the viewer's
/// are not given to serve (it learns the relay as a peer-reflexive candidate). Returns the answer, the
/// relay's record and its task, once 3 s of media have flowed.
async fn stream_through_lossy_relay(
    h: &ServeHandle,
) -> (
    String,
    Arc<Mutex<Seen>>,
    tokio::task::JoinHandle<()>,
    viewer::Viewer,
) {
    let mut ws = connect(&h.ws_url("cam")).await;
    let _ = next_text(&mut ws).await;
    let mut v = viewer::Viewer::new().await;
    let offer = rtcscope::proto::ws::strip_candidates(&v.offer().await);
    ws.send(Message::text(rtcscope::proto::ws::offer_message(&offer)))
        .await
        .unwrap();
    let answer: Value = serde_json::from_str(&next_text(&mut ws).await).unwrap();
    let sdp = answer["sdp"].as_str().unwrap().to_owned();
    v.apply_answer(sdp.clone()).await;
    let mut relay = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        tokio::select! {
            m = ws.next() => match m {
                Some(Ok(Message::Text(t))) => {
                    let mut c: Value = serde_json::from_str(t.as_str()).unwrap();
                    let line = c["candidate"].as_str().unwrap().to_owned();
                    let f: Vec<&str> = line.split(' ').collect();
                    if relay.is_some() || f.get(2).is_none_or(|p| !p.eq_ignore_ascii_case("udp")) {
                        continue;
                    }
                    let server: SocketAddr = format!("{}:{}", f[4], f[5]).parse().unwrap();
                    let r = lossy_relay(server).await;
                    let mut nf: Vec<String> = f.iter().map(|s| s.to_string()).collect();
                    nf[5] = r.0.port().to_string();
                    c["candidate"] = Value::String(nf.join(" "));
                    v.add_candidate(&c).await;
                    relay = Some(r);
                }
                Some(Ok(_)) => {}
                other => panic!("socket ended during negotiation: {other:?}"),
            },
            e = v.events.recv() => match e {
                Some(viewer::Ev::State(webrtc::peer_connection::RTCPeerConnectionState::Connected)) => break,
                Some(viewer::Ev::State(webrtc::peer_connection::RTCPeerConnectionState::Failed)) => panic!("viewer PC failed"),
                Some(_) => {}
                None => panic!("viewer events ended"),
            },
            _ = tokio::time::sleep_until(deadline) => panic!("not connected within 10 s"),
        }
    }
    let (_, seen, task) = relay.expect("a relay");
    // Keep the socket (the shutdown channel) open while media flows.
    let flow = async {
        let until = tokio::time::Instant::now() + Duration::from_secs(3);
        loop {
            tokio::select! {
                m = ws.next() => if let Some(Ok(Message::Close(_))) | None | Some(Err(_)) = m {
                    panic!("socket closed while streaming")
                },
                _ = tokio::time::sleep_until(until) => break,
            }
        }
    };
    timeout(Duration::from_secs(5), flow).await.unwrap();
    drop(ws);
    (sdp, seen, task, v)
}

#[tokio::test]
async fn retransmissions_go_on_the_rtx_ssrc_unless_no_rtx() {
    for no_rtx in [false, true] {
        let mut o = opts(VideoCodec::Vp8, 500_000);
        o.no_rtx = no_rtx;
        let h = start(o).await;
        let (sdp, seen, task, v) = timeout(Duration::from_secs(20), stream_through_lossy_relay(&h))
            .await
            .expect("streaming through the relay timed out");
        let received = v.received.packets.load(Ordering::Relaxed);
        v.pc.close().await.unwrap();
        task.abort();
        timeout(STEP, h.shutdown()).await.unwrap();
        let seen = seen.lock().await;
        let vp8 = pts_of(&sdp, "VP8")[0].parse::<u8>().unwrap();
        let summary: Vec<String> = seen
            .rtp
            .iter()
            .map(|(ssrc, p)| {
                format!(
                    "ssrc {ssrc}: {} packets, pts {:?}",
                    p.len(),
                    p.iter()
                        .map(|x| x.0)
                        .collect::<std::collections::BTreeSet<_>>()
                )
            })
            .collect();
        eprintln!(
            "no_rtx={no_rtx}: dropped {}, viewer got {received}; {summary:?}",
            seen.dropped
        );
        assert!(seen.dropped >= 10, "the relay dropped media: {summary:?}");
        // The media SSRC carries VP8 (its first packet is original media, never a retransmission).
        let media = seen
            .rtp
            .iter()
            .find(|(_, p)| p.first().is_some_and(|(pt, _)| *pt == vp8))
            .map(|(s, _)| *s)
            .expect("VP8 packets");
        let media_pkts = &seen.rtp[&media];
        assert!(media_pkts.iter().all(|(pt, _)| *pt == vp8), "{summary:?}");
        let mut seqs = std::collections::HashSet::new();
        let resent_on_media = media_pkts.iter().filter(|(_, s)| !seqs.insert(*s)).count();
        if no_rtx {
            assert_eq!(seen.rtp.len(), 1, "one SSRC only: {summary:?}");
            assert!(
                resent_on_media > 0,
                "lost packets are resent on the media SSRC: {summary:?}"
            );
        } else {
            let rtx: Vec<(String, String)> = rtx_apts(&sdp);
            let rtx_pt = rtx
                .iter()
                .find(|(_, apt)| *apt == vp8.to_string())
                .map(|(pt, _)| pt.parse::<u8>().unwrap())
                .expect("RTX negotiated");
            assert_eq!(
                resent_on_media, 0,
                "nothing resent on the media SSRC: {summary:?}"
            );
            let repair: Vec<_> = seen.rtp.iter().filter(|(s, _)| **s != media).collect();
            assert_eq!(repair.len(), 1, "one RTX SSRC: {summary:?}");
            let (rtx_ssrc, pkts) = repair[0];
            assert!(pkts.iter().all(|(pt, _)| *pt == rtx_pt), "{summary:?}");
            assert!(
                pkts.len() as u64 >= seen.dropped / 2,
                "losses repaired over RTX: {summary:?}"
            );
            assert!(
                sdp.contains(&format!("a=ssrc-group:FID {media} {rtx_ssrc}")),
                "the RTX SSRC is the one announced: {sdp}"
            );
        }
    }
}
