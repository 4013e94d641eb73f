//! Signaling: the server unreachable, HTTP errors, the socket closed early, no answer, protocol errors, codecs the answer rejected.

use super::*;

/// The rules of this topic, declared once (the catalogue and the order are derived from them).
pub(super) const RULES: &[Rule] = &[
    Rule::new(
        "signaling-unreachable",
        "the signaling server could not be reached (connection refused, DNS, TLS, timeout)",
        Check::Attempt {
            order: 0,
            f: signaling_unreachable,
        },
    ),
    Rule::new(
        "http-not-found",
        "HTTP 404 on the WebSocket upgrade or the WHEP POST: no stream on that path",
        Check::Attempt {
            order: 1,
            f: http_not_found,
        },
    ),
    Rule::new(
        "http-unauthorized",
        "HTTP 401/403: credentials missing or refused (the WWW-Authenticate realm is quoted)",
        Check::Attempt {
            order: 2,
            f: http_unauthorized,
        },
    ),
    Rule::new(
        "http-method-not-allowed",
        "HTTP 405: the URL is not the endpoint for this method (page vs /whep vs /ws)",
        Check::Attempt {
            order: 3,
            f: http_method_not_allowed,
        },
    ),
    Rule::new(
        "http-error",
        "another HTTP error status on the signaling request",
        Check::Attempt {
            order: 4,
            f: http_error,
        },
    ),
    Rule::new(
        "server-busy",
        "HTTP 409/503 with Retry-After: the server asked to come back later",
        Check::Attempt {
            order: 5,
            f: server_busy,
        },
    ),
    Rule::new(
        "socket-closed",
        "the server closed the WebSocket before the session connected (phase, close frame or not)",
        Check::Attempt {
            order: 26,
            f: socket_closed,
        },
    ),
    Rule::new(
        "no-answer",
        "the offer went out but no answer came before the handshake timeout",
        Check::Attempt {
            order: 6,
            f: no_answer,
        },
    ),
    Rule::new(
        "protocol-error",
        "the server sent something the protocol does not allow (bad JSON, wrong kind, bad SDP)",
        Check::Attempt {
            order: 7,
            f: protocol_error,
        },
    ),
    Rule::new(
        "codec-mismatch",
        "the answer rejected the media sections (port 0, inactive, no common codec) or the server said so",
        Check::Attempt {
            order: 8,
            f: codec_mismatch,
        },
    )
    .explains_ice_failure(),
];

/// `signaling-unreachable`: the signaling connection could not be opened at all (no HTTP status):
/// connection refused, DNS, TLS or a timeout; or a WHEP request got no response.
pub(super) fn signaling_unreachable(cx: &Ctx) -> Option<Finding> {
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
        Severity::Critical,
        format!("Could not reach the signaling server: {error}"),
        ev,
        Some(fix),
    ))
}

/// The latest HTTP failure of the attempt with a status in `statuses`.
pub(super) fn http_failure<'a>(a: &'a Attempt, statuses: &[u16]) -> Option<&'a HttpFailure> {
    a.http_failures
        .iter()
        .rev()
        .find(|f| statuses.contains(&f.status))
}

pub(super) fn http_evidence(cx: &Ctx, f: &HttpFailure) -> Vec<String> {
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
pub(super) fn http_not_found(cx: &Ctx) -> Option<Finding> {
    let f = http_failure(cx.a, &[404])?;
    let no_stream = f.body.to_ascii_lowercase().contains("no stream");
    let title = if no_stream {
        "HTTP 404: no stream is being published on that path".to_owned()
    } else {
        "HTTP 404: nothing at that URL (no stream on that path, or a wrong path)".to_owned()
    };
    Some(finding(
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
pub(super) fn http_unauthorized(cx: &Ctx) -> Option<Finding> {
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
pub(super) fn http_method_not_allowed(cx: &Ctx) -> Option<Finding> {
    let f = http_failure(cx.a, &[405])?;
    Some(finding(
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
pub(super) fn http_error(cx: &Ctx) -> Option<Finding> {
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
        Severity::Error,
        title,
        http_evidence(cx, f),
        Some("Read the body above and the server's log for the reason."),
    ))
}

pub(super) fn mentions_codec(body: &str) -> bool {
    let l = body.to_ascii_lowercase();
    l.contains("codec")
}

/// `server-busy`: HTTP 409/503 with Retry-After (WHEP): the server asked to come back later.
pub(super) fn server_busy(cx: &Ctx) -> Option<Finding> {
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
pub(super) fn socket_closed(cx: &Ctx) -> Option<Finding> {
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
        severity,
        format!("The server closed the WebSocket {}", phase.describe()),
        ev,
        Some(fix),
    ))
}

/// `no-answer`: the offer went out, and the handshake timeout fired before any answer came.
pub(super) fn no_answer(cx: &Ctx) -> Option<Finding> {
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
        Severity::Error,
        format!("The server never answered ({})", phase.describe()),
        ev,
        Some(
            "The server accepted the connection but did not negotiate: check its log; a stream that is not ready yet, or a proxy buffering the response, does this.",
        ),
    ))
}

/// `protocol-error`: the server sent something the protocol does not allow.
pub(super) fn protocol_error(cx: &Ctx) -> Option<Finding> {
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
pub(super) fn codec_mismatch(cx: &Ctx) -> Option<Finding> {
    let a = cx.a;
    if let Some(f) = a
        .http_failures
        .iter()
        .rev()
        .find(|f| mentions_codec(&f.body))
    {
        return Some(finding(
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
    Some(finding(Severity::Error, title, ev, Some(CODEC_FIX)))
}

const CODEC_FIX: &str = "Publish a codec WebRTC viewers accept: H264 constrained baseline without \
     B-frames, VP8, VP9 or AV1 for video, Opus for audio (re-encode, e.g. ffmpeg -c:v libx264 -profile:v \
     baseline -bf 0 -c:a libopus). H265 and AAC are not WebRTC codecs for most viewers.";
