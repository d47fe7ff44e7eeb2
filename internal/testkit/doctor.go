package testkit

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/condachan/condachan/channel/doctor"
)

// WantChecks compares the status of every check of a doctor report with want (name ->
// status) and fails on a check the report lacks or one want does not name; on failure it
// logs the whole report.
func WantChecks(t testing.TB, rep *doctor.Report, want map[string]doctor.CheckStatus) {
	t.Helper()
	failed := false
	for _, c := range rep.Checks {
		w, ok := want[c.Name]
		switch {
		case !ok:
			t.Errorf("unexpected check %s: %s %s", c.Name, c.Status, c.Detail)
			failed = true
			continue
		case c.Status != w:
			t.Errorf("check %s: %s, want %s: %s (fix: %s)", c.Name, c.Status, w, c.Detail, c.Fix)
			failed = true
		}
		delete(want, c.Name)
	}
	for n := range want {
		t.Errorf("check %s missing from the report", n)
		failed = true
	}
	if failed {
		data, _ := json.MarshalIndent(rep, "", "  ")
		t.Logf("report:\n%s", data)
	}
}

// WantFinding fails unless the report has the named check, its detail or fix holds
// every word, and the report is not OK.
func WantFinding(t testing.TB, rep *doctor.Report, name string, words ...string) {
	t.Helper()
	c, ok := rep.Check(name)
	if !ok {
		t.Fatalf("no %s check", name)
	}
	for _, w := range words {
		if !strings.Contains(c.Detail+" fix: "+c.Fix, w) {
			t.Errorf("%s check lacks %q: %s (fix: %s)", name, w, c.Detail, c.Fix)
		}
	}
	if rep.OK {
		t.Error("report OK despite a failed check")
	}
}
