package serve

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/index"
	"github.com/condachan/condachan/internal/s3test"
	"github.com/condachan/condachan/internal/testkit"
)

// secret is what the channel's internal and hidden objects hold: no response may ever
// contain it.
const secret = "SECRET-never-served-7f3a"

// testChannel is a channel built for a test: its store, what it holds, and the names of
// its objects.
type testChannel struct {
	name  string // "local" or "s3"
	store channel.Store
	// files are the served objects' bytes, by key.
	files map[string][]byte
	// big is the key of the largest package (a few hundred KiB of incompressible data),
	// small of a small one.
	big, small string
}

// backends returns a fresh local channel and a fresh channel on versitygw, both built
// the same way.
func backends(t *testing.T) []*testChannel {
	t.Helper()
	return []*testChannel{localChannel(t), s3Channel(t)}
}

func localChannel(t testing.TB) *testChannel {
	t.Helper()
	st, err := channel.NewLocal(filepath.Join(t.TempDir(), "channel"))
	if err != nil {
		t.Fatal(err)
	}
	return fill(t, "local", st)
}

func s3Channel(t testing.TB) *testChannel {
	t.Helper()
	srv := s3test.Start(t)
	return fill(t, "s3", srv.Store(t, srv.NewBucket(t), "Conda/Default"))
}

// fill publishes a few packages into the store, indexes it, plants objects that must
// never be served, and records the bytes of everything that is served.
func fill(t testing.TB, name string, st channel.Store) *testChannel {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	blob := make([]byte, 300<<10)
	for i := range blob {
		blob[i] = byte(rng.Uint32())
	}
	specs := []testkit.PackageSpec{
		{Name: "alpha", Version: "1.0", Build: "0", Subdir: "linux-64"},
		{Name: "alpha", Version: "1.1", Build: "0", Subdir: "linux-64"},
		{Name: "bigdata", Version: "2.0", Build: "h1_0", Subdir: "linux-64",
			Files: testkit.Tree{"share/bigdata/blob.bin": {Data: blob, Mode: 0o644}}},
		{Name: "gamma", Version: "0.3", Build: "0", Subdir: "noarch", Extra: map[string]any{"noarch": "generic"}},
		{Name: "delta", Version: "5", Build: "0", Subdir: "win-64"},
	}
	tc := &testChannel{name: name, store: st, files: map[string][]byte{}}
	for _, s := range specs {
		sub := filepath.Join(dir, s.Subdir)
		os.MkdirAll(sub, 0o755)
		p := testkit.MakeConda(t, sub, s)
		key := s.Subdir + "/" + s.FileName()
		if _, err := st.PutFile(ctx, key, p, channel.PutOptions{IfAbsent: true}); err != nil {
			t.Fatal(err)
		}
	}
	tc.big = "linux-64/bigdata-2.0-h1_0.conda"
	tc.small = "linux-64/alpha-1.0-0.conda"
	if _, err := index.Run(ctx, st, index.Options{Title: "test channel"}); err != nil {
		t.Fatal(err)
	}
	// Objects that must never be served.
	for _, key := range []string{
		channel.InternalPrefix + "secret.json",
		channel.InternalPrefix + "index/secret.conda",
		"linux-64/.alpha-9.0-0.conda.tmp-123",
		"linux-64/.hidden.conda",
		"linux-64/nested/secret-1.0-0.conda",
		".cache/secret.json",
		"secret.txt",
	} {
		if _, err := st.Put(ctx, key, strings.NewReader(secret), int64(len(secret)), channel.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	err := st.List(ctx, "", func(o channel.Object) error {
		if _, status := parsePath("/" + o.Key); status != 0 {
			return nil
		}
		data, _, err := channel.ReadAll(ctx, st, o.Key)
		if err != nil {
			return err
		}
		tc.files[o.Key] = data
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"index.html", "channeldata.json", "noarch/repodata.json", "linux-64/repodata.json", "linux-64/repodata.json.zst", "linux-64/index.html", tc.big, tc.small} {
		if tc.files[k] == nil {
			t.Fatalf("%s channel lacks %s (has %d files)", name, k, len(tc.files))
		}
	}
	return tc
}

// server is a running serve.Serve on a loopback port.
type server struct {
	URL    string
	h      *Handler
	cancel context.CancelFunc
	done   chan error
	log    *testkit.SyncBuffer
}

// startServer runs the handler for the store with the real server lifecycle; the test's
// end shuts it down and checks that it stopped cleanly.
func startServer(t testing.TB, st channel.Store, opts Options) *server {
	t.Helper()
	return startServerWith(t, st, opts, ServerConfig{Addr: "127.0.0.1:0"})
}

func startServerWith(t testing.TB, st channel.Store, opts Options, cfg ServerConfig) *server {
	t.Helper()
	logBuf := &testkit.SyncBuffer{}
	if opts.AccessLog == nil {
		opts.AccessLog = logBuf
	}
	h, err := New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{URL: "http://" + ln.Addr().String(), h: h, cancel: cancel, done: make(chan error, 1), log: logBuf}
	if cfg.TLSCert != "" {
		s.URL = "https://" + ln.Addr().String()
	}
	go func() { s.done <- Serve(ctx, ln, h, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-s.done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(40 * time.Second):
			t.Errorf("the server did not stop")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logBuf.String())
		}
	})
	return s
}

// newClient is a plain net/http client that follows no redirects. Its idle connections
// are closed when the test ends, before the server shuts down (a connection that never
// carried a request would hold the graceful shutdown for 5 seconds).
func newClient(t testing.TB) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
		Timeout: 60 * time.Second,
	}
}

// response is a finished request.
type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t testing.TB, c *http.Client, method, url string, hdr map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return response{resp.StatusCode, resp.Header, body}
}

// rawGet sends a request line exactly as given (no client-side cleaning or escaping)
// and returns the response.
func rawGet(t testing.TB, base, target string) response {
	t.Helper()
	host := strings.TrimPrefix(base, "http://")
	conn, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target, host)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, body}
}

// countingStore counts the store calls the server makes and the bytes it reads through
// ReadRange (the one method that buffers).
type countingStore struct {
	channel.Store
	stats, gets, ranges, lists atomic.Int64
	buffered                   atomic.Int64
}

func (c *countingStore) Stat(ctx context.Context, key string) (channel.Object, error) {
	c.stats.Add(1)
	return c.Store.Stat(ctx, key)
}

func (c *countingStore) Get(ctx context.Context, key string) (io.ReadCloser, channel.Object, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, key)
}

func (c *countingStore) GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, channel.Object, error) {
	c.ranges.Add(1)
	return c.Store.GetRange(ctx, key, off, n)
}

func (c *countingStore) ReadRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	b, err := c.Store.ReadRange(ctx, key, off, n)
	c.buffered.Add(int64(len(b)))
	return b, err
}

func (c *countingStore) List(ctx context.Context, prefix string, fn func(channel.Object) error) error {
	c.lists.Add(1)
	return c.Store.List(ctx, prefix, fn)
}

// storeETag is the object's ETag as the store reports it.
func storeETag(t testing.TB, st channel.Store, key string) (string, time.Time) {
	t.Helper()
	obj, err := st.Stat(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return obj.ETag, obj.Modified
}

func isNotFound(err error) bool { return errors.Is(err, channel.ErrNotFound) }
