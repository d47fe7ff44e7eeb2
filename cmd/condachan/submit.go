package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

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
		Short: "Submit a build (or --index, --mirror) job to AWS Deadline Cloud",
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
s3://<the Deadline default queue's job attachments bucket>/Conda/Default.

--mirror BUNDLE submits the job that publishes a bundle of ` + "`condachan mirror pack`" + ` to the
channel (mirror --from). A local bundle is always staged, --dry-run too: uploaded to
<channel>/.condachan/mirror/<sha256>/<file> (skipped when already there), and the job
streams it from S3; an s3://bucket/key bundle is streamed as it is.`,
		Example: `  condachan submit --recipe blender-4.1 --source-archive blender-4.1.1-linux-x64.tar.xz \
      --channel s3://studio-bucket/Conda/Default --stage-source
  condachan submit --recipe blender-4.1 --source-archive blender-4.1.1-windows-x64.zip --dry-run
  condachan submit --recipe conda_recipes/maya-2026 --source-dir conda_recipes/archive_files --stage-source
  condachan submit --index --channel s3://studio-bucket/Conda/Default
  condachan submit --mirror render-env.bundle --channel s3://studio-bucket/Conda/Default`,
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

func runSubmit(cmd *cobra.Command, f *submitFlags, stdout, stderr io.Writer) error {
	var stager *submit.Stager
	if f.stageSource || cmd.Flags().Changed("mirror") { // a local mirror bundle is always staged
		stager = &submit.Stager{Options: f.job.channel.options(), Log: stderr}
		f.job.Stage, f.job.Staged = true, stager.IsStaged
	}
	jobs, err := f.job.plan(cmd, stderr)
	if err != nil {
		return err
	}
	batch, err := submit.Prepare(cmd.Context(), submit.Request{Jobs: jobs, Stager: stager, BundleDir: f.bundleDir,
		FarmID: f.job.farmID, QueueID: f.job.queueID, Name: f.name, Yes: f.yes, Quote: shellJoin})
	if err != nil {
		return jobFlagError(err)
	}
	deadline, lookErr := submit.LookDeadline()
	switch {
	case f.dryRun:
		fmt.Fprintf(stderr, "dry run: wrote %s; submit it with%s:\n", batch.Written(), shellName())
		return printSubmitResults(stdout, batch.Results, f.json)
	case lookErr != nil:
		fmt.Fprintf(stderr, "the Deadline CLI (deadline) is not on PATH: wrote %s; submit it with%s:\n", batch.Written(), shellName())
		if err := printSubmitResults(stdout, batch.Results, f.json); err != nil {
			return err
		}
		return fmt.Errorf("not submitted: the Deadline CLI (deadline) is not on PATH; install it (pip install deadline) and run the command above, or pass --dry-run to only write the bundle")
	}
	out := stdout
	if f.json { // stdout carries only the JSON result
		out = stderr
	}
	if err := batch.Submit(cmd.Context(), deadline, os.Stdin, out, stderr); err != nil {
		return err
	}
	if f.json {
		return printJSONList(stdout, batch.Results)
	}
	return nil
}

// printSubmitResults prints the commands, or the results as JSON: one object for one job,
// a list for several.
func printSubmitResults(stdout io.Writer, results []*submit.Result, asJSON bool) error {
	if asJSON {
		return printJSONList(stdout, results)
	}
	for _, r := range results {
		fmt.Fprintln(stdout, r.CommandLine)
	}
	return nil
}
