//! The receive-only viewer peer connection.
//!
//! [`ViewerPeer::build`] creates a peer connection with recvonly transceivers and forwards everything the
//! stack reports as [`PeerEvent`]s on a channel; [`ViewerPeer::stats`] polls what the stack has no events for.
//!
//! Codec choice and the retransmission storm: the offer lists every codec webrtc-rs can depacketize (VP8,
//! VP9, H.264, H.265, AV1; Opus, G.722, PCMU, PCMA), each video codec with RTX, as a browser offers. With RTX
//! negotiated, webrtc-rs 0.21.1's NACK generator keeps re-requesting packets that RTX already repaired (it
//! sees the repaired packet only after the interceptor chain), so under 10 % loss a viewer pulls 4–5× the
//! stream. This viewer replaces the generator with one that sends at most [`MAX_NACKS_PER_PACKET`] NACKs per
//! lost packet: repair still works, the extra traffic is bounded (about 1.1× under 10 % loss), and
//! `packets_lost` keeps meaning the loss on the network rather than the residual after repair.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rtc::interceptor::{NackGeneratorBuilder, Registry, Slot};
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_rtcp_reports, configure_twcc_receiver_only,
};
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_AV1, MIME_TYPE_H264, MIME_TYPE_HEVC, MIME_TYPE_VP8, MIME_TYPE_VP9,
};
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodecParameters, RtpCodecKind};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use rtc::statistics::StatsSelector;
use rtc::statistics::report::RTCStatsReportEntry;
use tokio::sync::mpsc;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceCandidateInit, RTCIceConnectionState, RTCIceGatheringState,
    RTCIceServer, RTCIceTransportPolicy, RTCPeerConnectionIceEvent, RTCPeerConnectionState,
    RTCSessionDescription, RTCSignalingState, SettingEngineBuilder,
};

use super::convert;
use super::turn_bridge::{self, TurnBridge};
use super::{AdapterError, IceServerConfig, IceTimeouts};
use crate::event::{
    Candidate, CandidatePair, CandidateType, LocalAddress, PairEnd, RelayProtocol, StateKind,
    TurnTransportStage,
};

/// NACKs the viewer sends at most per lost packet (see the module docs).
pub const MAX_NACKS_PER_PACKET: u16 = 2;

/// How the viewer's peer connection is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewerConfig {
    /// ICE servers (from signaling and the command line), already filtered of unsupported URLs.
    pub ice_servers: Vec<IceServerConfig>,
    /// Use relay candidates only.
    pub relay_only: bool,
    /// Also add a recvonly audio transceiver.
    pub audio: bool,
    /// Local addresses to gather host candidates on; a wildcard (`0.0.0.0:0`, `[::]:0`) means every
    /// interface of its family except loopback and link-local (see [`super::interfaces`]).
    pub bind: Vec<SocketAddr>,
    /// ICE timers; `None` keeps webrtc-rs's defaults.
    pub ice_timeouts: Option<IceTimeouts>,
    /// Accept any certificate from a `turns:` server (`--insecure`).
    pub insecure: bool,
    /// CA certificates trusted besides the Mozilla roots (DER, `--ca-file`).
    pub ca_roots: Vec<Vec<u8>>,
    /// UDP receive buffer asked for each socket, in bytes (`--recv-buffer`).
    pub recv_buffer: usize,
}

/// Something the stack reported.
#[derive(Debug, Clone, PartialEq)]
pub enum PeerEvent {
    /// A local candidate was gathered, with its candidate attribute as the stack writes it.
    LocalCandidate(Candidate, String),
    /// Gathering finished.
    GatheringComplete,
    /// A state machine changed state.
    State(StateKind, String),
    /// A remote track arrived.
    Track {
        /// `video`/`audio`.
        kind: String,
        /// Track id.
        track_id: String,
    },
    /// The TCP or TLS connection to a TURN server failed or dropped (see [`super::turn_bridge`]).
    TurnTransportFailed {
        /// The TURN URL as configured (no credentials).
        url: String,
        /// `Tcp` or `Tls`.
        relay_protocol: RelayProtocol,
        /// Where it failed.
        stage: TurnTransportStage,
        /// The error in words.
        error: String,
    },
    /// The first RTP packet of an SSRC.
    FirstRtp {
        /// `video`/`audio`.
        kind: String,
        /// SSRC.
        ssrc: u32,
        /// Payload type.
        payload_type: u8,
    },
}

/// Per-SSRC counters kept by the track readers (what the stats do not have).
#[derive(Debug, Default)]
struct MediaCounters {
    keyframes: Mutex<HashMap<u32, u64>>,
    packets: AtomicU64,
}

/// Raw per-track statistics from one poll; the engine turns them into rates.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTrackStats {
    /// SSRC.
    pub ssrc: u32,
    /// `video`/`audio`.
    pub kind: String,
    /// Codec MIME type.
    pub codec: Option<String>,
    /// Codec clock rate.
    pub clock_rate: Option<u32>,
    /// Media section id.
    pub mid: String,
    /// Payload bytes.
    pub bytes_received: u64,
    /// Header bytes.
    pub header_bytes_received: u64,
    /// Packets.
    pub packets_received: u64,
    /// Cumulative lost.
    pub packets_lost: i64,
    /// Jitter in RTP clock units, as the stack reports it.
    pub jitter_rtp_units: f64,
    /// NACKs sent.
    pub nack_count: u32,
    /// PLIs sent.
    pub pli_count: u32,
    /// FIRs sent.
    pub fir_count: u32,
    /// Key frames seen.
    pub keyframes: u64,
}

/// DTLS/SRTP parameters of the transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportInfo {
    /// DTLS state (W3C name).
    pub dtls_state: String,
    /// DTLS role.
    pub dtls_role: String,
    /// TLS version.
    pub tls_version: String,
    /// DTLS cipher.
    pub dtls_cipher: String,
    /// SRTP cipher.
    pub srtp_cipher: String,
    /// Id of the selected pair (empty if none).
    pub selected_pair_id: String,
    /// Number of selection changes.
    pub selected_pair_changes: u32,
    /// The current local ICE ufrag (empty until the first ICE restart: 0.21.1 sets it only then).
    pub local_ufrag: String,
}

/// One pair of a stats poll, with the ufrag of its local candidate (its ICE generation).
#[derive(Debug, Clone, PartialEq)]
pub struct PairSample {
    /// The pair.
    pub pair: CandidatePair,
    /// Username fragment of the local candidate (empty if unknown).
    pub local_ufrag: String,
}

/// One stats poll.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatsSample {
    /// The checklist: every pair the ICE agent has (or had, in an earlier generation), with the
    /// vendored `rtc` patch (`vendor/README.md`); only the selected one without it.
    pub pairs: Vec<PairSample>,
    /// Transport info, once there is a transport.
    pub transport: Option<TransportInfo>,
    /// Inbound tracks.
    pub tracks: Vec<RawTrackStats>,
}

/// What the viewer knows of each TURN URL: the real URL and relay protocol behind the URL the stack
/// reports on a relay candidate (a bridge's loopback URL for TURN over TCP/TLS), and the relay
/// protocol of each local relay candidate by (address, port).
#[derive(Debug, Default)]
struct RelayMap {
    /// Bridge socket address → (real URL, protocol).
    bridges: HashMap<SocketAddr, (String, RelayProtocol)>,
    /// Local relay candidates → (protocol, real URL).
    candidates: HashMap<(String, u16), (RelayProtocol, String)>,
}

impl RelayMap {
    /// The real URL and relay protocol for the URL the stack put on a relay candidate.
    fn resolve(&self, stack_url: &str) -> (String, Option<RelayProtocol>) {
        let bridged = self
            .bridges
            .iter()
            .find(|(addr, _)| url_names(stack_url, **addr));
        match bridged {
            Some((_, (url, p))) => (url.clone(), Some(*p)),
            None => (
                stack_url.to_owned(),
                turn_bridge::relay_protocol_of(stack_url),
            ),
        }
    }
}

/// Whether the TURN URL `url` names exactly `addr` as its host and port.
fn url_names(url: &str, addr: SocketAddr) -> bool {
    let host = match addr.ip() {
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        std::net::IpAddr::V4(ip) => ip.to_string(),
    };
    let rest = url.split_once(':').map_or("", |(_, r)| r);
    let hostport = rest.split('?').next().unwrap_or("");
    hostport == format!("{host}:{}", addr.port())
}

/// A receive-only peer connection.
pub struct ViewerPeer {
    pc: Arc<dyn PeerConnection>,
    /// TURN-over-TCP/TLS bridges of this peer connection; dropped (and stopped) with it.
    bridges: Mutex<Vec<TurnBridge>>,
    relays: Arc<Mutex<RelayMap>>,
    counters: Arc<MediaCounters>,
    /// Full u32 priorities of local candidates by (address, port): stats truncate them to u16.
    local_priorities: Arc<Mutex<HashMap<(String, u16), u32>>>,
    /// Remote candidates as signalled, by (address, port), for the types and priorities of pair ends.
    remote_types: Mutex<HashMap<(String, u16), CandidateType>>,
    /// Remote pair ends resolved from the ICE transport, by candidate id: the agent forgets its
    /// candidates when ICE fails, the stats keep the pairs, so what was resolved once is kept.
    remote_ends: Mutex<HashMap<String, PairEnd>>,
    /// Whether an audio transceiver was added.
    audio: bool,
    /// The addresses host candidates are gathered on.
    local_addresses: Vec<LocalAddress>,
    /// The UDP sockets the stack bound, with their receive buffers (for this host's own drops).
    sockets: Arc<super::recv_buffer::Sockets>,
    /// The receive buffer asked for each.
    recv_buffer: usize,
}

impl std::fmt::Debug for ViewerPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViewerPeer").finish_non_exhaustive()
    }
}

struct Handler {
    tx: mpsc::UnboundedSender<PeerEvent>,
    counters: Arc<MediaCounters>,
    local_priorities: Arc<Mutex<HashMap<(String, u16), u32>>>,
    /// Whether an audio transceiver was added (else every track is video).
    audio: bool,
    relays: Arc<Mutex<RelayMap>>,
}

/// `video` or `audio` for a known kind.
fn kind_name(kind: RtpCodecKind) -> Option<&'static str> {
    match kind {
        RtpCodecKind::Video => Some("video"),
        RtpCodecKind::Audio => Some("audio"),
        _ => None,
    }
}

/// `video` or `audio` from a codec MIME type (`video/VP8`).
fn kind_of_mime(mime: &str) -> Option<&'static str> {
    let top = mime.split('/').next().unwrap_or("").to_ascii_lowercase();
    match top.as_str() {
        "video" => Some("video"),
        "audio" => Some("audio"),
        _ => None,
    }
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Some(mut c) = convert::candidate(&event.candidate, Some(event.url.as_str())) {
            if let Ok(mut m) = self.local_priorities.lock() {
                m.insert((c.address.clone(), c.port), c.priority);
            }
            // A relay candidate: the real TURN URL (not a bridge's) and its relay protocol.
            if c.typ == CandidateType::Relay
                && let Ok(mut relays) = self.relays.lock()
            {
                let (url, protocol) = relays.resolve(c.url.as_deref().unwrap_or(""));
                c.url = (!url.is_empty()).then(|| url.clone());
                c.relay_protocol = protocol;
                if let Some(p) = protocol {
                    relays
                        .candidates
                        .insert((c.address.clone(), c.port), (p, url));
                }
            }
            let line = match event.candidate.to_json() {
                Ok(init) => init.candidate,
                Err(_) => crate::proto::candidate::format_candidate(&c),
            };
            let _ = self.tx.send(PeerEvent::LocalCandidate(c, line));
        }
    }

    async fn on_signaling_state_change(&self, state: RTCSignalingState) {
        let _ = self.tx.send(PeerEvent::State(
            StateKind::Signaling,
            convert::state_name(state),
        ));
    }

    async fn on_ice_connection_state_change(&self, state: RTCIceConnectionState) {
        let _ = self.tx.send(PeerEvent::State(
            StateKind::IceConnection,
            convert::state_name(state),
        ));
    }

    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        let _ = self.tx.send(PeerEvent::State(
            StateKind::IceGathering,
            convert::state_name(state),
        ));
        if state == RTCIceGatheringState::Complete {
            let _ = self.tx.send(PeerEvent::GatheringComplete);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.tx.send(PeerEvent::State(
            StateKind::PeerConnection,
            convert::state_name(state),
        ));
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        // The track's kind, else its codec's, else the transceivers' (video only unless --audio): a
        // track created for an SSRC the SDP did not declare (GStreamer, libnice senders) can come
        // with an unspecified kind. Never "Unspecified".
        let mut kind = kind_name(track.kind().await).map(str::to_owned);
        if kind.is_none() {
            for ssrc in track.ssrcs().await {
                if let Some(k) = track
                    .codec(ssrc)
                    .await
                    .and_then(|c| kind_of_mime(&c.mime_type))
                {
                    kind = Some(k.to_owned());
                    break;
                }
            }
        }
        let known = kind.is_some();
        let kind = kind.unwrap_or_else(|| if self.audio { "unknown" } else { "video" }.to_owned());
        let track_id = track.track_id().await;
        let _ = self.tx.send(PeerEvent::Track {
            kind: kind.clone(),
            track_id,
        });
        let tx = self.tx.clone();
        let counters = self.counters.clone();
        // Drain the track: the driver's channel holds 256 events and drops the rest, and the
        // interceptors (NACK, receiver reports) only see packets that are read.
        tokio::spawn(async move {
            let mut seen: HashMap<u32, Option<String>> = HashMap::new();
            while let Some(ev) = track.poll().await {
                let TrackRemoteEvent::OnRtpPacket(pkt) = ev else {
                    if matches!(ev, TrackRemoteEvent::OnEnded) {
                        break;
                    }
                    continue;
                };
                counters.packets.fetch_add(1, Ordering::Relaxed);
                let ssrc = pkt.header.ssrc;
                let mime = match seen.get(&ssrc) {
                    Some(m) => m.clone(),
                    None => {
                        let m = track.codec(ssrc).await.map(|c| c.mime_type);
                        seen.insert(ssrc, m.clone());
                        let kind = if known {
                            kind.clone()
                        } else {
                            m.as_deref()
                                .and_then(kind_of_mime)
                                .map_or_else(|| kind.clone(), str::to_owned)
                        };
                        let _ = tx.send(PeerEvent::FirstRtp {
                            kind,
                            ssrc,
                            payload_type: pkt.header.payload_type,
                        });
                        m
                    }
                };
                if let Some(mime) = mime.as_deref()
                    && super::keyframe::is_keyframe_start(mime, &pkt.payload)
                    && let Ok(mut k) = counters.keyframes.lock()
                {
                    *k.entry(ssrc).or_insert(0) += 1;
                }
            }
        });
    }
}

/// Register every codec webrtc-rs can depacketize, video codecs each with RTX.
fn media_engine() -> Result<MediaEngine, AdapterError> {
    let mut me = MediaEngine::default();
    let err = |e: rtc::shared::error::Error| AdapterError::Build(e.to_string());
    super::codecs::register_audio(&mut me).map_err(AdapterError::Build)?;
    let h264 = |pm: u8, plid: &str| {
        format!("level-asymmetry-allowed=1;packetization-mode={pm};profile-level-id={plid}")
    };
    let video: Vec<(&str, String, u8, u8)> = vec![
        (MIME_TYPE_VP8, String::new(), 96, 97),
        (MIME_TYPE_VP9, "profile-id=0".into(), 98, 99),
        (MIME_TYPE_VP9, "profile-id=1".into(), 100, 101),
        (MIME_TYPE_H264, h264(1, "42001f"), 102, 103),
        (MIME_TYPE_H264, h264(0, "42001f"), 127, 104),
        (MIME_TYPE_H264, h264(1, "42e01f"), 125, 105),
        (MIME_TYPE_H264, h264(0, "42e01f"), 108, 109),
        (MIME_TYPE_H264, h264(1, "640032"), 123, 124),
        (MIME_TYPE_AV1, "profile-id=0".into(), 41, 106),
        (MIME_TYPE_HEVC, String::new(), 126, 107),
    ];
    for (mime, fmtp, pt, rtx) in video {
        me.register_codec(
            RTCRtpCodecParameters {
                rtp_codec: RTCRtpCodec {
                    mime_type: mime.to_owned(),
                    clock_rate: 90000,
                    channels: 0,
                    sdp_fmtp_line: fmtp,
                    rtcp_feedback: super::codecs::video_feedback(),
                },
                payload_type: pt,
            },
            RtpCodecKind::Video,
        )
        .map_err(err)?;
        super::codecs::register_rtx(&mut me, pt, rtx).map_err(AdapterError::Build)?;
    }
    Ok(me)
}

impl ViewerPeer {
    /// Build the peer connection and its recvonly transceivers. Stack events go to `events`.
    pub async fn build(
        cfg: &ViewerConfig,
        events: mpsc::UnboundedSender<PeerEvent>,
    ) -> Result<Self, AdapterError> {
        let mut me = media_engine()?;
        // The default interceptors, but with a NACK generator capped per packet (see the module docs)
        // and no NACK responder (this peer never sends media).
        let registry = Registry::new().with(
            Slot::NackGenerator,
            NackGeneratorBuilder::new()
                .with_max_nacks_per_packet(MAX_NACKS_PER_PACKET)
                .build(),
        );
        let registry = configure_rtcp_reports(registry);
        let registry = configure_twcc_receiver_only(registry, &mut me)
            .map_err(|e| AdapterError::Build(e.to_string()))?;

        let mut se = SettingEngineBuilder::new()
            // The default (QueryOnly) opens a multicast socket; a diagnostics viewer sends only where told.
            .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
            // Without this, an ICE restart trickles no new candidates (webrtc-rs 0.21.1).
            .with_discard_local_candidates_during_ice_restart(true)
            // webrtc-rs waits 1 s before nominating a peer-reflexive pair. A server's first checks
            // usually arrive before its trickled candidate does, so on a LAN every connection would
            // take an extra second that a browser viewer does not: nominate as a browser would.
            .with_prflx_acceptance_min_wait(Some(std::time::Duration::ZERO))
            // Checks paced as a browser paces them (see `ICE_CHECK_INTERVAL`).
            .with_ice_connection_attempts(
                Some(super::ICE_CHECK_INTERVAL),
                Some(super::ICE_MAX_BINDING_REQUESTS),
            );
        if let Some(t) = cfg.ice_timeouts {
            se = se.with_ice_timeouts(Some(t.disconnected), Some(t.failed), Some(t.keepalive));
        }
        let se = se.build();

        // TURN over TCP/TLS goes through a bridge per URL: the stack gets the bridge's `turn:` URL.
        let mut relays = RelayMap::default();
        let mut bridges: Vec<TurnBridge> = Vec::new();
        let loopback = if !cfg.bind.is_empty() && cfg.bind.iter().all(|a| a.is_ipv6()) {
            std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
        } else {
            std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
        };
        let mut tls = None;
        let mut servers = Vec::new();
        for s in &cfg.ice_servers {
            let mut urls = Vec::new();
            for u in &s.urls {
                let Some(target) = turn_bridge::target_of(u) else {
                    urls.push(u.clone());
                    continue;
                };
                if let Some((addr, _)) = relays
                    .bridges
                    .iter()
                    .find(|(_, (url, _))| *url == target.url)
                {
                    urls.push(
                        bridges
                            .iter()
                            .find(|b| b.local_addr() == *addr)
                            .map(TurnBridge::stack_url)
                            .unwrap_or_default(),
                    );
                    continue;
                }
                if target.protocol == RelayProtocol::Tls && tls.is_none() {
                    tls = Some(Arc::new(
                        crate::tls::client_config_with(cfg.insecure, &cfg.ca_roots)
                            .map_err(AdapterError::Build)?,
                    ));
                }
                let protocol = target.protocol;
                let target_url = target.url.clone();
                let bridge = TurnBridge::start(target, loopback, tls.clone(), events.clone())
                    .await
                    .map_err(|e| {
                        AdapterError::Build(format!("TURN bridge for {target_url}: {e}"))
                    })?;
                relays
                    .bridges
                    .insert(bridge.local_addr(), (target_url, protocol));
                urls.push(bridge.stack_url());
                bridges.push(bridge);
            }
            servers.push(RTCIceServer {
                urls,
                username: s.username.clone().unwrap_or_default(),
                credential: s.credential.clone().unwrap_or_default(),
            });
        }
        let relays = Arc::new(Mutex::new(relays));
        let config = RTCConfigurationBuilder::new()
            .with_ice_servers(servers)
            .with_ice_transport_policy(if cfg.relay_only {
                RTCIceTransportPolicy::Relay
            } else {
                RTCIceTransportPolicy::All
            })
            .build();

        let counters = Arc::new(MediaCounters::default());
        let local_priorities = Arc::new(Mutex::new(HashMap::new()));
        let handler = Arc::new(Handler {
            tx: events,
            counters: counters.clone(),
            local_priorities: local_priorities.clone(),
            audio: cfg.audio,
            relays: relays.clone(),
        });
        let plan = super::interfaces::plan(&cfg.bind, &super::interfaces::local_interfaces());
        let bind: Vec<String> = plan.bind.iter().map(|a| a.to_string()).collect();
        let sockets = Arc::new(super::recv_buffer::Sockets::default());
        let runtime = Arc::new(super::recv_buffer::buffered_runtime(
            cfg.recv_buffer,
            Arc::clone(&sockets),
        ));
        let pc = PeerConnectionBuilder::new()
            .with_runtime(runtime)
            .with_configuration(config)
            .with_media_engine(me)
            .with_interceptor_registry(registry)
            .with_setting_engine(se)
            .with_handler(handler)
            .with_udp_addrs(bind)
            .build()
            .await
            .map_err(|e| AdapterError::Build(e.to_string()))?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);

        let recvonly = || RTCRtpTransceiverInit {
            direction: RTCRtpTransceiverDirection::Recvonly,
            streams: vec![],
            send_encodings: vec![],
        };
        pc.add_transceiver_from_kind(RtpCodecKind::Video, Some(recvonly()))
            .await
            .map_err(|e| AdapterError::Build(e.to_string()))?;
        if cfg.audio {
            pc.add_transceiver_from_kind(RtpCodecKind::Audio, Some(recvonly()))
                .await
                .map_err(|e| AdapterError::Build(e.to_string()))?;
        }
        Ok(Self {
            sockets,
            recv_buffer: cfg.recv_buffer,
            pc,
            bridges: Mutex::new(bridges),
            relays,
            counters,
            local_priorities,
            remote_types: Mutex::new(HashMap::new()),
            remote_ends: Mutex::new(HashMap::new()),
            audio: cfg.audio,
            local_addresses: plan.addresses,
        })
    }

    /// Create the offer, set it as the local description, and return its SDP.
    pub async fn create_offer(&self) -> Result<String, AdapterError> {
        let offer = self
            .pc
            .create_offer(None)
            .await
            .map_err(|e| AdapterError::Sdp(format!("create offer: {e}")))?;
        let sdp = offer.sdp.clone();
        self.pc
            .set_local_description(offer)
            .await
            .map_err(|e| AdapterError::Sdp(format!("set local offer: {e}")))?;
        Ok(sdp)
    }

    /// The current local description's SDP (with the candidates gathered so far).
    pub async fn local_description(&self) -> Option<String> {
        self.pc.local_description().await.map(|d| d.sdp)
    }

    /// Start an ICE restart: new credentials, a new offer set locally; returns its SDP.
    pub async fn restart_ice_offer(&self) -> Result<String, AdapterError> {
        self.pc
            .restart_ice()
            .await
            .map_err(|e| AdapterError::Sdp(format!("ICE restart: {e}")))?;
        self.create_offer().await
    }

    /// Answer a server's offer (a WHEP 406 counter-offer) on this fresh peer connection; returns the answer SDP.
    pub async fn answer_offer(&self, sdp: &str) -> Result<String, AdapterError> {
        let offer = RTCSessionDescription::offer(sdp.to_owned())
            .map_err(|e| AdapterError::Sdp(format!("counter-offer does not parse: {e}")))?;
        self.pc
            .set_remote_description(offer)
            .await
            .map_err(|e| AdapterError::Sdp(format!("counter-offer rejected: {e}")))?;
        let answer = self
            .pc
            .create_answer(None)
            .await
            .map_err(|e| AdapterError::Sdp(format!("create answer: {e}")))?;
        let out = answer.sdp.clone();
        self.pc
            .set_local_description(answer)
            .await
            .map_err(|e| AdapterError::Sdp(format!("set local answer: {e}")))?;
        Ok(out)
    }

    /// Apply the server's answer.
    pub async fn set_answer(&self, sdp: &str) -> Result<(), AdapterError> {
        let desc = RTCSessionDescription::answer(sdp.to_owned())
            .map_err(|e| AdapterError::Sdp(format!("answer does not parse: {e}")))?;
        self.pc
            .set_remote_description(desc)
            .await
            .map_err(|e| AdapterError::Sdp(format!("answer rejected: {e}")))
    }

    /// Add a remote candidate (the candidate attribute, e.g. `candidate:1 1 udp …`).
    ///
    /// An empty or missing `sdp_mid` (the legacy server sends `""`) falls back to the m-line index,
    /// then to the first m-line: with max-bundle every candidate belongs to the bundle anyway.
    pub async fn add_remote_candidate(
        &self,
        candidate: &str,
        typ: Option<(String, u16, CandidateType)>,
        sdp_mid: Option<String>,
        sdp_mline_index: Option<u16>,
        username_fragment: Option<String>,
    ) -> Result<(), AdapterError> {
        if let Some((addr, port, t)) = typ
            && let Ok(mut m) = self.remote_types.lock()
        {
            m.insert((addr, port), t);
        }
        let sdp_mid = sdp_mid.filter(|m| !m.is_empty());
        let sdp_mline_index = if sdp_mid.is_none() {
            Some(sdp_mline_index.unwrap_or(0))
        } else {
            sdp_mline_index
        };
        let init = RTCIceCandidateInit {
            candidate: candidate.to_owned(),
            sdp_mid,
            sdp_mline_index,
            username_fragment: username_fragment.filter(|u| !u.is_empty()),
            ..Default::default()
        };
        self.pc
            .add_ice_candidate(init)
            .await
            .map_err(|e| AdapterError::Candidate(e.to_string()))
    }

    /// Poll the stats: checklist, transport (DTLS state, selected pair) and inbound tracks.
    pub async fn stats(&self) -> StatsSample {
        let report = self.pc.get_stats(Instant::now(), StatsSelector::None).await;
        let mut locals: HashMap<String, (PairEnd, String)> = HashMap::new();
        let mut remotes: HashMap<String, PairEnd> = HashMap::new();
        let mut codecs: HashMap<String, (String, u32)> = HashMap::new();
        for entry in report.iter() {
            match entry {
                RTCStatsReportEntry::LocalCandidate(c)
                | RTCStatsReportEntry::RemoteCandidate(c) => {
                    let Some(typ) = convert::candidate_type(c.candidate_type) else {
                        continue;
                    };
                    let address = c.address.clone().unwrap_or_default();
                    let relay_protocol = (typ == CandidateType::Relay
                        && matches!(entry, RTCStatsReportEntry::LocalCandidate(_)))
                    .then(|| self.relay_protocol(&address, c.port))
                    .flatten();
                    let end = PairEnd {
                        typ,
                        protocol: c.protocol.to_ascii_lowercase(),
                        address,
                        port: c.port,
                        relay_protocol,
                    };
                    // 0.21.1 prefixes candidate stats ids ("RTCLocalIceCandidate_candidate:…") but pairs
                    // refer to the bare id ("candidate:…"): key by the bare id.
                    let id = &c.stats.id;
                    if matches!(entry, RTCStatsReportEntry::LocalCandidate(_)) {
                        let bare = id.strip_prefix("RTCLocalIceCandidate_").unwrap_or(id);
                        locals.insert(bare.to_owned(), (end, c.username_fragment.clone()));
                    } else {
                        let bare = id.strip_prefix("RTCRemoteIceCandidate_").unwrap_or(id);
                        remotes.insert(bare.to_owned(), end);
                    }
                }
                RTCStatsReportEntry::Codec(c) => {
                    codecs.insert(c.stats.id.clone(), (c.mime_type.clone(), c.clock_rate));
                }
                _ => {}
            }
        }
        let mut sample = StatsSample::default();
        if let Some(t) = report.transport() {
            let dtls_state = match t.dtls_state.to_string().as_str() {
                "Unspecified" | "unspecified" => "new".to_owned(),
                other => other.to_owned(),
            };
            sample.transport = Some(TransportInfo {
                dtls_state,
                dtls_role: t.dtls_role.to_string(),
                tls_version: t.tls_version.clone(),
                dtls_cipher: t.dtls_cipher.clone(),
                srtp_cipher: t.srtp_cipher.clone(),
                selected_pair_id: t.selected_candidate_pair_id.clone(),
                selected_pair_changes: t.selected_candidate_pair_changes,
                local_ufrag: t.ice_local_username_fragment.clone(),
            });
        }
        // A prflx remote is missing from the candidate stats although pairs refer to it (0.21.1):
        // fall back to the ICE transport's remote candidates (by id), then to its selected pair.
        let mut transport_remotes: Option<HashMap<String, PairEnd>> = None;
        let mut selected_remote: Option<Option<PairEnd>> = None;
        for p in report.candidate_pairs() {
            let mut remote = remotes.get(&p.remote_candidate_id).cloned().or_else(|| {
                self.remote_ends
                    .lock()
                    .ok()
                    .and_then(|m| m.get(&p.remote_candidate_id).cloned())
            });
            if remote.is_none() {
                if transport_remotes.is_none() {
                    let found = self.transport_remotes().await;
                    if let Ok(mut m) = self.remote_ends.lock() {
                        // Bounded: candidates of one peer connection, at most a few hundred.
                        if m.len() < 1024 {
                            m.extend(found.iter().map(|(k, v)| (k.clone(), v.clone())));
                        }
                    }
                    transport_remotes = Some(found);
                }
                remote = transport_remotes
                    .as_ref()
                    .and_then(|r| r.get(&p.remote_candidate_id).cloned());
            }
            let selected = sample
                .transport
                .as_ref()
                .is_some_and(|t| t.selected_pair_id == p.stats.id);
            if remote.is_none() && selected {
                if selected_remote.is_none() {
                    selected_remote = Some(self.selected_remote().await);
                }
                remote = selected_remote.clone().flatten();
            }
            let (local, local_ufrag) = locals
                .get(&p.local_candidate_id)
                .cloned()
                .map_or((None, String::new()), |(end, ufrag)| (Some(end), ufrag));
            let state = serde_json::to_value(p.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| "unknown".into());
            let pair = CandidatePair {
                id: p.stats.id.clone(),
                local,
                remote,
                state,
                nominated: p.nominated,
                current_rtt_ms: (p.current_round_trip_time > 0.0)
                    .then_some(p.current_round_trip_time * 1000.0),
                total_rtt_ms: p.total_round_trip_time * 1000.0,
                requests_sent: p.requests_sent,
                requests_received: p.requests_received,
                responses_received: p.responses_received,
                responses_sent: p.responses_sent,
                bytes_sent: p.bytes_sent,
                bytes_received: p.bytes_received,
                stale: false,
            };
            sample.pairs.push(PairSample { pair, local_ufrag });
        }
        let keyframes = self
            .counters
            .keyframes
            .lock()
            .map(|k| k.clone())
            .unwrap_or_default();
        for s in report.inbound_rtp_streams() {
            let rtp = &s.received_rtp_stream_stats.rtp_stream_stats;
            let codec = codecs.get(&rtp.codec_id).cloned();
            sample.tracks.push(RawTrackStats {
                ssrc: rtp.ssrc,
                kind: kind_name(rtp.kind)
                    .or_else(|| codec.as_ref().and_then(|c| kind_of_mime(&c.0)))
                    .unwrap_or(if self.audio { "unknown" } else { "video" })
                    .to_owned(),
                codec: codec.as_ref().map(|c| c.0.clone()),
                clock_rate: codec.as_ref().map(|c| c.1),
                mid: s.mid.clone(),
                bytes_received: s.bytes_received,
                header_bytes_received: s.header_bytes_received,
                packets_received: s.received_rtp_stream_stats.packets_received,
                packets_lost: s.received_rtp_stream_stats.packets_lost,
                jitter_rtp_units: s.received_rtp_stream_stats.jitter,
                nack_count: s.nack_count,
                pli_count: s.pli_count,
                fir_count: s.fir_count,
                keyframes: keyframes.get(&rtp.ssrc).copied().unwrap_or(0),
            });
        }
        sample
    }

    /// The remote candidates the ICE transport knows (prflx ones included), by id. The transport is
    /// reachable through a receiver.
    async fn transport_remotes(&self) -> HashMap<String, PairEnd> {
        let mut out = HashMap::new();
        for r in self.pc.get_receivers().await {
            let Ok(Some(t)) = r.transport().await else {
                continue;
            };
            if let Ok(candidates) = t.ice_transport().get_remote_candidates().await {
                for c in candidates {
                    if let Some(typ) = convert::candidate_type(c.typ) {
                        out.insert(
                            c.id.clone(),
                            PairEnd {
                                typ,
                                protocol: c.protocol.to_string().to_ascii_lowercase(),
                                address: c.address.clone(),
                                port: c.port,
                                relay_protocol: None,
                            },
                        );
                    }
                }
                break;
            }
        }
        out
    }

    async fn selected_remote(&self) -> Option<PairEnd> {
        for r in self.pc.get_receivers().await {
            let Ok(Some(t)) = r.transport().await else {
                continue;
            };
            if let Ok(Some(pair)) = t.ice_transport().get_selected_candidate_pair().await {
                let c = pair.remote();
                let typ = convert::candidate_type(c.typ)?;
                return Some(PairEnd {
                    typ,
                    protocol: c.protocol.to_string().to_ascii_lowercase(),
                    address: c.address.clone(),
                    port: c.port,
                    relay_protocol: None,
                });
            }
        }
        None
    }

    /// The full u32 priority of a local candidate (stats truncate it).
    pub fn local_priority(&self, address: &str, port: u16) -> Option<u32> {
        self.local_priorities
            .lock()
            .ok()?
            .get(&(address.to_owned(), port))
            .copied()
    }

    /// The UDP sockets' receive buffers: (sockets, smallest granted, `net.core.rmem_max`), once the
    /// stack has bound them.
    pub fn receive_buffers(&self) -> Option<(u32, u64, u64, Option<u64>)> {
        let r = self.sockets.records();
        let smallest = r.iter().map(|s| s.granted as u64).min()?;
        Some((
            r.len() as u32,
            self.recv_buffer as u64,
            smallest,
            super::recv_buffer::rmem_max(),
        ))
    }

    /// Datagrams this host dropped in its own receive buffers so far (`None`: unknown here).
    pub fn host_drops(&self) -> Option<u64> {
        self.sockets.drops()
    }

    /// The local addresses host candidates are gathered on (wildcards expanded, interfaces named).
    pub fn local_addresses(&self) -> &[LocalAddress] {
        &self.local_addresses
    }

    /// How the local relay candidate at (`address`, `port`) reaches its TURN server.
    pub fn relay_protocol(&self, address: &str, port: u16) -> Option<RelayProtocol> {
        self.relays
            .lock()
            .ok()?
            .candidates
            .get(&(address.to_owned(), port))
            .map(|(p, _)| *p)
    }

    /// `line` (something the stack logged) with the TURN bridges' loopback URLs and addresses replaced by
    /// the real TURN URLs: events never name a bridge.
    pub fn unbridge(&self, line: &str) -> String {
        let Ok(relays) = self.relays.lock() else {
            return line.to_owned();
        };
        if relays.bridges.is_empty() {
            return line.to_owned();
        }
        let bridges: Vec<(SocketAddr, String)> = relays
            .bridges
            .iter()
            .map(|(a, (u, _))| (*a, u.clone()))
            .collect();
        turn_bridge::unbridge(line, &bridges)
    }

    /// The local relay candidates (address, port) allocated through the TURN server `url`.
    pub fn relay_candidates_of(&self, url: &str) -> Vec<(String, u16)> {
        let Ok(relays) = self.relays.lock() else {
            return Vec::new();
        };
        relays
            .candidates
            .iter()
            .filter(|(_, (_, u))| u == url)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Total RTP packets read from all tracks.
    pub fn packets_read(&self) -> u64 {
        self.counters.packets.load(Ordering::Relaxed)
    }

    /// Close the peer connection (sockets released, DTLS close sent).
    pub async fn close(&self) {
        if let Err(e) = self.pc.close().await {
            tracing::debug!("closing the peer connection: {e}");
        }
        // Closing the TCP/TLS connections frees their allocations on the server.
        if let Ok(mut b) = self.bridges.lock() {
            b.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_candidates_get_the_real_url_and_protocol_back() {
        let mut m = RelayMap::default();
        m.bridges.insert(
            "127.0.0.1:40001".parse().unwrap(),
            ("turns:turn.example.com:443".into(), RelayProtocol::Tls),
        );
        m.bridges.insert(
            "[::1]:40002".parse().unwrap(),
            (
                "turn:turn.example.com:3478?transport=tcp".into(),
                RelayProtocol::Tcp,
            ),
        );
        let cases = [
            (
                "turn:127.0.0.1:40001?transport=udp",
                "turns:turn.example.com:443",
                Some(RelayProtocol::Tls),
            ),
            (
                "turn:[::1]:40002?transport=udp",
                "turn:turn.example.com:3478?transport=tcp",
                Some(RelayProtocol::Tcp),
            ),
            // Not a bridge (another port, or a real server): as the stack said, over UDP.
            (
                "turn:127.0.0.1:4000?transport=udp",
                "turn:127.0.0.1:4000?transport=udp",
                Some(RelayProtocol::Udp),
            ),
            (
                "turn:turn.example.com:3478",
                "turn:turn.example.com:3478",
                Some(RelayProtocol::Udp),
            ),
            ("", "", None),
        ];
        for (stack, url, protocol) in cases {
            assert_eq!(m.resolve(stack), (url.to_owned(), protocol), "{stack}");
        }
    }
}

#[cfg(test)]
mod kind_tests {
    use super::*;

    #[test]
    fn kinds_from_the_track_or_the_codec_never_unspecified() {
        assert_eq!(kind_name(RtpCodecKind::Video), Some("video"));
        assert_eq!(kind_name(RtpCodecKind::Audio), Some("audio"));
        assert_eq!(kind_name(RtpCodecKind::Unspecified), None);
        assert_eq!(kind_of_mime("video/H264"), Some("video"));
        assert_eq!(kind_of_mime("AUDIO/opus"), Some("audio"));
        assert_eq!(kind_of_mime(""), None);
    }
}
