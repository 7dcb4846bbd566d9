#!/usr/bin/env bash
# Builds the service and runs it on this machine with the demo data:
# http://127.0.0.1:3000 (UI at /, API under /api/). Extra arguments go to `eccs-local serve`,
# e.g. `scripts/run.sh --memory` or `scripts/run.sh --addr 127.0.0.1:8080`.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null; then
  echo "cargo not found: install Rust with https://rustup.rs first" >&2
  exit 1
fi
exec cargo run -p eccs-local -- serve --demo "$@"
