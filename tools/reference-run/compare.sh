#!/bin/sh
# One command for the side-by-side benchmark: builds `aquac` (release), installs this
# package's npm dependencies if missing, and times both on hello("world") (bench.mjs).
# Arguments go to bench.mjs, e.g. `./compare.sh --cold 10 --warm 10`.
set -eu
cd "$(dirname "$0")"
[ -f node_modules/.package-lock.json ] || npm ci --no-audit --no-fund
cargo build --release -p aquac --quiet
target=$(cargo metadata --format-version 1 --no-deps |
  node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).target_directory))')
exec node bench.mjs --aquac "$target/release/aquac" "$@"
