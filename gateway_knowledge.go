package agentgate

// The knowledge bases' wiring: their embedders, the core/knowledge service
// on the state store (contents, chunks and the uploads' bytes), URL
// fetching through the egress guard, and ingestion as a one-off job of the
// durable queue (any replica works it; River retries it after a failure
// or a crash).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/agentgate/agentgate/core/knowledge"
	"github.com/agentgate/agentgate/core/knowledge/chunk"
	"github.com/agentgate/agentgate/core/knowledge/embed"
	"github.com/agentgate/agentgate/core/knowledge/reader"
	"github.com/agentgate/agentgate/core/knowledge/source"
	"github.com/agentgate/agentgate/queue/riverqueue"
	"github.com/agentgate/agentgate/transport/egress"
)

const (
	// knowledgeIngestJob is the queue's job name of an ingestion.
	knowledgeIngestJob = "knowledge_ingest"
	// knowledgeIngestAttempts bounds the attempts of one ingestion (a
	// worker lost to a crash uses one).
	knowledgeIngestAttempts = 5
	// knowledgeFetchTimeout bounds one URL fetch.
	knowledgeFetchTimeout = 60 * time.Second
)

// ingestPayload is an ingestion job's payload.
type ingestPayload struct {
	ContentID string `json:"content_id"`
}

// Knowledge is the knowledge bases' service (nil when none is configured):
// agents and teams attach a base by id (Knowledge().Base(id)).
func (g *Gateway) Knowledge() *knowledge.Service { return g.knowledge }

// buildEmbedders builds the configured embedders.
func buildEmbedders(cfg *Config) (map[string]knowledge.Embedder, error) {
	out := map[string]knowledge.Embedder{}
	for name, e := range cfg.Embedders {
		key := e.APIKey
		if key == "" && e.BaseURL == "" {
			key = os.Getenv("OPENAI_API_KEY")
		}
		emb, err := embed.New(embed.Config{ID: name, BaseURL: e.BaseURL, APIKey: key, Model: e.Model, Dimensions: e.Dimensions,
			SendDimensions: e.SendDimensions, BatchSize: e.BatchSize, MaxRetries: e.MaxRetries, Timeout: e.Timeout})
		if err != nil {
			return nil, fmt.Errorf("embedders.%s: %w", name, err)
		}
		out[name] = emb
	}
	return out, nil
}

// buildKnowledge builds the service and registers the ingestion job on
// the queue. Call it before the queue starts.
func (g *Gateway) buildKnowledge() error {
	cfg := g.cfg
	if len(cfg.Knowledge) == 0 {
		return nil
	}
	blobs, ok := g.store.(knowledge.BlobStore)
	if !ok {
		return errors.New("knowledge: this state store cannot keep uploads (no knowledge.BlobStore)")
	}
	embedders, err := buildEmbedders(cfg)
	if err != nil {
		return err
	}
	var bases []knowledge.Base
	for _, k := range cfg.Knowledge {
		max, _ := ParseSize(k.MaxUploadSize) // validated
		b := knowledge.Base{ID: k.ID, Name: k.Name, Description: k.Description, Chunker: k.Chunker, ChunkSize: k.ChunkSize,
			ChunkOverlap: k.ChunkOverlap, MaxUploadSize: max, AllowPrivateURLs: k.AllowPrivateURLs, SearchType: k.SearchType}
		if k.Embedder != "" {
			b.Embedder = embedders[k.Embedder]
		}
		if b.Sources, err = buildSources(k); err != nil {
			return err
		}
		bases = append(bases, b)
	}
	fetch, err := knowledgeFetcher(cfg)
	if err != nil {
		return err
	}
	sc := knowledge.ServiceConfig{Store: g.store, Blobs: blobs, Bases: bases, Readers: reader.Default(reader.Limits{}),
		Chunkers: chunk.Default(), Fetch: fetch, Logger: g.logger}
	q := g.queue
	if q != nil {
		sc.Enqueue = func(ctx context.Context, id string) error {
			_, err := q.InsertJob(ctx, knowledgeIngestJob, ingestPayload{ContentID: id})
			return err
		}
	}
	svc, err := knowledge.NewService(sc)
	if err != nil {
		return err
	}
	g.knowledge = svc
	if q == nil {
		return nil
	}
	opts := riverqueue.JobOptions{MaxAttempts: knowledgeIngestAttempts,
		Backoff: func(attempt int) time.Duration { return time.Duration(attempt*attempt) * time.Second }}
	return q.AddJob(knowledgeIngestJob, opts, func(ctx context.Context, raw json.RawMessage, attempt int) error {
		var p ingestPayload
		if err := json.Unmarshal(raw, &p); err != nil || p.ContentID == "" {
			return riverqueue.Permanent(fmt.Errorf("knowledge: bad ingestion payload %s", raw))
		}
		err := svc.Ingest(ctx, p.ContentID, attempt, attempt >= knowledgeIngestAttempts)
		if knowledge.IsFinal(err) {
			return nil // the content is failed, with the reason
		}
		return err
	})
}

// knowledgeFetcher fetches URLs for ingestion through the egress guard:
// internal addresses are refused unless egress.allow lets them through,
// or everywhere for a base with allow_private_urls.
func knowledgeFetcher(cfg *Config) (knowledge.Fetcher, error) {
	strict, err := egress.New(egress.Config{Allow: cfg.Egress.Allow, MaxRedirects: cfg.Egress.MaxRedirects})
	if err != nil {
		return nil, err
	}
	open, err := egress.New(egress.Config{Allow: append([]string{"0.0.0.0/0", "::/0"}, cfg.Egress.Allow...), MaxRedirects: cfg.Egress.MaxRedirects})
	if err != nil {
		return nil, err
	}
	strictClient, openClient := strict.Client(knowledgeFetchTimeout), open.Client(knowledgeFetchTimeout)
	return func(ctx context.Context, rawURL string, allowPrivate bool) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
		if err != nil {
			return nil, knowledge.Final(err)
		}
		req.Header.Set("User-Agent", "agentgate-knowledge/"+Version)
		req.Header.Set("Accept", "text/html, text/markdown, text/plain, application/pdf, */*;q=0.5")
		client := strictClient
		if allowPrivate {
			client = openClient
		}
		resp, err := client.Do(req)
		var refused *egress.RefusedError
		if errors.As(err, &refused) {
			return nil, knowledge.Final(fmt.Errorf("%v (or set allow_private_urls on the knowledge base)", refused))
		}
		return resp, err
	}, nil
}

// buildSources builds a knowledge base's remote content sources (no call
// to the services: a source unreachable at start fails its files later).
func buildSources(k KnowledgeConfig) ([]knowledge.Source, error) {
	var out []knowledge.Source
	for _, sc := range k.Sources {
		switch {
		case sc.S3 != nil:
			c := sc.S3
			src, err := source.NewS3(context.Background(), source.S3Config{ID: sc.ID, Name: sc.Name, Bucket: c.Bucket, Prefix: c.Prefix,
				Region: c.Region, Endpoint: c.Endpoint, PathStyle: c.PathStyle, AccessKeyID: c.AccessKeyID,
				SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken})
			if err != nil {
				return nil, fmt.Errorf("knowledge %s: source %s: %w", k.ID, sc.ID, err)
			}
			out = append(out, src)
		case sc.GitHub != nil:
			c := sc.GitHub
			src, err := source.NewGitHub(source.GitHubConfig{ID: sc.ID, Name: sc.Name, Repo: c.Repo, Branch: c.Branch, Path: c.Path,
				Token: c.Token, BaseURL: c.APIURL})
			if err != nil {
				return nil, fmt.Errorf("knowledge %s: source %s: %w", k.ID, sc.ID, err)
			}
			out = append(out, src)
		}
	}
	return out, nil
}
