package pkgbuild

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/condachan/condachan/internal/exampleinstaller"
	"github.com/condachan/condachan/internal/testkit"
	"github.com/condachan/condachan/pkgbuild/condapkg"
	"github.com/condachan/condachan/pkgbuild/recipe"
)

// Installer shapes built without a shell: RPMs, debs, makeself installers and archives
// inside archives, mapped by build.files as they stream.

// mayaApp is what the application RPM installs under usr/autodesk/maya2026.
func mayaApp() testkit.Tree {
	return testkit.Tree{
		"usr/autodesk/maya2026/bin/maya2026":             {Data: []byte("#!/bin/sh\necho maya\n"), Mode: 0o755},
		"usr/autodesk/maya2026/lib/libOpenMaya.so.2026":  {Data: []byte(strings.Repeat("\x7fELF OpenMaya ", 300)), Mode: 0o755},
		"usr/autodesk/maya2026/lib/libOpenMaya.so":       {Link: "libOpenMaya.so.2026"},
		"usr/autodesk/maya2026/scripts/startup/init.mel": {Data: []byte("// startup\n"), Mode: 0o644},
		"usr/autodesk/maya2026/Examples/cube.ma":         {Data: []byte("//Maya ASCII\n"), Mode: 0o644},
	}
}

func libXss() testkit.Tree {
	return testkit.Tree{
		"usr/lib64/libXss.so.1.0.0":                {Data: []byte(strings.Repeat("\x7fELF Xss ", 200)), Mode: 0o755},
		"usr/lib64/libXss.so.1":                    {Link: "libXss.so.1.0.0"},
		"usr/share/licenses/libXScrnSaver/COPYING": {Data: []byte("MIT\n"), Mode: 0o644},
	}
}

func alsaDeb() testkit.Tree {
	return testkit.Tree{
		"usr/lib/x86_64-linux-gnu/libasound.so.2.0.0": {Data: []byte(strings.Repeat("\x7fELF asound ", 200)), Mode: 0o644},
		"usr/lib/x86_64-linux-gnu/libasound.so.2":     {Link: "libasound.so.2.0.0"},
		"usr/share/doc/libasound2/copyright":          {Data: []byte("LGPL\n"), Mode: 0o644},
	}
}

// TestMayaStyleDeclarative builds a Maya-style release with real tools' packages: a
// vendor tarball of RPMs (xz and zstd payloads, symlinks, hard links) and a nested zip,
// plus a system-library RPM and a .deb as further sources, with a recipe that runs no
// shell; Debian's cph and bsdtar extract exactly the expected tree.
func TestMayaStyleDeclarative(t *testing.T) {
	work := t.TempDir()
	appRPM := testkit.RPMBuild(t, work, "Maya2026_64", "2026.0", mayaApp(), "xz",
		map[string]string{"usr/autodesk/maya2026/bin/mayapy": "usr/autodesk/maya2026/bin/maya2026"})
	licRPM := testkit.RPMBuild(t, work, "adsklicensing", "14.0.0", testkit.Tree{
		"opt/Autodesk/AdskLicensing/14.0.0/AdskLicensingService": {Data: []byte("#!/bin/sh\necho lic\n"), Mode: 0o755},
	}, "zstd", nil)
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	pit := testkit.Tree{"bin/ProductInformation.pit": {Data: []byte("PIT\n"), Mode: 0o644}, "manifest.xml": {Data: []byte("<m/>\n"), Mode: 0o644}}
	vendor := testkit.Tree{
		"Packages/Maya2026_64-2026.0-1.x86_64.rpm":   {Data: read(appRPM), Mode: 0o644},
		"Packages/adsklicensing-14.0.0-1.x86_64.rpm": {Data: read(licRPM), Mode: 0o644},
		"Packages/package.zip":                       {Data: pit.Zip(t, ""), Mode: 0o644},
		"Setup":                                      {Data: []byte("#!/bin/sh\n"), Mode: 0o755},
	}
	tgz := testkit.Compress(t, vendor.Tar(t, testkit.TarOptions{}), "gzip")
	xss := read(testkit.RPMBuild(t, work, "libXScrnSaver", "1.2.3", libXss(), "gzip", nil))
	deb := read(testkit.Deb(t, work, "libasound2", "1.2.8", alsaDeb(), "xz"))

	rdir := filepath.Join(t.TempDir(), "maya")
	downloads := t.TempDir()
	testkit.WriteFile(t, downloads, "Autodesk_Maya_2026_Linux_64bit.tgz", tgz)
	testkit.WriteFile(t, downloads, "libXScrnSaver-1.2.3-1.x86_64.rpm", xss)
	testkit.WriteFile(t, downloads, "libasound2_1.2.8_amd64.deb", deb)
	testkit.WriteFile(t, rdir, "recipe.yaml", []byte(`package: {name: maya, version: "2026.0"}
source:
  - url: https://example.invalid/Autodesk_Maya_2026_Linux_64bit.tgz
    sha256: `+testkit.SHA256(tgz)+`
    target_directory: installer
    strip_components: 0
  - url: https://mirror.example.invalid/libXScrnSaver-1.2.3-1.x86_64.rpm
    sha256: `+testkit.SHA256(xss)+`
    target_directory: system/xss
  - url: https://mirror.example.invalid/libasound2_1.2.8_amd64.deb
    sha256: `+testkit.SHA256(deb)+`
    target_directory: system/alsa
build:
  files:
    - from: installer/Packages/Maya2026_64-*.rpm/usr/autodesk/maya2026
      to: usr/autodesk/maya2026
      exclude: ["Examples/**"]
    - from: installer/Packages/adsklicensing-*.rpm/opt
      to: opt
    - from: installer/Packages/package.zip/bin
      to: usr/autodesk/maya2026/lib
      include: [ProductInformation.pit]
    - from: system/xss/usr/lib64
      to: usr/autodesk/maya2026/lib
    - from: system/alsa/usr/lib/x86_64-linux-gnu
      to: usr/autodesk/maya2026/lib
  links:
    - {path: bin/maya, target: ../usr/autodesk/maya2026/bin/maya2026}
tests:
  - script: [maya]
`))
	r, err := recipe.LoadDir(rdir, "linux-64")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Build(context.Background(), Options{Recipe: r, SearchDirs: []string{downloads}, OutputDir: t.TempDir(),
		Compression: condapkg.LevelFast, Timestamp: fixedTime, RunTests: true})
	if err != nil {
		t.Fatal(err)
	}
	app := mayaApp()
	want := testkit.Tree{
		"usr/autodesk/maya2026/bin/maya2026":                     app["usr/autodesk/maya2026/bin/maya2026"],
		"usr/autodesk/maya2026/bin/mayapy":                       app["usr/autodesk/maya2026/bin/maya2026"],
		"usr/autodesk/maya2026/lib/libOpenMaya.so.2026":          app["usr/autodesk/maya2026/lib/libOpenMaya.so.2026"],
		"usr/autodesk/maya2026/lib/libOpenMaya.so":               app["usr/autodesk/maya2026/lib/libOpenMaya.so"],
		"usr/autodesk/maya2026/scripts/startup/init.mel":         app["usr/autodesk/maya2026/scripts/startup/init.mel"],
		"usr/autodesk/maya2026/lib/ProductInformation.pit":       pit["bin/ProductInformation.pit"],
		"usr/autodesk/maya2026/lib/libXss.so.1.0.0":              libXss()["usr/lib64/libXss.so.1.0.0"],
		"usr/autodesk/maya2026/lib/libXss.so.1":                  libXss()["usr/lib64/libXss.so.1"],
		"usr/autodesk/maya2026/lib/libasound.so.2.0.0":           alsaDeb()["usr/lib/x86_64-linux-gnu/libasound.so.2.0.0"],
		"usr/autodesk/maya2026/lib/libasound.so.2":               alsaDeb()["usr/lib/x86_64-linux-gnu/libasound.so.2"],
		"opt/Autodesk/AdskLicensing/14.0.0/AdskLicensingService": {Data: []byte("#!/bin/sh\necho lic\n"), Mode: 0o755},
		"bin/maya": {Link: "../usr/autodesk/maya2026/bin/maya2026"},
	}
	for name, got := range map[string]testkit.Tree{
		"cph x":  payload(testkit.ReadDirTree(t, extractCPH(t, res.Path))),
		"bsdtar": payload(testkit.ReadDirTree(t, extractBsdtar(t, res.Path))),
	} {
		if d := testkit.Diff(want, got); d != "" {
			t.Errorf("%s extracts a different tree:\n%s", name, d)
		}
	}
}

// TestSameTreeFromEveryShape: one application tree shipped as an RPM inside a tarball, a
// makeself installer, a tar.gz inside a tar.gz, and a .deb gives the same package tree.
func TestSameTreeFromEveryShape(t *testing.T) {
	app := testkit.Tree{
		"bin/render":     {Data: []byte("#!/bin/sh\necho render\n"), Mode: 0o755},
		"lib/libr.so.3":  {Data: []byte(strings.Repeat("\x7fELF r ", 500)), Mode: 0o755},
		"lib/libr.so":    {Link: "libr.so.3"},
		"share/r/a.json": {Data: []byte("{}\n"), Mode: 0o644},
	}
	work := t.TempDir()
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	rpm := read(testkit.RPMBuild(t, work, "render", "3.0", app.Prefixed("opt/render"), "zstd", nil))
	inner := testkit.Compress(t, app.Tar(t, testkit.TarOptions{}), "gzip")
	shapes := []struct {
		name string
		file string
		data []byte
		from string
	}{
		{"rpm in a tarball", "render-3.0.tgz", testkit.Compress(t, testkit.Tree{"Packages/render-3.0-1.x86_64.rpm": {Data: rpm, Mode: 0o644}}.Tar(t, testkit.TarOptions{Top: "render-3.0"}), "gzip"), "src/Packages/render-3.0-1.x86_64.rpm/opt/render"},
		{"makeself installer", "render-3.0.run", read(testkit.Makeself(t, work, "render-3.0.run", app.Prefixed("payload"), "--xz")), "src/payload"},
		{"tar.gz in a tar.gz", "render-3.0.tar.gz", testkit.Compress(t, testkit.Tree{"payload.tar.gz": {Data: inner, Mode: 0o644}, "install.sh": {Data: []byte("#!/bin/sh\n"), Mode: 0o755}}.Tar(t, testkit.TarOptions{Top: "render-3.0"}), "gzip"), "src/payload.tar.gz"},
		{"deb", "render_3.0_amd64.deb", read(testkit.Deb(t, work, "render", "3.0", app.Prefixed("opt/render"), "zstd")), "src/opt/render"},
	}
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			dir := t.TempDir()
			archive := testkit.WriteFile(t, dir, sh.file, sh.data)
			rdir := filepath.Join(dir, "recipe")
			testkit.WriteFile(t, rdir, "recipe.yaml", []byte(`package: {name: render, version: "3.0"}
source:
  url: https://example.invalid/`+sh.file+`
  sha256: `+testkit.SHA256(sh.data)+`
  target_directory: src
build:
  files:
    - from: `+sh.from+`
      to: opt/render
`))
			r, err := recipe.LoadDir(rdir, "linux-64")
			if err != nil {
				t.Fatal(err)
			}
			res, err := Build(context.Background(), Options{Recipe: r, SourceArchives: []string{archive}, OutputDir: filepath.Join(dir, "out"), Compression: condapkg.LevelFast, Timestamp: fixedTime})
			if err != nil {
				t.Fatal(err)
			}
			if d := testkit.Diff(app.Prefixed("opt/render"), payload(testkit.ReadDirTree(t, extractCPH(t, res.Path)))); d != "" {
				t.Errorf("the package differs:\n%s", d)
			}
		})
	}
}

// TestNestedArchiveRefusals: a bad entry inside an archive inside a source is refused,
// naming the source, the inner archive and the entry, and nothing is written.
func TestNestedArchiveRefusals(t *testing.T) {
	evil := testkit.RPM("gzip", testkit.Compress(t, testkit.Cpio([]testkit.CpioEntry{{Name: "./opt/x/../../../etc/cron.d/evil", Mode: 0o100644, Data: []byte("x")}}), "gzip"))
	absLink := testkit.RPM("gzip", testkit.Compress(t, testkit.Cpio([]testkit.CpioEntry{{Name: "./opt/x/lib/libz.so", Mode: 0o120777, Data: []byte("/usr/lib64/libz.so.1")}}), "gzip"))
	lzma := testkit.RPM("lzma", []byte("not read"))
	for _, tt := range []struct {
		name string
		rpm  []byte
		want []string
	}{
		{"a .. entry", evil, []string{"vendor.tgz: vendor-1.0/Packages/app.rpm", `"./opt/x/../../../etc/cron.d/evil"`}},
		{"an absolute symlink", absLink, []string{"vendor.tgz: vendor-1.0/Packages/app.rpm", "opt/x/lib/libz.so", "absolute"}},
		{"an unknown compressor", lzma, []string{"vendor.tgz: vendor-1.0/Packages/app.rpm", "compressed with lzma"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tgz := testkit.Compress(t, testkit.Tree{"Packages/app.rpm": {Data: tt.rpm, Mode: 0o644}}.Tar(t, testkit.TarOptions{Top: "vendor-1.0"}), "gzip")
			archive := testkit.WriteFile(t, dir, "vendor.tgz", tgz)
			rdir := filepath.Join(dir, "recipe")
			testkit.WriteFile(t, rdir, "recipe.yaml", []byte(`package: {name: app, version: "1"}
source:
  url: https://example.invalid/vendor.tgz
  sha256: `+testkit.SHA256(tgz)+`
build:
  files:
    - from: Packages/app.rpm/opt/x
      to: opt/x
`))
			r, err := recipe.LoadDir(rdir, "linux-64")
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "out")
			_, err = Build(context.Background(), Options{Recipe: r, SourceArchives: []string{archive}, OutputDir: out, Compression: condapkg.LevelFast, Timestamp: fixedTime})
			if err == nil {
				t.Fatal("built")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			if files := outputFiles(t, out); len(files) != 0 {
				t.Errorf("left behind: %q", files)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("the output folder %s was left behind", out)
			}
		})
	}
}

// The shipped declarative examples build from the generated sources (byte for byte what
// their recipes pin) and install elsewhere.
func TestShippedDeclarativeExamples(t *testing.T) {
	files, err := exampleinstaller.Files()
	if err != nil {
		t.Fatal(err)
	}
	downloads := t.TempDir()
	for name, data := range files {
		testkit.WriteFile(t, downloads, name, data)
	}
	for _, tt := range []struct {
		recipe, run, want string
	}{
		{"maya-rpm-example", "maya --version; echo \"$MAYA_LOCATION\"", "maya 2026.0 in @/usr/autodesk/maya2026 (libraries: ProductInformation.pit libOpenMaya.so libOpenMaya.so.2026 libXss.so.1 libXss.so.1.0.0 libasound.so.2 libasound.so.2.0.0 )\n@/usr/autodesk/maya2026\n"},
		{"vendor-app-declarative-example", "vendor-app --version", "vendor-app 1.0.0 (@/opt/vendor-app)\n"},
	} {
		t.Run(tt.recipe, func(t *testing.T) {
			r, err := recipe.LoadFS(os.DirFS(filepath.Join("..", "recipes")), tt.recipe, "linux-64")
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range r.Sources {
				if got := testkit.SHA256(files[s.ArchiveName()]); got != s.SHA256 {
					t.Fatalf("%s: the recipe pins %s, the generated file is %s: update recipes/%s/recipe.yaml", s.ArchiveName(), s.SHA256, got, tt.recipe)
				}
			}
			res, err := Build(context.Background(), Options{Recipe: r, SearchDirs: []string{downloads}, OutputDir: t.TempDir(),
				Compression: condapkg.LevelFast, Timestamp: fixedTime, RunTests: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.TestsPassed) != 2 {
				t.Errorf("TestsPassed = %q", res.TestsPassed)
			}
			prefix := installElsewhere(t, res.Path)
			if got, want := activated(t, prefix, tt.run+"\n"), strings.ReplaceAll(tt.want, "@", prefix); got != want {
				t.Errorf("installed: %q\nwant      %q", got, want)
			}
		})
	}
}

// A build.files rule that maps nothing is reported, and a package nothing went into is
// refused: both are most often a from: that names no folder of the source tree.
func TestRulesThatMapNothing(t *testing.T) {
	tree := testkit.Tree{"app/bin/x": {Data: []byte("x"), Mode: 0o755}, "README": {Data: []byte("r"), Mode: 0o644}}
	data := testkit.Compress(t, tree.Tar(t, testkit.TarOptions{Top: "app-1.0"}), "gzip")
	for _, tt := range []struct {
		files string
		warn  string
		fail  string
	}{
		{"    - {from: app/bin, to: bin}\n    - {from: ap/lib, to: lib}\n", "build.files rule (from ap/lib) mapped no file (the source tree starts with: README, app)", ""},
		{"    - {from: application, to: opt}\n", "", "no file of the sources was packaged: no build.files rule maps anything (the source tree starts with: README, app)"},
	} {
		dir := t.TempDir()
		archive := testkit.WriteFile(t, dir, "app-1.0.tar.gz", data)
		rdir := filepath.Join(dir, "recipe")
		testkit.WriteFile(t, rdir, "recipe.yaml", []byte("package: {name: app, version: \"1.0\"}\nsource:\n  url: https://example.invalid/app-1.0.tar.gz\n  sha256: "+testkit.SHA256(data)+"\nbuild:\n  files:\n"+tt.files))
		r, err := recipe.LoadDir(rdir, "linux-64")
		if err != nil {
			t.Fatal(err)
		}
		res, err := Build(context.Background(), Options{Recipe: r, SourceArchives: []string{archive}, OutputDir: filepath.Join(dir, "out"), Compression: condapkg.LevelFast, Timestamp: fixedTime})
		switch {
		case tt.fail != "":
			if err == nil || !strings.Contains(err.Error(), tt.fail) {
				t.Errorf("error = %v, want %q", err, tt.fail)
			}
		case err != nil:
			t.Errorf("build: %v", err)
		case !strings.Contains(strings.Join(res.Warnings, "\n"), tt.warn):
			t.Errorf("warnings %q lack %q", res.Warnings, tt.warn)
		}
	}
}
