package condaversion

import (
	"strings"
	"testing"
)

// fuzzSeeds are the versions from conda's tests plus a few edge cases; the
// fuzz target also compares its inputs with each of them.
var fuzzSeeds = func() []string {
	s := []string{
		"", " ", "0", "1!0", "1.0", "1.0.0", "1.0-1", "1.0_1", "1.0-1_2", "1.0.1_",
		"1.0post", "1.0.post1", "1.0dev", "1.0.dev1", "1.0*", "1.0.*", "1.2+abc",
		"1.2+", "+1.2", "++", "1..2", "1$", "a!1.0", "1!2!3", "\u212a", "\u0130",
		"\x1c1.0\x1f", "1.123456789012345678901234567890", "01!007", "_", "-",
	}
	for _, c := range condaVersionOrder {
		s = append(s, c.s)
	}
	return s
}()

// canonical is an independent statement of conda's equality: two versions
// are equal exactly when they agree after dropping trailing integer zeros in
// each component and then trailing empty components.
func canonical(v Version) string {
	trim := func(parts [][]atom) string {
		var comps []string
		for _, p := range parts {
			for len(p) > 0 && p[len(p)-1] == (atom{kind: kindInt}) {
				p = p[:len(p)-1]
			}
			comps = append(comps, render([][]atom{p}))
		}
		for len(comps) > 0 && comps[len(comps)-1] == "[[]]" {
			comps = comps[:len(comps)-1]
		}
		return strings.Join(comps, " ")
	}
	return trim(v.version) + " + " + trim(v.local)
}

// parsed is a string with its parse, so the fuzz target need not reparse
// the seeds on every run.
type parsed struct {
	s   string
	v   Version
	err error
}

func parse(s string) parsed {
	v, err := Parse(s)
	return parsed{s, v, err}
}

// compareParsed is Compare on already parsed strings.
func compareParsed(a, b parsed) int {
	switch {
	case a.err != nil && b.err != nil:
		return strings.Compare(a.s, b.s)
	case a.err != nil:
		return -1
	case b.err != nil:
		return 1
	}
	return a.v.Compare(b.v)
}

func FuzzParse(f *testing.F) {
	seeds := make([]parsed, len(fuzzSeeds))
	for i, s := range fuzzSeeds {
		seeds[i] = parse(s)
	}
	for i, s := range fuzzSeeds {
		f.Add(s, fuzzSeeds[(i+1)%len(fuzzSeeds)])
		f.Add(s, fuzzSeeds[(i*7+3)%len(fuzzSeeds)])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, s := range []string{a, b} {
			v, err := Parse(s)
			if err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("Parse(%q) error is %T", s, err)
				}
				continue
			}
			// The normal form parses to itself and an equal version.
			w, err := Parse(v.String())
			if err != nil {
				t.Fatalf("Parse(%q) = %q, which does not parse: %v", s, v, err)
			}
			if w.String() != v.String() || w.Compare(v) != 0 || render(w.version) != render(v.version) || render(w.local) != render(v.local) {
				t.Fatalf("Parse(%q) = %q, which reparses differently", s, v)
			}
			if v.Compare(v) != 0 || Compare(s, s) != 0 {
				t.Fatalf("%q does not equal itself", s)
			}
		}

		ab, ba := Compare(a, b), Compare(b, a)
		if ab < -1 || ab > 1 || ab != -ba {
			t.Fatalf("Compare(%q, %q) = %d but Compare(%q, %q) = %d", a, b, ab, b, a, ba)
		}
		pa, pb := parse(a), parse(b)
		if compareParsed(pa, pb) != ab {
			t.Fatalf("Compare(%q, %q) = %d, Version.Compare disagrees", a, b, ab)
		}
		if pa.err == nil && pb.err == nil && (ab == 0) != (canonical(pa.v) == canonical(pb.v)) {
			t.Fatalf("Compare(%q, %q) = %d but canonical forms are %q and %q", a, b, ab, canonical(pa.v), canonical(pb.v))
		}

		// Consistency with a third version: equality is substitutable and
		// the order is transitive.
		for _, c := range seeds {
			ac, bc := compareParsed(pa, c), compareParsed(pb, c)
			switch {
			case ab == 0 && ac != bc:
				t.Fatalf("%q == %q but they compare %d and %d with %q", a, b, ac, bc, c.s)
			case ab < 0 && bc <= 0 && ac >= 0:
				t.Fatalf("%q < %q <= %q but Compare(%q, %q) = %d", a, b, c.s, a, c.s, ac)
			case ab > 0 && bc >= 0 && ac <= 0:
				t.Fatalf("%q > %q >= %q but Compare(%q, %q) = %d", a, b, c.s, a, c.s, ac)
			}
		}
	})
}
