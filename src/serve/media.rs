//! The synthetic video of one session (WebSocket connection or WHEP session), once it is connected.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::pacing::{Pacing, schedule};
use super::synth::FrameGenerator;
use super::{Fault, ServeNotice, Shared};
use crate::webrtc_adapter::sender::{SenderError, SenderPeer, VideoWriter};

/// Counters of one connection, shared with its media task.
#[derive(Default)]
pub(super) struct ConnCounters {
    /// Frames written.
    pub(super) frames: AtomicU64,
    /// Payload bytes written.
    pub(super) payload_bytes: AtomicU64,
}

/// Write synthetic frames at the configured rate until aborted, the track refuses them for 2 s, or
/// `limit` (a deliberate fault) has passed.
pub(super) async fn send_media(
    shared: Arc<Shared>,
    writer: VideoWriter,
    counters: Arc<ConnCounters>,
    id: u64,
    limit: Option<Duration>,
) {
    let started = Instant::now();
    let opts = &shared.opts;
    let mut frames =
        FrameGenerator::new(opts.codec, opts.bitrate, opts.fps, opts.keyframe_interval);
    let period = Duration::from_secs_f64(1.0 / f64::from(opts.fps.max(1)));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut failures = 0u32;
    tracing::debug!(
        id,
        payload_type = writer.payload_type(),
        "serve: sending video"
    );
    loop {
        tick.tick().await;
        if let Some(limit) = limit
            && started.elapsed() >= limit
        {
            tracing::info!(id, "serve: fault injected: video stopped after {limit:?}");
            return;
        }
        let frame = frames.next_frame();
        let t = &shared.totals;
        // Bytes are counted as their packets leave, so that a frame cut short (the connection
        // ended mid-frame) counts what was sent of it.
        let sent = send_frame(&writer, &frame.data, period, opts.pacing, |bytes| {
            counters.payload_bytes.fetch_add(bytes, Ordering::Relaxed);
            t.payload_bytes.fetch_add(bytes, Ordering::Relaxed);
            t.packets_written.fetch_add(1, Ordering::Relaxed);
        })
        .await;
        match sent {
            Ok(()) => {
                failures = 0;
                counters.frames.fetch_add(1, Ordering::Relaxed);
                t.frames.fetch_add(1, Ordering::Relaxed);
                if frame.keyframe {
                    t.keyframes.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(e) => {
                failures += 1;
                tracing::debug!(id, "serve: frame {}: {e}", frame.index);
                if failures > opts.fps.max(1) * 2 {
                    tracing::warn!(id, "serve: the track refuses frames ({e}); stopping video");
                    return;
                }
            }
        }
    }
}

/// Packetize one frame lasting `period` and send its packets on the [`schedule`]; `on_sent` gets, for
/// each packet sent, its share of the frame's bytes (the shares of a whole frame add up to its size).
async fn send_frame(
    writer: &VideoWriter,
    data: &bytes::Bytes,
    period: Duration,
    pacing: Pacing,
    mut on_sent: impl FnMut(u64),
) -> Result<(), SenderError> {
    let start = tokio::time::Instant::now();
    let packets = writer.packetize(data, period, Instant::now())?;
    let (n, len) = (packets.len() as u64, data.len() as u64);
    let plan = schedule(packets.len(), period, pacing);
    let mut packets = packets.into_iter();
    let mut i = 0u64;
    for step in plan {
        if !step.at.is_zero() {
            tokio::time::sleep_until(start + step.at).await;
        }
        for p in packets.by_ref().take(step.count) {
            writer.send(p).await?;
            on_sent(share(len, n, i));
            i += 1;
        }
    }
    Ok(())
}

/// Packet `i`'s share of a frame of `len` bytes cut into `n` packets.
fn share(len: u64, n: u64, i: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    let at = |k: u64| (u128::from(len) * u128::from(k) / u128::from(n)) as u64;
    at(i + 1) - at(i)
}

/// The peer connection of connection `id` reached `connected`: count it, tell the log, and start the
/// synthetic video (none with [`Fault::NoMedia`], stopping after a while with [`Fault::StopMediaAfter`]).
pub(super) async fn on_connected(
    shared: &Arc<Shared>,
    peer: &SenderPeer,
    counters: &Arc<ConnCounters>,
    id: u64,
    opened: Instant,
    fault: Option<Fault>,
) -> Option<tokio::task::JoinHandle<()>> {
    shared.totals.connected.fetch_add(1, Ordering::Relaxed);
    let after = opened.elapsed();
    tracing::info!(
        id,
        after_ms = after.as_millis() as u64,
        "serve: peer connection established"
    );
    let _ = shared.notices.send(ServeNotice::Connected { id, after });
    let limit = match fault {
        Some(Fault::NoMedia) => Some(Duration::ZERO),
        Some(Fault::StopMediaAfter(d)) => Some(d),
        _ => None,
    };
    match peer.video_writer().await {
        Ok(w) => Some(tokio::spawn(send_media(
            Arc::clone(shared),
            w,
            Arc::clone(counters),
            id,
            limit,
        ))),
        Err(e) => {
            tracing::warn!(id, "serve: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::share;

    #[test]
    fn the_shares_of_a_frame_add_up_to_its_size() {
        for (len, n) in [(4167u64, 4u64), (417_000, 347), (1, 3), (0, 2), (1200, 1)] {
            let total: u64 = (0..n).map(|i| share(len, n, i)).sum();
            assert_eq!(total, len, "{len} bytes in {n} packets");
        }
        assert_eq!(share(10, 0, 0), 0);
    }
}
