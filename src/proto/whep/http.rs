//! HTTP details of WHEP: the endpoint URL for a page URL, `Location`, `Retry-After`,
//! `ETag`/`If-Match`, content types and error bodies in words.

use serde_json::Value;
use url::Url;

use super::{PROBLEM_JSON_MEDIA_TYPE, quote};

/// The WHEP endpoint for a MediaMTX page URL: `http://host:8889/cam/` → `http://host:8889/cam/whep`
/// (a missing trailing slash is added first, so `…/cam` gives the same). A URL whose path already
/// ends with `/whep` is kept (`/whep/` loses its slash). Query (tokens) is kept, the fragment
/// dropped.
pub fn whep_url_from_page(page: &Url) -> Url {
    let mut url = page.clone();
    url.set_fragment(None);
    let path = url.path().to_owned();
    if path.ends_with("/whep") {
        return url;
    }
    if let Some(stripped) = path.strip_suffix("/whep/") {
        url.set_path(&format!("{stripped}/whep"));
        return url;
    }
    let base = if path.ends_with('/') {
        path
    } else {
        format!("{path}/")
    };
    url.set_path(&format!("{base}whep"));
    url
}

/// Resolve a `Location` header against the request URL (relative like `/cam/whep/abc` or `abc`,
/// scheme-relative like `//host/x`, or absolute). Errors, specific, for an empty value, a value
/// that is not a URL reference, and a scheme other than http/https.
pub fn resolve_location(request_url: &Url, location: &str) -> Result<Url, String> {
    let loc = location.trim();
    if loc.is_empty() {
        return Err("empty Location header".to_owned());
    }
    if loc.chars().any(char::is_control) {
        return Err(format!(
            "Location {} contains control characters",
            quote(loc)
        ));
    }
    let url = request_url
        .join(loc)
        .map_err(|e| format!("Location {} is not a URL reference: {e}", quote(loc)))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(format!(
            "Location {} uses scheme {other:?}; only http and https are followed",
            quote(loc)
        )),
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Month number (1–12) of a three-letter English month name (case-insensitive).
fn month(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(name))
        .map(|i| i as u32 + 1)
}

/// `HH:MM:SS` → seconds of the day.
fn time_of_day(s: &str) -> Option<i64> {
    let mut it = s.split(':');
    let mut next = |max: i64| -> Option<i64> {
        let p = it.next()?;
        if p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        p.parse::<i64>().ok().filter(|v| *v <= max)
    };
    let (h, m, s) = (next(23)?, next(59)?, next(60)?);
    it.next().is_none().then_some(h * 3600 + m * 60 + s)
}

/// Small decimal number made of ASCII digits only.
fn digits(s: &str, max_len: usize) -> Option<i64> {
    (!s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// An HTTP-date (RFC 9110 §5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms) as
/// Unix seconds.
fn parse_http_date(s: &str) -> Option<i64> {
    let parts: Vec<&str> = s.split_ascii_whitespace().collect();
    let (day, mon, year, time) = match parts.as_slice() {
        // Sun, 06 Nov 1994 08:49:37 GMT
        [wd, d, m, y, t, "GMT"] if wd.ends_with(',') => {
            (digits(d, 2)?, month(m)?, digits(y, 4)?, time_of_day(t)?)
        }
        // Sunday, 06-Nov-94 08:49:37 GMT
        [wd, dmy, t, "GMT"] if wd.ends_with(',') => {
            let mut it = dmy.split('-');
            let (d, m, y) = (it.next()?, it.next()?, it.next()?);
            let y = digits(y, 2)?;
            // RFC 9110: a two-digit year more than 50 years ahead is in the past century.
            let y = if y < 70 { 2000 + y } else { 1900 + y };
            (digits(d, 2)?, month(m)?, y, time_of_day(t)?)
        }
        // Sun Nov  6 08:49:37 1994
        [_wd, m, d, t, y] => (digits(d, 2)?, month(m)?, digits(y, 4)?, time_of_day(t)?),
        _ => return None,
    };
    if !(1..=31).contains(&day) {
        return None;
    }
    Some(days_from_civil(year, mon, day as u32) * 86_400 + time)
}

/// `Retry-After` (RFC 9110 §10.2.3): delta-seconds, or an HTTP-date relative to `now_unix` (the
/// caller passes the clock), as seconds to wait. A date in the past gives 0; a huge delta
/// saturates at `u64::MAX` (the caller caps it). `None` for anything else.
pub fn parse_retry_after(value: &str, now_unix: u64) -> Option<u64> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return Some(v.parse::<u64>().unwrap_or(u64::MAX));
    }
    let at = parse_http_date(v)?;
    let now = i64::try_from(now_unix).unwrap_or(i64::MAX);
    Some(u64::try_from(at.saturating_sub(now)).unwrap_or(0))
}

/// An entity tag as a server sent it in `ETag`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ETag {
    /// `"abc"`: a strong tag (the value without quotes).
    Strong(String),
    /// `W/"abc"`: a weak tag (the value without quotes).
    Weak(String),
    /// A bare `*`, as MediaMTX sends it: not an entity tag (a deviation from the draft).
    Star,
    /// Anything else, as received (trimmed), e.g. an unquoted `abc`.
    Invalid(String),
}

/// Whether `s` holds only `etagc` characters (RFC 9110 §8.8.3: visible ASCII but `"`, or
/// non-ASCII).
fn etagc(s: &str) -> bool {
    s.chars()
        .all(|c| (c.is_ascii_graphic() && c != '"') || !c.is_ascii())
}

/// Parse an `ETag` header value: `"abc"` strong, `W/"abc"` weak, `*`, or invalid.
pub fn parse_etag(v: &str) -> ETag {
    let v = v.trim();
    if v == "*" {
        return ETag::Star;
    }
    let (weak, rest) = match v.strip_prefix("W/") {
        Some(r) => (true, r),
        None => (false, v),
    };
    match rest
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .filter(|inner| etagc(inner))
    {
        Some(inner) if weak => ETag::Weak(inner.to_owned()),
        Some(inner) => ETag::Strong(inner.to_owned()),
        None => ETag::Invalid(v.to_owned()),
    }
}

impl ETag {
    /// The header form, as received: `"abc"`, `W/"abc"`, `*`, or the invalid text.
    pub fn header_value(&self) -> String {
        match self {
            ETag::Strong(s) => format!("\"{s}\""),
            ETag::Weak(s) => format!("W/\"{s}\""),
            ETag::Star => "*".to_owned(),
            ETag::Invalid(s) => s.clone(),
        }
    }
}

/// `If-Match` value for an ICE-restart PATCH: `"*"`, quoted, as RFC 9725 §4.3.3 and the WHEP
/// draft write it.
pub const ICE_RESTART_IF_MATCH: &str = "\"*\"";

/// `If-Match` value for a trickle PATCH: the entity tag as received (`"abc"`, `W/"abc"`, the
/// bare `*` MediaMTX sends, or an invalid tag's text). `None` (send no `If-Match`) when that
/// cannot travel in a header as text: empty, or not visible ASCII and spaces.
pub fn if_match_for_trickle(etag: &ETag) -> Option<String> {
    let v = etag.header_value();
    let ok = !v.is_empty() && v.chars().all(|c| c.is_ascii_graphic() || c == ' ');
    ok.then_some(v)
}

/// Media type of a `Content-Type` value, lower-cased, without parameters
/// (`application/sdp; charset=utf-8` → `application/sdp`).
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// All values of header `name` (case-insensitive), in order, from `(name, value)` pairs.
pub fn header_values<'a>(headers: &[(&'a str, &'a str)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
        .collect()
}

/// Longest description [`describe_error_body`] returns, in characters.
pub const MAX_ERROR_DESCRIPTION_CHARS: usize = 300;

/// Collapse whitespace runs (including line breaks) to one space and drop other control
/// characters (so an ANSI escape in a body cannot reach the terminal).
fn collapse(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(4096));
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
        } else if !c.is_control() {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    out
}

/// `s` cut to `max` characters, with `…` when cut.
fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max.saturating_sub(1)) {
        Some((idx, _)) if s[idx..].chars().nth(1).is_some() => format!("{}…", &s[..idx]),
        _ => s.to_owned(),
    }
}

/// A JSON value as short text: strings without quotes, others compact.
fn json_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Describe a JSON error body, or `None` when it is not a JSON object.
fn describe_json(body: &str, problem: bool) -> Option<String> {
    let Value::Object(map) = serde_json::from_str::<Value>(body).ok()? else {
        return None;
    };
    let get = |k: &str| {
        map.get(k)
            .and_then(json_text)
            .filter(|s| !s.trim().is_empty())
    };
    let (title, detail) = (get("title"), get("detail"));
    if problem || title.is_some() || detail.is_some() {
        let mut out = String::new();
        if let Some(t) = &title {
            out.push_str(t);
        }
        if let Some(status) = map.get("status").and_then(Value::as_u64) {
            out.push_str(&format!(" ({status})"));
        }
        if let Some(d) = &detail {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(d);
        }
        if let Some(t) = get("type").filter(|t| t != "about:blank") {
            out.push_str(&format!(" [type {t}]"));
        }
        if !out.trim().is_empty() {
            return Some(out.trim().to_owned());
        }
    }
    // MediaMTX `{"status":"error","error":"…"}`, and the common `error`/`message` shapes.
    for key in ["error", "message", "msg", "reason", "error_description"] {
        match map.get(key) {
            Some(Value::Object(inner)) => {
                if let Some(m) = inner.get("message").and_then(json_text) {
                    return Some(m);
                }
            }
            Some(v) => {
                if let Some(t) = json_text(v).filter(|t| !t.trim().is_empty()) {
                    return Some(t);
                }
            }
            None => {}
        }
    }
    Some(format!("JSON {}", Value::Object(map)))
}

/// The text of an HTML page's `<title>` (or first `<h1>`), tags stripped.
fn describe_html(body: &str) -> String {
    let lower = body.to_ascii_lowercase();
    let grab = |tag: &str| -> Option<String> {
        let open = lower.find(&format!("<{tag}"))?;
        let start = open + lower[open..].find('>')? + 1;
        let end = start + lower[start..].find(&format!("</{tag}"))?;
        let text = collapse(&strip_tags(&body[start..end]));
        (!text.is_empty()).then_some(text)
    };
    match grab("title").or_else(|| grab("h1")) {
        Some(t) => format!("HTML page: {t}"),
        None => {
            let text = collapse(&strip_tags(body));
            if text.is_empty() {
                "an HTML page without text".to_owned()
            } else {
                format!("HTML page: {text}")
            }
        }
    }
}

/// `s` without `<…>` tags.
fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(4096));
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Whether a body decoded (lossily) as text is really binary: a NUL, or more than 1 in 4
/// characters being control or replacement characters.
fn binaryish(body: &str) -> bool {
    let (mut total, mut odd) = (0usize, 0usize);
    for c in body.chars().take(4096) {
        total += 1;
        if c == '\0' {
            return true;
        }
        if c == '\u{fffd}' || (c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
            odd += 1;
        }
    }
    odd * 4 > total
}

/// An error response body in words, at most [`MAX_ERROR_DESCRIPTION_CHARS`] characters:
/// - RFC 9457 problem+json: `title (status): detail [type …]`;
/// - MediaMTX JSON `{"status":"error","error":"…"}` (and `message`-style bodies): the message;
/// - other JSON: the compact JSON;
/// - HTML: its `<title>` (or `<h1>`);
/// - plain text: trimmed, whitespace and line breaks collapsed;
/// - empty: `empty body`; binary-looking: `N bytes of <content-type>`.
///
/// Control characters never come through.
pub fn describe_error_body(content_type: Option<&str>, body: &str) -> String {
    let mt = content_type.map(media_type).filter(|m| !m.is_empty());
    let trimmed = body.trim_start_matches('\u{feff}').trim();
    if trimmed.is_empty() {
        return "empty body".to_owned();
    }
    if binaryish(trimmed) {
        return format!(
            "{} bytes of {}",
            body.len(),
            mt.as_deref().unwrap_or("unknown type")
        );
    }
    let is_json_type = mt
        .as_deref()
        .is_some_and(|m| m == "application/json" || m.ends_with("+json"));
    let problem = mt.as_deref() == Some(PROBLEM_JSON_MEDIA_TYPE);
    let text = if is_json_type || trimmed.starts_with('{') {
        describe_json(trimmed, problem).unwrap_or_else(|| trimmed.to_owned())
    } else if mt.as_deref() == Some("text/html")
        || mt.as_deref() == Some("application/xhtml+xml")
        || trimmed.starts_with('<')
    {
        describe_html(trimmed)
    } else {
        trimmed.to_owned()
    };
    let text = collapse(&text);
    cut(&text, MAX_ERROR_DESCRIPTION_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_urls() {
        let cases = [
            ("http://host:8889/cam/", "http://host:8889/cam/whep"),
            ("http://host:8889/cam", "http://host:8889/cam/whep"),
            ("http://host:8889/cam/whep", "http://host:8889/cam/whep"),
            ("http://host:8889/cam/whep/", "http://host:8889/cam/whep"),
            ("https://h/a/b/?token=x#frag", "https://h/a/b/whep?token=x"),
            ("http://h", "http://h/whep"),
            ("http://h/whepx", "http://h/whepx/whep"),
        ];
        for (page, expected) in cases {
            let got = whep_url_from_page(&Url::parse(page).unwrap());
            assert_eq!(got.as_str(), expected, "{page}");
        }
    }

    #[test]
    fn locations() {
        let req = Url::parse("http://127.0.0.1:8889/cam/whep?token=t").unwrap();
        let ok = [
            ("/cam/whep/abc", "http://127.0.0.1:8889/cam/whep/abc"),
            ("abc", "http://127.0.0.1:8889/cam/abc"),
            ("whep/abc?x=1", "http://127.0.0.1:8889/cam/whep/abc?x=1"),
            ("  /cam/whep/abc  ", "http://127.0.0.1:8889/cam/whep/abc"),
            ("https://edge.example/r/1", "https://edge.example/r/1"),
            ("//other:9000/x", "http://other:9000/x"),
            ("HTTP://H/X", "http://h/X"),
        ];
        for (loc, expected) in ok {
            assert_eq!(
                resolve_location(&req, loc).map(|u| u.to_string()),
                Ok(expected.to_owned()),
                "{loc}"
            );
        }
        let bad = [
            ("", "empty Location header"),
            ("   ", "empty Location header"),
            ("ftp://h/x", "uses scheme \"ftp\"; only http and https"),
            ("javascript:alert(1)", "uses scheme \"javascript\""),
            ("http://[::1/x", "is not a URL reference"),
            ("/a\r\nSet-Cookie: x", "contains control characters"),
        ];
        for (loc, fragment) in bad {
            let err = resolve_location(&req, loc).unwrap_err();
            assert!(err.contains(fragment), "{loc:?}: {err}");
        }
    }

    #[test]
    fn retry_after() {
        // 1994-11-06T08:49:37Z
        let t = 784_111_777;
        let cases: &[(&str, u64, Option<u64>)] = &[
            ("120", 0, Some(120)),
            (" 0 ", 0, Some(0)),
            ("99999999999999999999999", 0, Some(u64::MAX)),
            ("Sun, 06 Nov 1994 08:49:37 GMT", t - 10, Some(10)),
            ("Sun, 06 Nov 1994 08:49:37 GMT", t, Some(0)),
            ("Sun, 06 Nov 1994 08:49:37 GMT", t + 100, Some(0)),
            ("sun, 06 nov 1994 08:50:37 GMT", t, Some(60)),
            ("Sunday, 06-Nov-94 08:49:38 GMT", t, Some(1)),
            ("Sun Nov  6 08:49:39 1994", t, Some(2)),
            ("Tue, 24 Nov 2026 09:47:13 GMT", 1_795_513_630, Some(3)),
            ("Thu, 29 Feb 2024 00:00:00 GMT", 1_709_164_800 - 5, Some(5)),
            ("-5", 0, None),
            ("1.5", 0, None),
            ("", 0, None),
            ("soon", 0, None),
            ("Sun, 06 Nov 1994 25:49:37 GMT", 0, None),
            ("Sun, 32 Nov 1994 08:49:37 GMT", 0, None),
            ("Sun, 06 Foo 1994 08:49:37 GMT", 0, None),
            ("Sun, 06 Nov 1994 08:49:37 CET", 0, None),
            ("Sun, 06 Nov 1994 08:49 GMT", 0, None),
        ];
        for (v, now, expected) in cases {
            assert_eq!(parse_retry_after(v, *now), *expected, "{v:?}");
        }
        // Far future dates and a huge `now` do not overflow.
        assert!(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", 0).is_some());
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", u64::MAX),
            Some(0)
        );
    }

    #[test]
    fn etags() {
        let cases = [
            (
                "\"f0d0d4636e98\"",
                ETag::Strong("f0d0d4636e98".into()),
                Some("\"f0d0d4636e98\""),
            ),
            (" \"abc\" ", ETag::Strong("abc".into()), Some("\"abc\"")),
            ("\"\"", ETag::Strong(String::new()), Some("\"\"")),
            ("W/\"abc\"", ETag::Weak("abc".into()), Some("W/\"abc\"")),
            ("*", ETag::Star, Some("*")),
            ("\"*\"", ETag::Strong("*".into()), Some("\"*\"")),
            ("abc", ETag::Invalid("abc".into()), Some("abc")),
            (
                "\"a\"b\"",
                ETag::Invalid("\"a\"b\"".into()),
                Some("\"a\"b\""),
            ),
            (
                "w/\"abc\"",
                ETag::Invalid("w/\"abc\"".into()),
                Some("w/\"abc\""),
            ),
            ("\"abc", ETag::Invalid("\"abc".into()), Some("\"abc")),
            ("", ETag::Invalid(String::new()), None),
            ("\"é\"", ETag::Strong("é".into()), None),
            ("a\u{1}b", ETag::Invalid("a\u{1}b".into()), None),
        ];
        for (v, expected, if_match) in cases {
            let e = parse_etag(v);
            assert_eq!(e, expected, "{v:?}");
            assert_eq!(if_match_for_trickle(&e).as_deref(), if_match, "{v:?}");
        }
        assert_eq!(ICE_RESTART_IF_MATCH, "\"*\"");
    }

    #[test]
    fn media_types() {
        let cases = [
            ("application/sdp", "application/sdp"),
            ("application/sdp; charset=utf-8", "application/sdp"),
            ("Application/SDP;charset=UTF-8", "application/sdp"),
            (
                "  application/trickle-ice-sdpfrag  ",
                "application/trickle-ice-sdpfrag",
            ),
            (
                "application/problem+json; charset=utf-8",
                "application/problem+json",
            ),
            ("", ""),
            (";", ""),
        ];
        for (v, expected) in cases {
            assert_eq!(media_type(v), expected, "{v:?}");
        }
        let h = [
            ("ETag", "\"a\""),
            ("link", "<a>; rel=x"),
            ("LINK", "<b>; rel=y"),
        ];
        assert_eq!(header_values(&h, "Link"), vec!["<a>; rel=x", "<b>; rel=y"]);
        assert!(header_values(&h, "Location").is_empty());
    }

    #[test]
    fn error_bodies() {
        let huge = "x".repeat(100_000);
        let long_lines = "first line\nsecond line\n".repeat(50);
        let cases: Vec<(Option<&str>, &str, &str)> = vec![
            (
                Some("text/plain"),
                "  stream not found\n",
                "stream not found",
            ),
            (None, "line one\r\n\r\nline two\n", "line one line two"),
            (
                Some("application/json"),
                r#"{"status":"error","error":"no stream is available on path 'cam'"}"#,
                "no stream is available on path 'cam'",
            ),
            (
                None,
                r#"{"error":"invalid Content-Type"}"#,
                "invalid Content-Type",
            ),
            (
                Some("application/json"),
                r#"{"error":{"code":7,"message":"quota exceeded"}}"#,
                "quota exceeded",
            ),
            (Some("application/json"), r#"{"message":"nope"}"#, "nope"),
            (
                Some("application/problem+json"),
                r#"{"type":"https://example.com/probs/no-stream","title":"No stream","status":409,"detail":"nobody is publishing cam"}"#,
                "No stream (409): nobody is publishing cam [type https://example.com/probs/no-stream]",
            ),
            (
                Some("application/problem+json; charset=utf-8"),
                r#"{"type":"about:blank","status":503}"#,
                "(503)",
            ),
            (
                Some("application/json"),
                r#"{"detail":"bad offer"}"#,
                "bad offer",
            ),
            (
                Some("application/json"),
                r#"{"ok":false}"#,
                r#"JSON {"ok":false}"#,
            ),
            (Some("application/json"), "[1,2,3]", "[1,2,3]"),
            (Some("application/json"), "{not json", "{not json"),
            (
                Some("text/html"),
                "<!DOCTYPE html><html><head><title>404 Not\n Found</title></head><body><h1>x</h1></body></html>",
                "HTML page: 404 Not Found",
            ),
            (
                None,
                "<html><body><h1>502 <b>Bad</b> Gateway</h1><hr>nginx</body></html>",
                "HTML page: 502 Bad Gateway",
            ),
            (
                Some("text/html"),
                "<html><body><p>oops</p></body></html>",
                "HTML page: oops",
            ),
            (
                Some("text/html"),
                "<html></html>",
                "an HTML page without text",
            ),
            (
                Some("application/octet-stream"),
                "\u{0}\u{1}\u{2}binary",
                "9 bytes of application/octet-stream",
            ),
            (
                None,
                "\u{fffd}\u{fffd}\u{fffd}ab",
                "11 bytes of unknown type",
            ),
            (Some("text/plain"), "", "empty body"),
            (None, " \r\n ", "empty body"),
            (
                Some("text/plain"),
                "red \u{1b}[31mALERT\u{1b}[0m",
                "red [31mALERT[0m",
            ),
        ];
        for (ct, body, expected) in cases {
            assert_eq!(
                describe_error_body(ct, body),
                expected,
                "{ct:?} {body:.60?}"
            );
        }
        for body in [huge.as_str(), long_lines.as_str()] {
            let d = describe_error_body(Some("text/plain"), body);
            assert_eq!(d.chars().count(), MAX_ERROR_DESCRIPTION_CHARS, "{d}");
            assert!(d.ends_with('…'));
        }
        let d = describe_error_body(
            Some("application/json"),
            &format!(r#"{{"error":"{}"}}"#, "é".repeat(5000)),
        );
        assert!(d.chars().count() <= MAX_ERROR_DESCRIPTION_CHARS);
    }
}
