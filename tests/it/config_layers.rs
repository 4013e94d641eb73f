//! Configuration precedence (#14): file < environment < command line, in table tests through the
//! real parser; and the binary's `--config`, `--print-config-template` and bad files.

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use rtcscope::cli::{Cli, Command as Sub, parse_layered};
use rtcscope::settings;

fn parse(args: &[&str], env: &[(&str, &str)], file: &str) -> Result<Cli, String> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let s = settings::parse(file).map_err(|e| e.to_string())?;
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    parse_layered(&args, &|k| env.get(k).cloned(), &s).map_err(|e| e.to_string())
}

#[test]
fn file_then_environment_then_command_line() {
    let file = "[viewer]\nhandshake-timeout = \"5s\"\n";
    let env = [("RTCSCOPE_HANDSHAKE_TIMEOUT", "6s")];
    let cli = ["--handshake-timeout", "7s"];
    // (file?, env?, cli?) → expected
    let cases: &[(bool, bool, bool, u64)] = &[
        (false, false, false, 10),
        (true, false, false, 5),
        (false, true, false, 6),
        (true, true, false, 6),
        (false, false, true, 7),
        (true, false, true, 7),
        (false, true, true, 7),
        (true, true, true, 7),
    ];
    for &(f, e, c, want) in cases {
        let mut args = vec!["rtcscope"];
        if c {
            args.extend_from_slice(&cli);
        }
        args.push("ws://127.0.0.1:1/cam/ws");
        let parsed =
            parse(&args, if e { &env } else { &[] }, if f { file } else { "" }).expect("parse");
        assert_eq!(
            parsed.view.viewer.handshake_timeout,
            Duration::from_secs(want),
            "file {f}, env {e}, cli {c}"
        );
    }
}

#[test]
fn flags_lists_and_subcommands_take_layers_too() {
    let cli = parse(
        &["rtcscope", "ws://127.0.0.1:1/cam/ws"],
        &[("RTCSCOPE_ICE_SERVER", "stun:127.0.0.1:1,stun:127.0.0.1:2")],
        "[viewer]\ninsecure = true\nice-server = [\"stun:127.0.0.1:9\"]\n",
    )
    .expect("parse");
    assert!(cli.view.viewer.insecure);
    assert_eq!(
        cli.view.viewer.ice_servers,
        vec!["stun:127.0.0.1:1", "stun:127.0.0.1:2"],
        "the environment's list replaces the file's"
    );
    let cli = parse(
        &["rtcscope", "serve", "--max-connections", "9"],
        &[],
        "[serve]\nmax-sessions = 3\nmax-connections = 100\n",
    )
    .expect("parse");
    let Some(Sub::Serve(s)) = cli.command else {
        panic!("serve")
    };
    assert_eq!((s.limits.max_sessions, s.limits.max_connections), (3, 9));
}

#[test]
fn bad_values_in_a_layer_fail_like_bad_flags() {
    let e = parse(
        &["rtcscope", "ws://x/ws"],
        &[],
        "[viewer]\nhandshake-timout = \"5s\"\n",
    )
    .expect_err("unknown option");
    assert!(e.contains("unknown option `handshake-timout`"), "{e}");
    let e = parse(
        &["rtcscope", "ws://x/ws"],
        &[("RTCSCOPE_HANDSHAKE_TIMEOUT", "soon")],
        "",
    )
    .expect_err("bad env value");
    assert!(e.contains("soon"), "{e}");
    let e = parse(
        &["rtcscope", "ws://x/ws"],
        &[],
        "[viewer]\nprotocol = \"carrier-pigeon\"\n",
    )
    .expect_err("bad file value");
    assert!(e.contains("carrier-pigeon"), "{e}");
}

#[test]
fn the_binary_reads_its_config_file_and_prints_the_template() {
    let bin = env!("CARGO_BIN_EXE_rtcscope");
    let out = Command::new(bin)
        .arg("--print-config-template")
        .output()
        .expect("run");
    assert!(out.status.success());
    let template = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(settings::parse(&template).is_ok(), "the template parses");
    assert!(template.contains("[exporter.modules.relay_only]"));
    let dir = std::env::temp_dir().join(format!("rtcscope-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[viewer]\nnope = 1\n").expect("write");
    let out = Command::new(bin)
        .args([
            "--config",
            &bad.to_string_lossy(),
            "ws://127.0.0.1:1/cam/ws",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown option `nope`"));
    let theme = dir.join("theme.toml");
    std::fs::write(&theme, "[theme]\nbad = \"ultraviolet\"\n").expect("write");
    let out = Command::new(bin)
        .args([
            "--config",
            &theme.to_string_lossy(),
            "replay",
            "--report",
            "text",
            "/nonexistent",
        ])
        .output()
        .expect("run");
    assert_ne!(out.status.code(), Some(0));
    // A config file in XDG_CONFIG_HOME is read without --config.
    let xdg = dir.join("xdg");
    std::fs::create_dir_all(xdg.join("rtcscope")).expect("dir");
    std::fs::write(xdg.join("rtcscope/config.toml"), "[viewer]\nprotocl = 1\n").expect("write");
    let out = Command::new(bin)
        .env("XDG_CONFIG_HOME", &xdg)
        .args(["ws://127.0.0.1:1/cam/ws"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("protocl"));
    let _ = std::fs::remove_dir_all(&dir);
}
