package a2a

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core"
)

// mapOpener is a media store of fixed bytes.
type mapOpener map[string][]byte

type nopSeekCloser struct{ *bytes.Reader }

func (nopSeekCloser) Close() error { return nil }

func (m mapOpener) Open(_ context.Context, id string) (io.ReadSeekCloser, int64, error) {
	b, ok := m[id]
	if !ok {
		return nil, 0, core.ErrNotFound
	}
	return nopSeekCloser{bytes.NewReader(b)}, int64(len(b)), nil
}

// TestInlineMediaFileParts: a produced medium within the limit is given
// by its bytes (v1.0 raw, v0.3 file.bytes, base64), a larger one and one
// the store does not hold by the media route's absolute URL.
func TestInlineMediaFileParts(t *testing.T) {
	t.Parallel()
	small, big := []byte("a,b\n1,2\n"), bytes.Repeat([]byte("x"), 64)
	store := mapOpener{"s1": small, "b1": big}
	run := &core.Run{RunID: "r", SessionID: "sess", Status: core.RunCompleted, Content: "done"}
	run.RunMedia.Add(core.MediaRef{ID: "s1", Kind: core.MediaDocument, MIMEType: "text/csv", Name: "p.csv", Size: int64(len(small))})
	run.RunMedia.Add(core.MediaRef{ID: "b1", Kind: core.MediaImage, MIMEType: "image/png", Size: int64(len(big))})
	run.RunMedia.Add(core.MediaRef{ID: "gone", Kind: core.MediaAudio, MIMEType: "audio/wav", Size: 4})
	task := TaskFromRun(run, TaskView{})
	if len(task.Artifacts) != 2 || task.Artifacts[1].ArtifactID != MediaArtifactID {
		t.Fatalf("artifacts: %+v", task.Artifacts)
	}
	inlineMedia(context.Background(), store, "http://gw", 32, slog.Default(), task.Artifacts)

	var v1 struct {
		Artifacts []struct {
			Parts []struct{ Raw, URL, MediaType, Filename string }
		}
	}
	if err := json.Unmarshal(EncodeTask(V1, task), &v1); err != nil {
		t.Fatal(err)
	}
	ps := v1.Artifacts[1].Parts
	// RunMedia.All lists images first: the PNG, the WAV, then the CSV.
	if len(ps) != 3 || ps[0].URL != "http://gw/sessions/sess/media/b1" || ps[0].Raw != "" || ps[0].MediaType != "image/png" ||
		ps[1].URL != "http://gw/sessions/sess/media/gone" || ps[1].Raw != "" {
		t.Fatalf("v1 parts: %+v", ps)
	}
	raw, _ := base64.StdEncoding.DecodeString(ps[2].Raw)
	if !bytes.Equal(raw, small) || ps[2].URL != "" || ps[2].MediaType != "text/csv" || ps[2].Filename != "p.csv" {
		t.Fatalf("v1 csv part: %+v", ps[2])
	}

	var v03 struct {
		Artifacts []struct {
			Parts []struct {
				Kind string
				File struct{ Bytes, URI, MimeType, Name string }
			}
		}
	}
	if err := json.Unmarshal(EncodeTask(V03, task), &v03); err != nil {
		t.Fatal(err)
	}
	qs := v03.Artifacts[1].Parts
	raw, _ = base64.StdEncoding.DecodeString(qs[2].File.Bytes)
	if len(qs) != 3 || qs[0].Kind != "file" || qs[0].File.URI != "http://gw/sessions/sess/media/b1" || qs[0].File.Bytes != "" ||
		!bytes.Equal(raw, small) || qs[2].File.URI != "" || qs[2].File.MimeType != "text/csv" || qs[2].File.Name != "p.csv" {
		t.Fatalf("v0.3 parts: %+v", qs)
	}
	if strings.Contains(string(EncodeTask(V1, TaskFromRun(run, TaskView{NoArtifacts: true}))), "media") {
		t.Fatal("a task without artifacts lists media")
	}
}
