#!/bin/sh
# One command for the side-by-side benchmark: installs marine-js if missing, builds the
# marine-runtime timing binary (reference/, its own workspace), and runs our benchmark, which
# times both on the same modules and prints one table.
# Arguments go to criterion, e.g. `./compare.sh echo` for the call rows only.
set -eu
cd "$(dirname "$0")"
[ -f node_modules/.package-lock.json ] || npm ci --no-audit --no-fund
# marine-core (every version of marine-runtime) enables a nightly feature,
# `get_mut_unchecked`; RUSTC_BOOTSTRAP lets the stable compiler build that crate alone.
target="${CARGO_TARGET_DIR:-$(cd ../.. && pwd)/target}/marine-bench-reference"
RUSTC_BOOTSTRAP=marine_core cargo build --release --locked \
  --manifest-path reference/Cargo.toml --target-dir "$target"
MARINE_BENCH_REFERENCE=1 MARINE_BENCH_RUNTIME="$target/release/marine-bench-reference" \
  exec cargo bench -p marine --bench service -- "$@"
