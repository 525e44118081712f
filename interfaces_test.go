package agentgate

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/agentgate/agentgate/adapters/rest"
	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/transport/httptransport"
)

// /config lists the interfaces really mounted: those the config turns off
// are not there.
func TestConfigListsTheMountedInterfaces(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		yaml string
		want []string
	}{
		{"", []string{"rest", "ws", "mcp", "a2a"}},
		{"ws: {disabled: true}\na2a: {disabled: true}\n", []string{"rest", "mcp"}},
		{"slack: {signing_secret: s, bot_token: xoxb-1, agent: a}\n", []string{"rest", "ws", "mcp", "a2a", "slack"}},
	} {
		cfg, err := ParseConfig([]byte("models: {m: {provider: scripted}}\nagents: [{id: a, model: m}]\n" + tc.yaml))
		if err != nil {
			t.Fatal(err)
		}
		cfg.DatabaseURL = "sqlite://" + filepath.Join(t.TempDir(), "s.db")
		g, err := New(t.Context(), cfg, Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = g.Serve(ln) }()
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + ln.Addr().String() + "/config")
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Interfaces []rest.InterfaceInfo }
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		_ = g.Shutdown(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, i := range body.Interfaces {
			got = append(got, i.Type)
			if i.Version == "" || (i.Route == "" && i.Type != "slack") {
				t.Errorf("interface %+v: no version or route", i)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("config %q: /config lists %v, want %v", tc.yaml, got, tc.want)
		}
	}
}

// recordingAdapter records its mount and shutdown in a shared log.
type recordingAdapter struct {
	id      string
	off     bool
	failing bool
	log     *[]string
}

func (a *recordingAdapter) Name() string { return a.id }

func (a *recordingAdapter) Mount(httptransport.Deps) (string, bool, error) {
	if a.failing {
		return "", false, errors.New(a.id + " cannot mount")
	}
	if a.off {
		return "", false, nil
	}
	*a.log = append(*a.log, "mount "+a.id)
	return "/" + a.id, true, nil
}

func (a *recordingAdapter) Shutdown(context.Context) error {
	*a.log = append(*a.log, "shutdown "+a.id)
	if a.id == "b" {
		return errors.New("b cut short") // logged; the others still shut down
	}
	return nil
}

// A failed mount leaves the interfaces mounted before it, which are shut
// down in reverse, each once; the ones after it are never mounted.
func TestInterfacesUnwindInReverse(t *testing.T) {
	t.Parallel()
	var log []string
	g := &Gateway{cfg: &Config{}, logger: slog.New(slog.DiscardHandler)}
	all := []httptransport.Interface{
		&recordingAdapter{id: "a", log: &log}, &recordingAdapter{id: "off", off: true, log: &log},
		&recordingAdapter{id: "b", log: &log}, &recordingAdapter{id: "c", log: &log},
		&recordingAdapter{id: "bad", failing: true, log: &log}, &recordingAdapter{id: "never", log: &log},
	}
	if err := g.mountInterfaces(auth.NewPolicy(), all); err == nil || err.Error() != "bad cannot mount" {
		t.Fatalf("mount: %v, want bad's error", err)
	}
	g.unmountInterfaces()
	g.unmountInterfaces() // a second shutdown finds nothing left
	want := []string{"mount a", "mount b", "mount c", "shutdown c", "shutdown b", "shutdown a"}
	if !slices.Equal(log, want) {
		t.Fatalf("lifecycle %v, want %v", log, want)
	}
	var types []string
	for _, i := range g.mountedInfo {
		types = append(types, i.Type)
	}
	if !slices.Equal(types, []string{"a", "b", "c"}) {
		t.Fatalf("/config would list %v", types)
	}
}

// A2A's public URL (cards, media URLs of tasks and push notifications)
// defaults to http.public_url when that is absolute; its own wins.
func TestA2APublicURLDefaultsToHTTPs(t *testing.T) {
	for _, c := range []struct{ a2a, http, want string }{
		{"", "https://agents.example.com", "https://agents.example.com"},
		{"", "https://agents.example.com/api", "https://agents.example.com/api"},
		{"https://a2a.example.com", "https://agents.example.com", "https://a2a.example.com"},
		{"", "/", ""},
		{"", "/api", ""},
		{"", "", ""},
	} {
		var cfg Config
		cfg.A2A.PublicURL, cfg.HTTP.PublicURL = c.a2a, c.http
		if got := a2aSettings(cfg).PublicURL; got != c.want {
			t.Errorf("a2a.public_url %q, http.public_url %q: got %q, want %q", c.a2a, c.http, got, c.want)
		}
	}
}
