package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/agentgate/agentgate"
)

// The commands that talk to a running gateway (run, eval --url,
// components) find it and authenticate to it the same way.

// gatewayURL is base without a trailing slash, or the gateway on
// $AGENTGATE_ADDR (else agentgate.DefaultAddr) when base is empty.
func gatewayURL(base string) string {
	if base == "" {
		addr := os.Getenv("AGENTGATE_ADDR")
		if addr == "" {
			addr = agentgate.DefaultAddr
		}
		base = "http://" + addr
	}
	return strings.TrimRight(base, "/")
}

// gatewayToken is token, or $AGENTGATE_TOKEN when it is empty.
func gatewayToken(token string) string {
	if token == "" {
		return os.Getenv("AGENTGATE_TOKEN")
	}
	return token
}

// apiClient calls a gateway's REST API with a bearer token.
type apiClient struct {
	base string
	http *http.Client
	// scope is the scope resource the commands' routes need (named in a
	// 403's hint).
	scope string
}

func newAPIClient(base, token, scope string) *apiClient {
	return &apiClient{base: gatewayURL(base), http: &http.Client{Transport: bearer{gatewayToken(token)}, Timeout: 30 * time.Second}, scope: scope}
}

// do sends body (JSON, when not nil) and decodes a 2xx answer into out;
// another status is an error with the gateway's detail (apiError).
func (c *apiClient) do(ctx context.Context, method, path string, body, out any) (int, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("cannot reach the gateway at %s: %w", c.base, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		err := apiError(resp)
		if resp.StatusCode == http.StatusForbidden {
			err = fmt.Errorf("%w (the token needs the %s scope)", err, c.scope)
		}
		return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}
