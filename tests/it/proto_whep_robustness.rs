//! Robustness of the WHEP protocol layer: thousands of deterministic byte-wise mutations of real
//! fixture headers and bodies (plus hand-written seeds) go through every parser. None may panic;
//! whatever parses must survive a write/read round trip; descriptions stay short and clean.

use crate::support::mutate;
use mutate::{Rng, mutate};

use std::fs;
use std::path::Path;

use rtcscope::proto::whep::{
    Exchange, MAX_ERROR_DESCRIPTION_CHARS, describe_error_body, format_link_ice_server,
    if_match_for_trickle, media_type, parse_etag, parse_link_headers, parse_retry_after,
    parse_sdpfrag, resolve_location, response_deviations, trickle_frag, whep_url_from_page,
    write_sdpfrag,
};
use serde_json::Value;
use url::Url;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/signaling");

/// Interesting fragments to splice in.
const TOKENS: &[&str] = &[
    "\"",
    "\\",
    "\\\"",
    "<",
    ">",
    ",",
    ";",
    "=",
    " ",
    "\t",
    "\r\n",
    "\n",
    "\r",
    "\u{0}",
    "é",
    "€",
    "\u{feff}",
    "rel",
    "ice-server",
    "a=",
    "m=",
    "candidate:",
    "a=end-of-candidates",
    "a=mid:",
    "a=ice-ufrag:",
    "bundle-only",
    " 0 ",
    "W/",
    "*",
    "GMT",
    ":",
    "//",
    "{",
    "}",
    "<title>",
    "</title>",
    "%",
    "?transport=tcp",
];

/// Header values and bodies from the WHEP fixtures, plus hand-written seeds.
struct Seeds {
    links: Vec<String>,
    bodies: Vec<String>,
    short: Vec<String>,
}

fn seeds() -> Seeds {
    let mut s = Seeds {
        links: [
            r#"<turn:h:3478?transport=tcp>; rel="ice-server"; username="a\"b"; credential="c\\d"; credential-type="password", <stun:s:3478>; rel=ice-server"#,
            r#"<urn:ietf:params:whep:ext:core:layer>; rel="urn:ietf:params:whep:ext:core:layer preconnect""#,
        ]
        .map(str::to_owned)
        .to_vec(),
        bodies: [
            "a=ice-ufrag:u\r\na=ice-pwd:p\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=candidate:1 1 udp 1 1.2.3.4 5 typ host\r\na=end-of-candidates\r\n",
            r#"{"status":"error","error":"no stream is available on path 'cam'"}"#,
            r#"{"type":"https://e/x","title":"No stream","status":409,"detail":"later"}"#,
            "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head></html>",
        ]
        .map(str::to_owned)
        .to_vec(),
        short: [
            "120",
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "W/\"abc\"",
            "*",
            "application/sdp; charset=utf-8",
            "//other:9000/x",
            "https://h/a/b/?token=x#f",
            "http://u:p@[::1]:8889/cam",
        ]
        .map(str::to_owned)
        .to_vec(),
    };
    let dir = Path::new(FIXTURES);
    let entries = fs::read_dir(dir).unwrap_or_else(|e| {
        panic!(
            "signaling fixtures not found at {} ({e}); they are part of the repository (tests/fixtures/signaling)",
            dir.display()
        )
    });
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    paths.sort();
    for path in paths.iter().filter(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.contains("-whep") && n.ends_with(".jsonl"))
    }) {
        let text = fs::read_to_string(path).unwrap_or_default();
        for line in text.lines() {
            let Ok(rec) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            for key in ["request_body", "response_body"] {
                if let Some(t) = rec[key].as_str().filter(|t| !t.is_empty()) {
                    s.bodies.push(t.to_owned());
                }
            }
            s.short.push(rec["url"].as_str().unwrap_or("").to_owned());
            for key in ["request_headers", "response_headers"] {
                if let Some(map) = rec[key].as_object() {
                    for (name, v) in map {
                        let Some(v) = v.as_str() else { continue };
                        if name.eq_ignore_ascii_case("link") {
                            s.links.push(v.to_owned());
                        } else {
                            s.short.push(v.to_owned());
                        }
                    }
                }
            }
        }
    }
    assert!(
        s.links.len() >= 4 && s.bodies.len() > 20 && s.short.len() > 50,
        "fixtures too small"
    );
    s
}

fn exercise_links(value: &str) {
    let parsed = parse_link_headers(&[value, value]);
    for e in &parsed.errors {
        assert!(!e.is_empty() && e.chars().count() < 400, "{e}");
    }
    for server in &parsed.ice_servers {
        let text = format_link_ice_server(server);
        assert!(!text.contains(['\r', '\n']), "{text:?}");
        let back = parse_link_headers(&[&text]);
        assert_eq!(back.ice_servers.len(), 1, "{text:?} from {value:?}");
        let clean = |s: &Option<String>| s.as_ref().is_none_or(|v| !v.contains(char::is_control));
        if !server.url.contains(char::is_control)
            && clean(&server.username)
            && clean(&server.credential)
            && clean(&server.credential_type)
        {
            assert_eq!(&back.ice_servers[0], server, "{text:?} from {value:?}");
        }
    }
}

fn exercise_body(body: &str) {
    match parse_sdpfrag(body) {
        Ok(frag) => {
            let text = write_sdpfrag(&frag);
            assert_eq!(
                parse_sdpfrag(&text).as_ref(),
                Ok(&frag),
                "{text:?} from {body:?}"
            );
        }
        Err(e) => assert!(!e.is_empty() && e.chars().count() < 300, "{e}"),
    }
    let cands = vec!["candidate:1 1 udp 1 1.2.3.4 5 typ host".to_owned()];
    if let Ok(frag) = trickle_frag(body, &cands, true) {
        let text = write_sdpfrag(&frag);
        let back = parse_sdpfrag(&text).unwrap_or_else(|e| panic!("{e}: {text:?}"));
        assert_eq!(back.ufrag(), frag.ufrag(), "{text:?}");
        assert_eq!(back.media.len(), 1, "{text:?}");
        assert_eq!(back.media[0].candidates, cands, "{text:?}");
    }
    for ct in [
        None,
        Some("application/json"),
        Some("text/html"),
        Some("text/plain"),
    ] {
        let d = describe_error_body(ct, body);
        assert!(d.chars().count() <= MAX_ERROR_DESCRIPTION_CHARS, "{d}");
        assert!(!d.contains(char::is_control), "{d:?}");
        assert!(!d.is_empty());
    }
    for e in [
        Exchange::Options,
        Exchange::Post,
        Exchange::Patch { ice_restart: true },
        Exchange::Delete,
    ] {
        for d in response_deviations(e, 201, &[("ETag", body), ("Link", body)], body) {
            assert!(!d.text.is_empty());
        }
    }
}

fn exercise_short(s: &str, base: &Url) {
    let _ = parse_retry_after(s, 784_111_777);
    let _ = parse_retry_after(s, u64::MAX);
    let etag = parse_etag(s);
    assert_eq!(parse_etag(&etag.header_value()), etag, "{s:?}");
    if let Some(v) = if_match_for_trickle(&etag) {
        assert!(v.chars().all(|c| c.is_ascii_graphic() || c == ' '), "{v:?}");
    }
    let mt = media_type(s);
    assert_eq!(media_type(&mt), mt);
    if let Ok(u) = resolve_location(base, s) {
        assert!(matches!(u.scheme(), "http" | "https"), "{u}");
    }
    if let Ok(page) = Url::parse(s) {
        let w = whep_url_from_page(&page);
        if page.scheme() == "http" || page.scheme() == "https" {
            assert!(w.path().ends_with("/whep"), "{s:?} → {w}");
            assert_eq!(whep_url_from_page(&w), w, "{s:?}");
        }
    }
    let _ = response_deviations(Exchange::Post, 201, &[("ETag", s), ("Content-Type", s)], s);
}

#[test]
fn mutated_link_headers_never_panic() {
    let s = seeds();
    let mut rng = Rng(0x5eed_1ace_0000_0001);
    let mut parsed = 0;
    for _ in 0..5000 {
        let seed = &s.links[rng.below(s.links.len())];
        let other = &s.links[rng.below(s.links.len())];
        let m = mutate(&mut rng, seed, other, TOKENS);
        if !parse_link_headers(&[&m]).ice_servers.is_empty() {
            parsed += 1;
        }
        exercise_links(&m);
    }
    assert!(parsed > 500, "only {parsed} mutated Link headers parsed");
}

#[test]
fn mutated_bodies_never_panic() {
    let s = seeds();
    let mut rng = Rng(0x5eed_1ace_0000_0002);
    let mut parsed = 0;
    for _ in 0..4000 {
        let seed = &s.bodies[rng.below(s.bodies.len())];
        let other = &s.bodies[rng.below(s.bodies.len())];
        let m = mutate(&mut rng, seed, other, TOKENS);
        if parse_sdpfrag(&m).is_ok() {
            parsed += 1;
        }
        exercise_body(&m);
    }
    assert!(parsed > 500, "only {parsed} mutated bodies parsed");
}

#[test]
fn mutated_short_values_never_panic() {
    let s = seeds();
    let base = Url::parse("http://127.0.0.1:8889/cam/whep?token=t").unwrap();
    let mut rng = Rng(0x5eed_1ace_0000_0003);
    for _ in 0..6000 {
        let seed = &s.short[rng.below(s.short.len())];
        let other = &s.short[rng.below(s.short.len())];
        exercise_short(&mutate(&mut rng, seed, other, TOKENS), &base);
    }
}

#[test]
fn pathological_inputs() {
    let base = Url::parse("https://h/cam/whep").unwrap();
    let many_links = r#"<stun:h:1>; rel="ice-server", "#.repeat(20_000);
    let deep_quotes = "\"\\".repeat(100_000);
    let huge_frag = "a=candidate:1 1 udp 1 1.2.3.4 5 typ host\r\n".repeat(30_000);
    let deep_json = r#"{"error":"#.repeat(50_000);
    let long_line = "x".repeat(1 << 20);
    let many_sections = "m=video 0 P 1\r\na=bundle-only\r\n".repeat(20_000);
    for s in [
        many_links.as_str(),
        deep_quotes.as_str(),
        huge_frag.as_str(),
        deep_json.as_str(),
        long_line.as_str(),
        many_sections.as_str(),
        "\u{feff}",
        "\0",
        "<",
        "<<<>>>",
        "a=",
        "m=",
    ] {
        exercise_links(s);
        exercise_body(s);
        exercise_short(s, &base);
    }
    assert_eq!(parse_link_headers(&[&many_links]).ice_servers.len(), 20_000);
}
