package archive

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
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
)

func (f Format) String() string {
	return [...]string{"tar", "tar.xz", "tar.gz", "tar.bz2", "tar.zst", "zip"}[f]
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
	case len(b) >= 262 && bytes.Equal(b[257:262], []byte("ustar")):
		return FormatTar, nil
	case bytes.HasPrefix(b, []byte{'7', 'z', 0xbc, 0xaf, 0x27, 0x1c}):
		return 0, fmt.Errorf("%s: 7-Zip archives are not supported: repack it as .tar.xz or .zip", path)
	case len(b) == 0:
		return 0, fmt.Errorf("%s: file is empty (interrupted download?)", path)
	}
	// Old v7 tars carry no magic; trust the name for those.
	if strings.HasSuffix(strings.ToLower(path), ".tar") {
		return FormatTar, nil
	}
	return 0, fmt.Errorf("%s: unknown archive format (supported: .tar.xz, .tar.gz, .tar.bz2, .tar.zst, .tar, .zip, or a directory)", path)
}

func readFile(ctx context.Context, f fs.File, size int64, path string, opts Options, e *emitter) error {
	h := sha256.New()
	raw := &hashingReader{r: f, h: h, progress: opts.Progress}
	br := bufio.NewReaderSize(raw, 1<<20)
	head, err := br.Peek(512)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return fmt.Errorf("%s: %w", path, err)
	}
	format, err := detect(head, path)
	if err != nil {
		return err
	}
	if format == FormatZip {
		ra, ok := f.(io.ReaderAt)
		if !ok {
			return fmt.Errorf("%s: zip archives need random access, which this file system does not offer", path)
		}
		// A zip is read through its central directory at the end of the file, so its
		// hash is checked first, before anything from it is trusted.
		if _, err := io.Copy(io.Discard, br); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := checkDigest(path, opts.SHA256, h.Sum(nil)); err != nil {
			return err
		}
		return readZip(ctx, ra, size, path, opts, e)
	}
	var dec io.Reader
	var closeDec func()
	switch format {
	case FormatTar:
		dec = br
	case FormatTarXZ:
		r, err := xz.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: xz: %w", path, err)
		}
		dec = r
	case FormatTarGZ:
		r, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: gzip: %w", path, err)
		}
		closeDec = func() { r.Close() }
		dec = r
	case FormatTarBZ2:
		dec = bzip2.NewReader(br)
	case FormatTarZST:
		r, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<31), zstd.WithDecoderLowmem(true))
		if err != nil {
			return fmt.Errorf("%s: zstd: %w", path, err)
		}
		closeDec = r.Close
		dec = r
	}
	if closeDec != nil {
		defer closeDec()
	}
	if err := readTar(ctx, dec, e); err != nil {
		return fmt.Errorf("%s: %w", path, describeDecodeError(format, err))
	}
	// Read the compressed stream to its end: that runs the decoder's own integrity checks
	// (xz index and CRC, gzip CRC) and feeds the rest of the file to the hash.
	if _, err := io.Copy(io.Discard, dec); err != nil {
		return fmt.Errorf("%s: after the tar end: %w", path, describeDecodeError(format, err))
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if opts.Progress != nil {
		opts.Progress(raw.n)
	}
	return checkDigest(path, opts.SHA256, h.Sum(nil))
}

func describeDecodeError(format Format, err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s data ends early (truncated or partial download): %w", format, err)
	}
	return err
}

func readTar(ctx context.Context, r io.Reader, e *emitter) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
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
		case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
			en.Kind, en.Size = KindFile, hdr.Size
		case tar.TypeDir:
			en.Kind = KindDir
		case tar.TypeSymlink:
			en.Kind, en.Link = KindSymlink, hdr.Linkname
		case tar.TypeLink:
			target, err := cleanName(hdr.Linkname)
			if err != nil || target == "" {
				return fmt.Errorf("entry %s: hard link to %q outside the archive", hdr.Name, hdr.Linkname)
			}
			en.Kind, en.Link = KindHardlink, target
		case tar.TypeXGlobalHeader:
			continue
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			return fmt.Errorf("entry %s is a device or FIFO, which a package cannot contain", hdr.Name)
		default:
			return fmt.Errorf("entry %s has unsupported tar type %q", hdr.Name, hdr.Typeflag)
		}
		if name == "" {
			if en.Kind == KindDir {
				continue // "./" itself
			}
			return fmt.Errorf("entry %q has an empty name", hdr.Name)
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

func readZip(ctx context.Context, f io.ReaderAt, size int64, path string, opts Options, e *emitter) error {
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return fmt.Errorf("%s: not a readable zip: %w", path, err)
	}
	zr.RegisterDecompressor(zip.Deflate, func(r io.Reader) io.ReadCloser { return flate.NewReader(r) })
	var done int64
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
				return fmt.Errorf("%s: entry %s: %w", path, zf.Name, err)
			}
			en.Kind, en.Link = KindSymlink, string(target)
		case mode.IsRegular():
			en.Kind, en.Size = KindFile, int64(zf.UncompressedSize64)
			if en.Mode == 0 {
				en.Mode = 0o644 // written on Windows: no Unix mode
			}
		default:
			return fmt.Errorf("%s: entry %s has unsupported type %v", path, zf.Name, mode.Type())
		}
		if err := e.entry(en); err != nil {
			return err
		}
		if en.Kind == KindFile && en.Size > 0 {
			rc, err := zf.Open()
			if err != nil {
				return fmt.Errorf("%s: entry %s: %w", path, zf.Name, err)
			}
			err = e.content(rc, en.Size, name)
			if err == nil {
				// Reading past the end runs the CRC check.
				if _, cerr := io.Copy(io.Discard, rc); cerr != nil {
					err = fmt.Errorf("entry %s: %w", name, cerr)
				}
			}
			rc.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
		done += int64(zf.CompressedSize64)
		if opts.Progress != nil {
			opts.Progress(done)
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
func readDir(ctx context.Context, fsys fs.FS, root string, e *emitter, progress func(int64)) error {
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
			if progress != nil {
				progress(done)
			}
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
