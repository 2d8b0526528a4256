# chathooks: the two commands are `make dev` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export SAM_CLI_TELEMETRY := 0
export CARGO_TERM_COLOR ?= never

.PHONY: venv dev test fmt-check clippy unit integration sam-validate sam-build bench clean

# The project-local virtualenv: moto server (the AWS emulator), the SAM CLI,
# cargo-lambda with zig, and the receivers' standardwebhooks verifier.
venv: $(VENV)/.installed
$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

fmt-check:
	cargo fmt --all -- --check

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

unit:
	cargo test --workspace --lib --bins

integration: venv
	cargo test -p chathooks-tests --tests

test: venv fmt-check clippy
	cargo test --workspace
