package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/internal/s3test"
	"github.com/condachan/condachan/internal/testkit"
	"github.com/condachan/condachan/jobbundle"
)

// bundle write --mirror writes the mirror bundle: a bundle in S3 is streamed, a local one
// is a job attachment (and the command says so).
func TestBundleWriteMirror(t *testing.T) {
	noDeadline(t)
	local := testkit.WriteFile(t, t.TempDir(), "render-env.bundle", []byte("bundle"))
	for _, c := range []struct {
		name, note string
		args       []string
		values     string
	}{
		{"bundle in S3", "", []string{"--mirror", "s3://studio-bucket/incoming/render-env.bundle", "--jobs", "16", "--worker-endpoint-url", "https://vpce.example"}, `  - name: CondaChannel
    value: s3://studio-bucket/Conda/Default
  - name: MirrorBundleURI
    value: s3://studio-bucket/incoming/render-env.bundle
  - name: Jobs
    value: "16"
  - name: S3EndpointURL
    value: https://vpce.example
  - name: WorkerOS
    value: linux
  - name: WorkerArch
    value: x86_64
`},
		{"local bundle", "goes with the job as a job attachment (MirrorBundle); `condachan submit --mirror` stages it", []string{"--mirror", local, "--worker-os", "windows"}, `  - name: CondaChannel
    value: s3://studio-bucket/Conda/Default
  - name: MirrorBundle
    value: ` + local + `
  - name: WorkerOS
    value: windows
  - name: WorkerArch
    value: x86_64
`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "mirror-job")
			code, stdout, stderr := runJob(t, append([]string{"bundle", "write", dir, "--channel", "s3://studio-bucket/Conda/Default"}, c.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			readBundle(t, dir) // validates the template
			data, err := os.ReadFile(filepath.Join(dir, jobbundle.ParameterValuesFile))
			if err != nil {
				t.Fatal(err)
			}
			want := "# Written by condachan (mirror bundle). Values for the parameters of template.yaml;\n" +
				"# parameters not listed take their defaults.\nparameterValues:\n" + c.values
			if string(data) != want {
				t.Errorf("parameter_values.yaml:\n%s\nwant\n%s", data, want)
			}
			if !strings.HasPrefix(stdout, "wrote the mirror job bundle to "+dir+"\n") {
				t.Errorf("stdout:\n%s", stdout)
			}
			if c.note != "" && !strings.Contains(stderr, c.note) || c.note == "" && strings.Contains(stderr, "job attachment") {
				t.Errorf("stderr %q, want note %q", stderr, c.note)
			}
		})
	}
}

// --mirror refuses the flags of build and index jobs, and --jobs goes with it only:
// usage errors naming the flags, with nothing written.
func TestMirrorUsageErrors(t *testing.T) {
	noDeadline(t)
	local := testkit.WriteFile(t, t.TempDir(), "render-env.bundle", []byte("bundle"))
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"with --index", []string{"--mirror", local, "--index"}, "--mirror and --index do not go together"},
		{"with --recipe", []string{"--mirror", local, "--recipe", "blender-4.1"}, "--mirror and --recipe do not go together"},
		{"with --full", []string{"--mirror", local, "--full"}, "--mirror and --full do not go together"},
		{"with --source-archive", []string{"--mirror", local, "--source-archive", "s3://b-1/a.tar.xz"}, "--mirror and --source-archive do not go together"},
		{"with --compression", []string{"--mirror", local, "--compression", "max"}, "--mirror and --compression do not go together"},
		{"empty", []string{"--mirror", ""}, "--mirror is required (a bundle made by mirror pack"},
		{"missing file", []string{"--mirror", local + ".gone"}, "--mirror: stat " + local + ".gone: no such file"},
		{"folder", []string{"--mirror", filepath.Dir(local)}, "--mirror " + filepath.Dir(local) + " is a folder"},
		{"bucket only", []string{"--mirror", "s3://b-1"}, "--mirror s3://b-1: expected s3://bucket/key"},
		{"jobs 0", []string{"--mirror", local, "--jobs", "0"}, "--jobs: parameter Jobs: 0 is less than 1"},
		{"jobs for a build", []string{"--recipe", "blender-4.1", "--jobs", "4"}, "--jobs goes with --mirror"},
		{"jobs for an index", []string{"--index", "--jobs", "4"}, "--jobs goes with --mirror"},
	} {
		for _, cmd := range []string{"bundle write", "submit"} {
			t.Run(cmd+"/"+c.name, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "job")
				args := append(strings.Fields(cmd), "--channel", "s3://b-1/c")
				if cmd == "bundle write" {
					args = append(args, dir)
				} else {
					args = append(args, "--dry-run", "--bundle-dir", dir)
				}
				code, _, stderr := runJob(t, append(args, c.args...)...)
				if code != exitUsage || !strings.Contains(stderr, "condachan: "+c.want) {
					t.Errorf("exit %d, want %d with %q:\n%s", code, exitUsage, c.want, stderr)
				}
				if _, err := os.Stat(dir); err == nil {
					t.Error("a refused job left a bundle folder")
				}
			})
		}
	}
}

// submit --mirror stages a local bundle in the channel's bucket (once) and hands the job
// its URI; a folder channel cannot take it.
func TestSubmitMirrorStagesBundle(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	noDeadline(t)
	content := []byte(strings.Repeat("packages\n", 500))
	local := testkit.WriteFile(t, t.TempDir(), "render-env.bundle", content)
	sha := testkit.SHA256(content)
	channelURL := "s3://" + bucket + "/Conda/Default"
	wantURI := channelURL + "/.condachan/mirror/" + sha + "/render-env.bundle"
	for i, uploaded := range []bool{true, false} {
		code, stdout, stderr := runJob(t, "submit", "--mirror", local, "--channel", channelURL, "--dry-run", "--json", "--bundle-dir", t.TempDir())
		if code != 0 {
			t.Fatalf("run %d: exit %d: %s", i, code, stderr)
		}
		var res submitResult
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatalf("%v\n%s", err, stdout)
		}
		if res.Kind != jobbundle.Mirror || res.StagedBundle == nil || res.StagedBundle.URI != wantURI || res.StagedBundle.Uploaded != uploaded {
			t.Fatalf("run %d: %+v (staged %+v), want %s uploaded %v\n%s", i, res, res.StagedBundle, wantURI, uploaded, stderr)
		}
		wantValues(t, readBundle(t, res.BundleDir), map[string]string{
			"CondaChannel": channelURL, "MirrorBundleURI": wantURI, "WorkerOS": "linux", "WorkerArch": "x86_64",
		})
	}
	data, _, err := channel.ReadAll(context.Background(), srv.Store(t, bucket, "Conda/Default"), channel.StagedMirrorKey(sha, "render-env.bundle"))
	if err != nil || string(data) != string(content) {
		t.Errorf("staged bundle: %v, %d bytes", err, len(data))
	}

	// A bundle in S3 is passed on as it is, nothing staged.
	code, stdout, stderr := runJob(t, "submit", "--mirror", wantURI, "--channel", channelURL, "--dry-run", "--json", "--bundle-dir", t.TempDir())
	if code != 0 || strings.Contains(stdout, "staged_bundle") || !strings.Contains(stdout, `"MirrorBundleURI": "`+wantURI+`"`) {
		t.Errorf("bundle in S3: exit %d\n%s%s", code, stdout, stderr)
	}

	// A folder channel has no bucket to stage in.
	folder := t.TempDir()
	code, _, stderr = runJob(t, "submit", "--mirror", local, "--channel", folder, "--dry-run")
	if code != exitUsage || !strings.Contains(stderr, "condachan: --mirror "+local+" is a file on this machine") || !strings.Contains(stderr, folder+" is not an S3 channel") {
		t.Errorf("folder channel: exit %d: %s", code, stderr)
	}
}
