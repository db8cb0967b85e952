package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestParseInterleaved(t *testing.T) {
	tests := []struct {
		args    []string
		wantPos []string
		wantDir string
		wantJS  bool
	}{
		{[]string{"approve", "123456", "--state-dir", "/x"}, []string{"approve", "123456"}, "/x", false},
		{[]string{"--state-dir=/y", "list", "--json"}, []string{"list"}, "/y", true},
		{[]string{"list", "--json", "--state-dir", "/z"}, []string{"list"}, "/z", true},
		{[]string{"revoke", "--", "-weird"}, []string{"revoke", "-weird"}, "", false},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		dir := fs.String("state-dir", "", "")
		js := fs.Bool("json", false, "")
		pos, err := parseInterleaved(fs, tt.args)
		if err != nil {
			t.Errorf("parseInterleaved(%q) error %v", tt.args, err)
			continue
		}
		if !slices.Equal(pos, tt.wantPos) || *dir != tt.wantDir || *js != tt.wantJS {
			t.Errorf("parseInterleaved(%q) = %q, state-dir %q, json %v; want %q, %q, %v",
				tt.args, pos, *dir, *js, tt.wantPos, tt.wantDir, tt.wantJS)
		}
	}
}

func TestRunUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		nil, {"frobnicate"}, {"clients"}, {"clients", "dance"},
		{"clients", "approve"}, {"agent"}, {"agent", "--server", "http://x:1"},
		{"agent", "--server", "https://x:1", "--broker", "mqtt://y:1"}, {"serve", "extra"},
	} {
		var out, errb bytes.Buffer
		err := run(context.Background(), args, &out, &errb)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("run(%q) = %v, want a usage error", args, err)
		}
	}
}

func TestClientsWithoutServerSaysWhy(t *testing.T) {
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"clients", "list", "--state-dir", t.TempDir()}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "mfd serve") {
		t.Errorf("clients list with no server: %v, want an error naming `mfd serve`", err)
	}
}

func TestTerminalQR(t *testing.T) {
	qr, err := terminalQR("https://192.168.1.20:6789/")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(qr, "\n"), "\n")
	if len(lines) < 12 {
		t.Fatalf("QR has %d lines", len(lines))
	}
	w := len([]rune(lines[0]))
	for i, l := range lines {
		if len([]rune(l)) != w {
			t.Errorf("QR line %d is %d wide, want %d", i, len([]rune(l)), w)
		}
	}
	if fingerprintColons("ab01ff") != "AB:01:FF" {
		t.Errorf("fingerprintColons = %q", fingerprintColons("ab01ff"))
	}
}
