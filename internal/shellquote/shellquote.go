// Package shellquote quotes commands for pasting into a shell: POSIX sh, or PowerShell
// (the shell condachan prints commands for on Windows, whose quoting differs from
// cmd.exe's). Both quote with single quotes, in which nothing ($, backticks, %VAR%) is
// expanded.
package shellquote

import "strings"

// Join quotes each argument and joins them with spaces.
func Join(args []string, powerShell bool) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = Quote(a, powerShell)
	}
	return strings.Join(quoted, " ")
}

// Quote quotes one argument, unless it reaches the program as it is when not quoted.
func Quote(s string, powerShell bool) string {
	if bareWord(s, powerShell) {
		return s
	}
	if powerShell {
		// A PowerShell single-quoted string: a quote inside is doubled, typographic
		// single quotes included (PowerShell ends the string at them too).
		var b strings.Builder
		b.WriteByte('\'')
		for _, r := range s {
			switch r {
			case '\'', '\u2018', '\u2019', '\u201a', '\u201b':
				b.WriteRune(r)
			}
			b.WriteRune(r)
		}
		b.WriteByte('\'')
		return b.String()
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// bareWord tells whether s reaches the program as it is when not quoted. POSIX shells
// take @ % + = , as plain characters and a backslash as an escape. In PowerShell a
// backslash is plain, but @ splats, , makes an array, % and + are operators, and a word
// that starts with a digit may be read as a number (1kb is 1024): there only words that
// start with a letter or -- and a letter are left bare.
func bareWord(s string, powerShell bool) bool {
	if s == "" {
		return false
	}
	extra := "@%+=,"
	if powerShell {
		extra = `\`
		first := strings.TrimPrefix(s, "--")
		if first == "" || !(first[0] >= 'a' && first[0] <= 'z' || first[0] >= 'A' && first[0] <= 'Z') {
			return false
		}
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("./-_:"+extra, r)) {
			return false
		}
	}
	return true
}
