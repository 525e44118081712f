package webhook_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/transport/egress"
	"github.com/agentgate/agentgate/transport/webhook"
)

func loopbackGuard(t *testing.T) *egress.Guard {
	t.Helper()
	g, err := egress.New(egress.Config{Allow: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestSignVerify(t *testing.T) {
	body := []byte(`{"event":"approval.created"}`)
	now := time.Unix(1_800_000_000, 0)
	sig := webhook.Sign("s3cret", now.Unix(), body)
	if !strings.HasPrefix(sig, "t=1800000000,v1=") || len(sig) != len("t=1800000000,v1=")+64 {
		t.Fatalf("signature %q: want t=<unix>,v1=<64 hex>", sig)
	}
	if err := webhook.Verify("s3cret", sig, body, now.Add(time.Minute), 0); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// A rotating sender may send several v1 values: one matching is enough.
	if err := webhook.Verify("s3cret", "t=1800000000,v1=00ff,"+sig[len("t=1800000000,"):], body, now, 0); err != nil {
		t.Fatalf("Verify with two v1: %v", err)
	}
	for name, c := range map[string]struct {
		secret, header string
		body           []byte
		at             time.Time
		want           error
	}{
		"other secret":    {"other", sig, body, now, webhook.ErrBadSignature},
		"tampered body":   {"s3cret", sig, []byte(`{"event":"approval.resolved"}`), now, webhook.ErrBadSignature},
		"too old":         {"s3cret", sig, body, now.Add(6 * time.Minute), webhook.ErrStale},
		"from the future": {"s3cret", sig, body, now.Add(-6 * time.Minute), webhook.ErrStale},
		"no header":       {"s3cret", "", body, now, webhook.ErrNoSignature},
		"no v1":           {"s3cret", "t=1800000000", body, now, webhook.ErrNoSignature},
		"timestamp moved": {"s3cret", strings.Replace(sig, "t=1800000000", "t=1800000001", 1), body, now,
			webhook.ErrBadSignature},
	} {
		if err := webhook.Verify(c.secret, c.header, c.body, c.at, 0); !errors.Is(err, c.want) {
			t.Errorf("%s: Verify = %v, want %v", name, err, c.want)
		}
	}
}

func TestCheckURL(t *testing.T) {
	for _, ok := range []string{"https://hooks.example.com/x", "http://127.0.0.1:9000/hook"} {
		if err := webhook.CheckURL(ok); err != nil {
			t.Errorf("CheckURL(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"ftp://example.com/x", "example.com/hook", "file:///etc/passwd", "https://", "://x"} {
		if err := webhook.CheckURL(bad); err == nil {
			t.Errorf("CheckURL(%q) accepted", bad)
		}
	}
}

// A loopback receiver (allowed by the egress guard) verifies the
// signature and sees the event and delivery headers.
func TestSendSignedToLoopbackReceiver(t *testing.T) {
	var mu sync.Mutex
	var verr error
	var hdr http.Header
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		got, hdr = b, r.Header.Clone()
		verr = webhook.Verify("topsecret", r.Header.Get(webhook.HeaderSignature), b, time.Now(), 0)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	s := webhook.NewSender(webhook.Options{Egress: loopbackGuard(t)})
	body := []byte(`{"event":"approval.created","approval":{"id":"ap1"}}`)
	err := s.Send(context.Background(), webhook.Delivery{URL: srv.URL + "/hook", Body: body, Event: "approval.created",
		ID: "d-1", Secret: "topsecret"})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if verr != nil {
		t.Fatalf("the receiver could not verify the signature: %v", verr)
	}
	if string(got) != string(body) {
		t.Fatalf("body %q, want %q", got, body)
	}
	if hdr.Get(webhook.HeaderEvent) != "approval.created" || hdr.Get(webhook.HeaderDelivery) != "d-1" ||
		hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", hdr)
	}
}

// Without a secret nothing is signed.
func TestSendUnsigned(t *testing.T) {
	var sig string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sig = r.Header.Get(webhook.HeaderSignature)
	}))
	defer srv.Close()
	if err := webhook.NewSender(webhook.Options{Egress: loopbackGuard(t)}).Send(context.Background(),
		webhook.Delivery{URL: srv.URL, Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if sig != "" {
		t.Fatalf("unsigned delivery carried %s: %q", webhook.HeaderSignature, sig)
	}
}

// 2xx is done; 408, 429 and 5xx are retried (with Retry-After); other 4xx
// are final.
func TestSendVerdicts(t *testing.T) {
	var code int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "7")
		}
		w.WriteHeader(code)
	}))
	defer srv.Close()
	s := webhook.NewSender(webhook.Options{Egress: loopbackGuard(t)})
	for _, c := range []struct {
		code  int
		ok    bool
		retry bool
	}{
		{200, true, false}, {202, true, false}, {204, true, false},
		{400, false, false}, {401, false, false}, {404, false, false}, {410, false, false}, {422, false, false},
		{408, false, true}, {429, false, true}, {500, false, true}, {502, false, true}, {503, false, true},
	} {
		code = c.code
		err := s.Send(context.Background(), webhook.Delivery{URL: srv.URL, Body: []byte(`{}`)})
		if (err == nil) != c.ok {
			t.Errorf("%d: Send = %v, want ok=%v", c.code, err, c.ok)
			continue
		}
		if err == nil {
			continue
		}
		var we *webhook.Error
		if !errors.As(err, &we) || we.Status != c.code || we.Retry != c.retry || webhook.Retryable(err) != c.retry {
			t.Errorf("%d: error %#v, want status %d retry %v", c.code, err, c.code, c.retry)
		}
		if c.code == 503 && we.RetryAfter != 7*time.Second {
			t.Errorf("503: RetryAfter %v, want 7s", we.RetryAfter)
		}
	}
}

// The egress guard refuses a loopback receiver not in its allow-list, for
// good (no retry); a receiver that does not answer in time is retried.
func TestSendRefusedAndTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(time.Second)
		}
	}))
	defer srv.Close()
	err := webhook.NewSender(webhook.Options{}).Send(context.Background(), webhook.Delivery{URL: srv.URL, Body: []byte(`{}`)})
	var refused *egress.RefusedError
	if !errors.As(err, &refused) || webhook.Retryable(err) {
		t.Fatalf("Send to an internal address without egress.allow = %v, want a final RefusedError", err)
	}
	s := webhook.NewSender(webhook.Options{Egress: loopbackGuard(t), Timeout: 200 * time.Millisecond})
	err = s.Send(context.Background(), webhook.Delivery{URL: srv.URL + "/slow", Body: []byte(`{}`)})
	if err == nil || !webhook.Retryable(err) {
		t.Fatalf("Send to a receiver slower than the timeout = %v, want a retryable error", err)
	}
	err = s.Send(context.Background(), webhook.Delivery{URL: "ftp://127.0.0.1/x", Body: []byte(`{}`)})
	if err == nil || webhook.Retryable(err) {
		t.Fatalf("Send to ftp:// = %v, want a final error", err)
	}
}
