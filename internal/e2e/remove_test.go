//go:build unix

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/index"
	"github.com/condachan/condachan/internal/testkit"
)

// TestRemoveAndPatchBesidePublishers runs `condachan remove` and `condachan patch` while
// eight publishers publish into the same channel, on a folder and on S3: every
// publisher's package is indexed, the removed package is gone from every output, the
// patch holds, and the channel passes index.Check (shards included).
func TestRemoveAndPatchBesidePublishers(t *testing.T) {
	for _, kind := range []string{"folder", "s3"} {
		t.Run(kind, func(t *testing.T) {
			var url string
			var env []string
			var store channel.Store
			pkgDir := t.TempDir()
			if kind == "s3" {
				f := newFixture(t)
				url, env, store = f.url, f.env, f.store
			} else {
				url = t.TempDir()
				store, _ = channel.NewLocal(url)
			}
			mk := func(name string) string {
				return testkit.MakeConda(t, pkgDir, testkit.PackageSpec{Name: name, Version: "1.0", Build: "0", Extra: map[string]any{"depends": []string{"libx"}}})
			}
			seed := start(t, env, append(append([]string{"publish", "--channel", url}, leaseFlags...), mk("victim"), mk("tool"))...)
			if err := seed.wait(t, time.Minute); err != nil {
				t.Fatalf("seed publish: %v\n%s", err, seed.stderr.String())
			}
			patchFile := testkit.WriteFile(t, t.TempDir(), "patch.json", []byte(`{"patch_instructions_version": 1, "packages.conda": {"tool-1.0-0.conda": {"depends": ["libx >=2"]}}}`))

			var procs []*proc
			for i := 0; i < 8; i++ {
				procs = append(procs, start(t, env, append(append([]string{"publish", "--channel", url}, leaseFlags...), mk(fmt.Sprintf("pub%d", i)))...))
			}
			procs = append(procs,
				start(t, env, append([]string{"remove", "--channel", url, "linux-64/victim-1.0-0.conda"}, leaseFlags...)...),
				start(t, env, append([]string{"patch", "--channel", url, "--subdir", "linux-64", patchFile}, leaseFlags...)...))
			for _, p := range procs {
				if err := p.wait(t, 2*time.Minute); err != nil {
					t.Fatalf("condachan %s: %v\n%s", strings.Join(p.cmd.Args[1:], " "), err, p.stderr.String())
				}
			}

			ctx := context.Background()
			problems, err := index.Check(ctx, store, true)
			if err != nil || len(problems) > 0 {
				t.Fatalf("check: %v\n%s", err, strings.Join(problems, "\n"))
			}
			data, _, err := channel.ReadAll(ctx, store, "linux-64/repodata.json")
			if err != nil {
				t.Fatal(err)
			}
			recs, _ := index.ParseRepodata(data)
			for i := 0; i < 8; i++ {
				if _, ok := recs[fmt.Sprintf("pub%d-1.0-0.conda", i)]; !ok {
					t.Errorf("pub%d is not indexed", i)
				}
			}
			if d := fmt.Sprint(recs["tool-1.0-0.conda"]["depends"]); d != "[libx >=2]" {
				t.Errorf("tool depends %s: the patch was lost", d)
			}
			for _, k := range []string{"linux-64/repodata.json", "linux-64/run_exports.json", "linux-64/index.html", "channeldata.json", "linux-64/repodata_from_packages.json"} {
				data, _, err := channel.ReadAll(ctx, store, k)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(data), "victim") {
					t.Errorf("%s still names the removed package", k)
				}
			}
			idx, _, _ := channel.ReadAll(ctx, store, "linux-64/"+index.ShardIndexFile)
			if _, shards, err := index.DecodeShardIndex(idx); err != nil || shards["victim"] != "" {
				t.Errorf("shard index: %v, victim's shard %q", err, shards["victim"])
			}
			if _, err := store.Stat(ctx, "linux-64/victim-1.0-0.conda"); err == nil {
				t.Error("the removed package is still stored")
			}
		})
	}
}
