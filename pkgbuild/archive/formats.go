package archive

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/condachan/condachan/internal/xz"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Format is the container/compression of a source file.
type Format int

const (
	FormatTar Format = iota
	FormatTarXZ
	FormatTarGZ
	FormatTarBZ2
	FormatTarZST
	FormatZip
	FormatRPM
	FormatDeb
	FormatMakeself
	FormatDir // a folder, read as it is
)

func (f Format) String() string {
	return [...]string{"tar", "tar.xz", "tar.gz", "tar.bz2", "tar.zst", "zip", "rpm", "deb", "makeself", "folder"}[f]
}

// IsTarOrZip tells the formats whose single top-level folder is stripped by default, as
// rattler-build strips it when it extracts a source: tars and zips. Packages (RPM, deb)
// and installers keep their layout (an RPM's files all sit under usr/).
func (f Format) IsTarOrZip() bool { return f <= FormatZip }

// magics are the signatures detect knows, for telling a cut-off file from a foreign one.
var magics = []struct {
	magic  []byte
	format Format
}{
	{[]byte{0xfd, '7', 'z', 'X', 'Z', 0}, FormatTarXZ},
	{[]byte{0x1f, 0x8b}, FormatTarGZ},
	{[]byte("BZh"), FormatTarBZ2},
	{[]byte{0x28, 0xb5, 0x2f, 0xfd}, FormatTarZST},
	{[]byte("PK\x03\x04"), FormatZip},
	{[]byte{0xed, 0xab, 0xee, 0xdb}, FormatRPM},
	{[]byte("!<arch>\n"), FormatDeb},
}

func detect(b []byte, path string) (Format, error) {
	switch {
	case bytes.HasPrefix(b, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return FormatTarXZ, nil
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
		return FormatTarGZ, nil
	case bytes.HasPrefix(b, []byte("BZh")):
		return FormatTarBZ2, nil
	case bytes.HasPrefix(b, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return FormatTarZST, nil
	case bytes.HasPrefix(b, []byte("PK\x03\x04")), bytes.HasPrefix(b, []byte("PK\x05\x06")):
		return FormatZip, nil
	case bytes.HasPrefix(b, rpmLeadMagic):
		return FormatRPM, nil
	case bytes.HasPrefix(b, []byte("!<arch>\ndebian-binary")):
		return FormatDeb, nil
	case isMakeself(b):
		return FormatMakeself, nil
	case len(b) >= 262 && bytes.Equal(b[257:262], []byte("ustar")):
		return FormatTar, nil
	case bytes.HasPrefix(b, []byte{'7', 'z', 0xbc, 0xaf, 0x27, 0x1c}):
		return 0, fmt.Errorf("%s: 7-Zip archives are not supported: repack it as .tar.xz or .zip", path)
	case len(b) == 0:
		return 0, fmt.Errorf("%s: file is empty (interrupted download?)", path)
	}
	for _, m := range magics {
		if len(b) < len(m.magic) && bytes.HasPrefix(m.magic, b) {
			return 0, fmt.Errorf("%s: only %d bytes, the start of a %s file: truncated or partial download: %w", path, len(b), m.format, io.ErrUnexpectedEOF)
		}
	}
	// Old v7 tars carry no magic; trust the name for those.
	if strings.HasSuffix(strings.ToLower(path), ".tar") {
		return FormatTar, nil
	}
	return 0, fmt.Errorf("%s: unknown archive format (supported: .tar.xz, .tar.gz, .tar.bz2, .tar.zst, .tar, .zip, .rpm, .deb, makeself .run/.sh installers, or a directory)", path)
}

func readFile(ctx context.Context, f io.Reader, size int64, path string, opts Options, e *emitter) error {
	h := newDigests(opts)
	prog := &progress{fn: opts.Progress}
	raw := &hashingReader{ctx: ctx, r: f, h: h}
	br := bufio.NewReaderSize(raw, 1<<20)
	hashed := false // the whole file has gone through h and its digest was checked
	err := func() error {
		head, err := br.Peek(512)
		if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
			return fmt.Errorf("%s: %w", path, err)
		}
		format, err := detect(head, path)
		if err != nil {
			return err
		}
		if format == FormatZip {
			e.format(format)
			// A zip is read through its central directory at the end of the file, so its
			// hash is checked first, before anything from it is trusted.
			ra, ok := f.(io.ReaderAt)
			if !ok {
				// Without random access (a zip inside another archive, a file system
				// without ReadAt) it is copied to a temporary file first, which reads it
				// whole through the digests.
				spooled, err := spool(br, opts.TempDir, path)
				if err != nil {
					return err
				}
				defer func() { spooled.Close(); os.Remove(spooled.Name()) }()
				st, err := spooled.Stat()
				if err != nil {
					return err
				}
				ra, size = spooled, st.Size()
			} else if opts.wantsDigest() {
				if _, err := io.Copy(io.Discard, br); err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
			}
			if opts.wantsDigest() {
				hashed = true
				if err := h.check(path); err != nil {
					return err
				}
			}
			if err := readZip(ctx, ra, size, path, prog, e); err != nil {
				return err
			}
			prog.report(size)
			return nil
		}
		raw.progress = prog
		e.format(format)
		switch format {
		case FormatRPM:
			err = readRPM(ctx, br, path, e)
		case FormatDeb:
			err = readDeb(ctx, br, path, e)
		case FormatMakeself:
			err = readMakeself(ctx, br, path, e)
		default:
			err = readCompressedTar(ctx, format, br, path, e)
		}
		if err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, br); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		prog.report(raw.n)
		hashed = true
		return h.check(path)
	}()
	if err != nil && !hashed && opts.wantsDigest() && ctx.Err() == nil {
		// A file that fails to read is most often a bad download: when the recipe names
		// its sha256, say whether this is the file it names, keeping the read error.
		if _, cerr := io.Copy(io.Discard, br); cerr == nil {
			var ce *ChecksumError
			if sumErr := h.check(path); errors.As(sumErr, &ce) {
				return fmt.Errorf("%w; reading it failed: %w", ce, err)
			}
		}
	}
	return err
}

// spool copies r into a new temporary file in dir (the system's when "").
func spool(r io.Reader, dir, path string) (*os.File, error) {
	f, err := os.CreateTemp(dir, ".condachan-nested-*.zip")
	if err != nil {
		return nil, fmt.Errorf("%s: a temporary file for the zip: %w", path, err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// readCompressedTar decodes format from br, emits the tar's entries and reads the
// compressed stream to its end.
func readCompressedTar(ctx context.Context, format Format, br io.Reader, path string, e *emitter) error {
	comp, ok := map[Format]compression{FormatTar: compNone, FormatTarXZ: compXZ, FormatTarGZ: compGzip, FormatTarBZ2: compBzip2, FormatTarZST: compZstd}[format]
	if !ok {
		return fmt.Errorf("%s: %v is not a tar format", path, format)
	}
	dec, done, err := decompress(comp, br)
	if err != nil {
		return fmt.Errorf("%s: %s: %w", path, comp, describeDecodeError(format, err))
	}
	defer done()
	if err := readTar(ctx, dec, e); err != nil {
		return fmt.Errorf("%s: %w", path, describeDecodeError(format, err))
	}
	// Read the compressed stream to its end: that runs the decoder's own integrity checks
	// (xz index and CRC, gzip CRC).
	if _, err := io.Copy(io.Discard, dec); err != nil {
		return fmt.Errorf("%s: after the tar end: %w", path, describeDecodeError(format, err))
	}
	return nil
}

// decompress opens the decoder of c over r; done releases it.
func decompress(c compression, r io.Reader) (io.Reader, func(), error) {
	switch c {
	case compNone:
		return r, func() {}, nil
	case compXZ:
		d, err := xz.NewReader(r)
		return d, func() {}, err
	case compGzip:
		d, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, err
		}
		return d, func() { d.Close() }, nil
	case compBzip2:
		return bzip2.NewReader(r), func() {}, nil
	case compZstd:
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<31), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, nil, err
		}
		return d, d.Close, nil
	}
	return nil, nil, fmt.Errorf("unknown compression %d", c)
}

func describeDecodeError(format Format, err error) error {
	if err == io.EOF { // from a decoder that found nothing at all where its header goes
		err = io.ErrUnexpectedEOF
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s data ends early (truncated or partial download): %w", format, err)
	}
	return err
}

// tail keeps the last len(buf) bytes written to it.
type tail struct {
	buf []byte
	n   int64 // bytes written in all
}

func (t *tail) write(p []byte) {
	k := len(t.buf)
	if len(p) >= k {
		copy(t.buf, p[len(p)-k:])
	} else {
		copy(t.buf, t.buf[len(p):])
		copy(t.buf[k-len(p):], p)
	}
	t.n += int64(len(p))
}

func (t *tail) bytes() []byte {
	if t.n < int64(len(t.buf)) {
		return t.buf[len(t.buf)-int(t.n):]
	}
	return t.buf
}

// tarInput watches the data under a tar.Reader, so that the end of the data can be told
// from the end-of-archive marker.
type tarInput struct {
	r    io.Reader
	tail tail // the last block read
	eof  bool // r reported io.EOF
}

const blockSize = 512

func (t *tarInput) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.tail.write(p[:n])
	if err == io.EOF {
		t.eof = true
	}
	return n, err
}

// endedCleanly tells, once tar.Reader has reported the end, whether the archive had its
// end-of-archive marker. The marker is two zero blocks, after which tar.Reader stops
// reading; archive/tar also accepts a lone zero block at the end of the data, and so does
// GNU tar. Data that simply stops at a header boundary is a cut-off archive.
func (t *tarInput) endedCleanly() bool {
	if !t.eof {
		return true
	}
	return t.tail.n >= blockSize && t.tail.n%blockSize == 0 && bytes.Equal(t.tail.bytes(), make([]byte, blockSize))
}

func readTar(ctx context.Context, r io.Reader, e *emitter) error {
	in := &tarInput{r: r, tail: tail{buf: make([]byte, blockSize)}}
	tr := tar.NewReader(in)
	// files maps the name of each file entry so far, and of each hard link to one, to
	// the file entry that holds the content.
	files := map[string]string{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			if !in.endedCleanly() {
				return fmt.Errorf("tar data stops after %d bytes without the end-of-archive marker: %w", in.tail.n, io.ErrUnexpectedEOF)
			}
			return nil
		}
		if err == tar.ErrInsecurePath {
			err = nil // GODEBUG=tarinsecurepath=0: hdr is valid, and cleanName names the entry
		}
		if err != nil {
			if err == tar.ErrHeader {
				return fmt.Errorf("corrupt tar header (is this a tar archive?): %w", err)
			}
			return fmt.Errorf("tar: %w", err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		name, err := cleanName(hdr.Name)
		if err != nil {
			return err
		}
		en := &Entry{Name: name, Mode: fs.FileMode(hdr.Mode) & fs.ModePerm, ModTime: hdr.ModTime}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse, tar.TypeCont:
			en.Kind, en.Size = KindFile, hdr.Size
		case tar.TypeDir:
			en.Kind = KindDir
		case tar.TypeSymlink:
			en.Kind, en.Link = KindSymlink, hdr.Linkname
		case tar.TypeLink:
			target, err := cleanName(hdr.Linkname)
			if err != nil || target == "" {
				return fmt.Errorf("entry %s: hard link to %s outside the archive", quote(hdr.Name), quote(hdr.Linkname))
			}
			file, ok := files[target]
			if !ok {
				return fmt.Errorf("entry %s: hard link to %s, which is not a file earlier in the archive", quote(hdr.Name), quote(hdr.Linkname))
			}
			en.Kind, en.Link = KindHardlink, file
		case tar.TypeXGlobalHeader:
			continue
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			return fmt.Errorf("entry %s is a device or FIFO, which a package cannot contain", quote(hdr.Name))
		default:
			return fmt.Errorf("entry %s has unsupported tar type %q", quote(hdr.Name), hdr.Typeflag)
		}
		if name == "" {
			if en.Kind == KindDir {
				continue // "./" itself
			}
			return fmt.Errorf("entry %s has an empty name", quote(hdr.Name))
		}
		switch en.Kind {
		case KindFile:
			files[name] = name
		case KindHardlink:
			files[name] = en.Link
		default:
			delete(files, name)
		}
		if err := e.entry(en); err != nil {
			return err
		}
		if en.Kind == KindFile && en.Size > 0 {
			if err := e.content(tr, en.Size, name); err != nil {
				return err
			}
		}
	}
}

func readZip(ctx context.Context, f io.ReaderAt, size int64, path string, prog *progress, e *emitter) error {
	zr, err := zip.NewReader(f, size)
	if err == zip.ErrInsecurePath && zr != nil {
		err = nil // GODEBUG=zipinsecurepath=0: cleanName below names the entry
	}
	if errors.Is(err, zip.ErrFormat) {
		// Its directory is at the end: what a cut-off download loses first.
		return fmt.Errorf("%s: not a readable zip (truncated or partial download?): %w", path, err)
	}
	if err != nil {
		return fmt.Errorf("%s: not a readable zip: %w", path, describeDecodeError(FormatZip, err))
	}
	zr.RegisterDecompressor(zip.Deflate, func(r io.Reader) io.ReadCloser { return flate.NewReader(r) })
	for _, zf := range zr.File {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		name, err := cleanName(zf.Name)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if name == "" {
			continue
		}
		mode := zf.Mode()
		en := &Entry{Name: name, Mode: mode & fs.ModePerm, ModTime: zf.Modified}
		switch {
		case mode.IsDir() || strings.HasSuffix(zf.Name, "/"):
			en.Kind = KindDir
		case mode&fs.ModeSymlink != 0:
			target, err := readZipMember(zf, 4096)
			if err != nil {
				return fmt.Errorf("%s: entry %s: %w", path, quote(zf.Name), err)
			}
			en.Kind, en.Link = KindSymlink, string(target)
		case mode.IsRegular():
			en.Kind, en.Size = KindFile, int64(zf.UncompressedSize64)
			if en.Mode == 0 {
				en.Mode = 0o644 // written on Windows: no Unix mode
			}
		default:
			return fmt.Errorf("%s: entry %s has unsupported type %v", path, quote(zf.Name), mode.Type())
		}
		if err := e.entry(en); err != nil {
			return err
		}
		if en.Kind == KindFile && en.Size > 0 {
			rc, err := zf.Open()
			if err != nil {
				return fmt.Errorf("%s: entry %s: %w", path, quote(zf.Name), err)
			}
			err = e.content(rc, en.Size, name)
			if err == nil {
				// Reading past the end runs the CRC check.
				if _, cerr := io.Copy(io.Discard, rc); cerr != nil {
					err = fmt.Errorf("entry %s: %w", quote(name), cerr)
				}
			}
			rc.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
		// Members are usually stored in order, so the end of this one's data is how far
		// the archive has been read.
		if off, err := zf.DataOffset(); err == nil && off >= 0 {
			prog.report(min(off+int64(zf.CompressedSize64), size))
		}
	}
	return nil
}

func readZipMember(zf *zip.File, limit int64) ([]byte, error) {
	rc, err := zf.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("symlink target longer than %d bytes", limit)
	}
	return b, nil
}

// readDir walks a directory in lexical order (so builds are reproducible) without
// following symlinks.
func readDir(ctx context.Context, fsys fs.FS, root string, e *emitter, progressFn func(int64)) error {
	prog := &progress{fn: progressFn}
	var done int64
	return walkSorted(fsys, root, "", func(rel string, d fs.DirEntry) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		full := path.Join(root, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		en := &Entry{Name: rel, Mode: info.Mode() & fs.ModePerm, ModTime: info.ModTime()}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := fs.ReadLink(fsys, full)
			if err != nil {
				return err
			}
			en.Kind, en.Link = KindSymlink, filepath.ToSlash(target)
		case info.IsDir():
			en.Kind = KindDir
		case info.Mode().IsRegular():
			en.Kind, en.Size = KindFile, info.Size()
		default:
			return fmt.Errorf("%s: %v files cannot go into a package", full, info.Mode().Type())
		}
		if err := e.entry(en); err != nil {
			return err
		}
		if en.Kind == KindFile && en.Size > 0 {
			f, err := fsys.Open(full)
			if err != nil {
				return err
			}
			err = e.content(f, en.Size, rel)
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w (file changed while reading?)", full, err)
			}
			done += en.Size
			prog.report(done)
		}
		return nil
	})
}

func walkSorted(fsys fs.FS, root, rel string, fn func(rel string, d fs.DirEntry) error) error {
	entries, err := fs.ReadDir(fsys, path.Join(root, rel))
	if err != nil {
		return err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, d := range entries {
		child := d.Name()
		if rel != "" {
			child = rel + "/" + d.Name()
		}
		if err := fn(child, d); err != nil {
			return err
		}
		if d.IsDir() && d.Type()&fs.ModeSymlink == 0 {
			if err := walkSorted(fsys, root, child, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// DirSize sums the sizes of regular files under root in fsys, for progress reporting.
func DirSize(fsys fs.FS, root string) int64 {
	var total int64
	fs.WalkDir(fsys, root, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total
}
