//! NDJSON output: one [`Stamped`] event per line, flushed per line so pipes see events as they happen.

use std::io::Write;

use crate::event::Stamped;

/// Write one event as a line. Errors (a closed pipe) are returned so the caller can stop the engine.
pub fn write_event(out: &mut impl Write, ev: &Stamped) -> std::io::Result<()> {
    crate::sanitize::json::to_writer(&mut *out, ev)?;
    out.write_all(b"\n")?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;

    #[test]
    fn one_line_per_event_and_escaped_control_characters() {
        let mut buf = Vec::new();
        for (i, text) in ["a\nb", "\u{1b}[2J"].iter().enumerate() {
            let ev = Stamped {
                seq: i as u64,
                t_ms: 1.0,
                attempt: 1,
                event: Event::Warning {
                    source: crate::event::ErrorSource::Protocol,
                    message: (*text).to_owned(),
                },
            };
            write_event(&mut buf, &ev).unwrap();
        }
        let s = String::from_utf8(buf).unwrap();
        assert_eq!(s.lines().count(), 2);
        assert!(!s.contains('\u{1b}'), "JSON escapes ESC: {s}");
        for line in s.lines() {
            let back: Stamped = serde_json::from_str(line).unwrap();
            assert_eq!(back.attempt, 1);
        }
    }
}
