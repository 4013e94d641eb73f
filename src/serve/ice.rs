//! The sender's ICE servers: parsing `--serve-ice-server` URLs and writing the list MediaMTX sent first.

use serde::Serialize;

use crate::webrtc_adapter::sender::SenderIceServer;

/// Parse one ICE server URL: `stun:host:port`, `turn:host:port`, or `turn:user:pass@host:port`
/// (also `stuns:`/`turns:`, with an optional `?transport=…`). Credentials are split out of the URL.
pub fn parse_ice_server(url: &str) -> anyhow::Result<SenderIceServer> {
    let url = url.trim();
    let (scheme, rest) = url.split_once(':').ok_or_else(|| {
        anyhow::anyhow!("ICE server `{url}`: expected stun:HOST:PORT or turn:[USER:PASS@]HOST:PORT")
    })?;
    let scheme_l = scheme.to_ascii_lowercase();
    if !matches!(scheme_l.as_str(), "stun" | "stuns" | "turn" | "turns") {
        anyhow::bail!("ICE server `{url}`: unknown scheme `{scheme}` (stun, stuns, turn, turns)");
    }
    let rest = rest.trim_start_matches("//");
    let (userinfo, hostport) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    let host = hostport.split('?').next().unwrap_or_default();
    if host.is_empty() {
        anyhow::bail!("ICE server `{url}`: no host");
    }
    let (username, credential) = match userinfo {
        Some(u) => {
            let (user, pass) = u.split_once(':').ok_or_else(|| {
                anyhow::anyhow!("ICE server `{url}`: credentials must be USER:PASS@")
            })?;
            (Some(user.to_owned()), Some(pass.to_owned()))
        }
        None => (None, None),
    };
    if scheme_l.starts_with("turn") && username.is_none() {
        anyhow::bail!(
            "ICE server `{url}`: a TURN server needs credentials (turn:USER:PASS@HOST:PORT)"
        );
    }
    Ok(SenderIceServer {
        url: format!("{scheme_l}:{hostport}"),
        username,
        credential,
    })
}

#[derive(Serialize)]
struct IceServerJson<'a> {
    urls: [&'a str; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    credential: Option<&'a str>,
}

/// The first message of the protocol: `[{"urls":["stun:…"]},{"urls":["turn:…"],"username":…,"credential":…}]`.
pub fn ice_servers_json(servers: &[SenderIceServer]) -> String {
    let list: Vec<IceServerJson<'_>> = servers
        .iter()
        .map(|s| IceServerJson {
            urls: [s.url.as_str()],
            username: s.username.as_deref(),
            credential: s.credential.as_deref(),
        })
        .collect();
    serde_json::to_string(&list).unwrap_or_else(|_| "[]".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stun_and_turn_with_credentials() {
        let s = parse_ice_server("stun:127.0.0.1:3478").unwrap();
        assert_eq!(s.url, "stun:127.0.0.1:3478");
        assert_eq!(s.username, None);
        let t = parse_ice_server("turn:user:p@ss@127.0.0.1:3478?transport=udp").unwrap();
        assert_eq!(t.url, "turn:127.0.0.1:3478?transport=udp");
        assert_eq!(t.username.as_deref(), Some("user"));
        assert_eq!(t.credential.as_deref(), Some("p@ss"));
        assert!(parse_ice_server("turn:127.0.0.1:3478").is_err());
        assert!(parse_ice_server("http://x").is_err());
        assert!(parse_ice_server("stun:").is_err());
    }

    #[test]
    fn writes_the_mediamtx_list() {
        assert_eq!(ice_servers_json(&[]), "[]");
        let list = [
            parse_ice_server("stun:127.0.0.1:3478").unwrap(),
            parse_ice_server("turn:u:p@127.0.0.1:3479").unwrap(),
        ];
        assert_eq!(
            ice_servers_json(&list),
            r#"[{"urls":["stun:127.0.0.1:3478"]},{"urls":["turn:127.0.0.1:3479"],"username":"u","credential":"p"}]"#
        );
    }
}
