package testkit

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// Vendor installers in the shapes of the Deadline Cloud sample catalogue's script
// recipes, generated around a payload tree, so that no binary is committed:
//
//   - HoudiniLike: a tarball holding an installer script and an inner .tar.gz that the
//     script unpacks into the folder given with --make-dir, writing a setup file that
//     holds that absolute path (houdini.install --auto-install --accept-EULA ...).
//   - NukeLike: a .tgz holding a self-extracting .run that takes --prefix and
//     --accept-foundry-eula and unpacks into <prefix>/<name>.
//   - Makeself: a makeself archive (Redshift, V-Ray) made by Debian's makeself, holding
//     setup.sh, which installs into --installpath; run with --noexec --target DIR.

// HoudiniLikeInstaller writes <name>.tar.gz (top folder <name>/ with houdini.install and
// houdini.tar.gz) into dir and returns its path and bytes.
func HoudiniLikeInstaller(t testing.TB, dir, name string, payload Tree) (string, []byte) {
	t.Helper()
	inner := Compress(t, payload.Tar(t, TarOptions{DirEntries: true}), "gzip", "-n")
	installer := `#!/bin/sh
# A stand-in for houdini.install: unpacks houdini.tar.gz into --make-dir and writes
# houdini_setup, which names the install folder.
set -e
here=$(cd "$(dirname "$0")" && pwd)
dir=""; auto=""; eula=""
while [ $# -gt 0 ]; do
    case "$1" in
        --auto-install) auto=yes; shift;;
        --accept-EULA) eula=$2; shift 2;;
        --make-dir) dir=$2; shift 2;;
        --no-install-*|--no-root-check) shift;;
        *) echo "houdini.install: unknown option $1" >&2; exit 2;;
    esac
done
[ -n "$auto" ] || { echo "houdini.install: interactive install is not supported here; pass --auto-install" >&2; exit 3; }
[ -n "$eula" ] || { echo "houdini.install: pass --accept-EULA <date>" >&2; exit 3; }
[ -n "$dir" ] || { echo "houdini.install: --make-dir is required" >&2; exit 2; }
mkdir -p "$dir"
tar -xzf "$here/houdini.tar.gz" -C "$dir"
printf 'HFS="%s"\nexport HFS\n' "$dir" > "$dir/houdini_setup"
echo "Houdini installed in $dir"
`
	tree := Tree{
		"houdini.install": {Data: []byte(installer), Mode: 0o755},
		"houdini.tar.gz":  {Data: inner, Mode: 0o644},
		"EULA.txt":        {Data: []byte("You agree.\n"), Mode: 0o644},
	}
	data := Compress(t, tree.Tar(t, TarOptions{Top: name, DirEntries: true}), "gzip", "-n")
	return WriteFile(t, dir, name+".tar.gz", data), data
}

// NukeLikeInstaller writes <tgzName> holding <runName>: a shell script followed by a
// tar.gz payload that it unpacks into <--prefix>/<appDir>, writing appDir/install.log
// with the install folder.
func NukeLikeInstaller(t testing.TB, dir, tgzName, runName, appDir string, payload Tree) (string, []byte) {
	t.Helper()
	inner := Compress(t, payload.Tar(t, TarOptions{DirEntries: true}), "gzip", "-n")
	header := `#!/bin/sh
# A stand-in for Foundry's self-extracting installer: the payload after the __PAYLOAD__
# line is a tar.gz, unpacked into <prefix>/` + appDir + `.
set -e
prefix=""; eula=""
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix=$2; shift 2;;
        --prefix=*) prefix=${1#--prefix=}; shift;;
        --accept-foundry-eula) eula=yes; shift;;
        *) echo "installer: unknown option $1" >&2; exit 2;;
    esac
done
[ -n "$eula" ] || { echo "installer: you must accept the EULA (--accept-foundry-eula)" >&2; exit 3; }
[ -n "$prefix" ] || { echo "installer: --prefix is required" >&2; exit 2; }
[ -n "${SRC_DIR:-}" ] && { echo "installer: SRC_DIR is set; run me with env -u SRC_DIR" >&2; exit 4; }
target="$prefix/` + appDir + `"
mkdir -p "$target"
line=$(awk '/^__PAYLOAD__$/ { print NR + 1; exit }' "$0")
tail -n +"$line" "$0" | tar -xzf - -C "$target"
echo "installed to $target" > "$target/install.log"
exit 0
__PAYLOAD__
`
	run := append([]byte(header), inner...)
	tree := Tree{runName: {Data: run, Mode: 0o755}}
	data := Compress(t, tree.Tar(t, TarOptions{DirEntries: true}), "gzip", "-n")
	return WriteFile(t, dir, tgzName, data), data
}

// MakeselfInstaller writes <name> (a .run) made by makeself from the payload plus a
// setup.sh that copies the payload into --installpath and refuses to run as a normal
// user unless patched, as Redshift's does.
func MakeselfInstaller(t testing.TB, dir, name string, payload Tree) (string, []byte) {
	t.Helper()
	makeself := Tool(t, "makeself")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	content := t.TempDir()
	payload.Prefixed("files").WriteDir(t, content)
	setup := `#!/bin/bash
# setup.sh: installs the files into --installpath.
set -e
if [ "$(id -u)" != "0" ]; then echo "setup.sh: run me as root" >&2; exit 1; fi
path=""
while [ $# -gt 0 ]; do
    case "$1" in
        --installpath) path=$2; shift 2;;
        *) echo "setup.sh: unknown option $1" >&2; exit 2;;
    esac
done
[ -n "$path" ] || { echo "setup.sh: --installpath is required" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$path"
cp -a "$here/files/." "$path/"
echo "REDSHIFT_ROOT=\"$path\"" > "$path/redshift.cfg"
`
	if err := os.WriteFile(filepath.Join(content, "setup.sh"), []byte(setup), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	// --nomd5/--nocrc would skip the checks; the archive keeps them, as vendors ship it.
	Run(t, dir, makeself, "--quiet", "--gzip", "--tar-quietly", content, out, "Test installer", "./setup.sh")
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data[:min(len(data), 20000)], []byte("makeself")) {
		t.Fatalf("%s does not look like a makeself archive", out)
	}
	return out, data
}
