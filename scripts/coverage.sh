#!/usr/bin/env bash
# Coverage for both sides, each as a percentage of lines: jest's for the JavaScript wrapper
# (coverage/js/), cargo-llvm-cov's for the Rust core (coverage/rust/). Needs the release addon
# built (npm run build). Installs what it needs the first time: rustup's llvm-tools-preview
# component and cargo-llvm-cov from crates.io (a few minutes, once). The Rust figure counts
# what `cargo test -p devmetrics-webhook-core` runs; the paths the JS tests drive through the
# addon are not added to it. Fails when either figure is at or below MIN_LINES (80).
set -euo pipefail
cd "$(dirname "$0")/.."
MIN_LINES="${MIN_LINES:-80}"

if ! rustup component list --installed 2>/dev/null | grep -q '^llvm-tools'; then
  echo "installing rustup's llvm-tools-preview (once)"
  rustup component add llvm-tools-preview
fi
if ! cargo llvm-cov --version >/dev/null 2>&1; then
  echo "installing cargo-llvm-cov (once, a few minutes)"
  # Its own build directory: not the project's (possibly shared) target directory.
  env -u CARGO_TARGET_DIR cargo install cargo-llvm-cov --locked
fi

echo "== JavaScript (jest)"
npx jest --runInBand --coverage --coverageDirectory coverage/js \
  --coverageReporters=text-summary --coverageReporters=lcov --coverageReporters=json-summary
js_lines=$(node -p "require('./coverage/js/coverage-summary.json').total.lines.pct")

echo "== Rust (cargo llvm-cov)"
cargo llvm-cov -p devmetrics-webhook-core --html --output-dir coverage/rust
cargo llvm-cov report -p devmetrics-webhook-core --json --summary-only --output-path coverage/rust/summary.json
rust_lines=$(node -p "require('./coverage/rust/summary.json').data[0].totals.lines.percent.toFixed(2)")

echo
echo "Line coverage: JavaScript ${js_lines}%, Rust ${rust_lines}% (minimum ${MIN_LINES}%)"
node -e "process.exit(Math.min(${js_lines}, ${rust_lines}) > ${MIN_LINES} ? 0 : 1)" || {
  echo "coverage at or below ${MIN_LINES}% of lines" >&2
  exit 1
}
