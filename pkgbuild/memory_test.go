package pkgbuild

import (
	"runtime/debug"
	"testing"
)

func TestLimitMemory(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	for _, tc := range []struct {
		gomemlimit string
		want       int64
	}{
		{"", MemoryLimit}, // the build's limit
		{"1GiB", before},  // GOMEMLIMIT wins: left as the runtime set it
	} {
		t.Setenv("GOMEMLIMIT", tc.gomemlimit)
		restore := LimitMemory()
		if got := debug.SetMemoryLimit(-1); got != tc.want {
			t.Errorf("GOMEMLIMIT=%q: limit %d, want %d", tc.gomemlimit, got, tc.want)
		}
		restore()
		if got := debug.SetMemoryLimit(-1); got != before {
			t.Errorf("GOMEMLIMIT=%q: restored limit %d, want %d", tc.gomemlimit, got, before)
		}
	}
}
