# chathooks: the two commands are `make dev` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export SAM_CLI_TELEMETRY := 0
export CARGO_TERM_COLOR ?= never
# CI builds once from a clean clone: incremental caches only cost disk there.
ifdef CI
export CARGO_INCREMENTAL := 0
endif

.PHONY: venv dev test fmt-check clippy unit integration sam-validate sam-build bench soak clean api-fuzz fuzz browser-test sam-local sam-invoke sam-test

# The project-local virtualenv: moto server (the AWS emulator), the SAM CLI,
# cargo-lambda with zig, and the receivers' standardwebhooks verifier.
venv: $(VENV)/.installed
$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# The whole system locally: moto, the stack's tables and queues, the API on
# http://127.0.0.1:$${PORT:-3000}, the dispatcher and retry scheduler. Ctrl-C stops it.
dev: venv
	cargo run --quiet -p chathooks-tests --bin chathooks-local

fmt-check:
	cargo fmt --all -- --check

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

unit:
	cargo test --workspace --lib --bins

# The integration tests share one moto pair per test binary and mostly wait
# (retry delays, visibility timeouts, long polls: the tests and moto together
# use under half a core), so they run TEST_THREADS at a time; on 2 cores 8
# took the binary from 79 s (2 at a time, libtest's default) to 38 s.
TEST_THREADS ?= 8

integration: venv
	cargo test -p chathooks-tests --tests -- --test-threads=$(TEST_THREADS)

# Everything CI runs: formatting, the SAM template checks, lints, unit and
# integration tests, browser, fuzzing and SAM CLI tests. The lints come out
# of the test build itself: clippy's driver compiles the workspace's own
# crates (RUSTC_WORKSPACE_WRAPPER and CLIPPY_ARGS, which is what `cargo
# clippy` sets), so lints and tests share one build of every dependency
# instead of clippy's separate check build (about three minutes of CI on
# 2 cores). The browser and API fuzz runs build with the same settings, so
# nothing is rebuilt. `make clippy` is the same lint on its own.
LINTED := RUSTC_WORKSPACE_WRAPPER=clippy-driver CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
test: venv fmt-check sam-validate
	$(LINTED) cargo test --workspace --benches --no-run
	$(LINTED) cargo test --workspace -- --test-threads=$(TEST_THREADS)
	$(LINTED) $(MAKE) --no-print-directory browser-test api-fuzz
	$(MAKE) --no-print-directory fuzz sam-test

# The portal in a real headless Chromium (Debian's package; installed here when
# missing and we are root, as in CI) driven by Playwright from the venv, against
# the local stack with receivers on 127.0.0.1 (tests/browser/). Screenshots and
# the first-paint figures land in target/portal-screenshots/.
browser-test: venv
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "browser-test needs /usr/bin/chromium (apt-get install chromium)" >&2; exit 1; fi; fi
	cargo build --quiet -p chathooks-tests --bin chathooks-local
	CHATHOOKS_LOCAL_BIN=$${CARGO_TARGET_DIR:-target}/debug/chathooks-local $(PY) -m pytest -q tests/browser

# Security fuzzing (SECURITY.md): schemathesis against the local stack's
# /openapi.json, with and without valid keys (API_FUZZ_SECONDS per run, default
# 45), then libFuzzer on the intake body parser and the URL validator
# (FUZZ_SECONDS per target). Any finding fails.
FUZZ_SECONDS ?= 20
api-fuzz: venv
	scripts/api-fuzz.sh

fuzz:
	fuzz/run.sh $(FUZZ_SECONDS)

# SAM template checks: plain validation catches unknown properties, --lint
# (cfn-lint) catches value ranges and references; run both. Offline, dummy creds.
# The venv is (re)built only when the SAM CLI is missing from it.
SAM_DEPS := $(if $(wildcard $(VENV)/bin/sam),,venv)
SAM_ENV := AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
sam-validate: | $(SAM_DEPS)
	$(SAM_ENV) $(VENV)/bin/sam validate --template template.yaml
	$(SAM_ENV) $(VENV)/bin/sam validate --template template.yaml --lint

# Release build of the four functions for arm64 through cargo-lambda (with zig
# from the ziglang package, both in the venv). cargo-lambda's --target-dir is
# broken, so a shared CARGO_TARGET_DIR is honoured from the environment only.
sam-build: | $(SAM_DEPS)
	rustup target add aarch64-unknown-linux-gnu
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(SAM_ENV) $(VENV)/bin/sam build --template template.yaml
	@ls -l .aws-sam/build/*/bootstrap

# The functions' own bootstraps in the SAM CLI's containers, against moto
# (README "Run it with the SAM CLI"). Each starts dockerd when no container
# engine answers (and stops it after), builds SAM's base image once when it
# cannot be pulled, and `sam build`s the four functions for this machine.
# sam-local: the whole system (start-api on 127.0.0.1:$${PORT:-3000}, the queues'
# consumers through start-lambda); Ctrl-C stops it all.
# sam-invoke: one sample, e.g. make sam-invoke EVENT=events/dispatcher-delivery.json.
# sam-test: every sample in events/ through sam local invoke, checked, then
# the walkthrough sam-local prints, run as printed (signed, failed once, retried).
sam-local: venv
	scripts/sam-local/run.sh local
sam-invoke: venv
	@test -n "$(EVENT)" || { echo "usage: make sam-invoke EVENT=events/<file>.json" >&2; exit 1; }
	scripts/sam-local/run.sh invoke $(EVENT)
sam-test: venv
	scripts/sam-local/run.sh test

# Benchmarks, never part of `make test` (figures and commands: BENCHMARKS.md):
# criterion hot paths, moto's SQS alone and each moto call of the delivery
# path alone, the end-to-end runs (batch and single posts) on the local stack
# (with the AWS request count and cost per million deliveries), CPU per
# delivery (the stack's process less the load generator and receiver, and each
# function on a thread of its own, with the product's own SDK clients:
# --uninstrumented), the SDK's floor per empty call, a batch of ten 1 s
# deliveries, and cold start of the release bootstraps (x86_64 host build).
# Each run appends its figures to target/bench-results.jsonl (criterion keeps
# target/criterion/); `python3 scripts/bench-table.py` prints BENCHMARKS.md's
# tables from them.
BENCH := cargo run --release -p chathooks-tests --bin chathooks-bench --
bench: venv
	cargo bench -p chathooks-tests --bench hot_paths -- --warm-up-time 1 --measurement-time 3
	cargo build --release -p config-api -p event-intake -p dispatcher -p retry-scheduler
	$(BENCH) emulator --messages 2000
	$(BENCH) emulator-path --samples 200 --rate 10
	$(BENCH) e2e --events 600 --integrations 1 --rate 10
	$(BENCH) e2e --events 1000 --integrations 1 --rate 25 --mode single
	$(BENCH) e2e --events 600 --integrations 1 --rate 10 --batch-size 100
	$(BENCH) e2e --events 200 --integrations 5 --rate 5
	$(BENCH) e2e --events 200 --integrations 1 --fail-first --rate 5
	$(BENCH) e2e --events 2000 --integrations 1 --mode single --concurrency 16 --rate 0 --uninstrumented
	$(BENCH) e2e --events 2000 --integrations 1 --batch-size 10 --concurrency 16 --rate 20 --uninstrumented
	$(BENCH) e2e --events 2000 --integrations 1 --mode single --concurrency 16 --rate 0 --uninstrumented --keep-alive
	$(BENCH) e2e --events 2000 --integrations 1 --batch-size 10 --concurrency 16 --rate 20 --uninstrumented --keep-alive
	$(BENCH) e2e --events 1000 --integrations 1 --mode single --concurrency 16 --rate 20 --uninstrumented
	$(BENCH) e2e --events 1000 --integrations 1 --mode single --concurrency 16 --rate 20 --uninstrumented --function-workers 2
	$(BENCH) sdk-floor --calls 1000
	$(BENCH) batch10 --repeat 5
	python3 scripts/cold-start.py --runs 20
	cargo build --release -p chathooks-tests --bin chathooks-local
	python3 scripts/stack-under-load.py --events 2000 --concurrency 16
	python3 scripts/bench-table.py

# A CPU profile of the single-post run as a flame graph (perf + inferno):
# target/profile/flamegraph.svg and target/profile/top.txt (BENCHMARKS.md,
# "Profile"). Builds with symbols and frame pointers in target/profile.
profile: venv
	scripts/profile.sh

# Fault soak: SOAK_EVENTS events to two receivers failing 30 % of attempts
# at random, posted SOAK_BATCH at a time at SOAK_RATE events/s (the pace moto's
# SQS sustains on 2 cores: it scans a whole queue on every call, so an unpaced
# soak crawls as its queues deepen); every delivery must succeed and the log
# reconcile with what the receivers saw (tests/tests/soak.rs; `make test` runs
# it with 100 events, unpaced). Appends its figures to target/bench-results.jsonl.
SOAK_EVENTS ?= 1500
SOAK_RATE ?= 4
SOAK_BATCH ?= 10
SOAK_DEADLINE_SECS ?= 3600
soak: venv
	SOAK_EVENTS=$(SOAK_EVENTS) SOAK_RATE=$(SOAK_RATE) SOAK_BATCH=$(SOAK_BATCH) \
	  SOAK_DEADLINE_SECS=$(SOAK_DEADLINE_SECS) SOAK_RECORD=1 \
	  cargo test -p chathooks-tests --test integration soak:: -- --nocapture

clean:
	cargo clean
	rm -rf .aws-sam
