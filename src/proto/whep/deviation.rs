//! Where a server differs from draft-ietf-wish-whep (and the WHIP conventions of RFC 9725 it
//! follows), as *information* for the viewer: none of these stop a session. The engine calls
//! [`response_deviations`] for every response and [`ice_servers_only_on_options`] once the 201
//! is in, and shows each sentence once (the [`Deviation::key`] tells repeats apart).

use std::fmt;

use super::http::{ETag, header_values, media_type, parse_etag};
use super::link::parse_link_headers;
use super::{PROBLEM_JSON_MEDIA_TYPE, SDP_MEDIA_TYPE, SDPFRAG_MEDIA_TYPE, quote};

/// Which request a response answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exchange {
    /// `OPTIONS` on the endpoint.
    Options,
    /// `POST` of the offer on the endpoint.
    Post,
    /// `PATCH` on the session resource: trickle (`ice_restart: false`) or ICE restart.
    Patch {
        /// Whether the PATCH carried new ICE credentials.
        ice_restart: bool,
    },
    /// `DELETE` of the session resource.
    Delete,
}

/// One way the server differs from the draft, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deviation {
    /// Stable short identifier (`etag-star`, `no-location`, …), for de-duplication and tests.
    pub key: &'static str,
    /// A sentence for the user, naming the specification section where possible.
    pub text: String,
}

impl fmt::Display for Deviation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn dev(key: &'static str, text: impl Into<String>) -> Deviation {
    Deviation {
        key,
        text: text.into(),
    }
}

/// Whether the headers carry at least one `rel="ice-server"` link.
fn has_ice_server_links(headers: &[(&str, &str)]) -> bool {
    !parse_link_headers(&header_values(headers, "link"))
        .ice_servers
        .is_empty()
}

/// The first value of a header, trimmed.
fn first<'a>(headers: &[(&'a str, &'a str)], name: &str) -> Option<&'a str> {
    header_values(headers, name).first().map(|v| v.trim())
}

/// Deviations seen in the `ETag` of a 201 or of an ICE-restart 200.
fn etag_deviations(headers: &[(&str, &str)], what: &str, out: &mut Vec<Deviation>) {
    let Some(raw) = first(headers, "etag") else {
        out.push(dev(
            "no-etag",
            format!(
                "{what} without ETag: the resource's ICE session has no entity tag to send back \
                 in If-Match (RFC 9725 §4.3.1), so PATCHes go without one"
            ),
        ));
        return;
    };
    match parse_etag(raw) {
        ETag::Strong(_) => {}
        ETag::Star => out.push(dev(
            "etag-star",
            format!(
                "{what} with a bare `ETag: *` (as MediaMTX sends): not an entity tag; the draft \
                 expects a strong ETag per ICE session (RFC 9725 §4.3.1). It is sent back as \
                 `If-Match: *`"
            ),
        )),
        ETag::Weak(_) => out.push(dev(
            "etag-weak",
            format!(
                "{what} with a weak ETag {}: If-Match compares strongly, so a weak tag never \
                 matches (RFC 9110 §13.1.1); the draft expects a strong one",
                quote(raw)
            ),
        )),
        ETag::Invalid(_) => out.push(dev(
            "etag-invalid",
            format!(
                "{what} with ETag {}, which is not a quoted entity tag (RFC 9110 §8.8.3); it is \
                 sent back as received",
                quote(raw)
            ),
        )),
    }
}

/// Deviations from the draft in one response. `headers` are `(name, value)` pairs (names in
/// any case, repeated headers as repeated pairs); `body` is the response body as text.
///
/// Checked: redirects other than 307; error bodies that are not RFC 9457 problem+json;
/// 409/503 without `Retry-After`; ICE servers on OPTIONS; for a 201: missing `Location`,
/// missing/`*`/weak/invalid `ETag`, a non-`application/sdp` answer, missing `Accept-Patch`, an
/// empty body; POST answered 200 instead of 201; 404 where the draft means 409; a 406 without a
/// counter-offer; a trickle PATCH answered 200; an ICE restart answered 204, or without a new
/// ETag or sdpfrag; DELETE answered other than 200.
pub fn response_deviations(
    exchange: Exchange,
    status: u16,
    headers: &[(&str, &str)],
    body: &str,
) -> Vec<Deviation> {
    let mut out = Vec::new();
    let ct = first(headers, "content-type").map(media_type);
    let body_empty = body.trim().is_empty();

    if matches!(status, 301 | 302 | 303 | 308) {
        out.push(dev(
            "redirect-not-307",
            format!(
                "redirected with {status}: WHIP/WHEP redirects use 307 Temporary Redirect \
                 (RFC 9725 §4.5), which keeps the method and body"
            ),
        ));
    }
    let counter_offer = status == 406 && ct.as_deref() == Some(SDP_MEDIA_TYPE);
    if status >= 400
        && !body_empty
        && !counter_offer
        && ct.as_deref() != Some(PROBLEM_JSON_MEDIA_TYPE)
    {
        let what = match ct.as_deref() {
            Some(m) if !m.is_empty() => m.to_owned(),
            _ => "untyped".to_owned(),
        };
        out.push(dev(
            "error-not-problem-json",
            format!(
                "error body is {what}, not RFC 9457 application/problem+json (the draft lets \
                 servers use problem details; MediaMTX sends {{\"error\":…}} JSON)"
            ),
        ));
    }
    if matches!(status, 409 | 503) && first(headers, "retry-after").is_none() {
        out.push(dev(
            "no-retry-after",
            format!(
                "{status} without Retry-After: the draft pairs 409 (no publisher yet) and 503 \
                 (overload) with Retry-After so players know when to try again"
            ),
        ));
    }

    match exchange {
        Exchange::Options => {
            if (200..300).contains(&status) && has_ice_server_links(headers) {
                out.push(dev(
                    "ice-servers-on-options",
                    "ICE servers sent on OPTIONS: RFC 9725 §4.6 allows it but does not \
                     recommend it; the draft sends them with the 201",
                ));
            }
        }
        Exchange::Post => match status {
            201 => {
                if first(headers, "location").is_none_or(str::is_empty) {
                    out.push(dev(
                        "no-location",
                        "201 without Location: the session resource is unknown, so trickle, \
                         ICE restart and DELETE are impossible (RFC 9725 §4.2)",
                    ));
                }
                etag_deviations(headers, "201", &mut out);
                match ct.as_deref() {
                    Some(SDP_MEDIA_TYPE) => {}
                    Some(m) if !m.is_empty() => out.push(dev(
                        "answer-not-sdp",
                        format!(
                            "201 answer has Content-Type {m}, not application/sdp \
                             (RFC 9725 §4.2)"
                        ),
                    )),
                    _ => out.push(dev(
                        "answer-not-sdp",
                        "201 answer has no Content-Type; the draft says application/sdp \
                         (RFC 9725 §4.2)",
                    )),
                }
                if body_empty {
                    out.push(dev(
                        "answer-empty",
                        "201 with an empty body: there is no SDP answer (RFC 9725 §4.2)",
                    ));
                }
                let accept_patch = header_values(headers, "accept-patch");
                if accept_patch.is_empty() {
                    out.push(dev(
                        "no-accept-patch",
                        "201 without Accept-Patch: the server does not say that it takes \
                         application/trickle-ice-sdpfrag PATCHes (RFC 5789 §3.1, RFC 9725 \
                         §4.3.1); trickle and ICE restart are tried anyway",
                    ));
                } else if !accept_patch
                    .iter()
                    .flat_map(|v| v.split(','))
                    .any(|m| media_type(m) == SDPFRAG_MEDIA_TYPE)
                {
                    out.push(dev(
                        "accept-patch-no-sdpfrag",
                        format!(
                            "201 Accept-Patch {} does not list application/trickle-ice-sdpfrag \
                             (RFC 9725 §4.3.1)",
                            quote(&accept_patch.join(", "))
                        ),
                    ));
                }
            }
            200 => out.push(dev(
                "post-200",
                "POST answered 200 instead of 201 Created (RFC 9725 §4.2)",
            )),
            404 => out.push(dev(
                "404-not-409",
                "404 on the endpoint: if it means nobody is publishing on this path (MediaMTX: \
                 \"no stream is available on path\"), the draft answers 409 Conflict with \
                 Retry-After instead",
            )),
            406 if ct.as_deref() != Some(SDP_MEDIA_TYPE)
                || body_empty
                || first(headers, "location").is_none() =>
            {
                out.push(dev(
                    "406-no-counter-offer",
                    "406 without a counter-offer: the draft's 406 carries an \
                     application/sdp offer and a Location to PATCH the answer to",
                ));
            }
            _ => {}
        },
        Exchange::Patch { ice_restart: false } => {
            if status == 200 {
                out.push(dev(
                    "trickle-200",
                    "trickle PATCH answered 200; the draft says 204 No Content (RFC 9725 §4.3.2)",
                ));
            }
        }
        Exchange::Patch { ice_restart: true } => match status {
            204 => out.push(dev(
                "restart-204",
                "ICE-restart PATCH answered 204: no new server ufrag/pwd or candidates; the \
                 draft expects 200 with an sdpfrag and a new ETag (RFC 9725 §4.3.3)",
            )),
            200 => {
                etag_deviations(headers, "ICE-restart 200", &mut out);
                if ct.as_deref() != Some(SDPFRAG_MEDIA_TYPE) {
                    out.push(dev(
                        "restart-not-sdpfrag",
                        format!(
                            "ICE-restart 200 has Content-Type {}, not \
                             application/trickle-ice-sdpfrag (RFC 9725 §4.3.3)",
                            ct.as_deref().filter(|m| !m.is_empty()).unwrap_or("(none)")
                        ),
                    ));
                }
            }
            _ => {}
        },
        Exchange::Delete => {
            if (200..300).contains(&status) && status != 200 {
                out.push(dev(
                    "delete-not-200",
                    format!("DELETE answered {status}; the draft says 200 OK (RFC 9725 §4.2)"),
                ));
            } else if status == 405 {
                out.push(dev(
                    "delete-405",
                    "DELETE not allowed on the session resource: the draft requires it to end \
                     the session (RFC 9725 §4.2)",
                ));
            }
        }
    }
    out
}

/// "ICE servers only on OPTIONS": the OPTIONS response had `rel="ice-server"` links and the 201
/// had none. The draft sends them with the 201 (RFC 9725 §4.6), so a player that skips
/// OPTIONS gets no STUN/TURN servers.
pub fn ice_servers_only_on_options(
    options_had_ice_servers: bool,
    created_had_ice_servers: bool,
) -> Option<Deviation> {
    (options_had_ice_servers && !created_had_ice_servers).then(|| {
        dev(
            "ice-servers-only-on-options",
            "ICE servers only on OPTIONS, none on the 201: the draft sends them with the 201 \
             (RFC 9725 §4.6), so a player that skips OPTIONS gets no STUN/TURN servers",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(v: &[Deviation]) -> Vec<&'static str> {
        v.iter().map(|d| d.key).collect()
    }

    const TURN_LINK: &str = r#"<turn:127.0.0.1:3478>; rel="ice-server"; username="test"; credential="secret"; credential-type="password""#;

    /// (exchange, status, headers, body, expected keys)
    type Case<'a> = (
        Exchange,
        u16,
        Vec<(&'a str, &'a str)>,
        &'a str,
        Vec<&'a str>,
    );

    #[test]
    fn per_response() {
        let sdp = "v=0\r\n";
        let cases: Vec<Case> = vec![
            // The fixtures' compliant 201.
            (
                Exchange::Post,
                201,
                vec![
                    ("Location", "/cam/whep/f0d0d4636e98"),
                    ("ETag", "\"f0d0d4636e98\""),
                    ("Content-Type", "application/sdp; charset=utf-8"),
                    ("Accept-Patch", "application/trickle-ice-sdpfrag"),
                    ("Link", TURN_LINK),
                ],
                sdp,
                vec![],
            ),
            // MediaMTX's 201.
            (
                Exchange::Post,
                201,
                vec![
                    ("Content-Type", "application/sdp"),
                    ("ETag", "*"),
                    ("Accept-Patch", "application/trickle-ice-sdpfrag"),
                    ("Location", "/cam/whep/5f0c…"),
                ],
                sdp,
                vec!["etag-star"],
            ),
            // A sparse 201.
            (
                Exchange::Post,
                201,
                vec![("content-type", "text/plain")],
                "",
                vec![
                    "no-location",
                    "no-etag",
                    "answer-not-sdp",
                    "answer-empty",
                    "no-accept-patch",
                ],
            ),
            (
                Exchange::Post,
                201,
                vec![
                    ("Location", "x"),
                    ("ETag", "W/\"a\""),
                    ("Content-Type", "application/sdp"),
                    ("Accept-Patch", "application/json-patch+json"),
                ],
                sdp,
                vec!["etag-weak", "accept-patch-no-sdpfrag"],
            ),
            (
                Exchange::Post,
                201,
                vec![
                    ("Location", "x"),
                    ("ETag", "abc"),
                    (
                        "Accept-Patch",
                        "application/json, application/trickle-ice-sdpfrag",
                    ),
                ],
                sdp,
                vec!["etag-invalid", "answer-not-sdp"],
            ),
            (
                Exchange::Post,
                404,
                vec![("Content-Type", "application/json")],
                r#"{"status":"error","error":"no stream is available on path 'cam'"}"#,
                vec!["error-not-problem-json", "404-not-409"],
            ),
            (
                Exchange::Post,
                409,
                vec![("Content-Type", "application/problem+json")],
                r#"{"title":"no publisher"}"#,
                vec!["no-retry-after"],
            ),
            (Exchange::Post, 503, vec![("Retry-After", "5")], "", vec![]),
            (Exchange::Post, 200, vec![], sdp, vec!["post-200"]),
            (
                Exchange::Post,
                302,
                vec![("Location", "/x")],
                "",
                vec!["redirect-not-307"],
            ),
            (Exchange::Post, 307, vec![("Location", "/x")], "", vec![]),
            (
                Exchange::Post,
                406,
                vec![],
                "",
                vec!["406-no-counter-offer"],
            ),
            (
                Exchange::Post,
                406,
                vec![
                    ("Content-Type", "application/sdp; valid-until=\"…\""),
                    ("Location", "/r/1"),
                ],
                sdp,
                vec![],
            ),
            (
                Exchange::Options,
                204,
                vec![("Link", TURN_LINK)],
                "",
                vec!["ice-servers-on-options"],
            ),
            (
                Exchange::Options,
                204,
                vec![("Link", "<stun:h>; rel=next")],
                "",
                vec![],
            ),
            (
                Exchange::Patch { ice_restart: false },
                204,
                vec![],
                "",
                vec![],
            ),
            (
                Exchange::Patch { ice_restart: false },
                200,
                vec![],
                "",
                vec!["trickle-200"],
            ),
            (
                Exchange::Patch { ice_restart: false },
                405,
                vec![("Content-Type", "text/plain")],
                "method not allowed",
                vec!["error-not-problem-json"],
            ),
            (
                Exchange::Patch { ice_restart: true },
                200,
                vec![
                    ("ETag", "\"newufrag\""),
                    ("Content-Type", "application/trickle-ice-sdpfrag"),
                ],
                "a=ice-ufrag:x\r\n",
                vec![],
            ),
            (
                Exchange::Patch { ice_restart: true },
                200,
                vec![("Content-Type", "application/sdp")],
                "a=ice-ufrag:x\r\n",
                vec!["no-etag", "restart-not-sdpfrag"],
            ),
            (
                Exchange::Patch { ice_restart: true },
                204,
                vec![],
                "",
                vec!["restart-204"],
            ),
            (Exchange::Delete, 200, vec![], "", vec![]),
            (Exchange::Delete, 204, vec![], "", vec!["delete-not-200"]),
            (Exchange::Delete, 405, vec![], "", vec!["delete-405"]),
        ];
        for (exchange, status, headers, body, expected) in cases {
            let got = response_deviations(exchange, status, &headers, body);
            assert_eq!(keys(&got), expected, "{exchange:?} {status} {headers:?}");
            for d in &got {
                assert!(d.text.len() < 300, "{}", d.text);
                assert!(!d.text.contains("secret"), "{}", d.text);
            }
        }
    }

    #[test]
    fn sentences_read_well() {
        let got = response_deviations(Exchange::Post, 201, &[("ETag", "*")], "v=0");
        let star = got.iter().find(|d| d.key == "etag-star").unwrap();
        assert_eq!(
            star.to_string(),
            "201 with a bare `ETag: *` (as MediaMTX sends): not an entity tag; the draft expects \
             a strong ETag per ICE session (RFC 9725 §4.3.1). It is sent back as `If-Match: *`"
        );
    }

    #[test]
    fn only_on_options() {
        assert_eq!(
            ice_servers_only_on_options(true, false).map(|d| d.key),
            Some("ice-servers-only-on-options")
        );
        assert_eq!(ice_servers_only_on_options(true, true), None);
        assert_eq!(ice_servers_only_on_options(false, false), None);
        assert_eq!(ice_servers_only_on_options(false, true), None);
    }
}
