package install

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"unicode/utf16"
)

// Prefix replacement as conda does it at install time (conda/core/portability.py), for
// the files paths.json marks with a prefix_placeholder. The same rules hold for every
// client that matters here: text files get every occurrence replaced, binary files get
// each NUL-terminated string that holds the placeholder rewritten and padded with NULs so
// that the file keeps its length.

// FileMode is paths.json's file_mode.
type FileMode string

const (
	Text   FileMode = "text"
	Binary FileMode = "binary"
)

// PaddingError is returned when a binary file cannot take the new prefix: the string
// holding the placeholder would grow, and binary files cannot change length.
type PaddingError struct {
	Placeholder string
	NewPrefix   string
}

func (e *PaddingError) Error() string {
	return fmt.Sprintf("the install prefix %s (%d bytes) is longer than the package's placeholder (%d bytes): binary files cannot take it; install into a shorter path", e.NewPrefix, len(e.NewPrefix), len(e.Placeholder))
}

// encodings are the text encodings conda looks for the placeholder in, in its order.
var encodings = []func(string) []byte{
	func(s string) []byte { return []byte(s) },
	func(s string) []byte { return encodeUTF16(s, false) },
	func(s string) []byte { return encodeUTF16(s, true) },
	func(s string) []byte { return encodeUTF32(s, false) },
	func(s string) []byte { return encodeUTF32(s, true) },
}

// Replace rewrites data for the install prefix newPrefix. windowsTarget says whether the
// package is for Windows (a win-* subdir): there text files get the new prefix with
// forward slashes, shebangs are left alone, and binary files are not touched.
func Replace(data []byte, placeholder, newPrefix string, mode FileMode, windowsTarget bool) ([]byte, error) {
	if placeholder == "" {
		return nil, errors.New("empty prefix placeholder")
	}
	switch mode {
	case Text:
		if windowsTarget {
			newPrefix = strings.ReplaceAll(newPrefix, `\`, "/")
		}
		for i, enc := range encodings {
			data = replaceText(data, placeholder, newPrefix, enc, i == 0 && !windowsTarget)
		}
		if !windowsTarget {
			data = replaceLongShebang(data)
		}
		return data, nil
	case Binary:
		if windowsTarget {
			return data, nil
		}
		for _, enc := range encodings {
			var err error
			if data, err = replaceBinary(data, enc(placeholder), enc(newPrefix), enc("\x00")); err != nil {
				return nil, &PaddingError{Placeholder: placeholder, NewPrefix: newPrefix}
			}
		}
		return data, nil
	}
	return nil, fmt.Errorf("unknown file_mode %q (expected text or binary)", mode)
}

// replaceText replaces every occurrence. In the first line, a `#!<placeholder>` gets the
// new prefix with its spaces escaped, as conda writes it (such a line is then turned into
// an env shebang by replaceLongShebang).
func replaceText(data []byte, placeholder, newPrefix string, enc func(string) []byte, shebang bool) []byte {
	old := enc(placeholder)
	if !bytes.Contains(data, old) {
		return data
	}
	if shebang {
		if nl := bytes.IndexByte(data, '\n'); nl >= 0 {
			line, rest := data[:nl], data[nl:]
			marker := enc("#!" + placeholder)
			if bytes.Contains(line, marker) {
				escaped := enc(strings.ReplaceAll("#!"+newPrefix, " ", `\ `))
				line = bytes.ReplaceAll(line, marker, escaped)
				data = append(append([]byte{}, line...), rest...)
			}
		}
	}
	return bytes.ReplaceAll(data, old, enc(newPrefix))
}

var errPadding = errors.New("padding")

// replaceBinary rewrites each run from an occurrence of old up to and including the next
// terminator (NUL in the encoding): every old in it becomes new, and NULs follow the
// terminator so that the run keeps its length. An occurrence without a terminator after
// it stays as it is, as in conda.
func replaceBinary(data, old, new, zero []byte) ([]byte, error) {
	if !bytes.Contains(data, old) {
		return data, nil
	}
	var out bytes.Buffer
	out.Grow(len(data))
	rest := data
	for {
		i := bytes.Index(rest, old)
		if i < 0 {
			break
		}
		end := bytes.Index(rest[i+len(old):], zero)
		if end < 0 {
			break
		}
		end += i + len(old) + len(zero)
		run := rest[i:end]
		n := bytes.Count(run, old)
		padding := (len(old) - len(new)) * n
		if padding < 0 {
			return nil, errPadding
		}
		out.Write(rest[:i])
		out.Write(bytes.ReplaceAll(run, old, new))
		out.Write(make([]byte, padding))
		rest = rest[end:]
	}
	out.Write(rest)
	return out.Bytes(), nil
}

// shebangRe is conda's SHEBANG_REGEX: the interpreter's absolute path (spaces escaped
// with a backslash) and the rest of the line.
var shebangRe = regexp.MustCompile(`^(#!(?:[ ]*)(/(?:\\ |[^ \n\r\t])*)(.*))`)

// maxShebang is the longest first line the kernel passes on whole: 127 bytes on Linux,
// 512 elsewhere (conda decides by the system it runs on).
func maxShebang() int {
	if runtime.GOOS == "linux" {
		return 127
	}
	return 512
}

// replaceLongShebang turns a shebang that the kernel would cut (too long) or split (an
// escaped space in the interpreter's folder) into `#!/usr/bin/env <interpreter>`.
func replaceLongShebang(data []byte) []byte {
	m := shebangRe.FindSubmatchIndex(data)
	if m == nil {
		return data
	}
	whole, exe, opts := data[m[2]:m[3]], string(data[m[4]:m[5]]), data[m[6]:m[7]]
	slash := strings.LastIndexByte(exe, '/')
	dir, name := exe[:slash], exe[slash+1:]
	if len(whole) <= maxShebang() && !strings.Contains(dir, `\ `) {
		return data
	}
	repl := append([]byte("#!/usr/bin/env "+name), opts...)
	return bytes.ReplaceAll(data, append([]byte{}, whole...), repl)
}

func encodeUTF16(s string, bigEndian bool) []byte {
	units := utf16.Encode([]rune(s))
	out := make([]byte, 0, 2*len(units))
	for _, u := range units {
		if bigEndian {
			out = append(out, byte(u>>8), byte(u))
		} else {
			out = append(out, byte(u), byte(u>>8))
		}
	}
	return out
}

func encodeUTF32(s string, bigEndian bool) []byte {
	out := make([]byte, 0, 4*len(s))
	for _, r := range s {
		u := uint32(r)
		if bigEndian {
			out = append(out, byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
		} else {
			out = append(out, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
		}
	}
	return out
}
