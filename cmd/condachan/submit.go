package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/internal/progress"
	"github.com/condachan/condachan/jobbundle"
)

// stagedSourcesPrefix is where --stage-source puts archives, under the channel:
// .condachan/sources/<sha256>/<file name>. Content-addressed, so an archive is uploaded
// once however many jobs use it; never indexed or served.
const stagedSourcesPrefix = channel.InternalPrefix + "sources/"

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
` + "`deadline bundle submit`" + ` when the Deadline CLI is installed; otherwise, and always with
--dry-run, print that command instead. The bundle folder is kept when the command is
printed (--bundle-dir chooses it).

The job builds the recipe on a worker of the queue and publishes the package to the
channel under the channel lease, in one step. The workers need the condachan binary (on
PATH, or sent with --binary) and the bucket: no conda, no Python, no internet.

--stage-source uploads a local --source-archive to
<channel>/.condachan/sources/<sha256>/<file> (skipped when it is already there) and hands
the job its s3:// URI, which condachan streams: no job attachment, so no size limit and no
STS call, which job attachments need for the account id (it uploads with --dry-run too, so
that the printed command works as it is). Without --channel the channel is
s3://<the Deadline default queue's job attachments bucket>/Conda/Default.`,
		Example: `  condachan submit --recipe blender-4.1 --source-archive blender-4.1.1-linux-x64.tar.xz \
      --channel s3://studio-bucket/Conda/Default --stage-source
  condachan submit --recipe blender-4.1 --source-archive blender-4.1.1-windows-x64.zip --dry-run
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
	BundleDir    string            `json:"bundle_dir"`
	Kind         jobbundle.Kind    `json:"kind"`
	Parameters   map[string]string `json:"parameters"`
	StagedSource *stagedSource     `json:"staged_source,omitempty"`
	Command      []string          `json:"command"`
	CommandLine  string            `json:"command_line"`
	Submitted    bool              `json:"submitted"`
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
	p, err := f.job.plan(cmd, stderr)
	if err != nil {
		return err
	}
	res := &submitResult{Kind: p.Kind, Parameters: p.Values}
	if f.stageSource {
		if p.localArchive == "" {
			return usageError{errors.New("--stage-source needs a local --source-archive file")}
		}
		if p.Values[jobbundle.ParamSourceArchiveURI] != "" {
			return usageError{errors.New("--stage-source: the job already has an s3:// --source-archive")}
		}
		staged, err := stageSource(ctx, &f.job.channel, p, stderr)
		if err != nil {
			return err
		}
		res.StagedSource = staged
		delete(p.Values, jobbundle.ParamSourceArchive)
		p.Values[jobbundle.ParamSourceArchiveURI] = staged.URI
	}

	dir := f.bundleDir
	temporary := dir == ""
	if temporary {
		if dir, err = os.MkdirTemp("", "condachan-job-"); err != nil {
			return err
		}
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	if err := jobbundle.Write(dir, p.Kind, p.Values, p.Host); err != nil {
		if temporary {
			os.RemoveAll(dir)
		}
		return usageError{err}
	}
	res.BundleDir = dir
	args := deadlineSubmitArgs(dir, &f.job, f.name)
	if f.yes {
		args = append(args, "--yes")
	}
	res.Command, res.CommandLine = args, shellJoin(args)

	deadline, lookErr := exec.LookPath("deadline")
	switch {
	case f.dryRun:
		fmt.Fprintf(stderr, "dry run: wrote the %s job bundle to %s; submit it with%s:\n", p.Kind, dir, shellName())
	case lookErr != nil:
		fmt.Fprintf(stderr, "the Deadline CLI (deadline) is not on PATH: wrote the %s job bundle to %s; submit it with%s:\n", p.Kind, dir, shellName())
	default:
		fmt.Fprintf(stderr, "submitting: %s\n", res.CommandLine)
		c := exec.CommandContext(ctx, deadline, args[1:]...)
		c.Stdin = os.Stdin
		// With --json, stdout carries only the JSON result.
		c.Stdout, c.Stderr = stdout, stderr
		if f.json {
			c.Stdout = stderr
		}
		if err := c.Run(); err != nil {
			return fmt.Errorf("deadline bundle submit failed (%v); the bundle is kept in %s to try again: %s", err, dir, res.CommandLine)
		}
		if temporary {
			os.RemoveAll(dir)
			res.BundleDir = ""
		}
		res.Submitted = true
		if f.json {
			return printJSON(stdout, res)
		}
		return nil
	}
	if f.json {
		return printJSON(stdout, res)
	}
	fmt.Fprintln(stdout, res.CommandLine)
	return nil
}

// stageSource uploads the plan's local archive to the channel's staging area,
// create-if-absent, unless an object of the same size is already there.
func stageSource(ctx context.Context, cf *channelFlags, p *jobPlan, stderr io.Writer) (*stagedSource, error) {
	loc, err := channel.ParseLocation(p.Values[jobbundle.ParamCondaChannel])
	if err != nil {
		return nil, usageError{err}
	}
	if !loc.IsS3() {
		return nil, usageError{errors.New("--stage-source needs an S3 channel: the job streams the archive from S3")}
	}
	st, err := os.Stat(p.localArchive)
	if err != nil {
		return nil, usageError{fmt.Errorf("--source-archive: %w", err)}
	}
	name := filepath.Base(p.localArchive)
	fmt.Fprintf(stderr, "hashing %s (%s)\n", name, progress.HumanBytes(st.Size()))
	sum, err := fileSHA256(ctx, p.localArchive)
	if err != nil {
		return nil, err
	}
	if p.recipe != nil {
		if src, err := recipeSource(p.recipe, name); err == nil && src.SHA256 != "" && !strings.EqualFold(src.SHA256, sum) {
			return nil, usageError{fmt.Errorf("--source-archive %s has sha256 %s, but recipe %s expects %s: not staged", p.localArchive, sum, p.recipe.Package.Name, strings.ToLower(src.SHA256))}
		}
	}
	opts := cf.s3Options()
	store, err := channel.NewS3(ctx, loc.Bucket, loc.Prefix, opts)
	if err != nil {
		return nil, err
	}
	key := stagedSourcesPrefix + sum + "/" + name
	res := &stagedSource{URI: "s3://" + store.Bucket() + "/" + store.FullKey(key), SHA256: sum, Size: st.Size()}
	existing := func() (bool, error) {
		obj, err := store.Stat(ctx, key)
		if errors.Is(err, channel.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if obj.Size != st.Size() {
			return false, fmt.Errorf("%s already holds %d bytes, not the %d of %s: remove it and stage again", res.URI, obj.Size, st.Size(), p.localArchive)
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
	fmt.Fprintf(stderr, "staging %s to %s\n", name, res.URI)
	_, err = store.PutFile(ctx, key, p.localArchive, channel.PutOptions{
		IfAbsent:    true,
		ContentType: "application/octet-stream",
		Metadata:    map[string]string{"sha256": sum},
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

func fileSHA256(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, err := f.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
