package plan

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/condachan/condachan/input"
	"github.com/condachan/condachan/jobbundle"
	"github.com/condachan/condachan/jobbundle/submitmeta"
	"github.com/condachan/condachan/pkgbuild"
	"github.com/condachan/condachan/pkgbuild/recipe"
	"github.com/condachan/condachan/recipes"
)

// Options are the jobs a front end asks for, as its user gave them.
type Options struct {
	// Kind is the bundle: jobbundle.Build, jobbundle.Index (reindex the channel), or
	// jobbundle.Mirror (publish the bundle Mirror).
	Kind jobbundle.Kind
	// Mirror is a mirror job's bundle (made by mirror pack): a file on this machine or
	// s3://bucket/key (ParseMirrorBundle). Jobs is its packages in flight (0: the
	// template's).
	Mirror string
	Jobs   int
	// Recipe is a recipe folder (sent with the job) or a shipped recipe's name (built
	// from the workers' own condachan).
	Recipe string
	// SourceArchives are local files and at most one s3://bucket/key (ParseGiven);
	// SourceDirs are looked in for the recipe's archives by file name (NewSearch).
	SourceArchives, SourceDirs []string
	// TargetPlatform is the conda subdir to build for (default: the platform the
	// archives' names belong to, else linux-64).
	TargetPlatform string
	// BuildNumber is auto, a number, or "" for the recipe's (CheckBuildNumber);
	// Compression is a value of the build bundle's Compression parameter.
	BuildNumber, Compression string
	// Platforms are the deadline-cloud.yaml entries to build, AllPlatforms every one
	// (default: those with defaultSubmit: true).
	Platforms    []string
	AllPlatforms bool
	// Full makes an index job read every package again.
	Full bool
	// Binary is a condachan binary sent with the job ("": the workers' own).
	Binary string
	// VCPUs and MemoryMiB are the workers' minimums (0: the template's).
	VCPUs, MemoryMiB int
	// WorkerOS and WorkerArch default from the target platform; WorkerEndpoint is the
	// S3 endpoint the workers use ("": the default).
	WorkerOS, WorkerArch, WorkerEndpoint string
	// Set reports whether the user set a field, rather than leaving its default: a value
	// set wins over deadline-cloud.yaml's, and an index job refuses build-job fields set.
	// Nil: none was set.
	Set func(Field) bool
	// Channel returns the channel a job publishes to (its CondaChannel value). It is
	// asked for each job, once the inputs are checked.
	Channel func(context.Context) (string, error)
	// Stage plans the local archives, or a mirror job's local bundle, to be staged in the
	// channel rather than attached; Staged, when set, finds sources not on this machine
	// staged there already.
	Stage  bool
	Staged StagedCheck
	// Log is told which archives are hashed.
	Log io.Writer
}

// buildOnly are the fields an index job refuses, in the order they are checked.
var buildOnly = []Field{FieldRecipe, FieldSourceArchive, FieldSourceDir, FieldTargetPlatform, FieldPlatform, FieldAllPlatforms, FieldBuildNumber, FieldCompression}

// jobParameterFields are the fields that set build-bundle parameters deadline-cloud.yaml's
// jobParameters may set too: a field set wins.
var jobParameterFields = map[string]Field{
	jobbundle.ParamCompression:   FieldCompression,
	jobbundle.ParamBuildNumber:   FieldBuildNumber,
	jobbundle.ParamS3EndpointURL: FieldWorkerEndpoint,
}

func (o *Options) set(f Field) bool { return o.Set != nil && o.Set(f) }

// Plan works out the jobs to write: one, or with a deadline-cloud.yaml beside the recipe
// one for each platform it selects. Everything that can be checked here is, before
// anything is written: the recipe renders for each target, every archive is one the
// recipe names and has the sha256 it gives, the binary is for the workers' OS and CPU.
func Plan(ctx context.Context, o Options) ([]*Job, error) {
	if o.VCPUs < 0 || o.MemoryMiB < 0 {
		return nil, input.Mark(&NegativeHostError{})
	}
	if o.Kind == jobbundle.Mirror {
		return o.planMirror(ctx)
	}
	if o.Jobs != 0 || o.set(FieldJobs) {
		return nil, input.Mark(&MirrorOnlyError{Field: FieldJobs})
	}
	if o.Kind == jobbundle.Index {
		for _, f := range buildOnly {
			if o.set(f) {
				return nil, input.Mark(&IndexJobError{Field: f})
			}
		}
		return o.one(ctx, nil, nil)
	}
	if err := o.checkBuild(); err != nil {
		return nil, err
	}
	meta, err := recipeMeta(o.Recipe)
	if err != nil {
		return nil, err
	}
	if meta == nil {
		if len(o.Platforms) > 0 || o.AllPlatforms {
			return nil, input.Mark(&NoMetaError{Recipe: o.Recipe})
		}
		return o.one(ctx, nil, nil)
	}
	entries, err := o.selectPlatforms(meta)
	if err != nil {
		return nil, err
	}
	var jobs []*Job
	for _, e := range entries {
		j, err := o.plan(ctx, meta, e)
		if err != nil {
			if len(entries) > 1 {
				return nil, fmt.Errorf("platform %s: %w", e.Name(), err)
			}
			return nil, err
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}

// one plans a single job, without deadline-cloud.yaml.
func (o *Options) one(ctx context.Context, meta *Meta, entry *submitmeta.Platform) ([]*Job, error) {
	j, err := o.plan(ctx, meta, entry)
	if err != nil {
		return nil, err
	}
	return []*Job{j}, nil
}

// checkBuild checks the inputs of build jobs that need no recipe to check.
func (o *Options) checkBuild() error {
	if o.Full {
		return input.Mark(&FullReindexError{})
	}
	if err := CheckBuildNumber(o.BuildNumber); err != nil {
		return err
	}
	if err := CheckParameter(jobbundle.Build, jobbundle.ParamCompression, o.Compression); err != nil {
		return input.Mark(&ParameterError{Field: FieldCompression, Err: err})
	}
	if o.Recipe == "" {
		return input.Mark(&RequiredError{Field: FieldRecipe, Want: "a shipped recipe name or a recipe folder"})
	}
	if len(o.Platforms) > 0 && o.AllPlatforms {
		return input.Mark(&ConflictError{A: FieldPlatform, B: FieldAllPlatforms})
	}
	if len(o.Platforms) > 0 && o.set(FieldTargetPlatform) {
		return input.Mark(&ConflictError{A: FieldPlatform, B: FieldTargetPlatform})
	}
	return nil
}

// recipeMeta reads the deadline-cloud.yaml of the recipe arg names, if it has one.
func recipeMeta(arg string) (*Meta, error) {
	if dir, ok := recipes.FindDir(arg); ok {
		return LoadMeta(dir)
	}
	return LoadShippedMeta(arg) // nil for no such recipe: resolveRecipe says so
}

// selectPlatforms picks the deadline-cloud.yaml entries to build: those named, the
// target platform's, the platform the source archives' names belong to, every one with
// AllPlatforms, else those with defaultSubmit: true.
func (o *Options) selectPlatforms(meta *Meta) ([]*submitmeta.Platform, error) {
	names := o.Platforms
	switch {
	case o.set(FieldTargetPlatform):
		names = []string{o.TargetPlatform}
	case len(names) == 0 && !o.AllPlatforms && len(o.SourceArchives) > 0:
		if t := inferTarget(o.Recipe, ArchiveNames(o.SourceArchives)); t != "" {
			names = []string{t}
		}
	}
	return meta.SelectPlatforms(names, o.AllPlatforms, len(o.SourceArchives) > 0)
}

// plan makes one job: entry is the deadline-cloud.yaml entry it builds (nil without one).
func (o *Options) plan(ctx context.Context, meta *Meta, entry *submitmeta.Platform) (*Job, error) {
	j := &Job{Kind: o.Kind, Values: map[string]string{}, Host: jobbundle.Host{VCPUs: o.VCPUs, MemoryMiB: o.MemoryMiB}}
	channelURL, err := o.Channel(ctx)
	if err != nil {
		return nil, err
	}
	j.Values[jobbundle.ParamCondaChannel] = channelURL
	target := o.TargetPlatform
	if j.Kind == jobbundle.Build {
		if entry != nil {
			target = entry.Platform
			j.Platform = entry.Name()
			if err := j.ApplyEntry(meta, entry, o.set); err != nil {
				return nil, err
			}
		}
		if target, err = o.buildValues(j, target); err != nil {
			return nil, err
		}
	}
	if err := o.workerValues(j, target); err != nil {
		return nil, err
	}
	if j.Kind == jobbundle.Index && o.Full {
		j.Values[jobbundle.ParamFullReindex] = "true"
	}
	if j.Kind != jobbundle.Build {
		return j, nil
	}
	if meta != nil {
		setParam := func(param string) bool { f, ok := jobParameterFields[param]; return ok && o.set(f) }
		if err := j.ApplyJobParameters(meta, setParam); err != nil {
			return nil, err
		}
	}
	// Last: hashing the archives is the slow part.
	search := NewSearch(o.SourceDirs, meta, entry, j.RecipeDir)
	if err := j.PlanArchives(ctx, entry, search, o.Staged, o.Stage, o.Log); err != nil {
		return nil, err
	}
	return j, nil
}

// workerValues sets the workers' OS and CPU, the binary sent to them and their S3
// endpoint.
func (o *Options) workerValues(j *Job, target string) error {
	workerOS, err := WorkerOS(j.Recipe, o.WorkerOS)
	if err != nil {
		return err
	}
	osName, arch, err := WorkerPlatform(target, workerOS, o.WorkerArch)
	if err != nil {
		return err
	}
	j.Values[jobbundle.ParamWorkerOS] = osName
	j.Values[jobbundle.ParamWorkerArch] = arch
	if o.Binary != "" {
		if err := CheckBinary(o.Binary, osName, arch); err != nil {
			return err
		}
		j.Values[jobbundle.ParamCondachanBinary] = o.Binary
	}
	if o.WorkerEndpoint != "" {
		j.Values[jobbundle.ParamS3EndpointURL] = o.WorkerEndpoint
	}
	return nil
}

// buildValues fills in the build bundle's recipe, archive and package values and returns
// the target platform. A recipe that sets build.string keeps its own build number
// unless one was set (and then the job would fail as `condachan build` given one does,
// so it is refused here).
func (o *Options) buildValues(j *Job, target string) (string, error) {
	given, err := ParseGiven(o.SourceArchives)
	if err != nil {
		return "", err
	}
	// A folder is sent with the job; a name is built from the worker's own condachan.
	name, dir, err := resolveRecipe(o.Recipe)
	if err != nil {
		return "", err
	}
	j.Values[jobbundle.ParamRecipeName] = name
	if dir != "" {
		j.Values[jobbundle.ParamRecipeDir] = dir
	}
	if target == "" {
		if target = inferTarget(o.Recipe, given.Names()); target == "" {
			target = "linux-64"
		}
	}
	r, err := recipes.Load(o.Recipe, target)
	if err != nil {
		return "", err
	}
	buildNumber, err := BuildNumber(r, o.BuildNumber, o.set(FieldBuildNumber))
	if err != nil {
		return "", err
	}
	j.Recipe, j.Given, j.RecipeDir = r, given, dir
	j.Values[jobbundle.ParamTargetPlatform] = target
	j.Values[jobbundle.ParamBuildNumber] = buildNumber
	j.Values[jobbundle.ParamCompression] = o.Compression
	return target, nil
}

// resolveRecipe tells a recipe folder (returned as an absolute path, with the folder
// name as the job's label) from a shipped recipe name. A name that is not shipped but is
// a folder under ./recipes (a checkout with a new recipe) is sent as a folder.
func resolveRecipe(arg string) (name, dir string, err error) {
	candidate, ok := recipes.FindDir(arg)
	if !ok {
		if recipes.Has(arg) {
			return arg, "", nil
		}
		return "", "", input.Mark(&recipes.NotFoundError{Name: arg})
	}
	abs, err := filepath.Abs(candidate)
	if err != nil {
		return "", "", err
	}
	label := []rune(recipes.Label(abs))
	if len(label) > 64 { // RecipeName's maxLength: it names the job
		label = label[:64]
	}
	return string(label), abs, nil
}

// inferTarget picks the platform whose rendering of the recipe names the archives
// (blender-...-windows-x64.zip is win-64); "" when no platform names them.
func inferTarget(recipeArg string, archiveNames []string) string {
	return pkgbuild.InferTarget(func(target string) (*recipe.Recipe, error) { return recipes.Load(recipeArg, target) }, archiveNames)
}

// BundleName names the job's bundle in messages: "the build job bundle for win-64".
func (j *Job) BundleName() string {
	name := fmt.Sprintf("the %s job bundle", j.Kind)
	if j.Platform != "" {
		name += " for " + j.Platform
	}
	return name
}
