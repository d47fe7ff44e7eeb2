package submit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/condachan/condachan/jobbundle"
	"github.com/condachan/condachan/jobbundle/plan"
)

// deadlineOnPath puts a fake Deadline CLI on PATH: `queue get` prints a queue whose job
// attachments bucket is bucket, `bundle submit` prints the bundle and exits with exit.
func deadlineOnPath(t *testing.T, bucket, exit string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the fake Deadline CLI is a shell script")
	}
	bin := t.TempDir()
	script := "#!/bin/sh\n" +
		"if [ \"$1 $2\" = \"queue get\" ]; then printf 'displayName: Main\\njobAttachmentSettings:\\n  s3BucketName: " + bucket + "\\n'; exit 0; fi\n" +
		"echo \"submitted $3\"; echo \"on stderr\" >&2; exit " + exit + "\n"
	if err := os.WriteFile(filepath.Join(bin, "deadline"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+"/usr/bin:/bin")
}

func TestResolveChannel(t *testing.T) {
	ctx := context.Background()
	if ch, err := ResolveChannel(ctx, "s3://studio-bucket/c/", "", "", false); err != nil || ch != (JobChannel{URL: "s3://studio-bucket/c"}) {
		t.Errorf("S3: %+v, %v", ch, err)
	}
	dir := t.TempDir()
	if ch, err := ResolveChannel(ctx, dir, "", "", false); err != nil || !ch.Local || ch.URL != dir {
		t.Errorf("folder: %+v, %v", ch, err)
	}
	if _, err := ResolveChannel(ctx, "ftp://x/y", "", "", false); !errors.Is(err, plan.ErrInput) {
		t.Errorf("bad URL: %v", err)
	}

	t.Setenv("PATH", t.TempDir())
	_, err := ResolveChannel(ctx, "", "", "", false)
	var nd *NoDeadlineError
	if !errors.As(err, &nd) || !errors.Is(err, plan.ErrInput) || strings.Contains(err.Error(), "--") {
		t.Errorf("no Deadline CLI: %v", err)
	}
	if got := nd.Message(func(plan.Field) string { return "--channel" }); !strings.HasPrefix(got, "--channel is required: the Deadline CLI (deadline) is not on PATH") {
		t.Errorf("named: %s", got)
	}

	deadlineOnPath(t, "studio-bucket", "0")
	if ch, err := ResolveChannel(ctx, "", "farm-1", "queue-2", false); err != nil || ch != (JobChannel{URL: "s3://studio-bucket/Conda/Default", FromQueue: true}) {
		t.Errorf("the queue's bucket: %+v, %v", ch, err)
	}
	deadlineOnPath(t, "", "0")
	_, err = ResolveChannel(ctx, "", "", "", false)
	var qe *QueueChannelError
	if !errors.As(err, &qe) || !strings.Contains(err.Error(), "has no job attachments bucket") {
		t.Errorf("a queue without a bucket: %v", err)
	}
	if got := qe.Message(func(plan.Field) string { return "--channel" }); !strings.HasPrefix(got, "no --channel, and ") || !strings.HasSuffix(got, "; pass --channel s3://bucket/prefix") {
		t.Errorf("named: %s", got)
	}
}

// indexJobs are n index jobs, for platforms a, b, ...
func indexJobs(n int) []*plan.Job {
	var jobs []*plan.Job
	for i := range n {
		j := &plan.Job{Kind: jobbundle.Index, Values: map[string]string{jobbundle.ParamCondaChannel: "s3://b/c"}}
		if n > 1 {
			j.Platform = string(rune('a' + i))
		}
		jobs = append(jobs, j)
	}
	return jobs
}

// Prepare writes the bundles with their commands; Submit runs them and then removes a
// temporary bundle folder.
func TestPrepareAndSubmit(t *testing.T) {
	ctx := context.Background()
	quote := func(args []string) string { return strings.Join(args, " ") }
	dir := filepath.Join(t.TempDir(), "jobs")
	b, err := Prepare(ctx, Request{Jobs: indexJobs(2), BundleDir: dir, Name: "reindex", Yes: true, Quote: quote})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Written(); got != "2 index job bundles (a to "+filepath.Join(dir, "a")+", b to "+filepath.Join(dir, "b")+")" {
		t.Errorf("Written() = %s", got)
	}
	r := b.Results[1]
	if r.BundleDir != filepath.Join(dir, "b") || r.CommandLine != "deadline bundle submit "+r.BundleDir+" --name reindex (b) --yes" || r.Submitted {
		t.Errorf("result: %+v", r)
	}

	b, err = Prepare(ctx, Request{Jobs: indexJobs(1), Quote: quote})
	if err != nil {
		t.Fatal(err)
	}
	temp := b.Results[0].BundleDir
	if got := b.Written(); got != "the index job bundle to "+temp {
		t.Errorf("Written() = %s", got)
	}
	deadlineOnPath(t, "", "0")
	deadline, err := LookDeadline()
	if err != nil {
		t.Fatal(err)
	}
	var out, log bytes.Buffer
	if err := b.Submit(ctx, deadline, nil, &out, &log); err != nil {
		t.Fatal(err)
	}
	if out.String() != "submitted "+temp+"\n" || log.String() != "submitting: deadline bundle submit "+temp+"\non stderr\n" {
		t.Errorf("out %q, log %q", out.String(), log.String())
	}
	if _, err := os.Stat(temp); !os.IsNotExist(err) || b.Results[0].BundleDir != "" || !b.Results[0].Submitted {
		t.Errorf("the temporary bundle folder is left: %v, %+v", err, b.Results[0])
	}

	// A failed submit keeps the bundle and says which were submitted already.
	deadlineOnPath(t, "", "3")
	if deadline, err = LookDeadline(); err != nil {
		t.Fatal(err)
	}
	b, err = Prepare(ctx, Request{Jobs: indexJobs(2), Quote: quote})
	if err != nil {
		t.Fatal(err)
	}
	err = b.Submit(ctx, deadline, nil, &out, &log)
	var se *Error
	if !errors.As(err, &se) || se.BundleDir != b.Results[0].BundleDir {
		t.Fatalf("failed submit: %v", err)
	}
	if _, err := os.Stat(se.BundleDir); err != nil {
		t.Errorf("the bundle is gone: %v", err)
	}
	os.RemoveAll(filepath.Dir(se.BundleDir))
}

// A bundle that cannot be written leaves no temporary folder.
func TestPrepareFails(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	jobs := indexJobs(1)
	jobs[0].Values[jobbundle.ParamFullReindex] = "maybe"
	if _, err := Prepare(context.Background(), Request{Jobs: jobs, Quote: func([]string) string { return "" }}); !errors.Is(err, plan.ErrInput) {
		t.Errorf("Prepare: %v", err)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}
