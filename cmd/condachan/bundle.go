package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"sort"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/internal/shellquote"
	"github.com/condachan/condachan/jobbundle"
	"github.com/condachan/condachan/jobbundle/plan"
	"github.com/condachan/condachan/jobbundle/submit"
)

// jobFlags are the flags `bundle write` and `submit` share: what the job does and where
// it may run.
type jobFlags struct {
	index          bool
	recipe         string
	sourceArchives []string
	targetPlatform string
	buildNumber    string
	compression    string
	channel        channelFlags
	binary         string
	vcpus          int
	memoryMiB      int
	workerOS       string
	workerArch     string
	workerEndpoint string
	full           bool
	farmID         string
	queueID        string
	// With a deadline-cloud.yaml beside the recipe: the entries to build.
	condaPlatforms []string
	allPlatforms   bool
	sourceDirs     []string
	// stage and stagedCheck are set by submit --stage-source: local archives are staged,
	// and sources not on this machine may be staged already.
	stage       bool
	stagedCheck stagedCheck
}

func (f *jobFlags) add(fl *pflag.FlagSet) {
	fl.BoolVar(&f.index, "index", false, "the reindex-only bundle (reindexes --channel) instead of the build bundle")
	fl.StringVarP(&f.recipe, "recipe", "r", "", "shipped recipe name (built from the worker's condachan), or a recipe folder (sent as a job attachment)")
	fl.StringArrayVar(&f.sourceArchives, "source-archive", nil, "upstream archive: a local file (a job attachment, or staged with --stage-source) and/or an s3://bucket/key the job streams")
	fl.StringVar(&f.targetPlatform, "target-platform", "", "conda subdir to build for (default: the recipe platform the --source-archive name belongs to, else linux-64)")
	fl.StringVar(&f.buildNumber, "build-number", "auto", "build number: auto (next free one in the channel), a number, or empty for the recipe's (the default when the recipe sets build.string)")
	fl.StringVar(&f.compression, "compression", "default", "fast, default or max")
	f.channel.add(fl, false)
	fl.Lookup("channel").Usage = "S3 channel the job publishes to (default: s3://<the Deadline default queue's job attachments bucket>/Conda/Default)"
	fl.StringVar(&f.binary, "binary", "", "condachan binary for the workers' OS and CPU, sent as a job attachment (default: condachan on the workers' PATH)")
	fl.IntVar(&f.vcpus, "vcpus", 0, "minimum vCPUs of the worker (amount.worker.vcpu; default: the template's, 2 for builds)")
	fl.IntVar(&f.memoryMiB, "memory-mib", 0, "minimum memory of the worker in MiB (amount.worker.memory; default: the template's, 4096 for builds)")
	fl.StringVar(&f.workerOS, "worker-os", "", "worker OS: linux, windows or macos (default: from --target-platform: win-* windows, osx-* macos, else linux)")
	fl.StringVar(&f.workerArch, "worker-arch", "", "worker CPU: x86_64 or arm64 (default: from --target-platform: *-aarch64 and *-arm64 arm64, else x86_64)")
	fl.StringVar(&f.workerEndpoint, "worker-endpoint-url", "", "S3 endpoint the workers use (a VPC interface endpoint; not needed with a gateway endpoint)")
	fl.BoolVar(&f.full, "full", false, "with --index: read every package again (index --full)")
	fl.StringArrayVarP(&f.condaPlatforms, "conda-platform", "p", nil, "with a deadline-cloud.yaml beside the recipe: an entry to build, by platform (or platform-variant); repeatable (default: the entries with defaultSubmit: true)")
	fl.BoolVar(&f.allPlatforms, "all-platforms", false, "with a deadline-cloud.yaml beside the recipe: build every entry")
	fl.StringArrayVar(&f.sourceDirs, "source-dir", nil, "folder to look for the recipe's archives in, by file name (repeatable; also searched: the catalogue's archive_files folder beside the recipe folders, and the current folder)")
	fl.StringVar(&f.farmID, "farm-id", "", "Deadline Cloud farm (default: the Deadline CLI's defaults.farm_id)")
	fl.StringVar(&f.queueID, "queue-id", "", "Deadline Cloud queue (default: the Deadline CLI's defaults.queue_id)")
}

func (f *jobFlags) kind() jobbundle.Kind {
	if f.index {
		return jobbundle.Index
	}
	return jobbundle.Build
}

// channelURL is --channel, or the Deadline CLI's default queue's job attachments bucket
// with the prefix Conda/Default, as the AWS sample does.
func (f *jobFlags) channelURL(ctx context.Context, stderr io.Writer) (string, error) {
	if f.channel.url != "" {
		loc, err := channel.ParseLocation(f.channel.url)
		if err != nil {
			return "", usageError{err}
		}
		if !loc.IsS3() {
			// The worker resolves a relative path against its session folder: write it
			// absolute, as this machine sees it.
			dir := plan.ChannelPath(f.channel.url, loc, onWindowsHost)
			fmt.Fprintf(stderr, "note: %s is not an S3 channel: only workers that see this folder at the same path can publish to it\n", dir)
			return dir, nil
		}
		return loc.String(), nil
	}
	deadline, err := exec.LookPath("deadline")
	if err != nil {
		return "", usageError{errors.New("--channel is required: the Deadline CLI (deadline) is not on PATH to ask for the default queue's job attachments bucket")}
	}
	bucket, err := submit.QueueBucket(ctx, deadline, f.farmID, f.queueID)
	if err != nil {
		return "", usageError{fmt.Errorf("no --channel, and %w; pass --channel s3://bucket/prefix", err)}
	}
	url := submit.DefaultChannel(bucket)
	fmt.Fprintf(stderr, "no --channel: using %s (the Deadline default queue's job attachments bucket)\n", url)
	return url, nil
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
channel lease (or, with --index, reindexes the channel), with the parameter values filled
in: submit it with ` + "`deadline bundle submit DIR`" + `, or check it with ` + "`openjd check DIR/template.yaml`" + `.

The job needs the condachan binary on the workers (on PATH, or sent with --binary) and
the bucket, nothing else. Local files given (--binary, a recipe folder, a local
--source-archive) become job attachments; an s3:// --source-archive is streamed by the
job and needs none. ` + "`condachan submit`" + ` writes the same bundle and submits it.`,
		Example: `  condachan bundle write ./blender-job --recipe blender-4.1 \
      --source-archive s3://studio-bucket/sources/blender-4.1.1-linux-x64.tar.xz \
      --channel s3://studio-bucket/Conda/Default
  condachan bundle write ./reindex-job --index --channel s3://studio-bucket/Conda/Default`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("expected one argument, DIR, the folder to write the bundle into; got %d", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			plans, err := f.plans(cmd, stderr)
			if err != nil {
				return err
			}
			dirs, err := writeBundles(args[0], plans)
			if err != nil {
				return err
			}
			if asJSON {
				type written struct {
					BundleDir string `json:"bundle_dir"`
					*jobPlan
				}
				var out []written
				for i, p := range plans {
					out = append(out, written{dirs[i], p})
				}
				if len(out) == 1 {
					return printJSON(stdout, out[0])
				}
				return printJSON(stdout, out)
			}
			for i, p := range plans {
				fmt.Fprintf(stdout, "wrote the %s job bundle%s to %s\n", p.Kind, platformSuffix(p), dirs[i])
				printValues(stdout, p.Values)
				fmt.Fprintf(stdout, "submit it with%s: %s\n", shellName(), shellJoin(deadlineSubmitArgs(dirs[i], &f, "", false)))
			}
			return nil
		},
	}
	f.add(write.Flags())
	write.Flags().BoolVar(&asJSON, "json", false, "print the bundle folder and parameter values as JSON")
	bundle.AddCommand(write)
	return bundle
}

// writeBundles writes one bundle per plan (plan.WriteJobs), with the CLI's errors.
func writeBundles(dir string, plans []*jobPlan) ([]string, error) {
	dirs, err := plan.WriteJobs(dir, plans)
	if err != nil {
		return nil, jobFlagError(err)
	}
	return dirs, nil
}

// platformSuffix names a plan's deadline-cloud.yaml entry in messages.
func platformSuffix(p *jobPlan) string {
	if p.Platform == "" {
		return ""
	}
	return " for " + p.Platform
}

func printValues(w io.Writer, values map[string]string) {
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(w, "  %s = %s\n", k, values[k])
	}
}

// deadlineSubmitArgs is the `deadline bundle submit` command for a bundle folder.
func deadlineSubmitArgs(dir string, f *jobFlags, name string, yes bool) []string {
	return submit.Args(dir, f.farmID, f.queueID, name, yes)
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
