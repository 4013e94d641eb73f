//! `vendor/rtc` is rtc 0.21.1 as published plus `vendor/rtc.patch`, and `vendor/webrtc` is webrtc
//! 0.21.1 plus `vendor/webrtc.patch`, nothing else (`vendor/check.sh`). The pristine crates come
//! from cargo's download cache; without them the check is left to `.ci/run`
//! (which may download it), since tests send no traffic beyond loopback.

use std::path::{Path, PathBuf};
use std::process::Command;

fn cached_crate(file: &str) -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))?;
    let cache = std::fs::read_dir(home.join("registry/cache")).ok()?;
    cache
        .flatten()
        .map(|d| d.path().join(file))
        .find(|p| p.is_file())
}

#[test]
fn vendored_crates_are_the_published_crates_plus_their_patches() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if cached_crate("rtc-0.21.1.crate").is_none() || cached_crate("webrtc-0.21.1.crate").is_none() {
        eprintln!(
            "SKIPPED: rtc-0.21.1.crate or webrtc-0.21.1.crate is not in cargo's download cache (.ci/run checks them)"
        );
        return;
    }
    let out = Command::new("sh")
        .arg(root.join("vendor/check.sh"))
        .output()
        .expect("run vendor/check.sh");
    assert!(
        out.status.success(),
        "vendor/check.sh failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The patch stays small and reviewable: four hunks in four files (vendor/README.md lists them).
    let patch = std::fs::read_to_string(root.join("vendor/rtc.patch")).expect("vendor/rtc.patch");
    assert_eq!(patch.matches("\n+++ ").count(), 4, "files patched");
    assert_eq!(patch.matches("\n@@ ").count(), 4, "hunks");
    // webrtc: one constant, the driver → track channel (vendor/README.md).
    let patch =
        std::fs::read_to_string(root.join("vendor/webrtc.patch")).expect("vendor/webrtc.patch");
    assert_eq!(patch.matches("\n+++ ").count(), 1, "files patched");
    assert_eq!(patch.matches("\n@@ ").count(), 1, "hunks");
    assert!(patch.contains(
        "+pub(crate) const DRIVER_TO_TRACK_REMOTE_EVENT_CHANNEL_CAPACITY: usize = 4096;"
    ));
    // Both crates pinned to the same version.
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    assert!(
        manifest.contains("webrtc = \"=0.21.1\"")
            || manifest.contains("webrtc = { version = \"=0.21.1\"")
    );
    assert!(
        manifest.contains("rtc = \"=0.21.1\"")
            || manifest.contains("rtc = { version = \"=0.21.1\"")
    );
}
