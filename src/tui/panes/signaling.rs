//! The signaling log: every message sent (→) and received (←) and every connection event (·),
//! newest last, with time, attempt, kind, size and a one-line preview.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget};
use serde_json::Value;

use crate::event::{Direction, MessageKind};
use crate::model::{SignalEntry, SignalKind, sdp};
use crate::tui::app::Pane;
use crate::tui::format::{at_ms, bytes};
use crate::tui::theme::Theme;
use crate::tui::view::{Ctx, cell, pad, pane_block, span, window_start};

/// A one-line preview of a message (raw; sanitise before display).
pub fn preview(e: &SignalEntry) -> String {
    match e.kind {
        SignalKind::Message(MessageKind::Offer | MessageKind::Answer) => {
            match sdp::sdp_from_message(&e.text) {
                Some(text) => {
                    let s = sdp::parse(&text);
                    let parts: Vec<String> = s
                        .media
                        .iter()
                        .map(|m| {
                            if m.rejected() {
                                return format!("{} REJECTED", m.media);
                            }
                            let mut names: Vec<&str> = Vec::new();
                            for c in &m.codecs {
                                let n = c.name.as_str();
                                if !n.eq_ignore_ascii_case("rtx") && !names.contains(&n) {
                                    names.push(n);
                                }
                            }
                            format!(
                                "{} {} {}",
                                m.media,
                                m.effective_direction(),
                                names.join(",")
                            )
                        })
                        .collect();
                    format!("SDP {}", parts.join(" · "))
                }
                None => e.text.clone(),
            }
        }
        SignalKind::Message(MessageKind::Candidate) => {
            match serde_json::from_str::<Value>(&e.text) {
                Ok(v) => match v.get("candidate").and_then(Value::as_str) {
                    Some("") => "end of candidates".to_string(),
                    Some(c) => c.strip_prefix("candidate:").unwrap_or(c).to_string(),
                    None => e.text.clone(),
                },
                Err(_) => e.text.clone(),
            }
        }
        _ => e.text.clone(),
    }
}

fn kind_style(e: &SignalEntry, t: &Theme) -> ratatui::style::Style {
    match e.kind {
        SignalKind::Failed | SignalKind::Close => t.bad,
        SignalKind::Message(MessageKind::Invalid | MessageKind::Unknown) => t.warn,
        SignalKind::Open => t.good,
        _ => ratatui::style::Style::new(),
    }
}

/// Draw the pane.
pub fn render(ctx: &Ctx, area: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let msgs = ctx.model.messages();
    let extra = if msgs.dropped() > 0 {
        format!("{} (last {})", msgs.total(), msgs.len())
    } else {
        format!("{}", msgs.total())
    };
    let block = pane_block(ctx, Pane::Signaling, &extra);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height == 0 {
        return;
    }
    let mut lines = vec![Line::from(span(
        " TIME       #  DIR KIND          SIZE  CONTENT",
        t.header,
    ))];
    let rows = usize::from(inner.height) - 1;
    let n = msgs.len();
    if n == 0 {
        lines.push(Line::from(span(" no signaling yet", t.dim)));
    } else {
        let first = msgs.first_index();
        let sel_rel = ctx
            .state
            .selected
            .map(|abs| abs.saturating_sub(first).min(n as u64 - 1) as usize);
        let start = window_start(n, sel_rel.unwrap_or(n - 1), rows);
        let width = usize::from(inner.width);
        for (i, e) in msgs.iter().enumerate().skip(start).take(rows) {
            let dir = match e.dir {
                Some(Direction::Out) => "→",
                Some(Direction::In) => "←",
                None => "·",
            };
            let size = if e.size > 0 || e.dir.is_some() {
                bytes(e.size as u64)
            } else {
                String::new()
            };
            let mut kind = e.kind.label().to_string();
            if e.truncated {
                kind.push('✂');
            }
            let fixed = format!(
                "{}{} {:>3} {}  {} {:>8}  ",
                if sel_rel == Some(i) { "▶" } else { " " },
                pad(&at_ms(e.t_ms), 9),
                e.attempt,
                dir,
                pad(&kind, 11),
                size
            );
            let room = width.saturating_sub(crate::sanitize::width(&fixed));
            let mut line = Line::from(vec![
                span(fixed, ratatui::style::Style::new()),
                span(cell(&preview(e), room), kind_style(e, t)),
            ]);
            if sel_rel == Some(i) && ctx.focused {
                line = line.style(t.selection);
            } else if sel_rel == Some(i) {
                line = line.style(t.header);
            }
            lines.push(line);
        }
    }
    Paragraph::new(lines).render(inner, buf);
}
