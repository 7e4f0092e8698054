#!/bin/sh
# The SSO tests start a real OpenID provider, the oidc-provider package on Node.js; it comes
# from the npm registry through tests/oidc_provider/package-lock.json, like frontend/'s assets.
set -e
cd "$(dirname "$0")/../../tests/oidc_provider"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
