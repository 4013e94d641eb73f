//! The rules. Each is a small function over one attempt's facts (or the session's) that returns a
//! [`Finding`] when its condition holds, and nothing otherwise. [`evaluate`] runs them all.

use crate::event::{CandidatePair, CandidateType, PairEnd, Phase, RestartCause};
use crate::format::{at_ms, bitrate};
use crate::model::same_url;
use crate::probe::ProbeOutcome;
use crate::proto::ice_server::turn_rest_expiry;

use super::net::{self, AddrClass};
use super::{Finding, Severity};
use crate::model::{Attempt, AttemptTrack, HttpFailure, Model, cause_key, cut};

/// The rule catalogue: id and what makes it fire (documentation, `--help`-style listings, tests).
pub(crate) const CATALOGUE: &[(&str, &str)] = &[
    (
        "signaling-unreachable",
        "the signaling server could not be reached (connection refused, DNS, TLS, timeout)",
    ),
    (
        "http-not-found",
        "HTTP 404 on the WebSocket upgrade or the WHEP POST: no stream on that path",
    ),
    (
        "http-unauthorized",
        "HTTP 401/403: credentials missing or refused (the WWW-Authenticate realm is quoted)",
    ),
    (
        "http-method-not-allowed",
        "HTTP 405: the URL is not the endpoint for this method (page vs /whep vs /ws)",
    ),
    (
        "http-error",
        "another HTTP error status on the signaling request",
    ),
    (
        "server-busy",
        "HTTP 409/503 with Retry-After: the server asked to come back later",
    ),
    (
        "socket-closed",
        "the server closed the WebSocket before the session connected (phase, close frame or not)",
    ),
    (
        "no-answer",
        "the offer went out but no answer came before the handshake timeout",
    ),
    (
        "protocol-error",
        "the server sent something the protocol does not allow (bad JSON, wrong kind, bad SDP)",
    ),
    (
        "codec-mismatch",
        "the answer rejected the media sections (port 0, inactive, no common codec) or the server said so",
    ),
    (
        "no-remote-candidates",
        "the server answered but sent no ICE candidate at all",
    ),
    (
        "server-private-addresses",
        "the server offered only private/container/link-local addresses, none on this host's networks",
    ),
    (
        "no-stun-response",
        "signaling worked, checks went out to the server's candidates, and no STUN response came back",
    ),
    (
        "udp-blocked",
        "STUN/TURN servers were configured but none answered over UDP: host candidates only",
    ),
    (
        "no-ice-servers-nat",
        "no ICE servers were offered and at least one side is behind NAT",
    ),
    (
        "turn-auth-failed",
        "TURN configured, no relay candidate, and the TURN server refused the credentials (401/438)",
    ),
    (
        "turn-unreachable",
        "TURN configured, no relay candidate, and nothing came back from the TURN server",
    ),
    (
        "turn-rest-expired",
        "a TURN-REST username (expiry:user) had expired at the session's start",
    ),
    (
        "turn-rest-clock-skew",
        "a TURN-REST expiry implausibly far ahead, or accepted although expired: a clock is wrong",
    ),
    (
        "turn-tcp-tls-skipped",
        "TURN over TCP/TLS URLs were skipped: this WebRTC stack cannot use them",
    ),
    (
        "ice-server-probe-failed",
        "probing an ICE server on its own (STUN binding, TURN allocate) failed, and no other rule explains it",
    ),
    (
        "symmetric-nat",
        "srflx candidates of one local socket got different mapped ports: endpoint-dependent mapping",
    ),
    (
        "cgnat",
        "a local or mapped address is in 100.64.0.0/10 (carrier-grade NAT)",
    ),
    (
        "ice-failed",
        "ICE never connected and no more specific rule explains why",
    ),
    (
        "dtls-failed",
        "ICE connected but the DTLS handshake never completed",
    ),
    (
        "no-media",
        "the peer connection connected but no RTP arrived",
    ),
    (
        "media-stalled",
        "RTP arrived, then stopped for several seconds while the session stayed up",
    ),
    (
        "no-keyframes",
        "video RTP arrives but no key frame has: the picture cannot be decoded",
    ),
    ("packet-loss", "more than 5 % of the packets were lost"),
    (
        "slow-setup",
        "the session took long to set up; the slowest phase is named (a WHEP 201 after ~5 s: STUN gathering)",
    ),
    (
        "restart-loop",
        "three or more attempts ended within ten minutes; the common cause is named",
    ),
    (
        "healthy",
        "connected and media flows: pair type, RTT, bitrate, loss (the verdict when all is well)",
    ),
];

/// Wait this long after the answer before judging ICE (unless the attempt or session ended first).
const ICE_GRACE_MS: f64 = 10_000.0;
/// Wait this long after the offer before judging gathering (TURN allocations, STUN).
const GATHER_GRACE_MS: f64 = 5_000.0;
/// Wait this long after `connected` before saying no media came.
const MEDIA_GRACE_MS: f64 = 5_000.0;
/// RTP silence that counts as a stall.
const STALL_MS: f64 = 3_000.0;
/// Video without a key frame this long after the first packet is a finding.
const NO_KEYFRAME_MS: f64 = 3_500.0;
/// Restart-loop window and threshold.
const LOOP_WINDOW_MS: f64 = 600_000.0;
const LOOP_MIN: usize = 3;
/// TURN-REST expiries further ahead than this are implausible.
const TURN_REST_MAX_AHEAD_S: i64 = 30 * 24 * 3600;

/// What a rule sees: the session, one attempt, and whether that attempt is over.
pub(crate) struct Ctx<'a> {
    /// The whole session's model (session facts, time, restarts, probes).
    pub d: &'a Model,
    /// The attempt judged.
    pub a: &'a Attempt,
}

impl Ctx<'_> {
    /// Whether the attempt is over (restarted, or the session ended).
    fn over(&self) -> bool {
        self.a.end.is_some() || self.d.ended().is_some()
    }

    /// Whether the attempt is over, or `grace` has passed since `since`.
    fn waited(&self, since: Option<f64>, grace: f64) -> bool {
        self.over() || since.is_some_and(|s| self.d.now_ms() - s >= grace)
    }

    /// Whether ICE has had its chance: ICE failed, or the attempt is over, or the grace passed.
    fn ice_settled(&self) -> bool {
        self.a.ice_failed_ms.is_some()
            || self.a.pc_failed_ms.is_some()
            || self.waited(
                self.a.ice_checking_ms().or(self.a.answer_ms()),
                ICE_GRACE_MS,
            )
    }

    /// Whether gathering has had its chance.
    fn gathering_settled(&self) -> bool {
        self.a.gathering_complete_ms.is_some()
            || self.waited(
                self.a.offer_ms().or(self.a.ice_servers_ms()),
                GATHER_GRACE_MS,
            )
    }

    /// "attempt N" for evidence.
    fn attempt_label(&self) -> String {
        format!("attempt {}", self.a.number)
    }
}

/// Build a finding.
fn finding(
    id: &'static str,
    severity: Severity,
    title: impl Into<String>,
    evidence: Vec<String>,
    fix: Option<&str>,
) -> Finding {
    Finding {
        id,
        severity,
        title: title.into(),
        evidence,
        fix: fix.map(str::to_owned),
    }
}

fn fmt_candidate(c: &crate::event::Candidate) -> String {
    format!(
        "{} {} {}",
        c.typ.as_str(),
        c.protocol,
        host_port(&c.address, c.port)
    )
}

fn fmt_end(e: &PairEnd) -> String {
    format!(
        "{} {} {}",
        e.typ.as_str(),
        e.protocol,
        host_port(&e.address, e.port)
    )
}

fn host_port(address: &str, port: u16) -> String {
    if address.contains(':') && !address.starts_with('[') {
        format!("[{address}]:{port}")
    } else {
        format!("{address}:{port}")
    }
}

fn fmt_pair(p: &CandidatePair) -> String {
    let end = |e: &Option<PairEnd>| e.as_ref().map_or_else(|| "?".to_owned(), fmt_end);
    format!("{} → {}", end(&p.local), end(&p.remote))
}

/// A list, at most `n` items, then "and K more".
fn list(items: impl IntoIterator<Item = String>, n: usize) -> String {
    let all: Vec<String> = items.into_iter().collect();
    let mut s = all.iter().take(n).cloned().collect::<Vec<_>>().join(", ");
    if all.len() > n {
        s.push_str(&format!(" and {} more", all.len() - n));
    }
    s
}

/// Local candidate counts in words.
fn local_counts(a: &Attempt) -> String {
    format!(
        "local candidates: {} host, {} srflx, {} relay",
        a.local_count(CandidateType::Host),
        a.local_count(CandidateType::Srflx),
        a.local_count(CandidateType::Relay)
    )
}

/// URLs of the ICE servers the stack uses (not those it skipped), by scheme prefix.
fn server_urls<'a>(a: &'a Attempt, schemes: &'a [&str]) -> impl Iterator<Item = &'a str> {
    a.servers()
        .iter()
        .flat_map(|s| s.urls.iter())
        .filter_map(move |u| {
            let lower = u.to_ascii_lowercase();
            (schemes.iter().any(|s| lower.starts_with(s))
                && !a.skipped().iter().any(|k| k.url.eq_ignore_ascii_case(u)))
            .then_some(u.as_str())
        })
}

/// `host:port` of an ICE URL (scheme, credentials and query removed).
fn server_host(u: &str) -> String {
    let rest = u.split_once(':').map_or(u, |(_, r)| r);
    let rest = rest.rsplit('@').next().unwrap_or(rest);
    rest.split('?').next().unwrap_or(rest).to_owned()
}

/// Whether a URL is reached over UDP (stun:, turn: without `transport=tcp`).
fn is_udp_url(u: &str) -> bool {
    let l = u.to_ascii_lowercase();
    (l.starts_with("stun:") || l.starts_with("turn:")) && !l.contains("transport=tcp")
}

/// Whether a stack TURN message says the server answered with an authentication error.
fn is_auth_error(msg: &str) -> bool {
    let l = msg.to_ascii_lowercase();
    [
        "401",
        "unauthorized",
        "438",
        "stale nonce",
        "403",
        "forbidden",
        "441",
        "wrong credentials",
    ]
    .iter()
    .any(|k| l.contains(k))
}

/// Whether a stack TURN message shows the server answered at all (any error response).
fn is_turn_response(msg: &str) -> bool {
    is_auth_error(msg) || msg.to_ascii_lowercase().contains("error response")
}

/// The probe results of the session for URL `url` (by the same server: host, port and scheme).
fn probes_for<'a>(
    d: &'a Model,
    url: &'a str,
) -> impl Iterator<Item = &'a crate::probe::ProbeResult> {
    d.probes()
        .iter()
        .filter(move |p| same_url(&p.url, url) || same_server(&p.url, url))
}

/// Whether two ICE URLs name the same scheme, host and port once credentials are removed.
fn same_server(a: &str, b: &str) -> bool {
    let key = |u: &str| {
        let l = u.to_ascii_lowercase();
        let l = l.split('?').next().unwrap_or(&l).to_owned();
        match (l.split_once(':'), l.rfind('@')) {
            (Some((scheme, _)), Some(at)) => format!("{scheme}:{}", &l[at + 1..]),
            _ => l,
        }
    };
    key(a) == key(b)
}

/// Whether a probe outcome is an authentication refusal.
fn probe_auth_error(p: &crate::probe::ProbeResult) -> bool {
    matches!(p.outcome, ProbeOutcome::StunError { code, .. } if matches!(code, 401 | 403 | 438 | 441))
}

/// Whether a probe got nothing back (timeout, connection or DNS failure).
fn probe_silent(p: &crate::probe::ProbeResult) -> bool {
    matches!(
        p.outcome,
        ProbeOutcome::Timeout { .. }
            | ProbeOutcome::ConnectError { .. }
            | ProbeOutcome::DnsError { .. }
    )
}

/// `probe: <summary>` evidence lines of the probes of `urls` matching `pred`.
fn probe_evidence(
    d: &Model,
    urls: &[String],
    pred: impl Fn(&crate::probe::ProbeResult) -> bool,
) -> Vec<String> {
    let mut out = Vec::new();
    for p in d.probes() {
        if pred(p)
            && urls
                .iter()
                .any(|u| same_url(&p.url, u) || same_server(&p.url, u))
        {
            out.push(format!("probe: {}", p.summary()));
        }
    }
    out.truncate(4);
    out
}

// ---------------------------------------------------------------------------------------------------
// Signaling
// ---------------------------------------------------------------------------------------------------

/// `signaling-unreachable`: the signaling connection could not be opened at all (no HTTP status):
/// connection refused, DNS, TLS or a timeout; or a WHEP request got no response.
fn signaling_unreachable(cx: &Ctx) -> Option<Finding> {
    let a = cx.a;
    if a.signaling_connected().is_some() {
        return None;
    }
    let (error, what) = if let Some((e, _, _)) = a.signaling_failed.iter().find(|f| f.1.is_none()) {
        (e.clone(), "connect")
    } else if let Some((m, e)) = a.http_unanswered.first() {
        (format!("{m}: {e}"), "request")
    } else if let Some(RestartCause::SignalingFailed {
        error,
        http_status: None,
    }) = a.end.as_ref().map(|e| &e.cause)
    {
        (error.clone(), "connect")
    } else {
        return None;
    };
    let target = cx.d.session().map(|s| s.target.clone());
    let l = error.to_ascii_lowercase();
    let fix = if l.contains("refused") {
        "Nothing listens on that host and port: check the URL's port, that the server runs, and any firewall in between."
    } else if l.contains("dns") || l.contains("resolve") || l.contains("name") {
        "The host name does not resolve from here: check the spelling, or use the IP address."
    } else if l.contains("tls") || l.contains("certificate") {
        "The TLS handshake failed: for a self-signed certificate use --insecure; otherwise check the certificate and the clock."
    } else {
        "The server did not answer: check the host, the port, and firewalls or proxies in between."
    };
    let mut ev = vec![format!("{}: {what} failed: {error}", cx.attempt_label())];
    if let Some(t) = target {
        ev.push(format!("target: {t}"));
    }
    Some(finding(
        "signaling-unreachable",
        Severity::Critical,
        format!("Could not reach the signaling server: {error}"),
        ev,
        Some(fix),
    ))
}

/// The latest HTTP failure of the attempt with a status in `statuses`.
fn http_failure<'a>(a: &'a Attempt, statuses: &[u16]) -> Option<&'a HttpFailure> {
    a.http_failures
        .iter()
        .rev()
        .find(|f| statuses.contains(&f.status))
}

fn http_evidence(cx: &Ctx, f: &HttpFailure) -> Vec<String> {
    let mut ev = vec![format!(
        "{}: {} answered HTTP {}{}",
        cx.attempt_label(),
        if f.method == "GET" {
            "the WebSocket upgrade".to_owned()
        } else {
            f.method.clone()
        },
        f.status,
        if f.reason.is_empty() {
            String::new()
        } else {
            format!(" {}", f.reason)
        }
    )];
    if let Some(s) = cx.d.session() {
        ev.push(format!("URL: {}", s.target));
    }
    if !f.body.trim().is_empty() {
        ev.push(format!("body: {}", f.body.trim()));
    }
    if let Some(w) = &f.www_authenticate {
        ev.push(format!("WWW-Authenticate: {w}"));
    }
    if let Some(allow) = &f.allow {
        ev.push(format!("Allow: {allow}"));
    }
    ev
}

/// `http-not-found`: HTTP 404 on the WebSocket upgrade or the WHEP POST. MediaMTX answers 404 when no
/// stream is published on the path.
fn http_not_found(cx: &Ctx) -> Option<Finding> {
    let f = http_failure(cx.a, &[404])?;
    let no_stream = f.body.to_ascii_lowercase().contains("no stream");
    let title = if no_stream {
        "HTTP 404: no stream is being published on that path".to_owned()
    } else {
        "HTTP 404: nothing at that URL (no stream on that path, or a wrong path)".to_owned()
    };
    Some(finding(
        "http-not-found",
        Severity::Error,
        title,
        http_evidence(cx, f),
        Some(
            "Check the path name (case matters) and that a publisher is sending to it. MediaMTX URLs are \
             http://host:8889/<path>/whep (WHEP) or ws://host:8889/<path>/ws (v0.21-v0.22).",
        ),
    ))
}

/// `http-unauthorized`: HTTP 401 or 403; the realm of `WWW-Authenticate` is quoted.
fn http_unauthorized(cx: &Ctx) -> Option<Finding> {
    let f = http_failure(cx.a, &[401, 403])?;
    let realm = f
        .www_authenticate
        .as_deref()
        .and_then(|w| {
            let i = w.to_ascii_lowercase().find("realm=")?;
            let rest = &w[i + "realm=".len()..];
            Some(
                rest.trim_start_matches('"')
                    .split('"')
                    .next()
                    .unwrap_or(rest)
                    .split(',')
                    .next()
                    .unwrap_or(rest)
                    .to_owned(),
            )
        })
        .filter(|r| !r.is_empty());
    let title = match (f.status, &realm) {
        (401, Some(r)) => format!("HTTP 401: the server wants credentials (realm \"{r}\")"),
        (401, None) => "HTTP 401: the server wants credentials".to_owned(),
        (_, Some(r)) => format!("HTTP 403: the credentials were refused (realm \"{r}\")"),
        (_, None) => "HTTP 403: access refused with these credentials".to_owned(),
    };
    Some(finding(
        "http-unauthorized",
        Severity::Error,
        title,
        http_evidence(cx, f),
        Some(
            "Pass credentials: user:pass@ in the URL (HTTP Basic), --bearer TOKEN, or --header \
             'Authorization: …'. For MediaMTX, check authInternalUsers / the read permissions of the path.",
        ),
    ))
}

/// `http-method-not-allowed`: HTTP 405 on the signaling request: the URL is a page or another endpoint.
fn http_method_not_allowed(cx: &Ctx) -> Option<Finding> {
    let f = http_failure(cx.a, &[405])?;
    Some(finding(
        "http-method-not-allowed",
        Severity::Error,
        format!(
            "HTTP 405: that URL does not take {} (wrong URL: page vs /whep vs /ws)",
            if f.method == "GET" {
                "a WebSocket upgrade".to_owned()
            } else {
                format!("a {}", f.method)
            }
        ),
        http_evidence(cx, f),
        Some(
            "Use the endpoint, not the page: WHEP is http://host:8889/<path>/whep, the legacy WebSocket \
             ws://host:8889/<path>/ws; or give the page URL http://host:8889/<path>/ and let rtcscope detect it.",
        ),
    ))
}

/// `http-error`: any other HTTP error status on the signaling request (not 401/403/404/405, not a
/// 409/503 with Retry-After, not a codec complaint, which `codec-mismatch` explains).
fn http_error(cx: &Ctx) -> Option<Finding> {
    let f = cx.a.http_failures.iter().rev().find(|f| {
        !matches!(f.status, 401 | 403 | 404 | 405 | 409 | 503) && !mentions_codec(&f.body)
    })?;
    let title = if f.status >= 500 {
        format!(
            "HTTP {}: the server failed on the signaling request",
            f.status
        )
    } else {
        format!(
            "HTTP {}: the server refused the signaling request",
            f.status
        )
    };
    Some(finding(
        "http-error",
        Severity::Error,
        title,
        http_evidence(cx, f),
        Some("Read the body above and the server's log for the reason."),
    ))
}

fn mentions_codec(body: &str) -> bool {
    let l = body.to_ascii_lowercase();
    l.contains("codec")
}

/// `server-busy`: HTTP 409/503 with Retry-After (WHEP): the server asked to come back later.
fn server_busy(cx: &Ctx) -> Option<Finding> {
    let (status, wait, error) = match cx.a.end.as_ref().map(|e| &e.cause) {
        Some(RestartCause::ServerBusy {
            http_status,
            retry_after_ms,
            error,
        }) => (*http_status, *retry_after_ms, error.clone()),
        _ => {
            let f = http_failure(cx.a, &[409, 503])?;
            (f.status, f64::NAN, f.body.clone())
        }
    };
    let mut ev = vec![format!(
        "{}: HTTP {status}{}",
        cx.attempt_label(),
        if wait.is_finite() {
            format!(", Retry-After {}", at_ms(wait))
        } else {
            String::new()
        }
    )];
    if !error.trim().is_empty() {
        ev.push(format!("server said: {}", error.trim()));
    }
    Some(finding(
        "server-busy",
        Severity::Warning,
        format!("HTTP {status}: the server is busy or not ready and asked to retry later"),
        ev,
        Some(
            "Wait for the publisher to start or the server to free capacity; rtcscope retries as asked.",
        ),
    ))
}

/// `socket-closed`: the server closed the WebSocket before the session connected. Without a close
/// frame (MediaMTX's way of reporting any error) the phase is the only clue, and each phase has its
/// likely causes. A close after the answer is a consequence of ICE not connecting: a warning, since the
/// ICE rules carry the error.
fn socket_closed(cx: &Ctx) -> Option<Finding> {
    let a = cx.a;
    let closed = a.closed.as_ref().filter(|c| !c.local);
    let phase = match (closed, a.end.as_ref().map(|e| &e.cause)) {
        (Some(c), _) => c.phase,
        (None, Some(RestartCause::SocketClosed { phase })) => *phase,
        _ => return None,
    };
    if phase == Phase::Closed {
        return None;
    }
    let frame = match closed {
        Some(c) => match (c.code, &c.reason) {
            (None, _) => "without a close frame (the TCP connection just ended: 1006)".to_owned(),
            (Some(code), Some(r)) if !r.is_empty() => format!("with close code {code} \"{r}\""),
            (Some(code), _) => format!("with close code {code}"),
        },
        None => "(socket closed)".to_owned(),
    };
    let (severity, fix) = match phase {
        Phase::Connecting | Phase::AwaitingIceServers | Phase::CreatingOffer => (
            Severity::Error,
            "The server dropped the connection before negotiating: check the path, authentication, and \
             the server's log (a reverse proxy without WebSocket Upgrade support does this too).",
        ),
        Phase::AwaitingAnswer => (
            Severity::Error,
            "The server rejected the offer without saying why: usually no stream on the path or no \
             codec in common (e.g. H265 or H264 with B-frames). The server's log has the reason.",
        ),
        Phase::Negotiating => (
            Severity::Warning,
            "The server gave up waiting for ICE to connect (MediaMTX closes after 10 s: \"deadline \
             exceeded while waiting connection\"); see the ICE findings for why it did not connect.",
        ),
        Phase::Connected | Phase::Closed => (
            Severity::Warning,
            "The server ended an established session: it restarted, the publisher went away, or a \
             proxy timed the socket out.",
        ),
    };
    let mut ev = vec![format!(
        "{}: socket closed {} {frame}",
        cx.attempt_label(),
        phase.describe()
    )];
    if let Some(end) = &a.end {
        ev.push(format!("the attempt lived {}", at_ms(end.lived_ms)));
    }
    Some(finding(
        "socket-closed",
        severity,
        format!("The server closed the WebSocket {}", phase.describe()),
        ev,
        Some(fix),
    ))
}

/// `no-answer`: the offer went out, and the handshake timeout fired before any answer came.
fn no_answer(cx: &Ctx) -> Option<Finding> {
    let a = cx.a;
    let Some(RestartCause::HandshakeTimeout { phase }) = a.end.as_ref().map(|e| &e.cause) else {
        return None;
    };
    if a.answered() || *phase == Phase::Negotiating || *phase == Phase::Connected {
        return None;
    }
    let mut ev = vec![format!(
        "{}: handshake timeout {}",
        cx.attempt_label(),
        phase.describe()
    )];
    if let Some(o) = a.offer_ms() {
        ev.push(format!(
            "offer sent at {}, nothing came back in {}",
            at_ms(o - a.started_ms),
            at_ms(a.end.as_ref().map_or(0.0, |e| e.t_ms) - o)
        ));
    }
    Some(finding(
        "no-answer",
        Severity::Error,
        format!("The server never answered ({})", phase.describe()),
        ev,
        Some(
            "The server accepted the connection but did not negotiate: check its log; a stream that is not ready yet, or a proxy buffering the response, does this.",
        ),
    ))
}

/// `protocol-error`: the server sent something the protocol does not allow.
fn protocol_error(cx: &Ctx) -> Option<Finding> {
    let a = cx.a;
    let first = a.protocol_errors.first()?;
    let mut ev: Vec<String> = a
        .protocol_errors
        .iter()
        .take(3)
        .map(|e| format!("{}: {e}", cx.attempt_label()))
        .collect();
    if a.bad_messages > 0 {
        ev.push(format!(
            "{} message(s) of a kind the protocol does not have",
            a.bad_messages
        ));
    }
    Some(finding(
        "protocol-error",
        Severity::Error,
        format!("The server broke the signaling protocol: {first}"),
        ev,
        Some(
            "The server (or a proxy rewriting its messages) speaks another protocol or version: check the URL scheme (--protocol ws|whep) and the server's version.",
        ),
    ))
}

/// `codec-mismatch`: the answer rejected the media (m-line port 0, `a=inactive`, or no codec kept), or
/// the server refused the offer saying it has no supported codec. A rejected audio section next to an
/// accepted video one is normal (a stream without audio) and stays silent.
fn codec_mismatch(cx: &Ctx) -> Option<Finding> {
    let a = cx.a;
    if let Some(f) = a
        .http_failures
        .iter()
        .rev()
        .find(|f| mentions_codec(&f.body))
    {
        return Some(finding(
            "codec-mismatch",
            Severity::Error,
            format!(
                "HTTP {}: the server has no codec in common with this viewer",
                f.status
            ),
            http_evidence(cx, f),
            Some(CODEC_FIX),
        ));
    }
    let media: Vec<_> = a
        .sections
        .iter()
        .filter(|s| s.media == "video" || s.media == "audio")
        .collect();
    if media.is_empty() {
        return None;
    }
    let rejected = |s: &crate::model::sdp::SectionOutcome| {
        !s.accepted
            || s.accepted_codecs.is_empty()
            || matches!(s.answered_direction.as_deref(), Some("inactive"))
            || (s.offered_direction == "recvonly"
                && matches!(s.answered_direction.as_deref(), Some("recvonly")))
    };
    let bad: Vec<_> = media.iter().filter(|s| rejected(s)).collect();
    let video_bad = bad.iter().any(|s| s.media == "video");
    if bad.is_empty() || (!video_bad && bad.len() < media.len()) {
        return None;
    }
    let mut ev = Vec::new();
    for s in &media {
        let why = if !s.accepted {
            "rejected (port 0)".to_owned()
        } else if matches!(s.answered_direction.as_deref(), Some("inactive")) {
            "answered inactive".to_owned()
        } else if s.accepted_codecs.is_empty() {
            "accepted with no codec in common".to_owned()
        } else if matches!(s.answered_direction.as_deref(), Some("recvonly")) {
            "answered recvonly (the server will not send)".to_owned()
        } else {
            format!("accepted: {}", list(s.accepted_codecs.iter().cloned(), 3))
        };
        ev.push(format!(
            "m-line {} ({}{}): {why}; offered {}",
            s.index,
            s.media,
            s.mid
                .as_deref()
                .map(|m| format!(", mid {m}"))
                .unwrap_or_default(),
            list(
                s.rejected_codecs.iter().chain(&s.accepted_codecs).cloned(),
                6
            )
        ));
    }
    let title = if bad.len() == media.len() {
        "The answer rejected every media section: no codec in common (or nothing to send)"
            .to_owned()
    } else {
        "The answer rejected the video section: no video codec in common".to_owned()
    };
    Some(finding(
        "codec-mismatch",
        Severity::Error,
        title,
        ev,
        Some(CODEC_FIX),
    ))
}

const CODEC_FIX: &str = "Publish a codec WebRTC viewers accept: H264 constrained baseline without \
     B-frames, VP8, VP9 or AV1 for video, Opus for audio (re-encode, e.g. ffmpeg -c:v libx264 -profile:v \
     baseline -bf 0 -c:a libopus). H265 and AAC are not WebRTC codecs for most viewers.";

// ---------------------------------------------------------------------------------------------------
// ICE
// ---------------------------------------------------------------------------------------------------

/// The remote candidates' IP classes, and whether each is reachable from one of our host addresses.
fn remote_reachability(a: &Attempt) -> Vec<(String, AddrClass, bool)> {
    let locals: Vec<&str> = a
        .local()
        .filter(|c| c.typ == CandidateType::Host)
        .map(|c| c.address.as_str())
        .collect();
    a.remote()
        .map(|c| {
            let class = net::classify(&c.address);
            let reachable = match class {
                AddrClass::Public | AddrClass::Name => true,
                _ => locals.iter().any(|l| net::same_network(l, &c.address)),
            };
            (fmt_candidate(c), class, reachable)
        })
        .collect()
}

/// Whether every remote candidate is a local-only address none of our interfaces shares.
fn all_remote_unreachable(a: &Attempt) -> bool {
    let r = remote_reachability(a);
    !r.is_empty()
        && r.iter()
            .all(|(_, class, reachable)| class.is_local_only() && !reachable)
}

/// `no-remote-candidates`: the server answered but sent no ICE candidate (none trickled, none in the
/// answer), and ICE did not connect.
fn no_remote_candidates(cx: &Ctx) -> Option<Finding> {
    let a = cx.a;
    if !a.answered()
        || a.ice_connected()
        || a.remote_total() > 0
        || a.answer_candidates > 0
        || !cx.waited(a.answer_ms(), GATHER_GRACE_MS)
    {
        return None;
    }
    let mut ev = vec![format!(
        "{}: answer at {}, then {} without a single remote candidate",
        cx.attempt_label(),
        at_ms(a.answer_ms().unwrap_or(0.0) - a.started_ms),
        at_ms(a.end.as_ref().map_or(cx.d.now_ms(), |e| e.t_ms) - a.answer_ms().unwrap_or(0.0))
    )];
    if a.no_pairs_warning {
        ev.push("the WebRTC stack reported no candidate pair to check".into());
    }
    ev.push(local_counts(a));
    Some(finding(
        "no-remote-candidates",
        Severity::Error,
        "The server answered but offered no ICE candidate: there is no address to connect to",
        ev,
        Some(
            "The server found no address to announce: for MediaMTX check webrtcLocalUDPAddress / webrtcLocalTCPAddress are enabled, and set webrtcAdditionalHosts (or webrtcIPsFromInterfaces).",
        ),
    ))
}

/// `server-private-addresses`: every remote candidate is a private, container, link-local, CGNAT or
/// loopback address that none of our host candidates shares a network with (127.0.0.1 to 127.0.0.1 is
/// reachable), and ICE did not connect.
fn server_private_addresses(cx: &Ctx) -> Option<Finding> {
    let a = cx.a;
    let has_host = a.local().any(|c| c.typ == CandidateType::Host);
    if a.ice_connected()
        || !a.answered()
        || !has_host
        || a.policy() == "relay"
        || !cx.ice_settled()
        || !all_remote_unreachable(a)
    {
        return None;
    }
    let mut ev: Vec<String> = remote_reachability(a)
        .into_iter()
        .take(6)
        .map(|(c, class, _)| format!("server candidate {c}: {}", class.describe()))
        .collect();
    let locals = a
        .local()
        .filter(|c| c.typ == CandidateType::Host)
        .map(|c| c.address.clone());
    ev.push(format!("this host's addresses: {}", list(locals, 6)));
    ev.push(format!(
        "ICE still {} {} after the answer",
        a.states.ice_connection.as_deref().unwrap_or("not started"),
        at_ms(
            a.ice_failed_ms
                .or(a.end.as_ref().map(|e| e.t_ms))
                .unwrap_or(cx.d.now_ms())
                - a.answer_ms().unwrap_or(0.0)
        )
    ));
    let container = a
        .remote()
        .any(|c| net::classify(&c.address) == AddrClass::Container);
    let title = if container {
        "The server offered only container addresses (Docker bridge), not reachable from here"
    } else {
        "The server offered only private addresses, none reachable from here"
    };
    Some(finding(
        "server-private-addresses",
        Severity::Error,
        title,
        ev,
        Some(
            "Make the server announce an address this viewer can reach: MediaMTX webrtcAdditionalHosts: [<public or LAN IP>], or run its container with --network host; otherwise add a TURN server.",
        ),
    ))
}

/// `no-stun-response`: signaling worked and the server offered reachable-looking candidates, checks
/// went out, and no STUN response came back on any pair (the UDP port is not forwarded or is
/// filtered). With pair counters: requests sent > 0 and responses received = 0 on every pair. webrtc-rs
/// 0.21 reports pair counters only for a selected pair, so without them: no pair was ever selected.
fn no_stun_response(cx: &Ctx) -> Option<Finding> {
    let a = cx.a;
    if !a.answered()
        || a.ice_connected()
        || a.remote().next().is_none()
        || a.local_total() == 0
        || a.no_pairs_warning
        || !cx.ice_settled()
        || all_remote_unreachable(a)
    {
        return None;
    }
    let sent: u64 = a.pairs.iter().map(|p| p.requests_sent).sum();
    if !a.pairs.is_empty() && (sent == 0 || a.pairs.iter().any(|p| p.responses_received > 0)) {
        return None;
    }
    let mut ev: Vec<String> = a
        .remote()
        .take(4)
        .map(|c| format!("server candidate {}", fmt_candidate(c)))
        .collect();
    if a.pairs.is_empty() {
        ev.push("no candidate pair ever succeeded (this WebRTC stack reports pair counters only once a pair is selected)".into());
    } else {
        for p in a.pairs.iter().take(4) {
            ev.push(format!(
                "pair {}: {} requests sent, 0 responses",
                fmt_pair(p),
                p.requests_sent
            ));
        }
    }
    ev.push(format!(
        "signaling worked: answer at {}; ICE checking for {}",
        at_ms(a.answer_ms().unwrap_or(0.0) - a.started_ms),
        at_ms(
            a.ice_failed_ms
                .or(a.end.as_ref().map(|e| e.t_ms))
                .unwrap_or(cx.d.now_ms())
                - a.ice_checking_ms().or(a.answer_ms()).unwrap_or(0.0)
        )
    ));
    let ports = list(
        a.remote()
            .filter(|c| c.protocol == "udp")
            .map(|c| format!("udp/{}", host_port(&c.address, c.port))),
        3,
    );
    Some(finding(
        "no-stun-response",
        Severity::Error,
        format!(
            "Signaling works, but no ICE response came back from the server's candidates ({})",
            if ports.is_empty() { "tcp" } else { &ports }
        ),
        ev,
        Some(
            "The server's media port is not reachable from here: forward/open its UDP port (MediaMTX webrtcLocalUDPAddress, 8189 by default), or enable webrtcLocalTCPAddress, or add a TURN server.",
        ),
    ))
}

/// `udp-blocked`: STUN/TURN servers reachable over UDP were configured, gathering finished, and no
/// srflx or relay candidate came back from any of them: only host candidates. An error response from a
/// TURN server proves UDP works, so that case belongs to `turn-auth-failed`.
fn udp_blocked(cx: &Ctx) -> Option<Finding> {
    let a = cx.a;
    let urls: Vec<&str> = server_urls(a, &["stun:", "turn:"])
        .filter(|u| is_udp_url(u))
        .collect();
    // TURN-only configurations are judged by the TURN rules (a dead TURN server looks the same).
    let has_stun = urls
        .iter()
        .any(|u| u.to_ascii_lowercase().starts_with("stun:"));
    if !has_stun
        || a.policy() == "relay"
        || a.local_count(CandidateType::Srflx) > 0
        || a.local_count(CandidateType::Relay) > 0
        || a.local_count(CandidateType::Host) == 0
        || a.turn_warnings.iter().any(|w| is_turn_response(w))
        || !cx.gathering_settled()
    {
        return None;
    }
    let connected = a.ice_connected();
    if !connected && !cx.ice_settled() && !cx.over() {
        return None;
    }
    let owned: Vec<String> = urls.iter().map(|u| u.to_string()).collect();
    // A probe that got an answer over UDP proves UDP works: then it is the stack, not the network.
    if owned.iter().any(|u| {
        probes_for(cx.d, u)
            .any(|p| p.transport == crate::probe::ProbeTransport::Udp && !probe_silent(p))
    }) {
        return None;
    }
    let mut ev = vec![
        format!("servers tried over UDP: {}", list(owned.iter().cloned(), 4)),
        local_counts(a),
    ];
    ev.extend(probe_evidence(cx.d, &owned, probe_silent));
    if let Some(g) = a.gathering_complete_ms {
        ev.push(format!(
            "gathering finished {} after the offer with no reflexive candidate",
            at_ms(g - a.offer_ms().unwrap_or(a.started_ms))
        ));
    }
    let mut hosts: Vec<String> = owned.iter().map(|u| server_host(u)).collect();
    hosts.sort();
    hosts.dedup();
    let or_down = if hosts.len() == 1 {
        format!(", or {} is down", hosts[0])
    } else {
        String::new()
    };
    let (severity, title) = if connected {
        (
            Severity::Warning,
            format!(
                "No STUN/TURN server answered over UDP{or_down} (this session connected directly, but viewers behind NAT would not)"
            ),
        )
    } else {
        (
            Severity::Error,
            format!(
                "No STUN/TURN server answered over UDP: this network seems to block outbound UDP{or_down}"
            ),
        )
    };
    Some(finding(
        "udp-blocked",
        severity,
        title,
        ev,
        Some(
            "Allow outbound UDP (3478 and the media ports) from this network, or use TURN over TCP/TLS on 443 (turn:host:443?transport=tcp, turns:host:443); `rtcscope probe <url>` tests each server on its own.",
        ),
    ))
}

/// `no-ice-servers-nat`: the ICE-server list was empty, ICE did not connect, and at least one side is
/// behind NAT (our host addresses are all private, or the server's are).
fn no_ice_servers_nat(cx: &Ctx) -> Option<Finding> {
    let a = cx.a;
    if !a.ice_servers_known()
        || !a.servers().is_empty()
        || a.ice_connected()
        || !a.answered()
        || !cx.ice_settled()
    {
        return None;
    }
    let hosts: Vec<&crate::event::Candidate> =
        a.local().filter(|c| c.typ == CandidateType::Host).collect();
    let local_private = !hosts.is_empty()
        && hosts.iter().all(|c| {
            let k = net::classify(&c.address);
            k.is_local_only() && k != AddrClass::Loopback
        });
    let remote_private = a.remote().next().is_some()
        && a.remote().all(|c| {
            let k = net::classify(&c.address);
            k.is_local_only() && k != AddrClass::Loopback
        });
    if !local_private && !remote_private {
        return None;
    }
    let mut ev = vec!["the ICE-server list was empty (no STUN, no TURN)".to_owned()];
    if local_private {
        ev.push(format!(
            "this host is on private addresses only: {}",
            list(hosts.iter().map(|c| c.address.clone()), 4)
        ));
    }
    if remote_private {
        ev.push(format!(
            "the server offered private addresses only: {}",
            list(a.remote().map(|c| c.address.clone()), 4)
        ));
    }
    Some(finding(
        "no-ice-servers-nat",
        Severity::Error,
        "No ICE servers were offered, and at least one side is behind NAT: NAT traversal cannot work",
        ev,
        Some(
            "Add a STUN server, or better a TURN server, to the server's configuration (MediaMTX webrtcICEServers2), or test one with --ice-server.",
        ),
    ))
}

/// The TURN URLs in use (not skipped).
fn turn_urls(a: &Attempt) -> Vec<String> {
    server_urls(a, &["turn:", "turns:"])
        .map(str::to_owned)
        .collect()
}

/// `turn-auth-failed`: TURN is configured, no relay candidate came, and the TURN server answered with
/// an authentication error (the stack's "TURN allocation failed … 401", or 438 stale nonce). A srflx
/// candidate coming back while no relay does also means the server answered (webrtc-rs does not ask
/// TURN servers for srflx, so this is for stacks that do).
fn turn_auth_failed(cx: &Ctx) -> Option<Finding> {
    let a = cx.a;
    let urls = turn_urls(a);
    if urls.is_empty() || a.local_count(CandidateType::Relay) > 0 || !cx.gathering_settled() {
        return None;
    }
    let auth: Vec<&String> = a
        .turn_warnings
        .iter()
        .filter(|w| is_auth_error(w))
        .collect();
    let srflx_only =
        a.local_count(CandidateType::Srflx) > 0 && server_urls(a, &["stun:"]).next().is_none();
    let probed = probe_evidence(cx.d, &urls, probe_auth_error);
    if auth.is_empty() && !srflx_only && probed.is_empty() {
        return None;
    }
    let mut ev = vec![format!(
        "TURN servers: {}",
        list(
            a.servers()
                .iter()
                .filter(|s| s
                    .urls
                    .iter()
                    .any(|u| u.to_ascii_lowercase().starts_with("turn")))
                .map(|s| format!(
                    "{} (username {})",
                    list(s.urls.iter().cloned(), 2),
                    s.username.as_deref().unwrap_or("none")
                )),
            3
        )
    )];
    for w in auth.iter().take(3) {
        ev.push(format!("stack: {w}"));
    }
    if srflx_only {
        ev.push("a srflx candidate came back (the server answered) but no relay".into());
    }
    ev.extend(probed);
    ev.push(local_counts(a));
    let severity = if a.ice_connected() {
        Severity::Warning
    } else {
        Severity::Error
    };
    Some(finding(
        "turn-auth-failed",
        severity,
        "The TURN server refused the credentials: no relay candidate",
        ev,
        Some(
            "Check the TURN username and password (MediaMTX webrtcICEServers2; coturn user/realm). For time-limited (TURN-REST) credentials, check the expiry and the shared secret. `rtcscope probe <url>` shows the server's error code.",
        ),
    ))
}

/// `turn-unreachable`: TURN is configured, no relay candidate came, and nothing came back from the
/// TURN server (no error response, no srflx) by the end of gathering.
fn turn_unreachable(cx: &Ctx) -> Option<Finding> {
    let a = cx.a;
    let urls = turn_urls(a);
    if urls.is_empty()
        || a.local_count(CandidateType::Relay) > 0
        || a.local_count(CandidateType::Srflx) > 0
        || a.turn_warnings.iter().any(|w| is_turn_response(w))
        || !cx.gathering_settled()
    {
        return None;
    }
    // The probe got an answer (auth error, or a relay): the server is there.
    if urls.iter().any(|u| {
        probes_for(cx.d, u).any(|p| {
            p.kind == crate::probe::ProbeKind::TurnAllocate && (probe_auth_error(p) || p.is_ok())
        })
    }) {
        return None;
    }
    let mut ev = vec![format!("TURN servers: {}", list(urls.iter().cloned(), 3))];
    ev.extend(probe_evidence(cx.d, &urls, probe_silent));
    for w in a.turn_warnings.iter().take(2) {
        ev.push(format!("stack: {w}"));
    }
    ev.push(match a.gathering_complete_ms {
        Some(g) => format!(
            "gathering finished {} after the offer without a relay candidate",
            at_ms(g - a.offer_ms().unwrap_or(a.started_ms))
        ),
        None => format!(
            "no relay candidate {} after the ICE servers were known (gathering never finished)",
            at_ms(
                a.end.as_ref().map_or(cx.d.now_ms(), |e| e.t_ms)
                    - a.ice_servers_ms().unwrap_or(a.started_ms)
            )
        ),
    });
    ev.push(local_counts(a));
    let severity = if a.ice_connected() {
        Severity::Warning
    } else {
        Severity::Error
    };
    Some(finding(
        "turn-unreachable",
        severity,
        format!(
            "No answer from the TURN server{} ({}): no relay candidate",
            if urls.len() > 1 { "s" } else { "" },
            list(urls.iter().cloned(), 2)
        ),
        ev,
        Some(
            "Check the TURN host and port (MediaMTX requires the port in TURN URLs) and that UDP to it is allowed; for TCP-only TURN add ?transport=tcp. `rtcscope probe <url>` tests it on its own.",
        ),
    ))
}

/// TURN-REST usernames of the attempt's servers: (urls, masked username, expiry unix seconds).
fn turn_rest_servers(a: &Attempt) -> Vec<(Vec<String>, String, u64)> {
    a.servers()
        .iter()
        .filter_map(|s| {
            let u = s.username.as_deref()?;
            Some((s.urls.clone(), u.to_owned(), turn_rest_expiry(u)?))
        })
        .collect()
}

/// Unix seconds when the attempt learnt its ICE servers (from `session_started.unix_ms` and `t_ms`).
fn unix_at(cx: &Ctx, t_ms: f64) -> Option<i64> {
    let base = cx.d.session()?.unix_ms;
    let t = if t_ms.is_finite() && t_ms > 0.0 {
        t_ms
    } else {
        0.0
    };
    i64::try_from(base / 1000)
        .ok()
        .map(|b| b.saturating_add((t / 1000.0) as i64))
}

/// RFC 3339 (seconds) of a unix time, computed (no clock read).
fn rfc3339(unix: u64) -> String {
    humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix.min(253_402_300_799)),
    )
    .to_string()
}

fn relay_from(a: &Attempt, urls: &[String]) -> bool {
    a.local().any(|c| {
        c.typ == CandidateType::Relay
            && c.url
                .as_deref()
                .is_some_and(|cu| urls.iter().any(|u| same_url(cu, u)))
    })
}

/// A long span in words: `3 min 5 s`, `5 h 2 min`, `12 days`, `6 years`.
fn ago(secs: i64) -> String {
    let s = secs.unsigned_abs();
    match s {
        0..3_600 => at_ms(s as f64 * 1000.0),
        3_600..172_800 => at_ms(s as f64 * 1000.0),
        172_800..63_072_000 => format!("{} days", s / 86_400),
        _ => format!("{} years", s / 31_557_600),
    }
}

/// `turn-rest-expired`: a TURN-REST username (`expiry:user`) had already expired when the session
/// learnt it (compared with `session_started.unix_ms`), and that server gave no relay.
fn turn_rest_expired(cx: &Ctx) -> Option<Finding> {
    let a = cx.a;
    let now = unix_at(cx, a.ice_servers_ms().unwrap_or(0.0))?;
    let expired: Vec<_> = turn_rest_servers(a)
        .into_iter()
        .filter(|(urls, _, exp)| {
            i64::try_from(*exp).unwrap_or(i64::MAX) < now && !relay_from(a, urls)
        })
        .collect();
    let (urls, user, exp) = expired.first()?;
    let left = i64::try_from(*exp).unwrap_or(i64::MAX).saturating_sub(now);
    let mut ev = vec![format!(
        "{}: username {user}: expiry {} ({}), {} before this session's clock ({})",
        list(urls.iter().cloned(), 2),
        exp,
        rfc3339(*exp),
        ago(left),
        rfc3339(u64::try_from(now).unwrap_or(0))
    )];
    for w in a.turn_warnings.iter().filter(|w| is_auth_error(w)).take(2) {
        ev.push(format!("stack: {w}"));
    }
    Some(finding(
        "turn-rest-expired",
        Severity::Error,
        format!(
            "The TURN credential expired {} ago (TURN-REST username {user})",
            ago(left)
        ),
        ev,
        Some(
            "Whoever issues the TURN credentials must mint fresh ones (they are time-limited); if they were fresh, the issuer's clock or this host's is wrong (check NTP).",
        ),
    ))
}

/// `turn-rest-clock-skew`: a TURN-REST expiry more than 30 days ahead (the issuer's clock or ours is
/// off, or an unusually long TTL), or one expired by our clock that the TURN server still accepted.
fn turn_rest_clock_skew(cx: &Ctx) -> Option<Finding> {
    let a = cx.a;
    let now = unix_at(cx, a.ice_servers_ms().unwrap_or(0.0))?;
    for (urls, user, exp) in turn_rest_servers(a) {
        let left = i64::try_from(exp).unwrap_or(i64::MAX).saturating_sub(now);
        let base = format!(
            "{}: username {user}: expiry {exp} ({}), this host's clock {} ({})",
            list(urls.iter().cloned(), 2),
            rfc3339(exp),
            now,
            rfc3339(u64::try_from(now).unwrap_or(0))
        );
        if left > TURN_REST_MAX_AHEAD_S {
            return Some(finding(
                "turn-rest-clock-skew",
                Severity::Warning,
                format!(
                    "The TURN-REST credential expires {} from now: a clock is off, or the TTL is unusually long",
                    ago(left)
                ),
                vec![base],
                Some(
                    "Check the clock (NTP) of the credential issuer and of this host; TURN-REST TTLs are usually hours.",
                ),
            ));
        }
        if left < 0 && relay_from(a, &urls) {
            return Some(finding(
                "turn-rest-clock-skew",
                Severity::Warning,
                format!(
                    "The TURN server accepted a credential that expired {} ago by this host's clock: the clocks disagree",
                    ago(left)
                ),
                vec![base, "a relay candidate came from that server".into()],
                Some("Check the clock (NTP) of this host and of the TURN server."),
            ));
        }
    }
    None
}

/// `turn-tcp-tls-skipped`: TURN over TCP/TLS URLs were listed as skipped: this stack cannot use them
/// (a browser would try them).
fn turn_tcp_tls_skipped(cx: &Ctx) -> Option<Finding> {
    let a = cx.a;
    if a.skipped().is_empty() {
        return None;
    }
    let mut ev: Vec<String> = a
        .skipped()
        .iter()
        .take(4)
        .map(|s| format!("skipped {}: {}", s.url, s.reason))
        .collect();
    let skipped: Vec<String> = a.skipped().iter().map(|k| k.url.clone()).collect();
    ev.extend(probe_evidence(cx.d, &skipped, |_| true));
    let severity = if a.media() {
        Severity::Info
    } else {
        Severity::Warning
    };
    Some(finding(
        "turn-tcp-tls-skipped",
        severity,
        format!(
            "{} TURN URL{} over TCP/TLS not tried: this WebRTC stack (webrtc-rs) cannot use them",
            a.skipped().len(),
            if a.skipped().len() == 1 { "" } else { "s" }
        ),
        ev,
        Some(
            "A browser would try them: test them with `rtcscope probe <url>`. If the server also offers TURN over UDP, that is what this session could use.",
        ),
    ))
}

/// `symmetric-nat`: srflx candidates of the same local socket (same related address and port) got
/// different mapped addresses or ports from different STUN servers: the NAT maps per destination.
fn symmetric_nat(cx: &Ctx) -> Option<Finding> {
    let a = cx.a;
    let srflx: Vec<&crate::event::Candidate> = a
        .local()
        .filter(|c| c.typ == CandidateType::Srflx)
        .collect();
    let mut groups: Vec<((String, u16), Vec<String>)> = Vec::new();
    for c in &srflx {
        let (Some(ra), Some(rp)) = (c.related_address.clone(), c.related_port) else {
            continue;
        };
        let mapped = host_port(&c.address, c.port);
        match groups.iter_mut().find(|(k, _)| *k == (ra.clone(), rp)) {
            Some((_, m)) => {
                if !m.contains(&mapped) {
                    m.push(mapped);
                }
            }
            None => groups.push(((ra, rp), vec![mapped])),
        }
    }
    let varied: Vec<_> = groups.iter().filter(|(_, m)| m.len() > 1).collect();
    if varied.is_empty() {
        return None;
    }
    let ev = varied
        .iter()
        .take(3)
        .map(|((ra, rp), m)| {
            format!(
                "local socket {} was mapped to {}",
                host_port(ra, *rp),
                list(m.iter().cloned(), 4)
            )
        })
        .collect();
    let severity =
        if !a.ice_connected() && a.local_count(CandidateType::Relay) == 0 && cx.ice_settled() {
            Severity::Error
        } else {
            Severity::Warning
        };
    Some(finding(
        "symmetric-nat",
        severity,
        "Symmetric NAT suspected: different STUN servers saw different mapped ports for the same socket",
        ev,
        Some(
            "Through an endpoint-dependent NAT, direct connectivity works only if the server is reachable on a public address; otherwise a TURN relay is required (add one, --ice-transport-policy relay to test).",
        ),
    ))
}

/// `cgnat`: a local host or mapped (srflx) address, or a srflx candidate's base, is in 100.64.0.0/10.
fn cgnat(cx: &Ctx) -> Option<Finding> {
    let a = cx.a;
    let hits: Vec<String> = a
        .local()
        .filter(|c| {
            net::is_cgnat_str(&c.address)
                || c.related_address.as_deref().is_some_and(net::is_cgnat_str)
        })
        .map(|c| {
            format!(
                "{}{}",
                fmt_candidate(c),
                c.related_address
                    .as_deref()
                    .map(|r| format!(" (base {r})"))
                    .unwrap_or_default()
            )
        })
        .collect();
    if hits.is_empty() {
        return None;
    }
    let severity = if a.ice_connected() {
        Severity::Info
    } else {
        Severity::Warning
    };
    Some(finding(
        "cgnat",
        severity,
        "This host is behind carrier-grade NAT (100.64.0.0/10)",
        vec![format!("candidates: {}", list(hits, 4))],
        Some(
            "Behind CGNAT (mobile carriers, some ISPs) inbound connections cannot reach this host and mappings are often symmetric: expect to need TURN.",
        ),
    ))
}

/// `ice-server-probe-failed`: a probe of one of the session's ICE servers (STUN binding or TURN
/// allocate, run on its own alongside the negotiation) failed, and no TURN/UDP rule already explains it.
fn ice_server_probe_failed(cx: &Ctx, found: &[Finding]) -> Option<Finding> {
    let explained = [
        "turn-auth-failed",
        "turn-unreachable",
        "udp-blocked",
        "turn-rest-expired",
    ];
    let failed: Vec<&crate::probe::ProbeResult> =
        cx.d.probes()
            .iter()
            .filter(|p| !p.is_ok())
            .filter(|p| {
                !found.iter().any(|f| {
                    explained.contains(&f.id) && f.evidence.iter().any(|e| e.contains(&p.summary()))
                })
            })
            .collect();
    let first = failed.first()?;
    let ev = failed
        .iter()
        .take(6)
        .map(|p| format!("probe: {}", p.summary()))
        .collect();
    let all_failed = cx.d.probes().iter().all(|p| !p.is_ok());
    Some(finding(
        "ice-server-probe-failed",
        if cx.a.media() {
            Severity::Info
        } else {
            Severity::Warning
        },
        format!(
            "{} of {} ICE-server probes failed{}",
            failed.len(),
            cx.d.probes().len(),
            if all_failed {
                ": no ICE server works from here"
            } else {
                ""
            }
        ),
        ev,
        Some(match first.outcome {
            ProbeOutcome::StunError { .. } => {
                "The server refused the request: check the credentials (`rtcscope probe <url>` shows the error code and reason)."
            }
            ProbeOutcome::DnsError { .. } => "The server's host name does not resolve from here.",
            ProbeOutcome::TlsError { .. } => {
                "The TLS handshake with the server failed: check its certificate (or use --insecure for a test)."
            }
            _ => {
                "Check the server's address and port, and that this network lets the transport through; `rtcscope probe <url>` retries it on its own."
            }
        }),
    ))
}

/// Ids the `ice-failed` fallback defers to.
const ICE_EXPLAINED_BY: &[&str] = &[
    "no-remote-candidates",
    "server-private-addresses",
    "no-stun-response",
    "udp-blocked",
    "no-ice-servers-nat",
    "turn-auth-failed",
    "turn-unreachable",
    "turn-rest-expired",
    "symmetric-nat",
    "codec-mismatch",
];

/// `ice-failed`: ICE never connected after the answer and none of the specific ICE rules explains it.
fn ice_failed(cx: &Ctx, found: &[Finding]) -> Option<Finding> {
    let a = cx.a;
    if !a.answered() || a.ice_connected() || !cx.ice_settled() {
        return None;
    }
    if found.iter().any(|f| ICE_EXPLAINED_BY.contains(&f.id)) {
        return None;
    }
    let mut ev = vec![
        format!(
            "{}: ICE {} {} after the answer",
            cx.attempt_label(),
            a.states
                .ice_connection
                .as_deref()
                .unwrap_or("never started"),
            at_ms(
                a.ice_failed_ms
                    .or(a.end.as_ref().map(|e| e.t_ms))
                    .unwrap_or(cx.d.now_ms())
                    - a.answer_ms().unwrap_or(0.0)
            )
        ),
        local_counts(a),
        format!(
            "remote candidates: {} parsed, {} rejected: {}",
            a.remote().count(),
            a.remote_rejected,
            list(a.remote().map(fmt_candidate), 4)
        ),
    ];
    if a.no_pairs_warning {
        ev.push("the WebRTC stack had no candidate pair to check (no local/remote combination: e.g. relay-only without a relay, or IPv4 against IPv6)".into());
    }
    for p in a.pairs.iter().take(3) {
        ev.push(format!(
            "pair {} {}: {} requests, {} responses",
            fmt_pair(p),
            p.state,
            p.requests_sent,
            p.responses_received
        ));
    }
    Some(finding(
        "ice-failed",
        Severity::Error,
        "ICE never connected",
        ev,
        Some(
            "Compare the candidates above: a reachable pair needs an address of one side the other can send UDP to; a TURN server relays when none is.",
        ),
    ))
}

// ---------------------------------------------------------------------------------------------------
// DTLS and media
// ---------------------------------------------------------------------------------------------------

/// `dtls-failed`: ICE connected, but DTLS (and so the peer connection) never did: it failed, or the
/// attempt ended, or 10 s passed.
fn dtls_failed(cx: &Ctx) -> Option<Finding> {
    let a = cx.a;
    let ice = a.ice_connected_ms()?;
    if a.connected() || a.dtls_connected_ms().is_some() {
        return None;
    }
    if !(a.dtls_failed_ms.is_some()
        || a.pc_failed_ms.is_some()
        || cx.waited(Some(ice), ICE_GRACE_MS))
    {
        return None;
    }
    let mut ev = vec![
        format!(
            "{}: ICE connected at {}",
            cx.attempt_label(),
            at_ms(ice - a.started_ms)
        ),
        format!(
            "DTLS states seen: {}; peer connection: {}",
            if a.dtls_states.is_empty() {
                "none".to_owned()
            } else {
                a.dtls_states.join(" → ")
            },
            a.states.peer_connection.as_deref().unwrap_or("?")
        ),
    ];
    if let Some(p) = a.selected_pair() {
        ev.push(format!("selected pair {}", fmt_pair(p)));
    }
    for n in a.dtls_notes.iter().take(2) {
        ev.push(format!("stack: {n}"));
    }
    let fingerprint = a
        .dtls_notes
        .iter()
        .any(|n| n.to_ascii_lowercase().contains("fingerprint"));
    let fix = if fingerprint {
        "The server's DTLS certificate does not match the fingerprint in its answer: something rewrites the SDP (a proxy or gateway), or the server is buggy."
    } else {
        "Something on the path lets STUN through but not DTLS (DPI, a firewall filtering non-STUN UDP, national blocking): try TURN over TLS on 443, or --ice-transport-policy relay."
    };
    Some(finding(
        "dtls-failed",
        Severity::Error,
        "ICE connected, but the DTLS handshake never completed",
        ev,
        Some(fix),
    ))
}

/// `no-media`: the peer connection connected, and no RTP came within 5 s (or before the attempt ended).
fn no_media(cx: &Ctx) -> Option<Finding> {
    let a = cx.a;
    let c = a.connected_ms?;
    if a.media() || !cx.waited(Some(c), MEDIA_GRACE_MS) {
        return None;
    }
    let until = a.end.as_ref().map_or(cx.d.now_ms(), |e| e.t_ms);
    let mut ev = vec![
        format!(
            "{}: connected at {}, then {} without an RTP packet",
            cx.attempt_label(),
            at_ms(c - a.started_ms),
            at_ms(until - c)
        ),
        format!("tracks announced: {}", a.tracks_added),
    ];
    if let Some(p) = a.selected_pair() {
        ev.push(format!(
            "selected pair {}: {} bytes received",
            fmt_pair(p),
            p.bytes_received
        ));
    }
    Some(finding(
        "no-media",
        Severity::Error,
        format!("Connected, but no media arrived in {}", at_ms(until - c)),
        ev,
        Some(
            "The transport works but the server sends nothing: is the publisher still sending? Check the server's log for codec errors (e.g. H264 with B-frames, H265).",
        ),
    ))
}

/// `media-stalled`: a track received RTP, then none for 3 s or more while statistics kept coming.
fn media_stalled(cx: &Ctx) -> Option<Finding> {
    let a = cx.a;
    let stalled: Vec<&AttemptTrack> = a
        .tracks
        .iter()
        .filter(|t| t.progress_ms.is_some_and(|p| t.last_ms - p >= STALL_MS))
        .collect();
    let first = stalled.first()?;
    let ev = stalled
        .iter()
        .take(4)
        .map(|t| {
            format!(
                "{} ssrc {}: {} packets, the last at {}, then {} without one",
                t.stats.kind,
                t.stats.ssrc,
                t.stats.packets_received,
                at_ms(t.progress_ms.unwrap_or(0.0) - a.started_ms),
                at_ms(t.last_ms - t.progress_ms.unwrap_or(t.last_ms))
            )
        })
        .collect();
    Some(finding(
        "media-stalled",
        Severity::Error,
        format!(
            "Media stopped {} into the attempt",
            at_ms(first.progress_ms.unwrap_or(0.0) - a.started_ms)
        ),
        ev,
        Some(
            "The connection stayed up but the server stopped sending: the publisher stopped or stalled, or the server dropped this reader; check the source and the server's log.",
        ),
    ))
}

/// `no-keyframes`: a video track has received RTP for 3.5 s or more since the first packet and not a
/// single key frame: a warning (a long GOP may still bring one), an error after 10 s.
fn no_keyframes(cx: &Ctx) -> Option<Finding> {
    let a = cx.a;
    let since = a.first_media.as_ref().map(|m| m.t_ms);
    let (t, span) = a.tracks.iter().find_map(|t| {
        let span = t.last_ms - since.unwrap_or(t.first_ms).min(t.first_ms);
        (t.stats.kind == "video"
            && t.stats.packets_received > 0
            && t.stats.keyframes == 0
            && span >= NO_KEYFRAME_MS)
            .then_some((t, span))
    })?;
    Some(finding(
        "no-keyframes",
        if span >= 10_000.0 {
            Severity::Error
        } else {
            Severity::Warning
        },
        format!(
            "Video arrives ({}) but no key frame in {}: the picture cannot be decoded",
            bitrate(t.max_bps),
            at_ms(span)
        ),
        vec![format!(
            "video ssrc {} ({}): {} packets, {} bytes, 0 key frames; PLI sent {}, FIR sent {}",
            t.stats.ssrc,
            t.stats.codec.as_deref().unwrap_or("codec ?"),
            t.stats.packets_received,
            t.stats.bytes_received,
            t.stats.pli_count,
            t.stats.fir_count
        )],
        Some(
            "The sender must answer PLI/FIR with a key frame, or send them regularly: set a shorter GOP / keyframe interval at the encoder (e.g. 2 s).",
        ),
    ))
}

/// `packet-loss`: more than 5 % of a track's packets were lost (with at least 500 expected).
fn packet_loss(cx: &Ctx) -> Option<Finding> {
    let a = cx.a;
    let lossy: Vec<(&AttemptTrack, f64)> = a
        .tracks
        .iter()
        .filter_map(|t| {
            let lost = t.stats.packets_lost.max(0) as f64;
            let expected = t.stats.packets_received as f64 + lost;
            (expected >= 500.0 && lost * 100.0 / expected > 5.0)
                .then_some((t, lost * 100.0 / expected))
        })
        .collect();
    let (_, worst) = lossy.first()?;
    let ev = lossy
        .iter()
        .map(|(t, pct)| {
            format!(
                "{} ssrc {}: {} lost of {} ({pct:.1} %), NACKs sent {}",
                t.stats.kind,
                t.stats.ssrc,
                t.stats.packets_lost,
                t.stats.packets_received as i64 + t.stats.packets_lost.max(0),
                t.stats.nack_count
            )
        })
        .collect();
    Some(finding(
        "packet-loss",
        Severity::Warning,
        format!("{worst:.1} % of the packets were lost"),
        ev,
        Some(
            "The path drops packets: check the link (Wi-Fi, congestion) or lower the bitrate; retransmission (NACK/RTX) hides some loss at the cost of delay.",
        ),
    ))
}

/// `slow-setup`: the attempt took more than 3 s to connect (or any phase more than 2 s); the slowest
/// phase is named. An answer after ~5 s (4.5–6.5 s) is a server waiting for its STUN gathering timeout.
fn slow_setup(cx: &Ctx) -> Option<Finding> {
    let a = cx.a;
    let phases = phases(a);
    let (name, slowest) = phases
        .iter()
        .max_by(|x, y| x.1.total_cmp(&y.1))
        .map(|(n, d)| (*n, *d))?;
    let total = a
        .first_media
        .as_ref()
        .map(|m| m.t_ms)
        .or(a.connected_ms)
        .map(|t| t - a.signaling_connecting_ms.unwrap_or(a.started_ms));
    if slowest < 2_000.0 && total.is_none_or(|t| t < 3_000.0) {
        return None;
    }
    let ev = vec![
        phases
            .iter()
            .map(|(n, d)| format!("{n} {}", at_ms(*d)))
            .collect::<Vec<_>>()
            .join(", "),
    ];
    let answer_wait = phases.iter().find(|(n, _)| *n == "answer").map(|(_, d)| *d);
    let whep =
        cx.d.session()
            .as_ref()
            .is_some_and(|s| s.protocol == crate::event::Protocol::Whep);
    let (title, fix) = match answer_wait {
        Some(w) if name == "answer" && (4_500.0..6_500.0).contains(&w) => (
            format!(
                "Slow setup: the server took {} to answer{} — it waited for its STUN gathering to time out",
                at_ms(w),
                if whep { " (WHEP 201)" } else { "" }
            ),
            "The server's STUN server is unreachable or it has dead interfaces: fix or remove its STUN servers (MediaMTX webrtcICEServers2), or lower webrtcSTUNGatherTimeout.",
        ),
        _ => (
            format!(
                "Slow setup{}: the {name} phase took {}",
                total
                    .map(|t| format!(" ({} to connect)", at_ms(t)))
                    .unwrap_or_default(),
                at_ms(slowest)
            ),
            match name {
                "answer" => {
                    "The server is slow to answer the offer: check its load and its ICE gathering (STUN servers, interfaces)."
                }
                "ICE" => {
                    "ICE took long: many candidates, slow or lossy paths, or the first pairs failing before one worked (TURN helps)."
                }
                "DTLS" => {
                    "The DTLS handshake took long: packet loss on the path, or a slow server."
                }
                "signaling" => {
                    "Opening the signaling connection took long: DNS, TCP or TLS is slow on this path."
                }
                _ => "See the phase timeline for where the time went.",
            },
        ),
    };
    Some(finding(
        "slow-setup",
        Severity::Warning,
        title,
        ev,
        Some(fix),
    ))
}

/// The setup phases of an attempt that happened, with their durations.
fn phases(a: &Attempt) -> Vec<(&'static str, f64)> {
    let mut out = Vec::new();
    let mut add = |name, from: Option<f64>, to: Option<f64>| {
        if let (Some(f), Some(t)) = (from, to)
            && t >= f
        {
            out.push((name, t - f));
        }
    };
    add(
        "signaling",
        a.signaling_connecting_ms,
        a.signaling_connected().map(|c| c.0),
    );
    if a.ice_servers_ms() > a.signaling_connected().map(|c| c.0) {
        add(
            "ice-servers",
            a.signaling_connected().map(|c| c.0),
            a.ice_servers_ms(),
        );
    }
    add(
        "offer",
        a.ice_servers_ms().or(a.signaling_connected().map(|c| c.0)),
        a.offer_ms(),
    );
    add("answer", a.offer_ms(), a.answer_ms());
    add("ICE", a.answer_ms(), a.ice_connected_ms());
    add("DTLS", a.ice_connected_ms(), a.connected_ms);
    add(
        "first media",
        a.connected_ms,
        a.first_media.as_ref().map(|m| m.t_ms),
    );
    out
}

/// The attempt rules, in the order their findings are listed among equals.
const ATTEMPT_RULES: &[fn(&Ctx) -> Option<Finding>] = &[
    signaling_unreachable,
    http_not_found,
    http_unauthorized,
    http_method_not_allowed,
    http_error,
    server_busy,
    no_answer,
    protocol_error,
    codec_mismatch,
    no_remote_candidates,
    server_private_addresses,
    no_stun_response,
    udp_blocked,
    no_ice_servers_nat,
    turn_auth_failed,
    turn_unreachable,
    turn_rest_expired,
    turn_rest_clock_skew,
    turn_tcp_tls_skipped,
    symmetric_nat,
    cgnat,
    dtls_failed,
    no_media,
    media_stalled,
    no_keyframes,
    packet_loss,
    socket_closed,
    slow_setup,
];

// ---------------------------------------------------------------------------------------------------
// Session
// ---------------------------------------------------------------------------------------------------

/// `restart-loop`: three or more attempts ended within the last ten minutes; the most common cause is
/// named. An error when none of them had connected, a warning otherwise.
fn restart_loop(d: &Model) -> Option<Finding> {
    let last = d.restarts().last()?;
    let recent: Vec<_> = d
        .restarts()
        .iter()
        .filter(|r| last.t_ms - r.t_ms <= LOOP_WINDOW_MS)
        .collect();
    if recent.len() < LOOP_MIN {
        return None;
    }
    let mut counts: Vec<(String, usize)> = Vec::new();
    for r in &recent {
        let key = cause_key(&r.cause);
        match counts.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => counts.push((key, 1)),
        }
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    let (common, n) = counts.first().map(|(k, n)| (k.clone(), *n))?;
    let lived = |r: &crate::model::RestartEntry| {
        if r.lived_ms.is_finite() {
            r.lived_ms
        } else {
            0.0
        }
    };
    let span = recent
        .last()
        .map_or(0.0, |l| l.t_ms - recent[0].t_ms + lived(recent[0]));
    let connected = recent.iter().filter(|r| r.had_connected).count();
    let mut ev = vec![format!(
        "causes: {}",
        counts
            .iter()
            .take(3)
            .map(|(k, n)| format!("{k} ×{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    )];
    for r in recent.iter().rev().take(5).rev() {
        ev.push(format!(
            "attempt {} ended at {} after {}: {}{}",
            r.ended_attempt,
            at_ms(r.t_ms),
            at_ms(lived(r)),
            cut(&r.cause_text),
            if r.had_connected {
                " (had connected)"
            } else {
                ""
            }
        ));
    }
    if d.restarts().total() as usize > recent.len() {
        ev.push(format!(
            "{} attempts ended in the whole session",
            d.restarts().total()
        ));
    }
    let severity = if connected == 0 && !d.attempt().media() {
        Severity::Error
    } else {
        Severity::Warning
    };
    Some(finding(
        "restart-loop",
        severity,
        format!(
            "Restart loop: {} attempts ended in {}, most often: {common} ({n}×)",
            recent.len(),
            at_ms(span)
        ),
        ev,
        Some(if connected > 0 {
            "Sessions connect and then drop: look for NAT bindings or consent expiring (ICE disconnected), a proxy timing out the socket, or the server restarting."
        } else {
            "Every attempt fails the same way: fix the cause named in the other findings; retrying will not help."
        }),
    ))
}

/// `healthy`: the attempt connected and media flows (no track stalled): the pair type, RTT, bitrate and
/// loss. Only when nothing is an error.
fn healthy(cx: &Ctx) -> Option<Finding> {
    let a = cx.a;
    let media_ms = a.first_media.as_ref()?.t_ms;
    if !a.connected() && a.tracks.is_empty() {
        return None;
    }
    if a.tracks
        .iter()
        .any(|t| t.progress_ms.is_some_and(|p| t.last_ms - p >= STALL_MS))
        || no_keyframes(cx).is_some()
    {
        // Stalled, or video that cannot be decoded: not healthy.
        return None;
    }
    let pair = a.selected_pair();
    let via = pair.map_or_else(
        || "an unknown pair".to_owned(),
        |p| {
            let kind = |e: &Option<PairEnd>| {
                e.as_ref().map_or("?".to_owned(), |e| {
                    format!("{}/{}", e.typ.as_str(), e.protocol)
                })
            };
            format!("{} → {}", kind(&p.local), kind(&p.remote))
        },
    );
    let relayed = pair.is_some_and(|p| {
        [&p.local, &p.remote]
            .iter()
            .any(|e| e.as_ref().is_some_and(|e| e.typ == CandidateType::Relay))
    });
    let rtt = pair.and_then(|p| p.current_rtt_ms.or_else(|| crate::model::avg_rtt_ms(p)));
    let bps: f64 = a.tracks.iter().map(|t| t.stats.bitrate_bps.max(0.0)).sum();
    let (lost, expected) = a.tracks.iter().fold((0.0, 0.0), |(l, e), t| {
        let lost = t.stats.packets_lost.max(0) as f64;
        (l + lost, e + t.stats.packets_received as f64 + lost)
    });
    let loss = if expected > 0.0 {
        lost * 100.0 / expected
    } else {
        0.0
    };
    let mut title = format!(
        "Healthy: media flows via {via}{}",
        if relayed { " (relayed)" } else { "" }
    );
    if let Some(r) = rtt {
        title.push_str(&format!(", RTT {r:.1} ms"));
    }
    if !a.tracks.is_empty() {
        title.push_str(&format!(", {}, {loss:.1} % loss", bitrate(bps)));
    }
    let mut ev = vec![format!(
        "{}: connected in {}, first media at {}",
        cx.attempt_label(),
        a.connected_ms
            .map_or("?".into(), |c| at_ms(c - a.started_ms)),
        at_ms(media_ms - a.started_ms)
    )];
    if let Some(p) = pair {
        ev.push(format!(
            "selected pair {}{}",
            fmt_pair(p),
            crate::model::avg_rtt_ms(p)
                .map(|r| format!(", average RTT {r:.1} ms"))
                .unwrap_or_default()
        ));
    }
    for t in &a.tracks {
        let s = &t.stats;
        ev.push(format!(
            "{} {} ssrc {}: {}, {} packets, {} lost, jitter {}, {} key frames, NACK {} PLI {}",
            s.kind,
            s.codec
                .as_deref()
                .map_or("?", |c| c.rsplit('/').next().unwrap_or(c)),
            s.ssrc,
            bitrate(s.bitrate_bps),
            s.packets_received,
            s.packets_lost,
            s.jitter_ms.map_or("?".into(), |j| format!("{j:.1} ms")),
            s.keyframes,
            s.nack_count,
            s.pli_count
        ));
    }
    if let Some(t) = &a.transport {
        ev.push(format!(
            "{} ({}), {}, {}",
            t.tls_version, t.dtls_role, t.dtls_cipher, t.srtp_cipher
        ));
    }
    Some(finding("healthy", Severity::Ok, title, ev, None))
}

/// (narrow, broad): when `broad` fires as an error, `narrow` is its consequence and is left out.
const SUPPRESSED_BY: &[(&str, &str)] = &[
    ("no-stun-response", "udp-blocked"),
    ("turn-unreachable", "udp-blocked"),
];

/// Run every rule: over the current attempt, then the one before (deduplicated by id, the current
/// attempt's version kept; capped at a warning when the current attempt recovered with media), then the
/// session rules, then `healthy` when nothing is an error. Sorted most severe first.
pub(crate) fn evaluate(d: &Model) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    let mut subjects: Vec<&Attempt> = Vec::new();
    if d.attempt().number > 0 && !d.attempt().is_empty() {
        subjects.push(d.attempt());
    }
    if let Some(p) = d.previous_attempt() {
        subjects.push(p);
    }
    for (i, a) in subjects.iter().enumerate() {
        let cx = Ctx { d, a };
        let mut found: Vec<Finding> = ATTEMPT_RULES.iter().filter_map(|r| r(&cx)).collect();
        if let Some(f) = ice_failed(&cx, &found) {
            found.push(f);
        }
        if i == 0
            && let Some(f) = ice_server_probe_failed(&cx, &found)
        {
            found.push(f);
        }
        // A broader finding explains a narrower one: keep the broader.
        for (narrow, broad) in SUPPRESSED_BY {
            if found
                .iter()
                .any(|f| f.id == *broad && f.severity >= Severity::Error)
            {
                found.retain(|f| f.id != *narrow);
            }
        }
        let recovered = i > 0 && d.attempt().media();
        for mut f in found {
            if out.iter().any(|o| o.id == f.id) {
                continue;
            }
            if recovered && f.severity > Severity::Warning {
                f.severity = Severity::Warning;
                f.evidence
                    .push(format!("attempt {}; a later attempt recovered", a.number));
            }
            out.push(f);
        }
    }
    if let Some(f) = restart_loop(d) {
        out.push(f);
    }
    if !out.iter().any(|f| f.severity >= Severity::Error) {
        let subject = subjects.first().filter(|a| a.media()).or_else(|| {
            subjects
                .get(1)
                .filter(|a| a.media() && d.attempt().is_empty())
        });
        if let Some(a) = subject
            && let Some(h) = healthy(&Ctx { d, a })
        {
            out.push(h);
        }
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}
