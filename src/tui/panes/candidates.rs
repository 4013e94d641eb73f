//! ICE servers (credentials masked; skipped ones with the reason) and what each produced; local and
//! remote candidates of the current attempt grouped and counted by type, with decoded priority,
//! related address, foundation, STUN/TURN URL and when each was gathered relative to the offer.

use crate::event::probe::ProbeResult;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget};

use crate::event::{Candidate, CandidateType, IceServerSource};
use crate::format::offset_ms;
use crate::model::{Attempt, LocalCandidate, RemoteCandidate, decode_priority};
use crate::tui::app::Pane;
use crate::tui::theme::Theme;
use crate::tui::view::{Ctx, cell, pad, pane_block, span};

const TYPES: [CandidateType; 4] = [
    CandidateType::Host,
    CandidateType::Srflx,
    CandidateType::Prflx,
    CandidateType::Relay,
];

fn counts_line(label: &str, counts: [usize; 4], t: &Theme) -> Line<'static> {
    let total: usize = counts.iter().sum();
    let mut spans = vec![span(format!("{label} ({total}): "), t.header)];
    for (i, ty) in TYPES.iter().enumerate() {
        if i > 0 {
            spans.push(span(" · ", t.dim));
        }
        let style = if counts[i] > 0 { t.good } else { t.dim };
        spans.push(span(format!("{} {}", ty.as_str(), counts[i]), style));
    }
    Line::from(spans)
}

fn addr(a: &str, port: u16) -> String {
    if a.contains(':') {
        format!("[{}]:{port}", cell(a, 40))
    } else {
        format!("{}:{port}", cell(a, 40))
    }
}

/// One candidate as a line of text: type, protocol, address, decoded priority, time vs offer,
/// related address, foundation, URL.
pub fn candidate_text(c: &Candidate, when: Option<f64>) -> String {
    let p = decode_priority(c.priority);
    let mut s = format!(
        "{} {} {} prio {}/{}/{}",
        pad(c.typ.as_str(), 5),
        pad(&cell(&c.protocol, 4), 3),
        pad(&addr(&c.address, c.port), 21),
        p.type_pref,
        p.local_pref,
        p.component
    );
    if let Some(w) = when {
        s.push_str(&format!(" {}", pad(&offset_ms(w), 7)));
    }
    if let (Some(ra), Some(rp)) = (&c.related_address, c.related_port) {
        s.push_str(&format!(" raddr {}", addr(ra, rp)));
    }
    if let Some(tt) = &c.tcp_type {
        s.push_str(&format!(" tcptype {}", cell(tt, 8)));
    }
    s.push_str(&format!(" fnd {}", cell(&c.foundation, 16)));
    if let Some(rp) = c.relay_protocol {
        s.push_str(&format!(" relayProtocol {}", rp.as_str()));
    }
    if let Some(u) = &c.url {
        s.push_str(&format!(" via {}", cell(u, 60)));
    }
    s
}

/// One row of the pane. Candidate rows are formatted only when they are on screen, so a frame's cost
/// does not grow with the number of candidates held.
pub enum Row<'a> {
    /// A heading or summary line, already formatted.
    Text(Line<'static>),
    /// A local candidate, with the time its offset is measured from.
    Local(&'a LocalCandidate, f64),
    /// A remote candidate, with the time its offset is measured from.
    Remote(&'a RemoteCandidate, f64),
}

impl Row<'_> {
    /// The row as a line.
    pub fn line(&self, t: &Theme) -> Line<'static> {
        match self {
            Row::Text(l) => l.clone(),
            Row::Local(c, reference) => Line::raw(format!(
                "  {}",
                candidate_text(&c.candidate, Some(c.t_ms - reference))
            )),
            Row::Remote(r, reference) => match (&r.candidate, &r.error) {
                (Some(c), None) => {
                    Line::raw(format!("  {}", candidate_text(c, Some(r.t_ms - reference))))
                }
                (Some(c), Some(e)) => Line::from(vec![
                    span(
                        format!("  ✗ {}", candidate_text(c, Some(r.t_ms - reference))),
                        t.bad,
                    ),
                    span(format!(" — rejected: {}", cell(e, 80)), t.warn),
                ]),
                (None, e) => Line::from(vec![
                    span(format!("  ✗ unparsed {}", cell(&r.raw, 80)), t.bad),
                    span(
                        format!(" — {}", cell(e.as_deref().unwrap_or("did not parse"), 80)),
                        t.warn,
                    ),
                ]),
            },
        }
    }
}

/// Rows under construction: a formatted line pushes as [`Row::Text`].
struct Rows<'a>(Vec<Row<'a>>);

impl Rows<'_> {
    fn push(&mut self, l: Line<'static>) {
        self.0.push(Row::Text(l));
    }
}

/// All rows of the pane (before scrolling); candidate rows are not formatted yet.
pub fn rows<'a>(a: &'a Attempt, probes: &[ProbeResult], t: &Theme) -> Vec<Row<'a>> {
    let mut out = Rows(Vec::new());
    let reference = a.offer_ms().unwrap_or(a.started_ms);
    let vs = if a.offer_ms().is_some() {
        "vs offer"
    } else {
        "vs attempt start"
    };
    match &a.ice_servers {
        None => out.push(Line::from(span("ICE servers: not received yet", t.dim))),
        Some(ice) => {
            out.push(Line::from(vec![
                span(format!("ICE servers ({}", ice.servers.len()), t.header),
                span(
                    format!(
                        "{}), policy {}",
                        if ice.skipped.is_empty() {
                            String::new()
                        } else {
                            format!(" + {} skipped", ice.skipped.len())
                        },
                        cell(&ice.policy, 8)
                    ),
                    t.header,
                ),
            ]));
            if ice.servers.is_empty() && ice.skipped.is_empty() {
                out.push(Line::from(span(
                    "  none: host candidates only (no STUN/TURN)",
                    t.dim,
                )));
            }
            for s in &ice.servers {
                for url in &s.urls {
                    let produced: Vec<_> = a.produced_by(url).collect();
                    let mut by_type = [0usize; 4];
                    for c in &produced {
                        if let Some(i) = TYPES.iter().position(|x| *x == c.candidate.typ) {
                            by_type[i] += 1;
                        }
                    }
                    let what: Vec<String> = TYPES
                        .iter()
                        .zip(by_type)
                        .filter(|(_, n)| *n > 0)
                        .map(|(ty, n)| format!("{n} {}", ty.as_str()))
                        .collect();
                    let produced_text = if what.is_empty() {
                        "produced nothing (yet)".to_string()
                    } else {
                        format!("produced {}", what.join(", "))
                    };
                    let creds = match (&s.username, s.has_credential) {
                        (Some(u), true) => format!(" user {} cred ***", cell(u, 24)),
                        (Some(u), false) => format!(" user {}", cell(u, 24)),
                        (None, true) => " cred ***".to_string(),
                        (None, false) => String::new(),
                    };
                    let src = match s.source {
                        IceServerSource::Signaling => "from server",
                        IceServerSource::CommandLine => "from --ice-server",
                    };
                    out.push(Line::from(vec![
                        span(
                            format!("  ✓ {}", cell(url, 60)),
                            if what.is_empty() { t.warn } else { t.good },
                        ),
                        span(format!("{creds} ({src}) → "), t.dim),
                        span(produced_text, if what.is_empty() { t.warn } else { t.good }),
                    ]));
                }
            }
            for s in &ice.skipped {
                out.push(Line::from(span(
                    format!("  ✗ SKIPPED {}", cell(&s.url, 80)),
                    t.bad,
                )));
                out.push(Line::from(span(
                    format!("      {}", cell(&s.reason, 120)),
                    t.warn,
                )));
            }
        }
    }
    if !a.local_addresses.is_empty() {
        let mut parts = vec![span("Gathering on ", t.header)];
        for (i, l) in a.local_addresses.iter().enumerate() {
            if i > 0 {
                parts.push(span(", ", t.dim));
            }
            let name = if l.interface.is_empty() {
                cell(&l.address, 46)
            } else {
                format!("{} {}", cell(&l.interface, 16), cell(&l.address, 46))
            };
            parts.push(span(name, ratatui::style::Style::new()));
            if l.virtual_adapter {
                parts.push(span(" (virtual)", t.warn));
            }
        }
        out.push(Line::from(parts));
    }
    if !probes.is_empty() {
        out.push(Line::from(span(
            "Probe (our own STUN/TURN requests, apart from the peer connection)",
            t.header,
        )));
        for p in probes {
            let (mark, style) = if p.is_ok() {
                ("✓", t.good)
            } else {
                ("✗", t.bad)
            };
            out.push(Line::from(span(
                format!("  {mark} {}", cell(&p.summary(), 160)),
                style,
            )));
        }
    }
    out.push(Line::raw(""));
    let mut local_head = vec![];
    local_head.extend(counts_line("Local", a.local_counts(), t).spans);
    if let Some(g) = a.gathering_complete_ms {
        local_head.push(span(
            format!("  gathering complete {} {vs}", offset_ms(g - reference)),
            t.dim,
        ));
    }
    out.push(Line::from(local_head));
    out.push(Line::from(span(
        format!("  type  proto address:port          prio=type/local/component, time {vs}"),
        t.dim,
    )));
    if a.local_candidates.dropped() > 0 {
        out.push(Line::from(span(
            format!("  (showing last {})", a.local_candidates.len()),
            t.dim,
        )));
    }
    let mut locals: Vec<_> = a.local_candidates.iter().collect();
    locals.sort_by(|x, y| {
        x.candidate
            .typ
            .cmp(&y.candidate.typ)
            .then(x.t_ms.total_cmp(&y.t_ms))
    });
    out.0
        .extend(locals.into_iter().map(|c| Row::Local(c, reference)));
    out.push(Line::raw(""));
    out.push(counts_line("Remote", a.remote_counts(), t));
    let mut remotes: Vec<_> = a.remote_candidates.iter().collect();
    remotes.sort_by(|x, y| {
        let tx = x.candidate.as_ref().map(|c| c.typ);
        let ty = y.candidate.as_ref().map(|c| c.typ);
        tx.cmp(&ty).then(x.t_ms.total_cmp(&y.t_ms))
    });
    out.0
        .extend(remotes.into_iter().map(|r| Row::Remote(r, reference)));
    out.0
}

/// Draw the pane.
pub fn render(ctx: &Ctx, area: Rect, buf: &mut Buffer) {
    let a = ctx.model.attempt();
    let extra = format!(
        "attempt {} · {} local · {} remote",
        a.number,
        a.local_candidates.total(),
        a.remote_candidates.total()
    );
    let block = pane_block(ctx, Pane::Candidates, &extra);
    let inner = block.inner(area);
    block.render(area, buf);
    let all = rows(a, ctx.model.probes(), ctx.theme);
    let max_scroll = all.len().saturating_sub(usize::from(inner.height));
    let scroll = (ctx.state.selected.unwrap_or(0) as usize).min(max_scroll);
    let shown: Vec<Line> = all
        .iter()
        .skip(scroll)
        .take(usize::from(inner.height))
        .map(|r| r.line(ctx.theme))
        .collect();
    Paragraph::new(shown).render(inner, buf);
}
