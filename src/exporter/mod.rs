//! `rtcscope exporter`: a Prometheus exporter in the multi-target pattern of `blackbox_exporter`.
//! `GET /probe?target=<signaling URL>` runs one bounded viewer session (diagnosis included) and
//! answers with its metrics ([`metrics::render`]); `GET /metrics` gives the exporter's own.
//!
//! Safe by default: targets must match an allow-list of URL prefixes (`--allow-target`) unless
//! `--allow-any-target` says otherwise, so that the exporter cannot be used to make arbitrary
//! connections; probes run at most `--max-concurrent` at a time (more get `503`); each probe ends
//! before Prometheus's scrape timeout (`X-Prometheus-Scrape-Timeout-Seconds`). Query parameters are
//! read with the viewer's own command-line parser, so they are validated exactly as the flags are.

pub mod metrics;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::analysis::Analysis;
use crate::engine::{Engine, EngineCommand};

/// How the exporter runs.
#[derive(Debug, Clone)]
pub struct ExporterOptions {
    /// URL prefixes a target must start with.
    pub allow: Vec<String>,
    /// Accept any target (the allow-list is ignored).
    pub allow_any: bool,
    /// Probes running at once, at most.
    pub max_concurrent: usize,
    /// Probe length when the scrape does not say (`duration=`).
    pub default_duration: Duration,
    /// Probe length, at most.
    pub max_duration: Duration,
    /// Viewer flags every probe gets (before the scrape's own): `--insecure`, `--no-probe`, …
    pub base_args: Vec<String>,
    /// Named modules (`?module=NAME`): probe parameters from the configuration file.
    pub modules: std::collections::BTreeMap<String, crate::settings::Module>,
}

impl Default for ExporterOptions {
    fn default() -> Self {
        ExporterOptions {
            allow: Vec::new(),
            allow_any: false,
            max_concurrent: 4,
            default_duration: Duration::from_secs(5),
            max_duration: Duration::from_secs(60),
            base_args: Vec::new(),
            modules: Default::default(),
        }
    }
}

/// What the exporter counts about itself.
#[derive(Debug, Default)]
struct Counters {
    ok: AtomicU64,
    failed: AtomicU64,
    refused_target: AtomicU64,
    refused_busy: AtomicU64,
    bad_request: AtomicU64,
}

struct Shared {
    opts: ExporterOptions,
    slots: Arc<Semaphore>,
    counters: Counters,
}

/// A running exporter.
pub struct ExporterHandle {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl ExporterHandle {
    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stop accepting and wait for the accept loop.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

type Resp = Response<Full<Bytes>>;

fn text(status: u16, content_type: &str, body: String) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

const EXPOSITION: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Start listening on `listen`.
pub async fn start(listen: SocketAddr, opts: ExporterOptions) -> anyhow::Result<ExporterHandle> {
    if opts.max_concurrent == 0 {
        anyhow::bail!("--max-concurrent must be at least 1");
    }
    if opts.allow.is_empty() && !opts.allow_any {
        anyhow::bail!(
            "no target is allowed: give --allow-target PREFIX (e.g. --allow-target ws://media.internal:8889/) \
             or, knowingly, --allow-any-target"
        );
    }
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let local_addr = listener.local_addr()?;
    let shared = Arc::new(Shared {
        slots: Arc::new(Semaphore::new(opts.max_concurrent)),
        opts,
        counters: Counters::default(),
    });
    let (stop, mut stop_rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop_rx.changed() => break,
                r = listener.accept() => {
                    let Ok((tcp, _)) = r else {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    };
                    let shared = Arc::clone(&shared);
                    tokio::spawn(async move {
                        let svc = service_fn(move |req| {
                            let shared = Arc::clone(&shared);
                            async move { Ok::<_, std::convert::Infallible>(handle(&shared, req).await) }
                        });
                        let mut b = http1::Builder::new();
                        b.timer(TokioTimer::new()).header_read_timeout(Duration::from_secs(10));
                        let _ = b.serve_connection(TokioIo::new(tcp), svc).await;
                    });
                }
            }
        }
    });
    Ok(ExporterHandle {
        local_addr,
        stop,
        task,
    })
}

/// `rtcscope exporter`: start, print where it listens, run until Ctrl-C.
pub async fn run(listen: SocketAddr, opts: ExporterOptions) -> anyhow::Result<()> {
    let h = start(listen, opts).await?;
    eprintln!(
        "exporter on http://{0}/: probe at http://{0}/probe?target=<URL>, own metrics at http://{0}/metrics; Ctrl-C to stop",
        h.local_addr()
    );
    let _ = tokio::signal::ctrl_c().await;
    h.shutdown().await;
    Ok(())
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> Resp {
    match (req.method().as_str(), req.uri().path()) {
        ("GET", "/probe") => probe(shared, &req).await,
        ("GET", "/metrics") => text(200, EXPOSITION, own_metrics(shared)),
        ("GET", "/") => text(
            200,
            "text/plain; charset=utf-8",
            "rtcscope exporter: GET /probe?target=<signaling URL>[&duration=5s][&protocol=ws|whep]\
             [&ice_server=URL][&ice_transport_policy=relay], GET /metrics\n"
                .into(),
        ),
        _ => text(404, "text/plain; charset=utf-8", "not found\n".into()),
    }
}

fn own_metrics(shared: &Shared) -> String {
    let c = &shared.counters;
    let in_flight = shared.opts.max_concurrent - shared.slots.available_permits();
    format!(
        "# HELP rtcscope_exporter_probes_total Probes run, by result.\n\
         # TYPE rtcscope_exporter_probes_total counter\n\
         rtcscope_exporter_probes_total{{result=\"success\"}} {}\n\
         rtcscope_exporter_probes_total{{result=\"failure\"}} {}\n\
         # HELP rtcscope_exporter_refused_total Probe requests refused, by reason.\n\
         # TYPE rtcscope_exporter_refused_total counter\n\
         rtcscope_exporter_refused_total{{reason=\"target_not_allowed\"}} {}\n\
         rtcscope_exporter_refused_total{{reason=\"busy\"}} {}\n\
         rtcscope_exporter_refused_total{{reason=\"bad_request\"}} {}\n\
         # HELP rtcscope_exporter_probes_in_flight Probes running now.\n\
         # TYPE rtcscope_exporter_probes_in_flight gauge\n\
         rtcscope_exporter_probes_in_flight {in_flight}\n",
        c.ok.load(Ordering::Relaxed),
        c.failed.load(Ordering::Relaxed),
        c.refused_target.load(Ordering::Relaxed),
        c.refused_busy.load(Ordering::Relaxed),
        c.bad_request.load(Ordering::Relaxed),
    )
}

/// Whether `target` is allowed: it starts with one of the prefixes (scheme and host compared
/// without case).
pub fn allowed(target: &str, allow: &[String]) -> bool {
    let t = target.trim();
    allow.iter().any(|p| {
        t.len() >= p.len() && t.is_char_boundary(p.len()) && t[..p.len()].eq_ignore_ascii_case(p)
    })
}

/// The viewer's arguments for a scrape's query, and the probe length.
pub fn probe_args(
    query: &str,
    opts: &ExporterOptions,
    scrape_timeout: Option<f64>,
) -> Result<(String, Vec<String>, Duration), String> {
    let mut params: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        params
            .entry(k.into_owned())
            .or_default()
            .push(v.into_owned());
    }
    // A module's parameters, under the scrape's own.
    if let Some(name) = params.get("module").and_then(|v| v.first()).cloned() {
        let m = opts
            .modules
            .get(&name)
            .ok_or_else(|| format!("module={name}: no such module in the configuration file"))?;
        let mut set = |k: &str, v: Option<&String>| {
            if let Some(v) = v {
                params
                    .entry(k.to_owned())
                    .or_insert_with(|| vec![v.clone()]);
            }
        };
        set("duration", m.duration.as_ref());
        set("protocol", m.protocol.as_ref());
        set("ice_transport_policy", m.ice_transport_policy.as_ref());
        if !m.ice_server.is_empty() {
            params
                .entry("ice_server".to_owned())
                .or_insert_with(|| m.ice_server.clone());
        }
    }
    let one = |k: &str| params.get(k).and_then(|v| v.first()).cloned();
    let target =
        one("target").ok_or("the target parameter is required (?target=<signaling URL>)")?;
    let mut duration = match one("duration") {
        Some(d) => humantime::parse_duration(&d).map_err(|e| format!("duration={d}: {e}"))?,
        None => opts.default_duration,
    };
    duration = duration.min(opts.max_duration);
    if let Some(t) = scrape_timeout.filter(|t| t.is_finite() && *t > 0.0) {
        // Leave time to answer before Prometheus gives up.
        let budget = Duration::from_secs_f64((t - 1.0).max(1.0));
        duration = duration.min(budget);
    }
    let mut args = vec!["rtcscope".to_owned(), "--headless".to_owned()];
    args.extend(opts.base_args.iter().cloned());
    args.push("--duration".into());
    args.push(humantime::format_duration(duration).to_string());
    if let Some(p) = one("protocol") {
        args.push("--protocol".into());
        args.push(p);
    }
    if let Some(p) = one("ice_transport_policy") {
        args.push("--ice-transport-policy".into());
        args.push(p);
    }
    for s in params.get("ice_server").into_iter().flatten() {
        args.push("--ice-server".into());
        args.push(s.clone());
    }
    args.push(target.clone());
    Ok((target, args, duration))
}

async fn probe(shared: &Shared, req: &Request<Incoming>) -> Resp {
    let c = &shared.counters;
    let scrape_timeout = req
        .headers()
        .get("x-prometheus-scrape-timeout-seconds")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok());
    let query = req.uri().query().unwrap_or("");
    let (target, args, duration) = match probe_args(query, &shared.opts, scrape_timeout) {
        Ok(x) => x,
        Err(e) => {
            c.bad_request.fetch_add(1, Ordering::Relaxed);
            return text(400, "text/plain; charset=utf-8", format!("{e}\n"));
        }
    };
    if !shared.opts.allow_any && !allowed(&target, &shared.opts.allow) {
        c.refused_target.fetch_add(1, Ordering::Relaxed);
        return text(
            403,
            "text/plain; charset=utf-8",
            format!(
                "target {} is not allowed (--allow-target)\n",
                crate::sanitize::sanitize(&crate::secrets::mask_text(&target))
            ),
        );
    }
    let Ok(_slot) = Arc::clone(&shared.slots).try_acquire_owned() else {
        c.refused_busy.fetch_add(1, Ordering::Relaxed);
        return text(
            503,
            "text/plain; charset=utf-8",
            format!(
                "{} probes already running (--max-concurrent)\n",
                shared.opts.max_concurrent
            ),
        );
    };
    let cli = match <crate::cli::Cli as clap::Parser>::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            c.bad_request.fetch_add(1, Ordering::Relaxed);
            let msg = e.to_string();
            let first = msg.lines().next().unwrap_or("invalid parameters");
            return text(400, "text/plain; charset=utf-8", format!("{first}\n"));
        }
    };
    let cfg = match crate::config::engine_config(&target, &cli.view.viewer) {
        Ok(cfg) => cfg,
        Err(e) => {
            c.bad_request.fetch_add(1, Ordering::Relaxed);
            return text(400, "text/plain; charset=utf-8", format!("{e}\n"));
        }
    };
    let started = Instant::now();
    let mut handle = Engine::spawn(cfg);
    let mut analysis = Analysis::new();
    // The engine ends the session at --duration; past a grace, it is asked to stop.
    let deadline = tokio::time::Instant::now() + duration + Duration::from_secs(3);
    let mut stop_sent = false;
    loop {
        tokio::select! {
            ev = handle.events.recv() => match ev {
                Some(ev) => analysis.apply(&ev),
                None => break,
            },
            _ = tokio::time::sleep_until(deadline), if !stop_sent => {
                stop_sent = true;
                let _ = handle.commands.send(EngineCommand::Stop).await;
            }
            _ = tokio::time::sleep_until(deadline + Duration::from_secs(3)), if stop_sent => break,
        }
    }
    let report = crate::report::build(&analysis);
    let body = metrics::render(
        &report,
        started.elapsed().as_secs_f64(),
        analysis.model().probes(),
    );
    if metrics::success(&report) {
        c.ok.fetch_add(1, Ordering::Relaxed);
    } else {
        c.failed.fetch_add(1, Ordering::Relaxed);
    }
    text(200, EXPOSITION, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allow_list_matches_prefixes_only() {
        let allow = vec!["ws://media.internal:8889/".to_owned()];
        assert!(allowed("ws://media.internal:8889/cam/ws", &allow));
        assert!(allowed("WS://MEDIA.internal:8889/cam/ws", &allow));
        assert!(!allowed(
            "ws://media.internal:8889.evil.example/cam/ws",
            &allow
        ));
        assert!(!allowed("ws://other:8889/cam/ws", &allow));
        assert!(!allowed("", &allow));
    }

    #[test]
    fn scrape_parameters_become_viewer_flags_bounded_by_the_scrape_timeout() {
        let opts = ExporterOptions {
            allow_any: true,
            ..Default::default()
        };
        let (target, args, d) = probe_args(
            "target=ws%3A%2F%2F127.0.0.1%3A8889%2Fcam%2Fws&duration=30s&protocol=ws&ice_server=stun%3A127.0.0.1%3A3478&ice_transport_policy=relay",
            &opts,
            Some(10.0),
        )
        .expect("args");
        assert_eq!(target, "ws://127.0.0.1:8889/cam/ws");
        assert_eq!(d, Duration::from_secs(9));
        assert!(
            args.windows(2)
                .any(|w| w == ["--ice-transport-policy", "relay"])
        );
        assert!(
            args.windows(2)
                .any(|w| w == ["--ice-server", "stun:127.0.0.1:3478"])
        );
        assert_eq!(
            args.last().map(String::as_str),
            Some("ws://127.0.0.1:8889/cam/ws")
        );
        let (_, _, d) = probe_args("target=x&duration=5m", &opts, None).expect("args");
        assert_eq!(d, opts.max_duration);
        assert!(probe_args("duration=5s", &opts, None).is_err());
        assert!(probe_args("target=x&duration=soon", &opts, None).is_err());
        // A module from the configuration file sets what the scrape does not.
        let mut opts = opts;
        opts.modules.insert(
            "relay".into(),
            crate::settings::Module {
                ice_transport_policy: Some("relay".into()),
                duration: Some("7s".into()),
                ..Default::default()
            },
        );
        let (_, args, d) = probe_args("target=x&module=relay", &opts, None).expect("args");
        assert_eq!(d, Duration::from_secs(7));
        assert!(
            args.windows(2)
                .any(|w| w == ["--ice-transport-policy", "relay"])
        );
        let (_, _, d) = probe_args("target=x&module=relay&duration=2s", &opts, None).expect("args");
        assert_eq!(d, Duration::from_secs(2));
        assert!(probe_args("target=x&module=nope", &opts, None).is_err());
    }
}
