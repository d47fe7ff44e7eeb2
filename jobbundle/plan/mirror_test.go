package plan

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/condachan/condachan/internal/testkit"
	"github.com/condachan/condachan/jobbundle"
)

// mirrorOptions plan a mirror job of bundle against channelURL; set lists the fields
// the user set.
func mirrorOptions(count *int, bundle, channelURL string, set ...Field) Options {
	o := planOptions(count, set...)
	o.Kind, o.Mirror, o.BuildNumber, o.Compression = jobbundle.Mirror, bundle, "", ""
	o.Channel = func(context.Context) (string, error) { *count++; return channelURL, nil }
	return o
}

// A mirror job refuses the inputs of build and index jobs, and a bundle it cannot take,
// with errors naming fields, before the channel is asked for; --jobs goes with it only.
func TestPlanMirrorRefusals(t *testing.T) {
	bundle := testkit.WriteFile(t, t.TempDir(), "render.bundle", []byte("bundle"))
	var asked int
	for _, c := range []struct {
		name   string
		change func(*Options)
		set    []Field
		want   string
		target any
	}{
		{"with the index job", func(*Options) {}, []Field{FieldIndex}, "mirror bundle and the index job do not go together", new(*ConflictError)},
		{"with a recipe", func(o *Options) { o.Recipe = "blender-4.1" }, nil, "mirror bundle and recipe do not go together", new(*ConflictError)},
		{"with a full reindex", func(o *Options) { o.Full = true }, nil, "mirror bundle and full reindex do not go together", new(*ConflictError)},
		{"with a source archive", func(*Options) {}, []Field{FieldSourceArchive}, "mirror bundle and source archive do not go together", new(*ConflictError)},
		{"with platforms", func(*Options) {}, []Field{FieldAllPlatforms}, "mirror bundle and all platforms do not go together", new(*ConflictError)},
		{"no bundle", func(o *Options) { o.Mirror = "" }, nil, "mirror bundle is required", new(*RequiredError)},
		{"jobs below 1", func(o *Options) { o.Jobs = 0 }, []Field{FieldJobs}, "packages in flight: parameter Jobs: 0 is less than 1", new(*ParameterError)},
		{"negative jobs", func(o *Options) { o.Jobs = -2 }, nil, "parameter Jobs: -2 is less than 1", new(*ParameterError)},
		{"missing file", func(o *Options) { o.Mirror = bundle + ".gone" }, nil, "mirror bundle: stat " + bundle + ".gone", new(*MirrorBundleError)},
		{"a folder", func(o *Options) { o.Mirror = filepath.Dir(bundle) }, nil, "is a folder: a job takes a bundle file", new(*MirrorBundleError)},
		{"a bucket without key", func(o *Options) { o.Mirror = "s3://studio-bucket" }, nil, "mirror bundle s3://studio-bucket: expected s3://bucket/key", new(*MirrorBundleError)},
		{"jobs for a build", func(o *Options) { o.Kind, o.Recipe, o.Jobs = jobbundle.Build, "condachan-example", 4 }, nil, "packages in flight goes with mirror bundle", new(*MirrorOnlyError)},
		{"jobs for an index", func(o *Options) { o.Kind = jobbundle.Index }, []Field{FieldJobs}, "packages in flight goes with mirror bundle", new(*MirrorOnlyError)},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := mirrorOptions(&asked, bundle, "s3://studio/c", c.set...)
			c.change(&o)
			wantRefused(t, o, c.want, c.target)
		})
	}
	if asked != 0 {
		t.Errorf("the channel was asked for %d times before the inputs were checked", asked)
	}
}

// A bundle in S3 is streamed by the job; one on this machine is attached, or with Stage
// hashed for staging (and attached until it is staged); the workers are chosen as for
// an index job.
func TestPlanMirrorJob(t *testing.T) {
	content := []byte(strings.Repeat("packages\n", 100))
	bundle := testkit.WriteFile(t, t.TempDir(), "render env.bundle", content)
	rel, err := filepath.Rel(mustWd(t), bundle)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		bundle  string
		channel string
		change  func(*Options)
		want    map[string]string
		hashed  bool
	}{
		{"in S3", "s3://studio-bucket/incoming/render.bundle", "s3://studio/c", func(o *Options) { o.Jobs = 16 },
			map[string]string{"MirrorBundleURI": "s3://studio-bucket/incoming/render.bundle", "Jobs": "16"}, false},
		{"attached, made absolute", rel, "s3://studio/c", func(*Options) {},
			map[string]string{"MirrorBundle": bundle}, false},
		{"attached to a folder channel", bundle, "/srv/conda", func(*Options) {},
			map[string]string{"MirrorBundle": bundle}, false},
		{"to stage", bundle, "s3://studio/c", func(o *Options) { o.Stage = true },
			map[string]string{"MirrorBundle": bundle}, true},
		{"in S3 with Stage: nothing to stage", "s3://studio-bucket/r.bundle", "s3://studio/c", func(o *Options) { o.Stage = true },
			map[string]string{"MirrorBundleURI": "s3://studio-bucket/r.bundle"}, false},
		{"arm64 workers with an endpoint", "s3://studio-bucket/r.bundle", "s3://studio/c",
			func(o *Options) {
				o.WorkerArch, o.WorkerOS, o.WorkerEndpoint = "arm64", "macos", "https://vpce.example"
			},
			map[string]string{"MirrorBundleURI": "s3://studio-bucket/r.bundle", "WorkerOS": "macos", "WorkerArch": "arm64", "S3EndpointURL": "https://vpce.example"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var asked int
			o := mirrorOptions(&asked, c.bundle, c.channel)
			c.change(&o)
			jobs, err := Plan(context.Background(), o)
			if err != nil || len(jobs) != 1 || asked != 1 {
				t.Fatalf("Plan: %v, %v (channel asked %d times)", jobs, err, asked)
			}
			j := jobs[0]
			want := map[string]string{"CondaChannel": c.channel, "WorkerOS": "linux", "WorkerArch": "x86_64"}
			for k, v := range c.want {
				want[k] = v
			}
			if len(j.Values) != len(want) {
				t.Errorf("values %v, want %v", j.Values, want)
			}
			for k, v := range want {
				if j.Values[k] != v {
					t.Errorf("%s = %q, want %q", k, j.Values[k], v)
				}
			}
			if j.Kind != jobbundle.Mirror || j.BundleName() != "the mirror job bundle" {
				t.Errorf("kind %s, %s", j.Kind, j.BundleName())
			}
			switch {
			case !c.hashed && j.Bundle != nil:
				t.Errorf("a bundle not to stage was hashed: %+v", j.Bundle)
			case c.hashed && (j.Bundle == nil || j.Bundle.SHA256 != testkit.SHA256(content) || j.Bundle.Size != int64(len(content)) || j.Bundle.Name != "render env.bundle"):
				t.Errorf("bundle to stage: %+v", j.Bundle)
			}
			// Every planned job makes a bundle that can be written.
			if _, err := WriteJobs(t.TempDir(), jobs); err != nil {
				t.Errorf("WriteJobs: %v", err)
			}
		})
	}
}

// A bundle on this machine cannot be staged for a folder channel: refused before it is
// hashed, naming the bundle and the channel.
func TestPlanMirrorStagingNeedsS3(t *testing.T) {
	bundle := testkit.WriteFile(t, t.TempDir(), "render.bundle", []byte("bundle"))
	o := mirrorOptions(new(int), bundle, "/srv/conda")
	log := &strings.Builder{}
	o.Stage, o.Log = true, log
	_, err := Plan(context.Background(), o)
	var se *MirrorStagingError
	if !errors.As(err, &se) || !errors.Is(err, ErrInput) || se.Bundle != bundle || se.Channel != "/srv/conda" {
		t.Fatalf("Plan: %v", err)
	}
	noFlag(t, err)
	if got := se.Message(func(Field) string { return "--mirror" }); !strings.HasPrefix(got, "--mirror "+bundle+" is a file on this machine") ||
		!strings.Contains(got, "/srv/conda is not an S3 channel") || !strings.HasSuffix(got, "give --mirror as s3://bucket/key") {
		t.Errorf("named: %s", got)
	}
	if log.Len() != 0 {
		t.Errorf("hashed before refusing: %s", log.String())
	}
}

func mustWd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}
