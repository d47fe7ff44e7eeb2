package index

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/internal/testkit"
)

// clock is a settable time for index runs.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock                   { return &clock{time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)} }
func (c *clock) opts(o Options) Options  { o.Clock = c.now; return o }
func shardFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "linux-64", "shards", "*.msgpack.zst"))
	return m
}

func mustRun(t *testing.T, store channel.Store, o Options) *Result {
	t.Helper()
	res, err := Run(context.Background(), store, o)
	if err != nil {
		t.Fatal(err)
	}
	mustCheck(t, store)
	return res
}

func shardIndexOf(t *testing.T, dir, subdir string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, subdir, ShardIndexFile))
	if err != nil {
		t.Fatal(err)
	}
	info, shards, err := DecodeShardIndex(data)
	if err != nil {
		t.Fatal(err)
	}
	if info.Subdir != subdir || info.BaseURL != "./" || info.ShardsBaseURL != "./shards/" {
		t.Errorf("shard index info = %+v", info)
	}
	return shards
}

// TestShardsRewriteOnlyChangedNames checks that an incremental run renders and uploads
// the shard of the one name that changed, keeps the replaced shard for ShardGrace, and
// deletes it after.
func TestShardsRewriteOnlyChangedNames(t *testing.T) {
	store, dir, sub := newLocal(t)
	clk := newClock()
	for i := 0; i < 20; i++ {
		testkit.MakeConda(t, sub, testkit.PackageSpec{Name: fmt.Sprintf("tool%02d", i), Version: "1.0", Build: "0"})
	}
	res := mustRun(t, store, clk.opts(Options{}))
	if got := res.Subdirs[0].ShardsRendered; got != 20 {
		t.Errorf("first run rendered %d shards, want 20", got)
	}
	before := shardIndexOf(t, dir, "linux-64")

	clk.advance(time.Minute)
	testkit.MakeConda(t, sub, testkit.PackageSpec{Name: "tool07", Version: "2.0", Build: "0"})
	res = mustRun(t, store, clk.opts(Options{Quick: true}))
	sr := res.Subdirs[0]
	if sr.ShardsRendered != 1 || sr.ShardsWritten != 1 {
		t.Errorf("incremental run rendered %d and wrote %d shards, want 1 and 1", sr.ShardsRendered, sr.ShardsWritten)
	}
	after := shardIndexOf(t, dir, "linux-64")
	for name, h := range before {
		if (name == "tool07") == (after[name] == h) {
			t.Errorf("shard of %s: %s -> %s", name, h, after[name])
		}
	}
	if n := len(shardFiles(t, dir)); n != 21 {
		t.Errorf("%d shard files, want 21: the replaced one stays for clients mid-fetch", n)
	}

	clk.advance(ShardGrace - 2*time.Minute)
	mustRun(t, store, clk.opts(Options{}))
	if n := len(shardFiles(t, dir)); n != 21 {
		t.Errorf("%d shard files before the grace ran out, want 21", n)
	}
	clk.advance(2 * time.Minute)
	res = mustRun(t, store, clk.opts(Options{}))
	if n := len(shardFiles(t, dir)); n != 20 || len(res.Subdirs[0].DeletedShards) != 1 {
		t.Errorf("%d shard files and deleted %v after the grace, want 20 and the old tool07 shard", n, res.Subdirs[0].DeletedShards)
	}
	if _, err := os.Stat(filepath.Join(dir, "linux-64", "shards", before["tool07"]+".msgpack.zst")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the replaced shard is still there: %v", err)
	}
}

// TestOrphanShardsAndMissingShards: a shard no index names (an interrupted run) is
// deleted after the grace; a named shard deleted by hand is written again.
func TestOrphanShardsAndMissingShards(t *testing.T) {
	store, dir, sub := newLocal(t)
	clk := newClock()
	testkit.MakeConda(t, sub, testkit.PackageSpec{Name: "alpha", Version: "1.0", Build: "0"})
	mustRun(t, store, clk.opts(Options{}))
	orphan := filepath.Join(dir, "linux-64", "shards", strings.Repeat("ab", 32)+".msgpack.zst")
	testkit.WriteFile(t, filepath.Dir(orphan), filepath.Base(orphan), []byte("left by a run that died"))
	named := shardIndexOf(t, dir, "linux-64")["alpha"]
	os.Remove(filepath.Join(dir, "linux-64", "shards", named+".msgpack.zst"))

	res := mustRun(t, store, clk.opts(Options{}))
	if res.Subdirs[0].ShardsWritten != 1 {
		t.Errorf("the missing shard was not written again: %+v", res.Subdirs[0])
	}
	if _, err := os.Stat(orphan); err != nil {
		t.Errorf("the orphan went before its grace: %v", err)
	}
	clk.advance(ShardGrace)
	mustRun(t, store, clk.opts(Options{}))
	if _, err := os.Stat(orphan); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the orphan is still there after the grace: %v", err)
	}
}

// TestIndexedTimestampIsKept: CEP 47's indexed_timestamp is set by the first run that
// indexes a package and survives incremental runs, --full, and the loss of the state;
// other bytes under the same name are a new package.
func TestIndexedTimestampIsKept(t *testing.T) {
	store, dir, sub := newLocal(t)
	clk := newClock()
	testkit.MakeConda(t, sub, testkit.PackageSpec{Name: "alpha", Version: "1.0", Build: "0"})
	testkit.MakeConda(t, sub, testkit.PackageSpec{Name: "beta", Version: "1.0", Build: "0"})
	mustRun(t, store, clk.opts(Options{}))
	first := repodata(t, dir, "linux-64")
	stamp := func(recs map[string]Record, fn string) string { return fmt.Sprint(recs[fn][IndexedTimestampField]) }
	want := fmt.Sprint(clk.t.UnixMilli())
	for _, fn := range []string{"alpha-1.0-0.conda", "beta-1.0-0.conda"} {
		if got := stamp(first, fn); got != want {
			t.Fatalf("%s: indexed_timestamp %s, want %s", fn, got, want)
		}
	}
	steps := []struct {
		name string
		do   func()
		opts Options
	}{
		{"incremental 1", func() { testkit.MakeConda(t, sub, testkit.PackageSpec{Name: "gamma", Version: "1.0", Build: "0"}) }, Options{Quick: true}},
		{"incremental 2", func() { testkit.MakeConda(t, sub, testkit.PackageSpec{Name: "delta", Version: "1.0", Build: "0"}) }, Options{}},
		{"incremental 3", func() { os.Remove(filepath.Join(sub, "delta-1.0-0.conda")) }, Options{}},
		{"full", func() {}, Options{Full: true}},
		{"state deleted", func() { os.RemoveAll(filepath.Join(dir, ".condachan", "index")) }, Options{}},
	}
	for _, s := range steps {
		clk.advance(time.Hour)
		s.do()
		mustRun(t, store, clk.opts(s.opts))
		recs := repodata(t, dir, "linux-64")
		for _, fn := range []string{"alpha-1.0-0.conda", "beta-1.0-0.conda"} {
			if got := stamp(recs, fn); got != want {
				t.Errorf("after %s: %s indexed_timestamp %s, want %s", s.name, fn, got, want)
			}
		}
		if g := stamp(recs, "gamma-1.0-0.conda"); g == want || g == "<nil>" {
			t.Errorf("after %s: gamma indexed_timestamp %s", s.name, g)
		}
	}
	// Other bytes under alpha's name: indexed anew.
	clk.advance(time.Hour)
	testkit.MakeConda(t, sub, testkit.PackageSpec{Name: "alpha", Version: "1.0", Build: "0", Extra: map[string]any{"license": "BSD"}})
	mustRun(t, store, clk.opts(Options{}))
	if got := stamp(repodata(t, dir, "linux-64"), "alpha-1.0-0.conda"); got != fmt.Sprint(clk.t.UnixMilli()) {
		t.Errorf("replaced alpha keeps indexed_timestamp %s", got)
	}
}

// TestFutureTimestampIsReported: a package built by a machine whose clock runs ahead.
func TestFutureTimestampIsReported(t *testing.T) {
	store, _, sub := newLocal(t)
	clk := newClock()
	testkit.MakeConda(t, sub, testkit.PackageSpec{Name: "ahead", Version: "1.0", Build: "0", Time: clk.t.Add(48 * time.Hour)})
	res := mustRun(t, store, clk.opts(Options{}))
	if w := strings.Join(res.Subdirs[0].Warnings, "\n"); !strings.Contains(w, "ahead-1.0-0.conda: its timestamp 2026-11-03T12:00:00Z lies in the future") {
		t.Errorf("warnings: %s", w)
	}
}

// TestRunExportsJSON follows CEP 12: every package, {} when it exports nothing.
func TestRunExportsJSON(t *testing.T) {
	store, dir, sub := newLocal(t)
	testkit.MakeConda(t, sub, testkit.PackageSpec{Name: "libfoo", Version: "1.2", Build: "0", RunExports: map[string]any{"weak": []any{"libfoo >=1.2,<2.0a0"}}})
	testkit.MakeConda(t, sub, testkit.PackageSpec{Name: "app", Version: "1.0", Build: "0"})
	mustRun(t, store, Options{})
	data, err := os.ReadFile(filepath.Join(dir, "linux-64", RunExportsJSON))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"info":{"subdir":"linux-64","version":1},"packages":{},"packages.conda":{"app-1.0-0.conda":{"run_exports":{}},"libfoo-1.2-0.conda":{"run_exports":{"weak":["libfoo >=1.2,<2.0a0"]}}}}`
	if string(data) != want {
		t.Errorf("run_exports.json:\n%s\nwant:\n%s", data, want)
	}
}

// TestPatchInstructions applies patch_instructions.json as conda-index does: overrides
// (a .tar.bz2 fix reaching its .conda twin, null deleting), remove and revoke; the shards
// hold the patched records, repodata_from_packages.json the packages' own.
func TestPatchInstructions(t *testing.T) {
	store, dir, sub := newLocal(t)
	for _, n := range []string{"fixme", "bad", "leaky", "fine"} {
		testkit.MakeConda(t, sub, testkit.PackageSpec{Name: n, Version: "1.0", Build: "0", Extra: map[string]any{"depends": []string{"python"}, "license_family": "MIT"}})
	}
	mustRun(t, store, Options{})
	patch := `{"patch_instructions_version": 1,
  "packages": {"fixme-1.0-0.tar.bz2": {"depends": ["python >=3.10"], "license_family": null}},
  "packages.conda": {"fine-1.0-0.conda": {"license": "Apache-2.0"}, "nosuch-1.0-0.conda": {"license": "MIT"}},
  "remove": ["bad-1.0-0.conda"],
  "revoke": ["leaky-1.0-0.tar.bz2"]}`
	testkit.WriteFile(t, sub, PatchInstructions, []byte(patch))
	res := mustRun(t, store, Options{})
	// A fix of fixme's .tar.bz2 reaches its .conda twin; nosuch is a typo.
	if w := strings.Join(res.Subdirs[0].Warnings, "\n"); w != "patch_instructions.json: packages.conda names nosuch-1.0-0.conda, which is not in linux-64" {
		t.Errorf("warnings: %s", w)
	}
	recs := repodata(t, dir, "linux-64")
	if d := fmt.Sprint(recs["fixme-1.0-0.conda"]["depends"]); d != "[python >=3.10]" {
		t.Errorf("fixme depends %s", d)
	}
	if _, ok := recs["fixme-1.0-0.conda"]["license_family"]; ok {
		t.Error("null did not delete license_family")
	}
	if recs["fine-1.0-0.conda"]["license"] != "Apache-2.0" {
		t.Errorf("fine license %v", recs["fine-1.0-0.conda"]["license"])
	}
	if _, ok := recs["bad-1.0-0.conda"]; ok {
		t.Error("removed package still in repodata")
	}
	if leaky := recs["leaky-1.0-0.conda"]; leaky["revoked"] != true || fmt.Sprint(leaky["depends"]) != "[python package_has_been_revoked]" {
		t.Errorf("revoked record %v", leaky)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "linux-64", RepodataJSON))
	var doc struct {
		Removed []string `json:"removed"`
	}
	json.Unmarshal(raw, &doc)
	if fmt.Sprint(doc.Removed) != "[bad-1.0-0.conda]" {
		t.Errorf("removed = %v", doc.Removed)
	}
	unpatched, err := os.ReadFile(filepath.Join(dir, "linux-64", RepodataFromPkgs))
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := ParseRepodata(unpatched)
	if len(orig) != 4 || fmt.Sprint(orig["fixme-1.0-0.conda"]["depends"]) != "[python]" {
		t.Errorf("repodata_from_packages.json is patched: %v", orig["fixme-1.0-0.conda"])
	}
	// The shard of bad lists it as removed, with no records.
	shards := shardIndexOf(t, dir, "linux-64")
	data, _ := os.ReadFile(filepath.Join(dir, "linux-64", "shards", shards["bad"]+".msgpack.zst"))
	s, err := DecodeShard(data, shards["bad"])
	if err != nil || len(s.PackagesConda) != 0 || fmt.Sprint(s.Removed) != "[bad-1.0-0.conda]" {
		t.Errorf("shard of bad: %+v %v", s, err)
	}

	// A broken file stops the index rather than silently un-removing bad.
	testkit.WriteFile(t, sub, PatchInstructions, []byte(`{"patch_instructions_version": 1, "remove": "bad-1.0-0.conda"}`))
	_, err = Run(context.Background(), store, Options{})
	var pe *PatchError
	if !errors.As(err, &pe) || !pe.Stored || !strings.Contains(err.Error(), "linux-64/patch_instructions.json") || !strings.Contains(err.Error(), "to index this subdir again") {
		t.Errorf("broken patch instructions: %v", err)
	}
	// Given to be stored, the same document is refused without that advice.
	if _, err := ParsePatches([]byte(`{"patch_instructions_version": 1, "remove": "bad-1.0-0.conda"}`), "fix.json"); !errors.As(err, &pe) || pe.Stored || strings.Contains(err.Error(), "subdir") {
		t.Errorf("instructions given: %v", err)
	}
	os.Remove(filepath.Join(sub, PatchInstructions))
	mustRun(t, store, Options{})
	if len(repodata(t, dir, "linux-64")) != 4 {
		t.Error("without instructions every package is back")
	}
}

func TestParsePatchesRefuses(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{`{"patch_instructions_version": 2}`, "patch_instructions_version is 2"},
		{`{"patch_instructions_version": 1, "packagez": {}}`, "unknown field"},
		{`{"patch_instructions_version": 1, "packages": {"x-1-0.conda": {}}}`, "belongs under packages.conda"},
		{`{"patch_instructions_version": 1, "packages.conda": {"x-1-0.conda": {"sha256": "00"}}}`, `"sha256" describes the file itself`},
		{`{"patch_instructions_version": 1, "remove": ["../x-1-0.conda"]}`, "not a package file name"},
		{`{"patch_instructions_version": 1} {}`, "more than one JSON document"},
		{`[]`, "not patch instructions"},
	} {
		_, err := ParsePatches([]byte(tc.doc), "p.json")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "p.json: ") {
			t.Errorf("%s: %v, want %q", tc.doc, err, tc.want)
		}
	}
}

// TestNoShardsIsRemembered: --no-shards removes the shard index and stays off for later
// (publish) runs until --shards.
func TestNoShardsIsRemembered(t *testing.T) {
	store, dir, sub := newLocal(t)
	clk := newClock()
	testkit.MakeConda(t, sub, testkit.PackageSpec{Name: "alpha", Version: "1.0", Build: "0"})
	mustRun(t, store, clk.opts(Options{}))
	mustRun(t, store, clk.opts(Options{Shards: ShardsOff}))
	if _, err := os.Stat(filepath.Join(dir, "linux-64", ShardIndexFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("shard index still there: %v", err)
	}
	testkit.MakeConda(t, sub, testkit.PackageSpec{Name: "beta", Version: "1.0", Build: "0"})
	res := mustRun(t, store, clk.opts(Options{Quick: true, Subdirs: []string{"linux-64"}}))
	if _, err := os.Stat(filepath.Join(dir, "linux-64", ShardIndexFile)); !errors.Is(err, os.ErrNotExist) || res.Subdirs[0].ShardsRendered != 0 {
		t.Fatalf("a later run wrote shards again: %v %+v", err, res.Subdirs[0])
	}
	covered, err := Covered(context.Background(), store, "linux-64", map[string]string{})
	if err != nil || !covered {
		t.Errorf("Covered without shards = %v, %v", covered, err)
	}
	clk.advance(ShardGrace)
	mustRun(t, store, clk.opts(Options{}))
	if n := len(shardFiles(t, dir)); n != 0 {
		t.Errorf("%d shards left after the grace", n)
	}
	mustRun(t, store, clk.opts(Options{Shards: ShardsOn}))
	if got := len(shardIndexOf(t, dir, "linux-64")); got != 2 {
		t.Errorf("--shards: %d names in the shard index", got)
	}
}

// TestIndexSubdirDoesNotCreate: index --subdir of a subdir the channel lacks.
func TestIndexSubdirDoesNotCreate(t *testing.T) {
	store, dir, sub := newLocal(t)
	testkit.MakeConda(t, sub, testkit.PackageSpec{Name: "alpha", Version: "1.0", Build: "0"})
	mustRun(t, store, Options{})
	_, err := Run(context.Background(), store, Options{Subdirs: []string{"win-64"}})
	var ns *NoSuchSubdirError
	if !errors.As(err, &ns) || fmt.Sprint(ns.Have) != "[linux-64 noarch]" {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "win-64")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("win-64 was created: %v", err)
	}
}

// TestUnreadableIsNotAdded: a broken file is reported as unreadable only.
func TestUnreadableIsNotAdded(t *testing.T) {
	store, _, sub := newLocal(t)
	testkit.WriteFile(t, sub, "broken-1.0-0.conda", []byte("not a zip"))
	res := mustRun(t, store, Options{})
	sr := res.Subdirs[0]
	if len(sr.Added) != 0 || len(sr.Unreadable) != 1 || sr.Unreadable[0].File != "broken-1.0-0.conda" {
		t.Errorf("added %v, unreadable %+v", sr.Added, sr.Unreadable)
	}
}

// TestUnreadableSpecsAreReported: a hand-uploaded package whose depends rattler cannot
// read (rattler 0.3.5 panics on a channel-qualified spec) is reported.
func TestUnreadableSpecsAreReported(t *testing.T) {
	store, _, sub := newLocal(t)
	testkit.MakeConda(t, sub, testkit.PackageSpec{Name: "app", Version: "1.0", Build: "0", Extra: map[string]any{
		"depends": []string{"studio-tools >=2.1", "somechannel::studio-tools"}, "constrains": []string{"x[md5=abc]"}}})
	res := mustRun(t, store, Options{})
	w := strings.Join(res.Subdirs[0].Warnings, "\n")
	for _, want := range []string{"app-1.0-0.conda: depends[1]: match spec \"somechannel::studio-tools\"", "app-1.0-0.conda: constrains[0]: match spec \"x[md5=abc]\""} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}
	if strings.Contains(w, "depends[0]") {
		t.Errorf("a canonical spec is reported:\n%s", w)
	}
}
