#!/usr/bin/env bash
# chathooks through the SAM CLI: a container engine that answers (dockerd
# started when none does), SAM's base image (the stand-in built when it cannot
# be pulled), `sam build` for this machine, then `chathooks-sam <command>`:
#   run.sh invoke events/<file>   one sample through `sam local invoke`
#   run.sh samples                every sample, checked
#   run.sh test                   samples, then the walkthrough on `local` (make sam-test)
#   run.sh local                  start-api + start-lambda on moto (make sam-local)
# A dockerd it started is stopped when it ends (Ctrl-C included).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
trap stop_engine EXIT
t0=$(date +%s)
ensure_engine
ensure_base_image
t1=$(date +%s)
"$ROOT/scripts/sam-local/build.sh"
t2=$(date +%s)
cargo build --quiet -p chathooks-tests --bin chathooks-sam
t3=$(date +%s)
log "engine and base image $((t1 - t0)) s, sam build $((t2 - t1)) s, runner build $((t3 - t2)) s"
export SAM_ARCH
set +e
# In the foreground: Ctrl-C reaches the runner, which stops the SAM CLI
# (SIGTERM: its containers go too) and moto before this script stops dockerd.
trap ':' INT
bin="${CARGO_TARGET_DIR:-$ROOT/target}/debug/chathooks-sam"
if [ "${1:-}" = test ]; then
  "$bin" samples && "$ROOT/scripts/sam-local/walkthrough-test.sh" "$bin"
else
  "$bin" "$@"
fi
status=$?
trap - INT
exit $status
