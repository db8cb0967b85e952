package ids

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestParseV4(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"3b241101-e2bb-4255-8caf-4136c566a962", true},
		{"3B241101-E2BB-4255-8CAF-4136C566A962", true},
		{"3b241101-e2bb-1255-8caf-4136c566a962", false}, // version 1
		{"3b241101-e2bb-4255-0caf-4136c566a962", false}, // NCS variant
		{"{3b241101-e2bb-4255-8caf-4136c566a962}", false},
		{"urn:uuid:3b241101-e2bb-4255-8caf-4136c566a962", false},
		{"3b241101e2bb42558caf4136c566a962", false},
		{"", false},
		{"not a uuid at all, not at all.....!", false},
	}
	for _, tt := range tests {
		_, err := ParseClientKey(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseClientKey(%q) error = %v, want ok %v", tt.in, err, tt.ok)
		}
		_, err = ParseHostID(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseHostID(%q) error = %v, want ok %v", tt.in, err, tt.ok)
		}
	}
}

func TestClientKeyNeverPrints(t *testing.T) {
	k := NewClientKey()
	secret := k.Reveal()
	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, nil))
	log.Info("x", "key", k)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %s %q %#v", k, k, k, k, k), logged.String()} {
		if strings.Contains(s, secret) || strings.Contains(s, secret[:8]) {
			t.Errorf("a formatted client key shows the secret: %q", s)
		}
	}
	if len(k.Hash()) != 64 || strings.Contains(k.Hash(), secret) {
		t.Errorf("Hash() = %q, want 64 hex digits that are not the key", k.Hash())
	}
	k2, err := ParseClientKey(secret)
	if err != nil || k2.Hash() != k.Hash() {
		t.Errorf("ParseClientKey(Reveal()) does not round-trip: %v", err)
	}
}

func TestSubjects(t *testing.T) {
	seen := map[Subject]bool{}
	for i := 0; i < 1000; i++ {
		s := NewSubject("p")
		if _, err := ParseSubject(string(s)); err != nil {
			t.Fatalf("NewSubject made %q, which ParseSubject refuses: %v", s, err)
		}
		if seen[s] {
			t.Fatalf("NewSubject repeated %q", s)
		}
		seen[s] = true
	}
	for _, bad := range []string{"", "a/b", "a+b", "a#", "$SYS", "a b", strings.Repeat("a", 65), "é"} {
		if _, err := ParseSubject(bad); err == nil {
			t.Errorf("ParseSubject(%q) = nil error, want refused", bad)
		}
	}
}
