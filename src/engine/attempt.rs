//! What one attempt owns: its signaling connection, its HTTP requests, its peer connection, and what
//! the stats and the stack log have shown of it so far.
//!
//! Everything an attempt owns (socket reader, HTTP answers, peer events) arrives on channels owned by
//! that attempt, so when the attempt ends its late events vanish with it and can never be confused with
//! the next attempt's.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::ws_client::{ConnectError, Incoming, WsConnection};
use crate::checklist;
use crate::signaling::HttpResponse;
use crate::webrtc_adapter::viewer::{PeerEvent, ViewerPeer};

/// What the WebSocket connect task reports.
pub(super) type ConnectResult =
    Result<(WsConnection, u16, f64, mpsc::Receiver<Incoming>), ConnectError>;

/// A finished HTTP request.
#[derive(Debug)]
pub(super) struct HttpDone {
    pub(super) id: u32,
    pub(super) result: Result<HttpResponse, String>,
    pub(super) elapsed_ms: f64,
}

/// Per-track state for rates.
#[derive(Debug, Clone, Copy)]
pub(super) struct TrackPrev {
    pub(super) bytes: u64,
    pub(super) at: Instant,
}

/// What one attempt owns.
pub(super) struct Attempt {
    pub(super) http_tx: mpsc::UnboundedSender<HttpDone>,
    pub(super) http_rx: Option<mpsc::UnboundedReceiver<HttpDone>>,
    /// Background requests of the attempt, aborted when it ends.
    pub(super) tasks: Vec<tokio::task::JoinHandle<()>>,
    /// ICE-server probes started in the attempt, with the servers they cover: aborted when it
    /// ends, and those servers probed again in the next attempt if they had not finished.
    pub(super) probes: Vec<(tokio::task::JoinHandle<()>, Vec<String>)>,
    pub(super) ws: Option<WsConnection>,
    pub(super) ws_rx: Option<mpsc::Receiver<Incoming>>,
    pub(super) connect_rx: Option<tokio::sync::oneshot::Receiver<ConnectResult>>,
    pub(super) connect_task: Option<tokio::task::JoinHandle<()>>,
    pub(super) peer: Option<Arc<ViewerPeer>>,
    pub(super) peer_rx: Option<mpsc::UnboundedReceiver<PeerEvent>>,
    /// The checklist as polled so far: turns polls into pair events.
    pub(super) checklist: checklist::Tracker,
    /// When the stats were last polled in full (tracks and transport; the checklist is polled faster).
    pub(super) last_full_poll: Option<Instant>,
    pub(super) selected_id: String,
    /// Whether the receive buffers were reported.
    pub(super) receive_buffers_reported: bool,
    /// This host's receive-buffer drops as last reported.
    pub(super) host_drops: u64,
    /// The selected pair as last reported.
    pub(super) selected_pair: Option<crate::event::CandidatePair>,
    pub(super) selected_complete: bool,
    pub(super) dtls_state: String,
    pub(super) transport_reported: bool,
    pub(super) tracks: HashMap<u32, TrackPrev>,
    /// The last ICE connection state of the attempt.
    pub(super) ice_state: String,
    /// Stack warnings seen in this attempt (digits removed), with their counts.
    pub(super) stack_seen: HashMap<String, u32>,
    /// When the stack first said it had no candidate pair to check, and whether that was reported.
    pub(super) no_pairs_since: Option<Duration>,
    pub(super) no_pairs_reported: bool,
}

impl Attempt {
    pub(super) fn new() -> Self {
        let (http_tx, http_rx) = mpsc::unbounded_channel();
        Self {
            http_tx,
            http_rx: Some(http_rx),
            tasks: Vec::new(),
            probes: Vec::new(),
            ws: None,
            ws_rx: None,
            connect_rx: None,
            connect_task: None,
            peer: None,
            peer_rx: None,
            checklist: checklist::Tracker::new(Duration::from_secs(1)),
            last_full_poll: None,
            selected_id: String::new(),
            selected_pair: None,
            receive_buffers_reported: false,
            host_drops: 0,
            selected_complete: false,
            dtls_state: String::new(),
            transport_reported: false,
            tracks: HashMap::new(),
            ice_state: String::new(),
            stack_seen: HashMap::new(),
            no_pairs_since: None,
            no_pairs_reported: false,
        }
    }
}
