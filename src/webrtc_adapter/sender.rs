//! The sending side of a peer connection, for the built-in sender (`rtcscope serve`).
//!
//! Every webrtc-rs call of the sender lives here. [`SenderPeer`] answers a viewer's offer with one
//! synthetic video track, reports what the peer connection does as [`SenderEvent`]s, and hands out a
//! [`VideoWriter`] once connected.
//!
//! webrtc-rs 0.21.1 specifics handled here:
//! - mDNS is disabled (the default `QueryOnly` opens a multicast socket);
//! - host candidates come from explicit bind addresses (`0.0.0.0:0` skips loopback, so loopback tests bind
//!   `127.0.0.1:0`);
//! - a local track needs an explicit SSRC and codec, and packets are written with the *negotiated* payload
//!   type, read from the sender's parameters after the answer is applied;
//! - frames are packetized here, not by webrtc-rs's sample track (which sends a frame in one burst),
//!   so that `serve` can pace them; the UDP sockets count failed and held-back sends (`send_counting`);
//! - event-handler callbacks run on the connection's driver: they only forward into a channel;
//! - the local track's RTCP queue is drained (the driver logs an error per packet it cannot queue);
//! - RTX (RFC 4588) is negotiated like a browser or MediaMTX (pion) does: an `video/rtx` codec per video
//!   payload type and an RTX SSRC on the track (`a=ssrc-group:FID`), so the NACK responder retransmits on
//!   the RTX SSRC; without RTX ([`SenderConfig::rtx`] off) it resends the original packet on the media SSRC.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc::interceptor::Registry;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_H264, MIME_TYPE_VP8};
use rtc::rtp::packetizer::Packetizer;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RTCRtpRtxParameters, RtpCodecKind,
};
use tokio::sync::mpsc;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceCandidateInit, RTCIceConnectionState, RTCIceGatheringState,
    RTCIceServer, RTCPeerConnectionIceEvent, RTCPeerConnectionState, RTCSessionDescription,
    SettingEngineBuilder, StatsSelector, register_default_interceptors,
};
use webrtc::rtp_transceiver::RtpSender;

use super::IceServerConfig;
use super::send_counting::{SendCounters, counting_runtime};
use crate::proto::ws::CandidateMessage;

/// The H.264 format the sender offers and sends: constrained baseline, packetization mode 1.
pub const H264_FMTP: &str =
    "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f";

/// An error of the sender's peer connection.
#[derive(Debug, thiserror::Error)]
pub enum SenderError {
    /// The peer connection (or its media engine, track, sockets) could not be built.
    #[error("could not build the sender peer connection: {0}")]
    Build(String),
    /// The offer was not a usable SDP offer, or applying it failed.
    #[error("bad offer: {0}")]
    Offer(String),
    /// Creating or applying the answer failed.
    #[error("could not answer: {0}")]
    Answer(String),
    /// A remote candidate was rejected.
    #[error("candidate rejected: {0}")]
    Candidate(String),
    /// The configured codec was not negotiated (the viewer did not offer it).
    #[error("the viewer did not accept {0}: no video is sent")]
    CodecNotNegotiated(&'static str),
    /// Writing media failed.
    #[error("write failed: {0}")]
    Write(String),
}

/// Video codec of the synthetic track a [`SenderPeer`] sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    /// VP8 (RFC 7741).
    Vp8,
    /// H.264 constrained baseline, packetization mode 1.
    H264,
}

impl VideoCodec {
    /// `VP8` or `H264`, as in the SDP's rtpmap.
    pub fn name(self) -> &'static str {
        match self {
            VideoCodec::Vp8 => "VP8",
            VideoCodec::H264 => "H264",
        }
    }
}

/// How to build a [`SenderPeer`].
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// Codec of the video track.
    pub codec: VideoCodec,
    /// ICE servers the peer connection uses (credentials split out of the URLs, unusable URLs removed).
    pub ice_servers: Vec<IceServerConfig>,
    /// Local addresses for host candidates (`127.0.0.1:0`, `0.0.0.0:0`, …).
    pub bind: Vec<SocketAddr>,
    /// Offer RTX in the answer (one `video/rtx` payload type per video payload type) and retransmit on
    /// an RTX SSRC; when off, retransmissions go on the media SSRC.
    pub rtx: bool,
    /// Where the peer connection's UDP sockets count what they could not send (shared by every
    /// connection of one server).
    pub send_counters: Arc<SendCounters>,
}

/// Peer-connection state, as the W3C names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderPcState {
    /// `new`.
    New,
    /// `connecting`.
    Connecting,
    /// `connected`.
    Connected,
    /// `disconnected`.
    Disconnected,
    /// `failed`.
    Failed,
    /// `closed`.
    Closed,
}

impl SenderPcState {
    /// The W3C name.
    pub fn as_str(self) -> &'static str {
        match self {
            SenderPcState::New => "new",
            SenderPcState::Connecting => "connecting",
            SenderPcState::Connected => "connected",
            SenderPcState::Disconnected => "disconnected",
            SenderPcState::Failed => "failed",
            SenderPcState::Closed => "closed",
        }
    }
}

/// What the sender's peer connection reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SenderEvent {
    /// A local candidate, as the `candidate:…` attribute line (to trickle to the viewer).
    LocalCandidate(String),
    /// Local gathering finished.
    GatheringComplete,
    /// The ICE connection state changed (W3C name).
    IceState(String),
    /// The peer-connection state changed.
    State(SenderPcState),
}

/// The result of answering an offer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The full answer SDP (candidates included as webrtc-rs wrote them).
    pub sdp: String,
    /// Whether the configured video codec was negotiated; if not, the video m-line is rejected.
    pub video_negotiated: bool,
}

/// Sender-side RTP totals of one connection (outbound-rtp stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboundTotals {
    /// RTP packets sent.
    pub packets_sent: u64,
    /// RTP payload bytes sent.
    pub bytes_sent: u64,
    /// NACKs received.
    pub nack_count: u32,
    /// PLIs received.
    pub pli_count: u32,
}

struct Handler {
    tx: mpsc::UnboundedSender<SenderEvent>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        match event.candidate.to_json() {
            Ok(init) => {
                let _ = self.tx.send(SenderEvent::LocalCandidate(init.candidate));
            }
            Err(e) => tracing::warn!("sender: cannot serialise local candidate: {e}"),
        }
    }

    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.tx.send(SenderEvent::GatheringComplete);
        }
    }

    async fn on_ice_connection_state_change(&self, state: RTCIceConnectionState) {
        let _ = self.tx.send(SenderEvent::IceState(state.to_string()));
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let s = match state {
            RTCPeerConnectionState::New => SenderPcState::New,
            RTCPeerConnectionState::Connecting => SenderPcState::Connecting,
            RTCPeerConnectionState::Connected => SenderPcState::Connected,
            RTCPeerConnectionState::Disconnected => SenderPcState::Disconnected,
            RTCPeerConnectionState::Failed => SenderPcState::Failed,
            RTCPeerConnectionState::Closed => SenderPcState::Closed,
            _ => return,
        };
        let _ = self.tx.send(SenderEvent::State(s));
    }
}

/// The mime type of a codec.
pub fn mime_type(codec: VideoCodec) -> &'static str {
    match codec {
        VideoCodec::Vp8 => MIME_TYPE_VP8,
        VideoCodec::H264 => MIME_TYPE_H264,
    }
}

/// The codec of the track (what is sent).
fn track_codec(codec: VideoCodec) -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: mime_type(codec).to_owned(),
        clock_rate: 90000,
        channels: 0,
        sdp_fmtp_line: match codec {
            VideoCodec::Vp8 => String::new(),
            VideoCodec::H264 => H264_FMTP.to_owned(),
        },
        rtcp_feedback: super::codecs::video_feedback(),
    }
}

/// The video payload types of the sender: (fmtp, payload type, RTX payload type). The numbers are the
/// ones browsers and webrtc-rs's viewer offer (VP8 96/97; H.264 42e01f 125/105, 42001f 102/103); the
/// answer uses the viewer's numbers anyway.
fn video_payload_types(codec: VideoCodec) -> Vec<(String, u8, u8)> {
    match codec {
        VideoCodec::Vp8 => vec![(String::new(), 96, 97)],
        // Browsers offer both 42e01f and 42001f with packetization mode 1; accept either (same bitstream
        // for what we send), preferring constrained baseline.
        VideoCodec::H264 => vec![
            (H264_FMTP.to_owned(), 125, 105),
            (
                "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f".to_owned(),
                102,
                103,
            ),
        ],
    }
}

/// Media engine: the audio codecs a viewer may offer (answered without a track, so `inactive`), and only
/// the configured video codec, so the answer never picks another one; with `rtx`, an RTX codec
/// (`apt=<pt>`) for each video payload type, as MediaMTX (pion) and browsers register.
///
/// The viewer side of webrtc-rs 0.21.1 storms NACKs under loss when RTX is negotiated (README, "NACK/RTX
/// retransmission storm"); negotiating RTX here is what exercises rtcscope's capped NACK generator.
fn media_engine(codec: VideoCodec, rtx: bool) -> Result<MediaEngine, SenderError> {
    let mut me = MediaEngine::default();
    super::codecs::register_audio(&mut me).map_err(SenderError::Build)?;
    for (fmtp, pt, rtx_pt) in video_payload_types(codec) {
        me.register_codec(
            RTCRtpCodecParameters {
                rtp_codec: RTCRtpCodec {
                    sdp_fmtp_line: fmtp,
                    ..track_codec(codec)
                },
                payload_type: pt,
            },
            RtpCodecKind::Video,
        )
        .map_err(|e| SenderError::Build(e.to_string()))?;
        if rtx {
            super::codecs::register_rtx(&mut me, pt, rtx_pt).map_err(SenderError::Build)?;
        }
    }
    Ok(me)
}

/// A random RTX SSRC different from the media SSRC.
fn rtx_ssrc(media: u32) -> u32 {
    loop {
        let s = rand::random::<u32>();
        if s != media && s != 0 {
            return s;
        }
    }
}

/// One sender peer connection with its synthetic video track.
pub struct SenderPeer {
    pc: Arc<dyn PeerConnection>,
    track: Arc<TrackLocalStaticRTP>,
    rtp_sender: Arc<dyn RtpSender>,
    ssrc: u32,
    codec: VideoCodec,
    packetizer: Arc<std::sync::Mutex<Box<dyn Packetizer>>>,
    rtcp_drain: tokio::task::JoinHandle<()>,
}

impl SenderPeer {
    /// Build the peer connection (nothing is sent on the network until an offer is answered).
    /// Events arrive on the returned receiver until the connection is closed.
    pub async fn new(
        config: &SenderConfig,
    ) -> Result<(Self, mpsc::UnboundedReceiver<SenderEvent>), SenderError> {
        let mut me = media_engine(config.codec, config.rtx)?;
        let registry = register_default_interceptors(Registry::new(), &mut me)
            .map_err(|e| SenderError::Build(e.to_string()))?;
        let ice_servers = config
            .ice_servers
            .iter()
            .map(|s| RTCIceServer {
                urls: s.urls.clone(),
                username: s.username.clone().unwrap_or_default(),
                credential: s.credential.clone().unwrap_or_default(),
            })
            .collect();
        let cfg = RTCConfigurationBuilder::new()
            .with_ice_servers(ice_servers)
            .build();
        let se = SettingEngineBuilder::new()
            .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
            .with_discard_local_candidates_during_ice_restart(true)
            // As the viewer: a peer-reflexive pair is nominated at once, checks paced every 50 ms.
            .with_prflx_acceptance_min_wait(Some(std::time::Duration::ZERO))
            .with_ice_connection_attempts(
                Some(super::ICE_CHECK_INTERVAL),
                Some(super::ICE_MAX_BINDING_REQUESTS),
            )
            .build();
        let (tx, rx) = mpsc::unbounded_channel();
        let bind: Vec<SocketAddr> = if config.bind.is_empty() {
            vec![SocketAddr::from(([127, 0, 0, 1], 0))]
        } else {
            config.bind.clone()
        };
        let pc = PeerConnectionBuilder::new()
            .with_configuration(cfg)
            .with_media_engine(me)
            .with_interceptor_registry(registry)
            .with_setting_engine(se)
            .with_handler(Arc::new(Handler { tx }))
            .with_udp_addrs(bind)
            .with_runtime(Arc::new(counting_runtime(Arc::clone(
                &config.send_counters,
            ))))
            .build()
            .await
            .map_err(|e| SenderError::Build(e.to_string()))?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);

        let ssrc = rand::random::<u32>();
        let track = TrackLocalStaticRTP::new(MediaStreamTrack::new(
            "rtcscope".to_owned(),
            "rtcscope-video".to_owned(),
            "rtcscope synthetic video".to_owned(),
            RtpCodecKind::Video,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    rtx: config.rtx.then(|| RTCRtpRtxParameters {
                        ssrc: rtx_ssrc(ssrc),
                    }),
                    ..Default::default()
                },
                codec: track_codec(config.codec),
                ..Default::default()
            }],
        ));
        let track = Arc::new(track);
        // Frames are packetized here rather than by a sample track, so that the caller can pace a
        // frame's packets (a sample written to a sample track leaves as one burst).
        let payloader = track_codec(config.codec)
            .payloader()
            .map_err(|e| SenderError::Build(e.to_string()))?;
        let packetizer: Box<dyn Packetizer> = Box::new(rtc::rtp::packetizer::new_packetizer(
            Instant::now(),
            RTP_MTU,
            0,
            ssrc,
            payloader,
            Box::new(rtc::rtp::sequence::new_random_sequencer()),
            90_000,
        ));
        let rtp_sender = match pc
            .add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
            .await
        {
            Ok(s) => s,
            Err(e) => {
                let _ = pc.close().await;
                return Err(SenderError::Build(e.to_string()));
            }
        };
        let drain_track = Arc::clone(&track);
        let rtcp_drain = tokio::spawn(async move {
            while let Some(_event) = drain_track.poll().await {
                // RTCP for the application (nothing by default); the interceptors already acted on it.
            }
        });
        Ok((
            SenderPeer {
                pc,
                track,
                rtp_sender,
                ssrc,
                codec: config.codec,
                packetizer: Arc::new(std::sync::Mutex::new(packetizer)),
                rtcp_drain,
            },
            rx,
        ))
    }

    /// Apply the viewer's offer, create and apply the answer, and return it.
    pub async fn answer(&self, offer_sdp: String) -> Result<Answer, SenderError> {
        let offer = RTCSessionDescription::offer(offer_sdp)
            .map_err(|e| SenderError::Offer(e.to_string()))?;
        self.pc
            .set_remote_description(offer)
            .await
            .map_err(|e| SenderError::Offer(e.to_string()))?;
        let (answer, video_negotiated) = match self.pc.create_answer(None).await {
            Ok(a) => (a, true),
            // The offer has none of our codecs. webrtc-rs (like pion) refuses to answer for a transceiver
            // that has a sender without codecs; without the sender it rejects the m-line (port 0), which
            // is what a viewer should see.
            Err(webrtc::error::Error::ErrSenderWithNoCodecs) => {
                self.pc
                    .remove_track(&self.rtp_sender)
                    .await
                    .map_err(|e| SenderError::Answer(e.to_string()))?;
                let a = self
                    .pc
                    .create_answer(None)
                    .await
                    .map_err(|e| SenderError::Answer(e.to_string()))?;
                (a, false)
            }
            Err(e) => return Err(SenderError::Answer(e.to_string())),
        };
        self.pc
            .set_local_description(answer)
            .await
            .map_err(|e| SenderError::Answer(e.to_string()))?;
        let sdp = match self.pc.local_description().await {
            Some(d) => d.sdp,
            None => return Err(SenderError::Answer("no local description".into())),
        };
        let video_negotiated = video_negotiated && self.payload_type().await.is_ok();
        Ok(Answer {
            sdp,
            video_negotiated,
        })
    }

    /// Add a candidate the viewer trickled. An empty candidate (end of candidates) is accepted and ignored.
    pub async fn add_remote_candidate(&self, c: CandidateMessage) -> Result<(), SenderError> {
        if c.candidate.trim().is_empty() {
            return Ok(());
        }
        let init = RTCIceCandidateInit {
            candidate: c.candidate,
            // webrtc-rs ignores the mid (single transport, bundled); keep "" and null apart anyway.
            sdp_mid: c.sdp_mid,
            sdp_mline_index: c.sdp_mline_index,
            username_fragment: c.username_fragment,
            url: None,
        };
        self.pc
            .add_ice_candidate(init)
            .await
            .map_err(|e| SenderError::Candidate(e.to_string()))
    }

    async fn payload_type(&self) -> Result<u8, SenderError> {
        let params = self
            .rtp_sender
            .get_parameters()
            .await
            .map_err(|e| SenderError::Answer(e.to_string()))?;
        let mime = mime_type(self.codec);
        params
            .rtp_parameters
            .codecs
            .iter()
            .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(mime))
            .map(|c| c.payload_type)
            .ok_or(SenderError::CodecNotNegotiated(mime))
    }

    /// Restart ICE as the answerer, for a viewer that sent new ICE credentials (a WHEP ICE-restart PATCH).
    ///
    /// webrtc-rs 0.21.1 restarts ICE on the answering side only implicitly, while applying a remote
    /// *offer* whose credentials differ from the current ones. So the viewer's current offer is applied
    /// again with `ufrag`/`pwd` in place of its credentials and without its candidates; the stack then
    /// takes new local credentials, discards its local candidates and gathers again (new sockets), and a
    /// new answer is created and applied. Returns that answer (no candidates: they follow as
    /// [`SenderEvent::LocalCandidate`]s, then [`SenderEvent::GatheringComplete`]). The caller adds the
    /// viewer's new candidates with [`SenderPeer::add_remote_candidate`] afterwards.
    pub async fn restart_ice(&self, ufrag: &str, pwd: &str) -> Result<String, SenderError> {
        let Some(current) = self.pc.remote_description().await else {
            return Err(SenderError::Offer("no offer to restart ICE for".into()));
        };
        let offer = RTCSessionDescription::offer(crate::proto::whep::with_ice_credentials(
            &current.sdp,
            ufrag,
            pwd,
        ))
        .map_err(|e| SenderError::Offer(e.to_string()))?;
        self.pc
            .set_remote_description(offer)
            .await
            .map_err(|e| SenderError::Offer(format!("ICE restart: {e}")))?;
        let answer = self
            .pc
            .create_answer(None)
            .await
            .map_err(|e| SenderError::Answer(format!("ICE restart: {e}")))?;
        self.pc
            .set_local_description(answer)
            .await
            .map_err(|e| SenderError::Answer(format!("ICE restart: {e}")))?;
        match self.pc.local_description().await {
            Some(d) => Ok(d.sdp),
            None => Err(SenderError::Answer("no local description".into())),
        }
    }

    /// A writer for the video track, with the negotiated payload type. Call after [`SenderPeer::answer`].
    pub async fn video_writer(&self) -> Result<VideoWriter, SenderError> {
        let payload_type = self.payload_type().await?;
        Ok(VideoWriter {
            track: Arc::clone(&self.track),
            packetizer: Arc::clone(&self.packetizer),
            payload_type,
        })
    }

    /// Outbound-rtp totals of the video track, if the stack reports them yet.
    pub async fn outbound_totals(&self) -> Option<OutboundTotals> {
        let report = self.pc.get_stats(Instant::now(), StatsSelector::None).await;
        report
            .outbound_rtp_streams()
            .find(|s| s.sent_rtp_stream_stats.rtp_stream_stats.ssrc == self.ssrc)
            .map(|s| OutboundTotals {
                packets_sent: s.sent_rtp_stream_stats.packets_sent,
                bytes_sent: s.sent_rtp_stream_stats.bytes_sent,
                nack_count: s.nack_count,
                pli_count: s.pli_count,
            })
    }

    /// The SSRC of the video track.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Close the peer connection (idempotent).
    pub async fn close(&self) {
        if let Err(e) = self.pc.close().await {
            tracing::debug!("sender: close: {e}");
        }
        self.rtcp_drain.abort();
    }
}

impl Drop for SenderPeer {
    fn drop(&mut self) {
        self.rtcp_drain.abort();
    }
}

/// The RTP payload size of the sender's packets, as webrtc-rs's sample track and browsers use.
const RTP_MTU: usize = 1200;

/// One RTP packet of a frame, ready to send.
#[derive(Debug, Clone)]
pub struct RtpPacket(rtc::rtp::Packet);

/// Writes encoded frames to the video track: [`VideoWriter::packetize`] cuts a frame into RTP
/// packets and [`VideoWriter::send`] sends one, so the caller decides when each leaves.
#[derive(Clone)]
pub struct VideoWriter {
    track: Arc<TrackLocalStaticRTP>,
    packetizer: Arc<std::sync::Mutex<Box<dyn Packetizer>>>,
    payload_type: u8,
}

impl VideoWriter {
    /// The negotiated payload type.
    pub fn payload_type(&self) -> u8 {
        self.payload_type
    }

    /// Cut one frame lasting `duration`, generated at `at`, into RTP packets (the last one carries the
    /// marker bit).
    pub fn packetize(
        &self,
        data: &Bytes,
        duration: Duration,
        at: Instant,
    ) -> Result<Vec<RtpPacket>, SenderError> {
        let samples = (duration.as_secs_f64() * 90_000.0) as u32;
        let mut p = self
            .packetizer
            .lock()
            .map_err(|_| SenderError::Write("packetizer poisoned".into()))?;
        let packets = p
            .packetize(at, data, samples)
            .map_err(|e| SenderError::Write(e.to_string()))?;
        Ok(packets
            .into_iter()
            .map(|mut pkt| {
                pkt.header.payload_type = self.payload_type;
                RtpPacket(pkt)
            })
            .collect())
    }

    /// Send one packet (waits while the connection's queue to its socket is full).
    pub async fn send(&self, packet: RtpPacket) -> Result<(), SenderError> {
        self.track
            .write_rtp(packet.0)
            .await
            .map_err(|e| SenderError::Write(e.to_string()))
    }
}
