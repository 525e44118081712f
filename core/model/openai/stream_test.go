package openai

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
)

func readEvents(t *testing.T, body string, size int) ([]string, error) {
	t.Helper()
	if size <= 0 {
		size = maxEventSize
	}
	s := newSSEReader(strings.NewReader(body), size)
	var out []string
	for {
		data, err := s.next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, string(data))
	}
}

// The framing itself is internal/sse's (its tests); this is the
// provider's use of it: long lines, and its bound with its own error.
func TestSSEReaderLongLines(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 50_000) // longer than the reader's buffer
	got, err := readEvents(t, "data: "+long+"\n\ndata: short\n\n", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != long || got[1] != "short" {
		t.Fatalf("got %d events, first %d bytes", len(got), len(got[0]))
	}
	// Over the limit, in one line or in many.
	for _, body := range []string{"data: " + long + "\n\n", strings.Repeat("data: "+long[:1000]+"\n", 60) + "\n"} {
		_, err = readEvents(t, body, 40_000)
		if err == nil || !strings.Contains(err.Error(), "larger than 40000 bytes") {
			t.Errorf("err = %v, want the size limit", err)
		}
	}
}

func TestDecodeChunk(t *testing.T) {
	t.Parallel()
	var c chunk
	done, err := decodeChunk([]byte(`{"id":"x","choices":[{"index":0,"delta":{"content":"hé\n\"","reasoning":{"not":"a string"},`+
		`"tool_calls":[{"index":1,"id":"call_1","type":"function","function":{"name":"add","arguments":"{\"a\":"}}]},"finish_reason":null}],"usage":null}`), &c)
	if err != nil || done {
		t.Fatalf("done %v, err %v", done, err)
	}
	if len(c.Choices) != 1 || c.Choices[0].Delta.Content != "hé\n\"" || c.Choices[0].Delta.reasoning() != "" {
		t.Fatalf("chunk = %+v", c)
	}
	tc := c.Choices[0].Delta.ToolCalls
	if len(tc) != 1 || tc[0].Index != 1 || tc[0].ID != "call_1" || tc[0].Function.Name != "add" || tc[0].Function.Arguments != `{"a":` {
		t.Fatalf("tool calls = %+v", tc)
	}
	// The next chunk starts from zero: nothing of the previous one is left.
	if _, err := decodeChunk([]byte(`{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}`), &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Choices) != 0 || c.Usage == nil || *c.Usage != (chunkUsage{3, 4, 7}) {
		t.Fatalf("chunk = %+v", c)
	}
	if done, err := decodeChunk([]byte("[DONE]"), &c); !done || err != nil {
		t.Fatalf("[DONE]: done %v, err %v", done, err)
	}
	_, err = decodeChunk([]byte(`{"error":{"message":"overloaded","type":"server_error"}}`), &c)
	var se *streamError
	if !errors.As(err, &se) || err.Error() != "openai: stream error: overloaded" {
		t.Fatalf("err = %v", err)
	}
	for _, bad := range []string{`{"choices":[{"delta":`, `{"choices":"no"}`, `{"choices":[{"delta":{"content":5}}]}`, `nope`} {
		if _, err := decodeChunk([]byte(bad), &c); !errors.Is(err, errInvalidChunk) {
			t.Errorf("%s: err = %v, want an invalid chunk", bad, err)
		}
	}
}

// TestDecodeChunkAsSDK checks the chunk fields the provider reads against
// the SDK's own decoding of the same text.
func TestDecodeChunkAsSDK(t *testing.T) {
	t.Parallel()
	for _, text := range []string{
		benchChunk,
		`{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":null,"refusal":"no","tool_calls":[{"index":0,"id":"t","function":{"name":"f","arguments":""}}]}}]}`,
		`{"id":"c","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":22,"total_tokens":33,"prompt_tokens_details":{"cached_tokens":0}}}`,
	} {
		var sdk openai.ChatCompletionChunk
		if err := json.Unmarshal([]byte(text), &sdk); err != nil {
			t.Fatal(err)
		}
		var c chunk
		if _, err := decodeChunk([]byte(text), &c); err != nil {
			t.Fatal(err)
		}
		if len(c.Choices) != len(sdk.Choices) {
			t.Fatalf("%s: %d choices, SDK %d", text, len(c.Choices), len(sdk.Choices))
		}
		for i, ch := range sdk.Choices {
			d := c.Choices[i].Delta
			if ch.Index != c.Choices[i].Index || ch.Delta.Content != d.Content || ch.Delta.Refusal != d.Refusal || len(ch.Delta.ToolCalls) != len(d.ToolCalls) {
				t.Errorf("%s: choice %d = %+v, SDK %+v", text, i, c.Choices[i], ch)
			}
			for j, tc := range ch.Delta.ToolCalls {
				got := d.ToolCalls[j]
				if tc.Index != got.Index || tc.ID != got.ID || tc.Function.Name != got.Function.Name || tc.Function.Arguments != got.Function.Arguments {
					t.Errorf("%s: tool call %d = %+v, SDK %+v", text, j, got, tc)
				}
			}
		}
		var u chunkUsage
		if c.Usage != nil {
			u = *c.Usage
		}
		if u != (chunkUsage{sdk.Usage.PromptTokens, sdk.Usage.CompletionTokens, sdk.Usage.TotalTokens}) {
			t.Errorf("%s: usage %+v, SDK %+v", text, u, sdk.Usage)
		}
	}
}

const benchChunk = `{"id":"chatcmpl-paced","object":"chat.completion.chunk","created":1765000000,"model":"paced-1",` +
	`"choices":[{"index":0,"delta":{"content":"tok 000123 1765000000123456789 "},"finish_reason":null}]}`

// BenchmarkChunkDecode compares one streamed chunk's decoding: the SDK's
// ChatCompletionChunk (what the provider used to do per chunk) against
// decodeChunk.
func BenchmarkChunkDecode(b *testing.B) {
	data := []byte(benchChunk)
	b.Run("sdk", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var c openai.ChatCompletionChunk
			if err := json.Unmarshal(data, &c); err != nil || len(c.Choices) != 1 {
				b.Fatal(err)
			}
		}
	})
	b.Run("decodeChunk", func(b *testing.B) {
		b.ReportAllocs()
		var c chunk
		for b.Loop() {
			if _, err := decodeChunk(data, &c); err != nil || len(c.Choices) != 1 {
				b.Fatal(err)
			}
		}
	})
}

// TestDecodeChunkReusesChoices: a chunk is decoded into the previous one's
// choices array, zeroed first (no field of an earlier choice is left), so
// a streamed token's chunk allocates only its text.
func TestDecodeChunkReusesChoices(t *testing.T) {
	// Not parallel: AllocsPerRun.
	var c chunk
	if _, err := decodeChunk([]byte(`{"choices":[{"index":0,"delta":{"content":"a","refusal":"r","reasoning_content":"think",`+
		`"tool_calls":[{"index":0,"id":"call_1","function":{"name":"f","arguments":"{}"}}]}}]}`), &c); err != nil {
		t.Fatal(err)
	}
	if _, err := decodeChunk([]byte(`{"choices":[{"delta":{"content":"b"}}]}`), &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Choices) != 1 || !sameChoice(c.Choices[0], chunkChoice{Delta: chunkDelta{Content: "b"}}) {
		t.Fatalf("second chunk = %+v", c.Choices)
	}
	data := []byte(benchChunk)
	if n := testing.AllocsPerRun(100, func() { _, _ = decodeChunk(data, &c) }); n > 1 {
		t.Errorf("a token's chunk: %v allocations, want at most its text's", n)
	}
}

func sameChoice(a, b chunkChoice) bool {
	return a.Index == b.Index && a.Delta.Content == b.Delta.Content && a.Delta.Refusal == b.Delta.Refusal &&
		a.Delta.reasoning() == b.Delta.reasoning() && len(a.Delta.ToolCalls) == len(b.Delta.ToolCalls)
}
