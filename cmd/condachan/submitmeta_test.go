package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/internal/exampleinstaller"
	"github.com/condachan/condachan/internal/s3test"
	"github.com/condachan/condachan/internal/testkit"
	"github.com/condachan/condachan/jobbundle"
	"github.com/condachan/condachan/jobbundle/plan"
)

// catalogue writes a recipe folder in the sample catalogue's layout (see
// testkit.CatalogueRecipe) and returns the studioapp folder and the archives.
func catalogue(t *testing.T, dcYAML string) (string, map[string][]byte) {
	t.Helper()
	dir, archives := testkit.CatalogueRecipe(t, dcYAML)
	return dir, archives
}

// sampleDeadlineYAML is in the form of the sample catalogue's files.
const sampleDeadlineYAML = testkit.SampleDeadlineYAML

// submit --dry-run on a catalogue folder writes one bundle per default platform, each
// carrying its platform, host requirements, archive and the job parameters.
func TestSubmitReadsDeadlineCloudYAML(t *testing.T) {
	noDeadline(t)
	recipeDir, _ := catalogue(t, sampleDeadlineYAML)
	archiveDir := filepath.Join(filepath.Dir(recipeDir), "archive_files")
	bundles := filepath.Join(t.TempDir(), "bundles")
	code, stdout, stderr := runJob(t, "submit", "--recipe", recipeDir, "--channel", "s3://studio-bucket/Conda/Default",
		"--dry-run", "--json", "--bundle-dir", bundles, "--name", "StudioApp")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var results []submitResult
	if err := json.Unmarshal([]byte(stdout), &results); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if len(results) != 2 || results[0].Platform != "linux-64" || results[1].Platform != "win-64" {
		t.Fatalf("results %+v", results)
	}
	for _, name := range []string{"StudioApp_2025_Linux_64bit.tgz", "StudioApp_2025_Windows.zip"} {
		if !strings.Contains(stderr, "hashing "+name) {
			t.Errorf("%s was not hashed before the bundle was written:\n%s", name, stderr)
		}
	}
	common := map[string]string{
		"RecipeName": "studioapp", "RecipeDir": filepath.Join(recipeDir, "recipe"), "CondaChannel": "s3://studio-bucket/Conda/Default",
		"BuildNumber": "auto", "Compression": "default", "WorkerArch": "x86_64",
		"CondaChannels": "conda-forge", "CondaPackages": "patchelf>=0.17",
	}
	for i, tc := range []struct{ platform, os, archive string }{
		{"linux-64", "linux", "StudioApp_2025_Linux_64bit.tgz"},
		{"win-64", "windows", "StudioApp_2025_Windows.zip"},
	} {
		dir := filepath.Join(bundles, tc.platform)
		if results[i].BundleDir != dir {
			t.Errorf("%s: bundle in %s, want %s", tc.platform, results[i].BundleDir, dir)
		}
		want := map[string]string{"TargetPlatform": tc.platform, "WorkerOS": tc.os, "SourceArchive": filepath.Join(archiveDir, tc.archive)}
		for k, v := range common {
			want[k] = v
		}
		wantValues(t, readBundle(t, dir), want)
		if got := results[i].Command; len(got) < 6 || got[len(got)-1] != "StudioApp ("+tc.platform+")" {
			t.Errorf("%s: command %q", tc.platform, got)
		}
	}
	linux := requirements(t, filepath.Join(bundles, "linux-64"))
	wantReqs := []string{"amount.worker.vcpu>=8", "amount.worker.memory>=4096", "amount.worker.gpu>=1",
		"attr.worker.os.family={{Param.WorkerOS}}", "attr.worker.cpu.arch={{Param.WorkerArch}}", "attr.custom.renderlicense=studioapp"}
	if strings.Join(linux, " ") != strings.Join(wantReqs, " ") {
		t.Errorf("linux-64 host requirements %v, want %v", linux, wantReqs)
	}
	if win := requirements(t, filepath.Join(bundles, "win-64")); strings.Contains(strings.Join(win, " "), "gpu") {
		t.Errorf("win-64 took linux-64's requirements: %v", win)
	}

	// --conda-platform picks one entry, written into the folder itself.
	one := filepath.Join(t.TempDir(), "one")
	code, _, stderr = runJob(t, "bundle", "write", one, "--recipe", recipeDir, "--channel", "s3://studio-bucket/Conda/Default", "-p", "win-64")
	if code != 0 {
		t.Fatalf("bundle write -p win-64: exit %d: %s", code, stderr)
	}
	if vals := readBundle(t, one); vals["TargetPlatform"] != "win-64" || vals["SourceArchive"] != filepath.Join(archiveDir, "StudioApp_2025_Windows.zip") {
		t.Errorf("-p win-64: %v", vals)
	}
}

// requirements lists a bundle's host requirements as name>=min and name=values.
func requirements(t *testing.T, dir string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, jobbundle.TemplateFile))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := jobbundle.ParseTemplate(data)
	if err != nil {
		t.Fatal(err)
	}
	hr := tmpl.Steps[0].HostRequirements
	var out []string
	for _, a := range hr.Amounts {
		out = append(out, a.Name+">="+strings.TrimSuffix(strings.TrimSuffix(jsonNumber(*a.Min), ".0"), ".00"))
	}
	for _, a := range hr.Attributes {
		out = append(out, a.Name+"="+strings.Join(a.AnyOf, ","))
	}
	return out
}

func jsonNumber(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

// What cannot be honoured is refused, by name and line, before anything is written; so
// is an archive whose sha256 is not the recipe's.
func TestSubmitDeadlineCloudYAMLRefusals(t *testing.T) {
	noDeadline(t)
	recipeDir, archives := catalogue(t, sampleDeadlineYAML)
	archiveDir := filepath.Join(filepath.Dir(recipeDir), "archive_files")
	run := func(t *testing.T, want []string, args ...string) {
		t.Helper()
		bundles := filepath.Join(t.TempDir(), "bundles")
		code, _, stderr := runJob(t, append([]string{"submit", "--recipe", recipeDir, "--channel", "s3://studio-bucket/Conda/Default", "--dry-run", "--bundle-dir", bundles}, args...)...)
		if code != exitUsage {
			t.Errorf("exit %d, want %d: %s", code, exitUsage, stderr)
		}
		for _, w := range want {
			if !strings.Contains(stderr, w) {
				t.Errorf("stderr lacks %q:\n%s", w, stderr)
			}
		}
		if _, err := os.Stat(bundles); err == nil {
			t.Error("a refused submit left a bundle folder")
		}
	}
	yamlPath := filepath.Join(recipeDir, "deadline-cloud.yaml")
	t.Run("variant", func(t *testing.T) {
		run(t, []string{yamlPath + ":22: platform linux-64-py311 cannot be built by condachan", "line 23: variant: condachan builds no variants", "line 25: variantConfig:"}, "-p", "linux-64-py311")
	})
	t.Run("unknown platform", func(t *testing.T) {
		run(t, []string{`has no platform "osx-arm64" (it has: linux-64, win-64, linux-64-py311)`}, "-p", "osx-arm64")
	})
	t.Run("target and conda-platform", func(t *testing.T) {
		run(t, []string{"--conda-platform and --target-platform do not go together"}, "-p", "linux-64", "--target-platform", "linux-64")
	})
	t.Run("wrong hash", func(t *testing.T) {
		tampered := filepath.Join(archiveDir, "StudioApp_2025_Windows.zip")
		if err := os.WriteFile(tampered, []byte("a different download"), 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(tampered, archives["StudioApp_2025_Windows.zip"], 0o644)
		// linux-64 is fine; win-64 fails, and neither bundle is written.
		run(t, []string{tampered + " has sha256 " + testkit.SHA256([]byte("a different download")), "recipe studioapp expects " + testkit.SHA256(archives["StudioApp_2025_Windows.zip"]), "platform win-64:"})
	})
	t.Run("missing archive", func(t *testing.T) {
		missing := filepath.Join(archiveDir, "StudioApp_2025_Linux_64bit.tgz")
		if err := os.Rename(missing, missing+".away"); err != nil {
			t.Fatal(err)
		}
		defer os.Rename(missing+".away", missing)
		run(t, []string{"recipe studioapp for linux-64: source archive StudioApp_2025_Linux_64bit.tgz not found (looked in: " + archiveDir,
			"download it from: https://vendor.example.com/StudioApp_2025_Linux_64bit.tgz",
			"from deadline-cloud.yaml: Download StudioApp_2025_Linux_64bit.tgz from the vendor portal.",
			"then pass it with: --source-archive /path/to/StudioApp_2025_Linux_64bit.tgz",
			"archives staged in the channel already are found with --stage-source"}, "-p", "linux-64")
	})

	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"unknown key", strings.Replace(sampleDeadlineYAML, "    buildTool: rattler-build\n  - platform: win-64", "    buildTol: rattler-build\n  - platform: win-64", 1),
			[]string{yamlPath + `:16: condaPlatforms: unknown key "buildTol"`}},
		{"conda-build", strings.Replace(sampleDeadlineYAML, "Follow the README to make the zip.'\n    buildTool: rattler-build", "Follow the README to make the zip.'\n    buildTool: conda-build", 1),
			[]string{"platform win-64 cannot be built by condachan", "line 21: buildTool: this platform is built from recipe/meta.yaml"}},
		{"job parameter", strings.Replace(sampleDeadlineYAML, "name: CondaChannels", "name: RecipeName", 1),
			[]string{yamlPath + ":29: jobParameters: condachan's build job has no parameter RecipeName it takes from here (it takes: BuildNumber, Compression, CondaChannels, CondaPackages, S3EndpointURL)"}},
		{"archive the recipe lacks", strings.Replace(sampleDeadlineYAML, "    - StudioApp_2025_Linux_64bit.tgz", "    - StudioApp_2025_Linux_64bit.tar.xz", 1),
			[]string{"deadline-cloud.yaml names StudioApp_2025_Linux_64bit.tar.xz in sourceArchiveFilename, but recipe studioapp has no such source for linux-64 (its archives: StudioApp_2025_Linux_64bit.tgz)"}},
		{"os attribute", strings.Replace(sampleDeadlineYAML, "attr.custom.renderlicense", "attr.worker.os.family", 1),
			[]string{yamlPath + ":14: attr.worker.os.family comes from the platform (linux-64)"}},
		{"vcpu max", strings.Replace(sampleDeadlineYAML, "          min: 8", "          min: 8\n          max: 16", 1),
			[]string{"amount.worker.vcpu: condachan takes a whole minimum only (no max): it is what --vcpus sets"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(yamlPath, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(yamlPath, []byte(sampleDeadlineYAML), 0o644)
			run(t, tc.want)
		})
	}

	// Without a deadline-cloud.yaml there are no entries to pick.
	plain := urlRecipeDir(t, "sample-1.0.tar.gz", []byte("x"))
	code, _, stderr := runJob(t, "bundle", "write", t.TempDir(), "--recipe", plain, "--channel", "s3://b-1/c", "-p", "linux-64")
	if code != exitUsage || !strings.Contains(stderr, "has none: use --target-platform") {
		t.Errorf("-p without deadline-cloud.yaml: exit %d: %s", code, stderr)
	}
}

// The shipped Maya-style recipe needs three archives: submit --stage-source puts them all
// in the channel, the bundle names none of them, and the job's command line (condachan
// build --channel, on a machine without the archives) finds each by its sha256 and builds.
func TestSubmitStagesEverySourceAndTheJobFindsThem(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	path := os.Getenv("PATH")
	noDeadline(t)
	downloads := t.TempDir()
	if _, err := exampleinstaller.Write(downloads); err != nil {
		t.Fatal(err)
	}
	channelURL := "s3://" + bucket + "/Conda/Default"

	// Without staging, three archives cannot go as one job attachment.
	code, _, stderr := runJob(t, "submit", "--recipe", "maya-rpm-example", "--source-dir", downloads, "--channel", channelURL, "--dry-run", "--bundle-dir", filepath.Join(t.TempDir(), "b"))
	if code != exitUsage || !strings.Contains(stderr, "the job needs 3 archives from this machine") || !strings.Contains(stderr, "--stage-source") {
		t.Fatalf("exit %d: %s", code, stderr)
	}

	bundle := filepath.Join(t.TempDir(), "bundle")
	code, stdout, stderr := runJob(t, "submit", "--recipe", "maya-rpm-example", "--source-dir", downloads, "--channel", channelURL,
		"--stage-source", "--dry-run", "--json", "--bundle-dir", bundle)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res submitResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	var staged []string
	for _, s := range res.StagedSources {
		if !s.Uploaded {
			t.Errorf("%s not uploaded", s.URI)
		}
		staged = append(staged, s.URI[strings.LastIndex(s.URI, "/")+1:])
	}
	sort.Strings(staged)
	want := []string{"Autodesk_Maya_2026_Linux_64bit.tgz", "alsa-lib-1.2.12-1.el9.x86_64.rpm", "libXScrnSaver-1.2.3-8.el9.x86_64.rpm"}
	if strings.Join(staged, " ") != strings.Join(want, " ") || res.Platform != "linux-64" {
		t.Fatalf("staged %v (platform %q), want %v", staged, res.Platform, want)
	}
	vals := readBundle(t, bundle)
	if vals["SourceArchive"] != "" || vals["SourceArchiveURI"] != "" || vals["RecipeName"] != "maya-rpm-example" {
		t.Errorf("bundle values %v: the job finds staged archives by sha256", vals)
	}

	// The job's build, where no archive is on disk (with PATH back, for the recipe's test).
	t.Setenv("PATH", path)
	out := t.TempDir()
	code, stdout, stderr = runCLI(t, "build", "--recipe", "maya-rpm-example", "--channel", channelURL, "--output-dir", out, "--build-number", "")
	if code != 0 {
		t.Fatalf("build from staged sources: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "maya-rpm-example-2026.0-0.conda") {
		t.Errorf("build output: %s", stdout)
	}
	store := srv.Store(t, bucket, "Conda/Default")
	if _, err := store.Stat(context.Background(), "linux-64/maya-rpm-example-2026.0-0.conda"); err != nil {
		t.Errorf("the package was not published: %v", err)
	}

	// A second submit finds them staged, with or without the archives here.
	code, _, stderr = runJob(t, "submit", "--recipe", "maya-rpm-example", "--channel", channelURL, "--stage-source", "--dry-run", "--bundle-dir", filepath.Join(t.TempDir(), "again"))
	if code != 0 || strings.Count(stderr, "staged in the channel already") != 3 {
		t.Errorf("exit %d: %s", code, stderr)
	}
	// A build whose staged archive is gone says where it looked.
	key := channel.StagedSourceKey(testkit.SHA256(mustRead(t, filepath.Join(downloads, "alsa-lib-1.2.12-1.el9.x86_64.rpm"))), "alsa-lib-1.2.12-1.el9.x86_64.rpm")
	if err := store.Delete(context.Background(), key, ""); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI(t, "build", "--recipe", "maya-rpm-example", "--channel", channelURL, "--output-dir", t.TempDir(), "--build-number", "")
	if code == 0 || !strings.Contains(stderr, "alsa-lib-1.2.12-1.el9.x86_64.rpm not found") || !strings.Contains(stderr, channelURL+"/.condachan/sources/<sha256>/") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(data)
}

// Planning errors name the flags: an input's error stays a usage error and its message
// names its flag, wrapped context kept; an error of the system stays what it was.
func TestJobFlagError(t *testing.T) {
	_, err := plan.ParseGiven([]string{"s3://bucket"})
	got := jobFlagError(fmt.Errorf("platform linux-64: %w", err))
	var se *plan.SourceArchiveError
	if exitCode(got) != exitUsage || !errors.As(got, &se) || got.Error() != "platform linux-64: --source-archive s3://bucket: expected s3://bucket/key" {
		t.Errorf("%v", got)
	}
	got = jobFlagError((&plan.Sources{Local: []plan.LocalArchive{{Name: "a"}, {Name: "b"}}}).ArchiveValues(map[string]string{}))
	if want := "the job needs 2 archives from this machine (a, b), and a job attaches one: stage them in the channel with `condachan submit --stage-source`, where the job finds them by sha256"; got.Error() != want || exitCode(got) != exitUsage {
		t.Errorf("%v\nwant %s", got, want)
	}
	if got := jobFlagError(plan.CheckBuildNumber("next")); exitCode(got) != exitUsage || got.Error() != `--build-number "next": expected auto, a number of 0 or more, or empty for the recipe's` {
		t.Errorf("%v", got)
	}
	failed := errors.New("access denied")
	if got := jobFlagError(failed); got != failed || exitCode(got) != exitFailure {
		t.Errorf("a failure of the system: %v", got)
	}
}
