package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/publish"
)

func newRemoveCommand(stdout, stderr io.Writer) *cobra.Command {
	var cf changeFlags
	cmd := &cobra.Command{
		Use:   "remove SUBDIR/PKG.conda... --channel URL",
		Short: "Delete packages from a channel and reindex it under the channel lease",
		Long: `Delete packages from a channel and reindex the subdirs they were in, under the
channel lease, so that no repodata, shard, run_exports.json, channeldata.json or index
page names them any more. Every name must be found before anything is deleted: a
name is SUBDIR/FILE, or a FILE that exactly one subdir holds.

To hide a package without deleting it (it stays downloadable for environments that
pin it), use patch instructions instead: "remove" or "revoke" in ` + "`condachan patch`" + `.`,
		Example: `  condachan remove linux-64/blender-4.1.1-0.conda --channel s3://studio-bucket/Conda/Default`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cf.run(cmd, stdout, stderr, change{name: "remove", open: cf.openExisting,
				do: func(ctx context.Context, store channel.Store, opts publish.Options) (changed, error) {
					res, err := publish.Remove(ctx, store, args, opts)
					if err != nil {
						return changed{}, err
					}
					return changed{res.Index, res, func(w io.Writer) {
						for _, k := range res.Removed {
							fmt.Fprintf(w, "removed %s/%s\n", res.Channel, k)
						}
						for _, k := range res.AlreadyGone {
							fmt.Fprintf(w, "already gone %s/%s\n", res.Channel, k)
						}
					}}, nil
				}})
		},
	}
	cf.add(cmd.Flags())
	return cmd
}

func newPatchCommand(stdout, stderr io.Writer) *cobra.Command {
	var cf changeFlags
	var subdir string
	var clear bool
	cmd := &cobra.Command{
		Use:   "patch --channel URL --subdir S FILE | --clear",
		Short: "Store repodata patch instructions in a subdir and reindex it",
		Long: `Fix package records without a rebuild: store FILE as <subdir>/patch_instructions.json,
the form conda-index and conda-forge's repodata patches use, and reindex the subdir under
the channel lease. Every later index run applies the instructions; repodata.json and the
shards carry the patched records, repodata_from_packages.json keeps them as the packages
say. --clear deletes the subdir's instructions.

  {"patch_instructions_version": 1,
   "packages.conda": {"tool-1.0-0.conda": {"depends": ["studio-libs >=2,<3"]}},
   "packages":       {"old-1.0-0.tar.bz2": {"license": "MIT"}},
   "remove": ["bad-2.0-0.conda"],
   "revoke": ["leaky-1.1-0.conda"]}

A field set to null is deleted; a fix of a .tar.bz2 file applies to its .conda twin too.
"remove" takes a package out of the records (listed under "removed"); "revoke" keeps it
but marks it revoked so that no solver picks it. The file is checked before anything is
written: unknown keys, another version, or a fix of what names or describes the file
(name, version, build, subdir, sha256, md5, size, url, indexed_timestamp) are refused.`,
		Example: `  condachan patch --channel s3://studio-bucket/Conda/Default --subdir linux-64 patch_instructions.json`,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var data []byte
			file := ""
			return cf.run(cmd, stdout, stderr, change{name: "patch", open: cf.openExisting,
				check: func() error {
					if subdir == "" {
						return usageError{errors.New("--subdir is required: patch instructions apply to one subdir")}
					}
					if clear == (len(args) == 1) {
						return usageError{errors.New("give the instructions FILE, or --clear to delete the subdir's instructions")}
					}
					if clear {
						return nil
					}
					var err error
					file = args[0]
					if data, err = os.ReadFile(file); err != nil {
						return usageError{fmt.Errorf("patch instructions: %w", err)}
					}
					return nil
				},
				do: func(ctx context.Context, store channel.Store, opts publish.Options) (changed, error) {
					res, err := publish.StorePatches(ctx, store, subdir, data, file, opts)
					if err != nil {
						return changed{}, err
					}
					return changed{res.Index, res, func(w io.Writer) {
						verb := "stored"
						if res.Deleted {
							verb = "deleted"
						}
						fmt.Fprintf(w, "%s %s/%s and reindexed %s\n", verb, res.Channel, res.Key, subdir)
					}}, nil
				}})
		},
	}
	cf.add(cmd.Flags())
	cmd.Flags().StringVar(&subdir, "subdir", "", "subdir the instructions apply to (required)")
	cmd.Flags().BoolVar(&clear, "clear", false, "delete the subdir's patch instructions")
	return cmd
}
