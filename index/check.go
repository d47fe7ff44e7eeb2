package index

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/condachan/condachan/channel"
)

// Check verifies a channel's index against its packages and returns every problem found:
// a record whose file is missing or has another size (or, with hashes, other sha256/md5),
// a package in a subdir that no repodata lists, repodata.json and repodata.json.zst that
// differ, a missing noarch/repodata.json. Packages listed in problems (unreadable ones)
// are expected to be absent from repodata.
func Check(ctx context.Context, store channel.Store, hashes bool) ([]string, error) {
	var problems []string
	objects := map[string]channel.Object{}
	bySubdir := map[string][]string{}
	err := store.List(ctx, "", func(o channel.Object) error {
		objects[o.Key] = o
		dir, base, ok := strings.Cut(o.Key, "/")
		if ok && channel.IsSubdir(dir) && !strings.Contains(base, "/") {
			bySubdir[dir] = append(bySubdir[dir], base)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, ok := objects["noarch/repodata.json"]; !ok {
		problems = append(problems, "noarch/repodata.json is missing")
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		return nil, err
	}
	defer dec.Close()
	subdirs := make([]string, 0, len(bySubdir))
	for sd := range bySubdir {
		subdirs = append(subdirs, sd)
	}
	sort.Strings(subdirs)
	for _, sd := range subdirs {
		data, _, err := channel.ReadAll(ctx, store, sd+"/repodata.json")
		if errors.Is(err, channel.ErrNotFound) {
			problems = append(problems, sd+"/repodata.json is missing")
			continue
		}
		if err != nil {
			return nil, err
		}
		recs, err := ParseRepodata(data)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s/repodata.json: %v", sd, err))
			continue
		}
		zdata, _, err := channel.ReadAll(ctx, store, sd+"/repodata.json.zst")
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s/repodata.json.zst: %v", sd, err))
		} else if plain, err := dec.DecodeAll(zdata, nil); err != nil || !bytes.Equal(plain, data) {
			problems = append(problems, fmt.Sprintf("%s/repodata.json.zst does not hold the same document as repodata.json", sd))
		}
		st, _, err := loadState(ctx, store, sd)
		if err != nil {
			return nil, err
		}
		for file, rec := range recs {
			obj, ok := objects[sd+"/"+file]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s/%s is in repodata but not in the channel", sd, file))
				continue
			}
			if toInt(rec["size"]) != obj.Size {
				problems = append(problems, fmt.Sprintf("%s/%s: repodata says %d bytes, the object has %d", sd, file, toInt(rec["size"]), obj.Size))
				continue
			}
			if hashes {
				sha, md, _, err := hashObject(ctx, store, obj, nil)
				if err != nil {
					return nil, err
				}
				if sha != rec["sha256"] || md != rec["md5"] {
					problems = append(problems, fmt.Sprintf("%s/%s: repodata hashes do not match the object", sd, file))
				}
			}
		}
		for _, base := range bySubdir[sd] {
			if !IsPackage(base) {
				continue
			}
			if _, ok := recs[base]; ok {
				continue
			}
			if _, bad := st.Unreadable[base]; bad {
				continue
			}
			problems = append(problems, fmt.Sprintf("%s/%s is in the channel but not in repodata", sd, base))
		}
	}
	return problems, nil
}
