package bundle

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Reader reads a bundle from start to end: Open reads the version and the lock files,
// Next gives the packages one by one. It is not safe for concurrent use.
type Reader struct {
	name    string
	c       *countReader
	tr      *tar.Reader
	closer  io.Closer
	locks   []LockFile
	names   []string    // the locks' entry names, as the manifest lists them
	pending *tar.Header // the first header after the locks, read to see that they ended
	seen    map[string]bool
	read    []Entry
	gen     int    // counts Next calls, so a stale entry reader cannot read the next entry
	end     int64  // offset just past the last entry read whole (a package: and verified)
	last    string // that entry's name
	err     error  // sticky: once Next fails or ends, it keeps answering the same
}

// Open opens the bundle at path and reads its version and lock files.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open mirror bundle: %w", err)
	}
	r, err := newReader(path, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

// NewReader reads a bundle from a stream (an object in S3), named name in messages. It
// reads the stream once from start to end and closes it on Close.
func NewReader(name string, rc io.ReadCloser) (*Reader, error) {
	r, err := newReader(name, rc)
	if err != nil {
		rc.Close()
		return nil, err
	}
	r.closer = rc
	return r, nil
}

func newReader(name string, src io.Reader) (*Reader, error) {
	r := startReader(name, src)
	if err := r.readVersion(); err != nil {
		return nil, err
	}
	if err := r.readLocks(); err != nil {
		return nil, err
	}
	return r, nil
}

func startReader(name string, src io.Reader) *Reader {
	c := &countReader{r: src}
	return &Reader{name: name, c: c, tr: tar.NewReader(c), seen: map[string]bool{}}
}

// Locks are the bundle's lock files, in the order they were packed.
func (r *Reader) Locks() []LockFile { return r.locks }

// Close closes the bundle file.
func (r *Reader) Close() error {
	if r.closer == nil {
		return nil
	}
	return r.closer.Close()
}

// Next gives the next package and a reader of its bytes, valid until the following Next.
// The bytes are checked against the recorded sha256 as they are read: at their end the
// reader returns a *HashMismatchError instead of io.EOF when they differ (bytes not read to
// the end are skipped unchecked). After the last package Next checks that the manifest
// lists exactly the entries read and returns io.EOF; a bundle without a manifest gives an
// *IncompleteError.
func (r *Reader) Next() (Entry, io.Reader, error) {
	if r.err != nil {
		return Entry{}, nil, r.err
	}
	r.gen++
	e, body, err := r.next()
	if err != nil {
		r.err = err
	}
	return e, body, err
}

func (r *Reader) next() (Entry, io.Reader, error) {
	hdr := r.pending
	r.pending = nil
	if hdr == nil {
		var err error
		if hdr, err = r.header(); err != nil {
			return Entry{}, nil, err
		}
	}
	if hdr.Name == manifestName {
		return Entry{}, nil, r.finish(hdr)
	}
	e, err := r.entry(hdr)
	if err != nil {
		return Entry{}, nil, err
	}
	r.seen[e.Path()] = true
	r.read = append(r.read, e)
	return e, &entryReader{r: r, e: e, gen: r.gen, h: sha256.New()}, nil
}

// entry makes a package entry of a header, refusing anything else.
func (r *Reader) entry(hdr *tar.Header) (Entry, error) {
	rest, ok := strings.CutPrefix(hdr.Name, pkgsDir)
	if !ok {
		return Entry{}, r.formatError(hdr.Name, "unexpected entry: after the lock files come packages under "+pkgsDir+" and "+manifestName)
	}
	subdir, file, _ := strings.Cut(rest, "/")
	e := Entry{Subdir: subdir, Filename: file, Size: hdr.Size, SHA256: hdr.PAXRecords[paxSHA256], MD5: hdr.PAXRecords[paxMD5]}
	if p := e.problem(); p != "" {
		return Entry{}, r.formatError(hdr.Name, p)
	}
	if r.seen[e.Path()] {
		return Entry{}, r.formatError(hdr.Name, "duplicate entry")
	}
	return e, nil
}

// header reads the next tar header, refusing all but regular files: a bundle has no
// folders, links or devices, and sparse files would hide how long an entry really is.
func (r *Reader) header() (*tar.Header, error) {
	hdr, err := r.tr.Next()
	if err != nil {
		return nil, r.readError(err)
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil, r.formatError(hdr.Name, fmt.Sprintf("not a regular file (tar type %q)", hdr.Typeflag))
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return nil, r.formatError(hdr.Name, "a sparse file")
		}
	}
	return hdr, nil
}

func (r *Reader) readVersion() error {
	hdr, err := r.header()
	if err != nil && r.c.err != nil {
		return err
	}
	if err != nil || hdr.Name != versionName {
		return r.formatError("", "it does not start with "+versionName)
	}
	data, err := r.readSmall(hdr, 16, "VERSION is a few bytes")
	if err != nil {
		return err
	}
	if string(data) != versionData {
		return &VersionError{Bundle: r.name, Version: strings.TrimSpace(string(data))}
	}
	return nil
}

// readLocks reads the numbered lock files, up to the first entry that is not one.
func (r *Reader) readLocks() error {
	room := int64(MaxLocksSize) // for all the lock files together
	for {
		hdr, err := r.header()
		if err != nil {
			return err
		}
		rest, ok := strings.CutPrefix(hdr.Name, locksDir)
		if !ok {
			r.pending = hdr
			return nil
		}
		name, ok := strings.CutPrefix(rest, strconv.Itoa(len(r.locks)+1)+"-")
		if !ok || !isLockName(name) {
			return r.formatError(hdr.Name, fmt.Sprintf("expected lock file %d, named %s<n>-<base name>", len(r.locks)+1, locksDir))
		}
		data, err := r.readSmall(hdr, room, fmt.Sprintf("the lock files together may have %d bytes", MaxLocksSize))
		if err != nil {
			return err
		}
		room -= int64(len(data))
		r.locks = append(r.locks, LockFile{Name: name, Data: data})
		r.names = append(r.names, rest)
	}
}

// finish checks the manifest against the entries read and that nothing follows it.
func (r *Reader) finish(hdr *tar.Header) error {
	data, err := r.readSmall(hdr, MaxManifestSize, fmt.Sprintf("a manifest may have %d bytes", MaxManifestSize))
	if err != nil {
		return err
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return r.formatError(hdr.Name, fmt.Sprintf("not valid JSON: %v", err))
	}
	switch {
	case m.Version != Version:
		return r.formatError(hdr.Name, fmt.Sprintf("version %d, expected %d", m.Version, Version))
	case !slices.Equal(m.Locks, r.names):
		return r.formatError(hdr.Name, fmt.Sprintf("lists lock files %q, the bundle holds %q", m.Locks, r.names))
	case !slices.Equal(m.Packages, r.read):
		return r.formatError(hdr.Name, fmt.Sprintf("lists %d packages that differ from the %d the bundle holds", len(m.Packages), len(r.read)))
	}
	if next, err := r.tr.Next(); err != io.EOF {
		if err == nil {
			return r.formatError(next.Name, "follows "+manifestName)
		}
		return r.formatError("", fmt.Sprintf("after %s: %v", manifestName, err))
	}
	return io.EOF
}

// readSmall reads a whole entry of at most max bytes (limit says why). It allocates as the
// bytes arrive, not what the header claims.
func (r *Reader) readSmall(hdr *tar.Header, max int64, limit string) ([]byte, error) {
	if hdr.Size > max {
		return nil, r.formatError(hdr.Name, fmt.Sprintf("too large: %d bytes; %s", hdr.Size, limit))
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, r.tr); err != nil {
		return nil, r.readError(err)
	}
	r.done(hdr.Name)
	return buf.Bytes(), nil
}

// readError words an error from tar: one reading the file itself, an early end, or bytes
// that are not a tar.
func (r *Reader) readError(err error) error {
	switch {
	case r.c.err != nil:
		return r.ioError()
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return &IncompleteError{Bundle: r.name, After: r.last}
	}
	return r.formatError("", fmt.Sprintf("after entry %q: %v", r.last, err))
}

// ioError is the error reading the file itself, if any: a bundle that cannot be read is
// not one to remove.
func (r *Reader) ioError() error {
	if r.c.err != nil {
		return fmt.Errorf("read mirror bundle %s: %w", r.name, r.c.err)
	}
	return nil
}

// done records that the current entry was read whole: a partial bundle is kept up to here.
func (r *Reader) done(name string) {
	r.end = (r.c.n + 511) &^ 511
	r.last = name
}

func (r *Reader) formatError(entry, problem string) error {
	return &FormatError{Bundle: r.name, Entry: entry, Problem: problem}
}

// entryReader gives one package's bytes, hashing them.
type entryReader struct {
	r   *Reader
	e   Entry
	gen int
	h   hash.Hash
}

func (er *entryReader) Read(p []byte) (int, error) {
	if er.gen != er.r.gen {
		return 0, fmt.Errorf("mirror bundle %s: %s read after Next", er.r.name, er.e.Path())
	}
	n, err := er.r.tr.Read(p)
	er.h.Write(p[:n])
	if err == io.EOF {
		if got := hex.EncodeToString(er.h.Sum(nil)); got != er.e.SHA256 {
			return n, &HashMismatchError{Bundle: er.r.name, Entry: er.e, Algo: "sha256", Want: er.e.SHA256, Got: got}
		}
		er.r.done(pkgsDir + er.e.Path())
		return n, io.EOF
	}
	if err != nil {
		err = er.r.readError(err)
	}
	return n, err
}

// countReader counts the bytes read, so that a partial bundle can be cut after its last
// good entry, and keeps the source's own errors apart from what tar makes of the bytes.
// It seeks when its source does, so that entries nobody reads are skipped, not read.
type countReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF {
		c.err = err
	}
	return n, err
}

func (c *countReader) Seek(offset int64, whence int) (int64, error) {
	s, ok := c.r.(io.Seeker)
	if !ok {
		return 0, errors.New("cannot seek")
	}
	pos, err := s.Seek(offset, whence)
	if err == nil {
		c.n = pos
	}
	return pos, err
}
