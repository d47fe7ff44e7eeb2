package s3store

import (
	"bytes"
	"testing"

	"github.com/aws/smithy-go/logging"
)

// The SDK's own log lines come out as condachan's: a level, the source, the message.
func TestSDKLogger(t *testing.T) {
	var buf bytes.Buffer
	log := sdkLogger(&buf)
	log.Logf(logging.Warn, "falling back to IMDSv1: %s", "getToken failed")
	log.Logf(logging.Debug, "request %d", 7)
	want := "warning: AWS SDK: falling back to IMDSv1: getToken failed\ndebug: AWS SDK: request 7\n"
	if buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}
