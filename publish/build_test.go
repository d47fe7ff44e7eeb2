package publish

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/index"
	"github.com/condachan/condachan/internal/testkit"
	"github.com/condachan/condachan/pkgbuild"
	"github.com/condachan/condachan/recipes"
)

func TestParseBuildNumber(t *testing.T) {
	for _, v := range []string{"", "auto"} {
		if n, err := ParseBuildNumber(v, true); n != nil || err != nil {
			t.Errorf("%q: %v, %v", v, n, err)
		}
	}
	if n, err := ParseBuildNumber("7", false); err != nil || *n != 7 {
		t.Errorf("7: %v, %v", n, err)
	}
	var syntax *BuildNumberSyntaxError
	for _, v := range []string{"-1", "next"} {
		if _, err := ParseBuildNumber(v, true); !errors.As(err, &syntax) || syntax.Value != v {
			t.Errorf("%q: %v", v, err)
		}
	}
	_, err := ParseBuildNumber("auto", false)
	var bn *BuildNumberError
	if !errors.As(err, &bn) || !errors.Is(err, ErrAutoNeedsChannel) || bn.Value != "auto" {
		t.Errorf("auto without a channel: %v", err)
	}
}

// buildRequest builds the shipped example into out, publishing to the folder ch when it
// is not "".
func buildRequest(out, ch, buildNumber string) BuildRequest {
	req := BuildRequest{Recipe: "condachan-example", Target: "linux-64", BuildNumber: buildNumber,
		Build: pkgbuild.Options{OutputDir: out}, Publish: Options{Lease: fastLease}}
	if ch != "" {
		req.ChannelURL = ch
		req.Channel = func(ctx context.Context) (channel.Store, error) { return channel.Open(ctx, ch, channel.Options{}) }
	}
	return req
}

// A build with a channel takes the next free build number there, publishes the package
// and indexes it; without one it only builds.
func TestBuildAndPublish(t *testing.T) {
	ctx := context.Background()
	out, ch := t.TempDir(), filepath.Join(t.TempDir(), "channel")
	for want := 0; want < 2; want++ {
		res, err := Build(ctx, buildRequest(out, ch, "auto"))
		if err != nil {
			t.Fatal(err)
		}
		if res.Index["build_number"] != want || res.Publish == nil || len(res.Publish.Uploads) != 1 || res.Publish.Uploads[0].Status != "uploaded" {
			t.Errorf("round %d: %+v %+v", want, res.Result, res.Publish)
		}
	}
	store, _ := channel.NewLocal(ch)
	if problems, err := index.Check(ctx, store, true); err != nil || len(problems) > 0 {
		t.Errorf("channel: %v %v", problems, err)
	}
	var warned []string
	req := buildRequest(t.TempDir(), "", "5")
	req.Warn = func(w string) { warned = append(warned, w) }
	res, err := Build(ctx, req)
	if err != nil || res.Publish != nil || res.Index["build_number"] != 5 || !strings.HasSuffix(res.Path, "-5.conda") {
		t.Errorf("without a channel: %+v, %v", res, err)
	}
}

// What was given is refused with the typed errors the front end words: an unknown
// recipe, auto without a channel, a source archive that is not there.
func TestBuildRefusals(t *testing.T) {
	ctx := context.Background()
	req := buildRequest(t.TempDir(), "", "")
	req.Recipe = "houdini-20"
	var nf *recipes.NotFoundError
	if _, err := Build(ctx, req); !errors.As(err, &nf) {
		t.Errorf("unknown recipe: %v", err)
	}
	if _, err := Build(ctx, buildRequest(t.TempDir(), "", "auto")); !errors.Is(err, ErrAutoNeedsChannel) {
		t.Errorf("auto without a channel: %v", err)
	}
	req = buildRequest(t.TempDir(), "", "")
	req.SourceArchives = []string{filepath.Join(t.TempDir(), "gone.tgz")}
	var la *LocalArchiveError
	if _, err := Build(ctx, req); !errors.As(err, &la) {
		t.Errorf("missing archive: %v", err)
	}
}

// A build number given for a recipe that sets build.string is refused before anything
// is reserved in the channel.
func TestBuildNumberOverrideRefused(t *testing.T) {
	dir := t.TempDir()
	testkit.WriteFile(t, dir, "recipe.yaml", []byte("package: {name: tool, version: \"1.0\"}\nsource:\n  path: payload\nbuild:\n  string: custom_2\n  noarch: generic\n"))
	testkit.WriteFile(t, filepath.Join(dir, "payload"), "tool", []byte("x"))
	ch := t.TempDir()
	req := buildRequest(t.TempDir(), ch, "auto")
	req.Recipe = dir
	_, err := Build(context.Background(), req)
	var bn *BuildNumberError
	var conflict *pkgbuild.BuildStringConflictError
	if !errors.As(err, &bn) || bn.Value != "auto" || !errors.As(err, &conflict) {
		t.Fatalf("auto: %v", err)
	}
	if entries, _ := filepath.Glob(filepath.Join(ch, "*", "*")); len(entries) != 0 {
		t.Errorf("reserved in the channel: %v", entries)
	}
	req.Recipe = dir
	req.BuildNumber, req.Channel = "3", nil
	if _, err := Build(context.Background(), req); !errors.As(err, &bn) || bn.Value != "3" || err.Error() != "build number 3: "+conflict.Error() {
		t.Errorf("3: %v", err)
	}
}

// Reindex runs the index under the lease, logging the wait like a publish does.
func TestReindex(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := channel.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "linux-64"), 0o755)
	testkit.MakeConda(t, filepath.Join(dir, "linux-64"), testkit.PackageSpec{Name: "tool", Version: "1.0", Build: "0"})
	held, err := channel.Acquire(ctx, store, channel.LeaseOptions{TTL: 2 * time.Second, Owner: channel.Owner{Host: "other", PID: 1}})
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(200*time.Millisecond, func() { held.Release(context.Background()) })
	var logged []string
	res, err := Reindex(ctx, store, index.Options{}, Options{Lease: fastLease, Log: func(s string) { logged = append(logged, s) }})
	if err != nil || len(res.Subdirs) == 0 || res.Subdirs[0].Packages != 1 {
		t.Fatalf("Reindex: %+v, %v", res, err)
	}
	if len(logged) == 0 || !strings.HasPrefix(logged[0], "waiting for the channel lease held by other pid 1") {
		t.Errorf("logged %q", logged)
	}
	if ls, err := channel.ReadLeaseStatus(ctx, store); err != nil || ls.Held {
		t.Errorf("the lease is still held: %+v, %v", ls, err)
	}
}

// A build refused for a source that is not here reserves no build number: the sources
// are found first.
func TestBuildReservesOnlyOnceItsSourcesAreFound(t *testing.T) {
	ctx := context.Background()
	ch := filepath.Join(t.TempDir(), "channel")
	req := buildRequest(t.TempDir(), ch, "auto")
	req.Recipe, req.Target = "blender-4.1", "linux-64" // its archive is not on this machine
	var missing *pkgbuild.MissingSourceError
	if _, err := Build(ctx, req); !errors.As(err, &missing) {
		t.Fatalf("err = %v, want a MissingSourceError", err)
	}
	store, _ := channel.NewLocal(ch)
	if n, err := NextBuildNumber(ctx, store, "linux-64", "blender", "4.1.1"); err != nil || n != 0 {
		t.Errorf("the next build number is %d (%v), want 0: the refused build reserved one", n, err)
	}
}
