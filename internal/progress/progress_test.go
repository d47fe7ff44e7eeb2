package progress

import (
	"bytes"
	"strings"
	"testing"
)

func TestOpenJDLines(t *testing.T) {
	var out bytes.Buffer
	r := New(ModeOpenJD, &out, &bytes.Buffer{})
	r.Status("packing blender-4.1.1-linux-x64.tar.xz\nsecond line")
	for _, done := range []int64{0, 10, 10, 505, 999, 1000} {
		r.Update(done, 1000)
	}
	r.Update(5, 0) // unknown total: nothing
	r.Finish()
	want := "openjd_status: packing blender-4.1.1-linux-x64.tar.xz second line\n" +
		"openjd_progress: 0\nopenjd_progress: 1\nopenjd_progress: 50\nopenjd_progress: 99\nopenjd_progress: 100\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestModes(t *testing.T) {
	for _, c := range []struct {
		in   string
		ok   bool
		mode Mode
	}{{"", true, ModeAuto}, {"auto", true, ModeAuto}, {"openjd", true, ModeOpenJD}, {"bar", true, ModeBar}, {"none", true, ModeNone}, {"fancy", false, ""}} {
		m, err := ParseMode(c.in)
		if (err == nil) != c.ok || m != c.mode {
			t.Errorf("%q: %v %v", c.in, m, err)
		}
	}
	// auto on something that is not a terminal shows nothing.
	if _, ok := New(ModeAuto, &bytes.Buffer{}, &bytes.Buffer{}).(Nop); !ok {
		t.Error("auto mode on a buffer is not silent")
	}
	var errb bytes.Buffer
	b := New(ModeBar, &bytes.Buffer{}, &errb)
	b.Status("x")
	b.Update(512, 1024)
	b.Finish()
	if !strings.Contains(errb.String(), "50%") || !strings.Contains(errb.String(), "512 B/1.0 KiB") {
		t.Errorf("bar: %q", errb.String())
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 243926041: "232.6 MiB", 5 << 30: "5.0 GiB"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("%d: %s, want %s", n, got, want)
		}
	}
}
