package mcptool

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/agentgate/agentgate/core/tool"
)

// resultText is what a tool result gives the model: its text contents
// joined with newlines, a short placeholder for each image, audio clip,
// binary resource or resource link, and, when there is no content, the
// structured content's JSON.
func resultText(res *mcp.CallToolResult) string {
	parts := make([]string, 0, len(res.Content))
	for _, c := range res.Content {
		if p, ok := contentText(c); ok {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		if len(res.RawStructuredContent) > 0 {
			return string(res.RawStructuredContent)
		}
		if res.StructuredContent != nil {
			if b, err := json.Marshal(res.StructuredContent); err == nil {
				return string(b)
			}
		}
	}
	return strings.Join(parts, "\n")
}

func contentText(c mcp.Content) (string, bool) {
	switch v := c.(type) {
	case mcp.TextContent:
		return v.Text, true
	case *mcp.TextContent:
		return v.Text, true
	case mcp.ImageContent:
		return placeholder("image", v.MIMEType, v.Data), true
	case *mcp.ImageContent:
		return placeholder("image", v.MIMEType, v.Data), true
	case mcp.AudioContent:
		return placeholder("audio", v.MIMEType, v.Data), true
	case *mcp.AudioContent:
		return placeholder("audio", v.MIMEType, v.Data), true
	case mcp.EmbeddedResource:
		return resourceText(v.Resource), true
	case *mcp.EmbeddedResource:
		return resourceText(v.Resource), true
	case mcp.ResourceLink:
		return fmt.Sprintf("[resource %s]", v.URI), true
	case *mcp.ResourceLink:
		return fmt.Sprintf("[resource %s]", v.URI), true
	}
	return "", false
}

func resourceText(r mcp.ResourceContents) string {
	switch v := r.(type) {
	case mcp.TextResourceContents:
		return v.Text
	case *mcp.TextResourceContents:
		return v.Text
	case mcp.BlobResourceContents:
		return placeholder("resource "+v.URI, v.MIMEType, v.Blob)
	case *mcp.BlobResourceContents:
		return placeholder("resource "+v.URI, v.MIMEType, v.Blob)
	}
	return "[resource]"
}

// placeholder describes base64 data by kind, MIME type and decoded size:
// "[image image/png, 1234 bytes]".
func placeholder(kind, mime, b64 string) string {
	if mime == "" {
		mime = "application/octet-stream"
	}
	n := len(strings.TrimRight(b64, "=")) * 3 / 4
	return fmt.Sprintf("[%s %s, %d bytes]", kind, mime, n)
}

// resultMedia are the result's images, audio clips and binary resources
// as media (base64 that does not decode is left out: its placeholder
// stays in the text).
func resultMedia(res *mcp.CallToolResult) []tool.Medium {
	var out []tool.Medium
	add := func(name, mime, b64 string) {
		b, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(b) == 0 {
			return
		}
		out = append(out, tool.Medium{Name: name, MIMEType: mime, Data: b})
	}
	for _, c := range res.Content {
		switch v := c.(type) {
		case mcp.ImageContent:
			add("", v.MIMEType, v.Data)
		case *mcp.ImageContent:
			add("", v.MIMEType, v.Data)
		case mcp.AudioContent:
			add("", v.MIMEType, v.Data)
		case *mcp.AudioContent:
			add("", v.MIMEType, v.Data)
		case mcp.EmbeddedResource:
			if b, ok := blob(v.Resource); ok {
				add(path.Base(b.URI), b.MIMEType, b.Blob)
			}
		case *mcp.EmbeddedResource:
			if b, ok := blob(v.Resource); ok {
				add(path.Base(b.URI), b.MIMEType, b.Blob)
			}
		}
	}
	return out
}

func blob(r mcp.ResourceContents) (mcp.BlobResourceContents, bool) {
	switch v := r.(type) {
	case mcp.BlobResourceContents:
		return v, true
	case *mcp.BlobResourceContents:
		return *v, true
	}
	return mcp.BlobResourceContents{}, false
}
