package a2a

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestDecodeRequest(t *testing.T) {
	t.Parallel()
	cases := []struct {
		body   string
		method string
		id     string
		params string
		kind   ErrorKind
		ok     bool
	}{
		{body: `{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":"x"}}`, method: "GetTask", id: `1`, params: `{"id":"x"}`, ok: true},
		{body: ` {"jsonrpc":"2.0","id":"a b","method":"m"} `, method: "m", id: `"a b"`, ok: true},
		{body: `{"jsonrpc":"2.0","id":-1.5e3,"method":"m","params":null}`, method: "m", id: `-1.5e3`, ok: true},
		{body: `{"jsonrpc":"2.0","id":null,"method":"m"}`, method: "m", id: `null`, ok: true},
		{body: ``, kind: KindParse, id: `null`},
		{body: `{"jsonrpc":"2.0",`, kind: KindParse, id: `null`},
		{body: `[]`, kind: KindInvalidRequest, id: `null`},
		{body: `"GetTask"`, kind: KindInvalidRequest, id: `null`},
		{body: `{"jsonrpc":"2.0","method":"m"}`, kind: KindInvalidRequest, id: `null`},
		{body: `{"jsonrpc":"2.0","id":true,"method":"m"}`, kind: KindInvalidRequest, id: `null`},
		{body: `{"jsonrpc":2,"id":3,"method":"m"}`, kind: KindInvalidRequest, id: `3`},
		{body: `{"jsonrpc":"2.0","id":3,"method":""}`, kind: KindInvalidRequest, id: `3`},
		{body: `{"jsonrpc":"2.0","id":3,"METHOD":"m"}`, kind: KindInvalidRequest, id: `3`},
		{body: `{"jsonrpc":"2.0","id":3,"method":"m","params":[1]}`, kind: KindInvalidParams, id: `3`},
		{body: `{"jsonrpc":"2.0","id":3,"method":"m","params":"x"}`, kind: KindInvalidParams, id: `3`},
	}
	for _, c := range cases {
		req, id, err := DecodeRequest([]byte(c.body))
		if string(id) != c.id {
			t.Errorf("%s: id %s, want %s", c.body, id, c.id)
		}
		if c.ok {
			if err != nil {
				t.Errorf("%s: %v", c.body, err)
				continue
			}
			if req.Method != c.method || string(req.Params) != c.params {
				t.Errorf("%s: got %q %s", c.body, req.Method, req.Params)
			}
			continue
		}
		if err == nil || err.Kind != c.kind {
			t.Errorf("%s: error %v, want kind %d", c.body, err, c.kind)
		}
	}
}

func TestParseVersionHeader(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]struct {
		v     Version
		given bool
		err   bool
	}{
		"": {V03, false, false}, "0.3": {V03, true, false}, "0.3.0": {V03, true, false}, "1.0": {V1, true, false},
		" 1.0.1 ": {V1, true, false}, "1": {V1, true, true}, "1.1": {V1, true, true}, "0.2": {V1, true, true}, "abc": {V1, true, true},
	} {
		v, given, err := parseVersionHeader(in)
		if v != want.v || given != want.given || (err != nil) != want.err {
			t.Errorf("%q: %v %v %v", in, v, given, err)
		}
	}
}

// FuzzDecodeRequest feeds arbitrary bodies to the JSON-RPC decoder: it
// must never panic; a request it accepts has a method, an id that is a
// JSON string, number or null, and params that are nil or an object; and
// every answer built from what it returns is valid JSON.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{"message":{"messageId":"m","role":"ROLE_USER","parts":[{"text":"hi"}]}}}`,
		`{"jsonrpc":"2.0","id":"x","method":"message/send","params":{"message":{"kind":"message","role":"user","parts":[{"kind":"text","text":"hi"}]},"configuration":{"blocking":false}}}`,
		`{"jsonrpc":"2.0","id":2,"method":"tasks/pushNotificationConfig/set","params":{"taskId":"t","pushNotificationConfig":{"url":"http://x"}}}`,
		`{"jsonrpc":"2.0","id":3,"method":"ListTasks","params":{"pageSize":"5","status":"TASK_STATE_WORKING","pageToken":"bzox"}}`,
		`[{"jsonrpc":"2.0"}]`, `{"id":{}}`, `{"jsonrpc":"2.0","id":1e999,"method":"m"}`, "\x00", `{"jsonrpc":"2.0","id":1,"method":"m","params":{"a":` + "\"\xff\"}}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, id, rerr := DecodeRequest(body)
		if !json.Valid(id) {
			t.Fatalf("id %q is not JSON", id)
		}
		switch kindOfJSON(id) {
		case jsonString, jsonNumber, jsonNull:
		default:
			t.Fatalf("id %s is not a string, number or null", id)
		}
		if rerr != nil {
			for _, v := range []Version{V1, V03} {
				if out := encodeRPCError(v, id, rerr); !json.Valid(out) {
					t.Fatalf("error answer is not JSON: %s", out)
				}
			}
			return
		}
		if req.Method == "" {
			t.Fatal("accepted a request without a method")
		}
		if req.Params != nil && kindOfJSON(req.Params) != jsonObject {
			t.Fatalf("params %s is not an object", req.Params)
		}
		if out := encodeResult(req.ID, []byte(`{}`)); !json.Valid(out) {
			t.Fatalf("answer is not JSON: %s", out)
		}
		// The params of every method decode without panicking, and a
		// message that decodes is checked and turned into text or
		// decisions without panicking either.
		for _, v := range []Version{V1, V03} {
			for op := opSend; op <= opExtendedCard; op++ {
				p, perr := decodeParams(v, op, req.Params)
				if perr == nil && p == nil {
					t.Fatalf("%v: no params and no error", op)
				}
				if sp, ok := p.(*sendParams); ok {
					_ = checkMessage(sp)
					_ = sp.Message.inputText()
					_, _ = decisionsFor(&sp.Message, nil)
				}
				if lp, ok := p.(*listParams); ok {
					_, _ = parsePageToken(lp.PageToken)
				}
			}
		}
	})
}

func TestEncodeResultKeepsRawID(t *testing.T) {
	t.Parallel()
	out := encodeResult(json.RawMessage(`12345678901234567890`), nil)
	if !bytes.Contains(out, []byte(`"id":12345678901234567890,"result":null`)) {
		t.Fatalf("%s", out)
	}
}

// FuzzRESTRoute: the HTTP+JSON router never panics, and a route it
// matches that acts on a task names one.
func FuzzRESTRoute(f *testing.F) {
	for _, s := range []string{"message:send", "tasks", "tasks/abc", "tasks/abc:cancel", "tasks/abc:subscribe",
		"tasks/abc/pushNotificationConfigs", "tasks/abc/pushNotificationConfigs/c1", "/tasks//", "tasks/:cancel", "extendedAgentCard"} {
		f.Add("GET", s)
		f.Add("POST", s)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		op, taskID, configID, err := restRoute(method, path)
		if err != nil {
			return
		}
		switch op {
		case opGet, opCancel, opSubscribe, opPushSet, opPushList:
			if taskID == "" {
				t.Fatalf("%s %q: %v without a task id", method, path, op)
			}
		case opPushGet, opPushDelete:
			if taskID == "" || configID == "" {
				t.Fatalf("%s %q: %v without ids", method, path, op)
			}
		}
	})
}
