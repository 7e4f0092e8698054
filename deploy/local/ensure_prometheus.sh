#!/bin/sh
# The scrape tests start Debian's Prometheus server; install it when missing (root on Debian).
# Only the binary is used: the package's own service is not started (no systemd here).
set -e
if command -v prometheus >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "[setup] installing prometheus with apt-get"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
else
  echo "[setup] ERROR: the Prometheus scrape tests need Prometheus: sudo apt-get install prometheus" >&2
  exit 1
fi
