#!/usr/bin/env bash
# Side-by-side benchmark of installer shapes built without a script, in one run on one
# machine, rounds alternating:
#   maya:      the Maya-shaped release of make-maya-like.sh (a tarball of RPMs with xz
#              and zstd payloads and a nested zip, plus two system-library RPMs)
#              - condachan build of maya-recipe/ (declarative: the RPMs and the zip are
#                opened where they stream), against
#              - anchor_script.py with maya-anchor-recipe/build.sh, the rattler-build way:
#                extract, rpm2cpio | cpio, unzip, hash and scan, zstd 15 with all threads
#   installer: the installer-shaped archive of ../shared/bench/make-installer-like.sh
#              - condachan build of studioapp-declarative/ (from: installer/payload.tar.gz,
#                no script), against
#              - anchor_script.py with ../shared/bench/installer-recipe (build.sh runs
#                the installer), 15 -1
# and prints wall time, peak RSS and package size (medians), the ratios, and whether both
# sides packed the same paths.
#   bench/shapes.sh [WORKDIR]      (default /tmp/condachan-bench; needs ~6 GB free)
#   ROUNDS=3 (default)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=${CONDACHAN_SHARED_BENCH:-$repo/../shared/bench}
work=${1:-/tmp/condachan-bench}
mkdir -p "$work"
corpus=$("$repo/bench/make-maya-like.sh" "$work/corpus" | tail -n 1)
installer=$("$shared/make-installer-like.sh" "$work/corpus" | tail -n 1)
sum() { sha256sum "$1" | cut -d' ' -f1; }

# The recipes with these archives' sha256 values.
recipes="$work/shape-recipes"
rm -rf "$recipes" && mkdir -p "$recipes"
cp -r "$repo/bench/maya-recipe" "$repo/bench/studioapp-declarative" "$recipes/"
cp -r "$shared/installer-recipe" "$recipes/installer-recipe" && chmod -R u+w "$recipes"
sed -i -e "s/TGZ_SHA256/$(sum "$corpus/Autodesk_Maya_2026_Linux_64bit.tgz")/" \
  -e "s/XSS_SHA256/$(sum "$corpus/libXScrnSaver-1.2.3-8.el9.x86_64.rpm")/" \
  -e "s/ALSA_SHA256/$(sum "$corpus/alsa-lib-1.2.12-1.el9.x86_64.rpm")/" "$recipes/maya-recipe/recipe.yaml"
zeros=0000000000000000000000000000000000000000000000000000000000000000
sed -i "s/$zeros/$(sum "$installer")/" "$recipes/studioapp-declarative/recipe.yaml" "$recipes/installer-recipe/recipe.yaml"

(cd "$repo" && go build -o "$work/condachan" ./cmd/condachan)

. "$repo/bench/lib.sh"
results="$work/shapes-results.tsv"
: > "$results"

rounds=${ROUNDS:-3}
for r in $(seq "$rounds"); do
  rm -rf "$work/out-shapes" "$work/anchor-maya" "$work/anchor-installer"
  measure maya-condachan "$work/out-shapes/linux-64/mayabench-2026.0-0.conda" \
    "$work/condachan" build --recipe "$recipes/maya-recipe" --source-dir "$corpus" -o "$work/out-shapes" --progress none
  measure maya-anchor-15 "$work/anchor-maya/studioapp-3.4.1-0.conda" \
    env MAYA_SYSTEM_RPMS="$corpus" /usr/bin/python3 "$shared/anchor_script.py" "$corpus/Autodesk_Maya_2026_Linux_64bit.tgz" "$repo/bench/maya-anchor-recipe" "$work/anchor-maya" 15 -1
  measure installer-condachan "$work/out-shapes/linux-64/studioapp-3.4.1-0.conda" \
    "$work/condachan" build --recipe "$recipes/studioapp-declarative" --source-archive "$installer" -o "$work/out-shapes" --progress none
  measure installer-anchor-15 "$work/anchor-installer/studioapp-3.4.1-0.conda" \
    /usr/bin/python3 "$shared/anchor_script.py" "$installer" "$recipes/installer-recipe" "$work/anchor-installer" 15 -1
done
echo
echo "anchor phases (last round): maya: $(tail -n 1 "$work/maya-anchor-15.log")"
echo "                       installer: $(tail -n 1 "$work/installer-anchor-15.log")"
echo "same paths? maya:      $(/usr/bin/python3 "$repo/bench/pkgpaths.py" "$work/out-shapes/linux-64/mayabench-2026.0-0.conda" "$work/anchor-maya/studioapp-3.4.1-0.conda")"
echo "            installer: $(/usr/bin/python3 "$repo/bench/pkgpaths.py" "$work/out-shapes/linux-64/studioapp-3.4.1-0.conda" "$work/anchor-installer/studioapp-3.4.1-0.conda")"

summarize maya-condachan:maya-anchor-15 installer-condachan:installer-anchor-15
