#!/bin/sh
# Browser tests drive Debian's Chromium; install it when missing (root on Debian).
set -e
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "[setup] installing chromium with apt-get"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "[setup] ERROR: browser tests need Chromium: sudo apt-get install chromium" >&2
  exit 1
fi
