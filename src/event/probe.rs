//! What one ICE-server probe found, as data (serialisable: the `probe_result` event and
//! `probe --json`) and as one plain-language line ([`ProbeResult::summary`]). Pure data: the probe
//! itself (sockets, timers) is `crate::probe`, which fills these in.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::sanitize::sanitize;

/// How the probe reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeTransport {
    /// UDP (`stun:`, `turn:` and `turn:…?transport=udp`).
    Udp,
    /// TCP (`turn:…?transport=tcp`).
    Tcp,
    /// TLS over TCP (`turns:`, `stuns:`).
    Tls,
}

impl ProbeTransport {
    /// `udp`, `tcp` or `tls`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeTransport::Udp => "udp",
            ProbeTransport::Tcp => "tcp",
            ProbeTransport::Tls => "tls",
        }
    }
}

/// What the probe asked the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeKind {
    /// A STUN Binding request: is the server there, and what address does it see?
    StunBinding,
    /// A TURN Allocate (with long-term credentials), then a Refresh with lifetime 0 to free it.
    TurnAllocate,
}

/// How a probe ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ProbeOutcome {
    /// The server answered with success: a mapped address (STUN) or a relayed address (TURN).
    Ok,
    /// No response: every try went unanswered until the deadline.
    Timeout {
        /// Requests sent in the transaction that timed out (retransmissions included).
        tries: u32,
        /// How long the probe waited for that transaction, in milliseconds.
        waited_ms: f64,
        /// UDP: the system reported ICMP port unreachable (nothing listens on that port).
        #[serde(skip_serializing_if = "std::ops::Not::not", default)]
        icmp_unreachable: bool,
    },
    /// The server answered with a STUN error response.
    StunError {
        /// ERROR-CODE (e.g. 401, 438, 441, 486, 508).
        code: u16,
        /// The server's reason phrase (not sanitised).
        reason: String,
        /// Whether the failing request carried credentials (false: the server wants some and none
        /// were given).
        authenticated: bool,
    },
    /// The TCP connection could not be opened (refused, unreachable, timed out), or a UDP send failed.
    ConnectError {
        /// The error in words.
        error: String,
    },
    /// The TLS handshake failed (certificate, protocol).
    TlsError {
        /// The error in words.
        error: String,
    },
    /// The host name did not resolve.
    DnsError {
        /// The error in words.
        error: String,
    },
    /// The server answered with something unusable (not STUN, a malformed message, a success without
    /// the address, a failed integrity check, a closed connection).
    ProtocolError {
        /// What was wrong.
        error: String,
    },
    /// The URL cannot be probed (not a STUN/TURN URL, or a transport this probe does not have).
    InvalidUrl {
        /// Why.
        error: String,
    },
}

/// A TURN-REST username (`expiry:user`) decoded against the local clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnRestInfo {
    /// The expiry, unix seconds.
    pub expiry_unix: u64,
    /// Seconds from now until the expiry (negative: expired that long ago).
    pub seconds_left: i64,
    /// Whether it has expired by the local clock.
    pub expired: bool,
    /// Whether the local clock (or the issuer's) looks wrong: the server accepted a username that
    /// is expired here, or the expiry is implausibly far ahead.
    pub clock_skew_suspected: bool,
}

/// The result of probing one ICE-server URL over one transport.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// The URL (credentials masked).
    pub url: String,
    /// How the server was reached.
    pub transport: ProbeTransport,
    /// What was asked.
    pub kind: ProbeKind,
    /// Host as written in the URL.
    pub host: String,
    /// Port.
    pub port: u16,
    /// How it ended.
    pub outcome: ProbeOutcome,
    /// The address the host resolved to and the probe used.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub server_address: Option<SocketAddr>,
    /// The probe's own address (the socket's local address).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub local_address: Option<SocketAddr>,
    /// Round-trip time of the first STUN transaction, in milliseconds (from the last send, if it
    /// was retransmitted).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rtt_ms: Option<f64>,
    /// TCP connect time, in milliseconds (TCP/TLS).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub connect_ms: Option<f64>,
    /// TLS handshake time, in milliseconds (TLS).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tls_ms: Option<f64>,
    /// The server-reflexive address the server saw (XOR-MAPPED-ADDRESS), for STUN and TURN.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mapped_address: Option<SocketAddr>,
    /// The relayed address allocated (TURN).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub relayed_address: Option<SocketAddr>,
    /// Allocation lifetime granted, in seconds (TURN).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub lifetime_s: Option<u32>,
    /// Whether the allocation was freed again (Refresh with lifetime 0); `None` when none was made.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub released: Option<bool>,
    /// STUN requests sent, retransmissions included.
    pub attempts: u32,
    /// Time the whole probe took, in milliseconds.
    pub elapsed_ms: f64,
    /// The TURN username (masked except for a TURN-REST expiry).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub username: Option<String>,
    /// The TURN-REST expiry of the username, when it has that form.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub turn_rest: Option<TurnRestInfo>,
    /// The server's SOFTWARE attribute (not sanitised).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub software: Option<String>,
}

/// `1h 5m`, `42s`: a coarse duration for humans.
fn coarse(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 2 * 3600 => format!("{} min", s / 60),
        s if s < 2 * 86400 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86400),
    }
}

fn ms(v: f64) -> String {
    if v < 1.0 {
        format!("{v:.2} ms")
    } else if v < 10.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.0} ms")
    }
}

impl ProbeResult {
    /// Whether the server did what was asked (a mapped or relayed address came back).
    pub fn is_ok(&self) -> bool {
        matches!(self.outcome, ProbeOutcome::Ok)
    }

    /// `STUN udp host:port` / `TURN tls host:port (1.2.3.4)`.
    fn label(&self) -> String {
        let kind = match self.kind {
            ProbeKind::StunBinding => "STUN",
            ProbeKind::TurnAllocate => "TURN",
        };
        if self.host.is_empty() {
            // A URL that did not parse: show it as given.
            return format!("{kind} {}", self.url);
        }
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let mut s = format!("{kind} {} {host}:{}", self.transport.as_str(), self.port);
        if let Some(a) = self.server_address
            && a.ip().to_string() != self.host
        {
            s.push_str(&format!(" ({})", a.ip()));
        }
        s
    }

    /// What the TURN-REST username says, as a clause, when it matters.
    fn turn_rest_clause(&self) -> Option<String> {
        let t = self.turn_rest.as_ref()?;
        let left = t.seconds_left.unsigned_abs();
        if t.expired {
            Some(format!(
                "the TURN-REST username expired {} ago{}",
                coarse(left),
                if t.clock_skew_suspected {
                    " by this host's clock, yet the server accepted it: check the clock"
                } else {
                    ""
                }
            ))
        } else if t.clock_skew_suspected {
            Some(format!(
                "the TURN-REST username expires in {}: implausibly far ahead, a clock looks skewed",
                coarse(left)
            ))
        } else {
            None
        }
    }

    /// One plain-language line for a person, e.g.
    /// `TURN udp 127.0.0.1:3478: authentication failed (401 Unauthorized) — check username/credential`.
    /// Server-supplied text in it is sanitised for the terminal.
    pub fn summary(&self) -> String {
        let label = self.label();
        let tries = |n: u32| {
            if n == 1 {
                "1 try".to_owned()
            } else {
                format!("{n} tries")
            }
        };
        let body = match &self.outcome {
            ProbeOutcome::Ok => {
                let rtt = self
                    .rtt_ms
                    .map(|v| format!(" in {}", ms(v)))
                    .unwrap_or_default();
                let retried = if self.kind == ProbeKind::StunBinding && self.attempts > 1 {
                    format!(" (after {})", tries(self.attempts))
                } else {
                    String::new()
                };
                match (self.kind, self.relayed_address) {
                    (ProbeKind::TurnAllocate, Some(relay)) => {
                        let mut s = format!("relay {relay}");
                        if let Some(l) = self.lifetime_s {
                            s.push_str(&format!(" for {}", coarse(l.into())));
                        }
                        s.push_str(&rtt);
                        if let Some(m) = self.mapped_address {
                            s.push_str(&format!(", mapped {m}"));
                        }
                        match self.released {
                            Some(true) => s.push_str(", freed"),
                            Some(false) => s.push_str(", not freed (it expires by itself)"),
                            None => {}
                        }
                        s
                    }
                    _ => match self.mapped_address {
                        Some(m) => format!("mapped {m}{rtt}{retried}"),
                        None => format!("answered{rtt}{retried}"),
                    },
                }
            }
            ProbeOutcome::Timeout {
                tries: n,
                waited_ms,
                icmp_unreachable,
            } => {
                let why = if *icmp_unreachable {
                    "ICMP port unreachable: nothing listens on that port"
                } else {
                    match self.transport {
                        ProbeTransport::Udp => "UDP blocked on the way, or no server on that port",
                        _ => "the server accepted the connection but does not speak STUN there",
                    }
                };
                format!(
                    "no response after {} in {:.1} s — {why}",
                    tries(*n),
                    waited_ms / 1000.0
                )
            }
            ProbeOutcome::StunError {
                code,
                reason,
                authenticated,
            } => {
                let reason = sanitize(reason);
                let what = if reason.is_empty() {
                    format!("{code}")
                } else {
                    format!("{code} {reason}")
                };
                let mut s = match code {
                    401 if !authenticated => format!(
                        "the server requires credentials ({what}) and none were given — use \
                         turn:user:pass@host:port or --ice-username/--ice-credential"
                    ),
                    401 | 441 => {
                        format!("authentication failed ({what}) — check username/credential")
                    }
                    431 => format!("integrity check failed ({what}) — check username/credential"),
                    438 => format!(
                        "stale nonce twice in a row ({what}) — the server keeps rejecting its own nonce"
                    ),
                    437 => format!("allocation mismatch ({what}) — retry later"),
                    442 => {
                        format!("unsupported transport ({what}) — the server does not relay UDP")
                    }
                    486 => format!(
                        "allocation quota reached ({what}) — too many allocations for this user"
                    ),
                    508 => format!(
                        "insufficient capacity ({what}) — the server has no relay ports left"
                    ),
                    403 => format!("forbidden ({what}) — the server refuses this user or address"),
                    300 => format!("try alternate ({what}) — the server redirects elsewhere"),
                    _ => format!("error {what}"),
                };
                if let Some(c) = self.turn_rest_clause() {
                    s.push_str(&format!("; {c}"));
                }
                s
            }
            ProbeOutcome::ConnectError { error } => {
                let error = sanitize(error);
                if error.contains("refused") {
                    format!("connection refused — nothing listens on that port ({error})")
                } else {
                    format!("cannot connect: {error}")
                }
            }
            ProbeOutcome::TlsError { error } => {
                let error = sanitize(error);
                if error.contains("certificate") {
                    format!(
                        "TLS handshake failed: {error} (use --insecure to accept a self-signed certificate)"
                    )
                } else {
                    format!("TLS handshake failed: {error}")
                }
            }
            ProbeOutcome::DnsError { error } => {
                format!("cannot resolve the host: {}", sanitize(error))
            }
            ProbeOutcome::ProtocolError { error } => {
                format!("unusable answer: {}", sanitize(error))
            }
            ProbeOutcome::InvalidUrl { error } => format!("cannot probe: {}", sanitize(error)),
        };
        let mut line = format!("{label}: {body}");
        if self.is_ok()
            && let Some(c) = self.turn_rest_clause()
        {
            line.push_str(&format!("; {c}"));
        }
        line
    }
}
