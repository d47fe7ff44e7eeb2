package pkgbuild

import (
	"fmt"
	"strings"

	"github.com/condachan/condachan/pkgbuild/recipe"
)

// targetCandidates are the platforms tried, in order, when a target platform is inferred
// from archive names.
var targetCandidates = []string{"linux-64", "win-64", "osx-arm64", "osx-64", "linux-aarch64", "win-arm64"}

// InferTarget picks the platform whose rendering of the recipe names every one of the
// archives (blender-4.1.1-windows-x64.zip is the win-64 source of the Blender recipe).
// load renders the recipe for a platform. It returns "" when no platform names them all.
func InferTarget(load func(target string) (*recipe.Recipe, error), archiveNames []string) string {
	if len(archiveNames) == 0 {
		return ""
	}
	for _, target := range targetCandidates {
		r, err := load(target)
		if err != nil {
			continue
		}
		all := true
		for _, name := range archiveNames {
			if _, err := ArchiveSource(r, name); err != nil {
				all = false
				break
			}
		}
		if all {
			return target
		}
	}
	return ""
}

// ArchiveNames are the file names of source archives given as paths or URIs.
func ArchiveNames(archives []string) []string {
	var names []string
	for _, a := range archives {
		names = append(names, a[strings.LastIndexAny(a, `/\`)+1:])
	}
	return names
}

// ArchiveSource returns the recipe's url source whose archive is called name, or an error
// naming the ones it has.
func ArchiveSource(r *recipe.Recipe, name string) (recipe.Source, error) {
	var names []string
	for _, s := range r.Sources {
		if s.IsPath() {
			continue
		}
		if s.ArchiveName() == name {
			return s, nil
		}
		names = append(names, s.ArchiveName())
	}
	return recipe.Source{}, &ArchiveMismatchError{Name: name, Recipe: r.Package.Name, Platform: r.TargetPlatform, Expected: names}
}

// ArchiveMismatchError is an archive a recipe has no url source for on its target
// platform. Expected names the archives it takes there (none: its sources are in the
// recipe folder); another target platform may take this one.
type ArchiveMismatchError struct {
	Name     string // the archive's file name
	Recipe   string // the package the recipe builds
	Platform string // the recipe's target platform
	Expected []string
}

func (e *ArchiveMismatchError) Error() string {
	if len(e.Expected) == 0 {
		return fmt.Sprintf("%s: recipe %s takes no archive for %s (its sources are in the recipe folder)", e.Name, e.Recipe, e.Platform)
	}
	return fmt.Sprintf("%s: recipe %s for %s expects %s (another target platform may take it)", e.Name, e.Recipe, e.Platform, strings.Join(e.Expected, " or "))
}
