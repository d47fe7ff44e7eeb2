package publish

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/index"
	"github.com/condachan/condachan/internal/testkit"
)

// channelFiles reads every output of a local channel's index: the files, and the shards
// the shard indexes name (a replaced shard stays for index.ShardGrace, named by none).
func channelFiles(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(p, "/.condachan/") || strings.Contains(p, "/shards/") || index.IsPackage(p) {
			return nil
		}
		data, _ := os.ReadFile(p)
		b.Write(data)
		if filepath.Base(p) != index.ShardIndexFile {
			return nil
		}
		_, shards, err := index.DecodeShardIndex(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range shards {
			raw, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "shards", h+".msgpack.zst"))
			s, err := index.DecodeShard(raw, h)
			if err != nil {
				t.Fatal(err)
			}
			for fn := range s.PackagesConda {
				b.WriteString(fn + "\n")
			}
		}
		return nil
	})
	return b.String()
}

func TestRemoveTakesPackagesOutOfEveryOutput(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := channel.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	var pkgs []string
	for _, n := range []string{"keep", "drop", "other"} {
		pkgs = append(pkgs, testkit.MakeConda(t, src, testkit.PackageSpec{Name: n, Version: "1.0", Build: "0", RunExports: map[string]any{"weak": []any{n + " >=1"}}}))
	}
	pkgs = append(pkgs, testkit.MakeConda(t, src, testkit.PackageSpec{Name: "drop", Version: "1.0", Build: "1", Subdir: "noarch", Extra: map[string]any{"noarch": "generic"}}))
	if _, err := Publish(ctx, store, pkgs, Options{Lease: fastLease}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(channelFiles(t, dir), "drop-1.0-0.conda") {
		t.Fatal("the outputs do not name drop before the removal")
	}

	// Nothing is removed when one name is not found, or a bare name is ambiguous.
	_, err = Remove(ctx, store, []string{"linux-64/drop-1.0-0.conda", "nosuch-1.0-0.conda"}, Options{Lease: fastLease})
	var nf *PackageNotFoundError
	if !errors.As(err, &nf) || nf.Names[0] != "nosuch-1.0-0.conda" {
		t.Fatalf("missing name: %v", err)
	}
	testkit.WriteFile(t, filepath.Join(dir, "win-64"), "drop-1.0-0.conda", []byte("x"))
	_, err = Remove(ctx, store, []string{"drop-1.0-0.conda"}, Options{Lease: fastLease})
	var amb *AmbiguousPackageError
	if !errors.As(err, &amb) {
		t.Fatalf("ambiguous name: %v", err)
	}
	os.RemoveAll(filepath.Join(dir, "win-64"))
	if _, err := os.Stat(filepath.Join(dir, "linux-64", "drop-1.0-0.conda")); err != nil {
		t.Fatalf("a refused removal deleted a package: %v", err)
	}

	res, err := Remove(ctx, store, []string{"linux-64/drop-1.0-0.conda", "drop-1.0-1.conda"}, Options{Lease: fastLease})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Removed, " ") != "linux-64/drop-1.0-0.conda noarch/drop-1.0-1.conda" {
		t.Errorf("removed %v", res.Removed)
	}
	if all := channelFiles(t, dir); strings.Contains(all, "drop-1.0") {
		t.Errorf("an output still names drop:\n%s", all)
	}
	if problems, err := index.Check(ctx, store, true); err != nil || len(problems) > 0 {
		t.Errorf("check: %v %v", problems, err)
	}
}

func TestStorePatchesAppliesAndClears(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, _ := channel.NewLocal(dir)
	pkg := testkit.MakeConda(t, t.TempDir(), testkit.PackageSpec{Name: "tool", Version: "1.0", Build: "0", Extra: map[string]any{"depends": []string{"libx"}}})
	if _, err := Publish(ctx, store, []string{pkg}, Options{Lease: fastLease}); err != nil {
		t.Fatal(err)
	}
	depends := func() string {
		data, _ := os.ReadFile(filepath.Join(dir, "linux-64", "repodata.json"))
		recs, _ := index.ParseRepodata(data)
		return strings.Join(strings.Fields(strings.Trim(strings.ReplaceAll(strings.ReplaceAll(toString(recs["tool-1.0-0.conda"]["depends"]), "[", ""), "]", ""), " ")), " ")
	}
	// A bad file is refused before anything is written.
	_, err := StorePatches(ctx, store, "linux-64", []byte(`{"patch_instructions_version": 1, "packages.conda": {"tool-1.0-0.conda": {"md5": "0"}}}`), "fix.json", Options{Lease: fastLease})
	if err == nil || !strings.Contains(err.Error(), "fix.json") {
		t.Fatalf("bad instructions: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "linux-64", index.PatchInstructions)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("refused instructions were stored")
	}
	if _, err := StorePatches(ctx, store, "win-64", []byte(`{"patch_instructions_version": 1}`), "fix.json", Options{Lease: fastLease}); err == nil {
		t.Error("instructions for a subdir the channel lacks were stored")
	}
	res, err := StorePatches(ctx, store, "linux-64", []byte(`{"patch_instructions_version": 1, "packages.conda": {"tool-1.0-0.conda": {"depends": ["libx >=2,<3"]}}}`), "fix.json", Options{Lease: fastLease})
	if err != nil || res.Index == nil {
		t.Fatalf("store: %v", err)
	}
	if d := depends(); d != "libx >=2,<3" {
		t.Errorf("patched depends %q", d)
	}
	// A later publish keeps applying them.
	other := testkit.MakeConda(t, t.TempDir(), testkit.PackageSpec{Name: "other", Version: "1.0", Build: "0"})
	if _, err := Publish(ctx, store, []string{other}, Options{Lease: fastLease}); err != nil {
		t.Fatal(err)
	}
	if d := depends(); d != "libx >=2,<3" {
		t.Errorf("after a publish depends %q", d)
	}
	if _, err := StorePatches(ctx, store, "linux-64", nil, "", Options{Lease: fastLease}); err != nil {
		t.Fatal(err)
	}
	if d := depends(); d != "libx" {
		t.Errorf("cleared: depends %q", d)
	}
	if problems, err := index.Check(ctx, store, true); err != nil || len(problems) > 0 {
		t.Errorf("check: %v %v", problems, err)
	}
}

func toString(v any) string {
	if l, ok := v.([]any); ok {
		var parts []string
		for _, x := range l {
			parts = append(parts, x.(string))
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return ""
}
