#!/usr/bin/env bash
# Side-by-side build benchmark, all in one run on one machine (these machines are noisy:
# only figures from the same run compare). Measures on the Blender-shaped archive from
# ../shared/bench/make-blender-like.sh:
#   - condachan's reader alone (xz decode + tar + sha256, content discarded): the floor
#   - condachan build --compression default and max
#   - anchor_repack.py 15 -1 (rattler-build's way) and 19 1 (conda-build's way)
# and prints wall time, peak RSS and package size, with ratios.
#   bench/build.sh [WORKDIR]        (default /tmp/condachan-bench; needs ~3 GB free)
#   SKIP_ANCHORS=1 bench/build.sh   (any non-empty value, even 0: skips the two
#                                    anchor_repack.py runs; results.tsv is rewritten each
#                                    run, so only the reader-only ratios are printed)
#   CONDACHAN=/path/to/condachan bench/build.sh   (use that binary instead of building one)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=${CONDACHAN_SHARED_BENCH:-$repo/../shared/bench}
work=${1:-/tmp/condachan-bench}
mkdir -p "$work"
archive=$("$shared/make-blender-like.sh" "$work/corpus" | tail -n 1)
sha=$(sha256sum "$archive" | cut -d' ' -f1)

# The bench recipe: the shipped Blender recipe for 3.4.1 and this archive. Debian's Python
# in it has an absolute symlink (sitecustomize.py -> /etc/...), which a package must not
# carry, so the recipe leaves it out.
recipe="$work/recipe"
mkdir -p "$recipe"
sed -e 's/"4.1.1"/"3.4.1"/' \
    -e "s/ab2ea3fe991601a5e6bd2cda786ecaa919c0b39e0550e59978b5d40270c260d3/$sha/" \
    -e '/blender-thumbnailer/d' \
    -e 's|      to: opt/blender|      to: opt/blender\n      exclude: ["3.4/python/lib/python3.11/sitecustomize.py"]|' \
    "$repo/recipes/blender-4.1/recipe.yaml" > "$recipe/recipe.yaml"

if [ -n "${CONDACHAN:-}" ]; then
  cp "$CONDACHAN" "$work/condachan" # a binary built elsewhere
else
  (cd "$repo" && go build -o "$work/condachan" ./cmd/condachan)
fi
(cd "$repo" && go build -o "$work/readarchive" ./bench/readarchive)

. "$repo/bench/lib.sh"
results="$work/results.tsv"
: > "$results"

# condachan's runs are short and this machine is noisy: ROUNDS alternating rounds, medians.
# --no-test: the archive's programs are stand-ins that the recipe's test cannot run, and
# the anchors run no tests either.
rounds=${ROUNDS:-3}
for r in $(seq "$rounds"); do
  rm -rf "$work/out-default" "$work/out-max"
  measure read-only - "$work/readarchive" "$archive"
  measure condachan-default "$work/out-default/linux-64/blender-3.4.1-0.conda" \
    "$work/condachan" build --recipe "$recipe" --source-archive "$archive" -o "$work/out-default" --progress none --compression default --no-test
  measure condachan-max "$work/out-max/linux-64/blender-3.4.1-0.conda" \
    "$work/condachan" build --recipe "$recipe" --source-archive "$archive" -o "$work/out-max" --progress none --compression max --no-test
done
if [ -z "${SKIP_ANCHORS:-}" ]; then
  measure anchor-15 "$work/anchor15/blender-3.4.1-0.conda" /usr/bin/python3 "$shared/anchor_repack.py" "$archive" "$work/anchor15" 15 -1
  measure anchor-19 "$work/anchor19/blender-3.4.1-0.conda" /usr/bin/python3 "$shared/anchor_repack.py" "$archive" "$work/anchor19" 19 1
fi

summarize condachan-default:anchor-15 condachan-max:anchor-19
