//! `Link` headers (RFC 8288) carrying ICE servers, as RFC 9725 §4.6 defines them:
//!
//! ```text
//! Link: <turn:turn.example.net?transport=udp>; rel="ice-server"; username="user"; credential="pass"; credential-type="password"
//! ```
//!
//! One header value may hold several comma-separated links; a response may hold several `Link`
//! headers. Links of other relations (WHEP extensions `urn:ietf:params:whep:ext:…`) are returned
//! separately.

use super::quote;

/// One ICE server from a `Link: <url>; rel="ice-server"; username="…"; credential="…";
/// credential-type="password"` header (RFC 9725 §4.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkIceServer {
    /// The URL between `<` and `>`, e.g. `turn:127.0.0.1:3478?transport=tcp` (not validated here;
    /// see [`crate::proto::ice_server`]).
    pub url: String,
    /// The `username` parameter, unescaped.
    pub username: Option<String>,
    /// The `credential` parameter, unescaped.
    pub credential: Option<String>,
    /// The `credential-type` parameter (`password` is the only one RFC 9725 knows).
    pub credential_type: Option<String>,
}

/// Everything found in a set of `Link` header values.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LinkParse {
    /// The `rel="ice-server"` links, in order.
    pub ice_servers: Vec<LinkIceServer>,
    /// Links of other relations: `(url, rel)`, the rel as written (for a link whose rel list also
    /// names `ice-server`, only the other relations).
    pub other: Vec<(String, String)>,
    /// Malformed links, one specific sentence each (credentials are never quoted back).
    pub errors: Vec<String>,
}

/// Split one header value into link-values at commas outside `<…>` and quoted strings.
fn split_links(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let (mut in_angle, mut in_quote, mut escaped) = (false, false, false);
    for (i, c) in value.char_indices() {
        if in_quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quote = false;
            }
            continue;
        }
        match c {
            '<' if !in_angle => in_angle = true,
            '>' if in_angle => in_angle = false,
            '"' if !in_angle => in_quote = true,
            ',' if !in_angle => {
                out.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&value[start..]);
    out
}

/// Whether `c` is optional whitespace (OWS/BWS).
fn is_ws(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// A link parameter: name (lower-cased) and value (unescaped; `None` for a bare name).
type Param = (String, Option<String>);

/// Parse the parameters after `>`: `*( OWS ";" OWS name [ BWS "=" BWS ( token / quoted-string ) ] )`.
/// `shown` names the link for error messages.
fn parse_params(rest: &str, shown: &str) -> Result<Vec<Param>, String> {
    let mut params = Vec::new();
    let mut s = rest;
    loop {
        s = s.trim_start_matches(is_ws);
        if s.is_empty() {
            return Ok(params);
        }
        let Some(after) = s.strip_prefix(';') else {
            // Up to a ';' or '=', so a parameter value (a credential) is never echoed.
            let junk: String = s.chars().take_while(|c| !matches!(c, ';' | '=')).collect();
            return Err(format!(
                "{shown}: unexpected {} where \";\" or the end of the link was expected",
                quote(&junk)
            ));
        };
        s = after.trim_start_matches(is_ws);
        if s.is_empty() || s.starts_with(';') {
            // An empty parameter (`;;` or a trailing `;`): tolerated.
            continue;
        }
        let name_end = s
            .find(|c: char| c == '=' || c == ';' || is_ws(c))
            .unwrap_or(s.len());
        let name = s[..name_end].to_ascii_lowercase();
        if name.is_empty() || name.contains(['"', '<', '>']) {
            return Err(format!(
                "{shown}: parameter name {} is not a token",
                quote(&s[..name_end.max(1).min(s.len())])
            ));
        }
        s = s[name_end..].trim_start_matches(is_ws);
        let Some(after_eq) = s.strip_prefix('=') else {
            params.push((name, None));
            continue;
        };
        s = after_eq.trim_start_matches(is_ws);
        if let Some(q) = s.strip_prefix('"') {
            let mut value = String::new();
            let mut escaped = false;
            let mut end = None;
            for (i, c) in q.char_indices() {
                if escaped {
                    value.push(c);
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    end = Some(i);
                    break;
                } else {
                    value.push(c);
                }
            }
            let Some(end) = end else {
                return Err(format!(
                    "{shown}: the quoted value of {name:?} is not closed (a '\"' is missing)"
                ));
            };
            s = &q[end + 1..];
            params.push((name, Some(value)));
        } else {
            let end = s.find(|c: char| c == ';' || is_ws(c)).unwrap_or(s.len());
            let token = &s[..end];
            if token.contains(['"', '<', '>']) {
                return Err(format!(
                    "{shown}: the value of {name:?} is neither a token nor a quoted string"
                ));
            }
            params.push((name, Some(token.to_owned())));
            s = &s[end..];
        }
    }
}

/// Parse one link-value (`<url>; params`) into `out`. `shown` names it for error messages.
fn parse_link(piece: &str, shown: &str, out: &mut LinkParse) {
    let Some(inner) = piece.strip_prefix('<') else {
        // Quote only up to the first ';', so a credential is never echoed.
        let head = piece.split(';').next().unwrap_or("");
        out.errors.push(format!(
            "{shown} does not start with '<url>': {}",
            quote(head.trim())
        ));
        return;
    };
    let Some(close) = inner.find('>') else {
        let head = inner.split(';').next().unwrap_or("");
        out.errors.push(format!(
            "{shown}: the URL <{}… is not closed with '>'",
            quote(head.trim()).trim_matches('"')
        ));
        return;
    };
    let url = inner[..close].trim().to_owned();
    let shown = format!("{shown} <{}>", quote(&url).trim_matches('"'));
    let params = match parse_params(&inner[close + 1..], &shown) {
        Ok(p) => p,
        Err(e) => {
            out.errors.push(e);
            return;
        }
    };
    // RFC 8288 §3: occurrences of a parameter after the first are ignored.
    let first = |name: &str| -> Option<&Option<String>> {
        params.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    };
    let rel = match first("rel") {
        None => {
            out.errors.push(format!("{shown} has no rel parameter"));
            return;
        }
        Some(None) => {
            out.errors
                .push(format!("{shown} has a rel parameter without a value"));
            return;
        }
        Some(Some(r)) if r.trim().is_empty() => {
            out.errors.push(format!("{shown} has an empty rel"));
            return;
        }
        Some(Some(r)) => r.clone(),
    };
    let relations: Vec<&str> = rel.split_ascii_whitespace().collect();
    let is_ice = relations
        .iter()
        .any(|r| r.eq_ignore_ascii_case("ice-server"));
    let others: Vec<&str> = relations
        .iter()
        .copied()
        .filter(|r| !r.eq_ignore_ascii_case("ice-server"))
        .collect();
    if !others.is_empty() {
        out.other.push((url.clone(), others.join(" ")));
    }
    if !is_ice {
        return;
    }
    if url.is_empty() {
        out.errors
            .push(format!("{shown}: an ice-server link with an empty URL"));
        return;
    }
    let value = |name: &str| first(name).map(|v| v.clone().unwrap_or_default());
    out.ice_servers.push(LinkIceServer {
        url,
        username: value("username"),
        credential: value("credential"),
        credential_type: value("credential-type"),
    });
}

/// Parse every `rel="ice-server"` link in one or more `Link` header values.
///
/// A header value may hold several comma-separated links; commas inside quoted strings and
/// `<…>` are not separators. Quoted values may contain backslash-escaped quotes and backslashes.
/// `rel` may be unquoted or hold several space-separated relations (case-insensitive);
/// parameter names are case-insensitive and the first occurrence of a parameter wins
/// (RFC 8288 §3). Links of other relations go to [`LinkParse::other`]; malformed links to
/// [`LinkParse::errors`] (the rest of the value is still read). Empty list elements are skipped.
pub fn parse_link_headers(values: &[&str]) -> LinkParse {
    let mut out = LinkParse::default();
    let many_values = values.len() > 1;
    for (vi, value) in values.iter().enumerate() {
        let pieces: Vec<&str> = split_links(value)
            .into_iter()
            .map(|p| p.trim_matches(|c: char| is_ws(c) || c == '\r' || c == '\n'))
            .filter(|p| !p.is_empty())
            .collect();
        let many_links = pieces.len() > 1;
        for (li, piece) in pieces.iter().enumerate() {
            let shown = match (many_values, many_links) {
                (true, true) => format!("Link header {}, link {}", vi + 1, li + 1),
                (true, false) => format!("Link header {}", vi + 1),
                (false, true) => format!("Link {}", li + 1),
                (false, false) => "Link".to_owned(),
            };
            parse_link(piece, &shown, &mut out);
        }
    }
    out
}

/// A quoted-string for a header: `"` and `\` escaped, control characters (which a header cannot
/// carry) dropped.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars().filter(|c| !c.is_control()) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Format one ice-server `Link` header value, as a server sends it:
/// `<url>; rel="ice-server"[; username="…"][; credential="…"][; credential-type="…"]`.
///
/// Quotes and backslashes in the values are backslash-escaped; control characters are dropped;
/// a `>` in the URL is written `%3E`. Exactly the fields that are `Some` are written, so
/// [`parse_link_headers`] gives the same entry back.
pub fn format_link_ice_server(s: &LinkIceServer) -> String {
    let url: String = s
        .url
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| {
            if c == '>' {
                "%3E".to_owned()
            } else {
                c.to_string()
            }
        })
        .collect();
    let mut out = format!("<{}>; rel=\"ice-server\"", url.trim());
    for (name, value) in [
        ("username", &s.username),
        ("credential", &s.credential),
        ("credential-type", &s.credential_type),
    ] {
        if let Some(v) = value {
            out.push_str(&format!("; {name}={}", quoted(v)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ice(url: &str, user: Option<&str>, cred: Option<&str>, ty: Option<&str>) -> LinkIceServer {
        LinkIceServer {
            url: url.into(),
            username: user.map(Into::into),
            credential: cred.map(Into::into),
            credential_type: ty.map(Into::into),
        }
    }

    /// (header values, ice servers, other links)
    type Case<'a> = (Vec<&'a str>, Vec<LinkIceServer>, Vec<(&'a str, &'a str)>);

    #[test]
    fn valid_link_headers() {
        let turn = ice(
            "turn:127.0.0.1:3478",
            Some("test"),
            Some("secret"),
            Some("password"),
        );
        let cases: Vec<Case> = vec![
            // The fixtures' front end and MediaMTX.
            (
                vec![
                    r#"<turn:127.0.0.1:3478>; rel="ice-server"; username="test"; credential="secret"; credential-type="password""#,
                ],
                vec![turn.clone()],
                vec![],
            ),
            // STUN: no credentials.
            (
                vec![r#"<stun:stun.l.google.com:19302>; rel="ice-server""#],
                vec![ice("stun:stun.l.google.com:19302", None, None, None)],
                vec![],
            ),
            // Several links in one value, TURN over TCP with a query string.
            (
                vec![
                    r#"<stun:s.example:3478>; rel="ice-server", <turn:t.example:3478?transport=tcp>; rel="ice-server"; username="u"; credential="p"; credential-type="password""#,
                ],
                vec![
                    ice("stun:s.example:3478", None, None, None),
                    ice(
                        "turn:t.example:3478?transport=tcp",
                        Some("u"),
                        Some("p"),
                        Some("password"),
                    ),
                ],
                vec![],
            ),
            // Several header values.
            (
                vec![
                    r#"<stun:a:1>; rel="ice-server""#,
                    r#"<turns:b:5349?transport=tcp>; rel=ice-server; username=u; credential=p"#,
                ],
                vec![
                    ice("stun:a:1", None, None, None),
                    ice("turns:b:5349?transport=tcp", Some("u"), Some("p"), None),
                ],
                vec![],
            ),
            // Escaped quotes and backslashes, commas and semicolons inside quoted values.
            (
                vec![
                    r#"<turn:h:3478>; rel="ice-server"; username="a\"b,c"; credential="x\\y;z\"", <stun:h2:3478>; rel="ice-server""#,
                ],
                vec![
                    ice("turn:h:3478", Some("a\"b,c"), Some("x\\y;z\""), None),
                    ice("stun:h2:3478", None, None, None),
                ],
                vec![],
            ),
            // A comma inside <…> does not split.
            (
                vec![r#"<turn:h:3478?a=1,2>; rel="ice-server""#],
                vec![ice("turn:h:3478?a=1,2", None, None, None)],
                vec![],
            ),
            // rel lists, case, spacing; other relations returned separately.
            (
                vec![
                    r#"<stun:h:1> ;REL = "preconnect ICE-Server" ; Username="u", <urn:ietf:params:whep:ext:core:server-sent-events>; rel="urn:ietf:params:whep:ext:core:server-sent-events"; events="active""#,
                ],
                vec![ice("stun:h:1", Some("u"), None, None)],
                vec![
                    ("stun:h:1", "preconnect"),
                    (
                        "urn:ietf:params:whep:ext:core:server-sent-events",
                        "urn:ietf:params:whep:ext:core:server-sent-events",
                    ),
                ],
            ),
            // The first rel wins; empty list elements and a trailing ';' are tolerated.
            (
                vec![r#" , <stun:h:1>; rel="ice-server"; rel="next";, "#],
                vec![ice("stun:h:1", None, None, None)],
                vec![],
            ),
            // Empty username and credential are kept as empty strings.
            (
                vec![r#"<turn:h:1>; rel="ice-server"; username=""; credential="""#],
                vec![ice("turn:h:1", Some(""), Some(""), None)],
                vec![],
            ),
            // Non-ASCII values.
            (
                vec![r#"<turn:h:1>; rel="ice-server"; username="ünï"; credential="€""#],
                vec![ice("turn:h:1", Some("ünï"), Some("€"), None)],
                vec![],
            ),
            (vec![], vec![], vec![]),
            (vec![""], vec![], vec![]),
        ];
        for (values, servers, other) in cases {
            let got = parse_link_headers(&values);
            assert_eq!(got.errors, Vec::<String>::new(), "{values:?}");
            assert_eq!(got.ice_servers, servers, "{values:?}");
            let other: Vec<(String, String)> = other
                .into_iter()
                .map(|(u, r)| (u.to_owned(), r.to_owned()))
                .collect();
            assert_eq!(got.other, other, "{values:?}");
        }
    }

    #[test]
    fn malformed_link_headers() {
        let cases: &[(&str, &str, usize)] = &[
            // (value, expected error fragment, ice servers still found)
            (r#"<stun:h:1>"#, "Link <stun:h:1> has no rel parameter", 0),
            (r#"<stun:h:1>; rel"#, "rel parameter without a value", 0),
            (r#"<stun:h:1>; rel="""#, "has an empty rel", 0),
            (
                r#"turn:h:1; rel="ice-server"; credential="secret""#,
                r#"Link does not start with '<url>': "turn:h:1""#,
                0,
            ),
            (
                r#"<turn:h:1; rel="ice-server"; credential="secret""#,
                "is not closed with '>'",
                0,
            ),
            (
                r#"<turn:h:1>; rel="ice-server"; credential="secr"#,
                r#"the quoted value of "credential" is not closed"#,
                0,
            ),
            (
                r#"<turn:h:1> rel="ice-server""#,
                r#"unexpected "rel" where ";" or the end"#,
                0,
            ),
            (
                r#"<>; rel="ice-server""#,
                "an ice-server link with an empty URL",
                0,
            ),
            (
                r#"<turn:h:1>; rel=ice<server"#,
                r#"the value of "rel" is neither a token nor a quoted string"#,
                0,
            ),
            (
                r#"<turn:h:1>; ="x"; rel="ice-server""#,
                "parameter name \"=\" is not a token",
                0,
            ),
            (
                r#"garbage, <stun:ok:1>; rel="ice-server""#,
                r#"Link 1 does not start with '<url>': "garbage""#,
                1,
            ),
            ("\u{0}\u{7f}<>>;;;\"", "does not start with '<url>'", 0),
        ];
        for (value, fragment, found) in cases {
            let got = parse_link_headers(&[value]);
            assert_eq!(got.errors.len(), 1, "{value:?}: {:?}", got.errors);
            assert!(
                got.errors[0].contains(fragment),
                "{value:?}: {:?} does not contain {fragment:?}",
                got.errors[0]
            );
            assert!(
                !got.errors[0].contains("secret") && !got.errors[0].contains("secr\""),
                "{value:?}: credential echoed in {:?}",
                got.errors[0]
            );
            assert_eq!(got.ice_servers.len(), *found, "{value:?}");
        }
        // Errors name the header and link when there are several.
        let got = parse_link_headers(&[r#"<stun:a:1>; rel="ice-server""#, "<x>, <y>; rel=a"]);
        assert_eq!(
            got.errors,
            vec!["Link header 2, link 1 <x> has no rel parameter"]
        );
        assert_eq!(got.other, vec![("y".to_owned(), "a".to_owned())]);
    }

    #[test]
    fn format_escapes_and_round_trips() {
        let cases = [
            (
                ice(
                    "turn:127.0.0.1:3478",
                    Some("test"),
                    Some("secret"),
                    Some("password"),
                ),
                r#"<turn:127.0.0.1:3478>; rel="ice-server"; username="test"; credential="secret"; credential-type="password""#,
            ),
            (
                ice("stun:h:3478", None, None, None),
                r#"<stun:h:3478>; rel="ice-server""#,
            ),
            (
                ice(
                    "turn:h:3478?transport=tcp",
                    Some("a\"b"),
                    Some("c\\d,e;f"),
                    None,
                ),
                r#"<turn:h:3478?transport=tcp>; rel="ice-server"; username="a\"b"; credential="c\\d,e;f""#,
            ),
        ];
        for (server, expected) in cases {
            let text = format_link_ice_server(&server);
            assert_eq!(text, expected);
            let back = parse_link_headers(&[&text]);
            assert_eq!(back.ice_servers, vec![server]);
            assert!(back.errors.is_empty() && back.other.is_empty());
        }
        // Control characters are dropped and '>' is escaped, so the header stays one link.
        let odd = ice("turn:h>x:1\r\n", Some("u\r\nX: y"), None, None);
        let text = format_link_ice_server(&odd);
        assert_eq!(
            text,
            r#"<turn:h%3Ex:1>; rel="ice-server"; username="uX: y""#
        );
        assert_eq!(parse_link_headers(&[&text]).ice_servers.len(), 1);
    }
}
