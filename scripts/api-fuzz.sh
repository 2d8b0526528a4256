#!/usr/bin/env bash
# API fuzzing with schemathesis against the local stack's /openapi.json.
#
# Starts the whole system (tests/src/bin/chathooks-local.rs: moto, the stack's
# tables and queues, the HTTP API), creates a tenant, three integrations and a
# delivery so the `{id}` routes reach real data, then runs schemathesis twice
# over every route:
#   1. authenticated: the tenant's key (Bearer, and Rocket.Chat's X-Auth-Token /
#      X-User-Id), the admin key for POST /v1/tenants; `ignored_auth` re-sends
#      each request without credentials and expects a refusal;
#   2. unauthenticated: no key, or whatever key schemathesis makes up.
# Checks: no 5xx, status codes, content types and bodies conform to the document.
# Any finding fails the script (exit 1). Bounded: API_FUZZ_SECONDS per run
# (default 45), API_FUZZ_EXAMPLES per operation and phase (default 25).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
venv="$root/.venv"
seconds=${API_FUZZ_SECONDS:-45}
examples=${API_FUZZ_EXAMPLES:-25}
work=$(mktemp -d)
pid=

cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -INT "$pid" 2>/dev/null || true # chathooks-local stops its moto servers on Ctrl-C
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -TERM "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

cargo build --quiet -p chathooks-tests --bin chathooks-local
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
admin="adm_fuzz_$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
api="http://127.0.0.1:$port"
PORT=$port CHATHOOKS_ADMIN_KEY=$admin RUST_LOG=${RUST_LOG:-error} \
    "${CARGO_TARGET_DIR:-$root/target}/debug/chathooks-local" > "$work/stack.log" 2>&1 < /dev/null &
pid=$!
for _ in $(seq 120); do
    curl -sf "$api/openapi.json" -o /dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/stack.log"; echo "api-fuzz: the local stack exited" >&2; exit 1; }
    sleep 0.5
done
curl -sf "$api/openapi.json" -o /dev/null || { cat "$work/stack.log"; echo "api-fuzz: the local stack did not start" >&2; exit 1; }

field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
post() { # path, key, body
    curl -sf -X POST "$api$1" -H "authorization: Bearer $2" -H 'content-type: application/json' -d "$3"
}
tenant=$(post /v1/tenants "$admin" '{"name":"api-fuzz"}')
key=$(field '["api_key"]' <<< "$tenant")
tenant_id=$(field '["id"]' <<< "$tenant")
# A second tenant for the admin routes to read, suspend and delete.
victim_id=$(post /v1/tenants "$admin" '{"name":"api-fuzz-admin-routes"}' | field '["id"]')
# Targets on a closed local port: test-sends and deliveries fail fast, offline.
integration() {
    post /v1/integrations "$key" "{\"name\":\"$1\",\"url\":\"http://127.0.0.1:9/hook\",\"events\":[\"chat.closed\"],\"retry_policy\":\"none\",\"timeout_ms\":1000}" | field '["id"]'
}
main_id=$(integration main)
patch_id=$(integration patched)
delete_id=$(integration deleted)
delivery_id=$(post /v1/events "$key" '{"id":"api-fuzz-1","type":"chat.closed","chat":{"id":"c1"}}' | field '["deliveries"][0]["id"]')

cat > "$work/auth.toml" <<TOML
headers = { Authorization = "Bearer $key", X-Auth-Token = "$key", X-User-Id = "$tenant_id" }

[[operations]]
include-operation-id = "CreateTenant"
headers = { Authorization = "Bearer $admin" }

[[operations]]
include-operation-id = "ListTenants"
headers = { Authorization = "Bearer $admin" }

[[operations]]
include-operation-id = ["GetTenant", "UpdateTenant", "DeleteTenant"]
headers = { Authorization = "Bearer $admin" }
parameters = { "path.id" = "$victim_id" }

[[operations]]
include-operation-id = ["GetIntegration", "GetSecret", "RotateSecret", "TestIntegration", "ListDeliveries", "Recover"]
parameters = { "path.id" = "$main_id" }

[[operations]]
include-operation-id = "UpdateIntegration"
parameters = { "path.id" = "$patch_id" }

[[operations]]
include-operation-id = "DeleteIntegration"
parameters = { "path.id" = "$delete_id" }

[[operations]]
include-operation-id = ["GetDelivery", "RetryDelivery"]
parameters = { "path.id" = "$delivery_id" }
TOML
: > "$work/noauth.toml"

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance
run() { # name, config, extra checks
    echo "api-fuzz: $1 (up to ${seconds}s)"
    (cd "$work" && "$venv/bin/schemathesis" --config-file "$2" run "$api/openapi.json" \
        --checks "$checks$3" --phases examples,coverage,fuzzing \
        --max-examples "$examples" --max-time "$seconds" --request-timeout 15 \
        --workers 2 --generation-database none --no-color)
}
status=0
run "authenticated run" "$work/auth.toml" ",ignored_auth" || status=1
run "unauthenticated run" "$work/noauth.toml" "" || status=1
if grep -q '"level":"ERROR"' "$work/stack.log"; then
    grep '"level":"ERROR"' "$work/stack.log" | head -20
    echo "api-fuzz: the stack logged errors (above)" >&2
    status=1
fi
[ $status -eq 0 ] && echo "api-fuzz: no findings"
exit $status
