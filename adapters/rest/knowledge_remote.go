package rest

// /knowledge remote content (agno os/routers/knowledge: remote-content,
// sources, files): files of a knowledge base's S3 buckets and GitHub
// repositories, listed and added by path.

import (
	"context"
	"net/http"
	"path"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/knowledge"
)

// RemoteContentSource is AgentOS's RemoteContentSourceSchema (no secrets):
// prefix is the source's root (null when it has none).
type RemoteContentSource struct {
	ID       string         `json:"id"`
	Name     string         `json:"name"`
	Type     string         `json:"type" enum:"s3,github"`
	Metadata map[string]any `json:"metadata" nullable:"true"`
	Prefix   *string        `json:"prefix" nullable:"true"`
}

func remoteSource(s knowledge.Source) RemoteContentSource {
	r := RemoteContentSource{ID: s.ID(), Name: s.Name(), Type: s.Type()}
	if p := s.Prefix(); p != "" {
		r.Prefix = &p
	}
	return r
}

// SourceFolder is AgentOS's SourceFolderSchema. A listed folder always has
// files below it (an S3 common prefix exists only over objects, a Git tree
// only over blobs), so is_empty is false.
type SourceFolder struct {
	Prefix  string `json:"prefix"`
	Name    string `json:"name"`
	IsEmpty bool   `json:"is_empty"`
}

// SourceFile is AgentOS's SourceFileSchema (last_modified and
// content_type null when the source does not say).
type SourceFile struct {
	Key          string  `json:"key"`
	Name         string  `json:"name"`
	Size         int64   `json:"size"`
	LastModified *string `json:"last_modified" nullable:"true"`
	ContentType  *string `json:"content_type" nullable:"true"`
}

func sourceFile(f knowledge.RemoteFile) SourceFile {
	out := SourceFile{Key: f.Key, Name: f.Name, Size: f.Size}
	if f.LastModified != "" {
		out.LastModified = &f.LastModified
	}
	if f.ContentType != "" {
		out.ContentType = &f.ContentType
	}
	return out
}

// SourceFilesResponse is AgentOS's SourceFilesResponseSchema.
type SourceFilesResponse struct {
	SourceID   string         `json:"source_id"`
	SourceName string         `json:"source_name"`
	Prefix     string         `json:"prefix"`
	Folders    []SourceFolder `json:"folders"`
	Files      []SourceFile   `json:"files"`
	Meta       PageMeta       `json:"meta"`
}

// RemoteContentForm documents POST /knowledge/remote-content.
type RemoteContentForm struct {
	ConfigID     string `json:"config_id" doc:"The source's id (GET /knowledge/{knowledge_id}/sources)."`
	Path         string `json:"path" doc:"A file's key, or a folder (ending in / or with files below it): each of its files (at most 100) is added."`
	Name         string `json:"name,omitempty" maxLength:"255"`
	Description  string `json:"description,omitempty" maxLength:"1000"`
	Metadata     string `json:"metadata,omitempty" doc:"A JSON object stored with the contents and their chunks."`
	ReaderID     string `json:"reader_id,omitempty"`
	Chunker      string `json:"chunker,omitempty"`
	ChunkSize    int    `json:"chunk_size,omitempty"`
	ChunkOverlap int    `json:"chunk_overlap,omitempty"`
}

// RemoteContentResponse is the 202 of POST /knowledge/remote-content.
type RemoteContentResponse struct {
	ContentResponse
	ContentIDs []string          `json:"content_ids"`
	Contents   []ContentResponse `json:"contents"`
}

// addRemoteContent is POST /knowledge/remote-content.
func (h *Handler) addRemoteContent(c *fiber.Ctx) error {
	s, err := h.knowledgeService()
	if err != nil {
		return fail(c, err)
	}
	if err := h.checkDB(c.Query("db_id")); err != nil {
		return fail(c, err)
	}
	b, err := s.Base(c.Query("knowledge_id"))
	if err != nil {
		return fail(c, err)
	}
	f, _, err := ParseContentForm(string(c.Request().Header.ContentType()), c.Body(), 0)
	if err != nil {
		return fail(c, err)
	}
	size, err := formInt(f, "chunk_size")
	if err != nil {
		return fail(c, err)
	}
	overlap, err := formInt(f, "chunk_overlap")
	if err != nil {
		return fail(c, err)
	}
	out, err := s.AddRemote(c.UserContext(), knowledge.RemoteRequest{KnowledgeID: b.ID, SourceID: f["config_id"], Path: f["path"],
		Name: f["name"], Description: f["description"], Metadata: parseMetadata(f["metadata"]), ReaderID: f["reader_id"],
		Chunker: f["chunker"], ChunkSize: size, ChunkOverlap: overlap})
	if err != nil {
		return failKnowledge(c, err)
	}
	resp := RemoteContentResponse{ContentIDs: []string{}, Contents: []ContentResponse{}}
	for i, ct := range out {
		r := contentResponse(ct)
		if i == 0 {
			resp.ContentResponse = r
		}
		resp.ContentIDs = append(resp.ContentIDs, ct.ID)
		resp.Contents = append(resp.Contents, r)
	}
	return c.Status(http.StatusAccepted).JSON(resp)
}

// knowledgeRemoteRoutes are the remote-content routes.
func (h *Handler) knowledgeRemoteRoutes() []Route {
	tags := []string{"Knowledge"}
	kbParam := &huma.Param{Name: "knowledge_id", In: "query", Schema: &huma.Schema{Type: "string"},
		Description: "The knowledge base (default: the first configured)."}
	return []Route{
		{Operation: huma.Operation{OperationID: "add-knowledge-remote-content", Method: http.MethodPost, Path: "/knowledge/remote-content",
			Summary: "Add a file or a folder of a remote source (S3, GitHub) to a knowledge base", Tags: tags,
			Description: "202 with the contents processing (content_ids: one per file; a folder adds each file under it, at most 100, else 400). " +
				"Ingestion runs on the durable queue; a file that cannot be fetched becomes failed with the reason. " +
				"Identical bytes already in the base answer the existing content. An unknown config_id: 400 (as AgentOS).",
			Parameters: []*huma.Param{kbParam}},
			DBScoped: true, Access: scoped(auth.ResourceKnowledge, auth.ActionWrite, ""), Errors: []int{400, 404, 413, 415},
			Also: map[int]string{http.StatusAccepted: "The contents, processing."},
			Raw:  h.addRemoteContent, Form: RemoteContentForm{}, Resp: RemoteContentResponse{}},
		{Operation: huma.Operation{OperationID: "list-knowledge-sources", Method: http.MethodGet, Path: "/knowledge/{knowledge_id}/sources",
			Summary: "List a knowledge base's remote content sources", Tags: tags},
			Access: scoped(auth.ResourceKnowledge, auth.ActionRead, ""), Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *struct {
				KnowledgeID string `path:"knowledge_id"`
			}) (*struct{ Body []RemoteContentSource }, error) {
				s, err := h.knowledgeService()
				if err != nil {
					return nil, toAPIError(err)
				}
				b, err := s.Base(in.KnowledgeID)
				if err != nil {
					return nil, toAPIError(err)
				}
				return &struct{ Body []RemoteContentSource }{remoteSources(b)}, nil
			})},
		{Operation: huma.Operation{OperationID: "list-knowledge-source-files", Method: http.MethodGet, Path: "/knowledge/{knowledge_id}/sources/{source_id}/files",
			Summary: "List the folders and files of a remote source", Tags: tags,
			Description: "One level below prefix (relative to the source's root), split at delimiter (default /; empty lists every file below); folders in full, files paged."},
			Access: scoped(auth.ResourceKnowledge, auth.ActionRead, ""), Errors: []int{400, 404, 422},
			Handle: typed(func(ctx context.Context, in *struct {
				KnowledgeID string `path:"knowledge_id"`
				SourceID    string `path:"source_id"`
				Prefix      string `query:"prefix" maxLength:"1024"`
				Delimiter   string `query:"delimiter" default:"/" maxLength:"8"`
				Limit       int    `query:"limit" default:"100" minimum:"1" maximum:"1000"`
				Page        int    `query:"page" default:"1" minimum:"1"`
			}) (*struct{ Body SourceFilesResponse }, error) {
				s, err := h.knowledgeService()
				if err != nil {
					return nil, toAPIError(err)
				}
				src, err := s.Source(in.KnowledgeID, in.SourceID)
				if err != nil {
					return nil, toAPIError(err)
				}
				if strings.Contains(in.Prefix, "..") {
					return nil, toAPIError(core.Errorf(core.CodeInvalid, "prefix must not have '..'"))
				}
				folders, files, total, err := src.List(ctx, in.Prefix, in.Delimiter, in.Limit, in.Page)
				if err != nil {
					return nil, toAPIError(err)
				}
				out := SourceFilesResponse{SourceID: src.ID(), SourceName: src.Name(), Prefix: in.Prefix,
					Folders: []SourceFolder{}, Files: []SourceFile{}, Meta: pageMeta(in.Limit, in.Page, total)}
				for _, f := range files {
					out.Files = append(out.Files, sourceFile(f))
				}
				for _, f := range folders {
					out.Folders = append(out.Folders, SourceFolder{Prefix: f, Name: path.Base(strings.TrimRight(f, "/"))})
				}
				return &struct{ Body SourceFilesResponse }{out}, nil
			})},
	}
}

func remoteSources(b *knowledge.Base) []RemoteContentSource {
	out := []RemoteContentSource{}
	for _, src := range b.Sources {
		out = append(out, remoteSource(src))
	}
	return out
}
