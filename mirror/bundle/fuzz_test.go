package bundle

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzReadBundle: the reader never panics on any bytes, and every entry it gives has a
// name that is safe to use as a channel path.
func FuzzReadBundle(f *testing.F) {
	good := pack(f, filepath.Join(f.TempDir(), "b.tar"), locksAB, pkgs5[1:4])
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(good[:1536])
	f.Add([]byte{})
	sha := map[string]string{paxSHA256: pkgs5[3].e.SHA256}
	f.Add(rawBundle(f, raw(versionName, versionData, nil), raw(locksDir+"1-a.lock", "x", nil),
		raw(pkgsDir+"noarch/d-1-0.conda", "", sha), raw(pkgsDir+"../../etc/x.conda", "", sha)))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := newReader("fuzz", bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, l := range r.Locks() {
			if !isLockName(l.Name) {
				t.Fatalf("lock name %q", l.Name)
			}
		}
		for range 1000 {
			e, body, err := r.Next()
			if err != nil {
				return
			}
			if p := e.problem(); p != "" || strings.Contains(e.Path(), "..") || strings.ContainsAny(e.Path(), `\:`) || strings.Count(e.Path(), "/") != 1 || strings.HasPrefix(e.Path(), "/") {
				t.Fatalf("unsafe entry %+v (%s)", e, p)
			}
			io.Copy(io.Discard, body)
		}
	})
}
