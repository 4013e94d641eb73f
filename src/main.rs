//! `rtcscope`: a thin shell over [`rtcscope::run`].

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let settings = match load_settings(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rtcscope: {e:#}");
            return ExitCode::from(2);
        }
    };
    let mut cli = match rtcscope::cli::parse_layered(&args, &|k| std::env::var(k).ok(), &settings) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    if cli.print_config_template {
        print!("{}", rtcscope::settings::TEMPLATE);
        return ExitCode::SUCCESS;
    }
    cli.settings = settings;
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

/// The configuration file: `--config FILE` (must exist), else `$XDG_CONFIG_HOME/rtcscope/config.toml`
/// (or `~/.config/…`) if it exists, else none.
fn load_settings(args: &[String]) -> anyhow::Result<rtcscope::settings::Settings> {
    use anyhow::Context as _;
    let (path, required) = match rtcscope::settings::config_arg(args) {
        Some(p) => (std::path::PathBuf::from(p), true),
        None => {
            let base = std::env::var_os("XDG_CONFIG_HOME")
                .filter(|v| !v.is_empty())
                .map(std::path::PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".config"))
                });
            match base {
                Some(b) => (b.join("rtcscope").join("config.toml"), false),
                None => return Ok(Default::default()),
            }
        }
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Default::default());
        }
        Err(e) => return Err(e).with_context(|| format!("config file {}", path.display())),
    };
    rtcscope::settings::parse(&text).with_context(|| format!("config file {}", path.display()))
}
