package condapkg_test

import (
	"archive/tar"
	"bytes"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/condachan/condachan/pkgbuild/condapkg"
)

// memberData returns the stored bytes of a checked member.
func memberData(data []byte, m checkedMember) []byte {
	return data[m.dataOffset : m.dataOffset+m.size]
}

// unzstd decodes a member with klauspost's decoder, independently of Reader.
func unzstd(t testing.TB, b []byte) []byte {
	t.Helper()
	dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxWindow(condapkg.MaxWindow))
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	out, err := dec.DecodeAll(b, nil)
	if err != nil {
		t.Fatalf("zstd: %v", err)
	}
	return out
}

// tarEntry is one entry of a decoded tar.
type tarEntry struct {
	hdr  *tar.Header
	data []byte
}

// readTar reads every entry with archive/tar and checks what the contract says about
// each: PAX/ustar format, owner 0/0 without names, modes, no time records but mtime.
func readTar(t testing.TB, what string, b []byte) []tarEntry {
	t.Helper()
	checkRawTar(t, what, b)
	tr := tar.NewReader(bytes.NewReader(b))
	var out []tarEntry
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: tar: %v", what, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("%s: %s: %v", what, hdr.Name, err)
		}
		e := what + ": " + hdr.Name
		if hdr.Format&^(tar.FormatUSTAR|tar.FormatPAX) != 0 || hdr.Format == tar.FormatUnknown {
			t.Errorf("%s: format %v, want ustar/PAX", e, hdr.Format)
		}
		if hdr.Uid != 0 || hdr.Gid != 0 || hdr.Uname != "" || hdr.Gname != "" {
			t.Errorf("%s: owner %d(%q):%d(%q), want 0/0 without names", e, hdr.Uid, hdr.Uname, hdr.Gid, hdr.Gname)
		}
		for k := range hdr.PAXRecords {
			if k != "path" && k != "linkpath" && k != "size" {
				t.Errorf("%s: unexpected PAX record %q", e, k)
			}
		}
		if !hdr.AccessTime.IsZero() || !hdr.ChangeTime.IsZero() || hdr.ModTime.Nanosecond() != 0 {
			t.Errorf("%s: times %v/%v/%v, want whole-second mtime only", e, hdr.ModTime, hdr.AccessTime, hdr.ChangeTime)
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
			if hdr.Mode != 0o644 && hdr.Mode != 0o755 {
				t.Errorf("%s: mode %o, want 0644 or 0755", e, hdr.Mode)
			}
		case tar.TypeSymlink:
			if hdr.Mode != 0o777 || hdr.Size != 0 {
				t.Errorf("%s: symlink mode %o size %d, want 0777 and 0", e, hdr.Mode, hdr.Size)
			}
		case tar.TypeDir:
			if hdr.Mode != 0o755 || !strings.HasSuffix(hdr.Name, "/") {
				t.Errorf("%s: directory mode %o name %q, want 0755 and a trailing slash", e, hdr.Mode, hdr.Name)
			}
		default:
			t.Errorf("%s: type %q, want regular file, symlink or directory", e, hdr.Typeflag)
		}
		out = append(out, tarEntry{hdr, data})
	}
	return out
}

// checkRawTar walks the 512-byte header blocks themselves: every header is POSIX ustar
// ("ustar\x00" "00"), of type regular, symlink, directory or PAX extended header ('x', no
// global headers, no GNU long names), with numeric owner 0 and empty owner names, and the
// archive ends with zero blocks only.
func checkRawTar(t testing.TB, what string, b []byte) {
	t.Helper()
	if len(b)%512 != 0 {
		t.Errorf("%s: tar length %d is not a multiple of 512", what, len(b))
	}
	octal := func(f []byte) int64 {
		s := strings.Trim(string(f), " \x00")
		if s == "" {
			return 0
		}
		v, err := strconv.ParseInt(s, 8, 64)
		if err != nil {
			t.Errorf("%s: numeric field %q: %v", what, f, err)
		}
		return v
	}
	zero := make([]byte, 512)
	for off := 0; off+512 <= len(b); {
		blk := b[off : off+512]
		if bytes.Equal(blk, zero) {
			if !bytes.Equal(b[off:], make([]byte, len(b)-off)) || len(b)-off < 1024 {
				t.Errorf("%s: archive end at %d is not two or more zero blocks up to the end", what, off)
			}
			return
		}
		name := string(bytes.TrimRight(blk[:100], "\x00"))
		if string(blk[257:263]) != "ustar\x00" || string(blk[263:265]) != "00" {
			t.Errorf("%s: header %q at %d has magic %q%q, want POSIX ustar", what, name, off, blk[257:263], blk[263:265])
		}
		switch blk[156] {
		case '0', '2', '5', 'x':
		default:
			t.Errorf("%s: header %q has type %q", what, name, blk[156])
		}
		if octal(blk[108:116]) != 0 || octal(blk[116:124]) != 0 {
			t.Errorf("%s: header %q has a non-zero uid/gid", what, name)
		}
		if !bytes.Equal(blk[265:329], make([]byte, 64)) {
			t.Errorf("%s: header %q has owner names %q/%q", what, name, bytes.TrimRight(blk[265:297], "\x00"), bytes.TrimRight(blk[297:329], "\x00"))
		}
		size := octal(blk[124:136])
		off += 512 + int((size+511)/512*512)
	}
	t.Errorf("%s: tar has no end-of-archive blocks", what)
}
