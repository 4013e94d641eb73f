//! Key bindings: terminal key events to [`Msg`]s, and the table the help overlay shows.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{Msg, Pane};
use crate::engine::ReplayControl;

/// Every binding, as the help overlay lists it: (keys, what they do).
pub const HELP: &[(&str, &str)] = &[
    ("Tab / Shift-Tab", "focus next / previous pane"),
    ("← / →", "focus previous / next pane"),
    (
        "1 … 7",
        "focus Signaling, ICE, Pairs, Tracks, Restarts, Errors, Findings",
    ),
    ("↑ ↓ / k j", "select or scroll"),
    ("PgUp / PgDn", "a page up / down"),
    ("Home g / End G", "first / newest (End follows new items)"),
    (
        "Enter",
        "detail of the selected message or error (zoom elsewhere)",
    ),
    ("Esc", "close detail or help, leave zoom, follow newest"),
    ("z", "zoom the focused pane to full screen"),
    ("f", "freeze the view (events still recorded)"),
    ("r", "force a restart of the negotiation"),
    ("i", "ICE restart (WHEP: new credentials by PATCH)"),
    (
        "p / . / + -",
        "replay: pause or resume / step one event / faster, slower",
    ),
    ("?", "this help"),
    ("q / Ctrl-C", "quit (stops the session cleanly)"),
];

/// The message for a key press, if it is bound.
pub fn to_msg(key: KeyEvent) -> Option<Msg> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return match key.code {
            KeyCode::Char('c') | KeyCode::Char('C') => Some(Msg::Quit),
            _ => None,
        };
    }
    Some(match key.code {
        KeyCode::Tab => Msg::FocusNext,
        KeyCode::BackTab => Msg::FocusPrev,
        KeyCode::Right => Msg::FocusNext,
        KeyCode::Left => Msg::FocusPrev,
        KeyCode::Char(c @ '1'..='7') => Msg::Focus(Pane::ALL[(c as u8 - b'1') as usize]),
        KeyCode::Up | KeyCode::Char('k') => Msg::Up,
        KeyCode::Down | KeyCode::Char('j') => Msg::Down,
        KeyCode::PageUp => Msg::PageUp,
        KeyCode::PageDown | KeyCode::Char(' ') => Msg::PageDown,
        KeyCode::Home | KeyCode::Char('g') => Msg::Home,
        KeyCode::End | KeyCode::Char('G') => Msg::End,
        KeyCode::Enter => Msg::Enter,
        KeyCode::Esc => Msg::Back,
        KeyCode::Char('r') => Msg::Restart,
        KeyCode::Char('i') => Msg::IceRestart,
        KeyCode::Char('f') => Msg::ToggleFreeze,
        KeyCode::Char('?') => Msg::ToggleHelp,
        KeyCode::Char('z') => Msg::ToggleZoom,
        KeyCode::Char('q') => Msg::Quit,
        KeyCode::Char('p') => Msg::Replay(ReplayControl::TogglePause),
        KeyCode::Char('.') => Msg::Replay(ReplayControl::Step),
        KeyCode::Char('+') | KeyCode::Char('=') => Msg::Replay(ReplayControl::Faster),
        KeyCode::Char('-') => Msg::Replay(ReplayControl::Slower),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn bindings() {
        assert_eq!(to_msg(k(KeyCode::Char('q'))), Some(Msg::Quit));
        assert_eq!(
            to_msg(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Msg::Quit)
        );
        assert_eq!(to_msg(k(KeyCode::Char('3'))), Some(Msg::Focus(Pane::Pairs)));
        assert_eq!(to_msg(k(KeyCode::BackTab)), Some(Msg::FocusPrev));
        assert_eq!(to_msg(k(KeyCode::Char('j'))), Some(Msg::Down));
        assert_eq!(to_msg(k(KeyCode::Char('x'))), None);
        assert_eq!(to_msg(k(KeyCode::Char('c'))), None);
    }
}
