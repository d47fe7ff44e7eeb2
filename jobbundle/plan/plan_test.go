package plan

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/condachan/condachan/internal/testkit"
	"github.com/condachan/condachan/jobbundle"
	"github.com/condachan/condachan/jobbundle/submitmeta"
	"github.com/condachan/condachan/pkgbuild"
	"github.com/condachan/condachan/pkgbuild/recipe"
)

// catalogue writes a recipe folder in the sample catalogue's layout (see
// testkit.CatalogueRecipe) and returns its recipe folder and the archives.
func catalogue(t *testing.T, dcYAML string) (string, map[string][]byte) {
	t.Helper()
	dir, archives := testkit.CatalogueRecipe(t, dcYAML)
	return filepath.Join(dir, "recipe"), archives
}

// sampleDeadlineYAML is in the form of the sample catalogue's files.
const sampleDeadlineYAML = testkit.SampleDeadlineYAML

func loadMeta(t *testing.T, recipeDir string) *Meta {
	t.Helper()
	meta, err := LoadMeta(recipeDir)
	if err != nil || meta == nil {
		t.Fatalf("LoadMeta(%s) = %v, %v", recipeDir, meta, err)
	}
	return meta
}

func entry(t *testing.T, meta *Meta, name string) *submitmeta.Platform {
	t.Helper()
	e, ok := meta.File.Platform(name)
	if !ok {
		t.Fatalf("no entry %s", name)
	}
	return e
}

// noFlag checks what every error of the package promises: no command-line flag in the
// message, and a message written with other names for its fields when it has fields.
func noFlag(t *testing.T, err error) {
	t.Helper()
	if strings.Contains(err.Error(), "--") {
		t.Errorf("the error names a flag: %v", err)
	}
	var fe FieldError
	if errors.As(err, &fe) {
		if got := fe.Message(nil); got != fe.Error() {
			t.Errorf("Message(nil) = %q, Error() = %q", got, fe.Error())
		}
		named := fe.Message(func(f Field) string { return "<" + string(f) + ">" })
		if !strings.Contains(named, "<") {
			t.Errorf("Message does not name its fields as asked: %q", named)
		}
	}
}

func TestLoadMetaAndSelectPlatforms(t *testing.T) {
	recipeDir, _ := catalogue(t, sampleDeadlineYAML)
	meta := loadMeta(t, recipeDir)
	if meta.Dir != filepath.Dir(recipeDir) {
		t.Errorf("Dir = %s, want %s", meta.Dir, filepath.Dir(recipeDir))
	}
	entries, err := meta.SelectPlatforms(nil, false, false)
	if err != nil || len(entries) != 2 || entries[0].Name() != "linux-64" || entries[1].Name() != "win-64" {
		t.Fatalf("default selection %v, %v", entries, err)
	}
	if entries, err := meta.SelectPlatforms([]string{"win-64"}, false, true); err != nil || len(entries) != 1 {
		t.Errorf("win-64 with an archive: %v, %v", entries, err)
	}

	yamlPath := filepath.Join(filepath.Dir(recipeDir), "deadline-cloud.yaml")
	_, err = meta.SelectPlatforms([]string{"linux-64-py311"}, false, false)
	var se *submitmeta.Error
	if !errors.Is(err, ErrInput) || !errors.As(err, &se) {
		t.Fatalf("variant: %v", err)
	}
	for _, w := range []string{yamlPath + ":22: platform linux-64-py311 cannot be built by condachan", "line 23: variant: condachan builds no variants", "line 25: variantConfig:"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("variant: %q lacks %q", err, w)
		}
	}

	_, err = meta.SelectPlatforms([]string{"osx-arm64"}, false, false)
	var sel *SelectError
	if !errors.As(err, &sel) || !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), `has no platform "osx-arm64" (it has: linux-64, win-64, linux-64-py311)`) {
		t.Fatalf("unknown platform: %v", err)
	}
	noFlag(t, err)
	if got := sel.Message(func(f Field) string {
		return map[Field]string{FieldPlatform: "--conda-platform", FieldAllPlatforms: "--all-platforms"}[f]
	}); !strings.HasSuffix(got, "(--conda-platform NAME, or --all-platforms)") {
		t.Errorf("named: %s", got)
	}

	_, err = meta.SelectPlatforms(nil, false, true)
	var one *OnePlatformError
	if !errors.As(err, &one) || strings.Join(one.Platforms, " ") != "linux-64 win-64" {
		t.Fatalf("archives with two platforms: %v", err)
	}
	noFlag(t, err)
	if got := one.Message(func(f Field) string {
		return map[Field]string{FieldSourceArchive: "--source-archive", FieldPlatform: "--conda-platform"}[f]
	}); got != "--source-archive goes with one platform, and 2 are selected (linux-64, win-64): pick one with --conda-platform" {
		t.Errorf("named: %s", got)
	}

	// A folder without one has none; an unknown key is refused by line.
	plain := t.TempDir()
	testkit.WriteFile(t, plain, "recipe.yaml", []byte("package: {name: x, version: '1'}\n"))
	if m, err := LoadMeta(plain); m != nil || err != nil {
		t.Errorf("no deadline-cloud.yaml: %v, %v", m, err)
	}
	if err := os.WriteFile(yamlPath, []byte(strings.Replace(sampleDeadlineYAML, "    buildTool: rattler-build\n  - platform: win-64", "    buildTol: rattler-build\n  - platform: win-64", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadMeta(recipeDir); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), yamlPath+`:16: condaPlatforms: unknown key "buildTol"`) {
		t.Errorf("unknown key: %v", err)
	}
}

func TestLoadShippedMeta(t *testing.T) {
	if m, err := LoadShippedMeta("no-such-recipe"); m != nil || err != nil {
		t.Errorf("no such recipe: %v, %v", m, err)
	}
}

// The entry's host requirements go into the job; the vCPU minimum yields to the
// caller's; what the template or the platform sets is refused by line.
func TestApplyEntry(t *testing.T) {
	recipeDir, _ := catalogue(t, sampleDeadlineYAML)
	meta := loadMeta(t, recipeDir)
	for _, callerSet := range []bool{false, true} {
		j := &Job{Values: map[string]string{}, Host: jobbundle.Host{VCPUs: 2}}
		if err := j.ApplyEntry(meta, entry(t, meta, "linux-64"), func(f Field) bool { return callerSet && f == FieldVCPUs }); err != nil {
			t.Fatal(err)
		}
		wantVCPUs := 8
		if callerSet {
			wantVCPUs = 2
		}
		if j.Host.VCPUs != wantVCPUs || len(j.Host.Amounts) != 1 || j.Host.Amounts[0].Name != "amount.worker.gpu" || *j.Host.Amounts[0].Min != 1 ||
			len(j.Host.Attributes) != 1 || j.Host.Attributes[0].Name != "attr.custom.renderlicense" || strings.Join(j.Host.Attributes[0].AnyOf, ",") != "studioapp" {
			t.Errorf("caller set vCPUs %v: host %+v", callerSet, j.Host)
		}
	}
	j := &Job{Values: map[string]string{}}
	if err := j.ApplyEntry(meta, entry(t, meta, "win-64"), nil); err != nil || len(j.Host.Amounts) != 0 || len(j.Host.Attributes) != 0 {
		t.Errorf("win-64 took linux-64's requirements: %+v, %v", j.Host, err)
	}

	yamlPath := filepath.Join(filepath.Dir(recipeDir), "deadline-cloud.yaml")
	for _, tc := range []struct {
		name, yaml string
		want       string
		named      string
	}{
		{"os attribute", strings.Replace(sampleDeadlineYAML, "attr.custom.renderlicense", "attr.worker.os.family", 1),
			yamlPath + ":14: attr.worker.os.family comes from the platform (linux-64) and the worker OS / the worker CPU: remove it",
			yamlPath + ":14: attr.worker.os.family comes from the platform (linux-64) and --worker-os / --worker-arch: remove it"},
		{"vcpu max", strings.Replace(sampleDeadlineYAML, "          min: 8", "          min: 8\n          max: 16", 1),
			"amount.worker.vcpu: condachan takes a whole minimum only (no max): it is what the job's vCPU minimum sets",
			"amount.worker.vcpu: condachan takes a whole minimum only (no max): it is what --vcpus sets"},
		{"vcpu fraction", strings.Replace(sampleDeadlineYAML, "          min: 8", "          min: 8.5", 1),
			"amount.worker.vcpu: condachan takes a whole minimum only", "it is what --vcpus sets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(yamlPath, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			meta := loadMeta(t, recipeDir)
			err := (&Job{Values: map[string]string{}}).ApplyEntry(meta, entry(t, meta, "linux-64"), nil)
			if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			noFlag(t, err)
			var fe FieldError
			errors.As(err, &fe)
			flags := map[Field]string{FieldVCPUs: "--vcpus", FieldMemory: "--memory-mib", FieldWorkerOS: "--worker-os", FieldWorkerArch: "--worker-arch"}
			if got := fe.Message(func(f Field) string { return flags[f] }); !strings.Contains(got, tc.named) {
				t.Errorf("named: %q lacks %q", got, tc.named)
			}
		})
	}
}

func TestApplyJobParameters(t *testing.T) {
	recipeDir, _ := catalogue(t, sampleDeadlineYAML)
	meta := loadMeta(t, recipeDir)
	r, err := recipe.LoadDir(recipeDir, "linux-64")
	if err != nil {
		t.Fatal(err)
	}
	j := &Job{Values: map[string]string{}, Recipe: r}
	if err := j.ApplyJobParameters(meta, nil); err != nil {
		t.Fatal(err)
	}
	if j.Values["CondaChannels"] != "conda-forge" || j.Values["CondaPackages"] != "patchelf>=0.17" {
		t.Errorf("values %v", j.Values)
	}

	yamlPath := filepath.Join(filepath.Dir(recipeDir), "deadline-cloud.yaml")
	write := func(params string) *Meta {
		t.Helper()
		if err := os.WriteFile(yamlPath, []byte(strings.Replace(sampleDeadlineYAML, "  - name: CondaChannels\n    value: conda-forge\n", params, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		return loadMeta(t, recipeDir)
	}
	// What the caller set itself wins.
	meta = write("  - name: Compression\n    value: max\n  - name: BuildNumber\n    value: '7'\n")
	j = &Job{Values: map[string]string{"Compression": "fast"}, Recipe: r}
	if err := j.ApplyJobParameters(meta, func(p string) bool { return p == "Compression" }); err != nil || j.Values["Compression"] != "fast" || j.Values["BuildNumber"] != "7" {
		t.Errorf("values %v, %v", j.Values, err)
	}
	meta = write("  - name: RecipeName\n    value: x\n")
	err = (&Job{Values: map[string]string{}}).ApplyJobParameters(meta, nil)
	if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), yamlPath+":29: jobParameters: condachan's build job has no parameter RecipeName it takes from here (it takes: BuildNumber, Compression, CondaChannels, CondaPackages, S3EndpointURL)") {
		t.Errorf("unknown parameter: %v", err)
	}
	meta = write("  - name: BuildNumber\n    value: next\n")
	if err := (&Job{Values: map[string]string{}}).ApplyJobParameters(meta, nil); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), `jobParameters: BuildNumber "next": expected auto, a number, or empty`) {
		t.Errorf("bad build number: %v", err)
	}
}

func TestCondaCLISpec(t *testing.T) {
	for spec, want := range map[string]string{
		"patchelf":            "patchelf",
		"patchelf >=0.17":     "patchelf>=0.17",
		"patchelf >=0.17,<1":  "patchelf>=0.17,<1",
		"p7zip 16.02 h1234_0": "p7zip=16.02=h1234_0",
		"p7zip 16.02":         "p7zip=16.02",
		"  ":                  "",
	} {
		if got := CondaCLISpec(spec); got != want {
			t.Errorf("CondaCLISpec(%q) = %q, want %q", spec, got, want)
		}
	}
}

func TestBuildNumbers(t *testing.T) {
	for _, v := range []string{"", "auto", "0", "12"} {
		if err := CheckBuildNumber(v); err != nil {
			t.Errorf("%q: %v", v, err)
		}
	}
	for _, v := range []string{"-1", "next", "1.5"} {
		err := CheckBuildNumber(v)
		var be *BuildNumberError
		if !errors.As(err, &be) || be.Value != v || !errors.Is(err, ErrInput) {
			t.Errorf("%q: %v", v, err)
			continue
		}
		noFlag(t, err)
		if got := be.Message(func(Field) string { return "--build-number" }); !strings.HasPrefix(got, `--build-number "`+v+`"`) || !strings.Contains(got, "auto, a number of 0 or more") {
			t.Errorf("named: %s", got)
		}
	}

	// A recipe with build.string keeps its number unless one is given, which is refused.
	pinned := &recipe.Recipe{File: "pinned/recipe.yaml"}
	pinned.Build.String = "py_4"
	plain := &recipe.Recipe{File: "plain/recipe.yaml"}
	for _, c := range []struct {
		r            *recipe.Recipe
		value        string
		given        bool
		want         string
		refused      bool
		wantMessages []string
	}{
		{r: pinned, value: "auto", want: ""},
		{r: pinned, value: "", given: true, want: ""},
		{r: plain, value: "auto", want: "auto"},
		{r: plain, value: "12", given: true, want: "12"},
		{r: pinned, value: "auto", given: true, refused: true, wantMessages: []string{"--build-number auto", "build.string (py_4)"}},
		{r: pinned, value: "5", given: true, refused: true, wantMessages: []string{"--build-number 5", "build.string"}},
	} {
		got, err := BuildNumber(c.r, c.value, c.given)
		if !c.refused {
			if err != nil || got != c.want {
				t.Errorf("%+v: %q, %v", c, got, err)
			}
			continue
		}
		var oe *BuildNumberOverrideError
		var conflict *pkgbuild.BuildStringConflictError
		if !errors.As(err, &oe) || !errors.As(err, &conflict) || !errors.Is(err, ErrInput) {
			t.Errorf("%+v: %v", c, err)
			continue
		}
		noFlag(t, err)
		named := oe.Message(func(Field) string { return "--build-number" })
		for _, w := range c.wantMessages {
			if !strings.Contains(named, w) {
				t.Errorf("%q lacks %q", named, w)
			}
		}
	}
}

func TestCheckParameter(t *testing.T) {
	if err := CheckParameter(jobbundle.Build, jobbundle.ParamCompression, "max"); err != nil {
		t.Error(err)
	}
	if err := CheckParameter(jobbundle.Build, jobbundle.ParamCompression, "extreme"); !errors.Is(err, ErrInput) {
		t.Errorf("extreme: %v", err)
	}
	if err := CheckParameter(jobbundle.Build, "NoSuchParameter", "x"); err == nil || errors.Is(err, ErrInput) {
		t.Errorf("no such parameter: %v", err)
	}
}
