//! Table tests of the WHEP client, without sockets: every exchange is a scripted [`HttpResponse`], every
//! peer request a scripted [`PeerResult`]. The client has no timers; pauses (Retry-After) are outputs
//! to the session, checked as such.

use super::*;
use crate::event::RestartCause;
use crate::session::{Policy, Session};

const ENDPOINT: &str = "https://h.example/whep/cam";
const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=ice-ufrag:locU\r\na=ice-pwd:localpasswordlocalpassword\r\na=recvonly\r\n";
const RESTART_OFFER: &str = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=ice-ufrag:newU\r\na=ice-pwd:newlocalpasswordnewlocalpass\r\n";
const ANSWER: &str = "v=0\r\no=- 2 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=ice-ufrag:remU\r\na=ice-pwd:remotepasswordremotepassword\r\na=candidate:1 1 udp 2130706431 10.0.0.1 40000 typ host\r\na=sendonly\r\n";
const CAND: &str = "candidate:2 1 udp 2130706431 192.168.1.2 50000 typ host";

fn config() -> ClientConfig {
    ClientConfig {
        url: url::Url::parse(ENDPOINT).expect("url"),
        authorization: Some("Bearer tok".into()),
        headers: vec![],
    }
}

fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
    HttpResponse {
        status,
        reason: String::new(),
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        body: body.to_owned(),
        size: body.len(),
        unix_secs: 1_700_000_000,
    }
}

fn drain(c: &mut WhepClient) -> Vec<Output> {
    std::iter::from_fn(|| c.poll_output()).collect()
}

fn requests(out: &[Output]) -> Vec<HttpRequest> {
    out.iter()
        .filter_map(|o| match o {
            Output::Http(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

fn the_request(out: &[Output]) -> HttpRequest {
    let r = requests(out);
    assert_eq!(r.len(), 1, "one request expected in {out:#?}");
    r[0].clone()
}

fn header<'a>(r: &'a HttpRequest, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn sessions(out: &[Output]) -> Vec<session::Input> {
    out.iter()
        .filter_map(|o| match o {
            Output::Session(i) => Some(i.clone()),
            _ => None,
        })
        .collect()
}

fn peers(out: &[Output]) -> Vec<PeerRequest> {
    out.iter()
        .filter_map(|o| match o {
            Output::Peer(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

fn events(out: &[Output]) -> Vec<Event> {
    out.iter()
        .filter_map(|o| match o {
            Output::Event(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

fn messages(out: &[Output]) -> Vec<String> {
    events(out)
        .into_iter()
        .filter_map(|e| match e {
            Event::Info { message, .. }
            | Event::Warning { message, .. }
            | Event::Error { message, .. } => Some(message),
            _ => None,
        })
        .collect()
}

fn answer(c: &mut WhepClient, id: u32, response: HttpResponse) -> Vec<Output> {
    c.handle(Input::HttpResponse {
        id,
        response,
        elapsed_ms: 1.0,
    });
    drain(c)
}

fn peer(c: &mut WhepClient, r: PeerResult) -> Vec<Output> {
    c.handle(Input::Peer(r));
    drain(c)
}

/// Start and get through OPTIONS (204) and the offer: returns the POST.
fn to_post(c: &mut WhepClient) -> HttpRequest {
    c.handle(Input::Start);
    let out = drain(c);
    let options = the_request(&out);
    assert_eq!(options.method, "OPTIONS");
    assert_eq!(options.url.as_str(), ENDPOINT);
    let out = answer(c, options.id, resp(204, &[], ""));
    assert_eq!(
        sessions(&out),
        vec![
            session::Input::SignalingOpened,
            session::Input::IceServersReceived
        ]
    );
    assert!(matches!(peers(&out)[..], [PeerRequest::CreateOffer { .. }]));
    let out = peer(c, PeerResult::Offer(Ok(OFFER.into())));
    assert_eq!(sessions(&out), vec![session::Input::OfferSent]);
    let post = the_request(&out);
    assert_eq!(post.method, "POST");
    assert_eq!(post.body.as_deref(), Some(OFFER));
    assert_eq!(header(&post, "content-type"), Some("application/sdp"));
    assert_eq!(header(&post, "authorization"), Some("Bearer tok"));
    post
}

fn created(location: &str) -> HttpResponse {
    resp(
        201,
        &[
            ("content-type", "application/sdp"),
            ("location", location),
            ("etag", "\"v1\""),
        ],
        ANSWER,
    )
}

/// Through a 201 (Location `/whep/res/1`, ETag `"v1"`) and the applied answer.
fn to_answered(c: &mut WhepClient) -> Vec<Output> {
    let post = to_post(c);
    let out = answer(c, post.id, created("/whep/res/1"));
    assert_eq!(
        peers(&out),
        vec![PeerRequest::ApplyAnswer { sdp: ANSWER.into() }]
    );
    peer(c, PeerResult::AnswerApplied(Ok(())))
}

#[test]
fn options_link_ice_servers_go_to_the_offer() {
    let mut c = WhepClient::new(config());
    c.handle(Input::Start);
    let out = drain(&mut c);
    let options = the_request(&out);
    assert_eq!(options.body, None);
    let out = answer(
        &mut c,
        options.id,
        resp(
            204,
            &[(
                "link",
                "<turn:turn.example:3478?transport=udp>; rel=\"ice-server\"; username=\"u\"; credential=\"secret\"; credential-type=\"password\"",
            )],
            "",
        ),
    );
    // The credential is masked in the shown response.
    let shown = events(&out)
        .into_iter()
        .find_map(|e| match e {
            Event::HttpResponse { headers, .. } => Some(headers),
            _ => None,
        })
        .expect("response event");
    assert!(
        shown
            .iter()
            .any(|(n, v)| n == "link" && v.contains("credential=\"***\""))
    );
    match &peers(&out)[..] {
        [PeerRequest::CreateOffer { ice_servers }] => {
            assert_eq!(ice_servers.len(), 1);
            assert_eq!(
                ice_servers[0].urls,
                vec!["turn:turn.example:3478?transport=udp"]
            );
            assert_eq!(ice_servers[0].credential.as_deref(), Some("secret"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn options_401_and_403_end_the_attempt_with_the_challenge() {
    for status in [401, 403] {
        let mut c = WhepClient::new(config());
        c.handle(Input::Start);
        let id = the_request(&drain(&mut c)).id;
        let out = answer(
            &mut c,
            id,
            resp(status, &[("www-authenticate", "Bearer realm=\"x\"")], ""),
        );
        assert!(peers(&out).is_empty());
        match &sessions(&out)[..] {
            [session::Input::SignalingFailed { error, http_status }] => {
                assert_eq!(*http_status, Some(status));
                assert!(error.contains("WWW-Authenticate: Bearer realm"), "{error}");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn options_failure_is_not_fatal_unless_no_answer() {
    // A 405 to OPTIONS: information, then on with the offer.
    let mut c = WhepClient::new(config());
    c.handle(Input::Start);
    let id = the_request(&drain(&mut c)).id;
    let out = answer(&mut c, id, resp(405, &[], ""));
    assert!(
        messages(&out)
            .iter()
            .any(|m| m.contains("optional in WHEP"))
    );
    assert_eq!(peers(&out).len(), 1);
    // No HTTP answer at all: signaling failed.
    let mut c = WhepClient::new(config());
    c.handle(Input::Start);
    let id = the_request(&drain(&mut c)).id;
    c.handle(Input::HttpFailed {
        id,
        error: "could not connect".into(),
        elapsed_ms: 3.0,
    });
    let out = drain(&mut c);
    assert!(matches!(
        &sessions(&out)[..],
        [session::Input::SignalingFailed { http_status: None, error }] if error.contains("could not connect")
    ));
}

#[test]
fn created_with_answer_location_and_etag() {
    let mut c = WhepClient::new(config());
    let out = to_answered(&mut c);
    assert_eq!(sessions(&out), vec![session::Input::AnswerApplied]);
    // The answer's candidate is shown.
    assert!(events(&out).iter().any(|e| matches!(
        e,
        Event::RemoteCandidate { candidate: Some(c), .. } if c.address == "10.0.0.1"
    )));
    // A local candidate is trickled to the resolved Location with the ETag as If-Match.
    c.handle(Input::LocalCandidate(CAND.into()));
    let out = drain(&mut c);
    assert_eq!(peers(&out), vec![PeerRequest::LocalDescription]);
    let out = peer(&mut c, PeerResult::LocalDescription(Some(OFFER.into())));
    let patch = the_request(&out);
    assert_eq!(patch.method, "PATCH");
    assert_eq!(patch.url.as_str(), "https://h.example/whep/res/1");
    assert_eq!(header(&patch, "if-match"), Some("\"v1\""));
    assert_eq!(
        header(&patch, "content-type"),
        Some("application/trickle-ice-sdpfrag")
    );
    let body = patch.body.expect("body");
    assert!(body.contains("a=ice-ufrag:locU"), "{body}");
    assert!(body.contains(CAND), "{body}");
}

#[test]
fn location_relative_and_absolute() {
    let table = [
        ("/whep/res/1", "https://h.example/whep/res/1"),
        ("res/2", "https://h.example/whep/res/2"),
        (
            "https://other.example:8443/session/9",
            "https://other.example:8443/session/9",
        ),
    ];
    for (location, expected) in table {
        let mut c = WhepClient::new(config());
        let post = to_post(&mut c);
        let _ = answer(&mut c, post.id, created(location));
        let _ = peer(&mut c, PeerResult::AnswerApplied(Ok(())));
        // The resource is where DELETE goes.
        c.handle(Input::Close {
            phase: crate::event::Phase::Negotiating,
        });
        let delete = the_request(&drain(&mut c));
        assert_eq!(delete.method, "DELETE");
        assert_eq!(delete.url.as_str(), expected, "Location {location}");
        assert_eq!(delete.wait_at_most, Some(DELETE_TIMEOUT));
    }
}

#[test]
fn created_without_sdp_is_a_protocol_error() {
    let mut c = WhepClient::new(config());
    let post = to_post(&mut c);
    let out = answer(
        &mut c,
        post.id,
        resp(201, &[("content-type", "text/html")], "<html>hello</html>"),
    );
    assert!(peers(&out).is_empty());
    assert!(matches!(
        &sessions(&out)[..],
        [session::Input::ProtocolError(e)] if e.contains("not SDP")
    ));
}

#[test]
fn answer_refused_by_the_stack_is_a_protocol_error() {
    let mut c = WhepClient::new(config());
    let post = to_post(&mut c);
    let _ = answer(&mut c, post.id, created("/r"));
    let out = peer(
        &mut c,
        PeerResult::AnswerApplied(Err("bad fingerprint".into())),
    );
    assert_eq!(
        sessions(&out),
        vec![session::Input::ProtocolError("bad fingerprint".into())]
    );
}

#[test]
fn redirects_307_308_are_followed_with_a_bound() {
    for status in [307, 308] {
        let mut c = WhepClient::new(config());
        let mut post = to_post(&mut c);
        for hop in 1..=MAX_REDIRECTS {
            let out = answer(
                &mut c,
                post.id,
                resp(status, &[("location", &format!("/whep/hop{hop}"))], ""),
            );
            assert!(messages(&out).iter().any(|m| m.contains("POST redirected")));
            assert_eq!(peers(&out), vec![PeerRequest::LocalDescription]);
            let out = peer(&mut c, PeerResult::LocalDescription(Some(OFFER.into())));
            post = the_request(&out);
            assert_eq!(post.method, "POST");
            assert_eq!(
                post.url.as_str(),
                format!("https://h.example/whep/hop{hop}")
            );
            assert_eq!(post.body.as_deref(), Some(OFFER));
            // OfferSent only once, for the first POST.
            assert!(sessions(&out).is_empty());
        }
        let out = answer(
            &mut c,
            post.id,
            resp(status, &[("location", "/whep/again")], ""),
        );
        assert!(requests(&out).is_empty());
        assert!(matches!(
            &sessions(&out)[..],
            [session::Input::ProtocolError(e)] if e.contains("more than 5 redirects")
        ));
    }
}

#[test]
fn a_redirect_to_another_origin_gets_no_credentials() {
    let mut c = WhepClient::new(config());
    let post = to_post(&mut c);
    assert!(post.headers.iter().any(|(n, _)| n == "Authorization"));
    let out = answer(
        &mut c,
        post.id,
        resp(307, &[("location", "http://h.example:8080/whep/cam")], ""),
    );
    assert_eq!(peers(&out), vec![PeerRequest::LocalDescription]);
    let out = peer(&mut c, PeerResult::LocalDescription(Some(OFFER.into())));
    let post = the_request(&out);
    assert_eq!(post.url.as_str(), "http://h.example:8080/whep/cam");
    assert!(
        !post
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("authorization")),
        "{:?}",
        post.headers
    );
    assert!(
        messages(&out)
            .iter()
            .any(|m| m.contains("credentials withheld from http://h.example:8080")),
        "{:?}",
        messages(&out)
    );
}

#[test]
fn redirect_without_location_and_301_are_not_followed() {
    let mut c = WhepClient::new(config());
    let post = to_post(&mut c);
    let out = answer(&mut c, post.id, resp(307, &[], ""));
    assert!(matches!(
        &sessions(&out)[..],
        [session::Input::ProtocolError(e)] if e.contains("without a Location")
    ));
    let mut c = WhepClient::new(config());
    let post = to_post(&mut c);
    let out = answer(&mut c, post.id, resp(301, &[("location", "/x")], ""));
    assert!(matches!(
        &sessions(&out)[..],
        [session::Input::SignalingFailed { http_status: Some(301), error }] if error.contains("not followed")
    ));
}

#[test]
fn counter_offer_406_is_answered_by_patch() {
    let mut c = WhepClient::new(config());
    let post = to_post(&mut c);
    let out = answer(
        &mut c,
        post.id,
        resp(
            406,
            &[
                ("content-type", "application/sdp"),
                ("location", "/whep/res/7"),
                ("etag", "\"c1\""),
            ],
            ANSWER,
        ),
    );
    assert_eq!(
        peers(&out),
        vec![PeerRequest::AnswerOffer { sdp: ANSWER.into() }]
    );
    // The 406 body is shown as an offer.
    assert!(events(&out).iter().any(|e| matches!(
        e,
        Event::HttpResponse {
            status: 406,
            kind: MessageKind::ErrorBody | MessageKind::Offer,
            ..
        }
    )));
    let out = peer(
        &mut c,
        PeerResult::CounterAnswer(Ok("v=0 our answer".into())),
    );
    let patch = the_request(&out);
    assert_eq!(patch.method, "PATCH");
    assert_eq!(patch.url.as_str(), "https://h.example/whep/res/7");
    assert_eq!(header(&patch, "content-type"), Some("application/sdp"));
    assert_eq!(patch.body.as_deref(), Some("v=0 our answer"));
    let out = answer(&mut c, patch.id, resp(204, &[], ""));
    assert_eq!(sessions(&out), vec![session::Input::AnswerApplied]);

    // The PATCH refused: signaling failed with the status.
    let mut c = WhepClient::new(config());
    let post = to_post(&mut c);
    let _ = answer(&mut c, post.id, resp(406, &[("location", "/r")], ANSWER));
    let patch = the_request(&peer(&mut c, PeerResult::CounterAnswer(Ok("v=0".into()))));
    let out = answer(&mut c, patch.id, resp(400, &[], "no"));
    assert!(matches!(
        &sessions(&out)[..],
        [session::Input::SignalingFailed {
            http_status: Some(400),
            ..
        }]
    ));
}

#[test]
fn counter_offer_failures() {
    // No Location: nowhere to PATCH.
    let mut c = WhepClient::new(config());
    let post = to_post(&mut c);
    let out = answer(&mut c, post.id, resp(406, &[], ANSWER));
    assert!(matches!(&sessions(&out)[..], [session::Input::ProtocolError(e)] if e.contains("406")));
    // The new peer connection cannot be built: a peer error.
    let mut c = WhepClient::new(config());
    let post = to_post(&mut c);
    let _ = answer(&mut c, post.id, resp(406, &[("location", "/r")], ANSWER));
    let out = peer(
        &mut c,
        PeerResult::CounterAnswer(Err(PeerFailure::Build("no sockets".into()))),
    );
    assert_eq!(
        sessions(&out),
        vec![session::Input::PeerError("no sockets".into())]
    );
    // The stack refuses the counter-offer: a protocol error quoting it.
    let mut c = WhepClient::new(config());
    let post = to_post(&mut c);
    let _ = answer(&mut c, post.id, resp(406, &[("location", "/r")], ANSWER));
    let out = peer(
        &mut c,
        PeerResult::CounterAnswer(Err(PeerFailure::Sdp("no codec".into()))),
    );
    assert_eq!(
        sessions(&out),
        vec![session::Input::ProtocolError(
            "counter-offer: no codec".into()
        )]
    );
}

#[test]
fn busy_409_503_with_retry_after_restart_after_that_pause() {
    // (status, Retry-After, expected pause in s; None: no valid Retry-After → plain failure)
    let table: [(u16, Option<&str>, Option<u64>); 6] = [
        (409, Some("7"), Some(7)),
        (503, Some("30"), Some(30)),
        // An HTTP-date 60 s after the response's arrival.
        (503, Some("Tue, 14 Nov 2023 22:14:20 GMT"), Some(60)),
        (503, Some("soon"), None),
        (503, None, None),
        (409, None, None),
    ];
    for (status, retry_after, pause) in table {
        let mut c = WhepClient::new(config());
        let post = to_post(&mut c);
        let headers: Vec<(&str, &str)> = retry_after
            .map(|v| ("retry-after", v))
            .into_iter()
            .collect();
        let out = answer(&mut c, post.id, resp(status, &headers, "busy"));
        match (&sessions(&out)[..], pause) {
            (
                [
                    session::Input::RetryLater {
                        http_status,
                        after,
                        error,
                    },
                ],
                Some(p),
            ) => {
                assert_eq!(*http_status, status);
                assert_eq!(*after, Duration::from_secs(p), "{retry_after:?}");
                assert!(error.contains("busy"), "{error}");
            }
            ([session::Input::SignalingFailed { http_status, .. }], None) => {
                assert_eq!(*http_status, Some(status));
            }
            (other, _) => panic!("{status} {retry_after:?}: {other:?}"),
        }
    }
}

#[test]
fn retry_after_drives_the_session_pause_in_virtual_time() {
    let mut c = WhepClient::new(config());
    let post = to_post(&mut c);
    let out = answer(&mut c, post.id, resp(503, &[("retry-after", "12")], ""));
    let mut s = Session::new(Policy::default());
    let t0 = Duration::from_secs(1);
    s.start(t0);
    for i in [
        session::Input::SignalingOpened,
        session::Input::IceServersReceived,
        session::Input::OfferSent,
    ] {
        s.handle(i, t0);
    }
    for i in sessions(&out) {
        s.handle(i, t0);
    }
    let actions: Vec<_> = std::iter::from_fn(|| s.poll_action()).collect();
    assert!(actions.iter().any(|a| matches!(
        a,
        session::Action::Emit(e) if matches!(&**e, Event::Restart { cause: RestartCause::ServerBusy { http_status: 503, .. }, pause_ms, .. } if *pause_ms == 12_000.0)
    )));
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(12)));
    s.handle_timeout(t0 + Duration::from_secs(11));
    assert!(s.poll_action().is_none());
    s.handle_timeout(t0 + Duration::from_secs(12));
    assert_eq!(s.poll_action(), Some(session::Action::StartAttempt(2)));
}

#[test]
fn error_bodies_are_described() {
    // (status, content type, body, what the error must say)
    let table = [
        (
            400,
            Some("text/plain"),
            "offer has no video",
            "offer has no video",
        ),
        (
            500,
            Some("application/json"),
            r#"{"error":"stream not found"}"#,
            "stream not found",
        ),
        (
            404,
            Some("application/problem+json"),
            r#"{"type":"about:blank","title":"Not Found","detail":"no such path"}"#,
            "no such path",
        ),
        (502, None, "", "answered HTTP 502"),
    ];
    for (status, ct, body, expected) in table {
        let mut c = WhepClient::new(config());
        let post = to_post(&mut c);
        let headers: Vec<(&str, &str)> = ct.map(|v| ("content-type", v)).into_iter().collect();
        let out = answer(&mut c, post.id, resp(status, &headers, body));
        let kind = events(&out).into_iter().find_map(|e| match e {
            Event::HttpResponse { kind, .. } => Some(kind),
            _ => None,
        });
        let expected_kind = if body.is_empty() {
            MessageKind::Empty
        } else {
            MessageKind::ErrorBody
        };
        assert_eq!(kind, Some(expected_kind));
        assert!(
            events(&out).iter().any(|e| matches!(e, Event::Error { source: ErrorSource::Signaling, message, .. } if message.contains(expected))),
            "{status}: {:?}",
            messages(&out)
        );
        match &sessions(&out)[..] {
            [session::Input::SignalingFailed { error, http_status }] => {
                assert_eq!(*http_status, Some(status));
                assert!(error.contains(expected), "{error}");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn post_401_carries_www_authenticate() {
    let mut c = WhepClient::new(config());
    let post = to_post(&mut c);
    let out = answer(
        &mut c,
        post.id,
        resp(
            401,
            &[(
                "www-authenticate",
                "Bearer realm=\"whep\", error=\"invalid_token\"",
            )],
            "",
        ),
    );
    match &sessions(&out)[..] {
        [session::Input::SignalingFailed { error, http_status }] => {
            assert_eq!(*http_status, Some(401));
            assert!(
                error.contains("WWW-Authenticate: Bearer realm=\"whep\""),
                "{error}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn trickle_batches_one_patch_at_a_time_with_if_match() {
    let mut c = WhepClient::new(config());
    // Candidates before the answer wait for it.
    let post = to_post(&mut c);
    c.handle(Input::LocalCandidate(
        "candidate:1 1 udp 1 192.168.1.2 1000 typ host".into(),
    ));
    assert!(drain(&mut c).is_empty());
    let _ = answer(&mut c, post.id, created("/whep/res/1"));
    let out = peer(&mut c, PeerResult::AnswerApplied(Ok(())));
    assert_eq!(peers(&out), vec![PeerRequest::LocalDescription]);
    let first = the_request(&peer(
        &mut c,
        PeerResult::LocalDescription(Some(OFFER.into())),
    ));
    assert!(
        first
            .body
            .as_deref()
            .is_some_and(|b| b.contains("192.168.1.2 1000"))
    );
    // While it is in flight, more candidates and the end of gathering are batched.
    c.handle(Input::LocalCandidate(
        "candidate:2 1 udp 1 192.168.1.2 2000 typ host".into(),
    ));
    c.handle(Input::LocalCandidate(
        "candidate:3 1 udp 1 192.168.1.2 3000 typ host".into(),
    ));
    c.handle(Input::GatheringComplete);
    assert!(drain(&mut c).is_empty());
    // The 204 carries a new ETag? No: the first one stays in use.
    let out = answer(&mut c, first.id, resp(204, &[], ""));
    assert_eq!(peers(&out), vec![PeerRequest::LocalDescription]);
    let second = the_request(&peer(
        &mut c,
        PeerResult::LocalDescription(Some(OFFER.into())),
    ));
    let body = second.body.clone().expect("body");
    assert!(body.contains("2000") && body.contains("3000"), "{body}");
    assert!(body.contains("a=end-of-candidates"), "{body}");
    assert_eq!(header(&second, "if-match"), Some("\"v1\""));
    // Nothing left: the 204 sends nothing more.
    let out = answer(&mut c, second.id, resp(204, &[], ""));
    assert!(requests(&out).is_empty() && peers(&out).is_empty());
}

#[test]
fn trickle_stops_after_405_501_422() {
    for status in [405, 501, 422] {
        let mut c = WhepClient::new(config());
        let _ = to_answered(&mut c);
        c.handle(Input::LocalCandidate(CAND.into()));
        let _ = drain(&mut c);
        let patch = the_request(&peer(
            &mut c,
            PeerResult::LocalDescription(Some(OFFER.into())),
        ));
        c.handle(Input::LocalCandidate(
            "candidate:9 1 udp 1 192.168.1.2 9 typ host".into(),
        ));
        let out = answer(&mut c, patch.id, resp(status, &[], ""));
        assert!(
            messages(&out)
                .iter()
                .any(|m| m.contains("does not take trickled candidates")),
            "{status}"
        );
        assert!(peers(&out).is_empty() && requests(&out).is_empty());
        // Not a reason to restart.
        assert!(sessions(&out).is_empty());
        c.handle(Input::LocalCandidate(
            "candidate:10 1 udp 1 192.168.1.2 10 typ host".into(),
        ));
        c.handle(Input::GatheringComplete);
        assert!(drain(&mut c).is_empty(), "{status}: trickle must stay off");
    }
}

#[test]
fn trickle_412_and_other_errors_warn_and_go_on() {
    for (status, expected) in [
        (412, "If-Match mismatch"),
        (500, "trickle PATCH answered HTTP 500"),
    ] {
        let mut c = WhepClient::new(config());
        let _ = to_answered(&mut c);
        c.handle(Input::LocalCandidate(CAND.into()));
        let _ = drain(&mut c);
        let patch = the_request(&peer(
            &mut c,
            PeerResult::LocalDescription(Some(OFFER.into())),
        ));
        c.handle(Input::GatheringComplete);
        let out = answer(&mut c, patch.id, resp(status, &[], ""));
        assert!(
            messages(&out).iter().any(|m| m.contains(expected)),
            "{:?}",
            messages(&out)
        );
        // Still trickling: the end of candidates goes out next.
        assert_eq!(peers(&out), vec![PeerRequest::LocalDescription]);
    }
}

/// Through an ICE restart up to its PATCH.
fn to_restart_patch(c: &mut WhepClient) -> HttpRequest {
    let _ = to_answered(c);
    c.handle(Input::IceRestart {
        reason: "asked for".into(),
    });
    let out = drain(c);
    assert!(matches!(&events(&out)[..], [Event::IceRestart { reason }] if reason == "asked for"));
    assert_eq!(peers(&out), vec![PeerRequest::RestartIceOffer]);
    let out = peer(c, PeerResult::IceRestartOffer(Ok(RESTART_OFFER.into())));
    let patch = the_request(&out);
    assert_eq!(patch.method, "PATCH");
    assert_eq!(patch.url.as_str(), "https://h.example/whep/res/1");
    assert_eq!(header(&patch, "if-match"), Some("\"*\""));
    assert!(
        patch
            .body
            .as_deref()
            .is_some_and(|b| b.contains("a=ice-ufrag:newU"))
    );
    patch
}

#[test]
fn ice_restart_200_applies_the_new_remote_credentials() {
    let mut c = WhepClient::new(config());
    let patch = to_restart_patch(&mut c);
    let frag = "a=ice-ufrag:srvN\r\na=ice-pwd:serverpasswordserverpassword\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=candidate:5 1 udp 2130706431 10.0.0.5 41000 typ host\r\n";
    let out = answer(
        &mut c,
        patch.id,
        resp(
            200,
            &[
                ("content-type", "application/trickle-ice-sdpfrag"),
                ("etag", "\"v2\""),
            ],
            frag,
        ),
    );
    let applied = match &peers(&out)[..] {
        [PeerRequest::ApplyAnswer { sdp }] => sdp.clone(),
        other => panic!("{other:?}"),
    };
    assert!(applied.contains("a=ice-ufrag:srvN"), "{applied}");
    assert!(applied.contains("a=ice-pwd:serverpasswordserverpassword"));
    assert!(!applied.contains("remU"));
    // The server's candidate goes to the stack with the new ufrag, then is shown.
    let out = peer(&mut c, PeerResult::AnswerApplied(Ok(())));
    match &peers(&out)[..] {
        [PeerRequest::AddRemoteCandidate(rc)] => {
            assert_eq!(rc.username_fragment.as_deref(), Some("srvN"));
            assert!(rc.line.contains("10.0.0.5 41000"));
        }
        other => panic!("{other:?}"),
    }
    let out = peer(&mut c, PeerResult::CandidateAdded(Ok(())));
    assert!(events(&out).iter().any(|e| matches!(e, Event::RemoteCandidate { candidate: Some(c), error: None, .. } if c.port == 41000)));
    assert!(sessions(&out).is_empty(), "no restart");
    // Trickle resumes with the new ETag.
    c.handle(Input::LocalCandidate(CAND.into()));
    let _ = drain(&mut c);
    let trickle = the_request(&peer(
        &mut c,
        PeerResult::LocalDescription(Some(RESTART_OFFER.into())),
    ));
    assert_eq!(header(&trickle, "if-match"), Some("\"v2\""));
}

#[test]
fn ice_restart_failures_fall_back_to_a_full_restart() {
    // (status, body) of the PATCH answer; each must give IceRestartFailed.
    let table = [
        (405, ""),
        (412, ""),
        (200, "not a frag at all \u{0}"),
        (200, "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\n"),
    ];
    for (status, body) in table {
        let mut c = WhepClient::new(config());
        let patch = to_restart_patch(&mut c);
        let out = answer(&mut c, patch.id, resp(status, &[], body));
        assert!(
            matches!(&sessions(&out)[..], [session::Input::IceRestartFailed(_)]),
            "{status} {body:?}: {out:?}"
        );
    }
    // No answer at all.
    let mut c = WhepClient::new(config());
    let patch = to_restart_patch(&mut c);
    c.handle(Input::HttpFailed {
        id: patch.id,
        error: "timed out".into(),
        elapsed_ms: 20_000.0,
    });
    assert_eq!(
        sessions(&drain(&mut c)),
        vec![session::Input::IceRestartFailed("timed out".into())]
    );
    // The stack cannot restart.
    let mut c = WhepClient::new(config());
    let _ = to_answered(&mut c);
    c.handle(Input::IceRestart { reason: "x".into() });
    let _ = drain(&mut c);
    let out = peer(&mut c, PeerResult::IceRestartOffer(Err("closed".into())));
    assert_eq!(
        sessions(&out),
        vec![session::Input::IceRestartFailed("closed".into())]
    );
    // The full restart itself is the session's: IceRestartFailed restarts the attempt.
    let mut s = Session::new(Policy::default());
    s.start(Duration::ZERO);
    s.handle(session::Input::IceRestartFailed("x".into()), Duration::ZERO);
    assert!(
        std::iter::from_fn(|| s.poll_action())
            .any(|a| matches!(a, session::Action::EndAttempt { .. }))
    );
}

#[test]
fn ice_restart_without_a_resource_is_refused() {
    let mut c = WhepClient::new(config());
    let post = to_post(&mut c);
    let _ = answer(
        &mut c,
        post.id,
        resp(201, &[("content-type", "application/sdp")], ANSWER),
    );
    let _ = peer(&mut c, PeerResult::AnswerApplied(Ok(())));
    c.handle(Input::IceRestart { reason: "x".into() });
    let out = drain(&mut c);
    assert!(requests(&out).is_empty());
    assert_eq!(
        sessions(&out),
        vec![session::Input::IceRestartFailed(
            "no session resource".into()
        )]
    );
}

#[test]
fn delete_on_close_once_and_late_answers_ignored() {
    let mut c = WhepClient::new(config());
    let _ = to_answered(&mut c);
    c.handle(Input::LocalCandidate(CAND.into()));
    // The peer request for the trickle is void once the attempt ends.
    c.handle(Input::Close {
        phase: crate::event::Phase::Connected,
    });
    let out = drain(&mut c);
    assert!(peers(&out).is_empty());
    let delete = the_request(&out);
    assert_eq!(delete.method, "DELETE");
    assert_eq!(header(&delete, "authorization"), Some("Bearer tok"));
    let out = answer(&mut c, delete.id, resp(200, &[], ""));
    assert!(matches!(
        &events(&out)[..],
        [Event::HttpResponse { status: 200, .. }, ..]
    ));
    assert!(sessions(&out).is_empty());
    // A second close does not DELETE again.
    c.handle(Input::Close {
        phase: crate::event::Phase::Closed,
    });
    assert!(requests(&drain(&mut c)).is_empty());
    // A late answer to a request of the ended attempt does nothing.
    assert!(answer(&mut c, 2, resp(201, &[], ANSWER)).is_empty());
}

#[test]
fn no_delete_without_a_resource_and_delete_timeout() {
    let mut c = WhepClient::new(config());
    let _ = to_post(&mut c);
    c.handle(Input::Close {
        phase: crate::event::Phase::AwaitingAnswer,
    });
    assert!(requests(&drain(&mut c)).is_empty());
    // The driver gives up after DELETE_TIMEOUT: an http_failed event, nothing else.
    let mut c = WhepClient::new(config());
    let _ = to_answered(&mut c);
    c.handle(Input::Close {
        phase: crate::event::Phase::Connected,
    });
    let delete = the_request(&drain(&mut c));
    c.handle(Input::HttpFailed {
        id: delete.id,
        error: "no answer within 2s".into(),
        elapsed_ms: 2000.0,
    });
    let out = drain(&mut c);
    assert!(
        matches!(&out[..], [Output::Event(Event::HttpFailed { method, .. })] if method == "DELETE")
    );
}

#[test]
fn late_ice_servers_from_the_201_are_used_next_attempt() {
    let mut c = WhepClient::new(config());
    let post = to_post(&mut c);
    let mut r = created("/r");
    r.headers.push((
        "link".into(),
        "<stun:late.example:3478>; rel=\"ice-server\"".into(),
    ));
    let out = answer(&mut c, post.id, r);
    assert!(
        messages(&out)
            .iter()
            .any(|m| m.contains("used from the next attempt"))
    );
    let _ = peer(&mut c, PeerResult::AnswerApplied(Ok(())));
    c.handle(Input::Close {
        phase: crate::event::Phase::Negotiating,
    });
    let _ = drain(&mut c);
    c.handle(Input::Start);
    let options = the_request(&drain(&mut c));
    let out = answer(&mut c, options.id, resp(204, &[], ""));
    match &peers(&out)[..] {
        [PeerRequest::CreateOffer { ice_servers }] => {
            assert_eq!(ice_servers[0].urls, vec!["stun:late.example:3478"]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn request_ids_are_unique_across_attempts() {
    let mut c = WhepClient::new(config());
    c.handle(Input::Start);
    let a = the_request(&drain(&mut c)).id;
    c.handle(Input::Close {
        phase: crate::event::Phase::Connecting,
    });
    let _ = drain(&mut c);
    c.handle(Input::Start);
    let b = the_request(&drain(&mut c)).id;
    assert!(b > a);
}

#[test]
fn headers_are_masked_in_events_and_invalid_ones_dropped() {
    let cfg = ClientConfig {
        headers: vec![
            ("Cookie".into(), "session=abc".into()),
            ("X-Trace".into(), "1".into()),
            ("Bad Name".into(), "x".into()),
            ("X-Bad-Value".into(), "a\nb".into()),
        ],
        ..config()
    };
    let target = cfg.url.clone();
    let (sent, shown, withheld) = request_headers(&cfg, &target, Some("application/sdp"), None);
    assert!(!withheld);
    let names: Vec<&str> = sent.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec!["Content-Type", "Authorization", "Cookie", "X-Trace"]
    );
    assert_eq!(shown[1], ("Authorization".into(), "Bearer ***".into()));
    assert_eq!(shown[2], ("Cookie".into(), "***".into()));
    assert_eq!(shown[3], ("X-Trace".into(), "1".into()));
}

#[test]
fn credentials_go_only_to_their_origin() {
    let cfg = ClientConfig {
        headers: vec![
            ("Cookie".into(), "session=abc".into()),
            ("X-Api-Key".into(), "k".into()),
            ("X-Trace".into(), "1".into()),
        ],
        ..config()
    };
    let origin = cfg.url.clone();
    let mut other_port = origin.clone();
    other_port.set_port(Some(9)).expect("port");
    let mut other_host = origin.clone();
    other_host
        .set_host(Some("elsewhere.example"))
        .expect("host");
    let mut downgrade = origin.clone();
    downgrade.set_scheme("http").expect("scheme");
    let mut same_other_path = origin.clone();
    same_other_path.set_path("/session/1");
    let names = |u: &url::Url| {
        let (sent, _, withheld) = request_headers(&cfg, u, None, None);
        let n: Vec<String> = sent.into_iter().map(|(n, _)| n).collect();
        (n, withheld)
    };
    let all: Vec<String> = ["Authorization", "Cookie", "X-Api-Key", "X-Trace"]
        .map(String::from)
        .to_vec();
    assert_eq!(names(&same_other_path), (all, false));
    for u in [&other_port, &other_host] {
        assert_eq!(names(u), (vec!["X-Trace".to_owned()], true), "{u}");
    }
    if origin.scheme() == "https" {
        assert_eq!(names(&downgrade), (vec!["X-Trace".to_owned()], true));
    }
    assert!(same_origin(
        &url::Url::parse("https://H.example/a").expect("url"),
        &url::Url::parse("https://h.example:443/b").expect("url")
    ));
    assert!(!same_origin(
        &url::Url::parse("https://h.example/a").expect("url"),
        &url::Url::parse("http://h.example/a").expect("url")
    ));
}

#[test]
fn link_credentials_are_masked_in_any_case() {
    assert_eq!(
        mask_link_credential(r#"<turn:h>; rel=ice-server; Credential="x"; CREDENTIAL=y"#),
        r#"<turn:h>; rel=ice-server; Credential="***"; CREDENTIAL=***"#
    );
}

#[test]
fn link_credentials_are_masked() {
    assert_eq!(
        mask_link_credential(
            r#"<turn:h:3478>; rel="ice-server"; username="u"; credential="s\"e;cret"; credential-type="password""#
        ),
        r#"<turn:h:3478>; rel="ice-server"; username="u"; credential="***"; credential-type="password""#
    );
    assert_eq!(
        mask_link_credential("<turn:h>; rel=ice-server; credential=abc; x=1"),
        "<turn:h>; rel=ice-server; credential=***; x=1"
    );
    assert_eq!(
        mask_link_credential("<stun:h>; rel=ice-server"),
        "<stun:h>; rel=ice-server"
    );
}

#[test]
fn body_kinds() {
    assert_eq!(body_kind("", "", MessageKind::Answer), MessageKind::Empty);
    assert_eq!(
        body_kind("application/sdp", "v=0\r\n", MessageKind::Answer),
        MessageKind::Answer
    );
    assert_eq!(
        body_kind(
            "application/trickle-ice-sdpfrag",
            "a=ice-ufrag:x",
            MessageKind::Answer
        ),
        MessageKind::Sdpfrag
    );
    assert_eq!(
        body_kind("text/html", "<html>", MessageKind::Answer),
        MessageKind::ErrorBody
    );
}

#[test]
fn an_answer_with_too_many_candidates_is_applied_without_the_excess() {
    let mut c = WhepClient::new(config());
    let post = to_post(&mut c);
    let mut sdp = ANSWER.to_owned();
    for i in 0..crate::signaling::MAX_REMOTE_CANDIDATES + 100 {
        sdp.push_str(&format!(
            "a=candidate:{i} 1 udp 2130706431 10.0.{}.{} 40000 typ host\r\n",
            i / 250,
            i % 250
        ));
    }
    let out = answer(
        &mut c,
        post.id,
        resp(
            201,
            &[
                ("content-type", "application/sdp"),
                ("location", "/whep/res/1"),
            ],
            &sdp,
        ),
    );
    let applied = match &peers(&out)[..] {
        [PeerRequest::ApplyAnswer { sdp }] => sdp.clone(),
        other => panic!("{other:?}"),
    };
    let n = applied.matches("a=candidate:").count();
    assert_eq!(n, crate::signaling::MAX_REMOTE_CANDIDATES);
    let warnings: Vec<String> = messages(&out)
        .into_iter()
        .filter(|m| m.contains("the rest are dropped"))
        .collect();
    assert_eq!(warnings.len(), 1, "{:?}", messages(&out));
    let out = peer(&mut c, PeerResult::AnswerApplied(Ok(())));
    let shown = events(&out)
        .into_iter()
        .filter(|e| matches!(e, Event::RemoteCandidate { .. }))
        .count();
    assert_eq!(shown, crate::signaling::MAX_REMOTE_CANDIDATES);
}
