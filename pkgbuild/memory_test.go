package pkgbuild

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestLimitMemory(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Run("sets and restores", func(t *testing.T) {
		t.Setenv("GOMEMLIMIT", "")
		restore := LimitMemory()
		if got := debug.SetMemoryLimit(-1); got != MemoryLimit {
			t.Errorf("limit %d, want %d", got, MemoryLimit)
		}
		restore()
		if got := debug.SetMemoryLimit(-1); got != before {
			t.Errorf("restored limit %d, want %d", got, before)
		}
	})
	t.Run("GOMEMLIMIT wins", func(t *testing.T) {
		t.Setenv("GOMEMLIMIT", "1GiB")
		restore := LimitMemory()
		if got := debug.SetMemoryLimit(-1); got != before {
			t.Errorf("limit %d with GOMEMLIMIT set, want it left at %d", got, before)
		}
		restore()
	})
	if before != math.MaxInt64 && before <= MemoryLimit {
		t.Logf("the test process already had a limit of %d", before)
	}
}
