// Package mediaprep readies the media a run's messages carry for a model
// request: the agent's loop and a team's leader share it, so a medium
// reaches every model of a run the same way (natively, as text, or as a
// clear error of the run).
package mediaprep

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/knowledge/reader"
	"github.com/agentgate/agentgate/core/model"
)

// maxDocumentText bounds the text a document given as text adds to a
// message.
const maxDocumentText = 200_000

// Cache keeps the media bytes a run loaded, for its later model
// requests. The zero value is ready; it is for one run's loop (not safe
// for concurrent use).
type Cache struct{ data map[string][]byte }

// Prepare readies the media of msgs for a request of m: a medium the
// model takes natively gets its bytes (Data) loaded from the media store;
// a document it does not take is turned into text (the knowledge readers)
// added to its message; any other medium it does not take is an error of
// the run (unsupported_media) naming the model and the medium, never a
// silent drop. Media of the session's history (messages before from) are
// left out: the model saw them in their own run. msgs itself is not
// changed (it is what the run stores).
func (c *Cache) Prepare(ctx context.Context, m model.Model, open core.MediaOpener, msgs []core.Message, from int) ([]core.Message, error) {
	out := msgs
	copied := false
	for i, msg := range msgs {
		if len(msg.Media) == 0 {
			continue
		}
		if !copied {
			out = append([]core.Message(nil), msgs...)
			copied = true
		}
		if i < from {
			out[i].Media = nil
			continue
		}
		if open == nil {
			return nil, &core.AgentError{Type: "unsupported_media", Err: fmt.Errorf("the run carries media but the gateway has no media store")}
		}
		var keep []core.MediaRef
		var texts []string
		for _, ref := range msg.Media {
			native := model.Accepts(m, ref.Kind, ref.MIMEType)
			if !native && ref.Kind != core.MediaDocument {
				return nil, &core.AgentError{Type: "unsupported_media", Err: fmt.Errorf("model %s (%s) does not take %s input (%s %q): use a model that does, or send it as a document",
					m.ID(), m.Provider(), ref.Kind, ref.MIMEType, ref.Name)}
			}
			data, ok := c.data[ref.ID]
			if !ok {
				var err error
				if data, err = loadMedia(ctx, open, ref); err != nil {
					return nil, err
				}
				if c.data == nil {
					c.data = map[string][]byte{}
				}
				c.data[ref.ID] = data
			}
			if native {
				ref.Data = data
				keep = append(keep, ref)
				continue
			}
			text, err := documentText(ctx, ref, data)
			if err != nil {
				return nil, err
			}
			texts = append(texts, text)
		}
		msg.Media = keep
		if len(texts) > 0 {
			msg.Content = strings.Join(append([]string{msg.Content}, texts...), "\n\n")
		}
		out[i] = msg
	}
	return out, nil
}

// loadMedia reads a medium's bytes from the store.
func loadMedia(ctx context.Context, open core.MediaOpener, ref core.MediaRef) ([]byte, error) {
	rc, size, err := open.Open(ctx, ref.ID)
	if err != nil {
		return nil, fmt.Errorf("open %s %q: %w", ref.Kind, ref.Name, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, size+1))
	if err != nil {
		return nil, fmt.Errorf("read %s %q: %w", ref.Kind, ref.Name, err)
	}
	return data, nil
}

// documentText is a document's text, headed by its name, as the knowledge
// readers read it.
func documentText(ctx context.Context, ref core.MediaRef, data []byte) (string, error) {
	reg := reader.Default(reader.Limits{MaxBytes: int64(len(data)) + 1})
	rd, err := reg.For(ref.Name, ref.MIMEType)
	if err != nil {
		return "", &core.AgentError{Type: "unsupported_media", Err: fmt.Errorf("document %q (%s): %w", ref.Name, ref.MIMEType, err)}
	}
	docs, err := rd.Read(ctx, bytes.NewReader(data), ref.Name, ref.MIMEType)
	if err != nil {
		return "", &core.AgentError{Type: "unsupported_media", Err: fmt.Errorf("document %q: %w", ref.Name, err)}
	}
	var b strings.Builder
	name := ref.Name
	if name == "" {
		name = ref.MIMEType
	}
	fmt.Fprintf(&b, "<file name=%q type=%q>\n", name, ref.MIMEType)
	for _, d := range docs {
		if b.Len() > maxDocumentText {
			b.WriteString("\n[… truncated]")
			break
		}
		b.WriteString(d.Text)
		b.WriteString("\n")
	}
	b.WriteString("</file>")
	return b.String(), nil
}
