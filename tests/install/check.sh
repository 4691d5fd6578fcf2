#!/usr/bin/env bash
# Installs a built Sluice into a temporary prefix, builds tests/install against
# it with find_package(Sluice) and runs the result.
#   bash tests/install/check.sh BUILD_DIR [CXX_COMPILER]
set -euo pipefail

if (($# < 1)); then
    echo "usage: $0 BUILD_DIR [CXX_COMPILER]" >&2
    exit 2
fi
build_dir=$1
compiler=${2:-}
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-install.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "==> Installing $build_dir into $work/prefix"
cmake --install "$build_dir" --prefix "$work/prefix"

configure=(cmake -S "$source_dir" -B "$work/build" -DCMAKE_BUILD_TYPE=Release
           "-DCMAKE_PREFIX_PATH=$work/prefix")
if command -v ninja >/dev/null 2>&1; then
    configure+=(-G Ninja)
fi
if [[ -n "$compiler" ]]; then
    configure+=("-DCMAKE_CXX_COMPILER=$compiler")
fi
echo "==> Configuring the consumer project"
"${configure[@]}"
echo "==> Building the consumer project"
cmake --build "$work/build" --parallel 2

# Make sure the consumer found the installed package, not a build tree.
sluice_dir=$(sed -n 's/^Sluice_DIR:PATH=//p' "$work/build/CMakeCache.txt")
if [[ "$sluice_dir" != "$work/prefix/"* ]]; then
    echo "error: Sluice was found in '$sluice_dir', not in the install prefix" >&2
    exit 1
fi

echo "==> Running the consumer"
"$work/build/sluice-install-check"
echo "==> The installed package works"
