//! Styles of the UI, with a colourless variant for `NO_COLOR` (meaning then rests on text and
//! symbols, which every state and type carries anyway).

use ratatui::style::{Color, Modifier, Style};

/// How healthy a state is; each level has a symbol as well as a colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Working (`connected`, `stable`, `succeeded`).
    Good,
    /// On its way (`checking`, `connecting`, `in-progress`).
    Progress,
    /// Broken (`failed`, `disconnected`, `closed`).
    Bad,
    /// Not known yet.
    Unknown,
}

impl Health {
    /// Classify a W3C state name (ICE, DTLS, peer connection, signaling, gathering, pair state).
    pub fn of_state(state: Option<&str>) -> Health {
        match state {
            None => Health::Unknown,
            Some(s) => match s {
                "connected" | "completed" | "stable" | "complete" | "succeeded" | "open" => {
                    Health::Good
                }
                "failed" | "disconnected" | "closed" | "error" => Health::Bad,
                _ => Health::Progress,
            },
        }
    }

    /// The symbol shown before the state: `✓`, `…`, `✗`, `·`.
    pub fn symbol(self) -> &'static str {
        match self {
            Health::Good => "✓",
            Health::Progress => "…",
            Health::Bad => "✗",
            Health::Unknown => "·",
        }
    }
}

/// Every style the panes use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Theme {
    /// Whether colours are off.
    pub no_color: bool,
    /// Pane borders.
    pub border: Style,
    /// Border of the focused pane.
    pub border_focused: Style,
    /// Pane titles.
    pub title: Style,
    /// Column headers and section headings.
    pub header: Style,
    /// The selected row.
    pub selection: Style,
    /// The selected candidate pair (a highlight in its own right).
    pub selected_pair: Style,
    /// Secondary text.
    pub dim: Style,
    /// Good health.
    pub good: Style,
    /// In progress / warning.
    pub warn: Style,
    /// Bad health / error.
    pub bad: Style,
    /// The bitrate chart.
    pub chart: Style,
    /// Key names in help and footer.
    pub key: Style,
}

impl Theme {
    /// The theme; `no_color` drops every colour (modifiers such as bold and reverse stay).
    /// `self` with the configuration file's colours (`[theme]`: item → colour name or `#rrggbb`);
    /// with colours off, unchanged. An unknown colour is an error naming it.
    pub fn with_colours(
        mut self,
        colours: &std::collections::BTreeMap<String, String>,
    ) -> Result<Self, String> {
        use std::str::FromStr as _;
        for (item, name) in colours {
            let c = Color::from_str(name)
                .map_err(|_| format!("[theme] {item} = {name:?}: not a colour (a name such as \"lightred\", or #rrggbb)"))?;
            if self.no_color {
                continue;
            }
            let slot = match item.as_str() {
                "border" => &mut self.border,
                "border_focused" => &mut self.border_focused,
                "title" => &mut self.title,
                "header" => &mut self.header,
                "selection" => &mut self.selection,
                "selected_pair" => &mut self.selected_pair,
                "dim" => &mut self.dim,
                "good" => &mut self.good,
                "warn" => &mut self.warn,
                "bad" => &mut self.bad,
                "chart" => &mut self.chart,
                "key" => &mut self.key,
                other => return Err(format!("[theme] {other}: not a theme item")),
            };
            *slot = slot.fg(c);
        }
        Ok(self)
    }

    pub fn new(no_color: bool) -> Self {
        if no_color {
            let plain = Style::new();
            Theme {
                no_color,
                border: plain,
                border_focused: plain.add_modifier(Modifier::BOLD),
                title: plain.add_modifier(Modifier::BOLD),
                header: plain.add_modifier(Modifier::BOLD),
                selection: plain.add_modifier(Modifier::REVERSED),
                selected_pair: plain.add_modifier(Modifier::BOLD),
                dim: plain,
                good: plain,
                warn: plain,
                bad: plain.add_modifier(Modifier::BOLD),
                chart: plain,
                key: plain.add_modifier(Modifier::BOLD),
            }
        } else {
            Theme {
                no_color,
                border: Style::new().fg(Color::DarkGray),
                border_focused: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
                title: Style::new().fg(Color::White).add_modifier(Modifier::BOLD),
                header: Style::new().fg(Color::Gray).add_modifier(Modifier::BOLD),
                selection: Style::new().add_modifier(Modifier::REVERSED),
                selected_pair: Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
                dim: Style::new().fg(Color::DarkGray),
                good: Style::new().fg(Color::Green),
                warn: Style::new().fg(Color::Yellow),
                bad: Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
                chart: Style::new().fg(Color::Cyan),
                key: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            }
        }
    }

    /// The style of a health level.
    pub fn health(&self, h: Health) -> Style {
        match h {
            Health::Good => self.good,
            Health::Progress => self.warn,
            Health::Bad => self.bad,
            Health::Unknown => self.dim,
        }
    }

    /// Whether colour is wanted: off with `--no-color` or a non-empty `NO_COLOR` (no-color.org).
    pub fn no_color_from_env(flag: bool) -> bool {
        flag || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
    }
}
