package index

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/internal/testkit"
)

// readCounter records which package files an index run reads.
type readCounter struct {
	channel.Store
	mu    sync.Mutex
	reads map[string]int
}

func (c *readCounter) count(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if IsPackage(key) {
		c.reads[key]++
	}
}

func (c *readCounter) Stat(ctx context.Context, key string) (channel.Object, error) {
	c.count(key)
	return c.Store.Stat(ctx, key)
}

func (c *readCounter) Get(ctx context.Context, key string) (io.ReadCloser, channel.Object, error) {
	c.count(key)
	return c.Store.Get(ctx, key)
}

func (c *readCounter) ReadRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	c.count(key)
	return c.Store.ReadRange(ctx, key, off, n)
}

// TestKnownPackagesAreNotRead: packages given in Options.Known (as a publish or a
// mirror read them before uploading) are not read again (one read of their last byte
// only, which proves the channel's credentials can read them), and the channel's files
// are byte for byte those of a run that read them; an entry for other bytes (another
// ETag) is ignored.
func TestKnownPackagesAreNotRead(t *testing.T) {
	src := t.TempDir()
	paths := []string{
		testkit.MakeConda(t, src, testkit.PackageSpec{Name: "alpha", Version: "1.0", Build: "0", About: map[string]any{"summary": "a"}}),
		testkit.MakeConda(t, src, testkit.PackageSpec{Name: "beta", Version: "2.0", Build: "1", RunExports: map[string]any{"weak": []string{"beta >=2"}}}),
		testkit.MakeTarBz2(t, src, testkit.PackageSpec{Name: "gamma", Version: "3.0", Build: "0"}),
	}
	stale := testkit.MakeConda(t, t.TempDir(), testkit.PackageSpec{Name: "alpha", Version: "1.0", Build: "0", Extra: map[string]any{"license": "wrong"}})
	outputs := map[string]map[string][]byte{}
	for _, mode := range []string{"read", "known"} {
		store, dir, sub := newLocal(t)
		known := map[string]Known{}
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			testkit.WriteFile(t, sub, filepath.Base(p), data)
			obj, err := store.Stat(context.Background(), "linux-64/"+filepath.Base(p))
			if err != nil {
				t.Fatal(err)
			}
			info, err := ReadLocalPackage(bytes.NewReader(data), int64(len(data)), filepath.Base(p))
			if err != nil {
				t.Fatal(err)
			}
			known[obj.Key] = Known{ETag: obj.ETag, Size: obj.Size, Info: info}
		}
		// Bytes that are not the stored object's: a stale entry must be ignored.
		data, _ := os.ReadFile(stale)
		info, _ := ReadLocalPackage(bytes.NewReader(data), int64(len(data)), filepath.Base(stale))
		k := known["linux-64/alpha-1.0-0.conda"]
		k.ETag, k.Info = k.ETag+"-other", info
		known["linux-64/alpha-1.0-0.conda"] = k
		counter := &readCounter{Store: store, reads: map[string]int{}}
		opts := newClock().opts(Options{Quick: true})
		if mode == "known" {
			opts.Known = known
		}
		if _, err := Run(context.Background(), counter, opts); err != nil {
			t.Fatal(err)
		}
		mustCheck(t, store)
		for key, n := range counter.reads {
			stale := key == "linux-64/alpha-1.0-0.conda"
			if mode == "known" && (stale && n < 2 || !stale && n != 1) {
				t.Errorf("known: %d requests for %s (stale: a whole read, else 1)", n, key)
			}
		}
		if len(counter.reads) != 3 {
			t.Errorf("%s: read %v", mode, counter.reads)
		}
		outputs[mode] = map[string][]byte{}
		for _, f := range []string{"linux-64/repodata.json", "linux-64/run_exports.json", "channeldata.json", "linux-64/repodata_from_packages.json"} {
			outputs[mode][f], _ = os.ReadFile(filepath.Join(dir, filepath.FromSlash(f)))
		}
	}
	for f, data := range outputs["read"] {
		if len(data) == 0 || !bytes.Equal(data, outputs["known"][f]) {
			t.Errorf("%s differs when packages are known:\nread:  %s\nknown: %s", f, data, outputs["known"][f])
		}
	}
}
