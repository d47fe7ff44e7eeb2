// Package pkgbuild turns a recipe and its upstream archives into a .conda package in one
// streaming pass: the archive is decoded, each entry mapped into the prefix, hashed and
// written into the zstd-compressed pkg member without ever being extracted to disk.
// Metadata (index.json, paths.json, about.json, ...) is derived on the way and written
// into the info member at the end.
package pkgbuild

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/condachan/condachan/input"
	"github.com/condachan/condachan/internal/progress"
	"github.com/condachan/condachan/pkgbuild/archive"
	"github.com/condachan/condachan/pkgbuild/condapkg"
	"github.com/condachan/condachan/pkgbuild/recipe"
)

// Options configure one build.
type Options struct {
	Recipe *recipe.Recipe
	// SourceArchives are archives handed over on the command line; they are matched to the
	// recipe's url sources by file name (or taken for the only one).
	SourceArchives []string
	// RemoteArchives are archives read through a file system, such as source archives
	// staged in S3 (channel.FS): they stream into the package without a local copy.
	RemoteArchives []RemoteArchive
	// SearchDirs are folders where archives are looked up by file name.
	SearchDirs []string
	// Staged, when set, is where archives are looked up last, by the sha256 the recipe
	// gives for them: the channel's staging area that `condachan submit --stage-source`
	// fills, so a build job finds every staged source without a parameter for each.
	Staged *StagedSources
	// OutputDir receives <subdir>/<name>-<version>-<build>.conda.
	OutputDir string
	// BuildNumber overrides the recipe's build.number when set. A recipe that sets
	// build.string refuses it (see CheckBuildNumberOverride).
	BuildNumber *int
	// ReserveBuildNumber, when set, gives the build number (as BuildNumber) once every
	// source is found: publish reserves the next free one in the channel then, so that
	// a build refused for what it was given reserves none.
	ReserveBuildNumber func() (int, error)
	Compression        condapkg.Level
	// Timestamp is the package timestamp (SOURCE_DATE_EPOCH for reproducible builds).
	Timestamp time.Time
	Progress  progress.Reporter
	// RunTests runs the recipe's tests on the package before it is put in place; a
	// failing test fails the build.
	RunTests bool
	// Output shows what build and test scripts print, as they print it (nil: only the
	// log beside the package has it).
	Output io.Writer
	// KeepWork keeps the build folder of a failed build, to look inside.
	KeepWork bool
}

// Result describes a built package.
type Result struct {
	Path         string         `json:"path"`
	FileName     string         `json:"fn"`
	Subdir       string         `json:"subdir"`
	Size         int64          `json:"size"`
	SHA256       string         `json:"sha256"`
	MD5          string         `json:"md5"`
	Index        map[string]any `json:"index"`
	Files        int            `json:"files"`
	ContentBytes int64          `json:"content_bytes"`
	Warnings     []string       `json:"warnings,omitempty"`
	// LogPath is the build's log, beside the package (scripts and tests only).
	LogPath      string   `json:"log,omitempty"`
	TestsPassed  []string `json:"tests_passed,omitempty"`
	TestsSkipped []string `json:"tests_skipped,omitempty"`
}

// BuildStringConflictError is returned when a build number override meets a recipe
// that sets build.string.
type BuildStringConflictError struct {
	File        string // the recipe file
	BuildString string
}

func (e *BuildStringConflictError) Error() string {
	return fmt.Sprintf("%s sets build.string (%s), which an overridden build number would not change, so the package name would not match its index.json; drop one of them: the build number override or build.string", e.File, e.BuildString)
}

// Is makes the error match input.ErrInvalid: what was given is at fault.
func (*BuildStringConflictError) Is(target error) bool { return target == input.ErrInvalid }

// CheckBuildNumberOverride tells whether the recipe's build number may be overridden. An
// explicit build.string usually embeds the number, and it is rendered when the recipe is
// parsed, from the recipe's own values (expressions have no build-number variable), so an
// override would leave it as it is: index.json would say one build number and the file
// name another. Such a recipe is refused rather than published under a misleading name.
func CheckBuildNumberOverride(r *recipe.Recipe) error {
	if r.Build.String == "" {
		return nil
	}
	return &BuildStringConflictError{File: r.File, BuildString: r.Build.String}
}

// Build builds the package: it resolves the sources, runs the build script when the
// recipe has one, streams the sources (or the script's prefix) into the package, runs
// the recipe's tests on it, and only then puts it in place. On any error, nothing is
// left in the output folder but the log of a build that opened one (a script build, or a
// build that runs tests): OUTPUT/<subdir>/<stem>.build.log, which the error names. No
// other file is left, and no folder this build made (OUTPUT and its missing parents,
// OUTPUT/<subdir>, OUTPUT/.condachan-work) unless the log or KeepWork's build folder is
// in it; folders that were there before are never removed.
func Build(ctx context.Context, opts Options) (res *Result, err error) {
	r := opts.Recipe
	if opts.BuildNumber != nil || opts.ReserveBuildNumber != nil {
		if err := CheckBuildNumberOverride(r); err != nil {
			return nil, err
		}
	}
	if opts.Progress == nil {
		opts.Progress = progress.Nop{}
	}
	if opts.Timestamp.IsZero() {
		opts.Timestamp = time.Now()
	}
	scripted := !r.Build.Script.Empty()
	if scripted {
		if err := checkScriptRunnable(r); err != nil {
			return nil, err
		}
	}
	sources, err := resolveSources(r, opts.SourceArchives, opts.RemoteArchives, opts.SearchDirs, opts.Staged)
	if err != nil {
		return nil, err
	}
	if opts.ReserveBuildNumber != nil {
		n, err := opts.ReserveBuildNumber()
		if err != nil {
			return nil, err
		}
		opts.BuildNumber = &n
	}
	n := nameThePackage(r, opts.BuildNumber)
	// The output folders are made when the first file goes into them (the log, the work
	// folder or the temporary package), and the ones this build made are taken away again
	// when it fails and they are empty.
	st := &buildState{opts: opts, names: n, outDir: filepath.Join(opts.OutputDir, r.Subdir())}
	defer func() {
		if cerr := st.close(err != nil); err == nil {
			err = cerr
		}
		if err != nil {
			removeEmptyDirs(st.made)
		}
	}()
	if scripted || (opts.RunTests && len(r.TestSpecs) > 0) {
		if err := st.openWorkspace(r); err != nil {
			return nil, err
		}
	}
	var prefix *prefixSource
	if scripted {
		if prefix, err = st.runBuildScript(ctx, r, sources); err != nil {
			return nil, err
		}
		sources = []resolvedSource{prefix.resolved()}
	}
	pkg, err := st.writePackage(ctx, r, sources, prefix)
	if err != nil {
		return nil, err
	}
	defer pkg.discard()
	if opts.RunTests && len(r.TestSpecs) > 0 {
		if err := st.runTests(ctx, r, pkg); err != nil {
			return nil, err
		}
	}
	return st.finish(r, pkg)
}

// hashFile returns the size, sha256 and md5 of a finished package, hashing both digests
// in parallel.
func hashFile(f *os.File) (int64, string, string, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, "", "", err
	}
	sum := func(h hash.Hash) error {
		_, err := io.Copy(h, io.NewSectionReader(f, 0, st.Size()))
		return err
	}
	var wg sync.WaitGroup
	hs := []hash.Hash{sha256.New(), md5.New()}
	errs := make([]error, 2)
	for i := range hs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = sum(hs[i]) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, "", "", err
	}
	return st.Size(), hex.EncodeToString(hs[0].Sum(nil)), hex.EncodeToString(hs[1].Sum(nil)), nil
}

// builder holds the state of one streaming pass.
type builder struct {
	ctx      context.Context
	r        *recipe.Recipe
	pkg      *condapkg.TarWriter
	ts       time.Time
	progress progress.Reporter
	sources  []resolvedSource
	mapper   *fileMapper

	records  []PathRecord
	byPath   map[string]int    // prefix path -> index in records
	dirs     map[string]bool   // directories implied by packaged paths
	links    map[string]string // prefix path of each symlink -> target
	fromSrc  map[string]string // prefix path -> "<archive>: <entry>" for messages
	dirEntry map[string]bool   // directories that appeared as entries (maybe empty)

	deferred []deferredLink

	// fromPrefix is set when a build script's prefix is what streams in.
	fromPrefix *prefixSource
	selection  *fileSelection
	// srcDir is SRC_DIR of a script build, where license files are looked up.
	srcDir string
	// tempDir receives temporary copies of zips inside archives.
	tempDir string
	// topLevel holds the first names of the source tree, for messages.
	topLevel map[string]bool

	licenseWant map[string]bool   // source-tree paths of license files to capture
	licenses    map[string][]byte // captured license files

	buildNumber int
	buildString string

	consumed     atomic.Int64 // source bytes consumed, across sources
	total        int64
	contentBytes int64
	warnings     []string
}

func newBuilder(ctx context.Context, r *recipe.Recipe, pkg *condapkg.TarWriter, ts time.Time, rep progress.Reporter, sources []resolvedSource) *builder {
	b := &builder{
		ctx: ctx, r: r, pkg: pkg, ts: ts, progress: rep, sources: sources,
		mapper:      newFileMapper(r.Build.Files),
		byPath:      map[string]int{},
		dirs:        map[string]bool{},
		links:       map[string]string{},
		fromSrc:     map[string]string{},
		dirEntry:    map[string]bool{},
		licenseWant: map[string]bool{},
		licenses:    map[string][]byte{},
	}
	for _, lf := range r.About.LicenseFile {
		if r.Folder != nil {
			if _, err := fs.Stat(r.Folder, lf); err == nil {
				continue // in the recipe folder
			}
		}
		b.licenseWant[lf] = true
	}
	for _, s := range sources {
		b.total += s.size
	}
	return b
}

func (b *builder) warnf(format string, args ...any) {
	b.warnings = append(b.warnings, fmt.Sprintf(format, args...))
}

// open starts reading a source. Only the first pass reports progress: the extra passes
// for hard links would make it run backwards.
func (b *builder) open(s resolvedSource, base int64, firstPass bool) (*archive.Reader, error) {
	opts := archive.Options{Context: b.ctx, SHA256: s.SHA256, MD5: s.MD5}
	if firstPass {
		opts.Progress = func(n int64) {
			b.consumed.Store(base + n)
			b.progress.Update(base+n, b.total)
		}
	}
	if s.path != "" {
		return archive.Open(s.path, opts)
	}
	return archive.OpenFS(s.fsys, s.fsName, opts)
}

// reserve claims a prefix path for one entry, refusing duplicates and paths that would
// be written through a symlink or clash with a directory.
func (b *builder) reserve(dest, origin string, isLink bool) error {
	if prev, dup := b.fromSrc[dest]; dup {
		return fmt.Errorf("%s: maps to %s, which %s already took; adjust build.files so each path comes from one place", origin, dest, prev)
	}
	if b.dirs[dest] {
		return fmt.Errorf("%s: %s is already a directory in the package", origin, dest)
	}
	for d := path.Dir(dest); d != "."; d = path.Dir(d) {
		if _, isSym := b.links[d]; isSym {
			return fmt.Errorf("%s: %s lies beneath the symlink %s; refusing to write through a link", origin, dest, d)
		}
		// Every file, link and hard link claims its path when it is seen, even when its
		// content comes later (hard links), so this catches them all.
		if prev, taken := b.fromSrc[d]; taken {
			return fmt.Errorf("%s: %s lies beneath %s, which is a file (from %s)", origin, dest, d, prev)
		}
	}
	b.fromSrc[dest] = origin
	for d := path.Dir(dest); d != "."; d = path.Dir(d) {
		if b.dirs[d] {
			break
		}
		b.dirs[d] = true
	}
	return nil
}

func (b *builder) addRecord(rec PathRecord) {
	b.byPath[rec.Path] = len(b.records)
	b.records = append(b.records, rec)
}

func (b *builder) addSymlink(dest, target string, modTime time.Time, origin string) error {
	if err := b.reserve(dest, origin, true); err != nil {
		return err
	}
	if err := b.pkg.WriteSymlink(dest, target, modTime); err != nil {
		return fmt.Errorf("%s: %w", origin, err)
	}
	b.links[dest] = target
	b.addRecord(PathRecord{Path: dest, Softlink: true})
	return nil
}

// checkDest refuses prefix paths that would collide with package metadata.
func checkDest(dest string) error {
	if err := condapkg.CheckPath(dest); err != nil {
		return err
	}
	for _, reserved := range []string{"info", "conda-meta"} {
		if dest == reserved || strings.HasPrefix(dest, reserved+"/") {
			return fmt.Errorf("maps to %s, but %s/ is reserved for conda's own metadata; place it elsewhere with build.files", dest, reserved)
		}
	}
	return nil
}

func (b *builder) addRecipeLinks() error {
	for _, l := range b.r.Build.Links {
		origin := fmt.Sprintf("%s:%d: build.links %s", b.r.File, l.Line, l.Path)
		if err := checkDest(l.Path); err != nil {
			return fmt.Errorf("%s: %w", origin, err)
		}
		if err := b.addSymlink(l.Path, l.Target, b.ts, origin); err != nil {
			return err
		}
		resolved, err := b.resolve(l.Path)
		if err != nil {
			return fmt.Errorf("%s: %w", origin, err)
		}
		if !b.exists(resolved) {
			return fmt.Errorf("%s -> %s: the target %s is not in the package (check build.files and the archive layout)", origin, l.Target, resolved)
		}
	}
	return nil
}

func (b *builder) addActivation() error {
	scripts, err := activationScripts(b.r.Package.Name, b.r.Build.Activation)
	if err != nil {
		return fmt.Errorf("%s: %w", b.r.File, err)
	}
	for _, s := range scripts {
		origin := "activation script " + s.path
		if err := b.reserve(s.path, origin, false); err != nil {
			return err
		}
		fr, err := b.pkg.WriteBytes(s.path, 0o644, s.body)
		if err != nil {
			return err
		}
		b.addRecord(PathRecord{Path: s.path, SHA256: fr.SHA256, Size: fr.Size})
	}
	for _, p := range b.r.Build.Activation.PathPrepend {
		if !b.dirs[p] {
			b.warnf("build.activation.path_prepend: %s is not a directory in the package", p)
		}
	}
	return nil
}

// resolve follows symlinks (within the package) from a prefix path to the path it
// finally names. It fails when a link leads outside the prefix or links loop.
func (b *builder) resolve(p string) (string, error) {
	return resolveIn(b.links, p)
}

func resolveIn(links map[string]string, p string) (string, error) {
	hops := 0
	var walk func(parts []string) ([]string, error)
	// cur holds resolved components; each component of the input is appended and, if the
	// path so far is a symlink, replaced by the link's target resolved against its dir.
	walk = func(parts []string) ([]string, error) {
		var cur []string
		for i := 0; i < len(parts); i++ {
			c := parts[i]
			switch c {
			case "", ".":
				continue
			case "..":
				if len(cur) == 0 {
					return nil, fmt.Errorf("%s resolves outside the prefix", p)
				}
				cur = cur[:len(cur)-1]
				continue
			}
			cur = append(cur, c)
			target, isLink := links[strings.Join(cur, "/")]
			if !isLink {
				continue
			}
			hops++
			if hops > 40 {
				return nil, fmt.Errorf("%s: too many levels of symlinks (a loop?)", p)
			}
			next := append(append(append([]string{}, cur[:len(cur)-1]...), strings.Split(target, "/")...), parts[i+1:]...)
			return walk(next)
		}
		return cur, nil
	}
	parts, err := walk(strings.Split(p, "/"))
	if err != nil {
		return "", err
	}
	return strings.Join(parts, "/"), nil
}

func (b *builder) exists(p string) bool {
	if p == "" {
		return true // the prefix itself
	}
	_, isFile := b.byPath[p]
	return isFile || b.dirs[p]
}

// finishLinks checks every symlink against the whole package, now that it is known, and
// fills the hash and size paths.json records for links (those of the file they name,
// as conda-build does).
func (b *builder) finishLinks() error {
	dangling := 0
	var first string
	for linkPath := range b.links {
		resolved, err := b.resolve(linkPath)
		if err != nil {
			return fmt.Errorf("symlink %s -> %s: %w", linkPath, b.links[linkPath], err)
		}
		rec := &b.records[b.byPath[linkPath]]
		rec.SHA256, rec.Size = emptySHA256, 0
		if i, ok := b.byPath[resolved]; ok && !b.records[i].Softlink {
			rec.SHA256, rec.Size = b.records[i].SHA256, b.records[i].Size
		} else if !b.exists(resolved) {
			dangling++
			if first == "" || linkPath < first {
				first = linkPath
			}
		}
	}
	if dangling > 0 {
		b.warnf("%d symlink(s) point to nothing inside the package (first: %s -> %s)", dangling, first, b.links[first])
	}
	return nil
}

func (b *builder) warnEmptyDirs() {
	var empty []string
	for d := range b.dirEntry {
		if !b.dirs[d] {
			if _, taken := b.fromSrc[d]; !taken {
				empty = append(empty, d)
			}
		}
	}
	if len(empty) == 0 {
		return
	}
	sort.Strings(empty)
	b.warnf("%d empty director%s left out (conda cannot install empty directories; add a file such as .keep if one is needed): %s",
		len(empty), map[bool]string{true: "y", false: "ies"}[len(empty) == 1], strings.Join(empty[:min(len(empty), 5)], ", "))
}

// writeInfo writes the info member.
func (b *builder) writeInfo(info *condapkg.TarWriter, index map[string]any) error {
	r := b.r
	put := func(name string, data []byte) error {
		_, err := info.WriteBytes(name, 0o644, data)
		return err
	}
	licenseNames, err := b.licenseFiles()
	if err != nil {
		return err
	}
	if err := put("info/index.json", mustIndent(index)); err != nil {
		return err
	}
	if err := put("info/paths.json", pathsJSON(b.records)); err != nil {
		return err
	}
	if err := put("info/files", filesList(b.records)); err != nil {
		return err
	}
	var names []string
	for _, l := range licenseNames {
		names = append(names, l.name)
	}
	if err := put("info/about.json", aboutJSON(r, names)); err != nil {
		return err
	}
	if !r.Requirements.RunExports.Empty() {
		if err := put("info/run_exports.json", runExportsJSON(r.Requirements.RunExports)); err != nil {
			return err
		}
	}
	if r.Build.Noarch != "" {
		if err := put("info/link.json", linkJSON(r.Build.Noarch)); err != nil {
			return err
		}
	}
	for _, l := range licenseNames {
		if err := put("info/licenses/"+l.name, l.data); err != nil {
			return err
		}
	}
	if len(r.Tests) > 0 {
		tests, err := yaml.Marshal(r.Tests)
		if err != nil {
			return err
		}
		if err := put("info/tests/tests.yaml", tests); err != nil {
			return err
		}
	}
	return b.writeRecipeCopy(put)
}

type licenseFile struct {
	name string
	data []byte
}

// licenseFiles gathers about.license_file from the recipe folder or the source tree.
func (b *builder) licenseFiles() ([]licenseFile, error) {
	var out []licenseFile
	seen := map[string]bool{}
	for _, lf := range b.r.About.LicenseFile {
		var data []byte
		if b.licenseWant[lf] {
			d, ok := b.licenses[lf]
			if !ok {
				return nil, fmt.Errorf("%s: about.license_file %s is neither in the recipe folder nor in the source tree", b.r.File, lf)
			}
			data = d
		} else {
			d, err := b.readLicense(lf)
			if err != nil {
				return nil, err
			}
			data = d
		}
		name := path.Base(lf)
		if seen[name] {
			name = strings.ReplaceAll(lf, "/", "_")
		}
		seen[name] = true
		out = append(out, licenseFile{name, data})
	}
	return out, nil
}

// readLicense reads a license file from the recipe folder, or for a script build from
// SRC_DIR (where rattler-build looks next).
func (b *builder) readLicense(lf string) ([]byte, error) {
	d, err := fs.ReadFile(b.r.Folder, lf)
	if err == nil {
		return d, nil
	}
	if b.srcDir != "" {
		if d, serr := os.ReadFile(filepath.Join(b.srcDir, filepath.FromSlash(lf))); serr == nil {
			return d, nil
		}
		return nil, fmt.Errorf("%s: about.license_file %s is neither in the recipe folder nor in SRC_DIR", b.r.File, lf)
	}
	return nil, fmt.Errorf("%s: about.license_file %s: %w", b.r.File, lf, err)
}

// maxRecipeFile is the largest file of the recipe folder copied into info/recipe/.
const maxRecipeFile = 1 << 20

// writeRecipeCopy stores the recipe folder as info/recipe/ (recipe.yaml first), plus the
// recipe as rendered for this platform, so a package always tells how it was made. The
// folder may also hold source archives (it is searched for them) and build output, which
// the package must not swallow: path sources, archives, packages and any file over
// 1 MiB are left out.
func (b *builder) writeRecipeCopy(put func(string, []byte) error) error {
	if err := put("info/recipe/recipe.yaml", b.r.Source); err != nil {
		return err
	}
	if b.r.Folder != nil {
		skip := map[string]bool{}
		for _, s := range b.r.Sources {
			if s.IsPath() {
				skip[path.Clean(s.Path)] = true
			}
		}
		var files, left []string
		err := fs.WalkDir(b.r.Folder, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if skip[p] || (p != "." && strings.HasPrefix(d.Name(), ".")) {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() || p == recipe.FileName {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			if info.Size() > maxRecipeFile || isArchiveName(d.Name()) {
				left = append(left, p)
				return nil
			}
			files = append(files, p)
			return nil
		})
		if err != nil {
			return fmt.Errorf("copy recipe folder: %w", err)
		}
		if len(left) > 0 {
			sort.Strings(left)
			b.warnf("info/recipe/ leaves out %d archive(s) or large file(s) of the recipe folder: %s", len(left), strings.Join(left[:min(len(left), 5)], ", "))
		}
		sort.Strings(files)
		for _, f := range files {
			data, err := fs.ReadFile(b.r.Folder, f)
			if err != nil {
				return err
			}
			if err := put("info/recipe/"+f, data); err != nil {
				return err
			}
		}
	}
	rendered, err := yaml.Marshal(renderedRecipe(b.r, b.buildNumber, b.buildString))
	if err != nil {
		return err
	}
	return put("info/recipe/rendered_recipe.yaml", rendered)
}

// isArchiveName tells source archives and packages by their names.
func isArchiveName(name string) bool {
	name = strings.ToLower(name)
	for _, ext := range []string{".conda", ".tar.bz2", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.zst", ".tar", ".zip", ".7z", ".whl"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// ctxReader stops a long copy when the build is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
