package a2a

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Request is one decoded JSON-RPC 2.0 request.
type Request struct {
	// ID is the request's id exactly as sent: a JSON string or number (or
	// null); responses echo it.
	ID json.RawMessage
	// Method is the method name.
	Method string
	// Params is the params object, or nil when absent or null.
	Params json.RawMessage
}

var nullID = json.RawMessage("null")

// DecodeRequest parses one JSON-RPC 2.0 request (untrusted input). On
// failure it returns the error to answer with and the id it could recover
// (null when none). Batches and notifications are refused: every A2A
// method answers, and the binding sends one request per HTTP request.
func DecodeRequest(body []byte) (*Request, json.RawMessage, *Error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, nullID, errf(KindParse, "empty request body")
	}
	if !json.Valid(body) {
		return nil, nullID, errf(KindParse, "the request body is not valid JSON")
	}
	switch body[0] {
	case '{':
	case '[':
		return nil, nullID, errf(KindInvalidRequest, "batch requests are not supported")
	default:
		return nil, nullID, errf(KindInvalidRequest, "a JSON-RPC request must be a JSON object")
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return nil, nullID, errf(KindInvalidRequest, "a JSON-RPC request must be a JSON object")
	}
	id := nullID
	rawID, hasID := members["id"]
	if hasID {
		switch kindOfJSON(rawID) {
		case jsonString, jsonNumber:
			id = compactJSON(rawID)
		case jsonNull:
		default:
			return nil, nullID, errf(KindInvalidRequest, "id must be a string or a number")
		}
	}
	var version string
	if raw, ok := members["jsonrpc"]; !ok || json.Unmarshal(raw, &version) != nil || version != "2.0" {
		return nil, id, errf(KindInvalidRequest, `jsonrpc must be "2.0"`)
	}
	var method string
	if raw, ok := members["method"]; !ok || json.Unmarshal(raw, &method) != nil || method == "" {
		return nil, id, errf(KindInvalidRequest, "method must be a non-empty string")
	}
	if !hasID {
		return nil, id, errf(KindInvalidRequest, "id is required (notifications are not supported)")
	}
	req := &Request{ID: id, Method: method}
	if raw, ok := members["params"]; ok {
		switch kindOfJSON(raw) {
		case jsonObject:
			req.Params = raw
		case jsonNull:
		default:
			return req, id, errf(KindInvalidParams, "params must be an object")
		}
	}
	return req, id, nil
}

type jsonKind int

const (
	jsonInvalid jsonKind = iota
	jsonNull
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

// kindOfJSON classifies a valid JSON value by its first byte.
func kindOfJSON(raw json.RawMessage) jsonKind {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return jsonInvalid
	}
	switch c := raw[0]; {
	case c == 'n':
		return jsonNull
	case c == 't' || c == 'f':
		return jsonBool
	case c == '"':
		return jsonString
	case c == '[':
		return jsonArray
	case c == '{':
		return jsonObject
	case c == '-' || (c >= '0' && c <= '9'):
		return jsonNumber
	}
	return jsonInvalid
}

func compactJSON(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nullID
	}
	return b.Bytes()
}

// rpcResponse is a JSON-RPC response; Result is kept raw so that a null
// result (v0.3 delete) stays null.
type rpcResponse struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
}

// encodeResult renders a JSON-RPC success response.
func encodeResult(id, result json.RawMessage) []byte {
	if len(id) == 0 {
		id = nullID
	}
	if len(result) == 0 {
		result = nullID
	}
	return marshal(rpcResponse{JSONRPC: "2.0", ID: id, Result: result})
}

// encodeRPCError renders a JSON-RPC error response in generation v's shape.
func encodeRPCError(v Version, id json.RawMessage, e *Error) []byte {
	if len(id) == 0 {
		id = nullID
	}
	re := e.rpc(v)
	return marshal(rpcResponse{JSONRPC: "2.0", ID: id, Error: &re})
}

// sseData frames one JSON payload as an SSE event.
func sseData(payload []byte) []byte {
	b := make([]byte, 0, len(payload)+8)
	b = append(b, "data: "...)
	b = append(b, payload...)
	return append(b, "\n\n"...)
}

// sseError frames an HTTP+JSON error as an SSE "error" event.
func sseError(e *Error) []byte {
	b := []byte("event: error\n")
	return append(b, sseData(marshal(e.rest()))...)
}

// operation is what a method (of either generation) or route does.
type operation int

const (
	opSend operation = iota + 1
	opStream
	opGet
	opList
	opCancel
	opSubscribe
	opPushSet
	opPushGet
	opPushList
	opPushDelete
	opExtendedCard
)

// Methods: v1.0 PascalCase names and v0.3 slash names. Each method's auth
// operation id is "a2a:" + its name; the HTTP+JSON routes use the v1.0
// names.
var (
	v1Methods = map[string]operation{
		"SendMessage":                      opSend,
		"SendStreamingMessage":             opStream,
		"GetTask":                          opGet,
		"ListTasks":                        opList,
		"CancelTask":                       opCancel,
		"SubscribeToTask":                  opSubscribe,
		"CreateTaskPushNotificationConfig": opPushSet,
		"GetTaskPushNotificationConfig":    opPushGet,
		"ListTaskPushNotificationConfigs":  opPushList,
		"DeleteTaskPushNotificationConfig": opPushDelete,
		"GetExtendedAgentCard":             opExtendedCard,
	}
	v03Methods = map[string]operation{
		"message/send":                        opSend,
		"message/stream":                      opStream,
		"tasks/get":                           opGet,
		"tasks/list":                          opList,
		"tasks/cancel":                        opCancel,
		"tasks/resubscribe":                   opSubscribe,
		"tasks/pushNotificationConfig/set":    opPushSet,
		"tasks/pushNotificationConfig/get":    opPushGet,
		"tasks/pushNotificationConfig/list":   opPushList,
		"tasks/pushNotificationConfig/delete": opPushDelete,
		"agent/getAuthenticatedExtendedCard":  opExtendedCard,
	}
	v1NameOf = func() map[operation]string {
		m := map[operation]string{}
		for name, op := range v1Methods {
			m[op] = name
		}
		return m
	}()
)

// lookupMethod returns a method's operation and generation.
func lookupMethod(name string) (operation, Version, bool) {
	if op, ok := v1Methods[name]; ok {
		return op, V1, true
	}
	if op, ok := v03Methods[name]; ok {
		return op, V03, true
	}
	return 0, V1, false
}

// parseVersionHeader reads an A2A-Version value: "" (not given), or a
// supported major.minor (a patch part is ignored).
func parseVersionHeader(s string) (v Version, given bool, err *Error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return V03, false, nil
	}
	parts := strings.Split(s, ".")
	if len(parts) >= 2 {
		switch parts[0] + "." + parts[1] {
		case "1.0":
			return V1, true, nil
		case "0.3":
			return V03, true, nil
		}
	}
	return V1, true, errf(KindVersionNotSupported, "A2A-Version %q is not supported (supported: 1.0, 0.3)", s)
}
