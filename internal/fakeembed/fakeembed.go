// Package fakeembed is a deterministic, offline embeddings server speaking
// OpenAI's POST /v1/embeddings wire format, for tests (unit and e2e): a
// text's vector is its bag of words hashed into N dimensions and
// normalised, so texts sharing words are near and the same text always
// has the same vector.
package fakeembed

import (
	"encoding/json"
	"hash/fnv"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
)

// Vector is text's embedding of dims dimensions: each lowercased word
// (letters and digits) adds 1 at the index its FNV-1a hash picks; the sum
// is normalised to length 1 (a text without words is the first unit
// vector).
func Vector(text string, dims int) []float32 {
	v := make([]float64, dims)
	for _, w := range Words(text) {
		h := fnv.New32a()
		h.Write([]byte(w))
		v[int(h.Sum32()%uint32(dims))]++
	}
	var n float64
	for _, x := range v {
		n += x * x
	}
	out := make([]float32, dims)
	if n == 0 {
		out[0] = 1
		return out
	}
	n = math.Sqrt(n)
	for i, x := range v {
		out[i] = float32(x / n)
	}
	return out
}

// Words are text's lowercased words.
func Words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// Server is the fake's handler. Set its fields before serving.
type Server struct {
	// Dims is the vectors' length (default 64); a request's dimensions
	// overrides it.
	Dims int
	// Delay is slept before each answer (a slow embedder).
	Delay time.Duration
	// FailFirst answers the first FailFirst requests with FailStatus
	// (default 500); a negative FailFirst fails every request.
	FailFirst  int
	FailStatus int
	// APIKey, when set, is the bearer token required (else 401).
	APIKey string

	requests atomic.Int64
	inputs   atomic.Int64
}

// Requests is how many requests were answered (failed ones included).
func (s *Server) Requests() int64 { return s.requests.Load() }

// Inputs is how many texts were embedded.
func (s *Server) Inputs() int64 { return s.inputs.Load() }

type request struct {
	Input      json.RawMessage `json:"input"`
	Model      string          `json:"model"`
	Dimensions int             `json:"dimensions"`
	Format     string          `json:"encoding_format"`
}

type datum struct {
	Object    string    `json:"object"`
	Index     int       `json:"index"`
	Embedding []float32 `json:"embedding"`
}

func apiError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error"}})
}

// ServeHTTP implements http.Handler: POST .../embeddings.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.requests.Add(1)
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/embeddings") {
		apiError(w, http.StatusNotFound, "not found: "+r.Method+" "+r.URL.Path)
		return
	}
	if s.Delay > 0 {
		select {
		case <-time.After(s.Delay):
		case <-r.Context().Done():
			return
		}
	}
	if s.FailFirst < 0 || n <= int64(s.FailFirst) {
		st := s.FailStatus
		if st == 0 {
			st = http.StatusInternalServerError
		}
		apiError(w, st, "fake failure")
		return
	}
	if s.APIKey != "" && r.Header.Get("Authorization") != "Bearer "+s.APIKey {
		apiError(w, http.StatusUnauthorized, "Incorrect API key provided")
		return
	}
	var req request
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<20)).Decode(&req); err != nil {
		apiError(w, http.StatusBadRequest, "malformed body: "+err.Error())
		return
	}
	var inputs []string
	if err := json.Unmarshal(req.Input, &inputs); err != nil {
		var one string
		if err := json.Unmarshal(req.Input, &one); err != nil {
			apiError(w, http.StatusBadRequest, "input must be a string or a list of strings")
			return
		}
		inputs = []string{one}
	}
	if req.Model == "" || len(inputs) == 0 {
		apiError(w, http.StatusBadRequest, "model and input are required")
		return
	}
	dims := s.Dims
	if req.Dimensions > 0 {
		dims = req.Dimensions
	}
	if dims <= 0 {
		dims = 64
	}
	data := make([]datum, len(inputs))
	tokens := 0
	for i, in := range inputs {
		data[i] = datum{Object: "embedding", Index: i, Embedding: Vector(in, dims)}
		tokens += len(Words(in))
	}
	s.inputs.Add(int64(len(inputs)))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": req.Model,
		"usage": map[string]int{"prompt_tokens": tokens, "total_tokens": tokens}})
}
