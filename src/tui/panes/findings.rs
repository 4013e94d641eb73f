//! The findings: the diagnosis's verdicts, most severe first. The selected one (↑↓) is expanded to its
//! evidence and the suggested fix; the others show their one-line title.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget, Wrap};

use crate::diagnosis::{Finding, Severity};
use crate::tui::app::Pane;
use crate::tui::theme::Theme;
use crate::tui::view::{Ctx, cell, pane_block, span};

/// Symbol and style of a severity (the symbol carries the meaning without colour).
pub fn mark(s: Severity, t: &Theme) -> (&'static str, ratatui::style::Style) {
    match s {
        Severity::Critical | Severity::Error => ("✗", t.bad),
        Severity::Warning => ("⚠", t.warn),
        Severity::Info => ("ℹ", t.dim),
        Severity::Ok => ("✓", t.good),
    }
}

/// The lines of the pane for `findings`, with `selected` expanded.
pub fn lines(findings: &[Finding], selected: usize, width: usize, t: &Theme) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    if findings.is_empty() {
        out.push(Line::from(span(" nothing to say yet", t.dim)));
        return out;
    }
    let text_w = width.saturating_sub(12).max(10);
    for (i, f) in findings.iter().enumerate() {
        let (sym, style) = mark(f.severity, t);
        let sel = i == selected;
        out.push(Line::from(vec![
            span(if sel { "▶" } else { " " }, Default::default()),
            span(format!("{sym} {:<8} ", f.severity.label()), style),
            span(
                cell(&f.title, text_w),
                if sel { style } else { Default::default() },
            ),
        ]));
        if sel {
            for e in &f.evidence {
                out.push(Line::from(span(format!("     · {}", cell(e, 400)), t.dim)));
            }
            if let Some(fix) = &f.fix {
                out.push(Line::from(vec![
                    span("     fix: ", t.header),
                    span(cell(fix, 400), Default::default()),
                ]));
            }
            out.push(Line::from(span(format!("     rule {}", f.id), t.dim)));
        }
    }
    out
}

/// Draw the pane.
pub fn render(ctx: &Ctx, area: Rect, buf: &mut Buffer) {
    let findings = ctx.analysis.findings();
    let worst = findings
        .iter()
        .map(|f| f.severity)
        .max()
        .map(|s| s.label())
        .unwrap_or("-");
    let extra = format!("{} · worst {worst}", findings.len());
    let block = pane_block(ctx, Pane::Findings, &extra);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let selected = (ctx.state.selected.unwrap_or(0) as usize).min(findings.len().saturating_sub(1));
    let all = lines(findings, selected, usize::from(inner.width), ctx.theme);
    // Keep the selected finding's title in view.
    let title_line = findings.iter().take(selected).count();
    let skip = title_line.saturating_sub(usize::from(inner.height) / 3);
    let shown: Vec<Line> = all.into_iter().skip(skip).collect();
    Paragraph::new(shown)
        .wrap(Wrap { trim: false })
        .render(inner, buf);
}
