package prefixscan

import (
	"bytes"
	"strings"
	"testing"

	"github.com/condachan/condachan/internal/globset"
)

const prefix = "/build/host_env_placehold_placehold_placehold"

func rules(t *testing.T, mut func(*Rules)) *Rules {
	t.Helper()
	r, err := NewRules(prefix, "", false, nil, false, nil, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if mut != nil {
		mut(r)
	}
	return r
}

func scan(t *testing.T, r *Rules, path string, data []byte, chunk int) (string, Mode) {
	t.Helper()
	s := r.Scan(path)
	if s == nil {
		return "", ""
	}
	for len(data) > 0 {
		n := min(chunk, len(data))
		s.Write(data[:n])
		data = data[n:]
	}
	ph, mode, err := s.Result()
	if err != nil {
		t.Fatal(err)
	}
	return ph, mode
}

func TestDetect(t *testing.T) {
	elf := append([]byte("\x7fELF\x02\x01\x01\x00"), bytes.Repeat([]byte{0}, 40)...)
	tests := []struct {
		name string
		mut  func(*Rules)
		path string
		data []byte
		want string
		mode Mode
	}{
		{"text holding the prefix", nil, "etc/app.env", []byte("ROOT=" + prefix + "/opt/app\n"), prefix, Text},
		{"text without it", nil, "etc/a", []byte("ROOT=/opt/app\n"), "", ""},
		{"a part of the prefix is not the prefix", nil, "etc/a", []byte(prefix[:len(prefix)-1] + "\n"), "", ""},
		{"binary holding it", nil, "lib/a.so", append(append(elf, prefix...), 0), prefix, Binary},
		{"binary beyond the sniffed bytes", nil, "lib/a.so", append(append(append(elf, bytes.Repeat([]byte{1}, 5000)...), prefix...), 0), prefix, Binary},
		{"NUL after the first 1024 bytes is still text", nil, "share/a", append(append([]byte(strings.Repeat("x", 1100)+prefix), 0), 'y'), prefix, Text},
		{"UTF-8 BOM is text", nil, "a.txt", append([]byte{0xef, 0xbb, 0xbf}, prefix...), prefix, Text},
		{"UTF-16 counts as binary", nil, "a.txt", append([]byte{0xff, 0xfe}, prefix...), prefix, Binary},
		{"ignore_binary_files", func(r *Rules) { r.IgnoreBinaryFiles = true }, "lib/a.so", append(append(elf, prefix...), 0), "", ""},
		{"ignore_binary_files keeps text", func(r *Rules) { r.IgnoreBinaryFiles = true }, "bin/x", []byte("#!/bin/sh\n" + prefix + "/bin/x\n"), prefix, Text},
		{"ignore: true", func(r *Rules) { r.Ignore = true }, "etc/a", []byte(prefix), "", ""},
		{"ignore globs", func(r *Rules) { r.IgnoreGlobs = globs(t, "etc/") }, "etc/a", []byte(prefix), "", ""},
		{"ignore globs, other file", func(r *Rules) { r.IgnoreGlobs = globs(t, "etc/") }, "share/a", []byte(prefix), prefix, Text},
		{"Windows targets: no binary placeholders", func(r *Rules) { r.WindowsTarget = true }, "bin/a.dll", append(append(elf, prefix...), 0), "", ""},
		{"Windows targets: text still", func(r *Rules) { r.WindowsTarget = true }, "etc/a.bat", []byte(prefix), prefix, Text},
		{"forced binary text file", func(r *Rules) { r.ForceBinary = globs(t, "*.cfg") }, "etc/a.cfg", []byte(prefix + "\x00"), prefix, Binary},
		{"forced text binary file", func(r *Rules) { r.ForceText = globs(t, "*.dat") }, "share/a.dat", append(append(elf, prefix...), 0), prefix, Text},
		{"forced text binary file, binaries ignored", func(r *Rules) {
			r.ForceText, r.IgnoreBinaryFiles = globs(t, "*.dat"), true
		}, "share/a.dat", append(append(elf, prefix...), 0), "", ""},
	}
	for _, tt := range tests {
		for _, chunk := range []int{1, 7, len(prefix) - 1, 1 << 20} {
			ph, mode := scan(t, rules(t, tt.mut), tt.path, tt.data, chunk)
			if ph != tt.want || mode != tt.mode {
				t.Errorf("%s (chunks of %d): got %q %q, want %q %q", tt.name, chunk, ph, mode, tt.want, tt.mode)
			}
		}
	}
}

func TestSlashPrefix(t *testing.T) {
	win := `C:\b\h_env`
	r := rules(t, func(r *Rules) { r.Prefix, r.SlashPrefix = win, "C:/b/h_env" })
	if ph, mode := scan(t, r, "etc/a.cfg", []byte("root=C:/b/h_env/x"), 4); ph != "C:/b/h_env" || mode != Text {
		t.Errorf("forward slashes: %q %q", ph, mode)
	}
	if ph, _ := scan(t, r, "etc/a.cfg", []byte(`root=C:\b\h_env\x`), 4); ph != win {
		t.Errorf("backslashes: %q", ph)
	}
	s := r.Scan("etc/both.cfg")
	s.Write([]byte(`C:\b\h_env and C:/b/h_env`))
	if _, _, err := s.Result(); err == nil || !strings.Contains(err.Error(), "both with backslashes and with forward slashes") {
		t.Errorf("both forms: %v", err)
	}
}

func globs(t *testing.T, ps ...string) []*globset.Glob {
	t.Helper()
	r, err := NewRules(prefix, "", false, ps, false, nil, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	return r.IgnoreGlobs
}

func FuzzScanner(f *testing.F) {
	f.Add([]byte("x"+prefix+"y"), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		r := rules(t, nil)
		c := int(chunk%64) + 1
		s := r.Scan("a")
		for d := data; len(d) > 0; {
			n := min(c, len(d))
			s.Write(d[:n])
			d = d[n:]
		}
		ph, _, _ := s.Result()
		if (ph != "") != bytes.Contains(data, []byte(prefix)) {
			t.Fatalf("found = %v for %q", ph != "", data)
		}
	})
}
