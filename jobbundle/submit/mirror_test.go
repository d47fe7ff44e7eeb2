package submit

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/internal/s3test"
	"github.com/condachan/condachan/internal/testkit"
	"github.com/condachan/condachan/jobbundle"
	"github.com/condachan/condachan/jobbundle/plan"
)

// planMirror plans the mirror job of bundle into channelURL, to be staged.
func planMirror(t *testing.T, bundle, channelURL string) []*plan.Job {
	t.Helper()
	jobs, err := plan.Plan(context.Background(), plan.Options{Kind: jobbundle.Mirror, Mirror: bundle, Stage: true,
		Channel: func(context.Context) (string, error) { return channelURL, nil }, Log: &bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}

// A local mirror bundle is staged once under <channel>/.condachan/mirror/<sha256>/, with
// the staging code of source archives, and the job gets its URI instead of the file; a
// bundle in S3 already is left as it is.
func TestStageMirror(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	content := []byte(strings.Repeat("a package\n", 1000))
	bundle := testkit.WriteFile(t, t.TempDir(), "render-env.bundle", content)
	sha := testkit.SHA256(content)
	channelURL := "s3://" + bucket + "/Conda/Default"
	wantURI := channelURL + "/.condachan/mirror/" + sha + "/render-env.bundle"
	quote := func(args []string) string { return strings.Join(args, " ") }

	for i, wantUploaded := range []bool{true, false} {
		var log bytes.Buffer
		b, err := Prepare(context.Background(), Request{Jobs: planMirror(t, bundle, channelURL), Stager: &Stager{Log: &log}, BundleDir: t.TempDir(), Quote: quote})
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		r := b.Results[0]
		if r.StagedBundle == nil || r.StagedBundle.URI != wantURI || r.StagedBundle.SHA256 != sha || r.StagedBundle.Uploaded != wantUploaded || len(r.StagedSources) != 0 {
			t.Fatalf("run %d: staged %+v, want %s (uploaded %v)\n%s", i, r.StagedBundle, wantURI, wantUploaded, log.String())
		}
		vals, err := jobbundle.ReadParameterValues(r.BundleDir)
		if err != nil || vals[jobbundle.ParamMirrorBundleURI] != wantURI || vals[jobbundle.ParamMirrorBundle] != "" {
			t.Errorf("run %d: the bundle does not stream the staged bundle: %v %v", i, vals, err)
		}
		if !wantUploaded && !strings.Contains(log.String(), "already staged: "+wantURI) {
			t.Errorf("run %d: log %q", i, log.String())
		}
	}
	data, obj, err := channel.ReadAll(context.Background(), srv.Store(t, bucket, "Conda/Default"), channel.StagedMirrorKey(sha, "render-env.bundle"))
	if err != nil || !bytes.Equal(data, content) || obj.Metadata["sha256"] != sha {
		t.Errorf("staged object: %v, %d bytes, metadata %v", err, len(data), obj.Metadata)
	}
	if !channel.IsInternal(channel.StagedMirrorKey(sha, "x.bundle")) {
		t.Error("staged bundles must live in the channel's internal area (never indexed or served)")
	}

	// A bundle in S3 already: nothing staged, the URI kept.
	inS3 := "s3://" + bucket + "/incoming/render-env.bundle"
	b, err := Prepare(context.Background(), Request{Jobs: planMirror(t, inS3, channelURL), Stager: &Stager{}, BundleDir: t.TempDir(), Quote: quote})
	if err != nil || b.Results[0].StagedBundle != nil || b.Results[0].Parameters[jobbundle.ParamMirrorBundleURI] != inS3 {
		t.Errorf("bundle in S3: %v, %+v", err, b)
	}

	// Staging still goes with build and mirror jobs only.
	_, err = (&Stager{}).StageJobs(context.Background(), indexJobs(1))
	var nb *NotBuildError
	if !errors.As(err, &nb) || !errors.Is(err, plan.ErrInput) {
		t.Errorf("index job: %v", err)
	}
}
