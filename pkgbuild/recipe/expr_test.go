package recipe

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// exprScope is linux-64 plus a few context-like variables.
func exprScope(t testing.TB) Scope {
	t.Helper()
	s, err := PlatformScope("linux-64")
	if err != nil {
		t.Fatal(err)
	}
	s["version"] = "4.1.1"
	s["n"] = int64(3)
	s["list"] = []Value{"a", "b", "c"}
	s["nums"] = []Value{int64(1), int64(2)}
	s["empty"] = ""
	s["nothing"] = nil
	s["flag"] = true
	s["env"] = Env{Lookup: func(name string) (string, bool) {
		v, ok := map[string]string{"STUDIO": "acme", "EMPTY": ""}[name]
		return v, ok
	}}
	return s
}

func TestEval(t *testing.T) {
	tests := []struct {
		expr string
		want Value
	}{
		// literals
		{`'abc'`, "abc"},
		{`"abc"`, "abc"},
		{`"a\"b\n"`, "a\"b\n"},
		{`'it\'s'`, "it's"},
		{`42`, int64(42)},
		{`0`, int64(0)},
		{`true`, true},
		{`True`, true},
		{`false`, false},
		{`False`, false},
		{`none`, nil},
		{`None`, nil},
		{`[]`, []Value{}},
		{`[1, 'a', true, [2]]`, []Value{int64(1), "a", true, []Value{int64(2)}}},
		{`[1, 2,]`, []Value{int64(1), int64(2)}},
		{"  \n version \t", "4.1.1"},
		// ~ concatenation turns anything into text
		{`version ~ '-' ~ n`, "4.1.1-3"},
		{`'v' ~ flag ~ nothing`, "vtrue"},
		{`'x' ~ nums`, "x[1, 2]"},
		{`'x' ~ list`, `x["a", "b", "c"]`},
		// arithmetic
		{`1 + 2 * 3`, int64(7)},
		{`(1 + 2) * 3`, int64(9)},
		{`10 - 4 - 3`, int64(3)},
		{`-n`, int64(-3)},
		{`- -n`, int64(3)},
		{`8 / 2`, int64(4)},
		{`7 // 2`, int64(3)},
		{`-7 // 2`, int64(-4)},
		{`7 % 3`, int64(1)},
		{`-7 % 3`, int64(2)},
		{`7 % -3`, int64(-2)},
		{`'a' + 'b'`, "ab"},
		{`nums + [3]`, []Value{int64(1), int64(2), int64(3)}},
		// comparisons
		{`n == 3`, true},
		{`n != 3`, false},
		{`n < 4`, true},
		{`n <= 3`, true},
		{`n > 3`, false},
		{`n >= 3`, true},
		{`'a' < 'b'`, true},
		{`'b' >= 'c'`, false},
		{`version == '4.1.1'`, true},
		{`n == '3'`, false},
		{`list == ['a', 'b', 'c']`, true},
		{`list == ['a', 'b']`, false},
		{`list != 'abc'`, true},
		{`nothing == none`, true},
		// and / or / not: Jinja returns the deciding operand, and short-circuits
		{`linux and x86_64`, true},
		{`linux and win`, false},
		{`win or osx`, false},
		{`win or unix`, true},
		{`not win`, true},
		{`not not linux`, true},
		{`linux and not win`, true},
		{`not (linux64 or win64)`, false},
		{`win or 'x'`, "x"},
		{`empty and 'x'`, ""},
		{`n or 0`, int64(3)},
		{`not n == 3`, false},
		// in / not in
		{`'b' in list`, true},
		{`'z' in list`, false},
		{`'z' not in list`, true},
		{`2 in nums`, true},
		{`'4.1' in version`, true},
		{`'5' not in version`, true},
		{`target_platform in ['linux-64', 'osx-64']`, true},
		{`'' in 'abc'`, true},
		// indexing and slicing, negative counts from the end, strings by character
		{`list[0]`, "a"},
		{`list[-1]`, "c"},
		{`list[n - 1]`, "c"},
		{`version[0]`, "4"},
		{`version[-1]`, "1"},
		{`'héllo'[1]`, "é"},
		{`[[1, 2], [3]][0][1]`, int64(2)},
		{`list[1:]`, []Value{"b", "c"}},
		{`list[:2]`, []Value{"a", "b"}},
		{`list[-2:]`, []Value{"b", "c"}},
		{`list[:-1]`, []Value{"a", "b"}},
		{`list[:]`, []Value{"a", "b", "c"}},
		{`list[5:]`, []Value{}},
		{`list[2:1]`, []Value{}},
		{`list[-10:1]`, []Value{"a"}},
		{`version[2:]`, "1.1"},
		{`version[:-2]`, "4.1"},
		{`'héllo'[1:3]`, "él"},
		{`(version | split('.'))[:2] | join('.')`, "4.1"},
		{`(version | split('.'))[0]`, "4"},
		// inline if
		{`'a' if linux else 'b'`, "a"},
		{`'a' if win else 'b'`, "b"},
		{`'a' if win`, ""},
		{`1 if win else 2 if linux else 3`, int64(2)},
		{`('x' if osx else 'y') ~ '!'`, "y!"},
		// filters
		{`'AbC' | lower`, "abc"},
		{`'AbC' | upper`, "ABC"},
		{`n | upper`, "3"},
		{`'  x y  ' | trim`, "x y"},
		{`version | replace('.', '_')`, "4_1_1"},
		{`version | split('.')`, []Value{"4", "1", "1"}},
		{`version | split(sep='.')`, []Value{"4", "1", "1"}},
		{`' a  b c ' | split`, []Value{"a", "b", "c"}},
		{`version | split('-')`, []Value{"4.1.1"}},
		{`list | join(', ')`, "a, b, c"},
		{`list | join`, "abc"},
		{`nums | join('+')`, "1+2"},
		{`'abc' | join('-')`, "a-b-c"},
		{`list | first`, "a"},
		{`list | last`, "c"},
		{`'xyz' | first`, "x"},
		{`[] | first`, nil},
		{`[] | last`, nil},
		{`list | length`, int64(3)},
		{`'héllo' | length`, int64(5)},
		{`[] | length`, int64(0)},
		{`'ab' | list`, []Value{"a", "b"}},
		{`list | list`, []Value{"a", "b", "c"}},
		{`'42' | int`, int64(42)},
		{`' -7 ' | int`, int64(-7)},
		{`'4.9' | int`, int64(4)},
		{`'x' | int`, int64(0)},
		{`true | int`, int64(1)},
		{`false | int`, int64(0)},
		{`n | int`, int64(3)},
		{`n | string`, "3"},
		{`flag | string`, "true"},
		{`nothing | default('d')`, "d"},
		{`nope | default('d')`, "d"},
		{`nope | default`, ""},
		{`nope | default(n)`, int64(3)},
		{`version | default('d')`, "4.1.1"},
		{`empty | default('d')`, ""},
		{`empty | default('d', true)`, "d"},
		{`'3.11.2' | version_to_buildstring`, "311"},
		{`'3' | version_to_buildstring`, "3"},
		{`'' | version_to_buildstring`, ""},
		{`version | split('.') | first | int + 1`, int64(5)},
		{`list | join | upper | length`, int64(3)},
		// tests
		{`version is defined`, true},
		{`nope is defined`, false},
		{`nope is not defined`, true},
		{`nope is undefined`, true},
		{`version is undefined`, false},
		{`nothing is none`, true},
		{`n is none`, false},
		{`n is number`, true},
		{`n is integer`, true},
		{`version is string`, true},
		{`n is not string`, true},
		{`nope is defined and nope == 1`, false},
		{`nope is undefined or nope == 1`, true},
		{`nope == 1 if nope is defined else 'x'`, "x"},
		{`not nope is defined`, true},
		// the environment
		{`env.get("STUDIO")`, "acme"},
		{`env.get("EMPTY", default="x")`, ""},
		{`env.get("MISSING", default="fallback")`, "fallback"},
		{`env.get("MISSING", default=n)`, int64(3)},
		{`env.exists("STUDIO")`, true},
		{`env.exists("MISSING")`, false},
		{`env.get("STUDIO") | upper`, "ACME"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, err := Eval(tt.expr, exprScope(t))
			if err != nil {
				t.Fatalf("Eval(%q): %v", tt.expr, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Eval(%q) = %#v, want %#v", tt.expr, got, tt.want)
			}
		})
	}
}

func TestEvalErrors(t *testing.T) {
	deep := strings.Repeat("(", 500) + "1" + strings.Repeat(")", 500)
	tests := []struct {
		expr      string
		want      string // in the message
		undefined string // the name, when the error must be an *UndefinedError
	}{
		// unknown variables are errors, never false
		{`nope`, `unknown variable "nope"`, "nope"},
		{`nope == 1`, `unknown variable "nope"`, "nope"},
		{`linux and nope`, `unknown variable "nope"`, "nope"},
		{`win or nope`, `unknown variable "nope"`, "nope"},
		// checked also where evaluation would not reach (a typo must fail on every platform)
		{`win and nope`, `unknown variable "nope"`, "nope"},
		{`linux or nope`, `unknown variable "nope"`, "nope"},
		{`not (linux64 or windows64)`, `unknown variable "windows64"`, "windows64"},
		{`'a' if linux else nope`, `unknown variable "nope"`, "nope"},
		{`nope is defined or nope == 1`, `unknown variable "nope"`, "nope"},
		{`env`, `env is an object`, ""},
		{`env.path`, `attribute and method access is not supported`, ""},
		{`env.get`, `env.get is a function`, ""},
		{`env.get()`, `needs the variable name`, ""},
		{`env.get("A", "b")`, `optional default=`, ""},
		{`env.get("MISSING")`, `environment variable MISSING is not set`, ""},
		{`env.get(1)`, `must be a string`, ""},
		{`env.exists("A", "B")`, `takes one argument`, ""},
		{`not nope`, `unknown variable "nope"`, "nope"},
		{`'x' ~ nope`, `unknown variable "nope"`, "nope"},
		{`nope | lower`, `unknown variable "nope"`, "nope"},
		{`(nope | lower) | default('x')`, `unknown variable "nope"`, "nope"},
		{`'a' if nope else 'b'`, `unknown variable "nope"`, "nope"},
		{`list[nope]`, `unknown variable "nope"`, "nope"},
		{`Linux`, `unknown variable "Linux"`, "Linux"},
		{`if`, `unknown variable "if"`, "if"},
		// unknown filters, tests and functions
		{`version | frobnicate`, `unknown filter "frobnicate"`, ""},
		{`version | frobnicate('x')`, `unknown filter "frobnicate"`, ""},
		{`version is frob`, `unknown test "frob"`, ""},
		{`range(3)`, `function range() is not supported`, ""},
		{`compiler('c')`, `function compiler() is not supported`, ""},
		// method calls and attributes
		{`version.split('.')`, `attribute and method access is not supported`, ""},
		{`version.upper()`, `use filters`, ""},
		{`(version | split('.')).0`, `attribute and method access`, ""},
		{`1.5`, `attribute and method access`, ""},
		// lexing and parsing
		{`'abc`, `unterminated string`, ""},
		{`"abc`, `unterminated string`, ""},
		{`'abc\`, `unterminated string`, ""},
		{``, `expression ends too early`, ""},
		{`   `, `expression ends too early`, ""},
		{`1 2`, `unexpected "2"`, ""},
		{`(1`, `expected ")", found the end`, ""},
		{`(1]`, `expected ")", found "]"`, ""},
		{`[1, 2`, `expected "]"`, ""},
		{`list[0`, `expected "]"`, ""},
		{`version | split('.'`, `expected ")"`, ""},
		{`version |`, `expected a filter name after |`, ""},
		{`version | 'x'`, `expected a filter name after |`, ""},
		{`version is`, `expected a test name after 'is'`, ""},
		{`@`, `unexpected character '@'`, ""},
		{`a ! b`, `unexpected character '!'`, ""},
		{`é`, `unexpected character 'é'`, ""},
		{`a = 1`, `unexpected "="`, ""},
		{`)`, `unexpected ")"`, ""},
		{`99999999999999999999`, `number out of range`, ""},
		{deep, `nested too deeply`, ""},
		{strings.Repeat("not ", 1000) + "true", `nested too deeply`, ""},
		{strings.Repeat("-", 1000) + "1", `nested too deeply`, ""},
		{"1" + strings.Repeat(" ~ 1", 5000), `nested too deeply`, ""},
		// type errors
		{`n + 'a'`, `operator + needs integers, got an integer and a string`, ""},
		{`'a' - 'b'`, `operator - needs integers`, ""},
		{`list * 2`, `operator * needs integers`, ""},
		{`-'a'`, `cannot negate a string`, ""},
		{`1 / 0`, `division by zero`, ""},
		{`1 // 0`, `division by zero`, ""},
		{`1 % 0`, `division by zero`, ""},
		{`7 / 2`, `not a whole number; use //`, ""},
		{`1 < 'a'`, `cannot compare an integer with a string`, ""},
		{`flag > false`, `cannot compare a boolean with a boolean`, ""},
		{`list < list`, `cannot compare a list with a list`, ""},
		{`list['a']`, `index must be an integer, got a string`, ""},
		{`list[10]`, `index 10 out of range for a list of 3`, ""},
		{`list[-4]`, `out of range for a list of 3`, ""},
		{`version[5]`, `out of range for a string of 5`, ""},
		{`n[0]`, `cannot index an integer`, ""},
		{`nothing[0]`, `cannot index none`, ""},
		{`n[1:]`, `cannot slice an integer`, ""},
		{`list['a':]`, `slice bound must be an integer`, ""},
		{`1 in 'abc'`, `'in' a string needs a string on the left, got an integer`, ""},
		{`'a' in 3`, `'in' needs a list or string on the right, got an integer`, ""},
		{`n | length`, `filter length needs a list, got an integer`, ""},
		{`n | join`, `filter join needs a list`, ""},
		{`flag | first`, `filter first needs a list`, ""},
		{`list | replace('a')`, `filter replace takes 2 arguments`, ""},
		{`list | replace(1, 2)`, `filter replace: argument 1 must be a string`, ""},
		{`version | split(1)`, `filter split: argument 1 must be a string`, ""},
		{`list | join(0)`, `filter join: argument 1 must be a string`, ""},
	}
	for _, tt := range tests {
		name := tt.expr
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			v, err := Eval(tt.expr, exprScope(t))
			if err == nil {
				t.Fatalf("Eval(%q) = %#v, want an error containing %q", tt.expr, v, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Eval(%q) error = %q, want it to contain %q", tt.expr, err, tt.want)
			}
			var u *UndefinedError
			isUndef := errors.As(err, &u)
			switch {
			case tt.undefined != "" && !isUndef:
				t.Errorf("Eval(%q) error is %T, want *UndefinedError", tt.expr, err)
			case tt.undefined != "" && u.Name != tt.undefined:
				t.Errorf("UndefinedError.Name = %q, want %q", u.Name, tt.undefined)
			case tt.undefined == "" && isUndef:
				t.Errorf("Eval(%q) = UndefinedError %v, want another error", tt.expr, err)
			}
		})
	}
}

func TestEvalErrorPosition(t *testing.T) {
	_, err := Eval(`version | frob`, exprScope(t))
	if err == nil || !strings.Contains(err.Error(), `(in "version | frob" at column 11)`) {
		t.Errorf("error = %v, want the expression and column 11", err)
	}
	_, err = Eval(`nope`, Scope{"b": int64(1), "a": int64(2)})
	if err == nil || err.Error() != `unknown variable "nope" (known: a, b)` {
		t.Errorf("error = %v, want the sorted known names", err)
	}
}

func TestTruthyToString(t *testing.T) {
	tests := []struct {
		v      Value
		truthy bool
		str    string
	}{
		{nil, false, ""},
		{true, true, "true"},
		{false, false, "false"},
		{int64(0), false, "0"},
		{int64(-2), true, "-2"},
		{"", false, ""},
		{"0", true, "0"},
		{[]Value{}, false, "[]"},
		{[]Value{"a", int64(1), nil, true, []Value{"b"}}, true, `["a", 1, none, true, ["b"]]`},
	}
	for _, tt := range tests {
		if got := Truthy(tt.v); got != tt.truthy {
			t.Errorf("Truthy(%#v) = %v, want %v", tt.v, got, tt.truthy)
		}
		if got := ToString(tt.v); got != tt.str {
			t.Errorf("ToString(%#v) = %q, want %q", tt.v, got, tt.str)
		}
	}
}

func TestInterpolate(t *testing.T) {
	scope := exprScope(t)
	tests := []struct {
		in   string
		want Value
	}{
		{`${{ version }}`, "4.1.1"},
		{`  ${{ n }}  `, int64(3)}, // alone: keeps its type
		{`${{n}}`, int64(3)},
		{`${{ list }}`, []Value{"a", "b", "c"}},
		{`${{ linux }}`, true},
		{`${{ nothing }}`, nil},
		{`v${{ n }}`, "v3"}, // mixed text: a string
		{`${{ n }}${{ n }}`, "33"},
		{`${{ version }}-${{ n }}`, "4.1.1-3"},
		{`a ${{ flag }} b`, "a true b"},
		{`x${{ nothing }}y`, "xy"},
		{`${{ "}}" }}`, "}}"},
		{`${{ '${{' }}`, "${{"},
		{`[${{ "a}}b" ~ '}' }}]`, "[a}}b}]"},
		{`${{ n }} }}`, "3 }}"},
		{`${{ n }}}`, "3}"},
		{`no expression`, "no expression"},
		{`$ {{ n }}`, "$ {{ n }}"},
	}
	for _, tt := range tests {
		got, err := interpolate(tt.in, scope)
		if err != nil {
			t.Errorf("interpolate(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("interpolate(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
	for in, want := range map[string]string{
		`${{ n `:             "unterminated ${{",
		`a ${{ n }} ${{ n`:   "unterminated ${{",
		`${{ 'x }}`:          "unterminated string",
		`${{ nope }}`:        `unknown variable "nope"`,
		`a ${{ nope }} b`:    `unknown variable "nope"`,
		`${{ version.x }}`:   "attribute and method access",
		`${{ }}`:             "expression ends too early",
		`a${{ 1 + }}b`:       "expression ends too early",
		`${{ n }} ${{ )) }}`: `unexpected ")"`,
	} {
		if v, err := interpolate(in, scope); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("interpolate(%q) = %#v, %v; want an error containing %q", in, v, err, want)
		}
	}
}

func FuzzEval(f *testing.F) {
	for _, s := range []string{
		`(version | split('.'))[:2] | join('.')`,
		`not (linux64 or win64)`,
		`'a' if win else 'b' if linux else 'c'`,
		`target_platform in ['linux-64', 'osx-64'] and not nope is defined`,
		`list[-1:] ~ n // 2 % 3`,
		`nope | default('x', true) | upper | replace('X', 'y')`,
		`'héllo'[1:3] | length`,
		`version.split('.')`,
		`[1, 'a', [true, none]] | join`,
		`'3.11' | version_to_buildstring | int - -1`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		v, err := Eval(expr, exprScope(t))
		if err != nil {
			_ = err.Error()
			return
		}
		_ = ToString(v)
		_ = Truthy(v)
		_, _ = interpolate("x ${{ "+expr+" }} y", exprScope(t))
	})
}
