package index

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/vmihailenco/msgpack/v5"
)

// Sharded repodata (CEP 16). A subdir's repodata_shards.msgpack.zst maps each package
// name to the sha256 of its shard; the shard, <subdir>/shards/<sha256>.msgpack.zst, holds
// that name's records in the layout of repodata.json with sha256 and md5 as raw bytes.
// Both are one zstd frame carrying its content size (older conda sized its buffer from it:
// conda-libmamba-solver#748); info holds subdir, base_url and shards_base_url, all three
// required by rattler, the URLs relative to the subdir and ending in "/" (conda joins a
// relative base_url without adding one, losing its last segment); hashes are msgpack
// binary (rattler refuses hex strings, conda arrays of ints were its old bug). A shard is
// named by the sha256 of its compressed bytes, as conda-index and rattler-index name
// theirs, so `sha256sum` of the file gives its name.

const (
	shardIndexVersion = 1
	// shardsBaseURL is relative to the shard index; packages stay beside it (base_url).
	shardsBaseURL   = "./" + ShardsFolder
	packagesBaseURL = "./"
)

// ShardIndex is repodata_shards.msgpack.zst.
type ShardIndex struct {
	Info    ShardIndexInfo    `msgpack:"info"`
	Shards  map[string][]byte `msgpack:"shards"`
	Version int               `msgpack:"version"`
}

// ShardIndexInfo says where a shard index's packages and shards are.
type ShardIndexInfo struct {
	BaseURL       string `msgpack:"base_url"`
	ShardsBaseURL string `msgpack:"shards_base_url"`
	Subdir        string `msgpack:"subdir"`
}

// Shard is one package name's records.
type Shard struct {
	Packages      map[string]Record
	PackagesConda map[string]Record
	Removed       []string
}

// shardEncoder compresses shards; EncodeAll may be called from many goroutines.
var shardEncoder = sync.OnceValue(func() *zstd.Encoder {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBetterCompression), zstd.WithWindowSize(1<<20),
		// A single-segment frame always declares its content size; without it, frames
		// under 256 bytes would not.
		zstd.WithSingleSegment(true))
	if err != nil {
		panic(err) // fixed, valid options
	}
	return enc
})

var shardDecoder = sync.OnceValue(func() *zstd.Decoder {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(maxShardIndexBytes), zstd.WithDecoderConcurrency(0))
	if err != nil {
		panic(err)
	}
	return dec
})

// The largest decoded shard and shard index conda reads (ZSTD_MAX_SHARD_SIZE and
// ZSTD_MAX_SHARD_INDEX_SIZE in conda/_private/shards): larger ones are refused, by conda
// and by check, and never allocated.
const (
	maxShardBytes      = 16 << 20
	maxShardIndexBytes = 128 << 20
)

// encodedShard is a rendered shard: its compressed bytes and their sha256.
type encodedShard struct {
	Data   []byte
	Digest [32]byte
}

// Hex is the shard's file name without its extension.
func (s encodedShard) Hex() string { return hex.EncodeToString(s.Digest[:]) }

// shardKey is where a shard is stored.
func shardKey(subdir, digestHex string) string {
	return subdir + "/" + ShardsFolder + digestHex + shardFileExtension
}

// marshalMsgpack encodes v with map keys in sorted order and integers in their smallest
// form: the same records give the same bytes, so an unchanged name keeps its shard. The
// order is ours, not left to the encoder, which sorts only some map types.
func marshalMsgpack(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	if err := encodeSorted(enc, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func encodeSorted(enc *msgpack.Encoder, v any) error {
	switch x := v.(type) {
	case map[string]any:
		if err := enc.EncodeMapLen(len(x)); err != nil {
			return err
		}
		for _, k := range sortedKeysOf(x) {
			if err := enc.EncodeString(k); err != nil {
				return err
			}
			if err := encodeSorted(enc, x[k]); err != nil {
				return err
			}
		}
		return nil
	case []any:
		if err := enc.EncodeArrayLen(len(x)); err != nil {
			return err
		}
		for _, e := range x {
			if err := encodeSorted(enc, e); err != nil {
				return err
			}
		}
		return nil
	}
	return enc.Encode(v)
}

// encodeShard renders one name's shard.
func encodeShard(s Shard) (encodedShard, error) {
	doc := map[string]any{
		"packages":       shardRecords(s.Packages),
		"packages.conda": shardRecords(s.PackagesConda),
		"removed":        stringList(s.Removed),
	}
	raw, err := marshalMsgpack(doc)
	if err != nil {
		return encodedShard{}, err
	}
	data := shardEncoder().EncodeAll(raw, make([]byte, 0, len(raw)/3+64))
	return encodedShard{Data: data, Digest: sha256.Sum256(data)}, nil
}

func stringList(s []string) []any {
	out := make([]any, 0, len(s))
	for _, x := range sortedOrEmpty(s) {
		out = append(out, x)
	}
	return out
}

func sortedOrEmpty(s []string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}

func shardRecords(recs map[string]Record) map[string]any {
	out := make(map[string]any, len(recs))
	for fn, r := range recs {
		out[fn] = shardRecord(r)
	}
	return out
}

// shardRecord is a repodata record as CEP 16 stores it: hashes as raw bytes, numbers as
// msgpack numbers.
func shardRecord(r Record) map[string]any {
	out := make(map[string]any, len(r))
	for k, v := range r {
		if (k == "sha256" || k == "md5") && isHexString(v) {
			b, _ := hex.DecodeString(v.(string))
			out[k] = b
			continue
		}
		out[k] = msgpackValue(v)
	}
	return out
}

func isHexString(v any) bool {
	s, ok := v.(string)
	if !ok || len(s)%2 != 0 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// msgpackValue turns the json.Numbers of a record into integers or floats, recursively.
func msgpackValue(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
		return string(x)
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = msgpackValue(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = msgpackValue(e)
		}
		return l
	}
	return v
}

// encodeShardIndex renders repodata_shards.msgpack.zst.
func encodeShardIndex(subdir string, shards map[string]string) ([]byte, error) {
	digests := make(map[string]any, len(shards))
	for name, h := range shards {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("shard of %s: bad digest %q", name, h)
		}
		digests[name] = b
	}
	raw, err := marshalMsgpack(map[string]any{
		"version": shardIndexVersion,
		"info":    map[string]any{"base_url": packagesBaseURL, "shards_base_url": shardsBaseURL, "subdir": subdir},
		"shards":  digests,
	})
	if err != nil {
		return nil, err
	}
	return shardEncoder().EncodeAll(raw, nil), nil
}

// ShardFormatError is a shard or shard index that does not follow CEP 16.
type ShardFormatError struct {
	What string // "repodata_shards.msgpack.zst", "shard of NAME"
	Err  error
}

func (e *ShardFormatError) Error() string { return e.What + ": " + e.Err.Error() }
func (e *ShardFormatError) Unwrap() error { return e.Err }

// decompressShardFile checks that data is one zstd frame that declares its content size,
// at most max bytes, as conda's reader accepts, and returns its content.
func decompressShardFile(data []byte, max uint64) ([]byte, error) {
	var h zstd.Header
	if err := h.Decode(data); err != nil {
		return nil, fmt.Errorf("not zstd: %w", err)
	}
	if !h.HasFCS {
		return nil, errors.New("the zstd frame does not declare its content size")
	}
	if h.FrameContentSize > max {
		return nil, fmt.Errorf("declares %d bytes, more than the %d conda reads", h.FrameContentSize, max)
	}
	// The declared size is only a claim: the buffer grows with what really decodes.
	raw, err := shardDecoder().DecodeAll(data, make([]byte, 0, min(h.FrameContentSize, uint64(4*len(data)+1024))))
	if err != nil {
		return nil, fmt.Errorf("zstd: %w", err)
	}
	if uint64(len(raw)) != h.FrameContentSize {
		return nil, fmt.Errorf("holds %d bytes, its frame says %d", len(raw), h.FrameContentSize)
	}
	return raw, nil
}

// DecodeShardIndex reads repodata_shards.msgpack.zst; shard digests come back as hex.
func DecodeShardIndex(data []byte) (*ShardIndexInfo, map[string]string, error) {
	fail := func(err error) (*ShardIndexInfo, map[string]string, error) {
		return nil, nil, &ShardFormatError{What: ShardIndexFile, Err: err}
	}
	raw, err := decompressShardFile(data, maxShardIndexBytes)
	if err != nil {
		return fail(err)
	}
	var idx ShardIndex
	if err := msgpack.Unmarshal(raw, &idx); err != nil {
		return fail(err)
	}
	if idx.Version != shardIndexVersion {
		return fail(fmt.Errorf("version %d, want %d", idx.Version, shardIndexVersion))
	}
	if idx.Info.ShardsBaseURL != "" && idx.Info.ShardsBaseURL[len(idx.Info.ShardsBaseURL)-1] != '/' {
		return fail(fmt.Errorf("shards_base_url %q does not end in /", idx.Info.ShardsBaseURL))
	}
	shards := make(map[string]string, len(idx.Shards))
	for name, d := range idx.Shards {
		if len(d) != sha256.Size {
			return fail(fmt.Errorf("shard of %q: digest of %d bytes, want 32", name, len(d)))
		}
		shards[name] = hex.EncodeToString(d)
	}
	return &idx.Info, shards, nil
}

// DecodeShard reads one shard into repodata records (hashes as hex, numbers as
// json.Number), checking that data has the sha256 it is named by when want is given.
func DecodeShard(data []byte, want string) (*Shard, error) {
	if want != "" {
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != want {
			return nil, fmt.Errorf("its sha256 is %x, not the %s it is named by", sum, want)
		}
	}
	raw, err := decompressShardFile(data, maxShardBytes)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Packages      map[string]map[string]any `msgpack:"packages"`
		PackagesConda map[string]map[string]any `msgpack:"packages.conda"`
		Removed       []string                  `msgpack:"removed"`
	}
	if err := msgpack.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	s := &Shard{Packages: map[string]Record{}, PackagesConda: map[string]Record{}, Removed: doc.Removed}
	for fn, r := range doc.Packages {
		s.Packages[fn] = recordFromShard(r)
	}
	for fn, r := range doc.PackagesConda {
		s.PackagesConda[fn] = recordFromShard(r)
	}
	return s, nil
}

func recordFromShard(r map[string]any) Record {
	out := make(Record, len(r))
	for k, v := range r {
		if b, ok := v.([]byte); ok && (k == "sha256" || k == "md5") {
			out[k] = hex.EncodeToString(b)
			continue
		}
		out[k] = jsonValue(v)
	}
	return out
}

// jsonValue turns msgpack numbers into json.Numbers, recursively, so that records from
// shards compare equal to records from repodata.json.
func jsonValue(v any) any {
	switch x := v.(type) {
	case int8, int16, int32, int64, int, uint8, uint16, uint32, uint64, uint:
		return json.Number(fmt.Sprint(x))
	case float32:
		return jsonFloat(float64(x))
	case float64:
		return jsonFloat(x)
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = jsonValue(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = jsonValue(e)
		}
		return l
	}
	return v
}

func jsonFloat(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return f
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
}
