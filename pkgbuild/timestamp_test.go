package pkgbuild

import (
	"errors"
	"testing"
	"time"
)

func TestSourceDateEpoch(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	if ts, err := SourceDateEpoch(); err != nil || !ts.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("SourceDateEpoch() = %v, %v", ts, err)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	_, err := SourceDateEpoch()
	var se *SourceDateEpochError
	if !errors.As(err, &se) || err.Error() != `SOURCE_DATE_EPOCH="yesterday": expected seconds since 1970` {
		t.Errorf("bad value: %v", err)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "")
	if ts, err := SourceDateEpoch(); err != nil || time.Since(ts) > time.Minute {
		t.Errorf("empty: %v, %v", ts, err)
	}
}
