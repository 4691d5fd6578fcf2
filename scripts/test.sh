#!/usr/bin/env bash
# Builds Sluice with its tests and runs every suite with ctest; exits with
# ctest's status.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/deps.sh

sluice_install_packages "${SLUICE_BUILD_PACKAGES[@]}" "${SLUICE_TEST_PACKAGES[@]}"

echo "==> Configuring build-test/ (RelWithDebInfo, tests on)"
cmake -S . -B build-test -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_BUILD_TESTS=ON
echo "==> Building build-test/"
cmake --build build-test
echo "==> Running ctest"
status=0
ctest --test-dir build-test --output-on-failure -j2 --timeout 300 || status=$?
if ((status == 0)); then
    echo "==> All tests passed"
else
    echo "==> Some tests failed (ctest exit status $status)" >&2
fi
exit "$status"
