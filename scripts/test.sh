#!/usr/bin/env bash
# Runs condachan's whole test suite on a fresh machine. It installs what the tests need
# first: Debian's readers that are not ours (conda-package-handling, conda-package-
# streaming, bsdtar), the compressors used to make test archives, and what the script
# recipes' tests run (patchelf, bc, makeself, gcc, rpm) (as root or through sudo), the
# versitygw S3 server (through `go install`, into .cache/tools), and rattler, the library
# behind pixi, from npm (@conda-org/rattler, into .cache/tools/rattler-npm; needs Node.js
# and npm, which the script installs from Debian when they are missing).
# A missing tool makes the tests fail, never skip.
#   scripts/test.sh [go test flags...]     e.g. scripts/test.sh -run Build ./pkgbuild/...
set -euo pipefail
cd "$(dirname "$0")/.."

packages=()
command -v cph >/dev/null || packages+=(conda-package-handling)
/usr/bin/python3 -c 'import conda_package_streaming, zstandard' 2>/dev/null || packages+=(python3-conda-package-streaming python3-zstandard)
command -v bsdtar >/dev/null || packages+=(libarchive-tools)
command -v xz >/dev/null || packages+=(xz-utils)
command -v zstd >/dev/null || packages+=(zstd)
command -v bzip2 >/dev/null || packages+=(bzip2)
# what the script-recipe tests' build scripts and generated installers use
command -v patchelf >/dev/null || packages+=(patchelf)
command -v bc >/dev/null || packages+=(bc)
command -v makeself >/dev/null || packages+=(makeself)
command -v gcc >/dev/null || packages+=(gcc libc6-dev)
command -v rpmbuild >/dev/null || packages+=(rpm)
command -v diff >/dev/null || packages+=(diffutils)
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
if ((${#packages[@]})); then
  echo "installing Debian packages: ${packages[*]}"
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "need root or sudo to install: ${packages[*]}" >&2; exit 1; }
    sudo=sudo
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

export CONDACHAN_TOOLS_DIR="${CONDACHAN_TOOLS_DIR:-$PWD/.cache/tools}"
if [ ! -x "$CONDACHAN_TOOLS_DIR/versitygw" ]; then
  echo "installing versitygw v1.8.0 into $CONDACHAN_TOOLS_DIR"
  GOBIN="$CONDACHAN_TOOLS_DIR" go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
fi

rattler_version=0.3.5 # internal/rattlertest.Version
if ! grep -qs "\"version\": \"$rattler_version\"" "$CONDACHAN_TOOLS_DIR/rattler-npm/node_modules/@conda-org/rattler/package.json"; then
  echo "installing @conda-org/rattler $rattler_version into $CONDACHAN_TOOLS_DIR/rattler-npm"
  npm install --no-audit --no-fund --silent --prefix "$CONDACHAN_TOOLS_DIR/rattler-npm" "@conda-org/rattler@$rattler_version"
fi

# Tracked and new (not ignored) files as they are in the work tree; deleted ones skipped.
gofiles=$( (git ls-files --cached --others --exclude-standard '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*') | while read -r f; do [ -f "$f" ] && echo "$f"; done)
unformatted=$(gofmt -l $gofiles)
if [ -n "$unformatted" ]; then echo "gofmt needed:" >&2; echo "$unformatted" >&2; exit 1; fi
go vet ./...
GOOS=windows go build ./...
GOOS=windows go vet ./...
if (($#)); then
  go test -count=1 -timeout 20m "$@"
else
  go test -count=1 -timeout 20m ./...
fi
