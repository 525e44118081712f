package embed_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core/knowledge/embed"
	"github.com/agentgate/agentgate/internal/fakeembed"
)

func serve(t *testing.T, s *fakeembed.Server) string {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

func TestEmbedBatchesInOrder(t *testing.T) {
	fake := &fakeembed.Server{Dims: 16, APIKey: "k"}
	e, err := embed.New(embed.Config{ID: "fake", BaseURL: serve(t, fake), APIKey: "k", Model: "m", Dimensions: 16, BatchSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for i := range 8 {
		texts = append(texts, fmt.Sprintf("text number %d", i))
	}
	vecs, err := e.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	if len(vecs) != 8 || fake.Requests() != 3 || fake.Inputs() != 8 {
		t.Fatalf("vectors %d, requests %d, inputs %d; want 8, 3, 8", len(vecs), fake.Requests(), fake.Inputs())
	}
	for i, v := range vecs {
		want := fakeembed.Vector(texts[i], 16)
		for j := range v {
			if math.Abs(float64(v[j]-want[j])) > 1e-6 {
				t.Fatalf("vector %d differs from its text's at %d", i, j)
			}
		}
	}
	if e.Dimensions() != 16 || e.ID() != "fake" {
		t.Fatalf("dims %d id %q", e.Dimensions(), e.ID())
	}
}

func TestEmbedRetries5xxAnd429(t *testing.T) {
	for _, st := range []int{http.StatusInternalServerError, http.StatusTooManyRequests} {
		fake := &fakeembed.Server{Dims: 8, FailFirst: 2, FailStatus: st}
		e, err := embed.New(embed.Config{ID: "x", BaseURL: serve(t, fake), Model: "m", Dimensions: 8, MaxRetries: 2})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Embed(context.Background(), []string{"a"}); err != nil {
			t.Fatalf("status %d: after 2 failures and 2 retries: %v", st, err)
		}
		if fake.Requests() != 3 {
			t.Fatalf("status %d: %d requests, want 3", st, fake.Requests())
		}
	}
}

func TestEmbedClearErrors(t *testing.T) {
	ctx := context.Background()
	fake := &fakeembed.Server{Dims: 8, FailFirst: -1, FailStatus: http.StatusBadGateway}
	e, _ := embed.New(embed.Config{ID: "down", BaseURL: serve(t, fake), Model: "m", Dimensions: 8, MaxRetries: -1})
	_, err := e.Embed(ctx, []string{"a"})
	if err == nil || !strings.Contains(err.Error(), `embedder "down"`) || !strings.Contains(err.Error(), "502") {
		t.Fatalf("502: %v", err)
	}
	if fake.Requests() != 1 {
		t.Fatalf("MaxRetries -1 made %d requests", fake.Requests())
	}

	auth := &fakeembed.Server{Dims: 8, APIKey: "right"}
	e, _ = embed.New(embed.Config{ID: "k", BaseURL: serve(t, auth), APIKey: "wrong", Model: "m", Dimensions: 8})
	if _, err := e.Embed(ctx, []string{"a"}); err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "Incorrect API key") {
		t.Fatalf("401: %v", err)
	}

	e, _ = embed.New(embed.Config{ID: "d", BaseURL: serve(t, &fakeembed.Server{Dims: 8}), Model: "m", Dimensions: 12})
	if _, err := e.Embed(ctx, []string{"a"}); err == nil || !strings.Contains(err.Error(), "8 dimensions, the config says 12") {
		t.Fatalf("dimension mismatch: %v", err)
	}

	// SendDimensions asks the server for them.
	e, _ = embed.New(embed.Config{ID: "d", BaseURL: serve(t, &fakeembed.Server{Dims: 8}), Model: "m", Dimensions: 12, SendDimensions: true})
	if v, err := e.Embed(ctx, []string{"a"}); err != nil || len(v[0]) != 12 {
		t.Fatalf("send dimensions: %v", err)
	}

	e, _ = embed.New(embed.Config{ID: "gone", BaseURL: "http://127.0.0.1:1/v1", Model: "m", Dimensions: 8, MaxRetries: -1})
	if _, err := e.Embed(ctx, []string{"a"}); err == nil || !strings.Contains(err.Error(), "cannot reach") {
		t.Fatalf("unreachable: %v", err)
	}
}

func TestNewValidates(t *testing.T) {
	for _, c := range []embed.Config{{Dimensions: 8}, {Model: "m"}, {Model: "m", Dimensions: 8, BatchSize: 5000}} {
		if _, err := embed.New(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

func TestFakeVectorsNearForSimilarTexts(t *testing.T) {
	dot := func(a, b []float32) (s float64) {
		for i := range a {
			s += float64(a[i] * b[i])
		}
		return
	}
	a := fakeembed.Vector("the quick brown fox jumps", 64)
	b := fakeembed.Vector("a quick brown fox", 64)
	c := fakeembed.Vector("postgres replication lag", 64)
	if dot(a, b) <= dot(a, c) {
		t.Fatalf("similar %.3f not above unrelated %.3f", dot(a, b), dot(a, c))
	}
	if math.Abs(dot(a, a)-1) > 1e-5 {
		t.Fatalf("not normalised: %f", dot(a, a))
	}
}

// TestEmbedWireFormat checks the request the SDK sends: POST
// {base}/embeddings, bearer key, model, input as a list, float encoding,
// dimensions only when asked for; and answers read by index, in any order.
func TestEmbedWireFormat(t *testing.T) {
	var got []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/embeddings" || r.Header.Get("Authorization") != "Bearer sk-test" {
			t.Errorf("%s %s auth %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
		}
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Error(err)
		}
		got = append(got, body)
		w.Header().Set("Content-Type", "application/json")
		// Out of order: the answer is read by index.
		io.WriteString(w, `{"object":"list","model":"m","data":[
			{"object":"embedding","index":1,"embedding":[0,1]},
			{"object":"embedding","index":0,"embedding":[1,0]}],"usage":{"prompt_tokens":2,"total_tokens":2}}`)
	}))
	defer srv.Close()
	for _, send := range []bool{false, true} {
		e, err := embed.New(embed.Config{ID: "w", BaseURL: srv.URL + "/v1", APIKey: "sk-test", Model: "text-embedding-3-small", Dimensions: 2, SendDimensions: send})
		if err != nil {
			t.Fatal(err)
		}
		v, err := e.Embed(context.Background(), []string{"first", ""})
		if err != nil {
			t.Fatal(err)
		}
		if v[0][0] != 1 || v[1][1] != 1 {
			t.Fatalf("vectors %v not in input order", v)
		}
	}
	if len(got) != 2 {
		t.Fatalf("%d requests", len(got))
	}
	for i, b := range got {
		in, _ := b["input"].([]any)
		if b["model"] != "text-embedding-3-small" || b["encoding_format"] != "float" || len(in) != 2 || in[0] != "first" || in[1] != " " {
			t.Fatalf("request %d: %v", i, b)
		}
	}
	if _, has := got[0]["dimensions"]; has {
		t.Fatalf("dimensions sent unasked: %v", got[0])
	}
	if got[1]["dimensions"] != 2.0 {
		t.Fatalf("dimensions not sent: %v", got[1])
	}
}
