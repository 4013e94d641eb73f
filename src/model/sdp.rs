//! A small SDP summariser for the detail view: the session and each m-line (media, port, direction,
//! codecs, ICE ufrag, DTLS fingerprint and setup role, candidates), and for an answer, what it
//! accepted or rejected of its offer.
//!
//! Pure string parsing over untrusted input: it never panics and never fails, it only notes what it
//! could not make sense of. Strings are returned raw; sanitise before display.

use serde_json::Value;

/// One codec (payload type) of an m-line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codec {
    /// RTP payload type.
    pub pt: u8,
    /// Encoding name (`VP8`, `H264`, `opus`, `rtx`); from `a=rtpmap` or the static table.
    pub name: String,
    /// Clock rate in Hz.
    pub clock_rate: Option<u32>,
    /// Channels (audio), when given.
    pub channels: Option<u32>,
    /// `a=fmtp` parameters, as written.
    pub fmtp: Option<String>,
    /// `a=rtcp-fb` values (`nack`, `nack pli`, `goog-remb`, …).
    pub rtcp_fb: Vec<String>,
}

impl Codec {
    /// `VP8/90000` or `opus/48000/2`.
    pub fn label(&self) -> String {
        let mut s = self.name.clone();
        if let Some(c) = self.clock_rate {
            s.push_str(&format!("/{c}"));
        }
        if let Some(ch) = self.channels {
            s.push_str(&format!("/{ch}"));
        }
        s
    }

    /// Whether two codecs are the same encoding (name, case-insensitively, and clock rate), whatever
    /// their payload types.
    pub fn same_encoding(&self, other: &Codec) -> bool {
        self.name.eq_ignore_ascii_case(&other.name) && self.clock_rate == other.clock_rate
    }
}

/// A DTLS fingerprint attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// Hash algorithm (`sha-256`).
    pub algorithm: String,
    /// The hex value.
    pub value: String,
}

/// One media section (m-line and its attributes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MediaSection {
    /// Position in the SDP, from 0.
    pub index: usize,
    /// Media type (`video`, `audio`, `application`).
    pub media: String,
    /// Port; 0 means the section is rejected (or stopped).
    pub port: u32,
    /// Transport protocol (`UDP/TLS/RTP/SAVPF`).
    pub proto: String,
    /// Format list of the m-line, as written.
    pub formats: Vec<String>,
    /// `a=mid`.
    pub mid: Option<String>,
    /// Direction attribute (`sendrecv`, `recvonly`, `sendonly`, `inactive`); `None` when absent.
    pub direction: Option<String>,
    /// Codecs in m-line order.
    pub codecs: Vec<Codec>,
    /// `a=ice-ufrag` of the section.
    pub ice_ufrag: Option<String>,
    /// DTLS fingerprints of the section.
    pub fingerprints: Vec<Fingerprint>,
    /// `a=setup` role of the section.
    pub setup: Option<String>,
    /// `a=candidate` values (without the `a=` prefix).
    pub candidates: Vec<String>,
    /// Whether `a=end-of-candidates` is present.
    pub end_of_candidates: bool,
    /// Whether `a=rtcp-mux` is present.
    pub rtcp_mux: bool,
    /// `c=` line of the section.
    pub connection: Option<String>,
    /// SSRCs announced (`a=ssrc`), deduplicated, in order.
    pub ssrcs: Vec<u32>,
}

impl MediaSection {
    /// Whether the section is rejected (port 0).
    pub fn rejected(&self) -> bool {
        self.port == 0
    }

    /// The direction, defaulting to `sendrecv` as RFC 4566 does.
    pub fn effective_direction(&self) -> &str {
        self.direction.as_deref().unwrap_or("sendrecv")
    }
}

/// The summary of one SDP.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SdpSummary {
    /// `o=` line value.
    pub origin: Option<String>,
    /// `s=` line value.
    pub session_name: Option<String>,
    /// `a=group:BUNDLE` mids.
    pub bundle: Vec<String>,
    /// Session-level `a=ice-ufrag`.
    pub ice_ufrag: Option<String>,
    /// Session-level `a=ice-lite`.
    pub ice_lite: bool,
    /// Session-level `a=ice-options`.
    pub ice_options: Option<String>,
    /// Session-level fingerprints.
    pub fingerprints: Vec<Fingerprint>,
    /// Session-level `a=setup`.
    pub setup: Option<String>,
    /// Media sections.
    pub media: Vec<MediaSection>,
    /// Lines that did not parse (truncated), at most 20.
    pub problems: Vec<String>,
}

impl SdpSummary {
    /// The ICE ufrag of a section, falling back to the session-level one.
    pub fn ufrag_of<'a>(&'a self, m: &'a MediaSection) -> Option<&'a str> {
        m.ice_ufrag.as_deref().or(self.ice_ufrag.as_deref())
    }

    /// The setup role of a section, falling back to the session-level one.
    pub fn setup_of<'a>(&'a self, m: &'a MediaSection) -> Option<&'a str> {
        m.setup.as_deref().or(self.setup.as_deref())
    }

    /// The first fingerprint of a section, falling back to the session-level one.
    pub fn fingerprint_of<'a>(&'a self, m: &'a MediaSection) -> Option<&'a Fingerprint> {
        m.fingerprints.first().or(self.fingerprints.first())
    }
}

/// Name and clock rate of the static RTP payload types (RFC 3551) a section may use without rtpmap.
fn static_pt(pt: u8) -> Option<(&'static str, u32, Option<u32>)> {
    Some(match pt {
        0 => ("PCMU", 8000, None),
        3 => ("GSM", 8000, None),
        4 => ("G723", 8000, None),
        8 => ("PCMA", 8000, None),
        9 => ("G722", 8000, None),
        13 => ("CN", 8000, None),
        18 => ("G729", 8000, None),
        26 => ("JPEG", 90000, None),
        31 => ("H261", 90000, None),
        34 => ("H263", 90000, None),
        _ => return None,
    })
}

fn note(problems: &mut Vec<String>, line: &str) {
    if problems.len() < 20 {
        let cut: String = line.chars().take(80).collect();
        problems.push(cut);
    }
}

fn parse_fingerprint(v: &str) -> Option<Fingerprint> {
    let (alg, val) = v.trim().split_once(' ')?;
    Some(Fingerprint {
        algorithm: alg.to_string(),
        value: val.trim().to_string(),
    })
}

/// Parse an SDP into its summary. Never fails; unparsable lines are listed in `problems`.
pub fn parse(sdp: &str) -> SdpSummary {
    let mut s = SdpSummary::default();
    let mut cur: Option<MediaSection> = None;
    for raw in sdp.split('\n') {
        let line = raw.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            note(&mut s.problems, line);
            continue;
        };
        match key {
            "m" => {
                if let Some(m) = cur.take() {
                    s.media.push(m);
                }
                let mut parts = value.split_whitespace();
                let media = parts.next().unwrap_or_default().to_string();
                let port_s = parts.next().unwrap_or_default();
                // A port may carry a count (`9/2`).
                let port = port_s.split('/').next().and_then(|p| p.parse::<u32>().ok());
                if port.is_none() {
                    note(&mut s.problems, line);
                }
                let proto = parts.next().unwrap_or_default().to_string();
                let formats: Vec<String> = parts.map(str::to_string).collect();
                let codecs = formats
                    .iter()
                    .filter_map(|f| f.parse::<u8>().ok())
                    .map(|pt| {
                        let st = static_pt(pt);
                        Codec {
                            pt,
                            name: st.map(|x| x.0.to_string()).unwrap_or_default(),
                            clock_rate: st.map(|x| x.1),
                            channels: st.and_then(|x| x.2),
                            fmtp: None,
                            rtcp_fb: Vec::new(),
                        }
                    })
                    .collect();
                cur = Some(MediaSection {
                    index: s.media.len(),
                    media,
                    port: port.unwrap_or(0),
                    proto,
                    formats,
                    codecs,
                    ..MediaSection::default()
                });
            }
            "o" if cur.is_none() => s.origin = Some(value.to_string()),
            "s" if cur.is_none() => s.session_name = Some(value.to_string()),
            "c" => {
                if let Some(m) = cur.as_mut() {
                    m.connection = Some(value.to_string());
                }
            }
            "a" => {
                let (name, val) = match value.split_once(':') {
                    Some((n, v)) => (n, Some(v)),
                    None => (value, None),
                };
                match cur.as_mut() {
                    None => apply_session_attr(&mut s, name, val, line),
                    Some(m) => apply_media_attr(m, name, val, &mut s.problems, line),
                }
            }
            _ => {}
        }
    }
    if let Some(m) = cur.take() {
        s.media.push(m);
    }
    s
}

fn apply_session_attr(s: &mut SdpSummary, name: &str, val: Option<&str>, line: &str) {
    match (name, val) {
        ("group", Some(v)) => {
            let mut parts = v.split_whitespace();
            if parts.next() == Some("BUNDLE") {
                s.bundle = parts.map(str::to_string).collect();
            }
        }
        ("ice-ufrag", Some(v)) => s.ice_ufrag = Some(v.trim().to_string()),
        ("ice-lite", _) => s.ice_lite = true,
        ("ice-options", Some(v)) => s.ice_options = Some(v.trim().to_string()),
        ("fingerprint", Some(v)) => match parse_fingerprint(v) {
            Some(f) => s.fingerprints.push(f),
            None => note(&mut s.problems, line),
        },
        ("setup", Some(v)) => s.setup = Some(v.trim().to_string()),
        _ => {}
    }
}

fn codec_mut(m: &mut MediaSection, pt: u8) -> &mut Codec {
    if let Some(i) = m.codecs.iter().position(|c| c.pt == pt) {
        return &mut m.codecs[i];
    }
    m.codecs.push(Codec {
        pt,
        name: String::new(),
        clock_rate: None,
        channels: None,
        fmtp: None,
        rtcp_fb: Vec::new(),
    });
    let last = m.codecs.len() - 1;
    &mut m.codecs[last]
}

fn split_pt(v: &str) -> Option<(u8, &str)> {
    let v = v.trim_start();
    let (pt, rest) = v.split_once(' ').unwrap_or((v, ""));
    Some((pt.parse().ok()?, rest.trim()))
}

fn apply_media_attr(
    m: &mut MediaSection,
    name: &str,
    val: Option<&str>,
    problems: &mut Vec<String>,
    line: &str,
) {
    match (name, val) {
        ("mid", Some(v)) => m.mid = Some(v.trim().to_string()),
        ("sendrecv" | "sendonly" | "recvonly" | "inactive", None) => {
            m.direction = Some(name.to_string())
        }
        ("ice-ufrag", Some(v)) => m.ice_ufrag = Some(v.trim().to_string()),
        ("fingerprint", Some(v)) => match parse_fingerprint(v) {
            Some(f) => m.fingerprints.push(f),
            None => note(problems, line),
        },
        ("setup", Some(v)) => m.setup = Some(v.trim().to_string()),
        ("candidate", Some(v)) if m.candidates.len() < 64 => {
            m.candidates.push(format!("candidate:{v}"));
        }
        ("end-of-candidates", _) => m.end_of_candidates = true,
        ("rtcp-mux", _) => m.rtcp_mux = true,
        ("ssrc", Some(v)) => {
            if let Some(ssrc) = v
                .split_whitespace()
                .next()
                .and_then(|x| x.parse::<u32>().ok())
                && !m.ssrcs.contains(&ssrc)
                && m.ssrcs.len() < 32
            {
                m.ssrcs.push(ssrc);
            }
        }
        ("rtpmap", Some(v)) => match split_pt(v) {
            Some((pt, enc)) => {
                let mut it = enc.split('/');
                let name = it.next().unwrap_or_default().to_string();
                let clock = it.next().and_then(|c| c.trim().parse().ok());
                let channels = it.next().and_then(|c| c.trim().parse().ok());
                let c = codec_mut(m, pt);
                c.name = name;
                c.clock_rate = clock;
                c.channels = channels;
            }
            None => note(problems, line),
        },
        ("fmtp", Some(v)) => match split_pt(v) {
            Some((pt, params)) => codec_mut(m, pt).fmtp = Some(params.to_string()),
            None => note(problems, line),
        },
        ("rtcp-fb", Some(v)) => match split_pt(v) {
            Some((pt, fb)) => codec_mut(m, pt).rtcp_fb.push(fb.to_string()),
            None if v.trim_start().starts_with('*') => {}
            None => note(problems, line),
        },
        _ => {}
    }
}

/// What an answer did with one offered m-line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionOutcome {
    /// Position of the m-line.
    pub index: usize,
    /// `mid` (from the answer, else the offer).
    pub mid: Option<String>,
    /// Media type.
    pub media: String,
    /// Direction offered.
    pub offered_direction: String,
    /// Direction answered (`None` when the answer has no such m-line).
    pub answered_direction: Option<String>,
    /// Whether the answer accepted the section (present with a non-zero port).
    pub accepted: bool,
    /// Offered codecs the answer kept (labels such as `VP8/90000`, with the answer's PT).
    pub accepted_codecs: Vec<String>,
    /// Offered codecs the answer dropped.
    pub rejected_codecs: Vec<String>,
    /// Codecs in the answer that the offer did not have (a protocol violation).
    pub unexpected_codecs: Vec<String>,
}

/// Compare an answer with its offer, m-line by m-line (JSEP keeps the order).
pub fn compare(offer: &SdpSummary, answer: &SdpSummary) -> Vec<SectionOutcome> {
    let mut out = Vec::new();
    for (i, o) in offer.media.iter().enumerate() {
        let a = answer.media.get(i);
        let accepted = a.is_some_and(|a| !a.rejected());
        let mut acc = Vec::new();
        let mut rej = Vec::new();
        let mut unexpected = Vec::new();
        for oc in &o.codecs {
            match a
                .filter(|_| accepted)
                .and_then(|a| a.codecs.iter().find(|ac| ac.same_encoding(oc)))
            {
                Some(ac) => {
                    let l = format!("{} {}", ac.pt, oc.label());
                    if !acc.contains(&l) {
                        acc.push(l);
                    }
                }
                None => rej.push(format!("{} {}", oc.pt, oc.label())),
            }
        }
        if let Some(a) = a.filter(|_| accepted) {
            for ac in &a.codecs {
                if !o.codecs.iter().any(|oc| oc.same_encoding(ac)) {
                    unexpected.push(format!("{} {}", ac.pt, ac.label()));
                }
            }
        }
        out.push(SectionOutcome {
            index: i,
            mid: a.and_then(|a| a.mid.clone()).or_else(|| o.mid.clone()),
            media: o.media.clone(),
            offered_direction: o.effective_direction().to_string(),
            answered_direction: a.map(|a| a.effective_direction().to_string()),
            accepted,
            accepted_codecs: acc,
            rejected_codecs: rej,
            unexpected_codecs: unexpected,
        });
    }
    out
}

/// The SDP carried by a signaling message: the `sdp` of a JSON message
/// (`{"type": "offer"|"answer", "sdp": "…"}`), or a plain SDP body (WHEP), possibly after
/// HTTP-style header lines and a blank line.
pub fn sdp_from_message(text: &str) -> Option<String> {
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return v.get("sdp")?.as_str().map(str::to_string);
    }
    if text.starts_with("v=0") {
        return Some(text.to_string());
    }
    let at = text.find("\nv=0")?;
    Some(text[at + 1..].to_string())
}

/// Human-readable lines for the detail view: the session, then each m-line; when `offer` is given
/// (this is an answer), each m-line's outcome against it. Raw strings: sanitise each line.
pub fn describe(summary: &SdpSummary, offer: Option<&SdpSummary>) -> Vec<String> {
    let mut l = Vec::new();
    l.push("Session".to_string());
    if let Some(o) = &summary.origin {
        l.push(format!("  origin      {o}"));
    }
    if !summary.bundle.is_empty() {
        l.push(format!("  BUNDLE      {}", summary.bundle.join(" ")));
    }
    if let Some(u) = &summary.ice_ufrag {
        l.push(format!("  ice-ufrag   {u}"));
    }
    if summary.ice_lite {
        l.push("  ice-lite    yes".to_string());
    }
    if let Some(o) = &summary.ice_options {
        l.push(format!("  ice-options {o}"));
    }
    for f in &summary.fingerprints {
        l.push(format!("  fingerprint {} {}", f.algorithm, f.value));
    }
    if let Some(s) = &summary.setup {
        l.push(format!("  setup       {s}"));
    }
    let outcomes = offer.map(|o| compare(o, summary));
    for m in &summary.media {
        l.push(String::new());
        let state = if m.rejected() {
            "REJECTED (port 0)".to_string()
        } else {
            format!("port {}", m.port)
        };
        l.push(format!(
            "m={} #{} mid {} · {} · {} · {}",
            m.media,
            m.index,
            m.mid.as_deref().unwrap_or("-"),
            m.effective_direction(),
            state,
            m.proto
        ));
        if let Some(u) = summary.ufrag_of(m) {
            l.push(format!("  ice-ufrag   {u}"));
        }
        if let Some(f) = summary.fingerprint_of(m) {
            l.push(format!("  fingerprint {} {}", f.algorithm, f.value));
        }
        if let Some(s) = summary.setup_of(m) {
            l.push(format!("  setup       {s}"));
        }
        if m.rtcp_mux {
            l.push("  rtcp-mux    yes".to_string());
        }
        if !m.ssrcs.is_empty() {
            let s: Vec<String> = m.ssrcs.iter().map(u32::to_string).collect();
            l.push(format!("  ssrc        {}", s.join(" ")));
        }
        l.push(format!("  codecs ({})", m.codecs.len()));
        for c in &m.codecs {
            let mut line = format!("    {:>3} {}", c.pt, c.label());
            if let Some(f) = &c.fmtp {
                line.push_str(&format!("  fmtp {f}"));
            }
            if !c.rtcp_fb.is_empty() {
                line.push_str(&format!("  fb [{}]", c.rtcp_fb.join(", ")));
            }
            l.push(line);
        }
        if !m.candidates.is_empty() || m.end_of_candidates {
            l.push(format!(
                "  candidates ({}){}",
                m.candidates.len(),
                if m.end_of_candidates {
                    ", end-of-candidates"
                } else {
                    ""
                }
            ));
            for c in &m.candidates {
                l.push(format!("    {c}"));
            }
        }
        if let Some(o) = outcomes.as_ref().and_then(|v| v.get(m.index)) {
            l.push(format!(
                "  vs offer:   {} (offered {}, answered {})",
                if o.accepted { "ACCEPTED" } else { "REJECTED" },
                o.offered_direction,
                o.answered_direction.as_deref().unwrap_or("-")
            ));
            if !o.accepted_codecs.is_empty() {
                l.push(format!("    accepted: {}", o.accepted_codecs.join(", ")));
            }
            if !o.rejected_codecs.is_empty() {
                l.push(format!("    rejected: {}", o.rejected_codecs.join(", ")));
            }
            if !o.unexpected_codecs.is_empty() {
                l.push(format!(
                    "    not offered: {}",
                    o.unexpected_codecs.join(", ")
                ));
            }
        }
    }
    if let Some(outcomes) = &outcomes {
        for o in outcomes.iter().skip(summary.media.len()) {
            l.push(String::new());
            l.push(format!(
                "m={} #{}: offered, MISSING from the answer",
                o.media, o.index
            ));
        }
    }
    if !summary.problems.is_empty() {
        l.push(String::new());
        l.push(format!("Unparsed lines ({})", summary.problems.len()));
        for p in &summary.problems {
            l.push(format!("  {p}"));
        }
    }
    l
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_events::{ANSWER_SDP, OFFER_SDP};

    #[test]
    fn offer_sections_and_codecs() {
        let s = parse(OFFER_SDP);
        assert_eq!(s.bundle, vec!["0", "1"]);
        assert_eq!(s.media.len(), 2);
        let v = &s.media[0];
        assert_eq!(v.media, "video");
        assert_eq!(v.direction.as_deref(), Some("recvonly"));
        assert_eq!(v.codecs.len(), 6);
        assert_eq!(v.codecs[0].label(), "VP8/90000");
        assert_eq!(v.codecs[0].rtcp_fb, vec!["nack", "nack pli", "goog-remb"]);
        assert_eq!(v.codecs[1].fmtp.as_deref(), Some("apt=97"));
        assert_eq!(v.ice_ufrag.as_deref(), Some("GjR1"));
        assert_eq!(v.setup.as_deref(), Some("actpass"));
        assert_eq!(v.fingerprints[0].algorithm, "sha-256");
        let a = &s.media[1];
        assert_eq!(a.codecs[0].label(), "opus/48000/2");
        assert_eq!(a.codecs[1].label(), "G722/8000");
    }

    #[test]
    fn answer_against_offer() {
        let o = parse(OFFER_SDP);
        let a = parse(ANSWER_SDP);
        assert!(a.media[1].rejected());
        let c = compare(&o, &a);
        assert!(c[0].accepted);
        assert_eq!(c[0].accepted_codecs, vec!["97 VP8/90000"]);
        assert!(c[0].rejected_codecs.iter().any(|x| x.contains("H264")));
        assert!(!c[1].accepted);
        assert_eq!(c[1].answered_direction.as_deref(), Some("inactive"));
        let text = describe(&a, Some(&o)).join("\n");
        assert!(text.contains("REJECTED (port 0)"), "{text}");
        assert!(text.contains("setup       active"), "{text}");
        assert!(text.contains("vs offer:   ACCEPTED"), "{text}");
    }

    #[test]
    fn garbage_never_panics() {
        for input in [
            "",
            "=",
            "m=",
            "m=video",
            "m=video x",
            "a=rtpmap:",
            "m=video 9 RTP 300 97\na=rtpmap:97\na=fmtp:xx y\na=rtcp-fb:* nack\na=fingerprint:",
            "\u{0}\u{1b}[2J=\r\n",
            "m=audio 0/2 RTP\na=candidate:\na=ssrc:abc",
        ] {
            let s = parse(input);
            let _ = describe(&s, Some(&s));
        }
    }

    #[test]
    fn sdp_from_message_json() {
        assert_eq!(
            sdp_from_message(r#"{"type":"offer","sdp":"v=0\r\n"}"#).as_deref(),
            Some("v=0\r\n")
        );
        assert_eq!(sdp_from_message("[]"), None);
        assert_eq!(
            sdp_from_message("201 Created\nLocation: /x\n\nv=0\r\ns=-\r\n").as_deref(),
            Some("v=0\r\ns=-\r\n")
        );
        assert_eq!(sdp_from_message("not json"), None);
    }
}
