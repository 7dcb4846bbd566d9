#!/usr/bin/env bash
# Builds the service and runs it on this machine with the demo data:
# http://127.0.0.1:3000 (UI at /, API under /api/). Extra arguments go to `eccs-local serve`,
# e.g. `scripts/run.sh --memory` or `scripts/run.sh --addr 127.0.0.1:8080`.
#
# Where Node.js is installed, it also starts a local OpenID provider for the identity
# verification link and the self-service reset (R-CRED-4): node-oidc-provider from
# tests/oidc (npm), on http://127.0.0.1:3001, where any login name and password sign in.
# ECCS_OIDC=off skips it; without it the service runs and says that no provider is configured.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null; then
  echo "cargo not found: install Rust with https://rustup.rs first" >&2
  exit 1
fi
cargo build -p eccs-local
oidc=()
if [ "${ECCS_OIDC:-on}" != "off" ] && command -v node >/dev/null && command -v npm >/dev/null; then
  if [ ! -d tests/oidc/node_modules/oidc-provider ]; then
    npm ci --prefix tests/oidc --no-audit --no-fund --silent
  fi
  PORT=3001 node tests/oidc/provider.mjs >/dev/null 2>&1 &
  provider=$!
  trap 'kill "$provider" 2>/dev/null || true' EXIT
  for _ in $(seq 1 50); do
    if (echo > /dev/tcp/127.0.0.1/3001) 2>/dev/null; then break; fi
    sleep 0.2
  done
  echo "identity verification provider (test): http://127.0.0.1:3001 — any login name and password"
  oidc=(--oidc-issuer http://127.0.0.1:3001)
fi
target/debug/eccs-local serve --demo "${oidc[@]}" "$@"
