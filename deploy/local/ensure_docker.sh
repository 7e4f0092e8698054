#!/bin/sh
# make deploy-test builds and runs containers: install Debian's Docker engine, Compose and
# debootstrap when missing (root on Debian), and start the daemon when it does not answer.
set -e
missing=""
command -v docker >/dev/null 2>&1 || missing="$missing docker.io"
command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || missing="$missing docker-compose"
command -v debootstrap >/dev/null 2>&1 || missing="$missing debootstrap"
if [ -n "$missing" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing$missing with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  else
    echo "[setup] ERROR: make deploy-test needs:$missing (sudo apt-get install$missing)" >&2
    exit 1
  fi
fi
if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v dockerd >/dev/null 2>&1; then
    echo "[setup] starting dockerd"
    nohup dockerd >/var/log/dockerd.log 2>&1 &
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && exit 0; sleep 1; done
  fi
  echo "[setup] ERROR: the Docker daemon does not answer (see /var/log/dockerd.log)" >&2
  exit 1
fi
