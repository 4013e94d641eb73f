//! ICE candidate attributes (RFC 8839 §5.1): parsing, formatting and priority decoding.
//!
//! The parser is written against what real stacks send (see the signaling fixtures' quirks):
//! transport in any case (`UDP` from GStreamer), opaque foundations (hex, decimal, `1`), extension
//! tokens after `typ` in any order (`raddr`, `rport`, `tcptype`, `generation`, `ufrag`,
//! `network-id`, `network-cost`, and unknown ones), bare IPv6 addresses, mDNS `.local` names and the
//! full 32-bit priority range. Anything else is rejected with a specific [`CandidateError`]; no
//! input makes it panic.

use crate::event::{Candidate, CandidateType};

/// Longest piece of input quoted back in an error message (in characters).
const QUOTE_MAX_CHARS: usize = 48;

/// Why a candidate attribute could not be parsed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CandidateError {
    /// Nothing but whitespace (or a bare `candidate:` prefix).
    #[error("empty candidate")]
    Empty,
    /// A mandatory field is missing (the line ends early).
    #[error("candidate has no {0}")]
    MissingField(&'static str),
    /// The component id is not a number in 1..=256.
    #[error("candidate component {0:?} is not a number in 1..=256")]
    BadComponent(String),
    /// The transport is neither `udp` nor `tcp` (any case).
    #[error("candidate transport {0:?} is not udp or tcp")]
    BadTransport(String),
    /// The priority is not a decimal 32-bit unsigned number.
    #[error("candidate priority {0:?} is not a number in 0..=4294967295")]
    BadPriority(String),
    /// The connection address (or `raddr`) holds characters no IP address or host name has.
    #[error("candidate address {0:?} is not an IP address or host name")]
    BadAddress(String),
    /// The port (or `rport`) is not a decimal number in 0..=65535.
    #[error("candidate port {0:?} is not a number in 0..=65535")]
    BadPort(String),
    /// The token after the port is not the literal `typ`.
    #[error("expected \"typ\" after the port, found {0:?}")]
    ExpectedTyp(String),
    /// The candidate type is not `host`, `srflx`, `prflx` or `relay`.
    #[error("unknown candidate type {0:?} (expected host, srflx, prflx or relay)")]
    UnknownType(String),
    /// The `tcptype` is not `active`, `passive` or `so`.
    #[error("candidate tcptype {0:?} is not active, passive or so")]
    BadTcpType(String),
    /// An extension key after `typ` has no value.
    #[error("candidate extension {0:?} has no value")]
    MissingValue(String),
    /// `raddr`, `rport` or `tcptype` appears twice.
    #[error("candidate has {0:?} twice")]
    Duplicate(String),
}

/// Quote at most [`QUOTE_MAX_CHARS`] characters of `s` (char-boundary safe) for an error message.
fn quote(s: &str) -> String {
    match s.char_indices().nth(QUOTE_MAX_CHARS) {
        Some((idx, _)) => format!("{}…", &s[..idx]),
        None => s.to_owned(),
    }
}

/// Whether every byte of `s` is an ASCII digit (and there is at least one).
fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Parse a decimal number made of digits only (no sign, no spaces).
fn parse_digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    if all_digits(s) { s.parse().ok() } else { None }
}

/// Whether `s` looks like an address: an IPv4/IPv6 literal (bare IPv6, optional `%zone`) or a host
/// name such as an mDNS `<uuid>.local`. Brackets around IPv6 are tolerated.
fn plausible_address(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'%' | b'[' | b']')
        })
}

fn parse_address(s: &str) -> Result<String, CandidateError> {
    if plausible_address(s) {
        Ok(s.to_owned())
    } else {
        Err(CandidateError::BadAddress(quote(s)))
    }
}

fn parse_port(s: &str) -> Result<u16, CandidateError> {
    parse_digits(s).ok_or_else(|| CandidateError::BadPort(quote(s)))
}

/// Parse an ICE candidate attribute: accepts `candidate:…`, `a=candidate:…`, or the bare
/// `<foundation> <component> <transport> <priority> <address> <port> typ <type> […]`.
///
/// Leading/trailing whitespace (including a trailing `\r`) is ignored. The transport is stored in
/// lower case; `raddr`/`rport` are kept exactly as given (`0.0.0.0`/`0` included); `tcptype` must
/// be `active`, `passive` or `so`; other extensions (`generation`, `ufrag`, `network-id`,
/// `network-cost`, unknown keys) are skipped. `url` is always `None`.
pub fn parse_candidate(line: &str) -> Result<Candidate, CandidateError> {
    let mut rest = line.trim();
    if let Some(r) = rest.strip_prefix("a=") {
        rest = r;
    }
    if rest.len() >= "candidate:".len()
        && rest.is_char_boundary("candidate:".len())
        && rest[.."candidate:".len()].eq_ignore_ascii_case("candidate:")
    {
        rest = &rest["candidate:".len()..];
    }
    let mut tokens = rest.split_ascii_whitespace();

    let foundation = tokens.next().ok_or(CandidateError::Empty)?;
    let component = tokens
        .next()
        .ok_or(CandidateError::MissingField("component"))?;
    let component: u16 = parse_digits(component)
        .filter(|c| (1..=256).contains(c))
        .ok_or_else(|| CandidateError::BadComponent(quote(component)))?;
    let transport = tokens
        .next()
        .ok_or(CandidateError::MissingField("transport"))?;
    let protocol = if transport.eq_ignore_ascii_case("udp") {
        "udp"
    } else if transport.eq_ignore_ascii_case("tcp") {
        "tcp"
    } else {
        return Err(CandidateError::BadTransport(quote(transport)));
    };
    let priority = tokens
        .next()
        .ok_or(CandidateError::MissingField("priority"))?;
    let priority: u32 =
        parse_digits(priority).ok_or_else(|| CandidateError::BadPriority(quote(priority)))?;
    let address = parse_address(
        tokens
            .next()
            .ok_or(CandidateError::MissingField("address"))?,
    )?;
    let port = parse_port(tokens.next().ok_or(CandidateError::MissingField("port"))?)?;
    let typ_kw = tokens.next().ok_or(CandidateError::MissingField("typ"))?;
    if typ_kw != "typ" {
        return Err(CandidateError::ExpectedTyp(quote(typ_kw)));
    }
    let typ = tokens
        .next()
        .ok_or(CandidateError::MissingField("candidate type"))?;
    let typ = match typ {
        "host" => CandidateType::Host,
        "srflx" => CandidateType::Srflx,
        "prflx" => CandidateType::Prflx,
        "relay" => CandidateType::Relay,
        other => return Err(CandidateError::UnknownType(quote(other))),
    };

    let mut related_address = None;
    let mut related_port = None;
    let mut tcp_type = None;
    while let Some(key) = tokens.next() {
        let value = tokens
            .next()
            .ok_or_else(|| CandidateError::MissingValue(quote(key)))?;
        match key {
            "raddr" => {
                if related_address.is_some() {
                    return Err(CandidateError::Duplicate("raddr".into()));
                }
                related_address = Some(parse_address(value)?);
            }
            "rport" => {
                if related_port.is_some() {
                    return Err(CandidateError::Duplicate("rport".into()));
                }
                related_port = Some(parse_port(value)?);
            }
            "tcptype" => {
                if tcp_type.is_some() {
                    return Err(CandidateError::Duplicate("tcptype".into()));
                }
                if !matches!(value, "active" | "passive" | "so") {
                    return Err(CandidateError::BadTcpType(quote(value)));
                }
                tcp_type = Some(value.to_owned());
            }
            // generation, ufrag, network-id, network-cost and unknown extensions.
            _ => {}
        }
    }

    Ok(Candidate {
        typ,
        protocol: protocol.to_owned(),
        address,
        port,
        priority,
        foundation: foundation.to_owned(),
        component,
        related_address,
        related_port,
        tcp_type,
        url: None,
        relay_protocol: None,
    })
}

/// A candidate priority split into its parts (RFC 8445 §5.1.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriorityParts {
    /// Type preference (0..=126; 126 for host, 110 prflx, 100 srflx, 0 relay by the RFC's defaults).
    pub type_preference: u8,
    /// Local preference (interface/address ranking).
    pub local_preference: u16,
    /// Component id, `256 - (priority & 0xff)`; a low byte of 0 (component 256) decodes as 0.
    pub component: u8,
}

/// Decode a candidate priority: `type_preference << 24 | local_preference << 8 | (256 - component)`.
pub fn decode_priority(priority: u32) -> PriorityParts {
    PriorityParts {
        type_preference: (priority >> 24) as u8,
        local_preference: ((priority >> 8) & 0xffff) as u16,
        // 256 - 0 = 256 wraps to 0, which is documented above.
        component: (256 - (priority & 0xff)) as u8,
    }
}

/// Format a candidate as an SDP candidate attribute value starting with `candidate:`, with
/// `raddr`, `rport` and `tcptype` when set (in that order). [`parse_candidate`] reads it back.
pub fn format_candidate(c: &Candidate) -> String {
    let mut s = format!(
        "candidate:{} {} {} {} {} {} typ {}",
        c.foundation,
        c.component,
        c.protocol,
        c.priority,
        c.address,
        c.port,
        c.typ.as_str()
    );
    if let Some(a) = &c.related_address {
        s.push_str(" raddr ");
        s.push_str(a);
    }
    if let Some(p) = c.related_port {
        s.push_str(&format!(" rport {p}"));
    }
    if let Some(t) = &c.tcp_type {
        s.push_str(" tcptype ");
        s.push_str(t);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(foundation: &str, proto: &str, prio: u32, addr: &str, port: u16) -> Candidate {
        Candidate {
            typ: CandidateType::Host,
            protocol: proto.into(),
            address: addr.into(),
            port,
            priority: prio,
            foundation: foundation.into(),
            component: 1,
            related_address: None,
            related_port: None,
            tcp_type: None,
            url: None,
            relay_protocol: None,
        }
    }

    #[test]
    fn valid_candidates_from_every_stack() {
        let relay_aiortc = Candidate {
            typ: CandidateType::Relay,
            related_address: Some("127.0.0.1".into()),
            related_port: Some(42339),
            ..host(
                "16893dfba04efb4b632c146cfc811f40",
                "udp",
                16777215,
                "127.0.0.1",
                49842,
            )
        };
        let relay_libwebrtc = Candidate {
            typ: CandidateType::Relay,
            related_address: Some("0.0.0.0".into()),
            related_port: Some(0),
            ..host("213309110", "udp", 41885439, "127.0.0.1", 49353)
        };
        let cases: Vec<(&str, Candidate)> = vec![
            (
                "candidate:16572de626da4e5384a0ce2d0d93678a 1 udp 2130706431 127.0.0.1 39519 typ host",
                host(
                    "16572de626da4e5384a0ce2d0d93678a",
                    "udp",
                    2130706431,
                    "127.0.0.1",
                    39519,
                ),
            ),
            (
                "a=candidate:1 1 UDP 2015363327 10.99.0.1 53109 typ host\r\n",
                host("1", "udp", 2015363327, "10.99.0.1", 53109),
            ),
            (
                "candidate:2 1 TCP 1015021823 10.99.0.1 9 typ host tcptype active",
                Candidate {
                    tcp_type: Some("active".into()),
                    ..host("2", "tcp", 1015021823, "10.99.0.1", 9)
                },
            ),
            (
                "candidate:559267639 1 udp 2122202367 ::1 38758 typ host generation 0 ufrag ch2d network-id 2",
                host("559267639", "udp", 2122202367, "::1", 38758),
            ),
            (
                "candidate:1876313031 1 tcp 1518222591 ::1 44113 typ host tcptype passive generation 0 network-id 2",
                Candidate {
                    tcp_type: Some("passive".into()),
                    ..host("1876313031", "tcp", 1518222591, "::1", 44113)
                },
            ),
            (
                "candidate:16893dfba04efb4b632c146cfc811f40 1 udp 16777215 127.0.0.1 49842 typ relay raddr 127.0.0.1 rport 42339",
                relay_aiortc,
            ),
            (
                "candidate:213309110 1 udp 41885439 127.0.0.1 49353 typ relay raddr 0.0.0.0 rport 0 generation 0 ufrag zeLj network-id 3 network-cost 50",
                relay_libwebrtc,
            ),
            (
                "626da4e5384a0ce2d0d93678a 1 udp 2116026367 127.0.0.1 42300 typ host generation 0 ufrag 95b6",
                host(
                    "626da4e5384a0ce2d0d93678a",
                    "udp",
                    2116026367,
                    "127.0.0.1",
                    42300,
                ),
            ),
            (
                "candidate:842163049 1 udp 1677729535 203.0.113.7 61234 typ srflx rport 50000 raddr 192.168.1.2 network-cost 999 future-ext x",
                Candidate {
                    typ: CandidateType::Srflx,
                    related_address: Some("192.168.1.2".into()),
                    related_port: Some(50000),
                    ..host("842163049", "udp", 1677729535, "203.0.113.7", 61234)
                },
            ),
            (
                "candidate:3 1 udp 2113937151 0f7b8a2e-4c1d-4a8e-9b1c-1234567890ab.local 54321 typ host",
                host(
                    "3",
                    "udp",
                    2113937151,
                    "0f7b8a2e-4c1d-4a8e-9b1c-1234567890ab.local",
                    54321,
                ),
            ),
            (
                "  candidate:x 2 udp 4294967295 fe80::1%eth0 1 typ prflx  ",
                Candidate {
                    typ: CandidateType::Prflx,
                    component: 2,
                    ..host("x", "udp", u32::MAX, "fe80::1%eth0", 1)
                },
            ),
        ];
        for (line, want) in cases {
            let got = parse_candidate(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(got, want, "{line}");
            // Formatting and re-parsing gives the same candidate.
            let again = parse_candidate(&format_candidate(&got)).unwrap();
            assert_eq!(again, got, "{line}");
        }
    }

    #[test]
    fn malformed_candidates_are_rejected_specifically() {
        use CandidateError::*;
        let long = "9".repeat(5000);
        let cases: Vec<(String, CandidateError)> = vec![
            ("".into(), Empty),
            ("   \r\n".into(), Empty),
            ("candidate:".into(), Empty),
            ("a=candidate:".into(), Empty),
            ("candidate:1".into(), MissingField("component")),
            (
                "candidate:1 x udp 1 1.2.3.4 5 typ host".into(),
                BadComponent("x".into()),
            ),
            (
                "candidate:1 0 udp 1 1.2.3.4 5 typ host".into(),
                BadComponent("0".into()),
            ),
            (
                "candidate:1 257 udp 1 1.2.3.4 5 typ host".into(),
                BadComponent("257".into()),
            ),
            (
                "candidate:1 -1 udp 1 1.2.3.4 5 typ host".into(),
                BadComponent("-1".into()),
            ),
            ("candidate:1 1".into(), MissingField("transport")),
            (
                "candidate:1 1 sctp 1 1.2.3.4 5 typ host".into(),
                BadTransport("sctp".into()),
            ),
            ("candidate:1 1 udp".into(), MissingField("priority")),
            (
                "candidate:1 1 udp high 1.2.3.4 5 typ host".into(),
                BadPriority("high".into()),
            ),
            (
                "candidate:1 1 udp +5 1.2.3.4 5 typ host".into(),
                BadPriority("+5".into()),
            ),
            (
                "candidate:1 1 udp 4294967296 1.2.3.4 5 typ host".into(),
                BadPriority("4294967296".into()),
            ),
            ("candidate:1 1 udp 1".into(), MissingField("address")),
            (
                "candidate:1 1 udp 1 1.2.3.4/24 5 typ host".into(),
                BadAddress("1.2.3.4/24".into()),
            ),
            ("candidate:1 1 udp 1 1.2.3.4".into(), MissingField("port")),
            (
                "candidate:1 1 udp 1 1.2.3.4 65536 typ host".into(),
                BadPort("65536".into()),
            ),
            (
                "candidate:1 1 udp 1 1.2.3.4 port typ host".into(),
                BadPort("port".into()),
            ),
            ("candidate:1 1 udp 1 1.2.3.4 5".into(), MissingField("typ")),
            (
                "candidate:1 1 udp 1 1.2.3.4 5 host".into(),
                ExpectedTyp("host".into()),
            ),
            (
                "candidate:1 1 udp 1 1.2.3.4 5 typ".into(),
                MissingField("candidate type"),
            ),
            (
                "candidate:1 1 udp 1 1.2.3.4 5 typ turn".into(),
                UnknownType("turn".into()),
            ),
            (
                "candidate:1 1 udp 1 1.2.3.4 5 typ HOST".into(),
                UnknownType("HOST".into()),
            ),
            (
                "candidate:1 1 udp 1 1.2.3.4 5 typ relay raddr".into(),
                MissingValue("raddr".into()),
            ),
            (
                "candidate:1 1 udp 1 1.2.3.4 5 typ relay raddr 1.1.1.1 rport x".into(),
                BadPort("x".into()),
            ),
            (
                "candidate:1 1 udp 1 1.2.3.4 5 typ relay raddr 1.1.1.1 raddr 2.2.2.2".into(),
                Duplicate("raddr".into()),
            ),
            (
                "candidate:1 1 tcp 1 1.2.3.4 5 typ host tcptype sideways".into(),
                BadTcpType("sideways".into()),
            ),
            (
                "candidate:1 1 udp 1 1.2.3.4 5 typ host generation".into(),
                MissingValue("generation".into()),
            ),
            (
                "candidate:1 1 udp 1 héllo 5 typ host".into(),
                BadAddress("héllo".into()),
            ),
            (
                format!("candidate:1 1 udp {long} 1.2.3.4 5 typ host"),
                BadPriority(format!("{}…", "9".repeat(QUOTE_MAX_CHARS))),
            ),
        ];
        for (line, want) in cases {
            let got = parse_candidate(&line);
            assert_eq!(got, Err(want), "{line:?}");
            // Every error renders to a readable one-liner.
            let msg = got.unwrap_err().to_string();
            assert!(!msg.is_empty() && !msg.contains('\n'), "{msg}");
        }
    }

    #[test]
    fn error_messages_read_well() {
        assert_eq!(
            parse_candidate("candidate:1 1 udp 1 1.2.3.4 5 typ turn")
                .unwrap_err()
                .to_string(),
            r#"unknown candidate type "turn" (expected host, srflx, prflx or relay)"#
        );
        assert_eq!(
            parse_candidate("candidate:1 1 udp 1 1.2.3.4 5")
                .unwrap_err()
                .to_string(),
            "candidate has no typ"
        );
    }

    #[test]
    fn non_ascii_and_huge_inputs_do_not_panic() {
        for s in [
            "ç",
            "candidaté:1 1 udp 1 1.2.3.4 5 typ host",
            "a=candidate:€ 1 udp 1 1.2.3.4 5 typ host",
            "candidat",
            "\u{0}\u{1}",
            "candidate:\u{a0}1 1 udp 1 1.2.3.4 5 typ host",
        ] {
            let _ = parse_candidate(s);
        }
        let huge = "candidate:1 1 udp 1 1.2.3.4 5 typ host ".to_owned() + &"k v ".repeat(100_000);
        assert!(parse_candidate(&huge).is_ok());
        let huge_bad = "€".repeat(100_000);
        let err = parse_candidate(&huge_bad).unwrap_err();
        assert!(err.to_string().len() < 300, "{err}");
    }

    #[test]
    fn priority_decoding() {
        let cases = [
            (2130706431u32, 126u8, 65535u16, 1u8),
            (2122260223, 126, 32542, 1),
            (2015363327, 120, 8192, 1),
            (1518280447, 90, 32542, 1),
            (16777215, 0, 65535, 1),
            (41885439, 2, 32542, 1),
            (2130706430, 126, 65535, 2),
            (0, 0, 0, 0),
            (u32::MAX, 255, 65535, 1),
        ];
        for (p, t, l, c) in cases {
            assert_eq!(
                decode_priority(p),
                PriorityParts {
                    type_preference: t,
                    local_preference: l,
                    component: c
                },
                "{p}"
            );
        }
    }

    #[test]
    fn format_writes_extensions_in_order() {
        let c = Candidate {
            typ: CandidateType::Relay,
            related_address: Some("0.0.0.0".into()),
            related_port: Some(0),
            tcp_type: Some("passive".into()),
            ..host("7", "tcp", 5, "::1", 9)
        };
        assert_eq!(
            format_candidate(&c),
            "candidate:7 1 tcp 5 ::1 9 typ relay raddr 0.0.0.0 rport 0 tcptype passive"
        );
    }
}
