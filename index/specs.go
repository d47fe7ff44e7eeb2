package index

import (
	"fmt"

	"github.com/condachan/condachan/internal/matchspec"
)

// checkSpecs warns about depends and constrains entries a hand-uploaded package carries
// that are not match specs in the repodata form conda and rattler read alike (rattler
// cannot solve anything that depends on such a package, or refuses the channel).
// Packages condachan builds are written in that form.
func checkSpecs(file string, r Record) []string {
	var w []string
	for _, field := range []string{"depends", "constrains"} {
		list, _ := r[field].([]any)
		for i, v := range list {
			s, ok := v.(string)
			if !ok {
				w = append(w, fmt.Sprintf("%s: %s[%d] is %v, not a string", file, field, i, v))
				continue
			}
			if _, err := matchspec.Canonical(s); err != nil {
				w = append(w, fmt.Sprintf("%s: %s[%d]: %v; rattler and pixi may not read this package (fix it with `condachan patch`, or rebuild)", file, field, i, err))
			}
		}
	}
	return w
}
