// Package index maintains a conda channel's index: per subdir repodata.json (and its
// .zst twin and index.html), the channel's channeldata.json and index.html, and the
// incremental state that lets an index run read each package's metadata once in its
// life. Every repodata write is a compare-and-swap on the ETag read at the start of the
// run: that is the fence that keeps a process which lost the channel lease from
// overwriting a newer index.
package index

import (
	"archive/tar"
	"bytes"
	"compress/bzip2"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/pkgbuild/condapkg"
)

// Metadata keys condachan stores on uploaded packages, so that an index run never has to
// download a package it published to learn its hashes.
const (
	MetaSHA256 = "condachan-sha256"
	MetaMD5    = "condachan-md5"
)

// Record is a repodata record: index.json without the fields conda-index drops, plus md5,
// sha256 and size. Numbers are kept as json.Number so that they survive unchanged.
type Record map[string]any

// droppedFields are the index.json fields conda-index leaves out of repodata.
var droppedFields = []string{"arch", "has_prefix", "mtime", "platform", "ucs", "requires_features", "binstar", "target-triplet", "machine", "operatingsystem"}

// PackageInfo is what an index run learns from one package.
type PackageInfo struct {
	Record Record `json:"record"`
	// Extra is metadata for channeldata.json (about.json fields, run_exports, activation
	// scripts) that repodata does not carry.
	Extra ChannelExtra `json:"extra"`
}

// ChannelExtra feeds channeldata.json.
type ChannelExtra struct {
	About       map[string]any `json:"about,omitempty"`
	RunExports  map[string]any `json:"run_exports,omitempty"`
	ActivateD   bool           `json:"activate_d,omitempty"`
	DeactivateD bool           `json:"deactivate_d,omitempty"`
	PostLink    bool           `json:"post_link,omitempty"`
	PreLink     bool           `json:"pre_link,omitempty"`
	PreUnlink   bool           `json:"pre_unlink,omitempty"`
	BinaryPfx   bool           `json:"binary_prefix,omitempty"`
	TextPfx     bool           `json:"text_prefix,omitempty"`
}

// IsPackage reports whether a file name is a conda package.
func IsPackage(name string) bool {
	base := path.Base(name)
	if strings.HasPrefix(base, ".") {
		return false
	}
	return strings.HasSuffix(base, ".conda") || strings.HasSuffix(base, ".tar.bz2")
}

// PackageStem is the file name without .conda or .tar.bz2.
func PackageStem(name string) string {
	base := path.Base(name)
	if s, ok := strings.CutSuffix(base, ".conda"); ok {
		return s
	}
	return strings.TrimSuffix(base, ".tar.bz2")
}

// tailSize is how much of a package's end the first ranged read fetches: the zip central
// directory and, for nearly every package, the whole info member with it.
const tailSize = 256 << 10

// tailReaderAt serves reads from one fetched tail of the object and fetches anything
// before it with one ranged read per call.
type tailReaderAt struct {
	ctx   context.Context
	store channel.Store
	key   string
	size  int64
	tail  []byte
	start int64
	reads int
}

func (t *tailReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= t.size {
		return 0, io.EOF
	}
	if t.tail == nil {
		t.start = max(0, t.size-tailSize)
		b, err := t.store.ReadRange(t.ctx, t.key, t.start, t.size-t.start)
		if err != nil {
			return 0, asStorageError(err)
		}
		t.reads++
		if int64(len(b)) != t.size-t.start {
			return 0, errChanged
		}
		t.tail = b
	}
	if off >= t.start {
		n := copy(p, t.tail[off-t.start:])
		if n < len(p) {
			return n, io.EOF
		}
		return n, nil
	}
	// Before the tail: fetch this range, extended up to the tail so a streaming reader
	// (the info member) usually needs this one request only.
	end := min(off+int64(len(p)), t.size)
	want := end - off
	if extra := t.start - end; extra > 0 && want < 1<<20 {
		end = min(t.start, off+max(want, 1<<20))
	}
	b, err := t.store.ReadRange(t.ctx, t.key, off, end-off)
	if err != nil {
		return 0, asStorageError(err)
	}
	t.reads++
	n := copy(p, b)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// storageError is a package read that failed in the storage rather than in the package:
// worth trying again in the next run, never remembered as an unreadable package.
type storageError struct{ err error }

func (e *storageError) Error() string { return e.err.Error() }
func (e *storageError) Unwrap() error { return e.err }

func asStorageError(err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	return &storageError{err}
}

// errChanged is an object replaced while it was being indexed.
var errChanged = &storageError{errors.New("changed while being indexed")}

// readPackage reads what the index needs from one package in the store: for .conda the
// info member with ranged reads; the hashes from metadata condachan stored at upload, or
// by reading the package once.
func readPackage(ctx context.Context, store channel.Store, obj channel.Object) (PackageInfo, error) {
	var info PackageInfo
	var files map[string][]byte
	var sha, md string
	if strings.HasSuffix(obj.Key, ".conda") {
		meta, err := store.Stat(ctx, obj.Key)
		if err != nil {
			return info, asStorageError(err)
		}
		if meta.ETag != obj.ETag || meta.Size != obj.Size {
			return info, errChanged
		}
		sha, md = meta.Metadata[MetaSHA256], meta.Metadata[MetaMD5]
		ra := &tailReaderAt{ctx: ctx, store: store, key: obj.Key, size: obj.Size}
		cr, err := condapkg.NewReader(ra, obj.Size, obj.Key)
		if err != nil {
			return info, err
		}
		files, err = cr.InfoFiles(infoFileNames...)
		if err != nil {
			return info, err
		}
		if !validHex(sha, 64) || !validHex(md, 32) {
			if sha, md, _, err = hashObject(ctx, store, obj, nil); err != nil {
				return info, err
			}
		}
	} else {
		// .tar.bz2: there is no index to range-read; one pass hashes it and finds info/.
		var err error
		files = map[string][]byte{}
		sha, md, _, err = hashObject(ctx, store, obj, func(r io.Reader) error { return readTarBz2Info(r, files) })
		if err != nil {
			return info, err
		}
	}
	return packageInfo(files, sha, md, obj.Size)
}

// packageInfo makes the repodata record and channeldata facts of a package from its
// info files and hashes.
func packageInfo(files map[string][]byte, sha, md string, size int64) (PackageInfo, error) {
	raw, ok := files["info/index.json"]
	if !ok {
		return PackageInfo{}, errors.New("no info/index.json")
	}
	rec, err := parseIndexJSON(raw)
	if err != nil {
		return PackageInfo{}, fmt.Errorf("info/index.json: %w", err)
	}
	rec["md5"], rec["sha256"], rec["size"] = md, sha, size
	return PackageInfo{Record: rec, Extra: channelExtra(files)}, nil
}

var infoFileNames = []string{"info/index.json", "info/about.json", "info/run_exports.json", "info/paths.json"}

func validHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// hashObject streams an object once, hashing it; tee, when set, reads the same bytes.
func hashObject(ctx context.Context, store channel.Store, obj channel.Object, tee func(io.Reader) error) (sha, md string, n int64, err error) {
	rc, got, err := store.Get(ctx, obj.Key)
	if err != nil {
		return "", "", 0, asStorageError(err)
	}
	defer rc.Close()
	if got.ETag != obj.ETag {
		return "", "", 0, errChanged
	}
	hs, hm := sha256.New(), md5.New()
	src := io.TeeReader(storageReader{rc}, io.MultiWriter(hs, hm))
	if tee != nil {
		if err := tee(src); err != nil {
			return "", "", 0, err
		}
	}
	if _, err := io.Copy(io.Discard, src); err != nil {
		return "", "", 0, err
	}
	return hex.EncodeToString(hs.Sum(nil)), hex.EncodeToString(hm.Sum(nil)), obj.Size, nil
}

// storageReader marks the errors of a stored object's body as storage errors.
type storageReader struct{ r io.Reader }

func (s storageReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	return n, asStorageError(err)
}

// readTarBz2Info collects the info files the index wants from a .tar.bz2 package.
func readTarBz2Info(r io.Reader, files map[string][]byte) error {
	tr := tar.NewReader(bzip2.NewReader(r))
	want := map[string]bool{}
	for _, n := range infoFileNames {
		want[n] = true
	}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("not a valid .tar.bz2 package: %w", err)
		}
		name := strings.TrimPrefix(hdr.Name, "./")
		if want[name] && hdr.Typeflag == tar.TypeReg {
			if hdr.Size > 64<<20 {
				return fmt.Errorf("%s is %d bytes", name, hdr.Size)
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				return err
			}
			files[name] = b
		}
	}
}

// parseIndexJSON turns index.json into a repodata record.
func parseIndexJSON(raw []byte) (Record, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var rec Record
	if err := dec.Decode(&rec); err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, errors.New("not a JSON object")
	}
	for _, k := range []string{"name", "version", "build"} {
		if s, ok := rec[k].(string); !ok || s == "" {
			return nil, fmt.Errorf("missing %q", k)
		}
	}
	for _, f := range droppedFields {
		delete(rec, f)
	}
	return rec, nil
}

func decodeJSON(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(v)
}

// channelExtra derives channeldata facts from info files.
func channelExtra(files map[string][]byte) ChannelExtra {
	var ex ChannelExtra
	if b, ok := files["info/about.json"]; ok {
		var about map[string]any
		if decodeJSON(b, &about) == nil {
			ex.About = map[string]any{}
			for _, k := range []string{"description", "dev_url", "doc_url", "doc_source_url", "home", "license", "source_url", "source_git_url", "summary", "icon_url", "icon_hash", "tags", "identifiers", "keywords", "recipe_origin"} {
				if v, ok := about[k]; ok && v != nil {
					ex.About[k] = v
				}
			}
		}
	}
	if b, ok := files["info/run_exports.json"]; ok {
		var re map[string]any
		if decodeJSON(b, &re) == nil && len(re) > 0 {
			ex.RunExports = re
		}
	}
	if b, ok := files["info/paths.json"]; ok {
		var paths struct {
			Paths []struct {
				Path        string `json:"_path"`
				FileMode    string `json:"file_mode"`
				Placeholder string `json:"prefix_placeholder"`
			} `json:"paths"`
		}
		if json.Unmarshal(b, &paths) == nil {
			for _, p := range paths.Paths {
				switch {
				case strings.HasPrefix(p.Path, "etc/conda/activate.d/"):
					ex.ActivateD = true
				case strings.HasPrefix(p.Path, "etc/conda/deactivate.d/"):
					ex.DeactivateD = true
				}
				base := path.Base(p.Path)
				if strings.HasPrefix(p.Path, "bin/.") || strings.HasPrefix(p.Path, "Scripts/.") {
					switch {
					case strings.HasSuffix(base, "-post-link.sh"), strings.HasSuffix(base, "-post-link.bat"):
						ex.PostLink = true
					case strings.HasSuffix(base, "-pre-link.sh"), strings.HasSuffix(base, "-pre-link.bat"):
						ex.PreLink = true
					case strings.HasSuffix(base, "-pre-unlink.sh"), strings.HasSuffix(base, "-pre-unlink.bat"):
						ex.PreUnlink = true
					}
				}
				if p.Placeholder != "" {
					if p.FileMode == "binary" {
						ex.BinaryPfx = true
					} else {
						ex.TextPfx = true
					}
				}
			}
		}
	}
	return ex
}

// ReadLocalPackage reads a package file on this machine the way an index run reads one in
// the channel, hashing all of it: what Publish checks and uploads with. name is the file
// as its errors name it (a path, or a channel key); its base name is the package's.
func ReadLocalPackage(r io.ReaderAt, size int64, name string) (PackageInfo, error) {
	var info PackageInfo
	files := map[string][]byte{}
	hs, hm := sha256.New(), md5.New()
	all := io.TeeReader(io.NewSectionReader(r, 0, size), io.MultiWriter(hs, hm))
	if strings.HasSuffix(name, ".conda") {
		cr, err := condapkg.NewReader(r, size, name)
		if err != nil {
			return info, err // it names the file
		}
		if files, err = cr.InfoFiles(infoFileNames...); err != nil {
			return info, fmt.Errorf("%s: %w", name, err)
		}
	} else if err := readTarBz2Info(all, files); err != nil {
		return info, fmt.Errorf("%s: %w", name, err)
	}
	if _, err := io.Copy(io.Discard, all); err != nil {
		return info, fmt.Errorf("%s: %w", name, err)
	}
	info, err := packageInfo(files, hex.EncodeToString(hs.Sum(nil)), hex.EncodeToString(hm.Sum(nil)), size)
	if err != nil {
		return info, fmt.Errorf("%s: %w", name, err)
	}
	return info, nil
}
