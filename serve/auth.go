package serve

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/condachan/condachan/input"
)

// Auth holds the credentials a private channel accepts: bearer tokens and basic-auth
// user:password pairs. Credentials are compared in constant time, against every entry
// (the time taken says nothing about which entry came close).
type Auth struct {
	bearer [][sha256.Size]byte
	basic  [][sha256.Size]byte // sha256 of "user:password"
}

// LoadAuthFile reads an auth file: one credential per line, `bearer TOKEN` or
// `basic USER:PASSWORD`; blank lines and lines starting with # are ignored. Its errors
// match input.ErrInvalid.
func LoadAuthFile(path string) (*Auth, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, input.Mark(fmt.Errorf("auth file: %w", err))
	}
	defer f.Close()
	a, err := ParseAuth(f)
	if err != nil {
		return nil, input.Mark(fmt.Errorf("auth file %s: %w", path, err))
	}
	return a, nil
}

// ParseAuth reads the auth file format (see LoadAuthFile).
func ParseAuth(r io.Reader) (*Auth, error) {
	a := &Auth{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		scheme, cred, _ := strings.Cut(line, " ")
		cred = strings.TrimSpace(cred)
		switch strings.ToLower(scheme) {
		case "bearer":
			if cred == "" || strings.ContainsAny(cred, " \t") {
				return nil, fmt.Errorf("line %d: expected `bearer TOKEN` (one token, no spaces)", n)
			}
			a.bearer = append(a.bearer, sha256.Sum256([]byte(cred)))
		case "basic":
			user, _, ok := strings.Cut(cred, ":")
			if !ok || user == "" {
				return nil, fmt.Errorf("line %d: expected `basic USER:PASSWORD`", n)
			}
			a.basic = append(a.basic, sha256.Sum256([]byte(cred)))
		default:
			return nil, fmt.Errorf("line %d: unknown scheme %q (expected `bearer TOKEN` or `basic USER:PASSWORD`)", n, scheme)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(a.bearer)+len(a.basic) == 0 {
		return nil, fmt.Errorf("no credentials (expected lines `bearer TOKEN` or `basic USER:PASSWORD`)")
	}
	return a, nil
}

// allowed reports whether the request carries one of the credentials.
func (a *Auth) allowed(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(h, " ")
	cred = strings.TrimSpace(cred)
	var list [][sha256.Size]byte
	var sum [sha256.Size]byte
	switch strings.ToLower(scheme) {
	case "bearer":
		list, sum = a.bearer, sha256.Sum256([]byte(cred))
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err != nil || !bytes.Contains(raw, []byte(":")) {
			return false
		}
		list, sum = a.basic, sha256.Sum256(raw)
	default:
		return false
	}
	ok := 0
	for i := range list {
		ok |= subtle.ConstantTimeCompare(list[i][:], sum[:])
	}
	return ok == 1
}

// allowedToken reports whether a channel token (/t/<TOKEN>/ in the path) is one of the
// bearer tokens.
func (a *Auth) allowedToken(token string) bool {
	sum := sha256.Sum256([]byte(token))
	ok := 0
	for i := range a.bearer {
		ok |= subtle.ConstantTimeCompare(a.bearer[i][:], sum[:])
	}
	return ok == 1
}

// challenge sets the WWW-Authenticate headers of a 401.
func (a *Auth) challenge(w http.ResponseWriter) {
	if len(a.basic) > 0 {
		w.Header().Add("WWW-Authenticate", `Basic realm="condachan", charset="UTF-8"`)
	}
	if len(a.bearer) > 0 {
		w.Header().Add("WWW-Authenticate", `Bearer realm="condachan"`)
	}
}
