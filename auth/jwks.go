package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"
)

// keySet maps kid to a verification key.
type keySet map[string]any

type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	K   string `json:"k"`
}

const maxJWKSBytes = 1 << 20

// parseJWKS reads the keys of a JWK Set usable with alg: keys for other
// algorithms or for encryption are skipped, as are keys without a kid when
// the set holds more than one key. A set with no usable key is an error.
func parseJWKS(b []byte, alg string) (keySet, error) {
	var doc struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("bad JWKS: %w", err)
	}
	ks := keySet{}
	var errs []error
	for i, k := range doc.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if k.Alg != "" && !strings.EqualFold(k.Alg, alg) {
			continue
		}
		key, err := jwkKey(k, alg)
		if err != nil {
			errs = append(errs, fmt.Errorf("key %d (kid %q): %w", i, k.Kid, err))
			continue
		}
		if key == nil {
			continue // another key type
		}
		if _, dup := ks[k.Kid]; dup {
			return nil, fmt.Errorf("duplicate kid %q", k.Kid)
		}
		ks[k.Kid] = key
	}
	if len(ks) > 1 {
		delete(ks, "") // several keys: only those with a kid can be chosen
	}
	if len(ks) == 0 {
		if len(errs) > 0 {
			return nil, fmt.Errorf("no usable %s key: %w", alg, errors.Join(errs...))
		}
		return nil, fmt.Errorf("no usable %s key", alg)
	}
	return ks, nil
}

// jwkKey builds the key of k for alg; nil, nil when k is of another type.
func jwkKey(k jwk, alg string) (any, error) {
	switch alg {
	case AlgRS256:
		if k.Kty != "RSA" {
			return nil, nil
		}
		n, err := b64(k.N)
		if err != nil || len(n) == 0 {
			return nil, errors.New("bad modulus")
		}
		e, err := b64(k.E)
		if err != nil || len(e) == 0 || len(e) > 4 {
			return nil, errors.New("bad exponent")
		}
		var exp int
		for _, c := range e {
			exp = exp<<8 | int(c)
		}
		if exp < 3 || exp%2 == 0 {
			return nil, errors.New("bad exponent")
		}
		return checkPublicKey(alg, &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp})
	case AlgES256:
		if k.Kty != "EC" {
			return nil, nil
		}
		if k.Crv != "P-256" {
			return nil, nil
		}
		x, err1 := b64(k.X)
		y, err2 := b64(k.Y)
		if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
			return nil, errors.New("bad coordinates")
		}
		pt := append(append([]byte{4}, x...), y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt)
		if err != nil {
			return nil, err
		}
		return pub, nil
	case AlgHS256:
		if k.Kty != "oct" {
			return nil, nil
		}
		s, err := b64(k.K)
		if err != nil {
			return nil, errors.New("bad key")
		}
		if len(s) < minHMACSecret {
			return nil, fmt.Errorf("HS256 secret must be at least %d bytes", minHMACSecret)
		}
		return s, nil
	}
	return nil, nil
}

// b64 decodes base64url with or without padding.
func b64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// jwksSet is a JWKS fetched from a URL and cached.
type jwksSet struct {
	url        string
	alg        string
	client     *http.Client
	timeout    time.Duration
	minRefresh time.Duration // at most one fetch per this interval
	maxAge     time.Duration // refresh (softly) when older
	now        func() time.Time

	mu        sync.RWMutex
	keys      keySet
	fetchedAt time.Time

	fetchMu     sync.Mutex // one fetch at a time
	lastAttempt time.Time
	lastErr     error
}

// key returns the key with this kid, fetching the set when it is unknown
// (or the cache is old), no more than once per minRefresh. On a failed
// fetch the cached keys stay in use.
func (s *jwksSet) key(ctx context.Context, kid string) (any, error) {
	s.mu.RLock()
	k, ok := s.keys[kid]
	fresh := !s.fetchedAt.IsZero() && s.now().Sub(s.fetchedAt) < s.maxAge
	s.mu.RUnlock()
	if ok && fresh {
		return k, nil
	}
	s.refresh(ctx)
	s.mu.RLock()
	k, ok = s.keys[kid]
	s.mu.RUnlock()
	if ok {
		return k, nil
	}
	s.fetchMu.Lock()
	lastErr := s.lastErr
	s.fetchMu.Unlock()
	if lastErr != nil {
		return nil, fmt.Errorf("unknown kid %q (jwks fetch failed: %v)", kid, lastErr)
	}
	return nil, fmt.Errorf("unknown kid %q", kid)
}

// refresh fetches the set unless a fetch was attempted within minRefresh.
func (s *jwksSet) refresh(ctx context.Context) {
	s.fetchMu.Lock()
	defer s.fetchMu.Unlock()
	now := s.now()
	if !s.lastAttempt.IsZero() && now.Sub(s.lastAttempt) < s.minRefresh {
		return
	}
	s.lastAttempt = now
	ks, err := s.fetch(ctx)
	s.lastErr = err
	if err != nil {
		return
	}
	s.mu.Lock()
	s.keys, s.fetchedAt = ks, now
	s.mu.Unlock()
}

func (s *jwksSet) fetch(ctx context.Context) (keySet, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("jwks: HTTP %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxJWKSBytes {
		return nil, errors.New("jwks: document too large")
	}
	return parseJWKS(b, s.alg)
}
