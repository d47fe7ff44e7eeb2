package mirror

import (
	"testing"

	"github.com/condachan/condachan/mirror/lockfile"
)

// Progress needs a total: bytes when every size is known, else packages.
func TestProgressTotal(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sizes  []int64
		total  int64
		oneAdd int64
	}{
		{"sizes known", []int64{100, 200}, 300, 50},
		{"a size missing", []int64{100, 0, 5}, 3, 1},
		{"none", nil, 0, 50},
	} {
		var pkgs []lockfile.Package
		for _, s := range tc.sizes {
			pkgs = append(pkgs, lockfile.Package{Size: s})
		}
		total, unit := progressTotal(pkgs)
		if total != tc.total || unit(verified{size: 50}) != tc.oneAdd {
			t.Errorf("%s: total %d, one package counts %d; want %d, %d", tc.name, total, unit(verified{size: 50}), tc.total, tc.oneAdd)
		}
	}
}
