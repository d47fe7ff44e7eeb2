package serve

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/internal/s3test"
	"github.com/condachan/condachan/internal/testkit"
)

// TestServe checks every kind of answer over a local channel and a channel on
// versitygw, with a plain net/http client: status, exact bytes, and headers.
func TestServe(t *testing.T) {
	t.Parallel()
	for _, tc := range backends(t) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, tc.store, Options{})
			c := newClient(t)
			pkg := tc.files[tc.big]
			pkgETag, pkgMod := storeETag(t, tc.store, tc.big)
			rdETag, rdMod := storeETag(t, tc.store, "linux-64/repodata.json")
			size := len(pkg)
			lastMod := pkgMod.UTC().Format(http.TimeFormat)

			type want struct {
				status  int
				body    []byte // nil: not checked; use empty for "no body"
				headers map[string]string
			}
			indexHdr := map[string]string{"Cache-Control": "public, max-age=30", "Accept-Ranges": "bytes"}
			with := func(base map[string]string, kv ...string) map[string]string {
				m := map[string]string{}
				for k, v := range base {
					m[k] = v
				}
				for i := 0; i < len(kv); i += 2 {
					m[kv[i]] = kv[i+1]
				}
				return m
			}
			pkgHdr := map[string]string{
				"Cache-Control": "public, max-age=31536000, immutable", "Content-Type": "application/octet-stream",
				"ETag": quoteETag(pkgETag), "Last-Modified": lastMod, "Accept-Ranges": "bytes",
			}
			cases := []struct {
				name, method, path string
				hdr                map[string]string
				want               want
			}{
				{"repodata", "GET", "/linux-64/repodata.json", nil, want{200, tc.files["linux-64/repodata.json"],
					with(indexHdr, "Content-Type", "application/json", "ETag", quoteETag(rdETag), "Last-Modified", rdMod.UTC().Format(http.TimeFormat),
						"Content-Length", strconv.Itoa(len(tc.files["linux-64/repodata.json"])))}},
				{"repodata zst", "GET", "/linux-64/repodata.json.zst", nil, want{200, tc.files["linux-64/repodata.json.zst"], with(indexHdr, "Content-Type", "application/zstd")}},
				{"noarch repodata", "GET", "/noarch/repodata.json", nil, want{200, tc.files["noarch/repodata.json"], with(indexHdr, "Content-Type", "application/json")}},
				{"channeldata", "GET", "/channeldata.json", nil, want{200, tc.files["channeldata.json"], with(indexHdr, "Content-Type", "application/json")}},
				{"root index page", "GET", "/", nil, want{200, tc.files["index.html"], with(indexHdr, "Content-Type", "text/html; charset=utf-8")}},
				{"root index.html", "GET", "/index.html", nil, want{200, tc.files["index.html"], with(indexHdr, "Content-Type", "text/html; charset=utf-8")}},
				{"subdir index page", "GET", "/linux-64/", nil, want{200, tc.files["linux-64/index.html"], with(indexHdr, "Content-Type", "text/html; charset=utf-8")}},
				{"subdir without slash", "GET", "/linux-64", nil, want{301, nil, map[string]string{"Location": "linux-64/"}}},
				{"package", "GET", "/" + tc.big, nil, want{200, pkg, with(pkgHdr, "Content-Length", strconv.Itoa(size))}},
				{"small package", "GET", "/" + tc.small, nil, want{200, tc.files[tc.small], pkgHdr2(tc, t)}},
				{"package HEAD", "HEAD", "/" + tc.big, nil, want{200, []byte{}, with(pkgHdr, "Content-Length", strconv.Itoa(size))}},
				{"repodata HEAD", "HEAD", "/linux-64/repodata.json", nil, want{200, []byte{}, with(indexHdr, "Content-Length", strconv.Itoa(len(tc.files["linux-64/repodata.json"])))}},

				// Conditional requests.
				{"package If-None-Match", "GET", "/" + tc.big, map[string]string{"If-None-Match": quoteETag(pkgETag)}, want{304, []byte{}, map[string]string{"ETag": quoteETag(pkgETag), "Cache-Control": pkgHdr["Cache-Control"]}}},
				{"package If-None-Match weak", "GET", "/" + tc.big, map[string]string{"If-None-Match": `"x", W/` + quoteETag(pkgETag)}, want{304, []byte{}, nil}},
				{"package If-None-Match other", "GET", "/" + tc.big, map[string]string{"If-None-Match": `"other"`}, want{200, pkg, nil}},
				{"package If-Modified-Since", "GET", "/" + tc.big, map[string]string{"If-Modified-Since": lastMod}, want{304, []byte{}, nil}},
				{"package If-Modified-Since earlier", "GET", "/" + tc.big, map[string]string{"If-Modified-Since": pkgMod.Add(-time.Hour).UTC().Format(http.TimeFormat)}, want{200, pkg, nil}},
				{"package If-None-Match wins over If-Modified-Since", "GET", "/" + tc.big, map[string]string{"If-None-Match": `"other"`, "If-Modified-Since": lastMod}, want{200, pkg, nil}},
				{"package HEAD If-None-Match", "HEAD", "/" + tc.big, map[string]string{"If-None-Match": quoteETag(pkgETag)}, want{304, []byte{}, nil}},
				{"package If-Match other", "GET", "/" + tc.big, map[string]string{"If-Match": `"other"`}, want{412, nil, nil}},
				{"repodata If-None-Match", "GET", "/linux-64/repodata.json", map[string]string{"If-None-Match": quoteETag(rdETag)}, want{304, []byte{}, map[string]string{"ETag": quoteETag(rdETag), "Cache-Control": "public, max-age=30"}}},
				{"repodata If-None-Match *", "GET", "/linux-64/repodata.json", map[string]string{"If-None-Match": "*"}, want{304, []byte{}, nil}},
				{"repodata If-Modified-Since", "GET", "/linux-64/repodata.json", map[string]string{"If-Modified-Since": rdMod.Add(time.Minute).UTC().Format(http.TimeFormat)}, want{304, []byte{}, nil}},

				// Ranges.
				{"range first bytes", "GET", "/" + tc.big, map[string]string{"Range": "bytes=0-99"}, want{206, pkg[:100], map[string]string{"Content-Range": fmt.Sprintf("bytes 0-99/%d", size), "Content-Length": "100", "ETag": quoteETag(pkgETag)}}},
				{"range middle", "GET", "/" + tc.big, map[string]string{"Range": "bytes=1000-66535"}, want{206, pkg[1000:66536], map[string]string{"Content-Range": fmt.Sprintf("bytes 1000-66535/%d", size)}}},
				{"range open end", "GET", "/" + tc.big, map[string]string{"Range": fmt.Sprintf("bytes=%d-", size-1000)}, want{206, pkg[size-1000:], map[string]string{"Content-Range": fmt.Sprintf("bytes %d-%d/%d", size-1000, size-1, size)}}},
				{"range suffix", "GET", "/" + tc.big, map[string]string{"Range": "bytes=-65536"}, want{206, pkg[size-65536:], map[string]string{"Content-Range": fmt.Sprintf("bytes %d-%d/%d", size-65536, size-1, size)}}},
				{"range suffix longer than the file", "GET", "/" + tc.big, map[string]string{"Range": fmt.Sprintf("bytes=-%d", size+10)}, want{206, pkg, nil}},
				{"range end past the end", "GET", "/" + tc.big, map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", size-10, size+100)}, want{206, pkg[size-10:], nil}},
				{"range HEAD", "HEAD", "/" + tc.big, map[string]string{"Range": "bytes=0-9"}, want{206, []byte{}, map[string]string{"Content-Length": "10", "Content-Range": fmt.Sprintf("bytes 0-9/%d", size)}}},
				{"range past the end", "GET", "/" + tc.big, map[string]string{"Range": fmt.Sprintf("bytes=%d-", size)}, want{416, nil, map[string]string{"Content-Range": fmt.Sprintf("bytes */%d", size)}}},
				{"range empty suffix", "GET", "/" + tc.big, map[string]string{"Range": "bytes=-0"}, want{416, nil, nil}},
				{"multiple ranges: whole body", "GET", "/" + tc.big, map[string]string{"Range": "bytes=0-9,20-29"}, want{200, pkg, nil}},
				{"malformed range ignored", "GET", "/" + tc.big, map[string]string{"Range": "bytes=abc"}, want{200, pkg, nil}},
				{"other unit ignored", "GET", "/" + tc.big, map[string]string{"Range": "items=0-1"}, want{200, pkg, nil}},
				{"If-Range matching", "GET", "/" + tc.big, map[string]string{"Range": "bytes=5-9", "If-Range": quoteETag(pkgETag)}, want{206, pkg[5:10], nil}},
				{"If-Range date", "GET", "/" + tc.big, map[string]string{"Range": "bytes=5-9", "If-Range": lastMod}, want{206, pkg[5:10], nil}},
				{"If-Range stale", "GET", "/" + tc.big, map[string]string{"Range": "bytes=5-9", "If-Range": `"stale"`}, want{200, pkg, nil}},
				{"range on repodata", "GET", "/linux-64/repodata.json", map[string]string{"Range": "bytes=1-10"}, want{206, tc.files["linux-64/repodata.json"][1:11], map[string]string{"Content-Type": "application/json"}}},
				{"range on repodata past the end", "GET", "/linux-64/repodata.json", map[string]string{"Range": "bytes=999999999-"}, want{416, nil, nil}},

				// Missing.
				{"missing package", "GET", "/linux-64/nothere-1.0-0.conda", nil, want{404, nil, map[string]string{"Cache-Control": "no-store"}}},
				{"missing package HEAD", "HEAD", "/linux-64/nothere-1.0-0.conda", nil, want{404, nil, nil}},
				{"missing package range", "GET", "/linux-64/nothere-1.0-0.conda", map[string]string{"Range": "bytes=0-9"}, want{404, nil, nil}},
				{"missing package conditional", "GET", "/linux-64/nothere-1.0-0.conda", map[string]string{"If-None-Match": `"x"`}, want{404, nil, nil}},
				{"missing repodata of a known subdir", "GET", "/osx-arm64/repodata.json", nil, want{404, nil, nil}},
				{"missing subdir page", "GET", "/osx-arm64/", nil, want{404, nil, nil}},
				{"unknown subdir", "GET", "/linux-65/repodata.json", nil, want{404, nil, nil}},
				{"unknown file in subdir", "GET", "/linux-64/notes.txt", nil, want{404, nil, nil}},
				{"unknown root file", "GET", "/secret.txt", nil, want{404, nil, nil}},
				{"nested folder", "GET", "/linux-64/nested/secret-1.0-0.conda", nil, want{404, nil, nil}},
				{"current_repodata missing", "GET", "/linux-64/current_repodata.json", nil, want{404, nil, nil}},

				// Methods.
				{"POST", "POST", "/linux-64/repodata.json", nil, want{405, nil, map[string]string{"Allow": "GET, HEAD"}}},
				{"PUT", "PUT", "/" + tc.big, nil, want{405, nil, map[string]string{"Allow": "GET, HEAD"}}},
				{"DELETE", "DELETE", "/" + tc.big, nil, want{405, nil, map[string]string{"Allow": "GET, HEAD"}}},
				{"OPTIONS", "OPTIONS", "/", nil, want{405, nil, map[string]string{"Allow": "GET, HEAD"}}},
				{"PATCH", "PATCH", "/noarch/repodata.json", nil, want{405, nil, nil}},

				// Internal objects and dot-files.
				{"internal secret", "GET", "/.condachan/secret.json", nil, want{400, nil, nil}},
				{"internal folder", "GET", "/.condachan/", nil, want{400, nil, nil}},
				{"internal index state", "GET", "/.condachan/index/linux-64.json.zst", nil, want{400, nil, nil}},
				{"dot-file in subdir", "GET", "/linux-64/.hidden.conda", nil, want{400, nil, nil}},
				{"temp file in subdir", "GET", "/linux-64/.alpha-9.0-0.conda.tmp-123", nil, want{400, nil, nil}},
				{".cache", "GET", "/.cache/secret.json", nil, want{400, nil, nil}},
				{"escaped dot", "GET", "/%2econdachan/secret.json", nil, want{400, nil, nil}},
				{"encoded slash", "GET", "/linux-64%2Frepodata.json", nil, want{400, nil, nil}},
				{"encoded backslash", "GET", "/linux-64%5Crepodata.json", nil, want{400, nil, nil}},
				{"encoded NUL", "GET", "/linux-64/alpha-1.0-0.conda%00", nil, want{400, nil, nil}},
				{"double encoding", "GET", "/%252econdachan/secret.json", nil, want{400, nil, nil}},
				{"empty segment", "GET", "//linux-64/repodata.json", nil, want{400, nil, nil}},
				{"healthz", "GET", "/healthz", nil, want{200, []byte("ok\n"), map[string]string{"Cache-Control": "no-store"}}},
			}
			for _, c2 := range cases {
				t.Run(c2.name, func(t *testing.T) {
					got := do(t, c, c2.method, srv.URL+c2.path, c2.hdr)
					if got.status != c2.want.status {
						t.Fatalf("%s %s: status %d, want %d (body %.200q)", c2.method, c2.path, got.status, c2.want.status, got.body)
					}
					if c2.want.body != nil && !bytes.Equal(got.body, c2.want.body) {
						t.Errorf("%s %s: body of %d bytes differs from the %d expected", c2.method, c2.path, len(got.body), len(c2.want.body))
					}
					for k, v := range c2.want.headers {
						if g := got.header.Get(k); g != v {
							t.Errorf("%s %s: %s = %q, want %q", c2.method, c2.path, k, g, v)
						}
					}
					if bytes.Contains(got.body, []byte(secret)) {
						t.Errorf("%s %s: the response holds an internal object", c2.method, c2.path)
					}
					if got.header.Get("X-Content-Type-Options") != "nosniff" {
						t.Errorf("%s %s: no X-Content-Type-Options", c2.method, c2.path)
					}
				})
			}
		})
	}
}

func pkgHdr2(tc *testChannel, t *testing.T) map[string]string {
	etag, _ := storeETag(t, tc.store, tc.small)
	return map[string]string{"ETag": quoteETag(etag), "Content-Length": strconv.Itoa(len(tc.files[tc.small]))}
}

// TestTraversal sends paths exactly as written (no client cleaning) that try to reach
// internal objects or leave the channel: none may answer 200 or show a secret.
func TestTraversal(t *testing.T) {
	t.Parallel()
	tc := localChannel(t)
	srv := startServer(t, tc.store, Options{})
	for _, target := range []string{
		"/../secret.txt",
		"/linux-64/../.condachan/secret.json",
		"/linux-64/../../etc/passwd",
		"/linux-64/./repodata.json",
		"/linux-64/%2e%2e/.condachan/secret.json",
		"/linux-64/%2E%2E/%2E%2E/etc/passwd",
		"/%2e%2e/%2e%2e/etc/passwd",
		"/linux-64%2f..%2f.condachan%2fsecret.json",
		"/linux-64%5c..%5c.condachan%5csecret.json",
		"/linux-64\\..\\.condachan\\secret.json",
		"/..%2f.condachan/secret.json",
		"/%c0%ae%c0%ae/.condachan/secret.json",
		"/linux-64/%uff0e%uff0e/secret.json",
		"/.condachan%00/secret.json",
		"/linux-64/..;/.condachan/secret.json",
		"/t/../.condachan/secret.json",
		"/t/tok/../.condachan/secret.json",
		"/t/tok/.condachan/secret.json",
		"/.condachan/index/linux-64.json.zst",
		"/linux-64/nested/../../.condachan/secret.json",
		"http://x/../.condachan/secret.json",
		"/linux-64/.hidden.conda",
		"/" + strings.Repeat("a/", 600) + "x.conda",
	} {
		got := rawGet(t, srv.URL, target)
		if got.status != http.StatusBadRequest && got.status != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 400 or 404", target, got.status)
		}
		if bytes.Contains(got.body, []byte(secret)) {
			t.Errorf("GET %s: served an internal object", target)
		}
	}
}

// TestGeneratedListings serves a channel whose index pages are missing: the listings
// are generated and never name internal objects or dot-files.
func TestGeneratedListings(t *testing.T) {
	t.Parallel()
	for _, tc := range backends(t) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			for _, k := range []string{"index.html", "linux-64/index.html", "noarch/index.html", "win-64/index.html"} {
				if err := tc.store.Delete(ctx, k, ""); err != nil {
					t.Fatal(err)
				}
			}
			srv := startServer(t, tc.store, Options{})
			c := newClient(t)
			root := do(t, c, "GET", srv.URL+"/", nil)
			if root.status != 200 || root.header.Get("Content-Type") != "text/html; charset=utf-8" || root.header.Get("ETag") == "" {
				t.Fatalf("GET /: %d %v", root.status, root.header)
			}
			for _, want := range []string{`href="linux-64/"`, `href="noarch/"`, `href="win-64/"`, `href="channeldata.json"`} {
				if !strings.Contains(string(root.body), want) {
					t.Errorf("root listing lacks %s:\n%s", want, root.body)
				}
			}
			sub := do(t, c, "GET", srv.URL+"/linux-64/", nil)
			if sub.status != 200 {
				t.Fatalf("GET /linux-64/: %d", sub.status)
			}
			for _, want := range []string{"alpha-1.0-0.conda", "alpha-1.1-0.conda", "bigdata-2.0-h1_0.conda", `href="repodata.json"`, `href="repodata.json.zst"`} {
				if !strings.Contains(string(sub.body), want) {
					t.Errorf("subdir listing lacks %s:\n%s", want, sub.body)
				}
			}
			for _, page := range []response{root, sub} {
				for _, bad := range []string{".condachan", ".hidden", ".tmp-", "nested", "secret"} {
					if strings.Contains(string(page.body), bad) {
						t.Errorf("listing names %q:\n%s", bad, page.body)
					}
				}
			}
			// A generated page has an ETag of its own and answers 304 to it.
			if got := do(t, c, "GET", srv.URL+"/linux-64/", map[string]string{"If-None-Match": sub.header.Get("ETag")}); got.status != 304 {
				t.Errorf("conditional GET of the generated page: %d", got.status)
			}
			if got := do(t, c, "GET", srv.URL+"/osx-64/", nil); got.status != 404 {
				t.Errorf("listing of an absent subdir: %d", got.status)
			}
		})
	}
}

// TestRepodataCache checks that repodata is served from memory, that concurrent
// clients cost the store one fetch, and that a new index is seen within the
// revalidation interval, with a new ETag.
func TestRepodataCache(t *testing.T) {
	t.Parallel()
	for _, tc := range backends(t) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			cs := &countingStore{Store: tc.store}
			const interval = 300 * time.Millisecond
			srv := startServer(t, cs, Options{Revalidate: interval})
			c := newClient(t)
			url := srv.URL + "/linux-64/repodata.json"
			first := do(t, c, "GET", url, nil)
			if first.status != 200 {
				t.Fatal(first.status)
			}
			var wg sync.WaitGroup
			for range 50 {
				wg.Go(func() {
					if got := do(t, c, "GET", url, nil); got.status != 200 || !bytes.Equal(got.body, first.body) {
						t.Errorf("concurrent GET: %d", got.status)
					}
				})
			}
			wg.Wait()
			if n := cs.gets.Load() + cs.stats.Load(); n > 3 {
				t.Errorf("51 GETs within the interval cost %d store requests", n)
			}

			// A new index: Put replaces repodata.json.
			updated := append([]byte(nil), first.body...)
			updated = bytes.Replace(updated, []byte(`"repodata_version":1`), []byte(`"repodata_version":1 `), 1)
			if _, err := tc.store.Put(ctx, "linux-64/repodata.json", bytes.NewReader(updated), int64(len(updated)), channel.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(interval + 2*time.Second)
			for {
				got := do(t, c, "GET", url, nil)
				if bytes.Equal(got.body, updated) {
					if got.header.Get("ETag") == first.header.Get("ETag") {
						t.Errorf("new content, old ETag %s", got.header.Get("ETag"))
					}
					// The client's old ETag no longer matches.
					if r := do(t, c, "GET", url, map[string]string{"If-None-Match": first.header.Get("ETag")}); r.status != 200 {
						t.Errorf("old ETag: %d", r.status)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the new repodata was not served within %v", interval+2*time.Second)
				}
				time.Sleep(50 * time.Millisecond)
			}
			// Unchanged repodata is revalidated with a Stat, not fetched again.
			gets := cs.gets.Load()
			time.Sleep(interval + 50*time.Millisecond)
			if got := do(t, c, "GET", url, nil); !bytes.Equal(got.body, updated) {
				t.Fatal("wrong body after revalidation")
			}
			if cs.gets.Load() != gets {
				t.Errorf("an unchanged file was fetched again (%d GETs, was %d)", cs.gets.Load(), gets)
			}
			// Deleted: 404 once the interval has passed.
			if err := tc.store.Delete(ctx, "linux-64/repodata.json", ""); err != nil {
				t.Fatal(err)
			}
			time.Sleep(interval + 50*time.Millisecond)
			if got := do(t, c, "GET", url, nil); got.status != 404 {
				t.Errorf("deleted repodata: %d", got.status)
			}
		})
	}
}

// TestAuth checks bearer tokens, basic auth and conda's /t/<TOKEN>/ paths, and what
// stays open.
func TestAuth(t *testing.T) {
	t.Parallel()
	tc := localChannel(t)
	auth, err := ParseAuth(strings.NewReader("# channel readers\nbearer tok-0123456789abcdef\n\nbasic render:s3cr3t:with:colons\n"))
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, tc.store, Options{Auth: auth})
	c := newClient(t)
	rd := "/linux-64/repodata.json"
	basic := func(user, pass string) string {
		req, _ := http.NewRequest("GET", "http://x/", nil)
		req.SetBasicAuth(user, pass)
		return req.Header.Get("Authorization")
	}
	for _, x := range []struct {
		name, path, authz string
		status            int
	}{
		{"none", rd, "", 401},
		{"bearer", rd, "Bearer tok-0123456789abcdef", 200},
		{"bearer lower-case scheme", rd, "bearer tok-0123456789abcdef", 200},
		{"wrong bearer", rd, "Bearer tok-0123456789abcdeX", 401},
		{"bearer prefix only", rd, "Bearer tok-0123", 401},
		{"basic", rd, basic("render", "s3cr3t:with:colons"), 200},
		{"wrong basic", rd, basic("render", "s3cr3t"), 401},
		{"basic bad base64", rd, "Basic !!!", 401},
		{"token path", "/t/tok-0123456789abcdef" + rd, "", 200},
		{"token path root", "/t/tok-0123456789abcdef/", "", 200},
		{"wrong token path", "/t/nope" + rd, "", 401},
		{"package without auth", "/" + tc.small, "", 401},
		{"package with token path", "/t/tok-0123456789abcdef/" + tc.small, "", 200},
		{"healthz is open", "/healthz", "", 200},
		{"metrics need auth", "/metrics", "", 401},
		{"metrics with auth", "/metrics", "Bearer tok-0123456789abcdef", 200},
		{"internal with auth", "/.condachan/secret.json", "Bearer tok-0123456789abcdef", 400},
	} {
		t.Run(x.name, func(t *testing.T) {
			hdr := map[string]string{}
			if x.authz != "" {
				hdr["Authorization"] = x.authz
			}
			got := do(t, c, "GET", srv.URL+x.path, hdr)
			if got.status != x.status {
				t.Fatalf("GET %s: %d, want %d", x.path, got.status, x.status)
			}
			switch got.status {
			case 401:
				if ch := got.header.Values("WWW-Authenticate"); len(ch) != 2 || !strings.HasPrefix(ch[0], "Basic realm=") || !strings.HasPrefix(ch[1], "Bearer realm=") {
					t.Errorf("WWW-Authenticate %q", ch)
				}
			case 200:
				if x.path == rd && got.header.Get("Cache-Control") != "private, max-age=30" {
					t.Errorf("Cache-Control %q on an authenticated answer", got.header.Get("Cache-Control"))
				}
			}
		})
	}
	if strings.Contains(srv.log.String(), "tok-0123456789abcdef") {
		t.Errorf("the access log shows a token:\n%s", srv.log.String())
	}
	if !strings.Contains(srv.log.String(), "/t/<redacted>/linux-64/repodata.json 200") {
		t.Errorf("the access log lacks the redacted token path:\n%s", srv.log.String())
	}

	for _, bad := range []string{"", "# nothing\n", "token abc\n", "bearer\n", "basic nocolon\n", "bearer a b\n"} {
		if _, err := ParseAuth(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseAuth(%q) accepted it", bad)
		}
	}
}

// TestMetricsAndAccessLog checks the Prometheus text and the access log lines.
func TestMetricsAndAccessLog(t *testing.T) {
	t.Parallel()
	tc := localChannel(t)
	srv := startServer(t, tc.store, Options{})
	c := newClient(t)
	do(t, c, "GET", srv.URL+"/linux-64/repodata.json", nil)
	do(t, c, "GET", srv.URL+"/linux-64/repodata.json", nil)
	do(t, c, "GET", srv.URL+"/"+tc.small, nil)
	do(t, c, "GET", srv.URL+"/linux-64/none-1-0.conda", nil)
	do(t, c, "POST", srv.URL+"/", nil)
	m := do(t, c, "GET", srv.URL+"/metrics", nil)
	if m.status != 200 || !strings.HasPrefix(m.header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("/metrics: %d %s", m.status, m.header.Get("Content-Type"))
	}
	text := string(m.body)
	for _, re := range []string{
		`(?m)^condachan_serve_requests_total\{code="2xx"\} 3$`,
		`(?m)^condachan_serve_requests_total\{code="4xx"\} 2$`,
		`(?m)^condachan_serve_cache_hits_total 1$`,
		`(?m)^condachan_serve_cache_misses_total 1$`,
		`(?m)^condachan_serve_response_bytes_total [1-9][0-9]*$`,
		`(?m)^condachan_serve_request_duration_seconds_bucket\{le="\+Inf"\} 5$`,
		`(?m)^condachan_serve_request_duration_seconds_count 5$`,
		`(?m)^# TYPE condachan_serve_request_duration_seconds histogram$`,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("metrics lack %s:\n%s", re, text)
		}
	}
	// Every line is a comment or "name{labels} value".
	// Metric names as the format has them: [a-zA-Z_:][a-zA-Z0-9_:]*.
	line := regexp.MustCompile(`^(# (HELP|TYPE) .+|[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-z]+="[^"]*"\})? [0-9.e+-]+|[a-zA-Z_:][a-zA-Z0-9_:]*(\{le="\+Inf"\})? [0-9]+)$`)
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		if !line.MatchString(l) {
			t.Errorf("metrics line %q is not in the text format", l)
		}
	}
	logText := srv.log.String()
	entry := regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z 127\.0\.0\.1:\d+ GET /linux-64/repodata\.json 200 \d+ \d+\.\d{3}ms$`)
	if len(entry.FindAllString(logText, -1)) != 2 {
		t.Errorf("access log:\n%s", logText)
	}
	if !strings.Contains(logText, " POST / 405 ") || !strings.Contains(logText, " GET /linux-64/none-1-0.conda 404 ") {
		t.Errorf("access log:\n%s", logText)
	}
}

// TestConcurrentClients serves 200 clients at once, each fetching repodata, packages
// and ranges, and checks every byte.
func TestConcurrentClients(t *testing.T) {
	t.Parallel()
	for _, tc := range backends(t) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, tc.store, Options{AccessLog: &testkit.SyncBuffer{}})
			c := newClient(t)
			keys := []string{"linux-64/repodata.json", "linux-64/repodata.json.zst", "noarch/repodata.json", "channeldata.json", tc.big, tc.small}
			const clients = 200
			start := make(chan struct{})
			var wg sync.WaitGroup
			var mu sync.Mutex
			var failures []string
			fail := func(format string, args ...any) {
				mu.Lock()
				defer mu.Unlock()
				failures = append(failures, fmt.Sprintf(format, args...))
			}
			for i := range clients {
				wg.Go(func() {
					<-start
					for j := range 4 {
						key := keys[(i+j)%len(keys)]
						want := tc.files[key]
						req, _ := http.NewRequest("GET", srv.URL+"/"+key, nil)
						if j == 3 {
							req.Header.Set("Range", "bytes=10-109")
							want = want[10:110]
						}
						resp, err := c.Do(req)
						if err != nil {
							fail("client %d: GET %s: %v", i, key, err)
							return
						}
						var body bytes.Buffer
						_, err = body.ReadFrom(resp.Body)
						resp.Body.Close()
						if err != nil || (resp.StatusCode != 200 && resp.StatusCode != 206) || !bytes.Equal(body.Bytes(), want) {
							fail("client %d: GET %s: %d, %d bytes (want %d), %v", i, key, resp.StatusCode, body.Len(), len(want), err)
						}
					}
				})
			}
			close(start)
			wg.Wait()
			if len(failures) > 0 {
				t.Fatalf("%d failures, first: %s", len(failures), failures[0])
			}
		})
	}
}

// TestNotIndexedChannel serves an empty channel: 404s, no panics.
func TestNotIndexedChannel(t *testing.T) {
	t.Parallel()
	st, err := channel.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, st, Options{})
	c := newClient(t)
	for _, p := range []string{"/noarch/repodata.json", "/noarch/", "/linux-64/x-1-0.conda", "/channeldata.json"} {
		if got := do(t, c, "GET", srv.URL+p, nil); got.status != 404 {
			t.Errorf("GET %s: %d", p, got.status)
		}
	}
	if got := do(t, c, "GET", srv.URL+"/", nil); got.status != 200 {
		t.Errorf("GET /: %d", got.status)
	}
}

// TestOptionsErrors checks what New refuses.
func TestOptionsErrors(t *testing.T) {
	st, err := channel.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(st, Options{Redirect: true}); err == nil {
		t.Error("--redirect accepted for a local channel")
	}
}

// An index file too large for the cache is streamed for as long as its client reads,
// not cut off at the cache's fetch limit.
func TestLargeIndexStreamOutlivesFetchLimit(t *testing.T) {
	srv := s3test.Start(t)
	st := srv.Store(t, srv.NewBucket(t), "Conda/Default")
	body := strings.Repeat("x", 24<<20)
	if _, err := st.Put(context.Background(), "linux-64/repodata.json", strings.NewReader(body), int64(len(body)), channel.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	h, err := New(st, Options{CacheMaxObject: 1 << 20, CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	h.cache.fetchLimit = 300 * time.Millisecond // stands for the 2 minutes
	ts := httptest.NewServer(h)
	defer ts.Close()
	resp, err := ts.Client().Get(ts.URL + "/linux-64/repodata.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := 0
	buf := make([]byte, 64<<10)
	start := time.Now()
	for {
		n, err := resp.Body.Read(buf)
		got += n
		if time.Since(start) < time.Second {
			time.Sleep(5 * time.Millisecond) // a slow client, past the fetch limit
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d of %d bytes: %v", got, len(body), err)
		}
	}
	if got != len(body) {
		t.Errorf("client got %d of %d bytes", got, len(body))
	}
}

// A client that stops reading a package is dropped once a chunk makes no progress for
// the stall limit, for a package from S3 (a store connection held) and from a folder,
// and for a large cached index file (sent with sendfile from memory on Linux).
func TestStalledClientIsDropped(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 2<<20) // 32 MiB
	local, err := channel.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := s3test.Start(t)
	stores := map[string]channel.Store{"local": local, "s3": srv.Store(t, srv.NewBucket(t), "ch")}
	cases := []struct{ name, key string }{
		{"local", "linux-64/big-1-0.conda"},
		{"s3", "linux-64/big-1-0.conda"},
		{"local", "linux-64/repodata.json"},
	}
	for _, tc := range cases {
		st := stores[tc.name]
		t.Run(tc.name+"/"+tc.key, func(t *testing.T) {
			if _, err := st.Put(context.Background(), tc.key, bytes.NewReader(body), int64(len(body)), channel.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			log := &testkit.SyncBuffer{}
			h, err := New(st, Options{ErrorLog: log})
			if err != nil {
				t.Fatal(err)
			}
			h.writeStall = 300 * time.Millisecond
			ts := httptest.NewUnstartedServer(h)
			ts.Listener = zeroCopyListener(ts.Listener)
			ts.Start()
			defer ts.Close()
			conn, err := net.Dial("tcp", ts.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "GET /%s HTTP/1.1\r\nHost: x\r\n\r\n", tc.key)
			// Not reading for a few stall limits: the server must give up on its own
			// and close the connection, so that draining it now ends short of the body.
			time.Sleep(6 * h.writeStall)
			conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			got, err := io.Copy(io.Discard, conn)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the connection is still open after %d bytes: the server kept waiting for a client that stopped reading", got)
			}
			if got >= int64(len(body)) {
				t.Fatalf("the client got all %d bytes after stalling; the server should have dropped it", got)
			}
		})
	}
}

// A large cached index file (on Linux in a memfd, sent with sendfile) reaches many
// clients at once byte for byte, whole and in ranges that cross the in-memory head's
// edge and the write-deadline chunks; on Linux the metric shows that it went out
// without a copy.
func TestLargeCachedIndexFile(t *testing.T) {
	t.Parallel()
	for _, tc := range backends(t) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const key = "linux-64/repodata.json.zst"
			data := randomBytes(2*sendfileChunk+12345, 3)
			if _, err := tc.store.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), channel.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			srv := startServer(t, tc.store, Options{})
			c := newClient(t)
			url := srv.URL + "/" + key
			var wg sync.WaitGroup
			const clients = 16
			for range clients {
				wg.Go(func() {
					got := do(t, c, "GET", url, nil)
					if got.status != 200 || !bytes.Equal(got.body, data) || got.header.Get("Content-Length") != strconv.Itoa(len(data)) {
						t.Errorf("GET: %d, %d bytes (Content-Length %s), expected %d", got.status, len(got.body), got.header.Get("Content-Length"), len(data))
					}
				})
			}
			wg.Wait()
			n := len(data)
			for _, r := range []struct {
				spec     string
				off, end int // end exclusive
			}{
				{"bytes=0-99", 0, 100},
				{"bytes=500-600", 500, 601},
				{fmt.Sprintf("bytes=%d-%d", sendfileChunk-10, sendfileChunk+10), sendfileChunk - 10, sendfileChunk + 11},
				{"bytes=1000-", 1000, n},
				{"bytes=-1000", n - 1000, n},
			} {
				got := do(t, c, "GET", url, map[string]string{"Range": r.spec})
				if got.status != 206 || !bytes.Equal(got.body, data[r.off:r.end]) {
					t.Errorf("Range %s: %d, %d bytes, expected %d", r.spec, got.status, len(got.body), r.end-r.off)
				}
			}
			head := do(t, c, "HEAD", url, nil)
			if head.status != 200 || len(head.body) != 0 || head.header.Get("Content-Length") != strconv.Itoa(n) {
				t.Errorf("HEAD: %d, %d body bytes, Content-Length %s", head.status, len(head.body), head.header.Get("Content-Length"))
			}
			if got := do(t, c, "GET", url, map[string]string{"If-None-Match": head.header.Get("ETag")}); got.status != 304 || len(got.body) != 0 {
				t.Errorf("If-None-Match: %d", got.status)
			}
			zeroCopied := metric(t, c, srv.URL, "condachan_serve_zero_copy_bytes_total")
			if runtime.GOOS == "linux" {
				// All but the first 512 bytes of each whole GET, and most of the ranges.
				if min := int64(clients * (n - sniffLen)); zeroCopied < min {
					t.Errorf("%d bytes went out with sendfile, expected at least %d", zeroCopied, min)
				}
			} else if zeroCopied != 0 {
				t.Errorf("%d bytes went out with sendfile on %s", zeroCopied, runtime.GOOS)
			}
		})
	}
}
