package matchspec

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		// the cases
		{"studio-tools>=2.1", "studio-tools >=2.1"},
		{"Studio-Tools >=2", "studio-tools >=2"},
		{"studio-tools=2.1", "studio-tools 2.1.*"},
		{"studio-tools[version='>=2.1']", "studio-tools >=2.1"},
		// already canonical
		{"bar", "bar"},
		{"studio-tools >=2.1", "studio-tools >=2.1"},
		{"python >=3.10,<3.12", "python >=3.10,<3.12"},
		{"foo 1.2.* py_0", "foo 1.2.* py_0"},
		{"baz 2.1.*", "baz 2.1.*"},
		{"foo >=1|<0.5", "foo >=1|<0.5"},
		{"foo ==2.1 py_0", "foo ==2.1 py_0"},
		{"foo * py_0", "foo * py_0"},
		{"__glibc >=2.17", "__glibc >=2.17"},
		{"_libgcc_mutex 0.1 conda_forge", "_libgcc_mutex ==0.1 conda_forge"},
		{"libblas 3.9.0 20_linux64_openblas", "libblas ==3.9.0 20_linux64_openblas"},
		{"python 3.11.* *_cpython", "python 3.11.* *_cpython"},
		{"openssl >=3.0.8,<4.0a0", "openssl >=3.0.8,<4.0a0"},
		// spaces
		{"  foo  ", "foo"},
		{"foo >= 2.1", "foo >=2.1"},
		{"foo >=1 , <2", "foo >=1,<2"},
		{"foo >=1, <2 | ==3", "foo >=1,<2|==3"},
		{"foo>=1.0 , < 2.0 py34_0", "foo >=1.0,<2.0 py34_0"},
		{"foo   1.2.*   py_0", "foo 1.2.* py_0"},
		// = (starts-with) and == (exact)
		{"foo =2.1", "foo 2.1.*"},
		{"foo=2.1.*", "foo 2.1.*"},
		{"foo=2.1*", "foo 2.1.*"},
		{"foo 2.1*", "foo 2.1.*"},
		{"foo ==2.1", "foo ==2.1"},
		{"foo==2.1", "foo ==2.1"},
		{"foo 2.1", "foo ==2.1"},
		{"foo 2.1 py_0", "foo ==2.1 py_0"},
		{"foo=2.1=py_0", "foo ==2.1 py_0"},
		{"foo =2.1 py_0", "foo ==2.1 py_0"},
		{"foo==2.1=py_0", "foo ==2.1 py_0"},
		{"foo 2.1=py_0", "foo ==2.1 py_0"},
		{"foo=2.1.*=py_0", "foo 2.1.* py_0"},
		{"foo >=1,=1.2", "foo >=1,1.2.*"},
		{"foo 1.2|1.3", "foo ==1.2|==1.3"},
		{"foo !=1.2", "foo !=1.2"},
		{"foo !=1.2.*", "foo !=1.2.*"},
		{"foo !=1.2*", "foo !=1.2.*"},
		{"foo ~=1.2", "foo ~=1.2"},
		{"foo >=1.2.*", "foo >=1.2"},
		{"foo >1.2", "foo >1.2"},
		{"foo <=1.2", "foo <=1.2"},
		// any
		{"foo *", "foo"},
		{"foo=*", "foo"},
		{"foo * *", "foo"},
		{"foo 1.2 *", "foo ==1.2"},
		{"foo[version='*']", "foo"},
		{"foo[build=*]", "foo"},
		// versions
		{"foo >=1!2.0", "foo >=1!2.0"},
		{"foo >=1.0+local.1", "foo >=1.0+local.1"},
		{"foo >=2.1.0a0", "foo >=2.1.0a0"},
		{"foo >=3.7b_", "foo >=3.7b_"},
		{"foo >=1.0.post1", "foo >=1.0.post1"},
		// builds
		{"foo 1.2 py*", "foo ==1.2 py*"},
		{"foo 1.2 h1234_0.rc+x", "foo ==1.2 h1234_0.rc+x"},
		// brackets
		{"foo[version='>=2.1', build=py*]", "foo >=2.1 py*"},
		{`foo[version=">=2.1,<3" build='py_0']`, "foo >=2.1,<3 py_0"},
		{"foo[version=2.1]", "foo ==2.1"},
		{"foo[version='=2.1']", "foo 2.1.*"},
		{"foo[version='=2.1', build=py_0]", "foo 2.1.* py_0"},
		{"foo [ version = '>= 2.1' ]", "foo >=2.1"},
		{"foo >=2[build=py_0]", "foo >=2 py_0"},
		{"foo[build=py_0]", "foo * py_0"},
		// names
		{"FOO", "foo"},
		{"a.b-c_d", "a.b-c_d"},
		{"python-3", "python-3"},
		{"_", "_"},
		{"x-", "x-"},
	}
	for _, tt := range tests {
		got, err := Canonical(tt.in)
		if err != nil {
			t.Errorf("Canonical(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Canonical(%q) = %q, want %q", tt.in, got, tt.want)
		}
		again, err := Canonical(got)
		if err != nil || again != got {
			t.Errorf("Canonical(%q) = %q, %v; not a fixed point", got, again, err)
		}
	}
}

func TestCanonicalRefuses(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty"},
		{"   ", "empty"},
		{"somechannel::studio-tools", `names the channel or subdir "somechannel"`},
		{"somechannel::studio-tools", `write "studio-tools"`},
		{"conda-forge/linux-64::foo >=1", `"conda-forge/linux-64"`},
		{"conda-forge/linux-64::foo >=1", `write "foo >=1"`},
		{"foo[channel=conda-forge]", "names the channel"},
		{"foo[subdir=linux-64]", `"linux-64"`},
		{"https://conda.anaconda.org/conda-forge::foo", "names the channel"},
		{"foo[md5=0123456789abcdef0123456789abcdef]", "[md5=...] cannot be written"},
		{"foo[build_number=3]", "[build_number=...] cannot be written"},
		{"foo[license=MIT]", "[license=...]"},
		{"foo[fn=foo-1-0.conda]", "[fn=...]"},
		{"foo[url=https://x/foo-1-0.conda]", "[url=...]"},
		{"foo[bogus=1]", `unknown bracket key "bogus"`},
		{"foo[version=1, version=2]", "given twice"},
		{"foo >=1[version='>=2']", "gives the version twice"},
		{"foo 1 py_0[build=py_1]", "gives the build twice"},
		{"*", "is a pattern"},
		{"py*", "is a pattern"},
		{"* >=1", "is a pattern"},
		{">=1", "no package name"},
		{"::foo", "'::' without a channel"},
		{"ns:foo", "':' is not part of a match spec"},
		{"foo ,1", `expected a version, found ","`},
		{"foo$bar", "regular expressions"},
		{"foo ^1\\.2$", "regular expressions"},
		{"fo/o", `holds '/'`},
		{"foo..bar", "two separators in a row"},
		{"-foo", "must start with"},
		{".foo", "must start with"},
		{"___foo", "virtual package"},
		{"foo 1 py_0 x", "more fields"},
		{"foo >=1 <2", "join constraints with ','"},
		{"foo >=", "has no version"},
		{"foo >=1,", "expected a version after"},
		{"foo =>1", `"=>" is not a version operator`},
		{"foo >==1", `is not a version operator`},
		{"foo >=*", "means nothing"},
		{"foo ==1.2.*", "read a glob after == differently"},
		{"foo >1.2.*", "read a glob after >"},
		{"foo ~=1.2.*", "read a glob after ~="},
		{"foo 1.*.3", "inside a version"},
		{"foo 1..2", "not a valid version"},
		{"foo 1.0-1", "'-' in the version"},
		{"foo (>=1,<2)|>=3", "parentheses"},
		{"foo >=1 # note", "comment"},
		{"foo; if python", "condition"},
		{"foo@", "feature specs"},
		{"https://x.example/foo-1.0-0.conda", "package URL"},
		{"/tmp/foo-1.0-0.tar.bz2", "package URL"},
		{"foo[version='>=1]", "unbalanced quotes"},
		{"foo[version=1", "never closed"},
		{"foo]", "without '['"},
		{"foo[a=1][b=2]", "only once"},
		{"foo[version=1] >=2", "must come last"},
		{"foo[]", "empty brackets"},
		{"foo[linux-64]", "expected key=value"},
		{"foo[version=>=1,<2]", "must be quoted"},
		{"foo[version=]", "has no value"},
		{"foo[version='1 py_0']", "unexpected"},
		{"foo 1.2 py-0", "holds '-'"},
		{"foo\t1", "control character"},
		{"foo \u2265 1", "U+2265"},
		{"foo 'x'", "quotes"},
	}
	for _, tt := range tests {
		got, err := Canonical(tt.in)
		if err == nil {
			t.Errorf("Canonical(%q) = %q, want an error containing %q", tt.in, got, tt.want)
			continue
		}
		var me *Error
		if !errors.As(err, &me) || me.Spec != tt.in {
			t.Errorf("Canonical(%q): %#v is not an *Error for the spec", tt.in, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Canonical(%q): %v\nwant it to contain %q", tt.in, err, tt.want)
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Spec
	}{
		{"Studio-Tools >=2", Spec{Name: "studio-tools", Version: ">=2"}},
		{"conda-forge::cmake", Spec{Name: "cmake", Channel: "conda-forge"}},
		{"conda-forge/linux-64::cmake 3.28.*", Spec{Name: "cmake", Version: "3.28.*", Channel: "conda-forge", Subdir: "linux-64"}},
		{"https://conda.anaconda.org/conda-forge::cmake", Spec{Name: "cmake", Channel: "https://conda.anaconda.org/conda-forge"}},
		{"foo[channel=conda-forge/osx-arm64, build_number=3]", Spec{Name: "foo", Channel: "conda-forge", Subdir: "osx-arm64", Keys: []Key{{"build_number", "3"}}}},
		{"foo[extras=[a, b], md5=abc]", Spec{Name: "foo", Keys: []Key{{"extras", "[a, b]"}, {"md5", "abc"}}}},
		{"foo[url='https://x/a]b.conda']", Spec{Name: "foo", Keys: []Key{{"url", "https://x/a]b.conda"}}}},
		{"foo=1.2=py_0", Spec{Name: "foo", Version: "==1.2", Build: "py_0"}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func FuzzCanonical(f *testing.F) {
	for _, s := range []string{
		"studio-tools>=2.1", "Studio-Tools >=2", "studio-tools=2.1", "studio-tools[version='>=2.1']",
		"somechannel::studio-tools", "python >=3.10,<3.12", "foo 1.2.* py_0", "foo=1.2=py_0",
		"foo[version='>=2.1', build=py*]", "foo * *", "foo >= 2.1 | <1", "__glibc >=2.17",
		"foo[build_number=3]", "foo 1!2.0+local_1", "foo !=1.2*", "foo[extras=[a,b]]", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		got, err := Canonical(spec)
		if err != nil {
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("Canonical(%q): %T is not an *Error", spec, err)
			}
			return
		}
		again, err := Canonical(got)
		if err != nil {
			t.Fatalf("Canonical(%q) = %q, which it refuses: %v", spec, got, err)
		}
		if again != got {
			t.Fatalf("Canonical(%q) = %q, but Canonical(%q) = %q", spec, got, got, again)
		}
		if strings.Contains(got, "  ") || strings.TrimSpace(got) != got || len(strings.Fields(got)) > 3 {
			t.Fatalf("Canonical(%q) = %q is not `name [version [build]]`", spec, got)
		}
		s, err := Parse(got)
		if err != nil || s.String() != got || s.Name != strings.ToLower(s.Name) {
			t.Fatalf("Parse(%q) = %+v, %v", got, s, err)
		}
	})
}
