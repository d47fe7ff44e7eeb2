package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/jobbundle"
)

type submitFlags struct {
	job         jobFlags
	stageSource bool
	dryRun      bool
	bundleDir   string
	name        string
	yes         bool
	json        bool
}

func newSubmitCommand(stdout, stderr io.Writer) *cobra.Command {
	var f submitFlags
	cmd := &cobra.Command{
		Use:   "submit --recipe NAME|DIR [--source-archive FILE|s3://...] [--channel s3://...] [flags]",
		Short: "Submit a build (or --index) job to AWS Deadline Cloud",
		Long: `Write the job bundle (see ` + "`condachan bundle write`" + `) and submit it with
` + "`deadline bundle submit`" + `. Without the Deadline CLI the bundle is written, the command
printed, and submit exits 1 (nothing was submitted); --dry-run writes and prints only,
exit 0. The bundle folder is kept when the command is printed (--bundle-dir chooses it).

The job builds the recipe on a worker of the queue and publishes the package to the
channel under the channel lease, in one step. The workers need the condachan binary (on
PATH, or sent with --binary) and the bucket: no conda, no Python, no internet.

Every archive source of the recipe is found first (--source-archive, --source-dir, the
sample catalogue's archive_files folder, the current folder) and its sha256 checked
against the recipe, before any bundle is written. A deadline-cloud.yaml beside the
recipe (the sample catalogue's) gives the platforms (one job each: the defaultSubmit
ones, --conda-platform NAME, or --all-platforms), their archives and host requirements,
and job parameters.

--stage-source uploads the local archives to
<channel>/.condachan/sources/<sha256>/<file> (skipped when already there; a source not
on this machine counts when it is staged already): no job attachment, so no size limit
and no STS call, which job attachments need for the account id. The job finds staged
archives by the sha256 the recipe gives; a job can attach only one local archive, so a
recipe with several needs --stage-source. It uploads with --dry-run too, so that the
printed command works as it is. Without --channel the channel is
s3://<the Deadline default queue's job attachments bucket>/Conda/Default.`,
		Example: `  condachan submit --recipe blender-4.1 --source-archive blender-4.1.1-linux-x64.tar.xz \
      --channel s3://studio-bucket/Conda/Default --stage-source
  condachan submit --recipe blender-4.1 --source-archive blender-4.1.1-windows-x64.zip --dry-run
  condachan submit --recipe conda_recipes/maya-2026 --source-dir conda_recipes/archive_files --stage-source
  condachan submit --index --channel s3://studio-bucket/Conda/Default`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSubmit(cmd, &f, stdout, stderr)
		},
	}
	fl := cmd.Flags()
	f.job.add(fl)
	fl.BoolVar(&f.stageSource, "stage-source", false, "upload the local --source-archive to <channel>/.condachan/sources/<sha256>/ and pass its s3:// URI (no job attachment)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "write the bundle and print the deadline command without running it")
	fl.StringVar(&f.bundleDir, "bundle-dir", "", "folder to write the bundle into (default: a new temporary folder)")
	fl.StringVar(&f.name, "name", "", "job name (default: the template's, e.g. \"condachan build blender-4.1 (linux-64)\")")
	fl.BoolVarP(&f.yes, "yes", "y", false, "pass --yes to deadline bundle submit (no confirmation prompts)")
	fl.BoolVar(&f.json, "json", false, "print the bundle folder, parameters, command and staged source as JSON")
	cmd.RegisterFlagCompletionFunc("worker-os", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"linux", "windows", "macos"}, cobra.ShellCompDirectiveNoFileComp
	})
	cmd.RegisterFlagCompletionFunc("worker-arch", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"x86_64", "arm64"}, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

type submitResult struct {
	BundleDir     string            `json:"bundle_dir"`
	Kind          jobbundle.Kind    `json:"kind"`
	Platform      string            `json:"platform,omitempty"`
	Parameters    map[string]string `json:"parameters"`
	StagedSources []*stagedSource   `json:"staged_sources,omitempty"`
	Command       []string          `json:"command"`
	CommandLine   string            `json:"command_line"`
	Submitted     bool              `json:"submitted"`
}

type stagedSource struct {
	URI    string `json:"uri"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// Uploaded is false when the archive was already staged.
	Uploaded bool `json:"uploaded"`
}

func runSubmit(cmd *cobra.Command, f *submitFlags, stdout, stderr io.Writer) error {
	ctx := cmd.Context()
	stores := &stagingStores{cf: &f.job.channel}
	if f.stageSource {
		f.job.stage = true
		f.job.stagedCheck = stores.isStaged
	}
	plans, err := f.job.plans(cmd, stderr)
	if err != nil {
		return err
	}
	results := make([]*submitResult, len(plans))
	for i, p := range plans {
		results[i] = &submitResult{Kind: p.Kind, Platform: p.Platform, Parameters: p.Values}
	}
	if f.stageSource {
		if err := stageSources(ctx, stores, plans, results, stderr); err != nil {
			return err
		}
	}

	dir := f.bundleDir
	temporary := dir == ""
	if temporary {
		if dir, err = os.MkdirTemp("", "condachan-job-"); err != nil {
			return err
		}
	}
	dirs, err := writeBundles(dir, plans)
	if err != nil {
		if temporary {
			os.RemoveAll(dir)
		}
		return err
	}
	for i, r := range results {
		r.BundleDir = dirs[i]
		name := f.name
		if name != "" && len(plans) > 1 {
			name += " (" + plans[i].Platform + ")"
		}
		args := deadlineSubmitArgs(dirs[i], &f.job, name)
		if f.yes {
			args = append(args, "--yes")
		}
		r.Command, r.CommandLine = args, shellJoin(args)
	}

	deadline, lookErr := exec.LookPath("deadline")
	switch {
	case f.dryRun:
		fmt.Fprintf(stderr, "dry run: wrote %s; submit it with%s:\n", bundlesWritten(plans, results), shellName())
		return printSubmitResults(stdout, results, f.json)
	case lookErr != nil:
		fmt.Fprintf(stderr, "the Deadline CLI (deadline) is not on PATH: wrote %s; submit it with%s:\n", bundlesWritten(plans, results), shellName())
		if err := printSubmitResults(stdout, results, f.json); err != nil {
			return err
		}
		return fmt.Errorf("not submitted: the Deadline CLI (deadline) is not on PATH; install it (pip install deadline) and run the command above, or pass --dry-run to only write the bundle")
	}
	for i, r := range results {
		fmt.Fprintf(stderr, "submitting: %s\n", r.CommandLine)
		c := exec.CommandContext(ctx, deadline, r.Command[1:]...)
		c.Stdin = os.Stdin
		// With --json, stdout carries only the JSON result.
		c.Stdout, c.Stderr = stdout, stderr
		if f.json {
			c.Stdout = stderr
		}
		if err := c.Run(); err != nil {
			var done []string
			for _, p := range results[:i] {
				done = append(done, p.Platform)
			}
			msg := fmt.Sprintf("deadline bundle submit failed (%v); the bundle is kept in %s to try again: %s", err, r.BundleDir, r.CommandLine)
			if len(done) > 0 {
				msg += fmt.Sprintf(" (submitted already: %s)", strings.Join(done, ", "))
			}
			return errors.New(msg)
		}
		r.Submitted = true
	}
	if temporary {
		os.RemoveAll(dir)
		for _, r := range results {
			r.BundleDir = ""
		}
	}
	if f.json {
		return printSubmitResults(stdout, results, true)
	}
	return nil
}

// bundlesWritten describes the bundles written, for messages.
func bundlesWritten(plans []*jobPlan, results []*submitResult) string {
	if len(plans) == 1 {
		return fmt.Sprintf("the %s job bundle%s to %s", plans[0].Kind, platformSuffix(plans[0]), results[0].BundleDir)
	}
	var parts []string
	for i, p := range plans {
		parts = append(parts, p.Platform+" to "+results[i].BundleDir)
	}
	return fmt.Sprintf("%d %s job bundles (%s)", len(plans), plans[0].Kind, strings.Join(parts, ", "))
}

// printSubmitResults prints the commands, or the results as JSON: one object for one job,
// a list for several.
func printSubmitResults(stdout io.Writer, results []*submitResult, asJSON bool) error {
	if asJSON {
		if len(results) == 1 {
			return printJSON(stdout, results[0])
		}
		return printJSON(stdout, results)
	}
	for _, r := range results {
		fmt.Fprintln(stdout, r.CommandLine)
	}
	return nil
}

// stagingStore is a channel archives can be staged in: one whose objects a job can
// fetch by URI (an S3 channel).
type stagingStore interface {
	channel.Store
	channel.ObjectLocator
}

// stagingStores opens the channels archives are staged in, once each.
type stagingStores struct {
	cf     *channelFlags
	stores map[string]stagingStore
}

func (s *stagingStores) open(ctx context.Context, channelURL string) (stagingStore, error) {
	if st, ok := s.stores[channelURL]; ok {
		return st, nil
	}
	loc, err := channel.ParseLocation(channelURL)
	if err != nil {
		return nil, usageError{err}
	}
	notS3 := usageError{errors.New("--stage-source needs an S3 channel: the job streams the archives from S3")}
	if !loc.IsS3() {
		return nil, notS3
	}
	store, err := channel.OpenExisting(ctx, channelURL, s.cf.options())
	if err != nil {
		return nil, err
	}
	st, ok := store.(stagingStore)
	if !ok {
		return nil, notS3
	}
	if s.stores == nil {
		s.stores = map[string]stagingStore{}
	}
	s.stores[channelURL] = st
	return st, nil
}

// isStaged tells whether the channel's staging area holds the archive.
func (s *stagingStores) isStaged(ctx context.Context, channelURL, sha256, name string) (bool, error) {
	st, err := s.open(ctx, channelURL)
	if err != nil {
		return false, err
	}
	_, err = st.Stat(ctx, channel.StagedSourceKey(sha256, name))
	if errors.Is(err, channel.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("looking for %s staged in %s: %w", name, channelURL, err)
	}
	return true, nil
}

// stageSources uploads every plan's local archives to its channel's staging area and
// points the plan at them.
func stageSources(ctx context.Context, stores *stagingStores, plans []*jobPlan, results []*submitResult, stderr io.Writer) error {
	for i, p := range plans {
		if p.Kind != jobbundle.Build {
			return usageError{errors.New("--stage-source goes with build jobs")}
		}
		if len(p.Sources.Local) == 0 && len(p.Sources.Staged) == 0 {
			return usageError{fmt.Errorf("--stage-source: nothing to stage: recipe %s needs no archive from this machine (it needs a local --source-archive, or sources found by name)", p.Recipe.Package.Name)}
		}
		channelURL := p.Values[jobbundle.ParamCondaChannel]
		store, err := stores.open(ctx, channelURL)
		if err != nil {
			return err
		}
		var uris []string
		for _, a := range p.Sources.Local {
			staged, err := stageArchive(ctx, store, a, stderr)
			if err != nil {
				return err
			}
			uris = append(uris, staged.URI)
			results[i].StagedSources = append(results[i].StagedSources, staged)
		}
		p.Sources.StagedValues(p.Values, uris)
	}
	return nil
}

// stageArchive uploads a hashed local archive to the staging area, create-if-absent,
// unless an object of the same size is already there.
func stageArchive(ctx context.Context, store stagingStore, a localArchive, stderr io.Writer) (*stagedSource, error) {
	key := channel.StagedSourceKey(a.SHA256, a.Name)
	res := &stagedSource{URI: store.ObjectURI(key), SHA256: a.SHA256, Size: a.Size}
	existing := func() (bool, error) {
		obj, err := store.Stat(ctx, key)
		if errors.Is(err, channel.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if obj.Size != a.Size {
			return false, fmt.Errorf("%s already holds %d bytes, not the %d of %s: remove it and stage again", res.URI, obj.Size, a.Size, a.Path)
		}
		return true, nil
	}
	there, err := existing()
	if err != nil {
		return nil, err
	}
	if there {
		fmt.Fprintf(stderr, "already staged: %s\n", res.URI)
		return res, nil
	}
	fmt.Fprintf(stderr, "staging %s to %s\n", a.Name, res.URI)
	_, err = store.PutFile(ctx, key, a.Path, channel.PutOptions{
		IfAbsent:    true,
		ContentType: "application/octet-stream",
		Metadata:    map[string]string{"sha256": a.SHA256},
	})
	if errors.Is(err, channel.ErrPreconditionFailed) {
		// Another submitter staged it meanwhile.
		if there, err = existing(); err != nil {
			return nil, err
		} else if there {
			fmt.Fprintf(stderr, "already staged: %s\n", res.URI)
			return res, nil
		}
		return nil, fmt.Errorf("staging %s: %w", res.URI, channel.ErrPreconditionFailed)
	}
	if err != nil {
		return nil, fmt.Errorf("staging %s: %w", res.URI, err)
	}
	res.Uploaded = true
	return res, nil
}
