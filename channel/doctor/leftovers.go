package doctor

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/condachan/condachan/channel"
)

// leftoverReportAge is how old a leftover of an interrupted write must be before doctor
// reports it: younger ones are most likely writes still under way.
const leftoverReportAge = time.Hour

// leftoversShown is how many leftovers a finding names; it counts the others.
const leftoversShown = 10

// LeftoversCheck reports (check "leftovers"), and never removes, what interrupted writes
// left behind for longer than leftoverReportAge; where names what was looked at, for the
// detail. An error is the listing's.
func LeftoversCheck(ctx context.Context, sw channel.Sweeper, timeout time.Duration, where string) (Check, error) {
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	found, err := sw.Leftovers(lctx, leftoverReportAge)
	if err != nil {
		return Check{}, err
	}
	if len(found) == 0 {
		return Check{Name: checkLeftovers, Status: CheckPass, Detail: fmt.Sprintf("no interrupted writes older than %s: looked at the %s", fmtAge(leftoverReportAge), where)}, nil
	}
	now := time.Now()
	detail := fmt.Sprintf("%d interrupted write(s) left behind for over %s: %s", len(found), fmtAge(leftoverReportAge), strings.Join(leftoverItems(found, now), ", "))
	return Check{Name: checkLeftovers, Status: CheckWarn, Detail: detail, Fix: leftoversFix(found, now)}, nil
}

// leftoverItems describes the first leftoversShown leftovers and counts the others.
func leftoverItems(found []channel.Leftover, now time.Time) []string {
	var items []string
	for i, lo := range found {
		if i >= leftoversShown {
			items = append(items, fmt.Sprintf("and %d more", len(found)-leftoversShown))
			break
		}
		switch lo.Kind {
		case channel.LeftoverTempFile:
			items = append(items, fmt.Sprintf("%s (temp file, %s, last written %s ago)", lo.Key, fmtSize(lo.Size), fmtAge(now.Sub(lo.Since))))
		default:
			items = append(items, fmt.Sprintf("%s (%s %s, started %s ago)", lo.Key, lo.Kind, lo.UploadID, fmtAge(now.Sub(lo.Since))))
		}
	}
	return items
}

// leftoversFix says which index run removes the leftovers, and how S3 can do without.
func leftoversFix(found []channel.Leftover, now time.Time) string {
	due, uploads := 0, false
	for _, lo := range found {
		if lo.Due(now) {
			due++
		}
		uploads = uploads || lo.Kind == channel.LeftoverUpload
	}
	ages := fmt.Sprintf("temp files older than %s, multipart uploads older than %s", fmtAge(channel.TempFileSweepAge), fmtAge(channel.UploadSweepAge))
	var fix string
	switch {
	case due == len(found):
		fix = "the next `condachan index` removes them (" + ages + "); none of them is a finished package or index file"
	case due == 0:
		fix = fmt.Sprintf("the first `condachan index` after they are old enough removes them (%s): younger uploads may still be running", ages)
	default:
		fix = fmt.Sprintf("the next `condachan index` removes %d of them (%s); the other %d may still be running and go once old enough", due, ages, len(found)-due)
	}
	if uploads {
		fix += "; an S3 lifecycle rule with AbortIncompleteMultipartUpload (DaysAfterInitiation 1) aborts forgotten uploads without condachan"
	}
	return fix
}

// fmtAge shows a duration the way people say it: 45m, 5h, 3d.
func fmtAge(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d >= time.Hour:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

// fmtSize shows a byte count with a binary unit.
func fmtSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
