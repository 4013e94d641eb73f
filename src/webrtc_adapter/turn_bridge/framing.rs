//! TURN messages over a byte stream (RFC 8656 §12.5, RFC 5766 §11.5), as pure code: no sockets.
//!
//! Over UDP each datagram is one message. Over TCP and TLS the messages follow one another and are
//! delimited by their own headers:
//! - a STUN message (first two bits `00`) is its 20-byte header plus the length in bytes 2–3 (always a
//!   multiple of 4);
//! - a ChannelData message (first two bits `01`) is its 4-byte header plus the length in bytes 2–3,
//!   padded with zeros to a multiple of 4 (padding is mandatory over a stream, optional over UDP).
//!
//! [`to_stream`] turns a datagram into stream bytes (adding the padding); [`Deframer`] cuts a stream,
//! fed in chunks of any size, back into datagrams (without the padding). Anything else on a stream
//! means the framing is lost for good: it is reported and the stream must be closed.

/// STUN header size.
const STUN_HEADER: usize = 20;
/// ChannelData header size.
const CHANNEL_HEADER: usize = 4;
/// The STUN magic cookie (RFC 5389 §6).
const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
/// Longest message either framing can describe (STUN: header plus a 16-bit length). The deframer
/// never holds more than one message of this size plus one chunk.
pub const MAX_FRAME: usize = STUN_HEADER + u16::MAX as usize;

/// Why bytes could not be framed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The bytes start neither a STUN nor a ChannelData message.
    #[error("not a TURN message (first bytes {0})")]
    NotTurn(String),
    /// A STUN header whose length is not a multiple of 4 or without the magic cookie.
    #[error("malformed STUN header ({0})")]
    BadStunHeader(&'static str),
    /// A ChannelData number outside 0x4000–0x4FFF.
    #[error("ChannelData with channel number {0:#06x} outside 0x4000-0x4FFF")]
    BadChannel(u16),
    /// A datagram shorter or longer than the message its header declares.
    #[error("datagram of {got} bytes for a message of {declared} bytes")]
    LengthMismatch {
        /// Bytes the header declares (header included, padding not).
        declared: usize,
        /// Bytes in the datagram.
        got: usize,
    },
}

/// The first bytes of `b` in hex, for an error message (at most 8).
fn hex_preview(b: &[u8]) -> String {
    b.iter()
        .take(8)
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a message header says: the bytes the message takes in a datagram, and on a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Frame {
    /// Header plus payload.
    message: usize,
    /// `message` plus the stream padding.
    on_stream: usize,
}

/// Read the header at the start of `b`: `Ok(None)` until enough bytes are there to decide.
fn frame(b: &[u8]) -> Result<Option<Frame>, FrameError> {
    let Some(&first) = b.first() else {
        return Ok(None);
    };
    match first >> 6 {
        0b00 => {
            if b.len() < 8 {
                return Ok(None);
            }
            let len = usize::from(u16::from_be_bytes([b[2], b[3]]));
            if len % 4 != 0 {
                return Err(FrameError::BadStunHeader("length not a multiple of 4"));
            }
            if b[4..8] != MAGIC_COOKIE {
                return Err(FrameError::BadStunHeader("no magic cookie"));
            }
            let message = STUN_HEADER + len;
            Ok(Some(Frame {
                message,
                on_stream: message,
            }))
        }
        0b01 => {
            if b.len() < CHANNEL_HEADER {
                return Ok(None);
            }
            let channel = u16::from_be_bytes([b[0], b[1]]);
            if !(0x4000..=0x4fff).contains(&channel) {
                return Err(FrameError::BadChannel(channel));
            }
            let len = usize::from(u16::from_be_bytes([b[2], b[3]]));
            let message = CHANNEL_HEADER + len;
            Ok(Some(Frame {
                message,
                on_stream: message.next_multiple_of(4),
            }))
        }
        _ => Err(FrameError::NotTurn(hex_preview(b))),
    }
}

/// A datagram as it goes on a stream: checked, and ChannelData padded to a multiple of 4. Padding a
/// datagram already carries (allowed over UDP) is kept; anything beyond it is an error.
pub fn to_stream(datagram: &[u8]) -> Result<Vec<u8>, FrameError> {
    let f = frame(datagram)?.ok_or_else(|| FrameError::NotTurn(hex_preview(datagram)))?;
    if datagram.len() < f.message || datagram.len() > f.on_stream {
        return Err(FrameError::LengthMismatch {
            declared: f.message,
            got: datagram.len(),
        });
    }
    let mut out = Vec::with_capacity(f.on_stream);
    out.extend_from_slice(&datagram[..f.message]);
    out.resize(f.on_stream, 0);
    Ok(out)
}

/// Cuts a TURN byte stream back into datagrams, whatever the chunk boundaries.
#[derive(Debug, Default)]
pub struct Deframer {
    buf: Vec<u8>,
    failed: Option<FrameError>,
}

impl Deframer {
    /// An empty deframer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add `chunk` and return every message it completes, padding removed. After an error the stream
    /// is unusable: the same error is returned for every later chunk, and nothing is buffered.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<Vec<u8>>, FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        let mut at = 0;
        let result = loop {
            match frame(&self.buf[at..]) {
                Err(e) => break Err(e),
                Ok(None) => break Ok(()),
                Ok(Some(f)) if self.buf.len() - at < f.on_stream => break Ok(()),
                Ok(Some(f)) => {
                    out.push(self.buf[at..at + f.message].to_vec());
                    at += f.on_stream;
                }
            }
        };
        self.buf.drain(..at);
        match result {
            Ok(()) => Ok(out),
            Err(e) => {
                self.buf = Vec::new();
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Bytes held for an incomplete message.
    #[cfg(test)]
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A STUN message with `attrs` bytes of attributes (all zero).
    fn stun(attrs: usize, tag: u8) -> Vec<u8> {
        let mut m = vec![0x00, 0x01];
        m.extend_from_slice(&(attrs as u16).to_be_bytes());
        m.extend_from_slice(&MAGIC_COOKIE);
        m.extend_from_slice(&[tag; 12]);
        m.extend(std::iter::repeat_n(tag, attrs));
        m
    }

    /// ChannelData on channel 0x4001 with `len` payload bytes, unpadded.
    fn chan(len: usize, tag: u8) -> Vec<u8> {
        let mut m = vec![0x40, 0x01];
        m.extend_from_slice(&(len as u16).to_be_bytes());
        m.extend(std::iter::repeat_n(tag, len));
        m
    }

    #[test]
    fn datagrams_to_stream_bytes() {
        let padded = |mut v: Vec<u8>, n: usize| {
            v.extend(std::iter::repeat_n(0, n));
            v
        };
        type Case = (&'static str, Vec<u8>, Result<Vec<u8>, FrameError>);
        let cases: Vec<Case> = vec![
            ("STUN as is", stun(8, 1), Ok(stun(8, 1))),
            ("empty STUN", stun(0, 2), Ok(stun(0, 2))),
            ("ChannelData aligned", chan(8, 3), Ok(chan(8, 3))),
            ("ChannelData padded", chan(5, 4), Ok(padded(chan(5, 4), 3))),
            ("ChannelData 1 byte", chan(1, 4), Ok(padded(chan(1, 4), 3))),
            ("ChannelData empty", chan(0, 4), Ok(chan(0, 4))),
            (
                "padding already there is kept",
                padded(chan(6, 5), 2),
                Ok(padded(chan(6, 5), 2)),
            ),
            (
                "ChannelData longer than declared",
                padded(chan(6, 5), 3),
                Err(FrameError::LengthMismatch {
                    declared: 10,
                    got: 13,
                }),
            ),
            (
                "ChannelData shorter than declared",
                chan(6, 5)[..8].to_vec(),
                Err(FrameError::LengthMismatch {
                    declared: 10,
                    got: 8,
                }),
            ),
            (
                "STUN longer than declared",
                padded(stun(4, 1), 4),
                Err(FrameError::LengthMismatch {
                    declared: 24,
                    got: 28,
                }),
            ),
            (
                "empty datagram",
                vec![],
                Err(FrameError::NotTurn(String::new())),
            ),
            (
                "RTP is not TURN",
                vec![0x80, 0x60, 0, 1],
                Err(FrameError::NotTurn("80 60 00 01".into())),
            ),
            (
                "reserved channel",
                vec![0x50, 0x00, 0, 0],
                Err(FrameError::BadChannel(0x5000)),
            ),
        ];
        for (name, input, want) in cases {
            assert_eq!(to_stream(&input), want, "{name}");
        }
    }

    /// Every message, framed, as one stream.
    fn stream(msgs: &[Vec<u8>]) -> Vec<u8> {
        msgs.iter()
            .flat_map(|m| to_stream(m).expect("frames"))
            .collect()
    }

    #[test]
    fn any_chunking_gives_back_the_same_datagrams() {
        let msgs = vec![stun(12, 1), chan(5, 2), chan(0, 3), stun(0, 4), chan(7, 5)];
        let bytes = stream(&msgs);
        // Every chunk size from a byte at a time to all at once, so every header is split somewhere.
        for size in 1..=bytes.len() {
            let mut d = Deframer::new();
            let mut got = Vec::new();
            for c in bytes.chunks(size) {
                got.extend(d.feed(c).expect("valid stream"));
            }
            assert_eq!(got, msgs, "chunks of {size}");
            assert_eq!(d.pending(), 0, "chunks of {size}");
        }
    }

    #[test]
    fn chunk_tables() {
        type Case = (&'static str, Vec<Vec<u8>>, Vec<usize>);
        let cases: Vec<Case> = vec![
            // (chunks fed, number of messages out after each)
            (
                "half a STUN header",
                vec![stun(4, 1)[..3].to_vec()],
                vec![0],
            ),
            (
                "header split after the length",
                vec![stun(4, 1)[..4].to_vec(), stun(4, 1)[4..].to_vec()],
                vec![0, 1],
            ),
            (
                "ChannelData without its padding yet",
                vec![chan(5, 1), vec![0, 0], vec![0]],
                vec![0, 0, 1],
            ),
            (
                "three messages in one chunk",
                vec![stream(&[chan(1, 1), stun(0, 2), chan(9, 3)])],
                vec![3],
            ),
            (
                "one and a half, then the rest",
                vec![
                    [stun(8, 1), stun(8, 2)[..10].to_vec()].concat(),
                    stun(8, 2)[10..].to_vec(),
                ],
                vec![1, 1],
            ),
            ("empty chunk", vec![vec![]], vec![0]),
        ];
        for (name, chunks, want) in cases {
            let mut d = Deframer::new();
            let got: Vec<usize> = chunks
                .iter()
                .map(|c| d.feed(c).expect(name).len())
                .collect();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn garbage_is_reported_and_ends_the_stream() {
        let cases: Vec<(&str, Vec<u8>, FrameError)> = vec![
            (
                "RTP on a TURN stream",
                vec![0x80, 0x60, 0, 1, 0, 0, 0, 0, 0xde, 0xad],
                FrameError::NotTurn("80 60 00 01 00 00 00 00".into()),
            ),
            (
                "a TLS record on a plain TCP port (turn: on a turns: port)",
                vec![0x16, 0x03, 0x03, 0x00, 0x5a, 0x02, 0x00, 0x00, 0x56],
                FrameError::BadStunHeader("no magic cookie"),
            ),
            (
                "STUN length not a multiple of 4",
                vec![0, 1, 0, 5, 0x21, 0x12, 0xa4, 0x42],
                FrameError::BadStunHeader("length not a multiple of 4"),
            ),
            (
                "no magic cookie",
                vec![0, 1, 0, 4, 1, 2, 3, 4],
                FrameError::BadStunHeader("no magic cookie"),
            ),
            (
                "reserved channel after a good message",
                [stun(0, 1), vec![0x7f, 0xff, 0, 0]].concat(),
                FrameError::BadChannel(0x7fff),
            ),
        ];
        for (name, input, want) in cases {
            let mut d = Deframer::new();
            assert_eq!(d.feed(&input), Err(want.clone()), "{name}");
            assert_eq!(d.pending(), 0, "{name}: nothing kept");
            // The stream stays failed, even for good bytes.
            assert_eq!(d.feed(&stun(0, 1)), Err(want), "{name}");
        }
    }

    #[test]
    fn the_largest_message_is_bounded_by_its_header() {
        // A header declaring the largest STUN message: buffered, and no more than that.
        let mut d = Deframer::new();
        let header = [0, 1, 0xff, 0xfc, 0x21, 0x12, 0xa4, 0x42];
        assert_eq!(d.feed(&header).unwrap().len(), 0);
        let body = vec![0u8; STUN_HEADER - header.len() + 0xfffc];
        let out = d.feed(&body).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].len(), STUN_HEADER + 0xfffc);
        // The rest of the chunk is not a message: its zeros start STUN headers without the cookie.
        let mut d = Deframer::new();
        let err = d
            .feed(&[header.to_vec(), body, vec![0; 8]].concat())
            .unwrap_err();
        assert_eq!(err, FrameError::BadStunHeader("no magic cookie"));
        const { assert!(MAX_FRAME >= STUN_HEADER + 0xfffc) };
    }
}
