//! `wss://` with a self-signed certificate: refused by default (verification is on), accepted with
//! `--insecure`. The TLS endpoint is a proxy on 127.0.0.1 terminating TLS in front of the built-in sender.

use crate::support::common;

use std::sync::Arc;
use std::time::Duration;

use common::{collect, dump, sender_options, viewer};
use futures_util::{SinkExt, StreamExt};
use rtcscope::event::{Event, RestartCause};
use tokio::net::TcpListener;

/// Accept TLS connections with a fresh self-signed certificate and relay WebSocket frames to `upstream`.
async fn tls_proxy(upstream: String) -> (String, tokio::task::JoinHandle<()>) {
    let (url, task, _) = tls_proxy_with_pem(upstream).await;
    (url, task)
}

/// [`tls_proxy`], also returning the certificate (PEM), to be trusted with `--ca-file`.
async fn tls_proxy_with_pem(upstream: String) -> (String, tokio::task::JoinHandle<()>, String) {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("certificate");
    let pem = cert.cert.pem();
    let der = rustls::pki_types::CertificateDer::from(cert.cert.der().to_vec());
    let key =
        rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(vec![der], key)
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(down) = tokio_tungstenite::accept_async(tls).await else {
                    return;
                };
                let Ok((up, _)) = tokio_tungstenite::connect_async(upstream.as_str()).await else {
                    return;
                };
                let (mut dtx, mut drx) = down.split();
                let (mut utx, mut urx) = up.split();
                let a = async {
                    while let Some(Ok(m)) = drx.next().await {
                        if utx.send(m).await.is_err() {
                            break;
                        }
                    }
                };
                let b = async {
                    while let Some(Ok(m)) = urx.next().await {
                        if dtx.send(m).await.is_err() {
                            break;
                        }
                    }
                };
                tokio::select! { _ = a => {}, _ = b => {} }
            });
        }
    });
    (format!("wss://127.0.0.1:{}/cam/ws", addr.port()), task, pem)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_signed_wss_is_refused_by_default_and_accepted_with_insecure() {
    let serve = rtcscope::serve::start("127.0.0.1:0".parse().unwrap(), sender_options(&[]))
        .await
        .unwrap();
    let (url, task) = tls_proxy(serve.ws_url("cam")).await;

    let events = collect(
        viewer(&["--max-restarts", "0", &url]),
        Duration::from_secs(20),
    )
    .await;
    let t = dump(&events);
    let cause = events.iter().find_map(|e| match &e.event {
        Event::Restart { cause, .. } => Some(cause.clone()),
        _ => None,
    });
    match cause {
        Some(RestartCause::SignalingFailed {
            error,
            http_status: None,
        }) => {
            assert!(
                error.contains("TLS") && error.contains("--insecure"),
                "{error}"
            );
        }
        other => panic!("{other:?}\n{t}"),
    }

    let events = collect(
        viewer(&["--duration", "3s", "--insecure", &url]),
        Duration::from_secs(20),
    )
    .await;
    serve.shutdown().await;
    task.abort();
    let t = dump(&events);
    assert!(
        events
            .iter()
            .any(|e| matches!(e.event, Event::FirstMedia { .. })),
        "media over wss with --insecure\n{t}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_ca_given_with_ca_file_is_trusted_with_verification_on() {
    let serve = rtcscope::serve::start("127.0.0.1:0".parse().unwrap(), sender_options(&[]))
        .await
        .unwrap();
    let (url, task, pem) = tls_proxy_with_pem(serve.ws_url("cam")).await;
    let dir = std::env::temp_dir().join(format!("rtcscope-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, pem).expect("write");
    let ca_s = ca.to_string_lossy().into_owned();
    let events = collect(
        viewer(&["--duration", "3s", "--ca-file", &ca_s, &url]),
        Duration::from_secs(20),
    )
    .await;
    serve.shutdown().await;
    task.abort();
    let t = dump(&events);
    assert!(
        events
            .iter()
            .any(|e| matches!(e.event, Event::FirstMedia { .. })),
        "media over wss with the CA trusted, no --insecure\n{t}"
    );
    // A file that holds no certificate is a usage error naming it.
    let bad = dir.join("bad.pem");
    std::fs::write(&bad, "not a certificate").expect("write");
    let cli = <rtcscope::cli::Cli as clap::Parser>::try_parse_from([
        "rtcscope",
        "--ca-file",
        &bad.to_string_lossy(),
        "wss://127.0.0.1:1/cam/ws",
    ])
    .expect("parse");
    let err = rtcscope::config::engine_config("wss://127.0.0.1:1/cam/ws", &cli.view.viewer)
        .expect_err("bad CA file");
    assert!(err.to_string().contains("no certificate"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
