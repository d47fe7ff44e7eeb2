package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/internal/progress"
	"github.com/condachan/condachan/pkgbuild"
	"github.com/condachan/condachan/pkgbuild/condapkg"
	"github.com/condachan/condachan/pkgbuild/recipe"
	"github.com/condachan/condachan/publish"
	"github.com/condachan/condachan/recipes"
)

// buildFlags are the flags of build: most set the request itself.
type buildFlags struct {
	publish.BuildRequest
	compression string
	progress    string
	json        bool
	channel     channelFlags
	noTest      bool
	opened      channel.Store // the channel, once the build opened it
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
			return runBuild(cmd, &f, stdout, stderr)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.Recipe, "recipe", "r", "", "shipped recipe name, or a folder holding recipe.yaml (required)")
	fl.StringArrayVar(&f.SourceArchives, "source-archive", nil, "upstream archive to use (repeatable; matched to the recipe's sources by file name)")
	fl.StringArrayVar(&f.SourceDirs, "source-dir", nil, "folder to look for source archives in (repeatable)")
	fl.StringVar(&f.Target, "target-platform", pkgbuild.HostSubdir(), "conda subdir to build for: linux-64, win-64, osx-arm64, ... (default: the platform whose sources the --source-archive files are, else this machine's)")
	fl.StringVarP(&f.Build.OutputDir, "output-dir", "o", "output", "folder that receives <subdir>/<package>.conda")
	fl.StringVar(&f.BuildNumber, "build-number", "", "build number overriding the recipe's (refused when the recipe sets build.string); `auto` (with --channel) takes the next free one for this name and version")
	fl.StringVar(&f.compression, "compression", "default", "fast, default or max (max: smallest package, slowest)")
	fl.StringVar(&f.progress, "progress", "auto", "auto (a bar on a terminal), bar, openjd (openjd_progress lines for Deadline Cloud) or none")
	fl.BoolVar(&f.json, "json", false, "print the result (path, size, sha256, md5, index.json record) as JSON on stdout")
	f.channel.add(fl, true)
	fl.Lookup("channel").Usage = "publish the package to this channel after building (s3://bucket/prefix, file:///dir or a folder)"
	fl.BoolVar(&f.Publish.Force, "force", false, "with --channel: replace a package that exists with different content")
	fl.BoolVar(&f.noTest, "no-test", false, "do not run the recipe's tests on the package")
	fl.BoolVar(&f.Build.KeepWork, "keep-work", false, "keep the build folder (SRC_DIR, PREFIX) of a failed build, to look inside")
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

func runBuild(cmd *cobra.Command, f *buildFlags, stdout, stderr io.Writer) error {
	defer pkgbuild.LimitMemory()()
	if err := f.request(cmd, stdout, stderr); err != nil {
		return err
	}
	res, err := publish.Build(cmd.Context(), f.BuildRequest)
	if err != nil {
		if f.opened != nil {
			channel.Abandon(f.opened) // a channel folder the build made, if still empty
		}
		return err
	}
	if res.Publish != nil {
		reportIndex(stderr, res.Publish.Index)
	}
	if f.json {
		return printJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "built %s (%s, %d files, sha256 %s)\n", res.Path, progress.HumanBytes(res.Size), res.Files, res.SHA256)
	if res.Publish != nil {
		printUploads(stdout, res.Publish)
	}
	return nil
}

// request checks the flags that need no recipe, and completes the request with them.
func (f *buildFlags) request(cmd *cobra.Command, stdout, stderr io.Writer) error {
	var err error
	if f.Build.Compression, err = condapkg.ParseLevel(f.compression); err != nil {
		return usageError{fmt.Errorf("--compression: %w", err)}
	}
	mode, err := progress.ParseMode(f.progress)
	if err != nil {
		return usageError{fmt.Errorf("--progress: %w", err)}
	}
	if _, err := publish.ParseBuildNumber(f.BuildNumber, f.channel.url != ""); err != nil {
		return err
	}
	if f.Build.Timestamp, err = pkgbuild.SourceDateEpoch(); err != nil {
		return err
	}
	if f.Recipe == "" {
		return usageError{errors.New("--recipe is required")}
	}
	hasChannel := f.channel.url != ""
	if err := errors.Join(needs(cmd, "force", "--channel", hasChannel), needs(cmd, "lease-ttl", "--channel", hasChannel),
		needs(cmd, "lease-poll", "--channel", hasChannel), f.channel.checkLease()); err != nil { // before the build, not after it
		return err
	}
	f.InferTarget = !cmd.Flags().Changed("target-platform")
	f.ChannelOptions, f.ChannelURL = f.channel.options(), f.channel.url
	if f.channel.url != "" {
		f.Channel = func(ctx context.Context) (channel.Store, error) {
			st, err := f.channel.open(ctx)
			f.opened = st
			return st, err
		}
	}
	f.Build.RunTests, f.Build.Output = !f.noTest, stderr
	publishOpts := f.channel.publishOptions("build", nil, stderr) // --force is set already
	f.Publish.Lease, f.Publish.Log = publishOpts.Lease, publishOpts.Log
	f.NewProgress = func() progress.Reporter { return progress.New(mode, stdout, stderr) }
	f.Warn = func(w string) { fmt.Fprintf(stderr, "warning: %s\n", w) }
	return nil
}
