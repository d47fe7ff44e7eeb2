//go:build unix

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/index"
	"github.com/condachan/condachan/internal/mirrortest"
	"github.com/condachan/condachan/internal/rattlertest"
)

// mirrorChannel is a fresh channel to mirror into: a folder or an S3 prefix.
type mirrorChannel struct {
	url   string
	env   []string
	store channel.Store
}

func mirrorChannels(t *testing.T) map[string]func(t *testing.T) mirrorChannel {
	return map[string]func(t *testing.T) mirrorChannel{
		"folder": func(t *testing.T) mirrorChannel {
			dir := filepath.Join(t.TempDir(), "channel")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			store, err := channel.NewLocal(dir)
			if err != nil {
				t.Fatal(err)
			}
			return mirrorChannel{url: dir, store: store}
		},
		"s3": func(t *testing.T) mirrorChannel {
			f := newFixture(t)
			return mirrorChannel{url: f.url, env: f.env, store: f.store}
		},
	}
}

// runMirror runs condachan with args and fails the test when it fails.
func runMirror(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := start(t, env, args...)
	if err := p.wait(t, 3*time.Minute); err != nil {
		t.Fatalf("condachan %s: %v\n%s", strings.Join(args, " "), err, p.stderr.String())
	}
	return p
}

// TestMirrorLocksThenRattlerSolves mirrors one environment's lock, in every format,
// into a folder channel and an S3 channel, and has rattler solve the environment's root
// specs against the mirrored channel alone: it must get exactly the locked packages.
func TestMirrorLocksThenRattlerSolves(t *testing.T) {
	up := mirrortest.New(t)
	for kind, open := range mirrorChannels(t) {
		for _, format := range mirrortest.Formats {
			t.Run(kind+"/"+format, func(t *testing.T) {
				ch := open(t)
				lock := up.WriteLock(t, t.TempDir(), format)
				args := append([]string{"mirror", "--lock", lock, "--channel", ch.url, "--cache", t.TempDir()}, leaseFlags...)
				if format == mirrortest.Pixi {
					args = append(args, "--environment", "default")
				}
				runMirror(t, ch.env, args...)
				checkMirrored(t, ch, up)
			})
		}
	}
}

// TestMirrorThroughBundle packs the lock on the "connected" side, stops the upstream
// server, and mirrors from the bundle alone into a folder and an S3 channel.
func TestMirrorThroughBundle(t *testing.T) {
	up := mirrortest.New(t)
	work := t.TempDir()
	lock := up.WriteLock(t, work, mirrortest.Pixi)
	bundle := filepath.Join(work, "render-env.bundle")
	runMirror(t, nil, "mirror", "pack", "--lock", lock, "--environment", "default", "-o", bundle, "--cache", t.TempDir(), "--progress", "none")
	up.Stop()
	before := up.Requests()
	for kind, open := range mirrorChannels(t) {
		t.Run(kind, func(t *testing.T) {
			ch := open(t)
			runMirror(t, ch.env, append([]string{"mirror", "--from", bundle, "--environment", "default", "--channel", ch.url, "--cache", t.TempDir()}, leaseFlags...)...)
			checkMirrored(t, ch, up)
		})
	}
	if up.Requests() != before {
		t.Errorf("mirror --from BUNDLE sent %d requests upstream", up.Requests()-before)
	}
}

// checkMirrored checks the channel holds the locked packages and nothing else, that its
// metadata is sound, and that rattler solves the root specs to exactly the lock.
func checkMirrored(t *testing.T, ch mirrorChannel, up *mirrortest.Upstream) {
	t.Helper()
	ctx := context.Background()
	if problems, err := index.Check(ctx, ch.store, true); err != nil || len(problems) > 0 {
		t.Fatalf("check: %v %v", err, problems)
	}
	var stored []string
	for _, sd := range []string{"linux-64", "noarch"} {
		ch.store.List(ctx, sd+"/", func(o channel.Object) error {
			if index.IsPackage(o.Key) {
				stored = append(stored, o.Key)
			}
			return nil
		})
	}
	var want []string
	for _, p := range up.Locked() {
		want = append(want, p.Key())
	}
	sort.Strings(stored)
	sort.Strings(want)
	if strings.Join(stored, " ") != strings.Join(want, " ") {
		t.Errorf("channel holds %v, want exactly %v", stored, want)
	}
	base, srv := startServe(t, ch.env, ch.url)
	solved, err := rattlertest.Solve(t, []string{base}, []string{"linux-64", "noarch"}, up.RootSpecs)
	if err != nil {
		t.Fatalf("%v\nserve log:\n%s", err, srv.stderr.String())
	}
	var got, locked []string
	for _, s := range solved {
		got = append(got, fmt.Sprintf("%s %s %s %s/%s %s", s.Name, s.Version, s.Build, s.Subdir, s.Filename, s.SHA256))
	}
	for _, p := range up.Locked() {
		locked = append(locked, fmt.Sprintf("%s %s %s %s %s", p.Name, p.Version, p.Build, p.Key(), p.SHA256))
	}
	sort.Strings(got)
	sort.Strings(locked)
	if strings.Join(got, "\n") != strings.Join(locked, "\n") {
		t.Errorf("rattler solved:\n%s\nthe lock holds:\n%s", strings.Join(got, "\n"), strings.Join(locked, "\n"))
	}
	checkSolvedAgainstRepodata(t, ch.store, solved)
}
