package submitmeta

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

// sampleForm is a file in the form the sample catalogue writes them: a default Linux
// entry with one archive, a Windows entry built with conda-build, job parameters.
const sampleForm = `condaPlatforms:
  - platform: linux-64
    defaultSubmit: true
    sourceArchiveFilename:
    - StudioApp_2025_Linux_64bit.tgz
    sourceDownloadInstructions: 'Download StudioApp_2025_Linux_64bit.tgz from the vendor portal.'
    buildTool: rattler-build
    additionalHostRequirements:
      amounts:
        - name: amount.worker.gpu
          min: 1
      attributes:
        - name: attr.worker.os.distro
          anyOf: [rhel, rocky]
  - platform: win-64
    defaultSubmit: false
    sourceArchiveFilename: StudioApp_2025_Windows.zip
    sourceDownloadInstructions: Follow the README to build the zip.
    buildTool: conda-build
jobParameters:
  # where the sample's job gets its build tools
  - name: CondaChannels
    value: conda-forge
`

func TestParseSampleForm(t *testing.T) {
	f, err := Parse("studioapp/deadline-cloud.yaml", []byte(sampleForm))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Names(); !reflect.DeepEqual(got, []string{"linux-64", "win-64"}) {
		t.Fatalf("names %v", got)
	}
	linux := f.Platforms[0]
	if !linux.DefaultSubmit || linux.BuildTool != "rattler-build" || linux.Line != 2 {
		t.Errorf("linux entry %+v", linux)
	}
	if !reflect.DeepEqual(linux.SourceArchiveFilenames, []string{"StudioApp_2025_Linux_64bit.tgz"}) {
		t.Errorf("archives %v", linux.SourceArchiveFilenames)
	}
	if !strings.Contains(linux.SourceDownloadInstructions, "vendor portal") {
		t.Errorf("instructions %q", linux.SourceDownloadInstructions)
	}
	hr := linux.AdditionalHostRequirements
	if len(hr.Amounts) != 1 || hr.Amounts[0].Name != "amount.worker.gpu" || *hr.Amounts[0].Min != 1 || hr.Amounts[0].Max != nil {
		t.Errorf("amounts %+v", hr.Amounts)
	}
	if len(hr.Attributes) != 1 || !reflect.DeepEqual(hr.Attributes[0].AnyOf, []string{"rhel", "rocky"}) {
		t.Errorf("attributes %+v", hr.Attributes)
	}
	if got := f.Platforms[1].SourceArchiveFilenames; !reflect.DeepEqual(got, []string{"StudioApp_2025_Windows.zip"}) {
		t.Errorf("a single string is a list of one: %v", got)
	}
	if !reflect.DeepEqual(f.JobParameters, []JobParameter{{Line: 22, Name: "CondaChannels", Value: "conda-forge"}}) {
		t.Errorf("job parameters %+v", f.JobParameters)
	}
	if err := f.CheckSubmittable(&f.Platforms[0]); err != nil {
		t.Errorf("linux-64 is submittable: %v", err)
	}
	err = f.CheckSubmittable(&f.Platforms[1])
	if err == nil || !strings.Contains(err.Error(), "line 19: buildTool: this platform is built from recipe/meta.yaml") {
		t.Errorf("win-64 with conda-build: %v", err)
	}
}

func TestSelect(t *testing.T) {
	const doc = `condaPlatforms:
- {platform: linux-64, defaultSubmit: true}
- {platform: linux-64, variant: py311, defaultSubmit: false, variantConfig: {python: ["3.11"]}}
- {platform: win-64, defaultSubmit: true}
- {platform: linux-aarch64}
`
	f, err := Parse("x.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	names := func(ps []*Platform) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Name())
		}
		return out
	}
	for _, tc := range []struct {
		names []string
		all   bool
		want  []string
		err   string
	}{
		{want: []string{"linux-64", "win-64"}},
		{all: true, want: []string{"linux-64", "linux-64-py311", "win-64", "linux-aarch64"}},
		{names: []string{"linux-aarch64"}, want: []string{"linux-aarch64"}},
		{names: []string{"win-64", "linux-64-py311"}, want: []string{"linux-64-py311", "win-64"}},
		{names: []string{"osx-arm64"}, err: `x.yaml has no platform "osx-arm64" (it has: linux-64, linux-64-py311, win-64, linux-aarch64)`},
	} {
		got, err := f.Select(tc.names, tc.all)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("Select(%v): err %v, want %q", tc.names, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(names(got), tc.want) {
			t.Errorf("Select(%v, %v) = %v, %v; want %v", tc.names, tc.all, names(got), err, tc.want)
		}
	}
	variant, _ := f.Platform("linux-64-py311")
	err = f.CheckSubmittable(variant)
	if err == nil || !strings.Contains(err.Error(), "line 3: variant: condachan builds no variants") || !strings.Contains(err.Error(), "line 3: variantConfig:") {
		t.Errorf("variant entry: %v", err)
	}

	none, err := Parse("y.yaml", []byte("condaPlatforms:\n- platform: win-64\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := none.Select(nil, false); !errors.Is(err, ErrNoneSelected) {
		t.Errorf("no default entry: %v", err)
	}
}

func TestParseRefusals(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"", "empty: it needs a condaPlatforms list"},
		{"condaPlatforms: []\n", "condaPlatforms: at least one platform is needed"},
		{"condaPlatform:\n- platform: linux-64\n", `:1: unknown key "condaPlatform" (known: condaPlatforms, jobParameters)`},
		{"condaPlatforms:\n- platform: linux-65\n", `:2: platform "linux-65" is not a conda platform`},
		{"condaPlatforms:\n- defaultSubmit: true\n", ":2: condaPlatforms: an entry has no platform:"},
		{"condaPlatforms:\n- platform: linux-64\n  defaultSubmit: yes please\n", `:3: defaultSubmit: expected true or false, got "yes please"`},
		{"condaPlatforms:\n- platform: linux-64\n  sourceArchive: a.tgz\n", `:3: condaPlatforms: unknown key "sourceArchive"`},
		{"condaPlatforms:\n- platform: linux-64\n  sourceArchiveFilename: archive_files/a.tgz\n", `:3: sourceArchiveFilename "archive_files/a.tgz": expected a file name`},
		{"condaPlatforms:\n- platform: linux-64\n  sourceArchiveFilename: []\n", ":3: sourceArchiveFilename: an empty list"},
		{"condaPlatforms:\n- platform: linux-64\n  buildTool: make\n", `:3: buildTool "make": expected rattler-build or conda-build`},
		{"condaPlatforms:\n- platform: linux-64\n- platform: linux-64\n", ":3: condaPlatforms: linux-64 is listed twice (also line 2)"},
		{"condaPlatforms:\n- platform: linux-64\n  platform: win-64\n", ":3: platform is given twice"},
		{"condaPlatforms:\n- platform: linux-64\n  additionalHostRequirements:\n    amounts:\n    - name: worker.gpu\n      min: 1\n", `:5: amounts: name "worker.gpu": expected amount.<name>`},
		{"condaPlatforms:\n- platform: linux-64\n  additionalHostRequirements:\n    amounts:\n    - name: amount.worker.gpu\n", ":5: amounts: amount.worker.gpu needs min: and/or max:"},
		{"condaPlatforms:\n- platform: linux-64\n  additionalHostRequirements:\n    amounts:\n    - {name: amount.worker.gpu, min: 2, max: 1}\n", ":5: amounts: amount.worker.gpu: min 2 is more than max 1"},
		{"condaPlatforms:\n- platform: linux-64\n  additionalHostRequirements:\n    amounts:\n    - {name: amount.worker.gpu, min: -1}\n", `:5: min: expected a number of 0 or more, got "-1"`},
		{"condaPlatforms:\n- platform: linux-64\n  additionalHostRequirements:\n    attributes:\n    - {name: attr.worker.os.distro}\n", ":5: attributes: attr.worker.os.distro needs one of anyOf: or allOf:"},
		{"condaPlatforms:\n- platform: linux-64\n  additionalHostRequirements:\n    gpus: 1\n", ":4: additionalHostRequirements.gpus: expected a list"},
		{"condaPlatforms:\n- platform: linux-64\njobParameters:\n- name: CondaChannels\n", ":4: jobParameters: CondaChannels has no value:"},
		{"condaPlatforms:\n- platform: linux-64\njobParameters:\n- {name: A, value: x}\n- {name: A, value: y}\n", ":5: jobParameters: A is given twice"},
		{"condaPlatforms:\n- platform: linux-64\njobParameters:\n- {name: 'Conda Channels', value: x}\n", `:4: jobParameters: name "Conda Channels": expected a job parameter name`},
		{"condaPlatforms: [\n", "not YAML"},
	} {
		_, err := Parse("r/deadline-cloud.yaml", []byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "r/deadline-cloud.yaml") {
			t.Errorf("%q: err %v, want %q", tc.doc, err, tc.want)
		}
	}
}

func TestFind(t *testing.T) {
	fsys := fstest.MapFS{
		"catalogue/maya/deadline-cloud.yaml":        {Data: []byte(sampleForm)},
		"catalogue/maya/recipe/recipe.yaml":         {},
		"flat/app/recipe.yaml":                      {},
		"flat/app/deadline-cloud.yaml":              {Data: []byte(sampleForm)},
		"none/app/recipe.yaml":                      {},
		"notrecipe/x/deadline-cloud.yaml":           {},
		"notrecipe/x/sub/recipe.yaml":               {},
		"catalogue/both/deadline-cloud.yaml":        {},
		"catalogue/both/recipe/recipe.yaml":         {},
		"catalogue/both/recipe/deadline-cloud.yaml": {},
	}
	for dir, want := range map[string]string{
		"catalogue/maya/recipe": "catalogue/maya/deadline-cloud.yaml",
		"flat/app":              "flat/app/deadline-cloud.yaml",
		"none/app":              "",
		"notrecipe/x/sub":       "",
		"catalogue/both/recipe": "catalogue/both/recipe/deadline-cloud.yaml",
	} {
		got, ok := Find(fsys, dir)
		if got != want || ok != (want != "") {
			t.Errorf("Find(%s) = %q, %v; want %q", dir, got, ok, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(sampleForm))
	f.Add([]byte("condaPlatforms:\n- {platform: linux-64, variant: py311, variantConfig: {python: [3.11]}}\n"))
	f.Add([]byte("condaPlatforms:\n- platform: linux-64\n  additionalHostRequirements:\n    amounts:\n    - {name: amount.worker.gpu, min: 1, max: 2.5}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.yaml", data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Path != "fuzz.yaml" {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		if len(file.Platforms) == 0 {
			t.Fatal("parsed a file without platforms")
		}
		seen := map[string]bool{}
		for i := range file.Platforms {
			p := &file.Platforms[i]
			if !known(p.Platform) || seen[p.Name()] {
				t.Fatalf("platform %q accepted", p.Name())
			}
			seen[p.Name()] = true
			for _, n := range p.SourceArchiveFilenames {
				if n == "" || strings.ContainsAny(n, `/\`) {
					t.Fatalf("archive name %q accepted", n)
				}
			}
			_ = file.CheckSubmittable(p)
		}
	})
}
