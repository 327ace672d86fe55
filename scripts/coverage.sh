#!/usr/bin/env bash
# Coverage for both sides: jest's for the JavaScript wrapper (coverage/), cargo-tarpaulin's
# for the Rust core (coverage/rust/). Needs the release addon built (npm run build).
# llvm-tools cannot be fetched here, so cargo-llvm-cov does not run; tarpaulin covers what
# `cargo test` runs (the JS-driven paths through the addon are not counted on the Rust side).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== JavaScript (jest)"
npx jest --runInBand --coverage --coverageDirectory coverage/js

echo "== Rust (cargo tarpaulin)"
if ! cargo tarpaulin --version >/dev/null 2>&1; then
  echo "installing cargo-tarpaulin (once, a few minutes)"
  cargo install cargo-tarpaulin --locked
fi
cargo tarpaulin -p devmetrics-webhook-core --skip-clean --out Stdout --out Html --output-dir coverage/rust \
  --exclude-files 'src/*' 2>&1 | tail -40
