package channel_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/condachan/condachan/channel"
)

// markNames names settings as <id> and the policy statements as <policy CHANNEL ACCESS>.
type markNames struct{}

func (markNames) Setting(s channel.Setting) string { return "<" + string(s) + ">" }
func (markNames) Policy(ch, access string) string  { return "<policy " + ch + " " + access + ">" }

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
