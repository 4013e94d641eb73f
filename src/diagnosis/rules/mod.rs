//! The rules, split by topic: [`signaling`], [`ice`], [`turn`], [`media`] and [`session`]. Each rule is
//! declared once, as a [`Rule`] in its topic's `RULES` (id, what makes it fire, its check and where its
//! findings go among equals); the catalogue and the evaluation order are derived from those
//! declarations. The helpers shared by the topics (the context, evidence formatting, server URLs and
//! probes) are here; address classes are in [`super::net`]. [`evaluate`] runs them all.

mod ice;
mod media;
mod session;
mod signaling;
mod turn;

use crate::event::probe::ProbeOutcome;
use crate::event::{CandidatePair, CandidateType, PairEnd, Phase, RestartCause};
use crate::format::{at_ms, bitrate};
use crate::model::same_url;
use crate::proto::ice_server::turn_rest_expiry;

use super::net::{self, AddrClass};
use super::{Finding, Severity};
use crate::model::{Attempt, AttemptTrack, HttpFailure, Model, cause_key, cut};

/// Wait this long after the answer before judging ICE (unless the attempt or session ended first).
const ICE_GRACE_MS: f64 = 10_000.0;
/// Wait this long after the offer before judging gathering (TURN allocations, STUN).
const GATHER_GRACE_MS: f64 = 5_000.0;
/// Wait this long after `connected` before saying no media came.
const MEDIA_GRACE_MS: f64 = 5_000.0;
/// RTP silence that counts as a stall.
const STALL_MS: f64 = 3_000.0;
/// Video without a key frame this long after the first packet is a finding.
const NO_KEYFRAME_MS: f64 = 3_500.0;
/// Restart-loop window and threshold.
const LOOP_WINDOW_MS: f64 = 600_000.0;
const LOOP_MIN: usize = 3;
/// TURN-REST expiries further ahead than this are implausible.
const TURN_REST_MAX_AHEAD_S: i64 = 30 * 24 * 3600;

/// What a rule sees: the session, one attempt, and whether that attempt is over.
pub(crate) struct Ctx<'a> {
    /// The whole session's model (session facts, time, restarts, probes).
    pub d: &'a Model,
    /// The attempt judged.
    pub a: &'a Attempt,
}

impl Ctx<'_> {
    /// Whether the attempt is over (restarted, or the session ended).
    fn over(&self) -> bool {
        self.a.end.is_some() || self.d.ended().is_some()
    }

    /// Whether the attempt is over, or `grace` has passed since `since`.
    fn waited(&self, since: Option<f64>, grace: f64) -> bool {
        self.over() || since.is_some_and(|s| self.d.now_ms() - s >= grace)
    }

    /// Whether ICE has had its chance: ICE failed, or the attempt is over, or the grace passed.
    fn ice_settled(&self) -> bool {
        self.a.ice_failed_ms.is_some()
            || self.a.pc_failed_ms.is_some()
            || self.waited(
                self.a.ice_checking_ms().or(self.a.answer_ms()),
                ICE_GRACE_MS,
            )
    }

    /// Whether gathering has had its chance.
    fn gathering_settled(&self) -> bool {
        self.a.gathering_complete_ms.is_some()
            || self.waited(
                self.a.offer_ms().or(self.a.ice_servers_ms()),
                GATHER_GRACE_MS,
            )
    }

    /// "attempt N" for evidence.
    fn attempt_label(&self) -> String {
        format!("attempt {}", self.a.number)
    }
}

/// Build a finding (its id is set from the rule's declaration when the rule returns it).
fn finding(
    severity: Severity,
    title: impl Into<String>,
    evidence: Vec<String>,
    fix: Option<&str>,
) -> Finding {
    Finding {
        id: "",
        severity,
        title: title.into(),
        evidence,
        fix: fix.map(str::to_owned),
    }
}

fn fmt_candidate(c: &crate::event::Candidate) -> String {
    format!(
        "{} {} {}",
        c.typ.as_str(),
        c.protocol,
        host_port(&c.address, c.port)
    )
}

fn fmt_end(e: &PairEnd) -> String {
    let mut s = format!(
        "{} {} {}",
        e.typ.as_str(),
        e.protocol,
        host_port(&e.address, e.port)
    );
    if let Some(rp) = e.relay_protocol {
        s.push_str(&format!(" (relayProtocol {})", rp.as_str()));
    }
    s
}

fn host_port(address: &str, port: u16) -> String {
    if address.contains(':') && !address.starts_with('[') {
        format!("[{address}]:{port}")
    } else {
        format!("{address}:{port}")
    }
}

fn fmt_pair(p: &CandidatePair) -> String {
    let end = |e: &Option<PairEnd>| e.as_ref().map_or_else(|| "?".to_owned(), fmt_end);
    format!("{} → {}", end(&p.local), end(&p.remote))
}

/// The checklist as evidence: its totals ("checklist: 12 pairs, 96 checks sent, 0 responses received;
/// every pair failed"), then up to `n` pairs of the current ICE generation with their state and checks.
/// Nothing when the stack reported no pair.
fn checklist_evidence(a: &Attempt, n: usize) -> Vec<String> {
    let tally = a.checklist_tally();
    if tally.pairs == 0 {
        return Vec::new();
    }
    let mut ev = vec![format!("checklist: {}", tally.describe())];
    let current = a.pairs.iter().filter(|r| !r.pair.stale);
    for r in current.clone().take(n) {
        let p = &r.pair;
        ev.push(format!(
            "pair {} {}{}: {} checks sent, {} responses received",
            fmt_pair(p),
            p.state,
            if p.nominated { " (nominated)" } else { "" },
            p.requests_sent,
            p.responses_received
        ));
    }
    if tally.pairs > n {
        ev.push(format!("and {} more pairs", tally.pairs - n));
    }
    ev
}

/// A list, at most `n` items, then "and K more".
fn list(items: impl IntoIterator<Item = String>, n: usize) -> String {
    let all: Vec<String> = items.into_iter().collect();
    let mut s = all.iter().take(n).cloned().collect::<Vec<_>>().join(", ");
    if all.len() > n {
        s.push_str(&format!(" and {} more", all.len() - n));
    }
    s
}

/// Local candidate counts in words.
fn local_counts(a: &Attempt) -> String {
    format!(
        "local candidates: {} host, {} srflx, {} relay",
        a.local_count(CandidateType::Host),
        a.local_count(CandidateType::Srflx),
        a.local_count(CandidateType::Relay)
    )
}

/// URLs of the ICE servers the stack uses (not those it skipped), by scheme prefix.
fn server_urls<'a>(a: &'a Attempt, schemes: &'a [&str]) -> impl Iterator<Item = &'a str> {
    a.servers()
        .iter()
        .flat_map(|s| s.urls.iter())
        .filter_map(move |u| {
            let lower = u.to_ascii_lowercase();
            (schemes.iter().any(|s| lower.starts_with(s))
                && !a.skipped().iter().any(|k| k.url.eq_ignore_ascii_case(u)))
            .then_some(u.as_str())
        })
}

/// `host:port` of an ICE URL (scheme, credentials and query removed).
fn server_host(u: &str) -> String {
    let rest = u.split_once(':').map_or(u, |(_, r)| r);
    let rest = rest.rsplit('@').next().unwrap_or(rest);
    rest.split('?').next().unwrap_or(rest).to_owned()
}

/// Whether a URL is reached over UDP (stun:, turn: without `transport=tcp`).
fn is_udp_url(u: &str) -> bool {
    let l = u.to_ascii_lowercase();
    (l.starts_with("stun:") || l.starts_with("turn:")) && !l.contains("transport=tcp")
}

/// Whether a stack TURN message says the server answered with an authentication error.
fn is_auth_error(msg: &str) -> bool {
    let l = msg.to_ascii_lowercase();
    [
        "401",
        "unauthorized",
        "438",
        "stale nonce",
        "403",
        "forbidden",
        "441",
        "wrong credentials",
    ]
    .iter()
    .any(|k| l.contains(k))
}

/// Whether a stack TURN message shows the server answered at all (any error response).
fn is_turn_response(msg: &str) -> bool {
    is_auth_error(msg) || msg.to_ascii_lowercase().contains("error response")
}

/// The probe results of the session for URL `url` (by the same server: host, port and scheme).
fn probes_for<'a>(
    d: &'a Model,
    url: &'a str,
) -> impl Iterator<Item = &'a crate::event::probe::ProbeResult> {
    d.probes()
        .iter()
        .filter(move |p| same_url(&p.url, url) || same_server(&p.url, url))
}

/// Whether two ICE URLs name the same scheme, host and port once credentials are removed.
fn same_server(a: &str, b: &str) -> bool {
    let key = |u: &str| {
        let l = u.to_ascii_lowercase();
        let l = l.split('?').next().unwrap_or(&l).to_owned();
        match (l.split_once(':'), l.rfind('@')) {
            (Some((scheme, _)), Some(at)) => format!("{scheme}:{}", &l[at + 1..]),
            _ => l,
        }
    };
    key(a) == key(b)
}

/// Whether a probe outcome is an authentication refusal.
fn probe_auth_error(p: &crate::event::probe::ProbeResult) -> bool {
    matches!(p.outcome, ProbeOutcome::StunError { code, .. } if matches!(code, 401 | 403 | 438 | 441))
}

/// Whether a probe got nothing back (timeout, connection or DNS failure).
fn probe_silent(p: &crate::event::probe::ProbeResult) -> bool {
    matches!(
        p.outcome,
        ProbeOutcome::Timeout { .. }
            | ProbeOutcome::ConnectError { .. }
            | ProbeOutcome::DnsError { .. }
    )
}

/// `probe: <summary>` evidence lines of the probes of `urls` matching `pred`.
fn probe_evidence(
    d: &Model,
    urls: &[String],
    pred: impl Fn(&crate::event::probe::ProbeResult) -> bool,
) -> Vec<String> {
    let mut out = Vec::new();
    for p in d.probes() {
        if pred(p)
            && urls
                .iter()
                .any(|u| same_url(&p.url, u) || same_server(&p.url, u))
        {
            out.push(format!("probe: {}", p.summary()));
        }
    }
    out.truncate(4);
    out
}

/// How a rule is checked.
#[derive(Clone, Copy)]
pub(crate) enum Check {
    /// Over one attempt (the current one, then the one before); `order` places its findings among equals.
    Attempt {
        /// Position among the attempt rules.
        order: u8,
        /// The check.
        f: fn(&Ctx) -> Option<Finding>,
    },
    /// Over one attempt after the attempt rules, seeing their findings (what they explain, it does not
    /// repeat); `current_only`: the current attempt only.
    Explaining {
        /// Position among the explaining rules.
        order: u8,
        /// The current attempt only.
        current_only: bool,
        /// The check.
        f: fn(&Ctx, &[Finding]) -> Option<Finding>,
    },
    /// Over the session.
    Session(fn(&Model) -> Option<Finding>),
    /// The verdict when nothing is an error.
    Healthy(fn(&Ctx) -> Option<Finding>),
}

/// A rule, declared once: its stable id, what makes it fire, its check, and its relations to others.
#[derive(Clone, Copy)]
pub(crate) struct Rule {
    /// Stable id (reports and scripts key on it).
    pub id: &'static str,
    /// What makes it fire (the catalogue).
    pub summary: &'static str,
    /// How it is checked.
    pub check: Check,
    /// Its finding explains an ICE failure: `ice-failed` stays silent.
    pub explains_ice_failure: bool,
    /// Its finding explains a failed probe of a server its evidence names: `ice-server-probe-failed`
    /// leaves that probe out.
    pub explains_probe_failure: bool,
    /// Left out when this broader rule fires as an error (it is a consequence).
    pub suppressed_by: Option<&'static str>,
}

impl Rule {
    const fn new(id: &'static str, summary: &'static str, check: Check) -> Rule {
        Rule {
            id,
            summary,
            check,
            explains_ice_failure: false,
            explains_probe_failure: false,
            suppressed_by: None,
        }
    }

    const fn explains_ice_failure(mut self) -> Rule {
        self.explains_ice_failure = true;
        self
    }

    const fn explains_probe_failure(mut self) -> Rule {
        self.explains_probe_failure = true;
        self
    }

    const fn suppressed_by(mut self, broad: &'static str) -> Rule {
        self.suppressed_by = Some(broad);
        self
    }
}

/// Every topic's rules, in catalogue order.
const TOPICS: [&[Rule]; 5] = [
    signaling::RULES,
    ice::RULES,
    turn::RULES,
    media::RULES,
    session::RULES,
];

/// Every rule, in catalogue order.
pub(crate) fn all() -> impl Iterator<Item = &'static Rule> {
    TOPICS.iter().flat_map(|t| t.iter())
}

/// Whether a finding of rule `id` explains an ICE failure.
fn explains_ice_failure(id: &str) -> bool {
    all().any(|r| r.id == id && r.explains_ice_failure)
}

/// Whether a finding of rule `id` explains a failed probe.
fn explains_probe_failure(id: &str) -> bool {
    all().any(|r| r.id == id && r.explains_probe_failure)
}

/// `f`, as a finding of `rule`.
fn stamped(rule: &Rule, mut f: Finding) -> Finding {
    f.id = rule.id;
    f
}

/// Run every rule: over the current attempt, then the one before (deduplicated by id, the current
/// attempt's version kept; capped at a warning when the current attempt recovered with media), then the
/// session rules, then `healthy` when nothing is an error. Sorted most severe first.
pub(crate) fn evaluate(d: &Model) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    let mut subjects: Vec<&Attempt> = Vec::new();
    if d.attempt().number > 0 && !d.attempt().is_empty() {
        subjects.push(d.attempt());
    }
    if let Some(p) = d.previous_attempt() {
        subjects.push(p);
    }
    type AttemptCheck = fn(&Ctx) -> Option<Finding>;
    let mut attempt_rules: Vec<(u8, &Rule, AttemptCheck)> = all()
        .filter_map(|r| match r.check {
            Check::Attempt { order, f } => Some((order, r, f)),
            _ => None,
        })
        .collect();
    attempt_rules.sort_by_key(|(order, _, _)| *order);
    type Explaining = fn(&Ctx, &[Finding]) -> Option<Finding>;
    let mut explaining: Vec<(u8, &Rule, bool, Explaining)> = all()
        .filter_map(|r| match r.check {
            Check::Explaining {
                order,
                current_only,
                f,
            } => Some((order, r, current_only, f)),
            _ => None,
        })
        .collect();
    explaining.sort_by_key(|(order, _, _, _)| *order);
    for (i, a) in subjects.iter().enumerate() {
        let cx = Ctx { d, a };
        let mut found: Vec<Finding> = attempt_rules
            .iter()
            .filter_map(|(_, r, f)| f(&cx).map(|x| stamped(r, x)))
            .collect();
        for (_, r, current_only, f) in &explaining {
            if *current_only && i > 0 {
                continue;
            }
            if let Some(x) = f(&cx, &found) {
                found.push(stamped(r, x));
            }
        }
        // A broader finding explains a narrower one: keep the broader.
        for r in all() {
            if let Some(broad) = r.suppressed_by
                && found
                    .iter()
                    .any(|f| f.id == broad && f.severity >= Severity::Error)
            {
                found.retain(|f| f.id != r.id);
            }
        }
        let recovered = i > 0 && d.attempt().media();
        for mut f in found {
            if out.iter().any(|o| o.id == f.id) {
                continue;
            }
            if recovered && f.severity > Severity::Warning {
                f.severity = Severity::Warning;
                f.evidence
                    .push(format!("attempt {}; a later attempt recovered", a.number));
            }
            out.push(f);
        }
    }
    for r in all() {
        if let Check::Session(f) = r.check
            && let Some(x) = f(d)
        {
            out.push(stamped(r, x));
        }
    }
    if !out.iter().any(|f| f.severity >= Severity::Error) {
        let subject = subjects.first().filter(|a| a.media()).or_else(|| {
            subjects
                .get(1)
                .filter(|a| a.media() && d.attempt().is_empty())
        });
        if let Some(a) = subject {
            for r in all() {
                if let Check::Healthy(f) = r.check
                    && let Some(x) = f(&Ctx { d, a })
                {
                    out.push(stamped(r, x));
                }
            }
        }
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}
