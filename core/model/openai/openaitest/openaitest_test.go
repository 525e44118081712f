package openaitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplit(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "a", "hello world", "héllo wörld ünïcode ✓✓✓", `{"expression":"(2+3)*4"}`} {
		for _, n := range []int{0, 1, 2, 3, 7, 100} {
			parts := Split(s, n)
			if strings.Join(parts, "") != s {
				t.Errorf("Split(%q, %d) = %q loses text", s, n, parts)
			}
			if s != "" && n > 1 && len(s) >= n && len(parts) < 2 {
				t.Errorf("Split(%q, %d) = %q: not split", s, n, parts)
			}
			for _, p := range parts {
				if p == "" || !utf8.ValidString(p) {
					t.Errorf("Split(%q, %d): bad piece %q", s, n, p)
				}
			}
		}
	}
}

func TestDecodeReplies(t *testing.T) {
	t.Parallel()
	want := []Reply{{Text: "a"}, {ToolCalls: []ToolCall{{Name: "calc", Arguments: `{"x":1}`}}}}
	for _, in := range []string{
		`{"replies": [{"text": "a"}, {"tool_calls": [{"name": "calc", "arguments": {"x": 1}}]}]}`,
		`[{"text": "a"}, {"tool_calls": [{"name": "calc", "arguments": "{\"x\":1}"}]}]`,
	} {
		got, err := DecodeReplies(strings.NewReader(in))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("DecodeReplies(%s) = %+v, %v", in, got, err)
		}
	}
	one, err := DecodeReplies(strings.NewReader(`{"error": {"status": 429, "message": "slow", "retry_after": "1"}}`))
	if err != nil || len(one) != 1 || one[0].Error == nil || one[0].Error.Status != 429 {
		t.Errorf("one reply = %+v, %v", one, err)
	}
	if _, err := DecodeReplies(strings.NewReader(`[{"txt": "typo"}]`)); err == nil {
		t.Error("unknown field accepted")
	}
	// A reply round-trips through JSON (PushRemote).
	b, _ := json.Marshal(want)
	got, err := DecodeReplies(bytes.NewReader(b))
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("round trip = %+v, %v", got, err)
	}
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestMatchRepeatAndRefusals(t *testing.T) {
	t.Parallel()
	srv := NewServer(t,
		Reply{Match: "weather", Text: "sunny"},
		Reply{Text: "default", Repeat: true})
	req := func(user string) string {
		return `{"model":"m","stream":true,"messages":[{"role":"user","content":"` + user + `"}]}`
	}
	content := func(stream string) string {
		var out strings.Builder
		for _, line := range strings.Split(stream, "\n") {
			data, ok := strings.CutPrefix(line, "data: ")
			if !ok || data == "[DONE]" {
				continue
			}
			var c struct {
				Choices []struct {
					Delta struct {
						Content string `json:"content"`
					} `json:"delta"`
				} `json:"choices"`
			}
			if err := json.Unmarshal([]byte(data), &c); err != nil {
				t.Fatalf("bad chunk %s: %v", data, err)
			}
			for _, ch := range c.Choices {
				out.WriteString(ch.Delta.Content)
			}
		}
		return out.String()
	}
	for _, tc := range []struct{ user, want string }{{"hello", "default"}, {"the WEATHER?", "sunny"}, {"weather again", "default"}} {
		code, body := post(t, srv.URL()+"/chat/completions", req(tc.user))
		if code != 200 || content(body) != tc.want {
			t.Errorf("%q: %d %q, want %q", tc.user, code, content(body), tc.want)
		}
	}
	if code, body := post(t, srv.URL()+"/chat/completions", `{"model":"m","messages":[]}`); code != 400 || !strings.Contains(body, "stream:true") {
		t.Errorf("non-streaming: %d %s", code, body)
	}
	if code, _ := post(t, srv.URL()+"/chat/completions", `{nope`); code != 400 {
		t.Errorf("invalid body: %d", code)
	}
	reqs := srv.Requests()
	if len(reqs) != 5 || reqs[1].LastUser() != "the WEATHER?" || reqs[4].Raw != nil {
		t.Errorf("requests = %+v", reqs)
	}
	remote, err := FetchRequests(context.Background(), srv.URL())
	if err != nil || len(remote) != 5 || remote[0].Body.Messages[0].Content != "hello" {
		t.Errorf("FetchRequests = %+v, %v", remote, err)
	}
	empty := NewServer(t)
	if code, body := post(t, empty.URL()+"/chat/completions", req("x")); code != 400 || !strings.Contains(body, "no scripted reply") {
		t.Errorf("empty queue: %d %s", code, body)
	}
}

func TestMessageContentShapes(t *testing.T) {
	t.Parallel()
	var r ChatRequest
	in := `{"messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},
		{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},{"role":"tool","tool_call_id":"c","content":""}]}`
	if err := json.Unmarshal([]byte(in), &r); err != nil {
		t.Fatal(err)
	}
	m := r.Messages
	if m[0].HasContent || m[0].ToolCalls[0].Function.Name != "f" || !m[1].HasContent || m[1].Content != "ab" || !m[2].HasContent || m[2].ToolCallID != "c" {
		t.Errorf("messages = %+v", m)
	}
}
