package install_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/condachan/condachan/internal/testkit"
	"github.com/condachan/condachan/pkgbuild/install"
)

const ph = "/b/host_env_placehold_placehold_placehold_placehold"

func appPackage(t *testing.T, dir string, extra testkit.Tree) string {
	t.Helper()
	files := testkit.Tree{
		"opt/app/app":       {Data: []byte("#!/bin/sh\n. \"" + ph + "/opt/app/app.env\"\necho \"app at $APP_ROOT\"\n"), Mode: 0o755},
		"opt/app/app.env":   {Data: []byte("APP_ROOT=\"" + ph + "/opt/app\"\n"), Mode: 0o644},
		"opt/app/libapp.so": {Data: []byte("\x7fELF\x00" + ph + "/opt/app\x00rest"), Mode: 0o755},
		"bin/app":           {Link: "../opt/app/app"},
	}
	for p, n := range extra {
		files[p] = n
	}
	return testkit.MakeConda(t, dir, testkit.PackageSpec{
		Name: "app", Version: "1.0", Build: "0", Files: files,
		Placeholders: map[string]testkit.Placeholder{
			"opt/app/app":       {Prefix: ph, Mode: "text"},
			"opt/app/app.env":   {Prefix: ph, Mode: "text"},
			"opt/app/libapp.so": {Prefix: ph, Mode: "binary"},
		},
	})
}

func TestPackage(t *testing.T) {
	pkg := appPackage(t, t.TempDir(), testkit.Tree{
		"bin/.app-post-link.sh":       {Data: []byte("echo \"post-link $PKG_NAME $PKG_VERSION $PKG_BUILDNUM in $PREFIX\" > \"$PREFIX/post-link.txt\"\necho \"APP_HOME=$APP_HOME\" >> \"$PREFIX/post-link.txt\"\n"), Mode: 0o755},
		"etc/conda/activate.d/app.sh": {Data: []byte("export APP_HOME=\"$CONDA_PREFIX/opt/app\"\n"), Mode: 0o644},
	})
	prefix := filepath.Join(t.TempDir(), "my env")
	var out bytes.Buffer
	res, err := install.Package(context.Background(), pkg, prefix, install.Options{RunLinkScripts: true, Output: &out})
	if err != nil {
		t.Fatalf("install: %v", err)
	}
	if strings.Join(res.Replaced, ",") != "opt/app/app,opt/app/app.env,opt/app/libapp.so" {
		t.Errorf("Replaced = %q", res.Replaced)
	}
	run, err := os.ReadFile(filepath.Join(prefix, "opt/app/app.env"))
	if err != nil || string(run) != "APP_ROOT=\""+prefix+"/opt/app\"\n" {
		t.Errorf("app.env = %q", run)
	}
	lib, _ := os.ReadFile(filepath.Join(prefix, "opt/app/libapp.so"))
	if !bytes.HasPrefix(lib, []byte("\x7fELF\x00"+prefix+"/opt/app\x00")) || len(lib) != len("\x7fELF\x00"+ph+"/opt/app\x00rest") {
		t.Errorf("libapp.so = %q", lib)
	}
	st, _ := os.Stat(filepath.Join(prefix, "opt/app/app"))
	if st.Mode().Perm()&0o111 == 0 {
		t.Errorf("the program lost its exec bit: %v", st.Mode())
	}
	post, _ := os.ReadFile(filepath.Join(prefix, "post-link.txt"))
	if want := "post-link app 1.0 0 in " + prefix + "\nAPP_HOME=" + prefix + "/opt/app\n"; string(post) != want {
		t.Errorf("post-link wrote %q, want %q", post, want)
	}
	if got, err := os.ReadFile(filepath.Join(prefix, "conda-meta", "app-1.0-0.json")); err != nil || !json.Valid(got) {
		t.Errorf("conda-meta record: %v", err)
	}
	// A second package may not overwrite the first one's files.
	if _, err := install.Package(context.Background(), pkg, prefix, install.Options{}); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("clobbering install: %v", err)
	}
}

func TestPackageRefusesBadPackages(t *testing.T) {
	good := func(p string) string {
		return `{"_path": "` + p + `", "path_type": "hardlink", "sha256": "` + testkit.SHA256([]byte("x")) + `", "size_in_bytes": 1}`
	}
	tests := []struct {
		name  string
		paths string
		want  string
	}{
		{"entry not in paths.json", `{"paths_version": 1, "paths": []}`, "entry a.txt is not in info/paths.json"},
		{"a listed file that is missing", `{"paths_version": 1, "paths": [` + good("a.txt") + `, ` + good("b.txt") + `]}`, "lists b.txt, which the package does not hold"},
		{"wrong sha256", `{"paths_version": 1, "paths": [{"_path": "a.txt", "path_type": "hardlink", "sha256": "` + strings.Repeat("0", 64) + `", "size_in_bytes": 1}]}`, "a.txt: sha256"},
		{"placeholder without file_mode", `{"paths_version": 1, "paths": [{"_path": "a.txt", "path_type": "hardlink", "sha256": "` + testkit.SHA256([]byte("x")) + `", "size_in_bytes": 1, "prefix_placeholder": "/b"}]}`, "prefix_placeholder and file_mode go together"},
		{"no path_type", `{"paths_version": 1, "paths": [{"_path": "a.txt", "sha256": "` + testkit.SHA256([]byte("x")) + `", "size_in_bytes": 1}]}`, `path_type ""`},
		{"paths_version 2", `{"paths_version": 2, "paths": []}`, "paths_version 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkg := testkit.MakeConda(t, t.TempDir(), testkit.PackageSpec{Name: "bad", Version: "1", Build: "0",
				Files: testkit.Tree{"a.txt": {Data: []byte("x"), Mode: 0o644}}, PathsJSON: []byte(tt.paths)})
			_, err := install.Package(context.Background(), pkg, t.TempDir(), install.Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestFailingPostLink(t *testing.T) {
	pkg := appPackage(t, t.TempDir(), testkit.Tree{"bin/.app-post-link.sh": {Data: []byte("echo cannot register the plugin >&2\nexit 4\n"), Mode: 0o755}})
	_, err := install.Package(context.Background(), pkg, t.TempDir(), install.Options{RunLinkScripts: true})
	if err == nil || !strings.Contains(err.Error(), "post-link script bin/.app-post-link.sh failed") || !strings.Contains(err.Error(), "cannot register the plugin") {
		t.Errorf("error = %v", err)
	}
}
