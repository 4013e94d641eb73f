//! One probe's result in the Prometheus text exposition format (version 0.0.4), from the session's
//! report. Pure. Label sets are bounded by design: rule ids, severities, candidate types and
//! protocols, phases, never an address, a port or a URL.

use std::fmt::Write as _;

use crate::event::probe::{ProbeKind, ProbeResult, ProbeTransport};
use crate::report::dto::Report;

/// The setup phases exported, with the report's milestone name they end at.
pub const PHASES: &[(&str, &str)] = &[
    ("signaling", "signaling"),
    ("answer", "answer"),
    ("ice", "ICE"),
    ("dtls", "DTLS"),
    ("first_media", "media"),
];

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", escape_label(v));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {}", number(value));
    }
}

/// A label value as the exposition format wants it: `\`, `"` and newlines escaped.
pub fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Whether a probe succeeded: a viewer could play the target (exit code 0 and media received).
pub fn success(report: &Report) -> bool {
    report.outcome.exit_code == 0 && report.session.media_received
}

/// The metrics of one probe: `report` of the session, how long the probe took, the ICE-server
/// probe results.
pub fn render(report: &Report, probe_seconds: f64, probes: &[ProbeResult]) -> String {
    let mut o = Out(String::new());
    let success = success(report);
    o.family(
        "probe_success",
        "gauge",
        "Whether a viewer could play the target (1) or not (0).",
    );
    o.sample("probe_success", &[], if success { 1.0 } else { 0.0 });
    o.family(
        "probe_duration_seconds",
        "gauge",
        "How long the probe took.",
    );
    o.sample("probe_duration_seconds", &[], probe_seconds);
    o.family("rtcscope_exit_code", "gauge", "The exit code rtcscope would give this session (0 media flowed, 3 signaling failed, 4 ICE failed, 5 no media, …).");
    o.sample(
        "rtcscope_exit_code",
        &[],
        f64::from(report.outcome.exit_code),
    );
    o.family(
        "rtcscope_attempts",
        "gauge",
        "Negotiation attempts in the probe.",
    );
    o.sample("rtcscope_attempts", &[], f64::from(report.session.attempts));
    o.family("rtcscope_restarts", "gauge", "Restarts in the probe.");
    o.sample("rtcscope_restarts", &[], report.restarts.total as f64);

    o.family(
        "rtcscope_phase_seconds",
        "gauge",
        "Time from the start of the last attempt to the end of each setup phase (absent: not reached).",
    );
    if let Some(a) = &report.attempt {
        for (phase, milestone) in PHASES {
            if let Some(p) = a.phases.iter().find(|p| p.name == *milestone) {
                o.sample(
                    "rtcscope_phase_seconds",
                    &[("phase", phase)],
                    p.since_start_ms / 1000.0,
                );
            }
        }
    }

    o.family(
        "rtcscope_candidates",
        "gauge",
        "ICE candidates of the last attempt, by side, type and protocol.",
    );
    if let Some(a) = &report.attempt {
        for (side, list) in [
            ("local", &a.local_candidates),
            ("remote", &a.remote_candidates),
        ] {
            let mut counts: std::collections::BTreeMap<(String, String), u32> = Default::default();
            for c in &list.list {
                *counts
                    .entry((c.typ.clone(), c.protocol.clone()))
                    .or_default() += 1;
            }
            for ((typ, proto), n) in counts {
                o.sample(
                    "rtcscope_candidates",
                    &[("side", side), ("type", &typ), ("protocol", &proto)],
                    f64::from(n),
                );
            }
        }
    }

    o.family(
        "rtcscope_selected_pair_info",
        "gauge",
        "The selected candidate pair's types (1 while one is selected).",
    );
    o.family(
        "rtcscope_selected_pair_rtt_seconds",
        "gauge",
        "Current RTT of the selected pair.",
    );
    if let Some(p) = report
        .attempt
        .as_ref()
        .and_then(|a| a.selected_pair.as_ref())
    {
        o.sample(
            "rtcscope_selected_pair_info",
            &[
                ("local_type", p.local_type.as_deref().unwrap_or("unknown")),
                ("remote_type", p.remote_type.as_deref().unwrap_or("unknown")),
            ],
            1.0,
        );
        if let Some(rtt) = p.current_rtt_ms {
            o.sample("rtcscope_selected_pair_rtt_seconds", &[], rtt / 1000.0);
        }
    }

    o.family(
        "rtcscope_track_bitrate_bits_per_second",
        "gauge",
        "Received bitrate at the end of the probe, by track kind.",
    );
    o.family(
        "rtcscope_track_packets_lost",
        "gauge",
        "Packets lost, by track kind.",
    );
    o.family(
        "rtcscope_track_packets_received",
        "gauge",
        "Packets received, by track kind.",
    );
    o.family(
        "rtcscope_track_jitter_seconds",
        "gauge",
        "Jitter, by track kind.",
    );
    o.family(
        "rtcscope_track_nacks",
        "gauge",
        "NACKs sent, by track kind.",
    );
    o.family("rtcscope_track_plis", "gauge", "PLIs sent, by track kind.");
    for t in &report.tracks {
        let l = [("kind", t.kind.as_str())];
        o.sample("rtcscope_track_bitrate_bits_per_second", &l, t.bitrate_bps);
        o.sample("rtcscope_track_packets_lost", &l, t.packets_lost as f64);
        o.sample(
            "rtcscope_track_packets_received",
            &l,
            t.packets_received as f64,
        );
        if let Some(j) = t.jitter_ms {
            o.sample("rtcscope_track_jitter_seconds", &l, j / 1000.0);
        }
        o.sample("rtcscope_track_nacks", &l, f64::from(t.nack_count));
        o.sample("rtcscope_track_plis", &l, f64::from(t.pli_count));
    }

    o.family(
        "rtcscope_finding",
        "gauge",
        "Each verdict of the diagnosis (1), by rule id and severity.",
    );
    for f in &report.findings {
        o.sample(
            "rtcscope_finding",
            &[("rule", &f.id), ("severity", &f.severity)],
            1.0,
        );
    }

    o.family("rtcscope_ice_server_probe_success", "gauge", "STUN binding / TURN allocate results, by kind and transport (1 ok, 0 failed; the worst per label set).");
    let mut probe_ok: std::collections::BTreeMap<(&str, &str), bool> = Default::default();
    for p in probes {
        let kind = match p.kind {
            ProbeKind::StunBinding => "stun",
            ProbeKind::TurnAllocate => "turn",
        };
        let transport = match p.transport {
            ProbeTransport::Udp => "udp",
            ProbeTransport::Tcp => "tcp",
            ProbeTransport::Tls => "tls",
        };
        let e = probe_ok.entry((kind, transport)).or_insert(true);
        *e = *e && p.is_ok();
    }
    for ((kind, transport), ok) in probe_ok {
        o.sample(
            "rtcscope_ice_server_probe_success",
            &[("kind", kind), ("transport", transport)],
            if ok { 1.0 } else { 0.0 },
        );
    }
    o.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_and_numbers_are_written_as_the_format_wants() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(number(1.0), "1");
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(f64::INFINITY), "+Inf");
    }

    fn check_format(text: &str) {
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, v) = l.rsplit_once(' ').expect("value");
            assert!(v.parse::<f64>().is_ok() || v == "NaN", "{l}");
        }
    }

    #[test]
    fn a_healthy_session_exports_success_phases_pair_and_no_addresses() {
        let events = crate::test_events::happy_session(5);
        let analysis = crate::analysis::Analysis::from_events(&events);
        let report = crate::report::build(&analysis);
        let text = render(&report, 5.2, &[]);
        check_format(&text);
        assert!(text.contains("probe_success 1"), "{text}");
        assert!(
            text.contains("rtcscope_phase_seconds{phase=\"first_media\"}"),
            "{text}"
        );
        assert!(
            text.contains(
                "rtcscope_selected_pair_info{local_type=\"host\",remote_type=\"host\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("rtcscope_finding{rule=\"healthy\",severity=\"ok\"} 1"),
            "{text}"
        );
        assert!(!text.contains("127.0.0.1"), "{text}");
    }

    #[test]
    fn a_failed_session_exports_failure_and_its_findings() {
        let events = crate::test_events::restart_relay_error_session(5);
        let analysis = crate::analysis::Analysis::from_events(&events);
        let report = crate::report::build(&analysis);
        let text = render(&report, 1.5, &[]);
        check_format(&text);
        assert!(text.contains("rtcscope_finding{rule=\""), "{text}");
        assert!(text.contains("probe_duration_seconds 1.5"));
        let empty = crate::report::build(&crate::analysis::Analysis::new());
        let text = render(&empty, 0.1, &[]);
        check_format(&text);
        assert!(text.contains("probe_success 0"), "{text}");
    }
}
