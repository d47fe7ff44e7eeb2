// Package plan works out the jobs that condachan's job bundles (package jobbundle) run,
// before any bundle is written: the parameter values and host requirements of a build,
// index or mirror job, the deadline-cloud.yaml entries (package submitmeta) to build one
// job each for, and the source archives each build job is handed, found, hashed and
// checked against the recipe's sha256.
//
// A front end (the condachan CLI) puts what its user gave into Options and calls Plan,
// which finds and renders the recipe, checks every input and returns the jobs; it asks
// the front end for the channel (Options.Channel). Errors name no command-line flags: an
// error about an input is a FieldError, whose Message names the input as the front end
// wants (its flag), and every error caused by what was given rather than by the system
// matches ErrInput.
package plan

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/condachan/condachan/input"
	"github.com/condachan/condachan/jobbundle"
	"github.com/condachan/condachan/jobbundle/submitmeta"
	"github.com/condachan/condachan/pkgbuild"
	"github.com/condachan/condachan/pkgbuild/recipe"
	"github.com/condachan/condachan/recipes"
)

// Job is what a job bundle will hold. It marshals to JSON as its kind, parameters and
// platform.
type Job struct {
	Kind   jobbundle.Kind    `json:"kind"`
	Values map[string]string `json:"parameters"`
	Host   jobbundle.Host    `json:"-"`
	// Platform is the deadline-cloud.yaml entry the job builds, when there is one.
	Platform string `json:"platform,omitempty"`
	// Recipe is the recipe rendered for the target, from RecipeDir ("" for a shipped
	// one); Given are the source archives given; Sources what the job is handed
	// (PlanArchives).
	Recipe    *recipe.Recipe `json:"-"`
	RecipeDir string         `json:"-"`
	Given     Given          `json:"-"`
	Sources   Sources        `json:"-"`
	// Bundle is a mirror job's bundle on this machine, hashed, when it is to be staged.
	Bundle *LocalArchive `json:"-"`
}

// Meta is a recipe's deadline-cloud.yaml; Dir is the folder holding it on disk ("" for
// a shipped recipe's).
type Meta struct {
	File *submitmeta.File
	Dir  string
}

// LoadMeta reads the deadline-cloud.yaml that belongs to the recipe folder dir (beside
// it, or one folder up, as the sample catalogue keeps it); nil if it has none.
func LoadMeta(dir string) (*Meta, error) {
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
		return nil, input.Mark(err)
	}
	return &Meta{File: file, Dir: filepath.Dir(display)}, nil
}

// LoadShippedMeta reads the deadline-cloud.yaml of the shipped recipe name; nil if it
// has none, or there is no such recipe.
func LoadShippedMeta(name string) (*Meta, error) {
	if !recipes.Has(name) {
		return nil, nil
	}
	file, ok := submitmeta.Find(recipes.FS, name)
	if !ok {
		return nil, nil
	}
	f, err := submitmeta.Load(recipes.FS, file, "recipe "+name+": "+submitmeta.FileName)
	if err != nil {
		return nil, input.Mark(err)
	}
	return &Meta{File: f}, nil
}

// SelectPlatforms picks the entries to build: those named, every one with all, else
// those with defaultSubmit: true. Each must be one condachan can build, and with source
// archives given only one may be picked: archives belong to one platform.
func (m *Meta) SelectPlatforms(names []string, all, archivesGiven bool) ([]*submitmeta.Platform, error) {
	entries, err := m.File.Select(names, all)
	if err != nil {
		return nil, input.Mark(&SelectError{Err: err})
	}
	for _, e := range entries {
		if err := m.File.CheckSubmittable(e); err != nil {
			return nil, input.Mark(err)
		}
	}
	if len(entries) > 1 && archivesGiven {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return nil, input.Mark(&OnePlatformError{Platforms: names})
	}
	return entries, nil
}

// templateAmounts are the amounts the build template sets, which
// additionalHostRequirements may raise but not bound from above.
var templateAmounts = map[string]Field{"amount.worker.vcpu": FieldVCPUs, "amount.worker.memory": FieldMemory}

// ApplyEntry takes the entry's additionalHostRequirements into the job. The vCPU and
// memory minimums it gives apply unless set reports the caller set them (FieldVCPUs,
// FieldMemory); the OS family and CPU come from the platform.
func (j *Job) ApplyEntry(meta *Meta, e *submitmeta.Platform, set func(Field) bool) error {
	for _, a := range e.AdditionalHostRequirements.Amounts {
		field, own := templateAmounts[a.Name]
		if !own {
			j.Host.Amounts = append(j.Host.Amounts, jobbundle.Amount{Name: a.Name, Min: a.Min, Max: a.Max})
			continue
		}
		if a.Max != nil || a.Min == nil || *a.Min != float64(int(*a.Min)) {
			return input.Mark(&AmountError{Path: meta.File.Path, Line: a.Line, Name: a.Name, Field: field})
		}
		if set != nil && set(field) {
			continue
		}
		switch field {
		case FieldVCPUs:
			j.Host.VCPUs = int(*a.Min)
		case FieldMemory:
			j.Host.MemoryMiB = int(*a.Min)
		}
	}
	for _, a := range e.AdditionalHostRequirements.Attributes {
		if a.Name == "attr.worker.os.family" || a.Name == "attr.worker.cpu.arch" {
			return input.Mark(&AttributeError{Path: meta.File.Path, Line: a.Line, Name: a.Name, Platform: e.Platform})
		}
		j.Host.Attributes = append(j.Host.Attributes, jobbundle.Attribute{Name: a.Name, AnyOf: a.AnyOf, AllOf: a.AllOf})
	}
	return nil
}

// JobParameters are the build-bundle parameters deadline-cloud.yaml's jobParameters may
// set. The others are what the submitter works out (recipe, archives, platform,
// workers, channel).
var JobParameters = []string{
	jobbundle.ParamBuildNumber,
	jobbundle.ParamCompression,
	jobbundle.ParamCondaChannels,
	jobbundle.ParamCondaPackages,
	jobbundle.ParamS3EndpointURL,
}

// ApplyJobParameters sets the values deadline-cloud.yaml's jobParameters give, unless
// set reports the caller set that parameter itself. With CondaChannels set and no
// CondaPackages, the Conda queue environment is asked for the recipe's
// requirements.build tools, which is what the sample's job installed from those
// channels.
func (j *Job) ApplyJobParameters(meta *Meta, set func(param string) bool) error {
	takes := map[string]bool{}
	for _, p := range JobParameters {
		takes[p] = true
	}
	for _, jp := range meta.File.JobParameters {
		if !takes[jp.Name] {
			sorted := append([]string{}, JobParameters...)
			sort.Strings(sorted)
			return input.Mark(&submitmeta.Error{Path: meta.File.Path, Line: jp.Line, Msg: fmt.Sprintf("jobParameters: condachan's build job has no parameter %s it takes from here (it takes: %s)", jp.Name, strings.Join(sorted, ", "))})
		}
		if set != nil && set(jp.Name) {
			continue
		}
		if jp.Name == jobbundle.ParamBuildNumber {
			if err := CheckBuildNumber(jp.Value); err != nil {
				return input.Mark(&submitmeta.Error{Path: meta.File.Path, Line: jp.Line, Msg: fmt.Sprintf("jobParameters: BuildNumber %q: expected auto, a number, or empty", jp.Value)})
			}
		}
		j.Values[jp.Name] = jp.Value
	}
	if j.Values[jobbundle.ParamCondaChannels] != "" && j.Values[jobbundle.ParamCondaPackages] == "" && j.Recipe != nil {
		var specs []string
		for _, req := range j.Recipe.Requirements.Build {
			specs = append(specs, CondaCLISpec(req.Spec))
		}
		if len(specs) > 0 {
			j.Values[jobbundle.ParamCondaPackages] = strings.Join(specs, " ")
		}
	}
	return nil
}

// CondaCLISpec writes a match spec as one command-line word, as the Conda queue
// environment splits CondaPackages on spaces: "patchelf >=0.17" is patchelf>=0.17,
// "p7zip 16.02 h1234_0" is p7zip=16.02=h1234_0.
func CondaCLISpec(spec string) string {
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

// CheckBuildNumber accepts the build numbers `condachan build` takes: auto, a number of
// 0 or more, or empty for the recipe's. Others are a *BuildNumberError.
func CheckBuildNumber(v string) error {
	if v == "" || v == "auto" {
		return nil
	}
	if n, err := strconv.Atoi(v); err != nil || n < 0 {
		return input.Mark(&BuildNumberError{Value: v})
	}
	return nil
}

// BuildNumber is the BuildNumber value of a job building r from value, the build number
// asked for (given: by the caller, not by default). A recipe that sets build.string
// keeps its own build number: "" (the job passes none) unless one was given, and a
// given one other than "" is refused with a *BuildNumberOverrideError, as the job's
// build would refuse it.
func BuildNumber(r *recipe.Recipe, value string, given bool) (string, error) {
	if r.Build.String == "" {
		return value, nil
	}
	switch {
	case !given:
		return "", nil
	case value != "":
		if err := pkgbuild.CheckBuildNumberOverride(r); err != nil {
			return "", input.Mark(&BuildNumberOverrideError{Value: value, Err: err})
		}
	}
	return value, nil
}

// CheckParameter checks a value against the bundle's parameter definition, early:
// before archives are hashed.
func CheckParameter(kind jobbundle.Kind, name, value string) error {
	tmpl, err := jobbundle.Load(kind)
	if err != nil {
		return err
	}
	p := tmpl.Parameter(name)
	if p == nil {
		return fmt.Errorf("the %s bundle has no parameter %s", kind, name)
	}
	if err := p.Accepts(value); err != nil {
		return input.Mark(err)
	}
	return nil
}
