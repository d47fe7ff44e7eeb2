package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"strings"
	"sync"
	"time"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/index"
)

// page is a generated index page, kept for the revalidation interval.
type page struct {
	data   []byte
	at     time.Time
	cached *cached // the page as served
}

// generated returns the listing for key, building it again when it is older than the
// revalidation interval. Listings only stand in for index pages the indexer has not
// written, so they are rare, and one at a time is built.
func (h *Handler) generated(ctx context.Context, key string, gen func(context.Context) (*page, error)) (*page, error) {
	h.pagesMu.Lock()
	defer h.pagesMu.Unlock()
	if p := h.pages[key]; p != nil && time.Since(p.at) < h.opts.Revalidate {
		return p, nil
	}
	p, err := gen(ctx)
	if err != nil {
		delete(h.pages, key)
		return nil, err
	}
	sum := sha256.Sum256(p.data)
	etag := `"page-` + hex.EncodeToString(sum[:12]) + `"`
	p.cached = newCached(bytesBody(p.data), channel.Object{Key: key, Size: int64(len(p.data)), ETag: etag})
	p.data = nil // the body has the bytes now
	p.at = time.Now()
	h.pages[key] = p
	return p, nil
}

type listingRow struct {
	Name, Href, Size, Date string
}

var listingPage = template.Must(template.New("listing").Parse(`<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; }
th, td { padding: 0.2em 0.8em; text-align: left; border-bottom: 1px solid #ddd; }
td.num { text-align: right; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{if .Up}}<p><a href="../">..</a></p>
{{end}}<table>
<tr><th>Name</th><th>Size</th><th>Modified</th></tr>
{{range .Rows}}<tr><td><a href="{{.Href}}">{{.Name}}</a></td><td class="num">{{.Size}}</td><td>{{.Date}}</td></tr>
{{end}}</table>
</body>
</html>
`))

func renderListing(title string, up bool, rows []listingRow) []byte {
	var b bytes.Buffer
	if err := listingPage.Execute(&b, struct {
		Title string
		Up    bool
		Rows  []listingRow
	}{title, up, rows}); err != nil {
		panic(err) // the template and its data are ours
	}
	return b.Bytes()
}

func humanSize(n int64) string {
	switch {
	case n >= 10<<30:
		return fmt.Sprintf("%.0f GiB", float64(n)/(1<<30))
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func dateOf(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// rootListing lists the channel's subdirs (those with a repodata.json) and root files.
// It asks the store about each known subdir rather than listing the whole channel,
// which on S3 would page through every package.
func (h *Handler) rootListing(ctx context.Context) (*page, error) {
	names := append([]string{}, channel.KnownSubdirs...)
	found := make([]*channel.Object, len(names)+1)
	errs := make([]error, len(names)+1)
	var wg sync.WaitGroup
	for i := range len(names) + 1 {
		key := "channeldata.json"
		if i < len(names) {
			key = names[i] + "/repodata.json"
		}
		wg.Go(func() {
			obj, err := h.store.Stat(ctx, key)
			switch {
			case err == nil:
				found[i] = &obj
			case !errors.Is(err, channel.ErrNotFound):
				errs[i] = err
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var rows []listingRow
	for i, sd := range names {
		if found[i] != nil {
			rows = append(rows, listingRow{Name: sd + "/", Href: sd + "/", Date: dateOf(found[i].Modified)})
		}
	}
	if cd := found[len(names)]; cd != nil {
		rows = append(rows, listingRow{Name: "channeldata.json", Href: "channeldata.json", Size: humanSize(cd.Size), Date: dateOf(cd.Modified)})
	}
	return &page{data: renderListing(h.opts.Title, false, rows)}, nil
}

// subdirListing lists the files of a subdir that the server serves: packages and index
// files. Dot-files, folders inside the subdir and anything else are left out. A subdir
// without any of them does not exist (404).
func (h *Handler) subdirListing(ctx context.Context, subdir string) (*page, error) {
	var rows []listingRow
	prefix := subdir + "/"
	err := h.store.List(ctx, prefix, func(o channel.Object) error {
		name, ok := strings.CutPrefix(o.Key, prefix)
		if !ok || channel.IsInternal(o.Key) || name == "" || strings.Contains(name, "/") || strings.HasPrefix(name, ".") {
			return nil
		}
		if _, out := index.LookupOutput(name, false); !out && !isPackageName(name) {
			return nil
		}
		if _, status := parsePath("/" + o.Key); status != 0 {
			return nil // a name the server would refuse to serve
		}
		rows = append(rows, listingRow{Name: name, Href: name, Size: humanSize(o.Size), Date: dateOf(o.Modified)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: %w", prefix, channel.ErrNotFound)
	}
	return &page{data: renderListing(h.opts.Title+" / "+subdir, true, rows)}, nil
}
