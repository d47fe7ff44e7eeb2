package doctor

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// statusWord is what the table shows for a status: plain words, which every terminal
// (Windows consoles included) shows the same.
func statusWord(s CheckStatus) string {
	switch s {
	case CheckPass:
		return "PASS"
	case CheckWarn:
		return "WARN"
	case CheckFail:
		return "FAIL"
	}
	return "SKIP"
}

// WriteTable writes the report for people: a heading, the checks as aligned columns
// (status, check, detail, with the fix on the next line under the detail) and a summary.
func (r *Report) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "condachan doctor: %s\n\n", r.Channel)
	width := len("CHECK")
	for _, c := range r.Checks {
		width = max(width, utf8.RuneCountInString(c.Name))
	}
	indent := strings.Repeat(" ", 6+width+2)
	fmt.Fprintf(w, "%-4s  %-*s  %s\n", "", width, "CHECK", "DETAIL")
	counts := map[CheckStatus]int{}
	for _, c := range r.Checks {
		counts[c.Status]++
		fmt.Fprintf(w, "%-4s  %-*s  %s\n", statusWord(c.Status), width, c.Name, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(w, "%sfix: %s\n", indent, c.Fix)
		}
	}
	fmt.Fprintln(w)
	summary := fmt.Sprintf("%d ok, %d warning(s), %d failure(s), %d skipped", counts[CheckPass], counts[CheckWarn], counts[CheckFail], counts[CheckSkip])
	if r.OK {
		fmt.Fprintf(w, "Result: the channel is usable from here (%s)\n", summary)
	} else {
		fmt.Fprintf(w, "Result: problems found (%s)\n", summary)
	}
}
