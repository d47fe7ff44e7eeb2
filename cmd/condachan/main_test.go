package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestCLI(t *testing.T) {
	out := t.TempDir()
	cases := []struct {
		name       string
		args       []string
		env        map[string]string
		code       int
		wantOut    []string
		wantErr    []string
		wantOutput string // a file the command must have written
	}{
		{name: "version", args: []string{"--version"}, wantOut: []string{"condachan version"}},
		{name: "help lists build", args: []string{"--help"}, wantOut: []string{"build", "completion"}},
		{name: "build help", args: []string{"build", "--help"}, wantOut: []string{"--source-archive", "--target-platform", "--compression", "blender-4.1", "condachan-example"}},
		{name: "completion", args: []string{"completion", "bash"}, wantOut: []string{"bash completion"}},
		{name: "unknown flag", args: []string{"build", "--recipe", "x", "--frobnicate"}, code: exitUsage, wantErr: []string{"unknown flag: --frobnicate"}},
		{name: "missing recipe flag", args: []string{"build"}, code: exitUsage, wantErr: []string{"recipe"}},
		{name: "unknown recipe", args: []string{"build", "--recipe", "no-such-recipe"}, code: exitUsage, wantErr: []string{"no-such-recipe", "blender-4.1"}},
		{name: "bad compression", args: []string{"build", "--recipe", "condachan-example", "--compression", "ultra"}, code: exitUsage, wantErr: []string{"fast, default or max"}},
		{
			name: "missing archive exits 2 and says what to do",
			args: []string{"build", "--recipe", "blender-4.1", "--target-platform", "linux-64", "-o", out},
			code: exitUsage,
			wantErr: []string{
				"blender-4.1.1-linux-x64.tar.xz", "https://download.blender.org/release/Blender4.1/blender-4.1.1-linux-x64.tar.xz",
				"ab2ea3fe991601a5e6bd2cda786ecaa919c0b39e0550e59978b5d40270c260d3", "--source-archive",
			},
		},
		{
			name: "windows archive named in the message",
			args: []string{"build", "--recipe", "blender-4.1", "--target-platform", "win-64", "-o", out},
			code: exitUsage, wantErr: []string{"blender-4.1.1-windows-x64.zip", "40b4829888770b93aafe96875e00a12e781720010dbbad3aa898362ea3cad62c"},
		},
		{name: "skipped platform", args: []string{"build", "--recipe", "blender-4.1", "--target-platform", "osx-arm64"}, code: exitFailure, wantErr: []string{"skips target platform osx-arm64"}},
		{name: "bad SOURCE_DATE_EPOCH", args: []string{"build", "--recipe", "condachan-example"}, env: map[string]string{"SOURCE_DATE_EPOCH": "yesterday"}, code: exitUsage, wantErr: []string{"SOURCE_DATE_EPOCH"}},
		{
			name: "example builds offline", args: []string{"build", "--recipe", "condachan-example", "-o", out, "--progress", "none"},
			env: map[string]string{"SOURCE_DATE_EPOCH": "1700000000"}, wantOut: []string{"built ", "condachan-example-1.0.0-0.conda"},
			wantOutput: filepath.Join(out, "noarch", "condachan-example-1.0.0-0.conda"),
		},
		{
			// A noarch package's tests for a Windows target are Windows scripts: skipped
			// with a line on another OS, not a failed build.
			name: "noarch for a Windows target", args: []string{"build", "--recipe", "condachan-example", "-o", filepath.Join(out, "win"), "--target-platform", "win-64", "--progress", "none"},
			wantOut: []string{"built "}, wantErr: []string{"skipped: the test is a cmd script, which runs on Windows"},
			wantOutput: filepath.Join(out, "win", "noarch", "condachan-example-1.0.0-0.conda"),
		},
		{
			name: "openjd progress", args: []string{"build", "--recipe", "condachan-example", "-o", out, "--progress", "openjd"},
			wantOut: []string{"openjd_status: packing payload", "openjd_progress: 100"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			code, stdout, stderr := runCLI(t, c.args...)
			if code != c.code {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, c.code, stdout, stderr)
			}
			for _, w := range c.wantOut {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range c.wantErr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if c.wantOutput != "" {
				if _, err := os.Stat(c.wantOutput); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func TestBuildJSON(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "build", "--recipe", "condachan-example", "-o", out, "--json", "--build-number", "7")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res struct {
		Path   string         `json:"path"`
		Size   int64          `json:"size"`
		SHA256 string         `json:"sha256"`
		MD5    string         `json:"md5"`
		Index  map[string]any `json:"index"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, stdout)
	}
	st, err := os.Stat(res.Path)
	if err != nil || st.Size() != res.Size || len(res.SHA256) != 64 || len(res.MD5) != 32 {
		t.Errorf("result %+v (stat %v)", res, err)
	}
	if res.Index["build_number"] != float64(7) || res.Index["build"] != "7" || !strings.HasSuffix(res.Path, "condachan-example-1.0.0-7.conda") {
		t.Errorf("--build-number not applied: %+v", res)
	}
	if strings.Contains(stdout, `\u003e`) {
		t.Error("JSON output escapes > as HTML")
	}
}
