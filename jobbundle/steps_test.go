package jobbundle_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/condachan/condachan/jobbundle"
	"github.com/condachan/condachan/jobbundle/openjdtest"
)

// fakeCondachan writes a condachan that prints each argument on a line of its own
// ("arg: ...") and exits with $FAKE_EXIT, and returns its folder.
func fakeCondachan(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	script := `#!/bin/sh
if [ "$1" = --version ]; then echo "condachan version fake"; exit 0; fi
echo "fake condachan at $0"
for a in "$@"; do printf 'arg: %s\n' "$a"; done
echo "openjd_progress: 100"
exit "${FAKE_EXIT:-0}"
`
	if err := os.WriteFile(filepath.Join(dir, "condachan"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// shells are the /bin/sh variants workers have: dash (Debian, Ubuntu) and bash (Amazon
// Linux, macOS).
func shells(t *testing.T) []string {
	out := []string{"/bin/sh"}
	for _, s := range []string{"/bin/dash", "/bin/bash"} {
		if _, err := os.Stat(s); err == nil {
			out = append(out, s)
		}
	}
	return out
}

func argsOf(out string) []string {
	var args []string
	for _, l := range strings.Split(out, "\n") {
		if a, ok := strings.CutPrefix(l, "arg: "); ok {
			args = append(args, a)
		}
	}
	return args
}

func TestBuildStepArguments(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("POSIX step")
	}
	fake := fakeCondachan(t)
	recipeDir := filepath.Join(t.TempDir(), "my recipe's dir") // a space and a quote
	tricky := `s3://bucket/$(touch pwned)/a b;"x".tar.xz`
	cases := []struct {
		name   string
		values map[string]string
		want   []string
	}{
		{
			name:   "shipped recipe, defaults",
			values: map[string]string{"RecipeName": "blender-4.1", "CondaChannel": "s3://studio/Conda/Default"},
			want: []string{"build", "--recipe", "blender-4.1", "--channel", "s3://studio/Conda/Default", "--output-dir", "<session>/output",
				"--progress", "openjd", "--target-platform", "linux-64", "--build-number", "auto", "--compression", "default"},
		},
		{
			name: "recipe folder, both archives, endpoint, recipe's build number",
			values: map[string]string{"RecipeName": "mine", "RecipeDir": recipeDir, "CondaChannel": "s3://studio/Conda/Default",
				"SourceArchive": "/data/a.tar.xz", "SourceArchiveURI": tricky, "BuildNumber": "", "Compression": "max",
				"TargetPlatform": "win-64", "S3EndpointURL": "https://bucket.vpce-1.s3.us-west-2.vpce.amazonaws.com"},
			want: []string{"build", "--recipe", recipeDir, "--channel", "s3://studio/Conda/Default", "--output-dir", "<session>/output",
				"--progress", "openjd", "--target-platform", "win-64", "--compression", "max",
				"--source-archive", "/data/a.tar.xz", "--source-archive", tricky,
				"--endpoint-url", "https://bucket.vpce-1.s3.us-west-2.vpce.amazonaws.com"},
		},
	}
	for _, sh := range shells(t) {
		for _, c := range cases {
			t.Run(filepath.Base(sh)+"/"+c.name, func(t *testing.T) {
				dir := t.TempDir()
				if err := jobbundle.Write(dir, jobbundle.Build, c.values, jobbundle.Host{}); err != nil {
					t.Fatal(err)
				}
				res := openjdtest.RunStep(t, dir, "BuildAndPublish", openjdtest.Options{
					Shell: sh, Env: []string{"PATH=" + fake + ":/usr/bin:/bin"},
				})
				if res.ExitCode != 0 {
					t.Fatalf("step failed:\n%s", res)
				}
				want := strings.Join(c.want, "\n")
				want = strings.ReplaceAll(want, "<session>", res.SessionDir)
				if got := strings.Join(argsOf(res.Output), "\n"); got != want {
					t.Errorf("condachan got\n%s\nwant\n%s\n%s", got, want, res)
				}
				if _, err := os.Stat(filepath.Join(res.SessionDir, "pwned")); err == nil {
					t.Error("a parameter value was run as shell code")
				}
				if len(res.Status) == 0 || len(res.Progress) == 0 {
					t.Errorf("no openjd_status / openjd_progress lines:\n%s", res)
				}
			})
		}
	}
}

func TestStepExitCodeAndFailures(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("POSIX step")
	}
	fake := fakeCondachan(t)
	write := func(t *testing.T, kind jobbundle.Kind, values map[string]string) string {
		dir := t.TempDir()
		if err := jobbundle.Write(dir, kind, values, jobbundle.Host{}); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	build := map[string]string{"RecipeName": "condachan-example", "CondaChannel": "s3://b/c"}

	t.Run("exit code propagates", func(t *testing.T) {
		res := openjdtest.RunStep(t, write(t, jobbundle.Build, build), "BuildAndPublish", openjdtest.Options{
			Env: []string{"PATH=" + fake + ":/usr/bin:/bin", "FAKE_EXIT=3"},
		})
		if res.ExitCode != 3 {
			t.Errorf("exit code %d, want condachan's 3\n%s", res.ExitCode, res)
		}
	})
	t.Run("no condachan", func(t *testing.T) {
		res := openjdtest.RunStep(t, write(t, jobbundle.Build, build), "BuildAndPublish", openjdtest.Options{
			Env: []string{"PATH=/usr/bin:/bin"},
		})
		if res.ExitCode == 0 || len(res.Fail) == 0 || !strings.Contains(res.Fail[0], "CondachanBinary") {
			t.Errorf("want openjd_fail naming CondachanBinary:\n%s", res)
		}
	})
	t.Run("attached binary without the executable bit", func(t *testing.T) {
		// Job attachments download files without their mode: the step runs a copy.
		attached := filepath.Join(t.TempDir(), "condachan")
		data, _ := os.ReadFile(filepath.Join(fake, "condachan"))
		if err := os.WriteFile(attached, data, 0o644); err != nil {
			t.Fatal(err)
		}
		values := map[string]string{"CondaChannel": "s3://b/c", "CondachanBinary": attached}
		res := openjdtest.RunStep(t, write(t, jobbundle.Index, values), "Reindex", openjdtest.Options{
			Env: []string{"PATH=/usr/bin:/bin"},
		})
		if res.ExitCode != 0 || !strings.Contains(res.Output, "fake condachan at "+filepath.Join(res.SessionDir, "condachan-bin", "condachan")) {
			t.Fatalf("the attached binary did not run from a private copy:\n%s", res)
		}
		if got := strings.Join(argsOf(res.Output), " "); got != "index --channel s3://b/c --progress openjd" {
			t.Errorf("index args: %s", got)
		}
	})
	t.Run("attached binary missing", func(t *testing.T) {
		values := map[string]string{"CondaChannel": "s3://b/c", "CondachanBinary": "/no/such/condachan"}
		res := openjdtest.RunStep(t, write(t, jobbundle.Index, values), "Reindex", openjdtest.Options{
			Env: []string{"PATH=" + fake + ":/usr/bin:/bin"},
		})
		if res.ExitCode == 0 || len(res.Fail) == 0 || !strings.Contains(res.Fail[0], "/no/such/condachan") {
			t.Errorf("want openjd_fail naming the missing file:\n%s", res)
		}
	})
	t.Run("binary for another OS", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "condachan.exe")
		os.WriteFile(bad, []byte("MZ\x90\x00 not for this OS"), 0o755)
		values := map[string]string{"CondaChannel": "s3://b/c", "CondachanBinary": bad}
		res := openjdtest.RunStep(t, write(t, jobbundle.Index, values), "Reindex", openjdtest.Options{})
		if res.ExitCode == 0 || len(res.Fail) == 0 || !strings.Contains(res.Fail[0], "does not run on this worker") {
			t.Errorf("want openjd_fail about the binary:\n%s", res)
		}
	})
	t.Run("full reindex", func(t *testing.T) {
		values := map[string]string{"CondaChannel": "s3://b/c", "FullReindex": "true"}
		res := openjdtest.RunStep(t, write(t, jobbundle.Index, values), "Reindex", openjdtest.Options{
			Env: []string{"PATH=" + fake + ":/usr/bin:/bin"},
		})
		if got := strings.Join(argsOf(res.Output), " "); res.ExitCode != 0 || got != "index --channel s3://b/c --progress openjd --full" {
			t.Errorf("args %q\n%s", got, res)
		}
	})
}

// The mirror step passes the one bundle it is given, from S3 or attached, with the
// packages in flight and the endpoint; values reach condachan as arguments, never as code.
func TestMirrorStepArguments(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("POSIX step")
	}
	fake := fakeCondachan(t)
	attached := filepath.Join(t.TempDir(), `it's a $(touch pwned) dir`, "render env.bundle")
	if err := os.MkdirAll(filepath.Dir(attached), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(attached, []byte("bundle"), 0o644); err != nil {
		t.Fatal(err)
	}
	tricky := `s3://studio/.condachan/mirror/$(touch pwned)/a b;"x".bundle`
	cases := []struct {
		name   string
		values map[string]string
		want   []string
	}{
		{
			name:   "bundle in S3, defaults",
			values: map[string]string{"CondaChannel": "s3://studio/Conda/Default", "MirrorBundleURI": tricky},
			want: []string{"mirror", "--from", tricky, "--channel", "s3://studio/Conda/Default",
				"--cache", "<session>/mirror-cache", "--progress", "openjd", "--jobs", "8"},
		},
		{
			name: "attached bundle, jobs, endpoint",
			values: map[string]string{"CondaChannel": "s3://studio/Conda/Default", "MirrorBundle": attached, "Jobs": "3",
				"S3EndpointURL": "https://bucket.vpce-1.s3.us-west-2.vpce.amazonaws.com"},
			want: []string{"mirror", "--from", attached, "--channel", "s3://studio/Conda/Default",
				"--cache", "<session>/mirror-cache", "--progress", "openjd", "--jobs", "3",
				"--endpoint-url", "https://bucket.vpce-1.s3.us-west-2.vpce.amazonaws.com"},
		},
	}
	for _, sh := range shells(t) {
		for _, c := range cases {
			t.Run(filepath.Base(sh)+"/"+c.name, func(t *testing.T) {
				dir := t.TempDir()
				if err := jobbundle.Write(dir, jobbundle.Mirror, c.values, jobbundle.Host{}); err != nil {
					t.Fatal(err)
				}
				res := openjdtest.RunStep(t, dir, "Mirror", openjdtest.Options{
					Shell: sh, Env: []string{"PATH=" + fake + ":/usr/bin:/bin"},
				})
				if res.ExitCode != 0 {
					t.Fatalf("step failed:\n%s", res)
				}
				want := strings.ReplaceAll(strings.Join(c.want, "\n"), "<session>", res.SessionDir)
				if got := strings.Join(argsOf(res.Output), "\n"); got != want {
					t.Errorf("condachan got\n%s\nwant\n%s\n%s", got, want, res)
				}
				if _, err := os.Stat(filepath.Join(res.SessionDir, "pwned")); err == nil {
					t.Error("a parameter value was run as shell code")
				}
				if len(res.Status) == 0 || !strings.HasPrefix(res.Status[0], "condachan mirror ") || len(res.Progress) == 0 {
					t.Errorf("no openjd_status / openjd_progress lines:\n%s", res)
				}
			})
		}
	}
}

// The mirror step takes exactly one bundle, and fails before condachan runs otherwise.
func TestMirrorStepFailures(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("POSIX step")
	}
	fake := fakeCondachan(t)
	attached := filepath.Join(t.TempDir(), "render.bundle")
	if err := os.WriteFile(attached, []byte("bundle"), 0o644); err != nil {
		t.Fatal(err)
	}
	uri := "s3://studio/incoming/render.bundle"
	for _, c := range []struct {
		name   string
		values map[string]string
		env    []string
		code   int
		fail   []string // in the openjd_fail message
	}{
		{"neither bundle", map[string]string{}, nil, 1, []string{"no bundle", "MirrorBundleURI", "MirrorBundle "}},
		{"both bundles", map[string]string{"MirrorBundleURI": uri, "MirrorBundle": attached}, nil, 1,
			[]string{"MirrorBundleURI and MirrorBundle are both set"}},
		{"attached bundle missing", map[string]string{"MirrorBundle": attached + ".gone"}, nil, 1,
			[]string{"MirrorBundle: there is no file " + attached + ".gone"}},
		{"exit code propagates", map[string]string{"MirrorBundleURI": uri}, []string{"FAKE_EXIT=3"}, 3, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			values := map[string]string{"CondaChannel": "s3://b/c"}
			for k, v := range c.values {
				values[k] = v
			}
			dir := t.TempDir()
			if err := jobbundle.Write(dir, jobbundle.Mirror, values, jobbundle.Host{}); err != nil {
				t.Fatal(err)
			}
			res := openjdtest.RunStep(t, dir, "Mirror", openjdtest.Options{
				Env: append([]string{"PATH=" + fake + ":/usr/bin:/bin"}, c.env...),
			})
			if res.ExitCode != c.code {
				t.Fatalf("exit code %d, want %d\n%s", res.ExitCode, c.code, res)
			}
			if c.fail == nil {
				return
			}
			if len(res.Fail) != 1 || len(argsOf(res.Output)) != 0 {
				t.Fatalf("want one openjd_fail and no condachan run:\n%s", res)
			}
			for _, w := range c.fail {
				if !strings.Contains(res.Fail[0]+" ", w) {
					t.Errorf("openjd_fail %q lacks %q", res.Fail[0], w)
				}
			}
		})
	}
}
