//! The candidate-pair checklist, with the columns of chrome://webrtc-internals: local ⇄ remote (type,
//! address, port, protocol), state, nominated, STUN requests and responses sent and received, current and
//! average RTT, bytes, and when the state last changed. The selected pair comes first and highlighted
//! (★), with how long it has been selected; pairs of an earlier ICE generation come last, dimmed (⟲).
//! At 80 columns each pair takes two lines; Enter opens one pair in full ([`detail_lines`]).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget};

use crate::event::{CandidatePair, PairEnd};
use crate::format::{at_ms, bytes, dur_ms};
use crate::model::{ChecklistTally, PairRow, avg_rtt_ms};
use crate::tui::app::Pane;
use crate::tui::theme::Health;
use crate::tui::view::{Ctx, cell, pad, pane_block, span, window_start};

/// `relay 127.0.0.1:49152` for one end of a pair.
pub fn end_text(e: Option<&PairEnd>) -> String {
    match e {
        None => "?".into(),
        Some(e) => {
            let a = if e.address.contains(':') {
                format!("[{}]:{}", cell(&e.address, 40), e.port)
            } else {
                format!("{}:{}", cell(&e.address, 40), e.port)
            };
            match e.relay_protocol {
                // A relay end shows how it reaches its TURN server (webrtc-internals' relayProtocol).
                Some(rp) => format!("{}/{} {a}", e.typ.as_str(), rp.as_str()),
                None => format!("{} {a}", e.typ.as_str()),
            }
        }
    }
}

/// The transport protocol of a pair (`udp`, `tcp`), from whichever end knows it.
pub fn protocol(p: &CandidatePair) -> &str {
    p.local
        .as_ref()
        .or(p.remote.as_ref())
        .map_or("", |e| e.protocol.as_str())
}

/// Rows in display order: the selected pair first, then the current ICE generation as the engine
/// listed it, then pairs of an earlier generation.
pub fn ordered<'a>(rows: &'a [PairRow], selected: Option<&str>) -> Vec<&'a PairRow> {
    let is_sel = |r: &PairRow| Some(r.pair.id.as_str()) == selected;
    let mut v: Vec<&PairRow> = rows.iter().filter(|r| is_sel(r)).collect();
    v.extend(rows.iter().filter(|r| !is_sel(r) && !r.pair.stale));
    v.extend(rows.iter().filter(|r| !is_sel(r) && r.pair.stale));
    v
}

fn rtt_text(ms: Option<f64>) -> String {
    ms.map(dur_ms).unwrap_or_else(|| "-".into())
}

/// `cur/avg` RTT of a pair.
fn rtts(p: &CandidatePair) -> String {
    format!("{}/{}", rtt_text(p.current_rtt_ms), rtt_text(avg_rtt_ms(p)))
}

/// The pane's title extra: pair count and tally.
fn title_extra(t: &ChecklistTally, changes: u64) -> String {
    let stale = if t.stale > 0 {
        format!(" (+{} old)", t.stale)
    } else {
        String::new()
    };
    format!(
        "{} pairs{stale} · {}✓ {}✗ · {} checks, {} resp · sel. changes {changes}",
        t.pairs, t.succeeded, t.failed, t.requests_sent, t.responses_received
    )
}

/// One pair in full, for the detail view: every column the pane abbreviates.
pub fn detail_lines(row: &PairRow, selected: bool) -> Vec<String> {
    let p = &row.pair;
    let end = |label: &str, e: Option<&PairEnd>| match e {
        Some(e) => format!(
            "{label}: {} {} port {} {}",
            e.typ.as_str(),
            e.address,
            e.port,
            e.protocol
        ),
        None => format!("{label}: unknown (no candidate stats for it)"),
    };
    let mut out = vec![
        end("local ", p.local.as_ref()),
        end("remote", p.remote.as_ref()),
        format!(
            "state: {} since {}{}",
            p.state,
            at_ms(row.state_since_ms),
            if p.stale {
                " (an earlier ICE generation)"
            } else {
                ""
            }
        ),
        format!(
            "nominated: {}{}",
            if p.nominated { "yes" } else { "no" },
            if selected { " · selected" } else { "" }
        ),
        format!(
            "STUN requests: {} sent, {} received",
            p.requests_sent, p.requests_received
        ),
        format!(
            "STUN responses: {} sent, {} received",
            p.responses_sent, p.responses_received
        ),
        format!(
            "RTT: current {}, average {}",
            rtt_text(p.current_rtt_ms),
            rtt_text(avg_rtt_ms(p))
        ),
        format!(
            "bytes: {} sent, {} received",
            bytes(p.bytes_sent),
            bytes(p.bytes_received)
        ),
        format!("stats id: {}", p.id),
    ];
    if p.requests_sent > 0 && p.responses_received == 0 {
        out.push(String::new());
        out.push(format!(
            "{} checks went out on this pair and no response came back.",
            p.requests_sent
        ));
    }
    out
}

/// A checklist as plain text lines (the restart log's detail): a header, then one line per pair.
pub fn checklist_text(rows: &[PairRow], selected: Option<&str>) -> Vec<String> {
    let mut out = vec![format!(
        "── checklist: {} ──",
        ChecklistTally::of(rows).describe()
    )];
    if rows.is_empty() {
        out.push("(no candidate pair was reported)".into());
        return out;
    }
    out.push(format!(
        "  {} ⇄ {} {} {} {} {} {} {} {}",
        pad("LOCAL", 28),
        pad("REMOTE", 28),
        pad("PROTO", 5),
        pad("STATE", 11),
        pad("NOM", 3),
        pad("REQ↑/↓", 9),
        pad("RESP↑/↓", 9),
        pad("RTT", 15),
        "CHANGED"
    ));
    for r in ordered(rows, selected) {
        let p = &r.pair;
        let marker = if Some(p.id.as_str()) == selected {
            "★ "
        } else if p.stale {
            "⟲ "
        } else {
            "  "
        };
        out.push(format!(
            "{marker}{} ⇄ {} {} {} {} {} {} {} {}",
            pad(&end_text(p.local.as_ref()), 28),
            pad(&end_text(p.remote.as_ref()), 28),
            pad(protocol(p), 5),
            pad(&p.state, 11),
            pad(if p.nominated { "yes" } else { "-" }, 3),
            pad(&format!("{}/{}", p.requests_sent, p.requests_received), 9),
            pad(&format!("{}/{}", p.responses_sent, p.responses_received), 9),
            pad(&rtts(p), 15),
            at_ms(r.state_since_ms)
        ));
    }
    out
}

/// Draw the pane.
pub fn render(ctx: &Ctx, area: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let a = ctx.model.attempt();
    let sel = a.selected.as_ref();
    let extra = title_extra(&a.checklist_tally(), ctx.model.pair_changes().total());
    let block = pane_block(ctx, Pane::Pairs, &extra);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height == 0 {
        return;
    }
    let width = usize::from(inner.width);
    let mut lines = Vec::new();
    match sel {
        Some(s) => {
            let p = &s.pair;
            lines.push(Line::from(vec![
                span("★ SELECTED ", t.selected_pair),
                span(
                    format!(
                        "{} ⇄ {} {}",
                        end_text(p.local.as_ref()),
                        end_text(p.remote.as_ref()),
                        cell(
                            p.local.as_ref().map(|e| e.protocol.as_str()).unwrap_or(""),
                            4
                        )
                    ),
                    t.selected_pair,
                ),
            ]));
            lines.push(Line::from(vec![span(
                format!(
                    "  RTT {} (avg {}) · selected for {} · changes {} · {} ↑ {} ↓",
                    rtt_text(s.current_rtt_ms()),
                    rtt_text(s.avg_rtt_ms()),
                    at_ms(ctx.now_ms - s.since_ms),
                    s.changes,
                    bytes(p.bytes_sent),
                    bytes(p.bytes_received),
                ),
                t.selected_pair,
            )]));
        }
        None => lines.push(Line::from(span(
            if a.pairs.is_empty() {
                "no candidate pairs yet"
            } else {
                "no pair selected yet"
            },
            t.dim,
        ))),
    }
    // Wide: one line per pair with every column. Narrow (80 columns): the ends, protocol, state and
    // nomination, then the counters on a second, dimmed line.
    let wide = width >= 140;
    let fixed = if wide {
        2 + 3 + 6 + 13 + 4 + 10 + 10 + 16 + 20 + 10
    } else {
        2 + 3 + 6 + 13 + 4
    };
    let end_w = (width.saturating_sub(fixed) / 2).clamp(10, 46);
    let mut head = format!(
        "  {} ⇄ {} {} {} {}",
        pad("LOCAL", end_w),
        pad("REMOTE", end_w),
        pad("PROTO", 5),
        pad("STATE", 12),
        pad("NOM", 3)
    );
    if wide {
        head.push_str(&format!(
            " {} {} {} {} {}",
            pad("REQ ↑/↓", 9),
            pad("RESP ↑/↓", 9),
            pad("RTT cur/avg", 15),
            pad("BYTES ↑/↓", 19),
            "CHANGED"
        ));
    }
    lines.push(Line::from(span(head, t.header)));
    let per_row = if wide { 1 } else { 2 };
    let rows_room = usize::from(inner.height).saturating_sub(lines.len() + 1) / per_row;
    let order = ordered(&a.pairs, sel.map(|s| s.pair.id.as_str()));
    let sel_row = ctx
        .state
        .selected
        .map(|i| (i as usize).min(order.len().saturating_sub(1)));
    let start = window_start(order.len(), sel_row.unwrap_or(0), rows_room.max(1));
    for (i, r) in order.iter().enumerate().skip(start).take(rows_room.max(1)) {
        let p = &r.pair;
        let is_selected_pair = sel.is_some_and(|s| s.pair.id == p.id);
        let h = Health::of_state(Some(&p.state));
        let marker = if is_selected_pair {
            "★ "
        } else if p.stale {
            "⟲ "
        } else {
            "  "
        };
        let text = format!(
            "{marker}{} ⇄ {} {} ",
            pad(&end_text(p.local.as_ref()), end_w),
            pad(&end_text(p.remote.as_ref()), end_w),
            pad(protocol(p), 5),
        );
        let state = format!("{} {}", h.symbol(), cell(&p.state, 10));
        let mut rest = format!(" {}", pad(if p.nominated { "yes" } else { "-" }, 3));
        if wide {
            rest.push_str(&format!(
                " {} {} {} {} {}",
                pad(&format!("{}/{}", p.requests_sent, p.requests_received), 9),
                pad(&format!("{}/{}", p.responses_sent, p.responses_received), 9),
                pad(&rtts(p), 15),
                pad(
                    &format!("{}/{}", bytes(p.bytes_sent), bytes(p.bytes_received)),
                    19
                ),
                at_ms(r.state_since_ms)
            ));
        }
        let base = if is_selected_pair {
            t.selected_pair
        } else if p.stale {
            t.dim
        } else {
            ratatui::style::Style::new()
        };
        let mut line = Line::from(vec![
            span(text, base),
            span(pad(&state, 12), if p.stale { t.dim } else { t.health(h) }),
            span(rest, base),
        ]);
        if sel_row == Some(i) {
            line = line.style(if ctx.focused { t.selection } else { t.header });
        }
        lines.push(line);
        if !wide {
            // No room for the counters' columns: a second line.
            lines.push(Line::from(span(
                format!(
                    "    req {}/{} resp {}/{} · rtt {} · {}↑ {}↓ · at {}",
                    p.requests_sent,
                    p.requests_received,
                    p.responses_sent,
                    p.responses_received,
                    rtts(p),
                    bytes(p.bytes_sent),
                    bytes(p.bytes_received),
                    at_ms(r.state_since_ms)
                ),
                t.dim,
            )));
        }
    }
    if order.is_empty() && sel.is_some() {
        lines.push(Line::from(span("  (checklist not reported yet)", t.dim)));
    }
    // The latest selection change, when the selection changed within this attempt.
    let changes = ctx.model.pair_changes();
    let in_attempt = changes
        .iter()
        .rev()
        .take_while(|c| c.attempt == a.number)
        .count();
    if in_attempt > 1
        && let Some(c) = changes.last()
    {
        lines.push(Line::from(span(
            format!(
                "pair changed at {} (attempt {}): now {} ⇄ {}",
                at_ms(c.t_ms),
                c.attempt,
                end_text(c.local.as_ref()),
                end_text(c.remote.as_ref())
            ),
            t.warn,
        )));
    }
    Paragraph::new(lines).render(inner, buf);
}
