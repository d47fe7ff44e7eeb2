package iampolicy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/condachan/condachan/iampolicy"
)

func generate(t *testing.T, req iampolicy.Request) *iampolicy.Policy {
	t.Helper()
	p, err := iampolicy.Generate(req)
	if err != nil {
		t.Fatalf("Generate(%+v): %v", req, err)
	}
	return p
}

// actions maps each allowed action of a document to the resources it is allowed on.
func actions(doc iampolicy.Document) map[string][]string {
	m := map[string][]string{}
	for _, s := range doc.Statement {
		if s.Effect != "Allow" {
			continue
		}
		for _, a := range s.Action {
			m[a] = append(m[a], s.Resource...)
		}
	}
	return m
}

func sortedKeys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func notesText(p *iampolicy.Policy) string {
	var b strings.Builder
	for _, n := range p.Notes {
		b.WriteString(n.Text + "\n")
	}
	return b.String()
}

func TestRead(t *testing.T) {
	p := generate(t, iampolicy.Request{Bucket: "studio-bucket", Prefix: "Conda/Default", Access: iampolicy.Read})
	if p.Channel != "s3://studio-bucket/Conda/Default" || p.Access != iampolicy.Read || p.IdentityPolicy.Version != "2012-10-17" || p.BucketPolicy != nil || p.Account != "" {
		t.Errorf("policy %+v", p)
	}
	acts := actions(p.IdentityPolicy)
	if got := sortedKeys(acts); !slices.Equal(got, []string{"s3:GetObject", "s3:ListBucket"}) {
		t.Errorf("read actions %q", got)
	}
	if !slices.Equal(acts["s3:GetObject"], []string{"arn:aws:s3:::studio-bucket/Conda/Default/*"}) {
		t.Errorf("GetObject on %q", acts["s3:GetObject"])
	}
	if !slices.Equal(acts["s3:ListBucket"], []string{"arn:aws:s3:::studio-bucket"}) {
		t.Errorf("ListBucket on %q", acts["s3:ListBucket"])
	}
	for _, s := range p.IdentityPolicy.Statement {
		if slices.Contains(s.Action, "s3:ListBucket") {
			got := slices.Clone(s.Condition["StringLike"]["s3:prefix"].([]string))
			slices.Sort(got)
			if !slices.Equal(got, []string{"Conda/Default/", "Conda/Default/*"}) {
				t.Errorf("ListBucket condition %v", s.Condition)
			}
		}
	}
	for _, topic := range []iampolicy.Topic{iampolicy.TopicConditionalWrites, iampolicy.TopicMultipartUploads, iampolicy.TopicGetBucketLocation, iampolicy.TopicResourceAccount, iampolicy.TopicBucketPolicy} {
		if slices.ContainsFunc(p.Notes, func(n iampolicy.Note) bool { return n.Topic == topic }) {
			t.Errorf("read policy has a %s note", topic)
		}
	}
}

func TestWrite(t *testing.T) {
	p := generate(t, iampolicy.Request{Bucket: "studio-bucket", Prefix: "Conda/Default", Access: iampolicy.Write})
	acts := actions(p.IdentityPolicy)
	want := []string{"s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:PutObject"}
	if got := sortedKeys(acts); !slices.Equal(got, want) {
		t.Errorf("write actions %q, want %q", got, want)
	}
	for _, a := range []string{"s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:GetObject"} {
		if !slices.Equal(acts[a], []string{"arn:aws:s3:::studio-bucket/Conda/Default/*"}) {
			t.Errorf("%s on %q", a, acts[a])
		}
	}
	if !slices.Equal(acts["s3:GetBucketLocation"], []string{"arn:aws:s3:::studio-bucket"}) {
		t.Errorf("GetBucketLocation on %q", acts["s3:GetBucketLocation"])
	}
	// Index runs abort the uploads of killed publishers: they list them bucket-wide, since
	// s3:ListBucketMultipartUploads has no s3:prefix condition key (a condition on it
	// would deny every listing).
	if !slices.Equal(acts["s3:ListBucketMultipartUploads"], []string{"arn:aws:s3:::studio-bucket"}) {
		t.Errorf("ListBucketMultipartUploads on %q", acts["s3:ListBucketMultipartUploads"])
	}
	for _, s := range p.IdentityPolicy.Statement {
		if slices.Contains(s.Action, "s3:ListBucketMultipartUploads") {
			if slices.Contains(s.Action, "s3:ListBucket") || s.Condition != nil {
				t.Errorf("ListBucketMultipartUploads shares a statement with ListBucket or has a condition: %+v", s)
			}
		}
	}
	notes := notesText(p)
	if !strings.Contains(notes, "s3:ListMultipartUploadParts is not granted") {
		t.Error("notes do not say why ListMultipartUploadParts is left out")
	}
	if !strings.Contains(notes, "s3:ListBucketMultipartUploads") || !strings.Contains(notes, "cannot limit s3:ListBucketMultipartUploads to a prefix") {
		t.Errorf("notes do not explain s3:ListBucketMultipartUploads:\n%s", notes)
	}
	if strings.Contains(notes, "never lists parts or uploads") {
		t.Error("notes still say condachan never lists uploads")
	}
}

func TestWholeBucket(t *testing.T) {
	p := generate(t, iampolicy.Request{Bucket: "studio-bucket", Access: iampolicy.Write, BucketPolicy: true})
	if p.Channel != "s3://studio-bucket" {
		t.Errorf("channel %q", p.Channel)
	}
	acts := actions(p.IdentityPolicy)
	if !slices.Equal(acts["s3:GetObject"], []string{"arn:aws:s3:::studio-bucket/*"}) {
		t.Errorf("GetObject on %q", acts["s3:GetObject"])
	}
	for _, s := range p.IdentityPolicy.Statement {
		if s.Condition != nil {
			t.Errorf("statement %s has a condition without a prefix or account: %v", s.Sid, s.Condition)
		}
	}
	if del := p.BucketPolicy.Statement[1]; !slices.Equal(del.Resource, []string{"arn:aws:s3:::studio-bucket/.condachan/lock.json"}) {
		t.Errorf("lease resource %q", del.Resource)
	}
}

func TestAccount(t *testing.T) {
	for _, access := range []iampolicy.Access{iampolicy.Read, iampolicy.Write} {
		p := generate(t, iampolicy.Request{Bucket: "studio-bucket", Prefix: "Conda", Access: access, Account: "111122223333"})
		if p.Account != "111122223333" {
			t.Errorf("account %q", p.Account)
		}
		for _, s := range p.IdentityPolicy.Statement {
			if s.Condition["StringEquals"]["s3:ResourceAccount"] != "111122223333" {
				t.Errorf("%s: statement %s lacks the account condition: %v", access, s.Sid, s.Condition)
			}
		}
		i := slices.IndexFunc(p.Notes, func(n iampolicy.Note) bool { return n.Topic == iampolicy.TopicResourceAccount })
		if i < 0 || !strings.Contains(p.Notes[i].Text, "111122223333") {
			t.Errorf("%s: notes %+v", access, p.Notes)
		}
	}
}

func TestBucketPolicyRequiresConditionalWrites(t *testing.T) {
	p := generate(t, iampolicy.Request{Bucket: "studio-bucket", Prefix: "Conda", Access: iampolicy.Write, BucketPolicy: true})
	bp := p.BucketPolicy
	if bp == nil || bp.Version != "2012-10-17" || len(bp.Statement) != 2 {
		t.Fatalf("bucket policy %+v", bp)
	}
	put, del := bp.Statement[0], bp.Statement[1]
	if put.Effect != "Deny" || put.Principal != "*" || !slices.Equal(put.Action, []string{"s3:PutObject"}) {
		t.Errorf("put statement %+v", put)
	}
	for _, want := range []string{"*/repodata.json", "*/repodata.json.zst", "*/repodata_shards.msgpack.zst", "*/shards/*", "*/run_exports.json", "*/patch_instructions.json", "*/index.html", "channeldata.json", "index.html", ".condachan/*"} {
		if !slices.Contains(put.Resource, "arn:aws:s3:::studio-bucket/Conda/"+want) {
			t.Errorf("put resources %q lack %s", put.Resource, want)
		}
	}
	if put.Condition["Null"]["s3:if-none-match"] != "true" || put.Condition["Null"]["s3:if-match"] != "true" || put.Condition["Bool"]["s3:ObjectCreationOperation"] != "true" {
		t.Errorf("put condition %v", put.Condition)
	}
	if del.Effect != "Deny" || !slices.Equal(del.Action, []string{"s3:DeleteObject"}) || !slices.Equal(del.Resource, []string{"arn:aws:s3:::studio-bucket/Conda/.condachan/lock.json"}) || del.Condition["Null"]["s3:if-match"] != "true" {
		t.Errorf("delete statement %+v", del)
	}
	last := p.Notes[len(p.Notes)-1]
	if last.Topic != iampolicy.TopicBucketPolicy || !strings.Contains(last.Text, "Conda/.condachan/*") || !strings.Contains(last.Text, "Conda/.condachan/lock.json") {
		t.Errorf("bucket policy note %+v", last)
	}
}

// The documents marshal with the fields in the order AWS shows them, and without the
// optional fields when they are empty.
func TestDocumentJSON(t *testing.T) {
	p := generate(t, iampolicy.Request{Bucket: "studio-bucket", Access: iampolicy.Read})
	b, err := json.Marshal(p.IdentityPolicy.Statement[1])
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"Sid":"CondachanReadChannel","Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::studio-bucket/*"]}`; string(b) != want {
		t.Errorf("statement JSON\n%s\nwant\n%s", b, want)
	}
}

// Notes are full sentences (a front end may extend the last one) and name no
// command-line flag: a front end adds its own. Every topic appears at most once.
func TestNotes(t *testing.T) {
	flag := regexp.MustCompile(`--[a-z]`)
	for _, access := range []iampolicy.Access{iampolicy.Read, iampolicy.Write} {
		for _, account := range []string{"", "111122223333"} {
			for _, bp := range []bool{false, true} {
				req := iampolicy.Request{Bucket: "studio-bucket", Prefix: "Conda/Default", Access: access, Account: account, BucketPolicy: bp}
				p := generate(t, req)
				seen := map[iampolicy.Topic]bool{}
				for _, n := range p.Notes {
					if n.Topic == "" || seen[n.Topic] {
						t.Errorf("%+v: topic %q missing or repeated", req, n.Topic)
					}
					seen[n.Topic] = true
					if !strings.HasSuffix(n.Text, ".") {
						t.Errorf("%+v: note %s does not end with a period: %q", req, n.Topic, n.Text)
					}
					if flag.MatchString(n.Text) {
						t.Errorf("%+v: note %s names a flag: %q", req, n.Topic, n.Text)
					}
				}
				for topic, want := range map[iampolicy.Topic]bool{
					iampolicy.TopicListBucketLimit:   true,
					iampolicy.TopicRegion:            true,
					iampolicy.TopicKMS:               true,
					iampolicy.TopicConditionalWrites: access == iampolicy.Write,
					iampolicy.TopicMultipartUploads:  access == iampolicy.Write,
					iampolicy.TopicGetBucketLocation: access == iampolicy.Write,
					iampolicy.TopicResourceAccount:   account != "",
					iampolicy.TopicBucketPolicy:      bp,
				} {
					if seen[topic] != want {
						t.Errorf("%+v: note %s present %v, want %v", req, topic, seen[topic], want)
					}
				}
			}
		}
	}
}

func TestInvalidRequest(t *testing.T) {
	for _, c := range []struct {
		req   iampolicy.Request
		field iampolicy.Field
		value string
	}{
		{iampolicy.Request{Access: iampolicy.Read}, iampolicy.FieldBucket, ""},
		{iampolicy.Request{Bucket: "Studio_Bucket", Access: iampolicy.Read}, iampolicy.FieldBucket, "Studio_Bucket"},
		{iampolicy.Request{Bucket: "studio-*", Access: iampolicy.Read}, iampolicy.FieldBucket, "studio-*"},
		{iampolicy.Request{Bucket: "studio-bucket", Prefix: "Co*nda", Access: iampolicy.Read}, iampolicy.FieldPrefix, "Co*nda"},
		{iampolicy.Request{Bucket: "studio-bucket", Prefix: "Conda?", Access: iampolicy.Read}, iampolicy.FieldPrefix, "Conda?"},
		{iampolicy.Request{Bucket: "studio-bucket", Prefix: "${aws:username}", Access: iampolicy.Read}, iampolicy.FieldPrefix, "${aws:username}"},
		{iampolicy.Request{Bucket: "studio-bucket", Prefix: "/Conda", Access: iampolicy.Read}, iampolicy.FieldPrefix, "/Conda"},
		{iampolicy.Request{Bucket: "studio-bucket", Prefix: "Conda/", Access: iampolicy.Read}, iampolicy.FieldPrefix, "Conda/"},
		{iampolicy.Request{Bucket: "studio-bucket", Prefix: "a//b", Access: iampolicy.Read}, iampolicy.FieldPrefix, "a//b"},
		{iampolicy.Request{Bucket: "studio-bucket", Prefix: "a/../b", Access: iampolicy.Read}, iampolicy.FieldPrefix, "a/../b"},
		{iampolicy.Request{Bucket: "studio-bucket", Prefix: "Conda"}, iampolicy.FieldAccess, ""},
		{iampolicy.Request{Bucket: "studio-bucket", Prefix: "Conda", Access: "admin"}, iampolicy.FieldAccess, "admin"},
		{iampolicy.Request{Bucket: "studio-bucket", Prefix: "Conda", Access: "READ"}, iampolicy.FieldAccess, "READ"},
		{iampolicy.Request{Bucket: "studio-bucket", Prefix: "Conda", Access: iampolicy.Read, Account: "12345"}, iampolicy.FieldAccount, "12345"},
		{iampolicy.Request{Bucket: "studio-bucket", Prefix: "Conda", Access: iampolicy.Read, Account: "11112222333a"}, iampolicy.FieldAccount, "11112222333a"},
	} {
		p, err := iampolicy.Generate(c.req)
		var inv *iampolicy.InvalidRequestError
		if !errors.As(err, &inv) || p != nil {
			t.Errorf("%+v: %v, %v; want an *InvalidRequestError", c.req, p, err)
			continue
		}
		if inv.Field != c.field || inv.Value != c.value || inv.Reason == "" {
			t.Errorf("%+v: %#v, want field %s value %q", c.req, inv, c.field, c.value)
		}
		if c.req.Validate() == nil {
			t.Errorf("%+v: Validate accepts what Generate refuses", c.req)
		}
		if msg := err.Error(); strings.Contains(msg, "--") || !strings.HasPrefix(msg, string(c.field)+" ") {
			t.Errorf("%+v: message %q", c.req, msg)
		}
	}
	err := (&iampolicy.InvalidRequestError{Field: iampolicy.FieldAccount, Value: "12345", Reason: "an AWS account id is 12 digits"}).Error()
	if want := `account "12345": an AWS account id is 12 digits`; err != want {
		t.Errorf("message %q, want %q", err, want)
	}
	err = (&iampolicy.InvalidRequestError{Field: iampolicy.FieldAccess, Reason: "read or write"}).Error()
	if want := `access is required: read or write`; err != want {
		t.Errorf("message %q, want %q", err, want)
	}
}

// A policy marshals as condachan prints it: channel, access, identity_policy, the
// bucket_policy only when asked for, and the notes' texts in order.
func TestPolicyJSON(t *testing.T) {
	for _, withBucket := range []bool{false, true} {
		p, err := iampolicy.Generate(iampolicy.Request{Bucket: "studio-bucket", Prefix: "Conda", Access: iampolicy.Write, BucketPolicy: withBucket})
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.Token()
		for dec.More() {
			k, _ := dec.Token()
			keys = append(keys, k.(string))
			var skip json.RawMessage
			dec.Decode(&skip)
		}
		want := []string{"channel", "access", "identity_policy", "notes"}
		if withBucket {
			want = []string{"channel", "access", "identity_policy", "bucket_policy", "notes"}
		}
		if !slices.Equal(keys, want) {
			t.Errorf("bucket policy %v: keys %v, want %v", withBucket, keys, want)
		}
		var out struct {
			Channel string   `json:"channel"`
			Notes   []string `json:"notes"`
		}
		json.Unmarshal(b, &out)
		if out.Channel != "s3://studio-bucket/Conda" || len(out.Notes) != len(p.Notes) || out.Notes[0] != p.Notes[0].Text {
			t.Errorf("bucket policy %v: %s", withBucket, b)
		}
	}
}
