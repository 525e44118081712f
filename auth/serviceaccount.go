package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"math/big"
	"strings"
	"time"
)

// ServiceAccountTokenPrefix starts every service-account token, so that
// tokens are recognisable (to the gateway and to secret scanners).
const ServiceAccountTokenPrefix = "agw_sa_"

const (
	saSecretLen   = 43 // base62 digits of 32 random bytes
	saChecksumLen = 6  // base62 digits of a CRC-32
	saTokenLen    = len(ServiceAccountTokenPrefix) + saSecretLen + saChecksumLen
	saPrefixShown = len(ServiceAccountTokenPrefix) + 8 // TokenPrefix: enough to recognise a token
)

// ServiceAccount is a non-human caller with its own scopes and a
// long-lived token. Only the token's SHA-256 hash is stored; the token
// itself is shown once, at creation. Times are Unix seconds (the form
// stored and shown); 0 means not set.
type ServiceAccount struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Principal is the subject of its requests ("sa:<id>" when empty).
	Principal string `json:"principal"`
	// UserID it acts as under user isolation (Principal when empty).
	UserID string `json:"user_id,omitempty"`
	// TokenPrefix is the start of the token, shown to recognise it.
	TokenPrefix string `json:"token_prefix"`
	// TokenHash is HashToken(token); never shown.
	TokenHash  string   `json:"-"`
	Scopes     []string `json:"scopes"`
	CreatedAt  int64    `json:"created_at"`
	ExpiresAt  int64    `json:"expires_at,omitempty"`
	LastUsedAt int64    `json:"last_used_at,omitempty"`
	RevokedAt  int64    `json:"revoked_at,omitempty"`
	CreatedBy  string   `json:"created_by,omitempty"`
}

func (s *ServiceAccount) principal() string {
	if s.Principal != "" {
		return s.Principal
	}
	return "sa:" + s.ID
}

// expired reports whether the account's token has expired at now.
func (s *ServiceAccount) expired(now time.Time) bool {
	return s.ExpiresAt != 0 && !now.Before(time.Unix(s.ExpiresAt, 0))
}

// ServiceAccountLookup is what the Authenticator needs of the service
// accounts' store.
type ServiceAccountLookup interface {
	// GetServiceAccountByTokenHash returns the account whose TokenHash is
	// hash, or an error matching core.ErrNotFound. Revoked and expired
	// accounts are returned too (the Authenticator rejects them).
	GetServiceAccountByTokenHash(ctx context.Context, hash string) (*ServiceAccount, error)
	// TouchServiceAccount sets LastUsedAt (Unix seconds) of account id.
	TouchServiceAccount(ctx context.Context, id string, at int64) error
}

// ServiceAccountStore stores service accounts. Implementations:
// storage/sqlite, storage/postgres; both pass storage/storetest.
// A missing account is core.ErrNotFound (wrapped).
type ServiceAccountStore interface {
	ServiceAccountLookup
	// CreateServiceAccount stores a; a duplicate id or token hash is
	// core.ErrConflict.
	CreateServiceAccount(ctx context.Context, a *ServiceAccount) error
	// GetServiceAccount returns the account with id (revoked ones too).
	GetServiceAccount(ctx context.Context, id string) (*ServiceAccount, error)
	// ListServiceAccounts returns a page (newest first) and the total.
	ListServiceAccounts(ctx context.Context, p ListServiceAccountsParams) ([]*ServiceAccount, int, error)
	// RevokeServiceAccount sets RevokedAt (once: a second revoke keeps the
	// first time) and returns the account.
	RevokeServiceAccount(ctx context.Context, id string, at int64) (*ServiceAccount, error)
}

// ListServiceAccountsParams pages ListServiceAccounts (Page is 1-based;
// Limit <= 0: no limit).
type ListServiceAccountsParams struct {
	IncludeRevoked bool
	Limit          int
	Page           int
}

// NewToken returns a fresh service-account token (prefix agw_sa_, 256
// random bits in base62, a CRC-32 checksum), the prefix to show for it, and
// the hash to store.
func NewToken() (token, prefix, hash string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	secret := base62(b[:], saSecretLen)
	token = ServiceAccountTokenPrefix + secret + checksum(secret)
	return token, token[:saPrefixShown], HashToken(token)
}

// HashToken returns the hex SHA-256 of token, the form stored and looked up.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// NewServiceAccount builds an account with a fresh id and token; the token
// is returned once and must be shown to the creator and never stored.
// ttl <= 0 means no expiry. Scopes are validated and normalised.
func NewServiceAccount(name, userID string, scopes []string, ttl time.Duration, createdBy string) (*ServiceAccount, string, error) {
	if strings.TrimSpace(name) == "" {
		return nil, "", errors.New("auth: service account needs a name")
	}
	parsed, err := ParseScopes(scopes)
	if err != nil {
		return nil, "", fmt.Errorf("auth: service account scopes: %w", err)
	}
	norm := make([]string, len(parsed))
	for i, s := range parsed {
		norm[i] = s.String()
	}
	var idb [16]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return nil, "", err
	}
	token, prefix, hash := NewToken()
	now := time.Now().UTC().Truncate(time.Second)
	sa := &ServiceAccount{
		ID: hex.EncodeToString(idb[:]), Name: name, UserID: userID,
		TokenPrefix: prefix, TokenHash: hash, Scopes: norm, CreatedAt: now.Unix(), CreatedBy: createdBy,
	}
	sa.Principal = "sa:" + sa.ID
	if ttl > 0 {
		sa.ExpiresAt = now.Add(ttl).Unix()
	}
	return sa, token, nil
}

// wellFormedServiceAccountToken checks length, alphabet and checksum, so
// that garbage never reaches the store.
func wellFormedServiceAccountToken(t string) bool {
	if len(t) != saTokenLen || !strings.HasPrefix(t, ServiceAccountTokenPrefix) {
		return false
	}
	body := t[len(ServiceAccountTokenPrefix):]
	for i := 0; i < len(body); i++ {
		if strings.IndexByte(base62Alphabet, body[i]) < 0 {
			return false
		}
	}
	secret, sum := body[:saSecretLen], body[saSecretLen:]
	return checksum(secret) == sum
}

const base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// base62 encodes b as exactly n base62 digits (left-padded with zeros).
func base62(b []byte, n int) string {
	x := new(big.Int).SetBytes(b)
	base := big.NewInt(62)
	mod := new(big.Int)
	out := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		x.DivMod(x, base, mod)
		out[i] = base62Alphabet[mod.Int64()]
	}
	return string(out)
}

func checksum(secret string) string {
	var b [4]byte
	c := crc32.ChecksumIEEE([]byte(secret))
	b[0], b[1], b[2], b[3] = byte(c>>24), byte(c>>16), byte(c>>8), byte(c)
	return base62(b[:], saChecksumLen)
}
