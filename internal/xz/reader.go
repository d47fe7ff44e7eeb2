// Package xz is a streaming decoder for the .xz container format with the
// LZMA2 filter (optionally preceded by Delta).
//
// It exists because decompressing upstream source and binary tarballs (many
// of them multi-GB .tar.xz files) bounds the speed of the whole streaming
// build: the general-purpose pure-Go decoders are 1.6-2x slower than liblzma.
// This one decodes straight into its dictionary window, hands slices of that
// window to the caller, and keeps the range decoder's state in registers.
//
// Everything the format lets a decoder verify is verified: header CRCs,
// block sizes, the integrity check of every block (CRC32, CRC64 or SHA-256),
// the index against the blocks actually decoded, and the stream footer.
// Concatenated streams and stream padding are accepted, as by `xz -dc`.
package xz

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
)

const (
	headerMagic = "\xfd7zXZ\x00"
	footerMagic = "YZ"

	checkNone   = 0x00
	checkCRC32  = 0x01
	checkCRC64  = 0x04
	checkSHA256 = 0x0A

	filterDelta = 0x03
	filterLZMA2 = 0x21

	// maxDictSize bounds the memory a stream can make us allocate. xz -9
	// uses 64 MiB; xz itself allows at most 1.5 GiB.
	maxDictSize = 1 << 30

	// pieceSize bounds how much is decoded before it is handed out, so the
	// bytes are still in cache when they are checksummed and copied.
	pieceSize = 256 << 10

	// inputBufSize must hold a whole LZMA2 chunk (64 KiB plus header).
	inputBufSize = 256 << 10
)

var crc64Table = crc64.MakeTable(crc64.ECMA)

func errTruncated(where string) error {
	return fmt.Errorf("xz: truncated input (%s): %w", where, io.ErrUnexpectedEOF)
}

// inBuf is a simple read buffer that can hand out contiguous runs of up to
// its size, which every header and LZMA2 chunk fits in.
type inBuf struct {
	r      io.Reader
	buf    []byte
	rp, wp int
	err    error
}

// fill makes at least n bytes available unless the input ends first.
func (b *inBuf) fill(n int) error {
	if b.wp-b.rp >= n {
		return nil
	}
	if b.rp+n > len(b.buf) {
		b.wp = copy(b.buf, b.buf[b.rp:b.wp])
		b.rp = 0
	}
	empty := 0
	for b.wp-b.rp < n {
		if b.err != nil {
			return b.err
		}
		m, err := b.r.Read(b.buf[b.wp:])
		b.wp += m
		if err != nil {
			b.err = err
		} else if m == 0 {
			if empty++; empty > 100 {
				b.err = io.ErrNoProgress
			}
		}
	}
	return nil
}

// next returns the next n bytes and consumes them. The slice is only valid
// until the next call.
func (b *inBuf) next(n int, where string) ([]byte, error) {
	if err := b.fill(n); err != nil {
		if err == io.EOF {
			return nil, errTruncated(where)
		}
		return nil, fmt.Errorf("xz: reading input: %w", err)
	}
	s := b.buf[b.rp : b.rp+n]
	b.rp += n
	return s, nil
}

func (b *inBuf) readByte(where string) (byte, error) {
	if b.rp < b.wp {
		c := b.buf[b.rp]
		b.rp++
		return c, nil
	}
	s, err := b.next(1, where)
	if err != nil {
		return 0, err
	}
	return s[0], nil
}

// atEOF reports whether the input ended cleanly at this point.
func (b *inBuf) atEOF() (bool, error) {
	err := b.fill(1)
	if err == io.EOF && b.rp == b.wp {
		return true, nil
	}
	if err != nil && err != io.EOF {
		return false, fmt.Errorf("xz: reading input: %w", err)
	}
	return false, nil
}

// checker computes a block's integrity check. CRC32 and CRC64 are kept as
// plain values to avoid an interface call per piece.
//
// Hashing runs on another goroutine, overlapped with decoding the next piece:
// CRC64 alone would otherwise add about 4% to the decode time. Each piece's
// goroutine waits for its predecessor, so updates stay in order, and the
// reader calls wait before the hashed bytes can be overwritten.
type checker struct {
	kind    byte
	c32     uint32
	c64     uint64
	sha     hash.Hash
	pending chan struct{} // closed when the last queued update is done
}

// updateAsync hashes p in the background; p must not change until wait.
func (c *checker) updateAsync(p []byte) {
	if c.kind == checkNone {
		return
	}
	prev := c.pending
	done := make(chan struct{})
	go func() {
		if prev != nil {
			<-prev
		}
		c.update(p)
		close(done)
	}()
	c.pending = done
}

func (c *checker) wait() {
	if c.pending != nil {
		<-c.pending
		c.pending = nil
	}
}

func checkSize(kind byte) int {
	switch kind {
	case checkCRC32:
		return 4
	case checkCRC64:
		return 8
	case checkSHA256:
		return 32
	}
	return 0
}

func checkName(kind byte) string {
	switch kind {
	case checkCRC32:
		return "CRC32"
	case checkCRC64:
		return "CRC64"
	case checkSHA256:
		return "SHA-256"
	}
	return "none"
}

func (c *checker) reset(kind byte) {
	c.wait()
	c.kind = kind
	c.c32, c.c64 = 0, 0
	if kind == checkSHA256 {
		if c.sha == nil {
			c.sha = sha256.New()
		}
		c.sha.Reset()
	}
}

func (c *checker) update(p []byte) {
	switch c.kind {
	case checkCRC32:
		c.c32 = crc32.Update(c.c32, crc32.IEEETable, p)
	case checkCRC64:
		c.c64 = crc64.Update(c.c64, crc64Table, p)
	case checkSHA256:
		c.sha.Write(p)
	}
}

func (c *checker) verify(stored []byte) bool {
	c.wait()
	switch c.kind {
	case checkCRC32:
		return binary.LittleEndian.Uint32(stored) == c.c32
	case checkCRC64:
		return binary.LittleEndian.Uint64(stored) == c.c64
	case checkSHA256:
		return bytes.Equal(c.sha.Sum(nil), stored)
	}
	return true
}

type indexRecord struct {
	unpadded, uncompressed uint64
}

// Reader states.
const (
	sBlockStart = iota // block header or index
	sChunk             // LZMA2 control byte
	sData              // inside an LZMA2 chunk
	sStreamEnd         // after a stream footer: padding, next stream or EOF
)

// Reader decompresses an .xz stream (or several concatenated ones).
type Reader struct {
	in  inBuf
	out []byte // decoded bytes not yet returned
	err error  // sticky; io.EOF after a clean end

	state     int
	flags     [2]byte // stream flags, repeated in the footer
	check     checker
	records   []indexRecord // blocks decoded in the current stream
	indexSize int64         // for the footer's backward size
	blockNum  int           // counts blocks across streams, for messages
	lz        *lzmaDec
	win       window
	delta     *deltaFilter
	filterBuf []byte

	// Current block.
	hdrSize             int
	declComp, declUncmp int64 // -1 if not declared in the header
	comp, uncmp         int64 // actual sizes so far

	// Current LZMA2 chunk.
	needDictReset bool
	needProps     bool
	chunkLZMA     bool
	chunkRem      int // uncompressed bytes left in the chunk
}

// NewReader returns a reader of the decompressed data of the .xz stream(s)
// in r. It reads and validates the first stream header before returning.
func NewReader(r io.Reader) (*Reader, error) {
	z := &Reader{in: inBuf{r: r, buf: make([]byte, inputBufSize)}}
	if err := z.streamHeader(nil); err != nil {
		return nil, err
	}
	return z, nil
}

// Read implements io.Reader.
func (z *Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for len(z.out) == 0 {
		if z.err != nil {
			return 0, z.err
		}
		z.err = z.fill()
	}
	n := copy(p, z.out)
	z.out = z.out[n:]
	return n, nil
}

// WriteTo implements io.WriterTo, writing decoded data straight from the
// dictionary window so io.Copy makes no intermediate copy.
func (z *Reader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(z.out) > 0 {
			n, err := w.Write(z.out)
			total += int64(n)
			z.out = z.out[n:]
			if err != nil {
				return total, err
			}
			if len(z.out) > 0 {
				return total, io.ErrShortWrite
			}
		}
		if z.err != nil {
			if z.err == io.EOF {
				return total, nil
			}
			return total, z.err
		}
		z.err = z.fill()
	}
}

func (z *Reader) blockErr(format string, args ...any) error {
	return fmt.Errorf("xz: block %d: "+format, append([]any{z.blockNum}, args...)...)
}

// streamHeader parses a stream header; pre holds bytes of it that were
// already consumed while looking for stream padding.
func (z *Reader) streamHeader(pre []byte) error {
	var h [12]byte
	n := copy(h[:], pre)
	if string(h[:n]) != headerMagic[:n] {
		// Trailing garbage after a stream: say so rather than "truncated".
		return errors.New("xz: not an xz stream (bad header magic)")
	}
	rest, err := z.in.next(12-n, "stream header")
	if err != nil {
		return err
	}
	copy(h[n:], rest)
	if string(h[:6]) != headerMagic {
		return errors.New("xz: not an xz stream (bad header magic)")
	}
	if crc32.ChecksumIEEE(h[6:8]) != binary.LittleEndian.Uint32(h[8:]) {
		return errors.New("xz: stream header CRC32 mismatch")
	}
	if h[6] != 0 || h[7]&0xF0 != 0 {
		return fmt.Errorf("xz: unsupported stream flags %#02x%02x", h[6], h[7])
	}
	switch h[7] {
	case checkNone, checkCRC32, checkCRC64, checkSHA256:
	default:
		return fmt.Errorf("xz: unsupported check type %#x", h[7])
	}
	z.flags = [2]byte{h[6], h[7]}
	z.records = z.records[:0]
	z.state = sBlockStart
	return nil
}

// fill advances the decoder until it has output in z.out or fails. It
// returns io.EOF after the last stream.
func (z *Reader) fill() error {
	for {
		switch z.state {
		case sBlockStart:
			if err := z.in.fill(1); err != nil {
				if err == io.EOF {
					return errTruncated("block header")
				}
				return fmt.Errorf("xz: reading input: %w", err)
			}
			if z.in.buf[z.in.rp] == 0 {
				z.in.rp++
				if err := z.readIndex(); err != nil {
					return err
				}
				if err := z.readFooter(); err != nil {
					return err
				}
				z.state = sStreamEnd
				continue
			}
			if err := z.blockHeader(); err != nil {
				return err
			}
			z.state = sChunk
		case sChunk:
			if err := z.chunkHeader(); err != nil {
				return err
			}
		case sData:
			if z.chunkRem == 0 {
				if z.chunkLZMA && !z.lz.finished() {
					return z.blockErr("%w", errCorrupt)
				}
				z.state = sChunk
				continue
			}
			return z.decodePiece()
		case sStreamEnd:
			// Stream padding comes in groups of four zero bytes; anything
			// else must be the next stream.
			eof, err := z.in.atEOF()
			if err != nil {
				return err
			}
			if eof {
				return io.EOF
			}
			p, err := z.in.next(4, "stream padding")
			if err != nil {
				return err
			}
			if binary.LittleEndian.Uint32(p) == 0 {
				continue
			}
			var pre [4]byte
			copy(pre[:], p)
			if err := z.streamHeader(pre[:]); err != nil {
				return err
			}
		}
	}
}

// readVarint decodes a multibyte integer as the .xz format defines it: at
// most nine bytes, minimal encoding.
func readVarint(b []byte) (uint64, int, bool) {
	var v uint64
	for i := 0; i < len(b) && i < 9; i++ {
		c := b[i]
		v |= uint64(c&0x7F) << (7 * i)
		if c&0x80 == 0 {
			if c == 0 && i > 0 {
				return 0, 0, false
			}
			return v, i + 1, true
		}
	}
	return 0, 0, false
}

func (z *Reader) blockHeader() error {
	size := (int(z.in.buf[z.in.rp]) + 1) * 4
	h, err := z.in.next(size, "block header")
	if err != nil {
		return err
	}
	if crc32.ChecksumIEEE(h[:size-4]) != binary.LittleEndian.Uint32(h[size-4:]) {
		return z.blockErr("header CRC32 mismatch")
	}
	flags := h[1]
	if flags&0x3C != 0 {
		return z.blockErr("unsupported block header flags %#02x", flags)
	}
	body := h[2 : size-4]
	field := func() (uint64, error) {
		v, n, ok := readVarint(body)
		if !ok || v > 1<<63-1 {
			return 0, z.blockErr("corrupt block header")
		}
		body = body[n:]
		return v, nil
	}
	z.declComp, z.declUncmp = -1, -1
	if flags&0x40 != 0 {
		v, err := field()
		if err != nil {
			return err
		}
		if v == 0 {
			return z.blockErr("corrupt block header (zero compressed size)")
		}
		z.declComp = int64(v)
	}
	if flags&0x80 != 0 {
		v, err := field()
		if err != nil {
			return err
		}
		z.declUncmp = int64(v)
	}
	nf := int(flags&3) + 1
	z.delta = nil
	var dictSize int
	for i := 0; i < nf; i++ {
		id, err := field()
		if err != nil {
			return err
		}
		psize, err := field()
		if err != nil {
			return err
		}
		if psize > uint64(len(body)) {
			return z.blockErr("corrupt block header")
		}
		props := body[:psize]
		body = body[psize:]
		last := i == nf-1
		switch {
		case id == filterLZMA2 && last:
			if psize != 1 {
				return z.blockErr("corrupt LZMA2 filter properties")
			}
			bits := props[0]
			if bits > 40 {
				return z.blockErr("invalid LZMA2 dictionary size")
			}
			if bits == 40 {
				return z.blockErr("LZMA2 dictionary size 4 GiB exceeds limit of %d MiB", maxDictSize>>20)
			}
			d := uint64(2|bits&1) << (bits/2 + 11)
			if d > maxDictSize {
				return z.blockErr("LZMA2 dictionary size %d MiB exceeds limit of %d MiB", d>>20, maxDictSize>>20)
			}
			dictSize = int(d)
		case id == filterDelta && !last:
			if psize != 1 {
				return z.blockErr("corrupt Delta filter properties")
			}
			if z.delta != nil {
				return z.blockErr("unsupported filter chain (repeated Delta filter)")
			}
			z.delta = &deltaFilter{dist: int(props[0]) + 1}
		case id == filterLZMA2 || id == filterDelta:
			return z.blockErr("invalid filter chain (LZMA2 must be last)")
		default:
			return z.blockErr("unsupported filter %#x%s", id, filterName(id))
		}
	}
	for _, c := range body {
		if c != 0 {
			return z.blockErr("corrupt block header (non-zero padding)")
		}
	}

	z.hdrSize = size
	z.comp, z.uncmp = 0, 0
	z.check.reset(z.flags[1])
	if z.lz == nil {
		z.lz = new(lzmaDec)
	}
	z.win.reset(dictSize)
	z.needDictReset = true
	z.needProps = true
	z.chunkRem = 0
	return nil
}

func filterName(id uint64) string {
	switch id {
	case 0x04:
		return " (x86 BCJ)"
	case 0x05:
		return " (PowerPC BCJ)"
	case 0x06:
		return " (IA-64 BCJ)"
	case 0x07:
		return " (ARM BCJ)"
	case 0x08:
		return " (ARM-Thumb BCJ)"
	case 0x09:
		return " (SPARC BCJ)"
	case 0x0A:
		return " (ARM64 BCJ)"
	case 0x0B:
		return " (RISC-V BCJ)"
	}
	return ""
}

// consume accounts for n bytes of the block's compressed data.
func (z *Reader) consume(n int) error {
	z.comp += int64(n)
	if z.declComp >= 0 && z.comp > z.declComp {
		return z.blockErr("compressed size exceeds the size in the block header")
	}
	return nil
}

// chunkHeader parses an LZMA2 control byte and the chunk header that
// follows, applying the resets it asks for.
func (z *Reader) chunkHeader() error {
	ctrl, err := z.in.readByte("LZMA2 chunk header")
	if err != nil {
		return err
	}
	if err := z.consume(1); err != nil {
		return err
	}
	if ctrl == 0 {
		return z.blockEnd()
	}
	if ctrl == 1 || ctrl >= 0xE0 {
		z.needProps = true
		z.needDictReset = false
		z.check.wait() // the hasher may still read the window
		z.win.dictReset()
	} else if z.needDictReset {
		return z.blockErr("%w (missing dictionary reset)", errCorrupt)
	}
	if ctrl < 0x80 {
		if ctrl > 2 {
			return z.blockErr("%w (invalid control byte %#02x)", errCorrupt, ctrl)
		}
		h, err := z.in.next(2, "LZMA2 chunk header")
		if err != nil {
			return err
		}
		if err := z.consume(2); err != nil {
			return err
		}
		z.chunkLZMA = false
		z.chunkRem = int(h[0])<<8 | int(h[1]) + 1
		z.state = sData
		return nil
	}

	hlen := 4
	if ctrl >= 0xC0 {
		hlen = 5
	}
	h, err := z.in.next(hlen, "LZMA2 chunk header")
	if err != nil {
		return err
	}
	if err := z.consume(hlen); err != nil {
		return err
	}
	usize := int(ctrl&0x1F)<<16 | int(h[0])<<8 | int(h[1]) + 1
	csize := int(h[2])<<8 | int(h[3]) + 1
	lz := z.lz
	if ctrl >= 0xC0 {
		if err := lz.setProps(h[4]); err != nil {
			return z.blockErr("%w", err)
		}
		z.needProps = false
		lz.resetState()
	} else if z.needProps {
		return z.blockErr("%w (missing properties)", errCorrupt)
	} else if ctrl >= 0xA0 {
		lz.resetState()
	}
	data, err := z.in.next(csize, "LZMA2 chunk")
	if err != nil {
		return err
	}
	if err := z.consume(csize); err != nil {
		return err
	}
	copy(lz.in[:], data)
	if err := lz.startChunk(csize); err != nil {
		return z.blockErr("%w", err)
	}
	z.chunkLZMA = true
	z.chunkRem = usize
	z.state = sData
	return nil
}

// decodePiece decodes the next part of the current chunk into the window
// and makes it the pending output.
func (z *Reader) decodePiece() error {
	w := &z.win
	if w.pos == len(w.buf) {
		z.check.wait() // wrapping around overwrites what it may still read
		w.makeRoom()
	}
	start := w.pos
	n := min(z.chunkRem, len(w.buf)-start, pieceSize)
	if z.declUncmp >= 0 && z.uncmp+int64(n) > z.declUncmp {
		return z.blockErr("uncompressed size exceeds the size in the block header")
	}
	if z.chunkLZMA {
		if err := z.lz.decode(w, start+n); err != nil {
			return z.blockErr("%w", err)
		}
	} else {
		data, err := z.in.next(n, "LZMA2 chunk")
		if err != nil {
			return err
		}
		if err := z.consume(n); err != nil {
			return err
		}
		copy(w.buf[start:], data)
		w.pos += n
	}
	z.chunkRem -= n
	w.advance(n)
	z.uncmp += int64(n)
	out := w.buf[start:w.pos]
	if z.delta == nil {
		z.check.updateAsync(out)
		z.out = out
		return nil
	}
	// The window must keep the LZMA2 output as history, so the Delta stage
	// works on a copy.
	if cap(z.filterBuf) < n {
		z.filterBuf = make([]byte, pieceSize)
	}
	fb := z.filterBuf[:n]
	copy(fb, out)
	z.delta.decode(fb)
	// filterBuf is reused for the next piece: hash it now.
	z.check.wait()
	z.check.update(fb)
	z.out = fb
	return nil
}

// blockEnd verifies the sizes, padding and check of a finished block.
func (z *Reader) blockEnd() error {
	if z.declComp >= 0 && z.comp != z.declComp {
		return z.blockErr("compressed size does not match the block header")
	}
	if z.declUncmp >= 0 && z.uncmp != z.declUncmp {
		return z.blockErr("uncompressed size does not match the block header")
	}
	unpadded := int64(z.hdrSize) + z.comp
	if pad := int(-unpadded & 3); pad > 0 {
		p, err := z.in.next(pad, "block padding")
		if err != nil {
			return err
		}
		for _, c := range p {
			if c != 0 {
				return z.blockErr("corrupt block padding")
			}
		}
	}
	cs := checkSize(z.check.kind)
	stored, err := z.in.next(cs, "block check")
	if err != nil {
		return err
	}
	if !z.check.verify(stored) {
		return z.blockErr("%s mismatch", checkName(z.check.kind))
	}
	z.records = append(z.records, indexRecord{
		unpadded:     uint64(unpadded) + uint64(cs),
		uncompressed: uint64(z.uncmp),
	})
	z.blockNum++
	z.state = sBlockStart
	return nil
}

// indexReader reads the index byte by byte while hashing it.
type indexReader struct {
	z   *Reader
	crc uint32
	n   int64
}

func (x *indexReader) byte() (byte, error) {
	c, err := x.z.in.readByte("index")
	if err != nil {
		return 0, err
	}
	x.crc = crc32.Update(x.crc, crc32.IEEETable, []byte{c})
	x.n++
	return c, nil
}

func (x *indexReader) varint() (uint64, error) {
	var v uint64
	for i := 0; i < 9; i++ {
		c, err := x.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(c&0x7F) << (7 * i)
		if c&0x80 == 0 {
			if c == 0 && i > 0 {
				break
			}
			return v, nil
		}
	}
	return 0, errors.New("xz: corrupt index")
}

var errIndex = errors.New("xz: index does not match the decoded blocks")

func (z *Reader) readIndex() error {
	x := &indexReader{z: z}
	// The indicator byte was consumed by the caller.
	x.crc = crc32.Update(0, crc32.IEEETable, []byte{0})
	x.n = 1
	count, err := x.varint()
	if err != nil {
		return err
	}
	if count != uint64(len(z.records)) {
		return fmt.Errorf("%w (index lists %d blocks, stream has %d)", errIndex, count, len(z.records))
	}
	for i := range z.records {
		u, err := x.varint()
		if err != nil {
			return err
		}
		c, err := x.varint()
		if err != nil {
			return err
		}
		if u != z.records[i].unpadded || c != z.records[i].uncompressed {
			return fmt.Errorf("%w (record %d)", errIndex, i)
		}
	}
	for x.n&3 != 0 {
		c, err := x.byte()
		if err != nil {
			return err
		}
		if c != 0 {
			return errors.New("xz: corrupt index padding")
		}
	}
	stored, err := z.in.next(4, "index")
	if err != nil {
		return err
	}
	if binary.LittleEndian.Uint32(stored) != x.crc {
		return errors.New("xz: index CRC32 mismatch")
	}
	z.indexSize = x.n + 4
	return nil
}

func (z *Reader) readFooter() error {
	f, err := z.in.next(12, "stream footer")
	if err != nil {
		return err
	}
	if string(f[10:]) != footerMagic {
		return errors.New("xz: corrupt stream footer (bad magic)")
	}
	if crc32.ChecksumIEEE(f[4:10]) != binary.LittleEndian.Uint32(f) {
		return errors.New("xz: stream footer CRC32 mismatch")
	}
	if (int64(binary.LittleEndian.Uint32(f[4:]))+1)*4 != z.indexSize {
		return errors.New("xz: stream footer backward size does not match the index")
	}
	if f[8] != z.flags[0] || f[9] != z.flags[1] {
		return errors.New("xz: stream footer flags do not match the header")
	}
	return nil
}
