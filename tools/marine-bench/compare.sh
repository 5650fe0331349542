#!/bin/sh
# One command for the side-by-side benchmark: installs marine-js if missing and runs our
# benchmark, which times marine-js on the same modules (bench.mjs) and prints one table.
# Arguments go to criterion, e.g. `./compare.sh echo` for the call rows only.
set -eu
cd "$(dirname "$0")"
[ -f node_modules/.package-lock.json ] || npm ci --no-audit --no-fund
MARINE_BENCH_REFERENCE=1 exec cargo bench -p marine --bench service -- "$@"
