//! The legacy MediaMTX / rtsp-simple-server WebSocket reader protocol (v0.21.0–v0.22.2).
//!
//! Every frame is a text frame holding one JSON document:
//! 1. server → client: the ICE-server list, a JSON array (`[]` when none is configured);
//! 2. client → server: `{"type":"offer","sdp":…}`;
//! 3. server → client: `{"type":"answer","sdp":…}`;
//! 4. both directions: `{"candidate":…,"sdpMid":…,"sdpMLineIndex":…,"usernameFragment":…}`.
//!
//! There is no end-of-candidates message and no in-band error. [`parse_message`] reads any frame of
//! either direction; the writers produce compact JSON with the field order browsers use.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::event::MessageKind;

/// Largest message accepted, in bytes; a larger one is a protocol error.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// One entry of the ICE-server list, as the server sends it (pion `ICEServer` / browser `RTCIceServer`).
///
/// In JSON, `urls` may be a string or an array of strings; `credentialType` and unknown keys are
/// ignored. Serialising writes `urls` as an array and omits `username`/`credential` when `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IceServerEntry {
    /// STUN/TURN URLs of the entry.
    #[serde(deserialize_with = "string_or_seq")]
    pub urls: Vec<String>,
    /// TURN username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN credential (password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// Deserialise `"a"` or `["a", "b"]` into a vector.
fn string_or_seq<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// A trickled ICE candidate message (`RTCIceCandidate.toJSON()` shape).
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateMessage {
    /// The candidate attribute, normally starting with `candidate:` (parse it with
    /// [`crate::proto::candidate::parse_candidate`]). An empty string is the browser's
    /// end-of-candidates form, which this protocol never sends; it is passed through as is.
    pub candidate: String,
    /// Media id; pion sends `""`, browsers `"0"`. `None` when absent or `null`.
    pub sdp_mid: Option<String>,
    /// Media line index. `None` when absent or `null`.
    pub sdp_mline_index: Option<u16>,
    /// ICE ufrag the candidate belongs to. `None` when absent or `null` (pion sends `null`).
    pub username_fragment: Option<String>,
}

/// One message of the protocol.
#[derive(Debug, Clone, PartialEq)]
pub enum SignalMessage {
    /// The ICE-server list (server → client, always the first message).
    IceServers(Vec<IceServerEntry>),
    /// The SDP offer (client → server).
    Offer {
        /// The SDP text.
        sdp: String,
    },
    /// The SDP answer (server → client).
    Answer {
        /// The SDP text.
        sdp: String,
    },
    /// A trickled candidate (either direction).
    Candidate(CandidateMessage),
}

/// Why a frame is not a message of the protocol.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct MessageError {
    /// [`MessageKind::Invalid`] (not JSON, over the size limit) or [`MessageKind::Unknown`] (valid JSON
    /// of a shape the protocol does not have).
    pub kind: MessageKind,
    /// What is wrong, in words.
    pub message: String,
}

impl MessageError {
    fn invalid(message: impl Into<String>) -> Self {
        Self {
            kind: MessageKind::Invalid,
            message: message.into(),
        }
    }

    fn unknown(message: impl Into<String>) -> Self {
        Self {
            kind: MessageKind::Unknown,
            message: message.into(),
        }
    }
}

/// Longest piece of input quoted back in an error message (in characters).
const QUOTE_MAX_CHARS: usize = 40;

/// A JSON string literal of at most [`QUOTE_MAX_CHARS`] characters of `s`, for an error message.
fn quote(s: &str) -> String {
    let cut = match s.char_indices().nth(QUOTE_MAX_CHARS) {
        Some((idx, _)) => format!("{}…", &s[..idx]),
        None => s.to_owned(),
    };
    Value::String(cut).to_string()
}

/// The JSON type of a value, in words ("a number", "null", …).
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Describe a size over the limit.
fn oversize(len: usize) -> String {
    if len < 2_000_000 {
        format!("message is {len} bytes, over the 1 MiB limit ({MAX_MESSAGE_BYTES} bytes)")
    } else {
        format!(
            "message is {:.1} MB, over the 1 MiB limit",
            len as f64 / 1_000_000.0
        )
    }
}

/// Parse any message of the protocol (either direction).
///
/// Errors are specific and carry a [`MessageKind`]: `Invalid` for text over [`MAX_MESSAGE_BYTES`]
/// ("message is 2.1 MB, over the 1 MiB limit") or not JSON ("not JSON: expected value at line 1
/// column 1"); `Unknown` for JSON of the wrong shape ("JSON object with type \"bye\" is not part
/// of the protocol", "answer has no \"sdp\" string", "ICE server entry 0 has no urls", …).
///
/// Shapes: an array is the ICE-server list; an object with `type` `offer`/`answer` and a string
/// `sdp` is a description; an object with a string `candidate` (and no `type`) is a candidate.
/// Unknown keys are ignored. The candidate string itself is not validated here.
pub fn parse_message(text: &str) -> Result<SignalMessage, MessageError> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(MessageError::invalid(oversize(text.len())));
    }
    let value: Value =
        serde_json::from_str(text).map_err(|e| MessageError::invalid(format!("not JSON: {e}")))?;
    match value {
        Value::Array(entries) => entries
            .iter()
            .enumerate()
            .map(|(i, e)| parse_ice_server_entry(i, e))
            .collect::<Result<Vec<_>, _>>()
            .map(SignalMessage::IceServers),
        Value::Object(map) => parse_object(&map),
        other => Err(MessageError::unknown(format!(
            "JSON {} is not part of the protocol (expected an ICE-server array or an object)",
            json_type(&other)
                .trim_start_matches("a ")
                .trim_start_matches("an ")
        ))),
    }
}

fn parse_ice_server_entry(i: usize, entry: &Value) -> Result<IceServerEntry, MessageError> {
    let Value::Object(map) = entry else {
        return Err(MessageError::unknown(format!(
            "ICE server entry {i} is {}, not an object",
            json_type(entry)
        )));
    };
    let urls = match map.get("urls") {
        None | Some(Value::Null) => {
            return Err(MessageError::unknown(format!(
                "ICE server entry {i} has no urls"
            )));
        }
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => {
            if items.is_empty() {
                return Err(MessageError::unknown(format!(
                    "ICE server entry {i} has an empty urls list"
                )));
            }
            items
                .iter()
                .enumerate()
                .map(|(j, u)| match u {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(MessageError::unknown(format!(
                        "ICE server entry {i}: urls[{j}] is {}, not a string",
                        json_type(other)
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?
        }
        Some(other) => {
            return Err(MessageError::unknown(format!(
                "ICE server entry {i}: urls is {}, not a string or an array",
                json_type(other)
            )));
        }
    };
    let username = optional_string(map, "username")
        .map_err(|t| MessageError::unknown(format!("ICE server entry {i}: username is {t}")))?;
    let credential = optional_string(map, "credential")
        .map_err(|t| MessageError::unknown(format!("ICE server entry {i}: credential is {t}")))?;
    Ok(IceServerEntry {
        urls,
        username,
        credential,
    })
}

/// A string field that may be absent or `null`; `Err` names the JSON type found otherwise.
fn optional_string(map: &Map<String, Value>, key: &str) -> Result<Option<String>, &'static str> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(match other {
            Value::Bool(_) => "a boolean, not a string",
            Value::Number(_) => "a number, not a string",
            Value::Array(_) => "an array, not a string",
            _ => "an object, not a string",
        }),
    }
}

fn parse_object(map: &Map<String, Value>) -> Result<SignalMessage, MessageError> {
    if let Some(typ) = map.get("type") {
        let Value::String(typ) = typ else {
            return Err(MessageError::unknown(format!(
                "\"type\" is {}, not a string",
                json_type(typ)
            )));
        };
        let sdp = |what: &str| match map.get("sdp") {
            Some(Value::String(s)) => Ok(s.clone()),
            None => Err(MessageError::unknown(format!(
                "{what} has no \"sdp\" string"
            ))),
            Some(other) => Err(MessageError::unknown(format!(
                "{what} has no \"sdp\" string (\"sdp\" is {})",
                json_type(other)
            ))),
        };
        return match typ.as_str() {
            "offer" => Ok(SignalMessage::Offer { sdp: sdp("offer")? }),
            "answer" => Ok(SignalMessage::Answer {
                sdp: sdp("answer")?,
            }),
            other => Err(MessageError::unknown(format!(
                "JSON object with type {} is not part of the protocol",
                quote(other)
            ))),
        };
    }
    if let Some(candidate) = map.get("candidate") {
        let Value::String(candidate) = candidate else {
            return Err(MessageError::unknown(format!(
                "\"candidate\" is {}, not a string",
                json_type(candidate)
            )));
        };
        let sdp_mid = optional_string(map, "sdpMid")
            .map_err(|t| MessageError::unknown(format!("candidate message: sdpMid is {t}")))?;
        let username_fragment = optional_string(map, "usernameFragment").map_err(|t| {
            MessageError::unknown(format!("candidate message: usernameFragment is {t}"))
        })?;
        let sdp_mline_index = match map.get("sdpMLineIndex") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_u64().and_then(|n| u16::try_from(n).ok()) {
                Some(n) => Some(n),
                None => {
                    return Err(MessageError::unknown(format!(
                        "candidate message: sdpMLineIndex {} is not an integer in 0..=65535",
                        quote(&v.to_string())
                    )));
                }
            },
        };
        return Ok(SignalMessage::Candidate(CandidateMessage {
            candidate: candidate.clone(),
            sdp_mid,
            sdp_mline_index,
            username_fragment,
        }));
    }
    let mut keys: Vec<String> = map.keys().take(5).map(|k| quote(k)).collect();
    if map.len() > 5 {
        keys.push("…".into());
    }
    Err(MessageError::unknown(if keys.is_empty() {
        "empty JSON object is not part of the protocol".to_owned()
    } else {
        format!(
            "JSON object without \"type\" or \"candidate\" (keys: {}) is not part of the protocol",
            keys.join(", ")
        )
    }))
}

/// The [`MessageKind`] of a parsed message.
pub fn kind_of(msg: &SignalMessage) -> MessageKind {
    match msg {
        SignalMessage::IceServers(_) => MessageKind::IceServers,
        SignalMessage::Offer { .. } => MessageKind::Offer,
        SignalMessage::Answer { .. } => MessageKind::Answer,
        SignalMessage::Candidate(_) => MessageKind::Candidate,
    }
}

/// The ICE-server list message: compact JSON, `[{"urls":[…],"username":…,"credential":…}]`,
/// with `username`/`credential` omitted when `None`.
pub fn ice_servers_message(servers: &[IceServerEntry]) -> String {
    serde_json::to_string(servers).unwrap_or_else(|_| "[]".to_owned())
}

/// A description message `{"type":<typ>,"sdp":<sdp>}`.
fn description_message(typ: &str, sdp: &str) -> String {
    format!(
        "{{\"type\":{},\"sdp\":{}}}",
        Value::String(typ.to_owned()),
        Value::String(sdp.to_owned())
    )
}

/// The offer message: `{"type":"offer","sdp":…}`.
pub fn offer_message(sdp: &str) -> String {
    description_message("offer", sdp)
}

/// The answer message: `{"type":"answer","sdp":…}`.
pub fn answer_message(sdp: &str) -> String {
    description_message("answer", sdp)
}

/// A candidate message: `{"candidate":…,"sdpMid":…,"sdpMLineIndex":…,"usernameFragment":…}`, with
/// `null` where a field is `None` (as `RTCIceCandidate.toJSON()` writes it).
pub fn candidate_message(c: &CandidateMessage) -> String {
    let opt = |s: &Option<String>| match s {
        Some(s) => Value::String(s.clone()),
        None => Value::Null,
    };
    format!(
        "{{\"candidate\":{},\"sdpMid\":{},\"sdpMLineIndex\":{},\"usernameFragment\":{}}}",
        Value::String(c.candidate.clone()),
        opt(&c.sdp_mid),
        c.sdp_mline_index
            .map_or(Value::Null, |n| Value::Number(n.into())),
        opt(&c.username_fragment)
    )
}

/// What [`signaling_url`] accepts, for its error messages.
const ACCEPTED_FORMS: &str = "accepted forms: ws://host:port/<path>/ws, wss://host:port/<path>/ws, \
     or the page URL http(s)://host:port/<path>/";

/// The WebSocket URL to dial for what the user typed.
///
/// - `ws://` and `wss://` URLs are used as given (minus any `#fragment`).
/// - An `http://`/`https://` page URL becomes the same origin with the `ws`/`wss` scheme and the
///   path + `ws`, as the reader page does (`location.href.replace(/^http/,"ws") + 'ws'`). A page
///   path without the trailing slash gets it first (MediaMTX 301-redirects `/cam` to `/cam/`), and a
///   path already ending in `/ws` is kept. The query is kept (placed after the path, unlike the page's
///   string concatenation); the fragment is dropped.
/// - Userinfo stays in the URL; the caller turns it into HTTP Basic authentication.
///
/// Anything else (`ftp:`, no scheme, no host) is an error that names the accepted forms.
pub fn signaling_url(input: &str) -> Result<url::Url, String> {
    let t = input.trim();
    if t.is_empty() {
        return Err(format!("empty URL; {ACCEPTED_FORMS}"));
    }
    // Errors quote the input with any password masked.
    let masked = super::ice_server::mask_url(t);
    let shown = quote(&masked);
    let no_scheme =
        || format!("{shown} has no scheme (did you mean \"http://{masked}\"?); {ACCEPTED_FORMS}");
    let mut url = match url::Url::parse(t) {
        Ok(u) => u,
        Err(url::ParseError::RelativeUrlWithoutBase) => return Err(no_scheme()),
        Err(e) => {
            return Err(format!(
                "{shown} is not a valid URL ({e}); {ACCEPTED_FORMS}"
            ));
        }
    };
    let scheme = url.scheme().to_owned();
    if !matches!(scheme.as_str(), "ws" | "wss" | "http" | "https") {
        // `localhost:8889/cam/` parses as scheme "localhost": that is a missing scheme.
        let looks_like_port = t
            .split_once(':')
            .is_some_and(|(_, rest)| rest.starts_with(|c: char| c.is_ascii_digit()));
        if !t.contains("://") && url.cannot_be_a_base() && looks_like_port {
            return Err(no_scheme());
        }
        return Err(format!(
            "unsupported scheme \"{scheme}:\" in {shown}; {ACCEPTED_FORMS}"
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{shown} has no host; {ACCEPTED_FORMS}"));
    }
    url.set_fragment(None);
    if scheme == "http" || scheme == "https" {
        let ws_scheme = if scheme == "http" { "ws" } else { "wss" };
        url.set_scheme(ws_scheme)
            .map_err(|()| format!("cannot use {shown} as a WebSocket URL; {ACCEPTED_FORMS}"))?;
        let path = url.path();
        let new_path = if path.ends_with("/ws") {
            path.to_owned()
        } else if path.ends_with('/') {
            format!("{path}ws")
        } else {
            format!("{path}/ws")
        };
        url.set_path(&new_path);
    }
    Ok(url)
}

/// Remove `a=candidate:` and `a=end-of-candidates` lines from an SDP (as the legacy server did
/// before sending its answer). Every other line is kept byte for byte, line endings included.
pub fn strip_candidates(sdp: &str) -> String {
    sdp.split_inclusive('\n')
        .filter(|line| {
            let content = line.trim_end_matches(['\r', '\n']);
            !(content.starts_with("a=candidate:") || content == "a=end-of-candidates")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(c: &str, mid: Option<&str>, idx: Option<u16>, ufrag: Option<&str>) -> SignalMessage {
        SignalMessage::Candidate(CandidateMessage {
            candidate: c.into(),
            sdp_mid: mid.map(Into::into),
            sdp_mline_index: idx,
            username_fragment: ufrag.map(Into::into),
        })
    }

    fn entry(urls: &[&str], user: Option<&str>, cred: Option<&str>) -> IceServerEntry {
        IceServerEntry {
            urls: urls.iter().map(|s| s.to_string()).collect(),
            username: user.map(Into::into),
            credential: cred.map(Into::into),
        }
    }

    #[test]
    fn valid_messages() {
        let c = "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host";
        let cases: Vec<(String, SignalMessage)> = vec![
            ("[]".into(), SignalMessage::IceServers(vec![])),
            (
                r#"[{"urls":["stun:stun.l.google.com:19302"]}]"#.into(),
                SignalMessage::IceServers(vec![entry(
                    &["stun:stun.l.google.com:19302"],
                    None,
                    None,
                )]),
            ),
            (
                r#"[{"urls": "turn:h:3478", "username": "u", "credential": "p", "credentialType": "password", "x": 1}]"#.into(),
                SignalMessage::IceServers(vec![entry(&["turn:h:3478"], Some("u"), Some("p"))]),
            ),
            (
                r#"[{"urls":["stun:a:1","stun:b:2"],"username":null},{"urls":"stun:c:3"}]"#.into(),
                SignalMessage::IceServers(vec![
                    entry(&["stun:a:1", "stun:b:2"], None, None),
                    entry(&["stun:c:3"], None, None),
                ]),
            ),
            (
                r#"{"type":"offer","sdp":"v=0\r\n"}"#.into(),
                SignalMessage::Offer {
                    sdp: "v=0\r\n".into(),
                },
            ),
            (
                r#" {"type": "answer", "sdp": "v=0\r\n", "extra": [1, {}]} "#.into(),
                SignalMessage::Answer {
                    sdp: "v=0\r\n".into(),
                },
            ),
            (
                format!(
                        r#"{{"candidate":"{c}","sdpMid":"","sdpMLineIndex":0,"usernameFragment":null}}"#
                    ),
                cand(c, Some(""), Some(0), None),
            ),
            (
                format!(
                        r#"{{"candidate":"{c}","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}}"#
                    ),
                cand(c, Some("0"), Some(0), Some("abcd")),
            ),
            (
                format!(r#"{{"candidate": "{c}"}}"#),
                cand(c, None, None, None),
            ),
            (
                r#"{"candidate":"","sdpMid":null,"sdpMLineIndex":null}"#.into(),
                cand("", None, None, None),
            ),
        ];
        for (text, want) in cases {
            let got = parse_message(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn malformed_messages() {
        use MessageKind::{Invalid, Unknown};
        let big = format!(r#"{{"type":"offer","sdp":"{}"}}"#, "a".repeat(2_100_000));
        let just_over = "x".repeat(MAX_MESSAGE_BYTES + 1);
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        let cases: Vec<(&str, MessageKind, &str)> = vec![
            (
                "",
                Invalid,
                "not JSON: EOF while parsing a value at line 1 column 0",
            ),
            (
                "hello",
                Invalid,
                "not JSON: expected value at line 1 column 1",
            ),
            (
                "{\"type\":\"offer\"",
                Invalid,
                "not JSON: EOF while parsing an object",
            ),
            (
                "[] []",
                Invalid,
                "not JSON: trailing characters at line 1 column 4",
            ),
            (&big, Invalid, "message is 2.1 MB, over the 1 MiB limit"),
            (
                &just_over,
                Invalid,
                "message is 1048577 bytes, over the 1 MiB limit (1048576 bytes)",
            ),
            (&deep, Invalid, "not JSON: recursion limit exceeded"),
            ("42", Unknown, "JSON number is not part of the protocol"),
            ("null", Unknown, "JSON null is not part of the protocol"),
            (
                "\"offer\"",
                Unknown,
                "JSON string is not part of the protocol",
            ),
            (
                r#"{"type":"bye"}"#,
                Unknown,
                "JSON object with type \"bye\" is not part of the protocol",
            ),
            (
                r#"{"type":"OFFER","sdp":"v=0"}"#,
                Unknown,
                "JSON object with type \"OFFER\" is not part of the protocol",
            ),
            (
                r#"{"type":7}"#,
                Unknown,
                "\"type\" is a number, not a string",
            ),
            (
                r#"{"type":"answer"}"#,
                Unknown,
                "answer has no \"sdp\" string",
            ),
            (
                r#"{"type":"offer","sdp":{"v":0}}"#,
                Unknown,
                "offer has no \"sdp\" string (\"sdp\" is an object)",
            ),
            (
                r#"{}"#,
                Unknown,
                "empty JSON object is not part of the protocol",
            ),
            (
                r#"{"sdp":"v=0"}"#,
                Unknown,
                "JSON object without \"type\" or \"candidate\" (keys: \"sdp\")",
            ),
            (r#"[{}]"#, Unknown, "ICE server entry 0 has no urls"),
            (
                r#"[{"urls":null}]"#,
                Unknown,
                "ICE server entry 0 has no urls",
            ),
            (
                r#"[{"urls":[]}]"#,
                Unknown,
                "ICE server entry 0 has an empty urls list",
            ),
            (
                r#"[{"urls":"stun:a"},{"urls":["stun:b",5]}]"#,
                Unknown,
                "ICE server entry 1: urls[1] is a number, not a string",
            ),
            (
                r#"[{"urls":{"a":1}}]"#,
                Unknown,
                "ICE server entry 0: urls is an object, not a string or an array",
            ),
            (
                r#"["stun:a"]"#,
                Unknown,
                "ICE server entry 0 is a string, not an object",
            ),
            (
                r#"[[[]]]"#,
                Unknown,
                "ICE server entry 0 is an array, not an object",
            ),
            (
                r#"[{"urls":"turn:a","username":1}]"#,
                Unknown,
                "ICE server entry 0: username is a number, not a string",
            ),
            (
                r#"[{"urls":"turn:a","credential":["p"]}]"#,
                Unknown,
                "ICE server entry 0: credential is an array, not a string",
            ),
            (
                r#"{"candidate":null}"#,
                Unknown,
                "\"candidate\" is null, not a string",
            ),
            (
                r#"{"candidate":{"candidate":"x"}}"#,
                Unknown,
                "\"candidate\" is an object, not a string",
            ),
            (
                r#"{"candidate":"c","sdpMid":0}"#,
                Unknown,
                "candidate message: sdpMid is a number, not a string",
            ),
            (
                r#"{"candidate":"c","sdpMLineIndex":-1}"#,
                Unknown,
                "candidate message: sdpMLineIndex \"-1\" is not an integer in 0..=65535",
            ),
            (
                r#"{"candidate":"c","sdpMLineIndex":70000}"#,
                Unknown,
                "sdpMLineIndex \"70000\" is not an integer",
            ),
            (
                r#"{"candidate":"c","sdpMLineIndex":"0"}"#,
                Unknown,
                "sdpMLineIndex \"\\\"0\\\"\" is not an integer",
            ),
            (
                r#"{"candidate":"c","sdpMLineIndex":0.5}"#,
                Unknown,
                "sdpMLineIndex \"0.5\" is not an integer",
            ),
            (
                r#"{"candidate":"c","usernameFragment":false}"#,
                Unknown,
                "usernameFragment is a boolean, not a string",
            ),
        ];
        for (text, kind, msg) in cases {
            let err = parse_message(text).expect_err(&text[..text.len().min(80)]);
            assert_eq!(err.kind, kind, "{text:.80}: {err}");
            assert!(
                err.message.contains(msg),
                "{text:.80}: got {:?}, want {msg:?} in it",
                err.message
            );
            assert!(err.message.len() < 400, "{}", err.message);
        }
    }

    #[test]
    fn exactly_the_limit_is_allowed() {
        let pad = MAX_MESSAGE_BYTES - r#"{"type":"offer","sdp":""}"#.len();
        let text = format!(r#"{{"type":"offer","sdp":"{}"}}"#, "a".repeat(pad));
        assert_eq!(text.len(), MAX_MESSAGE_BYTES);
        assert!(parse_message(&text).is_ok());
    }

    #[test]
    fn long_type_is_quoted_short() {
        let text = format!(r#"{{"type":"{}"}}"#, "é".repeat(10_000));
        let err = parse_message(&text).unwrap_err();
        assert!(err.message.len() < 200, "{}", err.message);
    }

    #[test]
    fn kinds() {
        assert_eq!(
            kind_of(&SignalMessage::IceServers(vec![])),
            MessageKind::IceServers
        );
        assert_eq!(
            kind_of(&SignalMessage::Offer { sdp: String::new() }),
            MessageKind::Offer
        );
        assert_eq!(
            kind_of(&SignalMessage::Answer { sdp: String::new() }),
            MessageKind::Answer
        );
        assert_eq!(kind_of(&cand("", None, None, None)), MessageKind::Candidate);
    }

    #[test]
    fn writers() {
        assert_eq!(ice_servers_message(&[]), "[]");
        assert_eq!(
            ice_servers_message(&[
                entry(&["stun:a:3478"], None, None),
                entry(&["turn:127.0.0.1:3478"], Some("test"), Some("secret")),
            ]),
            r#"[{"urls":["stun:a:3478"]},{"urls":["turn:127.0.0.1:3478"],"username":"test","credential":"secret"}]"#
        );
        assert_eq!(
            offer_message("v=0\r\na=x:\"q\"\r\n"),
            r#"{"type":"offer","sdp":"v=0\r\na=x:\"q\"\r\n"}"#
        );
        assert_eq!(answer_message(""), r#"{"type":"answer","sdp":""}"#);
        let full = CandidateMessage {
            candidate: "candidate:1 1 udp 1 ::1 9 typ host".into(),
            sdp_mid: Some("0".into()),
            sdp_mline_index: Some(0),
            username_fragment: Some("ab\"c".into()),
        };
        assert_eq!(
            candidate_message(&full),
            r#"{"candidate":"candidate:1 1 udp 1 ::1 9 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"ab\"c"}"#
        );
        let empty = CandidateMessage {
            candidate: String::new(),
            sdp_mid: None,
            sdp_mline_index: None,
            username_fragment: None,
        };
        assert_eq!(
            candidate_message(&empty),
            r#"{"candidate":"","sdpMid":null,"sdpMLineIndex":null,"usernameFragment":null}"#
        );
        for c in [full, empty] {
            assert_eq!(
                parse_message(&candidate_message(&c)).unwrap(),
                SignalMessage::Candidate(c)
            );
        }
    }

    #[test]
    fn ice_server_entry_serde() {
        let e: IceServerEntry =
            serde_json::from_str(r#"{"urls":"stun:x","credentialType":"password","y":2}"#).unwrap();
        assert_eq!(e, entry(&["stun:x"], None, None));
        let e: IceServerEntry =
            serde_json::from_str(r#"{"urls":["turn:x:1"],"username":"u","credential":"p"}"#)
                .unwrap();
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"urls":["turn:x:1"],"username":"u","credential":"p"}"#
        );
    }

    #[test]
    fn signaling_urls() {
        let ok = [
            ("ws://h:8889/cam/ws", "ws://h:8889/cam/ws"),
            ("wss://h/cam/ws", "wss://h/cam/ws"),
            ("ws://h:8889/anything", "ws://h:8889/anything"),
            ("ws://h:8889/cam/ws#frag", "ws://h:8889/cam/ws"),
            ("  http://h:8889/cam/  ", "ws://h:8889/cam/ws"),
            ("http://h:8889/cam", "ws://h:8889/cam/ws"),
            ("https://h/cam/", "wss://h/cam/ws"),
            ("https://h:443/cam/", "wss://h/cam/ws"),
            ("http://h:8889/cam/ws", "ws://h:8889/cam/ws"),
            ("http://h:8889/a/b/c", "ws://h:8889/a/b/c/ws"),
            (
                "http://h:8889/cam/?token=x#top",
                "ws://h:8889/cam/ws?token=x",
            ),
            ("http://h:8889", "ws://h:8889/ws"),
            ("http://u:p%40ss@h:8889/cam/", "ws://u:p%40ss@h:8889/cam/ws"),
            ("ws://u:p@h:8889/cam/ws", "ws://u:p@h:8889/cam/ws"),
            ("http://[::1]:8889/cam/", "ws://[::1]:8889/cam/ws"),
            ("HTTP://H:8889/cam/", "ws://h:8889/cam/ws"),
        ];
        for (input, want) in ok {
            assert_eq!(
                signaling_url(input).map(|u| u.to_string()),
                Ok(want.to_owned()),
                "{input}"
            );
        }
        let bad = [
            ("", "empty URL"),
            ("ftp://h/cam/", "unsupported scheme \"ftp:\""),
            ("file:///tmp/x", "unsupported scheme \"file:\""),
            ("mailto:a@b", "unsupported scheme \"mailto:\""),
            (
                "127.0.0.1:8889/cam/",
                "has no scheme (did you mean \"http://127.0.0.1:8889/cam/\"?)",
            ),
            ("localhost:8889/cam/", "has no scheme"),
            ("/cam/ws", "has no scheme"),
            ("http://", "is not a valid URL (empty host)"),
            ("ws://:80/x", "is not a valid URL"),
            ("ftp://u:secret@h/", "\"ftp://u:***@h/\""),
        ];
        for (input, want) in bad {
            let err = signaling_url(input).unwrap_err();
            assert!(err.contains(want), "{input}: {err}");
            assert!(err.contains("accepted forms"), "{input}: {err}");
        }
    }

    #[test]
    fn strip_candidates_keeps_everything_else() {
        let sdp = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 97\r\na=mid:0\r\na=candidate:1 1 UDP 2015363327 10.99.0.1 53109 typ host\r\na=candidate:2 1 TCP 1 10.99.0.1 9 typ host tcptype active\r\na=end-of-candidates\r\na=setup:active\r\n";
        assert_eq!(
            strip_candidates(sdp),
            "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 97\r\na=mid:0\r\na=setup:active\r\n"
        );
        assert_eq!(strip_candidates("a=x\na=candidate:1\na=y"), "a=x\na=y");
        assert_eq!(strip_candidates("a=end-of-candidates"), "");
        assert_eq!(strip_candidates(""), "");
    }
}
