//! `rtcscope`: a thin shell over [`rtcscope::run`].

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = rtcscope::cli::Cli::parse();
    if let Err(e) = rtcscope::logging::init(cli.log_file.as_deref(), &cli.log_level) {
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
