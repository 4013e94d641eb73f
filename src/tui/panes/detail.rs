//! The detail view of a signaling message (pretty JSON; for an SDP the summary, and for an answer
//! what it accepted or rejected of the offer, then the raw SDP) or of an error. Scrollable.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Widget};
use serde_json::Value;

use crate::event::{Direction, MessageKind};
use crate::format::{at_ms, bytes};
use crate::model::{Model, SignalKind, sdp};
use crate::sanitize;
use crate::tui::app::{App, DetailTarget};
use crate::tui::view::{span, wrap};

use super::events::{level_text, source_name};

/// The title and the (raw, unsanitised) lines of a detail view.
pub fn detail_lines(m: &Model, target: DetailTarget) -> (String, Vec<String>) {
    match target {
        DetailTarget::Message(i) => {
            let Some(e) = m.messages().get_abs(i) else {
                return ("message".into(), vec!["(no longer in the log)".into()]);
            };
            let dir = match e.dir {
                Some(Direction::Out) => "→ sent",
                Some(Direction::In) => "← received",
                None => "· connection",
            };
            let title = format!(
                "{dir} {} · attempt {} · at {} · {}{}",
                e.kind.label(),
                e.attempt,
                at_ms(e.t_ms),
                bytes(e.size as u64),
                if e.truncated { " (truncated)" } else { "" }
            );
            let mut out = Vec::new();
            let is_sdp = matches!(
                e.kind,
                SignalKind::Message(MessageKind::Offer | MessageKind::Answer)
            );
            if let Some(text) = is_sdp.then(|| sdp::sdp_from_message(&e.text)).flatten() {
                let summary = sdp::parse(&text);
                let offer = (e.kind == SignalKind::Message(MessageKind::Answer))
                    .then(|| m.offer_sdp_for(e.attempt))
                    .flatten()
                    .map(|o| sdp::parse(&o));
                // WHEP: the request line or status and the headers come before the body.
                if let Some(pos) = e.text.find("v=0")
                    && pos > 0
                    && !e.text.starts_with('{')
                {
                    out.push("── HTTP ──".into());
                    out.extend(e.text[..pos].lines().map(str::to_string));
                }
                out.push("── SDP summary ──".into());
                if e.kind == SignalKind::Message(MessageKind::Answer) && offer.is_none() {
                    out.push(
                        "(the offer of this attempt is no longer in the log: no comparison)".into(),
                    );
                }
                out.extend(sdp::describe(&summary, offer.as_ref()));
                out.push(String::new());
                out.push("── raw SDP ──".into());
                out.extend(text.lines().map(str::to_string));
                return (title, out);
            }
            match serde_json::from_str::<Value>(&e.text) {
                Ok(v) => {
                    let pretty =
                        serde_json::to_string_pretty(&v).unwrap_or_else(|_| e.text.clone());
                    out.extend(pretty.lines().map(str::to_string));
                }
                Err(err) if e.dir.is_some() => {
                    out.push(format!("not JSON: {err}"));
                    out.push(String::new());
                    out.extend(e.text.split('\n').map(str::to_string));
                }
                Err(_) => out.extend(e.text.split('\n').map(str::to_string)),
            }
            (title, out)
        }
        DetailTarget::Log(i) => {
            let Some(e) = m.log().get_abs(i) else {
                return ("error".into(), vec!["(no longer in the log)".into()]);
            };
            let title = format!(
                "{} · {} · attempt {} · at {}",
                level_text(e.level),
                source_name(e.source),
                e.attempt,
                at_ms(e.t_ms)
            );
            let mut out: Vec<String> = e.message.split('\n').map(str::to_string).collect();
            if let Some(o) = &e.offending {
                out.push(String::new());
                out.push("── offending input (escapes shown, not interpreted) ──".into());
                out.extend(o.split('\n').map(str::to_string));
            }
            (title, out)
        }
        DetailTarget::Restart(i) => {
            let Some(r) = m.restarts().get_abs(i) else {
                return ("restart".into(), vec!["(no longer in the log)".into()]);
            };
            let title = format!(
                "restart at {} · attempt {} ended after {}",
                at_ms(r.t_ms),
                r.ended_attempt,
                at_ms(r.lived_ms)
            );
            let mut out: Vec<String> = r.cause_text.split('\n').map(str::to_string).collect();
            out.push(format!(
                "{} · reconnect: {}",
                if r.had_connected {
                    "had connected"
                } else {
                    "never connected"
                },
                super::restarts::reconnect_text(r, m.ended().is_some())
            ));
            out.push(String::new());
            out.extend(super::pairs::checklist_text(
                &r.checklist,
                r.selected_pair_id.as_deref(),
            ));
            (title, out)
        }
        DetailTarget::Pair(i) => {
            let a = m.attempt();
            let sel = a.selected.as_ref().map(|s| s.pair.id.as_str());
            let order = super::pairs::ordered(&a.pairs, sel);
            let Some(row) = order.get(i as usize) else {
                return ("pair".into(), vec!["(no longer in the checklist)".into()]);
            };
            let is_sel = Some(row.pair.id.as_str()) == sel;
            let title = format!("candidate pair · attempt {}", a.number);
            (title, super::pairs::detail_lines(row, is_sel))
        }
    }
}

/// Draw the detail overlay.
pub fn render(app: &App, target: DetailTarget, scroll: usize, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    // Full screen when small; a margin shows the panes are still there when there is room.
    let popup = if area.width < 100 || area.height < 30 {
        area
    } else {
        Rect {
            x: area.x + 2,
            y: area.y + 1,
            width: area.width - 4,
            height: area.height - 2,
        }
    };
    Clear.render(popup, buf);
    let (title, raw) = detail_lines(app.view_model(), target);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(t.border_focused)
        .title(span(
            format!(
                " {} ",
                sanitize::cell(&title, usize::from(popup.width).saturating_sub(4))
            ),
            t.title,
        ))
        .title_bottom(span(" ↑↓ PgUp PgDn scroll · Esc close ", t.dim));
    let inner = block.inner(popup);
    block.render(popup, buf);
    let width = usize::from(inner.width);
    let lines: Vec<String> = raw
        .iter()
        .flat_map(|l| {
            let clean = sanitize::sanitize(&l.replace('\t', "    ")).into_owned();
            wrap(&clean, width)
        })
        .collect();
    let max = lines.len().saturating_sub(usize::from(inner.height));
    let start = scroll.min(max);
    let shown: Vec<Line> = lines
        .into_iter()
        .skip(start)
        .take(usize::from(inner.height))
        .map(|l| {
            if l.starts_with("──") {
                Line::from(span(l, t.header))
            } else if l.contains("REJECTED") || l.contains("MISSING") {
                Line::from(span(l, t.bad))
            } else {
                Line::raw(l)
            }
        })
        .collect();
    Paragraph::new(shown).render(inner, buf);
}
