package index

import (
	"fmt"
	"strings"
)

// Caching says how long a client or a cache may keep a served channel file.
type Caching int

const (
	// Revalidate files are replaced in place: they are served with a short max-age and
	// revalidated by ETag.
	Revalidate Caching = iota
	// Immutable files are named by the hash of their content: they never change, so they
	// are served as immutable for a year.
	Immutable
)

// Writer says who writes a channel file.
type Writer int

const (
	// Foreign files are written by other indexers (conda-index, rattler-index). condachan
	// never writes them; serve passes them through when a channel has them.
	Foreign Writer = iota
	// Indexer files are rendered by every index run from the channel's packages.
	Indexer
	// Command files are written by a condachan command (patch), read by the index.
	Command
)

// Output is one kind of file in a channel besides packages. Outputs is the one list of
// them: the indexer renders and writes the Indexer ones, check verifies them, serve takes
// its routes, content types and caching from it, and policy the keys condachan only
// writes conditionally.
type Output struct {
	// Name is the file name in each subdir, or at the channel root when Root is set. A
	// family of content-addressed files has the folder they share, ending in "/".
	Name        string
	Root        bool
	ContentType string
	Caching     Caching
	Writer      Writer
	// Readers says which clients read the file (README, `condachan index --help`).
	Readers string
}

// Family reports whether the output is a folder of content-addressed files.
func (o Output) Family() bool { return strings.HasSuffix(o.Name, "/") }

// The file names of the outputs the index code refers to by name.
const (
	RepodataJSON       = "repodata.json"
	RepodataZst        = "repodata.json.zst"
	RepodataFromPkgs   = "repodata_from_packages.json"
	ShardIndexFile     = "repodata_shards.msgpack.zst"
	ShardsFolder       = "shards/"
	RunExportsJSON     = "run_exports.json"
	PatchInstructions  = "patch_instructions.json"
	IndexHTML          = "index.html"
	ChannelDataJSON    = "channeldata.json"
	shardFileExtension = ".msgpack.zst"
)

// Outputs lists every file of a channel other than packages, in the order an index run
// writes them: content-addressed shards before the shard index that names them, the shard
// index and repodata (what solvers read) before the pages people read.
var Outputs = []Output{
	{Name: ShardsFolder, ContentType: "application/zstd", Caching: Immutable, Writer: Indexer,
		Readers: "rattler, pixi, conda 26 (CEP 16): one package name's records each, named by their sha256"},
	{Name: ShardIndexFile, ContentType: "application/zstd", Writer: Indexer,
		Readers: "rattler, pixi, conda 26 (CEP 16): ask for it first; maps each package name to its shard"},
	{Name: RepodataJSON, ContentType: "application/json", Writer: Indexer,
		Readers: "every conda client; conda-index's byte layout"},
	{Name: RepodataZst, ContentType: "application/zstd", Writer: Indexer,
		Readers: "conda >= 24, mamba, rattler when there are no shards"},
	{Name: RepodataFromPkgs, ContentType: "application/json", Writer: Indexer,
		Readers: "people and tools comparing: repodata before patch instructions, as conda-index keeps it"},
	{Name: RunExportsJSON, ContentType: "application/json", Writer: Indexer,
		Readers: "rattler-build and conda-build (CEP 12): each package's run_exports"},
	{Name: IndexHTML, ContentType: "text/html; charset=utf-8", Writer: Indexer,
		Readers: "people: the subdir's packages"},
	{Name: PatchInstructions, ContentType: "application/json", Writer: Command,
		Readers: "the index (`condachan patch` stores it): fixes to records without a rebuild"},
	{Name: ChannelDataJSON, Root: true, ContentType: "application/json", Writer: Indexer,
		Readers: "conda search --info, anaconda-style front ends: per-name facts"},
	{Name: IndexHTML, Root: true, ContentType: "text/html; charset=utf-8", Writer: Indexer,
		Readers: "people: the channel's names and subdirs"},
	{Name: "repodata.json.bz2", ContentType: "application/x-bzip2"},
	{Name: "current_repodata.json", ContentType: "application/json"},
	{Name: "current_repodata.json.zst", ContentType: "application/zstd"},
	{Name: "repodata_from_packages.json.zst", ContentType: "application/zstd"},
	{Name: "run_exports.json.zst", ContentType: "application/zstd"},
	{Name: "rss.xml", Root: true, ContentType: "application/rss+xml"},
}

// SubdirOutputs returns the outputs in each subdir that w writes, in write order.
func SubdirOutputs(w Writer) []Output {
	var out []Output
	for _, o := range Outputs {
		if !o.Root && o.Writer == w {
			out = append(out, o)
		}
	}
	return out
}

// DescribeOutputs lists the files an index run writes, one a line: where each is and
// who reads it ("<subdir>/" for a file in every subdir, <sha256> for a family's members).
func DescribeOutputs() string {
	var b strings.Builder
	for _, o := range Outputs {
		if o.Writer != Indexer {
			continue
		}
		where := "<subdir>/"
		if o.Root {
			where = ""
		}
		name := o.Name
		if o.Family() {
			name += "<sha256>.msgpack.zst"
		}
		fmt.Fprintf(&b, "  %-44s %s\n", where+name, o.Readers)
	}
	return b.String()
}

// writtenSubdirFiles are the single files (not shard families) an index run writes in
// each subdir, in write order.
func writtenSubdirFiles() []Output {
	var out []Output
	for _, o := range SubdirOutputs(Indexer) {
		if !o.Family() {
			out = append(out, o)
		}
	}
	return out
}

// LookupOutput tells what a file name at the channel root (root set) or in a subdir is,
// when it is one of Outputs or a member of a content-addressed family
// ("shards/<sha256>.msgpack.zst"). Anything else (packages included) is not found.
func LookupOutput(name string, root bool) (Output, bool) {
	for _, o := range Outputs {
		if o.Root != root {
			continue
		}
		if o.Family() {
			if rest, ok := strings.CutPrefix(name, o.Name); ok && isShardFileName(rest) {
				return o, true
			}
			continue
		}
		if o.Name == name {
			return o, true
		}
	}
	return Output{}, false
}

// isShardFileName reports whether name is "<64 lower-case hex digits>.msgpack.zst".
func isShardFileName(name string) bool {
	digest, ok := strings.CutSuffix(name, shardFileExtension)
	return ok && validLowerHex(digest, 64)
}

func validLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// ConditionalKeyPatterns are the channel keys (relative to the channel, with "*" for
// any subdir or shard) that condachan writes only with If-Match or If-None-Match: every
// output it writes. The IAM bucket policy denies other writes of them.
func ConditionalKeyPatterns() []string {
	var keys []string
	for _, o := range Outputs {
		if o.Writer == Foreign {
			continue
		}
		switch {
		case o.Root:
			keys = append(keys, o.Name)
		case o.Family():
			keys = append(keys, "*/"+o.Name+"*")
		default:
			keys = append(keys, "*/"+o.Name)
		}
	}
	return keys
}
