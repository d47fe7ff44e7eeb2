package pkgbuild

import (
	"encoding/hex"
	"sort"
	"strings"

	"github.com/condachan/condachan/internal/matchspec"
	"github.com/condachan/condachan/internal/pyjson"
	"github.com/condachan/condachan/pkgbuild/recipe"
)

// PathRecord is one entry of info/paths.json.
type PathRecord struct {
	Path     string
	Softlink bool
	SHA256   [32]byte
	Size     int64
	// PrefixPlaceholder is the build prefix the file holds, which conda replaces with
	// the install prefix; FileMode says how (text or binary). Both or neither.
	PrefixPlaceholder string
	FileMode          string
	// NoLink has conda copy the file instead of hard-linking it (always_copy_files).
	NoLink bool
}

// emptySHA256 is what conda-build records for links to directories or dangling links.
var emptySHA256 = [32]byte{0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55}

// platformArch gives the arch and platform fields conda-build writes for a subdir.
func platformArch(subdir string) (platform, arch string) {
	os, a, ok := strings.Cut(subdir, "-")
	if !ok {
		return "", ""
	}
	switch a {
	case "64":
		a = "x86_64"
	case "32":
		a = "x86"
	}
	return os, a
}

// indexJSON builds info/index.json, the record conda's index copies into repodata.
func indexJSON(r *recipe.Recipe, buildNumber int, buildString string, timestampMS int64) map[string]any {
	depends := canonicalSpecs(r.Requirements.Run)
	sort.Strings(depends)
	idx := map[string]any{
		"name":         r.Package.Name,
		"version":      r.Package.Version,
		"build":        buildString,
		"build_number": buildNumber,
		"depends":      depends,
		"subdir":       r.Subdir(),
		"timestamp":    timestampMS,
	}
	if len(r.Requirements.RunConstraints) > 0 {
		c := canonicalSpecs(r.Requirements.RunConstraints)
		sort.Strings(c)
		idx["constrains"] = c
	}
	if r.About.License != "" {
		idx["license"] = r.About.License
	}
	if r.About.LicenseFamily != "" {
		idx["license_family"] = r.About.LicenseFamily
	}
	if r.Build.Noarch != "" {
		idx["noarch"] = r.Build.Noarch
	} else if platform, arch := platformArch(r.Subdir()); platform != "" {
		idx["platform"], idx["arch"] = platform, arch
	}
	return idx
}

// pathsJSON renders info/paths.json sorted by path, as conda-build does.
func pathsJSON(records []PathRecord) []byte {
	sorted := append([]PathRecord(nil), records...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	paths := make([]any, len(sorted))
	for i, rec := range sorted {
		typ := "hardlink"
		if rec.Softlink {
			typ = "softlink"
		}
		entry := map[string]any{
			"_path":         rec.Path,
			"path_type":     typ,
			"sha256":        hex.EncodeToString(rec.SHA256[:]),
			"size_in_bytes": rec.Size,
		}
		if rec.PrefixPlaceholder != "" {
			entry["prefix_placeholder"], entry["file_mode"] = rec.PrefixPlaceholder, rec.FileMode
		}
		if rec.NoLink {
			entry["no_link"] = true
		}
		paths[i] = entry
	}
	return pyjson.MustMarshal(map[string]any{"paths": paths, "paths_version": 1}, pyjson.Indent2)
}

// filesList renders info/files: every path, sorted, one per line.
func filesList(records []PathRecord) []byte {
	names := make([]string, len(records))
	for i, rec := range records {
		names[i] = rec.Path
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// aboutJSON renders info/about.json with the field names conda-build and rattler-build use.
func aboutJSON(r *recipe.Recipe, licenseFiles []string) []byte {
	a := r.About
	about := map[string]any{}
	set := func(k, v string) {
		if v != "" {
			about[k] = v
		}
	}
	set("home", a.Homepage)
	set("dev_url", a.Repository)
	set("doc_url", a.Documentation)
	set("license", a.License)
	set("license_family", a.LicenseFamily)
	set("summary", a.Summary)
	set("description", a.Description)
	if len(licenseFiles) > 0 {
		about["license_file"] = licenseFiles
	}
	extra := map[string]any{}
	for k, v := range r.Extra {
		extra[k] = v
	}
	about["extra"] = extra
	return pyjson.MustMarshal(about, pyjson.Indent2)
}

func runExportsJSON(re recipe.RunExports) []byte {
	re.Weak, re.Strong, re.Noarch = canonicalSpecs(re.Weak), canonicalSpecs(re.Strong), canonicalSpecs(re.Noarch)
	re.WeakConstraints, re.StrongConstraints = canonicalSpecs(re.WeakConstraints), canonicalSpecs(re.StrongConstraints)
	return pyjson.MustMarshal(re, pyjson.Compact)
}

// canonicalSpecs copies match specs in the repodata form `name [version [build]]` that
// conda and rattler both read (rattler cannot solve against studio-tools>=2.1 in a
// record's depends). The recipe loader already wrote them so and refused what that form
// cannot hold; a spec it cannot normalise (a Recipe made in code) is kept as it is.
func canonicalSpecs(specs []string) []string {
	if specs == nil {
		return nil
	}
	out := make([]string, len(specs))
	for i, s := range specs {
		if c, err := matchspec.Canonical(s); err == nil {
			out[i] = c
		} else {
			out[i] = s
		}
	}
	return out
}

func linkJSON(noarch string) []byte {
	return pyjson.MustMarshal(map[string]any{
		"noarch":                   map[string]any{"type": noarch},
		"package_metadata_version": 1,
	}, pyjson.Indent2)
}

func mustIndent(v any) []byte { return pyjson.MustMarshal(v, pyjson.Indent2) }

// renderedRecipe is the recipe as condachan understood it for this platform: selectors
// resolved, expressions evaluated.
func renderedRecipe(r *recipe.Recipe, buildNumber int, buildString string) map[string]any {
	ctx := map[string]any{}
	for _, c := range r.Context {
		ctx[c.Name] = c.Value
	}
	var sources []map[string]any
	for _, s := range r.Sources {
		m := map[string]any{}
		if s.IsPath() {
			m["path"] = s.Path
		} else {
			m["url"] = s.URLs
			m["sha256"] = s.SHA256
			m["file_name"] = s.ArchiveName()
		}
		if s.TargetDirectory != "" {
			m["target_directory"] = s.TargetDirectory
		}
		if s.StripComponents >= 0 {
			m["strip_components"] = s.StripComponents
		}
		sources = append(sources, m)
	}
	var files []map[string]any
	for _, f := range r.Build.Files {
		m := map[string]any{"from": f.From, "to": f.To}
		if len(f.Include) > 0 {
			m["include"] = f.Include
		}
		if len(f.Exclude) > 0 {
			m["exclude"] = f.Exclude
		}
		files = append(files, m)
	}
	var links []map[string]any
	for _, l := range r.Build.Links {
		links = append(links, map[string]any{"path": l.Path, "target": l.Target})
	}
	var env []map[string]any
	for _, e := range r.Build.Activation.Env {
		env = append(env, map[string]any{e.Name: e.Value})
	}
	build := map[string]any{"number": buildNumber, "string": buildString}
	if r.Build.Noarch != "" {
		build["noarch"] = r.Build.Noarch
	}
	if files != nil {
		build["files"] = files
	}
	if links != nil {
		build["links"] = links
	}
	if env != nil || r.Build.Activation.PathPrepend != nil {
		build["activation"] = map[string]any{"env": env, "path_prepend": r.Build.Activation.PathPrepend}
	}
	return map[string]any{
		"target_platform": r.TargetPlatform,
		"context":         ctx,
		"package":         map[string]any{"name": r.Package.Name, "version": r.Package.Version},
		"source":          sources,
		"build":           build,
		"requirements":    map[string]any{"run": r.Requirements.Run, "run_constraints": r.Requirements.RunConstraints},
	}
}
