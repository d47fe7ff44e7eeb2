package serve

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/condachan/condachan/channel"
	s3store "github.com/condachan/condachan/channel/s3"
	"github.com/condachan/condachan/internal/s3test"
)

// serveThroughProxy fills a channel on versitygw and serves it through a fault proxy.
func serveThroughProxy(t *testing.T) (*testChannel, *s3test.Proxy, *server) {
	t.Helper()
	s := s3test.Start(t)
	bucket := s.NewBucket(t)
	tc := fill(t, "s3", s.Store(t, bucket, "ch"))
	proxy := s.NewProxy(t)
	return tc, proxy, startServer(t, s.StoreVia(t, proxy, bucket, "ch"), Options{})
}

// countDials makes the direct path count the connections it opens.
func countDials(t *testing.T, h *Handler) *atomic.Int64 {
	t.Helper()
	if h.upstream == nil {
		t.Fatal("no direct path to the plain-HTTP S3 endpoint")
	}
	var n atomic.Int64
	dial := h.upstream.dial
	h.upstream.dial = func(ctx context.Context, addr string) (net.Conn, error) {
		n.Add(1)
		return dial(ctx, addr)
	}
	return &n
}

func metric(t *testing.T, c *http.Client, base, name string) int64 {
	t.Helper()
	m := do(t, c, "GET", base+"/metrics", nil)
	mm := regexp.MustCompile(`(?m)^` + name + ` (\d+)$`).FindSubmatch(m.body)
	if mm == nil {
		t.Fatalf("no metric %s:\n%s", name, m.body)
	}
	v, _ := strconv.ParseInt(string(mm[1]), 10, 64)
	return v
}

// Packages from a plain-HTTP S3 endpoint go the direct path: byte for byte, whole and in
// ranges, on kept-alive connections, spliced on Linux; a missing package is a 404
// without a detour through the SDK.
func TestUpstreamDirectPath(t *testing.T) {
	t.Parallel()
	tc := s3Channel(t)
	srv := startServer(t, tc.store, Options{})
	dials := countDials(t, srv.h)
	c := newClient(t)
	want := tc.files[tc.big]
	for i := range 4 {
		got := do(t, c, "GET", srv.URL+"/"+tc.big, nil)
		if got.status != 200 || !bytes.Equal(got.body, want) {
			t.Fatalf("GET %d: %d, %d bytes, expected %d", i, got.status, len(got.body), len(want))
		}
		if got.header.Get("ETag") == "" || got.header.Get("Last-Modified") == "" {
			t.Errorf("GET %d: no validators: %v", i, got.header)
		}
	}
	n := len(want)
	for _, r := range []struct {
		spec     string
		off, end int
	}{
		{"bytes=0-0", 0, 1},
		{"bytes=100-70000", 100, 70001},
		{fmt.Sprintf("bytes=%d-", n-5000), n - 5000, n},
		{"bytes=-300", n - 300, n},
	} {
		got := do(t, c, "GET", srv.URL+"/"+tc.big, map[string]string{"Range": r.spec})
		if got.status != 206 || !bytes.Equal(got.body, want[r.off:r.end]) || got.header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", r.off, r.end-1, n) {
			t.Errorf("Range %s: %d %q, %d bytes", r.spec, got.status, got.header.Get("Content-Range"), len(got.body))
		}
	}
	// A key the signature must escape: '+' in a local version label.
	plus := []byte("not really a package")
	if _, err := tc.store.Put(context.Background(), "linux-64/plus-1.0+cuda12-0.conda", bytes.NewReader(plus), int64(len(plus)), channel.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := do(t, c, "GET", srv.URL+"/linux-64/plus-1.0%2Bcuda12-0.conda", nil); got.status != 200 || !bytes.Equal(got.body, plus) {
		t.Errorf("GET of a key with '+': %d %q", got.status, got.body)
	}
	if got := do(t, c, "GET", srv.URL+"/linux-64/missing-1.0-0.conda", nil); got.status != 404 {
		t.Errorf("missing package: %d", got.status)
	}
	if d := dials.Load(); d != 1 {
		t.Errorf("%d connections to S3 for 10 sequential requests, expected 1 kept alive", d)
	}
	if f := metric(t, c, srv.URL, "condachan_serve_s3_direct_fallbacks_total"); f != 0 {
		t.Errorf("%d requests fell back to the SDK", f)
	}
	zc := metric(t, c, srv.URL, "condachan_serve_zero_copy_bytes_total")
	if runtime.GOOS == "linux" && zc < int64(4*(n-sniffLen-8<<10)) {
		t.Errorf("%d bytes spliced, expected nearly all of 4 x %d", zc, n)
	}
}

// A kept-alive connection the S3 server has closed is replaced without the client
// noticing, and without a detour through the SDK.
func TestUpstreamStaleConnection(t *testing.T) {
	t.Parallel()
	tc, proxy, srv := serveThroughProxy(t)
	dials := countDials(t, srv.h)
	c := newClient(t)
	if got := do(t, c, "GET", srv.URL+"/"+tc.small, nil); got.status != 200 {
		t.Fatal(got.status)
	}
	// The handler puts the connection back after the client has read the last byte:
	// give it a moment.
	idle := 0
	for deadline := time.Now().Add(5 * time.Second); idle != 1 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		srv.h.upstream.mu.Lock()
		idle = len(srv.h.upstream.idle)
		srv.h.upstream.mu.Unlock()
	}
	if idle != 1 {
		t.Fatalf("%d idle connections after one request, expected 1", idle)
	}
	proxy.CloseClientConnections()
	if got := do(t, c, "GET", srv.URL+"/"+tc.big, nil); got.status != 200 || !bytes.Equal(got.body, tc.files[tc.big]) {
		t.Fatalf("GET after the server closed the kept connection: %d, %d bytes", got.status, len(got.body))
	}
	if d := dials.Load(); d != 2 {
		t.Errorf("%d connections, expected 2", d)
	}
	if f := metric(t, c, srv.URL, "condachan_serve_s3_direct_fallbacks_total"); f != 0 {
		t.Errorf("%d requests fell back to the SDK", f)
	}
}

// An S3 error or a dropped response on the direct path sends the request the SDK's way,
// which retries: the client gets the package.
func TestUpstreamFallsBackToTheSDK(t *testing.T) {
	t.Parallel()
	tc, proxy, srv := serveThroughProxy(t)
	c := newClient(t)
	isPackage := s3test.Match("GET", "/"+tc.big)
	for i, fault := range []func(){
		func() { proxy.RespondOnce(isPackage, 500, "InternalError") },
		func() { proxy.RespondOnce(isPackage, 503, "SlowDown") },
		func() { proxy.DropResponseOnce(isPackage) },
	} {
		fault()
		got := do(t, c, "GET", srv.URL+"/"+tc.big, nil)
		if got.status != 200 || !bytes.Equal(got.body, tc.files[tc.big]) {
			t.Fatalf("fault %d: %d, %d bytes", i, got.status, len(got.body))
		}
	}
	if proxy.Answered() != 2 || proxy.Dropped() != 1 {
		t.Fatalf("the proxy answered %d and dropped %d requests, expected 2 and 1", proxy.Answered(), proxy.Dropped())
	}
	// A server that keeps refusing direct GETs (one that takes no presigned URLs) has
	// the path given up, so that requests stop costing two.
	for i := range upstreamRefusalsMax {
		proxy.RespondOnce(isPackage, 403, "AccessDenied")
		if got := do(t, c, "GET", srv.URL+"/"+tc.big, nil); got.status != 200 {
			t.Fatalf("refusal %d: %d", i, got.status)
		}
	}
	if !srv.h.upstream.off.Load() || !strings.Contains(srv.log.String(), "packages go through the SDK from now on") {
		t.Errorf("the direct path is still used after %d refusals in a row; log:\n%s", upstreamRefusalsMax, srv.log.String())
	}
	before := proxy.Requests()
	if got := do(t, c, "GET", srv.URL+"/"+tc.big, nil); got.status != 200 || proxy.Requests() != before+1 {
		t.Errorf("after giving up: %d, %d requests to S3", got.status, proxy.Requests()-before)
	}
	// The two errors go to the SDK; the dropped response too, unless it came on a
	// kept-alive connection, which is first tried again on a new one.
	if f := metric(t, c, srv.URL, "condachan_serve_s3_direct_fallbacks_total") - upstreamRefusalsMax - 1; f < 2 || f > 3 {
		t.Errorf("%d fallbacks to the SDK for the first faults, expected 2 or 3", f)
	}
}

// The direct path is only for plain HTTP reached without a proxy.
func TestUpstreamApplies(t *testing.T) {
	t.Parallel()
	local, err := channel.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	open := func(endpoint string) channel.Store {
		st, err := s3store.New(context.Background(), "bucket", "ch", s3store.Options{
			EndpointURL: endpoint, PathStyle: true, Region: "us-east-1", Credentials: staticCreds,
		})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	viaProxy := func(*http.Request) (*url.URL, error) { return url.Parse("http://proxy.internal:3128") }
	for _, c := range []struct {
		name  string
		store channel.Store
		proxy func(*http.Request) (*url.URL, error)
		want  bool
	}{
		{"plain HTTP", open("http://s3.internal:9000"), http.ProxyFromEnvironment, true},
		{"HTTPS", open("https://s3.internal:9000"), nil, false},
		{"through a proxy", open("http://s3.internal:9000"), viaProxy, false},
		{"local folder", local, nil, false},
	} {
		if got := newUpstream(c.store, c.proxy) != nil; got != c.want {
			t.Errorf("%s: direct path %v, expected %v", c.name, got, c.want)
		}
	}
}

var staticCreds = s3test.StaticCredentials("test", "test-secret")

// An S3 server that closes the connection before the length it announced: the client
// must see a broken response, never a short body taken for whole, and the connection is
// not kept.
func TestUpstreamShortBody(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const announced, sent = 1 << 20, 100 << 10
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				if _, err := http.ReadRequest(bufio.NewReader(conn)); err != nil {
					return
				}
				fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nETag: \"abc\"\r\nLast-Modified: %s\r\n\r\n",
					announced, time.Now().UTC().Format(http.TimeFormat))
				conn.Write(bytes.Repeat([]byte("x"), sent))
			}()
		}
	}()
	st, err := s3store.New(context.Background(), "bucket", "ch", s3store.Options{
		EndpointURL: "http://" + ln.Addr().String(), PathStyle: true, Region: "us-east-1", Credentials: staticCreds,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, st, Options{})
	resp, err := newClient(t).Get(srv.URL + "/linux-64/short-1.0-0.conda")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !errors.Is(err, io.ErrUnexpectedEOF) || len(got) >= announced {
		t.Errorf("status %d, %d of %d bytes, error %v: expected a cut response", resp.StatusCode, len(got), announced, err)
	}
	srv.h.upstream.mu.Lock()
	idle := len(srv.h.upstream.idle)
	srv.h.upstream.mu.Unlock()
	if idle != 0 {
		t.Errorf("a connection that broke mid-body was kept")
	}
}
