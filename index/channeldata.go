package index

import (
	"bytes"
	"context"
	"errors"
	"html/template"
	"sort"
	"strings"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/internal/condaversion"
	"github.com/condachan/condachan/internal/pyjson"
)

// writeChannelFiles writes channeldata.json and the channel's index.html from the state
// of every subdir. It reports whether it wrote anything.
func writeChannelFiles(ctx context.Context, store channel.Store, states map[string]*SubdirState, opts Options) (bool, error) {
	all := map[string]*SubdirState{}
	for k, v := range states {
		all[k] = v
	}
	err := store.List(ctx, channel.InternalPrefix+"index/", func(o channel.Object) error {
		sd := strings.TrimSuffix(strings.TrimPrefix(o.Key, channel.InternalPrefix+"index/"), ".json.zst")
		if _, ok := all[sd]; ok || !channel.IsSubdir(sd) {
			return nil
		}
		st, _, err := loadState(ctx, store, sd)
		if err != nil {
			return err
		}
		all[sd] = st
		return nil
	})
	if err != nil {
		return false, err
	}
	cd := channelData(all)
	data := append(pyjson.MustMarshal(cd, pyjson.Compact), '\n')
	wrote := false
	for _, f := range []struct {
		key, contentType string
		data             []byte
	}{
		{"channeldata.json", "application/json", data},
		{"index.html", "text/html; charset=utf-8", channelHTML(opts.Title, cd)},
	} {
		w, err := writeChannelFile(ctx, store, f.key, f.data, f.contentType, opts.Lease)
		if err != nil {
			return wrote, err
		}
		wrote = wrote || w
	}
	return wrote, nil
}

// writeChannelFile replaces one channel-wide file unless it already holds data. These
// files are derived from every subdir's state, so a write refused because the file
// changed (by hand, or by a run without the lease) is redone on top of what is there, as
// long as the lease is still ours.
func writeChannelFile(ctx context.Context, store channel.Store, key string, data []byte, contentType string, lease *channel.Lease) (bool, error) {
	for attempt := 0; ; attempt++ {
		cur, curObj, err := channel.ReadAll(ctx, store, key)
		if err != nil && !errors.Is(err, channel.ErrNotFound) {
			return false, err
		}
		if err == nil && bytes.Equal(cur, data) {
			return false, nil
		}
		if lease != nil {
			if err := lease.Check(ctx); err != nil {
				return false, err
			}
		}
		_, err = putCAS(ctx, store, key, data, curObj, contentType)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, channel.ErrPreconditionFailed) || attempt >= 2 {
			return false, err
		}
	}
}

// channelData builds channeldata.json as conda-index does: per package name, the facts
// of its newest version, the subdirs it is in, and run_exports per version.
func channelData(states map[string]*SubdirState) map[string]any {
	type candidate struct {
		subdir string
		file   string
		entry  StateEntry
	}
	byName := map[string][]candidate{}
	var subdirs []string
	for sd, st := range states {
		subdirs = append(subdirs, sd)
		for file, e := range st.Packages {
			name := str(e.Record["name"])
			byName[name] = append(byName[name], candidate{sd, file, e})
		}
	}
	sort.Strings(subdirs)
	packages := map[string]any{}
	for name, cands := range byName {
		sort.Slice(cands, func(i, j int) bool {
			a, b := cands[i].entry.Record, cands[j].entry.Record
			if c := condaversion.Compare(str(a["version"]), str(b["version"])); c != 0 {
				return c > 0
			}
			if ta, tb := timestampSeconds(a["timestamp"]), timestampSeconds(b["timestamp"]); ta != tb {
				return ta > tb
			}
			// .conda over .tar.bz2, then a stable order.
			ac, bc := strings.HasSuffix(cands[i].file, ".conda"), strings.HasSuffix(cands[j].file, ".conda")
			if ac != bc {
				return ac
			}
			return cands[i].subdir+cands[i].file < cands[j].subdir+cands[j].file
		})
		newest := cands[0].entry
		p := map[string]any{}
		for k, v := range newest.Extra.About {
			if s, ok := v.(string); ok && k == "description" {
				v = strings.Join(strings.Fields(s), " ")
			}
			p[k] = v
		}
		if lic, ok := newest.Record["license"]; ok && lic != nil {
			p["license"] = lic
		}
		p["version"] = str(newest.Record["version"])
		p["timestamp"] = timestampSeconds(newest.Record["timestamp"])
		sds := map[string]bool{}
		runExports := map[string]any{}
		for _, c := range cands {
			sds[c.subdir] = true
			v := str(c.entry.Record["version"])
			if _, seen := runExports[v]; !seen && len(c.entry.Extra.RunExports) > 0 {
				runExports[v] = c.entry.Extra.RunExports
			}
		}
		var sdList []any
		for _, sd := range sortedKeys(sds) {
			sdList = append(sdList, sd)
		}
		p["subdirs"] = sdList
		p["run_exports"] = runExports
		ex := newest.Extra
		p["activate.d"], p["deactivate.d"] = ex.ActivateD, ex.DeactivateD
		p["post_link"], p["pre_link"], p["pre_unlink"] = ex.PostLink, ex.PreLink, ex.PreUnlink
		p["binary_prefix"], p["text_prefix"] = ex.BinaryPfx, ex.TextPfx
		packages[name] = p
	}
	var sdAny []any
	for _, s := range subdirs {
		sdAny = append(sdAny, s)
	}
	return map[string]any{"channeldata_version": 1, "packages": packages, "subdirs": sdAny}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var channelPage = template.Must(template.New("channel").Parse(`<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>{{.Style}}</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p>Subdirs: {{range .Subdirs}}<a href="{{.}}/">{{.}}</a> {{end}}&middot; <a href="channeldata.json">channeldata.json</a></p>
<table>
<tr><th>Package</th><th>Latest</th><th>Platforms</th><th>License</th><th>Summary</th></tr>
{{range .Rows}}<tr><td>{{if .Home}}<a href="{{.Home}}">{{.Name}}</a>{{else}}{{.Name}}{{end}}</td><td>{{.Version}}</td><td>{{.Subdirs}}</td><td>{{.License}}</td><td>{{.Summary}}</td></tr>
{{end}}</table>
</body>
</html>
`))

func channelHTML(title string, cd map[string]any) []byte {
	type row struct{ Name, Version, Subdirs, License, Summary, Home string }
	pk := cd["packages"].(map[string]any)
	names := make([]string, 0, len(pk))
	for n := range pk {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return strings.ToLower(names[i]) < strings.ToLower(names[j]) })
	var rows []row
	for _, n := range names {
		p := pk[n].(map[string]any)
		var sds []string
		for _, s := range p["subdirs"].([]any) {
			sds = append(sds, s.(string))
		}
		rows = append(rows, row{Name: n, Version: str(p["version"]), Subdirs: strings.Join(sds, ", "), License: str(p["license"]), Summary: str(p["summary"]), Home: safeURL(str(p["home"]))})
	}
	var subdirs []string
	for _, s := range cd["subdirs"].([]any) {
		subdirs = append(subdirs, s.(string))
	}
	var b bytes.Buffer
	if err := channelPage.Execute(&b, struct {
		Title   string
		Style   template.CSS
		Subdirs []string
		Rows    []row
	}{title, pageStyle, subdirs, rows}); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// safeURL keeps only http(s) links from package metadata on the page.
func safeURL(u string) string {
	if strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
		return u
	}
	return ""
}
