//! Headless output. [`ndjson`] streams every event as one JSON object per line; [`build`] turns a
//! session's [`Analysis`] into a [`dto::Report`] (the verdicts, the phase timeline, candidates by type,
//! the selected pair, per-track statistics, restarts), which [`text`] and [`json`] render at the end
//! of a session (`--report text|json`).

pub mod dto;
pub mod json;
pub mod ndjson;
pub mod text;

use crate::analysis::{Analysis, Outcome};
use crate::diagnosis::Finding;
use crate::event::{Candidate, CandidatePair, EndReason, PairEnd};
use crate::model::{Attempt, Milestone, Model, PairRow, avg_rtt_ms};
use dto::*;

/// The attempt worth showing: the current one, unless it has not got as far as the one before (a
/// session interrupted just after a restart).
fn shown_attempt(m: &Model) -> Option<&Attempt> {
    let cur = m.attempt();
    let reach = |a: &Attempt| {
        a.timeline
            .latest()
            .and_then(|m| Milestone::ALL.iter().position(|x| *x == m))
            .map_or(0, |i| i + 1)
    };
    match m.previous_attempt() {
        Some(p) if reach(p) > reach(cur) => Some(p),
        _ if cur.number > 0 => Some(cur),
        _ => None,
    }
}

/// Build the report of a session from its [`Analysis`] (the model, its findings and outcome).
pub fn build(analysis: &Analysis) -> Report {
    let m = analysis.model();
    let s = m.session();
    let outcome = analysis.outcome();
    let ended = m.ended();
    Report {
        schema_version: REPORT_SCHEMA_VERSION,
        generator: format!("rtcscope {}", env!("CARGO_PKG_VERSION")),
        session: SessionDto {
            target: s.map(|s| s.target.clone()),
            protocol: s.map(|s| {
                match s.protocol {
                    crate::event::Protocol::Ws => "ws",
                    crate::event::Protocol::Whep => "whep",
                }
                .to_owned()
            }),
            started_at: s.map(|s| s.wall_clock.clone()),
            unix_ms: s.map(|s| s.unix_ms),
            duration_ms: m.now_ms(),
            events: m.events_applied(),
            attempts: ended.map_or(m.attempt_number(), |e| e.attempts),
            end_reason: ended.map(|e| end_reason(&e.reason)),
            ever_connected: m.ever_connected(),
            media_received: m.media_received(),
        },
        outcome: OutcomeDto {
            exit_code: outcome.exit_code(),
            result: outcome_name(outcome).to_owned(),
            description: outcome_description(outcome).to_owned(),
        },
        findings: analysis.findings().iter().map(finding_dto).collect(),
        attempt: shown_attempt(m).map(attempt_dto),
        tracks: m
            .tracks()
            .iter()
            .map(|t| {
                let st = t.stats.as_ref();
                TrackDto {
                    kind: t.kind.clone(),
                    mid: t.mid.clone(),
                    codec: st.and_then(|s| s.codec.clone()),
                    ssrc: t.ssrc.or(st.map(|s| s.ssrc)),
                    attempt: t.attempt,
                    bitrate_bps: st.map_or(0.0, |s| finite(s.bitrate_bps)),
                    avg_bitrate_bps: (!t.history.is_empty()).then(|| {
                        t.history.iter().map(|h| finite(h.1)).sum::<f64>() / t.history.len() as f64
                    }),
                    packets_received: st.map_or(0, |s| s.packets_received),
                    packets_lost: st.map_or(0, |s| s.packets_lost),
                    loss_pct: t.loss_pct(),
                    jitter_ms: st.and_then(|s| s.jitter_ms).filter(|j| j.is_finite()),
                    bytes_received: st.map_or(0, |s| s.bytes_received),
                    keyframes: st.map_or(0, |s| s.keyframes),
                    nack_count: st.map_or(0, |s| s.nack_count),
                    pli_count: st.map_or(0, |s| s.pli_count),
                    fir_count: st.map_or(0, |s| s.fir_count),
                }
            })
            .collect(),
        restarts: RestartsDto {
            total: m.restarts().total(),
            list: m
                .restarts()
                .iter()
                .map(|r| RestartDto {
                    t_ms: r.t_ms,
                    attempt: r.ended_attempt,
                    cause: cause_tag(&r.cause),
                    description: r.cause_text.clone(),
                    lived_ms: finite(r.lived_ms),
                    had_connected: r.had_connected,
                    reconnect_ms: r.reconnect_ms,
                    checklist: checklist_dto(&r.checklist, r.selected_pair_id.as_deref()),
                })
                .collect(),
        },
        log: LogDto {
            errors: m.error_count(),
            warnings: m.warning_count(),
        },
    }
}

/// A finite number or 0 (JSON has no NaN).
fn finite(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

/// The DTO of a finding.
pub fn finding_dto(f: &Finding) -> FindingDto {
    FindingDto {
        id: f.id.to_owned(),
        severity: f.severity.as_str().to_owned(),
        title: f.title.clone(),
        evidence: f.evidence.clone(),
        fix: f.fix.clone(),
    }
}

/// The tag of an end reason as serialised.
fn end_reason(r: &EndReason) -> String {
    match r {
        EndReason::Duration => "duration",
        EndReason::Interrupted => "interrupted",
        EndReason::MaxRestarts { .. } => "max_restarts",
        EndReason::Fatal { .. } => "fatal",
    }
    .to_owned()
}

/// The `cause` tag of a restart cause as serialised.
fn cause_tag(c: &crate::event::RestartCause) -> String {
    serde_json::to_value(c)
        .ok()
        .and_then(|v| v.get("cause").and_then(|c| c.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

/// The machine name of an outcome.
pub fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::MediaFlowed => "media_flowed",
        Outcome::Done => "done",
        Outcome::SignalingFailed => "signaling_failed",
        Outcome::IceFailed => "ice_failed",
        Outcome::DtlsFailed => "dtls_failed",
        Outcome::NoMedia => "no_media",
        Outcome::ProbeFailed => "probe_failed",
    }
}

/// An outcome in words.
pub fn outcome_description(o: Outcome) -> &'static str {
    match o {
        Outcome::MediaFlowed => "media flowed",
        Outcome::Done => "done",
        Outcome::SignalingFailed => "signaling failed: no answer was ever received",
        Outcome::IceFailed => "ICE failed: answer received, ICE never connected",
        Outcome::DtlsFailed => "DTLS failed: ICE connected, the peer connection never did",
        Outcome::NoMedia => "connected, but no media arrived",
        Outcome::ProbeFailed => "an ICE server failed the probe",
    }
}

fn type_counts(c: [usize; 4]) -> TypeCountsDto {
    TypeCountsDto {
        host: c[0] as u64,
        srflx: c[1] as u64,
        prflx: c[2] as u64,
        relay: c[3] as u64,
    }
}

fn candidate_dto(c: &Candidate, t_ms: f64) -> CandidateDto {
    CandidateDto {
        typ: c.typ.as_str().to_owned(),
        protocol: c.protocol.clone(),
        address: c.address.clone(),
        port: c.port,
        priority: c.priority,
        related: c.related_address.as_ref().map(|a| match c.related_port {
            Some(p) => format!("{a}:{p}"),
            None => a.clone(),
        }),
        url: c.url.clone(),
        relay_protocol: c.relay_protocol.map(|p| p.as_str().to_owned()),
        t_ms,
    }
}

fn end_text(e: &PairEnd) -> String {
    let mut s = format!("{} {} {}:{}", e.typ.as_str(), e.protocol, e.address, e.port);
    if let Some(rp) = e.relay_protocol {
        s.push_str(&format!(" (relayProtocol {})", rp.as_str()));
    }
    s
}

fn pair_dto(p: &CandidatePair, since_ms: f64, changes: u32, avg: Option<f64>) -> PairDto {
    let typ = |e: &Option<PairEnd>| e.as_ref().map(|e| e.typ.as_str().to_owned());
    PairDto {
        local: p.local.as_ref().map(end_text),
        remote: p.remote.as_ref().map(end_text),
        local_type: typ(&p.local),
        remote_type: typ(&p.remote),
        local_relay_protocol: p
            .local
            .as_ref()
            .and_then(|e| e.relay_protocol)
            .map(|rp| rp.as_str().to_owned()),
        state: p.state.clone(),
        nominated: p.nominated,
        current_rtt_ms: p.current_rtt_ms.filter(|r| r.is_finite()),
        avg_rtt_ms: avg.filter(|r| r.is_finite()),
        bytes_sent: p.bytes_sent,
        bytes_received: p.bytes_received,
        since_ms,
        changes,
    }
}

fn attempt_dto(a: &Attempt) -> AttemptDto {
    let mut phases: Vec<PhaseDto> = Milestone::ALL
        .iter()
        .filter_map(|m| {
            a.timeline.get(*m).map(|t| PhaseDto {
                name: m.label().to_owned(),
                t_ms: t,
                since_start_ms: t - a.started_ms,
            })
        })
        .collect();
    phases.sort_by(|x, y| x.t_ms.total_cmp(&y.t_ms));
    let remote_rejected = u64::from(a.remote_rejected);
    AttemptDto {
        number: a.number,
        started_ms: a.started_ms,
        phases,
        states: StatesDto {
            signaling: a.states.signaling.clone(),
            ice_gathering: a.states.ice_gathering.clone(),
            ice_connection: a.states.ice_connection.clone(),
            dtls: a.states.dtls.clone(),
            peer_connection: a.states.peer_connection.clone(),
        },
        ice_servers: a.ice_servers.as_ref().map(|s| IceServersDto {
            policy: s.policy.clone(),
            servers: s
                .servers
                .iter()
                .map(|v| IceServerDto {
                    urls: v.urls.clone(),
                    username: v.username.clone(),
                    source: match v.source {
                        crate::event::IceServerSource::Signaling => "signaling",
                        crate::event::IceServerSource::CommandLine => "command_line",
                    }
                    .to_owned(),
                })
                .collect(),
            skipped: s
                .skipped
                .iter()
                .map(|k| SkippedDto {
                    url: k.url.clone(),
                    reason: k.reason.clone(),
                })
                .collect(),
        }),
        local_candidates: CandidatesDto {
            counts: type_counts(a.local_counts()),
            list: a
                .local_candidates
                .iter()
                .map(|c| candidate_dto(&c.candidate, c.t_ms))
                .collect(),
            rejected: 0,
        },
        remote_candidates: CandidatesDto {
            counts: type_counts(a.remote_counts()),
            list: a
                .remote_candidates
                .iter()
                .filter(|c| c.error.is_none())
                .filter_map(|c| c.candidate.as_ref().map(|x| candidate_dto(x, c.t_ms)))
                .collect(),
            rejected: remote_rejected,
        },
        selected_pair: a
            .selected
            .as_ref()
            .map(|s| pair_dto(&s.pair, s.since_ms, s.changes, s.avg_rtt_ms())),
        transport: a.transport.as_ref().map(|t| TransportDto {
            dtls_role: t.dtls_role.clone(),
            tls_version: t.tls_version.clone(),
            dtls_cipher: t.dtls_cipher.clone(),
            srtp_cipher: t.srtp_cipher.clone(),
        }),
        local_addresses: a
            .local_addresses
            .iter()
            .map(|l| LocalAddressDto {
                interface: l.interface.clone(),
                address: l.address.clone(),
                virtual_adapter: l.virtual_adapter,
            })
            .collect(),
        checklist: checklist_dto(&a.pairs, a.selected.as_ref().map(|s| s.pair.id.as_str())),
        receive_path: a
            .receive_buffers
            .map(|(sockets, wanted, granted, rmem_max)| ReceivePathDto {
                sockets,
                wanted_bytes: wanted,
                granted_bytes: granted,
                rmem_max,
                host_drops: a.host_drops,
            }),
    }
}

/// A checklist in display order: the selected pair first, then the current ICE generation, then
/// pairs of an earlier generation.
fn checklist_dto(rows: &[PairRow], selected: Option<&str>) -> Vec<ChecklistPairDto> {
    let is_sel = |r: &PairRow| Some(r.pair.id.as_str()) == selected;
    let order = rows
        .iter()
        .filter(|r| is_sel(r))
        .chain(rows.iter().filter(|r| !is_sel(r) && !r.pair.stale))
        .chain(rows.iter().filter(|r| !is_sel(r) && r.pair.stale));
    order
        .map(|r| {
            let p = &r.pair;
            ChecklistPairDto {
                id: p.id.clone(),
                local: p.local.as_ref().map(end_text),
                remote: p.remote.as_ref().map(end_text),
                state: p.state.clone(),
                nominated: p.nominated,
                selected: is_sel(r),
                stale: p.stale,
                requests_sent: p.requests_sent,
                requests_received: p.requests_received,
                responses_sent: p.responses_sent,
                responses_received: p.responses_received,
                current_rtt_ms: p.current_rtt_ms.filter(|r| r.is_finite()),
                avg_rtt_ms: avg_rtt_ms(p).filter(|r| r.is_finite()),
                bytes_sent: p.bytes_sent,
                bytes_received: p.bytes_received,
                state_since_ms: finite(r.state_since_ms),
            }
        })
        .collect()
}

/// Format of the end-of-session report (`--report`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// Plain text: the verdict first, then the details.
    Text,
    /// JSON (`schema/report.schema.json`).
    Json,
}

/// Render a report in `format`.
pub fn render(report: &Report, format: ReportFormat) -> String {
    match format {
        ReportFormat::Text => text::render(report),
        ReportFormat::Json => json::render(report),
    }
}
