//! The configuration file (`$XDG_CONFIG_HOME/rtcscope/config.toml`, or `--config FILE`) and the
//! layering of option sources: **file < environment < command line**.
//!
//! The file's sections are named after the commands: `[viewer]` holds defaults for the viewer's
//! options, `[serve]`, `[demo]`, `[probe]` and `[exporter]` for those subcommands, each key a long
//! option name as on the command line (`handshake-timeout = "5s"`, `ice-server = ["stun:…"]`,
//! `insecure = true`). Every long option can also be set in the environment as
//! `RTCSCOPE_<OPTION>` (`RTCSCOPE_HANDSHAKE_TIMEOUT=5s`; lists comma-separated). Both become the
//! option's default, the environment's over the file's, so the command line always wins and every
//! value goes through the same parser and checks as a flag. `[theme]` names colours for the TUI,
//! `[keys]` rebinds its single-key actions, and `[exporter.modules.NAME]` sets probe parameters for
//! `/probe?module=NAME`, as blackbox_exporter's modules do.
//!
//! Pure: reading the file and the environment is the caller's.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The sections that carry command options, and the subcommand each applies to (`None`: the
/// top-level viewer).
pub const COMMAND_SECTIONS: &[(&str, Option<&str>)] = &[
    ("viewer", None),
    ("serve", Some("serve")),
    ("demo", Some("demo")),
    ("probe", Some("probe")),
    ("exporter", Some("exporter")),
];

/// A value in a command section: one value, a flag, or a list.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum OptionValue {
    /// `true` / `false` for a flag.
    Bool(bool),
    /// A number.
    Int(i64),
    /// A float.
    Float(f64),
    /// Text, as on the command line.
    Text(String),
    /// Several values (a repeatable option).
    List(Vec<String>),
}

impl OptionValue {
    /// The value(s) as command-line text.
    pub fn as_args(&self) -> Vec<String> {
        match self {
            OptionValue::Bool(b) => vec![b.to_string()],
            OptionValue::Int(i) => vec![i.to_string()],
            OptionValue::Float(f) => vec![f.to_string()],
            OptionValue::Text(s) => vec![s.clone()],
            OptionValue::List(l) => l.clone(),
        }
    }
}

/// One exporter module: probe parameters, as in the query string (`duration`, `protocol`,
/// `ice_server`, `ice_transport_policy`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Module {
    /// Probe length (`10s`).
    pub duration: Option<String>,
    /// `ws` or `whep`.
    pub protocol: Option<String>,
    /// ICE servers.
    #[serde(default)]
    pub ice_server: Vec<String>,
    /// `all` or `relay`.
    pub ice_transport_policy: Option<String>,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// Option defaults per command section (see [`COMMAND_SECTIONS`]).
    pub options: BTreeMap<String, BTreeMap<String, OptionValue>>,
    /// TUI colours by theme item (`good = "green"`, `bad = "#ff5555"`).
    pub theme: BTreeMap<String, String>,
    /// Key rebindings: action → key (`quit = "x"`).
    pub keys: BTreeMap<String, String>,
    /// Exporter modules by name.
    pub modules: BTreeMap<String, Module>,
}

/// A problem with the file, named precisely.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SettingsError {
    /// Not TOML, or not the expected shape.
    #[error("{0}")]
    Syntax(String),
    /// A section this version does not know.
    #[error("unknown section [{0}] (known: viewer, serve, demo, probe, exporter, theme, keys)")]
    UnknownSection(String),
}

/// The theme items that can be coloured.
pub const THEME_ITEMS: &[&str] = &[
    "border",
    "border_focused",
    "title",
    "header",
    "selection",
    "selected_pair",
    "dim",
    "good",
    "warn",
    "bad",
    "chart",
    "key",
];

/// The rebindable actions.
pub const KEY_ACTIONS: &[&str] = &[
    "quit",
    "restart",
    "ice_restart",
    "freeze",
    "zoom",
    "help",
    "pause",
];

/// Parse the file's text.
pub fn parse(text: &str) -> Result<Settings, SettingsError> {
    let table: toml::Table =
        toml::from_str(text).map_err(|e| SettingsError::Syntax(e.to_string()))?;
    let mut s = Settings::default();
    for (section, value) in table {
        let toml::Value::Table(t) = value else {
            return Err(SettingsError::Syntax(format!(
                "`{section}` must be a section ([{section}])"
            )));
        };
        match section.as_str() {
            "theme" => {
                for (k, v) in t {
                    if !THEME_ITEMS.contains(&k.as_str()) {
                        return Err(SettingsError::Syntax(format!(
                            "[theme] {k}: not a theme item (one of {})",
                            THEME_ITEMS.join(", ")
                        )));
                    }
                    let toml::Value::String(c) = v else {
                        return Err(SettingsError::Syntax(format!(
                            "[theme] {k}: a colour name or #rrggbb is expected"
                        )));
                    };
                    s.theme.insert(k, c);
                }
            }
            "keys" => {
                for (k, v) in t {
                    if !KEY_ACTIONS.contains(&k.as_str()) {
                        return Err(SettingsError::Syntax(format!(
                            "[keys] {k}: not a rebindable action (one of {})",
                            KEY_ACTIONS.join(", ")
                        )));
                    }
                    match v {
                        toml::Value::String(c) if c.chars().count() == 1 => {
                            s.keys.insert(k, c);
                        }
                        _ => {
                            return Err(SettingsError::Syntax(format!(
                                "[keys] {k}: one character is expected (e.g. \"x\")"
                            )));
                        }
                    }
                }
            }
            name if COMMAND_SECTIONS.iter().any(|(n, _)| *n == name) => {
                let mut opts = BTreeMap::new();
                for (k, v) in t {
                    if name == "exporter" && k == "modules" {
                        let modules: BTreeMap<String, Module> =
                            v.try_into().map_err(|e: toml::de::Error| {
                                SettingsError::Syntax(format!("[exporter.modules]: {e}"))
                            })?;
                        s.modules = modules;
                        continue;
                    }
                    let ov: OptionValue = v.try_into().map_err(|e: toml::de::Error| {
                        SettingsError::Syntax(format!("[{name}] {k}: {e}"))
                    })?;
                    opts.insert(k, ov);
                }
                s.options.insert(name.to_owned(), opts);
            }
            other => return Err(SettingsError::UnknownSection(other.to_owned())),
        }
    }
    Ok(s)
}

/// The environment variable for a long option: `RTCSCOPE_HANDSHAKE_TIMEOUT` for
/// `handshake-timeout`.
pub fn env_name(long: &str) -> String {
    format!("RTCSCOPE_{}", long.to_ascii_uppercase().replace('-', "_"))
}

/// `--config FILE` from the raw arguments, if given (it must be known before parsing, since the
/// file sets the parser's defaults).
pub fn config_arg(args: &[String]) -> Option<String> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        if a == "--config" {
            return it.next().cloned();
        }
        if let Some(v) = a.strip_prefix("--config=") {
            return Some(v.to_owned());
        }
    }
    None
}

/// The template `--print-config-template` prints: every section, commented.
pub const TEMPLATE: &str = r##"# rtcscope configuration: $XDG_CONFIG_HOME/rtcscope/config.toml (or --config FILE).
# Precedence: this file < environment (RTCSCOPE_<OPTION>, e.g. RTCSCOPE_HANDSHAKE_TIMEOUT=5s)
# < command line. Keys are the long option names, values as on the command line.

[viewer]
# protocol = "auto"                 # auto | ws | whep
# ice-server = ["stun:stun.example.net:3478"]
# ice-transport-policy = "all"      # all | relay
# handshake-timeout = "10s"
# restart-pause = "1s"
# insecure = false                  # accept self-signed certificates (signaling and TURN over TLS)
# ca-file = "/etc/ssl/private-ca.pem"  # or trust a private CA, verification on
# no-probe = false
# audio = false
# header = ["X-Tenant: blue"]

[serve]
# codec = "vp8"
# bitrate = "2M"
# max-connections = 256
# max-sessions = 64

[exporter]
# listen = "127.0.0.1:9115"
# allow-target = ["wss://media.example.com/"]
# max-concurrent = 4
# probe-duration = "5s"

# Probe parameters per module, used as /probe?module=relay_only&target=…
# [exporter.modules.relay_only]
# duration = "10s"
# ice_transport_policy = "relay"
# ice_server = ["turns:turn.example.com:443"]

[theme]
# Colour names (black, red, green, yellow, blue, magenta, cyan, gray, darkgray, lightred, …, white)
# or #rrggbb, per item: border, border_focused, title, header, selection, selected_pair, dim, good,
# warn, bad, chart, key.
# good = "green"
# warn = "yellow"
# bad = "#ff5555"

[keys]
# One character per action: quit, restart, ice_restart, freeze, zoom, help, pause.
# quit = "q"
# restart = "r"
"##;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_parses_and_every_section_is_read() {
        assert_eq!(
            parse(TEMPLATE).map(|s| s.options.len()),
            Ok(3),
            "the template's sections, all commented out but present"
        );
        let s = parse(
            r##"
[viewer]
handshake-timeout = "5s"
ice-server = ["stun:a", "stun:b"]
insecure = true
[exporter]
max-concurrent = 2
[exporter.modules.relay]
ice_transport_policy = "relay"
duration = "10s"
[theme]
bad = "#ff5555"
[keys]
quit = "x"
"##,
        )
        .expect("parse");
        assert_eq!(
            s.options["viewer"]["ice-server"].as_args(),
            vec!["stun:a".to_owned(), "stun:b".to_owned()]
        );
        assert_eq!(s.options["viewer"]["insecure"].as_args(), vec!["true"]);
        assert_eq!(s.options["exporter"]["max-concurrent"].as_args(), vec!["2"]);
        assert_eq!(
            s.modules["relay"].ice_transport_policy.as_deref(),
            Some("relay")
        );
        assert_eq!(s.theme["bad"], "#ff5555");
        assert_eq!(s.keys["quit"], "x");
    }

    #[test]
    fn mistakes_are_named() {
        for (text, needle) in [
            ("[viewr]\n", "unknown section [viewr]"),
            ("[theme]\nbd = \"red\"\n", "not a theme item"),
            ("[keys]\nquit = \"xx\"\n", "one character"),
            ("[keys]\nexplode = \"x\"\n", "not a rebindable action"),
            ("viewer = 3\n", "must be a section"),
            ("[viewer\n", "TOML parse error"),
            ("[exporter.modules.m]\nbogus = 1\n", "unknown field"),
        ] {
            let e = parse(text).expect_err(text).to_string();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn env_names_and_the_config_argument() {
        assert_eq!(env_name("handshake-timeout"), "RTCSCOPE_HANDSHAKE_TIMEOUT");
        let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            config_arg(&a(&["rtcscope", "--config", "f.toml", "ws://x"])).as_deref(),
            Some("f.toml")
        );
        assert_eq!(
            config_arg(&a(&["rtcscope", "--config=g.toml"])).as_deref(),
            Some("g.toml")
        );
        assert_eq!(config_arg(&a(&["rtcscope", "--", "--config", "x"])), None);
    }
}
