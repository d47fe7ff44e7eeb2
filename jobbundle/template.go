package jobbundle

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Template is the part of an OpenJD 2023-09 job template that condachan's bundles use.
// ParseTemplate refuses keys outside it, so that a typo cannot hide.
type Template struct {
	SpecificationVersion string      `yaml:"specificationVersion"`
	Schema               string      `yaml:"$schema,omitempty"`
	Name                 string      `yaml:"name"`
	Description          string      `yaml:"description,omitempty"`
	Parameters           []Parameter `yaml:"parameterDefinitions,omitempty"`
	JobEnvironments      []Env       `yaml:"jobEnvironments,omitempty"`
	Steps                []Step      `yaml:"steps"`
}

// Parameter is a job parameter definition.
type Parameter struct {
	Name          string   `yaml:"name"`
	Type          string   `yaml:"type"`
	Description   string   `yaml:"description,omitempty"`
	Default       *string  `yaml:"default,omitempty"`
	AllowedValues []string `yaml:"allowedValues,omitempty"`
	MinLength     *int     `yaml:"minLength,omitempty"`
	MaxLength     *int     `yaml:"maxLength,omitempty"`
	// MinValue and MaxValue bound an INT parameter.
	MinValue      *int64         `yaml:"minValue,omitempty"`
	MaxValue      *int64         `yaml:"maxValue,omitempty"`
	ObjectType    string         `yaml:"objectType,omitempty"`
	DataFlow      string         `yaml:"dataFlow,omitempty"`
	UserInterface *UserInterface `yaml:"userInterface,omitempty"`
}

// UserInterface describes a parameter's control in submitter UIs.
type UserInterface struct {
	Control           string       `yaml:"control,omitempty"`
	Label             string       `yaml:"label,omitempty"`
	GroupLabel        string       `yaml:"groupLabel,omitempty"`
	FileFilters       []FileFilter `yaml:"fileFilters,omitempty"`
	FileFilterDefault *FileFilter  `yaml:"fileFilterDefault,omitempty"`
}

// FileFilter is a file dialog filter.
type FileFilter struct {
	Label    string   `yaml:"label"`
	Patterns []string `yaml:"patterns"`
}

// Step is a step template.
type Step struct {
	Name             string            `yaml:"name"`
	Description      string            `yaml:"description,omitempty"`
	Dependencies     []map[string]any  `yaml:"dependencies,omitempty"`
	StepEnvironments []Env             `yaml:"stepEnvironments,omitempty"`
	HostRequirements *HostRequirements `yaml:"hostRequirements,omitempty"`
	Script           StepScript        `yaml:"script"`
}

// Env is an environment.
type Env struct {
	Name        string            `yaml:"name"`
	Description string            `yaml:"description,omitempty"`
	Variables   map[string]string `yaml:"variables,omitempty"`
	// VariableOrder keeps the variables in file order (filled by ParseTemplate).
	VariableOrder []string `yaml:"-"`
}

// HostRequirements are a step's requirements on the worker.
type HostRequirements struct {
	Amounts    []Amount    `yaml:"amounts,omitempty"`
	Attributes []Attribute `yaml:"attributes,omitempty"`
}

// Amount is an amount requirement.
type Amount struct {
	Name string   `yaml:"name"`
	Min  *float64 `yaml:"min,omitempty"`
	Max  *float64 `yaml:"max,omitempty"`
}

// Attribute is an attribute requirement.
type Attribute struct {
	Name  string   `yaml:"name"`
	AnyOf []string `yaml:"anyOf,omitempty"`
	AllOf []string `yaml:"allOf,omitempty"`
}

// StepScript is a step's action and embedded files.
type StepScript struct {
	Actions       StepActions    `yaml:"actions"`
	EmbeddedFiles []EmbeddedFile `yaml:"embeddedFiles,omitempty"`
}

// StepActions holds the onRun action.
type StepActions struct {
	OnRun Action `yaml:"onRun"`
}

// Action is a command with arguments.
type Action struct {
	Command     string       `yaml:"command"`
	Args        []string     `yaml:"args,omitempty"`
	Timeout     *int         `yaml:"timeout,omitempty"`
	Cancelation *Cancelation `yaml:"cancelation,omitempty"`
}

// Cancelation is how an action is canceled.
type Cancelation struct {
	Mode                  string `yaml:"mode"`
	NotifyPeriodInSeconds *int   `yaml:"notifyPeriodInSeconds,omitempty"`
}

// EmbeddedFile is a text file written into the session before the action runs.
type EmbeddedFile struct {
	Name     string `yaml:"name"`
	Type     string `yaml:"type"`
	Filename string `yaml:"filename,omitempty"`
	Runnable bool   `yaml:"runnable,omitempty"`
	Data     string `yaml:"data"`
}

// ParseTemplate decodes a job template, refusing unknown keys.
func ParseTemplate(data []byte) (*Template, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var t Template
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("job template: %w", err)
	}
	if err := dec.Decode(new(any)); !errors.Is(err, io.EOF) {
		return nil, errors.New("job template: more than one YAML document")
	}
	// Keep the order of environment variables, which a map loses.
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	orders := variableOrders(&doc)
	i := 0
	for si := range t.Steps {
		for ei := range t.Steps[si].StepEnvironments {
			if i < len(orders) {
				t.Steps[si].StepEnvironments[ei].VariableOrder = orders[i]
			}
			i++
		}
	}
	return &t, nil
}

// variableOrders lists the keys of every steps[*].stepEnvironments[*].variables mapping,
// in document order.
func variableOrders(doc *yaml.Node) [][]string {
	var out [][]string
	root := doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	steps := mapValue(root, "steps")
	if steps == nil {
		return nil
	}
	for _, step := range steps.Content {
		envs := mapValue(step, "stepEnvironments")
		if envs == nil {
			continue
		}
		for _, env := range envs.Content {
			var keys []string
			if vars := mapValue(env, "variables"); vars != nil {
				for i := 0; i+1 < len(vars.Content); i += 2 {
					keys = append(keys, vars.Content[i].Value)
				}
			}
			out = append(out, keys)
		}
	}
	return out
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// Parameter returns the parameter called name, or nil.
func (t *Template) Parameter(name string) *Parameter {
	for i := range t.Parameters {
		if t.Parameters[i].Name == name {
			return &t.Parameters[i]
		}
	}
	return nil
}

// ParameterNames lists the parameters in template order.
func (t *Template) ParameterNames() []string {
	var names []string
	for _, p := range t.Parameters {
		names = append(names, p.Name)
	}
	return names
}

// Step returns the step called name, or nil.
func (t *Template) Step(name string) *Step {
	for i := range t.Steps {
		if t.Steps[i].Name == name {
			return &t.Steps[i]
		}
	}
	return nil
}

// Values returns every parameter's value: the given ones, else the defaults.
func (t *Template) Values(given map[string]string) map[string]string {
	out := map[string]string{}
	for _, p := range t.Parameters {
		if v, ok := given[p.Name]; ok {
			out[p.Name] = v
		} else if p.Default != nil {
			out[p.Name] = *p.Default
		}
	}
	return out
}

// Format strings: {{ Name.Name... }} (2023-09, section 7.3).
var (
	exprRe       = regexp.MustCompile(`\{\{(.*?)\}\}`)
	valueRefRe   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
	identifierRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
)

// References returns the value references of a format string, in order ("Param.X",
// "Task.File.Y", ...).
func References(s string) ([]string, error) {
	var refs []string
	for _, m := range exprRe.FindAllStringSubmatch(s, -1) {
		ref := strings.TrimSpace(m[1])
		if !valueRefRe.MatchString(ref) {
			return nil, fmt.Errorf("format string %q: %q is not a value reference", short(s), ref)
		}
		refs = append(refs, ref)
	}
	if rest := exprRe.ReplaceAllString(s, ""); strings.Contains(rest, "{{") {
		return nil, fmt.Errorf("format string %q: unterminated {{", short(s))
	}
	return refs, nil
}

// Resolve replaces every {{ reference }} in s with its value from symbols, as an OpenJD
// runtime does; a reference that is not there is an error.
func Resolve(s string, symbols map[string]string) (string, error) {
	var firstErr error
	out := exprRe.ReplaceAllStringFunc(s, func(m string) string {
		ref := strings.TrimSpace(m[2 : len(m)-2])
		v, ok := symbols[ref]
		if !ok && firstErr == nil {
			firstErr = fmt.Errorf("format string %q: no value for %s", short(s), ref)
		}
		return v
	})
	if firstErr != nil {
		return "", firstErr
	}
	return out, nil
}

func short(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}
