package plan

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/condachan/condachan/channel"
)

func TestChannelPath(t *testing.T) {
	// On Windows the path is parsed as a Windows path, and made absolute there.
	if got := ChannelPath(`C:\conda\..\channel`, channel.Location{Dir: `C:\channel`}, true); got != `C:\channel` {
		t.Errorf("on Windows: %q", got)
	}
	if runtime.GOOS == "windows" {
		t.Skip("the rest parses paths as Linux and macOS do")
	}
	cwd, _ := os.Getwd()
	for _, c := range []struct{ raw, want string }{
		{"./relchan", filepath.Join(cwd, "relchan")},
		{"relchan", filepath.Join(cwd, "relchan")},
		{"/srv/conda/../channel", "/srv/channel"},
		{"file:///srv/conda", "file:///srv/conda"},
		// Windows paths given on Linux or macOS, for Windows workers: kept as they are.
		{`C:\conda\channel`, `C:\conda\channel`},
		{`c:/conda/channel`, `c:/conda/channel`},
		{`\\server\share\channel`, `\\server\share\channel`},
		{"//server/share/channel", "//server/share/channel"},
		{"file:///C:/conda", "file:///C:/conda"},
	} {
		loc, err := channel.ParseLocation(c.raw)
		if err != nil {
			t.Fatalf("%s: %v", c.raw, err)
		}
		if got := ChannelPath(c.raw, loc, false); got != c.want {
			t.Errorf("ChannelPath(%q) = %q, want %q", c.raw, got, c.want)
		}
	}
}
