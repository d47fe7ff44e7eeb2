package condapkg

import (
	"archive/tar"
	"archive/zip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// Limits on what a reader accepts from a package it did not write; a hostile or broken
// upload must not exhaust memory.
const (
	maxInfoFile = 64 << 20 // one file under info/ held in memory
)

// maxInfoTar caps the decompressed size of the whole info member: InfoFiles skips through
// every entry before the ones it wants, so a small zstd bomb there could otherwise keep an
// index run busy for hours. Real info/ trees are a few MiB. A variable for tests only.
var maxInfoTar int64 = 1 << 30

// Reader gives access to the members of a .conda through an io.ReaderAt, so that only the
// bytes needed are read: on S3 the info member is fetched with ranged GETs, never the
// whole package.
type Reader struct {
	stem string
	zr   *zip.Reader
	pkg  *zip.File
	info *zip.File
	meta *zip.File
}

// NewReader opens the .conda named fileName (only its base name matters: members are
// named after it) whose bytes are at r.
func NewReader(r io.ReaderAt, size int64, fileName string) (*Reader, error) {
	stem := Stem(fileName)
	if stem == "" {
		return nil, fmt.Errorf("%s: not a .conda file name", fileName)
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("%s: not a valid .conda (zip): %w", fileName, err)
	}
	cr := &Reader{stem: stem, zr: zr}
	for _, f := range zr.File {
		switch f.Name {
		case MetadataMember:
			cr.meta = f
		case PkgMember(stem):
			cr.pkg = f
		case InfoMember(stem):
			cr.info = f
		}
	}
	if cr.info == nil {
		return nil, fmt.Errorf("%s: no member %s (was the file renamed after it was built?)", fileName, InfoMember(stem))
	}
	if cr.pkg == nil {
		return nil, fmt.Errorf("%s: no member %s", fileName, PkgMember(stem))
	}
	return cr, nil
}

// Stem is the package file name without .conda.
func (r *Reader) Stem() string { return r.stem }

// Members lists the ZIP member names in archive order.
func (r *Reader) Members() []string {
	names := make([]string, len(r.zr.File))
	for i, f := range r.zr.File {
		names[i] = f.Name
	}
	return names
}

// Metadata reads metadata.json; a package without one is accepted as format version 2,
// which is what conda itself does.
func (r *Reader) Metadata() (Metadata, error) {
	md := Metadata{FormatVersion: FormatVersion}
	if r.meta == nil {
		return md, nil
	}
	b, err := readZipFile(r.meta, 1<<16)
	if err != nil {
		return md, fmt.Errorf("%s: %w", MetadataMember, err)
	}
	if err := json.Unmarshal(b, &md); err != nil {
		return md, fmt.Errorf("%s: %w", MetadataMember, err)
	}
	if md.FormatVersion != FormatVersion {
		return md, fmt.Errorf("%s: unsupported conda_pkg_format_version %d", MetadataMember, md.FormatVersion)
	}
	return md, nil
}

// InfoTar opens the info member as a tar stream. Reading more than 1 GiB of decompressed
// tar from it is an error.
func (r *Reader) InfoTar() (*TarReader, error) { return openTarMember(r.info, maxInfoTar) }

// PkgTar opens the pkg member as a tar stream.
func (r *Reader) PkgTar() (*TarReader, error) { return openTarMember(r.pkg, 0) }

// InfoFiles reads the named files of info/ (e.g. "info/index.json") into memory. Missing
// files are absent from the result.
func (r *Reader) InfoFiles(names ...string) (map[string][]byte, error) {
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	tr, err := r.InfoTar()
	if err != nil {
		return nil, err
	}
	defer tr.Close()
	out := make(map[string][]byte, len(names))
	for len(out) < len(want) {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", InfoMember(r.stem), err)
		}
		name := strings.TrimPrefix(hdr.Name, "./")
		if !want[name] || hdr.Typeflag != tar.TypeReg {
			continue
		}
		if hdr.Size > maxInfoFile {
			return nil, fmt.Errorf("%s: %s is %d bytes, more than the %d this reader accepts", InfoMember(r.stem), name, hdr.Size, maxInfoFile)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", InfoMember(r.stem), name, err)
		}
		out[name] = b
	}
	return out, nil
}

// IndexJSON reads and decodes info/index.json.
func (r *Reader) IndexJSON() (map[string]any, error) {
	files, err := r.InfoFiles("info/index.json")
	if err != nil {
		return nil, err
	}
	b, ok := files["info/index.json"]
	if !ok {
		return nil, fmt.Errorf("%s: no info/index.json", InfoMember(r.stem))
	}
	var idx map[string]any
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("%s: info/index.json: %w", InfoMember(r.stem), err)
	}
	return idx, nil
}

// TarReader reads the tar inside a member's zstd stream.
type TarReader struct {
	*tar.Reader
	dec  *zstd.Decoder
	rc   io.ReadCloser
	name string
	err  error
}

// Next advances to the next entry. Sparse entries are an error: packages never hold them,
// and a sparse header can declare terabytes of zeros in a few hundred bytes, which a
// reader that hashes or extracts the entry would then produce (a tar bomb that no
// decompression ratio bounds).
func (t *TarReader) Next() (*tar.Header, error) {
	if t.err != nil {
		return nil, t.err
	}
	hdr, err := t.Reader.Next()
	if err != nil {
		return hdr, err
	}
	sparse := hdr.Typeflag == tar.TypeGNUSparse
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			sparse = true
		}
	}
	if sparse {
		t.err = fmt.Errorf("%s: entry %s is a sparse file, which packages never contain", t.name, hdr.Name)
		return nil, t.err
	}
	return hdr, nil
}

// Close releases the decoder.
func (t *TarReader) Close() error {
	t.dec.Close()
	return t.rc.Close()
}

// openTarMember opens a member as tar in zstd; limit > 0 caps the decompressed bytes.
// Windows above MaxWindow are refused, as zstd's own decoder does by default (and with
// it every conda client): accepting them would only let a hostile package make the
// decoder allocate up to that much memory.
func openTarMember(f *zip.File, limit int64) (*TarReader, error) {
	if f.Method != zip.Store {
		return nil, fmt.Errorf("%s: member is compressed (method %d); .conda members must be stored", f.Name, f.Method)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	dec, err := zstd.NewReader(rc, zstd.WithDecoderMaxWindow(MaxWindow), zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	var src io.Reader = dec
	if limit > 0 {
		src = &cappedReader{r: dec, left: limit, limit: limit, name: f.Name}
	}
	return &TarReader{Reader: tar.NewReader(src), dec: dec, rc: rc, name: f.Name}, nil
}

// cappedReader fails once more than a fixed number of bytes were read, rather than
// ending quietly as io.LimitReader would (which would pass for a truncated tar).
type cappedReader struct {
	r           io.Reader
	left, limit int64
	name        string
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if c.left <= 0 {
		// Exactly at the limit is fine if the stream ends here.
		var probe [1]byte
		n, err := io.ReadFull(c.r, probe[:])
		if n == 0 && (err == io.EOF || err == io.ErrUnexpectedEOF) {
			return 0, io.EOF
		}
		if n == 0 && err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("%s: decompresses to more than %d bytes, more than this reader accepts", c.name, c.limit)
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

func readZipFile(f *zip.File, limit int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errors.New("member too large")
	}
	return b, nil
}
