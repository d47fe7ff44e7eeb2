package channel

import "strings"

// Setting is an option of a channel, or of the doctor (channel/doctor), that a finding or
// an error can name: one to change, or the one a value came from. Its value is a stable
// identifier; String is how the library's own words name it.
type Setting string

const (
	SettingChannel       Setting = "channel"               // the channel's location
	SettingReadOnly      Setting = "read-only"             // doctor.Options.ReadOnly
	SettingRegion        Setting = "region"                // the S3 region
	SettingEndpoint      Setting = "endpoint-url"          // the S3 endpoint URL
	SettingPathStyle     Setting = "path-style"            // path-style S3 addressing
	SettingProfile       Setting = "profile"               // the AWS shared-config profile
	SettingExpectedOwner Setting = "expected-bucket-owner" // the account expected to own the bucket
)

// String names the setting in the library's words.
func (s Setting) String() string {
	switch s {
	case SettingChannel:
		return "the channel URL"
	case SettingReadOnly:
		return "the read-only option"
	case SettingRegion:
		return "the region option"
	case SettingEndpoint:
		return "the endpoint URL option"
	case SettingPathStyle:
		return "the path-style option"
	case SettingProfile:
		return "the profile option"
	case SettingExpectedOwner:
		return "the expected bucket owner option"
	}
	return string(s)
}

// Namer names what findings and errors ask their user to set or run, as a front end's
// user does it.
type Namer interface {
	// Setting names a setting (the CLI: its flag).
	Setting(s Setting) string
	// Policy names the way to print the IAM policy statements that give access
	// ("read", "write" or "read|write") to channel ("" when the words are not about one
	// channel).
	Policy(channel, access string) string
}

// PlainNames is the library's own Namer: Setting.String, and `condachan policy` for the
// policy statements.
var PlainNames Namer = plainNames{}

type plainNames struct{}

func (plainNames) Setting(s Setting) string { return s.String() }
func (plainNames) Policy(_, access string) string {
	return "`condachan policy` for " + access + " access"
}

// MessageError is an error whose message names settings: Error uses PlainNames,
// Message the names n gives.
type MessageError interface {
	error
	Message(n Namer) string
}

// ErrorIn is err's message with every MessageError in it (errors.Unwrap's tree) worded
// with n's names.
func ErrorIn(err error, n Namer) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	var walk func(error)
	walk = func(e error) {
		if me, ok := e.(MessageError); ok {
			if own := me.Error(); own != "" {
				msg = strings.ReplaceAll(msg, own, me.Message(n))
			}
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			if inner := u.Unwrap(); inner != nil {
				walk(inner)
			}
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				if inner != nil {
					walk(inner)
				}
			}
		}
	}
	walk(err)
	return msg
}
