package serve

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/condachan/condachan/channel"
)

// presigningStore is a store of no backend's type that can presign.
type presigningStore struct{ channel.Store }

func (p presigningStore) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	return "https://cdn.example/" + key + "?ttl=" + ttl.String(), nil
}

// The server finds a store's abilities by what it can do, never by its type: a folder
// whose files are hidden behind a plain Store is streamed through Store.Get and GetRange,
// and any Presigner gets --redirect.
func TestAbilitiesDiscovered(t *testing.T) {
	t.Parallel()
	tc := localChannel(t)
	if _, ok := tc.store.(channel.FileOpener); !ok {
		t.Fatal("a folder channel is not a FileOpener")
	}
	plain := struct{ channel.Store }{tc.store}
	if _, ok := channel.Store(plain).(channel.FileOpener); ok {
		t.Fatal("the wrapper still shows the folder's files")
	}
	c := newClient(t)
	srv := startServer(t, plain, Options{})
	if got := do(t, c, "GET", srv.URL+"/"+tc.big, nil); got.status != 200 || !bytes.Equal(got.body, tc.files[tc.big]) {
		t.Errorf("GET through Store.Get: %d, %d bytes", got.status, len(got.body))
	}
	if got := do(t, c, "GET", srv.URL+"/"+tc.big, map[string]string{"Range": "bytes=100-199"}); got.status != 206 || !bytes.Equal(got.body, tc.files[tc.big][100:200]) {
		t.Errorf("ranged GET through Store.GetRange: %d, %d bytes", got.status, len(got.body))
	}
	if _, err := New(plain, Options{Redirect: true}); err == nil {
		t.Error("--redirect accepted for a store that cannot presign")
	}

	rsrv := startServer(t, presigningStore{tc.store}, Options{Redirect: true, PresignTTL: time.Minute})
	got := do(t, c, "GET", rsrv.URL+"/"+tc.big, nil)
	if want := "https://cdn.example/" + tc.big + "?ttl=1m0s"; got.status != http.StatusFound || got.header.Get("Location") != want {
		t.Errorf("GET with --redirect: %d, Location %q, expected %q", got.status, got.header.Get("Location"), want)
	}
	if h := do(t, c, "HEAD", rsrv.URL+"/"+tc.big, nil); h.status != 200 {
		t.Errorf("HEAD with --redirect: %d", h.status)
	}
}
