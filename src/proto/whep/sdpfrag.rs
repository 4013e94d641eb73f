//! The `application/trickle-ice-sdpfrag` body (RFC 8840 §9, with the layout RFC 9725 §4.3.1
//! shows) used by WHIP/WHEP `PATCH` requests for trickle ICE and ICE restarts:
//!
//! ```text
//! a=group:BUNDLE 0
//! m=video 9 UDP/TLS/RTP/SAVPF 97
//! a=mid:0
//! a=ice-ufrag:EsAw
//! a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1
//! a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host
//! a=end-of-candidates
//! ```
//!
//! `a=ice-ufrag`/`a=ice-pwd` may also sit at session level, before the first `m=` (RFC 8840's
//! examples, MediaMTX's reader). Both layouts parse; [`trickle_frag`] writes RFC 9725's.

use super::quote;

/// Largest sdpfrag body accepted, in bytes.
pub const MAX_SDPFRAG_BYTES: usize = 1 << 20;

/// A trickle-ice-sdpfrag body (RFC 8840 / RFC 9725 layout), for trickling or an ICE restart.
///
/// Written by [`write_sdpfrag`] as: `a=ice-ufrag`, `a=ice-pwd`, `a=ice-options`, `a=group`
/// (each only when set), then per media section `m=…`, `a=mid`, `a=ice-ufrag`, `a=ice-pwd`,
/// the `a=candidate` lines and `a=end-of-candidates`. CRLF line endings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SdpFrag {
    /// Session-level `a=ice-ufrag` (RFC 8840 layout). See also [`SdpFrag::ufrag`].
    pub ice_ufrag: Option<String>,
    /// Session-level `a=ice-pwd`. See also [`SdpFrag::pwd`].
    pub ice_pwd: Option<String>,
    /// `a=ice-options` value, e.g. `trickle ice2`.
    pub ice_options: Option<String>,
    /// `a=group` value, e.g. `BUNDLE 0 1`.
    pub group: Option<String>,
    /// The media sections, in order.
    pub media: Vec<FragMedia>,
}

/// One media section of an [`SdpFrag`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FragMedia {
    /// The whole `m=` line, e.g. `m=video 9 UDP/TLS/RTP/SAVPF 0`. Empty for candidates that a
    /// body carried before any `m=` line (some clients omit it); such a section is always first.
    pub media_line: String,
    /// `a=mid` value.
    pub mid: Option<String>,
    /// The candidate attributes: the text after `a=`, i.e. `candidate:…`.
    pub candidates: Vec<String>,
    /// Whether `a=end-of-candidates` was present (at media level, or at session level, which
    /// applies to every section).
    pub end_of_candidates: bool,
    /// Media-level `a=ice-ufrag` (RFC 9725 layout).
    pub ice_ufrag: Option<String>,
    /// Media-level `a=ice-pwd`.
    pub ice_pwd: Option<String>,
}

impl SdpFrag {
    /// The ICE ufrag in effect: session level, else the first media section that has one.
    pub fn ufrag(&self) -> Option<&str> {
        self.ice_ufrag
            .as_deref()
            .or_else(|| self.media.iter().find_map(|m| m.ice_ufrag.as_deref()))
    }

    /// The ICE password in effect: session level, else the first media section that has one.
    pub fn pwd(&self) -> Option<&str> {
        self.ice_pwd
            .as_deref()
            .or_else(|| self.media.iter().find_map(|m| m.ice_pwd.as_deref()))
    }

    /// Every candidate with the mid of its section, in order.
    pub fn candidates(&self) -> impl Iterator<Item = (Option<&str>, &str)> {
        self.media.iter().flat_map(|m| {
            m.candidates
                .iter()
                .map(move |c| (m.mid.as_deref(), c.as_str()))
        })
    }

    /// Whether any section carries `a=end-of-candidates`.
    pub fn end_of_candidates(&self) -> bool {
        self.media.iter().any(|m| m.end_of_candidates)
    }
}

/// `s` without CR and LF, so a value cannot start a new line.
fn one_line(s: &str) -> String {
    s.chars().filter(|c| !matches!(c, '\r' | '\n')).collect()
}

/// Write an sdpfrag body (CRLF line endings). Fields that are `None` are left out; CR and LF
/// inside values are dropped; a candidate lacking the `candidate:` prefix gets it; a media line
/// lacking `m=` gets it, and an empty one writes no `m=` line (its candidates are at session
/// level, as [`parse_sdpfrag`] reads them back).
pub fn write_sdpfrag(f: &SdpFrag) -> String {
    let mut out = String::new();
    let mut line = |text: String| {
        out.push_str(&text);
        out.push_str("\r\n");
    };
    let attr =
        |name: &str, v: &Option<String>| v.as_ref().map(|v| format!("a={name}:{}", one_line(v)));
    for l in [
        attr("ice-ufrag", &f.ice_ufrag),
        attr("ice-pwd", &f.ice_pwd),
        attr("ice-options", &f.ice_options),
        attr("group", &f.group),
    ]
    .into_iter()
    .flatten()
    {
        line(l);
    }
    for m in &f.media {
        let mline = one_line(&m.media_line);
        if !mline.is_empty() {
            line(if mline.starts_with("m=") {
                mline
            } else {
                format!("m={mline}")
            });
        }
        for l in [
            attr("mid", &m.mid),
            attr("ice-ufrag", &m.ice_ufrag),
            attr("ice-pwd", &m.ice_pwd),
        ]
        .into_iter()
        .flatten()
        {
            line(l);
        }
        for c in &m.candidates {
            let c = one_line(c);
            let c = c.strip_prefix("a=").unwrap_or(&c);
            if c.starts_with("candidate:") {
                line(format!("a={c}"));
            } else {
                line(format!("a=candidate:{c}"));
            }
        }
        if m.end_of_candidates {
            line("a=end-of-candidates".to_owned());
        }
    }
    out
}

/// Whether `line` has the SDP shape `<letter>=…`.
fn sdp_shaped(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b'='
}

/// Set `slot` unless already set (the first occurrence of an attribute wins).
fn set_first(slot: &mut Option<String>, value: &str) {
    if slot.is_none() {
        *slot = Some(value.to_owned());
    }
}

/// Parse an sdpfrag body (a PATCH request, or a server's ICE-restart response).
///
/// Lenient: LF, CRLF or lone CR line endings; surrounding whitespace; ufrag/pwd at session or
/// media level (the first occurrence in a scope wins); `a=end-of-candidates` at session level
/// (applies to every section); candidates before any `m=` line (collected in a first section
/// with an empty `media_line`); full-SDP lines (`v=`, `o=`, `c=`, …) and unknown attributes
/// are ignored.
///
/// Errors, specific, when the body is clearly not an sdpfrag: empty, over
/// [`MAX_SDPFRAG_BYTES`], HTML/XML, JSON, a first line that is not `<letter>=…`, or no ICE line
/// at all (`a=ice-ufrag`, `a=ice-pwd`, `m=`, `a=candidate`, `a=end-of-candidates`).
pub fn parse_sdpfrag(body: &str) -> Result<SdpFrag, String> {
    if body.len() > MAX_SDPFRAG_BYTES {
        return Err(format!(
            "sdpfrag body is {} bytes, over the 1 MiB limit",
            body.len()
        ));
    }
    let body = body.strip_prefix('\u{feff}').unwrap_or(body);
    let mut lines = body
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .peekable();
    let Some(first) = lines.peek() else {
        return Err(
            "empty body where an sdpfrag (a=ice-ufrag, a=ice-pwd, m=, a=candidate…) \
                    was expected"
                .to_owned(),
        );
    };
    if first.starts_with('<') {
        return Err(format!(
            "body looks like HTML or XML, not an sdpfrag: {}",
            quote(first)
        ));
    }
    if first.starts_with(['{', '[']) {
        return Err(format!(
            "body looks like JSON, not an sdpfrag: {}",
            quote(first)
        ));
    }
    if !sdp_shaped(first) {
        return Err(format!(
            "first line {} is not an SDP line (<letter>=…), so the body is not an sdpfrag",
            quote(first)
        ));
    }

    let mut frag = SdpFrag::default();
    let mut session_candidates: Vec<String> = Vec::new();
    let mut session_eoc = false;
    let mut ice_lines = 0usize;
    for line in lines {
        if !sdp_shaped(line) {
            continue;
        }
        if line.starts_with("m=") {
            ice_lines += 1;
            frag.media.push(FragMedia {
                media_line: line.to_owned(),
                ..FragMedia::default()
            });
            continue;
        }
        let Some(attr) = line.strip_prefix("a=") else {
            continue;
        };
        let (name, value) = match attr.split_once(':') {
            Some((n, v)) => (n, Some(v)),
            None => (attr, None),
        };
        let media = frag.media.last_mut();
        match (name, value, media) {
            ("ice-ufrag", Some(v), Some(m)) => set_first(&mut m.ice_ufrag, v),
            ("ice-ufrag", Some(v), None) => set_first(&mut frag.ice_ufrag, v),
            ("ice-pwd", Some(v), Some(m)) => set_first(&mut m.ice_pwd, v),
            ("ice-pwd", Some(v), None) => set_first(&mut frag.ice_pwd, v),
            ("ice-options", Some(v), _) => {
                set_first(&mut frag.ice_options, v);
                continue;
            }
            ("group", Some(v), None) => {
                set_first(&mut frag.group, v);
                continue;
            }
            ("mid", Some(v), Some(m)) => {
                set_first(&mut m.mid, v);
                continue;
            }
            ("candidate", Some(_), Some(m)) => m.candidates.push(attr.to_owned()),
            ("candidate", Some(_), None) => session_candidates.push(attr.to_owned()),
            ("end-of-candidates", _, Some(m)) => m.end_of_candidates = true,
            ("end-of-candidates", _, None) => session_eoc = true,
            _ => continue,
        }
        ice_lines += 1;
    }
    if !session_candidates.is_empty() || (session_eoc && frag.media.is_empty()) {
        frag.media.insert(
            0,
            FragMedia {
                candidates: session_candidates,
                ..FragMedia::default()
            },
        );
    }
    if session_eoc {
        frag.media
            .iter_mut()
            .for_each(|m| m.end_of_candidates = true);
    }
    if ice_lines == 0 {
        return Err(
            "no ICE lines in the body (a=ice-ufrag, a=ice-pwd, m=, a=candidate, \
                    a=end-of-candidates), so it is not an sdpfrag"
                .to_owned(),
        );
    }
    Ok(frag)
}

/// One `m=` section of an SDP: its `m=` line and its attributes (`name`, `value`).
struct Section<'a> {
    mline: &'a str,
    attrs: Vec<(&'a str, Option<&'a str>)>,
}

impl Section<'_> {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, v)| *n == name && v.is_some())
            .and_then(|(_, v)| *v)
    }

    fn has(&self, name: &str) -> bool {
        self.attrs.iter().any(|(n, _)| *n == name)
    }
}

/// Build the frag for trickling `candidates` (candidate attribute values, with or without the
/// `a=` and `candidate:` prefixes) of the first non-bundle-only m-section of `local_sdp`, with
/// `a=end-of-candidates` if `end`. Also the body of an ICE-restart PATCH (pass the restarted
/// local description; RFC 9725 §4.3.3).
///
/// Layout as RFC 9725 §4.3.1: `a=group` (and `a=ice-options`) from the session level, then
/// `m=<media> 9 <proto> <fmts>` (the section's media, proto and formats, port 9), `a=mid`,
/// media-level `a=ice-ufrag`/`a=ice-pwd` (from the section, else the session level), the
/// candidates. Candidates go only on that one section, as max-bundle is used (draft-ietf-wish-whep,
/// "ICE support"). A section is skipped when it has `a=bundle-only` or port 0.
///
/// Errors: no usable `m=` section, a malformed `m=` line, no ufrag/pwd, no `a=mid`, a candidate
/// holding a line break.
pub fn trickle_frag(local_sdp: &str, candidates: &[String], end: bool) -> Result<SdpFrag, String> {
    let mut session: Vec<(&str, Option<&str>)> = Vec::new();
    let mut sections: Vec<Section> = Vec::new();
    for line in local_sdp
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        if line.starts_with("m=") {
            sections.push(Section {
                mline: line,
                attrs: Vec::new(),
            });
        } else if let Some(attr) = line.strip_prefix("a=") {
            let pair = match attr.split_once(':') {
                Some((n, v)) => (n, Some(v)),
                None => (attr, None),
            };
            match sections.last_mut() {
                Some(s) => s.attrs.push(pair),
                None => session.push(pair),
            }
        }
    }
    let session_attr = |name: &str| {
        session
            .iter()
            .find(|(n, v)| *n == name && v.is_some())
            .and_then(|(_, v)| *v)
    };
    if sections.is_empty() {
        return Err("the local SDP has no m= section to trickle candidates for".to_owned());
    }
    let port_of = |s: &Section| -> Option<String> {
        s.mline[2..]
            .split_ascii_whitespace()
            .nth(1)
            .map(|p| p.split('/').next().unwrap_or(p).to_owned())
    };
    let Some(section) = sections
        .iter()
        .find(|s| !s.has("bundle-only") && port_of(s).as_deref() != Some("0"))
    else {
        return Err(format!(
            "every m= section of the local SDP ({}) is bundle-only or disabled (port 0)",
            sections.len()
        ));
    };
    let fields: Vec<&str> = section.mline[2..].split_ascii_whitespace().collect();
    if fields.len() < 4 {
        return Err(format!(
            "m= line {} has {} fields, expected <media> <port> <proto> <fmt>…",
            quote(section.mline),
            fields.len()
        ));
    }
    let ufrag = section
        .attr("ice-ufrag")
        .or_else(|| session_attr("ice-ufrag"))
        .ok_or("the local SDP has no a=ice-ufrag (neither in its first m= section nor at session level)")?;
    let pwd = section
        .attr("ice-pwd")
        .or_else(|| session_attr("ice-pwd"))
        .ok_or(
            "the local SDP has no a=ice-pwd (neither in its first m= section nor at session level)",
        )?;
    let mid = section.attr("mid").ok_or_else(|| {
        format!(
            "m= section {} of the local SDP has no a=mid, which a trickle PATCH needs",
            quote(section.mline)
        )
    })?;
    let mut cands = Vec::with_capacity(candidates.len());
    for (i, c) in candidates.iter().enumerate() {
        let c = c.trim();
        if c.contains(['\r', '\n']) {
            return Err(format!(
                "candidate {} contains a line break: {}",
                i + 1,
                quote(c)
            ));
        }
        let c = c.strip_prefix("a=").unwrap_or(c);
        if c.is_empty() {
            // The browser's end-of-candidates form; `end` says it.
            continue;
        }
        cands.push(if c.starts_with("candidate:") {
            c.to_owned()
        } else {
            format!("candidate:{c}")
        });
    }
    Ok(SdpFrag {
        ice_ufrag: None,
        ice_pwd: None,
        ice_options: session_attr("ice-options")
            .or_else(|| section.attr("ice-options"))
            .map(str::to_owned),
        group: session_attr("group").map(str::to_owned),
        media: vec![FragMedia {
            media_line: format!("m={} 9 {} {}", fields[0], fields[2], fields[3..].join(" ")),
            mid: Some(mid.to_owned()),
            candidates: cands,
            end_of_candidates: end,
            ice_ufrag: Some(ufrag.to_owned()),
            ice_pwd: Some(pwd.to_owned()),
        }],
    })
}

/// `sdp` with every `a=ice-ufrag`/`a=ice-pwd` line replaced by `ufrag`/`pwd` and its candidate and
/// end-of-candidates lines removed (CRLF line endings): an offer or answer as it stands after an ICE
/// restart, before the new candidates are added.
pub fn with_ice_credentials(sdp: &str, ufrag: &str, pwd: &str) -> String {
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.split('\n').map(|l| l.trim_end_matches('\r')) {
        if line.is_empty() || line.starts_with("a=candidate:") || line == "a=end-of-candidates" {
            continue;
        }
        if line.starts_with("a=ice-ufrag:") {
            out.push_str("a=ice-ufrag:");
            out.push_str(ufrag);
        } else if line.starts_with("a=ice-pwd:") {
            out.push_str("a=ice-pwd:");
            out.push_str(pwd);
        } else {
            out.push_str(line);
        }
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ice_credentials_are_replaced_and_candidates_dropped() {
        let sdp = "v=0\r\na=ice-ufrag:old\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=ice-ufrag:old\r\n\
                   a=ice-pwd:oldpwd\r\na=candidate:1 1 udp 1 127.0.0.1 5 typ host\r\na=end-of-candidates\r\na=mid:0\r\n";
        assert_eq!(
            with_ice_credentials(sdp, "new", "newpwd"),
            "v=0\r\na=ice-ufrag:new\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=ice-ufrag:new\r\n\
             a=ice-pwd:newpwd\r\na=mid:0\r\n"
        );
        assert_eq!(
            with_ice_credentials("a=ice-ufrag:x\na=ice-pwd:y\n", "u", "p"),
            "a=ice-ufrag:u\r\na=ice-pwd:p\r\n"
        );
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    /// RFC 9725 §4.3.1's trickle request, with ufrag/pwd at media level.
    const RFC9725_TRICKLE: &str = "a=group:BUNDLE 0 1\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
        a=mid:0\r\n\
        a=ice-ufrag:EsAw\r\n\
        a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n\
        a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1\r\n\
        a=candidate:473322822 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active generation 0 ufrag EsAw network-id 1\r\n\
        a=end-of-candidates\r\n";

    /// A MediaMTX-style ICE-restart response: session-level credentials, candidates, end.
    const MEDIAMTX_RESTART: &str = "a=ice-ufrag:tUQMzoQAVLzlvBys\n\
        a=ice-pwd:pimyGfJcjjRwvUjnmGOODSjtIxyDljQj\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96\n\
        a=mid:0\n\
        a=candidate:3628911098 1 udp 2130706431 192.168.3.218 8189 typ host\n\
        a=candidate:1 1 tcp 1671430143 192.168.3.218 8189 typ host tcptype passive\n\
        a=end-of-candidates\n";

    #[test]
    fn parse_both_layouts() {
        let f = parse_sdpfrag(RFC9725_TRICKLE).unwrap();
        assert_eq!(f.ice_ufrag, None);
        assert_eq!(f.group, s("BUNDLE 0 1"));
        assert_eq!(f.ufrag(), Some("EsAw"));
        assert_eq!(f.pwd(), Some("P2uYro0UCOQ4zxjKXaWCBui1"));
        assert_eq!(f.media.len(), 1);
        let m = &f.media[0];
        assert_eq!(m.media_line, "m=audio 9 UDP/TLS/RTP/SAVPF 111");
        assert_eq!(m.mid, s("0"));
        assert_eq!(m.candidates.len(), 2);
        assert!(m.candidates[1].starts_with("candidate:473322822 1 tcp"));
        assert!(m.end_of_candidates && f.end_of_candidates());

        let f = parse_sdpfrag(MEDIAMTX_RESTART).unwrap();
        assert_eq!(f.ice_ufrag, s("tUQMzoQAVLzlvBys"));
        assert_eq!(f.ice_pwd, s("pimyGfJcjjRwvUjnmGOODSjtIxyDljQj"));
        assert_eq!(f.media[0].ice_ufrag, None);
        assert_eq!(f.ufrag(), Some("tUQMzoQAVLzlvBys"));
        let cands: Vec<_> = f.candidates().collect();
        assert_eq!(cands.len(), 2);
        assert_eq!(cands[0].0, Some("0"));
        assert!(f.end_of_candidates());
    }

    #[test]
    fn parse_is_lenient() {
        let cases: &[(&str, SdpFrag)] = &[
            // RFC 9725 restart response: ice-lite, ice-options, unknown lines.
            (
                "a=ice-lite\r\na=ice-options:trickle ice2\r\na=group:BUNDLE 0\r\n\
                 m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=ice-ufrag:289b\r\n\
                 a=ice-pwd:0b66\r\na=x-unknown:1\r\na=candidate:1 1 udp 2130706431 198.51.100.1 39132 typ host\r\n\
                 a=end-of-candidates\r\n",
                SdpFrag {
                    ice_options: s("trickle ice2"),
                    group: s("BUNDLE 0"),
                    media: vec![FragMedia {
                        media_line: "m=audio 9 UDP/TLS/RTP/SAVPF 111".into(),
                        mid: s("0"),
                        candidates: vec![
                            "candidate:1 1 udp 2130706431 198.51.100.1 39132 typ host".into(),
                        ],
                        end_of_candidates: true,
                        ice_ufrag: s("289b"),
                        ice_pwd: s("0b66"),
                    }],
                    ..SdpFrag::default()
                },
            ),
            // Candidates with no m= line, session-level end-of-candidates, spaces, lone CR, BOM.
            (
                "\u{feff}  a=ice-ufrag:u \r a=ice-pwd:p\ra=candidate:1 1 udp 1 1.2.3.4 5 typ host\n\n\
                 a=end-of-candidates  \n",
                SdpFrag {
                    ice_ufrag: s("u"),
                    ice_pwd: s("p"),
                    media: vec![FragMedia {
                        candidates: vec!["candidate:1 1 udp 1 1.2.3.4 5 typ host".into()],
                        end_of_candidates: true,
                        ..FragMedia::default()
                    }],
                    ..SdpFrag::default()
                },
            ),
            // Session-level end-of-candidates applies to every section; first ufrag wins;
            // full-SDP lines ignored; two sections.
            (
                "v=0\no=- 0 0 IN IP4 0.0.0.0\na=ice-ufrag:a\na=ice-ufrag:b\n\
                 m=video 9 UDP/TLS/RTP/SAVPF 0\na=mid:0\nc=IN IP4 0.0.0.0\n\
                 m=audio 9 UDP/TLS/RTP/SAVPF 0\na=mid:1\na=mid:2\n",
                SdpFrag {
                    ice_ufrag: s("a"),
                    media: vec![
                        FragMedia {
                            media_line: "m=video 9 UDP/TLS/RTP/SAVPF 0".into(),
                            mid: s("0"),
                            ..FragMedia::default()
                        },
                        FragMedia {
                            media_line: "m=audio 9 UDP/TLS/RTP/SAVPF 0".into(),
                            mid: s("1"),
                            ..FragMedia::default()
                        },
                    ],
                    ..SdpFrag::default()
                },
            ),
            // Only end-of-candidates.
            (
                "a=end-of-candidates\r\n",
                SdpFrag {
                    media: vec![FragMedia {
                        end_of_candidates: true,
                        ..FragMedia::default()
                    }],
                    ..SdpFrag::default()
                },
            ),
            // A non-SDP line after a good first line is ignored.
            (
                "a=ice-ufrag:x\r\nhello world\r\n",
                SdpFrag {
                    ice_ufrag: s("x"),
                    ..SdpFrag::default()
                },
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(parse_sdpfrag(body).as_ref(), Ok(expected), "{body:?}");
        }
    }

    #[test]
    fn not_an_sdpfrag() {
        let huge = "a=candidate:x\r\n".repeat(100_000);
        let cases: &[(&str, &str)] = &[
            ("", "empty body"),
            (" \r\n\t\n", "empty body"),
            (
                "<!DOCTYPE html><html><body>Not Found</body></html>",
                "looks like HTML or XML",
            ),
            (
                r#"{"status":"error","error":"session not found"}"#,
                "looks like JSON",
            ),
            ("[1,2]", "looks like JSON"),
            (
                "404 page not found",
                "first line \"404 page not found\" is not an SDP line",
            ),
            ("v=0\r\ns=-\r\nt=0 0\r\n", "no ICE lines"),
            ("a=ice-ufrag\r\na=mid:0\r\n", "no ICE lines"),
            (&huge, "over the 1 MiB limit"),
        ];
        for (body, fragment) in cases {
            let err = parse_sdpfrag(body).unwrap_err();
            assert!(err.contains(fragment), "{body:.40?}: {err}");
            assert!(err.len() < 300, "{err}");
        }
    }

    #[test]
    fn write_parse_round_trip() {
        let frags = [
            parse_sdpfrag(RFC9725_TRICKLE).unwrap(),
            parse_sdpfrag(MEDIAMTX_RESTART).unwrap(),
            SdpFrag::default(),
            SdpFrag {
                ice_ufrag: s("u"),
                ice_pwd: s("p+/="),
                ice_options: s("trickle"),
                group: s("BUNDLE 0 1"),
                media: vec![
                    FragMedia {
                        media_line: "m=video 9 UDP/TLS/RTP/SAVPF 96".into(),
                        mid: s("0"),
                        candidates: vec!["candidate:1 1 udp 1 ::1 5 typ host".into()],
                        end_of_candidates: false,
                        ice_ufrag: s("mu"),
                        ice_pwd: s("mp"),
                    },
                    FragMedia {
                        media_line: "m=audio 9 UDP/TLS/RTP/SAVPF 111".into(),
                        mid: s("1"),
                        candidates: vec![],
                        end_of_candidates: true,
                        ..FragMedia::default()
                    },
                ],
            },
        ];
        for f in frags {
            let text = write_sdpfrag(&f);
            assert!(text.is_empty() || text.ends_with("\r\n"));
            assert!(!text.replace("\r\n", "").contains(['\r', '\n']));
            if f == SdpFrag::default() {
                assert_eq!(text, "");
                continue;
            }
            assert_eq!(parse_sdpfrag(&text).as_ref(), Ok(&f), "{text}");
        }
        // The RFC 9725 example is written back byte for byte.
        assert_eq!(
            write_sdpfrag(&parse_sdpfrag(RFC9725_TRICKLE).unwrap()),
            RFC9725_TRICKLE
        );
    }

    #[test]
    fn write_normalises_prefixes_and_line_breaks() {
        let f = SdpFrag {
            ice_ufrag: s("u\r\na=ice-pwd:evil"),
            media: vec![FragMedia {
                media_line: "video 9 UDP/TLS/RTP/SAVPF 0".into(),
                candidates: vec![
                    "1 1 udp 1 1.2.3.4 5 typ host".into(),
                    "a=candidate:2 1 udp 1 1.2.3.4 6 typ host".into(),
                ],
                ..FragMedia::default()
            }],
            ..SdpFrag::default()
        };
        assert_eq!(
            write_sdpfrag(&f),
            "a=ice-ufrag:ua=ice-pwd:evil\r\nm=video 9 UDP/TLS/RTP/SAVPF 0\r\n\
             a=candidate:1 1 udp 1 1.2.3.4 5 typ host\r\na=candidate:2 1 udp 1 1.2.3.4 6 typ host\r\n"
        );
    }

    const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
        a=group:BUNDLE 0 1\r\na=ice-options:trickle\r\n\
        m=video 57519 UDP/TLS/RTP/SAVPF 97 98\r\nc=IN IP4 127.0.0.1\r\na=recvonly\r\na=mid:0\r\n\
        a=ice-ufrag:Bvwm\r\na=ice-pwd:DdShMs4Pf7bqi2fIcih6cx\r\n\
        m=audio 0 UDP/TLS/RTP/SAVPF 111\r\na=bundle-only\r\na=mid:1\r\n";

    #[test]
    fn trickle_frag_from_an_offer() {
        let cands = vec![
            "candidate:1 1 udp 2130706431 127.0.0.1 57519 typ host".to_owned(),
            "a=candidate:2 1 udp 2130706431 10.99.0.1 50604 typ host".to_owned(),
            "3 1 udp 1 ::1 5 typ host".to_owned(),
            "".to_owned(),
        ];
        let f = trickle_frag(OFFER, &cands, true).unwrap();
        assert_eq!(
            write_sdpfrag(&f),
            "a=ice-options:trickle\r\na=group:BUNDLE 0 1\r\n\
             m=video 9 UDP/TLS/RTP/SAVPF 97 98\r\na=mid:0\r\na=ice-ufrag:Bvwm\r\n\
             a=ice-pwd:DdShMs4Pf7bqi2fIcih6cx\r\n\
             a=candidate:1 1 udp 2130706431 127.0.0.1 57519 typ host\r\n\
             a=candidate:2 1 udp 2130706431 10.99.0.1 50604 typ host\r\n\
             a=candidate:3 1 udp 1 ::1 5 typ host\r\na=end-of-candidates\r\n"
        );
        // Session-level credentials, a bundle-only first section, LF endings, no candidates.
        let sdp = "v=0\na=ice-ufrag:S\na=ice-pwd:SP\nm=audio 9 UDP/TLS/RTP/SAVPF 111\na=bundle-only\n\
                   a=mid:a\nm=video 9/2 UDP/TLS/RTP/SAVPF 96\na=mid:v\n";
        let f = trickle_frag(sdp, &[], false).unwrap();
        assert_eq!(f.media[0].mid.as_deref(), Some("v"));
        assert_eq!(f.media[0].media_line, "m=video 9 UDP/TLS/RTP/SAVPF 96");
        assert_eq!((f.ufrag(), f.pwd()), (Some("S"), Some("SP")));
        assert!(f.media[0].candidates.is_empty() && !f.end_of_candidates());
        assert_eq!(f.group, None);
    }

    #[test]
    fn trickle_frag_errors() {
        let cases: &[(&str, &[&str], &str)] = &[
            ("", &[], "has no m= section"),
            ("v=0\r\na=ice-ufrag:u\r\n", &[], "has no m= section"),
            (
                "m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\nm=audio 9 X 1\r\na=bundle-only\r\n",
                &[],
                "every m= section of the local SDP (2) is bundle-only or disabled",
            ),
            ("m=video 9 UDP\r\na=mid:0\r\n", &[], "has 3 fields"),
            (
                "m=video 9 P 96\r\na=mid:0\r\na=ice-pwd:p\r\n",
                &[],
                "no a=ice-ufrag",
            ),
            (
                "m=video 9 P 96\r\na=mid:0\r\na=ice-ufrag:u\r\n",
                &[],
                "no a=ice-pwd",
            ),
            (
                "m=video 9 P 96\r\na=ice-ufrag:u\r\na=ice-pwd:p\r\n",
                &[],
                "has no a=mid",
            ),
            (
                "m=video 9 P 96\r\na=mid:0\r\na=ice-ufrag:u\r\na=ice-pwd:p\r\n",
                &["candidate:1 1 udp 1 1.2.3.4 5 typ host\r\na=ice-ufrag:x"],
                "candidate 1 contains a line break",
            ),
        ];
        for (sdp, cands, fragment) in cases {
            let cands: Vec<String> = cands.iter().map(|c| c.to_string()).collect();
            let err = trickle_frag(sdp, &cands, false).unwrap_err();
            assert!(err.contains(fragment), "{sdp:?}: {err}");
        }
    }
}
