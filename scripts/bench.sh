#!/usr/bin/env bash
# Reruns the whole benchmark table: builds the release binaries (native, for start-up; and arm64
# with cargo-lambda for the deployed sizes unless --no-arm64 is given or `sam build` output is
# already there), then runs eccs-bench, which prints the table and writes bench/RESULTS.md.
# Extra arguments go to eccs-bench: --requests N, --volumes 10000,100000, --no-startup.
# CARGO_PROFILE_RELEASE_* in the environment override the native builds only.
set -euo pipefail
cd "$(dirname "$0")/.."

arm64=1
args=()
for a in "$@"; do
  if [ "$a" = "--no-arm64" ]; then arm64=0; else args+=("$a"); fi
done

echo "==> release build (native): every function, the hello-world baseline, the benchmark"
cargo build --release --workspace --bins

if [ "$arm64" = 1 ] && [ ! -d infra/.aws-sam/build ]; then
  echo "==> release build (arm64, as deployed): cargo lambda build --release --arm64"
  if [ ! -x .venv/bin/cargo-lambda ]; then
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/pip install --quiet cargo-lambda
  fi
  rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 || true
  # Only what is deployed, and the baseline: every function crate, and hello.
  packages=()
  for manifest in functions/*/Cargo.toml bench/hello/Cargo.toml; do
    packages+=(-p "$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -1)")
  done
  # As deployed: the workspace's release profile, whatever overrides the native build was given.
  env $(env | sed -n 's/^\(CARGO_PROFILE_RELEASE_[A-Z_]*\)=.*/-u \1/p') PATH="$PWD/.venv/bin:$PATH" \
    cargo lambda build --release --arm64 "${packages[@]}" || echo "arm64 build failed: sizes will read 'not built'"
fi

echo "==> eccs-bench ${args[*]:-}"
exec target/release/eccs-bench "${args[@]}"
