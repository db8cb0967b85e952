// Package origin decides whether a browser request comes from the server's
// own page. Both POST /authorise and the WebSocket upgrade use it, so that
// no other web page the user has open can ask for approval or connect.
package origin

import (
	"net/http"
	"net/url"
	"strings"
)

// Allowed reports whether r may proceed: true when r has no Origin header
// (not a browser, or a same-origin GET), when the Origin's scheme is https
// and its host:port equals the request's Host, or when it is listed in
// extra (exact origins such as "https://panel.example:443").
func Allowed(r *http.Request, extra []string) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	for _, e := range extra {
		if strings.EqualFold(strings.TrimRight(e, "/"), o) {
			return true
		}
	}
	u, err := url.Parse(o)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Path != "" || u.User != nil {
		return false
	}
	return strings.EqualFold(canonicalHost(u.Host), canonicalHost(r.Host))
}

// canonicalHost adds the https default port so that "h" and "h:443" match.
func canonicalHost(h string) string {
	if h == "" {
		return ""
	}
	if strings.HasPrefix(h, "[") {
		if strings.HasSuffix(h, "]") {
			return h + ":443"
		}
		return h
	}
	if !strings.Contains(h, ":") {
		return h + ":443"
	}
	return h
}
