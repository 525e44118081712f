// Package redact keeps credentials out of logs and messages: URL passwords
// and secret query parameters, Authorization values, key=value secrets,
// and (in the slog handler) every secret value the gateway was configured
// with, wherever it appears.
package redact

import (
	"net/url"
	"regexp"
	"strings"
)

// Mask replaces a secret.
const Mask = "xxxxx"

// sensitiveParams are query parameter names (and key=value keys in text)
// whose values are secrets.
var sensitiveParams = map[string]bool{
	"password": true, "passwd": true, "pwd": true, "pass": true, "sslpassword": true, "sslkey": true,
	"token": true, "access_token": true, "refresh_token": true, "id_token": true, "auth": true, "authorization": true,
	"api_key": true, "apikey": true, "api-key": true, "key": true, "secret": true, "client_secret": true,
	"signature": true, "sig": true, "x-amz-signature": true, "x-amz-credential": true, "x-amz-security-token": true,
}

// URL returns raw with the password of its user info and the values of
// sensitive query parameters masked. A string that is not a URL is
// returned as Text redacts it.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return Text(raw)
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), Mask)
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		changed := false
		for k := range q {
			if sensitiveParams[strings.ToLower(k)] {
				q[k] = []string{Mask}
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	return u.String()
}

const secretKeys = `password|passwd|pwd|sslpassword|sslkey|token|access_token|refresh_token|id_token|api_key|apikey|api-key|` +
	`secret|client_secret|signing_secret|bot_token|app_token|security_key|jwt_key|credentials|signature|` +
	`x-amz-signature|x-amz-credential|x-amz-security-token`

var (
	// userinfo of a URL in text: scheme://user:PASSWORD@
	urlPassword = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)([^\s@/]+)@`)
	// key=value secrets in text (DSNs, query strings): password=..., token=...
	keyValue = regexp.MustCompile(`(?i)\b(` + secretKeys + `)(\s*=\s*)('[^']*'|"[^"]*"|[^\s&;,'"]+)`)
	// the same in JSON: "password":"..."
	jsonValue = regexp.MustCompile(`(?i)("(?:` + secretKeys + `)"\s*:\s*)"(?:[^"\\]|\\.)*"`)
	// an authorization value: Bearer ..., Basic ...
	authValue = regexp.MustCompile(`(?i)\b(Bearer|Basic)\s+([A-Za-z0-9._~+/=-]{6,})`)
)

// Text masks the credentials found in free text: URL passwords, key=value
// secrets and Authorization values.
func Text(s string) string {
	if strings.Contains(s, "://") {
		s = urlPassword.ReplaceAllString(s, "${1}"+Mask+"@")
	}
	if strings.Contains(s, "=") {
		s = keyValue.ReplaceAllString(s, "${1}${2}"+Mask)
	}
	if strings.Contains(s, `":`) {
		s = jsonValue.ReplaceAllString(s, `${1}"`+Mask+`"`)
	}
	if strings.Contains(s, "earer ") || strings.Contains(s, "EARER ") || strings.Contains(s, "asic ") || strings.Contains(s, "ASIC ") {
		s = authValue.ReplaceAllStringFunc(s, func(m string) string {
			sub := authValue.FindStringSubmatch(m)
			if strings.Trim(sub[2], "abcdefghijklmnopqrstuvwxyz") == "" {
				return m // a word ("Basic authentication"), not a credential
			}
			return sub[1] + " " + Mask
		})
	}
	return s
}

// SensitiveKey reports whether a log attribute or header named key holds a
// secret by its name alone.
func SensitiveKey(key string) bool {
	k := strings.ToLower(key)
	if sensitiveParams[k] {
		return true
	}
	for _, part := range []string{"password", "secret", "token", "api_key", "apikey", "authorization", "cookie", "credential"} {
		if strings.Contains(k, part) {
			return true
		}
	}
	return false
}
