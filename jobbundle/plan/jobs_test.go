package plan

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/condachan/condachan/jobbundle"
	"github.com/condachan/condachan/recipes"
)

// planOptions are options that plan against the channel s3://b/c, counting the times
// the channel is asked for; set lists the fields the user set.
func planOptions(count *int, set ...Field) Options {
	return Options{
		Kind:        jobbundle.Build,
		BuildNumber: "auto",
		Compression: "default",
		Set: func(f Field) bool {
			for _, s := range set {
				if s == f {
					return true
				}
			}
			return false
		},
		Channel: func(context.Context) (string, error) { *count++; return "s3://b/c", nil },
		Log:     &bytes.Buffer{},
	}
}

// Inputs that cannot be planned are refused with errors naming fields, before the
// channel is asked for.
func TestPlanRefusals(t *testing.T) {
	recipeDir, _ := catalogue(t, sampleDeadlineYAML)
	var asked int
	for _, c := range []struct {
		name   string
		change func(*Options)
		set    []Field
		want   string
		target any
	}{
		{"negative vCPUs", func(o *Options) { o.VCPUs = -1 }, nil,
			"the job's vCPU minimum and the job's memory minimum must not be negative", new(*NegativeHostError)},
		{"recipe for an index job", func(o *Options) { o.Kind = jobbundle.Index; o.Recipe = "x" }, []Field{FieldRecipe},
			"recipe belongs to build jobs, not to the index job", new(*IndexJobError)},
		{"compression for an index job", func(o *Options) { o.Kind = jobbundle.Index }, []Field{FieldCompression},
			"compression belongs to build jobs, not to the index job", new(*IndexJobError)},
		{"full reindex of a build", func(o *Options) { o.Full = true }, nil,
			"full reindex goes with the index job", new(*FullReindexError)},
		{"bad build number", func(o *Options) { o.BuildNumber = "next" }, nil,
			`build number "next": expected auto`, new(*BuildNumberError)},
		{"bad compression", func(o *Options) { o.Compression = "ultra" }, nil,
			"compression: ", new(*ParameterError)},
		{"no recipe", func(o *Options) {}, nil,
			"recipe is required (a shipped recipe name or a recipe folder)", new(*RequiredError)},
		{"platforms and all", func(o *Options) { o.Recipe = recipeDir; o.Platforms = []string{"win-64"}; o.AllPlatforms = true }, nil,
			"platform and all platforms do not go together", new(*ConflictError)},
		{"platforms and a target", func(o *Options) { o.Recipe = recipeDir; o.Platforms = []string{"win-64"} }, []Field{FieldTargetPlatform},
			"platform and target platform do not go together: platform names deadline-cloud.yaml entries", new(*ConflictError)},
		{"platforms without deadline-cloud.yaml", func(o *Options) { o.Recipe = "condachan-example"; o.AllPlatforms = true }, nil,
			"platform and all platforms select entries of a deadline-cloud.yaml beside the recipe, and condachan-example has none: use target platform", new(*NoMetaError)},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := planOptions(&asked, c.set...)
			c.change(&o)
			wantRefused(t, o, c.want, c.target)
		})
	}
	if asked != 0 {
		t.Errorf("the channel was asked for %d times before the inputs were checked", asked)
	}
}

// A recipe that is neither a folder nor shipped is refused as input.
func TestPlanUnknownRecipe(t *testing.T) {
	var asked int
	o := planOptions(&asked)
	o.Recipe = "houdini-20"
	_, err := Plan(context.Background(), o)
	var nf *recipes.NotFoundError
	if !errors.As(err, &nf) || !errors.Is(err, ErrInput) {
		t.Errorf("Plan: %v", err)
	}
}

// The channel's error stops the plan as it is.
func TestPlanChannelError(t *testing.T) {
	o := planOptions(new(int))
	o.Recipe = "condachan-example"
	failed := errors.New("no channel")
	o.Channel = func(context.Context) (string, error) { return "", failed }
	if _, err := Plan(context.Background(), o); !errors.Is(err, failed) {
		t.Errorf("Plan: %v", err)
	}
}

// An index job has the channel, the workers and the full reindex; a build job of a
// shipped recipe has its name, the target platform and no archive to hand over.
func TestPlanOneJob(t *testing.T) {
	var asked int
	o := planOptions(&asked)
	o.Kind, o.BuildNumber, o.Compression, o.Full = jobbundle.Index, "", "", true
	jobs, err := Plan(context.Background(), o)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("index: %v, %v", jobs, err)
	}
	v := jobs[0].Values
	if v[jobbundle.ParamCondaChannel] != "s3://b/c" || v[jobbundle.ParamFullReindex] != "true" || v[jobbundle.ParamWorkerOS] != "linux" || jobs[0].BundleName() != "the index job bundle" {
		t.Errorf("index job: %v (%s)", v, jobs[0].BundleName())
	}

	o = planOptions(&asked)
	o.Recipe, o.TargetPlatform, o.WorkerEndpoint = "condachan-example", "osx-arm64", "https://vpce.example"
	jobs, err = Plan(context.Background(), o)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("build: %v, %v", jobs, err)
	}
	v = jobs[0].Values
	if v[jobbundle.ParamRecipeName] != "condachan-example" || v[jobbundle.ParamRecipeDir] != "" || v[jobbundle.ParamTargetPlatform] != "osx-arm64" ||
		v[jobbundle.ParamWorkerOS] != "macos" || v[jobbundle.ParamWorkerArch] != "arm64" || v[jobbundle.ParamBuildNumber] != "auto" || v[jobbundle.ParamS3EndpointURL] != "https://vpce.example" {
		t.Errorf("build job: %v", v)
	}
	if asked != 2 {
		t.Errorf("the channel was asked for %d times for 2 jobs", asked)
	}
}

// With a deadline-cloud.yaml, the default entries make one job each, with their
// platform and archives; a value the user set wins over its jobParameters, one not set
// yields to them.
func TestPlanEntries(t *testing.T) {
	recipeDir, _ := catalogue(t, sampleDeadlineYAML)
	var asked int
	o := planOptions(&asked, FieldCompression)
	o.Recipe = recipeDir
	o.Compression = "fast"
	jobs, err := Plan(context.Background(), o)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("Plan: %v, %v", jobs, err)
	}
	for i, want := range []string{"linux-64", "win-64"} {
		j := jobs[i]
		if j.Platform != want || j.Values[jobbundle.ParamTargetPlatform] != want || j.Values[jobbundle.ParamRecipeDir] != recipeDir ||
			j.Values[jobbundle.ParamRecipeName] != filepath.Base(filepath.Dir(recipeDir)) || j.Values[jobbundle.ParamCompression] != "fast" {
			t.Errorf("job %d: %s %v", i, j.Platform, j.Values)
		}
		if j.BundleName() != "the build job bundle for "+want {
			t.Errorf("job %d: %s", i, j.BundleName())
		}
		if len(j.Sources.Local) != 1 {
			t.Errorf("job %d: archives %+v", i, j.Sources)
		}
	}
	if asked != 2 {
		t.Errorf("the channel was asked for %d times for 2 jobs", asked)
	}

	// One platform picked by its archive's name, with the error of one entry named.
	o = planOptions(&asked)
	o.Recipe = recipeDir
	o.SourceArchives = []string{"s3://bucket/sources/StudioApp_2025_Windows.zip"}
	jobs, err = Plan(context.Background(), o)
	if err != nil || len(jobs) != 1 || jobs[0].Platform != "win-64" || jobs[0].Values[jobbundle.ParamSourceArchiveURI] == "" {
		t.Fatalf("archive's platform: %v, %v", jobs, err)
	}
	o = planOptions(&asked)
	o.Recipe, o.Platforms, o.WorkerOS = recipeDir, []string{"linux-64", "win-64"}, "plan9"
	if _, err := Plan(context.Background(), o); err == nil || !strings.HasPrefix(err.Error(), "platform linux-64: ") {
		t.Errorf("an entry's error: %v", err)
	}
}

// wantRefused plans o and wants it refused as input, with a typed error like target whose
// message holds want and names no flag.
func wantRefused(t *testing.T, o Options, want string, target any) {
	t.Helper()
	_, err := Plan(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrInput) || !errors.As(err, target) {
		t.Fatalf("Plan: %v, want %q (%T)", err, want, target)
	}
	noFlag(t, err)
}
