package condaversion

import (
	"bufio"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// render prints parsed components the way conda's tests spell
// VersionOrder.version: Python list syntax, "post" as inf.
func render(parts [][]atom) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, p := range parts {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('[')
		for j, a := range p {
			if j > 0 {
				b.WriteString(", ")
			}
			switch a.kind {
			case kindInt:
				if a.s == "" {
					b.WriteByte('0')
				} else {
					b.WriteString(a.s)
				}
			case kindStr:
				b.WriteString("'" + a.s + "'")
			case kindPost:
				b.WriteString("inf")
			}
		}
		b.WriteByte(']')
	}
	b.WriteByte(']')
	return b.String()
}

func mustParse(t testing.TB, s string) Version {
	t.Helper()
	v, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return v
}

var relName = map[int]string{-1: "<", 0: "==", 1: ">"}

// checkAscending checks that each version of list compares below every later
// one, except that consecutive entries marked equal compare equal.
func checkAscending(t *testing.T, list []string, equalToPrev map[string]bool) {
	t.Helper()
	vs := make([]Version, len(list))
	for i, s := range list {
		vs[i] = mustParse(t, s)
	}
	group := make([]int, len(list))
	for i := range list {
		if i > 0 {
			group[i] = group[i-1]
			if !equalToPrev[list[i]] {
				group[i]++
			}
		}
	}
	for i := range vs {
		for j := range vs {
			want := 0
			switch {
			case group[i] < group[j]:
				want = -1
			case group[i] > group[j]:
				want = 1
			}
			if got := vs[i].Compare(vs[j]); got != want {
				t.Errorf("%q %s %q, want %s", list[i], relName[got], list[j], relName[want])
			}
		}
	}
	// conda's tests also sort a shuffled copy and expect the original order.
	shuffled := slices.Clone(list)
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		slices.SortStableFunc(shuffled, Compare)
		for i := range list {
			if group[slices.Index(list, shuffled[i])] != group[i] {
				t.Fatalf("sorted shuffle gives %q at %d, want %q", shuffled, i, list)
			}
		}
	}
}

// From conda's tests/models/test_version.py, test_version_order: each string
// with the parse conda expects, in ascending order.
var condaVersionOrder = []struct{ s, parts string }{
	{"0.4", "[[0], [0], [4]]"},
	{"0.4.0", "[[0], [0], [4], [0]]"},
	{"0.4.1a.vc11", "[[0], [0], [4], [1, 'a'], [0, 'vc', 11]]"},
	{"0.4.1.rc", "[[0], [0], [4], [1], [0, 'rc']]"},
	{"0.4.1.vc11", "[[0], [0], [4], [1], [0, 'vc', 11]]"},
	{"0.4.1", "[[0], [0], [4], [1]]"},
	{"0.5*", "[[0], [0], [5, '*']]"},
	{"0.5a1", "[[0], [0], [5, 'a', 1]]"},
	{"0.5b3", "[[0], [0], [5, 'b', 3]]"},
	{"0.5C1", "[[0], [0], [5, 'c', 1]]"},
	{"0.5z", "[[0], [0], [5, 'z']]"},
	{"0.5za", "[[0], [0], [5, 'za']]"},
	{"0.5", "[[0], [0], [5]]"},
	{"0.5_5", "[[0], [0], [5], [5]]"},
	{"0.5-5", "[[0], [0], [5], [5]]"},
	{"0.9.6", "[[0], [0], [9], [6]]"},
	{"0.960923", "[[0], [0], [960923]]"},
	{"1.0", "[[0], [1], [0]]"},
	{"1.0.4a3", "[[0], [1], [0], [4, 'a', 3]]"},
	{"1.0.4b1", "[[0], [1], [0], [4, 'b', 1]]"},
	{"1.0.4", "[[0], [1], [0], [4]]"},
	{"1.1dev1", "[[0], [1], [1, 'DEV', 1]]"},
	{"1.1_", "[[0], [1], [1, '_']]"},
	{"1.1a1", "[[0], [1], [1, 'a', 1]]"},
	{"1.1.dev1", "[[0], [1], [1], [0, 'DEV', 1]]"},
	{"1.1.a1", "[[0], [1], [1], [0, 'a', 1]]"},
	{"1.1", "[[0], [1], [1]]"},
	{"1.1.post1", "[[0], [1], [1], [0, inf, 1]]"},
	{"1.1.1dev1", "[[0], [1], [1], [1, 'DEV', 1]]"},
	{"1.1.1rc1", "[[0], [1], [1], [1, 'rc', 1]]"},
	{"1.1.1", "[[0], [1], [1], [1]]"},
	{"1.1.1post1", "[[0], [1], [1], [1, inf, 1]]"},
	{"1.1post1", "[[0], [1], [1, inf, 1]]"},
	{"2g6", "[[0], [2, 'g', 6]]"},
	{"2.0b1pr0", "[[0], [2], [0, 'b', 1, 'pr', 0]]"},
	{"2.2be.ta29", "[[0], [2], [2, 'be'], [0, 'ta', 29]]"},
	{"2.2be5ta29", "[[0], [2], [2, 'be', 5, 'ta', 29]]"},
	{"2.2beta29", "[[0], [2], [2, 'beta', 29]]"},
	{"2.2.0.1", "[[0], [2], [2], [0], [1]]"},
	{"3.1.1.6", "[[0], [3], [1], [1], [6]]"},
	{"3.2.p.r0", "[[0], [3], [2], [0, 'p'], [0, 'r', 0]]"},
	{"3.2.pr0", "[[0], [3], [2], [0, 'pr', 0]]"},
	{"3.2.pr.1", "[[0], [3], [2], [0, 'pr'], [1]]"},
	{"5.5.kw", "[[0], [5], [5], [0, 'kw']]"},
	{"11g", "[[0], [11, 'g']]"},
	{"14.3.1", "[[0], [14], [3], [1]]"},
	{"14.3.1.post26.g9d75ca2", "[[0], [14], [3], [1], [0, inf, 26], [0, 'g', 9, 'd', 75, 'ca', 2]]"},
	{"1996.07.12", "[[0], [1996], [7], [12]]"},
	{"1!0.4.1", "[[1], [0], [4], [1]]"},
	{"1!3.1.1.6", "[[1], [3], [1], [1], [6]]"},
	{"2!0.4.1", "[[2], [0], [4], [1]]"},
}

func TestCondaVersionOrder(t *testing.T) {
	var list []string
	for _, c := range condaVersionOrder {
		v := mustParse(t, c.s)
		if got := render(v.version); got != c.parts {
			t.Errorf("Parse(%q) parts = %s, want %s", c.s, got, c.parts)
		}
		if want := strings.ReplaceAll(strings.ToLower(c.s), "-", "_"); v.String() != want {
			t.Errorf("Parse(%q).String() = %q, want %q", c.s, v.String(), want)
		}
		if v.local != nil {
			t.Errorf("Parse(%q) has local parts %s", c.s, render(v.local))
		}
		list = append(list, c.s)
	}
	// Equal neighbours: 1.1 == 1.1.0 and '-' == '_'.
	checkAscending(t, list, map[string]bool{"0.4.0": true, "0.5-5": true})
}

func TestCondaEquality(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"0.4.1.rc", "  0.4.1.RC  ", 0},
		{"  0.4.rc  ", "0.4.RC", 0},
		{"0.4", "0.4.0", 0},
		{"0.4", "0.4.1", -1},
		{"0.4.a1", "0.4.0a1", 0},
		{"0.4.a1", "0.4.1a1", -1},
		// Comparisons from conda's test_ver_eval that reduce to VersionOrder.
		{"1.7.0", "1.7", 0},
		{"2013a", "2013b", -1},
		{"2013k", "2013b", 1},
		{"3.0.0", "2013b", -1},
		{"1.0.0", "1.0.0a", 1},
		{"1.0.0", "1.0.0*", 1},
		{"1.6.7", "1.7", -1},
		// test_hexrd.
		{"0.3.0.dev", "0.3.3", -1},
		// Zero padding in both directions, also inside a component.
		{"1.0a", "1.0a0", 0},
		{"1.0a0.0", "1.0a", 0},
		{"1.1", "1.1.0.0.0", 0},
		{"1.2+abc", "1.2", -1},
		{"1.2+0", "1.2", 0},
		{"1.2+1", "1.2", 1},
		{"0!1.0", "1.0", 0},
		{"01!1.0", "1!1.0", 0},
		{"1!0", "999999", 1},
		{"1.007", "1.7", 0},
		{"1.123456789012345678901234567890", "1.123456789012345678901234567891", -1},
		{"1.99999999999999999999999999", "1.100000000000000000000000000", -1},
		{"1.0post", "1.0post", 0},
		{"1.0post", "1.0.999999999999999999999999999", 1},
		{"1.0.post", "1.0.999999999999999999999999999", -1}, // [0, post] < [999...]
		{"1.0.*", "1.0.dev", -1},
		{"1.0.dev", "1.0._", -1},
		{"1.0._", "1.0.a", -1},
		{"1.0-", "1.0_", 0},
		{"1.0devel", "1.0dev", 1}, // only the exact run "dev" is special
		{"1.0post_", "1.0", -1},   // "post_" is a plain string
		{"\u212a", "k", 0},        // Python lower-cases KELVIN SIGN to 'k'
	} {
		a, b := mustParse(t, c.a), mustParse(t, c.b)
		if got := a.Compare(b); got != c.want {
			t.Errorf("%q %s %q, want %s", c.a, relName[got], c.b, relName[c.want])
		}
		if got := b.Compare(a); got != -c.want {
			t.Errorf("%q %s %q, want %s", c.b, relName[got], c.a, relName[-c.want])
		}
		if got := Compare(c.a, c.b); got != c.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// conda's test_openssl_convention.
func TestCondaOpenSSLConvention(t *testing.T) {
	checkAscending(t, []string{
		"1.0.1dev", "1.0.1_", "1.0.1a", "1.0.1b", "1.0.1c", "1.0.1d", "1.0.1r",
		"1.0.1rc", "1.0.1rc1", "1.0.1rc2", "1.0.1s", "1.0.1", "1.0.1post.a",
		"1.0.1post.b", "1.0.1post.z", "1.0.1post.za", "1.0.2",
	}, nil)
}

// conda's test_pep440 (itself adapted from the PEP 440 test suite).
func TestCondaPEP440(t *testing.T) {
	list := []string{
		"1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12", "1.0b1.dev456",
		"1.0b2", "1.0b2.post345.dev456", "1.0b2.post345", "1.0c1.dev456",
		"1.0c1", "1.0c3", "1.0rc2", "1.0.dev456", "1.0", "1.0.post456.dev34",
		"1.0.post456", "1.1.dev1", "1.2.r32+123456", "1.2.rev33+123456",
		"1.2+abc", "1.2+abc123def", "1.2+abc123", "1.2+123abc",
		"1.2+123abc456", "1.2+1234.abc", "1.2+123456",
	}
	for _, s := range list[:26] {
		list = append(list, "1!"+s)
	}
	checkAscending(t, list, nil)
}

// The order given in the VersionOrder docstring.
func TestCondaDocstringOrder(t *testing.T) {
	checkAscending(t, []string{
		"0.4", "0.4.0", "0.4.1.rc", "0.4.1.RC", "0.4.1", "0.5a1", "0.5b3",
		"0.5C1", "0.5", "0.9.6", "0.960923", "1.0", "1.1dev1", "1.1_", "1.1a1",
		"1.1.0dev1", "1.1.dev1", "1.1.a1", "1.1.0rc1", "1.1.0", "1.1",
		"1.1.0post1", "1.1.post1", "1.1post1", "1996.07.12", "1!0.4.1",
		"1!3.1.1.6", "2!0.4.1",
	}, map[string]bool{"0.4.0": true, "0.4.1.RC": true, "1.1.dev1": true, "1.1": true, "1.1.post1": true})
}

func TestParseParts(t *testing.T) {
	for _, c := range []struct{ s, norm, parts, local string }{
		// Docstring examples. (The docstring shows [1, '_alpha'] for the last
		// component of the second; conda's code gives, and we give, [1], [0, 'alpha'].)
		{"1.2g.beta15.rc", "1.2g.beta15.rc", "[[0], [1], [2, 'g'], [0, 'beta', 15], [0, 'rc']]", "[]"},
		{"1!2.15.1_ALPHA", "1!2.15.1_alpha", "[[1], [2], [15], [1], [0, 'alpha']]", "[]"},
		// A trailing '_' (or '-') stays with the last component.
		{"1.0.1_", "1.0.1_", "[[0], [1], [0], [1, '_']]", "[]"},
		{"1.0-", "1.0_", "[[0], [1], [0, '_']]", "[]"},
		{"1__", "1__", "[[0], [1], [0, '_']]", "[]"},
		{"_", "_", "[[0], [0, '_']]", "[]"},
		{"-", "_", "[[0], [0, '_']]", "[]"},
		{"1-2-3", "1_2_3", "[[0], [1], [2], [3]]", "[]"},
		// Local versions: '_' splits there too, no trailing-'_' rule.
		{"1.2+a_b.3", "1.2+a_b.3", "[[0], [1], [2]]", "[[0, 'a'], [0, 'b'], [3]]"},
		{"1.0+DEV", "1.0+dev", "[[0], [1], [0]]", "[[0, 'DEV']]"},
		// Runs of '*' are strings of their own.
		{"1.0a*b", "1.0a*b", "[[0], [1], [0, 'a', '*', 'b']]", "[]"},
		{"**", "**", "[[0], [0, '**']]", "[]"},
		{"01!007", "01!007", "[[1], [7]]", "[]"},
		// Python's str.strip also removes U+001C..U+001F.
		{"\x1c1.0\x1f\n", "1.0", "[[0], [1], [0]]", "[]"},
		{"\u3000 1.0\u00a0", "1.0", "[[0], [1], [0]]", "[]"},
		{"\u212a", "k", "[[0], [0, 'k']]", "[]"},
	} {
		v, err := Parse(c.s)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.s, err)
			continue
		}
		if v.String() != c.norm || render(v.version) != c.parts || render(v.local) != c.local {
			t.Errorf("Parse(%q) = %q %s %s, want %q %s %s", c.s, v.String(), render(v.version), render(v.local), c.norm, c.parts, c.local)
		}
	}
}

func TestParseInvalid(t *testing.T) {
	for _, s := range []string{
		// conda's test_version_order.
		"", "  ", "3.5&1", "5.5++", "5.5..mw", "!", "a!1.0", "a!b!1.0",
		// conda's test_invalid_version_specs (VersionOrder raises for these too).
		"1.2+", "+1.2", "+1.2+", "++",
		// More of conda's rules.
		"1..2", "1.", ".1", "1$", "1 2", "1.0-1_2", "-_", "1!", "!1", "1!2!3",
		"1.2+a_", "1.2+.a", "1+2+3", "1.0+1+", "1.0\x00", "1.0\xff", "\u0130",
		"1.0\u00e9", "1,0", "1/2", "1.0~rc1", "=1.0", ">=1", "1.*.", "\x1c",
		"1.0\u200b", // ZERO WIDTH SPACE is not whitespace to Python
	} {
		v, err := Parse(s)
		if err == nil {
			t.Errorf("Parse(%q) = %q, want an error", s, v)
			continue
		}
		var pe *Error
		if !errors.As(err, &pe) || pe.Version != s || pe.Reason == "" {
			t.Errorf("Parse(%q) error %#v is not a proper *Error", s, err)
		}
		if !strings.Contains(err.Error(), strconv.Quote(s)) {
			t.Errorf("Parse(%q) error %q does not quote the input", s, err)
		}
	}
}

func TestCompareStrings(t *testing.T) {
	list := []string{"1.0$", "1.2+", "5.5..mw", "", "0", "0.1", "1.0", "1!0"}
	const nInvalid = 4
	for i, a := range list {
		for j, b := range list {
			var want int
			switch {
			case i < nInvalid && j < nInvalid:
				want = strings.Compare(a, b)
			case i < nInvalid:
				want = -1
			case j < nInvalid:
				want = 1
			default:
				want = mustParse(t, a).Compare(mustParse(t, b))
			}
			if got := Compare(a, b); got != want {
				t.Errorf("Compare(%q, %q) = %d, want %d", a, b, got, want)
			}
		}
	}
	got := []string{"2.0", "bad version", "1.10", "1.9", "1.0$", "1.10.0"}
	slices.SortStableFunc(got, Compare)
	want := []string{"1.0$", "bad version", "1.9", "1.10", "1.10.0", "2.0"}
	if !slices.Equal(got, want) {
		t.Errorf("sorted = %q, want %q", got, want)
	}
}

func TestZeroVersion(t *testing.T) {
	var z Version
	if z.String() != "" {
		t.Errorf("zero Version prints as %q", z.String())
	}
	if z.Compare(mustParse(t, "0")) != 0 || z.Compare(mustParse(t, "0.0+0")) != 0 || z.Compare(mustParse(t, "0.1")) != -1 {
		t.Error("zero Version does not compare like 0")
	}
}

// TestCondaOracle checks Parse and Compare against results recorded from
// conda's own VersionOrder for random strings (testdata/conda_versionorder.txt).
func TestCondaOracle(t *testing.T) {
	f, err := os.Open("testdata/conda_versionorder.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type entry struct {
		s    string
		rank int
		v    Version
	}
	var valid []entry
	nInvalid := 0
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if text == "" || text[0] == '#' {
			continue
		}
		fields := strings.Split(text, "\t")
		var s string
		switch {
		case fields[0] == "V" && len(fields) == 6:
			if err := json.Unmarshal([]byte(fields[2]), &s); err != nil {
				t.Fatalf("line %d: %v", line, err)
			}
			rank, err := strconv.Atoi(fields[1])
			if err != nil {
				t.Fatalf("line %d: %v", line, err)
			}
			v, err := Parse(s)
			if err != nil {
				t.Errorf("Parse(%q): %v; conda accepts it", s, err)
				continue
			}
			if v.String() != fields[3] || render(v.version) != fields[4] || render(v.local) != fields[5] {
				t.Errorf("Parse(%q) = %q %s %s, conda has %q %s %s", s, v.String(), render(v.version), render(v.local), fields[3], fields[4], fields[5])
			}
			valid = append(valid, entry{s, rank, v})
		case fields[0] == "E" && len(fields) == 2:
			if err := json.Unmarshal([]byte(fields[1]), &s); err != nil {
				t.Fatalf("line %d: %v", line, err)
			}
			nInvalid++
			if v, err := Parse(s); err == nil {
				t.Errorf("Parse(%q) = %q; conda rejects it", s, v)
			}
		default:
			t.Fatalf("line %d: malformed: %q", line, text)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(valid) < 1000 || nInvalid < 300 {
		t.Fatalf("only %d valid and %d invalid versions in the oracle file", len(valid), nInvalid)
	}
	errs := 0
	for _, a := range valid {
		for _, b := range valid {
			want := 0
			switch {
			case a.rank < b.rank:
				want = -1
			case a.rank > b.rank:
				want = 1
			}
			if got := a.v.Compare(b.v); got != want {
				t.Errorf("%q %s %q, conda has %s", a.s, relName[got], b.s, relName[want])
				if errs++; errs > 20 {
					t.Fatal("too many differences")
				}
			}
		}
	}
}
