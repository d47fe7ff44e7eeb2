package recipe

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
)

// recipesDir is the repository's recipes/ folder, found from this file's location so
// that the test does not depend on the working directory.
func recipesDir(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test file")
	}
	dir := filepath.Join(filepath.Dir(file), "..", "..", "recipes")
	if _, err := os.Stat(filepath.Join(dir, "blender-4.1", FileName)); err != nil {
		t.Fatalf("shipped recipes not found: %v", err)
	}
	return dir
}

// loaders are the two ways a shipped recipe is read.
var loaders = []struct {
	name string
	load func(t testing.TB, recipe, platform string) (*Recipe, error)
	file func(t testing.TB, recipe string) string // Recipe.File, and the prefix of errors
}{
	{"LoadDir",
		func(t testing.TB, recipe, platform string) (*Recipe, error) {
			return LoadDir(filepath.Join(recipesDir(t), recipe), platform)
		},
		func(t testing.TB, recipe string) string { return filepath.Join(recipesDir(t), recipe, FileName) }},
	{"LoadFS",
		func(t testing.TB, recipe, platform string) (*Recipe, error) {
			return LoadFS(os.DirFS(recipesDir(t)), recipe, platform)
		},
		func(t testing.TB, recipe string) string { return recipe + "/" + FileName + " (built in)" }},
}

const (
	blenderLinuxSHA = "ab2ea3fe991601a5e6bd2cda786ecaa919c0b39e0550e59978b5d40270c260d3"
	blenderWinSHA   = "40b4829888770b93aafe96875e00a12e781720010dbbad3aa898362ea3cad62c"
)

func TestBlenderRecipe(t *testing.T) {
	wantEnv := []EnvVar{
		{Line: 44, Name: "BLENDER_LOCATION", Value: "$CONDA_PREFIX/opt/blender"},
		{Line: 45, Name: "BLENDER_VERSION", Value: "4.1"},
		{Line: 46, Name: "BLENDER_LIBRARY_PATH", Value: "$BLENDER_LOCATION/4.1/lib"},
		{Line: 47, Name: "BLENDER_SCRIPTS_PATH", Value: "$BLENDER_LOCATION/4.1/scripts"},
		{Line: 48, Name: "BLENDER_PYTHON_PATH", Value: "$BLENDER_LOCATION/4.1/python"},
		{Line: 49, Name: "BLENDER_DATAFILES_PATH", Value: "$BLENDER_LOCATION/4.1/datafiles"},
	}
	tests := []struct {
		platform    string
		url         string
		sha256      string
		archive     string
		links       []Link
		pathPrepend []string
	}{
		{
			platform: "linux-64",
			url:      "https://download.blender.org/release/Blender4.1/blender-4.1.1-linux-x64.tar.xz",
			sha256:   blenderLinuxSHA,
			archive:  "blender-4.1.1-linux-x64.tar.xz",
			links: []Link{
				{Line: 36, Path: "bin/blender", Target: "../opt/blender/blender"},
				{Line: 38, Path: "bin/blender-softwaregl", Target: "../opt/blender/blender-softwaregl"},
				{Line: 40, Path: "bin/blender-thumbnailer", Target: "../opt/blender/blender-thumbnailer"},
			},
		},
		{
			platform:    "win-64",
			url:         "https://download.blender.org/release/Blender4.1/blender-4.1.1-windows-x64.zip",
			sha256:      blenderWinSHA,
			archive:     "blender-4.1.1-windows-x64.zip",
			pathPrepend: []string{"opt/blender"},
		},
	}
	for _, ld := range loaders {
		for _, tt := range tests {
			t.Run(ld.name+"/"+tt.platform, func(t *testing.T) {
				r, err := ld.load(t, "blender-4.1", tt.platform)
				if err != nil {
					t.Fatal(err)
				}
				if r.File != ld.file(t, "blender-4.1") {
					t.Errorf("File = %q, want %q", r.File, ld.file(t, "blender-4.1"))
				}
				if ld.name == "LoadDir" && r.Dir != filepath.Join(recipesDir(t), "blender-4.1") {
					t.Errorf("Dir = %q", r.Dir)
				}
				if ld.name == "LoadFS" && r.Dir != "" {
					t.Errorf("Dir = %q, want \"\" for an embedded recipe", r.Dir)
				}
				if _, err := fs.Stat(r.Folder, FileName); err != nil {
					t.Errorf("Folder does not hold %s: %v", FileName, err)
				}
				if !strings.Contains(string(r.Source), "download.blender.org") {
					t.Errorf("Source does not hold the recipe text")
				}
				if r.TargetPlatform != tt.platform || r.Subdir() != tt.platform {
					t.Errorf("TargetPlatform = %q, Subdir() = %q", r.TargetPlatform, r.Subdir())
				}
				wantCtx := []ContextVar{{"version", "4.1.1"}, {"major_minor", "4.1"}}
				if !reflect.DeepEqual(r.Context, wantCtx) {
					t.Errorf("Context = %#v, want %#v", r.Context, wantCtx)
				}
				if r.Package != (Package{"blender", "4.1.1"}) {
					t.Errorf("Package = %+v", r.Package)
				}
				if r.FileName() != "blender-4.1.1-0.conda" || r.BuildString() != "0" || r.Build.Number != 0 {
					t.Errorf("FileName() = %q, BuildString() = %q", r.FileName(), r.BuildString())
				}
				if len(r.Sources) != 1 {
					t.Fatalf("Sources = %+v, want one", r.Sources)
				}
				s := r.Sources[0]
				if !reflect.DeepEqual(s.URLs, []string{tt.url}) || s.SHA256 != tt.sha256 || s.TargetDirectory != "blender" ||
					s.StripComponents != -1 || s.IsPath() || s.ArchiveName() != tt.archive {
					t.Errorf("source = %+v (archive %q), want %s %s", s, s.ArchiveName(), tt.url, tt.sha256)
				}
				wantFiles := []FileRule{{Line: 31, From: "blender", To: "opt/blender"}}
				if !reflect.DeepEqual(r.Build.Files, wantFiles) {
					t.Errorf("Files = %+v, want %+v", r.Build.Files, wantFiles)
				}
				if r.Build.Noarch != "" || !r.Build.Script.Empty() {
					t.Errorf("Noarch = %q, Script = %v", r.Build.Noarch, r.Build.Script)
				}
				if !reflect.DeepEqual(r.Build.Links, tt.links) {
					t.Errorf("Links = %+v, want %+v", r.Build.Links, tt.links)
				}
				if !reflect.DeepEqual(r.Build.Activation.Env, wantEnv) {
					t.Errorf("Activation.Env = %+v, want %+v", r.Build.Activation.Env, wantEnv)
				}
				if !reflect.DeepEqual(r.Build.Activation.PathPrepend, tt.pathPrepend) {
					t.Errorf("PathPrepend = %q, want %q", r.Build.Activation.PathPrepend, tt.pathPrepend)
				}
				wantTests := []any{map[string]any{"script": []any{"blender --version"}}}
				if !reflect.DeepEqual(r.Tests, wantTests) {
					t.Errorf("Tests = %#v", r.Tests)
				}
				a := r.About
				if a.License != "GPL-3.0-or-later" || a.Homepage != "https://www.blender.org/" ||
					a.Repository != "https://projects.blender.org/blender/blender" ||
					a.Documentation != "https://docs.blender.org/manual/en/4.1/" ||
					!strings.HasPrefix(a.Summary, "Blender, the free") || !strings.HasSuffix(a.Description, "opt/blender.") {
					t.Errorf("About = %+v", a)
				}
				if len(r.Requirements.Run)+len(r.Requirements.RunConstraints) != 0 || !r.Requirements.RunExports.Empty() {
					t.Errorf("Requirements = %+v", r.Requirements)
				}
			})
		}
	}
}

func TestBlenderSkippedPlatforms(t *testing.T) {
	for _, ld := range loaders {
		for _, platform := range []string{"osx-arm64", "osx-64", "linux-aarch64", "win-arm64", "noarch"} {
			t.Run(ld.name+"/"+platform, func(t *testing.T) {
				r, err := ld.load(t, "blender-4.1", platform)
				if err == nil {
					t.Fatalf("got a recipe (%d sources), want build.skip to refuse %s", len(r.Sources), platform)
				}
				want := ld.file(t, "blender-4.1") + ":28: build.skip: the recipe skips target platform " + platform + " (not (linux64 or win64))"
				if err.Error() != want {
					t.Errorf("error:\n  %v\nwant\n  %s", err, want)
				}
				if !errors.Is(err, ErrSkipped) {
					t.Errorf("errors.Is(err, ErrSkipped) = false")
				}
			})
		}
	}
}

func TestExampleRecipe(t *testing.T) {
	for _, ld := range loaders {
		for _, platform := range []string{"linux-64", "win-64", "osx-arm64"} {
			t.Run(ld.name+"/"+platform, func(t *testing.T) {
				r, err := ld.load(t, "condachan-example", platform)
				if err != nil {
					t.Fatal(err)
				}
				if r.Package != (Package{"condachan-example", "1.0.0"}) || r.Build.Noarch != "generic" || r.Subdir() != "noarch" ||
					r.FileName() != "condachan-example-1.0.0-0.conda" || r.TargetPlatform != platform {
					t.Errorf("Package = %+v, Noarch = %q, Subdir() = %q, FileName() = %q", r.Package, r.Build.Noarch, r.Subdir(), r.FileName())
				}
				wantSrc := []Source{{Line: 12, Path: "payload", TargetDirectory: "example", StripComponents: -1}}
				if !reflect.DeepEqual(r.Sources, wantSrc) || !r.Sources[0].IsPath() || r.Sources[0].ArchiveName() != "payload" {
					t.Errorf("Sources = %+v, want %+v", r.Sources, wantSrc)
				}
				if _, err := fs.Stat(r.Folder, "payload/bin/condachan-example"); err != nil {
					t.Errorf("Folder: %v", err)
				}
				wantFiles := []FileRule{
					{Line: 20, From: "example/bin", To: "bin", Executable: []string{"*"}},
					{Line: 23, From: "example/share", To: "share", Exclude: []string{"*.md"}},
				}
				if !reflect.DeepEqual(r.Build.Files, wantFiles) {
					t.Errorf("Files = %+v, want %+v", r.Build.Files, wantFiles)
				}
				wantLinks := []Link{{Line: 27, Path: "bin/example-render", Target: "condachan-example"}}
				if !reflect.DeepEqual(r.Build.Links, wantLinks) {
					t.Errorf("Links = %+v", r.Build.Links)
				}
				wantEnv := []EnvVar{
					{Line: 31, Name: "CONDACHAN_EXAMPLE_HOME", Value: "$CONDA_PREFIX/share/condachan-example"},
					{Line: 32, Name: "CONDACHAN_EXAMPLE_PRESETS", Value: "$CONDACHAN_EXAMPLE_HOME/presets"},
					{Line: 33, Name: "CONDACHAN_EXAMPLE_VERSION", Value: "1.0.0"},
				}
				if !reflect.DeepEqual(r.Build.Activation.Env, wantEnv) || r.Build.Activation.PathPrepend != nil {
					t.Errorf("Activation = %+v", r.Build.Activation)
				}
				if !reflect.DeepEqual(r.Requirements.RunConstraints, []string{"blender >=4.1"}) || r.Requirements.Run != nil {
					t.Errorf("Requirements = %+v", r.Requirements)
				}
				if !reflect.DeepEqual(r.About.LicenseFile, []string{"LICENSE.txt"}) || r.About.License != "Apache-2.0" {
					t.Errorf("About = %+v", r.About)
				}
				if _, err := fs.Stat(r.Folder, r.About.LicenseFile[0]); err != nil {
					t.Errorf("license file: %v", err)
				}
			})
		}
	}
}

func TestLoadErrors(t *testing.T) {
	dir := recipesDir(t)
	if _, err := LoadDir(filepath.Join(dir, "no-such-recipe"), "linux-64"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadDir(missing) error = %v, want not-exist", err)
	}
	if _, err := LoadFS(os.DirFS(dir), "no-such-recipe", "linux-64"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadFS(missing) error = %v, want not-exist", err)
	}
	if _, err := LoadFS(os.DirFS(dir), "../x", "linux-64"); err == nil {
		t.Errorf("LoadFS(../x) succeeded")
	}
	if _, err := LoadDir(filepath.Join(dir, "blender-4.1"), "linux-65"); err == nil || !strings.Contains(err.Error(), `unknown target platform "linux-65"`) {
		t.Errorf("unknown platform error = %v", err)
	}
}

func TestPlatformScope(t *testing.T) {
	tests := []struct {
		platform string
		true     []string
	}{
		{"linux-64", []string{"linux", "unix", "x86_64", "linux64"}},
		{"linux-aarch64", []string{"linux", "unix", "aarch64", "linuxaarch64"}},
		{"linux-ppc64le", []string{"linux", "unix", "ppc64le", "linuxppc64le"}},
		{"linux-32", []string{"linux", "unix", "x86", "linux32"}},
		{"osx-64", []string{"osx", "unix", "x86_64", "osx64"}},
		{"osx-arm64", []string{"osx", "unix", "arm64", "osxarm64"}},
		{"win-64", []string{"win", "x86_64", "win64"}},
		{"win-arm64", []string{"win", "arm64", "winarm64"}},
		{"noarch", []string{"noarch"}},
	}
	names := map[string]bool{}
	for _, tt := range tests {
		s, err := PlatformScope(tt.platform)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"target_platform", "host_platform", "build_platform"} {
			if s[k] != tt.platform {
				t.Errorf("%s: %s = %v", tt.platform, k, s[k])
			}
		}
		want := map[string]bool{}
		for _, k := range tt.true {
			want[k] = true
		}
		for k, v := range s {
			if k == "" {
				t.Errorf("%s: a variable with an empty name", tt.platform)
			}
			names[k] = true
			if b, ok := v.(bool); ok && b != want[k] {
				t.Errorf("%s: %s = %v", tt.platform, k, b)
			}
		}
	}
	for _, p := range Platforms {
		s, err := PlatformScope(p)
		if err != nil {
			t.Errorf("PlatformScope(%q): %v", p, err)
			continue
		}
		// the same names everywhere, so that a selector is valid on every platform
		for k := range names {
			if _, ok := s[k]; !ok {
				t.Errorf("%s: no variable %q", p, k)
			}
		}
	}
	for _, p := range []string{"", "linux", "linux-", "-64", "Linux-64", "freebsd-64", "noarch-64"} {
		if _, err := PlatformScope(p); err == nil || !strings.Contains(err.Error(), "unknown target platform") {
			t.Errorf("PlatformScope(%q) error = %v", p, err)
		}
	}
}

func TestSplitEnvValue(t *testing.T) {
	tests := []struct {
		in   string
		want []EnvPart
	}{
		{"", nil},
		{"plain", []EnvPart{{Literal: "plain"}}},
		{"$CONDA_PREFIX", []EnvPart{{Var: "CONDA_PREFIX"}}},
		{"${CONDA_PREFIX}", []EnvPart{{Var: "CONDA_PREFIX"}}},
		{"$CONDA_PREFIX/opt/blender", []EnvPart{{Var: "CONDA_PREFIX"}, {Literal: "/opt/blender"}}},
		{"${A}B", []EnvPart{{Var: "A"}, {Literal: "B"}}},
		{"$A_1.x", []EnvPart{{Var: "A_1"}, {Literal: ".x"}}},
		{"$_x", []EnvPart{{Var: "_x"}}},
		{"$$", []EnvPart{{Literal: "$"}}},
		{"cost $$5", []EnvPart{{Literal: "cost $5"}}},
		{"$$HOME", []EnvPart{{Literal: "$HOME"}}},
		{"$$$A", []EnvPart{{Literal: "$"}, {Var: "A"}}},
		{"a:$A:${B}:c", []EnvPart{{Literal: "a:"}, {Var: "A"}, {Literal: ":"}, {Var: "B"}, {Literal: ":c"}}},
		{"$A$B", []EnvPart{{Var: "A"}, {Var: "B"}}},
		{"é $A é", []EnvPart{{Literal: "é "}, {Var: "A"}, {Literal: " é"}}},
		// invalid: no parts (checkEnvRefs reports them when parsing)
		{"$", nil},
		{"a $ b", nil},
		{"$1", nil},
		{"${", nil},
		{"${A", nil},
		{"${}", nil},
		{"${A-B}", nil},
	}
	for _, tt := range tests {
		if got := SplitEnvValue(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitEnvValue(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if err := checkEnvRefs(tt.in); (err == nil) != (tt.want != nil || tt.in == "") {
			t.Errorf("checkEnvRefs(%q) = %v", tt.in, err)
		}
	}
}

func TestSourceArchiveName(t *testing.T) {
	tests := []struct {
		s    Source
		want string
	}{
		{Source{URLs: []string{"https://h/a/b-1.0.tar.gz"}}, "b-1.0.tar.gz"},
		{Source{URLs: []string{"https://h/a/b.zip?raw=1#frag", "https://mirror/c.zip"}}, "b.zip"},
		{Source{URLs: []string{"https://h/a/b.zip"}, FileName: "local.zip"}, "local.zip"},
		{Source{Path: "payload/dir"}, "dir"},
	}
	for _, tt := range tests {
		if got := tt.s.ArchiveName(); got != tt.want {
			t.Errorf("ArchiveName(%+v) = %q, want %q", tt.s, got, tt.want)
		}
	}
}

func TestRecipeNames(t *testing.T) {
	r := &Recipe{Package: Package{"a", "1.0"}, TargetPlatform: "win-64", Build: Build{Number: 3}}
	if r.BuildString() != "3" || r.FileName() != "a-1.0-3.conda" || r.Subdir() != "win-64" {
		t.Errorf("BuildString() = %q, FileName() = %q, Subdir() = %q", r.BuildString(), r.FileName(), r.Subdir())
	}
	r.Build.String, r.Build.Noarch = "h1_3", "generic"
	if r.BuildString() != "h1_3" || r.FileName() != "a-1.0-h1_3.conda" || r.Subdir() != "noarch" {
		t.Errorf("BuildString() = %q, FileName() = %q, Subdir() = %q", r.BuildString(), r.FileName(), r.Subdir())
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&Error{File: "r.yaml", Line: 3, Field: "build.number", Msg: "bad"}, "r.yaml:3: build.number: bad"},
		{&Error{File: "r.yaml", Msg: "the recipe is empty"}, "r.yaml: the recipe is empty"},
		{&Error{File: "r.yaml", Field: "package", Msg: "x"}, "r.yaml: package: x"},
		{ErrorList{{File: "a", Line: 1, Msg: "x"}, {File: "a", Line: 2, Field: "f", Msg: "y"}}, "a:1: x\na:2: f: y"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	list := ErrorList{{File: "a", Msg: "x"}, {File: "a", Msg: "skip", err: ErrSkipped}}
	var e *Error
	if !errors.Is(list, ErrSkipped) || !errors.As(list, &e) || e.Msg != "x" {
		t.Errorf("errors.Is/As do not see the entries of an ErrorList")
	}
}

// parseOK parses src for a platform and fails the test on error.
func parseOK(t *testing.T, src, platform string) *Recipe {
	t.Helper()
	r, err := Parse("test.yaml", []byte(src), nil, platform)
	if err != nil {
		t.Fatalf("Parse: %v\nrecipe:\n%s", err, src)
	}
	return r
}

const sha = "ab2ea3fe991601a5e6bd2cda786ecaa919c0b39e0550e59978b5d40270c260d3"

func TestParseValid(t *testing.T) {
	tests := []struct {
		name     string
		platform string // default linux-64
		src      string
		check    func(t *testing.T, r *Recipe)
	}{
		{
			name: "context in order, types kept, earlier values usable",
			src: `context:
  name: tool
  version: "2.10.3"
  number: 5
  float: 4.10
  flag: true
  none:
  list: [a, "${{ name }}", 3]
  mm: ${{ (version | split('.'))[:2] | join('.') }}
  n1: ${{ number + 1 }}
  big: ${{ number > 3 }}
  mixed: v${{ number }}
  nodot: ${{ version | version_to_buildstring }}
package:
  name: ${{ name }}
  version: ${{ version }}
build:
  number: ${{ n1 }}
  string: py${{ nodot }}_${{ n1 }}
`,
			check: func(t *testing.T, r *Recipe) {
				want := []ContextVar{
					{"name", "tool"}, {"version", "2.10.3"}, {"number", int64(5)}, {"float", "4.10"},
					{"flag", true}, {"none", nil}, {"list", []Value{"a", "tool", int64(3)}}, {"mm", "2.10"},
					{"n1", int64(6)}, {"big", true}, {"mixed", "v5"}, {"nodot", "210"},
				}
				if !reflect.DeepEqual(r.Context, want) {
					t.Errorf("Context = %#v\nwant %#v", r.Context, want)
				}
				if r.Package != (Package{"tool", "2.10.3"}) || r.Build.Number != 6 || r.FileName() != "tool-2.10.3-py210_6.conda" {
					t.Errorf("Package = %+v, Build = %+v", r.Package, r.Build)
				}
			},
		},
		{
			name: "version written as a YAML float keeps its text",
			src:  "package:\n  name: a\n  version: 4.10\n",
			check: func(t *testing.T, r *Recipe) {
				if r.Package.Version != "4.10" {
					t.Errorf("Version = %q", r.Package.Version)
				}
			},
		},
		{
			name: "source as a single mapping",
			src: `package: {name: a, version: "1"}
source:
  url: https://example.com/dl/a-1.tar.gz
  sha256: ` + strings.ToUpper(sha) + `
  md5: 0123456789ABCDEF0123456789abcdef
  strip_components: 0
  file_name: a.tgz
`,
			check: func(t *testing.T, r *Recipe) {
				want := []Source{{Line: 3, URLs: []string{"https://example.com/dl/a-1.tar.gz"}, SHA256: sha,
					MD5: "0123456789abcdef0123456789abcdef", FileName: "a.tgz", StripComponents: 0}}
				if !reflect.DeepEqual(r.Sources, want) || r.Sources[0].ArchiveName() != "a.tgz" {
					t.Errorf("Sources = %+v\nwant %+v", r.Sources, want)
				}
			},
		},
		{
			name:     "source as a single selector mapping, chosen",
			platform: "win-64",
			src: `package: {name: a, version: "1"}
source:
  if: win
  then:
    url: [https://a.example/x.zip, https://b.example/x.zip]
    sha256: ` + sha + `
  else:
    path: payload
`,
			check: func(t *testing.T, r *Recipe) {
				if len(r.Sources) != 1 || len(r.Sources[0].URLs) != 2 || r.Sources[0].Line != 5 {
					t.Errorf("Sources = %+v", r.Sources)
				}
			},
		},
		{
			name: "source as a single selector mapping, else branch",
			src: `package: {name: a, version: "1"}
source:
  if: win
  then:
    url: https://a.example/x.zip
    sha256: ` + sha + `
  else:
    path: payload
`,
			check: func(t *testing.T, r *Recipe) {
				if len(r.Sources) != 1 || r.Sources[0].Path != "payload" || r.Sources[0].Line != 8 {
					t.Errorf("Sources = %+v", r.Sources)
				}
			},
		},
		{
			name: "source selector without a match leaves no source",
			src:  "package: {name: a, version: \"1\"}\nsource:\n  if: win\n  then:\n    path: payload\n",
			check: func(t *testing.T, r *Recipe) {
				if len(r.Sources) != 0 {
					t.Errorf("Sources = %+v", r.Sources)
				}
			},
		},
		{
			name: "selectors splice lists, nest, and take else",
			src: `package: {name: a, version: "1"}
requirements:
  run:
    - always
    - if: linux
      then:
        - on-linux
        - if: x86_64
          then: linux-x86
          else: linux-other
    - if: win
      then: [on-win]
      else: not-win
    - if: ${{ target_platform == "linux-64" }}
      then: expr-selector
    - if: osx
      then: [on-osx]
    - last >=1
  run_constraints: [blender >=4.1, "python 3.11.* *_cpython"]
`,
			check: func(t *testing.T, r *Recipe) {
				want := []string{"always", "on-linux", "linux-x86", "not-win", "expr-selector", "last >=1"}
				if !reflect.DeepEqual(r.Requirements.Run, want) {
					t.Errorf("Run = %q, want %q", r.Requirements.Run, want)
				}
				if len(r.Requirements.RunConstraints) != 2 {
					t.Errorf("RunConstraints = %q", r.Requirements.RunConstraints)
				}
			},
		},
		{
			name: "dependencies are written in the repodata form",
			src: `package: {name: a, version: "1"}
requirements:
  run:
    - studio-tools>=2.1
    - Studio-Tools >=2
    - studio-tools=2.1
    - "studio-tools[version='>=2.1']"
    - "studio-tools[version='>=2.1', build=py*]"
    - python >= 3.10 , <3.12
    - foo=1.2=py_0
    - bar *
  run_constraints: [baz==2.1, "qux 2.1*"]
  run_exports:
    weak: [a>=1]
    strong_constraints: ["b[version='<2']"]
`,
			check: func(t *testing.T, r *Recipe) {
				want := []string{"studio-tools >=2.1", "studio-tools >=2", "studio-tools 2.1.*", "studio-tools >=2.1",
					"studio-tools >=2.1 py*", "python >=3.10,<3.12", "foo ==1.2 py_0", "bar"}
				if !reflect.DeepEqual(r.Requirements.Run, want) {
					t.Errorf("Run = %q, want %q", r.Requirements.Run, want)
				}
				if want := []string{"baz ==2.1", "qux 2.1.*"}; !reflect.DeepEqual(r.Requirements.RunConstraints, want) {
					t.Errorf("RunConstraints = %q, want %q", r.Requirements.RunConstraints, want)
				}
				want2 := RunExports{Weak: []string{"a >=1"}, StrongConstraints: []string{"b <2"}}
				if !reflect.DeepEqual(r.Requirements.RunExports, want2) {
					t.Errorf("RunExports = %+v", r.Requirements.RunExports)
				}
			},
		},
		{
			name: "run_exports as a list and as a mapping",
			src: `package: {name: a, version: "1"}
requirements:
  build: []
  host:
  run_exports:
    weak: [a >=1]
    strong: [b]
    noarch: [c]
    weak_constraints: [d]
    strong_constraints: [e]
  ignore_run_exports:
    by_name: [x]
`,
			check: func(t *testing.T, r *Recipe) {
				want := RunExports{Weak: []string{"a >=1"}, Strong: []string{"b"}, Noarch: []string{"c"},
					WeakConstraints: []string{"d"}, StrongConstraints: []string{"e"}}
				if !reflect.DeepEqual(r.Requirements.RunExports, want) || r.Requirements.RunExports.Empty() {
					t.Errorf("RunExports = %+v", r.Requirements.RunExports)
				}
			},
		},
		{
			name: "activation env as a list with selectors, in order",
			src: `package: {name: a, version: "1"}
build:
  activation:
    env:
      - APP_HOME: $CONDA_PREFIX/opt/app
      - if: win
        then:
          APP_OS: windows
        else:
          APP_OS: unix
      - if: linux
        then:
          - APP_A: ${APP_HOME}/a
          - APP_PRICE: $$5
        else:
          APP_B: x
      - if: linux
        then:
          APP_C: "1"
          APP_D: "2"
      - APP_NUM: 42
    path_prepend: [opt/app/bin, ., "opt/app/./lib/"]
`,
			check: func(t *testing.T, r *Recipe) {
				want := []EnvVar{
					{Line: 5, Name: "APP_HOME", Value: "$CONDA_PREFIX/opt/app"},
					{Line: 10, Name: "APP_OS", Value: "unix"},
					{Line: 13, Name: "APP_A", Value: "${APP_HOME}/a"},
					{Line: 14, Name: "APP_PRICE", Value: "$$5"},
					{Line: 19, Name: "APP_C", Value: "1"},
					{Line: 20, Name: "APP_D", Value: "2"},
					{Line: 21, Name: "APP_NUM", Value: "42"},
				}
				if !reflect.DeepEqual(r.Build.Activation.Env, want) {
					t.Errorf("Env = %+v\nwant %+v", r.Build.Activation.Env, want)
				}
				if !reflect.DeepEqual(r.Build.Activation.PathPrepend, []string{"opt/app/bin", ".", "opt/app/lib"}) {
					t.Errorf("PathPrepend = %q", r.Build.Activation.PathPrepend)
				}
			},
		},
		{
			name: "files rules and links are cleaned",
			src: `package: {name: a, version: "1"}
build:
  noarch: generic
  files:
    - {}
    - from: ./src/
      to: opt/./app/
      include: ["**/*.py", "bin/*"]
      exclude: "*.pyc"
      executable: [bin/*]
  links:
    - path: ./bin/app
      target: ../opt/app/bin/app
    - path: opt/app/current
      target: ./v1
    - path: bin/root
      target: ..
`,
			check: func(t *testing.T, r *Recipe) {
				wantFiles := []FileRule{
					{Line: 5, From: ".", To: "."},
					{Line: 6, From: "src", To: "opt/app", Include: []string{"**/*.py", "bin/*"}, Exclude: []string{"*.pyc"}, Executable: []string{"bin/*"}},
				}
				if !reflect.DeepEqual(r.Build.Files, wantFiles) {
					t.Errorf("Files = %+v\nwant %+v", r.Build.Files, wantFiles)
				}
				wantLinks := []Link{{12, "bin/app", "../opt/app/bin/app"}, {14, "opt/app/current", "./v1"}, {16, "bin/root", ".."}}
				if !reflect.DeepEqual(r.Build.Links, wantLinks) {
					t.Errorf("Links = %+v", r.Build.Links)
				}
			},
		},
		{
			name: "skip false, skip list, no-op build keys, empty script",
			src: `package: {name: a, version: "1"}
build:
  skip: [win, osx, "target_platform == 'linux-aarch64'"]
  script: ""
  prefix_detection: {ignore: true}
  dynamic_linking: {}
  noarch: none
`,
			check: func(t *testing.T, r *Recipe) {
				if r.Build.Noarch != "" {
					t.Errorf("Noarch = %q", r.Build.Noarch)
				}
			},
		},
		{
			name: "tests, about and extra become plain JSON values",
			src: `schema_version: 1
$schema: https://example.com/schema.json
package: {name: a, version: "1"}
context:
  v: "1"
tests:
  - script: [a --version]
  - package_contents:
      files: [bin/a]
extra:
  recipe-maintainers: [me]
  n: 1
  f: 1.5
  nan: .nan
  inf: -.inf
  "on": yes
  1: numeric key
  nested: {2: two, list: [1, ~, "${{ v }}"]}
  when: 2001-12-14
about:
  homepage: https://example.com
  license: MIT
  license_file: [LICENSE, ./docs/NOTICE]
  license_family: MIT
  summary: "  padded  "
  description: |
    line one
`,
			check: func(t *testing.T, r *Recipe) {
				wantExtra := map[string]any{
					"recipe-maintainers": []any{"me"}, "n": 1, "f": 1.5, "nan": ".nan", "inf": "-.inf", "on": "yes",
					"1": "numeric key", "nested": map[string]any{"2": "two", "list": []any{1, nil, "1"}}, "when": "2001-12-14",
				}
				if !reflect.DeepEqual(r.Extra, wantExtra) {
					t.Errorf("Extra = %#v\nwant %#v", r.Extra, wantExtra)
				}
				if _, err := json.Marshal(r.Extra); err != nil {
					t.Errorf("Extra is not JSON: %v", err)
				}
				if _, err := json.Marshal(r.Tests); err != nil || len(r.Tests) != 2 {
					t.Errorf("Tests = %#v: %v", r.Tests, err)
				}
				want := About{Homepage: "https://example.com", License: "MIT", LicenseFile: []string{"LICENSE", "docs/NOTICE"},
					LicenseFamily: "MIT", Summary: "padded", Description: "line one"}
				if !reflect.DeepEqual(r.About, want) {
					t.Errorf("About = %+v", r.About)
				}
			},
		},
		{
			name: "anchors and aliases are followed",
			src: `context:
  v: "1"
package: {name: a, version: "1"}
requirements:
  run: &deps
    - x
    - y
  run_constraints: *deps
`,
			check: func(t *testing.T, r *Recipe) {
				if !reflect.DeepEqual(r.Requirements.RunConstraints, []string{"x", "y"}) {
					t.Errorf("RunConstraints = %q", r.Requirements.RunConstraints)
				}
			},
		},
		{
			name: "env.get with a default and env.exists",
			src: `context:
  studio: ${{ env.get("CONDACHAN_TEST_STUDIO", default="none") }}
package: {name: a, version: "1"}
requirements:
  run:
    - if: env.exists("CONDACHAN_TEST_STUDIO")
      then: studio-tools
`,
			check: func(t *testing.T, r *Recipe) {
				if r.Context[0].Value != "acme" || !reflect.DeepEqual(r.Requirements.Run, []string{"studio-tools"}) {
					t.Errorf("Context = %v, Run = %q", r.Context, r.Requirements.Run)
				}
			},
		},
	}
	t.Setenv("CONDACHAN_TEST_STUDIO", "acme")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			platform := tt.platform
			if platform == "" {
				platform = "linux-64"
			}
			r := parseOK(t, tt.src, platform)
			if r.File != "test.yaml" || string(r.Source) != tt.src || r.TargetPlatform != platform {
				t.Errorf("File = %q, TargetPlatform = %q", r.File, r.TargetPlatform)
			}
			tt.check(t, r)
		})
	}
}

// pkg is a valid package section on line 1.
const pkg = "package: {name: a, version: \"1\"}\n"

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		platform string // default linux-64
		line     int
		field    string
		want     string // in the message
	}{
		// YAML itself
		{"yaml unclosed flow list", "package:\n  name: x\n  version: [1\n", "", 3, "", "YAML syntax error: did not find expected ',' or ']'"},
		{"yaml unclosed flow map", "package: {name: x\nversion: 1\n", "", 2, "", "YAML syntax error"},
		{"yaml mapping in a scalar", "package:\n  name: x\n  version: 1\n  foo: bar: baz\n", "", 4, "", "YAML syntax error: mapping values are not allowed"},
		{"yaml tab indent", "package:\n\tname: x\n", "", 2, "", "YAML syntax error: found character that cannot start any token"},
		{"yaml bad indent", "package:\n  name: x\n version: 1\n", "", 3, "", "YAML syntax error: did not find expected key"},
		{"yaml unclosed at the end", "[a\n", "", 2, "", "YAML syntax error"},
		{"yaml first line", "a: b: c\n", "", 1, "", "YAML syntax error: mapping values are not allowed"},
		{"yaml first line, parser", "a: 1\n- b\n", "", 2, "", "YAML syntax error: did not find expected key"},
		{"yaml unterminated quote", "package:\n  name: x\n  version: \"1\n", "", 3, "", "YAML syntax error"},
		{"yaml unknown anchor", "package:\n  name: a\n  version: *v\n", "", 3, "", "YAML syntax error: unknown anchor 'v' referenced"},
		{"yaml alias loop", "package: &p\n  name: a\n  version: *p\n", "", 3, "", "alias *p is used inside its own anchor's value"},
		{"yaml alias loop in a list", "requirements:\n  run: &r [a, *r]\n", "", 2, "", "alias *r is used inside its own anchor's value"},
		{"yaml alias bomb", "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n", "", 5, "", "expands to more than 100000 YAML nodes"},
		{"empty file", "", "", 0, "", "the recipe is empty"},
		{"comment only", "# nothing\n", "", 0, "", "the recipe is empty"},
		{"not a mapping", "- a\n- b\n", "", 1, "", "the recipe must be a mapping of sections"},
		// keys
		{"unknown top-level key", pkg + "abuot:\n  license: MIT\n", "", 2, "abuot", `unknown key; did you mean "about"? (allowed here: schema_version, context, package, source, build, requirements, tests, about, extra)`},
		{"unknown top-level key, no hint", pkg + "zzzzzzz: 1\n", "", 2, "zzzzzzz", "unknown key (allowed here:"},
		{"unknown build key", pkg + "build:\n  numbr: 1\n", "", 3, "build.numbr", `unknown key; did you mean "number"?`},
		{"unknown source key", pkg + "source:\n  url: https://x.example/a.tgz\n  sha256: " + sha + "\n  sah256: x\n", "", 5, "source[0].sah256", `did you mean "sha256"?`},
		{"unknown source key in a selector", pkg + "source:\n  - if: linux\n    then:\n      path: p\n      targt_directory: x\n", "", 6, "source[0].targt_directory", `did you mean "target_directory"?`},
		{"unknown about key", pkg + "about:\n  licence: MIT\n", "", 3, "about.licence", `did you mean "license"?`},
		{"old about key", pkg + "about:\n  home: https://x\n", "", 3, "about.home", "v1 recipes use homepage:"},
		{"unknown package key", "package:\n  name: a\n  version: 1\n  nmae: b\n", "", 4, "package.nmae", `did you mean "name"?`},
		{"unknown requirements key", pkg + "requirements:\n  runn: [a]\n", "", 3, "requirements.runn", `did you mean "run"?`},
		{"unknown activation key", pkg + "build:\n  activation:\n    evn: {A: b}\n", "", 4, "build.activation.evn", `did you mean "env"?`},
		{"unknown files key", pkg + "build:\n  files:\n    - from: a\n      too: b\n", "", 5, "build.files[0].too", `did you mean "to"?`},
		{"unknown links key", pkg + "build:\n  links:\n    - path: a\n      target: b\n      tagret: c\n", "", 6, "build.links[0].tagret", `did you mean "target"?`},
		{"unknown selector key", pkg + "requirements:\n  run:\n    - if: linux\n      then: a\n      esle: b\n", "", 6, "requirements.run[0].esle", `did you mean "else"?`},
		{"duplicate top-level key", pkg + "about: {}\npackage: {name: b, version: 2}\n", "", 3, "package", "key appears twice"},
		{"duplicate build key", pkg + "build:\n  number: 1\n  number: 2\n", "", 4, "build.number", "key appears twice"},
		{"duplicate context variable", "context:\n  v: 1\n  v: 2\n" + pkg, "", 3, "context.v", "defined twice"},
		{"duplicate extra key", pkg + "extra:\n  a: 1\n  a: 2\n", "", 4, "extra.a", "key appears twice"},
		{"duplicate activation variable", pkg + "build:\n  activation:\n    env:\n      A: x\n      A: y\n", "", 6, "build.activation.env.A", "set twice"},
		{"duplicate activation variable in a list", pkg + "build:\n  activation:\n    env:\n      - A: x\n      - if: linux\n        then:\n          A: y\n", "", 8, "build.activation.env.A", "set twice"},
		{"duplicate link path", pkg + "build:\n  links:\n    - {path: bin/a, target: x}\n    - {path: ./bin/a, target: y}\n", "", 5, "build.links[1].path", `"bin/a" is already a link (line 4)`},
		// package
		{"missing package", "about: {license: MIT}\n", "", 1, "package", "missing required section"},
		{"missing package.name", "package:\n  version: 1\n", "", 2, "package.name", "missing required field"},
		{"missing package.version", "package:\n  name: a\n", "", 2, "package.version", "missing required field"},
		{"package not a mapping", "package: a\n", "", 1, "package", `expected a mapping, got "a"`},
		{"package.version list", "package:\n  name: a\n  version: [1, 2]\n", "", 3, "package.version", "expected a string, got a list"},
		{"package.version empty", "package:\n  name: a\n  version:\n", "", 3, "package.version", "expected a string, got nothing"},
		{"package.version dash", "package:\n  name: a\n  version: 1.0-1\n", "", 3, "package.version", `"1.0-1" is not a valid conda version`},
		{"package.version space", "package:\n  name: a\n  version: 1.0 beta\n", "", 3, "package.version", "not a valid conda version"},
		{"package.name upper case", "package:\n  name: My_Pkg\n  version: 1\n", "", 2, "package.name", `"My_Pkg" is not a valid conda package name`},
		{"package.name space", "package:\n  name: a b\n  version: 1\n", "", 2, "package.name", "not a valid conda package name"},
		{"package.name rendered", "context:\n  n: A\npackage:\n  name: ${{ n }}\n  version: 1\n", "", 4, "package.name", `"A" is not a valid`},
		// expressions and selectors
		{"unknown selector variable", pkg + "requirements:\n  run:\n    - if: linuxx\n      then: a\n", "", 4, "requirements.run[0].if", `unknown selector variable "linuxx"`},
		{"unknown selector variable, nested", pkg + "requirements:\n  run:\n    - if: linux\n      then:\n        - if: arm\n          then: a\n", "", 6, "requirements.run[0][0].if", `unknown selector variable "arm"`},
		{"unknown selector variable in source", pkg + "source:\n  if: windows\n  then:\n    path: p\n", "", 3, "source[0].if", `unknown selector variable "windows"`},
		{"unknown selector variable in skip", pkg + "build:\n  skip:\n    - win\n    - macos\n", "", 5, "build.skip[1]", `unknown selector variable "macos"`},
		{"unknown selector variable in path_prepend", pkg + "build:\n  activation:\n    path_prepend:\n      - if: windows\n        then: bin\n", "", 5, "build.activation.path_prepend[0].if", `unknown selector variable "windows"`},
		{"selector expression error", pkg + "requirements:\n  run:\n    - if: linux ==\n      then: a\n", "", 4, "requirements.run[0].if", "expression ends too early"},
		{"selector without then", pkg + "requirements:\n  run:\n    - if: linux\n      else: a\n", "", 4, "requirements.run[0]", "selector without then:"},
		{"selector if is a list", pkg + "requirements:\n  run:\n    - if: [linux]\n      then: a\n", "", 4, "requirements.run[0].if", "expected an expression"},
		{"selector as a value", pkg + "build:\n  number:\n    if: linux\n    then: 1\n", "", 4, "build.number", "can only be an item of a list"},
		{"unknown variable in a value", "package:\n  name: a\n  version: ${{ ver }}\n", "", 3, "package.version", `unknown variable "ver"`},
		{"unknown variable in context", "context:\n  a: \"1\"\n  b: ${{ a ~ c }}\n" + pkg, "", 3, "context.b", `unknown variable "c"`},
		{"context refers to a later value", "context:\n  a: ${{ b }}\n  b: \"1\"\n" + pkg, "", 2, "context.a", `unknown variable "b"`},
		{"unknown selector variable where it is not evaluated", pkg + "requirements:\n  run:\n    - if: win and nope\n      then: x\n", "", 4, "requirements.run[0].if", `unknown selector variable "nope"`},
		{"misspelt platform in a short-circuited skip", pkg + "build:\n  skip: not (linux64 or windows64)\n", "", 3, "build.skip", `unknown selector variable "windows64"`},
		{"unknown variable in an untaken inline branch", pkg + "requirements:\n  run:\n    - ${{ 'y' if linux or nope else 'z' }}\n", "", 4, "requirements.run[0]", `unknown variable "nope"`},
		{"method call", "context:\n  v: \"4.1.1\"\n  mm: ${{ v.split('.')[0] }}\n" + pkg, "", 3, "context.mm", "attribute and method access is not supported (only env.get and env.exists): use filters"},
		{"unknown filter", pkg + "about:\n  summary: ${{ 'x' | titel }}\n", "", 3, "about.summary", `unknown filter "titel"`},
		{"unterminated string", pkg + "about:\n  summary: ${{ 'x }}\n", "", 3, "about.summary", "unterminated string"},
		{"unterminated expression", pkg + "about:\n  summary: a ${{ 'x'\n", "", 3, "about.summary", "unterminated ${{"},
		{"expression type error", pkg + "about:\n  summary: ${{ 1 + 'a' }}\n", "", 3, "about.summary", "operator + needs integers"},
		{"context shadows a platform variable", "context:\n  linux: false\n" + pkg, "", 2, "context.linux", `shadows the platform variable "linux"`},
		{"context bad name", "context:\n  my-var: 1\n" + pkg, "", 2, "context.my-var", "variable names are letters, digits and _"},
		{"context mapping value", "context:\n  m: {a: 1}\n" + pkg, "", 2, "context.m", "context values are scalars or lists of scalars"},
		{"context not a mapping", "context: [a]\n" + pkg, "", 1, "context", "expected a mapping of variables"},
		// types
		{"build.number not a number", pkg + "build:\n  number: abc\n", "", 3, "build.number", `expected an integer, got "abc"`},
		{"build.number float", pkg + "build:\n  number: 1.5\n", "", 3, "build.number", "expected an integer"},
		{"build.number negative", pkg + "build:\n  number: -1\n", "", 3, "build.number", "must be 0 or more"},
		{"build.string bad", pkg + "build:\n  string: a-b\n", "", 3, "build.string", `"a-b" is not a valid build string`},
		{"schema_version", "schema_version: 2\n" + pkg, "", 1, "schema_version", "only schema version 1 exists, got 2"},
		{"about.summary list", pkg + "about:\n  summary: [a]\n", "", 3, "about.summary", "expected a string, got a list"},
		{"tests not a list", pkg + "tests:\n  script: a\n", "", 2, "tests", "expected a list of tests, got a mapping"},
		{"extra not a mapping", pkg + "extra: [a]\n", "", 2, "extra", "expected a mapping, got a list"},
		{"use_gitignore not a bool", pkg + "source:\n  path: p\n  use_gitignore: maybe\n", "", 4, "source[0].use_gitignore", "expected true or false"},
		{"strip_components negative", pkg + "source:\n  path: p\n  strip_components: -1\n", "", 4, "source[0].strip_components", "must be 0 or more"},
		{"noarch python", pkg + "build:\n  noarch: python\n", "", 3, "build.noarch", "noarch: python needs a Python install step"},
		{"noarch other", pkg + "build:\n  noarch: generik\n", "", 3, "build.noarch", `expected generic, got "generik"`},
		{"files as a mapping is rattler-build's include/exclude", pkg + "build:\n  files: {from: a}\n", "", 3, "build.files.from", "unknown key (allowed here: include, exclude)"},
		{"files mixing globs and mappings", pkg + "build:\n  files:\n    - bin/*\n    - {from: a}\n", "", 5, "build.files[1]", "expected a string, got a mapping"},
		{"files mixing mappings and globs", pkg + "build:\n  files:\n    - {from: a}\n    - bin/*\n", "", 5, "build.files[1]", "a list of build.files is either all globs (rattler-build's form) or all mappings"},
		{"files bad glob", pkg + "build:\n  files:\n    - include: [ok, \"[\"]\n", "", 4, "build.files[0].include[1]", `bad glob "["`},
		{"links not a list", pkg + "build:\n  links: {path: a}\n", "", 3, "build.links", "expected a list of {path:, target:} mappings"},
		{"link missing target", pkg + "build:\n  links:\n    - path: bin/a\n", "", 4, "build.links[0].target", "missing required field"},
		{"activation env value null", pkg + "build:\n  activation:\n    env:\n      A:\n", "", 5, "build.activation.env.A", "expected a string, got nothing"},
		{"activation env list item", pkg + "build:\n  activation:\n    env:\n      - A\n", "", 5, "build.activation.env[0]", `expected a NAME: value mapping, got "A"`},
		{"activation env bad name", pkg + "build:\n  activation:\n    env:\n      MY-VAR: x\n", "", 5, "build.activation.env.MY-VAR", "not a valid environment variable name"},
		{"activation sets PATH", pkg + "build:\n  activation:\n    env:\n      Path: x\n", "", 5, "build.activation.env.Path", "use build.activation.path_prepend for PATH"},
		{"activation sets CONDA_PREFIX", pkg + "build:\n  activation:\n    env:\n      CONDA_PREFIX: x\n", "", 5, "build.activation.env.CONDA_PREFIX", "cannot be set here"},
		// activation values: $ starts a reference, $$ is a literal dollar
		{"activation bare dollar", pkg + "build:\n  activation:\n    env:\n      PRICE: cost $5\n", "", 5, "build.activation.env.PRICE", "write $$ for a literal $"},
		{"activation trailing dollar", pkg + "build:\n  activation:\n    env:\n      A: x$\n", "", 5, "build.activation.env.A", "write $$ for a literal $"},
		{"activation unterminated brace", pkg + "build:\n  activation:\n    env:\n      A: ${B/x\n", "", 5, "build.activation.env.A", "unterminated ${"},
		{"activation bad braced name", pkg + "build:\n  activation:\n    env:\n      A: ${B-x}\n", "", 5, "build.activation.env.A", "write $$ for a literal $"},
		// paths
		{"files from absolute", pkg + "build:\n  files:\n    - from: /opt/x\n", "", 4, "build.files[0].from", `"/opt/x" is absolute`},
		{"files to parent", pkg + "build:\n  files:\n    - to: ../x\n", "", 4, "build.files[0].to", `"../x" leaves the prefix`},
		{"files to parent after clean", pkg + "build:\n  files:\n    - to: a/../../x\n", "", 4, "build.files[0].to", "leaves the prefix"},
		{"files to backslash", pkg + "build:\n  files:\n    - to: 'a\\b'\n", "", 4, "build.files[0].to", "use / as the separator"},
		{"files to drive", pkg + "build:\n  files:\n    - to: 'C:/x'\n", "", 4, "build.files[0].to", "is absolute"},
		{"files to empty", pkg + "build:\n  files:\n    - to: ''\n", "", 4, "build.files[0].to", "empty path"},
		{"link path absolute", pkg + "build:\n  links:\n    - path: /usr/bin/a\n      target: b\n", "", 4, "build.links[0].path", "is absolute"},
		{"link path parent", pkg + "build:\n  links:\n    - path: ../a\n      target: b\n", "", 4, "build.links[0].path", "leaves the prefix"},
		{"link path root", pkg + "build:\n  links:\n    - path: .\n      target: b\n", "", 4, "build.links[0].path", "names the root itself"},
		{"link target absolute", pkg + "build:\n  links:\n    - path: bin/a\n      target: /opt/a\n", "", 5, "build.links[0].target", "must be a relative path"},
		{"link target empty", pkg + "build:\n  links:\n    - path: bin/a\n      target: ''\n", "", 5, "build.links[0].target", "must be a relative path"},
		{"link target leaves the prefix", pkg + "build:\n  links:\n    - path: bin/a\n      target: ../../etc/passwd\n", "", 5, "build.links[0].target", `"../../etc/passwd" from bin/a points outside the prefix`},
		{"link target leaves from the root", pkg + "build:\n  links:\n    - path: a\n      target: ../a\n", "", 5, "build.links[0].target", "points outside the prefix"},
		{"target_directory parent", pkg + "source:\n  path: p\n  target_directory: ../up\n", "", 4, "source[0].target_directory", "leaves the prefix"},
		{"target_directory absolute", pkg + "source:\n  path: p\n  target_directory: /abs\n", "", 4, "source[0].target_directory", "is absolute"},
		{"target_directory root", pkg + "source:\n  path: p\n  target_directory: .\n", "", 4, "source[0].target_directory", "names the root itself"},
		{"source path parent", pkg + "source:\n  path: ../other\n", "", 3, "source[0].path", "leaves the prefix"},
		{"license_file parent", pkg + "about:\n  license_file:\n    - LICENSE\n    - ../LICENSE\n", "", 5, "about.license_file[1]", "leaves the prefix"},
		{"path_prepend absolute", pkg + "build:\n  activation:\n    path_prepend:\n      - bin\n      - /usr/bin\n", "", 6, "build.activation.path_prepend[1]", "is absolute"},
		// activation values go into sh, cmd.exe and PowerShell scripts
		{"path_prepend semicolon", pkg + "build:\n  activation:\n    path_prepend:\n      - bin\n      - 'opt/a;calc'\n", "", 6, "build.activation.path_prepend[1]", `"opt/a;calc" holds ';' (U+003B) at byte 5, which PATH entries may not hold`},
		{"path_prepend percent", pkg + "build:\n  activation:\n    path_prepend: ['%WINDIR%']\n", "", 4, "build.activation.path_prepend[0]", `'%' (U+0025) at byte 0`},
		{"path_prepend dollar", pkg + "build:\n  activation:\n    path_prepend:\n      - $(id)/bin\n", "", 5, "build.activation.path_prepend[0]", `'$' (U+0024)`},
		{"path_prepend typographic quote", pkg + "build:\n  activation:\n    path_prepend:\n      - opt/\u201dx\n", "", 5, "build.activation.path_prepend[0]", "'\u201d' (U+201D) at byte 4"},
		{"path_prepend ampersand by selector", pkg + "build:\n  activation:\n    path_prepend:\n      - if: linux\n        then: a&b\n", "", 6, "build.activation.path_prepend[0]", `'&' (U+0026)`},
		{"path_prepend tab", pkg + "build:\n  activation:\n    path_prepend: [\"a\\tb\"]\n", "", 4, "build.activation.path_prepend[0]", `\x09 at byte 1`},
		{"activation value with a bang", pkg + "build:\n  activation:\n    env:\n      A: ok\n      B: hello!\n", "", 6, "build.activation.env.B", `the value holds '!' (U+0021) at byte 5: cmd.exe drops it when delayed expansion is on`},
		{"activation value with a quote", pkg + "build:\n  activation:\n    env:\n      A: 'say \"hi\"'\n", "", 5, "build.activation.env.A", `'"' (U+0022) at byte 4`},
		{"activation value with a line break", pkg + "build:\n  activation:\n    env:\n      A: \"x\\ny\"\n", "", 5, "build.activation.env.A", `\x0a at byte 1: a line break`},
		{"activation value with an escape", pkg + "build:\n  activation:\n    env:\n      A: \"\\e[1m\"\n", "", 5, "build.activation.env.A", `\x1b at byte 0: control characters`},
		// sources
		{"url without sha256", pkg + "source:\n  url: https://x.example/a.tgz\n", "", 3, "source[0].sha256", "missing required field: a downloaded archive must be pinned by its sha256"},
		{"url without sha256 in a list", pkg + "source:\n  - path: p\n  - url: https://x.example/a.tgz\n    md5: 0123456789abcdef0123456789abcdef\n", "", 4, "source[1].sha256", "missing required field"},
		{"sha256 bad", pkg + "source:\n  url: https://x.example/a.tgz\n  sha256: abc\n", "", 4, "source[0].sha256", `expected 64 hex digits, got "abc"`},
		{"md5 bad", pkg + "source:\n  path: p\n  md5: xyz\n", "", 4, "source[0].md5", "expected 32 hex digits"},
		{"url not a URL", pkg + "source:\n  url: [https://ok.example/a.tgz, example.com/a.tgz]\n  sha256: " + sha + "\n", "", 3, "source[0].url[1]", `"example.com/a.tgz" is not a URL`},
		{"url without a file name", pkg + "source:\n  url: https://x.example/dl/..\n  sha256: " + sha + "\n", "", 3, "source[0].url", "does not end in a file name; set file_name:"},
		{"url of a host", pkg + "source:\n  url: https://x.example\n  sha256: " + sha + "\n", "", 3, "source[0].url", "does not end in a file name"},
		{"url of a folder", pkg + "source:\n  url: https://x.example/dl/\n  sha256: " + sha + "\n", "", 3, "source[0].url", "does not end in a file name"},
		{"file_name with a slash", pkg + "source:\n  url: https://x.example/a.tgz\n  sha256: " + sha + "\n  file_name: ../a.tgz\n", "", 5, "source[0].file_name", "must be a plain file name"},
		{"file_name dot dot", pkg + "source:\n  url: https://x.example/a.tgz\n  sha256: " + sha + "\n  file_name: ..\n", "", 5, "source[0].file_name", "must be a plain file name"},
		{"source with url and path", pkg + "source:\n  url: https://x.example/a.tgz\n  sha256: " + sha + "\n  path: p\n", "", 3, "source[0]", "has both url: and path:"},
		{"source with neither", pkg + "source:\n  sha256: " + sha + "\n", "", 3, "source[0]", "missing url: or path:"},
		{"source not a mapping", pkg + "source: [a]\n", "", 2, "source[0]", `expected a mapping, got "a"`},
		{"git source", pkg + "source:\n  git:\n    url: https://x.example/r.git\n", "", 3, "source[0].git", "git sources are not supported"},
		{"patch outside the recipe folder", pkg + "source:\n  path: p\n  patches:\n    - ../fix.patch\n", "", 5, "source[0].patches[0]", "leaves the prefix"},
		// what condachan does not do
		{"multi-output recipe", pkg + "outputs:\n  - package:\n      name: b\n", "", 2, "outputs", "multi-output recipes are not supported: write one recipe per package"},
		{"multi-output recipe key", "recipe:\n  name: a\n" + pkg, "", 1, "recipe", "multi-output recipes are not supported"},
		{"cache output", pkg + "cache:\n  build: {}\n", "", 2, "cache", "multi-output recipes are not supported"},
		{"requirements.host", pkg + "requirements:\n  host:\n    - python\n", "", 3, "requirements.host", "condachan makes no host environment"},
		{"requirements.build without a script", pkg + "requirements:\n  build: [make]\n", "", 3, "requirements.build", "build requirements are tools for a build script, and this recipe has none"},
		{"requirements.host by selector", pkg + "requirements:\n  host:\n    - if: linux\n      then: patchelf\n", "", 3, "requirements.host", "makes no host environment"},
		{"run spec empty", pkg + "requirements:\n  run:\n    - a\n    - ''\n", "", 5, "requirements.run[1]", `match spec "": empty`},
		{"run spec too long", pkg + "requirements:\n  run:\n    - a 1 b c\n", "", 4, "requirements.run[0]", "expected `name [version [build]]`"},
		{"run spec no name", pkg + "requirements:\n  run:\n    - '>=1'\n", "", 4, "requirements.run[0]", "no package name"},
		{"run spec with a channel", pkg + "requirements:\n  run:\n    - python\n    - somechannel::studio-tools\n", "", 5, "requirements.run[1]",
			`match spec "somechannel::studio-tools": names the channel or subdir "somechannel"`},
		{"run_constraints spec with a subdir", pkg + "requirements:\n  run_constraints:\n    - chan/linux-64::studio-tools >=2\n", "", 4, "requirements.run_constraints[0]",
			`write "studio-tools >=2"`},
		{"run_exports spec with md5", pkg + "requirements:\n  run_exports:\n    strong:\n      - a[md5=0123456789abcdef0123456789abcdef]\n", "", 5, "requirements.run_exports.strong[0]",
			"[md5=...] cannot be written"},
		{"run spec by selector with a channel", pkg + "requirements:\n  run:\n    - if: linux\n      then: [\"c::x\"]\n", "", 5, "requirements.run[0]", "names the channel"},
		{"run spec glob name", pkg + "requirements:\n  run:\n    - 'py*'\n", "", 4, "requirements.run[0]", "is a pattern"},
		{"run spec unbalanced", pkg + "requirements:\n  run:\n    - \"a[version='>=1]\"\n", "", 4, "requirements.run[0]", "unbalanced quotes"},
		// skip
		{"skipped", pkg + "build:\n  skip: linux\n", "", 3, "build.skip", "the recipe skips target platform linux-64 (linux)"},
		{"skipped by a list item", pkg + "build:\n  skip:\n    - win\n    - unix\n", "", 5, "build.skip", "the recipe skips target platform linux-64 (unix)"},
		{"skipped only for its platform", pkg + "build:\n  skip: [win]\n", "win-64", 3, "build.skip", "skips target platform win-64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			platform := tt.platform
			if platform == "" {
				platform = "linux-64"
			}
			r, err := Parse("dir/recipe.yaml", []byte(tt.src), nil, platform)
			if err == nil {
				t.Fatalf("Parse succeeded (%+v), want an error %q\nrecipe:\n%s", r.Package, tt.want, tt.src)
			}
			if r != nil {
				t.Errorf("Parse returned a recipe with its error")
			}
			if !strings.HasPrefix(err.Error(), "dir/recipe.yaml") {
				t.Errorf("error does not start with the file name: %v", err)
			}
			for _, e := range errorEntries(err) {
				if e.Line == tt.line && e.Field == tt.field && strings.Contains(e.Msg, tt.want) {
					return
				}
			}
			t.Errorf("no error at line %d, field %q, containing %q; got:\n%v\nrecipe:\n%s", tt.line, tt.field, tt.want, err, tt.src)
		})
	}
}

// errorEntries flattens what Parse returns.
func errorEntries(err error) []*Error {
	var list ErrorList
	var one *Error
	switch {
	case errors.As(err, &list):
		return list
	case errors.As(err, &one):
		return []*Error{one}
	}
	return nil
}

func TestParseReportsEveryProblem(t *testing.T) {
	src := `abuot: x
package:
  name: X
build:
  number: abc
  links:
    - path: /a
      target: b
about:
  home: h
  dev_url: d
  doc_url: u
  summary: [a]
  license: [b]
`
	want := `r.yaml:1: abuot: unknown key; did you mean "about"? (allowed here: schema_version, context, package, source, build, requirements, tests, about, extra)
r.yaml:3: package.name: "X" is not a valid conda package name (lower-case letters, digits, '.', '_' and '-')
r.yaml:3: package.version: missing required field
r.yaml:5: build.number: expected an integer, got "abc"
r.yaml:7: build.links[0].path: "/a" is absolute; use a path relative to the prefix
r.yaml:10: about.home: this is the old meta.yaml name; v1 recipes use homepage:
r.yaml:11: about.dev_url: this is the old meta.yaml name; v1 recipes use repository:
r.yaml:12: about.doc_url: this is the old meta.yaml name; v1 recipes use documentation:
r.yaml:14: about.license: expected a string, got a list
r.yaml:13: about.summary: expected a string, got a list`
	for i := 0; i < 20; i++ { // the order does not depend on map iteration
		_, err := Parse("r.yaml", []byte(src), nil, "linux-64")
		if err == nil || err.Error() != want {
			t.Fatalf("error:\n%v\nwant:\n%s", err, want)
		}
	}
}

func TestParseErrorLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString(pkg + "requirements:\n  run:\n")
	for i := 0; i < 100; i++ {
		b.WriteString("    - if: nope\n      then: a\n")
	}
	_, err := Parse("r.yaml", []byte(b.String()), nil, "linux-64")
	if n := len(errorEntries(err)); n != 20 {
		t.Errorf("%d errors, want the first 20", n)
	}
}

func TestParseUnknownPlatform(t *testing.T) {
	if _, err := Parse("r.yaml", []byte(pkg), nil, "amiga-68k"); err == nil || !strings.Contains(err.Error(), `unknown target platform "amiga-68k" (known: linux-64,`) {
		t.Errorf("error = %v", err)
	}
}

// fuzzSeeds are recipes that reach most of the parser.
var fuzzSeeds = []string{
	pkg,
	"context:\n  v: \"1.2.3\"\n  mm: ${{ (v | split('.'))[:2] | join('.') }}\npackage:\n  name: a\n  version: ${{ v }}\nsource:\n  - if: linux\n    then:\n      url: https://x.example/a-${{ v }}.tgz\n      sha256: " + sha + "\n  - if: win\n    then: {path: p}\n",
	pkg + "build:\n  skip: [osx]\n  files:\n    - {from: a, to: b, include: ['*'], exclude: [x], executable: ['bin/*']}\n  links:\n    - if: unix\n      then:\n        - {path: bin/a, target: ../b/a}\n  activation:\n    env:\n      - A: $CONDA_PREFIX/b\n      - if: win\n        then: {B: ${A}/c}\n    path_prepend:\n      - if: win\n        then: b\n",
	pkg + "requirements:\n  run: [a >=1, \"b 2.* *_0\"]\n  run_exports: {weak: [a]}\ntests:\n  - script: [a]\nabout:\n  license: MIT\n  license_file: LICENSE\nextra: {a: [1, {b: c}]}\n",
	"package: &p\n  name: a\n  version: *p\n",
	"a: &a [x, x]\nb: &b [*a, *a]\nextra: {c: [*b, *b]}\n" + pkg,
	pkg + "outputs: []\nbuild:\n  script: x\n",
	"package:\n  name: a\n  version: [1\n",
	// script recipes and the rattler-build keys around them
	pkg + "build:\n  script:\n    - if: unix\n      then: bash $RECIPE_DIR/build.sh\n    - echo ${{ PREFIX }}\n  prefix_detection:\n    ignore_binary_files: true\n    ignore: [etc/**]\n    force_file_type: {text: ['*.cfg'], binary: ['*.dat']}\n  dynamic_linking:\n    binary_relocation: false\n    missing_dso_allowlist: ['**']\nrequirements:\n  build: [patchelf, m2-patch]\n",
	pkg + "build:\n  script:\n    interpreter: powershell\n    env: {A: b}\n    secrets: [S]\n    content: [x, y]\n    cwd: opt\n  files:\n    include: [opt/]\n    exclude: ['**/*.la']\n  always_copy_files: [bin/*]\n  post_process:\n    - {files: ['*.txt'], regex: 'a(b)', replacement: '$1'}\n",
	pkg + "source:\n  path: p\n  patches: [fix.patch]\ntests:\n  - script: [a]\n    requirements: {run: [b]}\n  - package_contents: {files: {exists: [a], not_exists: [b]}, bin: [c], strict: true}\n  - python: {imports: [x]}\n",
	"context:\n  s: ${{ env.get('STUDIO', default='x') }}\n" + pkg + "build:\n  skip: not (linux64 or win64) and env.exists('X')\n",
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"blender-4.1", "condachan-example"} {
		data, err := os.ReadFile(filepath.Join(recipesDir(f), name, FileName))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	const file = "fuzz/recipe.yaml"
	// a recipe folder with the script files and patches the seeds name
	folder := fstest.MapFS{
		"build.sh": {Data: []byte("true\n")}, "build.bat": {Data: []byte("rem\n")},
		"fix.patch": {Data: []byte("--- a/x\n")}, "p/a": {Data: []byte("a")},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, platform := range []string{"linux-64", "win-64"} {
			r, err := Parse(file, data, folder, platform)
			if err != nil {
				if r != nil {
					t.Fatalf("%s: Parse returned a recipe and an error", platform)
				}
				if !strings.HasPrefix(err.Error(), file) {
					t.Fatalf("%s: error does not start with the file name: %v", platform, err)
				}
				continue
			}
			if r == nil {
				t.Fatalf("%s: Parse returned neither a recipe nor an error", platform)
			}
			// what the rest of condachan relies on
			if !nameRe.MatchString(r.Package.Name) || !versionRe.MatchString(r.Package.Version) || !buildRe.MatchString(r.BuildString()) {
				t.Fatalf("%s: accepted an invalid file name %q", platform, r.FileName())
			}
			if _, err := json.Marshal(r.Extra); err != nil {
				t.Fatalf("%s: extra is not JSON: %v", platform, err)
			}
			if _, err := json.Marshal(r.Tests); err != nil {
				t.Fatalf("%s: tests are not JSON: %v", platform, err)
			}
			for _, s := range r.Sources {
				if len(s.URLs) > 0 && (s.SHA256 == "" || !plainFileName(s.ArchiveName())) {
					t.Fatalf("%s: accepted source %+v", platform, s)
				}
			}
			for _, l := range r.Build.Links {
				if checkRelPath(l.Path, false) != nil || checkRelPath(path.Join(path.Dir(l.Path), l.Target), true) != nil {
					t.Fatalf("%s: accepted link %+v", platform, l)
				}
			}
			for _, e := range r.Build.Activation.Env {
				if checkEnvRefs(e.Value) != nil || CheckEnvValue(e.Value) != nil {
					t.Fatalf("%s: accepted activation value %q", platform, e.Value)
				}
			}
			for _, p := range r.Build.Activation.PathPrepend {
				if CheckPathEntry(p) != nil {
					t.Fatalf("%s: accepted path_prepend entry %q", platform, p)
				}
			}
			// what the build relies on for scripts
			s := r.Build.Script
			if !s.Empty() {
				switch s.Interpreter {
				case Bash, Cmd, PowerShell:
				default:
					t.Fatalf("%s: accepted interpreter %q", platform, s.Interpreter)
				}
				for _, c := range s.Content {
					if strings.Contains(c, "{%") || strings.Contains(c, "{#") {
						t.Fatalf("%s: accepted a Jinja block in %q", platform, c)
					}
				}
				if s.File != "" {
					if _, err := fs.Stat(folder, s.File); err != nil {
						t.Fatalf("%s: accepted a script file that is not in the folder: %q", platform, s.File)
					}
				}
			}
			for _, src := range r.Sources {
				for _, p := range src.Patches {
					if checkRelPath(p, false) != nil {
						t.Fatalf("%s: accepted patch %q", platform, p)
					}
				}
			}
			for _, req := range r.Requirements.Build {
				if req.Name == "" || !nameRe.MatchString(req.Name) {
					t.Fatalf("%s: accepted build requirement %+v", platform, req)
				}
			}
		}
	})
}
