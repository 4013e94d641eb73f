//! A recording played back as if it were a live session: the same event stream, through the same
//! channel, at the recorded pace (scaled by a speed), with pause, single step and speed changes.
//! The clock is the engine's business, so the pacing lives here.

use std::time::Duration;

use tokio::sync::mpsc;

use super::{EngineCommand, EngineHandle, ReplayControl, event_channel};
use crate::event::Stamped;

/// Fastest and slowest replay speeds.
pub const MAX_SPEED: f64 = 64.0;
/// See [`MAX_SPEED`].
pub const MIN_SPEED: f64 = 0.125;
/// The longest pause between two events, whatever the recording says (a recording of an idle hour
/// should not leave the viewer staring at nothing).
pub const MAX_GAP: Duration = Duration::from_secs(5);

/// Play `events` from the start at `speed` (1.0 = as recorded), paused at first if `paused`. The
/// stream stays open after the last event until the consumer stops it, so the end state stays on
/// screen.
pub fn spawn(events: Vec<Stamped>, speed: f64, paused: bool) -> EngineHandle {
    let (tx, rx) = event_channel::channel();
    let (commands, mut commands_rx) = mpsc::channel::<EngineCommand>(16);
    tokio::spawn(async move {
        let mut speed = speed.clamp(MIN_SPEED, MAX_SPEED);
        let mut paused = paused;
        let mut next = 0usize;
        let mut prev_t: Option<f64> = None;
        loop {
            let wait = match (paused, events.get(next)) {
                (false, Some(ev)) => {
                    let gap_ms = prev_t.map_or(0.0, |p| (ev.t_ms - p).max(0.0)) / speed;
                    Some(Duration::from_secs_f64(gap_ms / 1000.0).min(MAX_GAP))
                }
                _ => None,
            };
            let step = tokio::select! {
                _ = sleep_opt(wait) => true,
                c = commands_rx.recv() => match c {
                    None | Some(EngineCommand::Stop) => return,
                    Some(EngineCommand::Replay(ReplayControl::TogglePause)) => {
                        paused = !paused;
                        false
                    }
                    Some(EngineCommand::Replay(ReplayControl::Step)) => true,
                    Some(EngineCommand::Replay(ReplayControl::Faster)) => {
                        speed = (speed * 2.0).min(MAX_SPEED);
                        false
                    }
                    Some(EngineCommand::Replay(ReplayControl::Slower)) => {
                        speed = (speed / 2.0).max(MIN_SPEED);
                        false
                    }
                    // A recording cannot be restarted.
                    Some(EngineCommand::Restart | EngineCommand::IceRestart) => false,
                },
            };
            if step && let Some(ev) = events.get(next) {
                prev_t = Some(ev.t_ms);
                next += 1;
                if tx.send(ev.clone()).await.is_err() {
                    return;
                }
            }
        }
    });
    EngineHandle {
        events: rx,
        commands,
    }
}

async fn sleep_opt(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ErrorSource, Event};

    fn ev(seq: u64, t_ms: f64) -> Stamped {
        Stamped {
            seq,
            t_ms,
            attempt: 1,
            event: Event::Info {
                source: ErrorSource::Protocol,
                message: format!("{seq}"),
            },
        }
    }

    #[tokio::test(start_paused = true)]
    async fn paced_as_recorded_scaled_by_speed_with_pause_and_step() {
        let events = vec![ev(0, 0.0), ev(1, 1000.0), ev(2, 3000.0), ev(3, 3500.0)];
        let mut h = spawn(events, 2.0, false);
        let start = tokio::time::Instant::now();
        assert_eq!(h.events.recv().await.map(|e| e.seq), Some(0));
        assert_eq!(h.events.recv().await.map(|e| e.seq), Some(1));
        // 1 s recorded at 2× is 500 ms of virtual time.
        assert_eq!(start.elapsed(), Duration::from_millis(500));
        h.commands
            .send(EngineCommand::Replay(ReplayControl::TogglePause))
            .await
            .expect("send");
        tokio::task::yield_now().await;
        // Paused: nothing comes however long we wait.
        assert!(
            tokio::time::timeout(Duration::from_secs(60), h.events.recv())
                .await
                .is_err()
        );
        // A step delivers exactly one.
        h.commands
            .send(EngineCommand::Replay(ReplayControl::Step))
            .await
            .expect("send");
        assert_eq!(h.events.recv().await.map(|e| e.seq), Some(2));
        assert!(
            tokio::time::timeout(Duration::from_secs(60), h.events.recv())
                .await
                .is_err()
        );
        // Resume at 4×: 500 ms recorded → 125 ms.
        h.commands
            .send(EngineCommand::Replay(ReplayControl::Faster))
            .await
            .expect("send");
        h.commands
            .send(EngineCommand::Replay(ReplayControl::TogglePause))
            .await
            .expect("send");
        let t = tokio::time::Instant::now();
        assert_eq!(h.events.recv().await.map(|e| e.seq), Some(3));
        assert_eq!(t.elapsed(), Duration::from_millis(125));
        // The end state stays: the stream is open until Stop.
        assert!(
            tokio::time::timeout(Duration::from_secs(60), h.events.recv())
                .await
                .is_err()
        );
        h.commands.send(EngineCommand::Stop).await.expect("send");
        assert_eq!(h.events.recv().await, None);
    }
}
