package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/condachan/condachan/jobbundle"
	"github.com/condachan/condachan/jobbundle/plan"
	"github.com/condachan/condachan/jobbundle/submitmeta"
	"github.com/condachan/condachan/pkgbuild"
	"github.com/condachan/condachan/pkgbuild/recipe"
	"github.com/condachan/condachan/recipes"
)

// The job plans of `bundle write` and `submit` are package plan's.
type (
	jobPlan      = plan.Job
	stagedCheck  = plan.StagedCheck
	localArchive = plan.LocalArchive
)

// plans turns the flags into the jobs to write: one, or with a deadline-cloud.yaml
// beside the recipe one for each platform it selects. Everything that can be checked
// here is, before anything is written: the recipe renders for each target, every
// archive is one the recipe names and has the sha256 it gives, the binary is for the
// workers' OS and CPU.
func (f *jobFlags) plans(cmd *cobra.Command, stderr io.Writer) ([]*jobPlan, error) {
	plans, err := f.planJobs(cmd, stderr)
	if err != nil {
		return nil, jobFlagError(err)
	}
	return plans, nil
}

func (f *jobFlags) planJobs(cmd *cobra.Command, stderr io.Writer) ([]*jobPlan, error) {
	if f.vcpus < 0 || f.memoryMiB < 0 {
		return nil, usageError{errors.New("--vcpus and --memory-mib must not be negative")}
	}
	fl := cmd.Flags()
	if f.index {
		for _, name := range []string{"recipe", "source-archive", "source-dir", "target-platform", "conda-platform", "all-platforms", "build-number", "compression"} {
			if fl.Changed(name) {
				return nil, usageError{fmt.Errorf("--%s belongs to build jobs, not to --index", name)}
			}
		}
		p, err := f.plan(cmd, stderr, nil, nil)
		if err != nil {
			return nil, err
		}
		return []*jobPlan{p}, nil
	}
	if f.full {
		return nil, usageError{errors.New("--full goes with --index")}
	}
	if err := plan.CheckBuildNumber(f.buildNumber); err != nil {
		return nil, err
	}
	if err := plan.CheckParameter(jobbundle.Build, jobbundle.ParamCompression, f.compression); err != nil {
		return nil, usageError{fmt.Errorf("--compression: %w", err)}
	}
	if f.recipe == "" {
		return nil, usageError{errors.New("--recipe is required (a shipped recipe name or a recipe folder)")}
	}
	if len(f.condaPlatforms) > 0 && f.allPlatforms {
		return nil, usageError{errors.New("--conda-platform and --all-platforms do not go together")}
	}
	if len(f.condaPlatforms) > 0 && fl.Changed("target-platform") {
		return nil, usageError{errors.New("--conda-platform and --target-platform do not go together: --conda-platform names deadline-cloud.yaml entries")}
	}
	meta, err := loadSubmitMeta(f.recipe)
	if err != nil {
		return nil, err
	}
	if meta == nil {
		if len(f.condaPlatforms) > 0 || f.allPlatforms {
			return nil, usageError{fmt.Errorf("--conda-platform and --all-platforms select entries of a %s beside the recipe, and %s has none: use --target-platform", submitmeta.FileName, f.recipe)}
		}
		p, err := f.plan(cmd, stderr, nil, nil)
		if err != nil {
			return nil, err
		}
		return []*jobPlan{p}, nil
	}
	entries, err := f.selectPlatforms(cmd, meta)
	if err != nil {
		return nil, err
	}
	var out []*jobPlan
	for _, e := range entries {
		p, err := f.plan(cmd, stderr, meta, e)
		if err != nil {
			if len(entries) > 1 {
				return nil, fmt.Errorf("platform %s: %w", e.Name(), err)
			}
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// selectPlatforms picks the deadline-cloud.yaml entries to build: --conda-platform's,
// --target-platform's, the platform the --source-archive names belong to, every one with
// --all-platforms, else those with defaultSubmit: true.
func (f *jobFlags) selectPlatforms(cmd *cobra.Command, meta *plan.Meta) ([]*submitmeta.Platform, error) {
	names := f.condaPlatforms
	switch {
	case cmd.Flags().Changed("target-platform"):
		names = []string{f.targetPlatform}
	case len(names) == 0 && !f.allPlatforms && len(f.sourceArchives) > 0:
		if t := inferTarget(f.recipe, plan.ArchiveNames(f.sourceArchives)); t != "" {
			names = []string{t}
		}
	}
	return meta.SelectPlatforms(names, f.allPlatforms, len(f.sourceArchives) > 0)
}

// plan makes one job: entry is the deadline-cloud.yaml entry it builds (nil without one).
func (f *jobFlags) plan(cmd *cobra.Command, stderr io.Writer, meta *plan.Meta, entry *submitmeta.Platform) (*jobPlan, error) {
	p := &jobPlan{Kind: f.kind(), Values: map[string]string{}, Host: jobbundle.Host{VCPUs: f.vcpus, MemoryMiB: f.memoryMiB}}
	fl := cmd.Flags()
	channelURL, err := f.channelURL(cmd.Context(), stderr)
	if err != nil {
		return nil, err
	}
	p.Values[jobbundle.ParamCondaChannel] = channelURL

	target := f.targetPlatform
	if p.Kind == jobbundle.Build {
		if entry != nil {
			target = entry.Platform
			p.Platform = entry.Name()
			if err := p.ApplyEntry(meta, entry, func(field plan.Field) bool { return fl.Changed(fieldFlags[field]) }); err != nil {
				return nil, err
			}
		}
		if target, err = f.buildValues(cmd, p, target); err != nil {
			return nil, err
		}
	}

	workerOS, err := plan.WorkerOS(p.Recipe, f.workerOS)
	if err != nil {
		return nil, err
	}
	osName, arch, err := plan.WorkerPlatform(target, workerOS, f.workerArch)
	if err != nil {
		return nil, err
	}
	p.Values[jobbundle.ParamWorkerOS] = osName
	p.Values[jobbundle.ParamWorkerArch] = arch
	if f.binary != "" {
		if err := plan.CheckBinary(f.binary, osName, arch); err != nil {
			return nil, err
		}
		p.Values[jobbundle.ParamCondachanBinary] = f.binary
	}
	if f.workerEndpoint != "" {
		p.Values[jobbundle.ParamS3EndpointURL] = f.workerEndpoint
	}
	if p.Kind == jobbundle.Index && f.full {
		p.Values[jobbundle.ParamFullReindex] = "true"
	}
	if p.Kind == jobbundle.Build && meta != nil {
		if err := p.ApplyJobParameters(meta, func(param string) bool { return fl.Changed(jobParameterFlags[param]) }); err != nil {
			return nil, err
		}
	}
	if p.Kind == jobbundle.Build {
		// Last: hashing the archives is the slow part.
		search := plan.NewSearch(f.sourceDirs, meta, entry, p.RecipeDir)
		if err := p.PlanArchives(cmd.Context(), entry, search, f.stagedCheck, f.stage, stderr); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// buildValues fills in the build bundle's recipe, archive and package values and returns
// the target platform. A recipe that sets build.string keeps its own build number unless
// --build-number was given (and then the job would fail as `condachan build
// --build-number` does, so it is refused here).
func (f *jobFlags) buildValues(cmd *cobra.Command, p *jobPlan, target string) (string, error) {
	given, err := plan.ParseGiven(f.sourceArchives)
	if err != nil {
		return "", err
	}
	// A folder is sent with the job; a name is built from the worker's own condachan.
	name, dir, err := resolveJobRecipe(f.recipe)
	if err != nil {
		return "", err
	}
	p.Values[jobbundle.ParamRecipeName] = name
	if dir != "" {
		p.Values[jobbundle.ParamRecipeDir] = dir
	}
	if target == "" {
		target = inferTarget(f.recipe, given.Names())
		if target == "" {
			target = "linux-64"
		}
	}
	r, err := loadRecipe(f.recipe, target)
	if err != nil {
		return "", err
	}
	buildNumber, err := plan.BuildNumber(r, f.buildNumber, cmd.Flags().Changed("build-number"))
	if err != nil {
		return "", err
	}
	p.Recipe, p.Given, p.RecipeDir = r, given, dir
	p.Values[jobbundle.ParamTargetPlatform] = target
	p.Values[jobbundle.ParamBuildNumber] = buildNumber
	p.Values[jobbundle.ParamCompression] = f.compression
	return target, nil
}

// resolveJobRecipe tells a recipe folder (returned as an absolute path, with the folder
// name as the job's label) from a shipped recipe name. A name that is not shipped but is
// a folder under ./recipes (a checkout with a new recipe) is sent as a folder.
func resolveJobRecipe(arg string) (name, dir string, err error) {
	candidate, ok := findRecipeDir(arg)
	if !ok {
		if recipes.Has(arg) {
			return arg, "", nil
		}
		return "", "", usageError{fmt.Errorf("recipe %q not found: not a folder with %s, and not a shipped recipe (%s)", arg, recipe.FileName, strings.Join(recipes.Names(), ", "))}
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

// inferTarget picks the platform whose recipe names the archives
// (blender-...-windows-x64.zip is win-64); "" when no platform names them.
func inferTarget(recipeArg string, archiveNames []string) string {
	if len(archiveNames) == 0 {
		return ""
	}
	return pkgbuild.InferTarget(func(target string) (*recipe.Recipe, error) { return loadRecipe(recipeArg, target) }, archiveNames)
}

// loadSubmitMeta reads the deadline-cloud.yaml that belongs to the recipe --recipe names,
// if it has one.
func loadSubmitMeta(arg string) (*plan.Meta, error) {
	if dir, ok := findRecipeDir(arg); ok {
		return plan.LoadMeta(dir)
	}
	return plan.LoadShippedMeta(arg) // nil for no such recipe: resolveJobRecipe says so
}

// fieldFlags are the flags that set the inputs plan errors name.
var fieldFlags = map[plan.Field]string{
	plan.FieldBuildNumber:   "build-number",
	plan.FieldSourceArchive: "source-archive",
	plan.FieldVCPUs:         "vcpus",
	plan.FieldMemory:        "memory-mib",
	plan.FieldWorkerOS:      "worker-os",
	plan.FieldWorkerArch:    "worker-arch",
	plan.FieldBinary:        "binary",
	plan.FieldPlatform:      "conda-platform",
	plan.FieldAllPlatforms:  "all-platforms",
	plan.FieldStageSources:  "stage-source",
}

// jobParameterFlags are the flags that set build-bundle parameters deadline-cloud.yaml's
// jobParameters may set too: the flag wins.
var jobParameterFlags = map[string]string{
	jobbundle.ParamCompression:   "compression",
	jobbundle.ParamBuildNumber:   "build-number",
	jobbundle.ParamS3EndpointURL: "worker-endpoint-url",
}

// jobFlagError makes a planning error the CLI's: a usage error when what was given is at
// fault, with the inputs it names called by their flags.
func jobFlagError(err error) error {
	var fe plan.FieldError
	if errors.As(err, &fe) {
		name := func(field plan.Field) string { return "--" + fieldFlags[field] }
		if _, ok := fe.(*plan.NeedsStagingError); ok {
			// `bundle write` has no --stage-source: say which command has.
			name = func(field plan.Field) string { return "`condachan submit --" + fieldFlags[field] + "`" }
		}
		msg := err.Error()
		if own := fe.Error(); strings.Contains(msg, own) {
			msg = strings.Replace(msg, own, fe.Message(name), 1)
		} else {
			msg = fe.Message(name)
		}
		return usageError{flagHintError{msg: msg, err: err}}
	}
	if errors.Is(err, plan.ErrInput) {
		var usage usageError
		if !errors.As(err, &usage) {
			return usageError{err}
		}
	}
	return err
}

// flagHintError is an error with its message rewritten to name flags.
type flagHintError struct {
	msg string
	err error
}

func (e flagHintError) Error() string { return e.msg }
func (e flagHintError) Unwrap() error { return e.err }
