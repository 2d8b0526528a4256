# Shared by the scripts/sam-local commands (sourced, not run): the SAM CLI's
# offline settings, the container engine and the base image.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv"
SAM="$VENV/bin/sam"
STATE="$ROOT/target/sam-local"
mkdir -p "$STATE"

# SAM CLI offline: dummy credentials, no telemetry, no 6.6 s of STS retries on
# every command, and its weekly version check already done.
export SAM_CLI_TELEMETRY=0
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_ENDPOINT_URL_STS=http://127.0.0.1:9 AWS_MAX_ATTEMPTS=1
export PATH="$VENV/bin:$PATH"
mkdir -p "$HOME/.aws-sam"
if [ ! -s "$HOME/.aws-sam/metadata.json" ]; then
  printf '{"lastVersionCheck": %s.0}\n' "$(date +%s)" > "$HOME/.aws-sam/metadata.json"
fi

# The functions run on the host's instruction set locally (deployed: arm64).
case "$(uname -m)" in
  x86_64) SAM_ARCH=x86_64 ;;
  aarch64|arm64) SAM_ARCH=arm64 ;;
  *) echo "sam-local: unsupported machine $(uname -m)" >&2; exit 1 ;;
esac
BASE_IMAGE="public.ecr.aws/lambda/provided:al2023-$SAM_ARCH"
# Bumped when the stand-in's recipe changes, so an older one is rebuilt.
STAND_IN_VERSION=bookworm-2

log() { echo "sam-local: $*" >&2; }

engine_answers() { docker info >/dev/null 2>&1; }

# A container engine that answers: Debian's docker.io installed when missing
# (as root), dockerd started when nothing answers (its pid in DOCKERD_PID, for
# stop_engine: a daemon this shell did not start is left alone).
DOCKERD_PID=
ensure_engine() {
  if engine_answers; then return 0; fi
  if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
      log "no container engine answers and docker.io is not installed: apt-get install docker.io debootstrap (as root)"
      return 1
    fi
    log "installing docker.io and debootstrap with apt-get"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io debootstrap >/dev/null; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io debootstrap >/dev/null
    fi
  fi
  if [ "$(id -u)" != 0 ]; then
    log "no container engine answers (docker info failed); start dockerd (as root) or set DOCKER_HOST"
    return 1
  fi
  log "no container engine answers: starting dockerd (log: $STATE/dockerd.log)"
  setsid dockerd >"$STATE/dockerd.log" 2>&1 < /dev/null &
  DOCKERD_PID=$!
  for _ in $(seq 1 100); do
    if engine_answers; then log "dockerd answers (pid $DOCKERD_PID)"; return 0; fi
    sleep 0.2
  done
  log "dockerd did not answer within 20 s; see $STATE/dockerd.log"
  return 1
}

# Stop the dockerd ensure_engine started in this shell (if any), and only that one.
stop_engine() {
  [ -n "$DOCKERD_PID" ] || return 0
  local pid="$DOCKERD_PID"
  DOCKERD_PID=''
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping the dockerd it started (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  fi
}

# SAM's base image for provided.al2023: the real one when present or pullable,
# otherwise a stand-in built once from Debian bookworm (debootstrap minbase).
ensure_base_image() {
  local stand_in
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    stand_in="$(docker image inspect -f '{{index .Config.Labels "org.chathooks.stand-in"}}' "$BASE_IMAGE" 2>/dev/null || true)"
    case "$stand_in" in
      "$STAND_IN_VERSION") log "base image: the stand-in $BASE_IMAGE (Debian bookworm, built here)"; return 0 ;;
      ""|"<no value>") log "base image: $BASE_IMAGE"; return 0 ;;
      *) log "base image: an older stand-in; rebuilding it"; docker rmi -f "$BASE_IMAGE" >/dev/null ;;
    esac
  fi
  if timeout 60 docker pull -q "$BASE_IMAGE" >/dev/null 2>&1; then
    log "base image: $BASE_IMAGE (pulled)"
    return 0
  fi
  log "$BASE_IMAGE cannot be pulled: building a stand-in from Debian bookworm (debootstrap, about a minute, once)"
  local dir="$STATE/rootfs"
  rm -rf "$dir"
  # ca-certificates: the AWS SDK's TLS client panics without a root store
  # (Amazon Linux carries /etc/pki/tls/certs; minbase has none).
  debootstrap --variant=minbase --include=ca-certificates bookworm "$dir" >"$STATE/debootstrap.log" 2>&1 \
    || { log "debootstrap failed; see $STATE/debootstrap.log"; return 1; }
  mkdir -p "$dir/var/task" "$dir/var/runtime" "$dir/opt"
  tar -C "$dir" -c . | docker import \
    -c 'WORKDIR /var/task' \
    -c 'ENV LAMBDA_TASK_ROOT=/var/task' \
    -c 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c "LABEL org.chathooks.stand-in=$STAND_IN_VERSION" \
    - "$BASE_IMAGE" >/dev/null
  rm -rf "$dir"
  # SAM builds its ...:al2023-rapid-<arch> image on a base once: drop one made on an older base.
  docker rmi -f "${BASE_IMAGE/al2023-/al2023-rapid-}" >/dev/null 2>&1 || true
  log "base image: stand-in $BASE_IMAGE built"
}
