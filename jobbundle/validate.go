package jobbundle

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
)

// Standard host capabilities (2023-09, section 3.3) and the values they take.
var standardAttributes = map[string][]string{
	"attr.worker.os.family": {"linux", "windows", "macos"},
	"attr.worker.cpu.arch":  {"x86_64", "arm64"},
}

// Custom capabilities (a studio's attr.custom.distro, amount.license.houdini): names and
// values as Deadline Cloud takes them (WorkerAttributeCapability, WorkerAmountCapability).
// Names under attr.worker. and amount.worker. are reserved for the standard ones.
var (
	customAttributeRe = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9]{0,63}:)?attr(\.[a-zA-Z][a-zA-Z0-9]{0,63})+$`)
	customAmountRe    = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9]{0,63}:)?amount(\.[a-zA-Z][a-zA-Z0-9]{0,63})+$`)
	attributeValueRe  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_\-]{0,99}$`)
)

// customCapability reports whether name is a valid non-standard capability name.
func customCapability(name string, re *regexp.Regexp, reserved string) bool {
	return len(name) <= 100 && re.MatchString(name) && !strings.HasPrefix(name, reserved)
}

var standardAmounts = map[string]float64{ // name -> minimum value
	"amount.worker.vcpu":         1,
	"amount.worker.memory":       0,
	"amount.worker.gpu":          0,
	"amount.worker.gpu.memory":   0,
	"amount.worker.disk.scratch": 0,
}

var controlsForType = map[string][]string{
	"STRING": {"LINE_EDIT", "MULTILINE_EDIT", "DROPDOWN_LIST", "CHECK_BOX", "HIDDEN"},
	"PATH":   {"CHOOSE_INPUT_FILE", "CHOOSE_OUTPUT_FILE", "CHOOSE_DIRECTORY", "DROPDOWN_LIST", "HIDDEN"},
	"INT":    {"SPIN_BOX", "DROPDOWN_LIST", "HIDDEN"},
	"FLOAT":  {"SPIN_BOX", "DROPDOWN_LIST", "HIDDEN"},
}

var envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,255}$`)

// settingRe finds the CONDACHAN_JOB_* variables a script reads.
var settingRe = regexp.MustCompile(`CONDACHAN_JOB_[A-Z0-9_]+`)

// Validate checks a job template as condachan's bundles use the specification: the
// schema subset (ParseTemplate), identifiers and limits, defaults against their
// constraints, every format string's references in the scopes the specification gives
// them, host requirements, embedded files, and condachan's own rules: the step command
// is a runnable embedded file; every CONDACHAN_JOB_* setting a script reads is set by the
// step environment, and the POSIX and PowerShell scripts both read every one of them;
// PowerShell and batch files are ASCII; every parameter is used. It returns every
// problem found, joined.
func Validate(data []byte) error {
	t, err := ParseTemplate(data)
	if err != nil {
		return err
	}
	v := &validator{t: t, used: map[string]bool{}}
	v.run()
	return errors.Join(v.errs...)
}

type validator struct {
	t    *Template
	errs []error
	used map[string]bool // parameters referenced somewhere
}

func (v *validator) errorf(format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf(format, args...))
}

func (v *validator) run() {
	t := v.t
	if t.SpecificationVersion != "jobtemplate-2023-09" {
		v.errorf("specificationVersion is %q, want jobtemplate-2023-09", t.SpecificationVersion)
	}
	if t.Name == "" {
		v.errorf("the job template has no name")
	}
	v.jobName()
	v.parameters()
	if len(t.JobEnvironments) > 0 {
		v.errorf("jobEnvironments: condachan's bundles keep every environment in its step (each step must stand alone)")
	}
	if len(t.Steps) == 0 {
		v.errorf("the job template has no steps")
	}
	stepNames := map[string]bool{}
	for i := range t.Steps {
		s := &t.Steps[i]
		if s.Name == "" || len([]rune(s.Name)) > 64 {
			v.errorf("steps[%d]: a step name must have 1 to 64 characters", i)
		}
		if stepNames[s.Name] {
			v.errorf("step %q is defined twice", s.Name)
		}
		stepNames[s.Name] = true
		v.step(s)
	}
	for _, name := range QueueEnvironmentParameters {
		v.used[name] = true
	}
	for _, p := range t.Parameters {
		if !v.used[p.Name] {
			v.errorf("parameter %s is never used", p.Name)
		}
	}
}

// jobName checks the job name's references and that it stays within 128 characters
// whatever the parameters hold (their maxLength or longest allowed value).
func (v *validator) jobName() {
	refs := v.formatString("name", v.t.Name, scopeJob, nil)
	n := len([]rune(exprRe.ReplaceAllString(v.t.Name, "")))
	for _, ref := range refs {
		_, name, _ := strings.Cut(ref, ".")
		p := v.t.Parameter(name)
		if p == nil {
			continue
		}
		longest := 0
		for _, a := range p.AllowedValues {
			longest = max(longest, len([]rune(a)))
		}
		switch {
		case len(p.AllowedValues) > 0:
		case p.MaxLength != nil:
			longest = *p.MaxLength
		default:
			v.errorf("name: {{%s}} has no maxLength, so the job name could pass 128 characters", ref)
		}
		n += longest
	}
	if n > 128 {
		v.errorf("name: can be %d characters long, more than the 128 allowed", n)
	}
}

func (v *validator) parameters() {
	t := v.t
	if len(t.Parameters) > 50 {
		v.errorf("%d parameters: at most 50 are allowed", len(t.Parameters))
	}
	seen := map[string]bool{}
	for _, p := range t.Parameters {
		if !identifierRe.MatchString(p.Name) {
			v.errorf("parameter name %q is not an identifier", p.Name)
		}
		if seen[p.Name] {
			v.errorf("parameter %s is defined twice", p.Name)
		}
		seen[p.Name] = true
		controls, ok := controlsForType[p.Type]
		if !ok {
			v.errorf("parameter %s: type %q is not STRING, PATH, INT or FLOAT", p.Name, p.Type)
			continue
		}
		if p.Type == "PATH" {
			if p.ObjectType != "" && p.ObjectType != "FILE" && p.ObjectType != "DIRECTORY" {
				v.errorf("parameter %s: objectType %q is not FILE or DIRECTORY", p.Name, p.ObjectType)
			}
			switch p.DataFlow {
			case "", "NONE", "IN", "OUT", "INOUT":
			default:
				v.errorf("parameter %s: dataFlow %q is not NONE, IN, OUT or INOUT", p.Name, p.DataFlow)
			}
		} else if p.ObjectType != "" || p.DataFlow != "" {
			v.errorf("parameter %s: objectType and dataFlow belong to PATH parameters", p.Name)
		}
		if p.Type != "INT" && (p.MinValue != nil || p.MaxValue != nil) {
			v.errorf("parameter %s: minValue and maxValue belong to INT parameters here", p.Name)
		}
		if p.MinValue != nil && p.MaxValue != nil && *p.MinValue > *p.MaxValue {
			v.errorf("parameter %s: minValue is more than maxValue", p.Name)
		}
		if p.Description == "" {
			v.errorf("parameter %s has no description", p.Name)
		}
		if p.Default != nil {
			if err := p.Accepts(*p.Default); err != nil {
				v.errorf("default: %v", err)
			}
		}
		if ui := p.UserInterface; ui != nil && ui.Control != "" {
			if !contains(controls, ui.Control) {
				v.errorf("parameter %s: control %s is not one for %s parameters", p.Name, ui.Control, p.Type)
			}
			needsAllowed := ui.Control == "DROPDOWN_LIST" || ui.Control == "CHECK_BOX"
			if needsAllowed != (len(p.AllowedValues) > 0) && ui.Control != "HIDDEN" {
				v.errorf("parameter %s: control %s and allowedValues do not go together", p.Name, ui.Control)
			}
			if ui.Control == "CHECK_BOX" && !checkBoxPair(p.AllowedValues) {
				v.errorf("parameter %s: a CHECK_BOX needs allowedValues true/false, yes/no, on/off or 1/0", p.Name)
			}
			if len(ui.FileFilters) > 0 && ui.Control != "CHOOSE_INPUT_FILE" && ui.Control != "CHOOSE_OUTPUT_FILE" {
				v.errorf("parameter %s: fileFilters need a file control", p.Name)
			}
		}
	}
}

func checkBoxPair(vals []string) bool {
	if len(vals) != 2 {
		return false
	}
	a, b := strings.ToLower(vals[0]), strings.ToLower(vals[1])
	for _, pair := range [][2]string{{"true", "false"}, {"yes", "no"}, {"on", "off"}, {"1", "0"}} {
		if (a == pair[0] && b == pair[1]) || (a == pair[1] && b == pair[0]) {
			return true
		}
	}
	return false
}

// Format string scopes (2023-09, section 7.3.1).
type scope int

const (
	scopeJob        scope = iota // job name, host requirements: Param (not PATH), RawParam
	scopeEnvVars                 // environment variables: + Param of PATH parameters
	scopeStepScript              // actions and embedded files: + Session.*, Task.File.*
)

var sessionValues = []string{"Session.WorkingDirectory", "Session.HasPathMappingRules", "Session.PathMappingRulesFile"}

// formatString checks the references of s; files are the step's embedded file names.
func (v *validator) formatString(where, s string, sc scope, files map[string]bool) []string {
	refs, err := References(s)
	if err != nil {
		v.errorf("%s: %v", where, err)
		return nil
	}
	for _, ref := range refs {
		parts := strings.Split(ref, ".")
		switch {
		case (parts[0] == "Param" || parts[0] == "RawParam") && len(parts) == 2:
			p := v.t.Parameter(parts[1])
			if p == nil {
				v.errorf("%s: {{%s}}: there is no parameter %s", where, ref, parts[1])
				continue
			}
			v.used[p.Name] = true
			if parts[0] == "Param" && p.Type == "PATH" && sc == scopeJob {
				v.errorf("%s: {{%s}}: a PATH parameter's Param value exists only in environments and step scripts (use RawParam)", where, ref)
			}
		case parts[0] == "Session" && contains(sessionValues, ref):
			if sc != scopeStepScript {
				v.errorf("%s: {{%s}} is not available here", where, ref)
			}
		case len(parts) == 3 && parts[0] == "Task" && parts[1] == "File":
			if sc != scopeStepScript || !files[parts[2]] {
				v.errorf("%s: {{%s}}: the step has no embedded file %s", where, ref, parts[2])
			}
		default:
			v.errorf("%s: {{%s}} is not a value condachan's templates may use", where, ref)
		}
	}
	return refs
}

func (v *validator) step(s *Step) {
	where := fmt.Sprintf("step %s", s.Name)
	v.hostRequirements(where, s.HostRequirements)
	settings := map[string]bool{}
	for _, env := range s.StepEnvironments {
		ew := fmt.Sprintf("%s: environment %q", where, env.Name)
		if env.Name == "" {
			v.errorf("%s: an environment needs a name", where)
		}
		if len(env.Variables) == 0 {
			v.errorf("%s: no variables (condachan's environments only set variables)", ew)
		}
		for name, val := range env.Variables {
			if !envNameRe.MatchString(name) {
				v.errorf("%s: %q is not an environment variable name", ew, name)
			}
			v.formatString(ew+": "+name, val, scopeEnvVars, nil)
			settings[name] = true
		}
	}

	files := map[string]bool{}
	filenames := map[string]bool{}
	for _, f := range s.Script.EmbeddedFiles {
		fw := fmt.Sprintf("%s: embedded file %s", where, f.Name)
		if !identifierRe.MatchString(f.Name) {
			v.errorf("%s: the name is not an identifier", fw)
		}
		if files[f.Name] {
			v.errorf("%s: defined twice", fw)
		}
		files[f.Name] = true
		if f.Type != "TEXT" {
			v.errorf("%s: type %q is not TEXT", fw, f.Type)
		}
		if f.Filename == "" || path.Base(f.Filename) != f.Filename || strings.ContainsAny(f.Filename, `\/:`) || len(f.Filename) > 64 {
			v.errorf("%s: filename %q must be a plain file name of at most 64 characters", fw, f.Filename)
		}
		if filenames[strings.ToLower(f.Filename)] {
			v.errorf("%s: filename %s is used twice", fw, f.Filename)
		}
		filenames[strings.ToLower(f.Filename)] = true
		if f.Data == "" {
			v.errorf("%s: no data", fw)
		}
		switch strings.ToLower(path.Ext(f.Filename)) {
		case ".ps1", ".cmd", ".bat":
			// Windows PowerShell reads a file without a byte order mark in the ANSI code
			// page, and cmd.exe in the OEM one: only ASCII means the same to both.
			for i, r := range f.Data {
				if r > 0x7e || (r < 0x20 && r != '\n' && r != '\t' && r != '\r') {
					v.errorf("%s: character %q at byte %d is not printable ASCII", fw, r, i)
					break
				}
			}
		}
	}
	for _, f := range s.Script.EmbeddedFiles {
		v.formatString(fmt.Sprintf("%s: embedded file %s", where, f.Name), f.Data, scopeStepScript, files)
	}

	run := s.Script.Actions.OnRun
	refs := v.formatString(where+": onRun command", run.Command, scopeStepScript, files)
	for i, a := range run.Args {
		v.formatString(fmt.Sprintf("%s: onRun args[%d]", where, i), a, scopeStepScript, files)
	}
	if len(refs) != 1 || strings.TrimSpace(run.Command) != "{{"+refs[0]+"}}" || !strings.HasPrefix(refs[0], "Task.File.") {
		v.errorf("%s: the command must be an embedded file ({{Task.File.NAME}}), the launcher that works on every OS", where)
	} else if f := embeddedFile(s, strings.TrimPrefix(refs[0], "Task.File.")); f != nil && !f.Runnable {
		v.errorf("%s: the command's embedded file %s is not runnable", where, f.Name)
	}
	if c := run.Cancelation; c != nil {
		switch c.Mode {
		case "TERMINATE":
			if c.NotifyPeriodInSeconds != nil {
				v.errorf("%s: notifyPeriodInSeconds belongs to NOTIFY_THEN_TERMINATE", where)
			}
		case "NOTIFY_THEN_TERMINATE":
			if n := c.NotifyPeriodInSeconds; n != nil && (*n < 1 || *n > 600) {
				v.errorf("%s: notifyPeriodInSeconds must be 1 to 600", where)
			}
		default:
			v.errorf("%s: cancelation mode %q is not TERMINATE or NOTIFY_THEN_TERMINATE", where, c.Mode)
		}
	}
	if run.Timeout != nil && *run.Timeout < 1 {
		v.errorf("%s: timeout must be positive", where)
	}
	v.scripts(where, s, settings)
}

// scripts checks that the POSIX and PowerShell scripts read the same settings, and only
// settings the step environment sets.
func (v *validator) scripts(where string, s *Step, settings map[string]bool) {
	read := map[string]map[string]bool{} // extension -> settings read
	for _, f := range s.Script.EmbeddedFiles {
		ext := strings.ToLower(path.Ext(f.Filename))
		if ext != ".sh" && ext != ".ps1" {
			continue
		}
		if read[ext] == nil {
			read[ext] = map[string]bool{}
		}
		for _, name := range settingRe.FindAllString(f.Data, -1) {
			read[ext][name] = true
			if !settings[name] {
				v.errorf("%s: %s reads %s, which no environment of the step sets", where, f.Filename, name)
			}
		}
	}
	if read[".sh"] == nil || read[".ps1"] == nil {
		v.errorf("%s: needs a POSIX (.sh) and a PowerShell (.ps1) script", where)
		return
	}
	var names []string
	for name := range settings {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, ext := range []string{".sh", ".ps1"} {
			if !read[ext][name] {
				v.errorf("%s: the %s script does not read %s", where, ext, name)
			}
		}
	}
}

func embeddedFile(s *Step, name string) *EmbeddedFile {
	for i := range s.Script.EmbeddedFiles {
		if s.Script.EmbeddedFiles[i].Name == name {
			return &s.Script.EmbeddedFiles[i]
		}
	}
	return nil
}

func (v *validator) hostRequirements(where string, hr *HostRequirements) {
	if hr == nil {
		v.errorf("%s: no hostRequirements (the worker's OS and CPU must be chosen)", where)
		return
	}
	if len(hr.Amounts)+len(hr.Attributes) == 0 || len(hr.Amounts)+len(hr.Attributes) > 50 {
		v.errorf("%s: hostRequirements need 1 to 50 requirements", where)
	}
	attrs := map[string]bool{}
	for _, a := range hr.Attributes {
		aw := fmt.Sprintf("%s: host requirement %s", where, a.Name)
		if attrs[a.Name] {
			v.errorf("%s: given twice", aw)
		}
		attrs[a.Name] = true
		allowed, standard := standardAttributes[a.Name]
		if !standard {
			if !customCapability(a.Name, customAttributeRe, "attr.worker.") {
				v.errorf("%s: not a standard attribute, nor a custom one (attr.<name>, not under attr.worker.)", aw)
				continue
			}
			if len(a.AnyOf) == 0 && len(a.AllOf) == 0 {
				v.errorf("%s: needs anyOf or allOf", aw)
			}
			for _, val := range append(append([]string{}, a.AnyOf...), a.AllOf...) {
				if !attributeValueRe.MatchString(val) {
					v.errorf("%s: value %q: expected a letter or _, then letters, digits, _ and -", aw, val)
				}
			}
			continue
		}
		if len(a.AnyOf) == 0 && len(a.AllOf) == 0 {
			v.errorf("%s: needs anyOf or allOf", aw)
		}
		for _, val := range append(append([]string{}, a.AnyOf...), a.AllOf...) {
			refs := v.formatString(aw, val, scopeJob, nil)
			if len(refs) == 0 {
				if !contains(allowed, val) {
					v.errorf("%s: %q is not one of %s", aw, val, strings.Join(allowed, ", "))
				}
				continue
			}
			// A parameter's value must be a valid attribute value whatever the user picks.
			for _, ref := range refs {
				p := v.t.Parameter(strings.TrimPrefix(strings.TrimPrefix(ref, "Raw"), "Param."))
				if p == nil {
					continue
				}
				if len(p.AllowedValues) == 0 {
					v.errorf("%s: {{%s}} needs allowedValues from %s", aw, ref, strings.Join(allowed, ", "))
				}
				for _, pv := range p.AllowedValues {
					if !contains(allowed, pv) {
						v.errorf("%s: parameter %s allows %q, which is not one of %s", aw, p.Name, pv, strings.Join(allowed, ", "))
					}
				}
			}
		}
	}
	for _, name := range []string{"attr.worker.os.family", "attr.worker.cpu.arch"} {
		if !attrs[name] {
			v.errorf("%s: no %s requirement", where, name)
		}
	}
	amounts := map[string]bool{}
	for _, a := range hr.Amounts {
		aw := fmt.Sprintf("%s: host requirement %s", where, a.Name)
		if amounts[a.Name] {
			v.errorf("%s: given twice", aw)
		}
		amounts[a.Name] = true
		least, standard := standardAmounts[a.Name]
		if !standard && !customCapability(a.Name, customAmountRe, "amount.worker.") {
			v.errorf("%s: not a standard amount, nor a custom one (amount.<name>, not under amount.worker.)", aw)
			continue
		}
		if a.Min == nil && a.Max == nil {
			v.errorf("%s: needs min or max", aw)
		}
		if a.Min != nil && *a.Min < least {
			v.errorf("%s: min %v is below %v", aw, *a.Min, least)
		}
		if a.Max != nil && (*a.Max <= 0 || (a.Min != nil && *a.Max < *a.Min)) {
			v.errorf("%s: max must be positive and at least min", aw)
		}
	}
	for _, name := range []string{"amount.worker.vcpu", "amount.worker.memory"} {
		if !amounts[name] {
			v.errorf("%s: no %s requirement", where, name)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
