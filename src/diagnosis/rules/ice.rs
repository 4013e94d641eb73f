//! ICE: candidates the server offered, STUN that never answered, UDP blocked, NAT kinds, failed probes, and ICE failing for no more specific reason.

use super::*;

/// The rules of this topic, declared once (the catalogue and the order are derived from them).
pub(super) const RULES: &[Rule] = &[
    Rule::new(
        "candidates-cannot-pair",
        "local and remote candidates share no address family (IPv4/IPv6) or no transport (UDP/TCP): no pair can form",
        Check::Attempt {
            order: 28,
            f: candidates_cannot_pair,
        },
    )
    .explains_ice_failure(),
    Rule::new(
        "no-remote-candidates",
        "the server answered but sent no ICE candidate at all",
        Check::Attempt {
            order: 9,
            f: no_remote_candidates,
        },
    )
    .explains_ice_failure(),
    Rule::new(
        "server-private-addresses",
        "the server offered only private/container/link-local addresses, none on this host's networks",
        Check::Attempt {
            order: 10,
            f: server_private_addresses,
        },
    )
    .explains_ice_failure()
    .suppressed_by("candidates-cannot-pair"),
    Rule::new(
        "no-stun-response",
        "signaling worked, checks went out to the server's candidates, and no STUN response came back",
        Check::Attempt {
            order: 11,
            f: no_stun_response,
        },
    )
    .explains_ice_failure()
    .suppressed_by("udp-blocked"),
    Rule::new(
        "udp-blocked",
        "STUN/TURN servers were configured but none answered over UDP: host candidates only",
        Check::Attempt {
            order: 12,
            f: udp_blocked,
        },
    )
    .explains_ice_failure()
    .explains_probe_failure(),
    Rule::new(
        "no-ice-servers-nat",
        "no ICE servers were offered and at least one side is behind NAT",
        Check::Attempt {
            order: 13,
            f: no_ice_servers_nat,
        },
    )
    .explains_ice_failure(),
    Rule::new(
        "ice-server-probe-failed",
        "probing an ICE server on its own (STUN binding, TURN allocate) failed, and no other rule explains it",
        Check::Explaining {
            order: 1,
            current_only: true,
            f: ice_server_probe_failed,
        },
    ),
    Rule::new(
        "symmetric-nat",
        "srflx candidates of one local socket got different mapped ports: endpoint-dependent mapping",
        Check::Attempt {
            order: 19,
            f: symmetric_nat,
        },
    )
    .explains_ice_failure(),
    Rule::new(
        "cgnat",
        "a local or mapped address is in 100.64.0.0/10 (carrier-grade NAT)",
        Check::Attempt {
            order: 20,
            f: cgnat,
        },
    ),
    Rule::new(
        "ice-failed",
        "ICE never connected and no more specific rule explains why",
        Check::Explaining {
            order: 0,
            current_only: false,
            f: ice_failed,
        },
    ),
];

/// `IPv4`/`IPv6` of a candidate address, `None` for a name (mDNS) or anything unparsable.
fn family(address: &str) -> Option<&'static str> {
    match address.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => Some("IPv4"),
        Ok(std::net::IpAddr::V6(_)) => Some("IPv6"),
        Err(_) => None,
    }
}

/// The sorted, deduplicated (family, transport) of candidates; `None` if any address is a name.
fn kinds<'a>(
    cands: impl Iterator<Item = &'a crate::event::Candidate>,
) -> Option<Vec<(&'static str, String)>> {
    let mut v = Vec::new();
    for c in cands {
        let k = (family(&c.address)?, c.protocol.to_ascii_lowercase());
        if !v.contains(&k) {
            v.push(k);
        }
    }
    v.sort();
    Some(v)
}

/// `candidates-cannot-pair`: the local and the remote candidates have no address family or no
/// transport in common, so the stack has no pair to check (IPv4 only here, IPv6 only on the server;
/// or UDP only against TCP only). ICE did not connect.
pub(super) fn candidates_cannot_pair(cx: &Ctx) -> Option<Finding> {
    let a = cx.a;
    if a.ice_connected() || !a.answered() || a.remote_total() == 0 || a.local().next().is_none() {
        return None;
    }
    if !(a.no_pairs_warning || cx.ice_settled()) {
        return None;
    }
    let local = kinds(a.local())?;
    let remote = kinds(a.remote())?;
    if remote.is_empty() || local.iter().any(|k| remote.contains(k)) {
        return None;
    }
    let fams = |v: &[(&'static str, String)]| {
        let mut f: Vec<&str> = v.iter().map(|k| k.0).collect();
        f.dedup();
        f
    };
    let protos = |v: &[(&'static str, String)]| {
        let mut p: Vec<String> = v.iter().map(|k| k.1.clone()).collect();
        p.sort();
        p.dedup();
        p
    };
    let (lf, rf) = (fams(&local), fams(&remote));
    let family_mismatch = !lf.iter().any(|f| rf.contains(f));
    let what = if family_mismatch {
        format!(
            "address families do not match (here {}, the server {})",
            lf.join("+"),
            rf.join("+")
        )
    } else {
        format!(
            "no common transport (here {}, the server {})",
            protos(&local).join("+"),
            protos(&remote).join("+")
        )
    };
    let mut ev: Vec<String> = a
        .local()
        .take(4)
        .map(|c| format!("local candidate {}", fmt_candidate(c)))
        .collect();
    ev.extend(
        a.remote()
            .take(4)
            .map(|c| format!("server candidate {}", fmt_candidate(c))),
    );
    if !a.local_addresses.is_empty() {
        ev.push(format!(
            "gathered on: {}",
            list(
                a.local_addresses.iter().map(|l| if l.interface.is_empty() {
                    l.address.clone()
                } else {
                    format!("{} {}", l.interface, l.address)
                }),
                6
            )
        ));
    }
    if a.no_pairs_warning {
        ev.push("the WebRTC stack reported no candidate pair to check".into());
    }
    let fix = if family_mismatch {
        "Gather on the server's address family: drop a --bind that restricts it (by default rtcscope gathers IPv4 and IPv6, and loopback for a loopback server), or make the server offer an address of the other family (e.g. listen on both 127.0.0.1 and ::1, or set MediaMTX webrtcIPsFromInterfaces / webrtcAdditionalHosts)."
    } else {
        "Offer a common transport: enable UDP on the server (MediaMTX webrtcLocalUDPAddress) or ICE-TCP on both sides, or use a TURN server."
    };
    Some(finding(
        Severity::Error,
        format!("Local and remote candidates cannot pair: {what}"),
        ev,
        Some(fix),
    ))
}

/// The remote candidates' IP classes, and whether each is reachable from one of our host addresses.
pub(super) fn remote_reachability(a: &Attempt) -> Vec<(String, AddrClass, bool)> {
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
pub(super) fn all_remote_unreachable(a: &Attempt) -> bool {
    let r = remote_reachability(a);
    !r.is_empty()
        && r.iter()
            .all(|(_, class, reachable)| class.is_local_only() && !reachable)
}

/// `no-remote-candidates`: the server answered but sent no ICE candidate (none trickled, none in the
/// answer), and ICE did not connect.
pub(super) fn no_remote_candidates(cx: &Ctx) -> Option<Finding> {
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
pub(super) fn server_private_addresses(cx: &Ctx) -> Option<Finding> {
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
    ev.extend(checklist_evidence(a, 3));
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
/// filtered). With the checklist: requests sent > 0 and responses received = 0 on every pair of the
/// current ICE generation. A recording without pairs (older rtcscope): no pair was ever selected.
pub(super) fn no_stun_response(cx: &Ctx) -> Option<Finding> {
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
    let tally = a.checklist_tally();
    if tally.pairs > 0 && (tally.requests_sent == 0 || tally.responses_received > 0) {
        return None;
    }
    let mut ev: Vec<String> = a
        .remote()
        .take(4)
        .map(|c| format!("server candidate {}", fmt_candidate(c)))
        .collect();
    if tally.pairs == 0 {
        ev.push("no candidate pair was reported (a recording without the checklist)".into());
    } else {
        ev.extend(checklist_evidence(a, 4));
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
pub(super) fn udp_blocked(cx: &Ctx) -> Option<Finding> {
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
            .any(|p| p.transport == crate::event::probe::ProbeTransport::Udp && !probe_silent(p))
    }) {
        return None;
    }
    let mut ev = vec![
        format!("servers tried over UDP: {}", list(owned.iter().cloned(), 4)),
        local_counts(a),
    ];
    ev.extend(probe_evidence(cx.d, &owned, probe_silent));
    if !connected {
        ev.extend(checklist_evidence(a, 2));
    }
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
pub(super) fn no_ice_servers_nat(cx: &Ctx) -> Option<Finding> {
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
        Severity::Error,
        "No ICE servers were offered, and at least one side is behind NAT: NAT traversal cannot work",
        ev,
        Some(
            "Add a STUN server, or better a TURN server, to the server's configuration (MediaMTX webrtcICEServers2), or test one with --ice-server.",
        ),
    ))
}

/// `symmetric-nat`: srflx candidates of the same local socket (same related address and port) got
/// different mapped addresses or ports from different STUN servers: the NAT maps per destination.
pub(super) fn symmetric_nat(cx: &Ctx) -> Option<Finding> {
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
        severity,
        "Symmetric NAT suspected: different STUN servers saw different mapped ports for the same socket",
        ev,
        Some(
            "Through an endpoint-dependent NAT, direct connectivity works only if the server is reachable on a public address; otherwise a TURN relay is required (add one, --ice-transport-policy relay to test).",
        ),
    ))
}

/// `cgnat`: a local host or mapped (srflx) address, or a srflx candidate's base, is in 100.64.0.0/10.
pub(super) fn cgnat(cx: &Ctx) -> Option<Finding> {
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
        severity,
        "This host is behind carrier-grade NAT (100.64.0.0/10)",
        vec![format!("candidates: {}", list(hits, 4))],
        Some(
            "Behind CGNAT (mobile carriers, some ISPs) inbound connections cannot reach this host and mappings are often symmetric: expect to need TURN.",
        ),
    ))
}

/// `ice-failed`: ICE never connected after the answer and none of the specific ICE rules explains it.
pub(super) fn ice_failed(cx: &Ctx, found: &[Finding]) -> Option<Finding> {
    let a = cx.a;
    if !a.answered() || a.ice_connected() || !cx.ice_settled() {
        return None;
    }
    if found.iter().any(|f| explains_ice_failure(f.id)) {
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
    ev.extend(checklist_evidence(a, 3));
    Some(finding(
        Severity::Error,
        "ICE never connected",
        ev,
        Some(
            "Compare the candidates above: a reachable pair needs an address of one side the other can send UDP to; a TURN server relays when none is.",
        ),
    ))
}

/// `ice-server-probe-failed`: a probe of one of the session's ICE servers (STUN binding or TURN
/// allocate, run on its own alongside the negotiation) failed, and no TURN/UDP rule already explains it.
pub(super) fn ice_server_probe_failed(cx: &Ctx, found: &[Finding]) -> Option<Finding> {
    let failed: Vec<&crate::event::probe::ProbeResult> = cx
        .d
        .probes()
        .iter()
        .filter(|p| !p.is_ok())
        .filter(|p| {
            !found.iter().any(|f| {
                explains_probe_failure(f.id) && f.evidence.iter().any(|e| e.contains(&p.summary()))
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
