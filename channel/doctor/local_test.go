package doctor_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/channel/doctor"
	"github.com/condachan/condachan/internal/testkit"
)

func wantChecks(t *testing.T, rep *doctor.Report, want map[string]doctor.CheckStatus) {
	t.Helper()
	testkit.WantChecks(t, rep, want)
}

func wantFinding(t *testing.T, rep *doctor.Report, name string, words ...string) {
	t.Helper()
	testkit.WantFinding(t, rep, name, words...)
}

func TestDiagnoseBadURL(t *testing.T) {
	rep := doctor.Diagnose(context.Background(), "ftp://x/y", doctor.Options{})
	if rep.OK || len(rep.Checks) != 1 || rep.Checks[0].Name != "channel" || rep.Checks[0].Status != doctor.CheckFail {
		t.Errorf("report %+v", rep)
	}
}

func TestDiagnoseLocalFolder(t *testing.T) {
	dir := t.TempDir()
	rep := doctor.Diagnose(context.Background(), dir, doctor.Options{})
	wantChecks(t, rep, map[string]doctor.CheckStatus{
		"channel": doctor.CheckPass, "folder": doctor.CheckPass, "writable": doctor.CheckPass, "file-lock": doctor.CheckPass,
		"conditional-writes": doctor.CheckPass, "s3": doctor.CheckSkip, "lease": doctor.CheckPass, "leftovers": doctor.CheckPass,
	})
	if !rep.OK || rep.Backend != "local" {
		t.Errorf("report %+v", rep)
	}
	if _, err := os.Stat(filepath.Join(dir, ".condachan", "doctor")); !os.IsNotExist(err) {
		t.Errorf("probe folder left behind (%v)", err)
	}
	if c, _ := rep.Check("s3"); !strings.Contains(c.Detail, "do not apply") {
		t.Errorf("s3 check: %s", c.Detail)
	}
}

func TestDiagnoseLocalLeaseHeld(t *testing.T) {
	dir := t.TempDir()
	st, err := channel.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := channel.Acquire(context.Background(), st, channel.LeaseOptions{TTL: time.Minute, Owner: channel.Owner{Host: "build-7", PID: 77}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(context.Background())
	rep := doctor.Diagnose(context.Background(), "file://"+filepath.ToSlash(dir), doctor.Options{})
	if c, _ := rep.Check("lease"); c.Status != doctor.CheckPass || !strings.Contains(c.Detail, "build-7 pid 77") {
		t.Errorf("lease check %+v", c)
	}
	if !rep.OK {
		t.Errorf("report %+v", rep)
	}
}

func TestDiagnoseLocalMissingFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not-yet")
	rep := doctor.Diagnose(context.Background(), dir, doctor.Options{})
	wantChecks(t, rep, map[string]doctor.CheckStatus{
		"channel": doctor.CheckPass, "folder": doctor.CheckWarn, "writable": doctor.CheckSkip, "file-lock": doctor.CheckSkip,
		"conditional-writes": doctor.CheckSkip, "s3": doctor.CheckSkip, "lease": doctor.CheckSkip, "leftovers": doctor.CheckSkip,
	})
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Error("the doctor created the channel folder")
	}
}

func TestDiagnoseLocalNotWritable(t *testing.T) {
	if runtime.GOOS == "windows" || os.Geteuid() == 0 {
		t.Skip("permission bits do not stop this user")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	rep := doctor.Diagnose(context.Background(), dir, doctor.Options{})
	if c, _ := rep.Check("writable"); c.Status != doctor.CheckFail || !strings.Contains(c.Fix, "write access") {
		t.Errorf("writable check %+v", c)
	}
}

func TestReportJSON(t *testing.T) {
	rep := doctor.Diagnose(context.Background(), t.TempDir(), doctor.Options{})
	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Channel string `json:"channel"`
		Backend string `json:"backend"`
		OK      bool   `json:"ok"`
		Checks  []struct {
			Name, Status, Detail, Fix string
		} `json:"checks"`
	}
	if err := json.Unmarshal(data, &back); err != nil || !back.OK || back.Backend != "local" || len(back.Checks) != len(rep.Checks) || back.Checks[0].Status != "pass" {
		t.Errorf("JSON %s (%v)", data, err)
	}
}

func TestDiagnoseLocalReportsLeftovers(t *testing.T) {
	dir := t.TempDir()
	oldTemp := testkit.WriteAged(t, dir, "linux-64/.app-1.0-0.conda.tmp-123", "half a package", 5*time.Hour)
	oldLease := testkit.WriteAged(t, dir, ".condachan/.lock.json.tmp-9", "{", 2*time.Hour)
	youngTemp := testkit.WriteAged(t, dir, "linux-64/.app-2.0-0.conda.tmp-456", "being written", 10*time.Minute)
	rep := doctor.Diagnose(context.Background(), dir, doctor.Options{})
	c, ok := rep.Check("leftovers")
	if !ok || c.Status != doctor.CheckWarn {
		t.Fatalf("leftovers check %+v", c)
	}
	for _, w := range []string{"2 interrupted write(s)", "over 1h", "linux-64/.app-1.0-0.conda.tmp-123 (temp file, 14 B, last written 5h ago)", ".condachan/.lock.json.tmp-9"} {
		if !strings.Contains(c.Detail, w) {
			t.Errorf("detail lacks %q: %s", w, c.Detail)
		}
	}
	if strings.Contains(c.Detail, "tmp-456") {
		t.Errorf("a young temp file is reported: %s", c.Detail)
	}
	if !strings.Contains(c.Fix, "the next `condachan index` removes them") {
		t.Errorf("fix: %s", c.Fix)
	}
	if !rep.OK {
		t.Error("a warning failed the report")
	}
	for _, p := range []string{oldTemp, oldLease, youngTemp} {
		if !exists(p) {
			t.Errorf("doctor removed %s", p)
		}
	}
	// --read-only looks too: it only lists.
	rep = doctor.Diagnose(context.Background(), dir, doctor.Options{ReadOnly: true})
	if c, _ := rep.Check("leftovers"); c.Status != doctor.CheckWarn {
		t.Errorf("read-only leftovers check %+v", c)
	}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
