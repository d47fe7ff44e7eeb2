package pkgbuild

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/condachan/condachan/input"
	"github.com/condachan/condachan/pkgbuild/recipe"
)

// MissingSourceError is returned when archives a recipe names are not on this machine.
// Workers in closed networks cannot download, so the message says exactly what to fetch
// where and how to hand it over, for every missing archive at once.
type MissingSourceError struct {
	Missing  []MissingSource
	Searched []string
	// Instructions say how to get the archives (deadline-cloud.yaml's
	// sourceDownloadInstructions); Hint is added to the closing advice.
	Instructions string
	Hint         string
}

// HandOver is the line of Error that says how to give the build the archives once they
// are here. It names no front end's options: a front end replaces it in the message with
// its own wording (the CLI names its flags).
func (e *MissingSourceError) HandOver() string {
	if len(e.Missing) == 1 {
		return "\n  then give the build its path as a source archive: /path/to/" + e.Missing[0].FileName
	}
	return "\nthen give the build each path as a source archive, or a folder holding them as a source folder"
}

// SourceArchiveError is an archive given for the build that cannot be used: Err says why
// it cannot be read, or, with Unmatched, the recipe has no url source of its name for
// Platform (Expected lists the names it has; none: it has no url source).
type SourceArchiveError struct {
	Archive   string // as it was given
	Err       error
	Unmatched bool
	Platform  string
	Expected  []string
}

func (e *SourceArchiveError) Error() string { return e.Message("source archive") }

func (e *SourceArchiveError) Unwrap() error { return e.Err }

// Is makes an archive that fits no source of the recipe match input.ErrInvalid: it was
// given for the wrong recipe or platform. One that cannot be read is not.
func (e *SourceArchiveError) Is(target error) bool { return e.Unmatched && target == input.ErrInvalid }

// Message is Error with what the archive was given as (Error says "source archive")
// called what: a front end names its option.
func (e *SourceArchiveError) Message(what string) string {
	switch {
	case !e.Unmatched:
		return fmt.Sprintf("%s %s: %v", what, e.Archive, e.Err)
	case len(e.Expected) == 0:
		return fmt.Sprintf("%s %s: the recipe has no url: source for %s", what, e.Archive, e.Platform)
	}
	return fmt.Sprintf("%s %s matches no source of the recipe for %s (expected file names: %s)", what, e.Archive, e.Platform, strings.Join(e.Expected, ", "))
}

// MissingSource is one archive that is not here.
type MissingSource struct {
	FileName string
	URLs     []string
	SHA256   string
}

func (e *MissingSourceError) Error() string {
	var b strings.Builder
	if len(e.Missing) == 1 {
		fmt.Fprintf(&b, "source archive %s not found", e.Missing[0].FileName)
	} else {
		fmt.Fprintf(&b, "%d source archives not found", len(e.Missing))
	}
	if len(e.Searched) > 0 {
		fmt.Fprintf(&b, " (looked in: %s)", strings.Join(e.Searched, ", "))
	}
	literal := false
	for _, m := range e.Missing {
		if len(e.Missing) > 1 {
			fmt.Fprintf(&b, "\n- %s", m.FileName)
		}
		for i, u := range m.URLs {
			if i == 0 {
				fmt.Fprintf(&b, "\n  download it from: %s", u)
			} else {
				fmt.Fprintf(&b, "\n               or: %s", u)
			}
		}
		if m.SHA256 != "" {
			fmt.Fprintf(&b, "\n  expected sha256:  %s", m.SHA256)
		}
		literal = literal || strings.Contains(m.FileName, "{{")
	}
	if e.Instructions != "" {
		fmt.Fprintf(&b, "\n  from deadline-cloud.yaml: %s", e.Instructions)
	}
	b.WriteString(e.HandOver())
	b.WriteString(e.Hint)
	if literal {
		fmt.Fprintf(&b, "\n  (the recipe writes {{ }} without $ in a name, which stays literal text: write ${{ }})")
	}
	return b.String()
}

// Is makes the error match input.ErrInvalid: what was given is at fault.
func (*MissingSourceError) Is(target error) bool { return target == input.ErrInvalid }

// RemoteArchive is a source archive in a file system other than the local disk.
type RemoteArchive struct {
	FS   fs.FS
	Name string // its path in FS; the base name is matched against the recipe's sources
	// Display names it in messages (e.g. the s3:// URI).
	Display string
}

// StagedSources is a file system of archives named <sha256>/<file name>.
type StagedSources struct {
	FS fs.FS
	// Display names the place in messages (e.g. s3://bucket/Conda/Default/.condachan/sources/).
	Display string
}

// find returns the staged archive of a source, if the recipe gives its sha256.
func (st *StagedSources) find(s recipe.Source, name string) (string, bool, error) {
	if st == nil || s.SHA256 == "" {
		return "", false, nil
	}
	key := strings.ToLower(s.SHA256) + "/" + name
	info, err := fs.Stat(st.FS, key)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("looking for staged source %s in %s: %w", name, st.Display, err)
	}
	return key, !info.IsDir(), nil
}

// resolvedSource is a recipe source located on this machine.
type resolvedSource struct {
	recipe.Source
	name   string // file name, for messages
	path   string // on disk; "" when the source lives in the recipe's own file system
	fsys   fs.FS  // set when path is ""
	fsName string
	size   int64 // bytes to stream, for progress
	isDir  bool
}

// resolveSources finds every source of r: path sources in the recipe folder, archives
// among the --source-archive files or in the search folders.
func resolveSources(r *recipe.Recipe, archives []string, remote []RemoteArchive, searchDirs []string, staged *StagedSources) ([]resolvedSource, error) {
	if len(r.Sources) == 0 && r.Build.Script.Empty() {
		return nil, fmt.Errorf("%s: no source for target platform %s (check the source: selectors)", r.File, r.TargetPlatform)
	}
	used := make([]bool, len(archives))
	usedRemote := make([]bool, len(remote))
	var out []resolvedSource
	var missing *MissingSourceError
	for _, s := range r.Sources {
		rs := resolvedSource{Source: s, name: s.ArchiveName()}
		if s.IsPath() {
			if r.Dir != "" {
				rs.path = filepath.Join(r.Dir, filepath.FromSlash(s.Path))
			} else if r.Folder != nil {
				rs.fsys, rs.fsName = r.Folder, path.Clean(s.Path)
			}
			if err := rs.stat(); err != nil {
				return nil, fmt.Errorf("%s:%d: source path %s: %w", r.File, s.Line, s.Path, err)
			}
			out = append(out, rs)
			continue
		}
		foundRemote := -1
		for i, a := range remote {
			if path.Base(a.Name) == rs.name {
				foundRemote = i
				break
			}
		}
		if foundRemote >= 0 {
			usedRemote[foundRemote] = true
			rs.fsys, rs.fsName = remote[foundRemote].FS, remote[foundRemote].Name
			if err := rs.stat(); err != nil {
				return nil, &SourceArchiveError{Archive: remote[foundRemote].Display, Err: err}
			}
			out = append(out, rs)
			continue
		}
		found := -1
		for i, a := range archives {
			if filepath.Base(a) == rs.name {
				found = i
				break
			}
		}
		if found >= 0 {
			used[found] = true
			rs.path = archives[found]
			if err := rs.stat(); err != nil {
				return nil, &SourceArchiveError{Archive: archives[found], Err: err}
			}
			out = append(out, rs)
			continue
		}
		if local, ok := fileURLSource(r, s); ok {
			if local.path != "" || local.fsys != nil {
				rs.path, rs.fsys, rs.fsName = local.path, local.fsys, local.fsName
				if err := rs.stat(); err == nil {
					out = append(out, rs)
					continue
				}
				rs.path, rs.fsys, rs.fsName = "", nil, ""
			}
		}
		var searched []string
		for _, d := range searchDirs {
			if d == "" {
				continue
			}
			searched = append(searched, d)
			p := filepath.Join(d, rs.name)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				rs.path = p
				break
			}
		}
		if rs.path == "" {
			key, ok, err := staged.find(s, rs.name)
			if err != nil {
				return nil, err
			}
			if ok {
				rs.fsys, rs.fsName = staged.FS, key
				if err := rs.stat(); err != nil {
					return nil, fmt.Errorf("staged source %s%s: %w", staged.Display, key, err)
				}
				out = append(out, rs)
				continue
			}
			if staged != nil && s.SHA256 != "" {
				searched = append(searched, staged.Display+"<sha256>/")
			}
			if missing == nil {
				missing = &MissingSourceError{Searched: searched}
			}
			missing.Missing = append(missing.Missing, MissingSource{FileName: rs.name, URLs: s.URLs, SHA256: s.SHA256})
			continue
		}
		if err := rs.stat(); err != nil {
			return nil, err
		}
		out = append(out, rs)
	}
	for i, a := range remote {
		if !usedRemote[i] {
			archives = append(archives, a.Display)
			used = append(used, false)
		}
	}
	for i, a := range archives {
		if !used[i] {
			var names []string
			for _, s := range r.Sources {
				if !s.IsPath() {
					names = append(names, s.ArchiveName())
				}
			}
			return nil, &SourceArchiveError{Archive: a, Platform: r.TargetPlatform, Unmatched: true, Expected: names}
		}
	}
	if missing != nil {
		return nil, missing
	}
	return out, nil
}

func (rs *resolvedSource) stat() error {
	var st fs.FileInfo
	var err error
	if rs.path != "" {
		st, err = os.Stat(rs.path)
	} else if rs.fsys != nil {
		st, err = fs.Stat(rs.fsys, rs.fsName)
	} else {
		return errors.New("no recipe folder to find it in")
	}
	if err != nil {
		return err
	}
	rs.size = st.Size()
	rs.isDir = st.IsDir()
	if st.IsDir() {
		rs.size = 0 // measured while streaming
		if rs.StripComponents < 0 {
			rs.StripComponents = 0 // a folder is taken as it is; only archives lose a top folder
		}
	}
	return nil
}

// fileURLSource finds a file:// source on this machine: file:///abs/path as it is, and
// file://relative/path (as the Deadline Cloud sample recipes write it) in the recipe
// folder.
func fileURLSource(r *recipe.Recipe, s recipe.Source) (resolvedSource, bool) {
	for _, u := range s.URLs {
		rest, ok := strings.CutPrefix(u, "file://")
		if !ok {
			continue
		}
		if i := strings.IndexAny(rest, "?#"); i >= 0 {
			rest = rest[:i]
		}
		if strings.HasPrefix(rest, "/") || filepath.IsAbs(rest) {
			p := rest
			if len(p) >= 3 && p[0] == '/' && p[2] == ':' { // file:///C:/dir on Windows
				p = p[1:]
			}
			return resolvedSource{path: filepath.FromSlash(p)}, true
		}
		clean := path.Clean(rest)
		if clean == ".." || strings.HasPrefix(clean, "../") {
			return resolvedSource{}, true
		}
		if r.Dir != "" {
			return resolvedSource{path: filepath.Join(r.Dir, filepath.FromSlash(clean))}, true
		}
		if r.Folder != nil {
			return resolvedSource{fsys: r.Folder, fsName: clean}, true
		}
		return resolvedSource{}, true
	}
	return resolvedSource{}, false
}
