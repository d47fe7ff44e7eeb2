package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/condachan/condachan/internal/mirrortest"
)

// TestMirrorCommand covers the mirror commands' refusals and exit codes, and a run from
// a folder of packages with its --json summary.
func TestMirrorCommand(t *testing.T) {
	up := mirrortest.New(t)
	work := t.TempDir()
	lock := up.WriteLock(t, work, mirrortest.ExplicitMD5)
	pixi := up.WriteLock(t, work, mirrortest.Pixi)
	pypi := filepath.Join(work, "pypi.lock")
	os.WriteFile(pypi, []byte("version: 6\nenvironments:\n  default:\n    channels: []\n    packages:\n      linux-64:\n      - pypi: https://files.pythonhosted.org/packages/aa/requests-2.32.3-py3-none-any.whl\npackages:\n- pypi: https://files.pythonhosted.org/packages/aa/requests-2.32.3-py3-none-any.whl\n  name: requests\n  version: 2.32.3\n"), 0o644)
	ch := filepath.Join(t.TempDir(), "channel")
	for _, tc := range []struct {
		args   []string
		code   int
		output string
	}{
		{[]string{"mirror", "--channel", ch}, exitUsage, "--lock is required"},
		{[]string{"mirror", "--lock", filepath.Join(work, "nosuch.txt"), "--channel", ch}, exitUsage, "lock file: open"},
		{[]string{"mirror", "--lock", lock, "--from", filepath.Join(work, "nosuch.bundle"), "--channel", ch}, exitUsage, "the folder or bundle to take packages from"},
		{[]string{"mirror", "--lock", pypi, "--channel", ch}, exitFailure, "requests"},
		{[]string{"mirror", "--lock", pixi, "--environment", "nosuch", "--channel", ch}, exitUsage, "nosuch"},
		{[]string{"mirror", "--lock", lock, "--platform", "win-64", "--channel", ch}, exitUsage, "has no packages for platform win-64"},
		{[]string{"mirror", "pack", "--lock", lock}, exitUsage, "-o/--output is required"},
		{[]string{"mirror", "--lock", lock, "--jobs", "0", "--channel", ch}, exitUsage, "--jobs 0: give 1 or more"},
	} {
		code, _, stderr := runCLI(t, append(tc.args, "--progress", "none")...)
		if code != tc.code || !strings.Contains(stderr, tc.output) {
			t.Errorf("condachan %s: exit %d, want %d with %q:\n%s", strings.Join(tc.args, " "), code, tc.code, tc.output, stderr)
		}
	}
	if _, err := os.Stat(ch); !os.IsNotExist(err) {
		t.Errorf("a refused mirror left the channel folder: %v", err)
	}

	// From a folder laid out as <subdir>/<file>: the upstream's own.
	code, stdout, stderr := runCLI(t, "mirror", "--lock", lock, "--from", filepath.Join(up.Dir, "conda-forge"), "--channel", ch, "--progress", "none", "--json")
	if code != 0 {
		t.Fatalf("mirror --from DIR: %d\n%s", code, stderr)
	}
	var res struct {
		Uploaded int `json:"uploaded"`
		Packages []struct {
			Key     string `json:"key"`
			Status  string `json:"status"`
			Indexed bool   `json:"indexed"`
		} `json:"packages"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("--json printed %q: %v", stdout, err)
	}
	if res.Uploaded != len(up.Locked()) || len(res.Packages) != len(up.Locked()) {
		t.Fatalf("uploaded %d of %d packages: %s", res.Uploaded, len(res.Packages), stdout)
	}
	for _, p := range res.Packages {
		if p.Status != "uploaded" || !p.Indexed {
			t.Errorf("%s: %s, indexed %v", p.Key, p.Status, p.Indexed)
		}
	}
	if up.Requests() != 0 {
		t.Errorf("mirror --from DIR sent %d requests upstream", up.Requests())
	}
	code, stdout, _ = runCLI(t, "mirror", "--lock", lock, "--channel", ch, "--progress", "none")
	if code != 0 || !strings.Contains(stdout, "0 uploaded") || up.Requests() != 0 {
		t.Errorf("a second mirror: exit %d, %d requests upstream:\n%s", code, up.Requests(), stdout)
	}
}
