//! The STUN/TURN message codec of the ICE-server probe ([`crate::probe`]): pure functions over bytes,
//! built on the `rtc` crate's sans-IO STUN and TURN message types (`rtc::stun`, `rtc::turn`). No
//! sockets and no clock here; the probe drives these over its own UDP, TCP and TLS sockets.
//!
//! What it covers:
//! - a STUN Binding request (RFC 5389 §7) and its response: the (XOR-)MAPPED-ADDRESS;
//! - a TURN Allocate request (RFC 5766 §6), anonymous or with long-term credentials (RFC 5389 §10.2:
//!   USERNAME, REALM, NONCE, MESSAGE-INTEGRITY), always asking for a UDP relay as WebRTC does;
//! - a TURN Refresh request (RFC 5766 §7), used with lifetime 0 to free an allocation;
//! - any response: class, ERROR-CODE with its reason, REALM, NONCE, XOR-RELAYED-ADDRESS, LIFETIME,
//!   SOFTWARE, and the FINGERPRINT and MESSAGE-INTEGRITY checks.
//!
//! Every parse of network input returns an error instead of panicking, whatever the bytes.

use std::net::{IpAddr, SocketAddr};

use rtc::stun::addr::MappedAddress;
use rtc::stun::attributes::{
    ATTR_ERROR_CODE, ATTR_FINGERPRINT, ATTR_MAPPED_ADDRESS, ATTR_MESSAGE_INTEGRITY, ATTR_NONCE,
    ATTR_REALM, ATTR_SOFTWARE, ATTR_USERNAME, ATTR_XORMAPPED_ADDRESS,
};
use rtc::stun::error_code::ErrorCodeAttribute;
use rtc::stun::fingerprint::FINGERPRINT;
use rtc::stun::integrity::MessageIntegrity;
use rtc::stun::message::{
    CLASS_ERROR_RESPONSE, CLASS_REQUEST, CLASS_SUCCESS_RESPONSE, Getter, MAGIC_COOKIE,
    MESSAGE_HEADER_SIZE, METHOD_ALLOCATE, METHOD_BINDING, METHOD_REFRESH, Message, MessageType,
    Setter, TransactionId,
};
use rtc::stun::textattrs::TextAttribute;
use rtc::stun::xoraddr::XorMappedAddress;
use rtc::turn::proto::PROTO_UDP;
use rtc::turn::proto::lifetime::Lifetime;
use rtc::turn::proto::relayaddr::RelayedAddress;
use rtc::turn::proto::reqtrans::RequestedTransport;

/// A STUN transaction id (96 bits).
pub type TxId = [u8; 12];

/// Size of a MESSAGE-INTEGRITY value (HMAC-SHA1).
const INTEGRITY_LEN: usize = 20;

/// Longest STUN message accepted (the length field is 16 bits, plus the header).
pub const MAX_MESSAGE_LEN: usize = MESSAGE_HEADER_SIZE + u16::MAX as usize;

/// A fresh random transaction id.
pub fn new_transaction_id() -> TxId {
    TransactionId::new().0
}

/// Why a request could not be encoded or a response could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// Building the request failed (e.g. a username or realm too long for its attribute).
    #[error("could not build the STUN request: {0}")]
    Encode(String),
    /// The bytes are not a well-formed STUN message.
    #[error("not a valid STUN message: {0}")]
    Malformed(String),
    /// A well-formed STUN message that does not answer this request (another transaction, a
    /// request, an indication, another method). A probe ignores it and keeps waiting.
    #[error("a STUN message that does not answer the request: {0}")]
    NotOurs(String),
}

/// The STUN methods the probe uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StunMethod {
    /// Binding (STUN).
    Binding,
    /// Allocate (TURN).
    Allocate,
    /// Refresh (TURN).
    Refresh,
}

impl StunMethod {
    fn method(self) -> rtc::stun::message::Method {
        match self {
            StunMethod::Binding => METHOD_BINDING,
            StunMethod::Allocate => METHOD_ALLOCATE,
            StunMethod::Refresh => METHOD_REFRESH,
        }
    }

    /// The method's name as RFC 5389/5766 spell it.
    pub fn name(self) -> &'static str {
        match self {
            StunMethod::Binding => "Binding",
            StunMethod::Allocate => "Allocate",
            StunMethod::Refresh => "Refresh",
        }
    }
}

/// Long-term credentials (RFC 5389 §10.2) for an authenticated TURN request: what the client knows
/// and what the server's 401 gave it (realm and nonce).
#[derive(Clone, PartialEq, Eq)]
pub struct LongTermAuth {
    /// USERNAME.
    pub username: String,
    /// REALM, as the server sent it.
    pub realm: String,
    /// NONCE, as the server sent it.
    pub nonce: String,
    /// The key: MD5(username ":" realm ":" password).
    key: Vec<u8>,
}

impl std::fmt::Debug for LongTermAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LongTermAuth")
            .field("username", &self.username)
            .field("realm", &self.realm)
            .field("nonce", &self.nonce)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl LongTermAuth {
    /// Credentials for `username`/`password` in the server's `realm` with its `nonce`.
    pub fn new(
        username: &str,
        password: &str,
        realm: &str,
        nonce: &str,
    ) -> Result<Self, CodecError> {
        let provider = crypto_provider()?;
        let key = MessageIntegrity::long_term_integrity_key(
            username.to_owned(),
            realm.to_owned(),
            password.to_owned(),
            provider.crypto(),
        )
        .map_err(|e| CodecError::Encode(e.to_string()))?;
        Ok(Self {
            username: username.to_owned(),
            realm: realm.to_owned(),
            nonce: nonce.to_owned(),
            key,
        })
    }

    /// The same credentials with a new nonce (after a 438 Stale Nonce).
    pub fn with_nonce(&self, nonce: &str) -> Self {
        Self {
            nonce: nonce.to_owned(),
            ..self.clone()
        }
    }

    /// The MESSAGE-INTEGRITY key, to check an authenticated response with [`parse_response`].
    pub fn key(&self) -> &[u8] {
        &self.key
    }
}

fn crypto_provider() -> Result<std::sync::Arc<dyn rtc::crypto::RTCCryptoProvider>, CodecError> {
    rtc::crypto::default_provider().map_err(|e| CodecError::Encode(format!("crypto provider: {e}")))
}

/// Encode a request: type, transaction id, `attrs`, then MESSAGE-INTEGRITY (with `auth`) and
/// FINGERPRINT.
fn encode(
    method: StunMethod,
    tid: TxId,
    attrs: Vec<Box<dyn Setter>>,
    auth: Option<&LongTermAuth>,
) -> Result<Vec<u8>, CodecError> {
    let provider = crypto_provider()?;
    let mut setters: Vec<Box<dyn Setter + '_>> = vec![
        Box::new(TransactionId(tid)),
        Box::new(MessageType::new(method.method(), CLASS_REQUEST)),
    ];
    setters.extend(attrs);
    if let Some(a) = auth {
        setters.push(Box::new(TextAttribute::new(
            ATTR_USERNAME,
            a.username.clone(),
        )));
        setters.push(Box::new(TextAttribute::new(ATTR_REALM, a.realm.clone())));
        setters.push(Box::new(TextAttribute::new(ATTR_NONCE, a.nonce.clone())));
        setters.push(Box::new(MessageIntegrity::new_raw_integrity_with_provider(
            a.key.clone(),
            provider.crypto(),
        )));
    }
    setters.push(Box::new(FINGERPRINT));
    let mut m = Message::new();
    m.build(&setters)
        .map_err(|e| CodecError::Encode(e.to_string()))?;
    Ok(m.raw)
}

/// A STUN Binding request.
pub fn binding_request(tid: TxId) -> Result<Vec<u8>, CodecError> {
    encode(StunMethod::Binding, tid, Vec::new(), None)
}

/// A TURN Allocate request for a UDP relay; anonymous (the server answers 401 with its realm and
/// nonce) or with long-term credentials.
pub fn allocate_request(tid: TxId, auth: Option<&LongTermAuth>) -> Result<Vec<u8>, CodecError> {
    let attrs: Vec<Box<dyn Setter>> = vec![Box::new(RequestedTransport {
        protocol: PROTO_UDP,
    })];
    encode(StunMethod::Allocate, tid, attrs, auth)
}

/// A TURN Refresh request with LIFETIME `lifetime_s` (0 frees the allocation).
pub fn refresh_request(
    tid: TxId,
    lifetime_s: u32,
    auth: &LongTermAuth,
) -> Result<Vec<u8>, CodecError> {
    let attrs: Vec<Box<dyn Setter>> = vec![Box::new(Lifetime(std::time::Duration::from_secs(
        u64::from(lifetime_s),
    )))];
    encode(StunMethod::Refresh, tid, attrs, Some(auth))
}

/// An ERROR-CODE attribute: the code and the server's reason phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StunErrorCode {
    /// The code (e.g. 401, 438).
    pub code: u16,
    /// The reason phrase as sent (not sanitised).
    pub reason: String,
}

/// The MESSAGE-INTEGRITY check of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integrity {
    /// No key given: not checked.
    NotChecked,
    /// The response carries no MESSAGE-INTEGRITY.
    Absent,
    /// It verifies with the key.
    Valid,
    /// It does not verify (wrong key, or tampered).
    Invalid,
}

/// What a response to one of the probe's requests says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StunResponse {
    /// The method it answers.
    pub method: StunMethod,
    /// The ERROR-CODE of an error response; `None` for a success response.
    pub error: Option<StunErrorCode>,
    /// REALM, if present.
    pub realm: Option<String>,
    /// NONCE, if present.
    pub nonce: Option<String>,
    /// The reflexive address: XOR-MAPPED-ADDRESS, or MAPPED-ADDRESS from an RFC 3489 server.
    pub mapped: Option<SocketAddr>,
    /// XOR-RELAYED-ADDRESS (TURN Allocate success).
    pub relayed: Option<SocketAddr>,
    /// LIFETIME in seconds (TURN Allocate/Refresh success).
    pub lifetime_s: Option<u32>,
    /// SOFTWARE, if present (not sanitised).
    pub software: Option<String>,
    /// The MESSAGE-INTEGRITY check.
    pub integrity: Integrity,
}

impl StunResponse {
    /// Whether it is a success response.
    pub fn is_success(&self) -> bool {
        self.error.is_none()
    }
}

/// The length of the STUN message that starts `header` (header plus attributes), for framing a
/// TCP/TLS byte stream (RFC 5389 §7.2.2); `None` until 20 bytes are there or when they cannot
/// start a STUN message (the first two bits must be zero and the magic cookie present).
pub fn framed_len(header: &[u8]) -> Option<usize> {
    if header.len() < MESSAGE_HEADER_SIZE || header[0] & 0xc0 != 0 {
        return None;
    }
    let cookie = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    if cookie != MAGIC_COOKIE {
        return None;
    }
    let len = u16::from_be_bytes([header[2], header[3]]) as usize;
    Some(MESSAGE_HEADER_SIZE + len)
}

/// Text of a UTF-8 text attribute; lossy on bad UTF-8 (the value is only shown, never trusted).
fn text_attr(m: &Message, attr: rtc::stun::attributes::AttrType) -> Option<String> {
    m.get(attr)
        .ok()
        .map(|v| String::from_utf8_lossy(&v).into_owned())
}

fn socket_addr(ip: IpAddr, port: u16) -> SocketAddr {
    SocketAddr::new(ip, port)
}

/// Parse `bytes` as the response to the `method` request with transaction id `tid`.
///
/// With `key` (the long-term key of the request), MESSAGE-INTEGRITY is checked and the result put
/// in [`StunResponse::integrity`]; the caller decides what a failed check means. A FINGERPRINT that
/// does not match makes the message [`CodecError::Malformed`]. Attributes that do not parse are
/// left out (`None`); a success response without the attribute its method needs is the caller's
/// to judge.
pub fn parse_response(
    bytes: &[u8],
    tid: &TxId,
    method: StunMethod,
    key: Option<&[u8]>,
) -> Result<StunResponse, CodecError> {
    if bytes.len() < MESSAGE_HEADER_SIZE {
        return Err(CodecError::Malformed(format!(
            "{} bytes, shorter than a STUN header",
            bytes.len()
        )));
    }
    if bytes[0] & 0xc0 != 0 {
        return Err(CodecError::Malformed(
            "the first two bits are not zero".into(),
        ));
    }
    let mut m = Message::new();
    m.raw = bytes.to_vec();
    m.decode()
        .map_err(|e| CodecError::Malformed(e.to_string()))?;
    // Only the message itself: trailing bytes are not part of it (and would break FINGERPRINT).
    let full = MESSAGE_HEADER_SIZE + m.length as usize;
    if m.raw.len() > full {
        m.raw.truncate(full);
    }
    if m.transaction_id.0 != *tid {
        return Err(CodecError::NotOurs(
            "another transaction id (a late or stray response)".into(),
        ));
    }
    if m.typ.method != method.method() {
        return Err(CodecError::NotOurs(format!(
            "{} instead of a {} response",
            m.typ,
            method.name()
        )));
    }
    let is_error = if m.typ.class == CLASS_SUCCESS_RESPONSE {
        false
    } else if m.typ.class == CLASS_ERROR_RESPONSE {
        true
    } else {
        return Err(CodecError::NotOurs(format!("a {}", m.typ)));
    };
    if m.contains(ATTR_FINGERPRINT) {
        let fp_last = m
            .attributes
            .0
            .last()
            .is_some_and(|a| a.typ == ATTR_FINGERPRINT);
        if !fp_last || FINGERPRINT.check(&m).is_err() {
            return Err(CodecError::Malformed("FINGERPRINT does not match".into()));
        }
    }

    let error = if is_error {
        let mut code = ErrorCodeAttribute::default();
        match code.get_from(&m) {
            Ok(()) => Some(StunErrorCode {
                code: code.code.0,
                reason: String::from_utf8_lossy(&code.reason).into_owned(),
            }),
            Err(_) => {
                return Err(CodecError::Malformed(if m.contains(ATTR_ERROR_CODE) {
                    "error response with a malformed ERROR-CODE".into()
                } else {
                    "error response without ERROR-CODE".into()
                }));
            }
        }
    } else {
        None
    };

    let mapped = {
        let mut x = XorMappedAddress::default();
        if m.contains(ATTR_XORMAPPED_ADDRESS) && x.get_from(&m).is_ok() {
            Some(socket_addr(x.ip, x.port))
        } else {
            let mut a = MappedAddress::default();
            (m.contains(ATTR_MAPPED_ADDRESS) && a.get_from(&m).is_ok())
                .then(|| socket_addr(a.ip, a.port))
        }
    };
    let relayed = {
        let mut r = RelayedAddress::default();
        r.get_from(&m).ok().map(|()| socket_addr(r.ip, r.port))
    };
    let lifetime_s = {
        let mut l = Lifetime::default();
        l.get_from(&m)
            .ok()
            .map(|()| u32::try_from(l.0.as_secs()).unwrap_or(u32::MAX))
    };

    let integrity = match key {
        None => Integrity::NotChecked,
        Some(key) => match m.get(ATTR_MESSAGE_INTEGRITY) {
            Err(_) => Integrity::Absent,
            // The check assumes a 20-byte value; anything else cannot verify.
            Ok(v) if v.len() != INTEGRITY_LEN => Integrity::Invalid,
            Ok(_) => {
                let provider = crypto_provider()?;
                match MessageIntegrity::check(&mut m, key, provider.crypto()) {
                    Ok(()) => Integrity::Valid,
                    Err(_) => Integrity::Invalid,
                }
            }
        },
    };

    Ok(StunResponse {
        method,
        error,
        realm: text_attr(&m, ATTR_REALM),
        nonce: text_attr(&m, ATTR_NONCE),
        mapped,
        relayed,
        lifetime_s,
        software: text_attr(&m, ATTR_SOFTWARE),
        integrity,
    })
}

/// Parse the response to a Binding request.
pub fn parse_binding_response(bytes: &[u8], tid: &TxId) -> Result<StunResponse, CodecError> {
    parse_response(bytes, tid, StunMethod::Binding, None)
}

/// Parse the response to an Allocate request (`auth`: the credentials it carried, to check
/// MESSAGE-INTEGRITY).
pub fn parse_allocate_response(
    bytes: &[u8],
    tid: &TxId,
    auth: Option<&LongTermAuth>,
) -> Result<StunResponse, CodecError> {
    parse_response(
        bytes,
        tid,
        StunMethod::Allocate,
        auth.map(LongTermAuth::key),
    )
}

/// Parse the response to a Refresh request.
pub fn parse_refresh_response(
    bytes: &[u8],
    tid: &TxId,
    auth: &LongTermAuth,
) -> Result<StunResponse, CodecError> {
    parse_response(bytes, tid, StunMethod::Refresh, Some(auth.key()))
}

/// Test helpers: responses as a server would build them, with the same codec.
#[cfg(test)]
pub(crate) mod server {
    use super::*;
    use rtc::stun::error_code::ErrorCode;

    /// The transaction id of a request.
    pub fn tid_of(bytes: &[u8]) -> TxId {
        decode(bytes).transaction_id.0
    }

    pub fn decode(bytes: &[u8]) -> Message {
        let mut m = Message::new();
        m.raw = bytes.to_vec();
        m.decode().expect("decodes");
        m
    }

    pub struct Reply<'a> {
        pub method: StunMethod,
        pub tid: TxId,
        pub error: Option<(u16, &'a str)>,
        pub realm: Option<&'a str>,
        pub nonce: Option<&'a str>,
        pub xor_mapped: Option<SocketAddr>,
        pub mapped: Option<SocketAddr>,
        pub relayed: Option<SocketAddr>,
        pub lifetime_s: Option<u32>,
        pub key: Option<&'a [u8]>,
        pub fingerprint: bool,
    }

    impl<'a> Reply<'a> {
        pub fn new(method: StunMethod, tid: TxId) -> Self {
            Self {
                method,
                tid,
                error: None,
                realm: None,
                nonce: None,
                xor_mapped: None,
                mapped: None,
                relayed: None,
                lifetime_s: None,
                key: None,
                fingerprint: true,
            }
        }

        pub fn encode(&self) -> Vec<u8> {
            let provider = crypto_provider().unwrap();
            let class = if self.error.is_some() {
                CLASS_ERROR_RESPONSE
            } else {
                CLASS_SUCCESS_RESPONSE
            };
            let mut s: Vec<Box<dyn Setter + '_>> = vec![
                Box::new(TransactionId(self.tid)),
                Box::new(MessageType::new(self.method.method(), class)),
            ];
            if let Some((code, reason)) = self.error {
                s.push(Box::new(ErrorCodeAttribute {
                    code: ErrorCode(code),
                    reason: reason.as_bytes().to_vec(),
                }));
            }
            if let Some(r) = self.realm {
                s.push(Box::new(TextAttribute::new(ATTR_REALM, r.into())));
            }
            if let Some(n) = self.nonce {
                s.push(Box::new(TextAttribute::new(ATTR_NONCE, n.into())));
            }
            if let Some(a) = self.relayed {
                s.push(Box::new(RelayedAddress {
                    ip: a.ip(),
                    port: a.port(),
                }));
            }
            if let Some(a) = self.xor_mapped {
                s.push(Box::new(XorMappedAddress {
                    ip: a.ip(),
                    port: a.port(),
                }));
            }
            if let Some(a) = self.mapped {
                s.push(Box::new(MappedAddress {
                    ip: a.ip(),
                    port: a.port(),
                }));
            }
            if let Some(l) = self.lifetime_s {
                s.push(Box::new(Lifetime(std::time::Duration::from_secs(l.into()))));
            }
            s.push(Box::new(TextAttribute::new(ATTR_SOFTWARE, "test".into())));
            if let Some(k) = self.key {
                s.push(Box::new(MessageIntegrity::new_raw_integrity_with_provider(
                    k.to_vec(),
                    provider.crypto(),
                )));
            }
            if self.fingerprint {
                s.push(Box::new(FINGERPRINT));
            }
            let mut m = Message::new();
            m.build(&s).unwrap();
            m.raw
        }
    }
}

#[cfg(test)]
mod tests {
    use super::server::{Reply, decode};
    use super::*;
    use rand::{Rng, SeedableRng};

    const TID: TxId = [7; 12];

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn binding_request_is_a_binding_request_with_fingerprint() {
        let b = binding_request(TID).unwrap();
        assert_eq!(framed_len(&b), Some(b.len()));
        let m = decode(&b);
        assert_eq!(m.typ.method, METHOD_BINDING);
        assert_eq!(m.typ.class, CLASS_REQUEST);
        assert_eq!(m.transaction_id.0, TID);
        assert!(m.contains(ATTR_FINGERPRINT));
        assert!(FINGERPRINT.check(&m).is_ok());
        assert!(!m.contains(ATTR_MESSAGE_INTEGRITY));
    }

    #[test]
    fn binding_success_round_trip_v4_v6_and_rfc3489() {
        for a in ["198.51.100.2:40000", "[2001:db8::7]:5", "127.0.0.1:1"] {
            let mut r = Reply::new(StunMethod::Binding, TID);
            r.xor_mapped = Some(addr(a));
            let got = parse_binding_response(&r.encode(), &TID).unwrap();
            assert!(got.is_success());
            assert_eq!(got.mapped, Some(addr(a)));
            assert_eq!(got.software.as_deref(), Some("test"));
            assert_eq!(got.integrity, Integrity::NotChecked);
        }
        // An RFC 3489 server: MAPPED-ADDRESS only.
        let mut r = Reply::new(StunMethod::Binding, TID);
        r.mapped = Some(addr("203.0.113.9:1234"));
        r.fingerprint = false;
        let got = parse_binding_response(&r.encode(), &TID).unwrap();
        assert_eq!(got.mapped, Some(addr("203.0.113.9:1234")));
        // XOR-MAPPED-ADDRESS wins over MAPPED-ADDRESS.
        let mut r = Reply::new(StunMethod::Binding, TID);
        r.mapped = Some(addr("203.0.113.9:1234"));
        r.xor_mapped = Some(addr("198.51.100.2:40000"));
        let got = parse_binding_response(&r.encode(), &TID).unwrap();
        assert_eq!(got.mapped, Some(addr("198.51.100.2:40000")));
    }

    #[test]
    fn responses_to_other_requests_are_not_ours() {
        let mut r = Reply::new(StunMethod::Binding, [1; 12]);
        r.xor_mapped = Some(addr("1.2.3.4:5"));
        assert!(matches!(
            parse_binding_response(&r.encode(), &TID),
            Err(CodecError::NotOurs(_))
        ));
        let r = Reply::new(StunMethod::Allocate, TID);
        assert!(matches!(
            parse_binding_response(&r.encode(), &TID),
            Err(CodecError::NotOurs(_))
        ));
        // Our own request echoed back is not a response.
        assert!(matches!(
            parse_binding_response(&binding_request(TID).unwrap(), &TID),
            Err(CodecError::NotOurs(_))
        ));
    }

    #[test]
    fn allocate_challenge_then_authenticated_success() {
        let req = allocate_request(TID, None).unwrap();
        let m = decode(&req);
        assert_eq!(m.typ.method, METHOD_ALLOCATE);
        assert!(m.contains(rtc::stun::attributes::ATTR_REQUESTED_TRANSPORT));
        assert!(!m.contains(ATTR_USERNAME));

        let mut r = Reply::new(StunMethod::Allocate, TID);
        r.error = Some((401, "Unauthorized"));
        r.realm = Some("test");
        r.nonce = Some("abc123");
        let got = parse_allocate_response(&r.encode(), &TID, None).unwrap();
        assert_eq!(
            got.error,
            Some(StunErrorCode {
                code: 401,
                reason: "Unauthorized".into()
            })
        );
        assert_eq!(got.realm.as_deref(), Some("test"));
        assert_eq!(got.nonce.as_deref(), Some("abc123"));

        let auth = LongTermAuth::new("user", "secret", "test", "abc123").unwrap();
        assert_eq!(auth.key().len(), 16);
        assert!(!format!("{auth:?}").contains("secret"));
        let tid2 = [8; 12];
        let req = allocate_request(tid2, Some(&auth)).unwrap();
        let mut m = decode(&req);
        assert_eq!(
            TextAttribute::get_from_as(&m, ATTR_USERNAME).unwrap().text,
            "user"
        );
        assert_eq!(
            TextAttribute::get_from_as(&m, ATTR_NONCE).unwrap().text,
            "abc123"
        );
        let provider = crypto_provider().unwrap();
        assert!(MessageIntegrity::check(&mut m, auth.key(), provider.crypto()).is_ok());
        let wrong = LongTermAuth::new("user", "wrong", "test", "abc123").unwrap();
        assert!(MessageIntegrity::check(&mut m, wrong.key(), provider.crypto()).is_err());

        let mut r = Reply::new(StunMethod::Allocate, tid2);
        r.relayed = Some(addr("127.0.0.1:49152"));
        r.xor_mapped = Some(addr("127.0.0.1:50000"));
        r.lifetime_s = Some(600);
        r.key = Some(auth.key());
        let bytes = r.encode();
        let got = parse_allocate_response(&bytes, &tid2, Some(&auth)).unwrap();
        assert!(got.is_success());
        assert_eq!(got.relayed, Some(addr("127.0.0.1:49152")));
        assert_eq!(got.mapped, Some(addr("127.0.0.1:50000")));
        assert_eq!(got.lifetime_s, Some(600));
        assert_eq!(got.integrity, Integrity::Valid);
        let got = parse_allocate_response(&bytes, &tid2, Some(&wrong)).unwrap();
        assert_eq!(got.integrity, Integrity::Invalid);
        // Without MESSAGE-INTEGRITY.
        r.key = None;
        let got = parse_allocate_response(&r.encode(), &tid2, Some(&auth)).unwrap();
        assert_eq!(got.integrity, Integrity::Absent);
    }

    #[test]
    fn refresh_carries_lifetime_and_credentials() {
        let auth = LongTermAuth::new("u", "p", "r", "n1").unwrap();
        let req = refresh_request(TID, 0, &auth).unwrap();
        let m = decode(&req);
        assert_eq!(m.typ.method, METHOD_REFRESH);
        let mut l = Lifetime(std::time::Duration::from_secs(99));
        l.get_from(&m).unwrap();
        assert_eq!(l.0.as_secs(), 0);
        let auth2 = auth.with_nonce("n2");
        let m = decode(&refresh_request(TID, 0, &auth2).unwrap());
        assert_eq!(
            TextAttribute::get_from_as(&m, ATTR_NONCE).unwrap().text,
            "n2"
        );

        let mut r = Reply::new(StunMethod::Refresh, TID);
        r.lifetime_s = Some(0);
        r.key = Some(auth.key());
        let got = parse_refresh_response(&r.encode(), &TID, &auth).unwrap();
        assert!(got.is_success());
        assert_eq!(got.lifetime_s, Some(0));
        assert_eq!(got.integrity, Integrity::Valid);

        let mut r = Reply::new(StunMethod::Refresh, TID);
        r.error = Some((438, "Stale Nonce"));
        r.nonce = Some("n3");
        r.realm = Some("r");
        let got = parse_refresh_response(&r.encode(), &TID, &auth).unwrap();
        assert_eq!(got.error.map(|e| e.code), Some(438));
        assert_eq!(got.nonce.as_deref(), Some("n3"));
    }

    #[test]
    fn error_codes_round_trip() {
        for (code, reason) in [
            (401, "Unauthorized"),
            (431, "Integrity Check Failure"),
            (437, "Allocation Mismatch"),
            (438, "Stale Nonce"),
            (441, "Wrong Credentials"),
            (442, "Unsupported Transport Protocol"),
            (486, "Allocation Quota Reached"),
            (508, "Insufficient Capacity"),
            (420, ""),
        ] {
            let mut r = Reply::new(StunMethod::Allocate, TID);
            r.error = Some((code, reason));
            let got = parse_allocate_response(&r.encode(), &TID, None).unwrap();
            assert_eq!(
                got.error,
                Some(StunErrorCode {
                    code,
                    reason: reason.into()
                })
            );
        }
    }

    #[test]
    fn malformed_input_is_an_error() {
        let good = {
            let mut r = Reply::new(StunMethod::Binding, TID);
            r.xor_mapped = Some(addr("1.2.3.4:5"));
            r.encode()
        };
        // Truncated anywhere.
        for n in 0..good.len() {
            assert!(parse_binding_response(&good[..n], &TID).is_err(), "{n}");
        }
        // A flipped bit in the body breaks the fingerprint (or the structure); not in the
        // FINGERPRINT type itself, which turns it into an unknown optional attribute.
        let fp_type = good.len() - 8..good.len() - 6;
        for i in (MESSAGE_HEADER_SIZE..good.len()).filter(|i| !fp_type.contains(i)) {
            let mut b = good.clone();
            b[i] ^= 0x01;
            if let Ok(r) = parse_binding_response(&b, &TID) {
                panic!("byte {i} flipped still parsed: {r:?}");
            }
        }
        // Bad cookie, first bits set.
        let mut b = good.clone();
        b[4] ^= 0xff;
        assert!(matches!(
            parse_binding_response(&b, &TID),
            Err(CodecError::Malformed(_))
        ));
        let mut b = good.clone();
        b[0] |= 0x80;
        assert!(matches!(
            parse_binding_response(&b, &TID),
            Err(CodecError::Malformed(_))
        ));
        // An error response without ERROR-CODE.
        let mut r = Reply::new(StunMethod::Allocate, TID);
        r.error = Some((401, "x"));
        let mut m = decode(&r.encode());
        m.attributes.0.retain(|a| a.typ != ATTR_ERROR_CODE);
        let mut n = Message::new();
        let setters: Vec<Box<dyn Setter>> = vec![Box::new(TransactionId(TID)), Box::new(m.typ)];
        n.build(&setters).unwrap();
        assert!(matches!(
            parse_allocate_response(&n.raw, &TID, None),
            Err(CodecError::Malformed(_))
        ));
        // Trailing bytes after the message are ignored.
        let mut b = good.clone();
        b.extend_from_slice(&[0xde, 0xad]);
        assert!(parse_binding_response(&b, &TID).is_ok());
    }

    #[test]
    fn framing() {
        let b = binding_request(TID).unwrap();
        assert_eq!(framed_len(&b[..19]), None);
        assert_eq!(framed_len(&b[..20]), Some(b.len()));
        assert_eq!(framed_len(b"HTTP/1.1 400 Bad Request\r\n"), None);
        assert_eq!(framed_len(&[0u8; 20]), None);
        let mut max = b[..20].to_vec();
        max[2] = 0xff;
        max[3] = 0xff;
        assert_eq!(framed_len(&max), Some(MAX_MESSAGE_LEN));
    }

    #[test]
    fn random_and_mutated_bytes_never_panic() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
        let auth = LongTermAuth::new("u", "p", "r", "n").unwrap();
        let seeds: Vec<Vec<u8>> = {
            let mut r = Reply::new(StunMethod::Allocate, TID);
            r.relayed = Some(addr("[2001:db8::1]:3"));
            r.xor_mapped = Some(addr("1.2.3.4:5"));
            r.lifetime_s = Some(600);
            r.realm = Some("r");
            r.nonce = Some("n");
            r.key = Some(auth.key());
            let mut e = Reply::new(StunMethod::Allocate, TID);
            e.error = Some((401, "Unauthorized"));
            e.fingerprint = false;
            vec![r.encode(), e.encode()]
        };
        for i in 0..20_000 {
            let bytes: Vec<u8> = if i % 2 == 0 {
                let n = rng.random_range(0..120);
                let mut b: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                // Often make it look like STUN so the attribute parsers run.
                if b.len() >= 20 && rng.random_bool(0.8) {
                    b[0] &= 0x3f;
                    b[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
                    b[8..20].copy_from_slice(&TID);
                    let len = (b.len() - 20) as u16;
                    b[2..4].copy_from_slice(&len.to_be_bytes());
                }
                b
            } else {
                let mut b = seeds[i % seeds.len()].clone();
                for _ in 0..rng.random_range(1..4) {
                    let j = rng.random_range(20..b.len());
                    b[j] = rng.random();
                }
                if rng.random_bool(0.2) {
                    let cut = rng.random_range(0..b.len());
                    b.truncate(cut);
                }
                b
            };
            for m in [
                StunMethod::Binding,
                StunMethod::Allocate,
                StunMethod::Refresh,
            ] {
                let _ = parse_response(&bytes, &TID, m, None);
                let _ = parse_response(&bytes, &TID, m, Some(auth.key()));
            }
            let _ = framed_len(&bytes);
        }
    }
}
