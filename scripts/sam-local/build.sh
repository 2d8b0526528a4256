#!/usr/bin/env bash
# `sam build` of the four functions for this machine's instruction set (the
# template's Architecture parameter, arm64 when deployed), into
# target/sam-local/build. A debug build (SAM_BUILD_MODE=debug, SAM's own
# switch): cargo-lambda then builds the dev profile, minutes faster from cold
# than the release profile's fat LTO, with plain cargo as the linker (glibc
# symbols up to 2.34, which Amazon Linux 2023 has).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
started=$(date +%s)
SAM_BUILD_MODE=debug CARGO_LAMBDA_COMPILER=cargo "$SAM" build \
  --template template.yaml --build-dir "$STATE/build" \
  --parameter-overrides "Architecture=$SAM_ARCH" >"$STATE/build.log" 2>&1 \
  || { tail -40 "$STATE/build.log" >&2; log "sam build failed; see $STATE/build.log"; exit 1; }
log "sam build ($SAM_ARCH, debug) took $(( $(date +%s) - started )) s"
ls -l "$STATE"/build/*/bootstrap >&2
