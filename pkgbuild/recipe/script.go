package recipe

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"

	"github.com/condachan/condachan/internal/globset"
	"github.com/condachan/condachan/internal/matchspec"
	"go.yaml.in/yaml/v3"
)

// This file reads the build keys of rattler-build's recipes that shape a build script
// and what it leaves in the prefix: build.script, build.files as globs,
// prefix_detection, dynamic_linking, always_include_files, always_copy_files,
// post_process, merge_build_and_host_envs, and requirements.build. What condachan cannot
// do as rattler-build does is refused here, with the line.

// Interpreters condachan runs scripts with.
const (
	Bash       = "bash"
	Cmd        = "cmd"
	PowerShell = "powershell"
)

// scriptExtensions maps a script file's extension to its interpreter, as rattler-build
// infers it.
var scriptExtensions = map[string]string{".sh": Bash, ".bash": Bash, ".bat": Cmd, ".cmd": Cmd, ".ps1": PowerShell}

// otherInterpreters are rattler-build's interpreters that condachan does not run.
var otherInterpreters = map[string]bool{"python": true, "perl": true, "rscript": true, "ruby": true, "node": true, "nodejs": true, "nu": true, "nushell": true, "brush": true}

var scriptKeys = []string{"interpreter", "env", "secrets", "content", "file", "cwd"}

// IsWindows tells whether a target platform is a Windows one.
func IsWindows(target string) bool { return strings.HasPrefix(target, "win-") }

// scriptFileExtensions are tried, in order, for a script file named without extension
// (and for the default script, "build").
func scriptFileExtensions(target string) []string {
	if IsWindows(target) {
		return []string{".bat", ".ps1"}
	}
	return []string{".sh"}
}

// defaultScript finds build.sh (unix targets) or build.bat / build.ps1 (Windows targets)
// beside recipe.yaml, as rattler-build does when the recipe has no build.script.
func (p *parse) defaultScript(r *Recipe) Script {
	if f := p.findScriptFile(r, "build"); f != "" {
		return Script{File: f, Interpreter: scriptExtensions[path.Ext(f)]}
	}
	return Script{}
}

// findScriptFile looks a script up in the recipe folder; a name without extension gets
// the platform's script extensions tried in turn.
func (p *parse) findScriptFile(r *Recipe, name string) string {
	if p.folder == nil || !fs.ValidPath(name) {
		return ""
	}
	candidates := []string{name}
	if path.Ext(name) == "" {
		candidates = nil
		for _, ext := range scriptFileExtensions(r.TargetPlatform) {
			candidates = append(candidates, name+ext)
		}
	}
	for _, c := range candidates {
		if st, err := fs.Stat(p.folder, c); err == nil && st.Mode().IsRegular() {
			return c
		}
	}
	return ""
}

// script reads a build.script (or a test's script) value: a string, a list of commands,
// or a mapping with interpreter, env, secrets, content, file and cwd. Its commands keep
// their ${{ }} expressions (checked here, rendered when the build runs).
func (p *parse) script(r *Recipe, n *yaml.Node, field string) Script {
	n = deref(n)
	s := Script{Line: p.at(n).Line}
	var content *yaml.Node
	switch n.Kind {
	case yaml.ScalarNode, yaml.SequenceNode:
		content = n
	case yaml.MappingNode:
		keys := p.mapping(n, field, scriptKeys, scriptKeys)
		if v, ok := keys["interpreter"]; ok {
			s.Interpreter, _ = p.str(p.render(v, field+".interpreter"), field+".interpreter")
			switch {
			case s.Interpreter == Bash || s.Interpreter == Cmd || s.Interpreter == PowerShell:
			case s.Interpreter == "pwsh":
				p.errorf(v, field+".interpreter", "rattler-build calls it powershell (it runs pwsh when it is there)")
			case otherInterpreters[s.Interpreter]:
				p.errorf(v, field+".interpreter", "condachan runs scripts with bash, cmd or powershell, not %s; call %s from a bash or cmd script", s.Interpreter, s.Interpreter)
			default:
				p.errorf(v, field+".interpreter", "unknown interpreter %q (condachan runs bash, cmd and powershell)", s.Interpreter)
			}
		}
		if v, ok := keys["env"]; ok {
			s.Env = p.scriptEnv(p.render(v, field+".env"), field+".env")
		}
		if v, ok := keys["secrets"]; ok {
			for _, it := range p.strItems(p.render(v, field+".secrets"), field+".secrets") {
				if !envNameRe.MatchString(it.s) {
					p.errorf(it.n, it.field, "%q is not an environment variable name", it.s)
				}
				s.Secrets = append(s.Secrets, it.s)
			}
		}
		if v, ok := keys["cwd"]; ok {
			if c, ok := p.str(p.render(v, field+".cwd"), field+".cwd"); ok {
				if err := checkRelPath(c, true); err != nil {
					p.errorf(v, field+".cwd", "%v (it is relative to $PREFIX)", err)
				}
				s.Cwd = c
			}
		}
		file, hasFile := keys["file"]
		content = keys["content"]
		switch {
		case hasFile && content != nil:
			p.errorf(p.at(n), field, "has both file: and content:; use one")
		case hasFile:
			if f, ok := p.str(p.render(file, field+".file"), field+".file"); ok {
				s.File = p.scriptFile(r, f, file, field+".file")
			}
		case content == nil:
			p.errorf(p.at(n), field, "needs file: or content:")
		}
	default:
		p.errorf(n, field, "expected a command, a list of commands or a mapping with file: or content:")
		return s
	}
	if content != nil {
		p.scriptContent(r, &s, content, field, n.Kind != yaml.MappingNode)
	}
	if s.Interpreter == "" {
		if s.File != "" {
			s.Interpreter = scriptExtensions[path.Ext(s.File)]
		} else if IsWindows(r.TargetPlatform) {
			s.Interpreter = Cmd
		} else {
			s.Interpreter = Bash
		}
	}
	return s
}

// scriptContent reads inline commands. A single line without spaces that names a file in
// the recipe folder is that file (rattler-build's `script: build_linux.sh`), unless it
// was given as content:.
func (p *parse) scriptContent(r *Recipe, s *Script, n *yaml.Node, field string, mayBeFile bool) {
	p.raw = true
	items := p.render(n, field)
	p.raw = false
	var list []strItem
	if items.Kind == yaml.ScalarNode {
		if items.Tag != "!!null" {
			list = []strItem{{items.Value, items, field}}
		}
	} else {
		list = p.strItems(items, field)
	}
	if mayBeFile && len(list) == 1 && !strings.Contains(list[0].s, "\n") {
		if f := p.findScriptFile(r, strings.TrimSpace(list[0].s)); f != "" {
			s.File = f
			return
		}
	}
	for _, it := range list {
		if strings.TrimSpace(it.s) == "" {
			continue
		}
		if err := checkScriptTemplate(it.s); err != nil {
			p.errorf(it.n, it.field, "%v", err)
		}
		s.Content = append(s.Content, it.s)
	}
}

// checkScriptTemplate checks the ${{ }} expressions of an inline command, and refuses
// Jinja's {% %} and {# #}: rattler-build renders inline scripts with them (so bash's
// ${#array[@]} starts a comment there), and condachan does not, so such a script would
// not run the same.
func checkScriptTemplate(s string) error {
	for _, tok := range []string{"{%", "{#"} {
		if strings.Contains(s, tok) {
			return fmt.Errorf("%q holds %s, which rattler-build reads as Jinja in inline scripts and condachan does not; move the commands into a script file (build.sh), where both leave them alone", s, tok)
		}
	}
	rest := s
	for {
		i := strings.Index(rest, "${{")
		if i < 0 {
			return nil
		}
		rest = rest[i+3:]
		j := exprEnd(rest)
		if j < 0 {
			return fmt.Errorf("unterminated ${{ in %q", s)
		}
		if _, err := parseExpr(strings.TrimSpace(rest[:j])); err != nil {
			return err
		}
		rest = rest[j+2:]
	}
}

// scriptFile checks a script file named by file: it must exist in the recipe folder.
func (p *parse) scriptFile(r *Recipe, name string, n *yaml.Node, field string) string {
	if err := checkRelPath(name, false); err != nil {
		p.errorf(n, field, "%v (script files are relative to the recipe folder)", err)
		return ""
	}
	clean := path.Clean(name)
	found := p.findScriptFile(r, clean)
	if found == "" {
		exts := ""
		if path.Ext(clean) == "" {
			exts = fmt.Sprintf(" (tried %s)", strings.Join(scriptFileExtensions(r.TargetPlatform), ", "))
		}
		p.errorf(n, field, "no script file %s in the recipe folder%s", clean, exts)
		return ""
	}
	ext := path.Ext(found)
	if scriptExtensions[ext] == "" {
		p.errorf(n, field, "%s: condachan runs .sh (bash), .bat/.cmd (cmd.exe) and .ps1 (PowerShell) scripts", found)
	}
	return found
}

// scriptEnv reads script.env, a mapping of NAME: value in order.
func (p *parse) scriptEnv(n *yaml.Node, field string) []EnvVar {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, field, "expected a mapping of NAME: value")
		return nil
	}
	var out []EnvVar
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		f := field + "." + k.Value
		switch {
		case !envNameRe.MatchString(k.Value):
			p.errorf(k, f, "not a valid environment variable name")
			continue
		case seen[k.Value]:
			p.errorf(k, f, "set twice")
			continue
		}
		seen[k.Value] = true
		val := ""
		if d := deref(v); !(d.Kind == yaml.ScalarNode && d.Tag == "!!null") {
			val, _ = p.str(v, f)
		}
		out = append(out, EnvVar{Line: k.Line, Name: k.Value, Value: val})
	}
	return out
}

// fileGlobs reads rattler-build's build.files: a list of globs, or a mapping with
// include: and exclude:.
func (p *parse) fileGlobs(n *yaml.Node, field string) *FileGlobs {
	fg := &FileGlobs{Line: p.at(n).Line}
	if n.Kind == yaml.MappingNode {
		keys := p.mapping(n, field, []string{"include", "exclude"}, []string{"include", "exclude"})
		if v, ok := keys["include"]; ok {
			fg.Include = p.pathGlobs(v, field+".include")
		}
		if v, ok := keys["exclude"]; ok {
			fg.Exclude = p.pathGlobs(v, field+".exclude")
		}
		return fg
	}
	fg.Include = p.pathGlobs(n, field)
	return fg
}

// pathGlobs reads a list of rattler-build path globs (see globset.CompilePath).
func (p *parse) pathGlobs(n *yaml.Node, field string) []string {
	var out []string
	for _, it := range p.strItems(n, field) {
		if _, err := globset.CompilePath(it.s); err != nil {
			p.errorf(it.n, it.field, "%v", err)
		}
		out = append(out, it.s)
	}
	return out
}

// boolOrGlobs reads a key that is true, false, or a list of globs.
func (p *parse) boolOrGlobs(n *yaml.Node, field string) (bool, []string) {
	d := deref(n)
	if d.Kind == yaml.ScalarNode && d.Tag == "!!bool" {
		b, _ := p.bool(d, field)
		return b, nil
	}
	return false, p.pathGlobs(n, field)
}

func (p *parse) prefixDetection(r *Recipe, n *yaml.Node) {
	const field = "build.prefix_detection"
	keys := p.mapping(n, field, []string{"force_file_type", "ignore", "ignore_binary_files"}, []string{"force_file_type", "ignore", "ignore_binary_files"})
	pd := &r.Build.PrefixDetection
	if v, ok := keys["force_file_type"]; ok {
		ft := p.mapping(v, field+".force_file_type", []string{"text", "binary"}, []string{"text", "binary"})
		if t, ok := ft["text"]; ok {
			pd.ForceText = p.pathGlobs(t, field+".force_file_type.text")
		}
		if b, ok := ft["binary"]; ok {
			pd.ForceBinary = p.pathGlobs(b, field+".force_file_type.binary")
		}
	}
	if v, ok := keys["ignore"]; ok {
		pd.Ignore, pd.IgnoreGlobs = p.boolOrGlobs(v, field+".ignore")
	}
	if v, ok := keys["ignore_binary_files"]; ok {
		pd.IgnoreBinaryFiles, _ = p.bool(v, field+".ignore_binary_files")
	}
}

var dynamicLinkingKeys = []string{"rpaths", "binary_relocation", "missing_dso_allowlist", "rpath_allowlist", "overdepending_behavior", "overlinking_behavior"}

func (p *parse) dynamicLinking(r *Recipe, n *yaml.Node) {
	const field = "build.dynamic_linking"
	keys := p.mapping(n, field, dynamicLinkingKeys, dynamicLinkingKeys)
	dl := &r.Build.DynamicLinking
	dl.Line = p.at(n).Line
	if v, ok := keys["binary_relocation"]; ok {
		dl.RelocationSet = true
		dl.BinaryRelocation, dl.RelocationGlobs = p.boolOrGlobs(v, field+".binary_relocation")
		if len(dl.RelocationGlobs) > 0 {
			dl.BinaryRelocation = true
		}
	}
	if v, ok := keys["rpaths"]; ok {
		for _, it := range p.strItems(v, field+".rpaths") {
			if err := checkRelPath(it.s, true); err != nil {
				p.errorf(it.n, it.field, "%v", err)
			}
			dl.Rpaths = append(dl.Rpaths, it.s)
		}
	}
	if v, ok := keys["rpath_allowlist"]; ok {
		dl.RpathAllowlist = p.pathGlobs(v, field+".rpath_allowlist")
	}
	if v, ok := keys["missing_dso_allowlist"]; ok {
		dl.MissingDSOAllowlist = p.pathGlobs(v, field+".missing_dso_allowlist")
	}
	for _, k := range []struct {
		key string
		dst *bool
	}{{"overlinking_behavior", &dl.OverlinkingError}, {"overdepending_behavior", &dl.OverdependingError}} {
		if v, ok := keys[k.key]; ok {
			if s, ok := p.str(v, field+"."+k.key); ok {
				switch s {
				case "ignore":
				case "error":
					*k.dst = true
				default:
					p.errorf(v, field+"."+k.key, "expected ignore or error, got %q", s)
				}
			}
		}
	}
}

func (p *parse) postProcess(r *Recipe, n *yaml.Node) {
	const field = "build.post_process"
	if n.Kind != yaml.SequenceNode {
		p.errorf(p.at(n), field, "expected a list of {files:, regex:, replacement:} mappings")
		return
	}
	keys := []string{"files", "regex", "replacement"}
	for i, item := range n.Content {
		f := fmt.Sprintf("%s[%d]", field, i)
		m := p.mapping(item, f, keys, keys)
		pp := PostProcess{Line: deref(item).Line}
		for _, k := range keys {
			if _, ok := m[k]; !ok {
				p.errorf(item, f+"."+k, "missing required field")
			}
		}
		if v, ok := m["files"]; ok {
			pp.Files = p.pathGlobs(v, f+".files")
		}
		if v, ok := m["regex"]; ok {
			if pp.Regex, ok = p.str(v, f+".regex"); ok {
				if _, err := regexp.Compile(pp.Regex); err != nil {
					p.errorf(v, f+".regex", "%v", err)
				}
			}
		}
		if v, ok := m["replacement"]; ok {
			pp.Replacement, _ = p.str(v, f+".replacement")
		}
		r.Build.PostProcess = append(r.Build.PostProcess, pp)
	}
}

// globsOrBool reads always_copy_files / always_include_files: a list of globs; false (as
// some recipes write it) is none and true is every file.
func (p *parse) globsOrBool(n *yaml.Node, field string) []string {
	b, globs := p.boolOrGlobs(n, field)
	if b {
		return []string{"**"}
	}
	return globs
}

// buildRequirements reads requirements.build: tools the build script runs, which must be
// on PATH (condachan makes no build environment).
func (p *parse) buildRequirements(r *Recipe, n *yaml.Node) {
	for _, it := range p.strItems(n, "requirements.build") {
		if req, ok := p.toolSpec(it); ok {
			r.Requirements.Build = append(r.Requirements.Build, req)
		}
	}
}

// SpecName is the package name of a match spec: "patchelf >=0.17" is patchelf,
// "conda-forge::cmake" is cmake.
func SpecName(spec string) string {
	if ms, err := matchspec.Parse(spec); err == nil {
		return ms.Name
	}
	f := strings.Fields(spec)
	if len(f) == 0 {
		return ""
	}
	name := f[0]
	if i := strings.Index(name, "::"); i >= 0 {
		name = name[i+2:]
	}
	if i := strings.IndexAny(name, "<>=!~[ "); i >= 0 {
		name = name[:i]
	}
	return strings.ToLower(name)
}

// checkScriptKeys refuses what a script recipe asks of rattler-build that condachan
// does not do, and what only a script recipe can ask for.
func (p *parse) checkScriptKeys(r *Recipe, keys map[string]*yaml.Node) {
	hasScript := !r.Build.Script.Empty()
	b := &r.Build
	if !hasScript {
		// A declarative repack streams from the archives: nothing runs in a prefix, so
		// the keys that shape a script's prefix have nothing to act on.
		for _, k := range []string{"post_process", "always_include_files", "merge_build_and_host_envs"} {
			if v, ok := keys[k]; ok {
				p.errorf(p.at(v), "build."+k, "applies to what a build script leaves in $PREFIX, and this recipe has no build script (condachan streams its sources into the package)")
			}
		}
		if b.DynamicLinking.RelocationSet && b.DynamicLinking.BinaryRelocation {
			p.errorf(p.at(keys["dynamic_linking"]), "build.dynamic_linking.binary_relocation", "condachan's declarative repack packages binaries as they are and never rewrites their RPATHs; drop the key (or set it to false)")
		}
		if len(r.Requirements.Build) > 0 {
			p.errorf(&yaml.Node{Line: r.Requirements.Build[0].Line}, "requirements.build", "build requirements are tools for a build script, and this recipe has none")
		}
		return
	}
	if !b.DynamicLinking.RelocationSet {
		b.DynamicLinking.BinaryRelocation = true // rattler-build's default
	}
	if b.Noarch == "" && b.DynamicLinking.BinaryRelocation && (b.DynamicLinking.OverlinkingError || b.DynamicLinking.OverdependingError) {
		p.errorf(p.at(keys["dynamic_linking"]), "build.dynamic_linking", "overlinking_behavior/overdepending_behavior: error asks for rattler-build's linking checks, which condachan does not run")
	}
}

// RenderCommand renders the ${{ }} expressions of an inline command with the recipe's
// variables and the build's (PREFIX, SRC_DIR, ...), as rattler-build renders inline
// scripts when it runs them.
func (r *Recipe) RenderCommand(cmd string, vars map[string]string) (string, error) {
	if !strings.Contains(cmd, "${{") {
		return cmd, nil
	}
	scope := Scope{}
	for k, v := range r.scope {
		scope[k] = v
	}
	for k, v := range vars {
		scope[k] = v
	}
	v, err := interpolate(cmd, scope)
	if err != nil {
		return "", err
	}
	return ToString(v), nil
}
