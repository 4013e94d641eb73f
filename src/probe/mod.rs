//! The ICE-server probe: test each STUN/TURN server on its own, independently of any peer
//! connection, and say in words what works.
//!
//! - `stun:` — a Binding request over UDP: round-trip time and the mapped (server-reflexive) address;
//!   retransmitted at 500 ms, 1 s, 2 s… (RFC 5389 §7.2.1) up to [`ProbeOptions::max_tries`] and
//!   [`ProbeOptions::timeout`]. `stuns:` does the same over TLS.
//! - `turn:` / `turn:…?transport=tcp` / `turns:` — an Allocate over UDP, TCP or TLS: the anonymous
//!   request draws a 401 with the realm and nonce, the second carries the long-term credentials.
//!   Success gives the relayed address, lifetime and round-trip time, and a Refresh with lifetime 0
//!   frees the allocation again. Failure gives the STUN error code and reason (401 wrong
//!   credentials, 438 stale nonce, 486 quota, 508 capacity…). The viewer uses TURN over TCP/TLS too
//!   (webrtc-rs 0.21 cannot, the adapter's bridge carries it): a server that allocates here but fails
//!   in the session is a finding of its own (`turn-transport-failed`).
//!
//! The STUN/TURN messages come from the `rtc` crate's codec through
//! [`crate::webrtc_adapter::stun_turn`]; this module owns the sockets, timers and the flow. Every
//! wait is bounded: DNS, connect, TLS handshake and each transaction by [`ProbeOptions::timeout`].
//! Results are [`ProbeResult`]s (serialisable, one per URL and transport) with a one-line
//! [`ProbeResult::summary`].

pub mod result;
mod stream;
pub mod target;
mod udp;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

pub use result::{ProbeKind, ProbeOutcome, ProbeResult, ProbeTransport, TurnRestInfo};

use crate::proto::ice_server::{IceServerSpec, mask_username};
use crate::webrtc_adapter::stun_turn::{
    self, CodecError, Integrity, LongTermAuth, StunResponse, TxId,
};
use stream::StreamChannel;
use target::Target;
use udp::{Schedule, UdpChannel};

/// How to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeOptions {
    /// Bound on each step: DNS, TCP connect, TLS handshake, and each STUN transaction.
    pub timeout: Duration,
    /// First UDP retransmission timeout, doubled after each try (RFC 5389: 500 ms).
    pub initial_rto: Duration,
    /// Most UDP requests per transaction (the first send included).
    pub max_tries: u32,
    /// Accept any TLS certificate (`turns:`/`stuns:`).
    pub insecure: bool,
    /// CA certificates trusted besides the Mozilla roots (DER, from `--ca-file`).
    pub ca_roots: Vec<Vec<u8>>,
    /// Also probe over TCP the `stun:`/`turn:` URLs that name no transport.
    pub all_transports: bool,
}

impl Default for ProbeOptions {
    /// 3 s per step, 500 ms first RTO, at most 4 tries (3 fit in the default 3 s: at 0, 0.5 and
    /// 1.5 s), certificates verified, transports as the URLs say.
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(3),
            initial_rto: Duration::from_millis(500),
            max_tries: 4,
            insecure: false,
            ca_roots: Vec::new(),
            all_transports: false,
        }
    }
}

/// A response and how it came.
pub(crate) struct Exchange {
    /// The response.
    resp: StunResponse,
    /// From the last send to the response.
    rtt: Duration,
    /// Requests sent.
    tries: u32,
}

/// Why a transaction produced no response.
pub(crate) enum TxError {
    /// Nothing came back before the deadline.
    Timeout {
        tries: u32,
        waited: Duration,
        icmp_unreachable: bool,
    },
    /// The socket failed (send/receive error).
    Io(String),
    /// The server sent something unusable, or closed the stream.
    Protocol(String),
}

/// A response parser for one transaction.
pub(crate) type Parse<'a> = &'a (dyn Fn(&[u8]) -> Result<StunResponse, CodecError> + Sync);

/// The way to the server.
enum Channel {
    Udp(UdpChannel),
    Stream(StreamChannel),
}

impl Channel {
    async fn transact(
        &mut self,
        req: &[u8],
        parse: Parse<'_>,
        opts: &ProbeOptions,
    ) -> Result<Exchange, TxError> {
        match self {
            Channel::Udp(c) => {
                let schedule = Schedule {
                    rto: opts.initial_rto,
                    max_tries: opts.max_tries,
                    timeout: opts.timeout,
                };
                c.transact(req, parse, schedule).await
            }
            Channel::Stream(c) => c.transact(req, parse, opts.timeout).await,
        }
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl TxError {
    fn into_outcome(self) -> ProbeOutcome {
        match self {
            TxError::Timeout {
                tries,
                waited,
                icmp_unreachable,
            } => ProbeOutcome::Timeout {
                tries,
                waited_ms: millis(waited),
                icmp_unreachable,
            },
            TxError::Io(error) => ProbeOutcome::ConnectError { error },
            TxError::Protocol(error) => ProbeOutcome::ProtocolError { error },
        }
    }

    fn tries(&self) -> u32 {
        match self {
            TxError::Timeout { tries, .. } => *tries,
            _ => 1,
        }
    }
}

/// Probe every URL of one ICE-server entry: one result per URL and transport, in URL order.
/// URLs are probed concurrently.
pub async fn probe_server(spec: &IceServerSpec, opts: &ProbeOptions) -> Vec<ProbeResult> {
    let mut jobs: Vec<Result<Target, ProbeResult>> = Vec::new();
    for url in &spec.urls {
        match target::targets(url, opts.all_transports) {
            Ok(ts) => jobs.extend(ts.into_iter().map(Ok)),
            Err(error) => jobs.push(Err(invalid(url, error))),
        }
    }
    futures_util::future::join_all(jobs.into_iter().map(|job| async move {
        match job {
            Ok(t) => probe_target(t, spec, opts).await,
            Err(r) => r,
        }
    }))
    .await
}

/// Probe every entry: all results, in order, entries probed concurrently.
pub async fn probe_all(specs: &[IceServerSpec], opts: &ProbeOptions) -> Vec<ProbeResult> {
    futures_util::future::join_all(specs.iter().map(|s| probe_server(s, opts)))
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// The result for a URL that cannot be probed.
fn invalid(url: &str, error: String) -> ProbeResult {
    let mut r = blank(
        crate::proto::ice_server::mask_url(url.trim()),
        String::new(),
        0,
        ProbeTransport::Udp,
        target::kind_of(url),
    );
    r.outcome = ProbeOutcome::InvalidUrl { error };
    r
}

fn blank(
    url: String,
    host: String,
    port: u16,
    transport: ProbeTransport,
    kind: ProbeKind,
) -> ProbeResult {
    ProbeResult {
        url,
        transport,
        kind,
        host,
        port,
        outcome: ProbeOutcome::Ok,
        server_address: None,
        local_address: None,
        rtt_ms: None,
        connect_ms: None,
        tls_ms: None,
        mapped_address: None,
        relayed_address: None,
        lifetime_s: None,
        released: None,
        attempts: 0,
        elapsed_ms: 0.0,
        username: None,
        turn_rest: None,
        software: None,
    }
}

/// Resolve `host:port` within `timeout`, preferring IPv4.
async fn resolve(host: &str, port: u16, timeout: Duration) -> Result<SocketAddr, String> {
    let lookup = tokio::net::lookup_host((host, port));
    let addrs: Vec<SocketAddr> = match tokio::time::timeout(timeout, lookup).await {
        Err(_) => {
            return Err(format!(
                "no DNS answer within {:.1} s",
                timeout.as_secs_f64()
            ));
        }
        Ok(Err(e)) => return Err(e.to_string()),
        Ok(Ok(a)) => a.collect(),
    };
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| "the name has no addresses".to_owned())
}

/// Run one probe.
async fn probe_target(t: Target, spec: &IceServerSpec, opts: &ProbeOptions) -> ProbeResult {
    let started = Instant::now();
    let (user, pass) = match (&spec.username, &spec.credential, &t.url_credentials) {
        (Some(u), c, _) => (Some(u.clone()), c.clone()),
        (None, c, Some((u, p))) => (Some(u.clone()), c.clone().or_else(|| p.clone())),
        (None, c, None) => (None, c.clone()),
    };
    let username = (t.kind == ProbeKind::TurnAllocate)
        .then(|| user.as_deref().map(mask_username))
        .flatten();
    let fresh = || ProbeResult {
        username: username.clone(),
        ..blank(t.url.clone(), t.host.clone(), t.port, t.transport, t.kind)
    };
    let mut r = fresh();
    // A 437 (allocation mismatch) on UDP means the server still holds an allocation for this
    // 5-tuple: our local port was used a moment ago (by another client, or by an earlier probe with
    // other credentials). Like libwebrtc (`TurnPort::OnAllocateMismatch`), try again from a new port,
    // at most twice; the old socket is kept open meanwhile so that the new one cannot get its port.
    let mut held = Vec::new();
    for retry in 0..=ALLOCATE_MISMATCH_RETRIES {
        let channel = exchange(&t, user.as_deref(), pass.as_deref(), opts, &mut r).await;
        let mismatch = t.kind == ProbeKind::TurnAllocate
            && t.transport == ProbeTransport::Udp
            && matches!(r.outcome, ProbeOutcome::StunError { code: 437, .. });
        if !mismatch || retry == ALLOCATE_MISMATCH_RETRIES {
            break;
        }
        tracing::debug!(url = %t.url, "probe: 437 allocation mismatch; trying again from a new port");
        held.extend(channel);
        r = fresh();
    }
    drop(held);
    r.elapsed_ms = millis(started.elapsed());
    if t.kind == ProbeKind::TurnAllocate
        && let Some(u) = &user
    {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        r.turn_rest = result::turn_rest_info(u, now, &r.outcome);
    }
    r
}

/// Retries of a UDP allocation that got 437 (allocation mismatch), each from a new port, as libwebrtc.
const ALLOCATE_MISMATCH_RETRIES: u32 = 2;

/// Connect and run the exchange, filling `r`; returns the channel it used, if one was opened.
async fn exchange(
    t: &Target,
    user: Option<&str>,
    pass: Option<&str>,
    opts: &ProbeOptions,
    r: &mut ProbeResult,
) -> Option<Channel> {
    let server = match resolve(&t.host, t.port, opts.timeout).await {
        Ok(a) => a,
        Err(error) => {
            r.outcome = ProbeOutcome::DnsError { error };
            return None;
        }
    };
    r.server_address = Some(server);
    let mut channel = match t.transport {
        ProbeTransport::Udp => match UdpChannel::open(server).await {
            Ok(c) => {
                r.local_address = c.local_addr();
                Channel::Udp(c)
            }
            Err(e) => {
                r.outcome = ProbeOutcome::ConnectError {
                    error: format!("cannot open a UDP socket: {e}"),
                };
                return None;
            }
        },
        ProbeTransport::Tcp | ProbeTransport::Tls => {
            let t0 = Instant::now();
            let tcp = match stream::connect_tcp(server, opts.timeout).await {
                Ok(s) => s,
                Err(error) => {
                    r.outcome = ProbeOutcome::ConnectError { error };
                    return None;
                }
            };
            r.connect_ms = Some(millis(t0.elapsed()));
            r.local_address = tcp.local_addr().ok();
            if t.transport == ProbeTransport::Tls {
                let t1 = Instant::now();
                match stream::tls_handshake(
                    tcp,
                    &t.host,
                    opts.insecure,
                    &opts.ca_roots,
                    opts.timeout,
                )
                .await
                {
                    Ok(tls) => {
                        r.tls_ms = Some(millis(t1.elapsed()));
                        Channel::Stream(StreamChannel::new(tls))
                    }
                    Err(error) => {
                        r.outcome = ProbeOutcome::TlsError { error };
                        return None;
                    }
                }
            } else {
                Channel::Stream(StreamChannel::new(tcp))
            }
        }
    };
    match t.kind {
        ProbeKind::StunBinding => binding(&mut channel, opts, r).await,
        ProbeKind::TurnAllocate => allocate(&mut channel, user, pass, opts, r).await,
    }
    Some(channel)
}

/// An encoding failure as an outcome (e.g. a username too long for its attribute).
fn encode_failed(e: CodecError) -> ProbeOutcome {
    ProbeOutcome::InvalidUrl {
        error: e.to_string(),
    }
}

/// One transaction, counting its tries into `r.attempts`.
async fn transact(
    channel: &mut Channel,
    req: &[u8],
    parse: Parse<'_>,
    opts: &ProbeOptions,
    r: &mut ProbeResult,
) -> Result<Exchange, ProbeOutcome> {
    match channel.transact(req, parse, opts).await {
        Ok(x) => {
            r.attempts += x.tries;
            if r.software.is_none() {
                r.software = x.resp.software.clone();
            }
            Ok(x)
        }
        Err(e) => {
            r.attempts += e.tries();
            Err(e.into_outcome())
        }
    }
}

/// STUN Binding: the mapped address.
async fn binding(channel: &mut Channel, opts: &ProbeOptions, r: &mut ProbeResult) {
    let tid = stun_turn::new_transaction_id();
    let req = match stun_turn::binding_request(tid) {
        Ok(b) => b,
        Err(e) => {
            r.outcome = encode_failed(e);
            return;
        }
    };
    let parse = move |b: &[u8]| stun_turn::parse_binding_response(b, &tid);
    let x = match transact(channel, &req, &parse, opts, r).await {
        Ok(x) => x,
        Err(o) => {
            r.outcome = o;
            return;
        }
    };
    r.rtt_ms = Some(millis(x.rtt));
    r.outcome = match (x.resp.error, x.resp.mapped) {
        (Some(e), _) => ProbeOutcome::StunError {
            code: e.code,
            reason: e.reason,
            authenticated: false,
        },
        (None, Some(m)) => {
            r.mapped_address = Some(m);
            ProbeOutcome::Ok
        }
        (None, None) => ProbeOutcome::ProtocolError {
            error: "Binding success without a mapped address".into(),
        },
    };
}

/// An error response as an outcome.
fn stun_error(e: stun_turn::StunErrorCode, authenticated: bool) -> ProbeOutcome {
    ProbeOutcome::StunError {
        code: e.code,
        reason: e.reason,
        authenticated,
    }
}

/// TURN Allocate (anonymous, then with credentials), then Refresh with lifetime 0.
async fn allocate(
    channel: &mut Channel,
    user: Option<&str>,
    pass: Option<&str>,
    opts: &ProbeOptions,
    r: &mut ProbeResult,
) {
    // 1. Anonymous: the server answers 401 with its realm and nonce.
    let tid = stun_turn::new_transaction_id();
    let req = match stun_turn::allocate_request(tid, None) {
        Ok(b) => b,
        Err(e) => {
            r.outcome = encode_failed(e);
            return;
        }
    };
    let parse = move |b: &[u8]| stun_turn::parse_allocate_response(b, &tid, None);
    let first = match transact(channel, &req, &parse, opts, r).await {
        Ok(x) => x,
        Err(o) => {
            r.outcome = o;
            return;
        }
    };
    r.rtt_ms = Some(millis(first.rtt));
    let challenge = first.resp;
    let (realm, mut nonce) = match &challenge.error {
        None => {
            // An open relay: no authentication asked for.
            record_allocation(&challenge, r);
            if r.is_ok() {
                release(channel, None, opts, r).await;
            }
            return;
        }
        Some(e) if e.code == 401 => match (&challenge.realm, &challenge.nonce) {
            (Some(realm), Some(nonce)) => (realm.clone(), nonce.clone()),
            _ => {
                r.outcome = ProbeOutcome::ProtocolError {
                    error: "401 without REALM and NONCE: cannot authenticate".into(),
                };
                return;
            }
        },
        Some(e) => {
            r.outcome = stun_error(e.clone(), false);
            return;
        }
    };
    let (Some(user), Some(pass)) = (user, pass) else {
        if let Some(e) = challenge.error {
            r.outcome = stun_error(e, false);
        }
        return;
    };

    // 2. With long-term credentials; one retry on 438 Stale Nonce with the new nonce.
    let mut auth = match LongTermAuth::new(user, pass, &realm, &nonce) {
        Ok(a) => a,
        Err(e) => {
            r.outcome = encode_failed(e);
            return;
        }
    };
    let mut stale_retried = false;
    let resp = loop {
        let tid = stun_turn::new_transaction_id();
        let req = match stun_turn::allocate_request(tid, Some(&auth)) {
            Ok(b) => b,
            Err(e) => {
                r.outcome = encode_failed(e);
                return;
            }
        };
        let a = auth.clone();
        let parse = move |b: &[u8]| stun_turn::parse_allocate_response(b, &tid, Some(&a));
        let x = match transact(channel, &req, &parse, opts, r).await {
            Ok(x) => x,
            Err(o) => {
                r.outcome = o;
                return;
            }
        };
        match (&x.resp.error, &x.resp.nonce) {
            (Some(e), Some(n)) if e.code == 438 && !stale_retried && *n != nonce => {
                stale_retried = true;
                nonce = n.clone();
                auth = auth.with_nonce(n);
            }
            _ => break x.resp,
        }
    };
    if let Some(e) = resp.error {
        r.outcome = stun_error(e, true);
        return;
    }
    if resp.integrity == Integrity::Invalid {
        r.outcome = ProbeOutcome::ProtocolError {
            error: "the Allocate success response fails its MESSAGE-INTEGRITY check".into(),
        };
        return;
    }
    record_allocation(&resp, r);
    if r.is_ok() {
        release(channel, Some(auth), opts, r).await;
    }
}

/// Take the relayed address and lifetime of an Allocate success into `r`.
fn record_allocation(resp: &StunResponse, r: &mut ProbeResult) {
    r.mapped_address = resp.mapped;
    r.lifetime_s = resp.lifetime_s;
    match resp.relayed {
        Some(a) => {
            r.relayed_address = Some(a);
            r.outcome = ProbeOutcome::Ok;
        }
        None => {
            r.outcome = ProbeOutcome::ProtocolError {
                error: "Allocate success without XOR-RELAYED-ADDRESS".into(),
            };
        }
    }
}

/// Free the allocation: Refresh with lifetime 0 (one retry on 438 Stale Nonce). Sets `r.released`.
async fn release(
    channel: &mut Channel,
    auth: Option<LongTermAuth>,
    opts: &ProbeOptions,
    r: &mut ProbeResult,
) {
    // An open relay (no credentials) cannot be refreshed with MESSAGE-INTEGRITY; it expires.
    let Some(mut auth) = auth else {
        r.released = Some(false);
        return;
    };
    for _ in 0..2 {
        let tid: TxId = stun_turn::new_transaction_id();
        let Ok(req) = stun_turn::refresh_request(tid, 0, &auth) else {
            r.released = Some(false);
            return;
        };
        let a = auth.clone();
        let parse = move |b: &[u8]| stun_turn::parse_refresh_response(b, &tid, &a);
        let Ok(x) = transact(channel, &req, &parse, opts, r).await else {
            r.released = Some(false);
            return;
        };
        match (&x.resp.error, &x.resp.nonce) {
            (None, _) => {
                r.released = Some(true);
                return;
            }
            (Some(e), Some(n)) if e.code == 438 => auth = auth.with_nonce(n),
            (Some(_), _) => {
                r.released = Some(false);
                return;
            }
        }
    }
    r.released = Some(false);
}

/// The shortest timeout `rtcscope probe --timeout` accepts: below it not even one UDP retransmission fits.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(100);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webrtc_adapter::stun_turn::{StunMethod, server};

    /// A TURN server on loopback that answers every Allocate with 437 from the first `mismatched`
    /// client ports it sees, and 401 (with a realm and nonce: the credentials are wrong) from the
    /// others. Returns its address and the client ports seen, in order.
    async fn fake_turn(mismatched: usize) -> (SocketAddr, tokio::task::JoinHandle<Vec<u16>>) {
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = sock.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let mut ports: Vec<u16> = Vec::new();
            let mut buf = [0u8; 2048];
            while let Ok(Ok((n, from))) =
                tokio::time::timeout(Duration::from_millis(1500), sock.recv_from(&mut buf)).await
            {
                if !ports.contains(&from.port()) {
                    ports.push(from.port());
                }
                let seen = ports.iter().position(|p| *p == from.port()).unwrap_or(0);
                let reply = server::Reply {
                    error: Some(if seen < mismatched {
                        (437, "Allocation Mismatch")
                    } else {
                        (401, "Unauthorized")
                    }),
                    realm: (seen >= mismatched).then_some("test"),
                    nonce: (seen >= mismatched).then_some("abc"),
                    ..server::Reply::new(StunMethod::Allocate, server::tid_of(&buf[..n]))
                };
                let _ = sock.send_to(&reply.encode(), from).await;
            }
            ports
        });
        (addr, task)
    }

    async fn probe_fake(addr: SocketAddr) -> ProbeResult {
        let url = format!("turn:u:p@{addr}");
        let spec = crate::proto::ice_server::parse_cli_ice_server(&url, None, None).expect("url");
        let opts = ProbeOptions {
            timeout: Duration::from_millis(500),
            ..ProbeOptions::default()
        };
        probe_server(&spec, &opts).await.remove(0)
    }

    #[tokio::test]
    async fn a_437_is_tried_again_from_a_new_port_as_libwebrtc_does() {
        let (addr, server) = fake_turn(1).await;
        let r = probe_fake(addr).await;
        let ports = server.await.expect("server");
        assert_eq!(ports.len(), 2, "one retry from a second port: {ports:?}");
        assert_ne!(ports[0], ports[1]);
        assert!(
            matches!(
                r.outcome,
                ProbeOutcome::StunError {
                    code: 401,
                    authenticated: true,
                    ..
                }
            ),
            "the retry's answer is the result: {r:#?}"
        );
        assert_eq!(r.attempts, 2, "the tries of the last port only: {r:#?}");
        assert_eq!(r.local_address.map(|a| a.port()), Some(ports[1]));
    }

    #[tokio::test]
    async fn a_server_that_keeps_answering_437_gets_two_retries_then_the_437() {
        let (addr, server) = fake_turn(usize::MAX).await;
        let r = probe_fake(addr).await;
        let ports = server.await.expect("server");
        assert_eq!(ports.len(), 3, "{ports:?}");
        let mut distinct = ports.clone();
        distinct.dedup();
        assert_eq!(distinct.len(), 3, "each try from its own port: {ports:?}");
        assert!(
            matches!(r.outcome, ProbeOutcome::StunError { code: 437, .. }),
            "{r:#?}"
        );
    }
}
