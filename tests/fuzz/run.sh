#!/usr/bin/env bash
# Fuzzes the request path with libFuzzer (see tests/fuzz/ and the README).
#
#   bash tests/fuzz/run.sh [TARGET] [SECONDS]   fuzz TARGET (fuzz_request, the default,
#                                               fuzz_server or fuzz_websocket) for SECONDS
#                                               (default 60)
#   bash tests/fuzz/run.sh merge TARGET         add what the last run found that covers
#                                               something new to tests/fuzz/corpus/TARGET
#   bash tests/fuzz/run.sh coverage             line coverage of the request path over the
#                                               corpus (clang source-based coverage)
#
# Installs clang and libFuzzer when missing (scripts/deps.sh), builds with clang,
# ASan and UBSan in build-fuzz/ (coverage: build-fuzzcov/), and runs on one core.
# The run's corpus is build-fuzz/work/TARGET (seeded from the repo's); crashes
# land in build-fuzz/artifacts/TARGET/. FUZZ_ARGS adds libFuzzer options.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=scripts/deps.sh
source "$root/scripts/deps.sh"

targets=(fuzz_request fuzz_server fuzz_websocket)
mode=fuzz
if [[ "${1:-}" == merge || "${1:-}" == coverage ]]; then
    mode="$1"
    shift
fi
target="${1:-fuzz_request}"
seconds="${2:-60}"
if [[ "$mode" != coverage ]] && [[ ! " ${targets[*]} " == *" $target "* ]]; then
    echo "run.sh: unknown target '$target' (${targets[*]})" >&2
    exit 2
fi
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || ((seconds == 0)); then
    echo "run.sh: not a number of seconds: $seconds" >&2
    exit 2
fi

sluice_install_packages "${SLUICE_BUILD_PACKAGES[@]}" "${SLUICE_FUZZ_PACKAGES[@]}"
export CC=clang-14 CXX=clang++-14
# The server's info lines would drown libFuzzer's.
export QT_LOGGING_RULES="${QT_LOGGING_RULES:-sluice.*.info=false}"
export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

build="$root/build-fuzz"
configure_fuzz()
{
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DSLUICE_FUZZ=ON -DSLUICE_SANITIZE=ON -DSLUICE_BUILD_APP=OFF >/dev/null
    # Only a failed build's output is shown: clang's warnings would drown the run's.
    if ! ninja -C "$build" -j2 "$@" >"$build/ninja.log" 2>&1; then
        grep -E 'error|FAILED' "$build/ninja.log" | head -n 20 >&2
        echo "run.sh: the build failed, see $build/ninja.log" >&2
        exit 1
    fi
}

if [[ "$mode" == coverage ]]; then
    cov="$root/build-fuzzcov"
    flags="-fprofile-instr-generate -fcoverage-mapping"
    cmake -S "$root" -B "$cov" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSLUICE_BUILD_APP=OFF \
        -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" \
        -DCMAKE_SHARED_LINKER_FLAGS="$flags" >/dev/null
    if ! ninja -C "$cov" -j2 fuzz_request_replay fuzz_server_replay fuzz_websocket_replay \
        >"$cov/ninja.log" 2>&1; then
        grep -E 'error|FAILED' "$cov/ninja.log" | head -n 20 >&2
        echo "run.sh: the build failed, see $cov/ninja.log" >&2
        exit 1
    fi
    rm -rf "$cov/profiles"
    mkdir -p "$cov/profiles"
    for t in "${targets[@]}"; do
        LLVM_PROFILE_FILE="$cov/profiles/$t-%p.profraw" \
            "$cov/tests/fuzz/${t}_replay" "$here/corpus/$t" "$here/regressions/$t" \
            2>"$cov/$t.log" ||
            echo "run.sh: $t crashed on an input (see $cov/$t.log); its coverage is missing" >&2
    done
    llvm-profdata-14 merge -sparse "$cov"/profiles/*.profraw -o "$cov/fuzz.profdata"
    llvm-cov-14 report "$cov/tests/fuzz/fuzz_request_replay" \
        -object "$cov/tests/fuzz/fuzz_server_replay" -object "$cov/core/libsluice-core.so" \
        -object "$cov/tests/fuzz/fuzz_websocket_replay" \
        -instr-profile "$cov/fuzz.profdata" \
        "$root/core/src/http/requestparser.cpp" "$root/core/src/http/httpconnection.cpp" \
        "$root/core/src/routing/router.cpp" "$root/core/src/routing/route.cpp" "$root/core/src/server/worker.cpp" \
        "$root/core/src/websocket/websocketreader.cpp" \
        "$root/core/src/websocket/permessagedeflate.cpp"
    echo "==> Per line: llvm-cov-14 show $cov/tests/fuzz/fuzz_request_replay" \
        "-object $cov/tests/fuzz/fuzz_server_replay -object $cov/core/libsluice-core.so" \
        "-instr-profile $cov/fuzz.profdata $root/core/src/http/httpconnection.cpp"
    exit 0
fi

configure_fuzz "$target"
binary="$build/tests/fuzz/$target"
work="$build/work/$target"

if [[ "$mode" == merge ]]; then
    # Only inputs that add coverage to the repo's corpus are copied into it.
    "$binary" -merge=1 "$here/corpus/$target" "$work"
    echo "==> tests/fuzz/corpus/$target: $(find "$here/corpus/$target" -type f | wc -l) files"
    exit 0
fi

artifacts="$build/artifacts/$target"
mkdir -p "$work" "$artifacts"
log="$build/$target.log"
echo "==> Fuzzing $target for $seconds s (log: $log)"
status=0
# One core: the machine is shared. The work corpus comes first, so that new
# inputs go there and not into the repo.
# shellcheck disable=SC2086 # FUZZ_ARGS is a list of options
"$binary" -max_total_time="$seconds" -print_final_stats=1 -max_len=4096 -timeout=10 \
    -dict="$here/http.dict" -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} \
    "$work" "$here/corpus/$target" >"$log" 2>&1 || status=$?

grep -E '^#[0-9]+[[:space:]]+(DONE|NEW|REDUCE|pulse)' "$log" | tail -n 1 || true
grep -E '^stat::' "$log" || true
if ((status != 0)); then
    echo "==> $target found a problem (exit $status): see $log and $artifacts/" >&2
    grep -E 'ERROR|SUMMARY|fuzz_(request|server):' "$log" | head -n 5 >&2 || true
    exit "$status"
fi
echo "==> No crash. Corpus: $(find "$work" -type f | wc -l) files in $work"
