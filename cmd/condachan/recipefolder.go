package main

import "github.com/condachan/condachan/recipes"

// findRecipeDir finds the recipe folder --recipe names on disk (recipes.FindDir).
func findRecipeDir(arg string) (string, bool) { return recipes.FindDir(arg) }
