package mirror

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/condachan/condachan/index"
	"github.com/condachan/condachan/mirror/lockfile"
)

// verified is a package whose bytes are on this machine and are the ones its lock
// names: ready to upload.
type verified struct {
	pkg    lockfile.Package
	path   string
	size   int64
	sha256 string
	md5    string
	// spool is true for a copy that exists only to be uploaded (from a bundle): it is
	// removed once uploaded.
	spool bool
	// cached is true for a download kept in the cache until it is stored elsewhere.
	cached bool
}

// hashes are a file's size and hashes, taken while its bytes stream past.
type hashes struct {
	size   int64
	sha256 string
	md5    string
}

// copyHashing copies src to dst and hashes what passed.
func copyHashing(dst io.Writer, src io.Reader) (hashes, error) {
	hs, hm := sha256.New(), md5.New()
	n, err := io.Copy(io.MultiWriter(dst, hs, hm), src)
	return hashes{size: n, sha256: hex.EncodeToString(hs.Sum(nil)), md5: hex.EncodeToString(hm.Sum(nil))}, err
}

// check compares what arrived with what the lock says: size when the lock has it, then
// sha256 and md5 when it has them (a lock always has one of them).
func (h hashes) check(p lockfile.Package, from string) error {
	mismatch := func(algo, want, got string) error {
		return &HashMismatchError{Package: p, From: from, Algo: algo, Want: want, Got: got}
	}
	if p.Size > 0 && h.size != p.Size {
		return mismatch("size", fmt.Sprint(p.Size), fmt.Sprint(h.size))
	}
	if p.SHA256 != "" && !strings.EqualFold(h.sha256, p.SHA256) {
		return mismatch("sha256", p.SHA256, h.sha256)
	}
	if p.MD5 != "" && !strings.EqualFold(h.md5, p.MD5) {
		return mismatch("md5", p.MD5, h.md5)
	}
	return nil
}

// hashFile hashes a local file.
func hashFile(path string) (hashes, error) {
	f, err := os.Open(path)
	if err != nil {
		return hashes{}, err
	}
	defer f.Close()
	return copyHashing(io.Discard, f)
}

// checkInside reads the package's own info/index.json and makes sure it is the package
// the lock names: its name, version, build and subdir are what the index will record.
// The info it read goes to the index run, which then need not read the package again.
func checkInside(v verified) (*index.PackageInfo, error) {
	f, err := os.Open(v.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := index.ReadLocalPackage(f, v.size, v.pkg.Subdir+"/"+v.pkg.Filename)
	if err != nil {
		return nil, fmt.Errorf("%w (from %s)", err, v.pkg.Origin)
	}
	r := info.Record
	subdir, _ := r["subdir"].(string)
	if subdir == "" && r["noarch"] != nil {
		subdir = "noarch"
	}
	for _, f := range []struct{ field, lock, inside string }{
		{"name", v.pkg.Name, fmt.Sprint(r["name"])},
		{"version", v.pkg.Version, fmt.Sprint(r["version"])},
		{"build", v.pkg.Build, fmt.Sprint(r["build"])},
		{"subdir", v.pkg.Subdir, subdir},
	} {
		if f.lock != f.inside {
			return nil, &MetadataError{Package: v.pkg, Field: f.field, Lock: f.lock, Inside: f.inside}
		}
	}
	return &info, nil
}

// writeVerified streams src into a new file at path, checking its hashes against the
// lock before the file takes its name: a file at path is always a complete, verified
// copy. from names the source for messages.
func writeVerified(path string, src io.Reader, p lockfile.Package, from string) (hashes, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return hashes{}, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".part-*")
	if err != nil {
		return hashes{}, err
	}
	h, err := copyHashing(tmp, src)
	if err == nil {
		err = h.check(p, from)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return h, err
	}
	return h, nil
}
