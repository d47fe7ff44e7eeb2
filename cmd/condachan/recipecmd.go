package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/condachan/condachan/pkgbuild/recipe"
	"github.com/condachan/condachan/recipes"
)

func newRecipeCommand(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "recipe",
		Short: "List the recipes shipped in this binary, or write one out for editing",
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the shipped recipes with their version and summary",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			for _, name := range recipes.Names() {
				r, err := recipe.LoadFS(recipes.FS, name, "linux-64")
				if err != nil {
					fmt.Fprintf(stdout, "%s\t(%v)\n", name, err)
					continue
				}
				fmt.Fprintf(stdout, "%s\t%s\t%s\n", name, r.Package.Version, r.About.Summary)
			}
			return nil
		},
	}
	export := &cobra.Command{
		Use:   "export NAME DIR",
		Short: "Write the shipped recipe NAME into the folder DIR, to edit and build with --recipe DIR",
		Long: `Write the shipped recipe NAME (recipe.yaml and the files beside it: build scripts,
licence, deadline-cloud.yaml) into DIR, which must not exist or be empty. Build the copy
with ` + "`condachan build --recipe DIR`" + `, or send it with a job: ` + "`condachan submit --recipe DIR`" + `.`,
		Example: `  condachan recipe export maya-rpm-example ./recipes/maya-2026`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 {
				return fmt.Errorf("expected NAME and DIR, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			n, err := exportRecipe(args[0], args[1])
			if err != nil {
				return err
			}
			abs, _ := filepath.Abs(args[1])
			fmt.Fprintf(stdout, "wrote recipe %s (%d files) to %s\n", args[0], n, abs)
			fmt.Fprintf(stderr, "build it with: condachan build --recipe %s\n", shellQuote(abs))
			return nil
		},
	}
	cmd.AddCommand(list, export)
	return cmd
}

// exportRecipe copies a shipped recipe folder into dir: into a temporary folder beside
// it first, renamed into place at the end, so a failure leaves nothing.
func exportRecipe(name, dir string) (int, error) {
	if !recipes.Has(name) {
		return 0, usageError{fmt.Errorf("%q is not a shipped recipe (shipped: %s)", name, strings.Join(recipes.Names(), ", "))}
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return 0, usageError{fmt.Errorf("%s is not empty: export into a new folder", dir)}
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, usageError{err}
	}
	dir = filepath.Clean(dir)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return 0, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".export-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	n := 0
	err = fs.WalkDir(recipes.FS, name, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, name), "/")
		target := filepath.Join(tmp, filepath.FromSlash(rel))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := fs.ReadFile(recipes.FS, p)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if path.Ext(p) == ".sh" {
			mode = 0o755
		}
		n++
		return os.WriteFile(target, data, mode)
	})
	if err != nil {
		return 0, fmt.Errorf("export %s: %w", name, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp makes it private
		return 0, err
	}
	os.Remove(dir) // an empty folder given as the target
	if err := os.Rename(tmp, dir); err != nil {
		return 0, fmt.Errorf("export %s: %w", name, err)
	}
	return n, nil
}
