// Package rpmwrite writes small RPM packages: a lead, a signature header, a main header
// naming the payload's format and compressor, and a cpio (newc) payload. rpm2cpio and
// condachan's reader read them. The tests and the generated example sources use it,
// because their bytes must be the same every time (rpmbuild stamps the build host and
// time); it makes no package a distribution would accept.
package rpmwrite

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"sort"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// File is one member of the payload: a regular file, a symlink (Link) or a folder (Dir).
// Files with the same Inode (non-zero) are hard links of one another: the content goes
// with the last of them, as rpm writes it.
type File struct {
	Path  string // absolute, as in an RPM: /usr/lib64/libX.so.1
	Data  []byte
	Mode  uint32 // permission bits
	Link  string
	Dir   bool
	Inode uint32
}

// Cpio writes files as a cpio newc archive (paths as ./usr/...), with its trailer.
func Cpio(files []File, mtime int64) []byte {
	var b bytes.Buffer
	links := map[uint32]int{} // inode -> names
	last := map[uint32]int{}  // inode -> index of its last name
	for i, f := range files {
		if f.Inode != 0 {
			links[f.Inode]++
			last[f.Inode] = i
		}
	}
	ino := uint32(1000)
	for i, f := range files {
		mode, data := 0o100000|f.Mode, f.Data
		switch {
		case f.Dir:
			mode, data = 0o040000|f.Mode, nil
		case f.Link != "":
			mode, data = 0o120777, []byte(f.Link)
		}
		nlink, id := uint32(1), ino+uint32(i)
		if f.Inode != 0 {
			nlink, id = uint32(links[f.Inode]), f.Inode
			if last[f.Inode] != i {
				data = nil
			}
		}
		writeEntry(&b, "."+f.Path, id, mode, nlink, mtime, data)
	}
	writeEntry(&b, "TRAILER!!!", 0, 0, 1, 0, nil)
	return b.Bytes()
}

func writeEntry(b *bytes.Buffer, name string, ino, mode, nlink uint32, mtime int64, data []byte) {
	fmt.Fprintf(b, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, nlink, mtime, len(data), 0, 0, 0, 0, len(name)+1, 0)
	b.WriteString(name)
	b.WriteByte(0)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	b.Write(data)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
}

// Compress compresses a payload with gzip, xz, zstd, or nothing ("").
func Compress(compressor string, data []byte) ([]byte, error) {
	var b bytes.Buffer
	var w io.WriteCloser
	var err error
	switch compressor {
	case "":
		return data, nil
	case "gzip":
		w, err = gzip.NewWriterLevel(&b, gzip.BestCompression)
	case "xz":
		w, err = xz.NewWriter(&b)
	case "zstd":
		w, err = zstd.NewWriter(&b, zstd.WithEncoderLevel(zstd.SpeedBetterCompression), zstd.WithEncoderConcurrency(1))
	default:
		return nil, fmt.Errorf("unknown compressor %q", compressor)
	}
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Package is an RPM to write.
type Package struct {
	Name, Version, Release, Arch string
	Compressor                   string // gzip, xz, zstd, or "" for none
	Files                        []File
	MTime                        int64
}

// Bytes writes the package.
func (p Package) Bytes() ([]byte, error) {
	payload, err := Compress(p.Compressor, Cpio(p.Files, p.MTime))
	if err != nil {
		return nil, err
	}
	return Assemble(p.Name+"-"+p.Version+"-"+p.Release, map[int32]string{
		100: "C", 1000: p.Name, 1001: p.Version, 1002: p.Release, 1021: "linux", 1022: p.Arch,
		1124: "cpio", 1125: p.Compressor,
	}, payload), nil
}

// Assemble writes an RPM around a payload as given: the string tags (a "" value is left
// out) make the main header.
func Assemble(nevr string, tags map[int32]string, payload []byte) []byte {
	var b bytes.Buffer
	lead := make([]byte, 96)
	copy(lead, []byte{0xed, 0xab, 0xee, 0xdb, 3, 0})
	copy(lead[10:75], nevr)
	binary.BigEndian.PutUint16(lead[8:], 1)  // archnum
	binary.BigEndian.PutUint16(lead[76:], 1) // osnum
	binary.BigEndian.PutUint16(lead[78:], 5) // signature in a header structure
	b.Write(lead)
	var main bytes.Buffer
	header(&main, 63, tags, nil)
	header(&b, 62, nil, map[int32]uint32{1000: uint32(main.Len() + len(payload)), 1007: 0})
	for b.Len()%8 != 0 {
		b.WriteByte(0)
	}
	b.Write(main.Bytes())
	b.Write(payload)
	return b.Bytes()
}

// header writes a header structure holding string tags, with the region entry rpm
// expects first (regionTag: 62 for the signature header, 63 for the main one) and sizes
// as int32 tags where given.
func header(b *bytes.Buffer, regionTag uint32, tags map[int32]string, ints map[int32]uint32) {
	type entry struct{ tag, typ, off, count uint32 }
	var entries []entry
	var store bytes.Buffer
	keys := make([]int, 0, len(tags)+len(ints))
	for k, v := range tags {
		if v != "" {
			keys = append(keys, int(k))
		}
	}
	for k := range ints {
		keys = append(keys, int(k))
	}
	sort.Ints(keys)
	for _, k := range keys {
		if v, ok := ints[int32(k)]; ok {
			for store.Len()%4 != 0 {
				store.WriteByte(0)
			}
			entries = append(entries, entry{uint32(k), 4, uint32(store.Len()), 1})
			binary.Write(&store, binary.BigEndian, v)
			continue
		}
		typ := uint32(6) // STRING
		if k == 100 {
			typ = 8 // HEADERI18NTABLE is a STRING_ARRAY
		}
		entries = append(entries, entry{uint32(k), typ, uint32(store.Len()), 1})
		store.WriteString(tags[int32(k)])
		store.WriteByte(0)
	}
	// The region: its entry first, its trailer (an entry pointing back over the index)
	// right after the data (rpm checks that the data and the trailer fill the store).
	n := uint32(len(entries) + 1)
	region := entry{regionTag, 7, uint32(store.Len()), 16}
	binary.Write(&store, binary.BigEndian, []uint32{regionTag, 7, uint32(-int32(n * 16)), 16})
	entries = append([]entry{region}, entries...)
	b.Write([]byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0})
	binary.Write(b, binary.BigEndian, []uint32{n, uint32(store.Len())})
	for _, e := range entries {
		binary.Write(b, binary.BigEndian, []uint32{e.tag, e.typ, e.off, e.count})
	}
	b.Write(store.Bytes())
}
