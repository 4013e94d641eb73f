//! The exporter against a real Prometheus server (Debian's `prometheus`), started on loopback with
//! the multi-target relabeling of blackbox_exporter's documentation. Prometheus scrapes the exporter
//! probing `rtcscope serve` and a closed port; the test reads the series back from Prometheus's HTTP
//! query API.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::common::{Killed, TempDir, free_port, wait_listening};

const BIN: &str = env!("CARGO_BIN_EXE_rtcscope");

fn spawn(program: &str, args: &[&str]) -> Killed {
    Killed(
        Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {program}: {e}")),
    )
}

/// `(instance, value)` of every series of an instant query.
async fn query(client: &reqwest::Client, prom: u16, q: &str) -> Vec<(serde_json::Value, f64)> {
    let url = format!("http://127.0.0.1:{prom}/api/v1/query");
    let Ok(r) = client.get(&url).query(&[("query", q)]).send().await else {
        return vec![];
    };
    let Ok(body) = r.text().await else {
        return vec![];
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) else {
        return vec![];
    };
    v["data"]["result"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    let value = s["value"][1]
                        .as_str()
                        .and_then(|x| x.parse::<f64>().ok())
                        .unwrap_or(f64::NAN);
                    (s["metric"].clone(), value)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_exporter_probing_a_healthy_and_an_unreachable_target() {
    if Command::new("prometheus")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var("CI").is_err(),
            "prometheus is not installed (CI installs Debian's prometheus)"
        );
        eprintln!("SKIPPED: prometheus is not installed");
        return;
    }
    let (serve_port, exporter_port, prom_port, closed) =
        (free_port(), free_port(), free_port(), free_port());
    let _serve = spawn(
        BIN,
        &["serve", "--listen", &format!("127.0.0.1:{serve_port}")],
    );
    let _exporter = spawn(
        BIN,
        &[
            "exporter",
            "--listen",
            &format!("127.0.0.1:{exporter_port}"),
            "--allow-target",
            "ws://127.0.0.1:",
            "--probe-duration",
            "3s",
            "--no-probe",
            "--bind",
            "127.0.0.1:0",
        ],
    );
    wait_listening(serve_port);
    wait_listening(exporter_port);
    let healthy = format!("ws://127.0.0.1:{serve_port}/cam/ws");
    let unreachable = format!("ws://127.0.0.1:{closed}/cam/ws");
    let tmp = TempDir::new("prom");
    let dir = tmp.0.clone();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 5s\n  scrape_timeout: 5s\n\
             scrape_configs:\n  - job_name: rtcscope\n    metrics_path: /probe\n\
             \x20   static_configs:\n      - targets: ['{healthy}', '{unreachable}']\n\
             \x20   relabel_configs:\n\
             \x20     - source_labels: [__address__]\n        target_label: __param_target\n\
             \x20     - source_labels: [__param_target]\n        target_label: instance\n\
             \x20     - target_label: __address__\n        replacement: 127.0.0.1:{exporter_port}\n"
        ),
    )
    .expect("config");
    let _prom = spawn(
        "prometheus",
        &[
            &format!("--config.file={}", config.display()),
            &format!("--storage.tsdb.path={}", dir.join("data").display()),
            &format!("--web.listen-address=127.0.0.1:{prom_port}"),
        ],
    );
    wait_listening(prom_port);
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let deadline = Instant::now() + Duration::from_secs(90);
    let series = loop {
        let s = query(&client, prom_port, "probe_success").await;
        if s.len() == 2 || Instant::now() > deadline {
            break s;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let value_of = |instance: &str| {
        series
            .iter()
            .find(|(m, _)| m["instance"] == instance)
            .map(|(_, v)| *v)
    };
    assert_eq!(value_of(&healthy), Some(1.0), "{series:?}");
    assert_eq!(value_of(&unreachable), Some(0.0), "{series:?}");
    let findings = query(
        &client,
        prom_port,
        &format!("rtcscope_finding{{instance=\"{unreachable}\"}}"),
    )
    .await;
    assert!(
        findings
            .iter()
            .any(|(m, v)| *v == 1.0 && m["severity"] != "ok" && m["rule"].is_string()),
        "the unreachable target's finding: {findings:?}"
    );
    let media = query(
        &client,
        prom_port,
        &format!("rtcscope_phase_seconds{{instance=\"{healthy}\",phase=\"first_media\"}}"),
    )
    .await;
    assert!(
        media.first().is_some_and(|(_, v)| *v > 0.0 && *v < 3.0),
        "{media:?}"
    );
    let exit = query(
        &client,
        prom_port,
        &format!("rtcscope_exit_code{{instance=\"{unreachable}\"}}"),
    )
    .await;
    assert_eq!(exit.first().map(|(_, v)| *v), Some(3.0), "{exit:?}");
}

#[test]
fn the_exporter_refuses_what_it_must() {
    let port = free_port();
    // No allow-list: it does not start.
    let out = Command::new(BIN)
        .args(["exporter", "--listen", &format!("127.0.0.1:{port}")])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-target"));
    let _exporter = spawn(
        BIN,
        &[
            "exporter",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--allow-target",
            "ws://127.0.0.1:1/",
        ],
    );
    wait_listening(port);
    let get = |path: &str| {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        use std::io::{Read, Write};
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .expect("write");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    };
    let r = get("/probe?target=ws%3A%2F%2F10.0.0.1%3A8889%2Fcam%2Fws");
    assert!(r.starts_with("HTTP/1.1 403"), "{r}");
    let r = get("/probe");
    assert!(r.starts_with("HTTP/1.1 400") && r.contains("target"), "{r}");
    let r = get("/probe?target=ws%3A%2F%2F127.0.0.1%3A1%2Fcam%2Fws&protocol=carrier-pigeon");
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    let r = get("/metrics");
    assert!(
        r.contains("rtcscope_exporter_refused_total{reason=\"target_not_allowed\"} 1"),
        "{r}"
    );
}
