package index

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/internal/testkit"
)

// newLocal makes a local channel with an empty linux-64 subdir: the store, the channel
// folder and the subdir's folder.
func newLocal(t *testing.T) (*channel.Local, string, string) {
	t.Helper()
	dir := t.TempDir()
	st, err := channel.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "linux-64")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	return st, dir, sub
}

func mustCheck(t *testing.T, store channel.Store) {
	t.Helper()
	problems, err := Check(context.Background(), store, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) > 0 {
		t.Fatalf("channel invariants broken:\n%s", strings.Join(problems, "\n"))
	}
}

func repodata(t *testing.T, dir, subdir string) map[string]Record {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, subdir, "repodata.json"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := ParseRepodata(data)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestIndexDetectsNewReplacedAndDeletedPackages(t *testing.T) {
	ctx := context.Background()
	store, dir, sub := newLocal(t)
	a := testkit.MakeConda(t, sub, testkit.PackageSpec{Name: "alpha", Version: "1.0", Build: "0"})
	testkit.MakeConda(t, sub, testkit.PackageSpec{Name: "beta", Version: "2.0", Build: "0"})
	res, err := Run(ctx, store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustCheck(t, store)
	if got := len(repodata(t, dir, "linux-64")); got != 2 {
		t.Fatalf("%d records", got)
	}
	if res.Subdirs[0].Subdir != "linux-64" || len(res.Subdirs[0].Added) != 2 {
		t.Errorf("result %+v", res.Subdirs)
	}
	if _, err := os.Stat(filepath.Join(dir, "noarch", "repodata.json")); err != nil {
		t.Error("noarch/repodata.json missing")
	}

	// Nothing changed: nothing is read or written.
	res, err = Run(ctx, store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, sd := range res.Subdirs {
		if sd.Read != 0 || len(sd.Wrote) != 0 {
			t.Errorf("no-op run read %d and wrote %v in %s", sd.Read, sd.Wrote, sd.Subdir)
		}
	}

	// Replace alpha with different bytes under the same name, add gamma, delete beta.
	os.Remove(a)
	testkit.MakeConda(t, sub, testkit.PackageSpec{Name: "alpha", Version: "1.0", Build: "0", Extra: map[string]any{"depends": []string{"zlib"}}})
	testkit.MakeConda(t, sub, testkit.PackageSpec{Name: "gamma", Version: "3.0", Build: "1"})
	os.Remove(filepath.Join(sub, "beta-2.0-0.conda"))
	res, err = Run(ctx, store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustCheck(t, store)
	sr := res.Subdirs[0]
	if strings.Join(sr.Added, ",") != "gamma-3.0-1.conda" || strings.Join(sr.Replaced, ",") != "alpha-1.0-0.conda" || strings.Join(sr.Removed, ",") != "beta-2.0-0.conda" {
		t.Errorf("added %v replaced %v removed %v", sr.Added, sr.Replaced, sr.Removed)
	}
	recs := repodata(t, dir, "linux-64")
	if deps, _ := recs["alpha-1.0-0.conda"]["depends"].([]any); len(deps) != 1 || deps[0] != "zlib" {
		t.Errorf("replaced package's record not updated: %v", recs["alpha-1.0-0.conda"])
	}
	if _, ok := recs["beta-2.0-0.conda"]; ok {
		t.Error("deleted package still indexed")
	}
}

func TestIndexSkipsAndReportsBadFiles(t *testing.T) {
	ctx := context.Background()
	store, dir, sub := newLocal(t)
	testkit.MakeConda(t, sub, testkit.PackageSpec{Name: "good", Version: "1.0", Build: "0"})
	testkit.WriteFile(t, sub, "notes.txt", []byte("not a package"))
	testkit.WriteFile(t, sub, "broken-1.0-0.conda", []byte("PK\x03\x04 definitely not a zip"))
	bad := testkit.MakeConda(t, t.TempDir(), testkit.PackageSpec{Name: "noindex", Version: "1.0", Build: "0", IndexJSON: []byte("{not json")})
	data, _ := os.ReadFile(bad)
	testkit.WriteFile(t, sub, "noindex-1.0-0.conda", data)
	testkit.WriteFile(t, sub, "truncated-1.0-0.conda", data[:len(data)/2])
	res, err := Run(ctx, store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustCheck(t, store)
	var bad3 []string
	for _, p := range res.Subdirs[0].Unreadable {
		bad3 = append(bad3, p.File)
	}
	if strings.Join(bad3, ",") != "broken-1.0-0.conda,noindex-1.0-0.conda,truncated-1.0-0.conda" {
		t.Errorf("unreadable: %+v", res.Subdirs[0].Unreadable)
	}
	if recs := repodata(t, dir, "linux-64"); len(recs) != 1 {
		t.Errorf("records %v", recs)
	}
	// They are reported again, without being read again.
	res, err = Run(ctx, store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Subdirs[0].Unreadable) != 3 || res.Subdirs[0].Read != 0 {
		t.Errorf("second run: %+v", res.Subdirs[0])
	}
}

func TestCorruptRepodataNeedsFull(t *testing.T) {
	ctx := context.Background()
	store, dir, sub := newLocal(t)
	testkit.MakeConda(t, sub, testkit.PackageSpec{Name: "good", Version: "1.0", Build: "0"})
	if _, err := Run(ctx, store, Options{}); err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, sub, "repodata.json", []byte(`{"info": {"subdir": "linux-64"}, "packages.conda": {"trunc`))
	testkit.MakeConda(t, sub, testkit.PackageSpec{Name: "other", Version: "1.0", Build: "0"})
	_, err := Run(ctx, store, Options{})
	var cre *CorruptRepodataError
	if !errors.As(err, &cre) || cre.Remedy != RemedyFullReindex || strings.Contains(err.Error(), "--") {
		t.Fatalf("error %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(sub, "repodata.json")); !strings.Contains(string(data), "trunc") {
		t.Error("corrupt repodata.json was replaced without --full")
	}
	if _, err := Run(ctx, store, Options{Full: true}); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, store)
	if len(repodata(t, dir, "linux-64")) != 2 {
		t.Error("--full did not rebuild from the packages")
	}
}

func TestRecordFieldsFollowCondaIndex(t *testing.T) {
	ctx := context.Background()
	store, _, sub := newLocal(t)
	idx := []byte(`{"name": "odd", "version": "1.0", "build": "h1_0", "build_number": 0, "arch": "x86_64", "platform": "linux",
	  "has_prefix": true, "ucs": 4, "depends": ["python >=3.10,<3.12", "qux[version='>=1']"], "constrains": [],
	  "license": "caf\u00e9 \u2615 <b>&amp;</b>", "license_family": null, "float": 1E3, "float2": 1.10, "big": 123456789012345678901234567890,
	  "timestamp": 1700000000, "track_features": "", "nested": {"b": 1, "a": [true, null]}, "subdir": "linux-64"}`)
	testkit.MakeConda(t, sub, testkit.PackageSpec{Name: "odd", Version: "1.0", Build: "h1_0", IndexJSON: idx})
	if _, err := Run(ctx, store, Options{}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(sub, "repodata.json"))
	s := string(data)
	for _, want := range []string{
		`"license":"caf\u00e9 \u2615 <b>&amp;</b>"`, `"license_family":null`, `"constrains":[]`, `"float":1000.0`, `"float2":1.1`,
		`"big":123456789012345678901234567890`, `"nested":{"a":[true,null],"b":1}`, `"timestamp":1700000000`, `"track_features":""`,
		`{"info":{"subdir":"linux-64"},"packages":{},"packages.conda":{"odd-1.0-h1_0.conda":{"big"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("repodata lacks %s:\n%s", want, s)
		}
	}
	for _, gone := range []string{`"arch"`, `"platform"`, `"has_prefix"`, `"ucs"`} {
		if strings.Contains(s, gone) {
			t.Errorf("repodata keeps %s", gone)
		}
	}
	if strings.HasSuffix(s, "\n") || !strings.HasSuffix(s, `"removed":[],"repodata_version":1}`) {
		t.Errorf("repodata ends with %q", s[len(s)-40:])
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
}

// A publish trusts the state about the output files; a hand edit makes its write fail
// and the run falls back to looking, which finds the broken file.
func TestQuickRunNoticesHandEdits(t *testing.T) {
	ctx := context.Background()
	store, _, sub := newLocal(t)
	testkit.MakeConda(t, sub, testkit.PackageSpec{Name: "good", Version: "1.0", Build: "0"})
	if _, err := Run(ctx, store, Options{Quick: true}); err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, sub, "repodata.json", []byte(`{"broken`))
	testkit.MakeConda(t, sub, testkit.PackageSpec{Name: "other", Version: "1.0", Build: "0"})
	_, err := Run(ctx, store, Options{Quick: true})
	var cre *CorruptRepodataError
	if !errors.As(err, &cre) {
		t.Fatalf("quick run over a broken repodata.json: %v", err)
	}
}

// flakyStore wraps a store and lets a test break single operations.
type flakyStore struct {
	channel.Store
	failRead func(key string) error // consulted by ReadRange, Get and Stat of packages
	// loseResponse, when it returns true for a key, makes Put write the object and then
	// report ErrPreconditionFailed, as a retried request does when its first response
	// was lost.
	loseResponse func(key string) bool
	puts         map[string]int
}

func (f *flakyStore) ReadRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	if f.failRead != nil {
		if err := f.failRead(key); err != nil {
			return nil, err
		}
	}
	return f.Store.ReadRange(ctx, key, off, n)
}

func (f *flakyStore) Stat(ctx context.Context, key string) (channel.Object, error) {
	if f.failRead != nil && IsPackage(key) {
		if err := f.failRead(key); err != nil {
			return channel.Object{}, err
		}
	}
	return f.Store.Stat(ctx, key)
}

func (f *flakyStore) Put(ctx context.Context, key string, body io.Reader, size int64, opts channel.PutOptions) (channel.Object, error) {
	if f.puts == nil {
		f.puts = map[string]int{}
	}
	f.puts[key]++
	obj, err := f.Store.Put(ctx, key, body, size, opts)
	if err == nil && f.loseResponse != nil && f.loseResponse(key) {
		return channel.Object{}, fmt.Errorf("put %s: %w", key, channel.ErrPreconditionFailed)
	}
	return obj, err
}

// A package that fails to read because of the storage (not because of its bytes) is
// reported, left out of this run and read again by the next one, never remembered as
// unreadable.
func TestStorageErrorsAreNotRememberedAsUnreadable(t *testing.T) {
	ctx := context.Background()
	local, dir, sub := newLocal(t)
	testkit.MakeConda(t, sub, testkit.PackageSpec{Name: "good", Version: "1.0", Build: "0"})
	testkit.MakeConda(t, sub, testkit.PackageSpec{Name: "flaky", Version: "1.0", Build: "0"})
	testkit.WriteFile(t, sub, "broken-1.0-0.conda", []byte("not a zip"))
	broken := true
	store := &flakyStore{Store: local, failRead: func(key string) error {
		if broken && strings.Contains(key, "flaky") {
			return errors.New("read: connection reset by peer")
		}
		return nil
	}}
	res, err := Run(ctx, store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	problems := map[string]Problem{}
	for _, p := range res.Subdirs[0].Unreadable {
		problems[p.File] = p
	}
	if p, ok := problems["flaky-1.0-0.conda"]; !ok || !p.Retry || !strings.Contains(p.Error, "connection reset") {
		t.Errorf("flaky package: %+v", p)
	}
	if p, ok := problems["broken-1.0-0.conda"]; !ok || p.Retry {
		t.Errorf("broken package: %+v", p)
	}
	if got := repodata(t, dir, "linux-64"); len(got) != 1 {
		t.Fatalf("repodata has %d records, want the good one", len(got))
	}
	if res.Indexed("linux-64/flaky-1.0-0.conda", "") {
		t.Error("Indexed says yes for a package left out")
	}

	broken = false
	res, err = Run(ctx, store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sr := res.Subdirs[0]
	if sr.Read != 1 || len(sr.Added) != 1 || sr.Added[0] != "flaky-1.0-0.conda" {
		t.Errorf("second run read %d, added %v; want the flaky package read again", sr.Read, sr.Added)
	}
	if len(sr.Unreadable) != 1 || sr.Unreadable[0].File != "broken-1.0-0.conda" {
		t.Errorf("second run unreadable: %+v", sr.Unreadable)
	}
	if got := repodata(t, dir, "linux-64"); len(got) != 2 {
		t.Fatalf("repodata has %d records after the storage recovered", len(got))
	}
	st, err := local.Stat(ctx, "linux-64/flaky-1.0-0.conda")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Indexed("linux-64/flaky-1.0-0.conda", st.ETag) {
		t.Error("Indexed says no for a package in the repodata")
	}
	mustCheck(t, local)
}

// A quick run has not looked at the output files; one deleted by hand must not be taken
// for unchanged.
func TestQuickRunRewritesDeletedOutputs(t *testing.T) {
	ctx := context.Background()
	store, _, sub := newLocal(t)
	testkit.MakeConda(t, sub, testkit.PackageSpec{Name: "good", Version: "1.0", Build: "0"})
	if _, err := Run(ctx, store, Options{Quick: true}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"repodata.json.zst", "index.html"} {
		if err := os.Remove(filepath.Join(sub, f)); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing new among the packages: only the missing files need the run.
	if _, err := Run(ctx, store, Options{Quick: true}); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, store)
	for _, f := range []string{"repodata.json.zst", "index.html"} {
		if _, err := os.Stat(filepath.Join(sub, f)); err != nil {
			t.Errorf("%s not rewritten: %v", f, err)
		}
	}
}

// A write whose response is lost and whose retry is refused by the write itself is
// recognised as ours: the run succeeds and the channel is whole.
func TestLostWriteResponsesAreRecognised(t *testing.T) {
	ctx := context.Background()
	local, _, sub := newLocal(t)
	testkit.MakeConda(t, sub, testkit.PackageSpec{Name: "good", Version: "1.0", Build: "0"})
	for _, quick := range []bool{false, true} {
		// Every kind of file the index writes loses its first response once.
		lost := map[string]bool{}
		store := &flakyStore{Store: local, loseResponse: func(key string) bool {
			if lost[key] {
				return false
			}
			lost[key] = true
			return true
		}}
		testkit.MakeConda(t, sub, testkit.PackageSpec{Name: fmt.Sprint("more", quick), Version: "1.0", Build: "0"})
		if _, err := Run(ctx, store, Options{Quick: quick}); err != nil {
			t.Fatalf("quick=%v: %v", quick, err)
		}
		for _, key := range []string{"linux-64/repodata.json", "linux-64/repodata.json.zst", "channeldata.json", stateKey("linux-64")} {
			if !lost[key] {
				t.Errorf("quick=%v: %s was never written", quick, key)
			}
		}
		mustCheck(t, local)
	}
}
