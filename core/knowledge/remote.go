package knowledge

// Remote content: files of a knowledge base's remote sources (S3 buckets,
// GitHub repositories) added by path, one file or every file of a folder.

import (
	"cmp"
	"context"

	"fmt"
	"io"
	"path"
	"strings"

	"github.com/agentgate/agentgate/core"
)

// MaxRemoteFiles bounds the files one remote-content request adds.
const MaxRemoteFiles = 100

// Sources lists the base's remote sources in config order.
func (b *Base) source(id string) (Source, error) {
	for _, s := range b.Sources {
		if s.ID() == id {
			return s, nil
		}
	}
	return nil, core.Errorf(core.CodeNotFound, "knowledge base %q has no source %q", b.ID, id)
}

// Source returns the remote source id of the knowledge base knowledgeID
// (core.ErrNotFound for an unknown base or source).
func (s *Service) Source(knowledgeID, id string) (Source, error) {
	b, err := s.Base(knowledgeID)
	if err != nil {
		return nil, err
	}
	return b.source(id)
}

// RemoteRequest is POST /knowledge/remote-content.
type RemoteRequest struct {
	KnowledgeID  string
	SourceID     string
	Path         string
	Name         string
	Description  string
	Metadata     map[string]any
	ReaderID     string
	Chunker      string
	ChunkSize    int
	ChunkOverlap int
}

// relative is key relative to the source's root (what List takes).
func relative(src Source, key string) string {
	root := strings.Trim(src.Prefix(), "/")
	key = strings.TrimLeft(key, "/")
	if root != "" && (key == root || strings.HasPrefix(key, root+"/")) {
		key = key[len(root):]
	}
	return strings.TrimLeft(key, "/")
}

// AddRemote adds the file at r.Path of the source, or every file under it
// when it is a folder (at most MaxRemoteFiles). A file whose bytes are read
// now is added like an upload (identical bytes are found by hash); one that
// cannot be read now is added without them and its ingestion opens it
// through the source (and fails it with the reason if it still cannot).
func (s *Service) AddRemote(ctx context.Context, r RemoteRequest) ([]*Content, error) {
	b, err := s.Base(r.KnowledgeID)
	if err != nil {
		return nil, err
	}
	if r.SourceID == "" {
		return nil, core.Errorf(core.CodeInvalid, "config_id (the source's id) is required")
	}
	src, err := b.source(r.SourceID)
	if err != nil {
		// AgentOS: an unknown config_id is a bad request (400).
		return nil, core.Errorf(core.CodeInvalid, "unknown content source %q of knowledge base %q (GET /knowledge/config lists its remote_content_sources)", r.SourceID, b.ID)
	}
	if strings.TrimSpace(r.Path) == "" {
		return nil, core.Errorf(core.CodeInvalid, "path is required")
	}
	if len(r.Path) > 1024 || strings.ContainsAny(r.Path, "\x00\r\n") {
		return nil, core.Errorf(core.CodeInvalid, "path must be at most 1024 characters with no control characters")
	}
	for _, seg := range strings.Split(r.Path, "/") {
		if seg == ".." || seg == "." {
			return nil, core.Errorf(core.CodeInvalid, "path must not have '.' or '..' segments")
		}
	}
	if err := s.checkOptions(b, r.ReaderID, r.Chunker, r.ChunkSize, r.ChunkOverlap); err != nil {
		return nil, err
	}
	if len(r.Name) > 255 || len(r.Description) > 1000 {
		return nil, core.Errorf(core.CodeInvalid, "name is at most 255 characters, description at most 1000")
	}
	var files []RemoteFile
	folder := strings.HasSuffix(r.Path, "/")
	if !folder {
		// A folder is a path with files below it.
		_, below, total, err := src.List(ctx, relative(src, r.Path)+"/", "", MaxRemoteFiles, 1)
		if err != nil && core.CodeOf(err) != core.CodeNotFound {
			return nil, fmt.Errorf("list %s: %w", r.Path, err)
		}
		if err == nil && total > 0 {
			folder = true
			if total > MaxRemoteFiles {
				return nil, core.Errorf(core.CodeInvalid, "folder %q has %d files, over the %d one request adds", r.Path, total, MaxRemoteFiles)
			}
			files = below
		}
	} else {
		_, below, total, err := src.List(ctx, relative(src, r.Path), "", MaxRemoteFiles, 1)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", r.Path, err)
		}
		if total > MaxRemoteFiles {
			return nil, core.Errorf(core.CodeInvalid, "folder %q has %d files, over the %d one request adds", r.Path, total, MaxRemoteFiles)
		}
		if total == 0 {
			return nil, core.Errorf(core.CodeNotFound, "folder %q of source %q has no files", r.Path, src.ID())
		}
		files = below
	}
	if !folder {
		files = []RemoteFile{{Key: strings.TrimLeft(r.Path, "/"), Name: path.Base(r.Path)}}
	}
	now := s.cfg.Now().Unix()
	var out []*Content
	for _, f := range files {
		c := Content{KnowledgeID: b.ID, Description: r.Description, Metadata: r.Metadata,
			ReaderID: r.ReaderID, Chunker: r.Chunker, ChunkSize: r.ChunkSize, ChunkOverlap: r.ChunkOverlap,
			Status: StatusProcessing, CreatedAt: now, UpdatedAt: now,
			Source: src.ID(), SourceRef: f.Key, LinkedTo: f.Key, Type: f.ContentType, Size: f.Size}
		c.Name = cmp.Or(f.Name, path.Base(f.Key))
		if !folder {
			c.Name = cmp.Or(r.Name, r.Path) // AgentOS: name, else the path
		}
		data, rf, err := s.openRemote(ctx, b, src, f.Key)
		if err != nil && core.CodeOf(err) == core.CodeTooLarge {
			return out, err
		}
		if err == nil {
			c.Type, c.Size = cmp.Or(rf.ContentType, c.Type), int64(len(data))
		}
		one, err := s.add(ctx, &c, data)
		if err != nil {
			return out, err
		}
		out = append(out, one)
	}
	return out, nil
}

// openRemote reads one file of src (at most the base's max_upload_size).
func (s *Service) openRemote(ctx context.Context, b *Base, src Source, key string) ([]byte, RemoteFile, error) {
	rc, rf, err := src.Open(ctx, key)
	if err != nil {
		return nil, rf, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, b.MaxUploadSize+1))
	if err != nil {
		return nil, rf, fmt.Errorf("read %s: %w", key, err)
	}
	if int64(len(data)) > b.MaxUploadSize {
		return nil, rf, tooLarge(b, int64(len(data)))
	}
	if data == nil {
		data = []byte{}
	}
	return data, rf, nil
}

// remoteBytes are the bytes of a remote content whose bytes were not
// stored when it was added: its ingestion opens it through its source.
func (s *Service) remoteBytes(ctx context.Context, b *Base, c *Content) ([]byte, string, string, error) {
	src, err := b.source(c.Source)
	if err != nil {
		return nil, "", "", Final(fmt.Errorf("source %q is no longer configured on knowledge base %q", c.Source, b.ID))
	}
	data, rf, err := s.openRemote(ctx, b, src, c.SourceRef)
	if err != nil {
		err = fmt.Errorf("open %s of source %s: %w", c.SourceRef, c.Source, err)
		if c := core.CodeOf(err); c == core.CodeNotFound || c == core.CodeInvalid || c == core.CodeTooLarge {
			err = Final(err)
		}
		return nil, "", "", err
	}
	return data, cmp.Or(rf.ContentType, c.Type), cmp.Or(c.LinkedTo, c.Name), nil
}

// remote reports whether c came from a remote source.
func (c *Content) remote() bool {
	return c.Source != "" && c.Source != "file" && c.Source != "text" && c.Source != "url"
}
