//! Turning command-line arguments into engine configuration (pure: no I/O).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
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

/// Where to gather host candidates when `--bind` is not given: loopback when the server is on loopback
/// (webrtc-rs skips loopback interfaces for a wildcard bind), otherwise every non-loopback interface.
pub fn default_bind(url: &url::Url) -> Vec<SocketAddr> {
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    let ip = if loopback {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    };
    vec![SocketAddr::new(ip, 0)]
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
    fn bind_follows_the_server() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        assert_eq!(
            default_bind(&u("ws://127.0.0.1:8889/cam/ws")),
            vec!["127.0.0.1:0".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            default_bind(&u("ws://localhost:8889/cam/ws")),
            vec!["127.0.0.1:0".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            default_bind(&u("ws://198.51.100.7:8889/cam/ws")),
            vec!["0.0.0.0:0".parse::<SocketAddr>().unwrap()]
        );
    }
}
