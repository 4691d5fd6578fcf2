#!/usr/bin/env bash
# The benchmark suite in one command: the sluice app side by side with its
# QtWebSockets engine, the plain Qt floor, Node ws, uWebSockets.js,
# libwebsockets and nginx (tests/bench/run_bench.py). Installs what is
# missing (Debian packages, and the npm packages of tests/bench/node), builds
# the benchmark targets (Release) in build-bench/, then runs the suite;
# arguments go to run_bench.py:
#   bash scripts/bench.sh                 # everything, ~8 minutes
#   bash scripts/bench.sh --quick         # a smoke run, about a minute
#   bash scripts/bench.sh --only ws --servers sluice,uws
#   bash scripts/bench.sh --only compression
# SLUICE_BENCH_BUILD_DIR changes the build directory; CMAKE_BUILD_PARALLEL_LEVEL
# the build's parallelism.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/deps.sh

build_dir="${SLUICE_BENCH_BUILD_DIR:-build-bench}"

mapfile -t packages < <(sluice_without_other_node "${SLUICE_BUILD_PACKAGES[@]}" \
    "${SLUICE_BENCH_PACKAGES[@]}")
sluice_install_packages "${packages[@]}"

echo "==> Configuring $build_dir/ (Release)"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLUICE_BUILD_TESTS=ON
echo "==> Building the benchmark targets in $build_dir/"
cmake --build "$build_dir" --target sluice-bench-suite

sluice_npm_ci

echo "==> tests/bench/run_bench.py --build-dir $build_dir $*"
exec /usr/bin/python3 tests/bench/run_bench.py --build-dir "$build_dir" "$@"
