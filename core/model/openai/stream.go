package openai

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	gojson "github.com/goccy/go-json"

	"github.com/agentgate/agentgate/internal/sse"
)

// The streamed reply is read here rather than through the SDK's
// ssestream.Stream[openai.ChatCompletionChunk]: the SDK decodes every chunk
// into its full response type by reflection (apijson, plus a gjson pass for
// the "error" key and a json.Valid scan), which at a model's token rate is
// most of the gateway's CPU per streamed token. The request itself (body,
// auth, headers, retries, error responses) still goes through the SDK.

// maxEventSize bounds one server-sent event's data (the SDK's limit).
const maxEventSize = 32 << 20

// chunk is the part of a chat.completion.chunk the provider uses.
type chunk struct {
	Choices []chunkChoice `json:"choices"`
	Usage   *chunkUsage   `json:"usage"`
	// Error is set on an error event ({"error": {...}}) instead of a chunk.
	Error gojson.RawMessage `json:"error"`
}

type chunkChoice struct {
	Index int64      `json:"index"`
	Delta chunkDelta `json:"delta"`
}

type chunkDelta struct {
	Content string `json:"content"`
	Refusal string `json:"refusal"`
	// ReasoningContent (DeepSeek, vLLM) and Reasoning (Ollama, OpenRouter,
	// newer vLLM) are non-standard: a value that is not a string is ignored.
	ReasoningContent looseString     `json:"reasoning_content"`
	Reasoning        looseString     `json:"reasoning"`
	ToolCalls        []toolCallDelta `json:"tool_calls"`
}

type chunkUsage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	TotalTokens      int64 `json:"total_tokens"`
}

// toolCallDelta is one streamed fragment of a tool call.
type toolCallDelta struct {
	Index    int64  `json:"index"`
	ID       string `json:"id"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// looseString is a JSON string; any other value decodes to "".
type looseString string

func (s *looseString) UnmarshalJSON(b []byte) error {
	var v string
	if gojson.Unmarshal(b, &v) == nil {
		*s = looseString(v)
	} else {
		*s = ""
	}
	return nil
}

// reasoning is the delta's reasoning text: servers that send both fields
// send the same text, so reasoning_content wins.
func (d *chunkDelta) reasoning() string {
	if d.ReasoningContent != "" {
		return string(d.ReasoningContent)
	}
	return string(d.Reasoning)
}

// streamError is an error event in the stream.
type streamError struct{ data []byte }

func (e *streamError) Error() string { return "openai: stream error: " + bodyMessage(e.data) }

// errInvalidChunk marks a chunk that is not the JSON of a chunk.
var errInvalidChunk = errors.New("openai: invalid stream chunk")

// sseReader reads the data of the provider's server-sent events
// (internal/sse: data lines joined by "\n", comments, names and ids
// skipped, a last event without its blank line delivered), with the
// provider's bound and error.
type sseReader struct{ r *sse.Reader }

func newSSEReader(r io.Reader, max int) *sseReader {
	return &sseReader{r: sse.NewReader(r, 8<<10, max)}
}

// next returns the next event's data, valid until the following call, or
// io.EOF at the end of the body.
func (s *sseReader) next() ([]byte, error) {
	ev, err := s.r.Next()
	if errors.Is(err, sse.ErrTooLarge) {
		return nil, fmt.Errorf("openai: a stream event is larger than %d bytes", s.r.Max())
	}
	return ev.Data, err
}

// decodeChunk decodes one event's data into c (zeroed first, its choices'
// array kept): done at the
// stream's [DONE], a *streamError at an error event.
func decodeChunk(data []byte, c *chunk) (done bool, err error) {
	if bytes.HasPrefix(data, []byte("[DONE]")) {
		return true, nil
	}
	// The choices' array is decoded into again (zeroed first): a token's
	// chunk allocates only its text.
	choices := c.Choices[:cap(c.Choices)]
	clear(choices)
	*c = chunk{Choices: choices[:0]}
	if err := gojson.Unmarshal(data, c); err != nil {
		return false, fmt.Errorf("%w: %w", errInvalidChunk, err)
	}
	if len(c.Error) > 0 && string(c.Error) != "null" {
		return false, &streamError{data: bytes.Clone(data)}
	}
	return false, nil
}
