package recipe

import (
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

// scriptFolder is a recipe folder with the script files rattler-build recipes keep
// beside recipe.yaml.
func scriptFolder(files ...string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for _, f := range files {
		fsys[f] = &fstest.MapFile{Data: []byte("echo " + f + "\n")}
	}
	return fsys
}

func parseIn(t *testing.T, src string, folder fstest.MapFS, platform string) (*Recipe, error) {
	t.Helper()
	return Parse("dir/recipe.yaml", []byte(src), folder, platform)
}

func TestScriptRecipes(t *testing.T) {
	tests := []struct {
		name     string
		platform string
		folder   fstest.MapFS
		src      string
		want     Script
		check    func(t *testing.T, r *Recipe)
	}{
		{
			name:   "build.sh beside recipe.yaml is the script on unix",
			folder: scriptFolder("build.sh", "build.bat"),
			src:    pkg,
			want:   Script{File: "build.sh", Interpreter: Bash},
		},
		{
			name:     "build.bat beside recipe.yaml is the script on Windows",
			platform: "win-64",
			folder:   scriptFolder("build.sh", "build.bat"),
			src:      pkg,
			want:     Script{File: "build.bat", Interpreter: Cmd},
		},
		{
			name:     "build.ps1 when there is no build.bat",
			platform: "win-64",
			folder:   scriptFolder("build.sh", "build.ps1"),
			src:      pkg + "build:\n  number: 1\n",
			want:     Script{File: "build.ps1", Interpreter: PowerShell},
		},
		{
			name:     "a Windows package of a recipe with only build.sh has no script",
			platform: "win-64",
			folder:   scriptFolder("build.sh"),
			src:      pkg,
			want:     Script{},
		},
		{
			name:   "a list of commands keeps ${{ }} for the build to render",
			folder: scriptFolder("build.sh"),
			src:    pkg + "build:\n  script:\n    - mkdir -p ${{ PREFIX }}/bin\n    - if: linux\n      then: cp a $PREFIX/bin\n    - if: win\n      then: copy a %PREFIX%\n",
			want:   Script{Line: 3, Content: []string{"mkdir -p ${{ PREFIX }}/bin", "cp a $PREFIX/bin"}, Interpreter: Bash},
		},
		{
			name:   "one line naming a script file is that file",
			folder: scriptFolder("install_app.sh"),
			src:    pkg + "build:\n  script: install_app\n",
			want:   Script{Line: 3, File: "install_app.sh", Interpreter: Bash},
		},
		{
			name:   "one line that names no file is a command",
			folder: scriptFolder(),
			src:    pkg + "build:\n  script: make install\n",
			want:   Script{Line: 3, Content: []string{"make install"}, Interpreter: Bash},
		},
		{
			name:     "inline commands on Windows run with cmd.exe",
			platform: "win-64",
			src:      pkg + "build:\n  script:\n    - robocopy . %PREFIX% /E\n",
			want:     Script{Line: 3, Content: []string{"robocopy . %PREFIX% /E"}, Interpreter: Cmd},
		},
		{
			name:   "the mapping form",
			folder: scriptFolder("scripts/build.sh"),
			src: pkg + `context:
  v: x
build:
  script:
    file: scripts/build.sh
    env:
      APP_VERSION: ${{ v }}
      EMPTY:
    secrets: [LICENSE_KEY]
    cwd: opt
`,
			want: Script{Line: 5, File: "scripts/build.sh", Interpreter: Bash, Env: []EnvVar{{8, "APP_VERSION", "x"}, {9, "EMPTY", ""}}, Secrets: []string{"LICENSE_KEY"}, Cwd: "opt"},
		},
		{
			name:     "content with an interpreter",
			platform: "win-64",
			src:      pkg + "build:\n  script:\n    interpreter: powershell\n    content: |\n      Copy-Item a $Env:PREFIX\n",
			want:     Script{Line: 3, Content: []string{"Copy-Item a $Env:PREFIX\n"}, Interpreter: PowerShell},
		},
		{
			name: "rattler-build keys are read",
			src: pkg + `build:
  script: [true]
  files:
    include: [opt/, bin/*]
    exclude: [opt/app/docs]
  always_include_files: [etc/app.conf]
  always_copy_files: false
  merge_build_and_host_envs: true
  prefix_detection:
    ignore_binary_files: true
    ignore: [opt/app/licenses/**]
    force_file_type:
      text: [share/*.cfg]
      binary: [lib/*.dat]
  dynamic_linking:
    binary_relocation: false
    missing_dso_allowlist: ["**"]
    rpath_allowlist: [/opt/**]
    rpaths: [lib/, opt/app/lib]
    overlinking_behavior: error
  post_process:
    - files: ["*.cfg"]
      regex: 'root=(.*)'
      replacement: root=$1
  variant: {}
requirements:
  build:
    - patchelf >=0.17
    - conda-forge::bc
    - Make>=4
`,
			want: Script{Line: 3, Content: []string{"true"}, Interpreter: Bash},
			check: func(t *testing.T, r *Recipe) {
				b := r.Build
				if !reflect.DeepEqual(b.FileGlobs, &FileGlobs{Line: 4, Include: []string{"opt/", "bin/*"}, Exclude: []string{"opt/app/docs"}}) {
					t.Errorf("FileGlobs = %+v", b.FileGlobs)
				}
				if !reflect.DeepEqual(b.AlwaysIncludeFiles, []string{"etc/app.conf"}) || b.AlwaysCopyFiles != nil || !b.MergeBuildAndHostEnvs {
					t.Errorf("always_* = %v %v, merge = %v", b.AlwaysIncludeFiles, b.AlwaysCopyFiles, b.MergeBuildAndHostEnvs)
				}
				wantPD := PrefixDetection{IgnoreBinaryFiles: true, IgnoreGlobs: []string{"opt/app/licenses/**"}, ForceText: []string{"share/*.cfg"}, ForceBinary: []string{"lib/*.dat"}}
				if !reflect.DeepEqual(b.PrefixDetection, wantPD) {
					t.Errorf("PrefixDetection = %+v", b.PrefixDetection)
				}
				dl := b.DynamicLinking
				if dl.BinaryRelocation || !dl.RelocationSet || !dl.OverlinkingError || !reflect.DeepEqual(dl.MissingDSOAllowlist, []string{"**"}) || len(dl.Rpaths) != 2 {
					t.Errorf("DynamicLinking = %+v", dl)
				}
				if !reflect.DeepEqual(b.PostProcess, []PostProcess{{Line: 23, Files: []string{"*.cfg"}, Regex: "root=(.*)", Replacement: "root=$1"}}) {
					t.Errorf("PostProcess = %+v", b.PostProcess)
				}
				want := []Requirement{{29, "patchelf >=0.17", "patchelf"}, {30, "conda-forge::bc", "bc"}, {31, "make >=4", "make"}}
				if !reflect.DeepEqual(r.Requirements.Build, want) {
					t.Errorf("Requirements.Build = %+v", r.Requirements.Build)
				}
			},
		},
		{
			name:   "binary relocation is on by default for script recipes, as in rattler-build",
			folder: scriptFolder("build.sh"),
			src:    pkg + "build:\n  files: [bin/app]\n",
			want:   Script{File: "build.sh", Interpreter: Bash},
			check: func(t *testing.T, r *Recipe) {
				if !r.Build.DynamicLinking.BinaryRelocation || !reflect.DeepEqual(r.Build.FileGlobs.Include, []string{"bin/app"}) {
					t.Errorf("DynamicLinking = %+v, FileGlobs = %+v", r.Build.DynamicLinking, r.Build.FileGlobs)
				}
			},
		},
		{
			name:   "binary relocation stays off for declarative recipes",
			folder: scriptFolder(),
			src:    pkg,
			check: func(t *testing.T, r *Recipe) {
				if r.Build.DynamicLinking.BinaryRelocation {
					t.Error("BinaryRelocation on for a recipe without a script")
				}
			},
		},
		{
			name: "patches and tests",
			folder: fstest.MapFS{
				"fix.patch":   {Data: []byte("--- a/x\n+++ b/x\n")},
				"p/README.md": {Data: []byte("x")},
			},
			src: pkg + `source:
  path: p
  patches: [fix.patch, ./fix.patch]
build:
  script: [true]
tests:
  - script:
      - app --version
    requirements:
      run: [bash]
  - package_contents:
      bin: [app]
      files:
        exists: [opt/app/*]
        not_exists: [opt/app/docs/**]
      strict: true
  - python:
      imports: [app]
  - if: win
    then:
      script: [app.exe --version]
`,
			want: Script{Line: 6, Content: []string{"true"}, Interpreter: Bash},
			check: func(t *testing.T, r *Recipe) {
				if !reflect.DeepEqual(r.Sources[0].Patches, []string{"fix.patch", "fix.patch"}) {
					t.Errorf("Patches = %q", r.Sources[0].Patches)
				}
				if len(r.TestSpecs) != 3 || len(r.Tests) != 3 {
					t.Fatalf("TestSpecs = %+v", r.TestSpecs)
				}
				s := r.TestSpecs[0]
				if s.Kind != "script" || !reflect.DeepEqual(s.Script.Content, []string{"app --version"}) || s.Requirements[0].Name != "bash" {
					t.Errorf("tests[0] = %+v", s)
				}
				pc := r.TestSpecs[1]
				want := PackageContents{Bin: ContentGlobs{Exists: []string{"app"}}, Files: ContentGlobs{Exists: []string{"opt/app/*"}, NotExists: []string{"opt/app/docs/**"}}, Strict: true}
				if pc.Kind != "package_contents" || !reflect.DeepEqual(pc.Contents, want) {
					t.Errorf("tests[1] = %+v", pc)
				}
				if r.TestSpecs[2].Kind != "python" {
					t.Errorf("tests[2] = %+v", r.TestSpecs[2])
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			platform := tt.platform
			if platform == "" {
				platform = "linux-64"
			}
			folder := tt.folder
			if folder == nil {
				folder = scriptFolder()
			}
			r, err := parseIn(t, tt.src, folder, platform)
			if err != nil {
				t.Fatalf("Parse: %v\nrecipe:\n%s", err, tt.src)
			}
			if !reflect.DeepEqual(r.Build.Script, tt.want) {
				t.Errorf("Script = %+v\nwant     %+v", r.Build.Script, tt.want)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestScriptRecipeErrors(t *testing.T) {
	const script = "build:\n  script: [true]\n"
	tests := []struct {
		name   string
		folder fstest.MapFS
		src    string
		line   int
		field  string
		want   string
	}{
		{"python interpreter", nil, pkg + "build:\n  script:\n    interpreter: python\n    content: print(1)\n", 4, "build.script.interpreter", "condachan runs scripts with bash, cmd or powershell, not python"},
		{"pwsh", nil, pkg + "build:\n  script:\n    interpreter: pwsh\n    content: x\n", 4, "build.script.interpreter", "rattler-build calls it powershell"},
		{"unknown interpreter", nil, pkg + "build:\n  script:\n    interpreter: zsh\n    content: x\n", 4, "build.script.interpreter", `unknown interpreter "zsh"`},
		{"missing script file", nil, pkg + "build:\n  script:\n    file: install\n", 4, "build.script.file", "no script file install in the recipe folder (tried .sh)"},
		{"script file outside the folder", nil, pkg + "build:\n  script:\n    file: ../build.sh\n", 4, "build.script.file", "leaves the prefix"},
		{"python script file", scriptFolder("build.py"), pkg + "build:\n  script:\n    file: build.py\n", 4, "build.script.file", "condachan runs .sh (bash), .bat/.cmd (cmd.exe) and .ps1 (PowerShell) scripts"},
		{"file and content", scriptFolder("b.sh"), pkg + "build:\n  script:\n    file: b.sh\n    content: x\n", 3, "build.script", "has both file: and content:"},
		{"neither file nor content", nil, pkg + "build:\n  script:\n    env: {A: b}\n", 3, "build.script", "needs file: or content:"},
		{"unknown script key", nil, pkg + "build:\n  script:\n    content: x\n    shell: bash\n", 5, "build.script.shell", "unknown key (allowed here: interpreter, env, secrets, content, file, cwd)"},
		{"jinja comment in inline bash", nil, pkg + "build:\n  script:\n    - echo ${#list[@]}\n", 4, "build.script[0]", "holds {#, which rattler-build reads as Jinja"},
		{"jinja block in inline script", nil, pkg + "build:\n  script:\n    - \"{% if x %}a{% endif %}\"\n", 4, "build.script[0]", "holds {%"},
		{"bad expression in a command", nil, pkg + "build:\n  script:\n    - echo ${{ 1 + }}\n", 4, "build.script[0]", "expression ends too early"},
		{"unterminated expression", nil, pkg + "build:\n  script:\n    - echo ${{ PREFIX\n", 4, "build.script[0]", "unterminated ${{"},
		{"bad env name", nil, pkg + "build:\n  script:\n    content: x\n    env:\n      1A: b\n", 6, "build.script.env.1A", "not a valid environment variable name"},
		{"bad secret name", nil, pkg + "build:\n  script:\n    content: x\n    secrets: [a-b]\n", 5, "build.script.secrets[0]", "is not an environment variable name"},
		{"absolute cwd", nil, pkg + "build:\n  script:\n    content: x\n    cwd: /tmp\n", 5, "build.script.cwd", "is absolute"},
		{"unknown prefix_detection key", nil, pkg + script + "  prefix_detection:\n    ignore_binary_file: true\n", 5, "build.prefix_detection.ignore_binary_file", `did you mean "ignore_binary_files"?`},
		{"ignore_binary_files not a bool", nil, pkg + script + "  prefix_detection:\n    ignore_binary_files: yes please\n", 5, "build.prefix_detection.ignore_binary_files", "expected true or false"},
		{"bad force_file_type glob", nil, pkg + script + "  prefix_detection:\n    force_file_type:\n      text: [\"[ab\"]\n", 6, "build.prefix_detection.force_file_type.text[0]", "unclosed character class"},
		{"unknown dynamic_linking key", nil, pkg + script + "  dynamic_linking:\n    binary_relocations: false\n", 5, "build.dynamic_linking.binary_relocations", `did you mean "binary_relocation"?`},
		{"overlinking warn", nil, pkg + script + "  dynamic_linking:\n    binary_relocation: false\n    overlinking_behavior: warn\n", 6, "build.dynamic_linking.overlinking_behavior", "expected ignore or error"},
		{"linking checks asked for", nil, pkg + script + "  dynamic_linking:\n    overdepending_behavior: error\n", 4, "build.dynamic_linking", "asks for rattler-build's linking checks"},
		{"relocation in a declarative recipe", nil, pkg + "build:\n  dynamic_linking:\n    binary_relocation: true\n", 3, "build.dynamic_linking.binary_relocation", "never rewrites their RPATHs"},
		{"post_process without a script", nil, pkg + "build:\n  post_process:\n    - {files: [a], regex: a, replacement: b}\n", 3, "build.post_process", "this recipe has no build script"},
		{"always_include_files without a script", nil, pkg + "build:\n  always_include_files: [a]\n", 3, "build.always_include_files", "this recipe has no build script"},
		{"post_process missing regex", nil, pkg + script + "  post_process:\n    - files: [a]\n      replacement: b\n", 5, "build.post_process[0].regex", "missing required field"},
		{"post_process bad regex", nil, pkg + script + "  post_process:\n    - {files: [a], regex: '(a', replacement: b}\n", 5, "build.post_process[0].regex", "missing closing )"},
		{"variant keys", nil, pkg + script + "  variant:\n    use_keys: [cuda]\n", 4, "build.variant", "one variant"},
		{"python build keys", nil, pkg + script + "  python:\n    entry_points: [a = b:c]\n", 4, "build.python", "Python packages"},
		{"bad build requirement", nil, pkg + script + "requirements:\n  build: [\">=1\"]\n", 5, "requirements.build[0]", "no package name"},
		{"compiler() is not supported", nil, pkg + script + "requirements:\n  build:\n    - ${{ compiler('c') }}\n", 6, "requirements.build[0]", "function compiler() is not supported"},
		{"two kinds in one test", nil, pkg + "tests:\n  - script: [a]\n    python: {imports: [a]}\n", 3, "tests[0]", "this one has script and python"},
		{"test files", nil, pkg + "tests:\n  - script: [a]\n    files: {recipe: [t.py]}\n", 4, "tests[0].files", "test files are not supported"},
		{"requirements in a contents test", nil, pkg + "tests:\n  - package_contents: {files: [a]}\n    requirements: {run: [b]}\n", 4, "tests[0].requirements", "belongs to a script test"},
		{"empty test", nil, pkg + "tests:\n  - {}\n", 3, "tests[0]", "empty test"},
		{"unknown test requirements key", nil, pkg + "tests:\n  - script: [a]\n    requirements: {host: [b]}\n", 4, "tests[0].requirements.host", "unknown key (allowed here: run, build)"},
		{"bad package_contents glob", nil, pkg + "tests:\n  - package_contents:\n      files: [\"{a\"]\n", 4, "tests[0].package_contents.files[0]", "unclosed alternative"},
		{"unknown package_contents key", nil, pkg + "tests:\n  - package_contents:\n      scripts: [a]\n", 4, "tests[0].package_contents.scripts", "unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			folder := tt.folder
			if folder == nil {
				folder = scriptFolder()
			}
			r, err := parseIn(t, tt.src, folder, "linux-64")
			if err == nil {
				t.Fatalf("Parse succeeded (%+v), want an error %q\nrecipe:\n%s", r.Build.Script, tt.want, tt.src)
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

func TestLiteralJinjaWarns(t *testing.T) {
	r, err := parseIn(t, `context:
  version: "20.5.654"
package:
  name: houdini
  version: ${{ version }}
source:
  url: file://archive_files/houdini-{{ version }}-linux.tar.gz
  sha256: `+sha+`
`, scriptFolder(), "linux-64")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "dir/recipe.yaml:7:") || !strings.Contains(r.Warnings[0], "without $") {
		t.Errorf("Warnings = %q", r.Warnings)
	}
	if r.Sources[0].ArchiveName() != "houdini-{{ version }}-linux.tar.gz" {
		t.Errorf("the name was rendered: %s", r.Sources[0].ArchiveName())
	}
}

func TestLinkScriptFilesWarn(t *testing.T) {
	r, err := parseIn(t, pkg, scriptFolder("build.sh", "post-link.sh", "pre-unlink.bat"), "linux-64")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(r.Warnings, "\n")
	if !strings.Contains(got, "post-link.sh beside the recipe is not packaged (rattler-build ignores it; conda-build installed it): to ship it, copy it to $PREFIX/bin/.a-post-link.sh in the build script") ||
		!strings.Contains(got, `pre-unlink.bat beside the recipe is not packaged`) || !strings.Contains(got, `%PREFIX%\Scripts\.a-pre-unlink.bat`) {
		t.Errorf("Warnings = %q", r.Warnings)
	}
}
