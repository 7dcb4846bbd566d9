#!/usr/bin/env bash
# Schema fuzzing: schemathesis (from .venv/) against `eccs-local serve --memory --demo` on a free
# port, with demo tokens: no 5xx, every response as openapi.yaml documents it (status, content
# type, schema, Allow on 405), auth enforced. Bounded: a few hundred cases per token, ~1 minute.
# The identity verification provider (tests/oidc, node-oidc-provider) runs beside it, so that the
# link and reset routes are fuzzed past their "no provider configured".
set -euo pipefail
cd "$(dirname "$0")/.."
export SAM_CLI_TELEMETRY=0

cargo build --quiet -p eccs-local
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
log=$(mktemp)
provider_out=$(mktemp)
PORT=0 node tests/oidc/provider.mjs >"$provider_out" 2>/dev/null &
provider=$!
trap 'kill "$provider" 2>/dev/null || true; rm -f "$provider_out"' EXIT
for _ in $(seq 1 100); do
  if [ -s "$provider_out" ]; then break; fi
  sleep 0.2
done
issuer=$(.venv/bin/python -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["issuer"])' "$provider_out")
target/debug/eccs-local serve --memory --demo --addr "127.0.0.1:$port" --oidc-issuer "$issuer" >"$log" 2>&1 &
server=$!
trap 'kill "$server" "$provider" 2>/dev/null || true; rm -f "$log" "$provider_out"' EXIT
for _ in $(seq 1 100); do
  if .venv/bin/python -c "import urllib.request; urllib.request.urlopen('$url/api/health')" 2>/dev/null; then break; fi
  sleep 0.2
done

token() {
  .venv/bin/python - "$url" "$1" "$2" "$3" <<'PY'
import json, sys, urllib.request
url, realm, account, password = sys.argv[1:]
req = urllib.request.Request(url + "/api/session", data=json.dumps({"realm": realm, "account": account, "password": password}).encode(), method="POST")
print(json.load(urllib.request.urlopen(req))["token"])
PY
}

run() {
  local who=$1 token=$2; shift 2
  echo "--- schemathesis as $who"
  .venv/bin/schemathesis run openapi.yaml --url "$url" -H "Authorization: Bearer $token" \
    --checks all --exclude-checks positive_data_acceptance \
    --max-examples "${FUZZ_EXAMPLES:-40}" --workers 2 --seed "${FUZZ_SEED:-20261122}" "$@"
}

# The operator reaches every endpoint; the proxy holder and the workshop account reach the ones
# the operator cannot, so that those are fuzzed past their 403.
run operator "$(token utokyo 0000000009 Demo-Operator-9)"
run "proxy holder" "$(token utokyo 0000000005 Demo-Staff-5)" --include-path-regex '^/api/(proxy-targets|applications)'
run workshop "$(token workshop ws0001 Demo-Workshop-1)" --include-path '/api/workshop/password'
echo "--- schemathesis: no failures"
