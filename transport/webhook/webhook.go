// Package webhook sends the gateway's outgoing webhooks: one signed JSON
// POST per delivery, through the egress guard (so an operator's or a
// caller's URL cannot reach inside unless egress.allow says so), and a
// verdict on every failure: worth retrying or not. Durability (a delivery
// that survives a crash and is retried on any replica) is the caller's: the
// gateway runs each delivery as a job of the durable queue, which calls Send
// once per attempt.
//
// # Signature
//
// With a secret, every POST carries
//
//	X-Agentgate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>
//
// where the HMAC, keyed with the secret, is over the bytes
// "<t>.<body>" (the timestamp, a dot, the exact request body). t is the
// time of the attempt, so a retry an hour later is still fresh; a receiver
// recomputes the HMAC, compares it in constant time, and refuses a t too
// far from its clock (Verify does all three, with a 5-minute tolerance by
// default). X-Agentgate-Event names the event and X-Agentgate-Delivery is
// the delivery's id, the same on every attempt, so a receiver can drop a
// repeat (delivery is at least once).
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/agentgate/agentgate/transport/egress"
)

// Headers of a delivery.
const (
	HeaderSignature = "X-Agentgate-Signature"
	HeaderEvent     = "X-Agentgate-Event"
	HeaderDelivery  = "X-Agentgate-Delivery"
)

// DefaultTolerance is how far a signature's timestamp may be from the
// receiver's clock in Verify.
const DefaultTolerance = 5 * time.Minute

// DefaultTimeout bounds one POST (connect, send, answer).
const DefaultTimeout = 10 * time.Second

// Sign returns the X-Agentgate-Signature value of body at t (Unix
// seconds): "t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>".
func Sign(secret string, t int64, body []byte) string {
	return "t=" + strconv.FormatInt(t, 10) + ",v1=" + hex.EncodeToString(mac(secret, t, body))
}

func mac(secret string, t int64, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(strconv.FormatInt(t, 10)))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Errors of Verify.
var (
	ErrNoSignature  = errors.New("webhook: no signature")
	ErrBadSignature = errors.New("webhook: the signature does not match")
	ErrStale        = errors.New("webhook: the signature's timestamp is outside the tolerance")
)

// Verify checks a signature header (as Sign writes it) of body with
// secret, as a receiver does: the timestamp within tolerance of now
// (DefaultTolerance when tolerance <= 0) and one v1 value equal, in
// constant time, to the HMAC. Several v1 values are accepted (a sender
// rotating secrets may send one per secret).
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if strings.TrimSpace(header) == "" {
		return ErrNoSignature
	}
	var t int64
	var haveT bool
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("%w: bad timestamp", ErrBadSignature)
			}
			t, haveT = n, true
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	if !haveT || len(sigs) == 0 {
		return ErrNoSignature
	}
	if d := now.Sub(time.Unix(t, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	want := mac(secret, t, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return ErrBadSignature
}

// CheckURL refuses a webhook URL that is not an absolute http(s) URL with
// a host (what configuration validation needs; the egress guard checks the
// destination itself).
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("the scheme must be http or https, not %q", u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return errors.New("the URL has no host")
	}
	return nil
}

// Sender sends deliveries. It is safe for concurrent use.
type Sender struct {
	client    *http.Client
	timeout   time.Duration
	userAgent string
	now       func() time.Time
}

// Options configure a Sender. Zero values take the defaults.
type Options struct {
	// Egress decides which destinations may be called (default: a guard
	// with an empty allow-list: nothing internal is called).
	Egress *egress.Guard
	// Timeout bounds one POST (default DefaultTimeout).
	Timeout time.Duration
	// UserAgent (default "agentgate-webhook").
	UserAgent string
	// Now is the clock of the signatures (default time.Now).
	Now func() time.Time
	// Client, when set, sends the POSTs instead of Egress's client (which
	// it should be built from: Egress.Client with the headers to drop on
	// a redirect); Timeout still bounds each Send.
	Client *http.Client
}

// NewSender returns a sender over o's egress guard. The client drops the
// signature on a redirect to another host:port: it is the receiver's
// proof, not a token, but there is no reason to hand it on.
func NewSender(o Options) *Sender {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Client == nil {
		if o.Egress == nil {
			o.Egress, _ = egress.New(egress.Config{}) // an empty allow-list does not fail
		}
		o.Client = o.Egress.Client(o.Timeout, HeaderSignature)
	}
	if o.UserAgent == "" {
		o.UserAgent = "agentgate-webhook"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Sender{client: o.Client, timeout: o.Timeout, userAgent: o.UserAgent, now: o.Now}
}

// Delivery is one webhook POST.
type Delivery struct {
	URL string
	// Body is sent as is (application/json unless ContentType says).
	Body        []byte
	ContentType string
	// Event and ID go in X-Agentgate-Event and X-Agentgate-Delivery when
	// set.
	Event string
	ID    string
	// Secret, when set, signs the body (X-Agentgate-Signature).
	Secret string
	// Header holds further headers.
	Header http.Header
}

// Error is a failed delivery: the receiver's status (0 when none came)
// and whether another attempt may succeed.
type Error struct {
	// Status is the HTTP status answered, 0 for a transport failure.
	Status int
	// Retry reports whether the failure is worth another attempt: a
	// transport error or timeout, 408, 429 or 5xx. A refused destination,
	// a malformed request and every other status are final.
	Retry bool
	// RetryAfter is the receiver's Retry-After (seconds form), if any.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string { return "webhook: " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether err (from Send) is worth another attempt.
func Retryable(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Retry
	}
	return err != nil
}

// Send POSTs d once: nil on a 2xx answer, else an *Error saying whether
// to retry. ctx bounds the attempt too.
func (s *Sender) Send(ctx context.Context, d Delivery) error {
	if err := CheckURL(d.URL); err != nil {
		return &Error{Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return &Error{Err: err}
	}
	for k, vs := range d.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	ct := d.ContentType
	if ct == "" {
		ct = "application/json"
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("User-Agent", s.userAgent)
	if d.Event != "" {
		req.Header.Set(HeaderEvent, d.Event)
	}
	if d.ID != "" {
		req.Header.Set(HeaderDelivery, d.ID)
	}
	if d.Secret != "" {
		req.Header.Set(HeaderSignature, Sign(d.Secret, s.now().Unix(), d.Body))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		// A refused destination stays refused; anything else (DNS,
		// connect, timeout, reset) may pass next time.
		var refused *egress.RefusedError
		return &Error{Retry: !errors.As(err, &refused), Err: err}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return classify(resp)
}

// classify turns an answer into Send's verdict.
func classify(resp *http.Response) error {
	c := resp.StatusCode
	if c >= 200 && c < 300 {
		return nil
	}
	e := &Error{Status: c, Err: errors.New("the receiver answered " + resp.Status)}
	switch {
	case c == http.StatusRequestTimeout, c == http.StatusTooManyRequests, c >= 500:
		e.Retry = true
		if n, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && n > 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		}
	}
	return e
}
