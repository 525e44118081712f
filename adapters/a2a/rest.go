package a2a

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// The v1.0 HTTP+JSON binding, under an agent's base URL
// /a2a/agents/{id} (which is also the gateway interface's
// {url}/{tenant}). Every route is an operation of the JSON-RPC table and
// asks the policy under the v1.0 method's name.

// restRoute matches a path under the agent's base URL.
func restRoute(method, path string) (op operation, taskID, configID string, e *Error) {
	path = strings.Trim(path, "/")
	notFound := errf(KindRouteNotFound, "no A2A route %s /%s", method, path)
	allow := func(want ...string) *Error {
		for _, m := range want {
			if method == m {
				return nil
			}
		}
		return errf(KindMethodNotAllowed, "%s is not allowed on /%s (allowed: %s)", method, path, strings.Join(want, ", "))
	}
	segs := strings.Split(path, "/")
	switch {
	case path == "message:send":
		return opSend, "", "", allow(http.MethodPost)
	case path == "message:stream":
		return opStream, "", "", allow(http.MethodPost)
	case path == "extendedAgentCard":
		return opExtendedCard, "", "", allow(http.MethodGet)
	case path == "tasks":
		return opList, "", "", allow(http.MethodGet)
	case len(segs) == 2 && segs[0] == "tasks":
		id, verb, hasVerb := strings.Cut(segs[1], ":")
		if id == "" {
			return 0, "", "", notFound
		}
		switch {
		case !hasVerb:
			return opGet, id, "", allow(http.MethodGet)
		case verb == "cancel":
			return opCancel, id, "", allow(http.MethodPost)
		case verb == "subscribe":
			return opSubscribe, id, "", allow(http.MethodGet, http.MethodPost)
		}
	case len(segs) == 3 && segs[0] == "tasks" && segs[1] != "" && segs[2] == "pushNotificationConfigs":
		if method == http.MethodGet {
			return opPushList, segs[1], "", nil
		}
		return opPushSet, segs[1], "", allow(http.MethodPost, http.MethodGet)
	case len(segs) == 4 && segs[0] == "tasks" && segs[1] != "" && segs[2] == "pushNotificationConfigs" && segs[3] != "":
		if method == http.MethodDelete {
			return opPushDelete, segs[1], segs[3], nil
		}
		return opPushGet, segs[1], segs[3], allow(http.MethodGet, http.MethodDelete)
	}
	return 0, "", "", notFound
}

// serveREST answers the HTTP+JSON binding.
func (h *Handler) serveREST(c *fiber.Ctx) error {
	agentID := c.Params("agent_id")
	cl := &call{c: c, ctx: c.UserContext(), kind: routeKind(c), agentID: agentID, ver: V1, rest: true}
	path := c.Params("*")
	if (path == ".well-known/agent-card.json" || path == "") && c.Method() == http.MethodGet {
		return h.serveAgentCard(c)
	}
	if strings.HasPrefix(path, "v1/") && c.Method() == http.MethodPost && isJSONRPC(c.Body()) {
		// agno's A2AClient in its REST mode posts JSON-RPC requests to
		// {url}/v1/message:send and {url}/v1/message:stream.
		return h.serveRPC(c, agentID, false)
	}
	op, taskID, configID, e := restRoute(c.Method(), path)
	if e != nil {
		return h.fail(cl, e)
	}
	if e := h.authorize(cl.ctx, opFor(v1NameOf[op], cl.kind), agentID); e != nil {
		return h.fail(cl, e)
	}
	if v, given, verr := parseVersionHeader(versionOf(c)); verr != nil {
		return h.fail(cl, verr)
	} else if given && v != V1 {
		return h.fail(cl, errf(KindVersionNotSupported, "the HTTP+JSON binding here speaks A2A 1.0; A2A 0.3 clients use JSON-RPC at this URL"))
	}
	if e := h.served(cl); e != nil {
		return h.fail(cl, e)
	}
	params, e := restParams(c, op, taskID, configID)
	if e != nil {
		return h.fail(cl, e)
	}
	if t := tenantOf(params); t != "" && t != agentID {
		return h.fail(cl, errf(KindInvalidParams, "tenant %q does not match the %s %q of this URL", t, cl.kind.OrAgent(), agentID))
	}
	return h.do(cl, op, params)
}

// isJSONRPC reports whether body is a JSON-RPC 2.0 request object.
func isJSONRPC(body []byte) bool {
	var env struct {
		JSONRPC *string `json:"jsonrpc"`
		Method  *string `json:"method"`
	}
	return json.Unmarshal(body, &env) == nil && env.JSONRPC != nil && env.Method != nil
}

// restParams reads an operation's parameters from the path, the query and
// the body.
func restParams(c *fiber.Ctx, op operation, taskID, configID string) (any, *Error) {
	body := func() (json.RawMessage, *Error) {
		b := c.Body()
		if len(strings.TrimSpace(string(b))) == 0 {
			return json.RawMessage("{}"), nil
		}
		if !json.Valid(b) {
			return nil, errf(KindParse, "the request body is not valid JSON")
		}
		if kindOfJSON(b) != jsonObject {
			return nil, errf(KindInvalidRequest, "the request body must be a JSON object")
		}
		return json.RawMessage(b), nil
	}
	queryInt := func(name string) (*flexInt, *Error) {
		s := c.Query(name)
		if s == "" {
			return nil, nil
		}
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return nil, errf(KindInvalidParams, "%s=%q is not an integer", name, s)
		}
		v := flexInt(n)
		return &v, nil
	}
	switch op {
	case opSend, opStream:
		b, e := body()
		if e != nil {
			return nil, e
		}
		return decodeParams(V1, op, b)
	case opGet, opCancel, opSubscribe:
		hl, e := queryInt("historyLength")
		if e != nil {
			return nil, e
		}
		n, e := historyLength(hl)
		if e != nil {
			return nil, e
		}
		return &taskParams{ID: taskID, HistoryLength: n}, nil
	case opList:
		size, e := queryInt("pageSize")
		if e != nil {
			return nil, e
		}
		hl, e := queryInt("historyLength")
		if e != nil {
			return nil, e
		}
		var arts *flexBool
		if s := c.Query("includeArtifacts"); s != "" {
			v, err := strconv.ParseBool(s)
			if err != nil {
				return nil, errf(KindInvalidParams, "includeArtifacts=%q is not a boolean", s)
			}
			fb := flexBool(v)
			arts = &fb
		}
		lp, e := listFrom("", c.Query("contextId"), c.Query("status"), size, c.Query("pageToken"), hl, c.Query("statusTimestampAfter"), arts)
		if e != nil {
			return nil, e
		}
		return lp, nil
	case opPushSet:
		b, e := body()
		if e != nil {
			return nil, e
		}
		var cfg v1PushConfig
		if e := unmarshalParams(b, &cfg); e != nil {
			return nil, e
		}
		if cfg.TaskID != "" && cfg.TaskID != taskID {
			return nil, errf(KindInvalidParams, "taskId %q does not match the task %q of the URL", cfg.TaskID, taskID)
		}
		cfg.TaskID = taskID
		return &pushParams{Tenant: cfg.Tenant, TaskID: taskID, Config: pushFromV1(&cfg)}, nil
	case opPushGet, opPushList, opPushDelete:
		return &pushParams{TaskID: taskID, ConfigID: configID}, nil
	case opExtendedCard:
		return &taskParams{}, nil
	}
	return nil, errf(KindRouteNotFound, "no such route")
}
