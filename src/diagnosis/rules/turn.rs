//! TURN: refused credentials, unreachable servers, TURN-REST expiry and clock skew, TCP/TLS connections
//! to TURN servers that failed or dropped, transports this stack cannot use.

use super::*;

/// The rules of this topic, declared once (the catalogue and the order are derived from them).
pub(super) const RULES: &[Rule] = &[
    Rule::new(
        "turn-auth-failed",
        "TURN configured, no relay candidate, and the TURN server refused the credentials (401/438)",
        Check::Attempt {
            order: 14,
            f: turn_auth_failed,
        },
    )
    .explains_ice_failure()
    .explains_probe_failure(),
    Rule::new(
        "turn-unreachable",
        "TURN configured, no relay candidate, and nothing came back from the TURN server",
        Check::Attempt {
            order: 15,
            f: turn_unreachable,
        },
    )
    .explains_ice_failure()
    .explains_probe_failure()
    .suppressed_by("udp-blocked"),
    Rule::new(
        "turn-rest-expired",
        "a TURN-REST username (expiry:user) had expired at the session's start",
        Check::Attempt {
            order: 16,
            f: turn_rest_expired,
        },
    )
    .explains_ice_failure()
    .explains_probe_failure(),
    Rule::new(
        "turn-rest-clock-skew",
        "a TURN-REST expiry implausibly far ahead, or accepted although expired: a clock is wrong",
        Check::Attempt {
            order: 17,
            f: turn_rest_clock_skew,
        },
    ),
    Rule::new(
        "turn-tcp-tls-skipped",
        "ICE URLs were skipped: transports this WebRTC stack cannot use (TURN over DTLS, STUN over TLS)",
        Check::Attempt {
            order: 18,
            f: turn_tcp_tls_skipped,
        },
    ),
    Rule::new(
        "turn-transport-failed",
        "the TCP or TLS connection to a TURN server failed (refused, filtered, certificate) or dropped",
        Check::Attempt {
            order: 29,
            f: turn_transport_failed,
        },
    )
    .explains_ice_failure()
    .explains_probe_failure(),
];

/// The TURN URLs in use (not skipped).
pub(super) fn turn_urls(a: &Attempt) -> Vec<String> {
    server_urls(a, &["turn:", "turns:"])
        .map(str::to_owned)
        .collect()
}

/// `turn-auth-failed`: TURN is configured, no relay candidate came, and the TURN server answered with
/// an authentication error (the stack's "TURN allocation failed … 401", or 438 stale nonce). A srflx
/// candidate coming back while no relay does also means the server answered (webrtc-rs does not ask
/// TURN servers for srflx, so this is for stacks that do).
pub(super) fn turn_auth_failed(cx: &Ctx) -> Option<Finding> {
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
pub(super) fn turn_unreachable(cx: &Ctx) -> Option<Finding> {
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
            p.kind == crate::event::probe::ProbeKind::TurnAllocate
                && (probe_auth_error(p) || p.is_ok())
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
pub(super) fn turn_rest_servers(a: &Attempt) -> Vec<(Vec<String>, String, u64)> {
    a.servers()
        .iter()
        .filter_map(|s| {
            let u = s.username.as_deref()?;
            Some((s.urls.clone(), u.to_owned(), turn_rest_expiry(u)?))
        })
        .collect()
}

/// Unix seconds when the attempt learnt its ICE servers (from `session_started.unix_ms` and `t_ms`).
pub(super) fn unix_at(cx: &Ctx, t_ms: f64) -> Option<i64> {
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
pub(super) fn rfc3339(unix: u64) -> String {
    humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix.min(253_402_300_799)),
    )
    .to_string()
}

pub(super) fn relay_from(a: &Attempt, urls: &[String]) -> bool {
    a.local().any(|c| {
        c.typ == CandidateType::Relay
            && c.url
                .as_deref()
                .is_some_and(|cu| urls.iter().any(|u| same_url(cu, u)))
    })
}

/// A long span in words: `3 min 5 s`, `5 h 2 min`, `12 days`, `6 years`.
pub(super) fn ago(secs: i64) -> String {
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
pub(super) fn turn_rest_expired(cx: &Ctx) -> Option<Finding> {
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
pub(super) fn turn_rest_clock_skew(cx: &Ctx) -> Option<Finding> {
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

/// `turn-tcp-tls-skipped`: ICE URLs were listed as skipped: this stack cannot use them (a browser
/// would try them). Since the TURN bridge, TURN over TCP and TLS are used; recordings of older
/// versions still list them here.
pub(super) fn turn_tcp_tls_skipped(cx: &Ctx) -> Option<Finding> {
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
        severity,
        format!(
            "{} ICE URL{} not tried: this WebRTC stack (webrtc-rs) cannot use them",
            a.skipped().len(),
            if a.skipped().len() == 1 { "" } else { "s" }
        ),
        ev,
        Some(
            "A browser would try them: test them with `rtcscope probe <url>`. If the server also offers TURN over UDP, that is what this session could use.",
        ),
    ))
}

/// `turn-transport-failed`: the TCP or TLS connection to a TURN server failed (refused, no answer,
/// the TLS handshake or certificate) or dropped mid-session. A certificate problem is named; a server
/// the probe allocated on while the session could not is said so (the probe and the session disagree:
/// a finding of its own).
pub(super) fn turn_transport_failed(cx: &Ctx) -> Option<Finding> {
    use crate::event::TurnTransportStage as Stage;
    let a = cx.a;
    let first = a.turn_transport_failures.first()?;
    let mut ev: Vec<String> = a
        .turn_transport_failures
        .iter()
        .take(3)
        .map(|f| format!("at {}: {}", at_ms(f.t_ms - a.started_ms), f.describe()))
        .collect();
    let urls: Vec<String> = a
        .turn_transport_failures
        .iter()
        .map(|f| f.url.clone())
        .collect();
    // The probe allocated over the same transport on the same server.
    let probe_ok = a.turn_transport_failures.iter().any(|f| {
        probes_for(cx.d, &f.url).any(|p| {
            p.kind == crate::event::probe::ProbeKind::TurnAllocate
                && p.is_ok()
                && p.transport.as_str() == f.relay_protocol.as_str()
        })
    });
    ev.extend(probe_evidence(cx.d, &urls, |_| true));
    ev.push(local_counts(a));
    let dropped = first.stage == Stage::Dropped;
    let certificate = a
        .turn_transport_failures
        .iter()
        .any(|f| f.stage == Stage::Tls && f.error.contains("certificate"));
    let severity = if a.media() && !dropped {
        Severity::Warning
    } else {
        Severity::Error
    };
    let proto = first.relay_protocol.as_str().to_ascii_uppercase();
    let title = if probe_ok {
        format!(
            "TURN over {proto} allocates in the probe but failed in the session ({})",
            first.url
        )
    } else if dropped {
        format!(
            "The {proto} connection to the TURN server dropped mid-session ({}): its relay is gone",
            first.url
        )
    } else if certificate {
        format!(
            "The TURN server's TLS certificate was rejected ({}): no relay over TLS",
            first.url
        )
    } else {
        format!(
            "The {proto} connection to the TURN server failed ({}): no relay over {proto}",
            first.url
        )
    };
    let fix = if certificate {
        "Fix the TURN server's certificate (the error says what: expired, wrong name, unknown CA):          a browser refuses it too. For a test with a self-signed certificate, --insecure accepts it."
    } else if dropped {
        "Something on the path or the TURN server closed the connection (idle timeout of a proxy or          firewall, server restart): rtcscope restarts. Check the server's logs and any TCP proxy on          the way."
    } else if probe_ok {
        "The probe reached the server on its own connection, the session did not: a limit on          connections per client, a flaky path, or a server that refuses several allocations.          Retry, and check the server's logs."
    } else {
        "Check the TURN host and port and that TCP to it is allowed from this network          (`rtcscope probe <url>` tests it on its own)."
    };
    Some(finding(severity, title, ev, Some(fix)))
}
