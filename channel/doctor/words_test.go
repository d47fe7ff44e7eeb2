package doctor_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/channel/doctor"
)

// markNames names settings as <id> and the policy statements as <policy CHANNEL ACCESS>.
type markNames struct{}

func (markNames) Setting(s channel.Setting) string { return "<" + string(s) + ">" }
func (markNames) Policy(ch, access string) string  { return "<policy " + ch + " " + access + ">" }

// A finding's words name settings through a Namer: the library's own words for
// PlainNames, a front end's with Words; Settings lists those named.
func TestCheckWords(t *testing.T) {
	c := doctor.Check{Name: "x", Status: doctor.CheckFail}.
		WithDetail(func(n channel.Namer) string { return "from " + n.Setting(channel.SettingRegion) }).
		WithFix(func(n channel.Namer) string {
			return "pass " + n.Setting(channel.SettingEndpoint) + " and " + n.Setting(channel.SettingRegion) + "; " + n.Policy("s3://b/c", "write") + " prints them"
		})
	if c.Detail != "from the region option" || c.Fix != "pass the endpoint URL option and the region option; `condachan policy` for write access prints them" {
		t.Errorf("own words: %q / %q", c.Detail, c.Fix)
	}
	if !slices.Equal(c.Settings, []channel.Setting{channel.SettingRegion, channel.SettingEndpoint}) {
		t.Errorf("settings %q", c.Settings)
	}
	w := c.Words(markNames{})
	if w.Detail != "from <region>" || w.Fix != "pass <endpoint-url> and <region>; <policy s3://b/c write> prints them" {
		t.Errorf("named: %q / %q", w.Detail, w.Fix)
	}
	if again := w.Words(channel.PlainNames); again.Detail != w.Detail {
		t.Errorf("a worded check was worded again: %q", again.Detail)
	}
	plain := doctor.Check{Name: "y", Detail: "d", Fix: "f"}
	if w := plain.Words(markNames{}); w.Detail != "d" || w.Fix != "f" || w.Settings != nil {
		t.Errorf("a check without settings: %+v", w)
	}
	rep := &doctor.Report{Checks: []doctor.Check{c, plain}}
	if got := rep.Words(markNames{}); got.Checks[0].Detail != "from <region>" || rep.Checks[0].Detail != "from the region option" {
		t.Errorf("Report.Words: %q, and the report itself became %q", got.Checks[0].Detail, rep.Checks[0].Detail)
	}
}

// The local doctor names the read-only option it skips for and the channel setting a
// file is given as.
func TestDiagnoseLocalSettings(t *testing.T) {
	dir := t.TempDir()
	rep := doctor.Diagnose(context.Background(), dir, doctor.Options{ReadOnly: true})
	c, _ := rep.Check("writable")
	if c.Status != doctor.CheckSkip || !slices.Equal(c.Settings, []channel.Setting{channel.SettingReadOnly}) || c.DetailIn(markNames{}) != "skipped: <read-only>" {
		t.Errorf("writable: %+v", c)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rep = doctor.Diagnose(context.Background(), file, doctor.Options{})
	c, _ = rep.Check("folder")
	if c.Status != doctor.CheckFail || !slices.Equal(c.Settings, []channel.Setting{channel.SettingChannel}) || !strings.HasSuffix(c.FixIn(markNames{}), "as <channel>") {
		t.Errorf("folder: %+v", c)
	}
	rep = doctor.Diagnose(context.Background(), "ftp://x/y", doctor.Options{})
	if c, _ := rep.Check("channel"); !strings.HasPrefix(c.FixIn(markNames{}), "pass <channel> s3://bucket/prefix") {
		t.Errorf("channel: %+v", c)
	}
}
