package submit

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/condachan/condachan/jobbundle"
	"github.com/condachan/condachan/jobbundle/plan"
)

// Request is planned jobs to write as bundles and submit.
type Request struct {
	Jobs []*plan.Job
	// Stager, when set, stages the jobs' local archives and mirror bundles in their
	// channels first (Stager.StageJobs); the jobs were planned to be staged
	// (plan.Options.Stage).
	Stager *Stager
	// BundleDir is the folder the bundles are written to; "" writes them to a new
	// temporary folder, removed once every job is submitted.
	BundleDir string
	// FarmID, QueueID, Name and Yes are passed to `deadline bundle submit` (Args,
	// JobName).
	FarmID, QueueID, Name string
	Yes                   bool
	// Quote writes a command as one line to paste into a shell.
	Quote func(args []string) string
}

// Result is a job's bundle and the command that submits it.
type Result struct {
	BundleDir     string            `json:"bundle_dir"`
	Kind          jobbundle.Kind    `json:"kind"`
	Platform      string            `json:"platform,omitempty"`
	Parameters    map[string]string `json:"parameters"`
	StagedSources []*StagedSource   `json:"staged_sources,omitempty"`
	StagedBundle  *StagedSource     `json:"staged_bundle,omitempty"` // a mirror job's, from this machine
	Command       []string          `json:"command"`
	CommandLine   string            `json:"command_line"`
	Submitted     bool              `json:"submitted"`
}

// Batch is jobs written as bundles, ready to submit.
type Batch struct {
	Results   []*Result
	jobs      []*plan.Job
	dir       string
	temporary bool
}

// Prepare stages the jobs' archives (with a Stager) and writes their bundles, each with
// the command that submits it. A failure leaves no temporary folder behind.
func Prepare(ctx context.Context, req Request) (*Batch, error) {
	b := &Batch{jobs: req.Jobs, dir: req.BundleDir, temporary: req.BundleDir == ""}
	for _, j := range req.Jobs {
		b.Results = append(b.Results, &Result{Kind: j.Kind, Platform: j.Platform, Parameters: j.Values})
	}
	if req.Stager != nil {
		staged, err := req.Stager.StageJobs(ctx, req.Jobs)
		if err != nil {
			return nil, err
		}
		for i, r := range b.Results {
			if r.Kind == jobbundle.Mirror && len(staged[i]) == 1 {
				r.StagedBundle = staged[i][0]
			} else {
				r.StagedSources = staged[i]
			}
		}
	}
	if b.temporary {
		var err error
		if b.dir, err = os.MkdirTemp("", "condachan-job-"); err != nil {
			return nil, fmt.Errorf("bundle folder: %w", err)
		}
	}
	dirs, err := plan.WriteJobs(b.dir, req.Jobs)
	if err != nil {
		if b.temporary {
			os.RemoveAll(b.dir)
		}
		return nil, err
	}
	for i, r := range b.Results {
		r.BundleDir = dirs[i]
		r.Command = Args(dirs[i], req.FarmID, req.QueueID, JobName(req.Name, r.Platform, len(dirs) > 1), req.Yes)
		r.CommandLine = req.Quote(r.Command)
	}
	return b, nil
}

// Written describes the bundles written, for messages: "the build job bundle to DIR",
// or "2 build job bundles (linux-64 to DIR, win-64 to DIR)".
func (b *Batch) Written() string {
	if len(b.jobs) == 1 {
		return b.jobs[0].BundleName() + " to " + b.Results[0].BundleDir
	}
	var parts []string
	for i, j := range b.jobs {
		parts = append(parts, j.Platform+" to "+b.Results[i].BundleDir)
	}
	return fmt.Sprintf("%d %s job bundles (%s)", len(b.jobs), b.jobs[0].Kind, strings.Join(parts, ", "))
}

// Submit runs each bundle's command with deadline, the Deadline CLI's path (announced
// on log, which gets its errors; out gets its output). A failure is an *Error, which
// keeps the bundle to try again; once every job is submitted a temporary bundle folder
// is removed.
func (b *Batch) Submit(ctx context.Context, deadline string, stdin io.Reader, out, log io.Writer) error {
	for i, r := range b.Results {
		fmt.Fprintf(log, "submitting: %s\n", r.CommandLine)
		if err := Run(ctx, deadline, r.Command, stdin, out, log); err != nil {
			var done []string
			for _, p := range b.Results[:i] {
				done = append(done, p.Platform)
			}
			return &Error{Err: err, BundleDir: r.BundleDir, CommandLine: r.CommandLine, Done: done}
		}
		r.Submitted = true
	}
	if b.temporary {
		os.RemoveAll(b.dir)
		for _, r := range b.Results {
			r.BundleDir = ""
		}
	}
	return nil
}
