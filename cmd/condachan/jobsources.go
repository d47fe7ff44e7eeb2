package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/internal/progress"
	"github.com/condachan/condachan/jobbundle"
	"github.com/condachan/condachan/pkgbuild"
	"github.com/condachan/condachan/pkgbuild/recipe"
)

// givenArchives are the --source-archive values: files on this machine (absolute) and
// at most one s3:// URI the job streams.
type givenArchives struct {
	local []string
	uri   string
}

func parseGivenArchives(values []string) (givenArchives, error) {
	var g givenArchives
	for _, a := range values {
		if strings.HasPrefix(strings.ToLower(a), "s3://") {
			loc, err := channel.ParseLocation(a)
			if err != nil || loc.Prefix == "" {
				return g, usageError{fmt.Errorf("--source-archive %s: expected s3://bucket/key", a)}
			}
			if g.uri != "" {
				return g, usageError{errors.New("--source-archive: a job takes one s3:// archive")}
			}
			g.uri = a
			continue
		}
		st, err := os.Stat(a)
		if err != nil {
			return g, usageError{fmt.Errorf("--source-archive: %w", err)}
		}
		if st.IsDir() {
			return g, usageError{fmt.Errorf("--source-archive %s is a folder; pass the archive file", a)}
		}
		abs, err := filepath.Abs(a)
		if err != nil {
			return g, err
		}
		g.local = append(g.local, abs)
	}
	return g, nil
}

func (g givenArchives) names() []string {
	names := archiveNames(g.local)
	if g.uri != "" {
		names = append(names, archiveNames([]string{g.uri})...)
	}
	return names
}

// sourceSearch is where the archives a job needs are looked for on this machine.
type sourceSearch struct {
	dirs []string
	// recipeDir is the recipe folder sent with the job ("" for a shipped recipe): what is
	// in it reaches the job with it.
	recipeDir string
	// instructions are deadline-cloud.yaml's sourceDownloadInstructions.
	instructions string
}

// jobSources are the archives a build job is handed.
type jobSources struct {
	// uri is an s3:// --source-archive, streamed by the job.
	uri string
	// local are archives on this machine, hashed: a job attachment, or staged.
	local []localArchive
	// staged are sources not on this machine that are staged in the channel already
	// (checked with --stage-source), found by the job by their sha256.
	staged []recipe.Source
}

// localArchive is an archive on this machine and the recipe source it is.
type localArchive struct {
	path   string
	name   string
	sha256 string
	size   int64
	source recipe.Source
}

// stagedCheck tells whether a source is staged in the channel (nil: not looked for).
type stagedCheck func(ctx context.Context, channelURL, sha256, name string) (bool, error)

// planSources finds every archive source of r for the job: given with --source-archive,
// found by name in the search folders, carried by the recipe folder, or (with
// --stage-source) staged in the channel already. Every local archive is hashed and
// checked against the sha256 the recipe gives, before any bundle is written. The names
// deadline-cloud.yaml lists in sourceArchiveFilename must all be sources of the recipe.
func planSources(ctx context.Context, r *recipe.Recipe, channelURL string, given givenArchives, search sourceSearch, listed []string, staged stagedCheck, stderr io.Writer) (jobSources, error) {
	js := jobSources{uri: given.uri}
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
			return js, usageError{fmt.Errorf("deadline-cloud.yaml names %s in sourceArchiveFilename, but recipe %s has no such source for %s (its archives: %s)", name, r.Package.Name, r.TargetPlatform, strings.Join(orNone(names), ", "))}
		}
	}

	givenFor := map[string]string{}
	for _, a := range given.local {
		if _, err := recipeSource(r, filepath.Base(a)); err != nil {
			return js, usageError{err}
		}
		givenFor[filepath.Base(a)] = a
	}
	if given.uri != "" {
		if _, err := recipeSource(r, path.Base(given.uri)); err != nil {
			return js, usageError{err}
		}
		givenFor[path.Base(given.uri)] = given.uri
	}

	var missing []recipe.Source
	for _, name := range names {
		s := byName[name]
		p, ok := givenFor[name]
		if ok && p == given.uri {
			continue
		}
		if !ok {
			p, ok = search.find(name)
		}
		if ok {
			js.local = append(js.local, localArchive{path: p, name: name, source: s})
			continue
		}
		if search.inRecipeFolder(s) {
			continue
		}
		if staged != nil && s.SHA256 != "" {
			there, err := staged(ctx, channelURL, s.SHA256, name)
			if err != nil {
				return js, err
			}
			if there {
				fmt.Fprintf(stderr, "%s is not on this machine; it is staged in the channel already\n", name)
				js.staged = append(js.staged, s)
				continue
			}
		}
		missing = append(missing, s)
	}
	if len(missing) > 0 {
		return js, usageError{missingSourcesError(r, missing, search, staged != nil)}
	}
	for i := range js.local {
		if err := js.local[i].hash(ctx, r, stderr); err != nil {
			return js, err
		}
	}
	return js, nil
}

func orNone(names []string) []string {
	if len(names) == 0 {
		return []string{"none"}
	}
	return names
}

// find looks for an archive by name in the search folders.
func (s sourceSearch) find(name string) (string, bool) {
	for _, d := range s.dirs {
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

// inRecipeFolder reports whether the recipe folder sent with the job holds the source:
// a file beside recipe.yaml, or a file://relative/path into it.
func (s sourceSearch) inRecipeFolder(src recipe.Source) bool {
	if s.recipeDir == "" {
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
		if st, err := os.Stat(filepath.Join(s.recipeDir, filepath.FromSlash(clean))); err == nil && !st.IsDir() {
			return true
		}
	}
	return false
}

// missingSourcesError says which archives the job would lack, where to get them (the
// recipe's URLs and deadline-cloud.yaml's instructions) and how to hand them over.
func missingSourcesError(r *recipe.Recipe, missing []recipe.Source, search sourceSearch, checkedStaged bool) error {
	e := &pkgbuild.MissingSourceError{Instructions: search.instructions}
	for _, d := range search.dirs {
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
	} else {
		e.Hint = "\n  (archives staged in the channel already are found with --stage-source)"
	}
	return fmt.Errorf("recipe %s for %s: %w", r.Package.Name, r.TargetPlatform, e)
}

// hash computes the archive's sha256 and refuses one that is not the recipe's.
func (a *localArchive) hash(ctx context.Context, r *recipe.Recipe, stderr io.Writer) error {
	st, err := os.Stat(a.path)
	if err != nil {
		return usageError{fmt.Errorf("source archive: %w", err)}
	}
	a.size = st.Size()
	fmt.Fprintf(stderr, "hashing %s (%s)\n", a.name, progress.HumanBytes(a.size))
	if a.sha256, err = fileSHA256(ctx, a.path); err != nil {
		return fmt.Errorf("hashing %s: %w", a.path, err)
	}
	if want := strings.ToLower(a.source.SHA256); want != "" && want != a.sha256 {
		return usageError{fmt.Errorf("%s has sha256 %s, but recipe %s expects %s (%s:%d): not the archive the recipe names; nothing written", a.path, a.sha256, r.Package.Name, want, r.File, a.source.Line)}
	}
	return nil
}

// archiveValues sets the bundle's archive parameters for sources that are not staged:
// an s3:// archive streams, one local archive is a job attachment. More than one local
// archive needs staging: a job attaches one.
func (js *jobSources) archiveValues(values map[string]string) error {
	if len(js.local) > 1 {
		var names []string
		for _, a := range js.local {
			names = append(names, a.name)
		}
		return usageError{fmt.Errorf("the job needs %d archives from this machine (%s), and a job attaches one: stage them in the channel with `condachan submit --stage-source`, where the job finds them by sha256", len(js.local), strings.Join(names, ", "))}
	}
	if len(js.local) == 1 {
		values[jobbundle.ParamSourceArchive] = js.local[0].path
	}
	if js.uri != "" {
		values[jobbundle.ParamSourceArchiveURI] = js.uri
	}
	return nil
}

// checkStaging refuses, before anything is uploaded, sources the job could not find once
// staged: it finds them by the sha256 the recipe gives, and takes one more in
// SourceArchiveURI.
func (js *jobSources) checkStaging() error {
	var noSum []string
	for _, a := range js.local {
		if a.source.SHA256 == "" {
			noSum = append(noSum, a.name)
		}
	}
	if len(noSum) > 1 || len(noSum) == 1 && js.uri != "" {
		return usageError{fmt.Errorf("the recipe gives no sha256 for %s: a job finds staged archives by their sha256 (and takes one more as SourceArchiveURI), so give each source one", strings.Join(noSum, ", "))}
	}
	return nil
}

// stagedValues sets the bundle's archive parameters once every local archive is staged
// at uris (in js.local's order; checkStaging passed). The job finds staged archives by
// their sha256; one without a sha256 in the recipe is passed as SourceArchiveURI, and so
// is a single staged archive, to show in the job's parameters.
func (js *jobSources) stagedValues(values map[string]string, uris []string) {
	delete(values, jobbundle.ParamSourceArchive)
	uri := js.uri
	for i, a := range js.local {
		if uri == "" && (a.source.SHA256 == "" || len(js.local) == 1) {
			uri = uris[i]
		}
	}
	if uri != "" {
		values[jobbundle.ParamSourceArchiveURI] = uri
	}
}
