package index

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/condachan/condachan/channel"
)

// Check verifies a channel's index against its packages and returns every problem found:
// a record whose file is missing or has another size (or, with hashes, other sha256/md5),
// a package in a subdir that no repodata lists, repodata.json and repodata.json.zst that
// differ, a missing noarch/repodata.json, and a shard index that names a missing shard or
// whose shards do not hold exactly repodata.json's records. Unreadable packages and those
// patch instructions removed are expected to be absent from repodata.
func Check(ctx context.Context, store channel.Store, hashes bool) ([]string, error) {
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
	var problems []string
	if _, ok := objects["noarch/repodata.json"]; !ok {
		problems = append(problems, "noarch/repodata.json is missing")
	}
	for _, sd := range sortedKeysOf(bySubdir) {
		p, err := checkSubdir(ctx, store, sd, bySubdir[sd], objects, hashes)
		if err != nil {
			return nil, err
		}
		problems = append(problems, p...)
	}
	return problems, nil
}

// checkSubdir checks one subdir: its repodata against its files, the .zst twin, the
// shards.
func checkSubdir(ctx context.Context, store channel.Store, sd string, files []string, objects map[string]channel.Object, hashes bool) ([]string, error) {
	data, _, err := channel.ReadAll(ctx, store, sd+"/repodata.json")
	if errors.Is(err, channel.ErrNotFound) {
		return []string{sd + "/repodata.json is missing"}, nil
	}
	if err != nil {
		return nil, err
	}
	recs, removed, err := parseRepodataDoc(data)
	if err != nil {
		return []string{fmt.Sprintf("%s/repodata.json: %v", sd, err)}, nil
	}
	var problems []string
	zdata, _, err := channel.ReadAll(ctx, store, sd+"/repodata.json.zst")
	if err != nil {
		problems = append(problems, fmt.Sprintf("%s/repodata.json.zst: %v", sd, err))
	} else if plain, err := decompressZstd(zdata); err != nil || !bytes.Equal(plain, data) {
		problems = append(problems, fmt.Sprintf("%s/repodata.json.zst does not hold the same document as repodata.json", sd))
	}
	problems = append(problems, checkShards(ctx, store, sd, recs, objects)...)
	p, err := checkRecords(ctx, store, sd, recs, objects, hashes)
	if err != nil {
		return nil, err
	}
	problems = append(problems, p...)
	st, _, err := loadState(ctx, store, sd)
	if err != nil {
		return nil, err
	}
	for _, base := range files {
		if !IsPackage(base) {
			continue
		}
		if _, ok := recs[base]; ok {
			continue
		}
		if _, bad := st.Unreadable[base]; bad || contains(removed, base) {
			continue // unreadable, or taken out by patch instructions
		}
		problems = append(problems, fmt.Sprintf("%s/%s is in the channel but not in repodata", sd, base))
	}
	return problems, nil
}

// checkRecords checks that every record names a stored file of its size (and hashes).
func checkRecords(ctx context.Context, store channel.Store, sd string, recs map[string]Record, objects map[string]channel.Object, hashes bool) ([]string, error) {
	var problems []string
	for _, file := range sortedKeysOf(recs) {
		rec := recs[file]
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
	return problems, nil
}

// checkShards verifies a subdir's shard index against its repodata.json records: every
// shard it names exists, has the sha256 it is named by, holds records of that name only,
// and together the shards hold exactly the records of repodata.json. A subdir without a
// shard index (indexed with --no-shards) has nothing to check.
func checkShards(ctx context.Context, store channel.Store, sd string, recs map[string]Record, objects map[string]channel.Object) []string {
	key := sd + "/" + ShardIndexFile
	if _, ok := objects[key]; !ok {
		return nil
	}
	data, _, err := channel.ReadAll(ctx, store, key)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", key, err)}
	}
	info, shards, err := DecodeShardIndex(data)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", sd, err)}
	}
	var problems []string
	if info.Subdir != sd {
		problems = append(problems, fmt.Sprintf("%s: info.subdir is %q", key, info.Subdir))
	}
	inShards := map[string]Record{}
	for _, name := range sortedKeysOf(shards) {
		digest := shards[name]
		sk := shardKey(sd, digest)
		if _, ok := objects[sk]; !ok {
			problems = append(problems, fmt.Sprintf("%s names %s for %s, which is missing", key, sk, name))
			continue
		}
		raw, _, err := channel.ReadAll(ctx, store, sk)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", sk, err))
			continue
		}
		shard, err := DecodeShard(raw, digest)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s (shard of %s): %v", sk, name, err))
			continue
		}
		for _, group := range []map[string]Record{shard.Packages, shard.PackagesConda} {
			for fn, r := range group {
				if str(r["name"]) != name {
					problems = append(problems, fmt.Sprintf("%s: the shard of %s holds %s, named %q", sk, name, fn, str(r["name"])))
				}
				inShards[fn] = r
			}
		}
	}
	for fn, want := range recs {
		got, ok := inShards[fn]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s/%s is in repodata.json but in no shard of %s", sd, fn, key))
			continue
		}
		if !sameRecord(got, want) {
			problems = append(problems, fmt.Sprintf("%s/%s: its shard record differs from repodata.json's", sd, fn))
		}
	}
	for fn := range inShards {
		if _, ok := recs[fn]; !ok {
			problems = append(problems, fmt.Sprintf("%s/%s is in a shard but not in repodata.json", sd, fn))
		}
	}
	return problems
}

// sameRecord compares records from repodata.json and from a shard, numbers by value.
func sameRecord(a, b Record) bool {
	na := jsonValue(msgpackValue(map[string]any(a)))
	nb := jsonValue(msgpackValue(map[string]any(b)))
	return reflect.DeepEqual(na, nb)
}

func sortedKeysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// decompressZstd decodes a whole repodata.json.zst.
func decompressZstd(data []byte) ([]byte, error) {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	defer dec.Close()
	return dec.DecodeAll(data, nil)
}
