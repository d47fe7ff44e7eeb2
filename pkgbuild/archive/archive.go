// Package archive reads upstream source archives (.tar.xz, .tar.gz, .tar.bz2, .tar.zst,
// .tar, .zip) and plain directories as one forward-only stream of entries, verifying the
// archive's sha256 on the way. Decompression and parsing run in their own goroutine, ahead
// of the consumer, so that decoding on one core overlaps with compressing on another.
package archive

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
)

// Kind is the type of an entry.
type Kind int

const (
	KindFile Kind = iota
	KindDir
	KindSymlink
	// KindHardlink is a second name for an earlier file entry (Entry.Link names it).
	KindHardlink
)

func (k Kind) String() string {
	switch k {
	case KindFile:
		return "file"
	case KindDir:
		return "directory"
	case KindSymlink:
		return "symlink"
	case KindHardlink:
		return "hard link"
	}
	return "unknown"
}

// Entry is one member of a source archive. Name is slash-separated, relative and clean:
// readers reject absolute names and ".." components before an Entry is made.
type Entry struct {
	Name    string
	Kind    Kind
	Mode    fs.FileMode // permission bits only
	Size    int64       // content length of a KindFile entry
	ModTime time.Time
	Link    string // symlink target as stored, or the Name of a hard link's target
}

// Options configure Open.
type Options struct {
	// Context, when set, stops the reading when it is done: Next and Read then return its
	// error, so a caller blocked on a slow source can be cancelled.
	Context context.Context
	// SHA256 and MD5, when set, are expected hex digests of the archive file. They are
	// checked while streaming; a mismatch makes Next return a *ChecksumError at the end.
	SHA256 string
	MD5    string
	// Progress, when set, is called from the reading goroutine with the number of archive
	// bytes consumed so far (compressed bytes for archives, file bytes for directories).
	Progress func(consumed int64)
	// TempDir receives the temporary copy of a zip read from a stream (OpenStream); the
	// system's temporary folder when "".
	TempDir string
}

// ChecksumError reports an archive whose digest is not the one the recipe names.
type ChecksumError struct {
	Path      string
	Algorithm string // "sha256" or "md5"
	Expected  string
	Actual    string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("%s: %s mismatch: recipe expects %s, file has %s (wrong or corrupted download?)", e.Path, e.Algorithm, e.Expected, e.Actual)
}

// wantsDigest reports whether the options ask for any digest to be checked.
func (o Options) wantsDigest() bool { return o.SHA256 != "" || o.MD5 != "" }

// Reader streams the entries of one source. Next advances to the next entry; Read reads
// the content of the current file entry. It is not safe for concurrent use.
type Reader struct {
	path   string
	ctx    context.Context // done when the caller's context ends or the Reader is closed
	events chan event
	free   chan []byte
	cancel context.CancelFunc
	done   chan struct{}

	cur     []byte // unread part of the current chunk
	curBuf  []byte // the pooled buffer cur points into
	inFile  bool
	pending *event // a header event read while draining content
	err     error
	closeMu sync.Once
	closed  atomic.Bool
	format  atomic.Int32 // Format+1 once known
}

// Format tells the source's format; valid once Next has returned an entry.
func (r *Reader) Format() Format {
	if f := r.format.Load(); f > 0 {
		return Format(f - 1)
	}
	return FormatDir
}

// errClosed is what a Reader returns once it is closed.
var errClosed = fmt.Errorf("archive: reader is closed: %w", fs.ErrClosed)

type event struct {
	entry *Entry
	data  []byte // a pooled chunk of the current entry's content
	err   error  // terminal: io.EOF at the clean end, or the failure
}

const (
	chunkSize  = 256 << 10
	chunkCount = 128 // 32 MiB read ahead: evens out the decoder's and the encoder's changing speeds
)

// Open starts reading the archive or directory at path. The format of a file is found
// from its magic bytes, not its name.
func Open(path string, opts Options) (*Reader, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return OpenFS(os.DirFS(path), ".", opts)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return start(path, opts, func(ctx context.Context, e *emitter) error {
		defer f.Close()
		// A read from a pipe or a stalled network mount can block for good; closing the
		// file ends it, so that cancelling or closing the Reader never waits on it.
		stop := context.AfterFunc(ctx, func() { f.Close() })
		defer stop()
		err := readFile(ctx, f, st.Size(), path, opts, e)
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return err
	}), nil
}

// OpenFS is Open for a file or directory in a file system (a recipe embedded in the
// binary carries its sources that way).
func OpenFS(fsys fs.FS, name string, opts Options) (*Reader, error) {
	st, err := fs.Stat(fsys, name)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		if opts.wantsDigest() {
			return nil, fmt.Errorf("%s: a sha256 or md5 is given but the source is a directory: remove it from the recipe", name)
		}
		return start(name, opts, func(ctx context.Context, e *emitter) error {
			return readDir(ctx, fsys, name, e, opts.Progress)
		}), nil
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	return start(name, opts, func(ctx context.Context, e *emitter) error {
		defer f.Close()
		return readFile(ctx, f, st.Size(), name, opts, e)
	}), nil
}

// OpenStream reads an archive from a stream, such as an archive inside another one (the
// outer Reader's content of that entry). name is used in messages. The stream is read
// from the Reader's own goroutine: the caller must not read it while this Reader is open.
func OpenStream(r io.Reader, name string, opts Options) *Reader {
	return start(name, opts, func(ctx context.Context, e *emitter) error {
		err := readFile(ctx, &ctxStream{ctx: ctx, r: r}, -1, name, opts, e)
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return err
	})
}

// ctxStream stops a read of a stream when the Reader is closed or cancelled.
type ctxStream struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxStream) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func start(path string, opts Options, produce func(ctx context.Context, e *emitter) error) *Reader {
	parent := opts.Context
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithCancel(parent)
	r := &Reader{
		ctx:    ctx,
		path:   path,
		events: make(chan event, chunkCount),
		free:   make(chan []byte, chunkCount+1),
		cancel: cancel,
		done:   make(chan struct{}),
	}
	go func() {
		defer close(r.done)
		em := &emitter{ctx: ctx, r: r}
		err := produce(ctx, em)
		if err == nil {
			err = io.EOF
		}
		select {
		case r.events <- event{err: err}:
		case <-ctx.Done():
		}
	}()
	return r
}

// Next returns the next entry, io.EOF after the last one (once the checksum and the
// compressed stream's own integrity checks have passed), or the error that stopped it.
// Unread content of the previous entry is skipped.
func (r *Reader) Next() (*Entry, error) {
	if r.closed.Load() {
		return nil, errClosed
	}
	if r.err != nil {
		return nil, r.err
	}
	r.releaseChunk()
	for {
		var ev event
		if r.pending != nil {
			ev, r.pending = *r.pending, nil
		} else {
			var err error
			if ev, err = r.receive(); err != nil {
				return nil, err
			}
		}
		switch {
		case ev.err != nil:
			r.err = ev.err
			r.inFile = false
			return nil, ev.err
		case ev.entry != nil:
			r.inFile = ev.entry.Kind == KindFile
			return ev.entry, nil
		default: // content of an entry the caller skipped
			r.free <- ev.data[:cap(ev.data)]
		}
	}
}

// Read reads content of the current file entry; io.EOF marks its end.
func (r *Reader) Read(p []byte) (int, error) {
	if err := r.fill(); err != nil {
		return 0, err
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// WriteTo hands whole chunks to w, saving a copy of the content.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if err := r.fill(); err != nil {
			if err == io.EOF {
				return total, nil
			}
			return total, err
		}
		n, err := w.Write(r.cur)
		total += int64(n)
		r.cur = r.cur[n:]
		if err != nil {
			return total, err
		}
	}
}

// fill makes r.cur non-empty, or reports the end of the current entry's content.
func (r *Reader) fill() error {
	if r.closed.Load() {
		return errClosed
	}
	for len(r.cur) == 0 {
		if !r.inFile {
			return io.EOF
		}
		r.releaseChunk()
		ev, err := r.receive()
		if err != nil {
			return err
		}
		if ev.entry != nil || ev.err != nil {
			r.pending = &ev
			r.inFile = false
			if ev.err != nil && ev.err != io.EOF {
				return ev.err
			}
			return io.EOF
		}
		r.cur, r.curBuf = ev.data, ev.data
	}
	return nil
}

// receive takes the producer's next event, or stops when the caller's context ends.
func (r *Reader) receive() (event, error) {
	select {
	case ev, ok := <-r.events:
		if !ok {
			return event{}, errClosed
		}
		return ev, nil
	case <-r.ctx.Done():
		if r.closed.Load() {
			return event{}, errClosed
		}
		// The producer may have finished just before: prefer what it sent.
		select {
		case ev, ok := <-r.events:
			if ok {
				return ev, nil
			}
		default:
		}
		r.err = fmt.Errorf("%s: %w", r.path, context.Cause(r.ctx))
		return event{}, r.err
	}
}

func (r *Reader) releaseChunk() {
	if r.curBuf != nil {
		r.free <- r.curBuf[:cap(r.curBuf)]
		r.curBuf, r.cur = nil, nil
	}
}

// Close stops the reading goroutine and waits for it to finish. Next, Read and WriteTo
// fail after Close.
func (r *Reader) Close() error {
	r.closeMu.Do(func() {
		r.closed.Store(true)
		r.cancel()
		// Drain so that a producer blocked on a full channel sees the cancellation.
		go func() {
			for range r.events {
			}
		}()
		<-r.done
		close(r.events)
	})
	return nil
}

// format records the source's format for Reader.Format, before its first entry.
func (e *emitter) format(f Format) { e.r.format.Store(int32(f) + 1) }

// emitter is the producer's side of the Reader.
type emitter struct {
	ctx       context.Context
	r         *Reader
	allocated int // chunks made so far; at most chunkCount+1, made as needed
}

func (e *emitter) entry(en *Entry) error {
	select {
	case e.r.events <- event{entry: en}:
		return nil
	case <-e.ctx.Done():
		return e.ctx.Err()
	}
}

// content copies src (exactly size bytes) into pooled chunks for the consumer.
func (e *emitter) content(src io.Reader, size int64, name string) error {
	for size > 0 {
		if err := e.ctx.Err(); err != nil {
			return err
		}
		var buf []byte
		select {
		case buf = <-e.r.free:
		default:
			if e.allocated < chunkCount+1 {
				// Small archives never need the whole read-ahead.
				e.allocated++
				buf = make([]byte, chunkSize)
				break
			}
			select {
			case buf = <-e.r.free:
			case <-e.ctx.Done():
				return e.ctx.Err()
			}
		}
		want := int64(len(buf))
		if size < want {
			want = size
		}
		n, err := io.ReadFull(src, buf[:want])
		if n > 0 {
			select {
			case e.r.events <- event{data: buf[:n]}:
			case <-e.ctx.Done():
				return e.ctx.Err()
			}
		} else {
			e.r.free <- buf
		}
		size -= int64(n)
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return fmt.Errorf("entry %s: archive ends inside its content (%d bytes missing): %w", name, size, io.ErrUnexpectedEOF)
			}
			return fmt.Errorf("entry %s: %w", name, err)
		}
	}
	return nil
}

// cleanName normalises an archive member name and rejects names that would leave the
// extraction root. It returns "" for the root itself ("./").
func cleanName(raw string) (string, error) {
	name := strings.ReplaceAll(raw, "\\", "/")
	if strings.HasPrefix(name, "/") || (len(name) >= 2 && name[1] == ':') {
		return "", fmt.Errorf("entry %s has an absolute path: refusing to unpack outside the prefix", quote(raw))
	}
	if strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("entry %s contains a NUL byte", quote(raw))
	}
	var parts []string
	for _, c := range strings.Split(name, "/") {
		switch c {
		case "", ".":
		case "..":
			return "", fmt.Errorf("entry %s has a \"..\" component: refusing to unpack outside the prefix", quote(raw))
		default:
			parts = append(parts, c)
		}
	}
	return strings.Join(parts, "/"), nil
}

// quote shows an entry name in an error message: in double quotes and as stored, so that
// the user can find it in a listing of the archive, or Go-escaped when it holds bytes
// that would garble a terminal.
func quote(name string) string {
	if !utf8.ValidString(name) {
		return strconv.Quote(name)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return strconv.Quote(name)
		}
	}
	return `"` + name + `"`
}

// progress calls Options.Progress with values that only ever rise.
type progress struct {
	fn   func(int64)
	last int64
}

func (p *progress) report(n int64) {
	if p.fn != nil && n > p.last {
		p.last = n
		p.fn(n)
	}
}

// hashingReader hashes and counts what passes through it. It stops when ctx is done, so
// that Close does not wait for a whole file to be hashed or decoded.
type hashingReader struct {
	ctx      context.Context
	r        io.Reader
	h        interface{ Write([]byte) (int, error) }
	n        int64
	progress *progress // ticks every MiB when set
	lastTick int64
}

func (h *hashingReader) Read(p []byte) (int, error) {
	if err := h.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := h.r.Read(p)
	if n > 0 {
		h.h.Write(p[:n])
		h.n += int64(n)
		if h.progress != nil && h.n-h.lastTick >= 1<<20 {
			h.lastTick = h.n
			h.progress.report(h.n)
		}
	}
	return n, err
}

// digests hashes an archive file with the algorithms its recipe names digests for.
type digests struct {
	sha256, md5 hash.Hash
	want        Options
}

func newDigests(opts Options) *digests {
	d := &digests{want: opts}
	if opts.SHA256 != "" {
		d.sha256 = sha256.New()
	}
	if opts.MD5 != "" {
		d.md5 = md5.New()
	}
	return d
}

func (d *digests) Write(p []byte) (int, error) {
	if d.sha256 != nil {
		d.sha256.Write(p)
	}
	if d.md5 != nil {
		d.md5.Write(p)
	}
	return len(p), nil
}

// check compares the digests of everything written with the expected ones.
func (d *digests) check(path string) error {
	if d.sha256 != nil {
		if err := checkDigest(path, "sha256", d.want.SHA256, d.sha256.Sum(nil)); err != nil {
			return err
		}
	}
	if d.md5 != nil {
		return checkDigest(path, "md5", d.want.MD5, d.md5.Sum(nil))
	}
	return nil
}

func checkDigest(path, algorithm, expected string, sum []byte) error {
	actual := hex.EncodeToString(sum)
	if expected != "" && !strings.EqualFold(expected, actual) {
		return &ChecksumError{Path: path, Algorithm: algorithm, Expected: strings.ToLower(expected), Actual: actual}
	}
	return nil
}

// SHA256File returns the hex sha256 of a file.
func SHA256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
