//! The signaling log: every message sent (→) and received (←) and every connection event (·),
//! newest last, with time, attempt, kind, size and a one-line preview.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget};
use serde_json::Value;

use crate::event::{Direction, MessageKind};
use crate::format::{at_ms, bytes};
use crate::model::{SignalEntry, SignalKind, sdp};
use crate::tui::app::Pane;
use crate::tui::theme::Theme;
use crate::tui::view::{Ctx, cell, pad, pane_block, span, window_start};

/// The request or status line of an HTTP exchange entry (WHEP), if `text` is one.
pub fn http_first_line(text: &str) -> Option<&str> {
    let first = text.split('\n').next()?;
    let mut words = first.split(' ');
    let w = words.next()?;
    let is_method = matches!(w, "GET" | "POST" | "PATCH" | "DELETE" | "OPTIONS" | "PUT");
    let is_status = w.len() == 3 && w.bytes().all(|b| b.is_ascii_digit());
    (is_method || is_status).then_some(first)
}

/// A one-line preview of a message (raw; sanitise before display).
pub fn preview(e: &SignalEntry) -> String {
    let http = http_first_line(&e.text);
    let sdp_preview = |p: String| match http {
        Some(h) => format!("{h} · {p}"),
        None => p,
    };
    if let Some(h) = http
        && !matches!(
            e.kind,
            SignalKind::Message(MessageKind::Offer | MessageKind::Answer)
        )
    {
        let headers = e
            .text
            .split("\n\n")
            .next()
            .map_or(0, |h| h.lines().count() - 1);
        return if headers > 0 {
            format!("{h} (+{headers} headers)")
        } else {
            h.to_string()
        };
    }
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
                    sdp_preview(format!("SDP {}", parts.join(" · ")))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: MessageKind, text: &str) -> SignalEntry {
        SignalEntry {
            seq: 0,
            t_ms: 0.0,
            attempt: 1,
            dir: Some(Direction::Out),
            kind: SignalKind::Message(kind),
            size: text.len(),
            text: text.into(),
            truncated: false,
        }
    }

    #[test]
    fn http_entries_preview_their_first_line() {
        let e = entry(
            MessageKind::Empty,
            "OPTIONS http://h/cam/whep\nAccept: */*\nOrigin: x",
        );
        assert_eq!(preview(&e), "OPTIONS http://h/cam/whep (+2 headers)");
        let e = entry(
            MessageKind::Answer,
            "201 Created (POST, 12 ms)\nLocation: /x\n\nv=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\na=sendonly\r\n",
        );
        assert_eq!(
            preview(&e),
            "201 Created (POST, 12 ms) · SDP video sendonly VP8"
        );
        let e = entry(
            MessageKind::Candidate,
            r#"{"candidate":"candidate:1 1 udp 5 1.2.3.4 9 typ host"}"#,
        );
        assert_eq!(preview(&e), "1 1 udp 5 1.2.3.4 9 typ host");
        assert_eq!(http_first_line("{\"type\":\"offer\"}"), None);
    }
}
