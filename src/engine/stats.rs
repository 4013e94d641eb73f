//! Stats polling: the candidate-pair checklist (through [`crate::checklist::Tracker`]), DTLS state and
//! transport, the selected pair, per-track rates, as events when they change.
//!
//! The poll runs every `checklist_interval` (250 ms) while ICE is new, checking or disconnected, so
//! the checklist's transitions show as they happen, and every `stats_interval` (1 s) otherwise.
//! Track rates are sampled every `stats_interval` whatever the ICE state.

use std::time::Instant;

use super::Driver;
use super::attempt::TrackPrev;
use crate::checklist::PolledPair;
use crate::event::{Event, StateKind, TrackStats};
use crate::webrtc_adapter::viewer::StatsSample;

impl Driver {
    pub(super) async fn poll_stats(&mut self) {
        let Some(a) = self.attempt.as_ref() else {
            return;
        };
        let Some(peer) = a.peer.clone() else {
            return;
        };
        let checking = matches!(
            a.ice_state.as_str(),
            "" | "new" | "checking" | "disconnected"
        );
        let started = Instant::now();
        // Ticks come every `checklist_interval`: half of one is the slack for a tick that comes early.
        let full_due = a.last_full_poll.is_none_or(|t| {
            started.duration_since(t) + self.cfg.checklist_interval / 2 >= self.cfg.stats_interval
        });
        if !checking && !full_due {
            return;
        }
        let sample: StatsSample = peer.stats().await;
        let now = Instant::now();
        let at = self.now();
        let Some(a) = self.attempt.as_mut() else {
            return;
        };
        let polled: Vec<PolledPair> = sample
            .pairs
            .iter()
            .map(|p| PolledPair {
                pair: p.pair.clone(),
                local_ufrag: p.local_ufrag.clone(),
            })
            .collect();
        let ufrag = sample
            .transport
            .as_ref()
            .map_or("", |t| t.local_ufrag.as_str());
        let mut out: Vec<Event> = a.checklist.poll(&polled, ufrag, at);
        // This host's own receive buffers: reported once, and their drops as they grow.
        if !a.receive_buffers_reported
            && let Some((sockets, wanted, granted, rmem_max)) = peer.receive_buffers()
        {
            a.receive_buffers_reported = true;
            out.push(Event::ReceiveBuffers {
                sockets,
                wanted_bytes: wanted,
                granted_bytes: granted,
                rmem_max,
            });
        }
        if full_due
            && let Some(d) = peer.host_drops()
            && d > a.host_drops
        {
            a.host_drops = d;
            out.push(Event::HostDrops { drops: d });
        }
        if let Some(t) = &sample.transport {
            if t.dtls_state != a.dtls_state && !t.dtls_state.is_empty() {
                a.dtls_state = t.dtls_state.clone();
                out.push(Event::StateChanged {
                    kind: StateKind::Dtls,
                    state: t.dtls_state.clone(),
                });
            }
            if t.dtls_state == "connected" && !a.transport_reported && !t.srtp_cipher.is_empty() {
                a.transport_reported = true;
                out.push(Event::Transport {
                    dtls_role: t.dtls_role.clone(),
                    tls_version: t.tls_version.clone(),
                    dtls_cipher: t.dtls_cipher.clone(),
                    srtp_cipher: t.srtp_cipher.clone(),
                });
            }
            // Report a new selection, and once more when both of its ends become known (a prflx remote
            // is only reachable through the receiver's transport, which appears with the first track).
            if !t.selected_pair_id.is_empty()
                && let Some(pair) = sample
                    .pairs
                    .iter()
                    .map(|p| &p.pair)
                    .find(|p| p.id == t.selected_pair_id)
                && (t.selected_pair_id != a.selected_id
                    || (!a.selected_complete && pair.local.is_some() && pair.remote.is_some()))
            {
                a.selected_id = t.selected_pair_id.clone();
                a.selected_pair = Some(pair.clone());
                a.selected_complete = pair.local.is_some() && pair.remote.is_some();
                out.push(Event::SelectedPair {
                    pair: pair.clone(),
                    changes: t.selected_pair_changes,
                });
            }
        }
        if full_due {
            a.last_full_poll = Some(started);
        }
        let tracks = if full_due { &sample.tracks[..] } else { &[] };
        for t in tracks {
            let total = t.bytes_received + t.header_bytes_received;
            let bitrate_bps = match a.tracks.get(&t.ssrc) {
                Some(prev) => {
                    let dt = now.duration_since(prev.at).as_secs_f64();
                    if dt > 0.05 {
                        (total.saturating_sub(prev.bytes) as f64) * 8.0 / dt
                    } else {
                        continue;
                    }
                }
                None => {
                    // No rate from a single sample: remember it and report from the next poll.
                    a.tracks.insert(
                        t.ssrc,
                        TrackPrev {
                            bytes: total,
                            at: now,
                        },
                    );
                    continue;
                }
            };
            a.tracks.insert(
                t.ssrc,
                TrackPrev {
                    bytes: total,
                    at: now,
                },
            );
            if t.packets_received == 0 {
                continue;
            }
            let jitter_ms = t
                .clock_rate
                .filter(|r| *r > 0)
                .map(|r| t.jitter_rtp_units / f64::from(r) * 1000.0);
            out.push(Event::TrackStats {
                stats: TrackStats {
                    ssrc: t.ssrc,
                    kind: t.kind.clone(),
                    codec: t.codec.clone(),
                    clock_rate: t.clock_rate,
                    mid: t.mid.clone(),
                    bytes_received: t.bytes_received,
                    header_bytes_received: t.header_bytes_received,
                    packets_received: t.packets_received,
                    bitrate_bps,
                    packets_lost: t.packets_lost,
                    jitter_ms,
                    nack_count: t.nack_count,
                    pli_count: t.pli_count,
                    fir_count: t.fir_count,
                    keyframes: t.keyframes,
                },
            });
        }
        for e in out {
            self.emit(e).await;
        }
    }
}
