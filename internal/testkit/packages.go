package testkit

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/condachan/condachan/internal/rpmwrite"
)

// Distribution packages and installers for tests, made by the real tools where Debian has
// them (rpmbuild, dpkg-deb, makeself) and by hand where a test needs a malformed one.

// RPMBuild makes <name>-<version>-1.x86_64.rpm in dir with Debian's rpmbuild from a tree
// (files, symlinks; Node.Link), payload "zstd", "xz", "gzip" or "none". Hard links are
// made for each pair in hardlinks (path -> an earlier file's path).
func RPMBuild(t testing.TB, dir, name, version string, tree Tree, payload string, hardlinks map[string]string) string {
	t.Helper()
	rpmbuild := Tool(t, "rpmbuild")
	work := t.TempDir()
	root := filepath.Join(work, "root")
	tree.WriteDir(t, root)
	for link, target := range hardlinks {
		p := filepath.Join(root, filepath.FromSlash(link))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.Link(filepath.Join(root, filepath.FromSlash(target)), p); err != nil {
			t.Fatal(err)
		}
	}
	var files []string
	for _, p := range tree.Paths() {
		if !tree[p].Dir {
			files = append(files, "/"+p)
		}
	}
	for link := range hardlinks {
		files = append(files, "/"+link)
	}
	sort.Strings(files)
	spec := fmt.Sprintf(`Name: %s
Version: %s
Release: 1
Summary: test package
License: MIT
BuildArch: x86_64
%%description
A test package.
%%install
cp -a %s/. %%{buildroot}/
%%files
%s
`, name, version, root, strings.Join(files, "\n"))
	specPath := WriteFile(t, work, name+".spec", []byte(spec))
	macro := map[string]string{"zstd": "w19.zstdio", "xz": "w6.xzdio", "gzip": "w9.gzdio", "none": "w0.ufdio"}[payload]
	if macro == "" {
		t.Fatalf("RPMBuild: unknown payload %q", payload)
	}
	Run(t, work, rpmbuild, "-bb", "--quiet",
		"--define", "_topdir "+filepath.Join(work, "top"),
		"--define", "_binary_payload "+macro,
		"--define", "__os_install_post %{nil}", "--define", "debug_package %{nil}",
		"--define", "_build_id_links none", specPath)
	built := filepath.Join(work, "top", "RPMS", "x86_64", fmt.Sprintf("%s-%s-1.x86_64.rpm", name, version))
	data, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	return WriteFile(t, dir, filepath.Base(built), data)
}

// CpioEntry is one member of a hand-made cpio (newc) archive.
type CpioEntry struct {
	Name  string
	Mode  uint32 // with the file type bits (0100644, 0120777, 040755)
	Data  []byte // content, or a symlink's target
	Ino   uint32
	Nlink uint32
}

// Cpio writes entries as a cpio newc archive with its trailer.
func Cpio(entries []CpioEntry) []byte {
	var b bytes.Buffer
	write := func(e CpioEntry) {
		nlink := e.Nlink
		if nlink == 0 {
			nlink = 1
		}
		fmt.Fprintf(&b, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
			e.Ino, e.Mode, 0, 0, nlink, 1700000000, len(e.Data), 0, 0, 0, 0, len(e.Name)+1, 0)
		b.WriteString(e.Name)
		b.WriteByte(0)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
		b.Write(e.Data)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
	}
	for _, e := range entries {
		write(e)
	}
	write(CpioEntry{Name: "TRAILER!!!"})
	return b.Bytes()
}

// RPM assembles an RPM by hand around a payload as given (already compressed), its
// header naming compressor ("" for none), for malformed-input tests.
func RPM(compressor string, payload []byte) []byte {
	return rpmwrite.Assemble("test-1.0-1", map[int32]string{1000: "test", 1001: "1.0", 1002: "1", 1124: "cpio", 1125: compressor}, payload)
}

// Deb makes <name>_<version>_amd64.deb in dir with Debian's dpkg-deb, its data.tar
// compressed with comp (xz, zstd, gzip or none).
func Deb(t testing.TB, dir, name, version string, tree Tree, comp string) string {
	t.Helper()
	dpkgDeb := Tool(t, "dpkg-deb")
	root := filepath.Join(t.TempDir(), "pkg")
	tree.WriteDir(t, root)
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: amd64\nMaintainer: test <test@example.com>\nDescription: test package\n", name, version)
	WriteFile(t, filepath.Join(root, "DEBIAN"), "control", []byte(control))
	out := filepath.Join(dir, fmt.Sprintf("%s_%s_amd64.deb", name, version))
	os.MkdirAll(dir, 0o755)
	Run(t, dir, dpkgDeb, "--root-owner-group", "-Z"+comp, "--build", root, out)
	return out
}

// Makeself makes a makeself archive of tree named name in dir; comp is makeself's
// compression flag (--gzip, --xz, --zstd, --bzip2, --nocomp).
func Makeself(t testing.TB, dir, name string, tree Tree, comp string) string {
	t.Helper()
	makeself := Tool(t, "makeself")
	content := t.TempDir()
	tree.WriteDir(t, content)
	os.MkdirAll(dir, 0o755)
	out := filepath.Join(dir, name)
	Run(t, dir, makeself, "--quiet", comp, "--tar-quietly", content, out, "Test installer", "true")
	return out
}
