package condapkg

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"time"
)

// The outer container of a .conda is a ZIP whose members are all STORED. Streaming readers
// (libarchive, rattler) need every local header to carry the CRC and both sizes, so a member
// is written with a placeholder header, its data streamed, and the header patched in place
// afterwards. That needs an io.WriteSeeker, which the build has: it writes to a temp file.

const (
	sigLocalHeader     = 0x04034b50
	sigCentralHeader   = 0x02014b50
	sigEndOfCentral    = 0x06054b50
	sigZip64EndRecord  = 0x06064b50
	sigZip64EndLocator = 0x07064b50

	localHeaderLen   = 30
	centralHeaderLen = 46
	endOfCentralLen  = 22
	zip64EndLen      = 56
	zip64LocatorLen  = 20

	extraZip64 = 0x0001
	// extraPadding marks the reserved space in a local header that did not need zip64.
	// 0xa11e is the alignment/padding field of Apache commons-compress and the Rust zip
	// crate; every reader skips extra fields it does not know.
	extraPadding = 0xa11e
	// zip64LocalExtraLen is a zip64 extra field holding both sizes (4-byte header + 2×8).
	zip64LocalExtraLen = 20

	versionPlain = 20 // 2.0: stored members
	versionZip64 = 45 // 4.5: zip64 extensions
	hostUnix     = 3  // "version made by" high byte: external attributes are Unix modes

	max32 = 0xffffffff
	max16 = 0xffff

	flagUTF8 = 0x800 // general purpose bit 11: name is UTF-8
)

// zip64Threshold is the size or offset from which a field no longer fits its 32-bit slot
// and moves to a zip64 extra field (the slot then holds max32). It is a variable only so
// that tests can exercise the zip64 paths with small archives; production never changes it.
var zip64Threshold int64 = max32

// needsZip64 reports whether a size or offset must be stored in a zip64 field.
func needsZip64(v int64) bool { return v >= zip64Threshold }

// field32 is the value of a 32-bit size or offset slot: v itself, or max32 when v lives in
// a zip64 extra field.
func field32(v int64) uint32 {
	if needsZip64(v) {
		return max32
	}
	return uint32(v)
}

// nameFlags sets the UTF-8 flag for names that are not plain ASCII, so that readers do not
// decode them as code page 437.
func nameFlags(name string) uint16 {
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 {
			return flagUTF8
		}
	}
	return 0
}

// zipWriter writes a ZIP archive of STORED members, one member at a time.
type zipWriter struct {
	out     io.WriteSeeker
	buf     *bufio.Writer
	offset  int64 // bytes written so far (logical end of archive)
	modTime time.Time
	members []zipMember
	open    *memberWriter
	closed  bool
}

type zipMember struct {
	name         string
	crc          uint32
	size         int64
	headerOffset int64
}

func newZipWriter(out io.WriteSeeker, modTime time.Time) *zipWriter {
	return &zipWriter{out: out, buf: bufio.NewWriterSize(out, 1<<20), modTime: modTime}
}

// create starts a STORED member. When large is set the local header reserves room for a
// zip64 extra field, so the member may grow past 4 GiB; otherwise it must stay below.
// The returned writer must be closed before the next member is created.
func (z *zipWriter) create(name string, large bool) (*memberWriter, error) {
	if z.open != nil {
		return nil, fmt.Errorf("zip member %s: member %s is still open", name, z.open.member.name)
	}
	if z.closed {
		return nil, errors.New("zip: archive already closed")
	}
	if len(name) > max16 {
		return nil, fmt.Errorf("zip member name too long: %d bytes", len(name))
	}
	m := &memberWriter{
		z:      z,
		member: zipMember{name: name, headerOffset: z.offset},
		crc:    crc32.NewIEEE(),
		large:  large,
	}
	hdr := m.localHeader(0, 0, false)
	if _, err := z.write(hdr); err != nil {
		return nil, fmt.Errorf("zip member %s: %w", name, err)
	}
	m.dataOffset = z.offset
	z.open = m
	return m, nil
}

func (z *zipWriter) write(p []byte) (int, error) {
	n, err := z.buf.Write(p)
	z.offset += int64(n)
	return n, err
}

// close writes the central directory and the end records, zip64 where needed.
func (z *zipWriter) close() error {
	if z.open != nil {
		return fmt.Errorf("zip: member %s is still open", z.open.member.name)
	}
	if z.closed {
		return nil
	}
	z.closed = true
	dosTime, dosDate := msdosTimeDate(z.modTime)
	cdStart := z.offset
	for _, m := range z.members {
		// The zip64 extra holds, in this order, exactly the fields whose slot is max32.
		var extra []byte
		size32, off32 := field32(m.size), field32(m.headerOffset)
		if needsZip64(m.size) {
			extra = binary.LittleEndian.AppendUint64(extra, uint64(m.size))
			extra = binary.LittleEndian.AppendUint64(extra, uint64(m.size))
		}
		if needsZip64(m.headerOffset) {
			extra = binary.LittleEndian.AppendUint64(extra, uint64(m.headerOffset))
		}
		needed := uint16(versionPlain)
		if len(extra) > 0 {
			needed = versionZip64
			extra = append(binary.LittleEndian.AppendUint16(binary.LittleEndian.AppendUint16(nil, extraZip64), uint16(len(extra))), extra...)
		}
		h := make([]byte, 0, centralHeaderLen+len(m.name)+len(extra))
		h = binary.LittleEndian.AppendUint32(h, sigCentralHeader)
		h = binary.LittleEndian.AppendUint16(h, hostUnix<<8|versionZip64)
		h = binary.LittleEndian.AppendUint16(h, needed)
		h = binary.LittleEndian.AppendUint16(h, nameFlags(m.name)) // flags: never a data descriptor
		h = binary.LittleEndian.AppendUint16(h, 0)                 // method: stored
		h = binary.LittleEndian.AppendUint16(h, dosTime)
		h = binary.LittleEndian.AppendUint16(h, dosDate)
		h = binary.LittleEndian.AppendUint32(h, m.crc)
		h = binary.LittleEndian.AppendUint32(h, size32) // compressed
		h = binary.LittleEndian.AppendUint32(h, size32) // uncompressed
		h = binary.LittleEndian.AppendUint16(h, uint16(len(m.name)))
		h = binary.LittleEndian.AppendUint16(h, uint16(len(extra)))
		h = binary.LittleEndian.AppendUint16(h, 0)            // comment length
		h = binary.LittleEndian.AppendUint16(h, 0)            // disk number
		h = binary.LittleEndian.AppendUint16(h, 0)            // internal attributes
		h = binary.LittleEndian.AppendUint32(h, 0o100644<<16) // external: regular file, rw-r--r--
		h = binary.LittleEndian.AppendUint32(h, off32)
		h = append(h, m.name...)
		h = append(h, extra...)
		if _, err := z.write(h); err != nil {
			return fmt.Errorf("zip central directory: %w", err)
		}
	}
	cdSize := z.offset - cdStart
	count := len(z.members)
	zip64End := needsZip64(cdStart) || needsZip64(cdSize) || count >= max16
	if zip64End {
		recOffset := z.offset
		r := make([]byte, 0, zip64EndLen+zip64LocatorLen)
		r = binary.LittleEndian.AppendUint32(r, sigZip64EndRecord)
		r = binary.LittleEndian.AppendUint64(r, zip64EndLen-12) // size of the rest of the record
		r = binary.LittleEndian.AppendUint16(r, hostUnix<<8|versionZip64)
		r = binary.LittleEndian.AppendUint16(r, versionZip64)
		r = binary.LittleEndian.AppendUint32(r, 0) // this disk
		r = binary.LittleEndian.AppendUint32(r, 0) // disk with the central directory
		r = binary.LittleEndian.AppendUint64(r, uint64(count))
		r = binary.LittleEndian.AppendUint64(r, uint64(count))
		r = binary.LittleEndian.AppendUint64(r, uint64(cdSize))
		r = binary.LittleEndian.AppendUint64(r, uint64(cdStart))
		r = binary.LittleEndian.AppendUint32(r, sigZip64EndLocator)
		r = binary.LittleEndian.AppendUint32(r, 0)
		r = binary.LittleEndian.AppendUint64(r, uint64(recOffset))
		r = binary.LittleEndian.AppendUint32(r, 1) // total disks
		if _, err := z.write(r); err != nil {
			return fmt.Errorf("zip64 end record: %w", err)
		}
	}
	e := make([]byte, 0, endOfCentralLen)
	e = binary.LittleEndian.AppendUint32(e, sigEndOfCentral)
	e = binary.LittleEndian.AppendUint16(e, 0)
	e = binary.LittleEndian.AppendUint16(e, 0)
	e = binary.LittleEndian.AppendUint16(e, uint16(min(count, max16)))
	e = binary.LittleEndian.AppendUint16(e, uint16(min(count, max16)))
	e = binary.LittleEndian.AppendUint32(e, field32(cdSize))
	e = binary.LittleEndian.AppendUint32(e, field32(cdStart))
	e = binary.LittleEndian.AppendUint16(e, 0) // comment length
	if _, err := z.write(e); err != nil {
		return fmt.Errorf("zip end record: %w", err)
	}
	return z.buf.Flush()
}

// memberWriter streams the data of one STORED member and tracks its CRC and size.
type memberWriter struct {
	z          *zipWriter
	member     zipMember
	crc        hash.Hash32
	large      bool
	dataOffset int64
	closed     bool
}

func (m *memberWriter) Write(p []byte) (int, error) {
	if m.closed {
		return 0, fmt.Errorf("zip member %s: write after close", m.member.name)
	}
	if !m.large && needsZip64(m.member.size+int64(len(p))) {
		return 0, fmt.Errorf("zip member %s: passes 4 GiB but was not opened for zip64", m.member.name)
	}
	n, err := m.z.write(p)
	m.crc.Write(p[:n])
	m.member.size += int64(n)
	return n, err
}

// localHeader renders the member's local file header for the given sizes.
func (m *memberWriter) localHeader(crc uint32, size int64, zip64 bool) []byte {
	dosTime, dosDate := msdosTimeDate(m.z.modTime)
	name := m.member.name
	extraLen := 0
	if m.large {
		extraLen = zip64LocalExtraLen
	}
	// Version needed matches the central directory's: 4.5 as soon as the member uses any
	// zip64 field, including an offset that only the central directory records.
	needed, size32 := uint16(versionPlain), uint32(size)
	if zip64 {
		size32 = max32
	}
	if zip64 || needsZip64(m.member.headerOffset) {
		needed = versionZip64
	}
	h := make([]byte, 0, localHeaderLen+len(name)+extraLen)
	h = binary.LittleEndian.AppendUint32(h, sigLocalHeader)
	h = binary.LittleEndian.AppendUint16(h, needed)
	h = binary.LittleEndian.AppendUint16(h, nameFlags(name)) // flags: no data descriptor
	h = binary.LittleEndian.AppendUint16(h, 0)               // method: stored
	h = binary.LittleEndian.AppendUint16(h, dosTime)
	h = binary.LittleEndian.AppendUint16(h, dosDate)
	h = binary.LittleEndian.AppendUint32(h, crc)
	h = binary.LittleEndian.AppendUint32(h, size32) // compressed
	h = binary.LittleEndian.AppendUint32(h, size32) // uncompressed
	h = binary.LittleEndian.AppendUint16(h, uint16(len(name)))
	h = binary.LittleEndian.AppendUint16(h, uint16(extraLen))
	h = append(h, name...)
	if m.large {
		id := uint16(extraPadding)
		if zip64 {
			id = extraZip64
		}
		h = binary.LittleEndian.AppendUint16(h, id)
		h = binary.LittleEndian.AppendUint16(h, zip64LocalExtraLen-4)
		var usize, csize uint64
		if zip64 {
			usize, csize = uint64(size), uint64(size)
		}
		h = binary.LittleEndian.AppendUint64(h, usize)
		h = binary.LittleEndian.AppendUint64(h, csize)
	}
	return h
}

// Close patches the member's local header with its CRC and sizes.
func (m *memberWriter) Close() error {
	if m.closed {
		return nil
	}
	m.closed = true
	z := m.z
	z.open = nil
	m.member.crc = m.crc.Sum32()
	if err := z.buf.Flush(); err != nil {
		return fmt.Errorf("zip member %s: %w", m.member.name, err)
	}
	hdr := m.localHeader(m.member.crc, m.member.size, needsZip64(m.member.size))
	if _, err := z.out.Seek(m.member.headerOffset, io.SeekStart); err != nil {
		return fmt.Errorf("zip member %s: seek to local header: %w", m.member.name, err)
	}
	if _, err := z.out.Write(hdr); err != nil {
		return fmt.Errorf("zip member %s: patch local header: %w", m.member.name, err)
	}
	if _, err := z.out.Seek(z.offset, io.SeekStart); err != nil {
		return fmt.Errorf("zip member %s: seek to end: %w", m.member.name, err)
	}
	z.members = append(z.members, m.member)
	return nil
}

// msdosTimeDate converts t (taken as UTC, so the archive does not depend on the builder's
// time zone) to MS-DOS date and time fields. DOS dates start in 1980.
func msdosTimeDate(t time.Time) (uint16, uint16) {
	t = t.UTC()
	if t.Year() < 1980 {
		t = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if t.Year() > 2107 {
		t = time.Date(2107, 12, 31, 23, 59, 58, 0, time.UTC)
	}
	date := uint16(t.Day() + int(t.Month())<<5 + (t.Year()-1980)<<9)
	tm := uint16(t.Second()/2 + t.Minute()<<5 + t.Hour()<<11)
	return tm, date
}
