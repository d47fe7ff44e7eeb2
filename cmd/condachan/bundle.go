package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/condachan/condachan/internal/shellquote"
	"github.com/condachan/condachan/jobbundle"
	"github.com/condachan/condachan/jobbundle/plan"
	"github.com/condachan/condachan/jobbundle/submit"
)

// jobFlags are the flags `bundle write` and `submit` share: what the job does and where
// it may run. Most set the plan's options themselves.
type jobFlags struct {
	plan.Options
	index   bool
	channel channelFlags
	farmID  string
	queueID string
}

func (f *jobFlags) add(fl *pflag.FlagSet) {
	fl.BoolVar(&f.index, "index", false, "the reindex-only bundle (reindexes --channel) instead of the build bundle")
	fl.StringVar(&f.Mirror, "mirror", "", "the mirror bundle instead: publishes the `BUNDLE` made by condachan mirror pack (a file, or s3://bucket/key) to --channel")
	fl.IntVar(&f.Jobs, "jobs", 0, "with --mirror: packages the job reads and uploads at once (default: the template's, 8)")
	fl.StringVarP(&f.Recipe, "recipe", "r", "", "shipped recipe name (built from the worker's condachan), or a recipe folder (sent as a job attachment)")
	fl.StringArrayVar(&f.SourceArchives, "source-archive", nil, "upstream archive: a local file (a job attachment, or staged with --stage-source) and/or an s3://bucket/key the job streams")
	fl.StringVar(&f.TargetPlatform, "target-platform", "", "conda subdir to build for (default: the recipe platform the --source-archive name belongs to, else linux-64)")
	fl.StringVar(&f.BuildNumber, "build-number", "auto", "build number: auto (next free one in the channel), a number, or empty for the recipe's (the default when the recipe sets build.string)")
	fl.StringVar(&f.Compression, "compression", "default", "fast, default or max")
	f.channel.add(fl, false)
	fl.Lookup("channel").Usage = "S3 channel the job publishes to (default: s3://<the Deadline default queue's job attachments bucket>/Conda/Default)"
	fl.StringVar(&f.Binary, "binary", "", "condachan binary for the workers' OS and CPU, sent as a job attachment (default: condachan on the workers' PATH)")
	fl.IntVar(&f.VCPUs, "vcpus", 0, "minimum vCPUs of the worker (amount.worker.vcpu; default: the template's, 2 for builds)")
	fl.IntVar(&f.MemoryMiB, "memory-mib", 0, "minimum memory of the worker in MiB (amount.worker.memory; default: the template's, 4096 for builds)")
	fl.StringVar(&f.WorkerOS, "worker-os", "", "worker OS: linux, windows or macos (default: from --target-platform: win-* windows, osx-* macos, else linux)")
	fl.StringVar(&f.WorkerArch, "worker-arch", "", "worker CPU: x86_64 or arm64 (default: from --target-platform: *-aarch64 and *-arm64 arm64, else x86_64)")
	fl.StringVar(&f.WorkerEndpoint, "worker-endpoint-url", "", "S3 endpoint the workers use (a VPC interface endpoint; not needed with a gateway endpoint)")
	fl.BoolVar(&f.Full, "full", false, "with --index: read every package again (index --full)")
	fl.StringArrayVarP(&f.Platforms, "conda-platform", "p", nil, "with a deadline-cloud.yaml beside the recipe: an entry to build, by platform (or platform-variant); repeatable (default: the entries with defaultSubmit: true)")
	fl.BoolVar(&f.AllPlatforms, "all-platforms", false, "with a deadline-cloud.yaml beside the recipe: build every entry")
	fl.StringArrayVar(&f.SourceDirs, "source-dir", nil, "folder to look for the recipe's archives in, by file name (repeatable; also searched: the catalogue's archive_files folder beside the recipe folders, and the current folder)")
	fl.StringVar(&f.farmID, "farm-id", "", "Deadline Cloud farm (default: the Deadline CLI's defaults.farm_id)")
	fl.StringVar(&f.queueID, "queue-id", "", "Deadline Cloud queue (default: the Deadline CLI's defaults.queue_id)")
}

// plan plans the jobs of the flags (plan.Plan), with the CLI's errors.
func (f *jobFlags) plan(cmd *cobra.Command, stderr io.Writer) ([]*plan.Job, error) {
	f.Kind = jobbundle.Build
	switch {
	case cmd.Flags().Changed("mirror"): // the plan refuses --index and build flags with it
		f.Kind = jobbundle.Mirror
	case f.index:
		f.Kind = jobbundle.Index
	}
	f.Set = func(field plan.Field) bool { return cmd.Flags().Changed(fieldFlags[field]) }
	f.Channel = func(ctx context.Context) (string, error) { return f.jobChannel(ctx, stderr) }
	f.Log = stderr
	jobs, err := plan.Plan(cmd.Context(), f.Options)
	return jobs, jobFlagError(err)
}

// jobChannel is --channel, or the Deadline CLI's default queue's job attachments bucket
// with the prefix Conda/Default (submit.ResolveChannel).
func (f *jobFlags) jobChannel(ctx context.Context, stderr io.Writer) (string, error) {
	ch, err := submit.ResolveChannel(ctx, f.channel.url, f.farmID, f.queueID, onWindowsHost)
	switch {
	case err != nil:
		return "", err
	case ch.Local:
		fmt.Fprintf(stderr, "note: %s is not an S3 channel: only workers that see this folder at the same path can publish to it\n", ch.URL)
	case ch.FromQueue:
		fmt.Fprintf(stderr, "no --channel: using %s (the Deadline default queue's job attachments bucket)\n", ch.URL)
	}
	return ch.URL, nil
}

// onWindowsHost tells how local channel paths are read (a variable for tests).
var onWindowsHost = runtime.GOOS == "windows"

func newBundleCommand(stdout, stderr io.Writer) *cobra.Command {
	bundle := &cobra.Command{
		Use:   "bundle",
		Short: "Write the OpenJD job bundles that run condachan on AWS Deadline Cloud",
	}
	var f jobFlags
	var asJSON bool
	write := &cobra.Command{
		Use:   "write DIR [flags]",
		Short: "Write a ready-to-submit job bundle (template.yaml, parameter_values.yaml) into DIR",
		Long: `Write a job bundle that builds one recipe and publishes it to an S3 channel under the
channel lease (or, with --index, reindexes the channel; with --mirror, publishes a bundle
made by ` + "`condachan mirror pack`" + `), with the parameter values filled in: submit it with
` + "`deadline bundle submit DIR`" + `, or check it with ` + "`openjd check DIR/template.yaml`" + `.

The job needs the condachan binary on the workers (on PATH, or sent with --binary) and
the bucket, nothing else. Local files given (--binary, a recipe folder, a local
--source-archive) become job attachments; an s3:// --source-archive is streamed by the
job and needs none. A local --mirror bundle is a job attachment too (` + "`condachan submit`" + `
stages it in the channel's bucket instead); an s3:// one is streamed.
` + "`condachan submit`" + ` writes the same bundle and submits it.`,
		Example: `  condachan bundle write ./blender-job --recipe blender-4.1 \
      --source-archive s3://studio-bucket/sources/blender-4.1.1-linux-x64.tar.xz \
      --channel s3://studio-bucket/Conda/Default
  condachan bundle write ./reindex-job --index --channel s3://studio-bucket/Conda/Default
  condachan bundle write ./mirror-job --mirror s3://studio-bucket/incoming/render-env.bundle \
      --channel s3://studio-bucket/Conda/Default`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("expected one argument, DIR, the folder to write the bundle into; got %d", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			jobs, err := f.plan(cmd, stderr)
			if err != nil {
				return err
			}
			dirs, err := plan.WriteJobs(args[0], jobs)
			if err != nil {
				return jobFlagError(err)
			}
			if asJSON {
				return printJSONList(stdout, plan.Written(dirs, jobs))
			}
			for i, j := range jobs {
				fmt.Fprintf(stdout, "wrote %s to %s\n", j.BundleName(), dirs[i])
				printValues(stdout, j.Values)
				if j.Values[jobbundle.ParamMirrorBundle] != "" {
					fmt.Fprintln(stderr, "note: the mirror bundle goes with the job as a job attachment (MirrorBundle); `condachan submit --mirror` stages it in the channel's bucket instead")
				}
				fmt.Fprintf(stdout, "submit it with%s: %s\n", shellName(), shellJoin(submit.Args(dirs[i], f.farmID, f.queueID, "", false)))
			}
			return nil
		},
	}
	f.add(write.Flags())
	write.Flags().BoolVar(&asJSON, "json", false, "print the bundle folder and parameter values as JSON")
	bundle.AddCommand(write)
	return bundle
}

// printValues prints a bundle's parameter values, sorted by name.
func printValues(w io.Writer, values map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(values)) {
		fmt.Fprintf(w, "  %s = %s\n", k, values[k])
	}
}

// onWindows selects the quoting of printed commands (a variable for tests).
var onWindows = runtime.GOOS == "windows"

// shellName is how the printed commands are introduced: on Windows they are for
// PowerShell, whose quoting differs from cmd.exe's.
func shellName() string {
	if onWindows {
		return " (PowerShell)"
	}
	return ""
}

// shellJoin quotes a command for pasting into a shell: POSIX sh, or on Windows
// PowerShell.
func shellJoin(args []string) string { return shellquote.Join(args, onWindows) }

func shellQuote(s string) string { return shellquote.Quote(s, onWindows) }
