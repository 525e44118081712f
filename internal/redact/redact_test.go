package redact

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://root:s3cret@127.0.0.1:5432/test?sslmode=disable": "postgres://root:xxxxx@127.0.0.1:5432/test?sslmode=disable",
		"postgres://root@127.0.0.1/test":                             "postgres://root@127.0.0.1/test",
		"redis://:pw-123@127.0.0.1:6379/0":                           "redis://:xxxxx@127.0.0.1:6379/0",
		"postgres://h/db?user=u&password=p4ss&sslmode=verify-full":   "postgres://h/db?password=xxxxx&sslmode=verify-full&user=u",
		"https://hook.example/x?token=abc&k=1":                       "https://hook.example/x?k=1&token=xxxxx",
		"sqlite://agentgate.db":                                      "sqlite://agentgate.db",
		"host=db user=root password=hunter22 dbname=x":               "host=db user=root password=xxxxx dbname=x",
	} {
		if got := URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestText(t *testing.T) {
	for in, want := range map[string]string{
		"cannot open postgres://root:s3cret@db:5432/x: refused": "cannot open postgres://root:xxxxx@db:5432/x: refused",
		"dsn host=db password='a b' sslpassword=zz":             "dsn host=db password=xxxxx sslpassword=xxxxx",
		"header Authorization: Bearer eyJhbGciOi.abc.def sent":  "header Authorization: Bearer xxxxx sent",
		`body {"api_key":"sk-123","name":"x","token":"t\"q"}`:   `body {"api_key":"xxxxx","name":"x","token":"xxxxx"}`,
		"invalid token: token expired":                          "invalid token: token expired",
		"GET /runs?x=1&access_token=zzz9":                       "GET /runs?x=1&access_token=xxxxx",
		"plain text with no secrets, 3 tokens used":             "plain text with no secrets, 3 tokens used",
	} {
		if got := Text(in); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
}

type stringer string

func (s stringer) String() string { return string(s) }

// The handler masks configured secrets anywhere (message, values, errors,
// groups, WithAttrs), values of sensitive keys, and what Text finds.
func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	h := NewHandler(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}), []string{"hunter2-db", "sk-live-0123", "abc"})
	l := slog.New(h).With("dsn", "postgres://u:hunter2-db@h/db")
	l.Info("connecting with sk-live-0123", "err", errors.New("auth failed for key sk-live-0123"),
		"authorization", "Bearer whatever-it-is", "signing_secret", "s", "prompt_tokens", 12, "abc", "abc",
		slog.Group("model", "api_key", "sk-other", "base_url", "https://u:pw@api.example/v1"),
		"cfg", map[string]string{"k": "sk-live-0123"}, "s", stringer("pw hunter2-db"))
	l.WithGroup("g").Warn("x", "url", "redis://:hunter2-db@r:6379")
	out := buf.String()
	for _, leak := range []string{"hunter2-db", "sk-live-0123", "whatever-it-is", "sk-other", ":pw@"} {
		if strings.Contains(out, leak) {
			t.Errorf("%q leaked:\n%s", leak, out)
		}
	}
	for _, kept := range []string{"prompt_tokens=12", "abc=abc", "connecting with xxxxx", "signing_secret=xxxxx", "u:xxxxx@api.example"} {
		if !strings.Contains(out, kept) {
			t.Errorf("%q missing:\n%s", kept, out)
		}
	}
}
