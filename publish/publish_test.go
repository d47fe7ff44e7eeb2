package publish

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/index"
	"github.com/condachan/condachan/internal/testkit"
)

var fastLease = channel.LeaseOptions{TTL: 2 * time.Second, Poll: 20 * time.Millisecond}

func TestPublishIsCreateIfAbsent(t *testing.T) {
	ctx := context.Background()
	store, err := channel.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pkg := testkit.MakeConda(t, t.TempDir(), testkit.PackageSpec{Name: "tool", Version: "1.0", Build: "0"})
	res, err := Publish(ctx, store, []string{pkg}, Options{Lease: fastLease})
	if err != nil {
		t.Fatal(err)
	}
	if res.Uploads[0].Status != "uploaded" || res.Uploads[0].Key != "linux-64/tool-1.0-0.conda" || res.Index == nil {
		t.Errorf("first publish: %+v", res)
	}
	// The same bytes again: a no-op, and already indexed (group commit path), which is
	// not put down to another publisher.
	var logged []string
	res, err = Publish(ctx, store, []string{pkg}, Options{Lease: fastLease, Log: func(s string) { logged = append(logged, s) }})
	if err != nil || res.Uploads[0].Status != "unchanged" || !res.GroupCommit {
		t.Errorf("same bytes again: %+v %v", res, err)
	}
	if strings.Join(logged, "\n") != "already in the channel and indexed: nothing to do" {
		t.Errorf("same bytes again logged %q", logged)
	}
	// Different bytes under the same name: refused without Force, with a typed error
	// that names the package and no flag.
	other := testkit.MakeConda(t, t.TempDir(), testkit.PackageSpec{Name: "tool", Version: "1.0", Build: "0", Extra: map[string]any{"depends": []string{"zlib"}}})
	_, err = Publish(ctx, store, []string{other}, Options{Lease: fastLease})
	var conflict *ConflictError
	if !errors.As(err, &conflict) || conflict.Key != "linux-64/tool-1.0-0.conda" || strings.Contains(err.Error(), "--") {
		t.Errorf("different bytes: %v", err)
	}
	res, err = Publish(ctx, store, []string{other}, Options{Lease: fastLease, Force: true})
	if err != nil || res.Uploads[0].Status != "replaced" {
		t.Fatalf("--force: %+v %v", res, err)
	}
	problems, err := index.Check(ctx, store, true)
	if err != nil || len(problems) > 0 {
		t.Errorf("channel: %v %v", problems, err)
	}
}

func TestPublishRejectsMisnamedPackages(t *testing.T) {
	store, _ := channel.NewLocal(t.TempDir())
	dir := t.TempDir()
	pkg := testkit.MakeConda(t, dir, testkit.PackageSpec{Name: "tool", Version: "1.0", Build: "0"})
	renamed := filepath.Join(dir, "tool-2.0-0.conda")
	data, _ := os.ReadFile(pkg)
	os.WriteFile(renamed, data, 0o644)
	_, err := Publish(context.Background(), store, []string{renamed}, Options{Lease: fastLease})
	if err == nil || !(strings.Contains(err.Error(), "renamed") || strings.Contains(err.Error(), "does not match")) {
		t.Errorf("renamed package: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644)
	if _, err := Publish(context.Background(), store, []string{filepath.Join(dir, "notes.txt")}, Options{Lease: fastLease}); err == nil {
		t.Error("published a text file")
	}
}

func TestNextBuildNumberIsRaceFree(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, _ := channel.NewLocal(dir)
	os.MkdirAll(filepath.Join(dir, "linux-64"), 0o755)
	for _, b := range []string{"0", "3", "h1234abc_5"} {
		testkit.MakeConda(t, filepath.Join(dir, "linux-64"), testkit.PackageSpec{Name: "tool", Version: "1.0", Build: b})
	}
	testkit.MakeConda(t, filepath.Join(dir, "linux-64"), testkit.PackageSpec{Name: "tool", Version: "1.01", Build: "9"})
	var mu sync.Mutex
	var got []int
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := NextBuildNumber(ctx, store, "linux-64", "tool", "1.0")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got = append(got, n)
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Ints(got)
	for i, n := range got {
		if n != 6+i {
			t.Fatalf("reserved %v, want 6..13 each once", got)
		}
	}
}

// unreadableStore fails every ranged read of one key, as a bucket whose object is
// encrypted with a key the reader may not use does.
type unreadableStore struct {
	channel.Store
	key string
}

func (s unreadableStore) ReadRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	if key == s.key {
		return nil, errors.New("AccessDenied: kms key")
	}
	return s.Store.ReadRange(ctx, key, off, n)
}

// A publish whose package the index run could not read says so and fails, instead of
// reporting the package as published.
func TestPublishFailsWhenItsPackageIsLeftOut(t *testing.T) {
	ctx := context.Background()
	local, err := channel.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pkg := testkit.MakeConda(t, t.TempDir(), testkit.PackageSpec{Name: "tool", Version: "1.0", Build: "0"})
	store := unreadableStore{Store: local, key: "linux-64/tool-1.0-0.conda"}
	res, err := Publish(ctx, store, []string{pkg}, Options{Lease: fastLease})
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") || !strings.Contains(err.Error(), "linux-64/tool-1.0-0.conda") {
		t.Fatalf("got %v, want an error naming the package and the cause", err)
	}
	if res == nil || len(res.Uploads) != 1 || res.Uploads[0].Indexed {
		t.Fatalf("result %+v", res)
	}
	// Once the store reads it, a publish of the same bytes indexes it.
	if res, err = Publish(ctx, local, []string{pkg}, Options{Lease: fastLease}); err != nil || !res.Uploads[0].Indexed {
		t.Fatalf("second publish: %+v %v", res, err)
	}
}

// A package that cannot be read is refused with an error that names it once, by the
// path given, whatever its format.
func TestPublishNamesAnUnreadablePackageOnce(t *testing.T) {
	store, _ := channel.NewLocal(t.TempDir())
	dir := t.TempDir()
	for name, data := range map[string]string{
		"notzip-1.0-0.conda":    "garbage",
		"notbz2-1.0-0.tar.bz2":  "BZh9garbage",
		"truncated-1.0-0.conda": "PK\x03\x04",
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Publish(context.Background(), store, []string{path}, Options{Lease: fastLease})
		if err == nil || !strings.HasPrefix(err.Error(), path+": ") || strings.Count(err.Error(), name) != 1 {
			t.Errorf("%s: %v", name, err)
		}
	}
}
