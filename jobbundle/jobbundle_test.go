package jobbundle

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func mustTemplate(t *testing.T, kind Kind) []byte {
	t.Helper()
	data, err := TemplateData(kind)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestShippedTemplatesValidate(t *testing.T) {
	for _, kind := range Kinds {
		t.Run(string(kind), func(t *testing.T) {
			if err := Validate(mustTemplate(t, kind)); err != nil {
				t.Fatalf("the shipped %s template does not validate:\n%v", kind, err)
			}
			fsys, err := FS(kind)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{TemplateFile, ParameterValuesFile} {
				if _, err := fsys.Open(name); err != nil {
					t.Errorf("bundle %s lacks %s: %v", kind, name, err)
				}
			}
		})
	}
	if _, err := TemplateData("frobnicate"); err == nil {
		t.Error("an unknown kind gave a template")
	}
}

func TestParameterNamesMatchTemplates(t *testing.T) {
	want := map[Kind][]string{
		Build: {ParamRecipeName, ParamRecipeDir, ParamSourceArchive, ParamSourceArchiveURI, ParamCondaChannel,
			ParamTargetPlatform, ParamBuildNumber, ParamCompression, ParamS3EndpointURL, ParamWorkerOS, ParamWorkerArch, ParamCondachanBinary,
			ParamCondaPackages, ParamCondaChannels},
		Index:  {ParamCondaChannel, ParamFullReindex, ParamS3EndpointURL, ParamWorkerOS, ParamWorkerArch, ParamCondachanBinary},
		Mirror: {ParamCondaChannel, ParamMirrorBundleURI, ParamMirrorBundle, ParamJobs, ParamS3EndpointURL, ParamWorkerOS, ParamWorkerArch, ParamCondachanBinary},
	}
	if len(want) != len(Kinds) {
		t.Errorf("the test knows %d bundles, Kinds lists %d", len(want), len(Kinds))
	}
	for kind, names := range want {
		tmpl, err := Load(kind)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(tmpl.ParameterNames(), " "); got != strings.Join(names, " ") {
			t.Errorf("%s parameters:\n got %s\nwant %s", kind, got, strings.Join(names, " "))
		}
	}
	tmpl, _ := Load(Build)
	for _, name := range []string{ParamRecipeDir, ParamSourceArchive, ParamCondachanBinary} {
		p := tmpl.Parameter(name)
		if p.Type != "PATH" || p.DataFlow != "IN" || p.Default == nil || *p.Default != "" {
			t.Errorf("%s must be an optional PATH parameter with dataFlow IN (a job attachment only when set): %+v", name, p)
		}
	}
	if p := tmpl.Parameter(ParamSourceArchiveURI); p.Type != "STRING" {
		t.Errorf("SourceArchiveURI must be a STRING: a PATH with dataFlow IN would make the Deadline CLI attach it")
	}
	if p := tmpl.Parameter(ParamBuildNumber); p.Default == nil || *p.Default != "auto" {
		t.Errorf("BuildNumber must default to auto")
	}
	// The mirror bundle: a bundle in S3 is the normal case, an attached one the optional.
	mirror, _ := Load(Mirror)
	for _, name := range []string{ParamMirrorBundle, ParamCondachanBinary} {
		p := mirror.Parameter(name)
		if p.Type != "PATH" || p.ObjectType != "FILE" || p.DataFlow != "IN" || p.Default == nil || *p.Default != "" {
			t.Errorf("mirror %s must be an optional PATH FILE parameter with dataFlow IN: %+v", name, p)
		}
	}
	if p := mirror.Parameter(ParamMirrorBundleURI); p.Type != "STRING" || p.Default == nil || *p.Default != "" {
		t.Errorf("MirrorBundleURI must be an optional STRING: a PATH with dataFlow IN would make the Deadline CLI attach it")
	}
	if p := mirror.Parameter(ParamJobs); p.Type != "INT" || p.Default == nil || *p.Default != "8" || p.MinValue == nil || *p.MinValue != 1 {
		t.Errorf("Jobs must be an INT, default 8, at least 1: %+v", p)
	}
}

// blocks returns the text between the "-- find condachan" markers of each script.
func findBlocks(t *testing.T, kind Kind) map[string]string {
	t.Helper()
	tmpl, err := Load(kind)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	re := regexp.MustCompile(`(?s)# -- find condachan.*# -- end find condachan --`)
	for _, f := range tmpl.Steps[0].Script.EmbeddedFiles {
		if m := re.FindString(f.Data); m != "" {
			out[filepath.Ext(f.Filename)] = m
		}
	}
	return out
}

func TestFindCondachanIsTheSameEverywhere(t *testing.T) {
	build := findBlocks(t, Build)
	for _, ext := range []string{".sh", ".ps1"} {
		if build[ext] == "" {
			t.Errorf("the build bundle's %s script has no find-condachan block", ext)
		}
	}
	for _, kind := range Kinds[1:] {
		other := findBlocks(t, kind)
		for _, ext := range []string{".sh", ".ps1"} {
			if build[ext] != other[ext] {
				t.Errorf("the find-condachan blocks of the %s scripts differ between the build and %s bundles", ext, kind)
			}
		}
	}
}

// The launcher is read by two interpreters: cmd.exe must see only labels (":") and
// echo-less commands ("@"); /bin/sh must reach `exec` on the first line.
func TestLauncherIsBatchAndShell(t *testing.T) {
	for _, kind := range Kinds {
		tmpl, _ := Load(kind)
		s := tmpl.Steps[0]
		launcher := embeddedFile(&s, strings.TrimSuffix(strings.TrimPrefix(s.Script.Actions.OnRun.Command, "{{Task.File."), "}}"))
		if launcher == nil || !strings.HasSuffix(launcher.Filename, ".cmd") || !launcher.Runnable {
			t.Fatalf("%s: the command is not a runnable .cmd launcher: %+v", kind, launcher)
		}
		lines := strings.Split(strings.TrimRight(launcher.Data, "\n"), "\n")
		if !strings.HasPrefix(lines[0], ":; exec /bin/sh '{{Task.File.") {
			t.Errorf("%s: the first line must hand over to /bin/sh: %q", kind, lines[0])
		}
		for _, l := range lines[1:] {
			if !strings.HasPrefix(l, "@") {
				t.Errorf("%s: cmd.exe would echo %q", kind, l)
			}
		}
		if !strings.Contains(launcher.Data, `powershell.exe" -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -File "{{Task.File.PowerShell}}"`) {
			t.Errorf("%s: the Windows line does not run the PowerShell script: %q", kind, launcher.Data)
		}
		if !strings.HasSuffix(lines[len(lines)-1], "@exit %ERRORLEVEL%") {
			t.Errorf("%s: the Windows part must pass PowerShell's exit code on", kind)
		}
	}
}

func TestValidateCatches(t *testing.T) {
	cases := []struct {
		name, old, new, want string
		kind                 Kind // "": Build
	}{
		{"unknown key", "  maxLength: 64\n", "  maxLenght: 64\n", "maxLenght", ""},
		{"job name without bound", "  maxLength: 64\n", "", "could pass 128 characters", ""},
		{"job name too long", "  maxLength: 64\n", "  maxLength: 100\n", "more than the 128 allowed", ""},
		{"unknown parameter", `"{{Param.CondaChannel}}"`, `"{{Param.CondaChanel}}"`, "no parameter CondaChanel", ""},
		{"session value in an environment", `CONDACHAN_JOB_COMPRESSION: "{{Param.Compression}}"`, `CONDACHAN_JOB_COMPRESSION: "{{Session.WorkingDirectory}}"`, "not available here", ""},
		{"unset setting", `CONDACHAN_JOB_COMPRESSION: "{{Param.Compression}}"`, `CONDACHAN_JOB_COMPRESSIO: "{{Param.Compression}}"`, "reads CONDACHAN_JOB_COMPRESSION", ""},
		{"setting the PowerShell script ignores", `$env:CONDACHAN_JOB_ENDPOINT_URL`, `$env:X`, "the .ps1 script does not read CONDACHAN_JOB_ENDPOINT_URL", ""},
		{"non-ASCII PowerShell", "# ASCII only: Windows PowerShell", "# ASCII only — Windows PowerShell", "not printable ASCII", ""},
		{"unused parameter", `CONDACHAN_JOB_ENDPOINT_URL: "{{Param.S3EndpointURL}}"`, `CONDACHAN_JOB_ENDPOINT_URL: ""`, "S3EndpointURL is never used", ""},
		{"attribute value", `anyOf: ["{{Param.WorkerArch}}"]`, `anyOf: ["amd64"]`, `"amd64" is not one of`, ""},
		{"parameter values outside the attribute's", "allowedValues: [x86_64, arm64]", "allowedValues: [x86_64, arm64, riscv]", `allows "riscv"`, ""},
		{"default outside allowedValues", "default: default\n  allowedValues: [fast, default, max]", "default: medium\n  allowedValues: [fast, default, max]", `"medium" is not one of`, ""},
		{"missing embedded file", "exec /bin/sh '{{Task.File.Posix}}'", "exec /bin/sh '{{Task.File.Unix}}'", "no embedded file Unix", ""},
		{"command not a launcher", `command: "{{Task.File.Launcher}}"`, `command: bash`, "must be an embedded file", ""},
		{"launcher not runnable", "      runnable: true\n", "", "not runnable", ""},
		{"no OS requirement", "    - name: attr.worker.os.family\n      anyOf: [\"{{Param.WorkerOS}}\"]\n", "", "no attr.worker.os.family", ""},
		{"vcpu below 1", "name: amount.worker.vcpu\n      min: 2", "name: amount.worker.vcpu\n      min: 0", "below 1", ""},
		{"PATH Param in the job name", `name: "condachan build {{Param.RecipeName}}`, `name: "condachan build {{Param.RecipeDir}}`, "RawParam", ""},
		{"bad control", "control: DROPDOWN_LIST\n    label: Compression", "control: SPIN_BOX\n    label: Compression", "SPIN_BOX", ""},
		{"unterminated", `"{{Param.CondaChannel}}"`, `"{{Param.CondaChannel"`, "unterminated", ""},
		// The mirror bundle's scripts and its INT parameter.
		{"mirror: setting the PowerShell script ignores", `"$env:CONDACHAN_JOB_JOBS"`, `"$env:X"`, "the .ps1 script does not read CONDACHAN_JOB_JOBS", Mirror},
		{"mirror: setting the POSIX script ignores", `${CONDACHAN_JOB_MIRROR_BUNDLE_URI:-}`, `${X:-}`, "the .sh script does not read CONDACHAN_JOB_MIRROR_BUNDLE_URI", Mirror},
		{"mirror: unset setting", `      CONDACHAN_JOB_MIRROR_BUNDLE: "{{Param.MirrorBundle}}"` + "\n", "", "reads CONDACHAN_JOB_MIRROR_BUNDLE, which no environment of the step sets", Mirror},
		{"mirror: unused parameter", `      CONDACHAN_JOB_MIRROR_BUNDLE: "{{Param.MirrorBundle}}"` + "\n", "", "parameter MirrorBundle is never used", Mirror},
		{"default below minValue", "default: 8\n  minValue: 1", "default: 0\n  minValue: 1", "0 is less than 1", Mirror},
		{"minValue above maxValue", "  minValue: 1\n", "  minValue: 9\n  maxValue: 2\n", "minValue is more than maxValue", Mirror},
		{"minValue of a STRING", "  minLength: 1\n", "  minLength: 1\n  minValue: 1\n", "minValue and maxValue belong to INT parameters", Mirror},
		{"INT control", "control: SPIN_BOX", "control: LINE_EDIT", "control LINE_EDIT is not one for INT parameters", Mirror},
		{"mirror: TERMINATE with a notify period", "mode: NOTIFY_THEN_TERMINATE", "mode: TERMINATE", "notifyPeriodInSeconds belongs to NOTIFY_THEN_TERMINATE", Mirror},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kind := c.kind
			if kind == "" {
				kind = Build
			}
			base := string(mustTemplate(t, kind))
			if !strings.Contains(base, c.old) {
				t.Fatalf("the template no longer contains %q", c.old)
			}
			err := Validate([]byte(strings.ReplaceAll(base, c.old, c.new)))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error with %q", err, c.want)
			}
		})
	}
}

func TestFormatStrings(t *testing.T) {
	refs, err := References("a {{Param.X}} b {{ Task.File.Y }}{{RawParam.Z}}")
	if err != nil || strings.Join(refs, ",") != "Param.X,Task.File.Y,RawParam.Z" {
		t.Errorf("References: %v %v", refs, err)
	}
	if _, err := References("{{ Param.X + 1 }}"); err == nil {
		t.Error("an expression was taken for a value reference")
	}
	got, err := Resolve("{{Param.X}}-{{ Param.X }}", map[string]string{"Param.X": "v"})
	if err != nil || got != "v-v" {
		t.Errorf("Resolve: %q %v", got, err)
	}
	if _, err := Resolve("{{Param.Y}}", nil); err == nil {
		t.Error("Resolve accepted an unknown reference")
	}
}

func TestWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bundle")
	archive := filepath.Join(t.TempDir(), "blender-4.1.1-linux-x64.tar.xz")
	rel, err := filepath.Rel(mustGetwd(t), archive)
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]string{
		ParamRecipeName:    "blender-4.1",
		ParamSourceArchive: rel, // made absolute
		ParamCondaChannel:  "s3://studio-bucket/Conda/Default",
		ParamCompression:   "max",
		ParamBuildNumber:   "auto",
	}
	if err := Write(dir, Build, values, Host{VCPUs: 8, MemoryMiB: 16384}); err != nil {
		t.Fatal(err)
	}
	got, err := ReadParameterValues(dir)
	if err != nil {
		t.Fatal(err)
	}
	values[ParamSourceArchive] = archive
	for k, v := range values {
		if got[k] != v {
			t.Errorf("parameter_values.yaml: %s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(values) {
		t.Errorf("parameter_values.yaml holds %v, want only the given values", got)
	}
	data, err := os.ReadFile(filepath.Join(dir, TemplateFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(data); err != nil {
		t.Fatalf("the written template does not validate: %v", err)
	}
	tmpl, _ := ParseTemplate(data)
	amounts := map[string]float64{}
	for _, a := range tmpl.Steps[0].HostRequirements.Amounts {
		amounts[a.Name] = *a.Min
	}
	if amounts["amount.worker.vcpu"] != 8 || amounts["amount.worker.memory"] != 16384 {
		t.Errorf("amounts %v", amounts)
	}
	// Nothing but the two amounts changed.
	shipped := mustTemplate(t, Build)
	undo := strings.NewReplacer("min: 8\n", "min: 2\n", "min: 16384\n", "min: 4096\n").Replace(string(data))
	if undo != string(shipped) {
		t.Error("Write changed the template beyond the amounts")
	}

	// Zero amounts keep the template's; a second Write replaces the values.
	if err := Write(dir, Build, map[string]string{ParamRecipeName: "condachan-example", ParamCondaChannel: "file:///srv/conda"}, Host{}); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(filepath.Join(dir, TemplateFile))
	if !bytes.Equal(data, shipped) {
		t.Error("Write with zero amounts changed the template")
	}
	got, _ = ReadParameterValues(dir)
	if len(got) != 2 || got[ParamRecipeName] != "condachan-example" {
		t.Errorf("values after the second Write: %v", got)
	}
}

func TestWriteRefusesBadValues(t *testing.T) {
	ok := map[string]string{ParamRecipeName: "blender-4.1", ParamCondaChannel: "s3://b/c"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range ok {
			m[a] = b
		}
		if v == "\x00delete" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name   string
		kind   Kind
		values map[string]string
		want   string
	}{
		{"unknown parameter", Build, with("Frobnicate", "1"), "no parameter Frobnicate"},
		{"not allowed", Build, with(ParamCompression, "ultra"), "not one of fast, default, max"},
		{"missing required", Build, with(ParamCondaChannel, "\x00delete"), "CondaChannel needs a value"},
		{"empty required", Build, with(ParamRecipeName, ""), "RecipeName may not be empty"},
		{"worker OS", Build, with(ParamWorkerOS, "solaris"), "linux, windows, macos"},
		{"index has no recipe", Index, ok, "no parameter RecipeName"},
		{"too long", Build, with(ParamSourceArchiveURI, "s3://b/"+strings.Repeat("x", 1100)), "1024"},
		{"mirror has no recipe", Mirror, ok, "no parameter RecipeName"},
		{"mirror jobs not a number", Mirror, map[string]string{ParamCondaChannel: "s3://b/c", ParamJobs: "eight"}, `parameter Jobs: "eight" is not an integer`},
		{"mirror jobs below 1", Mirror, map[string]string{ParamCondaChannel: "s3://b/c", ParamJobs: "0"}, "parameter Jobs: 0 is less than 1"},
		{"mirror without channel", Mirror, map[string]string{ParamMirrorBundleURI: "s3://b/x.bundle"}, "CondaChannel needs a value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			err := Write(dir, c.kind, c.values, Host{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error with %q", err, c.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("a refused Write left files: %v", entries)
			}
		})
	}
}

func mustGetwd(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

func TestWriteAddsHostRequirements(t *testing.T) {
	one, two := 1.0, 2.0
	values := map[string]string{ParamRecipeName: "maya", ParamCondaChannel: "s3://b/Conda/Default", ParamCondaChannels: "conda-forge"}
	dir := t.TempDir()
	host := Host{
		VCPUs:      4,
		Amounts:    []Amount{{Name: "amount.worker.gpu", Min: &one, Max: &two}, {Name: "amount.license.maya", Min: &one}},
		Attributes: []Attribute{{Name: "attr.custom.distro", AnyOf: []string{"rocky9", "rhel9"}}},
	}
	tmpl := writeValid(t, dir, Build, values, host)
	hr := tmpl.Steps[0].HostRequirements
	var got []string
	for _, a := range hr.Amounts {
		s := a.Name + " min " + fmt.Sprint(*a.Min)
		if a.Max != nil {
			s += " max " + fmt.Sprint(*a.Max)
		}
		got = append(got, s)
	}
	for _, a := range hr.Attributes {
		got = append(got, a.Name+" "+strings.Join(a.AnyOf, ","))
	}
	want := []string{"amount.worker.vcpu min 4", "amount.worker.memory min 4096", "amount.worker.gpu min 1 max 2", "amount.license.maya min 1",
		`attr.worker.os.family {{Param.WorkerOS}}`, `attr.worker.cpu.arch {{Param.WorkerArch}}`, "attr.custom.distro rocky9,rhel9"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("host requirements:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	pv, _ := ReadParameterValues(dir)
	if pv[ParamCondaChannels] != "conda-forge" {
		t.Errorf("CondaChannels = %q", pv[ParamCondaChannels])
	}

	for _, tc := range []struct {
		host Host
		want string
	}{
		{Host{Amounts: []Amount{{Name: "amount.worker.vcpu", Min: &two}}}, "host requirement amount.worker.vcpu is set by the job template from the vCPU minimum"},
		{Host{Attributes: []Attribute{{Name: "attr.worker.os.family", AnyOf: []string{"linux"}}}}, "attr.worker.os.family is set by the job template from the worker OS (or the target platform)"},
		{Host{Amounts: []Amount{{Name: "amount.worker.gpu", Min: &one}, {Name: "amount.worker.gpu", Min: &two}}}, "amount.worker.gpu is given twice"},
		{Host{Amounts: []Amount{{Name: "amount.worker.flux", Min: &one}}}, "not a standard amount, nor a custom one"},
		{Host{Attributes: []Attribute{{Name: "attr.custom.distro", AnyOf: []string{"rocky 9"}}}}, `value "rocky 9": expected`},
	} {
		dir := t.TempDir()
		err := Write(dir, Build, values, tc.host)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want %q", tc.host, err, tc.want)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%+v: a refused bundle left %d files", tc.host, len(entries))
		}
	}
}

// A host requirement the template sets itself is a TemplateRequirementError naming the
// setting it comes from; a front end names that setting its own way.
func TestTemplateRequirementError(t *testing.T) {
	one := 1.0
	values := map[string]string{ParamRecipeName: "maya", ParamCondaChannel: "s3://b/Conda/Default"}
	err := Write(t.TempDir(), Build, values, Host{Amounts: []Amount{{Name: "amount.worker.memory", Min: &one}}})
	var tre *TemplateRequirementError
	if !errors.As(err, &tre) || tre.Name != "amount.worker.memory" || tre.Setting != HostMemory {
		t.Fatalf("err %v (%#v), want a TemplateRequirementError for the memory minimum", err, tre)
	}
	flag := func(s HostSetting) string { return "<" + string(s) + ">" }
	for _, tc := range []struct {
		err        *TemplateRequirementError
		own, named string
	}{
		{&TemplateRequirementError{Name: "amount.worker.memory", Setting: HostMemory},
			"host requirement amount.worker.memory is set by the job template from the memory minimum",
			"host requirement amount.worker.memory is set by the job template from the memory minimum (<the memory minimum>)"},
		{&TemplateRequirementError{Name: "attr.worker.cpu.arch", Setting: HostWorkerArch},
			"host requirement attr.worker.cpu.arch is set by the job template from the worker CPU (or the target platform)",
			"host requirement attr.worker.cpu.arch is set by the job template from the worker CPU (<the worker CPU>, or the target platform)"},
	} {
		if got := tc.err.Error(); got != tc.own {
			t.Errorf("Error() = %q, want %q", got, tc.own)
		}
		if got := tc.err.Message(flag); got != tc.named {
			t.Errorf("Message() = %q, want %q", got, tc.named)
		}
	}
}

// Every bundle takes the host settings the same way: amounts rewritten in place, extra
// requirements after the template's own, nothing else changed.
func TestWriteEveryKind(t *testing.T) {
	one := 1.0
	values := map[Kind]map[string]string{
		Build:  {ParamRecipeName: "blender-4.1", ParamCondaChannel: "s3://b/c"},
		Index:  {ParamCondaChannel: "s3://b/c"},
		Mirror: {ParamCondaChannel: "s3://b/c", ParamMirrorBundleURI: "s3://b/c/.condachan/mirror/ab/render.bundle", ParamJobs: "16"},
	}
	host := Host{VCPUs: 6, MemoryMiB: 12345, Amounts: []Amount{{Name: "amount.worker.gpu", Min: &one}},
		Attributes: []Attribute{{Name: "attr.custom.site", AnyOf: []string{"studio_a"}}}}
	for _, kind := range Kinds {
		t.Run(string(kind), func(t *testing.T) {
			dir := t.TempDir()
			tmpl := writeValid(t, dir, kind, values[kind], host)
			var got []string
			for _, a := range tmpl.Steps[0].HostRequirements.Amounts {
				got = append(got, fmt.Sprintf("%s %v", a.Name, *a.Min))
			}
			if want := "amount.worker.vcpu 6,amount.worker.memory 12345,amount.worker.gpu 1"; strings.Join(got, ",") != want {
				t.Errorf("amounts %s, want %s", strings.Join(got, ","), want)
			}
			if attrs := tmpl.Steps[0].HostRequirements.Attributes; len(attrs) != 3 || attrs[2].Name != "attr.custom.site" {
				t.Errorf("attributes %+v", attrs)
			}
			pv, err := ReadParameterValues(dir)
			if err != nil || len(pv) != len(values[kind]) {
				t.Errorf("parameter values %v, %v; want %v", pv, err, values[kind])
			}
			for k, v := range values[kind] {
				if pv[k] != v {
					t.Errorf("%s = %q, want %q", k, pv[k], v)
				}
			}
		})
	}
}

// writeValid writes a bundle of kind into dir and returns its template, which must
// validate.
func writeValid(t *testing.T, dir string, kind Kind, values map[string]string, host Host) *Template {
	t.Helper()
	if err := Write(dir, kind, values, host); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, TemplateFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(data); err != nil {
		t.Fatalf("the written template does not validate: %v", err)
	}
	tmpl, err := ParseTemplate(data)
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}
