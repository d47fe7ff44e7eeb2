// Package mirrortest is an upstream conda channel for the mirror tests: packages with a
// dependency chain (.conda and .tar.bz2, linux-64 and noarch) served over HTTP by the
// test, with faults to switch on per file, and lock files of an environment of it in
// the three formats people produce (conda explicit, pixi.lock, conda-lock.yml).
package mirrortest

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/condachan/condachan/internal/testkit"
)

// Package is one upstream package file.
type Package struct {
	Name, Version, Build, Subdir, File string
	Path                               string // on this machine
	URL                                string
	SHA256, MD5                        string
	Size                               int64
	Locked                             bool // part of the environment the locks hold
}

// Key is <subdir>/<file>.
func (p Package) Key() string { return p.Subdir + "/" + p.File }

// Fault is how the server answers for one file.
type Fault int

const (
	OK      Fault = iota
	Corrupt       // the right length, one byte flipped
	Missing       // 404
	Cut           // half the bytes, then the connection closes
	Slow          // the file, after half a second
)

// Upstream is the served channel.
type Upstream struct {
	Dir      string
	URL      string // http://127.0.0.1:port/conda-forge
	Packages []Package
	// RootSpecs are the specs the environment was solved from.
	RootSpecs []string

	server   *httptest.Server
	mu       sync.Mutex
	faults   map[string]Fault
	requests atomic.Int64
}

// spec is a package of the chain; tarBz2 picks the old format.
type spec struct {
	testkit.PackageSpec
	tarBz2, locked bool
}

// chain is the environment: render-app needs render-lib (>=1.2,<1.3), render-py and
// render-presets (noarch); render-lib needs render-base. Upstream also has a newer
// render-lib and an unrelated package, which the locks leave out.
func chain() []spec {
	dep := func(deps ...string) map[string]any { return map[string]any{"depends": append([]string{}, deps...)} }
	noarch := func(deps ...string) map[string]any {
		return map[string]any{"depends": append([]string{}, deps...), "noarch": "generic"}
	}
	return []spec{
		{testkit.PackageSpec{Name: "render-app", Version: "2.0", Build: "h1a2b3c4_0", Extra: dep("render-lib >=1.2,<1.3", "render-py 3.11.*", "render-presets")}, false, true},
		{testkit.PackageSpec{Name: "render-lib", Version: "1.2.0", Build: "h5d6e7f8_1", Extra: dep("render-base >=1.0")}, true, true},
		{testkit.PackageSpec{Name: "render-lib", Version: "1.3.0", Build: "h5d6e7f8_0", Extra: dep("render-base >=1.0")}, false, false},
		{testkit.PackageSpec{Name: "render-base", Version: "1.0.1", Build: "0", Extra: dep()}, false, true},
		{testkit.PackageSpec{Name: "render-py", Version: "3.11.4", Build: "h9a8b7c6_0_cpython", Extra: dep("render-base")}, true, true},
		{testkit.PackageSpec{Name: "render-presets", Version: "2024.1", Build: "pyhd8ed1ab_0", Subdir: "noarch", Extra: noarch()}, false, true},
		{testkit.PackageSpec{Name: "render-docs", Version: "1.0", Build: "0", Subdir: "noarch", Extra: noarch()}, true, true},
		{testkit.PackageSpec{Name: "unrelated", Version: "9.9", Build: "0", Extra: dep()}, false, false},
	}
}

// New makes the packages and serves them until the test ends.
func New(t testing.TB) *Upstream {
	t.Helper()
	u := &Upstream{Dir: t.TempDir(), faults: map[string]Fault{}, RootSpecs: []string{"render-app", "render-docs"}}
	for _, s := range chain() {
		if s.Subdir == "" {
			s.Subdir = "linux-64"
		}
		dir := filepath.Join(u.Dir, "conda-forge", s.Subdir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		var path string
		if s.tarBz2 {
			path = testkit.MakeTarBz2(t, dir, s.PackageSpec)
		} else {
			path = testkit.MakeConda(t, dir, s.PackageSpec)
		}
		u.Packages = append(u.Packages, describe(t, s, path))
	}
	u.server = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.Stop)
	u.URL = u.server.URL + "/conda-forge"
	for i := range u.Packages {
		u.Packages[i].URL = u.URL + "/" + u.Packages[i].Key()
	}
	return u
}

func describe(t testing.TB, s spec, path string) Package {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sha, md := sha256.Sum256(data), md5.Sum(data)
	return Package{Name: s.Name, Version: s.Version, Build: s.Build, Subdir: s.Subdir, File: filepath.Base(path), Path: path,
		SHA256: hex.EncodeToString(sha[:]), MD5: hex.EncodeToString(md[:]), Size: int64(len(data)), Locked: s.locked}
}

// Locked are the packages of the environment, in lock order.
func (u *Upstream) Locked() []Package {
	var out []Package
	for _, p := range u.Packages {
		if p.Locked {
			out = append(out, p)
		}
	}
	return out
}

// Find returns the package with that file name.
func (u *Upstream) Find(t testing.TB, file string) Package {
	for _, p := range u.Packages {
		if p.File == file {
			return p
		}
	}
	t.Fatalf("no upstream package %s", file)
	return Package{}
}

// SetFault makes the server answer for file as f from now on.
func (u *Upstream) SetFault(file string, f Fault) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.faults[file] = f
}

// Requests is how many requests the server answered.
func (u *Upstream) Requests() int64 { return u.requests.Load() }

// Stop closes the server: later requests fail to connect.
func (u *Upstream) Stop() {
	u.server.CloseClientConnections()
	u.server.Close()
}

func (u *Upstream) serve(w http.ResponseWriter, r *http.Request) {
	u.requests.Add(1)
	path := filepath.Join(u.Dir, filepath.FromSlash(strings.TrimPrefix(r.URL.Path, "/")))
	u.mu.Lock()
	fault := u.faults[filepath.Base(path)]
	u.mu.Unlock()
	data, err := os.ReadFile(path)
	if err != nil || fault == Missing {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(data)))
	switch fault {
	case Slow:
		time.Sleep(500 * time.Millisecond)
	case Corrupt:
		data = append([]byte(nil), data...)
		data[len(data)/2] ^= 0xff
	case Cut:
		w.WriteHeader(http.StatusOK)
		w.Write(data[:len(data)/2])
		w.(http.Flusher).Flush()
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		}
		return
	}
	w.Write(data)
}
