//go:build unix

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/index"
	"github.com/condachan/condachan/internal/exampleinstaller"
	"github.com/condachan/condachan/internal/mirrortest"
	"github.com/condachan/condachan/internal/testkit"
	"github.com/condachan/condachan/jobbundle"
	"github.com/condachan/condachan/jobbundle/openjdtest"
)

// The Deadline Cloud job bundles, run step by step the way an OpenJD runtime runs them
// on a Linux worker (parameter substitution, embedded files, the generated /bin/sh
// wrapper: see openjdtest), with the condachan binary and versitygw: what `openjd run`
// of the bundle does, in CI.

// workerPath is a PATH on which condachan is the binary under test.
func workerPath() string {
	return "PATH=" + filepath.Dir(condachanBin) + string(os.PathListSeparator) + os.Getenv("PATH")
}

// repodata reads <subdir>/repodata.json after checking the channel's invariants.
func repodata(t *testing.T, f *fixture, subdir string) map[string]index.Record {
	t.Helper()
	ctx := context.Background()
	problems, err := index.Check(ctx, f.store, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) > 0 {
		t.Fatalf("channel invariants broken:\n%s", strings.Join(problems, "\n"))
	}
	data, _, err := channel.ReadAll(ctx, f.store, subdir+"/repodata.json")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := index.ParseRepodata(data)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func runBundle(t *testing.T, kind jobbundle.Kind, step string, values map[string]string, env []string) *openjdtest.Result {
	t.Helper()
	dir := t.TempDir()
	if err := jobbundle.Write(dir, kind, values, jobbundle.Host{}); err != nil {
		t.Fatal(err)
	}
	res := openjdtest.RunStep(t, dir, step, openjdtest.Options{Env: env})
	if res.ExitCode != 0 {
		t.Fatalf("step %s failed:\n%s", step, res)
	}
	return res
}

// The shipped example recipe, condachan on the worker's PATH, build number auto: each
// job publishes the next build and the index lists it.
func TestJobBundleBuildsAndPublishes(t *testing.T) {
	f := newFixture(t)
	env := append(append([]string{}, f.env...), workerPath())
	values := map[string]string{jobbundle.ParamRecipeName: "condachan-example", jobbundle.ParamCondaChannel: f.url}
	for build := 0; build < 2; build++ {
		res := runBundle(t, jobbundle.Build, "BuildAndPublish", values, env)
		if len(res.Progress) == 0 || res.Progress[len(res.Progress)-1] != 100 || len(res.Fail) > 0 {
			t.Errorf("progress %v, failures %v", res.Progress, res.Fail)
		}
		recs := repodata(t, f, "noarch")
		name := "condachan-example-1.0.0-" + string(rune('0'+build)) + ".conda"
		if _, ok := recs[name]; !ok {
			t.Fatalf("%s is not in noarch/repodata.json after job %d:\n%s", name, build, res.Output)
		}
	}
	f.assertLeaseFree(t)
}

// The no-job-attachment path for the archive: it is staged in the channel's
// .condachan/sources/<sha256>/ and the job streams it from S3 (SourceArchiveURI). The
// recipe folder and the condachan binary come as attachments would: files at a path,
// the binary without its executable bit, and no condachan on PATH.
func TestJobBundleSourceArchiveFromS3(t *testing.T) {
	f := newFixture(t)
	work := t.TempDir()
	archiveData := testkit.Compress(t, testkit.SampleTree().Tar(t, testkit.TarOptions{Top: "sample-1.0"}), "gzip")
	archive := testkit.WriteFile(t, work, "sample-1.0.tar.gz", archiveData)
	rdir := filepath.Join(work, "sample-recipe")
	if err := os.Mkdir(rdir, 0o755); err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, rdir, "recipe.yaml", []byte(`package:
  name: sample
  version: "1.0"
source:
  url: https://example.invalid/sample-1.0.tar.gz
  sha256: `+testkit.SHA256(archiveData)+`
  target_directory: sample
build:
  number: 0
about:
  license: MIT
  summary: test package
`))

	uri := stageArchive(t, f, rdir, archive)
	want := f.url + "/.condachan/sources/" + testkit.SHA256(archiveData) + "/sample-1.0.tar.gz"
	if uri != want {
		t.Fatalf("staged at %s, want %s", uri, want)
	}

	attached := filepath.Join(t.TempDir(), "condachan")
	bin, err := os.ReadFile(condachanBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(attached, bin, 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(append([]string{}, f.env...), "PATH=/usr/bin:/bin")
	res := runBundle(t, jobbundle.Build, "BuildAndPublish", map[string]string{
		jobbundle.ParamRecipeName:       "sample",
		jobbundle.ParamRecipeDir:        rdir,
		jobbundle.ParamSourceArchiveURI: uri,
		jobbundle.ParamCondaChannel:     f.url,
		jobbundle.ParamTargetPlatform:   "linux-64",
		jobbundle.ParamCompression:      "fast",
		jobbundle.ParamCondachanBinary:  attached,
	}, env)
	if !strings.Contains(res.Output, "--source-archive "+uri) {
		t.Errorf("the job did not stream the staged archive:\n%s", res.Output)
	}
	recs := repodata(t, f, "linux-64")
	rec, ok := recs["sample-1.0-0.conda"]
	if !ok {
		t.Fatalf("sample-1.0-0.conda is not in linux-64/repodata.json:\n%s", res.Output)
	}
	if rec["name"] != "sample" || rec["subdir"] != "linux-64" || fmt.Sprint(rec["build_number"]) != "0" {
		t.Errorf("record %v", rec)
	}
	f.assertLeaseFree(t)
}

// A recipe with several archives (the shipped Maya-style one: a vendor tarball and two
// system-library RPMs): submit --stage-source stages them all and writes a bundle that
// names none, and the job, run by OpenJD from that bundle, finds each in the channel by
// the sha256 the recipe gives.
func TestJobBundleFindsStagedSources(t *testing.T) {
	f := newFixture(t)
	downloads := t.TempDir()
	if _, err := exampleinstaller.Write(downloads); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(t.TempDir(), "bundle")
	p := start(t, append(append([]string{}, f.env...), "PATH=/usr/bin:/bin"), "submit", "--recipe", "maya-rpm-example", "--source-dir", downloads,
		"--channel", f.url, "--stage-source", "--dry-run", "--bundle-dir", bundle, "--compression", "fast")
	if err := p.wait(t, 2*time.Minute); err != nil {
		t.Fatalf("submit --stage-source: %v\n%s", err, p.stderr.String())
	}
	if n := strings.Count(p.stderr.String(), "staging "); n != 3 {
		t.Errorf("%d archives staged, want 3:\n%s", n, p.stderr.String())
	}
	env := append(append([]string{}, f.env...), workerPath())
	res := openjdtest.RunStep(t, bundle, "BuildAndPublish", openjdtest.Options{Env: env})
	if res.ExitCode != 0 {
		t.Fatalf("the job failed:\n%s", res)
	}
	if strings.Contains(res.Output, "--source-archive") {
		t.Errorf("the job was handed an archive; it should find them staged:\n%s", res.Output)
	}
	if _, ok := repodata(t, f, "linux-64")["maya-rpm-example-2026.0-0.conda"]; !ok {
		t.Fatalf("maya-rpm-example-2026.0-0.conda is not in linux-64/repodata.json:\n%s", res.Output)
	}
	f.assertLeaseFree(t)
}

// stageArchive stages the archive in the channel with `condachan submit --stage-source`
// when the binary has the submit command, else the same way by hand (the key layout is
// checked by the caller), and returns its s3:// URI.
func stageArchive(t *testing.T, f *fixture, recipeDir, archive string) string {
	t.Helper()
	if exec.Command(condachanBin, "submit", "--help").Run() == nil {
		p := start(t, append(append([]string{}, f.env...), "PATH=/usr/bin:/bin"), "submit", "--recipe", recipeDir, "--source-archive", archive,
			"--channel", f.url, "--stage-source", "--dry-run", "--json", "--bundle-dir", t.TempDir())
		if err := p.wait(t, 2*time.Minute); err != nil {
			t.Fatalf("submit --stage-source: %v\n%s", err, p.stderr.String())
		}
		var out struct {
			StagedSources []struct{ URI string } `json:"staged_sources"`
		}
		if err := json.Unmarshal([]byte(p.stdout.String()), &out); err != nil || len(out.StagedSources) != 1 {
			t.Fatalf("%v\n%s", err, p.stdout.String())
		}
		return out.StagedSources[0].URI
	}
	t.Log("this condachan has no submit command: staging the archive by hand")
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	key := ".condachan/sources/" + testkit.SHA256(data) + "/" + filepath.Base(archive)
	if _, err := f.store.PutFile(context.Background(), key, archive, channel.PutOptions{IfAbsent: true}); err != nil {
		t.Fatal(err)
	}
	return f.url + "/" + key
}

// The index bundle picks up a package copied into the channel by hand.
func TestJobBundleIndex(t *testing.T) {
	f := newFixture(t)
	pkg := f.pkg(t, "handcopied")
	if _, err := f.store.PutFile(context.Background(), "linux-64/"+filepath.Base(pkg), pkg, channel.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	env := append(append([]string{}, f.env...), workerPath())
	runBundle(t, jobbundle.Index, "Reindex", map[string]string{jobbundle.ParamCondaChannel: f.url, jobbundle.ParamFullReindex: "true"}, env)
	if _, ok := repodata(t, f, "linux-64")["handcopied-1.0-0.conda"]; !ok {
		t.Fatal("the index job did not index the hand-copied package")
	}
	f.assertLeaseFree(t)
}

// The mirror bundle publishes a bundle of `mirror pack`, with upstream stopped: attached
// to the job (MirrorBundle), and staged by `condachan submit --mirror` in the channel's
// .condachan/mirror/<sha256>/ and streamed from there by the job (MirrorBundleURI).
func TestJobBundleMirror(t *testing.T) {
	up := mirrortest.New(t)
	lock := up.WriteLock(t, t.TempDir(), mirrortest.Pixi)
	packed := filepath.Join(t.TempDir(), "render-env.bundle")
	runMirror(t, nil, "mirror", "pack", "--lock", lock, "-o", packed, "--cache", t.TempDir(), "--progress", "none")
	up.Stop()
	t.Run("attached", func(t *testing.T) {
		f := newFixture(t)
		env := append(append([]string{}, f.env...), workerPath())
		res := runBundle(t, jobbundle.Mirror, "Mirror", map[string]string{jobbundle.ParamCondaChannel: f.url, jobbundle.ParamMirrorBundle: packed, jobbundle.ParamJobs: "2"}, env)
		if len(res.Progress) == 0 || len(res.Fail) > 0 {
			t.Errorf("progress %v, failures %v", res.Progress, res.Fail)
		}
		checkMirrored(t, mirrorChannel{url: f.url, env: f.env, store: f.store}, up)
		f.assertLeaseFree(t)
	})
	t.Run("staged by submit", func(t *testing.T) {
		f := newFixture(t)
		bundleDir := filepath.Join(t.TempDir(), "bundle")
		p := start(t, append(append([]string{}, f.env...), "PATH=/usr/bin:/bin"), "submit", "--mirror", packed, "--channel", f.url, "--dry-run", "--bundle-dir", bundleDir)
		if err := p.wait(t, 2*time.Minute); err != nil {
			t.Fatalf("submit --mirror: %v\n%s", err, p.stderr.String())
		}
		data, err := os.ReadFile(packed)
		if err != nil {
			t.Fatal(err)
		}
		key := channel.StagedMirrorKey(testkit.SHA256(data), "render-env.bundle")
		if _, err := f.store.Stat(context.Background(), key); err != nil {
			t.Fatalf("the bundle is not staged at %s: %v\n%s", key, err, p.stderr.String())
		}
		env := append(append([]string{}, f.env...), workerPath())
		res := openjdtest.RunStep(t, bundleDir, "Mirror", openjdtest.Options{Env: env})
		if res.ExitCode != 0 {
			t.Fatalf("the job failed:\n%s", res)
		}
		if !strings.Contains(res.Output, "--from "+f.url+"/"+key) {
			t.Errorf("the job did not stream the staged bundle:\n%s", res.Output)
		}
		checkMirrored(t, mirrorChannel{url: f.url, env: f.env, store: f.store}, up)
		f.assertLeaseFree(t)
	})
}
