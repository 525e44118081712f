// Package knowledge is the knowledge resource group: knowledge bases that
// contents (files, text, URLs, remote sources) are ingested into — read,
// chunked, embedded — and searched by keyword, vector or hybrid search
// (AgentOS's /knowledge, agno os/routers/knowledge). This file holds the
// types and interfaces its parts share: the store, readers, chunkers,
// embedders and remote sources.
package knowledge

import (
	"context"
	"io"
)

// Content statuses (AgentOS's).
const (
	StatusProcessing = "processing"
	StatusCompleted  = "completed"
	StatusFailed     = "failed"
)

// Search types (AgentOS's).
const (
	SearchKeyword = "keyword"
	SearchVector  = "vector"
	SearchHybrid  = "hybrid"
)

// Content is one ingested content of a knowledge base: AgentOS's
// ContentResponseSchema plus what ingestion needs. Times are Unix seconds.
type Content struct {
	ID            string         `json:"id"`
	KnowledgeID   string         `json:"knowledge_id"`
	Name          string         `json:"name,omitempty"`
	Description   string         `json:"description,omitempty"`
	Type          string         `json:"type,omitempty"` // content type (MIME) or "text", "url"
	Size          int64          `json:"size,omitempty"`
	LinkedTo      string         `json:"linked_to,omitempty"`
	Metadata      map[string]any `json:"metadata,omitempty"`
	AccessCount   int            `json:"access_count"`
	Status        string         `json:"status"`
	StatusMessage string         `json:"status_message,omitempty"`
	CreatedAt     int64          `json:"created_at"`
	UpdatedAt     int64          `json:"updated_at,omitempty"`
	// Ours: the source (what ingestion reads) and how it is read.
	// Hash is the SHA-256 (hex) of the raw content, unique per knowledge
	// base among completed and processing contents (re-uploads are
	// detected by it). Source is "file", "text", "url" or a remote
	// source's id; SourceRef its file key, URL or blob key.
	Hash         string `json:"-"`
	Source       string `json:"-"`
	SourceRef    string `json:"-"`
	ReaderID     string `json:"-"`
	Chunker      string `json:"-"`
	ChunkSize    int    `json:"-"`
	ChunkOverlap int    `json:"-"`
}

// Chunk is one searchable piece of a content. Embedding is nil when the
// knowledge base has no embedder.
type Chunk struct {
	ID          string         `json:"id"`
	ContentID   string         `json:"content_id"`
	KnowledgeID string         `json:"knowledge_id"`
	Index       int            `json:"index"`
	Name        string         `json:"name,omitempty"`
	Text        string         `json:"content"`
	Metadata    map[string]any `json:"meta_data,omitempty"`
	Embedding   []float32      `json:"-"`
}

// Hit is a chunk a search found, with its score (higher is better; for
// hybrid search the fused reciprocal-rank score).
type Hit struct {
	Chunk
	Score float64 `json:"reranking_score"`
}

// Query is one search of a store. Filter (nil: none) selects the chunks
// whose metadata, or their content's, satisfies it (see Filter.Match).
type Query struct {
	KnowledgeID string
	Text        string    // keyword search
	Vector      []float32 // vector search
	Limit       int
	Filter      *Filter
}

// ContentList selects a page of a knowledge base's contents.
type ContentList struct {
	KnowledgeID string
	Limit       int // 0: 20
	Page        int // from 1
	SortBy      string
	SortOrder   string
}

// Store keeps contents and their chunks. A missing content is
// core.ErrNotFound (wrapped). Only chunks of completed contents are ever
// found by a search: CompleteContent writes a content's chunks and marks
// it completed in one transaction, so a failed or half-done ingestion
// leaves nothing searchable.
type Store interface {
	CreateContent(ctx context.Context, c *Content) error
	GetContent(ctx context.Context, id string) (*Content, error)
	// ContentByHash finds a processing or completed content of the
	// knowledge base with that hash (core.ErrNotFound when none).
	ContentByHash(ctx context.Context, knowledgeID, hash string) (*Content, error)
	// UpdateContent replaces the name, description, metadata, reader and
	// UpdatedAt.
	UpdateContent(ctx context.Context, c *Content) error
	// SetContentStatus sets status and message (processing → failed, or
	// back to processing for a retry).
	SetContentStatus(ctx context.Context, id, status, message string) error
	// CompleteContent replaces the content's chunks with chunks and marks
	// it completed, atomically.
	CompleteContent(ctx context.Context, id string, chunks []Chunk) error
	ListContents(ctx context.Context, l ContentList) ([]Content, int, error)
	// DeleteContent deletes the content and its chunks.
	DeleteContent(ctx context.Context, id string) error
	// DeleteContents deletes every content (and chunk) of the knowledge
	// base and reports how many.
	DeleteContents(ctx context.Context, knowledgeID string) (int, error)
	// FilterKeys lists the metadata keys of the base's contents, sorted
	// (AgentOS's valid filters; at most MaxFilterKeys).
	FilterKeys(ctx context.Context, knowledgeID string) ([]string, error)
	// CountAccess adds one to the access_count of each content of ids
	// (a search returned its chunks); unknown ids are ignored.
	CountAccess(ctx context.Context, ids []string) error
	// SearchKeyword ranks chunks by full-text relevance (SQLite FTS5 BM25,
	// Postgres ts_rank).
	SearchKeyword(ctx context.Context, q Query) ([]Hit, error)
	// SearchVector ranks chunks by cosine similarity to q.Vector
	// (Postgres: pgvector HNSW; SQLite: in process).
	SearchVector(ctx context.Context, q Query) ([]Hit, error)
}

// Document is what a reader makes of a content: one or more texts (a PDF's
// pages, a CSV's rows) with metadata.
type Document struct {
	Name     string
	Text     string
	Metadata map[string]any
}

// Reader turns raw content into documents.
type Reader interface {
	ID() string   // "text", "markdown", "html", "pdf", "csv", "json", "docx"
	Name() string // for /knowledge/config
	Description() string
	// Read reads r (name and contentType help it; size is r's length, or
	// -1) into documents. A malformed input is an error, never a panic.
	Read(ctx context.Context, r io.Reader, name, contentType string) ([]Document, error)
}

// Chunker splits a text into chunks of about size characters with overlap.
type Chunker interface {
	ID() string // "fixed", "recursive", "markdown"
	Name() string
	Description() string
	Chunk(text string, size, overlap int) []string
}

// Embedder turns texts into vectors of Dimensions() floats.
type Embedder interface {
	ID() string
	Dimensions() int
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// RemoteFile is one file of a remote source.
type RemoteFile struct {
	Key          string `json:"key"`
	Name         string `json:"name"`
	Size         int64  `json:"size"`
	LastModified string `json:"last_modified,omitempty"`
	ContentType  string `json:"content_type,omitempty"`
}

// Source is a remote content source of a knowledge base (S3, GitHub).
type Source interface {
	ID() string
	Name() string
	Type() string // "s3", "github"
	Prefix() string
	// List lists the folders and files under prefix (one level, split at
	// delimiter), one page.
	List(ctx context.Context, prefix, delimiter string, limit, page int) (folders []string, files []RemoteFile, total int, err error)
	// Open opens one file.
	Open(ctx context.Context, key string) (io.ReadCloser, RemoteFile, error)
}
