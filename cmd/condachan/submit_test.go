package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/internal/s3test"
	"github.com/condachan/condachan/internal/testkit"
	"github.com/condachan/condachan/jobbundle/submit"
)

// submitResult is what submit --json prints for a job.
type submitResult = submit.Result

// fakeDeadline puts a `deadline` on PATH that answers `queue get` with a queue whose job
// attachments bucket is bucket (none when empty), and for `bundle submit` records its
// arguments and copies the bundle folder into log/, exiting with exit. It returns log.
func fakeDeadline(t *testing.T, bucket string, exit int) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the fake Deadline CLI is a shell script")
	}
	bin, log := t.TempDir(), t.TempDir()
	settings := "jobAttachmentSettings:\n  rootPrefix: DeadlineCloud\n  s3BucketName: " + bucket + "\n"
	if bucket == "" {
		settings = ""
	}
	script := `#!/bin/sh
if [ "$1 $2" = "queue get" ]; then
  printf '%s\n' "$*" > "` + log + `/queue-get.args"
  cat <<'EOF'
displayName: Package build
farmId: farm-0123
queueId: queue-4567
` + settings + `status: IDLE
EOF
  exit 0
fi
if [ "$1 $2" = "bundle submit" ]; then
  for a in "$@"; do printf '%s\n' "$a"; done > "` + log + `/submit.args"
  cp -R "$3" "` + log + `/bundle"
  echo "Submitted job bundle: $3"
  echo "job-0123456789abcdef"
  exit ` + strconv.Itoa(exit) + `
fi
echo "unexpected: $*" >&2
exit 9
`
	if err := os.WriteFile(filepath.Join(bin, "deadline"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+"/usr/bin:/bin")
	return log
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func TestSubmitDryRun(t *testing.T) {
	noDeadline(t)
	dir := filepath.Join(t.TempDir(), "my bundle")
	code, stdout, stderr := runJob(t, "submit", "--recipe", "blender-4.1", "--source-archive", "s3://studio-bucket/src/blender-4.1.1-linux-x64.tar.xz",
		"--channel", "s3://studio-bucket/Conda/Default", "--dry-run", "--bundle-dir", dir,
		"--farm-id", "farm-1", "--queue-id", "queue-2", "--name", "Blender 4.1 package")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := shellJoin([]string{"deadline", "bundle", "submit", dir, "--farm-id", "farm-1", "--queue-id", "queue-2", "--name", "Blender 4.1 package"})
	if strings.TrimSpace(stdout) != want {
		t.Errorf("printed\n%s\nwant\n%s", stdout, want)
	}
	wantValues(t, readBundle(t, dir), map[string]string{
		"RecipeName": "blender-4.1", "SourceArchiveURI": "s3://studio-bucket/src/blender-4.1.1-linux-x64.tar.xz",
		"CondaChannel": "s3://studio-bucket/Conda/Default", "TargetPlatform": "linux-64", "BuildNumber": "auto",
		"Compression": "default", "WorkerOS": "linux", "WorkerArch": "x86_64",
	})
}

// Without the Deadline CLI, submit writes the bundle into a kept temporary folder,
// prints the command, and fails: nothing was submitted.
func TestSubmitWithoutDeadlinePrints(t *testing.T) {
	noDeadline(t)
	code, stdout, stderr := runJob(t, "submit", "--index", "--channel", "s3://studio-bucket/Conda/Default", "--json")
	if code != exitFailure || !strings.Contains(stderr, "not submitted: the Deadline CLI (deadline) is not on PATH") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res submitResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	defer os.RemoveAll(res.BundleDir)
	if res.Submitted || res.Command[3] != res.BundleDir || !strings.Contains(stderr, "not on PATH") {
		t.Errorf("result %+v\nstderr %s", res, stderr)
	}
	wantValues(t, readBundle(t, res.BundleDir), map[string]string{"CondaChannel": "s3://studio-bucket/Conda/Default", "WorkerOS": "linux", "WorkerArch": "x86_64"})
}

func TestSubmitRunsDeadline(t *testing.T) {
	log := fakeDeadline(t, "ja-bucket-123", 0)
	code, stdout, stderr := runJob(t, "submit", "--recipe", "condachan-example", "--queue-id", "queue-9", "--yes")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "using s3://ja-bucket-123/Conda/Default") {
		t.Errorf("the default channel is not reported: %s", stderr)
	}
	if got := lines(t, filepath.Join(log, "queue-get.args")); strings.Join(got, " ") != "queue get --queue-id queue-9" {
		t.Errorf("deadline queue get args: %q", got)
	}
	args := lines(t, filepath.Join(log, "submit.args"))
	if len(args) != 6 || args[0] != "bundle" || args[1] != "submit" || args[3] != "--queue-id" || args[4] != "queue-9" || args[5] != "--yes" {
		t.Errorf("deadline bundle submit args: %q", args)
	}
	if _, err := os.Stat(args[2]); err == nil {
		t.Errorf("the temporary bundle %s was not removed after the submission", args[2])
	}
	wantValues(t, readBundle(t, filepath.Join(log, "bundle")), map[string]string{
		"RecipeName": "condachan-example", "CondaChannel": "s3://ja-bucket-123/Conda/Default", "TargetPlatform": "linux-64",
		"BuildNumber": "auto", "Compression": "default", "WorkerOS": "linux", "WorkerArch": "x86_64",
	})
	if !strings.Contains(stdout, "job-0123456789abcdef") {
		t.Errorf("deadline's output is not passed on: %s", stdout)
	}
}

func TestSubmitDeadlineFails(t *testing.T) {
	fakeDeadline(t, "ja-bucket-123", 4)
	code, _, stderr := runJob(t, "submit", "--recipe", "condachan-example", "--channel", "s3://studio-bucket/Conda/Default")
	if code != exitFailure || !strings.Contains(stderr, "deadline bundle submit failed") || !strings.Contains(stderr, "kept in") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}

func TestSubmitQueueWithoutJobAttachments(t *testing.T) {
	fakeDeadline(t, "", 0)
	code, _, stderr := runJob(t, "submit", "--recipe", "condachan-example", "--dry-run")
	if code != exitUsage || !strings.Contains(stderr, "Package build has no job attachments bucket") || !strings.Contains(stderr, "--channel") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}

func TestSubmitStageSource(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	noDeadline(t)
	content := []byte(strings.Repeat("an upstream archive\n", 1000))
	rdir := urlRecipeDir(t, "sample-1.0.tar.gz", content)
	archive := testkit.WriteFile(t, t.TempDir(), "sample-1.0.tar.gz", content)
	sha := testkit.SHA256(content)
	channelURL := "s3://" + bucket + "/Conda/Default"
	submit := func(extra ...string) (submitResult, string) {
		t.Helper()
		args := append([]string{"submit", "--recipe", rdir, "--source-archive", archive, "--channel", channelURL,
			"--stage-source", "--dry-run", "--json", "--bundle-dir", t.TempDir()}, extra...)
		code, stdout, stderr := runJob(t, args...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var res submitResult
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatalf("%v\n%s", err, stdout)
		}
		return res, stderr
	}
	res, _ := submit()
	wantURI := channelURL + "/.condachan/sources/" + sha + "/sample-1.0.tar.gz"
	if len(res.StagedSources) != 1 || res.StagedSources[0].URI != wantURI || !res.StagedSources[0].Uploaded || res.StagedSources[0].SHA256 != sha {
		t.Fatalf("staged %+v, want %s", res.StagedSources, wantURI)
	}
	vals := readBundle(t, res.BundleDir)
	if vals["SourceArchiveURI"] != wantURI || vals["SourceArchive"] != "" {
		t.Errorf("the bundle does not take the staged archive: %v", vals)
	}
	store := srv.Store(t, bucket, "Conda/Default")
	data, obj, err := channel.ReadAll(context.Background(), store, ".condachan/sources/"+sha+"/sample-1.0.tar.gz")
	if err != nil || string(data) != string(content) || obj.Metadata["sha256"] != sha {
		t.Fatalf("staged object: %v, %d bytes, metadata %v", err, len(data), obj.Metadata)
	}

	// Again: already there, nothing uploaded.
	res, stderr := submit()
	if len(res.StagedSources) != 1 || res.StagedSources[0].Uploaded || !strings.Contains(stderr, "already staged") {
		t.Errorf("second staging: %+v\n%s", res.StagedSources, stderr)
	}

	// An archive with other bytes than the recipe's sha256 is refused before uploading.
	bad := testkit.WriteFile(t, t.TempDir(), "sample-1.0.tar.gz", []byte("other bytes"))
	code, _, stderr := runJob(t, "submit", "--recipe", rdir, "--source-archive", bad, "--channel", channelURL, "--stage-source", "--dry-run")
	if code != exitUsage || !strings.Contains(stderr, "but recipe sample expects "+sha) {
		t.Errorf("exit %d: %s", code, stderr)
	}
	n := 0
	store.List(context.Background(), ".condachan/sources/", func(channel.Object) error { n++; return nil })
	if n != 1 {
		t.Errorf("%d staged objects, want 1", n)
	}

	// Staging needs a local archive and an S3 channel.
	code, _, stderr = runJob(t, "submit", "--recipe", "condachan-example", "--channel", channelURL, "--stage-source", "--dry-run")
	if code != exitUsage || !strings.Contains(stderr, "needs a local --source-archive") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	code, _, stderr = runJob(t, "submit", "--recipe", rdir, "--source-archive", archive, "--channel", t.TempDir(), "--stage-source", "--dry-run")
	if code != exitUsage || !strings.Contains(stderr, "needs an S3 channel") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}

func TestStagedSourcesAreInternal(t *testing.T) {
	if !channel.IsInternal(channel.StagedSourceKey("abc", "x.tar.xz")) {
		t.Error("staged sources must live in the channel's internal area (never indexed or served)")
	}
}
