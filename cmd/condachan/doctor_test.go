package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/condachan/condachan/internal/s3test"
)

// runSubcommand runs one command the way run does (exit codes included), without needing
// it registered on the root command.
func runSubcommand(t *testing.T, cmd *cobra.Command, args ...string) (code int, stderr string) {
	t.Helper()
	root := &cobra.Command{Use: "condachan", SilenceUsage: true, SilenceErrors: true}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return flagError{err} })
	root.AddCommand(cmd)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	var errb bytes.Buffer
	if err != nil {
		errb.WriteString("condachan: " + err.Error() + "\n")
	}
	if err != nil {
		code = exitCode(err)
	}
	return code, errb.String()
}

func doctorCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code, e := runSubcommand(t, newDoctorCommand(&out, &errb), append([]string{"doctor"}, args...)...)
	return code, out.String(), errb.String() + e
}

// doctorSetEnv applies KEY=VALUE pairs for the test.
func doctorSetEnv(t *testing.T, env []string) {
	t.Helper()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// doctorIsolateAWS keeps the developer's AWS files out of the test.
func doctorIsolateAWS(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"config", "credentials"} {
		os.WriteFile(filepath.Join(dir, f), nil, 0o600)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
}

type doctorJSON struct {
	Channel string `json:"channel"`
	Backend string `json:"backend"`
	OK      bool   `json:"ok"`
	Checks  []struct {
		Name   string `json:"name"`
		Status string `json:"status"`
		Detail string `json:"detail"`
		Fix    string `json:"fix"`
	} `json:"checks"`
}

func TestDoctorVersitygw(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	doctorIsolateAWS(t)
	doctorSetEnv(t, srv.Env())
	url := "s3://" + bucket + "/Conda/Default"

	code, stdout, stderr := doctorCLI(t, "--channel", url, "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	var rep doctorJSON
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, stdout)
	}
	if !rep.OK || rep.Channel != url || rep.Backend != "s3" || len(rep.Checks) != 15 {
		t.Errorf("report %+v", rep)
	}
	for _, c := range rep.Checks {
		if c.Status != "pass" {
			t.Errorf("check %s: %s %s", c.Name, c.Status, c.Detail)
		}
	}

	code, stdout, stderr = doctorCLI(t, "--channel", url)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	t.Logf("doctor table:\n%s", stdout)
	for _, w := range []string{"condachan doctor: " + url, "PASS  credentials", "environment variables", "PASS  conditional-delete", "Result: the channel is usable from here"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("table lacks %q:\n%s", w, stdout)
		}
	}
	// Columns line up: every detail starts at the same column.
	col := -1
	for _, line := range strings.Split(stdout, "\n") {
		if !strings.HasPrefix(line, "PASS  ") {
			continue
		}
		i := strings.Index(line[6:], "  ")
		for i >= 0 && line[6+i+2] == ' ' {
			i++
		}
		if col >= 0 && i != col {
			t.Errorf("misaligned line %q", line)
		}
		col = i
	}
}

func TestDoctorIgnoredConditionalDeleteExitsNonZero(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	p := srv.NewProxy(t)
	p.StripHeader(s3test.Match("DELETE", ""), "If-Match")
	doctorIsolateAWS(t)
	doctorSetEnv(t, srv.Env())
	code, stdout, stderr := doctorCLI(t, "--channel", "s3://"+bucket+"/Conda", "--endpoint-url", p.URL)
	if code != exitFailure {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, stdout, stderr)
	}
	for _, w := range []string{"FAIL  conditional-delete", "ignores If-Match on DELETE", "cannot guarantee the lease", "fix: use AWS S3", "Result: problems found"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("table lacks %q:\n%s", w, stdout)
		}
	}
	if !strings.Contains(stderr, "1 of 15 checks failed (conditional-delete)") {
		t.Errorf("stderr: %s", stderr)
	}
}

func TestDoctorUnreachable(t *testing.T) {
	doctorIsolateAWS(t)
	doctorSetEnv(t, []string{"AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret", "AWS_SESSION_TOKEN=", "AWS_PROFILE=", "AWS_ENDPOINT_URL_S3=", "AWS_EC2_METADATA_DISABLED=true"})
	start := time.Now()
	code, stdout, stderr := doctorCLI(t, "--channel", "s3://studio-bucket/Conda", "--endpoint-url", "http://127.0.0.1:1", "--region", "us-east-1", "--timeout", "2s", "--json")
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %s", took)
	}
	if code != exitFailure {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	var rep doctorJSON
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range rep.Checks {
		if c.Name == "reachable" {
			found = true
			if c.Status != "fail" || !strings.Contains(c.Detail, "http://127.0.0.1:1") || !strings.Contains(c.Fix, "--endpoint-url") {
				t.Errorf("reachable: %+v", c)
			}
		}
	}
	if !found || rep.OK {
		t.Errorf("report %+v", rep)
	}
}

func TestDoctorLocalAndUsage(t *testing.T) {
	code, stdout, stderr := doctorCLI(t, "--channel", t.TempDir())
	if code != 0 || !strings.Contains(stdout, "PASS  file-lock") || !strings.Contains(stdout, "SKIP  s3") {
		t.Errorf("local: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, args := range [][]string{
		{},                                   // no --channel
		{"--channel", "ftp://x/y"},           // bad URL
		{"--channel", ".", "--timeout", "0"}, // bad timeout
		{"--channel", ".", "--frobnicate"},   // unknown flag
	} {
		if code, _, stderr := doctorCLI(t, args...); code != exitUsage {
			t.Errorf("%q: exit %d, want 2 (%s)", args, code, stderr)
		}
	}
}

// A temp file a killed publisher left an hour ago or more: a warning (exit 0) with its
// key and who removes it; doctor leaves it.
func TestDoctorReportsLeftovers(t *testing.T) {
	dir := t.TempDir()
	tmp := filepath.Join(dir, "linux-64", ".blender-4.1.1-0.conda.tmp-2718")
	if err := os.MkdirAll(filepath.Dir(tmp), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmp, []byte("half a package"), 0o644); err != nil {
		t.Fatal(err)
	}
	when := time.Now().Add(-3 * time.Hour)
	if err := os.Chtimes(tmp, when, when); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := doctorCLI(t, "--channel", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, w := range []string{"WARN  leftovers", "1 interrupted write(s)", "linux-64/.blender-4.1.1-0.conda.tmp-2718", "fix: the next `condachan index` removes them", "1 warning(s)"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("table lacks %q:\n%s", w, stdout)
		}
	}
	if _, err := os.Stat(tmp); err != nil {
		t.Errorf("doctor removed the temp file: %v", err)
	}
}
