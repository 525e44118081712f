package fakeslack

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Files: the fake hosts shared files at url_private / url_private_download
// (under /files-pri/ on its own address, as Slack's files.slack.com does,
// answering a request without the bot token with a redirect to a sign-in
// page), answers files.info, and takes uploads by the external upload flow
// (files.getUploadURLExternal, a POST to the upload URL, then
// files.completeUploadExternal), recording each.

// File is a file the fake hosts, as Slack's file object describes it in
// events and files.info.
type File struct {
	ID                 string `json:"id"`
	Name               string `json:"name"`
	Title              string `json:"title"`
	Mimetype           string `json:"mimetype"`
	Filetype           string `json:"filetype"`
	Size               int64  `json:"size"`
	Mode               string `json:"mode"`
	IsExternal         bool   `json:"is_external"`
	URLPrivate         string `json:"url_private,omitempty"`
	URLPrivateDownload string `json:"url_private_download,omitempty"`
	// FileAccess is "check_file_info" for a file whose event carries no
	// details (Slack Connect): the receiver calls files.info.
	FileAccess string `json:"file_access,omitempty"`
}

// Download is one request for a hosted file.
type Download struct {
	FileID string
	// Authorization is the request's Authorization header.
	Authorization string
	// Status is the HTTP status answered.
	Status int
}

// Upload is a file uploaded by the external upload flow.
type Upload struct {
	FileID string
	// Filename and Length are what files.getUploadURLExternal was given.
	Filename string
	Length   int
	// Data is what was POSTed to the upload URL (the multipart "file"
	// part, or the raw body); UploadAuth the Authorization header sent.
	Data       []byte
	UploadAuth string
	// Completed is set by files.completeUploadExternal, with the title,
	// channel and thread it shared the file to.
	Completed bool
	Title     string
	Channel   string
	ThreadTS  string
}

// hosted is a file with its bytes.
type hosted struct {
	File
	data    []byte
	removed bool
}

// AddFile hosts data as a file named name of type mimetype, readable with
// token (the bot token), and returns its file object as an event carries
// it.
func (s *Server) AddFile(name, mimetype, token string, data []byte) File {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	id := fmt.Sprintf("F%07d", s.seq)
	base := s.URL() + "files-pri/" + TeamID + "-" + id + "/"
	f := File{ID: id, Name: name, Title: name, Mimetype: mimetype, Filetype: strings.TrimPrefix(extOf(name), "."),
		Size: int64(len(data)), Mode: "hosted",
		URLPrivate: base + url.PathEscape(name), URLPrivateDownload: base + "download/" + url.PathEscape(name)}
	s.files[id] = &hosted{File: f, data: data}
	s.fileTokens[id] = token
	return f
}

// RemoveFile makes the file's URLs answer 404 (deleted since it was
// shared) and files.info answer file_not_found.
func (s *Server) RemoveFile(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.files[id]; f != nil {
		f.removed = true
	}
}

func extOf(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[i:]
	}
	return ""
}

// Downloads returns the requests for hosted files so far.
func (s *Server) Downloads() []Download {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Download(nil), s.downloads...)
}

// Uploads returns the uploads so far, in the order they were started.
func (s *Server) Uploads() []Upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Upload, 0, len(s.uploadOrder))
	for _, id := range s.uploadOrder {
		u := *s.uploads[id]
		u.Data = append([]byte(nil), u.Data...)
		out = append(out, u)
	}
	return out
}

// serveFile is GET /files-pri/{team}-{id}/[download/]{name}.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/files-pri/")
	key, _, _ := strings.Cut(rest, "/")
	id := strings.TrimPrefix(key, TeamID+"-")
	s.mu.Lock()
	f := s.files[id]
	auth := r.Header.Get("Authorization")
	status := http.StatusOK
	var data []byte
	switch {
	case f == nil || f.removed:
		status = http.StatusNotFound
	case auth != "Bearer "+s.fileTokens[id]:
		status = http.StatusFound
	default:
		data = f.data
	}
	s.downloads = append(s.downloads, Download{FileID: id, Authorization: auth, Status: status})
	s.notify()
	mimetype := ""
	if f != nil {
		mimetype = f.Mimetype
	}
	s.mu.Unlock()
	switch status {
	case http.StatusNotFound:
		http.NotFound(w, r)
	case http.StatusFound:
		// As files.slack.com does: to the workspace's sign-in page, with
		// the file's path as redir.
		http.Redirect(w, r, "/signin?redir="+url.QueryEscape(r.URL.Path), http.StatusFound)
	default:
		w.Header().Set("Content-Type", mimetype)
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		_, _ = w.Write(data)
	}
}

// signin is the sign-in page a download without the token lands on.
func signin(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = io.WriteString(w, "<!DOCTYPE html><html><body>Sign in to Fake</body></html>")
}

func (s *Server) fileInfo(v url.Values) (any, error) {
	f := s.files[v.Get("file")]
	if f == nil || f.removed {
		return nil, fmt.Errorf("file_not_found")
	}
	return map[string]any{"ok": true, "file": f.File, "comments": []any{}, "paging": map[string]any{"count": 0, "total": 0, "page": 1, "pages": 0}}, nil
}

func (s *Server) getUploadURL(v url.Values) (any, error) {
	name := v.Get("filename")
	n, err := strconv.Atoi(v.Get("length"))
	if name == "" || err != nil || n <= 0 {
		return nil, fmt.Errorf("invalid_arguments")
	}
	s.seq++
	id := fmt.Sprintf("F%07d", s.seq)
	s.uploads[id] = &Upload{FileID: id, Filename: name, Length: n}
	s.uploadOrder = append(s.uploadOrder, id)
	return map[string]any{"ok": true, "upload_url": s.URL() + "upload/" + id, "file_id": id}, nil
}

// receiveUpload is POST /upload/{id}: the bytes of a file, as a multipart
// form's "file" part (slack-go) or the raw body.
func (s *Server) receiveUpload(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/upload/")
	var data []byte
	var err error
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		var f io.ReadCloser
		if f, _, err = r.FormFile("file"); err == nil {
			data, err = io.ReadAll(f)
			_ = f.Close()
		}
	} else {
		data, err = io.ReadAll(r.Body)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	u := s.uploads[id]
	if u != nil && !u.Completed {
		u.Data, u.UploadAuth = data, r.Header.Get("Authorization")
	}
	s.notify()
	s.mu.Unlock()
	if u == nil {
		http.NotFound(w, r)
		return
	}
	_, _ = io.WriteString(w, "OK - "+strconv.Itoa(len(data)))
}

func (s *Server) completeUpload(v url.Values) (any, error) {
	var files []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(v.Get("files")), &files); err != nil || len(files) == 0 {
		return nil, fmt.Errorf("invalid_arguments")
	}
	out := make([]map[string]any, 0, len(files))
	for _, f := range files {
		u := s.uploads[f.ID]
		if u == nil || u.Data == nil {
			return nil, fmt.Errorf("file_not_found")
		}
		if len(u.Data) != u.Length {
			return nil, fmt.Errorf("file_upload_size_mismatch")
		}
		u.Completed, u.Title, u.Channel, u.ThreadTS = true, f.Title, v.Get("channel_id"), v.Get("thread_ts")
		out = append(out, map[string]any{"id": f.ID, "title": f.Title})
	}
	return map[string]any{"ok": true, "files": out}, nil
}

// MentionWithFiles is the Events API body of an app_mention of the fake
// bot that shares files.
func MentionWithFiles(eventID, channel, user, ts, threadTS, text string, files ...File) []byte {
	ev := map[string]any{"type": "app_mention", "user": user, "text": "<@" + BotUserID + "> " + text,
		"ts": ts, "channel": channel, "event_ts": ts, "team": TeamID, "files": files, "upload": false}
	if threadTS != "" {
		ev["thread_ts"] = threadTS
	}
	return callback(eventID, ev)
}

// DirectMessageWithFiles is the Events API body of a message.im of
// subtype file_share.
func DirectMessageWithFiles(eventID, channel, user, ts, text string, files ...File) []byte {
	return callback(eventID, map[string]any{"type": "message", "subtype": "file_share", "channel_type": "im", "user": user,
		"text": text, "ts": ts, "channel": channel, "event_ts": ts, "team": TeamID, "files": files, "upload": true,
		"event_time": time.Now().Unix()})
}
