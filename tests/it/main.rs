//! The integration tests, as one test binary (one link of webrtc-rs, rustls, hyper and ratatui instead
//! of one per file). Each module is one area; `support` is what they share. The NAT lab, which needs
//! root and network namespaces, is the other binary (`tests/natlab/`).

mod support;

mod architecture;
mod cli_binary;
mod config_layers;
mod diagnosis;
mod diagnosis_live;
mod engine_loopback;
mod engine_tls;
mod engine_whep;
mod exporter;
mod faults;
mod fuzz;
mod probe;
mod proto_fixtures;
mod proto_robustness;
mod proto_whep_fixtures;
mod proto_whep_robustness;
mod receive_path;
mod replay;
mod report;
mod security;
mod serve_protocol;
mod serve_whep;
mod tui_panes;
mod tui_pty;
mod tui_replay;
mod tui_snapshots;
mod turn_tcp;
mod vendor;
