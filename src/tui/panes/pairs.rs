//! The candidate-pair checklist: the selected pair first and highlighted (★), with its current and
//! average RTT and how long it has been selected; every pair's state, nomination, RTT, STUN
//! requests/responses and bytes; and the selected-pair changes.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget};

use crate::event::{CandidatePair, PairEnd};
use crate::format::{at_ms, bytes, dur_ms};
use crate::model::avg_rtt_ms;
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

/// Pairs in display order: the selected one first, then the others as the engine listed them.
pub fn ordered<'a>(pairs: &'a [CandidatePair], selected: Option<&str>) -> Vec<&'a CandidatePair> {
    let mut v: Vec<&CandidatePair> = pairs
        .iter()
        .filter(|p| Some(p.id.as_str()) == selected)
        .collect();
    v.extend(pairs.iter().filter(|p| Some(p.id.as_str()) != selected));
    v
}

fn rtt_text(ms: Option<f64>) -> String {
    ms.map(dur_ms).unwrap_or_else(|| "-".into())
}

/// Draw the pane.
pub fn render(ctx: &Ctx, area: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let a = ctx.model.attempt();
    let sel = a.selected.as_ref();
    let extra = format!(
        "{} pairs · selection changes {}",
        a.pairs.len(),
        ctx.model.pair_changes().total()
    );
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
    let wide = width >= 100;
    let fixed = if wide {
        2 + 14 + 4 + 8 + 11 + 22
    } else {
        2 + 14 + 4 + 8
    };
    let end_w = (width.saturating_sub(fixed + 3) / 2).clamp(10, 46);
    let mut head = format!(
        "  {} ⇄ {} {} {} {}",
        pad("LOCAL", end_w),
        pad("REMOTE", end_w),
        pad("STATE", 13),
        pad("NOM", 3),
        pad("RTT", 7)
    );
    if wide {
        head.push_str(&format!(" {} {}", pad("REQ/RESP", 10), "BYTES ↑/↓"));
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
    for (i, p) in order.iter().enumerate().skip(start).take(rows_room.max(1)) {
        let is_selected_pair = sel.is_some_and(|s| s.pair.id == p.id);
        let h = Health::of_state(Some(&p.state));
        let marker = if is_selected_pair { "★ " } else { "  " };
        let text = format!(
            "{marker}{} ⇄ {} ",
            pad(&end_text(p.local.as_ref()), end_w),
            pad(&end_text(p.remote.as_ref()), end_w),
        );
        let state = format!("{} {}", h.symbol(), cell(&p.state, 11));
        let mut rest = format!(
            " {} {}",
            pad(if p.nominated { "yes" } else { "-" }, 3),
            pad(&rtt_text(p.current_rtt_ms.or_else(|| avg_rtt_ms(p))), 7)
        );
        if wide {
            rest.push_str(&format!(
                " {} {}/{}",
                pad(&format!("{}/{}", p.requests_sent, p.responses_received), 10),
                bytes(p.bytes_sent),
                bytes(p.bytes_received)
            ));
        }
        let base = if is_selected_pair {
            t.selected_pair
        } else {
            ratatui::style::Style::new()
        };
        let mut line = Line::from(vec![
            span(text, base),
            span(pad(&state, 13), t.health(h)),
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
                    "    req {} / resp {} · {} ↑ {} ↓",
                    p.requests_sent,
                    p.responses_received,
                    bytes(p.bytes_sent),
                    bytes(p.bytes_received)
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
