package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"

	"github.com/condachan/condachan/jobbundle"
	"github.com/condachan/condachan/jobbundle/submit"
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
	BundleDir     string                 `json:"bundle_dir"`
	Kind          jobbundle.Kind         `json:"kind"`
	Platform      string                 `json:"platform,omitempty"`
	Parameters    map[string]string      `json:"parameters"`
	StagedSources []*submit.StagedSource `json:"staged_sources,omitempty"`
	Command       []string               `json:"command"`
	CommandLine   string                 `json:"command_line"`
	Submitted     bool                   `json:"submitted"`
}

func runSubmit(cmd *cobra.Command, f *submitFlags, stdout, stderr io.Writer) error {
	ctx := cmd.Context()
	stager := &submit.Stager{Options: f.job.channel.options(), Log: stderr}
	if f.stageSource {
		f.job.stage = true
		f.job.stagedCheck = stager.IsStaged
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
		staged, err := stager.StageJobs(ctx, plans)
		if err != nil {
			return jobFlagError(err)
		}
		for i, r := range results {
			r.StagedSources = staged[i]
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
		args := deadlineSubmitArgs(dirs[i], &f.job, submit.JobName(f.name, plans[i].Platform, len(plans) > 1), f.yes)
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
		// With --json, stdout carries only the JSON result.
		out := stdout
		if f.json {
			out = stderr
		}
		if err := submit.Run(ctx, deadline, r.Command, os.Stdin, out, stderr); err != nil {
			var done []string
			for _, p := range results[:i] {
				done = append(done, p.Platform)
			}
			return &submit.Error{Err: err, BundleDir: r.BundleDir, CommandLine: r.CommandLine, Done: done}
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
