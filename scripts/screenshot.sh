#!/usr/bin/env bash
# The README's screenshot: builds sluice, runs its window under Xvfb with
# scripts/traffic.py feeding it, and grabs the screen into
# docs/monitor-window.png (Traffic, a JSON message selected),
# docs/monitor-connections.png and docs/monitor-stats.png. Needs Xvfb, xwd,
# xdotool and ImageMagick (installed here with apt when missing).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/deps.sh
sluice_install_packages "${SLUICE_BUILD_PACKAGES[@]}" xvfb xauth x11-apps xdotool imagemagick \
    python3 python3-websockets

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLUICE_BUILD_TESTS=OFF >/dev/null
cmake --build build
mkdir -p docs
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# A settings-free home: the window opens at its default size.
export XDG_CONFIG_HOME="$out/config"
export SLUICE_SHOT_DIR="$out"
xvfb-run -a -s "-screen 0 1100x720x24" bash -c '
    set -euo pipefail
    build/app/sluice --port 0 --bind 127.0.0.1 >"$SLUICE_SHOT_DIR/stdout" 2>&1 &
    server=$!
    for _ in $(seq 100); do
        grep -q "Listening on" "$SLUICE_SHOT_DIR/stdout" && break
        sleep 0.1
    done
    address=$(sed -n "s|^Listening on http://\([^/]*\)/.*|\1|p" "$SLUICE_SHOT_DIR/stdout" | head -n1)
    /usr/bin/python3 scripts/traffic.py "$address" 40 &
    traffic=$!
    sleep 25
    # Filter on the JSON messages and pick one: the detail pane shows its tree.
    xdotool mousemove 170 95 click 1
    xdotool type --delay 40 reading
    sleep 1
    xdotool mousemove 600 205 click 1
    sleep 1
    xwd -root -silent >"$SLUICE_SHOT_DIR/traffic.xwd"
    xdotool key alt+c; sleep 1.5
    xwd -root -silent >"$SLUICE_SHOT_DIR/connections.xwd"
    xdotool key alt+s; sleep 1.5
    xwd -root -silent >"$SLUICE_SHOT_DIR/stats.xwd"
    wait "$traffic" || true
    kill -TERM "$server"
    wait "$server" || true
'
convert "$out/traffic.xwd" docs/monitor-window.png
convert "$out/connections.xwd" docs/monitor-connections.png
convert "$out/stats.xwd" docs/monitor-stats.png
echo "==> docs/monitor-window.png docs/monitor-connections.png docs/monitor-stats.png"
