//! The receive path (#12): a burst bigger than a small receive buffer is dropped by this host, and
//! the tool says so — in `host_drops` events and the `host-receive-drops` verdict — instead of
//! calling it network loss; with the default buffer the same stream loses nothing on loopback.

use std::process::Command;

use rtcscope::event::{Event, Stamped};

use crate::support::common::serve_binary;

const BIN: &str = env!("CARGO_BIN_EXE_rtcscope");

fn view(url: &str, recv_buffer: &str) -> (Vec<Stamped>, String) {
    let out = Command::new(BIN)
        .args([
            "--headless",
            "--bind",
            "127.0.0.1:0",
            "--no-probe",
            "--duration",
            "5s",
            "--recv-buffer",
            recv_buffer,
            "--report",
            "json",
            "--events",
        ])
        .arg(std::env::temp_dir().join(format!(
            "rtcscope-rx-{}-{recv_buffer}.ndjson",
            std::process::id()
        )))
        .arg(url)
        .output()
        .expect("viewer");
    let events_path = std::env::temp_dir().join(format!(
        "rtcscope-rx-{}-{recv_buffer}.ndjson",
        std::process::id()
    ));
    let text = std::fs::read_to_string(&events_path).expect("events");
    let _ = std::fs::remove_file(&events_path);
    let events = rtcscope::recording::parse(&text).expect("recording");
    (events, String::from_utf8_lossy(&out.stdout).into_owned())
}

fn host_drops(events: &[Stamped]) -> u64 {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Event::HostDrops { drops } => Some(*drops),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

fn lost_of(events: &[Stamped]) -> i64 {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Event::TrackStats { stats } => Some(stats.packets_lost),
            _ => None,
        })
        .next_back()
        .unwrap_or(0)
}

fn rules(report: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(report).expect("report");
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["id"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn a_burst_dropped_by_this_host_is_reported_as_such_never_as_network_loss() {
    // Unpaced, as an RTSP re-streamer sends: each frame (about 170 datagrams at 50 Mbit/s) at once.
    let (_serve, url) = serve_binary(&["--bitrate", "50M", "--burst"]);
    // A 4 KiB buffer cannot hold such a burst: this host drops, and says so.
    let (events, report) = view(&url, "4k");
    let drops = host_drops(&events);
    let lost = lost_of(&events);
    assert!(
        drops > 0,
        "the tiny buffer overflowed: {drops} drops, {lost} lost"
    );
    assert!(
        events.iter().any(|e| matches!(
            &e.event,
            Event::ReceiveBuffers {
                wanted_bytes: 4096,
                ..
            }
        )),
        "the buffer asked for is reported"
    );
    let ids = rules(&report);
    assert!(ids.contains(&"host-receive-drops".to_owned()), "{ids:?}");
    // The report carries the buffers and the drops of the attempt shown (the last one counted).
    let v: serde_json::Value = serde_json::from_str(&report).expect("report");
    let rp = &v["attempt"]["receive_path"];
    assert_eq!(rp["wanted_bytes"], 4096, "{rp}");
    assert!(rp["sockets"].as_u64().unwrap_or(0) >= 1, "{rp}");
    assert!(
        rp["host_drops"].as_u64().unwrap_or(0) > 0 && rp["host_drops"].as_u64() <= Some(drops),
        "{rp} vs {drops} in the events"
    );
    assert!(
        !ids.contains(&"packet-loss".to_owned()),
        "this host's drops are not the network's loss: {ids:?} ({drops} drops, {lost} lost)"
    );
    // The default buffer holds the same stream on loopback: whatever is lost, this host accounts
    // for it (and on an idle machine that is nothing).
    let (events, report) = view(&url, "8M");
    let (drops, lost) = (host_drops(&events), lost_of(&events));
    assert!(
        lost <= drops as i64 + 5,
        "loss on loopback not explained by this host's drops: {lost} lost, {drops} dropped"
    );
    assert!(!rules(&report).contains(&"packet-loss".to_owned()));
}
