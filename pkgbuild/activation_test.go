package pkgbuild

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/condachan/condachan/pkgbuild/recipe"
)

func TestPS1Value(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"$CONDA_PREFIX/opt", "${Env:CONDA_PREFIX}/opt"},
		{"costs $$5", "costs `$5"},
		{"a`b", "a``b"},
		{`say "hi"`, `say ""hi""`},
		{"\u201cleft\u201d", "\u201c\u201cleft\u201d\u201d"},
		{"low \u201e", "low \u201e\u201e"},
		// Single-quote look-alikes are plain characters inside double quotes.
		{"\u2018\u2019\u201a\u201b'", "\u2018\u2019\u201a\u201b'"},
		{"\u201d$${Env:X}", "\u201d\u201d`${Env:X}"},
	}
	for _, tt := range tests {
		if got := ps1Value(tt.in); got != tt.want {
			t.Errorf("ps1Value(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// ps1DoubleQuoted reads a PowerShell double-quoted string at the start of s as
// PowerShell's tokenizer does (a model of it: pwsh is not installed here): a backtick
// escapes the next character, two double-quote characters in a row stand for the second,
// one ends the string, and ${Env:NAME} is expanded. Any other '$' would start an
// expansion this model does not know, so it is an error. It returns the value and the
// text after the closing quote.
func ps1DoubleQuoted(s string, env map[string]string) (value, rest string, err error) {
	r, n := utf8.DecodeRuneInString(s)
	if !isPS1DoubleQuote(r) {
		return "", "", fmt.Errorf("no opening double quote in %q", s)
	}
	s = s[n:]
	var b strings.Builder
	for s != "" {
		r, n := utf8.DecodeRuneInString(s)
		s = s[n:]
		switch {
		case r == '`':
			e, m := utf8.DecodeRuneInString(s)
			s = s[m:]
			if strings.ContainsRune("0abefnrtuv", e) {
				return "", "", fmt.Errorf("backtick before %q makes a special character", e)
			}
			b.WriteRune(e)
		case isPS1DoubleQuote(r):
			if e, m := utf8.DecodeRuneInString(s); isPS1DoubleQuote(e) {
				b.WriteRune(e)
				s = s[m:]
				continue
			}
			return b.String(), s, nil
		case r == '$':
			name, after, ok := strings.Cut(strings.TrimPrefix(s, "{Env:"), "}")
			if !strings.HasPrefix(s, "{Env:") || !ok {
				return "", "", fmt.Errorf("unescaped $ before %q", s)
			}
			b.WriteString(env[name])
			s = after
		default:
			b.WriteRune(r)
		}
	}
	return "", "", fmt.Errorf("unterminated string")
}

// batSet reads the value of a `@set "NAME=value"` line as cmd.exe does with delayed
// expansion on or off (a model: there is no cmd.exe here): %% is a percent sign and
// %NAME% is expanded first; then the quoted text is taken literally, which holds only if
// it has no double quote inside and, for delayed expansion, no '!'.
func batSet(line string, env map[string]string) (name, value string, err error) {
	body, ok := strings.CutPrefix(line, `@set "`)
	if !ok || !strings.HasSuffix(body, `"`) {
		return "", "", fmt.Errorf("not a quoted set: %q", line)
	}
	body = strings.TrimSuffix(body, `"`)
	var b strings.Builder
	for body != "" {
		i := strings.IndexByte(body, '%')
		if i < 0 {
			b.WriteString(body)
			break
		}
		b.WriteString(body[:i])
		body = body[i+1:]
		if strings.HasPrefix(body, "%") {
			b.WriteByte('%')
			body = body[1:]
			continue
		}
		v, after, ok := strings.Cut(body, "%")
		if !ok {
			return "", "", fmt.Errorf("lone %% in %q", line)
		}
		b.WriteString(env[v])
		body = after
	}
	expanded := b.String()
	if strings.ContainsAny(expanded, "\"!") {
		return "", "", fmt.Errorf("%q holds a quote or a '!' after expansion", line)
	}
	name, value, _ = strings.Cut(expanded, "=")
	return name, value, nil
}

// The PowerShell and cmd.exe scripts, read back with models of those shells, set every
// value as written.
func TestActivationScriptsPowerShellAndCmd(t *testing.T) {
	a := recipe.Activation{Env: []recipe.EnvVar{{Name: "APP_HOME", Value: "$CONDA_PREFIX/opt/app"}}}
	for _, v := range trickyActivationValues {
		a.Env = append(a.Env, recipe.EnvVar{Name: v.name, Value: v.value})
	}
	scripts, err := activationScripts("app", a)
	if err != nil {
		t.Fatal(err)
	}
	body := map[string]string{}
	for _, s := range scripts {
		body[s.path] = string(s.body)
	}
	const prefix = `C:\conda\envs\x`
	want := map[string]string{"APP_HOME": prefix + "/opt/app"}
	for _, v := range trickyActivationValues {
		want[v.name] = v.want
	}

	env := map[string]string{"CONDA_PREFIX": prefix}
	for _, line := range strings.Split(body["etc/conda/activate.d/app_activate.ps1"], "\n") {
		nameAndValue, ok := strings.CutPrefix(line, "$Env:")
		if !ok {
			continue
		}
		name, quoted, ok := strings.Cut(nameAndValue, " = ")
		if !ok {
			t.Fatalf("ps1 line %q", line)
		}
		v, rest, err := ps1DoubleQuoted(quoted, env)
		if err != nil || rest != "" {
			t.Fatalf("ps1 line %q: %v (after the string: %q)", line, err, rest)
		}
		env[name] = v
	}
	for name, w := range want {
		if env[name] != w {
			t.Errorf("ps1: %s = %q, want %q", name, env[name], w)
		}
	}

	env = map[string]string{"CONDA_PREFIX": prefix}
	for _, line := range strings.Split(body["etc/conda/activate.d/app_activate.bat"], "\r\n") {
		if !strings.HasPrefix(line, "@set ") {
			continue
		}
		name, v, err := batSet(line, env)
		if err != nil {
			t.Fatal(err)
		}
		env[name] = v
	}
	for name, w := range want {
		if env[name] != w {
			t.Errorf("bat: %s = %q, want %q", name, env[name], w)
		}
	}
}

func TestActivationRefusesWhatAShellCannotCarry(t *testing.T) {
	tests := []struct {
		name string
		a    recipe.Activation
		want string
	}{
		{"double quote", recipe.Activation{Env: []recipe.EnvVar{{Name: "A", Value: `x"y`}}}, `build.activation.env.A: the value holds '"' (U+0022) at byte 1`},
		{"line break", recipe.Activation{Env: []recipe.EnvVar{{Name: "A", Value: "x\ny"}}}, `build.activation.env.A: the value holds \x0a at byte 1`},
		{"carriage return", recipe.Activation{Env: []recipe.EnvVar{{Name: "A", Value: "x\r"}}}, `\x0d at byte 1`},
		{"bang", recipe.Activation{Env: []recipe.EnvVar{{Name: "B", Value: "hello!"}}}, `build.activation.env.B: the value holds '!' (U+0021) at byte 5: cmd.exe drops it when delayed expansion is on`},
		{"NUL", recipe.Activation{Env: []recipe.EnvVar{{Name: "A", Value: "x\x00"}}}, `\x00 at byte 1: control characters`},
		{"escape", recipe.Activation{Env: []recipe.EnvVar{{Name: "A", Value: "\x1b[31m"}}}, `\x1b at byte 0`},
		{"DEL", recipe.Activation{Env: []recipe.EnvVar{{Name: "A", Value: "\x7f"}}}, `\x7f at byte 0`},
		{"invalid UTF-8", recipe.Activation{Env: []recipe.EnvVar{{Name: "A", Value: "caf\xe9"}}}, `not valid UTF-8`},
		{"path semicolon", recipe.Activation{PathPrepend: []string{"opt/a;b"}}, `build.activation.path_prepend: "opt/a;b" holds ';' (U+003B) at byte 5`},
		{"path percent", recipe.Activation{PathPrepend: []string{"%X%"}}, `'%' (U+0025) at byte 0`},
		{"path dollar", recipe.Activation{PathPrepend: []string{"$X"}}, `'$' (U+0024)`},
		{"path colon", recipe.Activation{PathPrepend: []string{"a:b"}}, `':' (U+003A)`},
		{"path typographic quote", recipe.Activation{PathPrepend: []string{"a\u201cb"}}, "'\u201c' (U+201C)"},
		{"path backtick", recipe.Activation{PathPrepend: []string{"a`b"}}, "'`' (U+0060)"},
		{"path tab", recipe.Activation{PathPrepend: []string{"a\tb"}}, `\x09 at byte 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := activationScripts("app", tt.a)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %s", err, tt.want)
			}
		})
	}
}
