//! WHEP as the server, the way MediaMTX (v0.23 and later) and draft-ietf-wish-whep do it:
//!
//! - `OPTIONS /<path>/whep`: 204, `Accept-Post: application/sdp`, one `Link: <url>; rel="ice-server"`
//!   per configured ICE server (not on a CORS preflight);
//! - `POST /<path>/whep` (`application/sdp` offer): gather first, then 201 with the full answer (its
//!   candidates and `a=end-of-candidates`: a WHEP server does not trickle), `Location:
//!   /<path>/whep/<id>`, `ETag: "<local ICE ufrag>"`, `Accept-Patch: application/trickle-ice-sdpfrag`
//!   and the `Link` ICE servers;
//! - `PATCH /<path>/whep/<id>` (`application/trickle-ice-sdpfrag`): the viewer's current ufrag → its
//!   candidates are added, 204; a new ufrag/pwd → ICE restart: 200 with the server's new ufrag/pwd, its
//!   candidates and `a=end-of-candidates`, and a new ETag. An `If-Match` other than `*` must match the
//!   ETag (412); MediaMTX does not check it, a missing one is accepted;
//! - `DELETE /<path>/whep/<id>`: 200, the session's peer connection is closed.
//!
//! Errors carry MediaMTX's JSON body `{"status":"error","error":"…"}`: 400 (bad SDP or sdpfrag), 404
//! (unknown session), 405 (method, with `Allow`), 412, 413, 415 (content type). A session ends when its
//! peer connection fails or closes, at the handshake deadline if it never connected, on DELETE, and when
//! the server stops.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hyper::Request;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap};
use tokio::sync::{mpsc, oneshot};

use super::http::{DropConnection, Resp, add_header, empty, read_body, response};
use super::media::{ConnCounters, on_connected};
use super::{Fault, ServeNotice, Shared, SignalingKind};
use crate::proto::whep::{
    ETag, LinkIceServer, SDP_MEDIA_TYPE, SDPFRAG_MEDIA_TYPE, format_link_ice_server, media_type,
    parse_etag, parse_sdpfrag, trickle_frag, write_sdpfrag,
};
use crate::proto::ws::{CandidateMessage, strip_candidates};
use crate::webrtc_adapter::sender::{SenderEvent, SenderPcState, SenderPeer};

/// Largest offer or sdpfrag accepted, in bytes.
const MAX_BODY: usize = 1 << 20;
/// Longest wait for gathering to complete before answering with the candidates so far (MediaMTX's
/// `webrtcSTUNGatherTimeout` default).
const GATHER_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a POST or an ICE-restart PATCH waits for its session to answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest a DELETE waits for the peer connection to close.
const DELETE_TIMEOUT: Duration = Duration::from_secs(3);
/// Methods of the endpoint.
const ENDPOINT_ALLOW: &str = "OPTIONS, POST";
/// Methods of a session resource.
const RESOURCE_ALLOW: &str = "OPTIONS, PATCH, DELETE";

/// A live WHEP session, as the HTTP handlers see it.
pub(super) struct Entry {
    /// The stream path it was created on.
    path: String,
    /// Its peer connection (for trickled candidates).
    peer: Arc<SenderPeer>,
    /// Commands to its task.
    cmd: mpsc::UnboundedSender<Cmd>,
    /// The current ETag value (without quotes): the server's ICE ufrag.
    etag: String,
    /// The viewer's current ICE ufrag; a PATCH with another one is an ICE restart.
    remote_ufrag: String,
    /// Remote candidates taken so far (bounded by `--max-candidates`).
    candidates: usize,
    /// ICE restarts asked so far (bounded by `--max-ice-restarts`).
    restarts: u32,
}

/// The sessions by resource id.
pub(super) type Sessions = std::sync::Mutex<HashMap<String, Entry>>;

/// A command to a session's task.
enum Cmd {
    /// ICE restart with the viewer's new credentials and candidates; the reply is the sdpfrag body and
    /// the new ETag value.
    Restart {
        ufrag: String,
        pwd: String,
        candidates: Vec<(Option<String>, String)>,
        reply: oneshot::Sender<Result<(String, String), (u16, String)>>,
    },
    /// Close the session; the reply comes once the peer connection is closed.
    Delete { reply: oneshot::Sender<()> },
}

/// What the POST gets from its session: the answer, the ETag value and the resource id, or an error
/// status and message.
type Created = Result<(String, String), (u16, String)>;

/// MediaMTX's error body, `{"status":"error","error":"…"}`, with `Access-Control-Allow-Origin: *`.
pub(super) fn json_error(status: u16, message: &str) -> Resp {
    let body = serde_json::json!({"status": "error", "error": message}).to_string();
    let mut r = response(status, "application/json", body);
    add_header(&mut r, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    r
}

/// 405 with `Allow`.
fn method_not_allowed(method: &str, allow: &str) -> Resp {
    let mut r = json_error(
        405,
        &format!("method {method} not allowed (allowed: {allow})"),
    );
    add_header(&mut r, header::ALLOW, allow);
    r
}

/// The `Link` header values for the configured ICE servers (one per URL).
pub(super) fn link_headers(ice_servers: &[crate::proto::ice_server::IceServerSpec]) -> Vec<String> {
    ice_servers
        .iter()
        .flat_map(|s| {
            s.urls.iter().map(|u| {
                format_link_ice_server(&LinkIceServer {
                    url: u.clone(),
                    username: s.username.clone(),
                    credential: s.credential.clone(),
                    credential_type: s.credential.as_ref().map(|_| "password".to_owned()),
                })
            })
        })
        .collect()
}

/// The media type of a request's `Content-Type` (empty when absent).
fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(media_type)
        .unwrap_or_default()
}

/// A 415 for a body of the wrong type.
fn unsupported_type(what: &str, want: &str, got: &str) -> Resp {
    let got = if got.is_empty() { "none" } else { got };
    json_error(
        415,
        &format!("{what} must have Content-Type {want} (got {got})"),
    )
}

/// A request body as UTF-8 text, read within `--body-timeout` (a slow drip gets `408`).
async fn text_body(shared: &Shared, body: Incoming) -> Result<String, Resp> {
    let limit = shared.opts.limits.body_timeout;
    let bytes = match tokio::time::timeout(limit, read_body(body, MAX_BODY)).await {
        Ok(b) => b?,
        Err(_) => {
            return Err(json_error(
                408,
                &format!(
                    "the request body was not read within {} (--body-timeout)",
                    humantime::format_duration(limit)
                ),
            ));
        }
    };
    String::from_utf8(bytes.to_vec()).map_err(|_| json_error(400, "the body is not UTF-8"))
}

/// The value of the first `a=<name>:` line of an SDP.
fn sdp_attr<'a>(sdp: &'a str, name: &str) -> Option<&'a str> {
    let prefix = format!("a={name}:");
    sdp.lines()
        .find_map(|l| l.trim_end().strip_prefix(prefix.as_str()))
}

/// Whether `s` is a usable ICE ufrag or password: 1 to 256 `ice-char`s (RFC 8839: ALPHA, DIGIT, `+`,
/// `/`).
fn ice_chars(s: &str) -> bool {
    (1..=256).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// `sdp` (without candidates) with `candidates` and `a=end-of-candidates` added to its first m-section
/// that is not rejected (port 0): with max-bundle, that section's transport is the one in use. CRLF line
/// endings.
pub fn with_candidates(sdp: &str, candidates: &[String]) -> String {
    let lines: Vec<&str> = sdp
        .split('\n')
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.is_empty())
        .collect();
    let target = lines
        .iter()
        .position(|l| l.starts_with("m=") && l.split(' ').nth(1) != Some("0"));
    // The section ends at the next m= line (or the end).
    let end = target.map(|t| {
        lines[t + 1..]
            .iter()
            .position(|l| l.starts_with("m="))
            .map_or(lines.len(), |i| t + 1 + i)
    });
    let mut out = String::with_capacity(sdp.len() + 80 * (candidates.len() + 1));
    for (i, line) in lines.iter().enumerate() {
        if Some(i) == end {
            push_candidates(&mut out, candidates);
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    if end == Some(lines.len()) {
        push_candidates(&mut out, candidates);
    }
    out
}

fn push_candidates(out: &mut String, candidates: &[String]) {
    for c in candidates {
        let c = c.trim();
        let c = c.strip_prefix("a=").unwrap_or(c);
        out.push_str("a=");
        if !c.starts_with("candidate:") {
            out.push_str("candidate:");
        }
        out.push_str(c);
        out.push_str("\r\n");
    }
    out.push_str("a=end-of-candidates\r\n");
}

/// `OPTIONS`, `POST` and other methods on the endpoint `/<path>/whep`.
pub(super) async fn endpoint(
    shared: &Arc<Shared>,
    viewer: SocketAddr,
    path: String,
    req: Request<Incoming>,
) -> Result<Resp, DropConnection> {
    match req.method().as_str() {
        "OPTIONS" => Ok(options(shared, req.headers())),
        "POST" => post(shared, viewer, path, req).await,
        m => Ok(method_not_allowed(m, ENDPOINT_ALLOW)),
    }
}

/// `OPTIONS` on the endpoint: 204 with what MediaMTX sends; the ICE servers only when it is not a CORS
/// preflight (RFC 9725 §4.6).
fn options(shared: &Shared, headers: &HeaderMap) -> Resp {
    let mut r = empty(204);
    for (name, value) in [
        (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        (
            header::ACCESS_CONTROL_ALLOW_METHODS,
            "OPTIONS, GET, POST, PATCH, DELETE",
        ),
        (
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            "Authorization, Content-Type, If-Match",
        ),
        (header::ACCESS_CONTROL_EXPOSE_HEADERS, "Accept-Post, Link"),
        (header::ALLOW, ENDPOINT_ALLOW),
    ] {
        add_header(&mut r, name, value);
    }
    add_header(
        &mut r,
        header::HeaderName::from_static("accept-post"),
        SDP_MEDIA_TYPE,
    );
    if !headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD) {
        for l in &shared.links {
            add_header(&mut r, header::LINK, l);
        }
    }
    r
}

/// `POST` of an offer: create a session, gather, answer with 201.
async fn post(
    shared: &Arc<Shared>,
    viewer: SocketAddr,
    path: String,
    req: Request<Incoming>,
) -> Result<Resp, DropConnection> {
    let ct = content_type(req.headers());
    if ct != SDP_MEDIA_TYPE {
        return Ok(unsupported_type("the offer", SDP_MEDIA_TYPE, &ct));
    }
    let query = req.uri().query().map(str::to_owned);
    let offer = match text_body(shared, req.into_body()).await {
        Ok(t) => t,
        Err(r) => return Ok(r),
    };
    match shared.tuning.fault {
        Some(Fault::CloseAfterIceServers) | Some(Fault::CloseAfterOffer) => {
            return Err(DropConnection(
                "fault injected: connection closed after the offer".into(),
            ));
        }
        _ => {}
    }
    if !offer.trim_start().starts_with("v=") {
        return Ok(json_error(400, "the body is not an SDP offer"));
    }
    let Some(remote_ufrag) = sdp_attr(&offer, "ice-ufrag").map(str::to_owned) else {
        return Ok(json_error(400, "the offer has no a=ice-ufrag"));
    };
    let Ok(permit) = Arc::clone(&shared.sessions).try_acquire_owned() else {
        tracing::warn!(%viewer, "serve: WHEP offer refused: {} sessions live (--max-sessions)", shared.opts.limits.max_sessions);
        let mut r = json_error(503, "too many sessions, retry later");
        add_header(&mut r, header::RETRY_AFTER, "1");
        return Ok(r);
    };
    let rid = format!("{:032x}", rand::random::<u128>());
    let (reply, created) = oneshot::channel();
    let task = session(
        Arc::clone(shared),
        viewer,
        path.clone(),
        rid.clone(),
        offer,
        remote_ufrag,
        reply,
    );
    let task = async move {
        task.await;
        drop(permit);
    };
    if shared.spawn.send(Box::pin(task)).is_err() {
        return Ok(json_error(503, "the server is shutting down"));
    }
    let (answer, etag) = match tokio::time::timeout(REPLY_TIMEOUT, created).await {
        Ok(Ok(Ok(x))) => x,
        Ok(Ok(Err((status, message)))) => return Ok(json_error(status, &message)),
        Ok(Err(_)) => return Ok(json_error(503, "the session ended before answering")),
        Err(_) => return Ok(json_error(500, "no answer in time")),
    };
    let mut location = format!("/{path}/whep/{rid}");
    if let Some(q) = query {
        location.push('?');
        location.push_str(&q);
    }
    let mut r = response(201, SDP_MEDIA_TYPE, answer);
    for (name, value) in [
        (header::LOCATION, location.as_str()),
        (header::ETAG, &format!("\"{etag}\"")),
        (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        (
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            "ETag, ID, Accept-Patch, Link, Location",
        ),
    ] {
        add_header(&mut r, name, value);
    }
    add_header(
        &mut r,
        header::HeaderName::from_static("accept-patch"),
        SDPFRAG_MEDIA_TYPE,
    );
    add_header(&mut r, header::HeaderName::from_static("id"), &rid);
    for l in &shared.links {
        add_header(&mut r, header::LINK, l);
    }
    Ok(r)
}

/// A request on a session resource `/<path>/whep/<id>`.
pub(super) async fn resource(
    shared: &Arc<Shared>,
    path: String,
    id: String,
    req: Request<Incoming>,
) -> Resp {
    let known = shared
        .whep
        .lock()
        .map(|s| s.get(&id).is_some_and(|e| e.path == path))
        .unwrap_or(false);
    if !known {
        return json_error(404, "session not found");
    }
    match req.method().as_str() {
        "PATCH" => patch(shared, &id, req).await,
        "DELETE" => delete(shared, &id).await,
        "OPTIONS" => {
            let mut r = empty(204);
            add_header(&mut r, header::ALLOW, RESOURCE_ALLOW);
            add_header(&mut r, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
            add_header(&mut r, header::ACCESS_CONTROL_ALLOW_METHODS, RESOURCE_ALLOW);
            add_header(
                &mut r,
                header::HeaderName::from_static("accept-patch"),
                SDPFRAG_MEDIA_TYPE,
            );
            r
        }
        m => method_not_allowed(m, RESOURCE_ALLOW),
    }
}

/// `PATCH`: trickled candidates (204) or an ICE restart (200).
async fn patch(shared: &Arc<Shared>, id: &str, req: Request<Incoming>) -> Resp {
    let ct = content_type(req.headers());
    if ct != SDPFRAG_MEDIA_TYPE {
        return unsupported_type("a PATCH", SDPFRAG_MEDIA_TYPE, &ct);
    }
    let if_match = req
        .headers()
        .get(header::IF_MATCH)
        .map(|v| v.to_str().map(str::to_owned).unwrap_or_default());
    let body = match text_body(shared, req.into_body()).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Some((peer, cmd, etag, remote_ufrag)) = shared.whep.lock().ok().and_then(|s| {
        s.get(id).map(|e| {
            (
                Arc::clone(&e.peer),
                e.cmd.clone(),
                e.etag.clone(),
                e.remote_ufrag.clone(),
            )
        })
    }) else {
        return json_error(404, "session not found");
    };
    if let Some(m) = if_match {
        let m = m.trim();
        if m != "*" && m != "\"*\"" && parse_etag(m) != ETag::Strong(etag.clone()) {
            return json_error(
                412,
                &format!("If-Match {m} does not match the session's ETag \"{etag}\""),
            );
        }
    }
    let frag = match parse_sdpfrag(&body) {
        Ok(f) => f,
        Err(e) => return json_error(400, &format!("bad sdpfrag: {e}")),
    };
    let mut candidates: Vec<(Option<String>, String)> = frag
        .candidates()
        .map(|(mid, c)| (mid.map(str::to_owned), c.to_owned()))
        .collect();
    let is_restart = frag.ufrag().is_some_and(|u| u != remote_ufrag);
    let limits = &shared.opts.limits;
    let mut over_restarts = false;
    let mut dropped = 0usize;
    if let Ok(mut s) = shared.whep.lock()
        && let Some(e) = s.get_mut(id)
    {
        if is_restart {
            over_restarts = e.restarts >= limits.max_ice_restarts;
            if !over_restarts {
                e.restarts += 1;
            }
        }
        let room = limits.max_candidates.saturating_sub(e.candidates);
        if candidates.len() > room {
            dropped = candidates.len() - room;
            candidates.truncate(room);
        }
        e.candidates += candidates.len();
    }
    if over_restarts {
        return json_error(
            429,
            &format!(
                "more than {} ICE restarts in this session (--max-ice-restarts)",
                limits.max_ice_restarts
            ),
        );
    }
    if dropped > 0 {
        tracing::warn!(
            id,
            dropped,
            "serve: remote candidates over --max-candidates ({}) ignored",
            limits.max_candidates
        );
    }
    match frag.ufrag() {
        Some(ufrag) if ufrag != remote_ufrag => {
            let Some(pwd) = frag.pwd() else {
                return json_error(
                    400,
                    "ICE restart: the sdpfrag has a new a=ice-ufrag but no a=ice-pwd",
                );
            };
            if !ice_chars(ufrag) || !ice_chars(pwd) {
                return json_error(
                    400,
                    "ICE restart: ice-ufrag/ice-pwd hold characters ICE does not allow",
                );
            }
            let (reply, done) = oneshot::channel();
            let sent = cmd.send(Cmd::Restart {
                ufrag: ufrag.to_owned(),
                pwd: pwd.to_owned(),
                candidates,
                reply,
            });
            if sent.is_err() {
                return json_error(404, "session not found");
            }
            match tokio::time::timeout(REPLY_TIMEOUT, done).await {
                Ok(Ok(Ok((body, etag)))) => {
                    let mut r = response(200, SDPFRAG_MEDIA_TYPE, body);
                    add_header(&mut r, header::ETAG, &format!("\"{etag}\""));
                    add_header(&mut r, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
                    add_header(&mut r, header::ACCESS_CONTROL_EXPOSE_HEADERS, "ETag");
                    r
                }
                Ok(Ok(Err((status, message)))) => json_error(status, &message),
                Ok(Err(_)) => json_error(404, "the session ended during the ICE restart"),
                Err(_) => json_error(500, "ICE restart: no answer in time"),
            }
        }
        ufrag => {
            if shared.tuning.fault == Some(Fault::NoIce) {
                tracing::debug!(id, "serve: WHEP candidates ignored (fault injected)");
                return trickled();
            }
            let mut rejected = Vec::new();
            for (mid, c) in candidates {
                let msg = CandidateMessage {
                    sdp_mline_index: if mid.is_none() { Some(0) } else { None },
                    sdp_mid: mid,
                    candidate: c.clone(),
                    username_fragment: ufrag.map(str::to_owned),
                };
                tracing::debug!(id, candidate = %c, "serve: WHEP remote candidate");
                if let Err(e) = peer.add_remote_candidate(msg).await {
                    rejected.push(format!("{c}: {e}"));
                }
            }
            if rejected.is_empty() {
                trickled()
            } else {
                json_error(
                    400,
                    &format!("candidates rejected: {}", rejected.join("; ")),
                )
            }
        }
    }
}

/// 204 for a trickle PATCH.
fn trickled() -> Resp {
    let mut r = empty(204);
    add_header(&mut r, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    r
}

/// `DELETE`: close the session; 200 once its peer connection is closed.
async fn delete(shared: &Arc<Shared>, id: &str) -> Resp {
    let Some(entry) = shared.whep.lock().ok().and_then(|mut s| s.remove(id)) else {
        return json_error(404, "session not found");
    };
    let (reply, closed) = oneshot::channel();
    if entry.cmd.send(Cmd::Delete { reply }).is_ok() {
        let _ = tokio::time::timeout(DELETE_TIMEOUT, closed).await;
    }
    let mut r = response(200, "application/json", r#"{"status":"ok"}"#);
    add_header(&mut r, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    r
}

/// Gathering in progress for a reply: the answer to a POST, or the sdpfrag of an ICE restart.
enum Pending {
    Answer {
        sdp: String,
        reply: oneshot::Sender<Created>,
    },
    Restart {
        sdp: String,
        reply: oneshot::Sender<Result<(String, String), (u16, String)>>,
    },
}

/// One WHEP session, from the POST until it ends; `reply` gets the answer once gathering is complete.
async fn session(
    shared: Arc<Shared>,
    viewer: SocketAddr,
    path: String,
    rid: String,
    offer: String,
    remote_ufrag: String,
    reply: oneshot::Sender<Created>,
) {
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    shared.totals.connections.fetch_add(1, Ordering::Relaxed);
    shared.totals.active.fetch_add(1, Ordering::Relaxed);
    let opened = Instant::now();
    tracing::info!(id, %viewer, %path, "serve: WHEP offer received");
    let _ = shared.notices.send(ServeNotice::Opened {
        id,
        peer: viewer,
        path: path.clone(),
        kind: SignalingKind::Whep,
    });
    let counters = Arc::new(ConnCounters::default());
    let reason = run(
        &shared,
        &path,
        &rid,
        offer,
        remote_ufrag,
        reply,
        id,
        opened,
        &counters,
    )
    .await;
    if let Ok(mut s) = shared.whep.lock() {
        s.remove(&rid);
    }
    shared.totals.active.fetch_sub(1, Ordering::Relaxed);
    let lived = opened.elapsed();
    tracing::info!(id, %viewer, reason = %reason, lived_ms = lived.as_millis() as u64, "serve: WHEP session closed");
    let _ = shared.notices.send(ServeNotice::Closed {
        id,
        reason,
        frames: counters.frames.load(Ordering::Relaxed),
        payload_bytes: counters.payload_bytes.load(Ordering::Relaxed),
        lived,
    });
}

/// The session's life; returns why it ended. The peer connection is closed on return.
#[allow(clippy::too_many_arguments)]
async fn run(
    shared: &Arc<Shared>,
    path: &str,
    rid: &str,
    offer: String,
    remote_ufrag: String,
    reply: oneshot::Sender<Created>,
    id: u64,
    opened: Instant,
    counters: &Arc<ConnCounters>,
) -> String {
    let fault = shared.tuning.fault;
    let no_ice = fault == Some(Fault::NoIce);
    let deadline = tokio::time::Instant::now() + shared.tuning.handshake_deadline;
    let mut stop = shared.stop.clone();
    let (peer, mut events) = match SenderPeer::new(&shared.sender).await {
        Ok(x) => x,
        Err(e) => {
            let _ = reply.send(Err((500, e.to_string())));
            return e.to_string();
        }
    };
    let peer = Arc::new(peer);
    // NoIce: candidates in the offer are ignored too, so neither side ever has a pair to check.
    let offer = if no_ice {
        strip_candidates(&offer)
    } else {
        offer
    };
    let answer = match peer.answer(offer).await {
        Ok(a) => a,
        Err(e) => {
            let _ = reply.send(Err((400, e.to_string())));
            peer.close().await;
            return e.to_string();
        }
    };
    if !answer.video_negotiated {
        tracing::warn!(
            id,
            codec = ?shared.opts.codec,
            "serve: the offer has no matching video codec; the answer rejects the video m-line and nothing will be sent"
        );
    }
    let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel();
    let mut pending = Some(Pending::Answer {
        sdp: strip_candidates(&answer.sdp),
        reply,
    });
    let mut gathered: Vec<String> = Vec::new();
    let mut gather_deadline = tokio::time::Instant::now() + GATHER_TIMEOUT;
    let mut cmd_tx = Some(cmd_tx);
    let mut remote_ufrag = Some(remote_ufrag);
    let mut deleted: Option<oneshot::Sender<()>> = None;

    let mut connected = false;
    let mut media: Option<tokio::task::JoinHandle<()>> = None;
    let mut last_packets = 0u64;
    let mut stats_tick = tokio::time::interval(Duration::from_secs(1));

    let end = loop {
        tokio::select! {
            ev = events.recv() => match ev {
                None => break "peer connection gone".to_owned(),
                Some(SenderEvent::LocalCandidate(c)) => {
                    if pending.is_some() && !no_ice {
                        gathered.push(c);
                    }
                }
                Some(SenderEvent::GatheringComplete) => {
                    tracing::debug!(id, "serve: gathering complete");
                    if let Some(p) = pending.take()
                        && let Err(end) = finish(shared, path, rid, p, std::mem::take(&mut gathered), &peer, &mut cmd_tx, &mut remote_ufrag)
                    {
                        break end;
                    }
                }
                Some(SenderEvent::IceState(s)) => tracing::debug!(id, state = %s, "serve: ICE state"),
                Some(SenderEvent::State(s)) => {
                    tracing::debug!(id, state = s.as_str(), "serve: peer connection state");
                    match s {
                        SenderPcState::Connected if !connected => {
                            connected = true;
                            media = on_connected(shared, &peer, counters, id, opened, fault).await;
                        }
                        SenderPcState::Failed => break "peer connection failed".to_owned(),
                        SenderPcState::Closed => break "peer connection closed".to_owned(),
                        _ => {}
                    }
                }
            },
            _ = tokio::time::sleep_until(gather_deadline), if pending.is_some() => {
                tracing::info!(id, "serve: gathering not complete after {GATHER_TIMEOUT:?}; answering with {} candidates", gathered.len());
                if let Some(p) = pending.take()
                    && let Err(end) = finish(shared, path, rid, p, std::mem::take(&mut gathered), &peer, &mut cmd_tx, &mut remote_ufrag)
                {
                    break end;
                }
            }
            cmd = cmd_rx.recv() => match cmd {
                None => break "session removed".to_owned(),
                Some(Cmd::Delete { reply }) => {
                    deleted = Some(reply);
                    break "DELETE received".to_owned();
                }
                Some(Cmd::Restart { ufrag, pwd, candidates, reply }) => {
                    if pending.is_some() {
                        let _ = reply.send(Err((409, "an ICE restart is already in progress".into())));
                        continue;
                    }
                    tracing::info!(id, %ufrag, "serve: ICE restart requested");
                    match peer.restart_ice(&ufrag, &pwd).await {
                        Ok(sdp) => {
                            if let Ok(mut s) = shared.whep.lock()
                                && let Some(e) = s.get_mut(rid)
                            {
                                e.remote_ufrag = ufrag.clone();
                            }
                            if !no_ice {
                                for (mid, c) in candidates {
                                    let msg = CandidateMessage {
                                        sdp_mline_index: if mid.is_none() { Some(0) } else { None },
                                        sdp_mid: mid,
                                        candidate: c,
                                        username_fragment: Some(ufrag.clone()),
                                    };
                                    if let Err(e) = peer.add_remote_candidate(msg).await {
                                        tracing::warn!(id, "serve: ICE restart: {e}");
                                    }
                                }
                            }
                            gathered.clear();
                            gather_deadline = tokio::time::Instant::now() + GATHER_TIMEOUT;
                            pending = Some(Pending::Restart { sdp, reply });
                        }
                        // A failed restart does not end the session (draft-ietf-wish-whep).
                        Err(e) => {
                            tracing::warn!(id, "serve: ICE restart failed: {e}");
                            let _ = reply.send(Err((400, e.to_string())));
                        }
                    }
                }
            },
            _ = tokio::time::sleep_until(deadline), if !connected => {
                break format!(
                    "deadline exceeded (not connected {:?} after the offer)",
                    shared.tuning.handshake_deadline
                );
            }
            _ = stats_tick.tick(), if connected => {
                if let Some(t) = peer.outbound_totals().await {
                    shared.totals.rtp_packets.fetch_add(t.packets_sent.saturating_sub(last_packets), Ordering::Relaxed);
                    last_packets = last_packets.max(t.packets_sent);
                }
            }
            _ = stop.changed() => break "server shutting down".to_owned(),
        }
    };
    if let Ok(mut s) = shared.whep.lock() {
        s.remove(rid);
    }
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
    peer.close().await;
    if let Some(d) = deleted {
        let _ = d.send(());
    }
    end
}

/// Gathering is complete (or timed out): reply to the POST (registering the session first, so a PATCH
/// right after the 201 finds it) or to the ICE-restart PATCH. `Err` ends the session.
#[allow(clippy::too_many_arguments)]
fn finish(
    shared: &Shared,
    path: &str,
    rid: &str,
    pending: Pending,
    candidates: Vec<String>,
    peer: &Arc<SenderPeer>,
    cmd_tx: &mut Option<mpsc::UnboundedSender<Cmd>>,
    remote_ufrag: &mut Option<String>,
) -> Result<(), String> {
    match pending {
        Pending::Answer { sdp, reply } => {
            let full = with_candidates(&sdp, &candidates);
            let etag = sdp_attr(&sdp, "ice-ufrag").unwrap_or(rid).to_owned();
            if let (Some(cmd), Some(remote_ufrag), Ok(mut s)) =
                (cmd_tx.take(), remote_ufrag.take(), shared.whep.lock())
            {
                s.insert(
                    rid.to_owned(),
                    Entry {
                        path: path.to_owned(),
                        peer: Arc::clone(peer),
                        cmd,
                        etag: etag.clone(),
                        remote_ufrag,
                        candidates: 0,
                        restarts: 0,
                    },
                );
            }
            reply
                .send(Ok((full, etag)))
                .map_err(|_| "the POST was abandoned before the answer".to_owned())
        }
        Pending::Restart { sdp, reply } => {
            let result = trickle_frag(&sdp, &candidates, true)
                .map(|f| write_sdpfrag(&f))
                .map_err(|e| (500, format!("ICE restart: {e}")));
            let result = result.map(|body| {
                let etag = sdp_attr(&sdp, "ice-ufrag").unwrap_or(rid).to_owned();
                if let Ok(mut s) = shared.whep.lock()
                    && let Some(e) = s.get_mut(rid)
                {
                    e.etag = etag.clone();
                }
                (body, etag)
            });
            let _ = reply.send(result);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_go_on_the_first_usable_section_with_end_of_candidates() {
        let sdp = "v=0\r\nm=audio 0 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n\
                   a=mid:1\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:2\r\n";
        let out = with_candidates(
            sdp,
            &[
                "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host".into(),
                "a=candidate:2 1 udp 1 127.0.0.1 5001 typ host".into(),
            ],
        );
        assert_eq!(
            out,
            "v=0\r\nm=audio 0 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n\
             a=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\na=candidate:2 1 udp 1 127.0.0.1 5001 typ host\r\n\
             a=end-of-candidates\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:2\r\n"
        );
        // The last section, LF input, no candidates.
        assert_eq!(
            with_candidates("v=0\nm=video 9 X 96\na=mid:0\n", &[]),
            "v=0\r\nm=video 9 X 96\r\na=mid:0\r\na=end-of-candidates\r\n"
        );
    }

    #[test]
    fn link_headers_per_url_with_credentials() {
        let specs = vec![
            crate::proto::ice_server::parse_cli_ice_server("stun:127.0.0.1:3478", None, None)
                .unwrap(),
            crate::proto::ice_server::parse_cli_ice_server(
                "turn:u\"q:p@127.0.0.1:3479",
                None,
                None,
            )
            .unwrap(),
        ];
        let links = link_headers(&specs);
        assert_eq!(links[0], r#"<stun:127.0.0.1:3478>; rel="ice-server""#);
        assert_eq!(
            links[1],
            r#"<turn:127.0.0.1:3479>; rel="ice-server"; username="u\"q"; credential="p"; credential-type="password""#
        );
        let parsed = crate::proto::whep::parse_link_headers(
            &links.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        assert_eq!(parsed.ice_servers.len(), 2);
        assert!(parsed.errors.is_empty());
    }

    #[test]
    fn ice_chars_and_sdp_attrs() {
        assert!(ice_chars("abcD+/09"));
        assert!(!ice_chars(""));
        assert!(!ice_chars("a b"));
        assert!(!ice_chars("a\r\nb"));
        assert_eq!(
            sdp_attr("v=0\r\na=ice-ufrag:xyz\r\na=ice-pwd:p\r\n", "ice-ufrag"),
            Some("xyz")
        );
        assert_eq!(sdp_attr("v=0\r\n", "ice-ufrag"), None);
    }
}
