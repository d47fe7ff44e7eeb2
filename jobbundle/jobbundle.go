// Package jobbundle holds condachan's Open Job Description job bundles for AWS Deadline
// Cloud, embedded in the binary, and writes ready-to-submit copies of them with the
// parameter values filled in.
//
// Three bundles exist. Build (build/) builds one recipe and publishes the package to an
// S3 channel under the channel lease, in one step: no separate reindex session, no mutex
// script. Index (index/) reindexes a channel. Mirror (mirror/) publishes a bundle made by
// `condachan mirror pack` to a channel, all of its packages or none (mirror --from).
// Each is a template.yaml (specificationVersion jobtemplate-2023-09) and a
// parameter_values.yaml, the layout `deadline bundle submit DIR` reads.
//
// A worker needs nothing but the condachan binary (on its PATH, or attached with the
// CondachanBinary parameter) and the channel's bucket: no conda, no Python, no internet.
// Job attachments are used only for the PATH parameters that are set (the binary, a
// recipe folder, a source archive, a mirror bundle); a source archive or mirror bundle
// staged in S3 is passed as an s3:// URI (SourceArchiveURI, MirrorBundleURI) that
// condachan streams, so large files never go through job attachments.
//
// One step serves Linux, macOS and Windows workers. OpenJD 2023-09 has no conditionals
// and a step that exists twice runs twice, so the OS is chosen twice over: the WorkerOS
// parameter feeds the attr.worker.os.family host requirement (attribute values are
// format strings), and the step's command is a launcher that is at the same time a POSIX
// shell script and a Windows batch file (condachan-build.cmd). /bin/sh runs its first
// line, `:; exec /bin/sh '<posix script>'`; cmd.exe takes that line for a label, skips it
// and runs Windows PowerShell on the PowerShell script. Parameter values reach both
// scripts as environment variables set by a step environment, never pasted into code.
//
// Validate checks a template against the parts of the specification the bundles use,
// and against condachan's own rules (every setting a script reads is set, both scripts
// read every setting, every parameter is used).
package jobbundle

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

//go:embed build/template.yaml build/parameter_values.yaml index/template.yaml index/parameter_values.yaml
//go:embed mirror/template.yaml mirror/parameter_values.yaml
var embedded embed.FS

// Kind names a bundle.
type Kind string

const (
	// Build builds one recipe and publishes it to a channel.
	Build Kind = "build"
	// Index reindexes a channel.
	Index Kind = "index"
	// Mirror publishes a bundle made by `condachan mirror pack` to a channel.
	Mirror Kind = "mirror"
)

// Kinds lists the bundles.
var Kinds = []Kind{Build, Index, Mirror}

// The files of a bundle.
const (
	TemplateFile        = "template.yaml"
	ParameterValuesFile = "parameter_values.yaml"
)

// The parameters the CLI fills in, by name. The templates define them; Validate and the
// tests keep the two in step.
const (
	ParamRecipeName       = "RecipeName"
	ParamRecipeDir        = "RecipeDir"
	ParamSourceArchive    = "SourceArchive"
	ParamSourceArchiveURI = "SourceArchiveURI"
	ParamCondaChannel     = "CondaChannel"
	ParamTargetPlatform   = "TargetPlatform"
	ParamBuildNumber      = "BuildNumber"
	ParamCompression      = "Compression"
	ParamS3EndpointURL    = "S3EndpointURL"
	ParamWorkerOS         = "WorkerOS"
	ParamWorkerArch       = "WorkerArch"
	ParamCondachanBinary  = "CondachanBinary"
	ParamFullReindex      = "FullReindex"
	ParamCondaPackages    = "CondaPackages"
	ParamCondaChannels    = "CondaChannels"
	ParamMirrorBundleURI  = "MirrorBundleURI"
	ParamMirrorBundle     = "MirrorBundle"
	ParamJobs             = "Jobs"
)

// FS returns the files of a bundle as shipped (template.yaml, parameter_values.yaml).
func FS(kind Kind) (fs.FS, error) {
	if err := kind.check(); err != nil {
		return nil, err
	}
	return fs.Sub(embedded, string(kind))
}

// TemplateData returns a bundle's template.yaml as shipped.
func TemplateData(kind Kind) ([]byte, error) {
	if err := kind.check(); err != nil {
		return nil, err
	}
	return embedded.ReadFile(string(kind) + "/" + TemplateFile)
}

// Load parses a bundle's template as shipped.
func Load(kind Kind) (*Template, error) {
	data, err := TemplateData(kind)
	if err != nil {
		return nil, err
	}
	return ParseTemplate(data)
}

func (k Kind) check() error {
	for _, known := range Kinds {
		if k == known {
			return nil
		}
	}
	known := make([]string, len(Kinds))
	for i, kind := range Kinds {
		known[i] = string(kind)
	}
	return fmt.Errorf("unknown job bundle %q (known: %s)", string(k), strings.Join(known, ", "))
}

// Host sets the step's amount requirements; zero keeps the template's.
type Host struct {
	// VCPUs is amount.worker.vcpu's minimum.
	VCPUs int
	// MemoryMiB is amount.worker.memory's minimum, in MiB.
	MemoryMiB int
	// Amounts and Attributes are added to the step's host requirements (a GPU, a
	// distribution). They may not name the requirements the template sets (vCPUs, memory,
	// OS family, CPU architecture): those come from the fields above and the parameters.
	Amounts    []Amount
	Attributes []Attribute
}

// QueueEnvironmentParameters are build-bundle parameters no step reads: the Conda queue
// environment that AWS Deadline Cloud creates for a queue reads them (a queue environment
// sees the job parameters its own parameters are named after), to install packages into a
// conda environment the job runs in. The sample catalogue's deadline-cloud.yaml sets
// CondaChannels. Empty CondaPackages: the queue environment installs nothing.
var QueueEnvironmentParameters = []string{ParamCondaPackages, ParamCondaChannels}

// Write writes the bundle kind into dir (created when missing; other files in it are
// left alone): template.yaml, with the host amounts set, and parameter_values.yaml with
// values. Every value must name a parameter of the template and satisfy its constraints,
// and every parameter without a default needs a value. PATH values are made absolute:
// the Deadline CLI resolves relative ones against its own working directory.
func Write(dir string, kind Kind, values map[string]string, host Host) error {
	tmplData, err := TemplateData(kind)
	if err != nil {
		return err
	}
	tmpl, err := ParseTemplate(tmplData)
	if err != nil {
		return fmt.Errorf("%s bundle: %w", kind, err)
	}
	vals, err := tmpl.resolveValues(values)
	if err != nil {
		return err
	}
	if tmplData, err = setAmounts(tmplData, host); err != nil {
		return err
	}
	if tmplData, err = addRequirements(tmplData, host); err != nil {
		return err
	}
	pv, err := parameterValuesYAML(kind, vals)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, TemplateFile), tmplData); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, ParameterValuesFile), pv)
}

// value is one parameter value to write, in template order.
type value struct{ name, value string }

func (t *Template) resolveValues(values map[string]string) ([]value, error) {
	for name := range values {
		if t.Parameter(name) == nil {
			return nil, fmt.Errorf("the bundle has no parameter %s (it has: %s)", name, strings.Join(t.ParameterNames(), ", "))
		}
	}
	var out []value
	for _, p := range t.Parameters {
		v, ok := values[p.Name]
		if !ok {
			if p.Default == nil {
				return nil, fmt.Errorf("parameter %s needs a value (%s)", p.Name, oneLine(p.Description))
			}
			continue
		}
		if p.Type == "PATH" && v != "" {
			abs, err := filepath.Abs(v)
			if err != nil {
				return nil, fmt.Errorf("parameter %s: %w", p.Name, err)
			}
			v = abs
		}
		if err := p.Accepts(v); err != nil {
			return nil, err
		}
		out = append(out, value{p.Name, v})
	}
	return out, nil
}

// Accepts reports whether v is a valid value for the parameter.
func (p *Parameter) Accepts(v string) error {
	if len(p.AllowedValues) > 0 {
		for _, a := range p.AllowedValues {
			if v == a {
				return nil
			}
		}
		return fmt.Errorf("parameter %s: %q is not one of %s", p.Name, v, strings.Join(p.AllowedValues, ", "))
	}
	if p.MinLength != nil && len([]rune(v)) < *p.MinLength {
		if v == "" {
			return fmt.Errorf("parameter %s may not be empty", p.Name)
		}
		return fmt.Errorf("parameter %s: %q is shorter than %d characters", p.Name, v, *p.MinLength)
	}
	if p.MaxLength != nil && len([]rune(v)) > *p.MaxLength {
		return fmt.Errorf("parameter %s: longer than %d characters", p.Name, *p.MaxLength)
	}
	if len([]rune(v)) > maxParameterValueLength {
		return fmt.Errorf("parameter %s: longer than %d characters, the most OpenJD allows", p.Name, maxParameterValueLength)
	}
	switch p.Type {
	case "INT":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("parameter %s: %q is not an integer", p.Name, v)
		}
		if p.MinValue != nil && n < *p.MinValue {
			return fmt.Errorf("parameter %s: %d is less than %d", p.Name, n, *p.MinValue)
		}
		if p.MaxValue != nil && n > *p.MaxValue {
			return fmt.Errorf("parameter %s: %d is more than %d", p.Name, n, *p.MaxValue)
		}
	case "FLOAT":
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return fmt.Errorf("parameter %s: %q is not a number", p.Name, v)
		}
	}
	return nil
}

// maxParameterValueLength is <JobParameterStringValue>'s limit.
const maxParameterValueLength = 1024

var amountRe = regexp.MustCompile(`(?m)^(\s*- name: (amount\.worker\.(?:vcpu|memory))\n\s*min: )([0-9]+)$`)

// setAmounts rewrites the minimums of amount.worker.vcpu and amount.worker.memory in the
// template text, leaving every other byte as shipped.
func setAmounts(data []byte, host Host) ([]byte, error) {
	if host.VCPUs < 0 || host.MemoryMiB < 0 {
		return nil, errors.New("vCPUs and memory must not be negative")
	}
	found := map[string]int{}
	out := amountRe.ReplaceAllFunc(data, func(m []byte) []byte {
		sub := amountRe.FindSubmatch(m)
		name := string(sub[2])
		found[name]++
		n := 0
		switch name {
		case "amount.worker.vcpu":
			n = host.VCPUs
		case "amount.worker.memory":
			n = host.MemoryMiB
		}
		if n == 0 {
			return m
		}
		return append(append([]byte{}, sub[1]...), strconv.Itoa(n)...)
	})
	if found["amount.worker.vcpu"] != 1 || found["amount.worker.memory"] != 1 {
		return nil, fmt.Errorf("the template does not set amount.worker.vcpu and amount.worker.memory once each (found %v)", found)
	}
	return out, nil
}

// HostSetting is a value of a job that the job templates turn into a host requirement of
// their own. Its string is how the library's messages name it.
type HostSetting string

const (
	HostVCPUs      HostSetting = "the vCPU minimum"   // Host.VCPUs
	HostMemory     HostSetting = "the memory minimum" // Host.MemoryMiB
	HostWorkerOS   HostSetting = "the worker OS"      // the WorkerOS parameter
	HostWorkerArch HostSetting = "the worker CPU"     // the WorkerArch parameter
)

// templateRequirements are the host requirements the templates set themselves, and from
// what.
var templateRequirements = map[string]HostSetting{
	"amount.worker.vcpu":    HostVCPUs,
	"amount.worker.memory":  HostMemory,
	"attr.worker.os.family": HostWorkerOS,
	"attr.worker.cpu.arch":  HostWorkerArch,
}

// TemplateRequirementError is an extra host requirement (Name) that the job template
// sets itself, from Setting.
type TemplateRequirementError struct {
	Name    string
	Setting HostSetting
}

func (e *TemplateRequirementError) Error() string { return e.Message(nil) }

// Message names the setting the way name does (a front end's flag), after its own
// words; a nil name leaves it at those.
func (e *TemplateRequirementError) Message(name func(HostSetting) string) string {
	from := string(e.Setting)
	platform := e.Setting == HostWorkerOS || e.Setting == HostWorkerArch // the target platform sets them too
	switch {
	case name != nil && platform:
		from += " (" + name(e.Setting) + ", or the target platform)"
	case name != nil:
		from += " (" + name(e.Setting) + ")"
	case platform:
		from += " (or the target platform)"
	}
	return fmt.Sprintf("host requirement %s is set by the job template from %s", e.Name, from)
}

// The lines the extra requirements go after: the last shipped amount and attribute.
var (
	lastAmountRe    = regexp.MustCompile(`(?m)^    - name: amount\.worker\.memory\n      min: [0-9]+\n`)
	lastAttributeRe = regexp.MustCompile(`(?m)^    - name: attr\.worker\.cpu\.arch\n      anyOf: \["\{\{Param\.WorkerArch\}\}"\]\n`)
)

// addRequirements inserts host.Amounts and host.Attributes into the step's host
// requirements, after the template's own, leaving every other byte as shipped.
func addRequirements(data []byte, host Host) ([]byte, error) {
	if len(host.Amounts) == 0 && len(host.Attributes) == 0 {
		return data, nil
	}
	seen := map[string]bool{}
	check := func(name string) error {
		if from, ok := templateRequirements[name]; ok {
			return &TemplateRequirementError{Name: name, Setting: from}
		}
		if seen[name] {
			return fmt.Errorf("host requirement %s is given twice", name)
		}
		seen[name] = true
		return nil
	}
	for _, a := range host.Amounts {
		if err := check(a.Name); err != nil {
			return nil, err
		}
	}
	for _, a := range host.Attributes {
		if err := check(a.Name); err != nil {
			return nil, err
		}
	}
	insert := func(data []byte, re *regexp.Regexp, items any, what string) ([]byte, error) {
		loc := re.FindAllIndex(data, -1)
		if len(loc) != 1 {
			return nil, fmt.Errorf("the template's %s requirements are not where condachan adds to them", what)
		}
		var b bytes.Buffer
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(items); err != nil {
			return nil, err
		}
		enc.Close()
		var lines bytes.Buffer
		for _, line := range strings.SplitAfter(b.String(), "\n") {
			if line != "" {
				lines.WriteString("    " + line)
			}
		}
		end := loc[0][1]
		return append(append(append([]byte{}, data[:end]...), lines.Bytes()...), data[end:]...), nil
	}
	var err error
	if len(host.Amounts) > 0 {
		if data, err = insert(data, lastAmountRe, host.Amounts, "amount"); err != nil {
			return nil, err
		}
	}
	if len(host.Attributes) > 0 {
		if data, err = insert(data, lastAttributeRe, host.Attributes, "attribute"); err != nil {
			return nil, err
		}
	}
	if err := Validate(data); err != nil {
		return nil, fmt.Errorf("with the added host requirements: %w", err)
	}
	return data, nil
}

func parameterValuesYAML(kind Kind, vals []value) ([]byte, error) {
	type entry struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	}
	doc := struct {
		ParameterValues []entry `yaml:"parameterValues"`
	}{ParameterValues: []entry{}}
	for _, v := range vals {
		doc.ParameterValues = append(doc.ParameterValues, entry{v.name, v.value})
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Written by condachan (%s bundle). Values for the parameters of template.yaml;\n", kind)
	b.WriteString("# parameters not listed take their defaults.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ReadParameterValues reads a bundle folder's parameter_values.yaml (name -> value). A
// folder without one has no values.
func ReadParameterValues(dir string) (map[string]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, ParameterValuesFile))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	var doc struct {
		ParameterValues []struct {
			Name  string `yaml:"name"`
			Value any    `yaml:"value"`
		} `yaml:"parameterValues"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", ParameterValuesFile, err)
	}
	out := map[string]string{}
	for _, v := range doc.ParameterValues {
		out[v.Name] = fmt.Sprint(v.Value)
	}
	return out, nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
