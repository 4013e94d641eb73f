//! When each RTP packet of a frame leaves: a pure schedule, so that it is tested without a clock.
//!
//! Real senders pace. libwebrtc's pacer sends at 2.5 times the target bitrate, so a frame's packets
//! leave over the first 40 % of the frame interval instead of in one burst; a viewer then never
//! has to hold a whole frame in its socket at once. `serve --burst` turns pacing off and sends each
//! frame's packets back to back, as RTSP re-streamers and some hardware encoders do.

use std::time::Duration;

/// How `serve` sends a frame's packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pacing {
    /// Spread over [`PACING_FACTOR`]⁻¹ of the frame interval, in slots of at least [`SLOT`].
    #[default]
    Paced,
    /// All at once, as soon as the frame is ready.
    Burst,
}

/// How much faster than the target bitrate the pacer sends (libwebrtc's pacing factor).
pub const PACING_FACTOR: f64 = 2.5;

/// The shortest gap between two sends: a timer finer than a millisecond is not kept by tokio.
pub const SLOT: Duration = Duration::from_millis(1);

/// One send of a schedule: `count` packets, `at` after the frame is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Send {
    /// Offset from the frame's start.
    pub at: Duration,
    /// Packets sent then.
    pub count: usize,
}

/// When the `packets` of a frame lasting `period` leave. The counts add up to `packets`; every
/// offset is a multiple of [`SLOT`] before the pacing window ends.
pub fn schedule(packets: usize, period: Duration, pacing: Pacing) -> Vec<Send> {
    if packets == 0 {
        return Vec::new();
    }
    let window = period.div_f64(PACING_FACTOR);
    let slots = match pacing {
        Pacing::Burst => 1,
        Pacing::Paced => {
            let fit = (window.as_nanos() / SLOT.as_nanos()).max(1);
            packets.min(usize::try_from(fit).unwrap_or(usize::MAX))
        }
    };
    // Spread evenly: the first `packets % slots` slots carry one more.
    let (each, extra) = (packets / slots, packets % slots);
    let gap = if slots > 1 {
        // Whole slots, so that no two sends share a timer tick.
        let per = window.as_nanos() / slots as u128 / SLOT.as_nanos();
        SLOT * u32::try_from(per.max(1)).unwrap_or(u32::MAX)
    } else {
        Duration::ZERO
    };
    (0..slots)
        .map(|i| Send {
            at: gap * u32::try_from(i).unwrap_or(u32::MAX),
            count: each + usize::from(i < extra),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME_30FPS: Duration = Duration::from_nanos(33_333_333);

    fn total(s: &[Send]) -> usize {
        s.iter().map(|x| x.count).sum()
    }

    #[test]
    fn a_burst_is_one_send() {
        assert_eq!(
            schedule(347, FRAME_30FPS, Pacing::Burst),
            [Send {
                at: Duration::ZERO,
                count: 347
            }]
        );
    }

    #[test]
    fn a_100_mbit_frame_is_spread_over_40_percent_of_the_interval() {
        // 100 Mbit/s at 30 fps: 417 kB a frame, 347 packets of 1200 bytes.
        let s = schedule(347, FRAME_30FPS, Pacing::Paced);
        assert_eq!(total(&s), 347);
        assert_eq!(s.len(), 13, "13 one-millisecond slots in 13.3 ms");
        assert!(s.iter().all(|x| x.count == 26 || x.count == 27), "{s:?}");
        let last = s.last().map(|x| x.at).unwrap_or_default();
        assert!(last < FRAME_30FPS.div_f64(PACING_FACTOR), "{last:?}");
        assert!(s.windows(2).all(|w| w[1].at - w[0].at == SLOT));
    }

    #[test]
    fn a_small_frame_sends_one_packet_per_slot_with_gaps() {
        // 2 Mbit/s at 30 fps: 7 packets over 13.3 ms, every 1 ms.
        let s = schedule(7, FRAME_30FPS, Pacing::Paced);
        assert_eq!(s.len(), 7);
        assert!(s.iter().all(|x| x.count == 1));
        assert_eq!(s[6].at, Duration::from_millis(6));
        // One packet leaves at once.
        assert_eq!(
            schedule(1, FRAME_30FPS, Pacing::Paced),
            [Send {
                at: Duration::ZERO,
                count: 1
            }]
        );
    }

    #[test]
    fn fast_frame_rates_and_empty_frames() {
        // 240 fps: a 1.67 ms window holds one slot.
        let s = schedule(50, Duration::from_nanos(4_166_667), Pacing::Paced);
        assert_eq!(s.len(), 1);
        assert_eq!(total(&s), 50);
        assert!(schedule(0, FRAME_30FPS, Pacing::Paced).is_empty());
        assert!(schedule(0, FRAME_30FPS, Pacing::Burst).is_empty());
        // 1 fps: a big window, slots never more than the packets.
        let s = schedule(3, Duration::from_secs(1), Pacing::Paced);
        assert_eq!(s.len(), 3);
        assert_eq!(s[1].at, Duration::from_millis(133));
    }
}
