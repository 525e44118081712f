package media

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	_ "image/gif"  // DecodeConfig of GIF headers
	_ "image/jpeg" // DecodeConfig of JPEG headers
	_ "image/png"  // DecodeConfig of PNG headers
	"io"
	"os"

	"github.com/agentgate/agentgate/core"
)

// Limits bound what Ingest takes.
type Limits struct {
	// MaxBytes is the largest medium (default DefaultMaxBytes).
	MaxBytes int64
	// MaxPixels is the largest image, width × height, whatever its file
	// size (a small PNG may claim 100,000 × 100,000 pixels and exhaust
	// whatever decodes it): default DefaultMaxPixels.
	MaxPixels int64
	// TempDir is where uploads are spooled while they are hashed (default:
	// the system's).
	TempDir string
}

// Defaults of Limits.
const (
	DefaultMaxBytes  = 20 << 20
	DefaultMaxPixels = 50_000_000
)

func (l Limits) maxBytes() int64 {
	if l.MaxBytes > 0 {
		return l.MaxBytes
	}
	return DefaultMaxBytes
}

func (l Limits) maxPixels() int64 {
	if l.MaxPixels > 0 {
		return l.MaxPixels
	}
	return DefaultMaxPixels
}

// Ingest reads a medium from r, named name and declared as content type
// declared, and stores it in st: streamed through a temporary file while it
// is hashed, so it is never held whole in memory. It refuses a medium over
// the limit (a core too-large error, 413) as soon as its bytes pass it,
// before anything is stored, one whose type is not supported or whose
// bytes are not what its type says (invalid, 400), and an image whose
// header claims more pixels than allowed (invalid).
func Ingest(ctx context.Context, st Store, r io.Reader, name, declared string, lim Limits) (Media, error) {
	m, _, err := ingest(ctx, st, r, name, declared, lim, false)
	return m, err
}

// ingest is Ingest; with keep, it returns the spooled bytes too (the
// caller closes and removes the file), else nil.
func ingest(ctx context.Context, st Store, r io.Reader, name, declared string, lim Limits, keep bool) (_ Media, spool *os.File, err error) {
	tmp, err := os.CreateTemp(lim.TempDir, "agentgate-media-*")
	if err != nil {
		return Media{}, nil, fmt.Errorf("media: spool: %w", err)
	}
	defer func() {
		if err != nil || !keep {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	m, err := spoolAndPut(ctx, st, tmp, r, name, declared, lim)
	if err != nil || !keep {
		return m, nil, err
	}
	return m, tmp, nil
}

func spoolAndPut(ctx context.Context, st Store, tmp *os.File, r io.Reader, name, declared string, lim Limits) (Media, error) {
	max := lim.maxBytes()
	h := sha256.New()
	head := &headWriter{n: SniffLen}
	n, err := io.Copy(io.MultiWriter(tmp, h, head), io.LimitReader(ctxReader{ctx, r}, max+1))
	if err != nil {
		return Media{}, core.Errorf(core.CodeInvalid, "file %q: reading it failed: %v", name, err)
	}
	if n > max {
		return Media{}, core.Errorf(core.CodeTooLarge, "file %q is over the limit of %d bytes", name, max)
	}
	if n == 0 {
		return Media{}, core.Errorf(core.CodeInvalid, "file %q is empty", name)
	}
	kind, mt, err := Classify(name, declared, head.b)
	if err != nil {
		return Media{}, err
	}
	m := Media{ID: hex.EncodeToString(h.Sum(nil)), Kind: kind, MIMEType: mt, Name: name, Size: n}
	if kind == Image {
		if err := checkImage(tmp, &m, lim.maxPixels()); err != nil {
			return Media{}, err
		}
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return Media{}, fmt.Errorf("media: spool: %w", err)
	}
	if err := st.Put(ctx, m.ID, tmp, n); err != nil {
		return Media{}, err
	}
	return m, nil
}

// IngestBytes is Ingest of a medium already in memory (base64 in a JSON
// field, a small download).
func IngestBytes(ctx context.Context, st Store, b []byte, name, declared string, lim Limits) (Media, error) {
	return Ingest(ctx, st, bytes.NewReader(b), name, declared, lim)
}

// checkImage reads the image's header only (never its pixels) for its
// size, and refuses one claiming more than maxPixels. WebP headers are
// read by hand (the standard library has no WebP decoder).
func checkImage(f io.ReadSeeker, m *Media, maxPixels int64) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("media: spool: %w", err)
	}
	var w, h int
	if m.MIMEType == "image/webp" {
		var hdr [30]byte
		n, _ := io.ReadFull(f, hdr[:])
		var ok bool
		if w, h, ok = webpSize(hdr[:n]); !ok {
			return core.Errorf(core.CodeInvalid, "file %q: not a valid WebP image", m.Name)
		}
	} else {
		cfg, _, err := image.DecodeConfig(io.LimitReader(f, 1<<20))
		if err != nil {
			return core.Errorf(core.CodeInvalid, "file %q: not a valid %s image: %v", m.Name, m.MIMEType, err)
		}
		w, h = cfg.Width, cfg.Height
	}
	if w <= 0 || h <= 0 || int64(w)*int64(h) > maxPixels {
		return core.Errorf(core.CodeInvalid, "file %q: the image is %d×%d pixels, over the limit of %d pixels", m.Name, w, h, maxPixels)
	}
	m.Width, m.Height = w, h
	return nil
}

// webpSize reads a WebP's canvas size from its first chunk (VP8, VP8L or
// VP8X).
func webpSize(b []byte) (w, h int, ok bool) {
	if len(b) < 30 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return 0, 0, false
	}
	c := b[20:]
	switch string(b[12:16]) {
	case "VP8 ": // lossy: a key frame's start code, then 14-bit sizes
		if c[3] != 0x9d || c[4] != 0x01 || c[5] != 0x2a {
			return 0, 0, false
		}
		return int(uint16(c[6])|uint16(c[7])<<8) & 0x3fff, int(uint16(c[8])|uint16(c[9])<<8) & 0x3fff, true
	case "VP8L": // lossless: a signature byte, then 14-bit sizes minus one
		if c[0] != 0x2f {
			return 0, 0, false
		}
		bits := uint32(c[1]) | uint32(c[2])<<8 | uint32(c[3])<<16 | uint32(c[4])<<24
		return int(bits&0x3fff) + 1, int((bits>>14)&0x3fff) + 1, true
	case "VP8X": // extended: 24-bit canvas sizes minus one
		return int(uint32(c[4])|uint32(c[5])<<8|uint32(c[6])<<16) + 1, int(uint32(c[7])|uint32(c[8])<<8|uint32(c[9])<<16) + 1, true
	}
	return 0, 0, false
}

// headWriter keeps the first n bytes written to it.
type headWriter struct {
	n int
	b []byte
}

func (w *headWriter) Write(p []byte) (int, error) {
	if room := w.n - len(w.b); room > 0 {
		w.b = append(w.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}
