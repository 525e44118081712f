package media_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/media"
	"github.com/agentgate/agentgate/core/media/mediatest"
)

func TestParseJSONMedia(t *testing.T) {
	png := mediatest.PNG(2, 2)
	b64 := base64.StdEncoding.EncodeToString(png)
	srcs, err := media.ParseJSONMedia("images", `[{"content":"`+b64+`","mime_type":"image/png","filename":"a.png"},"https://example.com/cat.jpg",{"url":"data:image/png;base64,`+b64+`"}]`)
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) != 3 || string(srcs[0].Data) != string(png) || srcs[0].Name != "a.png" || srcs[1].URL != "https://example.com/cat.jpg" ||
		srcs[2].MIMEType != "image/png" || string(srcs[2].Data) != string(png) {
		t.Fatalf("%+v", srcs)
	}
	one, err := media.ParseJSONMedia("audio", `{"content":"`+base64.RawURLEncoding.EncodeToString([]byte("ID3xx"))+`","format":"mp3"}`)
	if err != nil || len(one) != 1 || string(one[0].Data) != "ID3xx" || !strings.HasSuffix(one[0].Name, ".mp3") {
		t.Fatalf("%+v %v", one, err)
	}
	bare, err := media.ParseJSONMedia("images", "https://example.com/x.png")
	if err != nil || len(bare) != 1 || bare[0].URL != "https://example.com/x.png" {
		t.Fatalf("%+v %v", bare, err)
	}
	for _, bad := range []string{`[{"content":"%%%"}]`, `[{}]`, `[{"url":"u","content":"eA=="}]`, `[1]`, `{"url": 3}`, `[{"url":"data:image/png;base64,@@"}]`} {
		if _, err := media.ParseJSONMedia("images", bad); core.CodeOf(err) != core.CodeInvalid || !strings.Contains(err.Error(), "images") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestResolver(t *testing.T) {
	ctx := context.Background()
	png := mediatest.PNG(4, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cat.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write(png)
		case "/big.txt":
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte(strings.Repeat("a", 5000)))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	st := mustDir(t)
	r := &media.Resolver{Store: st, Client: srv.Client(), Limits: media.Limits{MaxBytes: 4000}}
	refs, err := r.Resolve(ctx, []media.Source{{URL: srv.URL + "/cat.png"}, {Data: []byte("hi"), Name: "n.txt"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 2 || refs[0].Name != "cat.png" || refs[0].MIMEType != "image/png" || refs[0].Width != 4 || refs[1].MIMEType != "text/plain" {
		t.Fatalf("%+v", refs)
	}
	for _, tc := range []struct {
		src  media.Source
		code core.ErrorCode
		msg  string
	}{
		{media.Source{URL: srv.URL + "/missing.png"}, core.CodeInvalid, "404"},
		{media.Source{URL: "http://127.0.0.1:1/x.png"}, core.CodeInvalid, "could not be fetched"},
		{media.Source{URL: "ftp://example.com/x"}, core.CodeInvalid, "http or https"},
		{media.Source{URL: srv.URL + "/big.txt"}, core.CodeTooLarge, "over the limit"},
	} {
		_, err := r.Resolve(ctx, []media.Source{tc.src})
		if core.CodeOf(err) != tc.code || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), tc.src.URL) {
			t.Errorf("%s: %v", tc.src.URL, err)
		}
	}
	// Bytes in memory over the run's bound are refused before anything is stored.
	if _, err := (&media.Resolver{Store: st, Limits: media.Limits{MaxBytes: 10}, MaxRunBytes: 10}).Resolve(ctx, []media.Source{{Data: make([]byte, 6), Name: "a.txt"}, {Data: make([]byte, 6), Name: "b.txt"}}); core.CodeOf(err) != core.CodeTooLarge {
		t.Fatalf("run bound: %v", err)
	}
	if _, err := (*media.Resolver)(nil).Resolve(ctx, []media.Source{{Data: []byte("x")}}); core.CodeOf(err) != core.CodeInvalid {
		t.Fatalf("no store: %v", err)
	}
}
