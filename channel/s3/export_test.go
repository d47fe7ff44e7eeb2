package s3store

import "github.com/condachan/condachan/channel"

// SetUploadsPage makes a store list multipart uploads n at a time, so that tests reach
// the listing's pagination with a few uploads.
func SetUploadsPage(s *Store, n int32) { s.uploadsPage = n }

// MarkNames names every setting as <id> (<region>, <endpoint-url>) and the policy
// statements as <policy CHANNEL ACCESS>: tests find in a finding's words where it names
// them.
var MarkNames channel.Namer = markNames{}

type markNames struct{}

func (markNames) Setting(s channel.Setting) string { return "<" + string(s) + ">" }
func (markNames) Policy(ch, access string) string  { return "<policy " + ch + " " + access + ">" }
