//! Recordings (`--events FILE`): reading them back, and redacting them before they are shared.
//!
//! A recording is the NDJSON event stream. Its `session_started` event names the schema version it
//! was written with: this reader takes any version up to its own ([`crate::event::SCHEMA_VERSION`])
//! and refuses a newer one with a message saying so, rather than misreading it.
//!
//! [`Redactor`] makes a recording safe to hand to someone else: secrets are masked (as
//! `crate::secrets` masks live output), and every IP address is replaced, consistently (the same
//! address always becomes the same replacement) and within its class (a private address stays
//! private, a public one public, CGNAT stays CGNAT, loopback is kept), so that the diagnosis of the
//! redacted recording reads the same. Pure code: no I/O.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::event::{Event, SCHEMA_VERSION, Stamped};

/// Why a recording cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordingError {
    /// A line is not an event.
    #[error("line {line}: not an rtcscope event ({error})")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// The parser's words.
        error: String,
    },
    /// Written by a newer rtcscope.
    #[error(
        "recorded with event schema {found}, newer than this rtcscope reads (up to {supported}): upgrade rtcscope to read it"
    )]
    Newer {
        /// The recording's schema version.
        found: u32,
        /// The newest this reader takes.
        supported: u32,
    },
    /// No event at all.
    #[error("the file holds no event")]
    Empty,
}

/// Parse a recording (NDJSON, blank lines ignored).
pub fn parse(text: &str) -> Result<Vec<Stamped>, RecordingError> {
    let mut events = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let ev: Stamped = serde_json::from_str(line).map_err(|e| {
            // A newer schema may fail to parse at all: say so when its first event tells.
            if let Some(found) = schema_of(line)
                && found > SCHEMA_VERSION
            {
                return RecordingError::Newer {
                    found,
                    supported: SCHEMA_VERSION,
                };
            }
            RecordingError::BadLine {
                line: i + 1,
                error: crate::sanitize::truncate_bytes(&e.to_string(), 200).0,
            }
        })?;
        if let Event::SessionStarted { schema_version, .. } = &ev.event
            && *schema_version > SCHEMA_VERSION
        {
            return Err(RecordingError::Newer {
                found: *schema_version,
                supported: SCHEMA_VERSION,
            });
        }
        events.push(ev);
    }
    if events.is_empty() {
        return Err(RecordingError::Empty);
    }
    Ok(events)
}

/// The `schema_version` of a raw line, if it has one.
fn schema_of(line: &str) -> Option<u32> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    v.get("schema_version")?.as_u64().map(|n| n as u32)
}

/// Replaces addresses consistently and masks secrets; one per recording.
#[derive(Debug, Default)]
pub struct Redactor {
    v4: HashMap<[u8; 3], [u8; 3]>,
    v6: HashMap<Ipv6Addr, Ipv6Addr>,
    next: HashMap<&'static str, u32>,
}

impl Redactor {
    /// A redactor with no mapping yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The event with secrets masked and every address replaced.
    pub fn redact(&mut self, ev: &Stamped) -> Stamped {
        let masked = crate::secrets::redact_event(&ev.event);
        let Ok(mut v) = serde_json::to_value(&masked) else {
            return Stamped {
                event: masked,
                ..ev.clone()
            };
        };
        self.walk(&mut v);
        let event = serde_json::from_value(v).unwrap_or(masked);
        Stamped {
            event,
            ..ev.clone()
        }
    }

    fn walk(&mut self, v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) => {
                let r = self.text(s);
                *s = r;
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| self.walk(x)),
            serde_json::Value::Object(o) => o.values_mut().for_each(|x| self.walk(x)),
            _ => {}
        }
    }

    /// `text` with every IPv4/IPv6 literal replaced (an `a.b.c.d:port` keeps its port).
    pub fn text(&mut self, text: &str) -> String {
        let is_addr_char = |c: char| c.is_ascii_hexdigit() || c == '.' || c == ':';
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find(is_addr_char) {
            out.push_str(&rest[..start]);
            let tail = &rest[start..];
            let len = tail.find(|c: char| !is_addr_char(c)).unwrap_or(tail.len());
            let token = &tail[..len];
            // A word that merely ends in hex digits (`abc1.2.3.4`) is left alone.
            let glued = out.chars().next_back().is_some_and(|c| c.is_alphanumeric())
                && token.starts_with(|c: char| c.is_ascii_hexdigit());
            out.push_str(&if glued {
                token.to_owned()
            } else {
                self.token(token)
            });
            rest = &tail[len..];
        }
        out.push_str(rest);
        out
    }

    fn token(&mut self, token: &str) -> String {
        // `turn:8.8.8.8:3478`: the scheme's ':' is not part of the address.
        if let Some(t) = token.strip_prefix(':')
            && !t.starts_with(':')
        {
            return format!(":{}", self.token(t));
        }
        let trimmed = token.trim_end_matches(['.', ':']);
        let suffix = &token[trimmed.len()..];
        if let Ok(ip) = trimmed.parse::<IpAddr>() {
            return format!("{}{suffix}", self.ip(ip));
        }
        if let Some((host, port)) = trimmed.rsplit_once(':')
            && let Ok(ip) = host.parse::<Ipv4Addr>()
            && port.parse::<u16>().is_ok()
        {
            return format!("{}:{port}{suffix}", self.v4(ip));
        }
        token.to_owned()
    }

    fn ip(&mut self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(a) => IpAddr::V4(self.v4(a)),
            IpAddr::V6(a) => IpAddr::V6(self.v6(a)),
        }
    }

    fn counter(&mut self, class: &'static str) -> u32 {
        let n = self.next.entry(class).or_insert(0);
        *n += 1;
        *n
    }

    /// The /24 is mapped (so that "same network" stays true), the host octet kept.
    fn v4(&mut self, a: Ipv4Addr) -> Ipv4Addr {
        let o = a.octets();
        if a.is_loopback() || a.is_unspecified() || a.is_broadcast() || a.is_multicast() {
            return a;
        }
        let net = [o[0], o[1], o[2]];
        if let Some(n) = self.v4.get(&net) {
            return Ipv4Addr::new(n[0], n[1], n[2], o[3]);
        }
        let class = match o {
            [10, ..] => "10",
            [172, 17, ..] => "docker",
            [172, b, ..] if (16..32).contains(&b) => "172",
            [192, 168, ..] => "192.168",
            [100, b, ..] if (64..128).contains(&b) => "cgnat",
            [169, 254, ..] => "link-local",
            _ => "public",
        };
        let mut mapped = self.v4_net(class);
        if mapped == net {
            // Never "replace" a network by itself.
            mapped = self.v4_net(class);
        }
        self.v4.insert(net, mapped);
        Ipv4Addr::new(mapped[0], mapped[1], mapped[2], o[3])
    }

    /// The next replacement /24 of a class.
    fn v4_net(&mut self, class: &'static str) -> [u8; 3] {
        let k = self.counter(class);
        let hi = (k >> 8) as u8;
        let lo = (k & 0xff) as u8;
        match class {
            "10" => [10, hi, lo],
            "docker" => [172, 17, lo],
            // 172.16/12 without 172.17 (Docker's, a class of its own).
            "172" => [172, if hi == 0 { 16 } else { 18 + (hi - 1) % 14 }, lo],
            "192.168" => [192, 168, lo],
            "cgnat" => [100, 64 + (hi % 64), lo],
            "link-local" => [169, 254, lo],
            // Documentation ranges first, then the benchmarking range (public to the rules).
            _ => match k {
                1 => [203, 0, 113],
                2 => [198, 51, 100],
                3 => [192, 0, 2],
                _ => [198, 18 + ((k >> 8) & 1) as u8, lo],
            },
        }
    }

    fn v6(&mut self, a: Ipv6Addr) -> Ipv6Addr {
        if a.is_loopback() || a.is_unspecified() || a.is_multicast() {
            return a;
        }
        if let Some(m) = self.v6.get(&a) {
            return *m;
        }
        let seg = a.segments();
        let (class, prefix): (&'static str, [u16; 2]) = if seg[0] & 0xfe00 == 0xfc00 {
            ("ula", [0xfd00, 0])
        } else if seg[0] & 0xffc0 == 0xfe80 {
            ("v6-link-local", [0xfe80, 0])
        } else {
            ("v6-public", [0x2001, 0x0db8])
        };
        let k = self.counter(class);
        let m = Ipv6Addr::new(prefix[0], prefix[1], 0, 0, 0, 0, (k >> 16) as u16, k as u16);
        self.v6.insert(a, m);
        m
    }
}

#[cfg(test)]
mod tests;
