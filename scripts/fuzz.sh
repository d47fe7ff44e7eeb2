#!/usr/bin/env bash
# Runs every fuzz target in the module for a while (default 60s each), one at a time.
#   scripts/fuzz.sh [DURATION]      e.g. scripts/fuzz.sh 5m, or a count: scripts/fuzz.sh 200000x
# A count is the safer choice on Go 1.26: a time limit can end a run that found nothing
# with a bare "context deadline exceeded" (golang/go#75804, fixed in Go 1.27).
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
