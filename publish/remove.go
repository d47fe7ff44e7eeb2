package publish

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/index"
	"github.com/condachan/condachan/input"
)

// RemoveResult reports a removal.
type RemoveResult struct {
	Channel string `json:"channel"`
	// Removed are the keys this run deleted; AlreadyGone those another process deleted
	// between the look and the lease.
	Removed     []string      `json:"removed"`
	AlreadyGone []string      `json:"already_gone,omitempty"`
	Index       *index.Result `json:"index"`
}

// PackageNotFoundError names packages a removal could not find; nothing was deleted.
type PackageNotFoundError struct {
	Names []string
}

func (e *PackageNotFoundError) Error() string {
	return fmt.Sprintf("not in the channel: %s; nothing was removed (give SUBDIR/FILE or FILE as the index lists it, e.g. linux-64/name-1.0-0.conda)", strings.Join(e.Names, ", "))
}

// Is makes the error match input.ErrInvalid: what was given is at fault.
func (*PackageNotFoundError) Is(target error) bool { return target == input.ErrInvalid }

// AmbiguousPackageError is a bare file name found in several subdirs.
type AmbiguousPackageError struct {
	Name string
	Keys []string
}

func (e *AmbiguousPackageError) Error() string {
	return fmt.Sprintf("%s is in several subdirs (%s); name the one to remove as SUBDIR/FILE; nothing was removed", e.Name, strings.Join(e.Keys, ", "))
}

// Is makes the error match input.ErrInvalid: what was given is at fault.
func (*AmbiguousPackageError) Is(target error) bool { return target == input.ErrInvalid }

// Remove deletes packages from the channel and reindexes their subdirs, under the lease:
// when it returns, no output of the channel (repodata, shards, run_exports.json,
// channeldata.json, index pages) names them. A name is "SUBDIR/FILE" or a FILE found in
// exactly one subdir. Every name is found before anything is deleted.
func Remove(ctx context.Context, store channel.Store, names []string, opts Options) (*RemoveResult, error) {
	keys, err := resolvePackages(ctx, store, names)
	if err != nil {
		return nil, err
	}
	res := &RemoveResult{Channel: store.String()}
	err = underLease(ctx, store, opts, func(lease *channel.Lease) error {
		lctx := lease.Context()
		for _, k := range keys {
			obj, err := store.Stat(lctx, k)
			if errors.Is(err, channel.ErrNotFound) {
				res.AlreadyGone = append(res.AlreadyGone, k)
				continue
			}
			if err != nil {
				return err
			}
			if err := lease.Check(lctx); err != nil {
				return err
			}
			if err := store.Delete(lctx, k, obj.ETag); err != nil && !errors.Is(err, channel.ErrNotFound) {
				return fmt.Errorf("delete %s: %w", k, err)
			}
			res.Removed = append(res.Removed, k)
			if opts.Log != nil {
				opts.Log("removed " + k)
			}
		}
		ir, err := index.Run(ctx, store, index.Options{Subdirs: subdirsOfKeys(keys), Lease: lease, Progress: opts.Progress})
		res.Index = ir
		return err
	})
	return res, err
}

// resolvePackages turns names into channel keys, failing on any it cannot find.
func resolvePackages(ctx context.Context, store channel.Store, names []string) ([]string, error) {
	var keys, missing []string
	seen := map[string]bool{}
	for _, n := range names {
		n = strings.TrimPrefix(n, "/")
		sd, file, hasSubdir := strings.Cut(n, "/")
		if !hasSubdir {
			file, sd = n, ""
		}
		if !index.IsPackage(file) || strings.Contains(file, "/") || hasSubdir && !channel.IsSubdir(sd) {
			return nil, input.Mark(fmt.Errorf("%q is not a package in a channel: give SUBDIR/NAME-VERSION-BUILD.conda (or .tar.bz2)", n))
		}
		candidates := []string{sd}
		if !hasSubdir {
			candidates = channel.KnownSubdirs
		}
		var found []string
		for _, c := range candidates {
			_, err := store.Stat(ctx, c+"/"+file)
			if err == nil {
				found = append(found, c+"/"+file)
			} else if !errors.Is(err, channel.ErrNotFound) {
				return nil, err
			}
		}
		switch {
		case len(found) == 0:
			missing = append(missing, n)
		case len(found) > 1:
			return nil, &AmbiguousPackageError{Name: n, Keys: found}
		case !seen[found[0]]:
			seen[found[0]] = true
			keys = append(keys, found[0])
		}
	}
	if len(missing) > 0 {
		return nil, &PackageNotFoundError{Names: missing}
	}
	sort.Strings(keys)
	return keys, nil
}

func subdirsOfKeys(keys []string) []string {
	set := map[string]bool{}
	for _, k := range keys {
		sd, _, _ := strings.Cut(k, "/")
		set[sd] = true
	}
	out := make([]string, 0, len(set))
	for sd := range set {
		out = append(out, sd)
	}
	sort.Strings(out)
	return out
}

// PatchResult reports a change of a subdir's patch instructions.
type PatchResult struct {
	Channel string        `json:"channel"`
	Key     string        `json:"key"`
	Deleted bool          `json:"deleted,omitempty"`
	Index   *index.Result `json:"index"`
}

// StorePatches stores patch instructions (patch_instructions.json) in a subdir and
// reindexes it under the lease, so that repodata and shards carry them at once and every
// later index run applies them. data nil deletes the subdir's instructions. The
// instructions are checked before the lease is taken.
func StorePatches(ctx context.Context, store channel.Store, subdir string, data []byte, file string, opts Options) (*PatchResult, error) {
	if !channel.IsSubdir(subdir) {
		return nil, input.Mark(fmt.Errorf("%q is not a conda subdir (known: %s)", subdir, strings.Join(channel.KnownSubdirs, ", ")))
	}
	if data != nil {
		if _, err := index.ParsePatches(data, file); err != nil {
			return nil, input.Mark(err)
		}
	}
	if err := index.SubdirsExist(ctx, store, []string{subdir}); err != nil {
		return nil, err
	}
	key := subdir + "/" + index.PatchInstructions
	res := &PatchResult{Channel: store.String(), Key: key, Deleted: data == nil}
	err := underLease(ctx, store, opts, func(lease *channel.Lease) error {
		lctx := lease.Context()
		cur, err := store.Stat(lctx, key)
		if err != nil && !errors.Is(err, channel.ErrNotFound) {
			return err
		}
		if err := lease.Check(lctx); err != nil {
			return err
		}
		switch {
		case data == nil && cur.ETag == "":
			return fmt.Errorf("%s has no patch instructions to delete", subdir)
		case data == nil:
			if err := store.Delete(lctx, key, cur.ETag); err != nil && !errors.Is(err, channel.ErrNotFound) {
				return fmt.Errorf("delete %s: %w", key, err)
			}
		default:
			put := channel.PutOptions{ContentType: "application/json", CacheControl: "no-cache", IfMatch: cur.ETag, IfAbsent: cur.ETag == ""}
			if _, err := store.Put(lctx, key, strings.NewReader(string(data)), int64(len(data)), put); err != nil {
				return fmt.Errorf("store %s: %w", key, err)
			}
		}
		ir, err := index.Run(ctx, store, index.Options{Subdirs: []string{subdir}, Lease: lease, Progress: opts.Progress})
		res.Index = ir
		return err
	})
	return res, err
}
