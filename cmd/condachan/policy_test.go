package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/condachan/condachan/iampolicy"
)

// policyJSON is the output, parsed generically: Action, Resource and Condition values may
// be strings or lists in IAM documents, so the checks accept both.
type policyJSON struct {
	Channel        string         `json:"channel"`
	Access         string         `json:"access"`
	IdentityPolicy policyDocJSON  `json:"identity_policy"`
	BucketPolicy   *policyDocJSON `json:"bucket_policy"`
	Notes          []string       `json:"notes"`
}

type policyDocJSON struct {
	Version   string `json:"Version"`
	Statement []struct {
		Sid       string                    `json:"Sid"`
		Effect    string                    `json:"Effect"`
		Principal any                       `json:"Principal"`
		Action    any                       `json:"Action"`
		Resource  any                       `json:"Resource"`
		Condition map[string]map[string]any `json:"Condition"`
	} `json:"Statement"`
}

func policyStrs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, x.(string))
		}
		return out
	}
	return nil
}

func policyCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out bytes.Buffer
	code, stderr := runSubcommand(t, newPolicyCommand(&out), append([]string{"policy"}, args...)...)
	return code, out.String(), stderr
}

func getPolicy(t *testing.T, args ...string) (policyJSON, string) {
	t.Helper()
	code, stdout, stderr := policyCLI(t, args...)
	if code != 0 {
		t.Fatalf("policy %q: exit %d: %s", args, code, stderr)
	}
	var p policyJSON
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("policy %q: output is not the expected JSON: %v\n%s", args, err, stdout)
	}
	return p, stdout
}

// actions maps each allowed action of a policy to the resources it is allowed on.
func policyActions(doc policyDocJSON) map[string][]string {
	m := map[string][]string{}
	for _, s := range doc.Statement {
		if s.Effect != "Allow" {
			continue
		}
		for _, a := range policyStrs(s.Action) {
			m[a] = append(m[a], policyStrs(s.Resource)...)
		}
	}
	return m
}

// Whatever the options, the policies name only the given bucket and prefix, grant no
// wildcard action, and read grants nothing that writes.
func TestPolicyOnlyNamesTheChannel(t *testing.T) {
	for _, c := range []struct {
		url, prefix string // prefix as it appears in ARNs ("" for the whole bucket)
	}{
		{"s3://studio-bucket/Conda/Default", "Conda/Default/"},
		{"s3://studio-bucket/Conda/Default/", "Conda/Default/"}, // trailing slash
		{"s3://studio-bucket//Conda//", "Conda/"},               // outer slashes dropped
		{"s3://studio-bucket/a/b/c/d", "a/b/c/d/"},              // nested
		{"s3://studio-bucket", ""},                              // whole bucket
		{"s3://studio-bucket/", ""},
		{"S3://studio-bucket/Conda", "Conda/"},
		{"s3://my.dotted-bucket/Conda", "Conda/"},
	} {
		for _, access := range []string{"read", "write"} {
			args := []string{"--channel", c.url, "--access", access, "--account", "111122223333", "--bucket-policy"}
			code, stdout, stderr := policyCLI(t, args...)
			if code != 0 {
				t.Fatalf("%q: exit %d: %s", args, code, stderr)
			}
			var p policyJSON
			if err := json.Unmarshal([]byte(stdout), &p); err != nil {
				t.Fatalf("%q: %v", args, err)
			}
			bucket := strings.SplitN(strings.TrimPrefix(strings.ToLower(c.url), "s3://"), "/", 2)[0]
			bucketARN := "arn:aws:s3:::" + bucket
			docs := []policyDocJSON{p.IdentityPolicy}
			if p.BucketPolicy == nil {
				t.Fatalf("%q: no bucket policy", args)
			}
			docs = append(docs, *p.BucketPolicy)
			for _, doc := range docs {
				for _, s := range doc.Statement {
					for _, r := range policyStrs(s.Resource) {
						if r != bucketARN && !strings.HasPrefix(r, bucketARN+"/"+c.prefix) {
							t.Errorf("%q: resource %s outside the channel", args, r)
						}
					}
					for _, a := range policyStrs(s.Action) {
						if strings.Contains(a, "*") || !strings.HasPrefix(a, "s3:") {
							t.Errorf("%q: wildcard or foreign action %s", args, a)
						}
					}
					if doc.Version != "2012-10-17" || s.Sid == "" || strings.Trim(s.Sid, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
						t.Errorf("%q: statement %q / version %q", args, s.Sid, doc.Version)
					}
				}
			}
			acts := policyActions(p.IdentityPolicy)
			if access == "read" {
				for a := range acts {
					if strings.Contains(a, "Put") || strings.Contains(a, "Delete") || strings.Contains(a, "Abort") || strings.Contains(a, "Multipart") {
						t.Errorf("%q: read grants %s", args, a)
					}
				}
			}
			for _, s := range p.IdentityPolicy.Statement {
				if s.Condition["StringEquals"]["s3:ResourceAccount"] != "111122223333" {
					t.Errorf("%q: statement %s lacks the account condition: %v", args, s.Sid, s.Condition)
				}
				if slices.Contains(policyStrs(s.Action), "s3:ListBucket") {
					_, limited := s.Condition["StringLike"]
					if limited != (c.prefix != "") {
						t.Errorf("%q: ListBucket condition %v", args, s.Condition)
					}
				}
				if slices.Contains(policyStrs(s.Action), "s3:ListBucketMultipartUploads") {
					if _, limited := s.Condition["StringLike"]; limited {
						t.Errorf("%q: ListBucketMultipartUploads has an s3:prefix condition, which IAM never matches for it: %v", args, s.Condition)
					}
				}
			}
		}
	}
}

func TestPolicyOutputIsValidJSONForPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	_, stdout := getPolicy(t, "--channel", "s3://studio-bucket/Conda", "--access", "write", "--bucket-policy", "--account", "111122223333")
	cmd := exec.Command(py, "-m", "json.tool")
	cmd.Stdin = strings.NewReader(stdout)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("python3 -m json.tool: %v\n%s", err, out)
	}
}

func TestPolicyUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--access", "read"},                                                    // no channel
		{"--channel", "s3://studio-bucket/Conda"},                               // no access
		{"--channel", "s3://studio-bucket/Conda", "--access", "admin"},          // bad access
		{"--channel", "./channel", "--access", "read"},                          // a folder
		{"--channel", "s3://studio-bucket/Co*nda", "--access", "read"},          // wildcard in prefix
		{"--channel", "s3://studio-bucket/${aws:username}", "--access", "read"}, // policy variable
		{"--channel", "s3://studio-bucket/Conda", "--access", "read", "--account", "12345"},
		{"--channel", "s3://Studio_Bucket/Conda", "--access", "read"}, // bad bucket name
		{"--channel", "s3://studio-bucket/a//b", "--access", "read"},  // empty part
	} {
		if code, _, stderr := policyCLI(t, args...); code != exitUsage {
			t.Errorf("%q: exit %d, want 2 (%s)", args, code, stderr)
		}
	}
}

// The command prints what iampolicy.Generate returns, with this CLI's hints added to the
// notes. (The generation itself is tested in package iampolicy.)
func TestPolicyPrintsLibraryPolicy(t *testing.T) {
	for _, args := range [][]string{
		{"--channel", "s3://studio-bucket/Conda/Default", "--access", "read"},
		{"--channel", "s3://studio-bucket", "--access", "write", "--account", "111122223333", "--bucket-policy"},
	} {
		p, _ := getPolicy(t, args...)
		req := iampolicy.Request{Bucket: "studio-bucket", Prefix: "Conda/Default", Access: iampolicy.Read}
		if args[3] == "write" {
			req = iampolicy.Request{Bucket: "studio-bucket", Access: iampolicy.Write, Account: "111122223333", BucketPolicy: true}
		}
		want, err := iampolicy.Generate(req)
		if err != nil {
			t.Fatal(err)
		}
		if p.Channel != want.Channel || p.Access != string(want.Access) || (p.BucketPolicy != nil) != (want.BucketPolicy != nil) {
			t.Errorf("%q: printed %+v, generated %+v", args, p, want)
		}
		same := func(name string, got policyDocJSON, doc any) {
			gb, _ := json.Marshal(got)
			var wantDoc policyDocJSON
			b, _ := json.Marshal(doc)
			if err := json.Unmarshal(b, &wantDoc); err != nil {
				t.Fatal(err)
			}
			wb, _ := json.Marshal(wantDoc)
			if !bytes.Equal(gb, wb) {
				t.Errorf("%q: printed %s\n%s\ngenerated\n%s", args, name, gb, wb)
			}
		}
		same("identity_policy", p.IdentityPolicy, want.IdentityPolicy)
		if p.BucketPolicy != nil {
			same("bucket_policy", *p.BucketPolicy, want.BucketPolicy)
		}
		// The CLI's own note comes first; each of the library's follows, in order,
		// possibly extended.
		if len(p.Notes) != len(want.Notes)+1 || !strings.HasPrefix(p.Notes[0], "identity_policy goes on the queue role: aws iam put-role-policy ") {
			t.Fatalf("%q: notes %q", args, p.Notes)
		}
		for i, n := range want.Notes {
			if got := p.Notes[i+1]; !strings.HasPrefix(got, strings.TrimSuffix(n.Text, ".")) {
				t.Errorf("%q: note %d %q does not start with the %s note %q", args, i+1, got, n.Topic, n.Text)
			}
		}
	}
}

// The notes get the hints that name this CLI's commands and flags.
func TestPolicyNoteHints(t *testing.T) {
	p, _ := getPolicy(t, "--channel", "s3://studio-bucket/Conda", "--access", "write", "--account", "111122223333")
	notes := strings.Join(p.Notes, "\n")
	for _, want := range []string{
		"--policy-document \"$(condachan policy ... | jq .identity_policy)\"",
		"without the condition. `condachan doctor --channel s3://studio-bucket/Conda` on a worker with this role checks it.",
		"so it needs no s3:GetBucketLocation (pass --region or set AWS_REGION to skip the lookup).",
		"owned by account 111122223333; pass --expected-bucket-owner 111122223333 to condachan for the same check on each request.",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
}

// The library's typed errors come out naming the flag at fault.
func TestPolicyUsageErrorsNameFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--access", "read"}, "condachan: --channel s3://bucket/prefix is required\n"},
		{[]string{"--channel", "s3://studio-bucket/Conda"}, "condachan: --access is required: read (production queue role) or write (package build queue role)\n"},
		{[]string{"--channel", "s3://studio-bucket/Conda", "--access", "admin"}, "condachan: --access \"admin\": use read or write\n"},
		{[]string{"--channel", "s3://studio-bucket/Conda", "--access", "read", "--account", "12345"}, "condachan: --account \"12345\": an AWS account id is 12 digits\n"},
		{[]string{"--channel", "./channel", "--access", "read"}, "condachan: --channel ./channel is a folder: IAM policies are for S3 channels (s3://bucket/prefix)\n"},
		{[]string{"--channel", "s3://studio-bucket/Co*nda", "--access", "read"}, "condachan: --channel s3://studio-bucket/Co*nda: prefix \"Co*nda\": "},
	} {
		code, _, stderr := policyCLI(t, c.args...)
		if code != exitUsage || !strings.HasPrefix(stderr, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want %q", c.args, code, stderr, c.want)
		}
	}
}
