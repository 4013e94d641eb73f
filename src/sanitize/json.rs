//! JSON for a terminal: serde_json escapes the C0 controls (`\u001b`) but writes the C1 controls
//! (U+0080–U+009F, `U+009B` is a one-byte CSI), the bidirectional overrides and the invisible format
//! characters raw, so `cat events.ndjson` would let the network drive the terminal or reorder what
//! the reader sees. [`SafeFormatter`] escapes every character [`super::needs_escape`] names as a
//! `\uXXXX` escape; the JSON means the same text, and parsing it back gives the same strings.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

/// A serde_json formatter that writes like `F` and escapes the characters
/// [`super::needs_escape`] names (those serde_json leaves raw) as `\uXXXX`.
#[derive(Debug, Clone, Default)]
pub struct SafeFormatter<F>(pub F);

impl<F: Formatter> Formatter for SafeFormatter<F> {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if super::needs_escape(c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{:04x}", u)?;
                }
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn end_object_key<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_key(w)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// `value` as one line of JSON onto `writer`, terminal-safe.
pub fn to_writer<W: Write, T: ?Sized + Serialize>(writer: W, value: &T) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(writer, SafeFormatter(CompactFormatter));
    value.serialize(&mut ser)
}

/// `value` as pretty-printed JSON onto `writer`, terminal-safe.
pub fn to_writer_pretty<W: Write, T: ?Sized + Serialize>(
    writer: W,
    value: &T,
) -> serde_json::Result<()> {
    let mut ser =
        serde_json::Serializer::with_formatter(writer, SafeFormatter(PrettyFormatter::new()));
    value.serialize(&mut ser)
}

/// `value` as pretty-printed JSON, terminal-safe.
pub fn to_string_pretty<T: ?Sized + Serialize>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::new();
    to_writer_pretty(&mut out, value)?;
    // The formatter writes only UTF-8 (serde_json's output plus ASCII escapes).
    String::from_utf8(out).map_err(|e| serde_json::Error::io(io::Error::other(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NASTY: &str = "a\u{1b}]0;X\u{7}b\u{9b}31mc\u{202e}d\u{2066}e\u{200b}f\u{feff}g\u{85}h";

    #[test]
    fn c1_bidi_and_format_characters_are_escaped_and_round_trip() {
        let mut line = Vec::new();
        to_writer(
            &mut line,
            &serde_json::json!({ "m": NASTY, "ok": "café ✓ 日本" }),
        )
        .unwrap();
        let text = String::from_utf8(line).unwrap();
        assert!(
            !text.chars().any(super::super::needs_escape),
            "raw control or format character left in {text:?}"
        );
        for esc in [
            "\\u001b", "\\u009b", "\\u202e", "\\u2066", "\\u200b", "\\ufeff", "\\u0085",
        ] {
            assert!(text.contains(esc), "{esc} missing from {text}");
        }
        assert!(
            text.contains("café ✓ 日本"),
            "visible text stays readable: {text}"
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["m"], NASTY);
    }

    #[test]
    fn pretty_output_keeps_its_layout() {
        let v = serde_json::json!({ "a": [1, 2], "b": { "c": "x\u{9b}" } });
        let safe = to_string_pretty(&v).unwrap();
        let plain = serde_json::to_string_pretty(&v).unwrap();
        assert_eq!(safe, plain.replace('\u{9b}', "\\u009b"));
    }
}
