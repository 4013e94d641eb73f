//! After ICE: DTLS, and the media itself (none, stalled, undecodable, lossy).

use super::*;

/// The rules of this topic, declared once (the catalogue and the order are derived from them).
pub(super) const RULES: &[Rule] = &[
    Rule::new(
        "dtls-failed",
        "ICE connected but the DTLS handshake never completed",
        Check::Attempt {
            order: 21,
            f: dtls_failed,
        },
    ),
    Rule::new(
        "no-media",
        "the peer connection connected but no RTP arrived",
        Check::Attempt {
            order: 22,
            f: no_media,
        },
    ),
    Rule::new(
        "media-stalled",
        "RTP arrived, then stopped for several seconds while the session stayed up",
        Check::Attempt {
            order: 23,
            f: media_stalled,
        },
    ),
    Rule::new(
        "no-keyframes",
        "video RTP arrives but no key frame has: the picture cannot be decoded",
        Check::Attempt {
            order: 24,
            f: no_keyframes,
        },
    ),
    Rule::new(
        "host-receive-drops",
        "this host dropped packets in its own UDP receive buffer (counted as lost, not lost by the network)",
        Check::Attempt {
            order: 30,
            f: host_receive_drops,
        },
    ),
    Rule::new(
        "packet-loss",
        "more than 5 % of the packets were lost",
        Check::Attempt {
            order: 25,
            f: packet_loss,
        },
    ),
];

/// `dtls-failed`: ICE connected, but DTLS (and so the peer connection) never did: it failed, or the
/// attempt ended, or 10 s passed.
pub(super) fn dtls_failed(cx: &Ctx) -> Option<Finding> {
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
        Severity::Error,
        "ICE connected, but the DTLS handshake never completed",
        ev,
        Some(fix),
    ))
}

/// `no-media`: the peer connection connected, and no RTP came within 5 s (or before the attempt ended).
pub(super) fn no_media(cx: &Ctx) -> Option<Finding> {
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
        Severity::Error,
        format!("Connected, but no media arrived in {}", at_ms(until - c)),
        ev,
        Some(
            "The transport works but the server sends nothing: is the publisher still sending? Check the server's log for codec errors (e.g. H264 with B-frames, H265).",
        ),
    ))
}

/// `media-stalled`: a track received RTP, then none for 3 s or more while statistics kept coming.
pub(super) fn media_stalled(cx: &Ctx) -> Option<Finding> {
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
pub(super) fn no_keyframes(cx: &Ctx) -> Option<Finding> {
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
/// Datagrams lost in this host's receive buffer: reported apart from the network's loss.
pub(super) fn host_receive_drops(cx: &Ctx) -> Option<Finding> {
    let a = cx.a;
    if a.host_drops == 0 {
        return None;
    }
    let mut ev = vec![format!(
        "{} datagrams dropped by this host's UDP receive buffers (the kernel's per-socket counter)",
        a.host_drops
    )];
    if let Some((sockets, wanted, granted, rmem_max)) = a.receive_buffers {
        ev.push(format!(
            "receive buffer: {} granted of {} asked, on {sockets} socket(s){}",
            crate::format::bytes(granted),
            crate::format::bytes(wanted),
            rmem_max
                .map(|m| format!("; net.core.rmem_max is {}", crate::format::bytes(m)))
                .unwrap_or_default()
        ));
    }
    for t in &a.tracks {
        ev.push(format!(
            "{} ssrc {}: {} counted as lost",
            t.stats.kind, t.stats.ssrc, t.stats.packets_lost
        ));
    }
    Some(finding(
        Severity::Warning,
        format!(
            "This host dropped {} packets in its own receive buffer: not network loss",
            a.host_drops
        ),
        ev,
        Some(
            "Raise the receive buffer limit (sysctl -w net.core.rmem_max=16777216) or run with CAP_NET_ADMIN; a busy host or a bursty sender overflows the default 208 KiB.",
        ),
    ))
}

pub(super) fn packet_loss(cx: &Ctx) -> Option<Finding> {
    let a = cx.a;
    // What this host dropped itself is not the network's: take it off (all of it, from each
    // track: the sockets are shared, so this errs towards calling the network clean).
    let host = a.host_drops as f64;
    let lossy: Vec<(&AttemptTrack, f64)> = a
        .tracks
        .iter()
        .filter_map(|t| {
            let lost = (t.stats.packets_lost.max(0) as f64 - host).max(0.0);
            let expected = t.stats.packets_received as f64 + t.stats.packets_lost.max(0) as f64;
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
    let host_note = if a.host_drops > 0 {
        format!(" ({} more dropped by this host, not counted)", a.host_drops)
    } else {
        String::new()
    };
    Some(finding(
        Severity::Warning,
        format!("The network lost {worst:.1} % of the packets{host_note}"),
        ev,
        Some(
            "The path drops packets: check the link (Wi-Fi, congestion) or lower the bitrate; retransmission (NACK/RTX) hides some loss at the cost of delay.",
        ),
    ))
}
