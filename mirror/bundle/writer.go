package bundle

import (
	"archive/tar"
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Start says what Create found at the bundle's path.
type Start int

const (
	// StartNew: nothing was there; a new bundle is built.
	StartNew Start = iota
	// StartOver: a partial bundle of other lock files (or an unreadable one) was removed,
	// or a complete bundle of other lock files is there; a new one is built, and a complete
	// one stays in place until Close replaces it.
	StartOver
	// StartResumed: a partial bundle of these lock files is continued, with its packages
	// that verified.
	StartResumed
	// StartComplete: a complete bundle of these lock files is there and verified; Close
	// leaves it as it is unless Add adds a package.
	StartComplete
)

func (s Start) String() string {
	switch s {
	case StartNew:
		return "new"
	case StartOver:
		return "started over"
	case StartResumed:
		return "resumed"
	case StartComplete:
		return "complete"
	}
	return fmt.Sprintf("Start(%d)", int(s))
}

var errClosed = errors.New("mirror bundle writer is closed")

// Writer builds a bundle in <path>.partial, appending one package at a time. It is not
// safe for concurrent use, and two Writers must not write the same path at once.
type Writer struct {
	path    string
	f       *os.File // the partial bundle; nil while a complete one is only verified
	end     int64    // where the next entry goes: just past the last complete one
	names   []string // the lock files' entry names, for the manifest
	entries []Entry
	index   map[string]int // Entry.Path → entries index
	start   Start
	kept    int
	closed  bool
	broken  error // a failed entry could not be cut off: nothing more is appended
}

// Create opens the bundle at path for writing, to be finished by Close or left to resume by
// Abort. locks (at least one) are stored first, in order. What Create finds decides how it
// starts (Start reports it):
//
//   - <path>.partial with the same lock files (names and bytes, in order) is resumed, whatever
//     is at path. Its packages are read once and re-hashed; the file is cut after the last
//     entry whose bytes match its sha256, which drops a torn entry, anything after a damaged
//     one, and trailing bytes. Add appends from there.
//   - <path>.partial with other lock files, or that is not a readable bundle, is removed.
//   - A bundle at path with the same lock files is verified the same way. When it is whole it
//     is left alone unless Add adds a package (it then goes back to <path>.partial until
//     Close): re-running pack on a finished bundle verifies it and changes nothing. When it is
//     damaged it becomes <path>.partial, cut after its last good entry.
//   - A bundle at path with other lock files stays until Close replaces it with the new one.
//   - A file at path that is not a version 1 bundle is refused rather than replaced later.
func Create(path string, locks []LockFile) (*Writer, error) {
	if err := checkLocks(locks); err != nil {
		return nil, fmt.Errorf("mirror bundle %s: %w", path, err)
	}
	w := &Writer{path: path, index: map[string]int{}}
	for i, l := range locks {
		w.names = append(w.names, strings.TrimPrefix(lockEntry(i+1, l.Name), locksDir))
	}
	if err := w.open(locks); err != nil {
		return nil, err
	}
	w.kept = len(w.entries)
	return w, nil
}

func (w *Writer) open(locks []LockFile) error {
	partial, err := scan(w.partial(), locks)
	if err != nil {
		return err
	}
	if partial.sameLocks {
		w.start = StartResumed
		return w.resume(partial)
	}
	if partial.found {
		if err := os.Remove(w.partial()); err != nil {
			return fmt.Errorf("remove partial mirror bundle of other lock files: %w", err)
		}
		w.start = StartOver
	}
	whole, err := scan(w.path, locks)
	switch {
	case err != nil:
		return err
	case whole.found && !whole.ours:
		return fmt.Errorf("not replacing %s, which is not a condachan mirror bundle: choose another output path or remove it: %w", w.path, whole.why)
	case whole.complete:
		w.start, w.end = StartComplete, whole.end
		w.keep(whole.entries...)
		return nil
	case whole.sameLocks:
		// Damaged: resumed like a partial, under the partial's name first, so that no file
		// called path is ever without its manifest.
		if err := w.rename(w.path, w.partial()); err != nil {
			return err
		}
		w.start = StartResumed
		return w.resume(whole)
	case whole.found:
		w.start = StartOver
	}
	return w.fresh(locks)
}

func checkLocks(locks []LockFile) error {
	if len(locks) == 0 {
		return errors.New("no lock files")
	}
	var total int
	for _, l := range locks {
		if !isLockName(l.Name) {
			return fmt.Errorf("lock file name %q is not a plain file name", l.Name)
		}
		total += len(l.Data)
	}
	if total > MaxLocksSize {
		return fmt.Errorf("the lock files together are %d bytes, more than the %d a bundle holds", total, MaxLocksSize)
	}
	return nil
}

// scanned is what scan found in a bundle file.
type scanned struct {
	found, ours, sameLocks, complete bool
	why                              error   // why it is not ours
	entries                          []Entry // the packages whose bytes match their sha256, in order
	end                              int64   // just past the last of them, or of the lock files
}

// scan reads a bundle file to see what can be kept of it. Only errors reading the file
// are returned; what is wrong with its content is in the result.
func scan(path string, locks []LockFile) (scanned, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return scanned{}, nil
	}
	if err != nil {
		return scanned{}, fmt.Errorf("open mirror bundle: %w", err)
	}
	defer f.Close()
	s := scanned{found: true}
	r := startReader(path, f)
	if s.why = r.readVersion(); s.why != nil {
		return s, r.ioError()
	}
	s.ours = true
	if r.readLocks() != nil || !equalLocks(r.locks, locks) {
		return s, r.ioError()
	}
	s.sameLocks, s.end = true, r.end
	buf := make([]byte, 1<<20)
	for {
		e, body, err := r.Next()
		if err == nil {
			// Wrapped, so that io.Discard's ReadFrom does not read in 8 KiB pieces.
			_, err = io.CopyBuffer(struct{ io.Writer }{io.Discard}, body, buf)
		}
		if err != nil {
			s.complete = err == io.EOF
			return s, r.ioError()
		}
		s.entries = append(s.entries, e)
		s.end = r.end
	}
}

func equalLocks(a, b []LockFile) bool {
	return slices.EqualFunc(a, b, func(x, y LockFile) bool { return x.Name == y.Name && bytes.Equal(x.Data, y.Data) })
}

// resume opens the partial bundle to append after the entries s kept.
func (w *Writer) resume(s scanned) error {
	f, err := os.OpenFile(w.partial(), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("resume mirror bundle: %w", err)
	}
	if err := cutAt(f, s.end); err != nil {
		f.Close()
		return fmt.Errorf("resume mirror bundle %s: %w", w.partial(), err)
	}
	w.f, w.end = f, s.end
	w.keep(s.entries...)
	return nil
}

// fresh starts a new partial bundle with the version and the lock files.
func (w *Writer) fresh(locks []LockFile) error {
	f, err := os.OpenFile(w.partial(), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create mirror bundle: %w", err)
	}
	tw := tar.NewWriter(f)
	err = writeSmall(tw, versionName, []byte(versionData))
	for i, l := range locks {
		if err == nil {
			err = writeSmall(tw, lockEntry(i+1, l.Name), l.Data)
		}
	}
	if err == nil {
		w.end, err = f.Seek(0, io.SeekCurrent)
	}
	if err != nil {
		f.Close()
		os.Remove(w.partial())
		return fmt.Errorf("write mirror bundle %s: %w", w.partial(), err)
	}
	w.f = f
	return nil
}

// Start says what Create found, and how many verified packages of it the bundle keeps.
func (w *Writer) Start() (how Start, kept int) { return w.start, w.kept }

// Has reports whether the bundle holds the package with this sha256, whole and verified.
func (w *Writer) Has(subdir, filename, sha256 string) bool {
	i, ok := w.index[subdir+"/"+filename]
	return ok && w.entries[i].SHA256 == strings.ToLower(sha256)
}

// Add streams a package's bytes from r into the bundle, hashing them on the way. e gives
// the Size and SHA256 (and the MD5, if known) the bytes must have; when they do not, the
// entry is cut off again and Add returns a *SizeMismatchError or *HashMismatchError. An
// error reading r is returned wrapped. Either way the bundle is as before and more packages
// may be added. A package the bundle holds already with this sha256 is not added again
// (r is not read); one with this name and another sha256 is a *ConflictError.
func (w *Writer) Add(e Entry, r io.Reader) error {
	switch {
	case w.closed:
		return errClosed
	case w.broken != nil:
		return w.broken
	}
	e.SHA256, e.MD5 = strings.ToLower(e.SHA256), strings.ToLower(e.MD5)
	if p := e.problem(); p != "" {
		return fmt.Errorf("mirror bundle %s: cannot add %s: %s", w.path, e.Path(), p)
	}
	if i, ok := w.index[e.Path()]; ok {
		if have := w.entries[i]; have.SHA256 != e.SHA256 {
			return &ConflictError{Bundle: w.path, Have: have, Add: e}
		}
		return nil
	}
	if w.f == nil {
		if err := w.reopen(); err != nil {
			return err
		}
	}
	if err := w.append(e, r); err != nil {
		return w.rollback(err)
	}
	w.keep(e)
	return nil
}

// append writes one package entry at w.end. The PAX records hold the expected hashes, so
// an entry whose bytes turn out different is dropped by a resume even if rollback never
// happens (a crash).
func (w *Writer) append(e Entry, r io.Reader) error {
	pax := map[string]string{paxSHA256: e.SHA256}
	if e.MD5 != "" {
		pax[paxMD5] = e.MD5
	}
	tw := tar.NewWriter(w.f) // one per entry: a failed entry leaves no state behind
	if err := tw.WriteHeader(header(pkgsDir+e.Path(), e.Size, pax)); err != nil {
		return fmt.Errorf("write mirror bundle %s: %w", w.partial(), err)
	}
	sha, md := sha256.New(), md5.New()
	dst := io.MultiWriter(tw, sha)
	if e.MD5 != "" {
		dst = io.MultiWriter(tw, sha, md)
	}
	n, err := io.CopyN(dst, r, e.Size)
	if err == nil {
		var extra int64
		extra, err = io.Copy(io.Discard, r) // to say how long the bytes were
		n += extra
	}
	switch {
	case n != e.Size && (err == nil || err == io.EOF):
		return &SizeMismatchError{Bundle: w.path, Entry: e, Got: n}
	case err != nil:
		return fmt.Errorf("copy %s into mirror bundle %s: %w", e.Path(), w.partial(), err)
	}
	if err := w.check(e, "sha256", e.SHA256, sha.Sum(nil)); err != nil {
		return err
	}
	if e.MD5 != "" {
		if err := w.check(e, "md5", e.MD5, md.Sum(nil)); err != nil {
			return err
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write mirror bundle %s: %w", w.partial(), err)
	}
	end, err := w.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return fmt.Errorf("write mirror bundle %s: %w", w.partial(), err)
	}
	w.end = end
	return nil
}

func (w *Writer) check(e Entry, algo, want string, sum []byte) error {
	if got := hex.EncodeToString(sum); got != want {
		return &HashMismatchError{Bundle: w.path, Entry: e, Algo: algo, Want: want, Got: got}
	}
	return nil
}

// rollback cuts a failed entry off. If even that fails nothing more is appended after the
// torn entry; a resume drops it anyway, since its bytes end early or miss their sha256.
func (w *Writer) rollback(err error) error {
	if cerr := cutAt(w.f, w.end); cerr != nil {
		w.broken = fmt.Errorf("mirror bundle %s: cut off a failed entry: %w", w.partial(), cerr)
		return errors.Join(err, w.broken)
	}
	return err
}

// reopen turns a complete bundle back into a partial one for Add to append to. The rename
// comes first and is synced, so that no file called path is ever without its manifest;
// then the manifest is cut off.
func (w *Writer) reopen() error {
	if err := w.rename(w.path, w.partial()); err != nil {
		w.broken = err
		return err
	}
	w.start = StartResumed
	if err := w.resume(scanned{end: w.end}); err != nil {
		w.broken = err
		return err
	}
	return nil
}

func (w *Writer) keep(es ...Entry) {
	for _, e := range es {
		w.index[e.Path()] = len(w.entries)
		w.entries = append(w.entries, e)
	}
}

// Close finishes the bundle: it appends the manifest and the end of the tar, syncs the
// file, renames <path>.partial to <path> and syncs the folder, so that after a crash path
// is the old file or the whole new one. A verified complete bundle nothing was added to
// is left untouched. Close after Close or Abort is an error.
func (w *Writer) Close() error {
	switch {
	case w.closed:
		return errClosed
	case w.broken != nil:
		return w.broken
	}
	w.closed = true
	if w.f == nil {
		return nil
	}
	err := w.finish()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("finish mirror bundle %s: %w", w.partial(), err)
	}
	return w.rename(w.partial(), w.path)
}

func (w *Writer) finish() error {
	m := manifest{Version: Version, Locks: w.names, Packages: w.entries}
	if m.Packages == nil {
		m.Packages = []Entry{}
	}
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if len(data) > MaxManifestSize {
		return fmt.Errorf("its manifest would be %d bytes, more than the %d a reader takes: split the lock files over several bundles", len(data), MaxManifestSize)
	}
	tw := tar.NewWriter(w.f)
	if err := writeSmall(tw, manifestName, data); err != nil {
		return err
	}
	if err := tw.Close(); err != nil { // the two zero blocks that end a tar
		return err
	}
	return w.f.Sync()
}

// Abort stops writing and leaves the partial bundle for the next Create to resume; when it
// holds no package it is removed instead. A complete bundle nothing was added to stays as
// it is. Abort after Close does nothing, so it can be deferred.
func (w *Writer) Abort() error {
	if w.closed || w.f == nil {
		w.closed = true
		return nil
	}
	w.closed = true
	if len(w.entries) == 0 {
		w.f.Close()
		if err := os.Remove(w.partial()); err != nil {
			return fmt.Errorf("remove empty mirror bundle: %w", err)
		}
		return nil
	}
	err := w.f.Sync()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("keep partial mirror bundle %s: %w", w.partial(), err)
	}
	return nil
}

func (w *Writer) partial() string { return w.path + partialSuffix }

// rename renames and syncs the folder, so that the new name survives a crash.
func (w *Writer) rename(from, to string) error {
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("mirror bundle: %w", err)
	}
	if err := syncDir(filepath.Dir(to)); err != nil {
		return fmt.Errorf("mirror bundle %s: sync folder: %w", to, err)
	}
	return nil
}

// syncDir makes renames in dir durable. Windows cannot open a folder to sync it, and NTFS
// journals renames itself.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func cutAt(f *os.File, off int64) error {
	if err := f.Truncate(off); err != nil {
		return err
	}
	_, err := f.Seek(off, io.SeekStart)
	return err
}

// writeSmall writes a whole entry from memory.
func writeSmall(tw *tar.Writer, name string, data []byte) error {
	if err := tw.WriteHeader(header(name, int64(len(data)), nil)); err != nil {
		return err
	}
	if _, err := tw.Write(data); err != nil {
		return err
	}
	return tw.Flush()
}

// header depends on nothing but the entry, so that the same lock files and packages make
// the same bundle byte for byte, resumed or packed in one go.
func header(name string, size int64, pax map[string]string) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644,
		ModTime: time.Unix(0, 0), Format: tar.FormatPAX, PAXRecords: pax}
}
