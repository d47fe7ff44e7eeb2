package archive

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Readers for the package and installer formats vendors and distributions ship:
//
//   - RPM (what dnf downloads, what Maya's Linux release holds): a lead, a signature
//     header, a main header naming the payload's compressor, then a compressed cpio
//     (newc) archive.
//   - deb: an ar archive whose data.tar.* member holds the files.
//   - makeself (.run / .sh installers of Redshift, V-Ray, Bifrost): a shell script of a
//     known number of lines followed by a compressed tar.
//
// Each is read as it streams, through the same entry checks as tar (no absolute paths,
// no "..", hard links only to earlier files), and the whole file through the digests.
// They are written by our own code: the RPM header is a few fixed structures, and the one
// Go RPM reader available (go-rpmutils) brings an OpenPGP stack and its own decoders;
// cpio newc and ar are simpler still, and here they share our decoders and checks.

// compression is a stream's compressor, found from its magic bytes.
type compression int

const (
	compNone compression = iota
	compGzip
	compXZ
	compBzip2
	compZstd
)

func (c compression) String() string {
	return [...]string{"uncompressed", "gzip", "xz", "bzip2", "zstd"}[c]
}

// sniffCompression tells the compressor of a stream from its first bytes; ok is false when
// none of ours matches (and the stream is not a plain tar).
func sniffCompression(b []byte) (compression, bool) {
	for _, m := range magics {
		if bytes.HasPrefix(b, m.magic) {
			switch m.format {
			case FormatTarXZ:
				return compXZ, true
			case FormatTarGZ:
				return compGzip, true
			case FormatTarBZ2:
				return compBzip2, true
			case FormatTarZST:
				return compZstd, true
			}
		}
	}
	if len(b) >= 262 && bytes.Equal(b[257:262], []byte("ustar")) {
		return compNone, true
	}
	return 0, false
}

// tarFormat is the Format of a tar compressed with c.
func (c compression) tarFormat() Format {
	return [...]Format{FormatTar, FormatTarGZ, FormatTarXZ, FormatTarBZ2, FormatTarZST}[c]
}

// ---- RPM ----

const (
	rpmTagPayloadFormat     = 1124
	rpmTagPayloadCompressor = 1125
	rpmStringType           = 6
	// maxRPMHeader bounds a header's index and store: real ones are a few MiB at most.
	maxRPMHeader = 64 << 20
)

var (
	rpmLeadMagic   = []byte{0xed, 0xab, 0xee, 0xdb}
	rpmHeaderMagic = []byte{0x8e, 0xad, 0xe8, 0x01}
)

// rpmHeader is the string tags of one RPM header.
type rpmHeader map[int32]string

// readRPMHeader reads a header structure; padTo8 pads it to 8 bytes (the signature header).
func readRPMHeader(r io.Reader, which string, padTo8 bool) (rpmHeader, error) {
	var intro [16]byte
	if _, err := io.ReadFull(r, intro[:]); err != nil {
		return nil, fmt.Errorf("the %s header is cut off: %w", which, io.ErrUnexpectedEOF)
	}
	if !bytes.Equal(intro[:4], rpmHeaderMagic) {
		return nil, fmt.Errorf("the %s header has no header magic (a damaged RPM?)", which)
	}
	n := binary.BigEndian.Uint32(intro[8:12])
	size := binary.BigEndian.Uint32(intro[12:16])
	if uint64(n)*16+uint64(size) > maxRPMHeader {
		return nil, fmt.Errorf("the %s header claims %d entries and %d bytes, more than any RPM has", which, n, size)
	}
	body := make([]byte, int(n)*16+int(size))
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, fmt.Errorf("the %s header is cut off: %w", which, io.ErrUnexpectedEOF)
	}
	if padTo8 {
		if pad := (8 - (16+len(body))%8) % 8; pad > 0 {
			if _, err := io.ReadFull(r, make([]byte, pad)); err != nil {
				return nil, fmt.Errorf("the %s header is cut off: %w", which, io.ErrUnexpectedEOF)
			}
		}
	}
	store := body[n*16:]
	h := rpmHeader{}
	for i := uint32(0); i < n; i++ {
		e := body[i*16 : i*16+16]
		tag := int32(binary.BigEndian.Uint32(e[0:4]))
		typ := binary.BigEndian.Uint32(e[4:8])
		off := binary.BigEndian.Uint32(e[8:12])
		if typ != rpmStringType {
			continue
		}
		if off >= uint32(len(store)) {
			return nil, fmt.Errorf("the %s header's tag %d points outside it", which, tag)
		}
		end := bytes.IndexByte(store[off:], 0)
		if end < 0 {
			return nil, fmt.Errorf("the %s header's tag %d is not terminated", which, tag)
		}
		h[tag] = string(store[off : off+uint32(end)])
	}
	return h, nil
}

// readRPM reads an RPM's headers and emits the files of its cpio payload.
func readRPM(ctx context.Context, br *bufio.Reader, path string, e *emitter) error {
	lead := make([]byte, 96)
	if _, err := io.ReadFull(br, lead); err != nil {
		return fmt.Errorf("%s: rpm: the lead is cut off: %w", path, io.ErrUnexpectedEOF)
	}
	if lead[4] < 3 || lead[4] > 4 {
		return fmt.Errorf("%s: rpm: format version %d.%d, condachan reads versions 3 and 4", path, lead[4], lead[5])
	}
	if _, err := readRPMHeader(br, "signature", true); err != nil {
		return fmt.Errorf("%s: rpm: %w", path, err)
	}
	h, err := readRPMHeader(br, "main", false)
	if err != nil {
		return fmt.Errorf("%s: rpm: %w", path, err)
	}
	if f, ok := h[rpmTagPayloadFormat]; ok && f != "cpio" {
		return fmt.Errorf("%s: rpm: the payload is %q, condachan reads cpio payloads (a delta RPM?)", path, f)
	}
	comp := compGzip // rpm's default when the header does not say
	switch c := h[rpmTagPayloadCompressor]; c {
	case "":
		// rpm writes no compressor for an uncompressed payload (w0.ufdio), and old RPMs
		// none for gzip: the payload's first bytes tell.
		if head, _ := br.Peek(6); bytes.HasPrefix(head, []byte("07070")) {
			comp = compNone
		}
	case "gzip":
	case "xz":
		comp = compXZ
	case "zstd":
		comp = compZstd
	case "bzip2":
		comp = compBzip2
	default:
		return fmt.Errorf("%s: rpm: the payload is compressed with %s, which condachan does not read (it reads gzip, xz, zstd and bzip2)", path, c)
	}
	dec, done, err := decompress(comp, br)
	if err != nil {
		return fmt.Errorf("%s: rpm payload: %w", path, describeDecodeError(comp.tarFormat(), err))
	}
	defer done()
	if err := readCpio(ctx, dec, e); err != nil {
		return fmt.Errorf("%s: rpm payload: %w", path, describeDecodeError(comp.tarFormat(), err))
	}
	if _, err := io.Copy(io.Discard, dec); err != nil { // the decoder's own checks
		return fmt.Errorf("%s: rpm payload: %w", path, describeDecodeError(comp.tarFormat(), err))
	}
	return nil
}

// ---- cpio (newc) ----

const (
	cpioHeaderLen = 110
	cpioTrailer   = "TRAILER!!!"
	maxCpioName   = 64 << 10
	maxLinkTarget = 64 << 10
)

// readCpio emits the entries of a cpio archive in the "new ASCII" format (070701, and
// 070702 with checksums), what RPM payloads use. Hard links carry their content on the
// last of their names only: the earlier names are held back and emitted as hard links
// to it once it has streamed.
func readCpio(ctx context.Context, r io.Reader, e *emitter) error {
	type inode struct{ dev, ino uint64 }
	pending := map[inode][]*Entry{} // hard-linked names seen before their content
	withData := map[inode]string{}  // the name that carried an inode's content
	var order []inode
	var offset int64
	hdr := make([]byte, cpioHeaderLen)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := io.ReadFull(r, hdr); err != nil {
			return fmt.Errorf("cpio: the archive stops at byte %d, before its trailer: %w", offset, io.ErrUnexpectedEOF)
		}
		magic := string(hdr[:6])
		switch magic {
		case "070701", "070702":
		case "07070X":
			return fmt.Errorf("cpio: the RPM's stripped cpio format (07070X, for files over 4 GiB) is not read by condachan")
		case "070707":
			return fmt.Errorf("cpio: header at byte %d is the old portable format (070707); condachan reads the new (070701) one", offset)
		default:
			return fmt.Errorf("cpio: bad header at byte %d (magic %q): not a cpio archive, or a damaged one", offset, magic)
		}
		var f [13]uint64
		for i := range f {
			v, err := strconv.ParseUint(string(hdr[6+8*i:14+8*i]), 16, 64)
			if err != nil {
				return fmt.Errorf("cpio: bad header at byte %d: field %d is %q, not hex", offset, i, hdr[6+8*i:14+8*i])
			}
			f[i] = v
		}
		ino, mode, mtime, nlink, size, devMajor, devMinor, nameSize := f[0], f[1], f[5], f[4], f[6], f[7], f[8], f[11]
		if nameSize == 0 || nameSize > maxCpioName {
			return fmt.Errorf("cpio: bad header at byte %d: name size %d", offset, nameSize)
		}
		nameBuf := make([]byte, pad4(cpioHeaderLen+nameSize)-cpioHeaderLen)
		if _, err := io.ReadFull(r, nameBuf); err != nil {
			return fmt.Errorf("cpio: the archive stops inside a header: %w", io.ErrUnexpectedEOF)
		}
		raw := string(bytes.TrimRight(nameBuf[:nameSize], "\x00"))
		offset += int64(pad4(cpioHeaderLen + nameSize))
		dataLen := int64(pad4(size))
		if raw == cpioTrailer {
			break
		}
		name, err := cleanName(raw)
		if err != nil {
			return err
		}
		en := &Entry{Name: name, Mode: fs.FileMode(mode) & fs.ModePerm, ModTime: time.Unix(int64(mtime), 0)}
		key := inode{devMajor<<32 | devMinor, ino}
		switch mode & 0o170000 {
		case 0o100000:
			en.Kind, en.Size = KindFile, int64(size)
		case 0o040000:
			en.Kind = KindDir
		case 0o120000:
			if size == 0 || size > maxLinkTarget {
				return fmt.Errorf("cpio: entry %s: symlink target of %d bytes", quote(raw), size)
			}
			target := make([]byte, size)
			if _, err := io.ReadFull(r, target); err != nil {
				return fmt.Errorf("cpio: entry %s: the archive ends inside it: %w", quote(raw), io.ErrUnexpectedEOF)
			}
			en.Kind, en.Link = KindSymlink, string(target)
			if _, err := io.CopyN(io.Discard, r, dataLen-int64(size)); err != nil {
				return fmt.Errorf("cpio: entry %s: %w", quote(raw), io.ErrUnexpectedEOF)
			}
			offset += dataLen
			dataLen = 0
		default:
			return fmt.Errorf("cpio: entry %s is a device, FIFO or socket (mode %o), which a package cannot contain", quote(raw), mode)
		}
		if name == "" {
			if en.Kind == KindDir {
				continue
			}
			return fmt.Errorf("cpio: entry %s has an empty name", quote(raw))
		}
		if en.Kind == KindFile && nlink > 1 {
			if first, ok := withData[key]; ok {
				en.Kind, en.Link, en.Size = KindHardlink, first, 0
			} else if size == 0 {
				if _, held := pending[key]; !held {
					order = append(order, key)
				}
				pending[key] = append(pending[key], en)
				continue
			} else {
				withData[key] = name
			}
		}
		if err := e.entry(en); err != nil {
			return err
		}
		if en.Kind == KindFile && size > 0 {
			if err := e.content(io.LimitReader(r, int64(size)), int64(size), name); err != nil {
				return err
			}
			if _, err := io.CopyN(io.Discard, r, dataLen-int64(size)); err != nil {
				return fmt.Errorf("cpio: entry %s: %w", quote(raw), io.ErrUnexpectedEOF)
			}
			offset += dataLen
		}
		if first, ok := withData[key]; ok && en.Kind == KindFile {
			for _, link := range pending[key] {
				link.Kind, link.Link, link.Size = KindHardlink, first, 0
				if err := e.entry(link); err != nil {
					return err
				}
			}
			delete(pending, key)
		}
	}
	// Names of an inode whose content never came: an empty file with several names.
	for _, key := range order {
		links := pending[key]
		if len(links) == 0 {
			continue
		}
		if err := e.entry(links[0]); err != nil {
			return err
		}
		for _, link := range links[1:] {
			link.Kind, link.Link, link.Size = KindHardlink, links[0].Name, 0
			if err := e.entry(link); err != nil {
				return err
			}
		}
	}
	return nil
}

func pad4(n uint64) uint64 { return (n + 3) &^ 3 }

// ---- deb ----

// readDeb emits the files of a Debian package's data.tar.* member.
func readDeb(ctx context.Context, br *bufio.Reader, path string, e *emitter) error {
	magic := make([]byte, 8)
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != "!<arch>\n" {
		return fmt.Errorf("%s: deb: not an ar archive", path)
	}
	found := false
	for {
		var h [60]byte
		n, err := io.ReadFull(br, h[:])
		if n == 0 && err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: deb: a member header is cut off: %w", path, io.ErrUnexpectedEOF)
		}
		if string(h[58:60]) != "`\n" {
			return fmt.Errorf("%s: deb: bad ar member header (a damaged package?)", path)
		}
		name := strings.TrimSuffix(strings.TrimSpace(string(h[0:16])), "/")
		size, err := strconv.ParseInt(strings.TrimSpace(string(h[48:58])), 10, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("%s: deb: member %s has a bad size %q", path, quote(name), strings.TrimSpace(string(h[48:58])))
		}
		member := io.LimitReader(br, size)
		if strings.HasPrefix(name, "data.tar") {
			if found {
				return fmt.Errorf("%s: deb: two data.tar members", path)
			}
			found = true
			if err := readDebData(ctx, member, name, path, e); err != nil {
				return err
			}
		}
		rest, err := io.Copy(io.Discard, member)
		if err != nil {
			return fmt.Errorf("%s: deb: member %s: %w", path, quote(name), err)
		}
		if name != "" && !strings.HasPrefix(name, "data.tar") && rest != size {
			return fmt.Errorf("%s: deb: member %s is cut off: %w", path, quote(name), io.ErrUnexpectedEOF)
		}
		if size%2 == 1 {
			if _, err := br.Discard(1); err != nil {
				break
			}
		}
	}
	if !found {
		return fmt.Errorf("%s: deb: no data.tar member (not a binary package?)", path)
	}
	return nil
}

func readDebData(ctx context.Context, member io.Reader, name, path string, e *emitter) error {
	var comp compression
	switch {
	case name == "data.tar":
		comp = compNone
	case strings.HasSuffix(name, ".gz"):
		comp = compGzip
	case strings.HasSuffix(name, ".xz"):
		comp = compXZ
	case strings.HasSuffix(name, ".zst"):
		comp = compZstd
	case strings.HasSuffix(name, ".bz2"):
		comp = compBzip2
	default:
		return fmt.Errorf("%s: deb: member %s is compressed with something condachan does not read (it reads .gz, .xz, .zst, .bz2)", path, quote(name))
	}
	dec, done, err := decompress(comp, member)
	if err != nil {
		return fmt.Errorf("%s: deb: %s: %w", path, name, describeDecodeError(comp.tarFormat(), err))
	}
	defer done()
	if err := readTar(ctx, dec, e); err != nil {
		return fmt.Errorf("%s: deb: %s: %w", path, name, describeDecodeError(comp.tarFormat(), err))
	}
	if _, err := io.Copy(io.Discard, dec); err != nil {
		return fmt.Errorf("%s: deb: %s: %w", path, name, describeDecodeError(comp.tarFormat(), err))
	}
	return nil
}

// ---- makeself ----

var (
	makeselfSkip      = regexp.MustCompile(`^skip="?(\d+)"?\s*$`)
	makeselfHeadN     = regexp.MustCompile(`head -n "?(\d+)"? "\$0"`)
	makeselfFilesizes = regexp.MustCompile(`^filesizes="([\d ]+)"`)
	makeselfEncrypted = regexp.MustCompile(`^(decrypt_cmd|ENCRYPT|encryption)="([^"]+)"`)
)

// maxMakeselfHeader bounds the script part of a makeself archive.
const maxMakeselfHeader = 4 << 20

// isMakeself tells a makeself archive from its first bytes.
func isMakeself(head []byte) bool {
	return bytes.HasPrefix(head, []byte("#!")) && bytes.Contains(head[:min(len(head), 512)], []byte("Makeself"))
}

// readMakeself reads the script header of a makeself archive, whose skip= (or `head -n N
// "$0"` in older versions) says after how many lines the payload starts, then emits the
// files of the compressed tar (or tars: filesizes lists each part) there.
func readMakeself(ctx context.Context, br *bufio.Reader, path string, e *emitter) error {
	var lines, skip int
	var sizes []int64
	var read int64
	for skip == 0 || lines < skip {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			return fmt.Errorf("%s: makeself: a header line is longer than 1 MiB: not a makeself archive", path)
		}
		if err != nil {
			return fmt.Errorf("%s: makeself: the header ends after %d lines, before the payload: %w", path, lines, io.ErrUnexpectedEOF)
		}
		lines++
		read += int64(len(line))
		if read > maxMakeselfHeader {
			return fmt.Errorf("%s: makeself: no payload offset (skip=) in the first %d bytes", path, maxMakeselfHeader)
		}
		s := strings.TrimRight(string(line), "\r\n")
		if skip == 0 {
			if m := makeselfSkip.FindStringSubmatch(s); m != nil {
				skip, _ = strconv.Atoi(m[1])
			} else if m := makeselfHeadN.FindStringSubmatch(s); m != nil {
				skip, _ = strconv.Atoi(m[1])
			}
			if skip > 0 && lines > skip {
				return fmt.Errorf("%s: makeself: the header says the payload starts after line %d, but that line is in the header: a damaged archive", path, skip)
			}
		}
		if m := makeselfFilesizes.FindStringSubmatch(s); m != nil && sizes == nil {
			for _, f := range strings.Fields(m[1]) {
				n, _ := strconv.ParseInt(f, 10, 64)
				sizes = append(sizes, n)
			}
		}
		if m := makeselfEncrypted.FindStringSubmatch(s); m != nil {
			return fmt.Errorf("%s: makeself: the payload is encrypted (%s), which condachan cannot read", path, m[0])
		}
	}
	if len(sizes) == 0 {
		return fmt.Errorf("%s: makeself: the header names no payload size (filesizes=)", path)
	}
	for i, size := range sizes {
		part := io.LimitReader(br, size)
		pb := bufio.NewReaderSize(part, 4096)
		head, _ := pb.Peek(512)
		comp, ok := sniffCompression(head)
		if !ok {
			return fmt.Errorf("%s: makeself: the payload after line %d (byte %d) is not a gzip, xz, bzip2, zstd or tar stream: the header's offset is wrong, or the archive is damaged", path, skip, read)
		}
		dec, done, err := decompress(comp, pb)
		if err != nil {
			return fmt.Errorf("%s: makeself payload %d: %w", path, i+1, describeDecodeError(comp.tarFormat(), err))
		}
		err = readTar(ctx, dec, e)
		if err == nil {
			_, err = io.Copy(io.Discard, dec)
		}
		done()
		if err != nil {
			return fmt.Errorf("%s: makeself payload %d: %w", path, i+1, describeDecodeError(comp.tarFormat(), err))
		}
		if n, _ := io.Copy(io.Discard, pb); n > 0 {
			return fmt.Errorf("%s: makeself payload %d: %d bytes after its end (the header's sizes do not match the payload)", path, i+1, n)
		}
		if rest := part.(*io.LimitedReader).N; rest > 0 {
			return fmt.Errorf("%s: makeself payload %d: %d of its %d bytes are missing: %w", path, i+1, rest, size, io.ErrUnexpectedEOF)
		}
		read += size
	}
	return nil
}
