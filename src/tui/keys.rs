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

/// Single-key actions as the configuration file rebinds them (`[keys]`): action name → key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyMap {
    rebound: Vec<(char, Msg)>,
}

impl KeyMap {
    /// The default bindings with `rebind` (action → one character) on top. A rebound action no longer
    /// answers to its default key.
    pub fn new(rebind: &std::collections::BTreeMap<String, String>) -> Result<Self, String> {
        let mut rebound = Vec::new();
        for (action, key) in rebind {
            let msg = match action.as_str() {
                "quit" => Msg::Quit,
                "restart" => Msg::Restart,
                "ice_restart" => Msg::IceRestart,
                "freeze" => Msg::ToggleFreeze,
                "zoom" => Msg::ToggleZoom,
                "help" => Msg::ToggleHelp,
                "pause" => Msg::Replay(ReplayControl::TogglePause),
                other => return Err(format!("[keys] {other}: not a rebindable action")),
            };
            let mut chars = key.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => rebound.push((c, msg)),
                _ => return Err(format!("[keys] {action}: one character is expected")),
            }
        }
        Ok(KeyMap { rebound })
    }

    /// The message for a key press under this map.
    pub fn to_msg(&self, key: KeyEvent) -> Option<Msg> {
        if key.kind != KeyEventKind::Release
            && !key.modifiers.contains(KeyModifiers::CONTROL)
            && let KeyCode::Char(c) = key.code
        {
            if let Some((_, m)) = self.rebound.iter().find(|(k, _)| *k == c) {
                return Some(m.clone());
            }
            // The default key of a rebound action is free.
            let default = to_msg(key);
            if let Some(d) = &default
                && self.rebound.iter().any(|(_, m)| m == d)
            {
                return None;
            }
            return default;
        }
        to_msg(key)
    }
}

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
    fn rebound_keys_take_over_and_free_their_defaults() {
        let mut m = std::collections::BTreeMap::new();
        m.insert("quit".to_owned(), "x".to_owned());
        let map = KeyMap::new(&m).expect("map");
        assert_eq!(map.to_msg(k(KeyCode::Char('x'))), Some(Msg::Quit));
        assert_eq!(map.to_msg(k(KeyCode::Char('q'))), None);
        assert_eq!(map.to_msg(k(KeyCode::Char('r'))), Some(Msg::Restart));
        assert_eq!(
            map.to_msg(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Msg::Quit)
        );
        m.insert("fly".to_owned(), "y".to_owned());
        assert!(KeyMap::new(&m).is_err());
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
