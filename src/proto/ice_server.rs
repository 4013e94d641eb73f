//! ICE server URLs (RFC 7064 `stun:`/`stuns:`, RFC 7065 `turn:`/`turns:`) given on the command line
//! or sent by a server: parsing, what webrtc-rs 0.21.1 can use, and masking for display.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::event::{IceServerInfo, IceServerSource};

/// One ICE server entry as the peer connection will use it.
#[derive(Debug, Clone, PartialEq)]
pub struct IceServerSpec {
    /// URLs without credentials, in the form webrtc-rs parses (`turn:host:port[?transport=…]`).
    pub urls: Vec<String>,
    /// TURN username.
    pub username: Option<String>,
    /// TURN credential (password).
    pub credential: Option<String>,
    /// Where the entry came from.
    pub source: IceServerSource,
}

/// Examples quoted in error messages.
const EXAMPLES: &str = "examples: stun:host:3478, turn:host:3478, turn:user:pass@host:3478, \
     turn:host:3478?transport=udp";

/// Longest piece of input quoted back in an error message (in characters).
const QUOTE_MAX_CHARS: usize = 60;

/// `s` as a quoted string, cut to [`QUOTE_MAX_CHARS`] characters.
fn quote(s: &str) -> String {
    match s.char_indices().nth(QUOTE_MAX_CHARS) {
        Some((idx, _)) => format!("{:?}", format!("{}…", &s[..idx])),
        None => format!("{s:?}"),
    }
}

/// Decode `%XX` escapes; the result must be UTF-8. `what` names the field for the error.
fn percent_decode(s: &str, what: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(b) => {
                    out.push(b);
                    i += 3;
                }
                None => {
                    return Err(format!(
                        "bad percent-encoding in the {what} (write a literal % as %25)"
                    ));
                }
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("the {what} is not UTF-8 after percent-decoding"))
}

/// Whether `s` is a plausible DNS name or IPv4 literal.
fn valid_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        && !s.starts_with(['.', '-'])
}

fn parse_port(s: &str, shown: &str) -> Result<u16, String> {
    let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits
        .then(|| s.parse::<u16>().ok())
        .flatten()
        .filter(|p| *p != 0)
        .ok_or_else(|| {
            format!(
                "port {} in {} is not a number in 1..=65535",
                quote(s),
                shown
            )
        })
}

/// Host (IPv6 without brackets) and optional port of `host[:port]` or `[v6][:port]`.
fn split_host_port<'a>(hp: &'a str, shown: &str) -> Result<(&'a str, Option<&'a str>), String> {
    if let Some(inner) = hp.strip_prefix('[') {
        let Some(end) = inner.find(']') else {
            return Err(format!("unclosed '[' in {}", shown));
        };
        let host = &inner[..end];
        if host.parse::<Ipv6Addr>().is_err() {
            return Err(format!(
                "{} in {} is not an IPv6 address",
                quote(host),
                shown
            ));
        }
        let after = &inner[end + 1..];
        return match after.strip_prefix(':') {
            Some(port) => Ok((host, Some(port))),
            None if after.is_empty() => Ok((host, None)),
            None => Err(format!(
                "unexpected {} after the address in {}",
                quote(after),
                shown
            )),
        };
    }
    if hp.parse::<Ipv6Addr>().is_ok() {
        return Err(format!(
            "IPv6 address in {} must be in brackets, e.g. turn:[::1]:3478",
            shown
        ));
    }
    let (host, port) = match hp.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (hp, None),
    };
    if host.is_empty() {
        return Err(format!("{} has no host ({EXAMPLES})", shown));
    }
    if !valid_host_name(host) && host.parse::<Ipv4Addr>().is_err() {
        return Err(format!(
            "host {} in {} is not a host name or IP address",
            quote(host),
            shown
        ));
    }
    Ok((host, port))
}

/// Parse an ICE server URL given on the command line (`--ice-server`).
///
/// Accepted: `stun:host[:port]`, `stuns:host[:port]`, `turn:host:port[?transport=udp|tcp]`,
/// `turns:host:port[?transport=…]`, IPv6 hosts in brackets, and credentials inside the URL as
/// `turn:user:pass@host:port` (percent-decoded, so a password may contain `%40` for `@`; the last
/// `@` separates the host, so an unencoded `@` in the password works too) or in MediaMTX's
/// `webrtcICEServers` form `turn:user:pass:host:port`. A `//` after the scheme is tolerated and
/// removed.
///
/// The returned URL is normalised to what webrtc-rs parses: no credentials, explicit port, and the
/// query kept. The port may be omitted for `stun:` (default 3478) and `stuns:` (default 5349, RFC
/// 7064); it is required for `turn:`/`turns:`. For `turn:`/`turns:` the defaults fill a username or
/// credential the URL lacks, and both must then be non-empty (webrtc-rs rejects TURN without
/// credentials). `stun:` URLs take no credentials and no query; the defaults are not applied to them.
pub fn parse_cli_ice_server(
    s: &str,
    default_username: Option<&str>,
    default_credential: Option<&str>,
) -> Result<IceServerSpec, String> {
    let input = s.trim();
    if input.is_empty() {
        return Err(format!("empty ICE server URL ({EXAMPLES})"));
    }
    // Errors quote the input with its password masked.
    let shown = quote(&mask_url(input));
    let Some((scheme, rest)) = input.split_once(':') else {
        return Err(format!("{} has no scheme ({EXAMPLES})", shown));
    };
    let scheme = scheme.to_ascii_lowercase();
    let is_turn = match scheme.as_str() {
        "stun" | "stuns" => false,
        "turn" | "turns" => true,
        _ => {
            return Err(format!(
                "unsupported scheme {} in {}: use stun:, stuns:, turn: or turns: ({EXAMPLES})",
                quote(&format!("{scheme}:")),
                shown
            ));
        }
    };
    let rest = rest.strip_prefix("//").unwrap_or(rest);

    let (userinfo, after) = match rest.rfind('@') {
        Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
        None => (None, rest),
    };
    let (hostport, query) = match after.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (after, None),
    };
    let hostport = hostport.strip_suffix('/').unwrap_or(hostport);
    if hostport.contains(['/', '#']) {
        return Err(format!(
            "{} has a path; ICE server URLs are scheme:host:port ({EXAMPLES})",
            shown
        ));
    }

    // MediaMTX's config form turn:user:pass:host:port (no '@'; the password may hold ':').
    let mut legacy_userinfo: Option<(String, String)> = None;
    let mut hostport = hostport;
    if userinfo.is_none()
        && !hostport.starts_with('[')
        && hostport.matches(':').count() >= 3
        && hostport.parse::<Ipv6Addr>().is_err()
    {
        let parts: Vec<&str> = hostport.split(':').collect();
        let n = parts.len();
        let user = parts[0];
        let pass = parts[1..n - 2].join(":");
        legacy_userinfo = Some((user.to_owned(), pass));
        // host:port: the last two fields.
        let cut = hostport.len() - parts[n - 2].len() - parts[n - 1].len() - 1;
        hostport = &hostport[cut..];
    }

    let (host, port) = split_host_port(hostport, &shown)?;
    let port = match port {
        Some(p) => parse_port(p, &shown)?,
        None if scheme == "stun" => 3478,
        None if scheme == "stuns" => 5349,
        None => {
            return Err(format!(
                "{} has no port; {scheme}: URLs need one, e.g. {scheme}:{host}:3478",
                shown
            ));
        }
    };

    let query = match query {
        None | Some("") => String::new(),
        Some(q) if !is_turn => {
            return Err(format!(
                "{} has a query {}; {scheme}: URLs take none",
                shown,
                quote(q)
            ));
        }
        Some(q) => match q.to_ascii_lowercase().as_str() {
            "transport=udp" => "?transport=udp".to_owned(),
            "transport=tcp" => "?transport=tcp".to_owned(),
            _ => {
                return Err(format!(
                    "unsupported query {} in {}: only ?transport=udp or ?transport=tcp",
                    quote(q),
                    shown
                ));
            }
        },
    };

    let (mut username, mut credential) = (None, None);
    if let Some(ui) = userinfo {
        if !is_turn {
            return Err(format!(
                "{} has credentials; {scheme}: URLs take none",
                shown
            ));
        }
        let (u, p) = match ui.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (ui, None),
        };
        username = Some(percent_decode(u, "username")?);
        credential = p.map(|p| percent_decode(p, "password")).transpose()?;
    } else if let Some((u, p)) = legacy_userinfo {
        username = Some(u);
        credential = Some(p);
    }
    let username = username.filter(|u| !u.is_empty());
    let credential = credential.filter(|c| !c.is_empty());

    let (username, credential) = if is_turn {
        let username = username.or_else(|| default_username.map(str::to_owned));
        let credential = credential.or_else(|| default_credential.map(str::to_owned));
        match (&username, &credential) {
            (Some(u), Some(c)) if !u.is_empty() && !c.is_empty() => {}
            _ => {
                let missing = match (
                    username.as_deref().is_some_and(|u| !u.is_empty()),
                    credential.as_deref().is_some_and(|c| !c.is_empty()),
                ) {
                    (false, false) => "a username and a credential",
                    (false, true) => "a username",
                    _ => "a credential",
                };
                return Err(format!(
                    "{} needs {missing}: write {scheme}:user:pass@{hostport} or give \
                     --ice-username/--ice-credential",
                    shown
                ));
            }
        }
        (username, credential)
    } else {
        (None, None)
    };

    let host_fmt = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_ascii_lowercase()
    };
    Ok(IceServerSpec {
        urls: vec![format!("{scheme}:{host_fmt}:{port}{query}")],
        username,
        credential,
        source: IceServerSource::CommandLine,
    })
}

/// Why the viewer cannot use `url`, or `None` when it can.
///
/// Usable: `stun:`, `turn:` over UDP, and TURN over TCP (`?transport=tcp`) and TLS (`turns:`), the last
/// two through the adapter's local bridge (webrtc-rs 0.21.1 itself skips them). Unusable: `stuns:`
/// (STUN over TLS) and `turns:…?transport=udp` (TURN over DTLS), which the stack skips with only a log
/// line; a scheme that is not STUN/TURN; a `//` after the scheme (webrtc-rs rejects such URLs).
pub fn unsupported_reason(url: &str) -> Option<String> {
    let url = url.trim();
    let (scheme, rest) = url.split_once(':').unwrap_or((url, ""));
    let scheme = scheme.to_ascii_lowercase();
    if !matches!(scheme.as_str(), "stun" | "stuns" | "turn" | "turns") {
        return Some(format!(
            "not a STUN or TURN URL (scheme {}); webrtc-rs needs stun: or turn:",
            quote(&scheme)
        ));
    }
    if rest.starts_with("//") {
        return Some(format!(
            "webrtc-rs 0.21.1 rejects \"//\" after the scheme; write {scheme}:host:port"
        ));
    }
    let query = rest.split_once('?').map(|(_, q)| q.to_ascii_lowercase());
    let udp = query.is_some_and(|q| q.split('&').any(|kv| kv == "transport=udp"));
    match scheme.as_str() {
        "stuns" => Some(
            "STUN over TLS (stuns:) is not supported by webrtc-rs 0.21.1; use stun:".to_owned(),
        ),
        "turns" if udp => Some(
            "TURN over DTLS (turns: with ?transport=udp) is not supported; use turns: (TLS over \
             TCP) or turn:"
                .to_owned(),
        ),
        _ => None,
    }
}

/// Why the built-in sender (`rtcscope serve`), which has no TURN bridge, cannot use `url`, or `None`
/// when it can: what [`unsupported_reason`] says, plus TURN over TCP and TLS, which webrtc-rs 0.21.1
/// skips (upstream webrtc#848).
pub fn sender_unsupported_reason(url: &str) -> Option<String> {
    if let Some(r) = unsupported_reason(url) {
        return Some(r);
    }
    let url = url.trim();
    let (scheme, rest) = url.split_once(':').unwrap_or((url, ""));
    let tcp = rest.split_once('?').is_some_and(|(_, q)| {
        q.to_ascii_lowercase()
            .split('&')
            .any(|kv| kv == "transport=tcp")
    });
    match scheme.to_ascii_lowercase().as_str() {
        "turns" => Some("TURN over TLS (turns:) is not used by the sender; use turn:".to_owned()),
        "turn" if tcp => Some(
            "TURN over TCP (?transport=tcp) is not used by the sender; use turn: over UDP"
                .to_owned(),
        ),
        _ => None,
    }
}

/// Split a TURN-REST username into (expiry, user, expiry_first) if it has that form: a numeric part
/// of 9 to 12 digits (a unix time) before the first `:` or after the last `:`.
fn split_turn_rest(username: &str) -> Option<(u64, &str, bool)> {
    let is_expiry = |s: &str| (9..=12).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if let Some((e, u)) = username.split_once(':')
        && is_expiry(e)
    {
        return e.parse().ok().map(|e| (e, u, true));
    }
    let (u, e) = username.rsplit_once(':')?;
    if is_expiry(e) {
        e.parse().ok().map(|e| (e, u, false))
    } else {
        None
    }
}

/// Mask a plain username: the first character and `***`; empty stays empty.
fn mask_plain(s: &str) -> String {
    match s.chars().next() {
        Some(c) => format!("{c}***"),
        None => String::new(),
    }
}

/// Mask a username for display.
///
/// TURN-REST usernames keep their expiry: `1700000000:alice` → `1700000000:a***`,
/// `alice:1700000000` → `a***:1700000000`. Anything else becomes its first character and `***`
/// (`alice` → `a***`). An empty username stays empty.
pub fn mask_username(username: &str) -> String {
    match split_turn_rest(username) {
        Some((_, user, true)) => {
            let expiry = &username[..username.len() - user.len() - 1];
            format!("{expiry}:{}", mask_plain(user))
        }
        Some((_, user, false)) => {
            let expiry = &username[user.len() + 1..];
            format!("{}:{expiry}", mask_plain(user))
        }
        None => mask_plain(username),
    }
}

/// The TURN-REST expiry (unix seconds) of a username `expiry:user` or `user:expiry`, where the
/// numeric part has 9 to 12 digits; `None` when the username does not have that form.
pub fn turn_rest_expiry(username: &str) -> Option<u64> {
    split_turn_rest(username).map(|(e, _, _)| e)
}

/// The masked display form of an entry for the event stream.
pub fn to_info(spec: &IceServerSpec) -> IceServerInfo {
    IceServerInfo {
        urls: spec.urls.clone(),
        username: spec.username.as_deref().map(mask_username),
        has_credential: spec.credential.as_deref().is_some_and(|c| !c.is_empty()),
        source: spec.source,
    }
}

/// Mask the password of MediaMTX's `turn:user:pass:host:port` form (no `@`, at least four fields,
/// not an IPv6 literal); other URLs are returned unchanged.
fn mask_legacy_turn(url: &str, auth_start: usize) -> String {
    let scheme = url[..auth_start].trim_end_matches([':', '/']);
    let rest = &url[auth_start..];
    let hostport = rest.split(['?', '/']).next().unwrap_or(rest);
    let is_turn = scheme.eq_ignore_ascii_case("turn") || scheme.eq_ignore_ascii_case("turns");
    if !is_turn
        || hostport.starts_with('[')
        || hostport.matches(':').count() < 3
        || hostport.parse::<Ipv6Addr>().is_ok()
    {
        return url.to_owned();
    }
    let Some((user, _)) = rest.split_once(':') else {
        return url.to_owned();
    };
    // The host and port are the last two fields of the authority.
    let mut fields = hostport.rsplitn(3, ':');
    let (Some(port), Some(host)) = (fields.next(), fields.next()) else {
        return url.to_owned();
    };
    let tail_start = hostport.len() - port.len() - 1 - host.len();
    format!("{}{user}:***:{}", &url[..auth_start], &rest[tail_start..])
}

/// Mask the password in a URL's userinfo for display: `ws://u:secret@h/` → `ws://u:***@h/`,
/// `turn:u:p@h:3478` → `turn:u:***@h:3478`, and MediaMTX's `turn:u:p:h:3478` → `turn:u:***:h:3478`.
/// URLs without a password are returned unchanged.
pub fn mask_url(url: &str) -> String {
    let auth_start = match url.find("://") {
        Some(i) => i + 3,
        None => match url.find(':') {
            Some(i) => i + 1,
            None => return url.to_owned(),
        },
    };
    let after_scheme = &url[auth_start..];
    // Userinfo ends at the last '@' before the path/query/fragment.
    let auth_end = after_scheme
        .find(['/', '?', '#'])
        .unwrap_or(after_scheme.len());
    let authority = &after_scheme[..auth_end];
    let Some(at) = authority.rfind('@') else {
        return mask_legacy_turn(url, auth_start);
    };
    let userinfo = &authority[..at];
    let Some((user, pass)) = userinfo.split_once(':') else {
        return url.to_owned();
    };
    if pass.is_empty() {
        return url.to_owned();
    }
    format!(
        "{}{user}:***{}",
        &url[..auth_start],
        &url[auth_start + at..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(url: &str, user: Option<&str>, cred: Option<&str>) -> IceServerSpec {
        IceServerSpec {
            urls: vec![url.to_owned()],
            username: user.map(Into::into),
            credential: cred.map(Into::into),
            source: IceServerSource::CommandLine,
        }
    }

    #[test]
    fn valid_cli_urls() {
        let cases: Vec<(&str, Option<&str>, Option<&str>, IceServerSpec)> = vec![
            (
                "stun:stun.l.google.com:19302",
                None,
                None,
                spec("stun:stun.l.google.com:19302", None, None),
            ),
            (
                "stun:127.0.0.1",
                None,
                None,
                spec("stun:127.0.0.1:3478", None, None),
            ),
            (
                "STUN:Example.COM:3478",
                None,
                None,
                spec("stun:example.com:3478", None, None),
            ),
            ("stuns:h", None, None, spec("stuns:h:5349", None, None)),
            (
                "stun://h:19302",
                None,
                None,
                spec("stun:h:19302", None, None),
            ),
            (
                "stun:[::1]:3478",
                None,
                None,
                spec("stun:[::1]:3478", None, None),
            ),
            (
                "stun:[2001:db8::1]",
                None,
                None,
                spec("stun:[2001:db8::1]:3478", None, None),
            ),
            // Defaults are not applied to stun.
            (
                "stun:h:1",
                Some("u"),
                Some("p"),
                spec("stun:h:1", None, None),
            ),
            (
                "turn:user:pass@127.0.0.1:3478",
                None,
                None,
                spec("turn:127.0.0.1:3478", Some("user"), Some("pass")),
            ),
            (
                "turn:127.0.0.1:3478",
                Some("test"),
                Some("secret"),
                spec("turn:127.0.0.1:3478", Some("test"), Some("secret")),
            ),
            (
                "turn:u:p@h:3478",
                Some("du"),
                Some("dp"),
                spec("turn:h:3478", Some("u"), Some("p")),
            ),
            (
                "turn:u@h:3478",
                Some("du"),
                Some("dp"),
                spec("turn:h:3478", Some("u"), Some("dp")),
            ),
            (
                "turn:u%40corp:p%40ss%3Aw%25rd@h:3478",
                None,
                None,
                spec("turn:h:3478", Some("u@corp"), Some("p@ss:w%rd")),
            ),
            (
                "turn:u:p@ss@h:3478",
                None,
                None,
                spec("turn:h:3478", Some("u"), Some("p@ss")),
            ),
            (
                "turn:u:a:b:c@h:3478",
                None,
                None,
                spec("turn:h:3478", Some("u"), Some("a:b:c")),
            ),
            (
                "turn:u:p@h:3478?transport=udp",
                None,
                None,
                spec("turn:h:3478?transport=udp", Some("u"), Some("p")),
            ),
            (
                "turn:u:p@h:3478?Transport=TCP",
                None,
                None,
                spec("turn:h:3478?transport=tcp", Some("u"), Some("p")),
            ),
            (
                "turns:u:p@turn.example.com:443?transport=tcp",
                None,
                None,
                spec(
                    "turns:turn.example.com:443?transport=tcp",
                    Some("u"),
                    Some("p"),
                ),
            ),
            (
                "turn:u:p@[::1]:3478",
                None,
                None,
                spec("turn:[::1]:3478", Some("u"), Some("p")),
            ),
            // MediaMTX webrtcICEServers form.
            (
                "turn:user:pass:127.0.0.1:3478",
                None,
                None,
                spec("turn:127.0.0.1:3478", Some("user"), Some("pass")),
            ),
            (
                "turn:AUTH_SECRET:s3:cr3t:h:3478",
                None,
                None,
                spec("turn:h:3478", Some("AUTH_SECRET"), Some("s3:cr3t")),
            ),
            (
                "  turn:u:p@h:3478/  ",
                None,
                None,
                spec("turn:h:3478", Some("u"), Some("p")),
            ),
        ];
        for (input, du, dc, want) in cases {
            assert_eq!(parse_cli_ice_server(input, du, dc), Ok(want), "{input}");
        }
    }

    #[test]
    fn invalid_cli_urls() {
        let cases: Vec<(&str, Option<&str>, Option<&str>, &str)> = vec![
            ("", None, None, "empty ICE server URL"),
            ("stun.l.google.com", None, None, "has no scheme"),
            ("http://h:3478", None, None, "unsupported scheme \"http:\""),
            (
                "turn:h",
                Some("u"),
                Some("p"),
                "has no port; turn: URLs need one, e.g. turn:h:3478",
            ),
            ("turns:u:p@h", None, None, "has no port"),
            (
                "stun:h:0",
                None,
                None,
                "port \"0\" in \"stun:h:0\" is not a number in 1..=65535",
            ),
            ("stun:h:70000", None, None, "port \"70000\""),
            ("stun:h:abc", None, None, "port \"abc\""),
            ("stun:h:", None, None, "port \"\""),
            ("stun::3478", None, None, "has no host"),
            ("stun:", None, None, "has no host"),
            ("stun:h_st!:1", None, None, "host \"h_st!\""),
            ("stun:hé:1", None, None, "is not a host name"),
            ("stun:::1", None, None, "must be in brackets"),
            ("stun:[::1", None, None, "unclosed '['"),
            (
                "stun:[zz]:1",
                None,
                None,
                "\"zz\" in \"stun:[zz]:1\" is not an IPv6 address",
            ),
            ("stun:[::1]x", None, None, "unexpected \"x\""),
            ("stun:h:1?transport=udp", None, None, "stun: URLs take none"),
            (
                "stun:u:p@h:1",
                None,
                None,
                "has credentials; stun: URLs take none",
            ),
            (
                "turn:h:1?transport=sctp",
                Some("u"),
                Some("p"),
                "unsupported query \"transport=sctp\"",
            ),
            ("turn:h:1/path", Some("u"), Some("p"), "has a path"),
            (
                "turn:h:3478",
                None,
                None,
                "needs a username and a credential: write turn:user:pass@h:3478 or give --ice-username/--ice-credential",
            ),
            ("turn:h:3478", Some("u"), None, "needs a credential"),
            ("turn:h:3478", None, Some("p"), "needs a username"),
            ("turn:u@h:3478", None, None, "needs a credential"),
            ("turn:u:@h:3478", None, None, "needs a credential"),
            (
                "turn:h:3478",
                Some(""),
                Some(""),
                "needs a username and a credential",
            ),
            (
                "turn:u:p%zz@h:1",
                None,
                None,
                "bad percent-encoding in the password (write a literal % as %25)",
            ),
            (
                "turn:u:p%@h:1",
                None,
                None,
                "bad percent-encoding in the password",
            ),
            ("turn:u:%ff@h:1", None, None, "the password is not UTF-8"),
        ];
        for (input, du, dc, want) in cases {
            let err = parse_cli_ice_server(input, du, dc).expect_err(input);
            assert!(err.contains(want), "{input}: got {err:?}, want {want:?}");
            assert!(!err.contains("p%40"), "{err}");
        }
    }

    #[test]
    fn errors_never_echo_a_decoded_password_beyond_the_input() {
        // The input is quoted (the user typed it), but only up to QUOTE_MAX_CHARS.
        let long = format!("turn:u:{}@h", "x".repeat(500));
        let err = parse_cli_ice_server(&long, None, None).unwrap_err();
        assert!(err.len() < 300, "{err}");
    }

    #[test]
    fn errors_mask_the_password() {
        for input in [
            "turn:u:secret@h",
            "turn:u:secret@h:1?transport=x",
            "turn:u:secret@h!:1",
            "turn:u:secret:h:0",
            "turns:u:secret@h:99999/x",
        ] {
            let err = parse_cli_ice_server(input, None, None).unwrap_err();
            assert!(!err.contains("secret"), "{err}");
            assert!(err.contains("***"), "{err}");
        }
    }

    #[test]
    fn no_panic_on_odd_input() {
        for s in [
            "é:é",
            "turn:@",
            "turn:@@",
            "turn:[",
            "turn:]:1",
            "turn:u:p@[",
            "turn::::",
            "stun:?",
            "turn:%",
            "stun:h:99999999999999999999",
            "turn:a:b:c:d:e:f:g@",
            "turn:é:é:é:é",
        ] {
            let _ = parse_cli_ice_server(s, Some("u"), Some("p"));
            let _ = unsupported_reason(s);
            let _ = mask_url(s);
            let _ = mask_username(s);
        }
    }

    #[test]
    fn unsupported_urls() {
        let cases = [
            ("stun:h:3478", None),
            ("turn:h:3478", None),
            ("turn:h:3478?transport=udp", None),
            ("turns:h:5349", None),
            ("TURNS:h:443?transport=tcp", None),
            ("turn:h:3478?transport=tcp", None),
            ("turn:h:3478?TRANSPORT=TCP", None),
            ("turns:h:443?transport=udp", Some("TURN over DTLS")),
            ("stuns:h:5349", Some("STUN over TLS (stuns:)")),
            ("stun://h:3478", Some("rejects \"//\"")),
            ("http://h", Some("not a STUN or TURN URL")),
        ];
        for (url, want) in cases {
            let got = unsupported_reason(url);
            match want {
                None => assert_eq!(got, None, "{url}"),
                Some(w) => {
                    let got = got.unwrap_or_default();
                    assert!(got.contains(w), "{url}: {got}");
                }
            }
        }
    }

    #[test]
    fn the_sender_uses_turn_over_udp_only() {
        let cases = [
            ("stun:h:3478", None),
            ("turn:h:3478", None),
            ("turn:h:3478?transport=udp", None),
            ("turns:h:5349", Some("TURN over TLS (turns:)")),
            ("TURNS:h:443?transport=tcp", Some("TURN over TLS (turns:)")),
            ("turn:h:3478?TRANSPORT=TCP", Some("TURN over TCP")),
            ("turns:h:443?transport=udp", Some("TURN over DTLS")),
            ("stuns:h:5349", Some("STUN over TLS")),
        ];
        for (url, want) in cases {
            let got = sender_unsupported_reason(url);
            match want {
                None => assert_eq!(got, None, "{url}"),
                Some(w) => assert!(got.as_deref().unwrap_or("").contains(w), "{url}: {got:?}"),
            }
        }
    }

    #[test]
    fn masking_and_turn_rest() {
        let cases = [
            (
                "1700000000:alice",
                "1700000000:a***",
                Some(1_700_000_000u64),
            ),
            ("alice:1700000000", "a***:1700000000", Some(1_700_000_000)),
            (
                "1763983520:Xr4kP2mN9qLw7TbZ1cVd",
                "1763983520:X***",
                Some(1_763_983_520),
            ),
            ("1700000000:", "1700000000:", Some(1_700_000_000)),
            ("alice", "a***", None),
            ("é-user", "é***", None),
            ("test", "t***", None),
            ("12:bob", "1***", None),
            ("bob:12", "b***", None),
            ("a:b:1700000000", "a***:1700000000", Some(1_700_000_000)),
            ("", "", None),
        ];
        for (user, masked, expiry) in cases {
            assert_eq!(mask_username(user), masked, "{user}");
            assert_eq!(turn_rest_expiry(user), expiry, "{user}");
        }
    }

    #[test]
    fn info_is_masked() {
        let s = spec("turn:h:3478", Some("1700000000:alice"), Some("secret"));
        let info = to_info(&s);
        assert_eq!(info.urls, vec!["turn:h:3478".to_owned()]);
        assert_eq!(info.username.as_deref(), Some("1700000000:a***"));
        assert!(info.has_credential);
        assert_eq!(info.source, IceServerSource::CommandLine);
        let text = serde_json::to_string(&info).unwrap();
        assert!(
            !text.contains("secret") && !text.contains("alice"),
            "{text}"
        );
        let info = to_info(&IceServerSpec {
            source: IceServerSource::Signaling,
            ..spec("stun:h:1", None, None)
        });
        assert_eq!(info.username, None);
        assert!(!info.has_credential);
    }

    #[test]
    fn mask_urls() {
        let cases = [
            ("ws://u:secret@h/", "ws://u:***@h/"),
            (
                "ws://u:secret@h:8889/cam/ws?x=1",
                "ws://u:***@h:8889/cam/ws?x=1",
            ),
            ("http://u:p@ss@h/", "http://u:***@h/"),
            ("ws://u@h/", "ws://u@h/"),
            ("ws://u:@h/", "ws://u:@h/"),
            ("ws://h/path?q=a:b@c", "ws://h/path?q=a:b@c"),
            ("ws://h/", "ws://h/"),
            ("turn:u:p@h:3478", "turn:u:***@h:3478"),
            ("turn:h:3478", "turn:h:3478"),
            ("turn:user:pass:h:3478", "turn:user:***:h:3478"),
            (
                "turns:u:p:a:ss:h:443?transport=tcp",
                "turns:u:***:h:443?transport=tcp",
            ),
            ("turn:[::1]:3478", "turn:[::1]:3478"),
            ("stun:a:b:c:d", "stun:a:b:c:d"),
            ("no url at all", "no url at all"),
            ("", ""),
        ];
        for (url, want) in cases {
            assert_eq!(mask_url(url), want, "{url}");
        }
    }
}
