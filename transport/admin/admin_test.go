package admin

import (
	"context"
	"io"
	"net/http"
	"testing"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAdminPprofOffByDefault(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "x_total 1\n") })
	s, err := Listen("127.0.0.1:0", Config{Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	if code, body := get(t, "http://"+s.Addr()+"/metrics"); code != 200 || body != "x_total 1\n" {
		t.Fatalf("/metrics: %d %q", code, body)
	}
	if code, _ := get(t, "http://"+s.Addr()+"/debug/pprof/"); code != 404 {
		t.Fatalf("pprof off: %d, want 404", code)
	}
}

func TestAdminPprofOn(t *testing.T) {
	s, err := Listen("127.0.0.1:0", Config{Pprof: true})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, "http://"+s.Addr()+"/debug/pprof/goroutine?debug=1"); code != 200 || len(body) == 0 {
		t.Fatalf("pprof goroutine: %d", code)
	}
	if code, _ := get(t, "http://"+s.Addr()+"/metrics"); code != 404 {
		t.Fatalf("/metrics without a handler: %d", code)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + s.Addr() + "/metrics"); err == nil {
		t.Fatal("served after Shutdown")
	}
}
