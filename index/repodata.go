package index

import (
	"bytes"
	"fmt"
	"html/template"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/condachan/condachan/internal/condaversion"
	"github.com/condachan/condachan/internal/progress"
	"github.com/condachan/condachan/internal/pyjson"
)

// Repodata is the document conda clients solve from.
type Repodata struct {
	Subdir        string
	Packages      map[string]Record // .tar.bz2
	PackagesConda map[string]Record // .conda
	// Removed lists the files patch instructions took out, as conda-index does.
	Removed []string
}

// Marshal writes repodata.json byte for byte as conda-index 0.4 does:
// json.dumps(sort_keys=True, separators=(",", ":")), non-ASCII escaped, no final newline.
func (r *Repodata) Marshal() []byte {
	pk := make(map[string]any, len(r.Packages))
	for k, v := range r.Packages {
		pk[k] = map[string]any(v)
	}
	pc := make(map[string]any, len(r.PackagesConda))
	for k, v := range r.PackagesConda {
		pc[k] = map[string]any(v)
	}
	return pyjson.MustMarshal(map[string]any{
		"info":             map[string]any{"subdir": r.Subdir},
		"packages":         pk,
		"packages.conda":   pc,
		"removed":          sortedOrEmpty(r.Removed),
		"repodata_version": 1,
	}, pyjson.Compact)
}

// ParseRepodata checks that data is a repodata document and returns its package keys.
func ParseRepodata(data []byte) (map[string]Record, error) {
	all, _, err := parseRepodataDoc(data)
	return all, err
}

// parseRepodataDoc returns a repodata document's records and its "removed" list.
func parseRepodataDoc(data []byte) (map[string]Record, []string, error) {
	var doc struct {
		Info          map[string]any    `json:"info"`
		Packages      map[string]Record `json:"packages"`
		PackagesConda map[string]Record `json:"packages.conda"`
		Removed       []string          `json:"removed"`
	}
	if err := decodeJSON(data, &doc); err != nil {
		return nil, nil, err
	}
	if doc.Packages == nil && doc.PackagesConda == nil {
		return nil, nil, fmt.Errorf("no packages or packages.conda key")
	}
	all := map[string]Record{}
	for k, v := range doc.Packages {
		all[k] = v
	}
	for k, v := range doc.PackagesConda {
		all[k] = v
	}
	return all, doc.Removed, nil
}

// compressZstd makes repodata.json.zst: one frame with the content size, as conda-index
// --zst writes it, so that clients can size their buffer up front.
func compressZstd(data []byte) []byte {
	const window = 8 << 20
	// Single-segment (for documents that fit the window) so that even a tiny document
	// declares its size; larger ones always do.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(window),
		zstd.WithSingleSegment(len(data) <= window))
	if err != nil {
		panic(err) // fixed, valid options
	}
	defer enc.Close()
	return enc.EncodeAll(data, make([]byte, 0, len(data)/8))
}

type htmlRow struct {
	FileName, Name, Version, Build, Size, SHA256, Summary, Date string
}

// pageStyle is the CSS of the index pages.
const pageStyle = `
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; }
th, td { padding: 0.2em 0.8em; text-align: left; border-bottom: 1px solid #ddd; }
td.num { text-align: right; }
code { font-size: 85%; }
`

var subdirPage = template.Must(template.New("subdir").Parse(`<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>{{.Style}}</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p>{{len .Rows}} packages. Solvers read <a href="repodata.json">repodata.json</a> (<a href="repodata.json.zst">.zst</a>).</p>
<table>
<tr><th>File</th><th>Size</th><th>Date</th><th>SHA256</th><th>Summary</th></tr>
{{range .Rows}}<tr><td><a href="{{.FileName}}">{{.FileName}}</a></td><td class="num">{{.Size}}</td><td>{{.Date}}</td><td><code>{{.SHA256}}</code></td><td>{{.Summary}}</td></tr>
{{end}}</table>
</body>
</html>
`))

// subdirHTML renders a subdir's index.html: every package, newest version first per
// name. It holds no "generated at" time, so an unchanged subdir gives unchanged bytes.
func subdirHTML(title string, packages map[string]PackageInfo) []byte {
	rows := make([]htmlRow, 0, len(packages))
	keys := make([]string, 0, len(packages))
	for k := range packages {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := packages[keys[i]].Record, packages[keys[j]].Record
		an, bn := strings.ToLower(str(a["name"])), strings.ToLower(str(b["name"]))
		if an != bn {
			return an < bn
		}
		if c := condaversion.Compare(str(a["version"]), str(b["version"])); c != 0 {
			return c > 0
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		p := packages[k]
		summary, _ := p.Extra.About["summary"].(string)
		if len(summary) > 120 {
			summary = summary[:117] + "..."
		}
		rows = append(rows, htmlRow{
			FileName: k, Name: str(p.Record["name"]), Version: str(p.Record["version"]), Build: str(p.Record["build"]),
			Size: progress.HumanBytes(toInt(p.Record["size"])), SHA256: str(p.Record["sha256"]), Summary: summary,
			Date: timestampDate(p.Record["timestamp"]),
		})
	}
	var b bytes.Buffer
	if err := subdirPage.Execute(&b, struct {
		Title string
		Style template.CSS
		Rows  []htmlRow
	}{title, pageStyle, rows}); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func str(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func toInt(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case int:
		return int64(n)
	case float64:
		return int64(n)
	case interface{ Int64() (int64, error) }:
		i, _ := n.Int64()
		return i
	}
	return 0
}

// timestampSeconds normalises a package timestamp (conda-build writes milliseconds,
// old packages seconds) as conda-index does.
func timestampSeconds(v any) int64 {
	ts := toInt(v)
	if ts > 253402300799 {
		ts /= 1000
	}
	return ts
}

func timestampDate(v any) string {
	ts := timestampSeconds(v)
	if ts <= 0 {
		return ""
	}
	return time.Unix(ts, 0).UTC().Format("2006-01-02")
}
