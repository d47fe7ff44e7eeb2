package install

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

const ph = "/b/host_env_placehold_placehold_placehold"

func TestReplaceText(t *testing.T) {
	tests := []struct {
		name, in, prefix, want string
		windows                bool
	}{
		{"every occurrence", "A=" + ph + "/a\nB=" + ph + "\n", "/opt/env", "A=/opt/env/a\nB=/opt/env\n", false},
		{"short shebang", "#!" + ph + "/bin/python -u\nimport x\n", "/opt/env", "#!/opt/env/bin/python -u\nimport x\n", false},
		{"long shebang becomes env", "#!" + ph + "/bin/python -u\nx\n", "/" + strings.Repeat("p", 130), "#!/usr/bin/env python -u\nx\n", false},
		{"a space in the prefix becomes env", "#!" + ph + "/bin/perl\nprint " + ph + "\n", "/opt/my env", "#!/usr/bin/env perl\nprint /opt/my env\n", false},
		{"windows: forward slashes, no shebang rewrite", "root=" + ph + "\n", `C:\envs\app`, "root=C:/envs/app\n", true},
		{"utf-16 text", string(encodeUTF16("x="+ph, false)), "/n", string(encodeUTF16("x=/n", false)), false},
		{"no placeholder", "nothing here\n", "/n", "nothing here\n", false},
	}
	for _, tt := range tests {
		got, err := Replace([]byte(tt.in), ph, tt.prefix, Text, tt.windows)
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: got %q (%v), want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestReplaceBinary(t *testing.T) {
	in := []byte("\x7fELF\x00" + ph + "/lib:" + ph + "/x\x00tail" + ph)
	got, err := Replace(in, ph, "/n", Binary, false)
	if err != nil {
		t.Fatal(err)
	}
	pad := 2 * (len(ph) - len("/n"))
	want := []byte("\x7fELF\x00/n/lib:/n/x\x00" + string(make([]byte, pad)) + "tail" + ph)
	if !bytes.Equal(got, want) || len(got) != len(in) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if _, err := Replace(in, ph, "/"+strings.Repeat("l", len(ph)), Binary, false); !errors.As(err, new(*PaddingError)) {
		t.Errorf("longer prefix: %v, want a PaddingError", err)
	}
	if got, _ := Replace(in, ph, "/n", Binary, true); !bytes.Equal(got, in) {
		t.Error("a Windows package's binary file was changed")
	}
	if _, err := Replace(in, ph, "/n", "odd", false); err == nil {
		t.Error("unknown mode accepted")
	}
}

func FuzzReplace(f *testing.F) {
	f.Add([]byte("a"+ph+"\x00b"), "/new", true)
	f.Add([]byte("#!"+ph+"/bin/x\n"+ph), "/a b", false)
	f.Fuzz(func(t *testing.T, data []byte, prefix string, binary bool) {
		mode := Text
		if binary {
			mode = Binary
		}
		out, err := Replace(data, ph, prefix, mode, false)
		if err != nil {
			return
		}
		if binary && len(out) != len(data) {
			t.Fatalf("binary replacement changed the length: %d -> %d", len(data), len(out))
		}
		if !bytes.Contains(data, []byte(ph)) && !bytes.Equal(out, data) && !binary && !bytes.HasPrefix(data, []byte("#!")) {
			t.Fatalf("a file without the placeholder changed")
		}
	})
}
