package core

import (
	"context"
	"encoding/json"
	"io"
)

// MediaKind is what a medium is, as AgentOS files them on a run: images,
// audio, videos and (document) files.
type MediaKind string

// Media kinds.
const (
	MediaImage    MediaKind = "image"
	MediaAudio    MediaKind = "audio"
	MediaVideo    MediaKind = "video"
	MediaDocument MediaKind = "document"
)

// MediaRef is a medium a run carries (its input's files, images, audio
// and video): a reference to bytes kept once in the media store under ID,
// the SHA-256 of the bytes in hex (see core/media).
type MediaRef struct {
	ID       string    `json:"id"`
	Kind     MediaKind `json:"kind"`
	MIMEType string    `json:"mime_type"`
	Name     string    `json:"name,omitempty"`
	Size     int64     `json:"size"`
	// Width and Height are an image's pixel size, when known.
	Width  int `json:"width,omitempty"`
	Height int `json:"height,omitempty"`
	// URL is where the gateway serves it (set when a run is rendered).
	URL string `json:"url,omitempty"`
	// Data holds the bytes while a model request is made; never stored.
	Data []byte `json:"-"`
}

// MediaOpener opens stored media by id (core/media's stores are ones).
type MediaOpener interface {
	Open(ctx context.Context, id string) (io.ReadSeekCloser, int64, error)
}

// runInputJSON is RunInput's JSON: AgentOS's RunInput, media split by
// kind.
type runInputJSON struct {
	InputContent string     `json:"input_content"`
	Images       []MediaRef `json:"images,omitempty"`
	Audio        []MediaRef `json:"audio,omitempty"`
	Videos       []MediaRef `json:"videos,omitempty"`
	Files        []MediaRef `json:"files,omitempty"`
}

// MarshalJSON renders the input as AgentOS does: its media as images,
// audio, videos and files.
func (in RunInput) MarshalJSON() ([]byte, error) {
	j := runInputJSON{InputContent: in.InputContent}
	for _, m := range in.Media {
		switch m.Kind {
		case MediaImage:
			j.Images = append(j.Images, m)
		case MediaAudio:
			j.Audio = append(j.Audio, m)
		case MediaVideo:
			j.Videos = append(j.Videos, m)
		default:
			j.Files = append(j.Files, m)
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (in *RunInput) UnmarshalJSON(b []byte) error {
	var j runInputJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	in.InputContent = j.InputContent
	in.Media = nil
	for _, l := range [][]MediaRef{j.Images, j.Audio, j.Videos, j.Files} {
		in.Media = append(in.Media, l...)
	}
	return nil
}
