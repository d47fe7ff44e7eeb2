package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
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

func policySortedKeys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestPolicyRead(t *testing.T) {
	p, _ := getPolicy(t, "--channel", "s3://studio-bucket/Conda/Default", "--access", "read")
	if p.Channel != "s3://studio-bucket/Conda/Default" || p.Access != "read" || p.IdentityPolicy.Version != "2012-10-17" || p.BucketPolicy != nil {
		t.Errorf("policy %+v", p)
	}
	acts := policyActions(p.IdentityPolicy)
	if got := policySortedKeys(acts); !slices.Equal(got, []string{"s3:GetObject", "s3:ListBucket"}) {
		t.Errorf("read actions %q", got)
	}
	if !slices.Equal(acts["s3:GetObject"], []string{"arn:aws:s3:::studio-bucket/Conda/Default/*"}) {
		t.Errorf("GetObject on %q", acts["s3:GetObject"])
	}
	if !slices.Equal(acts["s3:ListBucket"], []string{"arn:aws:s3:::studio-bucket"}) {
		t.Errorf("ListBucket on %q", acts["s3:ListBucket"])
	}
	for _, s := range p.IdentityPolicy.Statement {
		if slices.Contains(policyStrs(s.Action), "s3:ListBucket") {
			got := policyStrs(s.Condition["StringLike"]["s3:prefix"])
			slices.Sort(got)
			if !slices.Equal(got, []string{"Conda/Default/", "Conda/Default/*"}) {
				t.Errorf("ListBucket condition %v", s.Condition)
			}
		}
	}
}

func TestPolicyWrite(t *testing.T) {
	p, _ := getPolicy(t, "--channel", "s3://studio-bucket/Conda/Default", "--access", "write")
	acts := policyActions(p.IdentityPolicy)
	want := []string{"s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:PutObject"}
	if got := policySortedKeys(acts); !slices.Equal(got, want) {
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
		if slices.Contains(policyStrs(s.Action), "s3:ListBucketMultipartUploads") {
			if slices.Contains(policyStrs(s.Action), "s3:ListBucket") || s.Condition != nil {
				t.Errorf("ListBucketMultipartUploads shares a statement with ListBucket or has a condition: %+v", s)
			}
		}
	}
	notes := strings.Join(p.Notes, "\n")
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

func TestPolicyBucketPolicyRequiresConditionalWrites(t *testing.T) {
	p, _ := getPolicy(t, "--channel", "s3://studio-bucket/Conda", "--access", "write", "--bucket-policy")
	bp := p.BucketPolicy
	if bp == nil || len(bp.Statement) != 2 {
		t.Fatalf("bucket policy %+v", bp)
	}
	put, del := bp.Statement[0], bp.Statement[1]
	if put.Effect != "Deny" || put.Principal != "*" || !slices.Equal(policyStrs(put.Action), []string{"s3:PutObject"}) {
		t.Errorf("put statement %+v", put)
	}
	res := policyStrs(put.Resource)
	for _, want := range []string{"*/repodata.json", "*/repodata.json.zst", "*/repodata_shards.msgpack.zst", "*/shards/*", "*/run_exports.json", "*/patch_instructions.json", "*/index.html", "channeldata.json", "index.html", ".condachan/*"} {
		if !slices.Contains(res, "arn:aws:s3:::studio-bucket/Conda/"+want) {
			t.Errorf("put resources %q lack %s", res, want)
		}
	}
	if put.Condition["Null"]["s3:if-none-match"] != "true" || put.Condition["Null"]["s3:if-match"] != "true" || put.Condition["Bool"]["s3:ObjectCreationOperation"] != "true" {
		t.Errorf("put condition %v", put.Condition)
	}
	if del.Effect != "Deny" || !slices.Equal(policyStrs(del.Action), []string{"s3:DeleteObject"}) || !slices.Equal(policyStrs(del.Resource), []string{"arn:aws:s3:::studio-bucket/Conda/.condachan/lock.json"}) || del.Condition["Null"]["s3:if-match"] != "true" {
		t.Errorf("delete statement %+v", del)
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
