package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/index"
	"github.com/condachan/condachan/internal/mirrortest"
	"github.com/condachan/condachan/internal/s3test"
	"github.com/condachan/condachan/mirror"
	"github.com/condachan/condachan/mirror/lockfile"
	"github.com/condachan/condachan/publish"
)

var fastLease = channel.LeaseOptions{TTL: 2 * time.Second, Poll: 50 * time.Millisecond}

// stores are the channels the tests mirror into: a folder and an S3 prefix.
func stores(t *testing.T) map[string]func(t *testing.T) channel.Store {
	return map[string]func(t *testing.T) channel.Store{
		"folder": func(t *testing.T) channel.Store {
			s, err := channel.NewLocal(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"s3": func(t *testing.T) channel.Store {
			srv := s3test.Start(t)
			return srv.Store(t, srv.NewBucket(t), "Conda/Default")
		},
	}
}

// readLock reads a lock the upstream wrote.
func readLock(t *testing.T, up *mirrortest.Upstream, format string) []lockfile.Package {
	t.Helper()
	l, err := lockfile.Read(up.WriteLock(t, t.TempDir(), format), lockfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := mirror.Packages([]*lockfile.Lock{l})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// snapshot is what a channel holds outside condachan's own area, with each object's
// ETag, and its linux-64 repodata.
func snapshot(t *testing.T, store channel.Store) (map[string]string, []byte) {
	t.Helper()
	ctx := context.Background()
	objs := map[string]string{}
	err := store.List(ctx, "", func(o channel.Object) error {
		if !channel.IsInternal(o.Key) {
			objs[o.Key] = o.ETag
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	repodata, _, _ := channel.ReadAll(ctx, store, "linux-64/repodata.json")
	return objs, repodata
}

// TestFaultsPublishNothing: a package whose bytes do not match its lock, one that is
// gone upstream and one whose connection is cut mid-download each stop the run with an
// error naming it; the channel is as it was (uploads of the run removed, the earlier
// package and repodata untouched, no lease, no temp file), and a re-run after the fault
// is fixed fetches only what is missing and completes.
func TestFaultsPublishNothing(t *testing.T) {
	faults := []struct {
		name  string
		fault mirrortest.Fault
		want  func(t *testing.T, err error, p mirrortest.Package)
	}{
		{"hash mismatch", mirrortest.Corrupt, func(t *testing.T, err error, p mirrortest.Package) {
			var hm *mirror.HashMismatchError
			if !errors.As(err, &hm) || hm.Algo != "sha256" || hm.Want != p.SHA256 || hm.Got == p.SHA256 {
				t.Fatalf("want a sha256 mismatch for %s, got %v", p.File, err)
			}
			for _, s := range []string{p.File, p.URL, p.SHA256, hm.Got} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("message does not name %q:\n%v", s, err)
				}
			}
		}},
		{"404", mirrortest.Missing, func(t *testing.T, err error, p mirrortest.Package) {
			var de *mirror.DownloadError
			if !errors.As(err, &de) || de.Status != 404 || de.Attempts != 1 {
				t.Fatalf("want one 404 for %s, got %v", p.File, err)
			}
		}},
		{"connection cut", mirrortest.Cut, func(t *testing.T, err error, p mirrortest.Package) {
			var de *mirror.DownloadError
			if !errors.As(err, &de) || de.Status != 0 || de.Attempts != 2 || de.Got == 0 || de.Got >= p.Size {
				t.Fatalf("want a cut download of %s after 2 attempts, got %#v: %v", p.File, de, err)
			}
		}},
	}
	for kind, open := range stores(t) {
		for _, f := range faults {
			t.Run(kind+"/"+f.name, func(t *testing.T) {
				up := mirrortest.New(t)
				store := open(t)
				ctx := context.Background()
				earlier := up.Find(t, "unrelated-9.9-0.conda")
				if _, err := publish.Publish(ctx, store, []string{earlier.Path}, publish.Options{Lease: fastLease}); err != nil {
					t.Fatal(err)
				}
				beforeObjs, beforeRepodata := snapshot(t, store)
				pkgs := readLock(t, up, mirrortest.ExplicitSHA256)
				bad := up.Find(t, pkgs[len(pkgs)-1].Filename)
				up.SetFault(bad.File, f.fault)
				cache := t.TempDir()
				src := mirror.FromUpstream(cache)
				src.Attempts, src.Backoff = 2, 10*time.Millisecond
				// One at a time: the packages before the bad one are uploaded first, so
				// the run must remove them.
				_, err := mirror.Mirror(ctx, store, pkgs, src, mirror.Options{Concurrency: 1, Lease: fastLease})
				var rb *mirror.RolledBackError
				if !errors.As(err, &rb) || rb.Removed == 0 || len(rb.Leftovers) > 0 {
					t.Fatalf("want a rolled-back run that removed its uploads, got %v", err)
				}
				f.want(t, err, bad)
				if !strings.Contains(err.Error(), bad.File) || !strings.Contains(err.Error(), "nothing of this run was published") {
					t.Errorf("message:\n%v", err)
				}
				afterObjs, afterRepodata := snapshot(t, store)
				if !equalMaps(beforeObjs, afterObjs) || !bytes.Equal(beforeRepodata, afterRepodata) {
					t.Errorf("the channel changed:\nbefore %v\nafter  %v", keys(beforeObjs), keys(afterObjs))
				}
				if _, err := store.Stat(ctx, channel.LockKey); !errors.Is(err, channel.ErrNotFound) {
					t.Errorf("lease left behind: %v", err)
				}
				assertNoPartFiles(t, cache)
				if problems, err := index.Check(ctx, store, true); err != nil || len(problems) > 0 {
					t.Fatalf("check: %v %v", err, problems)
				}

				up.SetFault(bad.File, mirrortest.OK)
				before := up.Requests()
				res, err := mirror.Mirror(ctx, store, pkgs, src, mirror.Options{Lease: fastLease})
				if err != nil {
					t.Fatal(err)
				}
				if n := up.Requests() - before; n != 1 {
					t.Errorf("the re-run sent %d requests upstream; only the failed package was missing", n)
				}
				if res.Uploaded != len(pkgs) {
					t.Errorf("uploaded %d, want %d", res.Uploaded, len(pkgs))
				}
				assertMirrored(t, store, up, earlier)
				if entries, _ := os.ReadDir(cache); len(entries) > 0 {
					t.Errorf("the cache keeps %d entries after everything was published", len(entries))
				}
			})
		}
	}
}

// TestConflictStopsBeforeFetching: a file in the channel with other bytes than the
// lock's is refused before anything is downloaded, as publish refuses it.
func TestConflictStopsBeforeFetching(t *testing.T) {
	up := mirrortest.New(t)
	dir := t.TempDir()
	store, err := channel.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	pkgs := readLock(t, up, mirrortest.CondaLock)
	p := pkgs[0]
	other := filepath.Join(t.TempDir(), p.Filename)
	os.WriteFile(other, []byte("not the upstream bytes"), 0o644)
	if _, err := store.PutFile(context.Background(), p.Subdir+"/"+p.Filename, other, channel.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = mirror.Mirror(context.Background(), store, pkgs, mirror.FromUpstream(t.TempDir()), mirror.Options{Lease: fastLease})
	var ce *publish.ConflictError
	if !errors.As(err, &ce) || ce.Key != p.Subdir+"/"+p.Filename {
		t.Fatalf("want a conflict on %s, got %v", p.Filename, err)
	}
	if up.Requests() != 0 {
		t.Errorf("%d downloads before the conflict was found", up.Requests())
	}
}

// TestPackResumes: a pack that fails on one package leaves a partial bundle; the re-run
// fetches only that package, and the bundle then mirrors everything with upstream gone.
func TestPackResumes(t *testing.T) {
	up := mirrortest.New(t)
	work := t.TempDir()
	lockPath := up.WriteLock(t, work, mirrortest.Pixi)
	plan, err := mirror.Prepare(context.Background(), mirror.Request{Locks: []string{lockPath}, Cache: filepath.Join(work, "cache")})
	if err != nil {
		t.Fatal(err)
	}
	bad := up.Find(t, plan.Packages[2].Filename)
	up.SetFault(bad.File, mirrortest.Missing)
	out := filepath.Join(work, "env.bundle")
	if _, err := mirror.Pack(context.Background(), out, plan.LockFiles, plan.Packages, plan.Source, mirror.Options{}); err == nil || !strings.Contains(err.Error(), bad.File) {
		t.Fatalf("want a failure naming %s, got %v", bad.File, err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an incomplete bundle took the final name: %v", err)
	}
	up.SetFault(bad.File, mirrortest.OK)
	before := up.Requests()
	res, err := mirror.Pack(context.Background(), out, plan.LockFiles, plan.Packages, plan.Source, mirror.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := up.Requests() - before; n != 1 || res.Added != 1 || res.Kept != len(plan.Packages)-1 {
		t.Errorf("resume sent %d requests, added %d, kept %d; want 1, 1, %d", n, res.Added, res.Kept, len(plan.Packages)-1)
	}
	up.Stop()
	fromBundle, err := mirror.Prepare(context.Background(), mirror.Request{From: out, Cache: filepath.Join(work, "cache")})
	if err != nil {
		t.Fatal(err)
	}
	defer fromBundle.Close()
	store, err := channel.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mirror.Mirror(context.Background(), store, fromBundle.Packages, fromBundle.Source, mirror.Options{Lease: fastLease}); err != nil {
		t.Fatal(err)
	}
	assertMirrored(t, store, up)
	assertNoPartFiles(t, filepath.Join(work, "cache"))
}

// assertMirrored checks the channel holds the locked packages (and extra), all indexed
// with the bytes upstream has.
func assertMirrored(t *testing.T, store channel.Store, up *mirrortest.Upstream, extra ...mirrortest.Package) {
	t.Helper()
	ctx := context.Background()
	if problems, err := index.Check(ctx, store, true); err != nil || len(problems) > 0 {
		t.Fatalf("check: %v %v", err, problems)
	}
	for _, p := range append(up.Locked(), extra...) {
		data, _, err := channel.ReadAll(ctx, store, p.Subdir+"/repodata.json")
		if err != nil {
			t.Fatal(err)
		}
		recs, err := index.ParseRepodata(data)
		if err != nil {
			t.Fatal(err)
		}
		rec, ok := recs[p.File]
		if !ok || rec["sha256"] != p.SHA256 || rec["name"] != p.Name || rec["build"] != p.Build {
			t.Errorf("%s: repodata has %v", p.Key(), rec)
		}
	}
}

func assertNoPartFiles(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && (strings.HasPrefix(d.Name(), ".part-") || strings.HasPrefix(d.Name(), "spool-")) {
			t.Errorf("left behind: %s", path)
		}
		return nil
	})
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestLostLeaseRemovesNothing: a run whose lease another process takes over stops, and
// removes none of its uploads: the new holder may already have indexed them, and a
// repodata that names a missing package would be worse than a lock published in part.
func TestLostLeaseRemovesNothing(t *testing.T) {
	up := mirrortest.New(t)
	for _, p := range up.Locked() {
		up.SetFault(p.File, mirrortest.Slow)
	}
	store, err := channel.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pkgs := readLock(t, up, mirrortest.CondaLock)
	first := pkgs[0].Subdir + "/" + pkgs[0].Filename
	done := make(chan error, 1)
	go func() {
		_, err := mirror.Mirror(ctx, store, pkgs, mirror.FromUpstream(t.TempDir()), mirror.Options{Concurrency: 1, Lease: channel.LeaseOptions{TTL: 900 * time.Millisecond, Poll: 50 * time.Millisecond}})
		done <- err
	}()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := store.Stat(ctx, first); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the mirror uploaded nothing")
		}
	}
	// Break it between two heartbeats (a heartbeat changes its ETag).
	for attempt := 0; ; attempt++ {
		lock, err := store.Stat(ctx, channel.LockKey)
		if err == nil {
			err = channel.BreakLease(ctx, store, lock.ETag)
		}
		if err == nil {
			break
		}
		if attempt == 20 {
			t.Fatal(err)
		}
	}
	other, err := channel.Acquire(ctx, store, channel.LeaseOptions{TTL: 10 * time.Second, Owner: channel.CurrentOwner("another publisher")})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Release(ctx)
	err = <-done
	var rb *mirror.RolledBackError
	if !errors.As(err, &rb) || !rb.LeaseLost || rb.Removed != 0 || len(rb.Leftovers) == 0 {
		t.Fatalf("want a run that lost its lease and kept its uploads, got %v", err)
	}
	for _, key := range rb.Leftovers {
		if _, err := store.Stat(ctx, key); err != nil {
			t.Errorf("%s was removed after the lease was lost: %v", key, err)
		}
	}
}
