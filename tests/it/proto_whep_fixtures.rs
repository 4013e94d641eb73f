//! The WHEP protocol layer against real HTTP exchanges (`tests/fixtures/signaling/*-whep*.jsonl`,
//! see its README): Link ICE servers, the viewer's trickle PATCH bodies, frags rebuilt from the
//! offers, Location and ETag handling, and the deviations reported for each response.

use std::fs;
use std::path::{Path, PathBuf};

use rtcscope::proto::candidate::parse_candidate;
use rtcscope::proto::whep::{
    ETag, Exchange, LinkIceServer, format_link_ice_server, header_values,
    ice_servers_only_on_options, if_match_for_trickle, media_type, parse_etag, parse_link_headers,
    parse_sdpfrag, resolve_location, response_deviations, trickle_frag, write_sdpfrag,
};
use serde_json::Value;
use url::Url;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/signaling");

/// The `*-whep*.jsonl` fixture files, sorted; fails clearly when the folder is missing.
fn whep_files() -> Vec<PathBuf> {
    let dir = Path::new(FIXTURES);
    let entries = fs::read_dir(dir).unwrap_or_else(|e| {
        panic!(
            "signaling fixtures not found at {} ({e}); they are part of the repository (tests/fixtures/signaling)",
            dir.display()
        )
    });
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable fixture directory entry").path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".jsonl") && name.contains("-whep")
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 8,
        "expected the 8 *-whep*.jsonl fixtures in {}, found {}",
        dir.display(),
        files.len()
    );
    files
}

/// One recorded HTTP exchange.
struct Exchanged {
    method: String,
    url: String,
    request_headers: Vec<(String, String)>,
    request_body: Option<String>,
    status: u16,
    response_headers: Vec<(String, String)>,
    response_body: String,
}

/// Header pairs in order; a list value becomes repeated pairs.
fn headers(v: &Value) -> Vec<(String, String)> {
    let Some(map) = v.as_object() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, value) in map {
        match value {
            Value::String(s) => out.push((name.clone(), s.clone())),
            Value::Array(items) => out.extend(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|s| (name.clone(), s.to_owned())),
            ),
            other => panic!("header {name} has a non-string value {other}"),
        }
    }
    out
}

fn exchanges(path: &Path) -> Vec<Exchanged> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{} line {}: {e}", path.display(), i + 1));
            Exchanged {
                method: v["method"].as_str().expect("method").to_owned(),
                url: v["url"].as_str().expect("url").to_owned(),
                request_headers: headers(&v["request_headers"]),
                request_body: v["request_body"].as_str().map(str::to_owned),
                status: v["status"].as_u64().expect("status") as u16,
                response_headers: headers(&v["response_headers"]),
                response_body: v["response_body"].as_str().unwrap_or("").to_owned(),
            }
        })
        .collect()
}

fn borrowed(h: &[(String, String)]) -> Vec<(&str, &str)> {
    h.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect()
}

fn one<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The value of the first `a=<attr>:` line of an SDP.
fn sdp_attr<'a>(sdp: &'a str, attr: &str) -> Option<&'a str> {
    let prefix = format!("a={attr}:");
    sdp.lines()
        .map(|l| l.trim_end_matches('\r'))
        .find_map(|l| l.strip_prefix(prefix.as_str()))
}

fn by_method<'a>(all: &'a [Exchanged], method: &str, file: &str) -> &'a Exchanged {
    all.iter()
        .find(|x| x.method == method)
        .unwrap_or_else(|| panic!("{file}: no {method} exchange"))
}

#[test]
fn every_whep_fixture_goes_through_the_protocol_layer() {
    let turn = LinkIceServer {
        url: "turn:127.0.0.1:3478".into(),
        username: Some("test".into()),
        credential: Some("secret".into()),
        credential_type: Some("password".into()),
    };
    let mut files_checked = 0;
    let mut candidates_checked = 0;
    for path in whep_files() {
        let file = name(&path);
        let all = exchanges(&path);
        let methods: Vec<&str> = all.iter().map(|x| x.method.as_str()).collect();
        assert_eq!(methods, ["OPTIONS", "POST", "PATCH", "DELETE"], "{file}");
        let (options, post, patch, delete) = (
            by_method(&all, "OPTIONS", &file),
            by_method(&all, "POST", &file),
            by_method(&all, "PATCH", &file),
            by_method(&all, "DELETE", &file),
        );
        let is_turn = file.contains("turn");

        // Link headers on OPTIONS and on the 201.
        let mut had = Vec::new();
        for x in [options, post] {
            let h = borrowed(&x.response_headers);
            let links = header_values(&h, "link");
            let parsed = parse_link_headers(&links);
            assert!(
                parsed.errors.is_empty(),
                "{file} {}: {:?}",
                x.method,
                parsed.errors
            );
            assert!(parsed.other.is_empty(), "{file} {}", x.method);
            if is_turn {
                assert_eq!(
                    parsed.ice_servers,
                    vec![turn.clone()],
                    "{file} {}",
                    x.method
                );
                // The server's header is exactly what the formatter writes.
                assert_eq!(format_link_ice_server(&turn), links[0], "{file}");
            } else {
                assert!(parsed.ice_servers.is_empty(), "{file} {}", x.method);
            }
            had.push(!parsed.ice_servers.is_empty());
        }
        assert_eq!(ice_servers_only_on_options(had[0], had[1]), None, "{file}");

        // The 201.
        assert_eq!(post.status, 201, "{file}");
        let post_url = Url::parse(&post.url).expect("POST URL");
        let ct = one(&post.response_headers, "content-type").expect("answer content type");
        assert_eq!(media_type(ct), "application/sdp", "{file}");
        let location = one(&post.response_headers, "location").expect("Location");
        let resource = resolve_location(&post_url, location)
            .unwrap_or_else(|e| panic!("{file}: Location {location:?}: {e}"));
        assert_eq!(
            resource.as_str(),
            patch.url,
            "{file}: PATCH goes to the resource"
        );
        assert_eq!(
            resource.as_str(),
            delete.url,
            "{file}: DELETE goes to the resource"
        );
        let etag = parse_etag(one(&post.response_headers, "etag").expect("ETag"));
        let id = location.rsplit('/').next().unwrap_or_default();
        assert_eq!(etag, ETag::Strong(id.to_owned()), "{file}");
        assert_eq!(
            if_match_for_trickle(&etag).as_deref(),
            one(&patch.request_headers, "if-match"),
            "{file}: If-Match is the ETag as received"
        );

        // The viewer's trickle PATCH body.
        assert_eq!(
            one(&patch.request_headers, "content-type")
                .map(media_type)
                .as_deref(),
            Some("application/trickle-ice-sdpfrag"),
            "{file}"
        );
        let body = patch.request_body.as_deref().expect("PATCH body");
        let frag = parse_sdpfrag(body).unwrap_or_else(|e| panic!("{file}: PATCH body: {e}"));
        let offer = post.request_body.as_deref().expect("offer");
        let (ufrag, pwd) = (
            sdp_attr(offer, "ice-ufrag").expect("offer ufrag"),
            sdp_attr(offer, "ice-pwd").expect("offer pwd"),
        );
        assert_eq!(frag.group.as_deref(), Some("BUNDLE 0"), "{file}");
        assert_eq!(frag.media.len(), 1, "{file}");
        let m = &frag.media[0];
        assert!(m.media_line.starts_with("m=video "), "{file}");
        assert_eq!(m.mid.as_deref(), Some("0"), "{file}");
        assert_eq!(
            m.ice_ufrag.as_deref(),
            Some(ufrag),
            "{file}: media-level ufrag"
        );
        assert_eq!(m.ice_pwd.as_deref(), Some(pwd), "{file}: media-level pwd");
        assert_eq!(
            (frag.ufrag(), frag.pwd()),
            (Some(ufrag), Some(pwd)),
            "{file}"
        );
        assert!(m.end_of_candidates, "{file}: end-of-candidates");
        let want_cands = if is_turn { 3 } else { 2 };
        assert_eq!(m.candidates.len(), want_cands, "{file}");
        for c in &m.candidates {
            parse_candidate(c).unwrap_or_else(|e| panic!("{file}: {c:?}: {e}"));
            candidates_checked += 1;
        }
        if is_turn {
            assert!(
                m.candidates.iter().any(|c| c.contains(" typ relay ")),
                "{file}"
            );
        }
        // Same layout as the writer: byte for byte.
        assert_eq!(write_sdpfrag(&frag), body, "{file}: write(parse(body))");

        // The frag rebuilt from the offer and the PATCH's candidates.
        let rebuilt = trickle_frag(offer, &m.candidates, true)
            .unwrap_or_else(|e| panic!("{file}: trickle_frag: {e}"));
        let back = parse_sdpfrag(&write_sdpfrag(&rebuilt)).expect("rebuilt frag parses");
        assert_eq!(back, rebuilt, "{file}");
        assert_eq!(
            (back.ufrag(), back.pwd()),
            (Some(ufrag), Some(pwd)),
            "{file}"
        );
        assert_eq!(back.group, frag.group, "{file}");
        let bm = &back.media[0];
        assert_eq!(bm.mid, m.mid, "{file}");
        assert_eq!(bm.candidates, m.candidates, "{file}");
        assert!(bm.end_of_candidates, "{file}");
        // The viewer kept the offer's port; the rebuilt frag uses the discard port 9.
        let fields: Vec<&str> = m.media_line.split(' ').collect();
        let expected_mline = format!("{} 9 {}", fields[0], fields[2..].join(" "));
        assert_eq!(bm.media_line, expected_mline, "{file}");

        // The server side: a restart-style frag from each answer, with the answer's candidates.
        let answer = &post.response_body;
        let answer_cands: Vec<String> = answer
            .split("\r\n")
            .filter_map(|l| l.strip_prefix("a="))
            .filter(|l| l.starts_with("candidate:"))
            .map(str::to_owned)
            .collect();
        assert!(
            !answer_cands.is_empty(),
            "{file}: the WHEP answers hold candidates"
        );
        let server = trickle_frag(answer, &answer_cands, true)
            .unwrap_or_else(|e| panic!("{file}: trickle_frag(answer): {e}"));
        assert_eq!(server.ufrag(), sdp_attr(answer, "ice-ufrag"), "{file}");
        assert_eq!(
            parse_sdpfrag(&write_sdpfrag(&server)).as_ref(),
            Ok(&server),
            "{file}"
        );

        // Deviations: the fixtures' front end sends Accept-Patch only on OPTIONS, and the
        // TURN Link also on OPTIONS; otherwise it follows the draft.
        let keys = |x: &Exchanged, e: Exchange| -> Vec<&'static str> {
            response_deviations(
                e,
                x.status,
                &borrowed(&x.response_headers),
                &x.response_body,
            )
            .into_iter()
            .map(|d| d.key)
            .collect()
        };
        let expected_options: Vec<&str> = if is_turn {
            vec!["ice-servers-on-options"]
        } else {
            vec![]
        };
        assert_eq!(keys(options, Exchange::Options), expected_options, "{file}");
        assert_eq!(keys(post, Exchange::Post), ["no-accept-patch"], "{file}");
        assert_eq!(
            keys(patch, Exchange::Patch { ice_restart: false }),
            Vec::<&str>::new(),
            "{file}"
        );
        assert_eq!(keys(delete, Exchange::Delete), Vec::<&str>::new(), "{file}");
        assert_eq!((patch.status, delete.status), (204, 200), "{file}");
        files_checked += 1;
    }
    assert_eq!(files_checked, 8);
    assert!(candidates_checked >= 18, "{candidates_checked}");
}
