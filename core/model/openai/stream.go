package openai

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	gojson "github.com/goccy/go-json"
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

// sseReader reads the data of server-sent events (text/event-stream): the
// data lines of one event joined by "\n", dispatched at a blank line (or
// at the end of the body). Comments, event names, ids and retry fields are
// skipped.
type sseReader struct {
	r    *bufio.Reader
	max  int // bytes of one event's data and of one line
	data []byte
	line []byte
	err  error
}

func newSSEReader(r io.Reader) *sseReader {
	return &sseReader{r: bufio.NewReaderSize(r, 8<<10), max: maxEventSize}
}

// next returns the next event's data, valid until the following call, or
// io.EOF at the end of the body.
func (s *sseReader) next() ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	s.data = s.data[:0]
	have := false
	for {
		line, err := s.readLine()
		if err != nil {
			if err == io.EOF && have {
				s.err = io.EOF
				return s.data, nil
			}
			s.err = err
			return nil, err
		}
		if len(line) == 0 {
			if have {
				return s.data, nil
			}
			continue
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
		if string(name) != "data" {
			continue
		}
		if have {
			s.data = append(s.data, '\n')
		}
		if len(s.data)+len(value) > s.max {
			s.err = fmt.Errorf("openai: a stream event is larger than %d bytes", s.max)
			return nil, s.err
		}
		s.data = append(s.data, value...)
		have = true
	}
}

// readLine returns one line without its end (\n, \r\n or \r before \n),
// valid until the next call.
func (s *sseReader) readLine() ([]byte, error) {
	line, err := s.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		s.line = append(s.line[:0], line...)
		for err == bufio.ErrBufferFull {
			if len(s.line) > s.max {
				return nil, fmt.Errorf("openai: a stream event is larger than %d bytes", s.max)
			}
			line, err = s.r.ReadSlice('\n')
			s.line = append(s.line, line...)
		}
		line = s.line
	}
	if err != nil && (err != io.EOF || len(line) == 0) {
		return nil, err
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r")), nil
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
