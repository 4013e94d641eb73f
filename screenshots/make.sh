#!/bin/sh
# Render PNG screenshots of the real rtcscope binary running against `rtcscope serve` on 127.0.0.1:
#   connected.png      connected, with the bitrate chart
#   answer-sdp.png     the detail view of the answer SDP (summary and what it accepted of the offer)
#   restart-log.png    the restart log after a forced restart (`r`)
#   help.png           the help overlay
#   failed-checklist.png   a failing attempt's checklist (a NAT-lab recording, replayed)
#   first-screen-80x24.png the first screen at 80x24 with a failing verdict
# tmux provides the terminal; `capture-pane -e` gives the screen with its colours; ansi2png.py draws it.
#
# Needs: cargo, tmux, python3 with Pillow, the DejaVu fonts. Missing tools are installed with apt/pip
# when possible. Usage: screenshots/make.sh [COLS ROWS]   (default 160 48)
set -eu
cd "$(dirname "$0")/.."
OUT=screenshots
COLS=${1:-160}
ROWS=${2:-48}

need() { command -v "$1" >/dev/null 2>&1; }
need tmux || { apt-get install -y tmux >/dev/null 2>&1 || { echo "install tmux" >&2; exit 1; }; }
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ] \
  || apt-get install -y fonts-dejavu-core >/dev/null 2>&1 \
  || { echo "install fonts-dejavu-core" >&2; exit 1; }
python3 -c 'import PIL' 2>/dev/null \
  || pip install --quiet pillow 2>/dev/null \
  || pip install --quiet --break-system-packages pillow \
  || { echo "install Pillow (pip install pillow)" >&2; exit 1; }

cargo build --quiet
BIN=${CARGO_TARGET_DIR:-$PWD/target}/debug/rtcscope
SOCK=rtcscope-shots-$$
TMP=$(mktemp -d)
SERVE_PID=
cleanup() {
  tmux -L "$SOCK" kill-server 2>/dev/null || true
  [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

"$BIN" serve --listen 127.0.0.1:0 2>"$TMP/serve.log" >/dev/null &
SERVE_PID=$!
i=0
until grep -q 'ws://' "$TMP/serve.log" 2>/dev/null; do
  i=$((i + 1)); [ $i -lt 100 ] || { echo "serve did not start" >&2; cat "$TMP/serve.log" >&2; exit 1; }
  sleep 0.1
done
URL=$(grep -o 'ws://[^ ]*' "$TMP/serve.log" | head -n1 | sed 's/<any-path>/cam/')

t() { tmux -L "$SOCK" "$@"; }
t new-session -d -s shots -x "$COLS" -y "$ROWS" "TERM=xterm-256color '$BIN' --bind 127.0.0.1:0 '$URL'; sleep 30"
shot() {
  t capture-pane -e -p -t shots >"$TMP/$1.ansi"
  python3 "$OUT/ansi2png.py" "$TMP/$1.ansi" "$OUT/$1.png" --cols "$COLS" --rows "$ROWS"
  echo "wrote $OUT/$1.png"
}
wait_for() { # pattern, seconds
  i=0
  until t capture-pane -p -t shots | grep -q -- "$1"; do
    i=$((i + 1)); [ $i -lt $(($2 * 10)) ] || { echo "timed out waiting for: $1" >&2; t capture-pane -p -t shots >&2; exit 1; }
    sleep 0.1
  done
}

wait_for '★ SELECTED' 30
sleep 25 # let the bitrate chart fill a little
t send-keys -t shots 4
sleep 0.6
shot connected

# The answer's detail: select it in the signaling pane and press Enter.
t send-keys -t shots 1 g
n=0
until t capture-pane -p -t shots | grep -q '▶[^│┃]*answer'; do
  n=$((n + 1)); [ $n -lt 40 ] || { echo "answer not found" >&2; exit 1; }
  t send-keys -t shots j; sleep 0.1
done
t send-keys -t shots Enter
sleep 0.6
shot answer-sdp
t send-keys -t shots Escape
sleep 0.3
t send-keys -t shots End

t send-keys -t shots r
wait_for 'attempt 2' 20
wait_for '★ SELECTED' 20
sleep 3
t send-keys -t shots 5
sleep 0.6
shot restart-log

t send-keys -t shots '?'
sleep 0.6
shot help
t send-keys -t shots Escape
sleep 0.3
t send-keys -t shots q
sleep 1

# A failing attempt's checklist: the NAT lab's scenario 8 (the server offers only a private address),
# recorded, replayed at 64x; Enter on the first restart shows the attempt's pairs as they ended.
REC=tests/fixtures/diagnosis/natlab-failed-checklist.ndjson
t kill-session -t shots 2>/dev/null || true
t new-session -d -s shots -x "$COLS" -y "$ROWS" "TERM=xterm-256color '$BIN' replay --speed 64 '$REC'; sleep 30"
wait_for 'server offered only private' 30
t send-keys -t shots 5 g Enter
sleep 0.6
shot failed-checklist
t send-keys -t shots q
sleep 0.5

# The first screen at 80x24 answers the first question: the verdict is on its bottom line.
t kill-session -t shots 2>/dev/null || true
t new-session -d -s shots -x 80 -y 24 "TERM=xterm-256color '$BIN' replay --speed 64 '$REC'; sleep 30"
wait_for 'server offered only private' 30
sleep 0.3
t capture-pane -e -p -t shots >"$TMP/first-screen-80x24.ansi"
python3 "$OUT/ansi2png.py" "$TMP/first-screen-80x24.ansi" "$OUT/first-screen-80x24.png" --cols 80 --rows 24
echo "wrote $OUT/first-screen-80x24.png"
t send-keys -t shots q
sleep 0.5
