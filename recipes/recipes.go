// Package recipes holds the recipes shipped with condachan, one folder each, embedded in
// the binary so that a render-farm worker with nothing but the binary can build them.
package recipes

import (
	"embed"
	"io/fs"
	"sort"

	"github.com/condachan/condachan/pkgbuild/recipe"
)

// The recipe folders only (*/*), not this package's Go files.
//
//go:embed */*
var embedded embed.FS

// FS is the folder of shipped recipes: <name>/recipe.yaml and the files beside it.
var FS fs.FS = embedded

// Names lists the shipped recipes.
func Names() []string {
	entries, _ := fs.ReadDir(FS, ".")
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := fs.Stat(FS, e.Name()+"/"+recipe.FileName); err == nil {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// Has reports whether name is a shipped recipe.
func Has(name string) bool {
	_, err := fs.Stat(FS, name+"/"+recipe.FileName)
	return err == nil && fs.ValidPath(name)
}

// Summary is what a listing of the shipped recipes shows of one.
type Summary struct {
	Name    string
	Version string
	Summary string
	// Err is why the recipe does not render (for linux-64); Version and Summary are "".
	Err error
}

// Summaries are the shipped recipes, by name, as rendered for linux-64.
func Summaries() []Summary {
	var out []Summary
	for _, name := range Names() {
		r, err := recipe.LoadFS(FS, name, "linux-64")
		if err != nil {
			out = append(out, Summary{Name: name, Err: err})
			continue
		}
		out = append(out, Summary{Name: name, Version: r.Package.Version, Summary: r.About.Summary})
	}
	return out
}
