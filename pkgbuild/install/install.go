// Package install puts a .conda package into a prefix the way conda does it: the pkg
// member is extracted, every file is checked against info/paths.json, files holding the
// build prefix get the install prefix (text or binary replacement), a post-link script
// runs with the prefix activated, and a conda-meta record is written. condachan uses it
// to run a recipe's tests on the package it built, and the tests use it to check that
// packages are relocatable. It installs one package; dependencies are not its business.
package install

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/condachan/condachan/internal/pyjson"
	"github.com/condachan/condachan/pkgbuild/condapkg"
)

// PathEntry is one record of info/paths.json.
type PathEntry struct {
	Path              string   `json:"_path"`
	PathType          string   `json:"path_type"`
	SHA256            string   `json:"sha256"`
	SizeInBytes       *int64   `json:"size_in_bytes"`
	PrefixPlaceholder string   `json:"prefix_placeholder,omitempty"`
	FileMode          FileMode `json:"file_mode,omitempty"`
	NoLink            bool     `json:"no_link,omitempty"`
}

// Options configure an install.
type Options struct {
	// RunLinkScripts runs the package's post-link script (bin/.<name>-post-link.sh, or
	// Scripts/.<name>-post-link.bat on Windows) after the files are in place, as conda
	// does. Its output goes to Output.
	RunLinkScripts bool
	Output         io.Writer
	// FileName is the package's file name when pkgPath is named otherwise (a temporary
	// file): the members inside a .conda are named after it.
	FileName string
}

// Result tells what was installed.
type Result struct {
	Name        string
	Version     string
	Build       string
	BuildNumber int
	Subdir      string
	// Paths are the package's paths.json records.
	Paths []PathEntry
	// Replaced lists the files whose build prefix was replaced.
	Replaced []string
}

// Package installs the .conda at pkgPath into prefix (created when missing). A file
// that the package would write over is an error, as are entries that paths.json does not
// describe or whose bytes do not match it.
func Package(ctx context.Context, pkgPath, prefix string, opts Options) (*Result, error) {
	prefix, err := filepath.Abs(prefix)
	if err != nil {
		return nil, err
	}
	f, rd, res, err := openInfo(pkgPath, opts.FileName)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := os.MkdirAll(prefix, 0o755); err != nil {
		return nil, err
	}
	if err := extract(ctx, rd, prefix, res.Paths); err != nil {
		return nil, fmt.Errorf("%s: %w", pkgPath, err)
	}
	if err := res.replacePrefixes(prefix); err != nil {
		return nil, fmt.Errorf("%s: %w", pkgPath, err)
	}
	if err := res.writeCondaMeta(prefix, rd.Stem()); err != nil {
		return nil, err
	}
	if opts.RunLinkScripts {
		if err := res.runPostLink(ctx, prefix, opts.Output); err != nil {
			return nil, fmt.Errorf("%s: %w", pkgPath, err)
		}
	}
	return res, nil
}

// Inspect reads a package's index.json and paths.json without installing it.
func Inspect(pkgPath, fileName string) (*Result, error) {
	f, _, res, err := openInfo(pkgPath, fileName)
	if err != nil {
		return nil, err
	}
	f.Close()
	return res, nil
}

// openInfo opens a package and reads its info; the caller closes the file.
func openInfo(pkgPath, fileName string) (*os.File, *condapkg.Reader, *Result, error) {
	if fileName == "" {
		fileName = filepath.Base(pkgPath)
	}
	f, err := os.Open(pkgPath)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := f.Stat()
	if err == nil {
		var rd *condapkg.Reader
		if rd, err = condapkg.NewReader(f, st.Size(), fileName); err == nil {
			var res *Result
			if res, err = readInfo(rd); err == nil {
				return f, rd, res, nil
			}
			err = fmt.Errorf("%s: %w", pkgPath, err)
		}
	}
	f.Close()
	return nil, nil, nil, err
}

// readInfo reads index.json and paths.json, checking the paths.json rules conda holds
// packages to.
func readInfo(rd *condapkg.Reader) (*Result, error) {
	files, err := rd.InfoFiles("info/index.json", "info/paths.json")
	if err != nil {
		return nil, err
	}
	var idx struct {
		Name        string `json:"name"`
		Version     string `json:"version"`
		Build       string `json:"build"`
		BuildNumber int    `json:"build_number"`
		Subdir      string `json:"subdir"`
	}
	if err := json.Unmarshal(files["info/index.json"], &idx); err != nil {
		return nil, fmt.Errorf("info/index.json: %w", err)
	}
	raw, ok := files["info/paths.json"]
	if !ok {
		return nil, errors.New("no info/paths.json")
	}
	var pj struct {
		PathsVersion int         `json:"paths_version"`
		Paths        []PathEntry `json:"paths"`
	}
	if err := json.Unmarshal(raw, &pj); err != nil {
		return nil, fmt.Errorf("info/paths.json: %w", err)
	}
	if pj.PathsVersion != 1 {
		return nil, fmt.Errorf("info/paths.json: paths_version %d (conda reads 1)", pj.PathsVersion)
	}
	seen := map[string]bool{}
	for _, p := range pj.Paths {
		switch {
		case condapkg.CheckPath(p.Path) != nil:
			return nil, fmt.Errorf("info/paths.json: %w", condapkg.CheckPath(p.Path))
		case seen[p.Path]:
			return nil, fmt.Errorf("info/paths.json: %s is listed twice", p.Path)
		case p.PathType != "hardlink" && p.PathType != "softlink":
			return nil, fmt.Errorf("info/paths.json: %s: path_type %q (conda needs hardlink or softlink)", p.Path, p.PathType)
		case (p.PrefixPlaceholder == "") != (p.FileMode == ""):
			return nil, fmt.Errorf("info/paths.json: %s: prefix_placeholder and file_mode go together (conda crashes on one without the other)", p.Path)
		case p.FileMode != "" && p.FileMode != Text && p.FileMode != Binary:
			return nil, fmt.Errorf("info/paths.json: %s: file_mode %q", p.Path, p.FileMode)
		case p.SizeInBytes == nil || len(p.SHA256) != 64:
			return nil, fmt.Errorf("info/paths.json: %s: sha256 and size_in_bytes are required", p.Path)
		}
		seen[p.Path] = true
	}
	return &Result{Name: idx.Name, Version: idx.Version, Build: idx.Build, BuildNumber: idx.BuildNumber, Subdir: idx.Subdir, Paths: pj.Paths}, nil
}

// extract writes the pkg member into prefix, checking each file against its record.
func extract(ctx context.Context, rd *condapkg.Reader, prefix string, paths []PathEntry) error {
	byPath := make(map[string]*PathEntry, len(paths))
	for i := range paths {
		byPath[paths[i].Path] = &paths[i]
	}
	tr, err := rd.PkgTar()
	if err != nil {
		return err
	}
	defer tr.Close()
	got := map[string]bool{}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		name := strings.TrimSuffix(hdr.Name, "/")
		if err := condapkg.CheckPath(name); err != nil {
			return fmt.Errorf("entry %s: %w", hdr.Name, err)
		}
		if hdr.Typeflag == tar.TypeDir {
			continue // conda creates the folders files need, and no others
		}
		rec := byPath[name]
		if rec == nil {
			return fmt.Errorf("entry %s is not in info/paths.json", name)
		}
		got[name] = true
		dest := filepath.Join(prefix, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return err
		}
		if _, err := os.Lstat(dest); err == nil {
			return fmt.Errorf("entry %s: %s exists already (clobbering another package's file)", name, dest)
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
			if rec.PathType != "hardlink" {
				return fmt.Errorf("entry %s is a file, paths.json says %s", name, rec.PathType)
			}
			if err := writeChecked(dest, tr, hdr, rec); err != nil {
				return fmt.Errorf("entry %s: %w", name, err)
			}
		case tar.TypeSymlink:
			if rec.PathType != "softlink" {
				return fmt.Errorf("entry %s is a symlink, paths.json says %s", name, rec.PathType)
			}
			if err := condapkg.CheckLinkTarget(name, hdr.Linkname); err != nil {
				return err
			}
			if err := os.Symlink(filepath.FromSlash(hdr.Linkname), dest); err != nil {
				return err
			}
		default:
			return fmt.Errorf("entry %s: tar type %q does not belong in a package", name, hdr.Typeflag)
		}
	}
	for _, p := range paths {
		if !got[p.Path] {
			return fmt.Errorf("info/paths.json lists %s, which the package does not hold", p.Path)
		}
	}
	return nil
}

func writeChecked(dest string, r io.Reader, hdr *tar.Header, rec *PathEntry) error {
	perm := fs.FileMode(0o644)
	if hdr.Mode&0o111 != 0 {
		perm = 0o755
	}
	out, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), r)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if n != *rec.SizeInBytes {
		return fmt.Errorf("%d bytes, paths.json says %d", n, *rec.SizeInBytes)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != rec.SHA256 {
		return fmt.Errorf("sha256 %s, paths.json says %s", sum, rec.SHA256)
	}
	return nil
}

// IsWindows tells whether a subdir's packages follow Windows rules.
func IsWindows(subdir string) bool { return strings.HasPrefix(subdir, "win-") }

// replacePrefixes rewrites the files that hold the build prefix.
func (r *Result) replacePrefixes(prefix string) error {
	newPrefix := prefix
	if IsWindows(r.Subdir) {
		newPrefix = filepath.ToSlash(prefix)
	}
	for _, p := range r.Paths {
		if p.PrefixPlaceholder == "" || p.PathType != "hardlink" {
			continue
		}
		dest := filepath.Join(prefix, filepath.FromSlash(p.Path))
		data, err := os.ReadFile(dest)
		if err != nil {
			return err
		}
		out, err := Replace(data, p.PrefixPlaceholder, newPrefix, p.FileMode, IsWindows(r.Subdir))
		if err != nil {
			return fmt.Errorf("%s: %w", p.Path, err)
		}
		if p.FileMode == Binary && len(out) != len(data) {
			return fmt.Errorf("%s: binary replacement changed the length", p.Path)
		}
		if bytes.Equal(out, data) {
			continue
		}
		st, err := os.Stat(dest)
		if err != nil {
			return err
		}
		if err := os.WriteFile(dest, out, st.Mode().Perm()|0o200); err != nil {
			return err
		}
		r.Replaced = append(r.Replaced, p.Path)
	}
	return nil
}

// writeCondaMeta writes conda-meta/<stem>.json, the record conda keeps of an installed
// package, so that conda itself recognises the prefix.
func (r *Result) writeCondaMeta(prefix, stem string) error {
	files := make([]any, len(r.Paths))
	paths := make([]any, len(r.Paths))
	for i, p := range r.Paths {
		files[i] = p.Path
		rec := map[string]any{"_path": p.Path, "path_type": p.PathType, "sha256": p.SHA256, "size_in_bytes": *p.SizeInBytes}
		if p.PrefixPlaceholder != "" {
			rec["prefix_placeholder"], rec["file_mode"] = p.PrefixPlaceholder, string(p.FileMode)
		}
		paths[i] = rec
	}
	meta := map[string]any{
		"name": r.Name, "version": r.Version, "build": r.Build, "build_number": r.BuildNumber,
		"subdir": r.Subdir, "fn": stem + condapkg.Extension, "files": files,
		"paths_data": map[string]any{"paths_version": 1, "paths": paths},
	}
	dir := filepath.Join(prefix, "conda-meta")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "history")); errors.Is(err, fs.ErrNotExist) {
		// conda takes a folder with conda-meta/history for an environment
		if err := os.WriteFile(filepath.Join(dir, "history"), nil, 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, stem+".json"), pyjson.MustMarshal(meta, pyjson.Indent2), 0o644)
}

// LinkScript is the path of a package's link script for an action (post-link,
// pre-unlink) relative to the prefix, as conda looks for it.
func LinkScript(name, action string, windows bool) string {
	if windows {
		return path.Join("Scripts", "."+name+"-"+action+".bat")
	}
	return path.Join("bin", "."+name+"-"+action+".sh")
}
