#!/usr/bin/env bash
# Build settings by measurement (#17): builds a few representative functions and the hello-world
# baseline for arm64 as deployed (cargo lambda, full LTO, one codegen unit) once per opt-level,
# each in its own target folder, and writes bench/BUILD-SETTINGS.md with their sizes. The
# password hash keeps opt-level 3 and aws-lc "s" in every variant (Cargo.toml's per-package levels).
# Usage: scripts/size-variants.sh [--no-build] [levels...]   (default: 3 s z; 6-8 minutes each on
# 2 cores). --no-build writes the table from the artifacts already in target/opt-<level>/.
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
if [ "${1:-}" = "--no-build" ]; then build=0; shift; fi
levels=("$@"); [ ${#levels[@]} -gt 0 ] || levels=(3 s z)
if [ ! -x .venv/bin/cargo-lambda ]; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install --quiet cargo-lambda
fi
export PATH="$PWD/.venv/bin:$PATH"
bins=(hello eccs-health eccs-well-known eccs-me eccs-session eccs-admin-accounts)
args=(); for b in "${bins[@]}"; do args+=(-p "$b"); done
declare -A took
for lvl in "${levels[@]}"; do
  took[$lvl]="—"
  [ "$build" = 1 ] || continue
  start=$(date +%s)
  CARGO_PROFILE_RELEASE_OPT_LEVEL=$lvl CARGO_TARGET_DIR=target/opt-$lvl cargo lambda build --release --arm64 "${args[@]}"
  took[$lvl]=$(( $(date +%s) - start ))
done
out=bench/BUILD-SETTINGS.md
{
  echo "# Build settings, by measurement"
  echo
  echo "Written by \`scripts/size-variants.sh\` on $(date -u +%Y-%m-%d): the arm64 \`bootstrap\` (stripped, full LTO, one codegen"
  echo "unit) of representative functions and of a hello-world lambda_http, per \`opt-level\`, MB. argon2 and blake2 stay at"
  echo "opt-level 3, aws-lc-sys at \"s\" and aws-lc-rs at 3 in every variant (Cargo.toml). The latency of the chosen level is in RESULTS.md."
  echo "Artifacts built $(stat -c %y "target/opt-${levels[0]}/lambda/hello/bootstrap" 2>/dev/null | cut -d. -f1) UTC (first level) from commit $(git rev-parse --short HEAD)."
  echo
  printf '| binary |'; for l in "${levels[@]}"; do printf ' opt-level %s |' "$l"; done; echo
  printf '|---|'; for l in "${levels[@]}"; do printf -- '---:|'; done; echo
  for b in "${bins[@]}"; do
    printf '| %s |' "$b"
    for l in "${levels[@]}"; do
      f=target/opt-$l/lambda/$b/bootstrap
      if [ -f "$f" ]; then printf ' %.1f |' "$(echo "$(stat -c %s "$f") / 1000000" | bc -l)"; else printf ' not built |'; fi
    done
    echo
  done
  printf '| build time, s |'; for l in "${levels[@]}"; do printf ' %s |' "${took[$l]}"; done; echo
} > "$out"
cat "$out"
