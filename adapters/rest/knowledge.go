package rest

// /knowledge (AgentOS §1.7, agno os/routers/knowledge): contents uploaded
// (file, text, URLs) and ingested on the durable queue, their status,
// search (keyword, vector, hybrid) and the readers, chunkers and search
// types the bases offer.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/knowledge"
	"github.com/agentgate/agentgate/core/knowledge/reader"
	"github.com/agentgate/agentgate/transport/httptransport"
)

// ContentResponse is AgentOS's ContentResponseSchema: size is a string,
// times are ISO 8601.
type ContentResponse struct {
	ID            string         `json:"id"`
	Name          string         `json:"name,omitempty"`
	Description   string         `json:"description,omitempty"`
	Type          string         `json:"type,omitempty"`
	Size          string         `json:"size,omitempty"`
	LinkedTo      string         `json:"linked_to,omitempty"`
	Metadata      map[string]any `json:"metadata,omitempty"`
	AccessCount   int            `json:"access_count"`
	Status        string         `json:"status" enum:"processing,completed,failed"`
	StatusMessage string         `json:"status_message"`
	CreatedAt     *time.Time     `json:"created_at,omitempty"`
	UpdatedAt     *time.Time     `json:"updated_at,omitempty"`
}

func contentResponse(c *knowledge.Content) ContentResponse {
	r := ContentResponse{ID: c.ID, Name: c.Name, Description: c.Description, Type: c.Type, LinkedTo: c.LinkedTo,
		Metadata: c.Metadata, AccessCount: c.AccessCount, Status: c.Status, StatusMessage: c.StatusMessage,
		Size: strconv.FormatInt(c.Size, 10)}
	if c.CreatedAt > 0 {
		t := time.Unix(c.CreatedAt, 0).UTC()
		r.CreatedAt = &t
	}
	if c.UpdatedAt > 0 {
		t := time.Unix(c.UpdatedAt, 0).UTC()
		r.UpdatedAt = &t
	}
	return r
}

// ContentStatusResponse is AgentOS's ContentStatusResponse.
type ContentStatusResponse struct {
	ID            string `json:"id"`
	Status        string `json:"status" enum:"processing,completed,failed"`
	StatusMessage string `json:"status_message"`
}

// ContentPage is a page of contents.
type ContentPage struct {
	Data []ContentResponse `json:"data"`
	Meta PageMeta          `json:"meta"`
}

// ContentForm documents POST /knowledge/content (multipart/form-data).
type ContentForm struct {
	File         string `json:"file,omitempty" doc:"A file (a file part named file) to ingest (its type picks the reader: text, Markdown, HTML, PDF, CSV, JSON, DOCX)."`
	TextContent  string `json:"text_content,omitempty" doc:"Raw text to ingest."`
	URL          string `json:"url,omitempty" doc:"A URL, or a JSON array of URLs, to fetch and ingest."`
	Name         string `json:"name,omitempty" maxLength:"255"`
	Description  string `json:"description,omitempty" maxLength:"1000"`
	Metadata     string `json:"metadata,omitempty" doc:"A JSON object stored with the content and its chunks (search filters match it)."`
	ReaderID     string `json:"reader_id,omitempty"`
	Chunker      string `json:"chunker,omitempty" doc:"fixed, recursive or markdown (or AgentOS's class names)."`
	ChunkSize    int    `json:"chunk_size,omitempty"`
	ChunkOverlap int    `json:"chunk_overlap,omitempty"`
}

// ContentUpdateForm documents PATCH /knowledge/content/{content_id}.
type ContentUpdateForm struct {
	Name        string `json:"name,omitempty" maxLength:"255"`
	Description string `json:"description,omitempty" maxLength:"1000"`
	Metadata    string `json:"metadata,omitempty" doc:"A JSON object (replaces the metadata)."`
	ReaderID    string `json:"reader_id,omitempty"`
}

// SearchMeta is the paging of a search request.
type SearchMeta struct {
	Limit int `json:"limit,omitempty" minimum:"1" maximum:"1000" doc:"Default 20."`
	Page  int `json:"page,omitempty" minimum:"1" doc:"Default 1."`
}

// KnowledgeSearchBody is AgentOS's VectorSearchRequestSchema.
type KnowledgeSearchBody struct {
	Query       string         `json:"query" minLength:"1"`
	DBID        string         `json:"db_id,omitempty"`
	KnowledgeID string         `json:"knowledge_id,omitempty"`
	VectorDBIDs []string       `json:"vector_db_ids,omitempty"`
	SearchType  string         `json:"search_type,omitempty" enum:"vector,keyword,hybrid" doc:"Default: the base's (hybrid with an embedder, keyword without)."`
	MaxResults  int            `json:"max_results,omitempty" minimum:"1" maximum:"1000" doc:"Default 10."`
	Filters     map[string]any `json:"filters,omitempty" doc:"Metadata filters: a dict of keys and the values they must equal, or agno's filter expression ({\"op\": EQ, NEQ, GT, GTE, LT, LTE, IN, CONTAINS, STARTSWITH, AND, OR, NOT, ...})."`
	Meta        *SearchMeta    `json:"meta,omitempty"`
}

// SearchResult is AgentOS's VectorSearchResult.
type SearchResult struct {
	ID             string         `json:"id"`
	Content        string         `json:"content"`
	Name           string         `json:"name,omitempty"`
	MetaData       map[string]any `json:"meta_data,omitempty"`
	Usage          map[string]any `json:"usage,omitempty"`
	RerankingScore float64        `json:"reranking_score"`
	ContentID      string         `json:"content_id"`
	ContentOrigin  string         `json:"content_origin,omitempty"`
	Size           int            `json:"size"`
}

// SearchPage is a page of search results.
type SearchPage struct {
	Data []SearchResult `json:"data"`
	Meta PageMeta       `json:"meta"`
}

// ReaderInfo, ChunkerInfo and VectorDBInfo describe what /knowledge/config
// offers.
type ReaderInfo struct {
	ID          string   `json:"id"`
	Name        string   `json:"name,omitempty"`
	Description string   `json:"description,omitempty"`
	Chunkers    []string `json:"chunkers,omitempty"`
}

type ChunkerInfo struct {
	Key         string `json:"key"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
}

type VectorDBInfo struct {
	ID          string   `json:"id"`
	Name        string   `json:"name,omitempty"`
	Description string   `json:"description,omitempty"`
	SearchTypes []string `json:"search_types"`
}

// KnowledgeConfigResponse is AgentOS's ConfigResponseSchema of /knowledge.
type KnowledgeConfigResponse struct {
	Readers              map[string]ReaderInfo  `json:"readers"`
	ReadersForType       map[string][]string    `json:"readersForType"`
	Chunkers             map[string]ChunkerInfo `json:"chunkers"`
	Filters              []string               `json:"filters" doc:"The metadata keys of the base's contents (what filters can match)."`
	VectorDBs            []VectorDBInfo         `json:"vector_dbs"`
	RemoteContentSources []RemoteContentSource  `json:"remote_content_sources"`
}

var errNoKnowledge = core.Errorf(core.CodeNotFound, "no knowledge base is configured on this gateway (knowledge: in the config)")

// knowledgeQuery is the query of the routes on a base.
type knowledgeQuery struct {
	KnowledgeID string `query:"knowledge_id" doc:"The knowledge base (default: the first configured)."`
}

// knowledgeStatus maps the service's errors: an unsupported content type
// is 415, naming it.
func knowledgeStatus(err error) int {
	var unsup *reader.UnsupportedError
	if errors.As(err, &unsup) {
		return http.StatusUnsupportedMediaType
	}
	return StatusOf(err)
}

func knowledgeError(err error) error {
	if s := knowledgeStatus(err); s == http.StatusUnsupportedMediaType {
		return huma.NewError(s, core.MessageOf(err))
	}
	return toAPIError(err)
}

func failKnowledge(c *fiber.Ctx, err error) error {
	return httptransport.WriteError(c, knowledgeStatus(err), errorBody(err))
}

// parseMetadata reads a metadata field: a JSON object, or (as AgentOS)
// any other text kept as {"value": text}.
func parseMetadata(s string) map[string]any {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err == nil {
		return m
	}
	return map[string]any{"value": s}
}

// parseURLs reads the url field: a URL or a JSON array of them.
func parseURLs(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if strings.HasPrefix(s, "[") {
		var list []string
		if err := json.Unmarshal([]byte(s), &list); err != nil {
			return nil, core.Errorf(core.CodeInvalid, "url: a JSON array of strings or one URL: %v", err)
		}
		return list, nil
	}
	return []string{s}, nil
}

func formInt(f Form, name string) (int, error) {
	v := strings.TrimSpace(f[name])
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, core.Errorf(core.CodeInvalid, "%s must be an integer, not %q", name, truncate(v, 40))
	}
	return n, nil
}

// ParseContentForm decodes POST /knowledge/content's body: multipart (the
// only form that carries a file, of at most maxFile bytes: more is 413),
// urlencoded or JSON fields. It never panics.
func ParseContentForm(contentType string, body []byte, maxFile int64) (Form, *knowledge.Upload, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" {
		f, err := ParseForm(contentType, body)
		return f, nil, err
	}
	boundary := params["boundary"]
	if boundary == "" {
		return nil, nil, core.Errorf(core.CodeInvalid, "multipart body without a boundary")
	}
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	f := Form{}
	var up *knowledge.Upload
	for {
		part, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, core.Errorf(core.CodeInvalid, "malformed multipart body: %v", err)
		}
		name := part.FormName()
		if name == "file" || part.FileName() != "" {
			if up != nil {
				part.Close()
				return nil, nil, core.Errorf(core.CodeInvalid, "one file per request")
			}
			data, err := io.ReadAll(io.LimitReader(part, maxFile+1))
			part.Close()
			if err != nil {
				return nil, nil, core.Errorf(core.CodeInvalid, "malformed multipart body: %v", err)
			}
			if int64(len(data)) > maxFile {
				return nil, nil, core.Errorf(core.CodeTooLarge, "the file is over the knowledge base's max_upload_size of %d bytes", maxFile)
			}
			up = &knowledge.Upload{Name: part.FileName(), ContentType: part.Header.Get("Content-Type"), Data: data}
			continue
		}
		v, err := io.ReadAll(io.LimitReader(part, 64<<20))
		part.Close()
		if err != nil {
			return nil, nil, core.Errorf(core.CodeInvalid, "malformed multipart body: %v", err)
		}
		if len(f) >= maxFormFields {
			return nil, nil, core.Errorf(core.CodeInvalid, "too many form fields")
		}
		f[name] = string(v)
	}
	return f, up, nil
}

// addRequest builds the service's request from the form.
func addRequest(kb string, f Form, up *knowledge.Upload) (knowledge.AddRequest, error) {
	urls, err := parseURLs(f["url"])
	if err != nil {
		return knowledge.AddRequest{}, err
	}
	size, err := formInt(f, "chunk_size")
	if err != nil {
		return knowledge.AddRequest{}, err
	}
	overlap, err := formInt(f, "chunk_overlap")
	if err != nil {
		return knowledge.AddRequest{}, err
	}
	return knowledge.AddRequest{KnowledgeID: kb, Name: f["name"], Description: f["description"], Metadata: parseMetadata(f["metadata"]),
		ReaderID: f["reader_id"], Chunker: f["chunker"], ChunkSize: size, ChunkOverlap: overlap, File: up,
		Text: f["text_content"], URLs: urls}, nil
}

// checkDB refuses a db_id that is not one of the databases (/config).
func (h *Handler) checkDB(id string) error {
	if id == "" {
		return nil
	}
	if _, ok := h.database(id); !ok {
		return core.Errorf(core.CodeNotFound, "database %q not found: GET /config lists the databases", id)
	}
	return nil
}

func (h *Handler) knowledgeService() (*knowledge.Service, error) {
	if h.cfg.Knowledge == nil {
		return nil, errNoKnowledge
	}
	return h.cfg.Knowledge, nil
}

// uploadContent is POST /knowledge/content.
func (h *Handler) uploadContent(c *fiber.Ctx) error {
	s, err := h.knowledgeService()
	if err != nil {
		return fail(c, err)
	}
	if err := h.checkDB(c.Query("db_id")); err != nil {
		return fail(c, err)
	}
	kb := c.Query("knowledge_id")
	b, err := s.Base(kb)
	if err != nil {
		return fail(c, err)
	}
	f, up, err := ParseContentForm(string(c.Request().Header.ContentType()), c.Body(), b.MaxUploadSize)
	if err != nil {
		return fail(c, err)
	}
	req, err := addRequest(b.ID, f, up)
	if err != nil {
		return fail(c, err)
	}
	out, err := s.Add(c.UserContext(), req)
	if err != nil {
		return failKnowledge(c, err)
	}
	return c.Status(http.StatusAccepted).JSON(contentResponse(out[0]))
}

// updateContent is PATCH /knowledge/content/{content_id}.
func (h *Handler) updateContent(c *fiber.Ctx) error {
	s, err := h.knowledgeService()
	if err != nil {
		return fail(c, err)
	}
	if err := h.checkDB(c.Query("db_id")); err != nil {
		return fail(c, err)
	}
	f, err := ParseForm(string(c.Request().Header.ContentType()), c.Body())
	if err != nil {
		return fail(c, err)
	}
	var u knowledge.Update
	if v, ok := f["name"]; ok {
		u.Name = &v
	}
	if v, ok := f["description"]; ok {
		u.Description = &v
	}
	if v, ok := f["metadata"]; ok {
		u.Metadata = parseMetadata(v)
		if u.Metadata == nil {
			u.Metadata = map[string]any{}
		}
	}
	if v, ok := f["reader_id"]; ok && v != "" {
		u.ReaderID = &v
	}
	ct, err := s.Update(c.UserContext(), c.Query("knowledge_id"), strings.Clone(c.Params("content_id")), u)
	if err != nil {
		return failKnowledge(c, err)
	}
	return c.JSON(contentResponse(ct))
}

// knowledgeRoutes are /knowledge. Knowledge is not owner-bound: the
// knowledge scopes decide (search = read).
func (h *Handler) knowledgeRoutes() []Route {
	tags := []string{"Knowledge"}
	const res = "knowledge"
	contentParam := &huma.Param{Name: "content_id", In: "path", Required: true, Schema: &huma.Schema{Type: "string"}}
	kbParam := &huma.Param{Name: "knowledge_id", In: "query", Schema: &huma.Schema{Type: "string"},
		Description: "The knowledge base (default: the first configured)."}
	one := func(c *knowledge.Content, err error) (*struct{ Body ContentResponse }, error) {
		if err != nil {
			return nil, knowledgeError(err)
		}
		return &struct{ Body ContentResponse }{contentResponse(c)}, nil
	}
	type contentPath struct {
		KnowledgeID string `query:"knowledge_id" doc:"The knowledge base (default: the first configured)."`
		ID          string `path:"content_id"`
	}
	return []Route{
		{Operation: huma.Operation{OperationID: "upload-knowledge-content", Method: http.MethodPost, Path: "/knowledge/content",
			Summary: "Upload content (file, text or URLs) to a knowledge base", Tags: tags,
			Description: "202 with the content processing: ingestion (read, chunk, embed) runs on the durable queue, on any replica. " +
				"Poll GET /knowledge/content/{content_id}/status until completed or failed (with the reason). " +
				"The same content again (same bytes, text or URL in the same base) answers the existing one. " +
				"Over the base's max_upload_size: 413; a type no reader takes: 415 naming it.",
			Parameters: []*huma.Param{kbParam}},
			DBScoped: true, Access: scoped(auth.ResourceKnowledge, auth.ActionWrite, ""), Errors: []int{400, 404, 413, 415},
			Also: map[int]string{http.StatusAccepted: "The content, processing (or the existing one of the same hash)."},
			Raw:  h.uploadContent, Form: ContentForm{}, Resp: ContentResponse{}},
		{Operation: huma.Operation{OperationID: "list-knowledge-content", Method: http.MethodGet, Path: "/knowledge/content",
			Summary: "List a knowledge base's contents", Tags: tags},
			DBScoped: true, Access: scoped(auth.ResourceKnowledge, auth.ActionRead, ""), Errors: []int{400, 404, 422},
			Handle: typed(func(ctx context.Context, in *struct {
				KnowledgeID string `query:"knowledge_id" doc:"The knowledge base (default: the first configured)."`
				Limit       int    `query:"limit" default:"20" minimum:"1" maximum:"1000"`
				Page        int    `query:"page" default:"1" minimum:"1"`
				SortBy      string `query:"sort_by" enum:"created_at,updated_at,name,status,size,type," doc:"Default created_at."`
				SortOrder   string `query:"sort_order" enum:"asc,desc," doc:"Default desc."`
			}) (*struct{ Body ContentPage }, error) {
				s, err := h.knowledgeService()
				if err != nil {
					return nil, toAPIError(err)
				}
				list, total, err := s.List(ctx, knowledge.ContentList{KnowledgeID: in.KnowledgeID, Limit: in.Limit, Page: in.Page,
					SortBy: in.SortBy, SortOrder: in.SortOrder})
				if err != nil {
					return nil, toAPIError(err)
				}
				out := ContentPage{Data: make([]ContentResponse, len(list)), Meta: pageMeta(in.Limit, in.Page, total)}
				for i := range list {
					out.Data[i] = contentResponse(&list[i])
				}
				return &struct{ Body ContentPage }{out}, nil
			})},
		{Operation: huma.Operation{OperationID: "delete-all-knowledge-content", Method: http.MethodDelete, Path: "/knowledge/content",
			Summary: "Delete every content (and chunk) of a knowledge base", Tags: tags},
			DBScoped: true, Access: scoped(auth.ResourceKnowledge, auth.ActionDelete, ""), Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *knowledgeQuery) (*struct{ Body string }, error) {
				s, err := h.knowledgeService()
				if err != nil {
					return nil, toAPIError(err)
				}
				if _, err := s.DeleteAll(ctx, in.KnowledgeID); err != nil {
					return nil, toAPIError(err)
				}
				return &struct{ Body string }{"success"}, nil
			})},
		{Operation: huma.Operation{OperationID: "get-knowledge-content", Method: http.MethodGet, Path: "/knowledge/content/{content_id}",
			Summary: "Get a content", Tags: tags},
			DBScoped: true, Access: scoped(auth.ResourceKnowledge, auth.ActionRead, ""), Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *contentPath) (*struct{ Body ContentResponse }, error) {
				s, err := h.knowledgeService()
				if err != nil {
					return nil, toAPIError(err)
				}
				return one(s.Get(ctx, in.KnowledgeID, in.ID))
			})},
		{Operation: huma.Operation{OperationID: "get-knowledge-content-status", Method: http.MethodGet, Path: "/knowledge/content/{content_id}/status",
			Summary: "Get a content's ingestion status", Tags: tags},
			DBScoped: true, Access: scoped(auth.ResourceKnowledge, auth.ActionRead, ""), Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *contentPath) (*struct{ Body ContentStatusResponse }, error) {
				s, err := h.knowledgeService()
				if err != nil {
					return nil, toAPIError(err)
				}
				c, err := s.Get(ctx, in.KnowledgeID, in.ID)
				if err != nil {
					return nil, toAPIError(err)
				}
				return &struct{ Body ContentStatusResponse }{ContentStatusResponse{ID: c.ID, Status: c.Status, StatusMessage: c.StatusMessage}}, nil
			})},
		{Operation: huma.Operation{OperationID: "update-knowledge-content", Method: http.MethodPatch, Path: "/knowledge/content/{content_id}",
			Summary: "Update a content's name, description, metadata or reader", Tags: tags,
			Parameters: []*huma.Param{contentParam, kbParam}},
			DBScoped: true, Access: scoped(auth.ResourceKnowledge, auth.ActionWrite, ""), Errors: []int{400, 404, 413},
			Raw: h.updateContent, Form: ContentUpdateForm{}, Resp: ContentResponse{}},
		{Operation: huma.Operation{OperationID: "delete-knowledge-content", Method: http.MethodDelete, Path: "/knowledge/content/{content_id}",
			Summary: "Delete a content and its chunks", Tags: tags},
			DBScoped: true, Access: scoped(auth.ResourceKnowledge, auth.ActionDelete, ""), Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *contentPath) (*struct{ Body ContentResponse }, error) {
				s, err := h.knowledgeService()
				if err != nil {
					return nil, toAPIError(err)
				}
				return one(s.Delete(ctx, in.KnowledgeID, in.ID))
			})},
		{Operation: huma.Operation{OperationID: "search-knowledge", Method: http.MethodPost, Path: "/knowledge/search",
			Summary: "Search a knowledge base (keyword, vector or hybrid)", Tags: tags,
			Description: "Hybrid search fuses keyword and vector results by reciprocal rank (k = 60). Vector and hybrid search need the base to have an embedder (else 400 saying so). " +
				"max_results are found, then paged by meta.limit and meta.page."},
			Access: scoped(auth.ResourceKnowledge, auth.ActionRead, ""), Errors: []int{400, 404, 422},
			Handle: typed(func(ctx context.Context, in *struct{ Body KnowledgeSearchBody }) (*struct{ Body SearchPage }, error) {
				s, err := h.knowledgeService()
				if err != nil {
					return nil, toAPIError(err)
				}
				b := in.Body
				if err := h.checkDB(b.DBID); err != nil {
					return nil, toAPIError(err)
				}
				req := knowledge.SearchRequest{Query: b.Query, KnowledgeID: b.KnowledgeID, SearchType: b.SearchType,
					MaxResults: b.MaxResults, Filters: b.Filters}
				if b.Meta != nil {
					req.Page, req.Limit = b.Meta.Page, b.Meta.Limit
				}
				if len(b.VectorDBIDs) > 0 {
					base, err := s.Base(b.KnowledgeID)
					if err != nil {
						return nil, toAPIError(err)
					}
					if !contains(b.VectorDBIDs, base.ID) {
						return nil, toAPIError(core.Errorf(core.CodeInvalid, "none of vector_db_ids %v is knowledge base %q's vector db (%q)", b.VectorDBIDs, base.ID, base.ID))
					}
				}
				res, err := s.Search(ctx, req)
				if err != nil {
					return nil, toAPIError(err)
				}
				out := SearchPage{Data: make([]SearchResult, len(res.Hits)), Meta: pageMeta(res.Limit, res.Page, res.Total)}
				out.Meta.SearchTimeMS = math.Round(float64(res.Took.Microseconds())/10) / 100
				for i, hit := range res.Hits {
					out.Data[i] = SearchResult{ID: hit.ID, Content: hit.Text, Name: hit.Name, MetaData: hit.Metadata,
						RerankingScore: hit.Score, ContentID: hit.ContentID, ContentOrigin: hit.ContentOrigin, Size: len(hit.Text)}
				}
				return &struct{ Body SearchPage }{out}, nil
			})},
		{Operation: huma.Operation{OperationID: "get-knowledge-config", Method: http.MethodGet, Path: "/knowledge/config",
			Summary: "Readers, chunkers and search types of a knowledge base", Tags: tags},
			DBScoped: true, Access: scoped(auth.ResourceKnowledge, auth.ActionRead, ""), Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *knowledgeQuery) (*struct{ Body KnowledgeConfigResponse }, error) {
				s, err := h.knowledgeService()
				if err != nil {
					return nil, toAPIError(err)
				}
				b, err := s.Base(in.KnowledgeID)
				if err != nil {
					return nil, toAPIError(err)
				}
				cfg := knowledgeConfig(s, b)
				if cfg.Filters, err = s.FilterKeys(ctx, b.ID); err != nil {
					return nil, toAPIError(err)
				}
				return &struct{ Body KnowledgeConfigResponse }{cfg}, nil
			})},
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// knowledgeConfig is /knowledge/config of base b.
func knowledgeConfig(s *knowledge.Service, b *knowledge.Base) KnowledgeConfigResponse {
	out := KnowledgeConfigResponse{Readers: map[string]ReaderInfo{}, ReadersForType: s.Readers().ForType(),
		Chunkers: map[string]ChunkerInfo{}, Filters: []string{}, RemoteContentSources: remoteSources(b)}
	var chunkers []string
	for _, c := range s.Chunkers().All() {
		out.Chunkers[c.ID()] = ChunkerInfo{Key: c.ID(), Name: c.Name(), Description: c.Description()}
		chunkers = append(chunkers, c.ID())
	}
	for _, r := range s.Readers().All() {
		out.Readers[r.ID()] = ReaderInfo{ID: r.ID(), Name: r.Name(), Description: r.Description(), Chunkers: chunkers}
	}
	out.VectorDBs = []VectorDBInfo{{ID: b.ID, Name: b.Name, Description: b.Description, SearchTypes: b.SearchTypes()}}
	return out
}
