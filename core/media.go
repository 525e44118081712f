package core

import (
	"context"
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

// NewRunInput is the input of content with media, filed by kind.
func NewRunInput(content string, media []MediaRef) RunInput {
	var o RunMedia
	for _, m := range media {
		o.Add(m)
	}
	return RunInput{InputContent: content, Images: o.Images, Audio: o.Audio, Videos: o.Videos, Files: o.Files}
}

// Media lists the input's media: images, audio, videos, then files (nil
// when there are none).
func (in RunInput) Media() []MediaRef {
	return RunMedia{Images: in.Images, Audio: in.Audio, Videos: in.Videos, Files: in.Files}.All()
}

// ReadMedia reads the stored medium id whole, at most limit+1 bytes (a
// caller sees a medium over limit by its length).
func ReadMedia(ctx context.Context, o MediaOpener, id string, limit int64) ([]byte, error) {
	rc, _, err := o.Open(ctx, id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, limit+1))
}

// MediaDeleter is a media store that deletes (core/media's stores are
// ones): the engine deletes a deleted session's media no other session
// references.
type MediaDeleter interface {
	Delete(ctx context.Context, id string) error
}

// SessionMediaStore records which session carries which medium: written
// when a run's media are stored, read when a session's medium is served,
// and deleted with the session. Implementations: storage/sqlite,
// storage/postgres (the session_media table; storage/storetest).
type SessionMediaStore interface {
	// AddSessionMedia records that the session carries refs (owned by
	// userID, "" for none). A medium the session already carries keeps
	// its first record.
	AddSessionMedia(ctx context.Context, sessionID, userID string, refs []MediaRef, createdAt int64) error
	// GetSessionMedia returns the session's record of the medium, or
	// ErrNotFound.
	GetSessionMedia(ctx context.Context, sessionID, mediaID string) (*MediaRef, error)
	// DeleteSessionMedia deletes the records of the sessions and returns
	// the ids of the media no other session carries any more (whose bytes
	// the media store may delete, through DeleteUnreferencedMedia).
	DeleteSessionMedia(ctx context.Context, sessionIDs []string) (orphans []string, err error)
	// DeleteUnreferencedMedia calls del for each of ids that no record
	// names, while holding what keeps AddSessionMedia from recording it
	// until del returns (the SQLite writer; on Postgres a transaction's
	// advisory lock of the id, which AddSessionMedia takes too), and
	// returns the ids it deleted. An error of del is returned with the
	// others (joined), after every id was tried.
	DeleteUnreferencedMedia(ctx context.Context, ids []string, del func(ctx context.Context, id string) error) (deleted []string, err error)
}

// MediaRestorer puts a medium's bytes back in the media store: what sent
// the media keeps them until the run that carries them is recorded, so a
// medium whose bytes an orphan's delete removed between their store (a
// no-op: the bytes were there) and the session's record is stored again
// (core/media.Upload is one).
type MediaRestorer interface {
	RestoreMedia(ctx context.Context, m MediaRef) error
}

// MediaRestorerFunc is a function as a MediaRestorer.
type MediaRestorerFunc func(ctx context.Context, m MediaRef) error

// RestoreMedia implements MediaRestorer.
func (f MediaRestorerFunc) RestoreMedia(ctx context.Context, m MediaRef) error { return f(ctx, m) }

// RunMedia are the media a run produced, by kind as AgentOS's RunOutput
// lists them.
type RunMedia struct {
	Images []MediaRef `json:"images,omitempty"`
	Audio  []MediaRef `json:"audio,omitempty"`
	Videos []MediaRef `json:"videos,omitempty"`
	Files  []MediaRef `json:"files,omitempty"`
}

// ToolMedia are the media tools returned, by kind.
func ToolMedia(tools []ToolExecution) RunMedia {
	var o RunMedia
	for _, t := range tools {
		for _, m := range t.Media {
			o.Add(m)
		}
	}
	return o
}

// Add files m by its kind.
func (o *RunMedia) Add(m MediaRef) {
	switch m.Kind {
	case MediaImage:
		o.Images = append(o.Images, m)
	case MediaAudio:
		o.Audio = append(o.Audio, m)
	case MediaVideo:
		o.Videos = append(o.Videos, m)
	default:
		o.Files = append(o.Files, m)
	}
}

// All lists the media: images, audio, videos, then files (nil when none).
func (o RunMedia) All() []MediaRef {
	n := len(o.Images) + len(o.Audio) + len(o.Videos) + len(o.Files)
	if n == 0 {
		return nil
	}
	out := make([]MediaRef, 0, n)
	for _, l := range [][]MediaRef{o.Images, o.Audio, o.Videos, o.Files} {
		out = append(out, l...)
	}
	return out
}

// Media lists every medium of the run: its input's, then those it
// produced.
func (r *Run) Media() []MediaRef {
	in, out := r.Input.Media(), r.RunMedia.All()
	if len(out) == 0 {
		return in
	}
	return append(in, out...)
}
