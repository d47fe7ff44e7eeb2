package serve

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"sync"
	"testing"

	"github.com/condachan/condachan/channel"
)

func TestParsePath(t *testing.T) {
	for _, c := range []struct {
		in     string
		kind   kind
		key    string
		status int
	}{
		{"/", kindRootIndex, "", 0},
		{"/index.html", kindIndexFile, "index.html", 0},
		{"/channeldata.json", kindIndexFile, "channeldata.json", 0},
		{"/linux-64/", kindSubdirIndex, "", 0},
		{"/linux-64", kindSubdirNoSlash, "", 0},
		{"/noarch/repodata.json", kindIndexFile, "noarch/repodata.json", 0},
		{"/win-64/repodata.json.zst", kindIndexFile, "win-64/repodata.json.zst", 0},
		{"/osx-arm64/current_repodata.json", kindIndexFile, "osx-arm64/current_repodata.json", 0},
		{"/linux-64/index.html", kindIndexFile, "linux-64/index.html", 0},
		{"/linux-64/blender-4.1.1-0.conda", kindPackage, "linux-64/blender-4.1.1-0.conda", 0},
		{"/noarch/py-lib-1.0+local.2-pyh_0.tar.bz2", kindPackage, "noarch/py-lib-1.0+local.2-pyh_0.tar.bz2", 0},
		{"/linux-64/a-1!2.0-0.conda", kindPackage, "linux-64/a-1!2.0-0.conda", 0},
		{"/linux-64/a%2D1-0.conda", kindPackage, "linux-64/a-1-0.conda", 0},
		{"/linux-64/repodata_shards.msgpack.zst", kindIndexFile, "linux-64/repodata_shards.msgpack.zst", 0},
		{"/noarch/shards/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.msgpack.zst", kindIndexFile, "noarch/shards/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.msgpack.zst", 0},
		{"/noarch/shards/0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF.msgpack.zst", 0, "", 404},
		{"/noarch/shards/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde.msgpack.zst", 0, "", 404},
		{"/noarch/shards/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.json", 0, "", 404},
		{"/noarch/shards/", 0, "", 404},
		{"/noarch/shards/x/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.msgpack.zst", 0, "", 404},
		{"/run_exports.json", 0, "", 404},
		{"/linux-64/run_exports.json", kindIndexFile, "linux-64/run_exports.json", 0},
		{"/linux-64/patch_instructions.json", kindIndexFile, "linux-64/patch_instructions.json", 0},
		{"/linux-64/.conda", 0, "", 400},
		{"/linux-64/x.txt", 0, "", 404},
		{"/linux-64/repodata.json/", 0, "", 404},
		{"/linux-64/sub/x.conda", 0, "", 404},
		{"/nosuch/repodata.json", 0, "", 404},
		{"/nosuch/", 0, "", 404},
		{"/repodata.json", 0, "", 404},
		{"/channeldata.json/", 0, "", 404},
		{"", 0, "", 400},
		{"linux-64/repodata.json", 0, "", 400},
		{"//", 0, "", 400},
		{"/linux-64//x.conda", 0, "", 400},
		{"/.condachan/lock.json", 0, "", 400},
		{"/.condachan", 0, "", 400},
		{"/linux-64/../.condachan/lock.json", 0, "", 400},
		{"/linux-64/./repodata.json", 0, "", 400},
		{"/linux-64/%2e%2e/x.conda", 0, "", 400},
		{"/linux-64%2frepodata.json", 0, "", 400},
		{"/linux-64%5crepodata.json", 0, "", 400},
		{"/linux-64/x%00.conda", 0, "", 400},
		{"/linux-64/x%.conda", 0, "", 400},
		{"/linux-64/x%4.conda", 0, "", 400},
		{"/linux-64/x%zz.conda", 0, "", 400},
		{"/linux-64/x%25.conda", 0, "", 400},
		{"/linux-64/x y.conda", 0, "", 400},
		{"/linux-64/\u00e9.conda", 0, "", 400},
		{"/linux-64/x\\y.conda", 0, "", 400},
		{"/linux-64/x:y.conda", 0, "", 400},
		{"/" + strings.Repeat("a", 2000), 0, "", 400},
	} {
		rt, status := parsePath(c.in)
		if status != c.status || (status == 0 && (rt.kind != c.kind || rt.key != c.key)) {
			t.Errorf("parsePath(%q) = %+v, %d; want kind %d key %q status %d", c.in, rt, status, c.kind, c.key, c.status)
		}
	}
}

func TestSplitToken(t *testing.T) {
	for _, c := range [][3]string{
		{"/t/abc/linux-64/repodata.json", "abc", "/linux-64/repodata.json"},
		{"/t/abc/", "abc", "/"},
		{"/t/abc", "", "/t/abc"},
		{"/t//x", "", "/t//x"},
		{"/linux-64/t/x", "", "/linux-64/t/x"},
	} {
		tok, rest := splitToken(c[0])
		if tok != c[1] || rest != c[2] {
			t.Errorf("splitToken(%q) = %q, %q", c[0], tok, rest)
		}
	}
}

// recordingStore remembers every key the handler asks for and answers with not found.
type recordingStore struct {
	mu   sync.Mutex
	keys []string
}

func (r *recordingStore) note(key string) {
	r.mu.Lock()
	r.keys = append(r.keys, key)
	r.mu.Unlock()
}

func (r *recordingStore) Stat(_ context.Context, key string) (channel.Object, error) {
	r.note(key)
	return channel.Object{}, channel.ErrNotFound
}
func (r *recordingStore) Get(_ context.Context, key string) (io.ReadCloser, channel.Object, error) {
	r.note(key)
	return nil, channel.Object{}, channel.ErrNotFound
}
func (r *recordingStore) GetRange(_ context.Context, key string, _, _ int64) (io.ReadCloser, channel.Object, error) {
	r.note(key)
	return nil, channel.Object{}, channel.ErrNotFound
}
func (r *recordingStore) ReadRange(_ context.Context, key string, _, _ int64) ([]byte, error) {
	r.note(key)
	return nil, channel.ErrNotFound
}
func (r *recordingStore) Put(context.Context, string, io.Reader, int64, channel.PutOptions) (channel.Object, error) {
	return channel.Object{}, errors.New("read-only")
}
func (r *recordingStore) PutFile(context.Context, string, string, channel.PutOptions) (channel.Object, error) {
	return channel.Object{}, errors.New("read-only")
}
func (r *recordingStore) Delete(context.Context, string, string) error {
	return errors.New("read-only")
}
func (r *recordingStore) List(_ context.Context, prefix string, _ func(channel.Object) error) error {
	r.note(prefix + "*")
	return nil
}
func (r *recordingStore) String() string { return "recording" }

// safeKey reports whether a key the handler asked the store for is one it may serve:
// clean, relative, inside the channel, not internal, no dot-file.
func safeKey(k string) bool {
	k = strings.TrimSuffix(k, "*") // List prefixes
	if k == "" {
		return false
	}
	k = strings.TrimSuffix(k, "/")
	if path.Clean(k) != k || strings.HasPrefix(k, "/") || strings.HasPrefix(k, "..") || channel.IsInternal(k) ||
		strings.ContainsAny(k, "\\\x00%") {
		return false
	}
	for _, seg := range strings.Split(k, "/") {
		if seg == "" || strings.HasPrefix(seg, ".") {
			return false
		}
	}
	return true
}

// FuzzPath feeds arbitrary request targets to the path validator and to the whole
// handler: nothing may panic, and no store key asked for may be internal, a dot-file or
// outside the channel.
func FuzzPath(f *testing.F) {
	for _, s := range []string{
		"/", "/linux-64/", "/linux-64", "/noarch/repodata.json", "/linux-64/a-1-0.conda",
		"/.condachan/lock.json", "/linux-64/../.condachan/x", "/%2e%2e/", "/linux-64%2f..%2f.condachan",
		"/t/tok/linux-64/repodata.json", "/t/tok/.condachan/x", "/linux-64/%2E.conda", "//x",
		"/linux-64/x%00.conda", "/channeldata.json", "/index.html", "/healthz", "/metrics",
		"/linux-64/.x.conda", "/win-64/%2e%2E%2f%2e%2econdachan", "*", "http://h/../x",
		"/linux-64/shards/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.msgpack.zst", "/linux-64/shards/..%2f.condachan", "/linux-64/repodata_shards.msgpack.zst",
	} {
		f.Add(s)
	}
	rec := &recordingStore{}
	h, err := New(rec, Options{Revalidate: -1})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, target string) {
		rt, status := parsePath(target)
		if status == 0 {
			if rt.key != "" && !safeKey(rt.key) {
				t.Fatalf("parsePath(%q) maps to the key %q", target, rt.key)
			}
			if rt.subdir != "" && !channel.IsSubdir(rt.subdir) {
				t.Fatalf("parsePath(%q) maps to the subdir %q", target, rt.subdir)
			}
		} else if status != http.StatusBadRequest && status != http.StatusNotFound {
			t.Fatalf("parsePath(%q): status %d", target, status)
		}
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		rec.mu.Lock()
		rec.keys = rec.keys[:0]
		rec.mu.Unlock()
		req := &http.Request{Method: "GET", URL: u, RequestURI: target, Header: http.Header{}, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
		req = req.WithContext(context.Background())
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code == http.StatusOK && !strings.HasPrefix(u.EscapedPath(), "/healthz") && !strings.HasPrefix(u.EscapedPath(), "/metrics") && !isListing(u.EscapedPath()) {
			t.Fatalf("GET %q: 200 from an empty store", target)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, k := range rec.keys {
			if !safeKey(k) {
				t.Fatalf("GET %q asked the store for %q", target, k)
			}
		}
	})
}

// isListing reports whether a path may be answered with a generated listing (the root
// listing exists even for an empty channel).
func isListing(p string) bool {
	_, rest := splitToken(p)
	rt, status := parsePath(rest)
	return status == 0 && rt.kind == kindRootIndex
}
