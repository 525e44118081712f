package rest

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/media"
	"github.com/agentgate/agentgate/transport/httptransport"
)

// smallForm is the size under which a streamed form is read whole and
// parsed in place (fastMultipart).
const smallForm = 64 << 10

// readForm decodes a run endpoint's body. A multipart body the server
// streams (StreamsBody) is read as it arrives, its files stored through up
// one by one as they come, never held whole: each is bounded by
// media.max_file_bytes and all of them by media.max_run_bytes (413 naming
// the file as soon as its bytes pass the limit), its text fields together
// by http.body_limit. Any other body was read whole, within
// http.body_limit, and its files (if any) are returned. before (nil:
// none) is called with the fields read so far once, before the first file
// of a streamed body is stored: a refusal there (the session of another
// user) stores nothing.
func (h *Handler) readForm(c *fiber.Ctx, up *media.Upload, before func(Form) error) (Form, []FormFile, error) {
	ct := string(c.Request().Header.ContentType())
	limit := h.srv.Config().BodyLimit
	body, streamed := httptransport.StreamedBody(c)
	var whole []byte
	switch cl := c.Request().Header.ContentLength(); {
	case !streamed:
		whole = c.Body()
	case cl >= 0 && cl <= min(smallForm, limit):
		whole = make([]byte, cl)
		if _, err := io.ReadFull(body, whole); err != nil {
			return nil, nil, core.Errorf(core.CodeInvalid, "reading the request body failed: %v", err)
		}
	}
	if whole != nil || !streamed {
		var files []FormFile
		f, err := parseForm(ct, whole, &files)
		return f, files, err
	}
	_, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return nil, nil, core.Errorf(core.CodeInvalid, "malformed Content-Type: %v", err)
	}
	boundary := params["boundary"]
	if boundary == "" {
		return nil, nil, core.Errorf(core.CodeInvalid, "multipart body without a boundary")
	}
	ctx := c.UserContext()
	f, err := parseMultipart(body, boundary, int64(limit), func(_, name, mimeType string, r io.Reader) error {
		return up.AddStream(ctx, r, name, mimeType)
	}, before)
	return f, nil, err
}

// StreamsBody names the requests whose bodies the server streams to their
// handler (httptransport.Config.StreamBody): multipart forms posted to
// the run endpoints, POST /{agents,teams,workflows}/{id}/runs and
// .../runs/{run_id}/continue.
func StreamsBody(method, path, contentType string) bool {
	if method != http.MethodPost || !strings.HasPrefix(strings.ToLower(strings.TrimSpace(contentType)), "multipart/form-data") {
		return false
	}
	seg := strings.Split(strings.Trim(path, "/"), "/")
	if len(seg) != 3 && len(seg) != 5 {
		return false
	}
	switch strings.ToLower(seg[0]) {
	case "agents", "teams", "workflows":
	default:
		return false
	}
	if seg[1] == "" || !strings.EqualFold(seg[2], "runs") {
		return false
	}
	return len(seg) == 3 || (seg[3] != "" && strings.EqualFold(seg[4], "continue"))
}

// fileSink takes a run form's file part as it arrives: r yields its bytes
// (read from the request as they come) until the part ends. An error it
// returns is the request's.
type fileSink func(field, filename, contentType string, r io.Reader) error

// countingReader counts what it reads.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// parseMultipart reads a multipart/form-data body with boundary from
// body as it arrives. Its text fields together may be at most maxFields
// bytes (0: no bound; more is too large, 413, naming http.body_limit);
// its file parts, named "files" (AgentOS's field; "file" too), go to sink
// one by one as they are read (sink nil: file parts are refused). before
// (nil: none) sees the fields read so far before the first file goes to
// sink; its error ends the parse.
func parseMultipart(body io.Reader, boundary string, maxFields int64, sink fileSink, before func(Form) error) (Form, error) {
	cr := &countingReader{r: body}
	r := multipart.NewReader(cr, boundary)
	f := Form{}
	var fieldBytes int64
	files, parts := 0, 0
	for {
		part, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			if parts == 0 && cr.n > 0 {
				// mime/multipart reads such a body as a preamble and no
				// parts, which would surface as "message is required".
				return nil, core.Errorf(core.CodeInvalid, "the body could not be parsed as multipart/form-data: "+
					"it never contains the boundary %q given in the Content-Type", boundary)
			}
			return f, nil
		}
		if err != nil {
			return nil, core.Errorf(core.CodeInvalid, "malformed multipart body: %v", err)
		}
		parts++
		name := part.FormName()
		if part.FileName() != "" {
			if sink == nil || (name != "files" && name != "file") {
				part.Close()
				if sink != nil {
					return nil, core.Errorf(core.CodeInvalid, "file part %q: send files in the field \"files\"", name)
				}
				return nil, core.Errorf(core.CodeInvalid, "file uploads are not supported (field %q)", name)
			}
			if files >= maxFormFiles {
				part.Close()
				return nil, core.Errorf(core.CodeInvalid, "too many files: at most %d", maxFormFiles)
			}
			if files == 0 && before != nil {
				if err := before(f); err != nil {
					part.Close()
					return nil, err
				}
			}
			files++
			err := sink(name, part.FileName(), part.Header.Get("Content-Type"), part)
			part.Close()
			if err != nil {
				return nil, err
			}
			continue
		}
		if name == "" {
			part.Close()
			continue
		}
		var src io.Reader = part
		if maxFields > 0 {
			src = io.LimitReader(part, maxFields-fieldBytes+1)
		}
		v, err := io.ReadAll(src)
		part.Close()
		if err != nil {
			return nil, core.Errorf(core.CodeInvalid, "malformed multipart body: %v", err)
		}
		if fieldBytes += int64(len(v)); maxFields > 0 && fieldBytes > maxFields {
			return nil, core.Errorf(core.CodeTooLarge, "the form's fields are over the limit of %d bytes together (http.body_limit; files are bounded by media.max_file_bytes and media.max_run_bytes)", maxFields)
		}
		if len(f) >= maxFormFields {
			return nil, core.Errorf(core.CodeInvalid, "too many form fields")
		}
		f[name] = string(v)
	}
}

// collectFiles is a sink that keeps file parts in memory (a body already
// read whole).
func collectFiles(files *[]FormFile) fileSink {
	return func(field, filename, contentType string, r io.Reader) error {
		v, err := io.ReadAll(r)
		if err != nil {
			return core.Errorf(core.CodeInvalid, "malformed multipart body: %v", err)
		}
		*files = append(*files, FormFile{Field: field, Name: filename, ContentType: contentType, Body: v})
		return nil
	}
}
