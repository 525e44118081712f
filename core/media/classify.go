package media

import (
	"bytes"
	"mime"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/agentgate/agentgate/core"
)

// SniffLen is how many leading bytes Classify needs to check a medium.
const SniffLen = 512

// format is one supported media type: its kind, the extensions it is
// known by and a check of its leading bytes (nil: text, checked as UTF-8).
type format struct {
	mime  string
	kind  Kind
	exts  []string
	magic func(head []byte) bool
	// aliases are other names the type is sent under.
	aliases []string
}

func prefix(p string) func([]byte) bool {
	return func(h []byte) bool { return bytes.HasPrefix(h, []byte(p)) }
}

// riff checks a RIFF container of form (WAVE, WEBP, AVI ).
func riff(form string) func([]byte) bool {
	return func(h []byte) bool {
		return len(h) >= 12 && string(h[:4]) == "RIFF" && string(h[8:12]) == form
	}
}

// isoBMFF checks an ISO base media file (MP4, M4A, MOV, 3GP): a box of
// type ftyp first.
func isoBMFF(h []byte) bool { return len(h) >= 8 && string(h[4:8]) == "ftyp" }

// ebml checks a Matroska / WebM file.
func ebml(h []byte) bool { return bytes.HasPrefix(h, []byte{0x1A, 0x45, 0xDF, 0xA3}) }

// mp3 checks an MP3: an ID3 tag or an MPEG audio frame sync.
func mp3(h []byte) bool {
	return bytes.HasPrefix(h, []byte("ID3")) || (len(h) >= 2 && h[0] == 0xFF && h[1]&0xE0 == 0xE0)
}

// mpegPS checks an MPEG program or transport stream.
func mpegPS(h []byte) bool {
	return bytes.HasPrefix(h, []byte{0, 0, 1, 0xBA}) || bytes.HasPrefix(h, []byte{0, 0, 1, 0xB3}) || (len(h) > 0 && h[0] == 0x47)
}

var formats = []format{
	{mime: "image/png", kind: Image, exts: []string{".png"}, magic: prefix("\x89PNG\r\n\x1a\n")},
	{mime: "image/jpeg", kind: Image, exts: []string{".jpg", ".jpeg"}, magic: prefix("\xFF\xD8\xFF"), aliases: []string{"image/jpg", "image/pjpeg"}},
	{mime: "image/webp", kind: Image, exts: []string{".webp"}, magic: riff("WEBP")},
	{mime: "image/gif", kind: Image, exts: []string{".gif"}, magic: func(h []byte) bool {
		return bytes.HasPrefix(h, []byte("GIF87a")) || bytes.HasPrefix(h, []byte("GIF89a"))
	}},

	{mime: "audio/wav", kind: Audio, exts: []string{".wav"}, magic: riff("WAVE"), aliases: []string{"audio/x-wav", "audio/wave", "audio/vnd.wave"}},
	{mime: "audio/mpeg", kind: Audio, exts: []string{".mp3"}, magic: mp3, aliases: []string{"audio/mp3"}},
	{mime: "audio/ogg", kind: Audio, exts: []string{".ogg", ".oga", ".opus"}, magic: prefix("OggS"), aliases: []string{"audio/opus"}},
	{mime: "audio/flac", kind: Audio, exts: []string{".flac"}, magic: prefix("fLaC"), aliases: []string{"audio/x-flac"}},
	{mime: "audio/aac", kind: Audio, exts: []string{".aac"}, magic: func(h []byte) bool {
		return bytes.HasPrefix(h, []byte("ADIF")) || (len(h) >= 2 && h[0] == 0xFF && h[1]&0xF6 == 0xF0)
	}, aliases: []string{"audio/x-aac"}},
	{mime: "audio/mp4", kind: Audio, exts: []string{".m4a"}, magic: isoBMFF, aliases: []string{"audio/x-m4a", "audio/m4a"}},
	{mime: "audio/webm", kind: Audio, exts: []string{".weba"}, magic: ebml},

	{mime: "video/mp4", kind: Video, exts: []string{".mp4", ".m4v"}, magic: isoBMFF},
	{mime: "video/webm", kind: Video, exts: []string{".webm"}, magic: ebml},
	{mime: "video/quicktime", kind: Video, exts: []string{".mov"}, magic: isoBMFF},
	{mime: "video/x-matroska", kind: Video, exts: []string{".mkv"}, magic: ebml},
	{mime: "video/mpeg", kind: Video, exts: []string{".mpeg", ".mpg"}, magic: mpegPS},
	{mime: "video/x-msvideo", kind: Video, exts: []string{".avi"}, magic: riff("AVI "), aliases: []string{"video/avi"}},
	{mime: "video/3gpp", kind: Video, exts: []string{".3gp"}, magic: isoBMFF},

	{mime: "application/pdf", kind: Document, exts: []string{".pdf"}, magic: prefix("%PDF-")},
	{mime: "application/vnd.openxmlformats-officedocument.wordprocessingml.document", kind: Document, exts: []string{".docx"}, magic: prefix("PK\x03\x04")},
	{mime: "text/plain", kind: Document, exts: []string{".txt", ".text", ".log"}},
	{mime: "text/markdown", kind: Document, exts: []string{".md", ".markdown"}, aliases: []string{"text/x-markdown"}},
	{mime: "text/csv", kind: Document, exts: []string{".csv"}, aliases: []string{"application/csv"}},
	{mime: "application/json", kind: Document, exts: []string{".json"}, aliases: []string{"text/json"}},
	{mime: "text/html", kind: Document, exts: []string{".html", ".htm"}},
	{mime: "application/xml", kind: Document, exts: []string{".xml"}, aliases: []string{"text/xml"}},
	{mime: "text/x-python", kind: Document, exts: []string{".py"}, aliases: []string{"application/x-python", "text/x-script.python"}},
	{mime: "application/javascript", kind: Document, exts: []string{".js"}, aliases: []string{"text/javascript"}},
	{mime: "text/css", kind: Document, exts: []string{".css"}},
	{mime: "application/x-yaml", kind: Document, exts: []string{".yaml", ".yml"}, aliases: []string{"application/yaml", "text/yaml"}},
}

var byMIME, byExt = func() (map[string]*format, map[string]*format) {
	m, e := map[string]*format{}, map[string]*format{}
	for i := range formats {
		f := &formats[i]
		m[f.mime] = f
		for _, a := range f.aliases {
			m[a] = f
		}
		for _, x := range f.exts {
			if _, dup := e[x]; !dup { // the first listed wins (.mp4 is video)
				e[x] = f
			}
		}
	}
	return m, e
}()

// genericTypes are content types that say nothing: the extension decides.
var genericTypes = map[string]bool{"": true, "application/octet-stream": true, "binary/octet-stream": true, "application/x-www-form-urlencoded": true}

// Classify says what a medium is from its declared content type (a
// generic one, such as application/octet-stream, or none defers to the
// extension of name) and checks it against head, the medium's first bytes
// (SniffLen or all of them): a type that is not supported is an error
// naming it, and bytes that are not what the type says (a "PNG" that is
// not one) are an error too (both core invalid errors: 400).
func Classify(name, declared string, head []byte) (Kind, string, error) {
	mt := strings.ToLower(strings.TrimSpace(declared))
	if mt != "" {
		if parsed, _, err := mime.ParseMediaType(mt); err == nil {
			mt = parsed
		} else {
			return "", "", core.Errorf(core.CodeInvalid, "file %q: content type %q does not parse: %v", name, declared, err)
		}
	}
	var f *format
	if genericTypes[mt] {
		ext := strings.ToLower(filepath.Ext(name))
		if f = byExt[ext]; f == nil {
			if ext == "" {
				return "", "", core.Errorf(core.CodeInvalid, "file %q: no content type and no known extension: send the file's content type (image, audio, video or document)", name)
			}
			return "", "", core.Errorf(core.CodeInvalid, "file %q: extension %q is not a supported image, audio, video or document type", name, ext)
		}
	} else if f = byMIME[mt]; f == nil {
		return "", "", core.Errorf(core.CodeInvalid, "file %q: content type %q is not supported (images: PNG, JPEG, WebP, GIF; audio: WAV, MP3, OGG, FLAC, AAC, M4A; video: MP4, WebM, MOV, MKV, MPEG, AVI; documents: PDF, DOCX, text, Markdown, CSV, JSON, HTML, XML)", name, mt)
	}
	if !f.matches(head) {
		return "", "", core.Errorf(core.CodeInvalid, "file %q: declared %s, but its bytes are not %s", name, f.mime, f.describe())
	}
	return f.kind, f.mime, nil
}

func (f *format) matches(head []byte) bool {
	if f.magic != nil {
		return f.magic(head)
	}
	// Text: valid UTF-8 (a multi-byte rune may be cut at the end of head)
	// with no NUL byte.
	if bytes.IndexByte(head, 0) >= 0 {
		return false
	}
	for len(head) > 0 {
		r, n := utf8.DecodeRune(head)
		if r == utf8.RuneError && n <= 1 {
			return len(head) < utf8.UTFMax && !utf8.FullRune(head)
		}
		head = head[n:]
	}
	return true
}

func (f *format) describe() string {
	if f.magic == nil {
		return "text (UTF-8)"
	}
	return "a " + strings.ToUpper(strings.TrimPrefix(f.exts[0], ".")) + " file"
}

// Extension is the usual file name extension of a supported content type
// (".png" for image/png, ".jpg" for image/jpeg), "" for any other.
func Extension(mimeType string) string {
	mt, _, err := mime.ParseMediaType(strings.ToLower(strings.TrimSpace(mimeType)))
	if err != nil {
		return ""
	}
	if f := byMIME[mt]; f != nil {
		return f.exts[0]
	}
	return ""
}
