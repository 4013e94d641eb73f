//! The peer connection side of the engine: build it (ICE servers merged and reported, probes started),
//! carry out what a signaling client asks of it, and turn its events into events and inputs.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::Driver;
use crate::event::{
    CandidateType, ErrorSource, Event, IceServerInfo, SkippedIceServer, StateKind,
    TurnTransportStage,
};
use crate::proto::ice_server::{self, IceServerSpec};
use crate::session::Input;
use crate::signaling::{self, PeerFailure, PeerRequest, PeerResult};
use crate::webrtc_adapter::IceServerConfig;
use crate::webrtc_adapter::viewer::{PeerEvent, ViewerConfig, ViewerPeer};

/// ICE servers a session uses from the server's list, at most (the command line's come on top).
pub const MAX_ICE_SERVERS: usize = 32;
/// URLs over all of the server's ICE servers, at most.
pub const MAX_ICE_SERVER_URLS: usize = 64;

impl Driver {
    /// Carry out a signaling client's request to the peer connection.
    pub(super) async fn peer_request(&mut self, request: PeerRequest) -> PeerResult {
        let peer = self.attempt.as_ref().and_then(|a| a.peer.clone());
        const NO_PEER: &str = "no peer connection";
        match request {
            PeerRequest::CreateOffer { ice_servers } => {
                PeerResult::Offer(self.build_peer_and_offer(ice_servers).await)
            }
            PeerRequest::ApplyAnswer { sdp } => PeerResult::AnswerApplied(match peer {
                Some(p) => p.set_answer(&sdp).await.map_err(|e| e.to_string()),
                None => Err(NO_PEER.into()),
            }),
            PeerRequest::AddRemoteCandidate(c) => PeerResult::CandidateAdded(match peer {
                Some(p) => p
                    .add_remote_candidate(
                        &c.line,
                        c.typ,
                        c.sdp_mid,
                        c.sdp_mline_index,
                        c.username_fragment,
                    )
                    .await
                    .map_err(|e| e.to_string()),
                None => Err(NO_PEER.into()),
            }),
            PeerRequest::LocalDescription => PeerResult::LocalDescription(match peer {
                Some(p) => p.local_description().await,
                None => None,
            }),
            PeerRequest::RestartIceOffer => PeerResult::IceRestartOffer(match peer {
                Some(p) => p.restart_ice_offer().await.map_err(|e| e.to_string()),
                None => Err(NO_PEER.into()),
            }),
            PeerRequest::AnswerOffer { sdp } => {
                // Our offer is pending on the current peer: answer the counter-offer with a fresh one.
                if let Some(old) = self.attempt.as_mut().and_then(|a| a.peer.take()) {
                    let _ = tokio::time::timeout(Duration::from_secs(2), old.close()).await;
                }
                PeerResult::CounterAnswer(match self.rebuild_peer().await {
                    Ok(p) => p
                        .answer_offer(&sdp)
                        .await
                        .map_err(|e| PeerFailure::Sdp(e.to_string())),
                    Err(e) => Err(e),
                })
            }
        }
    }

    /// A new peer connection for this attempt, built as the first one was.
    async fn rebuild_peer(&mut self) -> Result<Arc<ViewerPeer>, PeerFailure> {
        let Some(cfg) = self.viewer_config.clone() else {
            return Err(PeerFailure::Build(
                "no peer connection was built before".into(),
            ));
        };
        let (ptx, prx) = mpsc::unbounded_channel();
        let p = Arc::new(
            ViewerPeer::build(&cfg, ptx)
                .await
                .map_err(|e| PeerFailure::Build(e.to_string()))?,
        );
        if let Some(a) = self.attempt.as_mut() {
            a.peer = Some(p.clone());
            a.peer_rx = Some(prx);
        }
        Ok(p)
    }

    /// Merge the server's ICE servers with the command line's, report them (and the unusable ones), build
    /// the peer connection and create the offer.
    async fn build_peer_and_offer(
        &mut self,
        server_specs: Vec<IceServerSpec>,
    ) -> Result<String, PeerFailure> {
        let mut specs = server_specs;
        // The server's list is bounded (each entry is probed, and costs the stack a gatherer): the
        // command line's own servers always fit.
        let room = MAX_ICE_SERVERS.saturating_sub(self.cfg.ice_servers.len());
        let mut urls_left = MAX_ICE_SERVER_URLS;
        let given = specs.len();
        specs.truncate(room);
        for spec in &mut specs {
            spec.urls.truncate(urls_left);
            urls_left -= spec.urls.len();
        }
        specs.retain(|s| !s.urls.is_empty());
        if specs.len() < given {
            self.emit(Event::Warning {
                source: ErrorSource::Signaling,
                message: format!(
                    "the server gave {given} ICE servers: only the first {} are used and probed (limit {MAX_ICE_SERVERS} servers, {MAX_ICE_SERVER_URLS} URLs)",
                    specs.len()
                ),
            })
            .await;
        }
        specs.extend(self.cfg.ice_servers.iter().cloned());
        let mut skipped = Vec::new();
        let mut infos: Vec<IceServerInfo> = Vec::new();
        let mut usable = Vec::new();
        for spec in &specs {
            let mut urls = Vec::new();
            for u in &spec.urls {
                match ice_server::unsupported_reason(u) {
                    Some(reason) => skipped.push(SkippedIceServer {
                        url: ice_server::mask_url(u),
                        reason,
                    }),
                    None => urls.push(u.clone()),
                }
            }
            infos.push(ice_server::to_info(spec));
            if !urls.is_empty() {
                usable.push(IceServerConfig {
                    urls,
                    username: spec.username.clone(),
                    credential: spec.credential.clone(),
                });
            }
        }
        self.emit(Event::IceServers {
            servers: infos,
            skipped: skipped.clone(),
            policy: if self.cfg.relay_only { "relay" } else { "all" }.into(),
        })
        .await;
        for s in &skipped {
            self.emit(Event::Warning {
                source: ErrorSource::Config,
                message: format!("ICE server {} skipped: {}", s.url, s.reason),
            })
            .await;
        }
        let cfg = ViewerConfig {
            ice_servers: usable,
            relay_only: self.cfg.relay_only,
            audio: self.cfg.audio,
            bind: self.cfg.bind.clone(),
            ice_timeouts: self.cfg.ice_timeouts,
            insecure: self.cfg.insecure,
            ca_roots: self.cfg.ca_roots.clone(),
            recv_buffer: self.cfg.recv_buffer,
        };
        self.viewer_config = Some(cfg.clone());
        self.start_probes(&specs);
        let (ptx, prx) = mpsc::unbounded_channel();
        let peer = match ViewerPeer::build(&cfg, ptx).await {
            Ok(p) => Arc::new(p),
            Err(e) => return Err(PeerFailure::Build(e.to_string())),
        };
        self.emit(Event::LocalAddresses {
            addresses: peer.local_addresses().to_vec(),
        })
        .await;
        if let Some(a) = self.attempt.as_mut() {
            a.peer = Some(peer.clone());
            a.peer_rx = Some(prx);
        }
        peer.create_offer()
            .await
            .map_err(|e| PeerFailure::Sdp(e.to_string()))
    }

    /// Probe, in the background, the ICE servers of this attempt not yet probed in the session: they
    /// answer what the peer connection cannot (why no relay: refused credentials or no answer; whether a
    /// TURN server answers over UDP, TCP and TLS).
    pub(super) fn start_probes(&mut self, specs: &[IceServerSpec]) {
        if !self.cfg.probe {
            return;
        }
        let key = |s: &IceServerSpec| format!("{:?}|{:?}", s.urls, s.username);
        let fresh: Vec<IceServerSpec> = specs
            .iter()
            .filter(|s| self.probed.insert(key(s)))
            .cloned()
            .collect();
        let keys: Vec<String> = fresh.iter().map(key).collect();
        if fresh.is_empty() {
            return;
        }
        let opts = crate::probe::ProbeOptions {
            insecure: self.cfg.insecure,
            ca_roots: self.cfg.ca_roots.clone(),
            ..crate::probe::ProbeOptions::default()
        };
        let tx = self.probe_tx.clone();
        let task = tokio::spawn(async move {
            for spec in fresh {
                for r in crate::probe::probe_server(&spec, &opts).await {
                    if tx.send(r).is_err() {
                        return;
                    }
                }
            }
        });
        // The probes belong to the attempt: they end with it (and are not left connecting to
        // whatever host:port a server named).
        match self.attempt.as_mut() {
            Some(a) => a.probes.push((task, keys)),
            None => task.abort(),
        }
    }

    pub(super) async fn on_peer(&mut self, ev: PeerEvent) {
        match ev {
            PeerEvent::LocalCandidate(candidate, line) => {
                self.emit(Event::LocalCandidate { candidate }).await;
                self.signal(signaling::Input::LocalCandidate(line)).await;
            }
            PeerEvent::GatheringComplete => {
                self.emit(Event::LocalGatheringComplete).await;
                self.signal(signaling::Input::GatheringComplete).await;
            }
            PeerEvent::State(kind, state) => {
                self.emit(Event::StateChanged {
                    kind,
                    state: state.clone(),
                })
                .await;
                match kind {
                    StateKind::IceConnection => {
                        if let Some(a) = self.attempt.as_mut() {
                            a.ice_state = state.clone();
                        }
                        self.input(Input::IceState(state)).await
                    }
                    StateKind::PeerConnection => {
                        let connected = state == "connected";
                        let ice_up = self.attempt.as_ref().is_some_and(|a| {
                            matches!(a.ice_state.as_str(), "connected" | "completed")
                        });
                        if state == "failed" && !ice_up {
                            // webrtc-rs 0.21.1 reports the peer connection `failed` just before ICE
                            // `failed` when the checks run out; restarting on the first would hide
                            // that ICE, not DTLS, is what failed.
                            self.input(Input::IceState("failed".into())).await;
                            return;
                        }
                        self.input(Input::PeerState(state)).await;
                        if connected {
                            self.signal(signaling::Input::PeerConnected).await;
                            // Show the pair and DTLS at once rather than at the next tick.
                            self.poll_stats().await;
                        }
                    }
                    _ => {}
                }
            }
            PeerEvent::Track { kind, track_id } => {
                self.emit(Event::TrackAdded {
                    kind,
                    track_id,
                    mid: None,
                    ssrc: None,
                })
                .await;
            }
            PeerEvent::TurnTransportFailed {
                url,
                relay_protocol,
                stage,
                error,
            } => {
                self.emit(Event::TurnTransportFailed {
                    url: url.clone(),
                    relay_protocol,
                    stage,
                    error: error.clone(),
                })
                .await;
                // The media went through that connection: the pair is dead, start over.
                if stage == TurnTransportStage::Dropped && self.selected_pair_uses(&url) {
                    self.input(Input::PeerError(format!(
                        "the TURN connection to {url} dropped: {error}"
                    )))
                    .await;
                }
            }
            PeerEvent::FirstRtp {
                kind,
                ssrc,
                payload_type,
            } => {
                self.emit(Event::FirstMedia {
                    kind,
                    ssrc,
                    payload_type,
                })
                .await;
                self.input(Input::MediaReceived).await;
            }
        }
    }

    /// Whether the selected pair's local candidate is a relay allocated through the TURN server `url`.
    fn selected_pair_uses(&self, url: &str) -> bool {
        let Some(a) = self.attempt.as_ref() else {
            return false;
        };
        let Some(peer) = a.peer.as_ref() else {
            return false;
        };
        let relays = peer.relay_candidates_of(url);
        a.selected_pair
            .iter()
            .filter_map(|p| p.local.as_ref())
            .any(|l| {
                l.typ == CandidateType::Relay
                    && relays
                        .iter()
                        .any(|(addr, port)| *addr == l.address && *port == l.port)
            })
    }
}
