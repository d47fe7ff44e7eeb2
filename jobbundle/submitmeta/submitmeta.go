// Package submitmeta reads deadline-cloud.yaml, the file the AWS Deadline Cloud sample
// catalogue (aws-deadline/deadline-cloud-samples, conda_recipes/) keeps beside each
// recipe for its submitter: which conda platforms the recipe builds for, which of them are
// submitted by default, the upstream archive each needs and how to get it, extra host
// requirements, and job parameter values.
//
// Every key is read. Keys condachan acts on are honoured; keys it cannot honour
// (variants, conda-build settings, folders as sources) are refused by name when the
// platform that carries them is submitted, so that a studio's folders work as they are
// for the platforms condachan builds, and say what to change for the others.
package submitmeta

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FileName is the file's name beside a recipe.
const FileName = "deadline-cloud.yaml"

// File is a parsed deadline-cloud.yaml.
type File struct {
	// Path names the file in messages.
	Path      string
	Platforms []Platform
	// JobParameters are values for the job's parameters, by name.
	JobParameters []JobParameter
}

// Platform is one condaPlatforms entry.
type Platform struct {
	Line     int
	Platform string // a conda subdir, e.g. linux-64
	// Variant distinguishes entries of one platform (py311, cuda); condachan builds no
	// variants, so an entry that has one is refused when submitted.
	Variant       string
	DefaultSubmit bool
	// BuildTool is rattler-build (recipe.yaml, which condachan reads), conda-build
	// (meta.yaml, which it does not) or empty.
	BuildTool string
	// SourceArchiveFilenames are the upstream archives the build needs, by file name.
	SourceArchiveFilenames []string
	// SourceDownloadInstructions say how to get them; shown when one is missing.
	SourceDownloadInstructions string
	// SourceArchiveDirectory is a folder of sources; refused when submitted.
	SourceArchiveDirectory string
	// AdditionalHostRequirements are added to the build step's host requirements.
	AdditionalHostRequirements HostRequirements
	// unsupported are keys present on this entry that condachan refuses when the entry is
	// submitted, with the reason, by key.
	unsupported map[string]unsupportedKey
}

type unsupportedKey struct {
	line   int
	reason string
}

// HostRequirements are OpenJD host requirements.
type HostRequirements struct {
	Amounts    []Amount
	Attributes []Attribute
}

// Amount is an amount requirement: amount.worker.gpu, min 1.
type Amount struct {
	Line     int
	Name     string
	Min, Max *float64
}

// Attribute is an attribute requirement: attr.worker.os.family, anyOf [linux].
type Attribute struct {
	Line         int
	Name         string
	AnyOf, AllOf []string
}

// JobParameter is one jobParameters entry.
type JobParameter struct {
	Line        int
	Name, Value string
}

// Name is how the entry is selected: the platform, with -variant when it has one (the
// sample submitter's naming: linux-64-py311).
func (p *Platform) Name() string {
	if p.Variant != "" {
		return p.Platform + "-" + p.Variant
	}
	return p.Platform
}

// Error is a problem at a line of the file.
type Error struct {
	Path string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return e.Path + ": " + e.Msg
}

// Find returns the deadline-cloud.yaml that belongs to the recipe in dir of fsys: beside
// recipe.yaml, or one folder up when the recipe is in a folder named recipe (the
// catalogue's layout: <name>/deadline-cloud.yaml, <name>/recipe/recipe.yaml).
func Find(fsys fs.FS, dir string) (string, bool) {
	candidates := []string{path.Join(dir, FileName)}
	if path.Base(dir) == "recipe" {
		candidates = append(candidates, path.Join(path.Dir(dir), FileName))
	}
	for _, c := range candidates {
		if st, err := fs.Stat(fsys, c); err == nil && !st.IsDir() {
			return c, true
		}
	}
	return "", false
}

// Load reads and parses name from fsys; display names it in messages.
func Load(fsys fs.FS, name, display string) (*File, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	return Parse(display, data)
}

// maxFileSize bounds what is parsed: the catalogue's files are under 2 KiB.
const maxFileSize = 1 << 20

// Parse parses a deadline-cloud.yaml; display names it in messages.
func Parse(display string, data []byte) (*File, error) {
	f := &File{Path: display}
	if len(data) > maxFileSize {
		return nil, f.errorf(0, "larger than %d bytes: not a deadline-cloud.yaml", maxFileSize)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, f.errorf(0, "not YAML: %v", err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, f.errorf(0, "empty: it needs a condaPlatforms list")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, f.errorf(root.Line, "expected a mapping with condaPlatforms and jobParameters")
	}
	err := eachKey(f, root, func(key string, k, v *yaml.Node) error {
		switch key {
		case "condaPlatforms":
			return f.parsePlatforms(v)
		case "jobParameters":
			return f.parseJobParameters(v)
		}
		return f.errorf(k.Line, "unknown key %q (known: condaPlatforms, jobParameters)", key)
	})
	if err != nil {
		return nil, err
	}
	if len(f.Platforms) == 0 {
		return nil, f.errorf(root.Line, "condaPlatforms: at least one platform is needed")
	}
	return f, nil
}

func (f *File) errorf(line int, format string, args ...any) error {
	return &Error{Path: f.Path, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// eachKey calls fn for every key of a mapping, refusing repeated keys and keys that are
// not plain strings.
func eachKey(f *File, m *yaml.Node, fn func(key string, k, v *yaml.Node) error) error {
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return f.errorf(k.Line, "expected a key name")
		}
		if seen[k.Value] {
			return f.errorf(k.Line, "%s is given twice", k.Value)
		}
		seen[k.Value] = true
		if err := fn(k.Value, k, v); err != nil {
			return err
		}
	}
	return nil
}

// conda subdirs a platform may name.
var knownPlatforms = []string{
	"linux-64", "linux-aarch64", "linux-ppc64le", "linux-s390x", "linux-armv7l", "linux-32",
	"osx-64", "osx-arm64", "win-64", "win-arm64", "win-32", "noarch",
}

var variantRe = regexp.MustCompile(`^[A-Za-z0-9_.]+(-[A-Za-z0-9_.]+)*$`)

func (f *File) parsePlatforms(v *yaml.Node) error {
	if v.Kind != yaml.SequenceNode {
		return f.errorf(v.Line, "condaPlatforms: expected a list of platforms")
	}
	names := map[string]int{}
	for _, item := range v.Content {
		p, err := f.parsePlatform(item)
		if err != nil {
			return err
		}
		if prev, ok := names[p.Name()]; ok {
			return f.errorf(p.Line, "condaPlatforms: %s is listed twice (also line %d); give each a different variant", p.Name(), prev)
		}
		names[p.Name()] = p.Line
		f.Platforms = append(f.Platforms, p)
	}
	return nil
}

func (f *File) parsePlatform(n *yaml.Node) (Platform, error) {
	p := Platform{Line: n.Line, unsupported: map[string]unsupportedKey{}}
	if n.Kind != yaml.MappingNode {
		return p, f.errorf(n.Line, "condaPlatforms: expected an entry with platform:, defaultSubmit:, ...")
	}
	refuse := func(k *yaml.Node, reason string) {
		p.unsupported[k.Value] = unsupportedKey{k.Line, reason}
	}
	err := eachKey(f, n, func(key string, k, v *yaml.Node) error {
		var err error
		switch key {
		case "platform":
			p.Platform, err = f.str(key, v)
		case "variant":
			if p.Variant, err = f.str(key, v); err == nil && !variantRe.MatchString(p.Variant) {
				err = f.errorf(v.Line, "variant %q: expected letters, digits, . and _", p.Variant)
			}
			refuse(k, "condachan builds no variants: a recipe.yaml builds one package per platform; submit the entry without a variant, or build this one with rattler-build")
		case "defaultSubmit":
			p.DefaultSubmit, err = f.boolean(key, v)
		case "buildTool":
			if p.BuildTool, err = f.str(key, v); err != nil {
				break
			}
			switch p.BuildTool {
			case "rattler-build":
			case "conda-build":
				refuse(k, "this platform is built from recipe/meta.yaml (conda-build's format), which condachan does not read: when recipe.yaml covers the platform, set buildTool: rattler-build; else write it there")
			default:
				err = f.errorf(v.Line, "buildTool %q: expected rattler-build or conda-build", p.BuildTool)
			}
		case "sourceArchiveFilename":
			p.SourceArchiveFilenames, err = f.fileNames(key, v)
		case "sourceDownloadInstructions":
			p.SourceDownloadInstructions, err = f.str(key, v)
		case "sourceArchiveDirectory":
			if p.SourceArchiveDirectory, err = f.str(key, v); err == nil {
				refuse(k, "a job carries source archives, not folders of files: pack the folder into one archive, name it in the recipe's source and in sourceArchiveFilename")
			}
		case "additionalHostRequirements":
			p.AdditionalHostRequirements, err = f.hostRequirements(v)
		case "variantConfig":
			refuse(k, "condachan builds no variants (python, cuda, compilers): the recipe builds as written; remove variantConfig, or build this entry with rattler-build")
		case "condaBuildConfig":
			refuse(k, "conda_build_config.yaml is conda-build's: condachan does not read it; remove condaBuildConfig")
		default:
			err = f.errorf(k.Line, "condaPlatforms: unknown key %q (known: platform, variant, defaultSubmit, buildTool, sourceArchiveFilename, sourceDownloadInstructions, sourceArchiveDirectory, additionalHostRequirements, variantConfig, condaBuildConfig)", key)
		}
		return err
	})
	if err != nil {
		return p, err
	}
	if p.Platform == "" {
		return p, f.errorf(n.Line, "condaPlatforms: an entry has no platform:")
	}
	if !known(p.Platform) {
		return p, f.errorf(n.Line, "platform %q is not a conda platform (known: %s)", p.Platform, strings.Join(knownPlatforms, ", "))
	}
	return p, nil
}

func known(platform string) bool {
	for _, k := range knownPlatforms {
		if k == platform {
			return true
		}
	}
	return false
}

func (f *File) str(key string, v *yaml.Node) (string, error) {
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		return "", f.errorf(v.Line, "%s: expected a string", key)
	}
	return v.Value, nil
}

func (f *File) boolean(key string, v *yaml.Node) (bool, error) {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!bool" {
		var b bool
		if err := v.Decode(&b); err == nil {
			return b, nil
		}
	}
	return false, f.errorf(v.Line, "%s: expected true or false, got %q", key, v.Value)
}

// fileNames reads sourceArchiveFilename: one name, or a list of them. A name is a bare
// file name: the archives are looked for by name in the source folders.
func (f *File) fileNames(key string, v *yaml.Node) ([]string, error) {
	var items []*yaml.Node
	switch v.Kind {
	case yaml.ScalarNode:
		items = []*yaml.Node{v}
	case yaml.SequenceNode:
		items = v.Content
		if len(items) == 0 {
			return nil, f.errorf(v.Line, "%s: an empty list; name the archives, or leave the key out", key)
		}
	default:
		return nil, f.errorf(v.Line, "%s: expected a file name or a list of them", key)
	}
	var out []string
	for _, it := range items {
		s, err := f.str(key, it)
		if err != nil {
			return nil, err
		}
		if s == "" || s == "." || s == ".." || strings.ContainsAny(s, `/\`) || strings.ContainsRune(s, 0) {
			return nil, f.errorf(it.Line, "%s %q: expected a file name (no folders: the archives are looked for by name)", key, s)
		}
		out = append(out, s)
	}
	return out, nil
}

var (
	// Deadline Cloud's capability names (WorkerAmountCapability, WorkerAttributeCapability).
	amountNameRe = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9]{0,63}:)?amount(\.[a-zA-Z][a-zA-Z0-9]{0,63})+$`)
	attrNameRe   = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9]{0,63}:)?attr(\.[a-zA-Z][a-zA-Z0-9]{0,63})+$`)
)

func (f *File) hostRequirements(v *yaml.Node) (HostRequirements, error) {
	var hr HostRequirements
	if v.Kind != yaml.MappingNode {
		return hr, f.errorf(v.Line, "additionalHostRequirements: expected amounts: and/or attributes:")
	}
	err := eachKey(f, v, func(key string, k, v *yaml.Node) error {
		if v.Kind != yaml.SequenceNode {
			return f.errorf(v.Line, "additionalHostRequirements.%s: expected a list", key)
		}
		for _, item := range v.Content {
			if item.Kind != yaml.MappingNode {
				return f.errorf(item.Line, "additionalHostRequirements.%s: expected entries with name:", key)
			}
			switch key {
			case "amounts":
				a, err := f.amount(item)
				if err != nil {
					return err
				}
				hr.Amounts = append(hr.Amounts, a)
			case "attributes":
				a, err := f.attribute(item)
				if err != nil {
					return err
				}
				hr.Attributes = append(hr.Attributes, a)
			default:
				return f.errorf(k.Line, "additionalHostRequirements: unknown key %q (known: amounts, attributes)", key)
			}
		}
		return nil
	})
	return hr, err
}

func (f *File) amount(n *yaml.Node) (Amount, error) {
	a := Amount{Line: n.Line}
	err := eachKey(f, n, func(key string, k, v *yaml.Node) error {
		switch key {
		case "name":
			s, err := f.str(key, v)
			a.Name = s
			return err
		case "min", "max":
			x, err := f.number(key, v)
			if key == "min" {
				a.Min = &x
			} else {
				a.Max = &x
			}
			return err
		}
		return f.errorf(k.Line, "amounts: unknown key %q (known: name, min, max)", key)
	})
	if err != nil {
		return a, err
	}
	switch {
	case !amountNameRe.MatchString(a.Name):
		return a, f.errorf(n.Line, "amounts: name %q: expected amount.<name>, e.g. amount.worker.gpu", a.Name)
	case a.Min == nil && a.Max == nil:
		return a, f.errorf(n.Line, "amounts: %s needs min: and/or max:", a.Name)
	case a.Min != nil && a.Max != nil && *a.Min > *a.Max:
		return a, f.errorf(n.Line, "amounts: %s: min %v is more than max %v", a.Name, *a.Min, *a.Max)
	}
	return a, nil
}

func (f *File) number(key string, v *yaml.Node) (float64, error) {
	if v.Kind == yaml.ScalarNode && (v.Tag == "!!int" || v.Tag == "!!float") {
		x, err := strconv.ParseFloat(v.Value, 64)
		if err == nil && x >= 0 && !math.IsInf(x, 0) && !math.IsNaN(x) {
			return x, nil
		}
	}
	return 0, f.errorf(v.Line, "%s: expected a number of 0 or more, got %q", key, v.Value)
}

func (f *File) attribute(n *yaml.Node) (Attribute, error) {
	a := Attribute{Line: n.Line}
	err := eachKey(f, n, func(key string, k, v *yaml.Node) error {
		switch key {
		case "name":
			s, err := f.str(key, v)
			a.Name = s
			return err
		case "anyOf", "allOf":
			if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
				return f.errorf(v.Line, "attributes: %s: expected a list of values", key)
			}
			var vals []string
			for _, it := range v.Content {
				s, err := f.str(key, it)
				if err != nil {
					return err
				}
				vals = append(vals, s)
			}
			if key == "anyOf" {
				a.AnyOf = vals
			} else {
				a.AllOf = vals
			}
			return nil
		}
		return f.errorf(k.Line, "attributes: unknown key %q (known: name, anyOf, allOf)", key)
	})
	if err != nil {
		return a, err
	}
	switch {
	case !attrNameRe.MatchString(a.Name):
		return a, f.errorf(n.Line, "attributes: name %q: expected attr.<name>, e.g. attr.worker.os.family", a.Name)
	case (a.AnyOf == nil) == (a.AllOf == nil):
		return a, f.errorf(n.Line, "attributes: %s needs one of anyOf: or allOf:", a.Name)
	}
	return a, nil
}

var paramNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (f *File) parseJobParameters(v *yaml.Node) error {
	if v.Kind != yaml.SequenceNode {
		return f.errorf(v.Line, "jobParameters: expected a list of name:/value: entries")
	}
	seen := map[string]bool{}
	for _, item := range v.Content {
		if item.Kind != yaml.MappingNode {
			return f.errorf(item.Line, "jobParameters: expected an entry with name: and value:")
		}
		jp := JobParameter{Line: item.Line}
		hasValue := false
		err := eachKey(f, item, func(key string, k, v *yaml.Node) error {
			switch key {
			case "name":
				s, err := f.str(key, v)
				jp.Name = s
				return err
			case "value":
				if v.Kind != yaml.ScalarNode {
					return f.errorf(v.Line, "jobParameters: value: expected a string or number")
				}
				jp.Value, hasValue = v.Value, true
				if v.Tag == "!!null" {
					jp.Value = ""
				}
				return nil
			}
			return f.errorf(k.Line, "jobParameters: unknown key %q (known: name, value)", key)
		})
		if err != nil {
			return err
		}
		if !paramNameRe.MatchString(jp.Name) {
			return f.errorf(item.Line, "jobParameters: name %q: expected a job parameter name", jp.Name)
		}
		if !hasValue {
			return f.errorf(item.Line, "jobParameters: %s has no value:", jp.Name)
		}
		if seen[jp.Name] {
			return f.errorf(item.Line, "jobParameters: %s is given twice", jp.Name)
		}
		seen[jp.Name] = true
		f.JobParameters = append(f.JobParameters, jp)
	}
	return nil
}

// Platform returns the entry called name (platform, or platform-variant).
func (f *File) Platform(name string) (*Platform, bool) {
	for i := range f.Platforms {
		if f.Platforms[i].Name() == name {
			return &f.Platforms[i], true
		}
	}
	return nil, false
}

// Names lists the entries' names.
func (f *File) Names() []string {
	var out []string
	for i := range f.Platforms {
		out = append(out, f.Platforms[i].Name())
	}
	return out
}

// ErrNoneSelected is returned by Select when no entry is submitted by default.
var ErrNoneSelected = errors.New("no condaPlatforms entry has defaultSubmit: true")

// Select returns the entries to submit: those named (each must exist), every entry with
// all, else those with defaultSubmit: true. The result keeps the file's order.
func (f *File) Select(names []string, all bool) ([]*Platform, error) {
	want := map[string]bool{}
	for _, n := range names {
		if _, ok := f.Platform(n); !ok {
			return nil, fmt.Errorf("%s has no platform %q (it has: %s)", f.Path, n, strings.Join(f.Names(), ", "))
		}
		want[n] = true
	}
	var out []*Platform
	for i := range f.Platforms {
		p := &f.Platforms[i]
		if want[p.Name()] || len(names) == 0 && (all || p.DefaultSubmit) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: %w: name the platforms to submit (%s)", f.Path, ErrNoneSelected, strings.Join(f.Names(), ", "))
	}
	return out, nil
}

// CheckSubmittable refuses an entry that carries keys condachan cannot honour, naming
// each with its line and what to do.
func (f *File) CheckSubmittable(p *Platform) error {
	if len(p.unsupported) == 0 {
		return nil
	}
	keys := make([]string, 0, len(p.unsupported))
	for k := range p.unsupported {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return p.unsupported[keys[i]].line < p.unsupported[keys[j]].line })
	var b strings.Builder
	fmt.Fprintf(&b, "platform %s cannot be built by condachan:", p.Name())
	for _, k := range keys {
		u := p.unsupported[k]
		fmt.Fprintf(&b, "\n  line %d: %s: %s", u.line, k, u.reason)
	}
	return &Error{Path: f.Path, Line: p.Line, Msg: b.String()}
}
