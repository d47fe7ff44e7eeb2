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

results="$work/script-results.tsv"
: > "$results"
measure() { # name, output file, command...
  local name=$1 out=$2; shift 2
  local log="$work/$name.log"
  sync
  /usr/bin/time -f "%e %M" -o "$work/$name.time" "$@" > "$log" 2>&1 || { echo "$name failed:"; tail "$log"; exit 1; }
  read -r wall rss < "$work/$name.time"
  printf '%s\t%s\t%s\t%s\n' "$name" "$wall" "$rss" "$(stat -c %s "$out")" | tee -a "$results"
}

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

/usr/bin/python3 - "$results" <<'PY'
import sys, statistics
rows = {}
for l in open(sys.argv[1]):
    n, w, r, s = l.rstrip("\n").split("\t")
    rows.setdefault(n, []).append((float(w), int(r), int(s)))
med = {n: (statistics.median(x[0] for x in v), max(x[1] for x in v), statistics.median(x[2] for x in v), len(v)) for n, v in rows.items()}
print()
print(f"{'run':12} {'wall s (median)':>16} {'peak RSS MiB':>13} {'size MB':>9} {'runs':>5}")
for n, (w, r, s, k) in med.items():
    print(f"{n:12} {w:16.1f} {r/1024:13.0f} {s/1e6:9.2f} {k:5d}")
c, a = med["condachan"], med["anchor-15"]
print()
print(f"condachan vs anchor 15 -1: {a[0]/c[0]:.2f}x faster, size {c[2]/a[2]*100-100:+.2f}%, peak RSS {c[1]/1024:.0f} MiB")
PY
