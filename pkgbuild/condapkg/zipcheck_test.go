package condapkg_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"testing"
	"time"

	"github.com/condachan/condachan/pkgbuild/condapkg"
)

// This file is a strict, independent reading of the .conda container: it parses the raw
// bytes (not with archive/zip) and holds them to the contract in DESIGN.md. It works on an
// io.ReaderAt so that it also checks the multi-GiB archive of the long zip64 test.

// checkedMember is one ZIP member as the checker found it.
type checkedMember struct {
	name         string
	headerOffset int64
	dataOffset   int64
	size         int64
	crc          uint32
	needed       uint16 // version needed to extract (local == central)
	localExtra   uint16 // id of the local header's extra field, 0 if none
	centralZip64 bool   // the central record has a zip64 extra field
}

// checkedArchive is the layout of a checked .conda.
type checkedArchive struct {
	members  []checkedMember
	cdStart  int64
	cdSize   int64
	zip64End bool                   // zip64 end of central directory record and locator present
	frames   map[string][]zstdFrame // frames of the .tar.zst members
}

func (a checkedArchive) member(name string) checkedMember {
	for _, m := range a.members {
		if m.name == name {
			return m
		}
	}
	return checkedMember{}
}

// ZIP format values (APPNOTE.TXT), spelled out here rather than taken from the writer.
const (
	sigLocalHeader     = 0x04034b50
	sigCentralHeader   = 0x02014b50
	sigEndOfCentral    = 0x06054b50
	sigZip64EndRecord  = 0x06064b50
	sigZip64EndLocator = 0x07064b50
	localHeaderLen     = 30
	centralHeaderLen   = 46
	endOfCentralLen    = 22
	zip64EndLen        = 56
	zip64LocatorLen    = 20
	extraZip64         = 0x0001
	extraPadding       = 0xa11e // the writer's reserved space for a zip64 extra field
	zip64LocalExtraLen = 20
	versionPlain       = 20
	versionZip64       = 45
	hostUnix           = 3
	max32              = 0xffffffff
	flagUTF8           = 0x800
)

// dosTimeDate is the MS-DOS time and date of t in UTC, clamped to 1980..2107.
func dosTimeDate(t time.Time) (uint16, uint16) {
	t = t.UTC()
	switch {
	case t.Year() < 1980:
		return 0, 1<<5 | 1
	case t.Year() > 2107:
		return 23<<11 | 59<<5 | 29, 127<<9 | 12<<5 | 31
	}
	return uint16(t.Hour()<<11 | t.Minute()<<5 | t.Second()/2), uint16((t.Year()-1980)<<9 | int(t.Month())<<5 | t.Day())
}

func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }
func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

// checkContainer checks a .conda named <stem>.conda of the given size whose bytes are at r,
// written with Options.ModTime modTime, against the container contract: zip64 must be
// used exactly for the sizes and offsets >= threshold. It reports every violation and
// stops the test only when the layout cannot be followed any further.
func checkContainer(t testing.TB, r io.ReaderAt, size int64, stem string, modTime time.Time, threshold int64) checkedArchive {
	t.Helper()
	read := func(off int64, n int) []byte {
		t.Helper()
		if off < 0 || off+int64(n) > size {
			t.Fatalf("structure: read of %d bytes at %d is outside the %d-byte archive", n, off, size)
		}
		b := make([]byte, n)
		if _, err := r.ReadAt(b, off); err != nil {
			t.Fatalf("structure: read at %d: %v", off, err)
		}
		return b
	}
	var a checkedArchive

	// End of central directory: the last 22 bytes, as no comment is ever written.
	if size < endOfCentralLen {
		t.Fatalf("structure: %d bytes is too short for a ZIP", size)
	}
	eocdOff := size - endOfCentralLen
	e := read(eocdOff, endOfCentralLen)
	if le32(e) != sigEndOfCentral {
		t.Fatalf("structure: no end of central directory record in the last 22 bytes (comment or trailing bytes?)")
	}
	if le16(e[4:]) != 0 || le16(e[6:]) != 0 {
		t.Errorf("structure: EOCD disk numbers %d/%d, want 0/0", le16(e[4:]), le16(e[6:]))
	}
	if le16(e[8:]) != 3 || le16(e[10:]) != 3 {
		t.Errorf("structure: EOCD entry counts %d/%d, want 3/3", le16(e[8:]), le16(e[10:]))
	}
	if le16(e[20:]) != 0 {
		t.Errorf("structure: EOCD comment length %d, want 0", le16(e[20:]))
	}
	cdSize32, cdStart32 := le32(e[12:]), le32(e[16:])
	a.cdSize, a.cdStart = int64(cdSize32), int64(cdStart32)
	endOfCD := eocdOff

	if eocdOff >= zip64LocatorLen && le32(read(eocdOff-zip64LocatorLen, 4)) == sigZip64EndLocator {
		a.zip64End = true
		loc := read(eocdOff-zip64LocatorLen, zip64LocatorLen)
		recOff := int64(le64(loc[8:]))
		if le32(loc[4:]) != 0 || le32(loc[16:]) != 1 {
			t.Errorf("structure: zip64 locator disk fields %d/%d, want 0/1", le32(loc[4:]), le32(loc[16:]))
		}
		if want := eocdOff - zip64LocatorLen - zip64EndLen; recOff != want {
			t.Fatalf("structure: zip64 locator points at %d, want the record right before it at %d", recOff, want)
		}
		rec := read(recOff, zip64EndLen)
		switch {
		case le32(rec) != sigZip64EndRecord:
			t.Fatalf("structure: no zip64 end record at %d", recOff)
		case le64(rec[4:]) != zip64EndLen-12:
			t.Errorf("structure: zip64 end record size field %d, want %d", le64(rec[4:]), zip64EndLen-12)
		case le16(rec[12:])>>8 != hostUnix || le16(rec[14:]) != versionZip64:
			t.Errorf("structure: zip64 end record versions %#x/%d, want made by unix, needed 45", le16(rec[12:]), le16(rec[14:]))
		case le32(rec[16:]) != 0 || le32(rec[20:]) != 0:
			t.Errorf("structure: zip64 end record disk fields not 0")
		case le64(rec[24:]) != 3 || le64(rec[32:]) != 3:
			t.Errorf("structure: zip64 end record counts %d/%d, want 3/3", le64(rec[24:]), le64(rec[32:]))
		}
		a.cdSize, a.cdStart = int64(le64(rec[40:])), int64(le64(rec[48:]))
		for _, f := range []struct {
			what  string
			slot  uint32
			value int64
		}{{"size", cdSize32, a.cdSize}, {"offset", cdStart32, a.cdStart}} {
			if want := slot32(f.value, threshold); f.slot != want {
				t.Errorf("structure: EOCD central directory %s slot %#x, want %#x for %d", f.what, f.slot, want, f.value)
			}
		}
		endOfCD = recOff
	} else if cdSize32 == max32 || cdStart32 == max32 {
		t.Errorf("structure: EOCD has a 0xffffffff slot but there is no zip64 end record")
	}
	if want := a.cdStart >= threshold || a.cdSize >= threshold; a.zip64End != want {
		t.Errorf("structure: zip64 end record present=%v, want %v (central directory at %d, %d bytes, threshold %d)", a.zip64End, want, a.cdStart, a.cdSize, threshold)
	}
	if a.cdStart+a.cdSize != endOfCD {
		t.Fatalf("structure: central directory %d+%d does not end where the end records start (%d)", a.cdStart, a.cdSize, endOfCD)
	}

	// Central directory.
	cd := read(a.cdStart, int(a.cdSize))
	wantNames := []string{condapkg.MetadataMember, condapkg.PkgMember(stem), condapkg.InfoMember(stem)}
	wantTime, wantDate := dosTimeDate(modTime)
	var central []checkedMember
	for p := 0; p < len(cd); {
		if len(cd)-p < centralHeaderLen || le32(cd[p:]) != sigCentralHeader {
			t.Fatalf("structure: bad central directory record at +%d", p)
		}
		h := cd[p:]
		nameLen, extraLen, commentLen := int(le16(h[28:])), int(le16(h[30:])), int(le16(h[32:]))
		if p+centralHeaderLen+nameLen+extraLen+commentLen > len(cd) {
			t.Fatalf("structure: central record at +%d overruns the directory", p)
		}
		name := string(h[centralHeaderLen : centralHeaderLen+nameLen])
		extra := h[centralHeaderLen+nameLen : centralHeaderLen+nameLen+extraLen]
		m := checkedMember{name: name, crc: le32(h[16:]), needed: le16(h[6:])}
		what := "central " + name
		madeBy, flags, method := le16(h[4:]), le16(h[8:]), le16(h[10:])
		if madeBy>>8 != hostUnix || madeBy&0xff < m.needed {
			t.Errorf("%s: version made by %#x, want Unix and >= needed %d", what, madeBy, m.needed)
		}
		checkFlags(t, what, flags, name)
		if method != 0 {
			t.Errorf("%s: method %d, want 0 (stored)", what, method)
		}
		if le16(h[12:]) != wantTime || le16(h[14:]) != wantDate {
			t.Errorf("%s: DOS time/date %#x/%#x, want %#x/%#x", what, le16(h[12:]), le16(h[14:]), wantTime, wantDate)
		}
		if commentLen != 0 || le16(h[34:]) != 0 || le16(h[36:]) != 0 {
			t.Errorf("%s: comment/disk/internal attributes not 0", what)
		}
		if attr := le32(h[38:]); attr != 0o100644<<16 {
			t.Errorf("%s: external attributes %#x, want regular file 0644", what, attr)
		}
		csize32, usize32, off32 := le32(h[20:]), le32(h[24:]), le32(h[42:])
		if csize32 != usize32 {
			t.Errorf("%s: compressed size slot %d != uncompressed %d for a stored member", what, csize32, usize32)
		}
		m.size, m.headerOffset = int64(usize32), int64(off32)
		// Extra fields: only zip64, holding exactly the fields whose slot is 0xffffffff.
		for len(extra) > 0 {
			if len(extra) < 4 || int(le16(extra[2:]))+4 > len(extra) {
				t.Fatalf("%s: malformed extra field", what)
			}
			id, data := le16(extra), extra[4:4+int(le16(extra[2:]))]
			extra = extra[4+len(data):]
			if id != extraZip64 || m.centralZip64 {
				t.Errorf("%s: unexpected extra field %#04x", what, id)
				continue
			}
			m.centralZip64 = true
			take := func(slot uint32) (int64, bool) {
				if slot != max32 {
					return 0, false
				}
				if len(data) < 8 {
					t.Fatalf("%s: zip64 extra too short", what)
				}
				v := int64(le64(data))
				data = data[8:]
				return v, true
			}
			usize, uok := take(usize32)
			csize, cok := take(csize32)
			if uok && cok {
				if usize != csize {
					t.Errorf("%s: zip64 sizes %d != %d", what, usize, csize)
				}
				m.size = usize
			}
			if off, ok := take(off32); ok {
				m.headerOffset = off
			}
			if len(data) != 0 {
				t.Errorf("%s: zip64 extra has %d bytes more than the 0xffffffff slots need", what, len(data))
			}
		}
		for _, f := range []struct {
			what  string
			slot  uint32
			value int64
		}{{"size", usize32, m.size}, {"offset", off32, m.headerOffset}} {
			if want := slot32(f.value, threshold); f.slot != want {
				t.Errorf("%s: %s slot %#x, want %#x for %d (threshold %d)", what, f.what, f.slot, want, f.value, threshold)
			}
		}
		wantZip64 := m.size >= threshold || m.headerOffset >= threshold
		if m.centralZip64 != wantZip64 {
			t.Errorf("%s: zip64 extra present=%v, want %v", what, m.centralZip64, wantZip64)
		}
		if wantNeeded := neededFor(wantZip64); m.needed != wantNeeded {
			t.Errorf("%s: version needed %d, want %d", what, m.needed, wantNeeded)
		}
		central = append(central, m)
		p += centralHeaderLen + nameLen + extraLen + commentLen
	}
	if len(central) != len(wantNames) {
		t.Fatalf("structure: %d central records, want %d", len(central), len(wantNames))
	}

	// Local headers, in order and back to back, each followed by its data.
	next := int64(0)
	for i, cm := range central {
		if cm.name != wantNames[i] {
			t.Errorf("structure: member %d is %q, want %q", i, cm.name, wantNames[i])
		}
		if cm.headerOffset != next {
			t.Fatalf("structure: %s: local header at %d, want %d (right after the previous member)", cm.name, cm.headerOffset, next)
		}
		h := read(cm.headerOffset, localHeaderLen)
		what := "local " + cm.name
		if le32(h) != sigLocalHeader {
			t.Fatalf("%s: no local header signature at %d", what, cm.headerOffset)
		}
		nameLen, extraLen := int(le16(h[26:])), int(le16(h[28:]))
		rest := read(cm.headerOffset+localHeaderLen, nameLen+extraLen)
		if name := string(rest[:nameLen]); name != cm.name {
			t.Errorf("%s: local name %q", what, name)
		}
		needed, flags, method := le16(h[4:]), le16(h[6:]), le16(h[8:])
		if needed != cm.needed {
			t.Errorf("%s: version needed %d, central says %d", what, needed, cm.needed)
		}
		checkFlags(t, what, flags, cm.name)
		if method != 0 {
			t.Errorf("%s: method %d, want 0", what, method)
		}
		if le16(h[10:]) != wantTime || le16(h[12:]) != wantDate {
			t.Errorf("%s: DOS time/date differ from the central directory's", what)
		}
		if crc := le32(h[14:]); crc != cm.crc {
			t.Errorf("%s: CRC %08x, central says %08x", what, crc, cm.crc)
		}
		csize32, usize32 := le32(h[18:]), le32(h[22:])
		extra := rest[nameLen:]
		m := cm
		if cm.size >= threshold {
			if csize32 != max32 || usize32 != max32 {
				t.Errorf("%s: size slots %#x/%#x, want 0xffffffff for %d bytes", what, csize32, usize32, cm.size)
			}
			if len(extra) != zip64LocalExtraLen || le16(extra) != extraZip64 || le16(extra[2:]) != 16 {
				t.Fatalf("%s: want exactly one 16-byte zip64 extra field, got % x", what, extra)
			}
			if u, c := int64(le64(extra[4:])), int64(le64(extra[12:])); u != cm.size || c != cm.size {
				t.Errorf("%s: zip64 sizes %d/%d, central says %d", what, u, c, cm.size)
			}
			m.localExtra = extraZip64
		} else {
			if int64(csize32) != cm.size || int64(usize32) != cm.size {
				t.Errorf("%s: sizes %d/%d, central says %d", what, csize32, usize32, cm.size)
			}
			switch {
			case len(extra) == 0:
			case cm.name == condapkg.PkgMember(stem) && len(extra) == zip64LocalExtraLen && le16(extra) == extraPadding && le16(extra[2:]) == 16 && bytes.Equal(extra[4:], make([]byte, 16)):
				m.localExtra = extraPadding
			default:
				t.Errorf("%s: unexpected local extra field % x", what, extra)
			}
		}
		if cm.name == condapkg.PkgMember(stem) && m.localExtra == 0 {
			t.Errorf("%s: the pkg member must reserve a 20-byte extra field for zip64", what)
		}
		m.dataOffset = cm.headerOffset + localHeaderLen + int64(nameLen+extraLen)
		if m.dataOffset+m.size > a.cdStart {
			t.Fatalf("%s: data %d+%d runs into the central directory at %d", what, m.dataOffset, m.size, a.cdStart)
		}
		crc := crc32.NewIEEE()
		if _, err := io.Copy(crc, io.NewSectionReader(r, m.dataOffset, m.size)); err != nil {
			t.Fatal(err)
		}
		if got := crc.Sum32(); got != cm.crc {
			t.Errorf("%s: data CRC %08x, headers say %08x", what, got, cm.crc)
		}
		next = m.dataOffset + m.size
		a.members = append(a.members, m)
	}
	if next != a.cdStart {
		t.Errorf("structure: %d bytes between the last member and the central directory", a.cdStart-next)
	}
	if meta := a.member(condapkg.MetadataMember); meta.size > 0 {
		b := read(meta.dataOffset, int(meta.size))
		if string(b) != `{"conda_pkg_format_version":2}` {
			t.Errorf("structure: metadata.json is %q", b)
		}
	}
	a.frames = map[string][]zstdFrame{}
	for _, name := range wantNames[1:] {
		m := a.member(name)
		frames := zstdFrames(t, io.NewSectionReader(r, m.dataOffset, m.size), name)
		a.frames[name] = frames
		if len(frames) != 1 {
			t.Errorf("%s: %d zstd frames, want exactly 1", name, len(frames))
		}
		for _, f := range frames {
			if f.window > condapkg.MaxWindow {
				t.Errorf("%s: zstd window %d > %d", name, f.window, condapkg.MaxWindow)
			}
		}
	}
	return a
}

func slot32(v, threshold int64) uint32 {
	if v >= threshold {
		return max32
	}
	return uint32(v)
}

func neededFor(zip64 bool) uint16 {
	if zip64 {
		return versionZip64
	}
	return versionPlain
}

func checkFlags(t testing.TB, what string, flags uint16, name string) {
	t.Helper()
	if flags&0x8 != 0 {
		t.Errorf("%s: flag bit 3 (data descriptor) is set", what)
	}
	want := uint16(0)
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 {
			want = flagUTF8
		}
	}
	if flags != want {
		t.Errorf("%s: flags %#04x, want %#04x", what, flags, want)
	}
}

// zstdFrame describes one frame found in a member.
type zstdFrame struct {
	window        uint64
	singleSegment bool
	contentSize   int64 // -1 when not stored
	checksum      bool
	blocks        int
}

// zstdFrames walks the frames of a member by their headers and block headers (RFC 8878),
// reading only headers, so that it is fast for multi-GiB members too. Skippable frames
// count as frames: a .tar.zst must be one plain frame and nothing else.
func zstdFrames(t testing.TB, r *io.SectionReader, name string) []zstdFrame {
	t.Helper()
	size := r.Size()
	pos := int64(0)
	read := func(n int) []byte {
		t.Helper()
		b := make([]byte, n)
		if _, err := r.ReadAt(b, pos); err != nil {
			t.Fatalf("%s: zstd stream ends inside a header at %d: %v", name, pos, err)
		}
		pos += int64(n)
		return b
	}
	var frames []zstdFrame
	for pos < size {
		magic := le32(read(4))
		if magic&0xfffffff0 == 0x184d2a50 {
			frames = append(frames, zstdFrame{contentSize: -1})
			pos += int64(le32(read(4)))
			continue
		}
		if magic != 0xfd2fb528 {
			t.Fatalf("%s: bytes at %d are not a zstd frame (magic %#x)", name, pos-4, magic)
		}
		fhd := read(1)[0]
		f := zstdFrame{singleSegment: fhd&0x20 != 0, checksum: fhd&0x04 != 0, contentSize: -1}
		if fhd&0x08 != 0 {
			t.Errorf("%s: reserved frame header bit set", name)
		}
		if !f.singleSegment {
			wd := read(1)[0]
			base := uint64(1) << (10 + wd>>3)
			f.window = base + base/8*uint64(wd&7)
		}
		if n := []int{0, 1, 2, 4}[fhd&3]; n > 0 {
			t.Errorf("%s: frame has a dictionary ID", name)
			pos += int64(n)
		}
		fcsLen := []int{0, 2, 4, 8}[fhd>>6]
		if fcsLen == 0 && f.singleSegment {
			fcsLen = 1
		}
		if fcsLen > 0 {
			b := append(read(fcsLen), make([]byte, 8)...)
			f.contentSize = int64(le64(b))
			if fcsLen == 2 {
				f.contentSize += 256
			}
		}
		if f.singleSegment {
			f.window = uint64(f.contentSize)
		}
		blockMax := int64(min(f.window, 128<<10))
		for last := false; !last; {
			h := read(3)
			v := uint32(h[0]) | uint32(h[1])<<8 | uint32(h[2])<<16
			last = v&1 != 0
			bsize := int64(v >> 3)
			f.blocks++
			switch (v >> 1) & 3 {
			case 0, 2: // raw, compressed
				if bsize > blockMax {
					t.Errorf("%s: block of %d bytes > maximum %d", name, bsize, blockMax)
				}
				pos += bsize
			case 1: // RLE
				pos++
			case 3:
				t.Fatalf("%s: reserved block type at %d", name, pos-3)
			}
			if pos > size {
				t.Fatalf("%s: block runs past the end of the member", name)
			}
		}
		if f.checksum {
			pos += 4
		}
		if pos > size {
			t.Fatalf("%s: frame checksum runs past the end of the member", name)
		}
		frames = append(frames, f)
	}
	return frames
}

func (f zstdFrame) String() string {
	return fmt.Sprintf("window=%d single=%v content=%d checksum=%v blocks=%d", f.window, f.singleSegment, f.contentSize, f.checksum, f.blocks)
}
