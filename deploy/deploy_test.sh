#!/bin/sh
# make deploy-test: from a clean clone of HEAD, build the image, bring the whole stack up with
# compose, check every role runs, run the smoke test (deploy/smoke.py) against it, and take it
# down again with its volumes. LOCAL_IMAGES=0 uses the public base images instead of the ones
# build_local_images.sh makes from Debian's packages.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/deploy/docker_env.sh"
PYTHON=${PYTHON:-$root/.venv/bin/python}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
PROJECT=${PROJECT:-pulse-deploy-test}
started=$(date +%s)
step() { echo "deploy-test: [$(( $(date +%s) - started ))s] $*"; }

work=$(mktemp -d)
stack() { $COMPOSE -p "$PROJECT" -f "$work/pulse/deploy/compose.yaml" "$@"; }
finish() {
  status=$?
  if [ -f "$work/pulse/deploy/compose.yaml" ]; then
    [ $status -eq 0 ] || stack logs --no-color --tail=60 || true
    step "taking the stack down"
    stack down -v --remove-orphans >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
  [ $status -eq 0 ] && step "passed" || step "FAILED"
}
trap finish EXIT

if [ "${LOCAL_IMAGES:-1}" != 0 ]; then
  step "local base images"
  "$root/deploy/build_local_images.sh"
  export POSTGRES_IMAGE=pulse-postgres:bookworm REDIS_IMAGE=pulse-redis:bookworm
  set -- --build-arg PYTHON_IMAGE=pulse-base:bookworm --build-arg NODE_IMAGE=pulse-node:bookworm
else
  set --
fi
[ -s "$CA_BUNDLE" ] && set -- "$@" --secret "id=ca,src=$CA_BUNDLE"

commit=$(git -C "$root" rev-parse HEAD)
step "clean clone of $commit"
git clone -q --no-checkout "$root" "$work/pulse"
git -C "$work/pulse" checkout -q "$commit"

export PULSE_IMAGE=${PULSE_IMAGE:-pulse:deploy-test}
step "building $PULSE_IMAGE"
"$DOCKER" build -q -f "$work/pulse/deploy/Dockerfile" -t "$PULSE_IMAGE" "$@" "$work/pulse" >/dev/null

free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
WEB_PORT=$(free_port)
INGEST_PORT=$(free_port)
SECRET_KEY=$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(50))')
PUBLIC_URL=http://127.0.0.1:$WEB_PORT
export WEB_PORT INGEST_PORT SECRET_KEY PUBLIC_URL
step "compose up (web :$WEB_PORT, ingest :$INGEST_PORT)"
stack up -d --no-build

step "smoke test"
"$PYTHON" "$root/deploy/smoke.py" --url "$PUBLIC_URL" --ingest-url "http://127.0.0.1:$INGEST_PORT" \
  --mail-command "$COMPOSE -p $PROJECT -f $work/pulse/deploy/compose.yaml logs --no-color web"

step "every role still running, migrations ran once"
for service in web ingest worker delivery beat migrate; do
  id=$(stack ps -q "$service")
  state=$("$DOCKER" inspect -f '{{.State.Status}} exit={{.State.ExitCode}} restarts={{.RestartCount}}' "$id")
  echo "  $service: $state"
  case "$service:$state" in
    migrate:"exited exit=0 restarts=0") ;;
    migrate:*) echo "deploy-test: migrate did not finish cleanly" >&2; exit 1 ;;
    *:"running exit=0 restarts=0") ;;
    *) echo "deploy-test: $service is not running steadily" >&2; exit 1 ;;
  esac
done
stack logs --no-color beat | grep -q "beat: Starting" || { echo "deploy-test: beat did not start" >&2; exit 1; }
