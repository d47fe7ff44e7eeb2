package submit

import (
	"context"
	"fmt"
	"os/exec"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/jobbundle/plan"
)

// LookDeadline finds the Deadline CLI (deadline) on PATH.
func LookDeadline() (string, error) { return exec.LookPath("deadline") }

// JobChannel is the channel jobs publish to, as ResolveChannel found it.
type JobChannel struct {
	// URL is the jobs' CondaChannel value.
	URL string
	// Local is set for a folder: only workers that see it at the same path can publish
	// to it.
	Local bool
	// FromQueue is set when no channel was given and URL is the Deadline default queue's
	// job attachments bucket, with DefaultChannelPrefix.
	FromQueue bool
}

// ResolveChannel works out the channel jobs publish to: url when given (a folder made
// absolute as this machine sees it, windowsHost telling how to read it: the worker would
// resolve a relative path against its session folder), else DefaultChannel of the job
// attachments bucket of the Deadline CLI's default queue (or of farmID and queueID), as
// the AWS sample does.
func ResolveChannel(ctx context.Context, url, farmID, queueID string, windowsHost bool) (JobChannel, error) {
	if url != "" {
		loc, err := channel.ParseLocation(url)
		if err != nil {
			return JobChannel{}, plan.AsInput(err)
		}
		if !loc.IsS3() {
			return JobChannel{URL: plan.ChannelPath(url, loc, windowsHost), Local: true}, nil
		}
		return JobChannel{URL: loc.String()}, nil
	}
	deadline, err := LookDeadline()
	if err != nil {
		return JobChannel{}, plan.AsInput(&NoDeadlineError{})
	}
	bucket, err := QueueBucket(ctx, deadline, farmID, queueID)
	if err != nil {
		return JobChannel{}, plan.AsInput(&QueueChannelError{Err: err})
	}
	return JobChannel{URL: DefaultChannel(bucket), FromQueue: true}, nil
}

// NoDeadlineError is no channel given, and no Deadline CLI to ask for the default one.
type NoDeadlineError struct{}

func (e *NoDeadlineError) Error() string { return e.Message(nil) }

func (e *NoDeadlineError) Message(name func(plan.Field) string) string {
	return fmt.Sprintf("%s is required: the Deadline CLI (deadline) is not on PATH to ask for the default queue's job attachments bucket", fieldName(name, plan.FieldChannel))
}

// QueueChannelError is no channel given, and the default queue's job attachments bucket
// not found (Err says why).
type QueueChannelError struct{ Err error }

func (e *QueueChannelError) Error() string { return e.Message(nil) }
func (e *QueueChannelError) Unwrap() error { return e.Err }

func (e *QueueChannelError) Message(name func(plan.Field) string) string {
	n := fieldName(name, plan.FieldChannel)
	return fmt.Sprintf("no %s, and %v; pass %s s3://bucket/prefix", n, e.Err, n)
}
