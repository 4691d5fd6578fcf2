# shellcheck shell=bash
# Shared by scripts/run.sh and scripts/test.sh (sourced, not run): installs
# the Debian packages that are missing, so that a fresh Debian 12 machine
# needs nothing but these scripts.

# shellcheck disable=SC2034 # used by the scripts that source this file
SLUICE_BUILD_PACKAGES=(qt6-base-dev qt6-websockets-dev qt6-qpa-plugins libhttp-parser-dev
                       libcrypt-dev zlib1g-dev cmake ninja-build g++ pkg-config)
# The third-party peers the test suites talk to.
# shellcheck disable=SC2034
SLUICE_TEST_PACKAGES=(curl python3 python3-websockets chromium openssl apache2-utils xvfb
                      xauth nodejs npm)

# The peers and tools of the benchmark suite (scripts/bench.sh): wrk, nginx,
# libwebsockets, Node with npm (for the ws package), taskset to pin them and
# Debian's python3 for the runner.
# shellcheck disable=SC2034
SLUICE_BENCH_PACKAGES=(wrk nginx-light libwebsockets-dev nodejs npm util-linux python3)

# The fuzz toolchain (tests/fuzz/run.sh): clang with libFuzzer and the
# sanitizer runtimes, and llvm-profdata/llvm-cov for the coverage report.
# shellcheck disable=SC2034
SLUICE_FUZZ_PACKAGES=(clang-14 libclang-rt-14-dev llvm-14)

sluice_package_installed()
{
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

# sluice_without_other_node PACKAGE... prints the packages but nodejs and npm
# when node or npm is a command already: a Node.js from elsewhere
# (NodeSource) ships its own npm and conflicts with Debian's npm package.
sluice_without_other_node()
{
    local package
    for package in "$@"; do
        case "$package" in
        nodejs) command -v node >/dev/null 2>&1 && continue ;;
        npm) command -v npm >/dev/null 2>&1 && continue ;;
        esac
        printf '%s\n' "$package"
    done
}

# sluice_npm_ci installs the npm packages the tests and benchmarks use (Node
# ws and uWebSockets.js, tests/bench/node) when they are missing or older
# than the lock file.
sluice_npm_ci()
{
    local dir=tests/bench/node
    # npm keeps a copy of the lock file it installed from: a newer lock file
    # (a package added or upgraded) means node_modules is stale.
    if [[ -f "$dir/node_modules/.package-lock.json"
          && ! "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]]; then
        return 0
    fi
    echo "==> npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund)
}

# sluice_install_packages PACKAGE... installs those not installed yet; apt's
# index is refreshed once, and only when something has to be installed.
sluice_install_packages()
{
    local missing=() package
    for package in "$@"; do
        sluice_package_installed "$package" || missing+=("$package")
    done
    if ((${#missing[@]} == 0)); then
        echo "==> Packages already installed: $*"
        return 0
    fi

    if ! command -v apt-get >/dev/null 2>&1; then
        echo "error: missing packages (${missing[*]}) and no apt-get to install them" >&2
        return 1
    fi
    local sudo=()
    if ((EUID != 0)); then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "error: missing packages (${missing[*]}); run as root or install sudo" >&2
            return 1
        fi
        sudo=(sudo)
    fi

    echo "==> Installing missing packages: ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${missing[@]}"
}
