package testkit

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/condachan/condachan/pkgbuild/condapkg"
)

// PackageSpec describes a small .conda made directly with the writer, so tests control
// info/index.json byte for byte.
type PackageSpec struct {
	Name, Version, Build string
	Subdir               string // default linux-64
	// IndexJSON replaces the generated info/index.json when set.
	IndexJSON []byte
	// Extra fields merged into the generated index.json.
	Extra map[string]any
	Files Tree
	About map[string]any
	Time  time.Time
	// Placeholders gives files a prefix_placeholder and file_mode in paths.json.
	Placeholders map[string]Placeholder
	// PathsJSON replaces the generated info/paths.json when set.
	PathsJSON []byte
	// RunExports becomes info/run_exports.json when set.
	RunExports map[string]any
}

// Placeholder is a paths.json prefix_placeholder with its file_mode.
type Placeholder struct {
	Prefix, Mode string
}

// FileName is <name>-<version>-<build>.conda.
func (p PackageSpec) FileName() string {
	return fmt.Sprintf("%s-%s-%s.conda", p.Name, p.Version, p.Build)
}

// MakeConda writes the package into dir (dir/<file name>) and returns its path.
func MakeConda(t testing.TB, dir string, p PackageSpec) string {
	t.Helper()
	p.defaults()
	idx, files := indexJSON(t, p), p.Files
	path := filepath.Join(dir, p.FileName())
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := condapkg.NewWriter(f, fmt.Sprintf("%s-%s-%s", p.Name, p.Version, p.Build), condapkg.Options{Level: condapkg.LevelFast, ModTime: p.Time})
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := w.Pkg()
	if err != nil {
		t.Fatal(err)
	}
	var paths []map[string]any
	for _, name := range files.Paths() {
		n := files[name]
		if n.Link != "" {
			if err := pkg.WriteSymlink(name, n.Link, p.Time); err != nil {
				t.Fatal(err)
			}
			paths = append(paths, map[string]any{"_path": name, "path_type": "softlink", "sha256": fmt.Sprintf("%x", sha256.Sum256(nil)), "size_in_bytes": 0})
			continue
		}
		res, err := pkg.WriteFile(name, n.Mode, int64(len(n.Data)), p.Time, bytes.NewReader(n.Data))
		if err != nil {
			t.Fatal(err)
		}
		rec := map[string]any{"_path": name, "path_type": "hardlink", "sha256": fmt.Sprintf("%x", res.SHA256), "size_in_bytes": res.Size}
		if ph, ok := p.Placeholders[name]; ok {
			rec["prefix_placeholder"], rec["file_mode"] = ph.Prefix, ph.Mode
		}
		paths = append(paths, rec)
	}
	if err := pkg.Close(); err != nil {
		t.Fatal(err)
	}
	info, err := w.Info()
	if err != nil {
		t.Fatal(err)
	}
	pj, _ := json.Marshal(map[string]any{"paths": paths, "paths_version": 1})
	if p.PathsJSON != nil {
		pj = p.PathsJSON
	}
	infoFiles := map[string][]byte{"info/index.json": idx, "info/paths.json": pj}
	if p.About != nil {
		infoFiles["info/about.json"], _ = json.Marshal(p.About)
	}
	if p.RunExports != nil {
		infoFiles["info/run_exports.json"], _ = json.Marshal(p.RunExports)
	}
	for _, name := range []string{"info/index.json", "info/paths.json", "info/about.json", "info/run_exports.json"} {
		if data, ok := infoFiles[name]; ok {
			if _, err := info.WriteBytes(name, 0o644, data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := info.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// defaults fills in what a spec leaves out: linux-64, a fixed time, one README file.
func (p *PackageSpec) defaults() {
	if p.Subdir == "" {
		p.Subdir = "linux-64"
	}
	if p.Time.IsZero() {
		p.Time = time.Unix(1700000000, 0)
	}
	if p.Files == nil {
		p.Files = Tree{"share/" + p.Name + "/README": {Data: []byte(p.Name + " " + p.Version + "\n"), Mode: 0o644}}
	}
}

// indexJSON is the package's info/index.json: p.IndexJSON, or one made from its fields.
func indexJSON(t testing.TB, p PackageSpec) []byte {
	t.Helper()
	idx := p.IndexJSON
	if idx == nil {
		m := map[string]any{"name": p.Name, "version": p.Version, "build": p.Build, "build_number": 0, "depends": []string{}, "subdir": p.Subdir, "timestamp": p.Time.UnixMilli(), "license": "MIT"}
		for k, v := range p.Extra {
			m[k] = v
		}
		var err error
		if idx, err = json.MarshalIndent(m, "", "  "); err != nil {
			t.Fatal(err)
		}
	}
	return idx
}

// TarBz2FileName is <name>-<version>-<build>.tar.bz2.
func (p PackageSpec) TarBz2FileName() string {
	return fmt.Sprintf("%s-%s-%s.tar.bz2", p.Name, p.Version, p.Build)
}

// MakeTarBz2 writes the package in the old .tar.bz2 format (compressed by Debian's
// bzip2) into dir and returns its path. It holds info/index.json, info/paths.json,
// info/files and the files.
func MakeTarBz2(t testing.TB, dir string, p PackageSpec) string {
	t.Helper()
	p.defaults()
	idx, files := indexJSON(t, p), p.Files
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, mode int64, data []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(data)), ModTime: p.Time, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	var paths []map[string]any
	var list []string
	for _, name := range files.Paths() {
		n := files[name]
		paths = append(paths, map[string]any{"_path": name, "path_type": "hardlink", "sha256": fmt.Sprintf("%x", sha256.Sum256(n.Data)), "size_in_bytes": len(n.Data)})
		list = append(list, name)
	}
	pj, _ := json.Marshal(map[string]any{"paths": paths, "paths_version": 1})
	add("info/index.json", 0o644, idx)
	add("info/paths.json", 0o644, pj)
	add("info/files", 0o644, []byte(strings.Join(list, "\n")+"\n"))
	for _, name := range list {
		add(name, int64(files[name].Mode), files[name].Data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, p.TarBz2FileName())
	if err := os.WriteFile(path, Compress(t, buf.Bytes(), "bzip2"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
