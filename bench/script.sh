#!/usr/bin/env bash
# Side-by-side benchmark of a script recipe, in one run on one machine: the installer-
# shaped archive from ../shared/bench/make-installer-like.sh (a ~700 MB tree as the
# payload of a vendor installer) built with the rattler-build-style recipe in
# ../shared/bench/installer-recipe/ (build.sh runs the installer), by
#   - condachan build (--compression default), rounds alternating with
#   - anchor_script.py ARCHIVE RECIPE OUT 15 -1 (rattler-build's way: extract to disk,
#     run build.sh, hash and scan the prefix, pack with conda-package-handling at zstd 15)
# and prints wall time, peak RSS and package size (medians), with the ratios.
#   bench/script.sh [WORKDIR]      (default /tmp/condachan-bench; needs ~4 GB free)
#   ROUNDS=3 (default)             alternating rounds of both
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=${CONDACHAN_SHARED_BENCH:-$repo/../shared/bench}
work=${1:-/tmp/condachan-bench}
mkdir -p "$work"
archive=$("$shared/make-installer-like.sh" "$work/corpus" | tail -n 1)
sha=$(sha256sum "$archive" | cut -d' ' -f1)

# The shared recipe with this archive's sha256 (it names a placeholder).
recipe="$work/installer-recipe"
rm -rf "$recipe"
cp -r "$shared/installer-recipe" "$recipe"
sed -i "s/0000000000000000000000000000000000000000000000000000000000000000/$sha/" "$recipe/recipe.yaml"

(cd "$repo" && go build -o "$work/condachan" ./cmd/condachan)

. "$repo/bench/lib.sh"
results="$work/script-results.tsv"
: > "$results"

rounds=${ROUNDS:-3}
for r in $(seq "$rounds"); do
  rm -rf "$work/out-script" "$work/anchor-script"
  measure condachan "$work/out-script/linux-64/studioapp-3.4.1-0.conda" \
    "$work/condachan" build --recipe "$recipe" --source-archive "$archive" -o "$work/out-script" --progress none
  measure anchor-15 "$work/anchor-script/studioapp-3.4.1-0.conda" \
    /usr/bin/python3 "$shared/anchor_script.py" "$archive" "$recipe" "$work/anchor-script" 15 -1
done
# Where condachan's time went, from its log (last round).
grep -E "unpacked in|finished in|packed .* in" "$work/out-script/linux-64/studioapp-3.4.1-0.build.log" || true
grep -E "^extract" "$work/anchor-15.log" || true

summarize condachan:anchor-15
