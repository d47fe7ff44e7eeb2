package index

import (
	"encoding/json"
	"reflect"
	"testing"
)

func sampleRecord() Record {
	return Record{
		"name": "tool", "version": "1.0", "build": "0", "build_number": json.Number("0"),
		"depends": []any{"libx >=1"}, "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"md5": "098f6bcd4621d373cade4e832627b4f6", "size": json.Number("1234"), "timestamp": json.Number("1700000000000"),
	}
}

func FuzzParseRepodata(f *testing.F) {
	rd := &Repodata{Subdir: "linux-64", PackagesConda: map[string]Record{"tool-1.0-0.conda": sampleRecord()}, Removed: []string{"old-1-0.conda"}}
	f.Add(rd.Marshal())
	f.Add([]byte(`{"packages":{"a-1-0.tar.bz2":{"name":"a"}},"removed":["x"]}`))
	f.Add([]byte(`{"info":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, removed, err := parseRepodataDoc(data)
		if err != nil {
			return
		}
		// What parses renders and parses again to the same records.
		again := &Repodata{Packages: map[string]Record{}, PackagesConda: map[string]Record{}, Removed: removed}
		for fn, r := range recs {
			if r == nil {
				return
			}
			again.Packages[fn] = r
		}
		if _, err := ParseRepodata(again.Marshal()); err != nil {
			t.Fatalf("re-rendered repodata does not parse: %v", err)
		}
	})
}

func FuzzDecodeShard(f *testing.F) {
	s, err := encodeShard(Shard{PackagesConda: map[string]Record{"tool-1.0-0.conda": sampleRecord()}, Removed: []string{"tool-0.9-0.conda"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(s.Data)
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x01, 0x09, 0x00, 0x00, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		shard, err := DecodeShard(data, "")
		if err != nil {
			return
		}
		// A shard that decodes encodes to one that decodes to the same records.
		enc, err := encodeShard(*shard)
		if err != nil {
			return // values msgpack cannot hold in a record (e.g. NaN keys) are refused
		}
		back, err := DecodeShard(enc.Data, enc.Hex())
		if err != nil {
			t.Fatalf("re-encoded shard does not decode: %v", err)
		}
		for fn, r := range shard.PackagesConda {
			if !sameRecord(r, back.PackagesConda[fn]) {
				t.Fatalf("%s: %v != %v", fn, r, back.PackagesConda[fn])
			}
		}
	})
}

func FuzzDecodeShardIndex(f *testing.F) {
	idx, err := encodeShardIndex("linux-64", map[string]string{"tool": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(idx)
	f.Fuzz(func(t *testing.T, data []byte) {
		info, shards, err := DecodeShardIndex(data)
		if err != nil {
			return
		}
		enc, err := encodeShardIndex(info.Subdir, shards)
		if err != nil {
			t.Fatalf("decoded shard index does not encode: %v", err)
		}
		_, back, err := DecodeShardIndex(enc)
		if err != nil || !reflect.DeepEqual(back, shards) {
			t.Fatalf("round trip: %v %v != %v", err, back, shards)
		}
	})
}

func FuzzParsePatches(f *testing.F) {
	f.Add([]byte(`{"patch_instructions_version": 1, "packages": {"tool-1.0-0.tar.bz2": {"depends": ["x"], "license": null}}, "packages.conda": {"tool-1.0-0.conda": {"about": {"a": 1}}}, "remove": ["tool-1.0-0.conda"], "revoke": ["tool-1.0-0.tar.bz2"]}`))
	f.Add([]byte(`{"patch_instructions_version": 1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePatches(data, "p.json")
		if err != nil {
			return
		}
		again, err := ParsePatches(p.Marshal(), "p.json")
		if err != nil || again.digest() != p.digest() {
			t.Fatalf("marshalled instructions differ: %v", err)
		}
		rd := &Repodata{Subdir: "linux-64", Packages: map[string]Record{"tool-1.0-0.tar.bz2": sampleRecord()}, PackagesConda: map[string]Record{"tool-1.0-0.conda": sampleRecord()}}
		p.apply(rd)
		_ = p.warnings(rd)
		if _, err := ParseRepodata(rd.Marshal()); err != nil {
			t.Fatalf("patched repodata does not parse: %v", err)
		}
	})
}
