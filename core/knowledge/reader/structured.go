package reader

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/agentgate/agentgate/core/knowledge"
)

// CSV reads a CSV (or TSV, or ;-separated) file into one document, one line
// per row: "column: value, column: value" labelled by the header row.
type CSV struct{ Limits Limits }

func (CSV) ID() string   { return "csv" }
func (CSV) Name() string { return "CSV" }
func (CSV) Description() string {
	return "A CSV or TSV file: one line per row, each value labelled by its column."
}

// delimiter guesses a CSV's separator: a tab for .tsv and TSV's content
// type, else the most frequent of , ; \t | on the first line.
func delimiter(name, contentType string, b []byte) rune {
	if strings.EqualFold(path.Ext(name), ".tsv") || strings.Contains(strings.ToLower(contentType), "tab-separated") {
		return '\t'
	}
	first := b
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		first = b[:i]
	}
	best, most := ',', 0
	for _, c := range []rune{',', ';', '\t', '|'} {
		if n := bytes.Count(first, []byte(string(c))); n > most {
			best, most = c, n
		}
	}
	return best
}

func (c CSV) Read(ctx context.Context, r io.Reader, name, contentType string) ([]knowledge.Document, error) {
	l := c.Limits.withDefaults()
	b, err := readAll(ctx, r, l.MaxBytes, "CSV")
	if err != nil {
		return nil, err
	}
	s := text(decode(b, contentType))
	cr := csv.NewReader(strings.NewReader(s))
	cr.Comma = delimiter(name, contentType, []byte(s))
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = false
	var (
		header []string
		out    strings.Builder
		rows   int
	)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, malformed("CSV", err)
		}
		if header == nil {
			header = make([]string, len(rec))
			for i, h := range rec {
				header[i] = strings.TrimSpace(h)
			}
			continue
		}
		if rows++; rows > l.MaxRows {
			return nil, malformed("CSV", fmt.Errorf("more than the %d rows a reader takes", l.MaxRows))
		}
		if rows%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		first := true
		for i, v := range rec {
			v = strings.Join(strings.Fields(v), " ")
			if v == "" {
				continue
			}
			if !first {
				out.WriteString(", ")
			}
			first = false
			if i < len(header) && header[i] != "" {
				out.WriteString(header[i])
				out.WriteString(": ")
			}
			out.WriteString(v)
		}
		out.WriteByte('\n')
	}
	if header == nil {
		return nil, malformed("CSV", errors.New("no rows"))
	}
	if rows == 0 { // a header only: its names are the text
		out.WriteString(strings.Join(header, ", "))
	}
	cols := make([]any, len(header))
	for i, h := range header {
		cols[i] = h
	}
	return []knowledge.Document{{Name: title(name), Text: strings.TrimSpace(out.String()),
		Metadata: map[string]any{"rows": rows, "columns": cols}}}, nil
}

// JSON reads JSON: one document per element of a top-level array, per line
// of JSON Lines (.jsonl, .ndjson, application/x-ndjson), else one for the
// value; each is the value as indented JSON.
type JSON struct{ Limits Limits }

func (JSON) ID() string   { return "json" }
func (JSON) Name() string { return "JSON" }
func (JSON) Description() string {
	return "JSON or JSON Lines: one document per element of a top-level array (or per line), as indented JSON."
}

func (j JSON) Read(ctx context.Context, r io.Reader, name, contentType string) ([]knowledge.Document, error) {
	l := j.Limits.withDefaults()
	b, err := readAll(ctx, r, l.MaxBytes, "JSON")
	if err != nil {
		return nil, err
	}
	b = bytes.TrimPrefix(b, []byte("\ufeff"))
	ext := strings.ToLower(path.Ext(title(name)))
	lines := ext == ".jsonl" || ext == ".ndjson" || strings.Contains(strings.ToLower(contentType), "ndjson") ||
		strings.Contains(strings.ToLower(contentType), "jsonl")
	var values []json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	for {
		var v json.RawMessage
		err := dec.Decode(&v)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, malformed("JSON", err)
		}
		values = append(values, v)
		if len(values) > 1 && !lines {
			lines = true // several values: JSON Lines whatever the name
		}
		if len(values) > l.MaxRows {
			return nil, malformed("JSON", fmt.Errorf("more than the %d values a reader takes", l.MaxRows))
		}
	}
	if len(values) == 0 {
		return nil, malformed("JSON", errors.New("no value"))
	}
	if !lines {
		if t := bytes.TrimSpace(values[0]); len(t) > 0 && t[0] == '[' {
			var elems []json.RawMessage
			if err := json.Unmarshal(t, &elems); err != nil {
				return nil, malformed("JSON", err)
			}
			if len(elems) > l.MaxRows {
				return nil, malformed("JSON", fmt.Errorf("more than the %d values a reader takes", l.MaxRows))
			}
			values = elems
		}
	}
	base := title(name)
	docs := make([]knowledge.Document, 0, len(values))
	for i, v := range values {
		var buf bytes.Buffer
		if err := json.Indent(&buf, v, "", "  "); err != nil {
			return nil, malformed("JSON", err)
		}
		docs = append(docs, knowledge.Document{Name: base, Text: text(buf.Bytes()), Metadata: map[string]any{"index": i}})
	}
	return docs, nil
}
