//! Making strings that came from the network safe to show on a terminal.
//!
//! Anything a remote peer or server controls (signaling text, SDP, close reasons, HTTP bodies, error
//! messages quoting input) may contain terminal control sequences. Shown raw, `ESC [ 2 J` clears the
//! screen and an OSC sequence can retitle the window or worse. Every such string goes through
//! [`sanitize`] (one line) or [`sanitize_lines`] (multi-line) before it reaches ratatui:
//! control characters become visible escapes (`\x1b`, `\u{9b}`), never interpreted.
//!
//! [`truncate_width`] cuts a string to a number of terminal columns (wide characters count twice);
//! [`truncate_bytes`] cuts it to a number of bytes (for the text kept in events). [`json`] writes
//! JSON (NDJSON events, reports) with the same characters escaped, so that `cat events.ndjson` is
//! as safe as the TUI.

pub mod json;

use std::borrow::Cow;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Whether `c` must be escaped before display: C0 controls, DEL, C1 controls, the Unicode
/// bidirectional formatting characters (which can reorder what the reader sees), and the invisible
/// format characters (zero-width spaces and joiners, word joiner, invisible operators, byte-order
/// mark, soft hyphen, line and paragraph separators), which can hide or disguise text.
pub fn needs_escape(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'
        | '\u{80}'..='\u{9f}'
        | '\u{ad}'
        | '\u{061c}'
        | '\u{180e}'
        | '\u{200b}'..='\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206f}'
        | '\u{feff}'
        | '\u{fff9}'..='\u{fffb}'
    )
}

fn push_escaped(out: &mut String, c: char) {
    use std::fmt::Write as _;
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// One line, safe for the terminal: every control character (including newline and tab) and every
/// escape sequence introducer is shown as a visible escape (`\n`, `\x1b`, `\u{9b}`).
///
/// Borrows when nothing needed escaping.
pub fn sanitize(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs_escape(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Split `s` into display lines (on `\n`, `\r\n` or a lone `\r`) and sanitise each; tabs become
/// four spaces so indentation survives, every other control character is escaped.
pub fn sanitize_lines(s: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let normalised = s.replace("\r\n", "\n");
    for raw in normalised.split(['\n', '\r']) {
        let expanded = raw.replace('\t', "    ");
        lines.push(sanitize(&expanded).into_owned());
    }
    lines
}

/// Display width of `s` in terminal columns (after sanitising it, that is what will be shown).
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// Cut `s` to at most `max` terminal columns, ending with `…` when something was cut.
///
/// Counts wide (CJK, emoji) characters as two columns and never splits one.
pub fn truncate_width(s: &str, max: usize) -> Cow<'_, str> {
    if UnicodeWidthStr::width(s) <= max {
        return Cow::Borrowed(s);
    }
    if max == 0 {
        return Cow::Borrowed("");
    }
    let budget = max - 1; // room for the ellipsis
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > budget {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    Cow::Owned(out)
}

/// [`sanitize`] then [`truncate_width`]: the usual treatment of a network string shown in a cell.
pub fn cell(s: &str, max: usize) -> String {
    truncate_width(&sanitize(s), max).into_owned()
}

/// `s` cut to at most `limit` bytes on a char boundary, and whether anything was cut.
pub fn truncate_bytes(s: &str, limit: usize) -> (String, bool) {
    if s.len() <= limit {
        return (s.to_owned(), false);
    }
    let mut end = limit;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (s[..end].to_owned(), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(sanitize("hello, wörld ✓"), Cow::Borrowed(_)));
    }

    #[test]
    fn escape_sequences_are_shown_not_interpreted() {
        let s = sanitize("a\x1b[2Jb\x07c\u{9b}31md\x7f");
        assert_eq!(s, "a\\x1b[2Jb\\x07c\\u{9b}31md\\x7f");
        assert!(!s.chars().any(needs_escape));
    }

    #[test]
    fn newlines_and_tabs_escaped_on_one_line() {
        assert_eq!(sanitize("a\r\nb\tc"), "a\\r\\nb\\tc");
    }

    #[test]
    fn bidi_overrides_escaped() {
        assert_eq!(sanitize("x\u{202e}y"), "x\\u{202e}y");
    }

    #[test]
    fn zero_width_and_format_characters_are_shown() {
        assert_eq!(sanitize("a\u{200b}b"), "a\\u{200b}b");
        assert_eq!(sanitize("\u{feff}x\u{2060}"), "\\u{feff}x\\u{2060}");
        assert_eq!(sanitize("soft\u{ad}hyphen"), "soft\\u{ad}hyphen");
        assert_eq!(sanitize("l\u{2028}p\u{2029}"), "l\\u{2028}p\\u{2029}");
        // Visible non-ASCII stays as it is.
        assert_eq!(sanitize("café ✓ 日本"), "café ✓ 日本");
    }

    #[test]
    fn lines_split_and_sanitised() {
        let l = sanitize_lines("v=0\r\na=x\x1b]0;pwn\x07\n\tz");
        assert_eq!(l, vec!["v=0", "a=x\\x1b]0;pwn\\x07", "    z"]);
    }

    #[test]
    fn truncation_is_width_aware() {
        assert_eq!(truncate_width("abcdef", 4), "abc…");
        assert_eq!(truncate_width("abc", 3), "abc");
        assert_eq!(truncate_width("日本語テキスト", 5), "日本…");
        assert_eq!(width(&truncate_width("日本語テキスト", 6)), 5);
        assert_eq!(truncate_width("abc", 0), "");
        assert_eq!(cell("\x1b[31mred", 6), "\\x1b[…");
    }

    #[test]
    fn truncate_bytes_respects_char_boundaries() {
        assert_eq!(truncate_bytes("abc", 5), ("abc".into(), false));
        assert_eq!(truncate_bytes("abcdef", 3), ("abc".into(), true));
        // 'é' is two bytes: cutting inside it backs off.
        assert_eq!(truncate_bytes("aé", 2), ("a".into(), true));
    }
}
