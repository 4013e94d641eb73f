//! Command-line interface (clap derive). Parsing only: turning these into engine configuration
//! happens in [`crate::config`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Parse a human duration such as `2s`, `500ms`, `1m 30s` (humantime syntax).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d =
        humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 500ms, 2s, 1m30s)"))?;
    if d > MAX_DURATION {
        return Err(format!(
            "{s} is longer than the longest duration accepted, {}",
            humantime::format_duration(MAX_DURATION)
        ));
    }
    Ok(d)
}

/// The longest duration any option accepts: beyond it a deadline would overflow the clock, and no
/// session, pause or timeout needs more.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

const AFTER_HELP: &str = "\
EXAMPLES:
  rtcscope demo                              # a built-in sender and the viewer, no server needed
  rtcscope ws://host:8889/cam/ws             # watch a MediaMTX (v0.21-v0.22) viewer negotiation
  rtcscope http://host:8889/cam/             # from the page URL (WHEP if the server has it)
  rtcscope http://host:8889/cam/whep         # WHEP (MediaMTX >= 0.23, Janus, GStreamer, Cloudflare...)
  rtcscope --headless --duration 30s URL     # NDJSON events on stdout for 30 s
  rtcscope serve --listen 0.0.0.0:8889       # a test sender for another host's viewer (like iperf)
  rtcscope probe turn:user:pass@host:3478    # test STUN/TURN servers on their own (also TCP/TLS)

HEADLESS MODE:
  When stdout is not a terminal, or with --headless, every engine event is printed as one JSON
  object per line (NDJSON). Logs go to the file given by --log-file, never to the terminal.

REPORT:
  --report text|json prints a report when the session ends (also on Ctrl-C): the verdicts first,
  then the phase timeline, candidates by type, the selected pair, per-track stats and restarts.
  With --report, stdout carries only the report (no NDJSON events); --events FILE saves the events.
  On a terminal without --headless the TUI runs first and the report follows when it exits.

EXIT CODES:
  0  media flowed
  1  runtime error (could not start)
  2  usage error
  3  signaling failed (never reached the answer)
  4  ICE failed (answer received, ICE never connected)
  5  DTLS failed (ICE connected, the peer connection never did)
  6  connected but no media arrived
  7  probe: at least one ICE server failed (0 when every one worked)";

/// rtcscope: watch a WebRTC viewer negotiation step by step, and see where and why it breaks.
#[derive(Debug, Parser)]
#[command(name = "rtcscope", version, about, long_about = None, after_help = AFTER_HELP)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Cli {
    /// What to run; without a subcommand, the viewer runs against URL.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Viewer options (used when no subcommand is given).
    #[command(flatten)]
    pub view: ViewArgs,

    /// Write logs (tracing, including webrtc-rs) to this file. Never written to the terminal.
    #[arg(long, global = true, value_name = "FILE", env = "RTCSCOPE_LOG_FILE")]
    pub log_file: Option<PathBuf>,

    /// Log filter for --log-file (tracing EnvFilter syntax, e.g. `info,rtcscope=debug`).
    #[arg(long, global = true, default_value = "info", value_name = "FILTER")]
    pub log_level: String,

    /// Configuration file (default: $XDG_CONFIG_HOME/rtcscope/config.toml, if it exists). Its values
    /// are defaults: RTCSCOPE_<OPTION> environment variables override them, the command line both.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print a commented configuration file with every section, and exit.
    #[arg(long)]
    pub print_config_template: bool,

    /// The configuration file's other sections (theme, keys, exporter modules), set by `main`.
    #[arg(skip)]
    pub settings: crate::settings::Settings,
}

/// Parse `args` with the layers below the command line: `settings` (the file), then the
/// environment (`env(name)`), each as option defaults, so that the command line wins and every
/// value goes through the option's own parser.
pub fn parse_layered(
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
    settings: &crate::settings::Settings,
) -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let mut cmd = Cli::command();
    for (section, sub) in crate::settings::COMMAND_SECTIONS {
        let apply = |c: clap::Command| -> Result<clap::Command, clap::Error> {
            let mut c = c;
            let file = settings.options.get(*section);
            let longs: Vec<(String, String)> = c
                .get_arguments()
                .filter_map(|a| Some((a.get_id().to_string(), a.get_long()?.to_owned())))
                .collect();
            if let Some(file) = file {
                for key in file.keys() {
                    if !longs.iter().any(|(_, l)| l == key) {
                        return Err(clap::Error::raw(
                            clap::error::ErrorKind::UnknownArgument,
                            format!("config file [{section}]: unknown option `{key}`\n"),
                        ));
                    }
                }
            }
            for (id, long) in longs {
                if matches!(
                    long.as_str(),
                    "config" | "help" | "version" | "print-config-template"
                ) {
                    continue;
                }
                let from_env = env(&crate::settings::env_name(&long))
                    .map(|v| v.split(',').map(str::to_owned).collect::<Vec<_>>());
                let from_file = file.and_then(|f| f.get(&long)).map(|v| v.as_args());
                if let Some(values) = from_env.or(from_file) {
                    // Defaults live as long as the parser, which lives as long as the process.
                    let values: Vec<&'static str> = values
                        .into_iter()
                        .map(|v| &*Box::leak(v.into_boxed_str()))
                        .collect();
                    c = c.mut_arg(id, |a| a.default_values(values));
                }
            }
            Ok(c)
        };
        cmd = match sub {
            None => apply(cmd)?,
            Some(name) => {
                let Some(sc) = cmd.find_subcommand(name).cloned() else {
                    continue;
                };
                let sc = apply(sc)?;
                cmd.mut_subcommand(*name, |_| sc)
            }
        };
    }
    let matches = cmd.try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

/// Subcommands.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per run; boxing would only complicate the derive
pub enum Command {
    /// Run a built-in WebRTC sender speaking the same protocol, with a synthetic video track.
    Serve(ServeArgs),
    /// Run `serve` and the viewer against it in one process: see the tool work with no server of your own.
    Demo(DemoArgs),
    /// Test STUN/TURN servers on their own: STUN binding (mapped address, RTT) and TURN allocate over
    /// UDP, TCP or TLS (authentication, relayed address, lifetime). Exit 7 if any failed.
    Probe(ProbeArgs),
    /// Play a recording (`--events FILE`) back in the TUI, with pause (p), step (.) and speed (+ -);
    /// or, with `--report`, diagnose it again with this version's rules.
    Replay(ReplayArgs),
    /// Make a recording safe to share: secrets masked, every IP address replaced consistently and
    /// within its class (private stays private), so that its diagnosis reads the same.
    Redact(RedactArgs),
    /// Print a shell completion script: `rtcscope completions bash > /etc/bash_completion.d/rtcscope`.
    Completions(CompletionsArgs),
    /// Print the manual page (roff): `rtcscope man | man -l -`.
    Man,
    /// A Prometheus exporter (the multi-target pattern of blackbox_exporter): each scrape of
    /// `/probe?target=<URL>` runs one bounded viewer session and answers with its metrics.
    Exporter(ExporterArgs),
}

/// Options of `exporter`.
#[derive(Debug, Args, Clone)]
pub struct ExporterArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9115", value_name = "ADDR")]
    pub listen: SocketAddr,

    /// Allow targets starting with this URL prefix (repeatable), e.g. `ws://media.internal:8889/`.
    /// Without one (or --allow-any-target) every probe is refused: the exporter must not be a way to
    /// make arbitrary connections.
    #[arg(long = "allow-target", value_name = "PREFIX")]
    pub allow: Vec<String>,

    /// Allow any target (only where the exporter's port is not reachable by untrusted clients).
    #[arg(long)]
    pub allow_any_target: bool,

    /// Probes running at once; more get `503`.
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrent: u32,

    /// Probe length when the scrape gives no `duration=` (always ended before Prometheus's scrape
    /// timeout).
    #[arg(long, value_parser = parse_duration, default_value = "5s", value_name = "DURATION")]
    pub probe_duration: Duration,

    /// Accept self-signed certificates on the targets (signaling and TURN over TLS).
    #[arg(long)]
    pub insecure: bool,

    /// Trust the CA certificates in this PEM file too (private CAs), for the targets.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,

    /// Do not probe the targets' ICE servers alongside the session.
    #[arg(long)]
    pub no_probe: bool,

    /// Local address(es) the probes gather host candidates on (repeatable), as the viewer's --bind.
    #[arg(long = "bind", value_name = "ADDR")]
    pub bind: Vec<SocketAddr>,
}

/// Options of `replay`.
#[derive(Debug, Args, Clone)]
pub struct ReplayArgs {
    /// The recording (NDJSON, as written by `--events` or headless mode).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Print the report of the recording (diagnosed with this version's rules) instead of playing it.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub report: Option<ReportFormat>,

    /// Playback speed: 1 as recorded, 4 four times faster, 0.5 half as fast (1/8 to 64).
    #[arg(long, default_value_t = 1.0, value_name = "X")]
    pub speed: f64,

    /// Start paused (p resumes, . steps one event).
    #[arg(long)]
    pub paused: bool,

    /// No colours (also when NO_COLOR is set).
    #[arg(long)]
    pub no_color: bool,
}

/// Options of `redact`.
#[derive(Debug, Args, Clone)]
pub struct RedactArgs {
    /// The recording to redact.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Write the redacted recording here (default: stdout).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Options of `completions`.
#[derive(Debug, Args, Clone)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Options of the viewer.
#[derive(Debug, Args, Clone)]
pub struct ViewArgs {
    /// Signaling URL: `ws://host:8889/cam/ws`, `wss://…`, or the page URL `http://host:8889/cam/`.
    #[arg(value_name = "URL", required_unless_present = "print_config_template")]
    pub url: Option<String>,

    #[command(flatten)]
    pub viewer: ViewerOptions,
}

/// Viewer options shared by the viewer and `demo`.
#[derive(Debug, Args, Clone)]
pub struct ViewerOptions {
    /// Print NDJSON events on stdout instead of the TUI (automatic when stdout is not a terminal).
    #[arg(long)]
    pub headless: bool,

    /// Do not probe the session's ICE servers (STUN binding, TURN allocate over UDP/TCP/TLS) alongside
    /// the negotiation.
    #[arg(long)]
    pub no_probe: bool,

    /// Show secrets as received: TURN credentials in server messages, URL passwords and query tokens,
    /// authentication headers. By default they are masked (`***`) in the TUI, the events and the report,
    /// so the output can be pasted into a ticket.
    #[arg(long)]
    pub show_secrets: bool,

    /// Print a report when the session ends (also on Ctrl-C): verdicts, timeline, candidates, pair,
    /// tracks, restarts. stdout then carries only the report; save the events with --events.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub report: Option<ReportFormat>,

    /// Also write every event as NDJSON to FILE (works with the TUI, headless mode and --report).
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,

    /// No colours in the TUI (also when the NO_COLOR environment variable is set).
    #[arg(long)]
    pub no_color: bool,

    /// Signaling protocol. `auto`: ws:// and wss:// are the legacy WebSocket protocol, a URL ending in
    /// /whep is WHEP, and for a page URL (http://host:8889/cam/) WHEP is used if the server answers
    /// OPTIONS on /cam/whep, the WebSocket protocol otherwise.
    #[arg(long, value_enum, default_value_t = ProtocolChoice::Auto)]
    pub protocol: ProtocolChoice,

    /// WHEP: send `Authorization: Bearer TOKEN`.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "RTCSCOPE_BEARER",
        hide_env_values = true
    )]
    pub bearer: Option<String>,

    /// Stop after this long (e.g. `30s`, `2m`). Default: run until Ctrl-C.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub duration: Option<Duration>,

    /// Pause between a failed attempt and the next one.
    #[arg(long, value_parser = parse_duration, default_value = "2s", value_name = "DURATION")]
    pub restart_pause: Duration,

    /// Restart if no connection is established this long after an attempt starts.
    #[arg(long, value_parser = parse_duration, default_value = "10s", value_name = "DURATION")]
    pub handshake_timeout: Duration,

    /// Stop after this many restarts. Default: unlimited, as the browser viewer does.
    #[arg(long, value_name = "N")]
    pub max_restarts: Option<u32>,

    /// Extra ICE server (repeatable): `stun:host:port`, `turn:host:port`, or `turn:user:pass@host:port`.
    #[arg(long = "ice-server", value_name = "URL")]
    pub ice_servers: Vec<String>,

    /// Username for --ice-server TURN URLs that carry none.
    #[arg(long, value_name = "USER")]
    pub ice_username: Option<String>,

    /// Credential for --ice-server TURN URLs that carry none.
    #[arg(long, value_name = "PASS")]
    pub ice_credential: Option<String>,

    /// ICE transport policy: `all`, or `relay` to use TURN relays only.
    #[arg(long, value_enum, default_value_t = IceTransportPolicy::All)]
    pub ice_transport_policy: IceTransportPolicy,

    /// Also offer a recvonly audio transceiver.
    #[arg(long)]
    pub audio: bool,

    /// Extra HTTP header on the signaling request (repeatable), `Name: value`.
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,

    /// Accept a TLS certificate that does not verify (self-signed), for the signaling server and for
    /// `turns:` TURN servers. Verification is on by default.
    #[arg(long)]
    pub insecure: bool,

    /// Trust the CA certificates in this PEM file as well as the usual roots: a private CA for the
    /// signaling server, WHEP and `turns:` servers, with verification still on (no --insecure).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,

    /// UDP receive buffer asked for each socket (suffixes k and M, binary). The default holds a
    /// burst of a 100 Mbit/s stream; without privileges the kernel caps it at net.core.rmem_max,
    /// and what this host then drops is reported apart from network loss.
    #[arg(long, default_value = RECV_BUFFER_DEFAULT, value_parser = parse_size, value_name = "BYTES")]
    pub recv_buffer: u64,

    /// Local address(es) for ICE host candidates (repeatable), e.g. `0.0.0.0:0` or `192.168.1.5:40000`; a
    /// wildcard means every non-loopback, non-link-local interface of its family. Default, as a browser:
    /// `0.0.0.0:0` and `[::]:0`, plus `127.0.0.1:0` and `[::1]:0` when the server is on loopback.
    #[arg(long = "bind", value_name = "ADDR")]
    pub bind: Vec<SocketAddr>,

    /// ICE timeouts: `DISCONNECTED,FAILED,KEEPALIVE` (e.g. `2s,5s,1s`). Default: webrtc-rs's `5s,25s,2s`.
    #[arg(long, value_name = "D,F,K")]
    pub ice_timeouts: Option<String>,
}

/// Which signaling protocol to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProtocolChoice {
    /// Decide from the URL (and, for a page URL, by asking the server).
    Auto,
    /// The legacy MediaMTX / rtsp-simple-server WebSocket protocol.
    Ws,
    /// WHEP (HTTP).
    Whep,
}

pub use crate::report::ReportFormat;

/// `--report text|json`: the report's plain enum, given clap's parsing here.
impl ValueEnum for ReportFormat {
    fn value_variants<'a>() -> &'a [Self] {
        &[ReportFormat::Text, ReportFormat::Json]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(match self {
            ReportFormat::Text => clap::builder::PossibleValue::new("text")
                .help("Plain text: the verdict first, then the details"),
            ReportFormat::Json => {
                clap::builder::PossibleValue::new("json").help("JSON (schema/report.schema.json)")
            }
        })
    }
}

/// `all` or `relay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IceTransportPolicy {
    /// Use every candidate type.
    All,
    /// Use TURN relay candidates only.
    Relay,
}

pub use crate::webrtc_adapter::sender::VideoCodec;

/// `--codec vp8|h264`: the adapter's plain enum, given clap's parsing here so that no layer below the
/// command line depends on clap.
impl ValueEnum for VideoCodec {
    fn value_variants<'a>() -> &'a [Self] {
        &[VideoCodec::Vp8, VideoCodec::H264]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(match self {
            VideoCodec::Vp8 => clap::builder::PossibleValue::new("vp8").help("VP8 (RFC 7741)"),
            VideoCodec::H264 => clap::builder::PossibleValue::new("h264")
                .help("H.264 constrained baseline, packetization mode 1"),
        })
    }
}

/// Options of the built-in sender.
#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on for signaling (WebSocket at `/<path>/ws`).
    #[arg(long, default_value = "127.0.0.1:8889", value_name = "ADDR")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub sender: SenderOptions,

    #[command(flatten)]
    pub limits: ServeLimitArgs,
}

/// What one client may make `serve` hold. The defaults are safe on a public port and never reached
/// by a real viewer.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Limits (serve on a public port)")]
pub struct ServeLimitArgs {
    /// Open TCP connections at once; more get `503 Service Unavailable`.
    #[arg(long, default_value_t = 256, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Live sessions at once (WebSocket connections, WHEP sessions); more get `503` (WHEP) or close
    /// code 1013 (WebSocket).
    #[arg(long, default_value_t = 64, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_sessions: u32,

    /// Time to read a request's head; a slower client is disconnected (slowloris).
    #[arg(long, value_parser = parse_duration, default_value = "10s", value_name = "DURATION")]
    pub header_timeout: Duration,

    /// Time to read a request's body; a slower client gets `408`.
    #[arg(long, value_parser = parse_duration, default_value = "10s", value_name = "DURATION")]
    pub body_timeout: Duration,

    /// Remote candidates taken per session; more are ignored (and logged).
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub max_candidates: u32,

    /// ICE restarts per WHEP session; more get `429 Too Many Requests`.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub max_ice_restarts: u32,
}

impl From<ServeLimitArgs> for crate::serve::ServeLimits {
    fn from(a: ServeLimitArgs) -> Self {
        crate::serve::ServeLimits {
            max_connections: a.max_connections as usize,
            max_sessions: a.max_sessions as usize,
            header_timeout: a.header_timeout,
            body_timeout: a.body_timeout,
            max_candidates: a.max_candidates as usize,
            max_ice_restarts: a.max_ice_restarts,
        }
    }
}

/// Sender options shared by `serve` and `demo`.
#[derive(Debug, Args, Clone)]
pub struct SenderOptions {
    /// Video codec of the synthetic track.
    #[arg(long, value_enum, default_value_t = VideoCodec::Vp8)]
    pub codec: VideoCodec,

    /// Target video bitrate in bits per second (suffixes k and M accepted: 2M, 500k).
    #[arg(long, default_value = "2M", value_parser = parse_bitrate, value_name = "BPS")]
    pub bitrate: u64,

    /// Frames per second of the synthetic track.
    #[arg(long, default_value_t = 30, value_name = "FPS")]
    pub fps: u32,

    /// Interval between key frames.
    #[arg(long, value_parser = parse_duration, default_value = "2s", value_name = "DURATION")]
    pub keyframe_interval: Duration,

    /// ICE server the sender uses and announces to viewers (repeatable), as for the viewer's --ice-server.
    #[arg(
        id = "serve_ice_servers",
        long = "serve-ice-server",
        value_name = "URL"
    )]
    pub ice_servers: Vec<String>,

    /// Local address(es) for the sender's ICE host candidates (repeatable). Default: the listen address's IP, port 0.
    #[arg(id = "serve_bind", long = "serve-bind", value_name = "ADDR")]
    pub bind: Vec<SocketAddr>,

    /// Do not negotiate RTX: retransmissions go on the media SSRC.
    #[arg(long)]
    pub no_rtx: bool,

    /// Send each frame's packets back to back, as RTSP re-streamers and some encoders do. By default
    /// they are paced like a browser's: spread over the first 40 % of the frame interval (2.5x the bitrate).
    #[arg(long)]
    pub burst: bool,
}

impl From<SenderOptions> for crate::serve::ServeOptions {
    fn from(o: SenderOptions) -> Self {
        crate::serve::ServeOptions {
            codec: o.codec,
            bitrate: o.bitrate,
            fps: o.fps,
            keyframe_interval: o.keyframe_interval,
            ice_servers: o.ice_servers,
            bind: o.bind,
            no_rtx: o.no_rtx,
            pacing: if o.burst {
                crate::serve::Pacing::Burst
            } else {
                crate::serve::Pacing::Paced
            },
            limits: crate::serve::ServeLimits::default(),
        }
    }
}

/// Options of `demo`.
#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    #[command(flatten)]
    pub viewer: ViewerOptions,

    #[command(flatten)]
    pub sender: SenderOptions,
}

/// Options of `probe`.
#[derive(Debug, Args, Clone)]
pub struct ProbeArgs {
    /// ICE servers to probe: `stun:host[:port]`, `stuns:host`, `turn:user:pass@host:port`,
    /// `turn:host:port?transport=tcp`, `turns:host:port` (TLS), or MediaMTX's `turn:user:pass:host:port`.
    #[arg(value_name = "URL", required = true, num_args = 1..)]
    pub servers: Vec<String>,

    /// Username for TURN URLs that carry none.
    #[arg(long, value_name = "USER")]
    pub ice_username: Option<String>,

    /// Credential for TURN URLs that carry none.
    #[arg(long, value_name = "PASS")]
    pub ice_credential: Option<String>,

    /// Accept a TLS certificate that does not verify (turns:, stuns:).
    #[arg(long)]
    pub insecure: bool,

    /// Trust the CA certificates in this PEM file too (private CAs for turns:, stuns:).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,

    /// Bound on each step (DNS, connect, TLS handshake, each STUN transaction with its UDP
    /// retransmissions at 500 ms, 1 s, 2 s).
    #[arg(long, value_parser = parse_duration, default_value = "3s", value_name = "DURATION")]
    pub timeout: Duration,

    /// Also probe over TCP the stun:/turn: URLs that name no transport.
    #[arg(long)]
    pub all_transports: bool,

    /// Print a JSON array of results instead of one line per result.
    #[arg(long)]
    pub json: bool,
}

/// The default `--recv-buffer`, as written in `--help`: the adapter's
/// [`WANTED_RCVBUF`](crate::webrtc_adapter::recv_buffer::WANTED_RCVBUF) (a test keeps them equal).
pub const RECV_BUFFER_DEFAULT: &str = "8M";

/// A size in bytes: `8M`, `512k`, `65536` (k and M are 1024 and 1024²), 4 KiB to 1 GiB.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1024u64),
        Some('m' | 'M') => (&t[..t.len() - 1], 1024 * 1024),
        _ => (t, 1),
    };
    let v: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a size (examples: 8M, 512k, 65536)"))?;
    let bytes = v.saturating_mul(mult);
    if !(4096..=1 << 30).contains(&bytes) {
        return Err(format!("size `{s}` out of range (4k..1024M)"));
    }
    Ok(bytes)
}

/// Parse a bitrate: `2000000`, `2M`, `500k`, `1.5M`.
pub fn parse_bitrate(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1_000.0),
        Some('m' | 'M') => (&t[..t.len() - 1], 1_000_000.0),
        _ => (t, 1.0),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a bitrate (examples: 2M, 500k, 1500000)"))?;
    if !(v.is_finite() && v > 0.0) {
        return Err(format!("bitrate must be positive, got `{s}`"));
    }
    let bps = v * mult;
    if !(10_000.0..=1_000_000_000.0).contains(&bps) {
        return Err(format!("bitrate `{s}` out of range (10k..1000M)"));
    }
    Ok(bps as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_recv_buffer_default_is_the_adapters() {
        assert_eq!(
            parse_size(RECV_BUFFER_DEFAULT),
            Ok(crate::webrtc_adapter::recv_buffer::WANTED_RCVBUF as u64)
        );
    }

    #[test]
    fn bitrates() {
        assert_eq!(parse_bitrate("2M"), Ok(2_000_000));
        assert_eq!(parse_bitrate("500k"), Ok(500_000));
        assert_eq!(parse_bitrate("1.5M"), Ok(1_500_000));
        assert_eq!(parse_bitrate("64000"), Ok(64_000));
        assert!(parse_bitrate("fast").is_err());
        assert!(parse_bitrate("-1M").is_err());
        assert!(parse_bitrate("1").is_err());
    }

    #[test]
    fn viewer_parses_humantime_and_repeatable_options() {
        let cli = Cli::try_parse_from([
            "rtcscope",
            "--duration",
            "1m30s",
            "--ice-server",
            "stun:127.0.0.1:3478",
            "--ice-server",
            "turn:u:p@127.0.0.1:3478",
            "-H",
            "X-A: b",
            "ws://127.0.0.1:8889/cam/ws",
        ])
        .unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.view.url.as_deref(), Some("ws://127.0.0.1:8889/cam/ws"));
        assert_eq!(cli.view.viewer.duration, Some(Duration::from_secs(90)));
        assert_eq!(cli.view.viewer.ice_servers.len(), 2);
        assert_eq!(cli.view.viewer.restart_pause, Duration::from_secs(2));
    }

    #[test]
    fn subcommands_do_not_need_a_url() {
        let cli = Cli::try_parse_from(["rtcscope", "serve", "--listen", "127.0.0.1:0"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Serve(_))));
        let cli = Cli::try_parse_from(["rtcscope", "demo", "--duration", "5s"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Demo(_))));
        assert!(Cli::try_parse_from(["rtcscope"]).is_err());
        assert!(Cli::try_parse_from(["rtcscope", "--duration", "soon", "ws://x/ws"]).is_err());
    }

    #[test]
    fn absurd_durations_are_usage_errors_not_panics() {
        for flag in ["--duration", "--restart-pause", "--handshake-timeout"] {
            let err = Cli::try_parse_from(["rtcscope", flag, "99999999999d", "ws://x/ws"])
                .expect_err(flag)
                .to_string();
            assert!(err.contains("longest duration accepted"), "{flag}: {err}");
        }
        assert!(Cli::try_parse_from(["rtcscope", "--duration", "365days", "ws://x/ws"]).is_ok());
        assert!(parse_duration("366days").is_err());
    }
}
