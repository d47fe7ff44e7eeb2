package pkgbuild

import (
	"debug/elf"
	"debug/macho"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"

	"github.com/condachan/condachan/internal/globset"
	"github.com/condachan/condachan/pkgbuild/buildscript"
	"github.com/condachan/condachan/pkgbuild/recipe"
	"github.com/condachan/condachan/pkgbuild/srcdir"
)

// A script build runs the recipe's build script as rattler-build does, in a build folder
// laid out like rattler-build's: the sources in SRC_DIR, the script installing into a
// long, padded PREFIX (so that conda can put any shorter install prefix into binary files
// later), then the prefix streams into the package like an archive does.

// placeholderLength is the length of the build prefix on Unix, rattler-build's: the
// folder name is padded with "_placehold" up to it.
const placeholderLength = 255

// workspace is one script build's folder.
type workspace struct {
	dir         string // BUILD_DIR
	srcDir      string // SRC_DIR
	prefix      string // PREFIX
	buildPrefix string // BUILD_PREFIX
	recipeDir   string // RECIPE_DIR
	lock        string // the lock file beside dir
	windowsHost bool
}

// ScriptError is a build or test script that failed; the full log is at LogPath.
type ScriptError = buildscript.Error

// newWorkspace makes the build folder parent/<stem>. Its path is the same for every build
// of a package into one output folder, because files that hold PREFIX are packaged as
// they are: a random folder name would make every build differ. A lock file beside it
// keeps two builds of the same package apart; one left by a build that died on this
// machine is taken over.
func newWorkspace(parent, stem string, merge bool) (*workspace, error) {
	parent, err := filepath.Abs(parent)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	dir := filepath.Join(parent, stem)
	lock, err := takeBuildLock(dir + ".lock")
	if err != nil {
		return nil, err
	}
	w := &workspace{dir: dir, lock: lock, srcDir: filepath.Join(dir, "work"), buildPrefix: filepath.Join(dir, "build_env"), windowsHost: runtime.GOOS == "windows"}
	if err := w.clear(); err != nil {
		w.remove()
		return nil, err
	}
	if w.prefix, err = paddedPrefix(dir, w.windowsHost); err != nil {
		w.remove()
		return nil, err
	}
	if merge {
		w.buildPrefix = w.prefix
	}
	for _, d := range []string{w.srcDir, w.prefix, w.buildPrefix} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			w.remove()
			return nil, err
		}
	}
	return w, nil
}

// takeBuildLock creates the lock file, or takes over one whose build died on this host.
func takeBuildLock(path string) (string, error) {
	host, _ := os.Hostname()
	me := fmt.Sprintf("%d %s\n", os.Getpid(), host)
	for attempt := 0; attempt < 2; attempt++ {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			_, err = f.WriteString(me)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			return path, err
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
		data, _ := os.ReadFile(path)
		var pid int
		var owner string
		fmt.Sscanf(string(data), "%d %s", &pid, &owner)
		if owner != host || processAlive(pid) {
			return "", fmt.Errorf("another build of this package is running in %s (lock %s held by process %d on %s); wait for it, or remove the lock if that build is gone", strings.TrimSuffix(path, ".lock"), path, pid, owner)
		}
		os.Remove(path) // its build died: take over
	}
	return "", fmt.Errorf("could not take the build lock %s", path)
}

// processAlive tells whether a process of this machine still runs.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	if runtime.GOOS == "windows" {
		return true // FindProcess found it
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

// clear removes what a dead build left in the folder.
func (w *workspace) clear() error {
	if _, err := os.Lstat(w.dir); errors.Is(err, fs.ErrNotExist) {
		return os.Mkdir(w.dir, 0o755)
	}
	if err := w.removeDir(); err != nil {
		return err
	}
	return os.Mkdir(w.dir, 0o755)
}

// paddedPrefix is rattler-build's host prefix: on Unix <dir>/host_env padded with
// "_placehold" to 255 bytes; on Windows (where conda never rewrites binaries) <dir>\h_env.
func paddedPrefix(dir string, windows bool) (string, error) {
	if windows {
		return filepath.Join(dir, "h_env"), nil
	}
	base := filepath.Join(dir, "host_env")
	if len(base) >= placeholderLength-10 {
		return "", &PrefixTooLongError{Dir: dir, Max: placeholderLength - 20}
	}
	pad := strings.Repeat("_placehold", placeholderLength/10+1)
	return base + pad[:placeholderLength-len(base)], nil
}

// remove deletes the build folder and releases the lock.
func (w *workspace) remove() error {
	err := w.removeDir()
	if w.lock != "" {
		if rerr := os.Remove(w.lock); err == nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = rerr
		}
	}
	return err
}

// release keeps the folder (to look inside) but lets the next build take it over.
func (w *workspace) release() {
	if w.lock != "" {
		os.Remove(w.lock)
	}
}

func (w *workspace) removeDir() error {
	// An installer may leave read-only folders behind, which RemoveAll cannot empty.
	filepath.WalkDir(w.dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
	return os.RemoveAll(w.dir)
}

// checkScriptRunnable refuses, before anything is unpacked, a script this machine cannot
// run: another OS's script, a missing interpreter, a build requirement not on PATH.
func checkScriptRunnable(r *recipe.Recipe) error {
	s := r.Build.Script
	target := r.TargetPlatform
	if r.Build.Noarch != "" {
		target = HostSubdir()
	}
	hostOS := map[string]string{"windows": "win", "darwin": "osx"}[runtime.GOOS]
	if hostOS == "" {
		hostOS = "linux"
	}
	if targetOS, _, _ := strings.Cut(target, "-"); targetOS != hostOS {
		return fmt.Errorf("%s: %s runs a build script, which runs on the OS it targets: build %s packages of it on a %s machine (condachan submit sends the job to such workers)",
			r.File, r.Package.Name, target, map[string]string{"win": "Windows", "osx": "macOS", "linux": "Linux"}[targetOS])
	}
	interp := map[string]string{recipe.Bash: "bash", recipe.Cmd: "cmd.exe", recipe.PowerShell: "powershell"}[s.Interpreter]
	if runtime.GOOS != "windows" && s.Interpreter != recipe.Bash {
		return fmt.Errorf("%s: the build script runs with %s, which is Windows'", r.File, interp)
	}
	if _, err := exec.LookPath(interp); err != nil {
		return fmt.Errorf("%s: the build script runs with %s, which is not on PATH", r.File, interp)
	}
	var missing []string
	for _, req := range r.Requirements.Build {
		if findTool(req.Name) == "" {
			missing = append(missing, fmt.Sprintf("%s (line %d)", req.Spec, req.Line))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: requirements.build names tools that are not on PATH: %s; condachan makes no build environment, so install them on this machine (or the workers' image)", r.File, strings.Join(missing, ", "))
	}
	return nil
}

// findTool finds the program a build requirement stands for: the package name, or for
// MSYS2 packages (m2-patch) the tool in it.
func findTool(name string) string {
	candidates := []string{name}
	for _, p := range []string{"m2-", "m2w64-"} {
		if strings.HasPrefix(name, p) {
			candidates = append(candidates, strings.TrimPrefix(name, p))
		}
	}
	if name == "p7zip" {
		candidates = append(candidates, "7z", "7za", "7zr")
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	return ""
}

// HostSubdir is the conda subdir of this machine (linux-64 when it has none).
func HostSubdir() string {
	os := map[string]string{"linux": "linux", "darwin": "osx", "windows": "win"}[runtime.GOOS]
	arch := map[string]string{"amd64": "64", "arm64": "arm64", "386": "32", "ppc64le": "ppc64le", "s390x": "s390x"}[runtime.GOARCH]
	if os == "linux" && arch == "arm64" {
		arch = "aarch64"
	}
	if os == "" || arch == "" {
		return "linux-64"
	}
	return os + "-" + arch
}

// archiveExtensions are the names rattler-build extracts; other sources are copied.
var archiveExtensions = []string{".tar.gz", ".tgz", ".taz", ".tar.bz2", ".tbz", ".tbz2", ".tz2", ".tar.lzma", ".tlz",
	".tar.xz", ".txz", ".tar.zst", ".tzst", ".tar.z", ".taz", ".tar.lz", ".tar.lzo", ".tar", ".zip", ".7z"}

func isExtractable(name string) bool {
	name = strings.ToLower(name)
	for _, ext := range archiveExtensions {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// stagedSources turns the resolved sources into what srcdir lays out: archives are
// extracted unless the recipe names a file_name (rattler-build keeps such files as they
// are), other files are copied.
func stagedSources(r *recipe.Recipe, sources []resolvedSource) ([]srcdir.Source, error) {
	var out []srcdir.Source
	for _, s := range sources {
		st := srcdir.Source{
			Name: s.name, Path: s.path, FS: s.fsys, FSName: s.fsName, IsDir: s.isDir,
			SHA256: s.SHA256, MD5: s.MD5, TargetDirectory: s.TargetDirectory, StripComponents: s.StripComponents,
		}
		if !s.isDir {
			urlName := s.ArchiveName()
			if len(s.URLs) > 0 {
				urlName = urlFileName(s.URLs[0])
			}
			st.Extract = s.FileName == "" && isExtractable(urlName)
			st.FileName = s.ArchiveName()
		}
		for _, p := range s.Patches {
			data, err := fs.ReadFile(r.Folder, p)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: patch %s: %w", r.File, s.Line, p, err)
			}
			st.Patches = append(st.Patches, srcdir.Patch{Name: p, Data: data})
		}
		out = append(out, st)
	}
	return out, nil
}

// urlFileName is the last path segment of a URL.
func urlFileName(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	return path.Base(u)
}

// materializeRecipe writes a recipe embedded in the binary into dir, for RECIPE_DIR.
func materializeRecipe(r *recipe.Recipe, dir string) error {
	return fs.WalkDir(r.Folder, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := fs.ReadFile(r.Folder, p)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, ".sh") {
			mode = 0o755
		}
		return os.WriteFile(target, data, mode)
	})
}

// scriptSpec renders the recipe's script for the build folder.
func scriptSpec(r *recipe.Recipe, w *workspace, vars []buildscript.Var) (buildscript.Spec, error) {
	s := r.Build.Script
	spec := buildscript.Spec{
		Name:        "build script",
		Interpreter: s.Interpreter,
		WorkDir:     w.srcDir,
		Vars:        vars,
		Secret:      s.Secrets,
		Activate:    []string{w.buildPrefix, w.prefix},
		Windows:     w.windowsHost,
	}
	if w.buildPrefix == w.prefix {
		spec.Activate = spec.Activate[1:]
	}
	for _, e := range s.Env {
		spec.Env = append(spec.Env, buildscript.Var{Name: e.Name, Value: e.Value})
	}
	if s.Cwd != "" {
		spec.Cwd = filepath.Join(w.prefix, filepath.FromSlash(s.Cwd))
	}
	if s.File != "" {
		spec.File = filepath.Join(w.recipeDir, filepath.FromSlash(s.File))
		spec.Name = s.File
		return spec, nil
	}
	values := map[string]string{}
	for _, v := range vars {
		values[v.Name] = v.Value
	}
	for _, v := range spec.Env {
		values[v.Name] = v.Value
	}
	for i, c := range s.Content {
		line, err := r.RenderCommand(c, values)
		if err != nil {
			return spec, fmt.Errorf("%s:%d: build.script[%d]: %w", r.File, s.Line, i, err)
		}
		spec.Content = append(spec.Content, line)
	}
	spec.Name = "build.script"
	return spec, nil
}

// postProcess applies build.post_process: regex replacements in the prefix's files.
func postProcess(r *recipe.Recipe, prefix string) error {
	for _, pp := range r.Build.PostProcess {
		re, err := regexp.Compile(pp.Regex)
		if err != nil {
			return fmt.Errorf("%s:%d: build.post_process: %w", r.File, pp.Line, err)
		}
		set, err := globset.NewSet(pp.Files, nil)
		if err != nil {
			return fmt.Errorf("%s:%d: build.post_process: %w", r.File, pp.Line, err)
		}
		err = filepath.WalkDir(prefix, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			rel, _ := filepath.Rel(prefix, p)
			if !set.Match(filepath.ToSlash(rel)) {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out := re.ReplaceAll(data, []byte(pp.Replacement))
			if string(out) == string(data) {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			return os.WriteFile(p, out, info.Mode().Perm())
		})
		if err != nil {
			return fmt.Errorf("%s:%d: build.post_process: %w", r.File, pp.Line, err)
		}
	}
	return nil
}

// checkRelocation refuses a package that rattler-build would relink: with
// binary_relocation on (its default) it rewrites the RPATHs of every dynamically linked
// ELF and Mach-O file, which condachan does not do, so the package would differ.
func checkRelocation(r *recipe.Recipe, prefix string) error {
	dl := r.Build.DynamicLinking
	if !dl.BinaryRelocation || r.Build.Noarch != "" || recipe.IsWindows(r.TargetPlatform) {
		return nil
	}
	var only []*globset.Glob
	for _, g := range dl.RelocationGlobs {
		c, err := globset.CompilePath(g)
		if err != nil {
			return err
		}
		only = append(only, c)
	}
	var found []string
	err := filepath.WalkDir(prefix, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(prefix, p)
		rel = filepath.ToSlash(rel)
		if len(only) > 0 && !globset.MatchAny(only, rel) {
			return nil
		}
		if isDynamicBinary(p) {
			found = append(found, rel)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(found) == 0 {
		return nil
	}
	line := ""
	if dl.Line > 0 {
		line = fmt.Sprintf(":%d", dl.Line)
	}
	return fmt.Errorf("%s%s: build.dynamic_linking.binary_relocation is on (rattler-build's default), so rattler-build would rewrite the RPATHs of the package's %d dynamically linked binaries (first: %s), which condachan does not do. "+
		"Vendor binaries carry their own RPATHs: set build.dynamic_linking.binary_relocation: false, as the Deadline Cloud sample recipes do", r.File, line, len(found), found[0])
}

// isDynamicBinary tells an executable or shared library that is dynamically linked.
func isDynamicBinary(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		return false
	}
	switch {
	case string(magic[:]) == "\x7fELF":
		ef, err := elf.NewFile(f)
		if err != nil {
			return false
		}
		if ef.Type != elf.ET_EXEC && ef.Type != elf.ET_DYN {
			return false
		}
		for _, prog := range ef.Progs {
			if prog.Type == elf.PT_DYNAMIC {
				return true
			}
		}
	default:
		if mf, err := macho.NewFile(f); err == nil {
			return mf.Type == macho.TypeExec || mf.Type == macho.TypeDylib || mf.Type == macho.TypeBundle
		}
		if _, err := macho.NewFatFile(f); err == nil {
			return true
		}
	}
	return false
}

// PrefixTooLongError is a build folder too long for the padded build prefix of a Unix
// build: a shorter output folder (the build folder is under it) is the way out.
type PrefixTooLongError struct {
	Dir string
	Max int // bytes
}

func (e *PrefixTooLongError) Error() string {
	return fmt.Sprintf("the build folder %s is too long for a padded build prefix (%d bytes at most); use a shorter output folder", e.Dir, e.Max)
}
