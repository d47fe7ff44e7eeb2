package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/internal/progress"
	"github.com/condachan/condachan/jobbundle/plan"
	"github.com/condachan/condachan/pkgbuild"
	"github.com/condachan/condachan/pkgbuild/condapkg"
	"github.com/condachan/condachan/pkgbuild/recipe"
	"github.com/condachan/condachan/publish"
	"github.com/condachan/condachan/recipes"
)

type buildFlags struct {
	recipe         string
	sourceArchives []string
	sourceDirs     []string
	targetPlatform string
	outputDir      string
	buildNumber    string
	compression    string
	progress       string
	json           bool
	channel        channelFlags
	force          bool
	noTest         bool
	keepWork       bool
}

func newBuildCommand(stdout, stderr io.Writer) *cobra.Command {
	var f buildFlags
	cmd := &cobra.Command{
		Use:   "build --recipe NAME|DIR [flags]",
		Short: "Build a .conda package from a recipe and its upstream archive",
		Long: `Build a .conda package from a recipe and its upstream archive, in one streaming pass:
the archive is decoded, hashed and recompressed into the package without being extracted.

--recipe takes a shipped recipe name (see the list below, also built into this binary) or
a folder holding recipe.yaml. The archive a recipe names is looked up by file name among
--source-archive files, in --source-dir folders, the current folder and the recipe folder,
and with --channel last in the channel's staging area by the sha256 the recipe gives
(<channel>/.condachan/sources/<sha256>/<file>, filled by submit --stage-source);
nothing is downloaded. The package is written to OUTPUT/<subdir>/<name>-<version>-<build>.conda;
a failed or interrupted build leaves nothing behind: no partial package, no temporary file,
no empty folder, only the build log of a script build or a build with tests (see below).

A recipe with a build script (build.sh / build.bat beside recipe.yaml, or build.script)
builds as rattler-build builds it: the sources are unpacked into SRC_DIR, the script runs
with PREFIX, SRC_DIR, PKG_VERSION, ... set and installs into a long padded PREFIX, and
what it left there is packed, files holding the prefix recorded for conda to rewrite at
install. Its output shows live and goes to OUTPUT/<subdir>/<package>.build.log, which
stays there when the build fails (OUTPUT/<subdir> is made for it if need be).

The recipe's tests run on the package before it is put in place (installed into a fresh
prefix the way conda installs it); a failing test leaves no package. --no-test skips them.

SOURCE_DATE_EPOCH (seconds) fixes the package timestamp: the same recipe, archive and
SOURCE_DATE_EPOCH give byte-identical packages.

Shipped recipes: ` + strings.Join(recipes.Names(), ", "),
		Example: `  condachan build --recipe condachan-example --output-dir ./channel
  condachan build --recipe blender-4.1 --source-archive ~/Downloads/blender-4.1.1-linux-x64.tar.xz
  condachan build --recipe blender-4.1 --target-platform win-64 --source-archive blender-4.1.1-windows-x64.zip
  condachan build --recipe ./my-recipes/houdini-20.5 --compression max --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBuild(cmd, f, stdout, stderr)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.recipe, "recipe", "r", "", "shipped recipe name, or a folder holding recipe.yaml (required)")
	fl.StringArrayVar(&f.sourceArchives, "source-archive", nil, "upstream archive to use (repeatable; matched to the recipe's sources by file name)")
	fl.StringArrayVar(&f.sourceDirs, "source-dir", nil, "folder to look for source archives in (repeatable)")
	fl.StringVar(&f.targetPlatform, "target-platform", pkgbuild.HostSubdir(), "conda subdir to build for: linux-64, win-64, osx-arm64, ... (default: the platform whose sources the --source-archive files are, else this machine's)")
	fl.StringVarP(&f.outputDir, "output-dir", "o", "output", "folder that receives <subdir>/<package>.conda")
	fl.StringVar(&f.buildNumber, "build-number", "", "build number overriding the recipe's (refused when the recipe sets build.string); `auto` (with --channel) takes the next free one for this name and version")
	fl.StringVar(&f.compression, "compression", "default", "fast, default or max (max: smallest package, slowest)")
	fl.StringVar(&f.progress, "progress", "auto", "auto (a bar on a terminal), bar, openjd (openjd_progress lines for Deadline Cloud) or none")
	fl.BoolVar(&f.json, "json", false, "print the result (path, size, sha256, md5, index.json record) as JSON on stdout")
	f.channel.add(fl, true)
	fl.Lookup("channel").Usage = "publish the package to this channel after building (s3://bucket/prefix, file:///dir or a folder)"
	fl.BoolVar(&f.force, "force", false, "with --channel: replace a package that exists with different content")
	fl.BoolVar(&f.noTest, "no-test", false, "do not run the recipe's tests on the package")
	fl.BoolVar(&f.keepWork, "keep-work", false, "keep the build folder (SRC_DIR, PREFIX) of a failed build, to look inside")
	completeFlag(cmd, "recipe", cobra.ShellCompDirectiveFilterDirs, recipes.Names()...)
	completeFlag(cmd, "target-platform", cobra.ShellCompDirectiveNoFileComp, recipe.Platforms...)
	completeFlag(cmd, "compression", cobra.ShellCompDirectiveNoFileComp, "fast", "default", "max")
	completeFlag(cmd, "progress", cobra.ShellCompDirectiveNoFileComp, "auto", "bar", "openjd", "none")
	return cmd
}

// completeFlag makes the shell complete flag's value with values.
func completeFlag(cmd *cobra.Command, flag string, d cobra.ShellCompDirective, values ...string) {
	cmd.RegisterFlagCompletionFunc(flag, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, d
	})
}

// buildMemoryLimit is the soft heap limit of a build. The pipeline's live memory is
// bounded (read-ahead, encoder windows and jobs: about 300 MiB at --compression max);
// without a limit the garbage collector lets the heap grow to twice that before it runs.
// GOMEMLIMIT overrides it.
const buildMemoryLimit = 448 << 20

func runBuild(cmd *cobra.Command, f buildFlags, stdout, stderr io.Writer) error {
	if os.Getenv("GOMEMLIMIT") == "" {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(buildMemoryLimit))
	}
	level, err := condapkg.ParseLevel(f.compression)
	if err != nil {
		return usageError{fmt.Errorf("--compression: %w", err)}
	}
	mode, err := progress.ParseMode(f.progress)
	if err != nil {
		return usageError{fmt.Errorf("--progress: %w", err)}
	}
	var buildNumber *int
	if f.buildNumber == "auto" && f.channel.url == "" {
		return usageError{errors.New("--build-number auto needs --channel (it reserves the next free number there)")}
	}
	if f.buildNumber != "" && f.buildNumber != "auto" {
		n, err := strconv.Atoi(f.buildNumber)
		if err != nil || n < 0 {
			return usageError{fmt.Errorf("--build-number: expected a number of 0 or more, got %q", f.buildNumber)}
		}
		buildNumber = &n
	}
	ts, err := pkgbuild.SourceDateEpoch()
	if err != nil {
		return usageError{err}
	}
	target := f.targetPlatform
	if !cmd.Flags().Changed("target-platform") {
		// The archives say which platform: blender-4.1.1-windows-x64.zip builds win-64.
		if t := inferTarget(f.recipe, plan.ArchiveNames(f.sourceArchives)); t != "" {
			target = t
		}
	}
	r, err := loadRecipe(f.recipe, target)
	if err != nil {
		return err
	}
	if f.buildNumber != "" {
		// Checked before anything else: auto would reserve a number in the channel.
		if err := pkgbuild.CheckBuildNumberOverride(r); err != nil {
			return usageError{fmt.Errorf("--build-number %s: %w", f.buildNumber, err)}
		}
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	search := append([]string{}, f.sourceDirs...)
	search = append(search, ".")
	if r.Dir != "" {
		search = append(search, r.Dir)
	}
	localArchives, remote, err := publish.SourceArchives(cmd.Context(), f.sourceArchives, f.channel.options())
	var uriErr *publish.ArchiveURIError
	var localErr *publish.LocalArchiveError
	switch {
	case errors.As(err, &uriErr):
		return usageError{fmt.Errorf("--source-archive %w", err)}
	case errors.As(err, &localErr):
		return usageError{fmt.Errorf("--source-archive: %w", err)}
	case err != nil:
		return err
	}
	var store channel.Store
	var staged *pkgbuild.StagedSources
	if f.channel.url != "" {
		if store, err = f.channel.open(cmd.Context()); err != nil {
			return err
		}
		// Archives `condachan submit --stage-source` put in the channel.
		if staged, err = publish.StagedSources(cmd.Context(), store, f.channel.url); err != nil {
			return err
		}
		if f.buildNumber == "auto" {
			n, err := publish.NextBuildNumber(cmd.Context(), store, r.Subdir(), r.Package.Name, r.Package.Version)
			if err != nil {
				return fmt.Errorf("--build-number auto: %w", err)
			}
			buildNumber = &n
		}
	}
	rep := progress.New(mode, stdout, stderr)
	res, err := pkgbuild.Build(cmd.Context(), pkgbuild.Options{
		Recipe:         r,
		SourceArchives: localArchives,
		RemoteArchives: remote,
		SearchDirs:     search,
		Staged:         staged,
		OutputDir:      f.outputDir,
		BuildNumber:    buildNumber,
		Compression:    level,
		Timestamp:      ts,
		Progress:       rep,
		RunTests:       !f.noTest,
		Output:         stderr,
		KeepWork:       f.keepWork,
	})
	rep.Finish()
	if err != nil {
		return err
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	var pub *publish.Result
	if store != nil {
		prep := progress.New(mode, stdout, stderr)
		opts := f.channel.publishOptions("build", prep, stderr)
		opts.Force = f.force
		pub, err = publish.Built(cmd.Context(), store, res.Path, opts)
		prep.Finish()
		if err != nil {
			return err
		}
		reportIndex(stderr, pub.Index)
	}
	if f.json {
		if pub != nil {
			return printJSON(stdout, struct {
				*pkgbuild.Result
				Publish *publish.Result `json:"publish"`
			}{res, pub})
		}
		return printJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "built %s (%s, %d files, sha256 %s)\n", res.Path, progress.HumanBytes(res.Size), res.Files, res.SHA256)
	if pub != nil {
		printUploads(stdout, pub)
	}
	return nil
}

// loadRecipe finds a recipe: a folder (or its recipe.yaml) on disk, recipes/NAME in the
// current folder (a checkout of this repository), or a recipe built into the binary.
func loadRecipe(arg, target string) (*recipe.Recipe, error) {
	if arg == "" {
		return nil, usageError{errors.New("--recipe is required")}
	}
	if dir, ok := findRecipeDir(arg); ok {
		return recipe.LoadDir(dir, target)
	}
	if recipes.Has(arg) {
		return recipe.LoadFS(recipes.FS, arg, target)
	}
	return nil, usageError{fmt.Errorf("recipe %q not found: not a folder with %s, and not a shipped recipe (%s)", arg, recipe.FileName, strings.Join(recipes.Names(), ", "))}
}
