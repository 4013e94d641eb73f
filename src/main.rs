//! `rtcscope`: a thin shell over [`rtcscope::run`].

use std::process::ExitCode;

use clap::Parser;

fn init_logging(cli: &rtcscope::cli::Cli) -> anyhow::Result<()> {
    let Some(path) = &cli.log_file else {
        return Ok(());
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| anyhow::anyhow!("--log-file {}: {e}", path.display()))?;
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log_level)
        .map_err(|e| anyhow::anyhow!("--log-level {}: {e}", cli.log_level))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init()
        .map_err(|e| anyhow::anyhow!("logging: {e}"))?;
    Ok(())
}

fn main() -> ExitCode {
    let cli = rtcscope::cli::Cli::parse();
    if let Err(e) = init_logging(&cli) {
        eprintln!("rtcscope: {e:#}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rtcscope: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(rtcscope::run(cli)) {
        Ok(outcome) => ExitCode::from(outcome.exit_code() as u8),
        Err(e) => {
            eprintln!("rtcscope: {e:#}");
            if e.downcast_ref::<rtcscope::config::UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
