package panel

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHandlerServes(t *testing.T) {
	h := Handler()
	tests := []struct {
		method, path, encoding string
		status                 int
		contentType            string
		gzipped                bool
	}{
		{"GET", "/", "", 200, "text/html; charset=utf-8", false},
		{"GET", "/index.html", "gzip", 200, "text/html; charset=utf-8", true},
		{"GET", "/app.js", "gzip, deflate, br", 200, "text/javascript; charset=utf-8", true},
		{"GET", "/app.js", "", 200, "text/javascript; charset=utf-8", false},
		{"GET", "/app.js", "gzip;q=0, br", 200, "text/javascript; charset=utf-8", false},
		{"GET", "/boot.js", "gzip", 200, "text/javascript; charset=utf-8", true},
		{"GET", "/app.css", "gzip", 200, "text/css; charset=utf-8", true},
		{"HEAD", "/icon.svg", "", 200, "image/svg+xml", false},
		{"GET", "/manifest.webmanifest", "", 200, "application/manifest+json", false},
		{"GET", "/nope.js", "", 404, "", false},
		{"GET", "/../panel.go", "", 404, "", false},
		{"GET", "/src/main.js", "", 404, "", false},
		{"POST", "/", "", 405, "", false},
	}
	for _, tt := range tests {
		w := get(t, h, tt.method, tt.path, map[string]string{"Accept-Encoding": tt.encoding})
		if w.Code != tt.status {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, w.Code, tt.status)
			continue
		}
		if tt.status != 200 {
			continue
		}
		if got := w.Header().Get("Content-Type"); got != tt.contentType {
			t.Errorf("%s %s Content-Type = %q, want %q", tt.method, tt.path, got, tt.contentType)
		}
		if got := w.Header().Get("Content-Encoding") == "gzip"; got != tt.gzipped {
			t.Errorf("%s %s (Accept-Encoding %q) gzipped = %v, want %v", tt.method, tt.path, tt.encoding, got, tt.gzipped)
		}
		if w.Header().Get("Cache-Control") != "no-cache" || w.Header().Get("ETag") == "" {
			t.Errorf("%s %s: Cache-Control %q, ETag %q; want no-cache and an ETag", tt.method, tt.path, w.Header().Get("Cache-Control"), w.Header().Get("ETag"))
		}
	}
}

func TestGzipBodyIsTheFile(t *testing.T) {
	h := Handler()
	want, err := fs.ReadFile(dist, "dist/app.js")
	if err != nil {
		t.Fatal(err)
	}
	w := get(t, h, "GET", "/app.js", map[string]string{"Accept-Encoding": "gzip"})
	zr, err := gzip.NewReader(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("gunzipped /app.js is %d bytes, differs from dist/app.js (%d bytes)", len(got), len(want))
	}
	if cl := w.Header().Get("Content-Length"); cl == "" {
		t.Error("no Content-Length")
	}
}

func TestETagRevalidates(t *testing.T) {
	h := Handler()
	etag := get(t, h, "GET", "/app.js", nil).Header().Get("ETag")
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		if w := get(t, h, "GET", "/app.js", map[string]string{"If-None-Match": inm}); w.Code != http.StatusNotModified || w.Body.Len() != 0 {
			t.Errorf("If-None-Match %s = %d with %d bytes, want 304 and none", inm, w.Code, w.Body.Len())
		}
	}
	if w := get(t, h, "GET", "/app.js", map[string]string{"If-None-Match": `"stale"`}); w.Code != 200 {
		t.Errorf("a stale ETag = %d, want 200", w.Code)
	}
}

// TestIndexLoadsOnlyOwnFiles checks that index.html loads nothing from
// another origin, no inline script (the CSP forbids it), and only files the
// bundle has.
func TestIndexLoadsOnlyOwnFiles(t *testing.T) {
	index, err := fs.ReadFile(dist, "dist/index.html")
	if err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(string(index), -1)
	if len(refs) < 3 {
		t.Fatalf("index.html references %d files, want the scripts, the stylesheet and the icon", len(refs))
	}
	for _, m := range refs {
		ref := m[1]
		if strings.Contains(ref, "//") || strings.HasPrefix(ref, "/") || strings.Contains(ref, ":") {
			t.Errorf("index.html loads %q: only relative paths to its own files", ref)
			continue
		}
		if _, err := fs.Stat(dist, "dist/"+ref); err != nil {
			t.Errorf("index.html loads %q, which dist/ lacks", ref)
		}
	}
	if regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`).Match(index) || !regexp.MustCompile(`<script[^>]*src=`).Match(index) {
		t.Error("index.html has an inline script, or none loaded by src")
	}
}

// TestBundleBudget keeps the gzipped JavaScript under 150 KB.
func TestBundleBudget(t *testing.T) {
	const budget = 150 << 10
	total := 0
	for _, name := range []string{"dist/boot.js", "dist/app.js"} {
		body, err := fs.ReadFile(dist, name)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(body)
		zw.Close()
		total += b.Len()
	}
	if total > budget {
		t.Errorf("gzipped JavaScript is %d bytes, over the %d byte budget", total, budget)
	}
}
