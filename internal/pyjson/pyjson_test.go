package pyjson

import (
	"encoding/json"
	"strings"
	"testing"
)

// The expected bytes were printed by Python 3.11's json.dumps with the same sort_keys,
// separators and indent settings.
func TestMatchesPythonJSONDumps(t *testing.T) {
	doc := func(src string) any {
		var v any
		if err := decodeNumbers(src, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		in                      string
		compact, indent, spaced string
	}{
		{
			`{"b": 1, "a": [true, null, 1.5, "x"]}`,
			`{"a":[true,null,1.5,"x"],"b":1}`,
			"{\n  \"a\": [\n    true,\n    null,\n    1.5,\n    \"x\"\n  ],\n  \"b\": 1\n}",
			`{"a": [true, null, 1.5, "x"], "b": 1}`,
		},
		{
			`{"s": "caf\u00e9 \u2615 \ud83d\ude00 <&> \"q\" \\ / tab\t nl\n \u007f \u0001", "e": [], "o": {}}`,
			`{"e":[],"o":{},"s":"caf\u00e9 \u2615 \ud83d\ude00 <&> \"q\" \\ / tab\t nl\n \u007f \u0001"}`,
			"{\n  \"e\": [],\n  \"o\": {},\n  \"s\": \"caf\\u00e9 \\u2615 \\ud83d\\ude00 <&> \\\"q\\\" \\\\ / tab\\t nl\\n \\u007f \\u0001\"\n}",
			`{"e": [], "o": {}, "s": "caf\u00e9 \u2615 \ud83d\ude00 <&> \"q\" \\ / tab\t nl\n \u007f \u0001"}`,
		},
		{
			`{"f": [1E3, 1.10, 1e20, 1.5e-7, 0.0, -2.5, 123456789.125, 1e16, 1e-4, 0.0001234], "i": [123456789012345678901234567890, -0, 7]}`,
			`{"f":[1000.0,1.1,1e+20,1.5e-07,0.0,-2.5,123456789.125,1e+16,0.0001,0.0001234],"i":[123456789012345678901234567890,0,7]}`,
			"",
			"",
		},
	}
	for _, c := range cases {
		v := doc(c.in)
		for _, s := range []struct {
			style Style
			want  string
		}{{Compact, c.compact}, {Indent2, c.indent}, {Spaced, c.spaced}} {
			if s.want == "" {
				continue
			}
			got, err := Marshal(v, s.style)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != s.want {
				t.Errorf("style %d of %s:\n got %s\nwant %s", s.style, c.in, got, s.want)
			}
		}
	}
}

func TestStructsGoThroughTheirJSONForm(t *testing.T) {
	type rec struct {
		Name  string   `json:"name"`
		Deps  []string `json:"depends"`
		Empty string   `json:"empty,omitempty"`
	}
	got := MustMarshal(map[string]any{"r": rec{Name: "x", Deps: []string{"b", "a"}}}, Compact)
	if want := `{"r":{"depends":["b","a"],"name":"x"}}`; string(got) != want {
		t.Errorf("got %s want %s", got, want)
	}
}

func decodeNumbers(src string, v any) error {
	dec := json.NewDecoder(strings.NewReader(src))
	dec.UseNumber()
	return dec.Decode(v)
}
