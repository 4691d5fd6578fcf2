#!/usr/bin/env bash
# Builds Sluice (Release) and starts the server; arguments go to the server:
#   bash scripts/run.sh --port 9000
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/deps.sh

sluice_install_packages "${SLUICE_BUILD_PACKAGES[@]}"

echo "==> Configuring build/ (Release, tests off)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLUICE_BUILD_TESTS=OFF
echo "==> Building build/"
cmake --build build
# The window needs a display; a machine without one runs the same server
# headless (QCoreApplication, log on stdout).
args=("$@")
if [[ -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" && -z "${QT_QPA_PLATFORM:-}" ]] \
    && [[ " ${args[*]} " != *" --headless "* ]]; then
    echo "==> No display: adding --headless"
    args=(--headless "${args[@]}")
fi
echo "==> Starting build/app/sluice ${args[*]}"
exec build/app/sluice "${args[@]}"
