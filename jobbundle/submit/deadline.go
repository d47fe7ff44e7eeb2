// Package submit carries out planned jobs (package plan) on AWS Deadline Cloud: it works
// out the channel jobs publish to (the default queue's job attachments bucket when none
// is given), stages the jobs' local source archives in their channel, where a job finds
// them by sha256, and mirror jobs' local bundles, which a job streams from there, writes the bundles with the commands that submit them (Prepare), and
// runs the Deadline CLI (deadline) to read a queue and submit bundles.
//
// Errors name no command-line flags: an error about an input is a plan.FieldError, and
// every error caused by what was given rather than by the system matches plan.ErrInput.
package submit

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DefaultChannelPrefix is the prefix of the channel in a queue's job attachments
// bucket when none is given, as the AWS sample has it.
const DefaultChannelPrefix = "Conda/Default"

// DefaultChannel is the channel in a job attachments bucket when none is given.
func DefaultChannel(bucket string) string {
	return "s3://" + bucket + "/" + DefaultChannelPrefix
}

// Args is the `deadline bundle submit` command for a bundle folder; farmID, queueID and
// name are left out when empty, and yes adds --yes (no confirmation prompts).
func Args(dir, farmID, queueID, name string, yes bool) []string {
	args := []string{"deadline", "bundle", "submit", dir}
	if farmID != "" {
		args = append(args, "--farm-id", farmID)
	}
	if queueID != "" {
		args = append(args, "--queue-id", queueID)
	}
	if name != "" {
		args = append(args, "--name", name)
	}
	if yes {
		args = append(args, "--yes")
	}
	return args
}

// JobName is the name of the job of a platform: the name given, with the platform
// when one name goes to several jobs.
func JobName(name, platform string, several bool) string {
	if name != "" && several {
		name += " (" + platform + ")"
	}
	return name
}

// QueueBucket runs `deadline queue get` (deadline is the CLI's path) and returns the
// queue's job attachments bucket (jobAttachmentSettings.s3BucketName). The CLI prints
// YAML; JSON parses too.
func QueueBucket(ctx context.Context, deadline, farmID, queueID string) (string, error) {
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
	return parseQueueBucket(out.Bytes(), args)
}

func parseQueueBucket(out []byte, args []string) (string, error) {
	var q struct {
		QueueID     string `yaml:"queueId"`
		DisplayName string `yaml:"displayName"`
		Settings    *struct {
			Bucket string `yaml:"s3BucketName"`
		} `yaml:"jobAttachmentSettings"`
	}
	if err := yaml.Unmarshal(out, &q); err != nil {
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

// Run runs a `deadline bundle submit` command (args as Args returns, args[0] being
// replaced by deadline, the CLI's path) with the given standard streams.
func Run(ctx context.Context, deadline string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := exec.CommandContext(ctx, deadline, args[1:]...)
	c.Stdin, c.Stdout, c.Stderr = stdin, stdout, stderr
	return c.Run()
}

// Error is a `deadline bundle submit` that failed: of the bundle in BundleDir, with the
// command CommandLine, after the jobs of the platforms Done were submitted.
type Error struct {
	Err         error
	BundleDir   string
	CommandLine string
	Done        []string
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("deadline bundle submit failed (%v); the bundle is kept in %s to try again: %s", e.Err, e.BundleDir, e.CommandLine)
	if len(e.Done) > 0 {
		msg += fmt.Sprintf(" (submitted already: %s)", strings.Join(e.Done, ", "))
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }
