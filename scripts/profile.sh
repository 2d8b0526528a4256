#!/usr/bin/env bash
# A CPU profile of the local stack under single posts (the workload of
# BENCHMARKS.md's "CPU per delivery"), as a flame graph.
#
#   make profile                      # or: scripts/profile.sh [chathooks-bench e2e flags]
#
# Builds chathooks-bench with the release profile plus symbols (not
# stripped) and frame pointers, in its own target directory
# (target/profile, so the release build is untouched), records it with
# `perf record -g` (frame-pointer call graphs) and renders with the
# `inferno` crate (installed into target/profile/tools on first use):
#
#   target/profile/flamegraph.svg     the stack's threads (functions and harness)
#   target/profile/folded.txt         the folded stacks behind it
#   target/profile/top.txt            self time by frame, and by group
#
# The load generator's and receiver's threads ("load") and moto's Python
# processes are left out of the graph.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=target/profile
mkdir -p "$OUT"
if ! command -v perf >/dev/null; then
  echo "perf is not installed (apt-get install linux-perf)" >&2
  exit 1
fi
export CARGO_TARGET_DIR="$OUT"
export CARGO_PROFILE_RELEASE_STRIP=false
export CARGO_PROFILE_RELEASE_DEBUG=line-tables-only
export RUSTFLAGS="${RUSTFLAGS:-} -C force-frame-pointers=yes"
cargo build --release -p chathooks-tests --bin chathooks-bench
if [ ! -x "$OUT/tools/bin/inferno-flamegraph" ]; then
  # Its own target dir too, and without our RUSTFLAGS.
  RUSTFLAGS= CARGO_TARGET_DIR="$OUT/tools-build" \
    cargo install --quiet --locked inferno --root "$OUT/tools"
fi
ARGS=("$@")
if [ ${#ARGS[@]} -eq 0 ]; then
  ARGS=(--events 2000 --integrations 1 --mode single --concurrency 16 --rate 0 --uninstrumented)
fi
uptime
perf record -F 997 -g -o "$OUT/perf.data" -- "$OUT/release/chathooks-bench" e2e "${ARGS[@]}"
uptime
perf script -i "$OUT/perf.data" 2>/dev/null \
  | "$OUT/tools/bin/inferno-collapse-perf" --all \
  | grep -v -E '^(python|python3|moto_server|load|perf)[;-]' > "$OUT/folded.txt"
"$OUT/tools/bin/inferno-flamegraph" --title "chathooks: single posts, 16 clients (stack threads)" \
  < "$OUT/folded.txt" > "$OUT/flamegraph.svg"
python3 scripts/profile-top.py "$OUT/folded.txt" > "$OUT/top.txt"
cat "$OUT/top.txt"
echo "flame graph: $OUT/flamegraph.svg"
