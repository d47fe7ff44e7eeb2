package archive

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/condachan/condachan/internal/testkit"
)

// libTree is what a distribution's library RPM holds: a versioned library, its links and
// a license in a deeper folder.
func libTree() testkit.Tree {
	return testkit.Tree{
		"usr/lib64/libXss.so.1.0.0":         {Data: bytes.Repeat([]byte("\x7fELF library "), 500), Mode: 0o755},
		"usr/lib64/libXss.so.1":             {Link: "libXss.so.1.0.0"},
		"usr/share/licenses/libXss/COPYING": {Data: []byte("MIT\n"), Mode: 0o644},
	}
}

func readPath(t *testing.T, p string) (*collected, *Reader, error) {
	t.Helper()
	r, err := Open(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	c, err := collectWithin(t, r, viaRead, 30*time.Second)
	return c, r, err
}

func TestRPMPayloads(t *testing.T) {
	for _, payload := range []string{"zstd", "xz", "gzip", "none"} {
		t.Run(payload, func(t *testing.T) {
			tree := libTree()
			p := testkit.RPMBuild(t, t.TempDir(), "libXss", "1.2.3", tree, payload, map[string]string{"usr/lib64/libXss-hardlink.so": "usr/lib64/libXss.so.1.0.0"})
			c, r, err := readPath(t, p)
			if err != nil {
				t.Fatal(err)
			}
			want := testkit.Tree{}
			for k, v := range tree {
				want[k] = v
			}
			want["usr/lib64/libXss-hardlink.so"] = tree["usr/lib64/libXss.so.1.0.0"]
			if d := testkit.Diff(want, c.tree); d != "" {
				t.Fatal(d)
			}
			checkEntryInvariants(t, c.entries)
			if r.Format() != FormatRPM || r.Format().IsTarOrZip() {
				t.Errorf("Format() = %v", r.Format())
			}
		})
	}
}

func TestRPMChecksum(t *testing.T) {
	p := testkit.RPMBuild(t, t.TempDir(), "libXss", "1.2.3", libTree(), "xz", nil)
	data, _ := os.ReadFile(p)
	r, err := Open(p, Options{SHA256: testkit.SHA256(data)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := collectWithin(t, r, viaRead, 30*time.Second); err != nil {
		t.Fatalf("the right sha256: %v", err)
	}
	_, err = readArchive(t, "x.rpm", data, Options{SHA256: strings.Repeat("0", 64)}, viaRead)
	mustFail(t, err, "sha256 mismatch")
}

func TestDeb(t *testing.T) {
	for _, comp := range []string{"xz", "zstd", "gzip", "none"} {
		t.Run(comp, func(t *testing.T) {
			p := testkit.Deb(t, t.TempDir(), "libxss1", "1.2.3", libTree(), comp)
			c, r, err := readPath(t, p)
			if err != nil {
				t.Fatal(err)
			}
			if d := testkit.Diff(libTree(), c.tree); d != "" {
				t.Fatal(d)
			}
			if r.Format() != FormatDeb {
				t.Errorf("Format() = %v", r.Format())
			}
		})
	}
}

func TestMakeself(t *testing.T) {
	tree := testkit.Tree{
		"setup.sh":             {Data: []byte("#!/bin/sh\necho setup\n"), Mode: 0o755},
		"payload/bin/render":   {Data: bytes.Repeat([]byte("render "), 3000), Mode: 0o755},
		"payload/lib/a.so":     {Link: "a.so.1"},
		"payload/lib/a.so.1":   {Data: []byte("lib"), Mode: 0o644},
		"Bifrost-2.14.1.0.rpm": {Data: testkit.RPM("", testkit.Cpio([]testkit.CpioEntry{{Name: "./x", Mode: 0o100644, Data: []byte("x")}})), Mode: 0o644},
	}
	for _, comp := range []string{"--gzip", "--xz", "--zstd", "--bzip2", "--nocomp"} {
		t.Run(comp, func(t *testing.T) {
			p := testkit.Makeself(t, t.TempDir(), "vendor.run", tree, comp)
			c, r, err := readPath(t, p)
			if err != nil {
				t.Fatal(err)
			}
			if d := testkit.Diff(tree, c.tree); d != "" {
				t.Fatal(d)
			}
			if r.Format() != FormatMakeself {
				t.Errorf("Format() = %v", r.Format())
			}
		})
	}
}

// TestNestedStream reads archives from a stream, as build.files reads an archive inside
// another one: a zip (copied to a temporary file) and an RPM inside a tar.gz.
func TestNestedStream(t *testing.T) {
	inner := libTree()
	rpm := testkit.RPMBuild(t, t.TempDir(), "libXss", "1.2.3", inner, "zstd", nil)
	rpmData, _ := os.ReadFile(rpm)
	zip := inner.Zip(t, "")
	outer := testkit.Tree{
		"Packages/libXss-1.2.3-1.x86_64.rpm": {Data: rpmData, Mode: 0o644},
		"Packages/package.zip":               {Data: zip, Mode: 0o644},
	}
	data := testkit.Compress(t, outer.Tar(t, testkit.TarOptions{Top: "Maya2026"}), "gzip")
	r, _ := openFile(t, "maya.tgz", data, Options{})
	tmp := t.TempDir()
	for {
		en, err := r.Next()
		if err != nil {
			break
		}
		if en.Kind != KindFile {
			continue
		}
		nested := OpenStream(r, en.Name, Options{TempDir: tmp})
		c, err := collectWithin(t, nested, viaRead, 30*time.Second)
		nested.Close()
		if err != nil {
			t.Fatalf("%s: %v", en.Name, err)
		}
		if d := testkit.Diff(inner, c.tree); d != "" {
			t.Errorf("%s:\n%s", en.Name, d)
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestMalformedPackages(t *testing.T) {
	cpioOK := testkit.Cpio([]testkit.CpioEntry{{Name: "./usr/lib64/a.so", Mode: 0o100755, Data: []byte("lib")}})
	gz := func(b []byte) []byte { return testkit.Compress(t, b, "gzip") }
	rpmOK := testkit.RPMBuild(t, t.TempDir(), "libXss", "1.2.3", libTree(), "xz", nil)
	rpmData, _ := os.ReadFile(rpmOK)
	makeself := testkit.Makeself(t, t.TempDir(), "x.run", testkit.Tree{"a.txt": {Data: []byte("a\n"), Mode: 0o644}}, "--gzip")
	msData, _ := os.ReadFile(makeself)
	tests := []struct {
		name  string
		file  string
		data  []byte
		words []string
	}{
		{"rpm payload cut off", "a.rpm", rpmData[:len(rpmData)-200], []string{"a.rpm", "rpm payload", "truncated"}},
		{"rpm header cut off", "a.rpm", rpmData[:200], []string{"a.rpm", "header is cut off"}},
		{"bad cpio header", "a.rpm", testkit.RPM("gzip", gz(append([]byte("0707XYnot a header at all"), make([]byte, 200)...))), []string{"a.rpm", "cpio: bad header at byte 0"}},
		{"a ../ entry", "a.rpm", testkit.RPM("gzip", gz(testkit.Cpio([]testkit.CpioEntry{{Name: "../../etc/passwd", Mode: 0o100644, Data: []byte("x")}}))), []string{"a.rpm", `"../../etc/passwd"`, `".."`}},
		{"an absolute entry", "a.rpm", testkit.RPM("gzip", gz(testkit.Cpio([]testkit.CpioEntry{{Name: "/etc/passwd", Mode: 0o100644, Data: []byte("x")}}))), []string{"a.rpm", `"/etc/passwd"`, "absolute"}},
		{"a device", "a.rpm", testkit.RPM("gzip", gz(testkit.Cpio([]testkit.CpioEntry{{Name: "./dev/null", Mode: 0o020666}}))), []string{"a.rpm", `"./dev/null"`, "device"}},
		{"a payload compressor we do not read", "a.rpm", testkit.RPM("lzma", cpioOK), []string{"a.rpm", "compressed with lzma", "gzip, xz, zstd and bzip2"}},
		{"a cpio without its trailer", "a.rpm", testkit.RPM("gzip", gz(cpioOK[:len(cpioOK)-124])), []string{"a.rpm", "before its trailer"}},
		{"a deb without data.tar", "a.deb", []byte("!<arch>\ndebian-binary   0           0     0     100644  4         `\n2.0\n"), []string{"a.deb", "no data.tar member"}},
		{"a makeself header with a wrong offset", "x.run", bytes.Replace(msData, []byte("\nskip=\""), []byte("\nskip=\"1"), 1), []string{"x.run", "makeself"}},
		{"a makeself header one line short", "x.run", bytes.Replace(msData, []byte("\nskip=\""+skipOf(t, msData)+"\""), []byte("\nskip=\""+minus1(skipOf(t, msData))+"\""), 1), []string{"x.run", "is not a gzip, xz, bzip2, zstd or tar stream"}},
		{"a makeself payload cut off", "x.run", msData[:len(msData)-40], []string{"x.run", "makeself payload 1"}},
		{"an encrypted makeself", "x.run", bytes.Replace(msData, []byte(`decrypt_cmd=""`), []byte(`decrypt_cmd="base64 -d"`), 1), []string{"x.run", "encrypted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readArchive(t, tt.file, tt.data, Options{}, viaRead)
			mustFail(t, err, tt.words...)
		})
	}
}

func skipOf(t *testing.T, data []byte) string {
	t.Helper()
	i := bytes.Index(data, []byte("\nskip=\""))
	if i < 0 {
		t.Fatal("no skip= in the makeself header")
	}
	rest := data[i+7:]
	return string(rest[:bytes.IndexByte(rest, '"')])
}

func minus1(s string) string {
	n, _ := strconv.Atoi(s)
	return strconv.Itoa(n - 1)
}
