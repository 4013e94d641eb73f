//! The status bar: target, attempt, uptime and counts; the phase timeline of the current attempt;
//! the states of the signaling connection and the state machines, each with a health symbol.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use crate::event::{EndReason, StateKind};
use crate::format::{at_ms, dur_ms, offset_ms};
use crate::model::{Milestone, Model, SignalingStatus};
use crate::sanitize;
use crate::tui::app::App;
use crate::tui::theme::{Health, Theme};
use crate::tui::view::{cell, span};

fn lines_for(spans: &[Span], width: u16, max: usize) -> u16 {
    let w: usize = spans.iter().map(|s| sanitize::width(&s.content)).sum();
    w.div_ceil(usize::from(width.max(1))).clamp(1, max) as u16
}

/// Lines the status bar needs at `width` columns.
pub fn height(app: &App, width: u16) -> u16 {
    let m = app.view_model();
    let compact = width < COMPACT_BELOW;
    lines_for(&head(app, compact), width, 2)
        + lines_for(
            &timeline(m, &app.theme, width < TIMELINE_COMPACT_BELOW),
            width,
            3,
        )
        + lines_for(&states(m, &app.theme, compact), width, 2)
}

/// Below this width the status bar uses short labels.
pub const COMPACT_BELOW: u16 = 120;
/// Below this width the timeline uses short labels (its long form needs about 165 columns).
pub const TIMELINE_COMPACT_BELOW: u16 = 170;

fn short_label(m: Milestone) -> &'static str {
    match m {
        Milestone::SignalingConnected => "ws",
        Milestone::IceServers => "ice-srv",
        Milestone::Offer => "offer",
        Milestone::Answer => "answer",
        Milestone::FirstLocalCandidate => "lcand",
        Milestone::FirstRemoteCandidate => "rcand",
        Milestone::IceChecking => "check",
        Milestone::IceConnected => "ICE",
        Milestone::DtlsConnected => "DTLS",
        Milestone::FirstMedia => "media",
    }
}

/// The timeline spans: each milestone with its time since the attempt started.
pub fn timeline(m: &Model, t: &Theme, compact: bool) -> Vec<Span<'static>> {
    let label = |ms: Milestone| if compact { short_label(ms) } else { ms.label() };
    let sep = if compact { " " } else { " › " };
    let a = m.attempt();
    let latest = a.timeline.latest();
    let over = matches!(
        a.signaling,
        Some(SignalingStatus::Closed { .. } | SignalingStatus::Failed { .. })
    ) || m.ended().is_some();
    let mut spans = Vec::new();
    let mut frontier_marked = false;
    for (i, ms) in Milestone::ALL.iter().enumerate() {
        if i > 0 {
            spans.push(span(sep, t.dim));
        }
        match a.timeline.get(*ms) {
            Some(at) => spans.push(span(
                if compact {
                    format!("✓{} {}", label(*ms), at_ms(at - a.started_ms))
                } else {
                    format!("✓ {} {}", label(*ms), offset_ms(at - a.started_ms))
                },
                t.good,
            )),
            None => {
                // The first step not reached after the latest one reached is where it stands.
                let after_latest = latest.is_none_or(|l| (*ms as usize) > (l as usize));
                if !frontier_marked && after_latest && a.number > 0 {
                    frontier_marked = true;
                    if over {
                        spans.push(span(format!("✗ {}", label(*ms)), t.bad));
                    } else {
                        spans.push(span(format!("… {}", label(*ms)), t.warn));
                    }
                } else {
                    spans.push(span(format!("· {}", label(*ms)), t.dim));
                }
            }
        }
    }
    spans
}

fn state_span(name: &str, state: Option<&str>, t: &Theme, compact: bool) -> Vec<Span<'static>> {
    let h = Health::of_state(state);
    let gap = if compact { "" } else { " " };
    vec![
        span(format!("{name} "), t.header),
        span(
            format!("{}{gap}{}", h.symbol(), cell(state.unwrap_or("-"), 24)),
            t.health(h),
        ),
        span("  ", t.dim),
    ]
}

/// The state spans: peer connection, ICE, DTLS, signaling state, gathering, WebSocket.
/// In compact form a completed gathering is left out (it is in the timeline).
pub fn states(m: &Model, t: &Theme, compact: bool) -> Vec<Span<'static>> {
    let a = m.attempt();
    let s = &a.states;
    let mut spans = Vec::new();
    spans.extend(state_span(
        "PC",
        s.get(StateKind::PeerConnection),
        t,
        compact,
    ));
    spans.extend(state_span(
        "ICE",
        s.get(StateKind::IceConnection),
        t,
        compact,
    ));
    spans.extend(state_span("DTLS", s.get(StateKind::Dtls), t, compact));
    let (sig, gath) = if compact {
        ("sig", "gather")
    } else {
        ("signaling", "gathering")
    };
    spans.extend(state_span(sig, s.get(StateKind::Signaling), t, compact));
    let gathering = s.get(StateKind::IceGathering);
    if !(compact && gathering == Some("complete")) {
        spans.extend(state_span(gath, gathering, t, compact));
    }
    let ws = match &a.signaling {
        None => None,
        Some(SignalingStatus::Connecting { .. }) => Some("connecting".to_string()),
        Some(SignalingStatus::Connected { .. }) => Some("open".to_string()),
        Some(SignalingStatus::Failed { http_status, .. }) => Some(match http_status {
            Some(h) => format!("failed (HTTP {h})"),
            None => "failed".to_string(),
        }),
        Some(SignalingStatus::Closed { code, .. }) => Some(match code {
            Some(c) => format!("closed ({c})"),
            None => "closed (1006)".to_string(),
        }),
    };
    let h = match &a.signaling {
        Some(SignalingStatus::Failed { .. } | SignalingStatus::Closed { .. }) => Health::Bad,
        Some(SignalingStatus::Connected { .. }) => Health::Good,
        Some(_) => Health::Progress,
        None => Health::Unknown,
    };
    spans.push(span("ws ", t.header));
    spans.push(span(
        format!(
            "{}{}{}",
            h.symbol(),
            if compact { "" } else { " " },
            ws.as_deref().unwrap_or("-")
        ),
        t.health(h),
    ));
    if !compact && let Some(tr) = &a.transport {
        spans.push(span("  ", t.dim));
        spans.push(span(
            format!(
                "{} {} {}",
                cell(&tr.tls_version, 12),
                cell(&tr.dtls_role, 8),
                cell(&tr.srtp_cipher, 28)
            ),
            t.dim,
        ));
    }
    spans
}

fn end_text(r: &EndReason) -> String {
    match r {
        EndReason::Duration => "duration reached".into(),
        EndReason::Interrupted => "stopped".into(),
        EndReason::MaxRestarts { restarts } => format!("max restarts ({restarts})"),
        EndReason::Fatal { error } => format!("fatal: {}", cell(error, 60)),
    }
}

/// The protocol's name as serialised (`ws`, …).
pub fn protocol_name(p: crate::event::Protocol) -> String {
    serde_json::to_value(p)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The first line: target, attempt, uptime, counts, frozen/ended flags.
pub fn head(app: &App, compact: bool) -> Vec<Span<'static>> {
    let m = app.view_model();
    let t = &app.theme;
    let now = app.view_now_ms();
    let mut head = if compact {
        Vec::new()
    } else {
        vec![span("rtcscope ", t.title)]
    };
    match m.session() {
        Some(s) if compact => head.push(span(cell(&s.target, 48), t.header)),
        Some(s) => {
            head.push(span(cell(&s.target, 60), t.header));
            head.push(span(format!(" ({})", protocol_name(s.protocol)), t.dim));
        }
        None => head.push(span("waiting for the engine…", t.dim)),
    }
    head.push(span(
        if compact {
            format!(
                " · att {} · up {} · rst {}",
                m.attempt_number(),
                dur_ms(now),
                m.restarts().total()
            )
        } else {
            format!(
                " · attempt {} · up {} · restarts {}",
                m.attempt_number(),
                dur_ms(now),
                m.restarts().total()
            )
        },
        Style::new(),
    ));
    let ice_restarts = m.attempt().ice_restarts;
    if ice_restarts > 0 {
        head.push(span(format!(" · ICE restarts {ice_restarts}"), t.warn));
    }
    if m.error_count() > 0 {
        head.push(span(format!(" · ✗{} err", m.error_count()), t.bad));
    }
    if m.warning_count() > 0 {
        let sep = if m.error_count() > 0 { " " } else { " · " };
        head.push(span(format!("{sep}⚠{} warn", m.warning_count()), t.warn));
    }
    if app.is_frozen() {
        let behind = app.analysis.model().events_applied() - m.events_applied();
        head.push(span(format!(" [FROZEN +{behind} events]"), t.selection));
    }
    if let Some(e) = m.ended() {
        head.push(span(format!(" [ENDED: {}]", end_text(&e.reason)), t.bad));
    } else if let Some(n) = &app.note {
        head.push(span(format!(" [{n}]"), t.warn));
    }
    head
}

/// Draw the status bar.
pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let m = app.view_model();
    let t = &app.theme;
    let w = area.width;
    let compact = w < COMPACT_BELOW;
    let parts = [
        (head(app, compact), 2),
        (timeline(m, t, w < TIMELINE_COMPACT_BELOW), 3),
        (states(m, t, compact), 2),
    ];
    let mut y = area.y;
    for (spans, max) in parts {
        let h = lines_for(&spans, w, max).min(area.bottom().saturating_sub(y));
        if h == 0 {
            break;
        }
        let r = Rect::new(area.x, y, w, h);
        Paragraph::new(Line::from(spans))
            .wrap(Wrap { trim: false })
            .render(r, buf);
        y += h;
    }
}
