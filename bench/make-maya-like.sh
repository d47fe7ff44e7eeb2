#!/usr/bin/env bash
# Builds a Maya-shaped release for the installer-shape benchmark, offline, from the
# Blender-shaped tree of ../shared/bench/make-blender-like.sh:
#   Autodesk_Maya_2026_Linux_64bit.tgz   a gzip tarball (one top folder) holding
#     Packages/Maya2026_64-2026.0-1234.x86_64.rpm     the tree, xz payload (rpmbuild)
#     Packages/adsklicensing15.1.0-0-0.x86_64.rpm     one folder of it, zstd payload
#     Packages/package.zip                            bin/ProductInformation.pit and more
#     Setup                                           the vendor's installer script
#   libXScrnSaver-1.2.3-8.el9.x86_64.rpm, alsa-lib-1.2.12-1.el9.x86_64.rpm
#                                        system libraries as a mirror serves them
#   make-maya-like.sh [OUTDIR]   (default /tmp/corpus; prints OUTDIR)
set -euo pipefail
out=${1:-/tmp/corpus}
here=$(cd "$(dirname "$0")" && pwd)
shared=${CONDACHAN_SHARED_BENCH:-$here/../../shared/bench}
tgz=Autodesk_Maya_2026_Linux_64bit.tgz
if [ -s "$out/$tgz" ] && [ -s "$out/alsa-lib-1.2.12-1.el9.x86_64.rpm" ]; then echo "$out"; exit 0; fi
src=$("$shared/make-blender-like.sh" "$out" | tail -n 1)
w=$(mktemp -d "$out/.maya.XXXXXX"); trap 'rm -rf "$w"' EXIT
mkdir -p "$w/tree"
xz -dc "$src" | tar -x -C "$w/tree" --strip-components=1

# rpm NAME VERSION RELEASE PAYLOAD DEST TREE -> an RPM of TREE installed at DEST
rpm() {
  local name=$1 version=$2 release=$3 payload=$4 dest=$5 tree=$6
  local top="$w/rpm-$name"
  mkdir -p "$top"/{SPECS,BUILD,RPMS,SOURCES,SRPMS}
  cat > "$top/SPECS/$name.spec" <<SPEC
Name: $name
Version: $version
Release: $release
Summary: benchmark package
License: Proprietary
AutoReqProv: no
%global debug_package %{nil}
%global __os_install_post %{nil}
%global _build_id_links none
%description
benchmark package
%install
mkdir -p %{buildroot}$(dirname "$dest")
cp -a "$tree" %{buildroot}$dest
%files
$dest
SPEC
  rpmbuild --quiet -bb --target x86_64 --define "_topdir $top" --define "_binary_payload $payload" \
    --define "_buildhost bench" "$top/SPECS/$name.spec" >/dev/null
  find "$top/RPMS" -name '*.rpm'
}

pkg="$w/Autodesk_Maya_2026_Linux_64bit/Packages"
mkdir -p "$pkg"
mv "$w/tree/3.4/datafiles" "$w/datafiles"
# Maya does not ship the system libraries the render nodes lack: the recipe adds them.
rm -f "$w/tree"/lib/libXss.so* "$w/tree"/lib/libasound.so*
cp "$(rpm Maya2026_64 2026.0 1234 w2T.xzdio /usr/autodesk/maya2026 "$w/tree")" "$pkg/Maya2026_64-2026.0-1234.x86_64.rpm"
cp "$(rpm adsklicensing15.1.0 0 0 w19T.zstdio /opt/Autodesk/AdskLicensing "$w/datafiles")" "$pkg/adsklicensing15.1.0-0-0.x86_64.rpm"
mkdir -p "$w/zip/bin"
printf 'product: Maya 2026\n' > "$w/zip/bin/ProductInformation.pit"
head -c 2000000 /dev/urandom > "$w/zip/bin/licensing-helper"
(cd "$w/zip" && zip -qr "$pkg/package.zip" bin)
printf '#!/bin/sh\necho "run the Autodesk installer"\n' > "$w/Autodesk_Maya_2026_Linux_64bit/Setup"
chmod 755 "$w/Autodesk_Maya_2026_Linux_64bit/Setup"
(cd "$w" && tar -cf - Autodesk_Maya_2026_Linux_64bit | gzip -1 > "$out/$tgz.tmp") && mv "$out/$tgz.tmp" "$out/$tgz"

for lib in libXss.so.1.0.0:libXScrnSaver:1.2.3:8.el9 libasound.so.2.0.0:alsa-lib:1.2.12:1.el9; do
  IFS=: read -r so name version release <<<"$lib"
  mkdir -p "$w/$name/lib64"
  head -c 300000 /dev/urandom > "$w/$name/lib64/$so"
  ln -s "$so" "$w/$name/lib64/${so%.*.*}"
  cp "$(rpm "$name" "$version" "$release" w2.xzdio /usr/lib64 "$w/$name/lib64")" "$out/$name-$version-$release.x86_64.rpm"
done
echo "$out"
