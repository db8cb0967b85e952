package origin

import (
	"net/http/httptest"
	"testing"
)

func TestAllowed(t *testing.T) {
	tests := []struct {
		host, origin string
		extra        []string
		want         bool
	}{
		{"127.0.0.1:6789", "", nil, true},
		{"127.0.0.1:6789", "https://127.0.0.1:6789", nil, true},
		{"localhost:6789", "https://LOCALHOST:6789", nil, true},
		{"127.0.0.1:6789", "http://127.0.0.1:6789", nil, false},
		{"127.0.0.1:6789", "https://127.0.0.1:6788", nil, false},
		{"127.0.0.1:6789", "https://evil.example", nil, false},
		{"127.0.0.1:6789", "null", nil, false},
		{"example.org", "https://example.org:443", nil, true},
		{"127.0.0.1:6789", "https://panel.example", []string{"https://panel.example"}, true},
		{"127.0.0.1:6789", "https://user@127.0.0.1:6789", nil, false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/authorise", nil)
		r.Host = tt.host
		if tt.origin != "" {
			r.Header.Set("Origin", tt.origin)
		}
		if got := Allowed(r, tt.extra); got != tt.want {
			t.Errorf("Allowed(host %q, origin %q, %q) = %v, want %v", tt.host, tt.origin, tt.extra, got, tt.want)
		}
	}
}
