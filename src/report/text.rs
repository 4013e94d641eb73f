//! The text report: the verdict on the first line (like natcheck), then the outcome, every finding with
//! its evidence and fix, the phase timeline, candidates by type, the selected pair, per-track
//! statistics and the restarts. Every string that came from the network is sanitised.

use std::fmt::Write as _;

use super::dto::{CandidatesDto, ChecklistPairDto, FindingDto, Report};
use crate::sanitize::sanitize;

/// Width that long lines (titles, evidence, fixes) are wrapped to.
const WIDTH: usize = 100;

use crate::format::{at_ms as ms, bitrate as bps};

/// Append `text` (sanitised) wrapped at [`WIDTH`], the first line after `first`, the others indented by
/// `indent` spaces.
fn wrapped(out: &mut String, first: &str, indent: usize, text: &str) {
    let text = sanitize(text);
    let mut line = first.to_owned();
    let mut width = line.chars().count();
    let mut empty = line.trim().is_empty() || line.ends_with(' ');
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let w = word.chars().count();
        if !empty && width + 1 + w > WIDTH {
            out.push_str(line.trim_end());
            out.push('\n');
            line = " ".repeat(indent);
            width = indent;
            empty = true;
        }
        if !empty {
            line.push(' ');
            width += 1;
        }
        line.push_str(word);
        width += w;
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

/// `VP8` for `video/VP8`.
fn codec_name(mime: Option<&str>) -> &str {
    match mime {
        Some(m) => m.rsplit('/').next().unwrap_or(m),
        None => "codec ?",
    }
}

fn severity_label(s: &str) -> &'static str {
    match s {
        "critical" => "CRITICAL",
        "error" => "ERROR",
        "warning" => "WARN",
        "info" => "INFO",
        "ok" => "OK",
        _ => "?",
    }
}

fn finding(out: &mut String, f: &FindingDto) {
    let label = format!("  {:<8} ", severity_label(&f.severity));
    wrapped(out, &format!("{label}{}", sanitize(&f.id)), 11, "");
    wrapped(out, &" ".repeat(11), 11, &f.title);
    for e in &f.evidence {
        wrapped(out, &format!("{}- ", " ".repeat(11)), 13, e);
    }
    if let Some(fix) = &f.fix {
        wrapped(out, &format!("{}fix: ", " ".repeat(11)), 16, fix);
    }
}

fn candidates(out: &mut String, side: &str, c: &CandidatesDto) {
    let _ = write!(
        out,
        "  {side:<7} {} host · {} srflx · {} prflx · {} relay",
        c.counts.host, c.counts.srflx, c.counts.prflx, c.counts.relay
    );
    if c.rejected > 0 {
        let _ = write!(out, " · {} rejected", c.rejected);
    }
    out.push('\n');
    for x in &c.list {
        let mut line = format!(
            "          {:<6}{} {}:{}",
            x.typ,
            sanitize(&x.protocol),
            sanitize(&x.address),
            x.port
        );
        if let Some(r) = &x.related {
            let _ = write!(line, " (base {})", sanitize(r));
        }
        let _ = write!(line, "  prio {}", x.priority);
        if let Some(rp) = &x.relay_protocol {
            let _ = write!(line, "  relayProtocol {}", sanitize(rp));
        }
        if let Some(u) = &x.url {
            let _ = write!(line, "  via {}", sanitize(u));
        }
        out.push_str(&line);
        out.push('\n');
    }
}

/// A checklist, one line per pair: `★` the selected pair, `⟲` a pair of an earlier ICE generation.
fn checklist(out: &mut String, indent: &str, pairs: &[ChecklistPairDto]) {
    if pairs.is_empty() {
        return;
    }
    let n = pairs.len();
    let _ = writeln!(
        out,
        "{indent}CHECKLIST  {n} pair{}",
        if n == 1 { "" } else { "s" }
    );
    for p in pairs {
        let mark = if p.selected {
            "★"
        } else if p.stale {
            "⟲"
        } else {
            " "
        };
        let _ = writeln!(
            out,
            "{indent}{mark} {} → {}  {}{}  req {}/{} resp {}/{}{}",
            sanitize(p.local.as_deref().unwrap_or("?")),
            sanitize(p.remote.as_deref().unwrap_or("?")),
            sanitize(&p.state),
            if p.nominated { " nominated" } else { "" },
            p.requests_sent,
            p.requests_received,
            p.responses_sent,
            p.responses_received,
            p.current_rtt_ms
                .map(|r| format!(" rtt {r:.1} ms"))
                .unwrap_or_default()
        );
    }
}

/// Render the report as text.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    match r.findings.first() {
        Some(f) => wrapped(
            &mut out,
            &format!("VERDICT ({}): ", severity_label(&f.severity)),
            9,
            &format!("{} [{}]", f.title, f.id),
        ),
        None => out.push_str("VERDICT: none (the session ended before anything could be judged)\n"),
    }
    let s = &r.session;
    let mut head = format!(
        "RESULT:  exit {}, {} · {} · {} attempt{}",
        r.outcome.exit_code,
        r.outcome.description,
        ms(s.duration_ms),
        s.attempts,
        if s.attempts == 1 { "" } else { "s" }
    );
    if let Some(e) = &s.end_reason {
        let _ = write!(head, " · ended: {}", e.replace('_', " "));
    }
    out.push_str(&head);
    out.push('\n');
    let _ = writeln!(
        out,
        "TARGET:  {} ({}) · started {} · {}",
        sanitize(s.target.as_deref().unwrap_or("?")),
        s.protocol.as_deref().unwrap_or("?"),
        sanitize(s.started_at.as_deref().unwrap_or("?")),
        r.generator
    );

    out.push_str("\nFINDINGS\n");
    if r.findings.is_empty() {
        out.push_str("  none\n");
    }
    for f in &r.findings {
        finding(&mut out, f);
    }

    match &r.attempt {
        None => out.push_str("\nTIMELINE\n  no attempt was made\n"),
        Some(a) => {
            let _ = writeln!(
                out,
                "\nTIMELINE  attempt {} (started at {})",
                a.number,
                ms(a.started_ms)
            );
            if a.phases.is_empty() {
                out.push_str("  no phase reached\n");
            }
            for p in &a.phases {
                let _ = writeln!(out, "  {:<12} +{}", p.name, ms(p.since_start_ms));
            }
            let st = &a.states;
            let state = |v: &Option<String>| sanitize(v.as_deref().unwrap_or("-")).into_owned();
            let _ = writeln!(
                out,
                "  states: signaling {}, gathering {}, ICE {}, DTLS {}, peer connection {}",
                state(&st.signaling),
                state(&st.ice_gathering),
                state(&st.ice_connection),
                state(&st.dtls),
                state(&st.peer_connection)
            );

            let _ = writeln!(out, "\nCANDIDATES  attempt {}", a.number);
            match &a.ice_servers {
                None => out.push_str("  ICE servers: unknown\n"),
                Some(i) => {
                    if i.servers.is_empty() {
                        let _ =
                            writeln!(out, "  ICE servers: none (policy {})", sanitize(&i.policy));
                    } else {
                        let _ = writeln!(out, "  ICE servers (policy {}):", sanitize(&i.policy));
                    }
                    for v in &i.servers {
                        let _ = writeln!(
                            out,
                            "          {}{} ({})",
                            sanitize(&v.urls.join(", ")),
                            v.username
                                .as_deref()
                                .map(|u| format!(" user {}", sanitize(u)))
                                .unwrap_or_default(),
                            v.source.replace('_', " ")
                        );
                    }
                    for k in &i.skipped {
                        wrapped(
                            &mut out,
                            &format!("          skipped {}:", sanitize(&k.url)),
                            12,
                            &k.reason,
                        );
                    }
                }
            }
            if !a.local_addresses.is_empty() {
                let list: Vec<String> = a
                    .local_addresses
                    .iter()
                    .map(|l| {
                        format!(
                            "{}{}{}",
                            if l.interface.is_empty() {
                                String::new()
                            } else {
                                format!("{} ", sanitize(&l.interface))
                            },
                            sanitize(&l.address),
                            if l.virtual_adapter { " (virtual)" } else { "" }
                        )
                    })
                    .collect();
                wrapped(&mut out, "  gathering on: ", 4, &list.join(", "));
            }
            candidates(&mut out, "local", &a.local_candidates);
            candidates(&mut out, "remote", &a.remote_candidates);

            out.push_str("\nSELECTED PAIR\n");
            match &a.selected_pair {
                None => out.push_str("  none\n"),
                Some(p) => {
                    let _ = writeln!(
                        out,
                        "  {} → {}",
                        sanitize(p.local.as_deref().unwrap_or("?")),
                        sanitize(p.remote.as_deref().unwrap_or("?"))
                    );
                    let mut line = format!(
                        "  {}{}, since {}",
                        sanitize(&p.state),
                        if p.nominated { ", nominated" } else { "" },
                        ms(p.since_ms)
                    );
                    if let Some(rtt) = p.current_rtt_ms {
                        let _ = write!(line, ", RTT {rtt:.1} ms");
                    }
                    if let Some(avg) = p.avg_rtt_ms {
                        let _ = write!(line, " (average {avg:.1} ms)");
                    }
                    let _ = write!(
                        line,
                        ", {} bytes sent, {} received, {} change{}",
                        p.bytes_sent,
                        p.bytes_received,
                        p.changes,
                        if p.changes == 1 { "" } else { "s" }
                    );
                    out.push_str(&line);
                    out.push('\n');
                }
            }
            if let Some(t) = &a.transport {
                let _ = writeln!(
                    out,
                    "  {} ({}), {}, {}",
                    sanitize(&t.tls_version),
                    sanitize(&t.dtls_role),
                    sanitize(&t.dtls_cipher),
                    sanitize(&t.srtp_cipher)
                );
            }
            checklist(&mut out, "  ", &a.checklist);
        }
    }

    out.push_str("\nTRACKS\n");
    if r.tracks.is_empty() {
        out.push_str("  none\n");
    }
    for t in &r.tracks {
        let _ = writeln!(
            out,
            "  {} {} mid {} ssrc {} (attempt {})",
            sanitize(&t.kind),
            sanitize(codec_name(t.codec.as_deref())),
            sanitize(&t.mid),
            t.ssrc.map_or("?".into(), |s| s.to_string()),
            t.attempt
        );
        let _ = writeln!(
            out,
            "    {} now{}, {} packets, {} lost{}, jitter {}, {} key frames, NACK {} · PLI {} · FIR {}",
            bps(t.bitrate_bps),
            t.avg_bitrate_bps
                .map(|a| format!(" ({} average)", bps(a)))
                .unwrap_or_default(),
            t.packets_received,
            t.packets_lost,
            t.loss_pct
                .map(|l| format!(" ({l:.1} %)"))
                .unwrap_or_default(),
            t.jitter_ms.map_or("?".into(), |j| format!("{j:.1} ms")),
            t.keyframes,
            t.nack_count,
            t.pli_count,
            t.fir_count
        );
    }
    if let Some(rp) = r.attempt.as_ref().and_then(|a| a.receive_path.as_ref()) {
        let _ = writeln!(
            out,
            "  receive buffers: {} granted of {} asked on {} socket(s){}; {}",
            crate::format::bytes(rp.granted_bytes),
            crate::format::bytes(rp.wanted_bytes),
            rp.sockets,
            rp.rmem_max
                .map(|m| format!(", net.core.rmem_max {}", crate::format::bytes(m)))
                .unwrap_or_default(),
            if rp.host_drops == 0 {
                "this host dropped nothing".to_owned()
            } else {
                format!(
                    "this host dropped {} datagrams in them (counted by the stack as lost, not lost by the network)",
                    rp.host_drops
                )
            }
        );
    }

    let _ = writeln!(out, "\nRESTARTS  {}", r.restarts.total);
    if r.restarts.total as usize > r.restarts.list.len() {
        let _ = writeln!(out, "  (the latest {} shown)", r.restarts.list.len());
    }
    for x in &r.restarts.list {
        let mut line = format!(
            "  at {}: attempt {} ended after {}{}: ",
            ms(x.t_ms),
            x.attempt,
            ms(x.lived_ms),
            if x.had_connected {
                " (had connected)"
            } else {
                ""
            }
        );
        if let Some(rc) = x.reconnect_ms {
            let _ = write!(line, "[reconnected {} later] ", ms(rc));
        }
        wrapped(&mut out, &line, 4, &x.description);
        if !x.had_connected {
            checklist(&mut out, "    ", &x.checklist);
        }
    }
    let _ = writeln!(
        out,
        "\n{} errors, {} warnings in {} events",
        r.log.errors, r.log.warnings, s.events
    );
    out
}
