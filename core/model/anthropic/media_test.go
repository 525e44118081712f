package anthropic_test

import (
	"context"
	"encoding/base64"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model"
	"github.com/agentgate/agentgate/core/model/anthropic/anthropictest"
)

// TestMediaAsBlocks: an image goes as an image block and a PDF as a
// document block, both base64, before the message's text.
func TestMediaAsBlocks(t *testing.T) {
	srv := anthropictest.NewServer(t)
	srv.Push(anthropictest.Reply{Blocks: []anthropictest.Block{{Type: "text", Text: "seen"}}})
	m := newModel(t, srv, nil)
	png, pdf := []byte("\x89PNG\r\n\x1a\nrest"), []byte("%PDF-1.4 body")
	req := model.Request{Messages: []core.Message{{Role: "user", Content: "what is this?", Media: []core.MediaRef{
		{ID: "a", Kind: core.MediaImage, MIMEType: "image/png", Name: "a.png", Data: png},
		{ID: "b", Kind: core.MediaDocument, MIMEType: "application/pdf", Name: "b.pdf", Data: pdf},
	}}}}
	if _, err := m.Generate(context.Background(), req, func(model.Delta) error { return nil }); err != nil {
		t.Fatal(err)
	}
	var body struct {
		Messages []struct {
			Role    string `json:"role"`
			Content []struct {
				Type   string `json:"type"`
				Text   string `json:"text"`
				Source struct {
					Type      string `json:"type"`
					MediaType string `json:"media_type"`
					Data      string `json:"data"`
				} `json:"source"`
			} `json:"content"`
		} `json:"messages"`
	}
	if err := srv.Requests()[0].Decode(&body); err != nil {
		t.Fatal(err)
	}
	c := body.Messages[0].Content
	if len(c) != 3 || c[0].Type != "image" || c[1].Type != "document" || c[2].Type != "text" || c[2].Text != "what is this?" {
		t.Fatalf("content %+v", c)
	}
	if c[0].Source.Type != "base64" || c[0].Source.MediaType != "image/png" || c[0].Source.Data != base64.StdEncoding.EncodeToString(png) {
		t.Fatalf("image %+v", c[0].Source)
	}
	if c[1].Source.MediaType != "application/pdf" || c[1].Source.Data != base64.StdEncoding.EncodeToString(pdf) {
		t.Fatalf("document %+v", c[1].Source)
	}
	if !model.Accepts(m, core.MediaImage, "image/webp") || model.Accepts(m, core.MediaAudio, "audio/wav") || model.Accepts(m, core.MediaDocument, "text/csv") {
		t.Fatal("AcceptsMedia")
	}
}
