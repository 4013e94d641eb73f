//! Protocol detection for a page URL: WHEP when its endpoint answers OPTIONS, the WebSocket reader
//! protocol otherwise.

use std::time::Duration;

use super::Driver;
use crate::event::Protocol;
use crate::proto::ice_server;
use crate::signaling::HttpRequest;

impl Driver {
    /// Pick the protocol for a page URL: WHEP when its endpoint answers OPTIONS with 2xx or an auth
    /// challenge, the WebSocket protocol otherwise.
    pub(super) async fn detect(
        &mut self,
        whep_url: &url::Url,
        ws_url: &url::Url,
    ) -> (Protocol, url::Url, String) {
        let Ok(client) = self.http_client.clone() else {
            return (
                Protocol::Ws,
                ws_url.clone(),
                "no HTTP client: using the WebSocket protocol".into(),
            );
        };
        let (headers, _, _) = crate::signaling::whep::request_headers(
            &super::client_config(&self.cfg, whep_url),
            whep_url,
            None,
            None,
        );
        let request = HttpRequest {
            id: 0,
            method: "OPTIONS",
            url: whep_url.clone(),
            headers,
            body: None,
            wait_at_most: None,
        };
        let fut = client.send(&request);
        match tokio::time::timeout(Duration::from_secs(5), async {
            fut.await.map(|r| r.status)
        })
        .await
        {
            Ok(Ok(status)) if (200..300).contains(&status) || status == 401 || status == 403 => (
                Protocol::Whep,
                whep_url.clone(),
                format!(
                    "protocol: WHEP (OPTIONS {} answered HTTP {status})",
                    ice_server::mask_url(whep_url.as_str())
                ),
            ),
            Ok(Ok(status)) => (
                Protocol::Ws,
                ws_url.clone(),
                format!(
                    "protocol: the legacy WebSocket reader (OPTIONS {} answered HTTP {status}, no WHEP endpoint; use --protocol whep to force it)",
                    ice_server::mask_url(whep_url.as_str())
                ),
            ),
            Ok(Err(e)) => (
                Protocol::Ws,
                ws_url.clone(),
                format!("protocol: the legacy WebSocket reader (WHEP probe failed: {e})"),
            ),
            Err(_) => (
                Protocol::Ws,
                ws_url.clone(),
                "protocol: the legacy WebSocket reader (WHEP probe timed out after 5 s)".into(),
            ),
        }
    }
}
