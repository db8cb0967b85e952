// Package panel serves the browser panel: the bundle built from src/ into
// dist/ (npm run build), embedded in the binary.
package panel

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

//go:embed dist
var dist embed.FS

// file is one embedded file, ready to serve.
type file struct {
	body        []byte
	gz          []byte // nil when gzip does not pay
	etag        string
	contentType string
}

// RegisterRoutes adds the panel, at /, to mux: every path no other route
// claims.
func RegisterRoutes(mux *http.ServeMux) { mux.Handle("/", Handler()) }

// Handler serves the panel's files at /: index.html for /, the rest by
// name, 404 for anything else. Each response carries a strong ETag and
// Cache-Control: no-cache, so a reload costs a 304 and a new binary's panel
// is seen at once; clients that accept gzip get it precompressed. It is safe
// for concurrent use.
func Handler() http.Handler {
	files, err := load(dist)
	if err != nil {
		panic(err) // the embed pattern guarantees dist exists
	}
	return handler(files)
}

func load(fsys fs.FS) (map[string]*file, error) {
	sub, err := fs.Sub(fsys, "dist")
	if err != nil {
		return nil, err
	}
	files := map[string]*file{}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		f := &file{
			body:        body,
			etag:        `"` + hex.EncodeToString(sum[:12]) + `"`,
			contentType: mime.TypeByExtension(path.Ext(p)),
		}
		if path.Ext(p) == ".webmanifest" {
			// Not in every system's MIME table; browsers want this type.
			f.contentType = "application/manifest+json"
		}
		if f.contentType == "" {
			f.contentType = "application/octet-stream"
		}
		if len(body) > 1024 {
			var b bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression) // the level is valid
			if _, err := zw.Write(body); err != nil {
				return err
			}
			if err := zw.Close(); err != nil {
				return err
			}
			if b.Len() < len(body)*9/10 {
				f.gz = b.Bytes()
			}
		}
		files["/"+p] = f
		return nil
	})
	return files, err
}

func handler(files map[string]*file) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := r.URL.Path
		if name == "/" {
			name = "/index.html"
		}
		f, ok := files[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", f.contentType)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", f.etag)
		if f.gz != nil {
			h.Set("Vary", "Accept-Encoding")
		}
		if match := r.Header.Get("If-None-Match"); match != "" && etagMatches(match, f.etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		body := f.body
		if f.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
			h.Set("Content-Encoding", "gzip")
			body = f.gz
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		if r.Method == http.MethodHead {
			return
		}
		w.Write(body)
	})
}

func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(t), "W/"))
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) != "gzip" {
			continue
		}
		q := strings.ReplaceAll(params, " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
