// Package srcdir lays a recipe's sources out in SRC_DIR for a build script, as
// rattler-build does: an archive is extracted (with condachan's own streaming readers and
// the checks the streaming build makes: no entry outside its folder, links that stay
// inside, the sha256 checked while reading) and loses its single top-level folder, other
// files are copied as they are, each into its target_directory, and each source's
// patches are applied after it lands.
package srcdir

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/condachan/condachan/pkgbuild/archive"
	"github.com/condachan/condachan/pkgbuild/condapkg"
	"github.com/condachan/condachan/pkgbuild/patch"
)

// Source is one source to lay out.
type Source struct {
	Name string // for messages: the archive's file name, or the path source
	// The file or folder: on disk (Path) or in a file system (FS, FSName).
	Path   string
	FS     fs.FS
	FSName string
	IsDir  bool

	SHA256, MD5 string
	// Extract unpacks an archive; otherwise the file is copied as FileName.
	Extract  bool
	FileName string
	// TargetDirectory is the folder under SRC_DIR (slash path, "" for SRC_DIR itself).
	TargetDirectory string
	// StripComponents removes leading folders of an archive's entries; -1 strips the
	// single top-level folder when the archive has exactly one.
	StripComponents int
	Patches         []Patch
}

// Patch is a patch file of the recipe folder.
type Patch struct {
	Name string
	Data []byte
}

// Options configure Stage.
type Options struct {
	// Progress is called with the bytes of sources read so far.
	Progress func(done int64)
	// Log receives a line for each step (source extracted, patch applied).
	Log func(string)
}

// Stage lays every source out under srcDir, which must exist.
func Stage(ctx context.Context, srcDir string, sources []Source, opts Options) error {
	var base int64
	for i, s := range sources {
		dest := srcDir
		if s.TargetDirectory != "" && s.TargetDirectory != "." {
			dest = filepath.Join(srcDir, filepath.FromSlash(s.TargetDirectory))
		}
		if err := os.MkdirAll(dest, 0o755); err != nil {
			return err
		}
		progress := func(n int64) {
			if opts.Progress != nil {
				opts.Progress(base + n)
			}
		}
		var err error
		var size int64
		switch {
		case s.IsDir || s.Extract:
			size, err = extract(ctx, srcDir, dest, i, s, progress)
		default:
			size, err = copyFile(ctx, dest, s, progress)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
		base += size
		for _, p := range s.Patches {
			res, err := patch.Apply(dest, p.Name, p.Data)
			if err != nil {
				return fmt.Errorf("%s: %w", s.Name, err)
			}
			if opts.Log != nil {
				line := fmt.Sprintf("applied %s to %s (-p%d, %d file(s))", p.Name, s.Name, res.Strip, len(res.Files))
				if len(res.Skipped) > 0 {
					line += "; already applied: " + strings.Join(res.Skipped, ", ")
				}
				opts.Log(line)
			}
		}
	}
	return nil
}

func (s Source) open(opts archive.Options) (*archive.Reader, error) {
	if s.Path != "" {
		return archive.Open(s.Path, opts)
	}
	return archive.OpenFS(s.FS, s.FSName, opts)
}

// extract unpacks an archive (or copies a folder) into a staging folder under srcDir,
// then moves it into dest: the archive's only top-level folder's content when it has
// one and strip_components is not set, else everything.
func extract(ctx context.Context, srcDir, dest string, idx int, s Source, progress func(int64)) (int64, error) {
	stage, err := os.MkdirTemp(srcDir, fmt.Sprintf(".condachan-extract-%d-", idx))
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(stage)
	var consumed int64
	ar, err := s.open(archive.Options{Context: ctx, SHA256: s.SHA256, MD5: s.MD5, Progress: func(n int64) {
		consumed = n
		progress(n)
	}})
	if err != nil {
		return 0, err
	}
	defer ar.Close()
	strip := s.StripComponents
	if s.IsDir && strip < 0 {
		strip = 0 // a folder is taken as it is
	}
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		en, err := ar.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
		name, ok, err := stripName(en.Name, strip, en.Kind == archive.KindDir)
		if err != nil {
			return 0, err
		}
		if !ok {
			continue
		}
		if err := writeEntry(stage, name, en, ar, strip); err != nil {
			return 0, fmt.Errorf("entry %s: %w", en.Name, err)
		}
	}
	root := stage
	if strip < 0 {
		entries, err := os.ReadDir(stage)
		if err != nil {
			return 0, err
		}
		if len(entries) == 1 && entries[0].IsDir() {
			root = filepath.Join(stage, entries[0].Name())
		}
	}
	if err := moveInto(root, dest); err != nil {
		return 0, err
	}
	return consumed, nil
}

// stripName removes strip leading folders (strip < 0: none here, decided afterwards).
func stripName(name string, strip int, isDir bool) (string, bool, error) {
	if strip <= 0 {
		return name, true, nil
	}
	parts := strings.SplitN(name, "/", strip+1)
	if len(parts) <= strip {
		if isDir {
			return "", false, nil
		}
		return "", false, fmt.Errorf("entry %s has fewer than %d leading folders to strip (strip_components)", name, strip)
	}
	return parts[strip], true, nil
}

// writeEntry creates one archive entry under root.
func writeEntry(root, name string, en *archive.Entry, r io.Reader, strip int) error {
	if err := condapkg.CheckPath(name); err != nil {
		return err
	}
	full := filepath.Join(root, filepath.FromSlash(name))
	if err := checkNoLinkAbove(root, name); err != nil {
		return err
	}
	switch en.Kind {
	case archive.KindDir:
		return os.MkdirAll(full, 0o755)
	case archive.KindFile:
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		return writeFile(full, en.Mode, en.ModTime, r, en.Size)
	case archive.KindSymlink:
		// The same rule as in packages: relative, and inside the folder it lands in.
		if err := condapkg.CheckLinkTarget(name, en.Link); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		return os.Symlink(filepath.FromSlash(en.Link), full)
	case archive.KindHardlink:
		target, ok, err := stripName(en.Link, strip, false)
		if err != nil || !ok {
			return fmt.Errorf("hard link to %s, which the stripping removed", en.Link)
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		return os.Link(filepath.Join(root, filepath.FromSlash(target)), full)
	}
	return fmt.Errorf("unsupported entry type %v", en.Kind)
}

// checkNoLinkAbove refuses to write beneath a symlink the archive made earlier: the
// write would land wherever the link points.
func checkNoLinkAbove(root, name string) error {
	for d := path.Dir(name); d != "."; d = path.Dir(d) {
		st, err := os.Lstat(filepath.Join(root, filepath.FromSlash(d)))
		if err == nil && st.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("lies beneath the symlink %s; refusing to write through a link", d)
		}
	}
	return nil
}

func writeFile(full string, mode fs.FileMode, mtime time.Time, r io.Reader, size int64) error {
	perm := fs.FileMode(0o644)
	if mode&0o111 != 0 {
		perm = 0o755
	}
	f, err := os.OpenFile(full, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, io.LimitReader(r, size))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("content ended after %d of %d bytes", n, size)
	}
	if !mtime.IsZero() {
		os.Chtimes(full, mtime, mtime)
	}
	return nil
}

// moveInto moves the children of from into dest. A name both hold is an error, except
// folders, which are merged.
func moveInto(from, dest string) error {
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range entries {
		src, dst := filepath.Join(from, e.Name()), filepath.Join(dest, e.Name())
		st, err := os.Lstat(dst)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Rename(src, dst); err != nil {
				return err
			}
		case err != nil:
			return err
		case st.IsDir() && e.IsDir():
			if err := moveInto(src, dst); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s is already in the source folder (from another source); give the sources different target_directory values", dst)
		}
	}
	return nil
}

// copyFile copies a source that stays as it is (an installer, a file_name: archive),
// checking its digests.
func copyFile(ctx context.Context, dest string, s Source, progress func(int64)) (int64, error) {
	var in io.ReadCloser
	var err error
	if s.Path != "" {
		in, err = os.Open(s.Path)
	} else {
		in, err = s.FS.Open(s.FSName)
	}
	if err != nil {
		return 0, err
	}
	defer in.Close()
	name := s.FileName
	if name == "" {
		name = s.Name
	}
	target := filepath.Join(dest, name)
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return 0, fmt.Errorf("copy into the source folder: %w", err)
	}
	ws := []io.Writer{out}
	var sha, md hash.Hash = sha256.New(), md5.New()
	if s.SHA256 != "" {
		ws = append(ws, sha)
	}
	if s.MD5 != "" {
		ws = append(ws, md)
	}
	n, err := io.Copy(io.MultiWriter(ws...), &progressReader{ctx: ctx, r: in, fn: progress})
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && s.SHA256 != "" {
		if got := hex.EncodeToString(sha.Sum(nil)); got != s.SHA256 {
			err = &archive.ChecksumError{Path: s.Name, Algorithm: "sha256", Expected: s.SHA256, Actual: got}
		}
	}
	if err == nil && s.MD5 != "" {
		if got := hex.EncodeToString(md.Sum(nil)); got != s.MD5 {
			err = &archive.ChecksumError{Path: s.Name, Algorithm: "md5", Expected: s.MD5, Actual: got}
		}
	}
	if err != nil {
		os.Remove(target)
		return 0, err
	}
	return n, nil
}

type progressReader struct {
	ctx context.Context
	r   io.Reader
	n   int64
	fn  func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	if err := p.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	p.fn(p.n)
	return n, err
}
