package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

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
			for _, r := range recipes.Summaries() {
				if r.Err != nil {
					fmt.Fprintf(stdout, "%s\t(%v)\n", r.Name, r.Err)
					continue
				}
				fmt.Fprintf(stdout, "%s\t%s\t%s\n", r.Name, r.Version, r.Summary)
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
			n, err := recipes.Export(args[0], args[1])
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
