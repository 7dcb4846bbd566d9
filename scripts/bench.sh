#!/usr/bin/env bash
# Reruns the whole benchmark table: builds the release binaries (native, for start-up; and arm64
# with cargo-lambda for the deployed sizes unless --no-arm64 is given or `sam build` output is
# already there), then runs eccs-bench, which prints the table and writes bench/RESULTS.md.
# Extra arguments go to eccs-bench: --requests N, --volumes 10000,100000, --no-startup.
# CARGO_PROFILE_RELEASE_* in the environment override the tools' build only (eccs-bench, which
# runs the latency tables in its own process, and eccs-local): the functions and the baseline are
# built with the workspace's release profile, as deployed, for their sizes and their start-up.
set -euo pipefail
cd "$(dirname "$0")/.."

arm64=1
args=()
for a in "$@"; do
  if [ "$a" = "--no-arm64" ]; then arm64=0; else args+=("$a"); fi
done

# Every function crate, and the hello-world baseline: what is deployed, and what it is compared with.
packages=()
for manifest in functions/*/Cargo.toml bench/hello/Cargo.toml; do
  packages+=(-p "$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -1)")
done
# As deployed: the workspace's release profile, whatever overrides the tools are given.
as_deployed=(env $(env | sed -n 's/^\(CARGO_PROFILE_RELEASE_[A-Za-z0-9_]*\)=.*/-u \1/p'))

echo "==> release build (native, as deployed): every function and the hello-world baseline, whose start-up is timed"
"${as_deployed[@]}" cargo build --release "${packages[@]}"
# Their binaries stay: building the tools builds the function crates' libraries, not their binaries.
echo "==> release build (native): the benchmark and the local runner"
cargo build --release -p eccs-bench -p eccs-local

if [ "$arm64" = 1 ] && [ ! -d infra/.aws-sam/build ]; then
  echo "==> release build (arm64, as deployed): cargo lambda build --release --arm64"
  if [ ! -x .venv/bin/cargo-lambda ]; then
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/pip install --quiet cargo-lambda
  fi
  rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 || true
  "${as_deployed[@]}" PATH="$PWD/.venv/bin:$PATH" \
    cargo lambda build --release --arm64 "${packages[@]}" || echo "arm64 build failed: sizes will read 'not built'"
fi

echo "==> eccs-bench ${args[*]:-}"
exec target/release/eccs-bench "${args[@]}"
