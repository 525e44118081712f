package mediaprep

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/media"
	"github.com/agentgate/agentgate/core/media/mediatest"
	"github.com/agentgate/agentgate/core/model"
	"github.com/agentgate/agentgate/core/model/scripted"
)

// textOnly is a model that takes no media.
type textOnly struct{}

func (textOnly) Provider() string { return "plain" }
func (textOnly) ID() string       { return "text-1" }
func (textOnly) Generate(context.Context, model.Request, func(model.Delta) error) (*model.Response, error) {
	return &model.Response{}, nil
}

func TestPrepareMedia(t *testing.T) {
	ctx := context.Background()
	st, err := media.NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	csv, err := media.IngestBytes(ctx, st, []byte("city,temp\nParis,21\n"), "w.csv", "text/csv", media.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	png, err := media.IngestBytes(ctx, st, mediatest.PNG(2, 2), "p.png", "image/png", media.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	history := core.Message{Role: "user", Content: "old", Media: []core.MediaRef{png}}
	msgs := []core.Message{history, {Role: "user", Content: "see", Media: []core.MediaRef{csv}}}

	// A model without media takes the CSV as text, and history's media are
	// left out; the stored messages are unchanged.
	c := &Cache{}
	out, err := c.Prepare(ctx, textOnly{}, st, msgs, 1)
	if err != nil {
		t.Fatal(err)
	}
	if out[0].Media != nil || len(out[1].Media) != 0 || !strings.Contains(out[1].Content, "city: Paris") || !strings.Contains(out[1].Content, `<file name="w.csv"`) {
		t.Fatalf("prepared %+v", out)
	}
	if len(msgs[1].Media) != 1 || msgs[1].Content != "see" || len(msgs[0].Media) != 1 {
		t.Fatal("the run's messages were changed")
	}

	// An image to that model is a clear error of the run.
	_, err = c.Prepare(ctx, textOnly{}, st, []core.Message{{Role: "user", Media: []core.MediaRef{png}}}, 0)
	var ae *core.AgentError
	if !errors.As(err, &ae) || ae.Type != "unsupported_media" || !strings.Contains(err.Error(), "text-1") || !strings.Contains(err.Error(), "image") {
		t.Fatalf("image to a text model: %v", err)
	}

	// A model that takes media gets the bytes.
	sm := scripted.New(scripted.Config{Model: "s"})
	out, err = c.Prepare(ctx, sm, st, []core.Message{{Role: "user", Media: []core.MediaRef{png}}}, 0)
	if err != nil || len(out[0].Media) != 1 || int64(len(out[0].Media[0].Data)) != png.Size {
		t.Fatalf("scripted: %+v %v", out, err)
	}

	// Without a media store, media are an error, not dropped.
	if _, err := (&Cache{}).Prepare(ctx, sm, nil, []core.Message{{Role: "user", Media: []core.MediaRef{png}}}, 0); !errors.As(err, &ae) {
		t.Fatalf("no store: %v", err)
	}
}
