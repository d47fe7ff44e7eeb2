package index

import (
	"fmt"
	"time"
)

// Unreadable is how many package files the run found unreadable and left out of the
// index, over all subdirs.
func (r *Result) Unreadable() int {
	if r == nil {
		return 0
	}
	n := 0
	for _, sd := range r.Subdirs {
		n += len(sd.Unreadable)
	}
	return n
}

// Messages are the lines people must read about a run: the packages left out as
// unreadable, the subdirs' warnings, the leftovers of interrupted writes removed, and
// why they could not be looked for. None for a nil Result.
func (r *Result) Messages() []string {
	if r == nil {
		return nil
	}
	var out []string
	for _, sd := range r.Subdirs {
		for _, p := range sd.Unreadable {
			out = append(out, fmt.Sprintf("warning: %s/%s is not a readable package and was left out of the index: %s", sd.Subdir, p.File, p.Error))
		}
		for _, m := range sd.Warnings {
			out = append(out, fmt.Sprintf("warning: %s/%s", sd.Subdir, m))
		}
	}
	for _, lo := range r.Swept {
		out = append(out, fmt.Sprintf("removed the %s %s, left by an interrupted write (%s)", lo.Kind, lo.Key, lo.Since.UTC().Format(time.RFC3339)))
	}
	if r.SweepError != "" {
		out = append(out, "warning: could not look for leftovers of interrupted writes: "+r.SweepError)
	}
	return out
}
