//! Received tracks: kind, codec, current bitrate, a bitrate sparkline over time (one column per
//! second), packets received and lost (%), jitter, NACK/PLI/FIR and key frames.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Sparkline, Widget};

use crate::format::{bitrate, bytes, dur_ms};
use crate::model::Track;
use crate::tui::app::Pane;
use crate::tui::view::{Ctx, cell, pane_block, span};

/// Bitrate per second for the `n` seconds ending at `now_ms` (oldest first), in bit/s. A second
/// without a sample holds the previous sample for up to 2 s (stats arrive about once a second,
/// with jitter), then counts as 0: no media.
pub fn per_second(history: impl Iterator<Item = (f64, f64)>, now_ms: f64, n: usize) -> Vec<u64> {
    let mut out = vec![0u64; n];
    if n == 0 || !now_ms.is_finite() {
        return out;
    }
    let end_sec = (now_ms / 1000.0).floor() as i64;
    let first_sec = end_sec - n as i64 + 1;
    let samples: Vec<(f64, f64)> = history.collect();
    let mut j = 0;
    let mut last: Option<(f64, f64)> = None;
    for (i, slot) in out.iter_mut().enumerate() {
        let bucket_end = (first_sec + i as i64 + 1) as f64 * 1000.0;
        while j < samples.len() && samples[j].0 < bucket_end {
            last = Some(samples[j]);
            j += 1;
        }
        if let Some((t, v)) = last
            && bucket_end - t <= 2000.0
        {
            *slot = v.max(0.0) as u64;
        }
    }
    out
}

/// Seconds per chart column: 1 while the history fits, then enough for the chart to cover the
/// history (at least the last 5 minutes once there is that much; at most the 15 kept).
pub fn seconds_per_column(history_span_s: f64, cols: usize) -> usize {
    if cols == 0 || !history_span_s.is_finite() {
        return 1;
    }
    let want = history_span_s.min(crate::model::BITRATE_HISTORY_CAP as f64);
    ((want / cols as f64).ceil() as usize).max(1)
}

/// [`per_second`] over `cols * k` seconds, averaged `k` seconds per column.
pub fn per_column(
    history: impl Iterator<Item = (f64, f64)>,
    now_ms: f64,
    cols: usize,
    k: usize,
) -> Vec<u64> {
    let k = k.max(1);
    per_second(history, now_ms, cols * k)
        .chunks(k)
        .map(|c| c.iter().sum::<u64>() / c.len().max(1) as u64)
        .collect()
}

fn track_header(ctx: &Ctx, tr: &Track) -> Vec<Line<'static>> {
    let t = ctx.theme;
    let live = tr.attempt == ctx.model.attempt_number();
    let mut l = Vec::new();
    let codec = tr
        .stats
        .as_ref()
        .and_then(|s| s.codec.clone())
        .unwrap_or_else(|| "?".into());
    let rate = tr.stats.as_ref().map(|s| s.bitrate_bps).unwrap_or(0.0);
    let mut head = vec![
        span(format!("{} ", cell(&tr.kind, 8)), t.header),
        span(format!("{} ", cell(&codec, 16)), t.header),
        span(
            format!("{} ", bitrate(if live { rate } else { 0.0 })),
            if live && rate > 0.0 { t.good } else { t.bad },
        ),
        span(
            format!(
                "mid {} ssrc {}",
                cell(&tr.mid, 8),
                tr.ssrc.map(|s| s.to_string()).unwrap_or_else(|| "?".into())
            ),
            t.dim,
        ),
    ];
    if !live {
        head.push(span(
            format!(" (last seen in attempt {})", tr.attempt),
            t.warn,
        ));
    } else if let Some(at) = tr.stats_ms
        && ctx.now_ms - at > 3000.0
    {
        head.push(span(
            format!(" (no stats for {})", dur_ms(ctx.now_ms - at)),
            t.warn,
        ));
    }
    l.push(Line::from(head));
    match &tr.stats {
        Some(s) => {
            let loss = tr.loss_pct().unwrap_or(0.0);
            // What this host dropped itself is in the count: say how much of it.
            let host = ctx.model.attempt().host_drops;
            let host_note = if host > 0 && tr.attempt == ctx.model.attempt_number() {
                format!(" incl. {host} dropped by this host")
            } else {
                String::new()
            };
            l.push(Line::from(vec![
                span(
                    format!(
                        "pkts {} · lost {}{host_note} ({loss:.2}%) · ",
                        s.packets_received, s.packets_lost
                    ),
                    if loss >= 1.0 {
                        t.warn
                    } else {
                        Default::default()
                    },
                ),
                span(
                    format!(
                        "jitter {} · NACK {} PLI {} FIR {} · keyframes {} · {}",
                        s.jitter_ms
                            .filter(|j| j.is_finite())
                            .map(dur_ms)
                            .unwrap_or_else(|| "-".into()),
                        s.nack_count,
                        s.pli_count,
                        s.fir_count,
                        s.keyframes,
                        bytes(s.bytes_received + s.header_bytes_received)
                    ),
                    Default::default(),
                ),
            ]));
        }
        None => l.push(Line::from(span("no statistics yet", t.dim))),
    }
    l
}

/// Draw the pane.
pub fn render(ctx: &Ctx, area: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let tracks = ctx.model.tracks();
    let total: f64 = tracks
        .iter()
        .filter(|tr| tr.attempt == ctx.model.attempt_number())
        .filter_map(|tr| tr.stats.as_ref().map(|s| s.bitrate_bps))
        .sum();
    let extra = format!("{} · {}", tracks.len(), bitrate(total));
    let block = pane_block(ctx, Pane::Tracks, &extra);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height == 0 {
        return;
    }
    if tracks.is_empty() {
        let text = if ctx
            .model
            .attempt()
            .timeline
            .get(crate::model::Milestone::FirstMedia)
            .is_some()
        {
            "media arriving, no track statistics yet"
        } else {
            "no track yet (waiting for media)"
        };
        Paragraph::new(Line::from(span(text, t.dim))).render(inner, buf);
        return;
    }
    // Scrolling skips whole tracks.
    let skip = (ctx.state.selected.unwrap_or(0) as usize).min(tracks.len() - 1);
    let shown = &tracks[skip..];
    let per = (inner.height / shown.len().min(usize::from(inner.height)).max(1) as u16).max(1);
    let mut y = inner.y;
    for tr in shown {
        if y >= inner.bottom() {
            break;
        }
        let h = per.min(inner.bottom() - y);
        let area = Rect::new(inner.x, y, inner.width, h);
        y += h;
        let header = track_header(ctx, tr);
        let head_h = (header.len() as u16).min(area.height);
        Paragraph::new(header).render(Rect::new(area.x, area.y, area.width, head_h), buf);
        let rest = area.height - head_h;
        if rest < 2 {
            continue;
        }
        let cols = usize::from(area.width);
        let span_s = tr
            .history
            .iter()
            .next()
            .map_or(0.0, |first| (ctx.now_ms - first.0).max(0.0) / 1000.0);
        let k = seconds_per_column(span_s, cols);
        let data = per_column(tr.history.iter().copied(), ctx.now_ms, cols, k);
        let max = data.iter().copied().max().unwrap_or(0);
        let label = format!(
            "bitrate, last {} (1 column = {k} s), peak {}",
            dur_ms((cols * k) as f64 * 1000.0),
            bitrate(max as f64)
        );
        Paragraph::new(Line::from(span(label, t.dim)))
            .render(Rect::new(area.x, area.y + head_h, area.width, 1), buf);
        Sparkline::default()
            .data(&data)
            .max(max.max(1))
            .style(t.chart)
            .render(
                Rect::new(area.x, area.y + head_h + 1, area.width, rest - 1),
                buf,
            );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_cover_the_history() {
        assert_eq!(seconds_per_column(30.0, 78), 1);
        assert_eq!(seconds_per_column(300.0, 78), 4);
        assert_eq!(seconds_per_column(5000.0, 78), 12);
        assert_eq!(seconds_per_column(10.0, 0), 1);
        let h = (0..8).map(|i| (f64::from(i) * 1000.0 + 10.0, f64::from(i)));
        assert_eq!(per_column(h, 7_500.0, 4, 2), vec![0, 2, 4, 6]);
    }

    #[test]
    fn per_second_buckets_hold_then_drop() {
        let h = vec![(1_020.0, 100.0), (2_030.0, 200.0), (3_990.0, 300.0)];
        // Seconds 0..=7 ending at t=7.5 s.
        let v = per_second(h.into_iter(), 7_500.0, 8);
        assert_eq!(v, vec![0, 100, 200, 300, 300, 0, 0, 0]);
    }
}
