#!/usr/bin/env bash
# Every test, from a fresh clone: installs the tools it needs (into .venv/ and node_modules/),
# then formatting, lints, the Rust unit and integration tests, the template checks and the
# schema fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."
export SAM_CLI_TELEMETRY=0 CARGO_TERM_COLOR=never

step() { printf '\n==> %s\n' "$*"; }

step "tools: Python packages for the template checks (.venv)"
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "tools: the OpenID provider for the identity verification tests (npm ci, tests/oidc)"
npm ci --prefix tests/oidc --no-audit --no-fund --silent

step "cargo build: the session and me binaries, which the cold-start test starts as Lambda does"
cargo build --profile test -p eccs-session -p eccs-me

step "cargo test (unit + integration, real SDK against the embedded engine)"
cargo test --workspace

step "cargo test again on a second DynamoDB engine: moto_server (one request at a time)"
moto_port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
.venv/bin/python scripts/moto_serial.py "$moto_port" >/dev/null 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if .venv/bin/python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$moto_port/')" 2>/dev/null; then break; fi
  sleep 0.2
done
ECCS_TEST_DYNAMODB="http://127.0.0.1:$moto_port" cargo test -p eccs-tests --test integration
kill "$moto_pid"; trap - EXIT

step "template: cfn-lint"
.venv/bin/cfn-lint infra/template.yaml

step "template: sam validate --lint"
.venv/bin/sam validate --lint --template infra/template.yaml --region ap-northeast-1

step "template: checkov (0 failed; every skip has its reason in the template, R-OPS-4)"
# Its own venv: checkov pins boto3 and friends apart from aws-sam-cli and moto.
if [ ! -x .venv-checkov/bin/python ]; then python3 -m venv .venv-checkov; fi
.venv-checkov/bin/pip install --quiet --disable-pip-version-check checkov==3.3.30
.venv-checkov/bin/checkov -f infra/template.yaml --framework cloudformation --skip-download --compact --quiet

step "schema fuzzing: schemathesis against eccs-local serve --memory --demo"
scripts/fuzz-api.sh

step "browser: Debian Chromium and a Japanese font (apt-get, when missing), playwright-core (npm ci)"
if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "IPAGothic"; then
  sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq chromium fonts-ipafont-gothic >/dev/null
fi
npm ci --prefix tests/e2e --no-audit --no-fund --silent

step "browser: end-to-end tests of the UI (screenshots in test-output/screens/)"
cargo build --quiet -p eccs-local
npm test --prefix tests/e2e --silent

step "all tests passed"
