package doctor_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/channel/doctor"
)

// A program that diagnoses an s3:// channel without linking the S3 backend hears, as a
// failed check, which package to import. This test binary does not link channel/s3.
func TestDiagnoseWithoutBackendNamesThePackage(t *testing.T) {
	if slices.Contains(channel.Backends(), "s3") {
		t.Fatal("this test binary links the S3 backend")
	}
	rep := doctor.Diagnose(context.Background(), "s3://studio-bucket/Conda", doctor.Options{})
	if c, ok := rep.Check("channel"); rep.OK || !ok || c.Status != doctor.CheckFail || !strings.Contains(c.Detail, "channel/s3") {
		t.Errorf("Diagnose without the S3 backend: %+v", rep)
	}
	if rep.Backend != "s3" || len(rep.Checks) != 1 {
		t.Errorf("report %+v", rep)
	}
}
