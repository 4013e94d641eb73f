//! End to end in a real pseudo-terminal: `rtcscope serve` on 127.0.0.1, and the real `rtcscope`
//! binary in a tmux pane (tmux provides the PTY and lets the test read the screen). The screen must
//! show a connected, selected candidate pair and a non-zero bitrate; after `q` the process exits and
//! the terminal is restored (alternate screen left, cursor shown, canonical mode and echo back on).
//!
//! Skipped (with a message) when tmux is not installed.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "rt"])
    }

    fn flag(&self, name: &str) -> String {
        self.run(&["display-message", "-p", "-t", "rt", &format!("#{{{name}}}")])
            .trim()
            .to_string()
    }

    /// Poll the screen until `pred` holds or `timeout` passes; returns the last screen.
    fn wait_for(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> (bool, String) {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if pred(&s) {
                return (true, s);
            }
            if start.elapsed() > timeout {
                return (false, s);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // Only the server on this test's own socket.
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `rtcscope serve` on an ephemeral port; returns it and a viewer URL.
fn start_serve(bin: &str) -> (Serve, String) {
    let mut child = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(i) = line.find("ws://") {
                let url: String = line[i..].split_whitespace().next().unwrap_or("").into();
                let _ = tx.send(url.replace("<any-path>", "cam"));
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("serve printed its URL");
    (Serve(child), url)
}

/// The bitrate shown after `video/VP8 ` in the tracks pane, in bit/s.
fn shown_bitrate(screen: &str) -> Option<f64> {
    for line in screen.lines() {
        let Some(i) = line.find("video/VP8 ") else {
            continue;
        };
        let mut it = line[i + "video/VP8 ".len()..].split_whitespace();
        let v: f64 = it.next()?.parse().ok()?;
        let mult = match it.next()? {
            "bit/s" => 1.0,
            "kbit/s" => 1e3,
            "Mbit/s" => 1e6,
            "Gbit/s" => 1e9,
            _ => return None,
        };
        return Some(v * mult);
    }
    None
}

/// A running viewer in a tmux pane against a running `serve`, waited until connected with media.
struct Session {
    tmux: Tmux,
    _serve: Serve,
    dir: std::path::PathBuf,
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn tmux_missing() -> bool {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("tmux is not installed: PTY test skipped");
        return true;
    }
    false
}

fn start_connected(name: &str, extra_args: &str) -> Session {
    let bin = env!("CARGO_BIN_EXE_rtcscope");
    let (serve, url) = start_serve(bin);
    let id = format!("rtcscope-pty-{name}-{}", std::process::id());
    let dir = std::env::temp_dir().join(&id);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let script = dir.join("run.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             '{bin}' --bind 127.0.0.1:0 {extra_args} '{url}'\n\
             echo \"RTCSCOPE_EXIT=$?\"\n\
             stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo \
             | tr '\\n' ' ' | sed 's/^/STTY: /'\n\
             echo\n\
             sleep 120\n"
        ),
    )
    .expect("script");
    let tmux = Tmux { socket: id };
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "rt",
        "-x",
        "132",
        "-y",
        "40",
        &format!("sh '{}'", script.display()),
    ]);
    let (ok, screen) = tmux.wait_for(Duration::from_secs(60), |s| {
        s.contains("★ SELECTED")
            && s.contains("✓ succeeded")
            && shown_bitrate(s).is_some_and(|b| b > 0.0)
    });
    assert!(ok, "no connected pair and bitrate on screen:\n{screen}");
    assert!(
        screen.contains("PC ✓connected") || screen.contains("PC ✓ connected"),
        "{screen}"
    );
    assert!(screen.contains("host 127.0.0.1:"), "{screen}");
    assert_eq!(
        tmux.flag("alternate_on"),
        "1",
        "TUI should use the alternate screen"
    );
    Session {
        tmux,
        _serve: serve,
        dir,
    }
}

/// After the viewer exited: the shell's report shows the exit code and restored terminal modes.
fn assert_restored(tmux: &Tmux, exit: &str) {
    let (ok, screen) = tmux.wait_for(Duration::from_secs(20), |s| s.contains("STTY:"));
    assert!(ok, "rtcscope did not exit:\n{screen}");
    assert!(
        screen.contains(&format!("RTCSCOPE_EXIT={exit}")),
        "exit code:\n{screen}"
    );
    assert!(
        screen.contains("STTY: icanon echo"),
        "terminal modes not restored:\n{screen}"
    );
    assert!(
        !screen.contains("★ SELECTED"),
        "TUI left on screen:\n{screen}"
    );
    assert_eq!(tmux.flag("alternate_on"), "0", "alternate screen not left");
    assert_eq!(tmux.flag("cursor_flag"), "1", "cursor not shown");
}

/// The pid of the viewer: the child of the pane's shell.
fn viewer_pid(tmux: &Tmux) -> Option<u32> {
    let sh = tmux.flag("pane_pid");
    let children = std::fs::read_to_string(format!("/proc/{sh}/task/{sh}/children")).ok()?;
    children.split_whitespace().next()?.parse().ok()
}

#[test]
fn real_binary_shows_connected_pair_and_bitrate_and_restores_the_terminal_after_q() {
    if tmux_missing() {
        return;
    }
    let s = start_connected("q", "");
    // The restart key is live too: a new attempt connects.
    s.tmux.run(&["send-keys", "-t", "rt", "r"]);
    let (ok, screen) = s.tmux.wait_for(Duration::from_secs(30), |t| {
        (t.contains("attempt 2") || t.contains("att 2")) && t.contains("★ SELECTED")
    });
    assert!(ok, "no second attempt after r:\n{screen}");
    s.tmux.run(&["send-keys", "-t", "rt", "q"]);
    assert_restored(&s.tmux, "0");
}

#[test]
fn real_binary_restores_the_terminal_on_sigterm() {
    if tmux_missing() {
        return;
    }
    let s = start_connected("term", "");
    let pid = viewer_pid(&s.tmux).expect("viewer pid");
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    // Media flowed before the signal: exit code 0.
    assert_restored(&s.tmux, "0");
}

#[test]
fn real_binary_exits_and_restores_the_terminal_when_the_session_ends() {
    if tmux_missing() {
        return;
    }
    let s = start_connected("end", "--duration 6s");
    assert_restored(&s.tmux, "0");
}

#[test]
fn bitrate_parsing() {
    assert_eq!(
        shown_bitrate("│video video/VP8 1.87 Mbit/s mid 0"),
        Some(1.87e6)
    );
    assert_eq!(shown_bitrate("│video video/VP8 0 bit/s mid 0"), Some(0.0));
    assert_eq!(shown_bitrate("nothing"), None);
}
