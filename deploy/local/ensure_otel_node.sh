#!/bin/sh
# The Node.js service of the OTLP tests (tests/otel_node/) from the npm registry through its
# package-lock.json. Without node and npm the tests that need it skip, naming them.
set -e
cd "$(dirname "$0")/../../tests/otel_node"
if ! command -v npm >/dev/null 2>&1; then
  echo "npm not found: tests/otlp/test_node_service.py will skip (install nodejs and npm to run it)"
  exit 0
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
