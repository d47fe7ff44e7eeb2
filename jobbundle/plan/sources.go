package plan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/input"
	"github.com/condachan/condachan/internal/progress"
	"github.com/condachan/condachan/jobbundle"
	"github.com/condachan/condachan/jobbundle/submitmeta"
	"github.com/condachan/condachan/pkgbuild"
	"github.com/condachan/condachan/pkgbuild/recipe"
)

// Given are the source archives given for a job: files on this machine (absolute) and
// at most one s3:// URI the job streams.
type Given struct {
	Local []string
	URI   string
}

// ParseGiven reads source archive values: paths of files on this machine, and at most
// one s3://bucket/key. A value a job cannot take is a *SourceArchiveError.
func ParseGiven(values []string) (Given, error) {
	var g Given
	for _, a := range values {
		if strings.HasPrefix(strings.ToLower(a), "s3://") {
			loc, err := channel.ParseLocation(a)
			if err != nil || loc.Prefix == "" {
				return g, input.Mark(&SourceArchiveError{Archive: a, Err: ErrNotS3Object})
			}
			if g.URI != "" {
				return g, input.Mark(&SourceArchiveError{Archive: a, Err: ErrSecondURI})
			}
			g.URI = a
			continue
		}
		st, err := os.Stat(a)
		if err != nil {
			return g, input.Mark(&SourceArchiveError{Archive: a, Err: err})
		}
		if st.IsDir() {
			return g, input.Mark(&SourceArchiveError{Archive: a, Err: ErrIsFolder})
		}
		abs, err := filepath.Abs(a)
		if err != nil {
			return g, err
		}
		g.Local = append(g.Local, abs)
	}
	return g, nil
}

// Names are the file names of the archives given.
func (g Given) Names() []string {
	names := ArchiveNames(g.Local)
	if g.URI != "" {
		names = append(names, ArchiveNames([]string{g.URI})...)
	}
	return names
}

// ArchiveNames are the file names of source archive values (paths or s3:// URIs).
func ArchiveNames(archives []string) []string { return pkgbuild.ArchiveNames(archives) }

// Search is where the archives a job needs are looked for on this machine.
type Search struct {
	// Dirs are looked in for an archive by its file name, in order.
	Dirs []string
	// RecipeDir is the recipe folder sent with the job ("" for a shipped recipe): what
	// is in it reaches the job with it.
	RecipeDir string
	// Instructions are deadline-cloud.yaml's sourceDownloadInstructions.
	Instructions string
}

// NewSearch lists the folders archives are looked for in: dirs (the caller's), the
// sample catalogue's archive_files folder beside the recipe folders (with meta on
// disk), the current folder. The recipe folder sent with the job (recipeDir) carries
// its own files; entry, when there is one, gives the download instructions.
func NewSearch(dirs []string, meta *Meta, entry *submitmeta.Platform, recipeDir string) Search {
	s := Search{Dirs: append([]string{}, dirs...), RecipeDir: recipeDir}
	if meta != nil && meta.Dir != "" {
		s.Dirs = append(s.Dirs, filepath.Join(filepath.Dir(meta.Dir), "archive_files"))
	}
	s.Dirs = append(s.Dirs, ".")
	if entry != nil {
		s.Instructions = entry.SourceDownloadInstructions
	}
	return s
}

// Find looks for an archive by name in the search folders and returns its absolute path.
func (s Search) Find(name string) (string, bool) {
	for _, d := range s.Dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			abs, err := filepath.Abs(p)
			if err != nil {
				return "", false
			}
			return abs, true
		}
	}
	return "", false
}

// InRecipeFolder reports whether the recipe folder sent with the job holds the source:
// a file beside recipe.yaml, or a file://relative/path into it.
func (s Search) InRecipeFolder(src recipe.Source) bool {
	if s.RecipeDir == "" {
		return false
	}
	candidates := []string{src.ArchiveName()}
	for _, u := range src.URLs {
		if rest, ok := strings.CutPrefix(u, "file://"); ok && !strings.HasPrefix(rest, "/") {
			candidates = append(candidates, rest)
		}
	}
	for _, c := range candidates {
		clean := path.Clean(c)
		if clean == ".." || strings.HasPrefix(clean, "../") {
			continue
		}
		if st, err := os.Stat(filepath.Join(s.RecipeDir, filepath.FromSlash(clean))); err == nil && !st.IsDir() {
			return true
		}
	}
	return false
}

// Sources are the archives a build job is handed.
type Sources struct {
	// URI is an s3:// archive given, streamed by the job.
	URI string
	// Local are archives on this machine, hashed: a job attachment, or staged.
	Local []LocalArchive
	// Staged are sources not on this machine that are staged in the channel already,
	// found by the job by their sha256.
	Staged []recipe.Source
}

// LocalArchive is an archive on this machine and the recipe source it is.
type LocalArchive struct {
	Path   string
	Name   string
	SHA256 string // lower-case hex, once hashed
	Size   int64
	Source recipe.Source
}

// StagedCheck tells whether a source is staged in the channel.
type StagedCheck func(ctx context.Context, channelURL, sha256, name string) (bool, error)

// PlanArchives finds, hashes and checks the archives the build job needs (it is the
// slow part: call it last) into j.Sources, from j.Recipe, j.Given and the job's
// CondaChannel value. entry, when there is one, is the deadline-cloud.yaml entry the job
// builds. With stage the local archives are to be staged (CheckStaging); else they
// become the bundle's values (ArchiveValues). Progress is written to log.
func (j *Job) PlanArchives(ctx context.Context, entry *submitmeta.Platform, search Search, staged StagedCheck, stage bool, log io.Writer) error {
	var listed []string
	if entry != nil {
		listed = entry.SourceArchiveFilenames
	}
	var err error
	j.Sources, err = PlanSources(ctx, j.Recipe, j.Values[jobbundle.ParamCondaChannel], j.Given, search, listed, staged, log)
	if err != nil {
		return err
	}
	if stage {
		return j.Sources.CheckStaging()
	}
	return j.Sources.ArchiveValues(j.Values)
}

// PlanSources finds every archive source of r for a job: given, found by name in the
// search folders, carried by the recipe folder, or (with staged) staged in the channel
// already. Every local archive is hashed and checked against the sha256 the recipe
// gives. The names in listed (deadline-cloud.yaml's sourceArchiveFilename) must all be
// sources of the recipe. Progress is written to log.
func PlanSources(ctx context.Context, r *recipe.Recipe, channelURL string, given Given, search Search, listed []string, staged StagedCheck, log io.Writer) (Sources, error) {
	js := Sources{URI: given.URI}
	byName := map[string]recipe.Source{}
	var names []string
	for _, s := range r.Sources {
		if !s.IsPath() {
			byName[s.ArchiveName()] = s
			names = append(names, s.ArchiveName())
		}
	}
	for _, name := range listed {
		if _, ok := byName[name]; !ok {
			return js, input.Mark(fmt.Errorf("deadline-cloud.yaml names %s in sourceArchiveFilename, but recipe %s has no such source for %s (its archives: %s)", name, r.Package.Name, r.TargetPlatform, strings.Join(orNone(names), ", ")))
		}
	}

	givenFor := map[string]string{}
	for _, a := range given.Local {
		if err := recipeSource(r, a, filepath.Base(a)); err != nil {
			return js, err
		}
		givenFor[filepath.Base(a)] = a
	}
	if given.URI != "" {
		if err := recipeSource(r, given.URI, path.Base(given.URI)); err != nil {
			return js, err
		}
		givenFor[path.Base(given.URI)] = given.URI
	}

	var missing []recipe.Source
	for _, name := range names {
		s := byName[name]
		p, ok := givenFor[name]
		if ok && p == given.URI {
			continue
		}
		if !ok {
			p, ok = search.Find(name)
		}
		if ok {
			js.Local = append(js.Local, LocalArchive{Path: p, Name: name, Source: s})
			continue
		}
		if search.InRecipeFolder(s) {
			continue
		}
		if staged != nil && s.SHA256 != "" {
			there, err := staged(ctx, channelURL, s.SHA256, name)
			if err != nil {
				return js, err
			}
			if there {
				fmt.Fprintf(log, "%s is not on this machine; it is staged in the channel already\n", name)
				js.Staged = append(js.Staged, s)
				continue
			}
		}
		missing = append(missing, s)
	}
	if len(missing) > 0 {
		return js, input.Mark(missingSourcesError(r, missing, search, staged != nil))
	}
	for i := range js.Local {
		if err := js.Local[i].Hash(ctx, r, log); err != nil {
			return js, err
		}
	}
	return js, nil
}

// recipeSource refuses an archive given (named name) that is not a source of r.
func recipeSource(r *recipe.Recipe, archive, name string) error {
	if _, err := pkgbuild.ArchiveSource(r, name); err != nil {
		return input.Mark(&SourceArchiveError{Archive: archive, Err: err, NotInRecipe: true})
	}
	return nil
}

func orNone(names []string) []string {
	if len(names) == 0 {
		return []string{"none"}
	}
	return names
}

// missingSourcesError says which archives the job would lack, where to get them (the
// recipe's URLs and deadline-cloud.yaml's instructions) and where they were looked for.
func missingSourcesError(r *recipe.Recipe, missing []recipe.Source, search Search, checkedStaged bool) error {
	e := &pkgbuild.MissingSourceError{Instructions: search.Instructions}
	for _, d := range search.Dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			abs = d
		}
		e.Searched = append(e.Searched, abs)
	}
	for _, s := range missing {
		e.Missing = append(e.Missing, pkgbuild.MissingSource{FileName: s.ArchiveName(), URLs: s.URLs, SHA256: strings.ToLower(s.SHA256)})
	}
	if checkedStaged {
		e.Searched = append(e.Searched, "the channel's staged sources")
	}
	return &MissingSourcesError{Recipe: r.Package.Name, Platform: r.TargetPlatform, Err: e, StagedChecked: checkedStaged}
}

// Hash computes the archive's sha256 and size, and refuses (*ChecksumError) an archive
// that is not the one recipe r names. Progress is written to log.
func (a *LocalArchive) Hash(ctx context.Context, r *recipe.Recipe, log io.Writer) error {
	if err := a.hash(ctx, "source archive", log); err != nil {
		return err
	}
	if want := strings.ToLower(a.Source.SHA256); want != "" && want != a.SHA256 {
		return input.Mark(&ChecksumError{Path: a.Path, Got: a.SHA256, Want: want, Recipe: r.Package.Name, File: r.File, Line: a.Source.Line})
	}
	return nil
}

// hash computes the sha256 and size of the file (what it is, for messages). Progress is
// written to log (nil: none).
func (a *LocalArchive) hash(ctx context.Context, what string, log io.Writer) error {
	st, err := os.Stat(a.Path)
	if err != nil {
		return input.Mark(fmt.Errorf("%s: %w", what, err))
	}
	a.Size = st.Size()
	if log != nil {
		fmt.Fprintf(log, "hashing %s (%s)\n", a.Name, progress.HumanBytes(a.Size))
	}
	if a.SHA256, err = fileSHA256(ctx, a.Path); err != nil {
		return fmt.Errorf("hashing %s: %w", a.Path, err)
	}
	return nil
}

func fileSHA256(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, err := f.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ArchiveValues sets the bundle's archive parameters for sources that are not staged:
// an s3:// archive streams, one local archive is a job attachment. More than one local
// archive needs staging (*NeedsStagingError): a job attaches one.
func (js *Sources) ArchiveValues(values map[string]string) error {
	if len(js.Local) > 1 {
		var names []string
		for _, a := range js.Local {
			names = append(names, a.Name)
		}
		return input.Mark(&NeedsStagingError{Archives: names})
	}
	if len(js.Local) == 1 {
		values[jobbundle.ParamSourceArchive] = js.Local[0].Path
	}
	if js.URI != "" {
		values[jobbundle.ParamSourceArchiveURI] = js.URI
	}
	return nil
}

// CheckStaging refuses (*NoChecksumError), before anything is uploaded, sources the job
// could not find once staged: it finds them by the sha256 the recipe gives, and takes
// one more in SourceArchiveURI.
func (js *Sources) CheckStaging() error {
	var noSum []string
	for _, a := range js.Local {
		if a.Source.SHA256 == "" {
			noSum = append(noSum, a.Name)
		}
	}
	if len(noSum) > 1 || len(noSum) == 1 && js.URI != "" {
		return input.Mark(&NoChecksumError{Archives: noSum})
	}
	return nil
}

// StagedValues sets the bundle's archive parameters once every local archive is staged
// at uris (in Local's order; CheckStaging passed). The job finds staged archives by
// their sha256; one without a sha256 in the recipe is passed as SourceArchiveURI, and so
// is a single staged archive, to show in the job's parameters.
func (js *Sources) StagedValues(values map[string]string, uris []string) {
	delete(values, jobbundle.ParamSourceArchive)
	uri := js.URI
	for i, a := range js.Local {
		if uri == "" && (a.Source.SHA256 == "" || len(js.Local) == 1) {
			uri = uris[i]
		}
	}
	if uri != "" {
		values[jobbundle.ParamSourceArchiveURI] = uri
	}
}
