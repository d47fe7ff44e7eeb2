package channel_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/internal/testkit"
)

// Both backends offer the capability.
var _ channel.Sweeper = (*channel.Local)(nil)

func leftoverKeys(los []channel.Leftover) []string {
	var keys []string
	for _, lo := range los {
		keys = append(keys, lo.Key)
	}
	return keys
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// A folder channel: only temp files of Local.Put (".<name>.tmp-*") older than the age go,
// wherever they are, .condachan/ included; packages, other dot-files and folders stay.
func TestLocalSweepRemovesOnlyOldTempFiles(t *testing.T) {
	dir := t.TempDir()
	st, err := channel.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const old, young = 3 * time.Hour, time.Minute
	// A package put the normal way, and its temp-file twin left by a killed writer.
	if _, err := st.Put(ctx, "linux-64/app-1.0-0.conda", strings.NewReader("pkg"), 3, channel.PutOptions{IfAbsent: true}); err != nil {
		t.Fatal(err)
	}
	oldTemps := map[string]string{ // key -> content
		"linux-64/.app-2.0-0.conda.tmp-1234":  "half a package",
		".condachan/.lock.json.tmp-99":        "{",
		"noarch/.repodata.json.tmp-5":         "[",
		"some/deep/folder/.x.conda.tmp-77777": "x",
	}
	for k, c := range oldTemps {
		testkit.WriteAged(t, dir, k, c, old)
	}
	youngTemp := testkit.WriteAged(t, dir, "linux-64/.app-3.0-0.conda.tmp-42", "being written", young)
	kept := []string{
		testkit.WriteAged(t, dir, "linux-64/old-1.0-0.conda", "an old package", old),
		testkit.WriteAged(t, dir, "noarch/.hidden", "a dot-file", old),
		testkit.WriteAged(t, dir, "linux-64/notes.tmp-1", "not a dot-file", old),
		testkit.WriteAged(t, dir, ".condachan/store.lock", "", old),
		filepath.Join(dir, "linux-64", "app-1.0-0.conda"),
	}
	// A folder with a temp name is no temp file.
	tmpDir := filepath.Join(dir, "linux-64", ".dir.tmp-1")
	if err := os.Mkdir(tmpDir, 0o755); err != nil {
		t.Fatal(err)
	}
	kept = append(kept, tmpDir)
	// A linked folder belongs elsewhere: its temp files are not the channel's.
	outside := t.TempDir()
	outsideTemp := testkit.WriteAged(t, outside, ".y.conda.tmp-1", "y", old)
	if runtime.GOOS != "windows" {
		if err := os.Symlink(outside, filepath.Join(dir, "linked")); err != nil {
			t.Fatal(err)
		}
	}
	kept = append(kept, outsideTemp)

	wantOld := make([]string, 0, len(oldTemps))
	for k := range oldTemps {
		wantOld = append(wantOld, k)
	}
	slices.Sort(wantOld)

	found, err := st.Leftovers(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got := leftoverKeys(found); !slices.Equal(got, wantOld) {
		t.Fatalf("Leftovers(1h) = %q, want %q", got, wantOld)
	}
	for _, lo := range found {
		if lo.Kind != channel.LeftoverTempFile || lo.UploadID != "" || lo.Size != int64(len(oldTemps[lo.Key])) || time.Since(lo.Since) < old-time.Minute {
			t.Errorf("leftover %+v", lo)
		}
	}
	for k := range oldTemps {
		if !exists(filepath.Join(dir, filepath.FromSlash(k))) {
			t.Errorf("Leftovers removed %s", k)
		}
	}

	removed, err := st.Sweep(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got := leftoverKeys(removed); !slices.Equal(got, wantOld) {
		t.Errorf("Sweep(1h) removed %q, want %q", got, wantOld)
	}
	for k := range oldTemps {
		if exists(filepath.Join(dir, filepath.FromSlash(k))) {
			t.Errorf("%s still there after Sweep", k)
		}
	}
	for _, p := range append(kept, youngTemp) {
		if !exists(p) {
			t.Errorf("Sweep(1h) removed %s", p)
		}
	}
	if removed, err := st.Sweep(ctx, time.Hour); err != nil || len(removed) != 0 {
		t.Errorf("second Sweep: %q, %v", leftoverKeys(removed), err)
	}

	// Age 0: the young temp file too, and still nothing else.
	removed, err = st.Sweep(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := leftoverKeys(removed); !slices.Equal(got, []string{"linux-64/.app-3.0-0.conda.tmp-42"}) {
		t.Errorf("Sweep(0) removed %q", got)
	}
	for _, p := range kept {
		if !exists(p) {
			t.Errorf("Sweep(0) removed %s", p)
		}
	}
	var listed []string
	if err := st.List(ctx, "", func(o channel.Object) error { listed = append(listed, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"linux-64/app-1.0-0.conda", "linux-64/old-1.0-0.conda"} {
		if !slices.Contains(listed, k) {
			t.Errorf("%s no longer listed: %q", k, listed)
		}
	}
}

// SweepStale, what index runs call, keeps temp files younger than TempFileSweepAge.
func TestLocalSweepStale(t *testing.T) {
	dir := t.TempDir()
	st, err := channel.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	oldTemp := testkit.WriteAged(t, dir, "linux-64/.a.conda.tmp-1", "a", channel.TempFileSweepAge+time.Minute)
	youngTemp := testkit.WriteAged(t, dir, "linux-64/.b.conda.tmp-2", "b", channel.TempFileSweepAge-10*time.Minute)
	removed, err := channel.SweepStale(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	if got := leftoverKeys(removed); !slices.Equal(got, []string{"linux-64/.a.conda.tmp-1"}) {
		t.Errorf("SweepStale removed %q", got)
	}
	if exists(oldTemp) || !exists(youngTemp) {
		t.Errorf("after SweepStale: old there %v, young there %v", exists(oldTemp), exists(youngTemp))
	}
	// Nothing old enough: nothing removed.
	if removed, err := channel.SweepStale(context.Background(), st); err != nil || len(removed) != 0 {
		t.Errorf("second SweepStale: %q, %v", leftoverKeys(removed), err)
	}
	// A store that cannot sweep has nothing to sweep.
	if removed, err := channel.SweepStale(context.Background(), struct{ channel.Store }{st}); err != nil || removed != nil {
		t.Errorf("SweepStale of a plain Store: %q, %v", leftoverKeys(removed), err)
	}
}

// Sweeps racing each other (two index runs on machines sharing the folder) each remove a
// part, and neither fails on the files the other removed.
func TestLocalSweepToleratesVanishingFiles(t *testing.T) {
	dir := t.TempDir()
	st, err := channel.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := range n {
		testkit.WriteAged(t, dir, fmt.Sprintf("linux-64/.p%d.conda.tmp-%d", i%7, i), "x", 2*time.Hour)
	}
	var wg sync.WaitGroup
	results := make([][]channel.Leftover, 4)
	errs := make([]error, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = st.Sweep(context.Background(), time.Hour)
		}()
	}
	wg.Wait()
	total := 0
	seen := map[string]bool{}
	for i := range results {
		if errs[i] != nil {
			t.Errorf("sweep %d: %v", i, errs[i])
		}
		for _, lo := range results[i] {
			if seen[lo.Key] {
				t.Errorf("%s reported removed twice", lo.Key)
			}
			seen[lo.Key] = true
			total++
		}
	}
	if total != n {
		t.Errorf("%d removed in all, want %d", total, n)
	}
	if left, err := st.Leftovers(context.Background(), 0); err != nil || len(left) != 0 {
		t.Errorf("left: %q, %v", leftoverKeys(left), err)
	}
}
