//! `rtcscope probe`: the command-line edge of the ICE-server probe ([`crate::probe`]): it checks the
//! arguments, runs the probes and prints one line per result (or a JSON array).

use crate::cli::ProbeArgs;
use crate::config::UsageError;
use crate::event::probe::ProbeResult;
use crate::probe;

use crate::analysis::Outcome;

/// `rtcscope probe`: probe the servers given, print one line per result (or a JSON array), and
/// return [`Outcome::ProbeFailed`] (exit 7) if any failed.
pub async fn run(args: ProbeArgs) -> anyhow::Result<Outcome> {
    if args.timeout < probe::MIN_TIMEOUT {
        return Err(UsageError(format!(
            "--timeout must be at least {} ms",
            probe::MIN_TIMEOUT.as_millis()
        ))
        .into());
    }
    let specs = args
        .servers
        .iter()
        .map(|s| {
            crate::proto::ice_server::parse_cli_ice_server(
                s,
                args.ice_username.as_deref(),
                args.ice_credential.as_deref(),
            )
            .map_err(UsageError)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let opts = probe::ProbeOptions {
        timeout: args.timeout,
        insecure: args.insecure,
        ca_roots: match &args.ca_file {
            Some(p) => crate::tls::load_ca_file(p).map_err(UsageError)?,
            None => Vec::new(),
        },
        all_transports: args.all_transports,
        ..probe::ProbeOptions::default()
    };
    let results = probe::probe_all(&specs, &opts).await;
    print_results(&results, args.json)?;
    Ok(if results.iter().all(ProbeResult::is_ok) {
        Outcome::Done
    } else {
        Outcome::ProbeFailed
    })
}

/// A result with its summary, for `--json`.
#[derive(serde::Serialize)]
struct WithSummary<'a> {
    #[serde(flatten)]
    result: &'a ProbeResult,
    summary: String,
}

fn print_results(results: &[ProbeResult], json: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if json {
        let v: Vec<WithSummary<'_>> = results
            .iter()
            .map(|r| WithSummary {
                result: r,
                summary: r.summary(),
            })
            .collect();
        crate::sanitize::json::to_writer_pretty(&mut out, &v)?;
        writeln!(out)?;
    } else {
        for r in results {
            writeln!(out, "{}", r.summary())?;
        }
    }
    out.flush()?;
    Ok(())
}
