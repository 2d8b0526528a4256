#!/usr/bin/env bash
# The walkthrough `chathooks-sam local` prints (the README's), run as printed
# against it: the delivery's first attempt fails at the receiver, the retry
# succeeds, and the receiver verifies both signatures with the standardwebhooks
# library. Only the receiver's port is a free one instead of 4000. Then Ctrl-C
# (SIGINT) must stop the runner, the SAM CLI and its containers.
# Usage: walkthrough-test.sh <chathooks-sam binary>
set -euo pipefail
source "$(dirname "$0")/common.sh"
BIN=$1
dir="$STATE/walkthrough"
rm -rf "$dir" && mkdir -p "$dir"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
receiver_port=$(free_port)
started=$(date +%s)
PORT=$port CHATHOOKS_ADMIN_KEY="adm_$(python3 -c 'import uuid; print(uuid.uuid4().hex)')" \
  "$BIN" local >"$dir/local.out" 2>"$dir/local.err" &
runner=$!
stop_runner() {
  if kill -0 "$runner" 2>/dev/null; then kill -INT "$runner"; wait "$runner" || true; fi
}
trap stop_runner EXIT
for _ in $(seq 1 300); do
  grep -q '^Walkthrough' "$dir/local.out" && break
  kill -0 "$runner" 2>/dev/null || { cat "$dir/local.err" >&2; log "chathooks-sam local exited"; exit 1; }
  sleep 0.5
done
grep -q '^Walkthrough' "$dir/local.out" || { log "no walkthrough printed within 150 s"; exit 1; }
log "sam-local up in $(( $(date +%s) - started )) s"
sed -n '/^  export API=/,$p' "$dir/local.out" | sed 's/^  //; s/127\.0\.0\.1:4000/127.0.0.1:'"$receiver_port"'/; s/--port 4000/--port '"$receiver_port"'/' \
  > "$dir/walkthrough.sh"
grep -q "$receiver_port" "$dir/walkthrough.sh" || { log "the walkthrough no longer names port 4000"; exit 1; }
walk_started=$(date +%s)
# Its own session, so the receiver it leaves in the background is stopped with it.
stop_walk() { [ -s "$dir/walk.sid" ] && kill -TERM -- "-$(cat "$dir/walk.sid")" 2>/dev/null || true; }
trap 'stop_walk; stop_runner' EXIT
# shellcheck disable=SC2016
setsid bash -c 'echo $$ > "$1/walk.sid"; cd "$2" && exec bash -e "$1/walkthrough.sh"' _ "$dir" "$ROOT" \
  >"$dir/walkthrough.out" 2>&1 &
walker=$!
wait "$walker" || { cat "$dir/walkthrough.out" >&2; log "the walkthrough failed"; exit 1; }
stop_walk
cat "$dir/walkthrough.out"
first=$(grep -n 'signature OK -> 500' "$dir/walkthrough.out" | head -1 | cut -d: -f1)
second=$(grep -n 'signature OK -> 200' "$dir/walkthrough.out" | head -1 | cut -d: -f1)
if [ -z "$first" ] || [ -z "$second" ] || [ "$first" -gt "$second" ]; then
  log "expected 'signature OK -> 500' then 'signature OK -> 200' from the receiver"; exit 1
fi
grep -q '"status": "succeeded"' "$dir/walkthrough.out" || { log "the delivery did not end succeeded"; exit 1; }
grep -q "http://127.0.0.1:$port/portal#token=chp_" "$dir/walkthrough.out" || { log "no portal link on the local API"; exit 1; }
log "walkthrough through the SAM CLI passed in $(( $(date +%s) - walk_started )) s"
kill -INT "$runner"
for _ in $(seq 1 60); do kill -0 "$runner" 2>/dev/null || break; sleep 0.5; done
if kill -0 "$runner" 2>/dev/null; then log "chathooks-sam local did not stop on Ctrl-C"; exit 1; fi
wait "$runner" || { log "chathooks-sam local exited with an error on Ctrl-C"; exit 1; }
left=$(docker ps -q --filter label=sam.cli.container.type=lambda | wc -l)
[ "$left" = 0 ] || { log "$left SAM containers left running after Ctrl-C"; exit 1; }
log "Ctrl-C stopped the runner, the SAM CLI and its containers"
