package shellquote

import "testing"

func TestJoin(t *testing.T) {
	args := []string{"deadline", "bundle", "submit", "/tmp/a b", "--name", "condachan build x (linux-64)", "it's", "", `C:\x`}
	want := `deadline bundle submit '/tmp/a b' --name 'condachan build x (linux-64)' 'it'\''s' '' 'C:\x'`
	if got := Join(args, false); got != want {
		t.Errorf("POSIX:\n got %s\nwant %s", got, want)
	}
	want = `deadline bundle submit '/tmp/a b' --name 'condachan build x (linux-64)' 'it''s' '' C:\x`
	if got := Join(args, true); got != want {
		t.Errorf("Windows (PowerShell):\n got %s\nwant %s", got, want)
	}
}

// For PowerShell: single quotes, in which $, backticks and %VAR% are not expanded, with
// quotes inside doubled.
func TestQuotePowerShell(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`C:\Users\ann\AppData\Local\Temp\condachan-job-1`, `C:\Users\ann\AppData\Local\Temp\condachan-job-1`},
		{"--farm-id", "--farm-id"},
		{"farm-0123abcd", "farm-0123abcd"},
		{`C:\jobs\$env:USERNAME`, `'C:\jobs\$env:USERNAME'`},
		{"$(Remove-Item x)", "'$(Remove-Item x)'"},
		{"a`nb", "'a`nb'"},
		{"%TEMP%\\job", "'%TEMP%\\job'"},
		{"it's", "'it''s'"},
		{"it\u2019s", "'it\u2019\u2019s'"}, // PowerShell ends a single-quoted string at ’ too
		{`C:\My Jobs\x`, `'C:\My Jobs\x'`},
		{`\\server\share\job`, `'\\server\share\job'`},
		{"a,b", "'a,b'"},
		{"@args", "'@args'"},
		{"1kb", "'1kb'"},
		{"", "''"},
		{`say "hi"`, `'say "hi"'`},
	} {
		if got := Quote(c.in, true); got != c.want {
			t.Errorf("Quote(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}
