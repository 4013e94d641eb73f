use super::*;

fn line(ev: &Event) -> String {
    serde_json::to_string(&Stamped {
        seq: 0,
        t_ms: 0.0,
        attempt: 0,
        event: ev.clone(),
    })
    .expect("json")
}

fn started(schema_version: u32) -> Event {
    Event::SessionStarted {
        target: "ws://h/cam/ws".into(),
        protocol: crate::event::Protocol::Ws,
        wall_clock: "2026-12-07T00:00:00Z".into(),
        unix_ms: 0,
        version: "0".into(),
        schema_version,
    }
}

#[test]
fn older_and_current_recordings_are_read_newer_ones_refused_by_name() {
    for v in 1..=SCHEMA_VERSION {
        assert_eq!(parse(&line(&started(v))).map(|e| e.len()), Ok(1));
    }
    let newer = line(&started(SCHEMA_VERSION + 1));
    let err = parse(&newer).expect_err("newer");
    assert_eq!(
        err,
        RecordingError::Newer {
            found: SCHEMA_VERSION + 1,
            supported: SCHEMA_VERSION
        }
    );
    assert!(err.to_string().contains("upgrade rtcscope"));
    // A newer schema whose events do not even parse is still named as newer.
    let alien = format!(
        r#"{{"seq":0,"t_ms":0,"attempt":0,"type":"session_started","schema_version":{},"novel":true}}"#,
        SCHEMA_VERSION + 7
    );
    assert!(matches!(parse(&alien), Err(RecordingError::Newer { .. })));
    assert!(matches!(
        parse("{\"seq\":0}\n"),
        Err(RecordingError::BadLine { line: 1, .. })
    ));
    assert_eq!(parse("\n\n"), Err(RecordingError::Empty));
}

#[test]
fn addresses_are_replaced_consistently_and_within_their_class() {
    let mut r = Redactor::new();
    let t = r.text(
        "candidate:1 1 udp 2130706431 192.168.1.20 5000 typ host; srflx 8.8.4.4:3478 via 192.168.1.21 and 100.64.3.4, docker 172.17.0.2, lo 127.0.0.1, v6 2a00:1450::1 fd12::5 ::1",
    );
    assert!(
        !t.contains("192.168.1.20") && !t.contains("8.8.4.4") && !t.contains("2a00:1450"),
        "{t}"
    );
    assert!(t.contains("127.0.0.1") && t.contains(" ::1"), "{t}");
    // Same /24 → same replacement /24, host octets kept.
    let a = r.text("192.168.1.20");
    let b = r.text("192.168.1.21");
    assert_eq!(
        a[..a.rfind('.').expect("dot")],
        b[..b.rfind('.').expect("dot")]
    );
    assert!(a.starts_with("192.168.") && a.ends_with(".20"), "{a}");
    assert_eq!(r.text("8.8.4.4:3478"), "203.0.113.4:3478");
    assert!(r.text("100.64.3.4").starts_with("100.64."));
    assert!(r.text("172.17.0.2").starts_with("172.17."));
    assert!(r.text("172.20.0.2").starts_with("172.16."));
    assert!(r.text("fd12::5").starts_with("fd00::"));
    assert!(r.text("2a00:1450::1").starts_with("2001:db8::"));
    // Not addresses: left alone.
    for s in [
        "12:30:00",
        "sha-256 AB:CD:EF",
        "v1.2.3",
        "deadbeef",
        "a=mid:0",
    ] {
        assert_eq!(r.text(s), s);
    }
}

#[test]
fn a_redacted_event_has_no_secret_and_no_original_address() {
    let mut r = Redactor::new();
    let ev = Stamped {
        seq: 3,
        t_ms: 1.5,
        attempt: 1,
        event: Event::Info {
            source: crate::event::ErrorSource::Protocol,
            message: r#"[{"urls":["turn:8.8.8.8:3478"],"username":"u","credential":"s3cret"}] from 10.1.2.3"#
                .into(),
        },
    };
    let out = serde_json::to_string(&r.redact(&ev)).expect("json");
    assert!(
        !out.contains("s3cret") && !out.contains("8.8.8.8") && !out.contains("10.1.2.3"),
        "{out}"
    );
    assert!(out.contains("\"seq\":3"));
}
