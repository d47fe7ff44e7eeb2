package channel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// CheckStatus is the outcome of one check.
type CheckStatus string

const (
	CheckPass CheckStatus = "pass"
	CheckWarn CheckStatus = "warn" // works, but worth knowing
	CheckFail CheckStatus = "fail" // condachan will fail, or cannot keep its guarantees
	CheckSkip CheckStatus = "skip" // not run: it does not apply, or an earlier check failed
)

// Check is one finding of Diagnose. Name is a stable identifier (scripts match on it).
//
// Detail and Fix are in the library's own words. Where they name a setting (an option
// of the channel or of Diagnose, the region say) or a command, they were worded through
// a Namer, and Words words them again with a front end's names (the CLI's flags);
// Settings lists the settings they name.
type Check struct {
	Name   string      `json:"name"`
	Status CheckStatus `json:"status"`
	Detail string      `json:"detail"`
	Fix    string      `json:"fix,omitempty"`
	// Settings are the settings Detail and Fix name: what the fix asks to change, or
	// where a value came from.
	Settings []Setting `json:"settings,omitempty"`

	detail, fix func(Namer) string
}

// Setting is an option of a channel, or of Diagnose, that a finding can name: one to
// change, or the one a value came from. Its value is a stable identifier; String is how
// the library's own words name it.
type Setting string

const (
	SettingChannel       Setting = "channel"               // the channel's location
	SettingReadOnly      Setting = "read-only"             // DiagnoseOptions.ReadOnly
	SettingRegion        Setting = "region"                // the S3 region
	SettingEndpoint      Setting = "endpoint-url"          // the S3 endpoint URL
	SettingPathStyle     Setting = "path-style"            // path-style S3 addressing
	SettingProfile       Setting = "profile"               // the AWS shared-config profile
	SettingExpectedOwner Setting = "expected-bucket-owner" // the account expected to own the bucket
)

// String names the setting in the library's words.
func (s Setting) String() string {
	switch s {
	case SettingChannel:
		return "the channel URL"
	case SettingReadOnly:
		return "the read-only option"
	case SettingRegion:
		return "the region option"
	case SettingEndpoint:
		return "the endpoint URL option"
	case SettingPathStyle:
		return "the path-style option"
	case SettingProfile:
		return "the profile option"
	case SettingExpectedOwner:
		return "the expected bucket owner option"
	}
	return string(s)
}

// Namer names what findings and errors ask their user to set or run, as a front end's
// user does it.
type Namer interface {
	// Setting names a setting (the CLI: its flag).
	Setting(s Setting) string
	// Policy names the way to print the IAM policy statements that give access
	// ("read", "write" or "read|write") to channel ("" when the words are not about one
	// channel).
	Policy(channel, access string) string
}

// PlainNames is the library's own Namer: Setting.String, and `condachan policy` for the
// policy statements.
var PlainNames Namer = plainNames{}

type plainNames struct{}

func (plainNames) Setting(s Setting) string { return s.String() }
func (plainNames) Policy(_, access string) string {
	return "`condachan policy` for " + access + " access"
}

// WithDetail returns c with its Detail worded by detail, which names every setting and
// command through the Namer it is given (Detail is its words for PlainNames).
func (c Check) WithDetail(detail func(Namer) string) Check {
	c.detail = detail
	return c.named()
}

// WithFix returns c with its Fix worded by fix, as WithDetail does for Detail.
func (c Check) WithFix(fix func(Namer) string) Check {
	c.fix = fix
	return c.named()
}

// DetailIn and FixIn are Detail and Fix worded with n's names.
func (c Check) DetailIn(n Namer) string {
	if c.detail == nil {
		return c.Detail
	}
	return c.detail(n)
}

func (c Check) FixIn(n Namer) string {
	if c.fix == nil {
		return c.Fix
	}
	return c.fix(n)
}

// Words returns c with Detail and Fix worded with n's names.
func (c Check) Words(n Namer) Check {
	c.Detail, c.Fix = c.DetailIn(n), c.FixIn(n)
	c.detail, c.fix = nil, nil
	return c
}

// named sets Detail, Fix and Settings from the wording functions.
func (c Check) named() Check {
	rec := &recordNames{}
	c.DetailIn(rec)
	c.FixIn(rec)
	c.Settings = rec.settings
	c.Detail, c.Fix = c.DetailIn(PlainNames), c.FixIn(PlainNames)
	return c
}

// recordNames is a Namer that notes the settings asked for.
type recordNames struct{ settings []Setting }

func (r *recordNames) Setting(s Setting) string {
	if !slices.Contains(r.settings, s) {
		r.settings = append(r.settings, s)
	}
	return s.String()
}

func (r *recordNames) Policy(channel, access string) string {
	return PlainNames.Policy(channel, access)
}

// Words returns a copy of the report with every check's Detail and Fix worded with n's
// names.
func (r *Report) Words(n Namer) *Report {
	out := *r
	out.Checks = make([]Check, len(r.Checks))
	for i, c := range r.Checks {
		out.Checks[i] = c.Words(n)
	}
	return &out
}

// MessageError is an error whose message names settings: Error uses PlainNames,
// Message the names n gives.
type MessageError interface {
	error
	Message(n Namer) string
}

// ErrorIn is err's message with every MessageError in it (errors.Unwrap's tree) worded
// with n's names.
func ErrorIn(err error, n Namer) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	var walk func(error)
	walk = func(e error) {
		if me, ok := e.(MessageError); ok {
			if own := me.Error(); own != "" {
				msg = strings.ReplaceAll(msg, own, me.Message(n))
			}
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			if inner := u.Unwrap(); inner != nil {
				walk(inner)
			}
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				if inner != nil {
					walk(inner)
				}
			}
		}
	}
	walk(err)
	return msg
}

// Report is what Diagnose found.
type Report struct {
	Channel string `json:"channel"`
	// Backend is "s3" or "local".
	Backend string  `json:"backend"`
	Checks  []Check `json:"checks"`
	// OK is true when no check failed (warnings allowed).
	OK bool `json:"ok"`
}

// Failed returns the checks that failed.
func (r *Report) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Status == CheckFail {
			out = append(out, c)
		}
	}
	return out
}

// Check returns the check with that name.
func (r *Report) Check(name string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

func (r *Report) add(c Check) {
	r.Checks = append(r.Checks, c)
	if c.Status == CheckFail {
		r.OK = false
	}
}

func (r *Report) skip(reason string, names ...string) {
	for _, n := range names {
		r.add(Check{Name: n, Status: CheckSkip, Detail: reason})
	}
}

// skipAsked records the named checks as skipped because setting s asks for it.
func (r *Report) skipAsked(s Setting, names ...string) {
	for _, n := range names {
		r.add(Check{Name: n, Status: CheckSkip}.WithDetail(func(nm Namer) string { return "skipped: " + nm.Setting(s) }))
	}
}

// SkipAsked records the named checks as skipped because setting s (SettingReadOnly, say)
// leaves them out.
func (r *Report) SkipAsked(s Setting, names ...string) { r.skipAsked(s, names...) }

// Add records a check; a failed one makes the report not OK. Backends' Diagnose
// functions report through it.
func (r *Report) Add(c Check) { r.add(c) }

// Skip records the named checks as skipped, for reason.
func (r *Report) Skip(reason string, names ...string) { r.skip(reason, names...) }

// DiagnoseOptions configure Diagnose.
type DiagnoseOptions struct {
	// Options are those the channel would be opened with (the S3 backend's among them).
	Options Options
	// Timeout bounds getting credentials and reaching the endpoint, each (default: the
	// backend's connect timeout, else 5s); each later request may take three times as
	// long.
	Timeout time.Duration
	// ReadOnly leaves out the checks that write (for a read-only role, such as a render
	// queue's): the get check reads noarch/repodata.json instead of a probe.
	ReadOnly bool
}

// Names of the checks this package reports; a backend's Diagnose reports its own
// (channel/s3: credentials, region, endpoint, reachable, list, put, ...).
const (
	checkChannel   = "channel"
	checkLease     = "lease"
	checkLeftovers = "leftovers"

	checkFolder    = "folder"
	checkWritable  = "writable"
	checkFileLock  = "file-lock"
	checkCondLocal = "conditional-writes"
	checkS3        = "s3"
)

// DoctorPrefix holds the probe keys Diagnose writes (and removes).
const DoctorPrefix = InternalPrefix + "doctor/"

// ProbeKey returns a fresh random key under DoctorPrefix, for a backend's write checks.
func ProbeKey() string { return DoctorPrefix + newNonce() }

// Diagnose checks, from this machine, everything the channel raw (an s3:// URL, a file://
// URL or a folder) needs to work. For a folder: that it is writable and that file locks
// work. A backend's channel (s3://) is checked by the Diagnose function the backend
// registered (channel/s3: credentials, region, endpoint, reachability, the permissions
// condachan uses, on a probe key under DoctorPrefix, and whether the endpoint enforces
// conditional requests). For both: who holds the lease and what interrupted writes left
// behind (temp files, unfinished multipart uploads) for over an hour, which it reports and
// never removes (`condachan index` does, see SweepStale). It never fails as a whole:
// every finding is a Check in the Report, and the Report is OK when no check failed.
func Diagnose(ctx context.Context, raw string, opts DiagnoseOptions) *Report {
	r := &Report{Channel: raw, OK: true}
	loc, err := ParseLocation(raw)
	if err != nil {
		r.add(Check{Name: checkChannel, Status: CheckFail, Detail: err.Error()}.WithFix(func(n Namer) string {
			return "pass " + n.Setting(SettingChannel) + " s3://bucket/prefix, file:///dir or a folder path"
		}))
		return r
	}
	r.Channel = loc.String()
	if loc.IsS3() {
		r.Backend = loc.Scheme()
		b, err := backendFor(loc)
		if err != nil {
			r.add(Check{Name: checkChannel, Status: CheckFail, Detail: err.Error()})
			return r
		}
		if b.Diagnose == nil {
			r.add(Check{Name: checkChannel, Status: CheckSkip, Detail: "the " + loc.Scheme() + ":// backend has no checks"})
			return r
		}
		b.Diagnose(ctx, r, loc, opts)
		return r
	}
	r.Backend = "local"
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	diagnoseLocal(ctx, r, loc, opts)
	return r
}

// LeaseCheck reports who holds the channel lease (check "lease"), reading it within
// timeout.
func LeaseCheck(ctx context.Context, store Store, timeout time.Duration) Check {
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rec, obj, err := ReadLease(lctx, store)
	switch {
	case errors.Is(err, ErrNotFound):
		return Check{Name: checkLease, Status: CheckPass, Detail: "free: nobody holds the channel lease"}
	case err != nil && obj.ETag != "":
		return Check{Name: checkLease, Status: CheckWarn, Detail: fmt.Sprintf("held, but lock.json is unreadable (%v); ETag %s", err, obj.ETag),
			Fix: "a waiting publisher takes it over after the TTL; `condachan lock break` removes it at once"}
	case err != nil:
		return Check{Name: checkLease, Status: CheckFail}.WithDetail(func(n Namer) string { return "cannot read the lease: " + ErrorIn(err, n) })
	}
	age := time.Since(obj.Modified)
	holder := fmt.Sprintf("%s pid %d", rec.Owner.Host, rec.Owner.PID)
	if rec.Owner.JobID != "" {
		holder += " (Deadline job " + rec.Owner.JobID + ")"
	}
	detail := fmt.Sprintf("held by %s, generation %d, TTL %s, last written %s ago by this machine's clock", holder, rec.Generation, rec.TTL(), age.Round(time.Second))
	// A waiter takes over after TTL + grace (TTL/2 by default) without a heartbeat.
	if ttl := rec.TTL(); ttl > 0 && age > ttl+ttl/2 {
		return Check{Name: checkLease, Status: CheckWarn, Detail: detail + ": no heartbeat for longer than its TTL, the holder has probably died",
			Fix: "the next publisher takes it over by itself; `condachan lock break` removes it at once"}
	}
	return Check{Name: checkLease, Status: CheckPass, Detail: detail}
}

// MarshalJSON keeps the report's field order and omits nothing.
func (r *Report) MarshalJSON() ([]byte, error) {
	type plain Report
	checks := r.Checks
	if checks == nil {
		checks = []Check{}
	}
	p := plain(*r)
	p.Checks = checks
	return json.Marshal(p)
}

// leftoverReportAge is how old a leftover of an interrupted write must be before doctor
// reports it: younger ones are most likely writes still under way.
const leftoverReportAge = time.Hour

// LeftoversCheck reports (check "leftovers"), and never removes, what interrupted writes left behind for
// longer than leftoverReportAge; where names what was looked at, for the detail. An
// error is the listing's.
func LeftoversCheck(ctx context.Context, sw Sweeper, timeout time.Duration, where string) (Check, error) {
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
	const shown = 10
	var items []string
	due, uploads := 0, false
	for i, lo := range found {
		if olderThan(now, lo.Since, sweepAge(lo.Kind)) {
			due++
		}
		uploads = uploads || lo.Kind == LeftoverUpload
		if i >= shown {
			continue
		}
		switch lo.Kind {
		case LeftoverTempFile:
			items = append(items, fmt.Sprintf("%s (temp file, %s, last written %s ago)", lo.Key, fmtSize(lo.Size), fmtAge(now.Sub(lo.Since))))
		default:
			items = append(items, fmt.Sprintf("%s (%s %s, started %s ago)", lo.Key, lo.Kind, lo.UploadID, fmtAge(now.Sub(lo.Since))))
		}
	}
	if len(found) > shown {
		items = append(items, fmt.Sprintf("and %d more", len(found)-shown))
	}
	detail := fmt.Sprintf("%d interrupted write(s) left behind for over %s: %s", len(found), fmtAge(leftoverReportAge), strings.Join(items, ", "))
	ages := fmt.Sprintf("temp files older than %s, multipart uploads older than %s", fmtAge(TempFileSweepAge), fmtAge(UploadSweepAge))
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
	return Check{Name: checkLeftovers, Status: CheckWarn, Detail: detail, Fix: fix}, nil
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
