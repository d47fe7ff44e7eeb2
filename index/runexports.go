package index

import (
	"strings"

	"github.com/condachan/condachan/internal/pyjson"
)

// runExportsJSON renders a subdir's run_exports.json (CEP 12): for every package, the
// run_exports of its info/run_exports.json ({} when it has none), in the layout of
// repodata.json, so that a build tool learns what a host dependency imposes without
// downloading it.
func runExportsJSON(subdir string, packages map[string]StateEntry) []byte {
	pk, pc := map[string]any{}, map[string]any{}
	for fn, e := range packages {
		re := e.Extra.RunExports
		if re == nil {
			re = map[string]any{}
		}
		entry := map[string]any{"run_exports": re}
		if strings.HasSuffix(fn, ".conda") {
			pc[fn] = entry
		} else {
			pk[fn] = entry
		}
	}
	return pyjson.MustMarshal(map[string]any{
		"info":           map[string]any{"subdir": subdir, "version": 1},
		"packages":       pk,
		"packages.conda": pc,
	}, pyjson.Compact)
}
