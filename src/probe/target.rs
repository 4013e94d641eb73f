//! Which probes an ICE-server URL asks for: host, port, transport and kind (RFC 7064/7065 defaults).
//! Pure.

use std::net::Ipv6Addr;

use super::result::{ProbeKind, ProbeTransport};

/// One probe to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL as given, credentials masked.
    pub url: String,
    /// Host (an IPv6 literal without brackets).
    pub host: String,
    /// Port.
    pub port: u16,
    /// How to reach it.
    pub transport: ProbeTransport,
    /// What to ask.
    pub kind: ProbeKind,
    /// `user:pass@` inside the URL, percent-decoding not applied (the spec's own credentials win).
    pub url_credentials: Option<(String, Option<String>)>,
}

/// The kind a URL's scheme implies, for reporting a URL that does not parse.
pub fn kind_of(url: &str) -> ProbeKind {
    if url.trim().to_ascii_lowercase().starts_with("turn") {
        ProbeKind::TurnAllocate
    } else {
        ProbeKind::StunBinding
    }
}

fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        && !h.starts_with(['.', '-'])
}

/// The probes for `url`: `stun:` → a Binding over UDP, `stuns:` → over TLS; `turn:` → an Allocate
/// over UDP, or TCP with `?transport=tcp`; `turns:` → over TLS. With `all_transports`, `stun:` and
/// `turn:` URLs without `?transport=` are also probed over TCP. Default ports: 3478, 5349 for the
/// secure schemes.
pub fn targets(url: &str, all_transports: bool) -> Result<Vec<Target>, String> {
    let shown = crate::proto::ice_server::mask_url(url.trim());
    let input = url.trim();
    let Some((scheme, rest)) = input.split_once(':') else {
        return Err("not a STUN/TURN URL (no scheme)".into());
    };
    let scheme = scheme.to_ascii_lowercase();
    let (kind, secure) = match scheme.as_str() {
        "stun" => (ProbeKind::StunBinding, false),
        "stuns" => (ProbeKind::StunBinding, true),
        "turn" => (ProbeKind::TurnAllocate, false),
        "turns" => (ProbeKind::TurnAllocate, true),
        _ => {
            return Err(format!(
                "scheme {scheme:?} is not stun:, stuns:, turn: or turns:"
            ));
        }
    };
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (authority, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let authority = authority.strip_suffix('/').unwrap_or(authority);
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    let url_credentials = userinfo.map(|u| match u.split_once(':') {
        Some((user, pass)) => (user.to_owned(), Some(pass.to_owned())),
        None => (u.to_owned(), None),
    });

    let (host, port) = if let Some(inner) = hostport.strip_prefix('[') {
        let Some((h, after)) = inner.split_once(']') else {
            return Err("unclosed '[' in the host".into());
        };
        if h.parse::<Ipv6Addr>().is_err() {
            return Err(format!("{h:?} is not an IPv6 address"));
        }
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(format!("unexpected {after:?} after the address")),
        };
        (h.to_owned(), port)
    } else {
        let (h, p) = match hostport.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        };
        if !valid_host(h) {
            return Err(format!("{h:?} is not a host name or IP address"));
        }
        (h.to_ascii_lowercase(), p)
    };
    let port = match port {
        None => {
            if secure {
                5349
            } else {
                3478
            }
        }
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("port {p:?} is not a number in 1..=65535"))?,
    };

    let mut transport_param = None;
    for kv in query.unwrap_or("").split('&').filter(|kv| !kv.is_empty()) {
        match kv.to_ascii_lowercase().as_str() {
            "transport=udp" => transport_param = Some(ProbeTransport::Udp),
            "transport=tcp" => transport_param = Some(ProbeTransport::Tcp),
            other => {
                return Err(format!(
                    "unsupported query {other:?} (only transport=udp|tcp)"
                ));
            }
        }
    }

    let transports: Vec<ProbeTransport> = match (secure, transport_param) {
        (true, Some(ProbeTransport::Udp)) => {
            return Err(format!(
                "{scheme}:…?transport=udp means DTLS, which this probe does not do"
            ));
        }
        (true, _) => vec![ProbeTransport::Tls],
        (false, Some(t)) => vec![t],
        (false, None) if all_transports => vec![ProbeTransport::Udp, ProbeTransport::Tcp],
        (false, None) => vec![ProbeTransport::Udp],
    };
    Ok(transports
        .into_iter()
        .map(|transport| Target {
            url: shown.clone(),
            host: host.clone(),
            port,
            transport,
            kind,
            url_credentials: url_credentials.clone(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(url: &str) -> (String, u16, ProbeTransport, ProbeKind) {
        let t = targets(url, false).unwrap();
        assert_eq!(t.len(), 1, "{url}");
        let t = &t[0];
        (t.host.clone(), t.port, t.transport, t.kind)
    }

    #[test]
    fn urls_to_probes() {
        use ProbeKind::*;
        use ProbeTransport::*;
        let cases = [
            ("stun:127.0.0.1:3478", ("127.0.0.1", 3478, Udp, StunBinding)),
            ("stun:h", ("h", 3478, Udp, StunBinding)),
            ("stuns:h", ("h", 5349, Tls, StunBinding)),
            ("STUN://H.example:1", ("h.example", 1, Udp, StunBinding)),
            ("turn:h:3478", ("h", 3478, Udp, TurnAllocate)),
            ("turn:h:3478?transport=udp", ("h", 3478, Udp, TurnAllocate)),
            ("turn:h:3478?Transport=TCP", ("h", 3478, Tcp, TurnAllocate)),
            ("turns:h:443?transport=tcp", ("h", 443, Tls, TurnAllocate)),
            ("turns:h", ("h", 5349, Tls, TurnAllocate)),
            ("turn:[::1]:3478", ("::1", 3478, Udp, TurnAllocate)),
            ("turn:u:p@h:9", ("h", 9, Udp, TurnAllocate)),
        ];
        for (url, (h, p, t, k)) in cases {
            assert_eq!(one(url), (h.to_owned(), p, t, k), "{url}");
        }
        let t = targets("turn:u:p@h:9", false).unwrap();
        assert_eq!(t[0].url, "turn:u:***@h:9");
        assert_eq!(
            t[0].url_credentials,
            Some(("u".to_owned(), Some("p".to_owned())))
        );
    }

    #[test]
    fn all_transports_adds_tcp_where_the_url_leaves_it_open() {
        let ts = |u: &str| -> Vec<ProbeTransport> {
            targets(u, true)
                .unwrap()
                .iter()
                .map(|t| t.transport)
                .collect()
        };
        assert_eq!(
            ts("turn:h:1"),
            vec![ProbeTransport::Udp, ProbeTransport::Tcp]
        );
        assert_eq!(
            ts("stun:h:1"),
            vec![ProbeTransport::Udp, ProbeTransport::Tcp]
        );
        assert_eq!(ts("turn:h:1?transport=udp"), vec![ProbeTransport::Udp]);
        assert_eq!(ts("turns:h:1"), vec![ProbeTransport::Tls]);
    }

    #[test]
    fn bad_urls() {
        for (url, want) in [
            ("http://h", "scheme"),
            ("h:1", "scheme"),
            ("stun:", "not a host"),
            ("stun:h:0", "port"),
            ("stun:h:99999", "port"),
            ("stun:[zz]:1", "IPv6"),
            ("stun:[::1", "unclosed"),
            ("turn:h:1?transport=sctp", "unsupported query"),
            ("turns:h:1?transport=udp", "DTLS"),
            ("turn:h!:1", "not a host"),
        ] {
            let e = targets(url, false).unwrap_err();
            assert!(e.contains(want), "{url}: {e}");
        }
        for s in [
            "",
            ":",
            "é:é",
            "turn:@",
            "turn:[",
            "turn:]:",
            "turn:a@b@c:d",
        ] {
            let _ = targets(s, true);
        }
    }
}
