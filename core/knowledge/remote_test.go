package knowledge_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/knowledge"
	"github.com/agentgate/agentgate/core/knowledge/chunk"
	"github.com/agentgate/agentgate/core/knowledge/reader"
	"github.com/agentgate/agentgate/core/knowledge/source"
	"github.com/agentgate/agentgate/storage/sqlite"
)

// A folder over MaxRemoteFiles is refused; a file the source fails to
// serve when added is added without its bytes and the job opens it.
func TestAddRemoteBoundAndLateOpen(t *testing.T) {
	var flaky atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /repos/acme/kb", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"default_branch":"main"}`) })
	mux.HandleFunc("GET /repos/acme/kb/git/trees/main", func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		b.WriteString(`{"tree":[{"path":"late.md","type":"blob","size":30}`)
		for i := range knowledge.MaxRemoteFiles + 1 {
			fmt.Fprintf(&b, `,{"path":"big/f%03d.md","type":"blob","size":1}`, i)
		}
		b.WriteString(`],"truncated":false}`)
		io.WriteString(w, b.String())
	})
	mux.HandleFunc("GET /repos/acme/kb/contents/late.md", func(w http.ResponseWriter, r *http.Request) {
		if flaky.Add(1) == 1 {
			http.Error(w, `{"message":"busy"}`, http.StatusBadGateway)
			return
		}
		io.WriteString(w, "# Late\n\nThe heron waits by the weir.\n")
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	gh, err := source.NewGitHub(source.GitHubConfig{ID: "gh", Repo: "acme/kb", BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(t.Context(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var queued []string
	svc, err := knowledge.NewService(knowledge.ServiceConfig{Store: st, Blobs: &blobs{m: map[string][]byte{}}, Readers: reader.Default(reader.Limits{}),
		Chunkers: chunk.Default(), Bases: []knowledge.Base{{ID: "kb", Sources: []knowledge.Source{gh}}},
		Enqueue: func(_ context.Context, id string) error { queued = append(queued, id); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddRemote(t.Context(), knowledge.RemoteRequest{KnowledgeID: "kb", SourceID: "gh", Path: "big/"}); core.CodeOf(err) != core.CodeInvalid {
		t.Fatalf("a folder over the bound: %v", err)
	}
	if _, err := svc.AddRemote(t.Context(), knowledge.RemoteRequest{KnowledgeID: "kb", SourceID: "nope", Path: "x"}); core.CodeOf(err) != core.CodeInvalid { // 400, as AgentOS
		t.Fatalf("an unknown source: %v", err)
	}
	out, err := svc.AddRemote(t.Context(), knowledge.RemoteRequest{KnowledgeID: "kb", SourceID: "gh", Path: "late.md"})
	if err != nil || len(out) != 1 || len(queued) != 1 {
		t.Fatalf("AddRemote = %v %v", out, err)
	}
	if err := svc.Ingest(t.Context(), queued[0], 1, false); err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	c, _ := svc.Get(t.Context(), "kb", queued[0])
	if c.Status != knowledge.StatusCompleted || flaky.Load() != 2 {
		t.Fatalf("content %+v after %d opens", c, flaky.Load())
	}
}
