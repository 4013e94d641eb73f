//! The legacy MediaMTX WebSocket reader protocol, as the server, on a connection the HTTP layer has
//! upgraded (`GET /<path>/ws`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::sync::watch;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};

use super::media::{ConnCounters, on_connected};
use super::{Fault, ServeNotice, Shared, SignalingKind};
use crate::proto::ws::{
    self, CandidateMessage, MAX_MESSAGE_BYTES, SignalMessage, answer_message, candidate_message,
    strip_candidates,
};
use crate::webrtc_adapter::sender::{SenderEvent, SenderPcState, SenderPeer};

type Ws = WebSocketStream<TokioIo<Upgraded>>;

/// MediaMTX pinged every 30 s.
const PING_INTERVAL: Duration = Duration::from_secs(30);

/// How a connection ends.
#[derive(Debug)]
enum End {
    /// Close the TCP connection without a close frame (MediaMTX on any error).
    Drop(String),
    /// Send a close frame first.
    Close(CloseCode, String),
}

/// Run the protocol on a connection upgraded to WebSocket for stream `path`, until it ends.
pub(super) async fn run(
    shared: Arc<Shared>,
    upgraded: Upgraded,
    peer: SocketAddr,
    path: String,
    stop: watch::Receiver<bool>,
) {
    // The WebSocket layer itself refuses a message or frame over the protocol's limit, before
    // buffering it (tungstenite's default would buffer 64 MiB first).
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    let mut ws =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
    let Ok(_permit) = Arc::clone(&shared.sessions).try_acquire_owned() else {
        tracing::warn!(%peer, "serve: WebSocket refused: {} sessions live (--max-sessions)", shared.opts.limits.max_sessions);
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            ws.close(Some(CloseFrame {
                code: CloseCode::Again,
                reason: "too many sessions, retry later".into(),
            })),
        )
        .await;
        return;
    };
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    shared.totals.connections.fetch_add(1, Ordering::Relaxed);
    shared.totals.active.fetch_add(1, Ordering::Relaxed);
    let opened = Instant::now();
    tracing::info!(id, %peer, %path, "serve: WebSocket opened");
    let _ = shared.notices.send(ServeNotice::Opened {
        id,
        peer,
        path: path.clone(),
        kind: SignalingKind::WebSocket,
    });

    let counters = Arc::new(ConnCounters::default());
    let reason = session(&shared, ws, id, opened, stop, &counters).await;

    shared.totals.active.fetch_sub(1, Ordering::Relaxed);
    let lived = opened.elapsed();
    tracing::info!(id, %peer, reason = %reason, lived_ms = lived.as_millis() as u64, "serve: connection closed");
    let _ = shared.notices.send(ServeNotice::Closed {
        id,
        reason,
        frames: counters.frames.load(Ordering::Relaxed),
        payload_bytes: counters.payload_bytes.load(Ordering::Relaxed),
        lived,
    });
}

/// Run the protocol on an open WebSocket; returns why it ended (the socket is closed on return).
async fn session(
    shared: &Arc<Shared>,
    mut ws: Ws,
    id: u64,
    opened: Instant,
    mut stop: watch::Receiver<bool>,
    counters: &Arc<ConnCounters>,
) -> String {
    // 1. ICE servers, always first.
    if let Err(e) = ws.send(Message::text(shared.ice_json.clone())).await {
        return format!("could not send the ICE servers: {e}");
    }
    let deadline = tokio::time::Instant::now() + shared.tuning.handshake_deadline;
    let fault = shared.tuning.fault;
    if fault == Some(Fault::CloseAfterIceServers) {
        return finish(
            ws,
            End::Drop("fault injected: closed after the ICE servers".into()),
        )
        .await;
    }

    // 2. The offer.
    let offer = tokio::select! {
        r = read_offer(&mut ws) => r,
        _ = tokio::time::sleep_until(deadline) => Err(End::Drop("deadline exceeded (no offer)".into())),
        _ = stop.changed() => Err(End::Close(CloseCode::Away, "server shutting down".into())),
    };
    let offer = match offer {
        Ok(o) => o,
        Err(end) => return finish(ws, end).await,
    };
    if fault == Some(Fault::CloseAfterOffer) {
        return finish(
            ws,
            End::Drop("fault injected: closed after the offer".into()),
        )
        .await;
    }

    // 3. Peer connection and answer.
    let (peer, mut events) = match SenderPeer::new(&shared.sender).await {
        Ok(x) => x,
        Err(e) => return finish(ws, End::Drop(e.to_string())).await,
    };
    let peer = Arc::new(peer);
    let end = negotiate_and_stream(
        shared,
        &mut ws,
        &peer,
        &mut events,
        offer,
        id,
        opened,
        deadline,
        &mut stop,
        counters,
    )
    .await;
    if let Some(t) = peer.outbound_totals().await {
        tracing::debug!(
            id,
            packets = t.packets_sent,
            bytes = t.bytes_sent,
            nacks = t.nack_count,
            plis = t.pli_count,
            "serve: outbound totals"
        );
    }
    peer.close().await;
    finish(ws, end).await
}

/// Close the socket as `end` says, and return the reason in words.
async fn finish(mut ws: Ws, end: End) -> String {
    match end {
        End::Drop(reason) => {
            // Dropping the stream closes TCP without a close frame (the viewer sees 1006), as MediaMTX did.
            drop(ws);
            reason
        }
        End::Close(code, reason) => {
            let frame = CloseFrame {
                code,
                reason: reason.clone().into(),
            };
            let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(Some(frame))).await;
            reason
        }
    }
}

async fn read_offer(ws: &mut Ws) -> Result<String, End> {
    loop {
        let text = match next_text(ws).await? {
            Some(t) => t,
            None => continue,
        };
        return match ws::parse_message(&text) {
            Ok(SignalMessage::Offer { sdp }) => Ok(sdp),
            // MediaMTX's words for anything else that parses.
            Ok(other) => Err(End::Drop(format!(
                "received SDP is not an offer ({} received)",
                describe(&other)
            ))),
            Err(e) => Err(End::Drop(format!("bad message before the offer: {e}"))),
        };
    }
}

/// The next text message; `Ok(None)` for control frames. Errors end the connection.
async fn next_text(ws: &mut Ws) -> Result<Option<String>, End> {
    match ws.next().await {
        None => Err(End::Drop("socket closed by the viewer".into())),
        Some(Err(e)) => Err(End::Drop(format!("websocket error: {e}"))),
        Some(Ok(Message::Text(t))) => {
            if t.len() > MAX_MESSAGE_BYTES {
                Err(End::Drop(format!("message too big ({} bytes)", t.len())))
            } else {
                Ok(Some(t.as_str().to_owned()))
            }
        }
        Some(Ok(Message::Binary(_))) => {
            Err(End::Drop("binary message (text JSON expected)".into()))
        }
        Some(Ok(Message::Close(f))) => Err(End::Drop(match f {
            Some(f) if f.reason.is_empty() => {
                format!("socket closed by the viewer (code {})", u16::from(f.code))
            }
            Some(f) => format!(
                "socket closed by the viewer (code {}: {})",
                u16::from(f.code),
                f.reason
            ),
            None => "socket closed by the viewer".into(),
        })),
        Some(Ok(_)) => Ok(None), // ping/pong/raw frame: tungstenite answers pings itself
    }
}

/// A message in words, for a close reason.
fn describe(msg: &SignalMessage) -> &'static str {
    match msg {
        SignalMessage::IceServers(_) => "an ICE-server list",
        SignalMessage::Offer { .. } => "an offer",
        SignalMessage::Answer { .. } => "an answer",
        SignalMessage::Candidate(_) => "a candidate",
    }
}

/// A candidate message from the viewer; anything else ends the connection.
fn parse_candidate(text: &str) -> Result<CandidateMessage, End> {
    match ws::parse_message(text) {
        Ok(SignalMessage::Candidate(c)) => Ok(c),
        Ok(other) => Err(End::Drop(format!(
            "expected a candidate, got {}",
            describe(&other)
        ))),
        Err(e) => Err(End::Drop(format!("bad message: {e}"))),
    }
}

/// A local candidate as MediaMTX (pion's `ICECandidate.ToJSON()`) trickled it: `"sdpMid":""`,
/// `"sdpMLineIndex":0`, `"usernameFragment":null`.
fn server_candidate(candidate: String) -> String {
    candidate_message(&CandidateMessage {
        candidate,
        sdp_mid: Some(String::new()),
        sdp_mline_index: Some(0),
        username_fragment: None,
    })
}

#[allow(clippy::too_many_arguments)]
async fn negotiate_and_stream(
    shared: &Arc<Shared>,
    ws: &mut Ws,
    peer: &Arc<SenderPeer>,
    events: &mut tokio::sync::mpsc::UnboundedReceiver<SenderEvent>,
    offer: String,
    id: u64,
    opened: Instant,
    deadline: tokio::time::Instant,
    stop: &mut watch::Receiver<bool>,
    counters: &Arc<ConnCounters>,
) -> End {
    let fault = shared.tuning.fault;
    let no_ice = fault == Some(Fault::NoIce);
    // NoIce: candidates in the offer are ignored too, so neither side ever has a pair to check.
    let offer = if no_ice {
        strip_candidates(&offer)
    } else {
        offer
    };
    let answer = match peer.answer(offer).await {
        Ok(a) => a,
        Err(e) => return End::Drop(e.to_string()),
    };
    if !answer.video_negotiated {
        tracing::warn!(
            id,
            codec = ?shared.opts.codec,
            "serve: the offer has no matching video codec; the answer rejects the video m-line and nothing will be sent"
        );
    }
    let msg = answer_message(&strip_candidates(&answer.sdp));
    if let Err(e) = ws.send(Message::text(msg)).await {
        return End::Drop(format!("could not send the answer: {e}"));
    }

    let mut connected = false;
    let mut candidates_taken = 0usize;
    let mut media: Option<tokio::task::JoinHandle<()>> = None;
    let mut last_packets = 0u64;
    let mut stats_tick = tokio::time::interval(Duration::from_secs(1));
    let mut ping_tick =
        tokio::time::interval_at(tokio::time::Instant::now() + PING_INTERVAL, PING_INTERVAL);
    let end = loop {
        tokio::select! {
            r = next_text(ws) => match r {
                Err(end) => break end,
                Ok(None) => {}
                Ok(Some(text)) => match parse_candidate(&text) {
                    Err(end) => break end,
                    Ok(_) if candidates_taken >= shared.opts.limits.max_candidates => {
                        if candidates_taken == shared.opts.limits.max_candidates {
                            tracing::warn!(id, "serve: remote candidates over --max-candidates ({}) ignored", shared.opts.limits.max_candidates);
                            candidates_taken += 1;
                        }
                    }
                    Ok(c) if no_ice => {
                        candidates_taken += 1;
                        tracing::debug!(id, candidate = %c.candidate, "serve: remote candidate ignored (fault injected)");
                    }
                    Ok(c) => {
                        candidates_taken += 1;
                        tracing::debug!(id, candidate = %c.candidate, "serve: remote candidate");
                        if let Err(e) = peer.add_remote_candidate(c).await {
                            tracing::warn!(id, "serve: {e}");
                        }
                    }
                },
            },
            ev = events.recv() => match ev {
                None => break End::Drop("peer connection gone".into()),
                Some(SenderEvent::LocalCandidate(c)) => {
                    // MediaMTX stopped relaying candidates once connected.
                    if !connected
                        && !no_ice
                        && let Err(e) = ws.send(Message::text(server_candidate(c))).await
                    {
                        break End::Drop(format!("websocket error: {e}"));
                    }
                }
                Some(SenderEvent::GatheringComplete) => tracing::debug!(id, "serve: gathering complete"),
                Some(SenderEvent::IceState(s)) => tracing::debug!(id, state = %s, "serve: ICE state"),
                Some(SenderEvent::State(s)) => {
                    tracing::debug!(id, state = s.as_str(), "serve: peer connection state");
                    match s {
                        SenderPcState::Connected if !connected => {
                            connected = true;
                            media = on_connected(shared, peer, counters, id, opened, fault).await;
                        }
                        SenderPcState::Failed => break End::Drop("peer connection failed".into()),
                        SenderPcState::Closed => break End::Drop("peer connection closed".into()),
                        _ => {}
                    }
                }
            },
            _ = tokio::time::sleep_until(deadline), if !connected => {
                break End::Drop(format!(
                    "deadline exceeded (not connected {:?} after the ICE servers)",
                    shared.tuning.handshake_deadline
                ));
            }
            _ = stats_tick.tick(), if connected => {
                if let Some(t) = peer.outbound_totals().await {
                    shared.totals.rtp_packets.fetch_add(t.packets_sent.saturating_sub(last_packets), Ordering::Relaxed);
                    last_packets = last_packets.max(t.packets_sent);
                }
            }
            _ = ping_tick.tick() => {
                if let Err(e) = ws.send(Message::Ping(Vec::new().into())).await {
                    break End::Drop(format!("websocket error: {e}"));
                }
            }
            _ = stop.changed() => break End::Close(CloseCode::Away, "server shutting down".into()),
        }
    };
    if let Some(m) = media {
        m.abort();
        let _ = m.await;
    }
    if connected && let Some(t) = peer.outbound_totals().await {
        shared.totals.rtp_packets.fetch_add(
            t.packets_sent.saturating_sub(last_packets),
            Ordering::Relaxed,
        );
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_with_empty_or_null_mid() {
        let c = parse_candidate(
            r#"{"candidate":"candidate:1 1 udp 1 127.0.0.1 5 typ host","sdpMid":"","sdpMLineIndex":0,"usernameFragment":null}"#,
        )
        .unwrap();
        assert_eq!(c.sdp_mid.as_deref(), Some(""));
        assert_eq!(c.username_fragment, None);
        let c =
            parse_candidate(r#"{"candidate":"candidate:x","sdpMid":null,"sdpMLineIndex":null}"#)
                .unwrap();
        assert_eq!(c.sdp_mid, None);
        assert_eq!(c.sdp_mline_index, None);
        assert!(parse_candidate(r#"{"type":"offer","sdp":"v=0"}"#).is_err());
        assert!(parse_candidate("nope").is_err());
    }

    #[test]
    fn server_candidates_are_written_as_pion_did() {
        assert_eq!(
            server_candidate("candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host".into()),
            r#"{"candidate":"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host","sdpMid":"","sdpMLineIndex":0,"usernameFragment":null}"#
        );
    }
}
