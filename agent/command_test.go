package agent

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/openmfd/mfd/internal/wire"
)

func TestDecodeCommand(t *testing.T) {
	long := strings.Repeat("é", wire.MaxTextRunes)
	tests := []struct {
		in   string
		code string // "" means valid
	}{
		{`{"id":"1","op":"key.tap","key":"a"}`, ""},
		{`{"id":"1","op":"key.tap","key":"Enter","mods":["ctrl","shift"]}`, ""},
		{`{"id":"1","op":"key.tap","key":"a","mods":["cmd"]}`, ""},
		{`{"id":"1","op":"key.tap","key":"a","mods":["hyper"]}`, wire.CodeUnknownKey},
		{`{"id":"1","op":"key.tap","key":"a","mods":"ctrl"}`, wire.CodeBadRequest},
		{`{"id":"1","op":"key.tap"}`, wire.CodeBadRequest},
		{`{"id":"1","op":"key.tap","key":""}`, wire.CodeBadRequest},
		{`{"id":"1","op":"key.tap","key":"nosuchkey"}`, wire.CodeUnknownKey},
		{`{"id":"1","op":"key.tap","key":7}`, wire.CodeBadRequest},
		{`{"id":"1","op":"key.down","key":"shift"}`, ""},
		{`{"id":"1","op":"key.down","key":"f13"}`, ""},
		{`{"id":"1","op":"key.down","key":"f25"}`, wire.CodeUnknownKey},
		{`{"id":"1","op":"key.up","key":"audio_mute"}`, ""},
		{`{"id":"1","op":"key.up"}`, wire.CodeBadRequest},
		{`{"id":"1","op":"text.type","text":"hi\nthere\t😀 é€"}`, ""},
		{`{"id":"1","op":"text.type","text":"` + long + `"}`, ""},
		{`{"id":"1","op":"text.type","text":"` + long + `x"}`, wire.CodeTooLarge},
		{`{"id":"1","op":"text.type","text":"bell\u0007"}`, wire.CodeBadRequest},
		{`{"id":"1","op":"text.type","text":"cr\r"}`, wire.CodeBadRequest},
		{`{"id":"1","op":"text.type","text":"c1\u0085"}`, wire.CodeBadRequest},
		{`{"id":"1","op":"text.type","text":""}`, wire.CodeBadRequest},
		{"{\"id\":\"1\",\"op\":\"text.type\",\"text\":\"\xff\xfe\"}", wire.CodeBadRequest},
		{`{"id":"1","op":"text.type","text":"a\ud800b"}`, wire.CodeBadRequest},
		{`{"id":"1","op":"text.type","text":"a\udc00"}`, wire.CodeBadRequest},
		{`{"id":"1","op":"text.type","text":"\ud83d\ude00\ud83d"}`, wire.CodeBadRequest},
		{`{"id":"1","op":"text.type","text":"\ud83d\ude00 \u00e9 \\ud800 \"\\"}`, ""},
		{"{\"id\":\"1\",\"op\":\"key.tap\",\"key\":\"a\",\"note\":\"\xc3\"}", wire.CodeBadRequest},
		{`{"id":"1","op":"text.type"}`, wire.CodeBadRequest},
		{`{"id":"1","op":"text.type","text":["a"]}`, wire.CodeBadRequest},
		{`{"id":"1","op":"mouse.move","x":10,"y":20}`, ""},
		{`{"id":"1","op":"mouse.move","x":-5,"y":3.6,"rel":true}`, ""},
		{`{"id":"1","op":"mouse.move","x":-5,"y":3}`, wire.CodeBadRequest},
		{`{"id":"1","op":"mouse.move","x":10}`, wire.CodeBadRequest},
		{`{"id":"1","op":"mouse.move","x":1e300,"y":1}`, wire.CodeBadRequest},
		{`{"id":"1","op":"mouse.move","x":"1","y":1}`, wire.CodeBadRequest},
		{`{"id":"1","op":"mouse.move","x":1,"y":1,"rel":"yes"}`, wire.CodeBadRequest},
		{`{"id":"1","op":"mouse.click"}`, ""},
		{`{"id":"1","op":"mouse.click","button":"right","count":2}`, ""},
		{`{"id":"1","op":"mouse.click","button":"middle","count":3}`, ""},
		{`{"id":"1","op":"mouse.click","count":4}`, wire.CodeBadRequest},
		{`{"id":"1","op":"mouse.click","count":0}`, wire.CodeBadRequest},
		{`{"id":"1","op":"mouse.click","count":1.5}`, wire.CodeBadRequest},
		{`{"id":"1","op":"mouse.click","button":"fourth"}`, wire.CodeBadRequest},
		{`{"id":"1","op":"mouse.down"}`, ""},
		{`{"id":"1","op":"mouse.down","button":"x"}`, wire.CodeBadRequest},
		{`{"id":"1","op":"mouse.up","button":"left"}`, ""},
		{`{"id":"1","op":"mouse.scroll","dx":0,"dy":3}`, ""},
		{`{"id":"1","op":"mouse.scroll","dy":-2}`, ""},
		{`{"id":"1","op":"mouse.scroll"}`, wire.CodeBadRequest},
		{`{"id":"1","op":"mouse.scroll","dy":1e9}`, wire.CodeBadRequest},
		{`{"id":"1","op":"action.run","action":"mute-mic"}`, ""},
		{`{"id":"1","op":"action.run"}`, wire.CodeBadRequest},
		{`{"id":"1","op":"action.run","action":"a/b"}`, wire.CodeUnknownAction},
		{`{"id":"1","op":"release.all"}`, ""},
		{`{"id":"1","op":"release.all","extra":{"fields":"are ignored"}}`, ""},
		{`{"id":"1","op":"exec","argv":["sh"]}`, wire.CodeUnknownOp},
		{`{"id":"1","op":"KEY.TAP","key":"a"}`, wire.CodeUnknownOp},
		{`{"id":"1","op":""}`, wire.CodeBadRequest},
		{`{"id":"1"}`, wire.CodeBadRequest},
		{`{"op":"release.all"}`, wire.CodeBadRequest},
		{`{"id":"","op":"release.all"}`, wire.CodeBadRequest},
		{`{"id":1,"op":"release.all"}`, wire.CodeBadRequest},
		{`{"id":"` + strings.Repeat("x", 300) + `","op":"release.all"}`, wire.CodeBadRequest},
		{`{"id":"1","op":"release.all","ts":1700000000000}`, ""},
		{`{"id":"1","op":"release.all","ts":-1}`, wire.CodeBadRequest},
		{`{"id":"1","op":"release.all","ts":"now"}`, wire.CodeBadRequest},
		{`{"id":"1","op":"release.all"} {}`, wire.CodeBadRequest},
		{`[]`, wire.CodeBadRequest},
		{`null`, wire.CodeBadRequest},
		{``, wire.CodeBadRequest},
		{`{`, wire.CodeBadRequest},
		{`{"id":"1","op":"text.type","text":"` + strings.Repeat("a", wire.MaxCommandSize) + `"}`, wire.CodeTooLarge},
	}
	for _, tt := range tests {
		c, err := decodeCommand([]byte(tt.in))
		got := ""
		if err != nil {
			got = err.code
		}
		show := tt.in
		if len(show) > 80 {
			show = show[:80] + "..."
		}
		if got != tt.code {
			t.Errorf("decodeCommand(%q) = %+v, %v; want code %q", show, c, err, tt.code)
		}
	}
}

func TestDecodeCommandFields(t *testing.T) {
	c, err := decodeCommand([]byte(`{"id":"7","op":"key.tap","key":"Return","mods":["win","ctrl","meta"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Key != "enter" || !slices.Equal(c.Mods, []string{"super", "ctrl"}) {
		t.Errorf("decodeCommand(key.tap Return win ctrl meta) = key %q mods %v, want enter [super ctrl]", c.Key, c.Mods)
	}
	c, err = decodeCommand([]byte(`{"id":"8","op":"mouse.move","x":10.6,"y":-3.2,"rel":true}`))
	if err != nil || c.X != 11 || c.Y != -3 || !c.Rel {
		t.Errorf("decodeCommand(mouse.move 10.6,-3.2) = %+v, %v; want 11,-3 rel", c, err)
	}
	// A refused command still carries its id, so the client can match it.
	c, err = decodeCommand([]byte(`{"id":"9","op":"key.tap","key":12}`))
	if err == nil || c.ID != "9" {
		t.Errorf("decodeCommand(bad key type) id = %q, err %v; want id 9 and an error", c.ID, err)
	}
}

// malformedPayloads returns n payloads that are each wrong in some way.
func malformedPayloads(n int) []string {
	r := rand.New(rand.NewPCG(1, 2))
	base := []string{
		``, ` `, `{`, `}`, `[]`, `null`, `true`, `"str"`, `42`, `{"id":`, `{"id":"x"`, `{"id":"x",}`,
		`{"id":"x","op":null}`, `{"id":"x","op":1}`, `{"id":"x","op":"nope"}`, `{"id":{},"op":"key.tap"}`,
		`{"id":"x","op":"key.tap","key":null}`, `{"id":"x","op":"key.tap","key":"zz"}`,
		`{"id":"x","op":"text.type","text":"\u0000"}`, `{"id":"x","op":"mouse.move","x":"a","y":"b"}`,
		`{"id":"x","op":"mouse.click","count":"two"}`, `{"id":"x","op":"action.run","action":"none"}`,
		`{"id":"x","op":"key.tap","key":"a","mods":[1,2]}`, `{"id":"x","op":"mouse.scroll","dx":"1"}`,
		"\xff\xfe\xfd", `{"id":"\ud800","op":"x"}`, `{"id":"x","op":"key.tap","key":"a"}garbage`,
	}
	var out []string
	for len(out) < n {
		s := base[r.IntN(len(base))]
		switch r.IntN(3) {
		case 0: // as is
		case 1: // truncated
			if len(s) > 1 {
				s = s[:r.IntN(len(s))]
			}
		case 2: // random bytes
			b := make([]byte, r.IntN(64))
			for i := range b {
				b[i] = byte(r.IntN(256))
			}
			s = string(b)
		}
		if _, err := decodeCommand([]byte(s)); err == nil {
			continue // a truncation can be valid by chance
		}
		out = append(out, s)
	}
	return out
}

func TestMalformedPayloadsAllAnswered(t *testing.T) {
	ta := newTestAgent(t, func(o *Options) {
		o.Config = &Config{Actions: []Action{{ID: "x", Label: "x", Steps: []Step{{Sleep: 0}}}}}
	})
	bad := malformedPayloads(300)
	for _, p := range bad {
		ta.send(subA, p)
	}
	rs := ta.replies(subA, len(bad))
	known := []string{wire.CodeBadRequest, wire.CodeUnknownOp, wire.CodeUnknownKey, wire.CodeUnknownAction, wire.CodeTooLarge}
	for i, r := range rs {
		if r.OK || !slices.Contains(known, codeOf(r)) {
			t.Errorf("payload %q answered %+v, want a refusal with a known code", bad[i], r)
		}
	}
	if calls := ta.inj.Calls(); len(calls) != 0 {
		t.Errorf("malformed payloads injected %v", calls)
	}
	// Still alive and serving.
	ta.send(subA, `{"id":"ok","op":"key.tap","key":"a"}`)
	rs = ta.replies(subA, len(bad)+1)
	if last := rs[len(rs)-1]; !last.OK || last.ID != "ok" {
		t.Errorf("after the malformed payloads, a valid command got %+v", last)
	}
}

func FuzzDecodeCommand(f *testing.F) {
	for _, s := range []string{
		`{"id":"1","op":"key.tap","key":"a","mods":["ctrl"]}`,
		`{"id":"1","op":"text.type","text":"hé😀\n"}`,
		`{"id":"1","op":"mouse.move","x":1,"y":2,"rel":true}`,
		`{"id":"1","op":"mouse.click","button":"right","count":2}`,
		`{"id":"1","op":"mouse.scroll","dx":1,"dy":-1}`,
		`{"id":"1","op":"action.run","action":"a"}`,
		`{"id":"1","op":"release.all","ts":1}`,
		`{"id":`, ``, `PRESS`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCommand(b)
		if err != nil {
			if err.code == "" || err.msg == "" {
				t.Errorf("decodeCommand(%q) gave an error without code or message: %+v", b, err)
			}
			return
		}
		if c.ID == "" || c.Op == "" {
			t.Errorf("decodeCommand(%q) accepted a command without id or op: %+v", b, c)
		}
		_, _, _ = pressPayload(b)
		_ = fmt.Sprint(c)
	})
}
