#!/bin/bash
# The rattler-build way of the same package, as the Deadline Cloud sample's Maya recipe
# does it: rpm2cpio | cpio each RPM of the tarball, unzip the licensing file, and unpack
# the system-library RPMs (which the sample `dnf download`s; here they are read from
# $MAYA_SYSTEM_RPMS, so that no network is timed).
set -euo pipefail
cd "$SRC_DIR/installer/Packages"
for rpm in Maya2026_64-*.x86_64.rpm adsklicensing*.x86_64.rpm; do
  rpm2cpio "$rpm" | (cd "$PREFIX" && cpio -idm --quiet)
done
lib="$PREFIX/usr/autodesk/maya2026/lib"
mkdir -p "$lib"
unzip -q -j package.zip bin/ProductInformation.pit -d "$lib"
tmp=$(mktemp -d)
for rpm in "$MAYA_SYSTEM_RPMS"/libXScrnSaver-*.rpm "$MAYA_SYSTEM_RPMS"/alsa-lib-*.rpm; do
  rpm2cpio "$rpm" | (cd "$tmp" && cpio -idm --quiet)
done
cp -a "$tmp"/usr/lib64/*.so* "$lib"/
rm -rf "$tmp"
mkdir -p "$PREFIX/bin"
ln -s ../usr/autodesk/maya2026/blender "$PREFIX/bin/maya"
