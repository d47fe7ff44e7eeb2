//go:build unix

package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/index"
	"github.com/condachan/condachan/internal/rattlertest"
	"github.com/condachan/condachan/internal/testkit"
)

// chainRecipes are a studio's dependency chain as its recipes would say it: specs
// written without spaces or with conda's "=" and bracket forms, which condachan must
// store in the canonical form rattler parses. An older studio-tools makes the version
// bound matter; studio-presets is noarch.
var chainRecipes = map[string]string{
	"studio-app": `package: {name: studio-app, version: "3.0"}
requirements:
  run:
    - studio-tools>=2.1
    - studio-presets
build:
  script:
    - mkdir -p $PREFIX/share/studio-app && echo app > $PREFIX/share/studio-app/version.txt
`,
	"studio-tools-2": `package: {name: studio-tools, version: "2.1.0"}
requirements:
  run:
    - studio-libs=1.2
build:
  script:
    - mkdir -p $PREFIX/share/studio-tools && echo 2.1 > $PREFIX/share/studio-tools/version.txt
`,
	"studio-tools-1": `package: {name: studio-tools, version: "1.9.0"}
build:
  script:
    - mkdir -p $PREFIX/share/studio-tools && echo 1.9 > $PREFIX/share/studio-tools/version.txt
`,
	"studio-libs": `package: {name: studio-libs, version: "1.2.3"}
build:
  script:
    - mkdir -p $PREFIX/lib/studio && echo libs > $PREFIX/lib/studio/libs.txt
`,
	"studio-presets": `package: {name: studio-presets, version: "2024.1"}
build:
  noarch: generic
  script:
    - mkdir -p $PREFIX/share/presets && echo p > $PREFIX/share/presets/default.json
`,
}

// buildChain builds chainRecipes with the condachan binary and returns the packages.
func buildChain(t *testing.T) []string {
	t.Helper()
	out := t.TempDir()
	for name, body := range chainRecipes {
		dir := filepath.Join(t.TempDir(), name)
		testkit.WriteFile(t, dir, "recipe.yaml", []byte(body))
		p := start(t, nil, "build", "--recipe", dir, "--output-dir", out, "--target-platform", "linux-64", "--progress", "none", "--no-test")
		if err := p.wait(t, 2*time.Minute); err != nil {
			t.Fatalf("build %s: %v\n%s", name, err, p.stderr.String())
		}
	}
	var pkgs []string
	for _, sd := range []string{"linux-64", "noarch"} {
		m, _ := filepath.Glob(filepath.Join(out, sd, "*.conda"))
		pkgs = append(pkgs, m...)
	}
	if len(pkgs) != len(chainRecipes) {
		t.Fatalf("built %v, want %d packages", pkgs, len(chainRecipes))
	}
	return pkgs
}

// startServe runs `condachan serve` on a free port and returns its URL and process.
func startServe(t *testing.T, env []string, channelURL string) (string, *proc) {
	t.Helper()
	p := start(t, env, "serve", "--channel", channelURL, "--addr", "127.0.0.1:0", "--revalidate", "0")
	announced := regexp.MustCompile(`on (http://127\.0\.0\.1:[0-9]+)/`)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := announced.FindStringSubmatch(p.stderr.String()); m != nil {
			return m[1], p
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("condachan serve did not announce its address\n%s", p.stderr.String())
	return "", nil
}

// requestedPaths are the paths of the GET and HEAD requests in serve's access log.
func requestedPaths(log string) []string {
	re := regexp.MustCompile(`\s(?:GET|HEAD) (/\S*)`)
	var paths []string
	for _, m := range re.FindAllStringSubmatch(log, -1) {
		paths = append(paths, m[1])
	}
	return paths
}

// TestRattlerSolvesFromShards builds a dependency chain with condachan, publishes it to a
// folder channel and to S3, serves each with `condachan serve`, and has rattler (the
// library behind pixi) solve against it. rattler asks for the shard index first; the
// serve log must show it read shards and never a subdir's repodata.json or .zst.
func TestRattlerSolvesFromShards(t *testing.T) {
	pkgs := buildChain(t)
	cases := []struct {
		name  string
		setup func(t *testing.T) (url string, env []string, store channel.Store)
	}{
		{"folder", func(t *testing.T) (string, []string, channel.Store) {
			dir := t.TempDir()
			store, err := channel.NewLocal(dir)
			if err != nil {
				t.Fatal(err)
			}
			return dir, nil, store
		}},
		{"s3", func(t *testing.T) (string, []string, channel.Store) {
			f := newFixture(t)
			return f.url, f.env, f.store
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url, env, store := tc.setup(t)
			pub := start(t, env, append(append([]string{"publish", "--channel", url}, leaseFlags...), pkgs...)...)
			if err := pub.wait(t, 2*time.Minute); err != nil {
				t.Fatalf("publish: %v\n%s", err, pub.stderr.String())
			}
			if problems, err := index.Check(context.Background(), store, true); err != nil || len(problems) > 0 {
				t.Fatalf("check: %v %v", err, problems)
			}
			// The recipes' specs are stored in the canonical form.
			data, _, err := channel.ReadAll(context.Background(), store, "linux-64/repodata.json")
			if err != nil {
				t.Fatal(err)
			}
			recs, _ := index.ParseRepodata(data)
			for fn, want := range map[string]string{"studio-app-3.0-0.conda": "[studio-presets studio-tools >=2.1]", "studio-tools-2.1.0-0.conda": "[studio-libs 1.2.*]"} {
				if got := fmt.Sprint(recs[fn]["depends"]); got != want {
					t.Errorf("%s depends %s, want %s", fn, got, want)
				}
			}
			base, srv := startServe(t, env, url)
			solved, err := rattlertest.Solve(t, []string{base}, []string{"linux-64", "noarch"}, []string{"studio-app"})
			if err != nil {
				t.Fatalf("%v\nserve log:\n%s", err, srv.stderr.String())
			}
			var got []string
			for _, s := range solved {
				got = append(got, fmt.Sprintf("%s %s %s", s.Name, s.Version, s.Subdir))
			}
			sort.Strings(got)
			want := []string{"studio-app 3.0 linux-64", "studio-libs 1.2.3 linux-64", "studio-presets 2024.1 noarch", "studio-tools 2.1.0 linux-64"}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("rattler solved:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			checkSolvedAgainstRepodata(t, store, solved)
			checkShardRequests(t, srv.stderr.String())
		})
	}
}

// checkSolvedAgainstRepodata checks that rattler's records (hashes, sizes, URLs) are the
// channel's.
func checkSolvedAgainstRepodata(t *testing.T, store channel.Store, solved []rattlertest.Solved) {
	t.Helper()
	for _, s := range solved {
		data, _, err := channel.ReadAll(context.Background(), store, s.Subdir+"/repodata.json")
		if err != nil {
			t.Fatal(err)
		}
		recs, err := index.ParseRepodata(data)
		if err != nil {
			t.Fatal(err)
		}
		rec, ok := recs[s.Filename]
		if !ok {
			t.Errorf("rattler solved %s, which %s/repodata.json does not list", s.Filename, s.Subdir)
			continue
		}
		if rec["sha256"] != s.SHA256 || rec["md5"] != s.MD5 || fmt.Sprint(rec["size"]) != fmt.Sprint(s.Size) {
			t.Errorf("%s: rattler read sha256 %s md5 %s size %d; repodata.json has %v %v %v", s.Filename, s.SHA256, s.MD5, s.Size, rec["sha256"], rec["md5"], rec["size"])
		}
		if !strings.HasSuffix(s.URL, "/"+s.Subdir+"/"+s.Filename) {
			t.Errorf("%s: rattler would download %s", s.Filename, s.URL)
		}
	}
}

// checkShardRequests checks, from serve's access log, that rattler fetched both shard
// indexes and shards, and never a subdir's repodata.json or repodata.json.zst.
func checkShardRequests(t *testing.T, log string) {
	t.Helper()
	paths := requestedPaths(log)
	var shardIndexes, shards int
	for _, p := range paths {
		switch {
		case strings.HasSuffix(p, "/"+index.ShardIndexFile):
			shardIndexes++
		case strings.Contains(p, "/"+index.ShardsFolder):
			shards++
		case strings.HasSuffix(p, "/"+index.RepodataJSON), strings.HasSuffix(p, "/"+index.RepodataZst):
			t.Errorf("rattler fetched %s instead of shards", p)
		}
	}
	if shardIndexes != 2 || shards < 4 {
		t.Errorf("rattler fetched %d shard indexes and %d shards; want 2 and at least 4\nrequests:\n%s", shardIndexes, shards, strings.Join(paths, "\n"))
	}
	if t.Failed() {
		t.Logf("serve log:\n%s", log)
	}
}
