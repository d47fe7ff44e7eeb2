package pkgbuild

import (
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/condachan/condachan/internal/globset"
	"github.com/condachan/condachan/pkgbuild/prefixscan"
	"github.com/condachan/condachan/pkgbuild/recipe"
)

// What a build script left in PREFIX streams into the package like a folder source,
// with what rattler-build does on the way: files it never packages are left out, absolute
// symlinks into the prefix become relative, and every file is scanned for the build
// prefix as it is hashed and compressed.

// prefixSource is the streaming side of a script build's prefix.
type prefixSource struct {
	root  string // PREFIX on disk
	rules *prefixscan.Rules
}

func newPrefixSource(r *recipe.Recipe, root string) (*prefixSource, error) {
	pd := r.Build.PrefixDetection
	slash := ""
	if runtime.GOOS == "windows" {
		slash = filepath.ToSlash(root)
	}
	rules, err := prefixscan.NewRules(root, slash, pd.Ignore, pd.IgnoreGlobs, pd.IgnoreBinaryFiles, pd.ForceText, pd.ForceBinary, recipe.IsWindows(r.TargetPlatform))
	if err != nil {
		return nil, fmt.Errorf("%s: build.prefix_detection: %w", r.File, err)
	}
	return &prefixSource{root: root, rules: rules}, nil
}

// resolved is the prefix as a source to stream: a folder taken as it is.
func (p *prefixSource) resolved() resolvedSource {
	return resolvedSource{Source: recipe.Source{StripComponents: 0}, name: "$PREFIX", path: p.root, isDir: true}
}

// excluded tells the prefix paths rattler-build never packages: conda-meta, .DS_Store and
// CACHEDIR.TAG anywhere, .pyo and .la files, share/info/dir, and a .py or .pyc next to
// a compiled module of the same name (.so, .pyd).
func (p *prefixSource) excluded(rel string) bool {
	for _, c := range strings.Split(rel, "/") {
		if c == "conda-meta" || c == ".DS_Store" || c == "CACHEDIR.TAG" {
			return true
		}
	}
	switch ext := path.Ext(rel); {
	case ext == ".pyo" || ext == ".la":
		return true
	case strings.HasPrefix(rel, "share/info/dir"):
		return true
	case ext == ".py" || ext == ".pyc":
		stem := strings.TrimSuffix(rel, ext)
		for _, compiled := range []string{".so", ".pyd"} {
			if _, err := os.Lstat(filepath.Join(p.root, filepath.FromSlash(stem+compiled))); err == nil {
				return true
			}
		}
	}
	return false
}

// linkTarget makes a symlink's target relative: an absolute target inside the prefix
// becomes the relative path to it (as rattler-build does); one outside is an error.
func (p *prefixSource) linkTarget(linkPath, target string) (string, error) {
	native := filepath.FromSlash(target)
	if !filepath.IsAbs(native) && !strings.HasPrefix(target, "/") {
		return target, nil
	}
	rel, err := filepath.Rel(p.root, native)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("symlink %s -> %s points outside $PREFIX, where conda installs the package; copy the file into the prefix or make the link relative to something inside it", linkPath, target)
	}
	from := path.Dir(linkPath)
	out, err := filepath.Rel(filepath.FromSlash(from), rel)
	if err != nil {
		return "", err
	}
	return filepath.ToSlash(out), nil
}

// fileSelection is build.files in rattler-build's glob form plus always_include_files:
// which prefix paths go into the package.
type fileSelection struct {
	globs  *globset.Set
	always []*globset.Glob
	noLink []*globset.Glob // always_copy_files
}

func newFileSelection(r *recipe.Recipe) (*fileSelection, error) {
	fs := &fileSelection{}
	if fg := r.Build.FileGlobs; fg != nil {
		set, err := globset.NewSet(fg.Include, fg.Exclude)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: build.files: %w", r.File, fg.Line, err)
		}
		fs.globs = set
	}
	for _, list := range []struct {
		src []string
		dst *[]*globset.Glob
		key string
	}{{r.Build.AlwaysIncludeFiles, &fs.always, "always_include_files"}, {r.Build.AlwaysCopyFiles, &fs.noLink, "always_copy_files"}} {
		for _, g := range list.src {
			c, err := globset.CompilePath(g)
			if err != nil {
				return nil, fmt.Errorf("%s: build.%s: %w", r.File, list.key, err)
			}
			*list.dst = append(*list.dst, c)
		}
	}
	return fs, nil
}

// keep tells whether a package path is selected.
func (s *fileSelection) keep(p string) bool {
	if s == nil || s.globs == nil {
		return true
	}
	return s.globs.Match(p) || globset.MatchAny(s.always, p)
}

// scannedReader feeds a file's bytes to the prefix scanner on their way into the package.
func scannedReader(r io.Reader, s *prefixscan.Scanner) io.Reader {
	if s == nil {
		return r
	}
	return io.TeeReader(r, s)
}

// noLinkFor tells whether always_copy_files marks a package path no_link.
func (s *fileSelection) noLinkFor(p string) bool {
	return s != nil && globset.MatchAny(s.noLink, p)
}

// scanner starts the prefix scan of a file written from a script's prefix.
func (b *builder) scanner(dest string) *prefixscan.Scanner {
	if b.fromPrefix == nil {
		return nil
	}
	return b.fromPrefix.rules.Scan(dest)
}
