#!/usr/bin/env bash
# Runs every fuzz target in the module for a while (default 60s each), one at a time.
#   scripts/fuzz.sh [DURATION]      e.g. scripts/fuzz.sh 5m
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-60s}
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "== $pkg $target ($duration)"
    # Minimizing a new input may take 60 s by default, in which no fuzzing happens: a
    # short run would be spent minimizing.
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$duration" -fuzzminimizetime 5s -parallel 1 "$pkg"
  done
done
