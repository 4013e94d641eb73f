//! Turning command-line arguments into engine configuration (pure: no I/O).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::cli::{IceTransportPolicy, ProtocolChoice, ViewerOptions, parse_duration};
use crate::engine::{EngineConfig, SignalingTarget};
use crate::proto::{ice_server, ws};
use crate::session::Policy;
use crate::webrtc_adapter::IceTimeouts;

/// A configuration the user must fix (exit code 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Build the engine configuration for viewing `url` with `opts`.
pub fn engine_config(url: &str, opts: &ViewerOptions) -> Result<EngineConfig, UsageError> {
    let target = signaling_target(url, opts.protocol)?;
    if opts.bearer.is_some() && matches!(target, SignalingTarget::Ws(_)) {
        return Err(UsageError(
            "--bearer is for WHEP; the WebSocket protocol authenticates with user:pass@ in the URL"
                .into(),
        ));
    }
    let url = target.display_url().clone();
    let headers = opts
        .headers
        .iter()
        .map(|h| parse_header(h))
        .collect::<Result<Vec<_>, _>>()?;
    let ice_servers = opts
        .ice_servers
        .iter()
        .map(|s| {
            ice_server::parse_cli_ice_server(
                s,
                opts.ice_username.as_deref(),
                opts.ice_credential.as_deref(),
            )
            .map_err(|e| UsageError(format!("--ice-server {}: {e}", ice_server::mask_url(s))))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let ice_timeouts = opts
        .ice_timeouts
        .as_deref()
        .map(parse_ice_timeouts)
        .transpose()?;
    let whep = !matches!(target, SignalingTarget::Ws(_));
    let bind = if opts.bind.is_empty() {
        default_bind(&url)
    } else {
        opts.bind.clone()
    };
    Ok(EngineConfig {
        target,
        bearer: opts.bearer.clone(),
        headers,
        insecure: opts.insecure,
        recv_buffer: opts.recv_buffer as usize,
        ca_roots: match &opts.ca_file {
            Some(p) => crate::tls::load_ca_file(p).map_err(UsageError)?,
            None => Vec::new(),
        },
        ice_servers,
        relay_only: opts.ice_transport_policy == IceTransportPolicy::Relay,
        audio: opts.audio,
        bind,
        ice_timeouts,
        policy: Policy {
            restart_pause: opts.restart_pause,
            handshake_timeout: opts.handshake_timeout,
            max_restarts: opts.max_restarts,
            duration: opts.duration,
            // The WebSocket reader restarts on `disconnected`; the WHEP reader waits for `failed` and
            // tries an ICE restart first (it has a channel to renegotiate).
            restart_on_disconnected: !whep,
            ice_restart_on_failed: whep,
        },
        stats_interval: Duration::from_secs(1),
        checklist_interval: Duration::from_millis(250),
        stack_warnings: false,
        probe: !opts.no_probe,
        show_secrets: opts.show_secrets,
    })
}

/// Which protocol and URL(s) to use for what the user typed.
pub fn signaling_target(
    input: &str,
    choice: ProtocolChoice,
) -> Result<SignalingTarget, UsageError> {
    let parsed = url::Url::parse(input.trim());
    let scheme = parsed
        .as_ref()
        .map(|u| u.scheme().to_owned())
        .unwrap_or_default();
    let is_http = scheme == "http" || scheme == "https";
    let ends_in_whep = parsed
        .as_ref()
        .map(|u| u.path().trim_end_matches('/').ends_with("/whep"))
        .unwrap_or(false);
    let ws_url = || ws::signaling_url(input).map_err(UsageError);
    match choice {
        ProtocolChoice::Ws => Ok(SignalingTarget::Ws(ws_url()?)),
        ProtocolChoice::Whep | ProtocolChoice::Auto if is_http && ends_in_whep => Ok(
            SignalingTarget::Whep(parsed.map_err(|e| UsageError(e.to_string()))?),
        ),
        ProtocolChoice::Whep if is_http => Ok(SignalingTarget::Whep(
            crate::proto::whep::whep_url_from_page(&parsed.map_err(|e| UsageError(e.to_string()))?),
        )),
        ProtocolChoice::Whep => Err(UsageError(format!(
            "--protocol whep needs an http:// or https:// URL, not `{}`",
            crate::proto::ice_server::mask_url(input)
        ))),
        ProtocolChoice::Auto if is_http => {
            let page = parsed.map_err(|e| UsageError(e.to_string()))?;
            Ok(SignalingTarget::Detect {
                whep: crate::proto::whep::whep_url_from_page(&page),
                ws: ws_url()?,
            })
        }
        ProtocolChoice::Auto => Ok(SignalingTarget::Ws(ws_url()?)),
    }
}

/// Where to gather host candidates when `--bind` is not given, as a browser does: every usable interface,
/// IPv4 and IPv6 (`0.0.0.0:0` and `[::]:0`, which the adapter expands to each non-loopback, non-link-local
/// interface), plus loopback (`127.0.0.1` and `::1`) when the server is on loopback. A sender on this
/// machine may offer a loopback address, or only its LAN, bridge or IPv6 address (libnice-based senders
/// gather no loopback candidate): with both, some pair can form either way.
pub fn default_bind(url: &url::Url) -> Vec<SocketAddr> {
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.');
            d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost")
        }
        None => false,
    };
    let mut bind = vec![
        SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    ];
    if loopback {
        bind.push(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0));
        bind.push(SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 0));
    }
    bind
}

/// `Name: value` → (name, value), validated as an HTTP header.
pub fn parse_header(s: &str) -> Result<(String, String), UsageError> {
    let (name, value) = s
        .split_once(':')
        .ok_or_else(|| UsageError(format!("--header `{s}`: expected `Name: value`")))?;
    let name = name.trim();
    let valid_name = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid_name {
        return Err(UsageError(format!(
            "--header `{s}`: `{name}` is not a valid header name"
        )));
    }
    let value = value.trim();
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(UsageError(format!(
            "--header `{name}`: the value contains a line break"
        )));
    }
    Ok((name.to_owned(), value.to_owned()))
}

/// `2s,5s,1s` → ICE timeouts.
pub fn parse_ice_timeouts(s: &str) -> Result<IceTimeouts, UsageError> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let [d, f, k] = parts.as_slice() else {
        return Err(UsageError(format!(
            "--ice-timeouts `{s}`: expected DISCONNECTED,FAILED,KEEPALIVE, e.g. 2s,5s,1s"
        )));
    };
    let p = |v: &str| parse_duration(v).map_err(|e| UsageError(format!("--ice-timeouts: {e}")));
    Ok(IceTimeouts {
        disconnected: p(d)?,
        failed: p(f)?,
        keepalive: p(k)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        assert_eq!(
            parse_header("X-Token: abc def").unwrap(),
            ("X-Token".into(), "abc def".into())
        );
        assert!(parse_header("no colon").is_err());
        assert!(parse_header(": v").is_err());
        assert!(parse_header("Bad Name: v").is_err());
    }

    #[test]
    fn timeouts() {
        let t = parse_ice_timeouts("2s,5s,1s").unwrap();
        assert_eq!(t.disconnected, Duration::from_secs(2));
        assert_eq!(t.failed, Duration::from_secs(5));
        assert_eq!(t.keepalive, Duration::from_secs(1));
        assert!(parse_ice_timeouts("2s,5s").is_err());
        assert!(parse_ice_timeouts("2s,x,1s").is_err());
    }

    #[test]
    fn bind_gathers_everywhere_and_adds_loopback_for_a_loopback_server() {
        let everywhere = ["0.0.0.0:0", "[::]:0"];
        let with_loopback = ["0.0.0.0:0", "[::]:0", "127.0.0.1:0", "[::1]:0"];
        let table: &[(&str, &[&str])] = &[
            ("ws://127.0.0.1:8889/cam/ws", &with_loopback),
            ("ws://127.9.9.9:8889/cam/ws", &with_loopback),
            ("ws://[::1]:9702/cam/ws", &with_loopback),
            ("ws://localhost:8889/cam/ws", &with_loopback),
            ("http://LOCALHOST.:8889/cam/whep", &with_loopback),
            ("http://cam.localhost:8889/cam/whep", &with_loopback),
            ("ws://198.51.100.7:8889/cam/ws", &everywhere),
            ("ws://[2001:db8::7]:8889/cam/ws", &everywhere),
            ("https://cam.example.org/cam/whep", &everywhere),
            ("ws://localhost.example.org/cam/ws", &everywhere),
        ];
        for (url, want) in table {
            let want: Vec<SocketAddr> = want.iter().map(|a| a.parse().unwrap()).collect();
            assert_eq!(default_bind(&url::Url::parse(url).unwrap()), want, "{url}");
        }
    }

    #[test]
    fn an_explicit_bind_replaces_the_default() {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from([
            "rtcscope",
            "--bind",
            "127.0.0.1:0",
            "ws://127.0.0.1:8889/cam/ws",
        ])
        .unwrap();
        let cfg = engine_config("ws://127.0.0.1:8889/cam/ws", &cli.view.viewer).unwrap();
        assert_eq!(cfg.bind, vec!["127.0.0.1:0".parse::<SocketAddr>().unwrap()]);
    }
}
