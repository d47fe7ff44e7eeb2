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

// TestMirrorThroughBundle packs the lock, in every format, on the "connected" side,
// stops the upstream server, and mirrors from each bundle alone: from the file into a
// folder channel, and from a copy of it in the bucket (s3://bucket/key, as a Deadline
// job reads it) into an S3 channel.
func TestMirrorThroughBundle(t *testing.T) {
	up := mirrortest.New(t)
	work := t.TempDir()
	bundles := map[string]string{}
	for _, format := range mirrortest.Formats {
		lock := up.WriteLock(t, t.TempDir(), format)
		bundles[format] = filepath.Join(work, format+".bundle")
		runMirror(t, nil, "mirror", "pack", "--lock", lock, "-o", bundles[format], "--cache", t.TempDir(), "--progress", "none")
	}
	up.Stop()
	before := up.Requests()
	for _, format := range mirrortest.Formats {
		bundle := bundles[format]
		t.Run(format+"/file to folder", func(t *testing.T) {
			ch := mirrorChannels(t)["folder"](t)
			runMirror(t, ch.env, append([]string{"mirror", "--from", bundle, "--channel", ch.url, "--cache", t.TempDir()}, leaseFlags...)...)
			checkMirrored(t, ch, up)
		})
		t.Run(format+"/s3 object to s3", func(t *testing.T) {
			f := newFixture(t)
			root := f.srv.Store(t, f.bucket, "")
			if _, err := root.PutFile(context.Background(), "incoming/render-env.bundle", bundle, channel.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			ch := mirrorChannel{url: f.url, env: f.env, store: f.store}
			runMirror(t, ch.env, append([]string{"mirror", "--from", "s3://" + f.bucket + "/incoming/render-env.bundle", "--channel", ch.url, "--cache", t.TempDir()}, leaseFlags...)...)
			checkMirrored(t, ch, up)
		})
	}
	if up.Requests() != before {
		t.Errorf("mirror --from BUNDLE sent %d requests upstream", up.Requests()-before)
	}
}

// TestMirrorBesidePublishers runs a mirror whose downloads are slow while four
// publishers publish to the same S3 channel: the publishers wait for the lease the
// mirror holds and are served by its index run or their own; nothing is lost.
func TestMirrorBesidePublishers(t *testing.T) {
	up := mirrortest.New(t)
	for _, p := range up.Locked() {
		up.SetFault(p.File, mirrortest.Slow)
	}
	f := newFixture(t)
	lock := up.WriteLock(t, t.TempDir(), mirrortest.CondaLock)
	m := start(t, f.env, append([]string{"mirror", "--lock", lock, "--channel", f.url, "--cache", t.TempDir(), "--jobs", "2"}, leaseFlags...)...)
	var pubs []*proc
	var names []string
	for i := range 4 {
		name := fmt.Sprintf("studio-tool%d", i)
		names = append(names, name+"-1.0-0.conda")
		pubs = append(pubs, start(t, f.env, f.publishArgs(f.pkg(t, name))...))
	}
	if err := m.wait(t, 3*time.Minute); err != nil {
		t.Fatalf("mirror: %v\n%s", err, m.stderr.String())
	}
	for i, p := range pubs {
		if err := p.wait(t, 3*time.Minute); err != nil {
			t.Fatalf("publisher %d: %v\n%s", i, err, p.stderr.String())
		}
	}
	recs := f.assertChannel(t)
	for _, n := range names {
		if _, ok := recs[n]; !ok {
			t.Errorf("%s was published but is not in linux-64/repodata.json", n)
		}
	}
	ch := mirrorChannel{url: f.url, env: f.env, store: f.store}
	for _, p := range up.Locked() {
		data, _, err := channel.ReadAll(context.Background(), ch.store, p.Subdir+"/repodata.json")
		if err != nil || !strings.Contains(string(data), p.SHA256) {
			t.Errorf("%s is not in %s/repodata.json (%v)", p.File, p.Subdir, err)
		}
	}
	f.assertLeaseFree(t)
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
