#!/usr/bin/env bash
# Builds Sluice with its tests and runs every suite with ctest, then builds it
# again with AddressSanitizer + UndefinedBehaviorSanitizer and runs the suites
# once more under them. Exits non-zero when any test fails in either run.
#   --no-sanitize   only the first (RelWithDebInfo) run
#   --sanitize-only only the sanitizer run
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/deps.sh

plain=1
sanitized=1
for arg in "$@"; do
    case "$arg" in
    --no-sanitize) sanitized=0 ;;
    --sanitize-only) plain=0 ;;
    *)
        echo "usage: $0 [--no-sanitize | --sanitize-only]" >&2
        exit 2
        ;;
    esac
done

# The benchmark peers too: CTest runs a smoke run of the benchmark suite.
mapfile -t packages < <(sluice_without_other_node "${SLUICE_BUILD_PACKAGES[@]}" \
    "${SLUICE_TEST_PACKAGES[@]}" "${SLUICE_BENCH_PACKAGES[@]}")
sluice_install_packages "${packages[@]}"
sluice_npm_ci

status=0
if ((plain)); then
    echo "==> Configuring build-test/ (RelWithDebInfo, tests on)"
    cmake -S . -B build-test -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_BUILD_TESTS=ON
    echo "==> Building build-test/"
    cmake --build build-test
    echo "==> Running ctest"
    ctest --test-dir build-test --output-on-failure -j2 --timeout 300 || status=$?
fi

if ((sanitized)); then
    # Under the sanitizers the suites run slower; the browser and install
    # tests add nothing there (Chromium is not instrumented, install only
    # copies files), and the soak and benchmark runs measure, so they run in
    # the first pass only.
    echo "==> Configuring build-asan/ (Debug, -DSLUICE_SANITIZE=ON)"
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSLUICE_BUILD_TESTS=ON \
        -DSLUICE_SANITIZE=ON
    echo "==> Building build-asan/"
    cmake --build build-asan
    echo "==> Running ctest under ASan + UBSan"
    ASAN_OPTIONS=quarantine_size_mb=1:detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --test-dir build-asan --output-on-failure -j2 --timeout 600 \
        -LE 'browser|install|bench|soak' || status=$?
fi

if ((status == 0)); then
    echo "==> All tests passed"
else
    echo "==> Some tests failed (ctest exit status $status)" >&2
fi
exit "$status"
