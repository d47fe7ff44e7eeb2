package recipe

import (
	"fmt"

	"github.com/condachan/condachan/internal/globset"
	"go.yaml.in/yaml/v3"
)

// Test is one entry of tests:, read for running after the build.
type Test struct {
	Line int
	// Kind is script, package_contents, or one condachan does not run: python, perl,
	// r, ruby, downstream.
	Kind   string
	Script Script
	// Requirements are the test's requirements.run and requirements.build: tools that
	// must be on PATH (condachan installs only the package itself).
	Requirements []Requirement
	Contents     PackageContents
}

// PackageContents is a package_contents test: globs that must (or must not) match the
// package's paths.
type PackageContents struct {
	Files, SitePackages, Bin, Lib, Include ContentGlobs
	Strict                                 bool
}

// ContentGlobs are the exists and not_exists globs of one package_contents key.
type ContentGlobs struct {
	Exists    []string
	NotExists []string
}

// testKinds are the keys that make a test of each kind, as rattler-build reads them.
var testKinds = []string{"script", "package_contents", "python", "perl", "r", "ruby", "downstream"}

var testKeys = []string{"script", "requirements", "files", "package_contents", "python", "perl", "r", "ruby", "downstream"}

// tests reads tests:, keeping each as written (selectors resolved) for info/tests and
// reading what condachan runs.
func (p *parse) tests(r *Recipe, n *yaml.Node) {
	p.raw = false
	t := p.render(n, "tests")
	if t.Kind != yaml.SequenceNode {
		p.errorf(p.at(n), "tests", "expected a list of tests, got %s", kindName(t))
		return
	}
	for i, item := range t.Content {
		field := fmt.Sprintf("tests[%d]", i)
		r.Tests = append(r.Tests, p.plain(item, field))
		keys := p.mapping(item, field, testKeys, testKeys)
		test := Test{Line: deref(item).Line}
		for _, kind := range testKinds {
			if _, ok := keys[kind]; ok {
				if test.Kind != "" {
					p.errorf(item, field, "a test is one of script, package_contents, python, perl, r, ruby or downstream; this one has %s and %s", test.Kind, kind)
				}
				test.Kind = kind
			}
		}
		for _, k := range []string{"requirements", "files"} {
			if v, ok := keys[k]; ok && test.Kind != "script" {
				p.errorf(p.at(v), field+"."+k, "belongs to a script test")
			}
		}
		switch test.Kind {
		case "":
			p.errorf(item, field, "empty test: give script, package_contents, python, perl, r, ruby or downstream")
			continue
		case "script":
			test.Script = p.script(r, keys["script"], field+".script")
			if v, ok := keys["requirements"]; ok {
				rk := p.mapping(v, field+".requirements", []string{"run", "build"}, []string{"run", "build"})
				for _, k := range []string{"build", "run"} {
					if x, ok := rk[k]; ok {
						for _, it := range p.strItems(x, field+".requirements."+k) {
							if req, ok := p.toolSpec(it); ok {
								test.Requirements = append(test.Requirements, req)
							}
						}
					}
				}
			}
			if v, ok := keys["files"]; ok {
				// rattler-build ships such files in the package under
				// etc/conda/test-files/ and runs the test there.
				p.errorf(p.at(v), field+".files", "test files are not supported by condachan: put what the test needs in the package, or inline it in the script")
			}
		case "package_contents":
			test.Contents = p.packageContents(keys["package_contents"], field+".package_contents")
		}
		r.TestSpecs = append(r.TestSpecs, test)
	}
}

var contentKeys = []string{"files", "site_packages", "bin", "lib", "include", "strict"}

func (p *parse) packageContents(n *yaml.Node, field string) PackageContents {
	var pc PackageContents
	keys := p.mapping(n, field, contentKeys, contentKeys)
	for _, k := range []struct {
		key string
		dst *ContentGlobs
	}{{"files", &pc.Files}, {"site_packages", &pc.SitePackages}, {"bin", &pc.Bin}, {"lib", &pc.Lib}, {"include", &pc.Include}} {
		v, ok := keys[k.key]
		if !ok {
			continue
		}
		f := field + "." + k.key
		if d := deref(v); d.Kind == yaml.MappingNode {
			m := p.mapping(d, f, []string{"exists", "not_exists"}, []string{"exists", "not_exists"})
			if x, ok := m["exists"]; ok {
				k.dst.Exists = p.contentGlobs(x, f+".exists")
			}
			if x, ok := m["not_exists"]; ok {
				k.dst.NotExists = p.contentGlobs(x, f+".not_exists")
			}
		} else {
			k.dst.Exists = p.contentGlobs(v, f)
		}
	}
	if v, ok := keys["strict"]; ok {
		pc.Strict, _ = p.bool(v, field+".strict")
	}
	return pc
}

func (p *parse) contentGlobs(n *yaml.Node, field string) []string {
	var out []string
	for _, it := range p.strItems(n, field) {
		if err := checkContentGlob(it.s); err != nil {
			p.errorf(it.n, it.field, "%v", err)
		}
		out = append(out, it.s)
	}
	return out
}

// checkContentGlob checks a package_contents glob (globset syntax, matched as written).
func checkContentGlob(g string) error {
	_, err := globset.Compile(g)
	return err
}
