#!/usr/bin/env bash
# Build the fuzz targets with libFuzzer's coverage instrumentation (the flags
# cargo-fuzz passes, minus a sanitizer: the project forbids unsafe code) on
# stable Rust, on the code under test only, then run each for SECONDS
# (default 20). A crash, panic, leak or
# timeout fails the run and leaves its input in fuzz/artifacts/<target>/.
#   fuzz/run.sh [SECONDS] [TARGET...]        e.g. fuzz/run.sh 600 target_url
# Seeds are fuzz/corpus/<target> (kept in git); inputs found while fuzzing
# go to fuzz/work/<target> and are reused by the next run.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-20}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(intake_body target_url)

# The instrumentation flags are per package in Cargo.toml's [profile.fuzz]
# (cargo's profile-rustflags feature: RUSTC_BOOTSTRAP lets stable accept it).
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="$PWD/target"
cargo build --quiet --locked --profile fuzz --bins
bin=target/fuzz

status=0
for t in "${targets[@]}"; do
    mkdir -p "work/$t" "artifacts/$t"
    echo "fuzz: $t for ${seconds}s"
    if ! "$bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 -artifact_prefix="artifacts/$t/" \
        "work/$t" "corpus/$t" 2> "work/$t.log"; then
        tail -40 "work/$t.log"
        echo "fuzz: $t FAILED; the input is in fuzz/artifacts/$t/" >&2
        status=1
    else
        grep -E "^stat::(number_of_executed_units|new_units_added)" "work/$t.log" | tr '\n' ' '
        echo
    fi
done
exit $status
