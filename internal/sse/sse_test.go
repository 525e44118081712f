package sse_test

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/internal/sse"
)

type got struct{ name, data string }

func readAll(body string, max int) ([]got, error) {
	r := sse.NewReader(strings.NewReader(body), 16, max) // a small buffer: lines span reads
	var out []got
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, got{ev.Name, string(ev.Data)})
	}
}

func TestFraming(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		want       []got
	}{
		{"lf", "data: a\n\ndata: b\n\n", []got{{"", "a"}, {"", "b"}}},
		{"crlf", "data: a\r\n\r\ndata: b\r\n\r\n", []got{{"", "a"}, {"", "b"}}},
		{"multi-line data joined", "data: a\ndata: b\n\n", []got{{"", "a\nb"}}},
		{"no space after colon", "data:a\n\n", []got{{"", "a"}}},
		{"only one space taken", "data:  a\n\n", []got{{"", " a"}}},
		{"comments, ids, retry skipped", ": ping\n\nid: 7\nretry: 10\ndata: x\n\n", []got{{"", "x"}}},
		{"event names", "event: RunContent\ndata: x\n\nevent: RunCompleted\ndata: y\n\n", []got{{"RunContent", "x"}, {"RunCompleted", "y"}}},
		{"a name without data names nothing", "event: ping\n\ndata: x\n\n", []got{{"", "x"}}},
		{"last event without blank line", "data: a\n\ndata: b", []got{{"", "a"}, {"", "b"}}},
		{"blank lines between events", "\n\n\ndata: a\n\n\n\ndata: b\n\n", []got{{"", "a"}, {"", "b"}}},
		{"not sse at all", "{}", nil},
		{"empty data field", "data:\n\n", []got{{"", ""}}},
		{"long line across reads", "data: " + strings.Repeat("x", 100) + "\n\n", []got{{"", strings.Repeat("x", 100)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := readAll(tc.body, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(out, tc.want) {
				t.Errorf("events = %q, want %q", out, tc.want)
			}
		})
	}
}

// An event over the bound, in one line or in many data lines, or a line
// over it, is ErrTooLarge, and stays so; the events before it are read.
func TestBound(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 500)
	for name, body := range map[string]string{
		"one line":   "data: ok\n\ndata: " + long + "\n\n",
		"many lines": "data: ok\n\n" + strings.Repeat("data: "+long[:50]+"\n", 12) + "\n",
		"a comment":  "data: ok\n\n: " + long + "\n\n",
	} {
		t.Run(name, func(t *testing.T) {
			r := sse.NewReader(strings.NewReader(body), 16, 400)
			if ev, err := r.Next(); err != nil || string(ev.Data) != "ok" {
				t.Fatalf("first event: %q %v", ev.Data, err)
			}
			for range 2 {
				if _, err := r.Next(); !errors.Is(err, sse.ErrTooLarge) {
					t.Fatalf("err = %v, want ErrTooLarge", err)
				}
			}
		})
	}
	if out, err := readAll("data: "+long+"\n\n", 500); err != nil || len(out) != 1 {
		t.Fatalf("an event of exactly the bound: %d events, %v", len(out), err)
	}
}

// FuzzReader: any body reads to its end or an error, without a panic, and
// no event's data is over the bound.
func FuzzReader(f *testing.F) {
	for _, s := range []string{"data: a\n\n", "event: x\ndata: a\ndata: b\r\n\r\n", ": c\n\ndata", "\r\r\n\n", "data:" + strings.Repeat("y", 70)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := sse.NewReader(strings.NewReader(body), 16, 64)
		for range len(body) + 2 {
			ev, err := r.Next()
			if err != nil {
				if err != io.EOF && !errors.Is(err, sse.ErrTooLarge) {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if len(ev.Data) > 64 {
				t.Fatalf("event of %d bytes over the bound of 64", len(ev.Data))
			}
		}
		t.Fatal("the reader did not reach the end of the body")
	})
}
