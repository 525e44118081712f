// Package httptool builds tools that call an HTTP API, declared in config:
// a name, a description, JSON-schema parameters, a method, a URL template,
// headers, a body template, a timeout and a response size limit.
package httptool

import (
	"errors"
	"net/http"
	"time"

	"github.com/agentgate/agentgate/core/tool"
)

// Spec declares one HTTP tool.
type Spec struct {
	Name        string
	Description string
	// Parameters is the JSON Schema of the arguments object (type object).
	Parameters map[string]any
	// Method is the HTTP method (default GET).
	Method string
	// URL is an RFC 6570 URI template expanded with the arguments, e.g.
	// https://api.example.com/cities/{city}/weather{?units}.
	URL string
	// Headers are sent with every request (values are already expanded
	// from the environment by the config loader).
	Headers map[string]string
	// Body is a Go text/template rendered with the arguments as its data
	// and a json function ({"q": {{json .city}}}). Empty: methods with a
	// body send the arguments object as JSON, others send none.
	Body string
	// Timeout bounds one call (default 30s).
	Timeout time.Duration
	// MaxResponseBytes limits the response body (default 1 MiB); a larger
	// response fails the call.
	MaxResponseBytes int64
	// HTTPClient replaces the default client (tests).
	HTTPClient *http.Client
}

// New validates spec and returns the tool.
func New(spec Spec) (*tool.Tool, error) {
	return nil, errors.New("httptool: not implemented yet")
}
