package serve

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/internal/testkit"
)

// TestShardsAreImmutable: shards, named by their hash, are served as immutable; the
// shard index, replaced in place, like repodata.
func TestShardsAreImmutable(t *testing.T) {
	dir := t.TempDir()
	shard := strings.Repeat("0f", 32) + ".msgpack.zst"
	testkit.WriteFile(t, dir+"/linux-64/shards", shard, []byte("shard bytes"))
	testkit.WriteFile(t, dir+"/linux-64", "repodata_shards.msgpack.zst", []byte("index bytes"))
	testkit.WriteFile(t, dir+"/linux-64/shards", "notes.txt", []byte("not served"))
	st, err := channel.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, st, Options{})
	client := newClient(t)
	for _, tc := range []struct {
		path, cacheControl, body string
		status                   int
	}{
		{"/linux-64/shards/" + shard, "public, max-age=31536000, immutable", "shard bytes", 200},
		{"/linux-64/repodata_shards.msgpack.zst", "public, max-age=30", "index bytes", 200},
		{"/linux-64/shards/notes.txt", "no-store", "", 404},
	} {
		resp, err := client.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || resp.Header.Get("Cache-Control") != tc.cacheControl {
			t.Errorf("%s: %d %q", tc.path, resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
		if tc.status == http.StatusOK && (string(body) != tc.body || resp.Header.Get("Content-Type") != "application/zstd") {
			t.Errorf("%s: %q %q", tc.path, body, resp.Header.Get("Content-Type"))
		}
	}
}
