package doctor

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/condachan/condachan/channel"
)

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

// Words returns a copy of the report with every check's Detail and Fix worded with n's
// names.
func (r *Report) Words(n channel.Namer) *Report {
	out := *r
	out.Checks = make([]Check, len(r.Checks))
	for i, c := range r.Checks {
		out.Checks[i] = c.Words(n)
	}
	return &out
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
func (r *Report) skipAsked(s channel.Setting, names ...string) {
	for _, n := range names {
		r.add(Check{Name: n, Status: CheckSkip}.WithDetail(func(nm channel.Namer) string { return "skipped: " + nm.Setting(s) }))
	}
}

// SkipAsked records the named checks as skipped because setting s
// (channel.SettingReadOnly, say) leaves them out.
func (r *Report) SkipAsked(s channel.Setting, names ...string) { r.skipAsked(s, names...) }

// Add records a check; a failed one makes the report not OK. Backends' checks report
// through it.
func (r *Report) Add(c Check) { r.add(c) }

// Skip records the named checks as skipped, for reason.
func (r *Report) Skip(reason string, names ...string) { r.skip(reason, names...) }

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

// FailedError is a report with failed checks.
type FailedError struct {
	Failed []string // the checks that failed
	Of     int      // the checks run
}

func (e *FailedError) Error() string {
	return fmt.Sprintf("doctor: %d of %d checks failed (%s)", len(e.Failed), e.Of, strings.Join(e.Failed, ", "))
}

// Err is a *FailedError naming the checks that failed, or nil when none did.
func (r *Report) Err() error {
	failed := r.Failed()
	if len(failed) == 0 {
		return nil
	}
	names := make([]string, len(failed))
	for i, c := range failed {
		names[i] = c.Name
	}
	return &FailedError{Failed: names, Of: len(r.Checks)}
}
