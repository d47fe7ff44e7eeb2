package channel_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/condachan/condachan/channel"
)

// markNames names settings as <id> and the policy statements as <policy CHANNEL ACCESS>.
type markNames struct{}

func (markNames) Setting(s channel.Setting) string { return "<" + string(s) + ">" }
func (markNames) Policy(ch, access string) string  { return "<policy " + ch + " " + access + ">" }

// A finding's words name settings through a Namer: the library's own words for
// PlainNames, a front end's with Words; Settings lists those named.
func TestCheckWords(t *testing.T) {
	c := channel.Check{Name: "x", Status: channel.CheckFail}.
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
	plain := channel.Check{Name: "y", Detail: "d", Fix: "f"}
	if w := plain.Words(markNames{}); w.Detail != "d" || w.Fix != "f" || w.Settings != nil {
		t.Errorf("a check without settings: %+v", w)
	}
	rep := &channel.Report{Checks: []channel.Check{c, plain}}
	if got := rep.Words(markNames{}); got.Checks[0].Detail != "from <region>" || rep.Checks[0].Detail != "from the region option" {
		t.Errorf("Report.Words: %q, and the report itself became %q", got.Checks[0].Detail, rep.Checks[0].Detail)
	}
}

// settingError is a MessageError that wraps another.
type settingError struct{ err error }

func (e *settingError) Error() string { return e.Message(channel.PlainNames) }
func (e *settingError) Unwrap() error { return e.err }
func (e *settingError) Message(n channel.Namer) string {
	return fmt.Sprintf("check %s: %s", n.Setting(channel.SettingRegion), channel.ErrorIn(e.err, n))
}

func TestErrorIn(t *testing.T) {
	inner := &settingError{errors.New("boom")}
	err := fmt.Errorf("get k: %w", &settingError{fmt.Errorf("dial: %w", inner)})
	if got, want := err.Error(), "get k: check the region option: dial: check the region option: boom"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := channel.ErrorIn(err, markNames{}), "get k: check <region>: dial: check <region>: boom"; got != want {
		t.Errorf("ErrorIn = %q, want %q", got, want)
	}
	joined := errors.Join(errors.New("plain"), inner)
	if got, want := channel.ErrorIn(joined, markNames{}), "plain\ncheck <region>: boom"; got != want {
		t.Errorf("ErrorIn(joined) = %q, want %q", got, want)
	}
	if channel.ErrorIn(nil, markNames{}) != "" {
		t.Error("ErrorIn(nil) is not empty")
	}
}

// The local doctor names the read-only option it skips for and the channel setting a
// file is given as.
func TestDiagnoseLocalSettings(t *testing.T) {
	dir := t.TempDir()
	rep := channel.Diagnose(context.Background(), dir, channel.DiagnoseOptions{ReadOnly: true})
	c, _ := rep.Check("writable")
	if c.Status != channel.CheckSkip || !slices.Equal(c.Settings, []channel.Setting{channel.SettingReadOnly}) || c.DetailIn(markNames{}) != "skipped: <read-only>" {
		t.Errorf("writable: %+v", c)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rep = channel.Diagnose(context.Background(), file, channel.DiagnoseOptions{})
	c, _ = rep.Check("folder")
	if c.Status != channel.CheckFail || !slices.Equal(c.Settings, []channel.Setting{channel.SettingChannel}) || !strings.HasSuffix(c.FixIn(markNames{}), "as <channel>") {
		t.Errorf("folder: %+v", c)
	}
	rep = channel.Diagnose(context.Background(), "ftp://x/y", channel.DiagnoseOptions{})
	if c, _ := rep.Check("channel"); !strings.HasPrefix(c.FixIn(markNames{}), "pass <channel> s3://bucket/prefix") {
		t.Errorf("channel: %+v", c)
	}
}
