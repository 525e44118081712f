package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// HTTP tools declared in config, called by an agent through the real
// binary: a good call, one that times out and one whose response is too
// large. The failures are ToolCallErrors and the run goes on.
func TestHTTPToolsThroughREST(t *testing.T) {
	t.Parallel()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/weather/"):
			if r.Header.Get("Authorization") != "Bearer weather-secret" {
				http.Error(w, "no key", http.StatusUnauthorized)
				return
			}
			city := strings.TrimPrefix(r.URL.Path, "/weather/")
			fmt.Fprintf(w, `{"city":%q,"units":%q,"temp":21}`, city, r.URL.Query().Get("units"))
		case r.URL.Path == "/slow":
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		case r.URL.Path == "/big":
			w.Write([]byte(strings.Repeat("x", 4096)))
		}
	}))
	t.Cleanup(api.Close)
	cfg := `
models:
  m:
    provider: scripted
    model: tools-1
    script:
      - tool_calls:
          - name: weather
            arguments: {city: "São Paulo", units: metric}
          - name: slow_api
          - name: big_api
        reply: "Results: {{tool_result}}"
http_tools:
  weather:
    description: Current weather in a city.
    parameters:
      type: object
      required: [city]
      properties:
        city: {type: string}
        units: {type: string, enum: [metric, imperial]}
    url: "` + api.URL + `/weather/{city}{?units}"
    headers: {Authorization: "Bearer ${AG_E2E_WEATHER_KEY}"}
  slow_api:
    description: Never answers in time.
    url: "` + api.URL + `/slow"
    timeout: 300ms
  big_api:
    description: Answers too much.
    url: "` + api.URL + `/big"
    max_response_bytes: 1024
agents:
  - id: tooler
    model: m
    tools: [weather, slow_api, big_api]
`
	g := launch(t, cfg, func(dir string) []string {
		return []string{"AGENTGATE_DATABASE_URL=sqlite://" + dir + "/state.db", "AG_E2E_WEATHER_KEY=weather-secret"}
	}, nil)
	ctx := testCtx(t, 20*time.Second)
	resp := g.postForm(t, ctx, "/agents/tooler/runs", url.Values{"message": {"go"}, "stream": {"true"}})
	expectSSE(t, resp)
	defer resp.Body.Close()
	evs := events(t, readFrames(t, resp.Body), 0)
	results := map[string]string{}
	for _, ev := range evs {
		if ev.Event != "ToolCallCompleted" && ev.Event != "ToolCallError" {
			continue
		}
		var tool struct {
			ToolName string `json:"tool_name"`
			Result   string `json:"result"`
			Error    bool   `json:"tool_call_error"`
		}
		decode(t, *ev.Tool, &tool)
		results[tool.ToolName] = fmt.Sprintf("%s %v %s", ev.Event, tool.Error, tool.Result)
	}
	var weather map[string]any
	w := strings.TrimPrefix(results["weather"], "ToolCallCompleted false ")
	if err := json.Unmarshal([]byte(w), &weather); err != nil || weather["city"] != "São Paulo" || weather["units"] != "metric" {
		t.Fatalf("weather: %q", results["weather"])
	}
	if r := results["slow_api"]; !strings.HasPrefix(r, "ToolCallError true") || !strings.Contains(r, "timed out after 300ms") {
		t.Fatalf("slow_api: %q", r)
	}
	if r := results["big_api"]; !strings.HasPrefix(r, "ToolCallError true") || !strings.Contains(r, "larger than 1024 bytes") {
		t.Fatalf("big_api: %q", r)
	}
	if last := evs[len(evs)-1]; last.Event != "RunCompleted" || !strings.Contains(last.Content, "São Paulo") {
		t.Fatalf("last event %s %q", last.Event, last.Content)
	}
}
