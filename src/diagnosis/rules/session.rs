//! The session as a whole: slow setup, restart loops, and the `healthy` verdict.

use super::*;

/// The rules of this topic, declared once (the catalogue and the order are derived from them).
pub(super) const RULES: &[Rule] = &[
    Rule::new(
        "slow-setup",
        "the session took long to set up; the slowest phase is named (a WHEP 201 after ~5 s: STUN gathering)",
        Check::Attempt {
            order: 27,
            f: slow_setup,
        },
    ),
    Rule::new(
        "restart-loop",
        "three or more attempts ended within ten minutes; the common cause is named",
        Check::Session(restart_loop),
    ),
    Rule::new(
        "healthy",
        "connected and media flows: pair type, RTT, bitrate, loss (the verdict when all is well)",
        Check::Healthy(healthy),
    ),
];

/// `slow-setup`: the attempt took more than 3 s to connect (or any phase more than 2 s); the slowest
/// phase is named. An answer after ~5 s (4.5–6.5 s) is a server waiting for its STUN gathering timeout.
pub(super) fn slow_setup(cx: &Ctx) -> Option<Finding> {
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
    Some(finding(Severity::Warning, title, ev, Some(fix)))
}

/// The setup phases of an attempt that happened, with their durations.
pub(super) fn phases(a: &Attempt) -> Vec<(&'static str, f64)> {
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

/// `restart-loop`: three or more attempts ended within the last ten minutes; the most common cause is
/// named. An error when none of them had connected, a warning otherwise.
pub(super) fn restart_loop(d: &Model) -> Option<Finding> {
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
pub(super) fn healthy(cx: &Ctx) -> Option<Finding> {
    let a = cx.a;
    let media_ms = a.first_media.as_ref()?.t_ms;
    if !a.connected() && a.tracks.is_empty() {
        return None;
    }
    if a.tracks
        .iter()
        .any(|t| t.progress_ms.is_some_and(|p| t.last_ms - p >= STALL_MS))
        || super::media::no_keyframes(cx).is_some()
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
    let relay_protocol = pair
        .and_then(|p| p.local.as_ref())
        .and_then(|e| e.relay_protocol);
    let mut title = format!(
        "Healthy: media flows via {via}{}",
        match (relayed, relay_protocol) {
            (true, Some(rp)) => format!(" (relayed, TURN over {})", rp.as_str().to_uppercase()),
            (true, None) => " (relayed)".to_owned(),
            _ => String::new(),
        }
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
    Some(finding(Severity::Ok, title, ev, None))
}
