package media_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/media"
	"github.com/agentgate/agentgate/core/media/mediatest"
)

func TestDirStoreConformance(t *testing.T) {
	mediatest.Run(t, func(t *testing.T) media.Store {
		st, err := media.NewDirStore(filepath.Join(t.TempDir(), "media"))
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

func TestDirStoreLeavesNoTemporaryFiles(t *testing.T) {
	root := t.TempDir()
	st, err := media.NewDirStore(root)
	if err != nil {
		t.Fatal(err)
	}
	png := mediatest.PNG(2, 2)
	m, err := media.IngestBytes(context.Background(), st, png, "a.png", "", media.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	// A short body fails and leaves nothing behind.
	if err := st.Put(context.Background(), strings.Repeat("ab", 32), bytes.NewReader([]byte("x")), 5); err == nil {
		t.Fatal("short body stored")
	}
	var files []string
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			files = append(files, strings.TrimPrefix(p, root))
		}
		return nil
	})
	want := "/" + m.ID[:2] + "/" + m.ID
	if len(files) != 1 || files[0] != want {
		t.Fatalf("files %v, want only %s", files, want)
	}
}

// fakeS3 serves gofakes3 on loopback with an empty bucket.
func fakeS3(t *testing.T, bucket string) string {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	c := s3.New(s3.Options{BaseEndpoint: aws.String(srv.URL), UsePathStyle: true, Region: "us-east-1",
		Credentials: aws.AnonymousCredentials{}})
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	return srv.URL
}

func TestS3StoreConformance(t *testing.T) {
	mediatest.Run(t, func(t *testing.T) media.Store {
		url := fakeS3(t, "media")
		st, err := media.NewS3Store(context.Background(), media.S3Config{Bucket: "media", Prefix: "m/", Endpoint: url, PathStyle: true, AccessKeyID: "k", SecretAccessKey: "s"})
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

func TestS3StoreConfig(t *testing.T) {
	ctx := context.Background()
	if _, err := media.NewS3Store(ctx, media.S3Config{}); core.CodeOf(err) != core.CodeInvalid {
		t.Fatalf("no bucket: %v", err)
	}
	if _, err := media.NewS3Store(ctx, media.S3Config{Bucket: "b", AccessKeyID: "k"}); core.CodeOf(err) != core.CodeInvalid {
		t.Fatalf("half credentials: %v", err)
	}
}

// pngHeader is a PNG's signature and IHDR chunk claiming w × h pixels,
// with no pixel data: a decompression bomb's header.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func TestClassify(t *testing.T) {
	png := mediatest.PNG(1, 1)
	for _, tc := range []struct {
		name, declared string
		head           []byte
		kind           media.Kind
		mime           string
		err            string // substring of the error, "" for none
	}{
		{"a.png", "image/png", png, media.Image, "image/png", ""},
		{"a.bin", "image/PNG; charset=binary", png, media.Image, "image/png", ""},
		{"photo.png", "", png, media.Image, "image/png", ""},
		{"photo.png", "application/octet-stream", png, media.Image, "image/png", ""},
		{"a.jpg", "image/jpeg", []byte("\xFF\xD8\xFF\xE0rest"), media.Image, "image/jpeg", ""},
		{"a.gif", "", []byte("GIF89a...."), media.Image, "image/gif", ""},
		{"a.webp", "", []byte("RIFF\x00\x00\x00\x00WEBPVP8 "), media.Image, "image/webp", ""},
		{"a.wav", "audio/x-wav", []byte("RIFF\x00\x00\x00\x00WAVEfmt "), media.Audio, "audio/wav", ""},
		{"a.mp3", "", []byte("ID3\x04\x00"), media.Audio, "audio/mpeg", ""},
		{"a.mp4", "", []byte("\x00\x00\x00\x18ftypmp42"), media.Video, "video/mp4", ""},
		{"a.webm", "video/webm", []byte{0x1A, 0x45, 0xDF, 0xA3, 1}, media.Video, "video/webm", ""},
		{"a.pdf", "application/pdf", []byte("%PDF-1.7\n"), media.Document, "application/pdf", ""},
		{"a.docx", "", []byte("PK\x03\x04...."), media.Document, "application/vnd.openxmlformats-officedocument.wordprocessingml.document", ""},
		{"notes.md", "", []byte("# Title\n\nsome *text* — naïve"), media.Document, "text/markdown", ""},
		{"data.csv", "text/csv", []byte("a,b\n1,2\n"), media.Document, "text/csv", ""},
		{"x.json", "application/json", []byte(`{"a":1}`), media.Document, "application/json", ""},
		// A multi-byte rune cut at the end of the sniffed head is fine.
		{"cut.txt", "text/plain", []byte("abc\xc3"), media.Document, "text/plain", ""},

		{"fake.png", "image/png", []byte("this is not a png"), "", "", "its bytes are not a PNG file"},
		{"fake.png", "", []byte("GIF89a"), "", "", "not a PNG"},
		{"bin.txt", "text/plain", []byte("a\x00b"), "", "", "not text (UTF-8)"},
		{"bad.txt", "text/plain", []byte("\xff\xfe\xfdabc"), "", "", "not text"},
		{"a.exe", "application/x-msdownload", []byte("MZ"), "", "", `content type "application/x-msdownload" is not supported`},
		{"a.exe", "", []byte("MZ"), "", "", `extension ".exe" is not a supported`},
		{"noext", "", []byte("x"), "", "", "no known extension"},
		{"a.png", "image/png;;;", png, "", "", "does not parse"},
	} {
		kind, mt, err := media.Classify(tc.name, tc.declared, tc.head)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || core.CodeOf(err) != core.CodeInvalid {
				t.Errorf("%s (%q): %v, want an invalid error with %q", tc.name, tc.declared, err, tc.err)
			}
			continue
		}
		if err != nil || kind != tc.kind || mt != tc.mime {
			t.Errorf("%s (%q): %s %s %v, want %s %s", tc.name, tc.declared, kind, mt, err, tc.kind, tc.mime)
		}
	}
}

func TestIngestLimits(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	st, err := media.NewDirStore(root)
	if err != nil {
		t.Fatal(err)
	}
	big := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("x"), 2000)...)
	_, err = media.IngestBytes(ctx, st, big, "big.pdf", "application/pdf", media.Limits{MaxBytes: 1000})
	if core.CodeOf(err) != core.CodeTooLarge || !strings.Contains(err.Error(), "over the limit of 1000 bytes") {
		t.Fatalf("over the limit: %v", err)
	}
	// An image claiming 100,000 × 100,000 pixels is refused from its header.
	bomb := pngHeader(100_000, 100_000)
	if _, err := media.IngestBytes(ctx, st, bomb, "bomb.png", "image/png", media.Limits{}); core.CodeOf(err) != core.CodeInvalid || !strings.Contains(err.Error(), "100000×100000 pixels") {
		t.Fatalf("bomb: %v", err)
	}
	if _, err := media.IngestBytes(ctx, st, nil, "empty.txt", "text/plain", media.Limits{}); core.CodeOf(err) != core.CodeInvalid {
		t.Fatalf("empty: %v", err)
	}
	// Nothing refused was stored.
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		t.Errorf("left in the store: %s", e.Name())
	}
	// The same bytes twice are one medium.
	a, err := media.IngestBytes(ctx, st, []byte("hello"), "a.txt", "", media.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := media.IngestBytes(ctx, st, []byte("hello"), "b.md", "", media.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != b.ID || a.MIMEType != "text/plain" || b.MIMEType != "text/markdown" {
		t.Fatalf("%+v %+v", a, b)
	}
}

func TestWebPSize(t *testing.T) {
	// VP8X: canvas 640 × 480.
	vp8x := []byte("RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00\x7f\x02\x00\xdf\x01\x00")
	m, err := media.IngestBytes(context.Background(), mustDir(t), vp8x, "a.webp", "image/webp", media.Limits{})
	if err != nil || m.Width != 640 || m.Height != 480 {
		t.Fatalf("%+v %v", m, err)
	}
	huge := []byte("RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff")
	if _, err := media.IngestBytes(context.Background(), mustDir(t), huge, "a.webp", "image/webp", media.Limits{}); core.CodeOf(err) != core.CodeInvalid {
		t.Fatalf("huge webp: %v", err)
	}
}

func mustDir(t *testing.T) media.Store {
	st, err := media.NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// FuzzIngest: any bytes under any name and type are stored or refused
// with an invalid error, never a panic, and what is stored is what was
// sent.
func FuzzIngest(f *testing.F) {
	f.Add([]byte("\x89PNG\r\n\x1a\n"), "a.png", "image/png")
	f.Add(mediatest.PNG(3, 3), "a", "image/png")
	f.Add(pngHeader(1<<31-1, 2), "b.png", "")
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8L\x00\x00\x00\x00\x2f\x00\x00\x00\x00"), "c.webp", "")
	f.Add([]byte("hello"), "x.md", "text/markdown; charset=utf-8")
	f.Add([]byte("%PDF-"), "", "application/pdf")
	st, err := media.NewDirStore(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte, name, declared string) {
		m, err := media.IngestBytes(context.Background(), st, b, name, declared, media.Limits{MaxBytes: 1 << 16})
		if err != nil {
			if c := core.CodeOf(err); c != core.CodeInvalid && c != core.CodeTooLarge {
				t.Fatalf("error of code %s: %v", c, err)
			}
			return
		}
		rc, size, err := st.Open(context.Background(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if size != int64(len(b)) || m.Size != size {
			t.Fatalf("stored %d bytes of %d", size, len(b))
		}
	})
}

func TestExtension(t *testing.T) {
	for mt, want := range map[string]string{"image/png": ".png", "image/jpeg": ".jpg", "IMAGE/JPG": ".jpg", "audio/wav": ".wav",
		"text/csv; charset=utf-8": ".csv", "video/mp4": ".mp4", "application/x-msdownload": "", "": "", "not a type/": ""} {
		if got := media.Extension(mt); got != want {
			t.Errorf("Extension(%q) = %q, want %q", mt, got, want)
		}
	}
}
