package doctor

import (
	"strings"
	"testing"
)

// The table aligns the details under the widest check name and puts each fix under its
// detail; Err names the failed checks.
func TestReportTableAndErr(t *testing.T) {
	r := &Report{Channel: "s3://b/c", Checks: []Check{
		{Name: "credentials", Status: CheckPass, Detail: "from the environment"},
		{Name: "conditional-delete", Status: CheckFail, Detail: "ignored", Fix: "use AWS S3"},
		{Name: "lease", Status: CheckSkip, Detail: "an earlier check failed"},
	}}
	var b strings.Builder
	r.WriteTable(&b)
	want := `condachan doctor: s3://b/c

      CHECK               DETAIL
PASS  credentials         from the environment
FAIL  conditional-delete  ignored
                          fix: use AWS S3
SKIP  lease               an earlier check failed

Result: problems found (1 ok, 0 warning(s), 1 failure(s), 1 skipped)
`
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
	if err := r.Err(); err == nil || err.Error() != "doctor: 1 of 3 checks failed (conditional-delete)" {
		t.Errorf("Err() = %v", err)
	}
	r.Checks, r.OK = r.Checks[:1], true
	b.Reset()
	r.WriteTable(&b)
	if !strings.HasSuffix(b.String(), "Result: the channel is usable from here (1 ok, 0 warning(s), 0 failure(s), 0 skipped)\n") || r.Err() != nil {
		t.Errorf("a report without failures:\n%s%v", b.String(), r.Err())
	}
}
