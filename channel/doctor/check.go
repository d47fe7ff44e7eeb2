package doctor

import (
	"slices"

	"github.com/condachan/condachan/channel"
)

// CheckStatus is the outcome of one check.
type CheckStatus string

const (
	CheckPass CheckStatus = "pass"
	CheckWarn CheckStatus = "warn" // works, but worth knowing
	CheckFail CheckStatus = "fail" // condachan will fail, or cannot keep its guarantees
	CheckSkip CheckStatus = "skip" // not run: it does not apply, or an earlier check failed
)

// Check is one finding of Diagnose. Name is a stable identifier (scripts match on it).
//
// Detail and Fix are in the library's own words. Where they name a setting (an option
// of the channel or of Diagnose, the region say) or a command, they were worded through
// a channel.Namer, and Words words them again with a front end's names (the CLI's
// flags); Settings lists the settings they name.
type Check struct {
	Name   string      `json:"name"`
	Status CheckStatus `json:"status"`
	Detail string      `json:"detail"`
	Fix    string      `json:"fix,omitempty"`
	// Settings are the settings Detail and Fix name: what the fix asks to change, or
	// where a value came from.
	Settings []channel.Setting `json:"settings,omitempty"`

	detail, fix func(channel.Namer) string
}

// WithDetail returns c with its Detail worded by detail, which names every setting and
// command through the Namer it is given (Detail is its words for channel.PlainNames).
func (c Check) WithDetail(detail func(channel.Namer) string) Check {
	c.detail = detail
	return c.named()
}

// WithFix returns c with its Fix worded by fix, as WithDetail does for Detail.
func (c Check) WithFix(fix func(channel.Namer) string) Check {
	c.fix = fix
	return c.named()
}

// DetailIn and FixIn are Detail and Fix worded with n's names.
func (c Check) DetailIn(n channel.Namer) string {
	if c.detail == nil {
		return c.Detail
	}
	return c.detail(n)
}

func (c Check) FixIn(n channel.Namer) string {
	if c.fix == nil {
		return c.Fix
	}
	return c.fix(n)
}

// Words returns c with Detail and Fix worded with n's names.
func (c Check) Words(n channel.Namer) Check {
	c.Detail, c.Fix = c.DetailIn(n), c.FixIn(n)
	c.detail, c.fix = nil, nil
	return c
}

// named sets Detail, Fix and Settings from the wording functions.
func (c Check) named() Check {
	rec := &recordNames{}
	c.DetailIn(rec)
	c.FixIn(rec)
	c.Settings = rec.settings
	c.Detail, c.Fix = c.DetailIn(channel.PlainNames), c.FixIn(channel.PlainNames)
	return c
}

// recordNames is a channel.Namer that notes the settings asked for.
type recordNames struct{ settings []channel.Setting }

func (r *recordNames) Setting(s channel.Setting) string {
	if !slices.Contains(r.settings, s) {
		r.settings = append(r.settings, s)
	}
	return s.String()
}

func (r *recordNames) Policy(ch, access string) string {
	return channel.PlainNames.Policy(ch, access)
}
