package publish

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/input"
	"github.com/condachan/condachan/internal/progress"
	"github.com/condachan/condachan/pkgbuild"
	"github.com/condachan/condachan/pkgbuild/recipe"
	"github.com/condachan/condachan/recipes"
)

// BuildRequest is a package to build (pkgbuild.Build) and, given a channel, to publish
// there: the recipe is found and rendered here, its archives may be local files, S3
// objects or staged in the channel, and its build number may be the next free one in
// the channel.
type BuildRequest struct {
	// Recipe names the recipe (recipes.Load), rendered for Target, or with InferTarget
	// for the platform the SourceArchives' names belong to when one does.
	Recipe      string
	Target      string
	InferTarget bool
	// SourceArchives are local files and s3://bucket/key objects (SourceArchives, opened
	// with ChannelOptions); SourceDirs are looked in by file name, then the current
	// folder and the recipe folder.
	SourceArchives, SourceDirs []string
	ChannelOptions             channel.Options
	// Channel, when set, opens the channel to publish to, whose staging area the
	// archives are looked for in last; ChannelURL names it in messages.
	Channel    func(context.Context) (channel.Store, error)
	ChannelURL string
	// BuildNumber overrides the recipe's build number (ParseBuildNumber): "" keeps it,
	// "auto" reserves the next free one in the channel (NextBuildNumber).
	BuildNumber string
	// Build is the rest of the build: its Recipe, SourceArchives, RemoteArchives,
	// SearchDirs, Staged, BuildNumber and Progress are set here.
	Build pkgbuild.Options
	// Publish publishes the package; its Progress is set here.
	Publish Options
	// NewProgress makes the reporter of the build, then the one of the publish (nil:
	// none).
	NewProgress func() progress.Reporter
	// Warn, when set, is told the recipe's and the build's warnings.
	Warn func(string)
}

// BuildResult is a package built, and published when there was a channel.
type BuildResult struct {
	*pkgbuild.Result
	Publish *Result `json:"publish,omitempty"`
}

// BuildNumberError is a build number that cannot be used: Value (a number, or "auto"
// for the next free one) and why (Err): pkgbuild's *BuildStringConflictError for a
// recipe that keeps its own, or the failure to reserve the next free one.
type BuildNumberError struct {
	Value string
	Err   error
}

func (e *BuildNumberError) Error() string { return fmt.Sprintf("build number %s: %v", e.Value, e.Err) }
func (e *BuildNumberError) Unwrap() error { return e.Err }

// BuildNumberSyntaxError is a build number that is none of "", "auto" and a number of 0
// or more.
type BuildNumberSyntaxError struct{ Value string }

func (e *BuildNumberSyntaxError) Error() string {
	return fmt.Sprintf("build number: expected a number of 0 or more, got %q", e.Value)
}

// Is makes the error match input.ErrInvalid: what was given is at fault.
func (*BuildNumberSyntaxError) Is(target error) bool { return target == input.ErrInvalid }

// ErrAutoNeedsChannel is the next free build number asked for without a channel.
var ErrAutoNeedsChannel = errors.New("the next free build number needs a channel to reserve it in")

// ParseBuildNumber reads a build number override: nil for "" (the recipe's) and "auto"
// (the next free one, reserved in the channel by Build: a *BuildNumberError without
// one), else a number of 0 or more (or a *BuildNumberSyntaxError).
func ParseBuildNumber(v string, haveChannel bool) (*int, error) {
	switch {
	case v == "auto" && !haveChannel:
		return nil, input.Mark(&BuildNumberError{Value: v, Err: ErrAutoNeedsChannel})
	case v == "" || v == "auto":
		return nil, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return nil, &BuildNumberSyntaxError{Value: v}
	}
	return &n, nil
}

// Build builds the package of req, and publishes it when req has a channel. The
// archives' errors are SourceArchives', the recipe's recipes.Load's; a build number the
// recipe refuses is a *BuildNumberError, found before anything is reserved. A package
// built that cannot be published is a *BuiltNotPublishedError.
func Build(ctx context.Context, req BuildRequest) (*BuildResult, error) {
	opts := req.Build
	var err error
	if opts.BuildNumber, err = ParseBuildNumber(req.BuildNumber, req.Channel != nil); err != nil {
		return nil, err
	}
	r, err := req.recipe()
	if err != nil {
		return nil, err
	}
	for _, w := range r.Warnings {
		req.warn(w)
	}
	opts.Recipe = r
	opts.SearchDirs = append(append([]string{}, req.SourceDirs...), ".")
	if r.Dir != "" {
		opts.SearchDirs = append(opts.SearchDirs, r.Dir)
	}
	if opts.SourceArchives, opts.RemoteArchives, err = SourceArchives(ctx, req.SourceArchives, req.ChannelOptions); err != nil {
		return nil, err
	}
	var store channel.Store
	if req.Channel != nil {
		if store, err = req.Channel(ctx); err != nil {
			return nil, err
		}
		if err := req.fromChannel(ctx, store, &opts); err != nil {
			return nil, err
		}
	}
	opts.Progress = req.progress()
	built, err := pkgbuild.Build(ctx, opts)
	opts.Progress.Finish()
	if err != nil {
		return nil, err
	}
	for _, w := range built.Warnings {
		req.warn(w)
	}
	res := &BuildResult{Result: built}
	if store != nil {
		pubOpts := req.Publish
		pubOpts.Progress = req.progress()
		res.Publish, err = Built(ctx, store, built.Path, pubOpts)
		pubOpts.Progress.Finish()
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

// recipe loads the recipe for the target, and checks that it takes a build number
// given: before anything else, as auto would reserve one in the channel.
func (req *BuildRequest) recipe() (*recipe.Recipe, error) {
	target := req.Target
	if req.InferTarget {
		// The archives say which platform: blender-4.1.1-windows-x64.zip builds win-64.
		load := func(target string) (*recipe.Recipe, error) { return recipes.Load(req.Recipe, target) }
		if t := pkgbuild.InferTarget(load, pkgbuild.ArchiveNames(req.SourceArchives)); t != "" {
			target = t
		}
	}
	r, err := recipes.Load(req.Recipe, target)
	if err != nil {
		return nil, err
	}
	if req.BuildNumber != "" {
		if err := pkgbuild.CheckBuildNumberOverride(r); err != nil {
			return nil, &BuildNumberError{Value: req.BuildNumber, Err: err}
		}
	}
	return r, nil
}

// fromChannel looks for the archives in the channel's staging area too (where `submit
// --stage-source` puts them), and has the build reserve the build number there once its
// sources are found.
func (req *BuildRequest) fromChannel(ctx context.Context, store channel.Store, opts *pkgbuild.Options) error {
	var err error
	if opts.Staged, err = StagedSources(ctx, store, req.ChannelURL); err != nil {
		return err
	}
	if req.auto() {
		r := opts.Recipe
		opts.ReserveBuildNumber = func() (int, error) {
			n, err := NextBuildNumber(ctx, store, r.Subdir(), r.Package.Name, r.Package.Version)
			if err != nil {
				return 0, &BuildNumberError{Value: "auto", Err: err}
			}
			return n, nil
		}
	}
	return nil
}

func (req *BuildRequest) auto() bool { return req.BuildNumber == "auto" }

func (req *BuildRequest) warn(w string) {
	if req.Warn != nil {
		req.Warn(w)
	}
}

func (req *BuildRequest) progress() progress.Reporter {
	if req.NewProgress == nil {
		return progress.Nop{}
	}
	return req.NewProgress()
}
