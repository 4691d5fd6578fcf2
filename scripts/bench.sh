#!/usr/bin/env bash
# The benchmark suite in one command: Sluice side by side with the plain Qt
# floor, Node ws, libwebsockets and nginx (tests/bench/run_bench.py). Installs
# what is missing, builds the benchmark targets (Release) in build-bench/,
# then runs the suite; arguments go to run_bench.py:
#   bash scripts/bench.sh                 # everything, ~6 minutes
#   bash scripts/bench.sh --quick         # a smoke run, under a minute
#   bash scripts/bench.sh --only ws --servers sluice,floor
# SLUICE_BENCH_BUILD_DIR changes the build directory; CMAKE_BUILD_PARALLEL_LEVEL
# the build's parallelism.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/deps.sh

build_dir="${SLUICE_BENCH_BUILD_DIR:-build-bench}"

# A Node.js from elsewhere (NodeSource) ships its own npm and conflicts with
# Debian's npm package: ask apt only for what has no command yet.
packages=()
for package in "${SLUICE_BUILD_PACKAGES[@]}" "${SLUICE_BENCH_PACKAGES[@]}"; do
    case "$package" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
    esac
    packages+=("$package")
done
sluice_install_packages "${packages[@]}"

echo "==> Configuring $build_dir/ (Release)"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLUICE_BUILD_TESTS=ON
echo "==> Building the benchmark targets in $build_dir/"
cmake --build "$build_dir" --target sluice-bench-suite

if [[ ! -d tests/bench/node/node_modules/ws ]]; then
    echo "==> npm ci in tests/bench/node (the ws package)"
    (cd tests/bench/node && npm ci --no-audit --no-fund)
fi

echo "==> tests/bench/run_bench.py --build-dir $build_dir $*"
exec /usr/bin/python3 tests/bench/run_bench.py --build-dir "$build_dir" "$@"
