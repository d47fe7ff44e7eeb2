package pkgbuild

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/condachan/condachan/pkgbuild/buildscript"
	"github.com/condachan/condachan/pkgbuild/condapkg"
	"github.com/condachan/condachan/pkgbuild/pkgtest"
	"github.com/condachan/condachan/pkgbuild/recipe"
	"github.com/condachan/condachan/pkgbuild/srcdir"
)

// The stages of Build, each a method of the build's state.

// packageNames are the build number and string and the file name of a package.
type packageNames struct {
	buildNumber int
	buildString string
	stem        string
	fileName    string
}

func nameThePackage(r *recipe.Recipe, override *int) packageNames {
	n := packageNames{buildNumber: r.Build.Number, buildString: r.Build.String}
	if override != nil {
		n.buildNumber = *override
	}
	if n.buildString == "" {
		n.buildString = fmt.Sprint(n.buildNumber)
	}
	n.stem = fmt.Sprintf("%s-%s-%s", r.Package.Name, r.Package.Version, n.buildString)
	n.fileName = n.stem + condapkg.Extension
	return n
}

// buildState carries one build through its stages.
type buildState struct {
	opts   Options
	names  packageNames
	outDir string

	made    []string // the folders this build made (see inDir)
	ws      *workspace
	log     *os.File // the build's log, beside the package
	logPath string
	tests   *pkgtest.Report
}

// workParent is the folder under the output folder where build folders are made.
const workParent = ".condachan-work"

// openWorkspace makes the build folder and the log.
func (st *buildState) openWorkspace(r *recipe.Recipe) error {
	parent := filepath.Join(st.opts.OutputDir, workParent)
	err := st.inDir(parent, func() (err error) {
		st.ws, err = newWorkspace(parent, st.names.stem, r.Build.MergeBuildAndHostEnvs)
		return err
	})
	if err != nil {
		return err
	}
	st.logPath = filepath.Join(st.outDir, st.names.stem+".build.log")
	if err := st.inDir(st.outDir, func() (err error) { st.log, err = os.Create(st.logPath); return err }); err != nil {
		return err
	}
	st.logf("condachan building %s for %s in %s", st.names.fileName, r.Subdir(), st.ws.dir)
	return nil
}

// logf writes a line into the log and shows it.
func (st *buildState) logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...) + "\n"
	if st.log != nil {
		io.WriteString(st.log, line)
	}
	if st.opts.Output != nil {
		io.WriteString(st.opts.Output, line)
	}
}

// close ends the log and removes the build folder (kept after a failure with KeepWork).
func (st *buildState) close(failed bool) error {
	var err error
	if st.ws != nil {
		if failed && st.opts.KeepWork {
			st.logf("the build folder is kept: %s", st.ws.dir)
			st.ws.release()
		} else {
			err = st.ws.remove()
			os.Remove(filepath.Dir(st.ws.dir)) // the work parent, when no other build uses it
		}
	}
	if st.log != nil {
		if cerr := st.log.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// withLog names the log in a script's error.
func (st *buildState) withLog(err error) error {
	var se *buildscript.Error
	if errors.As(err, &se) && st.logPath != "" {
		se.LogPath = st.logPath
	}
	if st.log != nil {
		fmt.Fprintf(st.log, "error: %v\n", err) // the caller shows it
	}
	return err
}

// runBuildScript lays the sources out in SRC_DIR, runs the build script, and returns the
// prefix it filled, ready to stream.
func (st *buildState) runBuildScript(ctx context.Context, r *recipe.Recipe, sources []resolvedSource) (*prefixSource, error) {
	ws, rep := st.ws, st.opts.Progress
	ws.recipeDir = r.Dir
	if ws.recipeDir == "" {
		ws.recipeDir = filepath.Join(ws.dir, "recipe")
		if err := materializeRecipe(r, ws.recipeDir); err != nil {
			return nil, err
		}
	}
	staged, err := stagedSources(r, sources)
	if err != nil {
		return nil, err
	}
	var total int64
	for _, s := range sources {
		total += s.size
	}
	rep.Status("unpacking sources into SRC_DIR")
	st.logf("unpacking %d source(s) into %s", len(staged), ws.srcDir)
	started := time.Now()
	err = srcdir.Stage(ctx, ws.srcDir, staged, srcdir.Options{
		Progress: func(n int64) { rep.Update(n, total) },
		Log:      func(s string) { st.logf("%s", s) },
	})
	if err != nil {
		return nil, st.withLog(err)
	}
	st.logf("sources unpacked in %s", since(started))
	cpus := runtime.NumCPU()
	vars := buildscript.Vars(buildscript.Layout{
		Prefix: ws.prefix, BuildPrefix: ws.buildPrefix, SrcDir: ws.srcDir, RecipeDir: ws.recipeDir, BuildDir: ws.dir,
		Name: r.Package.Name, Version: r.Package.Version, BuildNumber: st.names.buildNumber, BuildString: st.names.buildString,
		Target: r.Subdir(), HostPlatform: hostPlatformFor(r), BuildPlatform: HostSubdir(), CPUCount: cpus,
		Timestamp: st.opts.Timestamp,
	})
	spec, err := scriptSpec(r, ws, vars)
	if err != nil {
		return nil, st.withLog(err)
	}
	spec.Log, spec.Output = st.log, st.opts.Output
	rep.Status("running " + spec.Name)
	st.logf("running %s (%s) in %s", spec.Name, spec.Interpreter, ws.srcDir)
	started = time.Now()
	if err := buildscript.Run(ctx, spec); err != nil {
		return nil, st.withLog(err)
	}
	st.logf("%s finished in %s", spec.Name, since(started))
	if err := postProcess(r, ws.prefix); err != nil {
		return nil, st.withLog(err)
	}
	if err := checkRelocation(r, ws.prefix); err != nil {
		return nil, st.withLog(err)
	}
	return newPrefixSource(r, ws.prefix)
}

// hostPlatformFor is the platform a recipe's script runs for: its target, or this
// machine's for noarch.
func hostPlatformFor(r *recipe.Recipe) string {
	if r.Build.Noarch != "" {
		return HostSubdir()
	}
	return r.TargetPlatform
}

// builtPackage is a package written to a temporary file in the output folder.
type builtPackage struct {
	tmp   *os.File
	b     *builder
	index map[string]any
	kept  bool // renamed into place
}

// discard removes the temporary file unless it was put in place.
func (p *builtPackage) discard() {
	if !p.kept {
		p.tmp.Close()
		os.Remove(p.tmp.Name())
	}
}

// writePackage streams the sources (or a script's prefix) into a new .conda.
func (st *buildState) writePackage(ctx context.Context, r *recipe.Recipe, sources []resolvedSource, prefix *prefixSource) (*builtPackage, error) {
	var tmp *os.File
	err := st.inDir(st.outDir, func() (err error) {
		tmp, err = os.CreateTemp(st.outDir, "."+st.names.fileName+".tmp-*")
		return err
	})
	if err != nil {
		return nil, err
	}
	pkgFile := &builtPackage{tmp: tmp}
	started := time.Now()
	if err := st.pack(ctx, r, sources, prefix, pkgFile); err != nil {
		pkgFile.discard()
		return nil, st.withLog(err)
	}
	if st.log != nil {
		fmt.Fprintf(st.log, "packed %d files (%d bytes) in %s\n", len(pkgFile.b.records), pkgFile.b.contentBytes, since(started))
	}
	return pkgFile, nil
}

func (st *buildState) pack(ctx context.Context, r *recipe.Recipe, sources []resolvedSource, prefix *prefixSource, out *builtPackage) error {
	opts, n := st.opts, st.names
	ts := opts.Timestamp.UTC().Truncate(time.Second)
	w, err := condapkg.NewWriter(out.tmp, n.stem, condapkg.Options{Level: opts.Compression, ModTime: ts})
	if err != nil {
		return err
	}
	pkg, err := w.Pkg()
	if err != nil {
		return err
	}
	defer pkg.Abort()
	b := newBuilder(ctx, r, pkg, ts, opts.Progress, sources)
	b.buildNumber, b.buildString = n.buildNumber, n.buildString
	b.tempDir = st.outDir
	if b.selection, err = newFileSelection(r); err != nil {
		return err
	}
	if prefix != nil {
		b.fromPrefix, b.srcDir = prefix, st.ws.srcDir
		b.licenseWant = map[string]bool{} // a script build's license files are in SRC_DIR
		st.logf("packing %s from %s", n.fileName, prefix.root)
	}
	if err := b.streamSources(); err != nil {
		return err
	}
	if err := b.writeDeferredHardlinks(); err != nil {
		return err
	}
	if err := b.checkStreamed(); err != nil {
		return err
	}
	if err := b.addRecipeLinks(); err != nil {
		return err
	}
	if err := b.addActivation(); err != nil {
		return err
	}
	if err := b.finishLinks(); err != nil {
		return err
	}
	b.warnEmptyDirs()
	opts.Progress.Status("finishing " + n.fileName)
	if err := pkg.Close(); err != nil {
		return err
	}
	index := indexJSON(r, n.buildNumber, n.buildString, ts.UnixMilli())
	info, err := w.Info()
	if err != nil {
		return err
	}
	defer info.Abort()
	if err := b.writeInfo(info, index); err != nil {
		return err
	}
	if err := info.Close(); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	// CreateTemp makes the file private; a package is meant to be shared.
	if err := out.tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := out.tmp.Sync(); err != nil {
		return err
	}
	out.b, out.index = b, index
	return nil
}

// runTests runs the recipe's tests on the package before it is put in place.
func (st *buildState) runTests(ctx context.Context, r *recipe.Recipe, pkg *builtPackage) error {
	st.opts.Progress.Status("testing " + st.names.fileName)
	st.logf("testing %s", st.names.fileName)
	testDir := filepath.Join(st.ws.dir, "test")
	if err := os.MkdirAll(testDir, 0o755); err != nil {
		return err
	}
	started := time.Now()
	defer func() { st.logf("tests took %s", since(started)) }()
	rep, err := pkgtest.Run(ctx, r, pkgtest.Options{
		PackagePath: pkg.tmp.Name(), FileName: st.names.fileName, WorkDir: testDir,
		BuildPlatform: HostSubdir(), CPUCount: runtime.NumCPU(), Log: st.log, Output: st.opts.Output,
	})
	st.tests = rep
	if err != nil {
		return st.withLog(err)
	}
	return nil
}

// finish puts the package in place and describes it.
func (st *buildState) finish(r *recipe.Recipe, pkg *builtPackage) (*Result, error) {
	size, sha, md, err := hashFile(pkg.tmp)
	if err != nil {
		return nil, err
	}
	if err := pkg.tmp.Close(); err != nil {
		return nil, err
	}
	final := filepath.Join(st.outDir, st.names.fileName)
	if err := os.Rename(pkg.tmp.Name(), final); err != nil {
		return nil, err
	}
	pkg.kept = true
	st.opts.Progress.Finish()
	b := pkg.b
	res := &Result{
		Path: final, FileName: st.names.fileName, Subdir: r.Subdir(), Size: size, SHA256: sha, MD5: md,
		Index: pkg.index, Files: len(b.records), ContentBytes: b.contentBytes,
		Warnings: b.warnings, LogPath: st.logPath,
	}
	if st.tests != nil {
		res.TestsPassed, res.TestsSkipped = st.tests.Passed, st.tests.Skipped
	}
	if st.log != nil {
		fmt.Fprintf(st.log, "built %s (%d bytes, sha256 %s)\n", final, size, sha) // the caller shows it
	}
	return res, nil
}

// inDir runs create, which makes a file or folder in dir, after making dir and its
// missing parents; the folders it made are noted so that a failed build can take them
// away again. A concurrent build that failed may remove an empty folder between the two,
// so create runs again when it finds no folder.
func (st *buildState) inDir(dir string, create func() error) error {
	for attempt := 1; ; attempt++ {
		made, err := mkdirAllTracked(dir)
		st.made = append(st.made, made...)
		if err != nil {
			return err
		}
		if err = create(); err == nil || attempt == 3 || !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
}

// mkdirAllTracked creates dir and its missing parents, returning the ones it created,
// deepest first. A folder counts as made by this call only when its own os.Mkdir made
// it, never one another process made meanwhile.
func mkdirAllTracked(dir string) ([]string, error) {
	var missing []string // deepest first
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	var made []string
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		err := os.Mkdir(d, 0o755)
		if err == nil {
			made = append([]string{d}, made...)
			continue
		}
		if fi, serr := os.Stat(d); serr == nil && fi.IsDir() {
			continue // made meanwhile by someone else
		}
		removeEmptyDirs(made)
		return nil, err
	}
	return made, nil
}

// removeEmptyDirs removes the folders a failed build made, deepest first, when they are
// empty.
func removeEmptyDirs(dirs []string) {
	dirs = slices.Clone(dirs)
	// a folder's path is longer than its parent's
	slices.SortStableFunc(dirs, func(a, b string) int { return len(b) - len(a) })
	for _, d := range dirs {
		os.Remove(d) // fails, as it should, when something is inside
	}
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }
