package condapkg

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Level selects how hard the zstd encoder works on the pkg member. The levels are tuned
// for the build's pipeline on a small worker: the xz decoder keeps one core busy, so the
// encoder has about one core to itself (see bench/build.sh for the measurements).
type Level int

const (
	// LevelDefault keeps pace with the xz decoder on one core, so a build takes about
	// as long as reading the archive.
	LevelDefault Level = iota
	// LevelFast favours speed, for throwaway or test builds.
	LevelFast
	// LevelMax is the smallest output condachan makes in bounded memory: zstd's
	// strongest pure-Go level, split into two jobs that compress in parallel (one frame
	// all the same), so that it costs about three times the decode time, not six.
	LevelMax
)

// ParseLevel maps the CLI names fast, default and max to a Level.
func ParseLevel(s string) (Level, error) {
	switch s {
	case "fast":
		return LevelFast, nil
	case "", "default":
		return LevelDefault, nil
	case "max":
		return LevelMax, nil
	}
	return 0, fmt.Errorf("unknown compression %q: use fast, default or max", s)
}

func (l Level) String() string {
	switch l {
	case LevelFast:
		return "fast"
	case LevelMax:
		return "max"
	}
	return "default"
}

// MaxWindow is the largest zstd window condachan reads or writes. zstd clients refuse
// larger windows unless told otherwise (their default limit is 2^27).
const MaxWindow = 1 << 27

// Measured on the Blender-shaped benchmark archive (703 MB of tar, mostly ELF binaries):
// fast 253 MB, default 242 MB, max 229 MB. Larger windows gained under 2% at "best" but
// cost twice the time, and more jobs in parallel cost 100+ MiB of memory each. At
// "better" (default) a 32 MiB window gives 0.8% less than 8 MiB in the same time, for
// about 70 MiB more memory (2026-12: 242.0 against 243.9 MB, 12 s either way).
func (l Level) encoderOptions() []zstd.EOption {
	switch l {
	case LevelFast:
		return []zstd.EOption{zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithWindowSize(8 << 20)}
	case LevelMax:
		return []zstd.EOption{zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithWindowSize(8 << 20),
			zstd.WithConcurrentBlocks(true), zstd.WithEncoderConcurrency(2)}
	}
	return []zstd.EOption{zstd.WithEncoderLevel(zstd.SpeedBetterCompression), zstd.WithWindowSize(32 << 20)}
}

// Writer writes one .conda archive: metadata.json, then the pkg member, then the info
// member, in that order, as CEP 34 requires.
type Writer struct {
	zip     *zipWriter
	stem    string
	level   Level
	modTime time.Time
	state   writerState
}

type writerState int

const (
	wantPkg writerState = iota
	writingPkg
	wantInfo
	writingInfo
	wantClose
	closed
)

// Options configure a Writer.
type Options struct {
	// Level applies to the pkg member; the small info member always uses a fast level.
	Level Level
	// ModTime is written into the ZIP headers and given to generated tar entries; entries
	// streamed from a source keep their own time, clamped to ModTime so that a fixed
	// SOURCE_DATE_EPOCH gives reproducible bytes.
	ModTime time.Time
}

// NewWriter starts a .conda for the package file <stem>.conda on out, which must be
// positioned at its start (normally a fresh temp file).
func NewWriter(out io.WriteSeeker, stem string, opts Options) (*Writer, error) {
	if err := checkStem(stem); err != nil {
		return nil, err
	}
	w := &Writer{zip: newZipWriter(out, opts.ModTime), stem: stem, level: opts.Level, modTime: opts.ModTime.UTC().Truncate(time.Second)}
	meta, err := json.Marshal(Metadata{FormatVersion: FormatVersion})
	if err != nil {
		return nil, err
	}
	m, err := w.zip.create(MetadataMember, false)
	if err != nil {
		return nil, err
	}
	if _, err := m.Write(meta); err != nil {
		return nil, err
	}
	if err := m.Close(); err != nil {
		return nil, err
	}
	return w, nil
}

// Pkg starts the pkg-<stem>.tar.zst member, which holds the files installed in the prefix.
func (w *Writer) Pkg() (*TarWriter, error) {
	if w.state != wantPkg {
		return nil, fmt.Errorf("condapkg: pkg member must come right after metadata.json")
	}
	w.state = writingPkg
	return w.startTar(PkgMember(w.stem), w.level, true, wantInfo)
}

// Info starts the info-<stem>.tar.zst member, after the pkg member is closed.
func (w *Writer) Info() (*TarWriter, error) {
	if w.state != wantInfo {
		return nil, fmt.Errorf("condapkg: info member must come right after the pkg member")
	}
	w.state = writingInfo
	return w.startTar(InfoMember(w.stem), LevelFast, false, wantClose)
}

func (w *Writer) startTar(name string, level Level, large bool, next writerState) (*TarWriter, error) {
	m, err := w.zip.create(name, large)
	if err != nil {
		return nil, err
	}
	opts := append(level.encoderOptions(),
		zstd.WithEncoderCRC(true),
		zstd.WithZeroFrames(true))
	enc, err := zstd.NewWriter(m, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: zstd: %w", name, err)
	}
	return &TarWriter{
		name:    name,
		w:       w,
		member:  m,
		enc:     enc,
		tw:      tar.NewWriter(enc),
		clamp:   w.modTime,
		next:    next,
		copyBuf: make([]byte, 256<<10),
	}, nil
}

// Close writes the central directory. Both members must have been written and closed.
func (w *Writer) Close() error {
	if w.state != wantClose {
		return fmt.Errorf("condapkg: close before both pkg and info members were written")
	}
	w.state = closed
	return w.zip.close()
}

// TarWriter writes the entries of one member as a PAX tar inside a single zstd frame.
// Owners are normalised to 0/root-less, modes to 0644 or 0755, and every path is checked
// to stay inside the prefix.
type TarWriter struct {
	name    string
	w       *Writer
	member  *memberWriter
	enc     *zstd.Encoder
	tw      *tar.Writer
	clamp   time.Time
	next    writerState
	copyBuf []byte
	closed  bool
	written int64
	links   map[string]bool // symlinks written so far, to refuse entries beneath them
}

// FileResult describes a written regular file for paths.json.
type FileResult struct {
	SHA256 [sha256.Size]byte
	Size   int64
}

// checkEntry checks an entry's path and refuses paths beneath a symlink of this member:
// extracting one writes through the link, wherever it points.
func (t *TarWriter) checkEntry(p string) error {
	if err := CheckPath(p); err != nil {
		return err
	}
	for i := len(p) - 1; i > 0; i-- {
		if p[i] == '/' && t.links[p[:i]] {
			return fmt.Errorf("entry %s lies beneath the symlink %s; refusing to write through a link", p, p[:i])
		}
	}
	return nil
}

// WriteFile streams exactly size bytes from r as a regular file at path. Any execute bit in
// mode makes the file 0755, otherwise it is 0644.
func (t *TarWriter) WriteFile(path string, mode fs.FileMode, size int64, modTime time.Time, r io.Reader) (FileResult, error) {
	var res FileResult
	if err := t.checkEntry(path); err != nil {
		return res, err
	}
	perm := int64(0o644)
	if mode&0o111 != 0 {
		perm = 0o755
	}
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     path,
		Mode:     perm,
		Size:     size,
		ModTime:  t.entryTime(modTime),
		Format:   tar.FormatPAX,
	}
	if err := t.tw.WriteHeader(hdr); err != nil {
		return res, fmt.Errorf("%s: entry %s: %w", t.name, path, err)
	}
	h := sha256.New()
	n, err := io.CopyBuffer(hashingWriter{t.tw, h}, io.LimitReader(r, size), t.copyBuf)
	t.written += n
	if err != nil {
		return res, fmt.Errorf("entry %s: %w", path, err)
	}
	if n != size {
		return res, fmt.Errorf("entry %s: content ended after %d of %d bytes (truncated source?)", path, n, size)
	}
	h.Sum(res.SHA256[:0])
	res.Size = size
	return res, nil
}

// WriteBytes writes a generated file held in memory.
func (t *TarWriter) WriteBytes(path string, mode fs.FileMode, data []byte) (FileResult, error) {
	return t.WriteFile(path, mode, int64(len(data)), t.clamp, bytesReader(data))
}

// WriteSymlink writes a symbolic link at path pointing to target, which must be relative
// and resolve inside the prefix.
func (t *TarWriter) WriteSymlink(path, target string, modTime time.Time) error {
	if err := t.checkEntry(path); err != nil {
		return err
	}
	if err := CheckLinkTarget(path, target); err != nil {
		return err
	}
	hdr := &tar.Header{
		Typeflag: tar.TypeSymlink,
		Name:     path,
		Linkname: target,
		Mode:     0o777,
		ModTime:  t.entryTime(modTime),
		Format:   tar.FormatPAX,
	}
	if err := t.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("%s: entry %s: %w", t.name, path, err)
	}
	if t.links == nil {
		t.links = map[string]bool{}
	}
	t.links[path] = true
	return nil
}

// WriteDir writes a directory entry; only needed for directories that stay empty, since
// every extractor creates parents of files on its own.
func (t *TarWriter) WriteDir(path string, modTime time.Time) error {
	if err := t.checkEntry(path); err != nil {
		return err
	}
	hdr := &tar.Header{
		Typeflag: tar.TypeDir,
		Name:     path + "/",
		Mode:     0o755,
		ModTime:  t.entryTime(modTime),
		Format:   tar.FormatPAX,
	}
	if err := t.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("%s: entry %s: %w", t.name, path, err)
	}
	return nil
}

// entryTime truncates to whole seconds (plain ustar headers, no PAX mtime records) and
// clamps to the build time, like tar --clamp-mtime.
func (t *TarWriter) entryTime(m time.Time) time.Time {
	if m.IsZero() || m.After(t.clamp) {
		m = t.clamp
	}
	if m.Before(time.Unix(0, 0)) {
		m = time.Unix(0, 0)
	}
	return m.UTC().Truncate(time.Second)
}

// ContentBytes is the number of file content bytes written so far.
func (t *TarWriter) ContentBytes() int64 { return t.written }

// Close ends the tar, the zstd frame and the ZIP member.
func (t *TarWriter) Close() error {
	if t.closed {
		return nil
	}
	t.closed = true
	if err := t.tw.Close(); err != nil {
		return fmt.Errorf("%s: tar: %w", t.name, err)
	}
	if err := t.enc.Close(); err != nil {
		return fmt.Errorf("%s: zstd: %w", t.name, err)
	}
	if err := t.member.Close(); err != nil {
		return err
	}
	t.w.state = t.next
	return nil
}

// Abort releases the encoder without finishing the member; the archive is unusable after.
// Nothing more is written to the output (it may be what failed).
func (t *TarWriter) Abort() {
	if !t.closed {
		t.closed = true
		t.enc.Reset(io.Discard)
		t.enc.Close()
	}
}

type hashingWriter struct {
	w io.Writer
	h io.Writer
}

func (hw hashingWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	hw.h.Write(p[:n])
	return n, err
}
