package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/condachan/condachan/internal/testkit"
	"github.com/condachan/condachan/jobbundle"
)

// runJob runs the CLI with the bundle and submit commands, registering them on the root
// command when main.go does not (yet), and maps errors to exit codes as run does.
func runJob(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRootCommand(strings.NewReader(""), &out, &errb)
	for _, name := range []string{"bundle", "submit"} {
		if c, _, err := root.Find([]string{name}); err != nil || c == root {
			switch name {
			case "bundle":
				root.AddCommand(newBundleCommand(&out, &errb))
			case "submit":
				root.AddCommand(newSubmitCommand(&out, &errb))
			}
		}
	}
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		code = exitCode(err)
		errb.WriteString("condachan: " + err.Error() + "\n")
	}
	return code, out.String(), errb.String()
}

// noDeadline hides any Deadline CLI from the test.
func noDeadline(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
}

func readBundle(t *testing.T, dir string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, jobbundle.TemplateFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := jobbundle.Validate(data); err != nil {
		t.Fatalf("the written template does not validate: %v", err)
	}
	vals, err := jobbundle.ReadParameterValues(dir)
	if err != nil {
		t.Fatal(err)
	}
	return vals
}

func wantValues(t *testing.T, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected value %s = %q", k, got[k])
		}
	}
}

// urlRecipeDir writes a recipe folder whose one source is an archive called name with
// the given content, and returns the folder.
func urlRecipeDir(t *testing.T, name string, content []byte) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "sample-recipe")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, dir, "recipe.yaml", []byte(`package:
  name: sample
  version: "1.0"
source:
  url: https://example.invalid/`+name+`
  sha256: `+testkit.SHA256(content)+`
build:
  number: 0
about:
  license: MIT
  summary: test package
`))
	return dir
}

func TestBundleWriteBuild(t *testing.T) {
	noDeadline(t)
	dir := filepath.Join(t.TempDir(), "job")
	code, stdout, stderr := runJob(t, "bundle", "write", dir, "--recipe", "blender-4.1",
		"--source-archive", "s3://studio-bucket/sources/blender-4.1.1-linux-x64.tar.xz",
		"--channel", "s3://studio-bucket/Conda/Default/", "--compression", "max", "--vcpus", "8", "--memory-mib", "8192")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	wantValues(t, readBundle(t, dir), map[string]string{
		"RecipeName": "blender-4.1", "SourceArchiveURI": "s3://studio-bucket/sources/blender-4.1.1-linux-x64.tar.xz",
		"CondaChannel": "s3://studio-bucket/Conda/Default", "TargetPlatform": "linux-64", "BuildNumber": "auto",
		"Compression": "max", "WorkerOS": "linux", "WorkerArch": "x86_64",
	})
	tmpl, _ := os.ReadFile(filepath.Join(dir, jobbundle.TemplateFile))
	if !bytes.Contains(tmpl, []byte("name: amount.worker.vcpu\n      min: 8\n")) || !bytes.Contains(tmpl, []byte("min: 8192\n")) {
		t.Error("--vcpus / --memory-mib not in the template")
	}
	abs, _ := filepath.Abs(dir)
	if !strings.Contains(stdout, "deadline bundle submit "+abs) {
		t.Errorf("no submit hint:\n%s", stdout)
	}
}

func TestBundleWriteRecipeFolderAndArchive(t *testing.T) {
	noDeadline(t)
	content := []byte("not really an archive")
	rdir := urlRecipeDir(t, "sample-1.0-linux.tar.gz", content)
	archive := testkit.WriteFile(t, t.TempDir(), "sample-1.0-linux.tar.gz", content)
	binDir := t.TempDir()
	dir := filepath.Join(t.TempDir(), "job")
	args := []string{"bundle", "write", dir, "--recipe", rdir, "--source-archive", archive,
		"--channel", "s3://studio-bucket/Conda/Default", "--build-number", "", "--json"}
	want := map[string]string{
		"RecipeName": "sample-recipe", "RecipeDir": rdir, "SourceArchive": archive,
		"CondaChannel": "s3://studio-bucket/Conda/Default", "TargetPlatform": "linux-64", "BuildNumber": "",
		"Compression": "default", "WorkerOS": "linux", "WorkerArch": "x86_64",
	}
	// This test binary is a program for this machine: attach it as the condachan binary.
	if exe, err := os.Executable(); err == nil && (runtime.GOOS == "linux" && (runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64")) {
		bin := filepath.Join(binDir, "condachan")
		data, _ := os.ReadFile(exe)
		os.WriteFile(bin, data, 0o755)
		args = append(args, "--binary", bin)
		if runtime.GOARCH == "arm64" {
			args = append(args, "--worker-arch", "arm64")
			want["WorkerArch"] = "arm64"
		}
		want["CondachanBinary"] = bin
	}
	code, stdout, stderr := runJob(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	wantValues(t, readBundle(t, dir), want)
	if !strings.Contains(stdout, `"bundle_dir"`) || !strings.Contains(stdout, `"RecipeDir"`) {
		t.Errorf("--json output:\n%s", stdout)
	}
}

func TestBundleWriteIndex(t *testing.T) {
	noDeadline(t)
	dir := t.TempDir()
	code, _, stderr := runJob(t, "bundle", "write", dir, "--index", "--channel", "s3://studio-bucket/Conda/Default", "--full", "--worker-os", "windows")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	wantValues(t, readBundle(t, dir), map[string]string{
		"CondaChannel": "s3://studio-bucket/Conda/Default", "FullReindex": "true", "WorkerOS": "windows", "WorkerArch": "x86_64",
	})
}

// The archive's name picks the platform, and the platform the workers.
func TestBundleWriteInfersTarget(t *testing.T) {
	noDeadline(t)
	// An s3:// archive is matched by name (a local one would be hashed against the recipe).
	archive := "s3://b-1/src/blender-4.1.1-windows-x64.zip"
	dir := t.TempDir()
	code, _, stderr := runJob(t, "bundle", "write", dir, "--recipe", "blender-4.1", "--source-archive", archive, "--channel", "s3://b-1/c")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	vals := readBundle(t, dir)
	if vals["TargetPlatform"] != "win-64" || vals["WorkerOS"] != "windows" || vals["WorkerArch"] != "x86_64" {
		t.Errorf("values %v", vals)
	}
	code, _, stderr = runJob(t, "bundle", "write", t.TempDir(), "--recipe", "blender-4.1", "--source-archive", archive,
		"--channel", "s3://b-1/c", "--target-platform", "linux-aarch64", "--worker-arch", "")
	if code != exitFailure || !strings.Contains(stderr, "skips target platform linux-aarch64") {
		t.Errorf("a skipped platform: exit %d: %s", code, stderr)
	}
}

func TestBundleWriteErrors(t *testing.T) {
	noDeadline(t)
	wrongName := testkit.WriteFile(t, t.TempDir(), "blender.tar.xz", []byte("x"))
	exe, _ := os.Executable()
	otherOS := "windows" // the test binary is a program for this machine, not for otherOS
	if runtime.GOOS == "windows" {
		otherOS = "linux"
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no recipe", []string{"--channel", "s3://b-1/c"}, "--recipe is required"},
		{"unknown recipe", []string{"--recipe", "nope", "--channel", "s3://b-1/c"}, `recipe "nope" not found`},
		{"no channel, no deadline", []string{"--recipe", "blender-4.1"}, "--channel is required"},
		{"archive the recipe does not name", []string{"--recipe", "blender-4.1", "--source-archive", wrongName, "--channel", "s3://b-1/c"}, "expects blender-4.1.1-linux-x64.tar.xz"},
		{"missing archive", []string{"--recipe", "blender-4.1", "--source-archive", "/no/such.tar.xz", "--channel", "s3://b-1/c"}, "no such file"},
		{"two s3 archives", []string{"--recipe", "blender-4.1", "--source-archive", "s3://b-1/a", "--source-archive", "s3://b-1/b", "--channel", "s3://b-1/c"}, "one s3:// archive"},
		{"bad s3 archive", []string{"--recipe", "blender-4.1", "--source-archive", "s3://b-1", "--channel", "s3://b-1/c"}, "s3://bucket/key"},
		{"full without index", []string{"--recipe", "blender-4.1", "--channel", "s3://b-1/c", "--full"}, "--full goes with --index"},
		{"recipe with index", []string{"--index", "--recipe", "blender-4.1", "--channel", "s3://b-1/c"}, "--recipe belongs to build jobs"},
		{"worker os", []string{"--recipe", "blender-4.1", "--channel", "s3://b-1/c", "--worker-os", "solaris"}, "linux, windows or macos"},
		{"bad compression", []string{"--recipe", "blender-4.1", "--channel", "s3://b-1/c", "--compression", "ultra"}, "fast, default, max"},
		{"bad channel", []string{"--recipe", "blender-4.1", "--channel", "s3://B/c"}, "bucket name"},
		{"binary for another OS", []string{"--recipe", "blender-4.1", "--channel", "s3://b-1/c", "--binary", exe, "--worker-os", otherOS}, "program, but the job runs on " + otherOS + "/x86_64 workers"},
		{"not a program", []string{"--recipe", "blender-4.1", "--channel", "s3://b-1/c", "--binary", wrongName}, "not a program"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "job")
			code, _, stderr := runJob(t, append([]string{"bundle", "write", dir}, c.args...)...)
			if code != exitUsage || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, want %d with %q:\n%s", code, exitUsage, c.want, stderr)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Error("a refused bundle write left a folder")
			}
		})
	}
}

func TestSubmitHintNamesPowerShell(t *testing.T) {
	noDeadline(t)
	defer func(w bool) { onWindows = w }(onWindows)
	onWindows = true
	dir := filepath.Join(t.TempDir(), "job $x")
	code, stdout, stderr := runJob(t, "bundle", "write", dir, "--index", "--channel", "s3://b-1/c", "--farm-id", "farm-1")
	abs, _ := filepath.Abs(dir)
	if code != 0 || !strings.Contains(stdout, "submit it with (PowerShell): deadline bundle submit '"+abs+"' --farm-id farm-1\n") {
		t.Errorf("exit %d:\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = runJob(t, "submit", "--index", "--channel", "s3://b-1/c", "--dry-run", "--bundle-dir", dir, "--name", "it's $HOME")
	if code != 0 || !strings.Contains(stderr, "submit it with (PowerShell):") || !strings.Contains(stdout, "--name 'it''s $HOME'") {
		t.Errorf("exit %d:\n%s%s", code, stdout, stderr)
	}
}

// Script recipes run on workers of the OS they target: a Windows build script goes to
// Windows workers, a build.sh to Linux ones, and --worker-os cannot send them elsewhere
// (a declarative recipe builds on any OS).
func TestBundleSendsScriptRecipesToTheirOS(t *testing.T) {
	noDeadline(t)
	rdir := filepath.Join(t.TempDir(), "vendor-app")
	content := []byte("installer")
	testkit.WriteFile(t, rdir, "recipe.yaml", []byte(`package: {name: vendor-app, version: "1.0"}
source:
  - if: linux
    then:
      url: file://archive_files/vendor-app-1.0-linux.tar.gz
      sha256: `+testkit.SHA256(content)+`
  - if: win
    then:
      url: file://archive_files/vendor-app-1.0-windows.zip
      sha256: `+testkit.SHA256(content)+`
build:
  dynamic_linking:
    binary_relocation: false
`))
	testkit.WriteFile(t, rdir, "build.sh", []byte("./installer --prefix \"$PREFIX\"\n"))
	testkit.WriteFile(t, rdir, "build.bat", []byte("installer.exe /S /D=%PREFIX%\r\n"))
	for _, tt := range []struct{ archive, target, os string }{
		{"vendor-app-1.0-linux.tar.gz", "linux-64", "linux"},
		{"vendor-app-1.0-windows.zip", "win-64", "windows"},
	} {
		archive := testkit.WriteFile(t, t.TempDir(), tt.archive, content)
		dir := t.TempDir()
		code, _, stderr := runJob(t, "bundle", "write", dir, "--recipe", rdir, "--source-archive", archive, "--channel", "s3://b-1/c")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", tt.archive, code, stderr)
		}
		vals := readBundle(t, dir)
		if vals["TargetPlatform"] != tt.target || vals["WorkerOS"] != tt.os {
			t.Errorf("%s: TargetPlatform %s, WorkerOS %s; want %s on %s", tt.archive, vals["TargetPlatform"], vals["WorkerOS"], tt.target, tt.os)
		}
	}
	archive := testkit.WriteFile(t, t.TempDir(), "vendor-app-1.0-windows.zip", content)
	code, _, stderr := runJob(t, "bundle", "write", t.TempDir(), "--recipe", rdir, "--source-archive", archive, "--channel", "s3://b-1/c", "--worker-os", "linux")
	if code != exitUsage || !strings.Contains(stderr, "--worker-os linux: recipe vendor-app runs a build script (build.bat), which runs on windows workers") {
		t.Errorf("a Windows script sent to Linux workers: exit %d: %s", code, stderr)
	}
	// A declarative recipe may still build its Windows package on Linux workers.
	code, _, stderr = runJob(t, "bundle", "write", t.TempDir(), "--recipe", "blender-4.1", "--source-archive", "s3://b-1/src/blender-4.1.1-windows-x64.zip", "--channel", "s3://b-1/c", "--worker-os", "linux")
	if code != 0 {
		t.Errorf("declarative recipe on Linux workers: exit %d: %s", code, stderr)
	}
}
