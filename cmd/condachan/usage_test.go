package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUsageExitCodes runs invocations that are the user's mistake: each exits 2 (not 1),
// says what is wrong, and creates no channel folder.
func TestUsageExitCodes(t *testing.T) {
	noDeadline(t)
	tmp := t.TempDir()
	typo := filepath.Join(tmp, "chanel-typo") // never created
	fresh := filepath.Join(tmp, "new-channel")
	file := filepath.Join(tmp, "a-file")
	os.WriteFile(file, []byte("x"), 0o644)
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"serve extra argument", []string{"serve", "--channel", tmp, "extra"}, []string{`unknown command "extra" for "condachan serve"`, "Usage: condachan serve"}},
		{"bundle write without DIR", []string{"bundle", "write", "--index", "--channel", "s3://b-1/c"}, []string{"DIR", "got 0", "Usage: condachan bundle write DIR"}},
		{"bundle write two folders", []string{"bundle", "write", filepath.Join(tmp, "a"), filepath.Join(tmp, "b"), "--index", "--channel", "s3://b-1/c"}, []string{"DIR", "got 2"}},
		{"unknown command", []string{"frobnicate"}, []string{`unknown command "frobnicate" for "condachan"`, "condachan --help"}},
		{"unknown bundle command", []string{"bundle", "frob"}, []string{`unknown command "frob" for "condachan bundle"`, "write"}},
		{"unknown lock command", []string{"lock", "steal"}, []string{`unknown command "steal" for "condachan lock"`, "status", "break"}},
		{"index extra argument", []string{"index", "--channel", tmp, "noarch"}, []string{`unknown command "noarch" for "condachan index"`}},
		{"publish without packages", []string{"publish", "--channel", fresh}, []string{"requires at least 1 arg", "Usage: condachan publish"}},
		{"publish a missing package", []string{"publish", filepath.Join(tmp, "missing-1.0-0.conda"), "--channel", fresh}, []string{"package file " + filepath.Join(tmp, "missing-1.0-0.conda") + " does not exist"}},
		{"publish a folder", []string{"publish", tmp, "--channel", fresh}, []string{"package file " + tmp + " is a folder"}},
		{"serve a missing folder", []string{"serve", "--channel", typo, "--addr", "127.0.0.1:0"}, []string{"no channel at " + typo, "check the path, or publish a package to create it"}},
		{"lock status of a missing folder", []string{"lock", "status", "--channel", typo}, []string{"no channel at " + typo}},
		{"lock break of a missing folder", []string{"lock", "break", "--channel", typo, "--yes"}, []string{"no channel at " + typo}},
		{"index of a missing folder", []string{"index", "--channel", typo, "--progress", "none"}, []string{"no channel at " + typo}},
		{"doctor of a missing folder", []string{"doctor", "--channel", typo}, []string{"no channel at " + typo}},
		{"index of a file", []string{"index", "--channel", file, "--progress", "none"}, []string{"no channel at " + file, "not a folder"}},
		{"index of a missing file URL", []string{"index", "--channel", "file://" + filepath.ToSlash(typo), "--progress", "none"}, []string{"no channel at " + typo}},
		// Values a flag cannot take are refused, never taken for a default.
		{"serve cache size 0", []string{"serve", "--channel", tmp, "--cache-size", "0", "--addr", "127.0.0.1:0"}, []string{"--cache-size 0: give more than 0"}},
		{"serve negative revalidate", []string{"serve", "--channel", tmp, "--revalidate", "-1s", "--addr", "127.0.0.1:0"}, []string{"--revalidate -1s: give 0 or more"}},
		{"serve negative max age", []string{"serve", "--channel", tmp, "--repodata-max-age", "-1s", "--addr", "127.0.0.1:0"}, []string{"--repodata-max-age -1s: give 0 or more"}},
		{"serve shutdown timeout 0", []string{"serve", "--channel", tmp, "--shutdown-timeout", "0s", "--addr", "127.0.0.1:0"}, []string{"--shutdown-timeout 0s: give more than 0"}},
		{"serve presign TTL without redirect", []string{"serve", "--channel", tmp, "--presign-ttl", "1h", "--addr", "127.0.0.1:0"}, []string{"--presign-ttl goes with --redirect"}},
		{"serve public metrics without auth", []string{"serve", "--channel", tmp, "--public-metrics", "--addr", "127.0.0.1:0"}, []string{"--public-metrics goes with --auth-file"}},
		{"build force without channel", []string{"build", "--recipe", "condachan-example", "-o", filepath.Join(tmp, "a"), "--force"}, []string{"--force goes with --channel"}},
		{"serve an address that is none", []string{"serve", "--channel", tmp, "--addr", "localhost"}, []string{"missing port in address", "give HOST:PORT"}},
		{"index lease TTL 0", []string{"index", "--channel", tmp, "--lease-ttl", "0s", "--progress", "none"}, []string{"--lease-ttl 0s: give more than 0"}},
		{"publish negative lease poll", []string{"publish", file, "--channel", fresh, "--lease-poll", "-1s"}, []string{"--lease-poll -1s: give more than 0"}},
		{"build lease TTL 0", []string{"build", "--recipe", "condachan-example", "-o", filepath.Join(tmp, "a"), "--channel", fresh, "--lease-ttl", "0s"}, []string{"--lease-ttl 0s: give more than 0"}},
		{"build unknown platform", []string{"build", "--recipe", "condachan-example", "-o", filepath.Join(tmp, "a"), "--target-platform", "linux-65"}, []string{`unknown target platform "linux-65"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runRefused(t, c.args...) // serve must not start
			if code != exitUsage {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, exitUsage, stdout, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			for _, dir := range []string{typo, fresh, filepath.Join(tmp, "a")} {
				if _, err := os.Stat(dir); err == nil {
					t.Errorf("%s was created", dir)
				}
			}
		})
	}
}

// Publishing to a folder that does not exist yet is how a local channel starts.
func TestPublishCreatesLocalChannel(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	out := t.TempDir()
	if code, _, stderr := runCLI(t, "build", "--recipe", "condachan-example", "-o", out, "--progress", "none"); code != 0 {
		t.Fatalf("build: %d %s", code, stderr)
	}
	ch := filepath.Join(t.TempDir(), "new", "channel")
	pkg := filepath.Join(out, "noarch", "condachan-example-1.0.0-0.conda")
	code, stdout, stderr := runCLI(t, "publish", pkg, "--channel", ch, "--progress", "none")
	if code != 0 || !strings.Contains(stdout, "uploaded") {
		t.Fatalf("publish to a new folder: %d %s %s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(ch, "noarch", "repodata.json")); err != nil {
		t.Error(err)
	}
	// Now that it exists, the commands that refused it accept it.
	if code, stdout, stderr := runCLI(t, "lock", "status", "--channel", ch); code != 0 || !strings.Contains(stdout, "nobody holds") {
		t.Errorf("lock status: %d %s %s", code, stdout, stderr)
	}
}

// A command that would have made a new channel folder and failed leaves none: a
// package that cannot be read, a build whose archive is not here (which reserves no
// build number either).
func TestFailedCommandsLeaveNoNewChannel(t *testing.T) {
	tmp := t.TempDir()
	bad := filepath.Join(tmp, "bad-1.0-0.conda")
	os.WriteFile(bad, []byte("garbage"), 0o644)
	for _, tc := range []struct {
		name string
		args func(ch string) []string
		code int
	}{
		{"publish an unreadable package", func(ch string) []string { return []string{"publish", bad, "--channel", ch} }, exitFailure},
		{"build without its archive", func(ch string) []string {
			return []string{"build", "--recipe", "blender-4.1", "-o", filepath.Join(tmp, "out"), "--channel", ch, "--build-number", "auto"}
		}, exitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := filepath.Join(tmp, strings.ReplaceAll(tc.name, " ", "-"))
			code, _, stderr := runCLI(t, append(tc.args(ch), "--progress", "none")...)
			if code != tc.code {
				t.Errorf("exit %d, want %d: %s", code, tc.code, stderr)
			}
			if _, err := os.Stat(ch); !os.IsNotExist(err) {
				t.Errorf("left the channel folder %s (%v)", ch, err)
			}
		})
	}
}
