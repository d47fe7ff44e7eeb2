package main

import (
	"bytes"
	"context"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/jobbundle"
	"github.com/condachan/condachan/pkgbuild/recipe"
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

// scriptWorkerOS is the OS a script recipe's build runs on: the target's, or for a noarch
// package the one its interpreter belongs to.
func scriptWorkerOS(r *recipe.Recipe) string {
	target := r.TargetPlatform
	if r.Build.Noarch != "" {
		if r.Build.Script.Interpreter == recipe.Bash {
			return "linux"
		}
		return "windows"
	}
	switch {
	case strings.HasPrefix(target, "win-"):
		return "windows"
	case strings.HasPrefix(target, "osx-"):
		return "macos"
	}
	return "linux"
}

// scriptName names a recipe's build script for messages.
func scriptName(r *recipe.Recipe) string {
	if r.Build.Script.File != "" {
		return r.Build.Script.File
	}
	return "build.script"
}

// workerPlatform gives the workers' OS family and CPU, from the flags or the target.
func workerPlatform(target, osName, arch string) (string, string, error) {
	if osName == "" {
		switch {
		case strings.HasPrefix(target, "win-"):
			osName = "windows"
		case strings.HasPrefix(target, "osx-"):
			osName = "macos"
		default:
			osName = "linux"
		}
	}
	if arch == "" {
		arch = "x86_64"
		if strings.HasSuffix(target, "-aarch64") || strings.HasSuffix(target, "-arm64") {
			arch = "arm64"
		}
	}
	switch osName {
	case "linux", "windows", "macos":
	default:
		return "", "", usageError{fmt.Errorf("--worker-os %q: expected linux, windows or macos", osName)}
	}
	switch arch {
	case "x86_64", "arm64":
	default:
		return "", "", usageError{fmt.Errorf("--worker-arch %q: expected x86_64 or arm64", arch)}
	}
	return osName, arch, nil
}

// checkBinary makes sure an executable runs on workers of that OS and CPU, so that a
// wrong --binary fails here and not on the farm.
func checkBinary(path, osName, arch string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	gotOS, gotArch := "", ""
	if ef, err := elf.NewFile(f); err == nil {
		gotOS = "linux"
		switch ef.Machine {
		case elf.EM_X86_64:
			gotArch = "x86_64"
		case elf.EM_AARCH64:
			gotArch = "arm64"
		default:
			gotArch = ef.Machine.String()
		}
	} else if pf, err := pe.NewFile(f); err == nil {
		gotOS = "windows"
		switch pf.Machine {
		case pe.IMAGE_FILE_MACHINE_AMD64:
			gotArch = "x86_64"
		case pe.IMAGE_FILE_MACHINE_ARM64:
			gotArch = "arm64"
		default:
			gotArch = fmt.Sprintf("machine %#x", pf.Machine)
		}
	} else if mf, err := macho.NewFile(f); err == nil {
		gotOS, gotArch = "macos", machoArch(mf.Cpu)
	} else if ff, err := macho.NewFatFile(f); err == nil {
		gotOS = "macos"
		for _, a := range ff.Arches {
			if machoArch(a.Cpu) == arch {
				gotArch = arch
			}
		}
		if gotArch == "" && len(ff.Arches) > 0 {
			gotArch = machoArch(ff.Arches[0].Cpu)
		}
	} else {
		return fmt.Errorf("%s is not a program for Linux, Windows or macOS", path)
	}
	if gotOS != osName || gotArch != arch {
		return fmt.Errorf("%s is a %s/%s program, but the job runs on %s/%s workers (see --worker-os, --worker-arch)", path, gotOS, gotArch, osName, arch)
	}
	return nil
}

func machoArch(c macho.Cpu) string {
	switch c {
	case macho.CpuAmd64:
		return "x86_64"
	case macho.CpuArm64:
		return "arm64"
	}
	return c.String()
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
			dir := jobChannelPath(f.channel.url, loc, onWindowsHost)
			fmt.Fprintf(stderr, "note: %s is not an S3 channel: only workers that see this folder at the same path can publish to it\n", dir)
			return dir, nil
		}
		return loc.String(), nil
	}
	deadline, err := exec.LookPath("deadline")
	if err != nil {
		return "", usageError{errors.New("--channel is required: the Deadline CLI (deadline) is not on PATH to ask for the default queue's job attachments bucket")}
	}
	bucket, err := deadlineQueueBucket(ctx, deadline, f.farmID, f.queueID)
	if err != nil {
		return "", usageError{fmt.Errorf("no --channel, and %w; pass --channel s3://bucket/prefix", err)}
	}
	url := "s3://" + bucket + "/Conda/Default"
	fmt.Fprintf(stderr, "no --channel: using %s (the Deadline default queue's job attachments bucket)\n", url)
	return url, nil
}

// onWindowsHost tells how local channel paths are read (a variable for tests).
var onWindowsHost = runtime.GOOS == "windows"

// jobChannelPath is the CondaChannel value of a local --channel raw (parsed as loc): its
// absolute path. A file:// URL is absolute already and kept, and so is a Windows path
// (C:\conda, C:/conda, \\server\share\conda) given on another system, for Windows
// workers: made absolute here it would become a path under the current folder.
func jobChannelPath(raw string, loc channel.Location, windowsHost bool) string {
	if strings.HasPrefix(strings.ToLower(raw), "file://") {
		return raw
	}
	if !windowsHost && isWindowsAbs(raw) {
		return raw
	}
	return loc.String()
}

// isWindowsAbs reports whether p is an absolute Windows path: a drive letter and a
// separator, or a UNC path.
func isWindowsAbs(p string) bool {
	if len(p) >= 3 && (p[0] >= 'a' && p[0] <= 'z' || p[0] >= 'A' && p[0] <= 'Z') && p[1] == ':' && (p[2] == '\\' || p[2] == '/') {
		return true
	}
	return strings.HasPrefix(p, `\\`) || strings.HasPrefix(p, "//")
}

// deadlineQueueBucket runs `deadline queue get` and returns the queue's job attachments
// bucket (jobAttachmentSettings.s3BucketName). The CLI prints YAML; JSON parses too.
func deadlineQueueBucket(ctx context.Context, deadline, farmID, queueID string) (string, error) {
	args := []string{"queue", "get"}
	if farmID != "" {
		args = append(args, "--farm-id", farmID)
	}
	if queueID != "" {
		args = append(args, "--queue-id", queueID)
	}
	var out, errb bytes.Buffer
	c := exec.CommandContext(ctx, deadline, args...)
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		return "", fmt.Errorf("`deadline %s` failed (%v): %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()+" "+out.String()))
	}
	var q struct {
		QueueID     string `yaml:"queueId"`
		DisplayName string `yaml:"displayName"`
		Settings    *struct {
			Bucket string `yaml:"s3BucketName"`
		} `yaml:"jobAttachmentSettings"`
	}
	if err := yaml.Unmarshal(out.Bytes(), &q); err != nil {
		return "", fmt.Errorf("cannot read the output of `deadline %s`: %v", strings.Join(args, " "), err)
	}
	if q.Settings == nil || q.Settings.Bucket == "" {
		name := q.DisplayName
		if name == "" {
			name = q.QueueID
		}
		return "", fmt.Errorf("the Deadline queue %s has no job attachments bucket", name)
	}
	return q.Settings.Bucket, nil
}

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
				fmt.Fprintf(stdout, "submit it with%s: %s\n", shellName(), shellJoin(deadlineSubmitArgs(dirs[i], &f, "")))
			}
			return nil
		},
	}
	f.add(write.Flags())
	write.Flags().BoolVar(&asJSON, "json", false, "print the bundle folder and parameter values as JSON")
	bundle.AddCommand(write)
	return bundle
}

// writeBundles writes one bundle per plan: into dir itself for one, into
// dir/<platform> for each of several (a deadline-cloud.yaml selecting several
// platforms). It returns the absolute folders. A failure removes what it wrote.
func writeBundles(dir string, plans []*jobPlan) ([]string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	_, statErr := os.Stat(abs)
	created := errors.Is(statErr, fs.ErrNotExist)
	var dirs []string
	for _, p := range plans {
		d := abs
		if len(plans) > 1 {
			d = filepath.Join(abs, p.Platform)
		}
		if err := jobbundle.Write(d, p.Kind, p.Values, p.Host); err != nil {
			if created {
				os.RemoveAll(abs)
			}
			return nil, usageError{err}
		}
		dirs = append(dirs, d)
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
func deadlineSubmitArgs(dir string, f *jobFlags, name string) []string {
	args := []string{"deadline", "bundle", "submit", dir}
	if f.farmID != "" {
		args = append(args, "--farm-id", f.farmID)
	}
	if f.queueID != "" {
		args = append(args, "--queue-id", f.queueID)
	}
	if name != "" {
		args = append(args, "--name", name)
	}
	return args
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
// PowerShell. Both quote with single quotes, in which nothing ($, backticks, %VAR%)
// is expanded.
func shellJoin(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = shellQuote(a)
	}
	return strings.Join(quoted, " ")
}

func shellQuote(s string) string {
	if bareWord(s, onWindows) {
		return s
	}
	if onWindows {
		// A PowerShell single-quoted string: a quote inside is doubled, typographic
		// single quotes included (PowerShell ends the string at them too).
		var b strings.Builder
		b.WriteByte('\'')
		for _, r := range s {
			switch r {
			case '\'', '\u2018', '\u2019', '\u201a', '\u201b':
				b.WriteRune(r)
			}
			b.WriteRune(r)
		}
		b.WriteByte('\'')
		return b.String()
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// bareWord tells whether s reaches the program as it is when not quoted. POSIX shells
// take @ % + = , as plain characters and a backslash as an escape. In PowerShell a
// backslash is plain, but @ splats, , makes an array, % and + are operators, and a word
// that starts with a digit may be read as a number (1kb is 1024): there only words that
// start with a letter or -- and a letter are left bare.
func bareWord(s string, powerShell bool) bool {
	if s == "" {
		return false
	}
	extra := "@%+=,"
	if powerShell {
		extra = `\`
		first := strings.TrimPrefix(s, "--")
		if first == "" || !(first[0] >= 'a' && first[0] <= 'z' || first[0] >= 'A' && first[0] <= 'Z') {
			return false
		}
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("./-_:"+extra, r)) {
			return false
		}
	}
	return true
}
