package input

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

type typed struct{ name string }

func (e *typed) Error() string { return "bad " + e.name }

func TestMark(t *testing.T) {
	if Mark(nil) != nil {
		t.Fatal("Mark(nil) is not nil")
	}
	base := &typed{"recipe"}
	tests := []struct {
		name string
		err  error
		msg  string
	}{
		{"typed", Mark(base), "bad recipe"},
		{"wrapped after", fmt.Errorf("build: %w", Mark(base)), "build: bad recipe"},
		{"wrapped before", Mark(fmt.Errorf("build: %w", base)), "build: bad recipe"},
		{"twice", Mark(Mark(base)), "bad recipe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.msg {
				t.Errorf("message %q, want %q", got, tt.msg)
			}
			if !errors.Is(tt.err, ErrInvalid) {
				t.Error("not ErrInvalid")
			}
			var as *typed
			if !errors.As(tt.err, &as) || as != base {
				t.Error("errors.As does not find the marked error")
			}
		})
	}
	if m := Mark(Mark(base)); m.(*marked).err != base {
		t.Error("marking a marked error wrapped it again")
	}
	if errors.Is(base, ErrInvalid) || errors.Is(fs.ErrNotExist, ErrInvalid) {
		t.Error("an unmarked error matches ErrInvalid")
	}
	if !errors.Is(Mark(fs.ErrNotExist), fs.ErrNotExist) {
		t.Error("a marked error no longer matches what it wraps")
	}
}
