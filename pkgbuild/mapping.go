package pkgbuild

import (
	"fmt"
	"path"
	"strings"

	"github.com/condachan/condachan/pkgbuild/recipe"
)

// sourceTree places one source's entries in the source tree: it strips leading
// components (the single top-level folder by default) and prefixes target_directory.
type sourceTree struct {
	name     string // the archive's file name, for messages
	strip    int    // -1: auto, strip the top folder if the archive starts with one
	target   string
	autoTop  string // the folder auto-stripping settled on
	autoSeen bool
}

func newSourceTree(name string, src recipe.Source) *sourceTree {
	t := src.TargetDirectory
	if t == "." {
		t = ""
	}
	return &sourceTree{name: name, strip: src.StripComponents, target: t}
}

// place returns the source-tree path of an archive entry, or "" when the entry is a
// stripped folder itself.
func (t *sourceTree) place(name string, isDir bool) (string, error) {
	rel := name
	switch {
	case t.strip > 0:
		parts := strings.SplitN(name, "/", t.strip+1)
		if len(parts) <= t.strip {
			if isDir {
				return "", nil
			}
			return "", fmt.Errorf("%s: entry %s has fewer than %d leading folders to strip (strip_components)", t.name, name, t.strip)
		}
		rel = parts[t.strip]
	case t.strip < 0:
		top, rest, nested := strings.Cut(name, "/")
		if !t.autoSeen {
			// The first entry decides, as extraction tools do for a single top folder:
			// a folder (or a path inside one) means "strip it", a file at the root means
			// the archive has no single top folder.
			t.autoSeen = true
			if nested || isDir {
				t.autoTop = top
			}
		}
		if t.autoTop == "" {
			break
		}
		if top != t.autoTop {
			return "", fmt.Errorf("%s: entry %s is outside the top-level folder %s/ that the archive started with; "+
				"the archive has several top-level entries, so set strip_components: 0 on this source in the recipe", t.name, name, t.autoTop)
		}
		if !nested {
			if isDir {
				return "", nil
			}
			return "", fmt.Errorf("%s: entry %s is a file where the top-level folder was expected; set strip_components: 0 on this source", t.name, name)
		}
		rel = rest
	}
	if rel == "" {
		return "", nil
	}
	if t.target != "" {
		rel = t.target + "/" + rel
	}
	return rel, nil
}

// fileMapper maps source-tree paths to prefix paths through the recipe's files rules.
type fileMapper struct {
	rules []recipe.FileRule
	used  []bool // rules that mapped an entry
}

func newFileMapper(rules []recipe.FileRule) *fileMapper {
	return &fileMapper{rules: rules, used: make([]bool, len(rules))}
}

// unused lists the rules that mapped nothing: most often a from: that names no folder.
func (m *fileMapper) unused() []recipe.FileRule {
	var out []recipe.FileRule
	for i, r := range m.rules {
		if !m.used[i] {
			out = append(out, r)
		}
	}
	return out
}

// dest returns the prefix path for a source-tree path, whether it is packaged, and
// whether a rule marks it executable.
func (m *fileMapper) dest(p string) (dest string, packaged, executable bool) {
	if len(m.rules) == 0 {
		return p, true, false
	}
	for i, r := range m.rules {
		rel, ok := under(p, r.From)
		if !ok {
			continue
		}
		if len(r.Include) > 0 && !matchAny(r.Include, rel) {
			continue
		}
		if matchAny(r.Exclude, rel) {
			continue
		}
		exec := matchAny(r.Executable, rel)
		m.used[i] = true
		if r.To == "." {
			return rel, true, exec
		}
		return r.To + "/" + rel, true, exec
	}
	return "", false, false
}

// under returns p relative to dir when p is strictly below dir ("." holds everything).
// dir may hold glob characters (installer/Packages/Maya*.rpm), matched per component.
func under(p, dir string) (string, bool) {
	if dir == "." {
		return p, true
	}
	if !strings.ContainsAny(dir, "*?[") {
		if strings.HasPrefix(p, dir+"/") {
			return p[len(dir)+1:], true
		}
		return "", false
	}
	pat, parts := strings.Split(dir, "/"), strings.Split(p, "/")
	if len(parts) <= len(pat) || !matchComponents(pat, parts[:len(pat)]) {
		return "", false
	}
	return strings.Join(parts[len(pat):], "/"), true
}

// matchComponents matches path components against glob components one by one.
func matchComponents(pat, parts []string) bool {
	for i := range pat {
		if ok, _ := path.Match(pat[i], parts[i]); !ok {
			return false
		}
	}
	return true
}

// reachesInto tells whether a rule's from lies inside the file at p (or is p): p is then
// an archive whose entries the rule maps, opened where it streams.
func (m *fileMapper) reachesInto(p string) bool {
	parts := strings.Split(p, "/")
	for _, r := range m.rules {
		if r.From == "." {
			continue
		}
		pat := strings.Split(r.From, "/")
		if len(pat) >= len(parts) && matchComponents(pat[:len(parts)], parts) {
			return true
		}
	}
	return false
}

func matchAny(globs []string, rel string) bool {
	for _, g := range globs {
		if matchGlob(g, rel) {
			return true
		}
	}
	return false
}

// matchGlob matches a slash path against a glob: `*`, `?` and `[...]` within one path
// component, `**` across any number of components. A pattern without a slash matches
// the last component at any depth, as in .gitignore.
func matchGlob(pattern, p string) bool {
	if !strings.Contains(pattern, "/") {
		ok, _ := path.Match(pattern, path.Base(p))
		return ok
	}
	return matchParts(strings.Split(pattern, "/"), strings.Split(p, "/"))
}

func matchParts(pat, parts []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for len(pat) > 0 && pat[0] == "**" {
				pat = pat[1:]
			}
			if len(pat) == 0 {
				return true
			}
			for i := 0; i <= len(parts); i++ {
				if matchParts(pat, parts[i:]) {
					return true
				}
			}
			return false
		}
		if len(parts) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], parts[0]); !ok {
			return false
		}
		pat, parts = pat[1:], parts[1:]
	}
	return len(parts) == 0
}
