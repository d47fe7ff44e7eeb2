package doctor_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/channel/doctor"
)

// The lease and the folder checks on Windows: after a lease is released, no check fails
// or warns.
func TestLeaseAndDoctorOnWindows(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := channel.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := channel.Acquire(ctx, st, channel.LeaseOptions{TTL: time.Minute, Owner: channel.Owner{Host: "win-worker", PID: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	rep := doctor.Diagnose(ctx, "file:///"+filepath.ToSlash(dir), doctor.Options{})
	for _, c := range rep.Checks {
		if c.Status == doctor.CheckFail || c.Status == doctor.CheckWarn {
			t.Errorf("check %s: %s %s", c.Name, c.Status, c.Detail)
		}
	}
}
