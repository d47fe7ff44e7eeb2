package pkgbuild

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/condachan/condachan/input"
)

// SourceDateEpochError is a SOURCE_DATE_EPOCH that is not seconds since 1970.
type SourceDateEpochError struct{ Value string }

func (e *SourceDateEpochError) Error() string {
	return fmt.Sprintf("SOURCE_DATE_EPOCH=%q: expected seconds since 1970", e.Value)
}

// Is makes the error match input.ErrInvalid: what was given is at fault.
func (*SourceDateEpochError) Is(target error) bool { return target == input.ErrInvalid }

// SourceDateEpoch is the package timestamp SOURCE_DATE_EPOCH sets
// (reproducible-builds.org): the same recipe, archives and timestamp give byte-identical
// packages. Unset or empty means now.
func SourceDateEpoch() (time.Time, error) {
	v, ok := os.LookupEnv("SOURCE_DATE_EPOCH")
	if !ok || v == "" {
		return time.Now(), nil
	}
	secs, err := strconv.ParseInt(v, 10, 64)
	if err != nil || secs < 0 {
		return time.Time{}, &SourceDateEpochError{Value: v}
	}
	return time.Unix(secs, 0), nil
}
