# Sourced by the deploy scripts: DOCKER, a client that builds with BuildKit (build secrets),
# and COMPOSE, the Compose command at hand (the plugin or the standalone docker-compose).
for candidate in ${DOCKER:-} $(which -a docker 2>/dev/null); do
  if DOCKER_BUILDKIT=1 "$candidate" build --help >/dev/null 2>&1; then DOCKER=$candidate; break; fi
done
if [ -z "${DOCKER:-}" ] || ! DOCKER_BUILDKIT=1 "$DOCKER" build --help >/dev/null 2>&1; then
  echo "docker: no client that builds with BuildKit on the PATH (apt-get install -y docker.io)" >&2
  exit 1
fi
if ! "$DOCKER" info >/dev/null 2>&1; then
  echo "docker: the daemon does not answer (start dockerd)" >&2
  exit 1
fi
if [ -z "${COMPOSE:-}" ]; then
  if "$DOCKER" compose version >/dev/null 2>&1; then COMPOSE="$DOCKER compose"
  elif command -v docker-compose >/dev/null; then COMPOSE=docker-compose
  else echo "docker compose: missing (apt-get install -y docker-compose)" >&2; exit 1
  fi
fi
export DOCKER COMPOSE DOCKER_BUILDKIT=1
