package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode"

	slackapi "github.com/slack-go/slack"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/media"
)

// Files shared in a mention or a DM become the run's media: each is
// downloaded with the app's bot token (scope files:read) from its
// url_private_download, checked and stored by the gateway's media store as
// an upload on the other interfaces is (the same per-file and per-run
// limits and type checks), and given to the run. A file that cannot be
// taken (too large, of a type the gateway does not support, deleted,
// external, or not downloadable) is named in a reply in the thread and the
// run is not started: the user shares it again or asks without it, as a
// REST caller gets a 400 or 413 for the whole request.
//
// The media a run produces (a tool's images, audio, files) are uploaded
// into the reply's thread when the run completes, with Slack's external
// upload flow (files.getUploadURLExternal, the upload, then
// files.completeUploadExternal with channel_id and thread_ts; scope
// files:write).
//
// Downloads and uploads carry the bot token, so slack-go sends them only to
// https Slack hosts (slack.com and its subdomains) or the app's configured
// API URL. Requests to the API URL's own scheme and host use the adapter's
// Web API client (that host is trusted as every API call already is: a
// test's loopback fake Slack serves files there); every other host (Slack's
// files.slack.com) is reached through the gateway's egress guard.

// File is a file a message shares: the fields the adapter uses of Slack's
// file object.
type File struct {
	ID                 string `json:"id"`
	Name               string `json:"name"`
	Title              string `json:"title"`
	Mimetype           string `json:"mimetype"`
	Filetype           string `json:"filetype"`
	Size               int64  `json:"size"`
	Mode               string `json:"mode"`
	IsExternal         bool   `json:"is_external"`
	URLPrivate         string `json:"url_private"`
	URLPrivateDownload string `json:"url_private_download"`
	// FileAccess "check_file_info": the event carries no details (a file
	// from another workspace over Slack Connect), files.info has them.
	FileAccess string `json:"file_access"`
}

// MaxFiles bounds the files of one message (Slack shares at most 10).
const MaxFiles = 20

// ParseFiles reads an event's files field: nil for none, else a list of
// file objects, each with a file id. It never panics.
func ParseFiles(raw json.RawMessage) ([]File, error) {
	s := bytes.TrimSpace(raw)
	if len(s) == 0 || string(s) == "null" {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(s, &items); err != nil {
		return nil, payloadErr("files: want a list of file objects: %v", err)
	}
	if len(items) > MaxFiles {
		return nil, payloadErr("files: %d files, at most %d", len(items), MaxFiles)
	}
	out := make([]File, 0, len(items))
	for i, it := range items {
		var f File
		if err := json.Unmarshal(it, &f); err != nil {
			return nil, payloadErr("files[%d]: %v", i, err)
		}
		if !validID(f.ID) {
			return nil, payloadErr("files[%d]: no valid file id", i)
		}
		if f.Size < 0 {
			return nil, payloadErr("files[%d]: negative size", i)
		}
		out = append(out, f)
	}
	return out, nil
}

// label is how the file is named to its user and the media store: its
// name, else its title, else its id, without control characters and at
// most 200 characters.
func (f File) label() string {
	for _, n := range []string{f.Name, f.Title, f.ID} {
		n = strings.TrimSpace(strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return -1
			}
			return r
		}, n))
		if n != "" {
			return truncate(n, 200)
		}
	}
	return "file"
}

// downloadURL is where the file's bytes are.
func (f File) downloadURL() string {
	if f.URLPrivateDownload != "" {
		return f.URLPrivateDownload
	}
	return f.URLPrivate
}

// fileTimeout bounds the download or upload of one file.
const fileTimeout = 2 * time.Minute

// fileClient is the HTTP client of an app's downloads and uploads: the Web
// API client for the API URL's own origin, the egress guard's for every
// other host (nil: none is reached).
type fileClient struct {
	api     *url.URL
	trusted *http.Client
	guarded *http.Client
}

func newFileClient(apiURL string, web, guarded *http.Client) *fileClient {
	u, _ := url.Parse(apiURL)
	if u == nil {
		u = &url.URL{}
	}
	c := &fileClient{api: u, guarded: guarded}
	// The Web API client's transport, without its whole-request timeout
	// (a file may take longer than an API call; the caller's context
	// bounds it), following redirects only within the API URL's origin.
	c.trusted = &http.Client{Transport: web.Transport, Jar: web.Jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("stopped after 5 redirects")
		}
		if !c.sameOrigin(req.URL) {
			return fmt.Errorf("redirected from the Slack API URL's host to %s", req.URL.Host)
		}
		return nil
	}}
	return c
}

func (c *fileClient) sameOrigin(u *url.URL) bool {
	return c.api.Host != "" && strings.EqualFold(u.Scheme, c.api.Scheme) && strings.EqualFold(u.Host, c.api.Host)
}

// Do implements slack-go's HTTP client.
func (c *fileClient) Do(req *http.Request) (*http.Response, error) {
	if c.sameOrigin(req.URL) {
		return c.trusted.Do(req)
	}
	if c.guarded == nil {
		return nil, fmt.Errorf("%s is not the Slack API URL's host, and this gateway has no egress client to reach it", req.URL.Host)
	}
	return c.guarded.Do(req)
}

// takeFiles downloads and stores the files of a message, under the media
// store's limits of one file and of a run's (as one upload: media.Upload).
// problems name every file that could not be taken, and why (then the run
// is not started).
//
// up keeps the files' bytes until it is ended (media.Upload.End), to be
// the run's MediaSource; it is nil only when the gateway keeps no media.
func (h *Handler) takeFiles(ctx context.Context, a *app, files []File) (up *media.Upload, refs []core.MediaRef, problems []string) {
	if h.cfg.Media == nil || h.cfg.Media.Store == nil {
		return nil, nil, []string{"this gateway keeps no media, so it cannot take shared files"}
	}
	up = h.cfg.Media.NewUpload().Restorable()
	for _, f := range files {
		if problem := h.takeFile(ctx, a, up, f); problem != "" {
			problems = append(problems, problem)
		}
	}
	refs, _ = up.Resolve(ctx, nil) // what was stored: no more sources
	return up, refs, problems
}

// takeFile downloads one file and stores it in up; problem says why it
// could not.
func (h *Handler) takeFile(ctx context.Context, a *app, up *media.Upload, f File) (problem string) {
	name := f.label()
	refuse := func(format string, args ...any) string {
		return fmt.Sprintf("file %q ", name) + fmt.Sprintf(format, args...)
	}
	if f.FileAccess == "check_file_info" || (f.downloadURL() == "" && f.Mode != "tombstone" && !f.IsExternal) {
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		var info *slackapi.File
		err := callWithRetry(cctx, func() (err error) {
			info, _, _, err = a.api.GetFileInfoContext(cctx, f.ID, 0, 0)
			return err
		})
		cancel()
		if err != nil {
			return refuse("could not be looked up on Slack (files.info): %v", err)
		}
		f = File{ID: info.ID, Name: info.Name, Title: info.Title, Mimetype: info.Mimetype, Filetype: info.Filetype, Size: int64(info.Size),
			Mode: info.Mode, IsExternal: info.IsExternal, URLPrivate: info.URLPrivate, URLPrivateDownload: info.URLPrivateDownload}
		if n := f.label(); n != "" {
			name = n
		}
	}
	perFile, room := up.Room()
	switch {
	case f.Mode == "tombstone":
		return refuse("was deleted")
	case f.Mode == "hidden_by_limit":
		return refuse("is hidden by the workspace's file storage limit")
	case f.IsExternal || f.Mode == "external":
		return refuse("is a link to a file kept outside Slack, not a file uploaded to Slack")
	case f.downloadURL() == "":
		return refuse("has no download URL")
	case f.Size > perFile:
		return refuse("is %d bytes, over the limit of %d bytes", f.Size, perFile)
	case f.Size > room:
		return refuse("is %d bytes: with the other files it is over the limit of %d bytes for one message", f.Size, room)
	}
	dctx, cancel := context.WithTimeout(ctx, fileTimeout)
	defer cancel()
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		err := a.files.GetFileContext(dctx, f.downloadURL(), pw)
		pw.CloseWithError(err) // nil: EOF
		errc <- err
	}()
	downloadErr := func() string {
		_ = pr.Close()
		cancel()
		err := <-errc
		if err == nil || errors.Is(err, io.ErrClosedPipe) {
			return ""
		}
		msg := err.Error()
		if strings.Contains(msg, "sign-in page") {
			msg += " (does the app have the files:read scope?)"
		}
		return msg
	}
	// The first bytes first: a type the gateway does not take, or bytes
	// that are not what the type says, is refused without the rest.
	head := make([]byte, media.SniffLen)
	n, err := io.ReadFull(pr, head)
	head = head[:n]
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		if msg := downloadErr(); msg != "" {
			return refuse("could not be downloaded from Slack: %s", msg)
		}
		return refuse("could not be downloaded from Slack: %v", err)
	}
	if n > 0 {
		if _, _, err := media.Classify(name, f.Mimetype, head); err != nil {
			downloadErr()
			return core.MessageOf(err)
		}
	}
	err = up.AddStream(dctx, io.MultiReader(bytes.NewReader(head), pr), name, f.Mimetype)
	msg := downloadErr()
	switch {
	case err != nil && core.CodeOf(err) == core.CodeTooLarge: // names the file and the limit
		return core.MessageOf(err)
	case msg != "":
		return refuse("could not be downloaded from Slack: %s", msg)
	case err != nil:
		return core.MessageOf(err)
	}
	return ""
}

// filesText is the message of a run started by files shared without a
// word: their names.
func filesText(refs []core.MediaRef) string {
	names := make([]string, len(refs))
	for i, m := range refs {
		names[i] = m.Name
	}
	return "Files shared: " + strings.Join(names, ", ")
}

// filesProblem is the reply naming the files that could not be taken.
func filesProblem(problems []string) string {
	var b strings.Builder
	b.WriteString(":warning: Sorry, I could not take the files you shared, so I did not start:")
	for _, p := range problems {
		b.WriteString("\n• ")
		b.WriteString(escape(truncate(p, 400)))
	}
	b.WriteString("\nShare them again, or ask without them.")
	return b.String()
}

// uploadMedia uploads the media a run produced into the thread, each with
// the external upload flow; one that cannot be is named in the thread.
func (h *Handler) uploadMedia(ctx context.Context, a *app, t target, refs []core.MediaRef) {
	var failed []string
	for _, m := range refs {
		name := uploadName(m)
		if err := h.uploadMedium(ctx, a, t, m, name); err != nil {
			h.log.Warn("slack: could not upload a medium of the run", "app", a.Name, "channel", t.channel, "media_id", m.ID, "err", err)
			failed = append(failed, fmt.Sprintf("%s: %s", name, truncate(err.Error(), 300)))
		}
	}
	if len(failed) > 0 {
		h.post(ctx, a, t, ":warning: Sorry, I could not upload to this thread: "+escape(strings.Join(failed, "; ")))
	}
}

func (h *Handler) uploadMedium(ctx context.Context, a *app, t target, m core.MediaRef, name string) error {
	if h.cfg.Media == nil || h.cfg.Media.Store == nil {
		return errors.New("this gateway keeps no media")
	}
	cctx, cancel := context.WithTimeout(ctx, fileTimeout)
	defer cancel()
	return callWithRetry(cctx, func() error {
		rc, size, err := h.cfg.Media.Store.Open(cctx, m.ID)
		if err != nil {
			return err
		}
		defer rc.Close()
		if size <= 0 {
			return errors.New("the stored medium is empty")
		}
		_, err = a.files.UploadFileContext(cctx, slackapi.UploadFileParameters{Reader: rc, FileSize: int(size), Filename: name, Title: name,
			Channel: t.channel, ThreadTimestamp: t.threadTS})
		return err
	})
}

// uploadName is the file name a produced medium is uploaded under (Slack
// previews a file by its extension): its own, with its type's extension
// when it has none, else its kind and the start of its hash.
func uploadName(m core.MediaRef) string {
	name := strings.TrimSpace(m.Name)
	if name == "" {
		id := m.ID
		if len(id) > 12 {
			id = id[:12]
		}
		kind := string(m.Kind)
		if kind == "" {
			kind = "file"
		}
		name = kind + "-" + id
	}
	if path.Ext(name) == "" {
		name += media.Extension(m.MIMEType)
	}
	return name
}
