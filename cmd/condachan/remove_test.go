package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/condachan/condachan/internal/testkit"
)

// TestIndexRemovePatchCommands covers the CLI around the index's channel metadata:
// --strict, --no-shards/--shards, --subdir of a missing subdir, remove and patch with
// their refusals and exit codes.
func TestIndexRemovePatchCommands(t *testing.T) {
	ch := t.TempDir()
	src := t.TempDir()
	a := testkit.MakeConda(t, src, testkit.PackageSpec{Name: "alpha", Version: "1.0", Build: "0"})
	b := testkit.MakeConda(t, src, testkit.PackageSpec{Name: "beta", Version: "1.0", Build: "0"})
	if code, _, stderr := runCLI(t, "publish", "--channel", ch, "--progress", "none", a, b); code != 0 {
		t.Fatalf("publish: %d %s", code, stderr)
	}
	shardIndex := filepath.Join(ch, "linux-64", "repodata_shards.msgpack.zst")
	if _, err := os.Stat(shardIndex); err != nil {
		t.Fatalf("no shard index after publish: %v", err)
	}
	for _, tc := range []struct {
		args   []string
		code   int
		output string
	}{
		{[]string{"index", "--no-shards", "--shards"}, exitUsage, "contradict"},
		// A subdir or a package that was named wrong is the input's fault: exit 2.
		{[]string{"index", "--subdir", "win-64"}, exitUsage, "the channel has no win-64 subdir (it has: linux-64, noarch)"},
		{[]string{"index", "--subdir", "linux64"}, exitUsage, `"linux64" is not a conda subdir`},
		{[]string{"patch", "--subdir", "win-64", "--clear"}, exitUsage, "the channel has no win-64 subdir"},
		{[]string{"patch", "--subdir", "linux64", "--clear"}, exitUsage, `"linux64" is not a conda subdir`},
		{[]string{"remove", "nosuch-1.0-0.conda"}, exitUsage, "not in the channel: nosuch-1.0-0.conda; nothing was removed"},
		{[]string{"remove", "linux-64/README"}, exitUsage, "is not a package in a channel"},
		{[]string{"patch", "--subdir", "linux-64"}, exitUsage, "give the instructions FILE, or --clear"},
		{[]string{"patch", filepath.Join(src, "x.json")}, exitUsage, "--subdir is required"},
		{[]string{"patch", "--subdir", "linux-64", filepath.Join(src, "nosuch.json")}, exitUsage, "patch instructions:"},
	} {
		args := append(append([]string{}, tc.args...), "--channel", ch, "--progress", "none")
		code, stdout, stderr := runCLI(t, args...)
		if code != tc.code || !strings.Contains(stdout+stderr, tc.output) {
			t.Errorf("%v: exit %d, want %d with %q\n%s%s", tc.args, code, tc.code, tc.output, stdout, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(ch, "win-64")); err == nil {
		t.Error("index --subdir win-64 created win-64")
	}

	// --no-shards removes the shard index; --strict fails on an unreadable package.
	testkit.WriteFile(t, filepath.Join(ch, "linux-64"), "broken-1.0-0.conda", []byte("not a package"))
	code, stdout, stderr := runCLI(t, "index", "--channel", ch, "--progress", "none", "--no-shards", "--strict")
	if code != exitFailure || !strings.Contains(stderr, "--strict: 1 package(s) are unreadable") || !strings.Contains(stdout, "linux-64: 2 packages (0 added, 0 replaced, 0 removed, 1 unreadable)") {
		t.Errorf("--strict: %d\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Stat(shardIndex); !os.IsNotExist(err) {
		t.Errorf("--no-shards left the shard index: %v", err)
	}
	os.Remove(filepath.Join(ch, "linux-64", "broken-1.0-0.conda"))

	patch := testkit.WriteFile(t, src, "fix.json", []byte(`{"patch_instructions_version": 1, "packages.conda": {"alpha-1.0-0.conda": {"license": "BSD-3-Clause"}}}`))
	if code, stdout, stderr := runCLI(t, "patch", "--channel", ch, "--subdir", "linux-64", patch, "--progress", "none"); code != 0 || !strings.Contains(stdout, "stored ") {
		t.Fatalf("patch: %d %s %s", code, stdout, stderr)
	}
	rd, _ := os.ReadFile(filepath.Join(ch, "linux-64", "repodata.json"))
	if !strings.Contains(string(rd), `"license":"BSD-3-Clause"`) {
		t.Errorf("patched repodata: %s", rd)
	}
	bad := testkit.WriteFile(t, src, "bad.json", []byte(`{"patch_instructions_version": 1, "packages.conda": {"alpha-1.0-0.conda": {"size": 1}}}`))
	if code, _, stderr := runCLI(t, "patch", "--channel", ch, "--subdir", "linux-64", bad); code != exitUsage || !strings.Contains(stderr, `bad.json: packages.conda: alpha-1.0-0.conda: "size" describes the file itself`) {
		t.Errorf("bad patch: %d %s", code, stderr)
	}
	if code, stdout, stderr := runCLI(t, "remove", "--channel", ch, "alpha-1.0-0.conda", "--progress", "none"); code != 0 || !strings.Contains(stdout, "removed ") {
		t.Fatalf("remove: %d %s %s", code, stdout, stderr)
	}
	rd, _ = os.ReadFile(filepath.Join(ch, "linux-64", "repodata.json"))
	if strings.Contains(string(rd), "alpha") {
		t.Errorf("repodata after remove: %s", rd)
	}
	if code, stdout, stderr := runCLI(t, "patch", "--channel", ch, "--subdir", "linux-64", "--clear", "--progress", "none"); code != 0 || !strings.Contains(stdout, "deleted ") {
		t.Errorf("patch --clear: %d %s %s", code, stdout, stderr)
	}
}
