#!/bin/sh
# Front-end assets come from the npm registry through frontend/package-lock.json (no CDN).
set -e
cd "$(dirname "$0")/../../frontend"
[ -f package.json ] || exit 0
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
if grep -q '"build"' package.json; then npm run --silent build; fi
