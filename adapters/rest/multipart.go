package rest

import (
	"bytes"
)

// The run endpoints' multipart bodies almost always have one shape: text
// fields, each a part with one header, `Content-Disposition: form-data;
// name="..."`, and CRLF line ends (curl -F, fetch's FormData, Python's
// requests and httpx, Go's mime/multipart writer). mime/multipart parses
// them through a buffered reader, a MIME header map per part and a
// parameter map per disposition: about 50 allocations and 10 KB for a
// three-field form, more than the rest of the request's parsing.
//
// fastMultipart reads that shape in place. It accepts only what it can
// read without doubt and answers ok=false for everything else (another
// header, a filename, a quoted-string escape, bare LF line ends, a
// preamble, whitespace after a boundary...), which ParseForm then hands to
// mime/multipart. So mime/multipart stays the reference: wherever
// fastMultipart says ok, its fields are exactly the ones mime/multipart
// reads (FuzzMultipartFastPath checks this on every input).

// maxFastParts bounds the parts fastMultipart reads; more is left to
// mime/multipart (which applies maxFormFields).
const maxFastParts = 32

var (
	crlf           = []byte("\r\n")
	dispositionKey = []byte("content-disposition:")
	formDataName   = []byte(`form-data; name="`)
)

// simpleBoundary returns the boundary of a Content-Type that is exactly
// `multipart/form-data; boundary=B` with B an unquoted token of letters,
// digits and "-_.'" (what common clients send), where mime.ParseMediaType
// would answer the same. Any other Content-Type is left to it.
func simpleBoundary(contentType string) (string, bool) {
	const prefix = "multipart/form-data; boundary="
	if len(contentType) <= len(prefix) || contentType[:len(prefix)] != prefix {
		return "", false
	}
	b := contentType[len(prefix):]
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '\'') {
			return "", false
		}
	}
	return b, true
}

// fastMultipart parses body, a multipart/form-data body with boundary,
// when every part has the simple shape described above. Its values are
// copies (body may be a reused request buffer).
func fastMultipart(body []byte, boundary string) (f Form, ok bool) {
	if len(boundary) > 70 {
		return nil, false
	}
	delim := append([]byte("\r\n--"), boundary...)
	// "--boundary\r\n" opens the first part; nothing may precede it.
	rest, ok := bytes.CutPrefix(body, delim[2:])
	if !ok || !bytes.HasPrefix(rest, crlf) {
		return nil, false
	}
	rest = rest[2:]
	for parts := 0; ; parts++ {
		if parts == maxFastParts {
			return nil, false
		}
		// One header line: Content-Disposition: form-data; name="..."
		eol := bytes.Index(rest, crlf)
		if eol < 0 {
			return nil, false
		}
		name, ok := dispositionName(rest[:eol])
		if !ok {
			return nil, false
		}
		rest = rest[eol+2:]
		// The blank line that ends the headers.
		if len(rest) < 2 || rest[0] != '\r' || rest[1] != '\n' {
			return nil, false
		}
		rest = rest[2:]
		// mime/multipart takes a value that starts with "--boundary" for
		// a delimiter (an empty part).
		if bytes.HasPrefix(rest, delim[2:]) {
			return nil, false
		}
		// The value runs to the next delimiter, which must be followed by
		// CRLF (another part) or "--" (the end).
		end := bytes.Index(rest, delim)
		if end < 0 {
			return nil, false
		}
		value := rest[:end]
		rest = rest[end+len(delim):]
		if len(rest) < 2 {
			return nil, false
		}
		if f == nil {
			f = make(Form, 4)
		}
		f[name] = string(value)
		switch {
		case rest[0] == '\r' && rest[1] == '\n':
			rest = rest[2:]
		case rest[0] == '-' && rest[1] == '-':
			// The close delimiter ends the body or its line; mime/multipart
			// ignores what follows that line.
			if rest = rest[2:]; len(rest) == 0 || bytes.HasPrefix(rest, crlf) {
				return f, true
			}
			return nil, false
		default:
			return nil, false
		}
	}
}

// dispositionName reads `Content-Disposition: form-data; name="NAME"`
// (header name in any case, optional spaces after the colon) and returns
// NAME. A name that is empty, quoted with escapes, or not printable ASCII,
// or any further parameter, is not the simple shape.
func dispositionName(line []byte) (string, bool) {
	if len(line) < len(dispositionKey) || !bytes.EqualFold(line[:len(dispositionKey)], dispositionKey) {
		return "", false
	}
	line = line[len(dispositionKey):]
	for len(line) > 0 && line[0] == ' ' {
		line = line[1:]
	}
	if !bytes.HasPrefix(line, formDataName) {
		return "", false
	}
	line = line[len(formDataName):]
	if len(line) < 2 || line[len(line)-1] != '"' {
		return "", false
	}
	name := line[:len(line)-1]
	for _, c := range name {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return "", false
		}
	}
	return string(name), true
}
