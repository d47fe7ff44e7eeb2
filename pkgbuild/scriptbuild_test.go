package pkgbuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/condachan/condachan/internal/exampleinstaller"
	"github.com/condachan/condachan/internal/testkit"
	"github.com/condachan/condachan/pkgbuild/buildscript"
	"github.com/condachan/condachan/pkgbuild/condapkg"
	"github.com/condachan/condachan/pkgbuild/install"
	"github.com/condachan/condachan/pkgbuild/recipe"
)

// Script recipes written the way the Deadline Cloud sample catalogue writes them
// (recipe.yaml + build.sh, file:// sources in archive_files/), built from generated
// vendor installers, then installed elsewhere as conda would install them.

// scriptRecipe writes a recipe folder: recipe.yaml, build.sh and other files.
func scriptRecipe(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "recipe")
	for name, body := range files {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// buildScript builds a script recipe for linux-64 with its tests.
func buildScript(t *testing.T, rdir string, out string, archives ...string) (*Result, error) {
	t.Helper()
	r, err := recipe.LoadDir(rdir, "linux-64")
	if err != nil {
		t.Fatalf("recipe: %v", err)
	}
	var live bytes.Buffer
	res, err := Build(context.Background(), Options{
		Recipe: r, SourceArchives: archives, OutputDir: out, Compression: condapkg.LevelFast,
		Timestamp: fixedTime, RunTests: true, Output: &live,
	})
	if testing.Verbose() {
		t.Logf("build output:\n%s", live.String())
	}
	return res, err
}

// pathsJSON reads a built package's paths.json records by path.
func packagePaths(t *testing.T, pkg string) map[string]install.PathEntry {
	t.Helper()
	info, err := install.Inspect(pkg, "")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]install.PathEntry{}
	for _, p := range info.Paths {
		out[p.Path] = p
	}
	return out
}

// installElsewhere installs the package the way conda does into a prefix that is not
// the build prefix (with a space in it, as Windows users' and studios' paths have).
func installElsewhere(t *testing.T, pkg string) string {
	t.Helper()
	prefix := filepath.Join(t.TempDir(), "studio env", "houdini-prod")
	if _, err := install.Package(context.Background(), pkg, prefix, install.Options{RunLinkScripts: true}); err != nil {
		t.Fatalf("install: %v", err)
	}
	return prefix
}

// activated runs a bash snippet in the activated prefix and returns its output.
func activated(t *testing.T, prefix, body string) string {
	t.Helper()
	script, err := install.ActivatedScript(prefix, false, body)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(testkit.Tool(t, "bash"), "-ec", script).CombinedOutput()
	if err != nil {
		t.Fatalf("activated script: %v\n%s", err, out)
	}
	return string(out)
}

// checkCPH extracts the package with Debian's cph and checks every file against
// paths.json (cph does no prefix replacement: the files are as packaged).
func checkCPH(t *testing.T, pkg string) {
	t.Helper()
	dir := extractCPH(t, pkg)
	for p, rec := range packagePaths(t, pkg) {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if rec.PathType == "softlink" {
			if _, err := os.Readlink(full); err != nil {
				t.Errorf("cph x: %s is not a symlink: %v", p, err)
			}
			continue
		}
		data, err := os.ReadFile(full)
		if err != nil {
			t.Errorf("cph x: %v", err)
			continue
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != rec.SHA256 || int64(len(data)) != *rec.SizeInBytes {
			t.Errorf("cph x: %s differs from paths.json", p)
		}
	}
}

const houdiniRecipe = `# Recipe in rattler-build format.
context:
  version: "20.5.654"

package:
  name: houdini
  version: ${{ version }}

source:
  - if: linux
    then:
      url: file://archive_files/houdini-${{ version }}-linux_x86_64_gcc11.2.tar.gz
      sha256: @SHA@
      target_directory: installer

build:
  number: 0
  prefix_detection:
    ignore_binary_files: True
  dynamic_linking:
    binary_relocation: False

requirements:
  build:
    - patchelf

tests:
  - script:
    - houdini -h
    - hython -h

about:
  homepage: https://www.sidefx.com/products/houdini/
  license: LicenseRef-SideFXEULA
  summary: Houdini, repackaged by its own installer.
`

// houdiniBuildSh is the sample's build.sh without the lines that download system
// libraries at build time (dnf download, and the rpm2cpio | cpio loop that unpacks
// what it downloaded).
const houdiniBuildSh = `#!/bin/sh
set -xeuo pipefail

mkdir -p $PREFIX/opt
cd $PREFIX/opt

# The Houdini installer expects ` + "`bc`" + ` to run, but does not fail when
# it is missing. Ensure that it is installed before running the installer
bc --help

# Install Houdini
INSTALLER=$SRC_DIR/installer/houdini.install
# date of the EULA agreement, not the current date
EULAdate=2021-10-13
$INSTALLER \
    --auto-install \
    --accept-EULA $EULAdate \
    --no-install-engine-maya \
    --no-install-engine-unity \
    --no-install-menus \
    --no-install-bin-symlink \
    --no-install-hfs-symlink \
    --no-install-license \
    --no-install-hqueue-server \
    --no-root-check \
    --make-dir $PREFIX/opt/houdini

HOUDINI_DIR=$PREFIX/opt/houdini
# The Houdini version without the build number
HOUDINI_VERSION=${PKG_VERSION%.*}

# Remove the documentation, it's not needed on the farm
rm -r $HOUDINI_DIR/houdini/help
# Remove the toolkit samples, they're not needed on the farm
rm -r $HOUDINI_DIR/toolkit/samples

# Create symlinks
mkdir -p $PREFIX/bin
for BINARY in houdini houdini-bin houdinicore houdinifx \
    hscript husk hython hbatch karma karma_cc mantra mantra-bin \
    vmantra vmantra-bin; do
ln -r -s $HOUDINI_DIR/bin/$BINARY $PREFIX/bin/$BINARY
done

# Install Houdini dependencies from local package manager
mkdir -p $SRC_DIR/download
cd $SRC_DIR/download


# Add $ORIGIN as a RPATH to any .so's and copy into Houdini's installation
for so_file in $(find . -iname "*.so.*"); do
    patchelf --add-rpath '$ORIGIN' $so_file
    cp $so_file $HOUDINI_DIR/dsolib/.
done

# Script to set environment variables during activation
mkdir -p $PREFIX/etc/conda/activate.d
cat <<EOF > $PREFIX/etc/conda/activate.d/houdini-$PKG_VERSION-vars.sh
export "HOUDINI_LOCATION=\$CONDA_PREFIX/opt/houdini"
export "HOUDINI_VERSION=$HOUDINI_VERSION"
export "HOUDINI_BINARY_PATH=\$HOUDINI_LOCATION/bin"
export "HOUDINI_HOUDINI_PATH=\$HOUDINI_LOCATION/houdini"
export "HOUDINI_INCLUDE_PATH=\$HOUDINI_LOCATION/toolkit/include"
export "HOUDINI_LIBRARY_PATH=\$HOUDINI_LOCATION/bin"

EOF

mkdir -p $PREFIX/etc/conda/deactivate.d
cat <<EOF > $PREFIX/etc/conda/deactivate.d/houdini-$PKG_VERSION-vars.sh
unset HOUDINI_LIBRARY_PATH
unset HOUDINI_INCLUDE_PATH
unset HOUDINI_HOUDINI_PATH
unset HOUDINI_BINARY_PATH
unset HOUDINI_VERSION
unset HOUDINI_LOCATION

EOF
`

// houdiniPayload is what the inner houdini.tar.gz holds: programs that find their
// install folder through houdini_setup (which the installer writes, holding the absolute
// path), a binary library, help and samples the build script removes.
func houdiniPayload() testkit.Tree {
	tree := testkit.Tree{
		"houdini/help/index.html":     {Data: []byte("<html>help</html>\n"), Mode: 0o644},
		"toolkit/samples/sop/a.C":     {Data: []byte("// sample\n"), Mode: 0o644},
		"toolkit/include/HOM/HOM.h":   {Data: []byte("#pragma once\n"), Mode: 0o644},
		"dsolib/libHoudiniUT.so.20.5": {Data: append([]byte("\x7fELF\x02\x01\x01"), bytes.Repeat([]byte{0, 1, 2}, 3000)...), Mode: 0o755},
		"houdini/config/Icons.txt":    {Data: []byte("icons\n"), Mode: 0o644},
	}
	for _, b := range []string{"houdini", "houdini-bin", "houdinicore", "houdinifx", "hscript", "husk", "hython", "hbatch", "karma", "karma_cc", "mantra", "mantra-bin", "vmantra", "vmantra-bin"} {
		tree["bin/"+b] = testkit.Node{Mode: 0o755, Data: []byte(`#!/bin/sh
# Finds its install through houdini_setup, as Houdini's programs find $HFS.
here=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
. "$here/houdini_setup"
echo "` + b + ` 20.5.654 HFS=$HFS"
`)}
	}
	return tree
}

func TestHoudiniStyleInstallerRecipe(t *testing.T) {
	testkit.Tool(t, "patchelf")
	testkit.Tool(t, "bc")
	rdir := scriptRecipe(t, map[string]string{"build.sh": houdiniBuildSh})
	_, data := testkit.HoudiniLikeInstaller(t, filepath.Join(rdir, "archive_files"), "houdini-20.5.654-linux_x86_64_gcc11.2", houdiniPayload())
	testkit.WriteFile(t, rdir, "recipe.yaml", []byte(strings.Replace(houdiniRecipe, "@SHA@", testkit.SHA256(data), 1)))
	out := t.TempDir()
	res, err := buildScript(t, rdir, out)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	if res.FileName != "houdini-20.5.654-0.conda" || len(res.TestsPassed) != 1 {
		t.Errorf("FileName = %s, TestsPassed = %q", res.FileName, res.TestsPassed)
	}
	paths := packagePaths(t, res.Path)
	// What build.sh removed is not packaged; what the installer made is.
	for _, gone := range []string{"opt/houdini/houdini/help/index.html", "opt/houdini/toolkit/samples/sop/a.C"} {
		if _, ok := paths[gone]; ok {
			t.Errorf("%s is packaged; build.sh removed it", gone)
		}
	}
	// The setup file holds the build prefix: text placeholder. The binary library is
	// left alone (ignore_binary_files), activation scripts use $CONDA_PREFIX.
	setup := paths["opt/houdini/houdini_setup"]
	if setup.FileMode != install.Text || !strings.Contains(setup.PrefixPlaceholder, "host_env_placehold") || len(setup.PrefixPlaceholder) != placeholderLength {
		t.Errorf("houdini_setup record = %+v", setup)
	}
	for p, rec := range paths {
		if rec.PrefixPlaceholder != "" && p != "opt/houdini/houdini_setup" {
			t.Errorf("%s has a placeholder (%s), only houdini_setup holds the prefix", p, rec.FileMode)
		}
	}
	if rec := paths["bin/hython"]; rec.PathType != "softlink" {
		t.Errorf("bin/hython = %+v, want a symlink", rec)
	}
	checkCPH(t, res.Path)

	prefix := installElsewhere(t, res.Path)
	setupText, err := os.ReadFile(filepath.Join(prefix, "opt/houdini/houdini_setup"))
	if err != nil || !strings.Contains(string(setupText), `HFS="`+prefix+`/opt/houdini"`) {
		t.Errorf("installed houdini_setup = %q (%v), want the install prefix %s", setupText, err, prefix)
	}
	link, err := os.Readlink(filepath.Join(prefix, "bin/hython"))
	if err != nil || link != "../opt/houdini/bin/hython" {
		t.Errorf("bin/hython -> %q (%v)", link, err)
	}
	run, err := exec.Command(filepath.Join(prefix, "bin/hython"), "-h").CombinedOutput()
	if err != nil || !strings.Contains(string(run), "HFS="+prefix+"/opt/houdini") {
		t.Errorf("bin/hython -h: %v\n%s", err, run)
	}
	env := activated(t, prefix, `echo "$HOUDINI_LOCATION|$HOUDINI_VERSION|$HOUDINI_BINARY_PATH"`+"\n")
	if want := prefix + "/opt/houdini|20.5|" + prefix + "/opt/houdini/bin"; strings.TrimSpace(env) != want {
		t.Errorf("activation gives %q, want %q", env, want)
	}
	// The log beside the package holds the script's output.
	log, err := os.ReadFile(res.LogPath)
	if err != nil || !bytes.Contains(log, []byte("Houdini installed in")) || !bytes.Contains(log, []byte("test tests[0] (script, line 28) passed")) {
		t.Errorf("log %s: %v\n%s", res.LogPath, err, log)
	}
	if entries, _ := os.ReadDir(filepath.Join(out, workParent)); len(entries) != 0 {
		t.Errorf("the build folder was left behind: %v", entries)
	}
}

const nukeRecipe = `context:
  version_partial: "16.0"
  version_minor: "1"

package:
  name: nuke
  version: ${{ version_partial + "." + version_minor }}

source:
  url: file://archive_files/Nuke${{ version_partial }}v${{ version_minor }}-linux-x86_64.tgz
  sha256: @SHA@
  target_directory: installer

build:
  number: 0
  dynamic_linking:
    binary_relocation: False
    missing_dso_allowlist:
    - "*"
  prefix_detection:
    ignore_binary_files: True

tests:
  - script:
    - nuke --version
    - test -f "$PREFIX/opt/Nuke16.0v1/install.log"

about:
  homepage: https://www.foundry.com/products/nuke-family/nuke
  license: LicenseRef-FoundryEULA
  summary: Nuke is the powerful node-based compositing tool at the heart of the Nuke family.
`

// nukeBuildSh is the sample's build.sh without the lines that download system libraries
// at build time (dnf download and the rpm2cpio loop).
const nukeBuildSh = `#!/bin/sh
set -xeuo pipefail

mkdir -p $PREFIX/opt
cd $PREFIX/opt

# Install Nuke into $PREFIX/opt
INSTALLER=$SRC_DIR/installer/*.run
env -u SRC_DIR -u PREFIX $INSTALLER --prefix $PREFIX/opt --accept-foundry-eula

NUKE_DIR=$PREFIX/opt/Nuke*
NUKE_BIN=$(basename $NUKE_DIR/Nuke*)
NUKE_VERSION=${NUKE_BIN#Nuke}

# Remove the documentation, it's not needed on the farm
rm -r $NUKE_DIR/Documentation

# Create symlinks
mkdir -p $PREFIX/bin
ln -r -s $NUKE_DIR/$NUKE_BIN $PREFIX/bin/$NUKE_BIN
ln -r -s $NUKE_DIR/$NUKE_BIN $PREFIX/bin/nuke

# Install Nuke dependencies from local package manager
mkdir -p $SRC_DIR/download
cd $SRC_DIR/download

# Copy .so's to Nuke installation
for so_file in $(find . -iname "*.so.*"); do
    cp $so_file $NUKE_DIR/.
done

# Script to set environment variables during activation
mkdir -p $PREFIX/etc/conda/activate.d
cat <<EOF > $PREFIX/etc/conda/activate.d/nuke-$NUKE_VERSION-vars.sh
internal_package_add_to_search_path () {
    eval "CURRENT_VALUE=\\\${\$1:-}"
    if [ "\$CURRENT_VALUE" = "" ]; then
        eval "export \"\$1=\\\$2\""
    else
        NEW_VALUE="\$CURRENT_VALUE:\$2"
        eval "export \"\$1=\\\$NEW_VALUE\""
    fi
}

export "NUKE_LOCATION=\$CONDA_PREFIX/opt/$(basename $NUKE_DIR)"
export "NUKE_VERSION=$NUKE_VERSION"
export "NUKE_BINARY_PATH=\$NUKE_LOCATION/bin"
internal_package_add_to_search_path NUKE_PATH "\$NUKE_LOCATION/plugins"

unset -f internal_package_add_to_search_path
EOF
`

func nukePayload() testkit.Tree {
	return testkit.Tree{
		"Nuke16.0": {Mode: 0o755, Data: []byte(`#!/bin/sh
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
echo "Nuke 16.0v1 in $here"
`)},
		"Documentation/index.html": {Data: []byte("docs\n"), Mode: 0o644},
		"plugins/init.py":          {Data: []byte("import nuke\n"), Mode: 0o644},
		"libNukeCore.so":           {Data: append([]byte("\x7fELF"), bytes.Repeat([]byte{0}, 4096)...), Mode: 0o755},
	}
}

func TestNukeStyleRunInstallerRecipe(t *testing.T) {
	rdir := scriptRecipe(t, map[string]string{"build.sh": nukeBuildSh})
	_, data := testkit.NukeLikeInstaller(t, filepath.Join(rdir, "archive_files"), "Nuke16.0v1-linux-x86_64.tgz", "Nuke16.0v1-linux-x86_64.run", "Nuke16.0v1", nukePayload())
	testkit.WriteFile(t, rdir, "recipe.yaml", []byte(strings.Replace(nukeRecipe, "@SHA@", testkit.SHA256(data), 1)))
	res, err := buildScript(t, rdir, t.TempDir())
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	paths := packagePaths(t, res.Path)
	if _, ok := paths["opt/Nuke16.0v1/Documentation/index.html"]; ok {
		t.Error("the documentation build.sh removed is packaged")
	}
	if rec := paths["opt/Nuke16.0v1/install.log"]; rec.FileMode != install.Text {
		t.Errorf("install.log = %+v, want a text placeholder", rec)
	}
	checkCPH(t, res.Path)
	prefix := installElsewhere(t, res.Path)
	logText, _ := os.ReadFile(filepath.Join(prefix, "opt/Nuke16.0v1/install.log"))
	if want := "installed to " + prefix + "/opt/Nuke16.0v1\n"; string(logText) != want {
		t.Errorf("install.log = %q, want %q", logText, want)
	}
	for _, bin := range []string{"nuke", "Nuke16.0"} {
		out, err := exec.Command(filepath.Join(prefix, "bin", bin)).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "Nuke 16.0v1 in "+prefix+"/opt/Nuke16.0v1" {
			t.Errorf("bin/%s: %v %q", bin, err, out)
		}
	}
	env := activated(t, prefix, `echo "$NUKE_LOCATION|$NUKE_VERSION|$NUKE_PATH"`+"\n")
	if want := prefix + "/opt/Nuke16.0v1|16.0|" + prefix + "/opt/Nuke16.0v1/plugins"; strings.TrimSpace(env) != want {
		t.Errorf("activation gives %q, want %q", env, want)
	}
}

const redshiftRecipe = `context:
  version: "2025.6.0"

package:
  name: houdini-redshift
  version: ${{ version }}

source:
  - if: linux
    then:
      url: file://archive_files/redshift_${{ version }}_linux_x64.run
      sha256: @SHA@
      target_directory: installer

build:
  number: 0
  prefix_detection:
    ignore_binary_files: True
  dynamic_linking:
    binary_relocation: false
    missing_dso_allowlist:
      - "**"

requirements:
  build:
    - patchelf

tests:
  - script:
    - redshiftCmdLine -listrenderoptions
  - package_contents:
      files:
        - opt/redshift/redshift4houdini/*/dso/redshift4houdini.so
      bin:
        - redshiftCmdLine

about:
  homepage: https://www.maxon.net/en/redshift
  license: LicenseRef-MaxonEULA
  summary: Redshift for Houdini, from its makeself installer.
`

// redshiftBuildSh is the sample's build.sh as it is.
const redshiftBuildSh = `#!/bin/sh
set -xeuo pipefail

# The version without the update number
REDSHIFT_VERSION="$PKG_VERSION"

INSTALLER_DIR="$SRC_DIR/installer"
INSTALLER="$INSTALLER_DIR/redshift_${REDSHIFT_VERSION}_linux_x64.run"
REDSHIFT_UNPACK_DIR="$INSTALLER_DIR/redshift_installer_artifacts"
REDSHIFT_ROOT="$PREFIX/opt/redshift"

# Extract the run file into its accompanying tarball and setup script
chmod u+x "$INSTALLER"
$INSTALLER --target "$REDSHIFT_UNPACK_DIR" --noexec

# Skip superuser check by modifying the setup script in-place
sed -i 's/\[ "$(id -u)" != "0" \]/false/' "$REDSHIFT_UNPACK_DIR/setup.sh"

# Run the setup script
cd "$REDSHIFT_UNPACK_DIR"
./setup.sh --installpath "$REDSHIFT_ROOT"

# Clean up unneeded DCC artifacts
rm -r "$REDSHIFT_ROOT/redshift4blender"
rm -r "$REDSHIFT_ROOT/redshift4c4d"
rm -r "$REDSHIFT_ROOT/redshift4katana"
rm -r "$REDSHIFT_ROOT/redshift4maya"

# Create symlink for redshiftCmdLine
mkdir -p "$PREFIX/bin"
ln -r -s "$REDSHIFT_ROOT/bin/redshiftCmdLine" "$PREFIX/bin/redshiftCmdLine"

# Add rpath into the Houdini installation in the same environment
for so_file in $(find "$REDSHIFT_ROOT"/redshift4houdini/*/dso -iname "redshift4houdini.so"); do
    patchelf --add-rpath '$ORIGIN/../../../../houdini/dsolib' "$so_file"
done

# Create Houdini package file for Redshift plugin and place into Houdini search path
mkdir -p "$PREFIX/opt/houdini/packages"
cat <<EOF > "$PREFIX/opt/houdini/packages/redshift_package.json"
{
    "env":[
        {"HOUDINI_PATH": "\${REDSHIFT_COREDATAPATH}/redshift4houdini/\${RS_PLUGIN_VERSION}"},
        {"PATH": "\${REDSHIFT_COREDATAPATH}/bin"},
    ]
}
EOF

# Script to set environment variables during activation
mkdir -p "$PREFIX/etc/conda/activate.d"
cp "$RECIPE_DIR/activate.sh" "$PREFIX/etc/conda/activate.d/houdini-redshift-$PKG_VERSION-vars.sh"

mkdir -p "$PREFIX/etc/conda/deactivate.d"
cp "$RECIPE_DIR/deactivate.sh" "$PREFIX/etc/conda/deactivate.d/houdini-redshift-$PKG_VERSION-vars.sh"
`

// buildSharedObject compiles a small shared library, for patchelf to work on.
func buildSharedObject(t *testing.T) []byte {
	t.Helper()
	gcc := testkit.Tool(t, "gcc")
	dir := t.TempDir()
	testkit.WriteFile(t, dir, "plugin.c", []byte("int redshift_plugin_version(void) { return 2025; }\n"))
	testkit.Run(t, dir, gcc, "-shared", "-fPIC", "-o", "plugin.so", "plugin.c")
	data, err := os.ReadFile(filepath.Join(dir, "plugin.so"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestMakeselfInstallerRecipe(t *testing.T) {
	testkit.Tool(t, "patchelf")
	so := buildSharedObject(t)
	payload := testkit.Tree{
		"bin/redshiftCmdLine": {Mode: 0o755, Data: []byte(`#!/bin/sh
. "$(dirname "$(readlink -f "$0")")/../redshift.cfg"
echo "Redshift 2025.6.0 at $REDSHIFT_ROOT (core data $REDSHIFT_COREDATAPATH)"
`)},
		"redshift4houdini/20.5.654/dso/redshift4houdini.so": {Data: so, Mode: 0o755},
		"redshift4blender/addon.py":                         {Data: []byte("x\n"), Mode: 0o644},
		"redshift4c4d/plugin.txt":                           {Data: []byte("x\n"), Mode: 0o644},
		"redshift4katana/plugin.txt":                        {Data: []byte("x\n"), Mode: 0o644},
		"redshift4maya/plugin.txt":                          {Data: []byte("x\n"), Mode: 0o644},
		"procedurals/readme.txt":                            {Data: []byte("procedurals\n"), Mode: 0o644},
	}
	rdir := scriptRecipe(t, map[string]string{
		"build.sh":      redshiftBuildSh,
		"activate.sh":   "export REDSHIFT_COREDATAPATH=\"$CONDA_PREFIX/opt/redshift\"\nexport REDSHIFT_PROCEDURALSPATH=\"$REDSHIFT_COREDATAPATH/procedurals\"\n",
		"deactivate.sh": "unset REDSHIFT_COREDATAPATH REDSHIFT_PROCEDURALSPATH\n",
	})
	_, data := testkit.MakeselfInstaller(t, filepath.Join(rdir, "archive_files"), "redshift_2025.6.0_linux_x64.run", payload)
	testkit.WriteFile(t, rdir, "recipe.yaml", []byte(strings.Replace(redshiftRecipe, "@SHA@", testkit.SHA256(data), 1)))
	res, err := buildScript(t, rdir, t.TempDir())
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	if len(res.TestsPassed) != 2 {
		t.Errorf("TestsPassed = %q", res.TestsPassed)
	}
	paths := packagePaths(t, res.Path)
	for p := range paths {
		if strings.HasPrefix(p, "opt/redshift/redshift4maya") || strings.HasPrefix(p, "opt/redshift/redshift4blender") {
			t.Errorf("%s is packaged; build.sh removed it", p)
		}
	}
	checkCPH(t, res.Path)
	prefix := installElsewhere(t, res.Path)
	// patchelf ran on the plugin inside the build.
	ef, err := elf.Open(filepath.Join(prefix, "opt/redshift/redshift4houdini/20.5.654/dso/redshift4houdini.so"))
	if err != nil {
		t.Fatal(err)
	}
	rpath, _ := ef.DynString(elf.DT_RUNPATH)
	rpath2, _ := ef.DynString(elf.DT_RPATH)
	ef.Close()
	if !strings.Contains(strings.Join(append(rpath, rpath2...), ":"), "$ORIGIN/../../../../houdini/dsolib") {
		t.Errorf("RPATH/RUNPATH = %q %q, want the one build.sh added", rpath, rpath2)
	}
	out := activated(t, prefix, "redshiftCmdLine -listrenderoptions\n")
	if want := "Redshift 2025.6.0 at " + prefix + "/opt/redshift (core data " + prefix + "/opt/redshift)"; strings.TrimSpace(out) != want {
		t.Errorf("redshiftCmdLine in the activated prefix: %q, want %q", out, want)
	}
}

// TestBinaryPlaceholder builds a C program holding the build prefix (binary file mode):
// conda rewrites it at install with NUL padding, so the installed program names its new
// prefix; an install prefix longer than the build prefix cannot take it.
func TestBinaryPlaceholder(t *testing.T) {
	testkit.Tool(t, "gcc")
	rdir := scriptRecipe(t, map[string]string{
		"recipe.yaml": `package: {name: where, version: "1.0"}
source:
  path: src
build:
  dynamic_linking:
    binary_relocation: false
requirements:
  build: [gcc]
tests:
  - script:
      - where | grep -q "$PREFIX/share/where"
`,
		"src/where.c": "#include <stdio.h>\nstatic const char root[] = ROOT;\nint main(void) { puts(root); return 0; }\n",
		"build.sh":    "mkdir -p \"$PREFIX/bin\"\ngcc -DROOT=\"\\\"$PREFIX/share/where\\\"\" -o \"$PREFIX/bin/where\" \"$SRC_DIR/where.c\"\n",
	})
	res, err := buildScript(t, rdir, t.TempDir())
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	rec := packagePaths(t, res.Path)["bin/where"]
	if rec.FileMode != install.Binary {
		t.Fatalf("bin/where = %+v, want a binary placeholder", rec)
	}
	prefix := installElsewhere(t, res.Path)
	out, err := exec.Command(filepath.Join(prefix, "bin/where")).Output()
	if err != nil || strings.TrimSpace(string(out)) != prefix+"/share/where" {
		t.Errorf("installed program prints %q (%v), want %s/share/where", out, err, prefix)
	}
	long := filepath.Join(t.TempDir(), strings.Repeat("x", placeholderLength))
	_, err = install.Package(context.Background(), res.Path, long, install.Options{})
	var pe *install.PaddingError
	if !errors.As(err, &pe) {
		t.Errorf("install into a longer prefix: %v, want a PaddingError", err)
	}
}

func TestFailingScriptLeavesNoPackage(t *testing.T) {
	rdir := scriptRecipe(t, map[string]string{
		"recipe.yaml": "package: {name: broken, version: \"1.0\"}\nsource:\n  path: src\n",
		"src/a.txt":   "a\n",
		"build.sh":    "echo unpacking the vendor archive\necho 'installer: license server unreachable' >&2\nexit 3\n",
	})
	out := t.TempDir()
	_, err := buildScript(t, rdir, out)
	var se *buildscript.Error
	if !errors.As(err, &se) || se.ExitCode != 3 {
		t.Fatalf("error = %v, want the script's exit code 3", err)
	}
	msg := err.Error()
	for _, want := range []string{"build.sh failed with exit code 3", "installer: license server unreachable", "full log: " + filepath.Join(out, "linux-64", "broken-1.0-0.build.log")} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	files := outputFiles(t, out)
	if len(files) != 1 || files[0] != filepath.Join(out, "linux-64", "broken-1.0-0.build.log") {
		t.Errorf("output folder holds %q, want only the log", files)
	}
	log, _ := os.ReadFile(filepath.Join(out, "linux-64", "broken-1.0-0.build.log"))
	if !bytes.Contains(log, []byte("unpacking the vendor archive")) || !bytes.Contains(log, []byte("error: build.sh failed")) {
		t.Errorf("log:\n%s", log)
	}
}

func TestFailingTestLeavesNoPackage(t *testing.T) {
	rdir := scriptRecipe(t, map[string]string{
		"recipe.yaml": "package: {name: untested, version: \"1.0\"}\nsource:\n  path: src\ntests:\n  - script:\n      - echo checking the install\n      - test -x \"$PREFIX/bin/app\"\n",
		"src/a.txt":   "a\n",
		"build.sh":    "mkdir -p \"$PREFIX/share\" && cp a.txt \"$PREFIX/share/\"\n",
	})
	out := t.TempDir()
	_, err := buildScript(t, rdir, out)
	if err == nil || !strings.Contains(err.Error(), "tests[0] (script test, line 5) failed") || !strings.Contains(err.Error(), "exit code 1") {
		t.Fatalf("error = %v, want the failed test", err)
	}
	if files := outputFiles(t, out); len(files) != 1 || !strings.HasSuffix(files[0], ".build.log") {
		t.Errorf("output folder holds %q, want only the log", files)
	}
}

func TestScriptBuildIsReproducible(t *testing.T) {
	rdir := scriptRecipe(t, map[string]string{"build.sh": houdiniBuildSh})
	_, data := testkit.HoudiniLikeInstaller(t, filepath.Join(rdir, "archive_files"), "houdini-20.5.654-linux_x86_64_gcc11.2", houdiniPayload())
	testkit.WriteFile(t, rdir, "recipe.yaml", []byte(strings.Replace(houdiniRecipe, "@SHA@", testkit.SHA256(data), 1)))
	out := t.TempDir()
	var sums []string
	for i := 0; i < 2; i++ {
		res, err := buildScript(t, rdir, out)
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, res.SHA256)
		os.Remove(res.Path)
	}
	if sums[0] != sums[1] {
		t.Errorf("two builds differ: %s, %s", sums[0], sums[1])
	}
}

// TestScriptRecipeRefusals: what condachan cannot build as rattler-build does is refused
// before anything is written, with the line.
func TestScriptRecipeRefusals(t *testing.T) {
	testkit.Tool(t, "gcc")
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"a host environment", map[string]string{
			"recipe.yaml": "package: {name: a, version: \"1\"}\nrequirements:\n  host:\n    - python\n",
			"build.sh":    "python -m pip install .\n",
		}, "recipe.yaml:3: requirements.host: condachan makes no host environment"},
		{"a build tool that is not here", map[string]string{
			"recipe.yaml": "package: {name: a, version: \"1\"}\nrequirements:\n  build:\n    - xorg-libxcb\n",
			"build.sh":    "true\n",
		}, "requirements.build names tools that are not on PATH: xorg-libxcb (line 4)"},
		{"binaries rattler-build would relink", map[string]string{
			"recipe.yaml": "package: {name: a, version: \"1\"}\nrequirements:\n  build: [gcc]\n",
			"build.sh":    "mkdir -p \"$PREFIX/bin\" && echo 'int main(void){return 0;}' > m.c && gcc -o \"$PREFIX/bin/m\" m.c\n",
		}, "binary_relocation is on (rattler-build's default), so rattler-build would rewrite the RPATHs of the package's 1 dynamically linked binaries (first: bin/m)"},
		{"a Windows script", map[string]string{
			"recipe.yaml": "package: {name: a, version: \"1\"}\nbuild:\n  script:\n    interpreter: cmd\n    content: copy a %PREFIX%\n",
		}, "the build script runs with cmd.exe, which is Windows'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rdir := scriptRecipe(t, tt.files)
			out := t.TempDir()
			r, err := recipe.LoadDir(rdir, "linux-64")
			if err == nil {
				_, err = Build(context.Background(), Options{Recipe: r, OutputDir: out, Timestamp: fixedTime, RunTests: true})
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
			for _, f := range outputFiles(t, out) {
				if strings.HasSuffix(f, ".conda") {
					t.Errorf("a package was written: %s", f)
				}
			}
		})
	}
}

// TestTestsOfTheTargetOnly: a test of a platform this machine cannot run is skipped with
// a line that says so (here: a noarch package's package_contents passes, and a Windows
// package's script test is skipped).
func TestPackageContentsAndSkippedTests(t *testing.T) {
	rdir := scriptRecipe(t, map[string]string{
		"recipe.yaml": `package: {name: tool, version: "1.0"}
source:
  path: payload
tests:
  - package_contents:
      files: [share/tool/*.json]
      bin: [tool]
  - python:
      imports: [tool]
`,
		"payload/bin/tool":            "#!/bin/sh\necho tool\n",
		"payload/share/tool/cfg.json": "{}\n",
	})
	res, err := buildScript(t, rdir, t.TempDir())
	if err == nil {
		if len(res.TestsPassed) != 1 || len(res.TestsSkipped) != 1 || !strings.Contains(res.TestsSkipped[0], "condachan does not run python tests") {
			t.Errorf("passed %q, skipped %q", res.TestsPassed, res.TestsSkipped)
		}
	} else {
		t.Fatal(err)
	}
}

// The shipped script recipe builds from the generated vendor archive, from the binary's
// embedded copy as from the folder, and installs elsewhere.
func TestShippedVendorAppExample(t *testing.T) {
	data, err := exampleinstaller.Archive()
	if err != nil {
		t.Fatal(err)
	}
	downloads := t.TempDir()
	archive := testkit.WriteFile(t, downloads, exampleinstaller.FileName, data)
	for _, load := range []struct {
		name string
		load func() (*recipe.Recipe, error)
	}{
		{"embedded", func() (*recipe.Recipe, error) {
			return recipe.LoadFS(os.DirFS(filepath.Join("..", "recipes")), "vendor-app-example", "linux-64")
		}},
		{"folder", func() (*recipe.Recipe, error) {
			return recipe.LoadDir(filepath.Join("..", "recipes", "vendor-app-example"), "linux-64")
		}},
	} {
		t.Run(load.name, func(t *testing.T) {
			r, err := load.load()
			if err != nil {
				t.Fatal(err)
			}
			if r.Sources[0].SHA256 != testkit.SHA256(data) {
				t.Fatalf("the recipe pins sha256 %s, the generated archive has %s: update recipes/vendor-app-example/recipe.yaml", r.Sources[0].SHA256, testkit.SHA256(data))
			}
			res, err := Build(context.Background(), Options{Recipe: r, SourceArchives: []string{archive}, OutputDir: t.TempDir(),
				Compression: condapkg.LevelFast, Timestamp: fixedTime, RunTests: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.TestsPassed) != 2 {
				t.Errorf("TestsPassed = %q", res.TestsPassed)
			}
			prefix := installElsewhere(t, res.Path)
			out := activated(t, prefix, "vendor-app --version\necho \"$VENDOR_APP_LOCATION\"\n")
			if want := "vendor-app 1.0.0 (" + prefix + "/opt/vendor-app)\n" + prefix + "/opt/vendor-app\n"; out != want {
				t.Errorf("installed: %q, want %q", out, want)
			}
		})
	}
}
