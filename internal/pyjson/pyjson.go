// Package pyjson writes JSON byte for byte as Python's json.dumps does with
// sort_keys=True and ensure_ascii=True. conda-build writes info/*.json that way and
// conda-index writes repodata.json that way; matching them exactly keeps our files
// comparable (and diffable) with what the Python tools produce.
package pyjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Style selects the separators and indentation.
type Style int

const (
	// Compact is json.dumps(v, sort_keys=True, separators=(",", ":")).
	Compact Style = iota
	// Indent2 is json.dumps(v, sort_keys=True, indent=2).
	Indent2
	// Spaced is json.dumps(v, sort_keys=True): ", " and ": " separators, one line.
	Spaced
)

// Marshal encodes v, which may be built from maps with string keys, slices, strings,
// bools, nil, integers, float64, json.Number, and structs (through encoding/json: their
// JSON form is decoded and re-encoded, so tags apply).
func Marshal(v any, style Style) ([]byte, error) {
	var b bytes.Buffer
	if err := encode(&b, normalize(v), style, 0); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// normalize turns structs and typed maps/slices into the generic forms encode knows.
func normalize(v any) any {
	switch v.(type) {
	case nil, string, bool, int, int64, int32, uint32, uint64, float64, json.Number, map[string]any, []any, []string, map[string]string:
		return v
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map, reflect.Slice, reflect.Struct, reflect.Pointer, reflect.Array:
		raw, err := json.Marshal(v)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var out any
		if err := dec.Decode(&out); err != nil {
			return err
		}
		return out
	}
	return v
}

func encode(b *bytes.Buffer, v any, style Style, depth int) error {
	switch v := v.(type) {
	case error:
		return v
	case nil:
		b.WriteString("null")
	case bool:
		if v {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case string:
		writeString(b, v)
	case int:
		b.WriteString(strconv.Itoa(v))
	case int32:
		b.WriteString(strconv.FormatInt(int64(v), 10))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case uint32:
		b.WriteString(strconv.FormatUint(uint64(v), 10))
	case uint64:
		b.WriteString(strconv.FormatUint(v, 10))
	case json.Number:
		b.WriteString(formatNumber(v))
	case float64:
		b.WriteString(formatFloat(v))
	case []string:
		items := make([]any, len(v))
		for i, s := range v {
			items[i] = s
		}
		return encodeList(b, items, style, depth)
	case []any:
		return encodeList(b, v, style, depth)
	case map[string]string:
		m := make(map[string]any, len(v))
		for k, s := range v {
			m[k] = s
		}
		return encodeMap(b, m, style, depth)
	case map[string]any:
		return encodeMap(b, v, style, depth)
	default:
		return encode(b, normalize(v), style, depth)
	}
	return nil
}

func encodeList(b *bytes.Buffer, items []any, style Style, depth int) error {
	if len(items) == 0 {
		b.WriteString("[]")
		return nil
	}
	b.WriteByte('[')
	for i, it := range items {
		if i > 0 {
			b.WriteString(itemSep(style))
		}
		newline(b, style, depth+1)
		if err := encode(b, it, style, depth+1); err != nil {
			return err
		}
	}
	newline(b, style, depth)
	b.WriteByte(']')
	return nil
}

func encodeMap(b *bytes.Buffer, m map[string]any, style Style, depth int) error {
	if len(m) == 0 {
		b.WriteString("{}")
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// Python sorts str keys by code point; Go compares UTF-8 bytes, which is the same
	// order for valid UTF-8.
	sort.Strings(keys)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(itemSep(style))
		}
		newline(b, style, depth+1)
		writeString(b, k)
		if style == Compact {
			b.WriteByte(':')
		} else {
			b.WriteString(": ")
		}
		if err := encode(b, m[k], style, depth+1); err != nil {
			return err
		}
	}
	newline(b, style, depth)
	b.WriteByte('}')
	return nil
}

func itemSep(style Style) string {
	if style == Spaced {
		return ", "
	}
	return ","
}

func newline(b *bytes.Buffer, style Style, depth int) {
	if style != Indent2 {
		return
	}
	b.WriteByte('\n')
	for i := 0; i < depth; i++ {
		b.WriteString("  ")
	}
}

const hexDigits = "0123456789abcdef"

// writeString escapes like Python's ensure_ascii encoder: \" \\ \n \r \t \b \f, other
// control characters and all non-ASCII as \uXXXX (lower-case hex, surrogate pairs above
// the BMP). Invalid UTF-8 bytes become U+FFFD.
func writeString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch c {
			case '"':
				b.WriteString(`\"`)
			case '\\':
				b.WriteString(`\\`)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			case '\b':
				b.WriteString(`\b`)
			case '\f':
				b.WriteString(`\f`)
			default:
				if c < 0x20 || c == 0x7f {
					writeU(b, rune(c))
				} else {
					b.WriteByte(c)
				}
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r >= 0x10000 {
			r -= 0x10000
			writeU(b, 0xd800+(r>>10))
			writeU(b, 0xdc00+(r&0x3ff))
			continue
		}
		writeU(b, r)
	}
	b.WriteByte('"')
}

func writeU(b *bytes.Buffer, r rune) {
	b.WriteString(`\u`)
	b.WriteByte(hexDigits[(r>>12)&0xf])
	b.WriteByte(hexDigits[(r>>8)&0xf])
	b.WriteByte(hexDigits[(r>>4)&0xf])
	b.WriteByte(hexDigits[r&0xf])
}

// formatFloat matches Python's float repr: shortest round-trip digits, fixed notation
// for 1e-4 <= |f| < 1e16 (with ".0" for integral values), exponent notation otherwise.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case math.IsNaN(f):
		return "NaN"
	}
	if a := math.Abs(f); a == 0 || (a >= 1e-4 && a < 1e16) {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	return strconv.FormatFloat(f, 'e', -1, 64)
}

// formatNumber writes a JSON number as Python writes it after json.loads: integers keep
// their digits (Python ints are unbounded), anything with a fraction or an exponent is a
// float and gets float repr (1E3 -> 1000.0, 1.10 -> 1.1).
func formatNumber(n json.Number) string {
	s := n.String()
	if !strings.ContainsAny(s, ".eE") {
		if s == "-0" {
			return "0"
		}
		return s
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	return formatFloat(f)
}

// MustMarshal is Marshal for values built by our own code, which cannot fail.
func MustMarshal(v any, style Style) []byte {
	b, err := Marshal(v, style)
	if err != nil {
		panic(fmt.Sprintf("pyjson: %v", err))
	}
	return b
}
