package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/condachan/condachan/jobbundle"
	"github.com/condachan/condachan/jobbundle/submitmeta"
	"github.com/condachan/condachan/pkgbuild"
	"github.com/condachan/condachan/pkgbuild/recipe"
	"github.com/condachan/condachan/recipes"
)

// jobPlan is what a job bundle will hold.
type jobPlan struct {
	Kind   jobbundle.Kind    `json:"kind"`
	Values map[string]string `json:"parameters"`
	Host   jobbundle.Host    `json:"-"`
	// Platform is the deadline-cloud.yaml entry the job builds, when there is one.
	Platform string `json:"platform,omitempty"`
	// recipe is the recipe rendered for the target (from recipeDir, "" for a shipped
	// one); given the --source-archive values; sources what the job is handed.
	recipe    *recipe.Recipe
	recipeDir string
	given     givenArchives
	sources   jobSources
}

// plans turns the flags into the jobs to write: one, or with a deadline-cloud.yaml
// beside the recipe one for each platform it selects. Everything that can be checked
// here is, before anything is written: the recipe renders for each target, every
// archive is one the recipe names and has the sha256 it gives, the binary is for the
// workers' OS and CPU.
func (f *jobFlags) plans(cmd *cobra.Command, stderr io.Writer) ([]*jobPlan, error) {
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
	if err := checkBuildNumber(f.buildNumber); err != nil {
		return nil, err
	}
	if err := checkParameter(jobbundle.Build, jobbundle.ParamCompression, f.compression); err != nil {
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
// --all-platforms, else those with defaultSubmit: true. Each must be one condachan can
// build.
func (f *jobFlags) selectPlatforms(cmd *cobra.Command, meta *submitMeta) ([]*submitmeta.Platform, error) {
	names := f.condaPlatforms
	switch {
	case cmd.Flags().Changed("target-platform"):
		names = []string{f.targetPlatform}
	case len(names) == 0 && !f.allPlatforms && len(f.sourceArchives) > 0:
		if t := inferTarget(f.recipe, archiveNames(f.sourceArchives)); t != "" {
			names = []string{t}
		}
	}
	entries, err := meta.file.Select(names, f.allPlatforms)
	if err != nil {
		return nil, usageError{fmt.Errorf("%w (--conda-platform NAME, or --all-platforms)", err)}
	}
	for _, e := range entries {
		if err := meta.file.CheckSubmittable(e); err != nil {
			return nil, usageError{err}
		}
	}
	if len(entries) > 1 && len(f.sourceArchives) > 0 {
		return nil, usageError{fmt.Errorf("--source-archive goes with one platform, and %d are selected (%s): pick one with --conda-platform", len(entries), platformNames(entries))}
	}
	return entries, nil
}

func platformNames(entries []*submitmeta.Platform) string {
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return strings.Join(names, ", ")
}

// plan makes one job: entry is the deadline-cloud.yaml entry it builds (nil without one).
func (f *jobFlags) plan(cmd *cobra.Command, stderr io.Writer, meta *submitMeta, entry *submitmeta.Platform) (*jobPlan, error) {
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
			if err := applyEntry(p, meta, entry, fl.Changed("vcpus"), fl.Changed("memory-mib")); err != nil {
				return nil, err
			}
		}
		if target, err = f.buildValues(cmd, p, target, meta, entry, stderr); err != nil {
			return nil, err
		}
	}

	workerOS := f.workerOS
	if p.recipe != nil && !p.recipe.Build.Script.Empty() {
		need := scriptWorkerOS(p.recipe)
		if workerOS != "" && workerOS != need {
			return nil, usageError{fmt.Errorf("--worker-os %s: recipe %s runs a build script (%s), which runs on %s workers: a script runs the vendor's installer for the OS it targets", workerOS, p.recipe.Package.Name, scriptName(p.recipe), need)}
		}
		workerOS = need
	}
	osName, arch, err := workerPlatform(target, workerOS, f.workerArch)
	if err != nil {
		return nil, err
	}
	p.Values[jobbundle.ParamWorkerOS] = osName
	p.Values[jobbundle.ParamWorkerArch] = arch
	if f.binary != "" {
		if err := checkBinary(f.binary, osName, arch); err != nil {
			return nil, usageError{fmt.Errorf("--binary: %w", err)}
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
		if err := applyJobParameters(p, meta, fl.Changed); err != nil {
			return nil, err
		}
	}
	if p.Kind == jobbundle.Build {
		if err := f.planArchives(cmd, p, meta, entry, stderr); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// planArchives finds, hashes and checks the archives the build job needs, last: it is
// the slow part. Unless they are to be staged, they become the bundle's values.
func (f *jobFlags) planArchives(cmd *cobra.Command, p *jobPlan, meta *submitMeta, entry *submitmeta.Platform, stderr io.Writer) error {
	var listed []string
	if entry != nil {
		listed = entry.SourceArchiveFilenames
	}
	var err error
	p.sources, err = planSources(cmd.Context(), p.recipe, p.Values[jobbundle.ParamCondaChannel], p.given, f.sourceSearch(meta, entry, p.recipeDir), listed, f.stagedCheck, stderr)
	if err != nil {
		return err
	}
	if f.stage {
		return p.sources.checkStaging()
	}
	return p.sources.archiveValues(p.Values)
}

// checkBuildNumber accepts the --build-number values `condachan build` takes: auto, a
// number of 0 or more, or empty for the recipe's.
func checkBuildNumber(v string) error {
	if v == "" || v == "auto" {
		return nil
	}
	if n, err := strconv.Atoi(v); err != nil || n < 0 {
		return usageError{fmt.Errorf("--build-number %q: expected auto, a number of 0 or more, or empty for the recipe's", v)}
	}
	return nil
}

// buildValues fills in the build bundle's recipe, archive and package values and returns
// the target platform. A recipe that sets build.string keeps its own build number unless
// --build-number was given (and then the job would fail as `condachan build
// --build-number` does, so it is refused here).
func (f *jobFlags) buildValues(cmd *cobra.Command, p *jobPlan, target string, meta *submitMeta, entry *submitmeta.Platform, stderr io.Writer) (string, error) {
	given, err := parseGivenArchives(f.sourceArchives)
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
		target = inferTarget(f.recipe, given.names())
		if target == "" {
			target = "linux-64"
		}
	}
	r, err := loadRecipe(f.recipe, target)
	if err != nil {
		return "", err
	}
	buildNumber := f.buildNumber
	if r.Build.String != "" {
		switch {
		case !cmd.Flags().Changed("build-number"):
			buildNumber = "" // the recipe's: the job passes no --build-number
		case buildNumber != "":
			if err := pkgbuild.CheckBuildNumberOverride(r); err != nil {
				return "", usageError{fmt.Errorf("--build-number %s: %w", buildNumber, err)}
			}
		}
	}
	p.recipe = r
	p.given, p.recipeDir = given, dir
	p.Values[jobbundle.ParamTargetPlatform] = target
	p.Values[jobbundle.ParamBuildNumber] = buildNumber
	p.Values[jobbundle.ParamCompression] = f.compression
	return target, nil
}

// sourceSearch lists the folders archives are looked for in, by file name: --source-dir
// folders, the sample catalogue's archive_files folder beside the recipe folders, the
// current folder. A recipe folder sent with the job carries its own files.
func (f *jobFlags) sourceSearch(meta *submitMeta, entry *submitmeta.Platform, recipeDir string) sourceSearch {
	s := sourceSearch{dirs: append([]string{}, f.sourceDirs...), recipeDir: recipeDir}
	if meta != nil && meta.dir != "" {
		s.dirs = append(s.dirs, filepath.Join(filepath.Dir(meta.dir), "archive_files"))
	}
	s.dirs = append(s.dirs, ".")
	if entry != nil {
		s.instructions = entry.SourceDownloadInstructions
	}
	return s
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
	label := []rune(recipeLabel(abs))
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

// archiveNames are the file names of --source-archive values (paths or s3:// URIs).
func archiveNames(archives []string) []string {
	var names []string
	for _, a := range archives {
		names = append(names, a[strings.LastIndexAny(a, `/\`)+1:])
	}
	return names
}

// recipeSource returns the recipe's archive source called name.
func recipeSource(r *recipe.Recipe, name string) (recipe.Source, error) {
	src, err := pkgbuild.ArchiveSource(r, name)
	if err != nil {
		return src, fmt.Errorf("--source-archive %w", err)
	}
	return src, nil
}

// submitMeta is a recipe's deadline-cloud.yaml; dir is the folder holding it on disk
// ("" for a shipped recipe's).
type submitMeta struct {
	file *submitmeta.File
	dir  string
}

// loadSubmitMeta reads the deadline-cloud.yaml that belongs to the recipe --recipe names,
// if it has one.
func loadSubmitMeta(arg string) (*submitMeta, error) {
	if dir, ok := findRecipeDir(arg); ok {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, err
		}
		root := filepath.Dir(filepath.Dir(abs)) // Find may look one folder up
		rel, err := filepath.Rel(root, abs)
		if err != nil {
			return nil, err
		}
		fsys := os.DirFS(root)
		name, ok := submitmeta.Find(fsys, filepath.ToSlash(rel))
		if !ok {
			return nil, nil
		}
		display := filepath.Join(root, filepath.FromSlash(name))
		file, err := submitmeta.Load(fsys, name, display)
		if err != nil {
			return nil, usageError{err}
		}
		return &submitMeta{file: file, dir: filepath.Dir(display)}, nil
	}
	if !recipes.Has(arg) {
		return nil, nil // resolveJobRecipe says so
	}
	name, ok := submitmeta.Find(recipes.FS, arg)
	if !ok {
		return nil, nil
	}
	file, err := submitmeta.Load(recipes.FS, name, "recipe "+arg+": "+submitmeta.FileName)
	if err != nil {
		return nil, usageError{err}
	}
	return &submitMeta{file: file}, nil
}

// templateRequirementAmounts are the amounts the build template sets, which
// additionalHostRequirements may raise (like --vcpus and --memory-mib) but not bound
// from above.
var templateRequirementAmounts = map[string]string{"amount.worker.vcpu": "--vcpus", "amount.worker.memory": "--memory-mib"}

// applyEntry takes the entry's additionalHostRequirements into the plan. The vCPU and
// memory minimums it gives apply unless --vcpus / --memory-mib are given; the OS family
// and CPU come from the platform.
func applyEntry(p *jobPlan, meta *submitMeta, e *submitmeta.Platform, vcpusSet, memorySet bool) error {
	for _, a := range e.AdditionalHostRequirements.Amounts {
		flag, own := templateRequirementAmounts[a.Name]
		if !own {
			p.Host.Amounts = append(p.Host.Amounts, jobbundle.Amount{Name: a.Name, Min: a.Min, Max: a.Max})
			continue
		}
		if a.Max != nil || a.Min == nil || *a.Min != float64(int(*a.Min)) {
			return usageError{&submitmeta.Error{Path: meta.file.Path, Line: a.Line, Msg: fmt.Sprintf("%s: condachan takes a whole minimum only (no max): it is what %s sets", a.Name, flag)}}
		}
		switch {
		case a.Name == "amount.worker.vcpu" && !vcpusSet:
			p.Host.VCPUs = int(*a.Min)
		case a.Name == "amount.worker.memory" && !memorySet:
			p.Host.MemoryMiB = int(*a.Min)
		}
	}
	for _, a := range e.AdditionalHostRequirements.Attributes {
		if a.Name == "attr.worker.os.family" || a.Name == "attr.worker.cpu.arch" {
			return usageError{&submitmeta.Error{Path: meta.file.Path, Line: a.Line, Msg: fmt.Sprintf("%s comes from the platform (%s) and --worker-os / --worker-arch: remove it", a.Name, e.Platform)}}
		}
		p.Host.Attributes = append(p.Host.Attributes, jobbundle.Attribute{Name: a.Name, AnyOf: a.AnyOf, AllOf: a.AllOf})
	}
	return nil
}

// jobParameterFlags are the build-bundle parameters deadline-cloud.yaml's jobParameters
// may set, with the flag that sets them instead. The others are what submit works out
// (recipe, archives, platform, workers, channel).
var jobParameterFlags = map[string]string{
	jobbundle.ParamCompression:   "compression",
	jobbundle.ParamBuildNumber:   "build-number",
	jobbundle.ParamS3EndpointURL: "worker-endpoint-url",
	jobbundle.ParamCondaPackages: "",
	jobbundle.ParamCondaChannels: "",
}

// applyJobParameters sets the values deadline-cloud.yaml's jobParameters give, unless a
// flag set the same value. With CondaChannels set and no CondaPackages, the Conda queue
// environment is asked for the recipe's requirements.build tools, which is what the
// sample's job installed from those channels.
func applyJobParameters(p *jobPlan, meta *submitMeta, flagSet func(string) bool) error {
	for _, jp := range meta.file.JobParameters {
		flag, ok := jobParameterFlags[jp.Name]
		if !ok {
			return usageError{&submitmeta.Error{Path: meta.file.Path, Line: jp.Line, Msg: fmt.Sprintf("jobParameters: condachan's build job has no parameter %s it takes from here (it takes: %s)", jp.Name, strings.Join(sortedKeys(jobParameterFlags), ", "))}}
		}
		if flag != "" && flagSet(flag) {
			continue
		}
		if flag == "build-number" {
			if err := checkBuildNumber(jp.Value); err != nil {
				return usageError{&submitmeta.Error{Path: meta.file.Path, Line: jp.Line, Msg: fmt.Sprintf("jobParameters: BuildNumber %q: expected auto, a number, or empty", jp.Value)}}
			}
		}
		p.Values[jp.Name] = jp.Value
	}
	if p.Values[jobbundle.ParamCondaChannels] != "" && p.Values[jobbundle.ParamCondaPackages] == "" && p.recipe != nil {
		var specs []string
		for _, req := range p.recipe.Requirements.Build {
			specs = append(specs, condaCLISpec(req.Spec))
		}
		if len(specs) > 0 {
			p.Values[jobbundle.ParamCondaPackages] = strings.Join(specs, " ")
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// condaCLISpec writes a match spec as one command-line word, as the Conda queue
// environment splits CondaPackages on spaces: "patchelf >=0.17" is patchelf>=0.17,
// "p7zip 16.02 h1234_0" is p7zip=16.02=h1234_0.
func condaCLISpec(spec string) string {
	fields := strings.Fields(spec)
	if len(fields) < 2 {
		return strings.Join(fields, "")
	}
	out := fields[0]
	for i, f := range fields[1:] {
		if i == 0 && strings.ContainsAny(f[:1], "<>=!~") {
			out += f
		} else {
			out += "=" + f
		}
	}
	return out
}

// checkParameter checks a value against the bundle's parameter definition, early:
// before archives are hashed.
func checkParameter(kind jobbundle.Kind, name, value string) error {
	tmpl, err := jobbundle.Load(kind)
	if err != nil {
		return err
	}
	p := tmpl.Parameter(name)
	if p == nil {
		return fmt.Errorf("the %s bundle has no parameter %s", kind, name)
	}
	return p.Accepts(value)
}
