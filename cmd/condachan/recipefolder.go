package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/condachan/condachan/pkgbuild/recipe"
)

// findRecipeDir finds the recipe folder --recipe names on disk: a folder holding
// recipe.yaml, the recipe.yaml itself, a folder whose recipe/ subfolder holds it (the
// sample catalogue's layout, with deadline-cloud.yaml beside recipe/), or those under
// ./recipes (a checkout of this repository) for a bare name.
func findRecipeDir(arg string) (string, bool) {
	candidates := []string{arg}
	if filepath.Base(arg) == recipe.FileName {
		candidates = []string{filepath.Dir(arg)}
	}
	if !strings.ContainsAny(arg, `/\`) {
		candidates = append(candidates, filepath.Join("recipes", arg))
	}
	has := func(dir string) bool {
		st, err := os.Stat(filepath.Join(dir, recipe.FileName))
		return err == nil && !st.IsDir()
	}
	for _, dir := range candidates {
		if has(dir) {
			return dir, true
		}
		if inner := filepath.Join(dir, "recipe"); has(inner) {
			return inner, true
		}
	}
	return "", false
}

// recipeLabel names a recipe folder: its own name, or for the catalogue's
// <name>/recipe/ the name of the folder around it.
func recipeLabel(dir string) string {
	dir = filepath.Clean(dir)
	if filepath.Base(dir) == "recipe" {
		return filepath.Base(filepath.Dir(dir))
	}
	return filepath.Base(dir)
}
