//! The side-effect-free view: `App` → screen.
//!
//! ```text
//! Large (≥ 120x32):                              Compact (e.g. 80x24), and zoom:
//! ┌ status: target · attempt · up · counts ────┐ ┌ status ──────────────────────┐
//! │ timeline: ✓ signaling › ✓ offer › … media  │ │ timeline (wrapped)           │
//! │ states: PC ✓ · ICE ✓ · DTLS ✓ · ws ✓        │ │ states                       │
//! ├ 1 Signaling ─────────┬ 2 ICE candidates ───┤ │ 1 Sig │ 2 ICE │ 3 Pairs │ …  │
//! ├ 3 Candidate pairs ───┼ 4 Tracks / bitrate ─┤ ├ focused pane ────────────────┤
//! ├ 5 Restarts ──────────┴ 6 Errors/warnings ──┤ │                              │
//! └ keys ──────────────────────────────────────┘ └ keys ────────────────────────┘
//! ```
//! Overlays (help, detail) are drawn last, over everything.

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Widget};
use unicode_width::UnicodeWidthChar;

use crate::analysis::Analysis;
use crate::model::Model;
use crate::sanitize;

use super::app::{App, Overlay, Pane, PaneState};
use super::panes;
use super::theme::Theme;

/// What a pane's render function gets.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// The model to show.
    pub model: &'a Model,
    /// The analysis it belongs to (the findings).
    pub analysis: &'a Analysis,
    /// Styles.
    pub theme: &'a Theme,
    /// Session time now.
    pub now_ms: f64,
    /// The pane's selection / scroll.
    pub state: PaneState,
    /// Whether the pane has focus.
    pub focused: bool,
}

impl<'a> Ctx<'a> {
    /// A context for rendering one pane of `app`.
    pub fn for_pane(app: &'a App, pane: Pane) -> Self {
        Ctx {
            model: app.view_model(),
            analysis: app.view_analysis(),
            theme: &app.theme,
            now_ms: app.view_now_ms(),
            state: app.pane(pane),
            focused: app.focus == pane,
        }
    }
}

/// Minimum size for the grid layout; below it, panes become tabs.
pub const GRID_MIN: (u16, u16) = (120, 32);

/// Draw the whole screen.
pub fn view(app: &App, frame: &mut Frame) {
    let area = frame.area();
    render(app, area, frame.buffer_mut());
}

/// Draw the whole screen into a buffer.
pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    if area.width < 20 || area.height < 6 {
        Paragraph::new("terminal too small").render(area, buf);
        return;
    }
    let status_h = panes::status::height(app, area.width);
    let [status, body, footer] = Layout::vertical([
        Constraint::Length(status_h),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    panes::status::render(app, status, buf);
    let grid = area.width >= GRID_MIN.0 && area.height >= GRID_MIN.1;
    if app.zoom {
        render_pane(app, app.focus, body, buf);
    } else if grid {
        let rows = Layout::vertical([
            Constraint::Percentage(40),
            Constraint::Percentage(35),
            Constraint::Percentage(25),
        ])
        .split(body);
        let pairs = [
            (Pane::Signaling, Pane::Candidates),
            (Pane::Pairs, Pane::Tracks),
        ];
        for (row, (l, r)) in rows.iter().zip(pairs) {
            let [a, b] =
                Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                    .areas(*row);
            render_pane(app, l, a, buf);
            render_pane(app, r, b, buf);
        }
        // The bottom row: what it all means, next to the restarts and the errors behind it.
        let [f, r, e] = Layout::horizontal([
            Constraint::Percentage(40),
            Constraint::Percentage(30),
            Constraint::Percentage(30),
        ])
        .areas(rows[2]);
        render_pane(app, Pane::Findings, f, buf);
        render_pane(app, Pane::Restarts, r, buf);
        render_pane(app, Pane::Events, e, buf);
    } else {
        let [tabs, pane] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(body);
        render_tabs(app, tabs, buf);
        render_pane(app, app.focus, pane, buf);
    }
    render_footer(app, footer, buf);
    match app.overlay {
        Overlay::None => {}
        Overlay::Help => render_help(app, area, buf),
        Overlay::Detail { target, scroll } => panes::detail::render(app, target, scroll, area, buf),
    }
}

/// Draw one pane.
pub fn render_pane(app: &App, pane: Pane, area: Rect, buf: &mut Buffer) {
    let ctx = Ctx::for_pane(app, pane);
    match pane {
        Pane::Signaling => panes::signaling::render(&ctx, area, buf),
        Pane::Candidates => panes::candidates::render(&ctx, area, buf),
        Pane::Pairs => panes::pairs::render(&ctx, area, buf),
        Pane::Tracks => panes::tracks::render(&ctx, area, buf),
        Pane::Restarts => panes::restarts::render(&ctx, area, buf),
        Pane::Events => panes::events::render(&ctx, area, buf),
        Pane::Findings => panes::findings::render(&ctx, area, buf),
    }
}

fn render_tabs(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let mut spans = Vec::new();
    for (i, p) in Pane::ALL.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled("│", t.dim));
        }
        let label = format!("{} {}", i + 1, p.short());
        if *p == app.focus {
            spans.push(Span::styled(format!("[{label}]"), t.selection));
        } else {
            spans.push(Span::raw(format!(" {label} ")));
        }
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
}

/// The bottom line: the worst finding's verdict, so that the first screen answers the first
/// question at every size (the Findings pane, 7, has the evidence and the fix); the key hints until
/// there is a verdict.
fn render_footer(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    if let Some(f) = app.view_analysis().verdict() {
        let (sym, style) = panes::findings::mark(f.severity, t);
        let tail = "  7 why  ? keys";
        let room = (area.width as usize).saturating_sub(2 + tail.chars().count());
        let spans = vec![
            Span::styled(format!("{sym} "), style),
            Span::styled(cell(&f.title, room), style),
            Span::styled(
                format!(
                    "{:pad$}",
                    "",
                    pad = room.saturating_sub(crate::sanitize::width(&cell(&f.title, room)))
                ),
                t.dim,
            ),
            Span::styled("  7", t.key),
            Span::raw(" why  "),
            Span::styled("?", t.key),
            Span::raw(" keys"),
        ];
        Paragraph::new(Line::from(spans)).render(area, buf);
        return;
    }
    let keys: &[(&str, &str)] = &[
        ("Tab/1-7", "focus"),
        ("↑↓", "select"),
        ("Enter", "detail"),
        ("z", "zoom"),
        (
            "f",
            if app.is_frozen() {
                "unfreeze"
            } else {
                "freeze"
            },
        ),
        ("r", "restart"),
        ("?", "help"),
        ("q", "quit"),
    ];
    let gap = if area.width >= 100 { "  " } else { " " };
    let mut spans = Vec::new();
    for (k, what) in keys {
        spans.push(Span::styled(*k, t.key));
        spans.push(Span::raw(format!(" {what}{gap}")));
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
}

fn render_help(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let keys = super::keys::HELP;
    let w = 84.min(area.width.saturating_sub(2));
    let h = (keys.len() as u16 + 8).min(area.height.saturating_sub(2));
    let popup = centered(area, w, h);
    Clear.render(popup, buf);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(t.border_focused)
        .title(Span::styled(" Keys (Esc or ? to close) ", t.title));
    let mut lines: Vec<Line> = keys
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!(" {k:<16}"), t.key),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    for l in [
        " Symbols: ✓ done/healthy  … in progress  ✗ failed/closed",
        "          · not reached   ★ selected pair  ⚠ warning",
        " Times: since the session started; timeline steps since",
        "        the attempt started (see the status bar).",
    ] {
        lines.push(Line::styled(l, t.dim));
    }
    Paragraph::new(lines).block(block).render(popup, buf);
}

/// A `w`x`h` rectangle centred in `area` (clamped to it).
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// The bordered block of a pane: number, title and `extra` in the title; a thick border when focused.
pub fn pane_block(ctx: &Ctx, pane: Pane, extra: &str) -> Block<'static> {
    let t = ctx.theme;
    let marker = if ctx.focused { "▶" } else { " " };
    let mut title = format!("{marker}{} {}", pane.index() + 1, pane.title());
    if !extra.is_empty() {
        title.push_str(" · ");
        title.push_str(extra);
    }
    title.push(' ');
    Block::default()
        .borders(Borders::ALL)
        .border_type(if ctx.focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(if ctx.focused {
            t.border_focused
        } else {
            t.border
        })
        .title(Span::styled(title, t.title))
}

/// Index of the first visible row of a list of `n` rows with `sel` selected and `height` visible.
pub fn window_start(n: usize, sel: usize, height: usize) -> usize {
    if height == 0 || n <= height {
        return 0;
    }
    let sel = sel.min(n - 1);
    (sel + 1).saturating_sub(height)
}

/// Split a (sanitised) line into pieces of at most `width` columns.
pub fn wrap(s: &str, width: usize) -> Vec<String> {
    if width == 0 {
        return vec![String::new()];
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > width {
            out.push(std::mem::take(&mut cur));
            used = 0;
        }
        cur.push(c);
        used += w;
    }
    out.push(cur);
    out
}

/// A text cell from a network string: sanitised and cut to `max` columns.
pub fn cell(s: &str, max: usize) -> String {
    sanitize::cell(s, max)
}

/// Left-justify `s` in `w` columns (cutting it if needed).
pub fn pad(s: &str, w: usize) -> String {
    let cut = sanitize::truncate_width(s, w);
    let fill = w.saturating_sub(sanitize::width(&cut));
    format!("{cut}{}", " ".repeat(fill))
}

/// A styled span.
pub fn span<S: Into<String>>(s: S, style: Style) -> Span<'static> {
    Span::styled(s.into(), style)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_keeps_selection_visible() {
        assert_eq!(window_start(5, 4, 10), 0);
        assert_eq!(window_start(100, 99, 10), 90);
        assert_eq!(window_start(100, 3, 10), 0);
        assert_eq!(window_start(100, 50, 10), 41);
        assert_eq!(window_start(100, 500, 10), 90);
    }

    #[test]
    fn wrapping() {
        assert_eq!(wrap("abcdef", 4), vec!["abcd", "ef"]);
        assert_eq!(wrap("", 4), vec![""]);
        assert_eq!(pad("ab", 4), "ab  ");
        assert_eq!(pad("abcdef", 4), "abc…");
    }
}
