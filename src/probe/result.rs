//! What one probe found: the data types live with the events ([`crate::event::probe`]), since a
//! `probe_result` event carries them; this module adds what needs the protocol layer, the
//! TURN-REST decoding. Pure: no sockets, no clock (the current time is an argument of
//! [`turn_rest_info`]).

pub use crate::event::probe::{ProbeKind, ProbeOutcome, ProbeResult, ProbeTransport, TurnRestInfo};

/// Longest TURN-REST validity taken as plausible; beyond it the issuer's clock (or ours) is suspect.
const TURN_REST_MAX_PLAUSIBLE_S: i64 = 30 * 24 * 3600;

/// Decode a TURN-REST username (see [`crate::proto::ice_server::turn_rest_expiry`]) at `now_unix`,
/// judging skew from what the server said (`outcome`).
pub fn turn_rest_info(
    username: &str,
    now_unix: u64,
    outcome: &ProbeOutcome,
) -> Option<TurnRestInfo> {
    let expiry = crate::proto::ice_server::turn_rest_expiry(username)?;
    let seconds_left = i64::try_from(expiry)
        .unwrap_or(i64::MAX)
        .saturating_sub(i64::try_from(now_unix).unwrap_or(i64::MAX));
    let expired = seconds_left <= 0;
    let accepted = matches!(outcome, ProbeOutcome::Ok);
    Some(TurnRestInfo {
        expiry_unix: expiry,
        seconds_left,
        expired,
        clock_skew_suspected: (expired && accepted) || seconds_left > TURN_REST_MAX_PLAUSIBLE_S,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(kind: ProbeKind, transport: ProbeTransport, outcome: ProbeOutcome) -> ProbeResult {
        ProbeResult {
            url: "turn:127.0.0.1:3478".into(),
            transport,
            kind,
            host: "127.0.0.1".into(),
            port: 3478,
            outcome,
            server_address: Some("127.0.0.1:3478".parse().unwrap()),
            local_address: None,
            rtt_ms: Some(0.42),
            connect_ms: None,
            tls_ms: None,
            mapped_address: None,
            relayed_address: None,
            lifetime_s: None,
            released: None,
            attempts: 1,
            elapsed_ms: 1.0,
            username: None,
            turn_rest: None,
            software: None,
        }
    }

    #[test]
    fn summaries_read_as_the_brief_says() {
        let mut r = base(
            ProbeKind::StunBinding,
            ProbeTransport::Udp,
            ProbeOutcome::Ok,
        );
        r.mapped_address = Some("198.51.100.2:40000".parse().unwrap());
        assert_eq!(
            r.summary(),
            "STUN udp 127.0.0.1:3478: mapped 198.51.100.2:40000 in 0.42 ms"
        );

        let r = base(
            ProbeKind::TurnAllocate,
            ProbeTransport::Udp,
            ProbeOutcome::StunError {
                code: 401,
                reason: "Unauthorized".into(),
                authenticated: true,
            },
        );
        assert_eq!(
            r.summary(),
            "TURN udp 127.0.0.1:3478: authentication failed (401 Unauthorized) — check username/credential"
        );

        let mut r = base(
            ProbeKind::TurnAllocate,
            ProbeTransport::Tcp,
            ProbeOutcome::Ok,
        );
        r.relayed_address = Some("127.0.0.1:49152".parse().unwrap());
        r.lifetime_s = Some(600);
        r.released = Some(true);
        let s = r.summary();
        assert!(
            s.starts_with(
                "TURN tcp 127.0.0.1:3478: relay 127.0.0.1:49152 for 10 min in 0.42 ms, freed"
            ),
            "{s}"
        );
        // The viewer uses TURN over TCP/TLS (through its bridge): no "cannot use" note any more.
        assert!(!s.contains("cannot use"), "{s}");

        let mut r = base(
            ProbeKind::StunBinding,
            ProbeTransport::Udp,
            ProbeOutcome::Timeout {
                tries: 3,
                waited_ms: 3000.0,
                icmp_unreachable: true,
            },
        );
        r.host = "stun.example.com".into();
        let s = r.summary();
        assert!(
            s.starts_with(
                "STUN udp stun.example.com:3478 (127.0.0.1): no response after 3 tries in 3.0 s"
            ),
            "{s}"
        );
        assert!(s.contains("ICMP port unreachable"), "{s}");
    }

    #[test]
    fn server_text_is_sanitised() {
        let r = base(
            ProbeKind::TurnAllocate,
            ProbeTransport::Udp,
            ProbeOutcome::StunError {
                code: 400,
                reason: "Bad\u{1b}[2J".into(),
                authenticated: true,
            },
        );
        let s = r.summary();
        assert!(!s.contains('\u{1b}'), "{s}");
        assert!(s.contains("\\x1b"), "{s}");
    }

    #[test]
    fn turn_rest_expiry_and_skew() {
        let now = 1_800_000_000;
        let denied = ProbeOutcome::StunError {
            code: 401,
            reason: "Unauthorized".into(),
            authenticated: true,
        };
        let t = turn_rest_info("1799996400:alice", now, &denied).unwrap();
        assert!(t.expired);
        assert_eq!(t.seconds_left, -3600);
        assert!(!t.clock_skew_suspected);
        // Expired here but accepted there: a clock is off.
        let t = turn_rest_info("1799996400:alice", now, &ProbeOutcome::Ok).unwrap();
        assert!(t.expired && t.clock_skew_suspected);
        // Valid for a day: fine.
        let t = turn_rest_info("alice:1800086400", now, &ProbeOutcome::Ok).unwrap();
        assert!(!t.expired && !t.clock_skew_suspected);
        // A year ahead: suspicious.
        let t = turn_rest_info("1831536000:alice", now, &ProbeOutcome::Ok).unwrap();
        assert!(t.clock_skew_suspected);
        assert_eq!(turn_rest_info("alice", now, &ProbeOutcome::Ok), None);

        let mut r = base(ProbeKind::TurnAllocate, ProbeTransport::Udp, denied.clone());
        r.turn_rest = turn_rest_info("1799996400:alice", now, &denied);
        let s = r.summary();
        assert!(s.contains("expired 60 min ago"), "{s}");
    }

    #[test]
    fn serialises_with_a_status_tag() {
        let r = base(
            ProbeKind::TurnAllocate,
            ProbeTransport::Tls,
            ProbeOutcome::TlsError {
                error: "invalid peer certificate: UnknownIssuer".into(),
            },
        );
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["outcome"]["status"], "tls_error");
        assert_eq!(v["transport"], "tls");
        assert_eq!(v["kind"], "turn_allocate");
        let back: ProbeResult = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
        assert!(r.summary().contains("--insecure"));
    }
}
