//! The engine's event channel, bounded twice: in events ([`MAX_QUEUED_EVENTS`]) and in bytes
//! ([`MAX_QUEUED_BYTES`] of serialised events in flight). A slow consumer (a terminal over a slow
//! SSH link, a full pipe) then holds the engine back instead of letting the queue grow: events
//! carry up to 64 KiB of remote text each, so a count alone would allow hundreds of megabytes.

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc};

use crate::event::Stamped;

/// Events queued between the engine and its consumer, at most.
pub const MAX_QUEUED_EVENTS: usize = 4096;
/// Bytes of queued events (their NDJSON size), at most.
pub const MAX_QUEUED_BYTES: usize = 16 << 20;

/// A new channel with both bounds.
pub fn channel() -> (EventSender, EventReceiver) {
    let (tx, rx) = mpsc::channel(MAX_QUEUED_EVENTS);
    let budget = Arc::new(Semaphore::new(MAX_QUEUED_BYTES));
    (
        EventSender {
            tx,
            budget: Arc::clone(&budget),
        },
        EventReceiver { rx, budget },
    )
}

/// The sending half (the engine's).
#[derive(Debug, Clone)]
pub struct EventSender {
    tx: mpsc::Sender<(Stamped, u32)>,
    budget: Arc<Semaphore>,
}

/// The receiving half: every consumer reads the stream through it.
#[derive(Debug)]
pub struct EventReceiver {
    rx: mpsc::Receiver<(Stamped, u32)>,
    budget: Arc<Semaphore>,
}

/// The receiver is gone; the event was not delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct Closed(pub Stamped);

/// An event's weight against the byte bound: its serialised size (capped at the bound itself, so
/// that one huge event still passes alone).
fn weight(ev: &Stamped) -> u32 {
    let n = serde_json::to_vec(ev).map(|v| v.len()).unwrap_or(1024);
    n.clamp(1, MAX_QUEUED_BYTES) as u32
}

impl EventSender {
    /// Send `ev`, waiting while either bound is reached.
    pub async fn send(&self, ev: Stamped) -> Result<(), Closed> {
        let n = weight(&ev);
        match self.budget.acquire_many(n).await {
            Ok(p) => p.forget(),
            Err(_) => return Err(Closed(ev)),
        }
        self.tx.send((ev, n)).await.map_err(|e| {
            self.budget.add_permits(e.0.1 as usize);
            Closed(e.0.0)
        })
    }
}

impl EventReceiver {
    /// The next event; `None` once the engine is done.
    pub async fn recv(&mut self) -> Option<Stamped> {
        let (ev, n) = self.rx.recv().await?;
        self.budget.add_permits(n as usize);
        Some(ev)
    }

    /// The next event if one is queued.
    pub fn try_recv(&mut self) -> Result<Stamped, mpsc::error::TryRecvError> {
        let (ev, n) = self.rx.try_recv()?;
        self.budget.add_permits(n as usize);
        Ok(ev)
    }
}

impl Drop for EventReceiver {
    fn drop(&mut self) {
        // A sender waiting for bytes learns that nobody will ever read them.
        self.budget.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ErrorSource, Event};
    use std::time::Duration;

    fn big(seq: u64) -> Stamped {
        Stamped {
            seq,
            t_ms: 0.0,
            attempt: 1,
            event: Event::Info {
                source: ErrorSource::Protocol,
                message: "x".repeat(1 << 20),
            },
        }
    }

    #[tokio::test]
    async fn the_bytes_in_flight_are_bounded_and_freed_as_events_are_read() {
        let (tx, mut rx) = channel();
        // 15 events of 1 MiB fit; the 16th and 17th wait for the reader.
        for i in 0..15 {
            tx.send(big(i)).await.expect("room");
        }
        let blocked = tokio::time::timeout(Duration::from_millis(100), tx.send(big(15))).await;
        assert!(blocked.is_err(), "the 16 MiB bound holds the sender back");
        let first = rx.recv().await.expect("event");
        assert_eq!(first.seq, 0);
        tokio::time::timeout(Duration::from_secs(1), tx.send(big(16)))
            .await
            .expect("room again once one was read")
            .expect("sent");
        // A reader that goes away releases a waiting sender with an error.
        let tx2 = tx.clone();
        let waiting = tokio::spawn(async move {
            let _ = tx2.send(big(17)).await;
            tx2.send(big(18)).await
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(rx);
        let r = tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("not stuck")
            .expect("task");
        assert!(r.is_err());
    }
}
