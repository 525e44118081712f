package openai

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model"
	"github.com/agentgate/agentgate/core/model/openai/openaitest"
)

// TestMediaAsContentParts: a user message's image, audio and PDF go as
// image_url (a data URL), input_audio and file parts after its text.
func TestMediaAsContentParts(t *testing.T) {
	t.Parallel()
	srv := openaitest.NewServer(t, openaitest.Reply{Text: "seen"})
	m := newModel(t, srv, nil)
	png, wav, pdf := []byte("\x89PNG\r\n\x1a\nrest"), []byte("RIFF\x00\x00\x00\x00WAVE"), []byte("%PDF-1.4 body")
	req := model.Request{Messages: []core.Message{{Role: "user", Content: "describe", Media: []core.MediaRef{
		{ID: "a", Kind: core.MediaImage, MIMEType: "image/png", Name: "a.png", Data: png},
		{ID: "b", Kind: core.MediaAudio, MIMEType: "audio/wav", Name: "b.wav", Data: wav},
		{ID: "c", Kind: core.MediaDocument, MIMEType: "application/pdf", Name: "c.pdf", Data: pdf},
	}}}}
	if _, err := m.Generate(context.Background(), req, func(model.Delta) error { return nil }); err != nil {
		t.Fatal(err)
	}
	var body struct {
		Messages []struct {
			Content []struct {
				Type     string `json:"type"`
				Text     string `json:"text"`
				ImageURL struct {
					URL string `json:"url"`
				} `json:"image_url"`
				InputAudio struct {
					Data   string `json:"data"`
					Format string `json:"format"`
				} `json:"input_audio"`
				File struct {
					FileData string `json:"file_data"`
					Filename string `json:"filename"`
				} `json:"file"`
			} `json:"content"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(srv.Requests()[0].Raw, &body); err != nil {
		t.Fatal(err)
	}
	c := body.Messages[0].Content
	b64 := base64.StdEncoding.EncodeToString
	if len(c) != 4 || c[0].Type != "text" || c[0].Text != "describe" {
		t.Fatalf("parts %+v", c)
	}
	if c[1].Type != "image_url" || c[1].ImageURL.URL != "data:image/png;base64,"+b64(png) {
		t.Fatalf("image part %+v", c[1])
	}
	if c[2].Type != "input_audio" || c[2].InputAudio.Format != "wav" || c[2].InputAudio.Data != b64(wav) {
		t.Fatalf("audio part %+v", c[2])
	}
	if c[3].Type != "file" || c[3].File.Filename != "c.pdf" || c[3].File.FileData != "data:application/pdf;base64,"+b64(pdf) {
		t.Fatalf("file part %+v", c[3])
	}
	if model.Accepts(m, core.MediaVideo, "video/mp4") || model.Accepts(m, core.MediaAudio, "audio/ogg") || !model.Accepts(m, core.MediaImage, "image/gif") {
		t.Fatal("AcceptsMedia")
	}
}
