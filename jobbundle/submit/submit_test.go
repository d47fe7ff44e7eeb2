package submit

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/condachan/condachan/jobbundle/plan"
)

func TestArgs(t *testing.T) {
	got := strings.Join(Args("/tmp/job", "farm-1", "queue-2", "Blender", true), " ")
	if want := "deadline bundle submit /tmp/job --farm-id farm-1 --queue-id queue-2 --name Blender --yes"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got := strings.Join(Args("/tmp/job", "", "", "", false), " "); got != "deadline bundle submit /tmp/job" {
		t.Errorf("got %s", got)
	}
	if JobName("x", "linux-64", true) != "x (linux-64)" || JobName("x", "linux-64", false) != "x" || JobName("", "linux-64", true) != "" {
		t.Error("JobName")
	}
}

func TestParseQueueBucket(t *testing.T) {
	args := []string{"queue", "get"}
	b, err := parseQueueBucket([]byte("queueId: queue-1\ndisplayName: Main\njobAttachmentSettings:\n  s3BucketName: studio-bucket\n  rootPrefix: DeadlineCloud\n"), args)
	if err != nil || b != "studio-bucket" || DefaultChannel(b) != "s3://studio-bucket/Conda/Default" {
		t.Errorf("%q, %v", b, err)
	}
	if _, err := parseQueueBucket([]byte(`{"queueId": "queue-1", "displayName": "Main"}`), args); err == nil || err.Error() != "the Deadline queue Main has no job attachments bucket" {
		t.Errorf("no bucket: %v", err)
	}
	if _, err := parseQueueBucket([]byte("[not: yaml"), args); err == nil || !strings.Contains(err.Error(), "cannot read the output of `deadline queue get`") {
		t.Errorf("bad output: %v", err)
	}
}

func TestStageNeedsS3(t *testing.T) {
	var s Stager
	_, err := s.Open(context.Background(), t.TempDir())
	var ns *NotS3Error
	if !errors.As(err, &ns) || !errors.Is(err, plan.ErrInput) {
		t.Fatalf("a local channel: %v", err)
	}
	if got := ns.Message(func(plan.Field) string { return "--stage-source" }); got != "--stage-source needs an S3 channel: the job streams the archives from S3" {
		t.Errorf("message: %s", got)
	}
}
