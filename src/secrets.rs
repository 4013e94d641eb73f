//! The one secret-masking layer: text that leaves the engine (every event, and so the TUI, NDJSON,
//! `--events`, the report) goes through [`redact_event`] unless the user asked for
//! `--show-secrets`. Operators paste rtcscope's output into tickets and chat; a TURN credential, a
//! URL password or a bearer token must never be in it.
//!
//! What is masked, wherever it appears in a string (`***` replaces the secret; the rest stays, so
//! the text still shows what was sent and where):
//! - JSON members whose name says secret (`"credential": "…"`, `"password"`, `"token"`, …), as in a
//!   server-given ICE-server list;
//! - `name=value` attributes with such a name, quoted or not, in any case (`credential="…"` in a WHEP
//!   `Link` header, `Credential=…`);
//! - the password of a URL's userinfo (`wss://user:***@host/`, `turn:user:***@host`);
//! - URL query parameters with such a name (`?token=***`, `&jwt=***`);
//! - header lines and header values of authentication headers (`Authorization: Bearer ***`,
//!   `Cookie: ***`).
//!
//! Pure text functions, no I/O. Masking is conservative: it may mask a harmless value whose name
//! looks secret, never the reverse for the forms above.

use crate::event::Event;

/// What replaces a secret.
pub const MASK: &str = "***";

/// Whether a parameter, member or attribute name names a secret (case-insensitive): `credential`,
/// `password`, `token`, `secret`, `jwt`, `key` and their usual spellings.
pub fn is_secret_name(name: &str) -> bool {
    let n = name.trim().to_ascii_lowercase();
    let n = n.trim_matches(|c: char| c == '"' || c == '\'');
    matches!(
        n,
        "credential"
            | "credentials"
            | "password"
            | "passwd"
            | "pass"
            | "pwd"
            | "secret"
            | "client_secret"
            | "token"
            | "access_token"
            | "refresh_token"
            | "id_token"
            | "auth"
            | "auth_token"
            | "authtoken"
            | "jwt"
            | "key"
            | "apikey"
            | "api_key"
            | "api-key"
            | "sig"
            | "signature"
            | "x-amz-signature"
            | "session"
            | "sessionid"
            | "session_id"
            | "authorization"
            | "proxy-authorization"
            | "cookie"
            | "set-cookie"
    )
}

/// Whether an HTTP header carries a credential: `Authorization`, `Proxy-Authorization`, `Cookie`,
/// `Set-Cookie`, and custom headers whose name says so (`X-Api-Key`, `X-Auth-Token`, …).
pub fn is_secret_header(name: &str) -> bool {
    let n = name.trim().to_ascii_lowercase();
    // A challenge names a scheme and a realm, not a secret: it stays readable.
    if n == "www-authenticate" || n == "proxy-authenticate" {
        return false;
    }
    matches!(
        n.as_str(),
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
    ) || [
        "auth", "token", "secret", "api-key", "apikey", "password", "session",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// The displayable form of a header value: for an authentication header, its scheme and `***`
/// (`Bearer ***`, `Basic ***`), or `***`; other values unchanged.
pub fn mask_header_value(name: &str, value: &str) -> String {
    if !is_secret_header(name) {
        return value.to_owned();
    }
    let lower = name.trim().to_ascii_lowercase();
    if (lower == "authorization" || lower == "proxy-authorization")
        && let Some((scheme, _)) = value.trim().split_once(' ')
    {
        return format!("{scheme} {MASK}");
    }
    MASK.to_owned()
}

/// `text` with every secret this module knows masked. Borrows nothing: returns the same text when
/// there was nothing to mask.
pub fn mask_text(text: &str) -> String {
    let t = mask_json_members(text);
    let t = mask_url_userinfo(&t);
    let t = mask_attributes(&t);
    mask_header_lines(&t)
}

/// JSON members with a secret name and a string value: `"credential":"s3cret"` →
/// `"credential":"***"`. Works on any text holding JSON (whole or not), keeps its layout.
fn mask_json_members(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        if b[i] != b'"' {
            i += 1;
            continue;
        }
        // A string token: find its end.
        let Some(end) = string_end(b, i) else { break };
        let name = &text[i + 1..end];
        // A member name is followed by ':' then (maybe) a string value.
        let mut j = end + 1;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if j < b.len() && b[j] == b':' && is_secret_name(name) {
            let mut k = j + 1;
            while k < b.len() && b[k].is_ascii_whitespace() {
                k += 1;
            }
            if k < b.len()
                && b[k] == b'"'
                && let Some(vend) = string_end(b, k)
            {
                out.push_str(&text[copied..=k]);
                out.push_str(MASK);
                copied = vend;
                i = vend + 1;
                continue;
            }
        }
        i = end + 1;
    }
    out.push_str(&text[copied..]);
    out
}

/// The index of the closing quote of the JSON string opening at `start`, escapes honoured.
fn string_end(b: &[u8], start: usize) -> Option<usize> {
    let mut k = start + 1;
    while k < b.len() {
        match b[k] {
            b'\\' => k += 2,
            b'"' => return Some(k),
            _ => k += 1,
        }
    }
    None
}

/// `name=value` / `name="value"` / `name: value` attributes with a secret name, in any case, as in
/// `Link` headers, query strings and form bodies. The name must start a word (after `;`, `,`, `?`,
/// `&`, a space or the start) so `a=x` in an SDP is left alone unless named like a secret.
fn mask_attributes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        // Find the next '=' and look at the word before it.
        let Some(eq) = rest.find('=') else {
            out.push_str(rest);
            return out;
        };
        let before = &rest[..eq];
        let word_start = before
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'))
            .map_or(0, |p| {
                p + before[p..].chars().next().map_or(1, char::len_utf8)
            });
        let name = &before[word_start..];
        let boundary_ok = word_start == 0
            || before[..word_start].chars().next_back().is_some_and(|c| {
                matches!(c, ';' | ',' | '?' | '&' | ' ' | '\t' | '\n' | '"' | '\'')
            });
        out.push_str(&rest[..=eq]);
        let value = &rest[eq + 1..];
        if !(boundary_ok && is_secret_name(name)) || value.starts_with(MASK) {
            rest = value;
            continue;
        }
        if let Some(q) = value.strip_prefix('"') {
            let b = q.as_bytes();
            let mut k = 0;
            while k < b.len() && b[k] != b'"' {
                k += if b[k] == b'\\' { 2 } else { 1 };
            }
            out.push('"');
            out.push_str(MASK);
            rest = if k < b.len() { &q[k..] } else { "" };
        } else {
            let end = value
                .find([';', ',', '&', ' ', '\t', '\r', '\n', '"', '#', '\''])
                .unwrap_or(value.len());
            if end > 0 {
                out.push_str(MASK);
            }
            rest = &value[end..];
        }
    }
}

/// The password of every `scheme://user:password@` or `turn:user:password@` in the text.
fn mask_url_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        let before = &rest[..at];
        // The userinfo runs back to the scheme's ':' or '//' (no spaces, quotes, slashes in it).
        let start = before
            .char_indices()
            .rev()
            .find(|&(_, c)| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '(' | ',' | '/'))
            .map_or(0, |(p, c)| p + c.len_utf8());
        let userinfo = &before[start..];
        // `turn:user:pass` (scheme without //) or `user:pass` after `//`.
        let (prefix, creds) = match userinfo.split_once(':') {
            Some((scheme, creds))
                if before[..start].ends_with("//")
                    || is_uri_scheme(scheme) && creds.contains(':') =>
            {
                if before[..start].ends_with("//") {
                    ("", userinfo)
                } else {
                    (&userinfo[..scheme.len() + 1], creds)
                }
            }
            _ => {
                out.push_str(&rest[..=at]);
                rest = &rest[at + 1..];
                continue;
            }
        };
        match creds.split_once(':') {
            Some((user, pass)) if !pass.is_empty() && pass != MASK => {
                out.push_str(&before[..start]);
                out.push_str(prefix);
                out.push_str(user);
                out.push(':');
                out.push_str(MASK);
                out.push('@');
            }
            _ => out.push_str(&rest[..=at]),
        }
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
    out
}

fn is_uri_scheme(s: &str) -> bool {
    let s = s.to_ascii_lowercase();
    matches!(s.as_str(), "turn" | "turns" | "stun" | "stuns")
}

/// Header lines (`Authorization: Bearer x`, `Cookie: a=b`) inside a text (an HTTP transcript, an error).
fn mask_header_lines(text: &str) -> String {
    if !text.contains(':') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let _ = n;
        let body = line.trim_end_matches(['\r', '\n']);
        let eol = &line[body.len()..];
        match body.split_once(':') {
            Some((name, value))
                if !name.is_empty()
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && is_secret_header(name)
                    && !value.trim().ends_with(MASK) =>
            {
                out.push_str(name);
                out.push_str(": ");
                out.push_str(&mask_header_value(name, value.trim()));
                out.push_str(eol);
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// An event with every secret in its text masked ([`mask_text`] on every string it holds, and
/// header values by header name). Events hold no secret in a field of their own, so the walk is
/// generic: a new event variant is covered without a change here.
pub fn redact_event(event: &Event) -> Event {
    let Ok(mut value) = serde_json::to_value(event) else {
        return event.clone();
    };
    redact_value(&mut value, None);
    serde_json::from_value(value).unwrap_or_else(|_| event.clone())
}

fn redact_value(v: &mut serde_json::Value, key: Option<&str>) {
    use serde_json::Value;
    match v {
        Value::String(s) => {
            let masked = match key {
                Some(k) if is_secret_name(k) => MASK.to_owned(),
                _ => mask_text(s),
            };
            if masked != *s {
                *s = masked;
            }
        }
        Value::Array(items) => {
            // A header as a `[name, value]` pair.
            if let [Value::String(name), Value::String(value)] = items.as_mut_slice()
                && is_secret_header(name)
            {
                *value = mask_header_value(name, value);
                return;
            }
            for item in items {
                redact_value(item, None);
            }
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                redact_value(item, Some(k));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ice_server_lists_lose_their_credentials() {
        let list = r#"[{"urls":["turn:127.0.0.1:3478"],"username":"test","credential":"s3cret"}]"#;
        let m = mask_text(list);
        assert!(!m.contains("s3cret"), "{m}");
        assert_eq!(
            m,
            r#"[{"urls":["turn:127.0.0.1:3478"],"username":"test","credential":"***"}]"#
        );
        let spaced = "{ \"Credential\" : \"a\\\"b\" , \"x\": 1}";
        assert_eq!(mask_text(spaced), "{ \"Credential\" : \"***\" , \"x\": 1}");
    }

    #[test]
    fn link_attributes_in_any_case() {
        for v in [
            r#"<turn:h:3478>; rel="ice-server"; username="u"; credential="pa;ss""#,
            r#"<turn:h:3478>; rel="ice-server"; username="u"; Credential="pa;ss""#,
            r#"<turn:h:3478>; rel="ice-server"; username="u"; CREDENTIAL=pass"#,
        ] {
            let m = mask_text(v);
            assert!(!m.contains("pa") || m.contains("***"), "{m}");
            assert!(!m.contains("pass") && !m.contains("pa;ss"), "{v} → {m}");
            assert!(m.contains("username=\"u\""), "{m}");
        }
    }

    #[test]
    fn url_passwords_and_query_tokens() {
        assert_eq!(
            mask_text("POST http://user:pa%2Bss@host:8889/cam/whep failed"),
            "POST http://user:***@host:8889/cam/whep failed"
        );
        assert_eq!(
            mask_text("turn:alice:s3cret@127.0.0.1:3478?transport=udp"),
            "turn:alice:***@127.0.0.1:3478?transport=udp"
        );
        assert_eq!(
            mask_text("wss://h/cam/ws?token=abc.def&x=1&JWT=e30"),
            "wss://h/cam/ws?token=***&x=1&JWT=***"
        );
        // Mail-like text and plain addresses are left alone.
        assert_eq!(
            mask_text("ops@example.org at 10:30"),
            "ops@example.org at 10:30"
        );
        assert_eq!(mask_text("ws://host:8889/cam/ws"), "ws://host:8889/cam/ws");
    }

    #[test]
    fn header_lines_and_values() {
        assert_eq!(
            mask_text(
                "Content-Type: application/sdp\r\nAuthorization: Bearer abc\r\nCookie: s=1\r\n"
            ),
            "Content-Type: application/sdp\r\nAuthorization: Bearer ***\r\nCookie: ***\r\n"
        );
        assert_eq!(mask_header_value("X-Api-Key", "k"), "***");
        assert_eq!(
            mask_header_value("authorization", "Basic dTpw"),
            "Basic ***"
        );
        assert_eq!(
            mask_header_value("Content-Type", "text/plain"),
            "text/plain"
        );
    }

    #[test]
    fn sdp_and_ordinary_text_are_unchanged() {
        let sdp = "v=0\r\na=ice-ufrag:abcd\r\na=fmtp:98 apt=97\r\na=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\n";
        assert_eq!(mask_text(sdp), sdp);
        let plain = "ICE failed after 7s: 12 pairs, 96 checks sent, 0 responses";
        assert_eq!(mask_text(plain), plain);
    }

    #[test]
    fn masking_is_idempotent() {
        let t = r#"{"credential":"x"} turn:u:p@h credential=y Authorization: Bearer z"#;
        let once = mask_text(t);
        assert_eq!(mask_text(&once), once);
    }

    #[test]
    fn events_are_walked_generically() {
        use crate::event::{Direction, MessageKind};
        let ev = Event::MessageReceived {
            kind: MessageKind::IceServers,
            text: r#"[{"urls":"turn:h","username":"u","credential":"s3cret"}]"#.into(),
            size: 60,
            truncated: false,
        };
        let json = serde_json::to_string(&redact_event(&ev)).unwrap();
        assert!(!json.contains("s3cret"), "{json}");
        assert!(json.contains(r#"\"credential\":\"***\""#), "{json}");
        let req = Event::MessageSent {
            kind: MessageKind::Offer,
            size: 3,
            text: "x".into(),
        };
        assert_eq!(redact_event(&req), req, "nothing to mask: unchanged");
        let _ = Direction::In;
    }

    #[test]
    fn multibyte_separators_are_not_split() {
        // U+0085 (NEL) is whitespace of two bytes: found by the fuzzer.
        assert_eq!(mask_text("\u{85}u:p@h"), "\u{85}u:p@h");
        assert_eq!(mask_text("\u{85}turn:u:pw@h"), "\u{85}turn:u:***@h");
    }
}
